-- 0006: findings at ingest, and the store's own checksum in scrub.
--  - aw.integrity_refresh, run by the indexer in each batch's transaction
--    right after aw.lineage_refresh (whose temporary tables aw_touched and
--    aw_affected say what the batch touched): a declared checksum that
--    disagrees with the bytes measured at ingest (a <file>.sha256 sidecar,
--    or a child's created_from.data_checksum, i.e. an edge in state
--    'mismatch' that is the child's newest declaration about that parent)
--    opens 'declared_mismatch'; agreement again resolves it. A
--    single-part ETag that is not the MD5 of the bytes (aw.checks
--    'etag_md5', with --verify-md5) opens 'etag_mismatch'.
--  - aw.scrub_record also compares the store's own full-object SHA-256
--    (x-amz-checksum-sha256) with the bytes: 'store_checksum_mismatch'.
-- Shipped migrations are never edited: changes go in a new numbered file.

CREATE FUNCTION aw.integrity_refresh() RETURNS integer
  LANGUAGE plpgsql
  SET search_path = pg_catalog, aw, pg_temp AS $$
DECLARE
  r record;
  n integer := 0;
BEGIN
  IF to_regclass('pg_temp.aw_touched') IS NULL THEN
    RETURN 0;
  END IF;
  FOR r IN
    WITH cand AS (
      SELECT v.id FROM aw_touched t JOIN aw.object_versions v
        ON v.bucket = t.bucket AND v.key = t.key AND (t.store IS NULL OR v.store = t.store)
       WHERE v.state = 'present' AND NOT v.deleted AND v.sha256 IS NOT NULL
      UNION
      SELECT e.parent_version_id FROM aw_affected a JOIN aw.edges e ON e.decl_id = a.decl_id
       WHERE e.parent_version_id IS NOT NULL)
    SELECT v.id, encode(v.sha256, 'hex') AS actual,
           -- the newest <file>.sha256 of the key, when this version is the key's newest
           (SELECT jsonb_build_object('expected', encode(s.declared_sha256, 'hex'),
                                      'declared_by', format('s3://%s/%s', s.bucket, s.key))
              FROM aw.sidecars s
             WHERE s.store = v.store AND s.bucket = v.bucket AND s.subject = v.key
               AND s.kind = 'sha256' AND s.declared_sha256 IS NOT NULL
               AND v.id = (SELECT l.id FROM aw.object_versions l
                            WHERE l.store = v.store AND l.bucket = v.bucket AND l.key = v.key
                              AND l.state = 'present' AND NOT l.deleted
                            ORDER BY l.seq_key DESC NULLS LAST, aw.version_time(l) DESC, l.id DESC
                            LIMIT 1)
             ORDER BY s.declared_at DESC, s.id DESC LIMIT 1) AS sidecar,
           -- a child that declares other bytes for it
           (SELECT jsonb_build_object('expected', encode(d.declared_sha256, 'hex'),
                                      'declared_by', format('s3://%s/%s', c.bucket, c.key))
              FROM aw.edges e JOIN aw.lineage_decls d ON d.id = e.decl_id
              JOIN aw.object_versions c ON c.id = e.child_version_id
             WHERE e.parent_version_id = v.id AND e.state = 'mismatch'
               -- only a child's newest word on this parent counts
               AND NOT EXISTS (SELECT FROM aw.edges e2 JOIN aw.lineage_decls d2
                                 ON d2.id = e2.decl_id
                                WHERE e2.child_version_id = e.child_version_id
                                  AND d2.parent_bucket = d.parent_bucket
                                  AND d2.parent_key = d.parent_key
                                  AND (e2.declared_at, e2.id) > (e.declared_at, e.id))
             ORDER BY e.id LIMIT 1) AS edge,
           (SELECT k FROM aw.checks k
             WHERE k.object_version_id = v.id AND k.check_kind = 'etag_md5') AS etag
      FROM cand JOIN aw.object_versions v ON v.id = cand.id
     -- most versions have nothing declared and nothing open: they cost two probes
     WHERE EXISTS (SELECT FROM aw.sidecars s WHERE s.bucket = v.bucket AND s.subject = v.key
                     AND s.kind = 'sha256')
        OR EXISTS (SELECT FROM aw.edges e WHERE e.parent_version_id = v.id
                     AND e.state = 'mismatch')
        OR EXISTS (SELECT FROM aw.checks k WHERE k.object_version_id = v.id
                     AND k.check_kind = 'etag_md5')
        OR EXISTS (SELECT FROM aw.alerts a WHERE a.object_version_id = v.id
                     AND a.state = 'open')
  LOOP
    IF r.sidecar IS NOT NULL AND r.sidecar->>'expected' <> r.actual THEN
      PERFORM aw.alert_raise('declared_mismatch', r.id, r.sidecar->>'expected', r.actual,
                             r.sidecar);
      n := n + 1;
    ELSIF r.edge IS NOT NULL THEN
      PERFORM aw.alert_raise('declared_mismatch', r.id, r.edge->>'expected', r.actual, r.edge);
      n := n + 1;
    ELSE
      PERFORM aw.alert_resolve(ARRAY['declared_mismatch'], r.id);
    END IF;
    IF r.etag IS NOT NULL AND NOT (r.etag).ok THEN
      PERFORM aw.alert_raise('etag_mismatch', r.id, (r.etag).expected, (r.etag).actual,
                             jsonb_build_object('check', 'etag_md5'));
      n := n + 1;
    ELSIF r.etag IS NOT NULL THEN
      PERFORM aw.alert_resolve(ARRAY['etag_mismatch'], r.id);
    END IF;
  END LOOP;
  RETURN n;
END
$$;

CREATE OR REPLACE FUNCTION aw.scrub_record(p_results jsonb, p_interval interval) RETURNS void
  LANGUAGE plpgsql
  SET search_path = pg_catalog, aw, pg_temp AS $$
DECLARE
  r record;
  v record;
BEGIN
  FOR r IN SELECT * FROM jsonb_to_recordset(p_results)
                  AS x(id bigint, result text, actual text, store_sha256 text, error text,
                       detail jsonb) LOOP
    SELECT o.id, encode(o.sha256, 'hex') AS sha256, o.etag INTO v
      FROM aw.object_versions o WHERE o.id = r.id;
    CONTINUE WHEN NOT FOUND;
    UPDATE aw.scrub_state s
       SET last_verified_at = CASE WHEN r.result = 'failed' THEN s.last_verified_at ELSE now() END,
           last_result = CASE WHEN r.result = 'failed'
                              THEN CASE WHEN s.failures >= 1 THEN 'unreadable' ELSE s.last_result END
                              ELSE r.result END,
           last_error = r.error,
           failures = CASE WHEN r.result = 'failed' THEN s.failures + 1 ELSE 0 END,
           suspect = r.result NOT IN ('ok', 'changed')
                     OR (r.store_sha256 IS NOT NULL AND r.store_sha256 <> r.actual),
           due_at = CASE WHEN r.result = 'failed' AND s.failures = 0 THEN now()
                         ELSE now() + p_interval * (0.8 + 0.4 * ((hashint8(r.id) & 65535) / 65535.0))
                    END,
           lease_owner = NULL, lease_until = NULL
     WHERE s.object_version_id = r.id;
    IF r.result = 'ok' THEN
      PERFORM aw.alert_resolve(ARRAY['checksum_mismatch', 'missing', 'unreadable'], r.id);
    ELSIF r.result = 'checksum_mismatch' THEN
      PERFORM aw.alert_resolve(ARRAY['missing', 'unreadable'], r.id);
      PERFORM aw.alert_raise('checksum_mismatch', r.id, v.sha256, r.actual, r.detail);
    ELSIF r.result = 'missing' THEN
      PERFORM aw.alert_resolve(ARRAY['checksum_mismatch', 'unreadable'], r.id);
      PERFORM aw.alert_raise('missing', r.id, v.sha256, NULL, r.detail);
    ELSIF r.result = 'failed' AND
          (SELECT s.failures >= 2 FROM aw.scrub_state s WHERE s.object_version_id = r.id) THEN
      PERFORM aw.alert_raise('unreadable', r.id, v.sha256, NULL,
                             jsonb_build_object('error', r.error));
    END IF;
    -- the store's own checksum, when it sent one, against the bytes it sent
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

CREATE INDEX alerts_open_version ON aw.alerts (object_version_id) WHERE state = 'open';

REVOKE EXECUTE ON FUNCTION aw.integrity_refresh() FROM aw_reader;
