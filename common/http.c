/*
 * The one file that includes libcurl. Requests are signed by libcurl's own
 * SigV4 implementation (CURLOPT_AWS_SIGV4); libcurl 7.88 does not add the
 * x-amz-content-sha256 header S3 servers require, so it is sent here with the
 * hash of the empty payload every GET has.
 */
#include "aw/http.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aw/util.h"

#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

struct aw_s3 {
    CURL *easy;
    char *endpoint; /* without trailing slash */
    char sigv4[128];
    char *userpwd;  /* "access:secret", NULL for unsigned */
    struct curl_slist *headers;
    bool path_style;
    long timeout_ms;
};

int aw_http_global_init(void) {
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? AW_OK : AW_EHTTP;
}

void aw_http_global_cleanup(void) { curl_global_cleanup(); }

void aw_s3_destroy(aw_s3 *s3) {
    if (!s3)
        return;
    curl_easy_cleanup(s3->easy);
    curl_slist_free_all(s3->headers);
    free(s3->endpoint);
    if (s3->userpwd) {
        memset(s3->userpwd, 0, strlen(s3->userpwd));
        free(s3->userpwd);
    }
    free(s3);
}

int aw_s3_new(const aw_s3_opts *o, aw_s3 **out, char *errstr, size_t n) {
    *out = NULL;
    aw_s3 *s3 = calloc(1, sizeof *s3);
    if (!s3)
        return AW_ENOMEM;
    const char *region = o->region && *o->region ? o->region : "us-east-1";
    char defep[256];
    const char *ep = o->endpoint;
    if (!ep || !*ep) {
        snprintf(defep, sizeof defep, "https://s3.%s.amazonaws.com", region);
        ep = defep;
    }
    if (strncmp(ep, "http://", 7) && strncmp(ep, "https://", 8)) {
        snprintf(errstr, n, "S3 endpoint \"%s\" must start with http:// or https://", ep);
        aw_s3_destroy(s3);
        return AW_ECONFIG;
    }
    s3->endpoint = strdup(ep);
    if (!s3->endpoint) {
        aw_s3_destroy(s3);
        return AW_ENOMEM;
    }
    size_t l = strlen(s3->endpoint);
    while (l && s3->endpoint[l - 1] == '/')
        s3->endpoint[--l] = '\0';
    if (aw_fmt(s3->sigv4, sizeof s3->sigv4, "aws:amz:%s:s3", region) != AW_OK) {
        snprintf(errstr, n, "S3 region \"%s\" is too long", region);
        aw_s3_destroy(s3);
        return AW_ECONFIG;
    }
    if (o->access_key && *o->access_key) {
        if (!o->secret_key || !*o->secret_key) {
            snprintf(errstr, n, "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not");
            aw_s3_destroy(s3);
            return AW_ECONFIG;
        }
        size_t ul = strlen(o->access_key) + strlen(o->secret_key) + 2;
        s3->userpwd = malloc(ul);
        if (!s3->userpwd) {
            aw_s3_destroy(s3);
            return AW_ENOMEM;
        }
        snprintf(s3->userpwd, ul, "%s:%s", o->access_key, o->secret_key);
        s3->headers = curl_slist_append(NULL, "x-amz-content-sha256: " EMPTY_SHA256);
        if (s3->headers && o->session_token && *o->session_token) {
            char tok[4096];
            if (aw_fmt(tok, sizeof tok, "x-amz-security-token: %s", o->session_token)) {
                snprintf(errstr, n, "AWS_SESSION_TOKEN is too long");
                aw_s3_destroy(s3);
                return AW_ECONFIG;
            }
            struct curl_slist *h = curl_slist_append(s3->headers, tok);
            if (h)
                s3->headers = h;
            else {
                aw_s3_destroy(s3);
                return AW_ENOMEM;
            }
        }
        if (!s3->headers) {
            aw_s3_destroy(s3);
            return AW_ENOMEM;
        }
    }
    s3->path_style = o->path_style;
    s3->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 30000;
    s3->easy = curl_easy_init();
    if (!s3->easy) {
        aw_s3_destroy(s3);
        return AW_ENOMEM;
    }
    *out = s3;
    return AW_OK;
}

int aw_s3_object_url(const aw_s3 *s3, const char *bucket, const char *key,
                     const char *version_id, char *buf, size_t cap) {
    size_t pos = 0;
    const char *ep = s3->endpoint;
    if (s3->path_style) {
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

typedef struct get_ctx {
    aw_body_cb cb;
    void *ud;
    aw_s3_object_info *info;
    int cb_err;
} get_ctx;

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud) {
    get_ctx *c = ud;
    size_t len = size * nmemb;
    /* Only a successful response is the object; an error body is S3's XML. */
    if (c->info->status >= 200 && c->info->status < 300 && c->cb) {
        int rc = c->cb(c->ud, ptr, len);
        if (rc != AW_OK) {
            c->cb_err = rc;
            return 0; /* makes curl abort with CURLE_WRITE_ERROR */
        }
    }
    return len;
}

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

static size_t on_header(char *line, size_t size, size_t nmemb, void *ud) {
    get_ctx *c = ud;
    size_t len = size * nmemb;
    aw_s3_object_info *i = c->info;
    if (len > 5 && !strncmp(line, "HTTP/", 5)) {
        /* a new response (after a redirect or 100-continue): start over */
        const char *sp = memchr(line, ' ', len);
        i->status = sp ? strtol(sp + 1, NULL, 10) : 0;
        i->content_length = -1;
        i->etag[0] = i->content_type[0] = i->version_id[0] = i->checksum_sha256[0] = '\0';
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
    } else if (len > 22 && !strncasecmp(line, "x-amz-checksum-sha256:", 22)) {
        header_value(line, len, 22, i->checksum_sha256, sizeof i->checksum_sha256);
    }
    return len;
}

int aw_s3_get(aw_s3 *s3, const char *bucket, const char *key, const char *version_id,
              aw_body_cb cb, void *ud, aw_s3_object_info *info, char *errstr, size_t n) {
    memset(info, 0, sizeof *info);
    info->content_length = -1;
    char url[8192];
    if (aw_s3_object_url(s3, bucket, key, version_id, url, sizeof url) != AW_OK) {
        snprintf(errstr, n, "object URL too long for s3://%s/%s", bucket, key);
        return AW_EINVAL;
    }
    get_ctx ctx = {cb, ud, info, AW_OK};
    CURL *e = s3->easy;
    curl_easy_reset(e);
    char cerr[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &ctx);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, &ctx);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, s3->timeout_ms);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, (s3->timeout_ms + 999) / 1000);
    if (s3->userpwd) {
        curl_easy_setopt(e, CURLOPT_AWS_SIGV4, s3->sigv4);
        curl_easy_setopt(e, CURLOPT_USERPWD, s3->userpwd);
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, s3->headers);
    }
    CURLcode cc = curl_easy_perform(e);
    if (ctx.cb_err != AW_OK) {
        snprintf(errstr, n, "s3://%s/%s: body consumer failed: %s", bucket, key,
                 aw_strerror(ctx.cb_err));
        return ctx.cb_err;
    }
    if (cc != CURLE_OK) {
        snprintf(errstr, n, "GET %s: %s", url, cerr[0] ? cerr : curl_easy_strerror(cc));
        return cc == CURLE_OPERATION_TIMEDOUT ? AW_ETIMEOUT : AW_EHTTP;
    }
    return AW_OK;
}

int aw_http_status(const char *url, long timeout_ms, long *status, char *errstr, size_t n) {
    *status = 0;
    CURL *e = curl_easy_init();
    if (!e)
        return AW_ENOMEM;
    char cerr[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, cerr);
    CURLcode cc = curl_easy_perform(e);
    if (cc == CURLE_OK)
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, status);
    else
        snprintf(errstr, n, "%s: %s", url, cerr[0] ? cerr : curl_easy_strerror(cc));
    curl_easy_cleanup(e);
    return cc == CURLE_OK ? AW_OK : AW_EHTTP;
}
