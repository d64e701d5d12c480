#!/usr/bin/env bash
# The web console's server time per page on the graph of
# bench/lineage_query.sh (1,000,000 versions, 2,000,000 edges, kept in the
# database aw_bench_lineage), with 1,000 alerts and a retention plan of
# 10,000 actions added. For each page, REQS requests (default 200) with a
# random start, one at a time; the server's own time is read from each
# answer's Server-Timing header (the network and the client apart), and
# p50, p99 and max are printed. The home page is served from the summary the
# console keeps; the time to make that summary is printed on its own line.
#
#   bench/console.sh
#   N=100000 REQS=100 bench/console.sh
source "$(dirname "$0")/lib.sh"

N=${N:-1000000}
REQS=${REQS:-200}
DB=aw_bench_lineage
uri=$(db_uri "$DB")
BENCH_GENERATE_ONLY=1 N=$N bench/lineage_query.sh
q() { psql -X -At -v ON_ERROR_STOP=1 -d "$DB" "$@"; }
build/artifact-watch migrate --pg "$uri" >/dev/null
# alerts and a plan, once
if [[ $(q -c "SELECT count(*) FROM aw.alerts") == 0 ]]; then
    q -q <<EOF
INSERT INTO aw.alerts (kind, state, store, bucket, key, object_version_id, expected, actual)
SELECT 'checksum_mismatch', 'open', 'bench', 'bench', 'n/' || i || '/part.bin', i,
       encode(sha256(int8send(i)), 'hex'), encode(sha256(int8send(-i)), 'hex')
  FROM generate_series(1000, $N - 1000, ($N - 2000) / 1000) i;
INSERT INTO aw.retention_plans (rules_sha256, rules_path, rules, totals)
VALUES (repeat('a', 64), 'bench.yaml', '[]', '{"max_delete_fraction": 0.1, "buckets":
        [{"bucket": "bench", "live_objects": $N, "live_bytes": 0, "planned_objects": 10000,
          "planned_bytes": 0, "rules": "bench"}]}');
INSERT INTO aw.retention_plan_actions (plan_id, ordinal, action, rule, reason, object_version_id,
                                       store, bucket, key, size, age_s)
SELECT 1, i, 'delete', 'bench', 'older than 30d', i, 'bench', 'bench', 'n/' || i || '/part.bin',
       1000, 86400 * 40 FROM generate_series(1, 10000) i;
EOF
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
build/artifact-watch console --pg "$uri" --store bench --addr "127.0.0.1:$port" --threads 2 \
    --summary-every 1h --log-level warn >"$work/console.log" 2>&1 &
echo $! >"$work/console.pid"
for _ in $(seq 1 50); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores"
echo "graph: $(q -c "SELECT count(*) FROM aw.object_versions") versions, $(q -c "SELECT count(*) FROM aw.edges") edges"
t0=$(date +%s%N)
q -c "SELECT aw.console_summary()" >/dev/null
echo "the home page's summary, made once per --summary-every: $(( ($(date +%s%N) - t0) / 1000000 )) ms"
python3 bench/console_pages.py "http://127.0.0.1:$port" "$N" "$REQS"
