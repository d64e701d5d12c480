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

/* The value of a hex digit (either case), -1 for anything else. */
int aw_hex_digit(int c);

/*
 * Copies s[0..len) to out (cap bytes, always NUL-terminated) so that it is
 * safe on one line of a log or a terminal: valid UTF-8 stays as it is;
 * control bytes (below 0x20, 0x7f), the C1 controls and bytes that are not
 * UTF-8 become \xNN; a backslash becomes \\. Output that does not fit is
 * cut between characters, never inside one. Returns the length written.
 */
size_t aw_escape_text(const char *s, size_t len, char *out, size_t cap);

/* url with the credentials of its userinfo replaced ("http://u:***@host/");
 * anything else as it is. For what is printed or logged. */
void aw_url_redact(const char *url, char *out, size_t cap);

/* An HTTP date (Mon, 07 Dec 2026 06:52:11 GMT) as seconds since the epoch;
 * -1 when absent or unreadable. */
long long aw_http_time(const char *s);

/* A text cell for a table: s escaped (aw_escape_text) and cut to width; NULL
 * prints as nothing. buf holds width + 1 bytes; returns buf. */
const char *aw_text_cell(const char *s, char *buf, size_t width);

/* Replaces, in place, a UTF-8 sequence cut short at the end of s (by a
 * bounded snprintf) with nothing, so the string is valid UTF-8 again when
 * the rest was. */
void aw_utf8_trim(char *s);

/*
 * Bucket names as stores use them: 3 to 255 bytes of letters, digits, '.',
 * '_' and '-', beginning and ending with a letter or digit, no "..". This
 * takes S3's current rules, its legacy us-east-1 names, GCS and Azure
 * container names, and refuses anything that could leave a URL's path
 * ('/', '@', ':', '?', '#', '%', spaces, control bytes).
 */
bool aw_bucket_name_ok(const char *b);

/* A bucket name that can be the first label of a host name (virtual-hosted
 * URLs): 3 to 63 bytes of lowercase letters, digits, '.' and '-', labels
 * neither empty nor beginning or ending with '-', and not an IPv4 address. */
bool aw_bucket_dns_ok(const char *b);

/* The limits of an object's identity wherever it enters (an event, a
 * listing): S3's own for keys; for ETags and version ids, generous bounds that
 * keep every value below what a PostgreSQL index row can hold. */
#define AW_KEY_MAX 1024
#define AW_ETAG_MAX 256
#define AW_VERSION_ID_MAX 1024

/* The largest object size believed from an event, a listing or a store's
 * answer: 2^53 bytes (8 PiB), far beyond any store's largest object, exact as
 * a JSON number, and small enough that no byte-range arithmetic overflows. */
#define AW_OBJECT_SIZE_MAX (INT64_C(1) << 53)

/* 1 to max bytes of visible ASCII (0x21-0x7e) without '"' or '\\': what may
 * stand inside a quoted header value such as If-Match. */
bool aw_token_ok(const char *s, size_t max);

/* 0 to max bytes of printable ASCII (0x20-0x7e): a header value such as
 * Content-Type. */
bool aw_printable_ok(const char *s, size_t max);

/* The length of the object-store scheme uri starts with ("s3://", "s3a://",
 * "s3n://", "gs://", "az://" (container/blob), any case), or 0. */
size_t aw_object_scheme_len(const char *uri);

/*
 * Splits "s3://bucket/key" (also s3a://, s3n://, gs://) into malloc'd bucket
 * and key. AW_EPARSE when it is not such a URI or has no key.
 */
int aw_object_uri_parse(const char *uri, char **bucket, char **key) AW_WUR;

#endif
