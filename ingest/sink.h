/*
 * Where the body of a GET goes, in ingest and in backfill alike: into the
 * SHA-256 (and MD5) as it streams, and, when the indexer asked for them (a
 * sidecar), its first `keep` bytes into memory. Private to ingest/.
 */
#ifndef AW_INGEST_SINK_H
#define AW_INGEST_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aw/hash.h"
#include "aw/http.h"

typedef struct body_sink {
    aw_hash *hash;
    int64_t bytes;          /* received in the current attempt */
    aw_membuf kept;         /* the leading bytes; kept.max: how many are wanted (0: none) */
    bool cut;               /* the object was longer than kept.max */
} body_sink;

/* aw_fetch's on_start and on_body, with a body_sink as ud: a retry starts
 * the hash and the kept bytes over. */
int sink_start(void *sink);
int sink_body(void *sink, const void *data, size_t len);

#endif
