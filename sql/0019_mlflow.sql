-- MLflow: which run or logged model an object belongs to (read from MLflow's
-- layout of an artifact store), and what `artifact-watch mlflow sync` reads
-- from the tracking server: runs, logged models, registered model versions
-- with their aliases and where their files are.

-- The run of a key laid out as <root>/<experiment_id>/<run_id>/artifacts/...
CREATE FUNCTION aw.mlflow_run_of(p_key text) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  RETURN CASE WHEN strpos(p_key, '/artifacts/') > 0
              THEN substring(p_key from '(?:^|/)[0-9]+/([0-9a-f]{32})/artifacts/') END;

-- The logged model (MLflow 3) of a key laid out as
-- <root>/<experiment_id>/models/<model_id>/artifacts/...
CREATE FUNCTION aw.mlflow_model_of(p_key text) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  RETURN CASE WHEN strpos(p_key, '/models/m-') > 0
              THEN substring(p_key from '(?:^|/)[0-9]+/models/(m-[0-9a-f]{32})/artifacts/') END;

CREATE INDEX object_versions_mlflow_run ON aw.object_versions (aw.mlflow_run_of(key))
  WHERE aw.mlflow_run_of(key) IS NOT NULL;
CREATE INDEX object_versions_mlflow_model ON aw.object_versions (aw.mlflow_model_of(key))
  WHERE aw.mlflow_model_of(key) IS NOT NULL;

CREATE TABLE aw.mlflow_runs (
  run_id text PRIMARY KEY,
  experiment_id text NOT NULL,
  run_name text,
  status text,
  lifecycle_stage text NOT NULL,     -- active or deleted
  artifact_uri text,
  git_commit text,                   -- the mlflow.source.git.commit tag
  start_time timestamptz,
  end_time timestamptz,
  datasets jsonb NOT NULL DEFAULT '[]',  -- [{name, digest, source_type, source, uri}]
  linked text,                       -- what the last lineage document said (a digest)
  fetched_at timestamptz NOT NULL DEFAULT now());

CREATE TABLE aw.mlflow_logged_models (
  model_id text PRIMARY KEY,
  experiment_id text NOT NULL,
  name text,
  source_run_id text,
  artifact_uri text,
  status text,
  fetched_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX mlflow_logged_models_run ON aw.mlflow_logged_models (source_run_id);

CREATE TABLE aw.mlflow_model_versions (
  name text NOT NULL,
  version text NOT NULL,
  run_id text,
  model_id text,
  source text,
  storage_location text,
  bucket text,                       -- where its files are, resolved to the store
  prefix text,
  aliases text[] NOT NULL DEFAULT '{}',
  stage text,
  status text,
  fetched_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (name, version));
CREATE INDEX mlflow_model_versions_place ON aw.mlflow_model_versions (bucket, prefix);

-- An object's MLflow facts, for retention's `mlflow:` predicates: whether a
-- registered model version's files include it, the aliases of those
-- versions, and the lifecycle of the run that made it (for a logged model's
-- file, its source run's).
CREATE FUNCTION aw.mlflow_facts(p_bucket text, p_key text,
                                OUT registered boolean, OUT aliases text[],
                                OUT run_lifecycle text)
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'aw', 'pg_temp'
    AS $$
  SELECT EXISTS (SELECT FROM aw.mlflow_model_versions m
                  WHERE m.bucket = p_bucket AND starts_with(p_key, m.prefix)),
         COALESCE((SELECT array_agg(DISTINCT a ORDER BY a) FROM aw.mlflow_model_versions m,
                          unnest(m.aliases) a
                    WHERE m.bucket = p_bucket AND starts_with(p_key, m.prefix)), '{}'),
         (SELECT r.lifecycle_stage FROM aw.mlflow_runs r
           WHERE r.run_id = COALESCE(aw.mlflow_run_of(p_key),
                                     (SELECT lm.source_run_id FROM aw.mlflow_logged_models lm
                                       WHERE lm.model_id = aw.mlflow_model_of(p_key))))
$$;

GRANT SELECT, INSERT, UPDATE, DELETE ON aw.mlflow_runs, aw.mlflow_logged_models,
  aw.mlflow_model_versions TO aw_writer;
GRANT SELECT ON aw.mlflow_runs, aw.mlflow_logged_models, aw.mlflow_model_versions
  TO aw_reader, aw_retention;

-- The lineage documents `mlflow sync` hands the indexer are named as records
-- of the topic "mlflow" at the offsets of this sequence.
CREATE SEQUENCE aw.mlflow_documents;
GRANT USAGE, SELECT ON SEQUENCE aw.mlflow_documents TO aw_writer;
