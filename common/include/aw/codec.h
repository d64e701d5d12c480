/*
 * Text codecs for what crosses the program's edges: hex, the URL encodings
 * of object keys (form-decoding events, S3's URI encoding of requests),
 * UTF-8 validation and object URIs (s3://bucket/key). Pure functions; none
 * allocates unless it says so.
 */
#ifndef AW_CODEC_H
#define AW_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aw/err.h"

/* Lowercase hex of n bytes into out (2n+1 bytes). */
void aw_hex(const uint8_t *bytes, size_t n, char *out);

/*
 * Decodes an object key from an event. form=true treats '+' as a space
 * (application/x-www-form-urlencoded, as S3 events use); %XX is decoded in
 * both modes. Returns a malloc'd NUL-terminated string in *out and its length
 * in *outlen (the key may legally contain no NUL, so a decoded %00 is refused
 * with AW_EPARSE, as is a malformed escape).
 */
int aw_urldecode(const char *in, size_t len, bool form, char **out, size_t *outlen) AW_WUR;

/*
 * Appends the S3 URI encoding of s (RFC 3986 unreserved characters kept,
 * everything else %XX; '/' kept when keep_slash) to buf of size cap at *pos.
 * Returns AW_EINVAL when it does not fit.
 */
int aw_uriencode(const char *s, size_t len, bool keep_slash, char *buf, size_t cap,
                 size_t *pos) AW_WUR;

/* True when s[0..len) is well-formed UTF-8 (no overlongs, no surrogates). */
bool aw_utf8_valid(const char *s, size_t len);

/* The length of the object-store scheme uri starts with ("s3://", "s3a://",
 * "s3n://", "gs://", any case), or 0. */
size_t aw_object_scheme_len(const char *uri);

/*
 * Splits "s3://bucket/key" (also s3a://, s3n://, gs://) into malloc'd bucket
 * and key. AW_EPARSE when it is not such a URI or has no key.
 */
int aw_object_uri_parse(const char *uri, char **bucket, char **key) AW_WUR;

#endif
