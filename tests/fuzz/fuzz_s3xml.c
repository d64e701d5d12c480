/* libFuzzer harness: the S3 listing parser (common/store/s3xml.c), which reads
 * what a store (or anything posing as one) answers to backfill's listing
 * requests. The first byte picks the response (even: a listing, odd:
 * GetBucketVersioning). Whatever the bytes, a page that parses holds only
 * what its header promises: keys of 1 to 1024 bytes of UTF-8 without NUL,
 * sizes that are byte counts (-1 only for a delete marker), ETags that
 * If-Match can carry (unquoted, no space), version ids of visible ASCII
 * (never "null"), bucket names that are bucket names; a failure says why.
 * The page is parsed into twice, as backfill reuses it page after page. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aw/codec.h"
#include "aw/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_page(const aw_listing_page *p) {
    if (p->n > p->cap || !memchr(p->refused_why, '\0', sizeof p->refused_why))
        abort();
    for (size_t i = 0; i < p->n; i++) {
        const aw_listed *l = &p->items[i];
        size_t kl = l->key ? strlen(l->key) : 0;
        if (!kl || kl > AW_KEY_MAX || !aw_utf8_valid(l->key, kl))
            abort();
        if (l->delete_marker ? l->size != -1 : l->size < 0 || l->size > AW_OBJECT_SIZE_MAX)
            abort();
        if (l->etag && !aw_token_ok(l->etag, AW_ETAG_MAX))
            abort();
        if (l->version_id && (!aw_token_ok(l->version_id, AW_VERSION_ID_MAX) ||
                              !strcmp(l->version_id, "null")))
            abort();
        if (l->last_modified && !*l->last_modified)
            abort();
    }
    for (size_t i = 0; i < p->nbuckets; i++)
        if (!p->buckets[i] || !aw_bucket_name_ok(p->buckets[i]))
            abort();
}

static void check_error(const char *err, size_t cap) {
    if (!memchr(err, '\0', cap) || !err[0])
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int ready;
    if (!ready) {
        aw_s3xml_init();
        ready = 1;
    }
    if (size < 1)
        return 0;
    const char *xml = (const char *)data + 1;
    size_t len = size - 1;
    char err[256];
    if (data[0] & 1) {
        bool versioned = false;
        memset(err, 'x', sizeof err);
        if (aw_listing_versioning(xml, len, &versioned, err, sizeof err) != AW_OK)
            check_error(err, sizeof err);
        return 0;
    }
    aw_listing_page page = {0};
    for (int round = 0; round < 2; round++) {
        memset(err, 'x', sizeof err);
        int rc = aw_listing_parse(xml, len, &page, err, sizeof err);
        if (rc == AW_OK)
            check_page(&page);
        else if (rc == AW_EPARSE)
            check_error(err, sizeof err);
        else if (rc != AW_ENOMEM)
            abort();
    }
    aw_listing_page_clear(&page);
    return 0;
}
