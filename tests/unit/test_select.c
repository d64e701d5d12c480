/*
 * The retention selection (policy/select.c, with planner_settle), on
 * versions made in memory: what each rule selects, keeps and protects, how
 * lineage protects inputs, and the waves deletions go in. No database.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "planner.h"
#include "test.h"

#define NOW (1800000000LL * 1000000)
#define DAY (86400LL * 1000000)

static const char *buckets[] = {"b", "v"};

typedef struct world {
    planner pl;
    arena mem;
    aw_rules *rs;
} world;

static void world_new(world *w, const char *yaml) {
    memset(w, 0, sizeof *w);
    char err[512] = "";
    if (aw_rules_parse(yaml, strlen(yaml), "rules.yaml", &w->rs, err, sizeof err) != AW_OK)
        FAIL_("rules: %s", err);
    w->pl.rs = w->rs;
    w->pl.mem = &w->mem;
    w->pl.now = NOW;
    w->pl.buckets = buckets;
    w->pl.nbuckets = 2;
    w->pl.md_ix = calloc(w->rs->n + 1, sizeof *w->pl.md_ix);
    for (size_t r = 0; r < w->rs->n; r++)
        w->pl.md_ix[r] = w->rs->v[r].nmetadata ? (int32_t)w->pl.nmd++ : NONE;
}

static void world_free(world *w) {
    free(w->pl.v);
    free(w->pl.a);
    free(w->pl.e);
    free(w->pl.md);
    free(w->pl.md_ix);
    arena_free(&w->mem);
    aw_rules_free(w->rs);
}

/* A version of key in bucket ("b" unversioned, "v" versioned): its id,
 * version id (NULL), sequencer key, age in days, and flags. */
static void add(world *w, int64_t id, const char *bucket, const char *key, const char *vid,
                const char *seq, int age_days, bool live, bool erased) {
    planner *pl = &w->pl;
    ASSERT_INT_EQ(planner_grow((void **)&pl->v, &pl->capv, pl->nv, sizeof *pl->v), AW_OK);
    ver *v = &pl->v[pl->nv++];
    memset(v, 0, sizeof *v);
    v->id = id;
    v->store = "default";
    v->bucket = !strcmp(bucket, "b") ? buckets[0] : buckets[1];
    v->bucket_ix = !strcmp(bucket, "b") ? 0 : 1;
    v->key = key;
    v->version_id = vid;
    v->seq_key = seq;
    v->vt = NOW - age_days * DAY;
    v->size = 10;
    v->live = live;
    v->erased = erased;
    v->folder = v->next_in_folder = NONE;
    v->del_rule = v->keep_rule = v->prot_rule = v->lin_edge = v->lin_level = NONE;
}

/* An artifact folder of bucket b, and whether each metadata rule matches it. */
static void folder(world *w, const char *path, const char *name, const char *version,
                   bool md_match) {
    planner *pl = &w->pl;
    ASSERT_INT_EQ(planner_grow((void **)&pl->a, &pl->capa, pl->na, sizeof *pl->a), AW_OK);
    art *a = &pl->a[pl->na];
    memset(a, 0, sizeof *a);
    a->store = "default";
    a->bucket = "b";
    a->folder = path;
    a->folder_len = strlen(path);
    a->name = name;
    a->version = version;
    a->nvkey = aw_version_key(version, a->vkey);
    a->first = a->stamp = NONE;
    if (pl->nmd) {
        pl->md = realloc(pl->md, (pl->na + 1) * pl->nmd);
        memset(pl->md + pl->na * pl->nmd, md_match, pl->nmd);
    }
    pl->na++;
}

static void link(world *w, int64_t parent, int64_t child, bool child_live) {
    planner *pl = &w->pl;
    ASSERT_INT_EQ(planner_grow((void **)&pl->e, &pl->cape, pl->ne, sizeof *pl->e), AW_OK);
    pl->e[pl->ne++] = (edge){.parent = parent, .child = child, .child_bucket = "b",
                                    .child_key = "child", .child_live = child_live};
}

static void run(world *w) {
    planner_settle(&w->pl);
    ASSERT_INT_EQ(select_rules(&w->pl), AW_OK);
    if (w->rs->protect_lineage) {
        ASSERT_INT_EQ(select_lineage(&w->pl), AW_OK);
        select_waves(&w->pl);
    }
}

static const ver *by(const world *w, int64_t id) {
    for (size_t i = 0; i < w->pl.nv; i++)
        if (w->pl.v[i].id == id)
            return &w->pl.v[i];
    return NULL;
}

/* "delete", "marker", "protect", "keep" or "-" for version id */
static const char *fate(const world *w, int64_t id) {
    const ver *v = by(w, id);
    if (!v)
        return "gone";
    if (v->prot_rule != NONE || v->lin_edge != NONE)
        return "protect";
    if (v->keep_rule != NONE)
        return "keep";
    if (v->del_rule != NONE)
        return v->del_kind == K_MARKER ? "marker" : "delete";
    return "-";
}

int main(void) {
    world w;

    CASE("expire_after: a delete in an unversioned bucket, a delete marker in a versioned one") {
        world_new(&w, "version: 1\nrules:\n  - name: e\n    match: {bucket: \"*\"}\n"
                      "    expire_after: 7d\n");
        add(&w, 1, "b", "old", NULL, "h1", 10, true, false);
        add(&w, 2, "b", "new", NULL, "h2", 1, true, false);
        add(&w, 3, "v", "old", "x1", "h3", 10, true, false);
        run(&w);
        ASSERT_STR_EQ(fate(&w, 1), "delete");
        ASSERT_STR_EQ(fate(&w, 2), "-");
        ASSERT_STR_EQ(fate(&w, 3), "marker");
        world_free(&w);
    }

    CASE("mlflow: a deleted run's files expire; an aliased model and its data stay") {
        world_new(&w, "version: 1\nrules:\n"
                      "  - name: champion\n    match: {bucket: b, mlflow: {alias: champ*}}\n"
                      "    protect: true\n"
                      "  - name: deleted-runs\n    match: {bucket: b, mlflow: {run_lifecycle: deleted}}\n"
                      "    expire_after: 1d\n"
                      "  - name: unregistered\n    match: {bucket: b, mlflow: {registered: false}}\n"
                      "    expire_after: 90d\n");
        add(&w, 1, "b", "ml/1/r2/artifacts/plot.png", NULL, "h1", 10, true, false);
        w.pl.v[0].ml_lifecycle = "deleted";
        add(&w, 2, "b", "ml/1/models/m-1/artifacts/model.pkl", NULL, "h2", 10, true, false);
        w.pl.v[1].ml_registered = true;
        w.pl.v[1].ml_aliases = "{\"champion\",\"x,y\"}";
        w.pl.v[1].ml_lifecycle = "deleted"; /* its run was deleted; the alias keeps it */
        add(&w, 3, "b", "data/train.csv", NULL, "h3", 100, true, false);
        add(&w, 4, "b", "ml/1/models/m-2/artifacts/model.pkl", NULL, "h4", 10, true, false);
        w.pl.v[3].ml_registered = true;
        w.pl.v[3].ml_aliases = "{staging}";
        link(&w, 3, 2, true);
        run(&w);
        ASSERT_STR_EQ(fate(&w, 1), "delete");
        ASSERT_STR_EQ(fate(&w, 2), "protect");
        ASSERT_STR_EQ(fate(&w, 3), "protect"); /* the kept model's training data */
        ASSERT_STR_EQ(fate(&w, 4), "-");       /* registered, aliased otherwise, young */
        world_free(&w);
    }

    CASE("noncurrent_expire_after keeps the newest noncurrent versions and never the current") {
        world_new(&w, "version: 1\nrules:\n  - name: n\n    match: {bucket: v}\n"
                      "    noncurrent_expire_after: 1d\n    keep_noncurrent: 1\n");
        add(&w, 1, "v", "k", "a", "h1", 30, true, false);
        add(&w, 2, "v", "k", "b", "h2", 20, true, false);
        add(&w, 3, "v", "k", "c", "h3", 10, true, false);
        add(&w, 4, "v", "k", "d", "h4", 5, true, false); /* current */
        run(&w);
        ASSERT(by(&w, 4)->current);
        ASSERT_STR_EQ(fate(&w, 4), "-");
        ASSERT_STR_EQ(fate(&w, 3), "-"); /* the newest noncurrent, kept */
        ASSERT_STR_EQ(fate(&w, 2), "delete");
        ASSERT_STR_EQ(fate(&w, 1), "delete");
        world_free(&w);
    }

    CASE("a version deleted by its id is never current: the one below it is") {
        world_new(&w, "version: 1\nrules:\n  - name: n\n    match: {bucket: v}\n"
                      "    noncurrent_expire_after: 1d\n");
        add(&w, 1, "v", "k", "a", "h1", 30, true, false);
        add(&w, 2, "v", "k", "b", "h2", 20, true, false);
        add(&w, 3, "v", "k", "c", "h3", 10, false, true); /* rolled back: erased */
        run(&w);
        ASSERT(by(&w, 2)->current);
        ASSERT_STR_EQ(fate(&w, 2), "-");
        ASSERT_STR_EQ(fate(&w, 1), "delete");
        world_free(&w);
    }

    CASE("a listing's order ('~' keys) decides what is current, not the time") {
        world_new(&w, "version: 1\nrules:\n  - name: n\n    match: {bucket: v}\n"
                      "    noncurrent_expire_after: 1d\n");
        add(&w, 1, "v", "k", "a", "h00A", 30, true, false);
        add(&w, 2, "v", "k", "b", "h00A~", 40, true, false); /* listed newer, older clock */
        run(&w);
        ASSERT(by(&w, 2)->current);
        ASSERT_STR_EQ(fate(&w, 2), "-");
        ASSERT_STR_EQ(fate(&w, 1), "delete");
        world_free(&w);
    }

    CASE("keep_last by artifact: semantic versions, whole folders, protect wins") {
        world_new(&w, "version: 1\nrules:\n  - name: prod\n    match: {bucket: b, metadata: "
                      "{stage: production}}\n    protect: true\n  - name: keep\n    match: "
                      "{bucket: b, prefix: m/, artifact: churn}\n    keep_last: 2\n");
        /* folders in their sorted order (store, bucket, folder) */
        folder(&w, "m/churn/v1.0.10/", "churn", "v1.0.10", false);
        folder(&w, "m/churn/v1.0.2/", "churn", "v1.0.2", true); /* production */
        folder(&w, "m/churn/v1.0.3/", "churn", "v1.0.3", false);
        folder(&w, "m/churn/v1.0.9/", "churn", "v1.0.9", false);
        add(&w, 1, "b", "m/churn/v1.0.2/model.bin", NULL, "h1", 40, true, false);
        add(&w, 2, "b", "m/churn/v1.0.3/model.bin", NULL, "h2", 30, true, false);
        add(&w, 3, "b", "m/churn/v1.0.3/metadata.json", NULL, "h3", 30, true, false);
        add(&w, 4, "b", "m/churn/v1.0.9/model.bin", NULL, "h4", 20, true, false);
        add(&w, 5, "b", "m/churn/v1.0.10/model.bin", NULL, "h5", 10, true, false);
        run(&w);
        ASSERT_STR_EQ(fate(&w, 5), "keep");
        ASSERT_STR_EQ(fate(&w, 4), "keep");
        ASSERT_STR_EQ(fate(&w, 2), "delete");
        ASSERT_STR_EQ(fate(&w, 3), "delete"); /* the whole folder */
        ASSERT_STR_EQ(fate(&w, 1), "protect");
        world_free(&w);
    }

    CASE("lineage: an input of what stays is protected, at any depth") {
        world_new(&w, "version: 1\nrules:\n  - name: e\n    match: {bucket: b, prefix: d/}\n"
                      "    expire_after: 1d\n");
        add(&w, 1, "b", "d/raw.csv", NULL, "h1", 30, true, false);
        add(&w, 2, "b", "d/features.csv", NULL, "h2", 20, true, false);
        add(&w, 3, "b", "m/model.bin", NULL, "h3", 10, true, false); /* no rule: stays */
        link(&w, 1, 2, true);
        link(&w, 2, 3, true);
        run(&w);
        ASSERT_STR_EQ(fate(&w, 2), "protect");
        ASSERT_STR_EQ(fate(&w, 1), "protect");
        ASSERT_INT_EQ(by(&w, 1)->lin_level, 1);
        world_free(&w);
    }

    CASE("lineage: what goes protects nothing, and deletions go in waves, children first") {
        world_new(&w, "version: 1\nrules:\n  - name: e\n    match: {bucket: b}\n"
                      "    expire_after: 1d\n");
        add(&w, 1, "b", "d/raw.csv", NULL, "h1", 30, true, false);
        add(&w, 2, "b", "d/features.csv", NULL, "h2", 20, true, false);
        add(&w, 3, "b", "m/model.bin", NULL, "h3", 10, true, false);
        link(&w, 1, 2, true);
        link(&w, 2, 3, true);
        run(&w);
        ASSERT_STR_EQ(fate(&w, 1), "delete");
        ASSERT_INT_EQ(by(&w, 3)->wave, 0);
        ASSERT_INT_EQ(by(&w, 2)->wave, 1);
        ASSERT_INT_EQ(by(&w, 1)->wave, 2);
        world_free(&w);
    }

    CASE("lineage: a child under a delete marker keeps its bytes and protects, unless current") {
        for (int mode = 0; mode < 2; mode++) {
            world_new(&w, mode ? "version: 1\nprotect_lineage: current\nrules:\n  - name: e\n"
                                 "    match: {bucket: \"*\"}\n    expire_after: 1d\n"
                               : "version: 1\nrules:\n  - name: e\n    match: {bucket: \"*\"}\n"
                                 "    expire_after: 1d\n");
            add(&w, 1, "b", "d/train.csv", NULL, "h1", 30, true, false);
            add(&w, 2, "v", "m/model.bin", "x", "h2", 10, true, false);
            link(&w, 1, 2, true);
            run(&w);
            ASSERT_STR_EQ(fate(&w, 2), "marker");
            ASSERT_STR_EQ(fate(&w, 1), mode ? "delete" : "protect");
            world_free(&w);
        }
    }

    CASE("a cycle in the declared lineage ends its waves") {
        world_new(&w, "version: 1\nrules:\n  - name: e\n    match: {bucket: b}\n"
                      "    expire_after: 1d\n");
        add(&w, 1, "b", "a", NULL, "h1", 30, true, false);
        add(&w, 2, "b", "c", NULL, "h2", 20, true, false);
        link(&w, 1, 2, true);
        link(&w, 2, 1, true);
        run(&w);
        ASSERT(by(&w, 1)->wave <= 64 && by(&w, 2)->wave <= 64);
        ASSERT_STR_EQ(fate(&w, 1), "delete");
        world_free(&w);
    }
    TEST_DONE();
}
