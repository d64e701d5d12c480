/*
 * One large object as parallel byte-range GETs, reassembled in order. One
 * connection to a real object store carries on the order of 100 MB/s; a
 * window of ranges in flight multiplies that, while the caller's streaming
 * hash still sees one object from byte 0 to the end.
 *
 * The ranges are fetched in waves of rp->concurrency through
 * aw_s3_fetch_many (each range retried on its own), each into a buffer of
 * its own, and handed over in order once the wave is in: memory is
 * concurrency x range_size. Every range is pinned to one version (its id,
 * or an ETag through If-Match, taken from a HEAD when the caller has
 * neither), so a rewrite mid-download is a 412, never a mix of two objects.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aw/http.h"
#include "aw/util.h"

typedef struct part {
    char *p;
    int64_t len, want;
} part;

static int part_start(void *ud) {
    ((part *)ud)->len = 0;
    return AW_OK;
}

static int part_put(void *ud, const void *data, size_t n) {
    part *pt = ud;
    if (pt->len + (int64_t)n > pt->want)
        return AW_EPARSE; /* more than the range asked for */
    memcpy(pt->p + pt->len, data, n);
    pt->len += (int64_t)n;
    return AW_OK;
}

/* req ends as sub ended (outcome, what the store said, why). */
static void take_outcome(aw_fetch *req, const aw_fetch *sub, const char *what) {
    req->outcome = sub->outcome;
    req->info = sub->info;
    snprintf(req->error, sizeof req->error, "%.60s: %.250s", what, sub->error);
}

static int whole(aw_s3 *s3, aw_fetch *req, const aw_fetch_policy *policy,
                 const volatile sig_atomic_t *stop) {
    aw_fetch_policy one = *policy;
    one.concurrency = 1;
    req->range_start = req->range_len = 0;
    return aw_s3_fetch_many(s3, req, 1, &one, stop);
}

int aw_s3_fetch_ranged(aw_s3 *s3, aw_fetch *req, int64_t size, const aw_range_policy *rp,
                       const aw_fetch_policy *policy, const volatile sig_atomic_t *stop) {
    int64_t t0 = aw_now_ms();
    bool pinned = (req->version_id && *req->version_id) || (req->if_match && *req->if_match);
    char etag[sizeof req->info.etag] = "";
    aw_fetch_policy pol = *policy;
    if (rp->range_size <= 0 || rp->concurrency < 1 || (size >= 0 && size <= rp->range_size))
        return whole(s3, req, policy, stop);
    if (size < 0 || !pinned) { /* the size, and a version to pin the ranges to */
        aw_fetch h = {.method = "HEAD", .bucket = req->bucket, .key = req->key,
                      .version_id = req->version_id, .if_match = req->if_match};
        pol.concurrency = 1;
        int rc = aw_s3_fetch_many(s3, &h, 1, &pol, stop);
        if (rc != AW_OK)
            return rc;
        if (h.outcome != AW_FETCH_OK) {
            take_outcome(req, &h, "HEAD");
            req->attempts = h.attempts;
            return AW_OK;
        }
        if (size < 0)
            size = h.info.content_length;
        if (!pinned && h.info.etag[0])
            snprintf(etag, sizeof etag, "%s", h.info.etag);
        if (size <= rp->range_size || (!pinned && !etag[0]))
            return whole(s3, req, policy, stop); /* nothing to pin the ranges to */
    }
    const char *if_match = req->version_id && *req->version_id ? NULL
                           : req->if_match && *req->if_match ? req->if_match : etag;
    int64_t nranges = (size + rp->range_size - 1) / rp->range_size;
    int k_max = nranges < rp->concurrency ? (int)nranges : rp->concurrency;
    part *parts = calloc((size_t)k_max, sizeof *parts);
    aw_fetch *subs = calloc((size_t)k_max, sizeof *subs);
    int rc = parts && subs ? AW_OK : AW_ENOMEM;
    for (int i = 0; rc == AW_OK && i < k_max; i++)
        if (!(parts[i].p = malloc((size_t)rp->range_size)))
            rc = AW_ENOMEM;
    pol.concurrency = k_max;
    req->outcome = AW_FETCH_FAILED;
    req->attempts = 0;
    req->error[0] = '\0';
    req->started_ms = t0;
    aw_s3_object_info first = {0};
    if (rc == AW_OK && req->on_start && (rc = req->on_start(req->ud)) != AW_OK) {
        snprintf(req->error, sizeof req->error, "body consumer failed: %s", aw_strerror(rc));
        rc = AW_OK;
        goto out;
    }
    for (int64_t w = 0; rc == AW_OK && w < nranges; w += k_max) {
        int k = nranges - w < k_max ? (int)(nranges - w) : k_max;
        for (int i = 0; i < k; i++) {
            int64_t off = (w + i) * rp->range_size;
            parts[i].want = size - off < rp->range_size ? size - off : rp->range_size;
            subs[i] = (aw_fetch){.bucket = req->bucket, .key = req->key,
                                 .version_id = req->version_id, .if_match = if_match,
                                 .range_start = off, .range_len = parts[i].want,
                                 .on_start = part_start, .on_body = part_put, .ud = &parts[i]};
        }
        if ((rc = aw_s3_fetch_many(s3, subs, (size_t)k, &pol, stop)) != AW_OK)
            break;
        for (int i = 0; i < k; i++) {
            aw_fetch *s = &subs[i];
            req->attempts += s->attempts;
            if (s->outcome != AW_FETCH_OK && s->info.status == 200) {
                /* the store ignored Range: one GET, from the start */
                free(subs), subs = NULL;
                rc = whole(s3, req, policy, stop);
                goto out;
            }
            if (s->outcome != AW_FETCH_OK) {
                char what[80];
                snprintf(what, sizeof what, "range %lld-%lld", (long long)s->range_start,
                         (long long)(s->range_start + s->range_len - 1));
                take_outcome(req, s, what);
                goto out;
            }
            if (parts[i].len != parts[i].want) {
                snprintf(req->error, sizeof req->error, "range at %lld: %lld of %lld bytes",
                         (long long)s->range_start, (long long)parts[i].len,
                         (long long)parts[i].want);
                goto out;
            }
            if (w == 0 && i == 0)
                first = s->info;
            int cb = req->on_body ? req->on_body(req->ud, parts[i].p, (size_t)parts[i].len)
                                  : AW_OK;
            if (cb != AW_OK) {
                snprintf(req->error, sizeof req->error, "body consumer failed: %s",
                         aw_strerror(cb));
                goto out;
            }
        }
    }
    if (rc == AW_OK) {
        req->outcome = AW_FETCH_OK;
        req->info = first;
        req->info.status = 200;
        req->info.content_length = size;
    }
out:
    for (int i = 0; parts && i < k_max; i++)
        free(parts[i].p);
    free(parts);
    free(subs);
    req->duration_ms = aw_now_ms() - t0;
    return rc;
}
