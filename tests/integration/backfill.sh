#!/usr/bin/env bash
# `artifact-watch backfill` on the real stack:
#  - one bucket with objects uploaded through the API (events, indexed by
#    ingest) and files written straight into versitygw's posix backend (no
#    event, no ETag): backfill indexes the second kind with the digests
#    sha256sum gives, leaves the first untouched (no new row, same
#    indexed_at), and reads the sidecars it finds into the lineage graph;
#  - --dry-run says what it would do and does nothing;
#  - a file removed behind the server's back is marked deleted (reason
#    reconcile); a run with nothing changed changes nothing;
#  - a file rewritten between the listing and its GET is not recorded with
#    the listed identity; the next run takes its new bytes;
#  - a versioned bucket: every version and delete marker, and a version
#    deleted since is marked deleted;
#  - SIGKILL in the middle of 20,000 objects, then a rerun: it continues
#    where it stopped, and exactly 20,000 rows;
#  - backfill and ingest at once on the same uploads: one row per version;
#  - --all-buckets: each bucket ListBuckets returns;
#  - a bucket that does not exist, and bad arguments: clear errors;
#  - a store whose listing names the marker it was asked with again (so it
#    would be listed for ever): the run stops with an error after two pages.
source "$(dirname "$0")/lib.sh"
require_stack

work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}" ${odd_pid:-}; do kill -9 "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
posix=${AW_STACK_DIR:?}/s3/data
sql() { psql -X -At -v ON_ERROR_STOP=1 "$AW_PG_URI" -c "$1"; }
versions() { sql "SELECT count(*) FROM aw.object_versions WHERE bucket = '$1' AND state <> 'tombstone'"; }
snapshot() { sql "SELECT key, version_ref, encode(sha256, 'hex'), deleted, indexed_at FROM aw.object_versions WHERE bucket = '$1' ORDER BY key, version_ref"; }
group=backfill-$(date +%s)-$RANDOM
drain() { "$AW_BIN" ingest --drain --group "$group" --batch-max 50 >>"$work/ingest.log" 2>&1; }
drain # the topic's history, so later drains read only this test's events

# --- API uploads and files behind the server's back, in one bucket
b=$(unique_bucket backfill)
s3api create-bucket --bucket "$b" >/dev/null
mkdir -p "$work/api/models/m1" "$work/api/data"
head -c 4096 /dev/urandom >"$work/api/models/m1/model.bin"
printf 'a,b\n1,2\n' >"$work/api/data/table.csv"
s3 cp --recursive "$work/api" "s3://$b/"
"$ITEST_BIN/kafka_events" --bucket "$b" --min 2 --timeout 60 >/dev/null
drain
expect_eq "API objects indexed from their events" 2 "$(versions "$b")"
before=$(snapshot "$b")

mkdir -p "$posix/$b/raw/v1" "$posix/$b/raw/odd dir"
head -c 100000 /dev/urandom >"$posix/$b/raw/v1/customers.csv"
: >"$posix/$b/raw/v1/empty.bin"
printf 'unicode\n' >"$posix/$b/raw/odd dir/caf$(printf '\xc3\xa9') %2F+x.txt"
printf '{"artifact_type":"dataset","created_from":{"data_path":"s3://%s/data/table.csv"}}' \
    "$b" >"$posix/$b/raw/v1/metadata.json"
printf '%s  customers.csv\n' "$(sha256sum <"$posix/$b/raw/v1/customers.csv" | cut -d' ' -f1)" \
    >"$posix/$b/raw/v1/customers.csv.sha256"

out=$("$AW_BIN" backfill "s3://$b" --dry-run 2>&1)
expect_contains "dry run names a file to index" "$out" "would index s3://$b/raw/v1/customers.csv (new)"
expect_contains "dry run counts" "$out" "listed 7; would be indexed 5 (new 5, changed 0); unchanged 2"
expect_eq "dry run wrote nothing" 2 "$(versions "$b")"

out=$("$AW_BIN" backfill "s3://$b" 2>&1)
expect_contains "first run" "$out" "listed 7; indexed 5 (new 5, changed 0); unchanged 2; marked deleted 0"
expect_eq "every object once" 7 "$(versions "$b")"
for f in raw/v1/customers.csv raw/v1/empty.bin "raw/odd dir/caf$(printf '\xc3\xa9') %2F+x.txt"; do
    want=$(sha256sum <"$posix/$b/$f" | cut -d' ' -f1)
    expect_eq "digest of $f" "$want" "$(sql "SELECT sha256 FROM aw.objects WHERE bucket = '$b' AND key = \$\$$f\$\$")"
done
expect_eq "size of the empty file" 0 "$(sql "SELECT size FROM aw.objects WHERE bucket = '$b' AND key = 'raw/v1/empty.bin'")"
expect_eq "the API objects' rows are untouched" "$before" "$(snapshot "$b" | grep -v '^raw/')"
expect_eq "listing observations carry no Kafka record" 5 \
    "$(sql "SELECT count(*) FROM aw.observations o JOIN aw.object_versions v ON v.id = o.object_version_id WHERE v.bucket = '$b' AND o.source = 'listing' AND o.kafka_topic IS NULL")"
# sidecars found by the listing feed the graph as if they came as events
expect_eq "edge from the listed metadata.json to the API object" "s3://$b/data/table.csv|unverified|true" \
    "$(sql "SELECT parent_uri || '|' || state || '|' || (parent_sha256 IS NOT NULL) FROM aw.lineage_edges WHERE child_uri = 's3://$b/raw/v1/customers.csv'")"
expect_eq "declared checksum of the listed .sha256" "verified" \
    "$(sql "SELECT state FROM aw.declared_checksums WHERE uri = 's3://$b/raw/v1/customers.csv'")"

# --- removed behind the server's back, then nothing changed
rm "$posix/$b/raw/v1/empty.bin"
out=$("$AW_BIN" backfill "s3://$b" 2>&1)
expect_contains "second run" "$out" "indexed 0 (new 0, changed 0); unchanged 6; marked deleted 1"
expect_eq "reconcile tombstone" "true|reconcile" \
    "$(sql "SELECT deleted || '|' || reason FROM aw.objects WHERE bucket = '$b' AND key = 'raw/v1/empty.bin' AND state = 'tombstone'")"
expect_eq "the removed file is deleted" "t" \
    "$(sql "SELECT deleted FROM aw.objects WHERE bucket = '$b' AND key = 'raw/v1/empty.bin' AND state = 'present'")"
settled=$(snapshot "$b")
obs=$(sql "SELECT count(*) FROM aw.observations o JOIN aw.object_versions v ON v.id = o.object_version_id WHERE v.bucket = '$b'")
out=$("$AW_BIN" backfill "s3://$b" 2>&1)
expect_contains "third run" "$out" "indexed 0 (new 0, changed 0); unchanged 6; marked deleted 0"
expect_eq "third run changed no row" "$settled" "$(snapshot "$b")"
expect_eq "third run added no observation" "$obs" \
    "$(sql "SELECT count(*) FROM aw.observations o JOIN aw.object_versions v ON v.id = o.object_version_id WHERE v.bucket = '$b'")"
expect_eq "progress recorded as finished" "t|6" \
    "$(sql "SELECT finished_at IS NOT NULL AND after_key IS NULL, listed FROM aw.backfill_progress WHERE bucket = '$b' AND prefix = ''" | tr -d ' ')"

# --- a file rewritten between the listing and its GET (no ETag pins it)
rw=$(unique_bucket backfill-rw)
s3api create-bucket --bucket "$rw" >/dev/null
mkdir -p "$posix/$rw"
for i in $(seq -w 1 10); do echo "first $i" >"$posix/$rw/f$i"; done
"$AW_BIN" backfill "s3://$rw" --max-objects-per-sec 1 --log-level debug >"$work/rw.out" 2>"$work/rw.log" &
rwpid=$!
pids+=($rwpid)
wait_for "the page listed" 30 "grep -q 'listed a page of 10 entries' '$work/rw.log'"
echo "second version, longer" >"$posix/$rw/f10"
touch -d "+1 minute" "$posix/$rw/f10"
wait "$rwpid" || fail "backfill of a bucket being rewritten failed: $(tail -3 "$work/rw.log")"
expect_contains "the rewrite noticed" "$(cat "$work/rw.out")" "indexed 9 (new 9, changed 0); unchanged 0; marked deleted 0; changed while listed 1"
expect_eq "nothing recorded for the rewritten file" 0 "$(sql "SELECT count(*) FROM aw.objects WHERE bucket = '$rw' AND key = 'f10'")"
"$AW_BIN" backfill "s3://$rw" >/dev/null
expect_eq "the next run has its new bytes" "$(sha256sum <"$posix/$rw/f10" | cut -d' ' -f1)" \
    "$(sql "SELECT sha256 FROM aw.objects WHERE bucket = '$rw' AND key = 'f10'")"

# --- a versioned bucket: versions, a delete marker, a version removed since
vb=$(unique_bucket backfill-v)
s3api create-bucket --bucket "$vb" >/dev/null
s3api put-bucket-versioning --bucket "$vb" --versioning-configuration Status=Enabled
for i in 1 2 3; do
    echo "version $i" >"$work/v.txt"
    s3 cp "$work/v.txt" "s3://$vb/k.txt"
done
s3 cp "$work/v.txt" "s3://$vb/gone.txt"
aws s3 rm --quiet "s3://$vb/gone.txt"
out=$("$AW_BIN" backfill "s3://$vb" --page-size 2 2>&1)
expect_contains "versioned run" "$out" "listed 5; indexed 4"
expect_eq "three versions of k.txt" 3 "$(sql "SELECT count(*) FROM aw.objects WHERE bucket = '$vb' AND key = 'k.txt' AND state = 'present'")"
expect_eq "the delete marker" 1 "$(sql "SELECT count(*) FROM aw.objects WHERE bucket = '$vb' AND key = 'gone.txt' AND state = 'tombstone' AND version_id IS NOT NULL")"
oldest=$(sql "SELECT version_id FROM aw.object_versions WHERE bucket = '$vb' AND key = 'k.txt' ORDER BY last_modified, id LIMIT 1")
s3api delete-object --bucket "$vb" --key k.txt --version-id "$oldest" >/dev/null
out=$("$AW_BIN" backfill "s3://$vb" --page-size 2 2>&1)
expect_contains "versioned reconcile" "$out" "marked deleted 1"
expect_eq "only that version is deleted" "t" \
    "$(sql "SELECT bool_and(deleted = (version_id = '$oldest')) FROM aw.objects WHERE bucket = '$vb' AND key = 'k.txt' AND state = 'present'")"

# --- SIGKILL in the middle of 20,000 objects, then a rerun
kb=$(unique_bucket backfill-kill)
s3api create-bucket --bucket "$kb" >/dev/null
mkdir -p "$posix/$kb/d"
for i in $(seq -w 1 20000); do printf '%s\n' "$i" >"$posix/$kb/d/$i"; done
"$AW_BIN" backfill "s3://$kb" --page-size 500 --max-objects-per-sec 4000 >"$work/kill1.log" 2>&1 &
pids+=($!)
wait_for "a few pages saved" 120 \
    "[[ \$(sql \"SELECT COALESCE(listed, 0) >= 4000 FROM aw.backfill_progress WHERE bucket = '$kb'\") == t ]]"
kill -9 "${pids[-1]}"
wait "${pids[-1]}" 2>/dev/null || true
partial=$(versions "$kb")
((partial > 0 && partial < 20000)) || fail "the kill did not land mid-listing: $partial rows"
out=$("$AW_BIN" backfill "s3://$kb" --page-size 500 2>&1)
expect_contains "the rerun continued" "$out" "continuing after key"
expect_eq "exactly 20,000 rows" 20000 "$(versions "$kb")"
expect_eq "one row per key" 20000 "$(sql "SELECT count(DISTINCT key) FROM aw.object_versions WHERE bucket = '$kb'")"

# --- backfill and ingest at once on the same uploads
cb=$(unique_bucket backfill-race)
s3api create-bucket --bucket "$cb" >/dev/null
mkdir -p "$work/race"
for i in $(seq 1 300); do echo "race $i" >"$work/race/r$i.txt"; done
s3 cp --recursive "$work/race" "s3://$cb/"
"$ITEST_BIN/kafka_events" --bucket "$cb" --min 300 --timeout 60 >/dev/null
for round in 1 2; do
    "$AW_BIN" backfill "s3://$cb" --page-size 10 --concurrency 2 >"$work/race$round.log" 2>&1 &
    bpid=$!
    pids+=($bpid)
    [[ $round == 1 ]] && drain
    wait "$bpid" || fail "backfill during ingest failed: $(tail -3 "$work/race$round.log")"
done
expect_eq "one row per version with both at once" 300 "$(versions "$cb")"
expect_eq "every key once" 300 "$(sql "SELECT count(DISTINCT key) FROM aw.object_versions WHERE bucket = '$cb'")"
expect_eq "events own their versions" 300 \
    "$(sql "SELECT count(*) FROM aw.object_versions WHERE bucket = '$cb' AND version_ref LIKE 's:%'")"

# --- --all-buckets: every bucket the credentials list (an account owning two)
vgw_admin() {
    "$AW_STACK_VERSITYGW" admin --access "$AWS_ACCESS_KEY_ID" --secret "$AWS_SECRET_ACCESS_KEY" \
        --endpoint-url "$AWS_ENDPOINT_URL_S3" "$@"
}
owner=bfowner$RANDOM$RANDOM
vgw_admin create-user --access "$owner" --secret "secret-$owner" --role user >/dev/null
all=()
for n in 1 2; do
    ab=$(unique_bucket "backfill-all$n")
    s3api create-bucket --bucket "$ab" >/dev/null
    vgw_admin change-bucket-owner --bucket "$ab" --owner "$owner" >/dev/null
    mkdir -p "$posix/$ab"
    echo "bucket $n" >"$posix/$ab/only.txt"
    all+=("$ab")
done
out=$(AWS_ACCESS_KEY_ID=$owner AWS_SECRET_ACCESS_KEY=secret-$owner "$AW_BIN" backfill --all-buckets 2>&1)
for ab in "${all[@]}"; do
    expect_contains "--all-buckets covered $ab" "$out" "backfill s3://$ab/: listed 1; indexed 1"
    expect_eq "its object" 1 "$(versions "$ab")"
done
expect_eq "only the account's buckets" 2 "$(grep -c '^backfill s3://' <<<"$out")"

# --- what cannot work says why
expect_status "a bucket that does not exist" 1 "$AW_BIN" backfill "s3://no-such-bucket-$RANDOM"
out=$("$AW_BIN" backfill "s3://no-such-bucket-$RANDOM" 2>&1 || true)
expect_contains "its error" "$out" "NoSuchBucket"
expect_status "not an s3:// URI" 2 "$AW_BIN" backfill "$b"

# --- a listing that does not advance (odd_store.py plays the store)
ob=$(unique_bucket backfill-odd)
page='<ListBucketResult><IsTruncated>true</IsTruncated><NextContinuationToken>again'
page+='</NextContinuationToken><Contents><Key>one.txt</Key><Size>15</Size></Contents>'
page+='</ListBucketResult>'
ODD_BODIES=$(python3 -c 'import json,sys; print(json.dumps({"versioning": "<VersioningConfiguration/>", "list-type": sys.argv[1]}))' "$page") \
    start_odd_store '{}' "$work/odd.log"
status=0
out=$(timeout 60 "$AW_BIN" backfill "s3://$ob" --s3-endpoint "$odd_url" 2>&1) || status=$?
expect_eq "a listing that does not advance: exit status" 1 "$status"
expect_contains "its error" "$out" "the listing does not advance"
expect_eq "pages asked for" 2 "$(grep -c "list-type=2" "$work/odd.log")"
done_ok
