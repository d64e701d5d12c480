/*
 * Benchmark helper: produces N AWS S3 event records (eventVersion 2.1,
 * ObjectCreated:Put) for keys <prefix><i> in one bucket to a Kafka topic, so
 * ingest benchmarks start with a backlog waiting in Kafka.
 *   bench_events TOPIC BUCKET PREFIX COUNT SIZE     (brokers: AW_KAFKA_BROKERS)
 */
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: bench_events TOPIC BUCKET PREFIX COUNT SIZE\n");
        return 2;
    }
    const char *topic = argv[1], *bucket = argv[2], *prefix = argv[3];
    long count = strtol(argv[4], NULL, 10), size = strtol(argv[5], NULL, 10);
    const char *brokers = getenv("AW_KAFKA_BROKERS");
    char err[512];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    if (!brokers || rd_kafka_conf_set(c, "bootstrap.servers", brokers, err, sizeof err) ||
        rd_kafka_conf_set(c, "linger.ms", "20", err, sizeof err) ||
        rd_kafka_conf_set(c, "batch.num.messages", "10000", err, sizeof err) ||
        rd_kafka_conf_set(c, "queue.buffering.max.messages", "1000000", err, sizeof err)) {
        fprintf(stderr, "bench_events: %s\n", brokers ? err : "AW_KAFKA_BROKERS is not set");
        return 2;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof err);
    if (!rk) {
        fprintf(stderr, "bench_events: %s\n", err);
        return 1;
    }
    char buf[2048];
    for (long i = 0; i < count; i++) {
        int n = snprintf(buf, sizeof buf,
                         "{\"Records\":[{\"eventVersion\":\"2.1\",\"eventSource\":\"aws:s3\","
                         "\"awsRegion\":\"us-east-1\",\"eventTime\":\"2026-01-01T00:00:00.000Z\","
                         "\"eventName\":\"ObjectCreated:Put\",\"s3\":{\"s3SchemaVersion\":\"1.0\","
                         "\"bucket\":{\"name\":\"%s\",\"arn\":\"arn:aws:s3:::%s\"},"
                         "\"object\":{\"key\":\"%s%ld\",\"size\":%ld,\"sequencer\":\"%016lX\"}}}]}",
                         bucket, bucket, prefix, i, size, (unsigned long)i + 1);
        while (rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_VALUE(buf, (size_t)n),
                                 RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END) ==
               RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(rk, 10);
        rd_kafka_poll(rk, 0);
    }
    rd_kafka_flush(rk, 60000);
    int left = rd_kafka_outq_len(rk);
    rd_kafka_destroy(rk);
    if (left) {
        fprintf(stderr, "bench_events: %d messages not acknowledged\n", left);
        return 1;
    }
    return 0;
}
