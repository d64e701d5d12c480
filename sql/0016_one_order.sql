-- One rule for "newest", one order of states.
--
-- Which version of a key is the newest is aw.version_order (0013): by the
-- store's sequencer when the versions have one, then by time, then by id.
-- The functions and views below ordered versions themselves, each with its
-- own copy of that rule; they now use aw.version_order, so the rule lives in
-- one place (the C code's SQL already does). The time-based choices that
-- answer "which version existed at time t" keep their time order and break
-- ties by aw.version_order.
--
-- The order of a version's states (present, superseded, vanished,
-- tombstone: when two observations of one version disagree, the earlier in
-- this list wins) is aw.state_rank, used by the indexer's batch statements.

CREATE FUNCTION aw.state_rank(s text) RETURNS integer
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  RETURN CASE s WHEN 'present' THEN 0 WHEN 'superseded' THEN 1
                WHEN 'vanished' THEN 2 ELSE 3 END;

CREATE FUNCTION aw.state_of_rank(r integer) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  RETURN (ARRAY['present', 'superseded', 'vanished', 'tombstone'])[1 + r];

-- The state a version has when two observations say a and b.
CREATE FUNCTION aw.state_merge(a text, b text) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  RETURN aw.state_of_rank(LEAST(aw.state_rank(a), aw.state_rank(b)));

CREATE OR REPLACE FUNCTION aw.integrity_refresh() RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'aw', 'pg_temp'
    AS $$
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
                            ORDER BY aw.version_order(l) DESC
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

CREATE OR REPLACE FUNCTION aw.lineage_walk(p_uri text, max_depth integer, as_of timestamp with time zone, upstream boolean, p_store text) RETURNS SETOF aw.lineage_node
    LANGUAGE plpgsql STABLE
    SET plan_cache_mode TO 'force_generic_plan'
    SET search_path TO 'pg_catalog', 'aw', 'pg_temp'
    AS $_$
DECLARE
  b text;
  k text;
  ids bigint[];      -- every node reached, in order (NULL: a parent never seen)
  eids bigint[];     -- the edge it was reached by
  preds integer[];   -- the position of the node it was reached from
  depths integer[];
  f_ids bigint[];    -- the frontier and the positions of its nodes
  f_pos integer[];
  n_ids bigint[];
  n_eids bigint[];
  n_preds integer[];
  seen bigint[];
  base integer;
  lvl integer := 0;
BEGIN
  IF p_uri !~ '^(s3|s3a|s3n|gs)://[^/]+/.' THEN
    RAISE EXCEPTION 'lineage: "%" is not an s3://bucket/key URI', p_uri
      USING ERRCODE = '22023';
  END IF;
  b := split_part(substring(p_uri from '://(.*)$'), '/', 1);
  k := substring(substring(p_uri from '://(.*)$') from length(b) + 2);
  SELECT array_agg(v.id) INTO f_ids
    FROM (SELECT DISTINCT ON (v.store) v.id FROM aw.object_versions v
           WHERE v.bucket = b AND v.key = k AND v.state <> 'tombstone'
             AND (p_store IS NULL OR v.store = p_store)
             AND (as_of IS NULL OR aw.version_time(v) <= as_of)
           ORDER BY v.store, aw.version_order(v) DESC) v;
  IF f_ids IS NULL THEN
    RETURN;
  END IF;
  ids := f_ids;
  seen := f_ids;
  eids := array_fill(NULL::bigint, ARRAY[cardinality(f_ids)]);
  preds := array_fill(NULL::integer, ARRAY[cardinality(f_ids)]);
  depths := array_fill(0, ARRAY[cardinality(f_ids)]);
  f_pos := ARRAY(SELECT generate_series(1, cardinality(f_ids)));
  WHILE lvl < max_depth AND cardinality(f_ids) > 0 LOOP
    lvl := lvl + 1;
    n_ids := NULL;
    IF upstream THEN
      SELECT array_agg(x.pid), array_agg(x.eid), array_agg(x.pos)
        INTO n_ids, n_eids, n_preds
        FROM (SELECT DISTINCT ON (COALESCE(e.parent_version_id, -e.decl_id), f.pos)
                     e.parent_version_id AS pid, e.id AS eid, f.pos
                FROM unnest(f_ids, f_pos) AS f(id, pos)
                JOIN aw.edges e ON e.child_version_id = f.id
               WHERE (as_of IS NULL OR e.declared_at <= as_of)
                 AND (e.parent_version_id IS NULL OR e.parent_version_id <> ALL (seen))
               ORDER BY COALESCE(e.parent_version_id, -e.decl_id), f.pos,
                        array_position(ARRAY['mismatch', 'missing', 'unverified', 'verified'],
                                       e.state), e.id) x;
    ELSE
      SELECT array_agg(x.cid), array_agg(x.eid), array_agg(x.pos)
        INTO n_ids, n_eids, n_preds
        FROM (SELECT DISTINCT ON (e.child_version_id, f.pos)
                     e.child_version_id AS cid, e.id AS eid, f.pos
                FROM unnest(f_ids, f_pos) AS f(id, pos)
                JOIN aw.edges e ON e.parent_version_id = f.id
               WHERE (as_of IS NULL OR e.declared_at <= as_of)
                 AND e.child_version_id <> ALL (seen)
               ORDER BY e.child_version_id, f.pos,
                        array_position(ARRAY['mismatch', 'missing', 'unverified', 'verified'],
                                       e.state), e.id) x;
    END IF;
    EXIT WHEN n_eids IS NULL;
    base := cardinality(ids);
    ids := ids || n_ids;
    eids := eids || n_eids;
    preds := preds || n_preds;
    depths := depths || array_fill(lvl, ARRAY[cardinality(n_eids)]);
    -- the next frontier: each new node once (a parent never seen has
    -- nothing upstream of it)
    SELECT array_agg(x.id ORDER BY x.i), array_agg(base + x.i::integer ORDER BY x.i)
      INTO f_ids, f_pos
      FROM (SELECT DISTINCT ON (u.id) u.id, u.i
              FROM unnest(n_ids) WITH ORDINALITY AS u(id, i) WHERE u.id IS NOT NULL
             ORDER BY u.id, u.i) x;
    seen := seen || f_ids;
  END LOOP;
  RETURN QUERY
  WITH RECURSIVE n AS MATERIALIZED (
    SELECT u.pos, u.depth, u.pred, u.eid, v.id AS vid,
           CASE WHEN v.id IS NOT NULL THEN format('s3://%s/%s', v.bucket, v.key)
                ELSE d.parent_uri END AS uri,
           aw.version_label(v) AS version, encode(v.sha256, 'hex') AS sha256,
           e.kind, e.state, encode(d.declared_sha256, 'hex') AS declared, s.run_key,
           s.code_commit, v.deleted
      FROM unnest(ids, eids, preds, depths) WITH ORDINALITY AS u(id, eid, pred, depth, pos)
      LEFT JOIN aw.object_versions v ON v.id = u.id
      LEFT JOIN aw.edges e ON e.id = u.eid
      LEFT JOIN aw.lineage_decls d ON d.id = e.decl_id
      LEFT JOIN aw.sidecars s ON s.id = d.sidecar_id
  ), p AS (
    SELECT n.pos, ARRAY[n.uri] AS path FROM n WHERE n.pred IS NULL
    UNION ALL
    SELECT n.pos, p.path || n.uri FROM n JOIN p ON n.pred = p.pos
  )
  SELECT DISTINCT ON (COALESCE(n.vid::text, n.uri))
         n.depth, n.uri, n.version, n.sha256, n.kind, n.state, n.declared, n.run_key,
         n.code_commit, n.deleted, n.vid, p.path
    FROM n JOIN p ON p.pos = n.pos LEFT JOIN n AS pn ON pn.pos = n.pred
   ORDER BY COALESCE(n.vid::text, n.uri), n.depth,
            array_position(ARRAY['mismatch', 'missing', 'unverified', 'verified'], n.state),
            pn.uri, n.pos;
END
$_$;

CREATE OR REPLACE FUNCTION aw.resolve_parent(p_store text, p_bucket text, p_key text, declared bytea, t timestamp with time zone, OUT version_id bigint, OUT state text) RETURNS record
    LANGUAGE plpgsql STABLE PARALLEL SAFE
    SET search_path TO 'pg_catalog', 'aw', 'pg_temp'
    AS $$
DECLARE
  latest_unversioned bigint;
BEGIN
  SELECT v.id INTO latest_unversioned FROM aw.object_versions v
   WHERE (p_store IS NULL OR v.store = p_store) AND v.bucket = p_bucket
     AND v.key = p_key AND v.state <> 'tombstone'
     AND v.version_id IS NULL
   ORDER BY aw.version_order(v) DESC LIMIT 1;
  IF declared IS NOT NULL THEN
    SELECT v.id INTO version_id FROM aw.object_versions v
     WHERE (p_store IS NULL OR v.store = p_store) AND v.bucket = p_bucket
     AND v.key = p_key AND v.state = 'present' AND NOT v.deleted
       AND v.sha256 = declared
       AND (v.version_id IS NOT NULL OR v.id = latest_unversioned)
     ORDER BY aw.version_order(v) DESC LIMIT 1;
    IF FOUND THEN
      state := 'verified';
      RETURN;
    END IF;
  END IF;
  SELECT v.id INTO version_id FROM aw.object_versions v
   WHERE (p_store IS NULL OR v.store = p_store) AND v.bucket = p_bucket
     AND v.key = p_key AND v.state = 'present' AND NOT v.deleted
     AND (v.version_id IS NOT NULL OR v.id = latest_unversioned)
   ORDER BY CASE WHEN declared IS NULL THEN aw.version_time(v) <= t END DESC NULLS LAST,
            CASE WHEN declared IS NULL AND aw.version_time(v) <= t THEN aw.version_time(v) END
              DESC NULLS LAST,
            CASE WHEN declared IS NULL THEN aw.version_time(v) END,
            aw.version_order(v) DESC
   LIMIT 1;
  IF FOUND THEN
    state := CASE WHEN declared IS NULL THEN 'unverified' ELSE 'mismatch' END;
    RETURN;
  END IF;
  -- never seen, deleted, or gone before it could be read: keep the last
  -- version we knew so the path still shows it
  SELECT v.id INTO version_id FROM aw.object_versions v
   WHERE (p_store IS NULL OR v.store = p_store) AND v.bucket = p_bucket
     AND v.key = p_key AND v.state <> 'tombstone'
   ORDER BY aw.version_order(v) DESC LIMIT 1;
  state := 'missing';
END
$$;

CREATE OR REPLACE VIEW aw.artifact_objects AS
 SELECT a.id AS artifact_id,
    a.name,
    a.version,
    a.artifact_type,
    format('s3://%s/%s'::text, o.bucket, o.key) AS uri,
    encode(o.sha256, 'hex'::text) AS sha256,
    o.size,
    o.event_time,
    o.id AS object_version_id
   FROM (aw.artifacts a
     JOIN aw.object_versions o ON (((o.store = a.store) AND (o.bucket = a.bucket) AND (aw.dirname(o.key) = a.folder))))
  WHERE ((o.state = 'present'::text) AND (NOT o.deleted) AND ((o.version_id IS NOT NULL) OR (o.id = ( SELECT l.id
           FROM aw.object_versions l
          WHERE ((l.store = o.store) AND (l.bucket = o.bucket) AND (l.key = o.key) AND (l.state <> 'tombstone'::text) AND (l.version_id IS NULL))
          ORDER BY aw.version_order(l) DESC
         LIMIT 1))) AND (NOT (EXISTS ( SELECT
           FROM aw.sidecars s
          WHERE ((s.bucket = o.bucket) AND (s.key = o.key) AND (s.store = o.store))))));

CREATE OR REPLACE VIEW aw.declared_checksums AS
 SELECT format('s3://%s/%s'::text, s.bucket, s.subject) AS uri,
    encode(s.declared_sha256, 'hex'::text) AS declared_sha256,
    encode(v.sha256, 'hex'::text) AS actual_sha256,
        CASE
            WHEN (v.id IS NULL) THEN 'missing'::text
            WHEN (v.sha256 = s.declared_sha256) THEN 'verified'::text
            ELSE 'mismatch'::text
        END AS state,
    format('s3://%s/%s'::text, s.bucket, s.key) AS declared_by,
    s.declared_at
   FROM (aw.sidecars s
     LEFT JOIN LATERAL ( SELECT o.id,
            o.sha256
           FROM aw.object_versions o
          WHERE ((o.store = s.store) AND (o.bucket = s.bucket) AND (o.key = s.subject) AND (o.state = 'present'::text) AND (NOT o.deleted))
          ORDER BY aw.version_order(o) DESC
         LIMIT 1) v ON (true))
  WHERE ((s.kind = 'sha256'::text) AND (s.declared_sha256 IS NOT NULL));

-- The version of a key at time t: the newest written by t, else the first
-- written after it; ties by aw.version_order.
CREATE OR REPLACE FUNCTION aw.version_at(p_store text, p_bucket text, p_key text, t timestamptz)
  RETURNS bigint LANGUAGE sql STABLE PARALLEL SAFE
  RETURN (SELECT v.id FROM aw.object_versions v
           WHERE (p_store IS NULL OR v.store = p_store) AND v.bucket = p_bucket
             AND v.key = p_key AND v.state <> 'tombstone'
           ORDER BY aw.version_time(v) <= t DESC,
                    CASE WHEN aw.version_time(v) <= t THEN aw.version_time(v) END DESC,
                    aw.version_time(v), aw.version_order(v) DESC
           LIMIT 1);
