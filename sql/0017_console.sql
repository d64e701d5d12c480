-- The documents of the web console (`artifact-watch console`), one function
-- per page. Each returns jsonb: the console's /api/v1 answers with it as it
-- is and draws its HTML pages from it, and anyone with aw_reader can call
-- them from SQL or a notebook. All of them only read, and every list is
-- bounded.

-- The lineage of a URI as a graph: the nodes of aw.lineage_walk and every
-- edge among them (a diamond shows all its edges, not only the path by
-- which a node was first reached), as of a time when given.
CREATE FUNCTION aw.lineage_graph(p_uri text, p_depth integer, p_as_of timestamptz,
                                 p_upstream boolean, p_store text) RETURNS jsonb
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'aw', 'pg_temp'
    AS $$
  WITH n AS (SELECT * FROM aw.lineage_walk(p_uri, p_depth, p_as_of, p_upstream, p_store)),
  ids AS (SELECT array_agg(n.object_version_id) FILTER (WHERE n.object_version_id IS NOT NULL) AS v,
                 array_agg(n.uri) AS u FROM n),
  e AS (SELECT DISTINCT e.parent_version_id, d.parent_uri, e.child_version_id, e.kind, e.state
          FROM ids, aw.edges e JOIN aw.lineage_decls d ON d.id = e.decl_id
         WHERE e.child_version_id = ANY (ids.v)
           AND (e.parent_version_id = ANY (ids.v)
                OR (e.parent_version_id IS NULL AND d.parent_uri = ANY (ids.u)))
           AND (p_as_of IS NULL OR e.declared_at <= p_as_of))
  SELECT jsonb_build_object(
    'uri', p_uri, 'store', p_store, 'depth', p_depth, 'as_of', p_as_of,
    'direction', CASE WHEN p_upstream THEN 'upstream' ELSE 'downstream' END,
    'nodes', COALESCE((SELECT jsonb_agg(to_jsonb(n) - 'path' ORDER BY n.depth, n.uri, n.version)
                         FROM n), '[]'),
    'edges', COALESCE((SELECT jsonb_agg(jsonb_build_object(
                                'parent', e.parent_version_id, 'parent_uri', e.parent_uri,
                                'child', e.child_version_id, 'kind', e.kind, 'state', e.state)
                                ORDER BY e.child_version_id, e.parent_version_id, e.parent_uri)
                         FROM e), '[]'))
$$;

-- Counts per store and bucket, open alerts, scrub and the last runs: the
-- console's home page (it keeps the answer for a while: the counts read
-- every version).
CREATE FUNCTION aw.console_summary() RETURNS jsonb
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'aw', 'pg_temp'
    AS $$
  SELECT jsonb_build_object(
    'as_of', now(),
    'buckets', COALESCE((SELECT jsonb_agg(b ORDER BY b.store, b.bucket) FROM (
        SELECT v.store, v.bucket,
               count(*) FILTER (WHERE v.state = 'present' AND NOT v.deleted) AS live_versions,
               count(*) AS versions,
               COALESCE(sum(v.size) FILTER (WHERE v.state = 'present' AND NOT v.deleted), 0)
                 AS live_bytes,
               max(v.indexed_at) AS last_indexed_at
          FROM aw.object_versions v GROUP BY v.store, v.bucket) b), '[]'),
    'alerts', jsonb_build_object(
        'open', (SELECT count(*) FROM aw.alerts WHERE state = 'open'),
        'by_kind', COALESCE((SELECT jsonb_object_agg(k.kind, k.n) FROM (
            SELECT kind, count(*) AS n FROM aw.alerts WHERE state = 'open' GROUP BY kind) k),
            '{}')),
    'scrub', (SELECT jsonb_build_object(
        'tracked', count(*), 'due', count(*) FILTER (WHERE s.due_at <= now()),
        'failing', count(*) FILTER (WHERE s.failures > 0),
        'last_verified_at', max(s.last_verified_at)) FROM aw.scrub_state s),
    'retention', COALESCE((SELECT jsonb_agg(r ORDER BY r.id DESC) FROM (
        SELECT id, plan_id, mode, started_at, finished_at, refused, holder
          FROM aw.retention_runs ORDER BY id DESC LIMIT 5) r), '[]'),
    'backfill', COALESCE((SELECT jsonb_agg(b ORDER BY b.updated_at DESC) FROM (
        SELECT store, bucket, prefix, listed, indexed, deleted, started_at, updated_at,
               finished_at FROM aw.backfill_progress ORDER BY updated_at DESC LIMIT 5) b), '[]'))
$$;

-- Versions by SHA-256 (a hex prefix of 8 digits or more), by key prefix in
-- a bucket, or by a piece of the key; at most p_limit, newest first.
CREATE FUNCTION aw.console_search(p_q text, p_bucket text, p_limit integer) RETURNS jsonb
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'aw', 'pg_temp'
    AS $$
DECLARE
  kind text;
  rows jsonb;
  q text := COALESCE(p_q, '');
  hex text := lower(q);
BEGIN
  IF hex ~ '^[0-9a-f]{8,64}$' THEN
    kind := 'sha256';
    SELECT jsonb_agg(r) INTO rows FROM (
      SELECT v.id, v.store, v.bucket, v.key, aw.version_label(v) AS version, v.state, v.deleted,
             v.size, encode(v.sha256, 'hex') AS sha256, v.event_time
        FROM aw.object_versions v
       WHERE v.sha256 >= decode(rpad(hex, 64, '0'), 'hex')
         AND v.sha256 <= decode(rpad(hex, 64, 'f'), 'hex')
       ORDER BY v.sha256, v.id LIMIT p_limit) r;
  ELSIF COALESCE(p_bucket, '') <> '' THEN
    kind := 'prefix';
    SELECT jsonb_agg(r) INTO rows FROM (
      SELECT v.id, v.store, v.bucket, v.key, aw.version_label(v) AS version, v.state, v.deleted,
             v.size, encode(v.sha256, 'hex') AS sha256, v.event_time
        FROM aw.object_versions v
       WHERE v.bucket = p_bucket AND v.key >= q AND v.key < q || chr(1114111)
         AND starts_with(v.key, q)
       ORDER BY v.key, v.id DESC LIMIT p_limit) r;
  ELSE
    kind := 'substring';
    SELECT jsonb_agg(r) INTO rows FROM (
      SELECT v.id, v.store, v.bucket, v.key, aw.version_label(v) AS version, v.state, v.deleted,
             v.size, encode(v.sha256, 'hex') AS sha256, v.event_time
        FROM aw.object_versions v
       WHERE q <> '' AND strpos(v.key, q) > 0
       LIMIT p_limit) r;
  END IF;
  RETURN jsonb_build_object('query', q, 'bucket', p_bucket, 'kind', kind,
                            'limit', p_limit, 'results', COALESCE(rows, '[]'));
END
$$;

-- One key: every version (newest first) with its observations, checks and
-- scrub state; what it was made from and what was made from it (three
-- steps each way); the key's alerts, sidecars and retention actions.
CREATE FUNCTION aw.console_object(p_store text, p_bucket text, p_key text) RETURNS jsonb
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'aw', 'pg_temp'
    AS $$
  SELECT jsonb_build_object(
    'store', p_store, 'bucket', p_bucket, 'key', p_key,
    'uri', format('s3://%s/%s', p_bucket, p_key),
    'current', aw.current_version(p_store, p_bucket, p_key),
    'versions', COALESCE((SELECT jsonb_agg(jsonb_build_object(
        'id', v.id, 'version_id', v.version_id, 'version', aw.version_label(v),
        'state', v.state, 'deleted', v.deleted, 'deleted_by', v.deleted_by,
        'deleted_at', v.deleted_at, 'size', v.size, 'sha256', encode(v.sha256, 'hex'),
        'etag', v.etag, 'content_type', v.content_type, 'event_time', v.event_time,
        'first_seen_at', v.first_seen_at, 'indexed_at', v.indexed_at,
        'last_modified', v.last_modified,
        'scrub', (SELECT jsonb_build_object('due_at', s.due_at,
                                            'last_verified_at', s.last_verified_at,
                                            'last_result', s.last_result,
                                            'last_error', s.last_error, 'failures', s.failures,
                                            'suspect', s.suspect)
                    FROM aw.scrub_state s WHERE s.object_version_id = v.id),
        'checks', COALESCE((SELECT jsonb_agg(jsonb_build_object(
                               'kind', c.check_kind, 'ok', c.ok, 'expected', c.expected,
                               'actual', c.actual, 'checked_at', c.checked_at)
                               ORDER BY c.checked_at DESC)
                              FROM aw.checks c WHERE c.object_version_id = v.id), '[]'),
        'observations', COALESCE((SELECT jsonb_agg(jsonb_build_object(
                               'kind', o.kind, 'source', o.source, 'event_name', o.event_name,
                               'event_time', o.event_time, 'topic', o.kafka_topic,
                               'partition', o.kafka_partition, 'offset', o.kafka_offset,
                               'observed_at', o.observed_at) ORDER BY o.id DESC)
                              FROM (SELECT * FROM aw.observations o
                                     WHERE o.object_version_id = v.id
                                     ORDER BY o.id DESC LIMIT 20) o), '[]'))
        ORDER BY aw.version_order(v) DESC)
      FROM aw.object_versions v
     WHERE v.id IN (SELECT w.id FROM aw.object_versions w
                     WHERE w.store = p_store AND w.bucket = p_bucket AND w.key = p_key
                     ORDER BY w.id DESC LIMIT 200)), '[]'),
    'alerts', COALESCE((SELECT jsonb_agg(jsonb_build_object(
        'id', a.id, 'kind', a.kind, 'state', a.state, 'version_id', a.version_id,
        'expected', a.expected, 'actual', a.actual, 'last_seen_at', a.last_seen_at,
        'blast_radius', a.blast_radius) ORDER BY a.id DESC)
      FROM (SELECT * FROM aw.alerts a WHERE a.store = p_store AND a.bucket = p_bucket
              AND a.key = p_key ORDER BY a.id DESC LIMIT 50) a), '[]'),
    'sidecars', COALESCE((SELECT jsonb_agg(jsonb_build_object(
        'kind', s.kind, 'key', s.key, 'declared_sha256', encode(s.declared_sha256, 'hex'),
        'parse_error', s.parse_error, 'run_key', s.run_key, 'code_commit', s.code_commit,
        'declared_at', s.declared_at) ORDER BY s.id DESC)
      FROM (SELECT * FROM aw.sidecars s WHERE s.store = p_store AND s.bucket = p_bucket
              AND (s.key = p_key OR s.subject = p_key) ORDER BY s.id DESC LIMIT 20) s), '[]'),
    'upstream', COALESCE((SELECT jsonb_agg(to_jsonb(n) - 'path' ORDER BY n.depth, n.uri)
      FROM aw.lineage_walk(format('s3://%s/%s', p_bucket, p_key), 3, NULL, true, p_store) n
     WHERE n.depth > 0), '[]'),
    'downstream', COALESCE((SELECT jsonb_agg(to_jsonb(n) - 'path' ORDER BY n.depth, n.uri)
      FROM aw.lineage_walk(format('s3://%s/%s', p_bucket, p_key), 3, NULL, false, p_store) n
     WHERE n.depth > 0), '[]'),
    'retention', COALESCE((SELECT jsonb_agg(jsonb_build_object(
        'id', r.id, 'run_id', r.run_id, 'plan_id', r.plan_id, 'rule', r.rule,
        'action', r.action, 'version_id', r.version_id, 'result', r.result,
        'message', r.message, 'acted_at', r.acted_at) ORDER BY r.id DESC)
      FROM (SELECT * FROM aw.retention_actions r WHERE r.store = p_store
              AND r.bucket = p_bucket AND r.key = p_key ORDER BY r.id DESC LIMIT 50) r), '[]'))
$$;

-- Alerts in a state ('open', 'resolved' or 'all'), newest first.
CREATE FUNCTION aw.console_alerts(p_state text, p_limit integer) RETURNS jsonb
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'aw', 'pg_temp'
    AS $$
  SELECT jsonb_build_object('state', p_state, 'limit', p_limit,
    'alerts', COALESCE((SELECT jsonb_agg(jsonb_build_object(
        'id', a.id, 'kind', a.kind, 'state', a.state, 'store', a.store, 'bucket', a.bucket,
        'key', a.key, 'version_id', a.version_id, 'expected', a.expected, 'actual', a.actual,
        'first_seen_at', a.first_seen_at, 'last_seen_at', a.last_seen_at,
        'seen_count', a.seen_count, 'resolved_at', a.resolved_at,
        'blast_radius', a.blast_radius) ORDER BY a.last_seen_at DESC, a.id DESC)
      FROM (SELECT * FROM aw.alerts a WHERE p_state = 'all' OR a.state = p_state
             ORDER BY a.last_seen_at DESC, a.id DESC LIMIT p_limit) a), '[]'))
$$;

-- One alert with what was made from the bad version (its blast radius).
CREATE FUNCTION aw.console_alert(p_id bigint) RETURNS jsonb
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'aw', 'pg_temp'
    AS $$
  SELECT to_jsonb(a) || jsonb_build_object(
           'uri', format('s3://%s/%s', a.bucket, a.key),
           'downstream', aw.lineage_graph(format('s3://%s/%s', a.bucket, a.key), 50, NULL,
                                          false, a.store))
    FROM aw.alerts a WHERE a.id = p_id
$$;

-- Retention: the last plans and runs.
CREATE FUNCTION aw.console_retention(p_limit integer) RETURNS jsonb
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'aw', 'pg_temp'
    AS $$
  SELECT jsonb_build_object(
    'plans', COALESCE((SELECT jsonb_agg(jsonb_build_object(
        'id', p.id, 'generated_at', p.generated_at, 'rules_path', p.rules_path,
        'rules_sha256', p.rules_sha256, 'totals', p.totals,
        'actions', (SELECT count(*) FROM aw.retention_plan_actions x WHERE x.plan_id = p.id))
        ORDER BY p.id DESC)
      FROM (SELECT * FROM aw.retention_plans ORDER BY id DESC LIMIT p_limit) p), '[]'),
    'runs', COALESCE((SELECT jsonb_agg(jsonb_build_object(
        'id', r.id, 'plan_id', r.plan_id, 'mode', r.mode, 'started_at', r.started_at,
        'finished_at', r.finished_at, 'refused', r.refused, 'holder', r.holder,
        'results', (SELECT jsonb_object_agg(x.result, x.n) FROM (
            SELECT result, count(*) AS n FROM aw.retention_actions a WHERE a.run_id = r.id
             GROUP BY result) x)) ORDER BY r.id DESC)
      FROM (SELECT * FROM aw.retention_runs ORDER BY id DESC LIMIT p_limit) r), '[]'))
$$;

-- One plan: its rules, the cap arithmetic per bucket, and its actions with
-- their reasons (the first p_limit, in order).
CREATE FUNCTION aw.console_plan(p_id bigint, p_limit integer) RETURNS jsonb
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'aw', 'pg_temp'
    AS $$
  SELECT jsonb_build_object(
    'id', p.id, 'generated_at', p.generated_at, 'rules_path', p.rules_path,
    'rules_sha256', p.rules_sha256, 'rules', p.rules,
    'max_delete_fraction', p.totals->'max_delete_fraction',
    'buckets', COALESCE((SELECT jsonb_agg(b || jsonb_build_object('fraction',
        CASE WHEN (b->>'live_objects')::numeric > 0
             THEN round((b->>'planned_objects')::numeric / (b->>'live_objects')::numeric, 4)
        END)) FROM jsonb_array_elements(p.totals->'buckets') b), '[]'),
    'counts', (SELECT jsonb_object_agg(x.action, x.n) FROM (
        SELECT action, count(*) AS n FROM aw.retention_plan_actions a WHERE a.plan_id = p.id
         GROUP BY action) x),
    'runs', COALESCE((SELECT jsonb_agg(r.id ORDER BY r.id) FROM aw.retention_runs r
                       WHERE r.plan_id = p.id), '[]'),
    'actions', COALESCE((SELECT jsonb_agg(jsonb_build_object(
        'ordinal', a.ordinal, 'action', a.action, 'rule', a.rule, 'reason', a.reason,
        'store', a.store, 'bucket', a.bucket, 'key', a.key, 'version_id', a.version_id,
        'size', a.size, 'age_s', a.age_s, 'wave', a.wave) ORDER BY a.ordinal)
      FROM (SELECT * FROM aw.retention_plan_actions a WHERE a.plan_id = p.id
             ORDER BY a.ordinal LIMIT p_limit) a), '[]'))
    FROM aw.retention_plans p WHERE p.id = p_id
$$;

-- One run: what it did to each version, in the order it acted (the audit).
CREATE FUNCTION aw.console_run(p_id bigint, p_limit integer) RETURNS jsonb
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'aw', 'pg_temp'
    AS $$
  SELECT to_jsonb(r) - 'applied_plan' || jsonb_build_object(
    'actions', COALESCE((SELECT jsonb_agg(jsonb_build_object(
        'id', a.id, 'rule', a.rule, 'action', a.action, 'store', a.store, 'bucket', a.bucket,
        'key', a.key, 'version_id', a.version_id, 'size', a.size, 'result', a.result,
        'http_status', a.http_status, 'message', a.message, 'pending_at', a.pending_at,
        'acted_at', a.acted_at) ORDER BY a.id)
      FROM (SELECT * FROM aw.retention_actions a WHERE a.run_id = p_id
             ORDER BY a.id LIMIT p_limit) a), '[]'))
    FROM aw.retention_runs r WHERE r.id = p_id
$$;
