/*
 * The commands the binary dispatches to that live in cmd/ itself: the small
 * ones that belong to no daemon. The daemons export theirs from their own
 * part (aw/ingest.h, ...). Each returns the process exit status: 0 success,
 * 1 runtime failure, 2 usage or configuration error.
 */
#ifndef AW_COMMANDS_H
#define AW_COMMANDS_H

#include "aw/config.h"

int cmd_migrate(aw_config *cfg);
int cmd_version(aw_config *cfg);

/* Registers aw_build_info (the versions) with the metrics. */
void cmd_build_info(void);

/* `lineage up|down URI`: exit 1 when nothing is indexed at the URI or the
 * database fails, 2 for bad arguments. */
int cmd_lineage(aw_config *cfg);

#endif
