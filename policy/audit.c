/*
 * The write-ahead audit of retention (aw.retention_actions). A deletion is
 * recorded 'pending' and committed before its request leaves; its result
 * replaces 'pending' after. A run killed in between leaves pending rows, and
 * the next run resolves them before it does anything else, by asking the
 * store (a HEAD): gone is 'deleted', still there is 'not_deleted'. So every
 * object retention removed has a row, whatever happened to the process. The
 * table's trigger (0013) lets a row change only once, from pending.
 */
#define _GNU_SOURCE /* strptime, timegm */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aw/codec.h"
#include "aw/indexer.h"
#include "aw/log.h"
#include "aw/metrics.h"
#include "internal.h"

#define S(x) ((x) ? (x) : "")

static json_t *act_json(const act *a) {
    const plan_row *r = a->row;
    json_t *o = json_pack("{s:s?, s:s, s:s, s:s, s:s, s:s?, s:s?, s:I, s:s?, s:s?, s:s?, s:s?}",
                          "rule", r->rule, "action", r->action, "store", r->store, "bucket",
                          r->bucket, "key", r->key, "version_id", r->version_id, "sha256",
                          r->sha256, "object_version_id", (json_int_t)r->ovid, "result",
                          a->result, "message", a->message[0] ? a->message : NULL, "etag",
                          r->etag, "last_modified", r->last_modified);
    if (o && r->size >= 0)
        json_object_set_new(o, "size", json_integer(r->size));
    if (o && a->status > 0)
        json_object_set_new(o, "http_status", json_integer(a->status));
    if (o && a->id)
        json_object_set_new(o, "id", json_integer(a->id));
    return o;
}

int audit_pending(aw_pg *pg, const char *run, const char *plan_id, act **acts, size_t n,
                  char *errstr, size_t errn) {
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++)
        if (json_array_append_new(arr, act_json(acts[i])))
            json_decref(arr), arr = NULL;
    char *js = arr ? json_dumps(arr, JSON_COMPACT) : NULL;
    json_decref(arr);
    if (!js)
        return AW_ENOMEM;
    const char *params[3] = {run, plan_id, js};
    aw_pg_result *res = NULL;
    /* one statement, committed on its own: the rows exist before any request */
    int rc = aw_pg_query(pg,
        "INSERT INTO aw.retention_actions (run_id, plan_id, rule, action, store, bucket, key,"
        "  version_id, sha256, size, object_version_id, etag, last_modified, result, pending_at)"
        " SELECT $1::bigint, $2::bigint, x.rule, x.action, x.store, x.bucket, x.key,"
        "  x.version_id, x.sha256, x.size, x.object_version_id, x.etag, x.last_modified,"
        "  'pending', now()"
        " FROM json_to_recordset($3::json) AS x(rule text, action text, store text,"
        "  bucket text, key text, version_id text, sha256 text, size bigint,"
        "  object_version_id bigint, etag text, last_modified timestamptz)"
        " RETURNING id, object_version_id",
        3, params, &res, errstr, errn);
    free(js);
    if (rc == AW_OK && aw_pg_result_rows(res) != (int)n)
        rc = AW_EPG, snprintf(errstr, errn, "the audit took %d of %zu pending rows",
                              aw_pg_result_rows(res), n);
    /* a plan names each version once: its row is found by the version */
    for (int k = 0; rc == AW_OK && k < aw_pg_result_rows(res); k++) {
        long long ovid = strtoll(S(aw_pg_result_get(res, k, 1)), NULL, 10);
        for (size_t i = 0; i < n; i++)
            if (acts[i]->row->ovid == ovid && !acts[i]->id)
                acts[i]->id = strtoll(S(aw_pg_result_get(res, k, 0)), NULL, 10);
    }
    aw_pg_result_free(res);
    return rc;
}

/* Whether a's result removed the version it names from the index's live
 * versions: a DELETE of it (or a resolution that found it gone). */
static bool removed(const act *a) {
    return !strcmp(a->result, "deleted") && !strcmp(a->row->action, "delete") &&
           ((a->status >= 200 && a->status <= 299) || a->resolved_gone);
}

/* Whether a found the version gone before it did anything (a 404): the
 * index learns that too, as a deletion nobody recorded. */
static bool found_gone(const act *a) {
    return !strcmp(a->result, "deleted") && !strcmp(a->row->action, "delete") &&
           a->status == 404 && !a->resolved_gone;
}

/* The outcomes of a deletion, as counted by aw_retention_actions_total. */
static const char *const results[] = {"deleted",           "not_deleted",         "failed",
                                      "skipped_changed",   "skipped_protected",
                                      "skipped_other_store", NULL};
static aw_metric *by_result[sizeof results / sizeof results[0] - 1];

void audit_declare_metrics(void) {
    aw_metric_family(false, "aw_retention_actions_total",
                     "Planned deletions carried out, by result.", "result", results, by_result);
}

int audit_record(aw_pg *pg, const char *run, const char *plan_id, act **acts, size_t n,
                 char *errstr, size_t errn) {
    json_t *upd = json_array(), *ins = json_array(), *gone = json_array(), *lost = json_array();
    int rc = upd && ins && gone && lost ? AW_OK : AW_ENOMEM;
    for (size_t i = 0; rc == AW_OK && i < n; i++) {
        const act *a = acts[i];
        if (!a->result)
            continue; /* abandoned in flight: stays pending for the next run */
        if (json_array_append_new(a->id ? upd : ins, act_json(a)) ||
            (removed(a) && json_array_append_new(gone, json_integer(a->row->ovid))) ||
            (found_gone(a) && json_array_append_new(lost, json_integer(a->row->ovid))))
            rc = AW_ENOMEM;
        for (size_t k = 0; results[k]; k++)
            if (!strcmp(a->result, results[k]))
                aw_metric_add(by_result[k], 1);
    }
    char *u = rc == AW_OK ? json_dumps(upd, JSON_COMPACT) : NULL;
    char *w = rc == AW_OK ? json_dumps(ins, JSON_COMPACT) : NULL;
    char *g = rc == AW_OK ? json_dumps(gone, JSON_COMPACT) : NULL;
    char *x = rc == AW_OK ? json_dumps(lost, JSON_COMPACT) : NULL;
    json_decref(upd), json_decref(ins), json_decref(gone), json_decref(lost);
    if (rc == AW_OK && (!u || !w || !g || !x))
        rc = AW_ENOMEM;
    if (rc == AW_OK)
        rc = aw_pg_exec_script(pg, "BEGIN", errstr, errn);
    if (rc == AW_OK) {
        const char *p[1] = {u};
        rc = aw_pg_query(pg,
            "UPDATE aw.retention_actions a SET result = x.result, http_status = x.http_status,"
            "  message = x.message, acted_at = now()"
            " FROM json_to_recordset($1::json) AS x(id bigint, result text, http_status integer,"
            "  message text) WHERE a.id = x.id AND a.result = 'pending'",
            1, p, NULL, errstr, errn);
        const char *q[3] = {run, plan_id, w};
        if (rc == AW_OK)
            rc = aw_pg_query(pg,
                "INSERT INTO aw.retention_actions (run_id, plan_id, rule, action, store, bucket,"
                "  key, version_id, sha256, size, object_version_id, etag, last_modified, result,"
                "  http_status, message)"
                " SELECT $1::bigint, $2::bigint, x.rule, x.action, x.store, x.bucket, x.key,"
                "  x.version_id, x.sha256, x.size, x.object_version_id, x.etag, x.last_modified,"
                "  x.result, x.http_status, x.message FROM json_to_recordset($3::json) AS"
                "  x(rule text, action text, store text, bucket text, key text, version_id text,"
                "  sha256 text, size bigint, object_version_id bigint, etag text,"
                "  last_modified timestamptz, result text, http_status integer, message text)",
                3, q, NULL, errstr, errn);
        if (rc == AW_OK)
            rc = aw_indexer_record_deletions(pg, g, true, errstr, errn);
        if (rc == AW_OK)
            rc = aw_indexer_record_deletions(pg, x, false, errstr, errn);
        rc = rc == AW_OK ? aw_pg_exec_script(pg, "COMMIT", errstr, errn) : aw_pg_rollback(pg, rc);
    }
    free(u), free(w), free(g), free(x);
    return rc;
}

/* ---- the pending rows of killed runs */

/* Pending rows old enough that no request of theirs can still be on its way
 * ($1 seconds: a DELETE's timeouts and retries, and the stop grace). */
static const char *const pending_sql =
    "SELECT a.id, a.action, a.store, a.bucket, a.key, a.version_id, a.object_version_id,"
    " a.run_id, a.plan_id, a.rule, a.sha256, a.size, a.etag,"
    " to_char(a.last_modified AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
    " FROM aw.retention_actions a WHERE a.result = 'pending'"
    "  AND a.pending_at < now() - make_interval(secs => $1::float8)"
    " ORDER BY a.store, a.id";
enum { P_ID, P_ACTION, P_STORE, P_BUCKET, P_KEY, P_VERSION, P_OVID, P_RUN, P_PLAN, P_RULE,
       P_SHA, P_SIZE, P_ETAG, P_LM };

/* An ISO 8601 UTC time (2026-12-07T06:52:11Z) in seconds; -1 if none. */
static long long iso_time(const char *s) {
    struct tm tm = {0};
    return s && strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) ? (long long)timegm(&tm) : -1;
}

/* What a HEAD says of a pending deletion: was it carried out? */
static void judge_resolution(act *a, const aw_fetch *f) {
    const plan_row *r = a->row;
    bool pinned = !strcmp(r->action, "delete") && r->version_id;
    bool marker = !strcmp(r->action, "delete_marker");
    const aw_s3_object_info *h = &f->info;
    if (f->outcome == AW_FETCH_NOT_FOUND) {
        a->result = "deleted";
        a->resolved_gone = true;
        snprintf(a->message, sizeof a->message, "resolved after its run ended: the store no "
                 "longer has %s", pinned ? "the version" : marker ? "a current version" : "it");
    } else if (f->outcome == AW_FETCH_OK && !pinned && !marker &&
               ((r->etag && h->etag[0] && strcmp(r->etag, h->etag)) ||
                (!h->etag[0] && aw_http_time(h->last_modified) > iso_time(r->last_modified)))) {
        /* the key holds other bytes: the planned ones are gone, deleted or written over */
        a->result = "deleted";
        a->resolved_gone = true;
        snprintf(a->message, sizeof a->message, "resolved after its run ended: the key holds "
                 "other bytes now (%s): the planned ones are gone",
                 h->etag[0] ? h->etag : h->last_modified);
    } else if (f->outcome == AW_FETCH_OK) {
        a->result = "not_deleted";
        snprintf(a->message, sizeof a->message, "resolved after its run ended: the store still "
                 "has %s%s", marker ? "a current version " : "it",
                 marker ? (h->version_id[0] ? h->version_id : "(no version id)") : "");
    } else {
        a->result = NULL; /* the store did not say: still pending */
    }
}

int audit_resolve(aw_pg *pg, const aw_config *cfg, const aw_stores *stores, int *resolved,
                  int *left, char *errstr, size_t errn) {
    *resolved = *left = 0;
    aw_pg_result *r = NULL;
    char window[24];
    snprintf(window, sizeof window, "%ld",
             (cfg->fetch_timeout_ms * (cfg->fetch_retries + 2) + cfg->policy_stop_grace_ms) / 1000 +
                 5);
    const char *wp[1] = {window};
    int rc = aw_pg_query(pg, pending_sql, 1, wp, &r, errstr, errn);
    int n = rc == AW_OK ? aw_pg_result_rows(r) : 0;
    act *acts = calloc((size_t)n + 1, sizeof *acts);
    act **ptrs = calloc((size_t)n + 1, sizeof *ptrs);
    plan_row *rows = calloc((size_t)n + 1, sizeof *rows);
    aw_fetch *reqs = calloc((size_t)n + 1, sizeof *reqs);
    if (rc == AW_OK && (!acts || !ptrs || !rows || !reqs))
        rc = AW_ENOMEM;
    /* one store at a time, through its own client */
    for (int from = 0; rc == AW_OK && from < n;) {
        int to = from;
        while (to < n && !strcmp(S(aw_pg_result_get(r, to, P_STORE)),
                                 S(aw_pg_result_get(r, from, P_STORE))))
            to++;
        const char *store = aw_pg_result_get(r, from, P_STORE);
        aw_s3 *s3 = aw_stores_client(stores, store);
        size_t k = 0;
        for (int i = from; i < to && s3; i++, k++) {
            const aw_pg_result *x = r;
            rows[i] = (plan_row){.action = S(aw_pg_result_get(x, i, P_ACTION)),
                                 .rule = aw_pg_result_get(x, i, P_RULE), .store = store,
                                 .bucket = S(aw_pg_result_get(x, i, P_BUCKET)),
                                 .key = S(aw_pg_result_get(x, i, P_KEY)),
                                 .version_id = aw_pg_result_get(x, i, P_VERSION),
                                 .sha256 = aw_pg_result_get(x, i, P_SHA),
                                 .etag = aw_pg_result_get(x, i, P_ETAG),
                                 .last_modified = aw_pg_result_get(x, i, P_LM),
                                 .ovid = strtoll(S(aw_pg_result_get(x, i, P_OVID)), NULL, 10),
                                 .size = aw_pg_result_get(x, i, P_SIZE)
                                             ? strtoll(aw_pg_result_get(x, i, P_SIZE), NULL, 10)
                                             : -1};
            acts[i] = (act){.row = &rows[i],
                            .id = strtoll(S(aw_pg_result_get(x, i, P_ID)), NULL, 10)};
            bool pinned = !strcmp(rows[i].action, "delete") && rows[i].version_id;
            reqs[k] = (aw_fetch){.method = "HEAD", .bucket = rows[i].bucket, .key = rows[i].key,
                                 .version_id = pinned ? rows[i].version_id : NULL};
        }
        if (!s3) {
            *left += to - from;
            AW_WARN(LOG, "%d pending deletion(s) of store %s are left pending: this process "
                    "does not serve that store (--stores)", to - from, S(store));
            from = to;
            continue;
        }
        aw_fetch_policy pol = {.concurrency = (int)cfg->fetch_concurrency,
                               .retries = (int)cfg->fetch_retries, .backoff_base_ms = 200,
                               .backoff_max_ms = 10000, .stop_grace_ms = 5000};
        rc = aw_s3_fetch_many(s3, reqs, k, &pol, &aw_stop);
        size_t np = 0;
        for (int i = from; rc == AW_OK && i < to; i++) {
            judge_resolution(&acts[i], &reqs[i - from]);
            if (acts[i].result)
                ptrs[np++] = &acts[i], ++*resolved;
            else
                ++*left;
        }
        /* each group goes in under its own run: audit_record's INSERT is unused here */
        if (rc == AW_OK && np)
            rc = audit_record(pg, "0", "0", ptrs, np, errstr, errn);
        from = to;
    }
    if (rc == AW_OK && *resolved)
        AW_INFO(LOG, "resolved %d deletion(s) a killed run left pending", *resolved);
    free(acts), free(ptrs), free(rows), free(reqs);
    aw_pg_result_free(r);
    return rc;
}

int audit_status(aw_pg *pg, FILE *out, char *errstr, size_t errn) {
    aw_pg_result *runs = NULL, *pend = NULL;
    int rc = aw_pg_query(pg,
        "SELECT r.id, r.mode, r.plan_id, to_char(r.started_at AT TIME ZONE 'UTC',"
        " 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), COALESCE(to_char(r.finished_at AT TIME ZONE 'UTC',"
        " 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), CASE WHEN EXISTS (SELECT FROM aw.retention_actions a"
        " WHERE a.run_id = r.id AND a.result = 'pending') THEN 'killed' ELSE 'not finished' END),"
        " COALESCE(r.refused, ''), COALESCE(r.totals::text, ''), COALESCE(r.holder, '')"
        " FROM aw.retention_runs r ORDER BY r.id DESC LIMIT 10", 0, NULL, &runs, errstr, errn);
    if (rc == AW_OK)
        rc = aw_pg_query(pg, "SELECT a.id, a.run_id, a.action, a.store, a.bucket, a.key,"
                             " COALESCE(a.version_id, '-'), to_char(a.pending_at AT TIME ZONE "
                             "'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM aw.retention_actions a"
                             " WHERE a.result = 'pending' ORDER BY a.id", 0, NULL, &pend, errstr,
                         errn);
    if (rc == AW_OK) {
        fprintf(out, "%-6s  %-7s  %-6s  %-20s  %-20s  %-16s  %s\n", "RUN", "MODE", "PLAN",
                "STARTED", "FINISHED", "HOLDER", "TOTALS");
        for (int i = 0; i < aw_pg_result_rows(runs); i++) {
            char h[20], t[200], f[400];
            const char *refused = aw_pg_result_get(runs, i, 5);
            snprintf(f, sizeof f, "%s%s%s", S(aw_pg_result_get(runs, i, 6)),
                     *S(refused) ? " refused: " : "", S(refused));
            fprintf(out, "%-6s  %-7s  %-6s  %-20s  %-20s  %-16s  %s\n",
                    S(aw_pg_result_get(runs, i, 0)), S(aw_pg_result_get(runs, i, 1)),
                    aw_pg_result_get(runs, i, 2) ? aw_pg_result_get(runs, i, 2) : "-",
                    S(aw_pg_result_get(runs, i, 3)), S(aw_pg_result_get(runs, i, 4)),
                    aw_text_cell(aw_pg_result_get(runs, i, 7), h, 16),
                    aw_text_cell(f, t, 199));
        }
        int np = aw_pg_result_rows(pend);
        fprintf(out, "\n%d deletion(s) pending%s\n", np,
                np ? " (a run was killed; the next apply or run resolves them):" : "");
        for (int i = 0; i < np; i++) {
            char k[300], v[40];
            char uri[1200];
            snprintf(uri, sizeof uri, "s3://%s/%s", S(aw_pg_result_get(pend, i, 4)),
                     S(aw_pg_result_get(pend, i, 5)));
            fprintf(out, "  action %s of run %s: %s %s store %s version %s, pending since %s\n",
                    S(aw_pg_result_get(pend, i, 0)), S(aw_pg_result_get(pend, i, 1)),
                    S(aw_pg_result_get(pend, i, 2)), aw_text_cell(uri, k, 299),
                    S(aw_pg_result_get(pend, i, 3)),
                    aw_text_cell(aw_pg_result_get(pend, i, 6), v, 39),
                    S(aw_pg_result_get(pend, i, 7)));
        }
    }
    aw_pg_result_free(runs);
    aw_pg_result_free(pend);
    return rc;
}
