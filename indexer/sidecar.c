/*
 * Sidecar classification and parsing. Nothing here touches the network or
 * the database: bytes in, a normalised document out.
 */
#include "sidecar.h"

#include <ctype.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aw/codec.h"

/* ------------------------------------------------------------ parsing */

static void vnote(aw_sidecar_doc *d, const char *fmt, va_list ap) AW_PRINTF(2, 0);
static void vnote(aw_sidecar_doc *d, const char *fmt, va_list ap) {
    size_t l = strlen(d->error);
    if (l + 4 >= sizeof d->error)
        return;
    if (l) {
        memcpy(d->error + l, "; ", 3);
        l += 2;
    }
    vsnprintf(d->error + l, sizeof d->error - l, fmt, ap);
    aw_utf8_trim(d->error); /* a full buffer may end inside a character */
}

void aw_sidecar_note(aw_sidecar_doc *d, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vnote(d, fmt, ap);
    va_end(ap);
}


/* Outside text quoted in an error: escaped, at most 100 bytes, cut between
 * characters. */
static const char *excerpt(const char *s, char buf[128]) {
    aw_escape_text(s, strlen(s), buf, 100);
    return buf;
}

static const char *type_name(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "a list";
    case JSON_STRING: return "a string";
    case JSON_INTEGER:
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "?";
}

/* Levels of objects and lists in v, counted up to just past limit. */
static int depth_of(json_t *v, int limit) {
    if (!json_is_object(v) && !json_is_array(v))
        return 0;
    if (limit < 0)
        return 1;
    int max = 0;
    void *it = json_is_object(v) ? json_object_iter(v) : NULL;
    for (size_t i = 0; max <= limit; i++) {
        json_t *x = json_is_object(v) ? json_object_iter_value(it) : json_array_get(v, i);
        if (!x)
            break;
        int d = depth_of(x, limit - 1);
        if (d > max)
            max = d;
        if (it)
            it = json_object_iter_next(v, it);
    }
    return max + 1;
}

/* A string field; a number is accepted as its decimal text (versions and run
 * ids are often numbers). Wrong types are reported and yield NULL. */
int aw_sidecar_text_field(aw_sidecar_doc *d, json_t *obj, const char *name, const char *where,
                          char **out) {
    json_t *v = json_object_get(obj, name);
    if (!v || json_is_null(v) || *out)
        return AW_OK;
    char num[32];
    const char *s = NULL;
    if (json_is_string(v))
        s = json_string_value(v);
    else if (json_is_integer(v))
        snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v)), s = num;
    if (!s) {
        aw_sidecar_note(d, "%s%s: expected a string, got %s", where, name, type_name(v));
        return AW_OK;
    }
    if (!*s)
        return AW_OK;
    if (strlen(s) > AW_SIDECAR_MAX_TEXT || !aw_utf8_valid(s, strlen(s))) {
        aw_sidecar_note(d, "%s%s: longer than %d bytes; not used", where, name,
                        AW_SIDECAR_MAX_TEXT);
        return AW_OK;
    }
    *out = strdup(s);
    return *out ? AW_OK : AW_ENOMEM;
}

/* Accepts "<hex>", "sha256:<hex>" and upper case; writes lowercase hex. */
static bool digest_norm(const char *s, char out[65]) {
    if (!strncasecmp(s, "sha256:", 7))
        s += 7;
    if (strlen(s) != 64)
        return false;
    for (int i = 0; i < 64; i++) {
        if (!isxdigit((unsigned char)s[i]))
            return false;
        out[i] = (char)tolower((unsigned char)s[i]);
    }
    out[64] = '\0';
    return true;
}

/* Declares bucket/key an input (of ckey in cbucket for OpenLineage). A
 * bucket or key no store could hold is reported under `where`; beyond
 * AW_SIDECAR_MAX_DECLS declarations are only counted. */
static int add_parent(aw_sidecar_doc *d, const char *where, const char *bucket,
                      const char *key, const char *sha, const char *cbucket, const char *ckey,
                      const char *kind) {
    char x[128];
    if (!aw_bucket_name_ok(bucket) || (cbucket && !aw_bucket_name_ok(cbucket))) {
        aw_sidecar_note(d, "%s: \"%s\" is not a valid bucket name", where,
                        excerpt(aw_bucket_name_ok(bucket) ? cbucket : bucket, x));
        return AW_OK;
    }
    if (strlen(key) > 1024 || (ckey && strlen(ckey) > 1024)) {
        aw_sidecar_note(d, "%s: an object key longer than 1024 bytes", where);
        return AW_OK;
    }
    if (d->nparents >= AW_SIDECAR_MAX_DECLS) {
        d->parents_dropped++;
        return AW_OK;
    }
    if (d->nparents == d->parents_cap) {
        size_t cap = d->parents_cap ? d->parents_cap * 2 : 8;
        aw_lineage_parent *np = realloc(d->parents, cap * sizeof *np);
        if (!np)
            return AW_ENOMEM;
        d->parents = np;
        d->parents_cap = cap;
    }
    aw_lineage_parent *p = &d->parents[d->nparents];
    memset(p, 0, sizeof *p);
    size_t ul = strlen(bucket) + strlen(key) + 7;
    p->uri = malloc(ul);
    p->bucket = strdup(bucket);
    p->key = strdup(key);
    p->child_bucket = cbucket ? strdup(cbucket) : NULL;
    p->child_key = ckey ? strdup(ckey) : NULL;
    p->kind = kind;
    d->nparents++;
    if (!p->uri || !p->bucket || !p->key || (cbucket && !p->child_bucket) ||
        (ckey && !p->child_key))
        return AW_ENOMEM;
    snprintf(p->uri, ul, "s3://%s/%s", bucket, key);
    if (sha)
        memcpy(p->sha256, sha, 65);
    return AW_OK;
}

/* created_from.data_path (string or list) with data_checksum (string, list
 * in the same order, or an object keyed by path). */
static int read_created_from(aw_sidecar_doc *d, json_t *cf) {
    int rc = AW_OK;
    if ((rc = aw_sidecar_text_field(d, cf, "code_commit", "created_from.", &d->code_commit)) ||
        (rc = aw_sidecar_text_field(d, cf, "training_run_id", "created_from.", &d->run_id)))
        return rc;
    json_t *dp = json_object_get(cf, "data_path");
    json_t *dc = json_object_get(cf, "data_checksum");
    if (!dp || json_is_null(dp))
        return AW_OK;
    if (!json_is_string(dp) && !json_is_array(dp)) {
        aw_sidecar_note(d, "created_from.data_path: expected a string or a list of strings, "
                        "got %s", type_name(dp));
        return AW_OK;
    }
    if (dc && !json_is_null(dc) && !json_is_string(dc) && !json_is_array(dc) &&
        !json_is_object(dc)) {
        aw_sidecar_note(d, "created_from.data_checksum: expected a string, a list or an "
                        "object, got %s", type_name(dc));
        dc = NULL;
    }
    size_t n = json_is_array(dp) ? json_array_size(dp) : 1;
    if (json_is_array(dc) && json_array_size(dc) != n)
        aw_sidecar_note(d, "created_from.data_checksum: %zu checksum(s) for %zu path(s); "
                        "matched by position", json_array_size(dc), n);
    if (json_is_string(dc) && n > 1)
        aw_sidecar_note(d, "created_from.data_checksum: one checksum for %zu paths; not used", n);
    for (size_t i = 0; i < n; i++) {
        json_t *pv = json_is_array(dp) ? json_array_get(dp, i) : dp;
        char where[64];
        if (json_is_array(dp))
            snprintf(where, sizeof where, "created_from.data_path[%zu]", i);
        else
            snprintf(where, sizeof where, "created_from.data_path");
        if (!json_is_string(pv)) {
            aw_sidecar_note(d, "%s: expected a string, got %s", where, type_name(pv));
            continue;
        }
        const char *path = json_string_value(pv);
        json_t *cv = NULL;
        if (json_is_string(dc) && n == 1)
            cv = dc;
        else if (json_is_array(dc))
            cv = json_array_get(dc, i);
        else if (json_is_object(dc))
            cv = json_object_get(dc, path);
        char sha[65] = "";
        if (cv && !json_is_null(cv)) {
            if (!json_is_string(cv) || !digest_norm(json_string_value(cv), sha)) {
                aw_sidecar_note(d, "created_from.data_checksum for %s: not a SHA-256 hex digest",
                                where);
                sha[0] = '\0';
            }
        }
        char *bucket, *key;
        rc = aw_object_uri_parse(path, &bucket, &key);
        if (rc == AW_ENOMEM)
            return rc;
        if (rc != AW_OK && d->root && (rc = aw_sidecar_local_path(d->root, path, &bucket, &key)) == AW_ENOMEM)
            return rc;
        if (rc != AW_OK) {
            char x[128];
            aw_sidecar_note(d, "%s: \"%s\" is not an s3://bucket/key URI%s", where,
                            excerpt(path, x), d->root ? " or a path in this folder" : "");
            continue;
        }
        rc = add_parent(d, where, bucket, key, sha[0] ? sha : NULL, NULL, NULL, "data");
        free(bucket);
        free(key);
        if (rc)
            return rc;
    }
    return AW_OK;
}

static int read_metadata(aw_sidecar_doc *d, json_t *root) {
    int rc;
    json_t *ca = json_object_get(root, "created_at");
    if (ca && !json_is_null(ca) && !json_is_string(ca))
        aw_sidecar_note(d, "created_at: expected a date-time string, got %s", type_name(ca));
    else if ((rc = aw_sidecar_text_field(d, root, "created_at", "", &d->created_at)))
        return rc;
    if (
        (rc = aw_sidecar_text_field(d, root, "artifact_type", "", &d->artifact_type)) ||
        (rc = aw_sidecar_text_field(d, root, "name", "", &d->name)) ||
        (rc = aw_sidecar_text_field(d, root, "artifact_name", "", &d->name)) ||
        (rc = aw_sidecar_text_field(d, root, "model_name", "", &d->name)) ||
        (rc = aw_sidecar_text_field(d, root, "version", "", &d->version)) ||
        (rc = aw_sidecar_text_field(d, root, "model_version", "", &d->version)))
        return rc;
    json_t *cf = json_object_get(root, "created_from");
    if (cf && !json_is_null(cf)) {
        if (!json_is_object(cf))
            aw_sidecar_note(d, "created_from: expected an object, got %s", type_name(cf));
        else if ((rc = read_created_from(d, cf)))
            return rc;
    }
    /* the lineage block's commit wins; git_commit describes the same code */
    return aw_sidecar_text_field(d, root, "git_commit", "", &d->code_commit);
}

/* An OpenLineage dataset on an object store: namespace "s3://bucket"
 * (s3a, gs too) and name = key. Other datasets are not objects. */
static bool ol_object(json_t *ds, char **bucket, char **key) {
    *bucket = *key = NULL;
    const char *ns = json_string_value(json_object_get(ds, "namespace"));
    const char *name = json_string_value(json_object_get(ds, "name"));
    if (!ns || !name || !*name)
        return false;
    size_t sl = aw_object_scheme_len(ns);
    if (!sl || !ns[sl])
        return false;
    const char *b = ns + sl;
    size_t bl = strcspn(b, "/");
    while (*name == '/')
        name++;
    if (!bl || !*name)
        return false;
    *bucket = strndup(b, bl);
    *key = strdup(name);
    return *bucket && *key;
}

/* An OpenLineage job: its namespace/name, and the code's version (the
 * facet sourceCodeLocation, a git commit). */
static int read_ol_job(aw_sidecar_doc *d, json_t *job) {
    int rc;
    const char *ns = json_string_value(json_object_get(job, "namespace"));
    const char *nm = json_string_value(json_object_get(job, "name"));
    if (nm && (ns ? strlen(ns) : 0) + strlen(nm) + 1 > AW_SIDECAR_MAX_TEXT) {
        aw_sidecar_note(d, "job: namespace and name longer than %d bytes; not used",
                        AW_SIDECAR_MAX_TEXT);
    } else if (nm) {
        size_t l = (ns ? strlen(ns) : 0) + strlen(nm) + 2;
        d->job = malloc(l);
        if (!d->job)
            return AW_ENOMEM;
        snprintf(d->job, l, "%s%s%s", ns ? ns : "", ns ? "/" : "", nm);
    }
    /* the code's version: the job facet sourceCodeLocation (a git commit) */
    json_t *scl = json_object_get(json_object_get(job, "facets"), "sourceCodeLocation");
    if (json_is_object(scl) && (rc = aw_sidecar_text_field(d, scl, "version",
                                                "job.facets.sourceCodeLocation.",
                                                &d->code_commit)))
        return rc;
    return AW_OK;
}

static int read_openlineage(aw_sidecar_doc *d, json_t *root) {
    int rc;
    json_t *run = json_object_get(root, "run"), *job = json_object_get(root, "job");
    if ((rc = aw_sidecar_text_field(d, root, "eventType", "", &d->event_type)) ||
        (rc = aw_sidecar_text_field(d, root, "eventTime", "", &d->created_at)))
        return rc;
    if (!json_is_object(run) || !json_is_string(json_object_get(run, "runId")))
        aw_sidecar_note(d, "run.runId: missing or not a string");
    else if ((rc = aw_sidecar_text_field(d, run, "runId", "run.", &d->run_id)))
        return rc;
    if (json_is_object(job) && (rc = read_ol_job(d, job)))
        return rc;
    json_t *ins = json_object_get(root, "inputs"), *outs = json_object_get(root, "outputs");
    if (ins && !json_is_array(ins)) {
        aw_sidecar_note(d, "inputs: expected a list, got %s", type_name(ins));
        ins = NULL;
    }
    if (outs && !json_is_array(outs)) {
        aw_sidecar_note(d, "outputs: expected a list, got %s", type_name(outs));
        outs = NULL;
    }
    /* the inputs that are objects, read once; then one declaration per
     * output and input pair, as many as the cap allows */
    size_t nin = json_array_size(ins), kept_in = 0, i;
    char **ib = calloc(nin ? nin : 1, sizeof *ib), **ik = calloc(nin ? nin : 1, sizeof *ik);
    if (!ib || !ik) {
        free(ib);
        free(ik);
        return AW_ENOMEM;
    }
    json_t *ds;
    json_array_foreach(ins, i, ds) {
        if (ol_object(ds, &ib[kept_in], &ik[kept_in]))
            kept_in++;
        else {
            free(ib[kept_in]);
            free(ik[kept_in]);
            ib[kept_in] = ik[kept_in] = NULL;
        }
    }
    json_array_foreach(outs, i, ds) {
        char *ob, *ok, where[48];
        if (!ol_object(ds, &ob, &ok)) {
            free(ob);
            free(ok);
            continue;
        }
        snprintf(where, sizeof where, "outputs[%zu]", i);
        for (size_t j = 0; j < kept_in && rc == AW_OK; j++) {
            if (d->nparents >= AW_SIDECAR_MAX_DECLS) {
                d->parents_dropped += kept_in - j; /* counted, not built */
                break;
            }
            rc = add_parent(d, where, ib[j], ik[j], NULL, ob, ok, "openlineage");
        }
        free(ob);
        free(ok);
        if (rc)
            break;
    }
    for (size_t j = 0; j < kept_in; j++) {
        free(ib[j]);
        free(ik[j]);
    }
    free(ib);
    free(ik);
    return rc;
}

/* "<hex>", "<hex>  name", "<hex> *name" (sha256sum), or BSD "SHA256 (name) = <hex>";
 * several lines pick the one naming subject_name. */
static int read_sha256(aw_sidecar_doc *d, const char *body, size_t len, const char *subject) {
    if (!aw_utf8_valid(body, len) || memchr(body, '\0', len)) {
        aw_sidecar_note(d, "not text");
        return AW_OK;
    }
    char *text = strndup(body, len);
    if (!text)
        return AW_ENOMEM;
    int lines = 0, chosen = 0;
    char hex[65] = "", name[256] = "";
    for (char *save = NULL, *line = strtok_r(text, "\r\n", &save); line;
         line = strtok_r(NULL, "\r\n", &save)) {
        while (isspace((unsigned char)*line))
            line++;
        if (!*line || *line == '#')
            continue;
        lines++;
        char h[65], nm[256] = "";
        const char *p = line;
        if (!strncmp(p, "SHA256 (", 8) && strstr(p, ") = ")) {
            const char *e = strstr(p, ") = ");
            snprintf(nm, sizeof nm, "%.*s", (int)(e - p - 8), p + 8);
            p = e + 4;
            if (!digest_norm(p, h)) {
                aw_sidecar_note(d, "line %d: not a SHA-256 hex digest", lines);
                continue;
            }
        } else {
            size_t hl = strcspn(p, " \t");
            char tok[80];
            snprintf(tok, sizeof tok, "%.*s", (int)(hl < 79 ? hl : 79), p);
            if (hl > 79 || !digest_norm(tok, h)) {
                char x[128];
                aw_sidecar_note(d, "line %d: \"%s\" is not a SHA-256 hex digest", lines,
                                excerpt(p, x));
                continue;
            }
            p += hl;
            while (*p == ' ' || *p == '\t')
                p++;
            if (*p == '*')
                p++;
            snprintf(nm, sizeof nm, "%s", p);
            for (size_t l = strlen(nm); l && isspace((unsigned char)nm[l - 1]); l--)
                nm[l - 1] = '\0';
        }
        const char *base = strrchr(nm, '/') ? strrchr(nm, '/') + 1 : nm;
        bool names_subject = subject && *base && !strcmp(base, subject);
        if (!chosen || (names_subject && chosen < 2)) {
            memcpy(hex, h, sizeof hex);
            snprintf(name, sizeof name, "%s", nm);
            chosen = names_subject ? 2 : 1;
        }
    }
    free(text);
    if (!hex[0]) {
        if (!d->error[0])
            aw_sidecar_note(d, "no SHA-256 digest found");
        return AW_OK;
    }
    if (lines > 1 && chosen < 2) {
        aw_sidecar_note(d, "%d digests and none names %s", lines, subject ? subject : "the file");
        return AW_OK;
    }
    memcpy(d->sha256, hex, sizeof hex);
    json_t *j = json_pack("{s:s}", "sha256", hex);
    if (j && name[0])
        json_object_set_new(j, "name", json_string(name));
    d->json = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    return d->json ? AW_OK : AW_ENOMEM;
}

static int parse_json(aw_sidecar_doc *d, const char *body, size_t len);

int aw_sidecar_parse(aw_sidecar_kind k, const char *body, size_t len, bool truncated,
                     long long total_size, const char *subject_name, aw_sidecar_doc *d) {
    return aw_sidecar_parse_at(k, body, len, truncated, total_size, subject_name, NULL, d);
}

int aw_sidecar_parse_at(aw_sidecar_kind k, const char *body, size_t len, bool truncated,
                        long long total_size, const char *subject_name, const char *root,
                        aw_sidecar_doc *d) {
    memset(d, 0, sizeof *d);
    d->kind = k;
    d->root = root && *root == '/' && strrchr(root, '/')[1] ? root : NULL;
    if (!body)
        body = "", len = 0;
    if (truncated) {
        aw_sidecar_note(d, "%lld bytes: larger than the sidecar size limit; not read", total_size);
        return AW_OK;
    }
    if (k == AW_SC_SHA256)
        return read_sha256(d, body, len, subject_name);
    char *yaml_json = NULL;
    if (k == AW_SC_MLMODEL) { /* YAML, read from here on as its JSON */
        char why[300];
        int yrc = aw_mlmodel_json(body, len, &yaml_json, why, sizeof why);
        if (yrc == AW_ENOMEM)
            return yrc;
        if (yrc != AW_OK) {
            aw_sidecar_note(d, "MLmodel: %s", why);
            return AW_OK;
        }
        body = yaml_json, len = strlen(yaml_json);
    }
    int rc = parse_json(d, body, len);
    free(yaml_json);
    return rc;
}

/* A JSON sidecar (an MLmodel as its JSON) into d. */
static int parse_json(aw_sidecar_doc *d, const char *body, size_t len) {
    aw_sidecar_kind k = d->kind;
    json_error_t je;
    json_t *root = json_loadb(body, len, 0, &je);
    if (!root && strstr(je.text, "too big integer")) /* valid JSON all the same */
        root = json_loadb(body, len, JSON_DECODE_INT_AS_REAL, &je);
    if (!root) {
        aw_sidecar_note(d, "invalid JSON at line %d column %d: %s", je.line, je.column, je.text);
        return AW_OK;
    }
    int rc = AW_OK;
    if (depth_of(root, AW_SIDECAR_MAX_DEPTH) > AW_SIDECAR_MAX_DEPTH) {
        aw_sidecar_note(d, "nested deeper than %d levels; not read", AW_SIDECAR_MAX_DEPTH);
        json_decref(root);
        return AW_OK;
    }
    /* kept as sent, so numbers keep their exact text in jsonb: jansson and
     * PostgreSQL agree on what valid JSON is (strict RFC 8259, no \u0000) */
    d->json = strndup(body, len);
    if (!d->json) {
        json_decref(root);
        return AW_ENOMEM;
    }
    if (k == AW_SC_METRICS) {
        if (!json_is_object(root))
            aw_sidecar_note(d, "expected a JSON object, got %s", type_name(root));
    } else if (!json_is_object(root)) {
        aw_sidecar_note(d, "expected a JSON object, got %s", type_name(root));
    } else if (k == AW_SC_OPENLINEAGE) {
        rc = read_openlineage(d, root);
    } else if (k == AW_SC_MLMODEL) {
        rc = aw_mlmodel_read(d, root);
    } else {
        rc = read_metadata(d, root);
    }
    json_decref(root);
    if (rc == AW_OK && d->parents_dropped)
        aw_sidecar_note(d, "%zu lineage declarations; only the first %d are kept",
                        d->nparents + d->parents_dropped, AW_SIDECAR_MAX_DECLS);
    return rc;
}

static void parent_free(aw_lineage_parent *p) {
    free(p->uri);
    free(p->bucket);
    free(p->key);
    free(p->child_bucket);
    free(p->child_key);
}

size_t aw_sidecar_keep_outputs_in(aw_sidecar_doc *d, const char *bucket) {
    size_t kept = 0, dropped = 0;
    for (size_t i = 0; i < d->nparents; i++) {
        aw_lineage_parent *p = &d->parents[i];
        if (p->child_bucket && strcmp(p->child_bucket, bucket)) {
            parent_free(p);
            dropped++;
        } else {
            d->parents[kept++] = *p;
        }
    }
    d->nparents = kept;
    return dropped;
}

void aw_sidecar_doc_clear(aw_sidecar_doc *d) {
    if (!d)
        return;
    free(d->json);
    free(d->created_at);
    free(d->code_commit);
    free(d->run_id);
    free(d->job);
    free(d->event_type);
    free(d->artifact_type);
    free(d->name);
    free(d->version);
    for (size_t i = 0; i < d->nparents; i++)
        parent_free(&d->parents[i]);
    free(d->parents);
    memset(d, 0, sizeof *d);
}
