/*
 * The one file that includes libpq. Keeping it here means the rest of the
 * program never handles PGresult lifetimes or connection state directly.
 */
#include "aw/pg.h"

#include <errno.h>
#include <poll.h>

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aw/log.h"

struct aw_pg {
    PGconn *conn;
    char sqlstate[6];
};

struct aw_pg_result {
    PGresult *res;
};

static void copy_err(char *errstr, size_t n, const char *what, const char *msg) {
    if (!errstr || !n)
        return;
    snprintf(errstr, n, "%s: %s", what, msg && *msg ? msg : "unknown error");
    /* libpq messages span lines ("...failed\n\tIs the server running"):
     * fold them, one log line per event */
    size_t l = strlen(errstr);
    while (l && (errstr[l - 1] == '\n' || errstr[l - 1] == ' '))
        errstr[--l] = '\0';
    for (char *p = errstr; *p; p++)
        if (*p == '\n' || *p == '\t')
            *p = ' ';
}

/* Keep server NOTICEs (e.g. "schema already exists") out of stderr. */
static void quiet_notice(void *arg, const char *message) {
    (void)arg;
    (void)message;
}

/* Replaces every occurrence of secret (if at least 2 bytes) in msg. */
static void mask(char *msg, const char *secret, size_t slen) {
    if (slen < 2)
        return;
    for (char *p = msg; (p = strstr(p, secret)) != NULL;) {
        memset(p, '*', slen);
        p += slen;
    }
}

/*
 * libpq's words about a connection string may quote it back (a malformed
 * percent-escape is shown with its surroundings): every form of the
 * password it holds, parsed or as written in a URI's user-info or a
 * password=... pair, is masked in msg, and a quoted token is dropped when
 * the string could not be parsed at all.
 */
static void redact(const char *conninfo, char *msg) {
    char *err = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &err);
    if (opts) {
        for (PQconninfoOption *o = opts; o->keyword; o++)
            if (o->val && !strcmp(o->keyword, "password"))
                mask(msg, o->val, strlen(o->val));
        PQconninfoFree(opts);
    } else {
        PQfreemem(err);
        for (char *q = strchr(msg, '"'); q; q = strchr(q + 1, '"')) {
            char *e = strchr(q + 1, '"');
            if (!e)
                break;
            memset(q + 1, '*', (size_t)(e - q - 1));
            q = e;
        }
    }
    /* as written: scheme://user:PASSWORD@host, password=PASSWORD */
    const char *s = strstr(conninfo, "://");
    if (s) {
        s += 3;
        const char *at = strchr(s, '@'), *colon = strchr(s, ':');
        if (at && colon && colon < at)
            mask(msg, colon + 1, (size_t)(at - colon - 1));
    }
    for (const char *p = strstr(conninfo, "password"); p; p = strstr(p + 8, "password")) {
        const char *v = p + 8;
        while (*v == ' ')
            v++;
        if (*v != '=')
            continue;
        v++;
        while (*v == ' ' || *v == '\'')
            v++;
        size_t l = strcspn(v, " '&");
        char tmp[256];
        if (l && l < sizeof tmp) {
            memcpy(tmp, v, l);
            tmp[l] = '\0';
            mask(msg, tmp, l);
        }
    }
}

bool aw_pg_conninfo_valid(const char *conninfo) {
    if (!conninfo || !*conninfo)
        return true;
    char *err = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &err);
    PQfreemem(err);
    PQconninfoFree(opts);
    return opts != NULL;
}

int aw_pg_connect(const char *conninfo, aw_pg **out, char *errstr, size_t n) {
    *out = NULL;
    aw_pg *pg = calloc(1, sizeof *pg);
    if (!pg)
        return AW_ENOMEM;
    /* A server that stops answering (a dropped route, a failover that took
     * its address along, a firewall that drops) would hold a connect, or a
     * query whose bytes are never acknowledged, for the kernel's TCP
     * timeouts: minutes to hours, and a shutdown with them. Unless the
     * conninfo says otherwise: a connect gives up after 10 s (or
     * PGCONNECT_TIMEOUT), data unacknowledged for 30 s or an idle
     * connection that misses three keepalives 10 s apart (after 30 s of
     * silence) breaks the connection, and the caller reconnects. The
     * conninfo comes later in the list, so its own settings win; a NULL
     * value lets libpq read the variable. */
    static const char *const keys[] = {"connect_timeout", "keepalives_idle",
                                       "keepalives_interval", "keepalives_count",
                                       "tcp_user_timeout", "dbname", NULL};
    const char *vals[] = {getenv("PGCONNECT_TIMEOUT") ? NULL : "10", "30", "10", "3", "30000",
                          conninfo ? conninfo : "", NULL};
    pg->conn = PQconnectdbParams(keys, vals, 1);
    if (!pg->conn) {
        free(pg);
        return AW_ENOMEM;
    }
    if (PQstatus(pg->conn) != CONNECTION_OK) {
        copy_err(errstr, n, "cannot connect to PostgreSQL", PQerrorMessage(pg->conn));
        if (errstr && n)
            redact(conninfo ? conninfo : "", errstr);
        PQfinish(pg->conn);
        free(pg);
        return AW_EPG;
    }
    PQsetNoticeProcessor(pg->conn, quiet_notice, NULL);
    *out = pg;
    return AW_OK;
}

void aw_pg_destroy(aw_pg *pg) {
    if (!pg)
        return;
    PQfinish(pg->conn);
    free(pg);
}

static int check(aw_pg *pg, PGresult *res, char *errstr, size_t n) {
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        pg->sqlstate[0] = '\0';
        return AW_OK;
    }
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    snprintf(pg->sqlstate, sizeof pg->sqlstate, "%s", state ? state : "");
    copy_err(errstr, n, "PostgreSQL",
             res ? PQresultErrorMessage(res) : PQerrorMessage(pg->conn));
    return AW_EPG;
}

int aw_pg_exec_script(aw_pg *pg, const char *sql, char *errstr, size_t n) {
    PGresult *res = PQexec(pg->conn, sql);
    int rc = check(pg, res, errstr, n);
    PQclear(res);
    return rc;
}

int aw_pg_query(aw_pg *pg, const char *sql, int nparams, const char *const *params,
                aw_pg_result **out, char *errstr, size_t n) {
    if (out)
        *out = NULL;
    PGresult *res = PQexecParams(pg->conn, sql, nparams, NULL, params, NULL, NULL, 0);
    int rc = check(pg, res, errstr, n);
    if (rc != AW_OK || !out) {
        PQclear(res);
        return rc;
    }
    aw_pg_result *r = malloc(sizeof *r);
    if (!r) {
        PQclear(res);
        return AW_ENOMEM;
    }
    r->res = res;
    *out = r;
    return AW_OK;
}

int aw_pg_result_rows(const aw_pg_result *r) { return PQntuples(r->res); }

const char *aw_pg_result_get(const aw_pg_result *r, int row, int col) {
    if (PQgetisnull(r->res, row, col))
        return NULL;
    return PQgetvalue(r->res, row, col);
}

void aw_pg_result_free(aw_pg_result *r) {
    if (!r)
        return;
    PQclear(r->res);
    free(r);
}

/* Reads the results that end a COPY; rc, or the first failure among them. */
static int finish(aw_pg *pg, int rc, char *errstr, size_t n) {
    PGresult *res;
    while ((res = PQgetResult(pg->conn))) {
        int r = check(pg, res, errstr, n);
        if (rc == AW_OK)
            rc = r;
        PQclear(res);
    }
    return rc;
}

int aw_pg_copy_begin(aw_pg *pg, const char *copy_sql, char *errstr, size_t n) {
    PGresult *res = PQexec(pg->conn, copy_sql);
    if (res && PQresultStatus(res) == PGRES_COPY_IN) {
        PQclear(res);
        return AW_OK;
    }
    int rc = check(pg, res, errstr, n);
    PQclear(res);
    return rc == AW_OK ? AW_EPG : rc;
}

int aw_pg_copy_put(aw_pg *pg, const char *data, size_t len, char *errstr, size_t n) {
    while (len > 0) {
        int chunk = len > (1u << 30) ? (1 << 30) : (int)len;
        if (PQputCopyData(pg->conn, data, chunk) != 1) {
            copy_err(errstr, n, "COPY", PQerrorMessage(pg->conn));
            snprintf(pg->sqlstate, sizeof pg->sqlstate, "08006");
            return AW_EPG;
        }
        data += chunk;
        len -= (size_t)chunk;
    }
    return AW_OK;
}

int aw_pg_copy_end(aw_pg *pg, const char *errmsg, char *errstr, size_t n) {
    if (PQputCopyEnd(pg->conn, errmsg) != 1) {
        copy_err(errstr, n, "COPY", PQerrorMessage(pg->conn));
        snprintf(pg->sqlstate, sizeof pg->sqlstate, "08006");
        return AW_EPG;
    }
    return finish(pg, AW_OK, errstr, n);
}

int aw_pg_copy_out(aw_pg *pg, const char *copy_sql, int (*row)(void *, char *, size_t),
                   void *ud, char *errstr, size_t n) {
    PGresult *res = PQexec(pg->conn, copy_sql);
    if (!res || PQresultStatus(res) != PGRES_COPY_OUT) {
        int rc = check(pg, res, errstr, n);
        PQclear(res);
        return rc == AW_OK ? AW_EPG : rc;
    }
    PQclear(res);
    int rc = AW_OK, len;
    char *buf;
    while ((len = PQgetCopyData(pg->conn, &buf, 0)) > 0) {
        if (rc == AW_OK) {
            size_t l = (size_t)len;
            if (l > 0 && buf[l - 1] == '\n')
                l--;
            buf[l] = '\0';
            rc = row(ud, buf, l);
        }
        PQfreemem(buf);
        /* after a refusal the rest is read and dropped: libpq has no way to
         * cancel a COPY OUT short of cancelling the query */
    }
    if (len == -2) {
        copy_err(errstr, n, "COPY", PQerrorMessage(pg->conn));
        snprintf(pg->sqlstate, sizeof pg->sqlstate, "08006");
        return AW_EPG;
    }
    return finish(pg, rc, errstr, n);
}

int aw_pg_listen(aw_pg *pg, const char *channel, char *errstr, size_t n) {
    for (const char *c = channel; *c; c++)
        if (!(*c == '_' || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9'))) {
            snprintf(errstr, n, "\"%s\" is not a channel name", channel);
            return AW_EPG;
        }
    char sql[128];
    snprintf(sql, sizeof sql, "LISTEN %s", channel);
    return aw_pg_exec_script(pg, sql, errstr, n);
}

/* Takes every pending notification; true when there was one. */
static bool take_notifies(aw_pg *pg) {
    bool any = false;
    PGnotify *nt;
    while ((nt = PQnotifies(pg->conn))) {
        any = true;
        PQfreemem(nt);
    }
    return any;
}

int aw_pg_wait_notify(aw_pg *pg, long timeout_ms, char *errstr, size_t n) {
    if (PQconsumeInput(pg->conn) != 1)
        goto broken;
    if (take_notifies(pg))
        return 1;
    struct pollfd pfd = {.fd = PQsocket(pg->conn), .events = POLLIN};
    if (pfd.fd < 0)
        goto broken;
    int r = poll(&pfd, 1, (int)(timeout_ms > 0 ? timeout_ms : 0));
    if (r < 0 && errno != EINTR)
        goto broken;
    if (r > 0 && PQconsumeInput(pg->conn) != 1)
        goto broken;
    return take_notifies(pg) ? 1 : 0;
broken:
    copy_err(errstr, n, "PostgreSQL", PQerrorMessage(pg->conn));
    snprintf(pg->sqlstate, sizeof pg->sqlstate, "08006");
    return AW_EPG;
}

bool aw_pg_failure_is_data(const aw_pg *pg) {
    if (PQstatus(pg->conn) != CONNECTION_OK)
        return false;
    const char *s = pg->sqlstate;
    return !strncmp(s, "22", 2) || !strncmp(s, "23", 2) || !strncmp(s, "54", 2);
}

const char *aw_pg_sqlstate(const aw_pg *pg) { return pg->sqlstate; }

bool aw_pg_is_broken(const aw_pg *pg) { return PQstatus(pg->conn) != CONNECTION_OK; }

int aw_pg_rollback(aw_pg *pg, int rc) {
    char ignore[128];
    if (aw_pg_exec_script(pg, "ROLLBACK", ignore, sizeof ignore) != AW_OK)
        AW_WARN("pg", "ROLLBACK: %s", ignore);
    return rc;
}
