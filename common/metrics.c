/*
 * The metrics registry and its HTTP endpoint; see aw/metrics.h. The one
 * file that includes libmicrohttpd. The registry is small and updated per
 * batch, not per byte, so one mutex guards it; rendering copies under it.
 */
#include "aw/metrics.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

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
static struct MHD_Daemon *daemon_;
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

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, char *body,
                             const char *type) {
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", type);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **state) {
    (void)cls;
    (void)version;
    (void)upload;
    (void)state;
    if (*upload_size)
        return MHD_NO;
    if (strcmp(method, "GET") && strcmp(method, "HEAD"))
        return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, strdup("only GET\n"), "text/plain");
    char *body = NULL;
    unsigned status = MHD_HTTP_OK;
    if (!strcmp(url, "/metrics")) {
        body = aw_metrics_render();
        if (!body)
            return MHD_NO;
        return reply(c, status, body, "text/plain; version=0.0.4; charset=utf-8");
    }
    pthread_mutex_lock(&mu);
    int64_t age = aw_now_ms() - last_beat_ms;
    bool alive = last_beat_ms && age <= stale_ms, ready = ready_;
    char why[300];
    snprintf(why, sizeof why, "%s\n", ready_why);
    pthread_mutex_unlock(&mu);
    if (!strcmp(url, "/healthz")) {
        status = alive ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE;
        char b[100];
        snprintf(b, sizeof b, alive ? "ok\n" : "the main loop has not turned for %lld s\n",
                 (long long)(age / 1000));
        body = strdup(b);
    } else if (!strcmp(url, "/readyz")) {
        status = ready ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE;
        body = strdup(ready ? "ready\n" : why);
    } else {
        status = MHD_HTTP_NOT_FOUND;
        body = strdup("not found: /metrics, /healthz, /readyz\n");
    }
    return body ? reply(c, status, body, "text/plain; charset=utf-8") : MHD_NO;
}

int aw_metrics_serve(const char *addr, char *errstr, size_t n) {
    if (!addr || !*addr)
        return AW_OK;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    const char *colon = strrchr(addr, ':');
    long port = colon ? strtol(colon + 1, NULL, 10) : 0;
    char host[128] = "";
    if (colon && (size_t)(colon - addr) < sizeof host)
        snprintf(host, sizeof host, "%.*s", (int)(colon - addr), addr);
    bool v6 = host[0] == '[';
    if (v6) {
        size_t hl = strlen(host);
        if (hl < 2 || host[hl - 1] != ']') {
            snprintf(errstr, n, "metrics address \"%s\": expected HOST:PORT", addr);
            return AW_ECONFIG;
        }
        memmove(host, host + 1, hl - 2);
        host[hl - 2] = '\0';
    }
    bool ok = colon && port > 0 && port < 65536 && strspn(colon + 1, "0123456789") == strlen(colon + 1);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD;
    if (ok && v6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        ok = inet_pton(AF_INET6, host, &s6->sin6_addr) == 1;
        flags |= MHD_USE_IPv6;
    } else if (ok) {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        ok = !host[0] ? (s4->sin_addr.s_addr = htonl(INADDR_ANY), true)
                      : inet_pton(AF_INET, host, &s4->sin_addr) == 1;
    }
    if (!ok) {
        snprintf(errstr, n, "metrics address \"%s\": expected HOST:PORT with a numeric address, "
                 "e.g. 0.0.0.0:9464 or [::]:9464", addr);
        return AW_ECONFIG;
    }
    daemon_ = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, handle, NULL,
                               MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                               MHD_OPTION_CONNECTION_LIMIT, (unsigned)16,
                               MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10, MHD_OPTION_END);
    if (!daemon_) {
        snprintf(errstr, n, "metrics address \"%s\": cannot listen there (in use?)", addr);
        return AW_ECONFIG;
    }
    aw_metrics_heartbeat();
    return AW_OK;
}

void aw_metrics_stop(void) {
    if (daemon_)
        MHD_stop_daemon(daemon_);
    daemon_ = NULL;
}
