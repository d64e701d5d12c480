/*
 * `artifact-watch lineage up|down s3://bucket/key | file:///path`: the walks of
 * aw.lineage_upstream / aw.lineage_downstream printed as a table, JSON or
 * Graphviz DOT. Everything it shows comes from those SQL functions, so the
 * command line and SQL never disagree; it only reads. One query for the
 * nodes, and for DOT one more for every edge among them, so diamonds show
 * all their edges and not only the path by which a node was first reached.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aw/codec.h"
#include "aw/pg.h"
#include "aw/store.h"
#include "aw/util.h"
#include "commands.h"

enum { C_DEPTH, C_URI, C_VERSION, C_SHA, C_KIND, C_STATE, C_DECLARED, C_RUN, C_COMMIT,
       C_DELETED, C_ID, C_PATH, NCOLS };

static const char *const walk_sql[2] = {
    "SELECT depth, uri, version, sha256, edge_kind, edge_state, declared_sha256, run_key,"
    " code_commit, deleted, object_version_id, array_to_json(path)"
    " FROM aw.lineage_downstream($1, $2::int, NULLIF($3, '')::timestamptz, $4)"
    " ORDER BY depth, uri, version",
    "SELECT depth, uri, version, sha256, edge_kind, edge_state, declared_sha256, run_key,"
    " code_commit, deleted, object_version_id, array_to_json(path)"
    " FROM aw.lineage_upstream($1, $2::int, NULLIF($3, '')::timestamptz, $4)"
    " ORDER BY depth, uri, version"};

static const char *const edges_sql =
    "SELECT DISTINCT e.parent_version_id, d.parent_uri, e.child_version_id, e.kind, e.state"
    " FROM aw.edges e JOIN aw.lineage_decls d ON d.id = e.decl_id"
    " WHERE e.child_version_id = ANY ($1::bigint[])"
    "   AND (e.parent_version_id = ANY ($1::bigint[])"
    "        OR (e.parent_version_id IS NULL AND d.parent_uri = ANY ($2::text[])))"
    "   AND (NULLIF($3, '') IS NULL OR e.declared_at <= NULLIF($3, '')::timestamptz)"
    " ORDER BY 3, 1, 2";

#define V(r, i, c) aw_pg_result_get((r), (i), (c))
#define S(x) ((x) ? (x) : "")

/* An integer column; the SQL walk never returns anything else there. */
static long num(const aw_pg_result *r, int row, int col) {
    long v = 0;
    return aw_parse_long(V(r, row, col), -1, 1L << 62, &v) == AW_OK ? v : 0;
}

/* Text from the database (keys, run ids, commits) as it may be shown on a
 * terminal: control bytes and what is not UTF-8 escaped. */
static const char *safe(const char *s, char *buf, size_t n) {
    aw_escape_text(s ? s : "", s ? strlen(s) : 0, buf, n);
    return buf;
}

static void short_hex(const char *h, char out[16]) {
    snprintf(out, 16, "%.12s", h ? h : "-");
}

static void print_table(const aw_pg_result *r) {
    int n = aw_pg_result_rows(r);
    size_t wuri = 3, wver = 7;
    for (int i = 0; i < n; i++) {
        size_t l = strlen(S(V(r, i, C_URI))) + 2 * (size_t)num(r, i, C_DEPTH);
        if (l > wuri)
            wuri = l;
        if (strlen(S(V(r, i, C_VERSION))) > wver)
            wver = strlen(S(V(r, i, C_VERSION)));
    }
    if (wuri > 100)
        wuri = 100;
    if (wver > 40)
        wver = 40;
    printf("%-5s  %-10s  %-11s  %-*s  %-*s  %-12s  %-12s  %s\n", "DEPTH", "STATE", "EDGE",
           (int)wuri, "URI", (int)wver, "VERSION", "SHA256", "DECLARED", "RUN/COMMIT");
    for (int i = 0; i < n; i++) {
        int depth = (int)num(r, i, C_DEPTH);
        char uri[1200], sha[16], decl[16], run[300], e1[1100], e2[140], e3[140], ver[200];
        snprintf(uri, sizeof uri, "%*s%s%s", 2 * depth, "", safe(V(r, i, C_URI), e1, sizeof e1),
                 V(r, i, C_DELETED) && !strcmp(V(r, i, C_DELETED), "t") ? " (deleted)" : "");
        short_hex(V(r, i, C_SHA), sha);
        short_hex(V(r, i, C_DECLARED), decl);
        snprintf(run, sizeof run, "%s%s%s", safe(V(r, i, C_RUN), e2, sizeof e2),
                 V(r, i, C_RUN) && V(r, i, C_COMMIT) ? " " : "",
                 safe(V(r, i, C_COMMIT), e3, sizeof e3));
        printf("%-5d  %-10s  %-11s  %-*s  %-*s  %-12s  %-12s  %s\n", depth,
               V(r, i, C_STATE) ? V(r, i, C_STATE) : (depth ? "-" : "start"),
               V(r, i, C_KIND) ? V(r, i, C_KIND) : "-", (int)wuri, uri, (int)wver,
               V(r, i, C_VERSION) ? safe(V(r, i, C_VERSION), ver, sizeof ver) : "-", sha, decl,
               *run ? run : "-");
    }
}

static json_t *jstr(const char *s) {
    return s ? json_string(s) : json_null();
}

static int print_json(const aw_pg_result *r, const char *dir, const char *uri) {
    json_t *nodes = json_array();
    int n = aw_pg_result_rows(r);
    for (int i = 0; i < n; i++) {
        json_error_t je;
        const char *p = V(r, i, C_PATH);
        json_t *path = p ? json_loads(p, 0, &je) : json_array();
        const char *id = V(r, i, C_ID);
        json_t *o = json_pack(
            "{s:i, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:b, s:o, s:o}", "depth",
            (int)num(r, i, C_DEPTH), "uri", jstr(V(r, i, C_URI)), "version",
            jstr(V(r, i, C_VERSION)), "sha256", jstr(V(r, i, C_SHA)), "edge_kind",
            jstr(V(r, i, C_KIND)), "edge_state", jstr(V(r, i, C_STATE)), "declared_sha256",
            jstr(V(r, i, C_DECLARED)), "run", jstr(V(r, i, C_RUN)), "code_commit",
            jstr(V(r, i, C_COMMIT)), "deleted",
            V(r, i, C_DELETED) && !strcmp(V(r, i, C_DELETED), "t"), "object_version_id",
            id ? json_integer(num(r, i, C_ID)) : json_null(), "path", path ? path : json_null());
        if (!o || json_array_append_new(nodes, o)) {
            json_decref(nodes);
            return 1;
        }
    }
    json_t *doc = json_pack("{s:s, s:s, s:o}", "direction", dir, "uri", uri, "nodes", nodes);
    char *s = doc ? json_dumps(doc, JSON_INDENT(2)) : NULL;
    json_decref(doc);
    if (!s)
        return 1;
    puts(s);
    free(s);
    return 0;
}

static void dot_str(const char *raw) {
    char buf[4096];
    const char *s = safe(raw, buf, sizeof buf);
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            putchar('\\');
        if (*s == '\n')
            fputs("\\n", stdout);
        else
            putchar(*s);
    }
    putchar('"');
}

static const char *state_color(const char *st) {
    if (!st)
        return "black";
    if (!strcmp(st, "verified"))
        return "darkgreen";
    if (!strcmp(st, "mismatch"))
        return "red";
    if (!strcmp(st, "missing"))
        return "orange";
    return "gray40";
}

/* A node's DOT name: its version id, or its URI for a parent never seen. */
static void dot_node_id(const char *id, const char *uri) {
    if (id)
        printf("v%s", id);
    else
        dot_str(uri);
}

static int print_dot(aw_pg *pg, const aw_pg_result *r, const char *as_of, char *err,
                     size_t errn) {
    int n = aw_pg_result_rows(r);
    /* arrays of the node ids and of the URIs of never-seen parents */
    size_t cap = 16;
    for (int i = 0; i < n; i++)
        cap += strlen(S(V(r, i, C_URI))) * 2 + 32;
    char *ids = malloc(cap), *uris = malloc(cap);
    if (!ids || !uris) {
        free(ids);
        free(uris);
        return 1;
    }
    size_t il = 0, ul = 0;
    il += (size_t)snprintf(ids + il, cap - il, "{");
    ul += (size_t)snprintf(uris + ul, cap - ul, "{");
    for (int i = 0; i < n; i++) {
        if (V(r, i, C_ID)) {
            il += (size_t)snprintf(ids + il, cap - il, "%s%s", il > 1 ? "," : "", V(r, i, C_ID));
        } else {
            ul += (size_t)snprintf(uris + ul, cap - ul, "%s\"", ul > 1 ? "," : "");
            for (const char *s = S(V(r, i, C_URI)); *s; s++) {
                if (*s == '"' || *s == '\\')
                    uris[ul++] = '\\';
                uris[ul++] = *s;
            }
            uris[ul++] = '"';
        }
    }
    snprintf(ids + il, cap - il, "}");
    snprintf(uris + ul, cap - ul, "}");
    const char *params[3] = {ids, uris, as_of};
    aw_pg_result *er = NULL;
    int rc = aw_pg_query(pg, edges_sql, 3, params, &er, err, errn);
    free(ids);
    free(uris);
    if (rc != AW_OK)
        return 1;
    printf("digraph lineage {\n  rankdir=LR;\n  node [shape=box, fontname=\"Helvetica\", "
           "fontsize=10];\n  edge [fontname=\"Helvetica\", fontsize=9];\n");
    for (int i = 0; i < n; i++) {
        char label[1400], sha[16];
        short_hex(V(r, i, C_SHA), sha);
        bool deleted = V(r, i, C_DELETED) && !strcmp(V(r, i, C_DELETED), "t");
        snprintf(label, sizeof label, "%s\n%s%s", S(V(r, i, C_URI)),
                 V(r, i, C_ID) ? sha : "never seen", deleted ? " (deleted)" : "");
        printf("  ");
        dot_node_id(V(r, i, C_ID), V(r, i, C_URI));
        printf(" [label=");
        dot_str(label);
        if (!V(r, i, C_ID) || deleted)
            printf(", style=dashed, color=orange");
        if (num(r, i, C_DEPTH) == 0)
            printf(", penwidth=2");
        printf("];\n");
    }
    for (int i = 0; i < aw_pg_result_rows(er); i++) {
        const char *st = V(er, i, 4);
        printf("  ");
        dot_node_id(V(er, i, 0), V(er, i, 1));
        printf(" -> v%s [label=", V(er, i, 2));
        dot_str(st);
        printf(", color=%s%s];\n", state_color(st),
               st && !strcmp(st, "missing") ? ", style=dashed" : "");
    }
    printf("}\n");
    aw_pg_result_free(er);
    return 0;
}

int cmd_lineage(aw_config *cfg) {
    static const aw_verb verbs[] = {
        {"up", 1, " s3://bucket/key|file:///path [--depth N] [--as-of TIME] [--format table|json|dot]"},
        {"down", 1, " s3://bucket/key|file:///path [--depth N] [--as-of TIME] [--format table|json|dot]"},
        {"upstream", 1, NULL},
        {"downstream", 1, NULL},
        {NULL, 0, NULL},
    };
    int verb = aw_verb_pick("lineage", verbs, cfg);
    if (verb < 0)
        return 2;
    int up = verb % 2 == 0;
    const char *uri = cfg->args[1];
    char err[1024], depth[24], s3uri[2200];
    if (!strncmp(uri, "file://", 7)) { /* a file of a folder: its bucket and key */
        char *b = NULL, *k = NULL;
        int frc = aw_store_file_uri(cfg, uri, &b, &k, err, sizeof err);
        if (frc == AW_OK && aw_fmt(s3uri, sizeof s3uri, "s3://%s/%s", b, k) != AW_OK)
            frc = AW_EINVAL;
        free(b), free(k);
        if (frc != AW_OK) {
            fprintf(stderr, "artifact-watch lineage: %s\n", frc == AW_EINVAL && !*err
                    ? "path too long" : err);
            return 2;
        }
        uri = s3uri;
    }
    snprintf(depth, sizeof depth, "%ld", cfg->lineage_depth);
    aw_pg *pg = NULL;
    if (aw_pg_connect(cfg->pg_conninfo, &pg, err, sizeof err) != AW_OK) {
        fprintf(stderr, "artifact-watch lineage: %s\n", err);
        return 1;
    }
    const char *params[4] = {uri, depth, cfg->lineage_as_of, cfg->s3_store};
    aw_pg_result *r = NULL;
    int status = 0;
    if (aw_pg_query(pg, walk_sql[up], 4, params, &r, err, sizeof err) != AW_OK) {
        /* a bad URI (22023) and a bad time (class 22: 22007, 22008) are the
         * caller's; anything else is the database's */
        bool usage_err = !strncmp(aw_pg_sqlstate(pg), "22", 2);
        fprintf(stderr, "artifact-watch lineage: %s\n", err);
        aw_pg_destroy(pg);
        return usage_err ? 2 : 1;
    }
    if (aw_pg_result_rows(r) == 0) {
        fprintf(stderr, "artifact-watch lineage: no version of %s is indexed%s%s\n", uri,
                *cfg->lineage_as_of ? " as of " : "", cfg->lineage_as_of);
        status = 1;
    } else if (cfg->lineage_format == AW_FMT_TABLE) {
        print_table(r);
    } else if (cfg->lineage_format == AW_FMT_JSON) {
        status = print_json(r, up ? "upstream" : "downstream", uri);
    } else {
        status = print_dot(pg, r, cfg->lineage_as_of, err, sizeof err);
        if (status)
            fprintf(stderr, "artifact-watch lineage: %s\n", err);
    }
    aw_pg_result_free(r);
    aw_pg_destroy(pg);
    return status;
}
