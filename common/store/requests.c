/*
 * Requests made of aw_s3_fetch_many for callers that want one answer: a
 * probe of the store itself, a single GET streamed to a callback, and the
 * HEADs that tell an Azure blob that is gone from one that changed.
 */
#include <stdio.h>
#include <stdlib.h>
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

/* Azure answers If-Match on a blob that is gone with 412, as on one that
 * changed: a HEAD without the condition tells them apart, so a deleted blob
 * is not taken for a rewritten one. */
int aw_azure_tell_gone(aw_s3 *s3, aw_fetch *reqs, size_t n, const aw_fetch_policy *policy,
                      const volatile sig_atomic_t *stop) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += reqs[i].outcome == AW_FETCH_PRECONDITION && reqs[i].if_match;
    if (!k)
        return AW_OK;
    aw_fetch *heads = calloc(k, sizeof *heads);
    size_t *of = calloc(k, sizeof *of);
    if (!heads || !of) {
        free(heads), free(of);
        return AW_ENOMEM;
    }
    k = 0;
    for (size_t i = 0; i < n; i++)
        if (reqs[i].outcome == AW_FETCH_PRECONDITION && reqs[i].if_match) {
            heads[k] = (aw_fetch){.method = "HEAD", .bucket = reqs[i].bucket,
                                  .key = reqs[i].key, .version_id = reqs[i].version_id};
            of[k++] = i;
        }
    int rc = aw_s3_fetch_many(s3, heads, k, policy, stop);
    for (size_t j = 0; rc == AW_OK && j < k; j++)
        if (heads[j].outcome == AW_FETCH_NOT_FOUND) {
            aw_fetch *r = &reqs[of[j]];
            r->outcome = AW_FETCH_NOT_FOUND;
            r->info.status = 404;
            snprintf(r->info.error_code, sizeof r->info.error_code, "%s", heads[j].info.error_code);
            snprintf(r->error, sizeof r->error, "HTTP 404 %s (after 412 to If-Match)",
                     heads[j].info.error_code);
        }
    free(heads), free(of);
    return rc;
}
