-- 0008: aw.scrub_record set-based. Progress of the whole batch is one
-- UPDATE; only versions with something to say (not ok, a store checksum that
-- disagrees, or an alert open) go through the per-version alert logic, so a
-- clean batch costs one statement. Same results as 0006's version.
-- aw.alert_raise makes the folder's other versions suspects only when the
-- alert opens (or reopens), not each time it is seen again: a file that
-- stays missing does not send scrub back to its folder every pass.
-- Shipped migrations are never edited: changes go in a new numbered file.

CREATE OR REPLACE FUNCTION aw.scrub_record(p_results jsonb, p_interval interval) RETURNS void
  LANGUAGE plpgsql
  SET search_path = pg_catalog, aw, pg_temp AS $$
DECLARE
  r record;
BEGIN
  UPDATE aw.scrub_state s
     SET last_verified_at = CASE WHEN x.result = 'failed' THEN s.last_verified_at ELSE now() END,
         last_result = CASE WHEN x.result = 'failed'
                            THEN CASE WHEN s.failures >= 1 THEN 'unreadable' ELSE s.last_result END
                            ELSE x.result END,
         last_error = x.error,
         failures = CASE WHEN x.result = 'failed' THEN s.failures + 1 ELSE 0 END,
         suspect = x.result NOT IN ('ok', 'changed')
                   OR (x.store_sha256 IS NOT NULL AND x.store_sha256 <> x.actual),
         due_at = CASE WHEN x.result = 'failed' AND s.failures = 0 THEN now()
                       ELSE now() + p_interval * (0.8 + 0.4 * ((hashint8(x.id) & 65535) / 65535.0))
                  END,
         lease_owner = NULL, lease_until = NULL
    FROM jsonb_to_recordset(p_results)
         AS x(id bigint, result text, actual text, store_sha256 text, error text, detail jsonb)
   WHERE s.object_version_id = x.id;

  FOR r IN SELECT x.*, encode(o.sha256, 'hex') AS sha256, st.failures
             FROM jsonb_to_recordset(p_results)
                  AS x(id bigint, result text, actual text, store_sha256 text, error text,
                       detail jsonb)
             JOIN aw.object_versions o ON o.id = x.id
             LEFT JOIN aw.scrub_state st ON st.object_version_id = x.id
            WHERE x.result NOT IN ('ok', 'changed')
               OR (x.store_sha256 IS NOT NULL AND x.store_sha256 <> x.actual)
               OR EXISTS (SELECT FROM aw.alerts a WHERE a.object_version_id = x.id
                            AND a.state = 'open') LOOP
    IF r.result = 'ok' THEN
      PERFORM aw.alert_resolve(ARRAY['checksum_mismatch', 'missing', 'unreadable'], r.id);
    ELSIF r.result = 'checksum_mismatch' THEN
      PERFORM aw.alert_resolve(ARRAY['missing', 'unreadable'], r.id);
      PERFORM aw.alert_raise('checksum_mismatch', r.id, r.sha256, r.actual, r.detail);
    ELSIF r.result = 'missing' THEN
      PERFORM aw.alert_resolve(ARRAY['checksum_mismatch', 'unreadable'], r.id);
      PERFORM aw.alert_raise('missing', r.id, r.sha256, NULL, r.detail);
    ELSIF r.result = 'failed' AND r.failures >= 2 THEN
      PERFORM aw.alert_raise('unreadable', r.id, r.sha256, NULL,
                             jsonb_build_object('error', r.error));
    END IF;
    IF r.store_sha256 IS NOT NULL AND r.actual IS NOT NULL THEN
      IF r.store_sha256 <> r.actual THEN
        PERFORM aw.alert_raise('store_checksum_mismatch', r.id, r.store_sha256, r.actual,
                               r.detail);
      ELSE
        PERFORM aw.alert_resolve(ARRAY['store_checksum_mismatch'], r.id);
      END IF;
    END IF;
  END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION aw.alert_raise(p_kind text, p_version bigint, p_expected text,
                                          p_actual text, p_detail jsonb DEFAULT NULL)
  RETURNS bigint
  LANGUAGE plpgsql
  SET search_path = pg_catalog, aw, pg_temp AS $$
DECLARE
  a_id bigint;
  was text;
  br record;
BEGIN
  SELECT a.state INTO was FROM aw.alerts a WHERE a.kind = p_kind AND a.object_version_id = p_version;
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
  -- newly open: the folder's other versions (keys at the top of a bucket have none)
  IF a_id IS NOT NULL AND was IS DISTINCT FROM 'open' THEN
    UPDATE aw.scrub_state s SET suspect = true, due_at = LEAST(s.due_at, now())
      FROM aw.object_versions o, aw.object_versions v
     WHERE o.id = p_version AND aw.dirname(o.key) <> ''
       AND aw.dirname(v.key) = aw.dirname(o.key) AND v.bucket = o.bucket AND v.store = o.store
       AND v.id <> o.id AND s.object_version_id = v.id AND NOT s.suspect;
  END IF;
  RETURN a_id;
END
$$;
