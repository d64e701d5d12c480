-- 0013: retention that can be trusted with partial, killed and concurrent runs.
--  - aw_retention: the role of the retention worker (`policy`). Only it (and
--    the owner) writes plans, runs and the audit; ingest's aw_writer no longer
--    may. It marks deleted the versions its own DELETEs removed, and nothing
--    else of the graph.
--  - A write-ahead audit: an action is recorded 'pending' (with the version
--    it acts on) and committed before its request is sent, then turned into
--    its result. A pending row changes once, into a result; a result never
--    changes (a trigger enforces it, whoever writes).
--  - A saved plan is applied once (retention_runs.applied_plan), and its
--    actions carry the lineage depth they are carried out in (children
--    before parents).
--  - Who recorded a deletion (object_versions.deleted_by): a delete event
--    from the store, retention's own DELETE, or a backfill's reconcile.
--  - aw.version_order: which version of a key is newest, as one key that
--    compares byte by byte whatever the database's collation.
-- Shipped migrations are never edited: changes go in a new numbered file.

DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'aw_retention') THEN
    CREATE ROLE aw_retention NOLOGIN;
  END IF;
END
$$;

ALTER TABLE aw.object_versions ADD COLUMN deleted_by text
  CHECK (deleted_by IN ('event', 'retention', 'reconcile'));

ALTER TABLE aw.retention_plan_actions ADD COLUMN wave integer NOT NULL DEFAULT 0;
-- whether the plan took the version for its key's current one, and the
-- Last-Modified a listing recorded (what a HEAD is compared with when the
-- store keeps no ETag)
ALTER TABLE aw.retention_plan_actions ADD COLUMN was_current boolean NOT NULL DEFAULT false;
ALTER TABLE aw.retention_plan_actions ADD COLUMN last_modified timestamptz;

ALTER TABLE aw.retention_actions ADD COLUMN object_version_id bigint;
ALTER TABLE aw.retention_actions ADD COLUMN pending_at timestamptz;
ALTER TABLE aw.retention_actions DROP CONSTRAINT retention_actions_result_check;
ALTER TABLE aw.retention_actions ADD CONSTRAINT retention_actions_result_check
  CHECK (result IN ('pending', 'deleted', 'not_deleted', 'skipped_changed',
                    'skipped_protected', 'skipped_other_store', 'failed'));
CREATE INDEX retention_actions_pending ON aw.retention_actions (id) WHERE result = 'pending';
CREATE INDEX retention_actions_version ON aw.retention_actions (object_version_id);

-- The plan a run carried out: at most one run does (runs refused by the
-- safety cap leave it NULL, so a plan may still be forced after one).
ALTER TABLE aw.retention_runs ADD COLUMN applied_plan bigint UNIQUE
  REFERENCES aw.retention_plans (id);
ALTER TABLE aw.retention_runs ADD COLUMN holder text;

-- The audit is append-only but for one step: pending -> its result.
CREATE FUNCTION aw.retention_action_once() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog, aw, pg_temp AS $$
BEGIN
  IF OLD.result <> 'pending' THEN
    RAISE EXCEPTION 'retention action % is final (%): the audit is never rewritten',
      OLD.id, OLD.result USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  IF (NEW.run_id, NEW.plan_id, NEW.action, NEW.store, NEW.bucket, NEW.key, NEW.version_id,
      NEW.object_version_id, NEW.pending_at) IS DISTINCT FROM
     (OLD.run_id, OLD.plan_id, OLD.action, OLD.store, OLD.bucket, OLD.key, OLD.version_id,
      OLD.object_version_id, OLD.pending_at) THEN
    RAISE EXCEPTION 'retention action %: only its result may change', OLD.id
      USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER retention_actions_once BEFORE UPDATE ON aw.retention_actions
  FOR EACH ROW EXECUTE FUNCTION aw.retention_action_once();

-- Versions of a key, newest first, as one text key: the sequencer (a
-- listing's order included), then the time, then the row's id. Every query
-- that asks which version is newest compares these.
CREATE FUNCTION aw.version_order(v aw.object_versions) RETURNS text
  LANGUAGE sql STABLE PARALLEL SAFE
  RETURN COALESCE(v.seq_key, '') COLLATE "C" || chr(1)
         || lpad((extract(epoch FROM aw.version_time(v)) * 1000000)::bigint::text, 20, '0')
         || chr(1) || lpad(v.id::text, 20, '0') COLLATE "C";

-- The id of the current version of a key (its newest, whatever its state).
CREATE FUNCTION aw.current_version(p_store text, p_bucket text, p_key text) RETURNS bigint
  LANGUAGE sql STABLE PARALLEL SAFE
  RETURN (SELECT v.id FROM aw.object_versions v
           WHERE v.store = p_store AND v.bucket = p_bucket AND v.key = p_key
           ORDER BY aw.version_order(v) DESC LIMIT 1);

-- Least privilege.
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON aw.retention_plans, aw.retention_plan_actions,
  aw.retention_runs, aw.retention_actions FROM aw_writer;
GRANT USAGE ON SCHEMA aw TO aw_retention;
GRANT SELECT ON ALL TABLES IN SCHEMA aw TO aw_retention;
GRANT INSERT ON aw.retention_plans, aw.retention_plan_actions, aw.retention_runs,
  aw.retention_actions TO aw_retention;
GRANT UPDATE ON aw.retention_runs, aw.retention_actions TO aw_retention;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA aw TO aw_retention;
GRANT UPDATE (deleted, deleted_at, deleted_by, indexed_at) ON aw.object_versions TO aw_retention;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA aw TO aw_retention;
-- a deletion it records resolves a 'missing' alert (0012's trigger)
GRANT UPDATE (state, resolved_at, detail) ON aw.alerts TO aw_retention;
REVOKE EXECUTE ON FUNCTION aw.retention_action_once() FROM aw_reader, aw_writer, aw_retention;
GRANT SELECT ON aw.retention_actions TO aw_reader;
