/*
 * Hex, URL coding of object keys, UTF-8 validation and object URIs; see
 * aw/codec.h.
 */
#include "aw/codec.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

size_t aw_object_scheme_len(const char *uri) {
    static const char *const schemes[] = {"s3://", "s3a://", "s3n://", "gs://"};
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++)
        if (!strncasecmp(uri, schemes[i], strlen(schemes[i])))
            return strlen(schemes[i]);
    return 0;
}

int aw_object_uri_parse(const char *uri, char **bucket, char **key) {
    *bucket = *key = NULL;
    size_t sl = aw_object_scheme_len(uri);
    if (!sl)
        return AW_EPARSE;
    const char *p = uri + sl;
    const char *slash = strchr(p, '/');
    if (!slash || slash == p || !slash[1])
        return AW_EPARSE;
    *bucket = strndup(p, (size_t)(slash - p));
    *key = strdup(slash + 1);
    if (!*bucket || !*key) {
        free(*bucket);
        free(*key);
        *bucket = *key = NULL;
        return AW_ENOMEM;
    }
    return AW_OK;
}
