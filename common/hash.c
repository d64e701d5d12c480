/*
 * The one file that includes OpenSSL. Its EVP interface is used rather than
 * the deprecated SHA256_* calls so the same code picks up the CPU's own
 * implementations (SHA-NI, AVX2).
 */
#include "aw/hash.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <openssl/opensslv.h>
#include <stdlib.h>
#include <string.h>

#include "aw/codec.h"

struct aw_hash {
    EVP_MD_CTX *sha;
    EVP_MD_CTX *md5;
};

int aw_hash_new(bool with_md5, aw_hash **out) {
    *out = NULL;
    aw_hash *h = calloc(1, sizeof *h);
    if (!h)
        return AW_ENOMEM;
    h->sha = EVP_MD_CTX_new();
    if (with_md5)
        h->md5 = EVP_MD_CTX_new();
    if (!h->sha || (with_md5 && !h->md5)) {
        aw_hash_destroy(h);
        return AW_ENOMEM;
    }
    if (aw_hash_reset(h) != AW_OK) {
        aw_hash_destroy(h);
        return AW_ETLS;
    }
    *out = h;
    return AW_OK;
}

int aw_hash_reset(aw_hash *h) {
    if (EVP_DigestInit_ex(h->sha, EVP_sha256(), NULL) != 1)
        return AW_ETLS;
    if (h->md5 && EVP_DigestInit_ex(h->md5, EVP_md5(), NULL) != 1)
        return AW_ETLS;
    return AW_OK;
}

int aw_hash_update(aw_hash *h, const void *data, size_t len) {
    if (EVP_DigestUpdate(h->sha, data, len) != 1)
        return AW_ETLS;
    if (h->md5 && EVP_DigestUpdate(h->md5, data, len) != 1)
        return AW_ETLS;
    return AW_OK;
}

int aw_hash_final(aw_hash *h, uint8_t sha256[32], uint8_t md5[16]) {
    unsigned int n = 0;
    if (EVP_DigestFinal_ex(h->sha, sha256, &n) != 1 || n != 32)
        return AW_ETLS;
    if (h->md5) {
        uint8_t tmp[16];
        if (EVP_DigestFinal_ex(h->md5, md5 ? md5 : tmp, &n) != 1 || n != 16)
            return AW_ETLS;
    }
    return AW_OK;
}

void aw_hash_destroy(aw_hash *h) {
    if (!h)
        return;
    EVP_MD_CTX_free(h->sha);
    EVP_MD_CTX_free(h->md5);
    free(h);
}

const char *aw_crypto_version(void) { return OPENSSL_VERSION_TEXT; }

int aw_sha256_hex(const void *data, size_t len, char out[65]) {
    uint8_t d[32];
    unsigned int n = 0;
    if (EVP_Digest(data, len, d, &n, EVP_sha256(), NULL) != 1 || n != 32)
        return AW_ETLS;
    aw_hex(d, 32, out);
    return AW_OK;
}

int aw_sha256_b64_hex(const char *b64, char out[65]) {
    size_t l = strlen(b64);
    unsigned char raw[48];
    /* 32 bytes are 44 characters with one '=' of padding */
    if (l != 44 || b64[43] != '=' || b64[42] == '=')
        return AW_EINVAL;
    for (size_t i = 0; i < 43; i++)
        if (!isalnum((unsigned char)b64[i]) && b64[i] != '+' && b64[i] != '/')
            return AW_EINVAL;
    if (EVP_DecodeBlock(raw, (const unsigned char *)b64, 44) != 33)
        return AW_EINVAL;
    aw_hex(raw, 32, out);
    return AW_OK;
}
