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

#include "aw/store.h"

/*
 * The URL of bucket/key at endpoint (no trailing slash), path-style or
 * virtual-hosted, with the key URI-encoded ('/' kept) and versionId pinned
 * when version_id is not NULL/"". AW_EINVALID when the bucket name may not
 * stand there (aw_bucket_name_ok for path-style, aw_bucket_dns_ok for a host
 * name); AW_EINVAL if it does not fit in cap.
 */
int aw_s3_object_url(const char *endpoint, bool path_style, const char *bucket,
                     const char *key, const char *version_id, char *buf, size_t cap) AW_WUR;

/* The same for any request: bucket NULL addresses the service (ListBuckets),
 * key NULL the bucket; query is appended as given (already encoded). */
int aw_s3_url(const char *endpoint, bool path_style, const char *bucket, const char *key,
              const char *version_id, const char *query, char *buf, size_t cap) AW_WUR;

/* Whether S3's error code (the <Code> of an error response) says the request's
 * credentials were refused (unknown key, bad signature, expired token, clock
 * skew), as opposed to a decision about this object (AccessDenied,
 * InvalidObjectState, ...). */
bool aw_s3_credential_error(const char *code);

/* Copies the <Code> element of an S3 error body (first len bytes) to out;
 * "" when there is none. */
void aw_s3_error_code(const char *body, size_t len, char *out, size_t cap);

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
 * whether to try again. status is the HTTP status (0 if none), error_code
 * S3's <Code> of an error response ("" if none), content_length the
 * announced length (-1 if none) and received the body bytes that arrived.
 * A 401/403 whose code refuses the credentials, or that has no code to
 * tell, is AW_FETCH_UNAVAILABLE (the caller decides with the rest of its
 * batch whether the store is away); any other 403 is AW_FETCH_DENIED. error receives a reason unless it is AW_FETCH_OK;
 * for transport ends the caller has already written it.
 */
aw_verdict aw_fetch_classify(aw_xfer_end end, long status, const char *error_code,
                             int64_t content_length, int64_t received,
                             aw_fetch_outcome *outcome, char *error, size_t errn);

/* The endpoint a client talks to, for messages. */
const char *aw_s3_endpoint(const aw_s3 *s3);

/* Clears what a response said (status, headers) before an attempt. */
void aw_s3_info_reset(aw_s3_object_info *i);

/* Takes one response header line (len bytes, CRLF included) into i: the
 * status line starts over; Content-Length, ETag (unquoted), Content-Type,
 * x-amz-version-id, Last-Modified, x-amz-checksum-sha256, Content-Range's
 * total and x-amz-mp-parts-count (1-10000) are kept. */
void aw_s3_header(aw_s3_object_info *i, const char *line, size_t len);

/* One set of S3 credentials, malloc'd strings (NULL when absent). */
typedef struct aw_s3_creds {
    char *access_key, *secret_key, *session_token;
} aw_s3_creds;

/* Wipes and frees the strings; NULL is ignored. */
void aw_s3_creds_clear(aw_s3_creds *c);

/* AW_ECONFIG, naming source, when a credential could not be sent safely in a
 * header (control bytes, spaces, ':' in the key id) or a key has no secret.
 * No access key means unsigned requests, which is fine. */
int aw_s3_creds_check(const aw_s3_creds *c, const char *source, char *errstr,
                      size_t errstr_size) AW_WUR;

/*
 * Reads profile (default "default"; "[profile NAME]" is accepted too) of an
 * AWS shared credentials file: aws_access_key_id, aws_secret_access_key,
 * aws_session_token. AW_ECONFIG with the reason (file, profile, which key)
 * when it cannot be used; *out is then empty.
 */
int aw_s3_creds_read_file(const char *path, const char *profile, aw_s3_creds *out,
                          char *errstr, size_t errstr_size) AW_WUR;

#endif
