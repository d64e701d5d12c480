/*
 * The one file that includes libcurl. Requests are signed by libcurl's own
 * SigV4 implementation (CURLOPT_AWS_SIGV4); libcurl 7.88 does not add the
 * x-amz-content-sha256 header S3 servers require, so it is sent here with the
 * hash of the empty payload every GET has.
 */
#include "aw/http.h"

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
#include "aw/log.h"
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
    /* credentials from a shared credentials file, re-read when it changes */
    char *cred_file, *profile;
    struct timespec cred_mtime;
    off_t cred_size;
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
    free(s3->cred_file);
    free(s3->profile);
    free(s3);
}

/* Makes c the credentials of every request from now on. */
static int use_credentials(aw_s3 *s3, const aw_s3_creds *c) {
    char *userpwd = NULL;
    struct curl_slist *headers = NULL;
    if (c->access_key && *c->access_key) {
        size_t ul = strlen(c->access_key) + strlen(c->secret_key) + 2;
        userpwd = malloc(ul);
        if (!userpwd)
            return AW_ENOMEM;
        snprintf(userpwd, ul, "%s:%s", c->access_key, c->secret_key);
        headers = curl_slist_append(NULL, "x-amz-content-sha256: " EMPTY_SHA256);
        if (headers && c->session_token && *c->session_token) {
            size_t tl = strlen(c->session_token) + 32;
            char *tok = malloc(tl);
            struct curl_slist *h = NULL;
            if (tok) {
                snprintf(tok, tl, "x-amz-security-token: %s", c->session_token);
                h = curl_slist_append(headers, tok);
                free(tok);
            }
            if (!h) {
                curl_slist_free_all(headers);
                headers = NULL;
            }
        }
        if (!headers) {
            free(userpwd);
            return AW_ENOMEM;
        }
    }
    if (s3->userpwd) {
        memset(s3->userpwd, 0, strlen(s3->userpwd));
        free(s3->userpwd);
    }
    curl_slist_free_all(s3->headers);
    s3->userpwd = userpwd;
    s3->headers = headers;
    return AW_OK;
}

/* Re-reads the credentials file when it changed since the last read (or
 * was never read). A file that cannot be used now keeps the credentials in
 * use and says why in errstr. */
static int refresh_credentials(aw_s3 *s3, char *errstr, size_t n) {
    struct stat st;
    if (!s3->cred_file)
        return AW_OK;
    if (stat(s3->cred_file, &st) != 0) {
        snprintf(errstr, n, "credentials file %s: %s", s3->cred_file, strerror(errno));
        return AW_ECONFIG;
    }
    if (st.st_mtim.tv_sec == s3->cred_mtime.tv_sec &&
        st.st_mtim.tv_nsec == s3->cred_mtime.tv_nsec && st.st_size == s3->cred_size)
        return AW_OK;
    aw_s3_creds c;
    int rc = aw_s3_creds_read_file(s3->cred_file, s3->profile, &c, errstr, n);
    if (rc == AW_OK)
        rc = use_credentials(s3, &c);
    aw_s3_creds_clear(&c);
    if (rc == AW_OK) {
        s3->cred_mtime = st.st_mtim;
        s3->cred_size = st.st_size;
    }
    return rc;
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
    if (o->access_key && *o->access_key) {
        /* static credentials (environment, flags): they win, as in the SDKs */
        aw_s3_creds c = {(char *)o->access_key, (char *)o->secret_key,
                         (char *)o->session_token};
        if ((rc = aw_s3_creds_check(&c, "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/"
                                        "AWS_SESSION_TOKEN", errstr, n)) != AW_OK ||
            (rc = use_credentials(s3, &c)) != AW_OK)
            goto fail;
    } else if (o->credentials_file && *o->credentials_file) {
        rc = AW_ENOMEM;
        if (!(s3->cred_file = strdup(o->credentials_file)) ||
            !(s3->profile = strdup(o->profile && *o->profile ? o->profile : "default")))
            goto fail;
        if ((rc = refresh_credentials(s3, errstr, n)) != AW_OK)
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

int aw_s3_new_from_env(aw_s3 **out, char *errstr, size_t n) {
    aw_s3_opts o = {.endpoint = getenv("AWS_ENDPOINT_URL_S3"), .region = getenv("AWS_REGION"),
                    .access_key = getenv("AWS_ACCESS_KEY_ID"),
                    .secret_key = getenv("AWS_SECRET_ACCESS_KEY"), .path_style = true,
                    .timeout_ms = 30000};
    return aw_s3_new(&o, out, errstr, n);
}

int aw_s3_new_from_config(const aw_config *cfg, aw_s3 **out, char *errstr, size_t n) {
    char deffile[1024] = "";
    const char *file = cfg->s3_credentials_file;
    const char *home = getenv("HOME");
    if (!*file && !*cfg->s3_access_key_id && home && *home &&
        aw_fmt(deffile, sizeof deffile, "%s/.aws/credentials", home) == AW_OK &&
        access(deffile, R_OK) == 0)
        file = deffile; /* the SDKs' default place */
    aw_s3_opts o = {.endpoint = cfg->s3_endpoint, .region = cfg->s3_region,
                    .access_key = cfg->s3_access_key_id,
                    .secret_key = cfg->s3_secret_access_key,
                    .session_token = cfg->s3_session_token, .credentials_file = file,
                    .profile = cfg->s3_profile, .path_style = cfg->s3_path_style,
                    .timeout_ms = cfg->fetch_timeout_ms};
    return aw_s3_new(&o, out, errstr, n);
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
    } else if (len > 14 && !strncasecmp(line, "last-modified:", 14)) {
        header_value(line, len, 14, i->last_modified, sizeof i->last_modified);
    } else if (len > 22 && !strncasecmp(line, "x-amz-checksum-sha256:", 22)) {
        header_value(line, len, 22, i->checksum_sha256, sizeof i->checksum_sha256);
    } else if (len > 14 && !strncasecmp(line, "content-range:", 14)) {
        char tmp[80], *slash; /* bytes FIRST-LAST/TOTAL */
        header_value(line, len, 14, tmp, sizeof tmp);
        i->range_total = (slash = strchr(tmp, '/')) ? strtoll(slash + 1, NULL, 10) : 0;
    } else if (len > 21 && !strncasecmp(line, "x-amz-mp-parts-count:", 21)) {
        char tmp[32];
        header_value(line, len, 21, tmp, sizeof tmp);
        long n = strtol(tmp, NULL, 10); /* S3 allows 10,000 parts, so anything else is none */
        i->parts_count = n > 0 && n <= 10000 ? (int)n : 0;
    }
    return len;
}

/* Prepares slot s for request r. AW_EINVAL when the URL does not fit. */
static int slot_start(aw_s3 *s3, slot *s, aw_fetch *r) {
    char url[8192];
    int urc = aw_s3_url(s3->endpoint, s3->path_style, r->bucket, r->key, r->version_id,
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
        /* the pin is never dropped: a value that cannot be a header fails
         * the request instead of fetching unpinned bytes */
        if (!aw_token_ok(r->if_match, 4096)) {
            snprintf(r->error, sizeof r->error, "ETag cannot be sent in If-Match");
            return AW_EINVALID;
        }
        size_t l = strlen(r->if_match) + 16;
        char *im = malloc(l);
        if (!im)
            return AW_ENOMEM;
        snprintf(im, l, "If-Match: \"%s\"", r->if_match);
        struct curl_slist *n = curl_slist_append(s->headers, im);
        free(im);
        if (!n)
            return AW_ENOMEM;
        s->headers = n;
    }
    if (r->checksum_mode) {
        struct curl_slist *n = curl_slist_append(s->headers, "x-amz-checksum-mode: ENABLED");
        if (!n)
            return AW_ENOMEM;
        s->headers = n;
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
    /* fewer, larger reads for a large body; small ones keep memory small */
    int64_t expect = r->range_len > 0 ? r->range_len : r->size_hint;
    curl_easy_setopt(e, CURLOPT_BUFFERSIZE, expect >= (1 << 20) ? 512L * 1024 : 128L * 1024);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, s->headers);
    char range[48];
    snprintf(range, sizeof range, "%lld-%lld", (long long)r->range_start,
             (long long)(r->range_start + r->range_len - 1));
    curl_easy_setopt(e, CURLOPT_RANGE, r->range_len > 0 ? range : NULL);
    /* the handle is reused: back to a plain GET, then the method asked for */
    bool head = r->method && !strcmp(r->method, "HEAD");
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST,
                     r->method && !head && strcmp(r->method, "GET") ? r->method : NULL);
    if (head)
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    /* credentials are set (or cleared) every time, as they may rotate */
    curl_easy_setopt(e, CURLOPT_AWS_SIGV4, s3->userpwd ? s3->sigv4 : NULL);
    curl_easy_setopt(e, CURLOPT_USERPWD, s3->userpwd);
    if (r->on_start) {
        int rc = r->on_start(r->ud);
        if (rc != AW_OK) {
            snprintf(r->error, sizeof r->error, "body consumer: %s", aw_strerror(rc));
            return rc;
        }
    }
    if (!r->attempts)
        r->started_ms = aw_now_ms();
    r->attempts++;
    return AW_OK;
}

bool aw_s3_credential_error(const char *code) {
    static const char *const codes[] = {
        "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken",
        "TokenRefreshRequired", "RequestTimeTooSkewed", "AuthorizationHeaderMalformed",
        "InvalidSecurity", "MissingSecurityHeader", "AccountProblem", NULL};
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

void aw_s3_wakeup(aw_s3 *s3) { curl_multi_wakeup(s3->multi); }

int aw_s3_fetch_many(aw_s3 *s3, aw_fetch *reqs, size_t n, const aw_fetch_policy *policy,
                     const volatile sig_atomic_t *stop) {
    int conc = policy->concurrency > 0 ? policy->concurrency : 1;
    if ((size_t)conc > n)
        conc = (int)n;
    if (n == 0)
        return AW_OK;
    if (ensure_slots(s3, conc) != AW_OK)
        return AW_ENOMEM;
    char cerr[512];
    if (refresh_credentials(s3, cerr, sizeof cerr) != AW_OK)
        AW_WARN("s3", "keeping the credentials in use: %s", cerr);
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
    int64_t last_tick = aw_now_ms();

    while (done < n) {
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
        /* start what is due, in queue order */
        size_t scanned = 0, qn = qlen;
        while (nfree > 0 && scanned < qn) {
            size_t idx = queue[qhead];
            qhead = (qhead + 1) % n;
            qlen--;
            scanned++;
            aw_fetch *r = &reqs[idx];
            int g = next_try[idx] > now ? AW_GATE_WAIT
                    : policy->gate ? policy->gate(policy->gate_ud, idx) : AW_GATE_START;
            if (g == AW_GATE_WAIT) {
                queue[(qhead + qlen) % n] = idx; /* not yet: back of the queue */
                qlen++;
                if (next_try[idx] > now && next_try[idx] - now < next_wait)
                    next_wait = next_try[idx] - now;
                continue;
            }
            if (g == AW_GATE_SKIP) {
                snprintf(r->error, sizeof r->error, "not started");
                ended(r);
                done++;
                continue;
            }
            int si = free_slots[--nfree];
            slot *s = &s3->slots[si];
            int src = slot_start(s3, s, r);
            if (src != AW_OK) {
                free_slots[nfree++] = si;
                r->outcome = AW_FETCH_FAILED;
                ended(r);
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
            r->duration_ms = aw_now_ms() - r->started_ms;
            ended(r);
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
            ended(s->req);
            s->req = NULL;
        }
    }
    free(free_slots);
    free(queue);
    free(next_try);
    return rc;
}

int aw_s3_probe(aw_s3 *s3, char *errstr, size_t n) {
    aw_fetch r = {.method = "GET"};
    aw_fetch_policy p = {.concurrency = 1, .retries = 1, .backoff_base_ms = 200,
                         .backoff_max_ms = 200};
    int rc = aw_s3_fetch_many(s3, &r, 1, &p, NULL);
    if (rc != AW_OK)
        return rc;
    /* an answer that is not about our credentials means the store works */
    if (r.outcome == AW_FETCH_OK || r.outcome == AW_FETCH_DENIED ||
        (r.info.status >= 300 && r.outcome != AW_FETCH_UNAVAILABLE && r.info.status < 500))
        return AW_OK;
    snprintf(errstr, n, "GET %s/: %s", s3->endpoint, r.error);
    return AW_EUNAVAILABLE;
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
        snprintf(errstr, n, "POST %s: %s", url, cerr[0] ? cerr : curl_easy_strerror(c));
        rc = AW_EHTTP;
    } else {
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, status);
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(e);
    return rc;
}

