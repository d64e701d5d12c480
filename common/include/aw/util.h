/*
 * Small helpers shared by every module: SHA-256 through OpenSSL's EVP
 * interface, hex encoding, URL decoding of object keys, and bounded string
 * copies. Nothing here allocates unless it says so.
 */
#ifndef AW_UTIL_H
#define AW_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aw/err.h"

/* Streaming SHA-256 (and optional MD5) over OpenSSL EVP. */
typedef struct aw_hash aw_hash;

/* Starts a digest; with_md5 also keeps an MD5 of the same bytes. */
int aw_hash_new(bool with_md5, aw_hash **out) AW_WUR;
int aw_hash_update(aw_hash *h, const void *data, size_t len) AW_WUR;
/* Writes 32 bytes to sha256 and, if the hash was made with_md5 and md5 is not
 * NULL, 16 bytes to md5. The hash may be reused after aw_hash_reset. */
int aw_hash_final(aw_hash *h, uint8_t sha256[32], uint8_t md5[16]) AW_WUR;
int aw_hash_reset(aw_hash *h) AW_WUR;
void aw_hash_destroy(aw_hash *h);

/* The crypto library behind aw_hash, e.g. "OpenSSL 3.0.19 27 Jan 2026". */
const char *aw_crypto_version(void);

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

/*
 * Normalises a sequencer so that plain string comparison orders the events
 * of one key. AWS sequencers are hex strings compared from the left: they
 * are upper-cased and right-padded with '0' to 32 characters. A store that
 * sends a counter (versitygw: hex without leading zeros) has it left-padded
 * instead, so 9 < A < 10. AW_EINVAL when out is too small (it needs
 * strlen(seq) + 34 bytes at most).
 */
int aw_sequencer_key(const char *seq, bool counter, char *out, size_t cap) AW_WUR;

/* snprintf that reports truncation as AW_EINVAL. */
int aw_fmt(char *buf, size_t cap, const char *fmt, ...) AW_WUR AW_PRINTF(3, 4);

/* Monotonic milliseconds. */
int64_t aw_now_ms(void);

#endif
