/*
 * The console's reports: alerts with their blast radius, retention plans
 * with the cap arithmetic and the reasons, runs with their audit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cells.h"

/* ------------------------------------------------------------ alerts */

void page_alerts(hb *b, json_t *doc, const aw_request *rq) {
    (void)rq;
    hb_raw(b, "<h1>Alerts</h1><p>");
    static const char *const states[] = {"open", "resolved", "all"};
    for (int i = 0; i < 3; i++)
        hb_rawf(b, "%s<a href=\"/alerts?state=%s\">%s%s%s</a>", i ? " &middot; " : "",
                states[i], strcmp(cell_str(doc, "state"), states[i]) ? "" : "<strong>", states[i],
                strcmp(cell_str(doc, "state"), states[i]) ? "" : "</strong>");
    hb_raw(b, "</p>");
    static const cell_col cols[] = {
        {"alert", C_ID, "id", "/alert"},   {"kind", C_TEXT, "kind", NULL},
        {"state", C_STATE, "state", NULL}, {"object", C_OBJECT, NULL, NULL},
        {"blast radius", C_NUM, "blast_radius", NULL},
        {"first seen", C_TIME, "first_seen_at", NULL},
        {"last seen", C_TIME, "last_seen_at", NULL}, {"seen", C_NUM, "seen_count", NULL},
        {NULL, 0, NULL, NULL}};
    cell_table(b, J(doc, "alerts"), cols);
}

void page_alert(hb *b, json_t *doc, const aw_request *rq) {
    (void)rq;
    hb_rawf(b, "<h1>Alert %lld: ", (long long)json_integer_value(J(doc, "id")));
    hb_text(b, cell_str(doc, "kind"));
    hb_raw(b, "</h1><dl>");
    static const char *const fields[] = {"state", "store", "version_id", "expected", "actual",
                                         "first_seen_at", "last_seen_at", "seen_count",
                                         "resolved_at", "blast_radius", "detail", NULL};
    hb_raw(b, "<dt>object</dt><dd>");
    cell_object(b, cell_str(doc, "store"), cell_str(doc, "bucket"), cell_str(doc, "key"), NULL);
    hb_raw(b, "</dd>");
    for (int i = 0; fields[i]; i++) {
        hb_raw(b, "<dt>");
        hb_raw(b, fields[i]);
        hb_raw(b, "</dt><dd>");
        cell_value(b, J(doc, fields[i]));
        hb_raw(b, "</dd>");
    }
    json_t *down = J(doc, "downstream");
    hb_rawf(b, "</dl><h2>Blast radius: %lld artifact(s) made from it</h2>",
            (long long)json_integer_value(J(doc, "blast_radius")));
    hb_rawf(b, "<p class=\"muted\">drawn ten steps deep (%zu version(s)); ",
            json_array_size(J(down, "nodes")));
    cell_lineage(b, cell_str(doc, "store"), cell_str(doc, "uri"), "down", "the lineage page");
    hb_raw(b, " goes deeper</p>");
    if (json_array_size(J(down, "nodes")))
        cell_graph(b, down);
    cell_walk(b, J(down, "nodes"), cell_str(doc, "store"));
}

/* ------------------------------------------------------------ retention */

void page_retention(hb *b, json_t *doc, const aw_request *rq) {
    (void)rq;
    hb_raw(b, "<h1>Retention</h1><h2>Plans</h2>");
    static const cell_col cols[] = {
        {"plan", C_ID, "id", "/plan"},           {"made", C_TIME, "generated_at", NULL},
        {"rules", C_VALUE, "rules_path", NULL},  {"rules sha256", C_SHA, "rules_sha256", NULL},
        {"actions", C_NUM, "actions", NULL},     {NULL, 0, NULL, NULL}};
    cell_table(b, J(doc, "plans"), cols);
    hb_raw(b, "<h2>Runs</h2>");
    cell_runs(b, J(doc, "runs"));
}

/* The cap arithmetic: planned deletions over live objects, per bucket. */
static void plan_buckets(hb *b, json_t *doc) {
    double cap = json_number_value(J(doc, "max_delete_fraction"));
    hb_rawf(b, "<h2>Safety cap: at most %.0f%% of a bucket's live objects</h2>", cap * 100);
    static const char *const t[] = {"bucket", "live objects", "live bytes", "planned deletions",
                                    "planned bytes", "fraction", "cap", NULL};
    cell_head(b, t);
    size_t i;
    json_t *x;
    json_array_foreach(J(doc, "buckets"), i, x) {
        double f = json_number_value(J(x, "fraction"));
        hb_raw(b, "<tr><td>");
        hb_text(b, cell_str(x, "bucket"));
        hb_raw(b, "</td>");
        cell_td(b, true);
        cell_value(b, J(x, "live_objects"));
        hb_raw(b, "</td>");
        cell_td(b, true);
        cell_bytes(b, J(x, "live_bytes"));
        hb_raw(b, "</td>");
        cell_td(b, true);
        cell_value(b, J(x, "planned_objects"));
        hb_raw(b, "</td>");
        cell_td(b, true);
        cell_bytes(b, J(x, "planned_bytes"));
        hb_rawf(b, "</td><td class=\"n\">%.2f%%</td><td>%s</td></tr>", f * 100,
                f > cap ? "<span class=\"failed\">over: refused without --force</span>"
                        : "<span class=\"ok\">within</span>");
    }
    hb_raw(b, "</tbody></table>");
}

void page_plan(hb *b, json_t *doc, const aw_request *rq) {
    (void)rq;
    hb_rawf(b, "<h1>Retention plan %lld</h1><p>made ", (long long)json_integer_value(J(doc, "id")));
    cell_time(b, J(doc, "generated_at"));
    hb_raw(b, " from <code>");
    hb_text(b, cell_str(doc, "rules_path"));
    hb_raw(b, "</code> (sha256 ");
    cell_sha(b, J(doc, "rules_sha256"));
    hb_raw(b, ")");
    size_t i;
    json_t *x;
    json_array_foreach(J(doc, "runs"), i, x) {
        hb_raw(b, i ? ", " : "; applied by run ");
        cell_id(b, "/run", x);
    }
    hb_raw(b, "</p><p>");
    const char *k;
    json_t *v;
    json_object_foreach(J(doc, "counts"), k, v) {
        hb_text(b, k);
        hb_rawf(b, " <strong>%lld</strong> &nbsp; ", (long long)json_integer_value(v));
    }
    hb_raw(b, "</p>");
    plan_buckets(b, doc);
    hb_raw(b, "<h2>Actions</h2>");
    static const cell_col cols[] = {
        {"#", C_NUM, "ordinal", NULL},          {"action", C_STATE, "action", NULL},
        {"rule", C_TEXT, "rule", NULL},         {"object", C_OBJECT, NULL, NULL},
        {"version", C_CODE, "version_id", NULL}, {"size", C_BYTES, "size", NULL},
        {"age", C_DAYS, "age_s", NULL},         {"wave", C_NUM, "wave", NULL},
        {"why", C_TEXT, "reason", NULL},        {NULL, 0, NULL, NULL}};
    cell_table(b, J(doc, "actions"), cols);
}

void page_run(hb *b, json_t *doc, const aw_request *rq) {
    (void)rq;
    hb_rawf(b, "<h1>Retention run %lld</h1><dl>", (long long)json_integer_value(J(doc, "id")));
    static const char *const fields[] = {"mode", "started_at", "finished_at", "refused", "holder",
                                         "rules_sha256", NULL};
    hb_raw(b, "<dt>plan</dt><dd>");
    if (json_is_integer(J(doc, "plan_id")))
        cell_id(b, "/plan", J(doc, "plan_id"));
    hb_raw(b, "</dd>");
    for (int i = 0; fields[i]; i++) {
        hb_rawf(b, "<dt>%s</dt><dd>", fields[i]);
        cell_value(b, J(doc, fields[i]));
        hb_raw(b, "</dd>");
    }
    hb_raw(b, "</dl><h2>Audit: every action, in the order it was taken</h2>");
    static const cell_col cols[] = {
        {"#", C_NUM, "id", NULL},                 {"action", C_TEXT, "action", NULL},
        {"rule", C_TEXT, "rule", NULL},           {"object", C_OBJECT, NULL, NULL},
        {"version", C_CODE, "version_id", NULL},  {"result", C_STATE, "result", NULL},
        {"HTTP", C_VALUE, "http_status", NULL},   {"message", C_VALUE, "message", NULL},
        {"pending at", C_TIME, "pending_at", NULL}, {"acted at", C_TIME, "acted_at", NULL},
        {NULL, 0, NULL, NULL}};
    cell_table(b, J(doc, "actions"), cols);
}
