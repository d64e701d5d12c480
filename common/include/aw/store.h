/*
 * The object-store client: one module (common/store/) behind this one
 * header. An aw_s3 holds the endpoint, the credentials and its connections;
 * object bodies are handed to a callback chunk by chunk as they arrive, so a
 * caller can hash an object of any size in constant memory. Listings are
 * parsed here too, and aw_stores routes each row to the client of its own
 * store. libcurl and libxml2 stay inside.
 *
 * A client is of one kind: S3 (and what speaks its API: versitygw, MinIO,
 * GCS's XML API), Azure Blob (Shared Key or SAS over the same transfers) or
 * local folders (each root directory a bucket, files read, stat'ed and
 * unlinked without leaving the root). Every caller uses the same requests
 * and outcomes for all three; only the kind's own file knows the difference.
 */
#ifndef AW_STORE_H
#define AW_STORE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aw/config.h"
#include "aw/err.h"
#include "aw/http.h"

/* What a store is. */
typedef enum aw_store_kind {
    AW_STORE_S3 = 0,         /* the S3 API, signed with SigV4 */
    AW_STORE_AZURE,          /* Azure Blob: containers are buckets, blobs keys */
    AW_STORE_FILE,           /* local folders: each root directory is a bucket */
} aw_store_kind;

/* "s3", "azure", "file". */
const char *aw_store_kind_name(aw_store_kind k);

typedef struct aw_s3_opts {
    aw_store_kind kind;
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
    /* Azure: endpoint is the account's blob service URL, with the account
     * in its path for an emulator (http://127.0.0.1:10000/devstoreaccount1);
     * requests are signed with account_key (Shared Key), else carry
     * sas_token, else go unsigned */
    const char *account;
    const char *account_key; /* base64, as the portal shows it */
    const char *sas_token;   /* "sv=...&sig=..." (a leading '?' is dropped) */
    /* file: absolute directories; each is the bucket named by its last
     * component (which must be a bucket name, different for each) */
    const char *const *roots;
    size_t nroots;
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
    char error_code[64];     /* S3's <Code> of an error response (Azure's
                                x-ms-error-code), "" if none */
    char content_md5[32];    /* Content-MD5, or Azure's x-ms-blob-content-md5 (the whole
                                blob's, sent with ranges too): base64, "" if none */
    char blob_type[16];      /* x-ms-blob-type: BlockBlob, AppendBlob, PageBlob */
} aw_s3_object_info;

/* Returns AW_OK to continue, anything else aborts the transfer. */
typedef int (*aw_body_cb)(void *ud, const void *data, size_t len);

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

/* Whether a GET's Content-MD5 (Azure keeps one for every block blob)
 * names other bytes than md5: the store's own checksum of the object
 * disagrees with what was read. False when there is none, or the blob is an
 * append or page blob (whose MD5 its writes do not keep up to date). */
bool aw_content_md5_differs(const aw_s3_object_info *info, const uint8_t md5[16]);

/* The client's kind. */
aw_store_kind aw_s3_kind(const aw_s3 *s3);

/* A file store's directory for bucket (its realpath), or NULL when the
 * client is not a file store or has no such root. */
const char *aw_s3_root(const aw_s3 *s3, const char *bucket);

/* The ETag a file store gives a file of this inode, size and mtime: a new
 * value whenever one of them changes (the store's If-Match compares it
 * immediately before an unlink). cap >= 80. */
void aw_file_etag(uint64_t ino, int64_t size, int64_t mtime_sec, long mtime_nsec, char *out,
                  size_t cap);

/* Whether a file's mtime is within a second of now: a write may still be
 * copying its bytes, so a file store does not read it yet (a GET ends in
 * AW_FETCH_PRECONDITION) and watch waits for it. */
struct stat;
bool aw_file_young(const struct stat *st);

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
 * A single GET with no retries, streamed to cb. AW_OK when a response
 * arrived (look at info->status) and a 2xx body was delivered completely;
 * AW_EHTTP with curl's words in errstr when the transfer failed.
 */
int aw_s3_get(aw_s3 *s3, const char *bucket, const char *key, const char *version_id,
              aw_body_cb cb, void *ud, aw_s3_object_info *info, char *errstr,
              size_t errstr_size) AW_WUR;

/* ------------------------------------------------------------ listings */

/*
 * The S3 listing responses backfill reads: ListObjectsV2, ListObjectVersions,
 * ListBuckets and GetBucketVersioning, parsed with libxml2 (no network, no
 * entity expansion). Pure functions of the response bytes, so every shape a
 * store sends is unit-tested without one. The one file that uses libxml2.
 */

typedef struct aw_listed {
    char *key;           /* decoded (encoding-type=url), valid UTF-8, no NUL */
    char *version_id;    /* visible ASCII; NULL in ListObjectsV2, for "null" */
    char *etag;          /* unquoted, as If-Match carries it; else NULL */
    char *last_modified; /* ISO 8601 as listed; NULL when absent */
    int64_t size;        /* -1 for a delete marker */
    bool delete_marker;
    bool is_latest;      /* IsLatest (ListObjectVersions): the key's current entry */
} aw_listed;

typedef struct aw_listing_page {
    aw_listed *items;
    size_t n, cap;
    size_t refused;         /* entries dropped: no Key, a bad key, size or version id */
    char refused_why[256];  /* the first of them */
    bool truncated;         /* IsTruncated: more pages follow */
    char *next_token;       /* NextContinuationToken (ListObjectsV2) */
    char *next_key_marker;  /* NextKeyMarker (ListObjectVersions) */
    char *next_version_marker;
    char **buckets;         /* ListBuckets */
    size_t nbuckets;
} aw_listing_page;

/*
 * Parses one response body into page (cleared first). Keys are decoded when
 * url_encoded (the request asked for encoding-type=url and the response says
 * so). A version listing's entries are grouped by key (byte order) and, in a
 * key, newest first as the store orders them: the IsLatest entry, then the
 * versions in the order listed, each delete marker placed above the first
 * version older than it (stores list markers and versions apart, versitygw
 * every marker of a page before the first version). AW_EPARSE with the reason in errstr when the body is not XML or not
 * one of the responses above (an <Error> says its Code and Message);
 * AW_ENOMEM.
 */
int aw_listing_parse(const char *xml, size_t len, aw_listing_page *page, char *errstr,
                  size_t errstr_size) AW_WUR;

/* GetBucketVersioning: *versioned when Status is Enabled or Suspended (a
 * suspended bucket still holds versions). AW_EPARSE as above. */
int aw_listing_versioning(const char *xml, size_t len, bool *versioned, char *errstr,
                       size_t errstr_size) AW_WUR;

void aw_listing_page_clear(aw_listing_page *page);

/* Appends *l (its strings now the page's) to page. AW_ENOMEM. */
int aw_listing_push(aw_listing_page *page, const aw_listed *l) AW_WUR;

/* A file store's listing entry for bucket/key as a walk would give it
 * (malloc'd strings), *young when it was written within the last second
 * (aw_file_young): AW_ENOTFOUND when it is not a regular file reached
 * without a link, or its key is not UTF-8; AW_EINVAL for another kind of
 * store; AW_ENOMEM. */
int aw_s3_file_entry(aw_s3 *s3, const char *bucket, const char *key, aw_listed *out,
                     bool *young) AW_WUR;

/* One page of a listing, of any kind of store. */
typedef struct aw_list_req {
    const char *bucket;       /* NULL: the buckets (containers, roots) into page->buckets */
    const char *prefix;       /* NULL/"": every key */
    const char *start_after;  /* the first page: keys after this one (NULL/"": all) */
    const aw_listing_page *prev; /* NULL: the first page; else the page before it,
                                    whose markers continue the listing */
    bool versioned;           /* every version (S3 ListObjectVersions) */
    long max_keys;            /* per page; <= 0: 1000 */
} aw_list_req;

/*
 * Lists one page into page (cleared first): S3's ListObjectsV2 or
 * ListObjectVersions, Azure's List Blobs (a page after start_after drops
 * the keys up to it: Azure has no start-after), or a file store's walk of
 * the root in key (byte) order, which follows no symbolic link and counts
 * in page->refused what it skips (links, FIFOs, devices, sockets, names
 * that are not UTF-8 or longer than 1024 bytes, unreadable directories).
 * AW_EUNAVAILABLE or AW_EHTTP (with the store's words), AW_EPARSE,
 * AW_EINTERRUPTED, AW_ENOMEM.
 */
int aw_s3_list(aw_s3 *s3, const aw_fetch_policy *pol, const aw_list_req *q,
               aw_listing_page *page, char *errstr, size_t errstr_size) AW_WUR;

/* Whether bucket keeps versions (S3 GetBucketVersioning: Enabled or
 * Suspended). Azure containers and file stores are listed unversioned.
 * Errors as aw_s3_list. */
int aw_s3_versioned(aw_s3 *s3, const aw_fetch_policy *pol, const char *bucket,
                    bool *versioned, char *errstr, size_t errstr_size) AW_WUR;

/* Once per process, before threads: libxml2's own set-up, with its messages
 * on stderr turned off (every thread; the parse results say what failed). */
void aw_s3xml_init(void);

/* ------------------------------------------------------------ stores */

/*
 * The object stores one process serves. Every row of the index names its
 * store; a request for a row goes to that store's client and to no other.
 * The default store is the one the s3.* settings describe, under the name
 * s3.store; a stores file (--stores FILE) adds others, or describes the
 * default one itself:
 *
 *   # a section per store: its name as rows carry it
 *   [mirror]
 *   endpoint = https://s3.eu-west-1.amazonaws.com
 *   region = eu-west-1
 *   path_style = false
 *   access_key_id = AKIA...           # or credentials_file and profile
 *   secret_access_key = ...
 *
 *   [blobs]
 *   kind = azure                      # s3 (the default), azure or file
 *   endpoint = https://acct.blob.core.windows.net
 *   account = acct
 *   account_key = ...                 # or sas_token = sv=...&sig=...
 *
 *   [local]
 *   kind = file
 *   root = /srv/project               # bucket "project"; one line per root
 *
 * A row of a store without a client here is never touched: the caller
 * counts it as another store's (aw_stores_client returns NULL).
 */

typedef struct aw_store_def {
    char *name, *endpoint, *region, *access_key_id, *secret_access_key, *session_token,
        *credentials_file, *profile;
    aw_store_kind kind;
    char *account, *account_key, *sas_token; /* azure */
    char **roots;                            /* file: one `root = DIR` line each */
    size_t nroots;
    bool path_style;
    int line;               /* where its section starts */
} aw_store_def;

/* The longest store name (letters, digits, '.', '_', '-'). */
#define AW_STORE_NAME_MAX 64

/*
 * Reads a stores file's text (path names it in errors) into *defs (n of
 * them). AW_ECONFIG with "PATH:LINE: why" for a malformed line, an unknown
 * key, a key outside a section, a bad or repeated store name; AW_ENOMEM.
 */
int aw_stores_parse(const char *text, size_t len, const char *path, aw_store_def **defs,
                    size_t *n, char *errstr, size_t errstr_size) AW_WUR;
void aw_store_defs_free(aw_store_def *defs, size_t n);

typedef struct aw_stores aw_stores;

/*
 * The clients of the default store (cfg's s3.* settings, name cfg->s3_store)
 * and of every store of cfg's stores file. A section named like the default
 * store describes it instead of the s3.* settings. cfg must outlive the
 * result. AW_ECONFIG naming the file, line or setting when a store cannot
 * be used; AW_ENOMEM.
 */
int aw_stores_open(const aw_config *cfg, aw_stores **out, char *errstr,
                   size_t errstr_size) AW_WUR;

/* aw_stores_open, with extra describing the default store when no section
 * of the stores file does: for a command that makes its own store
 * (`watch DIR...`). extra must outlive the result. */
int aw_stores_open_with(const aw_config *cfg, const aw_store_def *extra, aw_stores **out,
                        char *errstr, size_t errstr_size) AW_WUR;

/*
 * The bucket and key a file:///absolute/path URI names in the file store
 * cfg->s3_store, as cfg's stores file describes it (its roots). AW_EINVAL
 * when uri is not a file:/// URI, AW_ENOTFOUND (errstr says why) when no
 * root of that store holds it, AW_ECONFIG for a bad stores file, AW_ENOMEM.
 */
int aw_store_file_uri(const aw_config *cfg, const char *uri, char **bucket, char **key,
                      char *errstr, size_t errstr_size) AW_WUR;

/* The description of store name (the stores file's section), or NULL. */
const aw_store_def *aw_stores_def(const aw_stores *s, const char *name);

/* The client of store name, or NULL when this process serves no such store. */
aw_s3 *aw_stores_client(const aw_stores *s, const char *name);

/* A client of its own for store name (for another thread), as
 * aw_stores_client's was made. AW_ENOTFOUND for a store not served here. */
int aw_stores_new_client(const aw_stores *s, const char *name, aw_s3 **out, char *errstr,
                         size_t errstr_size) AW_WUR;

/* The stores served, in order: the default first. */
size_t aw_stores_count(const aw_stores *s);
const char *aw_stores_name(const aw_stores *s, size_t i);

/* NULL is ignored. */
void aw_stores_destroy(aw_stores *s);

#endif
