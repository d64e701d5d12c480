/*
 * `artifact-watch alerts list|show|resolve|push`. The rows of aw.alerts are
 * the facts; list and show print them, resolve records a person's word that
 * an alert is dealt with (and why), and push (push.c) delivers them.
 */
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aw/codec.h"
#include "aw/log.h"
#include "aw/metrics.h"
#include "aw/integrity.h"
#include "aw/util.h"
#include "internal.h"

#define S(x) ((x) ? (x) : "")


enum { LIST, SHOW, RESOLVE, PUSH };
static const aw_verb verbs[] = {
    [LIST] = {"list", 0, " [--state open|resolved|all] [--format table|json]"},
    [SHOW] = {"show", 1, " ID [--format table|json|dot]"},
    [RESOLVE] = {"resolve", 1, " ID --reason TEXT"},
    [PUSH] = {"push", 0, " [--alertmanager-url URL] [--alerts-topic TOPIC] [--resend 60s]"
                         " [--min-interval 5s] [--once]"},
    {NULL, 0, NULL},
};

#define V(r, i, c) aw_pg_result_get((r), (i), (c))

static json_t *jstr(const char *s) { return s ? json_string(s) : json_null(); }

static json_t *row_json(const aw_pg_result *r, int i) {
    json_error_t je;
    json_t *uris = json_loads(S(V(r, i, A_URIS)), 0, &je);
    json_t *detail = V(r, i, A_DETAIL) ? json_loads(V(r, i, A_DETAIL), 0, &je) : NULL;
    char uri[2200];
    snprintf(uri, sizeof uri, "s3://%s/%s", S(V(r, i, A_BUCKET)), S(V(r, i, A_KEY)));
    return json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:s, s:s, s:I,"
                     " s:o, s:I, s:o, s:o, s:o}",
                     "id", (json_int_t)strtoll(S(V(r, i, A_ID)), NULL, 10), "kind",
                     S(V(r, i, A_KIND)), "state", S(V(r, i, A_STATE)), "uri", uri, "store",
                     S(V(r, i, A_STORE)), "bucket", S(V(r, i, A_BUCKET)), "key",
                     S(V(r, i, A_KEY)), "version_id", jstr(V(r, i, A_VERSION)),
                     "object_version_id", V(r, i, A_OVID)
                         ? json_integer(strtoll(V(r, i, A_OVID), NULL, 10)) : json_null(),
                     "expected", jstr(V(r, i, A_EXPECTED)), "actual", jstr(V(r, i, A_ACTUAL)),
                     "first_seen_at", S(V(r, i, A_FIRST)), "last_seen_at", S(V(r, i, A_LAST)),
                     "seen_count", (json_int_t)strtoll(S(V(r, i, A_SEEN)), NULL, 10),
                     "resolved_at", jstr(V(r, i, A_RESOLVED)), "blast_radius",
                     (json_int_t)strtoll(S(V(r, i, A_RADIUS)), NULL, 10), "blast_uris",
                     uris ? uris : json_array(), "detail", detail ? detail : json_null(),
                     "artifact", jstr(V(r, i, A_ARTIFACT)));
}

static void print_json(json_t *doc) {
    char *s = doc ? json_dumps(doc, JSON_INDENT(2)) : NULL;
    if (s)
        printf("%s\n", s);
    free(s);
    json_decref(doc);
}

static int cmd_list(aw_pg *pg, const aw_config *cfg) {
    const char *params[1] = {aw_alert_state_words[cfg->alerts_state]};
    aw_pg_result *r = NULL;
    char err[1024];
    if (aw_pg_query(pg, "SELECT " ALERT_COLS " FROM aw.alerts a WHERE $1 = 'all' OR a.state = $1"
                        " ORDER BY a.last_seen_at DESC, a.id DESC",
                    1, params, &r, err, sizeof err) != AW_OK) {
        fprintf(stderr, "artifact-watch alerts: %s\n", err);
        return 1;
    }
    int n = aw_pg_result_rows(r);
    if (cfg->alerts_format == AW_FMT_JSON) {
        json_t *arr = json_array();
        for (int i = 0; i < n; i++)
            json_array_append_new(arr, row_json(r, i));
        print_json(arr);
    } else {
        printf("%-6s  %-24s  %-8s  %-56s  %6s  %-20s  %s\n", "ID", "KIND", "STATE", "URI",
               "BLAST", "LAST SEEN", "SEEN");
        for (int i = 0; i < n; i++) {
            char uri[2200], u[64];
            snprintf(uri, sizeof uri, "s3://%s/%s", S(V(r, i, A_BUCKET)), S(V(r, i, A_KEY)));
            printf("%-6s  %-24s  %-8s  %-56s  %6s  %-20s  %s\n", S(V(r, i, A_ID)),
                   S(V(r, i, A_KIND)), S(V(r, i, A_STATE)), aw_text_cell(uri, u, 56),
                   S(V(r, i, A_RADIUS)), S(V(r, i, A_LAST)), S(V(r, i, A_SEEN)));
        }
        if (!n)
            printf("(no %s alerts)\n", cfg->alerts_state == AW_ALERTS_ALL
                                           ? "" : aw_alert_state_words[cfg->alerts_state]);
    }
    aw_pg_result_free(r);
    return 0;
}

/* A DOT string's body: escaped text, and no double quote. */
static void dot_quote(char *s) {
    for (; *s; s++)
        if (*s == '"')
            *s = '\'';
}

/* The blast radius as a Graphviz graph. */
static void show_dot(aw_pg_result *walk, int nw) {
    /* the bad version in red, everything made from it below */
    printf("digraph blast_radius {\n  rankdir=LR;\n  node [shape=box, fontsize=10];\n");
    for (int i = 0; i < nw; i++) {
        char u[1200];
        aw_escape_text(S(V(walk, i, 1)), strlen(S(V(walk, i, 1))), u, sizeof u);
        dot_quote(u);
        printf("  \"%s\"%s;\n", u, i == 0 ? " [color=red, fontcolor=red]" : "");
    }
    /* each node is reached from the one before it on its path */
    for (int i = 0; i < nw; i++) {
        if (!V(walk, i, 5))
            continue;
        char from[1200], to[1200];
        aw_escape_text(V(walk, i, 5), strlen(V(walk, i, 5)), from, sizeof from);
        aw_escape_text(S(V(walk, i, 1)), strlen(S(V(walk, i, 1))), to, sizeof to);
        dot_quote(from);
        dot_quote(to);
        printf("  \"%s\" -> \"%s\";\n", from, to);
    }
    printf("}\n");
}

/* The alert's fields, then what was made from it. */
static void show_text(aw_pg_result *r, aw_pg_result *walk, int nw) {
    static const char *const names[] = {"id", "kind", "state", "store", "bucket", "key",
                                         "version_id", "object_version_id", "expected",
                                         "actual", "first_seen_at", "last_seen_at",
                                         "seen_count", "resolved_at", "blast_radius"};
    for (size_t c = 0; c < sizeof names / sizeof names[0]; c++) {
        char v[1200];
        printf("%-18s %s\n", names[c], V(r, 0, (int)c) ? aw_text_cell(V(r, 0, (int)c), v, 1100) : "-");
    }
    printf("%-18s %s\n\n", "detail", S(V(r, 0, A_DETAIL)));
    printf("%-5s  %-70s  %-10s  %s\n", "DEPTH", "DOWNSTREAM", "EDGE", "STATE");
    for (int i = 0; i < nw; i++) {
        char u[80];
        printf("%-5s  %-70s  %-10s  %s\n", S(V(walk, i, 0)), aw_text_cell(V(walk, i, 1), u, 70),
               V(walk, i, 3) ? V(walk, i, 3) : "-", V(walk, i, 4) ? V(walk, i, 4) : "start");
    }
}

static int cmd_show(aw_pg *pg, const aw_config *cfg) {
    long id;
    if (aw_parse_long(cfg->args[1], 1, 1L << 62, &id) != AW_OK) {
        fprintf(stderr, "artifact-watch alerts: show needs an alert id\n");
        aw_verb_usage(stderr, "alerts", verbs);
        return 2;
    }
    const char *params[1] = {cfg->args[1]};
    aw_pg_result *r = NULL, *walk = NULL;
    char err[1024];
    int rc = aw_pg_query(pg, "SELECT " ALERT_COLS " FROM aw.alerts a WHERE a.id = $1::bigint", 1,
                         params, &r, err, sizeof err);
    if (rc == AW_OK && aw_pg_result_rows(r) == 1)
        rc = aw_pg_query(pg, "SELECT d.depth, d.uri, d.version, d.edge_kind, d.edge_state,"
                             " d.path[cardinality(d.path) - 1] FROM aw.alerts a,"
                             " aw.lineage_walk(format('s3://%s/%s', a.bucket, a.key), 50, NULL,"
                             " false, a.store) d WHERE a.id = $1::bigint ORDER BY d.depth, d.uri",
                         1, params, &walk, err, sizeof err);
    if (rc != AW_OK) {
        fprintf(stderr, "artifact-watch alerts: %s\n", err);
        aw_pg_result_free(r);
        return 1;
    }
    if (aw_pg_result_rows(r) != 1) {
        fprintf(stderr, "artifact-watch alerts: no alert %ld\n", id);
        aw_pg_result_free(r);
        return 1;
    }
    int nw = aw_pg_result_rows(walk);
    if (cfg->alerts_format == AW_FMT_JSON) {
        json_t *o = row_json(r, 0), *nodes = json_array();
        for (int i = 0; i < nw; i++)
            json_array_append_new(nodes, json_pack("{s:I, s:s, s:o, s:o, s:o}", "depth",
                                                   (json_int_t)strtoll(S(V(walk, i, 0)), NULL, 10),
                                                   "uri", S(V(walk, i, 1)), "version",
                                                   jstr(V(walk, i, 2)), "edge_kind",
                                                   jstr(V(walk, i, 3)), "edge_state",
                                                   jstr(V(walk, i, 4))));
        json_object_set_new(o, "downstream", nodes);
        print_json(o);
    } else if (cfg->alerts_format == AW_FMT_DOT) {
        show_dot(walk, nw);
    } else {
        show_text(r, walk, nw);
    }
    aw_pg_result_free(walk);
    aw_pg_result_free(r);
    return 0;
}

/* A person's word: the alert is dealt with, for the reason given. */
static int cmd_resolve(aw_pg *pg, const aw_config *cfg) {
    long id;
    if (aw_parse_long(cfg->args[1], 1, 1L << 62, &id) != AW_OK || !*cfg->alerts_reason) {
        fprintf(stderr, "artifact-watch alerts: resolve needs an alert id and --reason TEXT "
                        "(recorded with the alert)\n");
        aw_verb_usage(stderr, "alerts", verbs);
        return 2;
    }
    const char *params[2] = {cfg->args[1], cfg->alerts_reason};
    aw_pg_result *r = NULL;
    char err[1024];
    if (aw_pg_query(pg, "SELECT aw.alert_resolve_by($1::bigint, $2),"
                        " EXISTS (SELECT FROM aw.alerts WHERE id = $1::bigint)", 2, params, &r,
                    err, sizeof err) != AW_OK) {
        fprintf(stderr, "artifact-watch alerts: %s\n", err);
        return 1;
    }
    bool done = !strcmp(S(V(r, 0, 0)), "t"), known = !strcmp(S(V(r, 0, 1)), "t");
    aw_pg_result_free(r);
    if (!known) {
        fprintf(stderr, "artifact-watch alerts: no alert %ld\n", id);
        return 1;
    }
    printf("alert %ld %s\n", id, done ? "resolved" : "was not open; nothing changed");
    return 0;
}

int aw_cmd_alerts(aw_config *cfg) {
    int verb = aw_verb_pick("alerts", verbs, cfg);
    if (verb < 0)
        return 2;
    if (verb != SHOW && cfg->alerts_format == AW_FMT_DOT) {
        fprintf(stderr, "artifact-watch alerts: --format dot is for show\n");
        return 2;
    }
    if (verb == PUSH && push_check(cfg))
        return 2;
    /* before anything that waits (the database): the metrics server already
     * answers, and a scrape must find every series, at 0 */
    if (verb == PUSH)
        push_declare_metrics();
    aw_daemon_signals();
    char err[1024];
    aw_pg *pg = NULL;
    if (aw_pg_connect(cfg->pg_conninfo, &pg, err, sizeof err) != AW_OK) {
        fprintf(stderr, "artifact-watch alerts: %s\n", err);
        return 1;
    }
    int status = verb == LIST ? cmd_list(pg, cfg) : verb == SHOW ? cmd_show(pg, cfg)
                 : verb == RESOLVE ? cmd_resolve(pg, cfg) : cmd_push(pg, cfg);
    aw_pg_destroy(pg);
    return status;
}
