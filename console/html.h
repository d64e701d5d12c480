/*
 * HTML built into a growing buffer, with one function per context so every
 * piece of outside text is escaped for where it lands: element text and
 * attribute values (entities, control bytes and invalid UTF-8 shown as
 * \xNN), and URL query components (percent-encoded). Raw markup is only
 * ever a literal of this program. Memory failures are sticky: the page
 * comes out NULL.
 */
#ifndef AW_CONSOLE_HTML_H
#define AW_CONSOLE_HTML_H

#include <stdbool.h>
#include <stddef.h>

#include "aw/err.h"

typedef struct hb {
    char *p;
    size_t len, cap;
    bool oom;
} hb;

/* Markup this program wrote (a literal, or a format of literals and numbers). */
void hb_raw(hb *b, const char *markup);
void hb_rawf(hb *b, const char *fmt, ...) AW_PRINTF(2, 3);
/* Outside text as element text or an attribute value (both quote-safe). */
void hb_text(hb *b, const char *s);
/* Outside text as a component of a URL query (after '=' or '&'). */
void hb_query(hb *b, const char *s);
/* <a href="PATH?NAME=VALUE">TEXT</a>, each escaped for its place; path is a
 * literal of this program. */
void hb_link(hb *b, const char *path, const char *name, const char *value, const char *text);
/* The buffer, NUL-terminated and handed over (NULL on no memory). */
char *hb_take(hb *b);
void hb_free(hb *b);

#endif
