-- 0007: what is found wrong with one version makes the versions beside it
-- (the same folder of the same bucket) scrub suspects, due now: a bad disk,
-- a broken upload or a rewrite behind the store's back rarely hits one file.
-- aw.alert_raise does it, so ingest findings (a declared checksum that
-- disagrees) send scrub there too.
-- Shipped migrations are never edited: changes go in a new numbered file.

CREATE OR REPLACE FUNCTION aw.alert_raise(p_kind text, p_version bigint, p_expected text,
                                          p_actual text, p_detail jsonb DEFAULT NULL)
  RETURNS bigint
  LANGUAGE plpgsql
  SET search_path = pg_catalog, aw, pg_temp AS $$
DECLARE
  a_id bigint;
  br record;
BEGIN
  SELECT * INTO br FROM aw.blast_radius(p_version);
  INSERT INTO aw.alerts AS a (kind, state, store, bucket, key, version_id, object_version_id,
                              expected, actual, blast_radius, blast_uris, detail)
  SELECT p_kind, 'open', v.store, v.bucket, v.key, v.version_id, v.id, p_expected, p_actual,
         br.n, br.uris, p_detail
    FROM aw.object_versions v WHERE v.id = p_version
  ON CONFLICT (kind, object_version_id) DO UPDATE
    SET state = 'open',
        first_seen_at = CASE WHEN a.state = 'resolved' THEN now() ELSE a.first_seen_at END,
        seen_count = CASE WHEN a.state = 'resolved' THEN 1 ELSE a.seen_count + 1 END,
        last_seen_at = now(), resolved_at = NULL, expected = EXCLUDED.expected,
        actual = EXCLUDED.actual, blast_radius = EXCLUDED.blast_radius,
        blast_uris = EXCLUDED.blast_uris, detail = EXCLUDED.detail
  RETURNING a.id INTO a_id;
  IF a_id IS NOT NULL THEN
    PERFORM pg_notify('aw_alerts', a_id::text);
  END IF;
  -- the folder's other versions (keys at the top of a bucket have none)
  UPDATE aw.scrub_state s SET suspect = true, due_at = LEAST(s.due_at, now())
    FROM aw.object_versions o, aw.object_versions v
   WHERE o.id = p_version AND aw.dirname(o.key) <> ''
     AND aw.dirname(v.key) = aw.dirname(o.key) AND v.bucket = o.bucket AND v.store = o.store
     AND v.id <> o.id AND s.object_version_id = v.id AND NOT s.suspect;
  RETURN a_id;
END
$$;
