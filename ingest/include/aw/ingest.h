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

#endif
