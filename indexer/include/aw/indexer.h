/*
 * The indexer: the one door through which ingest (and backfill) hand what
 * they saw to PostgreSQL. A batch of observations becomes one transaction of
 * set-based, idempotent upserts, so a batch replayed after a crash changes
 * nothing. The indexer is the only writer of the lineage graph: it decides
 * which objects are sidecars, asks for their first bytes, and reads them
 * inside its write.
 */
#ifndef AW_INDEXER_H
#define AW_INDEXER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aw/config.h"
#include "aw/err.h"
#include "aw/pg.h"

typedef enum aw_obs_kind {
    AW_OBS_CREATED = 1,
    AW_OBS_DELETED,
    AW_OBS_DELETE_MARKER,
    AW_OBS_DOCUMENT,         /* an OpenLineage RunEvent from Kafka, not an object:
                                only the body and the Kafka coordinates are set */
} aw_obs_kind;

/* What became of the bytes of a created version when ingest tried to read them. */
typedef enum aw_obs_state {
    AW_OBS_PRESENT = 1, /* fetched and hashed */
    AW_OBS_VANISHED,    /* 404: deleted before it could be fetched */
    AW_OBS_SUPERSEDED,  /* 412: overwritten before it could be fetched */
    AW_OBS_TOMBSTONE,   /* a delete or delete-marker event; nothing fetched */
} aw_obs_state;

/* One object event and its outcome. Strings are borrowed for the call. */
typedef struct aw_observation {
    const char *store, *bucket, *key;
    const char *version_id, *sequencer, *etag, *content_type, *event_time;
    const char *version_seen; /* the version id the store reported when the bytes
                                 were read, for an event that named none (it is
                                 recorded, but the identity stays the sequencer) */
    const char *event_name, *event_source;
    bool seq_counter;        /* the sequencer is a counter (compared by value), not
                                an AWS hex string (compared from the left) */
    aw_obs_kind kind;
    aw_obs_state state;
    int64_t size;            /* measured bytes, else the event's size, else -1 */
    bool has_sha256, has_md5;
    uint8_t sha256[32], md5[16];
    /* A listing's observation (backfill) instead of an event's: no Kafka
     * coordinates. A created version without a version id is then named by
     * its ETag, or by Last-Modified and size when the store sends no ETag,
     * and merged with a version an event indexed when the ETag (else the
     * SHA-256) matches. A deleted one (state AW_OBS_TOMBSTONE) is a reconcile
     * tombstone: it marks the key's live versions deleted, or only the one
     * whose version id is in version_id. */
    bool listed;
    const char *last_modified; /* ISO 8601 as listed, or NULL */
    const char *order_key;   /* a versioned listing's order: the sequencer key (as
                                aw.object_versions.seq_key holds them) a version new
                                to the index sorts by among its key's versions */
    const char *topic;       /* Kafka coordinates: the observation's identity */
    int32_t partition;
    int64_t offset;
    int64_t timestamp;       /* the record's timestamp in ms, -1 if none */
    int32_t record_index;
    /* The first bytes of the object when aw_indexer_keep_bytes asked for
     * them (has_body; body_cut when the object was longer than that), or the
     * message of an AW_OBS_DOCUMENT. Borrowed for the call. */
    bool has_body, body_cut;
    const char *body;
    size_t body_len;
    /* A file store's root directory holding the object (its bucket), or
     * NULL: a sidecar there may name files in it by local path. */
    const char *root_path;
} aw_observation;

typedef struct aw_indexer aw_indexer;

/*
 * Takes the database and the sidecar settings from cfg (copied). Connects
 * lazily: creating the indexer never fails for an unreachable database; the
 * first write does. AW_ECONFIG with the reason in errstr for a bad sidecar
 * pattern; AW_ENOMEM.
 */
int aw_indexer_new(const aw_config *cfg, aw_indexer **out, char *errstr,
                   size_t errstr_size) AW_WUR;

/* NULL is ignored. */
void aw_indexer_destroy(aw_indexer *ix);

/*
 * How many leading bytes of the object at key the indexer wants to read:
 * 0 for an ordinary object, the sidecar size limit for a sidecar (a longer
 * one is handed over cut, with body_cut set). Reads only settings fixed at
 * creation, so any thread may ask while another writes.
 */
size_t aw_indexer_keep_bytes(const aw_indexer *ix, const char *key);

/*
 * Writes obs[0..n) in one transaction: object versions, observations and
 * checks, then the sidecars among them (read here: documents, runs, code
 * commits, lineage declarations), then re-resolves the lineage the batch's
 * keys touch (aw.lineage_refresh). AW_OK: all of it is durable.
 * AW_EUNAVAILABLE: the database could not be reached or went away; nothing
 * was written, try again later (the connection is re-established then).
 * AW_EPG: the server rejected this data; nothing was written, and the
 * caller should write the observations one by one to find the culprit.
 */
int aw_indexer_write(aw_indexer *ix, const aw_observation *obs, size_t n, char *errstr,
                     size_t errstr_size) AW_WUR;

/*
 * Connects, creates the batch tables and runs every statement of an event
 * batch once on them while they are empty, then rolls back: the server loads
 * the catalog entries, compiles the lineage functions and plans the
 * statements now, so the first batch written later does not wait for that.
 * Nothing is written. Returns like aw_indexer_write; on failure the next
 * write connects again.
 */
int aw_indexer_prepare(aw_indexer *ix, char *errstr, size_t errstr_size) AW_WUR;

/*
 * Records on pg (the caller's connection and transaction) that the versions
 * whose ids ids_json lists (a JSON array of numbers) are gone now:
 * deleted_here, by the caller's own request (a retention DELETE the store
 * answered with 2xx: deleted_by 'retention'); else found gone with nobody
 * having recorded deleting them ('reconcile', e.g. a 404 before a DELETE).
 * Versions already deleted keep their first deletion. AW_EPG or
 * AW_EUNAVAILABLE with the server's words.
 */
int aw_indexer_record_deletions(aw_pg *pg, const char *ids_json, bool deleted_here,
                                char *errstr, size_t errstr_size) AW_WUR;

/*
 * Records on pg the place in their key's order that a versioned listing
 * gave versions indexed without one: json is an array of {key, version_id,
 * seq_key}, seq_key a key as aw.object_versions.seq_key holds them. A
 * version that has one keeps it. AW_EPG or AW_EUNAVAILABLE.
 */
int aw_indexer_record_order(aw_pg *pg, const char *store, const char *bucket,
                            const char *json, char *errstr, size_t errstr_size) AW_WUR;

#endif
