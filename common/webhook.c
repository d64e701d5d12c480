/*
 * Plain HTTP requests with JSON bodies: webhooks such as Alertmanager's API,
 * and REST APIs such as MLflow's tracking server. Unsigned (an
 * Authorization header may be given), one request, the answer kept up to a
 * bound. Apart from the object-store client's transport (store/http.c),
 * which it shares nothing with but libcurl.
 */
#include <curl/curl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aw/http.h"

/* Keeps the answer in an aw_membuf; past its max the transfer stops, with
 * the buffer filled to max (the start of a long answer is kept). */
static size_t keep_reply(char *data, size_t size, size_t nmemb, void *ud) {
    aw_membuf *b = ud;
    size_t n = size * nmemb, room = b->max > b->len ? b->max - b->len : 0;
    if (n > room) {
        if (room)
            (void)aw_membuf_put(b, data, room);
        return 0;
    }
    return aw_membuf_put(b, data, n) == AW_OK ? n : 0;
}

static size_t discard(char *data, size_t size, size_t nmemb, void *ud) {
    (void)data;
    (void)ud;
    return size * nmemb;
}

int aw_http_json(const char *method, const char *url, const char *auth, const char *body,
                 long timeout_ms, long *status, aw_membuf *reply, char *errstr, size_t n) {
    *status = 0;
    if (reply)
        reply->len = 0;
    CURL *e = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    struct curl_slist *h2 = h ? curl_slist_append(h, "Accept: application/json") : NULL;
    struct curl_slist *h3 = h2 && auth ? curl_slist_append(h2, auth) : h2;
    if (!e || !h3) {
        curl_easy_cleanup(e);
        curl_slist_free_all(h);
        return AW_ENOMEM;
    }
    char cerr[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    if (body)
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, cerr);
    if (reply) {
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, keep_reply);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, reply);
    } else {
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
    }
    CURLcode c = curl_easy_perform(e);
    int rc = AW_OK;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, status); /* also when the answer was cut */
    bool cut = c == CURLE_WRITE_ERROR && reply && reply->max && reply->len == reply->max;
    if (cut) {
        snprintf(errstr, n, "the answer is larger than %zu bytes", reply->max);
        rc = AW_EPARSE; /* its first max bytes are in reply */
    } else if (c == CURLE_WRITE_ERROR && reply) {
        rc = AW_ENOMEM;
    } else if (c != CURLE_OK) {
        /* not the URL: it may carry credentials, and the caller names it masked */
        snprintf(errstr, n, "%s", cerr[0] ? cerr : curl_easy_strerror(c));
        rc = AW_EHTTP;
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(e);
    return rc;
}

int aw_http_post_json(const char *url, const char *body, long timeout_ms, long *status,
                      char *reply, size_t reply_size, char *errstr, size_t n) {
    aw_membuf b = {.max = reply_size > 1 ? reply_size - 1 : 0};
    if (reply && reply_size)
        reply[0] = '\0';
    int rc = aw_http_json("POST", url, NULL, body, timeout_ms, status, reply ? &b : NULL,
                          errstr, n);
    if (rc == AW_EPARSE) /* the start of a long answer is enough */
        rc = AW_OK;
    if (reply && reply_size) {
        memcpy(reply, b.p ? b.p : "", b.len);
        reply[b.len] = '\0';
    }
    free(b.p);
    return rc;
}
