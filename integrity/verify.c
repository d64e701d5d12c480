/*
 * `artifact-watch verify URI... [--fetch] [--expect SHA256]`: the check a
 * pipeline step runs before it loads an artifact. Each URI passes when its
 * newest version is indexed, present, and its recorded SHA-256 agrees with
 * every expectation: the newest <file>.sha256, what every child declared
 * about it (created_from.data_checksum), no open integrity alert, --expect,
 * and with --fetch the bytes read now.
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aw/codec.h"
#include "aw/daemon.h"
#include "aw/hash.h"
#include "aw/store.h"
#include "aw/integrity.h"
#include "aw/mlflow.h"
#include "internal.h"

#define S(x) ((x) ? (x) : "")
#define V(r, i, c) aw_pg_result_get((r), (i), (c))

static const char *const version_sql =
    "SELECT v.id, v.version_id, v.state, v.deleted, encode(v.sha256, 'hex'), v.etag,"
    " (SELECT encode(s.declared_sha256, 'hex') FROM aw.sidecars s"
    "   WHERE s.store = v.store AND s.bucket = v.bucket AND s.subject = v.key"
    "     AND s.kind = 'sha256' AND s.declared_sha256 IS NOT NULL"
    "   ORDER BY s.declared_at DESC, s.id DESC LIMIT 1),"
    " (SELECT string_agg(DISTINCT format('s3://%s/%s declares %s', c.bucket, c.key,"
    "          encode(d.declared_sha256, 'hex')), '; ')"
    "    FROM aw.edges e JOIN aw.lineage_decls d ON d.id = e.decl_id"
    "    JOIN aw.object_versions c ON c.id = e.child_version_id"
    "   WHERE e.parent_version_id = v.id AND e.state = 'mismatch'"
    "     AND NOT EXISTS (SELECT FROM aw.edges e2 JOIN aw.lineage_decls d2 ON d2.id = e2.decl_id"
    "                      WHERE e2.child_version_id = e.child_version_id"
    "                        AND d2.parent_bucket = d.parent_bucket"
    "                        AND d2.parent_key = d.parent_key"
    "                        AND (e2.declared_at, e2.id) > (e.declared_at, e.id))),"
    " (SELECT string_agg(a.kind, ', ' ORDER BY a.kind) FROM aw.alerts a"
    "   WHERE a.object_version_id = v.id AND a.state = 'open')"
    " FROM aw.object_versions v WHERE v.id = aw.current_version($1, $2, $3)";
enum { C_ID, C_VERSION, C_STATE, C_DELETED, C_SHA, C_ETAG, C_DECLARED, C_CHILDREN, C_ALERTS };

typedef struct verdict {
    char uri[2200];
    const char *version_id, *sha256;
    char fetched[65];
    bool ok;
    char findings[2048];
} verdict;

static void finding(verdict *v, const char *fmt, ...) AW_PRINTF(2, 3);
static void finding(verdict *v, const char *fmt, ...) {
    size_t l = strlen(v->findings);
    snprintf(v->findings + l, sizeof v->findings - l, "%s", l ? "; " : "");
    l = strlen(v->findings);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->findings + l, sizeof v->findings - l, fmt, ap);
    va_end(ap);
    v->ok = false;
}

/* Reads the bytes now and hashes them. */
static void fetch_now(const aw_config *cfg, aw_s3 *s3, const char *bucket, const char *key,
                      const aw_pg_result *r, verdict *v) {
    aw_sink sk = {0};
    if (aw_hash_new(false, &sk.hash) != AW_OK) {
        finding(v, "%s", "cannot hash: out of memory");
        return;
    }
    aw_fetch f = {.bucket = bucket, .key = key, .version_id = V(r, 0, C_VERSION),
                  .if_match = V(r, 0, C_VERSION) ? NULL : V(r, 0, C_ETAG),
                  .on_start = aw_sink_start, .on_body = aw_sink_body, .ud = &sk};
    aw_fetch_policy pol = {.concurrency = 1, .retries = (int)cfg->fetch_retries,
                           .backoff_base_ms = 200, .backoff_max_ms = 5000};
    uint8_t sha[32];
    if (aw_s3_fetch_many(s3, &f, 1, &pol, NULL) != AW_OK) {
        finding(v, "%s", "cannot fetch: out of memory");
    } else if (f.outcome == AW_FETCH_OK && aw_hash_final(sk.hash, sha, NULL) == AW_OK) {
        aw_hex(sha, 32, v->fetched);
        if (strcmp(v->fetched, S(v->sha256)))
            finding(v, "the bytes read now hash to %s", v->fetched);
    } else if (f.outcome == AW_FETCH_NOT_FOUND) {
        finding(v, "%s", "the store answers 404");
    } else if (f.outcome == AW_FETCH_PRECONDITION) {
        finding(v, "%s", "the key holds other bytes than the indexed version (412)");
    } else {
        finding(v, "cannot read it: %s", f.error[0] ? f.error : "failed");
    }
    aw_hash_destroy(sk.hash);
}

/* --expect, folded to lower case; empty when not given. */
static int parse_expect(const char *given, char expect[65]) {
    size_t l = strlen(given);
    if (l == 0)
        return AW_OK;
    if (l != 64)
        return AW_EINVAL;
    for (size_t i = 0; i < l; i++)
        expect[i] = (char)(given[i] >= 'A' && given[i] <= 'F' ? given[i] + 32 : given[i]);
    expect[64] = '\0';
    return strspn(expect, "0123456789abcdef") == 64 ? AW_OK : AW_EINVAL;
}

/* The indexed row's word on one object, and the store's when --fetch. */
static void judge(const aw_config *cfg, aw_s3 *s3, const char *bucket, const char *key,
                  const aw_pg_result *r, const char *expect, verdict *v) {
    if (aw_pg_result_rows(r) == 0) {
        finding(v, "not indexed");
    } else if (strcmp(S(V(r, 0, C_STATE)), "present") ||
               !strcmp(S(V(r, 0, C_DELETED)), "t")) {
        bool gone = !strcmp(S(V(r, 0, C_DELETED)), "t") ||
                    !strcmp(S(V(r, 0, C_STATE)), "tombstone");
        finding(v, "its newest version is %s", gone ? "deleted" : S(V(r, 0, C_STATE)));
    } else {
        v->version_id = V(r, 0, C_VERSION);
        v->sha256 = V(r, 0, C_SHA);
        if (!v->sha256)
            finding(v, "no SHA-256 recorded");
        if (V(r, 0, C_DECLARED) && strcmp(V(r, 0, C_DECLARED), S(v->sha256)))
            finding(v, "its .sha256 declares %s", V(r, 0, C_DECLARED));
        if (V(r, 0, C_CHILDREN))
            finding(v, "%s", V(r, 0, C_CHILDREN));
        if (V(r, 0, C_ALERTS))
            finding(v, "open alert: %s", V(r, 0, C_ALERTS));
        if (expect[0] && strcmp(expect, S(v->sha256)))
            finding(v, "--expect %s, recorded %s", expect, S(v->sha256));
        if (cfg->verify_fetch)
            fetch_now(cfg, s3, bucket, key, r, v);
    }
}

/* One object's line, or its element of the JSON array. */
static void report(json_t *arr, const verdict *v) {
    if (arr) {
        json_array_append_new(arr, json_pack("{s:s, s:b, s:s?, s:s?, s:s?, s:s?}", "uri",
                                             v->uri, "ok", v->ok, "version_id", v->version_id,
                                             "sha256", v->sha256, "fetched_sha256",
                                             v->fetched[0] ? v->fetched : NULL, "finding",
                                             v->findings[0] ? v->findings : NULL));
    } else {
        char safe[2400];
        aw_escape_text(v->uri, strlen(v->uri), safe, sizeof safe);
        printf("%-4s %s%s%s%s%s\n", v->ok ? "ok" : "FAIL", safe, v->sha256 ? " sha256:" : "",
               S(v->sha256), v->findings[0] ? ": " : "", v->findings);
    }
}

/* What one run of verify holds. */
typedef struct vctx {
    const aw_config *cfg;
    aw_pg *pg;
    aw_s3 *s3;
    const char *expect;
    json_t *arr;
    int status;
    char err[1024];
} vctx;

static void verdict_done(vctx *c, verdict *v) {
    if (!v->ok && !c->status)
        c->status = 1;
    report(c->arr, v);
}

/* One object: its newest version against every expectation. AW_EPG when
 * the database failed (the run ends). */
static int check_object(vctx *c, const char *label, const char *bucket, const char *key) {
    verdict v = {.ok = true};
    snprintf(v.uri, sizeof v.uri, "%s", label);
    aw_pg_result *r = NULL;
    const char *params[3] = {c->cfg->s3_store, bucket, key};
    if (aw_pg_query(c->pg, version_sql, 3, params, &r, c->err, sizeof c->err) != AW_OK)
        return AW_EPG;
    judge(c->cfg, c->s3, bucket, key, r, c->expect, &v);
    verdict_done(c, &v);
    aw_pg_result_free(r);
    return AW_OK;
}

#define MAX_MODEL_FILES 10000

/* An MLflow model or run: every file the tracking server says it has, as
 * indexed (a folder's keys, or one key). */
static int check_mlflow(vctx *c, const char *uri) {
    char *bucket = NULL, *prefix = NULL, why[1024];
    int rc = aw_mlflow_resolve(c->cfg, uri, &bucket, &prefix, why, sizeof why);
    if (rc != AW_OK) {
        verdict v = {.ok = true};
        snprintf(v.uri, sizeof v.uri, "%s", uri);
        finding(&v, "%s", why);
        verdict_done(c, &v);
        if (rc == AW_EINVAL || rc == AW_ECONFIG)
            c->status = 2;
        return AW_OK;
    }
    char most[16];
    snprintf(most, sizeof most, "%d", MAX_MODEL_FILES);
    const char *p[4] = {c->cfg->s3_store, bucket, prefix, most};
    aw_pg_result *keys = NULL;
    rc = aw_pg_query(c->pg, "SELECT DISTINCT v.key FROM aw.object_versions v"
                            " WHERE v.store = $1 AND v.bucket = $2 AND v.state = 'present'"
                            "   AND NOT v.deleted AND (v.key = $3 OR (starts_with(v.key, $3)"
                            "   AND (right($3, 1) = '/' OR $3 = '')) OR starts_with(v.key, $3 || '/'))"
                            " ORDER BY v.key LIMIT $4 + 1",
                     4, p, &keys, c->err, sizeof c->err);
    if (rc == AW_OK && aw_pg_result_rows(keys) > MAX_MODEL_FILES) {
        /* a model of more files than this is not checked in part and called good */
        verdict v = {.ok = true};
        snprintf(v.uri, sizeof v.uri, "%s", uri);
        finding(&v, "MLflow keeps it at s3://%s/%s, which holds more than %d files: not "
                    "verified (name its files one by one)", bucket, prefix, MAX_MODEL_FILES);
        verdict_done(c, &v);
    } else if (rc == AW_OK && aw_pg_result_rows(keys) == 0) {
        verdict v = {.ok = true};
        snprintf(v.uri, sizeof v.uri, "%s", uri);
        finding(&v, "MLflow keeps it at s3://%s/%s, where nothing is indexed", bucket, prefix);
        verdict_done(c, &v);
    }
    int nkeys = rc == AW_OK && aw_pg_result_rows(keys) <= MAX_MODEL_FILES
                    ? aw_pg_result_rows(keys) : 0;
    for (int i = 0; rc == AW_OK && i < nkeys; i++) {
        char label[2300];
        snprintf(label, sizeof label, "s3://%s/%s", bucket, aw_pg_result_get(keys, i, 0));
        rc = check_object(c, label, bucket, aw_pg_result_get(keys, i, 0));
    }
    aw_pg_result_free(keys);
    free(bucket);
    free(prefix);
    return rc == AW_OK ? AW_OK : AW_EPG;
}

int aw_cmd_verify(aw_config *cfg) {
    char expect[65] = "";
    if (parse_expect(cfg->verify_expect, expect) != AW_OK) {
        fprintf(stderr, "artifact-watch verify: --expect must be a SHA-256 in hex (64 digits)\n");
        return 2;
    }
    char err[1024];
    aw_pg *pg = NULL;
    aw_stores *stores = NULL;
    if (aw_pg_connect(cfg->pg_conninfo, &pg, err, sizeof err) != AW_OK ||
        (cfg->verify_fetch && aw_stores_open(cfg, &stores, err, sizeof err) != AW_OK)) {
        fprintf(stderr, "artifact-watch verify: %s\n", err);
        aw_pg_destroy(pg);
        return 1;
    }
    /* the rows verify reads are the store's named by --store: its client */
    aw_s3 *s3 = aw_stores_client(stores, cfg->s3_store);
    bool json = cfg->verify_format == AW_FMT_JSON;
    vctx c = {.cfg = cfg, .pg = pg, .s3 = s3, .expect = expect,
              .arr = json ? json_array() : NULL};
    json_t *arr = c.arr;
    int rc = AW_OK;
    for (size_t i = 0; rc == AW_OK && i < cfg->nargs; i++) {
        char *bucket = NULL, *key = NULL;
        int frc = AW_EINVAL;
        if (aw_mlflow_uri(cfg->args[i])) {
            rc = check_mlflow(&c, cfg->args[i]);
        } else if (!strncmp(cfg->args[i], "file://", 7) &&
                   (frc = aw_store_file_uri(cfg, cfg->args[i], &bucket, &key, c.err,
                                            sizeof c.err)) == AW_ENOMEM) {
            rc = frc;
        } else if (frc != AW_OK && !strncmp(cfg->args[i], "file://", 7)) {
            verdict v = {.ok = true};
            snprintf(v.uri, sizeof v.uri, "%s", cfg->args[i]);
            finding(&v, "%s", c.err);
            verdict_done(&c, &v);
            c.status = 2;
        } else if (frc == AW_OK) {
            rc = check_object(&c, cfg->args[i], bucket, key);
        } else if (aw_object_uri_parse(cfg->args[i], &bucket, &key) != AW_OK) {
            verdict v = {.ok = true};
            snprintf(v.uri, sizeof v.uri, "%s", cfg->args[i]);
            finding(&v, "not an object URI such as s3://bucket/key, models:/NAME@ALIAS or "
                        "runs:/RUN_ID/PATH");
            verdict_done(&c, &v);
            c.status = 2;
        } else {
            rc = check_object(&c, cfg->args[i], bucket, key);
        }
        free(bucket);
        free(key);
    }
    int status = c.status;
    if (rc != AW_OK) {
        fprintf(stderr, "artifact-watch verify: %s\n", c.err);
        json_decref(arr);
        aw_stores_destroy(stores);
        aw_pg_destroy(pg);
        return 1;
    }
    if (json) {
        char *s = json_dumps(arr, JSON_INDENT(2));
        if (s)
            printf("%s\n", s);
        free(s);
        json_decref(arr);
    }
    aw_stores_destroy(stores);
    aw_pg_destroy(pg);
    return status;
}
