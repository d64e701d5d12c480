#!/usr/bin/env bash
# Runs each libFuzzer harness of tests/fuzz for RUNS executions (default 10
# million), two at a time, under ASan+UBSan, seeded with tests/data and the
# saved corpus tests/fuzz/corpus/<name>; prints executions, seconds and rate
# per harness. A crash stops that harness and leaves its input under the
# printed directory. MERGE=1 merges what was found into the saved corpus
# (minimised), for the replay tests to keep.
#
#   bench/fuzz.sh                      every harness, 10M runs each
#   RUNS=100000 bench/fuzz.sh event    one harness, fewer runs
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
RUNS=${RUNS:-10000000}
names=("$@")
((${#names[@]})) || names=(event sidecar config codec s3url s3xml)

command -v clang >/dev/null && [[ -n $(find /usr/lib -name 'libclang_rt.fuzzer*' 2>/dev/null | head -n 1) ]] || {
    echo "installing clang and its runtime (Debian) for libFuzzer" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang libclang-rt-14-dev >/dev/null
}
CC=clang cmake -S . -B build-fuzz -G Ninja -DENABLE_FUZZING=ON -DENABLE_SANITIZERS=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build-fuzz $(printf 'fuzz_%s ' "${names[@]}") >/dev/null
work=$(mktemp -d)
echo "fuzz work directory: $work"

seed() { # name dir: the harness's seeds, with the mode byte the harness reads first
    local name=$1 dir=$2 f i=0
    mkdir -p "$dir"
    cp tests/fuzz/corpus/"$name"/* "$dir"/ 2>/dev/null || true
    case $name in
    event) for f in tests/data/events/*.json; do
            for p in 0 2; do { printf "\\x0$p"; cat "$f"; } >"$dir/seed-$p-$((i++))"; done
        done ;;
    sidecar) while IFS= read -r -d '' f; do
            for p in 0 2 3 4; do { printf "\\x0$p"; cat "$f"; } >"$dir/seed-$p-$((i++))"; done
        done < <(find tests/data/sidecars -type f -print0) ;;
    codec) cp tests/data/events/*.json "$dir"/ ;;
    s3xml) for f in tests/data/s3xml/*.xml; do
            for p in 0 1; do { printf "\\x0$p"; cat "$f"; } >"$dir/seed-$p-$((i++))"; done
        done ;;
    esac
}

run_one() {
    local name=$1 dir=$work/$1
    seed "$name" "$dir/corpus"
    mkdir -p "$dir/artifacts"
    local t0=$SECONDS rc=0
    ASAN_OPTIONS=detect_leaks=1 build-fuzz/tests/fuzz/fuzz_"$name" -runs="$RUNS" -max_len=65536 \
        -rss_limit_mb=2048 -artifact_prefix="$dir/artifacts/" -print_final_stats=1 \
        "$dir/corpus" >"$dir/log" 2>&1 || rc=$?
    local execs secs=$((SECONDS - t0))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -n 1)
    if ((rc)); then
        printf '%-8s FAILED after %s runs in %d s; see %s/log and %s/artifacts\n' \
            "$name" "${execs:-?}" "$secs" "$dir" "$dir"
        return 1
    fi
    printf '%-8s %12s runs in %6d s  (%s runs/s)\n' "$name" "$execs" "$secs" \
        "$((execs / (secs > 0 ? secs : 1)))"
    if [[ ${MERGE:-} == 1 ]]; then
        mkdir -p "tests/fuzz/corpus/$name"
        build-fuzz/tests/fuzz/fuzz_"$name" -merge=1 "tests/fuzz/corpus/$name" "$dir/corpus" \
            >>"$dir/log" 2>&1
    fi
}

echo "harness        executions        time"
status=0
pids=()
for name in "${names[@]}"; do
    run_one "$name" &
    pids+=($!)
    if ((${#pids[@]} == 2)); then
        wait "${pids[0]}" || status=1
        pids=("${pids[1]}")
    fi
done
for p in "${pids[@]}"; do wait "$p" || status=1; done
echo "rerun: RUNS=$RUNS bench/fuzz.sh ${names[*]}"
exit $status
