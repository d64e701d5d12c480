/*
 * One listing page of a backfill. The page is compared with the index in
 * PostgreSQL (one query: which entries it has no matching version of),
 * those entries are fetched and hashed as ingest does, and everything is
 * written through the indexer as a listing's observations, which merge
 * with what events indexed. Objects the index holds in the page's key range
 * that the listing does not show are asked for with a HEAD; a 404 makes a
 * reconcile tombstone.
 */
#define _GNU_SOURCE /* timegm */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "aw/codec.h"
#include "aw/hash.h"
#include "aw/log.h"
#include "aw/util.h"
#include "internal.h"

/* ------------------------------------------------------------ helpers */

typedef struct sbuf {
    char *p;
    size_t len, cap;
    bool oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n) {
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np) {
            b->oom = true;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

/* Appends one element of a PostgreSQL array literal. */
static void arr_add(sbuf *b, const char *s) {
    sb_put(b, b->len ? "," : "{", 1);
    if (!s) {
        sb_put(b, "NULL", 4);
        return;
    }
    sb_put(b, "\"", 1);
    for (const char *p = s; *p; p++) {
        if (*p == '"' || *p == '\\')
            sb_put(b, "\\", 1);
        sb_put(b, p, 1);
    }
    sb_put(b, "\"", 1);
}

static const char *arr_end(sbuf *b) {
    sb_put(b, b->len ? "}" : "{}", b->len ? 1 : 2);
    return b->oom ? NULL : b->p;
}

/* ------------------------------------------------------------ classify */

/* Entries of the page the index has no matching present version of: by
 * version id in a versioned bucket, else by ETag, else (a store that sends
 * none) by size and Last-Modified. known: the key has a version at all.
 * One LATERAL aggregate per listed key, which the planner cannot turn into a
 * join: an index probe for the key's versions whatever the statistics say.
 * As a join, a bucket new to the statistics (the usual one to backfill) was
 * estimated at one row, and every page compared its keys with all of the
 * bucket's versions indexed so far; a condition on the live state in the
 * WHERE would let it pick aw.object_versions_live_keys, whose key column
 * (COLLATE "C") an equality cannot use, for the same effect. */
static const char *const classify_sql =
    "SELECT l.i - 1, COALESCE(m.known, false)"
    " FROM unnest($3::text[], $4::text[], $5::bigint[], $6::text[], $7::text[])"
    "  WITH ORDINALITY AS l(key, etag, size, lm, vid, i)"
    " LEFT JOIN LATERAL (SELECT bool_or(v.state = 'present' AND NOT v.deleted) AS known,"
    "  bool_or(CASE"
    "   WHEN l.size < 0 THEN v.state = 'tombstone' AND v.version_id = l.vid"
    "   WHEN l.vid IS NOT NULL THEN v.state = 'present' AND v.version_id = l.vid END) AS found"
    "  FROM aw.object_versions v WHERE v.store = $1 AND v.bucket = $2 AND v.key = l.key) m"
    "  ON true"
    /* an unversioned key's listing shows its current bytes: the index's
     * current version must hold them (the same bytes in an older or a
     * deleted version are not it) */
    " LEFT JOIN LATERAL (SELECT v.state = 'present' AND NOT v.deleted AND CASE"
    "   WHEN l.etag IS NOT NULL THEN v.etag = l.etag"
    "   ELSE v.size = l.size AND v.last_modified = l.lm::timestamptz END AS found"
    "  FROM aw.object_versions v WHERE v.store = $1 AND v.bucket = $2 AND v.key = l.key"
    "   AND l.vid IS NULL AND l.size >= 0"
    "  ORDER BY aw.version_order(v) DESC LIMIT 1) c ON true"
    " WHERE COALESCE(m.found, c.found) IS NOT TRUE"
    " ORDER BY l.i";

/* Keys (and versions) the index holds as present in the range that the
 * listing does not show. */
static const char *const missing_sql =
    "SELECT DISTINCT v.key COLLATE \"C\", CASE WHEN $8 THEN v.version_id END"
    " FROM aw.object_versions v"
    " WHERE v.store = $1 AND v.bucket = $2 AND v.key COLLATE \"C\" > $3 AND"
    "  ($4::text IS NULL OR v.key COLLATE \"C\" < $4 OR ($5 AND v.key = $4)) AND"
    "  starts_with(v.key, $6) AND v.state = 'present' AND NOT v.deleted AND"
    "  NOT EXISTS (SELECT 1 FROM unnest($7::text[], $9::text[]) l(key, vid)"
    "   WHERE l.key = v.key AND (NOT $8 OR l.vid IS NOT DISTINCT FROM v.version_id)) AND"
    "  ($10::text[] IS NULL OR v.key = ANY ($10::text[]))"
    " ORDER BY 1, 2";

/* Each listed version's row in the index, if any, and its sequencer key
 * (NULL when it has none). */
static const char *const order_sql =
    "SELECT l.i - 1, o.id IS NOT NULL, o.seq_key"
    " FROM unnest($3::text[], $4::text[]) WITH ORDINALITY AS l(key, vid, i)"
    " LEFT JOIN LATERAL (SELECT v.id, v.seq_key FROM aw.object_versions v WHERE v.store = $1"
    "  AND v.bucket = $2 AND v.key = l.key AND v.version_id = l.vid"
    "  ORDER BY v.seq_key IS NULL, v.id LIMIT 1) o ON true";

/* ------------------------------------------------------------ fetch */

typedef struct job {
    const aw_listed *l;
    const char *order_key;  /* its place among its key's versions (versioned buckets) */
    bool known;             /* the key has another version indexed */
    aw_sink s;
    uint8_t sha256[32], md5[16];
    char content_type[128]; /* as the GET said; the request is gone by the write */
} job;

/* Runs reqs in chunks that keep to the rate limit. */
static int fetch_paced(backfill *bf, aw_fetch *reqs, size_t n) {
    long max = bf->cfg->backfill_max_objects_per_sec;
    size_t chunk = max > 0 ? (size_t)(max < 1000 ? max : 1000) : n;
    for (size_t i = 0; i < n; i += chunk) {
        aw_rate *const limit[1] = {&bf->rate};
        if (!aw_rate_wait(limit, 1))
            return AW_EINTERRUPTED;
        size_t k = n - i < chunk ? n - i : chunk;
        aw_range_policy rp = {.range_size = bf->cfg->fetch_range_size,
                              .concurrency = (int)bf->cfg->fetch_range_concurrency};
        int rc = aw_s3_fetch_batch(bf->s3, reqs + i, k, &rp, &bf->pol, &aw_stop);
        aw_rate_note(&bf->rate, (int64_t)k);
        if (rc != AW_OK)
            return rc;
    }
    return AW_OK;
}

/* ------------------------------------------------------------ write */

/* Writes the observations; when the server refuses the batch, one by one,
 * so one bad row costs only itself. */
static int write_obs(backfill *bf, aw_observation *obs, size_t n, char *errstr, size_t errn) {
    if (!n)
        return AW_OK;
    int rc = aw_indexer_write(bf->ix, obs, n, errstr, errn);
    for (long wait = 500; rc == AW_EUNAVAILABLE && !aw_stop; wait *= 2) {
        AW_WARN(BLOG, "PostgreSQL unavailable (%s); retrying in %ld ms", errstr, wait);
        for (long t = 0; t < wait && !aw_stop; t += 100)
            usleep(100000);
        if (wait > 15000)
            wait = 15000;
        rc = aw_indexer_write(bf->ix, obs, n, errstr, errn);
    }
    if (rc != AW_EPG)
        return aw_stop && rc == AW_EUNAVAILABLE ? AW_EINTERRUPTED : rc;
    AW_WARN(BLOG, "PostgreSQL refused a batch of %zu (%s); writing them one by one", n, errstr);
    for (size_t i = 0; i < n; i++) {
        char e[512];
        int one = aw_indexer_write(bf->ix, &obs[i], 1, e, sizeof e);
        if (one == AW_EPG) {
            AW_ERROR(BLOG, "not indexed: s3://%s/%s: %s", obs[i].bucket, obs[i].key, e);
            bf->c.failed++;
        } else if (one != AW_OK) {
            snprintf(errstr, errn, "%s", e);
            return one;
        }
    }
    return AW_OK;
}

/* ------------------------------------------------------------ the page */

static int query(backfill *bf, const char *sql, int np, const char *const *p, aw_pg_result **res,
                 char *errstr, size_t errn) {
    int rc = aw_pg_query(bf->pg, sql, np, p, res, errstr, errn);
    return rc == AW_OK ? AW_OK : aw_pg_failure_is_data(bf->pg) ? AW_EPG : AW_EUNAVAILABLE;
}

/* Which of items[0..n) need indexing: sets need[i] (1 new key, 2 changed). */
static int classify(backfill *bf, const aw_listed *items, size_t n, char *need, char *errstr,
                    size_t errn) {
    sbuf k = {0}, e = {0}, s = {0}, lm = {0}, v = {0};
    for (size_t i = 0; i < n; i++) {
        char sz[24];
        snprintf(sz, sizeof sz, "%lld", (long long)items[i].size);
        arr_add(&k, items[i].key);
        arr_add(&e, items[i].etag);
        arr_add(&s, sz);
        arr_add(&lm, bf_iso_ok(items[i].last_modified) ? items[i].last_modified : NULL);
        arr_add(&v, items[i].version_id);
    }
    const char *p[7] = {bf->cfg->s3_store, bf->bucket, arr_end(&k), arr_end(&e),
                        arr_end(&s), arr_end(&lm), arr_end(&v)};
    int rc = AW_ENOMEM;
    aw_pg_result *res = NULL;
    if (p[2] && p[3] && p[4] && p[5] && p[6])
        rc = query(bf, classify_sql, 7, p, &res, errstr, errn);
    for (int r = 0; rc == AW_OK && r < aw_pg_result_rows(res); r++) {
        long i = strtol(aw_pg_result_get(res, r, 0), NULL, 10);
        if (i >= 0 && (size_t)i < n)
            need[i] = !strcmp(aw_pg_result_get(res, r, 1), "t") ? 2 : 1;
    }
    aw_pg_result_free(res);
    free(k.p), free(e.p), free(s.p), free(lm.p), free(v.p);
    return rc;
}

/*
 * A key strictly between lo and hi (NULL: no upper bound) in byte order, for
 * a version the listing places between two others. Sequencer keys are
 * 'h'/'c' and hex digits, so there is always room: after lo when lo and hi
 * differ before lo ends (lo and '~', the highest printable), else just below
 * hi's next character. NULL when there is none (hi is lo and one character
 * at the bottom of the table) or no memory.
 */
static char *key_between(const char *lo, const char *hi) {
    size_t l = strlen(lo), p = 0;
    while (hi && lo[p] && lo[p] == hi[p])
        p++;
    char next = '~';
    if (hi && p == l) { /* lo is where hi starts */
        if ((unsigned char)hi[p] <= '!')
            return NULL;
        next = (char)(hi[p] - 1);
    }
    char *k = malloc(l + 2);
    if (k)
        memcpy(k, lo, l), k[l] = next, k[l + 1] = '\0';
    return k;
}

/*
 * A versioned listing says in which order a key's versions came: newest
 * first. A version without a sequencer key in the index (new to it, or
 * indexed before listings gave one) takes one that sorts it there: between
 * the nearest older and the nearest newer listed versions that have one
 * (below every real sequencer when none is older). So a version learned
 * from a listing, its event lost, is the key's current version in the index
 * when it is in the store. keys[i] (malloc'd) for items[i] that needs one;
 * those already indexed are written through the indexer now, the new ones
 * go with their observations.
 */
static int order_keys(backfill *bf, const aw_listed *items, size_t n, char **keys, char *errstr,
                      size_t errn) {
    sbuf k = {0}, v = {0};
    for (size_t i = 0; i < n; i++) {
        arr_add(&k, items[i].key);
        arr_add(&v, items[i].version_id);
    }
    const char *p[4] = {bf->cfg->s3_store, bf->bucket, arr_end(&k), arr_end(&v)};
    aw_pg_result *res = NULL;
    int rc = p[2] && p[3] ? query(bf, order_sql, 4, p, &res, errstr, errn) : AW_ENOMEM;
    const char **have = calloc(n + 1, sizeof *have);
    bool *indexed = calloc(n + 1, sizeof *indexed);
    if (rc == AW_OK && (!have || !indexed))
        rc = AW_ENOMEM;
    for (int r = 0; rc == AW_OK && r < aw_pg_result_rows(res); r++) {
        long i = strtol(aw_pg_result_get(res, r, 0), NULL, 10);
        if (i >= 0 && (size_t)i < n) {
            indexed[i] = !strcmp(aw_pg_result_get(res, r, 1), "t");
            have[i] = aw_pg_result_get(res, r, 2);
        }
    }
    /* each key's versions are together, newest first: walk them oldest first */
    json_t *fill = json_array();
    for (size_t e = n; rc == AW_OK && e > 0;) {
        size_t g = e - 1;
        while (g > 0 && !strcmp(items[g - 1].key, items[e - 1].key))
            g--;
        const char *lower = "";
        for (size_t i = e; rc == AW_OK && i-- > g;) {
            if (have[i] || !items[i].version_id) {
                lower = have[i] ? have[i] : lower;
                continue;
            }
            const char *upper = NULL; /* the nearest newer version that has a key */
            for (size_t j = i; !upper && j-- > g;)
                upper = have[j];
            if (!(keys[i] = key_between(lower, upper)))
                continue; /* no room: left to time and id */
            lower = keys[i];
            if (indexed[i] && fill &&
                json_array_append_new(fill, json_pack("{s:s, s:s, s:s}", "key", items[i].key,
                                                      "version_id", items[i].version_id,
                                                      "seq_key", keys[i])))
                rc = AW_ENOMEM;
        }
        e = g;
    }
    char *fj = rc == AW_OK && fill && json_array_size(fill) ? json_dumps(fill, JSON_COMPACT)
                                                              : NULL;
    if (rc == AW_OK && !fill)
        rc = AW_ENOMEM;
    if (rc == AW_OK && fj)
        rc = aw_indexer_record_order(bf->pg, bf->cfg->s3_store, bf->bucket, fj, errstr, errn) ==
                     AW_OK
                 ? AW_OK
                 : aw_pg_failure_is_data(bf->pg) ? AW_EPG : AW_EUNAVAILABLE;
    free(fj);
    json_decref(fill);
    free(have), free(indexed);
    aw_pg_result_free(res);
    free(k.p), free(v.p);
    return rc;
}

/* The observation of job j, read whole by f; a blob whose bytes disagree
 * with the store's Content-MD5 (Azure) is a failure instead. */
static void observe_read(backfill *bf, job *j, const aw_fetch *f, aw_observation *obs,
                         size_t *nobs) {
    bool azure = aw_s3_kind(bf->s3) == AW_STORE_AZURE;
    if (azure && aw_content_md5_differs(&f->info, j->md5)) {
        bf->c.failed++;
        AW_ERROR(BLOG, "GET s3://%s/%s: the bytes read do not match the store's "
                 "Content-MD5 %s; not indexed", bf->bucket, f->key, f->info.content_md5);
        return;
    }
    const aw_listed *l = j->l;
    snprintf(j->content_type, sizeof j->content_type, "%s", f->info.content_type);
    obs[(*nobs)++] = (aw_observation){
        .store = bf->cfg->s3_store, .bucket = bf->bucket, .key = l->key,
        .version_id = l->version_id, .etag = l->etag,
        .content_type = j->content_type[0] ? j->content_type : NULL,
        .event_time = bf_iso_ok(l->last_modified) ? l->last_modified : NULL,
        .last_modified = bf_iso_ok(l->last_modified) ? l->last_modified : NULL,
        .event_name = bf->event_name ? bf->event_name : "Listing", .listed = true,
        .kind = AW_OBS_CREATED,
        .root_path = aw_s3_root(bf->s3, bf->bucket),
        .order_key = j->order_key,
        .state = AW_OBS_PRESENT, .size = j->s.bytes, .has_sha256 = true,
        .has_md5 = bf->cfg->verify_md5 || (azure && f->info.content_md5[0]),
        .has_body = j->s.kept.max > 0,
        .body_cut = j->s.cut, .body = j->s.kept.p, .body_len = j->s.kept.len};
    memcpy(obs[*nobs - 1].sha256, j->sha256, 32);
    memcpy(obs[*nobs - 1].md5, j->md5, 16);
    bf->c.bytes += j->s.bytes;
    if (j->known)
        bf->c.changed++;
    else
        bf->c.added++;
}

/* Fetches and hashes the jobs, and makes an observation of each that
 * arrived whole. */
static int fetch_jobs(backfill *bf, job *jobs, size_t nj, aw_observation *obs, size_t *nobs,
                      char *errstr, size_t errn) {
    aw_fetch *reqs = calloc(nj ? nj : 1, sizeof *reqs);
    if (!reqs)
        return AW_ENOMEM;
    int rc = AW_OK;
    for (size_t i = 0; i < nj && rc == AW_OK; i++) {
        job *j = &jobs[i];
        rc = aw_hash_new(bf->cfg->verify_md5 || aw_s3_kind(bf->s3) == AW_STORE_AZURE, &j->s.hash);
        j->s.kept.max = aw_indexer_keep_bytes(bf->ix, j->l->key);
        /* the listed bytes, not whatever the key holds by now */
        reqs[i] = (aw_fetch){.bucket = bf->bucket, .key = j->l->key,
                             .version_id = j->l->version_id,
                             .if_match = j->l->version_id ? NULL : j->l->etag,
                             .size_hint = j->l->size, .on_start = aw_sink_start,
                             .on_body = aw_sink_body, .ud = &j->s};
    }
    if (rc == AW_OK)
        rc = fetch_paced(bf, reqs, nj);
    size_t away = 0;
    for (size_t i = 0; i < nj && rc == AW_OK; i++) {
        const aw_fetch *f = &reqs[i];
        job *j = &jobs[i];
        bool unpinned = !j->l->version_id && !j->l->etag;
        if (f->outcome == AW_FETCH_OK && unpinned &&
            bf_modified_since(j->l->last_modified, f->info.last_modified)) {
            /* nothing could pin a file without an ETag: rewritten since the
             * listing, its bytes are not the listed ones */
            bf->c.gone++;
            AW_INFO(BLOG, "s3://%s/%s was rewritten since it was listed; left to the next run",
                    bf->bucket, f->key);
        } else if (f->outcome == AW_FETCH_OK) {
            if (aw_hash_final(j->s.hash, j->sha256, j->md5) != AW_OK) {
                rc = AW_ETLS;
                break;
            }
            observe_read(bf, j, f, obs, nobs);
        } else if (f->outcome == AW_FETCH_NOT_FOUND || f->outcome == AW_FETCH_PRECONDITION) {
            /* deleted or rewritten since it was listed: its event, or the
             * next run, tells what it is now */
            bf->c.gone++;
            AW_INFO(BLOG, "s3://%s/%s changed since it was listed (%s); left to its event "
                          "or the next run", bf->bucket, f->key,
                    f->outcome == AW_FETCH_NOT_FOUND ? "404" : "412");
        } else if (f->outcome == AW_FETCH_UNAVAILABLE && (f->info.status == 0 || ++away > nj / 2)) {
            snprintf(errstr, errn, "GET s3://%s/%s: %s", bf->bucket, f->key, f->error);
            rc = AW_EUNAVAILABLE;
        } else {
            bf->c.failed++;
            AW_ERROR(BLOG, "GET s3://%s/%s failed after %d attempt(s): %s", bf->bucket, f->key,
                     f->attempts, f->error);
        }
    }
    free(reqs);
    return rc;
}

/* The HEADs of what the index holds and the listing lacks; a tombstone for
 * each that is gone. */
static int reconcile(backfill *bf, aw_pg_result *m, aw_observation *obs, size_t *nobs,
                     char when[32], char *errstr, size_t errn) {
    int rows = aw_pg_result_rows(m);
    aw_fetch *reqs = calloc(rows ? (size_t)rows : 1, sizeof *reqs);
    if (!reqs)
        return AW_ENOMEM;
    for (int i = 0; i < rows; i++)
        reqs[i] = (aw_fetch){.method = "HEAD", .bucket = bf->bucket,
                             .key = aw_pg_result_get(m, i, 0),
                             .version_id = aw_pg_result_get(m, i, 1)};
    int rc = fetch_paced(bf, reqs, (size_t)rows);
    bf_now_iso(when);
    for (int i = 0; i < rows && rc == AW_OK; i++) {
        const aw_fetch *f = &reqs[i];
        if (f->outcome == AW_FETCH_OK)
            continue; /* the listing missed it (it was being written); still there */
        if (f->outcome == AW_FETCH_UNAVAILABLE && f->info.status == 0) {
            snprintf(errstr, errn, "HEAD s3://%s/%s: %s", bf->bucket, f->key, f->error);
            rc = AW_EUNAVAILABLE;
            break;
        }
        if (f->outcome != AW_FETCH_NOT_FOUND) {
            bf->c.failed++;
            AW_ERROR(BLOG, "HEAD s3://%s/%s failed: %s; not marked deleted", bf->bucket,
                     f->key, f->error);
            continue;
        }
        bf->c.deleted++;
        if (bf->dry_run) {
            printf("would mark deleted s3://%s/%s%s%s\n", bf->bucket, f->key,
                   f->version_id ? " version " : "", f->version_id ? f->version_id : "");
            continue;
        }
        obs[(*nobs)++] = (aw_observation){
            .store = bf->cfg->s3_store, .bucket = bf->bucket, .key = f->key,
            .version_id = f->version_id, .event_time = when, .event_name = "Reconcile",
            .listed = true, .kind = AW_OBS_DELETED, .state = AW_OBS_TOMBSTONE, .size = -1};
    }
    free(reqs);
    return rc;
}

/* The listed versions that need a read; a dry run prints them instead. */
static size_t pick_jobs(backfill *bf, const aw_listed *items, size_t n, const char *need,
                        char **order, job *jobs) {
    size_t nj = 0;
    for (size_t i = 0; i < n; i++) {
        if (!need[i]) {
            bf->c.unchanged++;
            continue;
        }
        if (bf->dry_run) {
            printf("would index s3://%s/%s%s%s (%s)\n", bf->bucket, items[i].key,
                   items[i].version_id ? " version " : "",
                   items[i].version_id ? items[i].version_id : "",
                   need[i] == 2 ? "changed" : "new");
            if (need[i] == 2)
                bf->c.changed++;
            else
                bf->c.added++;
            continue;
        }
        if (items[i].delete_marker) /* nothing to read: recorded as it is */
            continue;
        jobs[nj].l = &items[i];
        jobs[nj].order_key = order[i];
        jobs[nj++].known = need[i] == 2;
    }
    return nj;
}

int bf_page(backfill *bf, const aw_listed *items, size_t n, const bf_range *r, char *errstr,
            size_t errn) {
    char *need = calloc(n ? n : 1, 1), **order = calloc(n ? n : 1, sizeof *order);
    job *jobs = calloc(n ? n : 1, sizeof *jobs);
    aw_pg_result *missing = NULL;
    aw_observation *obs = NULL;
    sbuf keys = {0}, vids = {0}, only = {0};
    size_t nj = 0, nobs = 0;
    char when[32];
    int rc = need && jobs && order ? AW_OK : AW_ENOMEM;
    int64_t t[6] = {aw_now_ms()};
    if (rc == AW_OK && n)
        rc = classify(bf, items, n, need, errstr, errn);
    if (rc == AW_OK && n && bf->versioned && !bf->dry_run)
        rc = order_keys(bf, items, n, order, errstr, errn);
    t[1] = aw_now_ms();
    if (rc == AW_OK)
        nj = pick_jobs(bf, items, n, need, order, jobs);
    /* the range's index entries the listing does not show */
    for (size_t i = 0; i < n; i++) {
        arr_add(&keys, items[i].key);
        arr_add(&vids, items[i].version_id);
    }
    for (size_t i = 0; i < r->nonly; i++)
        arr_add(&only, r->only[i]);
    const char *p[10] = {bf->cfg->s3_store, bf->bucket, r->after, r->upto,
                         r->upto_inclusive ? "true" : "false", bf->prefix, arr_end(&keys),
                         bf->versioned ? "true" : "false", arr_end(&vids),
                         r->only ? arr_end(&only) : NULL};
    if (rc == AW_OK)
        rc = p[6] && p[8] && (!r->only || p[9]) ? query(bf, missing_sql, 10, p, &missing, errstr,
                                                        errn)
                                                : AW_ENOMEM;
    t[2] = aw_now_ms();
    size_t cap = n + (missing ? (size_t)aw_pg_result_rows(missing) : 0) + 1;
    if (rc == AW_OK && !(obs = calloc(cap, sizeof *obs)))
        rc = AW_ENOMEM;
    /* delete markers of a versioned bucket are recorded without a read */
    for (size_t i = 0; rc == AW_OK && !bf->dry_run && i < n; i++)
        if (need[i] && items[i].delete_marker)
            obs[nobs++] = (aw_observation){
                .store = bf->cfg->s3_store, .bucket = bf->bucket, .key = items[i].key,
                .version_id = items[i].version_id,
                .event_time = bf_iso_ok(items[i].last_modified) ? items[i].last_modified : NULL,
                .event_name = bf->event_name ? bf->event_name : "Listing", .listed = true, .kind = AW_OBS_DELETE_MARKER,
                .order_key = order[i], .state = AW_OBS_TOMBSTONE, .size = -1};
    if (rc == AW_OK && nj)
        rc = fetch_jobs(bf, jobs, nj, obs, &nobs, errstr, errn);
    t[3] = aw_now_ms();
    if (rc == AW_OK && aw_pg_result_rows(missing) > 0)
        rc = reconcile(bf, missing, obs, &nobs, when, errstr, errn);
    t[4] = aw_now_ms();
    if (rc == AW_OK && !bf->dry_run)
        rc = write_obs(bf, obs, nobs, errstr, errn);
    t[5] = aw_now_ms();
    AW_DEBUG(BLOG, "page of %zu: compare %lld ms, index range %lld ms, %zu GETs %lld ms, "
                   "HEADs %lld ms, write %lld ms", n, (long long)(t[1] - t[0]),
             (long long)(t[2] - t[1]), nj, (long long)(t[3] - t[2]), (long long)(t[4] - t[3]),
             (long long)(t[5] - t[4]));
    if (rc == AW_ENOMEM)
        snprintf(errstr, errn, "out of memory");
    for (size_t i = 0; i < nj; i++) {
        aw_hash_destroy(jobs[i].s.hash);
        free(jobs[i].s.kept.p);
    }
    for (size_t i = 0; order && i < n; i++)
        free(order[i]);
    free(order);
    aw_pg_result_free(missing);
    free(obs);
    free(jobs);
    free(need);
    free(keys.p);
    free(vids.p);
    free(only.p);
    return rc;
}
