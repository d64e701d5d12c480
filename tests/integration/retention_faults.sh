#!/usr/bin/env bash
# Retention under the faults real stores and clusters produce, on the real
# stack with a fault proxy (faultproxy.py) between artifact-watch and
# versitygw:
#  - a partial run: a model and its training data both planned, the model's
#    DELETE fails (503) -> the data is skipped_protected, naming the model;
#  - a killed apply (SIGKILL while DELETEs are in flight): every object gone
#    from the store has an audit row (pending), `policy status` lists them,
#    and the next apply resolves each against the store;
#  - one apply at a time: a second exits 1 naming the holder;
#  - a saved plan applies once, and not when older than --max-plan-age;
#  - a version promoted to a protected stage after the plan is
#    skipped_protected at apply time;
#  - a HEAD that shows neither ETag nor size is no match: skipped_changed;
#  - a versioned bucket whose newest version was learned from a listing (its
#    event lost): the index's current version is the store's, and a
#    noncurrent rule deletes the old version, never the live one;
#  - an apply while ingest is behind (a model uploaded a moment ago names its
#    training data in a sidecar the index has not read) deletes nothing;
#  - every DELETE carries If-Match with the ETag its HEAD showed.
source "$(dirname "$0")/lib.sh"
require_stack
# these runs drive ingest by hand (--drain) and apply between drains: the
# check that ingest has caught up (policy.lag_check) is shown in
# retention_faults.sh, and off here
export AW_POLICY_LAG_CHECK=false

run_id=$(date +%s)-$RANDOM
work=$(mktemp -d)
trap 'stop_proxy; [[ -n ${ap:-} ]] && kill -9 "$ap" 2>/dev/null; rm -rf "$work"; true' EXIT
group=retention-faults-$run_id
"$AW_BIN" ingest --group "$group" --drain --log-level error
drain() { "$AW_BIN" ingest --group "$group" --drain --log-level error; }
exists() { aws s3api head-object --bucket "$1" --key "$2" >/dev/null 2>&1 && echo yes || echo no; }
start_proxy "" "$work/proxy.log"
# artifact-watch goes through the proxy; the AWS CLI straight to the store
aw() { AWS_ENDPOINT_URL_S3=$proxy_url "$AW_BIN" "$@"; }
results() { # run: "result key" lines
    sql -c "SELECT result || ' ' || key FROM aw.retention_actions WHERE run_id = $1 ORDER BY key, id"
}
last_run() { sql -c "SELECT max(id) FROM aw.retention_runs WHERE mode = 'apply'"; }
expire_all() { # file buckets...: every object of the buckets expires after 1s
    local f=$1
    shift
    { echo "version: 1"; echo "limits: {max_delete_fraction: 1}"; echo "rules:"
      for b in "$@"; do
          printf '  - name: expire-%s\n    match: {bucket: "%s"}\n    expire_after: 1s\n' "${b%%-*}" "$b"
      done; } >"$f"
}

# --- a partial run: the model's DELETE fails, its training data stays
data=$(unique_bucket pdata)
reg=$(unique_bucket preg)
s3api create-bucket --bucket "$data" >/dev/null
s3api create-bucket --bucket "$reg" >/dev/null
echo "training rows $run_id" >"$work/train.csv"
sum=$(sha256sum "$work/train.csv" | cut -d' ' -f1)
echo "model $run_id" >"$work/model.joblib"
printf '{"created_from":{"data_path":"s3://%s/train.csv","data_checksum":"%s"}}' "$data" "$sum" \
    >"$work/metadata.json"
s3 cp "$work/train.csv" "s3://$data/train.csv"
s3 cp "$work/model.joblib" "s3://$reg/churn/v1/model.joblib"
s3 cp "$work/metadata.json" "s3://$reg/churn/v1/metadata.json"
"$ITEST_BIN/kafka_events" --bucket "$reg" --min 2 --timeout 60 >/dev/null
"$ITEST_BIN/kafka_events" --bucket "$data" --min 1 --timeout 60 >/dev/null
drain
sleep 2
expire_all "$work/partial.yaml" "$data" "$reg"
plan=$(aw policy plan --rules "$work/partial.yaml" --format csv)
expect_contains "both the model and its data are planned" "$plan" "delete,expire-pdata"
proxy_rules '[{"method": "DELETE", "key": "model\\.joblib$", "action": "status", "status": 503, "code": "SlowDown"}]'
rc=0
aw policy apply --rules "$work/partial.yaml" --fetch-retries 1 >/dev/null 2>"$work/partial.err" || rc=$?
expect_eq "exit status when a deletion failed" 1 "$rc"
run=$(last_run)
expect_eq "partial run: results" "deleted churn/v1/metadata.json
failed churn/v1/model.joblib
skipped_protected train.csv" "$(results "$run")"
expect_contains "the data's reason names the model whose deletion failed" \
    "$(sql -c "SELECT message FROM aw.retention_actions WHERE run_id = $run AND key = 'train.csv'")" \
    "lineage: input of s3://$reg/churn/v1/model.joblib, whose deletion did not go through (failed"
expect_eq "the training data and the model are still there" "yes yes" \
    "$(exists "$data" train.csv) $(exists "$reg" churn/v1/model.joblib)"
echo "partial run, as recorded:"
sql -c "SELECT result, key, message FROM aw.retention_actions WHERE run_id = $run ORDER BY id"
proxy_rules '[]'

# --- every DELETE carries If-Match with the ETag its HEAD showed
expect_eq "DELETEs without If-Match" "" \
    "$(proxy_log | python3 -c '
import json, sys
for l in sys.stdin:
    e = json.loads(l)
    if e["method"] == "DELETE" and not e["if_match"]:
        print(e["key"])')"

# --- a killed apply: every object gone has an audit row
kb=$(unique_bucket killed)
s3api create-bucket --bucket "$kb" >/dev/null
mkdir -p "$work/k"
for i in $(seq -w 1 24); do echo "object $i $run_id" >"$work/k/o$i"; done
s3 cp --recursive "$work/k" "s3://$kb/"
"$ITEST_BIN/kafka_events" --bucket "$kb" --min 24 --timeout 60 >/dev/null
drain
sleep 2
expire_all "$work/killed.yaml" "$kb"
proxy_clear
proxy_rules '[{"method": "DELETE", "action": "delay", "ms": 1500}]'
AWS_ENDPOINT_URL_S3=$proxy_url "$AW_BIN" policy apply --rules "$work/killed.yaml" --fetch-concurrency 4 \
    >/dev/null 2>"$work/killed.err" &
ap=$!
wait_for "DELETEs in flight" 60 '[[ $(proxy_log | grep -c "\"DELETE\"") -ge 6 ]]'
kill -9 "$ap"
wait "$ap" 2>/dev/null || true
ap=
killed_run=$(last_run)
sleep 2 # the proxy forwards what it held after its delay, as a store that got the request would act
gone=$(for i in $(seq -w 1 24); do if [[ $(exists "$kb" "o$i") == no ]]; then echo "o$i"; fi; done)
[[ -n $gone ]] || fail "the killed apply deleted nothing: the test did not kill it mid-run"
audited=$(sql -c "SELECT key FROM aw.retention_actions WHERE run_id = $killed_run ORDER BY key")
missing=$(comm -23 <(echo "$gone") <(echo "$audited"))
expect_eq "objects gone without an audit row" "" "$missing"
pending=$(sql -c "SELECT count(*) FROM aw.retention_actions WHERE run_id = $killed_run AND result = 'pending'")
((pending > 0)) || fail "a run killed with DELETEs in flight left no pending row"
status=$(aw policy status)
expect_eq "policy status lists the killed run's pending deletions" "$pending" \
    "$(grep -c "of run $killed_run:" <<<"$status" || true)"
expect_contains "policy status names the killed run" "$status" "killed"
echo "the killed run's audit:"
sql -c "SELECT result, count(*) FROM aw.retention_actions WHERE run_id = $killed_run GROUP BY 1 ORDER BY 1"
proxy_rules '[]'
# a pending row is resolved once no request of its run can still be on its way
# (the resolving apply's timeouts, retries and stop grace, and 5 s)
aw policy apply --rules "$work/killed.yaml" >/dev/null 2>"$work/early.err" || true
expect_eq "pending rows just after the kill stay pending" "$pending" \
    "$(sql -c "SELECT count(*) FROM aw.retention_actions WHERE run_id = $killed_run AND result = 'pending'")"
sleep 6
aw policy apply --rules "$work/killed.yaml" --fetch-timeout-ms 500 --fetch-retries 0 --stop-grace-ms 0 \
    >/dev/null 2>"$work/resolve.err" || fail "the apply after the kill failed: $(tail -3 "$work/resolve.err")"
expect_eq "the killed run's pending rows after the next apply" 0 \
    "$(sql -c "SELECT count(*) FROM aw.retention_actions WHERE run_id = $killed_run AND result = 'pending'")"
# each resolution agrees with the store
wrong=$(sql -c "SELECT key || ' ' || result FROM aw.retention_actions WHERE run_id = $killed_run
                 AND message LIKE 'resolved after%' ORDER BY key" | while read -r k r; do
    e=$(exists "$kb" "$k")
    # not_deleted then gone is right only when a later run deleted it
    later=$(sql -c "SELECT count(*) FROM aw.retention_actions WHERE bucket = '$kb' AND key = '$k'
                     AND result = 'deleted' AND run_id > $killed_run")
    if [[ ($r == deleted && $e == yes) || ($r == not_deleted && $e == no && $later == 0) ]]; then
        echo "$k $r $e"
    fi
done)
expect_eq "resolutions that disagree with the store" "" "$wrong"
expect_eq "every object of the bucket deleted in the end" 24 \
    "$(sql -c "SELECT count(DISTINCT key) FROM aw.retention_actions WHERE bucket = '$kb' AND result = 'deleted'")"

# --- one apply at a time; a plan applies once and not when stale
ob=$(unique_bucket once)
upload_n "$ob" 6
drain
sleep 2
expire_all "$work/once.yaml" "$ob"
id=$(aw policy plan --rules "$work/once.yaml" --save | sed -n 's/^plan \([0-9]*\) saved$/\1/p')
stale=$(aw policy plan --rules "$work/once.yaml" --save | sed -n 's/^plan \([0-9]*\) saved$/\1/p')
proxy_rules '[{"method": "DELETE", "action": "delay", "ms": 2000}]'
AWS_ENDPOINT_URL_S3=$proxy_url "$AW_BIN" policy apply --plan "$id" --rules "$work/once.yaml" \
    --fetch-concurrency 1 >/dev/null 2>&1 &
ap=$!
wait_for "the first apply to send a DELETE" 30 '[[ $(proxy_log | grep -c "\"bucket\": \"$ob\".*DELETE\|DELETE.*\"bucket\": \"$ob\"") -ge 1 ]]'
rc=0
out=$(aw policy apply --plan "$id" --rules "$work/once.yaml" 2>&1 >/dev/null) || rc=$?
expect_eq "exit status of a second apply while one runs" 1 "$rc"
expect_contains "the second apply names the holder" "$out" "another retention run holds the lock: \"artifact-watch policy"
wait "$ap" || fail "the first apply failed"
ap=
proxy_rules '[]'
rc=0
out=$(aw policy apply --plan "$id" --rules "$work/once.yaml" 2>&1 >/dev/null) || rc=$?
expect_eq "exit status of applying a plan again" 1 "$rc"
expect_contains "a plan applies once" "$out" "plan $id was applied by run"
sleep 2
rc=0
out=$(aw policy apply --plan "$stale" --rules "$work/once.yaml" --max-plan-age 1s 2>&1 >/dev/null) || rc=$?
expect_eq "exit status of a stale plan" 1 "$rc"
expect_contains "a stale plan is refused" "$out" "more than 1s ago (--max-plan-age)"
rc=0
out=$(aw policy apply --plan "$stale" 2>&1 >/dev/null) || rc=$?
expect_eq "exit status of apply --plan without --rules" 2 "$rc"

# --- promoted after the plan: protected at apply time
pb=$(unique_bucket promo)
s3api create-bucket --bucket "$pb" >/dev/null
for v in v1 v2 v3; do
    echo "model $v $run_id" >"$work/m.bin"
    printf '{"stage":"staging"}' >"$work/md.json"
    s3 cp "$work/m.bin" "s3://$pb/models/churn/$v/model.bin"
    s3 cp "$work/md.json" "s3://$pb/models/churn/$v/metadata.json"
done
"$ITEST_BIN/kafka_events" --bucket "$pb" --min 6 --timeout 60 >/dev/null
drain
cat >"$work/promo.yaml" <<EOF
version: 1
limits: {max_delete_fraction: 1}
rules:
  - name: production
    match: {bucket: "$pb", metadata: {stage: production}}
    protect: true
  - name: keep-1
    match: {bucket: "$pb", prefix: models/, artifact: churn}
    keep_last: 1
EOF
id=$(aw policy plan --rules "$work/promo.yaml" --save | sed -n 's/^plan \([0-9]*\) saved$/\1/p')
expect_eq "v1 and v2 planned for deletion" 4 \
    "$(sql -c "SELECT count(*) FROM aw.retention_plan_actions WHERE plan_id = $id AND action = 'delete'")"
printf '{"stage":"production"}' >"$work/md.json"
s3 cp "$work/md.json" "s3://$pb/models/churn/v1/metadata.json"
"$ITEST_BIN/kafka_events" --bucket "$pb" --min 7 --timeout 60 >/dev/null
drain
aw policy apply --plan "$id" --rules "$work/promo.yaml" >/dev/null 2>&1 || fail "the apply of the promotion plan failed"
run=$(last_run)
expect_eq "promotion: results" "skipped_changed models/churn/v1/metadata.json
skipped_protected models/churn/v1/model.bin
deleted models/churn/v2/metadata.json
deleted models/churn/v2/model.bin" \
    "$(sql -c "SELECT result || ' ' || key FROM aw.retention_actions WHERE run_id = $run ORDER BY key, id")"
expect_contains "the promoted model's reason" \
    "$(sql -c "SELECT message FROM aw.retention_actions WHERE run_id = $run AND key = 'models/churn/v1/model.bin'")" \
    "protected now: rule production"
expect_eq "the promoted model is still there" yes "$(exists "$pb" models/churn/v1/model.bin)"

# --- a HEAD with neither ETag nor size is no match
nb=$(unique_bucket nohead)
upload_n "$nb" 2
drain
sleep 2
expire_all "$work/nohead.yaml" "$nb"
proxy_rules '[{"method": "HEAD", "key": "o1\\.txt$", "action": "strip_size"}]'
aw policy apply --rules "$work/nohead.yaml" >/dev/null 2>&1 || fail "the apply failed"
run=$(last_run)
expect_eq "HEAD without ETag and size: results" "skipped_changed o1.txt
deleted o2.txt" "$(results "$run")"
expect_contains "why" "$(sql -c "SELECT message FROM aw.retention_actions WHERE run_id = $run AND key = 'o1.txt'")" \
    "neither an ETag nor a size"
expect_eq "o1.txt is still there" yes "$(exists "$nb" o1.txt)"
proxy_rules '[]'

# --- the live model, its event lost: the store decides what is current
lb=$(unique_bucket live)
s3api create-bucket --bucket "$lb" >/dev/null
s3api put-bucket-versioning --bucket "$lb" --versioning-configuration Status=Enabled
echo "model v1 $run_id" >"$work/live"
s3 cp "$work/live" "s3://$lb/models/model.bin"
"$ITEST_BIN/kafka_events" --bucket "$lb" --min 1 --timeout 60 >/dev/null
drain
echo "model v2, the live one $run_id" >"$work/live"
s3 cp "$work/live" "s3://$lb/models/model.bin"
"$ITEST_BIN/kafka_events" --bucket "$lb" --min 2 --timeout 60 >/dev/null
"$ITEST_BIN/kafka_tool" skip "$AW_KAFKA_TOPIC" "$group" # the group moves past its event
drain
live=$(aws s3api head-object --bucket "$lb" --key models/model.bin --query VersionId --output text)
expect_eq "versions indexed before the backfill" 1 "$(sql -c "SELECT count(*) FROM aw.objects WHERE bucket = '$lb'")"
aw backfill "s3://$lb" --log-level warn >/dev/null || fail "backfill of $lb failed"
expect_eq "the index's current version is the store's" "$live" \
    "$(sql -c "SELECT version_id FROM aw.object_versions WHERE id = aw.current_version('default', '$lb', 'models/model.bin')")"
sleep 2
printf 'version: 1\nlimits: {max_delete_fraction: 1}\nrules:\n  - name: noncurrent\n    match: {bucket: "%s"}\n    noncurrent_expire_after: 1s\n' \
    "$lb" >"$work/live.yaml"
aw policy apply --rules "$work/live.yaml" >/dev/null 2>&1 || fail "the noncurrent apply failed"
run=$(last_run)
expect_eq "the noncurrent rule deleted one version, not the live one" "deleted models/model.bin" "$(results "$run")"
expect_eq "the live version is still the store's current" "$live" \
    "$(aws s3api head-object --bucket "$lb" --key models/model.bin --query VersionId --output text)"
expect_eq "the deleted version is the old one" 1 \
    "$(sql -c "SELECT count(*) FROM aw.retention_actions WHERE run_id = $run AND version_id <> '$live'")"

# --- ingest behind: nothing is deleted until the index has caught up
ib=$(unique_bucket behind)
s3api create-bucket --bucket "$ib" >/dev/null
echo "rows $run_id" >"$work/rows.csv"
s3 cp "$work/rows.csv" "s3://$ib/data/rows.csv"
"$ITEST_BIN/kafka_events" --bucket "$ib" --min 1 --timeout 60 >/dev/null
drain
sleep 2
printf '{"created_from":{"data_path":"s3://%s/data/rows.csv"}}' "$ib" >"$work/md.json"
s3 cp "$work/md.json" "s3://$ib/models/m/v1/metadata.json"
s3 cp "$work/rows.csv" "s3://$ib/models/m/v1/model.bin"
"$ITEST_BIN/kafka_events" --bucket "$ib" --min 3 --timeout 60 >/dev/null
printf 'version: 1\nlimits: {max_delete_fraction: 1}\nrules:\n  - name: data\n    match: {bucket: "%s", prefix: data/}\n    expire_after: 1s\n' \
    "$ib" >"$work/behind.yaml"
rc=0
out=$(AW_POLICY_LAG_CHECK=true aw policy apply --rules "$work/behind.yaml" --group "$group" \
      --lag-wait 1s 2>&1 >/dev/null) || rc=$?
expect_eq "exit status of an apply while ingest is behind" 1 "$rc"
expect_contains "it says why" "$out" "ingest (group $group) is"
expect_contains "and that nothing was deleted" "$out" "so nothing is deleted"
expect_eq "the model's training data is still there" yes "$(exists "$ib" data/rows.csv)"
drain
AW_POLICY_LAG_CHECK=true aw policy apply --rules "$work/behind.yaml" --group "$group" >/dev/null 2>&1 ||
    fail "the apply after ingest caught up failed"
expect_eq "caught up, the index knows the model: its data is protected" yes "$(exists "$ib" data/rows.csv)"
done_ok
