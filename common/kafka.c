/*
 * librdkafka configuration shared by ingest and alerts (see aw/kafka.h).
 */
#include <stdio.h>
#include <string.h>

#include "aw/codec.h"
#include "aw/kafka.h"
#include "aw/log.h"
#include "aw/util.h"

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

int aw_kafka_set(rd_kafka_conf_t *conf, const char *cmd, const char *who, const char *k,
                 const char *v) {
    char err[512];
    rd_kafka_conf_res_t r = rd_kafka_conf_set(conf, k, v, err, sizeof err);
    if (r == RD_KAFKA_CONF_OK)
        return AW_OK;
    /* by name only: librdkafka's words quote the value */
    char name[128];
    aw_escape_text(k, strlen(k), name, sizeof name);
    fprintf(stderr, "artifact-watch %s: %s property %s: %s\n", cmd, who, name,
            r == RD_KAFKA_CONF_UNKNOWN ? "librdkafka knows no such property"
                                       : "librdkafka refuses its value");
    return AW_ECONFIG;
}

rd_kafka_conf_t *aw_kafka_conf(const aw_config *cfg, const char *cmd, const char *who) {
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, log_cb);
    rd_kafka_conf_set_error_cb(conf, error_cb);
    if (aw_kafka_set(conf, cmd, who, "bootstrap.servers", cfg->kafka_brokers) != AW_OK ||
        aw_kafka_set(conf, cmd, who, "client.id", "artifact-watch") != AW_OK) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    return conf;
}

static bool consumer_only(const char *k) {
    static const char *const prefixes[] = {"group.", "auto.", "enable.auto", "partition.assignment",
                                           "fetch.", "queued.", "session.", "max.poll"};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
        if (!strncmp(k, prefixes[i], strlen(prefixes[i])))
            return true;
    return !strcmp(k, "enable.partition.eof") || !strcmp(k, "isolation.level");
}

int aw_kafka_user_props(const aw_config *cfg, rd_kafka_conf_t *conf, const char *cmd,
                        const char *who, bool producer) {
    for (size_t i = 0; i < cfg->rdkafka_props_n; i++) {
        const aw_kv *kv = &cfg->rdkafka_props[i];
        if (producer && consumer_only(kv->key))
            continue;
        if (aw_kafka_set(conf, cmd, who, kv->key, kv->value) != AW_OK)
            return AW_ECONFIG;
    }
    return AW_OK;
}

rd_kafka_conf_t *aw_kafka_producer_conf(const aw_config *cfg, const char *cmd, const char *who) {
    rd_kafka_conf_t *conf = aw_kafka_conf(cfg, cmd, who);
    if (conf && (aw_kafka_set(conf, cmd, who, "acks", "all") != AW_OK ||
                 aw_kafka_set(conf, cmd, who, "linger.ms", "5") != AW_OK ||
                 aw_kafka_set(conf, cmd, who, "message.timeout.ms", "30000") != AW_OK ||
                 aw_kafka_user_props(cfg, conf, cmd, who, true) != AW_OK)) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    return conf;
}
