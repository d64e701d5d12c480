/*
 * Streaming SHA-256 (and optional MD5) over OpenSSL's EVP interface. The
 * only header that stands for OpenSSL: everything that hashes goes through
 * it, so a change of crypto library is a change of hash.c.
 */
#ifndef AW_HASH_H
#define AW_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aw/err.h"

typedef struct aw_hash aw_hash;

/* Starts a digest; with_md5 also keeps an MD5 of the same bytes.
 * AW_ENOMEM, or AW_ETLS when the library refuses the algorithm. */
int aw_hash_new(bool with_md5, aw_hash **out) AW_WUR;
int aw_hash_update(aw_hash *h, const void *data, size_t len) AW_WUR;
/* Writes 32 bytes to sha256 and, if the hash was made with_md5 and md5 is not
 * NULL, 16 bytes to md5. The hash may be reused after aw_hash_reset. */
int aw_hash_final(aw_hash *h, uint8_t sha256[32], uint8_t md5[16]) AW_WUR;
int aw_hash_reset(aw_hash *h) AW_WUR;
/* NULL is ignored. */
void aw_hash_destroy(aw_hash *h);

/* SHA-256 of one buffer, as lowercase hex (65 bytes with the NUL). */
int aw_sha256_hex(const void *data, size_t len, char out[65]) AW_WUR;

/* A SHA-256 sent in base64 (x-amz-checksum-sha256) as lowercase hex.
 * AW_EINVAL unless it is the base64 of exactly 32 bytes. */
int aw_sha256_b64_hex(const char *b64, char out[65]) AW_WUR;

/* in[0..len) in base64 (RFC 4648, padded) into out; AW_EINVAL when cap is
 * less than 4 * ((len + 2) / 3) + 1. */
int aw_base64(const void *in, size_t len, char *out, size_t cap) AW_WUR;

/* Padded base64 b64 decoded into out (cap >= 3/4 of its length), *outlen
 * bytes; AW_EINVAL for anything else. */
int aw_unbase64(const char *b64, uint8_t *out, size_t cap, size_t *outlen) AW_WUR;

/* HMAC-SHA256 of msg under key (Azure's Shared Key). AW_ETLS if OpenSSL fails. */
int aw_hmac_sha256(const void *key, size_t keylen, const void *msg, size_t len,
                   uint8_t out[32]) AW_WUR;

/* The crypto library behind aw_hash, e.g. "OpenSSL 3.0.19 27 Jan 2026". */
const char *aw_crypto_version(void);

#endif
