-- 0004: retention. Rules come from a file and plans are made by
-- artifact-watch (policy/); saved plans, with a reason for every action,
-- every run and every action taken on a store are kept here.
-- Shipped migrations are never edited: changes go in a new numbered file.

-- Plans of record (policy plan --save, and every apply).
CREATE TABLE aw.retention_plans (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  generated_at  timestamptz NOT NULL DEFAULT now(),
  rules_sha256  text        NOT NULL,
  rules_path    text,
  rules         jsonb       NOT NULL,
  totals        jsonb
);

CREATE TABLE aw.retention_plan_actions (
  plan_id           bigint  NOT NULL REFERENCES aw.retention_plans (id),
  ordinal           integer NOT NULL,
  action            text    NOT NULL CHECK (action IN ('delete', 'delete_marker', 'protect')),
  rule              text,
  reason            text,
  object_version_id bigint  NOT NULL,
  store             text    NOT NULL,
  bucket            text    NOT NULL,
  key               text    NOT NULL,
  version_id        text,
  size              bigint,
  age_s             bigint,
  sha256            text,
  etag              text,
  PRIMARY KEY (plan_id, ordinal)
);

-- Every run: plan only, or apply.
CREATE TABLE aw.retention_runs (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  plan_id       bigint      REFERENCES aw.retention_plans (id),
  mode          text        NOT NULL CHECK (mode IN ('plan', 'apply')),
  rules_sha256  text        NOT NULL,
  started_at    timestamptz NOT NULL DEFAULT now(),
  finished_at   timestamptz,
  refused       text,       -- why the run deleted nothing (the safety cap), else NULL
  totals        jsonb       -- counts and bytes by result
);

-- Every action taken on the store, appended and never changed.
CREATE TABLE aw.retention_actions (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  run_id        bigint      NOT NULL REFERENCES aw.retention_runs (id),
  plan_id       bigint,
  rule          text,
  action        text        NOT NULL,
  store         text        NOT NULL,
  bucket        text        NOT NULL,
  key           text        NOT NULL,
  version_id    text,
  sha256        text,
  size          bigint,
  result        text        NOT NULL
                CHECK (result IN ('deleted', 'skipped_changed', 'skipped_protected', 'failed')),
  http_status   integer,
  message       text,
  acted_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX retention_actions_run ON aw.retention_actions (run_id);
CREATE INDEX retention_actions_object ON aw.retention_actions (store, bucket, key);

-- Least privilege: plans and runs are written by the policy worker; actions
-- are appended, never changed.
REVOKE UPDATE, DELETE, TRUNCATE ON aw.retention_plans, aw.retention_plan_actions,
  aw.retention_actions FROM aw_writer;
REVOKE DELETE, TRUNCATE ON aw.retention_runs FROM aw_writer;
GRANT SELECT ON aw.retention_plans, aw.retention_plan_actions, aw.retention_runs,
  aw.retention_actions TO aw_reader;
