/*
 * The planner: what the rules would delete, and what saves it. PostgreSQL
 * hands over, in one REPEATABLE READ snapshot, the versions of the buckets
 * the rules name, their artifact folders and the lineage edges into them
 * (three COPYs); the decisions are made here, in memory, in a few passes
 * over arrays sorted once. Planning a million versions against fifty rules
 * takes seconds, where the same rules as set-based SQL took most of a
 * minute (bench/retention_plan.sh). Memory is about 250 bytes per version
 * of the rules' buckets.
 *
 * The steps, in order:
 *   1. the versions of each key, newest first (sequencer, then time, then
 *      id): the first is current; the others are noncurrent "since" the
 *      time of the one above; what is gone (tombstones, vanished, deleted)
 *      and what was overwritten in an unversioned bucket is not live and
 *      is never planned, but still counts for "since";
 *   2. every rule, in file order, over the live versions: the first delete
 *      rule that selects a version gives its action and reason; the first
 *      protect, else the first keep, saves it;
 *   3. lineage: of what is still to be deleted, every version some live
 *      version outside the deletions was made from, and their inputs in
 *      turn, are protected;
 *   4. the actions, ordered by bucket, key and newest first.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aw/copy.h"
#include "aw/json.h"
#include "aw/log.h"
#include "aw/util.h"
#include "planner.h"

/* ---- loading */

int planner_grow(void **p, size_t *cap, size_t n, size_t size) {
    if (n < *cap)
        return AW_OK;
    size_t c = *cap ? *cap * 2 : 4096;
    void *np = realloc(*p, c * size);
    if (!np)
        return AW_ENOMEM;
    *p = np;
    *cap = c;
    return AW_OK;
}

static bool to_i64(const char *s, int64_t *out) {
    if (!s || !*s)
        return false;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (*end)
        return false;
    *out = v;
    return true;
}

static int bad_row(planner *pl, const char *what) {
    snprintf(pl->err, pl->errn, "unexpected %s row from PostgreSQL", what);
    return AW_EPG;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int on_version(void *ud, char *line, size_t len) {
    planner *pl = ud;
    char *s = arena_alloc(pl->mem, len + 1), *f[16];
    if (!s || planner_grow((void **)&pl->v, &pl->capv, pl->nv, sizeof *pl->v) != AW_OK)
        return AW_ENOMEM;
    memcpy(s, line, len + 1);
    if (aw_copy_split(s, len, f, 16) != 16 || !f[1] || !f[2] || !f[3] || !f[9] || !f[12])
        return bad_row(pl, "version");
    ver *v = &pl->v[pl->nv];
    memset(v, 0, sizeof *v);
    v->store = f[1];
    v->bucket = f[2];
    v->key = f[3];
    v->version_id = f[4];
    v->seq_key = f[5];
    v->sha256 = f[7];
    v->etag = f[8];
    v->last_modified = f[11];
    v->live = !strcmp(f[9], "t");
    v->erased = !strcmp(f[12], "t");
    v->ml_registered = f[13] && !strcmp(f[13], "t");
    v->ml_aliases = f[14];
    v->ml_lifecycle = f[15];
    /* stores and buckets as small numbers: sorting and grouping compare those */
    const char **b = bsearch(&v->bucket, pl->buckets, pl->nbuckets, sizeof *pl->buckets, cmp_str);
    if (!b)
        return bad_row(pl, "version");
    v->bucket_ix = (int32_t)(b - pl->buckets);
    v->bucket = *b;
    size_t st = 0;
    while (st < pl->nstores && strcmp(pl->stores[st], v->store))
        st++;
    if (st == pl->nstores) {
        if (planner_grow((void **)&pl->stores, &pl->capstores, st, sizeof *pl->stores) != AW_OK)
            return AW_ENOMEM;
        pl->stores[pl->nstores++] = v->store;
    }
    v->store_ix = (int32_t)st;
    v->store = pl->stores[st];
    if (!to_i64(f[0], &v->id) || !to_i64(f[10], &v->vt))
        return bad_row(pl, "version");
    if (!f[6] || !to_i64(f[6], &v->size))
        v->size = -1;
    v->folder = v->next_in_folder = NONE;
    v->del_rule = v->keep_rule = v->prot_rule = v->lin_edge = v->lin_level = NONE;
    pl->nv++;
    return AW_OK;
}

/* Whether the metadata field at a dotted path equals value, as text. */
static bool md_equal(json_t *doc, const char *path, const char *value) {
    json_t *at = aw_json_path(doc, path);
    if (json_is_string(at))
        return !strcmp(json_string_value(at), value);
    if (json_is_integer(at)) {
        char b[24];
        snprintf(b, sizeof b, "%lld", (long long)json_integer_value(at));
        return !strcmp(b, value);
    }
    if (json_is_real(at)) {
        char *end;
        double d = strtod(value, &end);
        return *value && !*end && d == json_real_value(at);
    }
    if (json_is_boolean(at))
        return !strcmp(value, json_is_true(at) ? "true" : "false");
    return false; /* null, objects and arrays equal no scalar */
}

static int on_artifact(void *ud, char *line, size_t len) {
    planner *pl = ud;
    char *f[6];
    if (aw_copy_split(line, len, f, 6) != 6 || !f[0] || !f[1] || !f[2])
        return bad_row(pl, "artifact");
    if (planner_grow((void **)&pl->a, &pl->capa, pl->na, sizeof *pl->a) != AW_OK)
        return AW_ENOMEM;
    unsigned char *md = NULL;
    if (pl->nmd) {
        md = realloc(pl->md, (pl->na + 1) * pl->nmd);
        if (!md)
            return AW_ENOMEM;
        pl->md = md;
        md += pl->na * pl->nmd;
        memset(md, 0, pl->nmd);
    }
    art *a = &pl->a[pl->na];
    memset(a, 0, sizeof *a);
    if (!(a->store = arena_strdup(pl->mem, f[0])) || !(a->bucket = arena_strdup(pl->mem, f[1])) ||
        !(a->folder = arena_strdup(pl->mem, f[2])) ||
        (f[3] && !(a->name = arena_strdup(pl->mem, f[3]))) ||
        (f[4] && !(a->version = arena_strdup(pl->mem, f[4]))))
        return AW_ENOMEM;
    a->folder_len = strlen(a->folder);
    a->nvkey = a->version ? aw_version_key(a->version, a->vkey) : 0;
    a->first = a->stamp = NONE;
    /* each metadata rule is decided once per folder; the document is not kept */
    json_t *doc = md && f[5] ? json_loads(f[5], JSON_DECODE_ANY, NULL) : NULL;
    for (size_t r = 0; doc && r < pl->rs->n; r++) {
        const aw_rule *rule = &pl->rs->v[r];
        if (pl->md_ix[r] == NONE)
            continue;
        bool all = true;
        for (size_t k = 0; all && k < rule->nmetadata; k++)
            all = md_equal(doc, rule->metadata[k].path, rule->metadata[k].value);
        md[pl->md_ix[r]] = all;
    }
    json_decref(doc);
    pl->na++;
    return AW_OK;
}

static int on_edge(void *ud, char *line, size_t len) {
    planner *pl = ud;
    char *f[5];
    if (aw_copy_split(line, len, f, 5) != 5 || !f[2] || !f[3] || !f[4])
        return bad_row(pl, "edge");
    if (planner_grow((void **)&pl->e, &pl->cape, pl->ne, sizeof *pl->e) != AW_OK)
        return AW_ENOMEM;
    edge *e = &pl->e[pl->ne];
    if (!to_i64(f[0], &e->parent) || !to_i64(f[1], &e->child))
        return bad_row(pl, "edge");
    e->child_live = !strcmp(f[2], "t");
    if (!(e->child_bucket = arena_strdup(pl->mem, f[3])) ||
        !(e->child_key = arena_strdup(pl->mem, f[4])))
        return AW_ENOMEM;
    pl->ne++;
    return AW_OK;
}

/* The distinct buckets of the index (a skip scan over (bucket, key)), of
 * which those some rule names are kept, and handed to the server as the
 * temporary table rt_b the COPYs join. */
static int load_buckets(planner *pl, aw_pg *pg, aw_pg_result **keep) {
    static const char *const sql =
        "WITH RECURSIVE b AS ("
        " SELECT min(bucket) AS bucket FROM aw.object_versions"
        " UNION ALL"
        " SELECT (SELECT min(v.bucket) FROM aw.object_versions v WHERE v.bucket > b.bucket)"
        "   FROM b WHERE b.bucket IS NOT NULL)"
        " SELECT bucket FROM b WHERE bucket IS NOT NULL";
    int rc = aw_pg_query(pg, sql, 0, NULL, keep, pl->err, pl->errn);
    if (rc != AW_OK)
        return rc;
    int n = aw_pg_result_rows(*keep);
    pl->buckets = calloc((size_t)n + 1, sizeof *pl->buckets);
    if (!pl->buckets)
        return AW_ENOMEM;
    for (int i = 0; i < n; i++) {
        const char *b = aw_pg_result_get(*keep, i, 0);
        for (size_t r = 0; r < pl->rs->n; r++)
            if (aw_glob_match(pl->rs->v[r].bucket, b, false)) {
                if (!(pl->buckets[pl->nbuckets++] = arena_strdup(pl->mem, b)))
                    return AW_ENOMEM;
                break;
            }
    }
    psort(pl->buckets, pl->nbuckets, sizeof *pl->buckets, cmp_str);
    rc = aw_pg_exec_script(pg, "CREATE TEMP TABLE rt_b (bucket text PRIMARY KEY) ON COMMIT DROP",
                           pl->err, pl->errn);
    if (rc == AW_OK)
        rc = aw_pg_copy_begin(pg, "COPY rt_b FROM STDIN", pl->err, pl->errn);
    if (rc != AW_OK)
        return rc;
    aw_copy_buf b = {0};
    for (size_t i = 0; rc == AW_OK && i < pl->nbuckets; i++)
        rc = aw_copy_field(&b, pl->buckets[i], '\n');
    if (rc == AW_OK)
        rc = aw_pg_copy_put(pg, b.p ? b.p : "", b.len, pl->err, pl->errn);
    int end = aw_pg_copy_end(pg, rc == AW_OK ? NULL : "out of memory", pl->err, pl->errn);
    aw_copy_buf_free(&b);
    if (rc == AW_OK && end == AW_OK) /* its size decides how the COPYs join it */
        end = aw_pg_exec_script(pg, "ANALYZE rt_b", pl->err, pl->errn);
    return rc == AW_OK ? end : rc;
}

/* ---- the plan */

/* A duration for people: its two largest units ("45d 3h", "2h 5m", "40s"). */
static void human(int64_t s, char *out, size_t n) {
    static const struct { const char *u; int64_t s; } units[] = {
        {"d", 86400}, {"h", 3600}, {"m", 60}, {"s", 1}};
    if (s < 0)
        s = 0;
    for (size_t i = 0; i < 4; i++) {
        if (s < units[i].s && i < 3)
            continue;
        int64_t rest = i < 3 ? s % units[i].s / units[i + 1].s : 0;
        if (rest)
            snprintf(out, n, "%lld%s %lld%s", (long long)(s / units[i].s), units[i].u,
                     (long long)rest, units[i + 1].u);
        else
            snprintf(out, n, "%lld%s", (long long)(s / units[i].s), units[i].u);
        return;
    }
}

static const char *reason(planner *pl, const ver *v) {
    const aw_rules *rs = pl->rs;
    if (v->prot_rule != NONE)
        return arena_printf(pl->mem, "rule %s", rs->v[v->prot_rule].name);
    if (v->keep_rule != NONE) {
        const aw_rule *r = &rs->v[v->keep_rule];
        if (r->artifact && v->folder != NONE)
            return arena_printf(pl->mem, "keep_last %s (version %s of %s)", r->name,
                                pl->a[v->folder].version ? pl->a[v->folder].version : "-",
                                pl->a[v->folder].name);
        return arena_printf(pl->mem, "keep_last %s (version %lld of the key)", r->name,
                            (long long)v->keep_rank);
    }
    if (v->lin_edge != NONE) {
        const edge *e = &pl->e[v->lin_edge];
        return arena_printf(pl->mem, "lineage: input of s3://%s/%s", e->child_bucket,
                            e->child_key);
    }
    const aw_rule *r = &rs->v[v->del_rule];
    char age[48], after[48];
    human(r->after_s, after, sizeof after);
    switch (r->action) {
    case AW_RULE_KEEP_LAST:
        if (r->artifact && v->folder != NONE)
            return arena_printf(pl->mem, "rule %s: %s version %s is number %lld, beyond the last %ld",
                                r->name, pl->a[v->folder].name,
                                pl->a[v->folder].version ? pl->a[v->folder].version : "-",
                                (long long)v->del_rank, r->count);
        return arena_printf(pl->mem, "rule %s: version %lld of the key, beyond the last %ld",
                            r->name, (long long)v->del_rank, r->count);
    case AW_RULE_EXPIRE:
        human((pl->now - v->vt) / 1000000, age, sizeof age);
        return arena_printf(pl->mem, "rule %s: current for %s, expires after %s", r->name, age,
                            after);
    default:
        human((pl->now - v->since) / 1000000, age, sizeof age);
        return arena_printf(pl->mem, "rule %s: noncurrent for %s, expires after %s", r->name,
                            age, after);
    }
}

static const planner *sort_pl; /* qsort has no user pointer in C11; one planner at a time */

static int cmp_out(const void *pa, const void *pb) {
    const ver *a = &sort_pl->v[*(const int32_t *)pa], *b = &sort_pl->v[*(const int32_t *)pb];
    int c = strcmp(a->bucket, b->bucket);
    if (!c)
        c = strcmp(a->key, b->key);
    if (!c && a->vt != b->vt)
        c = a->vt < b->vt ? 1 : -1;
    if (!c)
        c = strcmp(a->store, b->store);
    return c ? c : (a->id > b->id) - (a->id < b->id);
}

static int emit(planner *pl, plan *p) {
    size_t n = 0;
    for (size_t i = 0; i < pl->nv; i++)
        n += pl->v[i].del_rule != NONE;
    int32_t *o = malloc((n + 1) * sizeof *o);
    p->rows = calloc(n + 1, sizeof *p->rows);
    p->buckets = calloc(pl->nbuckets + 1, sizeof *p->buckets);
    if (!o || !p->rows || !p->buckets) {
        free(o);
        return AW_ENOMEM;
    }
    for (size_t i = 0, k = 0; i < pl->nv; i++)
        if (pl->v[i].del_rule != NONE)
            o[k++] = (int32_t)i;
    sort_pl = pl;
    psort(o, n, sizeof *o, cmp_out);
    for (size_t k = 0; k < n; k++) {
        const ver *v = &pl->v[o[k]];
        plan_row *r = &p->rows[k];
        bool saved = v->prot_rule != NONE || v->keep_rule != NONE || v->lin_edge != NONE;
        r->action = saved ? "protect" : v->del_kind == K_MARKER ? "delete_marker" : "delete";
        r->rule = pl->rs->v[v->del_rule].name;
        if (!(r->reason = reason(pl, v))) {
            free(o);
            return AW_ENOMEM;
        }
        r->store = v->store;
        r->bucket = v->bucket;
        r->key = v->key;
        r->version_id = v->version_id;
        r->sha256 = v->sha256;
        r->etag = v->etag;
        r->ovid = v->id;
        r->size = v->size;
        r->age_s = (pl->now - v->vt) / 1000000;
        r->wave = saved ? 0 : v->wave;
        r->was_current = v->current;
        r->last_modified = v->last_modified;
        p->nrows++;
    }
    free(o);
    /* the safety cap's numbers: live objects of each bucket, and what goes */
    for (size_t b = 0; b < pl->nbuckets; b++)
        p->buckets[b].bucket = pl->buckets[b];
    p->nbuckets = pl->nbuckets;
    for (size_t i = 0; i < pl->nv; i++) {
        const ver *v = &pl->v[i];
        if (v->bucket_ix == NONE)
            continue;
        plan_bucket *b = &p->buckets[v->bucket_ix];
        b->live_objects++;
        b->live_bytes += v->size > 0 ? v->size : 0;
    }
    return AW_OK;
}

/* The database's clock, as the plan's now and generated_at. */
static int read_clock(planner *pl, aw_pg *pg, plan *p) {
    aw_pg_result *now = NULL;
    int rc = aw_pg_query(pg, "SELECT (extract(epoch FROM now()) * 1000000)::int8, to_char(now() "
                             "AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')",
                         0, NULL, &now, pl->err, pl->errn);
    if (rc == AW_OK) {
        if (!to_i64(aw_pg_result_get(now, 0, 0), &pl->now))
            rc = bad_row(pl, "clock");
        snprintf(p->generated_at, sizeof p->generated_at, "%s", aw_pg_result_get(now, 0, 1));
    }
    aw_pg_result_free(now);
    return rc;
}

static bool wants_mlflow(const aw_rules *rs) {
    for (size_t i = 0; i < rs->n; i++)
        if (rs->v[i].mlflow_registered >= 0 || rs->v[i].mlflow_alias || rs->v[i].mlflow_lifecycle)
            return true;
    return false;
}

/* mlflow: predicates read what `mlflow sync` last wrote: refused when it
 * has never read the whole server, or not within limits.max_mlflow_age
 * (a registry never read would protect no registered model). */
static int mlflow_fresh(planner *pl, aw_pg *pg) {
    char age[32];
    snprintf(age, sizeof age, "%lld", (long long)pl->rs->max_mlflow_age_s);
    const char *p[1] = {age};
    aw_pg_result *r = NULL;
    int rc = aw_pg_query(pg, "SELECT to_char(synced_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:"
                             "MI:SS\"Z\"'), synced_at >= now() - make_interval(secs => $1::int8)"
                             " FROM aw.mlflow_sync", 1, p, &r, pl->err, pl->errn);
    if (rc != AW_OK)
        return rc;
    if (!aw_pg_result_rows(r)) {
        snprintf(pl->err, pl->errn, "rules with mlflow: need `artifact-watch mlflow sync` to "
                                    "have read the tracking server, and it never has");
        rc = AW_ECONFIG;
    } else if (strcmp(aw_pg_result_get(r, 0, 1), "t")) {
        char lim[32];
        aw_format_duration(pl->rs->max_mlflow_age_s, lim, sizeof lim);
        snprintf(pl->err, pl->errn, "rules with mlflow: read what `artifact-watch mlflow sync` "
                                    "last read completely, at %s, longer ago than "
                                    "limits.max_mlflow_age (%s): is it running?",
                 aw_pg_result_get(r, 0, 0), lim);
        rc = AW_ECONFIG;
    }
    aw_pg_result_free(r);
    return rc;
}

/* Step 1: the rules' buckets' versions and folders, by COPY, settled; the
 * metadata bitmap carried through the folders' sort. */
#define VERSION_COLS                                                           \
    "v.id, v.store, v.bucket, v.key, v.version_id, v.seq_key, v.size,"         \
    " encode(v.sha256, 'hex'), v.etag, v.state = 'present' AND NOT v.deleted,"  \
    " (extract(epoch FROM COALESCE(v.event_time, v.first_seen_at)) * 1000000)::int8," \
    " to_char(v.last_modified AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')," \
    " v.version_id IS NOT NULL AND v.deleted AND v.state <> 'tombstone'"

/* With mlflow: predicates, each version's MLflow facts: the registered
 * model versions whose files it is among (found by key range on each
 * version's place), their aliases, and its run's lifecycle (a logged
 * model's file: its source run's). */
static const char *const versions_mlflow_sql =
    "COPY (WITH reg AS (SELECT v.id, array_agg(DISTINCT a.alias) FILTER"
    "   (WHERE a.alias IS NOT NULL) AS aliases"
    "   FROM aw.mlflow_model_versions m JOIN rt_b b ON b.bucket = m.bucket"
    "   JOIN aw.object_versions v ON v.bucket = m.bucket AND v.key >= m.prefix"
    "    AND v.key < m.prefix || chr(1114111) AND starts_with(v.key, m.prefix)"
    "   LEFT JOIN LATERAL unnest(m.aliases) a(alias) ON true GROUP BY v.id)"
    " SELECT " VERSION_COLS ", reg.id IS NOT NULL, reg.aliases, r.lifecycle_stage"
    " FROM aw.object_versions v JOIN rt_b b ON b.bucket = v.bucket"
    " LEFT JOIN reg ON reg.id = v.id"
    " LEFT JOIN aw.mlflow_logged_models lm ON lm.model_id = aw.mlflow_model_of(v.key)"
    " LEFT JOIN aw.mlflow_runs r ON r.run_id = COALESCE(aw.mlflow_run_of(v.key),"
    "  lm.source_run_id)) TO STDOUT";

static int read_index(planner *pl, aw_pg *pg, bool want_md, bool want_mlflow) {
    aw_pg_result *names = NULL;
    int rc = load_buckets(pl, pg, &names);
    aw_pg_result_free(names);
    if (rc == AW_OK)
        rc = aw_pg_copy_out(pg, want_mlflow ? versions_mlflow_sql
            : "COPY (SELECT " VERSION_COLS ", false, NULL, NULL"
              " FROM aw.object_versions v JOIN rt_b b ON b.bucket = v.bucket) TO STDOUT",
            on_version, pl, pl->err, pl->errn);
    if (rc == AW_OK)
        rc = aw_pg_copy_out(pg, want_md
            ? "COPY (SELECT a.store, a.bucket, a.folder, a.name, a.version, a.metadata"
              " FROM aw.artifacts a JOIN rt_b b ON b.bucket = a.bucket) TO STDOUT"
            : "COPY (SELECT a.store, a.bucket, a.folder, a.name, a.version, NULL"
              " FROM aw.artifacts a JOIN rt_b b ON b.bucket = a.bucket) TO STDOUT",
            on_artifact, pl, pl->err, pl->errn);
    if (rc != AW_OK)
        return rc;
    /* the metadata bitmap was filled in load order: carry it through the sort */
    for (size_t i = 0; pl->nmd && i < pl->na; i++)
        pl->a[i].stamp = (int32_t)i;
    unsigned char *old = pl->md;
    planner_settle(pl);
    if (pl->nmd) {
        unsigned char *md = malloc(pl->na * pl->nmd + 1);
        if (!md)
            return AW_ENOMEM;
        for (size_t i = 0; i < pl->na; i++)
            memcpy(md + i * pl->nmd, old + (size_t)pl->a[i].stamp * pl->nmd, pl->nmd);
        free(old);
        pl->md = md;
    }
    for (size_t i = 0; i < pl->na; i++)
        pl->a[i].stamp = NONE;
    return AW_OK;
}

/* Step 3: the edges into the versions still to be deleted, lineage and the
 * waves. With protect_lineage: current, a child's noncurrent versions
 * protect nothing. */
static int read_lineage(planner *pl, aw_pg *pg) {
    const aw_rules *rs = pl->rs;
    bool any = false;
    for (size_t i = 0; i < pl->nv && !any; i++)
        any = select_doomed(&pl->v[i]);
    if (!any || !rs->protect_lineage)
        return AW_OK;
    int rc = aw_pg_copy_out(pg, rs->lineage_current
        ? "COPY (SELECT e.parent_version_id, e.child_version_id,"
          " c.state = 'present' AND NOT c.deleted"
          "  AND c.id = aw.current_version(c.store, c.bucket, c.key), c.bucket, c.key"
          " FROM aw.edges e JOIN aw.object_versions p ON p.id = e.parent_version_id"
          " JOIN rt_b b ON b.bucket = p.bucket"
          " JOIN aw.object_versions c ON c.id = e.child_version_id) TO STDOUT"
        : "COPY (SELECT e.parent_version_id, e.child_version_id,"
          " c.state = 'present' AND NOT c.deleted, c.bucket, c.key"
          " FROM aw.edges e JOIN aw.object_versions p ON p.id = e.parent_version_id"
          " JOIN rt_b b ON b.bucket = p.bucket"
          " JOIN aw.object_versions c ON c.id = e.child_version_id) TO STDOUT",
        on_edge, pl, pl->err, pl->errn);
    if (rc == AW_OK)
        rc = select_lineage(pl);
    if (rc == AW_OK)
        select_waves(pl);
    return rc;
}

int planner_run(aw_pg *pg, const aw_rules *rs, plan *p, char *errstr, size_t n) {
    planner pl = {.rs = rs, .mem = &p->mem, .err = errstr, .errn = n};
    int64_t t0 = aw_now_ms(), t_read = 0, t_rules = 0;
    int rc = read_clock(&pl, pg, p);
    pl.md_ix = malloc((rs->n + 1) * sizeof *pl.md_ix);
    if (!pl.md_ix)
        rc = AW_ENOMEM;
    for (size_t r = 0; pl.md_ix && r < rs->n; r++)
        pl.md_ix[r] = rs->v[r].nmetadata ? (int32_t)pl.nmd++ : NONE;
    if (rc == AW_OK && wants_mlflow(rs))
        rc = mlflow_fresh(&pl, pg);
    if (rc == AW_OK)
        rc = read_index(&pl, pg, pl.nmd > 0, wants_mlflow(rs));
    t_read = aw_now_ms();
    if (rc == AW_OK)
        rc = select_rules(&pl);
    t_rules = aw_now_ms();
    if (rc == AW_OK)
        rc = read_lineage(&pl, pg);
    if (rc == AW_OK)
        rc = emit(&pl, p);
    if (rc == AW_ENOMEM)
        snprintf(errstr, n, "out of memory while planning %zu versions", pl.nv);
    AW_INFO(LOG, "planned %zu live versions (%zu artifact folders, %zu edges): %zu actions in "
            "%lld ms (reading %lld, rules %lld, lineage and output %lld)", pl.nv, pl.na, pl.ne,
            p->nrows, (long long)(aw_now_ms() - t0), (long long)(t_read - t0),
            (long long)(t_rules - t_read), (long long)(aw_now_ms() - t_rules));
    free(pl.buckets);
    free(pl.stores);
    free(pl.v);
    free(pl.a);
    free(pl.md);
    free(pl.md_ix);
    free(pl.e);
    return rc;
}
