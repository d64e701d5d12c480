/*
 * MLflow: `artifact-watch mlflow sync` (the tracking server's runs, logged
 * models and registry into the index), and the resolution of MLflow's model
 * and run URIs to where their files are, for verify.
 */
#ifndef AW_MLFLOW_H
#define AW_MLFLOW_H

#include <stdbool.h>
#include <stddef.h>

#include "aw/config.h"
#include "aw/err.h"

/* `artifact-watch mlflow sync [--once]`: 0, 1 (a service failed), 2 (settings). */
int aw_cmd_mlflow(aw_config *cfg);

/* Whether uri is one of MLflow's: models:/NAME@ALIAS, models:/NAME/VERSION,
 * models:/m-ID, runs:/RUN_ID/PATH. */
bool aw_mlflow_uri(const char *uri);

/*
 * Where the files of an MLflow URI are, asked of the tracking server:
 * *bucket and *prefix (malloc'd; prefix ends in '/' for a folder, or names
 * one file). AW_ENOTFOUND when the server knows no such model, alias or
 * run; AW_EUNAVAILABLE when it cannot be asked; AW_EINVAL for a URI that is
 * not one of MLflow's or a place outside an S3 store. errstr says which.
 */
int aw_mlflow_resolve(const aw_config *cfg, const char *uri, char **bucket, char **prefix,
                      char *errstr, size_t errstr_size) AW_WUR;

#endif
