#!/usr/bin/env bash
# Alerts that mean what they say, on the real stack (files written straight
# into versitygw's posix backend play a POSIX gateway's users):
#  - a file without an ETag rewritten behind the gateway is "changed" to
#    scrub, not a checksum mismatch; bytes rotted in place (mtime kept) are
#    a mismatch, and its alert resolves as superseded once backfill indexes
#    the file's next version;
#  - a file that vanished with no delete event is "missing"; a backfill's
#    reconcile annotates the alert and leaves it open; a person resolves it
#    with `alerts resolve ID --reason`, which is recorded;
#  - a bucket the store will not serve (403 on every request, through the
#    fault proxy; or an endpoint without the bucket) is one bucket_unreachable
#    alert and a paused scrub, not one alert per object; readable again, it
#    resolves;
#  - a storm of NOTIFYs from any role is at most one push per --min-interval,
#    and a push sends what changed.
source "$(dirname "$0")/lib.sh"
require_stack

run_id=$(date +%s)-$RANDOM
work=$(mktemp -d)
trap 'stop_proxy; [[ -n ${sink_pid:-} ]] && kill "$sink_pid" 2>/dev/null; [[ -n ${pp:-} ]] && kill "$pp" 2>/dev/null; [[ -n ${mirror_pid:-} ]] && kill "$mirror_pid" 2>/dev/null; sql -q -c "DROP ROLE IF EXISTS notifier_${run_id//-/_}" >/dev/null 2>&1; rm -rf "$work"; true' EXIT
group=alerts-trust-$run_id
"$AW_BIN" ingest --group "$group" --drain --log-level error
drain() { "$AW_BIN" ingest --group "$group" --drain --log-level error; }
disk=$AW_STACK_DIR/s3/data
scrub() { "$AW_BIN" scrub --once --all --bucket "$1" --log-level warn "${@:2}"; }
alert() { # bucket key kind: "state|resolved_by" of its alert
    sql -F'|' -c "SELECT state, COALESCE(detail->>'resolved_by', '') FROM aw.alerts
                  WHERE bucket = '$1' AND key = '$2' AND kind = '$3' ORDER BY id DESC LIMIT 1"
}

# --- files behind the gateway: rewritten is "changed", rotted is a mismatch
gb=$(unique_bucket gateway)
s3api create-bucket --bucket "$gb" >/dev/null
printf 'first bytes %s\n' "$run_id" >"$disk/$gb/report.csv"
printf 'will rot %s\n' "$run_id" >"$disk/$gb/rots.csv"
"$AW_BIN" backfill "s3://$gb" --log-level warn >/dev/null || fail "backfill of $gb failed"
expect_eq "files without an ETag indexed" "2 0" \
    "$(sql -c "SELECT count(*) || ' ' || count(etag) FROM aw.objects WHERE bucket = '$gb' AND state = 'present'")"
sleep 1.1 # the rewrite gets a newer mtime
printf 'second bytes, a legitimate rewrite %s\n' "$run_id" >"$disk/$gb/report.csv"
python3 - "$disk/$gb/rots.csv" <<'PY'
import os, sys
st = os.stat(sys.argv[1])
with open(sys.argv[1], "r+b") as f:  # one flipped byte, the same size and mtime
    b = bytearray(f.read()); b[0] ^= 1; f.seek(0); f.write(b)
os.utime(sys.argv[1], ns=(st.st_atime_ns, st.st_mtime_ns))
PY
out=$(scrub "$gb" 2>&1) || fail "scrub of $gb failed: $out"
expect_eq "the rewrite: scrub's result" "changed" \
    "$(sql -c "SELECT s.last_result FROM aw.scrub_state s JOIN aw.object_versions v ON v.id = s.object_version_id WHERE v.bucket = '$gb' AND v.key = 'report.csv'")"
expect_eq "no alert for the rewritten file" 0 \
    "$(sql -c "SELECT count(*) FROM aw.alerts WHERE bucket = '$gb' AND key = 'report.csv'")"
expect_eq "the rotted file: a checksum mismatch" "open|" "$(alert "$gb" rots.csv checksum_mismatch)"
# a pipeline writes the file again: the next version supersedes the alert
sleep 1.1
printf 'rewritten after the rot %s\n' "$run_id" >"$disk/$gb/rots.csv"
"$AW_BIN" backfill "s3://$gb" --log-level warn >/dev/null || fail "second backfill of $gb failed"
expect_eq "the mismatch on replaced bytes resolves" "resolved|superseded" "$(alert "$gb" rots.csv checksum_mismatch)"
out=$(scrub "$gb" 2>&1) || fail "scrub of $gb failed: $out"
expect_eq "open alerts in $gb after it all" 0 \
    "$(sql -c "SELECT count(*) FROM aw.alerts WHERE bucket = '$gb' AND state = 'open'")"

# --- vanished without a delete event: missing until a person says otherwise
vb=$(unique_bucket vanish)
s3api create-bucket --bucket "$vb" >/dev/null
echo "a model $run_id" >"$work/model.bin"
s3 cp "$work/model.bin" "s3://$vb/models/model.bin"
"$ITEST_BIN/kafka_events" --bucket "$vb" --min 1 --timeout 60 >/dev/null
drain
rm "$disk/$vb/models/model.bin" # lost behind the store's back: no event
out=$(scrub "$vb" 2>&1) || fail "scrub of $vb failed: $out"
expect_eq "the vanished file" "open|" "$(alert "$vb" models/model.bin missing)"
"$AW_BIN" backfill "s3://$vb" --log-level warn >/dev/null || fail "backfill of $vb failed"
expect_eq "the reconcile marked it deleted" "t|reconcile" \
    "$(sql -F'|' -c "SELECT deleted, deleted_by FROM aw.object_versions WHERE bucket = '$vb' AND key = 'models/model.bin' AND state = 'present'")"
expect_eq "a reconcile leaves the alert open" "open|" "$(alert "$vb" models/model.bin missing)"
expect_contains "and says what it saw" \
    "$(sql -c "SELECT detail->>'reconcile' FROM aw.alerts WHERE bucket = '$vb' AND kind = 'missing'")" \
    "the store no longer lists it"
id=$(sql -c "SELECT id FROM aw.alerts WHERE bucket = '$vb' AND kind = 'missing'")
expect_status "resolve without a reason" 2 "$AW_BIN" alerts resolve "$id"
out=$("$AW_BIN" alerts resolve "$id" --reason "restored from the backup copy, ticket OPS-12")
expect_eq "alerts resolve" "alert $id resolved" "$out"
expect_eq "the person's word is recorded" "resolved|person|restored from the backup copy, ticket OPS-12|$PGUSER" \
    "$(sql -F'|' -c "SELECT state, detail->>'resolved_by', detail->>'reason', detail->>'by' FROM aw.alerts WHERE id = $id")"
expect_eq "resolving it again changes nothing" "alert $id was not open; nothing changed" \
    "$("$AW_BIN" alerts resolve "$id" --reason again)"

# --- a bucket the store will not serve: one alert, scrub paused
ub=$(unique_bucket unserved)
upload_n "$ub" 12
drain
start_proxy "" "$work/proxy.log"
proxy_rules "[{\"bucket\": \"^$ub\$\", \"action\": \"status\", \"status\": 403, \"code\": \"AccessDenied\"}]"
AWS_ENDPOINT_URL_S3=$proxy_url scrub "$ub" --scrub-batch 5 >/dev/null 2>&1 ||
    fail "scrub of an unserved bucket failed"
expect_eq "alerts for a bucket refused on every request" "bucket_unreachable|open|" \
    "$(sql -F'|' -c "SELECT string_agg(kind || '|' || state || '|' || COALESCE(object_version_id::text, ''), ',') FROM aw.alerts WHERE bucket = '$ub'")"
expect_eq "its objects' reads were not recorded" 0 \
    "$(sql -c "SELECT count(*) FROM aw.scrub_state s JOIN aw.object_versions v ON v.id = s.object_version_id WHERE v.bucket = '$ub' AND s.last_verified_at IS NOT NULL")"
proxy_clear
AWS_ENDPOINT_URL_S3=$proxy_url scrub "$ub" >/dev/null 2>&1 || fail "second scrub failed"
expect_eq "a paused bucket: one listing asks whether it is back, no object is read" "GET 1" \
    "$(proxy_log | python3 -c '
import json, sys
rs = [json.loads(l) for l in sys.stdin]
print("GET", sum(1 for r in rs if r["method"] == "GET" and r["key"] == ""), *[r["key"] for r in rs if r["key"]])')"
proxy_rules '[]'
AWS_ENDPOINT_URL_S3=$proxy_url scrub "$ub" >/dev/null 2>&1 || fail "third scrub failed"
expect_eq "readable again: resolved, and its objects read" "resolved 12" \
    "$(sql -c "SELECT (SELECT state FROM aw.alerts WHERE bucket = '$ub' AND kind = 'bucket_unreachable') || ' ' || count(*) FROM aw.scrub_state s JOIN aw.object_versions v ON v.id = s.object_version_id WHERE v.bucket = '$ub' AND s.last_result = 'ok'")"
stop_proxy
# an endpoint that does not have the bucket (NoSuchBucket for everything)
start_mirror "$work/mirror"
sql -q -c "UPDATE aw.scrub_state s SET due_at = now() FROM aw.object_versions v WHERE v.id = s.object_version_id AND v.bucket = '$ub'"
AWS_ENDPOINT_URL_S3=$mirror_url AWS_ACCESS_KEY_ID=$MIRROR_KEY AWS_SECRET_ACCESS_KEY=$MIRROR_SECRET \
    scrub "$ub" >/dev/null 2>&1 || fail "scrub at the wrong endpoint failed"
expect_eq "the wrong endpoint: one alert again, no missing" "bucket_unreachable|open" \
    "$(sql -F'|' -c "SELECT string_agg(kind || '|' || state, ',') FROM aw.alerts WHERE bucket = '$ub' AND state = 'open'")"
expect_contains "it says why" "$(sql -c "SELECT detail->>'error' FROM aw.alerts WHERE bucket = '$ub' AND kind = 'bucket_unreachable'")" \
    "NoSuchBucket"

# --- a NOTIFY storm is at most one push per --min-interval
sink_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 - "$sink_port" "$work/posts" <<'PY' &
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with open(sys.argv[2], "a") as f:
            f.write("%d\n" % body.count(b'"alertname"'))
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
sink_pid=$!
wait_for "the sink to listen" 10 "curl -s -o /dev/null -X POST http://127.0.0.1:$sink_port/"
: >"$work/posts"
sleep 2 # no alert changed within the second a push looks back over
"$AW_BIN" alerts push --alertmanager-url "http://127.0.0.1:$sink_port" --resend 1h \
    --min-interval 2s --log-level warn &
pp=$!
wait_for "the first push" 20 '[[ -s $work/posts ]]'
first=$(wc -l <"$work/posts")
notifier=notifier_${run_id//-/_}
sql -q -c "CREATE ROLE $notifier LOGIN PASSWORD 'pw' IN ROLE aw_reader"
start=$(date +%s.%N)
for i in $(seq 1 60); do echo "SELECT pg_notify('aw_alerts', '$i');"; sleep 0.1; done |
    PGUSER=$notifier PGPASSWORD=pw psql -X -q >/dev/null
took=$(python3 -c "import time; print(time.time() - $start)")
sleep 2.5
pushes=$(($(wc -l <"$work/posts") - first))
expect_eq "POSTs caused by 60 NOTIFYs from a reader that changed nothing" 0 "$pushes"
# a real change: sent within the min-interval, alone
"$AW_BIN" alerts resolve "$(sql -c "SELECT id FROM aw.alerts WHERE bucket = '$ub' AND state = 'open'")" \
    --reason "the mirror endpoint was a test" >/dev/null
wait_for "the changed alert to be pushed" 10 '[[ $(wc -l <"$work/posts") -gt $first ]]'
expect_eq "the push after a change carries that alert only" 1 "$(tail -1 "$work/posts")"
kill "$pp"
wait "$pp" 2>/dev/null || true
pp=
echo "storm: 60 NOTIFYs over ${took}s, $pushes POSTs; then one change, one POST of 1 alert"
done_ok
