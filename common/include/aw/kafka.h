/*
 * librdkafka configuration every command that talks to Kafka shares: the
 * brokers and client id, librdkafka's log lines and errors routed into ours,
 * and the user's properties (--kafka-properties, then -X) applied last so
 * they win.
 */
#ifndef AW_KAFKA_H
#define AW_KAFKA_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>

#include "aw/config.h"

/* Sets one property; on refusal prints "artifact-watch CMD: WHO property K:
 * why" (naming the property, never its value, which may be a password) and
 * returns AW_ECONFIG. */
int aw_kafka_set(rd_kafka_conf_t *conf, const char *cmd, const char *who, const char *k,
                 const char *v);

/* A new configuration with the brokers, client.id and our log and error
 * callbacks; NULL (with the reason printed) when a value is refused. */
rd_kafka_conf_t *aw_kafka_conf(const aw_config *cfg, const char *cmd, const char *who);

/* Applies the user's properties; for a producer, consumer-only ones are
 * skipped (they would only draw warnings). */
int aw_kafka_user_props(const aw_config *cfg, rd_kafka_conf_t *conf, const char *cmd,
                        const char *who, bool producer);

/* aw_kafka_conf for a producer whose messages count once the broker has
 * them: acks=all, a 5 ms linger, 30 s to deliver, then the user's
 * properties. NULL (with the reason printed) when a value is refused. */
rd_kafka_conf_t *aw_kafka_producer_conf(const aw_config *cfg, const char *cmd, const char *who);

#endif
