/*
 * `artifact-watch alerts list|show|push`. The rows of aw.alerts are the
 * facts; list and show print them, push delivers them to Alertmanager's v2
 * API the way Prometheus does: every open alert again every --resend with
 * endsAt four resends ahead (so Alertmanager's resolve_timeout never
 * decides), and a resolved one with endsAt = its resolution for 15 minutes
 * after it resolved. push wakes on NOTIFY aw_alerts as well as its timer.
 * With --alerts-topic each push also produces the same alert documents to a
 * Kafka topic, keyed by alert id, and waits for the broker to take them.
 */
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aw/codec.h"
#include "aw/http.h"
#include "aw/kafka.h"
#include "aw/log.h"
#include "aw/metrics.h"
#include "aw/integrity.h"
#include "aw/util.h"
#include "internal.h"

#define ALOG "alerts"
#define S(x) ((x) ? (x) : "")
#define PUSH_CHUNK 1000


static const char *const usage =
    "usage: artifact-watch alerts list [--state open|resolved|all] [--format table|json]\n"
    "       artifact-watch alerts show ID [--format table|json|dot]\n"
    "       artifact-watch alerts push [--alertmanager-url URL] [--alerts-topic TOPIC]\n"
    "                                  [--resend 60s] [--once]";

/* The columns every command reads, with the artifact's name when known. */
#define ALERT_COLS                                                                             \
    "a.id, a.kind, a.state, a.store, a.bucket, a.key, a.version_id, a.object_version_id,"      \
    " a.expected, a.actual, to_char(a.first_seen_at AT TIME ZONE 'UTC',"                       \
    " 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), to_char(a.last_seen_at AT TIME ZONE 'UTC',"          \
    " 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), a.seen_count, to_char(a.resolved_at AT TIME ZONE"    \
    " 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), a.blast_radius,"                              \
    " array_to_json(a.blast_uris)::text, a.detail::text,"                                      \
    " (SELECT ar.name FROM aw.artifacts ar WHERE ar.store = a.store AND ar.bucket = a.bucket"  \
    "   AND ar.folder = aw.dirname(a.key))"
enum { A_ID, A_KIND, A_STATE, A_STORE, A_BUCKET, A_KEY, A_VERSION, A_OVID, A_EXPECTED,
       A_ACTUAL, A_FIRST, A_LAST, A_SEEN, A_RESOLVED, A_RADIUS, A_URIS, A_DETAIL, A_ARTIFACT };

#define V(r, i, c) aw_pg_result_get((r), (i), (c))

static json_t *jstr(const char *s) { return s ? json_string(s) : json_null(); }

static json_t *row_json(const aw_pg_result *r, int i) {
    json_error_t je;
    json_t *uris = json_loads(S(V(r, i, A_URIS)), 0, &je);
    json_t *detail = V(r, i, A_DETAIL) ? json_loads(V(r, i, A_DETAIL), 0, &je) : NULL;
    char uri[2200];
    snprintf(uri, sizeof uri, "s3://%s/%s", S(V(r, i, A_BUCKET)), S(V(r, i, A_KEY)));
    return json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:I, s:o, s:o, s:s, s:s, s:I,"
                     " s:o, s:I, s:o, s:o, s:o}",
                     "id", (json_int_t)strtoll(S(V(r, i, A_ID)), NULL, 10), "kind",
                     S(V(r, i, A_KIND)), "state", S(V(r, i, A_STATE)), "uri", uri, "store",
                     S(V(r, i, A_STORE)), "bucket", S(V(r, i, A_BUCKET)), "key",
                     S(V(r, i, A_KEY)), "version_id", jstr(V(r, i, A_VERSION)),
                     "object_version_id", (json_int_t)strtoll(S(V(r, i, A_OVID)), NULL, 10),
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
    const char *params[1] = {cfg->alerts_state};
    aw_pg_result *r = NULL;
    char err[1024];
    if (aw_pg_query(pg, "SELECT " ALERT_COLS " FROM aw.alerts a WHERE $1 = 'all' OR a.state = $1"
                        " ORDER BY a.last_seen_at DESC, a.id DESC",
                    1, params, &r, err, sizeof err) != AW_OK) {
        fprintf(stderr, "artifact-watch alerts: %s\n", err);
        return 1;
    }
    int n = aw_pg_result_rows(r);
    if (!strcmp(cfg->alerts_format, "json")) {
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
            printf("(no %s alerts)\n", !strcmp(cfg->alerts_state, "all") ? "" : cfg->alerts_state);
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

static int cmd_show(aw_pg *pg, const aw_config *cfg) {
    long id;
    if (cfg->nargs != 2 || aw_parse_long(cfg->args[1], 1, 1L << 62, &id) != AW_OK) {
        fprintf(stderr, "artifact-watch alerts: show needs an alert id\n%s\n", usage);
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
    if (!strcmp(cfg->alerts_format, "json")) {
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
    } else if (!strcmp(cfg->alerts_format, "dot")) {
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
    } else {
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
    aw_pg_result_free(walk);
    aw_pg_result_free(r);
    return 0;
}

/* ---- push */

static const char *alertname(const char *kind) {
    static const char *const names[][2] = {
        {"declared_mismatch", "ArtifactDeclaredChecksumMismatch"},
        {"etag_mismatch", "ArtifactETagMismatch"},
        {"store_checksum_mismatch", "ArtifactStoreChecksumMismatch"},
        {"checksum_mismatch", "ArtifactChecksumMismatch"},
        {"missing", "ArtifactMissing"},
        {"unreadable", "ArtifactUnreadable"}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(kind, names[i][0]))
            return names[i][1];
    return "ArtifactIntegrity";
}

static const char *severity(const char *kind) {
    return !strcmp(kind, "checksum_mismatch") || !strcmp(kind, "missing") ||
                   !strcmp(kind, "store_checksum_mismatch")
               ? "critical"
               : "warning";
}

/* One alert in Alertmanager's postableAlert shape. */
static json_t *postable(const aw_pg_result *r, int i, const char *ends_at) {
    const char *kind = S(V(r, i, A_KIND));
    char uri[2200], summary[2400], radius[600] = "";
    snprintf(uri, sizeof uri, "s3://%s/%s", S(V(r, i, A_BUCKET)), S(V(r, i, A_KEY)));
    snprintf(summary, sizeof summary, "%s: %s", kind, uri);
    json_error_t je;
    json_t *uris = json_loads(S(V(r, i, A_URIS)), 0, &je);
    size_t l = 0;
    for (size_t k = 0; uris && k < json_array_size(uris) && k < 5; k++)
        l += (size_t)snprintf(radius + l, l < sizeof radius ? sizeof radius - l : 0, "%s%s",
                              k ? " " : "", json_string_value(json_array_get(uris, k)));
    json_decref(uris);
    json_t *labels = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "alertname",
                               alertname(kind), "severity", severity(kind), "kind", kind, "store",
                               S(V(r, i, A_STORE)), "bucket", S(V(r, i, A_BUCKET)), "uri", uri,
                               "object_version_id", S(V(r, i, A_OVID)));
    if (labels && V(r, i, A_ARTIFACT))
        json_object_set_new(labels, "artifact", json_string(V(r, i, A_ARTIFACT)));
    if (labels && V(r, i, A_VERSION))
        json_object_set_new(labels, "version_id", json_string(V(r, i, A_VERSION)));
    json_t *ann = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "summary", summary, "uri", uri,
                            "expected", S(V(r, i, A_EXPECTED)), "actual", S(V(r, i, A_ACTUAL)),
                            "blast_radius", S(V(r, i, A_RADIUS)), "blast_uris", radius);
    return json_pack("{s:o, s:o, s:s, s:s}", "labels", labels, "annotations", ann, "startsAt",
                     S(V(r, i, A_FIRST)), "endsAt", ends_at);
}

/* ---- the Kafka topic */

typedef struct topic_out {
    rd_kafka_t *rk;
    const char *topic;
    int failed;         /* delivery reports with an error, this push */
    char why[256];      /* the first one's */
} topic_out;

static void delivered(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    topic_out *t = opaque;
    if (m->err && !t->failed++)
        snprintf(t->why, sizeof t->why, "%s", rd_kafka_err2str(m->err));
}

static int topic_open(const aw_config *cfg, topic_out *t) {
    rd_kafka_conf_t *conf = aw_kafka_producer_conf(cfg, "alerts", "alerts producer");
    if (!conf)
        return AW_ECONFIG;
    rd_kafka_conf_set_opaque(conf, t);
    rd_kafka_conf_set_dr_msg_cb(conf, delivered);
    char err[512];
    t->topic = cfg->alerts_topic;
    t->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!t->rk) {
        rd_kafka_conf_destroy(conf);
        fprintf(stderr, "artifact-watch alerts: Kafka producer: %s\n", err);
        return AW_EKAFKA;
    }
    return AW_OK;
}

/* Produces each alert of arr (keyed by its id) and waits until the broker
 * has taken every one, or says why not. */
static int topic_send(topic_out *t, const aw_pg_result *r, int from, json_t *arr, char *err,
                      size_t n) {
    t->failed = 0;
    for (size_t k = 0; k < json_array_size(arr); k++) {
        char *doc = json_dumps(json_array_get(arr, k), JSON_COMPACT);
        const char *id = S(V(r, from + (int)k, A_ID));
        if (!doc)
            return AW_ENOMEM;
        rd_kafka_resp_err_t e;
        while ((e = rd_kafka_producev(t->rk, RD_KAFKA_V_TOPIC(t->topic),
                                      RD_KAFKA_V_KEY(id, strlen(id)),
                                      RD_KAFKA_V_VALUE(doc, strlen(doc)),
                                      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                      RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(t->rk, 100); /* the same alert again once the queue has room */
        free(doc);
        if (e) {
            snprintf(err, n, "Kafka topic %s: %s", t->topic, rd_kafka_err2str(e));
            return AW_EKAFKA;
        }
        rd_kafka_poll(t->rk, 0);
    }
    rd_kafka_flush(t->rk, 30000);
    int left = rd_kafka_outq_len(t->rk);
    if (t->failed || left) {
        snprintf(err, n, "Kafka topic %s: %d alert(s) not delivered: %s", t->topic,
                 t->failed + left, t->failed ? t->why : "timed out");
        return AW_EKAFKA;
    }
    return AW_OK;
}

/* POSTs arr to Alertmanager; a non-2xx answer is an error with its words. */
static int post_alerts(const char *url, const json_t *arr, long timeout_ms, char *err,
                       size_t n) {
    char *body = json_dumps(arr, JSON_COMPACT);
    if (!body)
        return AW_ENOMEM;
    char reply[512];
    long status = 0;
    int rc = aw_http_post_json(url, body, timeout_ms, &status, reply, sizeof reply, err, n);
    free(body);
    if (rc == AW_OK && (status < 200 || status > 299)) {
        char safe[512];
        aw_escape_text(reply, strlen(reply), safe, sizeof safe);
        snprintf(err, n, "POST %.300s: HTTP %ld: %.300s", url, status, safe);
        rc = AW_EHTTP;
    }
    return rc;
}

/* Sends what is open, and what resolved in the last 15 minutes. */
static int push_once(aw_pg *pg, const aw_config *cfg, topic_out *t, int64_t resend_s, char *err,
                     size_t n) {
    char secs[24];
    snprintf(secs, sizeof secs, "%lld", (long long)(4 * resend_s));
    const char *params[1] = {secs};
    aw_pg_result *r = NULL;
    int rc = aw_pg_query(pg, "SELECT " ALERT_COLS ", to_char(CASE WHEN a.state = 'open' THEN"
                             " now() + make_interval(secs => $1::float8) ELSE a.resolved_at END"
                             " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
                             " FROM aw.alerts a WHERE a.state = 'open'"
                             " OR a.resolved_at > now() - interval '15 minutes' ORDER BY a.id",
                         1, params, &r, err, n);
    if (rc != AW_OK)
        return rc;
    int rows = aw_pg_result_rows(r);
    static const char *const kinds[] = {"declared_mismatch", "etag_mismatch",
                                        "store_checksum_mismatch", "checksum_mismatch", "missing",
                                        "unreadable"};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        int open = 0;
        for (int i = 0; i < rows; i++)
            open += !strcmp(S(V(r, i, A_KIND)), kinds[k]) && !strcmp(S(V(r, i, A_STATE)), "open");
        char l[64];
        snprintf(l, sizeof l, "kind=\"%s\"", kinds[k]);
        aw_metric_set(aw_metric_gauge("aw_alerts_open", "Open integrity alerts, by kind.", l), open);
    }
    char url[2100];
    size_t ul = strlen(cfg->alertmanager_url);
    snprintf(url, sizeof url, "%.*s/api/v2/alerts",
             (int)(ul && cfg->alertmanager_url[ul - 1] == '/' ? ul - 1 : ul),
             cfg->alertmanager_url);
    /* in posts of at most PUSH_CHUNK alerts, so a storm never makes one huge request */
    for (int from = 0; rc == AW_OK && (from < rows || from == 0); from += PUSH_CHUNK) {
        json_t *arr = json_array();
        for (int i = from; arr && i < rows && i < from + PUSH_CHUNK; i++)
            if (json_array_append_new(arr, postable(r, i, S(V(r, i, A_ARTIFACT + 1)))))
                rc = AW_ENOMEM;
        if (!arr || rc != AW_OK) {
            json_decref(arr);
            rc = AW_ENOMEM;
            break;
        }
        if (t->rk)
            rc = topic_send(t, r, from, arr, err, n);
        if (rc == AW_OK && *cfg->alertmanager_url)
            rc = post_alerts(url, arr, cfg->fetch_timeout_ms, err, n);
        json_decref(arr);
        if (rows == 0)
            break;
    }
    aw_pg_result_free(r);
    aw_metric_add(aw_metric_counter("aw_alerts_pushes_total",
                                    "Pushes to Alertmanager and/or the alerts topic, by result.",
                                    rc == AW_OK ? "result=\"ok\"" : "result=\"failed\""), 1);
    aw_metrics_ready(rc == AW_OK, rc == AW_OK ? NULL : "the last push was not taken");
    if (rc == AW_OK)
        AW_INFO(ALOG, "sent %d alert(s) to %s%s%s", rows, *cfg->alertmanager_url ? url : "",
                *cfg->alertmanager_url && t->rk ? " and " : "", t->rk ? t->topic : "");
    return rc;
}

static int cmd_push(aw_pg *pg, const aw_config *cfg) {
    int64_t resend;
    if (!*cfg->alertmanager_url && !*cfg->alerts_topic) {
        fprintf(stderr, "artifact-watch alerts: push needs --alertmanager-url URL and/or "
                        "--alerts-topic TOPIC\n%s\n", usage);
        return 2;
    }
    if (*cfg->alertmanager_url && strncmp(cfg->alertmanager_url, "http://", 7) &&
        strncmp(cfg->alertmanager_url, "https://", 8)) {
        fprintf(stderr, "artifact-watch alerts: --alertmanager-url must be an http:// or https:// URL\n");
        return 2;
    }
    if (aw_parse_duration(cfg->alerts_resend, &resend) != AW_OK || resend <= 0) {
        fprintf(stderr, "artifact-watch alerts: --resend \"%s\" is not a duration such as 60s\n",
                cfg->alerts_resend);
        return 2;
    }
    char err[2048];
    topic_out t = {0};
    int rc = *cfg->alerts_topic ? topic_open(cfg, &t) : AW_OK;
    if (rc != AW_OK)
        return rc == AW_ECONFIG ? 2 : 1;
    if (!cfg->alerts_once && aw_pg_listen(pg, "aw_alerts", err, sizeof err) != AW_OK) {
        fprintf(stderr, "artifact-watch alerts: %s\n", err);
        if (t.rk)
            rd_kafka_destroy(t.rk);
        return 1;
    }
    int status = 0;
    bool broken = false;
    while (!aw_stop && !broken) {
        rc = push_once(pg, cfg, &t, resend, err, sizeof err);
        if (rc != AW_OK) {
            AW_ERROR(ALOG, "%s", rc == AW_ENOMEM ? "out of memory" : err);
            status = 1;
            if (aw_pg_is_broken(pg))
                break;
        } else {
            status = 0;
        }
        if (cfg->alerts_once)
            break;
        /* a NOTIFY wakes it early; a burst of them is one send */
        int64_t until = aw_now_ms() + resend * 1000;
        while (!aw_stop && !broken && aw_now_ms() < until) {
            aw_metrics_heartbeat();
            int w = aw_pg_wait_notify(pg, 500, err, sizeof err);
            if (t.rk)
                rd_kafka_poll(t.rk, 0);
            if (w < 0) {
                AW_ERROR(ALOG, "%s", err);
                status = 1;
                broken = true;
            }
            if (w == 1)
                break;
        }
    }
    if (t.rk)
        rd_kafka_destroy(t.rk);
    return status;
}

int aw_cmd_alerts(aw_config *cfg) {
    const char *verb = cfg->nargs ? cfg->args[0] : "";
    bool list = !strcmp(verb, "list"), show = !strcmp(verb, "show"), push = !strcmp(verb, "push");
    if (!(list || show || push) || (!show && cfg->nargs != 1)) {
        fprintf(stderr, "artifact-watch alerts: %s\n", usage);
        return 2;
    }
    if (!show && !strcmp(cfg->alerts_format, "dot")) {
        fprintf(stderr, "artifact-watch alerts: --format dot is for show\n");
        return 2;
    }
    aw_daemon_signals();
    char err[1024];
    aw_pg *pg = NULL;
    if (aw_pg_connect(cfg->pg_conninfo, &pg, err, sizeof err) != AW_OK) {
        fprintf(stderr, "artifact-watch alerts: %s\n", err);
        return 1;
    }
    int status = list ? cmd_list(pg, cfg) : show ? cmd_show(pg, cfg) : cmd_push(pg, cfg);
    aw_pg_destroy(pg);
    return status;
}
