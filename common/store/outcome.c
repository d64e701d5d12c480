/*
 * What a finished S3 transfer means (the request's outcome and whether to try
 * again) and the parts of S3's error answers that say it, apart from the
 * transport in http.c: none of this needs libcurl, and the unit tests check
 * it without a server (tests/unit/test_http.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aw/codec.h"
#include "aw/hash.h"
#include "internal.h"

bool aw_s3_credential_error(const char *code) {
    static const char *const codes[] = {
        "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken",
        "TokenRefreshRequired", "RequestTimeTooSkewed", "AuthorizationHeaderMalformed",
        "InvalidSecurity", "MissingSecurityHeader", "AccountProblem",
        /* Azure's (Azurite says AuthorizationFailure for a wrong key) */
        "AuthenticationFailed", "AuthorizationFailure", "InvalidAuthenticationInfo", NULL};
    for (int i = 0; codes[i]; i++)
        if (!strcmp(code, codes[i]))
            return true;
    return false;
}

void aw_s3_error_code(const char *body, size_t len, char *out, size_t cap) {
    out[0] = '\0';
    const char *end = body + len;
    for (const char *p = body; p + 6 <= end; p++) {
        if (memcmp(p, "<Code>", 6))
            continue;
        p += 6;
        size_t l = 0;
        while (p + l < end && p[l] != '<')
            l++;
        if (p + l >= end)
            return; /* cut off: no code rather than half of one */
        if (l >= cap)
            l = cap - 1;
        memcpy(out, p, l);
        out[l] = '\0';
        if (!aw_token_ok(out, cap)) /* only a plain word is a code */
            out[0] = '\0';
        return;
    }
}

aw_verdict aw_fetch_classify(aw_xfer_end end, long st, const char *code,
                             int64_t content_length, int64_t received,
                             aw_fetch_outcome *outcome, char *error, size_t errn) {
    switch (end) {
    case AW_XFER_CONSUMER:
    case AW_XFER_REFUSED:
        *outcome = AW_FETCH_FAILED;
        return AW_VERDICT_DONE;
    case AW_XFER_UNREACHABLE:
        *outcome = AW_FETCH_UNAVAILABLE;
        return AW_VERDICT_RETRY_UNAVAILABLE;
    case AW_XFER_BROKEN:
        *outcome = AW_FETCH_FAILED;
        return AW_VERDICT_RETRY;
    case AW_XFER_COMPLETE:
        break;
    }
    if (st >= 200 && st < 300) {
        if (content_length >= 0 && received != content_length) {
            snprintf(error, errn, "short body: %lld of %lld bytes", (long long)received,
                     (long long)content_length);
            *outcome = AW_FETCH_FAILED;
            return AW_VERDICT_RETRY;
        }
        *outcome = AW_FETCH_OK;
        error[0] = '\0';
        return AW_VERDICT_DONE;
    }
    snprintf(error, errn, "HTTP %ld%s%s", st, *code ? " " : "", code);
    if (st == 404) {
        *outcome = AW_FETCH_NOT_FOUND;
        return AW_VERDICT_DONE;
    }
    if (st == 412) {
        *outcome = AW_FETCH_PRECONDITION;
        return AW_VERDICT_DONE;
    }
    if (st == 401 || st == 403) {
        if (!*code || aw_s3_credential_error(code)) {
            *outcome = AW_FETCH_UNAVAILABLE;
            snprintf(error, errn, "HTTP %ld%s%s: the store refuses our credentials", st,
                     *code ? " " : "", code);
            return AW_VERDICT_RETRY_UNAVAILABLE;
        }
        *outcome = AW_FETCH_DENIED;
        return AW_VERDICT_RETRY;
    }
    *outcome = AW_FETCH_FAILED;
    return st == 429 || st >= 500 || st == 408 ? AW_VERDICT_RETRY : AW_VERDICT_DONE;
}

/* Decides what a finished transfer of slot s means. */

static void header_value(const char *line, size_t len, size_t namelen, char *out, size_t cap) {
    const char *v = line + namelen;
    const char *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    if (end - v >= 2 && *v == '"' && end[-1] == '"') {
        v++;
        end--;
    }
    size_t l = (size_t)(end - v);
    if (l >= cap)
        l = cap - 1;
    memcpy(out, v, l);
    out[l] = '\0';
}

bool aw_content_md5_differs(const aw_s3_object_info *i, const uint8_t md5[16]) {
    uint8_t held[24];
    size_t n = 0;
    /* only a block blob's MD5 is its bytes': an append or page blob's may be
     * stale, as its writes do not update it */
    return i->content_md5[0] && (!i->blob_type[0] || !strcmp(i->blob_type, "BlockBlob")) &&
           aw_unbase64(i->content_md5, held, sizeof held, &n) == AW_OK && n == 16 &&
           memcmp(held, md5, 16) != 0;
}

void aw_s3_info_reset(aw_s3_object_info *i) {
    memset(i, 0, sizeof *i);
    i->content_length = -1;
}

void aw_s3_header(aw_s3_object_info *i, const char *line, size_t len) {
    if (len > 5 && !strncmp(line, "HTTP/", 5)) {
        /* a new response (after a redirect or 100-continue): start over */
        const char *sp = memchr(line, ' ', len);
        aw_s3_info_reset(i);
        i->status = sp ? strtol(sp + 1, NULL, 10) : 0;
    } else if (len > 15 && !strncasecmp(line, "content-length:", 15)) {
        char tmp[32];
        header_value(line, len, 15, tmp, sizeof tmp);
        i->content_length = strtoll(tmp, NULL, 10);
    } else if (len > 5 && !strncasecmp(line, "etag:", 5)) {
        header_value(line, len, 5, i->etag, sizeof i->etag);
    } else if (len > 13 && !strncasecmp(line, "content-type:", 13)) {
        header_value(line, len, 13, i->content_type, sizeof i->content_type);
    } else if (len > 17 && !strncasecmp(line, "x-amz-version-id:", 17)) {
        header_value(line, len, 17, i->version_id, sizeof i->version_id);
    } else if (len > 14 && !strncasecmp(line, "last-modified:", 14)) {
        header_value(line, len, 14, i->last_modified, sizeof i->last_modified);
    } else if (len > 22 && !strncasecmp(line, "x-amz-checksum-sha256:", 22)) {
        header_value(line, len, 22, i->checksum_sha256, sizeof i->checksum_sha256);
    } else if (len > 14 && !strncasecmp(line, "content-range:", 14)) {
        char tmp[80], *slash; /* bytes FIRST-LAST/TOTAL */
        header_value(line, len, 14, tmp, sizeof tmp);
        i->range_total = (slash = strchr(tmp, '/')) ? strtoll(slash + 1, NULL, 10) : 0;
    } else if (len > 16 && !strncasecmp(line, "x-ms-version-id:", 16)) {
        header_value(line, len, 16, i->version_id, sizeof i->version_id);
    } else if (len > 16 && !strncasecmp(line, "x-ms-error-code:", 16)) {
        header_value(line, len, 16, i->error_code, sizeof i->error_code);
        if (!aw_token_ok(i->error_code, sizeof i->error_code))
            i->error_code[0] = '\0';
    } else if (len > 12 && !strncasecmp(line, "content-md5:", 12)) {
        header_value(line, len, 12, i->content_md5, sizeof i->content_md5);
    } else if (len > 22 && !strncasecmp(line, "x-ms-blob-content-md5:", 22)) {
        /* the whole blob's, sent with ranges too (Content-MD5 is not) */
        header_value(line, len, 22, i->content_md5, sizeof i->content_md5);
    } else if (len > 15 && !strncasecmp(line, "x-ms-blob-type:", 15)) {
        header_value(line, len, 15, i->blob_type, sizeof i->blob_type);
    } else if (len > 21 && !strncasecmp(line, "x-amz-mp-parts-count:", 21)) {
        char tmp[32];
        header_value(line, len, 21, tmp, sizeof tmp);
        long n = strtol(tmp, NULL, 10); /* S3 allows 10,000 parts, so anything else is none */
        i->parts_count = n > 0 && n <= 10000 ? (int)n : 0;
    }
}
