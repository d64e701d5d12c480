/*
 * stderr logger. Lines are assembled in a stack buffer and written with a
 * single write(2) so concurrent threads (librdkafka's, ours) never interleave
 * inside a line.
 */
#include "aw/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "aw/codec.h"

aw_log_level aw_log_threshold = AW_LOG_INFO;

static const char *const level_names[] = {"ERROR", "WARN", "INFO", "DEBUG"};

int aw_log_level_parse(const char *s, aw_log_level *out) {
    static const char *const names[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(s, names[i]) == 0) {
            *out = (aw_log_level)i;
            return AW_OK;
        }
    }
    return AW_EINVAL;
}

void aw_log(aw_log_level level, const char *component, const char *fmt, ...) {
    if (!aw_log_enabled(level))
        return;
    char line[2048];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
    int m = snprintf(line + n, sizeof line - n, ".%03ldZ %s %s: ",
                     ts.tv_nsec / 1000000L, level_names[level], component);
    if (m > 0)
        n += (size_t)m;
    /* the message quotes outside text (keys, servers' words): escaped, so
     * a line is always one line and nothing drives the terminal */
    char msg[sizeof line];
    va_list ap;
    va_start(ap, fmt);
    m = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (m > 0)
        n += aw_escape_text(msg, (size_t)m < sizeof msg ? (size_t)m : sizeof msg - 1, line + n,
                            sizeof line - n - 1);
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, n);
    (void)w;
}

void aw_die(const char *fmt, ...) {
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "artifact-watch: %s\n", msg);
    exit(1);
}
