/*
 * The metrics registry and its endpoint: the exposition text (HELP and TYPE
 * once per name, labels, cumulative histogram buckets, +Inf, _sum, _count),
 * and /metrics, /healthz, /readyz and a 404 over a real socket.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "aw/metrics.h"
#include "test.h"

/* A free loopback port. */
static int free_port(void) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    ASSERT(s >= 0 && bind(s, (struct sockaddr *)&a, sizeof a) == 0);
    ASSERT(getsockname(s, (struct sockaddr *)&a, &l) == 0);
    close(s);
    return ntohs(a.sin_port);
}

/* GET path over HTTP/1.0; the whole response into out. */
static void get(int port, const char *path, char *out, size_t cap) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ASSERT(s >= 0 && connect(s, (struct sockaddr *)&a, sizeof a) == 0);
    char req[256];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: x\r\n\r\n", path);
    ASSERT(write(s, req, (size_t)n) == n);
    size_t got = 0;
    ssize_t r;
    while (got < cap - 1 && (r = read(s, out + got, cap - 1 - got)) > 0)
        got += (size_t)r;
    out[got] = '\0';
    close(s);
}

int main(void) {

    aw_metric *ok = aw_metric_counter("aw_test_events_total", "Events.", "result=\"ok\"");
    aw_metric *bad = aw_metric_counter("aw_test_events_total", "Events.", "result=\"bad\"");
    aw_metric *g = aw_metric_gauge("aw_test_paused", "Paused.", NULL);
    const double bounds[] = {0.1, 1};
    aw_metric *h = aw_metric_histogram("aw_test_seconds", "Time.", NULL, bounds, 2);
    ASSERT(ok && bad && g && h);
    ASSERT(aw_metric_counter("aw_test_events_total", "Events.", "result=\"ok\"") == ok);
    aw_metric_add(ok, 3);
    aw_metric_add(ok, -5); /* a counter never goes down */
    aw_metric_add(bad, 1);
    aw_metric_set(g, 1);
    aw_metric_set(ok, 100); /* set is for gauges */
    aw_metric_observe(h, 0.05);
    aw_metric_observe(h, 0.5);
    aw_metric_observe(h, 7);
    aw_metric_add(NULL, 1); /* a series that failed to register is a no-op */
    ASSERT(aw_metric_counter("aw_test_x", "y", NULL) != NULL);
    char name[200];
    memset(name, 'a', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    ASSERT(aw_metric_counter(name, "too long", NULL) == NULL);

    char *t = aw_metrics_render();
    ASSERT(t != NULL);
    ASSERT_CONTAINS(t, "# HELP aw_test_events_total Events.\n# TYPE aw_test_events_total counter\n"
                       "aw_test_events_total{result=\"ok\"} 3\naw_test_events_total{result=\"bad\"} 1\n");
    ASSERT_CONTAINS(t, "# TYPE aw_test_paused gauge\naw_test_paused 1\n");
    ASSERT_CONTAINS(t, "# TYPE aw_test_seconds histogram\naw_test_seconds_bucket{le=\"0.10000000000000001\"} 1\n"
                       "aw_test_seconds_bucket{le=\"1\"} 2\naw_test_seconds_bucket{le=\"+Inf\"} 3\n"
                       "aw_test_seconds_sum 7.5499999999999998\naw_test_seconds_count 3\n");

    CASE("one HELP and TYPE per name, however many series") {
        ASSERT(strstr(strstr(t, "# TYPE aw_test_events_total") + 1, "# TYPE aw_test_events_total") == NULL);
        free(t);

        char err[256];
        ASSERT_INT_EQ(aw_metrics_serve("nonsense", err, sizeof err), AW_ECONFIG);
        ASSERT_CONTAINS(err, "expected HOST:PORT");
        ASSERT_INT_EQ(aw_metrics_serve("127.0.0.1:99999", err, sizeof err), AW_ECONFIG);
        ASSERT_INT_EQ(aw_metrics_serve("example.com:80", err, sizeof err), AW_ECONFIG);
        int port = free_port();
        char addr[64], resp[8192];
        snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
        ASSERT_INT_EQ(aw_metrics_serve(addr, err, sizeof err), AW_OK);
        get(port, "/metrics", resp, sizeof resp);
        ASSERT_CONTAINS(resp, " 200 OK");
        ASSERT_CONTAINS(resp, "text/plain; version=0.0.4");
        ASSERT_CONTAINS(resp, "aw_test_events_total{result=\"bad\"} 1\n");
        get(port, "/healthz", resp, sizeof resp);
        ASSERT_CONTAINS(resp, " 200 ");
        aw_metrics_stale_after(0);
        usleep(20000);
        get(port, "/healthz", resp, sizeof resp);
        ASSERT_CONTAINS(resp, " 503 ");
        ASSERT_CONTAINS(resp, "has not turned");
        get(port, "/readyz", resp, sizeof resp);
        ASSERT_CONTAINS(resp, " 503 ");
        ASSERT_CONTAINS(resp, "starting");
        aw_metrics_ready(true, NULL);
        get(port, "/readyz", resp, sizeof resp);
        ASSERT_CONTAINS(resp, " 200 ");
        get(port, "/nope", resp, sizeof resp);
        ASSERT_CONTAINS(resp, " 404 ");
        aw_metrics_stop();
    }
    TEST_DONE();
}
