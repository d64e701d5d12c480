/*
 * HTTP and S3 access. This header hides libcurl. An aw_s3 holds the endpoint,
 * the credentials and one reusable connection; object bodies are handed to a
 * callback chunk by chunk as they arrive, so a caller can hash an object of
 * any size in constant memory.
 */
#ifndef AW_HTTP_H
#define AW_HTTP_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aw/err.h"

typedef struct aw_s3_opts {
    const char *endpoint;    /* "http://127.0.0.1:7070"; NULL/"" = AWS for region */
    const char *region;      /* signing region */
    const char *access_key;  /* NULL/"" = unsigned requests */
    const char *secret_key;
    const char *session_token;
    bool path_style;
    long timeout_ms;         /* abort when no byte arrives for this long */
} aw_s3_opts;

typedef struct aw_s3 aw_s3;

/* What a GET learned besides the body. */
typedef struct aw_s3_object_info {
    long status;             /* HTTP status, 0 when no response arrived */
    int64_t content_length;  /* -1 when absent */
    char etag[80];           /* without quotes */
    char content_type[128];
    char version_id[160];
    char checksum_sha256[64]; /* x-amz-checksum-sha256 (base64) if sent */
} aw_s3_object_info;

/* Returns AW_OK to continue, anything else aborts the transfer. */
typedef int (*aw_body_cb)(void *ud, const void *data, size_t len);

/* "libcurl 7.88.1" etc., for `artifact-watch version`. */
const char *aw_http_version(void);

/* Once per process, before any thread starts. */
int aw_http_global_init(void) AW_WUR;
void aw_http_global_cleanup(void);

/* Copies what it needs from opts. */
int aw_s3_new(const aw_s3_opts *opts, aw_s3 **out, char *errstr, size_t errstr_size) AW_WUR;
void aw_s3_destroy(aw_s3 *s3);

/* How a fetch ended. */
typedef enum aw_fetch_outcome {
    AW_FETCH_OK = 0,         /* 2xx and the whole body was delivered */
    AW_FETCH_NOT_FOUND,      /* 404: the object or version is gone */
    AW_FETCH_PRECONDITION,   /* 412: If-Match failed, the key holds other bytes now */
    AW_FETCH_FAILED,         /* this object failed: other 4xx, or 5xx/429/timeouts
                                after every retry, or the body consumer aborted */
    AW_FETCH_UNAVAILABLE,    /* the store itself is unreachable or refuses our
                                credentials: not this object's fault */
} aw_fetch_outcome;

/*
 * One GET in a batch. The caller fills the inputs; the fields after the
 * marker are written by aw_s3_fetch_many. on_start runs before every attempt
 * (a retry restarts the body from byte 0, so a hash must be reset there).
 */
typedef struct aw_fetch {
    const char *bucket;
    const char *key;
    const char *version_id;  /* pinned when not NULL/"" */
    const char *if_match;    /* ETag (no quotes) the bytes must still have, or NULL */
    int (*on_start)(void *ud);
    aw_body_cb on_body;
    void *ud;
    /* results */
    aw_fetch_outcome outcome;
    aw_s3_object_info info;
    int attempts;
    char error[320];
} aw_fetch;

typedef struct aw_fetch_policy {
    int concurrency;         /* transfers in flight at once */
    int retries;             /* further attempts after the first, for retryable failures */
    long backoff_base_ms;    /* first retry waits up to this long (full jitter), doubling */
    long backoff_max_ms;
    long stop_grace_ms;      /* after *stop becomes non-zero, how long transfers may
                                still run before they are abandoned */
} aw_fetch_policy;

/*
 * Runs every fetch in reqs[0..n) with at most policy->concurrency in flight
 * over reused connections, and returns when each has an outcome. Returns
 * AW_OK (look at each req's outcome), AW_EINTERRUPTED when *stop (if stop is
 * not NULL) became non-zero and policy->stop_grace_ms passed before the
 * last request ended (unfinished requests then have outcome
 * AW_FETCH_FAILED and error "interrupted"), or AW_ENOMEM.
 */
int aw_s3_fetch_many(aw_s3 *s3, aw_fetch *reqs, size_t n, const aw_fetch_policy *policy,
                     const volatile sig_atomic_t *stop) AW_WUR;

/*
 * A single GET with no retries, streamed to cb. AW_OK when a response
 * arrived (look at info->status) and a 2xx body was delivered completely;
 * AW_EHTTP with curl's words in errstr when the transfer failed.
 */
int aw_s3_get(aw_s3 *s3, const char *bucket, const char *key, const char *version_id,
              aw_body_cb cb, void *ud, aw_s3_object_info *info, char *errstr,
              size_t errstr_size) AW_WUR;


#endif
