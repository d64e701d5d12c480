/*
 * What the files of policy/ share:
 *   rules.c   the rules file (rules.h)
 *   planner.c what the rules would delete and what protects it, in memory
 *   select.c  the planner's decisions: rules, lineage, waves
 *   plan.c    a plan: made, printed, saved, read back, capped
 *   apply.c   a saved plan carried out against the stores
 *   audit.c   the write-ahead audit: pending rows, results, killed runs
 *   policy.c  the commands (check, plan, apply, run, status) and the worker
 */
#ifndef AW_POLICY_INTERNAL_H
#define AW_POLICY_INTERNAL_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "aw/config.h"
#include "aw/daemon.h"
#include "aw/pg.h"
#include "aw/store.h"
#include "rules.h"

#define LOG "policy"

/* qsort, for arrays that may be empty (and then NULL). */
static inline void psort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *)) {
    if (n > 1)
        qsort(base, n, size, cmp);
}

/* Memory for many small strings, freed at once. */
typedef struct arena {
    struct arena_chunk *head;
} arena;

void *arena_alloc(arena *a, size_t n);
char *arena_strdup(arena *a, const char *s);
char *arena_printf(arena *a, const char *fmt, ...) AW_PRINTF(2, 3);
void arena_free(arena *a);

/* One action of a plan. */
typedef struct plan_row {
    const char *action;     /* delete, delete_marker or protect */
    const char *rule;       /* the rule that selected it for deletion */
    const char *reason;     /* why: the rule, or what protects it */
    const char *store, *bucket, *key, *version_id, *sha256, *etag;
    int64_t ovid, size, age_s; /* size -1: unknown */
    int32_t wave;           /* carried out after every lower wave (children first) */
    bool was_current;       /* the plan took it for its key's current version */
    const char *last_modified; /* as a listing recorded it, or NULL */
} plan_row;

/* Objects and bytes of one bucket, rule and action. */
typedef struct plan_total {
    const char *bucket, *rule, *action;
    int64_t objects, bytes;
} plan_total;

/* What the safety cap looks at: a bucket's live objects, and what the plan deletes. */
typedef struct plan_bucket {
    const char *bucket;
    const char *rules;      /* the rules that delete in it, ", "-separated */
    int64_t live_objects, live_bytes, planned_objects, planned_bytes;
} plan_bucket;

typedef struct plan {
    int64_t id;             /* saved plan id, 0 when not saved */
    plan_row *rows;         /* ordered by bucket, key, newest first */
    size_t nrows;
    plan_total *totals;     /* ordered by bucket, rule, action */
    size_t ntotals;
    plan_bucket *buckets;   /* ordered by bucket */
    size_t nbuckets;
    char generated_at[40];
    char rules_sha256[65];
    double max_delete_fraction;
    char refused[1024];     /* the cap, when a bucket goes over it; "" otherwise */
    arena mem;              /* what the strings point into */
    aw_pg_result *res;      /* or this, for a plan read back */
} plan;

/*
 * The planner (planner.c): the actions of rs over the index, read in the
 * caller's transaction, into p's rows (ordered), its buckets' live objects
 * and generated_at. AW_EPG, AW_ENOMEM, with errstr.
 */
int planner_run(aw_pg *pg, const aw_rules *rs, plan *p, char *errstr, size_t errstr_size) AW_WUR;

/*
 * Computes the plan of rs in one transaction and, when save is true, records
 * it (plan.id). Checks the safety cap per bucket (plan.refused says which
 * bucket and rules went over). AW_EPG with the server's words.
 */
int plan_make(aw_pg *pg, const aw_rules *rs, bool save, plan *out, char *errstr,
              size_t errstr_size) AW_WUR;

/* Reads a saved plan back (its rows and totals, and whether it went over the
 * cap it was made with). AW_ENOTFOUND for an unknown id. */
int plan_load(aw_pg *pg, int64_t id, plan *out, char *errstr, size_t errstr_size) AW_WUR;

void plan_free(plan *p);

/* Prints the plan: "table", "json" or "csv". */
void plan_print(FILE *out, const plan *p, aw_format format);

/*
 * Carries out saved plan p (apply.c) with the current rules rs: what a plan
 * made now (fresh, its rows sorted by object version id; NULL when p was
 * made just now) still deletes, through each row's own store client, wave
 * by wave, each action audited before and after its request. With
 * cfg->policy_force false a plan over its safety cap deletes nothing (the run
 * is recorded as refused). *failed: deletions that failed or were left
 * pending. Returns AW_OK, AW_EINVAL (the plan was applied before: errstr
 * says when), AW_EPG, AW_EUNAVAILABLE, AW_EINTERRUPTED (stopped).
 */
int apply_plan(aw_pg *pg, const aw_config *cfg, const aw_rules *rs, aw_stores *stores,
               const plan *p, const plan *fresh, const char *holder, int *failed, char *errstr,
               size_t errstr_size) AW_WUR;

/* One planned deletion being carried out. */
typedef struct act {
    const plan_row *row;
    int64_t id;             /* its audit row once written (pending or final); 0 before */
    const char *result;     /* "deleted", "skipped_changed", ...; NULL: undecided */
    long status;            /* the HTTP status that decided it, 0 if none */
    bool unknown;           /* its DELETE was abandoned in flight: left pending */
    bool resolved_gone;     /* a killed run's pending action, found gone */
    char message[400];
    char etag[80];          /* what its HEAD showed, for the DELETE's If-Match */
} act;

/* Writes acts[0..n) as pending rows of run and plan_id, committed, and sets
 * their ids. AW_EPG / AW_EUNAVAILABLE with the server's words. */
int audit_pending(aw_pg *pg, const char *run, const char *plan_id, act **acts, size_t n,
                  char *errstr, size_t errstr_size) AW_WUR;

/* Registers aw_retention_actions_total for every result, at zero. */
void audit_declare_metrics(void);

/* In one transaction: the results of acts[0..n) that have one (a pending row
 * becomes its result; an act decided without a request is appended), and
 * the versions their DELETEs removed marked deleted in the index. Acts
 * without a result stay pending. */
int audit_record(aw_pg *pg, const char *run, const char *plan_id, act **acts, size_t n,
                 char *errstr, size_t errstr_size) AW_WUR;

/* Resolves the pending rows killed runs left (under the retention lock no
 * other run is live): a HEAD through the row's store says whether its
 * deletion happened. Rows of stores not served here, or that the store
 * would not answer for, stay pending (*left). */
int audit_resolve(aw_pg *pg, const aw_config *cfg, const aw_stores *stores, int *resolved,
                  int *left, char *errstr, size_t errstr_size) AW_WUR;

/* `policy status`: the last runs and every pending deletion. */
int audit_status(aw_pg *pg, FILE *out, char *errstr, size_t errstr_size) AW_WUR;

#endif
