#!/usr/bin/env bash
# Scrub throughput with no budget, on the local stack:
#   (1) N small objects (4 KiB, written straight into versitygw's posix
#       backend and indexed by ingest first): scrub --once --all beside the S3
#       server's own GET+SHA-256 rate at the same concurrency (bench_fetch);
#   (2) one large object (SIZE_MIB): scrub's MB/s beside `openssl speed -evp
#       sha256` measured right before it.
# Rates come from scrub's own summary line (objects and bytes of the pass).
#
#   bench/scrub.sh                  N=20000 C=8 SIZE_MIB=1024
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
N=${N:-20000}
C=${C:-8}
SIZE_MIB=${SIZE_MIB:-1024}
bucket=bench-scrub-$ts
store=bench-scrub-$ts
topic=aw.bench.scrub.$ts
bench_buckets+=("$bucket")
bench_stores+=("$store")

aws s3api create-bucket --bucket "$bucket" >/dev/null
put_objects "$bucket" obj- "$N" 4096
head -c "${SIZE_MIB}M" /dev/urandom >"$AW_STACK_DIR/s3/data/$bucket/big-0"
build/bench/bench_events "$topic" "$bucket" obj- "$N" 4096
build/bench/bench_events "$topic" "$bucket" big- 1 $((SIZE_MIB * 1048576))
build/artifact-watch ingest --topic "$topic" --group "bench-scrub-$ts" --store "$store" --drain \
    --fetch-concurrency "$C" --log-level error

summary() { grep "pass done" "$1" | tail -n 1; }
echo "== scrub of $N objects of 4 KiB, concurrency $C"
raw=$(build/bench/bench_fetch "$bucket" obj- "$N" "$C")
/usr/bin/time -f '%M' -o "$work/rss" build/artifact-watch scrub --once --all --store "$store" \
    --bucket "$bucket" --prefix obj- --fetch-concurrency "$C" 2>"$work/small.log"
line=$(summary "$work/small.log")
ok=$(sed -nE 's/.*pass done: ([0-9]+) ok.*/\1/p' <<<"$line")
secs=$(sed -nE 's/.* bytes in ([0-9.]+) s.*/\1/p' <<<"$line")
[[ $ok == "$N" ]] || { echo "scrub verified $ok of $N: $line" >&2; exit 1; }
scrub_rate=$(python3 -c "print(int($ok / $secs))")
raw_rate=$(field "$raw" objects_per_s)
printf '%-52s %10s\n' "measurement" "objects/s"
printf '%-52s %10s\n' "versitygw GET+SHA-256 alone (bench_fetch)" "$raw_rate"
printf '%-52s %10s   (peak RSS %s MiB)\n' "scrub --once --all (lease, read, record)" "$scrub_rate" \
    "$(($(cat "$work/rss") / 1024))"
echo "ratio scrub/versitygw-alone: $(python3 -c "print('%.2f' % ($scrub_rate / $raw_rate))") (target >= 0.70)"

echo "== scrub of one object of $SIZE_MIB MiB, beside openssl speed right before each run"
# versitygw (Go, signed GETs) is the ceiling on 2 shared cores; nginx serving the
# same file shows scrub's own: fetch, hash and record
start_nginx
big() { # label env-assignments...
    local label=$1 o line bytes secs mbs raw bare
    shift
    o=$(openssl_now)
    env "$@" build/artifact-watch scrub --once --all --store "$store" --bucket "$bucket" \
        --prefix big- 2>"$work/big.log"
    line=$(summary "$work/big.log")
    bytes=$(sed -nE 's/.* ([0-9]+) bytes in ([0-9.]+) s.*/\1/p' <<<"$line")
    secs=$(sed -nE 's/.* ([0-9]+) bytes in ([0-9.]+) s.*/\2/p' <<<"$line")
    mbs=$(python3 -c "print('%.1f' % ($bytes / $secs / 1e6))")
    raw=$(field "$(env "$@" build/bench/bench_fetch "$bucket" big-0 1 1)" mb_per_s)
    bare=$(field "$(env "$@" BENCH_NOHASH=1 build/bench/bench_fetch "$bucket" big-0 1 1)" mb_per_s)
    ratios_of[$label]+=" $(python3 -c "print('%.2f' % ($mbs / min($o, $bare)))")"
    printf '%-15s openssl %6s  scrub %6s (%s of openssl, %s of min(openssl, no-hash))  fetch+hash %6s  fetch alone %6s MB/s\n' \
        "$label" "$o" "$mbs" "$(python3 -c "print('%.2f' % ($mbs / $o))")" \
        "$(python3 -c "print('%.2f' % ($mbs / min($o, $bare)))")" "$raw" "$bare"
}
# this VM's speed drifts from minute to minute: three runs each, medians last
declare -A ratios_of=()
for i in 1 2 3; do
    big "from versitygw" AW_UNUSED=1
    big "from nginx" AWS_ENDPOINT_URL_S3="http://127.0.0.1:$port" AWS_ACCESS_KEY_ID= AWS_SECRET_ACCESS_KEY=
done
for label in "from versitygw" "from nginx"; do
    # shellcheck disable=SC2086 # the ratios, one word each
    echo "median ratio, $label: $(median ${ratios_of[$label]})"
done
echo "target: scrub >= 0.80 of openssl's single-core SHA-256 rate, or of the transport's own rate where that is lower"
say_sha_ni
echo "rerun: N=$N C=$C SIZE_MIB=$SIZE_MIB bench/scrub.sh"
