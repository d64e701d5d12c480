/*
 * What the files of policy/ share:
 *   rules.c   the rules file (rules.h)
 *   planner.c what the rules would delete and what protects it, in memory
 *   plan.c    a plan: made, printed, saved, read back, capped
 *   apply.c   a saved plan carried out against the store, every action audited
 *   policy.c  the commands (check, plan, apply, run) and the scheduled worker
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
void plan_print(FILE *out, const plan *p, const char *format);

/*
 * Carries out saved plan p: every planned deletion whose object is unchanged
 * (the index and, where no version id pins it, a HEAD agree with the plan)
 * is deleted through the S3 client, concurrently; every action is appended
 * to aw.retention_actions and the run to aw.retention_runs. With force
 * false a plan over its safety cap deletes nothing (the run is recorded as
 * refused). A stop request finishes the deletions in flight. Returns AW_OK
 * (look at *failed), AW_EPG or AW_EUNAVAILABLE.
 */
int apply_plan(aw_pg *pg, const aw_config *cfg, const plan *p, bool force, int *failed,
               char *errstr, size_t errstr_size) AW_WUR;

#endif
