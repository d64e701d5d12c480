/*
 * `artifact-watch backfill s3://BUCKET[/PREFIX]...`: makes the index match
 * the store's own listing. Notifications can be lost (a target that was
 * down, a bucket older than the deployment, a topic whose retention ran
 * out, files written behind a gateway's back); the listing cannot.
 *
 * Pages of ListObjectsV2 (ListObjectVersions in a versioned bucket) are
 * settled one at a time by bf_page (page.c); after each the last
 * settled key is saved in aw.backfill_progress, so a killed run continues
 * after it and redoes at most one page, which changes nothing the second
 * time. Nothing here writes versions itself: the indexer does, as it does
 * for events, and merges the two.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "aw/codec.h"
#include "aw/backfill.h"
#include "aw/daemon.h"
#include "aw/log.h"
#include "aw/metrics.h"
#include "aw/util.h"
#include "internal.h"


/* ------------------------------------------------------------ requests */

/* ------------------------------------------------------------ progress */

/* Where this bucket and prefix continue: after_key of an unfinished run
 * (its counts are taken up again), else from the start. */
static int progress_begin(backfill *bf, char **after, int64_t *expected, char *errstr,
                          size_t errn) {
    const char *p[3] = {bf->cfg->s3_store, bf->bucket, bf->prefix};
    aw_pg_result *res = NULL;
    *after = NULL;
    *expected = 0;
    if (bf->ephemeral)
        return AW_OK;
    if (aw_pg_query(bf->pg,
                    "SELECT after_key, listed, indexed, deleted, bytes, finished_at IS NOT NULL"
                    " FROM aw.backfill_progress WHERE store = $1 AND bucket = $2 AND prefix = $3",
                    3, p, &res, errstr, errn) != AW_OK)
        return AW_EPG;
    bool resume = aw_pg_result_rows(res) == 1 && aw_pg_result_get(res, 0, 0) &&
                  !bf->cfg->backfill_restart && !bf->dry_run;
    if (aw_pg_result_rows(res) == 1) {
        const char *done = aw_pg_result_get(res, 0, 5);
        if (done && !strcmp(done, "t"))
            *expected = strtoll(aw_pg_result_get(res, 0, 1), NULL, 10);
    }
    if (resume) {
        *after = strdup(aw_pg_result_get(res, 0, 0));
        bf->c.listed = strtoll(aw_pg_result_get(res, 0, 1), NULL, 10);
        bf->c.added = strtoll(aw_pg_result_get(res, 0, 2), NULL, 10);
        bf->c.deleted = strtoll(aw_pg_result_get(res, 0, 3), NULL, 10);
        bf->c.bytes = strtoll(aw_pg_result_get(res, 0, 4), NULL, 10);
    }
    aw_pg_result_free(res);
    if (resume)
        return *after ? AW_OK : AW_ENOMEM;
    if (bf->dry_run)
        return AW_OK;
    return aw_pg_query(bf->pg,
                       "INSERT INTO aw.backfill_progress (store, bucket, prefix)"
                       " VALUES ($1, $2, $3)"
                       " ON CONFLICT (store, bucket, prefix) DO UPDATE SET after_key = NULL,"
                       "  listed = 0, indexed = 0, deleted = 0, bytes = 0, started_at = now(),"
                       "  updated_at = now(), finished_at = NULL",
                       3, p, NULL, errstr, errn) == AW_OK ? AW_OK : AW_EPG;
}

static int progress_save(backfill *bf, const char *after, bool finished, char *errstr,
                         size_t errn) {
    if (bf->dry_run || bf->ephemeral)
        return AW_OK;
    char l[24], ix[24], d[24], b[24];
    snprintf(l, sizeof l, "%lld", (long long)bf->c.listed);
    snprintf(ix, sizeof ix, "%lld", (long long)(bf->c.added + bf->c.changed));
    snprintf(d, sizeof d, "%lld", (long long)bf->c.deleted);
    snprintf(b, sizeof b, "%lld", (long long)bf->c.bytes);
    const char *p[9] = {bf->cfg->s3_store, bf->bucket, bf->prefix, finished ? NULL : after,
                        l, ix, d, b, finished ? "true" : "false"};
    return aw_pg_query(bf->pg,
                       "UPDATE aw.backfill_progress SET after_key = $4, listed = $5,"
                       " indexed = $6, deleted = $7, bytes = $8, updated_at = now(),"
                       " finished_at = CASE WHEN $9 THEN now() END"
                       " WHERE store = $1 AND bucket = $2 AND prefix = $3",
                       9, p, NULL, errstr, errn) == AW_OK ? AW_OK : AW_EPG;
}

/* ------------------------------------------------------------ reporting */

/* A target's counts, added to the metrics once it ends (a scrape during a
 * long run sees the pages so far through show_progress). */
static aw_metric *by[5], *bytes;

/* The series backfill exports, registered at start so each shows 0 (the
 * last-success time appears with the first target that succeeds). */
static void declare_metrics(void) {
    static const char *const names[] = {"new", "changed", "unchanged", "deleted", "failed", NULL};
    aw_metric_family(false, "aw_backfill_objects_total",
                     "Listed objects backfill settled, by result.", "result", names, by);
    bytes = aw_metric_counter("aw_backfill_bytes_total", "Bytes backfill fetched and hashed.", NULL);
}

static void count_metrics(const bf_counts *now, bf_counts *shown) {
    aw_metric_add(by[0], (double)(now->added - shown->added));
    aw_metric_add(by[1], (double)(now->changed - shown->changed));
    aw_metric_add(by[2], (double)(now->unchanged - shown->unchanged));
    aw_metric_add(by[3], (double)(now->deleted - shown->deleted));
    aw_metric_add(by[4], (double)(now->failed - shown->failed));
    aw_metric_add(bytes, (double)(now->bytes - shown->bytes));
    *shown = *now;
    aw_metrics_heartbeat();
}

static void show_progress(backfill *bf, int64_t expected, bool last) {
    count_metrics(&bf->c, &bf->shown);
    static int64_t shown;
    int64_t now = aw_now_ms();
    if (!last && now - shown < 1000)
        return;
    shown = now;
    double secs = (double)(now - bf->started_ms) / 1000.0;
    double rate = secs > 0 ? (double)bf->c.listed / secs : 0;
    char eta[48] = "";
    if (expected > bf->c.listed && rate > 0)
        snprintf(eta, sizeof eta, ", ETA %.0f s", (double)(expected - bf->c.listed) / rate);
    char line[320];
    snprintf(line, sizeof line, "s3://%s/%s: listed %lld, indexed %lld, %.1f MiB hashed, "
             "%.0f objects/s%s", bf->bucket, bf->prefix, (long long)bf->c.listed,
             (long long)(bf->c.added + bf->c.changed), (double)bf->c.bytes / 1048576.0, rate,
             eta);
    if (isatty(STDERR_FILENO))
        fprintf(stderr, "\r\033[K%s%s", line, last ? "\n" : "");
    else if (!last && now - bf->started_ms > 10000)
        AW_INFO(BLOG, "%s", line);
}

static void summary(const backfill *bf, const char *how) {
    double secs = (double)(aw_now_ms() - bf->started_ms) / 1000.0;
    const char *w = bf->dry_run ? "would be " : "";
    printf("backfill s3://%s/%s%s: listed %lld; %sindexed %lld (new %lld, changed %lld); "
           "unchanged %lld; %smarked deleted %lld; changed while listed %lld; failed %lld; "
           "%.1f MiB hashed in %.1f s\n",
           bf->bucket, bf->prefix, how, (long long)bf->c.listed, w,
           (long long)(bf->c.added + bf->c.changed), (long long)bf->c.added,
           (long long)bf->c.changed, (long long)bf->c.unchanged, w, (long long)bf->c.deleted,
           (long long)bf->c.gone, (long long)bf->c.failed, (double)bf->c.bytes / 1048576.0, secs);
    fflush(stdout);
}

/* ------------------------------------------------------------ one target */

static void carry_free_one(aw_listed *c) {
    free(c->key);
    free(c->version_id);
    free(c->etag);
    free(c->last_modified);
}

static void carry_free(aw_listed *c, size_t n) {
    for (size_t i = 0; i < n; i++)
        carry_free_one(&c[i]);
    free(c);
}

/* Where a listing stands: every key up to done is settled; carry holds
 * the versions of the key the last page ended in (owned). */
typedef struct walk {
    char *done;
    aw_listed *carry;
    size_t ncarry;
} walk;

/* Settles one page: the carried versions first, then the page's, up to
 * the last key the page is sure to hold all of. */
static int take_page(backfill *bf, aw_listing_page *pg, bool more, walk *w, char *errstr,
                     size_t errn) {
    bf->c.listed += (int64_t)pg->n;
    /* the entries of the key the last page ended in come first: a key is
     * settled with every one of its versions, listed in order */
    aw_listed *all = malloc((w->ncarry + pg->n + 1) * sizeof *all);
    if (!all)
        return AW_ENOMEM;
    if (w->ncarry)
        memcpy(all, w->carry, w->ncarry * sizeof *all);
    if (pg->n)
        memcpy(all + w->ncarry, pg->items, pg->n * sizeof *all);
    size_t nall = w->ncarry + pg->n, cut = nall;
    const char *last = nall ? all[nall - 1].key : NULL;
    /* a versioned page may end inside a key: that key waits for the next */
    if (more && bf->versioned && last)
        while (cut > 0 && !strcmp(all[cut - 1].key, last))
            cut--;
    bf_range r = {.after = w->done, .upto = more ? (last ? last : w->done) : NULL,
                  .upto_inclusive = !bf->versioned && last};
    int rc = cut || !more ? bf_page(bf, all, cut, &r, errstr, errn) : AW_OK;
    const char *upto = cut ? all[cut - 1].key : NULL;
    char *d = rc == AW_OK && upto && strcmp(upto, w->done) > 0 ? strdup(upto) : NULL;
    /* the settled entries are done with; the rest carries over (owned) */
    for (size_t i = 0; i < cut && i < w->ncarry; i++)
        carry_free_one(&w->carry[i]);
    size_t nn = nall - cut;
    aw_listed *m = nn ? malloc(nn * sizeof *m) : NULL;
    if (nn && m)
        memcpy(m, all + cut, nn * sizeof *m);
    for (size_t i = cut > w->ncarry ? cut - w->ncarry : 0; i < pg->n; i++)
        pg->items[i] = (aw_listed){0}; /* moved to m */
    free(w->carry);
    free(all);
    w->carry = m, w->ncarry = m ? nn : 0;
    if (nn && !m) {
        free(d);
        return AW_ENOMEM;
    }
    if (rc == AW_OK && d) {
        free(w->done);
        w->done = d;
    }
    return rc;
}

/* Lists and settles s3://bf->bucket/bf->prefix. AW_OK when the listing
 * reached its end. */
static int backfill_target(backfill *bf, char *errstr, size_t errn) {
    int rc = aw_s3_versioned(bf->s3, &bf->pol, bf->bucket, &bf->versioned, errstr, errn);
    char *after = NULL;
    int64_t expected = 0;
    if (rc == AW_OK)
        rc = progress_begin(bf, &after, &expected, errstr, errn);
    if (rc == AW_OK && after)
        AW_INFO(BLOG, "s3://%s/%s: continuing after key \"%s\" (%lld listed before)",
                bf->bucket, bf->prefix, after, (long long)bf->c.listed);
    /* every key up to w.done is settled */
    walk w = {.done = after ? after : strdup("")};
    aw_listing_page pg = {0};
    bf_lister *lister = NULL;
    if (!w.done && rc == AW_OK)
        rc = AW_ENOMEM;
    if (rc == AW_OK)
        rc = bf_lister_start(bf, w.done, &lister, errstr, errn);
    while (rc == AW_OK && !aw_stop) {
        bool end;
        if ((rc = bf_lister_next(lister, &pg, &end, errstr, errn)) != AW_OK || end)
            break;
        if (pg.refused)
            AW_WARN(BLOG, "s3://%s: %zu listed entr%s left out: %s", bf->bucket, pg.refused,
                    pg.refused == 1 ? "y" : "ies", pg.refused_why);
        bool more = pg.truncated; /* the lister checked it has a marker to go on from */
        if ((rc = take_page(bf, &pg, more, &w, errstr, errn)) != AW_OK)
            break;
        if (!more) {
            rc = progress_save(bf, w.done, true, errstr, errn);
            break;
        }
        if ((rc = progress_save(bf, w.done, false, errstr, errn)) != AW_OK)
            break;
        show_progress(bf, expected, false);
    }
    if (rc == AW_OK && aw_stop) {
        snprintf(errstr, errn, "stopped; a new run continues after key \"%s\"", w.done ? w.done : "");
        rc = AW_EINTERRUPTED;
    }
    show_progress(bf, expected, true);
    bf_lister_stop(lister);
    aw_listing_page_clear(&pg);
    carry_free(w.carry, w.ncarry);
    free(w.done);
    return rc;
}

/* ------------------------------------------------------------ command */

static int parse_target(const char *arg, char **bucket, char **prefix) {
    if (strncmp(arg, "s3://", 5))
        return AW_EINVAL;
    const char *b = arg + 5, *slash = strchr(b, '/');
    *bucket = slash ? strndup(b, (size_t)(slash - b)) : strdup(b);
    *prefix = strdup(slash ? slash + 1 : "");
    if (!*bucket || !*prefix)
        return AW_ENOMEM;
    if (!aw_bucket_name_ok(*bucket) || !aw_utf8_valid(*prefix, strlen(*prefix)) ||
        strlen(*prefix) > 1024)
        return AW_EINVAL;
    return AW_OK;
}

int bf_run_target(backfill *bf, const char *bucket, const char *prefix) {
    memset(&bf->c, 0, sizeof bf->c);
    memset(&bf->shown, 0, sizeof bf->shown);
    bf->bucket = bucket;
    bf->prefix = prefix;
    bf->started_ms = aw_now_ms();
    aw_rate_init(&bf->rate, bf->cfg->backfill_max_objects_per_sec);
    char err[1024] = "";
    int rc = backfill_target(bf, err, sizeof err);
    bf->finished = rc == AW_OK;
    summary(bf, rc == AW_OK ? "" : " (not finished)");
    if (rc == AW_OK && !bf->c.failed && !bf->dry_run)
        aw_metric_set(aw_metric_gauge("aw_backfill_last_success_timestamp_seconds",
                                      "When a backfill of a target last reached the end of its "
                                      "listing with nothing failing.", NULL),
                      (double)time(NULL));
    aw_metrics_ready(rc == AW_OK, rc == AW_OK ? NULL : "the last target failed; see the log");
    if (rc != AW_OK)
        AW_ERROR(BLOG, "s3://%s/%s: %s", bucket, prefix, err);
    return rc == AW_OK && !bf->c.failed ? 0 : 1;
}

int aw_cmd_backfill(aw_config *cfg) {
    declare_metrics();
    static const char *const usage =
        "usage: artifact-watch backfill s3://BUCKET[/PREFIX]... [--dry-run] [--concurrency N]"
        " [--max-objects-per-sec N]\n       artifact-watch backfill --all-buckets [...]";
    if (cfg->backfill_all_buckets == (cfg->nargs > 0)) {
        fprintf(stderr, "artifact-watch backfill: %s\n%s\n",
                cfg->nargs ? "--all-buckets takes no s3:// arguments"
                           : "name what to backfill: s3://BUCKET[/PREFIX] or --all-buckets",
                usage);
        return 2;
    }
    char *buckets[AW_CONFIG_MAX_ARGS] = {0}, *prefixes[AW_CONFIG_MAX_ARGS] = {0};
    size_t nt = cfg->nargs;
    int status = 0;
    for (size_t i = 0; i < nt && !status; i++) {
        int rc = parse_target(cfg->args[i], &buckets[i], &prefixes[i]);
        if (rc != AW_OK) {
            fprintf(stderr, "artifact-watch backfill: \"%s\" is not s3://BUCKET[/PREFIX]\n",
                    cfg->args[i]);
            status = 2;
        }
    }
    backfill bf = {.cfg = cfg, .dry_run = cfg->backfill_dry_run,
                   .pol = {.concurrency = (int)cfg->backfill_concurrency,
                           .retries = (int)cfg->fetch_retries, .backoff_base_ms = 200,
                           .backoff_max_ms = 10000, .stop_grace_ms = 5000}};
    char err[1024];
    if (!status && (aw_stores_open(cfg, &bf.stores, err, sizeof err) != AW_OK ||
                    aw_indexer_new(cfg, &bf.ix, err, sizeof err) != AW_OK)) {
        fprintf(stderr, "artifact-watch backfill: %s\n", err);
        status = 2;
    }
    bf.s3 = aw_stores_client(bf.stores, cfg->s3_store); /* the default: always served */
    if (!status && aw_pg_connect(cfg->pg_conninfo, &bf.pg, err, sizeof err) != AW_OK) {
        AW_ERROR(BLOG, "PostgreSQL: %s", err);
        status = 1;
    }
    if (!status) {
        aw_s3xml_init();
        aw_daemon_signals();
    }
    if (!status && cfg->backfill_all_buckets) {
        aw_listing_page pg = {0};
        aw_list_req q = {0};
        int rc = aw_s3_list(bf.s3, &bf.pol, &q, &pg, err, sizeof err);
        if (rc != AW_OK) {
            AW_ERROR(BLOG, "ListBuckets: %s", err);
            status = 1;
        }
        for (size_t i = 0; i < pg.nbuckets && !aw_stop; i++)
            status |= bf_run_target(&bf, pg.buckets[i], "");
        aw_listing_page_clear(&pg);
    }
    bool ready = !status;
    for (size_t i = 0; ready && !cfg->backfill_all_buckets && i < nt && !aw_stop; i++)
        status |= bf_run_target(&bf, buckets[i], prefixes[i]);
    for (size_t i = 0; i < nt; i++) {
        free(buckets[i]);
        free(prefixes[i]);
    }
    aw_pg_destroy(bf.pg);
    aw_indexer_destroy(bf.ix);
    aw_stores_destroy(bf.stores);
    return status;
}
