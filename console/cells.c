/*
 * The pieces every console page is made of: values, times, sizes, digests,
 * links to objects and lineage, table heads, the lineage tables and graph,
 * and the frame around a page. Outside text goes through hb_text or
 * hb_query; the raw markup is this file's own.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cells.h"

const char *cell_str(json_t *o, const char *k) {
    const char *s = json_string_value(J(o, k));
    return s ? s : "";
}

/* ------------------------------------------------------------ pieces */

/* A value of a document as table text: strings escaped, numbers, yes/no. */
void cell_value(hb *b, json_t *v) {
    if (json_is_string(v))
        hb_text(b, json_string_value(v));
    else if (json_is_integer(v))
        hb_rawf(b, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        hb_rawf(b, "%g", json_real_value(v));
    else if (json_is_boolean(v))
        hb_raw(b, json_is_true(v) ? "yes" : "no");
    else if (json_is_null(v) || !v)
        hb_raw(b, "<span class=\"muted\">-</span>");
    else {
        char *s = json_dumps(v, JSON_COMPACT);
        hb_raw(b, "<code>");
        hb_text(b, s);
        hb_raw(b, "</code>");
        free(s);
    }
}

/* A time as the database wrote it, to the second. */
void cell_time(hb *b, json_t *v) {
    const char *s = json_string_value(v);
    if (!s) {
        cell_value(b, v);
        return;
    }
    char t[20];
    snprintf(t, sizeof t, "%.19s", s);
    if (strlen(t) > 10 && t[10] == 'T')
        t[10] = ' ';
    hb_text(b, t);
}

void cell_bytes(hb *b, json_t *v) {
    if (!json_is_number(v)) {
        cell_value(b, v);
        return;
    }
    double x = json_number_value(v);
    static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    int u = 0;
    while (x >= 1024 && u < 5)
        x /= 1024, u++;
    hb_rawf(b, u ? "%.1f %s" : "%.0f %s", x, unit[u]);
}

/* A link to an object's page: s3://bucket/key in store. */
void cell_object(hb *b, const char *store, const char *bucket, const char *key,
                        const char *text) {
    hb_raw(b, "<a href=\"/object?uri=s3://");
    hb_query(b, bucket);
    hb_raw(b, "/");
    hb_query(b, key);
    hb_raw(b, "&amp;store=");
    hb_query(b, store);
    hb_raw(b, "\">");
    if (text) {
        hb_text(b, text);
    } else {
        hb_raw(b, "s3://");
        hb_text(b, bucket);
        hb_raw(b, "/");
        hb_text(b, key);
    }
    hb_raw(b, "</a>");
}

/* A link to a URI's page (uri as lineage documents carry it). */
void cell_uri(hb *b, const char *store, const char *uri) {
    hb_raw(b, "<a href=\"/object?uri=");
    hb_query(b, uri);
    hb_raw(b, "&amp;store=");
    hb_query(b, store);
    hb_raw(b, "\">");
    hb_text(b, uri);
    hb_raw(b, "</a>");
}

void cell_lineage(hb *b, const char *store, const char *uri, const char *dir,
                         const char *text) {
    hb_raw(b, "<a href=\"/lineage?dir=");
    hb_raw(b, dir);
    hb_raw(b, "&amp;uri=");
    hb_query(b, uri);
    hb_raw(b, "&amp;store=");
    hb_query(b, store);
    hb_raw(b, "\">");
    hb_text(b, text);
    hb_raw(b, "</a>");
}

void cell_id(hb *b, const char *path, json_t *id) {
    hb_rawf(b, "<a href=\"%s?id=%lld\">%lld</a>", path, (long long)json_integer_value(id),
            (long long)json_integer_value(id));
}

/* A state word with its class (the class is one of ours or none). */
void cell_state(hb *b, const char *s) {
    static const char *const known[] = {"ok", "verified", "present", "mismatch", "failed",
                                        "open", "checksum_mismatch", "missing", "unverified",
                                        NULL};
    const char *cls = "";
    for (int i = 0; known[i]; i++)
        if (!strcmp(s, known[i]))
            cls = known[i];
    hb_rawf(b, "<span class=\"%s\">", cls);
    hb_text(b, s);
    hb_raw(b, "</span>");
}

void cell_sha(hb *b, json_t *v) {
    const char *s = json_string_value(v);
    if (!s) {
        cell_value(b, v);
        return;
    }
    hb_raw(b, "<code title=\"");
    hb_text(b, s);
    hb_raw(b, "\">");
    char shortened[16];
    snprintf(shortened, sizeof shortened, "%.12s", s);
    hb_text(b, shortened);
    hb_raw(b, "</code>");
}

void cell_head(hb *b, const char *const *titles) {
    hb_raw(b, "<table><thead><tr>");
    for (int i = 0; titles[i]; i++)
        hb_rawf(b, "<th>%s</th>", titles[i]);
    hb_raw(b, "</tr></thead><tbody>");
}

void cell_td(hb *b, bool num) { hb_raw(b, num ? "<td class=\"n\">" : "<td>"); }

void cell_error(hb *b, const char *why) {
    hb_raw(b, "<p class=\"err\">");
    hb_text(b, why);
    hb_raw(b, "</p>");
}

void cell_walk(hb *b, json_t *nodes, const char *store) {
    static const char *const t[] = {"depth", "object", "version", "sha256", "edge", "state",
                                    "declared", "run / commit", NULL};
    cell_head(b, t);
    size_t i;
    json_t *x;
    json_array_foreach(nodes, i, x) {
        hb_raw(b, "<tr>");
        cell_td(b, true);
        cell_value(b, J(x, "depth"));
        hb_raw(b, "</td><td>");
        cell_uri(b, store, cell_str(x, "uri"));
        if (json_is_true(J(x, "deleted")))
            hb_raw(b, " <span class=\"muted\">(deleted)</span>");
        hb_raw(b, "</td><td><code>");
        hb_text(b, cell_str(x, "version"));
        hb_raw(b, "</code></td><td>");
        cell_sha(b, J(x, "sha256"));
        hb_raw(b, "</td><td>");
        cell_value(b, J(x, "edge_kind"));
        hb_raw(b, "</td><td>");
        cell_state(b, *cell_str(x, "edge_state") ? cell_str(x, "edge_state") : "start");
        hb_raw(b, "</td><td>");
        cell_sha(b, J(x, "declared_sha256"));
        hb_raw(b, "</td><td>");
        hb_text(b, cell_str(x, "run_key"));
        if (*cell_str(x, "code_commit")) {
            hb_raw(b, " <code>");
            hb_text(b, cell_str(x, "code_commit"));
            hb_raw(b, "</code>");
        }
        hb_raw(b, "</td></tr>");
    }
    hb_raw(b, "</tbody></table>");
}

/* The SVG of a lineage document inline (the prolog cut), or why not. */
void cell_graph(hb *b, json_t *graph) {
    char why[256];
    char *svg = graph_svg(graph, why, sizeof why);
    const char *start = svg ? strstr(svg, "<svg") : NULL;
    if (start) {
        hb_raw(b, "<div class=\"graph\">");
        hb_raw(b, start); /* Graphviz's output: every label XML-escaped by it */
        hb_raw(b, "</div>");
    } else {
        cell_error(b, svg ? "Graphviz drew no SVG" : why);
    }
    free(svg);
}

/* Retention runs, each linked to its audit and its plan, with the count of
 * each result when the document has them. */
void cell_runs(hb *b, json_t *runs) {
    static const cell_col cols[] = {
        {"run", C_ID, "id", "/run"},            {"plan", C_ID, "plan_id", "/plan"},
        {"mode", C_VALUE, "mode", NULL},        {"started", C_TIME, "started_at", NULL},
        {"finished", C_TIME, "finished_at", NULL}, {"refused", C_VALUE, "refused", NULL},
        {"results", C_COUNTS, "results", NULL}, {NULL, 0, NULL, NULL}};
    cell_table(b, runs, cols);
}

/* ------------------------------------------------------------ frame */

char *page_frame(const char *title, hb *body) {
    hb b = {0};
    hb_raw(&b, "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
               "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>");
    hb_text(&b, title);
    hb_raw(&b, " - artifact-watch</title><link rel=\"stylesheet\" href=\"/static/console.css\">"
               "</head><body><header><strong>artifact-watch</strong><a href=\"/\">Home</a>"
               "<a href=\"/alerts\">Alerts</a><a href=\"/retention\">Retention</a>"
               "<form action=\"/search\" method=\"get\" role=\"search\">"
               "<input name=\"q\" placeholder=\"key, prefix or sha256\" aria-label=\"search\"> "
               "<input name=\"bucket\" placeholder=\"bucket\" size=\"12\" aria-label=\"bucket\"> "
               "<button>Search</button></form></header><main>");
    char *inner = hb_take(body);
    hb_raw(&b, inner ? inner : "");
    free(inner);
    hb_raw(&b, "</main></body></html>\n");
    return hb_take(&b);
}

char *page_error(unsigned status, const char *why) {
    hb body = {0};
    hb_rawf(&body, "<h1>%u</h1>", status);
    cell_error(&body, why);
    return page_frame("Error", &body);
}

