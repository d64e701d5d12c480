/*
 * PostgreSQL access. This header hides libpq: callers see an opaque
 * connection and result, and every error carries libpq's (or the server's)
 * own words in errstr. Only parameterized statements are offered for data;
 * aw_pg_exec_script exists for migration files, whose text is part of the
 * program, never user input.
 */
#ifndef AW_PG_H
#define AW_PG_H

#include <stdbool.h>
#include <stddef.h>

#include "aw/err.h"

typedef struct aw_pg aw_pg;

/* The advisory locks, all in one place: one retention run (plan and apply)
 * at a time; one migration at a time; the indexer's, shared by event batches
 * and exclusive for a listing's (a pair of keys: the transaction-level lock). */
#define AW_LOCK_RETENTION "7260519335"
#define AW_LOCK_MIGRATE "7260519334"
#define AW_LOCK_INDEX "1635213416, 1"
typedef struct aw_pg_result aw_pg_result;

/* Connects with a conninfo string or URI ("" uses PG* variables). Unless the
 * conninfo sets them: connect_timeout 10 s (or PGCONNECT_TIMEOUT), TCP
 * keepalives after 30 s idle, and tcp_user_timeout 30 s, so a server that
 * stops answering breaks the connection instead of holding it for the
 * kernel's timeouts. On failure *out is NULL and errstr holds libpq's
 * message. */
int aw_pg_connect(const char *conninfo, aw_pg **out, char *errstr, size_t errstr_size) AW_WUR;

/* Whether libpq can parse conninfo (a URI or key=value pairs; empty is
 * libpq's defaults). A malformed one is a configuration error, not an
 * outage to retry. */
bool aw_pg_conninfo_valid(const char *conninfo);

/* Closes the connection; NULL is ignored. */
void aw_pg_destroy(aw_pg *pg);

/* Runs SQL text that may hold several statements and returns no rows. */
int aw_pg_exec_script(aw_pg *pg, const char *sql, char *errstr, size_t errstr_size) AW_WUR;

/* Ends the open transaction with ROLLBACK (a failure of that is logged) and
 * returns rc: for the error path of a caller's transaction. */
int aw_pg_rollback(aw_pg *pg, int rc);

/*
 * Runs one parameterized statement (text parameters, NULL entries are SQL
 * NULL). On success *out (if out is not NULL) receives the result, owned by
 * the caller and freed with aw_pg_result_free; with out NULL the rows are
 * discarded. After a failure aw_pg_sqlstate() tells what kind it was.
 */
int aw_pg_query(aw_pg *pg, const char *sql, int nparams, const char *const *params,
                aw_pg_result **out, char *errstr, size_t errstr_size) AW_WUR;

int aw_pg_result_rows(const aw_pg_result *r);
/* The text value, or NULL for SQL NULL. Valid until the result is freed. */
const char *aw_pg_result_get(const aw_pg_result *r, int row, int col);
void aw_pg_result_free(aw_pg_result *r);

/* The SQLSTATE of the last failed statement ("22023"), "" after a success or
 * when the failure had none (the connection broke). */
const char *aw_pg_sqlstate(const aw_pg *pg);

/* True when the connection is unusable and must be re-established. */
bool aw_pg_is_broken(const aw_pg *pg);

/*
 * COPY ... FROM STDIN: begin with the COPY statement, put any number of
 * chunks of COPY text format, then end. A failure at any step leaves the
 * connection usable once aw_pg_copy_end has been called.
 */
int aw_pg_copy_begin(aw_pg *pg, const char *copy_sql, char *errstr, size_t errstr_size) AW_WUR;
int aw_pg_copy_put(aw_pg *pg, const char *data, size_t len, char *errstr, size_t errstr_size) AW_WUR;
/* Finishes the COPY; with errmsg non-NULL, aborts it with that message. */
int aw_pg_copy_end(aw_pg *pg, const char *errmsg, char *errstr, size_t errstr_size) AW_WUR;

/*
 * Runs copy_sql (a COPY ... TO STDOUT in text format) and hands every line,
 * without its newline and NUL-terminated in a buffer the callback may
 * change (aw_copy_split), to row. A non-zero return from row stops the
 * copy and is returned (the connection stays usable). AW_EPG with the
 * server's words.
 */
int aw_pg_copy_out(aw_pg *pg, const char *copy_sql, int (*row)(void *ud, char *line, size_t len),
                   void *ud, char *errstr, size_t errstr_size) AW_WUR;

/* LISTEN on channel (a plain identifier). AW_EPG. */
int aw_pg_listen(aw_pg *pg, const char *channel, char *errstr, size_t errstr_size) AW_WUR;

/*
 * Waits up to timeout_ms for notifications on the channels listened to and
 * consumes every one pending. Returns 1 when some arrived, 0 when the time
 * ran out, AW_EPG when the connection broke.
 */
int aw_pg_wait_notify(aw_pg *pg, long timeout_ms, char *errstr, size_t errstr_size);

/*
 * True when the last failure was caused by the data of the statement: a data
 * exception (SQLSTATE class 22), an integrity constraint (23) or a program
 * limit such as an index row too large (54). Anything else (a lost or
 * read-only connection after a failover, a full disk, out of memory, a
 * statement or lock timeout, a cancel, a missing privilege, serialization
 * failures) is the database's state, worth retrying later with the same data.
 */
bool aw_pg_failure_is_data(const aw_pg *pg);

#endif
