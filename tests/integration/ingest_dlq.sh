#!/usr/bin/env bash
# Dead letters for what cannot be indexed, while the rest goes on:
#  - objects the store keeps failing (HTTP 503 after every retry) go to the
#    dead-letter topic with code AW_EHTTP, and the drain still finishes;
#  - a field that could never be indexed (a 3000-character sequencer) is
#    refused where it enters, with code AW_EINVALID;
#  - a message PostgreSQL rejects for its data (a trigger raising a data
#    exception) goes there with code AW_EPG, and the good messages of its
#    batch are indexed;
#  - a dead letter bigger than the dead-letter topic allows is cut, says so,
#    and never holds the partition.
source "$(dirname "$0")/lib.sh"
require_stack

run_id=$(date +%s)-$RANDOM
work=$(mktemp -d)
trap '[[ -n ${srv:-} ]] && kill "$srv" 2>/dev/null; rm -rf "$work"' EXIT
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

# --- a field no store sends and PostgreSQL could not index is refused where
# it enters: a 3000-character sequencer is dead-lettered as invalid, the good
# messages around it are indexed
b2=$(unique_bucket invalid)
long=$(head -c 1500 /dev/urandom | od -An -tx1 | tr -d ' \n')  # 3000 hex digits
event "$b2" good-1.txt ObjectRemoved:Delete 00B1 | "$ITEST_BIN/kafka_tool" produce "$AW_KAFKA_TOPIC"
event "$b2" bad.txt ObjectRemoved:Delete "$long" | "$ITEST_BIN/kafka_tool" produce "$AW_KAFKA_TOPIC"
event "$b2" good-2.txt ObjectRemoved:Delete 00B3 | "$ITEST_BIN/kafka_tool" produce "$AW_KAFKA_TOPIC"
"$AW_BIN" ingest --group "$group" --drain --log-level error
expect_eq "good messages around the invalid one" "good-1.txt,good-2.txt" \
    "$(sql -c "SELECT string_agg(key, ',' ORDER BY key) FROM aw.objects WHERE bucket = '$b2'")"
dl=$(dead_letters "$b2")
expect_eq "dead letters for the invalid message" 1 "$(printf '%s\n' "$dl" | grep -c .)"
expect_eq "dead letter code" "AW_EINVALID" "$(header "$dl" aw-error-code)"
expect_contains "dead letter reason" "$(header "$dl" aw-error)" "sequencer"

# --- one message PostgreSQL rejects for its data (a real trigger raising a
# data exception for one key), in a batch with good ones: only that message
# is dead-lettered, with the server's words
b3=$(unique_bucket pgreject)
psql -X -q -v ON_ERROR_STOP=1 <<SQL
CREATE FUNCTION pg_temp_reject_$$() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN
  IF NEW.bucket = '$b3' AND NEW.key = 'bad.txt' THEN
    RAISE EXCEPTION 'value rejected for the test' USING ERRCODE = '22023';
  END IF;
  RETURN NEW;
END \$\$;
CREATE TRIGGER reject_$$ BEFORE INSERT ON aw.object_versions
  FOR EACH ROW EXECUTE FUNCTION pg_temp_reject_$$();
SQL
trap 'psql -X -q -c "DROP TRIGGER IF EXISTS reject_$$ ON aw.object_versions; DROP FUNCTION IF EXISTS pg_temp_reject_$$()" >/dev/null 2>&1; [[ -n ${srv:-} ]] && kill "$srv" 2>/dev/null; rm -rf "$work"' EXIT
event "$b3" good-1.txt ObjectRemoved:Delete 00C1 | "$ITEST_BIN/kafka_tool" produce "$AW_KAFKA_TOPIC"
event "$b3" bad.txt ObjectRemoved:Delete 00C2 | "$ITEST_BIN/kafka_tool" produce "$AW_KAFKA_TOPIC"
event "$b3" good-2.txt ObjectRemoved:Delete 00C3 | "$ITEST_BIN/kafka_tool" produce "$AW_KAFKA_TOPIC"
"$AW_BIN" ingest --group "$group" --drain --log-level error
psql -X -q -c "DROP TRIGGER reject_$$ ON aw.object_versions; DROP FUNCTION pg_temp_reject_$$()"
expect_eq "good messages of the rejected batch" "good-1.txt,good-2.txt" \
    "$(sql -c "SELECT string_agg(key, ',' ORDER BY key) FROM aw.objects WHERE bucket = '$b3'")"
dl=$(dead_letters "$b3")
expect_eq "dead letters for the rejected message" 1 "$(printf '%s\n' "$dl" | grep -c .)"
expect_eq "dead letter code" "AW_EPG" "$(header "$dl" aw-error-code)"
expect_contains "dead letter reason" "$(header "$dl" aw-error)" "value rejected for the test"

# --- a dead letter bigger than the dead-letter topic takes: its payload is
# cut (the header says from how much), key and headers are kept, and ingest
# moves on instead of retrying it forever
src=aw.test.bigdlq-$run_id
small=aw.test.smalldlq-$run_id
"$ITEST_BIN/kafka_tool" create-topic "$src" 1
"$ITEST_BIN/kafka_tool" create-topic "$small" 1 max.message.bytes=4096
head -c 30000 /dev/urandom | base64 -w0 | head -c 40000 >"$work/big"
"$ITEST_BIN/kafka_tool" produce "$src" big-$run_id <"$work/big"
printf '{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","eventName":"ObjectRemoved:Delete","s3":{"bucket":{"name":"%s"},"object":{"key":"after-big.txt","sequencer":"01"}}}]}' "$b3" |
    "$ITEST_BIN/kafka_tool" produce "$src"
timeout 60 "$AW_BIN" ingest --topic "$src" --dlq-topic "$small" --group "$group" --drain \
    --log-level error || fail "ingest did not drain a topic whose dead letter is too big"
dl=$("$ITEST_BIN/kafka_tool" dump "$small")
expect_eq "dead letters in the small topic" 1 "$(printf '%s\n' "$dl" | grep -c .)"
expect_eq "dead letter key kept" "big-$run_id" "$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["key"])' "$dl")"
expect_eq "dead letter says how long the payload was" 40000 "$(header "$dl" aw-payload-truncated)"
expect_eq "dead letter code" "AW_EPARSE" "$(header "$dl" aw-error-code)"
expect_eq "dead letter payload is the start of the original" \
    "$(head -c 1024 "$work/big")" "$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["value"])' "$dl")"
expect_eq "the message after it is indexed" 1 \
    "$(sql -c "SELECT count(*) FROM aw.objects WHERE bucket = '$b3' AND key = 'after-big.txt'")"
done_ok
