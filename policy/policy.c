/*
 * `artifact-watch policy check|plan|apply|run|status`. check reads the rules
 * only; plan never touches the store; apply plans, saves and carries out (or
 * carries out a saved plan, checked against the rules as they are now); run
 * is the scheduled worker, planning (and applying with --apply) every
 * --every, jittered so a fleet does not start together; status shows the
 * last runs and what a killed one left pending.
 *
 * Every apply and every worker holds the retention lock (a PostgreSQL
 * advisory lock) while it runs: one retention run at a time. Under it, the
 * first thing a run does is resolve what a killed run left pending.
 */
#include "aw/policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "aw/log.h"
#include "aw/metrics.h"
#include "aw/producer.h"
#include "aw/util.h"
#include "internal.h"

enum { CHECK, PLAN, APPLY, RUN, STATUS };
static const aw_verb verbs[] = {
    [CHECK] = {"check", 0, " --rules FILE"},
    [PLAN] = {"plan", 0, " --rules FILE [--format table|json|csv] [--save]"},
    [APPLY] = {"apply", 0, " --rules FILE [--plan ID] [--force]"},
    [RUN] = {"run", 0, " --rules FILE [--every 1h] [--apply]"},
    [STATUS] = {"status", 0, ""},
    {NULL, 0, NULL},
};

/* What one command needs. */
typedef struct ctx {
    const aw_config *cfg;
    aw_rules *rs;
    aw_pg *pg;
    aw_stores *stores;
    char holder[160];       /* host:pid, named to a second run that finds the lock taken */
} ctx;

static int load_rules(const aw_config *cfg, aw_rules **rs) {
    char err[1024];
    if (!*cfg->policy_rules) {
        fprintf(stderr, "artifact-watch policy: --rules FILE is required (an apply of a saved "
                        "plan checks it against the rules as they are now)\n");
        aw_verb_usage(stderr, "policy", verbs);
        return 2;
    }
    int rc = aw_rules_load(cfg->policy_rules, rs, err, sizeof err);
    if (rc != AW_OK) {
        fprintf(stderr, "artifact-watch policy: %s\n", rc == AW_ENOMEM ? "out of memory" : err);
        return 2;
    }
    return 0;
}

/* Who holds the retention lock, for a run that wants it. */
static void lock_holder(aw_pg *pg, char *out, size_t n) {
    aw_pg_result *r = NULL;
    char err[256];
    snprintf(out, n, "another process");
    if (aw_pg_query(pg, "SELECT a.pid, COALESCE(NULLIF(a.application_name, ''), '?'),"
                        " COALESCE(host(a.client_addr), 'local'), to_char(a.backend_start"
                        " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
                        " FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
                        " WHERE l.locktype = 'advisory' AND l.granted"
                        " AND ((l.classid::int8 << 32) | l.objid::int8) = " AW_LOCK_RETENTION
                        " LIMIT 1", 0, NULL, &r, err, sizeof err) == AW_OK &&
        aw_pg_result_rows(r) == 1)
        snprintf(out, n, "\"%s\" (PostgreSQL backend %s from %s, connected since %s)",
                 aw_pg_result_get(r, 0, 1), aw_pg_result_get(r, 0, 0),
                 aw_pg_result_get(r, 0, 2), aw_pg_result_get(r, 0, 3));
    aw_pg_result_free(r);
}

/* Takes the retention lock: once (wait false: 1 with the holder named when
 * it is taken), or waiting for it. 0 when held. */
static int take_lock(ctx *c, bool wait) {
    char err[1024];
    bool said = false;
    for (;;) {
        aw_pg_result *r = NULL;
        if (aw_pg_query(c->pg, "SELECT pg_try_advisory_lock(" AW_LOCK_RETENTION ")", 0, NULL,
                        &r, err, sizeof err) != AW_OK) {
            fprintf(stderr, "artifact-watch policy: taking the retention lock: %s\n", err);
            return 1;
        }
        bool got = !strcmp(aw_pg_result_get(r, 0, 0), "t");
        aw_pg_result_free(r);
        if (got)
            return 0;
        char who[512];
        lock_holder(c->pg, who, sizeof who);
        if (!wait) {
            fprintf(stderr, "artifact-watch policy: another retention run holds the lock: %s; "
                            "one run at a time\n", who);
            return 1;
        }
        if (!said)
            AW_INFO(LOG, "the retention lock is held by %s; waiting for it", who);
        said = true;
        if (!aw_nap(5000))
            return 1;
    }
}

/* An apply acts on what the index knows: not before ingest has indexed
 * every event on its topic (a model uploaded a moment ago names its training
 * data in a sidecar the index has not read yet). Waits up to --lag-wait.
 * 0 when the index is caught up (or the check is off). */
static int index_caught_up(ctx *c) {
    if (!c->cfg->policy_lag_check)
        return 0;
    int64_t until = aw_now_ms() + (int64_t)c->cfg->policy_lag_wait_s * 1000;
    for (bool said = false;; said = true) {
        char err[1024];
        long long lag = 0;
        if (aw_kafka_group_lag(c->cfg, c->cfg->kafka_topic, c->cfg->kafka_group, 10000, &lag, err,
                               sizeof err) != AW_OK) {
            fprintf(stderr, "artifact-watch policy: cannot tell whether ingest is behind (%s); "
                            "nothing is deleted (--lag-check false applies without knowing)\n",
                    err);
            return 1;
        }
        if (!lag)
            return 0;
        if (aw_now_ms() >= until || aw_stop) {
            fprintf(stderr, "artifact-watch policy: ingest (group %s) is %lld event(s) behind topic "
                            "%s: the index may not know what was written lately, so nothing is "
                            "deleted (wait for ingest; --lag-check false applies anyway)\n",
                    c->cfg->kafka_group, lag, c->cfg->kafka_topic);
            return 1;
        }
        if (!said) {
            char wait[32];
            aw_format_duration(c->cfg->policy_lag_wait_s, wait, sizeof wait);
            AW_INFO(LOG, "ingest (group %s) is %lld event(s) behind; waiting up to %s",
                    c->cfg->kafka_group, lag, wait);
        }
        aw_nap(1000);
    }
}

/* Under the lock: what killed runs left pending is settled first. */
static int resolve_pending(ctx *c) {
    char err[1024];
    int resolved, left;
    if (audit_resolve(c->pg, c->cfg, c->stores, &resolved, &left, err, sizeof err) != AW_OK) {
        fprintf(stderr, "artifact-watch policy: resolving pending deletions: %s\n", err);
        return 1;
    }
    if (left)
        AW_WARN(LOG, "%d deletion(s) stay pending (see `policy status`)", left);
    return 0;
}

/* Carries out plan p (fresh: a plan made now to check it against, or NULL)
 * and says how it went. Exit status: 0, 1 (a failure, or deletions that
 * failed), 3 (refused by the safety cap). */
static int apply_and_say(ctx *c, const plan *p, const plan *fresh) {
    char err[2048];
    int failed = 0;
    int rc = apply_plan(c->pg, c->cfg, c->rs, c->stores, p, fresh, c->holder, &failed, err,
                        sizeof err);
    if (rc != AW_OK) {
        fprintf(stderr, "artifact-watch policy: applying plan %lld: %s\n", (long long)p->id,
                err);
        return 1;
    }
    if (p->refused[0] && !c->cfg->policy_force) {
        fprintf(stderr, "artifact-watch policy: refused, nothing deleted: %s (--force to go "
                "ahead)\n", p->refused);
        return 3;
    }
    if (failed) {
        fprintf(stderr, "artifact-watch policy: %d deletion(s) failed or are pending; see "
                "aw.retention_actions\n", failed);
        return 1;
    }
    return 0;
}

/* One plan, printed; with apply, carried out. Exit status. */
static int plan_once(ctx *c, bool apply, bool print) {
    char err[2048];
    plan p;
    if (apply && resolve_pending(c))
        return 1;
    int lagged = apply ? index_caught_up(c) : 0;
    if (lagged)
        return lagged;
    int rc = plan_make(c->pg, c->rs, apply || c->cfg->policy_save, &p, err, sizeof err);
    if (rc != AW_OK) {
        fprintf(stderr, "artifact-watch policy: planning: %s\n", err);
        return 1;
    }
    if (print)
        plan_print(stdout, &p, c->cfg->policy_format);
    fflush(stdout);
    int status = apply ? apply_and_say(c, &p, NULL) : 0;
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

static int cmp_ovid(const void *pa, const void *pb) {
    int64_t x = ((const plan_row *)pa)->ovid, y = ((const plan_row *)pb)->ovid;
    return (x > y) - (x < y);
}

/* A saved plan: young enough, then checked against a plan made now. */
static int apply_saved(ctx *c) {
    char err[2048];
    plan p, now;
    int64_t max_age = c->cfg->policy_max_plan_age_s;
    int rc = plan_load(c->pg, c->cfg->policy_plan, &p, err, sizeof err);
    if (rc != AW_OK) {
        fprintf(stderr, "artifact-watch policy: %s\n", err);
        return rc == AW_ENOTFOUND ? 2 : 1;
    }
    int status = 0;
    char ids[24], secs[24], age[32];
    snprintf(ids, sizeof ids, "%lld", (long long)p.id);
    snprintf(secs, sizeof secs, "%lld", (long long)max_age);
    aw_format_duration(max_age, age, sizeof age);
    const char *params[2] = {ids, secs};
    aw_pg_result *r = NULL;
    if (aw_pg_query(c->pg, "SELECT generated_at < now() - make_interval(secs => $2::float8)"
                           " FROM aw.retention_plans WHERE id = $1::bigint", 2, params, &r, err,
                    sizeof err) != AW_OK) {
        fprintf(stderr, "artifact-watch policy: %s\n", err);
        status = 1;
    } else if (aw_pg_result_rows(r) != 1 || strcmp(aw_pg_result_get(r, 0, 0), "f")) {
        fprintf(stderr, "artifact-watch policy: plan %lld was made at %s, more than %s ago "
                        "(--max-plan-age): make a new one\n", (long long)p.id, p.generated_at,
                age);
        status = 1;
    }
    aw_pg_result_free(r);
    if (!status && resolve_pending(c))
        status = 1;
    if (!status)
        status = index_caught_up(c);
    if (!status && plan_make(c->pg, c->rs, false, &now, err, sizeof err) != AW_OK) {
        fprintf(stderr, "artifact-watch policy: planning with the current rules: %s\n", err);
        status = 1;
    } else if (!status) {
        psort(now.rows, now.nrows, sizeof *now.rows, cmp_ovid);
        status = apply_and_say(c, &p, &now);
        plan_free(&now);
    }
    plan_free(&p);
    return status;
}

static int run_worker(ctx *c) {
    int64_t every_s = c->cfg->policy_every_s;
    if (take_lock(c, true))
        return aw_stop ? 0 : 1;
    char every[32];
    aw_format_duration(every_s, every, sizeof every);
    AW_INFO(LOG, "retention worker: rules %s (%zu rules, sha256 %.12s), every %s%s",
            c->rs->path, c->rs->n, c->rs->sha256, every,
            c->cfg->policy_apply ? ", applying" : ", planning only");
    unsigned seed = (unsigned)getpid() ^ (unsigned)time(NULL);
    while (!aw_stop) {
        int status = plan_once(c, c->cfg->policy_apply, false);
        if (status == 1 && aw_pg_is_broken(c->pg)) {
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

/* Connects, names the session (the lock's holder shows as this), opens the
 * stores. Exit status. */
static int connect_all(ctx *c, bool stores) {
    char err[1024], host[64] = "", app[200];
    gethostname(host, sizeof host - 1);
    snprintf(c->holder, sizeof c->holder, "%s:%ld", host, (long)getpid());
    if (aw_pg_connect(c->cfg->pg_conninfo, &c->pg, err, sizeof err) != AW_OK) {
        fprintf(stderr, "artifact-watch policy: %s\n", err);
        return 1;
    }
    snprintf(app, sizeof app, "artifact-watch policy %s", c->holder);
    const char *params[1] = {app};
    if (aw_pg_query(c->pg, "SELECT set_config('application_name', $1, false)", 1, params, NULL,
                    err, sizeof err) != AW_OK)
        AW_WARN(LOG, "naming the session: %s", err);
    if (stores && aw_stores_open(c->cfg, &c->stores, err, sizeof err) != AW_OK) {
        fprintf(stderr, "artifact-watch policy: %s\n", err);
        return 2;
    }
    return 0;
}

int aw_cmd_policy(aw_config *cfg) {
    audit_declare_metrics();
    int verb = aw_verb_pick("policy", verbs, cfg);
    if (verb < 0)
        return 2;
    aw_daemon_signals();
    ctx c = {.cfg = cfg};
    int status = verb == STATUS ? 0 : load_rules(cfg, &c.rs);
    if (!status && verb == CHECK) {
        printf("%s: %zu rule%s; valid (sha256 %s)\n", c.rs->path, c.rs->n,
               c.rs->n == 1 ? "" : "s", c.rs->sha256);
    } else if (!status) {
        status = connect_all(&c, verb == APPLY || verb == RUN);
        if (!status && (verb == APPLY))
            status = take_lock(&c, false);
        if (!status) {
            char err[1024];
            switch (verb) {
            case PLAN: status = plan_once(&c, false, true); break;
            case APPLY: status = cfg->policy_plan ? apply_saved(&c) : plan_once(&c, true, true);
                        break;
            case RUN: status = run_worker(&c); break;
            default:
                if (audit_status(c.pg, stdout, err, sizeof err) != AW_OK) {
                    fprintf(stderr, "artifact-watch policy: %s\n", err);
                    status = 1;
                }
            }
        }
    }
    aw_stores_destroy(c.stores);
    aw_pg_destroy(c.pg);
    aw_rules_free(c.rs);
    return status;
}
