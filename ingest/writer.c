/*
 * The writer thread owns the indexer, and so the PostgreSQL connection.
 * While it writes batch k the main thread fetches batch k+1. When the
 * database is away it keeps the batch and retries (the main thread pauses
 * the partitions meanwhile); when the server rejects the data it writes the
 * batch message by message so only the culprit is dead-lettered.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "aw/log.h"
#include "aw/metrics.h"
#include "aw/util.h"
#include "internal.h"

/* Writes the batch; when the server rejects the data, writes message by
 * message so only the culprit is dead-lettered. Runs on the writer thread:
 * it reads the observations and marks only messages dead. A aw_retry_step. */
static int write_batch(void *arg, char *why, size_t n) {
    writer *w = arg;
    batch *b = w->job;
    aw_metric *took = ingest_metrics_get()->write_seconds;
    int64_t t0 = aw_now_ms();
    int rc = aw_indexer_write(w->ix, b->obs, b->nobs, why, n);
    if (rc == AW_OK)
        aw_metric_observe(took, (double)(aw_now_ms() - t0) / 1000.0);
    if (rc != AW_EPG)
        return rc;
    AW_WARN(LOG, "batch rejected by PostgreSQL (%s); writing message by message", why);
    for (size_t i = 0; i < b->nobs;) {
        size_t j = i;
        while (j < b->nobs && b->obs_msg[j] == b->obs_msg[i])
            j++;
        char err[512];
        rc = aw_indexer_write(w->ix, b->obs + i, j - i, err, sizeof err);
        if (rc == AW_EPG) {
            msg_dead(&b->msgs[b->obs_msg[i]], "AW_EPG", "%s", err);
        } else if (rc != AW_OK) {
            snprintf(why, n, "%s", err);
            return rc;
        }
        i = j;
    }
    return AW_OK;
}

/* An aw_retry_wait: tells the main thread the database is away, then sleeps
 * until the wait is over or the main thread gives up on the batch. */
static bool outage_wait(void *arg, long ms) {
    writer *w = arg;
    pthread_mutex_lock(&w->mu);
    w->outage = true;
    pthread_cond_broadcast(&w->cv);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    while (!w->abandon && pthread_cond_timedwait(&w->cv, &w->mu, &until) == 0)
        ;
    bool go_on = !w->abandon;
    pthread_mutex_unlock(&w->mu);
    return go_on;
}

static void *writer_main(void *arg) {
    writer *w = arg;
    /* while the consumer joins its group: the first batch then finds the
     * connection open and the server ready for its statements */
    char why[512] = "out of memory";
    int64_t t0 = aw_now_ms();
    if (aw_indexer_prepare(w->ix, why, sizeof why) != AW_OK)
        AW_WARN(LOG, "PostgreSQL not ready at start (%s); the first batch will try again", why);
    else
        AW_DEBUG(LOG, "PostgreSQL ready for the first batch in %lld ms",
                 (long long)(aw_now_ms() - t0));
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->job && !w->quit)
            pthread_cond_wait(&w->cv, &w->mu);
        if (!w->job)
            break;
        pthread_mutex_unlock(&w->mu);
        int rc = retry_while_unavailable("PostgreSQL", write_batch, w, outage_wait, w);
        pthread_mutex_lock(&w->mu);
        w->rc = rc;
        w->done = true;
        w->job = NULL;
        pthread_cond_broadcast(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

int writer_start(writer *w) {
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->cv);
        return AW_ENOMEM;
    }
    return AW_OK;
}

void writer_submit(writer *w, batch *b) {
    pthread_mutex_lock(&w->mu);
    w->job = b;
    w->done = false;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

bool writer_wait(writer *w, long ms, int *rc, bool *was_outage) {
    pthread_mutex_lock(&w->mu);
    if (!w->done) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += ms * 1000000L;
        until.tv_sec += until.tv_nsec / 1000000000L;
        until.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&w->cv, &w->mu, &until);
    }
    bool done = w->done;
    if (done) {
        *rc = w->rc;
        *was_outage = w->outage;
        w->done = w->outage = w->abandon = false;
    }
    pthread_mutex_unlock(&w->mu);
    return done;
}

bool writer_done(writer *w) {
    pthread_mutex_lock(&w->mu);
    bool d = w->done;
    pthread_mutex_unlock(&w->mu);
    return d;
}

bool writer_in_outage(writer *w) {
    pthread_mutex_lock(&w->mu);
    bool o = w->outage;
    pthread_mutex_unlock(&w->mu);
    return o;
}

void writer_abandon(writer *w) {
    pthread_mutex_lock(&w->mu);
    w->abandon = true;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

void writer_stop(writer *w) {
    pthread_mutex_lock(&w->mu);
    w->quit = true;
    w->abandon = true;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
}
