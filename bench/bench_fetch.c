/*
 * Benchmark helper: fetches objects with the same engine and hashing ingest
 * uses (aw_s3_fetch_many + streaming SHA-256), without Kafka or PostgreSQL,
 * and prints one line of numbers:
 *   objects=N seconds=S objects_per_s=R mb_per_s=M peak_rss_mib=P
 *   bench_fetch BUCKET PREFIX COUNT CONCURRENCY    keys PREFIX0..PREFIX<COUNT-1>
 *   bench_fetch BUCKET KEY 1 1                     one object (COUNT 1 = KEY as is)
 * Endpoint and credentials: AWS_ENDPOINT_URL_S3, AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY (empty = unsigned), AWS_REGION. BENCH_METHOD=DELETE
 * (or HEAD) sends that request instead of a GET, for a store's own rate;
 * BENCH_NOHASH=1 receives without hashing, for the transport's own rate.
 * BENCH_RANGE_SIZE=N with BENCH_RANGE_CONCURRENCY=K (COUNT 1): the object
 * as parallel byte ranges (aw_s3_fetch_ranged), the way ingest reads large
 * objects.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "aw/daemon.h"
#include "aw/hash.h"
#include "aw/store.h"
#include "aw/util.h"

static bool no_hash; /* BENCH_NOHASH=1: the transport alone */

static int on_body(void *ud, const void *d, size_t n) {
    if (!no_hash)
        return aw_sink_body(ud, d, n);
    ((aw_sink *)ud)->bytes += (int64_t)n;
    return AW_OK;
}

int main(int argc, char **argv) {
    no_hash = getenv("BENCH_NOHASH") && !strcmp(getenv("BENCH_NOHASH"), "1");
    if (argc != 5) {
        fprintf(stderr, "usage: bench_fetch BUCKET PREFIX COUNT CONCURRENCY\n");
        return 2;
    }
    const char *bucket = argv[1], *prefix = argv[2];
    long count = strtol(argv[3], NULL, 10), conc = strtol(argv[4], NULL, 10);
    aw_s3 *s3;
    char err[512];
    if (aw_http_global_init() != AW_OK || aw_s3_new_from_env(&s3, err, sizeof err) != AW_OK) {
        fprintf(stderr, "bench_fetch: %s\n", err);
        return 1;
    }
    const long batch = 1000;
    aw_fetch *reqs = calloc((size_t)batch, sizeof *reqs);
    aw_sink *slots = calloc((size_t)batch, sizeof *slots);
    char (*keys)[256] = calloc((size_t)batch, 256);
    if (!reqs || !slots || !keys)
        return 1;
    for (long i = 0; i < batch; i++)
        if (aw_hash_new(false, &slots[i].hash) != AW_OK)
            return 1;
    aw_fetch_policy p = {.concurrency = (int)conc, .retries = 3, .backoff_base_ms = 100,
                         .backoff_max_ms = 2000};
    /* one object: its size, as ingest has it from the event (a large body
     * gets a larger receive buffer) */
    int64_t hint = -1;
    if (count == 1) {
        aw_fetch h = {.method = "HEAD", .bucket = bucket, .key = prefix};
        if (aw_s3_fetch_many(s3, &h, 1, &p, NULL) == AW_OK && h.outcome == AW_FETCH_OK)
            hint = h.info.content_length;
    }
    int64_t t0 = aw_now_ms(), bytes = 0;
    long failed = 0;
    for (long done = 0; done < count; done += batch) {
        long n = count - done < batch ? count - done : batch;
        for (long i = 0; i < n; i++) {
            if (count == 1)
                snprintf(keys[i], 256, "%s", prefix);
            else
                snprintf(keys[i], 256, "%s%ld", prefix, done + i);
            reqs[i] = (aw_fetch){.method = getenv("BENCH_METHOD"), .bucket = bucket,
                                 .key = keys[i], .size_hint = hint,
                                 .on_start = aw_sink_start, .on_body = on_body,
                                 .ud = &slots[i]};
        }
        const char *rs = getenv("BENCH_RANGE_SIZE"), *rc = getenv("BENCH_RANGE_CONCURRENCY");
        aw_range_policy rp = {.range_size = rs ? strtoll(rs, NULL, 10) : 0,
                              .concurrency = rc ? (int)strtol(rc, NULL, 10) : 1};
        if (count == 1 && rp.range_size > 0) {
            aw_fetch_policy rpol = p;
            rpol.concurrency = rp.concurrency;
            if (aw_s3_fetch_ranged(s3, reqs, -1, &rp, &rpol, NULL) != AW_OK)
                return 1;
        } else if (aw_s3_fetch_many(s3, reqs, (size_t)n, &p, NULL) != AW_OK) {
            return 1;
        }
        for (long i = 0; i < n; i++) {
            uint8_t d[32];
            if (reqs[i].outcome != AW_FETCH_OK) {
                if (!failed++)
                    fprintf(stderr, "bench_fetch: %s: %s\n", keys[i], reqs[i].error);
                continue;
            }
            if (aw_hash_final(slots[i].hash, d, NULL) != AW_OK)
                return 1;
            bytes += slots[i].bytes;
        }
    }
    double secs = (double)(aw_now_ms() - t0) / 1000.0;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("objects=%ld failed=%ld seconds=%.3f objects_per_s=%.0f mb_per_s=%.1f "
           "peak_rss_mib=%.1f\n",
           count - failed, failed, secs, (double)(count - failed) / secs,
           (double)bytes / secs / 1e6, (double)ru.ru_maxrss / 1024.0);
    aw_s3_destroy(s3);
    return failed ? 1 : 0;
}
