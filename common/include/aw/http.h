/*
 * HTTP and S3 access. This header hides libcurl. An aw_s3 holds the endpoint,
 * the credentials and one reusable connection; object bodies are handed to a
 * callback chunk by chunk as they arrive, so a caller can hash an object of
 * any size in constant memory.
 */
#ifndef AW_HTTP_H
#define AW_HTTP_H

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

/* Once per process, before any thread starts. */
int aw_http_global_init(void) AW_WUR;
void aw_http_global_cleanup(void);

/* Copies what it needs from opts. */
int aw_s3_new(const aw_s3_opts *opts, aw_s3 **out, char *errstr, size_t errstr_size) AW_WUR;
void aw_s3_destroy(aw_s3 *s3);

/*
 * Builds the request URL for bucket/key (key raw, unencoded; version_id may
 * be NULL) into buf. AW_EINVAL if it does not fit.
 */
int aw_s3_object_url(const aw_s3 *s3, const char *bucket, const char *key,
                     const char *version_id, char *buf, size_t cap) AW_WUR;

/*
 * GETs an object and streams its body to cb. Returns AW_OK when a response
 * arrived (check info->status: 200, 404, 5xx...) and the body of a 2xx was
 * delivered completely; AW_EHTTP with curl's words in errstr when the
 * transfer failed (connection refused, timeout, short body); the callback's
 * own error when it aborted.
 */
int aw_s3_get(aw_s3 *s3, const char *bucket, const char *key, const char *version_id,
              aw_body_cb cb, void *ud, aw_s3_object_info *info, char *errstr,
              size_t errstr_size) AW_WUR;

/* A plain unauthenticated GET returning only the status (health checks). */
int aw_http_status(const char *url, long timeout_ms, long *status, char *errstr,
                   size_t errstr_size) AW_WUR;

#endif
