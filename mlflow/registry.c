/*
 * The model registry, for `mlflow sync`: every registered version with its
 * aliases and the folder its files are in, read whole (twice: MLflow pages
 * by offset) and written as one, with the record of a complete read
 * (aw.mlflow_sync) that retention's mlflow: predicates ask for.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aw/daemon.h"
#include "aw/log.h"
#include "aw/pg.h"
#include "internal.h"

#define LOG "mlflow"

static const char *const versions_sql =
    "INSERT INTO aw.mlflow_model_versions (name, version, run_id, model_id, source,"
    "  storage_location, bucket, prefix, aliases, stage, status, fetched_at)"
    " SELECT x.name, x.version, NULLIF(x.run_id, ''), x.model_id, x.source, x.storage_location,"
    "  x.bucket, x.prefix, COALESCE(ARRAY(SELECT jsonb_array_elements_text(x.aliases)), '{}'),"
    "  x.stage, x.status, now()"
    " FROM jsonb_to_recordset($1::jsonb) AS x(name text, version text, run_id text,"
    "  model_id text, source text, storage_location text, bucket text, prefix text,"
    "  aliases jsonb, stage text, status text)";

/* The aliases of every registered model, by "name/version". */
static int registry_aliases(syncer *s, json_t *by_version, char *err, size_t n) {
    json_t *rms = json_array();
    int rc = mlf_search_all(s, "GET", "registered-models/search", NULL, "max_results=1000",
                        "registered_models", rms, NULL, err, n);
    size_t i, j;
    json_t *rm, *al;
    json_array_foreach(rms, i, rm) json_array_foreach(json_object_get(rm, "aliases"), j, al) {
        char k[1200];
        snprintf(k, sizeof k, "%s/%s", mlf_str(rm, "name"), mlf_str(al, "version"));
        json_t *list = json_object_get(by_version, k);
        if (!list) {
            list = json_array();
            json_object_set_new(by_version, k, list);
        }
        json_array_append_new(list, json_string(mlf_str(al, "alias")));
    }
    json_decref(rms);
    return rc;
}

/* Where the registry put a version when it was last placed: its previous
 * row's bucket and folder, or none. */
static int placed_before(syncer *s, json_t *mv, char **bucket, char **folder, char *err,
                         size_t n) {
    const char *p[2] = {mlf_str(mv, "name"), mlf_str(mv, "version")};
    aw_pg_result *r = NULL;
    int rc = aw_pg_query(s->pg, "SELECT bucket, prefix FROM aw.mlflow_model_versions"
                                " WHERE name = $1 AND version = $2 AND bucket IS NOT NULL",
                         2, p, &r, err, n);
    if (rc == AW_OK && aw_pg_result_rows(r) == 1) {
        *bucket = strdup(aw_pg_result_get(r, 0, 0));
        *folder = strdup(aw_pg_result_get(r, 0, 1));
        if (!*bucket || !*folder)
            rc = AW_ENOMEM;
    }
    aw_pg_result_free(r);
    return rc;
}

/* Where a registered version's files are: a folder of a bucket, or
 * nowhere artifact-watch reads (*bucket NULL, AW_OK) for a place of another
 * kind (file:, dbfs:, gs:, ...). A place the server no longer knows (a run
 * or logged model deleted since) keeps where it was placed before; a server
 * that does not answer is asked again, then fails the pass, as does a place
 * that would be a whole bucket: retention must not take a version it could
 * not place for one that protects nothing. */
static int version_folder(syncer *s, json_t *mv, char **bucket, char **folder, char *err,
                          size_t n) {
    const char *place = json_string_value(json_object_get(mv, "storage_location"));
    if (!place || !*place)
        place = mlf_str(mv, "source");
    *bucket = *folder = NULL;
    if (!mlf_readable(place)) {
        s->elsewhere++;
        return AW_OK;
    }
    char *prefix = NULL, why[512];
    int rc = AW_EUNAVAILABLE;
    for (int try = 0; rc == AW_EUNAVAILABLE && try < 3 && !aw_stop; try++) {
        if (try)
            aw_nap(1000 * try);
        rc = mlf_locate(&s->c, place, bucket, &prefix, why, sizeof why);
    }
    if (rc == AW_ENOTFOUND) {
        AW_WARN(LOG, "model %s version %s: %s; it keeps the place it had", mlf_str(mv, "name"),
                mlf_str(mv, "version"), why);
        s->unplaced++;
        return placed_before(s, mv, bucket, folder, err, n);
    }
    if (rc == AW_OK && (!prefix || !*prefix)) {
        snprintf(why, sizeof why, "its files would be the whole bucket %s", *bucket);
        rc = AW_EPARSE;
    }
    size_t pl = rc == AW_OK ? strlen(prefix) : 0;
    if (rc == AW_OK && !(*folder = malloc(pl + 2)))
        rc = AW_ENOMEM;
    if (rc == AW_OK) /* a version's files are a folder */
        snprintf(*folder, pl + 2, "%s%s", prefix, prefix[pl - 1] != '/' ? "/" : "");
    else if (rc != AW_ENOMEM)
        snprintf(err, n, "model %s version %s: its files are not found in a store (%s); the "
                         "registry as read before stays", mlf_str(mv, "name"), mlf_str(mv, "version"),
                 why);
    free(prefix);
    if (rc != AW_OK) {
        free(*bucket);
        *bucket = NULL;
    }
    return rc;
}

static json_t *version_row(json_t *mv, json_t *aliases, const char *bucket, const char *folder) {
    const char *model_id = json_string_value(json_object_get(mv, "model_id"));
    if (!model_id && !strncmp(mlf_str(mv, "source"), "models:/m-", 10))
        model_id = mlf_str(mv, "source") + 8; /* MLflow 3 registers a logged model */
    json_t *none = json_array();
    json_t *row = json_pack(
        "{s:s, s:s, s:s, s:s?, s:s, s:s?, s:s?, s:s?, s:O, s:s, s:s}", "name", mlf_str(mv, "name"),
        "version", mlf_str(mv, "version"), "run_id", mlf_str(mv, "run_id"), "model_id", model_id,
        "source", mlf_str(mv, "source"),
        "storage_location", json_string_value(json_object_get(mv, "storage_location")),
        "bucket", bucket, "prefix", folder, "aliases", json_is_array(aliases) ? aliases : none,
        "stage", mlf_str(mv, "current_stage"), "status", mlf_str(mv, "status"));
    json_decref(none);
    return row;
}

/* The registry replaced as one, with the record of a complete read. */
static const char *const sync_state_sql =
    "INSERT INTO aw.mlflow_sync (synced_at, runs, logged_models, versions, elsewhere)"
    " VALUES (now(), $1, $2, $3, $4) ON CONFLICT (one) DO UPDATE SET synced_at = now(),"
    "  runs = excluded.runs, logged_models = excluded.logged_models,"
    "  versions = excluded.versions, elsewhere = excluded.elsewhere";

static int replace_registry(syncer *s, json_t *rows, char *err, size_t n) {
    char a[4][16];
    snprintf(a[0], sizeof a[0], "%d", s->runs);
    snprintf(a[1], sizeof a[1], "%d", s->models);
    snprintf(a[2], sizeof a[2], "%d", s->versions);
    snprintf(a[3], sizeof a[3], "%d", s->elsewhere);
    const char *p[4] = {a[0], a[1], a[2], a[3]};
    int rc = aw_pg_exec_script(s->pg, "BEGIN; DELETE FROM aw.mlflow_model_versions", err, n);
    if (rc == AW_OK)
        rc = mlf_write_rows(s, versions_sql, rows, err, n);
    if (rc == AW_OK)
        rc = aw_pg_query(s->pg, sync_state_sql, 4, p, NULL, err, n);
    if (rc == AW_OK)
        rc = aw_pg_exec_script(s->pg, "COMMIT", err, n);
    else
        aw_pg_rollback(s->pg, rc);
    return rc;
}

/* The registered versions as a set of "name/version". */
static json_t *version_set(json_t *mvs) {
    json_t *set = json_object();
    size_t i;
    json_t *mv;
    json_array_foreach(mvs, i, mv) {
        char k[1200];
        snprintf(k, sizeof k, "%s/%s", mlf_str(mv, "name"), mlf_str(mv, "version"));
        json_object_set_new(set, k, json_true());
    }
    return set;
}

/* Every registered version, read twice: MLflow pages by offset, so a
 * version registered or deleted during the read can shift another across a
 * page and out of sight; two reads that agree saw the whole registry. */
static int read_versions(syncer *s, json_t *mvs, char *err, size_t n) {
    json_t *again = json_array();
    int rc = mlf_search_all(s, "GET", "model-versions/search", NULL, "max_results=1000",
                        "model_versions", mvs, NULL, err, n);
    if (rc == AW_OK)
        rc = mlf_search_all(s, "GET", "model-versions/search", NULL, "max_results=1000",
                        "model_versions", again, NULL, err, n);
    json_t *a = version_set(mvs), *b = version_set(again);
    if (rc == AW_OK && (json_object_size(a) != json_array_size(mvs) || !json_equal(a, b))) {
        snprintf(err, n, "the registry changed while it was read (%zu and %zu versions); the "
                         "registry as read before stays until the next pass",
                 json_array_size(mvs), json_array_size(again));
        rc = AW_EUNAVAILABLE;
    }
    json_decref(a);
    json_decref(b);
    json_decref(again);
    return rc;
}

/* Every registered model version, its aliases and where its files are;
 * the previous read stays unless this one is complete. */
int mlf_sync_registry(syncer *s, char *err, size_t n) {
    json_t *mvs = json_array(), *rows = json_array(), *by_version = json_object();
    int rc = registry_aliases(s, by_version, err, n);
    if (rc == AW_OK)
        rc = read_versions(s, mvs, err, n);
    size_t i;
    json_t *mv;
    json_array_foreach(mvs, i, mv) {
        char *bucket = NULL, *folder = NULL, k[1200];
        if (rc == AW_OK)
            rc = version_folder(s, mv, &bucket, &folder, err, n);
        snprintf(k, sizeof k, "%s/%s", mlf_str(mv, "name"), mlf_str(mv, "version"));
        if (rc == AW_OK && json_array_append_new(
                               rows, version_row(mv, json_object_get(by_version, k), bucket,
                                                 folder)))
            rc = AW_ENOMEM;
        free(bucket);
        free(folder);
    }
    s->versions = (int)json_array_size(rows);
    if (rc == AW_OK)
        rc = replace_registry(s, rows, err, n);
    json_decref(mvs);
    json_decref(rows);
    json_decref(by_version);
    return rc;
}
