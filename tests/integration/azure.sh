#!/usr/bin/env bash
# Azure Blob end to end against Azurite (scripts/stack up azure), blobs
# written with Azure's own Python client, a store of kind azure signing with
# Shared Key:
#  - ingest reads Event Grid events (as Azure delivers them, from a Kafka
#    topic of their own), fetches each blob pinned to the event's ETag,
#    records its SHA-256, its MD5 checked against the store's Content-MD5,
#    and lineage from a metadata.json naming az:// inputs; a BlobDeleted
#    event marks the blob deleted; a blob whose Content-MD5 disagrees with
#    its bytes is a dead letter, not a recorded digest;
#  - backfill lists the container (List Blobs, paged) and indexes what no
#    event announced, and marks deleted what is gone;
#  - scrub re-reads blobs: intact ones are ok, a deleted one is missing, a
#    rewritten one is changed (no false alarm);
#  - retention deletes with If-Match: an expired blob goes, one rewritten
#    since it was indexed stays;
#  - verify --fetch re-reads a blob and checks it.
source "$(dirname "$0")/lib.sh"
require_stack
[[ -n ${AW_AZURE_ENDPOINT:-} ]] ||
    fail "the Azure settings are not in the environment: run scripts/stack up azure and eval \"\$(scripts/stack env)\""
curl -s -o /dev/null "$AW_AZURE_ENDPOINT?comp=list" ||
    fail "Azurite does not answer at $AW_AZURE_ENDPOINT: run scripts/stack up azure"
AZPY=${AW_AZURE_PYTHON:-${XDG_CACHE_HOME:-$HOME/.cache}/artifact-watch/azure-blob-${AW_AZURE_BLOB_VERSION:-12.27.1}/bin/python}
[[ -x $AZPY ]] || fail "azure-storage-blob is not installed at $AZPY: run scripts/bootstrap"

run_id=$(date +%s)$RANDOM
store=az-$run_id
c=c$run_id
work=$(mktemp -d)
trap 'rm -rf "$work"; true' EXIT
export AZ_SEQ_FILE=$work/seq
export AW_KAFKA_TOPIC=aw.azure-$run_id AW_KAFKA_DLQ_TOPIC=aw.azure-$run_id.dlq
"$ITEST_BIN/kafka_tool" create-topic "$AW_KAFKA_TOPIC" 1 >/dev/null
"$ITEST_BIN/kafka_tool" create-topic "$AW_KAFKA_DLQ_TOPIC" 1 >/dev/null
az() { "$AZPY" "$(dirname "$0")/azure_client.py" "$@"; }
printf '[%s]\nkind = azure\nendpoint = %s\naccount = %s\naccount_key = %s\n' \
    "$store" "$AW_AZURE_ENDPOINT" "$AW_AZURE_ACCOUNT" "$AW_AZURE_KEY" >"$work/stores.conf"
aw() { "$AW_BIN" "$@" --stores "$work/stores.conf" --store "$store"; }
put() { # key file: uploads and hands Event Grid's BlobCreated event to Kafka
    az put "$c" "$1" "$2" | "$ITEST_BIN/kafka_tool" produce "$AW_KAFKA_TOPIC" "$c/$1" >/dev/null
}
ingest() { aw ingest --group "g-$run_id" --drain --log-level warn; }
current() { # key: sha256 md5 etag deleted of the key's current version
    sql -F' ' -c "SELECT encode(sha256, 'hex'), encode(md5, 'hex'), etag, deleted FROM aw.object_versions
        WHERE id = aw.current_version('$store', '$c', '$1')"
}

# --- a store description that cannot work is refused at start
printf '[%s]\nkind = azure\nendpoint = %s\naccount = %s\naccount_key = not-base64!\n' \
    "$store" "$AW_AZURE_ENDPOINT" "$AW_AZURE_ACCOUNT" >"$work/bad.conf"
rc=0
out=$("$AW_BIN" backfill "s3://$c" --stores "$work/bad.conf" --store "$store" 2>&1) || rc=$?
expect_eq "exit status for a bad account key" 2 "$rc"
expect_contains "the key is named" "$out" "account_key is not base64"

# --- ingest from Event Grid events
az create "$c"
mkdir -p "$work/src"
printf 'id,label\n1,0\n2,1\n' >"$work/src/train.csv"
head -c 300000 /dev/urandom >"$work/src/model.bin"
train=$(sha256sum "$work/src/train.csv" | cut -c1-64)
cat >"$work/src/metadata.json" <<EOF
{"artifact_type": "model", "created_from": {"data_path": "az://$c/data/train.csv",
 "data_checksum": "$train"}}
EOF
printf 'odd name\n' >"$work/src/odd"
put data/train.csv "$work/src/train.csv"
put models/m1/model.bin "$work/src/model.bin"
put models/m1/metadata.json "$work/src/metadata.json"
put 'odd/a b+c&d<e>ü.txt' "$work/src/odd"
ingest || fail "ingest from Azure failed"
for f in data/train.csv models/m1/model.bin; do
    row=$(current "$f")
    want=$(sha256sum "$work/src/$(basename "$f")" | cut -c1-64)
    md5=$(md5sum "$work/src/$(basename "$f")" | cut -c1-32)
    expect_eq "$f: SHA-256 and MD5 recorded, not deleted" "$want $md5 f" \
        "$(awk '{print $1, $2, $4}' <<<"$row")"
    expect_contains "$f: Azure's ETag recorded" "$(awk '{print $3}' <<<"$row")" "0x"
done
expect_eq "a hostile blob name, indexed as named" "$(sha256sum "$work/src/odd" | cut -c1-64)" \
    "$(current 'odd/a b+c&d<e>ü.txt' | cut -d' ' -f1)"
expect_eq "lineage from an az:// input, verified by its checksum" verified \
    "$(sql -c "SELECT e.state FROM aw.lineage_edges e JOIN aw.object_versions v ON v.id = e.child_version_id
        WHERE v.store = '$store' AND e.child_uri = 's3://$c/models/m1/model.bin' AND e.parent_uri = 's3://$c/data/train.csv'")"

# a blob whose stored Content-MD5 is not the MD5 of its bytes
printf 'tampered\n' >"$work/src/bad.bin"
az put "$c" tampered.bin "$work/src/bad.bin" >/dev/null
az md5 "$c" tampered.bin 30313233343536373839616263646566 |
    "$ITEST_BIN/kafka_tool" produce "$AW_KAFKA_TOPIC" "$c/tampered.bin" >/dev/null
ingest || fail "ingest of the tampered blob failed"
expect_eq "no digest recorded for bytes the store's Content-MD5 disagrees with" "" \
    "$(sql -c "SELECT encode(sha256, 'hex') FROM aw.object_versions WHERE store = '$store' AND bucket = '$c' AND key = 'tampered.bin' AND sha256 IS NOT NULL")"
expect_contains "it is a dead letter saying why" "$("$ITEST_BIN/kafka_tool" dump "$AW_KAFKA_DLQ_TOPIC")" \
    "Content-MD5"

# a BlobDeleted event
az delete "$c" 'odd/a b+c&d<e>ü.txt' | "$ITEST_BIN/kafka_tool" produce "$AW_KAFKA_TOPIC" "$c/odd" >/dev/null
ingest || fail "ingest of a delete failed"
expect_eq "a deleted blob" t \
    "$(sql -c "SELECT bool_and(deleted) FROM aw.object_versions WHERE store = '$store' AND bucket = '$c' AND key = 'odd/a b+c&d<e>ü.txt'")"

# --- backfill: what no event announced, and what is gone
for i in $(seq 1 7); do
    printf 'quiet %s\n' "$i" >"$work/src/q$i"
    az put "$c" "quiet/q$i.txt" "$work/src/q$i" >/dev/null
done
az delete "$c" models/m1/metadata.json >/dev/null
rc=0
out=$(aw backfill "s3://$c" --page-size 3 --log-level error) || rc=$?
expect_eq "backfill's exit status: one blob failed, the tampered one" 1 "$rc"
expect_contains "backfill's summary" "$out" "marked deleted 1; changed while listed 0; failed 1"
expect_eq "blobs indexed by the listing" 7 \
    "$(sql -c "SELECT count(*) FROM aw.objects WHERE store = '$store' AND bucket = '$c' AND key LIKE 'quiet/%' AND NOT deleted")"
expect_eq "the blob deleted without an event" t "$(current models/m1/metadata.json | cut -d' ' -f4)"

# --- scrub: intact, deleted, rewritten
az delete "$c" quiet/q1.txt >/dev/null
printf 'rewritten\n' >"$work/src/q2b"
az put "$c" quiet/q2.txt "$work/src/q2b" >/dev/null
aw scrub --once --all --bucket "$c" --log-level warn || fail "scrub of the container failed"
expect_eq "scrub's results" "changed 1
missing 1
ok 7" "$(sql -c "SELECT s.last_result || ' ' || count(*) FROM aw.scrub_state s JOIN aw.object_versions v ON v.id = s.object_version_id WHERE v.store = '$store' AND v.bucket = '$c' AND NOT v.deleted GROUP BY s.last_result ORDER BY 1")"
expect_eq "alerts: only the missing blob" "missing quiet/q1.txt" \
    "$(sql -c "SELECT kind || ' ' || key FROM aw.alerts WHERE store = '$store' AND bucket = '$c' AND state = 'open'")"
expect_status "verify --fetch of an intact blob" 0 aw verify "s3://$c/data/train.csv" --fetch

# --- retention: If-Match deletes
sleep 2
cat >"$work/rules.yaml" <<EOF
version: 1
limits: {max_delete_fraction: 1}
rules:
  - name: quiet-expiry
    match: {store: "$store", bucket: "$c", prefix: quiet/}
    expire_after: 1s
EOF
printf 'rewritten again\n' >"$work/src/q3b"
az put "$c" quiet/q3.txt "$work/src/q3b" >/dev/null
AW_POLICY_LAG_CHECK=false aw policy apply --rules "$work/rules.yaml" >/dev/null 2>"$work/apply.err" ||
    fail "apply on the container failed: $(tail -3 "$work/apply.err")"
expect_eq "expired blobs deleted, the ones rewritten since they were indexed kept" "no yes yes no no no no" \
    "$(for i in 1 2 3 4 5 6 7; do az exists "$c" "quiet/q$i.txt"; done | tr '\n' ' ' | sed 's/ $//')"
expect_eq "the rewritten blob's result" skipped_changed \
    "$(sql -c "SELECT result FROM aw.retention_actions WHERE store = '$store' AND key = 'quiet/q3.txt' ORDER BY id DESC LIMIT 1")"
done_ok
