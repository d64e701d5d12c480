/*
 * Migration refusals against a real PostgreSQL database (conninfo in argv[1],
 * a fresh database): an applied file that was edited, a migration that fails
 * half way (rolled back, nothing recorded), a database newer than the binary,
 * and badly named files. Each must fail with words that say what to do.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aw/migrate.h"
#include "aw/pg.h"
#include "../unit/test.h"

static long count(aw_pg *pg, const char *sql) {
    aw_pg_result *r;
    char err[512];
    if (aw_pg_query(pg, sql, 0, NULL, &r, err, sizeof err) != AW_OK)
        FAIL_("%s: %s", sql, err);
    long n = strtol(aw_pg_result_get(r, 0, 0), NULL, 10);
    aw_pg_result_free(r);
    return n;
}

int main(int argc, char **argv) {
    if (argc < 2)
        FAIL_("usage: migrate_refusals CONNINFO");
    aw_pg *pg;
    char err[2048];
    int applied;
    if (aw_pg_connect(argv[1], &pg, err, sizeof err) != AW_OK)
        FAIL_("%s", err);
    size_t n = aw_migrations_n;
    ASSERT(n >= 1);
    ASSERT_INT_EQ(aw_migrate_apply(pg, aw_migrations, n, &applied, err, sizeof err), AW_OK);
    ASSERT_INT_EQ(applied, (long)n);
    ASSERT_INT_EQ(aw_migrate_apply(pg, aw_migrations, n, &applied, err, sizeof err), AW_OK);
    ASSERT_INT_EQ(applied, 0);

    aw_migration *list = calloc(n + 1, sizeof *list);
    ASSERT(list != NULL);
    memcpy(list, aw_migrations, n * sizeof *list);

    /* 1. an applied file edited afterwards */
    static const char edited[] = "-- a harmless edit\nSELECT 1;";
    list[n - 1].sql = edited;
    list[n - 1].len = sizeof edited - 1;
    ASSERT_INT_EQ(aw_migrate_apply(pg, list, n, &applied, err, sizeof err), AW_ECHECKSUM);
    ASSERT_CONTAINS(err, aw_migrations[n - 1].name);
    ASSERT_CONTAINS(err, "was changed after it was applied");
    ASSERT_CONTAINS(err, "new migration");
    list[n - 1] = aw_migrations[n - 1];

    /* 2. a new migration that fails half way: rolled back, not recorded */
    static const char bad[] = "CREATE TABLE aw.itest_half (x int); SELECT 1/0;";
    list[n] = (aw_migration){"9998_fails.sql", bad, sizeof bad - 1};
    ASSERT_INT_EQ(aw_migrate_apply(pg, list, n + 1, &applied, err, sizeof err), AW_EPG);
    ASSERT_CONTAINS(err, "9998_fails.sql");
    ASSERT_CONTAINS(err, "division by zero");
    ASSERT_CONTAINS(err, "rolled back");
    ASSERT_INT_EQ(applied, 0);
    ASSERT_INT_EQ(count(pg, "SELECT count(*) FROM pg_tables WHERE schemaname='aw' AND "
                            "tablename='itest_half'"), 0);
    ASSERT_INT_EQ(count(pg, "SELECT count(*) FROM aw.schema_migrations WHERE version=9998"), 0);

    /* 3. badly named or out-of-order files */
    list[n] = (aw_migration){"fix.sql", "SELECT 1", 8};
    ASSERT_INT_EQ(aw_migrate_apply(pg, list, n + 1, &applied, err, sizeof err), AW_EINVAL);
    ASSERT_CONTAINS(err, "NNNN_name.sql");

    /* 4. the database is ahead of this binary */
    ASSERT_INT_EQ(aw_pg_query(pg, "INSERT INTO aw.schema_migrations (version, name, sha256) "
                                  "VALUES (9999, '9999_future.sql', repeat('0', 64))",
                              0, NULL, NULL, err, sizeof err), AW_OK);
    ASSERT_INT_EQ(aw_migrate_apply(pg, aw_migrations, n, &applied, err, sizeof err), AW_EINVAL);
    ASSERT_CONTAINS(err, "9999_future.sql");
    ASSERT_CONTAINS(err, "run a newer artifact-watch");

    free(list);
    aw_pg_destroy(pg);
    TEST_DONE();
}
