/*
 * The order the selection works in (planner_settle): versions by store,
 * bucket, key and age, each tied to its artifact folder; folders by store,
 * bucket and path. No database: the unit tests settle versions made in
 * memory.
 */
#include <stdlib.h>
#include <string.h>

#include "planner.h"

static int cmp_null_desc(const char *a, const char *b) {
    if (!a || !b)
        return (a == NULL) - (b == NULL); /* NULLs last */
    return -strcmp(a, b);
}

/* (store, bucket, key), then newest first: sequencer, time, id. */
static int cmp_ver(const void *pa, const void *pb) {
    const ver *a = pa, *b = pb;
    int c = a->store_ix != b->store_ix ? (a->store_ix < b->store_ix ? -1 : 1)
          : a->bucket_ix != b->bucket_ix ? (a->bucket_ix < b->bucket_ix ? -1 : 1)
          : strcmp(a->key, b->key);
    if (!c)
        c = cmp_null_desc(a->seq_key, b->seq_key);
    if (!c)
        c = a->vt != b->vt ? (a->vt < b->vt ? 1 : -1) : (a->id < b->id) - (a->id > b->id);
    return c;
}

static int cmp_art(const void *pa, const void *pb) {
    const art *a = pa, *b = pb;
    int c = strcmp(a->store, b->store);
    if (!c)
        c = strcmp(a->bucket, b->bucket);
    return c ? c : strcmp(a->folder, b->folder);
}

/* The artifact folder holding key (its dirname, '/' included), NONE. */
static int32_t find_folder(const planner *pl, const ver *v) {
    const char *slash = strrchr(v->key, '/');
    if (!slash)
        return NONE;
    size_t fl = (size_t)(slash - v->key) + 1;
    size_t lo = 0, hi = pl->na;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const art *a = &pl->a[mid];
        int c = strcmp(a->store, v->store);
        if (!c)
            c = strcmp(a->bucket, v->bucket);
        if (!c) {
            c = strncmp(a->folder, v->key, fl < a->folder_len ? fl : a->folder_len);
            if (!c)
                c = (a->folder_len > fl) - (a->folder_len < fl);
        }
        if (!c)
            return (int32_t)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NONE;
}

/* Step 1: current, since, live; the rest dropped; folders linked. The
 * current version of a versioned key is its newest that the store still
 * holds: a version deleted by its id (a rollback, a keep_last) leaves the
 * one below it current; a delete marker does not. */
void planner_settle(planner *pl) {
    psort(pl->v, pl->nv, sizeof *pl->v, cmp_ver);
    psort(pl->a, pl->na, sizeof *pl->a, cmp_art);
    /* the metadata bitmap follows its artifacts: rebuilt in their new order */
    size_t w = 0;
    int32_t grp = 0;
    bool had_current = false;
    for (size_t i = 0; i < pl->nv; i++) {
        ver *v = &pl->v[i];
        const ver *u = i ? &pl->v[i - 1] : NULL;
        bool first = !u || v->bucket_ix != u->bucket_ix || v->store_ix != u->store_ix ||
                     strcmp(v->key, u->key);
        grp += first;
        v->keygrp = grp;
        had_current = first ? false : had_current;
        v->current = !had_current && !v->erased;
        had_current = had_current || v->current;
        v->since = first ? 0 : pl->v[i - 1].vt;
        if (!v->live || !(first || v->version_id))
            continue;
        pl->v[w++] = *v;
    }
    pl->nv = w;
    for (size_t i = pl->nv; i-- > 0;) {
        ver *v = &pl->v[i];
        v->folder = find_folder(pl, v);
        if (v->folder != NONE) {
            v->next_in_folder = pl->a[v->folder].first;
            pl->a[v->folder].first = (int32_t)i;
        }
    }
}
