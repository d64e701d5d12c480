#!/usr/bin/env bash
# `artifact-watch migrate` against the stack's real PostgreSQL, in a fresh
# database: the first run applies every file, the second changes nothing;
# the public view keeps its columns; aw_reader reads but cannot write;
# refusals (edited file, failed migration, newer database) say what to do.
source "$(dirname "$0")/lib.sh"
require_stack

suffix=$(date +%s)_$RANDOM
db=aw_itest_migrate_$suffix
reader=aw_itest_reader_$suffix
writer=aw_itest_writer_$suffix
psql -q -X -v ON_ERROR_STOP=1 -c "CREATE DATABASE $db"
cleanup() {
    psql -q -X -c "DROP DATABASE IF EXISTS $db" -c "DROP DATABASE IF EXISTS ${db}_r" \
        -c "DROP ROLE IF EXISTS $reader" -c "DROP ROLE IF EXISTS $writer" >/dev/null 2>&1 || true
}
trap cleanup EXIT
uri="postgresql://$PGUSER:$PGPASSWORD@$PGHOST:$PGPORT/$db"
nfiles=$(ls "$REPO"/sql/[0-9][0-9][0-9][0-9]_*.sql | wc -l)
last=$(basename "$(ls "$REPO"/sql/[0-9][0-9][0-9][0-9]_*.sql | tail -n 1)")

out=$("$AW_BIN" migrate --pg "$uri" 2>/dev/null)
if ((nfiles == 1)); then word=migration; else word=migrations; fi
expect_eq "first migrate" "applied $nfiles $word; schema is at $last" "$out"
before=$(psql -X -At -d "$db" -c "SELECT string_agg(name || '@' || applied_at, ',' ORDER BY version) FROM aw.schema_migrations")
out=$("$AW_BIN" migrate --pg "$uri" 2>&1)
expect_eq "second migrate" "schema is up to date ($last); nothing to do" "$out"
after=$(psql -X -At -d "$db" -c "SELECT string_agg(name || '@' || applied_at, ',' ORDER BY version) FROM aw.schema_migrations")
expect_eq "schema_migrations after a no-op run" "$before" "$after"
expect_eq "recorded migrations" "$nfiles" "$(psql -X -At -d "$db" -c "SELECT count(*) FROM aw.schema_migrations WHERE sha256 ~ '^[0-9a-f]{64}\$'")"
for f in "$REPO"/sql/[0-9][0-9][0-9][0-9]_*.sql; do
    name=$(basename "$f")
    expect_eq "checksum recorded for $name" "$(sha256sum "$f" | cut -d' ' -f1)" \
        "$(psql -X -At -d "$db" -c "SELECT sha256 FROM aw.schema_migrations WHERE name = '$name'")"
done
status=$("$AW_BIN" migrate --status --pg "$uri")
expect_contains "migrate --status" "$status" "$last"
expect_contains "migrate --status" "$status" "applied"

# the public view: these columns first, in this order, forever (later
# migrations may add columns after them: 0009 added last_modified, reason)
cols=$(psql -X -At -d "$db" -c "SELECT string_agg(column_name, ',' ORDER BY ordinal_position) FROM information_schema.columns WHERE table_schema='aw' AND table_name='objects'")
expect_eq "aw.objects columns" "store,bucket,key,version_id,size,sha256,etag,content_type,event_time,indexed_at,deleted,state" \
    "$(cut -d, -f1-12 <<<"$cols")"
expect_eq "aw.objects columns added since" "last_modified,reason" "$(cut -d, -f13- <<<"$cols")"
expect_eq "everything lives in schema aw" "0" \
    "$(psql -X -At -d "$db" -c "SELECT count(*) FROM pg_tables WHERE schemaname='public'")"

# roles: the reader reads and cannot write; the writer writes
psql -q -X -v ON_ERROR_STOP=1 -c "CREATE ROLE $reader LOGIN PASSWORD 'r' IN ROLE aw_reader" \
    -c "CREATE ROLE $writer LOGIN PASSWORD 'w' IN ROLE aw_writer"
psql -q -X -v ON_ERROR_STOP=1 -d "$db" -c "GRANT CONNECT ON DATABASE $db TO aw_reader, aw_writer" >/dev/null
ins="INSERT INTO aw.object_versions (store, bucket, key, version_ref, state) VALUES ('s','b','k','v','present')"
expect_eq "writer inserts" "INSERT 0 1" "$(PGPASSWORD=w psql -X -d "$db" -U "$writer" -c "$ins" 2>&1)"
expect_eq "reader reads" "1" "$(PGPASSWORD=r psql -X -At -d "$db" -U "$reader" -c "SELECT count(*) FROM aw.objects")"
denied=$(PGPASSWORD=r psql -X -d "$db" -U "$reader" -c "$ins" 2>&1 || true)
expect_contains "reader cannot insert" "$denied" "permission denied"

# a database that is not there: exit 1 and libpq's words
err=$("$AW_BIN" migrate --pg "postgresql://$PGUSER:$PGPASSWORD@$PGHOST:$PGPORT/${db}_nonexistent" 2>&1 || true)
expect_contains "migrate to a missing database" "$err" "cannot connect to PostgreSQL"
expect_contains "migrate to a missing database" "$err" "does not exist"
expect_status "migrate exit status without a database" 1 "$AW_BIN" migrate --pg "postgresql://$PGUSER:$PGPASSWORD@$PGHOST:$PGPORT/${db}_nonexistent"

# refusals, on a second fresh database
psql -q -X -v ON_ERROR_STOP=1 -c "CREATE DATABASE ${db}_r"
"$ITEST_BIN/migrate_refusals" "postgresql://$PGUSER:$PGPASSWORD@$PGHOST:$PGPORT/${db}_r"
done_ok
