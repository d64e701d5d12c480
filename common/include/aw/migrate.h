/*
 * Schema migrations. The numbered files in sql/ are compiled into the binary
 * (see sql/embed.cmake) and applied in order, each in its own transaction,
 * with its SHA-256 recorded in aw.schema_migrations. A file that changed
 * after it was applied is refused: shipped migrations are never edited, a
 * change is a new file.
 */
#ifndef AW_MIGRATE_H
#define AW_MIGRATE_H

#include <stddef.h>
#include <stdio.h>

#include "aw/err.h"
#include "aw/pg.h"

typedef struct aw_migration {
    const char *name; /* "0001_init.sql" */
    const char *sql;
    size_t len;
} aw_migration;

extern const aw_migration aw_migrations[];
extern const size_t aw_migrations_n;

/*
 * Applies every pending migration from list[0..n) in order; concurrent
 * runners serialise on an advisory lock. *applied receives how many ran.
 * AW_ECHECKSUM when an applied file's checksum differs from the recorded
 * one; AW_EPG with the server's message when a statement fails (that
 * migration is rolled back, earlier ones stay).
 */
int aw_migrate_apply(aw_pg *pg, const aw_migration *list, size_t n, int *applied,
                     char *errstr, size_t errstr_size) AW_WUR;

/* Prints one line per migration: applied (with time) or pending. */
int aw_migrate_status(aw_pg *pg, const aw_migration *list, size_t n, FILE *out,
                      char *errstr, size_t errstr_size) AW_WUR;

#endif
