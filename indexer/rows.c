/*
 * COPY text and version identity; see rows.h. Everything here is a pure
 * function of an observation, so the rules that decide what is one version
 * and how outside text is escaped are unit-tested without a database.
 */
#include "rows.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aw/codec.h"

static bool digits(const char *s, int n) {
    for (int i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return false;
    return true;
}

bool rows_timestamp_ok(const char *t) {
    if (!t || strlen(t) < 19 || strlen(t) > 40 || !digits(t, 4) || t[4] != '-' ||
        !digits(t + 5, 2) || t[7] != '-' || !digits(t + 8, 2) || (t[10] != 'T' && t[10] != ' ') ||
        !digits(t + 11, 2) || t[13] != ':' || !digits(t + 14, 2) || t[16] != ':' ||
        !digits(t + 17, 2))
        return false;
    int mo = (t[5] - '0') * 10 + t[6] - '0', d = (t[8] - '0') * 10 + t[9] - '0';
    int h = (t[11] - '0') * 10 + t[12] - '0', mi = (t[14] - '0') * 10 + t[15] - '0';
    int s = (t[17] - '0') * 10 + t[18] - '0';
    int y = ((t[0] - '0') * 10 + t[1] - '0') * 100 + (t[2] - '0') * 10 + t[3] - '0';
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
        (mo == 2 && d == 29 && !leap) || h > 23 || mi > 59 || s > 60)
        return false;
    const char *p = t + 19;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p))
            return false;
        while (isdigit((unsigned char)*p))
            p++;
    }
    if (*p == 'Z')
        return p[1] == '\0';
    if (*p == '+' || *p == '-') /* PostgreSQL takes offsets up to 15:59 */
        return digits(p + 1, 2) && p[3] == ':' && digits(p + 4, 2) && p[6] == '\0' &&
               (p[1] - '0') * 10 + p[2] - '0' <= 15 && p[4] <= '5';
    return *p == '\0';
}

static const char *state_name(aw_obs_state s) {
    switch (s) {
    case AW_OBS_PRESENT: return "present";
    case AW_OBS_VANISHED: return "vanished";
    case AW_OBS_SUPERSEDED: return "superseded";
    case AW_OBS_TOMBSTONE: return "tombstone";
    }
    return "tombstone";
}

static const char *kind_name(aw_obs_kind k) {
    return k == AW_OBS_CREATED ? "created" : k == AW_OBS_DELETED ? "deleted" : "delete_marker";
}

int aw_sequencer_key(const char *seq, bool counter, char *out, size_t cap) {
    size_t l = strlen(seq), width = l > 32 ? l : 32;
    if (cap < width + 2)
        return AW_EINVAL;
    out[0] = counter ? 'c' : 'h';
    char *digits = out + 1 + (counter ? width - l : 0);
    for (size_t i = 0; i < l; i++)
        digits[i] = (seq[i] >= 'a' && seq[i] <= 'z') ? (char)(seq[i] - 32) : seq[i];
    if (counter)
        memset(out + 1, '0', width - l);
    else
        memset(out + 1 + l, '0', width - l);
    out[1 + width] = '\0';
    return AW_OK;
}


int rows_identity(const aw_observation *o, char **version_ref, char **seq_key) {
    size_t seqlen = o->sequencer ? strlen(o->sequencer) : 0;
    size_t reflen = 96 + seqlen + (o->version_id ? strlen(o->version_id) : 0) +
                    (o->etag ? strlen(o->etag) : 0) + (o->topic ? strlen(o->topic) : 0) +
                    (o->last_modified ? strlen(o->last_modified) : 0) +
                    (o->event_time ? strlen(o->event_time) : 0);
    char *sk = malloc(seqlen + 34), *ref = malloc(reflen);
    *version_ref = *seq_key = NULL;
    if (!sk || !ref) {
        free(sk);
        free(ref);
        return AW_ENOMEM;
    }
    if (!seqlen || aw_sequencer_key(o->sequencer, o->seq_counter, sk, seqlen + 34) != AW_OK) {
        free(sk);
        sk = NULL;
    }
    if (!sk && o->listed && o->order_key && *o->order_key && !(sk = strdup(o->order_key))) {
        free(ref);
        return AW_ENOMEM;
    }
    bool vid = o->version_id && *o->version_id;
    if (o->listed && o->kind == AW_OBS_DELETED)
        snprintf(ref, reflen, "r:%s:%s", o->event_time ? o->event_time : "",
                 vid ? o->version_id : "");
    else if (vid)
        snprintf(ref, reflen, "v:%s", o->version_id);
    else if (o->listed && o->etag && *o->etag) /* the same bytes written again are another version */
        snprintf(ref, reflen, "e:%s@%s", o->etag, o->last_modified ? o->last_modified : "");
    else if (o->listed)
        snprintf(ref, reflen, "l:%s:%lld", o->last_modified ? o->last_modified : "",
                 (long long)o->size);
    else if (sk)
        snprintf(ref, reflen, "s:%s", sk);
    else if (o->etag && *o->etag && o->kind == AW_OBS_CREATED)
        snprintf(ref, reflen, "e:%s", o->etag);
    else
        snprintf(ref, reflen, "k:%s/%d/%lld/%d", o->topic, (int)o->partition,
                 (long long)o->offset, (int)o->record_index);
    *version_ref = ref;
    *seq_key = sk;
    return AW_OK;
}

int rows_object(aw_copy_buf *b, const aw_observation *o) {
    char *sk, *version_ref;
    char size[24], sha[65], md5[33], part[16], off[24], ts[24], idx[16];
    if (rows_identity(o, &version_ref, &sk) != AW_OK)
        return AW_ENOMEM;
    snprintf(size, sizeof size, "%lld", (long long)o->size);
    if (o->has_sha256)
        aw_hex(o->sha256, 32, sha);
    if (o->has_md5)
        aw_hex(o->md5, 16, md5);
    snprintf(part, sizeof part, "%d", (int)o->partition);
    snprintf(off, sizeof off, "%lld", (long long)o->offset);
    snprintf(ts, sizeof ts, "%lld", (long long)o->timestamp);
    snprintf(idx, sizeof idx, "%d", (int)o->record_index);
    const char *et = rows_timestamp_ok(o->event_time) ? o->event_time : NULL;
    const char *etag = o->etag && *o->etag ? o->etag : NULL;
    int rc = AW_OK;
    rc |= aw_copy_field(b, o->store, '\t');
    rc |= aw_copy_field(b, o->bucket, '\t');
    rc |= aw_copy_field(b, o->key, '\t');
    rc |= aw_copy_field(b, version_ref, '\t');
    /* a reconcile tombstone names the version it ends in target, not as its own */
    const char *vid = o->version_id && *o->version_id ? o->version_id : o->version_seen;
    bool reconcile = o->listed && o->kind == AW_OBS_DELETED;
    rc |= aw_copy_field(b, reconcile ? NULL : vid, '\t');
    rc |= aw_copy_field(b, o->sequencer, '\t');
    rc |= aw_copy_field(b, sk, '\t');
    rc |= aw_copy_field(b, o->size >= 0 && o->state != AW_OBS_TOMBSTONE ? size : NULL, '\t');
    rc |= aw_copy_field(b, o->has_sha256 ? sha : NULL, '\t');
    rc |= aw_copy_field(b, o->has_md5 ? md5 : NULL, '\t');
    rc |= aw_copy_field(b, etag, '\t');
    rc |= aw_copy_field(b, o->content_type && *o->content_type ? o->content_type : NULL, '\t');
    rc |= aw_copy_field(b, et, '\t');
    rc |= aw_copy_field(b, state_name(o->state), '\t');
    rc |= aw_copy_field(b, kind_name(o->kind), '\t');
    rc |= aw_copy_field(b, o->event_name, '\t');
    rc |= aw_copy_field(b, o->event_source, '\t');
    rc |= aw_copy_field(b, o->listed ? NULL : o->topic, '\t');
    rc |= aw_copy_field(b, o->listed ? NULL : part, '\t');
    rc |= aw_copy_field(b, o->listed ? NULL : off, '\t');
    rc |= aw_copy_field(b, o->listed ? NULL : ts, '\t');
    rc |= aw_copy_field(b, idx, '\t');
    rc |= aw_copy_field(b, o->listed ? "listing" : "event", '\t');
    rc |= aw_copy_field(b, rows_timestamp_ok(o->last_modified) ? o->last_modified : NULL, '\t');
    rc |= aw_copy_field(b, reconcile ? "reconcile" : NULL, '\t');
    rc |= aw_copy_field(b, reconcile ? vid : NULL, '\n');
    free(sk);
    free(version_ref);
    return rc ? AW_ENOMEM : AW_OK;
}

/* A line's identity: its text up to the tab that ends its fourth field.
 * Fields are escaped, so a raw tab is always a separator and equal prefixes
 * mean equal fields. */
typedef struct {
    const char *p;
    size_t len;
} line_id;

static int line_id_cmp(const void *a, const void *b) {
    const line_id *x = a, *y = b;
    int c = memcmp(x->p, y->p, x->len < y->len ? x->len : y->len);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

bool rows_versions_unique(const aw_copy_buf *b) {
    if (!b->len)
        return true;
    size_t n = 0;
    const char *end = b->p + b->len;
    for (const char *p = b->p, *nl; p < end && (nl = memchr(p, '\n', (size_t)(end - p)));
         p = nl + 1)
        n++;
    if (n < 2)
        return true;
    line_id *ids = malloc(n * sizeof *ids);
    if (!ids)
        return false;
    size_t k = 0;
    for (const char *p = b->p; p < end && k < n; k++) {
        const char *q = p;
        for (int tabs = 0; q < end && *q != '\n' && (*q != '\t' || ++tabs < 4); q++)
            ;
        ids[k] = (line_id){p, (size_t)(q - p)};
        const char *nl = memchr(q, '\n', (size_t)(end - q));
        p = nl ? nl + 1 : end;
    }
    qsort(ids, k, sizeof *ids, line_id_cmp);
    bool unique = true;
    for (size_t i = 1; i < k && unique; i++)
        unique = line_id_cmp(&ids[i - 1], &ids[i]) != 0;
    free(ids);
    return unique;
}

int rows_sidecar(aw_copy_buf *scs, aw_copy_buf *decls, const aw_observation *o,
                 const aw_sidecar_doc *d, const char *subject, int n, size_t max_decls) {
    bool object = o->kind != AW_OBS_DOCUMENT;
    char *sk = NULL, *version_ref = NULL;
    if (object && rows_identity(o, &version_ref, &sk) != AW_OK)
        return AW_ENOMEM;
    char num[16], part[16], off[24], ts[24];
    snprintf(num, sizeof num, "%d", n);
    snprintf(part, sizeof part, "%d", (int)o->partition);
    snprintf(off, sizeof off, "%lld", (long long)o->offset);
    snprintf(ts, sizeof ts, "%lld", (long long)o->timestamp);
    const char *scope = NULL;
    if (d->kind == AW_SC_METADATA || d->kind == AW_SC_MLMODEL || d->kind == AW_SC_METRICS)
        scope = "folder";
    else if (d->kind == AW_SC_FILE_METADATA || d->kind == AW_SC_SHA256)
        scope = "file";
    const char *declared_at = object ? o->event_time : d->created_at;
    aw_copy_buf *b = scs;
    int rc = AW_OK;
    rc |= aw_copy_field(b, num, '\t');
    rc |= aw_copy_field(b, o->store, '\t'); /* a document: the store that read it */
    rc |= aw_copy_field(b, object ? o->bucket : NULL, '\t');
    rc |= aw_copy_field(b, object ? o->key : NULL, '\t');
    rc |= aw_copy_field(b, version_ref, '\t');
    rc |= aw_copy_field(b, object ? NULL : o->topic, '\t');
    rc |= aw_copy_field(b, object ? NULL : part, '\t');
    rc |= aw_copy_field(b, object ? NULL : off, '\t');
    rc |= aw_copy_field(b, object ? NULL : ts, '\t');
    rc |= aw_copy_field(b, aw_sidecar_kind_name(d->kind), '\t');
    rc |= aw_copy_field(b, object ? scope : NULL, '\t');
    rc |= aw_copy_field(b, object ? subject : NULL, '\t');
    rc |= aw_copy_field(b, d->json, '\t');
    rc |= aw_copy_field(b, d->error[0] ? d->error : NULL, '\t');
    rc |= aw_copy_field(b, d->sha256[0] ? d->sha256 : NULL, '\t');
    rc |= aw_copy_field(b, rows_timestamp_ok(declared_at) ? declared_at : NULL, '\t');
    rc |= aw_copy_field(b, rows_timestamp_ok(d->created_at) ? d->created_at : NULL, '\t');
    rc |= aw_copy_field(b, d->artifact_type, '\t');
    rc |= aw_copy_field(b, d->name, '\t');
    rc |= aw_copy_field(b, d->version, '\t');
    rc |= aw_copy_field(b, d->code_commit, '\t');
    rc |= aw_copy_field(b, d->run_id, '\t');
    rc |= aw_copy_field(b, d->job, '\t');
    rc |= aw_copy_field(b, d->event_type, '\n');
    free(sk);
    free(version_ref);
    for (size_t i = 0; i < d->nparents && i < max_decls && !rc; i++) {
        const aw_lineage_parent *p = &d->parents[i];
        char ord[24];
        snprintf(ord, sizeof ord, "%zu", i);
        b = decls;
        rc |= aw_copy_field(b, num, '\t');
        rc |= aw_copy_field(b, ord, '\t');
        rc |= aw_copy_field(b, p->kind, '\t');
        rc |= aw_copy_field(b, p->child_bucket, '\t');
        rc |= aw_copy_field(b, p->child_key, '\t');
        rc |= aw_copy_field(b, p->uri, '\t');
        rc |= aw_copy_field(b, p->bucket, '\t');
        rc |= aw_copy_field(b, p->key, '\t');
        rc |= aw_copy_field(b, p->sha256[0] ? p->sha256 : NULL, '\n');
    }
    return rc ? AW_ENOMEM : AW_OK;
}

