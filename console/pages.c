/*
 * The console's pages for finding things: home, search, an object and its
 * lineage, drawn from their documents with the pieces of cells.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cells.h"

/* ------------------------------------------------------------ home */

void page_home(hb *b, json_t *doc, const aw_request *rq) {
    (void)rq;
    hb_raw(b, "<h1>Overview</h1><p class=\"muted\">as of ");
    cell_time(b, J(doc, "as_of"));
    hb_raw(b, "</p>");
    json_t *in = J(doc, "ingest");
    hb_raw(b, "<h2>Ingest</h2><p>group <code>");
    hb_text(b, cell_str(in, "group"));
    hb_raw(b, "</code> on topic <code>");
    hb_text(b, cell_str(in, "topic"));
    hb_raw(b, "</code>: ");
    if (J(in, "lag")) {
        hb_rawf(b, "<strong>%lld</strong> event(s) not indexed yet</p>",
                (long long)json_integer_value(J(in, "lag")));
    } else {
        hb_raw(b, "lag unknown (");
        hb_text(b, cell_str(in, "error"));
        hb_raw(b, ")</p>");
    }
    static const cell_col buckets[] = {
        {"store", C_TEXT, "store", NULL},          {"bucket", C_BUCKET, "bucket", NULL},
        {"live versions", C_NUM, "live_versions", NULL}, {"versions", C_NUM, "versions", NULL},
        {"live bytes", C_BYTES, "live_bytes", NULL}, {"last indexed", C_TIME, "last_indexed_at", NULL},
        {NULL, 0, NULL, NULL}};
    hb_raw(b, "<h2>Stores and buckets</h2>");
    cell_table(b, J(doc, "buckets"), buckets);
    json_t *al = J(doc, "alerts"), *sc = J(doc, "scrub");
    hb_rawf(b, "<h2>Integrity</h2><p><a href=\"/alerts\"><strong>%lld</strong> open alert(s)</a>",
            (long long)json_integer_value(J(al, "open")));
    const char *k;
    json_t *v;
    json_object_foreach(J(al, "by_kind"), k, v) {
        hb_raw(b, " &middot; ");
        hb_text(b, k);
        hb_rawf(b, " %lld", (long long)json_integer_value(v));
    }
    hb_rawf(b, "</p><p>scrub: %lld version(s) tracked, %lld due, %lld failing; last verified ",
            (long long)json_integer_value(J(sc, "tracked")),
            (long long)json_integer_value(J(sc, "due")),
            (long long)json_integer_value(J(sc, "failing")));
    cell_time(b, J(sc, "last_verified_at"));
    hb_raw(b, "</p>");
    hb_raw(b, "<h2>Retention runs</h2>");
    cell_runs(b, J(doc, "retention"));
}

/* ------------------------------------------------------------ search */

static const cell_col version_cols[] = {
    {"object", C_OBJECT, NULL, NULL},   {"store", C_TEXT, "store", NULL},
    {"version", C_CODE, "version", NULL}, {"state", C_LIVE, "state", NULL},
    {"size", C_BYTES, "size", NULL},    {"sha256", C_SHA, "sha256", NULL},
    {"event time", C_TIME, "event_time", NULL}, {NULL, 0, NULL, NULL}};

void page_search(hb *b, json_t *doc, const aw_request *rq) {
    (void)rq;
    hb_raw(b, "<h1>Search</h1><p>");
    hb_text(b, cell_str(doc, "kind"));
    hb_raw(b, " search for <code>");
    hb_text(b, cell_str(doc, "query"));
    hb_raw(b, "</code>");
    if (*cell_str(doc, "bucket")) {
        hb_raw(b, " in bucket <code>");
        hb_text(b, cell_str(doc, "bucket"));
        hb_raw(b, "</code>");
    }
    size_t n = json_array_size(J(doc, "results"));
    hb_rawf(b, ": %zu version(s)%s</p>", n,
            (json_int_t)n >= json_integer_value(J(doc, "limit")) ? " (the first ones; narrow it)"
                                                                 : "");
    cell_table(b, J(doc, "results"), version_cols);
}

/* ------------------------------------------------------------ object */

static void object_versions(hb *b, json_t *doc) {
    static const char *const t[] = {"version", "state", "size", "sha256", "etag", "event time",
                                    "indexed", "scrub", "observations", NULL};
    cell_head(b, t);
    size_t i, j;
    json_t *x, *o;
    json_int_t current = json_integer_value(J(doc, "current"));
    json_array_foreach(J(doc, "versions"), i, x) {
        hb_raw(b, "<tr><td><code>");
        hb_text(b, cell_str(x, "version"));
        hb_raw(b, "</code>");
        if (json_integer_value(J(x, "id")) == current)
            hb_raw(b, " <strong>current</strong>");
        hb_raw(b, "</td><td>");
        cell_state(b, cell_str(x, "state"));
        if (json_is_true(J(x, "deleted"))) {
            hb_raw(b, ", deleted by ");
            hb_text(b, cell_str(x, "deleted_by"));
        }
        hb_raw(b, "</td>");
        cell_td(b, true);
        cell_bytes(b, J(x, "size"));
        hb_raw(b, "</td><td>");
        cell_sha(b, J(x, "sha256"));
        hb_raw(b, "</td><td><code>");
        hb_text(b, cell_str(x, "etag"));
        hb_raw(b, "</code></td><td>");
        cell_time(b, J(x, "event_time"));
        hb_raw(b, "</td><td>");
        cell_time(b, J(x, "indexed_at"));
        hb_raw(b, "</td><td>");
        json_t *s = J(x, "scrub");
        if (json_is_object(s)) {
            cell_state(b, *cell_str(s, "last_result") ? cell_str(s, "last_result") : "not yet");
            hb_raw(b, " ");
            cell_time(b, J(s, "last_verified_at"));
        } else {
            hb_raw(b, "<span class=\"muted\">-</span>");
        }
        hb_rawf(b, "</td><td><details><summary>%zu</summary>", json_array_size(J(x, "observations")));
        json_array_foreach(J(x, "observations"), j, o) {
            hb_raw(b, "<div>");
            hb_text(b, cell_str(o, "source"));
            hb_raw(b, " ");
            hb_text(b, cell_str(o, "event_name"));
            hb_raw(b, " ");
            cell_time(b, J(o, "event_time"));
            if (*cell_str(o, "topic")) {
                hb_raw(b, " <code>");
                hb_text(b, cell_str(o, "topic"));
                hb_rawf(b, " [%lld] @%lld</code>", (long long)json_integer_value(J(o, "partition")),
                        (long long)json_integer_value(J(o, "offset")));
            }
            hb_raw(b, "</div>");
        }
        hb_raw(b, "</details></td></tr>");
    }
    hb_raw(b, "</tbody></table>");
}

static const cell_col alert_cols[] = {
    {"alert", C_ID, "id", "/alert"},      {"kind", C_TEXT, "kind", NULL},
    {"state", C_STATE, "state", NULL},    {"expected", C_SHA, "expected", NULL},
    {"actual", C_SHA, "actual", NULL},    {"last seen", C_TIME, "last_seen_at", NULL},
    {"blast radius", C_NUM, "blast_radius", NULL}, {NULL, 0, NULL, NULL}};

static const cell_col action_cols[] = {
    {"run", C_ID, "run_id", "/run"},      {"plan", C_ID, "plan_id", "/plan"},
    {"rule", C_TEXT, "rule", NULL},       {"action", C_TEXT, "action", NULL},
    {"result", C_STATE, "result", NULL},  {"message", C_VALUE, "message", NULL},
    {"acted", C_TIME, "acted_at", NULL},  {NULL, 0, NULL, NULL}};

void page_object(hb *b, json_t *doc, const aw_request *rq) {
    (void)rq;
    const char *store = cell_str(doc, "store"), *uri = cell_str(doc, "uri");
    hb_raw(b, "<h1>");
    hb_text(b, uri);
    hb_raw(b, "</h1><p>store <code>");
    hb_text(b, store);
    hb_raw(b, "</code> &middot; ");
    cell_lineage(b, store, uri, "up", "lineage upstream");
    hb_raw(b, " &middot; ");
    cell_lineage(b, store, uri, "down", "lineage downstream");
    hb_raw(b, "</p>");
    if (!json_array_size(J(doc, "versions")))
        cell_error(b, "no version of this object is indexed");
    hb_raw(b, "<h2>Versions</h2>");
    object_versions(b, doc);
    hb_raw(b, "<h2>Made from (3 steps)</h2>");
    cell_walk(b, J(doc, "upstream"), store);
    hb_raw(b, "<h2>Made from it (3 steps)</h2>");
    cell_walk(b, J(doc, "downstream"), store);
    hb_raw(b, "<h2>Alerts</h2>");
    cell_table(b, J(doc, "alerts"), alert_cols);
    static const char *const st[] = {"sidecar", "kind", "declared sha256", "run", "commit",
                                     "problem", NULL};
    hb_raw(b, "<h2>Sidecars</h2>");
    cell_head(b, st);
    size_t i;
    json_t *x;
    json_array_foreach(J(doc, "sidecars"), i, x) {
        hb_raw(b, "<tr><td>");
        cell_object(b, store, cell_str(doc, "bucket"), cell_str(x, "key"), cell_str(x, "key"));
        hb_raw(b, "</td><td>");
        hb_text(b, cell_str(x, "kind"));
        hb_raw(b, "</td><td>");
        cell_sha(b, J(x, "declared_sha256"));
        hb_raw(b, "</td><td>");
        cell_value(b, J(x, "run_key"));
        hb_raw(b, "</td><td>");
        cell_value(b, J(x, "code_commit"));
        hb_raw(b, "</td><td>");
        cell_value(b, J(x, "parse_error"));
        hb_raw(b, "</td></tr>");
    }
    hb_raw(b, "</tbody></table><h2>Retention</h2>");
    cell_table(b, J(doc, "retention"), action_cols);
}

/* ------------------------------------------------------------ lineage */

void page_lineage(hb *b, json_t *doc, const aw_request *rq) {
    const char *store = cell_str(doc, "store"), *uri = cell_str(doc, "uri");
    bool up = !strcmp(cell_str(doc, "direction"), "upstream");
    const char *as_of = aw_request_arg(rq, "as_of");
    hb_raw(b, "<h1>");
    hb_raw(b, up ? "What " : "What was made from ");
    cell_uri(b, store, uri);
    hb_raw(b, up ? " was made from" : "");
    hb_raw(b, "</h1><form action=\"/lineage\" method=\"get\"><input type=\"hidden\" name=\"uri\" "
              "value=\"");
    hb_text(b, uri);
    hb_raw(b, "\"><input type=\"hidden\" name=\"store\" value=\"");
    hb_text(b, store);
    hb_rawf(b, "\"><select name=\"dir\" aria-label=\"direction\"><option value=\"up\"%s>upstream"
               "</option><option value=\"down\"%s>downstream</option></select> depth "
               "<input name=\"depth\" size=\"3\" value=\"%lld\" aria-label=\"depth\"> as of "
               "<input name=\"as_of\" placeholder=\"now, or 2026-05-01T12:00:00Z\" "
               "aria-label=\"as of\" value=\"",
            up ? " selected" : "", up ? "" : " selected",
            (long long)json_integer_value(J(doc, "depth")));
    hb_text(b, as_of ? as_of : "");
    hb_raw(b, "\"> <button>Show</button></form>");
    if (!json_array_size(J(doc, "nodes"))) {
        cell_error(b, "no version of this object is indexed (as of that time)");
        return;
    }
    cell_graph(b, doc);
    hb_raw(b, "<h2>Nodes</h2>");
    cell_walk(b, J(doc, "nodes"), store);
}

