-- 0010: aw.lineage_refresh decides that a batch touches no lineage with an
-- index probe per bucket. With 1,000,000 sidecars and 2,000,000 declarations
-- in another bucket, the check of 0003 read both tables whole for every
-- batch (0.8 s), because the planner guessed 200 buckets in the batch.
-- The body is 0003's otherwise unchanged.
-- Shipped migrations are never edited: changes go in a new numbered file.

CREATE OR REPLACE FUNCTION aw.lineage_refresh(p_store text[], p_bucket text[], p_key text[])
  RETURNS integer LANGUAGE plpgsql
  SET search_path = pg_catalog, aw, pg_temp AS $$
DECLARE
  changed integer := 0;
  n integer;
  v_bucket text;
  v_lineage boolean := false;
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
  -- (asked bucket by bucket, each query planned for its bucket: the
  -- temporary table has no statistics, a semi-join on the planner's guess of
  -- 200 buckets read both tables whole, and so did a generic plan wherever
  -- one bucket holds most rows)
  FOR v_bucket IN SELECT DISTINCT t.bucket FROM aw_touched t LOOP
    EXECUTE 'SELECT EXISTS (SELECT FROM aw.sidecars s WHERE s.bucket = $1)'
         || ' OR EXISTS (SELECT FROM aw.lineage_decls d WHERE d.parent_bucket = $1)'
         || ' OR EXISTS (SELECT FROM aw.lineage_decls d'
         || '             WHERE d.child_key IS NOT NULL AND d.child_bucket = $1)'
       INTO v_lineage USING v_bucket;
    EXIT WHEN v_lineage;
  END LOOP;
  IF NOT v_lineage THEN
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
