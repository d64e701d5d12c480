/*
 * What the files of mlflow/ share:
 *
 *   client.c  the tracking server's REST API; where an MLflow URI's files are
 *   sync.c      `artifact-watch mlflow sync`: runs and logged models into
 *               aw.mlflow_*, each run's datasets into lineage
 *   registry.c  the registry's versions, aliases and places, for sync
 */
#ifndef AW_MLFLOW_INTERNAL_H
#define AW_MLFLOW_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "aw/config.h"
#include "aw/indexer.h"
#include "aw/mlflow.h"
#include "aw/pg.h"

typedef struct mlf_client {
    const aw_config *cfg;
    char base[1024];   /* the server's URL, no trailing '/' */
    char auth[1024];   /* "Authorization: ..." or "" */
} mlf_client;

/* The client of cfg's tracking server; AW_ECONFIG with why. */
int mlf_open(const aw_config *cfg, mlf_client *c, char *errstr, size_t n) AW_WUR;

/* One call: method "GET" (query after '?') or "POST" (body JSON) on
 * /api/2.0/mlflow/<path>; *out is the answer (an object, the caller's).
 * AW_ENOTFOUND (404, RESOURCE_DOES_NOT_EXIST), AW_EUNAVAILABLE (no answer,
 * 5xx, 429), AW_ECONFIG (401, 403), AW_EINVAL (other refusals), with the
 * server's error_code and message in errstr. */
int mlf_call(mlf_client *c, const char *method, const char *path, const char *query,
             json_t *body, json_t **out, char *errstr, size_t n) AW_WUR;

/* Whether uri names a place mlf_locate can read: s3://, s3a://,
 * mlflow-artifacts:, models:/ or runs:/. */
bool mlf_readable(const char *uri);
/* Where uri's files are (see aw_mlflow_resolve). */
int mlf_locate(mlf_client *c, const char *uri, char **bucket, char **prefix, char *errstr,
               size_t n) AW_WUR;

/* One pass of `mlflow sync`: its connections and what it counted. */
typedef struct syncer {
    const aw_config *cfg;
    mlf_client c;
    aw_pg *pg;
    aw_indexer *ix;
    int runs, models, versions, elsewhere, unplaced, linked;
} syncer;

/* What to do with one page of a search's results. */
typedef int (*page_fn)(syncer *s, json_t *items, char *err, size_t n);

/* A string member, "" when absent. */
const char *mlf_str(json_t *o, const char *k);
/* Every page of a search (page_token until next_page_token is empty): each
 * page to fn when there is one, else into acc. A GET search takes its
 * arguments in query. */
int mlf_search_all(syncer *s, const char *method, const char *path, json_t *body,
                   const char *query, const char *list, json_t *acc, page_fn fn, char *err,
                   size_t n) AW_WUR;
/* Writes a JSON array of rows with one statement that reads it as $1. */
int mlf_write_rows(syncer *s, const char *sql, json_t *rows, char *err, size_t n) AW_WUR;
/* The registry replaced as one when it was read whole (registry.c). */
int mlf_sync_registry(syncer *s, char *err, size_t n) AW_WUR;

#endif
