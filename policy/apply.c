/*
 * Applying a saved plan. Nothing is deleted that changed since the plan: the
 * index must still hold the planned version as it was (no newer write of an
 * unversioned key, no newer current version under a delete marker), nothing
 * may have started to depend on it (a live child in the lineage graph), and
 * where no version id pins the request a HEAD must show the planned bytes
 * (ETag, else size; the version id for a delete marker). Deletions go out
 * concurrently through the same S3 client as ingest, in chunks; each chunk's
 * actions are appended to aw.retention_actions before the next one starts,
 * so a killed run leaves an exact record of what it did; the versions a
 * DELETE removed are marked deleted in the index in the same statement,
 * without waiting for the store's delete events.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aw/http.h"
#include "aw/indexer.h"
#include "aw/log.h"
#include "aw/metrics.h"
#include "internal.h"

#define V(r, i, c) aw_pg_result_get((r), (i), (c))
#define S(x) ((x) ? (x) : "")
#define CHUNK 1000

/* The planned deletions of a plan, each with what the index says now. */
static const char *const todo_sql =
    "SELECT a.ordinal, a.action, a.rule, a.store, a.bucket, a.key, a.version_id, a.sha256,"
    "  a.size, a.etag, a.object_version_id,"
    "  CASE WHEN v.id IS NOT NULL AND (a.action = 'delete_marker' OR a.version_id IS NULL)"
    "        AND EXISTS (SELECT FROM aw.object_versions w WHERE w.store = v.store"
    "                     AND w.bucket = v.bucket AND w.key = v.key AND w.id <> v.id"
    "                     AND (w.seq_key > v.seq_key OR aw.version_time(w) > aw.version_time(v)))"
    "       THEN 'a newer version of the key was indexed after the plan'"
    "       WHEN EXISTS (SELECT FROM aw.edges e JOIN aw.object_versions c"
    "                      ON c.id = e.child_version_id"
    "                     WHERE e.parent_version_id = a.object_version_id"
    "                       AND c.state = 'present' AND NOT c.deleted"
    "                       AND NOT EXISTS (SELECT FROM aw.retention_plan_actions b"
    "                                        WHERE b.plan_id = a.plan_id"
    "                                          AND b.object_version_id = c.id"
    "                                          AND b.action <> 'protect'))"
    "       THEN (SELECT format('lineage: input of s3://%s/%s since the plan', c.bucket, c.key)"
    "               FROM aw.edges e JOIN aw.object_versions c ON c.id = e.child_version_id"
    "              WHERE e.parent_version_id = a.object_version_id AND c.state = 'present'"
    "                AND NOT c.deleted LIMIT 1)"
    "  END AS skip"
    " FROM aw.retention_plan_actions a"
    " LEFT JOIN aw.object_versions v ON v.id = a.object_version_id"
    " WHERE a.plan_id = $1::bigint AND a.action <> 'protect' ORDER BY a.ordinal";
enum { T_ORD, T_ACTION, T_RULE, T_STORE, T_BUCKET, T_KEY, T_VERSION, T_SHA, T_SIZE, T_ETAG,
       T_OVID, T_SKIP };

/* Appends a chunk's actions to the audit. */
static const char *const audit_sql =
    "INSERT INTO aw.retention_actions (run_id, plan_id, rule, action, store, bucket,"
    "  key, version_id, sha256, size, result, http_status, message)"
    " SELECT $1::bigint, $2::bigint, x.rule, x.action, x.store, x.bucket, x.key,"
    "  x.version_id, x.sha256, x.size, x.result, x.http_status, x.message"
    " FROM json_to_recordset($3::json) AS x(rule text, action text, store text, bucket text,"
    "  key text, version_id text, sha256 text, size bigint, result text,"
    "  http_status integer, message text)";

/* One planned deletion being carried out. */
typedef struct item {
    int row;                /* in the todo result */
    const char *result;     /* "deleted", "skipped_changed", ...; NULL: not decided */
    long status;
    char message[400];
} item;

typedef struct totals {
    int deleted, changed, protected_, failed;
} totals;

/* Records what became of it: the result, the HTTP status (0: none), and
 * the message, prefix followed by detail. */
static void decide(item *it, const char *result, long status, const char *prefix,
                   const char *detail) {
    it->result = result;
    it->status = status;
    snprintf(it->message, sizeof it->message, "%s%s", prefix, detail ? detail : "");
}

/* The HEAD before an unpinned delete: is it still the planned object? */
static void judge_head(item *it, const aw_pg_result *t, const aw_fetch *r) {
    if (r->outcome == AW_FETCH_NOT_FOUND) {
        decide(it, "deleted", 404, "already gone", NULL);
        return;
    }
    if (r->outcome != AW_FETCH_OK) {
        decide(it, "failed", r->info.status, "HEAD: ", r->error);
        return;
    }
    const char *action = V(t, it->row, T_ACTION), *etag = V(t, it->row, T_ETAG);
    const char *version = V(t, it->row, T_VERSION), *size = V(t, it->row, T_SIZE);
    char now_size[24];
    snprintf(now_size, sizeof now_size, "%lld", (long long)r->info.content_length);
    if (!strcmp(action, "delete_marker") && version && r->info.version_id[0] &&
        strcmp(version, r->info.version_id))
        decide(it, "skipped_changed", r->info.status, "the current version is now ",
               r->info.version_id);
    else if (etag && r->info.etag[0] && strcmp(etag, r->info.etag))
        decide(it, "skipped_changed", r->info.status, "the ETag is now ", r->info.etag);
    else if (size && r->info.content_length >= 0 && strcmp(size, now_size))
        decide(it, "skipped_changed", r->info.status, "the size is now ", now_size);
}

static void judge_delete(item *it, const aw_fetch *r) {
    if (r->outcome == AW_FETCH_OK)
        decide(it, "deleted", r->info.status, "", NULL);
    else if (r->outcome == AW_FETCH_NOT_FOUND)
        decide(it, "deleted", 404, "already gone", NULL);
    else
        decide(it, "failed", r->info.status, "DELETE: ", r->error);
}

/* Runs requests for the undecided items of chunk that need them. */
static int run_requests(aw_s3 *s3, const aw_config *cfg, const aw_pg_result *t, item *chunk,
                        size_t n, bool head) {
    aw_fetch *reqs = calloc(n ? n : 1, sizeof *reqs);
    size_t *which = calloc(n ? n : 1, sizeof *which), k = 0;
    if (!reqs || !which) {
        free(reqs);
        free(which);
        return AW_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        item *it = &chunk[i];
        const char *action = V(t, it->row, T_ACTION), *version = V(t, it->row, T_VERSION);
        bool pinned = !strcmp(action, "delete") && version;
        if (it->result || (head && pinned))
            continue;
        reqs[k] = (aw_fetch){.method = head ? "HEAD" : "DELETE",
                             .bucket = V(t, it->row, T_BUCKET), .key = V(t, it->row, T_KEY),
                             .version_id = pinned ? version : NULL};
        which[k++] = i;
    }
    aw_fetch_policy pol = {.concurrency = (int)cfg->fetch_concurrency,
                           .retries = (int)cfg->fetch_retries, .backoff_base_ms = 200,
                           .backoff_max_ms = 10000, .stop_grace_ms = 3600000};
    int rc = k ? aw_s3_fetch_many(s3, reqs, k, &pol, &aw_stop) : AW_OK;
    for (size_t j = 0; rc == AW_OK && j < k; j++) {
        if (head)
            judge_head(&chunk[which[j]], t, &reqs[j]);
        else
            judge_delete(&chunk[which[j]], &reqs[j]);
    }
    free(reqs);
    free(which);
    return rc;
}

/* Appends the chunk's actions to aw.retention_actions (audit_sql) and, in the
 * same transaction, records in the index the versions a DELETE removed (2xx):
 * scrub must not take them for lost in the moment before ingest reads the
 * store's delete events, nor for ever if the store never sends one. "already
 * gone" (404) is not recorded: nothing here deleted it. */
static int audit(aw_pg *pg, const char *run, const char *plan_id, const aw_pg_result *t,
                 const item *chunk, size_t n, totals *tot, char *errstr, size_t errn) {
    json_t *arr = json_array(), *gone = json_array();
    for (size_t i = 0; i < n; i++) {
        const item *it = &chunk[i];
        int r = it->row;
        json_t *o = json_pack("{s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:s, s:s?}",
                              "rule", V(t, r, T_RULE), "action", V(t, r, T_ACTION), "store",
                              V(t, r, T_STORE), "bucket", V(t, r, T_BUCKET), "key",
                              V(t, r, T_KEY), "version_id", V(t, r, T_VERSION), "sha256",
                              V(t, r, T_SHA), "size", V(t, r, T_SIZE), "result", it->result,
                              "message", it->message[0] ? it->message : NULL);
        if (o && it->status > 0)
            json_object_set_new(o, "http_status", json_integer(it->status));
        if (V(t, r, T_OVID) && !strcmp(it->result, "deleted") &&
            !strcmp(V(t, r, T_ACTION), "delete") && it->status >= 200 && it->status <= 299 &&
            json_array_append_new(gone, json_integer(strtoll(V(t, r, T_OVID), NULL, 10)))) {
            json_decref(o);
            o = NULL;
        }
        if (!o || json_array_append_new(arr, o)) {
            json_decref(arr);
            json_decref(gone);
            return AW_ENOMEM;
        }
        char l[64];
        snprintf(l, sizeof l, "result=\"%s\"", it->result);
        aw_metric_add(aw_metric_counter("aw_retention_actions_total",
                                        "Planned deletions carried out, by result.", l), 1);
        tot->deleted += !strcmp(it->result, "deleted");
        tot->changed += !strcmp(it->result, "skipped_changed");
        tot->protected_ += !strcmp(it->result, "skipped_protected");
        tot->failed += !strcmp(it->result, "failed");
    }
    char *json = json_dumps(arr, JSON_COMPACT), *ids = json_dumps(gone, JSON_COMPACT);
    json_decref(arr);
    json_decref(gone);
    int rc = json && ids ? aw_pg_exec_script(pg, "BEGIN", errstr, errn) : AW_ENOMEM;
    const char *params[3] = {run, plan_id, json};
    if (rc == AW_OK)
        rc = aw_pg_query(pg, audit_sql, 3, params, NULL, errstr, errn);
    if (rc == AW_OK)
        rc = aw_indexer_record_deletions(pg, ids, errstr, errn);
    if (rc == AW_OK)
        rc = aw_pg_exec_script(pg, "COMMIT", errstr, errn);
    else if (json && ids) {
        char ignore[128];
        if (aw_pg_exec_script(pg, "ROLLBACK", ignore, sizeof ignore) != AW_OK)
            AW_WARN(LOG, "ROLLBACK: %s", ignore);
    }
    free(json);
    free(ids);
    return rc;
}

static int finish_run(aw_pg *pg, const char *run, const char *refused, const totals *t,
                      char *errstr, size_t errn) {
    char js[256];
    snprintf(js, sizeof js, "{\"deleted\": %d, \"skipped_changed\": %d, "
             "\"skipped_protected\": %d, \"failed\": %d}", t->deleted, t->changed,
             t->protected_, t->failed);
    const char *params[3] = {run, refused, js};
    return aw_pg_query(pg, "UPDATE aw.retention_runs SET finished_at = now(), refused = $2,"
                           " totals = $3::jsonb WHERE id = $1::bigint", 3, params, NULL,
                       errstr, errn);
}

int apply_plan(aw_pg *pg, const aw_config *cfg, const plan *p, bool force, int *failed,
               char *errstr, size_t n) {
    *failed = 0;
    char plan_id[24], run[24];
    snprintf(plan_id, sizeof plan_id, "%lld", (long long)p->id);
    const char *params[2] = {plan_id, p->rules_sha256};
    aw_pg_result *r = NULL;
    int rc = aw_pg_query(pg, "INSERT INTO aw.retention_runs (plan_id, mode, rules_sha256)"
                             " VALUES ($1::bigint, 'apply', $2) RETURNING id", 2, params, &r,
                         errstr, n);
    if (rc != AW_OK)
        return rc;
    snprintf(run, sizeof run, "%s", S(V(r, 0, 0)));
    aw_pg_result_free(r);
    totals tot = {0};
    if (p->refused[0] && !force) {
        AW_WARN(LOG, "run %s refused, nothing deleted: %s", run, p->refused);
        return finish_run(pg, run, p->refused, &tot, errstr, n);
    }

    aw_pg_result *t = NULL;
    if ((rc = aw_pg_query(pg, todo_sql, 1, params, &t, errstr, n)) != AW_OK)
        return rc;
    aw_s3 *s3 = NULL;
    if ((rc = aw_s3_new_from_config(cfg, &s3, errstr, n)) != AW_OK) {
        aw_pg_result_free(t);
        return rc;
    }
    int rows = aw_pg_result_rows(t);
    item *chunk = calloc(CHUNK, sizeof *chunk);
    if (!chunk)
        rc = AW_ENOMEM;
    for (int start = 0; rc == AW_OK && start < rows && !aw_stop; start += CHUNK) {
        size_t cn = (size_t)(rows - start < CHUNK ? rows - start : CHUNK);
        for (size_t i = 0; i < cn; i++) {
            chunk[i] = (item){.row = start + (int)i};
            const char *skip = V(t, start + (int)i, T_SKIP);
            if (skip)
                decide(&chunk[i], strncmp(skip, "lineage", 7) ? "skipped_changed"
                                                              : "skipped_protected", 0,
                       skip, NULL);
        }
        rc = run_requests(s3, cfg, t, chunk, cn, true);
        if (rc == AW_OK)
            rc = run_requests(s3, cfg, t, chunk, cn, false);
        if (rc == AW_OK)
            rc = audit(pg, run, plan_id, t, chunk, cn, &tot, errstr, n);
        AW_INFO(LOG, "run %s: %d deleted, %d skipped as changed, %d skipped as protected, "
                     "%d failed so far", run, tot.deleted, tot.changed, tot.protected_,
                tot.failed);
    }
    if (rc == AW_EINTERRUPTED)
        snprintf(errstr, n, "stopped before every deletion was made");
    int frc = finish_run(pg, run, NULL, &tot, errstr, n);
    if (rc == AW_OK)
        rc = frc;
    *failed = tot.failed;
    free(chunk);
    aw_s3_destroy(s3);
    aw_pg_result_free(t);
    return rc;
}
