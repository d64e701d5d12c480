#!/usr/bin/env bash
# /metrics, /healthz and /readyz of the long-running commands on the real
# stack, checked by Prometheus's own promtool (`promtool check metrics`):
#  - scrub as a worker: its pass counted by result, ready after a pass;
#  - ingest consuming: events and bytes counted, a dead letter by its code,
#    the batch write histogram,
#    the consumer lag of each partition;
#  - backfill while it runs: objects by result, bytes, then its last success;
#  - on the first scrape after start, before any work, every series a
#    daemon knows (each label value of a family) is there at 0;
#  - an address that is taken, or not an address: exit 2 with the reason.
source "$(dirname "$0")/lib.sh"
require_stack

gobin=$(go env GOBIN 2>/dev/null || true)
[[ -n $gobin ]] || gobin=$(go env GOPATH 2>/dev/null)/bin
promtool=${AW_PROMTOOL:-$gobin/promtool}
[[ -x $promtool ]] || fail "promtool not found at $promtool: scripts/bootstrap installs it"
run_id=$(date +%s)-$RANDOM
work=$(mktemp -d)
trap '[[ -n ${pid:-} ]] && kill "$pid" 2>/dev/null; rm -rf "$work"; true' EXIT
group=metrics-$run_id
"$AW_BIN" ingest --group "$group" --drain --log-level error
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
check() { # the exposition passes promtool
    curl -sf "http://127.0.0.1:$1/metrics" >"$work/m.txt" || fail "GET /metrics on $1 failed"
    "$promtool" check metrics <"$work/m.txt" >"$work/promtool.out" 2>&1 ||
        fail "promtool check metrics: $(cat "$work/promtool.out")"
    CHECKS=$((CHECKS + 1))
}
metric() { curl -sf "http://127.0.0.1:$1/metrics" | awk -v n="$2" '$1 == n {print $2}'; }

b=$(unique_bucket metrics)
s3api create-bucket --bucket "$b" >/dev/null
for i in 1 2 3; do echo "object $i $run_id" | aws s3 cp --only-show-errors - "s3://$b/o$i.bin"; done
"$ITEST_BIN/kafka_events" --bucket "$b" --min 3 --timeout 60 >/dev/null
"$AW_BIN" ingest --group "$group" --drain --log-level error

# --- the first scrape: every known series at 0, before anything happened
empty=aw.metrics-empty-$run_id
"$ITEST_BIN/kafka_tool" create-topic "$empty" 1 >/dev/null
first_scrape() { # port: the exposition as soon as the server answers
    wait_for "the server answering" 30 "curl -sf http://127.0.0.1:$1/metrics >$work/first.txt"
    cat "$work/first.txt"
}
p=$(port)
"$AW_BIN" ingest --group "first-$run_id" --topic "$empty" --metrics-addr "127.0.0.1:$p" \
    --log-level error &
pid=$!
out=$(first_scrape "$p")
for series in "aw_ingest_events_total 0" "aw_ingest_bytes_hashed_total 0" "aw_ingest_paused 0" \
    'aw_ingest_dead_letters_total{code="AW_EPARSE"} 0' 'aw_ingest_dead_letters_total{code="AW_EHTTP"} 0' \
    "aw_ingest_events_repaired_total 0" "aw_ingest_fetch_seconds_count 0" \
    "aw_ingest_batch_write_seconds_count 0"; do
    expect_contains "ingest's first scrape" "$out" "$series"
done
kill -TERM "$pid"; wait "$pid" || true; pid=
p=$(port)
"$AW_BIN" alerts push --alerts-topic "aw.metrics-alerts-$run_id" --metrics-addr "127.0.0.1:$p" \
    --resend 1h --log-level error &
pid=$!
out=$(first_scrape "$p")
for series in 'aw_alerts_pushes_total{result="ok"}' 'aw_alerts_pushes_total{result="failed"} 0' \
    'aw_alerts_open{kind="missing"}' 'aw_alerts_open{kind="bucket_unreachable"}'; do
    expect_contains "alerts push's first scrape" "$out" "$series"
done
kill -TERM "$pid"; wait "$pid" || true; pid=
p=$(port)
printf 'version: 1\nrules:\n  - name: none\n    match: {bucket: %s}\n    keep_last: 1\n' \
    "metrics-nothing-$run_id" >"$work/rules.yaml"
"$AW_BIN" policy run --rules "$work/rules.yaml" --every 1h --metrics-addr "127.0.0.1:$p" \
    --log-level error &
pid=$!
out=$(first_scrape "$p")
for r in deleted not_deleted failed skipped_changed skipped_protected skipped_other_store; do
    expect_contains "policy run's first scrape" "$out" "aw_retention_actions_total{result=\"$r\"} 0"
done
kill -TERM "$pid"; wait "$pid" || true; pid=
p=$(port)
"$AW_BIN" scrub --bucket "metrics-nothing-$run_id" --metrics-addr "127.0.0.1:$p" --log-level error &
pid=$!
out=$(first_scrape "$p")
for r in ok checksum_mismatch missing changed failed; do
    expect_contains "scrub's first scrape" "$out" "aw_scrub_objects_total{result=\"$r\"} 0"
done
kill -TERM "$pid"; wait "$pid" || true; pid=

# --- scrub as a worker
p=$(port)
"$AW_BIN" scrub --all --bucket "$b" --metrics-addr "127.0.0.1:$p" >"$work/scrub.log" 2>&1 &
pid=$!
wait_for "scrub ready after its first pass" 30 "[[ \$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$p/readyz) == 200 ]]"
expect_eq "healthz" 200 "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$p/healthz")"
expect_eq "scrub counted its pass" 3 "$(metric "$p" 'aw_scrub_objects_total{result="ok"}')"
expect_contains "build info" "$(curl -sf "http://127.0.0.1:$p/metrics")" 'aw_build_info{version="'
check "$p"
kill -TERM "$pid"
expect_status "scrub stops on SIGTERM" 0 wait "$pid"
pid=

# --- backfill while it runs (files behind the server's back, slowed down)
bb=$(unique_bucket metrics-bf)
s3api create-bucket --bucket "$bb" >/dev/null
mkdir -p "$AW_STACK_DIR/s3/data/$bb"
for i in $(seq 1 40); do echo "backfill $i" >"$AW_STACK_DIR/s3/data/$bb/f$i"; done
p=$(port)
"$AW_BIN" backfill "s3://$bb" --page-size 10 --max-objects-per-sec 5 --metrics-addr "127.0.0.1:$p" \
    >"$work/backfill.log" 2>&1 &
pid=$!
wait_for "backfill counting its first pages" 30 \
    "[[ \$(metric $p 'aw_backfill_objects_total{result=\"new\"}') -ge 10 ]] 2>/dev/null"
expect_eq "healthz while backfilling" 200 "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$p/healthz")"
expect_contains "bytes counted" "$(curl -sf "http://127.0.0.1:$p/metrics")" "aw_backfill_bytes_total "
check "$p"
expect_status "backfill ends well" 0 wait "$pid"
pid=
expect_contains "the whole bucket" "$(cat "$work/backfill.log")" "listed 40; indexed 40 (new 40"

# --- ingest consuming
p=$(port)
"$AW_BIN" ingest --group "$group" --metrics-addr "127.0.0.1:$p" >"$work/ingest.log" 2>&1 &
pid=$!
wait_for "ingest serving" 30 "curl -sf http://127.0.0.1:$p/healthz >/dev/null"
echo "one more $run_id" | aws s3 cp --only-show-errors - "s3://$b/o4.bin"
wait_for "the event counted" 60 "[[ \$(metric $p aw_ingest_events_total) -ge 1 ]]"
wait_for "consumer lag per partition, from librdkafka's statistics" 20 \
    "curl -sf http://127.0.0.1:$p/metrics | grep -Eq '^aw_ingest_consumer_lag\\{topic=\"$AW_KAFKA_TOPIC\",partition=\"[0-9]+\"\\} [0-9]+\$'"
printf '{"Records": [broken' | "$ITEST_BIN/kafka_tool" produce "$AW_KAFKA_TOPIC" "metrics-$run_id" 0
wait_for "the dead letter counted by its code" 60 \
    "[[ \$(metric $p 'aw_ingest_dead_letters_total{code=\"AW_EPARSE\"}') -ge 1 ]] 2>/dev/null"
# a versitygw record whose bucket name and key are another request's (as
# v1.8.0 sends under parallel requests); its bucket ARN names o4.bin
printf '{"Records":[{"eventVersion":"2.2","eventSource":"aws:s3","eventName":"s3:ObjectCreated:Put","s3":{"configurationId":"webhook-global","bucket":{"name":"zz%s","arn":"arn:aws:s3:::/%s/o4.bin"},"object":{"key":"k9","size":1,"sequencer":"7"}}}]}' \
    "$run_id" "$b" | "$ITEST_BIN/kafka_tool" produce "$AW_KAFKA_TOPIC" "metrics-$run_id" 0
wait_for "the record read from its ARN counted" 60 \
    "[[ \$(metric $p aw_ingest_events_repaired_total) -ge 1 ]] 2>/dev/null"
expect_eq "ready while consuming" 200 "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$p/readyz")"
expect_eq "a fetch timed" 1 "$(python3 -c "print(int(float('$(metric "$p" aw_ingest_fetch_seconds_count)') >= 1))")"
expect_eq "a batch written" 1 "$(python3 -c "print(int(float('$(metric "$p" aw_ingest_batch_write_seconds_count)') >= 1))")"
check "$p"
kill -TERM "$pid"
expect_status "ingest stops on SIGTERM" 0 wait "$pid"
pid=

# --- bad addresses
python3 -c 'import socket,time,sys; s=socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(); print(s.getsockname()[1]); sys.stdout.flush(); time.sleep(30)' >"$work/taken" &
holder=$!
wait_for "a port held" 10 "[[ -s $work/taken ]]"
rc=0
out=$("$AW_BIN" scrub --once --bucket "$b" --metrics-addr "127.0.0.1:$(cat "$work/taken")" 2>&1) || rc=$?
kill "$holder" 2>/dev/null || true
expect_eq "a taken port" 2 "$rc"
expect_contains "says so" "$out" "cannot listen there"
rc=0
out=$("$AW_BIN" scrub --once --bucket "$b" --metrics-addr "localhost" 2>&1) || rc=$?
expect_eq "not an address" 2 "$rc"
expect_contains "says what it wants" "$out" "expected HOST:PORT"

done_ok
