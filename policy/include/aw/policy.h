/*
 * `artifact-watch policy`: retention rules checked, planned, applied and
 * audited, and the scheduled retention worker (policy/policy.c); `artifact-watch
 * scrub`: stored bytes re-read and verified (policy/scrub.c).
 */
#ifndef AW_POLICY_H
#define AW_POLICY_H

#include "aw/config.h"

/* Exit status: 0 done, 1 a runtime failure (or deletions that failed), 2
 * bad arguments or rules, 3 a run refused by the safety cap. */
int aw_cmd_policy(aw_config *cfg);

/* `artifact-watch scrub`: re-reads stored bytes against their recorded
 * SHA-256 and opens or resolves alerts. Exit status: 0 done, 1 a database
 * or store failure, 2 bad arguments. */
int aw_cmd_scrub(aw_config *cfg);

/* `artifact-watch alerts list|show|push` (policy/alerts.c). Exit status: 0
 * done, 1 a database or delivery failure, 2 bad arguments. */
int aw_cmd_alerts(aw_config *cfg);

/* `artifact-watch verify URI...` (policy/verify.c): 0 when every object is
 * indexed, present and agrees with every expectation; 1 otherwise (or on a
 * failure); 2 bad arguments. */
int aw_cmd_verify(aw_config *cfg);

#endif
