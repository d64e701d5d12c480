/*
 * The parts of the S3 client that need no libcurl: request URLs and what a
 * finished transfer means. Private to common/; http.c uses them and
 * tests/unit/test_http.c checks them without a server.
 */
#ifndef AW_HTTP_INTERNAL_H
#define AW_HTTP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aw/http.h"

/*
 * The URL of bucket/key at endpoint (no trailing slash), path-style or
 * virtual-hosted, with the key URI-encoded ('/' kept) and versionId pinned
 * when version_id is not NULL/"". AW_EINVAL if it does not fit in cap.
 */
int aw_s3_object_url(const char *endpoint, bool path_style, const char *bucket,
                     const char *key, const char *version_id, char *buf, size_t cap) AW_WUR;

/* How a transfer ended below HTTP. */
typedef enum aw_xfer_end {
    AW_XFER_COMPLETE = 0,    /* a response arrived and its body was read */
    AW_XFER_UNREACHABLE,     /* could not connect or resolve: the store is away */
    AW_XFER_REFUSED,         /* a request that cannot succeed (bad URL, no memory) */
    AW_XFER_BROKEN,          /* timeout, reset, short read: worth another try */
    AW_XFER_CONSUMER,        /* the body callback refused the bytes */
} aw_xfer_end;

typedef enum aw_verdict {
    AW_VERDICT_DONE = 0,
    AW_VERDICT_RETRY,              /* this object; try again after a backoff */
    AW_VERDICT_RETRY_UNAVAILABLE,  /* the store itself; try again */
} aw_verdict;

/*
 * Decides what a finished transfer means: the request's outcome and
 * whether to try again. status is the HTTP status (0 if none),
 * content_length the announced length (-1 if none) and received the body
 * bytes that arrived. error receives a reason unless it is AW_FETCH_OK;
 * for transport ends the caller has already written it.
 */
aw_verdict aw_fetch_classify(aw_xfer_end end, long status, int64_t content_length,
                             int64_t received, aw_fetch_outcome *outcome, char *error,
                             size_t errn);

#endif
