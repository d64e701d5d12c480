/*
 * The producer of aw/producer.h on librdkafka: configured as every Kafka
 * client of artifact-watch is (aw/kafka.h), with a delivery report callback
 * that counts what the broker refused.
 */
#include "aw/producer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aw/kafka.h"

struct aw_producer {
    rd_kafka_t *rk;
    int failed;             /* delivery reports with an error since the last flush */
    char why[256];          /* the first one's */
};

static void delivered(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    aw_producer *p = opaque;
    if (m->err && !p->failed++)
        snprintf(p->why, sizeof p->why, "%s", rd_kafka_err2str(m->err));
}

int aw_producer_new(const aw_config *cfg, const char *cmd, const char *who, aw_producer **out,
                    char *errstr, size_t n) {
    *out = NULL;
    aw_producer *p = calloc(1, sizeof *p);
    if (!p)
        return AW_ENOMEM;
    rd_kafka_conf_t *conf = aw_kafka_producer_conf(cfg, cmd, who);
    if (!conf) {
        free(p);
        snprintf(errstr, n, "%s: a librdkafka property was refused", who);
        return AW_ECONFIG;
    }
    rd_kafka_conf_set_opaque(conf, p);
    rd_kafka_conf_set_dr_msg_cb(conf, delivered);
    char err[512];
    p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!p->rk) {
        rd_kafka_conf_destroy(conf);
        free(p);
        snprintf(errstr, n, "Kafka producer: %s", err);
        return AW_EKAFKA;
    }
    *out = p;
    return AW_OK;
}

int aw_producer_send(aw_producer *p, const char *topic, const char *key, const char *value,
                     size_t len, char *errstr, size_t n) {
    rd_kafka_resp_err_t e;
    while ((e = rd_kafka_producev(p->rk, RD_KAFKA_V_TOPIC(topic),
                                  RD_KAFKA_V_KEY(key, strlen(key)),
                                  RD_KAFKA_V_VALUE((void *)value, len),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                  RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
        rd_kafka_poll(p->rk, 100); /* the same message again once the queue has room */
    if (e) {
        snprintf(errstr, n, "Kafka topic %s: %s", topic, rd_kafka_err2str(e));
        return AW_EKAFKA;
    }
    rd_kafka_poll(p->rk, 0);
    return AW_OK;
}

int aw_producer_flush(aw_producer *p, int timeout_ms, char *errstr, size_t n) {
    rd_kafka_flush(p->rk, timeout_ms);
    int left = rd_kafka_outq_len(p->rk), failed = p->failed;
    p->failed = 0;
    if (failed || left) {
        snprintf(errstr, n, "%d message(s) not delivered: %s", failed + left,
                 failed ? p->why : "timed out");
        return AW_EKAFKA;
    }
    return AW_OK;
}

void aw_producer_poll(aw_producer *p) {
    if (p)
        rd_kafka_poll(p->rk, 0);
}

void aw_producer_destroy(aw_producer *p) {
    if (!p)
        return;
    rd_kafka_destroy(p->rk);
    free(p);
}

int aw_kafka_group_lag(const aw_config *cfg, const char *topic, const char *group, int timeout_ms,
                       long long *lag, char *errstr, size_t n) {
    *lag = 0;
    rd_kafka_conf_t *conf = aw_kafka_conf(cfg, "policy", "lag check");
    if (!conf || aw_kafka_set(conf, "policy", "lag check", "group.id", group) != AW_OK ||
        aw_kafka_set(conf, "policy", "lag check", "enable.auto.commit", "false") != AW_OK) {
        if (conf)
            rd_kafka_conf_destroy(conf);
        snprintf(errstr, n, "the lag check's Kafka settings were refused");
        return AW_ECONFIG;
    }
    char err[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        snprintf(errstr, n, "Kafka: %s", err);
        return AW_EKAFKA;
    }
    const rd_kafka_metadata_t *md = NULL;
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, t, &md, timeout_ms);
    int rc = AW_OK;
    rd_kafka_topic_partition_list_t *l = NULL;
    if (e || md->topic_cnt != 1 || md->topics[0].err) {
        snprintf(errstr, n, "metadata of topic %s: %s", topic,
                 rd_kafka_err2str(e ? e : md->topic_cnt == 1 ? md->topics[0].err
                                                             : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC));
        rc = AW_EKAFKA;
    } else {
        l = rd_kafka_topic_partition_list_new(md->topics[0].partition_cnt);
        for (int i = 0; i < md->topics[0].partition_cnt; i++)
            rd_kafka_topic_partition_list_add(l, topic, md->topics[0].partitions[i].id);
        if ((e = rd_kafka_committed(rk, l, timeout_ms)) != 0) {
            snprintf(errstr, n, "committed offsets of group %s: %s", group, rd_kafka_err2str(e));
            rc = AW_EKAFKA;
        }
    }
    for (int i = 0; rc == AW_OK && i < l->cnt; i++) {
        int64_t lo, hi;
        if ((e = rd_kafka_query_watermark_offsets(rk, topic, l->elems[i].partition, &lo, &hi,
                                                  timeout_ms)) != 0) {
            snprintf(errstr, n, "end of %s [%d]: %s", topic, (int)l->elems[i].partition,
                     rd_kafka_err2str(e));
            rc = AW_EKAFKA;
            break;
        }
        int64_t at = l->elems[i].offset >= 0 ? l->elems[i].offset : lo;
        *lag += hi > at ? hi - at : 0;
    }
    if (l)
        rd_kafka_topic_partition_list_destroy(l);
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(t);
    rd_kafka_destroy(rk);
    return rc;
}
