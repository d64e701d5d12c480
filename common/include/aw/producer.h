/*
 * Kafka for the commands that are not ingest's consumer, hiding librdkafka:
 * a producer whose messages count once the broker has them (acks=all), for
 * the commands that publish documents (alerts to a topic), and the lag of a
 * consumer group (how far behind the topic ingest is).
 */
#ifndef AW_PRODUCER_H
#define AW_PRODUCER_H

#include <stddef.h>

#include "aw/config.h"
#include "aw/err.h"

typedef struct aw_producer aw_producer;

/* A producer with cfg's brokers and librdkafka properties; cmd and who name
 * it in messages. AW_ECONFIG (a property refused: said on stderr, naming
 * the property, never its value), AW_EKAFKA with librdkafka's words. */
int aw_producer_new(const aw_config *cfg, const char *cmd, const char *who, aw_producer **out,
                    char *errstr, size_t errstr_size) AW_WUR;

/* Queues value (copied) under key to topic, waiting while the queue is full.
 * AW_EKAFKA with librdkafka's words. */
int aw_producer_send(aw_producer *p, const char *topic, const char *key, const char *value,
                     size_t len, char *errstr, size_t errstr_size) AW_WUR;

/* Waits up to timeout_ms for every queued message; AW_EKAFKA saying how many
 * were not delivered and why, when any was not. Resets the failure count. */
int aw_producer_flush(aw_producer *p, int timeout_ms, char *errstr, size_t errstr_size) AW_WUR;

/* Serves delivery reports; call now and then while idle. */
void aw_producer_poll(aw_producer *p);

/* NULL is ignored. */
void aw_producer_destroy(aw_producer *p);

/*
 * How many messages of topic consumer group `group` has not committed yet:
 * the sum over partitions of the end offset less the committed one (the
 * whole partition when the group never committed). AW_EKAFKA with
 * librdkafka's words when the brokers do not answer within timeout_ms.
 */
int aw_kafka_group_lag(const aw_config *cfg, const char *topic, const char *group,
                       int timeout_ms, long long *lag, char *errstr, size_t errstr_size) AW_WUR;

#endif
