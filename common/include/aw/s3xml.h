/*
 * The S3 listing responses backfill reads: ListObjectsV2, ListObjectVersions,
 * ListBuckets and GetBucketVersioning, parsed with libxml2 (no network, no
 * entity expansion). Pure functions of the response bytes, so every shape a
 * store sends is unit-tested without one. The one file that uses libxml2.
 */
#ifndef AW_S3XML_H
#define AW_S3XML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aw/err.h"

/* One entry of a listing: an object, a version or a delete marker. */
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

/* Once per process, before threads: libxml2's own set-up, with its messages
 * on stderr turned off (every thread; the parse results say what failed). */
void aw_s3xml_init(void);

#endif
