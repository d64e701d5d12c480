/*
 * The daemon runtime (aw/daemon.h): signals and the stop flag, naps,
 * retries while a service is away, the rate limit and the hashing sink. Each
 * of these was once written in every daemon; one copy keeps their behaviour
 * (a second signal exits, a nap wakes within 100 ms) the same everywhere.
 */
#include "aw/daemon.h"

#include <string.h>
#include <unistd.h>

#include "aw/log.h"
#include "aw/metrics.h"
#include "aw/util.h"

volatile sig_atomic_t aw_stop;

static void on_signal(int sig) {
    if (aw_stop)
        _exit(128 + sig); /* second signal: leave at once */
    aw_stop = 1;
}

void aw_daemon_signals(void) {
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

bool aw_nap(int64_t ms) {
    int64_t until = aw_now_ms() + ms;
    while (!aw_stop) {
        aw_metrics_heartbeat();
        int64_t left = until - aw_now_ms();
        if (left <= 0)
            break;
        usleep((useconds_t)(left < 100 ? left : 100) * 1000);
    }
    return !aw_stop;
}

bool aw_retry_nap(void *arg, long ms) {
    (void)arg;
    return aw_nap(ms);
}

int aw_retry_while_unavailable(const char *log_part, const char *what, const char *meanwhile,
                               aw_retry_step step, void *arg, aw_retry_wait wait,
                               void *wait_arg) {
    long ms = 500;
    for (;;) {
        char why[1024] = "";
        int rc = step(arg, why, sizeof why);
        if (rc != AW_EUNAVAILABLE) {
            if (rc != AW_OK && rc != AW_EINTERRUPTED)
                AW_ERROR(log_part, "%s: %s: %s", what, aw_strerror(rc), why);
            return rc;
        }
        AW_WARN(log_part, "%s unavailable (%s); %s%sretrying in %ld ms", what, why,
                meanwhile ? meanwhile : "", meanwhile ? ", " : "", ms);
        if (!wait(wait_arg, ms))
            return AW_EINTERRUPTED;
        ms = ms * 2 > 30000 ? 30000 : ms * 2;
    }
}

#define WINDOW_MS 60000

void aw_rate_init(aw_rate *r, int64_t per_sec) {
    r->per_sec = per_sec;
    r->start_ms = aw_now_ms();
    r->n = 0;
}

static void rate_forget(aw_rate *r, int64_t now) {
    size_t k = 0;
    while (k < r->n && r->log[k].at < now - WINDOW_MS)
        k++;
    memmove(r->log, r->log + k, (r->n - k) * sizeof r->log[0]);
    r->n -= k;
}

void aw_rate_note(aw_rate *r, int64_t units) {
    if (!r->per_sec)
        return;
    int64_t now = aw_now_ms();
    rate_forget(r, now);
    if (r->n == AW_RATE_LOG) { /* the oldest two become one: the sum stays right */
        r->log[1].units += r->log[0].units;
        memmove(r->log, r->log + 1, (r->n - 1) * sizeof r->log[0]);
        r->n--;
    }
    r->log[r->n].at = now;
    r->log[r->n++].units = units;
}

bool aw_rate_ok(aw_rate *r) {
    if (!r->per_sec)
        return true;
    int64_t now = aw_now_ms(), from = now - WINDOW_MS, used = 0;
    rate_forget(r, now);
    for (size_t i = 0; i < r->n; i++)
        used += r->log[i].units;
    /* the window is the last minute, or the time since the start if shorter */
    double secs = (double)(now - (r->start_ms > from ? r->start_ms : from)) / 1000.0;
    if (secs < 1)
        secs = 1;
    return (double)used <= (double)r->per_sec * secs;
}

bool aw_rate_wait(aw_rate *const *rs, size_t n) {
    for (;;) {
        bool ok = true;
        for (size_t i = 0; ok && i < n; i++)
            ok = aw_rate_ok(rs[i]);
        if (ok || aw_stop)
            return !aw_stop;
        aw_metrics_heartbeat();
        usleep(50 * 1000);
    }
}

int aw_sink_start(void *ud) {
    aw_sink *sk = ud;
    sk->bytes = 0;
    sk->kept.len = 0;
    sk->cut = false;
    return aw_hash_reset(sk->hash);
}

int aw_sink_body(void *ud, const void *data, size_t len) {
    aw_sink *sk = ud;
    sk->bytes += (int64_t)len;
    if (sk->kept.max && !sk->cut) {
        int rc = aw_membuf_put(&sk->kept, data, len);
        if (rc == AW_EPARSE)
            sk->cut = true; /* hashed to the end, but not kept */
        else if (rc != AW_OK)
            return rc;
    }
    return aw_hash_update(sk->hash, data, len);
}
