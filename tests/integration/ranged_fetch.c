/*
 * Test helper: one object through aw_s3_fetch_ranged, hashed as it is
 * handed over, and one line of what came of it:
 *   outcome=ok|not_found|precondition|failed|denied|unavailable sha256=HEX bytes=N
 *   ranged_fetch BUCKET KEY RANGE_SIZE CONCURRENCY [COMMAND]
 * COMMAND (run with system(3) once the first range has been handed over)
 * lets a test rewrite the object in the middle of a ranged download.
 * Endpoint and credentials from AWS_ENDPOINT_URL_S3, AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY, AWS_REGION; the size is asked for with a HEAD.
 * RANGED_DEBUG=1 turns on debug logging (the range plan goes to stderr).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aw/codec.h"
#include "aw/daemon.h"
#include "aw/hash.h"
#include "aw/store.h"
#include "aw/log.h"

/* The hashing sink, and a command run once the first bytes arrived. */
typedef struct sink {
    aw_sink s;
    const char *command;
    int ran;
} sink;

static int on_body(void *ud, const void *d, size_t n) {
    sink *s = ud;
    int rc = aw_sink_body(&s->s, d, n);
    if (s->command && !s->ran++ && system(s->command) != 0)
        fprintf(stderr, "ranged_fetch: the command failed: %s\n", s->command);
    return rc;
}

int main(int argc, char **argv) {
    if (argc != 5 && argc != 6) {
        fprintf(stderr, "usage: ranged_fetch BUCKET KEY RANGE_SIZE CONCURRENCY [COMMAND]\n");
        return 2;
    }
    static const char *const names[] = {"ok", "not_found", "precondition", "failed", "denied",
                                        "unavailable"};
    aw_s3 *s3;
    char err[512];
    if (getenv("RANGED_DEBUG"))
        aw_log_threshold = AW_LOG_DEBUG;
    sink s = {.command = argc == 6 ? argv[5] : NULL};
    if (aw_http_global_init() != AW_OK || aw_s3_new_from_env(&s3, err, sizeof err) != AW_OK ||
        aw_hash_new(false, &s.s.hash) != AW_OK) {
        fprintf(stderr, "ranged_fetch: %s\n", err);
        return 1;
    }
    aw_range_policy rp = {.range_size = strtoll(argv[3], NULL, 10),
                          .concurrency = (int)strtol(argv[4], NULL, 10)};
    aw_fetch_policy p = {.concurrency = rp.concurrency, .retries = 2, .backoff_base_ms = 50,
                         .backoff_max_ms = 500};
    aw_fetch f = {.bucket = argv[1], .key = argv[2], .on_start = aw_sink_start, .on_body = on_body,
                  .ud = &s};
    if (aw_s3_fetch_ranged(s3, &f, -1, &rp, &p, NULL) != AW_OK)
        return 1;
    uint8_t d[32], md5[16];
    char hex[65] = "";
    if (f.outcome == AW_FETCH_OK && aw_hash_final(s.s.hash, d, md5) == AW_OK)
        aw_hex(d, 32, hex);
    printf("outcome=%s sha256=%s bytes=%lld attempts=%d%s%s\n", names[f.outcome], hex,
           (long long)s.s.bytes, f.attempts, f.error[0] ? " error=" : "", f.error);
    aw_hash_destroy(s.s.hash);
    aw_s3_destroy(s3);
    return 0;
}
