-- 0015: what a review of 0013 and 0014 found.
--  - aw.current_version: a version the store deleted by its id (a rollback,
--    retention's keep_last) is not the key's current version; the newest
--    version the store still holds is (a delete marker still counts: the
--    key then has no current object).
--  - aw.retention_actions keeps the ETag and Last-Modified the deletion
--    expected, so a pending row of a killed run can be told from a key that
--    was written again since.
-- Shipped migrations are never edited: changes go in a new numbered file.

CREATE OR REPLACE FUNCTION aw.current_version(p_store text, p_bucket text, p_key text)
  RETURNS bigint
  LANGUAGE sql STABLE PARALLEL SAFE
  RETURN (SELECT v.id FROM aw.object_versions v
           WHERE v.store = p_store AND v.bucket = p_bucket AND v.key = p_key
           ORDER BY (v.version_id IS NOT NULL AND v.deleted AND v.state <> 'tombstone'),
                    aw.version_order(v) DESC LIMIT 1);

ALTER TABLE aw.retention_actions ADD COLUMN etag text;
ALTER TABLE aw.retention_actions ADD COLUMN last_modified timestamptz;

-- ... and those two columns are as immutable as the rest of the row.
CREATE OR REPLACE FUNCTION aw.retention_action_once() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog, aw, pg_temp AS $$
BEGIN
  IF OLD.result <> 'pending' THEN
    RAISE EXCEPTION 'retention action % is final (%): the audit is never rewritten',
      OLD.id, OLD.result USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  IF (NEW.run_id, NEW.plan_id, NEW.action, NEW.store, NEW.bucket, NEW.key, NEW.version_id,
      NEW.object_version_id, NEW.pending_at, NEW.etag, NEW.last_modified) IS DISTINCT FROM
     (OLD.run_id, OLD.plan_id, OLD.action, OLD.store, OLD.bucket, OLD.key, OLD.version_id,
      OLD.object_version_id, OLD.pending_at, OLD.etag, OLD.last_modified) THEN
    RAISE EXCEPTION 'retention action %: only its result may change', OLD.id
      USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  RETURN NEW;
END
$$;
