-- 0002: the lineage graph. Sidecars (metadata.json, <file>.metadata.json,
-- <file>.sha256, metrics.json, OpenLineage events) as they were read;
-- the lineage they declare; edges between object versions with a state
-- that says how sure we are; artifacts, runs and code commits; and the
-- query functions aw.lineage_upstream / aw.lineage_downstream.
-- Shipped migrations are never edited: changes go in a new numbered file.

-- The folder of a key: everything up to and including the last '/', '' at
-- the root.
-- (Not STRICT, so the planner inlines it.)
CREATE FUNCTION aw.dirname(k text) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  RETURN CASE WHEN strpos(k, '/') = 0 THEN ''
              ELSE left(k, length(k) - strpos(reverse(k), '/') + 1) END;

-- The folder leads: with (store, bucket) first, a planner without
-- statistics (a new table) took this index for lookups by key and scanned a
-- whole bucket per row.
CREATE INDEX object_versions_folder ON aw.object_versions (aw.dirname(key), bucket, store);
-- URIs name a bucket and key but no store: lineage looks versions up by these
CREATE INDEX object_versions_bucket_key ON aw.object_versions (bucket, key);

-- When a version was written, as far as we know.
CREATE FUNCTION aw.version_time(v aw.object_versions) RETURNS timestamptz
  LANGUAGE sql STABLE PARALLEL SAFE
  RETURN COALESCE(v.event_time, v.first_seen_at);

-- How a version is shown to people: the store's version id, else the
-- sequencer the store sent, else the ETag.
CREATE FUNCTION aw.version_label(v aw.object_versions) RETURNS text
  LANGUAGE sql STABLE PARALLEL SAFE
  RETURN COALESCE(v.version_id, 'seq:' || v.sequencer, 'etag:' || v.etag, v.version_ref);

-- Every sidecar read, whether or not it made sense: parse_error says what
-- was wrong, and everything that could be understood is kept. Object
-- sidecars are identified by their object version (a version's bytes never
-- change); OpenLineage messages from Kafka by their record.
CREATE TABLE aw.sidecars (
  id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  object_version_id bigint UNIQUE,
  kafka_topic       text,
  kafka_partition   integer,
  kafka_offset      bigint,
  kafka_timestamp   bigint,
  store             text,
  bucket            text,
  key               text,
  kind              text        NOT NULL
                    CHECK (kind IN ('metadata', 'file_metadata', 'sha256', 'metrics',
                                    'openlineage')),
  scope             text        CHECK (scope IN ('folder', 'file')),  -- NULL: OpenLineage
  subject           text,       -- the folder ('a/b/') or the file key it describes
  doc               jsonb,      -- the document; NULL when it could not be read
  parse_error       text,       -- NULL when everything was understood
  declared_sha256   bytea       CHECK (octet_length(declared_sha256) = 32),
  declared_at       timestamptz NOT NULL,  -- when it was written (event time)
  created_at        timestamptz,           -- created_at / eventTime, when it parses
  artifact_type     text,
  name              text,
  version           text,
  code_commit       text,
  run_key           text,       -- training_run_id or OpenLineage run.runId
  job               text,       -- OpenLineage job namespace/name
  event_type        text,       -- OpenLineage eventType
  indexed_at        timestamptz NOT NULL DEFAULT now(),
  UNIQUE (kafka_topic, kafka_partition, kafka_offset, kafka_timestamp)
);
CREATE INDEX sidecars_subject ON aw.sidecars (bucket, subject, kind);
CREATE INDEX sidecars_key ON aw.sidecars (bucket, key);
CREATE INDEX sidecars_doc ON aw.sidecars USING gin (doc jsonb_path_ops);
CREATE INDEX sidecars_errors ON aw.sidecars (indexed_at) WHERE parse_error IS NOT NULL;

CREATE TABLE aw.runs (
  run_key        text        PRIMARY KEY,
  job            text,
  last_event     text,
  first_seen_at  timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE aw.code_commits (
  commit         text        PRIMARY KEY,
  first_seen_at  timestamptz NOT NULL DEFAULT now()
);

-- What a sidecar declares: "the object at parent_uri is an input". The
-- children are the sidecar's subjects (every ordinary file of a folder, or
-- one file), or for OpenLineage the output named here.
CREATE TABLE aw.lineage_decls (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  sidecar_id      bigint NOT NULL REFERENCES aw.sidecars (id) ON DELETE CASCADE,
  ordinal         integer NOT NULL,
  kind            text   NOT NULL CHECK (kind IN ('data', 'openlineage')),
  child_bucket    text,
  child_key       text,
  parent_uri      text   NOT NULL,
  parent_bucket   text   NOT NULL,
  parent_key      text   NOT NULL,
  declared_sha256 bytea  CHECK (octet_length(declared_sha256) = 32),
  UNIQUE (sidecar_id, ordinal)
);
CREATE INDEX lineage_decls_parent ON aw.lineage_decls (parent_bucket, parent_key);
CREATE INDEX lineage_decls_child ON aw.lineage_decls (child_bucket, child_key)
  WHERE child_key IS NOT NULL;

-- The graph: child version <- parent version. parent_version_id is NULL
-- when the parent was never seen. state:
--   verified    the declared checksum is the parent's measured SHA-256
--   mismatch    a checksum was declared and the bytes at the URI differ
--   unverified  no checksum was declared
--   missing     the parent was never seen, or is deleted
CREATE TABLE aw.edges (
  id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  decl_id           bigint      NOT NULL REFERENCES aw.lineage_decls (id) ON DELETE CASCADE,
  child_version_id  bigint      NOT NULL,
  parent_version_id bigint,
  kind              text        NOT NULL,
  state             text        NOT NULL
                    CHECK (state IN ('verified', 'mismatch', 'unverified', 'missing')),
  declared_at       timestamptz NOT NULL,
  resolved_at       timestamptz NOT NULL DEFAULT now(),
  UNIQUE (decl_id, child_version_id)
);
CREATE INDEX edges_child ON aw.edges (child_version_id);
CREATE INDEX edges_parent ON aw.edges (parent_version_id);
CREATE INDEX edges_state ON aw.edges (state) WHERE state IN ('mismatch', 'missing');

-- Logical artifacts: a version folder <prefix>/<name>/<version>/ or a
-- folder whose metadata.json names the artifact. metadata and metrics are
-- the folder's latest metadata.json and metrics.json.
CREATE TABLE aw.artifacts (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  store          text        NOT NULL,
  bucket         text        NOT NULL,
  folder         text        NOT NULL,
  name           text,
  version        text,
  artifact_type  text,
  metadata       jsonb,
  metrics        jsonb,
  first_seen_at  timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  UNIQUE (store, bucket, folder)
);
CREATE INDEX artifacts_name ON aw.artifacts (name, version);
CREATE INDEX artifacts_metadata ON aw.artifacts USING gin (metadata jsonb_path_ops);
CREATE INDEX artifacts_metrics ON aw.artifacts USING gin (metrics jsonb_path_ops);

-- name and version from the <prefix>/<name>/<version>/ convention: the last
-- folder segment looks like a version (1, v2, 1.0.3, v1.2.0-rc1, 2024-05-01).
CREATE FUNCTION aw.folder_artifact(folder text, OUT name text, OUT version text)
  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT m[1], m[2]
    FROM regexp_match(folder, '(?:^|/)([^/]+)/([vV]?[0-9]+(?:[._-][0-9A-Za-z]+)*)/$') m
$$;

-- The version of a key to bind to for something said at time t: the one
-- current at t, else (the key was written later) the first after t.
-- Tombstones never bind. store NULL matches any store.
CREATE FUNCTION aw.version_at(p_store text, p_bucket text, p_key text, t timestamptz)
  RETURNS bigint LANGUAGE sql STABLE PARALLEL SAFE
  RETURN (SELECT v.id FROM aw.object_versions v
           WHERE (p_store IS NULL OR v.store = p_store) AND v.bucket = p_bucket
             AND v.key = p_key AND v.state <> 'tombstone'
           ORDER BY aw.version_time(v) <= t DESC,
                    CASE WHEN aw.version_time(v) <= t THEN aw.version_time(v) END DESC,
                    aw.version_time(v), v.seq_key DESC NULLS LAST, v.id DESC
           LIMIT 1);

-- Binds a declared parent and says how sure we are. A version is live when
-- its bytes are in the store: present, not deleted, and in an unversioned
-- bucket the latest write of its key (an overwrite replaces the bytes).
CREATE FUNCTION aw.resolve_parent(p_bucket text, p_key text, declared bytea, t timestamptz,
                                  OUT version_id bigint, OUT state text)
  LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE
  latest_unversioned bigint;
BEGIN
  SELECT v.id INTO latest_unversioned FROM aw.object_versions v
   WHERE v.bucket = p_bucket AND v.key = p_key AND v.state <> 'tombstone'
     AND v.version_id IS NULL
   ORDER BY v.seq_key DESC NULLS LAST, aw.version_time(v) DESC, v.id DESC LIMIT 1;
  IF declared IS NOT NULL THEN
    SELECT v.id INTO version_id FROM aw.object_versions v
     WHERE v.bucket = p_bucket AND v.key = p_key AND v.state = 'present' AND NOT v.deleted
       AND v.sha256 = declared
       AND (v.version_id IS NOT NULL OR v.id = latest_unversioned)
     ORDER BY aw.version_time(v) DESC, v.id DESC LIMIT 1;
    IF FOUND THEN
      state := 'verified';
      RETURN;
    END IF;
  END IF;
  SELECT v.id INTO version_id FROM aw.object_versions v
   WHERE v.bucket = p_bucket AND v.key = p_key AND v.state = 'present' AND NOT v.deleted
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
   WHERE v.bucket = p_bucket AND v.key = p_key AND v.state <> 'tombstone'
   ORDER BY aw.version_time(v) DESC, v.id DESC LIMIT 1;
  state := 'missing';
END
$$;

-- Re-derives everything lineage-related that the given keys touch: the
-- artifacts of their folders, and the edges of every declaration whose
-- sidecar, subject, child or parent is one of them. Set-based and
-- idempotent: a replay rewrites nothing. Called by the indexer once per
-- batch; safe to call by hand (store NULL matches any store).
CREATE FUNCTION aw.lineage_refresh(p_store text[], p_bucket text[], p_key text[])
  RETURNS integer LANGUAGE plpgsql AS $$
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
    SELECT d.id AS decl_id, aw.version_at(NULL, d.child_bucket, d.child_key, d.declared_at) AS cv
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
      CROSS JOIN LATERAL aw.resolve_parent(d.parent_bucket, d.parent_key, d.declared_sha256,
                                           d.declared_at) p
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

-- One readable row per edge.
CREATE VIEW aw.lineage_edges AS
SELECT format('s3://%s/%s', c.bucket, c.key) AS child_uri,
       aw.version_label(c)  AS child_version,
       encode(c.sha256, 'hex')               AS child_sha256,
       d.parent_uri,
       aw.version_label(p)  AS parent_version,
       encode(p.sha256, 'hex')               AS parent_sha256,
       encode(d.declared_sha256, 'hex')      AS declared_sha256,
       e.kind,
       e.state,
       s.artifact_type                       AS child_artifact_type,
       s.run_key,
       s.code_commit,
       CASE WHEN s.key IS NOT NULL THEN format('s3://%s/%s', s.bucket, s.key)
            ELSE format('kafka://%s/%s/%s', s.kafka_topic, s.kafka_partition, s.kafka_offset)
       END                                   AS declared_by,
       e.declared_at,
       e.resolved_at,
       e.child_version_id,
       e.parent_version_id,
       e.id                                  AS edge_id
  FROM aw.edges e
  JOIN aw.lineage_decls d ON d.id = e.decl_id
  JOIN aw.sidecars s ON s.id = d.sidecar_id
  JOIN aw.object_versions c ON c.id = e.child_version_id
  LEFT JOIN aw.object_versions p ON p.id = e.parent_version_id;

-- The files of each artifact (sidecars left out), current versions only.
CREATE VIEW aw.artifact_objects AS
SELECT a.id AS artifact_id,
       a.name,
       a.version,
       a.artifact_type,
       format('s3://%s/%s', o.bucket, o.key) AS uri,
       encode(o.sha256, 'hex') AS sha256,
       o.size,
       o.event_time,
       o.id AS object_version_id
  FROM aw.artifacts a
  JOIN aw.object_versions o
    ON o.store = a.store AND o.bucket = a.bucket AND aw.dirname(o.key) = a.folder
 WHERE o.state = 'present' AND NOT o.deleted
   AND (o.version_id IS NOT NULL OR o.id = (
         SELECT l.id FROM aw.object_versions l
          WHERE l.store = o.store AND l.bucket = o.bucket AND l.key = o.key
            AND l.state <> 'tombstone' AND l.version_id IS NULL
          ORDER BY l.seq_key DESC NULLS LAST, aw.version_time(l) DESC, l.id DESC LIMIT 1))
   AND NOT EXISTS (SELECT FROM aw.sidecars s WHERE s.bucket = o.bucket AND s.key = o.key
                     AND s.store = o.store);

-- Declared checksums of files (<file>.sha256) against what was measured.
CREATE VIEW aw.declared_checksums AS
SELECT format('s3://%s/%s', s.bucket, s.subject) AS uri,
       encode(s.declared_sha256, 'hex') AS declared_sha256,
       encode(v.sha256, 'hex') AS actual_sha256,
       CASE WHEN v.id IS NULL THEN 'missing'
            WHEN v.sha256 = s.declared_sha256 THEN 'verified'
            ELSE 'mismatch' END AS state,
       format('s3://%s/%s', s.bucket, s.key) AS declared_by,
       s.declared_at
  FROM aw.sidecars s
  LEFT JOIN LATERAL (SELECT o.id, o.sha256 FROM aw.object_versions o
                      WHERE o.store = s.store AND o.bucket = s.bucket AND o.key = s.subject
                        AND o.state = 'present' AND NOT o.deleted
                      ORDER BY o.seq_key DESC NULLS LAST, aw.version_time(o) DESC, o.id DESC
                      LIMIT 1) v ON true
 WHERE s.kind = 'sha256' AND s.declared_sha256 IS NOT NULL;

-- One reachable node of a lineage walk.
CREATE TYPE aw.lineage_node AS (
  depth             integer,
  uri               text,
  version           text,
  sha256            text,
  edge_kind         text,     -- how it was reached; NULL for the start
  edge_state        text,
  declared_sha256   text,
  run_key           text,
  code_commit       text,
  deleted           boolean,
  object_version_id bigint,   -- NULL for a parent never seen
  path              text[]    -- uris from the start to this node
);

-- Breadth-first walk from the version of uri current at as_of (now when
-- NULL), upstream (towards inputs) or downstream (towards what was made
-- from it). Every node is reported once, at its smallest depth, so cycles
-- and diamonds cost nothing extra; when several edges reach a node at that
-- depth, the least sure one is reported (mismatch, missing, unverified,
-- verified), then the one from the node whose URI sorts first. Edges declared after as_of are ignored. The walk touches only
-- aw.edges, level by level; names, checksums and paths are joined once at
-- the end. Plans are generic, so a session plans each statement once.
CREATE FUNCTION aw.lineage_walk(p_uri text, max_depth integer, as_of timestamptz,
                                upstream boolean)
  RETURNS SETOF aw.lineage_node LANGUAGE plpgsql STABLE
  SET plan_cache_mode = force_generic_plan AS $$
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

CREATE FUNCTION aw.lineage_upstream(uri text, max_depth integer DEFAULT 10,
                                    as_of timestamptz DEFAULT NULL)
  RETURNS SETOF aw.lineage_node LANGUAGE sql STABLE AS $$
  SELECT * FROM aw.lineage_walk(uri, max_depth, as_of, true)
$$;

CREATE FUNCTION aw.lineage_downstream(uri text, max_depth integer DEFAULT 10,
                                      as_of timestamptz DEFAULT NULL)
  RETURNS SETOF aw.lineage_node LANGUAGE sql STABLE AS $$
  SELECT * FROM aw.lineage_walk(uri, max_depth, as_of, false)
$$;

GRANT SELECT ON ALL TABLES IN SCHEMA aw TO aw_reader;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA aw TO aw_writer;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA aw TO aw_writer;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA aw TO aw_reader, aw_writer;
