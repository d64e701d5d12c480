/*
 * What the files of mlflow/ share:
 *
 *   client.c  the tracking server's REST API; where an MLflow URI's files are
 *   sync.c    `artifact-watch mlflow sync`: runs, logged models and the
 *             registry into aw.mlflow_*, each run's datasets into lineage
 */
#ifndef AW_MLFLOW_INTERNAL_H
#define AW_MLFLOW_INTERNAL_H

#include <jansson.h>
#include <stddef.h>

#include "aw/config.h"
#include "aw/mlflow.h"

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

/* Where uri's files are (see aw_mlflow_resolve). */
int mlf_locate(mlf_client *c, const char *uri, char **bucket, char **prefix, char *errstr,
               size_t n) AW_WUR;

#endif
