/*
 * S3 listing responses, parsed with libxml2 into a tree and read by element
 * name (the namespace is not checked: stores differ in whether they send
 * it). Entity expansion and network access are off, so a hostile body can
 * neither reach out nor grow; what an entry lacks is NULL, and an entry
 * whose key is not one (not UTF-8, a NUL, a bad escape) is counted and left
 * out, never guessed at.
 */
#define _GNU_SOURCE /* strptime */
#include "aw/store.h"

#include <errno.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aw/codec.h"

/* A listing response is at most a few MB (1,000 keys of 1 KiB each). */
#define LISTING_MAX_BYTES (64u << 20)

static bool is(const xmlNode *n, const char *name) {
    return n->type == XML_ELEMENT_NODE && !strcmp((const char *)n->name, name);
}

/* The text of the first child element called name, malloc'd; NULL when absent. */
static char *child_text(const xmlNode *parent, const char *name) {
    for (const xmlNode *c = parent ? parent->children : NULL; c; c = c->next)
        if (is(c, name)) {
            xmlChar *t = xmlNodeGetContent(c);
            char *s = t ? strdup((const char *)t) : strdup("");
            xmlFree(t);
            return s;
        }
    return NULL;
}

AW_PRINTF(2, 3) static void note(aw_listing_page *p, const char *fmt, ...) {
    p->refused++;
    if (p->refused > 1)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->refused_why, sizeof p->refused_why, fmt, ap);
    va_end(ap);
}

static void listed_free(aw_listed *l) {
    free(l->key);
    free(l->version_id);
    free(l->etag);
    free(l->last_modified);
}

/* "abc" -> abc; an empty ETag is none (files put behind a gateway), and so
 * is one that If-Match could not carry (a stray quote, a space). Takes etag
 * (malloc'd, or NULL); returns it cleaned, or NULL. */
static char *plain_etag(char *etag) {
    if (!etag)
        return NULL;
    size_t n = strlen(etag);
    if (n >= 2 && etag[0] == '"' && etag[n - 1] == '"') {
        memmove(etag, etag + 1, n - 2);
        etag[n - 2] = '\0';
    }
    if (aw_token_ok(etag, AW_ETAG_MAX))
        return etag;
    free(etag);
    return NULL;
}

/* The end of an entry's parse: l kept in p (keep) or freed, and the
 * entry's raw texts freed. AW_ENOMEM, else AW_OK. */
static int settle_entry(aw_listing_page *p, aw_listed *l, bool keep, char *raw, char *size) {
    int rc = keep ? aw_listing_push(p, l) : AW_OK;
    if (!keep || rc != AW_OK)
        listed_free(l);
    free(raw);
    free(size);
    return rc;
}

/* One <Contents>, <Version> or <DeleteMarker>. AW_ENOMEM only: an entry
 * that makes no sense is counted in page->refused. */
static int add_entry(aw_listing_page *p, const xmlNode *e, bool encoded, bool marker) {
    aw_listed l = {.size = -1, .delete_marker = marker};
    char *raw = child_text(e, "Key"), *size = child_text(e, "Size");
    l.version_id = child_text(e, "VersionId");
    l.etag = child_text(e, "ETag");
    l.last_modified = child_text(e, "LastModified");
    char *latest = child_text(e, "IsLatest");
    l.is_latest = latest && !strcmp(latest, "true");
    free(latest);
    if (!raw) {
        note(p, "an entry without a Key");
        goto skip;
    }
    size_t klen = strlen(raw);
    if (encoded) {
        if (aw_urldecode(raw, klen, true, &l.key, &klen) != AW_OK) {
            note(p, "key \"%.200s\" is not URL-encoded text", raw);
            goto skip;
        }
    } else {
        l.key = raw;
        raw = NULL;
    }
    if (!klen || klen > AW_KEY_MAX || !aw_utf8_valid(l.key, klen) || strlen(l.key) != klen) {
        note(p, "a key of %zu bytes that is not 1 to 1024 bytes of UTF-8", klen);
        goto skip;
    }
    if (!marker) {
        char *end = NULL;
        errno = 0;
        long long v = size ? strtoll(size, &end, 10) : -1;
        if (!size || end == size || *end || errno || v < 0 || v > AW_OBJECT_SIZE_MAX) {
            note(p, "key \"%.200s\": Size \"%.40s\" is not a byte count", l.key,
                 size ? size : "(none)");
            goto skip;
        }
        l.size = v;
    }
    if (l.version_id && (!*l.version_id || !strcmp(l.version_id, "null"))) {
        free(l.version_id);
        l.version_id = NULL;
    }
    if (l.version_id && !aw_token_ok(l.version_id, AW_VERSION_ID_MAX)) { /* as an event's */
        note(p, "key \"%.200s\": a version id that is not 1 to 1024 visible ASCII bytes",
             l.key);
        goto skip;
    }
    l.etag = plain_etag(l.etag);
    if (l.last_modified && !*l.last_modified) {
        free(l.last_modified);
        l.last_modified = NULL;
    }
    return settle_entry(p, &l, true, raw, size);
skip:
    return settle_entry(p, &l, false, raw, size);
}

int aw_listing_push(aw_listing_page *p, const aw_listed *l) {
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        aw_listed *ni = realloc(p->items, cap * sizeof *ni);
        if (!ni)
            return AW_ENOMEM;
        p->items = ni;
        p->cap = cap;
    }
    p->items[p->n++] = *l;
    return AW_OK;
}

static bool digit(char c) { return c >= '0' && c <= '9'; }

/* Orders two ISO 8601 UTC times (2026-12-07T06:52:11[.123]Z): <0, 0, >0; a
 * missing one is the oldest. */
static int cmp_lm(const char *a, const char *b) {
    if (!a || !b)
        return (a != NULL) - (b != NULL);
    int c = strncmp(a, b, 19);
    if (c || strlen(a) < 19 || strlen(b) < 19)
        return c;
    const char *fa = a[19] == '.' ? a + 20 : "", *fb = b[19] == '.' ? b + 20 : "";
    while (digit(*fa) || digit(*fb)) {
        int da = digit(*fa) ? *fa++ : '0', db = digit(*fb) ? *fb++ : '0';
        if (da != db)
            return da - db;
    }
    return 0;
}

static const aw_listing_page *sort_page; /* qsort has no user pointer in C11 */

static int cmp_by_key(const void *pa, const void *pb) {
    size_t x = *(const size_t *)pa, y = *(const size_t *)pb;
    int c = strcmp(sort_page->items[x].key, sort_page->items[y].key);
    return c ? c : (x > y) - (x < y);
}

/* A version listing grouped by key, each key newest first (see aw/s3xml.h). */
static int order_versions(aw_listing_page *p) {
    size_t n = p->n, *ix = malloc((n + 1) * sizeof *ix);
    aw_listed *out = malloc((n + 1) * sizeof *out);
    bool *placed = calloc(n + 1, 1);
    if (!ix || !out || !placed) {
        free(ix), free(out), free(placed);
        return AW_ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        ix[i] = i;
    sort_page = p;
    if (n > 1)
        qsort(ix, n, sizeof *ix, cmp_by_key);
    size_t w = 0;
    for (size_t g = 0; g < n;) {
        size_t e = g;
        while (e < n && !strcmp(p->items[ix[e]].key, p->items[ix[g]].key))
            e++;
        for (size_t i = g; i < e; i++) /* the current entry first */
            if (p->items[ix[i]].is_latest)
                out[w++] = p->items[ix[i]], placed[i] = true;
        /* then the versions as listed, each marker above the first older version */
        for (size_t v = g;;) {
            while (v < e && (placed[v] || p->items[ix[v]].delete_marker))
                v++;
            size_t m = e;
            for (size_t i = g; i < e; i++)
                if (!placed[i] && p->items[ix[i]].delete_marker &&
                    (m == e || cmp_lm(p->items[ix[i]].last_modified,
                                      p->items[ix[m]].last_modified) > 0))
                    m = i;
            if (m < e && (v == e || cmp_lm(p->items[ix[m]].last_modified,
                                           p->items[ix[v]].last_modified) > 0))
                out[w++] = p->items[ix[m]], placed[m] = true;
            else if (v < e)
                out[w++] = p->items[ix[v]], placed[v++] = true;
            else
                break;
        }
        g = e;
    }
    free(ix), free(placed);
    free(p->items);
    p->items = out;
    p->cap = n + 1;
    return AW_OK;
}

/* The first child element of parent called name, or NULL. */
static const xmlNode *child(const xmlNode *parent, const char *name) {
    for (const xmlNode *c = parent ? parent->children : NULL; c; c = c->next)
        if (is(c, name))
            return c;
    return NULL;
}

/* An HTTP date (Azure's Last-Modified) as ISO 8601, or NULL. Takes d. */
static char *iso_of_http(char *d) {
    struct tm tm = {0};
    const char *end = d ? strptime(d, "%a, %d %b %Y %H:%M:%S GMT", &tm) : NULL;
    char out[32];
    bool ok = end && !*end && strftime(out, sizeof out, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
    free(d);
    return ok ? strdup(out) : NULL;
}

/* One Azure <Blob> of List Blobs, as add_entry takes an S3 entry: its
 * Name (percent-encoded when Encoded="true"), Properties' Content-Length,
 * Etag and Last-Modified, VersionId and IsCurrentVersion. */
static int add_blob(aw_listing_page *p, const xmlNode *b) {
    aw_listed l = {.size = -1};
    const xmlNode *nm = child(b, "Name"), *props = child(b, "Properties");
    xmlChar *encoded = nm ? xmlGetProp(nm, (const xmlChar *)"Encoded") : NULL;
    bool enc = encoded && !strcmp((const char *)encoded, "true");
    xmlFree(encoded);
    char *raw = child_text(b, "Name"), *size = child_text(props, "Content-Length");
    l.version_id = child_text(b, "VersionId");
    l.etag = plain_etag(child_text(props, "Etag"));
    l.last_modified = iso_of_http(child_text(props, "Last-Modified"));
    char *cur = child_text(b, "IsCurrentVersion");
    l.is_latest = !cur || !strcmp(cur, "true");
    free(cur);
    size_t klen = raw ? strlen(raw) : 0;
    if (!raw || (enc && aw_urldecode(raw, klen, false, &l.key, &klen) != AW_OK)) {
        note(p, "a blob without a readable Name");
        goto skip;
    }
    if (!enc) {
        l.key = raw;
        raw = NULL;
    }
    char *end = NULL;
    errno = 0;
    long long v = size ? strtoll(size, &end, 10) : -1;
    if (!klen || klen > AW_KEY_MAX || !aw_utf8_valid(l.key, klen) || strlen(l.key) != klen) {
        note(p, "a blob name of %zu bytes that is not 1 to 1024 bytes of UTF-8", klen);
        goto skip;
    }
    if (!size || end == size || *end || errno || v < 0 || v > AW_OBJECT_SIZE_MAX) {
        note(p, "blob \"%.200s\": Content-Length \"%.40s\" is not a byte count", l.key,
             size ? size : "(none)");
        goto skip;
    }
    l.size = v;
    if (l.version_id && !aw_token_ok(l.version_id, AW_VERSION_ID_MAX)) {
        note(p, "blob \"%.200s\": a version id that is not visible ASCII", l.key);
        goto skip;
    }
    return settle_entry(p, &l, true, raw, size);
skip:
    return settle_entry(p, &l, false, raw, size);
}

static int add_bucket(aw_listing_page *p, const xmlNode *b) {
    char *name = child_text(b, "Name");
    if (!name || !aw_bucket_name_ok(name)) {
        note(p, "a bucket named \"%.100s\"", name ? name : "(none)");
        free(name);
        return AW_OK;
    }
    char **nb = realloc(p->buckets, (p->nbuckets + 1) * sizeof *nb);
    if (!nb) {
        free(name);
        return AW_ENOMEM;
    }
    p->buckets = nb;
    p->buckets[p->nbuckets++] = name;
    return AW_OK;
}

static xmlDoc *read_doc(const char *xml, size_t len, char *errstr, size_t errn) {
    if (len > LISTING_MAX_BYTES || len > (size_t)0x7fffffff) {
        snprintf(errstr, errn, "response of %zu bytes is larger than a listing", len);
        return NULL;
    }
    xmlDoc *d = xmlReadMemory(xml, (int)len, NULL, NULL,
                              XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!d) {
        const xmlError *e = xmlGetLastError();
        snprintf(errstr, errn, "not XML: %s", e && e->message ? e->message : "unreadable");
        if (errn && *errstr) /* libxml2's messages end in a newline */
            errstr[strcspn(errstr, "\n")] = '\0';
        return NULL;
    }
    const xmlNode *root = xmlDocGetRootElement(d);
    if (root && is(root, "Error")) {
        char *code = child_text(root, "Code"), *msg = child_text(root, "Message");
        snprintf(errstr, errn, "%s: %s", code ? code : "Error", msg ? msg : "");
        free(code);
        free(msg);
        xmlFreeDoc(d);
        return NULL;
    }
    if (!root) {
        snprintf(errstr, errn, "an XML document without an element");
        xmlFreeDoc(d);
        return NULL;
    }
    return d;
}

int aw_listing_parse(const char *xml, size_t len, aw_listing_page *p, char *errstr, size_t errn) {
    aw_listing_page_clear(p);
    xmlDoc *d = read_doc(xml, len, errstr, errn);
    if (!d)
        return AW_EPARSE;
    const xmlNode *root = xmlDocGetRootElement(d);
    bool v2 = is(root, "ListBucketResult"), versions = is(root, "ListVersionsResult");
    bool buckets = is(root, "ListAllMyBucketsResult");
    if (is(root, "EnumerationResults")) { /* Azure: List Blobs, List Containers */
        int rc = AW_OK;
        const xmlNode *blobs = child(root, "Blobs"), *conts = child(root, "Containers");
        for (const xmlNode *c = blobs ? blobs->children : NULL; c && rc == AW_OK; c = c->next)
            if (is(c, "Blob"))
                rc = add_blob(p, c);
        for (const xmlNode *c = conts ? conts->children : NULL; c && rc == AW_OK; c = c->next)
            if (is(c, "Container"))
                rc = add_bucket(p, c);
        char *next = child_text(root, "NextMarker");
        if (next && *next) {
            p->truncated = true;
            p->next_token = next;
        } else {
            free(next);
        }
        xmlFreeDoc(d);
        if (rc != AW_OK)
            aw_listing_page_clear(p);
        return rc;
    }
    if (!v2 && !versions && !buckets) {
        snprintf(errstr, errn, "<%.60s> is not a listing", (const char *)root->name);
        xmlFreeDoc(d);
        return AW_EPARSE;
    }
    char *enc = child_text(root, "EncodingType"), *trunc = child_text(root, "IsTruncated");
    bool encoded = enc && !strcmp(enc, "url");
    p->truncated = trunc && !strcmp(trunc, "true");
    free(enc);
    free(trunc);
    int rc = AW_OK;
    for (const xmlNode *c = root->children; c && rc == AW_OK; c = c->next) {
        if ((v2 && is(c, "Contents")) || (versions && is(c, "Version")))
            rc = add_entry(p, c, encoded, false);
        else if (versions && is(c, "DeleteMarker"))
            rc = add_entry(p, c, encoded, true);
        else if (buckets && is(c, "Buckets"))
            for (const xmlNode *b = c->children; b && rc == AW_OK; b = b->next)
                if (is(b, "Bucket"))
                    rc = add_bucket(p, b);
    }
    if (rc == AW_OK && versions)
        rc = order_versions(p);
    if (rc == AW_OK && p->truncated) {
        p->next_token = child_text(root, "NextContinuationToken");
        p->next_key_marker = child_text(root, "NextKeyMarker");
        p->next_version_marker = child_text(root, "NextVersionIdMarker");
        if (encoded && p->next_key_marker) {
            char *k = NULL;
            size_t kl;
            if (aw_urldecode(p->next_key_marker, strlen(p->next_key_marker), true, &k, &kl) ==
                AW_OK) {
                free(p->next_key_marker);
                p->next_key_marker = k;
            }
        }
    }
    xmlFreeDoc(d);
    if (rc != AW_OK)
        aw_listing_page_clear(p);
    return rc;
}

int aw_listing_versioning(const char *xml, size_t len, bool *versioned, char *errstr, size_t errn) {
    *versioned = false;
    xmlDoc *d = read_doc(xml, len, errstr, errn);
    if (!d)
        return AW_EPARSE;
    const xmlNode *root = xmlDocGetRootElement(d);
    if (!is(root, "VersioningConfiguration")) {
        snprintf(errstr, errn, "<%.60s> is not a versioning configuration",
                 (const char *)root->name);
        xmlFreeDoc(d);
        return AW_EPARSE;
    }
    char *st = child_text(root, "Status");
    *versioned = st && (!strcmp(st, "Enabled") || !strcmp(st, "Suspended"));
    free(st);
    xmlFreeDoc(d);
    return AW_OK;
}

void aw_listing_page_clear(aw_listing_page *p) {
    for (size_t i = 0; i < p->n; i++)
        listed_free(&p->items[i]);
    free(p->items);
    for (size_t i = 0; i < p->nbuckets; i++)
        free(p->buckets[i]);
    free(p->buckets);
    free(p->next_token);
    free(p->next_key_marker);
    free(p->next_version_marker);
    memset(p, 0, sizeof *p);
}

/* libxml2 reports some failures (an encoding a body does not keep to) on
 * stderr whatever the parse options say; they are errors of the parse,
 * which says what it found, so they are dropped rather than written past
 * the log (a JSON log would get lines that are not JSON). */
static void quiet(void *ctx, const char *msg, ...) {
    (void)ctx;
    (void)msg;
}

void aw_s3xml_init(void) {
    xmlInitParser();
    xmlSetGenericErrorFunc(NULL, quiet);      /* this thread */
    xmlThrDefSetGenericErrorFunc(NULL, quiet); /* threads started later */
}
