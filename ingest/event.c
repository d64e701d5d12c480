/*
 * Notification decoders. Each store's shape gets one small function that
 * pulls the same handful of fields; the shared parts (key decoding, event
 * kinds, sizes) are done once. Unknown fields are ignored on purpose: stores
 * add fields between versions and that must never stop ingestion.
 */
#include "aw/event.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aw/codec.h"
#include "aw/json.h"

#define ERR(...) (snprintf(errstr, errn, __VA_ARGS__), AW_EPARSE)


static void event_free(aw_event *e) {
    free(e->event_name);
    free(e->bucket);
    free(e->key);
    free(e->etag);
    free(e->version_id);
    free(e->sequencer);
    free(e->content_type);
    free(e->event_time);
}

void aw_events_clear(aw_events *evs) {
    if (!evs)
        return;
    for (size_t i = 0; i < evs->n; i++)
        event_free(&evs->v[i]);
    free(evs->v);
    evs->v = NULL;
    evs->n = 0;
}

/* strdup of an optional string; *ok is cleared on allocation failure. */
static char *dup_opt(const char *s, bool *ok) {
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *ok = false;
    return d;
}

static char *dup_etag(const char *s, bool *ok) {
    if (!s || !*s)
        return NULL;
    size_t l = strlen(s);
    if (l >= 2 && s[0] == '"' && s[l - 1] == '"') {
        s++;
        l -= 2;
    }
    char *d = strndup(s, l);
    if (!d)
        *ok = false;
    return d;
}

/* A form encoder never leaves these bytes as they are, so a key holding one
 * was sent raw whatever the store claims. */
static bool looks_raw(const char *k) {
    for (const unsigned char *p = (const unsigned char *)k; *p; p++)
        if (*p <= ' ' || *p >= 0x80 || *p == '"' || *p == '#' || *p == '?')
            return true;
    return false;
}

static int decode_key(const char *raw, bool form_default, aw_key_encoding enc,
                      aw_event *e, char *errstr, size_t errn) {
    bool decode = enc == AW_KEYS_URL || (enc == AW_KEYS_AUTO && form_default && !looks_raw(raw));
    if (!decode) {
        e->key = strdup(raw);
        if (!e->key)
            return AW_ENOMEM;
        e->key_len = strlen(raw);
        return AW_OK;
    }
    int rc = aw_urldecode(raw, strlen(raw), true, &e->key, &e->key_len);
    if (rc == AW_EPARSE)
        return ERR("object key \"%.200s\" has a malformed %%-escape", raw);
    if (rc == AW_OK && !aw_utf8_valid(e->key, e->key_len)) {
        free(e->key);
        e->key = NULL;
        return ERR("object key \"%.200s\" does not decode to UTF-8", raw);
    }
    return rc;
}

/* Maps an S3 event name (without "s3:") to a kind; 0 for names that do not
 * change an object's bytes (tagging, ACL, restore, replication...). */
static aw_event_kind s3_kind(const char *name) {
    if (!strncmp(name, "ObjectCreated:", 14))
        return AW_EV_CREATED;
    if (!strcmp(name, "ObjectRemoved:DeleteMarkerCreated") ||
        !strcmp(name, "LifecycleExpiration:DeleteMarkerCreated"))
        return AW_EV_DELETE_MARKER;
    if (!strncmp(name, "ObjectRemoved:", 14) || !strncmp(name, "LifecycleExpiration:", 20))
        return AW_EV_DELETED;
    return 0;
}

static int push(aw_events *out, const aw_event *e) {
    aw_event *nv = realloc(out->v, (out->n + 1) * sizeof *nv);
    if (!nv)
        return AW_ENOMEM;
    out->v = nv;
    nv[out->n++] = *e;
    return AW_OK;
}

/* Field limits beside the identity's (aw/codec.h): generous bounds that keep
 * every value below what a PostgreSQL index row can hold. */
#define SEQUENCER_MAX 256
#define NAME_MAX_ 128
#define TYPE_MAX 256
#define TIME_MAX 64

/*
 * Checks every field of e where it enters: what reaches a URL, a request
 * header, a log line or a PostgreSQL column. AW_EINVALID with the field and
 * an escaped excerpt of its value; fields that are only descriptive
 * (Content-Type, event time) are dropped instead when they are not text.
 */
static int validate(aw_event *e, char *errstr, size_t errn) {
    char x[96];
#define EXCERPT(s) (aw_escape_text((s), strlen(s), x, sizeof x), x)
    if (!aw_bucket_name_ok(e->bucket)) {
        snprintf(errstr, errn, "bucket name \"%s\" is not a valid bucket name",
                 EXCERPT(e->bucket));
        return AW_EINVALID;
    }
    if (e->key_len > AW_KEY_MAX || !aw_utf8_valid(e->key, e->key_len)) {
        snprintf(errstr, errn, "object key \"%s\" is %s", EXCERPT(e->key),
                 e->key_len > AW_KEY_MAX ? "longer than 1024 bytes" : "not UTF-8");
        return AW_EINVALID;
    }
    if (e->etag && !aw_token_ok(e->etag, AW_ETAG_MAX)) {
        snprintf(errstr, errn, "ETag \"%s\" has bytes that cannot go in a request header",
                 EXCERPT(e->etag));
        return AW_EINVALID;
    }
    if (e->version_id && !aw_token_ok(e->version_id, AW_VERSION_ID_MAX)) {
        snprintf(errstr, errn, "version id \"%s\" is not a visible ASCII string of at most "
                 "%d bytes", EXCERPT(e->version_id), AW_VERSION_ID_MAX);
        return AW_EINVALID;
    }
    if (e->sequencer && !aw_token_ok(e->sequencer, SEQUENCER_MAX)) {
        snprintf(errstr, errn, "sequencer \"%s\" is not a visible ASCII string of at most "
                 "%d bytes", EXCERPT(e->sequencer), SEQUENCER_MAX);
        return AW_EINVALID;
    }
    if (e->event_name && !aw_printable_ok(e->event_name, NAME_MAX_)) {
        snprintf(errstr, errn, "event name \"%s\" is not printable ASCII of at most %d bytes",
                 EXCERPT(e->event_name), NAME_MAX_);
        return AW_EINVALID;
    }
#undef EXCERPT
    if (e->content_type && !aw_printable_ok(e->content_type, TYPE_MAX)) {
        free(e->content_type);
        e->content_type = NULL;
    }
    if (e->event_time && !aw_printable_ok(e->event_time, TIME_MAX)) {
        free(e->event_time);
        e->event_time = NULL;
    }
    return AW_OK;
}

/* Validates e and appends it to out; frees it when a copy failed (ok
 * false), it is not valid, or out cannot grow. */
static int keep(aw_events *out, aw_event *e, bool ok, char *errstr, size_t errn) {
    if (!ok) {
        event_free(e);
        return AW_ENOMEM;
    }
    int rc = validate(e, errstr, errn);
    if (rc == AW_OK)
        rc = push(out, e);
    if (rc != AW_OK)
        event_free(e);
    return rc;
}

/* AWS S3 records, MinIO, versitygw and Ceph RGW all use Records[]. */
/* Which store sent record r (eventSource src), and how its key is encoded
 * (*form). versitygw labels itself aws:s3 but sends keys unencoded. It also
 * builds s3.bucket.name and s3.object.key from the request's buffer and
 * sends the record after the request has ended (v1.8.0), so under parallel
 * requests either may name another request's bucket or key. Its bucket ARN
 * "arn:aws:s3:::/<bucket>[/<key>]" is a copy made while the request ran:
 * bucket and key are taken from it (*arn_bucket, malloc'd). (A DeleteObjects
 * record's ARN names only the bucket; its key comes from the request body and
 * stays right.) AW_ENOMEM, else AW_OK. */
static int record_source(json_t *r, const char *src, aw_event *e, bool *form,
                         const char **bucket, const char **key, char **arn_bucket) {
    const char *arn = aw_json_str(r, "s3.bucket.arn");
    const char *ab = arn && !strncmp(arn, "arn:aws:s3:::/", 14) ? arn + 14 : NULL;
    const char *cfgid = aw_json_str(r, "s3.configurationId");
    if (src && !strcmp(src, "minio:s3")) {
        e->source = "minio:s3";
    } else if (src && !strcmp(src, "ceph:s3")) {
        e->source = "ceph:s3";
    } else if (ab || (cfgid && !strcmp(cfgid, "webhook-global"))) {
        e->source = "versitygw";
        e->seq_order = AW_SEQ_COUNTER;
        *form = false;
        size_t bl = ab ? strcspn(ab, "/") : 0;
        if (bl) {
            if (!(*arn_bucket = strndup(ab, bl)))
                return AW_ENOMEM;
            e->repaired = strcmp(*arn_bucket, *bucket) != 0;
            *bucket = *arn_bucket;
            if (ab[bl] == '/' && ab[bl + 1]) {
                e->repaired |= strcmp(ab + bl + 1, *key) != 0;
                *key = ab + bl + 1;
            }
        }
    } else {
        e->source = "aws:s3";
    }
    return AW_OK;
}

static int decode_records(json_t *records, aw_key_encoding enc, aw_events *out,
                          char *errstr, size_t errn) {
    size_t i;
    json_t *r;
    json_array_foreach(records, i, r) {
        if (!json_is_object(r))
            return ERR("Records[%zu] is not an object", i);
        const char *ver = aw_json_str(r, "eventVersion");
        if (!ver)
            return ERR("Records[%zu].eventVersion missing", i);
        if (strncmp(ver, "2.", 2) && strcmp(ver, "2")) {
            snprintf(errstr, errn, "Records[%zu].eventVersion \"%.20s\": only 2.x is read", i, ver);
            return AW_EUNSUPPORTED;
        }
        const char *src = aw_json_str(r, "eventSource");
        const char *name = aw_json_str(r, "eventName");
        if (!name)
            return ERR("Records[%zu].eventName missing", i);
        if (!strncmp(name, "s3:", 3))
            name += 3;
        aw_event_kind kind = s3_kind(name);
        if (!kind)
            continue;
        const char *bucket = aw_json_str(r, "s3.bucket.name");
        const char *key = aw_json_str(r, "s3.object.key");
        if (!bucket || !*bucket)
            return ERR("Records[%zu].s3.bucket.name missing", i);
        if (!key || !*key)
            return ERR("Records[%zu].s3.object.key missing", i);

        aw_event e = {0};
        e.kind = kind;
        bool form = true;
        char *arn_bucket = NULL;
        if (record_source(r, src, &e, &form, &bucket, &key, &arn_bucket) != AW_OK)
            return AW_ENOMEM;

        int rc = decode_key(key, form, enc, &e, errstr, errn);
        if (rc != AW_OK) {
            free(arn_bucket);
            return rc;
        }
        int64_t size = -1;
        rc = aw_json_size(aw_json_path(r, "s3.object.size"), &size);
        if (rc == AW_EPARSE) {
            free(e.key);
            free(arn_bucket);
            return ERR("Records[%zu].s3.object.size is not a byte count (0 to 2^53)", i);
        }
        e.size = rc == AW_OK ? size : -1;
        bool ok = true;
        const char *vid = aw_json_str(r, "s3.object.versionId");
        if (vid && (!*vid || !strcmp(vid, "null")))
            vid = NULL;
        e.event_name = dup_opt(name, &ok);
        e.bucket = arn_bucket ? arn_bucket : dup_opt(bucket, &ok);
        e.etag = dup_etag(aw_json_str(r, "s3.object.eTag"), &ok);
        e.version_id = dup_opt(vid, &ok);
        e.sequencer = dup_opt(aw_json_str(r, "s3.object.sequencer"), &ok);
        e.content_type = dup_opt(aw_json_str(r, "s3.object.contentType"), &ok);
        e.event_time = dup_opt(aw_json_str(r, "eventTime"), &ok);
        if ((rc = keep(out, &e, ok, errstr, errn)) != AW_OK)
            return rc;
    }
    return AW_OK;
}

static int decode_eventbridge(json_t *root, aw_key_encoding enc, aw_events *out,
                              char *errstr, size_t errn) {
    const char *dt = aw_json_str(root, "detail-type");
    aw_event e = {0};
    if (!strcmp(dt, "Object Created"))
        e.kind = AW_EV_CREATED;
    else if (!strcmp(dt, "Object Deleted")) {
        const char *del = aw_json_str(root, "detail.deletion-type");
        e.kind = del && !strcmp(del, "Delete Marker Created") ? AW_EV_DELETE_MARKER
                                                               : AW_EV_DELETED;
    } else
        return AW_ESKIP;
    const char *bucket = aw_json_str(root, "detail.bucket.name");
    const char *key = aw_json_str(root, "detail.object.key");
    if (!bucket || !*bucket)
        return ERR("detail.bucket.name missing");
    if (!key || !*key)
        return ERR("detail.object.key missing");
    e.source = "eventbridge";
    int rc = decode_key(key, true, enc, &e, errstr, errn);
    if (rc != AW_OK)
        return rc;
    int64_t size = -1;
    rc = aw_json_size(aw_json_path(root, "detail.object.size"), &size);
    if (rc == AW_EPARSE) {
        free(e.key);
        return ERR("detail.object.size is not a byte count (0 to 2^53)");
    }
    e.size = rc == AW_OK ? size : -1;
    bool ok = true;
    const char *reason = aw_json_str(root, "detail.reason");
    char name[96];
    snprintf(name, sizeof name, "%s%s%s", dt, reason ? ":" : "", reason ? reason : "");
    e.event_name = dup_opt(name, &ok);
    e.bucket = dup_opt(bucket, &ok);
    e.etag = dup_etag(aw_json_str(root, "detail.object.etag"), &ok);
    e.version_id = dup_opt(aw_json_str(root, "detail.object.version-id"), &ok);
    e.sequencer = dup_opt(aw_json_str(root, "detail.object.sequencer"), &ok);
    e.event_time = dup_opt(aw_json_str(root, "time"), &ok);
    return keep(out, &e, ok, errstr, errn);
}

/* The GCS object resource, as a Pub/Sub bridge forwards it. The generation
 * is the version; names are plain UTF-8 in JSON, never escaped. */
static int decode_gcs(json_t *root, aw_events *out, char *errstr, size_t errn) {
    const char *bucket = aw_json_str(root, "bucket");
    const char *name = aw_json_str(root, "name");
    if (!bucket || !*bucket || !name || !*name)
        return ERR("GCS object resource without bucket or name");
    aw_event e = {0};
    e.source = "gcs";
    e.kind = aw_json_path(root, "timeDeleted") ? AW_EV_DELETED : AW_EV_CREATED;
    int64_t size = -1;
    int rc = aw_json_size(json_object_get(root, "size"), &size);
    if (rc == AW_EPARSE)
        return ERR("GCS size is not a byte count (0 to 2^53)");
    e.size = rc == AW_OK ? size : -1;
    bool ok = true;
    e.key = dup_opt(name, &ok);
    e.key_len = strlen(name);
    e.event_name = dup_opt(e.kind == AW_EV_CREATED ? "OBJECT_FINALIZE" : "OBJECT_DELETE", &ok);
    e.bucket = dup_opt(bucket, &ok);
    e.etag = dup_etag(aw_json_str(root, "etag"), &ok);
    const char *gen = aw_json_str(root, "generation");
    e.version_id = dup_opt(gen, &ok);
    e.sequencer = dup_opt(gen, &ok);
    e.content_type = dup_opt(aw_json_str(root, "contentType"), &ok);
    const char *t = aw_json_str(root, "updated");
    e.event_time = dup_opt(t ? t : aw_json_str(root, "timeCreated"), &ok);
    return keep(out, &e, ok, errstr, errn);
}

/* Where the container begins in an Azure blob URL's path: after the host
 * for an account's own host name (acct.blob.core.windows.net, a private
 * endpoint's acct.privatelink.blob...), after the first segment when the
 * account is in the path (an emulator: http://127.0.0.1:10000/acct/c/b). */
static const char *azure_path(const char *url) {
    const char *host = strstr(url, "://");
    const char *p = host ? strchr(host + 3, '/') : NULL;
    if (!p)
        return NULL;
    size_t hl = (size_t)(p - host - 3);
    char h[256];
    if (hl >= sizeof h)
        return NULL;
    memcpy(h, host + 3, hl);
    h[hl] = '\0';
    if (strstr(h, ".blob."))
        return p;
    return strchr(p + 1, '/'); /* the account's segment, then the container */
}

/* One Azure Event Grid event; data.url is https://acct.host/container/blob
 * with the blob name percent-encoded as in any URL path. */
static int decode_azure_one(json_t *ev, aw_events *out, char *errstr, size_t errn) {
    const char *type = aw_json_str(ev, "eventType");
    aw_event e = {0};
    if (type && !strcmp(type, "Microsoft.Storage.BlobCreated"))
        e.kind = AW_EV_CREATED;
    else if (type && !strcmp(type, "Microsoft.Storage.BlobDeleted"))
        e.kind = AW_EV_DELETED;
    else
        return AW_ESKIP;
    const char *url = aw_json_str(ev, "data.url");
    if (!url)
        return ERR("Azure event without data.url");
    const char *p = azure_path(url);
    const char *slash = p ? strchr(p + 1, '/') : NULL;
    if (!p || !slash || slash == p + 1 || !slash[1])
        return ERR("Azure data.url \"%.200s\" is not https://account/container/blob", url);
    e.source = "azure";
    bool ok = true;
    e.bucket = strndup(p + 1, (size_t)(slash - p - 1));
    if (!e.bucket)
        return AW_ENOMEM;
    int rc = aw_urldecode(slash + 1, strlen(slash + 1), false, &e.key, &e.key_len);
    if (rc != AW_OK) {
        free(e.bucket);
        return rc == AW_EPARSE ? ERR("Azure blob name has a malformed %%-escape") : rc;
    }
    if (!aw_utf8_valid(e.key, e.key_len)) {
        event_free(&e);
        return ERR("Azure blob name does not decode to UTF-8");
    }
    int64_t size = -1;
    rc = aw_json_size(aw_json_path(ev, "data.contentLength"), &size);
    if (rc == AW_EPARSE) {
        event_free(&e);
        return ERR("Azure data.contentLength is not a byte count (0 to 2^53)");
    }
    e.size = rc == AW_OK ? size : -1;
    const char *api = aw_json_str(ev, "data.api");
    e.event_name = dup_opt(api ? api : type, &ok);
    e.etag = dup_etag(aw_json_str(ev, "data.eTag"), &ok);
    e.sequencer = dup_opt(aw_json_str(ev, "data.sequencer"), &ok);
    e.content_type = dup_opt(aw_json_str(ev, "data.contentType"), &ok);
    e.event_time = dup_opt(aw_json_str(ev, "eventTime"), &ok);
    return keep(out, &e, ok, errstr, errn);
}

static int decode_root(json_t *root, aw_key_encoding enc, aw_events *out, char *errstr,
                       size_t errn) {
    if (json_is_array(root)) { /* Event Grid delivers arrays */
        size_t i;
        json_t *ev;
        json_array_foreach(root, i, ev) {
            if (!json_is_object(ev) || !aw_json_str(ev, "eventType"))
                return ERR("array element %zu is not an Event Grid event", i);
            int rc = decode_azure_one(ev, out, errstr, errn);
            if (rc != AW_OK && rc != AW_ESKIP)
                return rc;
        }
        return AW_OK;
    }
    if (!json_is_object(root))
        return ERR("payload is JSON but not an object or array");

    json_t *records = json_object_get(root, "Records");
    const char *ev = aw_json_str(root, "Event");
    if ((ev && !strcmp(ev, "s3:TestEvent")) || (!records && ev && strstr(ev, "TestEvent")))
        return AW_ESKIP;
    if (records) {
        if (!json_is_array(records))
            return ERR("Records is not an array");
        return decode_records(records, enc, out, errstr, errn);
    }
    if (aw_json_str(root, "detail-type") && aw_json_path(root, "detail"))
        return decode_eventbridge(root, enc, out, errstr, errn);
    const char *kind = aw_json_str(root, "kind");
    if ((kind && !strcmp(kind, "storage#object")) ||
        (aw_json_str(root, "bucket") && aw_json_str(root, "name") &&
         aw_json_path(root, "generation")))
        return decode_gcs(root, out, errstr, errn);
    if (aw_json_str(root, "eventType") && aw_json_path(root, "data"))
        return decode_azure_one(root, out, errstr, errn);
    snprintf(errstr, errn, "unknown event shape (no Records, detail-type, GCS or "
                           "Event Grid fields)");
    return AW_EUNSUPPORTED;
}

int aw_event_decode(const char *payload, size_t len, aw_key_encoding enc, aw_events *out,
                    char *errstr, size_t errn) {
    out->v = NULL;
    out->n = 0;
    if (!payload || !len)
        return ERR("empty message");
    json_error_t jerr;
    json_t *root = json_loadb(payload, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return ERR("invalid JSON at line %d column %d: %s", jerr.line, jerr.column, jerr.text);
    int rc = decode_root(root, enc, out, errstr, errn);
    json_decref(root);
    if (rc != AW_OK) {
        aw_events_clear(out);
        return rc;
    }
    return out->n ? AW_OK : AW_ESKIP;
}
