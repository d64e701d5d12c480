#!/usr/bin/env bash
# The binding and state rules of the lineage graph, exercised directly in
# PostgreSQL: rows are written the way the indexer writes them (object
# versions, a sidecar, its declarations) and aw.lineage_refresh runs after
# each arrival, exactly as after each indexed batch. Shown here:
#  - every arrival order of parent, child and sidecar ends in the same edge;
#  - a parent re-uploaded as a new version (versioned bucket): the edge stays
#    on the version whose SHA-256 was declared, whichever arrives first;
#    without a declared checksum, on the version current when the child was
#    declared;
#  - unversioned overwrites: the same bytes again stay verified, other bytes
#    are a mismatch; a deleted parent is missing;
#  - refreshing again rewrites nothing; as_of sees the graph as it was;
#  - cycles and diamonds: every node once, at its smallest depth.
source "$(dirname "$0")/lib.sh"
require_stack

id=$(date +%s)_$RANDOM
b=lsql-$id
t=lsql_$id
trap 'sql -q -c "DROP SCHEMA IF EXISTS $t CASCADE" >/dev/null 2>&1' EXIT

sed -e "s/@T@/$t/g" -e "s/@B@/$b/g" <<'EOF' | sql -q
CREATE SCHEMA @T@;
-- a version of key k: seq orders writes of one key; versioned rows carry a version id
CREATE FUNCTION @T@.put(k text, seq int, content text, at text, versioned bool DEFAULT false)
RETURNS void LANGUAGE sql AS $$
  INSERT INTO aw.object_versions (store, bucket, key, version_ref, version_id, sequencer, seq_key,
                                  size, sha256, state, event_time)
  VALUES ('lsql', '@B@', k, CASE WHEN versioned THEN 'v:' || k || seq ELSE 's:' || lpad(seq::text, 32, '0') END,
          CASE WHEN versioned THEN 'ver' || seq END, seq::text, lpad(seq::text, 32, '0'),
          length(content), sha256(convert_to(content, 'UTF8')), 'present', ('2026-01-01 ' || at)::timestamptz);
  SELECT aw.lineage_refresh(ARRAY['lsql'], ARRAY['@B@'], ARRAY[k]);
$$;
-- a folder metadata.json at key k declaring parent (with the checksum of declared, if any)
CREATE FUNCTION @T@.meta(k text, seq int, parents text[], declared text[], at text)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  sid bigint;
  i int;
BEGIN
  PERFORM @T@.put(k, seq, '{}', at);
  INSERT INTO aw.sidecars (object_version_id, store, bucket, key, kind, scope, subject, doc, declared_at)
  SELECT v.id, 'lsql', '@B@', k, 'metadata', 'folder', aw.dirname(k), '{}', v.event_time
    FROM aw.object_versions v WHERE v.store = 'lsql' AND v.bucket = '@B@' AND v.key = k
     AND v.seq_key = lpad(seq::text, 32, '0')
  RETURNING id INTO sid;
  FOR i IN 1 .. cardinality(parents) LOOP
    INSERT INTO aw.lineage_decls (sidecar_id, ordinal, kind, parent_uri, parent_bucket, parent_key,
                                  declared_sha256)
    VALUES (sid, i, 'data', 's3://@B@/' || parents[i], '@B@', parents[i],
            CASE WHEN declared[i] IS NOT NULL THEN sha256(convert_to(declared[i], 'UTF8')) END);
  END LOOP;
  PERFORM aw.lineage_refresh(ARRAY['lsql'], ARRAY['@B@'], ARRAY[k]);
END
$$;
CREATE FUNCTION @T@.del(k text, seq int, at text) RETURNS void LANGUAGE sql AS $$
  INSERT INTO aw.object_versions (store, bucket, key, version_ref, sequencer, seq_key, state, deleted,
                                  event_time)
  VALUES ('lsql', '@B@', k, 's:' || lpad(seq::text, 32, '0'), seq::text, lpad(seq::text, 32, '0'),
          'tombstone', true, ('2026-01-01 ' || at)::timestamptz);
  UPDATE aw.object_versions SET deleted = true
   WHERE store = 'lsql' AND bucket = '@B@' AND key = k AND seq_key < lpad(seq::text, 32, '0');
  SELECT aw.lineage_refresh(ARRAY['lsql'], ARRAY['@B@'], ARRAY[k]);
$$;
-- the edges of a child key: parent@sequencer:state
CREATE FUNCTION @T@.edges(child text) RETURNS text LANGUAGE sql AS $$
  SELECT coalesce(string_agg(d.parent_key || '@' || coalesce(p.sequencer, '-') || ':' || e.state, ','
                             ORDER BY d.parent_key), '')
    FROM aw.edges e JOIN aw.lineage_decls d ON d.id = e.decl_id
    JOIN aw.object_versions c ON c.id = e.child_version_id
    LEFT JOIN aw.object_versions p ON p.id = e.parent_version_id
   WHERE c.bucket = '@B@' AND c.key = child;
$$;
EOF
q() { sql -c "$1"; }

# --- every arrival order of parent (P), child (C) and its metadata (M)
perm=0
for order in PCM PMC CPM CMP MPC MCP; do
    perm=$((perm + 1))
    d=perm$perm
    for ((i = 0; i < 3; i++)); do
        case ${order:i:1} in
        P) q "SELECT $t.put('$d/raw.csv', 1, 'raw $d', '10:00:0$i')" ;;
        C) q "SELECT $t.put('$d/out/model.bin', 1, 'model $d', '10:00:0$i')" ;;
        M) q "SELECT $t.meta('$d/out/metadata.json', 1, ARRAY['$d/raw.csv'], ARRAY['raw $d'], '10:00:0$i')" ;;
        esac >/dev/null
    done
    expect_eq "arrival order $order" "$d/raw.csv@1:verified" "$(q "SELECT $t.edges('$d/out/model.bin')")"
done
expect_eq "the metadata file itself is never a child" "" "$(q "SELECT $t.edges('perm1/out/metadata.json')")"

# --- versioned parent re-uploaded: the declared version wins, in either order
q "SELECT $t.put('ver/raw.csv', 1, 'first bytes', '11:00:00', true),
          $t.meta('ver/out/metadata.json', 1, ARRAY['ver/raw.csv'], ARRAY['first bytes'], '11:00:01'),
          $t.put('ver/out/model.bin', 1, 'm', '11:00:02'),
          $t.put('ver/raw.csv', 2, 'second bytes', '11:00:03', true)" >/dev/null
expect_eq "versioned: a newer version arrives later" "ver/raw.csv@1:verified" "$(q "SELECT $t.edges('ver/out/model.bin')")"
q "SELECT $t.put('ver2/raw.csv', 2, 'second bytes', '11:00:03', true),
          $t.meta('ver2/out/metadata.json', 1, ARRAY['ver2/raw.csv'], ARRAY['first bytes'], '11:00:01'),
          $t.put('ver2/out/model.bin', 1, 'm', '11:00:02')" >/dev/null
expect_eq "versioned: only a newer version known so far" "ver2/raw.csv@2:mismatch" "$(q "SELECT $t.edges('ver2/out/model.bin')")"
q "SELECT $t.put('ver2/raw.csv', 1, 'first bytes', '11:00:00', true)" >/dev/null
expect_eq "versioned: the declared version arrives last" "ver2/raw.csv@1:verified" "$(q "SELECT $t.edges('ver2/out/model.bin')")"
# no checksum: the version current when the child was declared
q "SELECT $t.put('nock/raw.csv', 1, 'a', '12:00:00', true), $t.put('nock/raw.csv', 2, 'b', '12:00:10', true),
          $t.put('nock/out/model.bin', 1, 'm', '12:00:04'),
          $t.meta('nock/out/metadata.json', 1, ARRAY['nock/raw.csv'], ARRAY[NULL], '12:00:05')" >/dev/null
expect_eq "versioned, no checksum: current at declaration" "nock/raw.csv@1:unverified" "$(q "SELECT $t.edges('nock/out/model.bin')")"
q "SELECT $t.put('early/out/model.bin', 1, 'm', '12:00:00'),
          $t.meta('early/out/metadata.json', 1, ARRAY['early/raw.csv'], ARRAY[NULL], '12:00:01'),
          $t.put('early/raw.csv', 1, 'a', '12:00:05', true), $t.put('early/raw.csv', 2, 'b', '12:00:09', true)" >/dev/null
expect_eq "no checksum, parent written after the declaration: the first version after" \
    "early/raw.csv@1:unverified" "$(q "SELECT $t.edges('early/out/model.bin')")"

# --- unversioned overwrites and deletes
q "SELECT $t.put('same/raw.csv', 1, 'x', '13:00:00'),
          $t.meta('same/out/metadata.json', 1, ARRAY['same/raw.csv'], ARRAY['x'], '13:00:01'),
          $t.put('same/out/model.bin', 1, 'm', '13:00:02'),
          $t.put('same/raw.csv', 2, 'x', '13:00:03')" >/dev/null
expect_eq "unversioned, same bytes written again" "same/raw.csv@2:verified" "$(q "SELECT $t.edges('same/out/model.bin')")"
q "SELECT $t.put('same/raw.csv', 3, 'tampered', '13:00:04')" >/dev/null
expect_eq "unversioned, other bytes written over it" "same/raw.csv@3:mismatch" "$(q "SELECT $t.edges('same/out/model.bin')")"
q "SELECT $t.del('same/raw.csv', 4, '13:00:05')" >/dev/null
expect_eq "parent deleted" "same/raw.csv@3:missing" "$(q "SELECT $t.edges('same/out/model.bin')")"
expect_eq "a deleted parent is still on the path" "1|s3://$b/same/raw.csv|missing|t" \
    "$(sql -F'|' -c "SELECT depth, uri, edge_state, deleted FROM aw.lineage_upstream('s3://$b/same/out/model.bin') WHERE depth = 1")"

# --- refreshing again rewrites nothing
before=$(q "SELECT md5(string_agg(e.id || e.state || coalesce(e.parent_version_id, 0) || e.resolved_at, ',' ORDER BY e.id)) FROM aw.edges e JOIN aw.object_versions c ON c.id = e.child_version_id WHERE c.bucket = '$b'")
expect_eq "a second refresh of every key changes no row" 0 \
    "$(q "SELECT aw.lineage_refresh(array_agg(store), array_agg(bucket), array_agg(key)) FROM (SELECT DISTINCT store, bucket, key FROM aw.object_versions WHERE bucket = '$b') k")"
expect_eq "edges after the second refresh" "$before" \
    "$(q "SELECT md5(string_agg(e.id || e.state || coalesce(e.parent_version_id, 0) || e.resolved_at, ',' ORDER BY e.id)) FROM aw.edges e JOIN aw.object_versions c ON c.id = e.child_version_id WHERE c.bucket = '$b'")"

# --- as_of
expect_eq "as of before the declaration: no edges" "0" \
    "$(q "SELECT count(*) FROM aw.lineage_upstream('s3://$b/nock/out/model.bin', 5, '2026-01-01 12:00:04.5') WHERE depth > 0")"
expect_eq "as of picks the start version current then" "1" \
    "$(q "SELECT count(*) FROM aw.lineage_downstream('s3://$b/nock/raw.csv', 5, '2026-01-01 12:00:06') WHERE depth > 0")"
expect_eq "as of before the start existed: nothing" "0" \
    "$(q "SELECT count(*) FROM aw.lineage_upstream('s3://$b/nock/out/model.bin', 5, '2025-12-31')")"

# --- a cycle and a diamond
q "SELECT $t.put('cyc/a/f', 1, 'a', '14:00:00'), $t.put('cyc/b/f', 1, 'b', '14:00:00'),
          $t.meta('cyc/a/metadata.json', 1, ARRAY['cyc/b/f'], ARRAY['b'], '14:00:01'),
          $t.meta('cyc/b/metadata.json', 1, ARRAY['cyc/a/f'], ARRAY['a'], '14:00:01')" >/dev/null
expect_eq "a cycle ends: every node once" "0|s3://$b/cyc/a/f
1|s3://$b/cyc/b/f" "$(sql -F'|' -c "SELECT depth, uri FROM aw.lineage_upstream('s3://$b/cyc/a/f', 50) ORDER BY depth")"
q "SELECT $t.put('dia/src/f', 1, 's', '15:00:00'), $t.put('dia/l/f', 1, 'l', '15:00:00'),
          $t.put('dia/r/f', 1, 'r', '15:00:00'), $t.put('dia/top/f', 1, 't', '15:00:00'),
          $t.meta('dia/l/metadata.json', 1, ARRAY['dia/src/f'], ARRAY['s'], '15:00:01'),
          $t.meta('dia/r/metadata.json', 1, ARRAY['dia/src/f'], ARRAY['s'], '15:00:01'),
          $t.meta('dia/top/metadata.json', 1, ARRAY['dia/l/f', 'dia/r/f'], ARRAY['l', 'r'], '15:00:01')" >/dev/null
expect_eq "a diamond: the shared ancestor once, at depth 2" "0|s3://$b/dia/top/f
1|s3://$b/dia/l/f
1|s3://$b/dia/r/f
2|s3://$b/dia/src/f" "$(sql -F'|' -c "SELECT depth, uri FROM aw.lineage_upstream('s3://$b/dia/top/f') ORDER BY depth, uri")"
expect_status "a URI that is not s3://bucket/key is refused" 1 \
    psql -X -q -v ON_ERROR_STOP=1 -c "SELECT * FROM aw.lineage_upstream('not a uri')"
done_ok
