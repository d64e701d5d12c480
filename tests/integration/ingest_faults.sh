#!/usr/bin/env bash
# ingest when things go wrong, on the real stack:
#  - PostgreSQL stops while ingest runs: progress pauses (nothing indexed, no
#    offsets stored), and resumes by itself when PostgreSQL is back;
#  - the S3 server stops: the same, nothing is dead-lettered meanwhile;
#  - SIGTERM drains (finishes, commits, exits 0); a second signal exits at once;
#  - a database that never answers is given up on after connect_timeout;
#  - --verify-md5: bytes that rotted on the server's disk under an unchanged
#    single-part ETag are recorded as a failed etag_md5 check.
source "$(dirname "$0")/lib.sh"
require_stack
STACK=$REPO/scripts/stack

run_id=$(date +%s)-$RANDOM
work=$(mktemp -d)
cleanup() {
    [[ -n ${pid:-} ]] && kill -9 "$pid" 2>/dev/null
    "$STACK" up >/dev/null 2>&1 || true # never leave the stack half down
    rm -rf "$work"
}
trap cleanup EXIT
stack() { # up|down service: the local stack's own script, its words kept for a failure
    "$STACK" "$@" >"$work/stack.log" 2>&1 || fail "scripts/stack $*: $(tail -n 5 "$work/stack.log")"
}
# Starts ingest (group twosig-$run_id) against an endpoint that accepts
# connections and never answers, and waits until it is fetching; sets $pid
# and $hole (the endpoint's pid).
ingest_on_silent_endpoint() { # log extra-flags...
    local log=$1
    shift
    python3 -c 'import socket,time
s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen(128)
print(s.getsockname()[1], flush=True); time.sleep(120)' >"$log.port" &
    hole=$!
    wait_for "the silent endpoint to listen" 10 "[[ -s $log.port ]]"
    "$AW_BIN" ingest --group "twosig-$run_id" --s3-endpoint "http://127.0.0.1:$(cat "$log.port")" \
        --fetch-timeout-ms 120000 -X session.timeout.ms=6000 "$@" >"$log" 2>&1 &
    pid=$!
    wait_for "ingest to start fetching" 30 "grep -q assigned $log 2>/dev/null"
}
start_ingest() { # group log: the binary itself in the background
    "$AW_BIN" ingest --group "$1" --batch-ms 50 -X session.timeout.ms=6000 >"$2" 2>&1 &
    pid=$!
}

# --- PostgreSQL goes away and comes back
b1=$(unique_bucket pgdown)
upload_n "$b1" 5
# earlier events on the shared topic are indexed first, so the 5 new ones
# are the only work left when PostgreSQL stops
"$AW_BIN" ingest --group "faults-$run_id" --drain --log-level warn
upload_n "${b1}b" 5
stack down pg
start_ingest "faults-$run_id" "$work/pg.log"
wait_for "ingest to report PostgreSQL unavailable" 30 'grep -q "PostgreSQL unavailable" "$work/pg.log"' 
expect_contains "ingest log while PostgreSQL is down" "$(cat "$work/pg.log")" "batch kept, partitions paused"
expect_contains "ingest log while PostgreSQL is down" "$(cat "$work/pg.log")" \
    "PostgreSQL not ready at start"
kill -0 "$pid" || fail "ingest exited while PostgreSQL was down"
stack up pg
wait_for "the 5 objects indexed after PostgreSQL returned" 60 '[[ $(rows "${b1}b") == 5 ]]' 
# the writer commits before the main thread hears of it and says so
wait_for "ingest to log that PostgreSQL is back" 15 'grep -q "PostgreSQL is back; resuming" "$work/pg.log"'
expect_contains "ingest log after PostgreSQL returned" "$(cat "$work/pg.log")" "PostgreSQL is back; resuming"

# --- SIGTERM: drain and exit 0, offsets committed
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
pid=
expect_eq "exit status after SIGTERM" 0 "$rc"
expect_contains "ingest log at SIGTERM" "$(cat "$work/pg.log")" "stopping: in-flight batch finished"
# committed: the same group has nothing left to do; the writer still
# connects and runs its statements once at start, and that writes nothing
counts() {
    sql -At -c "SELECT (SELECT count(*) FROM aw.object_versions), (SELECT count(*) FROM aw.observations),
                       (SELECT count(*) FROM aw.artifacts), (SELECT count(*) FROM aw.edges),
                       (SELECT max(indexed_at) FROM aw.object_versions)"
}
before=$(counts)
"$AW_BIN" ingest --group "faults-$run_id" --drain --log-level debug >"$work/after.log" 2>&1
expect_contains "a drain after SIGTERM" "$(cat "$work/after.log")" "indexed 0 event(s)"
expect_contains "a drain after SIGTERM" "$(cat "$work/after.log")" "PostgreSQL ready for the first batch"
expect_eq "rows after a drain with nothing to do" "$before" "$(counts)"

# --- the S3 server goes away and comes back
b2=$(unique_bucket s3down)
upload_n "$b2" 4
dlq_before=$("$ITEST_BIN/kafka_tool" dump "$AW_KAFKA_DLQ_TOPIC" | grep -c . || true)
stack down s3
start_ingest "faults-$run_id" "$work/s3.log"
wait_for "ingest to report the object store unavailable" 30 'grep -q "object store unavailable" "$work/s3.log"' 
sleep 1
expect_eq "rows while the S3 server is down" 0 "$(rows "$b2")"
stack up s3
if ! (wait_for "the 4 objects indexed after the S3 server returned" 60 '[[ $(rows "$b2") == 4 ]]'); then
    tail -n 40 "$work/s3.log" >&2
    fail "ingest did not index the objects after the S3 server returned (its log above)"
fi
expect_eq "dead letters written during the outage" "$dlq_before" \
    "$("$ITEST_BIN/kafka_tool" dump "$AW_KAFKA_DLQ_TOPIC" | grep -c . || true)"

# --- a second signal exits at once. A fetch hangs on an endpoint that accepts
# connections and never answers, so the first SIGTERM has in-flight work to
# finish and must not exit; the second must.
kill -TERM "$pid"
wait "$pid" || true
b3=$(unique_bucket twosig)
upload_n "$b3" 2
ingest_on_silent_endpoint "$work/sig.log"
sleep 1
kill -TERM "$pid"
sleep 1.5
kill -0 "$pid" || fail "ingest exited on the first SIGTERM although a fetch was in flight"
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
pid=
kill "$hole" 2>/dev/null || true
expect_eq "exit status after a second SIGTERM" 143 "$rc"

# --- one SIGTERM and a fetch that never ends: after --shutdown-grace-ms the
# fetch is abandoned, ingest exits 0 and the batch is replayed by the next run
ingest_on_silent_endpoint "$work/grace.log" --shutdown-grace-ms 1500
sleep 1
t0=$SECONDS
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
pid=
kill "$hole" 2>/dev/null || true
expect_eq "exit status after one SIGTERM with a fetch that never ends" 0 "$rc"
((SECONDS - t0 <= 10)) || fail "ingest took $((SECONDS - t0)) s to stop; the grace period was 1.5 s"
expect_contains "ingest log after the grace period" "$(cat "$work/grace.log")" "abandoned and will be replayed"
"$AW_BIN" ingest --group "twosig-$run_id" --drain --log-level warn
expect_eq "objects of the interrupted batch indexed by the next run" 2 "$(rows "$b3")"

# --- a PostgreSQL that never answers (its listen queue full: SYNs dropped, as
# behind a firewall that drops): connects give up after connect_timeout, 10 s
# unless the URI or PGCONNECT_TIMEOUT says otherwise, and SIGTERM is not held
# for the kernel's TCP timeout. No topic with events, so no batch is in hand.
python3 -c 'import socket,time
s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen(0)
port=s.getsockname()[1]; fill=[socket.socket() for _ in range(4)]
for c in fill: c.setblocking(False); c.connect_ex(("127.0.0.1",port))
print(port, flush=True); time.sleep(120)' >"$work/silent.port" &
hole=$!
wait_for "the silent database to listen" 10 "[[ -s $work/silent.port ]]"
silent_pg() { # log timeout-seconds env...: ingest against it until it gives up connecting
    local log=$1 within=$2
    shift 2
    env "$@" AW_OPENLINEAGE_TOPIC= "$AW_BIN" ingest --topic "aw.faults.silent.$run_id" \
        --group "silent-$run_id" >"$log" 2>&1 &
    pid=$!
    wait_for "ingest to give up on the silent database ($log)" "$within" \
        "grep -q 'PostgreSQL not ready at start.*timeout expired' '$log'"
    kill -TERM "$pid"
    rc=0
    wait "$pid" || rc=$?
    pid=
    expect_eq "exit status after SIGTERM, silent database ($log)" 0 "$rc"
}
silent=postgresql://aw@127.0.0.1:$(cat "$work/silent.port")/aw
silent_pg "$work/silent-default.log" 25 AW_PG_URI="$silent"
silent_pg "$work/silent-uri.log" 6 AW_PG_URI="$silent?connect_timeout=2"
silent_pg "$work/silent-env.log" 6 AW_PG_URI="$silent" PGCONNECT_TIMEOUT=2
kill "$hole" 2>/dev/null || true

# --- bit rot under an unchanged ETag, caught by --verify-md5
b4=$(unique_bucket md5)
s3api create-bucket --bucket "$b4" >/dev/null
head -c 5000 /dev/urandom >"$work/good.bin"
s3 cp "$work/good.bin" "s3://$b4/good.bin"
s3 cp "$work/good.bin" "s3://$b4/rotten.bin"
"$ITEST_BIN/kafka_events" --bucket "$b4" --min 2 --timeout 60 >/dev/null
blob=$AW_STACK_DIR/s3/data/$b4/rotten.bin
[[ -f $blob ]] || fail "versitygw's posix backend has no file at $blob"
printf 'ROT' | dd of="$blob" bs=1 seek=100 conv=notrunc status=none
"$AW_BIN" ingest --group "faults-$run_id" --drain --verify-md5 --log-level warn
md5_good=$(md5sum "$work/good.bin" | cut -d' ' -f1)
expect_eq "etag_md5 check of the intact object" "$md5_good|$md5_good|t" \
    "$(sql -F'|' -c "SELECT c.expected, c.actual, c.ok FROM aw.checks c JOIN aw.object_versions v ON v.id = c.object_version_id WHERE v.bucket = '$b4' AND v.key = 'good.bin' AND c.check_kind = 'etag_md5'")"
expect_eq "etag_md5 check of the rotten object" "$md5_good|$(md5sum "$blob" | cut -d' ' -f1)|f" \
    "$(sql -F'|' -c "SELECT c.expected, c.actual, c.ok FROM aw.checks c JOIN aw.object_versions v ON v.id = c.object_version_id WHERE v.bucket = '$b4' AND v.key = 'rotten.bin' AND c.check_kind = 'etag_md5'")"
expect_eq "sha256 recorded for the rotten object is of the bytes read" "$(sha256sum "$blob" | cut -d' ' -f1)" \
    "$(sql -c "SELECT sha256 FROM aw.objects WHERE bucket = '$b4' AND key = 'rotten.bin'")"
done_ok
