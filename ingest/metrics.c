/*
 * The series ingest exports: declared here once, registered when ingest
 * starts so a first scrape sees every one at zero (the consumer lag per
 * partition appears as partitions are assigned: kafka.c).
 */
#include <pthread.h>
#include <string.h>

#include "aw/metrics.h"
#include "internal.h"

#define NCODES (AW_ERR_LAST_ - AW_ERR_FIRST_ - 1)

static ingest_metrics m;
static const char *codes[NCODES + 1];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void declare(void) {
    static const double fetch_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                          0.25,  0.5,    1,     2.5,  5,     10,   30};
    static const double write_bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
                                          10};
    m.events = aw_metric_counter("aw_ingest_events_total", "Events indexed.", NULL);
    m.vanished = aw_metric_counter("aw_ingest_vanished_total",
                                   "Objects gone (404) before they could be fetched.", NULL);
    m.bytes = aw_metric_counter("aw_ingest_bytes_hashed_total", "Bytes fetched and hashed.",
                                NULL);
    m.batches = aw_metric_counter("aw_ingest_batches_total", "Batches written to PostgreSQL.",
                                  NULL);
    m.paused = aw_metric_gauge("aw_ingest_paused",
                               "1 while the partitions are paused for a service that is away.",
                               NULL);
    m.repaired = aw_metric_counter("aw_ingest_events_repaired_total",
                                   "Records whose bucket or key disagreed with their bucket ARN "
                                   "and were read from the ARN.", NULL);
    m.fetch_seconds = aw_metric_histogram("aw_ingest_fetch_seconds",
                                          "Time to fetch and hash one object, retries included.",
                                          NULL, fetch_bounds,
                                          sizeof fetch_bounds / sizeof fetch_bounds[0]);
    m.write_seconds = aw_metric_histogram(
        "aw_ingest_batch_write_seconds",
        "Time to write one batch to PostgreSQL (one transaction).", NULL, write_bounds,
        sizeof write_bounds / sizeof write_bounds[0]);
    /* dead letters by their AW_E... code: a short, fixed set */
    for (int i = 0; i < NCODES; i++)
        codes[i] = aw_err_name(AW_ERR_FIRST_ + 1 + i);
    aw_metric_family(false, "aw_ingest_dead_letters_total",
                     "Messages the dead-letter topic took, by code.", "code", codes, m.dead);
}

const ingest_metrics *ingest_metrics_get(void) {
    pthread_once(&once, declare);
    return &m;
}

aw_metric *ingest_dead_letter_metric(const char *code) {
    ingest_metrics_get();
    for (int i = 0; i < NCODES; i++)
        if (!strcmp(codes[i], code))
            return m.dead[i];
    return NULL;
}
