/*
 * Request URLs for S3: path-style (endpoint/bucket/key) or virtual-hosted
 * (bucket.host/key), keys URI-encoded as SigV4 expects; and for Azure Blob
 * (endpoint/container/blob). No libcurl here, so the rules are unit-tested
 * on their own.
 */
#include <string.h>

#include "aw/codec.h"
#include "aw/util.h"
#include "internal.h"

/* Appends the separator and text as given (the separator is '&' after it). */
static int put_param(char *buf, size_t cap, size_t *pos, char *sep, const char *text) {
    size_t l = strlen(text);
    if (*pos + l + 2 > cap)
        return AW_EINVAL;
    buf[(*pos)++] = *sep;
    memcpy(buf + *pos, text, l + 1);
    *pos += l;
    *sep = '&';
    return AW_OK;
}

int aw_s3_url(const char *ep, bool path_style, const char *bucket, const char *key,
              const char *version_id, const char *query, char *buf, size_t cap) {
    size_t pos = 0;
    if (!bucket) {
        /* the service itself (ListBuckets) */
        if (aw_fmt(buf, cap, "%s/", ep) != AW_OK)
            return AW_EINVAL;
        pos = strlen(buf);
        goto query;
    }
    /* a bucket name is never trusted into a URL: path-style takes the
     * stores' bucket rules, a host name only DNS labels, so a crafted name
     * cannot send the signed request (and its credentials) elsewhere */
    if (!(path_style ? aw_bucket_name_ok(bucket) : aw_bucket_dns_ok(bucket)))
        return AW_EINVALID;
    if (path_style) {
        if (aw_fmt(buf, cap, "%s/", ep) != AW_OK)
            return AW_EINVAL;
        pos = strlen(buf);
        if (aw_uriencode(bucket, strlen(bucket), false, buf, cap, &pos) != AW_OK)
            return AW_EINVAL;
    } else {
        /* virtual-hosted: scheme://bucket.host[:port] */
        const char *host = strstr(ep, "://") + 3;
        if (aw_fmt(buf, cap, "%.*s%s.%s", (int)(host - ep), ep, bucket, host) != AW_OK)
            return AW_EINVAL;
        pos = strlen(buf);
    }
    if (pos + 1 >= cap)
        return AW_EINVAL;
    buf[pos++] = '/';
    buf[pos] = '\0';
    if (key && aw_uriencode(key, strlen(key), true, buf, cap, &pos) != AW_OK)
        return AW_EINVAL;
query:;
    char sep = '?';
    bool has_vid = version_id && *version_id, has_query = query && *query;
    /* SigV4 signs the query as sent (curl does not sort it): parameters
     * that sort before versionId (partNumber) go first */
    bool query_first = has_query && strcmp(query, "versionId") < 0;
    if (query_first && put_param(buf, cap, &pos, &sep, query) != AW_OK)
        return AW_EINVAL;
    if (has_vid && (put_param(buf, cap, &pos, &sep, "versionId=") != AW_OK ||
                    aw_uriencode(version_id, strlen(version_id), false, buf, cap, &pos) != AW_OK))
        return AW_EINVAL;
    if (has_query && !query_first && put_param(buf, cap, &pos, &sep, query) != AW_OK)
        return AW_EINVAL;
    return AW_OK;
}

int aw_s3_object_url(const char *ep, bool path_style, const char *bucket, const char *key,
                     const char *version_id, char *buf, size_t cap) {
    return aw_s3_url(ep, path_style, bucket, key, version_id, NULL, buf, cap);
}

int aw_azure_url(const char *ep, const char *container, const char *blob,
                 const char *version_id, const char *query, const char *sas, char *buf,
                 size_t cap) {
    if (container && !aw_bucket_name_ok(container))
        return AW_EINVALID;
    if (aw_fmt(buf, cap, "%s/", ep) != AW_OK)
        return AW_EINVAL;
    size_t pos = strlen(buf);
    if (container) {
        pos--; /* no slash after the container itself */
        if (pos + 1 >= cap)
            return AW_EINVAL;
        buf[pos++] = '/';
        if (aw_uriencode(container, strlen(container), false, buf, cap, &pos) != AW_OK)
            return AW_EINVAL;
        if (blob) {
            if (pos + 1 >= cap)
                return AW_EINVAL;
            buf[pos++] = '/';
            if (aw_uriencode(blob, strlen(blob), true, buf, cap, &pos) != AW_OK)
                return AW_EINVAL;
        }
        if (pos >= cap)
            return AW_EINVAL;
        buf[pos] = '\0';
    }
    char sep = '?';
    if (query && *query && put_param(buf, cap, &pos, &sep, query) != AW_OK)
        return AW_EINVAL;
    if (version_id && *version_id &&
        (put_param(buf, cap, &pos, &sep, "versionid=") != AW_OK ||
         aw_uriencode(version_id, strlen(version_id), false, buf, cap, &pos) != AW_OK))
        return AW_EINVAL;
    if (sas && *sas && put_param(buf, cap, &pos, &sep, sas) != AW_OK)
        return AW_EINVAL;
    return AW_OK;
}
