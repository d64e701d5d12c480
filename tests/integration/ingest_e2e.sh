#!/usr/bin/env bash
# artifact-watch ingest end to end on the real stack. Files are uploaded with
# the AWS CLI to versitygw, whose notifications reach Kafka; ingest fetches,
# hashes and indexes them. Shown here:
#  - every upload is one row whose sha256 equals sha256sum of the bytes,
#    including a 0-byte object and keys with spaces, '+', '%', unicode and a
#    very long key;
#  - an object deleted before it was fetched is recorded as vanished, and its
#    delete leaves a tombstone (deleted = true), never a hole;
#  - a malformed message goes to the dead-letter topic with its payload and
#    the reason in headers, and the good messages around it are indexed;
#  - replaying the topic from the beginning changes nothing;
#  - kill -9 in the middle of a run, then a restart: every object indexed
#    exactly once, none missing;
#  - events out of order: a write older than a delete that was indexed in an
#    earlier batch is marked deleted; a newer write is not;
#  - one version announced twice in one message, fetched with two outcomes
#    (its ETag no longer matches, then it does): one row, present, with the
#    bytes' digest, and both observations;
#  - PUTs running in parallel into two buckets (versitygw then sends some
#    records naming another request's bucket or key): every object is indexed
#    under its own bucket and key with its own digest, and nothing else is.
source "$(dirname "$0")/lib.sh"
require_stack

run_id=$(date +%s)-$RANDOM
bucket=$(unique_bucket e2e)
work=$(mktemp -d)
trap 'rm -rf "$work"; [[ -n ${ingest_pid:-} ]] && kill -9 "$ingest_pid" 2>/dev/null; true' EXIT
s3api create-bucket --bucket "$bucket" >/dev/null

rows() { sql -c "SELECT count(*) FROM aw.objects WHERE bucket = '$1' $2"; }
ingest() { # group, then extra flags
    local group=$1
    shift
    "$AW_BIN" ingest --group "$group" --batch-ms 50 --log-level warn "$@"
}

# --- uploads: ordinary, empty, hostile keys
src=$work/src
mkdir -p "$src/models/churn/v1.0.0" "$src/data/raw files" "$src/unicode/données/数据" \
    "$src/$(printf 'd%.0s' {1..200})/$(printf 'e%.0s' {1..200})/$(printf 'f%.0s' {1..200})"
for i in $(seq 1 12); do head -c $((i * 3001)) /dev/urandom >"$src/models/churn/v1.0.0/part-$i.bin"; done
head -c 70000 /dev/urandom >"$src/data/raw files/table with spaces.csv"
head -c 1234 /dev/urandom >"$src/data/raw files/a+b=c&d.txt"
head -c 999 /dev/urandom >"$src/data/raw files/100% literal%2F.bin"
head -c 4096 /dev/urandom >"$src/unicode/données/数据/résumé ✓.parquet"
head -c 10 /dev/urandom >"$src/$(printf 'd%.0s' {1..200})/$(printf 'e%.0s' {1..200})/$(printf 'f%.0s' {1..200})/long-key.bin"
: >"$src/empty.dat"
aws s3 cp --recursive --only-show-errors "$src" "s3://$bucket/"
declare -A want
while IFS= read -r -d '' f; do
    key=${f#"$src"/}
    want[$key]="$(stat -c %s "$f")|$(sha256sum "$f" | cut -d' ' -f1)"
done < <(find "$src" -type f -print0)
n=${#want[@]}

# --- an object deleted before ingest could fetch it
echo "short-lived" >"$work/gone"
s3 cp "$work/gone" "s3://$bucket/gone.txt"
s3 rm "s3://$bucket/gone.txt"

# --- a malformed message between good ones
printf '{"Records":[{"eventVersion":"2.1", "broken' | "$ITEST_BIN/kafka_tool" produce "$AW_KAFKA_TOPIC" "malformed-$run_id"
echo "after the bad one" >"$work/after"
s3 cp "$work/after" "s3://$bucket/after-malformed.txt"
want[after-malformed.txt]="$(stat -c %s "$work/after")|$(sha256sum "$work/after" | cut -d' ' -f1)"
n=$((n + 1))

# every event (n creates + gone's create and delete) is in Kafka before draining
"$ITEST_BIN/kafka_events" --bucket "$bucket" --min $((n + 2)) --timeout 60 >/dev/null

ingest "e2e-$run_id" --drain
expect_eq "rows for the uploaded objects" "$n" "$(rows "$bucket" "AND state = 'present'")"
while IFS='|' read -r key size sha deleted; do
    if [[ $key == gone.txt ]]; then continue; fi
    [[ -n ${want[$key]+x} ]] || fail "a row for a key that was never uploaded: [$key]"
    expect_eq "size|sha256 of $key" "${want[$key]}" "$size|$sha"
    expect_eq "deleted flag of $key" "f" "$deleted"
done < <(sql -F'|' -c "SELECT key, size, sha256, deleted FROM aw.objects WHERE bucket = '$bucket'")
expect_eq "sha256 of the empty object" "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" \
    "$(sql -c "SELECT sha256 FROM aw.objects WHERE bucket = '$bucket' AND key = 'empty.dat'")"
expect_eq "versions of gone.txt (state, deleted)" "tombstone|true,vanished|true" \
    "$(sql -c "SELECT string_agg(state || '|' || deleted, ',' ORDER BY state) FROM aw.objects WHERE bucket = '$bucket' AND key = 'gone.txt'")"

# --- the dead letter: original payload, reason in headers
dlq=$("$ITEST_BIN/kafka_tool" dump "$AW_KAFKA_DLQ_TOPIC" | grep -F "\"malformed-$run_id\"" || true)
expect_eq "dead letters for the malformed message" 1 "$(printf '%s\n' "$dlq" | grep -c .)"
field() { python3 -c 'import json,sys; m=json.loads(sys.argv[1]); v=m; [v:=v[k] for k in sys.argv[2:]]; print(v)' "$dlq" "$@"; }
expect_eq "dead letter payload" '{"Records":[{"eventVersion":"2.1", "broken' "$(field value)"
expect_eq "dead letter error code" "AW_EPARSE" "$(field headers aw-error-code)"
expect_contains "dead letter reason" "$(field headers aw-error)" "invalid JSON"
expect_eq "dead letter source topic" "$AW_KAFKA_TOPIC" "$(field headers aw-source-topic)"
expect_eq "original headers kept" "kafka_tool" "$(field headers origin)"

# --- replay from the beginning: nothing changes
before=$(sql -c "SELECT md5(string_agg(key || version_ref || coalesce(encode(sha256,'hex'),'') || indexed_at, ',' ORDER BY key, version_ref)) FROM aw.object_versions WHERE bucket = '$bucket'")
obs_before=$(sql -c "SELECT count(*) FROM aw.observations o JOIN aw.object_versions v ON v.id = o.object_version_id WHERE v.bucket = '$bucket'")
ingest "e2e-replay-$run_id" --drain
expect_eq "rows after a replay" "$n" "$(rows "$bucket" "AND state = 'present'")"
expect_eq "object versions after a replay (same rows, same indexed_at)" "$before" \
    "$(sql -c "SELECT md5(string_agg(key || version_ref || coalesce(encode(sha256,'hex'),'') || indexed_at, ',' ORDER BY key, version_ref)) FROM aw.object_versions WHERE bucket = '$bucket'")"
expect_eq "observations after a replay" "$obs_before" \
    "$(sql -c "SELECT count(*) FROM aw.observations o JOIN aw.object_versions v ON v.id = o.object_version_id WHERE v.bucket = '$bucket'")"

# --- kill -9 in the middle of a run
kbucket=$(unique_bucket kill)
group=kill-$run_id
# the group starts at the end of what earlier tests left on the topic, so
# the slow run below reaches this test's events at once
"$AW_BIN" ingest --group "$group" --drain --log-level error
s3api create-bucket --bucket "$kbucket" >/dev/null
mkdir -p "$work/many"
m=300
for i in $(seq 1 $m); do printf 'object %d of run %s\n' "$i" "$run_id" >"$work/many/obj-$i.txt"; done
aws s3 cp --recursive --only-show-errors "$work/many" "s3://$kbucket/"
"$ITEST_BIN/kafka_events" --bucket "$kbucket" --min $m --timeout 90 >/dev/null
# the binary itself in the background (not a shell function), so $! is its pid;
# a short session timeout lets the group evict the killed member quickly
"$AW_BIN" ingest --group "$group" --batch-ms 50 --log-level warn --batch-max 2 \
    --fetch-concurrency 1 -X session.timeout.ms=6000 &
ingest_pid=$!
at_kill=0
for _ in $(seq 1 600); do
    at_kill=$(rows "$kbucket" "")
    ((at_kill > 0)) && break
    sleep 0.05
done
kill -9 "$ingest_pid"
wait "$ingest_pid" 2>/dev/null || true
ingest_pid=
at_kill=$(rows "$kbucket" "")
((at_kill > 0 && at_kill < m)) || fail "kill -9 was meant to land mid-run, but $at_kill of $m rows were indexed"
ingest "$group" --drain
expect_eq "rows after kill -9 and restart" "$m" "$(rows "$kbucket" "AND state = 'present'")"
expect_eq "observations after kill -9 and restart (one per object)" "$m" \
    "$(sql -c "SELECT count(*) FROM aw.observations o JOIN aw.object_versions v ON v.id = o.object_version_id WHERE v.bucket = '$kbucket'")"
for i in $(seq 1 $m); do
    printf 'object %d of run %s\n' "$i" "$run_id" | sha256sum | cut -d' ' -f1
done | sort >"$work/want.txt"
sql -c "SELECT sha256 FROM aw.objects WHERE bucket = '$kbucket'" | sort >"$work/got.txt"
expect_eq "sha256 of every object after kill -9" "" "$(diff "$work/want.txt" "$work/got.txt" | head -5)"

# --- out of order, across batches (AWS-style events with hex sequencers)
obucket=$(unique_bucket order)
event() { # name sequencer
    printf '{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","eventTime":"2026-01-01T00:00:00Z","eventName":"%s","s3":{"bucket":{"name":"%s"},"object":{"key":"k.bin","size":3,"sequencer":"%s"}}}]}' \
        "$1" "$obucket" "$2" | "$ITEST_BIN/kafka_tool" produce "$AW_KAFKA_TOPIC"
}
event ObjectRemoved:Delete 0055AED6DCD90281B0
ingest "order-$run_id" --drain
event ObjectCreated:Put 0055AED6DCD90281A0   # older than the delete, arrives later
event ObjectCreated:Put 0055AED6DCD90281C0   # newer than the delete
ingest "order-$run_id" --drain
expect_eq "versions of k.bin by sequencer: state|deleted" \
    "0055AED6DCD90281A0|vanished|t,0055AED6DCD90281B0|tombstone|t,0055AED6DCD90281C0|vanished|f" \
    "$(sql -c "SELECT string_agg(sequencer || '|' || state || '|' || CASE WHEN deleted THEN 't' ELSE 'f' END, ',' ORDER BY sequencer) FROM aw.object_versions WHERE bucket = '$obucket'")"

# --- one version, two records in one message: the first pins an ETag the
# object does not have (412: superseded), the second its real one (present);
# the batch's rows of a version merge into one row and the best state wins
dbucket=$(unique_bucket dup)
s3api create-bucket --bucket "$dbucket" >/dev/null
head -c 5000 /dev/urandom >"$work/dup"
etag=$(s3api put-object --bucket "$dbucket" --key d.bin --body "$work/dup" --query ETag \
    --output text | tr -d '"')
record() { # etag
    printf '{"eventVersion":"2.1","eventSource":"aws:s3","eventTime":"2026-01-01T00:00:00Z","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"%s"},"object":{"key":"d.bin","size":5000,"eTag":"%s","sequencer":"0055AED6DCD9028200"}}}' \
        "$dbucket" "$1"
}
printf '{"Records":[%s,%s]}' "$(record 0123456789abcdef0123456789abcdef)" "$(record "$etag")" |
    "$ITEST_BIN/kafka_tool" produce "$AW_KAFKA_TOPIC"
ingest "dup-$run_id" --drain
expect_eq "a version superseded and present in one batch: state|sha256|observations" \
    "present|$(sha256sum "$work/dup" | cut -d' ' -f1)|2" \
    "$(sql -c "SELECT v.state || '|' || encode(v.sha256, 'hex') || '|' || (SELECT count(*) FROM aw.observations o WHERE o.object_version_id = v.id) FROM aw.object_versions v WHERE v.bucket = '$dbucket' AND v.sequencer = '0055AED6DCD9028200'")"
# --- parallel PUTs into two buckets whose names differ in length. versitygw
# (v1.8.0) fills a record's bucket name and key from the request buffer after
# the request ended, so some records name another request's bucket or key;
# the bucket ARN in the record stays right and ingest reads it
pa=$(unique_bucket pa)
pb=$(unique_bucket parallel-longer)
s3api create-bucket --bucket "$pa" >/dev/null
s3api create-bucket --bucket "$pb" >/dev/null
p=500
# botocore (the AWS CLI's own library), 8 threads, one client each
python3 - "$pa" "$pb" "$p" "$run_id" <<'PY' || fail "parallel uploads failed"
import concurrent.futures, os, sys, threading
import botocore.config, botocore.session
a, b, n, run = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
local = threading.local()
def put(job):
    if not hasattr(local, "s3"):
        local.s3 = botocore.session.get_session().create_client(
            "s3", endpoint_url=os.environ["AWS_ENDPOINT_URL_S3"],
            config=botocore.config.Config(s3={"addressing_style": "path"}))
    bucket, i = job
    local.s3.put_object(Bucket=bucket, Key="k%d" % i, Body=b"parallel %d %s\n" % (i, run.encode()))
with concurrent.futures.ThreadPoolExecutor(8) as pool:
    list(pool.map(put, [(x, i) for i in range(1, n + 1) for x in (a, b)]))
PY
"$ITEST_BIN/kafka_events" --bucket "$pa" --min $p --timeout 60 >/dev/null
"$ITEST_BIN/kafka_events" --bucket "$pb" --min $p --timeout 60 >/dev/null
# how many records the store got wrong (shown, not asserted: it is a race)
"$ITEST_BIN/kafka_tool" dump "$AW_KAFKA_TOPIC" | python3 -c '
import json, sys
bad = 0
for line in sys.stdin:
    if sys.argv[1] not in line and sys.argv[2] not in line:
        continue
    for r in json.loads(json.loads(line)["value"]).get("Records", []):
        s3 = r["s3"]
        if s3["bucket"]["arn"] != "arn:aws:s3:::/%s/%s" % (s3["bucket"]["name"], s3["object"]["key"]):
            bad += 1
print("ingest_e2e.sh: %d of the parallel PUT records name another request\x27s bucket or key" % bad)
' "$pa" "$pb"
ingest "kill-$run_id" --drain
for i in $(seq 1 $p); do
    printf 'k%d|%s\n' "$i" "$(printf 'parallel %d %s\n' "$i" "$run_id" | sha256sum | cut -d' ' -f1)"
done | sort >"$work/want-par.txt"
for pbk in "$pa" "$pb"; do
    sql -c "SELECT key || '|' || sha256 FROM aw.objects WHERE bucket = '$pbk' AND state = 'present'" |
        sort >"$work/got-par.txt"
    expect_eq "$pbk: every parallel PUT under its own key with its digest, nothing else" "" \
        "$(diff "$work/want-par.txt" "$work/got-par.txt" | head -5)"
done
expect_eq "no row in either bucket other than the present objects" 0 \
    "$(sql -c "SELECT count(*) FROM aw.object_versions WHERE bucket IN ('$pa', '$pb') AND state <> 'present'")"
done_ok
