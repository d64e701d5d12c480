/*
 * COPY text format; see aw/copy.h. The escaping follows PostgreSQL's
 * "Text Format" section of COPY: backslash, tab, newline and carriage
 * return are escaped on the way in; on the way out every escape the server
 * may write is decoded.
 */
#include "aw/copy.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aw/codec.h"

void aw_copy_buf_free(aw_copy_buf *b) {
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

static int reserve(aw_copy_buf *b, size_t more) {
    if (b->len + more <= b->cap)
        return AW_OK;
    size_t cap = b->cap ? b->cap : 1 << 16;
    while (cap < b->len + more)
        cap *= 2;
    char *nb = realloc(b->p, cap);
    if (!nb)
        return AW_ENOMEM;
    b->p = nb;
    b->cap = cap;
    return AW_OK;
}

int aw_copy_field(aw_copy_buf *b, const char *s, char sep) {
    if (!s) {
        if (reserve(b, 3) != AW_OK)
            return AW_ENOMEM;
        memcpy(b->p + b->len, "\\N", 2);
        b->len += 2;
        b->p[b->len++] = sep;
        return AW_OK;
    }
    size_t l = strlen(s);
    /* PostgreSQL refuses text that is not UTF-8, and one refused field
     * would fail the whole COPY: everything is checked where it enters,
     * and what still is not UTF-8 here is replaced, byte by byte, by U+FFFD */
    bool utf8 = aw_utf8_valid(s, l);
    if (reserve(b, (utf8 ? 2 : 3) * l + 1) != AW_OK)
        return AW_ENOMEM;
    char *o = b->p + b->len;
    for (size_t i = 0; i < l; i++) {
        char c = s[i];
        if (!utf8 && (unsigned char)c >= 0x80) {
            size_t n = 1;
            while (n <= 4 && i + n <= l && !aw_utf8_valid(s + i, n))
                n++;
            if (n <= 4 && i + n <= l) {
                memcpy(o, s + i, n);
                o += n;
                i += n - 1;
            } else {
                memcpy(o, "\xef\xbf\xbd", 3);
                o += 3;
            }
            continue;
        }
        switch (c) {
        case '\\': *o++ = '\\'; *o++ = '\\'; break;
        case '\t': *o++ = '\\'; *o++ = 't'; break;
        case '\n': *o++ = '\\'; *o++ = 'n'; break;
        case '\r': *o++ = '\\'; *o++ = 'r'; break;
        default: *o++ = c;
        }
    }
    *o++ = sep;
    b->len = (size_t)(o - b->p);
    return AW_OK;
}

int aw_copy_int(aw_copy_buf *b, long long v, char sep) {
    if (reserve(b, 24) != AW_OK)
        return AW_ENOMEM;
    int w = snprintf(b->p + b->len, 22, "%lld", v);
    b->len += (size_t)w;
    b->p[b->len++] = sep;
    return AW_OK;
}

int aw_copy_split(char *line, size_t len, char **fields, int max) {
    int nf = 0;
    char *r = line, *end = line + len;
    *end = '\0';
    while (r <= end) {
        if (nf == max)
            return -1;
        char *start = r, *w = r;
        bool null = r + 2 <= end && r[0] == '\\' && r[1] == 'N' && (r + 2 == end || r[2] == '\t');
        if (null) {
            r += 2;
        } else {
            while (r < end && *r != '\t') {
                if (*r != '\\' || r + 1 == end) {
                    *w++ = *r++;
                    continue;
                }
                char c = r[1];
                r += 2;
                switch (c) {
                case 'b': *w++ = '\b'; break;
                case 'f': *w++ = '\f'; break;
                case 'n': *w++ = '\n'; break;
                case 'r': *w++ = '\r'; break;
                case 't': *w++ = '\t'; break;
                case 'v': *w++ = '\v'; break;
                case 'x': {
                    int v = 0, k = 0, h;
                    while (k < 2 && r < end && (h = aw_hex_digit((unsigned char)*r)) >= 0) {
                        v = v * 16 + h;
                        r++;
                        k++;
                    }
                    *w++ = k ? (char)v : 'x';
                    break;
                }
                default:
                    if (c >= '0' && c <= '7') {
                        int v = c - '0', k = 1;
                        while (k < 3 && r < end && *r >= '0' && *r <= '7') {
                            v = v * 8 + (*r++ - '0');
                            k++;
                        }
                        *w++ = (char)v;
                    } else {
                        *w++ = c; /* \\ and any other character stand for themselves */
                    }
                }
            }
        }
        fields[nf++] = null ? NULL : start;
        if (!null)
            *w = '\0';
        else
            *start = '\0';
        if (r == end)
            break;
        *r++ = '\0'; /* the tab */
        if (r == end) { /* a trailing empty field */
            if (nf == max)
                return -1;
            fields[nf++] = r;
            break;
        }
    }
    return nf;
}
