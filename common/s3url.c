/*
 * Request URLs for S3: path-style (endpoint/bucket/key) or virtual-hosted
 * (bucket.host/key), keys URI-encoded as SigV4 expects. No libcurl here, so
 * the rules are unit-tested on their own.
 */
#include <string.h>

#include "aw/codec.h"
#include "aw/util.h"
#include "http_internal.h"

int aw_s3_object_url(const char *ep, bool path_style, const char *bucket, const char *key,
                     const char *version_id, char *buf, size_t cap) {
    size_t pos = 0;
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
    if (aw_uriencode(key, strlen(key), true, buf, cap, &pos) != AW_OK)
        return AW_EINVAL;
    if (version_id && *version_id) {
        static const char q[] = "?versionId=";
        if (pos + sizeof q >= cap)
            return AW_EINVAL;
        memcpy(buf + pos, q, sizeof q);
        pos += sizeof q - 1;
        if (aw_uriencode(version_id, strlen(version_id), false, buf, cap, &pos) != AW_OK)
            return AW_EINVAL;
    }
    return AW_OK;
}

