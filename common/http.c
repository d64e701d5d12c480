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
#include "http_internal.h"

#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

typedef struct slot slot;

struct aw_s3 {
    CURLM *multi;
    slot *slots;
    int nslots;
    unsigned seed;
    char *endpoint; /* without trailing slash */
    char sigv4[128];
    char *userpwd;  /* "access:secret", NULL for unsigned */
    struct curl_slist *headers;
    bool path_style;
    long timeout_ms;
};

const char *aw_http_version(void) { return "libcurl " LIBCURL_VERSION; }

int aw_http_global_init(void) {
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? AW_OK : AW_EHTTP;
}

void aw_http_global_cleanup(void) { curl_global_cleanup(); }

static void slots_free(aw_s3 *s3);

void aw_s3_destroy(aw_s3 *s3) {
    if (!s3)
        return;
    slots_free(s3);
    if (s3->multi)
        curl_multi_cleanup(s3->multi);
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
    s3->seed = (unsigned)aw_now_ms() ^ (unsigned)(uintptr_t)s3;
    s3->multi = curl_multi_init();
    if (!s3->multi) {
        aw_s3_destroy(s3);
        return AW_ENOMEM;
    }
    *out = s3;
    return AW_OK;
}

/* One transfer slot: an easy handle kept across requests (its connection
 * stays in the multi handle's cache) and the request it serves now. */
typedef struct slot {
    CURL *easy;
    aw_fetch *req;
    struct curl_slist *headers;
    int cb_err;
    char cerr[CURL_ERROR_SIZE];
} slot;

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud) {
    slot *s = ud;
    size_t len = size * nmemb;
    aw_fetch *r = s->req;
    /* Only a successful response is the object; an error body is S3's XML. */
    if (r->info.status >= 200 && r->info.status < 300 && r->on_body) {
        int rc = r->on_body(r->ud, ptr, len);
        if (rc != AW_OK) {
            s->cb_err = rc;
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

static void info_reset(aw_s3_object_info *i) {
    memset(i, 0, sizeof *i);
    i->content_length = -1;
}

static size_t on_header(char *line, size_t size, size_t nmemb, void *ud) {
    slot *s = ud;
    size_t len = size * nmemb;
    aw_s3_object_info *i = &s->req->info;
    if (len > 5 && !strncmp(line, "HTTP/", 5)) {
        /* a new response (after a redirect or 100-continue): start over */
        const char *sp = memchr(line, ' ', len);
        info_reset(i);
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
    } else if (len > 22 && !strncasecmp(line, "x-amz-checksum-sha256:", 22)) {
        header_value(line, len, 22, i->checksum_sha256, sizeof i->checksum_sha256);
    }
    return len;
}

/* Prepares slot s for request r. AW_EINVAL when the URL does not fit. */
static int slot_start(aw_s3 *s3, slot *s, aw_fetch *r) {
    char url[8192];
    if (aw_s3_object_url(s3->endpoint, s3->path_style, r->bucket, r->key, r->version_id, url,
                         sizeof url) != AW_OK) {
        snprintf(r->error, sizeof r->error, "object URL too long");
        return AW_EINVAL;
    }
    s->req = r;
    s->cb_err = AW_OK;
    s->cerr[0] = '\0';
    info_reset(&r->info);
    curl_slist_free_all(s->headers);
    s->headers = NULL;
    for (struct curl_slist *h = s3->headers; h; h = h->next) {
        struct curl_slist *n = curl_slist_append(s->headers, h->data);
        if (!n)
            return AW_ENOMEM;
        s->headers = n;
    }
    if (r->if_match && *r->if_match) {
        char im[160];
        if (aw_fmt(im, sizeof im, "If-Match: \"%s\"", r->if_match) == AW_OK) {
            struct curl_slist *n = curl_slist_append(s->headers, im);
            if (!n)
                return AW_ENOMEM;
            s->headers = n;
        }
    }
    CURL *e = s->easy;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, s->cerr);
    curl_easy_setopt(e, CURLOPT_PRIVATE, s);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, s);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, s3->timeout_ms);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, (s3->timeout_ms + 999) / 1000);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_BUFFERSIZE, 128L * 1024);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, s->headers);
    if (s3->userpwd) {
        curl_easy_setopt(e, CURLOPT_AWS_SIGV4, s3->sigv4);
        curl_easy_setopt(e, CURLOPT_USERPWD, s3->userpwd);
    }
    if (r->on_start) {
        int rc = r->on_start(r->ud);
        if (rc != AW_OK) {
            snprintf(r->error, sizeof r->error, "body consumer: %s", aw_strerror(rc));
            return rc;
        }
    }
    r->attempts++;
    return AW_OK;
}

aw_verdict aw_fetch_classify(aw_xfer_end end, long st, int64_t content_length,
                             int64_t received, aw_fetch_outcome *outcome, char *error,
                             size_t errn) {
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
    snprintf(error, errn, "HTTP %ld", st);
    if (st == 404) {
        *outcome = AW_FETCH_NOT_FOUND;
        return AW_VERDICT_DONE;
    }
    if (st == 412) {
        *outcome = AW_FETCH_PRECONDITION;
        return AW_VERDICT_DONE;
    }
    if (st == 401 || st == 403) {
        *outcome = AW_FETCH_UNAVAILABLE;
        snprintf(error, errn, "HTTP %ld: the store refuses our credentials", st);
        return AW_VERDICT_RETRY_UNAVAILABLE;
    }
    *outcome = AW_FETCH_FAILED;
    return st == 429 || st >= 500 || st == 408 ? AW_VERDICT_RETRY : AW_VERDICT_DONE;
}

/* Decides what a finished transfer of slot s means. */
static aw_verdict classify(slot *s, CURLcode cc) {
    aw_fetch *r = s->req;
    aw_xfer_end end = AW_XFER_COMPLETE;
    if (s->cb_err != AW_OK) {
        snprintf(r->error, sizeof r->error, "body consumer failed: %s", aw_strerror(s->cb_err));
        end = AW_XFER_CONSUMER;
    } else if (cc != CURLE_OK) {
        snprintf(r->error, sizeof r->error, "%s", s->cerr[0] ? s->cerr : curl_easy_strerror(cc));
        switch (cc) {
        case CURLE_COULDNT_CONNECT:
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
            end = AW_XFER_UNREACHABLE;
            break;
        case CURLE_URL_MALFORMAT:
        case CURLE_OUT_OF_MEMORY:
            end = AW_XFER_REFUSED;
            break;
        default: /* timeouts, resets, short bodies */
            end = AW_XFER_BROKEN;
        }
    }
    curl_off_t got = 0;
    curl_easy_getinfo(s->easy, CURLINFO_SIZE_DOWNLOAD_T, &got);
    return aw_fetch_classify(end, r->info.status, r->info.content_length, (int64_t)got,
                             &r->outcome, r->error, sizeof r->error);
}

static long backoff_ms(aw_s3 *s3, const aw_fetch_policy *p, int attempt) {
    long cap = p->backoff_base_ms;
    for (int i = 1; i < attempt && cap < p->backoff_max_ms; i++)
        cap *= 2;
    if (cap > p->backoff_max_ms)
        cap = p->backoff_max_ms;
    if (cap <= 0)
        return 0;
    return (long)(rand_r(&s3->seed) % (unsigned)(cap + 1)); /* full jitter */
}

/* Grows the slot pool to n easy handles. */
static int ensure_slots(aw_s3 *s3, int n) {
    if (n <= s3->nslots)
        return AW_OK;
    slot *ns = realloc(s3->slots, (size_t)n * sizeof *ns);
    if (!ns)
        return AW_ENOMEM;
    s3->slots = ns;
    for (int i = s3->nslots; i < n; i++) {
        memset(&ns[i], 0, sizeof ns[i]);
        ns[i].easy = curl_easy_init();
        if (!ns[i].easy)
            return AW_ENOMEM;
        s3->nslots = i + 1;
    }
    return AW_OK;
}

int aw_s3_fetch_many(aw_s3 *s3, aw_fetch *reqs, size_t n, const aw_fetch_policy *policy,
                     const volatile sig_atomic_t *stop) {
    int conc = policy->concurrency > 0 ? policy->concurrency : 1;
    if ((size_t)conc > n)
        conc = (int)n;
    if (n == 0)
        return AW_OK;
    if (ensure_slots(s3, conc) != AW_OK)
        return AW_ENOMEM;
    curl_multi_setopt(s3->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)policy->concurrency);
    for (size_t i = 0; i < n; i++) {
        reqs[i].attempts = 0;
        reqs[i].outcome = AW_FETCH_FAILED;
        reqs[i].error[0] = '\0';
    }
    int *free_slots = malloc((size_t)conc * sizeof *free_slots);
    /* requests waiting to (re)start, in order; a retry goes to the back */
    size_t *queue = malloc(n * sizeof *queue);
    int64_t *next_try = calloc(n, sizeof *next_try); /* when a retry is due */
    if (!free_slots || !queue || !next_try) {
        free(free_slots);
        free(queue);
        free(next_try);
        return AW_ENOMEM;
    }
    int nfree = conc;
    for (int i = 0; i < conc; i++)
        free_slots[i] = i;
    size_t qhead = 0, qlen = n, done = 0;
    for (size_t i = 0; i < n; i++)
        queue[i] = i;
    int rc = AW_OK;
    int64_t stop_at = -1; /* when a stop request ends the grace period */

    while (done < n) {
        int64_t now = aw_now_ms(), next_wait = 100;
        if (stop && *stop && stop_at < 0)
            stop_at = now + (policy->stop_grace_ms > 0 ? policy->stop_grace_ms : 0);
        if (stop_at >= 0 && now >= stop_at) {
            rc = AW_EINTERRUPTED;
            break;
        }
        /* start what is due, in queue order */
        size_t scanned = 0, qn = qlen;
        while (nfree > 0 && scanned < qn) {
            size_t idx = queue[qhead];
            qhead = (qhead + 1) % n;
            qlen--;
            scanned++;
            aw_fetch *r = &reqs[idx];
            if (next_try[idx] > now) {
                queue[(qhead + qlen) % n] = idx; /* not yet: back of the queue */
                qlen++;
                if (next_try[idx] - now < next_wait)
                    next_wait = next_try[idx] - now;
                continue;
            }
            int si = free_slots[--nfree];
            slot *s = &s3->slots[si];
            int src = slot_start(s3, s, r);
            if (src != AW_OK) {
                free_slots[nfree++] = si;
                r->outcome = AW_FETCH_FAILED;
                done++;
                if (src == AW_ENOMEM) {
                    rc = AW_ENOMEM;
                    goto out;
                }
                continue;
            }
            curl_multi_add_handle(s3->multi, s->easy);
        }
        int running = 0;
        curl_multi_perform(s3->multi, &running);
        CURLMsg *m;
        int left, finished = 0;
        while ((m = curl_multi_info_read(s3->multi, &left))) {
            if (m->msg != CURLMSG_DONE)
                continue;
            slot *s;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&s);
            CURLcode cc = m->data.result;
            curl_multi_remove_handle(s3->multi, m->easy_handle);
            aw_fetch *r = s->req;
            aw_verdict v = classify(s, cc);
            free_slots[nfree++] = (int)(s - s3->slots);
            s->req = NULL;
            finished++;
            if (v != AW_VERDICT_DONE && r->attempts <= policy->retries) {
                size_t idx = (size_t)(r - reqs);
                next_try[idx] = aw_now_ms() + backoff_ms(s3, policy, r->attempts);
                queue[(qhead + qlen) % n] = idx;
                qlen++;
                continue;
            }
            done++;
        }
        /* freed slots are refilled at once; waiting here would leave them idle */
        if (done < n && !(finished && qlen))
            curl_multi_poll(s3->multi, NULL, 0, (int)(next_wait > 0 ? next_wait : 1), NULL);
    }
out:
    /* interrupted or out of memory: take back whatever is still in flight */
    for (int i = 0; i < s3->nslots; i++) {
        slot *s = &s3->slots[i];
        if (s->req) {
            curl_multi_remove_handle(s3->multi, s->easy);
            s->req->outcome = AW_FETCH_FAILED;
            snprintf(s->req->error, sizeof s->req->error, "interrupted");
            s->req = NULL;
        }
    }
    free(free_slots);
    free(queue);
    free(next_try);
    return rc;
}

int aw_s3_get(aw_s3 *s3, const char *bucket, const char *key, const char *version_id,
              aw_body_cb cb, void *ud, aw_s3_object_info *info, char *errstr, size_t n) {
    aw_fetch r = {.bucket = bucket, .key = key, .version_id = version_id, .on_body = cb,
                  .ud = ud};
    aw_fetch_policy p = {.concurrency = 1, .retries = 0};
    int rc = aw_s3_fetch_many(s3, &r, 1, &p, NULL);
    *info = r.info;
    if (rc != AW_OK)
        return rc;
    /* a non-2xx response is an answer the caller reads from info->status */
    if (r.outcome == AW_FETCH_OK || r.info.status >= 300)
        return AW_OK;
    snprintf(errstr, n, "GET s3://%s/%s: %s", bucket, key, r.error);
    return AW_EHTTP;
}

static void slots_free(aw_s3 *s3) {
    for (int i = 0; i < s3->nslots; i++) {
        curl_easy_cleanup(s3->slots[i].easy);
        curl_slist_free_all(s3->slots[i].headers);
    }
    free(s3->slots);
    s3->slots = NULL;
    s3->nslots = 0;
}

