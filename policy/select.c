/*
 * The planner's decisions (see planner.c for the steps): the rules, one
 * after another, over the versions sorted by key; then lineage, level by
 * level up the edges.
 */
#include <stdlib.h>
#include <string.h>

#include "planner.h"

/* ---- rules */

/* A text[] as COPY writes it ("{a,b}", elements quoted when they must be):
 * whether one element matches glob. */
static bool any_alias(const char *arr, const char *glob) {
    if (!arr || arr[0] != '{')
        return false;
    char one[512];
    const char *p = arr + 1;
    while (*p && *p != '}') {
        size_t l = 0;
        if (*p == '"') {
            for (p++; *p && *p != '"'; p++) {
                if (*p == '\\' && p[1])
                    p++;
                if (l + 1 < sizeof one)
                    one[l++] = *p;
            }
            p += *p == '"';
        } else {
            for (; *p && *p != ',' && *p != '}'; p++)
                if (l + 1 < sizeof one)
                    one[l++] = *p;
        }
        one[l] = '\0';
        if (aw_glob_match(glob, one, false))
            return true;
        p += *p == ',';
    }
    return false;
}

/* The rule's mlflow: predicates, all of them. */
static bool mlflow_matches(const aw_rule *r, const ver *v) {
    if (r->mlflow_registered >= 0 && v->ml_registered != (r->mlflow_registered == 1))
        return false;
    if (r->mlflow_alias && !any_alias(v->ml_aliases, r->mlflow_alias))
        return false;
    if (r->mlflow_lifecycle && (!v->ml_lifecycle || strcmp(v->ml_lifecycle, r->mlflow_lifecycle)))
        return false;
    return true;
}

static bool matches(const planner *pl, const aw_rule *r, size_t ri, const bool *in_bucket,
                    const ver *v) {
    if (v->bucket_ix == NONE || !in_bucket[v->bucket_ix])
        return false;
    if (r->prefix && strncmp(v->key, r->prefix, strlen(r->prefix)))
        return false;
    if (r->store && strcmp(v->store, r->store))
        return false;
    if (r->min_size >= 0 && (v->size < 0 || v->size < r->min_size))
        return false;
    if (r->max_size >= 0 && (v->size < 0 || v->size > r->max_size))
        return false;
    if (r->older_than_s >= 0 && r->action != AW_RULE_KEEP_LAST &&
        !(pl->now - v->vt > r->older_than_s * 1000000))
        return false;
    if (r->artifact || r->nmetadata) {
        if (v->folder == NONE)
            return false;
        const art *a = &pl->a[v->folder];
        if (r->artifact && (!a->name || !aw_glob_match(r->artifact, a->name, false)))
            return false;
        if (r->nmetadata && !pl->md[(size_t)v->folder * pl->nmd + (size_t)pl->md_ix[ri]])
            return false;
    }
    if (r->glob && !aw_glob_match(r->glob, v->key, true))
        return false;
    return mlflow_matches(r, v);
}

static void select_delete(ver *v, int32_t rule, uint8_t kind, int64_t rank) {
    if (v->del_rule != NONE)
        return;
    v->del_rule = rule;
    v->del_kind = kind;
    v->del_rank = rank;
}

static void select_keep(ver *v, int32_t rule, int64_t rank) {
    if (v->keep_rule != NONE)
        return;
    v->keep_rule = rule;
    v->keep_rank = rank;
}

static const planner *sort_pl; /* qsort has no user pointer in C11; one planner at a time */

/* Folders of one artifact name, newest version first. */
static int cmp_folder_rank(const void *pa, const void *pb) {
    const art *a = &sort_pl->a[*(const int32_t *)pa], *b = &sort_pl->a[*(const int32_t *)pb];
    int c = strcmp(a->store, b->store);
    if (!c)
        c = strcmp(a->bucket, b->bucket);
    if (!c)
        c = strcmp(a->name, b->name);
    if (!c && (a->nvkey || b->nvkey))
        c = !a->nvkey ? 1 : !b->nvkey ? -1 : -aw_version_cmp(a->vkey, a->nvkey, b->vkey, b->nvkey);
    if (!c && a->newest != b->newest)
        c = a->newest < b->newest ? 1 : -1;
    return c ? c : -strcmp(a->folder, b->folder);
}

static int rule_keep_artifacts(planner *pl, const aw_rule *r, int32_t ri, const bool *in_bucket) {
    int32_t *fs = NULL;
    size_t nf = 0, cap = 0;
    for (size_t i = 0; i < pl->nv; i++) {
        ver *v = &pl->v[i];
        if (!matches(pl, r, (size_t)ri, in_bucket, v) || v->folder == NONE ||
            !pl->a[v->folder].name)
            continue;
        art *a = &pl->a[v->folder];
        if (a->stamp != ri) {
            if (planner_grow((void **)&fs, &cap, nf, sizeof *fs) != AW_OK) {
                free(fs);
                return AW_ENOMEM;
            }
            fs[nf++] = v->folder;
            a->stamp = ri;
            a->newest = v->vt;
        } else if (v->vt > a->newest) {
            a->newest = v->vt;
        }
    }
    sort_pl = pl;
    psort(fs, nf, sizeof *fs, cmp_folder_rank);
    int64_t rank = 0;
    for (size_t k = 0; k < nf; k++) {
        art *a = &pl->a[fs[k]];
        const art *prev = k ? &pl->a[fs[k - 1]] : NULL;
        rank = prev && !strcmp(prev->store, a->store) && !strcmp(prev->bucket, a->bucket) &&
                       !strcmp(prev->name, a->name)
                   ? rank + 1
                   : 1;
        bool keep = rank <= r->count;
        if (!keep && r->older_than_s >= 0 && !(pl->now - a->newest > r->older_than_s * 1000000))
            continue;
        /* every live object of the folder goes with it, matched or not */
        for (int32_t i = a->first; i != NONE; i = pl->v[i].next_in_folder) {
            ver *v = &pl->v[i];
            if (keep)
                select_keep(v, ri, rank);
            else if (v->version_id || v->current)
                select_delete(v, ri, K_DELETE, rank);
        }
    }
    free(fs);
    return AW_OK;
}

static int cmp_newest_ver(const void *pa, const void *pb) {
    const ver *a = &sort_pl->v[*(const int32_t *)pa], *b = &sort_pl->v[*(const int32_t *)pb];
    if (a->vt != b->vt)
        return a->vt < b->vt ? 1 : -1;
    return (a->id < b->id) - (a->id > b->id);
}

static int cmp_since_ver(const void *pa, const void *pb) {
    const ver *a = &sort_pl->v[*(const int32_t *)pa], *b = &sort_pl->v[*(const int32_t *)pb];
    if (a->since != b->since)
        return a->since < b->since ? 1 : -1;
    return (a->id < b->id) - (a->id > b->id);
}

/* keep_last without artifact, and noncurrent_expire_after: both rank the
 * matched versions of each key. */
static int rule_per_key(planner *pl, const aw_rule *r, int32_t ri, const bool *in_bucket) {
    int32_t *g = NULL;
    size_t cap = 0;
    for (size_t i = 0; i < pl->nv;) {
        size_t j, ng = 0;
        /* the versions of one key are adjacent */
        for (j = i + 1; j < pl->nv && pl->v[j].keygrp == pl->v[i].keygrp; j++)
            ;
        for (size_t k = i; k < j; k++) {
            ver *v = &pl->v[k];
            if (!matches(pl, r, (size_t)ri, in_bucket, v))
                continue;
            if (r->action == AW_RULE_NONCURRENT && (v->current || !v->version_id))
                continue;
            if (planner_grow((void **)&g, &cap, ng, sizeof *g) != AW_OK) {
                free(g);
                return AW_ENOMEM;
            }
            g[ng++] = (int32_t)k;
        }
        sort_pl = pl;
        if (ng > 1)
            psort(g, ng, sizeof *g,
                  r->action == AW_RULE_NONCURRENT ? cmp_since_ver : cmp_newest_ver);
        for (size_t k = 0; k < ng; k++) {
            ver *v = &pl->v[g[k]];
            int64_t rank = (int64_t)k + 1;
            if (r->action == AW_RULE_NONCURRENT) {
                if (pl->now - v->since > r->after_s * 1000000 && rank > r->count)
                    select_delete(v, ri, K_DELETE, rank);
            } else if (rank <= r->count) {
                select_keep(v, ri, rank);
            } else if (r->older_than_s < 0 || pl->now - v->vt > r->older_than_s * 1000000) {
                select_delete(v, ri, K_DELETE, rank);
            }
        }
        i = j;
    }
    free(g);
    return AW_OK;
}

int select_rules(planner *pl) {
    bool *in_bucket = calloc(pl->nbuckets + 1, sizeof *in_bucket);
    if (!in_bucket)
        return AW_ENOMEM;
    int rc = AW_OK;
    for (size_t ri = 0; rc == AW_OK && ri < pl->rs->n; ri++) {
        const aw_rule *r = &pl->rs->v[ri];
        for (size_t b = 0; b < pl->nbuckets; b++)
            in_bucket[b] = aw_glob_match(r->bucket, pl->buckets[b], false);
        switch (r->action) {
        case AW_RULE_PROTECT:
            for (size_t i = 0; i < pl->nv; i++)
                if (pl->v[i].prot_rule == NONE && matches(pl, r, ri, in_bucket, &pl->v[i]))
                    pl->v[i].prot_rule = (int32_t)ri;
            break;
        case AW_RULE_EXPIRE:
            for (size_t i = 0; i < pl->nv; i++) {
                ver *v = &pl->v[i];
                if (v->current && pl->now - v->vt > r->after_s * 1000000 &&
                    matches(pl, r, ri, in_bucket, v))
                    select_delete(v, (int32_t)ri, v->version_id ? K_MARKER : K_DELETE, 0);
            }
            break;
        case AW_RULE_KEEP_LAST:
            rc = r->artifact ? rule_keep_artifacts(pl, r, (int32_t)ri, in_bucket)
                             : rule_per_key(pl, r, (int32_t)ri, in_bucket);
            break;
        case AW_RULE_NONCURRENT:
            rc = rule_per_key(pl, r, (int32_t)ri, in_bucket);
            break;
        }
    }
    free(in_bucket);
    return rc;
}

/* ---- lineage */

bool select_doomed(const ver *v) {
    return v->del_rule != NONE && v->prot_rule == NONE && v->keep_rule == NONE;
}

typedef struct id_ix {
    int64_t id;
    int32_t ix;
} id_ix;

static int cmp_id_ix(const void *a, const void *b) {
    int64_t x = ((const id_ix *)a)->id, y = ((const id_ix *)b)->id;
    return (x > y) - (x < y);
}

static int32_t by_id(const id_ix *ids, size_t n, int64_t id) {
    id_ix k = {id, 0};
    const id_ix *f = bsearch(&k, ids, n, sizeof *ids, cmp_id_ix);
    return f ? f->ix : NONE;
}

static int cmp_edge_child(const void *a, const void *b) {
    const edge *x = a, *y = b;
    if (x->child != y->child)
        return x->child < y->child ? -1 : 1;
    return (x->parent > y->parent) - (x->parent < y->parent);
}

/* Step 3. Level 0: versions to be deleted that a live version outside the
 * deletions was made from (its root, the one with the lowest id); then the
 * inputs of each level, as long as they were to be deleted too. */
int select_lineage(planner *pl) {
    id_ix *ids = malloc((pl->nv + 1) * sizeof *ids);
    int32_t *front = malloc((pl->nv + 1) * sizeof *front), *nextf = NULL;
    if (!ids || !front) {
        free(ids);
        free(front);
        return AW_ENOMEM;
    }
    for (size_t i = 0; i < pl->nv; i++)
        ids[i] = (id_ix){pl->v[i].id, (int32_t)i};
    psort(ids, pl->nv, sizeof *ids, cmp_id_ix);
    psort(pl->e, pl->ne, sizeof *pl->e, cmp_edge_child);
    size_t nfront = 0;
    for (size_t k = 0; k < pl->ne; k++) {
        const edge *e = &pl->e[k];
        int32_t p = by_id(ids, pl->nv, e->parent);
        if (p == NONE || !select_doomed(&pl->v[p]) || !e->child_live)
            continue;
        /* a child going away protects nothing; one hidden under a delete
         * marker keeps its bytes, and protects unless only current
         * versions do (protect_lineage: current) */
        int32_t c = by_id(ids, pl->nv, e->child);
        if (c != NONE && select_doomed(&pl->v[c]) &&
            (pl->v[c].del_kind == K_DELETE || pl->rs->lineage_current))
            continue;
        ver *pv = &pl->v[p];
        if (pv->lin_level == NONE) {
            pv->lin_level = 0;
            pv->lin_edge = (int32_t)k;
            front[nfront++] = p;
        } else if (pl->e[pv->lin_edge].child > e->child) {
            pv->lin_edge = (int32_t)k;
        }
    }
    nextf = malloc((pl->nv + 1) * sizeof *nextf);
    if (!nextf) {
        free(ids);
        free(front);
        return AW_ENOMEM;
    }
    for (int32_t level = 0; nfront; level++) {
        size_t nn = 0;
        for (size_t f = 0; f < nfront; f++) {
            const ver *cv = &pl->v[front[f]];
            /* the edges whose child is this version: a run in the sorted edges */
            size_t lo = 0, hi = pl->ne;
            while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                if (pl->e[mid].child < cv->id)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            for (size_t k = lo; k < pl->ne && pl->e[k].child == cv->id; k++) {
                int32_t p = by_id(ids, pl->nv, pl->e[k].parent);
                if (p == NONE || !select_doomed(&pl->v[p]))
                    continue;
                ver *pv = &pl->v[p];
                if (pv->lin_level == NONE) {
                    pv->lin_level = level + 1;
                    pv->lin_edge = cv->lin_edge;
                    nextf[nn++] = p;
                } else if (pv->lin_level == level + 1 &&
                           pl->e[pv->lin_edge].child > pl->e[cv->lin_edge].child) {
                    pv->lin_edge = cv->lin_edge;
                }
            }
        }
        int32_t *t = front;
        front = nextf;
        nextf = t;
        nfront = nn;
    }
    free(ids);
    free(front);
    free(nextf);
    return AW_OK;
}

/* Bellman-Ford on the doomed edges, longest path: each pass raises a parent
 * to one above its children; a chain of n edges settles in n passes. A
 * cycle in the declared lineage would never settle: waves stop at MAX_WAVE,
 * which costs order, never safety (apply checks each input's children just
 * before it deletes it). */
#define MAX_WAVE 64

void select_waves(planner *pl) {
    if (!pl->ne)
        return;
    id_ix *ids = malloc((pl->nv + 1) * sizeof *ids);
    if (!ids)
        return; /* waves are an order, not a guarantee: all 0 is still safe */
    for (size_t i = 0; i < pl->nv; i++) {
        ids[i] = (id_ix){pl->v[i].id, (int32_t)i};
        pl->v[i].wave = 0;
    }
    psort(ids, pl->nv, sizeof *ids, cmp_id_ix);
    for (int pass = 0; pass < MAX_WAVE; pass++) {
        bool changed = false;
        for (size_t k = 0; k < pl->ne; k++) {
            int32_t p = by_id(ids, pl->nv, pl->e[k].parent), c = by_id(ids, pl->nv, pl->e[k].child);
            if (p == NONE || c == NONE || p == c || !select_doomed(&pl->v[p]) ||
                !select_doomed(&pl->v[c]) || pl->v[p].wave > pl->v[c].wave ||
                pl->v[c].wave >= MAX_WAVE)
                continue;
            pl->v[p].wave = pl->v[c].wave + 1;
            changed = true;
        }
        if (!changed)
            break;
    }
    free(ids);
}
