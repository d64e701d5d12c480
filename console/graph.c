/*
 * A lineage document (aw.lineage_graph: nodes and the edges among them)
 * drawn as SVG with Graphviz's library: left to right, the start in bold,
 * each node a link to its object page, edges coloured by their state. The
 * one file that includes Graphviz; its library is not thread-safe, so one
 * drawing at a time.
 */
#include <graphviz/gvc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aw/codec.h"
#include "cells.h"

/* Past this many nodes a drawing takes seconds and says little: the page's
 * table lists them. */
#define MAX_DRAWN 400

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static GVC_t *gvc;

/* Text for a Graphviz label: printable (aw_escape_text), with every
 * backslash doubled so none starts an escape of Graphviz's. */
static void label_text(hb *b, const char *s) {
    char safe[2200];
    aw_escape_text(s, strlen(s), safe, sizeof safe);
    for (const char *c = safe; *c; c++) {
        char one[2] = {*c, 0};
        hb_raw(b, *c == '\\' ? "\\\\" : one);
    }
}

static void node_name(const json_t *n, char *out, size_t cap) {
    json_int_t id = json_integer_value(json_object_get((json_t *)n, "object_version_id"));
    if (id)
        snprintf(out, cap, "v%lld", (long long)id);
    else
        snprintf(out, cap, "u:%.1000s", cell_str((json_t *)n, "uri"));
}

static const char *edge_color(const char *state) {
    return !strcmp(state, "verified") ? "#17803d" : !strcmp(state, "mismatch") ? "#b42318"
           : !strcmp(state, "missing") ? "#c2410c" : "#6b7280";
}

static void add_node(Agraph_t *g, json_t *n, const char *store) {
    char name[1100];
    node_name(n, name, sizeof name);
    Agnode_t *v = agnode(g, name, 1);
    hb lb = {0}, url = {0};
    const char *uri = cell_str(n, "uri"), *slash = strrchr(uri, '/');
    label_text(&lb, slash ? slash + 1 : uri);
    hb_raw(&lb, "\\n");
    label_text(&lb, uri);
    if (*cell_str(n, "version")) {
        hb_raw(&lb, "\\n");
        label_text(&lb, cell_str(n, "version"));
    }
    if (*cell_str(n, "sha256")) {
        char sha[16];
        snprintf(sha, sizeof sha, "%.12s", cell_str(n, "sha256"));
        hb_raw(&lb, "\\nsha256 ");
        hb_raw(&lb, sha);
    }
    hb_raw(&url, "/object?uri=");
    hb_query(&url, uri);
    hb_raw(&url, "&amp;store="); /* kept as written by Graphviz: valid XML */
    hb_query(&url, store);
    char *l = hb_take(&lb), *u = hb_take(&url);
    agsafeset(v, "label", l ? l : "", "");
    agsafeset(v, "URL", u ? u : "", "");
    agsafeset(v, "target", "_top", "");
    bool start = json_integer_value(json_object_get(n, "depth")) == 0;
    bool gone = json_is_true(json_object_get(n, "deleted")) || !json_integer_value(
                                                                   json_object_get(n, "object_version_id"));
    agsafeset(v, "penwidth", start ? "2.5" : "1", "1");
    agsafeset(v, "style", gone ? "dashed" : "solid", "solid");
    free(l);
    free(u);
}

char *graph_svg(json_t *doc, char *why, size_t n) {
    json_t *nodes = json_object_get(doc, "nodes"), *edges = json_object_get(doc, "edges");
    const char *store = cell_str(doc, "store");
    if (json_array_size(nodes) > MAX_DRAWN) {
        snprintf(why, n, "%zu nodes are more than the %d drawn: see the table, or ask for less "
                         "depth", json_array_size(nodes), MAX_DRAWN);
        return NULL;
    }
    pthread_mutex_lock(&mu);
    if (!gvc)
        gvc = gvContext();
    Agraph_t *g = gvc ? agopen("lineage", Agdirected, NULL) : NULL;
    if (!g) {
        pthread_mutex_unlock(&mu);
        snprintf(why, n, "Graphviz could not start");
        return NULL;
    }
    agattr(g, AGRAPH, "rankdir", "LR");
    agattr(g, AGRAPH, "bgcolor", "transparent");
    agattr(g, AGNODE, "shape", "box");
    agattr(g, AGNODE, "fontname", "Helvetica");
    agattr(g, AGNODE, "fontsize", "10");
    agattr(g, AGEDGE, "fontsize", "9");
    size_t i;
    json_t *x;
    json_array_foreach(nodes, i, x) add_node(g, x, store);
    json_array_foreach(edges, i, x) {
        char from[1100], to[32];
        json_int_t p = json_integer_value(json_object_get(x, "parent"));
        if (p)
            snprintf(from, sizeof from, "v%lld", (long long)p);
        else
            snprintf(from, sizeof from, "u:%.1000s", cell_str(x, "parent_uri"));
        snprintf(to, sizeof to, "v%lld", (long long)json_integer_value(json_object_get(x, "child")));
        Agnode_t *a = agnode(g, from, 0), *b = agnode(g, to, 0);
        if (!a || !b)
            continue; /* an edge to a node beyond the depth asked for */
        /* upstream or down, the arrow points from what was used to what was made */
        Agedge_t *e = agedge(g, a, b, NULL, 1);
        const char *st = cell_str(x, "state");
        agsafeset(e, "color", (char *)edge_color(st), "");
        agsafeset(e, "fontcolor", (char *)edge_color(st), "");
        agsafeset(e, "label", (char *)st, "");
        agsafeset(e, "style", !strcmp(st, "missing") ? "dashed" : "solid", "solid");
    }
    char *svg = NULL, *data = NULL;
    unsigned int len = 0;
    if (gvLayout(gvc, g, "dot") == 0) {
        if (gvRenderData(gvc, g, "svg", &data, &len) == 0 && data)
            svg = strndup(data, len);
        gvFreeRenderData(data);
        gvFreeLayout(gvc, g);
    }
    agclose(g);
    pthread_mutex_unlock(&mu);
    if (!svg)
        snprintf(why, n, "Graphviz could not draw the graph");
    return svg;
}
