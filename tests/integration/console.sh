#!/usr/bin/env bash
# The web console on the real stack (PostgreSQL, Kafka, versitygw; uploads
# with the AWS CLI), then in a real browser (Debian's Chromium driven by
# Playwright for Python, tests/integration/console_browser.py):
#  - a pipeline's artifacts, two files with hostile names in its lineage,
#    bytes rotted on the store's disk (a scrub alert with a blast radius) and
#    a retention run are what the pages show;
#  - with --token-file every request but /healthz needs the token (401);
#    an address other than loopback without a token exits 2 unless
#    --insecure-no-auth; GET and HEAD only;
#  - every page answers as HTML and as JSON under /api/v1/, with a strict
#    Content-Security-Policy and nosniff; bad parameters are a 400 that says
#    which; a page of something that does not exist is a 404;
#  - in the browser: each page loads, a lineage node links to its object
#    page, an alert shows its blast radius as a list and as a graph, the
#    hostile names render as text (no element made, no script run), and a
#    browser without the token gets 401. Screenshots go to
#    $AW_TEST_OUTPUT/console (default build/test-output/console).
source "$(dirname "$0")/lib.sh"
require_stack
python3 -c 'import playwright' 2>/dev/null || fail "Playwright for Python is missing: scripts/bootstrap installs it"
[[ -x /usr/bin/chromium ]] || fail "Debian's chromium is missing: scripts/bootstrap installs it"

run_id=$(date +%s)-$RANDOM
work=$(mktemp -d)
trap '[[ -n ${cpid:-} ]] && kill "$cpid" 2>/dev/null; rm -rf "$work"; true' EXIT
export AW_POLICY_LAG_CHECK=false
group=console-$run_id
"$AW_BIN" ingest --group "$group" --drain --log-level error
out_dir=${AW_TEST_OUTPUT:-$(cd "$(dirname "$AW_BIN")" && pwd)/test-output}/console
mkdir -p "$out_dir"

# --- a pipeline, hostile names in its lineage, rot, a retention run
b=$(unique_bucket console)
s3api create-bucket --bucket "$b" >/dev/null
src=$work/src
mkdir -p "$src/datasets/raw" "$src/features/churn/v2" "$src/artifacts/churn-model/v1.0.0" \
    "$src/hostile" "$src/tmp"
echo "customer_id,churned $run_id" >"$src/datasets/raw/customers.csv"
raw_sum=$(sha256sum "$src/datasets/raw/customers.csv" | cut -d' ' -f1)
echo "features $run_id" >"$src/features/churn/v2/features.parquet"
feat_sum=$(sha256sum "$src/features/churn/v2/features.parquet" | cut -d' ' -f1)
printf '{"created_from":{"data_path":"s3://%s/datasets/raw/customers.csv","data_checksum":"%s","training_run_id":"features-%s"}}' \
    "$b" "$raw_sum" "$run_id" >"$src/features/churn/v2/metadata.json"
echo "model $run_id" >"$src/artifacts/churn-model/v1.0.0/model.joblib"
printf '{"created_from":{"data_path":"s3://%s/features/churn/v2/features.parquet","data_checksum":"%s","code_commit":"4f2a9c1"}}' \
    "$b" "$feat_sum" >"$src/artifacts/churn-model/v1.0.0/metadata.json"
hostile1='<img src=x onerror=alert(1)>.bin'
hostile2=$'q"uo\'te <svg onload=alert(2)>.bin'
echo "one $run_id" >"$src/hostile/$hostile1"
echo "two $run_id" >"$src/hostile/$hostile2"
printf '{"created_from":{"data_path":"s3://%s/datasets/raw/customers.csv"}}' "$b" \
    >"$src/hostile/metadata.json"
echo "scratch $run_id" >"$src/tmp/scratch.bin"
aws s3 cp --only-show-errors --recursive "$src" "s3://$b/"
"$ITEST_BIN/kafka_events" --bucket "$b" --min 9 --timeout 60 >/dev/null
"$AW_BIN" ingest --group "$group" --drain --log-level error
expect_eq "indexed" 9 "$(rows "$b")"
# rot on versitygw's disk: scrub finds it, the alert names what was made from it
python3 - "$AW_STACK_DIR/s3/data/$b/datasets/raw/customers.csv" <<'PY'
import sys
with open(sys.argv[1], "r+b") as f:
    data = bytearray(f.read()); data[0] ^= 0x20; f.seek(0); f.write(data)
PY
"$AW_BIN" scrub --once --all --bucket "$b" --log-level error >/dev/null 2>&1 || true
alert=$(sql -c "SELECT id FROM aw.alerts WHERE bucket = '$b' AND kind = 'checksum_mismatch' AND state = 'open'")
[[ -n $alert ]] || fail "scrub opened no alert for the rotted file"
cat >"$work/rules.yaml" <<EOF
version: 1
limits: {max_delete_fraction: 0.5}
rules:
  - name: scratch
    match: {bucket: $b, prefix: tmp/}
    expire_after: 1s
EOF
sleep 2
"$AW_BIN" policy apply --rules "$work/rules.yaml" --log-level error >"$work/apply.out" 2>&1 ||
    fail "policy apply: $(cat "$work/apply.out")"
run=$(sql -c "SELECT max(run_id) FROM aw.retention_actions WHERE bucket = '$b' AND result = 'deleted'")
plan=$(sql -c "SELECT plan_id FROM aw.retention_runs WHERE id = $run")
[[ -n $run && -n $plan ]] || fail "the retention run deleted nothing"

# --- the command's refusals
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
rc=0
out=$("$AW_BIN" console --addr "0.0.0.0:$(port)" 2>&1) || rc=$?
expect_eq "another address than loopback without a token" 2 "$rc"
expect_contains "says why" "$out" "give --token-file, or --insecure-no-auth"
rc=0
out=$("$AW_BIN" console --addr "localhost:80" 2>&1) || rc=$?
expect_eq "not a numeric address" 2 "$rc"
rc=0
out=$(timeout 10 "$AW_BIN" console --insecure-no-auth --addr "$(printf '1%.0s' {1..140}):$(port)" 2>&1) || rc=$?
expect_eq "a host too long to be an address is refused, not taken for any address" 2 "$rc"
printf 'short\n' >"$work/short"
rc=0
out=$("$AW_BIN" console --token-file "$work/short" 2>&1) || rc=$?
expect_eq "a short token" 2 "$rc"
expect_contains "says what a token must be" "$out" "16 to"

# --- the console, with a token
token=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
printf '%s\n' "$token" >"$work/token"
p=$(port)
"$AW_BIN" console --addr "127.0.0.1:$p" --token-file "$work/token" --log-level warn \
    >"$work/console.log" 2>&1 &
cpid=$!
base=http://127.0.0.1:$p
wait_for "the console answering" 30 "curl -sf $base/healthz >/dev/null"
get() { curl -s -o "$work/body" -w '%{http_code}' -H "Authorization: Bearer $token" "$base$1"; }
expect_eq "no token: 401" 401 "$(curl -s -o /dev/null -w '%{http_code}' "$base/")"
expect_eq "a wrong token: 401" 401 "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer x$token" "$base/")"
expect_eq "/healthz needs none" 200 "$(curl -s -o /dev/null -w '%{http_code}' "$base/healthz")"
expect_eq "POST is refused" 405 "$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $token" "$base/")"
expect_contains "with nosniff too" "$(curl -s -D - -o /dev/null -X POST "$base/")" "X-Content-Type-Options: nosniff"
headers=$(curl -s -D - -o /dev/null -H "Authorization: Bearer $token" "$base/")
expect_contains "CSP" "$headers" "Content-Security-Policy: default-src 'none'; style-src 'self'"
expect_contains "nosniff" "$headers" "X-Content-Type-Options: nosniff"
[[ $headers != *Set-Cookie* ]] || fail "the console set a cookie"
CHECKS=$((CHECKS + 1))
model_uri="s3://$b/artifacts/churn-model/v1.0.0/model.joblib"
raw_uri="s3://$b/datasets/raw/customers.csv"
q() { python3 -c 'import sys, urllib.parse as u; print(u.quote(sys.argv[1], safe=""))' "$1"; }
for page in "/" "/search?q=&bucket=$b" "/object?uri=$(q "$model_uri")" \
    "/lineage?uri=$(q "$model_uri")&dir=up" "/lineage?uri=$(q "$raw_uri")&dir=down&depth=3" \
    "/alerts" "/alerts?state=all" "/alert?id=$alert" "/retention" "/plan?id=$plan" "/run?id=$run"; do
    expect_eq "HTML $page" 200 "$(get "$page")"
    api=/api/v1/${page#/}
    [[ $page == / ]] && api=/api/v1/summary
    [[ $page == /\?* ]] && api=/api/v1/summary
    expect_eq "JSON $api" 200 "$(get "$api")"
    python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$work/body" ||
        fail "$api is not JSON: $(head -c 300 "$work/body")"
done
# the graph alone is an SVG document of its own: well-formed XML, the hostile
# names in its labels escaped, each node's link whole
for g in "/graph.svg?uri=$(q "$model_uri")&dir=up" "/graph.svg?uri=$(q "$raw_uri")&dir=down&depth=3"; do
    expect_eq "SVG $g" 200 "$(get "$g")"
    links=$(python3 -c '
import sys, urllib.parse as u, xml.etree.ElementTree as ET
hrefs = [a.get("{http://www.w3.org/1999/xlink}href") for a in ET.parse(sys.argv[1]).iter("{http://www.w3.org/2000/svg}a")]
print(sum(1 for h in hrefs if h and "store" in u.parse_qs(u.urlsplit(h).query)))' "$work/body") ||
        fail "$g is not well-formed XML: $(head -c 300 "$work/body")"
    [[ $links -ge 2 ]] || fail "$g: nodes without a whole link ($links)"
    CHECKS=$((CHECKS + 1))
done
# the documents say what the pages show
get "/api/v1/lineage?uri=$(q "$model_uri")&dir=up" >/dev/null
expect_eq "the model's lineage reaches the raw data" 1 \
    "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(int(any(n["uri"].endswith("/datasets/raw/customers.csv") for n in d["nodes"])))' "$work/body")"
get "/api/v1/alert?id=$alert" >/dev/null
expect_eq "the alert's blast radius holds the model" 1 \
    "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(int(any(n["uri"].endswith("model.joblib") for n in d["downstream"]["nodes"])))' "$work/body")"
get "/api/v1/search?q=$(q "${raw_sum:0:12}")" >/dev/null
expect_contains "search by a SHA-256 prefix" "$(cat "$work/body")" '"kind": "sha256"'
expect_contains "finds the version" "$(cat "$work/body")" "customers.csv"
expect_eq "a depth out of range" 400 "$(get "/lineage?uri=$(q "$model_uri")&depth=99")"
expect_contains "says which" "$(cat "$work/body")" "depth must be a whole number from 1 to 30"
expect_eq "not a URI" 400 "$(get "/api/v1/object?uri=nope")"
expect_eq "a bad time" 400 "$(get "/api/v1/lineage?uri=$(q "$model_uri")&as_of=yesterday-ish")"
expect_eq "an alert that does not exist" 404 "$(get "/alert?id=999999999")"
expect_eq "a page that does not exist" 404 "$(get "/nope")"
# hostile names are text in the HTML, never markup
get "/search?q=&bucket=$b" >/dev/null
expect_contains "escaped" "$(cat "$work/body")" "&lt;img src=x onerror=alert(1)&gt;.bin"
[[ $(cat "$work/body") != *"<img src=x"* ]] || fail "a hostile key reached the HTML as markup"
CHECKS=$((CHECKS + 1))

# --- in the browser
python3 "$(dirname "$0")/console_browser.py" --base "$base" --token "$token" --bucket "$b" \
    --alert "$alert" --plan "$plan" --run "$run" --out "$out_dir" ||
    fail "the browser test failed (above)"
CHECKS=$((CHECKS + 1))
echo "console.sh: screenshots in $out_dir: $(cd "$out_dir" && ls ./*.png | tr '\n' ' ')"
kill -TERM "$cpid"
expect_status "the console stops on SIGTERM" 0 wait "$cpid"
cpid=
done_ok
