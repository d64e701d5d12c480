/*
 * Hashing, hex and URL coding. OpenSSL's EVP interface is used rather than
 * the deprecated SHA256_* calls so the same code picks up provider-specific
 * (SHA-NI, AVX2) implementations.
 */
#include "aw/util.h"

#include <openssl/evp.h>
#include <openssl/opensslv.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

void aw_hex(const uint8_t *bytes, size_t n, char *out) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 15];
    }
    out[2 * n] = '\0';
}

static int hexval(int c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int aw_urldecode(const char *in, size_t len, bool form, char **out, size_t *outlen) {
    *out = NULL;
    char *o = malloc(len + 1);
    if (!o)
        return AW_ENOMEM;
    size_t j = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c == '%') {
            if (len - i < 3 || hexval((unsigned char)in[i + 1]) < 0 ||
                hexval((unsigned char)in[i + 2]) < 0) {
                free(o);
                return AW_EPARSE;
            }
            int v = hexval((unsigned char)in[i + 1]) << 4 | hexval((unsigned char)in[i + 2]);
            if (v == 0) {
                free(o);
                return AW_EPARSE;
            }
            o[j++] = (char)v;
            i += 2;
        } else if (c == '+' && form) {
            o[j++] = ' ';
        } else if (c == '\0') {
            free(o);
            return AW_EPARSE;
        } else {
            o[j++] = (char)c;
        }
    }
    o[j] = '\0';
    *out = o;
    *outlen = j;
    return AW_OK;
}

int aw_uriencode(const char *s, size_t len, bool keep_slash, char *buf, size_t cap,
                 size_t *pos) {
    static const char digits[] = "0123456789ABCDEF";
    size_t p = *pos;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                     (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
                     c == '~' || (c == '/' && keep_slash);
        if (plain) {
            if (p + 1 >= cap)
                return AW_EINVAL;
            buf[p++] = (char)c;
        } else {
            if (p + 3 >= cap)
                return AW_EINVAL;
            buf[p++] = '%';
            buf[p++] = digits[c >> 4];
            buf[p++] = digits[c & 15];
        }
    }
    buf[p] = '\0';
    *pos = p;
    return AW_OK;
}

bool aw_utf8_valid(const char *str, size_t len) {
    const unsigned char *s = (const unsigned char *)str, *e = s + len;
    while (s < e) {
        unsigned c = *s;
        size_t n;
        unsigned min;
        if (c < 0x80) {
            s++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            n = 1, min = 0x80, c &= 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            n = 2, min = 0x800, c &= 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            n = 3, min = 0x10000, c &= 0x07;
        } else {
            return false;
        }
        if ((size_t)(e - s) <= n)
            return false;
        for (size_t i = 1; i <= n; i++) {
            if ((s[i] & 0xc0) != 0x80)
                return false;
            c = c << 6 | (s[i] & 0x3f);
        }
        if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
            return false;
        s += n + 1;
    }
    return true;
}

int aw_sequencer_key(const char *seq, bool counter, char *out, size_t cap) {
    size_t l = strlen(seq), width = l > 32 ? l : 32;
    if (cap < width + 2)
        return AW_EINVAL;
    out[0] = counter ? 'c' : 'h';
    char *digits = out + 1 + (counter ? width - l : 0);
    for (size_t i = 0; i < l; i++)
        digits[i] = (seq[i] >= 'a' && seq[i] <= 'z') ? (char)(seq[i] - 32) : seq[i];
    if (counter)
        memset(out + 1, '0', width - l);
    else
        memset(out + 1 + l, '0', width - l);
    out[1 + width] = '\0';
    return AW_OK;
}

int aw_fmt(char *buf, size_t cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
    return n < 0 || (size_t)n >= cap ? AW_EINVAL : AW_OK;
}

int64_t aw_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
