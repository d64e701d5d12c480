/*
 * Names in a rule's terms: glob matching of keys (UTF-8 aware) and the
 * order of artifact version folder names. See rules.h.
 */
#include "rules.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aw/codec.h"

/* The next code point of a UTF-8 string (a byte that starts no valid
 * sequence stands for itself), and how many bytes it took. */
static uint32_t next_cp(const char *s, size_t *used) {
    const unsigned char *u = (const unsigned char *)s;
    size_t n = u[0] < 0x80 ? 1 : (u[0] >> 5) == 6 ? 2 : (u[0] >> 4) == 14 ? 3 : (u[0] >> 3) == 30 ? 4 : 0;
    if (n > 1 && aw_utf8_valid(s, n)) {
        uint32_t c = u[0] & (0x7f >> n);
        for (size_t i = 1; i < n; i++)
            c = c << 6 | (u[i] & 0x3f);
        *used = n;
        return c;
    }
    *used = 1;
    return n == 1 ? u[0] : 0x110000u + u[0]; /* outside Unicode: equal only to itself */
}

enum { G_LIT, G_ONE, G_STAR, G_DSTAR };

typedef struct gtok {
    int kind;
    uint32_t cp;
} gtok;

/* The pattern is an NFA whose states are positions in its tokens; the text
 * is read once, so no pattern is slow (no backtracking). */
bool aw_glob_match(const char *glob, const char *s, bool slashes) {
    size_t gl = strlen(glob), nt = 0;
    gtok stack_toks[128];
    unsigned char stack_set[2 * 129];
    gtok *t = gl <= 128 ? stack_toks : malloc(gl * sizeof *t);
    unsigned char *cur = gl <= 128 ? stack_set : malloc(2 * (gl + 1));
    if (!t || !cur) {
        if (t != stack_toks)
            free(t);
        if (cur != stack_set)
            free(cur);
        return false; /* no memory: nothing matches, so nothing is selected */
    }
    for (size_t i = 0; i < gl;) {
        size_t used;
        if (glob[i] == '*' && glob[i + 1] == '*' && slashes) {
            t[nt++] = (gtok){G_DSTAR, 0};
            i += 2;
        } else if (glob[i] == '*') {
            t[nt++] = (gtok){slashes ? G_STAR : G_DSTAR, 0};
            i++;
        } else if (glob[i] == '?') {
            t[nt++] = (gtok){G_ONE, 0};
            i++;
        } else {
            t[nt].kind = G_LIT;
            t[nt++].cp = next_cp(glob + i, &used);
            i += used;
        }
    }
    unsigned char *nxt = cur + nt + 1;
    memset(cur, 0, nt + 1);
    cur[0] = 1;
    bool any = true;
    for (const char *p = s;; ) {
        /* closure: a star may match nothing */
        for (size_t j = 0; j < nt; j++)
            if (cur[j] && (t[j].kind == G_STAR || t[j].kind == G_DSTAR))
                cur[j + 1] = 1;
        if (!*p || !any)
            break;
        size_t used;
        uint32_t c = next_cp(p, &used);
        p += used;
        memset(nxt, 0, nt + 1);
        any = false;
        for (size_t j = 0; j < nt; j++) {
            if (!cur[j])
                continue;
            switch (t[j].kind) {
            case G_LIT:
                if (t[j].cp == c)
                    nxt[j + 1] = any = 1;
                break;
            case G_ONE:
                if (c != '/' || !slashes)
                    nxt[j + 1] = any = 1;
                break;
            case G_STAR:
                if (c != '/')
                    nxt[j] = any = 1;
                break;
            default:
                nxt[j] = any = 1;
            }
        }
        memcpy(cur, nxt, nt + 1);
    }
    bool ok = any && cur[nt];
    if (t != stack_toks)
        free(t);
    if (cur != stack_set)
        free(cur);
    return ok;
}

/* Appends n to key unless it is full; saturates numbers too long to hold. */
static size_t push(long long *key, size_t k, const char **p) {
    long long v = 0;
    for (; **p >= '0' && **p <= '9'; (*p)++)
        v = v > (LLONG_MAX - 9) / 10 ? LLONG_MAX : v * 10 + (**p - '0');
    if (k < AW_VERSION_KEY_MAX)
        key[k++] = v;
    return k;
}

static bool digit(char c) { return c >= '0' && c <= '9'; }

size_t aw_version_key(const char *v, long long key[AW_VERSION_KEY_MAX]) {
    size_t k = 0;
    const char *p = v;
    if (digit(v[0]) && digit(v[1]) && digit(v[2]) && digit(v[3]) && v[4] == '-' && digit(v[5]) &&
        digit(v[6]) && v[7] == '-' && digit(v[8]) && digit(v[9])) {
        key[k++] = 1;
        k = push(key, k, &p);
        p++;
        k = push(key, k, &p);
        p++;
        return push(key, k, &p);
    }
    /* v?N(.N)*([-+.][0-9a-z.+-]*)?, any case */
    if (*p == 'v' || *p == 'V')
        p++;
    if (!digit(*p))
        return 0;
    key[k++] = 2;
    k = push(key, k, &p);
    while (*p == '.' && digit(p[1])) {
        p++;
        k = push(key, k, &p);
    }
    const char *rest = p;
    if (*rest && !strchr("-+.", *rest))
        return 0;
    for (const char *q = rest; *q; q++)
        if (!digit(*q) && !(*q >= 'a' && *q <= 'z') && !(*q >= 'A' && *q <= 'Z') &&
            !strchr(".+-", *q))
            return 0;
    if (*rest == '-') { /* a pre-release sorts below its release, by its first number */
        const char *q = rest + 1;
        while (*q && !digit(*q))
            q++;
        if (k < AW_VERSION_KEY_MAX)
            key[k++] = -1;
        if (digit(*q))
            k = push(key, k, &q);
        else if (k < AW_VERSION_KEY_MAX)
            key[k++] = 0;
    } else if (k < AW_VERSION_KEY_MAX) {
        key[k++] = 0;
    }
    return k;
}

int aw_version_cmp(const long long *a, size_t na, const long long *b, size_t nb) {
    for (size_t i = 0; i < na && i < nb; i++)
        if (a[i] != b[i])
            return a[i] < b[i] ? -1 : 1;
    return na < nb ? -1 : na > nb;
}
