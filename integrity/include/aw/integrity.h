/*
 * Integrity: `artifact-watch scrub` re-reads stored bytes against their
 * recorded SHA-256 (integrity/scrub.c), `alerts` lists, shows and delivers
 * what scrub and ingest found (integrity/alerts.c), and `verify` is the
 * check a pipeline runs before it loads an artifact (integrity/verify.c).
 * It acts on the graph through SQL and on the store through common's client.
 */
#ifndef AW_INTEGRITY_H
#define AW_INTEGRITY_H

#include "aw/config.h"

/* `artifact-watch scrub`: re-reads stored bytes against their recorded
 * SHA-256 and opens or resolves alerts. Exit status: 0 done, 1 a database
 * or store failure, 2 bad arguments. */
int aw_cmd_scrub(aw_config *cfg);

/* `artifact-watch alerts list|show|push`. Exit status: 0 done, 1 a database
 * or delivery failure, 2 bad arguments. */
int aw_cmd_alerts(aw_config *cfg);

/* `artifact-watch verify URI...`: 0 when every object is indexed, present
 * and agrees with every expectation; 1 otherwise (or on a failure); 2 bad
 * arguments. */
int aw_cmd_verify(aw_config *cfg);

#endif
