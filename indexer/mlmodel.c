/*
 * MLflow's MLmodel file (YAML) as JSON, so the sidecar reader reads it like
 * a folder's metadata.json. libyaml builds the document; mappings become
 * objects (keys as text), sequences arrays, plain scalars true/false, null,
 * numbers or strings, quoted scalars strings. libyaml resolves an alias to
 * the node it names, so a few lines of anchors can stand for billions of
 * nodes, or one long string copied thousands of times: the conversion
 * counts every node it visits and every byte of text it copies, and gives
 * up past MAX_NODES nodes or 16 times the file's size (an MLmodel has a few
 * dozen nodes and no aliases); nesting is bounded too.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "sidecar.h"

#define MAX_DEPTH 64
#define MAX_NODES 20000

typedef struct budget {
    long nodes;
    size_t bytes;
    bool spent;
} budget;

/* Takes a node of n bytes of text from the budget; false when it is spent. */
static bool spend(budget *bg, size_t n) {
    if (bg->nodes-- <= 0 || n > bg->bytes)
        bg->spent = true;
    else
        bg->bytes -= n;
    return !bg->spent;
}

static json_t *scalar(const yaml_node_t *n) {
    const char *v = (const char *)n->data.scalar.value;
    size_t l = n->data.scalar.length;
    if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE || memchr(v, '\0', l))
        return json_stringn(v, l);
    if (!strcmp(v, "true") || !strcmp(v, "True"))
        return json_true();
    if (!strcmp(v, "false") || !strcmp(v, "False"))
        return json_false();
    if (!strcmp(v, "null") || !strcmp(v, "~") || l == 0)
        return json_null();
    char *end;
    long long i = strtoll(v, &end, 10);
    if (l && *end == '\0' && strspn(v, "-0123456789") == l && l < 19)
        return json_integer(i);
    return json_stringn(v, l);
}

static json_t *convert(yaml_document_t *doc, yaml_node_t *n, int depth, budget *bg) {
    if (!n || depth > MAX_DEPTH ||
        !spend(bg, n->type == YAML_SCALAR_NODE ? n->data.scalar.length : 0))
        return NULL;
    if (n->type == YAML_SCALAR_NODE)
        return scalar(n);
    if (n->type == YAML_SEQUENCE_NODE) {
        json_t *a = json_array();
        for (yaml_node_item_t *it = n->data.sequence.items.start;
             a && it < n->data.sequence.items.top; it++) {
            json_t *v = convert(doc, yaml_document_get_node(doc, *it), depth + 1, bg);
            if (!v || json_array_append_new(a, v)) {
                json_decref(a);
                return NULL;
            }
        }
        return a;
    }
    json_t *o = json_object();
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
         o && p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(doc, p->key);
        json_t *v = convert(doc, yaml_document_get_node(doc, p->value), depth + 1,
                            bg);
        if (!k || k->type != YAML_SCALAR_NODE || !v || !spend(bg, k->data.scalar.length) ||
            json_object_setn_new(o, (const char *)k->data.scalar.value, k->data.scalar.length,
                                 v)) {
            json_decref(v);
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

int aw_mlmodel_json(const char *body, size_t len, char **json, char *why, size_t n) {
    *json = NULL;
    yaml_parser_t p;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&p))
        return AW_ENOMEM;
    yaml_parser_set_input_string(&p, (const unsigned char *)body, len);
    if (!yaml_parser_load(&p, &doc)) {
        snprintf(why, n, "invalid YAML at line %zu column %zu: %s", p.problem_mark.line + 1,
                 p.problem_mark.column + 1, p.problem ? p.problem : "unreadable");
        yaml_parser_delete(&p);
        return AW_EPARSE;
    }
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    budget bg = {.nodes = MAX_NODES, .bytes = 16 * len + 65536};
    json_t *j = root ? convert(&doc, root, 0, &bg) : NULL;
    yaml_document_delete(&doc);
    yaml_parser_delete(&p);
    if (!j) {
        snprintf(why, n, "%s", !root       ? "empty"
                               : bg.spent ? "expands to more than 20000 nodes or 16 times its "
                                            "size (aliases?)"
                                            : "nested deeper than 64 levels, or keys that are "
                                              "not text");
        return AW_EPARSE;
    }
    *json = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_ENCODE_ANY);
    json_decref(j);
    return *json ? AW_OK : AW_ENOMEM;
}

/* An MLmodel: the run that made the model and when; its folder becomes an
 * artifact of type mlflow_model, named by MLflow 3's model id (else its
 * artifact path) and versioned by its run. */
int aw_mlmodel_read(aw_sidecar_doc *d, json_t *root) {
    int rc;
    if ((rc = aw_sidecar_text_field(d, root, "run_id", "", &d->run_id)) ||
        (rc = aw_sidecar_text_field(d, root, "model_id", "", &d->name)) ||
        (rc = aw_sidecar_text_field(d, root, "name", "", &d->name)) ||
        (rc = aw_sidecar_text_field(d, root, "artifact_path", "", &d->name)) ||
        (rc = aw_sidecar_text_field(d, root, "run_id", "", &d->version)) ||
        (rc = aw_sidecar_text_field(d, root, "utc_time_created", "", &d->created_at)))
        return rc;
    /* "2026-12-07 09:00:00.123456" is UTC without saying so */
    if (d->created_at && strlen(d->created_at) >= 19 && d->created_at[10] == ' ' &&
        !strpbrk(d->created_at + 19, "Z+-")) {
        size_t l = strlen(d->created_at);
        char *t = malloc(l + 2);
        if (!t)
            return AW_ENOMEM;
        memcpy(t, d->created_at, l);
        t[10] = 'T', t[l] = 'Z', t[l + 1] = '\0';
        free(d->created_at);
        d->created_at = t;
    }
    d->artifact_type = strdup("mlflow_model");
    return d->artifact_type ? AW_OK : AW_ENOMEM;
}
