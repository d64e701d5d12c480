#!/usr/bin/env bash
# The lineage graph end to end on the real stack. A script that behaves like
# a training pipeline writes raw data, processed data, features and models,
# each with the sidecars a pipeline writes (metadata.json with a created_from
# block, <file>.metadata.json, <file>.sha256, metrics.json, an OpenLineage
# event file), through the AWS CLI and in shuffled order; one more RunEvent
# arrives on the OpenLineage Kafka topic. Shown here:
#  - aw.lineage_upstream / aw.lineage_downstream return exactly the expected
#    graph, edge states and checksums; the same in a second bucket where
#    every child and sidecar is uploaded before its parents and ingest
#    indexes one message per transaction;
#  - a replay changes nothing;
#  - bad sidecars (invalid JSON, wrong types, 3 MiB, 500 levels deep, a
#    data_path that is no URI, one that points at nothing, a bad .sha256, a
#    broken RunEvent) are recorded with their error and stop nothing;
#  - tampering: raw data overwritten after the models declared its checksum
#    turns its edges into 'mismatch', and the documented queries find the
#    models trained on it;
#  - aw_reader can run every documented query; the command line prints
#    table, JSON and DOT, and the DOT renders with Graphviz.
source "$(dirname "$0")/lib.sh"
require_stack
: "${AW_OPENLINEAGE_TOPIC:?the stack exports AW_OPENLINEAGE_TOPIC}"

run_id=$(date +%s)-$RANDOM
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sha() { sha256sum "$1" | cut -d' ' -f1; }
ingest() { "$AW_BIN" ingest --group "lineage-$run_id-$1" --batch-ms 50 --log-level warn --drain "${@:2}"; }

# --- the pipeline's files, written locally first (bucket name inside metadata)
build_pipeline() { # bucket dir
    local b=$1 d=$2
    mkdir -p "$d/datasets/raw/v1" "$d/datasets/processed/v1" "$d/features/churn/v2" \
        "$d/artifacts/churn-model/v1.0.0" "$d/artifacts/churn-model/v1.1.0" "$d/reports/churn" \
        "$d/bad/invalid" "$d/bad/types" "$d/bad/huge" "$d/bad/deep" "$d/bad/nowhere" "$d/bad/badsum"
    head -c 5000 /dev/urandom | base64 >"$d/datasets/raw/v1/customers.csv"
    raw=$(sha "$d/datasets/raw/v1/customers.csv")
    printf '%s  customers.csv\n' "$raw" >"$d/datasets/raw/v1/customers.csv.sha256"
    printf '{"artifact_type":"dataset","created_at":"2026-05-01T08:00:00Z","source":"crm export"}' \
        >"$d/datasets/raw/v1/metadata.json"

    head -c 3000 /dev/urandom | base64 >"$d/datasets/processed/v1/train.csv"
    head -c 1000 /dev/urandom | base64 >"$d/datasets/processed/v1/test.csv"
    train=$(sha "$d/datasets/processed/v1/train.csv")
    test_=$(sha "$d/datasets/processed/v1/test.csv")
    printf '{"artifact_type":"dataset","created_at":"2026-05-01T09:00:00Z","git_commit":"a1b2c3d","python_version":"3.11.6","created_from":{"data_path":"s3://%s/datasets/raw/v1/customers.csv","data_checksum":"%s","code_commit":"a1b2c3d","training_run_id":"prep-001"}}' \
        "$b" "$raw" >"$d/datasets/processed/v1/metadata.json"
    printf '%s\n' "$train" >"$d/datasets/processed/v1/train.csv.sha256"

    head -c 8000 /dev/urandom >"$d/features/churn/v2/features.parquet"
    feat=$(sha "$d/features/churn/v2/features.parquet")
    printf '{"fields":["tenure","plan"]}' >"$d/features/churn/v2/schema.json"
    # the file's own metadata wins over its folder's for features.parquet
    printf '{"artifact_type":"features","created_from":{"data_path":["s3://%s/datasets/processed/v1/train.csv","s3://%s/datasets/processed/v1/test.csv"],"data_checksum":["%s","sha256:%s"],"training_run_id":"feat-002"}}' \
        "$b" "$b" "$train" "$test_" >"$d/features/churn/v2/features.parquet.metadata.json"
    printf '{"created_from":{"data_path":"s3://%s/datasets/raw/v1/customers.csv"}}' \
        >"$d/features/churn/v2/metadata.json" "$b"

    head -c 20000 /dev/urandom >"$d/artifacts/churn-model/v1.0.0/model.joblib"
    model=$(sha "$d/artifacts/churn-model/v1.0.0/model.joblib")
    printf '{"artifact_type":"model","created_at":"2026-05-01T10:00:00Z","git_commit":"d4e5f6a","python_version":"3.11.6","dependencies":{"scikit-learn":"1.4.2","pandas":"2.2.1"},"created_from":{"data_path":"s3://%s/features/churn/v2/features.parquet","data_checksum":"%s","code_commit":"d4e5f6a","training_run_id":"train-7"},"hyperparameters":{"max_depth":6}}' \
        "$b" "$feat" >"$d/artifacts/churn-model/v1.0.0/metadata.json"
    printf '{"auc":0.9134,"f1":0.87,"rows":120000}' >"$d/artifacts/churn-model/v1.0.0/metrics.json"
    printf '%s  model.joblib\n' "$model" >"$d/artifacts/churn-model/v1.0.0/model.joblib.sha256"

    head -c 20000 /dev/urandom >"$d/artifacts/churn-model/v1.1.0/model.joblib"
    model2=$(sha "$d/artifacts/churn-model/v1.1.0/model.joblib")
    printf '{"artifact_type":"model","created_from":{"data_path":["s3://%s/features/churn/v2/features.parquet","s3://%s/features/churn/v3/never-uploaded.parquet"],"training_run_id":"train-8"}}' \
        "$b" "$b" >"$d/artifacts/churn-model/v1.1.0/metadata.json"

    printf '<html>auc 0.91</html>' >"$d/reports/churn/eval.html"
    printf '{"eventType":"COMPLETE","eventTime":"2026-05-01T11:00:00Z","run":{"runId":"ol-eval-%s"},"job":{"namespace":"ml","name":"churn.evaluate"},"inputs":[{"namespace":"s3://%s","name":"artifacts/churn-model/v1.0.0/model.joblib"},{"namespace":"s3://%s","name":"datasets/processed/v1/test.csv"}],"outputs":[{"namespace":"s3://%s","name":"reports/churn/eval.html"}]}' \
        "$b" "$b" "$b" "$b" >"$d/reports/churn/eval.openlineage.json"
    printf 'summary\n' >"$d/reports/churn/summary.txt"

    # bad sidecars next to ordinary files
    for x in invalid types huge deep nowhere badsum; do head -c 100 /dev/urandom >"$d/bad/$x/a.bin"; done
    printf '{"created_from": {"data_path": "s3://%s/x"' "$b" >"$d/bad/invalid/metadata.json"
    printf '{"created_at":17,"created_from":{"data_path":42,"training_run_id":{"id":1}}}' >"$d/bad/types/metadata.json"
    python3 -c 'import json,sys; json.dump({"blob": "x" * (3 << 20)}, open(sys.argv[1], "w"))' "$d/bad/huge/metadata.json"
    python3 -c 'import sys; open(sys.argv[1], "w").write("{\"a\":" + "[" * 500 + "]" * 500 + "}")' "$d/bad/deep/metadata.json"
    printf '{"created_from":{"data_path":["/home/me/train.csv","s3://%s/no/such/object.csv"]}}' "$b" >"$d/bad/nowhere/metadata.json"
    printf 'not a digest  a.bin\n' >"$d/bad/badsum/a.bin.sha256"
}

ol_event() { # bucket: the RunEvent that arrives on the OpenLineage topic
    printf '{"eventType":"COMPLETE","eventTime":"2026-05-01T12:00:00Z","producer":"https://github.com/OpenLineage/OpenLineage/tree/1.9.1/client/python","schemaURL":"https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent","run":{"runId":"ol-publish-%s"},"job":{"namespace":"ml","name":"churn.publish"},"inputs":[{"namespace":"s3://%s","name":"reports/churn/eval.html"},{"namespace":"postgres://warehouse:5432","name":"analytics.accounts"}],"outputs":[{"namespace":"s3://%s","name":"reports/churn/summary.txt"}]}' \
        "$1" "$1" "$1"
}

upload() { # dir bucket file...
    local d=$1 b=$2 f
    shift 2
    for f in "$@"; do aws s3 cp --only-show-errors "$d/$f" "s3://$b/$f"; done
}

walk() { # direction uri [depth]: depth|uri|sha256|kind|state|declared, sorted
    sql -F'|' -c "SELECT depth, uri, coalesce(sha256, '-'), coalesce(edge_kind, '-'),
                         coalesce(edge_state, '-'), coalesce(declared_sha256, '-')
                    FROM aw.lineage_$1('$2', ${3:-10}) ORDER BY 1, 2"
}

check_graph() { # bucket
    local b=$1 s=s3://$1
    expect_eq "upstream of model v1.0.0" "0|$s/artifacts/churn-model/v1.0.0/model.joblib|$model|-|-|-
1|$s/features/churn/v2/features.parquet|$feat|data|verified|$feat
2|$s/datasets/processed/v1/test.csv|$test_|data|verified|$test_
2|$s/datasets/processed/v1/train.csv|$train|data|verified|$train
3|$s/datasets/raw/v1/customers.csv|$raw|data|verified|$raw" "$(walk upstream "$s/artifacts/churn-model/v1.0.0/model.joblib")"
    expect_eq "upstream of model v1.0.0, depth 1" 2 \
        "$(walk upstream "$s/artifacts/churn-model/v1.0.0/model.joblib" 1 | wc -l)"
    expect_eq "downstream of the raw data" "0|$s/datasets/raw/v1/customers.csv|$raw|-|-|-
1|$s/datasets/processed/v1/test.csv|$test_|data|verified|$raw
1|$s/datasets/processed/v1/train.csv|$train|data|verified|$raw
1|$s/features/churn/v2/schema.json|$(sha "$src/features/churn/v2/schema.json")|data|unverified|-
2|$s/features/churn/v2/features.parquet|$feat|data|verified|$test_
2|$s/reports/churn/eval.html|$(sha "$src/reports/churn/eval.html")|openlineage|unverified|-
3|$s/artifacts/churn-model/v1.0.0/model.joblib|$model|data|verified|$feat
3|$s/artifacts/churn-model/v1.1.0/model.joblib|$model2|data|unverified|-
3|$s/reports/churn/summary.txt|$(sha "$src/reports/churn/summary.txt")|openlineage|unverified|-" \
        "$(walk downstream "$s/datasets/raw/v1/customers.csv")"
    expect_eq "upstream of model v1.1.0: a parent never uploaded is missing" "0|$s/artifacts/churn-model/v1.1.0/model.joblib|$model2|-|-|-
1|$s/features/churn/v2/features.parquet|$feat|data|unverified|-
1|$s/features/churn/v3/never-uploaded.parquet|-|data|missing|-
2|$s/datasets/processed/v1/test.csv|$test_|data|verified|$test_
2|$s/datasets/processed/v1/train.csv|$train|data|verified|$train
3|$s/datasets/raw/v1/customers.csv|$raw|data|verified|$raw" \
        "$(walk upstream "$s/artifacts/churn-model/v1.1.0/model.joblib")"
    expect_eq "paths, runs and code commits of the model's lineage" \
        "{$s/artifacts/churn-model/v1.0.0/model.joblib}||
{$s/artifacts/churn-model/v1.0.0/model.joblib,$s/features/churn/v2/features.parquet}|train-7|d4e5f6a
{$s/artifacts/churn-model/v1.0.0/model.joblib,$s/features/churn/v2/features.parquet,$s/datasets/processed/v1/test.csv}|feat-002|
{$s/artifacts/churn-model/v1.0.0/model.joblib,$s/features/churn/v2/features.parquet,$s/datasets/processed/v1/train.csv}|feat-002|
{$s/artifacts/churn-model/v1.0.0/model.joblib,$s/features/churn/v2/features.parquet,$s/datasets/processed/v1/test.csv,$s/datasets/raw/v1/customers.csv}|prep-001|a1b2c3d" \
        "$(sql -F'|' -c "SELECT path, run_key, code_commit FROM aw.lineage_upstream('$s/artifacts/churn-model/v1.0.0/model.joblib') ORDER BY depth, uri")"
    expect_eq "the OpenLineage topic's run joins the indexed objects" \
        "1|$s/reports/churn/eval.html|openlineage|ol-publish-$b" \
        "$(sql -F'|' -c "SELECT depth, uri, edge_kind, run_key FROM aw.lineage_upstream('$s/reports/churn/summary.txt') WHERE depth > 0 AND uri LIKE '%eval.html'")"
    expect_eq "every uploaded object is indexed with its digest" "$nfiles" \
        "$(sql -c "SELECT count(*) FROM aw.objects WHERE bucket = '$b' AND state = 'present'")"
}

check_sidecars() { # bucket
    local b=$1
    errs=$(sql -F'|' -c "SELECT key, kind, parse_error FROM aw.sidecars WHERE bucket = '$b' AND parse_error IS NOT NULL ORDER BY key")
    expect_contains "invalid JSON" "$errs" "bad/invalid/metadata.json|metadata|invalid JSON at line 1"
    expect_contains "wrong types" "$errs" "bad/types/metadata.json|metadata|created_at: expected a date-time string, got a number; created_from.training_run_id: expected a string, got an object; created_from.data_path: expected a string or a list of strings, got a number"
    expect_contains "3 MiB sidecar" "$errs" "bad/huge/metadata.json|metadata|$(stat -c %s "$src/bad/huge/metadata.json") bytes: larger than the sidecar size limit; not read"
    expect_contains "500 levels deep" "$errs" "bad/deep/metadata.json|metadata|nested deeper than 64 levels; not read"
    expect_contains "a data_path that is no URI" "$errs" "bad/nowhere/metadata.json|metadata|created_from.data_path[0]: \"/home/me/train.csv\" is not an s3://bucket/key URI"
    expect_contains "a bad .sha256" "$errs" "bad/badsum/a.bin.sha256|sha256|line 1: \"not a digest  a.bin\" is not a SHA-256 hex digest"
    expect_eq "sidecars with errors" 6 "$(printf '%s\n' "$errs" | wc -l)"
    expect_eq "the files next to bad sidecars are indexed" 6 \
        "$(sql -c "SELECT count(*) FROM aw.objects WHERE bucket = '$b' AND key LIKE 'bad/%/a.bin' AND sha256 IS NOT NULL")"
    expect_eq "a data_path pointing at nothing is a missing edge" "s3://$b/no/such/object.csv|missing" \
        "$(sql -F'|' -c "SELECT parent_uri, state FROM aw.lineage_edges WHERE child_uri = 's3://$b/bad/nowhere/a.bin'")"
    expect_eq "declared .sha256 checksums" "s3://$b/artifacts/churn-model/v1.0.0/model.joblib|verified
s3://$b/datasets/processed/v1/train.csv|verified
s3://$b/datasets/raw/v1/customers.csv|verified" \
        "$(sql -F'|' -c "SELECT uri, state FROM aw.declared_checksums WHERE uri LIKE 's3://$b/%' ORDER BY uri")"
    expect_eq "artifacts from the version-folder convention, metadata and metrics" \
        "artifacts/churn-model/v1.0.0/|churn-model|v1.0.0|model|0.9134|3.11.6
artifacts/churn-model/v1.1.0/|churn-model|v1.1.0|model||
datasets/processed/v1/|processed|v1|dataset||3.11.6
datasets/raw/v1/|raw|v1|dataset||
features/churn/v2/|churn|v2|||" \
        "$(sql -F'|' -c "SELECT folder, name, version, artifact_type, metrics->>'auc', metadata->>'python_version' FROM aw.artifacts WHERE bucket = '$b' AND folder NOT LIKE 'bad/%' ORDER BY folder")"
    expect_eq "metrics are queryable jsonb" "artifacts/churn-model/v1.0.0/" \
        "$(sql -c "SELECT folder FROM aw.artifacts WHERE bucket = '$b' AND metrics @> '{\"rows\": 120000}'")"
    expect_eq "runs" "feat-002,ol-eval-$b,ol-publish-$b,prep-001,train-7,train-8" \
        "$(sql -c "SELECT string_agg(DISTINCT run_key, ',' ORDER BY run_key) FROM aw.sidecars WHERE (bucket = '$b' OR job LIKE 'ml/%' AND doc::text LIKE '%$b%') AND run_key IS NOT NULL")"
    expect_eq "run rows" 6 "$(sql -c "SELECT count(*) FROM aw.runs WHERE run_key IN ('feat-002','ol-eval-$b','ol-publish-$b','prep-001','train-7','train-8')")"
    expect_eq "code commits" 2 "$(sql -c "SELECT count(*) FROM aw.code_commits WHERE commit IN ('a1b2c3d','d4e5f6a')")"
}

# ---------------------------------------------------------------- bucket 1
b1=$(unique_bucket lineage)
src=$work/b1
build_pipeline "$b1" "$src"
mapfile -t files < <(cd "$src" && find . -type f | sed 's|^\./||' | sort)
nfiles=${#files[@]}
seed=$RANDOM
echo "upload order: shuf --random-source seeded with $seed"
mapfile -t order < <(printf '%s\n' "${files[@]}" | shuf --random-source=<(yes "$seed"))
s3api create-bucket --bucket "$b1" >/dev/null
upload "$src" "$b1" "${order[@]}"
ol_event "$b1" | "$ITEST_BIN/kafka_tool" produce "$AW_OPENLINEAGE_TOPIC" "ol-$b1"
printf '{"eventType":"COMPLETE","run":' | "$ITEST_BIN/kafka_tool" produce "$AW_OPENLINEAGE_TOPIC" "bad-$b1"
"$ITEST_BIN/kafka_events" --bucket "$b1" --min "$nfiles" --timeout 60 >/dev/null
ingest one
check_graph "$b1"
check_sidecars "$b1"
expect_contains "a broken RunEvent on the topic is recorded with its error" \
    "$(sql -c "SELECT parse_error FROM aw.sidecars WHERE kafka_topic = '$AW_OPENLINEAGE_TOPIC' AND doc IS NULL ORDER BY id DESC LIMIT 1")" \
    "invalid JSON"

# --- a replay changes nothing
snapshot() {
    sql -c "SELECT md5(string_agg(e.id || e.state || coalesce(e.parent_version_id, 0) || e.resolved_at, ',' ORDER BY e.id))
              FROM aw.edges e JOIN aw.object_versions c ON c.id = e.child_version_id WHERE c.bucket = '$1'"
    sql -c "SELECT count(*) FROM aw.sidecars WHERE bucket = '$1'"
    sql -c "SELECT md5(string_agg(folder || updated_at, ',' ORDER BY folder)) FROM aw.artifacts WHERE bucket = '$1'"
}
before=$(snapshot "$b1")
ingest replay
expect_eq "edges, sidecars and artifacts after a replay" "$before" "$(snapshot "$b1")"

# --- the command line
table=$("$AW_BIN" lineage up "s3://$b1/artifacts/churn-model/v1.0.0/model.joblib")
expect_contains "table output" "$table" "verified"
expect_eq "table rows (header + 5 nodes)" 6 "$(printf '%s\n' "$table" | wc -l)"
json=$("$AW_BIN" lineage down "s3://$b1/datasets/raw/v1/customers.csv" --format json --depth 2)
expect_eq "JSON output: nodes within depth 2" 6 "$(python3 -c 'import json,sys; print(len(json.load(sys.stdin)["nodes"]))' <<<"$json")"
"$AW_BIN" lineage down "s3://$b1/datasets/raw/v1/customers.csv" --format dot >"$work/g.dot"
dot -Tsvg "$work/g.dot" >"$work/g.svg"
expect_contains "DOT renders to SVG" "$(head -c 400 "$work/g.svg")" "<svg"
expect_eq "DOT edges (every edge among the nodes, diamonds included)" 10 "$(grep -c -- ' -> ' "$work/g.dot")"
expect_status "lineage of an unknown object" 1 "$AW_BIN" lineage up "s3://$b1/nothing/here"
expect_status "lineage with a bad direction" 2 "$AW_BIN" lineage sideways "s3://$b1/x"
expect_status "lineage with a bad format" 2 "$AW_BIN" lineage up "s3://$b1/x" --format yaml

# --- tampering: raw data changes after the models declared its checksum
head -c 5000 /dev/urandom | base64 >"$work/tampered.csv"
aws s3 cp --only-show-errors "$work/tampered.csv" "s3://$b1/datasets/raw/v1/customers.csv"
"$ITEST_BIN/kafka_events" --bucket "$b1" --min $((nfiles + 1)) --timeout 60 >/dev/null
ingest one
tampered=$(sha "$work/tampered.csv")
expect_eq "edges to the tampered file" "s3://$b1/datasets/processed/v1/test.csv|mismatch|$raw|$tampered
s3://$b1/datasets/processed/v1/train.csv|mismatch|$raw|$tampered
s3://$b1/features/churn/v2/schema.json|unverified||$tampered" \
    "$(sql -F'|' -c "SELECT child_uri, state, declared_sha256, parent_sha256 FROM aw.lineage_edges WHERE parent_uri = 's3://$b1/datasets/raw/v1/customers.csv' ORDER BY 1")"
expect_eq "the .sha256 of the tampered file" "mismatch" \
    "$(sql -c "SELECT state FROM aw.declared_checksums WHERE uri = 's3://$b1/datasets/raw/v1/customers.csv'")"

# the documented queries (docs/sql.md), run as aw_reader
reader=lin_reader_${run_id//-/_}
psql -q -X -v ON_ERROR_STOP=1 -c "CREATE ROLE $reader LOGIN PASSWORD 'r' IN ROLE aw_reader" \
    -c "GRANT CONNECT ON DATABASE $PGDATABASE TO aw_reader"
trap 'rm -rf "$work"; psql -q -X -c "DROP ROLE IF EXISTS $reader" >/dev/null 2>&1' EXIT
as_reader() { PGPASSWORD=r sql -F'|' -U "$reader" -c "$1"; }
expect_eq "models trained on inputs whose checksum does not match" \
    "s3://$b1/artifacts/churn-model/v1.0.0/model.joblib|s3://$b1/datasets/raw/v1/customers.csv|3
s3://$b1/artifacts/churn-model/v1.1.0/model.joblib|s3://$b1/datasets/raw/v1/customers.csv|3" \
    "$(as_reader "SELECT m.uri, u.uri, u.depth
                    FROM aw.artifact_objects m
                   CROSS JOIN LATERAL aw.lineage_upstream(m.uri, 20) u
                   WHERE m.artifact_type = 'model' AND u.edge_state = 'mismatch'
                     AND m.uri LIKE 's3://$b1/%'
                   ORDER BY 1, 2")"
expect_eq "blast radius of the corrupted file" "8" \
    "$(as_reader "SELECT count(*) FROM aw.lineage_downstream('s3://$b1/datasets/raw/v1/customers.csv', 20) WHERE depth > 0")"
expect_eq "aw_reader reads the edges view" "3" \
    "$(as_reader "SELECT count(*) FROM aw.lineage_edges WHERE parent_uri = 's3://$b1/datasets/raw/v1/customers.csv'")"

# ---------------------------------------------------------------- bucket 2
# children before parents and sidecars before the files they describe, one
# message per transaction
b2=$(unique_bucket lineage-rev)
src=$work/b2
build_pipeline "$b2" "$src"
order=()
for p in artifacts/churn-model/v1.1.0 artifacts/churn-model/v1.0.0 reports/churn features/churn/v2 \
    datasets/processed/v1 datasets/raw/v1 bad; do
    mapfile -t -O "${#order[@]}" order < <(cd "$src" && find "$p" -type f |
        awk '{ print (/metadata|sha256|metrics|openlineage/ ? 0 : 1) "\t" $0 }' | sort | cut -f2)
done
expect_eq "files in the reverse order" "$nfiles" "${#order[@]}"
# what the shared topics hold from before, in ordinary batches: the
# one-message batches below then read this bucket's events only (on a stack
# that has run the suite many times, one transaction per older event took
# minutes)
ingest two
s3api create-bucket --bucket "$b2" >/dev/null
upload "$src" "$b2" "${order[@]}"
ol_event "$b2" | "$ITEST_BIN/kafka_tool" produce "$AW_OPENLINEAGE_TOPIC" "ol-$b2"
"$ITEST_BIN/kafka_events" --bucket "$b2" --min "$nfiles" --timeout 60 >/dev/null
ingest two --batch-max 1
check_graph "$b2"
check_sidecars "$b2"
done_ok
