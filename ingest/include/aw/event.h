/*
 * Bucket notification decoding: one Kafka message in, zero or more object
 * events out. Every shape the stores send is normalised to aw_event: AWS S3
 * event records 2.x, the EventBridge form, MinIO and versitygw, Ceph RGW, the
 * GCS object resource and Azure Event Grid BlobCreated/BlobDeleted. The
 * decoder never fetches or writes anything; it is a pure function of the
 * payload, which is what makes it fixture-testable.
 */
#ifndef AW_EVENT_H
#define AW_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aw/err.h"

typedef enum aw_event_kind {
    AW_EV_CREATED = 1,      /* ObjectCreated:*, Object Created, BlobCreated */
    AW_EV_DELETED,          /* permanent delete, lifecycle expiration */
    AW_EV_DELETE_MARKER,    /* versioned bucket: a delete marker was created */
} aw_event_kind;

/* In the order of the words of event.key_encoding: auto, url, raw. */
typedef enum aw_key_encoding {
    AW_KEYS_AUTO = 0, /* per source: form-decode, except stores known to send raw keys */
    AW_KEYS_URL,      /* always form-decode ('+' is space, %XX) */
    AW_KEYS_RAW,      /* keys are taken as sent */
} aw_key_encoding;

/* How the sequencers of a store order the events of one key. */
typedef enum aw_seq_order {
    AW_SEQ_HEX = 0,   /* AWS: hex strings compared from the left (shorter right-padded) */
    AW_SEQ_COUNTER,   /* a counter (versitygw: hex without leading zeros), by value */
} aw_seq_order;

typedef struct aw_event {
    aw_event_kind kind;
    aw_seq_order seq_order;
    const char *source;     /* static: "aws:s3", "minio:s3", "ceph:s3", "versitygw",
                               "eventbridge", "gcs", "azure" */
    char *event_name;       /* as sent, "s3:" prefix removed */
    char *bucket;
    char *key;              /* decoded; may contain any byte but NUL */
    size_t key_len;
    int64_t size;           /* -1 when the event does not say */
    char *etag;             /* quotes removed; NULL when absent */
    char *version_id;       /* NULL when absent or "null" */
    char *sequencer;        /* NULL when absent */
    char *content_type;     /* NULL when absent */
    char *event_time;       /* ISO 8601 text as sent; NULL when absent */
    bool repaired;          /* bucket or key read from the bucket ARN, the record's own
                               fields naming another request's (versitygw 1.8) */
} aw_event;

typedef struct aw_events {
    aw_event *v;
    size_t n;
} aw_events;

/*
 * Decodes one notification payload. On AW_OK, out holds n >= 1 events that
 * the caller releases with aw_events_clear. AW_ESKIP: a valid message that
 * carries no object event (s3:TestEvent, ObjectTagging, ...). AW_EPARSE:
 * not JSON or a required field is missing/wrong (reason in errstr).
 * AW_EUNSUPPORTED: a recognised shape in a version we do not read (e.g.
 * eventVersion 3.x), or a shape we do not know.
 */
int aw_event_decode(const char *payload, size_t len, aw_key_encoding enc, aw_events *out,
                    char *errstr, size_t errstr_size) AW_WUR;

void aw_events_clear(aw_events *evs);

#endif
