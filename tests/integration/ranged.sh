#!/usr/bin/env bash
# Parallel byte-range GETs against versitygw:
#  - the digest of a ranged download equals sha256sum at and around every
#    range boundary (0, 1, R-1, R, R+1, 2R, 5R+3 bytes, and many ranges),
#    with 1, 3 and 4 ranges in flight;
#  - an object rewritten in the middle of a ranged download is reported as
#    a failed precondition (the ranges are pinned by If-Match), not hashed;
#  - a multipart upload (AWS CLI, 5 MB parts) is read in ranges that never
#    straddle a part (the part size comes from a HEAD of part 1), digest equal;
#  - a store's HEAD stating a size beyond 2^53 fails the fetch before any
#    range is asked for; a part length whose multiples overflow is no part
#    size (odd_store.py plays the store);
#  - ingest with --range-size reads large objects in ranges: the digests in
#    aw.objects equal sha256sum, and a version overwritten before ingest
#    reached it is `superseded`.
source "$(dirname "$0")/lib.sh"
require_stack

work=$(mktemp -d)
trap '[[ -n ${odd_pid:-} ]] && kill "$odd_pid" 2>/dev/null; rm -rf "$work"' EXIT
R=65536
b=$(unique_bucket ranged)
s3api create-bucket --bucket "$b" >/dev/null
sizes=(0 1 $((R - 1)) $R $((R + 1)) $((2 * R)) $((5 * R + 3)) $((57 * R + 12345)))
mkdir -p "$work/up"
for n in "${sizes[@]}"; do head -c "$n" /dev/urandom >"$work/up/s$n.bin"; done
aws s3 cp --recursive --only-show-errors "$work/up" "s3://$b/"
field() { sed -nE "s/.*$1=([^ ]*).*/\1/p" <<<"$2"; }
for n in "${sizes[@]}"; do
    want=$(sha256sum <"$work/up/s$n.bin" | cut -d' ' -f1)
    for c in 1 3 4; do
        out=$("$ITEST_BIN/ranged_fetch" "$b" "s$n.bin" "$R" "$c")
        expect_eq "outcome, $n bytes, $c in flight" ok "$(field outcome "$out")"
        expect_eq "digest, $n bytes, $c in flight" "$want" "$(field sha256 "$out")"
        expect_eq "bytes, $n bytes, $c in flight" "$n" "$(field bytes "$out")"
    done
done

# --- rewritten after the first range was handed over
head -c $((20 * R)) /dev/urandom >"$work/v1.bin"
head -c $((20 * R)) /dev/urandom >"$work/v2.bin"
aws s3 cp --only-show-errors "$work/v1.bin" "s3://$b/moving.bin"
out=$("$ITEST_BIN/ranged_fetch" "$b" moving.bin "$R" 1 \
    "aws s3 cp --only-show-errors '$work/v2.bin' 's3://$b/moving.bin'")
expect_eq "a rewrite mid-download" precondition "$(field outcome "$out")"
expect_eq "nothing hashed for it" "" "$(field sha256 "$out")"
out=$("$ITEST_BIN/ranged_fetch" "$b" moving.bin "$R" 4)
expect_eq "the new bytes read whole afterwards" "$(sha256sum <"$work/v2.bin" | cut -d' ' -f1)" "$(field sha256 "$out")"

# --- a multipart upload: ranges aligned to its parts
printf '[default]\ns3 =\n    multipart_threshold = 5MB\n    multipart_chunksize = 5MB\n' >"$work/aws.cfg"
head -c 12000000 /dev/urandom >"$work/mp.bin"
AWS_CONFIG_FILE=$work/aws.cfg aws s3 cp --only-show-errors "$work/mp.bin" "s3://$b/mp.bin"
etag=$(s3api head-object --bucket "$b" --key mp.bin --query ETag --output text)
expect_contains "uploaded in three parts" "$etag" "-3"
out=$(RANGED_DEBUG=1 "$ITEST_BIN/ranged_fetch" "$b" mp.bin 2000000 3 2>"$work/mp.log")
expect_eq "multipart: outcome" ok "$(field outcome "$out")"
expect_eq "multipart: digest" "$(sha256sum <"$work/mp.bin" | cut -d' ' -f1)" "$(field sha256 "$out")"
# 5242880-byte parts in three ranges each, the last part (1514240) in one
expect_contains "ranges inside the 5 MiB parts" "$(cat "$work/mp.log")" \
    "parts of 5242880 bytes, read as ranges of 1747627 inside them"
out=$("$ITEST_BIN/ranged_fetch" "$b" mp.bin 8388608 2)
expect_eq "multipart, ranges larger than a part: digest" \
    "$(sha256sum <"$work/mp.bin" | cut -d' ' -f1)" "$(field sha256 "$out")"

# --- a store whose HEAD states what no object has: a size beyond 2^53 fails
# the fetch before a range is asked for; a part length whose multiples
# overflow (2^62 bytes, 3 parts) is no part size, and the ranges that follow
# (ignored by this store, which answers 200 with its whole body) end in one
# plain GET of what the store serves
start_odd_store '{"Content-Length": "9000000000000000000", "ETag": "\"odd\""}' "$work/odd1.log"
out=$(AWS_ENDPOINT_URL_S3=$odd_url "$ITEST_BIN/ranged_fetch" "$b" huge.bin "$R" 4)
expect_eq "a stated size beyond 2^53: outcome" failed "$(field outcome "$out")"
expect_contains "a stated size beyond 2^53: reason" "$out" \
    "HEAD: the store stated a size of 9000000000000000000 bytes, more than any object has"
expect_eq "a stated size beyond 2^53: requests" "HEAD" "$(cut -d' ' -f1 "$work/odd1.log" | sort -u)"
kill "$odd_pid"
start_odd_store '{"Content-Length": "4611686018427387904", "ETag": "\"odd\"",
    "Content-Range": "bytes 0-0/9007199254740992", "x-amz-mp-parts-count": "3"}' "$work/odd2.log"
out=$(AWS_ENDPOINT_URL_S3=$odd_url RANGED_DEBUG=1 "$ITEST_BIN/ranged_fetch" "$b" odd.bin "$R" 4 \
    2>"$work/odd2.debug")
expect_eq "a part length that overflows: outcome" ok "$(field outcome "$out")"
expect_eq "a part length that overflows: digest of what the store served" \
    "$(printf 'odd store body\n' | sha256sum | cut -d' ' -f1)" "$(field sha256 "$out")"
expect_eq "no part size taken from it" "" "$(grep "parts of" "$work/odd2.debug")"
expect_contains "ranges asked for" "$(cat "$work/odd2.log")" "GET /$b/odd.bin range=bytes=0-$((R - 1))"
expect_contains "then the whole" "$(cat "$work/odd2.log")" "GET /$b/odd.bin range=None"
kill "$odd_pid"
odd_pid=

# --- ingest reads large objects in ranges
ib=$(unique_bucket ranged-ingest)
s3api create-bucket --bucket "$ib" >/dev/null
group=ranged-$(date +%s)-$RANDOM
"$AW_BIN" ingest --drain --group "$group" --log-level error # the topic's history
aws s3 cp --recursive --only-show-errors "$work/up" "s3://$ib/"
aws s3 cp --only-show-errors "$work/v1.bin" "s3://$ib/moving.bin"
aws s3 cp --only-show-errors "$work/v2.bin" "s3://$ib/moving.bin"
"$ITEST_BIN/kafka_events" --bucket "$ib" --min $((${#sizes[@]} + 2)) --timeout 60 >/dev/null
"$AW_BIN" ingest --drain --group "$group" --range-size "$R" --range-concurrency 4 --log-level debug \
    >"$work/ingest.log" 2>&1 || fail "ingest failed: $(tail -3 "$work/ingest.log")"
expect_eq "objects read in ranges (the four larger than R, and both writes of moving.bin)" 6 \
    "$(grep -c "GET s3://$ib/.* in ranges of $R bytes, 4 at a time" "$work/ingest.log")"
sql() { psql -X -At "$AW_PG_URI" -c "$1"; }
for n in "${sizes[@]}"; do
    expect_eq "ingest's digest of s$n.bin" "$(sha256sum <"$work/up/s$n.bin" | cut -d' ' -f1)" \
        "$(sql "SELECT sha256 FROM aw.objects WHERE bucket = '$ib' AND key = 's$n.bin'")"
done
# each write of moving.bin is named by its ETag (single-part: the MD5 of its
# bytes); the two may share an event time and were indexed in one batch
etag_of() { md5sum <"$1" | cut -d' ' -f1; }
expect_eq "versions of moving.bin" 2 \
    "$(sql "SELECT count(*) FROM aw.objects WHERE bucket = '$ib' AND key = 'moving.bin'")"
expect_eq "the overwritten version" "superseded|" \
    "$(sql "SELECT state || '|' || COALESCE(sha256, '') FROM aw.objects WHERE bucket = '$ib' AND key = 'moving.bin' AND lower(etag) = '$(etag_of "$work/v1.bin")'")"
expect_eq "the version that stayed" "present|$(sha256sum <"$work/v2.bin" | cut -d' ' -f1)" \
    "$(sql "SELECT state || '|' || sha256 FROM aw.objects WHERE bucket = '$ib' AND key = 'moving.bin' AND lower(etag) = '$(etag_of "$work/v2.bin")'")"
done_ok
