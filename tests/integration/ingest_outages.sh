#!/usr/bin/env bash
# Outages that are not a stopped server, on the real stack:
#  - PostgreSQL answers, but cannot take the batch: a read-only session (as
#    after a failover), a statement timeout, a missing privilege. Each pauses
#    ingest with nothing dead-lettered and no offset moved, and the batch is
#    indexed once the database is itself again;
#  - a rebalance while the partitions are paused (the S3 server is down): a
#    partition taken away and given back resumes from its committed offset,
#    so nothing it held is skipped (also when the outage began during a long
#    fetch's keepalive pause and the partition comes back after the batch:
#    librdkafka keeps a partition's pause across revoke and assign).
source "$(dirname "$0")/lib.sh"
require_stack
STACK=$REPO/scripts/stack

run_id=$(date +%s)-$RANDOM
work=$(mktemp -d)
# the test's own sessions are never read-only or timed out; ingest gets no
# PGOPTIONS, so the role's settings apply to it
export PGOPTIONS="-c default_transaction_read_only=off -c statement_timeout=0"
restore() {
    sql -q -c "ALTER ROLE CURRENT_USER RESET default_transaction_read_only" \
        -c "ALTER ROLE CURRENT_USER RESET statement_timeout" \
        -c "GRANT INSERT ON aw.observations TO CURRENT_USER" >/dev/null 2>&1 || true
}
cleanup() {
    local st=$?
    if ((st != 0)) && [[ -f $work/rebalance.log ]]; then # what ingest saw, for the record
        echo "--- the rebalance ingest's log (last 150 lines), then the other member's" >&2
        grep -v "rdkafka" "$work/rebalance.log" | tail -n 150 >&2
        cat "$work/join.log" >&2 2>/dev/null
    fi
    [[ -n ${pid:-} ]] && kill -9 "$pid" 2>/dev/null
    restore
    "$STACK" up s3 >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
group=outages-$run_id
"$AW_BIN" ingest --group "$group" --drain --log-level error

# --- the database refuses the batch for a reason of its own
kill_sessions() {
    sql -q -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                WHERE usename = current_user AND pid <> pg_backend_pid()" >/dev/null
}
scenario() { # name 'sql that breaks it' expected-words
    local b
    b=$(unique_bucket "$1")
    upload_n "$b" 3
    sql -q -c "$2"
    kill_sessions # sessions opened from now on have the setting
    env -u PGOPTIONS "$AW_BIN" ingest --group "$group" --batch-ms 50 -X session.timeout.ms=6000 \
        >"$work/$1.log" 2>&1 &
    pid=$!
    wait_for "ingest to pause for $1" 60 "grep -q 'PostgreSQL unavailable.*$3' '$work/$1.log'"
    sleep 1
    kill -0 "$pid" || fail "ingest exited on $1: $(tail -3 "$work/$1.log")"
    expect_eq "rows while the database refuses ($1)" 0 "$(rows "$b")"
    expect_eq "dead letters while the database refuses ($1)" 0 "$(dead_letters "$b")"
    restore
    kill_sessions
    wait_for "the 3 objects indexed after $1 ended" 90 "[[ \$(rows '$b') == 3 ]]"
    # the writer commits before the main thread hears of it and says so
    wait_for "ingest to log that PostgreSQL is back ($1)" 15 "grep -q 'PostgreSQL is back; resuming' '$work/$1.log'"
    expect_contains "ingest log after $1" "$(cat "$work/$1.log")" "PostgreSQL is back; resuming"
    expect_eq "dead letters after $1" 0 "$(dead_letters "$b")"
    kill -TERM "$pid"
    wait "$pid" || fail "ingest did not stop cleanly after $1"
    pid=
}
scenario readonly "ALTER ROLE CURRENT_USER SET default_transaction_read_only = on" "read-only transaction"
scenario timeout "ALTER ROLE CURRENT_USER SET statement_timeout = '1ms'" "statement timeout"
scenario privilege "REVOKE INSERT ON aw.observations FROM CURRENT_USER" "permission denied"

# --- a rebalance while paused: partitions taken away and given back
topic=aw.test.rebalance-$run_id
"$ITEST_BIN/kafka_tool" create-topic "$topic" 2
rb=$(unique_bucket rebalance)
s3api create-bucket --bucket "$rb" >/dev/null
mkdir -p "$work/rb"
for i in $(seq 1 20); do echo "rebalance $i" >"$work/rb/r$i.txt"; done
aws s3 cp --recursive --only-show-errors "$work/rb" "s3://$rb/"
for i in $(seq 1 20); do # ten events in each partition
    printf '{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"%s"},"object":{"key":"r%d.txt","size":%d,"sequencer":"%02X"}}}]}' \
        "$rb" "$i" "$(stat -c %s "$work/rb/r$i.txt")" "$i" | "$ITEST_BIN/kafka_tool" produce "$topic" "r$i" $((i % 2))
done
"$STACK" down s3 >/dev/null 2>&1
"$AW_BIN" ingest --topic "$topic" --group "$group" --batch-max 4 --batch-ms 50 \
    -X session.timeout.ms=6000 >"$work/rebalance.log" 2>&1 &
pid=$!
wait_for "ingest to pause on the S3 outage" 60 'grep -q "object store unavailable" "$work/rebalance.log"'
for round in 1 2 3 4; do # each round takes a partition away and gives it back
    "$ITEST_BIN/kafka_tool" join "$topic" "$group" 2 >>"$work/join.log" ||
        fail "round $round: the second member got no partition"
done
expect_contains "partitions the second member held" "$(cat "$work/join.log")" "assigned $topic"
expect_contains "ingest gave partitions up while paused" "$(cat "$work/rebalance.log")" "revoked"
"$STACK" up s3 >/dev/null 2>&1
wait_for "all 20 objects indexed after the rebalances" 90 '[[ $(rows "$rb") == 20 ]]'
expect_eq "dead letters for the rebalanced objects" 0 "$(dead_letters "$rb")"
kill -TERM "$pid"
wait "$pid" || fail "ingest did not stop cleanly"
pid=
done_ok
