#!/usr/bin/env bash
# Upload files with a real S3 client (AWS CLI) to versitygw, read the bucket
# notifications from Kafka with librdkafka, decode them with the ingest
# decoder: bucket, key, size and ETag must equal what was uploaded, and the
# object fetched back through the common S3 client (SigV4) must hash to the
# uploaded bytes' SHA-256.
source "$(dirname "$0")/lib.sh"
require_stack

bucket=$(unique_bucket smoke)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
s3api create-bucket --bucket "$bucket" >/dev/null

# keys a pipeline really writes, and some hostile ones
keys=("models/churn/v1.0.0/model.joblib" "data/raw file with spaces.csv" "a+b=c&d.txt"
      "pct%2Fliteral%25.bin" "unicode/données/数据.parquet" "empty.dat")
i=0
declare -A want
for k in "${keys[@]}"; do
    f=$work/f$i
    if [[ $k == empty.dat ]]; then : >"$f"; else head -c $((1000 + i * 4099)) /dev/urandom >"$f"; fi
    s3 cp "$f" "s3://$bucket/$k"
    size=$(stat -c %s "$f")
    md5=$(md5sum "$f" | cut -d' ' -f1)
    sha=$(sha256sum "$f" | cut -d' ' -f1)
    want[$k]="created|versitygw|$bucket|$k|$size|$md5|-|$sha"
    i=$((i + 1))
done

out=$("$ITEST_BIN/kafka_events" --bucket "$bucket" --min ${#keys[@]} --timeout 60 --fetch)
expect_eq "number of events for $bucket" "${#keys[@]}" "$(printf '%s\n' "$out" | grep -c .)"
while IFS='|' read -r kind src b key size etag vid seq sha; do
    [[ -n ${want[$key]+x} ]] || fail "event for a key that was not uploaded: [$key]"
    expect_eq "event for $key" "${want[$key]}" "$kind|$src|$b|$key|$size|$etag|$vid|$sha"
    [[ $seq =~ ^[0-9A-Fa-f]+$ ]] || fail "sequencer of $key is [$seq]"
    unset "want[$key]"
done <<<"$out"
expect_eq "keys without an event" "" "${!want[*]}"

# a delete is told apart from a create
s3 rm "s3://$bucket/a+b=c&d.txt"
out=$("$ITEST_BIN/kafka_events" --bucket "$bucket" --min $((${#keys[@]} + 1)) --timeout 60)
expect_contains "delete event" "$out" "deleted|versitygw|$bucket|a+b=c&d.txt|"
done_ok
