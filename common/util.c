/* Bounded formatting and the monotonic clock (aw/util.h); small bodies kept
 * in memory (aw_membuf, aw/http.h). */
#include "aw/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aw/store.h"

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

int64_t aw_now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int aw_membuf_start(void *ud) {
    ((aw_membuf *)ud)->len = 0;
    return AW_OK;
}

int aw_membuf_put(void *ud, const void *data, size_t len) {
    aw_membuf *b = ud;
    if (b->len + len > b->max)
        return AW_EPARSE;
    if (b->len + len > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + len)
            cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np)
            return AW_ENOMEM;
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, len);
    b->len += len;
    return AW_OK;
}
