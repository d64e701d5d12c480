/*
 * `artifact-watch policy check|plan|apply|run`. check reads the rules only;
 * plan never touches the store; apply plans, saves and carries out (or
 * carries out a saved plan); run is the scheduled worker: one active worker
 * at a time through a PostgreSQL advisory lock, plans (and applies with
 * --apply) every --every, jittered so a fleet does not start together.
 */
#include "aw/policy.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "aw/log.h"
#include "aw/metrics.h"
#include "aw/util.h"
#include "internal.h"

/* An arbitrary constant that every retention worker shares. */
#define RETENTION_LOCK "7260519335"

static const char *const usage =
    "usage: artifact-watch policy check --rules FILE\n"
    "       artifact-watch policy plan --rules FILE [--format table|json|csv] [--save]\n"
    "       artifact-watch policy apply --rules FILE [--force] | --plan ID [--force]\n"
    "       artifact-watch policy run --rules FILE [--every 1h] [--apply]";

static int load_rules(const aw_config *cfg, aw_rules **rs) {
    char err[1024];
    if (!*cfg->policy_rules) {
        fprintf(stderr, "artifact-watch policy: --rules FILE is required\n%s\n", usage);
        return 2;
    }
    int rc = aw_rules_load(cfg->policy_rules, rs, err, sizeof err);
    if (rc != AW_OK) {
        fprintf(stderr, "artifact-watch policy: %s\n", rc == AW_ENOMEM ? "out of memory" : err);
        return 2;
    }
    return 0;
}

static int connect_db(const aw_config *cfg, aw_pg **pg) {
    char err[1024];
    if (aw_pg_connect(cfg->pg_conninfo, pg, err, sizeof err) != AW_OK) {
        fprintf(stderr, "artifact-watch policy: %s\n", err);
        return 1;
    }
    return 0;
}

/* Carries out plan p and says how it went. Exit status: 0, 1 (a failure, or
 * deletions that failed), 3 (refused by the safety cap). */
static int apply_and_say(aw_pg *pg, const aw_config *cfg, const plan *p) {
    char err[2048];
    int failed = 0;
    int rc = apply_plan(pg, cfg, p, cfg->policy_force, &failed, err, sizeof err);
    if (rc != AW_OK) {
        fprintf(stderr, "artifact-watch policy: applying plan %lld: %s\n", (long long)p->id,
                err);
        return 1;
    }
    if (p->refused[0] && !cfg->policy_force) {
        fprintf(stderr, "artifact-watch policy: refused, nothing deleted: %s (--force to go "
                "ahead)\n", p->refused);
        return 3;
    }
    if (failed) {
        fprintf(stderr, "artifact-watch policy: %d deletion(s) failed; see "
                "aw.retention_actions\n", failed);
        return 1;
    }
    return 0;
}

/* One plan, printed; with apply, carried out. Exit status. */
static int plan_once(aw_pg *pg, const aw_config *cfg, const aw_rules *rs, bool apply,
                     bool print) {
    char err[2048];
    plan p;
    int rc = plan_make(pg, rs, apply || cfg->policy_save, &p, err, sizeof err);
    if (rc != AW_OK) {
        fprintf(stderr, "artifact-watch policy: planning: %s\n", err);
        return 1;
    }
    if (print)
        plan_print(stdout, &p, cfg->policy_format);
    fflush(stdout);
    int status = apply ? apply_and_say(pg, cfg, &p) : 0;
    plan_free(&p);
    if (status == 0)
        aw_metric_set(aw_metric_gauge("aw_retention_last_success_timestamp_seconds",
                                      "When a retention plan (and its apply) last succeeded.",
                                      NULL),
                      (double)time(NULL));
    aw_metrics_ready(status == 0 || status == 3, status == 0 || status == 3 ? NULL
                                                                          : "the last run failed");
    return status;
}

static int apply_saved(aw_pg *pg, const aw_config *cfg) {
    char err[2048];
    plan p;
    int rc = plan_load(pg, cfg->policy_plan, &p, err, sizeof err);
    if (rc != AW_OK) {
        fprintf(stderr, "artifact-watch policy: %s\n", err);
        return rc == AW_ENOTFOUND ? 2 : 1;
    }
    int status = apply_and_say(pg, cfg, &p);
    plan_free(&p);
    return status;
}

static int run_worker(aw_pg *pg, const aw_config *cfg, const aw_rules *rs) {
    int64_t every_s;
    if (aw_parse_duration(cfg->policy_every, &every_s) != AW_OK || every_s <= 0) {
        fprintf(stderr, "artifact-watch policy: --every \"%s\" is not a duration such as 1h\n",
                cfg->policy_every);
        return 2;
    }
    char err[1024];
    bool said = false;
    for (;;) {
        aw_pg_result *r = NULL;
        if (aw_pg_query(pg, "SELECT pg_try_advisory_lock(" RETENTION_LOCK ")", 0, NULL, &r, err,
                        sizeof err) != AW_OK) {
            AW_ERROR(LOG, "taking the retention lock: %s", err);
            return 1;
        }
        bool got = !strcmp(aw_pg_result_get(r, 0, 0), "t");
        aw_pg_result_free(r);
        if (got)
            break;
        if (!said)
            AW_INFO(LOG, "another retention worker holds the lock; waiting for it");
        said = true;
        aw_nap(5000);
        if (aw_stop)
            return 0;
    }
    AW_INFO(LOG, "retention worker: rules %s (%zu rules, sha256 %.12s), every %s%s",
            rs->path, rs->n, rs->sha256, cfg->policy_every, cfg->policy_apply ? ", applying"
                                                                               : ", planning only");
    unsigned seed = (unsigned)getpid() ^ (unsigned)time(NULL);
    while (!aw_stop) {
        int status = plan_once(pg, cfg, rs, cfg->policy_apply, false);
        if (status == 1 && aw_pg_is_broken(pg)) {
            AW_ERROR(LOG, "lost the database; leaving so the lock is free for another worker");
            return 1;
        }
        /* the next run in every +- 10% */
        long jitter = (long)(every_s * 100) - (long)(rand_r(&seed) % (unsigned)(every_s * 200 + 1));
        aw_nap(every_s * 1000 + jitter);
    }
    AW_INFO(LOG, "retention worker stopping");
    return 0;
}

int aw_cmd_policy(aw_config *cfg) {
    const char *verb = cfg->nargs ? cfg->args[0] : "";
    bool check = !strcmp(verb, "check"), planv = !strcmp(verb, "plan"),
         apply = !strcmp(verb, "apply"), run = !strcmp(verb, "run");
    if (cfg->nargs != 1 || !(check || planv || apply || run)) {
        fprintf(stderr, "artifact-watch policy: %s\n", usage);
        return 2;
    }
    aw_daemon_signals();

    aw_rules *rs = NULL;
    if (!(apply && cfg->policy_plan)) {
        int st = load_rules(cfg, &rs);
        if (st)
            return st;
    }
    if (check) {
        printf("%s: %zu rule%s; valid (sha256 %s)\n", rs->path, rs->n, rs->n == 1 ? "" : "s",
               rs->sha256);
        aw_rules_free(rs);
        return 0;
    }
    aw_pg *pg = NULL;
    int status = connect_db(cfg, &pg);
    if (!status) {
        if (planv)
            status = plan_once(pg, cfg, rs, false, true);
        else if (apply && cfg->policy_plan)
            status = apply_saved(pg, cfg);
        else if (apply)
            status = plan_once(pg, cfg, rs, true, true);
        else
            status = run_worker(pg, cfg, rs);
    }
    aw_pg_destroy(pg);
    aw_rules_free(rs);
    return status;
}
