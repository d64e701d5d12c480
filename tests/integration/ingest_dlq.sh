#!/usr/bin/env bash
# Dead letters for what cannot be indexed, while the rest goes on:
#  - objects the store keeps failing (HTTP 503 after every retry) go to the
#    dead-letter topic with code AW_EHTTP, and the drain still finishes;
#  - a message PostgreSQL rejects (here: a sequencer too long for an index
#    row) goes there with code AW_EPG, and the good messages of its batch
#    are indexed.
source "$(dirname "$0")/lib.sh"
require_stack

run_id=$(date +%s)-$RANDOM
work=$(mktemp -d)
trap '[[ -n ${srv:-} ]] && kill "$srv" 2>/dev/null; rm -rf "$work"' EXIT
sql() { psql -X -At -v ON_ERROR_STOP=1 "$@"; }
event() { # bucket key name sequencer
    printf '{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","eventTime":"2026-01-01T00:00:00Z","eventName":"%s","s3":{"bucket":{"name":"%s"},"object":{"key":"%s","size":1,"sequencer":"%s"}}}]}' \
        "$3" "$1" "$2" "$4"
}
dead_letters() { # bucket: the dead letters whose payload names it
    "$ITEST_BIN/kafka_tool" dump "$AW_KAFKA_DLQ_TOPIC" | grep -F "$1" || true
}
header() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])["headers"][sys.argv[2]])' "$1" "$2"; }

# skip what earlier tests left on the topic
group=dlq-$run_id
"$AW_BIN" ingest --group "$group" --drain --log-level error

# --- a store that answers 503 to everything
b1=$(unique_bucket http503)
for i in 1 2; do event "$b1" "obj-$i" ObjectCreated:Put "00A$i" | "$ITEST_BIN/kafka_tool" produce "$AW_KAFKA_TOPIC"; done
python3 -c '
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(503); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *a): pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True); s.serve_forever()' >"$work/port" &
srv=$!
for _ in $(seq 1 50); do [[ -s $work/port ]] && break; sleep 0.1; done
"$AW_BIN" ingest --group "$group" --drain --log-level error --fetch-retries 2 \
    --s3-endpoint "http://127.0.0.1:$(cat "$work/port")" >/dev/null 2>&1
kill "$srv"
srv=
dl=$(dead_letters "$b1")
expect_eq "dead letters for the objects that kept failing" 2 "$(printf '%s\n' "$dl" | grep -c .)"
first=$(printf '%s\n' "$dl" | head -n 1)
expect_eq "dead letter code" "AW_EHTTP" "$(header "$first" aw-error-code)"
expect_contains "dead letter reason" "$(header "$first" aw-error)" "failed after 3 attempt(s): HTTP 503"
expect_eq "rows for objects that were never read" 0 "$(sql -c "SELECT count(*) FROM aw.objects WHERE bucket = '$b1'")"

# --- one message PostgreSQL rejects, in a batch with good ones
b2=$(unique_bucket pgreject)
long=$(head -c 1500 /dev/urandom | od -An -tx1 | tr -d ' \n')  # 3000 hex digits that do not compress
event "$b2" good-1.txt ObjectRemoved:Delete 00B1 | "$ITEST_BIN/kafka_tool" produce "$AW_KAFKA_TOPIC"
event "$b2" bad.txt ObjectRemoved:Delete "$long" | "$ITEST_BIN/kafka_tool" produce "$AW_KAFKA_TOPIC"
event "$b2" good-2.txt ObjectRemoved:Delete 00B3 | "$ITEST_BIN/kafka_tool" produce "$AW_KAFKA_TOPIC"
"$AW_BIN" ingest --group "$group" --drain --log-level error
expect_eq "good messages of the rejected batch" "good-1.txt,good-2.txt" \
    "$(sql -c "SELECT string_agg(key, ',' ORDER BY key) FROM aw.objects WHERE bucket = '$b2'")"
dl=$(dead_letters "$b2")
expect_eq "dead letters for the rejected message" 1 "$(printf '%s\n' "$dl" | grep -c .)"
expect_eq "dead letter code" "AW_EPG" "$(header "$dl" aw-error-code)"
expect_contains "dead letter reason" "$(header "$dl" aw-error)" "index row"
done_ok
