/*
 * `artifact-watch console`: a read-only web console. Every page is a
 * document made by one SQL function of migration 0017 (served as JSON under
 * /api/v1/) and drawn as HTML on the server; no script runs in the browser.
 * Sessions are read-only (default_transaction_read_only) with a statement
 * timeout; with a token every request but /healthz needs
 * "Authorization: Bearer <token>".
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aw/console.h"
#include "aw/daemon.h"
#include "aw/log.h"
#include "aw/pg.h"
#include "aw/producer.h"
#include "aw/util.h"
#include "internal.h"

#define LOG "console"
#define POOL_MAX 64

struct console {
    const aw_config *cfg;
    char token[512];
    size_t token_len;
    pthread_mutex_t mu;       /* the idle sessions and the summary */
    aw_pg *idle[POOL_MAX];
    size_t nidle;
    char *summary;            /* the last summary document */
    int64_t summary_at;       /* when it was read (ms), 0: never */
    bool summary_busy;        /* a request is reading it now */
};

const aw_config *console_cfg(const console *c) { return c->cfg; }

static const char css[] =
    "body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}"
    "header{background:#1d2330;color:#fff;padding:.6em 1.2em;display:flex;gap:1.4em;"
    "align-items:center;flex-wrap:wrap}header a{color:#cfe0ff;text-decoration:none}"
    "header strong{color:#fff}header form{margin-left:auto}main{padding:1em 1.2em}"
    "table{border-collapse:collapse;background:#fff;margin:.4em 0 1.2em;font-size:13px}"
    "th,td{border:1px solid #dde1e7;padding:.25em .5em;text-align:left;vertical-align:top}"
    "th{background:#eef1f5}td.n{text-align:right;font-variant-numeric:tabular-nums}"
    "code,.mono{font-family:ui-monospace,monospace;font-size:12px;word-break:break-all}"
    ".ok,.verified,.present,.deleted-ok{color:#17803d}.mismatch,.failed,.open,"
    ".checksum_mismatch{color:#b42318;font-weight:600}.missing,.unverified{color:#9a6700}"
    ".muted{color:#6b7280}.graph{background:#fff;border:1px solid #dde1e7;overflow:auto;"
    "max-height:70vh;padding:.5em}.graph svg{max-width:100%;height:auto}"
    "input,select,button{font:inherit;padding:.15em .4em}h1{font-size:20px}"
    "h2{font-size:16px;margin-top:1.4em}dl{display:grid;grid-template-columns:max-content auto;"
    "gap:.2em 1em}dt{color:#6b7280}.err{background:#fee4e2;border:1px solid #fda29b;"
    "padding:.6em 1em}";

/* ------------------------------------------------------------ sessions */

static aw_pg *session_take(console *c, char *why, size_t n) {
    pthread_mutex_lock(&c->mu);
    aw_pg *pg = c->nidle ? c->idle[--c->nidle] : NULL;
    pthread_mutex_unlock(&c->mu);
    if (pg)
        return pg;
    if (aw_pg_connect(c->cfg->pg_conninfo, &pg, why, n) != AW_OK)
        return NULL;
    char set[200], err[512];
    snprintf(set, sizeof set,
             "SET default_transaction_read_only = on; SET statement_timeout = '%lds';"
             " SET application_name = 'artifact-watch console'",
             c->cfg->console_query_timeout_s);
    if (aw_pg_exec_script(pg, set, err, sizeof err) != AW_OK) {
        snprintf(why, n, "%s", err);
        aw_pg_destroy(pg);
        return NULL;
    }
    return pg;
}

static void session_give(console *c, aw_pg *pg) {
    pthread_mutex_lock(&c->mu);
    if (c->nidle < POOL_MAX && !aw_pg_is_broken(pg)) {
        c->idle[c->nidle++] = pg;
        pg = NULL;
    }
    pthread_mutex_unlock(&c->mu);
    aw_pg_destroy(pg);
}

void console_doc(console *c, const char *sql, int nparams, const char *const *params,
                 page_doc *d) {
    char err[1024];
    aw_pg *pg = session_take(c, err, sizeof err);
    if (!pg) {
        d->status = 503;
        snprintf(d->why, sizeof d->why, "the database is not answering: %s", err);
        return;
    }
    aw_pg_result *r = NULL;
    if (aw_pg_query(pg, sql, nparams, params, &r, err, sizeof err) != AW_OK) {
        const char *state = aw_pg_sqlstate(pg);
        if (!strcmp(state, "57014")) {
            d->status = 504;
            snprintf(d->why, sizeof d->why, "the query took longer than %lds and was cancelled: "
                     "ask for less (a bucket, a longer prefix, a smaller depth)",
                     c->cfg->console_query_timeout_s);
        } else if (!strncmp(state, "22", 2)) {
            d->status = 400;
            snprintf(d->why, sizeof d->why, "%s", err);
        } else {
            d->status = 503;
            snprintf(d->why, sizeof d->why, "the database failed: %s", err);
        }
        session_give(c, pg);
        return;
    }
    const char *cell = aw_pg_result_rows(r) ? aw_pg_result_get(r, 0, 0) : NULL;
    if (!cell) {
        d->status = 404;
        snprintf(d->why, sizeof d->why, "not found");
    } else if (!(d->json = strdup(cell))) {
        d->status = 503;
        snprintf(d->why, sizeof d->why, "out of memory");
    } else {
        d->status = 200;
    }
    aw_pg_result_free(r);
    session_give(c, pg);
}

/* ------------------------------------------------------------ summary */

/* Ingest's lag from Kafka, into the summary document. */
static char *with_lag(console *c, char *json) {
    json_error_t je;
    json_t *doc = json_loads(json, 0, &je);
    if (!doc)
        return json;
    long long lag = 0;
    char err[512] = "";
    json_t *ingest = json_pack("{s:s, s:s}", "group", c->cfg->kafka_group, "topic",
                               c->cfg->kafka_topic);
    if (aw_kafka_group_lag(c->cfg, c->cfg->kafka_topic, c->cfg->kafka_group, 3000, &lag, err,
                           sizeof err) == AW_OK)
        json_object_set_new(ingest, "lag", json_integer(lag));
    else
        json_object_set_new(ingest, "error", json_string(err));
    json_object_set_new(doc, "ingest", ingest);
    char *out = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    if (!out)
        return json;
    free(json);
    return out;
}

void console_summary(console *c, page_doc *d) {
    int64_t now = aw_now_ms(), every = c->cfg->console_summary_every_s * 1000;
    pthread_mutex_lock(&c->mu);
    /* one request reads it again; the others are served the last one */
    bool mine = !c->summary_busy && (!c->summary || now - c->summary_at >= every);
    if (mine)
        c->summary_busy = true;
    char *have = c->summary ? strdup(c->summary) : NULL;
    pthread_mutex_unlock(&c->mu);
    if (!mine && have) {
        d->status = 200;
        d->json = have;
        return;
    }
    free(have);
    console_doc(c, "SELECT aw.console_summary()", 0, NULL, d);
    if (d->status == 200)
        d->json = with_lag(c, d->json);
    pthread_mutex_lock(&c->mu);
    if (mine)
        c->summary_busy = false;
    if (d->status == 200) {
        char *copy = strdup(d->json);
        if (copy) {
            free(c->summary);
            c->summary = copy;
            c->summary_at = aw_now_ms();
        }
    }
    pthread_mutex_unlock(&c->mu);
}

/* ------------------------------------------------------------ routing */

typedef struct route {
    const char *path;     /* the HTML page; /api/v1/<name> is its document */
    const char *name;
    doc_fn doc;
    page_fn page;
    const char *title;
} route;

static const route routes[] = {
    {"/", "summary", doc_summary, page_home, "artifact-watch"},
    {"/search", "search", doc_search, page_search, "Search"},
    {"/object", "object", doc_object, page_object, "Object"},
    {"/lineage", "lineage", doc_lineage, page_lineage, "Lineage"},
    {"/alerts", "alerts", doc_alerts, page_alerts, "Alerts"},
    {"/alert", "alert", doc_alert, page_alert, "Alert"},
    {"/retention", "retention", doc_retention, page_retention, "Retention"},
    {"/plan", "plan", doc_plan, page_plan, "Retention plan"},
    {"/run", "run", doc_run, page_run, "Retention run"},
};
#define NROUTES (sizeof routes / sizeof routes[0])

static void security_headers(aw_reply *rp) {
    aw_reply_header(rp, "Content-Security-Policy",
                    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
                    "frame-ancestors 'none'; base-uri 'none'");
    aw_reply_header(rp, "X-Content-Type-Options", "nosniff");
    aw_reply_header(rp, "X-Frame-Options", "DENY");
    aw_reply_header(rp, "Referrer-Policy", "no-referrer");
    aw_reply_header(rp, "Cache-Control", "no-store");
}

/* The token, compared in time that does not depend on where it differs. */
static bool authorized(const console *c, const aw_request *rq) {
    if (!c->token_len)
        return true;
    const char *h = aw_request_header(rq, "Authorization");
    if (!h || strncmp(h, "Bearer ", 7))
        return false;
    h += 7;
    size_t hl = strlen(h);
    unsigned char diff = hl != c->token_len;
    for (size_t i = 0; i < c->token_len; i++)
        diff |= (unsigned char)(c->token[i] ^ (i < hl ? h[i] : 0));
    return diff == 0;
}

static void serve_page(console *c, const route *r, bool api, const aw_request *rq,
                       aw_reply *rp) {
    page_doc d = {0};
    r->doc(c, rq, &d);
    if (api) {
        if (d.status == 200) {
            aw_reply_set(rp, 200, "application/json", d.json);
        } else {
            json_t *e = json_pack("{s:i, s:s}", "status", d.status, "error", d.why);
            aw_reply_set(rp, d.status, "application/json", e ? json_dumps(e, JSON_COMPACT) : NULL);
            json_decref(e);
        }
        return;
    }
    json_error_t je;
    json_t *doc = d.status == 200 ? json_loads(d.json, 0, &je) : NULL;
    free(d.json);
    if (!doc) {
        aw_reply_set(rp, d.status == 200 ? 500 : d.status, "text/html; charset=utf-8",
                     page_error(d.status == 200 ? 500 : d.status,
                                d.status == 200 ? "the document could not be read" : d.why));
        return;
    }
    hb body = {0};
    r->page(&body, doc, rq);
    json_decref(doc);
    aw_reply_set(rp, 200, "text/html; charset=utf-8", page_frame(r->title, &body));
}

static void route_request(console *c, const aw_request *rq, aw_reply *rp);

/* Every answer says how long the server took (Server-Timing), so a bench
 * or a browser's tools read the server's part apart from the network's. */
static void handle(void *ud, const aw_request *rq, aw_reply *rp) {
    static _Thread_local char timing[48];
    int64_t t0 = aw_now_us();
    route_request(ud, rq, rp);
    snprintf(timing, sizeof timing, "app;dur=%.3f", (double)(aw_now_us() - t0) / 1000.0);
    aw_reply_header(rp, "Server-Timing", timing);
}

static void route_request(console *c, const aw_request *rq, aw_reply *rp) {
    const char *path = aw_request_path(rq);
    security_headers(rp);
    if (!strcmp(path, "/healthz")) {
        aw_reply_set(rp, 200, "text/plain; charset=utf-8", strdup("ok\n"));
        return;
    }
    if (!strcmp(path, "/readyz")) { /* ready while the database answers */
        page_doc d = {0};
        console_doc(c, "SELECT 'true'", 0, NULL, &d);
        free(d.json);
        aw_reply_set(rp, d.status == 200 ? 200 : 503, "text/plain; charset=utf-8",
                     strdup(d.status == 200 ? "ready\n" : "the database is not answering\n"));
        return;
    }
    if (!authorized(c, rq)) {
        aw_reply_header(rp, "WWW-Authenticate", "Bearer realm=\"artifact-watch\"");
        aw_reply_set(rp, 401, "text/plain; charset=utf-8",
                     strdup("401: send Authorization: Bearer <token>\n"));
        return;
    }
    if (!strcmp(path, "/static/console.css")) {
        aw_reply_set(rp, 200, "text/css; charset=utf-8", strdup(css));
        return;
    }
    bool api = !strncmp(path, "/api/v1/", 8);
    for (size_t i = 0; i < NROUTES; i++)
        if (api ? !strcmp(path + 8, routes[i].name) : !strcmp(path, routes[i].path)) {
            serve_page(c, &routes[i], api, rq, rp);
            return;
        }
    if (!strcmp(path, "/graph.svg")) { /* the lineage graph alone */
        page_doc d = {0};
        doc_lineage(c, rq, &d);
        json_error_t je;
        json_t *doc = d.status == 200 ? json_loads(d.json, 0, &je) : NULL;
        char why[256] = "";
        char *svg = doc ? graph_svg(doc, why, sizeof why) : NULL;
        json_decref(doc);
        free(d.json);
        aw_reply_set(rp, svg ? 200 : d.status != 200 ? d.status : 500,
                     svg ? "image/svg+xml" : "text/plain; charset=utf-8",
                     svg ? svg : strdup(d.status != 200 ? d.why : why));
        return;
    }
    aw_reply_set(rp, 404, api ? "application/json" : "text/html; charset=utf-8",
                 api ? strdup("{\"status\":404,\"error\":\"no such document\"}")
                     : page_error(404, "no such page"));
}

/* ------------------------------------------------------------ command */

static int read_token(console *c, const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "artifact-watch console: --token-file %s: %s\n", path, strerror(errno));
        return 2;
    }
    size_t n = fread(c->token, 1, sizeof c->token - 1, f);
    bool more = fgetc(f) != EOF;
    fclose(f);
    c->token[n] = '\0';
    while (n && (c->token[n - 1] == '\n' || c->token[n - 1] == '\r' || c->token[n - 1] == ' '))
        c->token[--n] = '\0';
    c->token_len = n;
    if (more || n < 16 || strpbrk(c->token, "\r\n")) {
        fprintf(stderr, "artifact-watch console: --token-file %s: the token must be one line of "
                        "16 to %zu characters\n", path, sizeof c->token - 2);
        return 2;
    }
    return 0;
}

int aw_cmd_console(aw_config *cfg) {
    console c = {.cfg = cfg, .mu = PTHREAD_MUTEX_INITIALIZER};
    char err[1024];
    bool loopback = false;
    if (aw_serve_addr_check(cfg->console_addr, &loopback, err, sizeof err) != AW_OK) {
        fprintf(stderr, "artifact-watch console: --addr %s\n", err);
        return 2;
    }
    if (*cfg->console_token_file && read_token(&c, cfg->console_token_file))
        return 2;
    if (!loopback && !c.token_len && !cfg->console_insecure_no_auth) {
        fprintf(stderr, "artifact-watch console: --addr %s can be reached from other machines: "
                        "give --token-file, or --insecure-no-auth when a proxy of yours "
                        "authenticates\n", cfg->console_addr);
        return 2;
    }
    aw_daemon_signals();
    page_doc d = {0};
    console_doc(&c, "SELECT to_jsonb(to_regprocedure('aw.console_summary()') IS NOT NULL)", 0,
                NULL, &d);
    if (d.status != 200 || strcmp(d.json, "true")) {
        fprintf(stderr, "artifact-watch console: %s\n",
                d.status != 200 ? d.why : "the schema is older than the console: run "
                                          "artifact-watch migrate");
        free(d.json);
        return 1;
    }
    free(d.json);
    aw_server *srv = NULL;
    if (aw_serve_start(cfg->console_addr, (unsigned)cfg->console_threads, handle, &c, &srv, err,
                       sizeof err) != AW_OK) {
        fprintf(stderr, "artifact-watch console: %s\n", err);
        return 2;
    }
    AW_INFO(LOG, "serving http://%s/ (%s)", cfg->console_addr,
            c.token_len ? "a token is needed" : "no token");
    while (!aw_stop)
        aw_nap(1000);
    aw_serve_stop(srv);
    for (size_t i = 0; i < c.nidle; i++)
        aw_pg_destroy(c.idle[i]);
    free(c.summary);
    return 0;
}
