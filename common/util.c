/* Bounded formatting and the monotonic clock; see aw/util.h. */
#include "aw/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

int aw_fmt(char *buf, size_t cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
    return n < 0 || (size_t)n >= cap ? AW_EINVAL : AW_OK;
}

int64_t aw_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
