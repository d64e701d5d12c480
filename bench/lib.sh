# Shared set-up for the benchmark scripts (sourced): builds, starts the local
# stack, and serves the S3 server's posix backend directory over nginx so both
# servers hold the same objects under the same path-style URLs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || {
    echo "installing nginx-light (Debian) for the static-server runs" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null
}
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build >/dev/null
scripts/stack up >/dev/null 2>&1 || scripts/stack up
eval "$(scripts/stack env)"
# the benches' ingest runs read their own topics only, not the OpenLineage
# documents the tests leave on the stack's shared topic
export AW_OPENLINEAGE_TOPIC=
build/artifact-watch migrate >/dev/null

ts=$(date +%s)
work=$(mktemp -d)
bench_buckets=()
bench_stores=()
bench_cleanup() {
    local p
    for p in "$work"/*.pid; do [[ -f $p ]] && kill "$(cat "$p")" 2>/dev/null; done
    local b s
    for b in "${bench_buckets[@]}"; do rm -rf "${AW_STACK_DIR:?}/s3/data/$b"; done
    for s in "${bench_stores[@]}"; do
        psql -X -q -c "DELETE FROM aw.object_versions WHERE store = '$s'" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap bench_cleanup EXIT

# Starts nginx on a free loopback port serving versitygw's data directory;
# sets $port. start_nginx NAME 'DIRECTIVES' starts another one with more
# directives for its server block (e.g. 'limit_rate 50m;').
start_nginx() {
    local name=${1:-nginx} extra=${2:-}
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    cat >"$work/$name.conf" <<EOF2
worker_processes 1;
pid $work/$name.pid;
error_log $work/$name-error.log;
$([[ $(id -u) == 0 ]] && echo "user root;")
events { worker_connections 4096; }
http {
    access_log off;
    sendfile on;
    keepalive_requests 10000000;
    keepalive_timeout 300;
    server { listen 127.0.0.1:$port; root $AW_STACK_DIR/s3/data; $extra location / { } }
}
EOF2
    "$NGINX" -c "$work/$name.conf" -p "$work" -e "$work/$name-error.log"
}

# median VALUES...: the middle one (the lower middle of an even count)
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# db_uri NAME: the URI of the stack's database NAME
db_uri() { echo "postgresql://$PGUSER:$PGPASSWORD@$PGHOST:$PGPORT/$1"; }

field() { sed -n "s/.*$2=\([0-9.]*\).*/\1/p" <<<"$1"; }

# put_objects BUCKET PREFIX COUNT SIZE: COUNT random objects PREFIX0..PREFIX<COUNT-1>
# of SIZE bytes written straight into versitygw's posix backend (the bucket
# must exist): the server serves them like uploads, but sends no events and
# no ETags for them.
put_objects() {
    python3 - "$AW_STACK_DIR/s3/data/$1" "$2" "$3" "$4" <<'PY'
import os, sys
d, prefix, n, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
for i in range(n):
    with open(os.path.join(d, "%s%d" % (prefix, i)), "wb") as f:
        f.write(os.urandom(size))
PY
}

# Whether the CPU hashes with SHA extensions, for the record.
say_sha_ni() {
    grep -q sha_ni /proc/cpuinfo && echo "this CPU has SHA extensions (sha_ni)" ||
        echo "this CPU has no SHA extensions"
}

# openssl's single-core SHA-256 rate now, in MB/s.
openssl_now() { openssl speed -evp sha256 -seconds 2 2>/dev/null | awk '/^sha256/ {v=$NF; sub(/k$/, "", v); printf "%.1f", v / 1000}'; }

# CPU time in clock ticks, user + system: cpu_ticks PID... for running
# processes; pg_cpu_ticks for the whole PostgreSQL cluster of the stack (its
# processes now, plus the children that have exited, which the postmaster
# has collected: a client's backend ends with its connection).
cpu_ticks() {
    local p t=0 u s
    for p in "$@"; do
        read -r u s < <(awk '{print $14, $15}' "/proc/$p/stat" 2>/dev/null) || continue
        t=$((t + u + s))
    done
    echo "$t"
}
pg_cpu_ticks() {
    local pm t
    pm=$(head -n 1 "$AW_STACK_DIR/pg/data/postmaster.pid")
    t=$(awk '{print $14 + $15 + $16 + $17}' "/proc/$pm/stat")
    echo $((t + $(cpu_ticks $(pgrep -P "$pm"))))
}
# pg_backends: how many processes the postmaster has now. A client's backend
# exits a moment after the client: pg_settle N waits (up to 2 s) until no
# more than N are left, so pg_cpu_ticks counts the backend that just ended.
pg_backends() { pgrep -c -P "$(head -n 1 "$AW_STACK_DIR/pg/data/postmaster.pid")"; }
pg_settle() {
    local i
    for ((i = 0; i < 200; i++)); do
        (($(pg_backends) <= $1)) && return
        sleep 0.01
    done
}
