/*
 * What the planner's two files share (planner.c reads the index and writes
 * the plan; select.c applies the rules and protects lineage). Private to
 * policy/.
 */
#ifndef AW_PLANNER_H
#define AW_PLANNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "internal.h"

enum { NONE = -1 };
enum { K_DELETE = 1, K_MARKER };

/* One version of a key in the rules' buckets. */
typedef struct ver {
    const char *store, *bucket, *key, *version_id, *seq_key, *sha256, *etag, *last_modified;
    int64_t id, size, vt, since; /* size -1: unknown; times in microseconds */
    int32_t store_ix, bucket_ix; /* in planner.stores, planner.buckets */
    int32_t keygrp;              /* the same for the versions of one key, adjacent */
    int32_t folder;              /* index in artifacts, NONE outside one */
    int32_t next_in_folder;
    int32_t del_rule, keep_rule, prot_rule;
    int64_t del_rank, keep_rank;
    int32_t lin_edge, lin_level; /* lineage: the edge whose child it is an input of */
    int32_t wave;                /* to be deleted after every doomed version made from it:
                                    0 for those nothing doomed was made from */
    bool live, current;
    bool erased;                 /* a version the store deleted by its id: never current */
    bool ml_registered;          /* mlflow: a registered model version's file */
    const char *ml_aliases;      /* mlflow: its versions' aliases, "{a,b}", or NULL */
    const char *ml_lifecycle;    /* mlflow: its run's lifecycle, or NULL */
    uint8_t del_kind;
} ver;

/* An artifact folder (aw.artifacts) in the rules' buckets. */
typedef struct art {
    const char *store, *bucket, *folder, *name, *version;
    size_t folder_len;
    long long vkey[AW_VERSION_KEY_MAX];
    size_t nvkey;
    int32_t first;               /* first live version in the folder */
    /* per keep_last rule, while it runs */
    int32_t stamp;
    int64_t newest;
} art;

typedef struct edge {
    int64_t parent, child;
    const char *child_bucket, *child_key;
    bool child_live;
} edge;

typedef struct planner {
    const aw_rules *rs;
    arena *mem;                  /* the plan's: strings that outlive the planner */
    int64_t now;
    const char **buckets;        /* the rules' buckets present in the index, sorted */
    const char **stores;         /* the stores seen, in order of appearance */
    size_t nstores, capstores;
    size_t nbuckets;
    ver *v;
    size_t nv, capv;
    art *a;
    size_t na, capa;
    unsigned char *md;           /* na x number of metadata rules: does it match */
    size_t nmd;
    int32_t *md_ix;              /* rule -> its column in md, NONE */
    edge *e;
    size_t ne, cape;
    char *err;
    size_t errn;
} planner;

/* Makes room for element n of an array of cap elements. AW_ENOMEM. */
int planner_grow(void **p, size_t *cap, size_t n, size_t size) AW_WUR;

/* Step 1 (planner.c): the versions and folders loaded, sorted by key newest
 * first; each version's current and since set; what can never be planned
 * (not live, or overwritten in an unversioned bucket) dropped; folders
 * linked to their versions. pl->a must be loaded too. */
void planner_settle(planner *pl);

/* Step 2: every rule, in file order, selects, keeps and protects. AW_ENOMEM. */
int select_rules(planner *pl) AW_WUR;

/* To be deleted, and nothing saves it (yet). */
bool select_doomed(const ver *v);

/* Step 3: the inputs of what stays are protected. AW_ENOMEM. */
int select_lineage(planner *pl) AW_WUR;

/* Step 4: the wave of each version still to be deleted: one more than the
 * highest wave of the doomed versions made from it, so that carried out
 * wave by wave, children go before their inputs. After select_lineage. */
void select_waves(planner *pl);

#endif
