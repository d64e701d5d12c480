/*
 * Deletions recorded by whoever caused them (retention's DELETEs), written
 * here because the indexer is the one writer of the graph. They run on the
 * caller's connection, inside the caller's transaction, so a deletion and
 * the record of why it was made commit together.
 */
#include "aw/indexer.h"

#include "aw/pg.h"

int aw_indexer_record_deletions(aw_pg *pg, const char *ids_json, char *errstr, size_t errn) {
    const char *params[1] = {ids_json};
    return aw_pg_query(pg,
                       "UPDATE aw.object_versions v SET deleted = true, deleted_at = now(),"
                       " deleted_by = 'retention', indexed_at = now()"
                       " FROM json_array_elements_text($1::json) x"
                       " WHERE v.id = x.value::bigint AND NOT v.deleted",
                       1, params, NULL, errstr, errn);
}
