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
#include <time.h>
#include <unistd.h>

#include "aw/codec.h"

aw_log_level aw_log_threshold = AW_LOG_INFO;
bool aw_log_json;

static const char *const level_names[] = {"ERROR", "WARN", "INFO", "DEBUG"};

/* Appends s, already escaped to printable UTF-8, as the body of a JSON string. */
static size_t json_body(char *out, size_t cap, const char *s) {
    size_t n = 0;
    for (; *s && n + 2 < cap; s++) {
        if (*s == '"' || *s == '\\')
            out[n++] = '\\';
        out[n++] = *s;
    }
    return n;
}

void aw_log(aw_log_level level, const char *component, const char *fmt, ...) {
    if (!aw_log_enabled(level))
        return;
    char line[4096], when[40], msg[2048], safe[2048];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t t = strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when + t, sizeof when - t, ".%03ldZ", ts.tv_nsec / 1000000L);
    /* the message quotes outside text (keys, servers' words): escaped, so
     * a line is always one line and nothing drives the terminal */
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    safe[0] = '\0';
    if (m > 0)
        aw_escape_text(msg, (size_t)m < sizeof msg ? (size_t)m : sizeof msg - 1, safe,
                       sizeof safe);
    size_t n;
    if (aw_log_json) {
        static const char *const lower[] = {"error", "warn", "info", "debug"};
        n = (size_t)snprintf(line, sizeof line, "{\"time\":\"%s\",\"level\":\"%s\",\"component\":\"",
                             when, lower[level]);
        n += json_body(line + n, sizeof line - n - 32, component);
        n += (size_t)snprintf(line + n, sizeof line - n, "\",\"message\":\"");
        n += json_body(line + n, sizeof line - n - 4, safe);
        line[n++] = '"';
        line[n++] = '}';
    } else {
        n = (size_t)snprintf(line, sizeof line, "%s %s %s: %s", when, level_names[level],
                             component, safe);
        if (n > sizeof line - 2)
            n = sizeof line - 2;
    }
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
