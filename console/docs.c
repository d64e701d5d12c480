/*
 * Each page's document: the request's parameters checked and bounded, then
 * the SQL function of migration 0017 that makes it. A parameter out of its
 * range is a 400 that says which; nothing from the request reaches SQL but
 * as a bound parameter.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aw/codec.h"
#include "aw/util.h"
#include "internal.h"

/* A whole-number parameter in [lo, hi], def when absent; false (and the
 * page's 400) when it is something else. */
static bool num_arg(const aw_request *rq, const char *name, long def, long lo, long hi,
                    char out[24], page_doc *d) {
    const char *v = aw_request_arg(rq, name);
    long x = def;
    if (v && *v && aw_parse_long(v, lo, hi, &x) != AW_OK) {
        d->status = 400;
        snprintf(d->why, sizeof d->why, "%s must be a whole number from %ld to %ld", name, lo, hi);
        return false;
    }
    snprintf(out, 24, "%ld", x);
    return true;
}

static const char *text_arg(const aw_request *rq, const char *name, const char *def) {
    const char *v = aw_request_arg(rq, name);
    return v && *v ? v : def;
}

/* A text parameter must be UTF-8 and at most max bytes. */
static bool text_ok(const char *v, const char *name, size_t max, page_doc *d) {
    size_t l = v ? strlen(v) : 0;
    if (l <= max && aw_utf8_valid(v ? v : "", l))
        return true;
    d->status = 400;
    snprintf(d->why, sizeof d->why, "%s must be UTF-8 text of at most %zu bytes", name, max);
    return false;
}

void doc_summary(console *c, const aw_request *rq, page_doc *d) {
    (void)rq;
    console_summary(c, d);
}

void doc_search(console *c, const aw_request *rq, page_doc *d) {
    const char *q = text_arg(rq, "q", ""), *bucket = text_arg(rq, "bucket", "");
    char limit[24];
    if (!text_ok(q, "q", 1024, d) || !text_ok(bucket, "bucket", 63, d) ||
        !num_arg(rq, "limit", 100, 1, 1000, limit, d))
        return;
    const char *p[3] = {q, bucket, limit};
    console_doc(c, "SELECT aw.console_search($1, NULLIF($2, ''), $3::int)", 3, p, d);
}

/* The object a request names: uri=s3://bucket/key (store= optional). */
static bool object_args(console *c, const aw_request *rq, char **bucket, char **key,
                        const char **store, page_doc *d) {
    const char *uri = text_arg(rq, "uri", "");
    *store = text_arg(rq, "store", console_cfg(c)->s3_store);
    if (!text_ok(uri, "uri", 2100, d) || !text_ok(*store, "store", 64, d))
        return false;
    if (aw_object_uri_parse(uri, bucket, key) != AW_OK) {
        d->status = 400;
        snprintf(d->why, sizeof d->why, "uri must be an object URI such as s3://bucket/key");
        return false;
    }
    return true;
}

void doc_object(console *c, const aw_request *rq, page_doc *d) {
    char *bucket = NULL, *key = NULL;
    const char *store;
    if (object_args(c, rq, &bucket, &key, &store, d)) {
        const char *p[3] = {store, bucket, key};
        console_doc(c, "SELECT aw.console_object($1, $2, $3)", 3, p, d);
    }
    free(bucket);
    free(key);
}

void doc_lineage(console *c, const aw_request *rq, page_doc *d) {
    char *bucket = NULL, *key = NULL, depth[24];
    const char *store, *dir = text_arg(rq, "dir", "up"), *as_of = text_arg(rq, "as_of", "");
    if (strcmp(dir, "up") && strcmp(dir, "down")) {
        d->status = 400;
        snprintf(d->why, sizeof d->why, "dir must be up or down");
        return;
    }
    if (num_arg(rq, "depth", 5, 1, 30, depth, d) && text_ok(as_of, "as_of", 64, d) &&
        object_args(c, rq, &bucket, &key, &store, d)) {
        const char *p[5] = {text_arg(rq, "uri", ""), depth, as_of, !strcmp(dir, "up") ? "t" : "f",
                            store};
        console_doc(c, "SELECT aw.lineage_graph($1, $2::int, NULLIF($3, '')::timestamptz,"
                       " $4::boolean, $5)", 5, p, d);
    }
    free(bucket);
    free(key);
}

void doc_alerts(console *c, const aw_request *rq, page_doc *d) {
    const char *state = text_arg(rq, "state", "open");
    char limit[24];
    if (strcmp(state, "open") && strcmp(state, "resolved") && strcmp(state, "all")) {
        d->status = 400;
        snprintf(d->why, sizeof d->why, "state must be open, resolved or all");
        return;
    }
    if (!num_arg(rq, "limit", 200, 1, 5000, limit, d))
        return;
    const char *p[2] = {state, limit};
    console_doc(c, "SELECT aw.console_alerts($1, $2::int)", 2, p, d);
}

/* An id parameter (required). */
static bool id_arg(const aw_request *rq, char out[24], page_doc *d) {
    if (!aw_request_arg(rq, "id")) {
        d->status = 400;
        snprintf(d->why, sizeof d->why, "id is required");
        return false;
    }
    return num_arg(rq, "id", 0, 1, 1L << 62, out, d);
}

void doc_alert(console *c, const aw_request *rq, page_doc *d) {
    char id[24];
    if (!id_arg(rq, id, d))
        return;
    const char *p[1] = {id};
    console_doc(c, "SELECT aw.console_alert($1::bigint)", 1, p, d);
}

void doc_retention(console *c, const aw_request *rq, page_doc *d) {
    char limit[24];
    if (!num_arg(rq, "limit", 20, 1, 500, limit, d))
        return;
    const char *p[1] = {limit};
    console_doc(c, "SELECT aw.console_retention($1::int)", 1, p, d);
}

void doc_plan(console *c, const aw_request *rq, page_doc *d) {
    char id[24], limit[24];
    if (!id_arg(rq, id, d) || !num_arg(rq, "limit", 1000, 1, 100000, limit, d))
        return;
    const char *p[2] = {id, limit};
    console_doc(c, "SELECT aw.console_plan($1::bigint, $2::int)", 2, p, d);
}

void doc_run(console *c, const aw_request *rq, page_doc *d) {
    char id[24], limit[24];
    if (!id_arg(rq, id, d) || !num_arg(rq, "limit", 1000, 1, 100000, limit, d))
        return;
    const char *p[2] = {id, limit};
    console_doc(c, "SELECT aw.console_run($1::bigint, $2::int)", 2, p, d);
}
