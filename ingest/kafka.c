/*
 * The Kafka side of ingest: the consumer (cooperative-sticky group, offsets
 * stored by hand only after a batch is durable, pause/resume during outages)
 * and the producer of dead letters. librdkafka's own log lines and errors are
 * routed into ours.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aw/codec.h"
#include "aw/kafka.h"
#include "aw/log.h"
#include "aw/metrics.h"
#include "aw/util.h"
#include "internal.h"

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
                ps->rewind = -1; /* it starts from its committed offset */
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
        /* librdkafka keeps a partition's pause across a revoke and a new
         * assignment: say what it is now, or one given back after an
         * outage would stay paused for good */
        if (in->paused)
            rd_kafka_pause_partitions(rk, list);
        else
            rd_kafka_resume_partitions(rk, list);
        AW_INFO(LOG, "assigned %d partition(s) of %s", list->cnt,
                list->cnt ? list->elems[0].topic : "-");
    } else {
        /* Work from revoked partitions is dropped, not finished: the next
         * owner gets the same messages, and replays are harmless. */
        for (int i = 0; i < list->cnt; i++) {
            partition_state *ps = part_get(in, list->elems[i].topic, list->elems[i].partition,
                                           false);
            if (ps) {
                ps->assigned = false;
                ps->rewind = -1; /* a position of ours is stale once it is not */
            }
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
    kafka_dlq_report(opaque, m->_private, m->err);
}

/* librdkafka's statistics (every 5 s with --metrics-addr): the consumer lag
 * of each assigned partition, as the gauge aw_ingest_consumer_lag. A
 * partition librdkafka knows no lag for yet (-1) is left out. */
static int stats_cb(rd_kafka_t *rk, char *json, size_t len, void *opaque) {
    (void)rk;
    (void)opaque;
    json_error_t je;
    json_t *doc = json_loadb(json, len, 0, &je), *topics = json_object_get(doc, "topics");
    const char *tname;
    json_t *t;
    json_object_foreach(topics, tname, t) {
        const char *pname;
        json_t *p;
        json_object_foreach(json_object_get(t, "partitions"), pname, p) {
            json_int_t lag = json_integer_value(json_object_get(p, "consumer_lag"));
            if (!strcmp(pname, "-1") || !json_is_integer(json_object_get(p, "consumer_lag")) ||
                lag < 0 || strpbrk(tname, "\"\\\n") || strpbrk(pname, "\"\\\n"))
                continue;
            char labels[400];
            snprintf(labels, sizeof labels, "topic=\"%.200s\",partition=\"%.20s\"", tname, pname);
            aw_metric_set(aw_metric_gauge("aw_ingest_consumer_lag",
                                          "Messages between the committed offset and the end of "
                                          "each assigned partition.", labels),
                          (double)lag);
        }
    }
    json_decref(doc);
    return 0; /* librdkafka frees the text */
}

static int conf_set(rd_kafka_conf_t *conf, const char *k, const char *v) {
    return aw_kafka_set(conf, "ingest", "consumer", k, v);
}

int kafka_open(ingest *in) {
    char err[512];
    rd_kafka_conf_t *conf = aw_kafka_conf(in->cfg, "ingest", "consumer");
    if (!conf)
        return AW_ECONFIG;
    rd_kafka_conf_set_opaque(conf, in);
    /* Offsets are stored by hand once a batch is in PostgreSQL and committed
     * in the background; the prefetch queue is bounded so memory is too. */
    if (conf_set(conf, "group.id", in->cfg->kafka_group) ||
        conf_set(conf, "partition.assignment.strategy", "cooperative-sticky") ||
        conf_set(conf, "enable.auto.offset.store", "false") ||
        conf_set(conf, "enable.auto.commit", "true") ||
        conf_set(conf, "auto.commit.interval.ms", "1000") ||
        conf_set(conf, "auto.offset.reset", "earliest") ||
        conf_set(conf, "enable.partition.eof", "true") ||
        conf_set(conf, "queued.max.messages.kbytes", "8192") ||
        /* a drain stops at the partitions' ends: it learns it is there from a
         * fetch that comes back empty, so the broker need not hold it long */
        (in->cfg->drain && conf_set(conf, "fetch.wait.max.ms", "20")) ||
        (*in->cfg->metrics_addr &&
         conf_set(conf, "statistics.interval.ms", "5000")) ||
        aw_kafka_user_props(in->cfg, conf, "ingest", "consumer", false)) {
        rd_kafka_conf_destroy(conf);
        return AW_ECONFIG;
    }
    rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
    if (*in->cfg->metrics_addr)
        rd_kafka_conf_set_stats_cb(conf, stats_cb);
    in->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (!in->rk) {
        rd_kafka_conf_destroy(conf);
        fprintf(stderr, "artifact-watch ingest: Kafka consumer: %s\n", err);
        return AW_EKAFKA;
    }
    rd_kafka_poll_set_consumer(in->rk);

    conf = aw_kafka_producer_conf(in->cfg, "ingest", "dead-letter producer");
    if (!conf)
        return AW_ECONFIG;
    rd_kafka_conf_set_opaque(conf, in);
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

void kafka_set_paused(ingest *in, bool pause) {
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

/* One poll of the paused consumer: serves rebalances and heartbeats and
 * tells the group we are alive; a message fetched before the pause took
 * effect is read again on resume. */
static void serve(ingest *in, int timeout_ms) {
    rd_kafka_message_t *m = rd_kafka_consumer_poll(in->rk, timeout_ms);
    if (m) {
        if (!m->err) {
            partition_state *ps = part_get(in, rd_kafka_topic_name(m->rkt), m->partition, true);
            if (ps && ps->assigned && (ps->rewind < 0 || m->offset < ps->rewind))
                ps->rewind = m->offset;
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_poll(in->dlq, 0);
}

void kafka_idle(ingest *in, long ms) {
    int64_t until = aw_now_ms() + ms;
    while (!aw_stop && aw_now_ms() < until)
        serve(in, 100);
}

void kafka_keepalive(ingest *in) {
    if (!in->paused) {
        kafka_set_paused(in, true);
        in->held = true;
    }
    serve(in, 0);
}

void kafka_release(ingest *in) {
    if (in->held && in->paused)
        kafka_set_paused(in, false);
    in->held = false;
}

/* ------------------------------------------------------------ collect */

bool kafka_all_at_end(const ingest *in) {
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

int kafka_collect(ingest *in) {
    batch *b = in->cur;
    int64_t quiet_since = 0;
    const size_t max_bytes = 32u << 20;
    /* objects that take a while to fetch anyway: waiting out batch.ms for
     * more would only leave the fetch idle */
    const uint64_t max_obj_bytes = 256u << 20;
    while (!aw_stop && b->nmsgs < (size_t)in->cfg->batch_max && b->bytes < max_bytes &&
           b->sc_bytes < (size_t)in->cfg->batch_sidecar_bytes && b->obj_bytes < max_obj_bytes) {
        long wait = 100;
        if (b->nmsgs) {
            int64_t left = b->first_ms + in->cfg->batch_ms - aw_now_ms();
            if (left <= 0)
                break;
            wait = left < 100 ? (long)left : 100;
        } else if (in->pending) {
            /* nothing collected yet: look at the write every few ms, so a
             * written batch's offsets are stored as soon as it is done */
            wait = 5;
            if (!quiet_since)
                quiet_since = aw_now_ms();
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(in->rk, (int)wait);
        rd_kafka_poll(in->dlq, 0);
        if (!m) {
            /* a quiet moment: let a written batch get its offsets stored */
            if ((in->pending && !b->nmsgs &&
                 (writer_done(&in->w) || aw_now_ms() - quiet_since >= 100)) ||
                (kafka_all_at_end(in) && (b->nmsgs || in->cfg->drain)))
                break;
            continue;
        }
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            partition_state *ps = part_get(in, rd_kafka_topic_name(m->rkt), m->partition, true);
            if (ps)
                ps->eof = true;
            rd_kafka_message_destroy(m);
            if (kafka_all_at_end(in))
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
            b->first_ms = aw_now_ms();
        if (!in->first_msg_ms)
            in->first_msg_ms = aw_now_ms();
        int rc = batch_add(in, b, m);
        if (rc != AW_OK)
            return rc;
    }
    return AW_OK;
}

/* ------------------------------------------------------------ after a batch */

/* How much of a dead message's payload goes to the dead-letter topic at
 * each refusal step: all of it, then its first 64 KiB, then 1 KiB, then
 * nothing (the key and headers still say what it was and where it came
 * from). */
static const size_t dlq_payload_steps[] = {SIZE_MAX, 64 * 1024, 1024, 0};
#define DLQ_STEPS (sizeof dlq_payload_steps / sizeof dlq_payload_steps[0])

/* Produces x at its refusal step; a refusal of the message itself by the
 * producer moves it to the next step at once. */
static rd_kafka_resp_err_t dlq_produce(ingest *in, msg *x) {
    for (;;) {
        size_t cut = dlq_payload_steps[x->dlq_step];
        size_t len = x->m->len < cut ? x->m->len : cut;
        rd_kafka_headers_t *h = NULL, *orig = NULL;
        if (x->dlq_step < DLQ_STEPS - 1 &&
            rd_kafka_message_headers(x->m, &orig) == RD_KAFKA_RESP_ERR_NO_ERROR && orig)
            h = rd_kafka_headers_copy(orig);
        else
            h = rd_kafka_headers_new(8);
        char part[16], off[24], total[24];
        snprintf(part, sizeof part, "%d", (int)x->m->partition);
        snprintf(off, sizeof off, "%lld", (long long)x->m->offset);
        snprintf(total, sizeof total, "%zu", x->m->len);
        rd_kafka_header_add(h, "aw-error", -1, x->reason, -1);
        rd_kafka_header_add(h, "aw-error-code", -1, x->code, -1);
        rd_kafka_header_add(h, "aw-source-topic", -1, rd_kafka_topic_name(x->m->rkt), -1);
        rd_kafka_header_add(h, "aw-source-partition", -1, part, -1);
        rd_kafka_header_add(h, "aw-source-offset", -1, off, -1);
        if (len < x->m->len)
            rd_kafka_header_add(h, "aw-payload-truncated", -1, total, -1);
        rd_kafka_resp_err_t e = rd_kafka_producev(
            in->dlq, RD_KAFKA_V_TOPIC(in->dlq_name), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_VALUE(x->m->payload, len), RD_KAFKA_V_KEY(x->m->key, x->m->key_len),
            RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_OPAQUE(x), RD_KAFKA_V_END);
        if (!e)
            return e;
        rd_kafka_headers_destroy(h);
        if (e != RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE || x->dlq_step + 1 >= DLQ_STEPS)
            return e;
        x->dlq_step++;
    }
}

/* Errors that refuse this message, not the broker: retried smaller. */
static bool dlq_refuses_message(rd_kafka_resp_err_t e) {
    return e == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE ||
           e == RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE ||
           e == RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE || e == RD_KAFKA_RESP_ERR_INVALID_RECORD;
}

void kafka_dlq_report(ingest *in, msg *x, rd_kafka_resp_err_t e) {
    if (!e) {
        x->dlq_done = true;
        /* counted once the broker has it, by its AW_E... code (a short,
         * fixed set: a label that cannot grow without bound) */
        aw_metric_add(ingest_dead_letter_metric(x->code), 1);
        return;
    }
    if (dlq_refuses_message(e)) {
        if (x->dlq_step + 1 < DLQ_STEPS) {
            x->dlq_step++; /* sent again, smaller */
            return;
        }
        /* not even the headers fit: say everything here and move on, never
         * holding the partition on it */
        AW_ERROR(LOG, "%s [%d] @%lld: dead letter refused by %s even without its payload "
                 "(%s); dropped: %s: %s", rd_kafka_topic_name(x->m->rkt), (int)x->m->partition,
                 (long long)x->m->offset, in->dlq_name, rd_kafka_err2str(e), x->code, x->reason);
        x->dlq_done = true;
        in->n_dlq_lost++;
        return;
    }
    in->dlq_failures++;
    AW_WARN(LOG, "dead letter not delivered to %s: %s", in->dlq_name, rd_kafka_err2str(e));
}

int kafka_dead_letter(void *arg, char *why, size_t n) {
    ingest *in = arg;
    batch *b = in->pending;
    for (unsigned round = 0; round <= DLQ_STEPS; round++) {
        int sent = 0;
        in->dlq_failures = 0;
        for (size_t i = 0; i < b->nmsgs; i++) {
            msg *x = &b->msgs[i];
            if (!x->dead || x->dropped || x->dlq_done)
                continue;
            rd_kafka_resp_err_t e = dlq_produce(in, x);
            if (e && dlq_refuses_message(e)) {
                kafka_dlq_report(in, x, e);
                continue;
            }
            if (e) {
                snprintf(why, n, "producing to %s: %s", in->dlq_name, rd_kafka_err2str(e));
                return AW_EUNAVAILABLE;
            }
            sent++;
        }
        if (!sent)
            break;
        rd_kafka_flush(in->dlq, 30000);
        if (rd_kafka_outq_len(in->dlq) > 0 || in->dlq_failures) {
            snprintf(why, n, "dead letters not acknowledged by %s", in->dlq_name);
            return AW_EUNAVAILABLE;
        }
    }
    for (size_t i = 0; i < b->nmsgs; i++) {
        const msg *x = &b->msgs[i];
        if (x->dead && !x->dropped && !x->dlq_done) {
            snprintf(why, n, "dead letters not acknowledged by %s", in->dlq_name);
            return AW_EUNAVAILABLE;
        }
        in->n_dead += x->dead && !x->dropped;
    }
    return AW_OK;
}

void kafka_store_offsets(ingest *in, const batch *b) {
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(8);
    for (size_t i = 0; i < b->nmsgs; i++) {
        const msg *x = &b->msgs[i];
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


void kafka_close_producer(ingest *in) {
    if (in->dlq) {
        rd_kafka_flush(in->dlq, 10000);
        rd_kafka_destroy(in->dlq);
        in->dlq = NULL;
    }
}

void kafka_close_consumer(ingest *in) {
    if (in->rk) {
        rd_kafka_destroy(in->rk);
        in->rk = NULL;
    }
}
