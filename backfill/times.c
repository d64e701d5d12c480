/*
 * The times of a listing: the ISO 8601 dates listings send, checked before
 * PostgreSQL sees them, compared with a GET's Last-Modified, and now in the
 * same form for the tombstones a reconcile writes.
 */
#define _GNU_SOURCE /* strptime, timegm */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "internal.h"

/* An ISO 8601 UTC time PostgreSQL will read, as listings send them:
 * YYYY-MM-DDTHH:MM:SS[.fff]Z with a date that exists. */
bool bf_iso_ok(const char *s) {
    struct tm tm = {0};
    const char *end = s ? strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
    if (!end)
        return false;
    if (*end == '.') {
        end++;
        if (*end < '0' || *end > '9')
            return false;
        while (*end >= '0' && *end <= '9')
            end++;
    }
    if (strcmp(end, "Z"))
        return false;
    struct tm back = tm;
    time_t t = timegm(&back);
    struct tm again;
    return gmtime_r(&t, &again) && again.tm_mday == tm.tm_mday && again.tm_mon == tm.tm_mon;
}

/* Whether the bytes a GET returned are newer than the listed ones: its
 * Last-Modified (an HTTP date) after the listing's. Unknown when either is
 * missing or unreadable: then they are taken as the listed ones. */
bool bf_modified_since(const char *listed, const char *http_date) {
    struct tm a = {0}, b = {0};
    if (!listed || !*http_date || !strptime(listed, "%Y-%m-%dT%H:%M:%S", &a) ||
        !strptime(http_date, "%a, %d %b %Y %H:%M:%S GMT", &b))
        return false;
    return timegm(&b) > timegm(&a);
}

void bf_now_iso(char out[32]) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03dZ", (int)(ms % 1000));
}
