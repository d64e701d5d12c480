#!/usr/bin/env bash
# MLflow end to end, against the real thing: MLflow's tracking server (from
# PyPI, SQLite backend store, proxied artifacts in the stack's versitygw) and
# MLflow's own Python client (tests/integration/mlflow_client.py):
#  - two runs, each with a dataset input in the bucket, a git commit tag, a
#    plot and a logged model (MLflow 3: <root>/<exp>/models/<model_id>/...);
#    the first run's model registered as churn version 1 with the alias
#    champion; the second run deleted;
#  - ingest indexes what the server wrote; each MLmodel is read as its
#    folder's metadata (an artifact of type mlflow_model, versioned by its
#    run), and tells a running `mlflow sync` (NOTIFY aw_mlflow), which links
#    each run's dataset to its model's files without waiting for --every;
#  - aw.mlflow_runs (lifecycle, commit), logged models and the registry
#    (aliases, where each version's files are); aw.runs and aw.code_commits
#    from the runs;
#  - aw.lineage_upstream of the registered model's file reaches its
#    training data;
#  - a retention plan with mlflow: predicates deletes the deleted run's
#    artifacts and its data, protects the aliased model's training data
#    through lineage, and leaves the aliased model alone; applied, the files
#    are gone from the store;
#  - verify models:/churn@champion passes, then fails after a model file is
#    tampered with on versitygw's disk; runs:/ URIs resolve; an alias that
#    does not exist is a finding;
#  - a run still going (no end time) is recorded; a second and third pass
#    of sync replace the registry as one;
#  - retention refuses mlflow: predicates when sync never completed, or
#    not within limits.max_mlflow_age;
#  - a tracking server that is away: sync exits 1 saying so; ingest goes on.
source "$(dirname "$0")/lib.sh"
require_stack
MLFLOW_VERSION=${AW_MLFLOW_VERSION:-3.17.2}
venv=${XDG_CACHE_HOME:-$HOME/.cache}/artifact-watch/mlflow-$MLFLOW_VERSION
[[ -x $venv/bin/mlflow ]] || fail "MLflow $MLFLOW_VERSION is not installed in $venv: scripts/bootstrap installs it"

run_id=$(date +%s)-$RANDOM
work=$(mktemp -d)
trap '[[ -n ${spid:-} ]] && kill "$spid" 2>/dev/null; [[ -n ${sync_pid:-} ]] && kill "$sync_pid" 2>/dev/null; rm -rf "$work"; true' EXIT
export AW_POLICY_LAG_CHECK=false
group=mlflow-$run_id
"$AW_BIN" ingest --group "$group" --drain --log-level error
drain() { "$AW_BIN" ingest --group "$group" --drain --log-level error; }

b=$(unique_bucket mlflow)
s3api create-bucket --bucket "$b" >/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
tracking=http://127.0.0.1:$port
export MLFLOW_S3_ENDPOINT_URL=$AWS_ENDPOINT_URL_S3
(cd "$work" && exec "$venv/bin/mlflow" server --backend-store-uri "sqlite:///$work/mlflow.db" \
    --artifacts-destination "s3://$b/mlartifacts" --host 127.0.0.1 --port "$port" \
    >"$work/server.log" 2>&1) &
spid=$!
wait_for "the MLflow server" 60 "curl -sf $tracking/health >/dev/null"
mlopts=(--mlflow-tracking-uri "$tracking" --mlflow-artifacts-destination "s3://$b/mlartifacts")

# a sync daemon from the start: it is told when ingest indexes an MLmodel
"$AW_BIN" mlflow sync "${mlopts[@]}" --every 1h --log-level info >"$work/sync.log" 2>&1 &
sync_pid=$!

"$venv/bin/python" "$(dirname "$0")/mlflow_client.py" "$tracking" "$b" "churn-$run_id" \
    >"$work/client.out" 2>"$work/client.err" || fail "the MLflow client failed: $(tail -5 "$work/client.err")"
made=$(tail -n 1 "$work/client.out")
field() { python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$made" "$1"; }
run1=$(field 'd["runs"][0]["run_id"]') run2=$(field 'd["runs"][1]["run_id"]')
model1=$(field 'd["runs"][0]["model_id"]') model2=$(field 'd["runs"][1]["model_id"]')
exp=$(field 'd["experiment_id"]')
files=$(aws s3 ls --recursive "s3://$b/" | wc -l)
"$ITEST_BIN/kafka_events" --bucket "$b" --min "$files" --timeout 60 >/dev/null
drain
expect_eq "every file the server and the client wrote is indexed" "$files" "$(rows "$b")"
model_file="mlartifacts/$exp/models/$model1/artifacts/python_model.pkl"

# --- the MLmodel files, read as their folders' metadata
expect_eq "MLmodel: an mlflow_model artifact, versioned by its run" "mlflow_model|$model1|$run1" \
    "$(sql -F'|' -c "SELECT artifact_type, name, version FROM aw.artifacts WHERE bucket = '$b' AND folder = 'mlartifacts/$exp/models/$model1/artifacts/'")"
# --- the running sync (--every 1h) was told, and linked the runs to their data
wait_for "the sync linked both runs after ingest's NOTIFY" 30 \
    "[[ \$(sql -c \"SELECT count(*) FROM aw.mlflow_runs WHERE run_id IN ('$run1', '$run2') AND linked IS NOT NULL\") == 2 ]]"
kill -TERM "$sync_pid"
expect_status "sync stops on SIGTERM" 0 wait "$sync_pid"
sync_pid=

# --- what the server knows, in the index
expect_eq "runs: lifecycle and commit" "$run1|active|4f2a9c1e0b7d
$run2|deleted|9d8c7b6a5f4e" \
    "$(sql -F'|' -c "SELECT run_id, lifecycle_stage, git_commit FROM aw.mlflow_runs WHERE run_id IN ('$run1', '$run2') ORDER BY start_time")"
expect_eq "the run's dataset, in the store" "s3://$b/data/train-1.csv" \
    "$(sql -c "SELECT datasets->0->>'uri' FROM aw.mlflow_runs WHERE run_id = '$run1'")"
expect_eq "logged models and their runs" "$model1|$run1
$model2|$run2" \
    "$(sql -F'|' -c "SELECT model_id, source_run_id FROM aw.mlflow_logged_models WHERE model_id IN ('$model1', '$model2') ORDER BY source_run_id = '$run2'")"
expect_eq "the registry: version 1, its alias, where its files are" \
    "churn|1|{champion}|$b|mlartifacts/$exp/models/$model1/artifacts/" \
    "$(sql -F'|' -c "SELECT name, version, aliases, bucket, prefix FROM aw.mlflow_model_versions WHERE bucket = '$b'")"
expect_eq "a run still going: recorded without an end time" "RUNNING|" \
    "$(sql -F'|' -c "SELECT status, end_time FROM aw.mlflow_runs WHERE run_id = '$(field 'd["running"]')'")"
for pass in 2 3; do
    out=$("$AW_BIN" mlflow sync --once "${mlopts[@]}" --log-level info 2>&1) ||
        fail "sync pass $pass: $out"
done
expect_contains "a later pass reads the registry again" "$out" "registered version(s)"
expect_eq "and leaves it whole" "churn|1|{champion}" \
    "$(sql -F'|' -c "SELECT name, version, aliases FROM aw.mlflow_model_versions WHERE bucket = '$b'")"
expect_eq "the last complete read is recorded" 1 \
    "$(sql -c "SELECT count(*) FROM aw.mlflow_sync WHERE synced_at > now() - interval '1 minute' AND versions >= 1")"
expect_eq "aw.runs has both runs" 2 "$(sql -c "SELECT count(*) FROM aw.runs WHERE run_key IN ('$run1', '$run2')")"
expect_eq "aw.code_commits has the run's commit" 1 "$(sql -c "SELECT count(*) FROM aw.code_commits WHERE commit = '4f2a9c1e0b7d'")"

# --- lineage: the registered model's file reaches its training data
lineage=$(sql -F'|' -c "SELECT depth, uri, edge_state, run_key, code_commit FROM aw.lineage_upstream('s3://$b/$model_file') ORDER BY depth")
expect_contains "the model's file was made from the run's data" "$lineage" "1|s3://$b/data/train-1.csv|unverified|$run1|4f2a9c1e0b7d"

# --- retention on MLflow's state
cat >"$work/rules.yaml" <<EOF
version: 1
limits: {max_delete_fraction: 0.9}
rules:
  - name: served-models
    match: {bucket: $b, mlflow: {alias: "*"}}
    protect: true
  - name: deleted-runs
    match: {bucket: $b, prefix: mlartifacts/, mlflow: {run_lifecycle: deleted}}
    expire_after: 1s
  - name: old-data
    match: {bucket: $b, prefix: data/}
    expire_after: 1s
EOF
sleep 1
# mlflow: predicates only on a recent complete read of the server
sql -c "UPDATE aw.mlflow_sync SET synced_at = synced_at - interval '2 hours'" >/dev/null
rc=0; out=$("$AW_BIN" policy plan --rules "$work/rules.yaml" 2>&1) || rc=$?
expect_eq "a plan on a stale read of MLflow is refused" 1 "$rc"
expect_contains "saying when it was read" "$out" "longer ago than limits.max_mlflow_age (1h)"
sql -c "DELETE FROM aw.mlflow_sync" >/dev/null
rc=0; out=$("$AW_BIN" policy plan --rules "$work/rules.yaml" 2>&1) || rc=$?
expect_eq "a plan before any read of MLflow is refused" 1 "$rc"
expect_contains "saying so" "$out" "and it never has"
"$AW_BIN" mlflow sync --once "${mlopts[@]}" --log-level error || fail "sync after the refusals"
"$AW_BIN" policy plan --rules "$work/rules.yaml" --format csv --save >"$work/plan.csv" 2>/dev/null ||
    fail "policy plan failed"
plan=$(sql -F'|' -c "SELECT action, rule, key FROM aw.retention_plan_actions a JOIN aw.retention_plans p ON p.id = a.plan_id WHERE a.bucket = '$b' AND p.id = (SELECT max(plan_id) FROM aw.retention_plan_actions WHERE bucket = '$b') ORDER BY key")
expect_contains "the deleted run's model goes" "$plan" "delete|deleted-runs|mlartifacts/$exp/models/$model2/artifacts/python_model.pkl"
expect_contains "the deleted run's plot goes" "$plan" "delete|deleted-runs|mlartifacts/$exp/$run2/artifacts/plots/roc.txt"
expect_contains "the deleted run's data goes" "$plan" "delete|old-data|data/train-2.csv"
expect_contains "the aliased model's data stays (lineage)" "$plan" "protect|old-data|data/train-1.csv"
[[ $plan != *"$model1"* ]] || fail "the plan touches the aliased model: $plan"
CHECKS=$((CHECKS + 1))
"$AW_BIN" policy apply --rules "$work/rules.yaml" --log-level error >/dev/null || fail "policy apply failed"
expect_eq "the deleted run's model is gone from the store" "" \
    "$(aws s3 ls --recursive "s3://$b/mlartifacts/$exp/models/$model2/" | head -1)"
expect_eq "the aliased model is all there" 7 "$(aws s3 ls --recursive "s3://$b/mlartifacts/$exp/models/$model1/" | wc -l)"

# --- verify before load, through the registry
out=$("$AW_BIN" verify 'models:/churn@champion' --fetch "${mlopts[@]}" 2>&1) ||
    fail "verify models:/churn@champion: $out"
expect_eq "every file of the model checked" 7 "$(grep -c '^ok ' <<<"$out")"
out=$("$AW_BIN" verify "runs:/$run1/plots/roc.txt" "${mlopts[@]}" 2>&1) || fail "verify runs:/: $out"
expect_contains "runs:/ resolves to the run's file" "$out" "ok   s3://$b/mlartifacts/$exp/$run1/artifacts/plots/roc.txt"
rc=0
out=$("$AW_BIN" verify 'models:/churn@nobody' "${mlopts[@]}" 2>&1) || rc=$?
expect_eq "an alias that does not exist" 1 "$rc"
expect_contains "says so" "$out" "not found"
rc=0
out=$("$AW_BIN" verify 'models:/m-abc?view_type=ALL#x' "${mlopts[@]}" 2>&1) || rc=$?
expect_eq "a model id that is not one: bad input" 2 "$rc"
expect_contains "says what an id is" "$out" "a model id is up to 100 letters"
rc=0
out=$("$AW_BIN" verify "models:/$(printf 'n%.0s' {1..600})@champion" "${mlopts[@]}" 2>&1) || rc=$?
expect_eq "a model name too long: bad input, not cut" 2 "$rc"
printf 'tampered' | dd of="$AW_STACK_DIR/s3/data/$b/$model_file" bs=1 seek=100 conv=notrunc status=none
rc=0
out=$("$AW_BIN" verify 'models:/churn@champion' --fetch "${mlopts[@]}" --format json 2>&1) || rc=$?
expect_eq "a tampered model fails verify" 1 "$rc"
expect_eq "and says which file" "python_model.pkl" \
    "$(python3 -c 'import json,sys; print(",".join(x["uri"].rsplit("/",1)[1] for x in json.loads(sys.argv[1]) if not x["ok"]))' "$out")"

# --- a tracking server that is away
kill "$spid"; wait "$spid" 2>/dev/null || true; spid=
rc=0
out=$("$AW_BIN" mlflow sync --once "${mlopts[@]}" 2>&1) || rc=$?
expect_eq "sync with the server away exits 1" 1 "$rc"
expect_contains "saying so" "$out" "MLflow experiments/search"
echo "again $run_id" | aws s3 cp --only-show-errors - "s3://$b/data/after.csv"
"$ITEST_BIN/kafka_events" --bucket "$b" --min $((files + 1)) --timeout 60 >/dev/null
drain
expect_eq "ingest goes on without it" 1 "$(sql -c "SELECT count(*) FROM aw.objects WHERE bucket = '$b' AND key = 'data/after.csv'")"
echo "mlflow.sh: MLflow $MLFLOW_VERSION; the registered model's lineage:"
echo "$lineage" | sed 's/^/  /'
done_ok
