#!/usr/bin/env bash
# Backfill throughput, on the local stack: N small objects (4 KiB) written
# straight into versitygw's posix backend (no events, no ETags: the case of
# files behind a gateway's back), then
#   1. the S3 server's own rates with the same client: LIST (bench_list,
#      1,000 keys a page) and GET+SHA-256 (bench_fetch) at concurrency C;
#      together they are what a backfill cannot beat;
#   2. backfill of the whole bucket (list, compare, fetch, hash, index);
#   3. a second backfill with nothing changed (list and compare only).
# Rates come from backfill's own summary line. The index is a database of its
# own (aw_bench_backfill, dropped at the end) that already holds OTHER
# versions of another bucket, analysed: the backfilled bucket is new to the
# table's statistics, as a bucket added to a running deployment is (OTHER=0:
# an empty index).
#
#   bench/backfill.sh                 N=100000 C=16 OTHER=200000 by default
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
N=${N:-100000}
C=${C:-16}
bucket=bench-backfill-$ts
store=bench-backfill-$ts
bench_buckets+=("$bucket")
OTHER=${OTHER:-200000}
db=aw_bench_backfill
uri=$(db_uri "$db")

aws s3api create-bucket --bucket "$bucket" >/dev/null
put_objects "$bucket" obj- "$N" 4096
say_sha_ni
echo "== backfill of $N objects of 4 KiB, concurrency $C, into an index holding $OTHER versions of another bucket"
psql -X -q -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
trap 'bench_cleanup; psql -X -q -c "DROP DATABASE IF EXISTS $db"' EXIT
build/artifact-watch migrate --pg "$uri" --log-level warn >/dev/null
psql -X -q -d "$db" -c "INSERT INTO aw.object_versions (store, bucket, key, version_ref, size,
    sha256, etag, state, last_modified) SELECT 'bench-other', 'other-bucket',
    'data/part-' || lpad(g::text, 8, '0'), 'l:' || g, 4096, sha256(g::text::bytea), md5(g::text),
    'present', now() FROM generate_series(1, $OTHER) g" -c "ANALYZE aw.object_versions"
list=$(build/bench/bench_list "$bucket" obj-)
get=$(build/bench/bench_fetch "$bucket" obj- "$N" "$C")
secs() { sed -nE 's/.* in ([0-9.]+) s$/\1/p' <<<"$1"; }
/usr/bin/time -f '%M' -o "$work/rss" build/artifact-watch backfill "s3://$bucket" --pg "$uri" \
    --store "$store" --concurrency "$C" --log-level error >"$work/first.out"
first=$(grep "^backfill " "$work/first.out")
grep -q "indexed $N (new $N" <<<"$first" || { echo "backfill did not index $N: $first" >&2; exit 1; }
build/artifact-watch backfill "s3://$bucket" --pg "$uri" --store "$store" --concurrency "$C" \
    --log-level error >"$work/second.out"
second=$(grep "^backfill " "$work/second.out")
grep -q "unchanged $N" <<<"$second" || { echo "second run was not a no-op: $second" >&2; exit 1; }
list_s=$(field "$list" seconds)
get_s=$(field "$get" seconds)
both=$(python3 -c "print(int($N / ($list_s + $get_s)))")
bf=$(python3 -c "print(int($N / $(secs "$first")))")
noop=$(python3 -c "print(int($N / $(secs "$second")))")
printf '%-56s %10s\n' "measurement" "objects/s"
printf '%-56s %10s\n' "versitygw LIST alone (bench_list)" "$(field "$list" objects_per_s)"
printf '%-56s %10s\n' "versitygw GET+SHA-256 alone (bench_fetch)" "$(field "$get" objects_per_s)"
printf '%-56s %10s\n' "versitygw LIST then GET+SHA-256 (N / sum of both times)" "$both"
printf '%-56s %10s   (peak RSS %s MiB)\n' "backfill, new bucket (list, fetch, hash, index)" "$bf" \
    "$(($(cat "$work/rss") / 1024))"
printf '%-56s %10s\n' "backfill again, nothing changed (list, compare)" "$noop"
echo "ratio backfill/(LIST+GET alone): $(python3 -c "print('%.2f' % ($bf / $both))")"
echo "rerun: N=$N C=$C OTHER=$OTHER bench/backfill.sh"
