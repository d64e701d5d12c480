-- 0014: alerts that mean what they say.
--  - A 'missing' alert resolves only on evidence of a deliberate deletion: a
--    delete event from the store (deleted_by 'event') or artifact-watch's own
--    retention ('retention'). A backfill's reconcile ('reconcile': the store
--    no longer lists it, and nobody recorded deleting it) annotates the alert
--    and leaves it open; a delete event read later still resolves it. A
--    person resolves any alert with aw.alert_resolve_by(id, reason), which
--    records who and why.
--  - An alert on a version of an unversioned key resolves as 'superseded'
--    when a newer version of the key is written and indexed: its bytes were
--    replaced, there is nothing left to be wrong. (A deletion is not a new
--    version here: it resolves 'missing' as above, and leaves the rest.) A
--    versioned key's old versions keep their bytes, and their alerts.
--  - 'bucket_unreachable': one alert for a whole bucket that the store will
--    not serve (NoSuchBucket, every request refused), instead of one per
--    object; its object_version_id is NULL.
--  - aw.alerts.changed_at: when the row last changed, so `alerts push` sends
--    what changed since its last push.
-- Shipped migrations are never edited: changes go in a new numbered file.

ALTER TABLE aw.alerts DROP CONSTRAINT alerts_kind_check;
ALTER TABLE aw.alerts ADD CONSTRAINT alerts_kind_check
  CHECK (kind IN ('declared_mismatch', 'etag_mismatch', 'store_checksum_mismatch',
                  'checksum_mismatch', 'missing', 'unreadable', 'bucket_unreachable'));
ALTER TABLE aw.alerts ALTER COLUMN object_version_id DROP NOT NULL;
ALTER TABLE aw.alerts ADD CONSTRAINT alerts_bucket_kind
  CHECK ((kind = 'bucket_unreachable') = (object_version_id IS NULL));
CREATE UNIQUE INDEX alerts_bucket ON aw.alerts (kind, store, bucket)
  WHERE object_version_id IS NULL;
ALTER TABLE aw.alerts ADD COLUMN changed_at timestamptz NOT NULL DEFAULT now();
CREATE INDEX alerts_changed ON aw.alerts (changed_at);

CREATE FUNCTION aw.alert_touch() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog, aw, pg_temp AS $$
BEGIN
  NEW.changed_at := clock_timestamp();
  RETURN NEW;
END
$$;
CREATE TRIGGER alerts_touch BEFORE INSERT OR UPDATE ON aw.alerts
  FOR EACH ROW EXECUTE FUNCTION aw.alert_touch();

-- A recorded deletion of a version with an open 'missing' alert.
CREATE OR REPLACE FUNCTION aw.deletion_resolves_missing() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog, aw, pg_temp AS $$
DECLARE
  r record;
BEGIN
  IF NEW.deleted_by = 'reconcile' THEN
    UPDATE aw.alerts
       SET detail = COALESCE(detail, '{}'::jsonb)
                    || jsonb_build_object('reconciled_at', NEW.deleted_at,
                                          'reconcile', 'the store no longer lists it, and no '
                                          'deletion of it was recorded')
     WHERE object_version_id = NEW.id AND kind = 'missing' AND state = 'open';
    RETURN NULL;
  END IF;
  FOR r IN UPDATE aw.alerts
              SET state = 'resolved', resolved_at = now(),
                  detail = COALESCE(detail, '{}'::jsonb)
                           || jsonb_build_object('resolved_by',
                                                 CASE NEW.deleted_by WHEN 'retention'
                                                   THEN 'retention' ELSE 'deletion' END,
                                                 'deleted_at', NEW.deleted_at)
            WHERE object_version_id = NEW.id AND kind = 'missing' AND state = 'open'
           RETURNING id LOOP
    PERFORM pg_notify('aw_alerts', r.id::text);
  END LOOP;
  RETURN NULL;
END
$$;
-- also when a reconcile's deletion is confirmed by the store's own event
DROP TRIGGER object_versions_deletion_resolves_missing ON aw.object_versions;
CREATE TRIGGER object_versions_deletion_resolves_missing
  AFTER UPDATE OF deleted, deleted_by ON aw.object_versions
  FOR EACH ROW WHEN (NEW.deleted AND (NOT OLD.deleted OR OLD.deleted_by IS DISTINCT FROM
                                      NEW.deleted_by))
  EXECUTE FUNCTION aw.deletion_resolves_missing();

-- New versions of unversioned keys supersede the alerts of older ones. One
-- statement per batch; it looks at open alerts only (a handful), never at
-- the batch's versions one by one.
CREATE FUNCTION aw.supersede_alerts() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog, aw, pg_temp AS $$
DECLARE
  r record;
BEGIN
  IF NOT EXISTS (SELECT FROM aw.alerts WHERE state = 'open' AND version_id IS NULL
                   AND object_version_id IS NOT NULL) THEN
    RETURN NULL;
  END IF;
  FOR r IN
    WITH s AS (
      SELECT DISTINCT ON (a.id) a.id, n.id AS by_version
        FROM aw.alerts a
        JOIN aw.object_versions o ON o.id = a.object_version_id
        JOIN new_versions n ON n.store = a.store AND n.bucket = a.bucket AND n.key = a.key
       WHERE a.state = 'open' AND a.version_id IS NULL AND n.id <> o.id
         AND n.version_id IS NULL AND n.state <> 'tombstone'
         AND aw.version_order(n) > aw.version_order(o)
       ORDER BY a.id, n.id)
    UPDATE aw.alerts a
       SET state = 'resolved', resolved_at = now(),
           detail = COALESCE(a.detail, '{}'::jsonb)
                    || jsonb_build_object('resolved_by', 'superseded', 'by_version', s.by_version)
      FROM s WHERE a.id = s.id
    RETURNING a.id
  LOOP
    PERFORM pg_notify('aw_alerts', r.id::text);
  END LOOP;
  RETURN NULL;
END
$$;
CREATE TRIGGER object_versions_supersede_alerts
  AFTER INSERT ON aw.object_versions REFERENCING NEW TABLE AS new_versions
  FOR EACH STATEMENT EXECUTE FUNCTION aw.supersede_alerts();

-- A person's word: resolves alert p_id with the reason given, who said it
-- (the session's role) and when. Returns whether it was open.
CREATE FUNCTION aw.alert_resolve_by(p_id bigint, p_reason text) RETURNS boolean
  LANGUAGE plpgsql
  SET search_path = pg_catalog, aw, pg_temp AS $$
DECLARE
  a_id bigint;
BEGIN
  UPDATE aw.alerts
     SET state = 'resolved', resolved_at = now(),
         detail = COALESCE(detail, '{}'::jsonb)
                  || jsonb_build_object('resolved_by', 'person', 'reason', p_reason,
                                        'by', session_user::text)
   WHERE id = p_id AND state = 'open'
  RETURNING id INTO a_id;
  IF a_id IS NOT NULL THEN
    PERFORM pg_notify('aw_alerts', a_id::text);
  END IF;
  RETURN a_id IS NOT NULL;
END
$$;

-- A bucket the store does not serve (or no longer lets us read): one alert.
CREATE FUNCTION aw.bucket_alert_raise(p_store text, p_bucket text, p_detail jsonb)
  RETURNS bigint
  LANGUAGE plpgsql
  SET search_path = pg_catalog, aw, pg_temp AS $$
DECLARE
  a_id bigint;
BEGIN
  INSERT INTO aw.alerts AS a (kind, state, store, bucket, key, detail)
  VALUES ('bucket_unreachable', 'open', p_store, p_bucket, '', p_detail)
  ON CONFLICT (kind, store, bucket) WHERE object_version_id IS NULL DO UPDATE
    SET state = 'open',
        first_seen_at = CASE WHEN a.state = 'resolved' THEN now() ELSE a.first_seen_at END,
        seen_count = CASE WHEN a.state = 'resolved' THEN 1 ELSE a.seen_count + 1 END,
        last_seen_at = now(), resolved_at = NULL, detail = EXCLUDED.detail
  RETURNING a.id INTO a_id;
  PERFORM pg_notify('aw_alerts', a_id::text);
  RETURN a_id;
END
$$;

CREATE FUNCTION aw.bucket_alert_resolve(p_store text, p_bucket text) RETURNS integer
  LANGUAGE plpgsql
  SET search_path = pg_catalog, aw, pg_temp AS $$
DECLARE
  r record;
  n integer := 0;
BEGIN
  FOR r IN UPDATE aw.alerts SET state = 'resolved', resolved_at = now()
            WHERE kind = 'bucket_unreachable' AND object_version_id IS NULL
              AND store = p_store AND bucket = p_bucket AND state = 'open'
           RETURNING id LOOP
    PERFORM pg_notify('aw_alerts', r.id::text);
    n := n + 1;
  END LOOP;
  RETURN n;
END
$$;

REVOKE EXECUTE ON FUNCTION aw.alert_touch(), aw.supersede_alerts(),
  aw.bucket_alert_raise(text, text, jsonb), aw.bucket_alert_resolve(text, text),
  aw.alert_resolve_by(bigint, text) FROM aw_reader;
