/*
 * The MLflow tracking server's REST API (/api/2.0/mlflow/...), and where an
 * MLflow URI's files are: s3:// as it is, mlflow-artifacts:/ under the
 * server's artifacts destination, runs:/ under the run's artifact URI,
 * models:/ through the registry (an alias, a version) or a logged model.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aw/codec.h"
#include "aw/hash.h"
#include "aw/http.h"
#include "internal.h"

#define MAX_ANSWER (64u << 20)

int mlf_open(const aw_config *cfg, mlf_client *c, char *errstr, size_t n) {
    memset(c, 0, sizeof *c);
    c->cfg = cfg;
    const char *u = cfg->mlflow_tracking_uri;
    if (!*u) {
        snprintf(errstr, n, "no tracking server: give --mlflow-tracking-uri (MLFLOW_TRACKING_URI)");
        return AW_ECONFIG;
    }
    if ((strncmp(u, "http://", 7) && strncmp(u, "https://", 8)) || strlen(u) >= sizeof c->base) {
        char shown[300];
        aw_url_redact(u, shown, sizeof shown);
        snprintf(errstr, n, "--mlflow-tracking-uri must be an http:// or https:// URL, not \"%s\"",
                 shown);
        return AW_ECONFIG;
    }
    snprintf(c->base, sizeof c->base, "%s", u);
    size_t l = strlen(c->base);
    while (l && c->base[l - 1] == '/')
        c->base[--l] = '\0';
    if (*cfg->mlflow_token) {
        if (snprintf(c->auth, sizeof c->auth, "Authorization: Bearer %s", cfg->mlflow_token) >=
            (int)sizeof c->auth) {
            snprintf(errstr, n, "--mlflow-token is too long");
            return AW_ECONFIG;
        }
    } else if (*cfg->mlflow_username) {
        char up[400], b64[600];
        if (snprintf(up, sizeof up, "%s:%s", cfg->mlflow_username, cfg->mlflow_password) >=
                (int)sizeof up ||
            aw_base64(up, strlen(up), b64, sizeof b64) != AW_OK) {
            snprintf(errstr, n, "--mlflow-username and --mlflow-password are too long");
            return AW_ECONFIG;
        }
        snprintf(c->auth, sizeof c->auth, "Authorization: Basic %s", b64);
    }
    return AW_OK;
}

/* The server's own words about a failed call: error_code and message. */
static void server_words(const aw_membuf *b, char *out, size_t n) {
    json_error_t je;
    json_t *e = b->p ? json_loadb(b->p, b->len, 0, &je) : NULL;
    const char *code = json_string_value(json_object_get(e, "error_code"));
    const char *msg = json_string_value(json_object_get(e, "message"));
    char safe[400];
    aw_escape_text(msg ? msg : "", msg ? strlen(msg) : 0, safe, sizeof safe);
    snprintf(out, n, "%s%s%s", code ? code : "", code && msg ? ": " : "", safe);
    json_decref(e);
}

int mlf_call(mlf_client *c, const char *method, const char *path, const char *query,
             json_t *body, json_t **out, char *errstr, size_t n) {
    *out = NULL;
    char url[4096];
    if (snprintf(url, sizeof url, "%s/api/2.0/mlflow/%s%s%s", c->base, path, query ? "?" : "",
                 query ? query : "") >= (int)sizeof url) {
        snprintf(errstr, n, "%s: the request is too long", path);
        return AW_EINVAL;
    }
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    if (body && !text)
        return AW_ENOMEM;
    aw_membuf b = {.max = MAX_ANSWER};
    long status = 0;
    char err[512];
    int rc = aw_http_json(method, url, c->auth[0] ? c->auth : NULL, text, 30000, &status, &b,
                          err, sizeof err);
    free(text);
    if (rc != AW_OK) {
        snprintf(errstr, n, "MLflow %s: %s", path, err);
        free(b.p);
        /* a cut answer (AW_EPARSE) is not a server that is away */
        return rc == AW_ENOMEM || rc == AW_EPARSE ? rc : AW_EUNAVAILABLE;
    }
    if (status != 200) {
        char words[600];
        server_words(&b, words, sizeof words);
        bool gone = strstr(words, "RESOURCE_DOES_NOT_EXIST") != NULL;
        snprintf(errstr, n, "MLflow %s: HTTP %ld%s%s%s", path, status, words[0] ? ": " : "",
                 words, status == 404 && !gone ? " (is this the tracking server's URL?)"
                        : status / 100 == 3    ? " (redirected: give the server's own URL)"
                                               : "");
        free(b.p);
        /* by the status first: a server's words only refine a 4xx */
        return status >= 500 || status == 429          ? AW_EUNAVAILABLE
               : status == 401 || status == 403         ? AW_ECONFIG
               : status / 100 == 3                      ? AW_ECONFIG
               : status == 404                          ? AW_ENOTFOUND
               : gone || strstr(words, "not found")     ? AW_ENOTFOUND
                                                        : AW_EINVAL;
    }
    json_error_t je;
    *out = json_loadb(b.p ? b.p : "", b.len, 0, &je);
    free(b.p);
    if (!json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        snprintf(errstr, n, "MLflow %s: the answer is not a JSON object", path);
        return AW_EPARSE;
    }
    return AW_OK;
}

/* A query argument: name=value, value percent-encoded. */
static int arg(char *q, size_t cap, size_t *pos, const char *name, const char *value) {
    int w = snprintf(q + *pos, cap - *pos, "%s%s=", *pos ? "&" : "", name);
    if (w < 0 || (size_t)w >= cap - *pos)
        return AW_EINVAL;
    *pos += (size_t)w;
    return aw_uriencode(value, strlen(value), false, q, cap, pos);
}

/* s3://bucket/rest (s3a too) into bucket and prefix. */
static int split_s3(const char *uri, char **bucket, char **prefix, char *errstr, size_t n) {
    const char *p = !strncmp(uri, "s3://", 5) ? uri + 5 : !strncmp(uri, "s3a://", 6) ? uri + 6
                                                                                     : NULL;
    const char *slash = p ? strchr(p, '/') : NULL;
    size_t bl = slash ? (size_t)(slash - p) : p ? strlen(p) : 0;
    char b[64];
    if (!p || bl == 0 || bl >= sizeof b) {
        char safe[300];
        aw_escape_text(uri, strlen(uri), safe, sizeof safe);
        snprintf(errstr, n, "\"%s\" is not in an S3 store (s3://bucket/...)", safe);
        return AW_EINVAL;
    }
    memcpy(b, p, bl);
    b[bl] = '\0';
    if (!aw_bucket_name_ok(b)) {
        snprintf(errstr, n, "\"%s\" is not a bucket name", b);
        return AW_EINVAL;
    }
    *bucket = strdup(b);
    *prefix = strdup(slash ? slash + 1 : "");
    return *bucket && *prefix ? AW_OK : AW_ENOMEM;
}

/* a, b and c end to end (malloc'd). */
static char *join3(const char *a, const char *b, const char *c) {
    size_t l = strlen(a) + strlen(b) + strlen(c) + 1;
    char *s = malloc(l);
    if (s)
        snprintf(s, l, "%s%s%s", a, b, c);
    return s;
}

/* The artifact location of a model version: where its files are stored. */
static const char *version_place(json_t *mv) {
    const char *s = json_string_value(json_object_get(mv, "storage_location"));
    return s && *s ? s : json_string_value(json_object_get(mv, "source"));
}

static int locate_depth(mlf_client *c, const char *uri, char **bucket, char **prefix, int depth,
                        char *errstr, size_t n);

/* What one GET answers, and the string member at path (a.b) of it. */
static int get_member(mlf_client *c, const char *path, const char *query, const char *obj,
                      const char *member, char **value, char *errstr, size_t n) {
    json_t *r;
    int rc = mlf_call(c, "GET", path, query, NULL, &r, errstr, n);
    if (rc != AW_OK)
        return rc;
    json_t *o = json_object_get(r, obj);
    const char *v = !strcmp(member, "place") ? version_place(o)
                    : json_string_value(json_object_get(o, member));
    *value = v && *v ? strdup(v) : NULL;
    json_decref(r);
    if (!*value) {
        snprintf(errstr, n, "MLflow %s: the answer has no %s", path, member);
        return AW_EPARSE;
    }
    return AW_OK;
}

/* models:/... and runs:/... to the URI of the place their files are. */
static int mlflow_place(mlf_client *c, const char *uri, char **place, char *errstr, size_t n) {
    char q[2048];
    size_t pos = 0;
    *place = NULL;
    if (!strncmp(uri, "runs:/", 6)) {
        const char *run = uri + 6, *slash = strchr(run, '/');
        char id[64];
        size_t l = slash ? (size_t)(slash - run) : strlen(run);
        if (l == 0 || l >= sizeof id)
            return snprintf(errstr, n, "runs:/ needs a run id"), AW_EINVAL;
        snprintf(id, sizeof id, "%.*s", (int)l, run);
        if (arg(q, sizeof q, &pos, "run_id", id) != AW_OK)
            return AW_EINVAL;
        json_t *r;
        int rc = mlf_call(c, "GET", "runs/get", q, NULL, &r, errstr, n);
        if (rc != AW_OK)
            return rc;
        const char *a = json_string_value(
            json_object_get(json_object_get(json_object_get(r, "run"), "info"), "artifact_uri"));
        if (a)
            *place = join3(a, slash && slash[1] ? "/" : "", slash && slash[1] ? slash + 1 : "");
        json_decref(r);
        return *place ? AW_OK : (snprintf(errstr, n, "run %s has no artifact URI", id), AW_EPARSE);
    }
    const char *m = uri + 8; /* models:/ */
    if (!strncmp(m, "m-", 2) && !strchr(m, '/') && !strchr(m, '@')) {
        static const char id_chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                       "0123456789-_";
        if (strlen(m) > 100 || strspn(m, id_chars) != strlen(m)) {
            snprintf(errstr, n, "models:/m-...: a model id is up to 100 letters, digits, - and _");
            return AW_EINVAL;
        }
        char path[200];
        snprintf(path, sizeof path, "logged-models/%s", m);
        json_t *r;
        int rc = mlf_call(c, "GET", path, NULL, NULL, &r, errstr, n);
        if (rc != AW_OK)
            return rc;
        const char *a = json_string_value(json_object_get(
            json_object_get(json_object_get(r, "model"), "info"), "artifact_uri"));
        *place = a ? strdup(a) : NULL;
        json_decref(r);
        return *place ? AW_OK : (snprintf(errstr, n, "model %s has no artifact URI", m), AW_EPARSE);
    }
    const char *at = strchr(m, '@'), *slash = strchr(m, '/');
    if ((at && (!slash || slash > at) ? at - m : slash ? slash - m : 0) >= 512) {
        snprintf(errstr, n, "models:/: a model name longer than 511 bytes");
        return AW_EINVAL;
    }
    if (at && (!slash || slash > at)) {
        char name[512];
        snprintf(name, sizeof name, "%.*s", (int)(at - m), m);
        if (arg(q, sizeof q, &pos, "name", name) || arg(q, sizeof q, &pos, "alias", at + 1))
            return AW_EINVAL;
        return get_member(c, "registered-models/alias", q, "model_version", "place", place,
                          errstr, n);
    }
    if (slash) {
        char name[512];
        snprintf(name, sizeof name, "%.*s", (int)(slash - m), m);
        if (arg(q, sizeof q, &pos, "name", name) || arg(q, sizeof q, &pos, "version", slash + 1))
            return AW_EINVAL;
        return get_member(c, "model-versions/get", q, "model_version", "place", place, errstr,
                          n);
    }
    snprintf(errstr, n, "models:/ needs NAME@ALIAS, NAME/VERSION or a model id (m-...)");
    return AW_EINVAL;
}

static int locate_depth(mlf_client *c, const char *uri, char **bucket, char **prefix, int depth,
                        char *errstr, size_t n) {
    *bucket = *prefix = NULL;
    if (depth > 4) {
        snprintf(errstr, n, "MLflow URIs that lead to each other too many times");
        return AW_EINVAL;
    }
    if (!strncmp(uri, "s3://", 5) || !strncmp(uri, "s3a://", 6))
        return split_s3(uri, bucket, prefix, errstr, n);
    if (!strncmp(uri, "mlflow-artifacts:", 17)) {
        const char *p = uri + 17;
        if (!strncmp(p, "//", 2)) /* mlflow-artifacts://host:port/path */
            p = strchr(p + 2, '/') ? strchr(p + 2, '/') : "";
        while (*p == '/')
            p++;
        const char *dest = c->cfg->mlflow_artifacts_destination;
        if (!*dest) {
            snprintf(errstr, n, "mlflow-artifacts: URIs need --mlflow-artifacts-destination "
                                "(the server's --artifacts-destination)");
            return AW_ECONFIG;
        }
        size_t dl = strlen(dest);
        char *full = join3(dest, dl && dest[dl - 1] == '/' ? "" : "/", p);
        if (!full)
            return AW_ENOMEM;
        int rc = split_s3(full, bucket, prefix, errstr, n);
        free(full);
        return rc;
    }
    if (!mlf_readable(uri)) {
        char safe[300];
        aw_escape_text(uri, strlen(uri), safe, sizeof safe);
        snprintf(errstr, n, "\"%s\": not a place artifact-watch can read (s3://, "
                            "mlflow-artifacts:/, runs:/, models:/)", safe);
        return AW_EINVAL;
    }
    char *place = NULL;
    int rc = mlflow_place(c, uri, &place, errstr, n);
    if (rc == AW_OK)
        rc = locate_depth(c, place, bucket, prefix, depth + 1, errstr, n);
    free(place);
    return rc;
}

int mlf_locate(mlf_client *c, const char *uri, char **bucket, char **prefix, char *errstr,
               size_t n) {
    return locate_depth(c, uri, bucket, prefix, 0, errstr, n);
}

bool mlf_readable(const char *uri) {
    return !strncmp(uri, "s3://", 5) || !strncmp(uri, "s3a://", 6) ||
           !strncmp(uri, "mlflow-artifacts:", 17) || aw_mlflow_uri(uri);
}

bool aw_mlflow_uri(const char *uri) {
    return !strncmp(uri, "models:/", 8) || !strncmp(uri, "runs:/", 6);
}

int aw_mlflow_resolve(const aw_config *cfg, const char *uri, char **bucket, char **prefix,
                      char *errstr, size_t n) {
    mlf_client c;
    *bucket = *prefix = NULL;
    int rc = mlf_open(cfg, &c, errstr, n);
    return rc == AW_OK ? mlf_locate(&c, uri, bucket, prefix, errstr, n) : rc;
}
