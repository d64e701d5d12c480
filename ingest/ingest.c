/*
 * The ingest loop. Messages are taken from Kafka in batches; every created
 * object in a batch is fetched (libcurl multi, SigV4) and SHA-256-hashed as
 * it streams; the batch is written to PostgreSQL in one transaction by the
 * indexer; undecodable messages and objects that cannot be fetched go to the
 * dead-letter topic; and only then are the batch's offsets stored. A crash
 * anywhere replays at most the uncommitted batches, and the indexer's upserts
 * make a replay change nothing: at-least-once delivery, exactly-once effect.
 *
 * Two batches are in flight: while a writer thread puts batch k into
 * PostgreSQL, the main thread collects and fetches batch k+1. Offsets still
 * advance in order, since batch k's are stored before k+1 is handed over.
 *
 * When PostgreSQL, the object store or the broker (for dead letters) is
 * unreachable, the batch is kept, the assigned partitions are paused (the
 * consumer keeps polling, so it stays in its group) and the same batch is
 * retried with backoff until the service returns.
 */
#include "aw/ingest.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aw/log.h"
#include "aw/metrics.h"
#include "aw/util.h"
#include "internal.h"

int retry_while_unavailable(const char *what, aw_retry_step step, void *arg,
                            aw_retry_wait wait, void *wait_arg) {
    return aw_retry_while_unavailable(LOG, what, "batch kept, partitions paused", step, arg,
                                      wait, wait_arg);
}

/* The counters of the periodic log line, as metrics: each published once
 * per turn of the main loop (adding what grew since the last turn). */
static void publish(const ingest *in) {
    /* dead letters are counted by code as the broker takes them (kafka.c) */
    const ingest_metrics *m = ingest_metrics_get();
    aw_metric *const by[4] = {m->events, m->vanished, m->bytes, m->batches};
    static uint64_t last[4];
    const uint64_t now[4] = {in->n_indexed, in->n_vanished, in->n_bytes, in->n_batches};
    for (int i = 0; i < 4; i++) {
        aw_metric_add(by[i], (double)(now[i] - last[i]));
        last[i] = now[i];
    }
    aw_metric_set(m->paused, in->paused && !in->held);
    aw_metrics_heartbeat();
}

/* An aw_retry_wait for the main thread: the partitions stay paused and the
 * consumer keeps polling, so the group keeps us. */
static bool idle_paused(void *arg, long ms) {
    ingest *in = arg;
    aw_metrics_ready(false, "a service ingest needs is away; see the log");
    publish(in);
    if (aw_stop)
        return false; /* stopping during an outage: the batch is replayed later */
    kafka_set_paused(in, true);
    in->held = false; /* a keepalive's pause is the outage's now: resumed when it ends */
    kafka_idle(in, ms);
    return !aw_stop;
}

/* Runs a step of the main thread until the service it needs answers. */
static int until_done(ingest *in, aw_retry_step step, const char *what) {
    bool held = in->held;
    in->held = false; /* an outage's pause is not the keepalive's */
    int rc = retry_while_unavailable(what, step, in, idle_paused, in);
    if (rc == AW_OK && in->paused && !in->held) {
        AW_INFO(LOG, "%s is back; resuming", what);
        kafka_set_paused(in, false);
    }
    in->held |= held && in->paused;
    return rc;
}

/* The fetch's tick: work that has run for a second keeps the consumer
 * polled while it goes on. */
static void fetch_tick(void *arg) {
    ingest *in = arg;
    if (aw_now_ms() - in->work_since >= 1000)
        kafka_keepalive(in);
}

/* Waits for the writer to finish the pending batch, then dead-letters what
 * failed and stores the batch's offsets. While the database is away the
 * partitions stay paused and the consumer keeps polling. */
static int finish_pending(ingest *in) {
    batch *b = in->pending;
    if (!b)
        return AW_OK;
    int rc = AW_OK;
    bool was_out = false;
    int64_t since = aw_now_ms();
    while (!writer_wait(&in->w, 100, &rc, &was_out)) {
        bool outage = writer_in_outage(&in->w);
        if (aw_stop && outage)
            writer_abandon(&in->w); /* stopping: the batch is replayed next time */
        if (outage && !in->paused) {
            kafka_set_paused(in, true);
            in->held = false;
        }
        if (in->paused && !in->held)
            kafka_idle(in, 100);
        else if (aw_now_ms() - since >= 1000)
            kafka_keepalive(in); /* a long write */
    }
    if (rc != AW_OK)
        return rc;
    if (was_out) {
        AW_INFO(LOG, "PostgreSQL is back; resuming");
        kafka_set_paused(in, false);
        in->held = false;
    }
    rc = until_done(in, kafka_dead_letter, "dead-letter topic");
    if (rc != AW_OK)
        return rc;
    kafka_store_offsets(in, b);
    for (size_t i = 0; i < b->nmsgs; i++)
        if (!b->msgs[i].dead && !b->msgs[i].dropped)
            in->n_indexed += b->msgs[i].evs.n;
    for (size_t k = 0; k < b->njobs; k++)
        in->n_bytes += (uint64_t)b->jobs[k].s.bytes;
    in->n_batches++;
    in->last_batch_ms = aw_now_ms();
    batch_clear(b);
    in->pending = NULL;
    return AW_OK;
}

/* Fetches the current batch and hands it to the writer. */
static int process_batch(ingest *in) {
    batch *b = in->cur;
    int64_t t0 = in->work_since = aw_now_ms();
    int rc = fetch_plan(in, b);
    if (rc == AW_OK)
        rc = until_done(in, fetch_all, "object store");
    if (rc == AW_OK)
        rc = batch_observe(in, b);
    int64_t t1 = aw_now_ms();
    if (rc == AW_OK)
        rc = finish_pending(in);
    if (rc != AW_OK)
        return rc;
    kafka_release(in);
    AW_DEBUG(LOG, "batch of %zu message(s): collected in %lld ms, fetch %lld ms, waited %lld ms "
                  "for the previous batch's write", b->nmsgs, (long long)(t0 - b->first_ms),
             (long long)(t1 - t0), (long long)(aw_now_ms() - t1));
    writer_submit(&in->w, b);
    in->pending = b;
    in->cur = b == &in->batches[0] ? &in->batches[1] : &in->batches[0];
    return AW_OK;
}

static void report(ingest *in, int64_t *last, uint64_t *last_indexed) {
    int64_t now = aw_now_ms();
    if (now - *last < 10000)
        return;
    double secs = (double)(now - *last) / 1000.0;
    AW_INFO(LOG, "indexed %llu event(s) (%.0f/s), %llu MiB fetched, %llu dead-lettered, "
                 "%llu vanished before fetch",
            (unsigned long long)in->n_indexed,
            (double)(in->n_indexed - *last_indexed) / secs,
            (unsigned long long)(in->n_bytes >> 20), (unsigned long long)in->n_dead,
            (unsigned long long)in->n_vanished);
    *last = now;
    *last_indexed = in->n_indexed;
}


static void ingest_free(ingest *in) {
    kafka_close_producer(in);
    batch_free(&in->batches[0]);
    batch_free(&in->batches[1]);
    kafka_close_consumer(in);
    free(in->parts);
    aw_s3_destroy(in->s3);
    aw_indexer_destroy(in->w.ix);
}

/* Everything ingest needs before its loop: the indexer, the S3 client, the
 * consumer and producer, the writer thread. Exit status (2 for a
 * configuration error), 0 when ready. */
static int ingest_open(ingest *in) {
    const aw_config *cfg = in->cfg;
    char err[1024];
    in->keyenc = (aw_key_encoding)cfg->event_key_encoding; /* words in the enum's order */
    ingest_metrics_get(); /* every series shows from the first scrape */
    int grc = aw_indexer_new(cfg, &in->w.ix, err, sizeof err);
    if (grc != AW_OK) {
        fprintf(stderr, "artifact-watch ingest: %s\n", grc == AW_ENOMEM ? "out of memory" : err);
        return 2;
    }
    snprintf(in->dlq_name, sizeof in->dlq_name, "%s",
             *cfg->kafka_dlq_topic ? cfg->kafka_dlq_topic : "");
    if (!in->dlq_name[0])
        snprintf(in->dlq_name, sizeof in->dlq_name, "%s.dlq", cfg->kafka_topic);
    in->policy = (aw_fetch_policy){.concurrency = (int)cfg->fetch_concurrency,
                                   .retries = (int)cfg->fetch_retries, .backoff_base_ms = 200,
                                   .backoff_max_ms = 10000,
                                   .stop_grace_ms = cfg->shutdown_grace_ms,
                                   .tick = fetch_tick, .tick_ud = in};
    /* the store events name objects of: s3.*, or its section of the stores file */
    aw_stores *stores = NULL;
    if (aw_stores_open(cfg, &stores, err, sizeof err) != AW_OK ||
        aw_stores_new_client(stores, cfg->s3_store, &in->s3, err, sizeof err) != AW_OK) {
        aw_stores_destroy(stores);
        fprintf(stderr, "artifact-watch ingest: %s\n", err);
        return 2;
    }
    aw_stores_destroy(stores);
    in->with_md5 = cfg->verify_md5 || aw_s3_kind(in->s3) == AW_STORE_AZURE;
    int rc = kafka_open(in);
    if (rc != AW_OK)
        return rc == AW_ECONFIG ? 2 : 1;
    if (writer_start(&in->w) != AW_OK) {
        fprintf(stderr, "artifact-watch ingest: cannot start the writer thread\n");
        return 1;
    }
    return 0;
}

/* The loop: collect, fetch, hand over, finish, until a stop or the end of a
 * drain. *interrupted when the batch in hand was abandoned. Exit status. */
static int ingest_loop(ingest *in, bool *interrupted) {
    int64_t last = aw_now_ms();
    uint64_t last_indexed = 0;
    while (!aw_stop) {
        int rc = kafka_collect(in);
        if (rc == AW_OK && in->cur->nmsgs)
            rc = process_batch(in);
        else if (rc == AW_OK && (rc = finish_pending(in)) == AW_OK)
            kafka_release(in); /* nothing new: what was in flight is done */
        if (rc == AW_EINTERRUPTED) {
            *interrupted = true; /* stopping during an outage: replayed later */
            return 0;
        }
        if (rc != AW_OK) {
            AW_ERROR(LOG, "stopping: %s", aw_strerror(rc));
            return 1;
        }
        report(in, &last, &last_indexed);
        publish(in);
        if (!in->paused || in->held)
            aw_metrics_ready(true, NULL);
        if (in->cfg->drain && kafka_all_at_end(in) && !in->cur->nmsgs && !in->pending) {
            AW_INFO(LOG, "drained: every assigned partition is indexed to its end");
            return 0;
        }
    }
    /* stopping: the batch at hand, then the one being written */
    int rc = in->cur->nmsgs ? process_batch(in) : AW_OK;
    if (rc == AW_OK)
        rc = finish_pending(in);
    if (rc == AW_OK)
        AW_INFO(LOG, "stopping: in-flight batch finished, committing offsets");
    *interrupted = rc == AW_EINTERRUPTED;
    return 0;
}

int aw_cmd_ingest(aw_config *cfg) {
    ingest in = {.cfg = cfg, .verify_md5 = cfg->verify_md5};
    in.cur = &in.batches[0];
    int status = ingest_open(&in);
    if (status) {
        ingest_free(&in);
        return status;
    }
    aw_daemon_signals();
    AW_INFO(LOG, "consuming %s%s%s as group %s from %s; dead letters to %s; %ld fetches in "
                 "flight%s", cfg->kafka_topic, *cfg->openlineage_topic ? " and OpenLineage " : "",
            cfg->openlineage_topic, cfg->kafka_group, cfg->kafka_brokers, in.dlq_name,
            cfg->fetch_concurrency, cfg->drain ? "; draining" : "");
    bool interrupted = false;
    status = ingest_loop(&in, &interrupted);
    if (interrupted)
        AW_INFO(LOG, "stopping: the batch in hand was abandoned and will be replayed");
    writer_stop(&in.w);
    rd_kafka_resp_err_t ce = rd_kafka_commit(in.rk, NULL, 0);
    if (ce && ce != RD_KAFKA_RESP_ERR__NO_OFFSET)
        AW_WARN(LOG, "final offset commit: %s", rd_kafka_err2str(ce));
    rd_kafka_consumer_close(in.rk);
    double secs = in.last_batch_ms > in.first_msg_ms
                      ? (double)(in.last_batch_ms - in.first_msg_ms) / 1000.0 : 0.0;
    AW_INFO(LOG, "indexed %llu event(s), %llu dead-lettered, %llu vanished before fetch; "
                 "%.3f s from first message to last batch (%.0f events/s, %.1f MB/s)",
            (unsigned long long)in.n_indexed, (unsigned long long)in.n_dead,
            (unsigned long long)in.n_vanished, secs,
            secs > 0 ? (double)in.n_indexed / secs : 0.0,
            secs > 0 ? (double)in.n_bytes / secs / 1e6 : 0.0);
    ingest_free(&in);
    return status;
}
