/*
 * `artifact-watch alerts push`: delivers aw.alerts to Alertmanager's v2 API
 * the way Prometheus does (every open alert again every --resend, with
 * endsAt four resends ahead so Alertmanager's resolve_timeout never decides;
 * a resolved one with endsAt = its resolution for 15 minutes after), and,
 * with --alerts-topic, the same documents to a Kafka topic keyed by alert id.
 *
 * A NOTIFY on aw_alerts wakes it, but only as a hint: any role may NOTIFY,
 * and a storm of changes must not become a storm of pushes. NOTIFYs are
 * coalesced into at most one push per --min-interval, which sends the alerts
 * that changed since the last push (aw.alerts.changed_at); the periodic
 * resend sends everything and catches what a hint missed.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aw/codec.h"
#include "aw/store.h"
#include "aw/integrity.h"
#include "aw/log.h"
#include "aw/metrics.h"
#include "aw/producer.h"
#include "aw/util.h"
#include "internal.h"

#define S(x) ((x) ? (x) : "")
#define V(r, i, c) aw_pg_result_get((r), (i), (c))
#define PUSH_CHUNK 1000

static const char *const kinds[][3] = {
    /* kind, alertname, severity */
    {"declared_mismatch", "ArtifactDeclaredChecksumMismatch", "warning"},
    {"etag_mismatch", "ArtifactETagMismatch", "warning"},
    {"store_checksum_mismatch", "ArtifactStoreChecksumMismatch", "critical"},
    {"checksum_mismatch", "ArtifactChecksumMismatch", "critical"},
    {"missing", "ArtifactMissing", "critical"},
    {"unreadable", "ArtifactUnreadable", "warning"},
    {"bucket_unreachable", "ArtifactBucketUnreachable", "critical"},
};
#define NKINDS (sizeof kinds / sizeof kinds[0])

/* The series push exports, registered at start so each shows 0. */
static struct {
    aw_metric *open[NKINDS], *pushes[2];
} pm;

void push_declare_metrics(void) {
    const char *names[NKINDS + 1] = {NULL};
    for (size_t i = 0; i < NKINDS; i++)
        names[i] = kinds[i][0];
    aw_metric_family(true, "aw_alerts_open", "Open integrity alerts, by kind.", "kind", names,
                     pm.open);
    static const char *const results[] = {"ok", "failed", NULL};
    aw_metric_family(false, "aw_alerts_pushes_total",
                     "Pushes to Alertmanager and/or the alerts topic, by result.", "result",
                     results, pm.pushes);
}

static const char *kind_field(const char *kind, int field) {
    for (size_t i = 0; i < NKINDS; i++)
        if (!strcmp(kind, kinds[i][0]))
            return kinds[i][field];
    return field == 1 ? "ArtifactIntegrity" : "warning";
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
                               kind_field(kind, 1), "severity", kind_field(kind, 2), "kind", kind,
                               "store", S(V(r, i, A_STORE)), "bucket", S(V(r, i, A_BUCKET)),
                               "uri", uri, "object_version_id", S(V(r, i, A_OVID)));
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

/* What one push needs. */
typedef struct pusher {
    const aw_config *cfg;
    aw_pg *pg;
    aw_producer *topic;     /* NULL: no --alerts-topic */
    char url[2100];         /* Alertmanager's alerts endpoint; "" for none */
    char shown[2100];       /* the same, credentials masked, for logs and errors */
    int64_t resend_s;
    char since[64];         /* the database's clock when the last push began */
} pusher;

/* POSTs arr to Alertmanager; a non-2xx answer is an error with its words. */
static int post_alerts(const pusher *p, const json_t *arr, char *err, size_t n) {
    char *body = json_dumps(arr, JSON_COMPACT);
    if (!body)
        return AW_ENOMEM;
    char reply[512], why[512];
    long status = 0;
    int rc = aw_http_post_json(p->url, body, p->cfg->fetch_timeout_ms, &status, reply,
                               sizeof reply, why, sizeof why);
    free(body);
    if (rc != AW_OK) {
        snprintf(err, n, "POST %.300s: %s", p->shown, why);
    } else if (status < 200 || status > 299) {
        char safe[512];
        aw_escape_text(reply, strlen(reply), safe, sizeof safe);
        snprintf(err, n, "POST %.300s: HTTP %ld: %.300s", p->shown, status, safe);
        rc = AW_EHTTP;
    }
    return rc;
}

/* Produces each alert of arr, keyed by its id, and waits for the broker. */
static int topic_send(const pusher *p, const aw_pg_result *r, int from, json_t *arr, char *err,
                      size_t n) {
    int rc = AW_OK;
    for (size_t k = 0; rc == AW_OK && k < json_array_size(arr); k++) {
        char *doc = json_dumps(json_array_get(arr, k), JSON_COMPACT);
        rc = doc ? aw_producer_send(p->topic, p->cfg->alerts_topic,
                                    S(V(r, from + (int)k, A_ID)), doc, strlen(doc), err, n)
                 : AW_ENOMEM;
        free(doc);
    }
    char why[512];
    if (rc == AW_OK && aw_producer_flush(p->topic, 30000, why, sizeof why) != AW_OK) {
        snprintf(err, n, "Kafka topic %s: %s", p->cfg->alerts_topic, why);
        rc = AW_EKAFKA;
    }
    return rc;
}

/* The open alerts per kind, as gauges. */
static int count_open(aw_pg *pg, char *err, size_t n) {
    aw_pg_result *r = NULL;
    int rc = aw_pg_query(pg, "SELECT kind, count(*) FROM aw.alerts WHERE state = 'open'"
                             " GROUP BY kind", 0, NULL, &r, err, n);
    for (size_t k = 0; rc == AW_OK && k < NKINDS; k++) {
        long open = 0;
        for (int i = 0; i < aw_pg_result_rows(r); i++)
            if (!strcmp(S(V(r, i, 0)), kinds[k][0]))
                open = strtol(S(V(r, i, 1)), NULL, 10);
        aw_metric_set(pm.open[k], (double)open);
    }
    aw_pg_result_free(r);
    return rc;
}

/* Sends what is open and what resolved in the last 15 minutes (all), or
 * only what changed since the last push. */
static int push_once(pusher *p, bool all, char *err, size_t n) {
    char secs[24];
    snprintf(secs, sizeof secs, "%lld", (long long)(4 * p->resend_s));
    const char *params[2] = {secs, all || !p->since[0] ? NULL : p->since};
    aw_pg_result *r = NULL, *t0 = NULL;
    int rc = aw_pg_query(p->pg, "SELECT now()::text", 0, NULL, &t0, err, n);
    char started[64] = "";
    if (rc == AW_OK)
        snprintf(started, sizeof started, "%s", S(V(t0, 0, 0)));
    aw_pg_result_free(t0);
    /* a second of overlap: a change committed just after the last push
     * began is sent again rather than missed */
    if (rc == AW_OK)
        rc = aw_pg_query(p->pg, "SELECT " ALERT_COLS ", to_char(CASE WHEN a.state = 'open' THEN"
                                " now() + make_interval(secs => $1::float8) ELSE a.resolved_at END"
                                " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
                                " FROM aw.alerts a WHERE (a.state = 'open'"
                                " OR a.resolved_at > now() - interval '15 minutes')"
                                " AND ($2::timestamptz IS NULL"
                                "      OR a.changed_at > $2::timestamptz - interval '1 second')"
                                " ORDER BY a.id", 2, params, &r, err, n);
    if (rc == AW_OK)
        rc = count_open(p->pg, err, n);
    int rows = rc == AW_OK ? aw_pg_result_rows(r) : 0;
    /* in posts of at most PUSH_CHUNK alerts, so a storm never makes one huge request */
    for (int from = 0; rc == AW_OK && from < rows; from += PUSH_CHUNK) {
        json_t *arr = json_array();
        for (int i = from; arr && i < rows && i < from + PUSH_CHUNK; i++)
            if (json_array_append_new(arr, postable(r, i, S(V(r, i, A_ARTIFACT + 1)))))
                rc = AW_ENOMEM;
        if (!arr || rc != AW_OK) {
            json_decref(arr);
            rc = AW_ENOMEM;
            break;
        }
        if (p->topic)
            rc = topic_send(p, r, from, arr, err, n);
        if (rc == AW_OK && p->url[0])
            rc = post_alerts(p, arr, err, n);
        json_decref(arr);
    }
    aw_pg_result_free(r);
    aw_metric_add(pm.pushes[rc != AW_OK], 1);
    aw_metrics_ready(rc == AW_OK, rc == AW_OK ? NULL : "the last push was not taken");
    if (rc == AW_OK) {
        snprintf(p->since, sizeof p->since, "%s", started);
        AW_INFO(ALOG, "sent %d %salert(s) to %s%s%s", rows, all ? "" : "changed ", p->shown,
                p->url[0] && p->topic ? " and " : "", p->topic ? p->cfg->alerts_topic : "");
    }
    return rc;
}

/* The settings of push, checked. Exit status 2 (said on stderr) or 0. */
static int push_settings(const aw_config *cfg, pusher *p, int64_t *min_interval) {
    if (!*cfg->alertmanager_url && !*cfg->alerts_topic) {
        fprintf(stderr, "artifact-watch alerts: push needs --alertmanager-url URL and/or "
                        "--alerts-topic TOPIC\n");
        return 2;
    }
    char shown[2048];
    aw_url_redact(cfg->alertmanager_url, shown, sizeof shown);
    if (*cfg->alertmanager_url && strncmp(cfg->alertmanager_url, "http://", 7) &&
        strncmp(cfg->alertmanager_url, "https://", 8)) {
        fprintf(stderr, "artifact-watch alerts: --alertmanager-url must be an http:// or "
                        "https:// URL, not \"%s\"\n", shown);
        return 2;
    }
    p->resend_s = cfg->alerts_resend_s;
    *min_interval = cfg->alerts_min_interval_s;
    size_t ul = strlen(cfg->alertmanager_url);
    bool slash = ul && cfg->alertmanager_url[ul - 1] == '/';
    if (ul) {
        snprintf(p->url, sizeof p->url, "%.*s/api/v2/alerts", (int)(slash ? ul - 1 : ul),
                 cfg->alertmanager_url);
        aw_url_redact(p->url, p->shown, sizeof p->shown);
    }
    return 0;
}

int push_check(const aw_config *cfg) {
    pusher p = {.cfg = cfg};
    int64_t min_interval;
    return push_settings(cfg, &p, &min_interval);
}

int cmd_push(aw_pg *pg, const aw_config *cfg) {
    pusher p = {.cfg = cfg, .pg = pg};
    int64_t min_interval = 0;
    int status = push_settings(cfg, &p, &min_interval);
    if (status)
        return status;
    char err[2048];
    if (*cfg->alerts_topic &&
        aw_producer_new(cfg, "alerts", "alerts producer", &p.topic, err, sizeof err) != AW_OK) {
        fprintf(stderr, "artifact-watch alerts: %s\n", err);
        return 2;
    }
    if (!cfg->alerts_once && aw_pg_listen(pg, "aw_alerts", err, sizeof err) != AW_OK) {
        fprintf(stderr, "artifact-watch alerts: %s\n", err);
        aw_producer_destroy(p.topic);
        return 1;
    }
    bool broken = false, hinted = false;
    int64_t last_all = 0, last_push = 0, retry_at = 0;
    while (!aw_stop && !broken) {
        int64_t now = aw_now_ms();
        bool all = !last_all || now - last_all >= p.resend_s * 1000;
        if (now >= retry_at && (all || (hinted && now - last_push >= min_interval * 1000))) {
            int rc = push_once(&p, all, err, sizeof err);
            status = rc == AW_OK ? 0 : 1;
            if (rc != AW_OK)
                AW_ERROR(ALOG, "%s", rc == AW_ENOMEM ? "out of memory" : err);
            if (rc != AW_OK && aw_pg_is_broken(pg))
                break;
            last_push = now;
            /* a push not taken is tried again soon, and whole */
            last_all = all && rc == AW_OK ? now : last_all;
            retry_at = rc == AW_OK ? 0 : now + (min_interval > 2 ? min_interval : 2) * 1000;
            hinted = rc != AW_OK && hinted;
            if (cfg->alerts_once)
                break;
        }
        /* NOTIFYs are hints: a burst of them is one push, at most one per min-interval */
        aw_metrics_heartbeat();
        int w = aw_pg_wait_notify(pg, 500, err, sizeof err);
        aw_producer_poll(p.topic);
        if (w < 0) {
            AW_ERROR(ALOG, "%s", err);
            status = 1;
            broken = true;
        }
        hinted = hinted || w == 1;
    }
    aw_producer_destroy(p.topic);
    return status;
}
