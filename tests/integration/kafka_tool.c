/*
 * Integration helper for Kafka with librdkafka:
 *   kafka_tool produce TOPIC [KEY [PARTITION]]
 *                                    sends stdin as one message, waits for the ack
 *   kafka_tool dump TOPIC            prints every message as one JSON line
 *                                    {"partition","offset","key","value","headers":{}}
 *   kafka_tool create-topic TOPIC PARTITIONS [NAME=VALUE...]
 *                                    creates a topic with topic configs
 *   kafka_tool join TOPIC GROUP SECONDS
 *                                    joins GROUP (cooperative-sticky), prints the
 *                                    partitions it was given, holds them SECONDS
 *                                    without consuming or committing, leaves
 *   kafka_tool skip TOPIC GROUP      commits GROUP's offsets at the end of every
 *                                    partition of TOPIC: the events until now are
 *                                    lost to that group (no member may be active)
 * Brokers come from AW_KAFKA_BROKERS.
 */
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static rd_kafka_conf_t *conf_new(void) {
    const char *b = getenv("AW_KAFKA_BROKERS");
    if (!b) {
        fprintf(stderr, "kafka_tool: AW_KAFKA_BROKERS is not set\n");
        exit(2);
    }
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    char err[256];
    if (rd_kafka_conf_set(c, "bootstrap.servers", b, err, sizeof err)) {
        fprintf(stderr, "kafka_tool: %s\n", err);
        exit(2);
    }
    return c;
}

static int produce(const char *topic, const char *key, int partition) {
    static char buf[4 << 20];
    size_t n = fread(buf, 1, sizeof buf, stdin);
    char err[256];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf_new(), err, sizeof err);
    if (!rk) {
        fprintf(stderr, "kafka_tool: %s\n", err);
        return 1;
    }
    rd_kafka_resp_err_t e = rd_kafka_producev(
        rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
        RD_KAFKA_V_VALUE(buf, n), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
        RD_KAFKA_V_HEADER("origin", "kafka_tool", 10), RD_KAFKA_V_END);
    if (e) {
        fprintf(stderr, "kafka_tool: produce: %s\n", rd_kafka_err2str(e));
        return 1;
    }
    rd_kafka_flush(rk, 15000);
    int left = rd_kafka_outq_len(rk);
    rd_kafka_destroy(rk);
    if (left) {
        fprintf(stderr, "kafka_tool: message not acknowledged\n");
        return 1;
    }
    return 0;
}

static int dump(const char *topic) {
    rd_kafka_conf_t *c = conf_new();
    char err[256], group[64];
    snprintf(group, sizeof group, "kafka-tool-%d-%ld", (int)getpid(), (long)time(NULL));
    rd_kafka_conf_set(c, "group.id", group, err, sizeof err);
    rd_kafka_conf_set(c, "enable.partition.eof", "true", err, sizeof err);
    rd_kafka_conf_set(c, "enable.auto.commit", "false", err, sizeof err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof err);
    if (!rk) {
        fprintf(stderr, "kafka_tool: %s\n", err);
        return 1;
    }
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
    const rd_kafka_metadata_t *md;
    if (rd_kafka_metadata(rk, 0, t, &md, 10000) || md->topics[0].err) {
        fprintf(stderr, "kafka_tool: no metadata for %s\n", topic);
        return 1;
    }
    int np = md->topics[0].partition_cnt;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(np);
    for (int p = 0; p < np; p++)
        rd_kafka_topic_partition_list_add(l, topic, md->topics[0].partitions[p].id)->offset =
            RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(t);
    rd_kafka_assign(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    int eofs = 0;
    time_t deadline = time(NULL) + 30;
    while (eofs < np && time(NULL) < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            eofs++;
        } else if (!m->err) {
            json_t *o = json_pack("{s:i, s:I, s:s%, s:s%}", "partition", (int)m->partition,
                                  "offset", (json_int_t)m->offset, "key",
                                  m->key ? (const char *)m->key : "", m->key ? m->key_len : 0,
                                  "value", m->payload ? (const char *)m->payload : "", m->len);
            json_t *hs = json_object();
            rd_kafka_headers_t *h;
            if (o && rd_kafka_message_headers(m, &h) == 0) {
                const char *name;
                const void *val;
                size_t sz;
                for (size_t i = 0; !rd_kafka_header_get_all(h, i, &name, &val, &sz); i++)
                    json_object_set_new(hs, name, json_stringn(val ? val : "", val ? sz : 0));
            }
            if (o) {
                json_object_set_new(o, "headers", hs);
                char *s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
                if (s)
                    puts(s);
                free(s);
                json_decref(o);
            } else {
                json_decref(hs);
                printf("{\"partition\":%d,\"offset\":%lld,\"undumpable\":true}\n",
                       (int)m->partition, (long long)m->offset);
            }
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return eofs < np;
}

static int create_topic(const char *topic, int partitions, int nconf, char **confs) {
    char err[256];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf_new(), err, sizeof err);
    if (!rk) {
        fprintf(stderr, "kafka_tool: %s\n", err);
        return 1;
    }
    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, partitions, 1, err, sizeof err);
    for (int i = 0; nt && i < nconf; i++) {
        char *eq = strchr(confs[i], '=');
        if (!eq) {
            fprintf(stderr, "kafka_tool: %s is not NAME=VALUE\n", confs[i]);
            return 2;
        }
        *eq = '\0';
        rd_kafka_NewTopic_set_config(nt, confs[i], eq + 1);
    }
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 30000);
    int rc = 1;
    if (ev) {
        size_t nres;
        const rd_kafka_topic_result_t **res =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &nres);
        rc = rd_kafka_event_error(ev) || nres != 1 || rd_kafka_topic_result_error(res[0]);
        if (rc)
            fprintf(stderr, "kafka_tool: create %s: %s\n", topic,
                    rd_kafka_event_error(ev) ? rd_kafka_event_error_string(ev)
                    : nres ? rd_kafka_topic_result_error_string(res[0]) : "no result");
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_NewTopic_destroy(nt);
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(rk);
    return rc;
}

static void join_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                           rd_kafka_topic_partition_list_t *l, void *opaque) {
    int *assigned = opaque;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        for (int i = 0; i < l->cnt; i++)
            printf("assigned %s %d\n", l->elems[i].topic, (int)l->elems[i].partition);
        fflush(stdout);
        *assigned += l->cnt;
        rd_kafka_error_t *e = rd_kafka_incremental_assign(rk, l);
        if (e)
            rd_kafka_error_destroy(e);
    } else {
        rd_kafka_error_t *e = rd_kafka_incremental_unassign(rk, l);
        if (e)
            rd_kafka_error_destroy(e);
    }
}

static int join(const char *topic, const char *group, int seconds) {
    rd_kafka_conf_t *c = conf_new();
    char err[256];
    int assigned = 0;
    rd_kafka_conf_set(c, "group.id", group, err, sizeof err);
    rd_kafka_conf_set(c, "partition.assignment.strategy", "cooperative-sticky", err, sizeof err);
    rd_kafka_conf_set(c, "enable.auto.commit", "false", err, sizeof err);
    rd_kafka_conf_set(c, "session.timeout.ms", "6000", err, sizeof err);
    rd_kafka_conf_set_rebalance_cb(c, join_rebalance);
    rd_kafka_conf_set_opaque(c, &assigned);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof err);
    if (!rk) {
        fprintf(stderr, "kafka_tool: %s\n", err);
        return 1;
    }
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_subscribe(rk, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    /* wait for an assignment, then hold it; paused, so nothing is consumed */
    time_t deadline = time(NULL) + 60, hold_until = 0;
    while (time(NULL) < deadline && (!hold_until || time(NULL) < hold_until)) {
        if (assigned && !hold_until) {
            rd_kafka_topic_partition_list_t *a = NULL;
            if (!rd_kafka_assignment(rk, &a) && a) {
                rd_kafka_pause_partitions(rk, a);
                rd_kafka_topic_partition_list_destroy(a);
            }
            hold_until = time(NULL) + seconds;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (m)
            rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return assigned ? 0 : 1;
}

/* A whole number argument; exits 2 for anything else. */
static int num(const char *s) {
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < -1 || v > 1000000) {
        fprintf(stderr, "kafka_tool: \"%s\" is not a number\n", s);
        exit(2);
    }
    return (int)v;
}

static int skip(const char *topic, const char *group) {
    rd_kafka_conf_t *c = conf_new();
    char err[256];
    rd_kafka_conf_set(c, "group.id", group, err, sizeof err);
    rd_kafka_conf_set(c, "enable.auto.commit", "false", err, sizeof err);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof err);
    if (!rk) {
        fprintf(stderr, "kafka_tool: %s\n", err);
        return 1;
    }
    const rd_kafka_metadata_t *md = NULL;
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, t, &md, 10000);
    int rc = 1;
    if (!e && md->topic_cnt == 1 && !md->topics[0].err) {
        rd_kafka_topic_partition_list_t *l =
            rd_kafka_topic_partition_list_new(md->topics[0].partition_cnt);
        rc = 0;
        for (int i = 0; i < md->topics[0].partition_cnt && !rc; i++) {
            int32_t p = md->topics[0].partitions[i].id;
            int64_t lo, hi;
            if (rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, 10000)) {
                rc = 1;
                break;
            }
            rd_kafka_topic_partition_list_add(l, topic, p)->offset = hi;
        }
        if (!rc && (e = rd_kafka_commit(rk, l, 0)) != 0) {
            fprintf(stderr, "kafka_tool: commit: %s\n", rd_kafka_err2str(e));
            rc = 1;
        }
        rd_kafka_topic_partition_list_destroy(l);
    } else {
        fprintf(stderr, "kafka_tool: metadata of %s: %s\n", topic, rd_kafka_err2str(e));
    }
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(t);
    rd_kafka_destroy(rk);
    return rc;
}

int main(int argc, char **argv) {
    if (argc >= 3 && !strcmp(argv[1], "produce"))
        return produce(argv[2], argc > 3 ? argv[3] : NULL,
                       argc > 4 ? num(argv[4]) : RD_KAFKA_PARTITION_UA);
    if (argc == 3 && !strcmp(argv[1], "dump"))
        return dump(argv[2]);
    if (argc >= 4 && !strcmp(argv[1], "create-topic"))
        return create_topic(argv[2], num(argv[3]), argc - 4, argv + 4);
    if (argc == 4 && !strcmp(argv[1], "skip"))
        return skip(argv[2], argv[3]);
    if (argc == 5 && !strcmp(argv[1], "join"))
        return join(argv[2], argv[3], num(argv[4]));
    fprintf(stderr, "usage: kafka_tool produce TOPIC [KEY [PARTITION]] < payload | dump TOPIC |"
                    " create-topic TOPIC PARTITIONS [NAME=VALUE...] | join TOPIC GROUP SECONDS\n");
    return 2;
}
