/*
 * Plans: made by the planner in one snapshot, checked against the safety
 * cap per bucket, printed as a table, JSON or CSV, and saved when asked (an
 * apply always saves first, so what was deleted can be traced to the plan
 * that said so). A saved plan reads back into the same arrays.
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aw/codec.h"
#include "aw/copy.h"
#include "aw/config.h"
#include "aw/log.h"
#include "internal.h"

#define S(x) ((x) ? (x) : "")

/* ---- arena */

struct arena_chunk {
    struct arena_chunk *next;
    size_t used, cap;
    char data[];
};

void *arena_alloc(arena *a, size_t n) {
    n = (n + 7) & ~(size_t)7;
    struct arena_chunk *c = a->head;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > (1u << 20) ? n : 1u << 20;
        c = malloc(sizeof *c + cap);
        if (!c)
            return NULL;
        c->next = a->head;
        c->used = 0;
        c->cap = cap;
        a->head = c;
    }
    void *p = c->data + c->used;
    c->used += n;
    return p;
}

char *arena_strdup(arena *a, const char *s) {
    size_t l = strlen(s) + 1;
    char *d = arena_alloc(a, l);
    return d ? memcpy(d, s, l) : NULL;
}

char *arena_printf(arena *a, const char *fmt, ...) {
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int l = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *d = l >= 0 ? arena_alloc(a, (size_t)l + 1) : NULL;
    if (d)
        vsnprintf(d, (size_t)l + 1, fmt, ap2);
    va_end(ap2);
    return d;
}

void arena_free(arena *a) {
    for (struct arena_chunk *c = a->head, *n; c; c = n) {
        n = c->next;
        free(c);
    }
    a->head = NULL;
}

void plan_free(plan *p) {
    free(p->rows);
    free(p->totals);
    free(p->buckets);
    arena_free(&p->mem);
    aw_pg_result_free(p->res);
    memset(p, 0, sizeof *p);
}

/* ---- totals and the safety cap */

static int cmp_total(const void *pa, const void *pb) {
    const plan_row *a = *(const plan_row *const *)pa, *b = *(const plan_row *const *)pb;
    int c = strcmp(a->bucket, b->bucket);
    if (!c)
        c = strcmp(S(a->rule), S(b->rule));
    return c ? c : strcmp(a->action, b->action);
}

static int cmp_bucket(const void *a, const void *b) {
    return strcmp(((const plan_bucket *)a)->bucket, ((const plan_bucket *)b)->bucket);
}

/* Totals per bucket, rule and action; what each bucket loses, and by
 * which rules; whether a bucket goes over the cap. */
static int plan_finish(plan *p) {
    const plan_row **o = malloc((p->nrows + 1) * sizeof *o);
    p->totals = calloc(p->nrows + 1, sizeof *p->totals);
    if (!o || !p->totals) {
        free(o);
        return AW_ENOMEM;
    }
    for (size_t i = 0; i < p->nrows; i++)
        o[i] = &p->rows[i];
    psort(o, p->nrows, sizeof *o, cmp_total);
    p->ntotals = 0;
    for (size_t i = 0; i < p->nrows; i++) {
        plan_total *t = p->ntotals ? &p->totals[p->ntotals - 1] : NULL;
        if (!t || cmp_total(&o[i], &o[i - 1])) {
            t = &p->totals[p->ntotals++];
            t->bucket = o[i]->bucket;
            t->rule = S(o[i]->rule);
            t->action = o[i]->action;
        }
        t->objects++;
        t->bytes += o[i]->size > 0 ? o[i]->size : 0;
    }
    free(o);
    for (size_t i = 0; i < p->ntotals; i++) {
        const plan_total *t = &p->totals[i];
        if (!strcmp(t->action, "protect"))
            continue;
        plan_bucket key = {.bucket = t->bucket};
        plan_bucket *b = bsearch(&key, p->buckets, p->nbuckets, sizeof *p->buckets, cmp_bucket);
        if (!b)
            continue;
        b->planned_objects += t->objects;
        b->planned_bytes += t->bytes;
        /* totals are ordered by rule within a bucket: each rule once */
        if (i && !strcmp(p->totals[i - 1].bucket, t->bucket) &&
            !strcmp(p->totals[i - 1].rule, t->rule) && b->rules)
            continue;
        b->rules = b->rules ? arena_printf(&p->mem, "%s, %s", b->rules, t->rule)
                            : arena_strdup(&p->mem, t->rule);
        if (!b->rules)
            return AW_ENOMEM;
    }
    p->refused[0] = '\0';
    for (size_t i = 0; i < p->nbuckets; i++) {
        const plan_bucket *b = &p->buckets[i];
        if (b->planned_objects <= 0)
            continue;
        double live = (double)b->live_objects, del = (double)b->planned_objects;
        double live_b = (double)b->live_bytes, del_b = (double)b->planned_bytes;
        double fo = live > 0 ? del / live : 1, fb = live_b > 0 ? del_b / live_b : 0;
        if (fo <= p->max_delete_fraction && fb <= p->max_delete_fraction)
            continue;
        size_t l = strlen(p->refused);
        snprintf(p->refused + l, sizeof p->refused - l,
                 "%sbucket %s: %.0f of %.0f objects (%.1f%%) and %.0f of %.0f bytes (%.1f%%) "
                 "planned for deletion by %s, above max_delete_fraction %.2f",
                 l ? "; " : "", b->bucket, del, live, 100 * fo, del_b, live_b, 100 * fb,
                 S(b->rules), p->max_delete_fraction);
    }
    return AW_OK;
}

/* ---- saving */

static char *buckets_json(const plan *p) {
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < p->nbuckets; i++) {
        const plan_bucket *b = &p->buckets[i];
        if (json_array_append_new(arr, json_pack("{s:s, s:I, s:I, s:I, s:I, s:s?}", "bucket",
                                                 b->bucket, "live_objects",
                                                 (json_int_t)b->live_objects, "live_bytes",
                                                 (json_int_t)b->live_bytes, "planned_objects",
                                                 (json_int_t)b->planned_objects, "planned_bytes",
                                                 (json_int_t)b->planned_bytes, "rules",
                                                 b->rules)) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    json_t *doc = arr ? json_pack("{s:f, s:o}", "max_delete_fraction", p->max_delete_fraction,
                                  "buckets", arr)
                      : NULL;
    char *s = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    return s;
}

/* Records the plan: its head, then its actions by COPY. */
static int plan_save(aw_pg *pg, const aw_rules *rs, plan *p, char *errstr, size_t n) {
    char *rules = aw_rules_json(rs), *totals = buckets_json(p);
    int rc = rules && totals ? AW_OK : AW_ENOMEM;
    aw_pg_result *res = NULL;
    const char *params[5] = {rs->sha256, rs->path, rules, totals, p->generated_at};
    if (rc == AW_OK)
        rc = aw_pg_query(pg, "INSERT INTO aw.retention_plans (rules_sha256, rules_path, rules, "
                             "totals, generated_at) VALUES ($1, $2, $3::jsonb, $4::jsonb, "
                             "$5::timestamptz) RETURNING id", 5, params, &res, errstr, n);
    free(rules);
    free(totals);
    long id = 0;
    if (rc == AW_OK && aw_parse_long(S(aw_pg_result_get(res, 0, 0)), 1, INT64_MAX, &id) != AW_OK)
        rc = AW_EPG;
    aw_pg_result_free(res);
    if (rc == AW_OK)
        rc = aw_pg_copy_begin(pg, "COPY aw.retention_plan_actions (plan_id, ordinal, action, "
                                  "rule, reason, object_version_id, store, bucket, key, "
                                  "version_id, size, age_s, sha256, etag, wave, was_current, "
                                  "last_modified) FROM STDIN",
                              errstr, n);
    if (rc != AW_OK)
        return rc;
    aw_copy_buf b = {0};
    for (size_t i = 0; rc == AW_OK && i < p->nrows; i++) {
        const plan_row *r = &p->rows[i];
        if ((rc = aw_copy_int(&b, id, '\t')) || (rc = aw_copy_int(&b, (long long)i + 1, '\t')) ||
            (rc = aw_copy_field(&b, r->action, '\t')) || (rc = aw_copy_field(&b, r->rule, '\t')) ||
            (rc = aw_copy_field(&b, r->reason, '\t')) || (rc = aw_copy_int(&b, r->ovid, '\t')) ||
            (rc = aw_copy_field(&b, r->store, '\t')) || (rc = aw_copy_field(&b, r->bucket, '\t')) ||
            (rc = aw_copy_field(&b, r->key, '\t')) ||
            (rc = aw_copy_field(&b, r->version_id, '\t')))
            break;
        rc = r->size >= 0 ? aw_copy_int(&b, r->size, '\t') : aw_copy_field(&b, NULL, '\t');
        if (rc || (rc = aw_copy_int(&b, r->age_s, '\t')) ||
            (rc = aw_copy_field(&b, r->sha256, '\t')) || (rc = aw_copy_field(&b, r->etag, '\t')) ||
            (rc = aw_copy_int(&b, r->wave, '\t')) ||
            (rc = aw_copy_field(&b, r->was_current ? "t" : "f", '\t')) ||
            (rc = aw_copy_field(&b, r->last_modified, '\n')))
            break;
        if (b.len > (1u << 20)) {
            rc = aw_pg_copy_put(pg, b.p, b.len, errstr, n);
            b.len = 0;
        }
    }
    if (rc == AW_OK && b.len)
        rc = aw_pg_copy_put(pg, b.p, b.len, errstr, n);
    int end = aw_pg_copy_end(pg, rc == AW_OK ? NULL : "plan not saved", errstr, n);
    aw_copy_buf_free(&b);
    if (rc == AW_OK && end == AW_OK)
        p->id = id;
    return rc == AW_OK ? end : rc;
}

int plan_make(aw_pg *pg, const aw_rules *rs, bool save, plan *p, char *errstr, size_t n) {
    memset(p, 0, sizeof *p);
    p->max_delete_fraction = rs->max_delete_fraction;
    snprintf(p->rules_sha256, sizeof p->rules_sha256, "%s", rs->sha256);
    /* one snapshot: the versions, their folders and their lineage agree */
    int rc = aw_pg_exec_script(pg, "BEGIN ISOLATION LEVEL REPEATABLE READ", errstr, n);
    if (rc == AW_OK)
        rc = planner_run(pg, rs, p, errstr, n);
    if (rc == AW_OK && (rc = plan_finish(p)) == AW_ENOMEM)
        snprintf(errstr, n, "out of memory");
    if (rc == AW_OK && save)
        rc = plan_save(pg, rs, p, errstr, n);
    if (rc == AW_OK)
        rc = aw_pg_exec_script(pg, "COMMIT", errstr, n);
    else
        aw_pg_rollback(pg, rc);
    if (rc != AW_OK)
        plan_free(p);
    return rc;
}

static int64_t num(const char *s) { return s ? strtoll(s, NULL, 10) : -1; }

int plan_load(aw_pg *pg, int64_t id, plan *p, char *errstr, size_t n) {
    memset(p, 0, sizeof *p);
    char ids[24];
    snprintf(ids, sizeof ids, "%lld", (long long)id);
    const char *params[1] = {ids};
    aw_pg_result *head = NULL, *bk = NULL;
    int rc = aw_pg_query(pg, "SELECT (totals->>'max_delete_fraction')::float8, to_char("
                             "generated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
                             " rules_sha256 FROM aw.retention_plans WHERE id = $1::bigint",
                         1, params, &head, errstr, n);
    if (rc != AW_OK)
        return rc;
    if (aw_pg_result_rows(head) != 1) {
        aw_pg_result_free(head);
        snprintf(errstr, n, "no saved plan %lld", (long long)id);
        return AW_ENOTFOUND;
    }
    p->id = id;
    p->max_delete_fraction = strtod(S(aw_pg_result_get(head, 0, 0)), NULL);
    snprintf(p->generated_at, sizeof p->generated_at, "%s", S(aw_pg_result_get(head, 0, 1)));
    snprintf(p->rules_sha256, sizeof p->rules_sha256, "%s", S(aw_pg_result_get(head, 0, 2)));
    aw_pg_result_free(head);
    rc = aw_pg_query(pg, "SELECT action, rule, reason, object_version_id, store, bucket, key, "
                         "version_id, size, age_s, sha256, etag, wave, was_current, "
                         "to_char(last_modified AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
                         "FROM aw.retention_plan_actions "
                         "WHERE plan_id = $1::bigint ORDER BY ordinal", 1, params, &p->res,
                     errstr, n);
    if (rc == AW_OK)
        rc = aw_pg_query(pg, "SELECT b.bucket, b.live_objects, b.live_bytes FROM "
                             "aw.retention_plans p, jsonb_to_recordset(p.totals->'buckets') AS "
                             "b(bucket text, live_objects bigint, live_bytes bigint) WHERE p.id ="
                             " $1::bigint ORDER BY 1", 1, params, &bk, errstr, n);
    size_t nr = rc == AW_OK ? (size_t)aw_pg_result_rows(p->res) : 0;
    size_t nb = rc == AW_OK ? (size_t)aw_pg_result_rows(bk) : 0;
    if (rc == AW_OK && (!(p->rows = calloc(nr + 1, sizeof *p->rows)) ||
                        !(p->buckets = calloc(nb + 1, sizeof *p->buckets))))
        rc = AW_ENOMEM;
    for (size_t i = 0; rc == AW_OK && i < nr; i++) {
        const aw_pg_result *r = p->res;
        int k = (int)i;
        p->rows[i] = (plan_row){
            .action = S(aw_pg_result_get(r, k, 0)), .rule = aw_pg_result_get(r, k, 1),
            .reason = aw_pg_result_get(r, k, 2), .ovid = num(aw_pg_result_get(r, k, 3)),
            .store = S(aw_pg_result_get(r, k, 4)), .bucket = S(aw_pg_result_get(r, k, 5)),
            .key = S(aw_pg_result_get(r, k, 6)), .version_id = aw_pg_result_get(r, k, 7),
            .size = num(aw_pg_result_get(r, k, 8)), .age_s = num(aw_pg_result_get(r, k, 9)),
            .sha256 = aw_pg_result_get(r, k, 10), .etag = aw_pg_result_get(r, k, 11),
            .wave = (int32_t)num(aw_pg_result_get(r, k, 12)),
            .was_current = !strcmp(S(aw_pg_result_get(r, k, 13)), "t"),
            .last_modified = aw_pg_result_get(r, k, 14)};
    }
    p->nrows = nr;
    for (size_t i = 0; rc == AW_OK && i < nb; i++) {
        if (!(p->buckets[i].bucket = arena_strdup(&p->mem, S(aw_pg_result_get(bk, (int)i, 0)))))
            rc = AW_ENOMEM;
        p->buckets[i].live_objects = num(aw_pg_result_get(bk, (int)i, 1));
        p->buckets[i].live_bytes = num(aw_pg_result_get(bk, (int)i, 2));
    }
    p->nbuckets = nb;
    aw_pg_result_free(bk);
    psort(p->buckets, p->nbuckets, sizeof *p->buckets, cmp_bucket);
    if (rc == AW_OK)
        rc = plan_finish(p);
    if (rc != AW_OK) {
        if (rc == AW_ENOMEM)
            snprintf(errstr, n, "out of memory reading plan %lld", (long long)id);
        plan_free(p);
    }
    return rc;
}

static void human_age(int64_t s, char out[24]) {
    if (s >= 86400)
        snprintf(out, 24, "%lldd", (long long)(s / 86400));
    else if (s >= 3600)
        snprintf(out, 24, "%lldh", (long long)(s / 3600));
    else if (s >= 60)
        snprintf(out, 24, "%lldm", (long long)(s / 60));
    else
        snprintf(out, 24, "%llds", (long long)(s > 0 ? s : 0));
}

/* An URI cut to width from the left: the end of a key says the most. */
static const char *uri_cell(const char *uri, char *buf, size_t width) {
    size_t l = strlen(uri);
    if (l <= width)
        return aw_text_cell(uri, buf, width);
    char tail[400];
    snprintf(tail, sizeof tail, "...%s", uri + l - (width - 3));
    return aw_text_cell(tail, buf, width);
}

static void print_table(FILE *out, const plan *p) {
    int w = 20; /* the URI column: as wide as the longest, up to 100 */
    for (size_t i = 0; i < p->nrows; i++) {
        size_t l = strlen(p->rows[i].bucket) + strlen(p->rows[i].key) + 6;
        w = l > (size_t)w ? (l > 100 ? 100 : (int)l) : w;
    }
    fprintf(out, "%-13s  %-18s  %-*s  %-20s  %12s  %5s  %s\n", "ACTION", "RULE", w, "URI",
            "VERSION", "SIZE", "AGE", "REASON");
    for (size_t i = 0; i < p->nrows; i++) {
        const plan_row *r = &p->rows[i];
        char uri[2200], u[400], v[24], rl[20], reason[400], age[24], size[24] = "-";
        snprintf(uri, sizeof uri, "s3://%s/%s", r->bucket, r->key);
        human_age(r->age_s, age);
        if (r->size >= 0)
            snprintf(size, sizeof size, "%lld", (long long)r->size);
        fprintf(out, "%-13s  %-18s  %-*s  %-20s  %12s  %5s  %s\n", r->action,
                aw_text_cell(r->rule, rl, 18), w, uri_cell(uri, u, (size_t)w),
                r->version_id ? aw_text_cell(r->version_id, v, 20) : "-", size, age,
                aw_text_cell(r->reason, reason, 300));
    }
    fprintf(out, "\n%-30s  %-18s  %-13s  %10s  %14s\n", "BUCKET", "RULE", "ACTION", "OBJECTS",
            "BYTES");
    for (size_t i = 0; i < p->ntotals; i++) {
        const plan_total *t = &p->totals[i];
        char b[64], r[20];
        fprintf(out, "%-30s  %-18s  %-13s  %10lld  %14lld\n", aw_text_cell(t->bucket, b, 30),
                aw_text_cell(t->rule, r, 18), t->action, (long long)t->objects, (long long)t->bytes);
    }
    if (!p->ntotals)
        fprintf(out, "(nothing to delete)\n");
    if (p->id)
        fprintf(out, "\nplan %lld saved\n", (long long)p->id);
    if (p->refused[0])
        fprintf(out, "\nover the safety cap: %s\n", p->refused);
}

/* One CSV field (RFC 4180 quoting). */
static void csv(FILE *out, const char *s, char sep) {
    s = S(s);
    if (strpbrk(s, ",\"\r\n")) {
        fputc('"', out);
        for (; *s; s++) {
            if (*s == '"')
                fputc('"', out);
            fputc(*s, out);
        }
        fputc('"', out);
    } else {
        fputs(s, out);
    }
    fputc(sep, out);
}

static void print_csv(FILE *out, const plan *p) {
    fputs("action,rule,reason,uri,store,bucket,key,version_id,size,age_s,sha256\n", out);
    for (size_t i = 0; i < p->nrows; i++) {
        const plan_row *r = &p->rows[i];
        char uri[2200], size[24] = "", age[24];
        snprintf(uri, sizeof uri, "s3://%s/%s", r->bucket, r->key);
        if (r->size >= 0)
            snprintf(size, sizeof size, "%lld", (long long)r->size);
        snprintf(age, sizeof age, "%lld", (long long)r->age_s);
        csv(out, r->action, ',');
        csv(out, r->rule, ',');
        csv(out, r->reason, ',');
        csv(out, uri, ',');
        csv(out, r->store, ',');
        csv(out, r->bucket, ',');
        csv(out, r->key, ',');
        csv(out, r->version_id, ',');
        csv(out, size, ',');
        csv(out, age, ',');
        csv(out, r->sha256, '\n');
    }
}

/* A JSON value on its own, as the document's parts are written one by one
 * (a plan of a million actions is never one tree in memory). */
static void put_json(FILE *out, json_t *v, size_t flags) {
    if (v)
        json_dumpf(v, out, flags | JSON_ENCODE_ANY);
    else
        fputs("null", out);
    json_decref(v);
}

static void print_json(FILE *out, const plan *p) {
    fputs("{\n  \"plan_id\": ", out);
    put_json(out, p->id ? json_integer(p->id) : json_null(), 0);
    fputs(",\n  \"generated_at\": ", out);
    put_json(out, json_string(p->generated_at), 0);
    fputs(",\n  \"actions\": [", out);
    for (size_t i = 0; i < p->nrows; i++) {
        const plan_row *r = &p->rows[i];
        char uri[2200];
        snprintf(uri, sizeof uri, "s3://%s/%s", r->bucket, r->key);
        fputs(i ? ",\n    " : "\n    ", out);
        put_json(out, json_pack("{s:s, s:s?, s:s?, s:s, s:s, s:s, s:s, s:s?, s:o, s:I, s:s?}",
                                "action", r->action, "rule", r->rule, "reason", r->reason, "uri",
                                uri, "store", r->store, "bucket", r->bucket, "key", r->key,
                                "version_id", r->version_id, "size",
                                r->size >= 0 ? json_integer(r->size) : json_null(), "age_s",
                                (json_int_t)r->age_s, "sha256", r->sha256),
                 JSON_COMPACT | JSON_PRESERVE_ORDER);
    }
    fputs(p->nrows ? "\n  ],\n  \"totals\": [" : "],\n  \"totals\": [", out);
    for (size_t i = 0; i < p->ntotals; i++) {
        const plan_total *t = &p->totals[i];
        fputs(i ? ",\n    " : "\n    ", out);
        put_json(out, json_pack("{s:s, s:s, s:s, s:I, s:I}", "bucket", t->bucket, "rule", t->rule,
                                "action", t->action, "objects", (json_int_t)t->objects, "bytes",
                                (json_int_t)t->bytes),
                 JSON_COMPACT | JSON_PRESERVE_ORDER);
    }
    fputs(p->ntotals ? "\n  ],\n  \"refused\": " : "],\n  \"refused\": ", out);
    put_json(out, p->refused[0] ? json_string(p->refused) : json_null(), 0);
    fputs("\n}\n", out);
}

void plan_print(FILE *out, const plan *p, aw_format format) {
    if (format == AW_FMT_JSON)
        print_json(out, p);
    else if (format == AW_FMT_CSV)
        print_csv(out, p);
    else
        print_table(out, p);
}
