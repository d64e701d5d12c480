/* Lookup helpers for jansson values; see aw/json.h. */
#include "aw/json.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "aw/codec.h"

json_t *aw_json_path(json_t *root, const char *dotted) {
    json_t *cur = root;
    const char *p = dotted;
    char part[128];
    while (cur && *p) {
        const char *dot = strchr(p, '.');
        size_t l = dot ? (size_t)(dot - p) : strlen(p);
        if (l >= sizeof part || !json_is_object(cur))
            return NULL;
        memcpy(part, p, l);
        part[l] = '\0';
        cur = json_object_get(cur, part);
        p += l + (dot ? 1 : 0);
    }
    return cur;
}

const char *aw_json_str(json_t *root, const char *dotted) {
    json_t *v = aw_json_path(root, dotted);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

int aw_json_size(json_t *v, int64_t *out) {
    if (!v || json_is_null(v))
        return AW_ENOTFOUND;
    if (json_is_integer(v)) {
        json_int_t x = json_integer_value(v);
        if (x < 0 || x > AW_OBJECT_SIZE_MAX)
            return AW_EPARSE;
        *out = (int64_t)x;
        return AW_OK;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (!*s || *s == '-' || *s == '+' || *s == ' ')
            return AW_EPARSE;
        char *end;
        errno = 0;
        long long x = strtoll(s, &end, 10);
        if (errno || *end || x > AW_OBJECT_SIZE_MAX)
            return AW_EPARSE;
        *out = (int64_t)x;
        return AW_OK;
    }
    return AW_EPARSE;
}
