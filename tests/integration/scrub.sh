#!/usr/bin/env bash
# Scrub on the real stack (PostgreSQL, Kafka, versitygw; uploads with the AWS
# CLI):
#  - a first pass verifies every version;
#  - bytes rotted on versitygw's disk under an unchanged ETag open
#    checksum_mismatch, whose blast radius names the model trained on them;
#    a file removed behind the server's back opens missing; a LISTEN on
#    aw_alerts receives the wake-up;
#  - what is found bad makes its folder's other versions suspects, read in
#    the next pass;
#  - seen again: the same alert, seen twice; restored bytes resolve it;
#  - SIGKILL mid-pass: the next pass reads only what was not verified;
#  - a store or a database that is away: exit 1, nothing recorded;
#  - two workers sharing a pass never read a version twice;
#  - a version larger than --range-size is read in byte ranges, and a byte
#    rotted in its middle is found;
#  - a recorded size no object has does not overflow a batch's byte count;
#  - a deletion recorded after a 404 resolves the missing alert.
source "$(dirname "$0")/lib.sh"
require_stack

run_id=$(date +%s)-$RANDOM
work=$(mktemp -d)
trap 'rm -rf "$work"; [[ -n ${lpid:-} ]] && kill "$lpid" 2>/dev/null; true' EXIT
group=scrub-$run_id
"$AW_BIN" ingest --group "$group" --drain --log-level error
drain() { "$AW_BIN" ingest --group "$group" --drain --log-level error; }
scrub() { "$AW_BIN" scrub --once --bucket "$b" "$@" 2>&1; }
count() { sed -nE "s/.*pass (done|stopped): ([0-9]+) ok, ([0-9]+) checksum mismatches, ([0-9]+) missing.*/\\$1/p" | tail -n 1; }

b=$(unique_bucket scrub)
s3api create-bucket --bucket "$b" >/dev/null
disk=$AW_STACK_DIR/s3/data/$b
src=$work/src
mkdir -p "$src/data" "$src/models/churn/v1" "$src/bulk"
echo "training rows $run_id" >"$src/data/train.csv"
echo "a file that will vanish $run_id" >"$src/data/gone.csv"
echo "a file that stays $run_id" >"$src/data/other.csv"
sum=$(sha256sum "$src/data/train.csv" | cut -d' ' -f1)
echo "model bytes $run_id" >"$src/models/churn/v1/model.joblib"
printf '{"created_from":{"data_path":"s3://%s/data/train.csv","data_checksum":"%s"}}' \
    "$b" "$sum" >"$src/models/churn/v1/metadata.json"
for i in $(seq 1 60); do echo "bulk $i $run_id" >"$src/bulk/b$i.bin"; done
aws s3 cp --only-show-errors --recursive "$src" "s3://$b/"
"$ITEST_BIN/kafka_events" --bucket "$b" --min 65 --timeout 60 >/dev/null
drain
live=$(sql -c "SELECT count(*) FROM aw.object_versions WHERE bucket = '$b' AND state = 'present'")
expect_eq "versions indexed" 65 "$live"

# --- a first pass verifies everything
out=$(scrub --all)
expect_eq "first pass: all ok" "$live" "$(count 2 <<<"$out")"
expect_eq "progress recorded" "$live" \
    "$(sql -c "SELECT count(*) FROM aw.scrub_state s JOIN aw.object_versions v ON v.id = s.object_version_id WHERE v.bucket = '$b' AND s.last_result = 'ok' AND s.due_at > now() + interval '5 days'")"
out=$(scrub)
expect_eq "nothing due right after a pass" "0" "$(count 2 <<<"$out")"

# --- rot and loss behind the server's back; a listener waits for the wake-up
python3 - "$disk/data/train.csv" <<'PY'
import sys
with open(sys.argv[1], "r+b") as f:
    b = bytearray(f.read())
    b[0] ^= 0x20
    f.seek(0)
    f.write(b)
PY
rm "$disk/data/gone.csv"
# (psql prints what it was notified of after each statement)
naps=()
for _ in $(seq 1 12); do naps+=(-c "SELECT pg_sleep(1)"); done
sql -c "LISTEN aw_alerts" "${naps[@]}" >"$work/listen.out" 2>&1 &
lpid=$!
sleep 1
# only the rotted file first: what is found bad makes its folder's other
# versions suspects, due now; the next pass reads them (and only them)
out=$(scrub --all --prefix data/train.csv)
expect_eq "one checksum mismatch" 1 "$(count 3 <<<"$out")"
expect_eq "its siblings are suspects, due now" "2|2" \
    "$(sql -F'|' -c "SELECT count(*) FILTER (WHERE s.suspect), count(*) FILTER (WHERE s.due_at <= now()) FROM aw.scrub_state s JOIN aw.object_versions v ON v.id = s.object_version_id WHERE v.bucket = '$b' AND v.key IN ('data/gone.csv', 'data/other.csv')")"
out=$(scrub)
expect_eq "the suspects are read: one ok" 1 "$(count 2 <<<"$out")"
expect_eq "and one missing" 1 "$(count 4 <<<"$out")"
expect_eq "the rotted one is not read twice" 0 "$(count 3 <<<"$out")"
row=$(sql -F'|' -c "SELECT kind, state, expected, actual <> expected, blast_radius >= 1,
    array_to_string(blast_uris, ' ') FROM aw.alerts WHERE bucket = '$b' AND key = 'data/train.csv'")
expect_contains "checksum_mismatch alert" "$row" "checksum_mismatch|open|$sum|t|t|"
expect_contains "its blast radius names the model" "$row" "s3://$b/models/churn/v1/model.joblib"
expect_eq "missing alert" "missing|open" \
    "$(sql -F'|' -c "SELECT kind, state FROM aw.alerts WHERE bucket = '$b' AND key = 'data/gone.csv'")"
wait "$lpid" 2>/dev/null || true
lpid=
alert_id=$(sql -c "SELECT id FROM aw.alerts WHERE bucket = '$b' AND key = 'data/train.csv'")
expect_contains "LISTEN aw_alerts woke with the alert id" "$(cat "$work/listen.out")" \
    "\"aw_alerts\" with payload \"$alert_id\""

# --- seen again: one row, seen twice; a suspect comes first
scrub --all >/dev/null
expect_eq "seen again" "1|2" \
    "$(sql -F'|' -c "SELECT count(*), max(seen_count) FROM aw.alerts WHERE bucket = '$b' AND key = 'data/train.csv'")"

# --- restored bytes resolve the alert
printf 'training rows %s\n' "$run_id" >"$disk/data/train.csv"
out=$(scrub --all)
expect_eq "resolved by restored bytes" "resolved|t" \
    "$(sql -F'|' -c "SELECT state, resolved_at IS NOT NULL FROM aw.alerts WHERE id = $alert_id")"
expect_eq "the missing file stays open" "open" \
    "$(sql -c "SELECT state FROM aw.alerts WHERE bucket = '$b' AND key = 'data/gone.csv'")"

# --- SIGKILL mid-pass: what was verified is not read again
sql -q -c "UPDATE aw.scrub_state s SET due_at = now() FROM aw.object_versions v WHERE v.id = s.object_version_id AND v.bucket = '$b'"
mark=$(sql -c "SELECT now()")
"$AW_BIN" scrub --once --bucket "$b" --max-objects-per-sec 10 --scrub-batch 2 >"$work/killed.log" 2>&1 &
spid=$!
wait_for "some versions verified before the kill" 30 \
    "[[ \$(sql -c \"SELECT count(*) FROM aw.scrub_state s JOIN aw.object_versions v ON v.id = s.object_version_id WHERE v.bucket = '$b' AND s.last_verified_at >= '$mark'\") -ge 6 ]]"
kill -9 "$spid"
wait "$spid" 2>/dev/null || true
done1=$(sql -c "SELECT count(*) FROM aw.scrub_state s JOIN aw.object_versions v ON v.id = s.object_version_id WHERE v.bucket = '$b' AND s.last_verified_at >= '$mark'")
held=$(sql -c "SELECT count(*) FROM aw.scrub_state s JOIN aw.object_versions v ON v.id = s.object_version_id WHERE v.bucket = '$b' AND s.lease_until > now() AND (s.last_verified_at IS NULL OR s.last_verified_at < '$mark')")
out=$(scrub)
read2=$(( $(count 2 <<<"$out") + $(count 3 <<<"$out") + $(count 4 <<<"$out") ))
expect_eq "the resumed pass reads only the rest (held by the dead worker: $held)" \
    "$((live - done1 - held))" "$read2"
after=$(sql -c "SELECT count(*) FROM aw.scrub_state s JOIN aw.object_versions v ON v.id = s.object_version_id WHERE v.bucket = '$b' AND s.last_verified_at >= '$mark'")
expect_eq "nothing read twice: verified after the kill" "$((live - done1 - held))" "$((after - done1))"

# --- a store that is away is no object's fault: nothing recorded, exit 1
free_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
state() { sql -c "SELECT count(*) FILTER (WHERE s.last_verified_at >= '$mark'), sum(s.failures), count(*) FILTER (WHERE s.lease_until > now()) FROM aw.scrub_state s JOIN aw.object_versions v ON v.id = s.object_version_id WHERE v.bucket = '$b'"; }
before=$(state)
rc=0
out=$("$AW_BIN" scrub --once --all --bucket "$b" --s3-endpoint "http://127.0.0.1:$free_port" --fetch-retries 0 2>&1) || rc=$?
expect_eq "exit status with the store away" 1 "$rc"
expect_contains "it says why" "$out" "unreachable"
expect_eq "nothing recorded, no lease held" "$before" "$(state)"
expect_eq "no alert opened" 0 \
    "$(sql -c "SELECT count(*) FROM aw.alerts WHERE bucket = '$b' AND kind = 'unreadable'")"
# and a database that is away: a clear error, exit 1
rc=0
out=$("$AW_BIN" scrub --once --bucket "$b" --pg "postgresql://aw@127.0.0.1:$free_port/aw" 2>&1) || rc=$?
expect_eq "exit status with PostgreSQL away" 1 "$rc"
expect_contains "it names PostgreSQL" "$out" "PostgreSQL"

# --- two workers share a pass
sql -q -c "UPDATE aw.scrub_state s SET due_at = now(), lease_until = NULL FROM aw.object_versions v WHERE v.id = s.object_version_id AND v.bucket = '$b'"
"$AW_BIN" scrub --once --bucket "$b" --scrub-batch 3 >"$work/w1.log" 2>&1 &
p1=$!
"$AW_BIN" scrub --once --bucket "$b" --scrub-batch 3 >"$work/w2.log" 2>&1 &
p2=$!
wait "$p1" "$p2"
r1=$(( $(count 2 <"$work/w1.log") + $(count 4 <"$work/w1.log") ))
r2=$(( $(count 2 <"$work/w2.log") + $(count 4 <"$work/w2.log") ))
expect_eq "two workers read every version once between them ($r1 + $r2)" "$live" "$((r1 + r2))"

# --- a large version is read as byte ranges, and rot inside one is found
b=$(unique_bucket scrub-ranged)
s3api create-bucket --bucket "$b" >/dev/null
head -c 300000 /dev/urandom >"$work/big.bin"
aws s3 cp --only-show-errors "$work/big.bin" "s3://$b/big.bin"
"$ITEST_BIN/kafka_events" --bucket "$b" --min 1 --timeout 60 >/dev/null
drain
out=$(scrub --all --range-size 65536 --range-concurrency 3 --log-level debug)
expect_contains "read in ranges" "$out" "in ranges of 65536 bytes, 3 at a time"
expect_eq "the ranged read verifies" 1 "$(count 2 <<<"$out")"
python3 - "$AW_STACK_DIR/s3/data/$b/big.bin" <<'PY'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(200000)
    c = f.read(1)
    f.seek(200000)
    f.write(bytes([c[0] ^ 1]))
PY
out=$(scrub --all --range-size 65536 --range-concurrency 3)
expect_eq "a flipped bit in the fourth range is a checksum mismatch" 1 "$(count 3 <<<"$out")"

# --- a recorded size no object has (as a row from an earlier version could
# hold), read after a version of ordinary size in the same batch (the
# pass's first batch is one version, to learn the average size): the batch's
# byte count cannot overflow, the pass reads all three and ends
for f in mid tail; do
    echo "$f $RANDOM" >"$work/$f.txt"
    aws s3 cp --only-show-errors "$work/$f.txt" "s3://$b/$f.txt"
done
"$ITEST_BIN/kafka_events" --bucket "$b" --min 3 --timeout 60 >/dev/null
drain
sql -q -c "UPDATE aw.object_versions SET size = 9223372036854775807 WHERE bucket = '$b' AND key = 'tail.txt'"
sql -q -c "UPDATE aw.scrub_state s SET due_at = now(), lease_until = NULL, suspect = false,
             last_verified_at = now() - CASE v.key WHEN 'big.bin' THEN interval '3 days'
                                                  WHEN 'mid.txt' THEN interval '2 days' ELSE interval '1 day' END
           FROM aw.object_versions v WHERE v.id = s.object_version_id AND v.bucket = '$b'"
out=$(scrub --all --range-size 65536 --range-concurrency 3) ||
    fail "scrub failed over a size no object has: $(tail -n 3 <<<"$out")"
expect_contains "a pass over a size no object has ends" "$out" "pass done"
expect_eq "read whole" 2 "$(count 2 <<<"$out")"
expect_eq "and the mismatch still there" 1 "$(count 3 <<<"$out")"

# --- a deletion recorded after scrub's 404 (its event read after the pass)
# explains the 404: the missing alert resolves (data/gone.csv above, deleted
# with no event, stays open)
b=$(unique_bucket scrub-deleted)
s3api create-bucket --bucket "$b" >/dev/null
echo "deleted through the store $run_id" >"$work/del.txt"
aws s3 cp --only-show-errors "$work/del.txt" "s3://$b/m/del.txt"
"$ITEST_BIN/kafka_events" --bucket "$b" --min 1 --timeout 60 >/dev/null
drain
aws s3 rm --only-show-errors "s3://$b/m/del.txt"
out=$(scrub --all)
expect_eq "read before ingest saw the deletion: missing" 1 "$(count 4 <<<"$out")"
expect_eq "its alert opens" "open" \
    "$(sql -c "SELECT state FROM aw.alerts WHERE bucket = '$b' AND kind = 'missing'")"
"$ITEST_BIN/kafka_events" --bucket "$b" --min 2 --timeout 60 >/dev/null
drain
expect_eq "the recorded deletion resolves it" "resolved|deletion|t" \
    "$(sql -F'|' -c "SELECT a.state, a.detail->>'resolved_by', v.deleted FROM aw.alerts a JOIN aw.object_versions v ON v.id = a.object_version_id WHERE a.bucket = '$b' AND a.kind = 'missing'")"

done_ok
