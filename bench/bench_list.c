/*
 * Benchmark helper: the S3 server's own listing rate. Pages through
 * ListObjectsV2 of BUCKET under PREFIX (1,000 keys a page, the same client
 * and XML parser backfill uses, nothing else) and prints one line:
 *   objects=N pages=P seconds=S objects_per_s=R
 *   bench_list BUCKET PREFIX
 * Endpoint and credentials as bench_fetch.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aw/codec.h"
#include "aw/store.h"
#include "aw/util.h"

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: bench_list BUCKET PREFIX\n");
        return 2;
    }
    aw_s3 *s3;
    char err[512];
    if (aw_http_global_init() != AW_OK || aw_s3_new_from_env(&s3, err, sizeof err) != AW_OK) {
        fprintf(stderr, "bench_list: %s\n", err);
        return 1;
    }
    aw_s3xml_init();
    aw_fetch_policy p = {.concurrency = 1, .retries = 3, .backoff_base_ms = 100,
                         .backoff_max_ms = 2000};
    aw_membuf b = {.max = 64u << 20};
    aw_listing_page pg = {0};
    char *after = strdup("");
    long objects = 0, pages = 0;
    int64_t t0 = aw_now_ms();
    for (;;) {
        /* names in sorted order: curl before 8.x signs the query as given */
        char q[4096];
        size_t pos = (size_t)snprintf(q, sizeof q, "encoding-type=url&list-type=2&max-keys=1000");
        if (*argv[2]) {
            pos += (size_t)snprintf(q + pos, sizeof q - pos, "&prefix=");
            if (aw_uriencode(argv[2], strlen(argv[2]), false, q, sizeof q, &pos) != AW_OK)
                return 1;
        }
        if (*after) {
            pos += (size_t)snprintf(q + pos, sizeof q - pos, "&start-after=");
            if (aw_uriencode(after, strlen(after), false, q, sizeof q, &pos) != AW_OK)
                return 1;
        }
        q[pos] = '\0';
        aw_fetch f = {.bucket = argv[1], .query = q, .on_start = aw_membuf_start, .on_body = aw_membuf_put,
                      .ud = &b};
        if (aw_s3_fetch_many(s3, &f, 1, &p, NULL) != AW_OK || f.outcome != AW_FETCH_OK) {
            fprintf(stderr, "bench_list: %s\n", f.error);
            return 1;
        }
        if (aw_listing_parse(b.p, b.len, &pg, err, sizeof err) != AW_OK) {
            fprintf(stderr, "bench_list: %s\n", err);
            return 1;
        }
        pages++;
        objects += (long)pg.n;
        if (!pg.truncated || !pg.n)
            break;
        free(after);
        after = strdup(pg.items[pg.n - 1].key);
    }
    double secs = (double)(aw_now_ms() - t0) / 1000.0;
    printf("objects=%ld pages=%ld seconds=%.3f objects_per_s=%.0f\n", objects, pages, secs,
           (double)objects / secs);
    aw_listing_page_clear(&pg);
    free(after);
    free(b.p);
    aw_s3_destroy(s3);
    return 0;
}
