/*
 * One large object as parallel byte-range GETs, reassembled in order. One
 * connection to a real object store carries on the order of 100 MB/s; a
 * window of ranges in flight multiplies that, while the caller's streaming
 * hash still sees one object from byte 0 to the end.
 *
 * The ranges run through one aw_s3_fetch_many per segment of SEGMENT x
 * concurrency ranges (each range retried on its own), each into one of
 * rp->concurrency buffers (range i uses buffer i % concurrency), so memory
 * is concurrency x range_size. A feeder thread hands finished ranges to the
 * caller's on_body in order while later ranges download, and the gate lets
 * range i start only once range i - concurrency has been handed over:
 * receiving and hashing overlap instead of taking turns. Every range is
 * pinned to one version (its id, or an ETag through If-Match, taken from a
 * HEAD when the caller has neither), so a rewrite mid-download is a 412,
 * never a mix of two objects.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aw/codec.h"
#include "aw/store.h"
#include "aw/log.h"
#include "aw/util.h"

/* Ranges per aw_s3_fetch_many, in units of the concurrency: the feeder
 * drains at the end of a segment, so a longer one overlaps more. */
#define SEGMENT 32

typedef struct part {
    char *p;
    int64_t len;
} part;

typedef struct window window;
typedef struct sub_ref {
    window *w;
    int i; /* in the segment */
} sub_ref;

struct window {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    aw_s3 *s3;
    const aw_fetch *req; /* its on_body takes the bytes */
    aw_fetch *subs;      /* the segment's ranges */
    sub_ref *refs;
    bool *ended;         /* per range of the segment: its outcome is final */
    part *parts;         /* range r of the object fills parts[r % k] */
    int k, nsub;
    int64_t base;        /* the segment's first range */
    int64_t fed;         /* ranges handed over, from the object's first */
    bool over;           /* the segment's fetch returned */
    bool halt;           /* a range failed or the consumer refused: start no more */
    int refused;         /* on_body's error */
};

static part *part_of(sub_ref *r) { return &r->w->parts[(r->w->base + r->i) % r->w->k]; }

static int part_start(void *ud) {
    part_of(ud)->len = 0;
    return AW_OK;
}

static int part_put(void *ud, const void *data, size_t n) {
    sub_ref *r = ud;
    part *pt = part_of(r);
    if (pt->len + (int64_t)n > r->w->subs[r->i].range_len)
        return AW_EPARSE; /* more than the range asked for */
    memcpy(pt->p + pt->len, data, n);
    pt->len += (int64_t)n;
    return AW_OK;
}

static void part_end(void *ud) {
    sub_ref *r = ud;
    window *w = r->w;
    pthread_mutex_lock(&w->mu);
    w->ended[r->i] = true;
    if (w->subs[r->i].outcome != AW_FETCH_OK)
        w->halt = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

/* Range i of the segment may start once its buffer's previous range is in. */
static int part_gate(void *ud, size_t i) {
    window *w = ud;
    pthread_mutex_lock(&w->mu);
    int g = w->halt ? AW_GATE_SKIP : w->base + (int64_t)i < w->fed + w->k ? AW_GATE_START
                                                                          : AW_GATE_WAIT;
    pthread_mutex_unlock(&w->mu);
    return g;
}

/* Hands the segment's ranges over in order, until one did not end whole. */
static void *feeder(void *arg) {
    window *w = arg;
    pthread_mutex_lock(&w->mu);
    for (int i = 0; i < w->nsub; i++) {
        while (!w->ended[i] && !w->over)
            pthread_cond_wait(&w->cv, &w->mu);
        part *pt = &w->parts[(w->base + i) % w->k];
        if (!w->ended[i] || w->subs[i].outcome != AW_FETCH_OK || pt->len != w->subs[i].range_len)
            break; /* the caller reports it */
        pthread_mutex_unlock(&w->mu);
        int cb = w->req->on_body ? w->req->on_body(w->req->ud, pt->p, (size_t)pt->len) : AW_OK;
        pthread_mutex_lock(&w->mu);
        if (cb != AW_OK) {
            w->refused = cb;
            break;
        }
        w->fed++;
        aw_s3_wakeup(w->s3); /* a buffer is free: the next range may start */
    }
    w->halt = true;
    pthread_mutex_unlock(&w->mu);
    aw_s3_wakeup(w->s3);
    return NULL;
}

/* Where the ranges fall: every unit (a part of a multipart upload, else the
 * whole object) is cut into `per` ranges of `sub` bytes (the last of a unit
 * shorter): range-size ranges of an object, equal ranges of at most
 * range-size inside each part, so no range straddles two parts. */
typedef struct plan {
    int64_t size, unit, per, sub, nranges;
} plan;

static plan plan_ranges(int64_t size, int64_t part_size, int64_t range_size) {
    plan p = {.size = size, .unit = part_size > 0 ? part_size : size};
    p.per = (p.unit + range_size - 1) / range_size;
    p.sub = part_size > 0 ? (p.unit + p.per - 1) / p.per : range_size;
    int64_t units = (size + p.unit - 1) / p.unit, last = size - (units - 1) * p.unit;
    p.nranges = (units - 1) * p.per + (last + p.sub - 1) / p.sub;
    return p;
}

static void range_at(const plan *p, int64_t j, int64_t *off, int64_t *len) {
    int64_t u = j / p->per, end = (u + 1) * p->unit;
    *off = u * p->unit + (j % p->per) * p->sub;
    if (end > p->size)
        end = p->size;
    *len = end - *off < p->sub ? end - *off : p->sub;
}

/* req ends as sub ended (outcome, what the store said, why). */
static void take_outcome(aw_fetch *req, const aw_fetch *sub, const char *what) {
    req->outcome = sub->outcome;
    req->info = sub->info;
    snprintf(req->error, sizeof req->error, "%.60s: %.250s", what, sub->error);
}

/* A size no object has (a store's answer or a record gone wrong) ends the
 * fetch as failed before any range is planned: range arithmetic stays exact. */
static int impossible_size(aw_fetch *req, const char *who, int64_t size, int64_t t0) {
    req->outcome = AW_FETCH_FAILED;
    req->started_ms = t0;
    req->duration_ms = aw_now_ms() - t0;
    snprintf(req->error, sizeof req->error,
             "%s a size of %lld bytes, more than any object has (2^53)", who, (long long)size);
    return AW_OK;
}

static int whole(aw_s3 *s3, aw_fetch *req, const aw_fetch_policy *policy,
                 const volatile sig_atomic_t *stop) {
    aw_fetch_policy one = *policy;
    one.concurrency = 1;
    req->range_start = req->range_len = 0;
    return aw_s3_fetch_many(s3, req, 1, &one, stop);
}

/* Fetches and hands over one segment; AW_OK with w->fed short of the
 * segment's end when a range did not end whole (the caller looks at it). */
static int segment(window *w, const aw_fetch_policy *pol, const volatile sig_atomic_t *stop) {
    pthread_t t;
    w->over = w->halt = false;
    if (pthread_create(&t, NULL, feeder, w) != 0)
        return AW_ENOMEM;
    int rc = aw_s3_fetch_many(w->s3, w->subs, (size_t)w->nsub, pol, stop);
    pthread_mutex_lock(&w->mu);
    w->over = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(t, NULL);
    return rc;
}

/* Why the segment stopped at range i (not handed over); false: the store
 * ignored Range, read the object whole instead. */
static bool range_failed(window *w, aw_fetch *req, int i) {
    aw_fetch *s = &w->subs[i];
    part *pt = &w->parts[(w->base + i) % w->k];
    if (w->refused) {
        snprintf(req->error, sizeof req->error, "body consumer failed: %s",
                 aw_strerror(w->refused));
    } else if (s->outcome != AW_FETCH_OK && s->info.status == 200) {
        return false;
    } else if (s->outcome != AW_FETCH_OK) {
        char what[80];
        snprintf(what, sizeof what, "range %lld-%lld", (long long)s->range_start,
                 (long long)(s->range_start + s->range_len - 1));
        take_outcome(req, s, what);
    } else {
        snprintf(req->error, sizeof req->error, "range at %lld: %lld of %lld bytes",
                 (long long)s->range_start, (long long)pt->len, (long long)s->range_len);
    }
    return true;
}

/* What a HEAD of part 1 said of an object that is to be read in ranges. */
typedef struct facts {
    int64_t size;            /* the object's */
    int64_t mp_part;         /* of a multipart upload, when the store says; else 0 */
    char etag[sizeof ((aw_fetch *)0)->info.etag];   /* to pin the ranges to, or "" */
    char checksum[sizeof ((aw_fetch *)0)->info.checksum_sha256]; /* the full object's */
} facts;

/* Asks the store the object's size, and a version to pin the ranges to,
 * when req does not say. *decided when that settled req's outcome (a failed
 * HEAD, an absurd size). Part 1's HEAD also tells a multipart upload's part
 * size and count (a store that knows no partNumber answers 400: asked again
 * without). */
static int head_facts(aw_s3 *s3, aw_fetch *req, bool pinned, aw_fetch_policy pol,
                      const volatile sig_atomic_t *stop, int64_t t0, facts *f, bool *decided) {
    aw_fetch h = {.method = "HEAD", .bucket = req->bucket, .key = req->key,
                  .version_id = req->version_id, .if_match = req->if_match,
                  .query = "partNumber=1", .checksum_mode = req->checksum_mode};
    pol.concurrency = 1;
    *decided = false;
    int rc = aw_s3_fetch_many(s3, &h, 1, &pol, stop);
    if (rc == AW_OK && h.outcome == AW_FETCH_FAILED && h.info.status == 400) {
        h.query = NULL;
        rc = aw_s3_fetch_many(s3, &h, 1, &pol, stop);
    }
    if (rc != AW_OK)
        return rc;
    *decided = true;
    if (h.outcome != AW_FETCH_OK) {
        take_outcome(req, &h, "HEAD");
        req->attempts = h.attempts;
        return AW_OK;
    }
    int64_t total = h.info.range_total > 0 ? h.info.range_total : h.info.content_length;
    if (total > AW_OBJECT_SIZE_MAX) {
        req->info = h.info;
        req->attempts = h.attempts;
        return impossible_size(req, "HEAD: the store stated", total, t0);
    }
    *decided = false;
    if (f->size < 0)
        f->size = total;
    if (!pinned && h.info.etag[0])
        snprintf(f->etag, sizeof f->etag, "%s", h.info.etag);
    /* n parts of part 1's length c hold the object: c(n-1) < size <= cn */
    int64_t n = h.info.parts_count, c = h.info.content_length;
    if (n > 1 && total == f->size && c > 0 && f->size > 0 && (f->size - 1) / c + 1 == n)
        f->mp_part = c;
    else /* the store's full-object checksum (a part's is not the object's) */
        snprintf(f->checksum, sizeof f->checksum, "%s", h.info.checksum_sha256);
    return AW_OK;
}

/* Reads the ranges of pl a segment at a time into req's consumer. *short
 * when a range stopped the read (req's outcome then says why), and
 * *whole_read too when that was a store that ignored Range (the object is
 * then read with one GET); *first: what the first range's answer said. */
static int read_segments(window *w, aw_fetch *req, const plan *pl, const char *if_match,
                         int seg_max, aw_fetch_policy *pol, const volatile sig_atomic_t *stop,
                         aw_s3_object_info *first, bool *cut_short, bool *whole_read) {
    int rc = AW_OK;
    *whole_read = *cut_short = false;
    for (w->base = 0; rc == AW_OK && w->base < pl->nranges; w->base += w->nsub) {
        w->nsub = pl->nranges - w->base < seg_max ? (int)(pl->nranges - w->base) : seg_max;
        for (int i = 0; i < w->nsub; i++) {
            int64_t off, want;
            range_at(pl, w->base + i, &off, &want);
            w->refs[i] = (sub_ref){.w = w, .i = i};
            w->ended[i] = false;
            w->subs[i] = (aw_fetch){.bucket = req->bucket, .key = req->key,
                                    .version_id = req->version_id, .if_match = if_match,
                                    .range_start = off, .range_len = want,
                                    .on_start = part_start, .on_body = part_put,
                                    .on_end = part_end, .ud = &w->refs[i]};
        }
        if ((rc = segment(w, pol, stop)) != AW_OK)
            break;
        for (int i = 0; i < w->nsub; i++)
            req->attempts += w->subs[i].attempts;
        if (w->fed < w->base + w->nsub) {
            *whole_read = !range_failed(w, req, (int)(w->fed - w->base));
            *cut_short = true;
            return AW_OK;
        }
        if (w->base == 0)
            *first = w->subs[0].info;
    }
    return rc;
}

static void window_free(window *w) {
    for (int i = 0; w->parts && i < w->k; i++)
        free(w->parts[i].p);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w->parts);
    free(w->subs);
    free(w->refs);
    free(w->ended);
}

int aw_s3_fetch_ranged(aw_s3 *s3, aw_fetch *req, int64_t size, const aw_range_policy *rp,
                       const aw_fetch_policy *policy, const volatile sig_atomic_t *stop) {
    int64_t t0 = aw_now_ms();
    bool pinned = (req->version_id && *req->version_id) || (req->if_match && *req->if_match);
    facts f = {.size = size};
    if (size > AW_OBJECT_SIZE_MAX)
        return impossible_size(req, "asked for", size, t0);
    if (rp->range_size <= 0 || rp->concurrency < 1 || (size >= 0 && size <= rp->range_size))
        return whole(s3, req, policy, stop);
    if (size < 0 || !pinned) { /* the size, and a version to pin the ranges to */
        bool decided;
        int rc = head_facts(s3, req, pinned, *policy, stop, t0, &f, &decided);
        if (rc != AW_OK || decided)
            return rc;
        if (f.size <= rp->range_size || (!pinned && !f.etag[0]))
            return whole(s3, req, policy, stop); /* nothing to pin the ranges to */
    }
    const char *if_match = req->version_id && *req->version_id ? NULL
                           : req->if_match && *req->if_match ? req->if_match : f.etag;
    plan pl = plan_ranges(f.size, f.mp_part, rp->range_size);
    if (f.mp_part)
        AW_DEBUG("s3", "s3://%s/%s: parts of %lld bytes, read as ranges of %lld inside them",
                 req->bucket, req->key, (long long)f.mp_part, (long long)pl.sub);
    window w = {.s3 = s3, .req = req};
    w.k = pl.nranges < rp->concurrency ? (int)pl.nranges : rp->concurrency;
    int seg_max = pl.nranges < (int64_t)SEGMENT * w.k ? (int)pl.nranges : SEGMENT * w.k;
    w.parts = calloc((size_t)w.k, sizeof *w.parts);
    w.subs = calloc((size_t)seg_max, sizeof *w.subs);
    w.refs = calloc((size_t)seg_max, sizeof *w.refs);
    w.ended = calloc((size_t)seg_max, sizeof *w.ended);
    int rc = w.parts && w.subs && w.refs && w.ended ? AW_OK : AW_ENOMEM;
    for (int i = 0; rc == AW_OK && i < w.k; i++)
        if (!(w.parts[i].p = malloc((size_t)rp->range_size)))
            rc = AW_ENOMEM;
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    aw_fetch_policy pol = *policy;
    pol.concurrency = w.k;
    pol.gate = part_gate;
    pol.gate_ud = &w;
    req->outcome = AW_FETCH_FAILED;
    req->attempts = 0;
    req->error[0] = '\0';
    req->started_ms = t0;
    aw_s3_object_info first = {0};
    bool whole_read = false, cut_short = false;
    if (rc == AW_OK && req->on_start && (rc = req->on_start(req->ud)) != AW_OK) {
        snprintf(req->error, sizeof req->error, "body consumer failed: %s", aw_strerror(rc));
        rc = AW_OK;
        cut_short = true;
    }
    if (rc == AW_OK && !cut_short)
        rc = read_segments(&w, req, &pl, if_match, seg_max, &pol, stop, &first, &cut_short,
                           &whole_read);
    if (rc == AW_OK && !cut_short) {
        req->outcome = AW_FETCH_OK;
        req->info = first;
        req->info.status = 200;
        req->info.content_length = f.size;
        memcpy(req->info.checksum_sha256, f.checksum, sizeof f.checksum);
    }
    window_free(&w);
    if (rc == AW_OK && whole_read)
        rc = whole(s3, req, policy, stop); /* the store ignored Range */
    req->duration_ms = aw_now_ms() - t0;
    return rc;
}

static bool is_large(const aw_fetch *r, const aw_range_policy *rp) {
    return rp && rp->concurrency > 1 && rp->range_size > 0 && r->size_hint > rp->range_size;
}

int aw_s3_fetch_batch(aw_s3 *s3, aw_fetch *reqs, size_t n, const aw_range_policy *rp,
                      const aw_fetch_policy *policy, const volatile sig_atomic_t *stop) {
    size_t nbig = 0;
    for (size_t k = 0; k < n; k++)
        nbig += is_large(&reqs[k], rp);
    if (!nbig)
        return aw_s3_fetch_many(s3, reqs, n, policy, stop);
    /* the others together, through a copy of their requests */
    size_t nsmall = n - nbig, *at = malloc((nsmall + 1) * sizeof *at);
    aw_fetch *small = malloc((nsmall + 1) * sizeof *small);
    int rc = at && small ? AW_OK : AW_ENOMEM;
    for (size_t k = 0, i = 0; rc == AW_OK && k < n; k++)
        if (!is_large(&reqs[k], rp)) {
            at[i] = k;
            small[i++] = reqs[k];
        }
    if (rc == AW_OK && nsmall)
        rc = aw_s3_fetch_many(s3, small, nsmall, policy, stop);
    for (size_t i = 0; rc == AW_OK && i < nsmall; i++)
        reqs[at[i]] = small[i];
    /* the size a HEAD reports under the pin, not the hint, sets the ranges */
    for (size_t k = 0; rc == AW_OK && k < n; k++)
        if (is_large(&reqs[k], rp)) {
            AW_DEBUG("s3", "GET s3://%s/%s in ranges of %lld bytes, %d at a time", reqs[k].bucket,
                     reqs[k].key, (long long)rp->range_size, rp->concurrency);
            rc = aw_s3_fetch_ranged(s3, &reqs[k], -1, rp, policy, stop);
        }
    free(at);
    free(small);
    return rc;
}
