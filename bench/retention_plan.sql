-- The generated index of bench/retention_plan.sh (@PER@: versions per bucket).
TRUNCATE aw.edges, aw.lineage_decls, aw.sidecars, aw.object_versions, aw.artifacts
  RESTART IDENTITY CASCADE;
SET synchronous_commit = off;
-- n: a version's number in its bucket; what it is depends on n's range
INSERT INTO aw.object_versions (store, bucket, key, version_ref, version_id, sequencer, seq_key,
                                size, sha256, etag, state, event_time)
SELECT 'bench', 'rb-' || b, k.key, 's:' || lpad(n::text, 32, '0'), k.vid, n::text,
       lpad(n::text, 32, '0'), 1000 + n % 90000, sha256(int8send(b * 10000000 + n)),
       md5(n::text), 'present',
       timestamptz '2026-11-01' - ((@PER@ - n) * interval '1 year' / @PER@)
  FROM generate_series(0, 9) b, generate_series(1, @PER@) n,
  LATERAL (SELECT CASE
             WHEN n <= @PER@ * 4 / 10
             THEN format('artifacts/model-%s/v1.0.%s/%s', (n - 1) / 2 % 400, (n - 1) / 800,
                         CASE WHEN n % 2 = 1 THEN 'model.bin' ELSE 'metadata.json' END)
             WHEN n <= @PER@ * 7 / 10 THEN format('data/part-%s.parquet', n)
             ELSE format('ver/key-%s', n / 3) END AS key,
           CASE WHEN n > @PER@ * 7 / 10 THEN 'v' || n END AS vid) k;
INSERT INTO aw.artifacts (store, bucket, folder, name, version, metadata)
SELECT DISTINCT store, bucket, aw.dirname(key), split_part(key, '/', 2), split_part(key, '/', 3),
       jsonb_build_object('stage',
         CASE WHEN split_part(split_part(key, '/', 3), '.', 3)::int % 17 = 0
              THEN 'production' ELSE 'staging' END)
  FROM aw.object_versions WHERE key LIKE 'artifacts/%';
-- every model was trained on one data file
INSERT INTO aw.sidecars (object_version_id, store, bucket, key, kind, scope, subject, doc,
                         declared_at)
SELECT id, store, bucket, key, 'metadata', 'folder', aw.dirname(key), '{}', event_time
  FROM aw.object_versions WHERE key LIKE 'artifacts/%/metadata.json';
INSERT INTO aw.lineage_decls (sidecar_id, ordinal, kind, parent_uri, parent_bucket, parent_key)
SELECT s.id, 0, 'data',
       format('s3://%s/data/part-%s.parquet', s.bucket, @PER@ * 4 / 10 + s.id % (@PER@ * 3 / 10) + 1),
       s.bucket, format('data/part-%s.parquet', @PER@ * 4 / 10 + s.id % (@PER@ * 3 / 10) + 1)
  FROM aw.sidecars s;
INSERT INTO aw.edges (decl_id, child_version_id, parent_version_id, kind, state, declared_at)
SELECT d.id, m.id, p.id, 'data', 'unverified', s.declared_at
  FROM aw.lineage_decls d JOIN aw.sidecars s ON s.id = d.sidecar_id
  JOIN aw.object_versions m
    ON m.store = s.store AND m.bucket = s.bucket AND m.key = s.subject || 'model.bin'
  JOIN aw.object_versions p
    ON p.store = s.store AND p.bucket = d.parent_bucket AND p.key = d.parent_key;
