/*
 * artifact-watch: one binary, one subcommand per role, so one container image
 * serves every deployment and the Helm chart only changes arguments. This
 * file is dispatch only: configuration is loaded here and each subcommand's
 * body lives in the part it belongs to (ingest/, policy/, ...) or, for the
 * small ones that belong to none, next to this file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aw/backfill.h"
#include "aw/config.h"
#include "aw/console.h"
#include "aw/http.h"
#include "aw/ingest.h"
#include "aw/integrity.h"
#include "aw/log.h"
#include "aw/mlflow.h"
#include "aw/metrics.h"
#include "aw/policy.h"
#include "commands.h"

typedef struct command {
    const char *name;
    unsigned mask;              /* its settings: AW_CMD_* */
    int (*run)(aw_config *cfg);
    const char *args;           /* positional arguments, for the usage line */
    size_t min_args, max_args;
    const char *summary;
} command;

static const command commands[] = {
    {"ingest", AW_CMD_INGEST, aw_cmd_ingest, "", 0, 0,
     "consume bucket events from Kafka, fetch and SHA-256 objects, index them"},
    {"migrate", AW_CMD_MIGRATE, cmd_migrate, "", 0, 0,
     "apply the schema migrations to PostgreSQL (idempotent)"},
    {"lineage", AW_CMD_LINEAGE, cmd_lineage, " up|down s3://bucket/key", 2, 2,
     "show what an object came from or what depends on it"},
    {"policy", AW_CMD_POLICY, aw_cmd_policy, " check|plan|apply|run|status", 1, 1,
     "check, plan, apply and schedule retention rules"},
    {"scrub", AW_CMD_SCRUB, aw_cmd_scrub, "", 0, 0,
     "re-read stored objects and verify checksums"},
    {"alerts", AW_CMD_ALERTS, aw_cmd_alerts, " list|show ID|resolve ID|push", 1, 2,
     "list and show integrity alerts, or push them to Alertmanager"},
    {"verify", AW_CMD_VERIFY, aw_cmd_verify, " s3://bucket/key...", 1, AW_CONFIG_MAX_ARGS,
     "check that objects are indexed, present and match what was declared"},
    {"backfill", AW_CMD_BACKFILL, aw_cmd_backfill, " s3://BUCKET[/PREFIX]...", 0,
     AW_CONFIG_MAX_ARGS,
     "index objects that exist in a bucket but were never announced"},
    {"watch", AW_CMD_WATCH, aw_cmd_watch, " [DIR...]", 0, AW_CONFIG_MAX_ARGS,
     "index local folders as files are written, renamed and deleted (inotify)"},
    {"mlflow", AW_CMD_MLFLOW, aw_cmd_mlflow, " sync", 1, 1,
     "read MLflow's runs, logged models and registry; link runs to their data"},
    {"console", AW_CMD_CONSOLE, aw_cmd_console, "", 0, 0,
     "serve the read-only web console: lineage, integrity and retention in a browser"},
    {"version", AW_CMD_NONE, cmd_version, "", 0, 0,
     "print versions of artifact-watch and its libraries"},
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
                 "error.\n");
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
    if (aw_config_load(&cfg, cmd->mask, argc - 1, argv + 1, &help, err, sizeof err) != AW_OK) {
        fprintf(stderr, "artifact-watch %s: %s\n", cmd->name, err);
        aw_config_free(&cfg);
        return 2;
    }
    if (help) {
        printf("usage: artifact-watch %s%s [options]\n\n%s.\n", cmd->name, cmd->args,
               cmd->summary);
        if (!cmd->run)
            printf("\nNot built yet: this command exits with status 2.\n");
        printf("\n");
        aw_config_usage(stdout, cmd->mask);
        aw_config_free(&cfg);
        return 0;
    }
    if (cfg.print_config) {
        aw_config_dump(stdout, &cfg, cmd->mask);
        aw_config_free(&cfg);
        return 0;
    }
    if (cfg.nargs < cmd->min_args || cfg.nargs > cmd->max_args) {
        if (cmd->max_args == 0)
            fprintf(stderr, "artifact-watch %s: unexpected argument \"%s\" (see --help)\n",
                    cmd->name, cfg.args[0]);
        else
            fprintf(stderr, "artifact-watch %s: usage: artifact-watch %s%s [options]\n",
                    cmd->name, cmd->name, cmd->args);
        aw_config_free(&cfg);
        return 2;
    }
    /* the settings table's words, in the order of aw_log_level */
    aw_log_threshold = (aw_log_level)cfg.log_level;
    aw_log_json = cfg.log_format == 1;
    if (aw_http_global_init() != AW_OK)
        aw_die("libcurl initialisation failed");
    if (cfg.metrics_addr && *cfg.metrics_addr) {
        char why[512];
        cmd_build_info();
        if (aw_metrics_serve(cfg.metrics_addr, why, sizeof why) != AW_OK) {
            fprintf(stderr, "artifact-watch %s: %s\n", cmd->name, why);
            aw_http_global_cleanup();
            aw_config_free(&cfg);
            return 2;
        }
    }
    int status = cmd->run(&cfg);
    aw_metrics_stop();
    aw_http_global_cleanup();
    aw_config_free(&cfg);
    return status;
}
