/*
 * PostgreSQL's COPY text format, both ways: a growing buffer of lines to
 * send with aw_pg_copy_put, and the splitting of a line received through
 * aw_pg_copy_out into its fields. Pure functions over memory.
 */
#ifndef AW_COPY_H
#define AW_COPY_H

#include <stddef.h>

#include "aw/err.h"

/* A growing buffer of COPY text. */
typedef struct aw_copy_buf {
    char *p;
    size_t len, cap;
} aw_copy_buf;

void aw_copy_buf_free(aw_copy_buf *b);

/* Appends one field, escaped for COPY text format, or \N for NULL, then
 * sep ('\t' between fields, '\n' after the last). Bytes that are not UTF-8
 * (PostgreSQL would refuse the whole COPY) become U+FFFD. AW_ENOMEM. */
int aw_copy_field(aw_copy_buf *b, const char *s, char sep) AW_WUR;

/* Appends a field holding a signed integer, then sep. AW_ENOMEM. */
int aw_copy_int(aw_copy_buf *b, long long v, char sep) AW_WUR;

/*
 * Splits one line of COPY text (without its newline) into at most max
 * fields, in place: separators become NULs and escapes are decoded (line[len]
 * must be writable: it becomes the last NUL). A field that is \N becomes
 * NULL. Returns the number of fields, or -1 when
 * the line has more than max.
 */
int aw_copy_split(char *line, size_t len, char **fields, int max);

#endif
