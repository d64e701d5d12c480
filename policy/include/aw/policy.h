/*
 * `artifact-watch policy`: retention rules checked, planned, applied and
 * audited, and the scheduled retention worker (policy/policy.c).
 */
#ifndef AW_POLICY_H
#define AW_POLICY_H

#include "aw/config.h"

/* Exit status: 0 done, 1 a runtime failure (or deletions that failed), 2
 * bad arguments or rules, 3 a run refused by the safety cap. */
int aw_cmd_policy(aw_config *cfg);

#endif
