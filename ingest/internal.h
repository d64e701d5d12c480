/*
 * What the files of ingest/ share, and nothing else includes: the batch
 * (Kafka messages, the objects to fetch, the observations handed to the
 * indexer), the writer thread's hand-off, and the state of the consumer.
 *
 *   ingest.c  the loop: collect, fetch, hand over, finish; signals; retries
 *   kafka.c   consumer and dead-letter producer: configuration, rebalance,
 *             pause/resume, polling into a batch, offsets, dead letters
 *   batch.c   a batch's messages: decoding, marking a message dead,
 *             observations for the indexer
 *   fetch.c   the objects of a batch: jobs, streaming hash, fetch_all
 *   writer.c  the thread that owns the indexer and writes batches
 *   metrics.c the series ingest exports, declared at start
 */
#ifndef AW_INGEST_INTERNAL_H
#define AW_INGEST_INTERNAL_H

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aw/config.h"
#include "aw/event.h"
#include "aw/hash.h"
#include "aw/store.h"
#include "aw/indexer.h"
#include "aw/daemon.h"

#define LOG "ingest"

/* ------------------------------------------------------------ batches */

typedef struct msg {
    rd_kafka_message_t *m;  /* kept until the batch is done (DLQ needs it) */
    aw_events evs;
    bool dropped;           /* its partition was revoked: not ours to finish */
    bool dead;              /* goes to the dead-letter topic */
    bool is_doc;            /* a message of the OpenLineage topic: handed over as is */
    bool dlq_done;          /* the dead-letter topic has it */
    unsigned dlq_step;      /* how far its payload was cut for the dead-letter topic */
    char code[24];          /* AW_E... name for the DLQ header */
    char reason[512];
    size_t first_job, njobs; /* its created events are jobs first_job.. +njobs */
} msg;

typedef struct job {        /* one created object to fetch */
    size_t msg, ev;
    aw_sink s;              /* its hash and, for a sidecar, its first bytes */
    uint8_t sha256[32], md5[16]; /* set once the fetch succeeded */
} job;

/* Everything one batch owns. Observations point into its messages' events. */
typedef struct batch {
    msg *msgs;
    size_t nmsgs, msgs_cap, bytes;
    job *jobs;
    aw_fetch *reqs;
    size_t njobs, jobs_cap, reqs_cap;
    size_t sc_bytes;        /* sidecar bytes its jobs may keep, at most */
    uint64_t obj_bytes;     /* the sizes its events declare */
    int64_t first_ms;       /* when its first message came */
    aw_hash **hashes;       /* pool, reused batch after batch */
    size_t nhashes;
    aw_observation *obs;
    size_t *obs_msg;        /* the message each observation came from */
    size_t nobs, obs_cap;
} batch;

typedef struct partition_state {
    char topic[256];
    int32_t partition;
    bool eof;               /* everything up to the end was delivered to us */
    bool assigned;
    int64_t rewind;         /* lowest offset handed back while paused, or -1 */
} partition_state;

/* The thread that owns the indexer (and so the PostgreSQL connection). */
typedef struct writer {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    aw_indexer *ix;
    batch *job;             /* handed over, not yet finished */
    bool done;              /* job finished; result in rc */
    bool outage;            /* retrying an unreachable database now */
    bool abandon;           /* give up retrying (stopping) */
    bool quit;
    int rc;
} writer;

/* The series ingest exports, each registered (at zero) on the first call;
 * the consumer lag per partition appears as partitions are assigned. */
typedef struct ingest_metrics {
    aw_metric *events, *vanished, *bytes, *batches, *paused, *repaired;
    aw_metric *fetch_seconds, *write_seconds;
    aw_metric *dead[AW_ERR_LAST_ - AW_ERR_FIRST_]; /* by AW_E code, in the order of err.h */
} ingest_metrics;
const ingest_metrics *ingest_metrics_get(void);
/* The dead-letter counter of code ("AW_EPARSE"); NULL for an unknown one. */
aw_metric *ingest_dead_letter_metric(const char *code);

typedef struct ingest {
    aw_config *cfg;
    rd_kafka_t *rk;         /* consumer */
    rd_kafka_t *dlq;        /* producer for dead letters */
    char dlq_name[256];
    aw_s3 *s3;
    aw_key_encoding keyenc;
    aw_fetch_policy policy;
    bool verify_md5;
    bool with_md5;          /* MD5 computed too: verify_md5, or a store that keeps one */

    batch batches[2];
    batch *cur;             /* being collected and fetched (main thread) */
    batch *pending;         /* with the writer, or finished and awaiting offsets */
    writer w;

    partition_state *parts;
    size_t nparts;
    bool paused;
    bool held;              /* paused only to stay in the group during long work */
    int64_t work_since;     /* when the fetch or write now running began */
    int dlq_failures;       /* delivery reports with an error, this batch */

    /* counters for the periodic log line */
    uint64_t n_indexed, n_bytes, n_dead, n_vanished, n_batches, n_dlq_lost;
    int64_t first_msg_ms, last_batch_ms; /* for the rate in the summary */
} ingest;

/* ------------------------------------------------------------ ingest.c */

/* aw_retry_while_unavailable for a batch: "<what> unavailable (...); batch
 * kept, partitions paused, retrying in N ms". */
int retry_while_unavailable(const char *what, aw_retry_step step, void *arg,
                            aw_retry_wait wait, void *wait_arg) AW_WUR;

/* ------------------------------------------------------------ kafka.c */

/* Creates the consumer and the dead-letter producer and subscribes.
 * AW_ECONFIG for a property librdkafka refuses (already reported), else
 * AW_EKAFKA. */
int kafka_open(ingest *in);
/* The producer goes first (its last delivery reports point into the
 * batches), the consumer last (it waits for every message the batches
 * still hold to be destroyed). */
void kafka_close_producer(ingest *in);
void kafka_close_consumer(ingest *in);
/* Fills the current batch: up to batch.max messages, for at most batch.ms
 * after the first one, and no longer once every partition is at its end. */
int kafka_collect(ingest *in) AW_WUR;
/* Pauses or resumes every assigned partition; on resume, what arrived while
 * paused is read again. */
void kafka_set_paused(ingest *in, bool pause);
/* Waits ms while serving the consumer (rebalances, heartbeats), paused. */
void kafka_idle(ingest *in, long ms);
/* During a long fetch or write: pauses the partitions (once) and polls the
 * consumer, so max.poll.interval.ms never evicts a consumer that is
 * working. kafka_release resumes what was paused for this. */
void kafka_keepalive(ingest *in);
void kafka_release(ingest *in);
/* True when every assigned partition has been read to its end. */
bool kafka_all_at_end(const ingest *in);
/* A delivery report of the dead letter of x: delivered, refused for its
 * size (sent again smaller), or not delivered (the broker is away). */
void kafka_dlq_report(ingest *in, msg *x, rd_kafka_resp_err_t err);
/* Stores the next offset of every partition the batch read. */
void kafka_store_offsets(ingest *in, const batch *b);
/* Produces the batch's dead messages and waits for the broker's
 * acknowledgement; AW_EUNAVAILABLE when it does not come. A aw_retry_step. */
int kafka_dead_letter(void *in, char *why, size_t why_size);

/* ------------------------------------------------------------ batch.c */

/* Appends message m (owned by the batch from now on), decodes it and adds a
 * job for each object it creates; an undecodable message is marked dead.
 * AW_ENOMEM only. */
int batch_add(ingest *in, batch *b, rd_kafka_message_t *m) AW_WUR;
/* Marks x for the dead-letter topic with an AW_E... code and a reason, and
 * logs it with its Kafka coordinates. The one way a message dies. */
void msg_dead(msg *x, const char *code, const char *fmt, ...) AW_PRINTF(3, 4);
/* Builds the observations of every live message, in message order. */
int batch_observe(ingest *in, batch *b) AW_WUR;
/* Forgets the batch's messages and work, keeping its buffers for reuse. */
void batch_clear(batch *b);
void batch_free(batch *b);

/* ------------------------------------------------------------ fetch.c */

/* The requests for the jobs of the batch's live messages. */
int fetch_plan(ingest *in, batch *b) AW_WUR;
/* Fetches and hashes every job of in->cur; a aw_retry_step: AW_EUNAVAILABLE
 * when the store itself is unreachable (the batch is then retried whole and
 * nothing is dead-lettered), AW_EINTERRUPTED when stopping cut it short. */
int fetch_all(void *in, char *why, size_t why_size);

/* ------------------------------------------------------------ writer.c */

int writer_start(writer *w) AW_WUR;
/* Hands batch b to the writer. */
void writer_submit(writer *w, batch *b);
/* Waits up to ms for the handed batch; true when it is finished (its
 * result in *rc, and *was_outage tells whether the database was away). */
bool writer_wait(writer *w, long ms, int *rc, bool *was_outage);
/* True once the handed batch is finished (writer_wait then returns at once). */
bool writer_done(writer *w);
/* True while the writer retries an unreachable database. */
bool writer_in_outage(writer *w);
/* Makes a writer that is retrying give up (the batch is replayed later). */
void writer_abandon(writer *w);
void writer_stop(writer *w);

#endif
