#!/usr/bin/env bash
# Chaos on the real stack: three ingest instances in one consumer group work
# through 20,000 events while PostgreSQL, the Kafka broker and the S3 server
# are each restarted once and instances are killed with SIGKILL at random
# (each comes back, as a Deployment's pod would). Afterwards every object is
# indexed exactly once (one version, one observation per Kafka record) with
# the right digest, and nothing in the topic is unaccounted for: indexed,
# with no dead letter.
source "$(dirname "$0")/lib.sh"
require_stack
STACK=$REPO/scripts/stack
N=${CHAOS_N:-20000}

run_id=$(date +%s)-$RANDOM
work=$(mktemp -d)
topic=aw.test.chaos-$run_id
group=chaos-$run_id
b=$(unique_bucket chaos)
cleanup() {
    touch "$work/stop"
    for i in 1 2 3; do [[ -f $work/i$i.pid ]] && kill -9 "$(cat "$work/i$i.pid")" 2>/dev/null || true; done
    wait 2>/dev/null || true
    "$STACK" up >/dev/null 2>&1 || true
    rm -rf "$work" "${AW_STACK_DIR:?}/s3/data/$b"
}
trap cleanup EXIT
rows() { sql -c "SELECT count(*) FROM aw.object_versions WHERE bucket = '$b'" 2>/dev/null || echo 0; }

# N objects of 256 bytes in the store, N events for them in a 4-partition topic
s3api create-bucket --bucket "$b" >/dev/null
python3 - "$AW_STACK_DIR/s3/data/$b" "$N" <<'PY'
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    with open(os.path.join(d, "obj-%d" % i), "wb") as f:
        f.write(os.urandom(256))
PY
"$ITEST_BIN/kafka_tool" create-topic "$topic" 4
"$(dirname "$AW_BIN")/bench/bench_events" "$topic" "$b" obj- "$N" 256

# three instances, each restarted when it dies; small batches, one fetch at a
# time and a small prefetch queue, so the work is still going on while the
# services restart (with the default 8 MiB queue an instance holds most of
# the topic and indexes it while the broker is down)
instance() {
    local i=$1
    while [[ ! -e $work/stop ]]; do
        AW_OPENLINEAGE_TOPIC= "$AW_BIN" ingest --topic "$topic" --dlq-topic "$topic.dlq" \
            --group "$group" --batch-max 100 --batch-ms 100 --fetch-concurrency 1 \
            -X session.timeout.ms=6000 -X queued.max.messages.kbytes=64 \
            -X max.partition.fetch.bytes=16384 \
            --log-level warn >>"$work/i$i.log" 2>&1 &
        echo $! >"$work/i$i.pid"
        wait "$(cat "$work/i$i.pid")" 2>/dev/null || true
        sleep 0.5
    done
}
for i in 1 2 3; do instance "$i" & done
kill_one() {
    local i=$((RANDOM % 3 + 1))
    kill -9 "$(cat "$work/i$i.pid")" 2>/dev/null || true
    echo "chaos: SIGKILL instance $i ($(rows) of $N indexed)" >&2
}

wait_for "the first rows" 60 '(($(rows) > 0))'
kill_one
"$STACK" down pg >>"$work/stack.log" 2>&1 || fail "stack down pg: $(tail -5 "$work/stack.log")"
sleep 2
kill_one
"$STACK" up pg >>"$work/stack.log" 2>&1 || fail "stack up pg: $(tail -5 "$work/stack.log")"
echo "chaos: PostgreSQL restarted ($(rows) of $N indexed)" >&2
sleep 2
kill_one
"$STACK" down kafka >>"$work/stack.log" 2>&1 || fail "stack down kafka: $(tail -5 "$work/stack.log")"
sleep 2
"$STACK" up kafka >>"$work/stack.log" 2>&1 || fail "stack up kafka: $(tail -5 "$work/stack.log")"
echo "chaos: Kafka restarted ($(rows) of $N indexed)" >&2
kill_one
"$STACK" down s3 >>"$work/stack.log" 2>&1 || fail "stack down s3: $(tail -5 "$work/stack.log")"
sleep 2
"$STACK" up s3 >>"$work/stack.log" 2>&1 || fail "stack up s3: $(tail -5 "$work/stack.log")"
echo "chaos: versitygw restarted ($(rows) of $N indexed)" >&2
# the chaos must have met the work, not followed it
(($(rows) < N)) || fail "all $N objects were indexed before the chaos ended: make the instances slower"
kill_one
wait_for "all $N objects indexed" 300 '(($(rows) >= N))'

# stop the instances, then a drain of the same group: the topic is done
touch "$work/stop"
for i in 1 2 3; do kill -TERM "$(cat "$work/i$i.pid")" 2>/dev/null || true; done
wait
AW_OPENLINEAGE_TOPIC= "$AW_BIN" ingest --topic "$topic" --dlq-topic "$topic.dlq" --group "$group" \
    --drain --log-level warn || fail "the final drain failed"

expect_eq "object versions (one per object)" "$N" "$(rows)"
expect_eq "observations (one per Kafka record)" "$N" \
    "$(sql -c "SELECT count(*) FROM aw.observations o JOIN aw.object_versions v ON v.id = o.object_version_id WHERE v.bucket = '$b'")"
python3 - "$AW_STACK_DIR/s3/data/$b" <<'PY' | sort >"$work/want"
import hashlib, os, sys
d = sys.argv[1]
for f in os.listdir(d):
    print(f, hashlib.sha256(open(os.path.join(d, f), "rb").read()).hexdigest())
PY
sql -F' ' -c "SELECT key, sha256 FROM aw.objects WHERE bucket = '$b' AND state = 'present'" | sort >"$work/got"
expect_eq "digest of every object" "" "$(diff "$work/want" "$work/got" | head -5)"
dl=$("$ITEST_BIN/kafka_tool" dump "$topic.dlq" 2>/dev/null || true)
expect_eq "dead letters" "" "$(printf '%s' "$dl" | python3 -c '
import json, sys
for l in sys.stdin:
    h = json.loads(l)["headers"]
    print(h.get("aw-error-code"), h.get("aw-error"))' | head -5)"
done_ok
