/*
 * Metrics and health over HTTP: a process-wide registry of counters, gauges
 * and histograms, rendered in Prometheus's text exposition format, and the
 * endpoints /metrics, /healthz and /readyz served by libmicrohttpd on a
 * thread of its own (--metrics-addr HOST:PORT). Every function is
 * thread-safe and accepts a NULL metric (registration that failed is a
 * no-op, never a crash).
 */
#ifndef AW_METRICS_H
#define AW_METRICS_H

#include <stdbool.h>
#include <stddef.h>

#include "aw/err.h"

typedef struct aw_metric aw_metric;

/*
 * Registers one series. name follows Prometheus's conventions (aw_ prefix,
 * base units, counters end in _total); labels is the text between the
 * braces ("result=\"ok\""), or NULL. Series of one name are rendered
 * together under one HELP and TYPE. The same name and labels return the
 * same series.
 */
aw_metric *aw_metric_counter(const char *name, const char *help, const char *labels);
aw_metric *aw_metric_gauge(const char *name, const char *help, const char *labels);
/* bounds: the upper bounds of the buckets, increasing (+Inf is added). */
aw_metric *aw_metric_histogram(const char *name, const char *help, const char *labels,
                               const double *bounds, size_t nbounds);

/* A series for each of values (NULL-terminated) as label="value", into
 * out in the order of values: a daemon declares the label values it knows
 * at start, so each shows 0 from the first scrape. */
void aw_metric_family(bool gauge, const char *name, const char *help, const char *label,
                      const char *const *values, aw_metric **out);

void aw_metric_add(aw_metric *m, double v);     /* counters and gauges */
void aw_metric_set(aw_metric *m, double v);     /* gauges; counters only grow */
void aw_metric_observe(aw_metric *m, double v); /* histograms */

/* The exposition text of every series; malloc'd, NULL on no memory. */
char *aw_metrics_render(void);

/*
 * Serves /metrics, /healthz and /readyz on addr ("HOST:PORT", ":PORT" for
 * every address, "[::1]:PORT"). AW_ECONFIG with the reason when addr is
 * malformed or the port cannot be bound.
 */
int aw_metrics_serve(const char *addr, char *errstr, size_t errstr_size) AW_WUR;
void aw_metrics_stop(void);

/* The main loop turned: /healthz answers 200 while this happens at least
 * every stale_s seconds (set once; default 300). */
void aw_metrics_heartbeat(void);
void aw_metrics_stale_after(int stale_s);

/* /readyz: 200 when ready, else 503 with why (the services it needs). */
void aw_metrics_ready(bool ready, const char *why);

#endif
