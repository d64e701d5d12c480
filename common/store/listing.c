/*
 * Listings of every kind of store behind one call (aw_s3_list): the
 * request each kind needs for a page (S3's ListObjectsV2 or
 * ListObjectVersions, Azure's List Blobs, a file store's walk), fetched
 * through the client and parsed into the same aw_listing_page, so backfill
 * and scrub never ask which kind they list.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aw/codec.h"
#include "aw/daemon.h"
#include "aw/store.h"
#include "internal.h"

/* Appends name=VALUE (URI-encoded), after a '&' unless q is empty. */
static int q_add(char *q, size_t cap, size_t *pos, const char *name, const char *value) {
    if (!value)
        return AW_OK;
    size_t n = strlen(name);
    if (*pos + n + 2 >= cap)
        return AW_EINVAL;
    if (*pos)
        q[(*pos)++] = '&';
    memcpy(q + *pos, name, n);
    *pos += n;
    q[(*pos)++] = '=';
    int rc = aw_uriencode(value, strlen(value), false, q, cap, pos);
    if (rc == AW_OK && *pos < cap)
        q[*pos] = '\0';
    return *pos < cap ? rc : AW_EINVAL;
}

/* The query of a listing page. SigV4 signs the query sorted by name, and
 * curl before 8.x signs it as given: the names go in sorted order. */
static int page_query(aw_store_kind kind, const aw_list_req *l, char *q, size_t cap) {
    char max[24];
    size_t pos = 0;
    q[0] = '\0';
    snprintf(max, sizeof max, "%ld", l->max_keys > 0 ? l->max_keys : 1000);
    const aw_listing_page *prev = l->prev;
    const char *prefix = l->prefix && *l->prefix ? l->prefix : NULL;
    const char *start = !prev && l->start_after && *l->start_after ? l->start_after : NULL;
    int rc;
    if (kind == AW_STORE_AZURE) {
        if (!l->bucket)
            return q_add(q, cap, &pos, "comp", "list");
        rc = q_add(q, cap, &pos, "comp", "list");
        rc |= q_add(q, cap, &pos, "marker", prev ? prev->next_token : NULL);
        rc |= q_add(q, cap, &pos, "maxresults", max);
        rc |= q_add(q, cap, &pos, "prefix", prefix);
        rc |= q_add(q, cap, &pos, "restype", "container");
    } else if (l->versioned) {
        rc = q_add(q, cap, &pos, "encoding-type", "url");
        rc |= q_add(q, cap, &pos, "key-marker", prev ? prev->next_key_marker : start);
        rc |= q_add(q, cap, &pos, "max-keys", max);
        rc |= q_add(q, cap, &pos, "prefix", prefix);
        rc |= q_add(q, cap, &pos, "version-id-marker", prev ? prev->next_version_marker : NULL);
        rc |= q_add(q, cap, &pos, "versions", "");
    } else {
        rc = q_add(q, cap, &pos, "continuation-token", prev ? prev->next_token : NULL);
        rc |= q_add(q, cap, &pos, "encoding-type", "url");
        rc |= q_add(q, cap, &pos, "list-type", "2");
        rc |= q_add(q, cap, &pos, "max-keys", max);
        rc |= q_add(q, cap, &pos, "prefix", prefix);
        rc |= q_add(q, cap, &pos, "start-after", start);
    }
    return rc == AW_OK ? AW_OK : AW_EINVAL;
}

/* GETs a bucket-level resource into out (a listing-sized body at most). */
static int get_xml(aw_s3 *s3, const aw_fetch_policy *pol, const char *bucket,
                   const char *query, aw_membuf *out, char *errstr, size_t errn) {
    out->max = 64u << 20; /* no listing is this large */
    aw_fetch f = {.bucket = bucket, .query = query && *query ? query : NULL,
                  .on_start = aw_membuf_start, .on_body = aw_membuf_put, .ud = out};
    if (aw_s3_fetch_many(s3, &f, 1, pol, &aw_stop) != AW_OK)
        return aw_stop ? AW_EINTERRUPTED : AW_ENOMEM;
    if (f.outcome == AW_FETCH_OK)
        return AW_OK;
    snprintf(errstr, errn, "GET %s%s?%s: %s", bucket ? "bucket " : "/", bucket ? bucket : "",
             query ? query : "", f.error[0] ? f.error : "failed");
    return f.outcome == AW_FETCH_UNAVAILABLE ? AW_EUNAVAILABLE : AW_EHTTP;
}

/* Azure has no start-after: the keys of a first page up to it are dropped. */
static void drop_until(aw_listing_page *page, const char *after) {
    size_t k = 0;
    for (size_t i = 0; i < page->n; i++) {
        aw_listed *l = &page->items[i];
        if (strcmp(l->key, after) <= 0) {
            free(l->key), free(l->version_id), free(l->etag), free(l->last_modified);
            continue;
        }
        page->items[k++] = *l;
    }
    page->n = k;
}

int aw_s3_list(aw_s3 *s3, const aw_fetch_policy *pol, const aw_list_req *q,
               aw_listing_page *page, char *errstr, size_t errn) {
    aw_store_kind kind = aw_s3_kind(s3);
    if (kind == AW_STORE_FILE) {
        const char *after = q->prev ? q->prev->next_token : q->start_after;
        return aw_fstore_list(aw_s3_fstore(s3), q->bucket, q->prefix, after, q->max_keys, page,
                              errstr, errn);
    }
    char query[8192];
    if (page_query(kind, q, query, sizeof query) != AW_OK) {
        snprintf(errstr, errn, "listing request too long");
        return AW_EINVAL;
    }
    aw_membuf xml = {0};
    int rc = get_xml(s3, pol, q->bucket, q->bucket || kind == AW_STORE_AZURE ? query : NULL,
                     &xml, errstr, errn);
    if (rc == AW_OK)
        rc = aw_listing_parse(xml.p, xml.len, page, errstr, errn);
    free(xml.p);
    if (rc == AW_OK && kind == AW_STORE_AZURE && q->start_after && *q->start_after)
        drop_until(page, q->start_after);
    return rc;
}

int aw_s3_versioned(aw_s3 *s3, const aw_fetch_policy *pol, const char *bucket, bool *versioned,
                    char *errstr, size_t errn) {
    *versioned = false;
    if (aw_s3_kind(s3) != AW_STORE_S3)
        return AW_OK;
    aw_membuf xml = {0};
    int rc = get_xml(s3, pol, bucket, "versioning=", &xml, errstr, errn);
    if (rc == AW_OK)
        rc = aw_listing_versioning(xml.p, xml.len, versioned, errstr, errn);
    free(xml.p);
    return rc;
}
