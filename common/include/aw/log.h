/*
 * Logging: one line per event on stderr, "<time> <level> <component>: <msg>",
 * or with aw_log_json one JSON object per line for log collectors:
 * {"time", "level", "component", "message"}.
 * The debug macro tests the level before any formatting happens so debug
 * statements on hot paths cost a branch when disabled.
 */
#ifndef AW_LOG_H
#define AW_LOG_H

#include <stdbool.h>

#include "aw/err.h"

/* In the order of the words of log.level: error, warn, info, debug. */
typedef enum aw_log_level {
    AW_LOG_ERROR = 0,
    AW_LOG_WARN = 1,
    AW_LOG_INFO = 2,
    AW_LOG_DEBUG = 3,
} aw_log_level;

extern aw_log_level aw_log_threshold;
extern bool aw_log_json; /* --log-format json */

/* Writes one line to stderr. Thread-safe: the line is written with one call. */
void aw_log(aw_log_level level, const char *component, const char *fmt, ...)
    AW_PRINTF(3, 4);

#define aw_log_enabled(level) ((level) <= aw_log_threshold)
#define AW_ERROR(comp, ...) aw_log(AW_LOG_ERROR, comp, __VA_ARGS__)
#define AW_WARN(comp, ...) aw_log(AW_LOG_WARN, comp, __VA_ARGS__)
#define AW_INFO(comp, ...)                                                     \
    do {                                                                       \
        if (aw_log_enabled(AW_LOG_INFO))                                       \
            aw_log(AW_LOG_INFO, comp, __VA_ARGS__);                            \
    } while (0)
#define AW_DEBUG(comp, ...)                                                    \
    do {                                                                       \
        if (aw_log_enabled(AW_LOG_DEBUG))                                      \
            aw_log(AW_LOG_DEBUG, comp, __VA_ARGS__);                           \
    } while (0)

/* Prints "artifact-watch: <msg>" to stderr and exits with status 1. Start-up
 * only: once a daemon serves, errors are logged and survived. */
_Noreturn void aw_die(const char *fmt, ...) AW_PRINTF(1, 2);

#endif
