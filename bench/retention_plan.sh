#!/usr/bin/env bash
# Retention: (1) how long a plan takes over N object versions (default
# 1,000,000) and 50 rules, generated in a database of its own; (2) how fast
# apply deletes against versitygw, beside versitygw's own DELETE rate at the
# same concurrency (bench_fetch with BENCH_METHOD=DELETE, no PostgreSQL).
#
# The generated index: 10 buckets of N/10 versions each: 40% artifact
# folders artifacts/model-<m>/v1.0.<j>/ (model.bin and metadata.json, every
# 17th version in production), 30% data files (each model was trained on
# one: an edge), 30% versioned keys of 3 versions. Times spread over a year.
# The rules, 5 per bucket: keep the last 5 versions of every model, protect
# production, expire data after 120 days (inputs of kept models stay),
# expire noncurrent versions after 30 days keeping 1, keep the last 2
# versions of every other key.
#
#   bench/retention_plan.sh            N=1000000, 3 plans; apply of 2000 objects, C=16
#   N=100000 A=500 C=8 bench/retention_plan.sh
source "$(dirname "$0")/lib.sh"
N=${N:-1000000}
A=${A:-2000}
C=${C:-16}
DB=aw_bench_retention
uri=$(db_uri "$DB")
q() { psql -X -At -v ON_ERROR_STOP=1 -d "$DB" "$@"; }

if [[ ${BENCH_REBUILD:-0} == 1 ]]; then psql -X -q -c "DROP DATABASE IF EXISTS $DB"; fi
psql -X -At -c "SELECT 1 FROM pg_database WHERE datname = '$DB'" | grep -q 1 ||
    psql -X -q -c "CREATE DATABASE $DB"
build/artifact-watch migrate --pg "$uri" >/dev/null
per=$((N / 10))
if [[ $(q -c "SELECT count(*) FROM aw.object_versions") != "$((per * 10))" ]]; then
    echo "generating $((per * 10)) versions in $DB ..." >&2
    t0=$(date +%s)
    sed -e "s/@PER@/$per/g" "$(dirname "$0")/retention_plan.sql" | q -q
    q -q -c "VACUUM ANALYZE aw.object_versions, aw.artifacts, aw.sidecars, aw.lineage_decls, aw.edges"
    echo "generated in $(($(date +%s) - t0)) s" >&2
fi
{
    printf 'version: 1\nlimits: {max_delete_fraction: 1}\nrules:\n'
    for b in 0 1 2 3 4 5 6 7 8 9; do
        printf '  - {name: models-%s, match: {bucket: rb-%s, artifact: "model-*"}, keep_last: 5}\n' "$b" "$b"
        printf '  - {name: production-%s, match: {bucket: rb-%s, metadata: {stage: production}}, protect: true}\n' "$b" "$b"
        printf '  - {name: data-%s, match: {bucket: rb-%s, prefix: data/}, expire_after: 120d}\n' "$b" "$b"
        printf '  - {name: noncurrent-%s, match: {bucket: rb-%s, prefix: ver/}, noncurrent_expire_after: 30d, keep_noncurrent: 1}\n' "$b" "$b"
        printf '  - {name: others-%s, match: {bucket: "rb-%s", glob: "ver/**"}, keep_last: 2}\n' "$b" "$b"
    done
} >"$work/rules.yaml"
echo "== plan: $(q -c "SELECT count(*) FROM aw.object_versions") versions, $(q -c "SELECT count(*) FROM aw.edges") edges, 50 rules"
printf '%-6s %10s %10s %10s\n' run seconds deletes protects
for run in 1 2 3; do
    t0=$(date +%s.%N)
    build/artifact-watch policy plan --rules "$work/rules.yaml" --pg "$uri" --format csv >"$work/plan.csv"
    t1=$(date +%s.%N)
    printf '%-6s %10.2f %10s %10s\n' "$run" "$(echo "$t1 - $t0" | bc)" \
        "$(grep -c '^delete' "$work/plan.csv")" "$(grep -c '^protect' "$work/plan.csv")"
done

# --- apply against versitygw, and versitygw's own DELETE rate
ab=bench-retention-$ts
store=bench-retention-$ts
bench_buckets+=("$ab")
bench_stores+=("$store")
aws s3api create-bucket --bucket "$ab" >/dev/null
put_objects "$ab" apply- "$A" 1024
put_objects "$ab" raw- "$A" 1024
topic=aw.bench.retention.$ts
build/bench/bench_events "$topic" "$ab" apply- "$A" 1024
build/artifact-watch ingest --topic "$topic" --group "bench-retention-$ts" --store "$store" \
    --drain --log-level error --openlineage-topic ""
printf 'version: 1\nlimits: {max_delete_fraction: 1}\nrules:\n  - {name: all, match: {bucket: "%s", store: "%s"}, expire_after: 1s}\n' \
    "$ab" "$store" >"$work/apply.yaml"
sleep 2
t0=$(date +%s.%N)
build/artifact-watch policy apply --rules "$work/apply.yaml" --fetch-concurrency "$C" --lag-check false >/dev/null
t1=$(date +%s.%N)
deleted=$(psql -X -At -c "SELECT (totals->>'deleted')::int FROM aw.retention_runs ORDER BY id DESC LIMIT 1")
raw=$(BENCH_METHOD=DELETE build/bench/bench_fetch "$ab" raw- "$A" "$C")
printf '\n== apply: %s objects in versitygw, concurrency %s\n' "$A" "$C"
printf '%-44s %8.0f deletes/s  (%s deleted; plan, HEADs and audit included)\n' "policy apply" \
    "$(echo "$deleted / ($t1 - $t0)" | bc -l)" "$deleted"
printf '%-44s %8s deletes/s\n' "versitygw's own DELETE rate (bench_fetch)" "$(field "$raw" objects_per_s)"
echo "rerun: N=$N A=$A C=$C bench/retention_plan.sh"
