/* The web console: `artifact-watch console`. */
#ifndef AW_CONSOLE_H
#define AW_CONSOLE_H

#include "aw/config.h"

/* Serves the console until SIGTERM; 0, 1 (the database), 2 (settings). */
int aw_cmd_console(aw_config *cfg);

#endif
