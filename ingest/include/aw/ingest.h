/*
 * `artifact-watch ingest`: the consumer that turns bucket notifications into
 * indexed, hashed object versions. See ingest.c for the delivery guarantees.
 */
#ifndef AW_INGEST_H
#define AW_INGEST_H

#include "aw/config.h"

/* Runs the ingest daemon until SIGTERM/SIGINT (or, with --drain, until every
 * assigned partition is consumed to its end and indexed). Returns the exit
 * status: 0 after a clean drain or shutdown, 1 on a start-up failure. */
int aw_cmd_ingest(aw_config *cfg);

/* `backfill s3://BUCKET[/PREFIX]... | --all-buckets`: indexes what the
 * store's listing shows and the index lacks, marks deleted what the index
 * holds and the store no longer has. 0 when every target was listed to its
 * end with no object failing, 1 otherwise, 2 for bad arguments. */
int aw_cmd_backfill(aw_config *cfg);

#endif
