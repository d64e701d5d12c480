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

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "aw/event.h"
#include "aw/http.h"
#include "aw/indexer.h"
#include "aw/log.h"
#include "aw/util.h"

#define LOG "ingest"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig) {
    if (stop_requested)
        _exit(128 + sig); /* second signal: leave at once */
    stop_requested = 1;
}

/* ------------------------------------------------------------ batches */

typedef struct msg {
    rd_kafka_message_t *m;  /* kept until the batch is done (DLQ needs it) */
    aw_events evs;
    bool dropped;           /* its partition was revoked: not ours to finish */
    bool dead;              /* goes to the dead-letter topic */
    char code[24];          /* AW_E... name for the DLQ header */
    char reason[512];
    size_t first_job;       /* its created events are jobs first_job, first_job+1, ... */
    bool is_doc;            /* a message of the OpenLineage topic, read into doc */
    aw_sidecar_doc doc;
} msg;

typedef struct job {        /* one created object to fetch */
    size_t msg, ev;
    aw_hash *hash;
    int64_t bytes;
    uint8_t sha256[32], md5[16]; /* set once the fetch succeeded */
    /* sidecars: the body is kept (up to sidecar.max_bytes) and read */
    aw_sidecar_kind sc_kind;
    char *subject;          /* the folder or file it describes */
    char *body;
    size_t blen, bcap, limit;
    bool truncated;
    bool has_doc;
    aw_sidecar_doc doc;
} job;

/* Everything one batch owns. Observations point into its messages' events. */
typedef struct batch {
    msg *msgs;
    size_t nmsgs, msgs_cap, bytes;
    job *jobs;
    aw_fetch *reqs;
    size_t njobs, jobs_cap;
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

typedef struct ingest {
    aw_config *cfg;
    rd_kafka_t *rk;         /* consumer */
    rd_kafka_t *dlq;        /* producer for dead letters */
    char dlq_name[256];
    aw_s3 *s3;
    aw_key_encoding keyenc;
    aw_fetch_policy policy;
    aw_sidecar_rules *rules;
    size_t sc_max;          /* sidecar.max_bytes */
    bool verify_md5;

    batch batches[2];
    batch *cur;             /* being collected and fetched (main thread) */
    batch *pending;         /* with the writer, or finished and awaiting offsets */
    writer w;

    partition_state *parts;
    size_t nparts;
    bool paused;
    int dlq_failures;       /* delivery reports with an error, this batch */

    /* counters for the periodic log line */
    uint64_t n_indexed, n_bytes, n_dead, n_vanished, n_batches;
    int64_t first_msg_ms, last_batch_ms; /* for the rate in the summary */
} ingest;

static partition_state *part_get(ingest *in, const char *topic, int32_t p, bool create) {
    for (size_t i = 0; i < in->nparts; i++)
        if (in->parts[i].partition == p && !strcmp(in->parts[i].topic, topic))
            return &in->parts[i];
    if (!create)
        return NULL;
    partition_state *np = realloc(in->parts, (in->nparts + 1) * sizeof *np);
    if (!np)
        return NULL;
    in->parts = np;
    np[in->nparts] = (partition_state){.partition = p, .rewind = -1};
    snprintf(np[in->nparts].topic, sizeof np[in->nparts].topic, "%s", topic);
    return &np[in->nparts++];
}

static void batch_clear(batch *b) {
    for (size_t i = 0; i < b->nmsgs; i++) {
        aw_events_clear(&b->msgs[i].evs);
        aw_sidecar_doc_clear(&b->msgs[i].doc);
        rd_kafka_message_destroy(b->msgs[i].m);
    }
    for (size_t i = 0; i < b->njobs; i++) {
        job *j = &b->jobs[i];
        free(j->subject);
        free(j->body);
        aw_sidecar_doc_clear(&j->doc);
        j->subject = j->body = NULL;
    }
    b->nmsgs = 0;
    b->njobs = 0;
    b->nobs = 0;
    b->bytes = 0;
}

static void batch_free(batch *b) {
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

/* ------------------------------------------------------------ Kafka */

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
    (void)rk;
    aw_log_level l = level <= 3 ? AW_LOG_ERROR : level <= 4 ? AW_LOG_WARN
                     : level <= 6 ? AW_LOG_INFO : AW_LOG_DEBUG;
    if (aw_log_enabled(l))
        aw_log(l, "rdkafka", "%s: %s", fac, buf);
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque) {
    (void)rk;
    (void)opaque;
    AW_WARN("rdkafka", "%s: %s", rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *list, void *opaque) {
    ingest *in = opaque;
    bool cooperative = !strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE");
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        for (int i = 0; i < list->cnt; i++) {
            partition_state *ps = part_get(in, list->elems[i].topic, list->elems[i].partition,
                                           true);
            if (ps) {
                ps->assigned = true;
                ps->eof = false;
            }
        }
        rd_kafka_error_t *e = NULL;
        rd_kafka_resp_err_t re = RD_KAFKA_RESP_ERR_NO_ERROR;
        if (cooperative)
            e = rd_kafka_incremental_assign(rk, list);
        else
            re = rd_kafka_assign(rk, list);
        if (e) {
            AW_ERROR(LOG, "assign: %s", rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
        } else if (re) {
            AW_ERROR(LOG, "assign: %s", rd_kafka_err2str(re));
        }
        if (in->paused)
            rd_kafka_pause_partitions(rk, list);
        AW_INFO(LOG, "assigned %d partition(s) of %s", list->cnt,
                list->cnt ? list->elems[0].topic : "-");
    } else {
        /* Work from revoked partitions is dropped, not finished: the next
         * owner gets the same messages, and replays are harmless. */
        for (int i = 0; i < list->cnt; i++) {
            partition_state *ps = part_get(in, list->elems[i].topic, list->elems[i].partition,
                                           false);
            if (ps)
                ps->assigned = false;
            batch *bs[2] = {in->cur, in->pending};
            for (int b = 0; b < 2; b++)
                for (size_t j = 0; bs[b] && j < bs[b]->nmsgs; j++)
                    if (bs[b]->msgs[j].m->partition == list->elems[i].partition &&
                        !strcmp(rd_kafka_topic_name(bs[b]->msgs[j].m->rkt), list->elems[i].topic))
                        bs[b]->msgs[j].dropped = true;
        }
        if (cooperative) {
            rd_kafka_error_t *e = rd_kafka_incremental_unassign(rk, list);
            if (e)
                rd_kafka_error_destroy(e);
        } else {
            rd_kafka_assign(rk, NULL);
        }
        AW_INFO(LOG, "revoked %d partition(s)", list->cnt);
    }
}

static void dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    ingest *in = opaque;
    if (m->err) {
        in->dlq_failures++;
        AW_WARN(LOG, "dead letter not delivered to %s: %s", in->dlq_name, rd_kafka_err2str(m->err));
    }
}

/* Applies one property, naming it when librdkafka refuses. */
static int conf_set(rd_kafka_conf_t *conf, const char *k, const char *v, const char *who) {
    char err[512];
    if (rd_kafka_conf_set(conf, k, v, err, sizeof err) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "artifact-watch ingest: %s property %s=%s: %s\n", who, k, v, err);
        return AW_ECONFIG;
    }
    return AW_OK;
}

static rd_kafka_conf_t *base_conf(ingest *in, const char *who) {
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, log_cb);
    rd_kafka_conf_set_error_cb(conf, error_cb);
    rd_kafka_conf_set_opaque(conf, in);
    if (conf_set(conf, "bootstrap.servers", in->cfg->kafka_brokers, who) != AW_OK ||
        conf_set(conf, "client.id", "artifact-watch", who) != AW_OK) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    return conf;
}

/* User properties (-X, properties file) go last so they win. */
static int apply_user_props(ingest *in, rd_kafka_conf_t *conf, const char *who, bool producer) {
    for (size_t i = 0; i < in->cfg->rdkafka_props_n; i++) {
        const aw_kv *kv = &in->cfg->rdkafka_props[i];
        /* consumer-only settings would only draw warnings from the producer */
        if (producer && (!strncmp(kv->key, "group.", 6) || !strncmp(kv->key, "auto.", 5) ||
                         !strncmp(kv->key, "enable.auto", 11) ||
                         !strncmp(kv->key, "partition.assignment", 20) ||
                         !strncmp(kv->key, "fetch.", 6) || !strncmp(kv->key, "queued.", 7) ||
                         !strncmp(kv->key, "session.", 8) || !strncmp(kv->key, "max.poll", 8) ||
                         !strcmp(kv->key, "enable.partition.eof") ||
                         !strcmp(kv->key, "isolation.level")))
            continue;
        if (conf_set(conf, kv->key, kv->value, who) != AW_OK)
            return AW_ECONFIG;
    }
    return AW_OK;
}

static int kafka_open(ingest *in) {
    char err[512];
    rd_kafka_conf_t *conf = base_conf(in, "consumer");
    if (!conf)
        return AW_ECONFIG;
    /* Offsets are stored by hand once a batch is in PostgreSQL and committed
     * in the background; the prefetch queue is bounded so memory is too. */
    if (conf_set(conf, "group.id", in->cfg->kafka_group, "consumer") ||
        conf_set(conf, "partition.assignment.strategy", "cooperative-sticky", "consumer") ||
        conf_set(conf, "enable.auto.offset.store", "false", "consumer") ||
        conf_set(conf, "enable.auto.commit", "true", "consumer") ||
        conf_set(conf, "auto.commit.interval.ms", "1000", "consumer") ||
        conf_set(conf, "auto.offset.reset", "earliest", "consumer") ||
        conf_set(conf, "enable.partition.eof", "true", "consumer") ||
        conf_set(conf, "queued.max.messages.kbytes", "8192", "consumer") ||
        apply_user_props(in, conf, "consumer", false)) {
        rd_kafka_conf_destroy(conf);
        return AW_ECONFIG;
    }
    rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
    in->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (!in->rk) {
        rd_kafka_conf_destroy(conf);
        fprintf(stderr, "artifact-watch ingest: Kafka consumer: %s\n", err);
        return AW_EKAFKA;
    }
    rd_kafka_poll_set_consumer(in->rk);

    conf = base_conf(in, "dead-letter producer");
    if (!conf)
        return AW_ECONFIG;
    if (conf_set(conf, "acks", "all", "dead-letter producer") ||
        conf_set(conf, "linger.ms", "5", "dead-letter producer") ||
        conf_set(conf, "message.timeout.ms", "30000", "dead-letter producer") ||
        apply_user_props(in, conf, "dead-letter producer", true)) {
        rd_kafka_conf_destroy(conf);
        return AW_ECONFIG;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, dr_msg_cb);
    in->dlq = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!in->dlq) {
        rd_kafka_conf_destroy(conf);
        fprintf(stderr, "artifact-watch ingest: Kafka producer: %s\n", err);
        return AW_EKAFKA;
    }

    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(2);
    rd_kafka_topic_partition_list_add(sub, in->cfg->kafka_topic, RD_KAFKA_PARTITION_UA);
    if (*in->cfg->openlineage_topic)
        rd_kafka_topic_partition_list_add(sub, in->cfg->openlineage_topic,
                                          RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(in->rk, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    if (e) {
        fprintf(stderr, "artifact-watch ingest: subscribe to %s: %s\n", in->cfg->kafka_topic,
                rd_kafka_err2str(e));
        return AW_EKAFKA;
    }
    return AW_OK;
}

static void set_paused(ingest *in, bool pause) {
    if (in->paused == pause)
        return;
    rd_kafka_topic_partition_list_t *a = NULL;
    if (rd_kafka_assignment(in->rk, &a) == RD_KAFKA_RESP_ERR_NO_ERROR && a) {
        if (!pause) {
            /* messages that arrived while paused are read again */
            rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(4);
            for (int i = 0; i < a->cnt; i++) {
                partition_state *ps = part_get(in, a->elems[i].topic, a->elems[i].partition,
                                               false);
                if (ps && ps->rewind >= 0) {
                    rd_kafka_topic_partition_list_add(l, a->elems[i].topic, ps->partition)
                        ->offset = ps->rewind;
                    ps->rewind = -1;
                }
            }
            if (l->cnt) {
                rd_kafka_error_t *e = rd_kafka_seek_partitions(in->rk, l, 5000);
                if (e) {
                    AW_WARN(LOG, "seek after pause: %s", rd_kafka_error_string(e));
                    rd_kafka_error_destroy(e);
                }
            }
            rd_kafka_topic_partition_list_destroy(l);
        }
        if (pause)
            rd_kafka_pause_partitions(in->rk, a);
        else
            rd_kafka_resume_partitions(in->rk, a);
        rd_kafka_topic_partition_list_destroy(a);
    }
    in->paused = pause;
}

/* Waits ms while serving the consumer (rebalances, heartbeats), paused. */
static void idle(ingest *in, long ms) {
    int64_t until = aw_now_ms() + ms;
    while (!stop_requested && aw_now_ms() < until) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(in->rk, 100);
        if (m) {
            /* fetched before the pause took effect: read it again on resume */
            if (!m->err) {
                partition_state *ps = part_get(in, rd_kafka_topic_name(m->rkt), m->partition,
                                               true);
                if (ps && (ps->rewind < 0 || m->offset < ps->rewind))
                    ps->rewind = m->offset;
            }
            rd_kafka_message_destroy(m);
        }
        rd_kafka_poll(in->dlq, 0);
    }
}

/* ------------------------------------------------------------ collect */

static int add_msg(ingest *in, batch *b, rd_kafka_message_t *m) {
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
        /* a RunEvent: read now; an unreadable one is recorded with its error */
        x->is_doc = true;
        bool big = m->len > in->sc_max;
        return aw_sidecar_parse(AW_SC_OPENLINEAGE, m->payload, big ? 0 : m->len, big,
                                (long long)m->len, NULL, &x->doc);
    }
    int rc = aw_event_decode(m->payload, m->len, in->keyenc, &x->evs, x->reason, sizeof x->reason);
    if (rc == AW_OK || rc == AW_ESKIP)
        return AW_OK;
    if (rc == AW_ENOMEM)
        return rc;
    x->dead = true;
    snprintf(x->code, sizeof x->code, "%s", aw_err_name(rc));
    AW_WARN(LOG, "%s [%d] @%lld: undecodable message (%s): %s", rd_kafka_topic_name(m->rkt),
            (int)m->partition, (long long)m->offset, aw_err_name(rc), x->reason);
    return AW_OK;
}

/* True when every assigned partition has been read to its end. */
static bool all_at_end(ingest *in) {
    size_t assigned = 0;
    for (size_t i = 0; i < in->nparts; i++) {
        if (!in->parts[i].assigned)
            continue;
        assigned++;
        if (!in->parts[i].eof)
            return false;
    }
    return assigned > 0;
}

/* Fills the current batch: up to batch.max messages, for at most batch.ms
 * after the first one, and no longer once every partition is at its end. */
static int collect(ingest *in) {
    batch *b = in->cur;
    int64_t first = 0;
    const size_t max_bytes = 32u << 20;
    while (!stop_requested && b->nmsgs < (size_t)in->cfg->batch_max && b->bytes < max_bytes) {
        long wait = 100;
        if (b->nmsgs) {
            int64_t left = first + in->cfg->batch_ms - aw_now_ms();
            if (left <= 0)
                break;
            wait = left < 100 ? (long)left : 100;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(in->rk, (int)wait);
        rd_kafka_poll(in->dlq, 0);
        if (!m) {
            /* a quiet moment: let a written batch get its offsets stored */
            if ((in->pending && !b->nmsgs) || (all_at_end(in) && (b->nmsgs || in->cfg->drain)))
                break;
            continue;
        }
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            partition_state *ps = part_get(in, rd_kafka_topic_name(m->rkt), m->partition, true);
            if (ps)
                ps->eof = true;
            rd_kafka_message_destroy(m);
            if (all_at_end(in))
                break;
            continue;
        }
        if (m->err) {
            AW_WARN(LOG, "consumer: %s", rd_kafka_message_errstr(m));
            bool fatal = m->err == RD_KAFKA_RESP_ERR__FATAL;
            rd_kafka_message_destroy(m);
            if (fatal)
                return AW_EKAFKA;
            continue;
        }
        partition_state *ps = part_get(in, rd_kafka_topic_name(m->rkt), m->partition, true);
        if (ps)
            ps->eof = false;
        if (!b->nmsgs)
            first = aw_now_ms();
        if (!in->first_msg_ms)
            in->first_msg_ms = aw_now_ms();
        int rc = add_msg(in, b, m);
        if (rc != AW_OK)
            return rc;
    }
    return AW_OK;
}

/* ------------------------------------------------------------ fetch */

static int job_start(void *ud) {
    job *j = ud;
    j->bytes = 0;
    j->blen = 0;
    j->truncated = false;
    return aw_hash_reset(j->hash);
}

static int job_body(void *ud, const void *data, size_t len) {
    job *j = ud;
    j->bytes += (int64_t)len;
    if (j->sc_kind != AW_SC_NONE && !j->truncated) {
        if (j->blen + len > j->limit) {
            j->truncated = true; /* hashed to the end, but not read */
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

static bool md5_etag(const char *etag) {
    if (!etag || strlen(etag) != 32)
        return false;
    for (int i = 0; i < 32; i++)
        if (!strchr("0123456789abcdefABCDEF", etag[i]))
            return false;
    return true;
}

static int plan_jobs(ingest *in, batch *b) {
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
            b->jobs[k] = (job){.msg = i, .ev = e, .hash = b->hashes[k]};
            b->jobs[k].sc_kind = aw_sidecar_classify(in->rules, ev->key, &b->jobs[k].subject);
            b->jobs[k].limit = in->sc_max;
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

/* Fetches every job; AW_EUNAVAILABLE when the store itself is unreachable
 * (the batch is then retried whole, nothing is dead-lettered). */
static int fetch_all(ingest *in, batch *b, char *why, size_t n) {
    if (!b->njobs)
        return AW_OK;
    int rc = aw_s3_fetch_many(in->s3, b->reqs, b->njobs, &in->policy, NULL);
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
        if (r->outcome == AW_FETCH_FAILED && !x->dead) {
            x->dead = true;
            snprintf(x->code, sizeof x->code, "AW_EHTTP");
            snprintf(x->reason, sizeof x->reason,
                     "GET s3://%s/%s failed after %d attempt(s): %s", r->bucket, r->key,
                     r->attempts, r->error);
            AW_WARN(LOG, "%s [%d] @%lld: %s", rd_kafka_topic_name(x->m->rkt),
                    (int)x->m->partition, (long long)x->m->offset, x->reason);
        }
    }
    return AW_OK;
}

/* ------------------------------------------------------------ observations */

static aw_obs_kind obs_kind(aw_event_kind k) {
    return k == AW_EV_CREATED ? AW_OBS_CREATED : k == AW_EV_DELETED ? AW_OBS_DELETED
                                                                     : AW_OBS_DELETE_MARKER;
}

/* Builds the observations of every live message of the batch, in message
 * order, remembering which message each came from. */
static int build_obs(ingest *in, batch *b) {
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
            aw_observation *o = &b->obs[n++];
            memset(o, 0, sizeof *o);
            o->kind = AW_OBS_DOCUMENT;
            o->topic = rd_kafka_topic_name(x->m->rkt);
            o->partition = x->m->partition;
            o->offset = x->m->offset;
            o->timestamp = rd_kafka_message_timestamp(x->m, NULL);
            o->sidecar = &x->doc;
            continue;
        }
        size_t k = x->first_job;
        for (size_t e = 0; e < x->evs.n; e++) {
            const aw_event *ev = &x->evs.v[e];
            job *j = NULL;
            aw_fetch *r = NULL;
            if (ev->kind == AW_EV_CREATED) {
                j = &b->jobs[k];
                r = &b->reqs[k];
                k++;
            }
            b->obs_msg[n] = i;
            aw_observation *o = &b->obs[n++];
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
            o->kind = obs_kind(ev->kind);
            o->size = ev->size;
            o->topic = rd_kafka_topic_name(x->m->rkt);
            o->partition = x->m->partition;
            o->offset = x->m->offset;
            o->timestamp = rd_kafka_message_timestamp(x->m, NULL);
            o->record_index = (int32_t)e;
            if (!r) {
                o->state = AW_OBS_TOMBSTONE;
                continue;
            }
            if (r->outcome == AW_FETCH_OK) {
                o->state = AW_OBS_PRESENT;
                o->size = j->bytes;
                if (r->info.content_type[0])
                    o->content_type = r->info.content_type;
                memcpy(o->sha256, j->sha256, 32);
                memcpy(o->md5, j->md5, 16);
                o->has_sha256 = true;
                o->has_md5 = in->verify_md5 && md5_etag(ev->etag);
                if (j->sc_kind != AW_SC_NONE) {
                    if (!j->has_doc) {
                        const char *sn = j->subject ? strrchr(j->subject, '/') : NULL;
                        sn = sn ? sn + 1 : j->subject;
                        if (aw_sidecar_parse(j->sc_kind, j->body, j->blen, j->truncated,
                                             (long long)j->bytes, sn, &j->doc) != AW_OK)
                            return AW_ENOMEM;
                        j->has_doc = true;
                    }
                    o->sidecar = &j->doc;
                    o->sidecar_subject = j->subject;
                }
            } else if (r->outcome == AW_FETCH_PRECONDITION) {
                o->state = AW_OBS_SUPERSEDED;
            } else {
                o->state = AW_OBS_VANISHED;
                in->n_vanished++;
            }
        }
    }
    b->nobs = n;
    return AW_OK;
}

/* ------------------------------------------------------------ the writer */

/* Writes the batch; when the server rejects the data, writes message by
 * message so only the culprit is dead-lettered. Runs on the writer thread:
 * it reads the observations and sets only dead/code/reason of messages. */
static int write_batch(writer *w, batch *b, char *why, size_t n) {
    int rc = aw_indexer_write(w->ix, b->obs, b->nobs, why, n);
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
            msg *x = &b->msgs[b->obs_msg[i]];
            x->dead = true;
            snprintf(x->code, sizeof x->code, "AW_EPG");
            snprintf(x->reason, sizeof x->reason, "%s", err);
            AW_WARN(LOG, "%s [%d] @%lld: rejected by PostgreSQL: %s",
                    rd_kafka_topic_name(x->m->rkt), (int)x->m->partition,
                    (long long)x->m->offset, err);
        } else if (rc != AW_OK) {
            snprintf(why, n, "%s", err);
            return rc;
        }
        i = j;
    }
    return AW_OK;
}

static void *writer_main(void *arg) {
    writer *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->job && !w->quit)
            pthread_cond_wait(&w->cv, &w->mu);
        if (!w->job)
            break;
        batch *b = w->job;
        pthread_mutex_unlock(&w->mu);
        long wait = 500;
        int rc;
        for (;;) {
            char why[1024] = "";
            rc = write_batch(w, b, why, sizeof why);
            if (rc != AW_EUNAVAILABLE) {
                if (rc != AW_OK)
                    AW_ERROR(LOG, "PostgreSQL: %s: %s", aw_strerror(rc), why);
                break;
            }
            AW_WARN(LOG, "PostgreSQL unavailable (%s); batch kept, partitions paused, "
                         "retrying in %ld ms", why, wait);
            pthread_mutex_lock(&w->mu);
            w->outage = true;
            pthread_cond_broadcast(&w->cv);
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += wait / 1000;
            until.tv_nsec += (wait % 1000) * 1000000L;
            if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
            }
            while (!w->abandon && pthread_cond_timedwait(&w->cv, &w->mu, &until) == 0)
                ;
            bool abandon = w->abandon;
            pthread_mutex_unlock(&w->mu);
            if (abandon) {
                rc = AW_EINTERRUPTED;
                break;
            }
            wait = wait * 2 > 30000 ? 30000 : wait * 2;
        }
        pthread_mutex_lock(&w->mu);
        w->rc = rc;
        w->done = true;
        w->job = NULL;
        pthread_cond_broadcast(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* ------------------------------------------------------------ dead letters */

static int dead_letter(ingest *in, batch *b, char *why, size_t n) {
    int sent = 0;
    in->dlq_failures = 0;
    for (size_t i = 0; i < b->nmsgs; i++) {
        msg *x = &b->msgs[i];
        if (!x->dead || x->dropped)
            continue;
        rd_kafka_headers_t *h = NULL;
        rd_kafka_headers_t *orig = NULL;
        if (rd_kafka_message_headers(x->m, &orig) == RD_KAFKA_RESP_ERR_NO_ERROR && orig)
            h = rd_kafka_headers_copy(orig);
        else
            h = rd_kafka_headers_new(6);
        char part[16], off[24];
        snprintf(part, sizeof part, "%d", (int)x->m->partition);
        snprintf(off, sizeof off, "%lld", (long long)x->m->offset);
        rd_kafka_header_add(h, "aw-error", -1, x->reason, -1);
        rd_kafka_header_add(h, "aw-error-code", -1, x->code, -1);
        rd_kafka_header_add(h, "aw-source-topic", -1, rd_kafka_topic_name(x->m->rkt), -1);
        rd_kafka_header_add(h, "aw-source-partition", -1, part, -1);
        rd_kafka_header_add(h, "aw-source-offset", -1, off, -1);
        rd_kafka_resp_err_t e = rd_kafka_producev(
            in->dlq, RD_KAFKA_V_TOPIC(in->dlq_name), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_VALUE(x->m->payload, x->m->len), RD_KAFKA_V_KEY(x->m->key, x->m->key_len),
            RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_END);
        if (e) {
            rd_kafka_headers_destroy(h);
            snprintf(why, n, "producing to %s: %s", in->dlq_name, rd_kafka_err2str(e));
            return AW_EUNAVAILABLE;
        }
        sent++;
    }
    if (!sent)
        return AW_OK;
    rd_kafka_flush(in->dlq, 30000);
    if (rd_kafka_outq_len(in->dlq) > 0 || in->dlq_failures) {
        snprintf(why, n, "dead letters not acknowledged by %s", in->dlq_name);
        return AW_EUNAVAILABLE;
    }
    in->n_dead += (uint64_t)sent;
    return AW_OK;
}

/* ------------------------------------------------------------ offsets */

static void store_offsets(ingest *in, batch *b) {
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(8);
    for (size_t i = 0; i < b->nmsgs; i++) {
        msg *x = &b->msgs[i];
        if (x->dropped)
            continue;
        rd_kafka_topic_partition_t *tp = rd_kafka_topic_partition_list_find(
            l, rd_kafka_topic_name(x->m->rkt), x->m->partition);
        if (!tp)
            tp = rd_kafka_topic_partition_list_add(l, rd_kafka_topic_name(x->m->rkt),
                                                   x->m->partition);
        if (x->m->offset + 1 > tp->offset)
            tp->offset = x->m->offset + 1;
    }
    rd_kafka_resp_err_t e = l->cnt ? rd_kafka_offsets_store(in->rk, l) : 0;
    if (e && e != RD_KAFKA_RESP_ERR__STATE)
        AW_WARN(LOG, "storing offsets: %s", rd_kafka_err2str(e));
    rd_kafka_topic_partition_list_destroy(l);
}

/* ------------------------------------------------------------ the loop */

typedef int (*step_fn)(ingest *, batch *, char *, size_t);

/* Runs fn until it succeeds; while a service is away the partitions stay
 * paused and the same batch is retried, with doubling waits up to 30 s. */
static int until_done(ingest *in, batch *b, step_fn fn, const char *what) {
    long wait = 500;
    for (;;) {
        char why[1024] = "";
        int rc = fn(in, b, why, sizeof why);
        if (rc != AW_EUNAVAILABLE) {
            if (rc == AW_OK && in->paused) {
                AW_INFO(LOG, "%s is back; resuming", what);
                set_paused(in, false);
            }
            if (rc != AW_OK)
                AW_ERROR(LOG, "%s: %s: %s", what, aw_strerror(rc), why);
            return rc;
        }
        if (stop_requested)
            return AW_EINTERRUPTED;
        AW_WARN(LOG, "%s unavailable (%s); batch kept, partitions paused, retrying in %ld ms",
                what, why, wait);
        set_paused(in, true);
        idle(in, wait);
        wait = wait * 2 > 30000 ? 30000 : wait * 2;
    }
}

/* Waits for the writer to finish the pending batch, then dead-letters what
 * failed and stores the batch's offsets. While the database is away the
 * partitions stay paused and the consumer keeps polling. */
static int finish_pending(ingest *in) {
    batch *b = in->pending;
    if (!b)
        return AW_OK;
    writer *w = &in->w;
    for (;;) {
        pthread_mutex_lock(&w->mu);
        if (!w->done) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_nsec += 100 * 1000000L;
            if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&w->cv, &w->mu, &until);
        }
        bool done = w->done, outage = w->outage;
        if (stop_requested && outage && !done) {
            w->abandon = true; /* stopping: the batch is replayed next time */
            pthread_cond_broadcast(&w->cv);
        }
        pthread_mutex_unlock(&w->mu);
        if (done)
            break;
        if (outage && !in->paused)
            set_paused(in, true);
        if (in->paused)
            idle(in, 100);
    }
    pthread_mutex_lock(&w->mu);
    int rc = w->rc;
    bool was_out = w->outage;
    w->done = w->outage = w->abandon = false;
    pthread_mutex_unlock(&w->mu);
    if (rc != AW_OK)
        return rc;
    if (was_out || in->paused) {
        AW_INFO(LOG, "PostgreSQL is back; resuming");
        set_paused(in, false);
    }
    rc = until_done(in, b, dead_letter, "dead-letter topic");
    if (rc != AW_OK)
        return rc;
    store_offsets(in, b);
    for (size_t i = 0; i < b->nmsgs; i++)
        if (!b->msgs[i].dead && !b->msgs[i].dropped)
            in->n_indexed += b->msgs[i].evs.n;
    for (size_t k = 0; k < b->njobs; k++)
        in->n_bytes += (uint64_t)b->jobs[k].bytes;
    in->n_batches++;
    in->last_batch_ms = aw_now_ms();
    batch_clear(b);
    in->pending = NULL;
    return AW_OK;
}

/* Fetches the current batch and hands it to the writer. */
static int process_batch(ingest *in) {
    batch *b = in->cur;
    int64_t t0 = aw_now_ms();
    int rc = plan_jobs(in, b);
    if (rc == AW_OK)
        rc = until_done(in, b, fetch_all, "object store");
    if (rc == AW_OK)
        rc = build_obs(in, b);
    int64_t t1 = aw_now_ms();
    if (rc == AW_OK)
        rc = finish_pending(in);
    if (rc != AW_OK)
        return rc;
    AW_DEBUG(LOG, "batch of %zu message(s): fetch %lld ms, waited %lld ms for the previous "
                  "batch's write", b->nmsgs, (long long)(t1 - t0), (long long)(aw_now_ms() - t1));
    pthread_mutex_lock(&in->w.mu);
    in->w.job = b;
    in->w.done = false;
    pthread_cond_broadcast(&in->w.cv);
    pthread_mutex_unlock(&in->w.mu);
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

static void writer_stop(writer *w) {
    pthread_mutex_lock(&w->mu);
    w->quit = true;
    w->abandon = true;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
}

static void ingest_free(ingest *in) {
    batch_free(&in->batches[0]);
    batch_free(&in->batches[1]);
    free(in->parts);
    if (in->dlq) {
        rd_kafka_flush(in->dlq, 10000);
        rd_kafka_destroy(in->dlq);
    }
    if (in->rk)
        rd_kafka_destroy(in->rk);
    aw_s3_destroy(in->s3);
    aw_indexer_destroy(in->w.ix);
    aw_sidecar_rules_destroy(in->rules);
}

int aw_cmd_ingest(aw_config *cfg) {
    ingest in = {.cfg = cfg, .verify_md5 = cfg->verify_md5};
    in.cur = &in.batches[0];
    char err[1024];
    if (aw_key_encoding_parse(cfg->event_key_encoding, &in.keyenc) != AW_OK)
        return 2;
    const char *globs[AW_SC_NKINDS] = {
        [AW_SC_METADATA] = cfg->sidecar_metadata,
        [AW_SC_FILE_METADATA] = cfg->sidecar_file_metadata,
        [AW_SC_SHA256] = cfg->sidecar_sha256,
        [AW_SC_METRICS] = cfg->sidecar_metrics,
        [AW_SC_OPENLINEAGE] = cfg->sidecar_openlineage,
    };
    int grc = aw_sidecar_rules_new(globs, &in.rules, err, sizeof err);
    if (grc != AW_OK) {
        fprintf(stderr, "artifact-watch ingest: %s\n", grc == AW_ENOMEM ? "out of memory" : err);
        return 2;
    }
    in.sc_max = (size_t)cfg->sidecar_max_bytes;
    snprintf(in.dlq_name, sizeof in.dlq_name, "%s",
             *cfg->kafka_dlq_topic ? cfg->kafka_dlq_topic : "");
    if (!in.dlq_name[0])
        snprintf(in.dlq_name, sizeof in.dlq_name, "%s.dlq", cfg->kafka_topic);
    in.policy = (aw_fetch_policy){.concurrency = (int)cfg->fetch_concurrency,
                                  .retries = (int)cfg->fetch_retries,
                                  .backoff_base_ms = 200,
                                  .backoff_max_ms = 10000};
    aw_s3_opts so = {.endpoint = cfg->s3_endpoint, .region = cfg->s3_region,
                     .access_key = cfg->s3_access_key_id,
                     .secret_key = cfg->s3_secret_access_key,
                     .session_token = cfg->s3_session_token, .path_style = cfg->s3_path_style,
                     .timeout_ms = cfg->fetch_timeout_ms};
    if (aw_s3_new(&so, &in.s3, err, sizeof err) != AW_OK) {
        fprintf(stderr, "artifact-watch ingest: %s\n", err);
        ingest_free(&in);
        return 2;
    }
    if (aw_indexer_new(cfg->pg_conninfo, &in.w.ix) != AW_OK) {
        ingest_free(&in);
        return 1;
    }
    int rc = kafka_open(&in);
    if (rc != AW_OK) {
        ingest_free(&in);
        return rc == AW_ECONFIG ? 2 : 1;
    }
    pthread_mutex_init(&in.w.mu, NULL);
    pthread_cond_init(&in.w.cv, NULL);
    if (pthread_create(&in.w.thread, NULL, writer_main, &in.w) != 0) {
        fprintf(stderr, "artifact-watch ingest: cannot start the writer thread\n");
        ingest_free(&in);
        return 1;
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    AW_INFO(LOG, "consuming %s%s%s as group %s from %s; dead letters to %s; %ld fetches in "
                 "flight%s", cfg->kafka_topic, *cfg->openlineage_topic ? " and OpenLineage " : "",
            cfg->openlineage_topic, cfg->kafka_group, cfg->kafka_brokers, in.dlq_name,
            cfg->fetch_concurrency, cfg->drain ? "; draining" : "");

    int64_t last = aw_now_ms();
    uint64_t last_indexed = 0;
    int status = 0;
    bool interrupted = false;
    while (!stop_requested) {
        rc = collect(&in);
        if (rc == AW_OK && in.cur->nmsgs)
            rc = process_batch(&in);
        else if (rc == AW_OK)
            rc = finish_pending(&in); /* nothing new: finish what is in flight */
        if (rc == AW_EINTERRUPTED) {
            interrupted = true; /* stopping during an outage: replayed later */
            break;
        }
        if (rc != AW_OK) {
            AW_ERROR(LOG, "stopping: %s", aw_strerror(rc));
            status = 1;
            break;
        }
        report(&in, &last, &last_indexed);
        if (cfg->drain && all_at_end(&in) && !in.cur->nmsgs && !in.pending) {
            AW_INFO(LOG, "drained: every assigned partition is indexed to its end");
            break;
        }
    }
    if (stop_requested && status == 0 && !interrupted) {
        /* finish in-flight work: the batch at hand, then the one being written */
        rc = in.cur->nmsgs ? process_batch(&in) : AW_OK;
        if (rc == AW_OK)
            rc = finish_pending(&in);
        if (rc == AW_OK)
            AW_INFO(LOG, "stopping: in-flight batch finished, committing offsets");
    }
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
    pthread_mutex_destroy(&in.w.mu);
    pthread_cond_destroy(&in.w.cv);
    ingest_free(&in);
    return status;
}
