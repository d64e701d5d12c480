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
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

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

/* An Azure Blob URL: endpoint/container[/blob] with the blob URI-encoded
 * ('/' kept), then query, versionid and the SAS token's parameters.
 * container NULL: the account (List Containers). AW_EINVALID for a
 * container name that may not stand there, AW_EINVAL if it does not fit. */
int aw_azure_url(const char *endpoint, const char *container, const char *blob,
                 const char *version_id, const char *query, const char *sas, char *buf,
                 size_t cap) AW_WUR;

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

/* What SigV4 requests carry: curl's "access:secret" (NULL: unsigned) and
 * the headers S3 wants with it (x-amz-content-sha256, the session token),
 * from static credentials or a shared credentials file re-read whenever
 * it changes. */
typedef struct aw_s3_auth {
    char *userpwd;
    char *headers[2];       /* NULL-terminated early */
    char *cred_file, *profile;
    struct timespec cred_mtime;
    off_t cred_size;
} aw_s3_auth;

/* Makes c the credentials of every request from now on. AW_ENOMEM. */
int aw_s3_auth_use(aw_s3_auth *a, const aw_s3_creds *c) AW_WUR;

/* Re-reads a->cred_file (if any) when it changed since the last read. A
 * file that cannot be used now keeps the credentials in use and says why
 * (AW_ECONFIG). */
int aw_s3_auth_refresh(aw_s3_auth *a, char *errstr, size_t errstr_size) AW_WUR;

/* Wipes and frees everything of a. */
void aw_s3_auth_clear(aw_s3_auth *a);

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

/* ------------------------------------------------------------ Azure */

/* What Shared Key signs of one request (azure.c). */
typedef struct aw_azure_req {
    const char *method;      /* "GET", "HEAD", "DELETE" */
    const char *if_match;    /* the header's value as sent (quoted), or NULL */
    const char *range;       /* "bytes=A-B" as sent, or NULL */
    const char *date;        /* x-ms-date */
    const char *version;     /* x-ms-version */
    const char *account;
    const char *path;        /* the URL's path exactly as sent, "/" at least */
    const char *query;       /* the URL's query (encoded, no '?'), or NULL */
} aw_azure_req;

/* The string Shared Key signs for r, into out. AW_EINVAL when it does not
 * fit, AW_ENOMEM. */
int aw_azure_string_to_sign(const aw_azure_req *r, char *out, size_t cap) AW_WUR;

/* The x-ms-version every request sends. */
#define AW_AZURE_VERSION "2021-08-06"

/* The Azure settings of o, checked: *account, the decoded key (*keylen
 * bytes of keycap) or *sas (malloc'd). AW_ECONFIG with the reason. */
int aw_azure_setup(const aw_s3_opts *o, char **account, uint8_t *key, size_t keycap,
                   size_t *keylen, char **sas, char *errstr, size_t errstr_size) AW_WUR;

/* The headers r at url needs: x-ms-date, x-ms-version and (keylen > 0)
 * the Shared Key Authorization of exactly what is sent, If-Match and Range
 * included; h[2] is "" when unsigned. */
int aw_azure_headers(const char *account, const uint8_t *key, size_t keylen, const aw_fetch *r,
                     const char *url, char h[3][300]) AW_WUR;

/* After an Azure batch: a request whose If-Match got 412 is asked again
 * with a HEAD without it, and becomes AW_FETCH_NOT_FOUND when the blob is
 * gone (Azure answers 412 for both). AW_OK, or as aw_s3_fetch_many. */
int aw_azure_tell_gone(aw_s3 *s3, aw_fetch *reqs, size_t n, const aw_fetch_policy *policy,
                       const volatile sig_atomic_t *stop) AW_WUR;

/* "Authorization: SharedKey ACCOUNT:SIG" for r under key (decoded). */
int aw_azure_authorization(const aw_azure_req *r, const uint8_t *key, size_t keylen, char *out,
                           size_t cap) AW_WUR;

/* ------------------------------------------------------------ file stores */

typedef struct aw_fstore aw_fstore;

/* roots: absolute directories (realpath'd here), each the bucket its last
 * component names. AW_ECONFIG with the reason, AW_ENOMEM. */
int aw_fstore_new(const char *const *roots, size_t n, aw_fstore **out, char *errstr,
                  size_t errstr_size) AW_WUR;
void aw_fstore_destroy(aw_fstore *fs);
const char *aw_fstore_root(const aw_fstore *fs, const char *bucket);

/* The root directory of bucket, opened, if it is still the directory it
 * was at start (device and inode): -1 with errno ENXIO (no such root) or
 * ESTALE (removed, unmounted, or swapped, e.g. for a link elsewhere), or
 * EACCES, EMFILE, ENFILE. */
int aw_fstore_open_root(const aw_fstore *fs, const char *bucket);
size_t aw_fstore_count(const aw_fstore *fs);
const char *aw_fstore_bucket(const aw_fstore *fs, size_t i);

/* aw_s3_fetch_many's contract, answered by the file system one request at
 * a time (file.c). */
int aw_fstore_fetch_many(aw_fstore *fs, aw_fetch *reqs, size_t n, const aw_fetch_policy *p,
                         const volatile sig_atomic_t *stop) AW_WUR;

/* AW_EUNAVAILABLE, with the reason, when a root cannot be read. */
int aw_fstore_probe(const aw_fstore *fs, char *errstr, size_t errstr_size) AW_WUR;

/* Whether key can name a file below a root: not empty, relative, no empty,
 * "." or ".." component, at most 1024 bytes. */
bool aw_fstore_key_ok(const char *key);

/* Opens the directory holding key (below the root of bucket) without
 * following any link; *name points into key at its last component. -1 with
 * errno set (ENXIO for an unknown bucket). key must be a valid relative
 * path (no "." or ".." components). */
int aw_fstore_open_parent(const aw_fstore *fs, const char *bucket, const char *key,
                          const char **name);

/* A file's listing entry (malloc'd strings) from its stat. AW_ENOMEM. */
int aw_file_listed(const char *key, const struct stat *st, aw_listed *out) AW_WUR;

/* One page of bucket's walk after key `after` (filelist.c), as aw_s3_list. */
int aw_fstore_list(const aw_fstore *fs, const char *bucket, const char *prefix,
                   const char *after, long max, aw_listing_page *page, char *errstr,
                   size_t errstr_size) AW_WUR;

/* The file store behind a client of kind AW_STORE_FILE, else NULL. */
aw_fstore *aw_s3_fstore(const aw_s3 *s3);

#endif
