/*
 * A plain HTTP POST of a JSON document (webhooks such as Alertmanager's
 * API): unsigned, one request, the start of the answer kept. Apart from the
 * S3 client's transport (http.c), which it shares nothing with but libcurl.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

#include "aw/http.h"

typedef struct reply_buf {
    char *p;
    size_t len, cap;
} reply_buf;

static size_t keep_reply(char *data, size_t size, size_t nmemb, void *ud) {
    reply_buf *r = ud;
    size_t n = size * nmemb;
    if (r->p && r->len + 1 < r->cap) {
        size_t take = r->cap - 1 - r->len < n ? r->cap - 1 - r->len : n;
        memcpy(r->p + r->len, data, take);
        r->len += take;
        r->p[r->len] = '\0';
    }
    return n;
}

int aw_http_post_json(const char *url, const char *body, long timeout_ms, long *status,
                      char *reply, size_t reply_size, char *errstr, size_t n) {
    *status = 0;
    if (reply && reply_size)
        reply[0] = '\0';
    CURL *e = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    if (!e || !h) {
        curl_easy_cleanup(e);
        curl_slist_free_all(h);
        return AW_ENOMEM;
    }
    char cerr[CURL_ERROR_SIZE] = "";
    reply_buf rb = {reply, 0, reply ? reply_size : 0};
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, keep_reply);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &rb);
    CURLcode c = curl_easy_perform(e);
    int rc = AW_OK;
    if (c != CURLE_OK) {
        /* not the URL: it may carry credentials, and the caller names it masked */
        snprintf(errstr, n, "%s", cerr[0] ? cerr : curl_easy_strerror(c));
        rc = AW_EHTTP;
    } else {
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, status);
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(e);
    return rc;
}

