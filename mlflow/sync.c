/*
 * `artifact-watch mlflow sync`: reads what the tracking server knows and
 * the files cannot say. Runs (lifecycle, git commit, dataset inputs),
 * MLflow 3 logged models and every registered model version (aliases, and
 * where its files are) go to aw.mlflow_* (this part's tables); each run's
 * dataset inputs become lineage into the files of its models, written
 * through the indexer as an OpenLineage document whenever they change. A
 * server that is away delays this and nothing else: ingest never waits for
 * it. Runs every --every, and at once when ingest indexes an MLmodel
 * (NOTIFY aw_mlflow).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aw/codec.h"
#include "aw/daemon.h"
#include "aw/hash.h"
#include "aw/indexer.h"
#include "aw/log.h"
#include "aw/pg.h"
#include "internal.h"

#define LOG "mlflow"
#define MAX_PAGES 10000

const char *mlf_str(json_t *o, const char *k) {
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

/* Every page of a search, page_token until next_page_token is empty: each
 * page to fn when there is one (so memory holds one page), else into acc.
 * A GET search takes its arguments in query (page_token appended). */
int mlf_search_all(syncer *s, const char *method, const char *path, json_t *body,
                   const char *query, const char *list, json_t *acc, page_fn fn, char *err,
                   size_t n) {
    char token[1024] = "";
    for (int page = 0; page < MAX_PAGES; page++) {
        char q[2048] = "";
        if (!body) {
            size_t pos = (size_t)snprintf(q, sizeof q, "%s%s", query,
                                          token[0] ? "&page_token=" : "");
            if (token[0] && aw_uriencode(token, strlen(token), false, q, sizeof q, &pos)) {
                snprintf(err, n, "MLflow %s: a page token too long for a request", path);
                return AW_EINVAL;
            }
        } else if (token[0]) {
            json_object_set_new(body, "page_token", json_string(token));
        }
        json_t *r;
        int rc = mlf_call(&s->c, method, path, body ? NULL : q, body, &r, err, n);
        if (rc != AW_OK)
            return rc;
        json_t *items = json_object_get(r, list);
        if (json_is_array(items))
            rc = fn ? fn(s, items, err, n) : json_array_extend(acc, items) ? AW_ENOMEM : AW_OK;
        if (strlen(mlf_str(r, "next_page_token")) >= sizeof token) {
            snprintf(err, n, "MLflow %s: a page token longer than %zu bytes", path,
                     sizeof token - 1);
            rc = AW_EPARSE;
        }
        snprintf(token, sizeof token, "%s", mlf_str(r, "next_page_token"));
        json_decref(r);
        if (rc != AW_OK || !token[0])
            return rc;
    }
    snprintf(err, n, "MLflow %s: more than %d pages", path, MAX_PAGES);
    return AW_EPARSE;
}

/* A dataset's source as an object URI in the store, NULL when it is not
 * one: the source is JSON ({"uri": ...}, {"url": ...}, {"path": ...}) or a
 * plain URI; mlflow-artifacts:/ is read under the artifacts destination. */
static char *dataset_uri(syncer *s, const char *source) {
    json_error_t je;
    json_t *j = json_loads(source, 0, &je);
    const char *u = source;
    if (json_is_object(j)) {
        static const char *const keys[] = {"uri", "url", "path", "s3_uri", NULL};
        u = NULL;
        for (int i = 0; keys[i] && !u; i++)
            u = json_string_value(json_object_get(j, keys[i]));
    }
    char *bucket = NULL, *key = NULL, *out = NULL, err[256];
    if (u && (!strncmp(u, "s3", 2) || !strncmp(u, "mlflow-artifacts:", 17)) &&
        mlf_locate(&s->c, u, &bucket, &key, err, sizeof err) == AW_OK && *key) {
        size_t l = strlen(bucket) + strlen(key) + 7;
        if ((out = malloc(l)))
            snprintf(out, l, "s3://%s/%s", bucket, key);
    }
    free(bucket);
    free(key);
    json_decref(j);
    return out;
}

/* One run of runs/search as a row of aw.mlflow_runs. */
static json_t *run_row(syncer *s, json_t *run) {
    json_t *info = json_object_get(run, "info"), *tags = json_object_get(
                                                      json_object_get(run, "data"), "tags");
    const char *commit = NULL;
    size_t i;
    json_t *t, *di;
    json_array_foreach(tags, i, t) if (!strcmp(mlf_str(t, "key"), "mlflow.source.git.commit"))
        commit = mlf_str(t, "value");
    json_t *datasets = json_array();
    json_array_foreach(json_object_get(json_object_get(run, "inputs"), "dataset_inputs"), i, di) {
        json_t *d = json_object_get(di, "dataset");
        char *uri = dataset_uri(s, mlf_str(d, "source"));
        json_array_append_new(datasets, json_pack("{s:s, s:s, s:s, s:s, s:s?}", "name",
                                                  mlf_str(d, "name"), "digest", mlf_str(d, "digest"),
                                                  "source_type", mlf_str(d, "source_type"), "source",
                                                  mlf_str(d, "source"), "uri", uri));
        free(uri);
    }
    /* a run still going has no end_time */
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s?, s:O?, s:O?, s:o}", "run_id",
                     mlf_str(info, "run_id"), "experiment_id", mlf_str(info, "experiment_id"), "run_name",
                     mlf_str(info, "run_name"), "status", mlf_str(info, "status"), "lifecycle_stage",
                     mlf_str(info, "lifecycle_stage"), "artifact_uri", mlf_str(info, "artifact_uri"),
                     "git_commit", commit, "start_time", json_object_get(info, "start_time"),
                     "end_time", json_object_get(info, "end_time"), "datasets", datasets);
}

/* Writes a JSON array of rows with one statement that reads it as $1. */
int mlf_write_rows(syncer *s, const char *sql, json_t *rows, char *err, size_t n) {
    char *text = json_dumps(rows, JSON_COMPACT);
    if (!text)
        return AW_ENOMEM;
    const char *p[1] = {text};
    int rc = aw_pg_query(s->pg, sql, 1, p, NULL, err, n);
    free(text);
    return rc;
}

static const char *const runs_sql =
    "INSERT INTO aw.mlflow_runs AS r (run_id, experiment_id, run_name, status, lifecycle_stage,"
    "  artifact_uri, git_commit, start_time, end_time, datasets, fetched_at)"
    " SELECT x.run_id, x.experiment_id, NULLIF(x.run_name, ''), x.status, x.lifecycle_stage,"
    "  NULLIF(x.artifact_uri, ''), x.git_commit, to_timestamp(x.start_time / 1000.0),"
    "  to_timestamp(x.end_time / 1000.0), COALESCE(x.datasets, '[]'), now()"
    " FROM jsonb_to_recordset($1::jsonb) AS x(run_id text, experiment_id text, run_name text,"
    "  status text, lifecycle_stage text, artifact_uri text, git_commit text, start_time bigint,"
    "  end_time bigint, datasets jsonb) WHERE x.run_id <> ''"
    " ON CONFLICT (run_id) DO UPDATE SET experiment_id = excluded.experiment_id,"
    "  run_name = excluded.run_name, status = excluded.status,"
    "  lifecycle_stage = excluded.lifecycle_stage, artifact_uri = excluded.artifact_uri,"
    "  git_commit = excluded.git_commit, start_time = excluded.start_time,"
    "  end_time = excluded.end_time, datasets = excluded.datasets, fetched_at = now()";

static const char *const models_sql =
    "INSERT INTO aw.mlflow_logged_models AS m (model_id, experiment_id, name, source_run_id,"
    "  artifact_uri, status, fetched_at)"
    " SELECT x.model_id, x.experiment_id, x.name, NULLIF(x.source_run_id, ''),"
    "  NULLIF(x.artifact_uri, ''), x.status, now()"
    " FROM jsonb_to_recordset($1::jsonb) AS x(model_id text, experiment_id text, name text,"
    "  source_run_id text, artifact_uri text, status text) WHERE x.model_id <> ''"
    " ON CONFLICT (model_id) DO UPDATE SET name = excluded.name,"
    "  source_run_id = excluded.source_run_id, artifact_uri = excluded.artifact_uri,"
    "  status = excluded.status, fetched_at = now()";

/* A search by experiment (runs, logged models): their ids a hundred at a
 * time, extra the rest of each request's body, each page to fn. */
static int search_experiments(syncer *s, const char *path, const char *list, json_t *ids,
                              json_t *extra, page_fn fn, char *err, size_t n) {
    int rc = AW_OK;
    for (size_t at = 0; rc == AW_OK && at < json_array_size(ids); at += 100) {
        json_t *body = json_deep_copy(extra), *chunk = json_array();
        for (size_t i = at; i < at + 100 && i < json_array_size(ids); i++)
            json_array_append(chunk, json_array_get(ids, i));
        rc = body && !json_object_set_new(body, "experiment_ids", chunk)
                 ? mlf_search_all(s, "POST", path, body, NULL, list, NULL, fn, err, n) : AW_ENOMEM;
        json_decref(body);
    }
    return rc;
}

/* One page of a search written as rows of sql, each item made a row by
 * row; count adds them. A row that could not be made is out of memory. */
static int write_page(syncer *s, json_t *items, json_t *(*row)(syncer *, json_t *),
                      const char *sql, int *count, char *err, size_t n) {
    json_t *rows = json_array();
    size_t i;
    json_t *x;
    json_array_foreach(items, i, x) json_array_append_new(rows, row(s, x));
    int rc = json_array_size(rows) == json_array_size(items) ? AW_OK : AW_ENOMEM;
    if (rc == AW_OK && json_array_size(rows))
        rc = mlf_write_rows(s, sql, rows, err, n);
    if (rc == AW_OK)
        *count += (int)json_array_size(rows);
    json_decref(rows);
    return rc;
}

static int runs_page(syncer *s, json_t *runs, char *err, size_t n) {
    return write_page(s, runs, run_row, runs_sql, &s->runs, err, n);
}

/* Runs of every experiment (deleted ones too). */
static int sync_runs(syncer *s, json_t *ids, char *err, size_t n) {
    json_t *extra = json_pack("{s:s, s:i}", "run_view_type", "ALL", "max_results", 1000);
    int rc = search_experiments(s, "runs/search", "runs", ids, extra, runs_page, err, n);
    json_decref(extra);
    return rc;
}

/* One logged model of logged-models/search as a row of aw.mlflow_logged_models. */
static json_t *model_row(syncer *s, json_t *m) {
    (void)s;
    json_t *info = json_object_get(m, "info");
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "model_id", mlf_str(info, "model_id"),
                     "experiment_id", mlf_str(info, "experiment_id"), "name",
                     mlf_str(info, "name"), "source_run_id", mlf_str(info, "source_run_id"),
                     "artifact_uri", mlf_str(info, "artifact_uri"), "status",
                     mlf_str(info, "status"));
}

static int models_page(syncer *s, json_t *models, char *err, size_t n) {
    return write_page(s, models, model_row, models_sql, &s->models, err, n);
}

/* MLflow 3's logged models; a server without them is not an error. */
static int sync_models(syncer *s, json_t *ids, char *err, size_t n) {
    json_t *extra = json_pack("{s:i}", "max_results", 100);
    int rc = search_experiments(s, "logged-models/search", "models", ids, extra, models_page,
                                err, n);
    json_decref(extra);
    return rc == AW_ENOTFOUND ? AW_OK : rc; /* MLflow 2: no logged models */
}

/* ------------------------------------------------------------ lineage */

/* Each run's dataset inputs and the files of its models: the run's
 * folders that hold an MLmodel, and MLflow 3 models logged by it. */
static const char *const lineage_sql =
    "SELECT r.run_id, r.experiment_id, COALESCE(r.run_name, ''), r.git_commit,"
    "  to_char(COALESCE(r.end_time, r.start_time, now()) AT TIME ZONE 'UTC',"
    "          'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
    "  (SELECT jsonb_agg(DISTINCT d->>'uri') FROM jsonb_array_elements(r.datasets) d"
    "    WHERE d->>'uri' IS NOT NULL),"
    "  (SELECT jsonb_agg(DISTINCT format('s3://%s/%s', o.bucket, o.key)) FROM ("
    "     SELECT v.bucket, v.key FROM aw.object_versions v"
    "      WHERE v.store = $1 AND aw.mlflow_run_of(v.key) = r.run_id AND v.state = 'present'"
    "        AND NOT v.deleted AND EXISTS (SELECT FROM aw.object_versions m"
    "          WHERE m.store = v.store AND m.bucket = v.bucket"
    "            AND aw.mlflow_run_of(m.key) = r.run_id AND m.key LIKE '%/MLmodel'"
    "            AND starts_with(v.key, aw.dirname(m.key)))"
    "     UNION ALL"
    "     SELECT v.bucket, v.key FROM aw.mlflow_logged_models lm"
    "       JOIN aw.object_versions v ON aw.mlflow_model_of(v.key) = lm.model_id"
    "      WHERE lm.source_run_id = r.run_id AND v.store = $1 AND v.state = 'present'"
    "        AND NOT v.deleted) o),"
    "  r.linked"
    " FROM aw.mlflow_runs r WHERE r.datasets <> '[]'";

/* An object URI as an OpenLineage dataset on a store. */
static json_t *ol_dataset(const char *uri) {
    const char *p = uri + 5, *slash = strchr(p, '/');
    char ns[80];
    snprintf(ns, sizeof ns, "s3://%.*s", slash ? (int)(slash - p) : 0, p);
    return json_pack("{s:s, s:s}", "namespace", ns, "name", slash ? slash + 1 : "");
}

/* The run's lineage as an OpenLineage RunEvent: every output (a file of
 * its models) made from every input (its datasets in a store). */
static char *run_document(aw_pg_result *r, int i, json_t *ins, json_t *outs) {
    json_t *inputs = json_array(), *outputs = json_array();
    size_t k;
    json_t *u;
    json_array_foreach(ins, k, u) json_array_append_new(inputs, ol_dataset(json_string_value(u)));
    json_array_foreach(outs, k, u) json_array_append_new(outputs, ol_dataset(json_string_value(u)));
    const char *commit = aw_pg_result_get(r, i, 3);
    char job[300];
    snprintf(job, sizeof job, "%s/%s", aw_pg_result_get(r, i, 1), aw_pg_result_get(r, i, 2));
    json_t *facets = commit ? json_pack("{s:{s:s, s:s}}", "sourceCodeLocation", "type", "git",
                                        "version", commit)
                            : json_object();
    json_t *doc = json_pack("{s:s, s:s, s:{s:s}, s:{s:s, s:s, s:o}, s:o, s:o, s:s}", "eventType",
                            "COMPLETE", "eventTime", aw_pg_result_get(r, i, 4), "run", "runId",
                            aw_pg_result_get(r, i, 0), "job", "namespace", "mlflow", "name", job,
                            "facets", facets, "inputs", inputs, "outputs", outputs, "producer",
                            "artifact-watch mlflow sync");
    char *text = doc ? json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(doc);
    return text;
}

/* Hands the document to the indexer, named as a record of the topic
 * "mlflow" at a new offset, and records what it said. */
static int link_run(syncer *s, const char *run_id, const char *doc, char *err, size_t n) {
    char hex[65];
    if (aw_sha256_hex(doc, strlen(doc), hex) != AW_OK)
        return AW_ENOMEM;
    aw_pg_result *seq = NULL;
    int rc = aw_pg_query(s->pg, "SELECT nextval('aw.mlflow_documents')", 0, NULL, &seq, err, n);
    if (rc != AW_OK)
        return rc;
    long long offset = strtoll(aw_pg_result_get(seq, 0, 0), NULL, 10);
    aw_pg_result_free(seq);
    aw_observation o = {.kind = AW_OBS_DOCUMENT, .store = s->cfg->s3_store, .topic = "mlflow",
                        .partition = 0, .offset = offset, .timestamp = -1, .body = doc,
                        .body_len = strlen(doc), .has_body = true};
    if ((rc = aw_indexer_write(s->ix, &o, 1, err, n)) != AW_OK)
        return rc;
    const char *p[2] = {run_id, hex};
    return aw_pg_query(s->pg, "UPDATE aw.mlflow_runs SET linked = $2 WHERE run_id = $1", 2, p,
                       NULL, err, n);
}

static int sync_lineage(syncer *s, char *err, size_t n) {
    aw_pg_result *r = NULL;
    const char *p[1] = {s->cfg->s3_store};
    int rc = aw_pg_query(s->pg, lineage_sql, 1, p, &r, err, n);
    for (int i = 0; rc == AW_OK && i < aw_pg_result_rows(r); i++) {
        json_error_t je;
        json_t *ins = aw_pg_result_get(r, i, 5) ? json_loads(aw_pg_result_get(r, i, 5), 0, &je)
                                                : NULL;
        json_t *outs = aw_pg_result_get(r, i, 6) ? json_loads(aw_pg_result_get(r, i, 6), 0, &je)
                                                 : NULL;
        char *doc = json_array_size(ins) && json_array_size(outs)
                        ? run_document(r, i, ins, outs) : NULL;
        if (doc) {
            char hex[65] = "";
            const char *linked = aw_pg_result_get(r, i, 7);
            if (aw_sha256_hex(doc, strlen(doc), hex) != AW_OK) {
                rc = AW_ENOMEM;
            } else if (!linked || strcmp(linked, hex)) {
                rc = link_run(s, aw_pg_result_get(r, i, 0), doc, err, n);
                s->linked += rc == AW_OK;
            }
        }
        free(doc);
        json_decref(ins);
        json_decref(outs);
    }
    aw_pg_result_free(r);
    return rc;
}

/* ------------------------------------------------------------ command */

static int sync_once(syncer *s, char *err, size_t n) {
    json_t *exps = json_array(), *ids = json_array();
    json_t *body = json_pack("{s:i, s:s}", "max_results", 1000, "view_type", "ALL");
    int rc = mlf_search_all(s, "POST", "experiments/search", body, NULL, "experiments", exps, NULL,
                        err, n);
    json_decref(body);
    size_t i;
    json_t *e;
    json_array_foreach(exps, i, e) json_array_append_new(ids, json_string(mlf_str(e, "experiment_id")));
    s->runs = s->models = s->versions = s->elsewhere = s->unplaced = s->linked = 0;
    if (rc == AW_OK)
        rc = sync_runs(s, ids, err, n);
    if (rc == AW_OK)
        rc = sync_models(s, ids, err, n);
    if (rc == AW_OK)
        rc = mlf_sync_registry(s, err, n);
    if (rc == AW_OK)
        rc = sync_lineage(s, err, n);
    json_decref(exps);
    json_decref(ids);
    return rc;
}

static int sync_open(syncer *s, char *err, size_t n) {
    int rc = mlf_open(s->cfg, &s->c, err, n);
    if (rc != AW_OK)
        return 2;
    if (aw_pg_connect(s->cfg->pg_conninfo, &s->pg, err, n) != AW_OK ||
        aw_indexer_new(s->cfg, &s->ix, err, n) != AW_OK)
        return 1;
    if (!s->cfg->mlflow_once && aw_pg_listen(s->pg, "aw_mlflow", err, n) != AW_OK)
        return 1;
    return 0;
}

int aw_cmd_mlflow(aw_config *cfg) {
    static const aw_verb verbs[] = {
        {"sync", 0, " [--mlflow-tracking-uri URL] [--mlflow-artifacts-destination s3://B/P]"
                    " [--every 60s] [--once]"},
        {NULL, 0, NULL},
    };
    if (aw_verb_pick("mlflow", verbs, cfg) < 0)
        return 2;
    aw_daemon_signals();
    syncer s = {.cfg = cfg};
    char err[2048] = "";
    int status = sync_open(&s, err, sizeof err);
    while (!status && !aw_stop) {
        int rc = sync_once(&s, err, sizeof err);
        if (rc == AW_OK)
            AW_INFO(LOG, "%d run(s), %d logged model(s), %d registered version(s) (%d of them "
                         "in no store read here, %d no longer found by the server); %d run(s) "
                         "linked to their data", s.runs, s.models, s.versions, s.elsewhere,
                    s.unplaced, s.linked);
        else
            AW_ERROR(LOG, "%s", rc == AW_ENOMEM ? "out of memory" : err);
        if (cfg->mlflow_once) {
            status = rc == AW_OK ? 0 : rc == AW_ECONFIG ? 2 : 1;
            break;
        }
        /* again after --every, or when ingest indexes an MLmodel */
        if (aw_pg_wait_notify(s.pg, cfg->mlflow_every_s * 1000, err, sizeof err) < 0 &&
            !aw_stop) {
            AW_ERROR(LOG, "%s", err);
            status = 1;
        }
    }
    if (status && !cfg->mlflow_once && status != 2)
        fprintf(stderr, "artifact-watch mlflow: %s\n", err);
    else if (status == 2 || (status && cfg->mlflow_once && !s.pg))
        fprintf(stderr, "artifact-watch mlflow: %s\n", err);
    aw_indexer_destroy(s.ix);
    aw_pg_destroy(s.pg);
    return status;
}
