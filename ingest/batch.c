/*
 * A batch's messages: each Kafka message is decoded into object events when
 * it arrives, may be marked dead (then it goes to the dead-letter topic
 * instead of being indexed), and once its objects are fetched becomes the
 * observations the indexer writes. Observations borrow the messages' strings,
 * so a batch is cleared only after the indexer is done with it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aw/codec.h"
#include "aw/log.h"
#include "aw/metrics.h"
#include "aw/util.h"
#include "internal.h"

void batch_clear(batch *b) {
    for (size_t i = 0; i < b->nmsgs; i++) {
        aw_events_clear(&b->msgs[i].evs);
        rd_kafka_message_destroy(b->msgs[i].m);
    }
    for (size_t i = 0; i < b->njobs; i++) {
        free(b->jobs[i].s.kept.p);
        b->jobs[i].s.kept = (aw_membuf){0};
    }
    b->nmsgs = 0;
    b->njobs = 0;
    b->nobs = 0;
    b->bytes = 0;
    b->sc_bytes = 0;
    b->obj_bytes = 0;
}

void batch_free(batch *b) {
    batch_clear(b);
    free(b->msgs);
    free(b->jobs);
    free(b->reqs);
    for (size_t i = 0; i < b->nhashes; i++)
        aw_hash_destroy(b->hashes[i]);
    free(b->hashes);
    free(b->obs);
    free(b->obs_msg);
}


void msg_dead(msg *x, const char *code, const char *fmt, ...) {
    x->dead = true;
    snprintf(x->code, sizeof x->code, "%s", code);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->reason, sizeof x->reason, fmt, ap);
    va_end(ap);
    AW_WARN(LOG, "%s [%d] @%lld: dead letter (%s): %s", rd_kafka_topic_name(x->m->rkt),
            (int)x->m->partition, (long long)x->m->offset, x->code, x->reason);
}

/* A record whose bucket or key was read from the bucket ARN because its own
 * fields named another request's (versitygw 1.8): counted, so an operator
 * sees the store send them. */
static void count_repaired(const msg *x, const aw_event *ev) {
    aw_metric_add(ingest_metrics_get()->repaired, 1);
    AW_DEBUG(LOG, "%s [%d] @%lld: s3://%s/%s read from the record's bucket ARN",
             rd_kafka_topic_name(x->m->rkt), (int)x->m->partition, (long long)x->m->offset,
             ev->bucket, ev->key);
}

int batch_add(ingest *in, batch *b, rd_kafka_message_t *m) {
    if (b->nmsgs == b->msgs_cap) {
        size_t cap = b->msgs_cap ? b->msgs_cap * 2 : 256;
        msg *nm = realloc(b->msgs, cap * sizeof *nm);
        if (!nm)
            return AW_ENOMEM;
        b->msgs = nm;
        b->msgs_cap = cap;
    }
    msg *x = &b->msgs[b->nmsgs++];
    memset(x, 0, sizeof *x);
    x->m = m;
    b->bytes += m->len;
    if (*in->cfg->openlineage_topic &&
        !strcmp(rd_kafka_topic_name(m->rkt), in->cfg->openlineage_topic)) {
        /* a RunEvent: the indexer reads it (an unreadable one is recorded
         * with its error, never dead-lettered) */
        x->is_doc = true;
        return AW_OK;
    }
    char why[sizeof x->reason];
    int rc = aw_event_decode(m->payload, m->len, in->keyenc, &x->evs, why, sizeof why);
    if (rc == AW_ESKIP)
        return AW_OK;
    if (rc == AW_ENOMEM)
        return rc;
    if (rc != AW_OK) {
        msg_dead(x, aw_err_name(rc), "%s", why);
        return AW_OK;
    }
    /* one job per created object; the indexer says which are sidecars and
     * how much of them it keeps, which counts against the batch's budget */
    x->first_job = b->njobs;
    for (size_t e = 0; e < x->evs.n; e++) {
        const aw_event *ev = &x->evs.v[e];
        if (ev->repaired)
            count_repaired(x, ev);
        if (ev->kind != AW_EV_CREATED)
            continue;
        if (b->njobs == b->jobs_cap) {
            size_t cap = b->jobs_cap ? b->jobs_cap * 2 : 256;
            job *nj = realloc(b->jobs, cap * sizeof *nj);
            if (!nj)
                return AW_ENOMEM;
            b->jobs = nj;
            b->jobs_cap = cap;
        }
        size_t keep = aw_indexer_keep_bytes(in->w.ix, ev->key);
        b->jobs[b->njobs++] = (job){.msg = b->nmsgs - 1, .ev = e, .s.kept.max = keep};
        x->njobs++;
        b->sc_bytes += ev->size >= 0 && (uint64_t)ev->size < keep ? (size_t)ev->size : keep;
        b->obj_bytes += ev->size > 0 ? (uint64_t)ev->size : 0;
    }
    return AW_OK;
}


static bool md5_etag(const char *etag) {
    if (!etag || strlen(etag) != 32)
        return false;
    for (int i = 0; i < 32; i++)
        if (!strchr("0123456789abcdefABCDEF", etag[i]))
            return false;
    return true;
}

static aw_obs_kind obs_kind(aw_event_kind k) {
    return k == AW_EV_CREATED ? AW_OBS_CREATED : k == AW_EV_DELETED ? AW_OBS_DELETED
                                                                     : AW_OBS_DELETE_MARKER;
}

/* The observation of an OpenLineage document message x. */
static void observe_document(const ingest *in, const msg *x, aw_observation *o) {
    memset(o, 0, sizeof *o);
    o->kind = AW_OBS_DOCUMENT;
    o->store = in->cfg->s3_store; /* its declarations bind in this store */
    o->topic = rd_kafka_topic_name(x->m->rkt);
    o->partition = x->m->partition;
    o->offset = x->m->offset;
    o->timestamp = rd_kafka_message_timestamp(x->m, NULL);
    o->body = x->m->payload;
    o->body_len = x->m->len;
    o->has_body = true;
}

/* What the fetch r (job j) of a created object found, into o. */
static void observe_fetch(ingest *in, const aw_event *ev, const job *j, const aw_fetch *r,
                          aw_observation *o) {
    if (r->outcome == AW_FETCH_PRECONDITION) {
        o->state = AW_OBS_SUPERSEDED;
        return;
    }
    if (r->outcome != AW_FETCH_OK) {
        o->state = AW_OBS_VANISHED;
        in->n_vanished++;
        return;
    }
    o->state = AW_OBS_PRESENT;
    o->size = j->s.bytes;
    /* a versioned bucket whose events name no version (versitygw): the
     * version the GET read, as the store reported it */
    if (!ev->version_id && r->info.version_id[0] && strcmp(r->info.version_id, "null") &&
        aw_token_ok(r->info.version_id, 1024))
        o->version_seen = r->info.version_id;
    /* the store's header: taken only when it is text */
    if (r->info.content_type[0] && aw_printable_ok(r->info.content_type, 256))
        o->content_type = r->info.content_type;
    memcpy(o->sha256, j->sha256, 32);
    memcpy(o->md5, j->md5, 16);
    o->has_sha256 = true;
    /* an MD5 is recorded when it was checked: against a single-part ETag,
     * or against the store's Content-MD5 (Azure) */
    o->has_md5 = (in->verify_md5 && md5_etag(ev->etag)) ||
                 (in->with_md5 && r->info.content_md5[0]);
    if (j->s.kept.max) {
        o->has_body = true;
        o->body = j->s.kept.p;
        o->body_len = j->s.kept.len;
        o->body_cut = j->s.cut;
    }
}

/* The observation of event e of message x: the event's word, and for a
 * created object what its fetch (job j, request r) found. */
static void observe_event(ingest *in, const msg *x, size_t e, const job *j, const aw_fetch *r,
                          aw_observation *o) {
    const aw_event *ev = &x->evs.v[e];
    memset(o, 0, sizeof *o);
    o->store = in->cfg->s3_store;
    o->bucket = ev->bucket;
    o->key = ev->key;
    o->version_id = ev->version_id;
    o->sequencer = ev->sequencer;
    o->etag = ev->etag;
    o->content_type = ev->content_type;
    o->event_time = ev->event_time;
    o->event_name = ev->event_name;
    o->event_source = ev->source;
    o->seq_counter = ev->seq_order == AW_SEQ_COUNTER;
    o->kind = obs_kind(ev->kind);
    o->size = ev->size;
    o->topic = rd_kafka_topic_name(x->m->rkt);
    o->partition = x->m->partition;
    o->offset = x->m->offset;
    o->timestamp = rd_kafka_message_timestamp(x->m, NULL);
    o->record_index = (int32_t)e;
    if (r)
        observe_fetch(in, ev, j, r, o);
    else
        o->state = AW_OBS_TOMBSTONE;
}

int batch_observe(ingest *in, batch *b) {
    size_t need = 0;
    for (size_t i = 0; i < b->nmsgs; i++)
        need += b->msgs[i].evs.n + b->msgs[i].is_doc;
    if (need > b->obs_cap) {
        aw_observation *no = realloc(b->obs, need * sizeof *no);
        if (!no)
            return AW_ENOMEM;
        b->obs = no;
        size_t *nm = realloc(b->obs_msg, need * sizeof *nm);
        if (!nm)
            return AW_ENOMEM;
        b->obs_msg = nm;
        b->obs_cap = need;
    }
    size_t n = 0;
    for (size_t i = 0; i < b->nmsgs; i++) {
        msg *x = &b->msgs[i];
        if (x->dead || x->dropped)
            continue;
        if (x->is_doc) {
            b->obs_msg[n] = i;
            observe_document(in, x, &b->obs[n++]);
            continue;
        }
        size_t k = x->first_job;
        for (size_t e = 0; e < x->evs.n; e++) {
            bool created = x->evs.v[e].kind == AW_EV_CREATED;
            b->obs_msg[n] = i;
            observe_event(in, x, e, created ? &b->jobs[k] : NULL, created ? &b->reqs[k] : NULL,
                          &b->obs[n++]);
            k += created;
        }
    }
    b->nobs = n;
    return AW_OK;
}

