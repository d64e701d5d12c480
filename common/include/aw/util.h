/*
 * The two small helpers every module uses: bounded formatting that reports
 * truncation, and a monotonic clock.
 */
#ifndef AW_UTIL_H
#define AW_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "aw/err.h"

/* snprintf that reports truncation as AW_EINVAL. */
int aw_fmt(char *buf, size_t cap, const char *fmt, ...) AW_WUR AW_PRINTF(3, 4);

/* Monotonic milliseconds. */
int64_t aw_now_ms(void);
int64_t aw_now_us(void); /* the same clock, in microseconds */

#endif
