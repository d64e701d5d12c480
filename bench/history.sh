#!/usr/bin/env bash
# The randomized history search (tests/integration/history.py) for as long as
# asked: N histories from seed S, each a random sequence of uploads, lost
# events, backfills, plans, applies under faults and kills, rot and scrubs,
# checked for the invariants of retention and alerts. Prints every violation
# with its seed and history, and "histories run: N, with violations or
# errors: V". A violation found here is replayed by its seed:
#   HISTORY_SEED=S HISTORY_COUNT=1 HISTORY_VERBOSE=1 tests/integration/history.sh
#
#   bench/history.sh --histories 1000 --seed 1000
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
n=100 seed=1
while (($#)); do
    case $1 in
    --histories) n=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --verbose) export HISTORY_VERBOSE=1; shift ;;
    *) echo "usage: bench/history.sh [--histories N] [--seed S] [--verbose]" >&2; exit 2 ;;
    esac
done
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build >/dev/null
scripts/stack up >/dev/null 2>&1 || scripts/stack up
eval "$(scripts/stack env)"
build/artifact-watch migrate >/dev/null
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores"
AW_BIN=$PWD/build/artifact-watch ITEST_BIN=$PWD/build/tests/integration \
HISTORY_COUNT=$n HISTORY_SEED=$seed bash tests/integration/history.sh
