/*
 * What the files of console/ share:
 *
 *   console.c  the command: settings, the token, the server, routing, the
 *              database sessions, the home page's cached summary
 *   docs.c     each page's document: the SQL function that makes it, with
 *              the request's parameters checked and bounded
 *   cells.c    the pieces of pages: values, links, tables, the frame
 *   pages.c    home, search, object and lineage pages, from their documents
 *   reports.c  alerts, retention plans and runs, from their documents
 *   graph.c    a lineage document drawn as SVG by Graphviz (libgvc)
 *   html.c     the HTML builder that escapes for each context
 */
#ifndef AW_CONSOLE_INTERNAL_H
#define AW_CONSOLE_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "aw/config.h"
#include "aw/serve.h"
#include "html.h"

typedef struct console console;

/* A page's document as JSON text (malloc'd), or a status and why. */
typedef struct page_doc {
    char *json;
    unsigned status; /* 200, or 400 / 404 / 503 / 504 with why */
    char why[1200];
} page_doc;

/* Runs one statement whose one cell is the document, on a session of the
 * pool; a timeout or a lost database is the page's status, not a crash. */
void console_doc(console *c, const char *sql, int nparams, const char *const *params,
                 page_doc *d);
/* The home page's summary: the last one read, at most summary_every old. */
void console_summary(console *c, page_doc *d);
const aw_config *console_cfg(const console *c);

/* docs.c: each page's document from the request. */
typedef void (*doc_fn)(console *c, const aw_request *rq, page_doc *d);
void doc_summary(console *c, const aw_request *rq, page_doc *d);
void doc_search(console *c, const aw_request *rq, page_doc *d);
void doc_object(console *c, const aw_request *rq, page_doc *d);
void doc_lineage(console *c, const aw_request *rq, page_doc *d);
void doc_alerts(console *c, const aw_request *rq, page_doc *d);
void doc_alert(console *c, const aw_request *rq, page_doc *d);
void doc_retention(console *c, const aw_request *rq, page_doc *d);
void doc_plan(console *c, const aw_request *rq, page_doc *d);
void doc_run(console *c, const aw_request *rq, page_doc *d);

/* pages.c and reports.c: each page's body from its document. */
typedef void (*page_fn)(hb *b, json_t *doc, const aw_request *rq);
void page_home(hb *b, json_t *doc, const aw_request *rq);
void page_search(hb *b, json_t *doc, const aw_request *rq);
void page_object(hb *b, json_t *doc, const aw_request *rq);
void page_lineage(hb *b, json_t *doc, const aw_request *rq);
void page_alerts(hb *b, json_t *doc, const aw_request *rq);
void page_alert(hb *b, json_t *doc, const aw_request *rq);
void page_retention(hb *b, json_t *doc, const aw_request *rq);
void page_plan(hb *b, json_t *doc, const aw_request *rq);
void page_run(hb *b, json_t *doc, const aw_request *rq);
/* cells.c: the frame around a body: head, navigation, the search form. */
char *page_frame(const char *title, hb *body);
/* An error page (its text escaped). */
char *page_error(unsigned status, const char *why);

/* graph.c: the SVG of a lineage document (nodes, edges), or NULL with why. */
char *graph_svg(json_t *doc, char *why, size_t n);

#endif
