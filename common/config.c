/*
 * The configuration table and its loaders. The table is the single place a
 * key exists: adding a row gives the key a file name, an env variable, a flag,
 * a default, validation and a line in --help at once.
 */
#include "aw/config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef enum { CT_STR, CT_INT, CT_BOOL } conf_type;

typedef struct conf_key {
    const char *name; /* config file key */
    const char *env;  /* environment variable, NULL for none */
    const char *flag; /* --flag, NULL for none */
    conf_type type;
    size_t offset;
    const char *def;
    long min, max;     /* CT_INT range */
    unsigned cmds;     /* AW_CMD_* bits */
    bool secret;       /* masked in --print-config */
    const char *help;
} conf_key;

#define OFF(f) offsetof(aw_config, f)
#define S3CMDS (AW_CMD_INGEST | AW_CMD_POLICY | AW_CMD_SCRUB | AW_CMD_BACKFILL)
#define PGCMDS (AW_CMD_ALL)
#define KCMDS (AW_CMD_INGEST | AW_CMD_POLICY | AW_CMD_BACKFILL)

static const conf_key keys[] = {
    {"log.level", "AW_LOG_LEVEL", "log-level", CT_STR, OFF(log_level), "info", 0, 0,
     AW_CMD_ALL, false, "error, warn, info or debug"},
    {"print_config", NULL, "print-config", CT_BOOL, OFF(print_config), "false", 0, 0,
     AW_CMD_ALL, false, "print the effective configuration (secrets masked) and exit"},
    {"pg.conninfo", "AW_PG_URI", "pg", CT_STR, OFF(pg_conninfo), "", 0, 0, PGCMDS,
     true, "libpq conninfo or URI; empty uses libpq defaults and PG* variables"},
    {"kafka.brokers", "AW_KAFKA_BROKERS", "brokers", CT_STR, OFF(kafka_brokers),
     "127.0.0.1:9092", 0, 0, KCMDS, false, "Kafka bootstrap servers (host:port,...)"},
    {"kafka.topic", "AW_KAFKA_TOPIC", "topic", CT_STR, OFF(kafka_topic),
     "aw.bucket-events", 0, 0, AW_CMD_INGEST, false, "topic carrying bucket notifications"},
    {"kafka.group", "AW_KAFKA_GROUP", "group", CT_STR, OFF(kafka_group),
     "artifact-watch", 0, 0, AW_CMD_INGEST, false, "consumer group id"},
    {"kafka.dlq_topic", "AW_KAFKA_DLQ_TOPIC", "dlq-topic", CT_STR, OFF(kafka_dlq_topic),
     "", 0, 0, AW_CMD_INGEST, false, "dead-letter topic (default: <topic>.dlq)"},
    {"kafka.properties_file", "AW_KAFKA_PROPERTIES", "kafka-properties", CT_STR,
     OFF(kafka_properties_file), "", 0, 0, KCMDS, false,
     "file of librdkafka key=value properties (applied before -X)"},
    {"s3.endpoint", "AWS_ENDPOINT_URL_S3", "s3-endpoint", CT_STR, OFF(s3_endpoint), "",
     0, 0, S3CMDS, false, "S3 endpoint URL (default: AWS for the region)"},
    {"s3.region", "AWS_REGION", "region", CT_STR, OFF(s3_region), "us-east-1", 0, 0,
     S3CMDS, false, "region used for SigV4 signing"},
    {"s3.access_key_id", "AWS_ACCESS_KEY_ID", NULL, CT_STR, OFF(s3_access_key_id), "",
     0, 0, S3CMDS, false, "access key id; empty sends unsigned requests"},
    {"s3.secret_access_key", "AWS_SECRET_ACCESS_KEY", NULL, CT_STR,
     OFF(s3_secret_access_key), "", 0, 0, S3CMDS, true, "secret access key"},
    {"s3.session_token", "AWS_SESSION_TOKEN", NULL, CT_STR, OFF(s3_session_token), "",
     0, 0, S3CMDS, true, "session token for temporary credentials"},
    {"s3.path_style", "AW_S3_PATH_STYLE", "path-style", CT_BOOL, OFF(s3_path_style),
     "true", 0, 0, S3CMDS, false, "path-style URLs (endpoint/bucket/key)"},
    {"s3.store", "AW_STORE", "store", CT_STR, OFF(s3_store), "default", 0, 0,
     S3CMDS | AW_CMD_LINEAGE, false, "name of this object store in the database"},
    {"event.key_encoding", "AW_EVENT_KEY_ENCODING", "key-encoding", CT_STR,
     OFF(event_key_encoding), "auto", 0, 0, AW_CMD_INGEST, false,
     "object keys in events: auto, url (form-encoded) or raw"},
    {"fetch.concurrency", "AW_FETCH_CONCURRENCY", "fetch-concurrency", CT_INT,
     OFF(fetch_concurrency), "16", 1, 1024, AW_CMD_INGEST | AW_CMD_SCRUB, false,
     "parallel object downloads"},
    {"fetch.timeout_ms", "AW_FETCH_TIMEOUT_MS", "fetch-timeout-ms", CT_INT,
     OFF(fetch_timeout_ms), "30000", 100, 86400000, AW_CMD_INGEST | AW_CMD_SCRUB, false,
     "abort a download with no progress for this long"},
    {"fetch.retries", "AW_FETCH_RETRIES", "fetch-retries", CT_INT, OFF(fetch_retries),
     "5", 0, 100, AW_CMD_INGEST | AW_CMD_SCRUB, false,
     "retries on 5xx, 429 and timeouts before dead-lettering"},
    {"batch.max", "AW_BATCH_MAX", "batch-max", CT_INT, OFF(batch_max), "2000", 1,
     100000, AW_CMD_INGEST, false, "observations per PostgreSQL transaction"},
    {"batch.ms", "AW_BATCH_MS", "batch-ms", CT_INT, OFF(batch_ms), "200", 1, 60000,
     AW_CMD_INGEST, false, "longest wait before a partial batch is written"},
    {"fetch.verify_md5", "AW_VERIFY_MD5", "verify-md5", CT_BOOL, OFF(verify_md5),
     "false", 0, 0, AW_CMD_INGEST, false, "also compute MD5 and compare with a single-part ETag"},
    {"ingest.drain", NULL, "drain", CT_BOOL, OFF(drain), "false", 0, 0, AW_CMD_INGEST,
     false, "exit 0 once every assigned partition is consumed to its end"},
    {"sidecar.metadata", "AW_SIDECAR_METADATA", "sidecar-metadata", CT_STR,
     OFF(sidecar_metadata), "metadata.json", 0, 0, AW_CMD_INGEST, false,
     "basename globs of folder metadata sidecars (comma-separated; empty disables)"},
    {"sidecar.file_metadata", "AW_SIDECAR_FILE_METADATA", "sidecar-file-metadata", CT_STR,
     OFF(sidecar_file_metadata), "*.metadata.json", 0, 0, AW_CMD_INGEST, false,
     "per-file metadata sidecars, \"*SUFFIX\": <file>SUFFIX describes <file>"},
    {"sidecar.sha256", "AW_SIDECAR_SHA256", "sidecar-sha256", CT_STR, OFF(sidecar_sha256),
     "*.sha256", 0, 0, AW_CMD_INGEST, false,
     "declared-digest sidecars, \"*SUFFIX\": <file>SUFFIX holds <file>'s SHA-256"},
    {"sidecar.metrics", "AW_SIDECAR_METRICS", "sidecar-metrics", CT_STR,
     OFF(sidecar_metrics), "metrics.json", 0, 0, AW_CMD_INGEST, false,
     "basename globs of folder metrics sidecars"},
    {"sidecar.openlineage", "AW_SIDECAR_OPENLINEAGE", "sidecar-openlineage", CT_STR,
     OFF(sidecar_openlineage), "*.openlineage.json", 0, 0, AW_CMD_INGEST, false,
     "basename globs of objects holding an OpenLineage RunEvent"},
    {"sidecar.max_bytes", "AW_SIDECAR_MAX_BYTES", "sidecar-max-bytes", CT_INT,
     OFF(sidecar_max_bytes), "1048576", 1024, 67108864, AW_CMD_INGEST, false,
     "larger sidecars are recorded with an error instead of being read"},
    {"openlineage.topic", "AW_OPENLINEAGE_TOPIC", "openlineage-topic", CT_STR,
     OFF(openlineage_topic), "", 0, 0, AW_CMD_INGEST, false,
     "Kafka topic of OpenLineage RunEvents (empty: not consumed)"},
    {"lineage.depth", NULL, "depth", CT_INT, OFF(lineage_depth), "10", 0, 1000,
     AW_CMD_LINEAGE, false, "how many edges to follow"},
    {"lineage.as_of", NULL, "as-of", CT_STR, OFF(lineage_as_of), "", 0, 0, AW_CMD_LINEAGE,
     false, "walk the graph as it was at this time (ISO 8601; default now)"},
    {"lineage.format", NULL, "format", CT_STR, OFF(lineage_format), "table", 0, 0,
     AW_CMD_LINEAGE, false, "table, json or dot (Graphviz)"},
    {"migrate.status", NULL, "status", CT_BOOL, OFF(migrate_status), "false", 0, 0,
     AW_CMD_MIGRATE, false, "list migrations and whether they are applied; change nothing"},
};
#define NKEYS (sizeof keys / sizeof keys[0])

static void errf(char *errstr, size_t n, const char *fmt, ...) AW_PRINTF(3, 4);
static void errf(char *errstr, size_t n, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errstr, n, fmt, ap);
    va_end(ap);
}

static int parse_bool(const char *s, bool *out) {
    if (!strcasecmp(s, "1") || !strcasecmp(s, "true") || !strcasecmp(s, "yes") ||
        !strcasecmp(s, "on")) {
        *out = true;
        return AW_OK;
    }
    if (!strcasecmp(s, "0") || !strcasecmp(s, "false") || !strcasecmp(s, "no") ||
        !strcasecmp(s, "off")) {
        *out = false;
        return AW_OK;
    }
    return AW_EINVAL;
}

/* Sets key k from text value v; `src` names the origin for errors. */
static int set_value(aw_config *cfg, const conf_key *k, const char *v, const char *src,
                     char *errstr, size_t n) {
    char *base = (char *)cfg + k->offset;
    switch (k->type) {
    case CT_STR: {
        char *dup = strdup(v);
        if (!dup)
            return AW_ENOMEM;
        free(*(char **)base);
        *(char **)base = dup;
        return AW_OK;
    }
    case CT_INT: {
        char *end;
        errno = 0;
        long x = strtol(v, &end, 10);
        if (errno || end == v || *end || x < k->min || x > k->max) {
            errf(errstr, n, "%s: %s=\"%s\" is not a whole number from %ld to %ld", src,
                 k->name, v, k->min, k->max);
            return AW_ECONFIG;
        }
        *(long *)base = x;
        return AW_OK;
    }
    case CT_BOOL:
        if (parse_bool(v, (bool *)base) != AW_OK) {
            errf(errstr, n, "%s: %s=\"%s\" is not a boolean (true/false, yes/no, 1/0)",
                 src, k->name, v);
            return AW_ECONFIG;
        }
        return AW_OK;
    }
    return AW_EINVAL;
}

int aw_config_init(aw_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    char err[64];
    for (size_t i = 0; i < NKEYS; i++) {
        int rc = set_value(cfg, &keys[i], keys[i].def, "default", err, sizeof err);
        if (rc != AW_OK) {
            aw_config_free(cfg);
            return rc;
        }
    }
    return AW_OK;
}

void aw_config_free(aw_config *cfg) {
    if (!cfg)
        return;
    for (size_t i = 0; i < NKEYS; i++) {
        if (keys[i].type == CT_STR) {
            char **p = (char **)((char *)cfg + keys[i].offset);
            free(*p);
            *p = NULL;
        }
    }
    for (size_t i = 0; i < cfg->rdkafka_props_n; i++) {
        free(cfg->rdkafka_props[i].key);
        free(cfg->rdkafka_props[i].value);
    }
    free(cfg->rdkafka_props);
    cfg->rdkafka_props = NULL;
    cfg->rdkafka_props_n = 0;
}

static char *trim(char *s) {
    while (*s == ' ' || *s == '\t')
        s++;
    char *e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
        *--e = '\0';
    return s;
}

static int add_prop(aw_config *cfg, const char *key, const char *value) {
    aw_kv *nv = realloc(cfg->rdkafka_props, (cfg->rdkafka_props_n + 1) * sizeof *nv);
    if (!nv)
        return AW_ENOMEM;
    cfg->rdkafka_props = nv;
    char *k = strdup(key), *v = strdup(value);
    if (!k || !v) {
        free(k);
        free(v);
        return AW_ENOMEM;
    }
    nv[cfg->rdkafka_props_n++] = (aw_kv){k, v};
    return AW_OK;
}

int aw_config_add_rdkafka_prop(aw_config *cfg, const char *kv, char *errstr,
                               size_t errstr_size) {
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv) {
        errf(errstr, errstr_size, "flag -X: \"%s\" is not of the form key=value", kv);
        return AW_ECONFIG;
    }
    char key[256];
    size_t kl = (size_t)(eq - kv);
    if (kl >= sizeof key) {
        errf(errstr, errstr_size, "flag -X: property name too long");
        return AW_ECONFIG;
    }
    memcpy(key, kv, kl);
    key[kl] = '\0';
    return add_prop(cfg, key, eq + 1);
}

/* Reads "key = value" lines; '#' starts a comment line. */
static int load_file(aw_config *cfg, unsigned cmd, const char *path, bool rdkafka,
                     char *errstr, size_t n) {
    FILE *f = fopen(path, "r");
    if (!f) {
        errf(errstr, n, "cannot open %s file %s: %s", rdkafka ? "Kafka properties" : "config",
             path, strerror(errno));
        return AW_ECONFIG;
    }
    char line[4096];
    int lineno = 0, rc = AW_OK;
    while (rc == AW_OK && fgets(line, sizeof line, f)) {
        lineno++;
        char *s = trim(line);
        if (!*s || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            errf(errstr, n, "%s:%d: expected key = value", path, lineno);
            rc = AW_ECONFIG;
            break;
        }
        *eq = '\0';
        char *k = trim(s), *v = trim(eq + 1);
        if (rdkafka) {
            rc = add_prop(cfg, k, v);
            continue;
        }
        const conf_key *ck = NULL;
        for (size_t i = 0; i < NKEYS; i++)
            if (!strcmp(keys[i].name, k))
                ck = &keys[i];
        if (!ck) {
            errf(errstr, n, "%s:%d: unknown key \"%s\"", path, lineno, k);
            rc = AW_ECONFIG;
            break;
        }
        if (!(ck->cmds & cmd))
            continue; /* one file may serve several subcommands */
        char src[600];
        snprintf(src, sizeof src, "%s:%d", path, lineno);
        rc = set_value(cfg, ck, v, src, errstr, n);
    }
    fclose(f);
    return rc;
}

int aw_config_load(aw_config *cfg, unsigned cmd, int argc, char **argv, bool *want_help,
                   char *errstr, size_t n) {
    *want_help = false;
    int rc;
    /* 1. the config file: --config wins over AW_CONFIG */
    const char *file = getenv("AW_CONFIG");
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--config") && i + 1 < argc)
            file = argv[i + 1];
        else if (!strncmp(argv[i], "--config=", 9))
            file = argv[i] + 9;
    }
    if (file && *file && (rc = load_file(cfg, cmd, file, false, errstr, n)) != AW_OK)
        return rc;

    /* 2. the environment */
    for (size_t i = 0; i < NKEYS; i++) {
        const conf_key *k = &keys[i];
        if (!k->env || !(k->cmds & cmd))
            continue;
        const char *v = getenv(k->env);
        if (!v || !*v)
            continue;
        char src[128];
        snprintf(src, sizeof src, "env %s", k->env);
        if ((rc = set_value(cfg, k, v, src, errstr, n)) != AW_OK)
            return rc;
    }

    /* 3. flags; -X properties are collected, then the properties file is
     * prepended so -X always wins. */
    aw_kv *xprops = NULL;
    size_t nx = 0;
    aw_kv *saved = cfg->rdkafka_props;
    size_t saved_n = cfg->rdkafka_props_n;
    cfg->rdkafka_props = NULL;
    cfg->rdkafka_props_n = 0;
    rc = AW_OK;
    for (int i = 1; i < argc && rc == AW_OK; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            *want_help = true;
            continue;
        }
        if (!strcmp(a, "-X")) {
            if (i + 1 >= argc) {
                errf(errstr, n, "flag -X needs a key=value argument");
                rc = AW_ECONFIG;
                break;
            }
            rc = aw_config_add_rdkafka_prop(cfg, argv[++i], errstr, n);
            continue;
        }
        if (strncmp(a, "--", 2) != 0 && (cmd & AW_CMD_LINEAGE) &&
            cfg->nargs < sizeof cfg->args / sizeof cfg->args[0]) {
            cfg->args[cfg->nargs++] = a; /* lineage up|down URI */
            continue;
        }
        if (strncmp(a, "--", 2) != 0) {
            errf(errstr, n, "unexpected argument \"%s\" (see --help)", a);
            rc = AW_ECONFIG;
            break;
        }
        const char *name = a + 2, *val = NULL;
        char nbuf[128];
        const char *eq = strchr(name, '=');
        if (eq) {
            size_t l = (size_t)(eq - name);
            if (l >= sizeof nbuf)
                l = sizeof nbuf - 1;
            memcpy(nbuf, name, l);
            nbuf[l] = '\0';
            name = nbuf;
            val = eq + 1;
        }
        if (!strcmp(name, "config")) {
            if (!val)
                i++;
            continue;
        }
        const conf_key *k = NULL;
        bool negated = false;
        for (size_t j = 0; j < NKEYS; j++) {
            if (keys[j].flag && !strcmp(keys[j].flag, name))
                k = &keys[j];
            else if (keys[j].flag && keys[j].type == CT_BOOL && !strncmp(name, "no-", 3) &&
                     !strcmp(keys[j].flag, name + 3)) {
                k = &keys[j];
                negated = true;
            }
        }
        if (!k || !(k->cmds & cmd)) {
            errf(errstr, n, "unknown option --%s (see --help)", name);
            rc = AW_ECONFIG;
            break;
        }
        if (k->type == CT_BOOL && !val)
            val = negated ? "false" : "true";
        if (!val) {
            if (i + 1 >= argc) {
                errf(errstr, n, "flag --%s needs a value", name);
                rc = AW_ECONFIG;
                break;
            }
            val = argv[++i];
        }
        char src[160];
        snprintf(src, sizeof src, "flag --%s", name);
        rc = set_value(cfg, k, val, src, errstr, n);
    }
    xprops = cfg->rdkafka_props;
    nx = cfg->rdkafka_props_n;
    cfg->rdkafka_props = saved;
    cfg->rdkafka_props_n = saved_n;
    if (rc == AW_OK && *cfg->kafka_properties_file && (cmd & KCMDS))
        rc = load_file(cfg, cmd, cfg->kafka_properties_file, true, errstr, n);
    for (size_t i = 0; i < nx; i++) {
        if (rc == AW_OK)
            rc = add_prop(cfg, xprops[i].key, xprops[i].value);
        free(xprops[i].key);
        free(xprops[i].value);
    }
    free(xprops);
    if (rc != AW_OK)
        return rc;

    /* cross-key checks */
    if (strcmp(cfg->event_key_encoding, "auto") && strcmp(cfg->event_key_encoding, "url") &&
        strcmp(cfg->event_key_encoding, "raw")) {
        errf(errstr, n, "event.key_encoding=\"%s\" must be auto, url or raw",
             cfg->event_key_encoding);
        return AW_ECONFIG;
    }
    return AW_OK;
}

void aw_config_usage(FILE *out, unsigned cmd) {
    fprintf(out, "Options (flag / environment / config-file key; later sources win:\n"
                 "defaults < --config file < environment < flags):\n");
    fprintf(out, "  --config FILE\n      AW_CONFIG; file of key = value lines\n");
    for (size_t i = 0; i < NKEYS; i++) {
        const conf_key *k = &keys[i];
        if (!(k->cmds & cmd))
            continue;
        char flag[96];
        if (k->flag)
            snprintf(flag, sizeof flag, "--%s%s", k->flag,
                     k->type == CT_BOOL ? "[=BOOL]" : k->type == CT_INT ? " N" : " VALUE");
        else
            snprintf(flag, sizeof flag, "(no flag)");
        fprintf(out, "  %s\n      %s%s%s; %s (default: %s%s%s)\n", flag,
                k->env ? k->env : "", k->env ? " / " : "", k->name, k->help,
                *k->def ? "\"" : "", *k->def ? k->def : "none", *k->def ? "\"" : "");
    }
    if (cmd & KCMDS)
        fprintf(out, "  -X key=value\n      any librdkafka property, passed through "
                     "(repeatable; wins over --kafka-properties)\n");
    fprintf(out, "  -h, --help\n      this text\n");
}

void aw_config_dump(FILE *out, const aw_config *cfg, unsigned cmd) {
    for (size_t i = 0; i < NKEYS; i++) {
        const conf_key *k = &keys[i];
        if (!(k->cmds & cmd))
            continue;
        const char *base = (const char *)cfg + k->offset;
        if (k->offset == OFF(print_config))
            continue;
        switch (k->type) {
        case CT_STR: {
            const char *v = *(char *const *)base;
            fprintf(out, "%s = %s\n", k->name, k->secret && v && *v ? "(set)" : v ? v : "");
            break;
        }
        case CT_INT:
            fprintf(out, "%s = %ld\n", k->name, *(const long *)base);
            break;
        case CT_BOOL:
            fprintf(out, "%s = %s\n", k->name, *(const bool *)base ? "true" : "false");
            break;
        }
    }
    for (size_t i = 0; i < cfg->rdkafka_props_n; i++)
        fprintf(out, "-X %s=%s\n", cfg->rdkafka_props[i].key,
                strstr(cfg->rdkafka_props[i].key, "password") ? "(set)"
                                                               : cfg->rdkafka_props[i].value);
}
