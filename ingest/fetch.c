/*
 * Fetching a batch's objects: one job per created object, all fetched
 * through aw_s3_fetch_many with the SHA-256 (and MD5 when asked) computed
 * while the body streams. Sidecars are recognised by the indexer, which says
 * how many leading bytes it wants kept; everything else is hashed and
 * dropped, so memory does not grow with object size.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aw/log.h"
#include "aw/metrics.h"
#include "internal.h"

int fetch_plan(ingest *in, batch *b) {
    /* jobs were added with their messages; those of messages that died or
     * whose partition was revoked since are dropped here */
    size_t n = 0;
    for (size_t i = 0; i < b->nmsgs; i++) {
        msg *x = &b->msgs[i];
        size_t first = x->first_job, count = x->njobs;
        x->first_job = n;
        if (x->dead || x->dropped) {
            x->njobs = 0;
            continue;
        }
        if (count && first != n)
            memmove(&b->jobs[n], &b->jobs[first], count * sizeof *b->jobs);
        n += count;
    }
    b->njobs = n;
    if (n > b->reqs_cap) {
        aw_fetch *nr = realloc(b->reqs, n * sizeof *nr);
        if (!nr)
            return AW_ENOMEM;
        b->reqs = nr;
        b->reqs_cap = n;
    }
    while (b->nhashes < n) {
        aw_hash **nh = realloc(b->hashes, (b->nhashes + 1) * sizeof *nh);
        if (!nh)
            return AW_ENOMEM;
        b->hashes = nh;
        if (aw_hash_new(in->with_md5, &nh[b->nhashes]) != AW_OK)
            return AW_ENOMEM;
        b->nhashes++;
    }
    for (size_t k = 0; k < n; k++) {
        job *j = &b->jobs[k];
        const aw_event *ev = &b->msgs[j->msg].evs.v[j->ev];
        j->s.hash = b->hashes[k];
        /* An unversioned key may have been overwritten since the event:
         * If-Match makes the store refuse other bytes (412) rather than let
         * them be recorded under this version. */
        bool pin_etag = !ev->version_id && ev->etag && *ev->etag;
        b->reqs[k] = (aw_fetch){.bucket = ev->bucket, .key = ev->key,
                                .version_id = ev->version_id,
                                .if_match = pin_etag ? ev->etag : NULL,
                                .size_hint = ev->size, .on_start = aw_sink_start,
                                .on_body = aw_sink_body, .ud = &j->s};
    }
    return AW_OK;
}

/*
 * Whether the failures among the batch's outcomes mean the store is away
 * (the whole batch is then kept and retried) or are each object's own (they
 * are dead-lettered). A request that could not reach the store at all is
 * never an object's fault. Refusals of our credentials (or 401/403s that do
 * not say why) are the store's when they are most of the batch; when nothing
 * answered at all, a probe decides: a store that answers it with our
 * credentials is up, and its refusals are about the objects.
 */
static bool store_is_away(ingest *in, const batch *b, char *why, size_t n) {
    size_t refused = 0, denied = 0, answered = 0, unreachable = 0;
    const aw_fetch *first = NULL;
    for (size_t k = 0; k < b->njobs; k++) {
        const aw_fetch *r = &b->reqs[k];
        if (r->outcome == AW_FETCH_UNAVAILABLE) {
            if (r->info.status == 0)
                unreachable++;
            else
                refused++;
            if (!first)
                first = r;
        }
        denied += r->outcome == AW_FETCH_DENIED;
        answered += r->outcome == AW_FETCH_OK || r->outcome == AW_FETCH_NOT_FOUND ||
                    r->outcome == AW_FETCH_PRECONDITION;
    }
    if (!unreachable && !refused && !denied)
        return false;
    if (first)
        snprintf(why, n, "GET s3://%s/%s: %s", first->bucket, first->key, first->error);
    if (unreachable || refused * 2 > b->njobs)
        return true;
    if (answered)
        return false;
    char perr[512];
    if (aw_s3_probe(in->s3, perr, sizeof perr) == AW_OK)
        return false;
    snprintf(why, n, "%s", perr);
    return true;
}

/* Objects the event says are larger than a range are read as parallel byte
 * ranges, one such object at a time, after the batch's others. */
static int fetch_jobs(ingest *in, batch *b) {
    aw_range_policy rp = {.range_size = in->cfg->fetch_range_size,
                          .concurrency = (int)in->cfg->fetch_range_concurrency};
    return aw_s3_fetch_batch(in->s3, b->reqs, b->njobs, &rp, &in->policy, &aw_stop);
}

int fetch_all(void *arg, char *why, size_t n) {
    ingest *in = arg;
    batch *b = in->cur;
    if (!b->njobs)
        return AW_OK;
    int rc = fetch_jobs(in, b);
    if (rc != AW_OK)
        return rc;
    if (store_is_away(in, b, why, n))
        return AW_EUNAVAILABLE;
    aw_metric *took = ingest_metrics_get()->fetch_seconds;
    for (size_t k = 0; k < b->njobs; k++) {
        aw_fetch *r = &b->reqs[k];
        if (r->attempts)
            aw_metric_observe(took, (double)r->duration_ms / 1000.0);
        job *j = &b->jobs[k];
        msg *x = &b->msgs[j->msg];
        if (r->outcome == AW_FETCH_OK && aw_hash_final(j->s.hash, j->sha256, j->md5) != AW_OK)
            return AW_ETLS;
        if (r->outcome == AW_FETCH_OK && in->with_md5 && aw_content_md5_differs(&r->info, j->md5)) {
            r->outcome = AW_FETCH_FAILED; /* the store says it holds other bytes */
            snprintf(r->error, sizeof r->error, "the bytes read do not match the store's "
                     "Content-MD5 %s", r->info.content_md5);
        }
        if ((r->outcome == AW_FETCH_FAILED || r->outcome == AW_FETCH_DENIED ||
             r->outcome == AW_FETCH_UNAVAILABLE) && !x->dead)
            msg_dead(x, "AW_EHTTP", "GET s3://%s/%s %s after %d attempt(s): %s", r->bucket,
                     r->key, r->outcome == AW_FETCH_DENIED ? "refused" : "failed", r->attempts,
                     r->error);
    }
    return AW_OK;
}
