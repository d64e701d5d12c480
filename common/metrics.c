/*
 * The metrics registry and its HTTP endpoints (served by aw/serve.h); see
 * aw/metrics.h. The registry is small and updated per
 * batch, not per byte, so one mutex guards it; rendering copies under it.
 */
#include "aw/metrics.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aw/serve.h"
#include "aw/util.h"

#define MAX_METRICS 256
#define MAX_BOUNDS 16

enum kind { K_COUNTER, K_GAUGE, K_HISTOGRAM };

struct aw_metric {
    enum kind kind;
    char name[96], help[200], labels[200];
    double value;                   /* counter, gauge; the sum of a histogram */
    double bounds[MAX_BOUNDS];
    unsigned long long buckets[MAX_BOUNDS + 1], count;
    size_t nbounds;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static aw_metric metrics[MAX_METRICS];
static size_t nmetrics;
static aw_server *server;
static int64_t last_beat_ms;
static int stale_ms = 300000;
static bool ready_;
static char ready_why[256] = "starting";

static aw_metric *add(enum kind k, const char *name, const char *help, const char *labels,
                      const double *bounds, size_t nb) {
    if (strlen(name) >= sizeof metrics[0].name || strlen(help) >= sizeof metrics[0].help ||
        (labels && strlen(labels) >= sizeof metrics[0].labels) || nb > MAX_BOUNDS)
        return NULL;
    pthread_mutex_lock(&mu);
    aw_metric *m = NULL;
    for (size_t i = 0; i < nmetrics && !m; i++)
        if (!strcmp(metrics[i].name, name) && !strcmp(metrics[i].labels, labels ? labels : ""))
            m = &metrics[i];
    if (!m && nmetrics < MAX_METRICS) {
        m = &metrics[nmetrics++];
        memset(m, 0, sizeof *m);
        m->kind = k;
        snprintf(m->name, sizeof m->name, "%s", name);
        snprintf(m->help, sizeof m->help, "%s", help);
        snprintf(m->labels, sizeof m->labels, "%s", labels ? labels : "");
        for (size_t i = 0; i < nb; i++)
            m->bounds[i] = bounds[i];
        m->nbounds = nb;
    }
    pthread_mutex_unlock(&mu);
    return m;
}

aw_metric *aw_metric_counter(const char *name, const char *help, const char *labels) {
    return add(K_COUNTER, name, help, labels, NULL, 0);
}

aw_metric *aw_metric_gauge(const char *name, const char *help, const char *labels) {
    return add(K_GAUGE, name, help, labels, NULL, 0);
}

aw_metric *aw_metric_histogram(const char *name, const char *help, const char *labels,
                               const double *bounds, size_t nbounds) {
    return add(K_HISTOGRAM, name, help, labels, bounds, nbounds);
}

void aw_metric_family(bool gauge, const char *name, const char *help, const char *label,
                      const char *const *values, aw_metric **out) {
    for (size_t i = 0; values[i]; i++) {
        char l[160];
        snprintf(l, sizeof l, "%s=\"%s\"", label, values[i]);
        out[i] = add(gauge ? K_GAUGE : K_COUNTER, name, help, l, NULL, 0);
    }
}

void aw_metric_add(aw_metric *m, double v) {
    if (!m || m->kind == K_HISTOGRAM || (m->kind == K_COUNTER && v < 0))
        return;
    pthread_mutex_lock(&mu);
    m->value += v;
    pthread_mutex_unlock(&mu);
}

void aw_metric_set(aw_metric *m, double v) {
    if (!m || m->kind != K_GAUGE)
        return;
    pthread_mutex_lock(&mu);
    m->value = v;
    pthread_mutex_unlock(&mu);
}

void aw_metric_observe(aw_metric *m, double v) {
    if (!m || m->kind != K_HISTOGRAM)
        return;
    pthread_mutex_lock(&mu);
    size_t b = 0;
    while (b < m->nbounds && v > m->bounds[b])
        b++;
    m->buckets[b]++;
    m->count++;
    m->value += v;
    pthread_mutex_unlock(&mu);
}

typedef struct out {
    char *p;
    size_t len, cap;
    bool failed;
} out;

static void put(out *o, const char *fmt, ...) AW_PRINTF(2, 3);
static void put(out *o, const char *fmt, ...) {
    if (o->failed)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            o->failed = true;
            return;
        }
        if ((size_t)n < o->cap - o->len) {
            o->len += (size_t)n;
            return;
        }
        size_t cap = o->cap * 2 + (size_t)n;
        char *np = realloc(o->p, cap);
        if (!np) {
            o->failed = true;
            return;
        }
        o->p = np;
        o->cap = cap;
    }
}

/* A number as Prometheus reads it. */
static void num(char *buf, size_t n, double v) {
    if (v == (double)(long long)v && v < 9e15 && v > -9e15)
        snprintf(buf, n, "%lld", (long long)v);
    else
        snprintf(buf, n, "%.17g", v);
}

char *aw_metrics_render(void) {
    out o = {malloc(8192), 0, 8192, false};
    if (!o.p)
        return NULL;
    o.p[0] = '\0';
    static const char *const types[] = {"counter", "gauge", "histogram"};
    pthread_mutex_lock(&mu);
    bool *done = calloc(nmetrics + 1, sizeof *done);
    for (size_t i = 0; done && i < nmetrics; i++) {
        if (done[i])
            continue;
        const aw_metric *first = &metrics[i];
        put(&o, "# HELP %s %s\n# TYPE %s %s\n", first->name, first->help, first->name,
            types[first->kind]);
        for (size_t j = i; j < nmetrics; j++) {
            const aw_metric *m = &metrics[j];
            if (done[j] || strcmp(m->name, first->name))
                continue;
            done[j] = true;
            char v[40];
            const char *sep = m->labels[0] ? "," : "";
            if (m->kind != K_HISTOGRAM) {
                num(v, sizeof v, m->value);
                put(&o, m->labels[0] ? "%s{%s} %s\n" : "%s%s %s\n", m->name, m->labels, v);
                continue;
            }
            unsigned long long cum = 0;
            for (size_t b = 0; b <= m->nbounds; b++) {
                cum += m->buckets[b];
                char le[40];
                if (b < m->nbounds)
                    num(le, sizeof le, m->bounds[b]);
                else
                    snprintf(le, sizeof le, "+Inf");
                put(&o, "%s_bucket{%s%sle=\"%s\"} %llu\n", m->name, m->labels, sep, le, cum);
            }
            num(v, sizeof v, m->value);
            put(&o, m->labels[0] ? "%s_sum{%s} %s\n%s_count{%s} %llu\n" : "%s_sum%s %s\n%s_count%s %llu\n",
                m->name, m->labels, v, m->name, m->labels, m->count);
        }
    }
    pthread_mutex_unlock(&mu);
    if (!done || o.failed) {
        free(done);
        free(o.p);
        return NULL;
    }
    free(done);
    return o.p;
}

void aw_metrics_heartbeat(void) {
    int64_t now = aw_now_ms();
    pthread_mutex_lock(&mu);
    last_beat_ms = now;
    pthread_mutex_unlock(&mu);
}

void aw_metrics_stale_after(int stale_s) {
    pthread_mutex_lock(&mu);
    stale_ms = stale_s * 1000;
    pthread_mutex_unlock(&mu);
}

void aw_metrics_ready(bool ready, const char *why) {
    pthread_mutex_lock(&mu);
    ready_ = ready;
    snprintf(ready_why, sizeof ready_why, "%s", why ? why : "");
    pthread_mutex_unlock(&mu);
}

static void handle(void *ud, const aw_request *rq, aw_reply *rp) {
    (void)ud;
    const char *url = aw_request_path(rq);
    if (!strcmp(url, "/metrics")) {
        aw_reply_set(rp, 200, "text/plain; version=0.0.4; charset=utf-8", aw_metrics_render());
        return;
    }
    pthread_mutex_lock(&mu);
    int64_t age = aw_now_ms() - last_beat_ms;
    bool alive = last_beat_ms && age <= stale_ms, ready = ready_;
    char why[300];
    snprintf(why, sizeof why, "%s\n", ready_why);
    pthread_mutex_unlock(&mu);
    const char *text = "text/plain; charset=utf-8";
    if (!strcmp(url, "/healthz")) {
        char b[100];
        snprintf(b, sizeof b, alive ? "ok\n" : "the main loop has not turned for %lld s\n",
                 (long long)(age / 1000));
        aw_reply_set(rp, alive ? 200 : 503, text, strdup(b));
    } else if (!strcmp(url, "/readyz")) {
        aw_reply_set(rp, ready ? 200 : 503, text, strdup(ready ? "ready\n" : why));
    } else {
        aw_reply_set(rp, 404, text, strdup("not found: /metrics, /healthz, /readyz\n"));
    }
}

int aw_metrics_serve(const char *addr, char *errstr, size_t n) {
    if (!addr || !*addr)
        return AW_OK;
    char why[300];
    if (aw_serve_start(addr, 1, handle, NULL, &server, why, sizeof why) != AW_OK) {
        snprintf(errstr, n, "metrics %s", why);
        return AW_ECONFIG;
    }
    aw_metrics_heartbeat();
    return AW_OK;
}

void aw_metrics_stop(void) {
    aw_serve_stop(server);
    server = NULL;
}
