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

#include "aw/config.h"
#include "aw/err.h"

typedef struct aw_s3_opts {
    const char *endpoint;    /* "http://127.0.0.1:7070"; NULL/"" = AWS for region */
    const char *region;      /* signing region */
    const char *access_key;  /* static credentials; NULL/"" = see credentials_file */
    const char *secret_key;
    const char *session_token;
    const char *credentials_file; /* without access_key: an AWS shared credentials
                                     file, re-read whenever it changes (rotating
                                     temporary credentials); NULL/"" = unsigned */
    const char *profile;     /* its profile, default "default" */
    bool path_style;
    long timeout_ms;         /* abort when no byte arrives for this long */
} aw_s3_opts;

typedef struct aw_s3 aw_s3;

/* What a GET learned besides the body. */
typedef struct aw_s3_object_info {
    long status;             /* HTTP status, 0 when no response arrived */
    int64_t content_length;  /* -1 when absent */
    int64_t range_total;     /* the object's size a Content-Range states, 0 when none */
    int parts_count;         /* x-amz-mp-parts-count (a part asked for): 1-10000, else 0 */
    char etag[80];           /* without quotes */
    char content_type[128];
    char version_id[160];
    char checksum_sha256[64]; /* x-amz-checksum-sha256 (base64) if sent */
    char last_modified[40];  /* Last-Modified as sent */
    char error_code[64];     /* S3's <Code> of an error response, "" if none */
} aw_s3_object_info;

/* Returns AW_OK to continue, anything else aborts the transfer. */
typedef int (*aw_body_cb)(void *ud, const void *data, size_t len);

/* A small body kept in memory (a listing, a document): the on_start and
 * on_body of a request whose ud is an aw_membuf. A body longer than max
 * aborts the transfer (AW_EPARSE); free p when done. */
typedef struct aw_membuf {
    char *p;
    size_t len, cap, max;
} aw_membuf;
int aw_membuf_start(void *membuf);
int aw_membuf_put(void *membuf, const void *data, size_t len);

/* "libcurl 7.88.1" etc., for `artifact-watch version`. */
const char *aw_http_version(void);

/* Once per process, before any thread starts. */
int aw_http_global_init(void) AW_WUR;
void aw_http_global_cleanup(void);

/* Copies what it needs from opts. AW_ECONFIG with the reason when an
 * endpoint, region or credential cannot be used safely. */
int aw_s3_new(const aw_s3_opts *opts, aw_s3 **out, char *errstr, size_t errstr_size) AW_WUR;
void aw_s3_destroy(aw_s3 *s3);

/* aw_s3_new from the AWS_ENDPOINT_URL_S3, AWS_REGION, AWS_ACCESS_KEY_ID and
 * AWS_SECRET_ACCESS_KEY variables alone, path style, 30 s timeout: for the
 * benchmark and test helpers. */
int aw_s3_new_from_env(aw_s3 **out, char *errstr, size_t errstr_size) AW_WUR;

/* aw_s3_new with the S3 settings of cfg (endpoint, region, credentials or
 * credentials file, path style, fetch timeout). */
int aw_s3_new_from_config(const aw_config *cfg, aw_s3 **out, char *errstr,
                          size_t errstr_size) AW_WUR;

/* How a fetch ended. */
typedef enum aw_fetch_outcome {
    AW_FETCH_OK = 0,         /* 2xx and the whole body was delivered */
    AW_FETCH_NOT_FOUND,      /* 404: the object or version is gone */
    AW_FETCH_PRECONDITION,   /* 412: If-Match failed, the key holds other bytes now */
    AW_FETCH_FAILED,         /* this object failed: other 4xx, or 5xx/429/timeouts
                                after every retry, or the body consumer aborted */
    AW_FETCH_DENIED,         /* 403 for this object with valid credentials
                                (AccessDenied, InvalidObjectState, a KMS key...) */
    AW_FETCH_UNAVAILABLE,    /* the store unreachable, or our credentials refused
                                (or a 401/403 that does not say which): whether
                                the store is away is decided over a whole batch */
} aw_fetch_outcome;

/*
 * One request in a batch, a GET unless method says otherwise. The caller
 * fills the inputs; the fields after the marker are written by
 * aw_s3_fetch_many. on_start runs before every attempt (a retry restarts the
 * body from byte 0, so a hash must be reset there). on_body receives only a
 * 2xx response's body.
 */
typedef struct aw_fetch {
    const char *method;      /* NULL/"GET", "HEAD" or "DELETE" */
    const char *bucket;      /* NULL: the service (ListBuckets) */
    const char *key;         /* NULL: the bucket (listings) */
    const char *query;       /* more query parameters, encoded, or NULL */
    const char *version_id;  /* pinned when not NULL/"" */
    const char *if_match;    /* ETag (no quotes) the bytes must still have, or NULL */
    int64_t range_start;     /* with range_len > 0: only these bytes (a 206 is required; */
    int64_t range_len;       /* a store that sends the whole object fails the request) */
    bool checksum_mode;      /* ask for the store's own checksum (x-amz-checksum-mode) */
    int64_t size_hint;       /* the bytes expected, when known (<= 0: not): a large
                                transfer gets a larger receive buffer */
    int (*on_start)(void *ud);
    aw_body_cb on_body;
    void (*on_end)(void *ud); /* once, when the outcome below is final; may be NULL */
    void *ud;
    /* results */
    aw_fetch_outcome outcome;
    aw_s3_object_info info;
    int attempts;
    int64_t started_ms;      /* when the first attempt started (aw_now_ms) */
    int64_t duration_ms;     /* from the first attempt's start to the outcome */
    char error[320];
} aw_fetch;

typedef struct aw_fetch_policy {
    int concurrency;         /* transfers in flight at once */
    int retries;             /* further attempts after the first, for retryable failures */
    long backoff_base_ms;    /* first retry waits up to this long (full jitter), doubling */
    long backoff_max_ms;
    long stop_grace_ms;      /* after *stop becomes non-zero, how long transfers may
                                still run before they are abandoned */
    void (*tick)(void *ud);  /* called about every 100 ms while transfers run, so
                                the caller can serve other duties; NULL: none */
    void *tick_ud;
    /* Asked before reqs[i] starts (and before each retry): AW_GATE_START, or
     * AW_GATE_WAIT (asked again after aw_s3_wakeup or within 100 ms), or
     * AW_GATE_SKIP (it ends failed, "not started"). NULL: always start. */
    int (*gate)(void *ud, size_t i);
    void *gate_ud;
} aw_fetch_policy;
enum { AW_GATE_START, AW_GATE_WAIT, AW_GATE_SKIP };

/* Makes a running aw_s3_fetch_many look at its gate again now; any thread. */
void aw_s3_wakeup(aw_s3 *s3);

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

/* Parallel byte-range GETs of one large object (aw_s3_fetch_ranged). */
typedef struct aw_range_policy {
    int64_t range_size;      /* bytes per range */
    int concurrency;         /* ranges in flight; memory is concurrency x range_size */
} aw_range_policy;

/*
 * Fetches one object of `size` bytes (-1: unknown, a HEAD asks) as ranges of
 * rp->range_size, rp->concurrency at a time over policy's retries, and
 * hands its bytes to req->on_body in order, so a streaming hash sees one
 * object (req->on_start runs once before the first byte, and again if the
 * fetch falls back to one whole GET). Every range is pinned: to
 * req->version_id, else to req->if_match, else to the ETag the first
 * response or the HEAD gave; a rewrite while the ranges download ends in
 * AW_FETCH_PRECONDITION (or AW_FETCH_NOT_FOUND), never in a mix of bytes.
 * A store that ignores Range is read with one GET instead. The outcome,
 * info (content_length = size) and error are req's, as aw_s3_fetch_many
 * sets them. AW_OK, AW_EINTERRUPTED or AW_ENOMEM as aw_s3_fetch_many.
 */
int aw_s3_fetch_ranged(aw_s3 *s3, aw_fetch *req, int64_t size, const aw_range_policy *rp,
                       const aw_fetch_policy *policy, const volatile sig_atomic_t *stop) AW_WUR;

/*
 * aw_s3_fetch_many for a batch in which some objects are large: a request
 * whose size_hint exceeds rp->range_size (with rp->concurrency > 1) is read
 * with aw_s3_fetch_ranged, one such object at a time, after the others have
 * been fetched together. Returns as aw_s3_fetch_many.
 */
int aw_s3_fetch_batch(aw_s3 *s3, aw_fetch *reqs, size_t n, const aw_range_policy *rp,
                      const aw_fetch_policy *policy, const volatile sig_atomic_t *stop) AW_WUR;

/*
 * Asks the store something every valid signature gets an answer to
 * (ListBuckets). AW_OK when it answers and accepts our credentials, even if
 * it denies the listing itself; AW_EUNAVAILABLE with the reason when it is
 * unreachable or refuses the credentials. Decides, when a whole batch is
 * refused, between a store that is away and objects that are each refused.
 */
int aw_s3_probe(aw_s3 *s3, char *errstr, size_t errstr_size) AW_WUR;

/*
 * POSTs a JSON document to an HTTP(S) URL (not S3: unsigned, for webhooks
 * such as Alertmanager's API). *status is the HTTP status (0 when no
 * response came); the first bytes of the response body go to reply (may be
 * NULL). AW_OK when a response arrived, AW_EHTTP with curl's words.
 */
int aw_http_post_json(const char *url, const char *body, long timeout_ms, long *status,
                      char *reply, size_t reply_size, char *errstr, size_t errstr_size) AW_WUR;

/*
 * A single GET with no retries, streamed to cb. AW_OK when a response
 * arrived (look at info->status) and a 2xx body was delivered completely;
 * AW_EHTTP with curl's words in errstr when the transfer failed.
 */
int aw_s3_get(aw_s3 *s3, const char *bucket, const char *key, const char *version_id,
              aw_body_cb cb, void *ud, aw_s3_object_info *info, char *errstr,
              size_t errstr_size) AW_WUR;


#endif
