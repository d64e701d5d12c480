/*
 * The one file that includes libcurl. Requests are signed by libcurl's own
 * SigV4 implementation (CURLOPT_AWS_SIGV4); libcurl 7.88 does not add the
 * x-amz-content-sha256 header S3 servers require, so it is sent here with the
 * hash of the empty payload every GET has.
 */
#include "aw/store.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "aw/codec.h"
#include "aw/hash.h"
#include "aw/log.h"
#include "aw/util.h"
#include "internal.h"

typedef struct slot slot;

struct aw_s3 {
    CURLM *multi;
    slot *slots;
    int nslots;
    unsigned seed;
    char *endpoint; /* without trailing slash */
    char sigv4[128];
    aw_s3_auth auth; /* SigV4's key pair and headers, maybe from a file */
    bool path_style;
    long timeout_ms;
    aw_store_kind kind;
    /* Azure */
    char *account, *sas;
    uint8_t key[96];
    size_t keylen;
    /* file */
    aw_fstore *file;
};

aw_store_kind aw_s3_kind(const aw_s3 *s3) { return s3->kind; }

aw_fstore *aw_s3_fstore(const aw_s3 *s3) { return s3->file; }

const char *aw_s3_root(const aw_s3 *s3, const char *bucket) {
    return s3 && s3->file ? aw_fstore_root(s3->file, bucket) : NULL;
}

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
    aw_s3_auth_clear(&s3->auth);
    free(s3->endpoint);
    free(s3->account);
    if (s3->sas) {
        memset(s3->sas, 0, strlen(s3->sas));
        free(s3->sas);
    }
    memset(s3->key, 0, sizeof s3->key);
    aw_fstore_destroy(s3->file);
    free(s3);
}

int aw_s3_new(const aw_s3_opts *o, aw_s3 **out, char *errstr, size_t n) {
    *out = NULL;
    aw_s3 *s3 = calloc(1, sizeof *s3);
    if (!s3)
        return AW_ENOMEM;
    s3->kind = o->kind;
    if (o->kind == AW_STORE_FILE) {
        int frc = aw_fstore_new(o->roots, o->nroots, &s3->file, errstr, n);
        if (frc != AW_OK || !(s3->endpoint = strdup("file://"))) {
            aw_s3_destroy(s3);
            return frc != AW_OK ? frc : AW_ENOMEM;
        }
        *out = s3;
        return AW_OK;
    }
    const char *region = o->region && *o->region ? o->region : "us-east-1";
    char defep[256];
    const char *ep = o->endpoint;
    if (!ep || !*ep) {
        snprintf(defep, sizeof defep, "https://s3.%s.amazonaws.com", region);
        ep = defep;
    }
    int rc = AW_ECONFIG;
    if (strncmp(ep, "http://", 7) && strncmp(ep, "https://", 8)) {
        snprintf(errstr, n, "S3 endpoint \"%s\" must start with http:// or https://", ep);
        goto fail;
    }
    if (!aw_printable_ok(ep, 2048) || strpbrk(ep, " \"<>\\^`{|}")) {
        snprintf(errstr, n, "S3 endpoint: not a URL");
        goto fail;
    }
    rc = AW_ENOMEM;
    if (!(s3->endpoint = strdup(ep)))
        goto fail;
    size_t l = strlen(s3->endpoint);
    while (l && s3->endpoint[l - 1] == '/')
        s3->endpoint[--l] = '\0';
    if (!aw_token_ok(region, 64) ||
        aw_fmt(s3->sigv4, sizeof s3->sigv4, "aws:amz:%s:s3", region) != AW_OK) {
        snprintf(errstr, n, "S3 region is not 1 to 64 visible characters");
        rc = AW_ECONFIG;
        goto fail;
    }
    if (o->kind == AW_STORE_AZURE) {
        if ((rc = aw_azure_setup(o, &s3->account, s3->key, sizeof s3->key, &s3->keylen,
                                 &s3->sas, errstr, n)) != AW_OK)
            goto fail;
    } else if (o->access_key && *o->access_key) {
        /* static credentials (environment, flags): they win, as in the SDKs */
        aw_s3_creds c = {(char *)o->access_key, (char *)o->secret_key,
                         (char *)o->session_token};
        if ((rc = aw_s3_creds_check(&c, "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/"
                                        "AWS_SESSION_TOKEN", errstr, n)) != AW_OK ||
            (rc = aw_s3_auth_use(&s3->auth, &c)) != AW_OK)
            goto fail;
    } else if (o->credentials_file && *o->credentials_file) {
        rc = AW_ENOMEM;
        if (!(s3->auth.cred_file = strdup(o->credentials_file)) ||
            !(s3->auth.profile = strdup(o->profile && *o->profile ? o->profile : "default")))
            goto fail;
        if ((rc = aw_s3_auth_refresh(&s3->auth, errstr, n)) != AW_OK)
            goto fail;
    }
    s3->path_style = o->path_style;
    s3->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 30000;
    s3->seed = (unsigned)aw_now_ms() ^ (unsigned)(uintptr_t)s3;
    rc = AW_ENOMEM;
    if (!(s3->multi = curl_multi_init()))
        goto fail;
    *out = s3;
    return AW_OK;
fail:
    aw_s3_destroy(s3);
    return rc;
}

/* One transfer slot: an easy handle kept across requests (its connection
 * stays in the multi handle's cache) and the request it serves now. */
typedef struct slot {
    CURL *easy;
    aw_fetch *req;
    struct curl_slist *headers;
    int cb_err;
    char cerr[CURL_ERROR_SIZE];
    char errbody[1024];     /* the start of an error response, for its <Code> */
    size_t errlen;
} slot;

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud) {
    slot *s = ud;
    size_t len = size * nmemb;
    aw_fetch *r = s->req;
    /* Only a successful response is the object; an error body is S3's XML,
     * whose start is kept for its <Code>. */
    if (r->info.status >= 200 && r->info.status < 300) {
        if (r->range_len > 0 && r->info.status != 206) {
            s->cb_err = AW_EUNSUPPORTED; /* the whole object, not the range asked for */
            return 0;
        }
        if (r->on_body) {
            int rc = r->on_body(r->ud, ptr, len);
            if (rc != AW_OK) {
                s->cb_err = rc;
                return 0; /* makes curl abort with CURLE_WRITE_ERROR */
            }
        }
    } else if (s->errlen < sizeof s->errbody) {
        size_t take = len < sizeof s->errbody - s->errlen ? len : sizeof s->errbody - s->errlen;
        memcpy(s->errbody + s->errlen, ptr, take);
        s->errlen += take;
    }
    return len;
}

static size_t on_header(char *line, size_t size, size_t nmemb, void *ud) {
    slot *s = ud;
    size_t len = size * nmemb;
    aw_s3_header(&s->req->info, line, len);
    return len;
}

/* The slot's header list for r: the client's own, then If-Match (never
 * dropped: a value that cannot be a header fails the request instead of
 * fetching unpinned bytes) and the checksum mode. */
static int slot_headers(const aw_s3 *s3, slot *s, aw_fetch *r) {
    curl_slist_free_all(s->headers);
    s->headers = NULL;
    char *im = NULL;
    if (r->if_match && *r->if_match) {
        if (!aw_token_ok(r->if_match, 4096)) {
            snprintf(r->error, sizeof r->error, "ETag cannot be sent in If-Match");
            return AW_EINVALID;
        }
        size_t l = strlen(r->if_match) + 16;
        if (!(im = malloc(l)))
            return AW_ENOMEM;
        snprintf(im, l, "If-Match: \"%s\"", r->if_match);
    }
    const char *more[2] = {im, r->checksum_mode && s3->kind == AW_STORE_S3
                                   ? "x-amz-checksum-mode: ENABLED" : NULL};
    int rc = AW_OK;
    for (int i = 0; rc == AW_OK && i < 2 && s3->auth.headers[i]; i++) {
        struct curl_slist *n = curl_slist_append(s->headers, s3->auth.headers[i]);
        rc = n ? AW_OK : AW_ENOMEM;
        s->headers = n ? n : s->headers;
    }
    for (int i = 0; rc == AW_OK && i < 2; i++) {
        struct curl_slist *n = more[i] ? curl_slist_append(s->headers, more[i]) : s->headers;
        rc = n || !more[i] ? AW_OK : AW_ENOMEM;
        s->headers = n ? n : s->headers;
    }
    free(im);
    return rc;
}

/* The easy handle's options for r at url (the handle is reused: every
 * option a request may set is set every time). */
static void slot_options(const aw_s3 *s3, slot *s, const aw_fetch *r, const char *url) {
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
    /* fewer, larger reads for a large body; small ones keep memory small */
    int64_t expect = r->range_len > 0 ? r->range_len : r->size_hint;
    curl_easy_setopt(e, CURLOPT_BUFFERSIZE, expect >= (1 << 20) ? 512L * 1024 : 128L * 1024);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, s->headers);
    char range[48];
    snprintf(range, sizeof range, "%lld-%lld", (long long)r->range_start,
             (long long)(r->range_start + r->range_len - 1));
    curl_easy_setopt(e, CURLOPT_RANGE, r->range_len > 0 ? range : NULL);
    /* back to a plain GET, then the method asked for */
    bool head = r->method && !strcmp(r->method, "HEAD");
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST,
                     r->method && !head && strcmp(r->method, "GET") ? r->method : NULL);
    if (head)
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    /* credentials are set (or cleared) every time, as they may rotate */
    curl_easy_setopt(e, CURLOPT_AWS_SIGV4, s3->auth.userpwd ? s3->sigv4 : NULL);
    curl_easy_setopt(e, CURLOPT_USERPWD, s3->auth.userpwd);
}

/* Azure's headers of r at url after the slot's others (aw_azure_headers). */
static int azure_headers(const aw_s3 *s3, slot *s, const aw_fetch *r, const char *url) {
    char h[3][300];
    int rc = aw_azure_headers(s3->account, s3->key, s3->keylen, r, url, h);
    for (int i = 0; rc == AW_OK && i < 3; i++) {
        if (!h[i][0])
            continue;
        struct curl_slist *nl = curl_slist_append(s->headers, h[i]);
        if (!nl)
            return AW_ENOMEM;
        s->headers = nl;
    }
    return rc;
}

static int slot_start(aw_s3 *s3, slot *s, aw_fetch *r) {
    char url[8192];
    int urc = s3->kind == AW_STORE_AZURE
              ? aw_azure_url(s3->endpoint, r->bucket, r->key, r->version_id, r->query, s3->sas,
                             url, sizeof url)
              : aw_s3_url(s3->endpoint, s3->path_style, r->bucket, r->key, r->version_id,
                          r->query, url, sizeof url);
    if (urc != AW_OK) {
        snprintf(r->error, sizeof r->error, "%s", urc == AW_EINVALID
                 ? (s3->path_style ? "not a valid bucket name"
                                   : "bucket name cannot be a host name (use --path-style)")
                 : "object URL too long");
        return urc;
    }
    s->req = r;
    s->cb_err = AW_OK;
    s->cerr[0] = '\0';
    s->errlen = 0;
    aw_s3_info_reset(&r->info);
    int rc = slot_headers(s3, s, r);
    if (rc == AW_OK && s3->kind == AW_STORE_AZURE && (rc = azure_headers(s3, s, r, url)) != AW_OK)
        snprintf(r->error, sizeof r->error, "cannot sign the request: %s", aw_strerror(rc));
    if (rc != AW_OK)
        return rc;
    slot_options(s3, s, r, url);
    if (r->on_start && (rc = r->on_start(r->ud)) != AW_OK) {
        snprintf(r->error, sizeof r->error, "body consumer: %s", aw_strerror(rc));
        return rc;
    }
    if (!r->attempts)
        r->started_ms = aw_now_ms();
    r->attempts++;
    return AW_OK;
}

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
    if (s->errlen) /* else the header's code (Azure's x-ms-error-code), if any */
        aw_s3_error_code(s->errbody, s->errlen, r->info.error_code, sizeof r->info.error_code);
    /* a HEAD has no body to count */
    int64_t want = r->method && !strcmp(r->method, "HEAD") ? -1 : r->info.content_length;
    return aw_fetch_classify(end, r->info.status, r->info.error_code, want, (int64_t)got,
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

static void ended(aw_fetch *r) {
    if (r->on_end)
        r->on_end(r->ud);
}

void aw_s3_wakeup(aw_s3 *s3) {
    if (s3->multi)
        curl_multi_wakeup(s3->multi);
}

/* One aw_s3_fetch_many: its requests, the free slots, and the queue of
 * requests waiting to (re)start, in order (a retry goes to the back). */
typedef struct run {
    aw_s3 *s3;
    aw_fetch *reqs;
    size_t n, qhead, qlen, done;
    const aw_fetch_policy *policy;
    int *free_slots, nfree;
    size_t *queue;
    int64_t *next_try;      /* when a retry is due */
} run;

static void run_push(run *u, size_t idx) {
    u->queue[(u->qhead + u->qlen) % u->n] = idx;
    u->qlen++;
}

/* Starts what is due, in queue order, while slots are free; *next_wait
 * shrinks to the nearest retry. AW_ENOMEM, else AW_OK. */
static int run_start(run *u, int64_t now, int64_t *next_wait) {
    size_t scanned = 0, qn = u->qlen;
    while (u->nfree > 0 && scanned < qn) {
        size_t idx = u->queue[u->qhead];
        u->qhead = (u->qhead + 1) % u->n;
        u->qlen--;
        scanned++;
        aw_fetch *r = &u->reqs[idx];
        int g = u->next_try[idx] > now ? AW_GATE_WAIT
                : u->policy->gate ? u->policy->gate(u->policy->gate_ud, idx) : AW_GATE_START;
        if (g == AW_GATE_WAIT) {
            run_push(u, idx); /* not yet: back of the queue */
            if (u->next_try[idx] > now && u->next_try[idx] - now < *next_wait)
                *next_wait = u->next_try[idx] - now;
            continue;
        }
        if (g == AW_GATE_SKIP) {
            snprintf(r->error, sizeof r->error, "not started");
            ended(r);
            u->done++;
            continue;
        }
        int si = u->free_slots[--u->nfree];
        slot *sl = &u->s3->slots[si];
        int src = slot_start(u->s3, sl, r);
        if (src != AW_OK) {
            u->free_slots[u->nfree++] = si;
            r->outcome = AW_FETCH_FAILED;
            ended(r);
            u->done++;
            if (src == AW_ENOMEM)
                return AW_ENOMEM;
            continue;
        }
        curl_multi_add_handle(u->s3->multi, sl->easy);
    }
    return AW_OK;
}

/* Takes in the transfers that ended: an outcome, or a retry queued after
 * its backoff. How many ended. */
static int run_collect(run *u) {
    CURLMsg *m;
    int left, finished = 0;
    while ((m = curl_multi_info_read(u->s3->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        slot *sl;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&sl);
        CURLcode cc = m->data.result;
        curl_multi_remove_handle(u->s3->multi, m->easy_handle);
        aw_fetch *r = sl->req;
        aw_verdict v = classify(sl, cc);
        u->free_slots[u->nfree++] = (int)(sl - u->s3->slots);
        sl->req = NULL;
        finished++;
        if (v != AW_VERDICT_DONE && r->attempts <= u->policy->retries) {
            size_t idx = (size_t)(r - u->reqs);
            u->next_try[idx] = aw_now_ms() + backoff_ms(u->s3, u->policy, r->attempts);
            run_push(u, idx);
            continue;
        }
        r->duration_ms = aw_now_ms() - r->started_ms;
        ended(r);
        u->done++;
    }
    return finished;
}

/* Interrupted or out of memory: takes back whatever is still in flight. */
static void run_abandon(aw_s3 *s3) {
    for (int i = 0; i < s3->nslots; i++) {
        slot *sl = &s3->slots[i];
        if (sl->req) {
            curl_multi_remove_handle(s3->multi, sl->easy);
            sl->req->outcome = AW_FETCH_FAILED;
            snprintf(sl->req->error, sizeof sl->req->error, "interrupted");
            ended(sl->req);
            sl->req = NULL;
        }
    }
}

static int fetch_run(aw_s3 *s3, aw_fetch *reqs, size_t n, const aw_fetch_policy *policy,
                     const volatile sig_atomic_t *stop);

int aw_s3_fetch_many(aw_s3 *s3, aw_fetch *reqs, size_t n, const aw_fetch_policy *policy,
                     const volatile sig_atomic_t *stop) {
    if (s3->file)
        return aw_fstore_fetch_many(s3->file, reqs, n, policy, stop);
    int rc = fetch_run(s3, reqs, n, policy, stop);
    return rc == AW_OK && s3->kind == AW_STORE_AZURE ? aw_azure_tell_gone(s3, reqs, n, policy, stop)
                                                     : rc;
}

static int fetch_run(aw_s3 *s3, aw_fetch *reqs, size_t n, const aw_fetch_policy *policy,
                     const volatile sig_atomic_t *stop) {
    int conc = policy->concurrency > 0 ? policy->concurrency : 1;
    if ((size_t)conc > n)
        conc = (int)n;
    if (n == 0)
        return AW_OK;
    if (ensure_slots(s3, conc) != AW_OK)
        return AW_ENOMEM;
    char cerr[512];
    if (aw_s3_auth_refresh(&s3->auth, cerr, sizeof cerr) != AW_OK)
        AW_WARN("s3", "keeping the credentials in use: %s", cerr);
    curl_multi_setopt(s3->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)policy->concurrency);
    run u = {.s3 = s3, .reqs = reqs, .n = n, .qlen = n, .policy = policy, .nfree = conc,
             .free_slots = malloc((size_t)conc * sizeof *u.free_slots),
             .queue = malloc(n * sizeof *u.queue), .next_try = calloc(n, sizeof *u.next_try)};
    if (!u.free_slots || !u.queue || !u.next_try) {
        free(u.free_slots), free(u.queue), free(u.next_try);
        return AW_ENOMEM;
    }
    for (int i = 0; i < conc; i++)
        u.free_slots[i] = i;
    for (size_t i = 0; i < n; i++) {
        reqs[i].attempts = 0;
        reqs[i].outcome = AW_FETCH_FAILED;
        reqs[i].error[0] = '\0';
        u.queue[i] = i;
    }
    int rc = AW_OK;
    int64_t stop_at = -1; /* when a stop request ends the grace period */
    int64_t last_tick = aw_now_ms();
    while (rc == AW_OK && u.done < n) {
        int64_t now = aw_now_ms(), next_wait = 100;
        if (policy->tick && now - last_tick >= 100) {
            policy->tick(policy->tick_ud);
            last_tick = now;
        }
        if (stop && *stop && stop_at < 0)
            stop_at = now + (policy->stop_grace_ms > 0 ? policy->stop_grace_ms : 0);
        if (stop_at >= 0 && now >= stop_at) {
            rc = AW_EINTERRUPTED;
            break;
        }
        if ((rc = run_start(&u, now, &next_wait)) != AW_OK)
            break;
        int running = 0;
        curl_multi_perform(s3->multi, &running);
        int finished = run_collect(&u);
        /* freed slots are refilled at once; waiting here would leave them idle */
        if (u.done < n && !(finished && u.qlen))
            curl_multi_poll(s3->multi, NULL, 0, (int)(next_wait > 0 ? next_wait : 1), NULL);
    }
    run_abandon(s3);
    free(u.free_slots), free(u.queue), free(u.next_try);
    return rc;
}

const char *aw_s3_endpoint(const aw_s3 *s3) { return s3->endpoint; }

static void slots_free(aw_s3 *s3) {
    for (int i = 0; i < s3->nslots; i++) {
        curl_easy_cleanup(s3->slots[i].easy);
        curl_slist_free_all(s3->slots[i].headers);
    }
    free(s3->slots);
    s3->slots = NULL;
    s3->nslots = 0;
}
