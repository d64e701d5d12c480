-- 0005: integrity. Scrub progress per object version (what was verified,
-- when, with what result; leases so several workers share a round), and
-- alerts: one row per kind of problem and object version, opened by whoever
-- finds it in the transaction that records it, with its blast radius.
-- Shipped migrations are never edited: changes go in a new numbered file.

CREATE TABLE aw.scrub_state (
  object_version_id bigint      PRIMARY KEY REFERENCES aw.object_versions (id) ON DELETE CASCADE,
  due_at            timestamptz NOT NULL,
  last_verified_at  timestamptz,
  last_result       text        CHECK (last_result IN ('ok', 'checksum_mismatch', 'missing',
                                                       'unreadable', 'changed')),
  last_error        text,
  failures          integer     NOT NULL DEFAULT 0,  -- consecutive failed reads
  suspect           boolean     NOT NULL DEFAULT false,
  lease_owner       text,
  lease_until       timestamptz
);
CREATE INDEX scrub_state_due ON aw.scrub_state (due_at);
CREATE INDEX scrub_state_suspect ON aw.scrub_state (object_version_id) WHERE suspect;

CREATE TABLE aw.alerts (
  id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind              text        NOT NULL
                    CHECK (kind IN ('declared_mismatch', 'etag_mismatch',
                                    'store_checksum_mismatch', 'checksum_mismatch', 'missing',
                                    'unreadable')),
  state             text        NOT NULL CHECK (state IN ('open', 'resolved')),
  store             text        NOT NULL,
  bucket            text        NOT NULL,
  key               text        NOT NULL,
  version_id        text,
  object_version_id bigint      NOT NULL,
  expected          text,
  actual            text,
  first_seen_at     timestamptz NOT NULL DEFAULT now(),
  last_seen_at      timestamptz NOT NULL DEFAULT now(),
  seen_count        integer     NOT NULL DEFAULT 1,
  resolved_at       timestamptz,
  blast_radius      integer     NOT NULL DEFAULT 0,
  blast_uris        text[]      NOT NULL DEFAULT '{}',
  detail            jsonb,
  UNIQUE (kind, object_version_id)
);
CREATE INDEX alerts_open ON aw.alerts (id) WHERE state = 'open';

-- What depends on a version: every artifact downstream of it, at any depth
-- (up to 50), counted, and the first 100 URIs.
CREATE FUNCTION aw.blast_radius(p_version bigint, OUT n integer, OUT uris text[])
  LANGUAGE sql STABLE
  SET search_path = pg_catalog, aw, pg_temp AS $$
  SELECT count(DISTINCT d.uri)::integer,
         COALESCE((array_agg(DISTINCT d.uri))[1:100], '{}')
    FROM aw.object_versions v,
         aw.lineage_walk(format('s3://%s/%s', v.bucket, v.key), 50, NULL, false, v.store) d
   WHERE v.id = p_version AND d.depth > 0
$$;

-- Opens (or sees again) the alert of a kind for a version, with its blast
-- radius, and wakes listeners on aw_alerts with the alert id. Returns it.
CREATE FUNCTION aw.alert_raise(p_kind text, p_version bigint, p_expected text, p_actual text,
                               p_detail jsonb DEFAULT NULL) RETURNS bigint
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
  RETURN a_id;
END
$$;

-- Resolves the open alerts of the given kinds for a version (a later check
-- found the bytes right); wakes listeners for each. Returns how many.
CREATE FUNCTION aw.alert_resolve(p_kinds text[], p_version bigint) RETURNS integer
  LANGUAGE plpgsql
  SET search_path = pg_catalog, aw, pg_temp AS $$
DECLARE
  r record;
  n integer := 0;
BEGIN
  FOR r IN UPDATE aw.alerts SET state = 'resolved', resolved_at = now()
            WHERE object_version_id = p_version AND kind = ANY (p_kinds) AND state = 'open'
           RETURNING id LOOP
    PERFORM pg_notify('aw_alerts', r.id::text);
    n := n + 1;
  END LOOP;
  RETURN n;
END
$$;

-- Records one batch of scrub results, given as JSON objects {id, result,
-- actual, error, detail}: progress, the next due time (interval spread by
-- +-20% on the version id, so a bulk upload does not come due at once), and
-- the alerts each result opens or resolves. A read that fails twice in a
-- row is 'unreadable'; the first failure makes the version a suspect.
CREATE FUNCTION aw.scrub_record(p_results jsonb, p_interval interval) RETURNS void
  LANGUAGE plpgsql
  SET search_path = pg_catalog, aw, pg_temp AS $$
DECLARE
  r record;
  v record;
BEGIN
  FOR r IN SELECT * FROM jsonb_to_recordset(p_results)
                  AS x(id bigint, result text, actual text, error text, detail jsonb) LOOP
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
           suspect = r.result <> 'ok' AND r.result <> 'changed',
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
  END LOOP;
END
$$;

-- Least privilege: alerts are opened and resolved, never deleted.
REVOKE DELETE, TRUNCATE ON aw.alerts FROM aw_writer;
REVOKE TRUNCATE ON aw.scrub_state FROM aw_writer;
REVOKE EXECUTE ON FUNCTION aw.alert_raise(text, bigint, text, text, jsonb),
  aw.alert_resolve(text[], bigint), aw.scrub_record(jsonb, interval) FROM aw_reader;
