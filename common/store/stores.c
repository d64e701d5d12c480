/*
 * The stores file and the clients of every store a process serves
 * (aw/stores.h). The file is small and read once at start; each store's
 * client is made then, so a store that cannot be used is a start-up error,
 * not a surprise in the middle of a run.
 */
#include "aw/store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aw/codec.h"
#include "aw/util.h"

struct aw_stores {
    const aw_config *cfg;   /* the default store's settings, when no section names it */
    aw_store_def *defs;     /* the stores file's sections */
    const aw_store_def *extra; /* the default store's, when no section describes it */
    size_t ndefs;
    size_t n;
    char **names;
    aw_s3 **clients;
};

static char *trim(char *s) {
    while (*s == ' ' || *s == '\t')
        s++;
    size_t l = strlen(s);
    while (l && (s[l - 1] == ' ' || s[l - 1] == '\t' || s[l - 1] == '\r' || s[l - 1] == '\n'))
        s[--l] = '\0';
    return s;
}

static bool name_ok(const char *s) {
    size_t l = strlen(s);
    if (!l || l > AW_STORE_NAME_MAX)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '.' || *s == '_' || *s == '-'))
            return false;
    return true;
}

void aw_store_defs_free(aw_store_def *defs, size_t n) {
    for (size_t i = 0; defs && i < n; i++) {
        aw_store_def *d = &defs[i];
        if (d->secret_access_key)
            memset(d->secret_access_key, 0, strlen(d->secret_access_key));
        if (d->session_token)
            memset(d->session_token, 0, strlen(d->session_token));
        free(d->name), free(d->endpoint), free(d->region), free(d->access_key_id);
        free(d->secret_access_key), free(d->session_token), free(d->credentials_file);
        free(d->profile);
        if (d->account_key)
            memset(d->account_key, 0, strlen(d->account_key));
        if (d->sas_token)
            memset(d->sas_token, 0, strlen(d->sas_token));
        free(d->account), free(d->account_key), free(d->sas_token);
        for (size_t r = 0; r < d->nroots; r++)
            free(d->roots[r]);
        free(d->roots);
    }
    free(defs);
}

/* Sets key k of d from v. AW_EINVAL for an unknown key or a bad boolean. */
static int set_key(aw_store_def *d, const char *k, const char *v) {
    static const struct {
        const char *key;
        size_t off;
    } strs[] = {{"endpoint", offsetof(aw_store_def, endpoint)},
                {"region", offsetof(aw_store_def, region)},
                {"access_key_id", offsetof(aw_store_def, access_key_id)},
                {"secret_access_key", offsetof(aw_store_def, secret_access_key)},
                {"session_token", offsetof(aw_store_def, session_token)},
                {"credentials_file", offsetof(aw_store_def, credentials_file)},
                {"profile", offsetof(aw_store_def, profile)},
                {"account", offsetof(aw_store_def, account)},
                {"account_key", offsetof(aw_store_def, account_key)},
                {"sas_token", offsetof(aw_store_def, sas_token)}};
    if (!strcmp(k, "kind")) {
        if (!strcmp(v, "s3"))
            d->kind = AW_STORE_S3;
        else if (!strcmp(v, "azure"))
            d->kind = AW_STORE_AZURE;
        else if (!strcmp(v, "file"))
            d->kind = AW_STORE_FILE;
        else
            return AW_EUNSUPPORTED;
        return AW_OK;
    }
    if (!strcmp(k, "root")) {
        char **nr = realloc(d->roots, (d->nroots + 1) * sizeof *nr);
        if (!nr)
            return AW_ENOMEM;
        d->roots = nr;
        return (d->roots[d->nroots] = strdup(v)) ? (d->nroots++, AW_OK) : AW_ENOMEM;
    }
    if (!strcmp(k, "path_style")) {
        if (!strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "1"))
            d->path_style = true;
        else if (!strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "0"))
            d->path_style = false;
        else
            return AW_EINVAL;
        return AW_OK;
    }
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        if (!strcmp(k, strs[i].key)) {
            char **field = (char **)((char *)d + strs[i].off), *dup = strdup(v);
            if (!dup)
                return AW_ENOMEM;
            free(*field);
            *field = dup;
            return AW_OK;
        }
    return AW_ENOTFOUND;
}

/* A "[name]" line: a new store. */
static int section(char *s, const char *shown, const char *path, int lineno, aw_store_def **defs,
                   size_t *n, size_t *cap, char *errstr, size_t errn) {
    char *end = strchr(s, ']');
    if (end)
        *end = '\0';
    char *name = trim(s + 1);
    if (!end || *trim(end + 1) || !name_ok(name)) {
        snprintf(errstr, errn, "%s:%d: \"%s\" is not a [store] section (a name of 1 to %d "
                 "letters, digits, '.', '_' or '-')", path, lineno, shown, AW_STORE_NAME_MAX);
        return AW_ECONFIG;
    }
    for (size_t i = 0; i < *n; i++)
        if (!strcmp((*defs)[i].name, name)) {
            snprintf(errstr, errn, "%s:%d: store \"%s\" is described twice (first at line %d)",
                     path, lineno, name, (*defs)[i].line);
            return AW_ECONFIG;
        }
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 4;
        aw_store_def *nd = realloc(*defs, c * sizeof *nd);
        if (!nd)
            return AW_ENOMEM;
        *defs = nd, *cap = c;
    }
    aw_store_def *d = &(*defs)[(*n)++];
    memset(d, 0, sizeof *d);
    d->line = lineno;
    d->path_style = true;
    return (d->name = strdup(name)) ? AW_OK : AW_ENOMEM;
}

int aw_stores_parse(const char *text, size_t len, const char *path, aw_store_def **defs,
                    size_t *n, char *errstr, size_t errn) {
    *defs = NULL;
    *n = 0;
    size_t cap = 0;
    int lineno = 0, rc = AW_OK;
    char x[160];
    for (size_t at = 0; rc == AW_OK && at < len;) {
        const char *nl = memchr(text + at, '\n', len - at);
        size_t l = nl ? (size_t)(nl - (text + at)) : len - at;
        lineno++;
        if (l > 4096 || memchr(text + at, '\0', l)) {
            snprintf(errstr, errn, "%s:%d: %s", path, lineno,
                     l > 4096 ? "a line longer than 4096 bytes" : "a NUL byte");
            rc = AW_ECONFIG;
            break;
        }
        char buf[4097];
        memcpy(buf, text + at, l);
        buf[l] = '\0';
        at += l + 1;
        char *s = trim(buf);
        if (!*s || *s == '#')
            continue;
        aw_escape_text(s, strlen(s), x, sizeof x);
        if (*s == '[') {
            rc = section(s, x, path, lineno, defs, n, &cap, errstr, errn);
            continue;
        }
        char *eq = strchr(s, '=');
        if (!eq || !*n) {
            snprintf(errstr, errn, "%s:%d: %s", path, lineno,
                     !*n ? "a setting before the first [store] section" : "expected key = value");
            rc = AW_ECONFIG;
            break;
        }
        *eq = '\0';
        char *k = trim(s), *v = trim(eq + 1);
        int r = set_key(&(*defs)[*n - 1], k, v);
        if (r == AW_ENOTFOUND || r == AW_EINVAL || r == AW_EUNSUPPORTED) {
            aw_escape_text(k, strlen(k), x, sizeof x);
            snprintf(errstr, errn, r == AW_ENOTFOUND
                     ? "%s:%d: unknown key \"%s\" (kind, endpoint, region, path_style, "
                       "access_key_id, secret_access_key, session_token, credentials_file, "
                       "profile, account, account_key, sas_token, root)"
                     : r == AW_EUNSUPPORTED ? "%s:%d: %s must be s3, azure or file"
                                            : "%s:%d: %s must be true or false",
                     path, lineno, x);
            rc = AW_ECONFIG;
        } else {
            rc = r;
        }
    }
    if (rc != AW_OK) {
        aw_store_defs_free(*defs, *n);
        *defs = NULL;
        *n = 0;
    }
    return rc;
}

static int add(aw_stores *s, const char *name, aw_s3 *client) {
    char **nn = realloc(s->names, (s->n + 1) * sizeof *nn);
    if (nn)
        s->names = nn;
    aw_s3 **nc = realloc(s->clients, (s->n + 1) * sizeof *nc);
    if (nc)
        s->clients = nc;
    char *dup = strdup(name);
    if (!nn || !nc || !dup) {
        free(dup);
        aw_s3_destroy(client);
        return AW_ENOMEM;
    }
    s->names[s->n] = dup;
    s->clients[s->n++] = client;
    return AW_OK;
}

/* The defs' text from a file: at most 1 MiB. */
static int read_file(const char *path, char **text, size_t *len, char *errstr, size_t errn) {
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(errstr, errn, "cannot open the stores file %s: %s", path, strerror(errno));
        return AW_ECONFIG;
    }
    char *buf = malloc((1u << 20) + 1);
    size_t got = buf ? fread(buf, 1, (1u << 20) + 1, f) : 0;
    fclose(f);
    if (!buf)
        return AW_ENOMEM;
    if (got > (1u << 20)) {
        free(buf);
        snprintf(errstr, errn, "the stores file %s is larger than 1 MiB", path);
        return AW_ECONFIG;
    }
    *text = buf;
    *len = got;
    return AW_OK;
}

/* A new client of the store def describes (or, def NULL, of cfg's s3.*). */
static int new_client(const aw_config *cfg, const aw_store_def *d, aw_s3 **out, char *errstr,
                      size_t errn) {
    if (!d)
        return aw_s3_new_from_config(cfg, out, errstr, errn);
    aw_s3_opts o = {.kind = d->kind, .endpoint = d->endpoint,
                    .region = d->region ? d->region : "us-east-1",
                    .access_key = d->access_key_id, .secret_key = d->secret_access_key,
                    .session_token = d->session_token, .credentials_file = d->credentials_file,
                    .profile = d->profile, .path_style = d->path_style,
                    .timeout_ms = cfg->fetch_timeout_ms, .account = d->account,
                    .account_key = d->account_key, .sas_token = d->sas_token,
                    .roots = (const char *const *)d->roots, .nroots = d->nroots};
    char why[512];
    int rc = aw_s3_new(&o, out, why, sizeof why);
    if (rc != AW_OK && d->line > 0)
        snprintf(errstr, errn, "%s:%d: store \"%s\": %s", cfg->stores_file, d->line, d->name,
                 why);
    else if (rc != AW_OK)
        snprintf(errstr, errn, "store \"%s\": %s", d->name, why);
    return rc;
}

static const aw_store_def *find_def(const aw_stores *s, const char *name) {
    for (size_t i = 0; i < s->ndefs; i++)
        if (!strcmp(s->defs[i].name, name))
            return &s->defs[i];
    if (s->extra && !strcmp(name, s->cfg->s3_store))
        return s->extra;
    return NULL;
}

const aw_store_def *aw_stores_def(const aw_stores *s, const char *name) {
    return s && name ? find_def(s, name) : NULL;
}

int aw_stores_open(const aw_config *cfg, aw_stores **out, char *errstr, size_t errn) {
    return aw_stores_open_with(cfg, NULL, out, errstr, errn);
}

int aw_stores_open_with(const aw_config *cfg, const aw_store_def *extra, aw_stores **out,
                        char *errstr, size_t errn) {
    *out = NULL;
    aw_stores *s = calloc(1, sizeof *s);
    if (!s)
        return AW_ENOMEM;
    s->cfg = cfg;
    s->extra = extra;
    int rc = AW_OK;
    if (cfg->stores_file && *cfg->stores_file) {
        char *text = NULL;
        size_t len = 0;
        rc = read_file(cfg->stores_file, &text, &len, errstr, errn);
        if (rc == AW_OK)
            rc = aw_stores_parse(text, len, cfg->stores_file, &s->defs, &s->ndefs, errstr, errn);
        free(text);
    }
    /* the default store first, whoever describes it, then the file's others */
    aw_s3 *c = NULL;
    if (rc == AW_OK && (rc = new_client(cfg, find_def(s, cfg->s3_store), &c, errstr, errn)) ==
                           AW_OK)
        rc = add(s, cfg->s3_store, c);
    for (size_t i = 0; rc == AW_OK && i < s->ndefs; i++) {
        if (!strcmp(s->defs[i].name, cfg->s3_store))
            continue;
        if ((rc = new_client(cfg, &s->defs[i], &c, errstr, errn)) == AW_OK)
            rc = add(s, s->defs[i].name, c);
    }
    if (rc != AW_OK) {
        aw_stores_destroy(s);
        return rc;
    }
    *out = s;
    return AW_OK;
}

int aw_stores_new_client(const aw_stores *s, const char *name, aw_s3 **out, char *errstr,
                         size_t errn) {
    const aw_store_def *d = find_def(s, name);
    if (!d && strcmp(name, s->cfg->s3_store)) {
        snprintf(errstr, errn, "no store \"%s\" is served here", name);
        return AW_ENOTFOUND;
    }
    return new_client(s->cfg, d, out, errstr, errn);
}

int aw_s3_new_from_env(aw_s3 **out, char *errstr, size_t n) {
    aw_s3_opts o = {.endpoint = getenv("AWS_ENDPOINT_URL_S3"), .region = getenv("AWS_REGION"),
                    .access_key = getenv("AWS_ACCESS_KEY_ID"),
                    .secret_key = getenv("AWS_SECRET_ACCESS_KEY"), .path_style = true,
                    .timeout_ms = 30000};
    return aw_s3_new(&o, out, errstr, n);
}

int aw_s3_new_from_config(const aw_config *cfg, aw_s3 **out, char *errstr, size_t n) {
    char deffile[1024] = "";
    const char *file = cfg->s3_credentials_file;
    const char *home = getenv("HOME");
    if (!*file && !*cfg->s3_access_key_id && home && *home &&
        aw_fmt(deffile, sizeof deffile, "%s/.aws/credentials", home) == AW_OK &&
        access(deffile, R_OK) == 0)
        file = deffile; /* the SDKs' default place */
    aw_s3_opts o = {.endpoint = cfg->s3_endpoint, .region = cfg->s3_region,
                    .access_key = cfg->s3_access_key_id,
                    .secret_key = cfg->s3_secret_access_key,
                    .session_token = cfg->s3_session_token, .credentials_file = file,
                    .profile = cfg->s3_profile, .path_style = cfg->s3_path_style,
                    .timeout_ms = cfg->fetch_timeout_ms};
    return aw_s3_new(&o, out, errstr, n);
}

/* path relative to dir when dir (no trailing slash) holds it, else NULL */
static const char *below(const char *path, const char *dir) {
    size_t l = dir ? strlen(dir) : 0;
    return l && !strncmp(path, dir, l) && path[l] == '/' && path[l + 1] ? path + l + 1 : NULL;
}

int aw_store_file_uri(const aw_config *cfg, const char *uri, char **bucket, char **key,
                      char *errstr, size_t errn) {
    *bucket = *key = NULL;
    const char *path = uri + 7;
    if (strncmp(uri, "file://", 7))
        return AW_EINVAL;
    if (!strncmp(path, "localhost/", 10))
        path += 9;
    if (*path != '/') {
        snprintf(errstr, errn, "%s: not a file:///absolute/path", uri);
        return AW_EINVAL;
    }
    char *text = NULL;
    size_t len = 0, n = 0;
    aw_store_def *defs = NULL;
    int rc = AW_ENOTFOUND;
    if (!cfg->stores_file || !*cfg->stores_file)
        snprintf(errstr, errn, "%s: name the stores file that describes store \"%s\" and its "
                 "roots (--stores)", uri, cfg->s3_store);
    else if ((rc = read_file(cfg->stores_file, &text, &len, errstr, errn)) == AW_OK &&
             (rc = aw_stores_parse(text, len, cfg->stores_file, &defs, &n, errstr, errn)) ==
                 AW_OK)
        rc = AW_ENOTFOUND;
    free(text);
    for (size_t i = 0; rc == AW_ENOTFOUND && i < n; i++) {
        if (strcmp(defs[i].name, cfg->s3_store) || defs[i].kind != AW_STORE_FILE)
            continue;
        for (size_t r = 0; rc == AW_ENOTFOUND && r < defs[i].nroots; r++) {
            char *real = realpath(defs[i].roots[r], NULL);
            const char *rest = below(path, real) ? below(path, real) : below(path, defs[i].roots[r]);
            const char *base = strrchr(real ? real : defs[i].roots[r], '/');
            if (rest && base) {
                *bucket = strdup(base + 1);
                *key = strdup(rest);
                rc = *bucket && *key ? AW_OK : AW_ENOMEM;
            }
            free(real);
        }
    }
    if (rc == AW_ENOTFOUND && n)
        snprintf(errstr, errn, "%s is not below a root of file store \"%s\" in %s", uri,
                 cfg->s3_store, cfg->stores_file);
    aw_store_defs_free(defs, n);
    if (rc != AW_OK) {
        free(*bucket), free(*key);
        *bucket = *key = NULL;
    }
    return rc;
}

aw_s3 *aw_stores_client(const aw_stores *s, const char *name) {
    for (size_t i = 0; s && name && i < s->n; i++)
        if (!strcmp(s->names[i], name))
            return s->clients[i];
    return NULL;
}

size_t aw_stores_count(const aw_stores *s) { return s ? s->n : 0; }

const char *aw_stores_name(const aw_stores *s, size_t i) {
    return s && i < s->n ? s->names[i] : NULL;
}

void aw_stores_destroy(aw_stores *s) {
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++) {
        free(s->names[i]);
        aw_s3_destroy(s->clients[i]);
    }
    free(s->names);
    free(s->clients);
    aw_store_defs_free(s->defs, s->ndefs);
    free(s);
}
