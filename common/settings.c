/*
 * The settings table: the one place a key exists. Adding a row gives the key
 * a file name, an environment variable, a flag, a default, validation and a
 * line in --help at once. The parser that reads it is config.c.
 */
#include <stddef.h>

#include "config_keys.h"

#define OFF(f) offsetof(aw_config, f)
#define S3CMDS (AW_CMD_INGEST | AW_CMD_POLICY | AW_CMD_SCRUB | AW_CMD_BACKFILL)
#define PGCMDS (AW_CMD_ALL)
#define KCMDS AW_KAFKA_CMDS

static const char *const log_levels[] = {"error", "warn", "info", "debug", NULL};
static const char *const key_encodings[] = {"auto", "url", "raw", NULL};
static const char *const lineage_formats[] = {"table", "json", "dot", NULL};

const conf_key aw_conf_keys[] = {
    {"log.level", "AW_LOG_LEVEL", "log-level", CT_ENUM, OFF(log_level), "info", 0, 0,
     log_levels, AW_CMD_ALL, false, "error, warn, info or debug"},
    {"print_config", NULL, "print-config", CT_BOOL, OFF(print_config), "false", 0, 0, NULL,
     AW_CMD_ALL, false, "print the effective configuration (secrets masked) and exit"},
    {"pg.conninfo", "AW_PG_URI", "pg", CT_STR, OFF(pg_conninfo), "", 0, 0, NULL, PGCMDS,
     true, "libpq conninfo or URI; empty uses libpq defaults and PG* variables"},
    {"kafka.brokers", "AW_KAFKA_BROKERS", "brokers", CT_STR, OFF(kafka_brokers),
     "127.0.0.1:9092", 0, 0, NULL, KCMDS, false, "Kafka bootstrap servers (host:port,...)"},
    {"kafka.topic", "AW_KAFKA_TOPIC", "topic", CT_STR, OFF(kafka_topic),
     "aw.bucket-events", 0, 0, NULL, AW_CMD_INGEST, false,
     "topic carrying bucket notifications"},
    {"kafka.group", "AW_KAFKA_GROUP", "group", CT_STR, OFF(kafka_group),
     "artifact-watch", 0, 0, NULL, AW_CMD_INGEST, false, "consumer group id"},
    {"kafka.dlq_topic", "AW_KAFKA_DLQ_TOPIC", "dlq-topic", CT_STR, OFF(kafka_dlq_topic),
     "", 0, 0, NULL, AW_CMD_INGEST, false, "dead-letter topic (default: <topic>.dlq)"},
    {"kafka.properties_file", "AW_KAFKA_PROPERTIES", "kafka-properties", CT_STR,
     OFF(kafka_properties_file), "", 0, 0, NULL, KCMDS, false,
     "file of librdkafka key=value properties (applied before -X)"},
    {"s3.endpoint", "AWS_ENDPOINT_URL_S3", "s3-endpoint", CT_STR, OFF(s3_endpoint), "",
     0, 0, NULL, S3CMDS, false, "S3 endpoint URL (default: AWS for the region)"},
    {"s3.region", "AWS_REGION", "region", CT_STR, OFF(s3_region), "us-east-1", 0, 0, NULL,
     S3CMDS, false, "region used for SigV4 signing"},
    {"s3.access_key_id", "AWS_ACCESS_KEY_ID", NULL, CT_STR, OFF(s3_access_key_id), "",
     0, 0, NULL, S3CMDS, false, "access key id; empty sends unsigned requests"},
    {"s3.secret_access_key", "AWS_SECRET_ACCESS_KEY", NULL, CT_STR,
     OFF(s3_secret_access_key), "", 0, 0, NULL, S3CMDS, true, "secret access key"},
    {"s3.session_token", "AWS_SESSION_TOKEN", NULL, CT_STR, OFF(s3_session_token), "",
     0, 0, NULL, S3CMDS, true, "session token for temporary credentials"},
    {"s3.credentials_file", "AWS_SHARED_CREDENTIALS_FILE", "credentials-file", CT_STR,
     OFF(s3_credentials_file), "", 0, 0, NULL, S3CMDS, false,
     "AWS shared credentials file, used when AWS_ACCESS_KEY_ID is not set and re-read "
     "whenever it changes (default: ~/.aws/credentials if it exists)"},
    {"s3.profile", "AWS_PROFILE", "profile", CT_STR, OFF(s3_profile), "default", 0, 0, NULL,
     S3CMDS, false, "profile of the credentials file"},
    {"s3.path_style", "AW_S3_PATH_STYLE", "path-style", CT_BOOL, OFF(s3_path_style),
     "true", 0, 0, NULL, S3CMDS, false, "path-style URLs (endpoint/bucket/key)"},
    {"s3.store", "AW_STORE", "store", CT_STR, OFF(s3_store), "default", 0, 0, NULL,
     S3CMDS | AW_CMD_LINEAGE, false, "name of this object store in the database"},
    {"event.key_encoding", "AW_EVENT_KEY_ENCODING", "key-encoding", CT_ENUM,
     OFF(event_key_encoding), "auto", 0, 0, key_encodings, AW_CMD_INGEST, false,
     "object keys in events: auto, url (form-encoded) or raw"},
    {"fetch.concurrency", "AW_FETCH_CONCURRENCY", "fetch-concurrency", CT_INT,
     OFF(fetch_concurrency), "16", 1, 1024, NULL, AW_CMD_INGEST | AW_CMD_SCRUB, false,
     "parallel object downloads"},
    {"fetch.timeout_ms", "AW_FETCH_TIMEOUT_MS", "fetch-timeout-ms", CT_INT,
     OFF(fetch_timeout_ms), "30000", 100, 86400000, NULL, AW_CMD_INGEST | AW_CMD_SCRUB,
     false, "abort a download with no progress for this long"},
    {"fetch.retries", "AW_FETCH_RETRIES", "fetch-retries", CT_INT, OFF(fetch_retries),
     "5", 0, 100, NULL, AW_CMD_INGEST | AW_CMD_SCRUB, false,
     "retries on 5xx, 429 and timeouts before dead-lettering"},
    {"batch.max", "AW_BATCH_MAX", "batch-max", CT_INT, OFF(batch_max), "2000", 1,
     100000, NULL, AW_CMD_INGEST, false, "observations per PostgreSQL transaction"},
    {"batch.ms", "AW_BATCH_MS", "batch-ms", CT_INT, OFF(batch_ms), "200", 1, 60000, NULL,
     AW_CMD_INGEST, false, "longest wait before a partial batch is written"},
    {"shutdown.grace_ms", "AW_SHUTDOWN_GRACE_MS", "shutdown-grace-ms", CT_INT,
     OFF(shutdown_grace_ms), "20000", 0, 3600000, NULL, AW_CMD_INGEST, false,
     "after the first SIGTERM, how long fetches in flight may take before they are "
     "abandoned (their batch is replayed by the next run)"},
    {"fetch.verify_md5", "AW_VERIFY_MD5", "verify-md5", CT_BOOL, OFF(verify_md5),
     "false", 0, 0, NULL, AW_CMD_INGEST, false,
     "also compute MD5 and compare with a single-part ETag"},
    {"ingest.drain", NULL, "drain", CT_BOOL, OFF(drain), "false", 0, 0, NULL,
     AW_CMD_INGEST, false, "exit 0 once every assigned partition is consumed to its end"},
    {"sidecar.metadata", "AW_SIDECAR_METADATA", "sidecar-metadata", CT_STR,
     OFF(sidecar_metadata), "metadata.json", 0, 0, NULL, AW_CMD_INGEST, false,
     "basename globs of folder metadata sidecars (comma-separated; empty disables)"},
    {"sidecar.file_metadata", "AW_SIDECAR_FILE_METADATA", "sidecar-file-metadata", CT_STR,
     OFF(sidecar_file_metadata), "*.metadata.json", 0, 0, NULL, AW_CMD_INGEST, false,
     "per-file metadata sidecars, \"*SUFFIX\": <file>SUFFIX describes <file>"},
    {"sidecar.sha256", "AW_SIDECAR_SHA256", "sidecar-sha256", CT_STR, OFF(sidecar_sha256),
     "*.sha256", 0, 0, NULL, AW_CMD_INGEST, false,
     "declared-digest sidecars, \"*SUFFIX\": <file>SUFFIX holds <file>'s SHA-256"},
    {"sidecar.metrics", "AW_SIDECAR_METRICS", "sidecar-metrics", CT_STR,
     OFF(sidecar_metrics), "metrics.json", 0, 0, NULL, AW_CMD_INGEST, false,
     "basename globs of folder metrics sidecars"},
    {"sidecar.openlineage", "AW_SIDECAR_OPENLINEAGE", "sidecar-openlineage", CT_STR,
     OFF(sidecar_openlineage), "*.openlineage.json", 0, 0, NULL, AW_CMD_INGEST, false,
     "basename globs of objects holding an OpenLineage RunEvent"},
    {"sidecar.max_bytes", "AW_SIDECAR_MAX_BYTES", "sidecar-max-bytes", CT_INT,
     OFF(sidecar_max_bytes), "1048576", 1024, 67108864, NULL, AW_CMD_INGEST, false,
     "larger sidecars are recorded with an error instead of being read"},
    {"batch.sidecar_bytes", "AW_BATCH_SIDECAR_BYTES", "batch-sidecar-bytes", CT_INT,
     OFF(batch_sidecar_bytes), "33554432", 1048576, 17179869184L, NULL, AW_CMD_INGEST, false,
     "sidecar bytes one batch may keep in memory; a batch closes when it reaches this"},
    {"openlineage.topic", "AW_OPENLINEAGE_TOPIC", "openlineage-topic", CT_STR,
     OFF(openlineage_topic), "", 0, 0, NULL, AW_CMD_INGEST, false,
     "Kafka topic of OpenLineage RunEvents (empty: not consumed)"},
    {"lineage.depth", NULL, "depth", CT_INT, OFF(lineage_depth), "10", 0, 1000, NULL,
     AW_CMD_LINEAGE, false, "how many edges to follow"},
    {"lineage.as_of", NULL, "as-of", CT_STR, OFF(lineage_as_of), "", 0, 0, NULL,
     AW_CMD_LINEAGE, false, "walk the graph as it was at this time (ISO 8601; default now)"},
    {"lineage.format", NULL, "format", CT_ENUM, OFF(lineage_format), "table", 0, 0,
     lineage_formats, AW_CMD_LINEAGE, false, "table, json or dot (Graphviz)"},
    {"migrate.status", NULL, "status", CT_BOOL, OFF(migrate_status), "false", 0, 0, NULL,
     AW_CMD_MIGRATE, false, "list migrations and whether they are applied; change nothing"},
};
const size_t aw_conf_nkeys = sizeof aw_conf_keys / sizeof aw_conf_keys[0];
