/* The HTML builder of html.h. */
#include "html.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aw/codec.h"

static void put(hb *b, const char *s, size_t n) {
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (b->len + n + 1 > cap)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p, b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void hb_raw(hb *b, const char *markup) { put(b, markup, strlen(markup)); }

void hb_rawf(hb *b, const char *fmt, ...) {
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp) {
        b->oom = true; /* a format of literals never gets this long */
        return;
    }
    put(b, tmp, (size_t)n);
}

void hb_text(hb *b, const char *s) {
    if (!s)
        return;
    /* printable first (control bytes and invalid UTF-8 as \xNN), then the
     * five characters that mean something to HTML */
    size_t len = strlen(s), cap = len * 4 + 1;
    char *safe = malloc(cap);
    if (!safe) {
        b->oom = true;
        return;
    }
    aw_escape_text(s, len, safe, cap);
    const char *run = safe;
    for (const char *c = safe;; c++) {
        const char *ent = *c == '&' ? "&amp;" : *c == '<' ? "&lt;" : *c == '>' ? "&gt;"
                          : *c == '"' ? "&quot;" : *c == '\'' ? "&#39;" : NULL;
        if (!ent && *c)
            continue;
        put(b, run, (size_t)(c - run));
        if (!*c)
            break;
        put(b, ent, strlen(ent));
        run = c + 1;
    }
    free(safe);
}

void hb_query(hb *b, const char *s) {
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *c = (const unsigned char *)(s ? s : ""); *c; c++) {
        if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
            strchr("-_.~/:", *c)) {
            put(b, (const char *)c, 1);
        } else {
            char e[3] = {'%', hex[*c >> 4], hex[*c & 15]};
            put(b, e, 3);
        }
    }
}

void hb_link(hb *b, const char *path, const char *name, const char *value, const char *text) {
    hb_raw(b, "<a href=\"");
    hb_raw(b, path);
    if (name) {
        hb_raw(b, "?");
        hb_raw(b, name);
        hb_raw(b, "=");
        hb_query(b, value);
    }
    hb_raw(b, "\">");
    hb_text(b, text);
    hb_raw(b, "</a>");
}

char *hb_take(hb *b) {
    if (b->oom || !b->p) {
        hb_free(b);
        return b->oom ? NULL : strdup("");
    }
    char *p = b->p;
    b->p = NULL;
    b->len = b->cap = 0;
    return p;
}

void hb_free(hb *b) {
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}
