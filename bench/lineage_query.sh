#!/usr/bin/env bash
# Lineage query latency on a generated graph: aw.lineage_upstream and
# aw.lineage_downstream at depth 5 and 20, p50 and p99, measured by pgbench
# (one client, per-query latencies from its log, results sent to the client
# in full).
#
# The graph: N object versions (default 1,000,000) in one bucket, each with
# a metadata sidecar declaring 2 parents chosen at random among the 10
# versions written just before it, so 2N edges (2,000,000), joined the way
# the indexer joins them (edge -> declaration -> sidecar). Every walk keeps
# growing with depth: about 5 new ancestors per level, so a depth-20 walk
# returns on the order of a hundred nodes, every one of them reachable by
# many paths (diamonds everywhere), which is the expensive case for a walk.
# 90% of edges are verified, 5% mismatch, 5% unverified.
#
# The graph lives in its own database (aw_bench_lineage) and is kept between
# runs; BENCH_REBUILD=1 generates it again.
#
#   bench/lineage_query.sh                 N=1000000, 20 s per measurement
#   N=100000 SECS=5 bench/lineage_query.sh
#   BENCH_GENERATE_ONLY=1 bench/lineage_query.sh   the graph, no queries
source "$(dirname "$0")/lib.sh"

N=${N:-1000000}
SECS=${SECS:-20}
DB=aw_bench_lineage
pgbin=${AW_PG_BINDIR:-$(dirname "$(ls /usr/lib/postgresql/*/bin/pgbench | sort -V | tail -1)")}
uri=$(db_uri "$DB")
q() { psql -X -At -v ON_ERROR_STOP=1 -d "$DB" "$@"; }

if [[ ${BENCH_REBUILD:-0} == 1 ]]; then psql -X -q -c "DROP DATABASE IF EXISTS $DB"; fi
psql -X -At -c "SELECT 1 FROM pg_database WHERE datname = '$DB'" | grep -q 1 ||
    psql -X -q -c "CREATE DATABASE $DB"
build/artifact-watch migrate --pg "$uri" >/dev/null
have=$(q -c "SELECT count(*) FROM aw.object_versions")
if [[ $have != "$N" ]]; then
    echo "generating $N versions and $((2 * N)) edges in $DB ..." >&2
    t0=$(date +%s)
    q -q <<EOF
TRUNCATE aw.edges, aw.lineage_decls, aw.sidecars, aw.object_versions, aw.artifacts RESTART IDENTITY CASCADE;
SET synchronous_commit = off;
SELECT setseed(0.42);
INSERT INTO aw.object_versions (store, bucket, key, version_ref, sequencer, seq_key, size, sha256,
                                state, event_time)
SELECT 'bench', 'bench', 'n/' || i || '/part.bin', 's:' || lpad(i::text, 32, '0'), i::text,
       lpad(i::text, 32, '0'), 1000 + i % 5000, sha256(int8send(i)), 'present',
       timestamptz '2026-01-01' + i * interval '1 second'
  FROM generate_series(1, $N) i;
INSERT INTO aw.sidecars (store, bucket, key, kind, scope, subject, doc, declared_at, run_key,
                         code_commit, kafka_topic, kafka_partition, kafka_offset, kafka_timestamp)
SELECT 'bench', 'bench', NULL, 'file_metadata', 'file', 'n/' || i || '/part.bin',
       '{"artifact_type":"dataset"}', timestamptz '2026-01-01' + i * interval '1 second',
       'run-' || i, 'c' || (i % 997), 'bench', 0, i, 0
  FROM generate_series(1, $N) i;
INSERT INTO aw.lineage_decls (sidecar_id, ordinal, kind, parent_uri, parent_bucket, parent_key,
                              declared_sha256)
SELECT i, o, 'data', 's3://bench/n/' || p || '/part.bin', 'bench', 'n/' || p || '/part.bin',
       CASE WHEN r < 0.95 THEN sha256(int8send(CASE WHEN r < 0.90 THEN p ELSE -p END)) END
  FROM (SELECT i, o, i - 1 - floor(random() * 10)::int AS p, random() AS r
          FROM generate_series(1, $N) i, generate_series(1, 2) o) x
 WHERE p >= 1
UNION ALL
SELECT i, o, 'data', 's3://bench/missing/' || i, 'bench', 'missing/' || i, NULL
  FROM generate_series(1, 10) i, generate_series(3, 4) o;
INSERT INTO aw.edges (decl_id, child_version_id, parent_version_id, kind, state, declared_at)
SELECT d.id, d.sidecar_id,
       CASE WHEN d.parent_key LIKE 'n/%' THEN split_part(d.parent_key, '/', 2)::bigint END,
       'data',
       CASE WHEN d.parent_key NOT LIKE 'n/%' THEN 'missing'
            WHEN d.declared_sha256 IS NULL THEN 'unverified'
            WHEN d.declared_sha256 = sha256(int8send(split_part(d.parent_key, '/', 2)::bigint))
            THEN 'verified' ELSE 'mismatch' END,
       timestamptz '2026-01-01' + d.sidecar_id * interval '1 second'
  FROM aw.lineage_decls d;
EOF
    q -q -c "VACUUM ANALYZE aw.object_versions, aw.sidecars, aw.lineage_decls, aw.edges"
    echo "generated in $(($(date +%s) - t0)) s" >&2
fi
echo "graph: $(q -c "SELECT count(*) FROM aw.object_versions") object versions, $(q -c "SELECT count(*) FROM aw.edges") edges, database $(q -c "SELECT pg_size_pretty(pg_database_size('$DB'))")"
# BENCH_GENERATE_ONLY=1: the graph and nothing else (bench/ingest_small.sh GRAPH=1)
[[ ${BENCH_GENERATE_ONLY:-0} == 1 ]] && exit 0

printf '%-11s %5s %9s %9s %9s %9s %9s\n' query depth queries nodes/q p50_ms p99_ms max_ms
for dir in upstream downstream; do
    for depth in 5 20; do
        cat >"$work/q.sql" <<EOF
\set i random(1000, $N - 1000)
SELECT * FROM aw.lineage_$dir('s3://bench/n/' || :i || '/part.bin', $depth);
EOF
        # the walk's mean size over a fixed sample of starts
        nodes=$(q -c "SELECT round(avg(c), 1) FROM (SELECT (SELECT count(*) FROM aw.lineage_$dir('s3://bench/n/' || s || '/part.bin', $depth)) c FROM generate_series(1000, $N - 1000, ($N - 2000) / 200) s) x")
        rm -f "$work"/pgbench_log.*
        (cd "$work" && "$pgbin/pgbench" -n -c 1 -j 1 -T "$SECS" -l -f q.sql "$uri" >/dev/null 2>"$work/pgbench.err") ||
            { cat "$work/pgbench.err" >&2; exit 1; }
        # log line: client_id transaction_no time_us script_no time_epoch time_us_frac
        read -r count p50 p99 max < <(cat "$work"/pgbench_log.* | awk '{print $3}' | sort -n |
            awk '{v[NR]=$1} END {printf "%d %.2f %.2f %.2f\n", NR, v[int(NR*0.50)]/1000, v[int(NR*0.99)]/1000, v[NR]/1000}')
        printf '%-11s %5d %9d %9s %9s %9s %9s\n' "$dir" "$depth" "$count" "$nodes" "$p50" "$p99" "$max"
    done
done
