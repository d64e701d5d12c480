#!/usr/bin/env bash
# Benchmark (b): one large object (2 GiB by default) fetched and SHA-256-hashed
# as it streams, next to `openssl speed -evp sha256` on the same machine.
#   - bench_fetch: the fetch engine alone without hashing (the transport's
#     rate), with hashing from nginx (sendfile) as one GET and as the default
#     4 ranges of 8 MiB, and from versitygw (signed GETs); then from an nginx
#     that caps each connection at 50 MB/s, as one GET and as 8 parallel
#     ranges of 8 MiB;
#   - ingest end to end: the object's event waits in Kafka, ingest fetches,
#     hashes and indexes it; peak RSS from /usr/bin/time.
# MB are 10^6 bytes, as openssl counts them.
#
#   bench/fetch_hash.sh            SIZE_MIB=2048 by default
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SIZE_MIB=${SIZE_MIB:-2048}
bucket=bench-large-$ts
topic=aw.bench.large.$ts
bench_buckets+=("$bucket")
bench_stores+=("bench-large-$ts")

aws s3api create-bucket --bucket "$bucket" >/dev/null
head -c "${SIZE_MIB}M" /dev/urandom >"$AW_STACK_DIR/s3/data/$bucket/big-0"
want=$(sha256sum "$AW_STACK_DIR/s3/data/$bucket/big-0" | cut -d' ' -f1)
build/bench/bench_events "$topic" "$bucket" big- 1 $((SIZE_MIB * 1048576))

start_nginx
say_sha_ni

# This machine's speed drifts from minute to minute (a shared VM), so each
# measurement is paired with an openssl run right before it and the ratio of
# each pair is kept; the medians of PAIRS pairs are reported.
PAIRS=${PAIRS:-3}
run_pairs() { # label env-assignments...; leaves the rates in $rates
    local label=$1 i o f r ratios=() rss=0
    rates=()
    shift
    for ((i = 0; i < PAIRS; i++)); do
        o=$(openssl_now)
        f=$(env "$@" build/bench/bench_fetch "$bucket" big-0 1 1)
        r=$(field "$f" mb_per_s)
        rates+=("$r")
        ratios+=("$(python3 -c "print('%.2f' % ($r / $o))")")
        rss=$(field "$f" peak_rss_mib)
        echo "  $label pair $((i + 1)): openssl $o MB/s, fetch+hash $r MB/s" >&2
    done
    printf '%-48s %9s %7s %14s\n' "$label" "$(median "${rates[@]}")" "$(median "${ratios[@]}")" "$rss"
}
echo "== one object of $SIZE_MIB MiB (medians of $PAIRS interleaved pairs)"
printf '%-48s %9s %7s %14s\n' "measurement" "MB/s" "ratio" "peak RSS MiB"
nginx=(AWS_ENDPOINT_URL_S3=http://127.0.0.1:$port AWS_ACCESS_KEY_ID= AWS_SECRET_ACCESS_KEY=)
run_pairs "fetch alone from nginx, no hashing" "${nginx[@]}" BENCH_NOHASH=1
bare=$(median "${rates[@]}")
run_pairs "fetch+hash from nginx (bench_fetch)" "${nginx[@]}"
run_pairs "fetch+hash from nginx, 4 ranges of 8 MiB" "${nginx[@]}" BENCH_RANGE_SIZE=8388608 BENCH_RANGE_CONCURRENCY=4
run_pairs "fetch+hash from versitygw (bench_fetch, SigV4)" AW_UNUSED=1
static=$port
# a store that caps each connection, as real ones do: 50 MB/s per connection
start_nginx capped 'limit_rate 50m;'
capped=$port
port=$static
run_pairs "one GET, 50 MB/s per connection (bench_fetch)" AWS_ENDPOINT_URL_S3=http://127.0.0.1:$capped AWS_ACCESS_KEY_ID= AWS_SECRET_ACCESS_KEY=
run_pairs "8 ranges of 8 MiB, 50 MB/s per connection" AWS_ENDPOINT_URL_S3=http://127.0.0.1:$capped AWS_ACCESS_KEY_ID= AWS_SECRET_ACCESS_KEY= BENCH_RANGE_SIZE=8388608 BENCH_RANGE_CONCURRENCY=8
ratios=() rates=()
for ((i = 0; i < PAIRS; i++)); do
    o=$(openssl_now)
    AWS_ACCESS_KEY_ID= AWS_SECRET_ACCESS_KEY= /usr/bin/time -f '%M' -o "$work/rss" \
        build/artifact-watch ingest --topic "$topic" --group "bench-large-$ts-$i" \
        --store "bench-large-$ts" --s3-endpoint "http://127.0.0.1:$port" --drain 2>"$work/ingest.log"
    r=$(sed -n 's/.*, \([0-9.]*\) MB\/s).*/\1/p' "$work/ingest.log" | tail -n 1)
    got=$(psql -X -At -c "SELECT sha256 FROM aw.objects WHERE store = 'bench-large-$ts'")
    [[ $got == "$want" ]] || { echo "wrong digest from ingest: $got, want $want" >&2; exit 1; }
    rates+=("$r")
    ratios+=("$(python3 -c "print('%.2f' % ($r / $o))")")
    echo "  ingest pair $((i + 1)): openssl $o MB/s, ingest $r MB/s" >&2
done
printf '%-48s %9s %7s %14s\n' "ingest end to end from nginx (Kafka, PostgreSQL)" "$(median "${rates[@]}")" \
    "$(median "${ratios[@]}")" "$(($(cat "$work/rss") / 1024))"
echo "fetch alone (no hashing) from nginx: $bare MB/s; the targets below are fractions of"
echo "min(that, openssl), the ratio column of openssl alone"
echo "target: fetch+hash >= 0.80 of min(fetch alone, openssl); ingest >= 0.70; peak RSS < 64 MiB;"
echo "        digest verified;"
echo "        8 ranges behind a 50 MB/s-per-connection cap >= 0.8 x min(400 MB/s, openssl)"
echo "rerun: SIZE_MIB=$SIZE_MIB bench/fetch_hash.sh"
