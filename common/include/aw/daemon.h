/*
 * What every long-running command shares, so each daemon's loop reads as its
 * own job only: one stop flag set by the signal handlers, a sleep that wakes
 * for it, retrying a step while a service is away, a rate limit, and the body
 * sink that hashes a GET as it streams.
 */
#ifndef AW_DAEMON_H
#define AW_DAEMON_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aw/err.h"
#include "aw/hash.h"
#include "aw/store.h"

/* Set by the first SIGTERM or SIGINT once aw_daemon_signals() installed the
 * handlers; a second signal exits at once with 128 + its number. */
extern volatile sig_atomic_t aw_stop;

/* Installs the handlers above and ignores SIGPIPE. Idempotent. */
void aw_daemon_signals(void);

/* Sleeps ms milliseconds in short steps, beating the metrics heartbeat, and
 * wakes early when aw_stop is set. Returns false when stopping. */
bool aw_nap(int64_t ms);

/* One try of something that needs a service; AW_EUNAVAILABLE means "the
 * service is away, try again", anything else is final. why receives the
 * reason of a failure. */
typedef int (*aw_retry_step)(void *arg, char *why, size_t why_size);

/* Waits ms before the next try; false gives up (the caller is stopping). */
typedef bool (*aw_retry_wait)(void *arg, long ms);

/* aw_retry_wait that naps (aw_nap); arg is unused. */
bool aw_retry_nap(void *arg, long ms);

/*
 * Runs step until it returns something other than AW_EUNAVAILABLE, waiting
 * with wait between tries (500 ms, doubling up to 30 s) and logging each
 * outage under log_part as "what unavailable (why); meanwhile, retrying in N
 * ms" (meanwhile may be NULL). Returns the step's final result, or
 * AW_EINTERRUPTED when wait gave up.
 */
int aw_retry_while_unavailable(const char *log_part, const char *what, const char *meanwhile,
                               aw_retry_step step, void *arg, aw_retry_wait wait,
                               void *wait_arg) AW_WUR;

/*
 * A rate limit over a sliding minute: at most per_sec units a second on
 * average over the last minute (or since the start, when shorter). per_sec 0
 * is no limit. Several limits (bytes and objects, say) are several aw_rates.
 */
#define AW_RATE_LOG 4096
typedef struct aw_rate {
    int64_t per_sec;
    int64_t start_ms;
    size_t n;
    struct {
        int64_t at, units;
    } log[AW_RATE_LOG];
} aw_rate;

/* Starts a limit of per_sec (0: none) now. */
void aw_rate_init(aw_rate *r, int64_t per_sec);

/* Records that units were used now. */
void aw_rate_note(aw_rate *r, int64_t units);

/* Whether the last minute's use is within the limit now. */
bool aw_rate_ok(aw_rate *r);

/* Naps until every limit of rs[0..n) is within itself; false when stopping. */
bool aw_rate_wait(aw_rate *const *rs, size_t n);

/* Where the body of a GET goes when it is to be hashed: into the SHA-256 (and
 * MD5 when the hash was made with it) as it streams, and, when keep.max > 0,
 * its first keep.max bytes into memory. */
typedef struct aw_sink {
    aw_hash *hash;
    int64_t bytes;          /* received in the current attempt */
    aw_membuf kept;         /* the leading bytes; kept.max: how many are wanted (0: none) */
    bool cut;               /* the object was longer than kept.max */
} aw_sink;

/* aw_fetch's on_start and on_body, with an aw_sink as ud: a retry starts the
 * hash and the kept bytes over. */
int aw_sink_start(void *sink);
int aw_sink_body(void *sink, const void *data, size_t len);

#endif
