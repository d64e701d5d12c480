/*
 * Carrying out a saved plan. What may be deleted is decided once more, as
 * late as possible, and every decision that lets a DELETE go is checked by
 * the store itself where it can be:
 *
 *  - the rules as they are now: the plan is made again with the current
 *    rules file and index, and only what both plans delete is deleted
 *    (a version promoted to a protected stage since is skipped_protected);
 *  - the row's own store: requests go through that store's client, and a
 *    row of a store this process does not serve is skipped_other_store;
 *  - lineage on outcomes: deletions go in waves, children before their
 *    inputs, and just before an input's DELETE the index must show no live
 *    child that protects it (a child whose deletion failed still does);
 *  - per object, check and delete as one step: a HEAD, then the DELETE with
 *    If-Match on the ETag the HEAD showed (a 412 is skipped_changed); a
 *    HEAD that says neither ETag nor size is no match; a version-pinned
 *    DELETE is sent only when the store's current version is another one,
 *    unless the plan meant to delete the current version;
 *  - write-ahead: each action is committed 'pending' before its request and
 *    turned into its result after (audit.c).
 *
 * Requests go out a round at a time (fetch.concurrency objects: their HEADs
 * together, then their DELETEs), so the HEAD of an object precedes its
 * DELETE by one round trip. A stop request ends the run after the round in
 * flight, which has policy.stop_grace_ms to finish; what it abandons stays
 * pending.
 */
#define _GNU_SOURCE /* strptime, timegm */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aw/codec.h"
#include "aw/store.h"
#include "aw/log.h"
#include "internal.h"

#define S(x) ((x) ? (x) : "")

typedef struct totals {
    int deleted, changed, protected_, other_store, failed, pending;
} totals;

/* The lineage check of a round: for each version, the first live child that
 * still protects it. With protect_lineage: current ($2) only a current
 * version protects, and not one this run put a delete marker on (the store's
 * event of it tells the index for later runs; a marker removed since, a
 * restored model, protects again). */
static const char *const lineage_sql =
    "SELECT y.ovid, (SELECT format('lineage: input of s3://%s/%s%s', c.bucket, c.key,"
    "   (SELECT format(', whose deletion did not go through (%s%s)', a.result,"
    "      COALESCE(': ' || a.message, '')) FROM aw.retention_actions a"
    "     WHERE a.object_version_id = c.id AND a.run_id = $3::bigint"
    "     ORDER BY a.id DESC LIMIT 1))"
    "  FROM aw.edges e JOIN aw.object_versions c ON c.id = e.child_version_id"
    "  WHERE e.parent_version_id = y.ovid AND c.state = 'present' AND NOT c.deleted"
    "   AND (NOT $2 OR (c.id = aw.current_version(c.store, c.bucket, c.key)"
    "        AND NOT EXISTS (SELECT FROM aw.retention_actions a WHERE a.object_version_id = c.id"
    "                         AND a.run_id = $3::bigint AND a.action = 'delete_marker'"
    "                         AND a.result = 'deleted')))"
    "  ORDER BY c.id LIMIT 1)"
    " FROM json_array_elements_text($1::json) AS x(t), LATERAL (SELECT x.t::bigint) y(ovid)";

AW_PRINTF(4, 5)
static void decide(act *a, const char *result, long status, const char *fmt, ...) {
    a->result = result;
    a->status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->message, sizeof a->message, fmt, ap);
    va_end(ap);
}

/* An ISO 8601 UTC time (2026-12-07T06:52:11Z), in seconds. */
static long long pg_time(const char *s) {
    struct tm tm = {0};
    return s && strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) ? (long long)timegm(&tm) : -1;
}

/* The HEAD before a DELETE: may it go, and with which ETag? */
static void judge_head(act *a, const aw_fetch *f) {
    const plan_row *r = a->row;
    bool pinned = !strcmp(r->action, "delete") && r->version_id;
    if (f->outcome == AW_FETCH_NOT_FOUND) {
        if (!pinned) /* nothing current under the key: gone already */
            decide(a, "deleted", 404, "already gone%s", "");
        return;      /* pinned: the key's current version is not this one */
    }
    if (f->outcome != AW_FETCH_OK) {
        decide(a, "failed", f->info.status, "HEAD: %s", f->error);
        return;
    }
    const aw_s3_object_info *h = &f->info;
    if (pinned) {
        if (r->was_current)
            return; /* the plan deletes it as the current version (a whole folder) */
        if (h->version_id[0] && !strcmp(h->version_id, r->version_id))
            decide(a, "skipped_changed", h->status,
                   "the store's current version of the key is %s, which the plan took for a "
                   "noncurrent one", r->version_id);
        else if (!h->version_id[0] && (!r->etag || !h->etag[0] || !strcmp(r->etag, h->etag)))
            decide(a, "skipped_changed", h->status, "%s",
                   "the store did not say which version is current, and the current one may be "
                   "this one (the same ETag, or none to compare)");
        return; /* the pinned version's bytes never change: If-Match on its own ETag */
    }
    char size[24];
    snprintf(size, sizeof size, "%lld", (long long)h->content_length);
    if (!strcmp(r->action, "delete_marker") && r->version_id && strcmp(r->version_id, h->version_id))
        decide(a, "skipped_changed", h->status, "the current version is now %s",
               h->version_id[0] ? h->version_id : "a version without an id");
    else if (!h->etag[0] && h->content_length < 0)
        decide(a, "skipped_changed", h->status, "%s",
               "the store's HEAD showed neither an ETag nor a size: no match");
    else if (r->etag && h->etag[0] && strcmp(r->etag, h->etag))
        decide(a, "skipped_changed", h->status, "the ETag is now %s", h->etag);
    else if (!r->etag != !h->etag[0])
        decide(a, "skipped_changed", h->status, "the store %s an ETag now",
               h->etag[0] ? "shows" : "no longer shows");
    else if (r->size >= 0 && h->content_length >= 0 && r->size != h->content_length)
        decide(a, "skipped_changed", h->status, "the size is now %s", size);
    else if (!h->etag[0] && (!r->last_modified || aw_http_time(h->last_modified) < 0 ||
                             aw_http_time(h->last_modified) > pg_time(r->last_modified)))
        decide(a, "skipped_changed", h->status, "without an ETag, its Last-Modified (%s) must "
               "show it was not written again", h->last_modified[0] ? h->last_modified : "none");
    else
        snprintf(a->etag, sizeof a->etag, "%s", h->etag);
}

static void judge_delete(act *a, const aw_fetch *f) {
    if (f->outcome == AW_FETCH_OK)
        decide(a, "deleted", f->info.status, "%s", "");
    else if (f->outcome == AW_FETCH_NOT_FOUND)
        decide(a, "deleted", 404, "already gone%s", "");
    else if (f->outcome == AW_FETCH_PRECONDITION)
        decide(a, "skipped_changed", 412, "%s",
               "the store refused: the object changed after its check (If-Match)");
    else if (!strcmp(f->error, "interrupted") || f->info.status == 0 ||
             (f->info.status >= 500 && f->info.status != 503))
        a->unknown = true; /* abandoned, or no clear answer: the store may have acted; left
                              pending, for the next run to ask the store */
    else
        decide(a, "failed", f->info.status, "DELETE: %s", f->error);
}

/* HEADs (head true) or DELETEs for the undecided acts of a round. */
static int send_round(aw_s3 *s3, const aw_config *cfg, act **round, size_t n, bool head) {
    aw_fetch *reqs = calloc(n + 1, sizeof *reqs);
    size_t *which = calloc(n + 1, sizeof *which), k = 0;
    if (!reqs || !which) {
        free(reqs), free(which);
        return AW_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        act *a = round[i];
        const plan_row *r = a->row;
        bool pinned = !strcmp(r->action, "delete") && r->version_id;
        if (a->result)
            continue;
        reqs[k] = (aw_fetch){.method = head ? "HEAD" : "DELETE", .bucket = r->bucket,
                             .key = r->key, .version_id = !head && pinned ? r->version_id : NULL,
                             .if_match = head ? NULL : pinned ? r->etag
                                         : a->etag[0] ? a->etag : NULL};
        which[k++] = i;
    }
    aw_fetch_policy pol = {.concurrency = (int)cfg->fetch_concurrency,
                           .retries = head ? (int)cfg->fetch_retries : 1, .backoff_base_ms = 200,
                           .backoff_max_ms = 5000, .stop_grace_ms = cfg->policy_stop_grace_ms};
    int rc = k ? aw_s3_fetch_many(s3, reqs, k, &pol, &aw_stop) : AW_OK;
    if (rc == AW_EINTERRUPTED)
        rc = AW_OK; /* each abandoned request says "interrupted" */
    for (size_t j = 0; rc == AW_OK && j < k; j++) {
        act *a = round[which[j]];
        if (head && !strcmp(reqs[j].error, "interrupted"))
            decide(a, "failed", 0, "%s", "stopped before its check");
        else if (head)
            judge_head(a, &reqs[j]);
        else
            judge_delete(a, &reqs[j]);
    }
    free(reqs), free(which);
    return rc;
}

/* Decides, for the undecided acts of a round, whether a live child still
 * protects them (lineage_sql). */
static int check_lineage(aw_pg *pg, const aw_rules *rs, const char *run, act **round, size_t n,
                         char *errstr, size_t errn) {
    if (!rs->protect_lineage)
        return AW_OK;
    json_t *ids = json_array();
    for (size_t i = 0; ids && i < n; i++)
        if (!round[i]->result && json_array_append_new(ids, json_integer(round[i]->row->ovid)))
            json_decref(ids), ids = NULL;
    char *js = ids ? json_dumps(ids, JSON_COMPACT) : NULL;
    json_decref(ids);
    if (!js)
        return AW_ENOMEM;
    const char *params[3] = {js, rs->lineage_current ? "true" : "false", run};
    aw_pg_result *r = NULL;
    int rc = aw_pg_query(pg, lineage_sql, 3, params, &r, errstr, errn);
    free(js);
    for (int i = 0; rc == AW_OK && i < aw_pg_result_rows(r); i++) {
        const char *why = aw_pg_result_get(r, i, 1);
        long long ovid = strtoll(S(aw_pg_result_get(r, i, 0)), NULL, 10);
        for (size_t k = 0; why && k < n; k++)
            if (!round[k]->result && round[k]->row->ovid == ovid)
                decide(round[k], "skipped_protected", 0, "%s", why);
    }
    aw_pg_result_free(r);
    return rc;
}

/* One round of acts of one store: lineage, pending rows, HEADs, DELETEs,
 * results. */
static int run_round(aw_pg *pg, aw_s3 *s3, const aw_config *cfg, const aw_rules *rs,
                     const char *run, const char *plan_id, act **round, size_t n, char *errstr,
                     size_t errn) {
    int rc = check_lineage(pg, rs, run, round, n, errstr, errn);
    act **go = calloc(n + 1, sizeof *go);
    size_t ngo = 0;
    if (!go)
        return AW_ENOMEM;
    for (size_t i = 0; i < n; i++)
        if (!round[i]->result)
            go[ngo++] = round[i];
    /* committed before any request for them leaves */
    if (rc == AW_OK && ngo)
        rc = audit_pending(pg, run, plan_id, go, ngo, errstr, errn);
    if (rc == AW_OK && ngo)
        rc = send_round(s3, cfg, go, ngo, true);
    for (size_t i = 0; aw_stop && i < ngo; i++) /* no DELETE starts after a stop */
        if (!go[i]->result)
            decide(go[i], "failed", 0, "%s", "stopped before its DELETE was sent");
    if (rc == AW_OK && ngo)
        rc = send_round(s3, cfg, go, ngo, false);
    free(go);
    /* the results, even of a round cut short: what went out is recorded */
    int rrc = audit_record(pg, run, plan_id, round, n, errstr, errn);
    return rc == AW_OK ? rrc : rc;
}

static int cmp_act(const void *pa, const void *pb) {
    const plan_row *a = ((const act *)pa)->row, *b = ((const act *)pb)->row;
    if (a->wave != b->wave)
        return a->wave < b->wave ? -1 : 1;
    int c = strcmp(a->store, b->store);
    return c ? c : (a < b ? -1 : a > b);
}

static int cmp_fresh(const void *pa, const void *pb) {
    int64_t x = ((const plan_row *)pa)->ovid, y = ((const plan_row *)pb)->ovid;
    return (x > y) - (x < y);
}

/* What a plan made now says of r: the reason it is not deleted now, or
 * NULL when it is (fresh is sorted by ovid). */
static void against_fresh(act *a, const plan *fresh) {
    if (!fresh)
        return;
    const plan_row *f = bsearch(a->row, fresh->rows, fresh->nrows, sizeof *fresh->rows,
                                cmp_fresh);
    if (!f)
        decide(a, "skipped_changed", 0, "%s", "no rule selects it now: its key, its metadata "
               "or the rules changed since the plan");
    else if (!strcmp(f->action, "protect"))
        decide(a, "skipped_protected", 0, "protected now: %s", f->reason);
    else if (strcmp(f->action, a->row->action))
        decide(a, "skipped_changed", 0, "a plan made now would %s it instead", f->action);
}

static void count(totals *t, const act *a) {
    if (!a->result) {
        t->pending++;
        return;
    }
    t->deleted += !strcmp(a->result, "deleted");
    t->changed += !strcmp(a->result, "skipped_changed");
    t->protected_ += !strcmp(a->result, "skipped_protected");
    t->other_store += !strcmp(a->result, "skipped_other_store");
    t->failed += !strcmp(a->result, "failed");
}

static int finish_run(aw_pg *pg, const char *run, const char *refused, const totals *t,
                      char *errstr, size_t errn) {
    char js[320];
    snprintf(js, sizeof js, "{\"deleted\": %d, \"skipped_changed\": %d, "
             "\"skipped_protected\": %d, \"skipped_other_store\": %d, \"failed\": %d, "
             "\"pending\": %d}", t->deleted, t->changed, t->protected_, t->other_store,
             t->failed, t->pending);
    const char *params[3] = {run, refused, js};
    return aw_pg_query(pg, "UPDATE aw.retention_runs SET finished_at = now(), refused = $2,"
                           " totals = $3::jsonb WHERE id = $1::bigint", 3, params, NULL,
                       errstr, errn);
}

/* Records the run, unless the plan was carried out before (a plan applies
 * once: aw.retention_runs.applied_plan is unique). */
static int start_run(aw_pg *pg, const plan *p, const char *rules_sha256, bool refused,
                     const char *holder, char run[24], char *errstr, size_t errn) {
    char plan_id[24];
    snprintf(plan_id, sizeof plan_id, "%lld", (long long)p->id);
    const char *q[1] = {plan_id};
    aw_pg_result *r = NULL;
    int rc = aw_pg_query(pg, "SELECT id, to_char(started_at AT TIME ZONE 'UTC',"
                             " 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM aw.retention_runs"
                             " WHERE applied_plan = $1::bigint", 1, q, &r, errstr, errn);
    if (rc == AW_OK && aw_pg_result_rows(r) > 0) {
        snprintf(errstr, errn, "plan %s was applied by run %s at %s; a plan is applied once "
                 "(make a new one)", plan_id, S(aw_pg_result_get(r, 0, 0)),
                 S(aw_pg_result_get(r, 0, 1)));
        rc = AW_EINVAL;
    }
    aw_pg_result_free(r);
    r = NULL;
    /* the run records the rules that decided it: the file given now */
    const char *params[4] = {plan_id, rules_sha256, refused ? NULL : plan_id, holder};
    if (rc == AW_OK)
        rc = aw_pg_query(pg, "INSERT INTO aw.retention_runs (plan_id, mode, rules_sha256,"
                             " applied_plan, holder) VALUES ($1::bigint, 'apply', $2,"
                             " $3::bigint, $4) RETURNING id", 4, params, &r, errstr, errn);
    if (rc == AW_OK)
        snprintf(run, 24, "%s", S(aw_pg_result_get(r, 0, 0)));
    aw_pg_result_free(r);
    return rc;
}

int apply_plan(aw_pg *pg, const aw_config *cfg, const aw_rules *rs, aw_stores *stores,
               const plan *p, const plan *fresh, const char *holder, int *failed, char *errstr,
               size_t errn) {
    *failed = 0;
    char plan_id[24], run[24];
    snprintf(plan_id, sizeof plan_id, "%lld", (long long)p->id);
    bool refused = p->refused[0] && !cfg->policy_force;
    if (strcmp(rs->sha256, p->rules_sha256))
        AW_WARN(LOG, "plan %s was made with other rules (sha256 %.12s) than %s (%.12s): a "
                "deletion goes ahead only when the rules given now select it too", plan_id,
                p->rules_sha256, rs->path, rs->sha256);
    int rc = start_run(pg, p, rs->sha256, refused, holder, run, errstr, errn);
    if (rc != AW_OK)
        return rc;
    totals tot = {0};
    if (refused) {
        AW_WARN(LOG, "run %s refused, nothing deleted: %s", run, p->refused);
        return finish_run(pg, run, p->refused, &tot, errstr, errn);
    }
    size_t n = 0;
    act *acts = calloc(p->nrows + 1, sizeof *acts);
    act **round = calloc((size_t)cfg->fetch_concurrency + 1, sizeof *round);
    if (!acts || !round) {
        free(acts), free(round);
        return AW_ENOMEM;
    }
    for (size_t i = 0; i < p->nrows; i++) {
        if (strcmp(p->rows[i].action, "protect"))
            acts[n++] = (act){.row = &p->rows[i]};
    }
    psort(acts, n, sizeof *acts, cmp_act);
    for (size_t i = 0; i < n; i++) {
        if (!aw_stores_client(stores, acts[i].row->store))
            decide(&acts[i], "skipped_other_store", 0, "store %s is not served by this process "
                   "(--stores)", acts[i].row->store);
        else
            against_fresh(&acts[i], fresh);
    }
    /* wave by wave; within a wave, a store at a time, in rounds */
    for (size_t i = 0; rc == AW_OK && i < n && !aw_stop;) {
        aw_s3 *s3 = aw_stores_client(stores, acts[i].row->store);
        size_t k = 0;
        for (; i + k < n && k < (size_t)cfg->fetch_concurrency &&
               acts[i + k].row->wave == acts[i].row->wave &&
               !strcmp(acts[i + k].row->store, acts[i].row->store); k++)
            round[k] = &acts[i + k];
        rc = s3 ? run_round(pg, s3, cfg, rs, run, plan_id, round, k, errstr, errn)
                : audit_record(pg, run, plan_id, round, k, errstr, errn);
        for (size_t j = 0; j < k; j++)
            count(&tot, round[j]);
        i += k;
        if (i % 1000 < k || i == n)
            AW_INFO(LOG, "run %s: %d deleted, %d skipped as changed, %d skipped as protected, "
                    "%d of other stores, %d failed so far", run, tot.deleted, tot.changed,
                    tot.protected_, tot.other_store, tot.failed);
    }
    if (rc == AW_OK && aw_stop) {
        snprintf(errstr, errn, "stopped before every deletion was made");
        rc = AW_EINTERRUPTED;
    }
    char fe[256];
    int frc = finish_run(pg, run, NULL, &tot, fe, sizeof fe);
    if (rc == AW_OK && frc != AW_OK)
        rc = frc, snprintf(errstr, errn, "%s", fe);
    *failed = tot.failed + tot.pending;
    free(acts), free(round);
    return rc;
}
