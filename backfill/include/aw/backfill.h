/*
 * `artifact-watch backfill`: the store's own listing as a source of
 * observations, beside ingest's events. It reaches the graph only through
 * the indexer (aw/indexer.h).
 */
#ifndef AW_BACKFILL_H
#define AW_BACKFILL_H

#include "aw/config.h"

/* `backfill s3://BUCKET[/PREFIX]... | --all-buckets`: indexes what the
 * store's listing shows and the index lacks, marks deleted what the index
 * holds and the store no longer has. 0 when every target was listed to its
 * end with no object failing, 1 otherwise, 2 for bad arguments. */
int aw_cmd_backfill(aw_config *cfg);

/* `watch DIR... [--store NAME]`: indexes the files under local folders as
 * they are written, renamed and deleted (inotify), after a walk that
 * reconciles the index at start, after a lost event and every --rescan.
 * Runs until SIGTERM: 0, or 1 when it could not go on, 2 for bad arguments
 * or a store that is not a file store. */
int aw_cmd_watch(aw_config *cfg);

#endif
