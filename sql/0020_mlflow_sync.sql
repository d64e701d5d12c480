-- When `artifact-watch mlflow sync` last read the whole tracking server.
-- Retention's mlflow: predicates are only as good as that read: the planner
-- refuses them when there has been none, or none within the rules file's
-- limits.max_mlflow_age (a keep rule on `registered: true` that matched
-- nothing because the registry was never read would let other rules delete
-- registered models).
CREATE TABLE aw.mlflow_sync (
  one boolean PRIMARY KEY DEFAULT true CHECK (one),
  synced_at timestamptz NOT NULL,
  runs integer NOT NULL,
  logged_models integer NOT NULL,
  versions integer NOT NULL,
  -- registered versions whose files are in no store artifact-watch reads
  -- (file:, dbfs:, gs:, ...): recorded, and protect nothing here
  elsewhere integer NOT NULL
);

GRANT SELECT, INSERT, UPDATE ON aw.mlflow_sync TO aw_writer;
GRANT SELECT ON aw.mlflow_sync TO aw_reader, aw_retention;
