#!/usr/bin/env bash
# Benchmark (b): one large object (2 GiB by default) fetched and SHA-256-hashed
# as it streams, next to `openssl speed -evp sha256` on the same machine.
#   - bench_fetch: the fetch engine + hashing alone, from nginx (sendfile) and
#     from versitygw (signed GETs);
#   - ingest end to end: the object's event waits in Kafka, ingest fetches,
#     hashes and indexes it; peak RSS from /usr/bin/time.
# MB are 10^6 bytes, as openssl counts them.
#
#   bench/fetch_hash.sh            SIZE_MIB=2048 by default
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
SIZE_MIB=${SIZE_MIB:-2048}

command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] ||
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build >/dev/null
scripts/stack up >/dev/null 2>&1 || scripts/stack up
eval "$(scripts/stack env)"
build/artifact-watch migrate >/dev/null

ts=$(date +%s)
bucket=bench-large-$ts
topic=aw.bench.large.$ts
work=$(mktemp -d)
cleanup() {
    [[ -f $work/nginx.pid ]] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
    rm -rf "$work" "${AW_STACK_DIR:?}/s3/data/$bucket"
    psql -X -q -c "DELETE FROM aw.object_versions WHERE store = 'bench-large-$ts'" 2>/dev/null || true
}
trap cleanup EXIT

aws s3api create-bucket --bucket "$bucket" >/dev/null
head -c "${SIZE_MIB}M" /dev/urandom >"$AW_STACK_DIR/s3/data/$bucket/big-0"
want=$(sha256sum "$AW_STACK_DIR/s3/data/$bucket/big-0" | cut -d' ' -f1)
build/bench/bench_events "$topic" "$bucket" big- 1 $((SIZE_MIB * 1048576))

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$work/nginx.conf" <<EOF2
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
$([[ $(id -u) == 0 ]] && echo "user root;")
events { worker_connections 64; }
http { access_log off; sendfile on; server { listen 127.0.0.1:$port; root $AW_STACK_DIR/s3/data; } }
EOF2
"$NGINX" -c "$work/nginx.conf" -p "$work" -e "$work/nginx-error.log"

field() { sed -n "s/.*$2=\([0-9.]*\).*/\1/p" <<<"$1"; }
openssl_now() { openssl speed -evp sha256 -seconds 2 2>/dev/null | awk '/^sha256/ {v=$NF; sub(/k$/, "", v); printf "%.1f", v / 1000}'; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# This machine's speed drifts from minute to minute (a shared VM), so each
# measurement is paired with an openssl run right before it and the ratio of
# each pair is kept; the medians of PAIRS pairs are reported.
PAIRS=${PAIRS:-3}
run_pairs() { # label env-assignments...
    local label=$1 i o f r ratios=() rates=() rss=0
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
run_pairs "fetch+hash from nginx (bench_fetch)" AWS_ENDPOINT_URL_S3=http://127.0.0.1:$port AWS_ACCESS_KEY_ID= AWS_SECRET_ACCESS_KEY=
run_pairs "fetch+hash from versitygw (bench_fetch, SigV4)" AW_UNUSED=1
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
echo "target: fetch+hash >= 0.80 of openssl's single-core rate; peak RSS < 64 MiB; digest verified"
echo "rerun: SIZE_MIB=$SIZE_MIB bench/fetch_hash.sh"
