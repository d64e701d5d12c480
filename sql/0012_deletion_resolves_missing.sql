-- 0012: a recorded deletion explains a 404. Scrub raises 'missing' for a
-- version the index holds as present and not deleted when the store answers
-- 404; when a deletion of that version is recorded afterwards (its delete
-- event read late because scrub read first, a retention delete whose event
-- came after the pass, a backfill reconcile), the 404 was a deletion, not a
-- loss, and the alert is resolved with "resolved_by": "deletion" in its
-- detail. A deleted version is never read by scrub again, so without this the
-- alert stayed open for ever. Only 'missing': a checksum that disagreed
-- before the deletion still did.
-- Shipped migrations are never edited: changes go in a new numbered file.

CREATE FUNCTION aw.deletion_resolves_missing() RETURNS trigger
  LANGUAGE plpgsql
  SET search_path = pg_catalog, aw, pg_temp AS $$
DECLARE
  r record;
BEGIN
  FOR r IN UPDATE aw.alerts
              SET state = 'resolved', resolved_at = now(),
                  detail = COALESCE(detail, '{}'::jsonb)
                           || jsonb_build_object('resolved_by', 'deletion',
                                                 'deleted_at', NEW.deleted_at)
            WHERE object_version_id = NEW.id AND kind = 'missing' AND state = 'open'
           RETURNING id LOOP
    PERFORM pg_notify('aw_alerts', r.id::text);
  END LOOP;
  RETURN NULL;
END
$$;

-- The WHEN clause is checked without calling the function, so updates that
-- do not delete (most of ingest's) cost nothing more.
CREATE TRIGGER object_versions_deletion_resolves_missing
  AFTER UPDATE OF deleted ON aw.object_versions
  FOR EACH ROW WHEN (NEW.deleted AND NOT OLD.deleted)
  EXECUTE FUNCTION aw.deletion_resolves_missing();

-- Alerts left open that way before this migration.
WITH r AS (
  UPDATE aw.alerts a
     SET state = 'resolved', resolved_at = now(),
         detail = COALESCE(a.detail, '{}'::jsonb)
                  || jsonb_build_object('resolved_by', 'deletion', 'deleted_at', v.deleted_at)
    FROM aw.object_versions v
   WHERE v.id = a.object_version_id AND v.deleted AND a.kind = 'missing' AND a.state = 'open'
  RETURNING a.id)
SELECT pg_notify('aw_alerts', r.id::text) FROM r;
