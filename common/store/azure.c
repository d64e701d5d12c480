/*
 * Azure Blob's Shared Key signature, apart from the transport in http.c so
 * that the string it signs is checked without a server
 * (tests/unit/test_http.c). The string is the verb, the standard headers a
 * request carries (only If-Match and Range among ours), the x-ms-* headers
 * sorted, and the resource: "/" account, the path exactly as sent (an
 * emulator's path begins with the account again), then each query
 * parameter, decoded, as "\nname:value" in name order.
 */
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include "aw/codec.h"
#include "aw/hash.h"
#include "aw/util.h"
#include "internal.h"

typedef struct qparam {
    char *name, *value;
} qparam;

static int qp_cmp(const void *a, const void *b) {
    return strcmp(((const qparam *)a)->name, ((const qparam *)b)->name);
}

/* Appends s to out[*pos..cap); AW_EINVAL when it does not fit. */
static int put(char *out, size_t cap, size_t *pos, const char *s, size_t l) {
    if (*pos + l >= cap)
        return AW_EINVAL;
    memcpy(out + *pos, s, l);
    *pos += l;
    out[*pos] = '\0';
    return AW_OK;
}

int aw_azure_string_to_sign(const aw_azure_req *r, char *out, size_t cap) {
    size_t pos = 0;
    out[0] = '\0';
    char head[512];
    /* VERB, Content-Encoding, -Language, -Length, -MD5, -Type, Date,
     * If-Modified-Since, If-Match, If-None-Match, If-Unmodified-Since, Range */
    int n = snprintf(head, sizeof head, "%s\n\n\n\n\n\n\n\n%s\n\n\n%s\nx-ms-date:%s\nx-ms-version:%s\n/%s",
                     r->method, r->if_match ? r->if_match : "", r->range ? r->range : "",
                     r->date, r->version, r->account);
    if (n < 0 || (size_t)n >= sizeof head)
        return AW_EINVAL;
    if (put(out, cap, &pos, head, (size_t)n) || put(out, cap, &pos, r->path, strlen(r->path)))
        return AW_EINVAL;
    if (!r->query || !*r->query)
        return AW_OK;
    size_t np = 1;
    for (const char *c = r->query; *c; c++)
        np += *c == '&';
    qparam *qp = calloc(np, sizeof *qp);
    char *q = strdup(r->query);
    int rc = qp && q ? AW_OK : AW_ENOMEM;
    size_t k = 0;
    for (char *save = NULL, *t = q ? strtok_r(q, "&", &save) : NULL; rc == AW_OK && t;
         t = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(t, '=');
        if (eq)
            *eq = '\0';
        size_t vl;
        for (char *c = t; *c; c++)
            if (*c >= 'A' && *c <= 'Z')
                *c = (char)(*c - 'A' + 'a');
        qp[k].name = t;
        rc = aw_urldecode(eq ? eq + 1 : "", eq ? strlen(eq + 1) : 0, false, &qp[k].value, &vl);
        if (rc == AW_OK)
            k++;
    }
    if (rc == AW_OK)
        qsort(qp, k, sizeof *qp, qp_cmp);
    for (size_t i = 0; rc == AW_OK && i < k; i++)
        if (put(out, cap, &pos, "\n", 1) || put(out, cap, &pos, qp[i].name, strlen(qp[i].name)) ||
            put(out, cap, &pos, ":", 1) || put(out, cap, &pos, qp[i].value, strlen(qp[i].value)))
            rc = AW_EINVAL;
    for (size_t i = 0; i < k; i++)
        free(qp[i].value);
    free(qp);
    free(q);
    return rc;
}

int aw_azure_authorization(const aw_azure_req *r, const uint8_t *key, size_t keylen, char *out,
                           size_t cap) {
    char *sts = malloc(16384);
    if (!sts)
        return AW_ENOMEM;
    uint8_t mac[32];
    char b64[48];
    int rc = aw_azure_string_to_sign(r, sts, 16384);
    if (rc == AW_OK)
        rc = aw_hmac_sha256(key, keylen, sts, strlen(sts), mac);
    if (rc == AW_OK)
        rc = aw_base64(mac, sizeof mac, b64, sizeof b64);
    if (rc == AW_OK)
        rc = aw_fmt(out, cap, "Authorization: SharedKey %s:%s", r->account, b64);
    free(sts);
    return rc;
}

const char *aw_store_kind_name(aw_store_kind k) {
    return k == AW_STORE_AZURE ? "azure" : k == AW_STORE_FILE ? "file" : "s3";
}

int aw_azure_setup(const aw_s3_opts *o, char **account, uint8_t *key, size_t keycap,
                   size_t *keylen, char **sas, char *errstr, size_t n) {
    if (!o->endpoint || !*o->endpoint) {
        snprintf(errstr, n, "an azure store needs its endpoint "
                            "(https://ACCOUNT.blob.core.windows.net)");
        return AW_ECONFIG;
    }
    if (!o->account || !aw_token_ok(o->account, 64) || strchr(o->account, ':')) {
        snprintf(errstr, n, "an azure store needs its account (letters and digits)");
        return AW_ECONFIG;
    }
    if (!(*account = strdup(o->account)))
        return AW_ENOMEM;
    if (o->account_key && *o->account_key) {
        if (aw_unbase64(o->account_key, key, keycap, keylen) != AW_OK || !*keylen) {
            snprintf(errstr, n, "account_key is not base64 (of at most %zu bytes)", keycap);
            return AW_ECONFIG;
        }
    } else if (o->sas_token && *o->sas_token) {
        const char *t = o->sas_token[0] == '?' ? o->sas_token + 1 : o->sas_token;
        if (!aw_token_ok(t, 4096) || strpbrk(t, "#\"<>")) {
            snprintf(errstr, n, "sas_token is not a URL query");
            return AW_ECONFIG;
        }
        if (!(*sas = strdup(t)))
            return AW_ENOMEM;
    }
    return AW_OK;
}

int aw_azure_headers(const char *account, const uint8_t *key, size_t keylen, const aw_fetch *r,
                     const char *url, char h[3][300]) {
    char date[64], range[64] = "", im[AW_ETAG_MAX + 4] = "";
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (r->range_len > 0)
        snprintf(range, sizeof range, "bytes=%lld-%lld", (long long)r->range_start,
                 (long long)(r->range_start + r->range_len - 1));
    if (r->if_match && *r->if_match)
        snprintf(im, sizeof im, "\"%s\"", r->if_match);
    snprintf(h[0], sizeof h[0], "x-ms-date: %s", date);
    snprintf(h[1], sizeof h[1], "x-ms-version: %s", AW_AZURE_VERSION);
    h[2][0] = '\0';
    if (!keylen)
        return AW_OK;
    const char *p = strstr(url, "://");
    p = p ? strchr(p + 3, '/') : NULL;
    size_t pl = p ? strcspn(p, "?") : 0;
    char *path = p ? strndup(p, pl) : NULL;
    if (!path)
        return p ? AW_ENOMEM : AW_EINVAL;
    aw_azure_req az = {.method = r->method ? r->method : "GET", .if_match = im[0] ? im : NULL,
                       .range = range[0] ? range : NULL, .date = date,
                       .version = AW_AZURE_VERSION, .account = account, .path = path,
                       .query = p[pl] == '?' ? p + pl + 1 : NULL};
    int rc = aw_azure_authorization(&az, key, keylen, h[2], sizeof h[2]);
    free(path);
    return rc;
}
