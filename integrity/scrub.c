/*
 * `artifact-watch scrub`: re-reads stored bytes and compares them with the
 * SHA-256 recorded at ingest. It never repairs anything; it reports, through
 * aw.scrub_state (progress, so a restart resumes where it was) and aw.alerts
 * (checksum_mismatch, missing, unreadable, opened and resolved by
 * aw.scrub_record in the transaction that records the result).
 *
 * A pass takes what is due now: suspects first (a failed read, a mismatch),
 * then versions never verified, oldest first, then the least recently
 * verified, listed once at the start of the pass. Workers lease small
 * batches of that list with FOR UPDATE SKIP LOCKED, so several share a pass
 * and none reads a version another holds or read already; a version
 * verified in a pass is due again only an interval later, so no pass reads
 * it twice. Reads go through the same streaming fetch as ingest (pinned by
 * version id, or by If-Match on the recorded ETag, so an object a pipeline
 * rewrote since is "changed", not corrupt), within a byte and object budget
 * measured over a sliding minute.
 */
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "aw/codec.h"
#include "aw/hash.h"
#include "aw/store.h"
#include "aw/log.h"
#include "aw/metrics.h"
#include "aw/integrity.h"
#include "aw/util.h"
#include "internal.h"

#define SLOG "scrub"
#define BATCH_BYTES (1LL << 30) /* read in well under the 10-minute lease */
#define DUE_CHUNK_S "100000"    /* the due list is read this many at a time */


/* The live versions: present, hashed, and either pinned by a version id or
 * the current version of an unversioned key (aw.version_order, as verify and
 * retention decide it). */
#define LIVE                                                                                   \
    "v.state = 'present' AND NOT v.deleted AND v.sha256 IS NOT NULL"                           \
    " AND (v.version_id IS NOT NULL OR NOT EXISTS (SELECT FROM aw.object_versions w"           \
    "  WHERE w.store = v.store AND w.bucket = v.bucket AND w.key = v.key AND w.id <> v.id"     \
    "  AND aw.version_order(w) > aw.version_order(v)))"
#define SCOPE                                                                                  \
    " AND v.store = $1 AND ($2 = '' OR v.bucket = $2)"                                          \
    " AND ($3 = '' OR left(v.key, length($3)) = $3)"

/* New live versions get their first due time: when they arrived plus the
 * interval, spread by 20% on their id. */
static const char *const sync_sql =
    "INSERT INTO aw.scrub_state (object_version_id, due_at)"
    " SELECT v.id, v.first_seen_at + $4::interval * (0.8 + 0.4 * ((hashint8(v.id) & 65535)"
    "  / 65535.0)) FROM aw.object_versions v WHERE " LIVE SCOPE
    " AND NOT EXISTS (SELECT FROM aw.scrub_state s WHERE s.object_version_id = v.id)"
    " ON CONFLICT DO NOTHING";

static const char *const all_sql =
    "UPDATE aw.scrub_state s SET due_at = now() FROM aw.object_versions v"
    " WHERE v.id = s.object_version_id AND s.due_at > now()" SCOPE;

/* What is due at the pass's start and not held, in order: suspects, the
 * never verified (oldest first), the least recently verified; read again
 * when a chunk is done (what was read since is due an interval later). */
static const char *const due_sql =
    "SELECT s.object_version_id, COALESCE(v.size, 0), v.bucket FROM aw.scrub_state s"
    " JOIN aw.object_versions v ON v.id = s.object_version_id"
    " WHERE s.due_at <= $4::timestamptz AND (s.lease_until IS NULL OR s.lease_until < now())"
    "  AND v.bucket <> ALL (ARRAY(SELECT json_array_elements_text($5::json)))"
    "  AND " LIVE SCOPE
    " ORDER BY s.suspect DESC, s.last_verified_at IS NULL DESC,"
    "  CASE WHEN s.last_verified_at IS NULL THEN v.first_seen_at END, s.last_verified_at,"
    "  s.object_version_id LIMIT " DUE_CHUNK_S;

/* A batch of them, unless another worker holds them or read them since. */
static const char *const lease_sql =
    "WITH c AS ("
    " SELECT s.object_version_id AS id FROM aw.scrub_state s"
    " WHERE s.object_version_id = ANY ($1::bigint[]) AND s.due_at <= $2::timestamptz"
    "  AND (s.lease_until IS NULL OR s.lease_until < now())"
    " FOR UPDATE SKIP LOCKED)"
    " UPDATE aw.scrub_state s SET lease_owner = $3, lease_until = now() + interval '10 minutes'"
    "  FROM c, aw.object_versions v WHERE s.object_version_id = c.id AND v.id = c.id"
    " RETURNING v.id, v.bucket, v.key, v.version_id, v.etag, encode(v.sha256, 'hex'), v.size,"
    "  extract(epoch FROM COALESCE(v.last_modified, v.event_time))::bigint";
enum { L_ID, L_BUCKET, L_KEY, L_VERSION, L_ETAG, L_SHA, L_SIZE, L_LM };

static int64_t pg_int64(aw_pg_result *r, int row, int col) {
    const char *v = aw_pg_result_get(r, row, col);
    return v ? strtoll(v, NULL, 10) : -1;
}


/* The read budget: bytes and objects over a sliding minute. */
typedef struct budget {
    aw_rate bytes, objects;
} budget;

static void budget_note(budget *b, int64_t bytes, int64_t objects) {
    aw_rate_note(&b->bytes, bytes);
    aw_rate_note(&b->objects, objects);
}

/* Waits until the last minute's reads are within the budget. */
static void budget_wait(budget *b) {
    aw_rate *const both[2] = {&b->bytes, &b->objects};
    (void)aw_rate_wait(both, 2);
}

/* The series scrub exports, registered at start so each shows 0 (the
 * last-success time appears with the first pass that succeeds). */
static const char *const result_names[] = {"ok", "checksum_mismatch", "missing", "changed",
                                           "failed", NULL};
static struct {
    aw_metric *by[5], *bytes, *other_due;
} sm;

static void declare_metrics(void) {
    aw_metric_family(false, "aw_scrub_objects_total", "Versions scrub read, by result.", "result",
                     result_names, sm.by);
    sm.bytes = aw_metric_counter("aw_scrub_bytes_total", "Bytes scrub read and hashed.", NULL);
    sm.other_due = aw_metric_gauge("aw_scrub_other_store_due",
                                   "Versions due for scrub in stores this process does not "
                                   "serve (left to their own scrub).", NULL);
}

/* What a batch read, as metrics: objects by result and bytes. */
static void count_metrics(json_t *results, int64_t bytes) {
    aw_metric_add(sm.bytes, (double)bytes);
    for (size_t i = 0; results && i < json_array_size(results); i++) {
        const char *r = json_string_value(json_object_get(json_array_get(results, i), "result"));
        for (int k = 0; r && result_names[k]; k++)
            if (!strcmp(r, result_names[k]))
                aw_metric_add(sm.by[k], 1);
    }
    aw_metrics_heartbeat();
}

static int release(aw_pg *pg, const char *owner) {
    char err[512];
    const char *params[1] = {owner};
    return aw_pg_query(pg, "UPDATE aw.scrub_state SET lease_owner = NULL, lease_until = NULL"
                           " WHERE lease_owner = $1", 1, params, NULL, err, sizeof err);
}

typedef struct pass_stats {
    long ok, mismatch, missing, changed, failed;
    int64_t bytes;
} pass_stats;

/* Nothing pins a version without a version id or an ETag (a file written
 * behind a gateway): its read is compared with what was recorded, and bytes
 * with a newer Last-Modified or another size are a rewrite, not corruption. */
static bool rewritten(const aw_pg_result *l, int i, const aw_fetch *f, int64_t bytes) {
    if (aw_pg_result_get(l, i, L_VERSION) || aw_pg_result_get(l, i, L_ETAG))
        return false;
    long long lm = aw_http_time(f->info.last_modified), was = pg_int64((aw_pg_result *)l, i, L_LM);
    int64_t size = pg_int64((aw_pg_result *)l, i, L_SIZE);
    return (lm >= 0 && was >= 0 && lm > was) || (size >= 0 && bytes != size);
}

/* A bucket whose every read in the batch failed as a bucket-wide failure
 * does: asked itself, and when it cannot be read either, one alert and the
 * bucket paused (its reads are not recorded, their leases released). */
static int bucket_check(aw_pg *pg, aw_s3 *s3, const char *store, aw_pg_result *l,
                        const aw_fetch *reqs, bool *skip, paused *pz, char *errstr, size_t n) {
    int rows = aw_pg_result_rows(l), rc = AW_OK;
    for (int i = 0; rc == AW_OK && i < rows; i++) {
        const char *b = aw_pg_result_get(l, i, L_BUCKET);
        bool all = true, first = true;
        for (int k = 0; k < rows; k++)
            if (!strcmp(aw_pg_result_get(l, k, L_BUCKET), b)) {
                first = first && k >= i;
                all = all && bucket_failure(&reqs[k]);
            }
        char why[400];
        if (!first || !all || paused_has(pz, b) || bucket_readable(s3, b, why, sizeof why))
            continue;
        if ((rc = bucket_raise(pg, store, b, why, errstr, n)) == AW_OK)
            rc = paused_add(pz, b);
        for (int k = 0; k < rows; k++)
            skip[k] = skip[k] || !strcmp(aw_pg_result_get(l, k, L_BUCKET), b);
    }
    for (int k = 0; rc == AW_OK && k < rows; k++)
        if (skip[k]) {
            const char *p[1] = {aw_pg_result_get(l, k, L_ID)};
            rc = aw_pg_query(pg, "UPDATE aw.scrub_state SET lease_owner = NULL, lease_until = NULL"
                                 " WHERE object_version_id = $1::bigint", 1, p, NULL, errstr, n);
        }
    return rc;
}

/* What one read found: "ok", "checksum_mismatch", "changed", "missing",
 * "failed" or NULL (the store is away); got and held receive the SHA-256 of
 * the bytes and the store's own checksum of them, in hex ("" if none). */
static const char *judge_read(const aw_pg_result *l, int i, const aw_fetch *f, aw_sink *item,
                              char got[65], char held[65]) {
    const char *want = aw_pg_result_get(l, i, L_SHA);
    switch (f->outcome) {
    case AW_FETCH_OK: {
        uint8_t sha[32];
        if (aw_hash_final(item->hash, sha, NULL) != AW_OK)
            return "failed";
        aw_hex(sha, 32, got);
        /* the store's own full-object checksum, when it keeps one */
        if (f->info.checksum_sha256[0] &&
            aw_sha256_b64_hex(f->info.checksum_sha256, held) != AW_OK)
            held[0] = '\0';
        if (held[0] && strcmp(held, got))
            AW_WARN(SLOG, "store_checksum_mismatch s3://%s/%s: the store says %s", f->bucket,
                    f->key, held);
        return want && !strcmp(got, want) ? "ok"
               : rewritten(l, i, f, item->bytes) ? "changed" : "checksum_mismatch";
    }
    case AW_FETCH_NOT_FOUND: return "missing";
    case AW_FETCH_PRECONDITION: return "changed";
    case AW_FETCH_UNAVAILABLE: return NULL;
    default: return "failed";
    }
}

/* The batch's results as aw.scrub_record takes them (the skipped left out),
 * counted in st. *away when the store did not answer for one. */
static json_t *results(const aw_pg_result *l, const aw_fetch *reqs, aw_sink *items,
                       const bool *skip, pass_stats *st, bool *away) {
    json_t *arr = json_array();
    for (int i = 0; arr && i < aw_pg_result_rows(l); i++) {
        const aw_fetch *f = &reqs[i];
        char got[65] = "", held[65] = "";
        if (skip[i])
            continue;
        const char *result = judge_read(l, i, f, &items[i], got, held);
        *away = *away || !result;
        result = result ? result : "failed";
        st->ok += !strcmp(result, "ok");
        st->mismatch += !strcmp(result, "checksum_mismatch");
        st->missing += !strcmp(result, "missing");
        st->changed += !strcmp(result, "changed");
        st->failed += !strcmp(result, "failed");
        if (strcmp(result, "ok"))
            AW_WARN(SLOG, "%s s3://%s/%s%s%s: %s", result, f->bucket, f->key,
                    f->version_id ? " version " : "", f->version_id ? f->version_id : "",
                    f->error[0] ? f->error : got[0] ? got : "");
        json_t *o = json_pack("{s:s, s:s, s:s?, s:s?, s:s?, s:{s:i, s:I}}", "id",
                              aw_pg_result_get(l, i, L_ID), "result", result, "actual",
                              got[0] ? got : NULL, "store_sha256", held[0] ? held : NULL,
                              "error", f->error[0] ? f->error : NULL,
                              "detail", "http_status", (int)f->info.status, "bytes_read",
                              (json_int_t)items[i].bytes);
        if (!o || json_array_append_new(arr, o)) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

/* Reads one leased batch and records what it found. AW_EUNAVAILABLE when
 * the store is away (nothing is recorded: it is no object's fault). */
static int scrub_batch(aw_pg *pg, aw_s3 *s3, const char *store, const aw_config *cfg,
                       const char *interval, aw_pg_result *l, pass_stats *st, budget *bu,
                       paused *pz, char *errstr, size_t n) {
    int rows = aw_pg_result_rows(l);
    aw_fetch *reqs = calloc((size_t)rows, sizeof *reqs);
    aw_sink *items = calloc((size_t)rows, sizeof *items);
    bool *skip = calloc((size_t)rows + 1, sizeof *skip);
    int rc = reqs && items && skip ? AW_OK : AW_ENOMEM;
    for (int i = 0; rc == AW_OK && i < rows; i++) {
        rc = aw_hash_new(false, &items[i].hash);
        const char *version = aw_pg_result_get(l, i, L_VERSION);
        reqs[i] = (aw_fetch){.bucket = aw_pg_result_get(l, i, L_BUCKET),
                             .key = aw_pg_result_get(l, i, L_KEY), .version_id = version,
                             .if_match = version ? NULL : aw_pg_result_get(l, i, L_ETAG),
                             .checksum_mode = true,
                             .size_hint = pg_int64(l, i, L_SIZE),
                             .on_start = aw_sink_start, .on_body = aw_sink_body, .ud = &items[i]};
    }
    aw_fetch_policy pol = {.concurrency = (int)cfg->fetch_concurrency,
                           .retries = (int)cfg->fetch_retries, .backoff_base_ms = 200,
                           .backoff_max_ms = 10000, .stop_grace_ms = 5000};
    aw_range_policy rp = {.range_size = cfg->fetch_range_size,
                          .concurrency = (int)cfg->fetch_range_concurrency};
    if (rc == AW_OK)
        rc = aw_s3_fetch_batch(s3, reqs, (size_t)rows, &rp, &pol, &aw_stop);
    if (rc == AW_OK)
        rc = bucket_check(pg, s3, store, l, reqs, skip, pz, errstr, n);
    bool away = false;
    json_t *arr = rc == AW_OK ? results(l, reqs, items, skip, st, &away) : NULL;
    int64_t bytes = 0;
    for (int i = 0; items && i < rows; i++)
        bytes += items[i].bytes;
    st->bytes += bytes;
    budget_note(bu, bytes, rows);
    count_metrics(arr, bytes);
    if (rc == AW_OK && away) {
        snprintf(errstr, n, "the store is unreachable or refuses our credentials");
        rc = AW_EUNAVAILABLE;
    }
    char *json = rc == AW_OK && arr ? json_dumps(arr, JSON_COMPACT) : NULL;
    if (rc == AW_OK && !json)
        rc = AW_ENOMEM;
    if (rc == AW_OK) {
        const char *params[2] = {json, interval};
        rc = aw_pg_query(pg, "SELECT aw.scrub_record($1::jsonb, $2::interval)", 2, params, NULL,
                         errstr, n);
    }
    free(json);
    json_decref(arr);
    for (int i = 0; items && i < rows; i++)
        aw_hash_destroy(items[i].hash);
    free(items);
    free(reqs);
    free(skip);
    return rc;
}

/* The database's clock, as text, into start. */
static int db_now(aw_pg *pg, char start[64], char *errstr, size_t n) {
    aw_pg_result *t0 = NULL;
    int rc = aw_pg_query(pg, "SELECT now()::text", 0, NULL, &t0, errstr, n);
    if (rc == AW_OK)
        snprintf(start, 64, "%s", aw_pg_result_get(t0, 0, 0));
    aw_pg_result_free(t0);
    return rc;
}

/* The ids of the next batch of the due list from *pos, as an array literal
 * in ids: under a budget at most a second's worth (by count, and by the sizes
 * read so far), and at most BATCH_BYTES, so a batch is read well within its
 * lease; what is in a bucket found unreadable during the pass is passed over. */
static void next_batch(const aw_config *cfg, const pass_stats *st, const aw_pg_result *due,
                       int *pos, const paused *pz, char *ids) {
    long want = cfg->scrub_batch, done = st->ok + st->mismatch + st->missing + st->changed +
                                         st->failed;
    if (cfg->scrub_max_objects_per_sec && want > cfg->scrub_max_objects_per_sec)
        want = cfg->scrub_max_objects_per_sec;
    if (cfg->scrub_max_bytes_per_sec) {
        long avg = done && st->bytes ? (long)(st->bytes / done) : 0;
        long fit = avg ? cfg->scrub_max_bytes_per_sec / avg : 1;
        want = fit < 1 ? 1 : fit < want ? fit : want;
    }
    size_t l = 0;
    ids[l++] = '{';
    long long bytes = 0;
    int ndue = aw_pg_result_rows(due);
    for (long k = 0; k < want && *pos < ndue && (k == 0 || bytes < BATCH_BYTES); ++*pos) {
        if (paused_has(pz, aw_pg_result_get(due, *pos, 2)))
            continue;
        l += (size_t)sprintf(ids + l, "%s%s", k++ ? "," : "", aw_pg_result_get(due, *pos, 0));
        long long size = strtoll(aw_pg_result_get(due, *pos, 1), NULL, 10);
        bytes += size < 0 ? 0 : size < BATCH_BYTES ? size : BATCH_BYTES; /* cannot overflow */
    }
    ids[l++] = '}';
    ids[l] = '\0';
}

/* One pass over what is due now. */
static int scrub_pass(aw_pg *pg, aw_s3 *s3, const char *store, const aw_config *cfg,
                      const char *interval, const char *owner, bool all, char *errstr, size_t n) {
    paused pz = {0};
    char start[64] = "";
    int rc = buckets_paused(pg, s3, store, &pz, errstr, n);
    char *pza = rc == AW_OK ? paused_array(&pz) : NULL;
    budget *bu = calloc(1, sizeof *bu);
    char *ids = malloc((size_t)cfg->scrub_batch * 22 + 3);
    if (rc == AW_OK && (!pza || !bu || !ids))
        rc = AW_ENOMEM;
    const char *params[5] = {store, cfg->scrub_bucket, cfg->scrub_prefix, interval, pza};
    if (rc == AW_OK && (rc = db_now(pg, start, errstr, n)) == AW_OK)
        rc = aw_pg_query(pg, sync_sql, 4, params, NULL, errstr, n);
    if (rc == AW_OK && all && (rc = aw_pg_query(pg, all_sql, 3, params, NULL, errstr, n)) == AW_OK)
        rc = db_now(pg, start, errstr, n); /* what --all made due is due at the start too */
    params[3] = start;
    aw_pg_result *due = NULL;
    if (rc == AW_OK)
        rc = aw_pg_query(pg, due_sql, 5, params, &due, errstr, n);
    int ndue = rc == AW_OK ? aw_pg_result_rows(due) : 0;
    bool more = ndue == atoi(DUE_CHUNK_S);
    pass_stats st = {0};
    if (bu) {
        aw_rate_init(&bu->bytes, cfg->scrub_max_bytes_per_sec);
        aw_rate_init(&bu->objects, cfg->scrub_max_objects_per_sec);
    }
    int64_t t_start = aw_now_ms();
    for (int pos = 0; rc == AW_OK && !aw_stop && pos < ndue;) {
        budget_wait(bu);
        next_batch(cfg, &st, due, &pos, &pz, ids);
        const char *lp[3] = {ids, start, owner};
        aw_pg_result *leased = NULL;
        if ((rc = aw_pg_query(pg, lease_sql, 3, lp, &leased, errstr, n)) != AW_OK)
            break;
        /* none: another worker holds them, or read them already */
        if (aw_pg_result_rows(leased) > 0)
            rc = scrub_batch(pg, s3, store, cfg, interval, leased, &st, bu, &pz, errstr, n);
        aw_pg_result_free(leased);
        if (pos == ndue && more && rc == AW_OK) { /* the next chunk of the due list */
            aw_pg_result_free(due);
            due = NULL;
            pos = 0;
            rc = aw_pg_query(pg, due_sql, 5, params, &due, errstr, n);
            ndue = rc == AW_OK ? aw_pg_result_rows(due) : 0;
            more = ndue == atoi(DUE_CHUNK_S);
        }
    }
    aw_pg_result_free(due);
    free(ids), free(bu), free(pza);
    paused_free(&pz);
    if (rc != AW_OK || aw_stop)
        (void)release(pg, owner);
    AW_INFO(SLOG, "pass %s: %ld ok, %ld checksum mismatches, %ld missing, %ld changed since "
            "indexed, %ld failed reads; %lld bytes in %.3f s",
            rc == AW_OK ? (aw_stop ? "stopped" : "done") : "failed", st.ok, st.mismatch,
            st.missing, st.changed, st.failed, (long long)st.bytes,
            (double)(aw_now_ms() - t_start) / 1000.0);
    return rc;
}

/* Versions of stores this process does not serve, due in aw.scrub_state: left
 * to a scrub that serves them, and counted (aw_scrub_other_store_due). */
static int count_others(aw_pg *pg, const aw_stores *stores, char *errstr, size_t n) {
    size_t ns = aw_stores_count(stores);
    char names[16384] = "{";
    size_t l = 1;
    for (size_t i = 0; i < ns && l < sizeof names - 200; i++) {
        const char *s = aw_stores_name(stores, i); /* names are [A-Za-z0-9._-] */
        l += (size_t)snprintf(names + l, sizeof names - l, "%s\"%s\"", i ? "," : "", s);
    }
    snprintf(names + l, sizeof names - l, "}");
    const char *params[1] = {names};
    aw_pg_result *r = NULL;
    int rc = aw_pg_query(pg, "SELECT count(*), string_agg(DISTINCT v.store, ', ')"
                             " FROM aw.scrub_state s JOIN aw.object_versions v"
                             " ON v.id = s.object_version_id"
                             " WHERE s.due_at <= now() AND v.store <> ALL ($1::text[])",
                         1, params, &r, errstr, n);
    if (rc == AW_OK) {
        long long due = strtoll(aw_pg_result_get(r, 0, 0), NULL, 10);
        aw_metric_set(sm.other_due, (double)due);
        if (due)
            AW_INFO(SLOG, "%lld due version(s) of store(s) %s not served here (--stores): "
                    "skipped", due, aw_pg_result_get(r, 0, 1));
    }
    aw_pg_result_free(r);
    return rc;
}

int aw_cmd_scrub(aw_config *cfg) {
    declare_metrics();
    int64_t every = cfg->scrub_interval_s;
    char interval[32], owner[128], host[64] = "";
    snprintf(interval, sizeof interval, "%lld seconds", (long long)every);
    gethostname(host, sizeof host - 1);
    snprintf(owner, sizeof owner, "%s:%ld", host, (long)getpid());
    aw_daemon_signals();

    char err[1024];
    aw_pg *pg = NULL;
    aw_stores *stores = NULL;
    if (aw_pg_connect(cfg->pg_conninfo, &pg, err, sizeof err) != AW_OK ||
        aw_stores_open(cfg, &stores, err, sizeof err) != AW_OK) {
        fprintf(stderr, "artifact-watch scrub: %s\n", err);
        aw_pg_destroy(pg);
        return 1;
    }
    int status = 0;
    for (bool first = true; !aw_stop; first = false) {
        /* each store through its own client; another store's versions are its scrub's */
        int rc = AW_OK;
        for (size_t i = 0; rc == AW_OK && i < aw_stores_count(stores) && !aw_stop; i++) {
            const char *store = aw_stores_name(stores, i);
            rc = scrub_pass(pg, aw_stores_client(stores, store), store, cfg, interval, owner,
                            first && cfg->scrub_all, err, sizeof err);
        }
        if (rc == AW_OK)
            rc = count_others(pg, stores, err, sizeof err);
        if (rc != AW_OK) {
            AW_ERROR(SLOG, "%s", rc == AW_ENOMEM ? "out of memory" : err);
            status = 1;
            if (cfg->scrub_once || aw_pg_is_broken(pg))
                break;
        }
        if (rc == AW_OK)
            aw_metric_set(aw_metric_gauge("aw_scrub_last_success_timestamp_seconds",
                                          "When a scrub pass last finished without a failure.",
                                          NULL),
                          (double)time(NULL));
        aw_metrics_ready(rc == AW_OK, rc == AW_OK ? NULL : "the last pass failed; see the log");
        if (cfg->scrub_once)
            break;
        /* what comes due next is picked up within a minute */
        (void)aw_nap(60000);
    }
    aw_stores_destroy(stores);
    aw_pg_destroy(pg);
    return status;
}
