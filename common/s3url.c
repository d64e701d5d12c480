/*
 * Request URLs for S3: path-style (endpoint/bucket/key) or virtual-hosted
 * (bucket.host/key), keys URI-encoded as SigV4 expects. No libcurl here, so
 * the rules are unit-tested on their own.
 */
#include <string.h>

#include "aw/codec.h"
#include "aw/util.h"
#include "http_internal.h"

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
    /* SigV4 signs the query as sent (curl does not sort it): parameters
     * that sort before versionId (partNumber) go first */
    bool first = query && *query && strcmp(query, "versionId") < 0 && version_id && *version_id;
    if (first) {
        size_t ql = strlen(query);
        if (pos + ql + 2 > cap)
            return AW_EINVAL;
        buf[pos++] = '?';
        memcpy(buf + pos, query, ql + 1);
        pos += ql;
        sep = '&';
        query = NULL;
    }
    if (version_id && *version_id) {
        static const char q[] = "versionId=";
        if (pos + sizeof q + 1 >= cap)
            return AW_EINVAL;
        buf[pos++] = sep;
        memcpy(buf + pos, q, sizeof q);
        pos += sizeof q - 1;
        if (aw_uriencode(version_id, strlen(version_id), false, buf, cap, &pos) != AW_OK)
            return AW_EINVAL;
        sep = '&';
    }
    if (query && *query) {
        size_t ql = strlen(query);
        if (pos + ql + 2 > cap)
            return AW_EINVAL;
        buf[pos++] = sep;
        memcpy(buf + pos, query, ql + 1);
        pos += ql;
    }
    return AW_OK;
}

int aw_s3_object_url(const char *ep, bool path_style, const char *bucket, const char *key,
                     const char *version_id, char *buf, size_t cap) {
    return aw_s3_url(ep, path_style, bucket, key, version_id, NULL, buf, cap);
}
