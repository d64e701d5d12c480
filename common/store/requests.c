/*
 * Requests made of aw_s3_fetch_many for callers that want one answer: a
 * probe of the store itself, and a single GET streamed to a callback.
 */
#include <stdio.h>
#include <string.h>

#include "aw/store.h"
#include "internal.h"

int aw_s3_probe(aw_s3 *s3, char *errstr, size_t n) {
    if (aw_s3_kind(s3) == AW_STORE_FILE)
        return aw_fstore_probe(aw_s3_fstore(s3), errstr, n);
    aw_fetch r = {.method = "GET", /* Azure: List Containers; S3: ListBuckets */
                  .query = aw_s3_kind(s3) == AW_STORE_AZURE ? "comp=list&maxresults=1" : NULL};
    aw_fetch_policy p = {.concurrency = 1, .retries = 1, .backoff_base_ms = 200,
                         .backoff_max_ms = 200};
    int rc = aw_s3_fetch_many(s3, &r, 1, &p, NULL);
    if (rc != AW_OK)
        return rc;
    /* an answer that is not about our credentials means the store works */
    if (r.outcome == AW_FETCH_OK || r.outcome == AW_FETCH_DENIED ||
        (r.info.status >= 300 && r.outcome != AW_FETCH_UNAVAILABLE && r.info.status < 500))
        return AW_OK;
    snprintf(errstr, n, "GET %s/: %s", aw_s3_endpoint(s3), r.error);
    return AW_EUNAVAILABLE;
}

int aw_s3_get(aw_s3 *s3, const char *bucket, const char *key, const char *version_id,
              aw_body_cb cb, void *ud, aw_s3_object_info *info, char *errstr, size_t n) {
    aw_fetch r = {.bucket = bucket, .key = key, .version_id = version_id, .on_body = cb,
                  .ud = ud};
    aw_fetch_policy p = {.concurrency = 1, .retries = 0};
    int rc = aw_s3_fetch_many(s3, &r, 1, &p, NULL);
    *info = r.info;
    if (rc != AW_OK)
        return rc;
    /* a non-2xx response is an answer the caller reads from info->status */
    if (r.outcome == AW_FETCH_OK || r.info.status >= 300)
        return AW_OK;
    snprintf(errstr, n, "GET s3://%s/%s: %s", bucket, key, r.error);
    return AW_EHTTP;
}
