#!/usr/bin/env bash
# Alerts and verify on the real stack (PostgreSQL, Kafka, versitygw) and a
# real Alertmanager (v0.27.0, started here on a free port):
#  - alerts list and show (JSON, table, DOT) with the blast radius;
#  - alerts push --alerts-topic: the same documents on a Kafka topic, keyed by
#    alert id (open, then resolved); a broker away is exit 1, a refused -X 2;
#  - alerts push: Alertmanager's own GET /api/v2/alerts shows the open alert
#    with its labels and annotations; the pusher wakes on NOTIFY aw_alerts
#    when restored bytes resolve it, and Alertmanager drops it;
#  - verify: exit 0 for a good object, 1 with the finding for an alerted,
#    re-read, unexpected or unknown one, 2 for a bad URI.
source "$(dirname "$0")/lib.sh"
require_stack

gobin=$(go env GOBIN 2>/dev/null || true)
[[ -n $gobin ]] || gobin=$(go env GOPATH 2>/dev/null)/bin
am_bin=${AW_ALERTMANAGER:-$gobin/alertmanager}
[[ -x $am_bin ]] || fail "alertmanager not found at $am_bin: scripts/bootstrap installs it"
run_id=$(date +%s)-$RANDOM
work=$(mktemp -d)
trap '[[ -n ${am_pid:-} ]] && kill "$am_pid" 2>/dev/null; [[ -n ${push_pid:-} ]] && kill "$push_pid" 2>/dev/null; rm -rf "$work"; true' EXIT
group=alerts-$run_id
"$AW_BIN" ingest --group "$group" --drain --log-level error
drain() { "$AW_BIN" ingest --group "$group" --drain --log-level error; }

b=$(unique_bucket alerts)
s3api create-bucket --bucket "$b" >/dev/null
disk=$AW_STACK_DIR/s3/data/$b
echo "training rows $run_id" >"$work/train.csv"
sum=$(sha256sum "$work/train.csv" | cut -d' ' -f1)
echo "model $run_id" >"$work/model.joblib"
aws s3 cp --only-show-errors "$work/train.csv" "s3://$b/data/train.csv"
aws s3 cp --only-show-errors "$work/model.joblib" "s3://$b/models/churn/v1/model.joblib"
printf '{"created_from":{"data_path":"s3://%s/data/train.csv","data_checksum":"%s"}}' "$b" "$sum" |
    aws s3 cp --only-show-errors - "s3://$b/models/churn/v1/metadata.json"
"$ITEST_BIN/kafka_events" --bucket "$b" --min 3 --timeout 60 >/dev/null
drain

# --- verify on good objects
expect_status "verify a good object" 0 "$AW_BIN" verify "s3://$b/data/train.csv" "s3://$b/models/churn/v1/model.joblib"
expect_status "verify --fetch --expect" 0 "$AW_BIN" verify --fetch --expect "$sum" "s3://$b/data/train.csv"
rc=0
out=$("$AW_BIN" verify --expect "$(printf 'x' | sha256sum | cut -d' ' -f1)" "s3://$b/data/train.csv") || rc=$?
expect_eq "verify --expect other bytes" 1 "$rc"
expect_contains "says what was expected" "$out" "--expect $(printf 'x' | sha256sum | cut -d' ' -f1), recorded $sum"
rc=0
out=$("$AW_BIN" verify "s3://$b/nothing/here.bin") || rc=$?
expect_eq "verify an unknown key" 1 "$rc"
expect_contains "not indexed" "$out" "not indexed"
expect_status "verify a bad URI" 2 "$AW_BIN" verify "http://$b/x"

# --- rot the data behind the server's back; scrub opens the alert
python3 - "$disk/data/train.csv" <<'PY'
import sys
with open(sys.argv[1], "r+b") as f:
    b = bytearray(f.read()); b[0] ^= 0x20; f.seek(0); f.write(b)
PY
"$AW_BIN" scrub --once --all --bucket "$b" --log-level error
id=$(sql -c "SELECT id FROM aw.alerts WHERE bucket = '$b' AND kind = 'checksum_mismatch'")
[[ -n $id ]] || fail "no checksum_mismatch alert"
rc=0
out=$("$AW_BIN" verify --format json "s3://$b/data/train.csv") || rc=$?
expect_eq "verify an alerted object" 1 "$rc"
expect_eq "its finding" "False|open alert: checksum_mismatch" \
    "$(python3 -c 'import json,sys; v=json.load(sys.stdin)[0]; print("%s|%s" % (v["ok"], v["finding"]))' <<<"$out")"
rc=0
out=$("$AW_BIN" verify --fetch "s3://$b/data/train.csv") || rc=$?
expect_contains "verify --fetch re-reads the rotted bytes" "$out" "the bytes read now hash to $(sql -c "SELECT actual FROM aw.alerts WHERE id = $id")"

# --- list and show
listed=$("$AW_BIN" alerts list --format json)
expect_eq "list: the open alert with its blast radius" "checksum_mismatch|open|1|s3://$b/models/churn/v1/model.joblib" \
    "$(python3 -c '
import json, sys
for a in json.load(sys.stdin):
    if a["id"] == int(sys.argv[1]):
        print("%s|%s|%d|%s" % (a["kind"], a["state"], a["blast_radius"], a["blast_uris"][0]))' "$id" <<<"$listed")"
expect_eq "list --state resolved leaves it out" "" \
    "$("$AW_BIN" alerts list --state resolved --format json | python3 -c 'import json,sys; print("".join(str(a["id"]) for a in json.load(sys.stdin) if a["id"] == int(sys.argv[1])))' "$id")"
shown=$("$AW_BIN" alerts show "$id" --format json)
expect_eq "show: the downstream walk" "s3://$b/models/churn/v1/model.joblib" \
    "$(python3 -c 'import json,sys; print(" ".join(n["uri"] for n in json.load(sys.stdin)["downstream"] if n["depth"] > 0))' <<<"$shown")"
expect_contains "show --format dot" "$("$AW_BIN" alerts show "$id" --format dot)" \
    "\"s3://$b/data/train.csv\" -> \"s3://$b/models/churn/v1/model.joblib\""
expect_contains "show as a table" "$("$AW_BIN" alerts show "$id")" "blast_radius       1"
expect_status "show an unknown id" 1 "$AW_BIN" alerts show 999999999
expect_status "alerts without a verb" 2 "$AW_BIN" alerts
expect_status "push without a URL or a topic" 2 "$AW_BIN" alerts push --once

# --- an Alertmanager that is away: exit 1, naming it; a database away: exit 1
free_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
rc=0
out=$("$AW_BIN" alerts push --alertmanager-url "http://127.0.0.1:$free_port" --once 2>&1) || rc=$?
expect_eq "push to nothing" 1 "$rc"
expect_contains "names the URL" "$out" "POST http://127.0.0.1:$free_port/api/v2/alerts"
expect_status "a URL that is not http" 2 "$AW_BIN" alerts push --alertmanager-url "ftp://x" --once
rc=0
out=$("$AW_BIN" verify --pg "postgresql://aw@127.0.0.1:$free_port/aw" "s3://$b/data/train.csv" 2>&1) || rc=$?
expect_eq "verify with PostgreSQL away" 1 "$rc"
expect_contains "names PostgreSQL" "$out" "PostgreSQL"
# keys are data: spaces, unicode and %2F in a URI are a key like any other
rc=0
out=$("$AW_BIN" verify "s3://$b/a b/caf"$'\xc3\xa9'"%2Fx.bin" 2>&1) || rc=$?
expect_eq "verify an odd key that is not indexed" 1 "$rc"
expect_contains "not indexed" "$out" "not indexed"

# --- the same alert documents to a Kafka topic, keyed by alert id
atopic=aw.alerts.$run_id
"$ITEST_BIN/kafka_tool" create-topic "$atopic" 1
on_topic() { # the alert's messages on the topic: count|alertname|severity|uri|radius|endsAt of the last
    "$ITEST_BIN/kafka_tool" dump "$atopic" | python3 -c '
import json, sys
docs = [json.loads(m["value"]) for m in map(json.loads, sys.stdin) if m["key"] == sys.argv[1]]
if docs:
    d = docs[-1]
    print("%d|%s|%s|%s|%s|%s" % (len(docs), d["labels"]["alertname"], d["labels"]["severity"],
          d["labels"]["uri"], d["annotations"]["blast_radius"], d["endsAt"]))' "$id"
}
"$AW_BIN" alerts push --alerts-topic "$atopic" --once --log-level error
got=$(on_topic)
expect_eq "the open alert on the topic, keyed by its id" \
    "1|ArtifactChecksumMismatch|critical|s3://$b/data/train.csv|1" "${got%|*}"
rc=0
out=$("$AW_BIN" alerts push --alerts-topic "$atopic" --brokers "127.0.0.1:$free_port" \
    -X message.timeout.ms=2000 --once 2>&1) || rc=$?
expect_eq "push to a broker that is away" 1 "$rc"
expect_contains "says the alerts were not delivered" "$out" "Kafka topic $atopic:"
expect_status "a producer property librdkafka refuses" 2 "$AW_BIN" alerts push \
    --alerts-topic "$atopic" -X acks=sometimes --once

# --- a real Alertmanager
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$work/am.yml" <<'EOF'
route:
  receiver: "null"
receivers:
  - name: "null"
EOF
"$am_bin" --config.file="$work/am.yml" --storage.path="$work/am" \
    --web.listen-address="127.0.0.1:$port" --cluster.listen-address="" >"$work/am.log" 2>&1 &
am_pid=$!
am=http://127.0.0.1:$port
wait_for "Alertmanager ready" 30 "curl -sf $am/-/ready >/dev/null"
am_alert() { # the alert for our uri in Alertmanager's active list, as label|annotation values
    curl -sf "$am/api/v2/alerts" | python3 -c '
import json, sys
for a in json.load(sys.stdin):
    if a["labels"].get("uri") == sys.argv[1] and a["labels"].get("kind") == "checksum_mismatch":
        l, n = a["labels"], a["annotations"]
        print("%s|%s|%s|%s|%s|%s" % (l["alertname"], l["severity"], l["bucket"], n["blast_radius"], n["blast_uris"], a["status"]["state"]))' "s3://$b/data/train.csv"
}
"$AW_BIN" alerts push --alertmanager-url "$am" --once --log-level error
expect_eq "Alertmanager shows the open alert" \
    "ArtifactChecksumMismatch|critical|$b|1|s3://$b/models/churn/v1/model.joblib|active" "$(am_alert)"
# the pusher keeps running; restored bytes resolve the alert and the NOTIFY wakes it
"$AW_BIN" alerts push --alertmanager-url "$am" --alerts-topic "$atopic" --resend 1h \
    >"$work/push.log" 2>&1 &
push_pid=$!
sleep 1
printf 'training rows %s\n' "$run_id" >"$disk/data/train.csv"
"$AW_BIN" scrub --once --all --bucket "$b" --log-level error
expect_eq "resolved in the database" "resolved" "$(sql -c "SELECT state FROM aw.alerts WHERE id = $id")"
wait_for "Alertmanager drops the resolved alert (woken by NOTIFY, not the 1h timer)" 20 '[[ -z $(am_alert) ]]'
resolved_at=$(sql -c "SELECT to_char(resolved_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM aw.alerts WHERE id = $id")
wait_for "the topic has the resolution too (endsAt = its resolution)" 20 \
    '[[ $(on_topic) == *"|$resolved_at" ]]'
expect_status "verify after restoring" 0 "$AW_BIN" verify --fetch "s3://$b/data/train.csv"

done_ok
