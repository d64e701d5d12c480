/*
 * A table of a document's rows, declared as columns: each column a title,
 * the kind of cell, and the member of the row it shows. The pages list
 * their columns; how each kind of value is drawn is cells.c's.
 */
#include <stdio.h>
#include <string.h>

#include "cells.h"

static bool numeric(cell_kind k) { return k == C_NUM || k == C_BYTES || k == C_DAYS; }

static void cell(hb *b, json_t *x, const cell_col *c) {
    json_t *v = c->field ? J(x, c->field) : NULL;
    const char *s = c->field ? cell_str(x, c->field) : "";
    switch (c->kind) {
    case C_TEXT: hb_text(b, s); break;
    case C_CODE:
        hb_raw(b, "<code>");
        hb_text(b, s);
        hb_raw(b, "</code>");
        break;
    case C_VALUE:
    case C_NUM: cell_value(b, v); break;
    case C_BYTES: cell_bytes(b, v); break;
    case C_DAYS: hb_rawf(b, "%lldd", (long long)json_integer_value(v) / 86400); break;
    case C_TIME: cell_time(b, v); break;
    case C_SHA: cell_sha(b, v); break;
    case C_STATE: cell_state(b, s); break;
    case C_LIVE: /* a version's state, or "deleted" */
        cell_state(b, json_is_true(J(x, "deleted")) ? "deleted" : s);
        break;
    case C_OBJECT:
        cell_object(b, cell_str(x, "store"), cell_str(x, "bucket"), cell_str(x, "key"), NULL);
        break;
    case C_BUCKET: /* a bucket, searched */
        hb_raw(b, "<a href=\"/search?q=&amp;bucket=");
        hb_query(b, s);
        hb_raw(b, "\">");
        hb_text(b, s);
        hb_raw(b, "</a>");
        break;
    case C_ID:
        if (json_is_integer(v))
            cell_id(b, c->arg, v);
        break;
    case C_COUNTS: { /* an object of counts, each with its state's colour */
        const char *k;
        json_t *n;
        json_object_foreach(v, k, n) {
            cell_state(b, k);
            hb_rawf(b, " %lld ", (long long)json_integer_value(n));
        }
        break;
    }
    }
}

void cell_table(hb *b, json_t *rows, const cell_col *cols) {
    hb_raw(b, "<table><thead><tr>");
    for (const cell_col *c = cols; c->title; c++)
        hb_rawf(b, "<th>%s</th>", c->title);
    hb_raw(b, "</tr></thead><tbody>");
    size_t i;
    json_t *x;
    json_array_foreach(rows, i, x) {
        hb_raw(b, "<tr>");
        for (const cell_col *c = cols; c->title; c++) {
            cell_td(b, numeric(c->kind));
            cell(b, x, c);
            hb_raw(b, "</td>");
        }
        hb_raw(b, "</tr>");
    }
    hb_raw(b, "</tbody></table>");
}
