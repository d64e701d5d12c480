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
    AW_CMD_CONSOLE = 1u << 8,
    AW_CMD_MLFLOW = 1u << 9,
    AW_CMD_WATCH = 1u << 10,
    AW_CMD_ALL = 0xffffu,
    AW_CMD_NONE = 1u << 16, /* commands without settings of their own (version) */
};

typedef struct aw_kv {
    char *key;
    char *value;
} aw_kv;

/* The most positional arguments a command line may carry. */
#define AW_CONFIG_MAX_ARGS 64

/* Enumerated settings are stored as the index of their word. */
typedef enum aw_format { AW_FMT_TABLE, AW_FMT_JSON, AW_FMT_DOT, AW_FMT_CSV } aw_format;
typedef enum aw_alert_state { AW_ALERTS_OPEN, AW_ALERTS_RESOLVED, AW_ALERTS_ALL } aw_alert_state;
extern const char *const aw_alert_state_words[];

/* Durations (fields ending in _s) are whole seconds and sizes are bytes,
 * parsed by the settings table from "90s", "1h", "7d", "8MiB". */
typedef struct aw_config {
    /* general */
    int log_level;  /* aw_log_level */
    int log_format; /* 0 text, 1 json */
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
    int event_key_encoding; /* aw_key_encoding */
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
    char *sidecar_mlmodel;
    long sidecar_max_bytes;
    long batch_sidecar_bytes;
    char *openlineage_topic;
    /* lineage */
    long lineage_depth;
    char *lineage_as_of;
    aw_format lineage_format;
    /* policy */
    char *policy_rules;
    aw_format policy_format;
    bool policy_save;
    long policy_plan;
    bool policy_force;
    long policy_every_s;
    bool policy_apply;
    long policy_max_plan_age_s;
    bool policy_lag_check;
    long policy_lag_wait_s;
    long policy_stop_grace_ms;
    /* scrub */
    long scrub_interval_s;
    bool scrub_once;
    bool scrub_all;
    char *scrub_bucket;
    char *scrub_prefix;
    long scrub_max_bytes_per_sec;
    long scrub_max_objects_per_sec;
    long scrub_batch;
    /* alerts */
    aw_alert_state alerts_state;
    aw_format alerts_format;
    char *alertmanager_url;
    char *alerts_topic;
    long alerts_resend_s;
    long alerts_min_interval_s;
    char *alerts_reason;
    bool alerts_once;
    /* verify */
    bool verify_fetch;
    char *verify_expect;
    aw_format verify_format;
    /* backfill */
    long backfill_concurrency;
    long backfill_max_objects_per_sec;
    long backfill_page_size;
    bool backfill_dry_run;
    bool backfill_all_buckets;
    bool backfill_restart;
    long watch_rescan_s;     /* 0: only at start and after an overflow */
    long watch_settle_ms;
    /* migrate */
    bool migrate_status;
    /* MLflow */
    char *mlflow_tracking_uri;
    char *mlflow_token;
    char *mlflow_username;
    char *mlflow_password;
    char *mlflow_artifacts_destination;
    long mlflow_every_s;
    bool mlflow_once;
    /* console */
    char *console_addr;
    char *console_token_file;
    bool console_insecure_no_auth;
    long console_threads;
    long console_query_timeout_s;
    long console_summary_every_s;

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

/* "30d" -> 2592000 (s, m, h, d, w; a number and one unit; "0" alone is
 * zero). AW_EINVAL for anything else. */
int aw_parse_duration(const char *s, int64_t *out) AW_WUR;

/* The shortest exact form of a duration in seconds ("90s", "15m", "7d")
 * and of a size in bytes ("8MiB", "1000"), as the parsers above read them. */
void aw_format_duration(int64_t s, char *out, size_t n);
void aw_format_size(int64_t b, char *out, size_t n);

/* True for a librdkafka property that can hold a secret (passwords, keys,
 * tokens, JAAS and OAUTHBEARER configs, keytabs): its value is never shown. */
bool aw_config_secret_prop(const char *key);

/* The index of s in the NULL-terminated list words, or -1. */
int aw_word_index(const char *const *words, const char *s);

/* A command's sub-verbs, declared in a table like the commands. */
typedef struct aw_verb {
    const char *name;
    size_t nargs;         /* positional arguments after the verb */
    const char *synopsis; /* the usage line after the verb; NULL: an alias, not shown */
} aw_verb;

/* The index in verbs (ended by a NULL name) of the verb cfg->args[0] names,
 * its argument count checked; -1 after printing to stderr the usage the
 * table makes. */
int aw_verb_pick(const char *cmd, const aw_verb *verbs, const aw_config *cfg);

/* The usage lines of cmd's verbs. */
void aw_verb_usage(FILE *out, const char *cmd, const aw_verb *verbs);

#endif
