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
#include "internal.h"

static int job_start(void *ud) {
    job *j = ud;
    j->bytes = 0;
    j->blen = 0;
    j->cut = false;
    return aw_hash_reset(j->hash);
}

static int job_body(void *ud, const void *data, size_t len) {
    job *j = ud;
    j->bytes += (int64_t)len;
    if (j->keep && !j->cut) {
        if (j->blen + len > j->keep) {
            j->cut = true; /* hashed to the end, but not kept */
        } else {
            if (j->blen + len > j->bcap) {
                size_t cap = j->bcap ? j->bcap : 4096;
                while (cap < j->blen + len)
                    cap *= 2;
                char *nb = realloc(j->body, cap);
                if (!nb)
                    return AW_ENOMEM;
                j->body = nb;
                j->bcap = cap;
            }
            memcpy(j->body + j->blen, data, len);
            j->blen += len;
        }
    }
    return aw_hash_update(j->hash, data, len);
}

int fetch_plan(ingest *in, batch *b) {
    size_t need = 0;
    for (size_t i = 0; i < b->nmsgs; i++)
        if (!b->msgs[i].dead && !b->msgs[i].dropped)
            for (size_t e = 0; e < b->msgs[i].evs.n; e++)
                need += b->msgs[i].evs.v[e].kind == AW_EV_CREATED;
    if (need > b->jobs_cap) {
        job *nj = realloc(b->jobs, need * sizeof *nj);
        if (!nj)
            return AW_ENOMEM;
        b->jobs = nj;
        aw_fetch *nr = realloc(b->reqs, need * sizeof *nr);
        if (!nr)
            return AW_ENOMEM;
        b->reqs = nr;
        b->jobs_cap = need;
    }
    while (b->nhashes < need) {
        aw_hash **nh = realloc(b->hashes, (b->nhashes + 1) * sizeof *nh);
        if (!nh)
            return AW_ENOMEM;
        b->hashes = nh;
        if (aw_hash_new(in->verify_md5, &nh[b->nhashes]) != AW_OK)
            return AW_ENOMEM;
        b->nhashes++;
    }
    b->njobs = 0;
    for (size_t i = 0; i < b->nmsgs; i++) {
        msg *x = &b->msgs[i];
        x->first_job = b->njobs;
        if (x->dead || x->dropped)
            continue;
        for (size_t e = 0; e < x->evs.n; e++) {
            const aw_event *ev = &x->evs.v[e];
            if (ev->kind != AW_EV_CREATED)
                continue;
            size_t k = b->njobs++;
            b->jobs[k] = (job){.msg = i, .ev = e, .hash = b->hashes[k],
                               .keep = aw_indexer_keep_bytes(in->w.ix, ev->key)};
            /* An unversioned key may have been overwritten since the event:
             * If-Match makes the store refuse other bytes (412) rather than
             * let them be recorded under this version. */
            bool pin_etag = !ev->version_id && ev->etag && *ev->etag;
            b->reqs[k] = (aw_fetch){.bucket = ev->bucket, .key = ev->key,
                                    .version_id = ev->version_id,
                                    .if_match = pin_etag ? ev->etag : NULL,
                                    .on_start = job_start, .on_body = job_body,
                                    .ud = &b->jobs[k]};
        }
    }
    return AW_OK;
}

int fetch_all(void *arg, char *why, size_t n) {
    ingest *in = arg;
    batch *b = in->cur;
    if (!b->njobs)
        return AW_OK;
    int rc = aw_s3_fetch_many(in->s3, b->reqs, b->njobs, &in->policy, &ingest_stop);
    if (rc != AW_OK)
        return rc;
    for (size_t k = 0; k < b->njobs; k++) {
        aw_fetch *r = &b->reqs[k];
        if (r->outcome == AW_FETCH_UNAVAILABLE) {
            snprintf(why, n, "GET s3://%s/%s: %s", r->bucket, r->key, r->error);
            return AW_EUNAVAILABLE;
        }
    }
    for (size_t k = 0; k < b->njobs; k++) {
        aw_fetch *r = &b->reqs[k];
        job *j = &b->jobs[k];
        msg *x = &b->msgs[j->msg];
        if (r->outcome == AW_FETCH_OK && aw_hash_final(j->hash, j->sha256, j->md5) != AW_OK)
            return AW_ETLS;
        if (r->outcome == AW_FETCH_FAILED && !x->dead)
            msg_dead(x, "AW_EHTTP", "GET s3://%s/%s failed after %d attempt(s): %s", r->bucket,
                     r->key, r->attempts, r->error);
    }
    return AW_OK;
}

