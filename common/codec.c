/*
 * Hex, URL coding of object keys, UTF-8 validation and object URIs; see
 * aw/codec.h.
 */
#define _GNU_SOURCE /* strptime, timegm */
#include "aw/codec.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

void aw_hex(const uint8_t *bytes, size_t n, char *out) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 15];
    }
    out[2 * n] = '\0';
}

int aw_hex_digit(int c) {
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
            if (len - i < 3 || aw_hex_digit((unsigned char)in[i + 1]) < 0 ||
                aw_hex_digit((unsigned char)in[i + 2]) < 0) {
                free(o);
                return AW_EPARSE;
            }
            int v = aw_hex_digit((unsigned char)in[i + 1]) << 4 | aw_hex_digit((unsigned char)in[i + 2]);
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

/* The length of the UTF-8 sequence at s (at most n bytes), 0 if not one. */
static size_t utf8_seq(const unsigned char *s, size_t n) {
    size_t l = *s < 0x80 ? 1 : (*s & 0xe0) == 0xc0 ? 2 : (*s & 0xf0) == 0xe0 ? 3
               : (*s & 0xf8) == 0xf0 ? 4 : 0;
    if (!l || l > n)
        return 0;
    return aw_utf8_valid((const char *)s, l) ? l : 0;
}

size_t aw_escape_text(const char *str, size_t len, char *out, size_t cap) {
    static const char hexd[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)str;
    size_t o = 0, i = 0;
    if (!cap)
        return 0;
    while (i < len) {
        size_t l = utf8_seq(s + i, len - i);
        /* C1 controls (U+0080-U+009F) drive terminals as ESC does */
        bool c1 = l == 2 && s[i] == 0xc2 && s[i + 1] < 0xa0;
        char tmp[4];
        const char *piece = (const char *)s + i;
        size_t plen = l, adv = l;
        if (!l || c1 || s[i] < 0x20 || s[i] == 0x7f) {
            tmp[0] = '\\';
            tmp[1] = 'x';
            tmp[2] = hexd[s[i] >> 4];
            tmp[3] = hexd[s[i] & 15];
            piece = tmp;
            plen = 4;
            adv = 1;
        } else if (s[i] == '\\') {
            piece = "\\\\";
            plen = 2;
        }
        if (o + plen >= cap)
            break;
        memcpy(out + o, piece, plen);
        o += plen;
        i += adv;
    }
    out[o] = '\0';
    return o;
}

void aw_utf8_trim(char *s) {
    size_t n = strlen(s), back = 0;
    /* at most 3 continuation bytes can follow a lead byte */
    while (back < 4 && back < n && ((unsigned char)s[n - 1 - back] & 0xc0) == 0x80)
        back++;
    if (back < n && (unsigned char)s[n - 1 - back] >= 0xc0 &&
        !utf8_seq((const unsigned char *)s + n - 1 - back, back + 1))
        s[n - 1 - back] = '\0';
}

static bool alnum(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool aw_bucket_name_ok(const char *b) {
    size_t n = strlen(b);
    if (n < 3 || n > 255 || !alnum(b[0]) || !alnum(b[n - 1]) || strstr(b, ".."))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!alnum(b[i]) && b[i] != '.' && b[i] != '_' && b[i] != '-')
            return false;
    return true;
}

bool aw_bucket_dns_ok(const char *b) {
    size_t n = strlen(b);
    if (n < 3 || n > 63)
        return false;
    bool all_digits_dots = true;
    for (size_t i = 0; i < n; i++) {
        char c = b[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-'))
            return false;
        if (c == '.' || c == '-') {
            /* a label neither empty nor beginning or ending with '-' */
            if (i == 0 || i == n - 1 || b[i - 1] == '.' || (c == '.' && b[i - 1] == '-') ||
                (c == '-' && b[i - 1] == '.'))
                return false;
        }
        if (c != '.' && (c < '0' || c > '9'))
            all_digits_dots = false;
    }
    return !all_digits_dots;
}

bool aw_token_ok(const char *s, size_t max) {
    size_t n = strlen(s);
    if (!n || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e || s[i] == '"' ||
            s[i] == '\\')
            return false;
    return true;
}

bool aw_printable_ok(const char *s, size_t max) {
    size_t n = strlen(s);
    if (n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
            return false;
    return true;
}

size_t aw_object_scheme_len(const char *uri) {
    static const char *const schemes[] = {"s3://", "s3a://", "s3n://", "gs://", "az://"};
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

const char *aw_text_cell(const char *s, char *buf, size_t width) {
    s = s ? s : "";
    aw_escape_text(s, strlen(s), buf, width + 1);
    return buf;
}

long long aw_http_time(const char *s) {
    struct tm tm = {0};
    const char *end = s && *s ? strptime(s, "%a, %d %b %Y %H:%M:%S GMT", &tm) : NULL;
    return end && !*end ? (long long)timegm(&tm) : -1;
}

void aw_url_redact(const char *url, char *out, size_t cap) {
    const char *sep = url ? strstr(url, "://") : NULL;
    const char *host = sep ? sep + 3 : NULL;
    size_t hl = host ? strcspn(host, "/?#") : 0;
    const char *at = host ? memchr(host, '@', hl) : NULL;
    if (!at) {
        snprintf(out, cap, "%s", url ? url : "");
        return;
    }
    /* keep the user name, hide the password (or the whole token when no user) */
    const char *colon = memchr(host, ':', (size_t)(at - host));
    snprintf(out, cap, "%.*s%.*s%s%s", (int)(host - url), url,
             colon ? (int)(colon - host) : 0, host, colon ? ":***" : "***", at);
}
