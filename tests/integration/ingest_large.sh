#!/usr/bin/env bash
# A 1 GiB object, uploaded by the AWS CLI as a multipart upload, is indexed
# with the right SHA-256 while ingest's peak RSS stays bounded (the body is
# hashed as it streams, never held). A multipart ETag is not a content hash,
# so --verify-md5 makes no etag_md5 check for it.
source "$(dirname "$0")/lib.sh"
require_stack

size_mib=${AW_LARGE_MIB:-1024}
rss_limit_mib=64
bucket=$(unique_bucket large)
work=$(mktemp -d)
trap 'aws s3 rm --only-show-errors "s3://$bucket/big.bin" 2>/dev/null; rm -rf "$work"' EXIT
group=large-$(date +%s)-$RANDOM

# this group starts at the topic's end of earlier tests
"$AW_BIN" ingest --group "$group" --drain --log-level warn
head -c "${size_mib}M" /dev/urandom >"$work/big.bin"
want=$(sha256sum "$work/big.bin" | cut -d' ' -f1)
s3api create-bucket --bucket "$bucket" >/dev/null
s3 cp "$work/big.bin" "s3://$bucket/big.bin"
etag=$("$ITEST_BIN/kafka_events" --bucket "$bucket" --min 1 --timeout 60 | cut -d'|' -f6)
[[ $etag == *-* ]] || fail "expected a multipart ETag from the AWS CLI upload, got [$etag]"

/usr/bin/time -f '%M' -o "$work/rss" "$AW_BIN" ingest --group "$group" --drain --verify-md5 --log-level warn
expect_eq "sha256 of the ${size_mib} MiB object" "$want" \
    "$(sql -c "SELECT sha256 FROM aw.objects WHERE bucket = '$bucket' AND key = 'big.bin'")"
expect_eq "size of the ${size_mib} MiB object" "$((size_mib * 1048576))" \
    "$(sql -c "SELECT size FROM aw.objects WHERE bucket = '$bucket' AND key = 'big.bin'")"
rss_kib=$(tail -n 1 "$work/rss")
echo "peak RSS while indexing ${size_mib} MiB: $((rss_kib / 1024)) MiB"
CHECKS=$((CHECKS + 1))
((rss_kib < rss_limit_mib * 1024)) || fail "peak RSS $((rss_kib / 1024)) MiB is over ${rss_limit_mib} MiB"
expect_eq "etag_md5 checks for a multipart ETag" 0 \
    "$(sql -c "SELECT count(*) FROM aw.checks c JOIN aw.object_versions v ON v.id = c.object_version_id WHERE v.bucket = '$bucket'")"
done_ok
