-- 0003: trust boundaries and least privilege.
--  - A declaration binds only within the store of the sidecar that made it
--    (an OpenLineage message from Kafka carries the store of the ingest that
--    read it): aw.resolve_parent takes the store, aw.lineage_refresh passes
--    it, and the walks can be started in one store (NULL: any).
--  - aw_writer may not change aw.schema_migrations or rewrite the
--    append-only tables (observations, sidecars, declarations), and deletes
--    only edges, which lineage_refresh re-derives.
--  - Every function that is not an SQL-standard body (those are bound when
--    created) runs with a fixed search_path.
-- Shipped migrations are never edited: changes go in a new numbered file.

CREATE FUNCTION aw.resolve_parent(p_store text, p_bucket text, p_key text, declared bytea,
                                  t timestamptz, OUT version_id bigint, OUT state text)
  LANGUAGE plpgsql STABLE PARALLEL SAFE
  SET search_path = pg_catalog, aw, pg_temp AS $$
DECLARE
  latest_unversioned bigint;
BEGIN
  SELECT v.id INTO latest_unversioned FROM aw.object_versions v
   WHERE (p_store IS NULL OR v.store = p_store) AND v.bucket = p_bucket
     AND v.key = p_key AND v.state <> 'tombstone'
     AND v.version_id IS NULL
   ORDER BY v.seq_key DESC NULLS LAST, aw.version_time(v) DESC, v.id DESC LIMIT 1;
  IF declared IS NOT NULL THEN
    SELECT v.id INTO version_id FROM aw.object_versions v
     WHERE (p_store IS NULL OR v.store = p_store) AND v.bucket = p_bucket
     AND v.key = p_key AND v.state = 'present' AND NOT v.deleted
       AND v.sha256 = declared
       AND (v.version_id IS NOT NULL OR v.id = latest_unversioned)
     ORDER BY aw.version_time(v) DESC, v.id DESC LIMIT 1;
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
            aw.version_time(v) DESC, v.id DESC
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
   ORDER BY aw.version_time(v) DESC, v.id DESC LIMIT 1;
  state := 'missing';
END
$$;


-- The store-blind form stays for callers of 0002: any store.
CREATE OR REPLACE FUNCTION aw.resolve_parent(p_bucket text, p_key text, declared bytea,
                                             t timestamptz, OUT version_id bigint,
                                             OUT state text)
  LANGUAGE sql STABLE PARALLEL SAFE
  SET search_path = pg_catalog, aw, pg_temp AS $$
  SELECT * FROM aw.resolve_parent(NULL, p_bucket, p_key, declared, t)
$$;

CREATE OR REPLACE FUNCTION aw.lineage_refresh(p_store text[], p_bucket text[], p_key text[])
  RETURNS integer LANGUAGE plpgsql
  SET search_path = pg_catalog, aw, pg_temp AS $$
DECLARE
  changed integer := 0;
  n integer;
BEGIN
  IF to_regclass('pg_temp.aw_touched') IS NULL THEN
    CREATE TEMP TABLE aw_touched (store text, bucket text, key text, folder text)
      ON COMMIT DELETE ROWS;
    CREATE TEMP TABLE aw_affected (decl_id bigint PRIMARY KEY) ON COMMIT DELETE ROWS;
  END IF;
  -- DELETE, not TRUNCATE: a temporary table's TRUNCATE rewrites the catalog
  DELETE FROM aw_touched;
  DELETE FROM aw_affected;
  INSERT INTO aw_touched
  SELECT s, b, k, aw.dirname(k)
    FROM unnest(p_store, p_bucket, p_key) AS t(s, b, k) WHERE b IS NOT NULL AND k IS NOT NULL;

  -- artifacts named by the folder convention or by a folder metadata.json:
  -- each touched folder once
  INSERT INTO aw.artifacts AS a (store, bucket, folder, name, version)
  SELECT f.store, f.bucket, f.folder, m.name, m.version
    FROM (SELECT DISTINCT store, bucket, folder FROM aw_touched WHERE store IS NOT NULL) f
    CROSS JOIN LATERAL aw.folder_artifact(f.folder) m
   WHERE m.name IS NOT NULL
      OR EXISTS (SELECT FROM aw.sidecars s WHERE s.bucket = f.bucket AND s.subject = f.folder
                   AND s.kind IN ('metadata', 'metrics') AND s.store = f.store)
  ON CONFLICT (store, bucket, folder) DO NOTHING;
  -- buckets no sidecar lives in and no declaration names cost nothing more
  IF NOT EXISTS (SELECT FROM aw.sidecars s
                  WHERE s.bucket IN (SELECT DISTINCT t.bucket FROM aw_touched t))
     AND NOT EXISTS (SELECT FROM aw.lineage_decls d
                      WHERE d.parent_bucket IN (SELECT DISTINCT t.bucket FROM aw_touched t))
     AND NOT EXISTS (SELECT FROM aw.lineage_decls d
                      WHERE d.child_key IS NOT NULL
                        AND d.child_bucket IN (SELECT DISTINCT t.bucket FROM aw_touched t)) THEN
    RETURN 0;
  END IF;

  -- metadata and metrics of the folders whose metadata.json or metrics.json
  -- arrived in this batch
  UPDATE aw.artifacts a
     SET name = COALESCE(md.name, (aw.folder_artifact(a.folder)).name, a.name),
         version = COALESCE(md.version, (aw.folder_artifact(a.folder)).version, a.version),
         artifact_type = md.artifact_type, metadata = md.doc, metrics = mt.doc,
         updated_at = now()
    FROM (SELECT DISTINCT t.store, t.bucket, t.folder FROM aw_touched t
           WHERE EXISTS (SELECT FROM aw.sidecars s WHERE s.bucket = t.bucket AND s.key = t.key
                           AND s.kind IN ('metadata', 'metrics') AND s.store = t.store)) t
    LEFT JOIN LATERAL (SELECT s.name, s.version, s.artifact_type, s.doc FROM aw.sidecars s
                        WHERE s.bucket = t.bucket AND s.subject = t.folder
                          AND s.kind = 'metadata' AND s.store = t.store AND s.doc IS NOT NULL
                        ORDER BY s.declared_at DESC, s.id DESC LIMIT 1) md ON true
    LEFT JOIN LATERAL (SELECT s.doc FROM aw.sidecars s
                        WHERE s.bucket = t.bucket AND s.subject = t.folder
                          AND s.kind = 'metrics' AND s.store = t.store AND s.doc IS NOT NULL
                        ORDER BY s.declared_at DESC, s.id DESC LIMIT 1) mt ON true
   WHERE a.store = t.store AND a.bucket = t.bucket AND a.folder = t.folder
     AND (a.name, a.version, a.artifact_type, a.metadata, a.metrics) IS DISTINCT FROM
         (COALESCE(md.name, (aw.folder_artifact(a.folder)).name, a.name),
          COALESCE(md.version, (aw.folder_artifact(a.folder)).version, a.version),
          md.artifact_type, md.doc, mt.doc);

  -- declarations the touched keys can change
  INSERT INTO aw_affected
  SELECT d.id FROM aw_touched t JOIN aw.lineage_decls d
    ON d.parent_bucket = t.bucket AND d.parent_key = t.key
  UNION
  SELECT d.id FROM aw_touched t JOIN aw.lineage_decls d
    ON d.child_key IS NOT NULL AND d.child_bucket = t.bucket AND d.child_key = t.key
  UNION
  SELECT d.id FROM aw_touched t
    JOIN aw.sidecars s ON s.bucket = t.bucket AND s.subject = t.key AND s.scope = 'file'
    JOIN aw.lineage_decls d ON d.sidecar_id = s.id
  UNION
  SELECT d.id FROM aw_touched t
    JOIN aw.sidecars s ON s.bucket = t.bucket AND s.subject = t.folder AND s.scope = 'folder'
    JOIN aw.lineage_decls d ON d.sidecar_id = s.id
  UNION
  SELECT d.id FROM aw_touched t
    JOIN aw.sidecars s ON s.bucket = t.bucket AND s.key = t.key
    JOIN aw.lineage_decls d ON d.sidecar_id = s.id;
  GET DIAGNOSTICS n = ROW_COUNT;
  IF n = 0 THEN
    RETURN 0;
  END IF;

  WITH d AS (
    SELECT d.*, s.store AS s_store, s.bucket AS s_bucket, s.scope, s.subject, s.kind AS s_kind,
           s.declared_at
      FROM aw_affected a JOIN aw.lineage_decls d ON d.id = a.decl_id
      JOIN aw.sidecars s ON s.id = d.sidecar_id
  ), kids AS (
    -- OpenLineage: the output it names
    SELECT d.id AS decl_id, aw.version_at(d.s_store, d.child_bucket, d.child_key, d.declared_at)
             AS cv
      FROM d WHERE d.child_key IS NOT NULL
    UNION ALL
    -- <file>.metadata.json: the file
    SELECT d.id, aw.version_at(d.s_store, d.s_bucket, d.subject, d.declared_at)
      FROM d WHERE d.child_key IS NULL AND d.scope = 'file'
    UNION ALL
    -- metadata.json: every ordinary file of the folder without its own metadata
    SELECT d.id, aw.version_at(d.s_store, d.s_bucket, f.key, d.declared_at)
      FROM d
      CROSS JOIN LATERAL (
        SELECT DISTINCT o.key FROM aw.object_versions o
         WHERE o.store = d.s_store AND o.bucket = d.s_bucket AND aw.dirname(o.key) = d.subject
           AND o.state <> 'tombstone'
           AND NOT EXISTS (SELECT FROM aw.sidecars x WHERE x.bucket = o.bucket AND x.key = o.key
                             AND x.store = o.store)
           AND NOT EXISTS (SELECT FROM aw.sidecars x WHERE x.bucket = o.bucket
                             AND x.subject = o.key AND x.kind = 'file_metadata'
                             AND x.store = o.store)) f
     WHERE d.child_key IS NULL AND d.scope = 'folder'
  ), resolved AS (
    SELECT k.decl_id, k.cv, p.version_id AS pv, p.state, d.kind, d.declared_at
      FROM kids k JOIN d ON d.id = k.decl_id
      CROSS JOIN LATERAL aw.resolve_parent(d.s_store, d.parent_bucket, d.parent_key,
                                           d.declared_sha256, d.declared_at) p
     WHERE k.cv IS NOT NULL
  ), up AS (
    INSERT INTO aw.edges AS e (decl_id, child_version_id, parent_version_id, kind, state,
                               declared_at)
    SELECT decl_id, cv, pv, kind, state, declared_at FROM resolved
    ON CONFLICT (decl_id, child_version_id) DO UPDATE
       SET parent_version_id = excluded.parent_version_id, state = excluded.state,
           resolved_at = now()
     WHERE (e.parent_version_id, e.state) IS DISTINCT FROM
           (excluded.parent_version_id, excluded.state)
    RETURNING 1
  ), gone AS (
    DELETE FROM aw.edges e USING aw_affected a
     WHERE e.decl_id = a.decl_id
       AND NOT EXISTS (SELECT FROM resolved r WHERE r.decl_id = e.decl_id AND r.cv = e.child_version_id)
    RETURNING 1
  )
  SELECT (SELECT count(*) FROM up) + (SELECT count(*) FROM gone) INTO changed;
  RETURN changed;
END
$$;

CREATE FUNCTION aw.lineage_walk(p_uri text, max_depth integer, as_of timestamptz,
                                upstream boolean, p_store text)
  RETURNS SETOF aw.lineage_node LANGUAGE plpgsql STABLE
  SET plan_cache_mode = force_generic_plan
  SET search_path = pg_catalog, aw, pg_temp AS $$
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
           ORDER BY v.store, v.seq_key DESC NULLS LAST, aw.version_time(v) DESC, v.id DESC) v;
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
$$;

-- The walks of 0002 keep their signatures and look in every store; the
-- forms with a store look in that one.
CREATE OR REPLACE FUNCTION aw.lineage_walk(p_uri text, max_depth integer, as_of timestamptz,
                                           upstream boolean)
  RETURNS SETOF aw.lineage_node LANGUAGE sql STABLE
  SET search_path = pg_catalog, aw, pg_temp AS $$
  SELECT * FROM aw.lineage_walk(p_uri, max_depth, as_of, upstream, NULL)
$$;

CREATE FUNCTION aw.lineage_upstream(uri text, max_depth integer, as_of timestamptz, store text)
  RETURNS SETOF aw.lineage_node LANGUAGE sql STABLE
  SET search_path = pg_catalog, aw, pg_temp AS $$
  SELECT * FROM aw.lineage_walk(uri, max_depth, as_of, true, store)
$$;

CREATE FUNCTION aw.lineage_downstream(uri text, max_depth integer, as_of timestamptz,
                                      store text)
  RETURNS SETOF aw.lineage_node LANGUAGE sql STABLE
  SET search_path = pg_catalog, aw, pg_temp AS $$
  SELECT * FROM aw.lineage_walk(uri, max_depth, as_of, false, store)
$$;

ALTER FUNCTION aw.folder_artifact(text) SET search_path = pg_catalog, aw, pg_temp;
ALTER FUNCTION aw.lineage_upstream(text, integer, timestamptz)
  SET search_path = pg_catalog, aw, pg_temp;
ALTER FUNCTION aw.lineage_downstream(text, integer, timestamptz)
  SET search_path = pg_catalog, aw, pg_temp;

-- Documents from Kafka written before this migration have no store; they
-- came from the only store such a deployment had.
UPDATE aw.sidecars s SET store = v.store
  FROM (SELECT min(store) AS store FROM aw.object_versions HAVING count(DISTINCT store) = 1) v
 WHERE s.store IS NULL;

-- Least privilege for the daemons.
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON aw.schema_migrations FROM aw_writer;
REVOKE UPDATE, DELETE, TRUNCATE ON aw.observations, aw.sidecars, aw.lineage_decls FROM aw_writer;
REVOKE DELETE, TRUNCATE ON aw.object_versions, aw.checks, aw.runs, aw.code_commits, aw.artifacts
  FROM aw_writer;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA aw TO aw_reader, aw_writer;
