#!/usr/bin/env bash
# Retention on the real stack (PostgreSQL, Kafka, versitygw; uploads with the
# AWS CLI in shuffled order):
#  - a model registry <prefix>/<name>/<version>/: keep_last by semantic
#    version (v1.0.10 is newer than v1.0.9), a production version protected by
#    its metadata, training data in another bucket protected through lineage,
#    an unused data file and scratch files expired;
#  - the safety cap refuses a run and deletes nothing;
#  - an object rewritten between plan and apply is skipped, never deleted;
#  - audit rows, the deletions in the index at once (a scrub before ingest
#    reads their events finds nothing missing), tombstones after ingest, a
#    second apply that does nothing;
#  - a versioned bucket: noncurrent versions expire (keeping the newest one),
#    an expired current version gets a delete marker;
#  - bad rules are refused with FILE:LINE:COLUMN before anything runs;
#  - the worker: one active at a time through the advisory lock.
source "$(dirname "$0")/lib.sh"
require_stack
# these runs drive ingest by hand (--drain) and apply between drains: the
# check that ingest has caught up (policy.lag_check) is shown in
# retention_faults.sh, and off here
export AW_POLICY_LAG_CHECK=false

run_id=$(date +%s)-$RANDOM
work=$(mktemp -d)
trap '[[ -n ${w1:-} ]] && kill -9 "$w1" 2>/dev/null; [[ -n ${w2:-} ]] && kill -9 "$w2" 2>/dev/null; rm -rf "$work"; true' EXIT
group=retention-$run_id
"$AW_BIN" ingest --group "$group" --drain --log-level error
drain() { "$AW_BIN" ingest --group "$group" --drain --log-level error; }
exists() { aws s3api head-object --bucket "$1" --key "$2" >/dev/null 2>&1 && echo yes || echo no; }

reg=$(unique_bucket registry)
data=$(unique_bucket data)
s3api create-bucket --bucket "$reg" >/dev/null
s3api create-bucket --bucket "$data" >/dev/null
src=$work/src
mkdir -p "$src/$data" "$src/$reg/tmp"
echo "rows used by every model $run_id" >"$src/$data/train.csv"
echo "rows nobody uses $run_id" >"$src/$data/old.csv"
sum=$(sha256sum "$src/$data/train.csv" | cut -d' ' -f1)
for v in v1.0.0 v1.0.1 v1.0.2 v1.0.9 v1.0.10; do
    d=$src/$reg/artifacts/churn-model/$v
    mkdir -p "$d"
    echo "churn model $v $run_id" >"$d/model.joblib"
    stage=staging
    [[ $v == v1.0.1 ]] && stage=production
    printf '{"stage":"%s","created_from":{"data_path":"s3://%s/train.csv","data_checksum":"%s"}}' \
        "$stage" "$data" "$sum" >"$d/metadata.json"
    printf '{"auc":0.9}' >"$d/metrics.json"
done
for i in 1 2 3; do echo "scratch $i" >"$src/$reg/tmp/s$i.bin"; done
(cd "$src" && find . -type f | sed 's|^\./||' | shuf) | while IFS= read -r f; do
    aws s3 cp --only-show-errors "$src/$f" "s3://$f"
done
"$ITEST_BIN/kafka_events" --bucket "$reg" --min 18 --timeout 60 >/dev/null
"$ITEST_BIN/kafka_events" --bucket "$data" --min 2 --timeout 60 >/dev/null
drain
sleep 2 # older than the 1s expiries below

rules() { # file max_delete_fraction
    cat >"$1" <<EOF
version: 1
limits:
  max_delete_fraction: $2
rules:
  - name: churn-keep-2
    match: {bucket: "$reg", prefix: artifacts/, artifact: churn-*}
    keep_last: 2
  - name: production
    match: {bucket: "$reg", metadata: {stage: production}}
    protect: true
  - name: scratch
    match: {bucket: "$reg", prefix: tmp/}
    expire_after: 1s
  - name: data-expiry
    match: {bucket: "${data%-*}-*", glob: "*.csv"}
    expire_after: 1s
EOF
}
rules "$work/rules.yaml" 0.9
rules "$work/strict.yaml" 0.1
expect_contains "policy check" "$("$AW_BIN" policy check --rules "$work/rules.yaml")" "4 rules; valid"

# --- the plan: every decision with its reason
plan=$("$AW_BIN" policy plan --rules "$work/rules.yaml" --format json)
summary=$(python3 -c '
import json, sys
p = json.loads(sys.stdin.read())
for a in p["actions"]:
    print("%s %s %s | %s" % (a["action"], a["uri"].split("/", 3)[3], a["rule"], a["reason"]))' <<<"$plan" | sort)
want=$(cat <<EOF
delete artifacts/churn-model/v1.0.0/metadata.json churn-keep-2 | rule churn-keep-2: churn-model version v1.0.0 is number 5, beyond the last 2
delete artifacts/churn-model/v1.0.0/metrics.json churn-keep-2 | rule churn-keep-2: churn-model version v1.0.0 is number 5, beyond the last 2
delete artifacts/churn-model/v1.0.0/model.joblib churn-keep-2 | rule churn-keep-2: churn-model version v1.0.0 is number 5, beyond the last 2
delete artifacts/churn-model/v1.0.2/metadata.json churn-keep-2 | rule churn-keep-2: churn-model version v1.0.2 is number 3, beyond the last 2
delete artifacts/churn-model/v1.0.2/metrics.json churn-keep-2 | rule churn-keep-2: churn-model version v1.0.2 is number 3, beyond the last 2
delete artifacts/churn-model/v1.0.2/model.joblib churn-keep-2 | rule churn-keep-2: churn-model version v1.0.2 is number 3, beyond the last 2
delete old.csv data-expiry | rule data-expiry: current for
delete tmp/s1.bin scratch | rule scratch: current for
delete tmp/s2.bin scratch | rule scratch: current for
delete tmp/s3.bin scratch | rule scratch: current for
protect artifacts/churn-model/v1.0.1/metadata.json churn-keep-2 | rule production
protect artifacts/churn-model/v1.0.1/metrics.json churn-keep-2 | rule production
protect artifacts/churn-model/v1.0.1/model.joblib churn-keep-2 | rule production
protect train.csv data-expiry | lineage: input of s3://$reg/artifacts/churn-model/
EOF
)
# the expiry reasons carry the age and the lineage root one of the models:
# compare up to those parts
expect_eq "the plan" "$want" "$(sed -E 's/(current for).*/\1/; s|(lineage: input of s3://[^/]*/artifacts/churn-model/).*|\1|' <<<"$summary")"
expect_eq "plan id of an unsaved plan" "None" "$(python3 -c 'import json,sys; print(json.load(sys.stdin)["plan_id"])' <<<"$plan")"
table=$("$AW_BIN" policy plan --rules "$work/rules.yaml")
expect_eq "table totals: objects churn-keep-2 deletes" "6" \
    "$(awk '$2 == "churn-keep-2" && $3 == "delete" {print $4}' <<<"$table")"
csvout=$("$AW_BIN" policy plan --rules "$work/rules.yaml" --format csv)
expect_eq "csv rows (header and 14 actions)" 15 "$(grep -c . <<<"$csvout")"

# --- the safety cap: refused, nothing deleted
rc=0
out=$("$AW_BIN" policy apply --rules "$work/strict.yaml" 2>&1 >/dev/null) || rc=$?
expect_eq "exit status of a refused run" 3 "$rc"
expect_contains "refusal names the bucket and rules" "$out" "bucket $reg: 9 of"
expect_contains "refusal names the rules" "$out" "churn-keep-2, scratch"
expect_eq "objects after a refused run" "yes yes" "$(exists "$reg" tmp/s1.bin) $(exists "$reg" artifacts/churn-model/v1.0.0/model.joblib)"
expect_eq "the refused run is recorded" "t" \
    "$(sql -c "SELECT refused IS NOT NULL FROM aw.retention_runs ORDER BY id DESC LIMIT 1")"

# --- a saved plan, an object rewritten before it is applied
id=$("$AW_BIN" policy plan --rules "$work/rules.yaml" --save | sed -n 's/^plan \([0-9]*\) saved$/\1/p')
[[ $id =~ ^[0-9]+$ ]] || fail "policy plan --save printed no plan id"
echo "rewritten after the plan" >"$work/rewritten"
aws s3 cp --only-show-errors "$work/rewritten" "s3://$reg/tmp/s2.bin"
"$AW_BIN" policy apply --plan "$id" --rules "$work/rules.yaml" || fail "apply --plan $id failed"
expect_eq "after apply: s1 s2 s3 old train v1.0.0 v1.0.1 v1.0.2 v1.0.9 v1.0.10" \
    "no yes no no yes no yes no yes yes" \
    "$(exists "$reg" tmp/s1.bin) $(exists "$reg" tmp/s2.bin) $(exists "$reg" tmp/s3.bin) $(exists "$data" old.csv) $(exists "$data" train.csv) $(for v in v1.0.0 v1.0.1 v1.0.2 v1.0.9 v1.0.10; do exists "$reg" "artifacts/churn-model/$v/model.joblib"; done | tr '\n' ' ' | sed 's/ $//')"
expect_eq "the rewritten object keeps its new bytes" "rewritten after the plan" \
    "$(aws s3 cp --only-show-errors "s3://$reg/tmp/s2.bin" -)"
expect_eq "audit: results of the run" "deleted 9,skipped_changed 1" \
    "$(sql -c "SELECT string_agg(result || ' ' || n, ',' ORDER BY result) FROM (SELECT result, count(*) n FROM aw.retention_actions WHERE plan_id = $id GROUP BY 1) t")"
expect_contains "audit: why the rewritten object was skipped" \
    "$(sql -c "SELECT message FROM aw.retention_actions WHERE plan_id = $id AND key = 'tmp/s2.bin'")" "the ETag is now"
expect_eq "audit: the run's totals" '{"failed": 0, "deleted": 9, "pending": 0, "skipped_changed": 1, "skipped_protected": 0, "skipped_other_store": 0}' \
    "$(sql -c "SELECT totals FROM aw.retention_runs WHERE plan_id = $id AND mode = 'apply'")"

# the apply records what it deleted in the index at once, before ingest reads
# the store's delete events: a scrub in between finds nothing missing
expect_eq "deleted in the index by the apply itself" 9 \
    "$(sql -c "SELECT count(*) FROM aw.object_versions WHERE bucket IN ('$reg', '$data') AND deleted AND state = 'present'")"
"$AW_BIN" scrub --once --all --bucket "$reg" --log-level error || fail "scrub after the apply failed"
expect_eq "a scrub before ingest read the deletions opens no missing alert" 0 \
    "$(sql -c "SELECT count(*) FROM aw.alerts WHERE bucket = '$reg' AND kind = 'missing'")"

# --- the store's delete events come back through ingest as tombstones
# 18 uploads, the rewrite and 8 deletions in the registry; 2 uploads and a
# deletion in the data bucket (the store publishes each event on its own, so
# both are waited for)
"$ITEST_BIN/kafka_events" --bucket "$reg" --min 27 --timeout 60 >/dev/null
"$ITEST_BIN/kafka_events" --bucket "$data" --min 3 --timeout 60 >/dev/null
drain
expect_eq "deleted versions in the index" 9 \
    "$(sql -c "SELECT count(*) FROM aw.objects WHERE bucket IN ('$reg', '$data') AND deleted AND state = 'present'")"
expect_eq "lineage keeps the deleted model's history" "1" \
    "$(sql -c "SELECT count(*) FROM aw.lineage_upstream('s3://$reg/artifacts/churn-model/v1.0.0/model.joblib') WHERE depth = 1")"

# --- once the rewritten scratch file has expired too and ingest has read
# every deletion, an apply finds nothing left to do
sleep 1
"$AW_BIN" policy apply --rules "$work/rules.yaml" >/dev/null || fail "second apply failed"
expect_eq "the second apply deleted the rewritten scratch file" "tmp/s2.bin" \
    "$(sql -c "SELECT string_agg(key, ',') FROM aw.retention_actions WHERE run_id = (SELECT max(id) FROM aw.retention_runs) AND result = 'deleted'")"
"$ITEST_BIN/kafka_events" --bucket "$reg" --min 28 --timeout 60 >/dev/null
drain
"$AW_BIN" policy apply --rules "$work/rules.yaml" >/dev/null || fail "third apply failed"
expect_eq "the last apply deleted nothing" '{"failed": 0, "deleted": 0, "pending": 0, "skipped_changed": 0, "skipped_protected": 0, "skipped_other_store": 0}' \
    "$(sql -c "SELECT totals FROM aw.retention_runs WHERE mode = 'apply' ORDER BY id DESC LIMIT 1")"

# --- a versioned bucket: noncurrent versions and delete markers
vb=$(unique_bucket versioned)
s3api create-bucket --bucket "$vb" >/dev/null
s3api put-bucket-versioning --bucket "$vb" --versioning-configuration Status=Enabled
for i in 1 2 3; do
    echo "m version $i" >"$work/m"
    aws s3 cp --only-show-errors "$work/m" "s3://$vb/m.bin"
    "$ITEST_BIN/kafka_events" --bucket "$vb" --min "$i" --timeout 60 >/dev/null
    drain # each version is read while it is current
done
echo "current, to expire" >"$work/c"
aws s3 cp --only-show-errors "$work/c" "s3://$vb/cur.bin"
"$ITEST_BIN/kafka_events" --bucket "$vb" --min 4 --timeout 60 >/dev/null
drain
expect_eq "versions of m.bin known with their version ids" 3 \
    "$(sql -c "SELECT count(version_id) FROM aw.objects WHERE bucket = '$vb' AND key = 'm.bin'")"
sleep 2
cat >"$work/versioned.yaml" <<EOF
version: 1
limits: {max_delete_fraction: 1}
rules:
  - name: noncurrent
    match: {bucket: "$vb", prefix: m.bin}
    noncurrent_expire_after: 1s
    keep_noncurrent: 1
  - name: expire-current
    match: {bucket: "$vb", prefix: cur.bin}
    expire_after: 1s
EOF
vplan=$("$AW_BIN" policy plan --rules "$work/versioned.yaml" --format csv | python3 -c '
import csv, sys
for r in sorted(csv.DictReader(sys.stdin), key=lambda r: r["action"]):
    print("%s,%s,%s" % (r["action"], r["rule"], r["key"]))')
expect_eq "versioned plan" "delete,noncurrent,m.bin
delete_marker,expire-current,cur.bin" "$vplan"
"$AW_BIN" policy apply --rules "$work/versioned.yaml" >/dev/null || fail "versioned apply failed"
listing() {
    aws s3api list-object-versions --bucket "$vb" --prefix "$1" --output json | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(len(d.get("Versions", [])), len(d.get("DeleteMarkers", [])),
      any(m["IsLatest"] for m in d.get("DeleteMarkers", [])))'
}
expect_eq "m.bin: two versions left (current and the newest noncurrent), no marker" "2 0 False" "$(listing m.bin)"
expect_eq "cur.bin: its version kept under a delete marker" "1 1 True" "$(listing cur.bin)"
oldest=$(sql -c "SELECT version_id FROM aw.objects WHERE bucket = '$vb' AND key = 'm.bin' ORDER BY event_time, version_id LIMIT 1")
expect_eq "the deleted noncurrent version is the oldest" "$oldest" \
    "$(sql -c "SELECT version_id FROM aw.retention_actions WHERE bucket = '$vb' AND key = 'm.bin' AND result = 'deleted'")"
expect_eq "in the index at once: the removed version deleted, none under the marker" \
    "m.bin $oldest" \
    "$(sql -c "SELECT string_agg(key || ' ' || version_id, ',') FROM aw.object_versions WHERE bucket = '$vb' AND deleted")"

# --- bad rules: refused before anything runs
printf 'version: 1\nrules:\n  - name: a\n    match: {bucket: x1x, prefx: tmp/}\n    expire_after: 7d\n' >"$work/bad.yaml"
rc=0
out=$("$AW_BIN" policy plan --rules "$work/bad.yaml" 2>&1) || rc=$?
expect_eq "exit status for bad rules" 2 "$rc"
expect_contains "bad rules message" "$out" "$work/bad.yaml:4:26: unknown key \"prefx\" in the match of rule \"a\""

# --- the worker: one at a time
"$AW_BIN" policy run --rules "$work/rules.yaml" --every 2s >"$work/w1.log" 2>&1 &
w1=$!
wait_for "the first worker to take the lock" 30 'grep -q "retention worker: rules" "$work/w1.log"'
"$AW_BIN" policy run --rules "$work/rules.yaml" --every 2s >"$work/w2.log" 2>&1 &
w2=$!
wait_for "the second worker to wait" 30 'grep -q "the retention lock is held by" "$work/w2.log"'
expect_eq "the second worker has not started" 0 "$(grep -c 'retention worker: rules' "$work/w2.log" || true)"
kill -TERM "$w1"
wait "$w1" || fail "the first worker did not stop cleanly"
w1=
wait_for "the second worker to take over" 30 'grep -q "retention worker: rules" "$work/w2.log"'
kill -TERM "$w2"
wait "$w2" || fail "the second worker did not stop cleanly"
w2=
done_ok
