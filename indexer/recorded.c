/*
 * What other parts learn about versions and record through the indexer, the
 * one writer of the graph: deletions retention made or found, and the order
 * a listing shows a key's versions in. They run on the caller's connection,
 * inside the caller's transaction, so a deletion and the record of why it
 * was made commit together.
 */
#include "aw/indexer.h"

#include "aw/pg.h"

int aw_indexer_record_deletions(aw_pg *pg, const char *ids_json, bool deleted_here,
                                char *errstr, size_t errn) {
    const char *params[2] = {ids_json, deleted_here ? "retention" : "reconcile"};
    return aw_pg_query(pg,
                       "UPDATE aw.object_versions v SET deleted = true, deleted_at = now(),"
                       " deleted_by = $2, indexed_at = now()"
                       " FROM json_array_elements_text($1::json) x"
                       " WHERE v.id = x.value::bigint AND NOT v.deleted",
                       2, params, NULL, errstr, errn);
}

int aw_indexer_record_order(aw_pg *pg, const char *store, const char *bucket,
                            const char *json, char *errstr, size_t errn) {
    const char *params[3] = {store, bucket, json};
    return aw_pg_query(pg,
                       "UPDATE aw.object_versions v SET seq_key = x.seq_key"
                       " FROM json_to_recordset($3::json) AS x(key text, version_id text,"
                       "  seq_key text)"
                       " WHERE v.store = $1 AND v.bucket = $2 AND v.key = x.key"
                       "  AND v.version_id = x.version_id AND v.seq_key IS NULL",
                       3, params, NULL, errstr, errn);
}
