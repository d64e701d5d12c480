/*
 * Configuration: every key is declared once, in the table in settings.c,
 * with its config-file name, environment variable, command-line flag, type
 * (string, integer with a range, boolean, or one of a list of words),
 * default and help text. Values are applied in increasing precedence:
 * defaults < config file < environment < flags, and every value remembers
 * where it came from so an error can name the source ("aw.conf:12",
 * "env AW_FETCH_CONCURRENCY", "flag --fetch-concurrency").
 */
#ifndef AW_CONFIG_H
#define AW_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "aw/err.h"

/* Which subcommands read a key; a key may serve several. */
enum {
    AW_CMD_INGEST = 1u << 0,
    AW_CMD_MIGRATE = 1u << 1,
    AW_CMD_LINEAGE = 1u << 2,
    AW_CMD_POLICY = 1u << 3,
    AW_CMD_SCRUB = 1u << 4,
    AW_CMD_BACKFILL = 1u << 5,
    AW_CMD_ALERTS = 1u << 6,
    AW_CMD_VERIFY = 1u << 7,
    AW_CMD_ALL = 0xffffu,
    AW_CMD_NONE = 1u << 16, /* commands without settings of their own (version) */
};

typedef struct aw_kv {
    char *key;
    char *value;
} aw_kv;

/* The most positional arguments a command line may carry. */
#define AW_CONFIG_MAX_ARGS 64

typedef struct aw_config {
    /* general */
    char *log_level;
    char *log_format;
    char *metrics_addr;
    bool print_config;
    /* PostgreSQL: a libpq conninfo string or URI; empty means libpq's own
     * defaults and the standard PG* environment variables. */
    char *pg_conninfo;
    /* Kafka */
    char *kafka_brokers;
    char *kafka_topic;
    char *kafka_group;
    char *kafka_dlq_topic;
    char *kafka_properties_file;
    /* S3 */
    char *s3_endpoint;
    char *s3_region;
    char *s3_access_key_id;
    char *s3_secret_access_key;
    char *s3_session_token;
    char *s3_credentials_file;
    char *s3_profile;
    bool s3_path_style;
    char *s3_store;
    char *stores_file;
    char *event_key_encoding;
    /* ingest */
    long fetch_concurrency;
    long fetch_timeout_ms;
    long fetch_retries;
    long fetch_range_size;
    long fetch_range_concurrency;
    long batch_max;
    long batch_ms;
    long shutdown_grace_ms;
    bool verify_md5;
    bool drain;
    char *sidecar_metadata;
    char *sidecar_file_metadata;
    char *sidecar_sha256;
    char *sidecar_metrics;
    char *sidecar_openlineage;
    long sidecar_max_bytes;
    long batch_sidecar_bytes;
    char *openlineage_topic;
    /* lineage */
    long lineage_depth;
    char *lineage_as_of;
    char *lineage_format;
    /* policy */
    char *policy_rules;
    char *policy_format;
    bool policy_save;
    long policy_plan;
    bool policy_force;
    char *policy_every;
    bool policy_apply;
    char *policy_max_plan_age;
    bool policy_lag_check;
    char *policy_lag_wait;
    long policy_stop_grace_ms;
    /* scrub */
    char *scrub_interval;
    bool scrub_once;
    bool scrub_all;
    char *scrub_bucket;
    char *scrub_prefix;
    long scrub_max_bytes_per_sec;
    long scrub_max_objects_per_sec;
    long scrub_batch;
    /* alerts */
    char *alerts_state;
    char *alerts_format;
    char *alertmanager_url;
    char *alerts_topic;
    char *alerts_resend;
    char *alerts_min_interval;
    char *alerts_reason;
    bool alerts_once;
    /* verify */
    bool verify_fetch;
    char *verify_expect;
    char *verify_format;
    /* backfill */
    long backfill_concurrency;
    long backfill_max_objects_per_sec;
    long backfill_page_size;
    bool backfill_dry_run;
    bool backfill_all_buckets;
    bool backfill_restart;
    /* migrate */
    bool migrate_status;

    /* Positional arguments (lineage up|down URI, ...), borrowed from argv. */
    const char *args[AW_CONFIG_MAX_ARGS];
    size_t nargs;

    /* librdkafka properties from -X and the properties file, in order. */
    aw_kv *rdkafka_props;
    size_t rdkafka_props_n;
} aw_config;

/* Fills cfg with the defaults. Returns AW_ENOMEM. */
int aw_config_init(aw_config *cfg) AW_WUR;

/* Frees every string the config owns; the struct itself is the caller's.
 * NULL is ignored. */
void aw_config_free(aw_config *cfg);

/*
 * Loads configuration for command `cmd` (an AW_CMD_* bit) from, in order:
 * the file named by --config or AW_CONFIG (if any), the environment, then the
 * flags in argv (argv[0] is the subcommand name). Arguments that are not
 * flags are collected in cfg->args (the command decides what it accepts).
 * Unknown flags, keys that do not belong to the command and bad values fail
 * with AW_ECONFIG and a message in errstr naming the key and its source.
 * `--help` sets *want_help.
 */
int aw_config_load(aw_config *cfg, unsigned cmd, int argc, char **argv,
                   bool *want_help, char *errstr, size_t errstr_size) AW_WUR;

/* Parses one "key=value" librdkafka property and appends it. */
int aw_config_add_rdkafka_prop(aw_config *cfg, const char *kv, char *errstr,
                               size_t errstr_size) AW_WUR;

/* Prints the options of `cmd`: flag, env var, file key, default, help. */
void aw_config_usage(FILE *out, unsigned cmd);

/* Writes the effective configuration, secrets masked, for `--print-config`. */
void aw_config_dump(FILE *out, const aw_config *cfg, unsigned cmd);

/*
 * The checked integer parser behind every integer setting, for other text
 * that must be a whole number: decimal, no sign games, within [min, max].
 * AW_EINVAL otherwise.
 */
int aw_parse_long(const char *s, long min, long max, long *out) AW_WUR;

/* "1MiB" -> 1048576 (B, KB, MB, GB, TB, KiB, MiB, GiB, TiB; a bare number
 * is bytes). AW_EINVAL for anything else. */
int aw_parse_size(const char *s, int64_t *out) AW_WUR;

/* "30d" -> 2592000 (s, m, h, d, w; a number and one unit). AW_EINVAL. */
int aw_parse_duration(const char *s, int64_t *out) AW_WUR;

/* True for a librdkafka property that can hold a secret (passwords, keys,
 * tokens, JAAS and OAUTHBEARER configs, keytabs): its value is never shown. */
bool aw_config_secret_prop(const char *key);

/* The index of s in the NULL-terminated list words, or -1. */
int aw_word_index(const char *const *words, const char *s);

#endif
