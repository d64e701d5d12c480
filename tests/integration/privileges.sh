#!/usr/bin/env bash
# Least privilege and trust boundaries in PostgreSQL (migrations 0003, 0013):
#  - a login role in aw_writer cannot change aw.schema_migrations or rewrite
#    the append-only tables, deletes only edges, and writes no retention plan,
#    run or audit row;
#  - a login role in aw_retention plans and applies end to end, writes the
#    graph only to mark what it deleted, and cannot rewrite a final audit row;
#  - ingest runs end to end as such a role (objects, a sidecar, an edge);
#  - every function that is not an SQL-standard body has a fixed search_path;
#  - a declaration binds only in its sidecar's store: a parent that exists
#    only in another store is missing, the same parent in the sidecar's
#    store is verified.
source "$(dirname "$0")/lib.sh"
require_stack
# these runs drive ingest by hand (--drain) and apply between drains: the
# check that ingest has caught up (policy.lag_check) is shown in
# retention_faults.sh, and off here
export AW_POLICY_LAG_CHECK=false

id=$(date +%s)_$RANDOM
role=writer_$id
pw=pw-$id
as_writer() { PGUSER=$role PGPASSWORD=$pw psql -X -At -v ON_ERROR_STOP=1 "$@"; }
work=$(mktemp -d)
rrole=retention_$id
trap 'sql -q -c "DROP ROLE IF EXISTS $role" -c "DROP ROLE IF EXISTS $rrole" >/dev/null 2>&1; rm -rf "$work"' EXIT
sql -q -c "CREATE ROLE $role LOGIN PASSWORD '$pw' IN ROLE aw_writer"
sql -q -c "CREATE ROLE $rrole LOGIN PASSWORD '$pw' IN ROLE aw_retention"
as_retention() { PGUSER=$rrole PGPASSWORD=$pw psql -X -At -v ON_ERROR_STOP=1 "$@"; }

denied() { # description sql
    local out rc=0
    out=$(as_writer -c "BEGIN; $2; ROLLBACK" 2>&1) || rc=$?
    CHECKS=$((CHECKS + 1))
    [[ $rc != 0 && $out == *"permission denied"* ]] || fail "$1 was allowed: $out"
}
allowed() { # description sql
    as_writer -q -c "BEGIN; $2; ROLLBACK" >/dev/null 2>&1 || fail "$1 was refused: $(as_writer -c "$2" 2>&1)"
    CHECKS=$((CHECKS + 1))
}
denied "UPDATE aw.schema_migrations" "UPDATE aw.schema_migrations SET sha256 = sha256"
denied "DELETE FROM aw.schema_migrations" "DELETE FROM aw.schema_migrations"
denied "INSERT INTO aw.schema_migrations" "INSERT INTO aw.schema_migrations VALUES (9999, 'x', repeat('0', 64))"
denied "UPDATE aw.observations" "UPDATE aw.observations SET event_name = event_name"
denied "DELETE FROM aw.observations" "DELETE FROM aw.observations"
denied "UPDATE aw.sidecars" "UPDATE aw.sidecars SET doc = doc"
denied "DELETE FROM aw.lineage_decls" "DELETE FROM aw.lineage_decls"
denied "DELETE FROM aw.object_versions" "DELETE FROM aw.object_versions"
denied "TRUNCATE aw.edges" "TRUNCATE aw.edges"
allowed "DELETE FROM aw.edges" "DELETE FROM aw.edges WHERE false"
allowed "UPDATE aw.object_versions" "UPDATE aw.object_versions SET indexed_at = indexed_at WHERE false"
allowed "SELECT aw.lineage_upstream" "SELECT count(*) FROM aw.lineage_upstream('s3://nobkt/x')"
denied "INSERT INTO aw.retention_plan_actions (as aw_writer)" \
    "INSERT INTO aw.retention_plan_actions (plan_id, ordinal, action, object_version_id, store, bucket, key) VALUES (1, 1, 'delete', 1, 's', 'b', 'k')"
denied "INSERT INTO aw.retention_actions (as aw_writer)" \
    "INSERT INTO aw.retention_actions (run_id, action, store, bucket, key, result) VALUES (1, 'delete', 's', 'b', 'k', 'deleted')"
denied "INSERT INTO aw.retention_plans (as aw_writer)" \
    "INSERT INTO aw.retention_plans (rules_sha256, rules) VALUES ('x', '{}')"

# --- the retention role: its own tables, and of the graph only deletions
rdenied() { # description sql
    local out rc=0
    out=$(as_retention -c "BEGIN; $2; ROLLBACK" 2>&1) || rc=$?
    CHECKS=$((CHECKS + 1))
    [[ $rc != 0 && $out == *"permission denied"* ]] || fail "$1 was allowed to aw_retention: $out"
}
rdenied "INSERT INTO aw.object_versions" \
    "INSERT INTO aw.object_versions (store, bucket, key, version_ref, state) VALUES ('s', 'b', 'k', 'r', 'present')"
rdenied "UPDATE aw.object_versions SET key" "UPDATE aw.object_versions SET key = key"
rdenied "INSERT INTO aw.edges" "INSERT INTO aw.edges (decl_id, child_version_id, kind, state, declared_at) VALUES (1, 1, 'data', 'missing', now())"
rdenied "UPDATE aw.alerts SET kind" "UPDATE aw.alerts SET kind = kind"
rdenied "DELETE FROM aw.retention_actions" "DELETE FROM aw.retention_actions"
as_retention -q -c "BEGIN; UPDATE aw.object_versions SET deleted = deleted WHERE false; ROLLBACK" >/dev/null ||
    fail "aw_retention may not mark versions deleted"
CHECKS=$((CHECKS + 1))

expect_eq "functions without a fixed search_path (plpgsql and SQL bodies in quotes)" "" \
    "$(sql -c "SELECT string_agg(p.oid::regprocedure::text, ', ') FROM pg_proc p
                JOIN pg_namespace n ON n.oid = p.pronamespace
               WHERE n.nspname = 'aw' AND p.prosqlbody IS NULL
                 AND NOT EXISTS (SELECT FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%')")"

# --- ingest as the writer role: objects, a sidecar, an edge
bucket=$(unique_bucket priv)
s3api create-bucket --bucket "$bucket" >/dev/null
mkdir -p "$work/data" "$work/model/v1"
echo "training rows $id" >"$work/data/train.csv"
sum=$(sha256sum "$work/data/train.csv" | cut -d' ' -f1)
echo "weights $id" >"$work/model/v1/model.bin"
printf '{"created_from":{"data_path":"s3://%s/data/train.csv","data_checksum":"%s"}}' "$bucket" "$sum" \
    >"$work/model/v1/metadata.json"
aws s3 cp --recursive --only-show-errors "$work" "s3://$bucket/"
"$ITEST_BIN/kafka_events" --bucket "$bucket" --min 3 --timeout 60 >/dev/null
"$AW_BIN" ingest --group "priv-$id" --drain --log-level warn \
    --pg "postgresql://$role:$pw@127.0.0.1:$AW_STACK_PG_PORT/$PGDATABASE" ||
    fail "ingest as a role in aw_writer failed"
expect_eq "objects indexed by the writer role" 3 \
    "$(sql -c "SELECT count(*) FROM aw.objects WHERE bucket = '$bucket' AND state = 'present'")"
expect_eq "the edge it resolved" "verified" \
    "$(sql -c "SELECT state FROM aw.lineage_edges WHERE child_uri = 's3://$bucket/model/v1/model.bin'")"

# --- the store boundary: rows written as the indexer writes them
b=store-$id
put() { # store key content
    sql -q -c "INSERT INTO aw.object_versions (store, bucket, key, version_ref, size, sha256, state, event_time)
               VALUES ('$1', '$b', '$2', 'e:$1', length('$3'), sha256(convert_to('$3', 'UTF8')), 'present',
                       '2026-01-01 00:00:00+00')"
}
declare_in() { # store: a folder metadata.json in that store declaring parent.csv with its checksum
    sql -q <<SQL
WITH v AS (INSERT INTO aw.object_versions (store, bucket, key, version_ref, size, sha256, state, event_time)
           VALUES ('$1', '$b', 'child/metadata.json', 'e:m', 2, sha256('\x7b7d'), 'present',
                   '2026-01-01 00:00:01+00') RETURNING id),
     s AS (INSERT INTO aw.sidecars (object_version_id, store, bucket, key, kind, scope, subject, doc,
                                    declared_at)
           SELECT id, '$1', '$b', 'child/metadata.json', 'metadata', 'folder', 'child/', '{}',
                  '2026-01-01 00:00:01+00' FROM v RETURNING id)
INSERT INTO aw.lineage_decls (sidecar_id, ordinal, kind, parent_uri, parent_bucket, parent_key,
                              declared_sha256)
SELECT id, 0, 'data', 's3://$b/parent.csv', '$b', 'parent.csv', sha256(convert_to('p', 'UTF8')) FROM s;
SQL
}
put store-b parent.csv p
put store-a child/model.bin m
declare_in store-a
sql -q -c "SELECT aw.lineage_refresh(ARRAY['store-a','store-b'], ARRAY['$b','$b'], ARRAY['child/metadata.json','parent.csv'])" >/dev/null
expect_eq "a parent only in another store" "missing|" \
    "$(sql -F'|' -c "SELECT e.state, e.parent_version_id FROM aw.edges e JOIN aw.object_versions c ON c.id = e.child_version_id WHERE c.bucket = '$b'")"
put store-a parent.csv p
sql -q -c "SELECT aw.lineage_refresh(ARRAY['store-a'], ARRAY['$b'], ARRAY['parent.csv'])" >/dev/null
expect_eq "the same parent in the sidecar's store" "verified|store-a" \
    "$(sql -F'|' -c "SELECT e.state, p.store FROM aw.edges e JOIN aw.object_versions c ON c.id = e.child_version_id JOIN aw.object_versions p ON p.id = e.parent_version_id WHERE c.bucket = '$b'")"
expect_eq "walks started in one store" "0|store-a" \
    "$(sql -F'|' -c "SELECT depth, (SELECT store FROM aw.object_versions WHERE id = object_version_id) FROM aw.lineage_downstream('s3://$b/parent.csv', 0, NULL, 'store-a')")"
expect_eq "walks in any store" "2" \
    "$(sql -c "SELECT count(*) FROM aw.lineage_downstream('s3://$b/parent.csv', 0)")"

# --- retention end to end as a role in aw_retention; a final audit row is final
rb=$(unique_bucket privret)
s3api create-bucket --bucket "$rb" >/dev/null
echo "expires $id" >"$work/x.bin"
aws s3 cp --only-show-errors "$work/x.bin" "s3://$rb/x.bin"
"$ITEST_BIN/kafka_events" --bucket "$rb" --min 1 --timeout 60 >/dev/null
"$AW_BIN" ingest --group "priv-$id" --drain --log-level warn
sleep 2
printf 'version: 1\nlimits: {max_delete_fraction: 1}\nrules:\n  - name: all\n    match: {bucket: "%s"}\n    expire_after: 1s\n' \
    "$rb" >"$work/rules.yaml"
"$AW_BIN" policy apply --rules "$work/rules.yaml" --log-level warn \
    --pg "postgresql://$rrole:$pw@127.0.0.1:$AW_STACK_PG_PORT/$PGDATABASE" >/dev/null ||
    fail "policy apply as a role in aw_retention failed"
expect_eq "deleted by the retention role, and marked in the index" "deleted|t" \
    "$(sql -F'|' -c "SELECT a.result, v.deleted FROM aw.retention_actions a JOIN aw.object_versions v ON v.id = a.object_version_id WHERE a.bucket = '$rb'")"
out=$(as_retention -c "UPDATE aw.retention_actions SET result = 'failed' WHERE bucket = '$rb'" 2>&1) &&
    fail "a final audit row was rewritten: $out"
expect_contains "a final audit row stays as it is" "$out" "is final (deleted): the audit is never rewritten"
done_ok
