/*
 * `artifact-watch lineage up|down s3://bucket/key`: the lineage walks of
 * aw.lineage_upstream / aw.lineage_downstream printed as a table, JSON or
 * Graphviz DOT. Everything it shows comes from those SQL functions, so the
 * command line and SQL never disagree.
 */
#ifndef AW_LINEAGE_H
#define AW_LINEAGE_H

#include "aw/config.h"

/* Exit status: 0 shown, 1 nothing indexed at that URI or a database
 * failure, 2 bad arguments. */
int aw_cmd_lineage(aw_config *cfg);

#endif
