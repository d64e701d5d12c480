#!/usr/bin/env bash
# Findings that need no scrub, and the store's own checksum, on the real
# stack (PostgreSQL, Kafka, versitygw; uploads with the AWS CLI):
#  - a wrong <file>.sha256 opens declared_mismatch at ingest, in the batch's
#    transaction (with NOTIFY); a corrected one resolves it;
#  - a child's created_from.data_checksum that disagrees with its parent's
#    bytes opens declared_mismatch on the parent, naming the child;
#  - with --verify-md5, bytes that changed under their single-part ETag
#    before ingest read them open etag_mismatch;
#  - a store checksum (x-amz-checksum-sha256) that disagrees with the bytes
#    opens store_checksum_mismatch in scrub; bytes that agree with it do not;
#  - the same version read again (its events replayed by another consumer
#    group) after its bytes rotted under the same ETag keeps its recorded
#    digest and opens checksum_mismatch: a replay never re-records rot.
source "$(dirname "$0")/lib.sh"
require_stack

run_id=$(date +%s)-$RANDOM
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
group=findings-$run_id
"$AW_BIN" ingest --group "$group" --drain --log-level error
drain() { "$AW_BIN" ingest --group "$group" --drain --log-level error --verify-md5 "$@"; }
alert() { # key kind -> state|expected|actual
    sql -F'|' -c "SELECT state, expected, actual FROM aw.alerts WHERE bucket = '$b' AND key = '$1' AND kind = '$2'"
}

b=$(unique_bucket findings)
s3api create-bucket --bucket "$b" >/dev/null
disk=$AW_STACK_DIR/s3/data/$b
echo "features $run_id" >"$work/features.parquet"
good=$(sha256sum "$work/features.parquet" | cut -d' ' -f1)
wrong=$(printf 'other bytes' | sha256sum | cut -d' ' -f1)
aws s3 cp --only-show-errors "$work/features.parquet" "s3://$b/data/features.parquet"
printf '%s  features.parquet\n' "$wrong" | aws s3 cp --only-show-errors - "s3://$b/data/features.parquet.sha256"
# a model whose metadata declares other bytes for its input
echo "model $run_id" >"$work/model.joblib"
aws s3 cp --only-show-errors "$work/model.joblib" "s3://$b/models/m/v1/model.joblib"
printf '{"created_from":{"data_path":"s3://%s/data/features.parquet","data_checksum":"%s"}}' "$b" "$wrong" |
    aws s3 cp --only-show-errors - "s3://$b/models/m/v1/metadata.json"
"$ITEST_BIN/kafka_events" --bucket "$b" --min 4 --timeout 60 >/dev/null
drain

# --- declared checksums that disagree, found at ingest
expect_eq "a wrong .sha256 opens declared_mismatch" "open|$wrong|$good" "$(alert data/features.parquet declared_mismatch)"
expect_eq "one alert per kind and version" 1 \
    "$(sql -c "SELECT count(*) FROM aw.alerts WHERE bucket = '$b' AND kind = 'declared_mismatch'")"
expect_contains "it says who declared it" \
    "$(sql -c "SELECT detail->>'declared_by' FROM aw.alerts WHERE bucket = '$b' AND kind = 'declared_mismatch'")" \
    "s3://$b/data/features.parquet.sha256"
expect_eq "its blast radius is the model made from it" "1|s3://$b/models/m/v1/model.joblib" \
    "$(sql -F'|' -c "SELECT blast_radius, array_to_string(blast_uris, ',') FROM aw.alerts WHERE bucket = '$b' AND kind = 'declared_mismatch'")"

# a corrected .sha256: the sidecar agrees now, but the model still declares
# other bytes, so the alert stays open, now naming the model's metadata
printf '%s  features.parquet\n' "$good" | aws s3 cp --only-show-errors - "s3://$b/data/features.parquet.sha256"
"$ITEST_BIN/kafka_events" --bucket "$b" --min 5 --timeout 60 >/dev/null
drain
expect_eq "still open while a child declares other bytes" "open" \
    "$(alert data/features.parquet declared_mismatch | cut -d'|' -f1)"
expect_contains "now from the child's declaration" \
    "$(sql -c "SELECT detail->>'declared_by' FROM aw.alerts WHERE bucket = '$b' AND kind = 'declared_mismatch'")" \
    "s3://$b/models/m/v1/model.joblib"
# the model's metadata corrected: nothing disagrees, the alert resolves
printf '{"created_from":{"data_path":"s3://%s/data/features.parquet","data_checksum":"%s"}}' "$b" "$good" |
    aws s3 cp --only-show-errors - "s3://$b/models/m/v1/metadata.json"
"$ITEST_BIN/kafka_events" --bucket "$b" --min 6 --timeout 60 >/dev/null
drain
expect_eq "resolved when every declaration agrees" "resolved" \
    "$(alert data/features.parquet declared_mismatch | cut -d'|' -f1)"

# --- an ETag that is not the MD5 of the bytes ingest read
echo "clean bytes $run_id" >"$work/etag.bin"
aws s3 cp --only-show-errors "$work/etag.bin" "s3://$b/etag.bin"
"$ITEST_BIN/kafka_events" --bucket "$b" --min 7 --timeout 60 >/dev/null
python3 - "$disk/etag.bin" <<'PY'
import sys
with open(sys.argv[1], "r+b") as f:
    b = bytearray(f.read()); b[0] ^= 1; f.seek(0); f.write(b)
PY
drain
expect_eq "etag_mismatch" "open|$(md5sum "$work/etag.bin" | cut -d' ' -f1)" \
    "$(alert etag.bin etag_mismatch | cut -d'|' -f1,2)"

# --- the store's own checksum
echo "checksummed $run_id" >"$work/ck.bin"
aws s3api put-object --bucket "$b" --key ck.bin --body "$work/ck.bin" --checksum-algorithm SHA256 >/dev/null
echo "checksummed too $run_id" >"$work/ck2.bin"
aws s3api put-object --bucket "$b" --key ck2.bin --body "$work/ck2.bin" --checksum-algorithm SHA256 >/dev/null
"$ITEST_BIN/kafka_events" --bucket "$b" --min 9 --timeout 60 >/dev/null
drain
# the store's record of ck.bin's checksum changes; its bytes do not
python3 - "$disk/ck.bin" <<'PY'
import json, os, sys
p = sys.argv[1]
c = json.loads(os.getxattr(p, "user.checksums"))
c["SHA256"] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
os.setxattr(p, "user.checksums", json.dumps(c).encode())
PY
out=$("$AW_BIN" scrub --once --all --bucket "$b" 2>&1)
expect_eq "store_checksum_mismatch" "open|$(printf '0%.0s' $(seq 64))|$(sha256sum "$work/ck.bin" | cut -d' ' -f1)" \
    "$(alert ck.bin store_checksum_mismatch)"
expect_eq "bytes that agree with the store's checksum: no alert" "" "$(alert ck2.bin store_checksum_mismatch)"
expect_eq "and the bytes themselves are fine" "ok" \
    "$(sql -c "SELECT s.last_result FROM aw.scrub_state s JOIN aw.object_versions v ON v.id = s.object_version_id WHERE v.bucket = '$b' AND v.key = 'ck.bin'")"

# --- rot under the same ETag, then the events replayed by another group
recorded=$(sha256sum "$work/ck2.bin" | cut -d' ' -f1)
python3 - "$disk/ck2.bin" <<'PY'
import sys
with open(sys.argv[1], "r+b") as f:
    data = bytearray(f.read()); data[0] ^= 0x20; f.seek(0); f.write(data)
PY
rotted=$(sha256sum "$disk/ck2.bin" | cut -d' ' -f1)
"$AW_BIN" ingest --group "$group-replay" --drain --log-level error
expect_eq "the recorded digest stays the first one measured" "$recorded" \
    "$(sql -c "SELECT string_agg(encode(sha256, 'hex'), ',') FROM aw.object_versions WHERE bucket = '$b' AND key = 'ck2.bin'")"
expect_eq "the replay's read is a checksum_mismatch" "open|$recorded|$rotted" "$(alert ck2.bin checksum_mismatch)"
expect_contains "found by the event's read" \
    "$(sql -c "SELECT detail FROM aw.alerts WHERE bucket = '$b' AND key = 'ck2.bin' AND kind = 'checksum_mismatch'")" '"found_by": "event"'

done_ok
