/*
 * The pieces of console pages (cells.c), shared by pages.c and reports.c.
 */
#ifndef AW_CONSOLE_CELLS_H
#define AW_CONSOLE_CELLS_H

#include "internal.h"

#define J(o, k) json_object_get((o), (k))

/* A string member of a document, "" when absent. */
const char *cell_str(json_t *o, const char *k);
/* A value as table text: strings escaped, numbers, yes/no, "-" for null. */
void cell_value(hb *b, json_t *v);
/* A time as the database wrote it, to the second. */
void cell_time(hb *b, json_t *v);
/* A size in bytes, KiB, MiB, ... */
void cell_bytes(hb *b, json_t *v);
/* A digest: its first 12 digits, the whole in the title. */
void cell_sha(hb *b, json_t *v);
/* A state word, coloured by its class when it is one the CSS knows. */
void cell_state(hb *b, const char *s);
/* Links: an object's page (text NULL: its URI), a URI's page, its lineage
 * page (dir "up" or "down"), a numbered page (/alert, /plan, /run). */
void cell_object(hb *b, const char *store, const char *bucket, const char *key,
                 const char *text);
void cell_uri(hb *b, const char *store, const char *uri);
void cell_lineage(hb *b, const char *store, const char *uri, const char *dir, const char *text);
void cell_id(hb *b, const char *path, json_t *id);
/* A table's head from NULL-terminated titles (literals), and a cell. */
void cell_head(hb *b, const char *const *titles);
void cell_td(hb *b, bool num);
void cell_error(hb *b, const char *why);
/* The nodes of a lineage walk as a table, and a lineage document as SVG. */
void cell_walk(hb *b, json_t *nodes, const char *store);
void cell_graph(hb *b, json_t *graph);
/* A table declared by its columns: title (a literal), what kind of cell,
 * which member of the row (arg: C_ID's page, such as "/run"). The columns
 * end with a NULL title. */
typedef enum {
    C_TEXT, C_CODE, C_VALUE, C_NUM, C_BYTES, C_DAYS, C_TIME, C_SHA, C_STATE, C_LIVE, C_OBJECT,
    C_BUCKET, C_ID, C_COUNTS
} cell_kind;
typedef struct cell_col {
    const char *title;
    cell_kind kind;
    const char *field;
    const char *arg;
} cell_col;
void cell_table(hb *b, json_t *rows, const cell_col *cols);
/* Retention runs as a table, each linked to its audit and plan. */
void cell_runs(hb *b, json_t *runs);

#endif
