/*
 * Which keys are sidecars: the configured patterns per kind, matched
 * against a key's last path segment, and the file a sidecar describes.
 */
#include "sidecar.h"

#include <ctype.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[AW_SC_NKINDS] = {"none", "metadata", "file_metadata",
                                                     "sha256", "metrics", "openlineage",
                                                     "metadata"};

const char *aw_sidecar_kind_name(aw_sidecar_kind k) {
    return (unsigned)k < AW_SC_NKINDS ? kind_names[k] : "none";
}

struct aw_sidecar_rules {
    char **globs[AW_SC_NKINDS];
    size_t n[AW_SC_NKINDS];
};

void aw_sidecar_rules_destroy(aw_sidecar_rules *r) {
    if (!r)
        return;
    for (int k = 0; k < AW_SC_NKINDS; k++) {
        for (size_t i = 0; i < r->n[k]; i++)
            free(r->globs[k][i]);
        free(r->globs[k]);
    }
    free(r);
}

static bool per_file(int k) {
    return k == AW_SC_FILE_METADATA || k == AW_SC_SHA256;
}

int aw_sidecar_rules_new(const char *const globs[AW_SC_NKINDS], aw_sidecar_rules **out,
                         char *errstr, size_t errn) {
    *out = NULL;
    aw_sidecar_rules *r = calloc(1, sizeof *r);
    if (!r)
        return AW_ENOMEM;
    for (int k = 1; k < AW_SC_NKINDS; k++) {
        const char *s = globs[k] ? globs[k] : "";
        while (*s) {
            size_t l = strcspn(s, ",");
            const char *b = s, *e = s + l;
            while (b < e && isspace((unsigned char)*b))
                b++;
            while (e > b && isspace((unsigned char)e[-1]))
                e--;
            s += l + (s[l] == ',');
            if (b == e)
                continue;
            char *g = strndup(b, (size_t)(e - b));
            char **ng = g ? realloc(r->globs[k], (r->n[k] + 1) * sizeof *ng) : NULL;
            if (!ng) {
                free(g);
                aw_sidecar_rules_destroy(r);
                return AW_ENOMEM;
            }
            r->globs[k] = ng;
            ng[r->n[k]++] = g;
            if (strchr(g, '/')) {
                snprintf(errstr, errn, "sidecar pattern \"%s\": patterns match the last "
                         "path segment and cannot contain '/'", g);
                aw_sidecar_rules_destroy(r);
                return AW_ECONFIG;
            }
            if (per_file(k) && (g[0] != '*' || strpbrk(g + 1, "*?[") || !g[1])) {
                snprintf(errstr, errn, "%s sidecar pattern \"%s\": must be \"*SUFFIX\" "
                         "(the described file is the key without SUFFIX)", kind_names[k], g);
                aw_sidecar_rules_destroy(r);
                return AW_ECONFIG;
            }
        }
    }
    *out = r;
    return AW_OK;
}

aw_sidecar_kind aw_sidecar_classify(const aw_sidecar_rules *r, const char *key, char **subject) {
    if (subject)
        *subject = NULL;
    if (!r || !key)
        return AW_SC_NONE;
    const char *slash = strrchr(key, '/');
    const char *base = slash ? slash + 1 : key;
    size_t dirlen = (size_t)(base - key);
    static const int order[] = {AW_SC_FILE_METADATA, AW_SC_SHA256, AW_SC_MLMODEL,
                                AW_SC_METADATA, AW_SC_METRICS, AW_SC_OPENLINEAGE};
    for (size_t o = 0; o < sizeof order / sizeof order[0]; o++) {
        int k = order[o];
        for (size_t i = 0; i < r->n[k]; i++) {
            const char *g = r->globs[k][i];
            if (fnmatch(g, base, 0) != 0)
                continue;
            if (per_file(k) && strlen(base) <= strlen(g) - 1)
                continue; /* nothing left to describe: ".sha256" alone */
            if (subject) {
                if (per_file(k))
                    *subject = strndup(key, strlen(key) - (strlen(g) - 1));
                else if (k != AW_SC_OPENLINEAGE)
                    *subject = strndup(key, dirlen);
            }
            return (aw_sidecar_kind)k;
        }
    }
    return AW_SC_NONE;
}
