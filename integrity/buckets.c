/*
 * Buckets that scrub cannot read at all. When every read of a bucket in a
 * batch fails the way a missing or forbidden bucket fails (NoSuchBucket, a
 * 403, a wrong endpoint that answers 404 to everything), one listing request
 * asks the bucket itself; if that fails too, it is one 'bucket_unreachable'
 * alert, not one 'missing' or 'unreadable' per object, and scrub leaves the
 * bucket alone (paused) until a pass finds it readable again, which resolves
 * the alert.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aw/store.h"
#include "aw/log.h"
#include "internal.h"

#define BLOG "scrub"

/* Whether a read's failure is one a bucket-wide problem would give. */
bool bucket_failure(const aw_fetch *f) {
    if (f->outcome == AW_FETCH_NOT_FOUND) /* NoSuchKey, NoSuchVersion, BlobNotFound: the object's */
        return strcmp(f->info.error_code, "NoSuchKey") &&
               strcmp(f->info.error_code, "NoSuchVersion") &&
               strcmp(f->info.error_code, "BlobNotFound");
    return f->outcome == AW_FETCH_DENIED ||
           (f->outcome == AW_FETCH_FAILED && (f->info.status == 403 || f->info.status == 404));
}

bool bucket_readable(aw_s3 *s3, const char *bucket, char *why, size_t n) {
    /* one question: the reads that made us ask were retried already */
    aw_fetch_policy pol = {.concurrency = 1, .retries = 0, .stop_grace_ms = 2000};
    aw_list_req q = {.bucket = bucket, .max_keys = 1};
    aw_listing_page page = {0};
    bool ok = aw_s3_list(s3, &pol, &q, &page, why, n) == AW_OK;
    aw_listing_page_clear(&page);
    return ok;
}

int bucket_raise(aw_pg *pg, const char *store, const char *bucket, const char *why,
                 char *errstr, size_t n) {
    json_t *d = json_pack("{s:s, s:s}", "error", why, "scrub",
                          "paused for this bucket until it can be read again");
    char *js = d ? json_dumps(d, JSON_COMPACT) : NULL;
    json_decref(d);
    if (!js)
        return AW_ENOMEM;
    const char *params[3] = {store, bucket, js};
    int rc = aw_pg_query(pg, "SELECT aw.bucket_alert_raise($1, $2, $3::jsonb)", 3, params, NULL,
                         errstr, n);
    free(js);
    if (rc == AW_OK)
        AW_ERROR(BLOG, "bucket_unreachable s3://%s (store %s): %s; its versions are not read "
                 "until it can be", bucket, store, why);
    return rc;
}

int buckets_paused(aw_pg *pg, aw_s3 *s3, const char *store, paused *out, char *errstr,
                   size_t n) {
    const char *params[1] = {store};
    aw_pg_result *r = NULL;
    int rc = aw_pg_query(pg, "SELECT bucket FROM aw.alerts WHERE kind = 'bucket_unreachable'"
                             " AND object_version_id IS NULL AND state = 'open' AND store = $1"
                             " ORDER BY bucket", 1, params, &r, errstr, n);
    for (int i = 0; rc == AW_OK && i < aw_pg_result_rows(r); i++) {
        const char *b = aw_pg_result_get(r, i, 0);
        char why[400];
        if (bucket_readable(s3, b, why, sizeof why)) {
            const char *p[2] = {store, b};
            rc = aw_pg_query(pg, "SELECT aw.bucket_alert_resolve($1, $2)", 2, p, NULL, errstr, n);
            AW_INFO(BLOG, "s3://%s (store %s) can be read again: bucket_unreachable resolved",
                    b, store);
        } else {
            rc = paused_add(out, b);
        }
    }
    aw_pg_result_free(r);
    return rc;
}

int paused_add(paused *p, const char *bucket) {
    if (paused_has(p, bucket))
        return AW_OK;
    char **nb = realloc(p->v, (p->n + 1) * sizeof *nb);
    char *dup = strdup(bucket);
    if (!nb || !dup) {
        free(dup);
        if (nb)
            p->v = nb;
        return AW_ENOMEM;
    }
    p->v = nb;
    p->v[p->n++] = dup;
    return AW_OK;
}

bool paused_has(const paused *p, const char *bucket) {
    for (size_t i = 0; i < p->n; i++)
        if (!strcmp(p->v[i], bucket))
            return true;
    return false;
}

char *paused_array(const paused *p) {
    json_t *a = json_array();
    for (size_t i = 0; a && i < p->n; i++)
        json_array_append_new(a, json_string(p->v[i]));
    char *s = a ? json_dumps(a, JSON_COMPACT) : NULL;
    json_decref(a);
    return s;
}

void paused_free(paused *p) {
    for (size_t i = 0; i < p->n; i++)
        free(p->v[i]);
    free(p->v);
    p->v = NULL;
    p->n = 0;
}
