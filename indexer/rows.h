/*
 * COPY text for the indexer's batch tables, and the identity of a version.
 * Private to indexer/: indexer.c streams what these functions build, and
 * tests/unit/test_rows.c checks the escaping and the identity rules.
 */
#ifndef AW_ROWS_H
#define AW_ROWS_H

#include <stdbool.h>
#include <stddef.h>

#include "aw/copy.h"
#include "aw/err.h"
#include "aw/indexer.h"
#include "sidecar.h"

/*
 * Normalises a sequencer so that plain string comparison orders the events
 * of one key. AWS sequencers are hex strings compared from the left: they
 * are upper-cased and right-padded with '0' to 32 characters. A store that
 * sends a counter (versitygw: hex without leading zeros) has it left-padded
 * instead, so 9 < A < 10. AW_EINVAL when out is too small (it needs
 * strlen(seq) + 34 bytes at most).
 */
int aw_sequencer_key(const char *seq, bool counter, char *out, size_t cap) AW_WUR;

/*
 * The version's identity within its key (version_ref) and its normalised
 * sequencer (seq_key, NULL without one), both malloc'd and never truncated:
 * the store's version id ("v:"), else the sequencer ("s:"), else for a
 * created object its ETag ("e:"), else the Kafka record ("k:"). A listing's
 * observation without a version id: its ETag ("e:"), else Last-Modified and
 * size ("l:"); a reconcile tombstone: "r:" with its time and the version it
 * ends. AW_ENOMEM.
 */
int rows_identity(const aw_observation *o, char **version_ref, char **seq_key) AW_WUR;

/* True for the ISO 8601 date-times stores send, which PostgreSQL reads as
 * timestamptz; anything else would fail a whole COPY and is stored as NULL. */
bool rows_timestamp_ok(const char *t);

/* One aw_batch line for an object observation. */
int rows_object(aw_copy_buf *b, const aw_observation *o) AW_WUR;

/*
 * True when no two lines of b (aw_batch COPY text from rows_object) name the
 * same version, that is share their first four fields (store, bucket, key,
 * version_ref); the batch's versions can then be written row by row instead
 * of merged. False as well when the check cannot be made (out of memory).
 */
bool rows_versions_unique(const aw_copy_buf *b);

/*
 * One aw_sc line for a sidecar (or a document) read from o, numbered n, and
 * one aw_decl line per lineage declaration in it, at most max_decls. subject
 * is what the sidecar describes (a folder, a file key, NULL for OpenLineage).
 */
int rows_sidecar(aw_copy_buf *scs, aw_copy_buf *decls, const aw_observation *o,
                 const aw_sidecar_doc *d, const char *subject, int n,
                 size_t max_decls) AW_WUR;

#endif
