#!/usr/bin/env bash
# watch over a folder tree of N files in D directories (default 100,000 files
# of 4 KiB in 10,000 directories, two levels deep), on the local stack, into a
# database of its own (aw_bench_folder, dropped at the end):
#   1. sha256sum over the same tree (find | xargs, one process per CPU), the
#      rate a watcher that hashes every file cannot beat on this machine;
#   2. watch's first walk: from start to every file indexed (files/s), with
#      the directories watched and the watcher's peak RSS (VmHWM) beside
#      ingest's memory bound (256 MiB, tests/integration/ingest_memory.sh);
#   3. M more files written while it runs (default 10,000, 100 per directory
#      of 100 directories): from the first write to the last one indexed;
#   4. the peak RSS again, after the live phase.
#
#   bench/folder.sh
#   N=20000 D=2000 M=2000 SIZE=65536 bench/folder.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
N=${N:-100000}
D=${D:-10000}
M=${M:-10000}
SIZE=${SIZE:-4096}
db=aw_bench_folder
uri=$(db_uri "$db")
root=$work/tree
store=bench-folder

psql -X -q -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
trap 'kill "$(cat "$work/watch.pid" 2>/dev/null)" 2>/dev/null; psql -X -q -c "DROP DATABASE IF EXISTS $db" 2>/dev/null; bench_cleanup' EXIT
build/artifact-watch migrate --pg "$uri" --log-level warn >/dev/null
q() { psql -X -At -d "$db" -c "$1"; }

echo "CPU: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(nproc) cores; $(say_sha_ni)"
echo "== a tree of $N files of $SIZE bytes in $D directories under $root"
python3 - "$root" "$N" "$D" "$SIZE" <<'EOF'
import os, sys
root, n, d, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
per = n // d
for i in range(d):
    p = os.path.join(root, "g%03d" % (i // 100), "d%05d" % i)
    os.makedirs(p, exist_ok=True)
    for j in range(per):
        with open(os.path.join(p, "f%04d.bin" % j), "wb") as f:
            f.write(os.urandom(size))
EOF
sync
files=$(find "$root" -type f | wc -l)
dirs=$(find "$root" -type d | wc -l)
echo "$files files, $dirs directories"

t0=$(date +%s.%N)
find "$root" -type f -print0 | xargs -0 -P "$(nproc)" -n 500 sha256sum >/dev/null
t1=$(date +%s.%N)
awk -v n="$files" -v a="$t0" -v b="$t1" 'BEGIN {printf "sha256sum (find | xargs -P %d): %.1f s, %.0f files/s\n", '"$(nproc)"', b - a, n / (b - a)}'

echo "== watch: the first walk"
t0=$(date +%s.%N)
build/artifact-watch watch "$root" --pg "$uri" --store "$store" --log-level warn \
    >"$work/watch.log" 2>&1 &
echo $! >"$work/watch.pid"
pid=$(cat "$work/watch.pid")
until [[ $(q "SELECT count(*) FROM aw.object_versions WHERE store = '$store' AND sha256 IS NOT NULL") -ge $files ]]; do
    kill -0 "$pid" 2>/dev/null || { cat "$work/watch.log"; echo "watch exited" >&2; exit 1; }
    sleep 0.5
done
t1=$(date +%s.%N)
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
awk -v n="$files" -v a="$t0" -v b="$t1" 'BEGIN {printf "first walk: %d files indexed in %.1f s, %.0f files/s\n", n, b - a, n / (b - a)}'
echo "directories watched: $(grep -c inotify "/proc/$pid/fdinfo/"* 2>/dev/null | awk -F: '{s += $2} END {print s}') inotify watches"
echo "peak RSS after the walk: $((hwm / 1024)) MiB (ingest's bound: 256 MiB)"

echo "== watch: $M files written while it runs"
before=$(q "SELECT count(*) FROM aw.object_versions WHERE store = '$store' AND sha256 IS NOT NULL")
t0=$(date +%s.%N)
python3 - "$root" "$M" "$SIZE" <<'EOF'
import os, sys
root, m, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(m):
    p = os.path.join(root, "g000", "d%05d" % (i % 100))
    with open(os.path.join(p, "live%05d.bin" % i), "wb") as f:
        f.write(os.urandom(size))
EOF
t_written=$(date +%s.%N)
until [[ $(q "SELECT count(*) FROM aw.object_versions WHERE store = '$store' AND sha256 IS NOT NULL") -ge $((before + M)) ]]; do
    kill -0 "$pid" 2>/dev/null || { cat "$work/watch.log"; echo "watch exited" >&2; exit 1; }
    sleep 0.2
done
t1=$(date +%s.%N)
awk -v n="$M" -v a="$t0" -v w="$t_written" -v b="$t1" 'BEGIN {printf "live: %d files written in %.1f s, all indexed %.1f s after the first write: %.0f files/s\n", n, w - a, b - a, n / (b - a)}'
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
echo "peak RSS after the live phase: $((hwm / 1024)) MiB"
grep -E "ERROR|overflow" "$work/watch.log" | head -5 || true
kill -TERM "$pid"
wait "$pid" 2>/dev/null || true
