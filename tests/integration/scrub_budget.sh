#!/usr/bin/env bash
# Scrub's read budget on the real stack: with --max-bytes-per-sec, the bytes
# read over a minute stay within 20% of the budget (300 objects of 64 KiB,
# more than a minute's worth at 256 KiB/s; the pass is stopped by SIGTERM
# after 60 s and reports what it read).
source "$(dirname "$0")/lib.sh"
require_stack

run_id=$(date +%s)-$RANDOM
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
group=scrub-budget-$run_id
"$AW_BIN" ingest --group "$group" --drain --log-level error

b=$(unique_bucket budget)
s3api create-bucket --bucket "$b" >/dev/null
mkdir -p "$work/src"
python3 - "$work/src" <<'PY'
import os, sys
for i in range(300):
    with open(os.path.join(sys.argv[1], "part-%03d.bin" % i), "wb") as f:
        f.write(os.urandom(65536))
PY
aws s3 cp --only-show-errors --recursive "$work/src" "s3://$b/"
"$ITEST_BIN/kafka_events" --bucket "$b" --min 300 --timeout 90 >/dev/null
"$AW_BIN" ingest --group "$group" --drain --log-level error

budget=262144
rc=0
timeout -s TERM 60 "$AW_BIN" scrub --once --all --bucket "$b" --max-bytes-per-sec "$budget" \
    >"$work/scrub.log" 2>&1 || rc=$?
line=$(grep "pass stopped" "$work/scrub.log" || true)
[[ -n $line ]] || fail "scrub did not report a stopped pass (exit $rc): $(tail -n 3 "$work/scrub.log")"
bytes=$(sed -nE 's/.* ([0-9]+) bytes in ([0-9.]+) s.*/\1/p' <<<"$line")
secs=$(sed -nE 's/.* ([0-9]+) bytes in ([0-9.]+) s.*/\2/p' <<<"$line")
rate=$(python3 -c "print(int($bytes / $secs))")
echo "scrub read $bytes bytes in $secs s: $rate bytes/s against a budget of $budget" >&2
expect_eq "it ran for the minute" 1 "$(python3 -c "print(int($secs >= 55))")"
expect_eq "the rate over the minute is within 20% of the budget ($rate B/s)" 1 \
    "$(python3 -c "print(int(0.8 * $budget <= $rate <= 1.2 * $budget))")"
expect_eq "SIGTERM released the leases" 0 \
    "$(psql -X -At -c "SELECT count(*) FROM aw.scrub_state s JOIN aw.object_versions v ON v.id = s.object_version_id WHERE v.bucket = '$b' AND s.lease_until > now()")"

done_ok
