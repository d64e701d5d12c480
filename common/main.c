/*
 * artifact-watch: one binary, one subcommand per role, so one container image
 * serves every deployment and the Helm chart only changes arguments. This
 * file is dispatch only: configuration is loaded here and each subcommand's
 * body lives in the module it belongs to.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <librdkafka/rdkafka.h>

#include "aw/config.h"
#include "aw/http.h"
#include "aw/ingest.h"
#include "aw/lineage.h"
#include "aw/log.h"
#include "aw/migrate.h"
#include "aw/pg.h"
#include "aw/util.h"

#ifndef AW_VERSION
#define AW_VERSION "0.1.0"
#endif

static int cmd_migrate(aw_config *cfg);
static int cmd_version(aw_config *cfg);

typedef struct command {
    const char *name;
    unsigned mask;
    int (*run)(aw_config *cfg); /* NULL: not built yet */
    const char *summary;
} command;

static const command commands[] = {
    {"ingest", AW_CMD_INGEST, aw_cmd_ingest,
     "consume bucket events from Kafka, fetch and SHA-256 objects, index them"},
    {"migrate", AW_CMD_MIGRATE, cmd_migrate,
     "apply the schema migrations to PostgreSQL (idempotent)"},
    {"lineage", AW_CMD_LINEAGE, aw_cmd_lineage,
     "show what an object came from or what depends on it"},
    {"policy", AW_CMD_POLICY, NULL, "plan, report and apply retention rules"},
    {"scrub", AW_CMD_SCRUB, NULL, "re-read stored objects and verify checksums"},
    {"backfill", AW_CMD_BACKFILL, NULL,
     "index objects that exist in a bucket but were never announced"},
    {"version", 0, cmd_version, "print versions of artifact-watch and its libraries"},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *out) {
    fprintf(out,
            "usage: artifact-watch <command> [options]\n\n"
            "Keeps track of ML and data artifacts in object storage: fingerprints every\n"
            "new object, builds a lineage graph in PostgreSQL, enforces retention.\n\n"
            "Commands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nRun 'artifact-watch <command> --help' for the options of a command.\n"
                 "Exit status: 0 success, 1 runtime failure, 2 usage or configuration "
                 "error (and commands not built yet).\n");
}

static int cmd_version(aw_config *cfg) {
    (void)cfg;
    printf("artifact-watch %s\n", AW_VERSION);
    printf("librdkafka %s\n", rd_kafka_version_str());
    printf("%s\n", aw_http_version());
    printf("jansson %s\n", JANSSON_VERSION);
    printf("%s\n", aw_crypto_version());
    return 0;
}

static int cmd_migrate(aw_config *cfg) {
    char err[1024] = "";
    aw_pg *pg;
    if (aw_pg_connect(cfg->pg_conninfo, &pg, err, sizeof err) != AW_OK) {
        fprintf(stderr, "artifact-watch migrate: %s\n"
                        "  (set --pg, AW_PG_URI or the PG* variables; is PostgreSQL up?)\n",
                err);
        return 1;
    }
    int rc, applied = 0;
    if (cfg->migrate_status)
        rc = aw_migrate_status(pg, aw_migrations, aw_migrations_n, stdout, err, sizeof err);
    else
        rc = aw_migrate_apply(pg, aw_migrations, aw_migrations_n, &applied, err, sizeof err);
    aw_pg_destroy(pg);
    if (rc != AW_OK) {
        fprintf(stderr, "artifact-watch migrate: %s\n", err);
        return 1;
    }
    if (!cfg->migrate_status) {
        if (applied)
            printf("applied %d migration%s; schema is at %s\n", applied, applied == 1 ? "" : "s",
                   aw_migrations[aw_migrations_n - 1].name);
        else
            printf("schema is up to date (%s); nothing to do\n",
                   aw_migrations[aw_migrations_n - 1].name);
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version"))
        argv[1] = "version";
    const command *cmd = NULL;
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (!strcmp(commands[i].name, argv[1]))
            cmd = &commands[i];
    if (!cmd) {
        fprintf(stderr, "artifact-watch: unknown command \"%s\"\n\n", argv[1]);
        usage(stderr);
        return 2;
    }

    aw_config cfg;
    if (aw_config_init(&cfg) != AW_OK)
        aw_die("out of memory");
    char err[1024] = "";
    bool help = false;
    unsigned mask = cmd->mask ? cmd->mask : 0x10000u;
    if (aw_config_load(&cfg, mask, argc - 1, argv + 1, &help, err, sizeof err) != AW_OK) {
        fprintf(stderr, "artifact-watch %s: %s\n", cmd->name, err);
        aw_config_free(&cfg);
        return 2;
    }
    if (help) {
        printf("usage: artifact-watch %s%s [options]\n\n%s.\n", cmd->name,
               cmd->mask == AW_CMD_LINEAGE ? " up|down s3://bucket/key" : "", cmd->summary);
        if (!cmd->run)
            printf("\nNot built yet: this command exits with status 2.\n");
        printf("\n");
        aw_config_usage(stdout, mask);
        aw_config_free(&cfg);
        return 0;
    }
    if (cfg.print_config) {
        aw_config_dump(stdout, &cfg, mask);
        aw_config_free(&cfg);
        return 0;
    }
    aw_log_level lvl;
    if (aw_log_level_parse(cfg.log_level, &lvl) != AW_OK) {
        fprintf(stderr, "artifact-watch %s: log.level=\"%s\" must be error, warn, info or "
                        "debug\n", cmd->name, cfg.log_level);
        aw_config_free(&cfg);
        return 2;
    }
    aw_log_threshold = lvl;
    if (!cmd->run) {
        fprintf(stderr, "artifact-watch %s: not built yet in this version\n", cmd->name);
        aw_config_free(&cfg);
        return 2;
    }
    if (aw_http_global_init() != AW_OK)
        aw_die("libcurl initialisation failed");
    int status = cmd->run(&cfg);
    aw_http_global_cleanup();
    aw_config_free(&cfg);
    return status;
}
