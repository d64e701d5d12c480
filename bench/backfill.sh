#!/usr/bin/env bash
# Backfill throughput, on the local stack: N small objects (4 KiB) written
# straight into versitygw's posix backend (no events, no ETags: the case of
# files behind a gateway's back), then
#   1. the S3 server's own rates with the same client: LIST (bench_list,
#      1,000 keys a page) and GET+SHA-256 (bench_fetch) at concurrency C;
#      together they are what a backfill cannot beat;
#   2. backfill of the whole bucket (list, compare, fetch, hash, index);
#   3. a second backfill with nothing changed (list and compare only).
# Rates come from backfill's own summary line.
#
#   bench/backfill.sh                 N=100000 C=16 by default
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
N=${N:-100000}
C=${C:-16}
bucket=bench-backfill-$ts
store=bench-backfill-$ts
bench_buckets+=("$bucket")
bench_stores+=("$store")

aws s3api create-bucket --bucket "$bucket" >/dev/null
put_objects "$bucket" obj- "$N" 4096
say_sha_ni
echo "== backfill of $N objects of 4 KiB, concurrency $C"
list=$(build/bench/bench_list "$bucket" obj-)
get=$(build/bench/bench_fetch "$bucket" obj- "$N" "$C")
secs() { sed -nE 's/.* in ([0-9.]+) s$/\1/p' <<<"$1"; }
/usr/bin/time -f '%M' -o "$work/rss" build/artifact-watch backfill "s3://$bucket" --store "$store" \
    --concurrency "$C" --log-level error >"$work/first.out"
first=$(grep "^backfill " "$work/first.out")
grep -q "indexed $N (new $N" <<<"$first" || { echo "backfill did not index $N: $first" >&2; exit 1; }
build/artifact-watch backfill "s3://$bucket" --store "$store" --concurrency "$C" \
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
printf '%-56s %10s   (peak RSS %s MiB)\n' "backfill, empty index (list, fetch, hash, index)" "$bf" \
    "$(($(cat "$work/rss") / 1024))"
printf '%-56s %10s\n' "backfill again, nothing changed (list, compare)" "$noop"
echo "ratio backfill/(LIST+GET alone): $(python3 -c "print('%.2f' % ($bf / $both))")"
echo "rerun: N=$N C=$C bench/backfill.sh"
