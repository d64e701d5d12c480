#!/usr/bin/env bash
# What the store refuses, and what must never reach it, on the real stack:
#  - one object refused (HTTP 403 AccessDenied for a second account) is that
#    object's outcome: it is dead-lettered with the store's reason after the
#    retries, and the objects of the same batch are indexed;
#  - credentials the store refuses (SignatureDoesNotMatch) are an outage:
#    nothing is dead-lettered, the partitions pause, and a rewritten
#    credentials file is picked up without a restart;
#  - events whose bucket or ETag could leave the URL or forge a header are
#    dead-lettered as invalid; the good event beside them is indexed;
#  - a fetch that takes longer than max.poll.interval.ms keeps the consumer
#    in its group (it is polled while the body streams);
#  - a store stating a size no object has costs that object a dead letter,
#    not the pipeline (odd_store.py plays the store).
source "$(dirname "$0")/lib.sh"
require_stack
[[ -n ${AW_STACK_VERSITYGW:-} ]] || fail "AW_STACK_VERSITYGW is not set: eval \"\$(scripts/stack env)\""

run_id=$(date +%s)-$RANDOM
work=$(mktemp -d)
trap '[[ -n ${pid:-} ]] && kill -9 "$pid" 2>/dev/null; [[ -n ${srv:-} ]] && kill "$srv" 2>/dev/null
      [[ -n ${odd_pid:-} ]] && kill "$odd_pid" 2>/dev/null; rm -rf "$work"' EXIT
dead_letters() { "$ITEST_BIN/kafka_tool" dump "$AW_KAFKA_DLQ_TOPIC" | grep -F "$1" || true; }
header() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])["headers"][sys.argv[2]])' "$1" "$2"; }
vgw_admin() {
    "$AW_STACK_VERSITYGW" admin --access "$AWS_ACCESS_KEY_ID" --secret "$AWS_SECRET_ACCESS_KEY" \
        --endpoint-url "$AWS_ENDPOINT_URL_S3" "$@"
}
group=refusals-$run_id
# skip what earlier tests left on the topic
"$AW_BIN" ingest --group "$group" --drain --log-level error

# --- a second account that may read one bucket and not the other
reader=reader${run_id//-/}
reader_secret=secret-$run_id
vgw_admin create-user --access "$reader" --secret "$reader_secret" --role user >/dev/null
open=$(unique_bucket open)
closed=$(unique_bucket closed)
s3api create-bucket --bucket "$open" >/dev/null
s3api create-bucket --bucket "$closed" >/dev/null
vgw_admin change-bucket-owner --bucket "$open" --owner "$reader" >/dev/null
mkdir -p "$work/o" "$work/c"
for i in 1 2 3; do echo "open object $i $run_id" >"$work/o/o$i.txt"; done
for i in 1 2; do echo "closed object $i $run_id" >"$work/c/c$i.txt"; done
aws s3 cp --recursive --only-show-errors "$work/o" "s3://$open/"
aws s3 cp --recursive --only-show-errors "$work/c" "s3://$closed/"
"$ITEST_BIN/kafka_events" --bucket "$closed" --min 2 --timeout 60 >/dev/null
"$ITEST_BIN/kafka_events" --bucket "$open" --min 3 --timeout 60 >/dev/null

# --- the reader's credentials from a file, first with a wrong secret
creds=$work/credentials
printf '[default]\naws_access_key_id = %s\naws_secret_access_key = wrong-%s\n' "$reader" "$reader_secret" >"$creds"
AWS_ACCESS_KEY_ID= AWS_SECRET_ACCESS_KEY= "$AW_BIN" ingest --group "$group" --batch-ms 50 \
    --credentials-file "$creds" --fetch-retries 1 -X session.timeout.ms=6000 >"$work/creds.log" 2>&1 &
pid=$!
wait_for "ingest to report the object store unavailable" 60 \
    'grep -q "object store unavailable.*SignatureDoesNotMatch" "$work/creds.log"'
sleep 1
kill -0 "$pid" || fail "ingest exited while the store refused its credentials"
expect_eq "rows while the credentials are refused" 0 "$(rows "$open")"
expect_eq "dead letters while the credentials are refused" "" "$(dead_letters "$closed")"

# --- the file is rewritten (as a credentials agent rotates it): picked up
printf '[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n' "$reader" "$reader_secret" >"$creds.new"
mv "$creds.new" "$creds"
wait_for "the open bucket's objects indexed" 60 '[[ $(rows "$open") == 3 ]]'
wait_for "dead letters for the refused objects" 60 '[[ $(dead_letters "$closed" | grep -c .) == 2 ]]'
dl=$(dead_letters "$closed" | head -n 1)
expect_eq "code of a refused object" "AW_EHTTP" "$(header "$dl" aw-error-code)"
expect_contains "reason of a refused object" "$(header "$dl" aw-error)" "refused after 2 attempt(s): HTTP 403 AccessDenied"
expect_eq "rows for refused objects" 0 "$(rows "$closed")"
expect_contains "ingest log" "$(cat "$work/creds.log")" "object store is back; resuming"
kill -TERM "$pid"
wait "$pid" || fail "ingest did not stop cleanly"
pid=

# --- events that would inject into a URL or a header
good=$(unique_bucket good)
s3api create-bucket --bucket "$good" >/dev/null
echo "good $run_id" >"$work/good.txt"
s3 cp "$work/good.txt" "s3://$good/good.txt"
"$ITEST_BIN/kafka_events" --bucket "$good" --min 1 --timeout 60 >/dev/null
ev() { # bucket etag
    printf '{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"%s"},"object":{"key":"k-%s","size":1,"eTag":"%s"}}}]}' \
        "$1" "$run_id" "$2" | "$ITEST_BIN/kafka_tool" produce "$AW_KAFKA_TOPIC" "inject-$run_id"
}
ev "127.0.0.1:9@$good" abc
ev "$good/../other" abc
ev "$good" 'abc\r\nX-Amz-Injected: 1'
"$AW_BIN" ingest --group "$group" --drain --log-level error
dl=$("$ITEST_BIN/kafka_tool" dump "$AW_KAFKA_DLQ_TOPIC" | grep -F "\"inject-$run_id\"" || true)
expect_eq "dead letters for the injecting events" 3 "$(printf '%s\n' "$dl" | grep -c .)"
expect_eq "their codes" "AW_EINVALID AW_EINVALID AW_EINVALID" \
    "$(while IFS= read -r l; do header "$l" aw-error-code; done <<<"$dl" | tr '\n' ' ' | sed 's/ $//')"
expect_contains "reason for a bucket with a port and user info" "$dl" 'is not a valid bucket name'
expect_contains "reason for an ETag with CR LF" "$dl" 'has bytes that cannot go in a request header'
expect_eq "the good object beside them" 1 "$(rows "$good")"

# --- a body slower than max.poll.interval.ms: the consumer stays in its group
slow=$(unique_bucket slow)
python3 -c '
import http.server, sys, time
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Length", "12"); self.end_headers()
        for c in b"slow body 12":
            self.wfile.write(bytes([c])); self.wfile.flush(); time.sleep(1)
    def log_message(self, *a): pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True); s.serve_forever()' >"$work/port" &
srv=$!
wait_for "the slow server to listen" 10 '[[ -s $work/port ]]'
printf '{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"%s"},"object":{"key":"slow.bin","size":12,"sequencer":"01"}}}]}' \
    "$slow" | "$ITEST_BIN/kafka_tool" produce "$AW_KAFKA_TOPIC"
# (evicted, a consumer would re-read the message and be evicted again: bounded)
AWS_ACCESS_KEY_ID= AWS_SECRET_ACCESS_KEY= timeout 60 "$AW_BIN" ingest --group "$group" --drain \
    --s3-endpoint "http://127.0.0.1:$(cat "$work/port")" --batch-max 1 -X max.poll.interval.ms=7000 \
    -X session.timeout.ms=6000 >"$work/slow.log" 2>&1 ||
    fail "ingest did not drain a 12 s fetch: $(grep -iE 'max.poll|error' "$work/slow.log" | head -3)"
expect_eq "the slow object's digest" "$(printf 'slow body 12' | sha256sum | cut -d' ' -f1)" \
    "$(sql -c "SELECT sha256 FROM aw.objects WHERE bucket = '$slow' AND key = 'slow.bin'")"
if grep -qiE "max.poll|MAX_POLL" "$work/slow.log"; then
    fail "the consumer was evicted during a 12 s fetch: $(grep -iE 'max.poll|MAX_POLL' "$work/slow.log" | head -2)"
fi
expect_eq "assignments (one: no rebalance during the fetch)" 1 "$(grep -c 'INFO ingest: assigned' "$work/slow.log")"

# --- a store that states a size no object has (HEAD of an object the event
# says is larger than a range): that object is dead-lettered with what the
# store stated; the object beside it in the batch is indexed
odd=$(unique_bucket odd)
start_odd_store '{"Content-Length": "9000000000000000000", "ETag": "\"odd\""}' "$work/odd.log"
for obj in big.bin:10485760 small.txt:15; do
    printf '{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"%s"},"object":{"key":"%s","size":%s,"sequencer":"01"}}}]}' \
        "$odd" "${obj%:*}" "${obj#*:}" | "$ITEST_BIN/kafka_tool" produce "$AW_KAFKA_TOPIC" "odd-$run_id"
done
AWS_ACCESS_KEY_ID= AWS_SECRET_ACCESS_KEY= timeout 60 "$AW_BIN" ingest --group "$group" --drain \
    --s3-endpoint "$odd_url" >"$work/odd-ingest.log" 2>&1 ||
    fail "ingest did not drain past the odd store: $(tail -3 "$work/odd-ingest.log")"
dl=$(dead_letters "\"odd-$run_id\"")
expect_eq "dead letters from the odd store" 1 "$(printf '%s\n' "$dl" | grep -c .)"
expect_contains "its reason" "$(header "$dl" aw-error)" \
    "the store stated a size of 9000000000000000000 bytes"
expect_eq "the object beside it" "$(printf 'odd store body\n' | sha256sum | cut -d' ' -f1)" \
    "$(sql -c "SELECT sha256 FROM aw.objects WHERE bucket = '$odd' AND key = 'small.txt'")"
done_ok
