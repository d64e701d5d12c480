/*
 * The migration runner. All checks happen before anything is applied, so a
 * refused run (edited file, database newer than the binary) changes nothing.
 */
#include "aw/migrate.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aw/hash.h"
#include "aw/log.h"

/* An arbitrary constant shared by every artifact-watch migrate process. */

static const char *const bootstrap_sql =
    "CREATE SCHEMA IF NOT EXISTS aw;"
    "CREATE TABLE IF NOT EXISTS aw.schema_migrations ("
    "  version integer PRIMARY KEY,"
    "  name text NOT NULL,"
    "  sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),"
    "  applied_at timestamptz NOT NULL DEFAULT now())";

typedef struct recorded {
    int version;
    char name[128];
    char sha[65];
    char applied_at[32];
} recorded;

/* "0012_x.sql" -> 12; -1 when the name is not NNNN_*. */
static int version_of(const char *name) {
    int v = 0;
    for (int i = 0; i < 4; i++) {
        if (name[i] < '0' || name[i] > '9')
            return -1;
        v = v * 10 + (name[i] - '0');
    }
    return name[4] == '_' ? v : -1;
}

static int sha_hex(const aw_migration *m, char out[65]) {
    return aw_sha256_hex(m->sql, m->len, out);
}

static void unlock(aw_pg *pg) {
    char e[256];
    if (aw_pg_query(pg, "SELECT pg_advisory_unlock(" AW_LOCK_MIGRATE ")", 0, NULL, NULL, e,
                    sizeof e) != AW_OK)
        AW_WARN("migrate", "releasing the migration lock: %s", e);
}

/* Validates names, takes the lock, creates the bookkeeping table and reads
 * what is applied. On success the lock is held: call unlock(). */
static int prepare(aw_pg *pg, const aw_migration *list, size_t n, recorded **rec,
                   int *nrec, char *errstr, size_t errn) {
    *rec = NULL;
    *nrec = 0;
    int prev = 0;
    for (size_t i = 0; i < n; i++) {
        int v = version_of(list[i].name);
        if (v <= prev) {
            snprintf(errstr, errn, "migration file %s: names must be NNNN_name.sql with "
                     "strictly increasing numbers", list[i].name);
            return AW_EINVAL;
        }
        prev = v;
    }
    int rc = aw_pg_query(pg, "SELECT pg_advisory_lock(" AW_LOCK_MIGRATE ")", 0, NULL, NULL,
                         errstr, errn);
    if (rc != AW_OK)
        return rc;
    rc = aw_pg_exec_script(pg, bootstrap_sql, errstr, errn);
    aw_pg_result *r = NULL;
    if (rc == AW_OK)
        rc = aw_pg_query(pg,
                         "SELECT version, name, sha256, to_char(applied_at AT TIME ZONE "
                         "'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
                         "FROM aw.schema_migrations ORDER BY version",
                         0, NULL, &r, errstr, errn);
    if (rc != AW_OK) {
        unlock(pg);
        return rc;
    }
    int rows = aw_pg_result_rows(r);
    recorded *v = calloc((size_t)rows + 1, sizeof *v);
    if (!v) {
        aw_pg_result_free(r);
        unlock(pg);
        return AW_ENOMEM;
    }
    for (int i = 0; i < rows; i++) {
        v[i].version = (int)strtol(aw_pg_result_get(r, i, 0), NULL, 10);
        snprintf(v[i].name, sizeof v[i].name, "%s", aw_pg_result_get(r, i, 1));
        snprintf(v[i].sha, sizeof v[i].sha, "%s", aw_pg_result_get(r, i, 2));
        snprintf(v[i].applied_at, sizeof v[i].applied_at, "%s", aw_pg_result_get(r, i, 3));
    }
    aw_pg_result_free(r);
    *rec = v;
    *nrec = rows;
    return AW_OK;
}

static const recorded *find(const recorded *rec, int nrec, int version) {
    for (int i = 0; i < nrec; i++)
        if (rec[i].version == version)
            return &rec[i];
    return NULL;
}

/* Everything that must hold before the first statement runs. */
static int verify(const aw_migration *list, size_t n, const recorded *rec, int nrec,
                  char *errstr, size_t errn) {
    for (size_t i = 0; i < n; i++) {
        const recorded *r = find(rec, nrec, version_of(list[i].name));
        if (!r)
            continue;
        char sha[65];
        int rc = sha_hex(&list[i], sha);
        if (rc != AW_OK)
            return rc;
        if (strcmp(sha, r->sha) != 0) {
            snprintf(errstr, errn,
                     "migration %s was changed after it was applied on %s (recorded "
                     "sha256 %.12s..., file now %.12s...); applied migrations are never "
                     "edited: restore the file and put the change in a new migration",
                     list[i].name, r->applied_at, r->sha, sha);
            return AW_ECHECKSUM;
        }
    }
    int known = n ? version_of(list[n - 1].name) : 0;
    for (int i = 0; i < nrec; i++) {
        if (rec[i].version > known) {
            snprintf(errstr, errn,
                     "the database has migration %s applied, which this binary does not "
                     "know (it knows up to %04d): run a newer artifact-watch",
                     rec[i].name, known);
            return AW_EINVAL;
        }
    }
    return AW_OK;
}

int aw_migrate_apply(aw_pg *pg, const aw_migration *list, size_t n, int *applied,
                     char *errstr, size_t errn) {
    *applied = 0;
    recorded *rec;
    int nrec;
    int rc = prepare(pg, list, n, &rec, &nrec, errstr, errn);
    if (rc != AW_OK)
        return rc;
    rc = verify(list, n, rec, nrec, errstr, errn);
    for (size_t i = 0; rc == AW_OK && i < n; i++) {
        int v = version_of(list[i].name);
        if (find(rec, nrec, v))
            continue;
        char sha[65], vtext[16];
        rc = sha_hex(&list[i], sha);
        if (rc != AW_OK)
            break;
        snprintf(vtext, sizeof vtext, "%d", v);
        const char *params[] = {vtext, list[i].name, sha};
        char inner[768] = "";
        rc = aw_pg_exec_script(pg, "BEGIN", errstr, errn);
        if (rc == AW_OK)
            rc = aw_pg_exec_script(pg, list[i].sql, inner, sizeof inner);
        if (rc == AW_OK)
            rc = aw_pg_query(pg,
                             "INSERT INTO aw.schema_migrations (version, name, sha256) "
                             "VALUES ($1::int, $2, $3)",
                             3, params, NULL, inner, sizeof inner);
        if (rc == AW_OK)
            rc = aw_pg_exec_script(pg, "COMMIT", inner, sizeof inner);
        if (rc != AW_OK) {
            char ignore[128];
            if (aw_pg_exec_script(pg, "ROLLBACK", ignore, sizeof ignore) != AW_OK)
                AW_DEBUG("migrate", "rollback: %s", ignore);
            if (inner[0])
                snprintf(errstr, errn, "migration %s failed and was rolled back: %s",
                         list[i].name, inner);
            break;
        }
        AW_INFO("migrate", "applied %s", list[i].name);
        (*applied)++;
    }
    free(rec);
    unlock(pg);
    return rc;
}

int aw_migrate_status(aw_pg *pg, const aw_migration *list, size_t n, FILE *out,
                      char *errstr, size_t errn) {
    recorded *rec;
    int nrec;
    int rc = prepare(pg, list, n, &rec, &nrec, errstr, errn);
    if (rc != AW_OK)
        return rc;
    for (size_t i = 0; i < n; i++) {
        const recorded *r = find(rec, nrec, version_of(list[i].name));
        char sha[65];
        if ((rc = sha_hex(&list[i], sha)) != AW_OK)
            break;
        if (!r)
            fprintf(out, "%-40s pending\n", list[i].name);
        else if (strcmp(r->sha, sha))
            fprintf(out, "%-40s applied %s, CHANGED SINCE (refused)\n", list[i].name,
                    r->applied_at);
        else
            fprintf(out, "%-40s applied %s\n", list[i].name, r->applied_at);
    }
    int known = n ? version_of(list[n - 1].name) : 0;
    for (int i = 0; i < nrec; i++)
        if (rec[i].version > known)
            fprintf(out, "%-40s applied %s, UNKNOWN to this binary\n", rec[i].name,
                    rec[i].applied_at);
    free(rec);
    unlock(pg);
    return rc;
}
