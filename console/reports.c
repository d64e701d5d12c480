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
    static const char *const t[] = {"alert", "kind", "state", "object", "blast radius",
                                    "first seen", "last seen", "seen", NULL};
    cell_head(b, t);
    size_t i;
    json_t *x;
    json_array_foreach(J(doc, "alerts"), i, x) {
        hb_raw(b, "<tr><td>");
        cell_id(b, "/alert", J(x, "id"));
        hb_raw(b, "</td><td>");
        hb_text(b, cell_str(x, "kind"));
        hb_raw(b, "</td><td>");
        cell_state(b, cell_str(x, "state"));
        hb_raw(b, "</td><td>");
        cell_object(b, cell_str(x, "store"), cell_str(x, "bucket"), cell_str(x, "key"), NULL);
        hb_raw(b, "</td>");
        cell_td(b, true);
        cell_value(b, J(x, "blast_radius"));
        hb_raw(b, "</td><td>");
        cell_time(b, J(x, "first_seen_at"));
        hb_raw(b, "</td><td>");
        cell_time(b, J(x, "last_seen_at"));
        hb_raw(b, "</td>");
        cell_td(b, true);
        cell_value(b, J(x, "seen_count"));
        hb_raw(b, "</td></tr>");
    }
    hb_raw(b, "</tbody></table>");
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
    static const char *const pt[] = {"plan", "made", "rules", "rules sha256", "actions", NULL};
    cell_head(b, pt);
    size_t i;
    json_t *x;
    json_array_foreach(J(doc, "plans"), i, x) {
        hb_raw(b, "<tr><td>");
        cell_id(b, "/plan", J(x, "id"));
        hb_raw(b, "</td><td>");
        cell_time(b, J(x, "generated_at"));
        hb_raw(b, "</td><td>");
        cell_value(b, J(x, "rules_path"));
        hb_raw(b, "</td><td>");
        cell_sha(b, J(x, "rules_sha256"));
        hb_raw(b, "</td>");
        cell_td(b, true);
        cell_value(b, J(x, "actions"));
        hb_raw(b, "</td></tr>");
    }
    hb_raw(b, "</tbody></table><h2>Runs</h2>");
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
    static const char *const t[] = {"#", "action", "rule", "object", "version", "size", "age",
                                    "wave", "why", NULL};
    cell_head(b, t);
    json_array_foreach(J(doc, "actions"), i, x) {
        hb_raw(b, "<tr>");
        cell_td(b, true);
        cell_value(b, J(x, "ordinal"));
        hb_raw(b, "</td><td>");
        cell_state(b, cell_str(x, "action"));
        hb_raw(b, "</td><td>");
        hb_text(b, cell_str(x, "rule"));
        hb_raw(b, "</td><td>");
        cell_object(b, cell_str(x, "store"), cell_str(x, "bucket"), cell_str(x, "key"), NULL);
        hb_raw(b, "</td><td><code>");
        hb_text(b, cell_str(x, "version_id"));
        hb_raw(b, "</code></td>");
        cell_td(b, true);
        cell_bytes(b, J(x, "size"));
        hb_raw(b, "</td>");
        cell_td(b, true);
        hb_rawf(b, "%lldd", (long long)json_integer_value(J(x, "age_s")) / 86400);
        hb_raw(b, "</td>");
        cell_td(b, true);
        cell_value(b, J(x, "wave"));
        hb_raw(b, "</td><td>");
        hb_text(b, cell_str(x, "reason"));
        hb_raw(b, "</td></tr>");
    }
    hb_raw(b, "</tbody></table>");
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
    static const char *const t[] = {"#", "action", "rule", "object", "version", "result", "HTTP",
                                    "message", "pending at", "acted at", NULL};
    cell_head(b, t);
    size_t i;
    json_t *x;
    json_array_foreach(J(doc, "actions"), i, x) {
        hb_raw(b, "<tr>");
        cell_td(b, true);
        cell_value(b, J(x, "id"));
        hb_raw(b, "</td><td>");
        hb_text(b, cell_str(x, "action"));
        hb_raw(b, "</td><td>");
        hb_text(b, cell_str(x, "rule"));
        hb_raw(b, "</td><td>");
        cell_object(b, cell_str(x, "store"), cell_str(x, "bucket"), cell_str(x, "key"), NULL);
        hb_raw(b, "</td><td><code>");
        hb_text(b, cell_str(x, "version_id"));
        hb_raw(b, "</code></td><td>");
        cell_state(b, cell_str(x, "result"));
        hb_raw(b, "</td><td>");
        cell_value(b, J(x, "http_status"));
        hb_raw(b, "</td><td>");
        cell_value(b, J(x, "message"));
        hb_raw(b, "</td><td>");
        cell_time(b, J(x, "pending_at"));
        hb_raw(b, "</td><td>");
        cell_time(b, J(x, "acted_at"));
        hb_raw(b, "</td></tr>");
    }
    hb_raw(b, "</tbody></table>");
}
