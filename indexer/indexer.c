/*
 * Batch writes into aw.object_versions, aw.observations and aw.checks. The
 * batch is streamed into a temporary table with COPY and merged by a few
 * set-based statements, so the cost per object is a line of COPY text, not
 * a round trip. Identity rules live here: a version is named by the store's
 * version id, else the normalised sequencer, else the ETag, else the Kafka
 * record that announced it.
 */
#include "aw/indexer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aw/log.h"
#include "aw/pg.h"
#include "aw/util.h"
#include "rows.h"
#include "sidecar.h"

struct aw_indexer {
    char *conninfo;
    aw_pg *pg;
    bool temp_ready;
    aw_sidecar_rules *rules; /* which keys are sidecars; fixed at creation */
    size_t sc_max;           /* sidecar.max_bytes */
    aw_copy_buf rows;  /* aw_batch: one line per object observation */
    aw_copy_buf scs;   /* aw_sc: one line per sidecar or document */
    aw_copy_buf decls; /* aw_decl: one line per lineage declaration */
    size_t batch_decls; /* declarations in the batch being written */
    size_t batch_mlmodels; /* MLmodel files in it: `mlflow sync` is told (NOTIFY aw_mlflow) */
};

/* The most lineage declarations one transaction writes, whatever its
 * sidecars declare (each sidecar keeps at most AW_SIDECAR_MAX_DECLS). */
#define AW_BATCH_MAX_DECLS 100000

/* How much sidecar COPY text is held before it is streamed to the server. */
#define SIDECAR_FLUSH (8u << 20)

static const char *const create_temp_sql =
    "CREATE TEMP TABLE IF NOT EXISTS aw_batch ("
    " store text, bucket text, key text, version_ref text, version_id text,"
    " sequencer text, seq_key text, size bigint, sha256 text, md5 text, etag text,"
    " content_type text, event_time timestamptz, state text, kind text, event_name text,"
    " event_source text, kafka_topic text, kafka_partition int, kafka_offset bigint,"
    " kafka_timestamp bigint, record_index int, source text, last_modified timestamptz,"
    " reason text, target_version text) ON COMMIT DELETE ROWS;"
    "CREATE TEMP TABLE IF NOT EXISTS aw_sc ("
    " n int, store text, bucket text, key text, version_ref text, kafka_topic text,"
    " kafka_partition int, kafka_offset bigint, kafka_timestamp bigint, kind text,"
    " scope text, subject text, doc text, parse_error text, declared_sha256 text,"
    " declared_at timestamptz, created_at timestamptz, artifact_type text, name text,"
    " version text, code_commit text, run_key text, job text, event_type text)"
    " ON COMMIT DELETE ROWS;"
    "CREATE TEMP TABLE IF NOT EXISTS aw_decl ("
    " n int, ordinal int, kind text, child_bucket text, child_key text, parent_uri text,"
    " parent_bucket text, parent_key text, declared_sha256 text) ON COMMIT DELETE ROWS";

/* A version's rows in the batch are merged into one: its best state wins
 * (aw.state_rank: present, superseded, vanished, tombstone). No aggregate is ordered, so
 * the planner may group the batch by hashing instead of sorting it. */
#define MERGED_VERSIONS_SQL                                                    \
    " SELECT store, bucket, key, version_ref, max(version_id), max(sequencer), max(seq_key)," \
    "  max(size), decode(max(sha256), 'hex'), decode(max(md5), 'hex'), max(etag)," \
    "  max(content_type), min(event_time),"                                    \
    "  aw.state_of_rank(min(aw.state_rank(state)))," \
    "  bool_or(state = 'tombstone'), max(event_time) FILTER (WHERE state = 'tombstone')," \
    "  max(last_modified), max(reason),"                                       \
    "  CASE WHEN bool_or(state = 'tombstone') THEN CASE WHEN bool_or(reason = 'reconcile')" \
    "   THEN 'reconcile' ELSE 'event' END END"                                 \
    " FROM aw_batch GROUP BY store, bucket, key, version_ref"

/* The same when no version has two rows in the batch (the usual case, and
 * checked before): each row is its version's merge, without the cost of
 * grouping (a fifth of the statement's). */
#define SINGLE_VERSIONS_SQL                                                    \
    " SELECT store, bucket, key, version_ref, version_id, sequencer, seq_key, size," \
    "  decode(sha256, 'hex'), decode(md5, 'hex'), etag, content_type, event_time, state," \
    "  state = 'tombstone', CASE WHEN state = 'tombstone' THEN event_time END,"  \
    "  last_modified, reason, CASE WHEN state = 'tombstone' THEN CASE WHEN reason = 'reconcile'" \
    "   THEN 'reconcile' ELSE 'event' END END FROM aw_batch"

#define UPSERT_VERSIONS_SQL(rows)                                              \
    "INSERT INTO aw.object_versions AS v (store, bucket, key, version_ref, version_id," \
    "  sequencer, seq_key, size, sha256, md5, etag, content_type, event_time, state," \
    "  deleted, deleted_at, last_modified, reason, deleted_by)" rows           \
    " ON CONFLICT (store, bucket, key, version_ref) DO UPDATE SET"             \
    "  version_id = COALESCE(v.version_id, excluded.version_id),"              \
    "  sequencer = COALESCE(v.sequencer, excluded.sequencer),"                 \
    "  seq_key = COALESCE(v.seq_key, excluded.seq_key),"                       \
    "  size = COALESCE(excluded.size, v.size),"                                \
    "  sha256 = COALESCE(v.sha256, excluded.sha256),"                          \
    "  md5 = COALESCE(excluded.md5, v.md5),"                                   \
    "  etag = COALESCE(v.etag, excluded.etag),"                                \
    "  content_type = COALESCE(excluded.content_type, v.content_type),"        \
    "  event_time = LEAST(v.event_time, excluded.event_time),"                 \
    "  state = aw.state_merge(v.state, excluded.state),"                     \
    "  deleted = v.deleted OR excluded.deleted,"                               \
    "  deleted_by = CASE WHEN v.deleted_by = 'reconcile' AND excluded.deleted_by = 'event'" \
    "   THEN 'event' WHEN v.deleted THEN v.deleted_by ELSE excluded.deleted_by END," \
    "  deleted_at = COALESCE(v.deleted_at, excluded.deleted_at),"              \
    "  last_modified = COALESCE(excluded.last_modified, v.last_modified),"     \
    "  reason = COALESCE(v.reason, excluded.reason),"                          \
    "  indexed_at = now()"                                                     \
    " WHERE (v.size, v.sha256, v.md5, v.state, v.deleted, v.content_type, v.deleted_by)" \
    "  IS DISTINCT FROM"                                                       \
    "  (COALESCE(excluded.size, v.size), COALESCE(v.sha256, excluded.sha256)," \
    "   COALESCE(excluded.md5, v.md5),"                                        \
    "   aw.state_merge(v.state, excluded.state),"                            \
    "   v.deleted OR excluded.deleted, COALESCE(excluded.content_type, v.content_type),"  \
    "   CASE WHEN v.deleted_by = 'reconcile' AND excluded.deleted_by = 'event' THEN 'event'" \
    "    WHEN v.deleted THEN v.deleted_by ELSE excluded.deleted_by END)"

/* The version is looked up with a scalar subquery on the unique key: one
 * index probe per row whatever the planner's statistics say (the batch
 * table has none), so the cost does not grow with aw.object_versions. */
#define VERSION_ID_OF_B                                                        \
    "(SELECT v.id FROM aw.object_versions v WHERE v.store = b.store AND"       \
    " v.bucket = b.bucket AND v.key = b.key AND v.version_ref = b.version_ref)"

/* The versions and their observations in one statement: a version the
 * upsert inserted or changed comes back from it with its id; only one it
 * left alone (a replay) is looked up again. */
#define WRITE_VERSIONS_SQL(rows)                                               \
    "WITH up AS (" UPSERT_VERSIONS_SQL(rows)                                   \
    " RETURNING v.id, v.store, v.bucket, v.key, v.version_ref)"                \
    " INSERT INTO aw.observations (object_version_id, kind, event_name, event_source," \
    "  sequencer, event_time, kafka_topic, kafka_partition, kafka_offset, kafka_timestamp," \
    "  record_index, source)"                                                  \
    " SELECT COALESCE(u.id, " VERSION_ID_OF_B "), b.kind, b.event_name, b.event_source," \
    "  b.sequencer, b.event_time, b.kafka_topic, b.kafka_partition, b.kafka_offset," \
    "  COALESCE(b.kafka_timestamp, -1), b.record_index, b.source"              \
    " FROM aw_batch b LEFT JOIN up u ON u.store = b.store AND u.bucket = b.bucket AND" \
    "  u.key = b.key AND u.version_ref = b.version_ref"                        \
    " ON CONFLICT (kafka_topic, kafka_partition, kafka_offset, kafka_timestamp, record_index)" \
    " DO NOTHING"

static const char *const write_versions_sql = WRITE_VERSIONS_SQL(MERGED_VERSIONS_SQL);
static const char *const write_single_versions_sql = WRITE_VERSIONS_SQL(SINGLE_VERSIONS_SQL);

/* Listings and events meet here. Every write holds one advisory lock, shared
 * by event batches and exclusive for a listing's, so a listing and an event
 * that saw the same bytes never both find the index without them. */
#define LOCK_SQL(mode) "SELECT pg_advisory_xact_lock" mode "(" AW_LOCK_INDEX ")"

#define SAME_BYTES_AS_B                                                        \
    "((b.etag IS NOT NULL AND v.etag = b.etag) OR"                             \
    " ((b.etag IS NULL OR v.etag IS NULL) AND v.sha256 = decode(b.sha256, 'hex')))"

/* A listed object of an unversioned bucket that the index holds already as
 * the key's current version (an event, or an earlier listing, saw these
 * bytes) is that version: its rows and its sidecar's take that version's
 * name. The same bytes in an older version (the key went A, B, then A
 * again) or in a deleted one are a new version. */
static const char *const adopt_listed_sql =
    "WITH a AS (SELECT b.store, b.bucket, b.key, b.version_ref AS old_ref,"
    "  (SELECT CASE WHEN v.version_id IS NULL AND v.state = 'present' AND NOT v.deleted AND "
    SAME_BYTES_AS_B " THEN v.version_ref END FROM aw.object_versions v"
    "   WHERE v.store = b.store AND v.bucket = b.bucket AND v.key = b.key"
    "   ORDER BY aw.version_order(v) DESC LIMIT 1) AS new_ref"
    "  FROM aw_batch b WHERE b.source = 'listing' AND b.kind = 'created' AND"
    "  b.version_id IS NULL AND b.sha256 IS NOT NULL),"
    " s AS (UPDATE aw_sc x SET version_ref = a.new_ref FROM a WHERE a.new_ref <> a.old_ref"
    "  AND x.store = a.store AND x.bucket = a.bucket AND x.key = a.key AND"
    "  x.version_ref = a.old_ref)"
    " UPDATE aw_batch b SET version_ref = a.new_ref FROM a WHERE a.new_ref <> a.old_ref"
    "  AND b.store = a.store AND b.bucket = a.bucket AND b.key = a.key AND"
    "  b.version_ref = a.old_ref";

/* A version first seen by a listing sorts after every version of its key
 * indexed so far, and before any later write's sequencer. */
static const char *const order_listed_sql =
    "UPDATE aw_batch b SET seq_key = (SELECT max(v.seq_key) FROM aw.object_versions v"
    "  WHERE v.store = b.store AND v.bucket = b.bucket AND v.key = b.key AND"
    "  v.version_id IS NULL) || '~'"
    " WHERE b.source = 'listing' AND b.version_id IS NULL AND NOT EXISTS ("
    "  SELECT FROM aw.object_versions v WHERE v.store = b.store AND v.bucket = b.bucket AND"
    "  v.key = b.key AND v.version_ref = b.version_ref)";

/* What a listing saw of a version it (or an event) indexed before; no new
 * row and no new indexed_at. */
static const char *const listed_last_modified_sql =
    "UPDATE aw.object_versions v SET last_modified = b.last_modified FROM aw_batch b"
    " WHERE b.source = 'listing' AND b.kind = 'created' AND b.last_modified IS NOT NULL"
    "  AND v.store = b.store AND v.bucket = b.bucket AND v.key = b.key AND"
    "  v.version_ref = b.version_ref AND v.last_modified IS DISTINCT FROM b.last_modified";

/* A reconcile tombstone: the key's live versions (or the one it names) are
 * gone; a version first seen after the HEAD that said so is not. Nobody
 * recorded deleting them: deleted_by 'reconcile'. */
static const char *const reconcile_deletes_sql =
    "UPDATE aw.object_versions v SET deleted = true, deleted_at = b.event_time,"
    "  deleted_by = 'reconcile', indexed_at = now()"
    " FROM aw_batch b WHERE b.reason = 'reconcile' AND v.store = b.store AND"
    "  v.bucket = b.bucket AND v.key = b.key AND NOT v.deleted AND v.state <> 'tombstone'"
    "  AND v.first_seen_at < b.event_time AND"
    "  (b.target_version IS NULL OR v.version_id = b.target_version)";

/* An event for bytes a listing indexed first: the listing's version becomes
 * the event's (its sequencer and name), so the two are one row. */
static const char *const adopt_by_event_sql =
    "UPDATE aw.object_versions v SET version_ref = b.version_ref, sequencer = b.sequencer,"
    "  seq_key = b.seq_key"
    " FROM aw_batch b WHERE b.source = 'event' AND b.kind = 'created' AND"
    "  b.state = 'present' AND b.version_ref LIKE 's:%' AND v.store = b.store AND"
    "  v.bucket = b.bucket AND v.key = b.key AND v.sequencer IS NULL AND"
    "  v.version_id IS NULL AND v.state = 'present' AND NOT v.deleted AND"
    "  (v.version_ref LIKE 'e:%' OR v.version_ref LIKE 'l:%') AND " SAME_BYTES_AS_B
    "  AND NOT EXISTS (SELECT FROM aw.object_versions x WHERE x.store = b.store AND"
    "   x.bucket = b.bucket AND x.key = b.key AND x.version_ref = b.version_ref)";

/* In an unversioned bucket a delete event removes every older write of the
 * key, whichever order the events arrived in; it confirms a deletion a
 * reconcile found before (deleted_by becomes 'event'). */
static const char *const propagate_deletes_sql =
    "UPDATE aw.object_versions v SET deleted = true, deleted_by = 'event',"
    "  deleted_at = CASE WHEN v.deleted THEN v.deleted_at ELSE t.deleted_at END,"
    "  indexed_at = now()"
    " FROM (SELECT o.store, o.bucket, o.key, max(o.seq_key) AS seq_key,"
    "        max(o.event_time) AS deleted_at"
    "       FROM aw.object_versions o"
    "       JOIN (SELECT DISTINCT store, bucket, key FROM aw_batch) k"
    "         ON o.store = k.store AND o.bucket = k.bucket AND o.key = k.key"
    "      WHERE o.state = 'tombstone' AND o.version_id IS NULL AND o.seq_key IS NOT NULL"
    "        AND o.reason IS DISTINCT FROM 'reconcile'"
    "      GROUP BY 1, 2, 3) t"
    " WHERE v.store = t.store AND v.bucket = t.bucket AND v.key = t.key"
    "   AND (NOT v.deleted OR v.deleted_by = 'reconcile') AND v.version_id IS NULL"
    "   AND v.seq_key < t.seq_key AND v.state <> 'tombstone'";

/* A version's digest is the first one measured: its bytes never change. A
 * later read of the same version (a replayed event, another consumer group,
 * a listing that took the version's name) that hashes to other bytes means
 * the stored bytes changed under the same name (rot behind a gateway that
 * keeps the ETag): a checksum_mismatch, never a new recorded digest. */
static const char *const rehashed_sql =
    "SELECT count(aw.alert_raise('checksum_mismatch', v.id, encode(v.sha256, 'hex'), b.sha256,"
    "  jsonb_build_object('found_by', b.source, 'detail', 'the same version read again hashed"
    " to other bytes than the ones recorded')))"
    " FROM aw_batch b JOIN aw.object_versions v ON v.store = b.store AND v.bucket = b.bucket"
    "  AND v.key = b.key AND v.version_ref = b.version_ref"
    " WHERE b.sha256 IS NOT NULL AND v.sha256 IS NOT NULL AND v.sha256 <> decode(b.sha256, 'hex')";

static const char *const insert_checks_sql =
    "INSERT INTO aw.checks (object_version_id, check_kind, expected, actual, ok)"
    " SELECT DISTINCT ON (1) " VERSION_ID_OF_B ", 'etag_md5', lower(b.etag), b.md5,"
    "  lower(b.etag) = b.md5"
    " FROM aw_batch b WHERE b.md5 IS NOT NULL AND b.etag ~ '^[0-9a-fA-F]{32}$'"
    " ON CONFLICT (object_version_id, check_kind) DO UPDATE SET expected = excluded.expected,"
    "  actual = excluded.actual, ok = excluded.ok, checked_at = now()";

/* A sidecar is identified by its object version (its bytes never change), a
 * document by its Kafka record; a replay inserts nothing. */
static const char *const insert_sidecars_sql =
    "INSERT INTO aw.sidecars (object_version_id, kafka_topic, kafka_partition, kafka_offset,"
    "  kafka_timestamp, store, bucket, key, kind, scope, subject, doc, parse_error,"
    "  declared_sha256, declared_at, created_at, artifact_type, name, version, code_commit,"
    "  run_key, job, event_type)"
    " SELECT CASE WHEN b.key IS NOT NULL THEN " VERSION_ID_OF_B " END,"
    "  b.kafka_topic, b.kafka_partition, b.kafka_offset, b.kafka_timestamp, b.store, b.bucket,"
    "  b.key, b.kind, b.scope, b.subject, b.doc::jsonb, b.parse_error,"
    "  decode(b.declared_sha256, 'hex'),"
    "  COALESCE(b.declared_at, CASE WHEN b.kafka_timestamp >= 0"
    "   THEN to_timestamp(b.kafka_timestamp / 1000.0) END, now()),"
    "  b.created_at, b.artifact_type, b.name, b.version, b.code_commit, b.run_key, b.job,"
    "  b.event_type"
    " FROM aw_sc b ORDER BY b.n"
    " ON CONFLICT DO NOTHING";

static const char *const upsert_runs_sql =
    "INSERT INTO aw.runs AS r (run_key, job, last_event)"
    " SELECT DISTINCT ON (run_key) run_key, job, event_type FROM aw_sc"
    " WHERE run_key IS NOT NULL ORDER BY run_key, n DESC"
    " ON CONFLICT (run_key) DO UPDATE SET job = COALESCE(excluded.job, r.job),"
    "  last_event = COALESCE(excluded.last_event, r.last_event), updated_at = now()"
    " WHERE (r.job, r.last_event) IS DISTINCT FROM"
    "  (COALESCE(excluded.job, r.job), COALESCE(excluded.last_event, r.last_event))";

static const char *const insert_commits_sql =
    "INSERT INTO aw.code_commits (commit)"
    " SELECT DISTINCT code_commit FROM aw_sc WHERE code_commit IS NOT NULL"
    " ON CONFLICT DO NOTHING";

static const char *const insert_decls_sql =
    "INSERT INTO aw.lineage_decls (sidecar_id, ordinal, kind, child_bucket, child_key,"
    "  parent_uri, parent_bucket, parent_key, declared_sha256)"
    " SELECT s.id, d.ordinal, d.kind, d.child_bucket, d.child_key, d.parent_uri,"
    "  d.parent_bucket, d.parent_key, decode(d.declared_sha256, 'hex')"
    " FROM aw_decl d JOIN aw_sc b ON b.n = d.n"
    " JOIN aw.sidecars s ON s.id = CASE WHEN b.key IS NOT NULL THEN"
    "  (SELECT x.id FROM aw.sidecars x WHERE x.object_version_id = " VERSION_ID_OF_B ")"
    "  ELSE (SELECT x.id FROM aw.sidecars x WHERE x.kafka_topic = b.kafka_topic AND"
    "   x.kafka_partition = b.kafka_partition AND x.kafka_offset = b.kafka_offset AND"
    "   x.kafka_timestamp = b.kafka_timestamp) END"
    " ON CONFLICT (sidecar_id, ordinal) DO NOTHING";

/* Everything lineage-related the batch's keys touch is re-derived. */
static const char *const refresh_sql =
    "SELECT aw.lineage_refresh(array_agg(store), array_agg(bucket), array_agg(key)) FROM ("
    " SELECT store, bucket, key FROM aw_batch"
    " UNION SELECT store, bucket, subject FROM aw_sc WHERE scope = 'file'"
    " UNION SELECT NULL, parent_bucket, parent_key FROM aw_decl"
    " UNION SELECT NULL, child_bucket, child_key FROM aw_decl WHERE child_key IS NOT NULL) t";

/* Declared checksums and ETags against the bytes, for what the refresh
 * touched: alerts opened and resolved in the batch's transaction. */
static const char *const integrity_sql = "SELECT aw.integrity_refresh()";

int aw_indexer_new(const aw_config *cfg, aw_indexer **out, char *errstr, size_t errn) {
    *out = NULL;
    aw_indexer *ix = calloc(1, sizeof *ix);
    if (!ix)
        return AW_ENOMEM;
    ix->conninfo = strdup(cfg->pg_conninfo ? cfg->pg_conninfo : "");
    if (!ix->conninfo) {
        free(ix);
        return AW_ENOMEM;
    }
    const char *globs[AW_SC_NKINDS] = {
        [AW_SC_METADATA] = cfg->sidecar_metadata,
        [AW_SC_FILE_METADATA] = cfg->sidecar_file_metadata,
        [AW_SC_SHA256] = cfg->sidecar_sha256,
        [AW_SC_METRICS] = cfg->sidecar_metrics,
        [AW_SC_OPENLINEAGE] = cfg->sidecar_openlineage,
        [AW_SC_MLMODEL] = cfg->sidecar_mlmodel,
    };
    int rc = aw_sidecar_rules_new(globs, &ix->rules, errstr, errn);
    if (rc != AW_OK) {
        aw_indexer_destroy(ix);
        return rc;
    }
    ix->sc_max = (size_t)cfg->sidecar_max_bytes;
    *out = ix;
    return AW_OK;
}

void aw_indexer_destroy(aw_indexer *ix) {
    if (!ix)
        return;
    aw_pg_destroy(ix->pg);
    aw_sidecar_rules_destroy(ix->rules);
    free(ix->conninfo);
    aw_copy_buf_free(&ix->rows);
    aw_copy_buf_free(&ix->scs);
    aw_copy_buf_free(&ix->decls);
    free(ix);
}

size_t aw_indexer_keep_bytes(const aw_indexer *ix, const char *key) {
    return aw_sidecar_classify(ix->rules, key, NULL) != AW_SC_NONE ? ix->sc_max : 0;
}

/* Reads the sidecar (or document) o carries and appends its lines. A
 * sidecar that makes no sense is still recorded, with its parse error. */
static int add_sidecar(aw_indexer *ix, const aw_observation *o, int n) {
    aw_sidecar_kind kind = AW_SC_OPENLINEAGE;
    char *subject = NULL;
    if (o->kind != AW_OBS_DOCUMENT)
        kind = aw_sidecar_classify(ix->rules, o->key, &subject);
    if (kind == AW_SC_NONE)
        return AW_OK;
    const char *sn = subject ? strrchr(subject, '/') : NULL;
    sn = sn ? sn + 1 : subject;
    bool cut = o->body_cut || o->body_len > ix->sc_max;
    long long total = o->kind == AW_OBS_DOCUMENT ? (long long)o->body_len : (long long)o->size;
    aw_sidecar_doc doc;
    int rc = aw_sidecar_parse_at(kind, o->body, cut ? 0 : o->body_len, cut, total, sn,
                                 o->root_path, &doc);
    if (rc == AW_OK && doc.created_at && !rows_timestamp_ok(doc.created_at))
        aw_sidecar_note(&doc, "%s: not a date and time that exists; not used",
                        kind == AW_SC_OPENLINEAGE ? "eventTime" : "created_at");
    if (rc == AW_OK && o->kind != AW_OBS_DOCUMENT) {
        size_t out = aw_sidecar_keep_outputs_in(&doc, o->bucket);
        if (out)
            aw_sidecar_note(&doc, "%zu declaration(s) name outputs outside bucket %s; "
                            "not kept", out, o->bucket);
    }
    size_t room = AW_BATCH_MAX_DECLS - ix->batch_decls;
    if (rc == AW_OK && doc.nparents > room)
        aw_sidecar_note(&doc, "the batch reached its limit of %d lineage declarations; "
                        "%zu of %zu not kept", AW_BATCH_MAX_DECLS, doc.nparents - room,
                        doc.nparents);
    if (rc == AW_OK)
        rc = rows_sidecar(&ix->scs, &ix->decls, o, &doc, subject, n, room);
    ix->batch_decls += doc.nparents < room ? doc.nparents : room;
    ix->batch_mlmodels += kind == AW_SC_MLMODEL;
    aw_sidecar_doc_clear(&doc);
    free(subject);
    return rc;
}

/* Classifies a failure (errstr already holds the server's words): the data's
 * fault is AW_EPG, anything else is the database's state and the connection
 * is dropped, so a retry reconnects (to a new primary after a failover). */
static int failed(aw_indexer *ix) {
    if (!aw_pg_failure_is_data(ix->pg)) {
        aw_pg_destroy(ix->pg);
        ix->pg = NULL;
        ix->temp_ready = false;
        return AW_EUNAVAILABLE;
    }
    char ignore[128];
    if (aw_pg_exec_script(ix->pg, "ROLLBACK", ignore, sizeof ignore) != AW_OK) {
        aw_pg_destroy(ix->pg);
        ix->pg = NULL;
    }
    /* the batch tables may have been created in the transaction just undone */
    ix->temp_ready = false;
    return AW_EPG;
}

/* COPY text into a temporary table. */
static int copy_in(aw_indexer *ix, const char *table, const aw_copy_buf *b, char *errstr,
                   size_t errn) {
    char sql[64];
    snprintf(sql, sizeof sql, "COPY %s FROM STDIN", table);
    if (aw_pg_copy_begin(ix->pg, sql, errstr, errn) != AW_OK)
        return AW_EPG;
    int rc = aw_pg_copy_put(ix->pg, b->p, b->len, errstr, errn);
    char e2[512];
    if (aw_pg_copy_end(ix->pg, rc == AW_OK ? NULL : "aborted", rc == AW_OK ? errstr : e2,
                       rc == AW_OK ? errn : sizeof e2) != AW_OK || rc != AW_OK)
        return AW_EPG;
    return AW_OK;
}

/* Streams the sidecar and declaration lines held here to the server once
 * they pass `above` bytes (0: whatever there is). */
static int flush(aw_indexer *ix, size_t above, char *errstr, size_t errn) {
    if (ix->scs.len > above) {
        if (copy_in(ix, "aw_sc", &ix->scs, errstr, errn) != AW_OK)
            return AW_EPG;
        ix->scs.len = 0;
    }
    if (ix->decls.len > above) {
        if (copy_in(ix, "aw_decl", &ix->decls, errstr, errn) != AW_OK)
            return AW_EPG;
        ix->decls.len = 0;
    }
    return AW_OK;
}

/* Gives up the open transaction for a failure of ours (out of memory). */
static int abandon(aw_indexer *ix, int rc) {
    char ignore[128];
    if (aw_pg_exec_script(ix->pg, "ROLLBACK", ignore, sizeof ignore) != AW_OK) {
        aw_pg_destroy(ix->pg);
        ix->pg = NULL;
    }
    ix->temp_ready = false;
    return rc;
}

/* The statements of a batch in the order they run; NULL where the batch has
 * nothing for one (the listing steps of an event batch, the sidecar steps of a
 * batch without sidecars). single: no version has two rows in the batch. */
enum { NSTEPS = 14 };
static void batch_steps(const char *steps[NSTEPS], bool listed, bool single, bool md5s,
                        bool sidecars, bool decls) {
    const char *all[NSTEPS] = {listed ? adopt_listed_sql : adopt_by_event_sql,
                               listed ? order_listed_sql : NULL,
                               single ? write_single_versions_sql : write_versions_sql,
                               rehashed_sql, listed ? listed_last_modified_sql : NULL,
                               listed ? reconcile_deletes_sql : NULL, propagate_deletes_sql,
                               md5s ? insert_checks_sql : NULL,
                               sidecars ? insert_sidecars_sql : NULL,
                               sidecars ? upsert_runs_sql : NULL,
                               sidecars ? insert_commits_sql : NULL,
                               decls ? insert_decls_sql : NULL,
                               refresh_sql, integrity_sql};
    memcpy(steps, all, sizeof all);
}

static int connect_once(aw_indexer *ix, char *errstr, size_t errn) {
    if (ix->pg)
        return AW_OK;
    int rc = aw_pg_connect(ix->conninfo, &ix->pg, errstr, errn);
    if (rc != AW_OK)
        return rc == AW_ENOMEM ? rc : AW_EUNAVAILABLE;
    ix->temp_ready = false;
    return AW_OK;
}

int aw_indexer_prepare(aw_indexer *ix, char *errstr, size_t errn) {
    int rc = connect_once(ix, errstr, errn);
    if (rc != AW_OK)
        return rc;
    if (!ix->temp_ready) {
        if (aw_pg_exec_script(ix->pg, create_temp_sql, errstr, errn) != AW_OK)
            return failed(ix);
        ix->temp_ready = true;
    }
    /* every step an event batch can run: both ways of writing its versions */
    const char *steps[NSTEPS + 1];
    batch_steps(steps, false, true, true, true, true);
    steps[NSTEPS] = write_versions_sql;
    if (aw_pg_exec_script(ix->pg, "BEGIN", errstr, errn) != AW_OK)
        return failed(ix);
    for (size_t i = 0; i <= NSTEPS; i++)
        if (steps[i] && aw_pg_query(ix->pg, steps[i], 0, NULL, NULL, errstr, errn) != AW_OK)
            return failed(ix);
    return aw_pg_exec_script(ix->pg, "ROLLBACK", errstr, errn) == AW_OK ? AW_OK : failed(ix);
}

/* The batch's statements in order, timed. A batch with no sidecar, MD5
 * check or declaration (quiet) skips the integrity probes unless its
 * lineage edges changed. */
static int run_steps(aw_indexer *ix, const char *steps[NSTEPS], size_t n, int nsc, bool quiet,
                     char *errstr, size_t errn) {
    int64_t ms[NSTEPS + 1] = {aw_now_ms()};
    bool edges_changed = false;
    for (size_t i = 0; i < NSTEPS; i++) {
        /* findings can change only with a sidecar, an MD5 check or an edge
         * that changed: most batches skip the probes */
        if (steps[i] == integrity_sql && quiet && !edges_changed)
            steps[i] = NULL;
        aw_pg_result *res = NULL;
        if (steps[i] && aw_pg_query(ix->pg, steps[i], 0, NULL, steps[i] == refresh_sql ? &res : NULL,
                                    errstr, errn) != AW_OK)
            return AW_EPG;
        if (res) {
            const char *c = aw_pg_result_get(res, 0, 0);
            edges_changed = c && strcmp(c, "0");
            aw_pg_result_free(res);
        }
        ms[i + 1] = aw_now_ms();
    }
    AW_DEBUG("indexer", "%zu rows, %d sidecar(s): versions and observations %lld ms, "
                        "deletes %lld ms, checks %lld ms, sidecars %lld ms, lineage %lld ms",
             n, nsc, (long long)(ms[6] - ms[0]), (long long)(ms[7] - ms[6]),
             (long long)(ms[8] - ms[7]), (long long)(ms[12] - ms[8]),
             (long long)(ms[14] - ms[12]));
    return AW_OK;
}

int aw_indexer_write(aw_indexer *ix, const aw_observation *obs, size_t n, char *errstr,
                     size_t errn) {
    if (n == 0)
        return AW_OK;
    int crc = connect_once(ix, errstr, errn);
    if (crc != AW_OK)
        return crc;
    ix->rows.len = ix->scs.len = ix->decls.len = 0;
    ix->batch_decls = ix->batch_mlmodels = 0;
    aw_pg *pg = ix->pg;
    bool listed = false;
    for (size_t i = 0; i < n; i++)
        listed |= obs[i].listed;
    if (aw_pg_exec_script(pg, listed ? "BEGIN;" LOCK_SQL("") : "BEGIN;" LOCK_SQL("_shared"),
                          errstr, errn) != AW_OK)
        return failed(ix);
    if (!ix->temp_ready) {
        if (aw_pg_exec_script(pg, create_temp_sql, errstr, errn) != AW_OK)
            return failed(ix);
        ix->temp_ready = true;
    }
    /* Objects first; then the sidecars, read one at a time and streamed to
     * the server whenever the lines held here pass SIDECAR_FLUSH, so memory
     * does not grow with the documents a batch carries. */
    bool md5s = false, decls = false;
    int nsc = 0, rc = AW_OK;
    for (size_t i = 0; i < n && rc == AW_OK; i++) {
        if (obs[i].kind != AW_OBS_DOCUMENT)
            rc = rows_object(&ix->rows, &obs[i]);
        md5s |= obs[i].has_md5;
    }
    if (rc != AW_OK)
        return abandon(ix, rc);
    if (ix->rows.len && copy_in(ix, "aw_batch", &ix->rows, errstr, errn) != AW_OK)
        return failed(ix);
    for (size_t i = 0; i < n; i++) {
        const aw_observation *o = &obs[i];
        if (!o->has_body && o->kind != AW_OBS_DOCUMENT)
            continue;
        size_t before = ix->scs.len;
        if ((rc = add_sidecar(ix, o, nsc)) != AW_OK)
            return abandon(ix, rc);
        nsc += ix->scs.len > before;
        decls |= ix->decls.len > 0;
        if (flush(ix, SIDECAR_FLUSH, errstr, errn) != AW_OK)
            return failed(ix);
    }
    if (flush(ix, 0, errstr, errn) != AW_OK)
        return failed(ix);
    /* delete propagation always runs: a create older than a delete indexed
     * in an earlier batch must be marked deleted when it arrives. A
     * listing's rows may take another version's name in the batch
     * (adoption), so only an event batch is written row by row. */
    const char *steps[NSTEPS];
    bool single = !listed && rows_versions_unique(&ix->rows);
    batch_steps(steps, listed, single, md5s, nsc > 0, decls);
    if (run_steps(ix, steps, n, nsc, !nsc && !md5s && !decls, errstr, errn) != AW_OK)
        return failed(ix);
    if (ix->batch_mlmodels && aw_pg_exec_script(pg, "NOTIFY aw_mlflow", errstr, errn) != AW_OK)
        return failed(ix);
    if (aw_pg_exec_script(pg, "COMMIT", errstr, errn) != AW_OK)
        return failed(ix);
    return AW_OK;
}
