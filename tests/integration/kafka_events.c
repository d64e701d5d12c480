/*
 * Integration helper: reads a Kafka topic from the beginning of every
 * partition with librdkafka, decodes each message with the ingest decoder and
 * prints the events of one bucket, one per line:
 *   kind|source|bucket|key|size|etag|version_id|sequencer[|sha256]
 * With --fetch, every created object is also fetched through the common S3
 * client (SigV4, streaming) and its SHA-256 appended. It stops once --min
 * events were printed and every partition is at its end, or exits 1 after
 * --timeout seconds. Why a message could not be decoded goes to stderr.
 * Settings come from the stack's environment.
 *
 * usage: kafka_events --bucket B [--min N] [--timeout S] [--fetch] [--topic T]
 */
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "aw/event.h"
#include "aw/store.h"
#include "aw/codec.h"
#include "aw/hash.h"
#include "aw/util.h"

static const char *env_or(const char *name, const char *def) {
    const char *v = getenv(name);
    return v && *v ? v : def;
}

static int hash_cb(void *ud, const void *data, size_t len) {
    return aw_hash_update(ud, data, len);
}

static int fetch_sha(aw_s3 *s3, const aw_event *e, char hex[65]) {
    aw_hash *h;
    if (aw_hash_new(false, &h) != AW_OK)
        return 1;
    aw_s3_object_info info;
    char err[1024];
    int rc = aw_s3_get(s3, e->bucket, e->key, e->version_id, hash_cb, h, &info, err, sizeof err);
    uint8_t d[32];
    if (rc == AW_OK && info.status == 200 && aw_hash_final(h, d, NULL) == AW_OK) {
        aw_hex(d, 32, hex);
    } else {
        fprintf(stderr, "kafka_events: GET s3://%s/%s: %s (HTTP %ld)\n", e->bucket, e->key,
                rc == AW_OK ? "unexpected status" : err, info.status);
        snprintf(hex, 65, "FETCH-FAILED-%ld", info.status);
    }
    aw_hash_destroy(h);
    return 0;
}

int main(int argc, char **argv) {
    const char *bucket = NULL, *topic = env_or("AW_KAFKA_TOPIC", "aw.bucket-events");
    long min = 1, timeout = 60;
    int fetch = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--bucket") && i + 1 < argc)
            bucket = argv[++i];
        else if (!strcmp(argv[i], "--topic") && i + 1 < argc)
            topic = argv[++i];
        else if (!strcmp(argv[i], "--min") && i + 1 < argc)
            min = strtol(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--timeout") && i + 1 < argc)
            timeout = strtol(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--fetch"))
            fetch = 1;
        else {
            fprintf(stderr, "usage: kafka_events --bucket B [--min N] [--timeout S] [--fetch] [--topic T]\n");
            return 2;
        }
    }
    if (!bucket) {
        fprintf(stderr, "kafka_events: --bucket is required\n");
        return 2;
    }
    const char *brokers = getenv("AW_KAFKA_BROKERS");
    if (!brokers) {
        fprintf(stderr, "kafka_events: AW_KAFKA_BROKERS is not set: run scripts/stack up and "
                        "eval \"$(scripts/stack env)\"\n");
        return 2;
    }

    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char group[64];
    snprintf(group, sizeof group, "aw-itest-%d-%ld", (int)getpid(), (long)time(NULL));
    if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, sizeof errstr) ||
        rd_kafka_conf_set(conf, "group.id", group, errstr, sizeof errstr) ||
        rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof errstr) ||
        rd_kafka_conf_set(conf, "enable.partition.eof", "true", errstr, sizeof errstr)) {
        fprintf(stderr, "kafka_events: %s\n", errstr);
        return 1;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!rk) {
        fprintf(stderr, "kafka_events: %s\n", errstr);
        return 1;
    }
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    const rd_kafka_metadata_t *md = NULL;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
    if (err || md->topic_cnt != 1 || md->topics[0].err) {
        fprintf(stderr, "kafka_events: metadata for %s: %s\n", topic,
                rd_kafka_err2str(err ? err : md->topics[0].err));
        return 1;
    }
    int nparts = md->topics[0].partition_cnt;
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(nparts);
    for (int p = 0; p < nparts; p++)
        rd_kafka_topic_partition_list_add(parts, topic, md->topics[0].partitions[p].id)->offset =
            RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    if ((err = rd_kafka_assign(rk, parts))) {
        fprintf(stderr, "kafka_events: assign: %s\n", rd_kafka_err2str(err));
        return 1;
    }
    rd_kafka_topic_partition_list_destroy(parts);

    aw_s3 *s3 = NULL;
    if (fetch) {
        aw_s3_opts o = {.endpoint = getenv("AWS_ENDPOINT_URL_S3"),
                        .region = env_or("AWS_REGION", "us-east-1"),
                        .access_key = getenv("AWS_ACCESS_KEY_ID"),
                        .secret_key = getenv("AWS_SECRET_ACCESS_KEY"),
                        .session_token = getenv("AWS_SESSION_TOKEN"),
                        .path_style = true,
                        .timeout_ms = 10000};
        if (aw_http_global_init() != AW_OK || aw_s3_new(&o, &s3, errstr, sizeof errstr) != AW_OK) {
            fprintf(stderr, "kafka_events: S3 client: %s\n", errstr);
            return 1;
        }
    }

    int *at_eof = calloc((size_t)nparts + 1, sizeof *at_eof);
    long printed = 0, skipped = 0, bad = 0;
    time_t deadline = time(NULL) + timeout;
    int done = 0;
    while (!done && time(NULL) < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (m->partition >= 0 && m->partition < nparts)
                at_eof[m->partition] = 1;
        } else if (m->err) {
            fprintf(stderr, "kafka_events: %s\n", rd_kafka_message_errstr(m));
        } else {
            if (m->partition >= 0 && m->partition < nparts)
                at_eof[m->partition] = 0;
            aw_events evs;
            char derr[512];
            int rc = aw_event_decode(m->payload, m->len, AW_KEYS_AUTO, &evs, derr, sizeof derr);
            if (rc == AW_ESKIP)
                skipped++;
            else if (rc != AW_OK) {
                bad++;
                fprintf(stderr, "kafka_events: undecodable at %d:%lld: %s\n", (int)m->partition,
                        (long long)m->offset, derr);
            }
            for (size_t i = 0; rc == AW_OK && i < evs.n; i++) {
                const aw_event *e = &evs.v[i];
                if (strcmp(e->bucket, bucket))
                    continue;
                char sha[65] = "";
                if (fetch && e->kind == AW_EV_CREATED)
                    fetch_sha(s3, e, sha);
                printf("%s|%s|%s|%s|%lld|%s|%s|%s%s%s\n",
                       e->kind == AW_EV_CREATED   ? "created"
                       : e->kind == AW_EV_DELETED ? "deleted"
                                                  : "delete_marker",
                       e->source, e->bucket, e->key, (long long)e->size, e->etag ? e->etag : "-",
                       e->version_id ? e->version_id : "-", e->sequencer ? e->sequencer : "-",
                       sha[0] ? "|" : "", sha);
                printed++;
            }
            aw_events_clear(&evs);
        }
        rd_kafka_message_destroy(m);
        if (printed >= min) {
            done = 1;
            for (int p = 0; p < nparts; p++)
                done &= at_eof[p];
        }
    }
    fprintf(stderr, "kafka_events: %ld events for bucket %s, %ld skipped (test events), %ld undecodable\n",
            printed, bucket, skipped, bad);
    if (!done)
        fprintf(stderr, "kafka_events: gave up after %ld s waiting for %ld events of bucket %s\n",
                timeout, min, bucket);
    free(at_eof);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    aw_s3_destroy(s3);
    if (fetch)
        aw_http_global_cleanup();
    return done ? 0 : 1;
}
