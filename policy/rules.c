/*
 * The rules file reader; see rules.h. libyaml builds the document (with the
 * line and column of every node); this file walks it with a schema that
 * knows every key, so a key it does not know is an error, not a silence.
 */
#include "rules.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "aw/codec.h"
#include "aw/config.h"
#include "aw/hash.h"

/* The reader's state: the document, the file's name for messages, and the
 * first error (later ones are not reported). */
typedef struct reader {
    yaml_document_t doc;
    const char *name;
    char *errstr;
    size_t errn;
    int rc;
} reader;

static int fail(reader *rd, const yaml_node_t *at, const char *fmt, ...) AW_PRINTF(3, 4);
static int fail(reader *rd, const yaml_node_t *at, const char *fmt, ...) {
    if (rd->rc != AW_OK)
        return rd->rc;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(rd->errstr, rd->errn, "%s:%zu:%zu: %s", rd->name,
             at ? at->start_mark.line + 1 : 1, at ? at->start_mark.column + 1 : 1, msg);
    rd->rc = AW_ECONFIG;
    return rd->rc;
}

static yaml_node_t *node(reader *rd, int id) { return yaml_document_get_node(&rd->doc, id); }

static const char *scalar(const yaml_node_t *n) {
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* A scalar that the writer left unquoted: numbers and booleans must be. */
static bool plain(const yaml_node_t *n) {
    return n && n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

/* Outside text quoted in a message: escaped, at most 60 bytes. */
static const char *q(const char *s, char buf[96]) {
    aw_escape_text(s, strlen(s), buf, 64);
    return buf;
}

/* Fails for a key of mapping m that is not in allowed, or that appears twice. */
static int check_keys(reader *rd, yaml_node_t *m, const char *const *allowed, const char *what) {
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *k = node(rd, p->key);
        const char *ks = scalar(k);
        char x[96];
        if (!ks)
            return fail(rd, k, "%s: keys must be plain words", what);
        bool known = false;
        for (int i = 0; allowed[i]; i++)
            known |= !strcmp(allowed[i], ks);
        if (!known) {
            char list[400] = "";
            for (int i = 0; allowed[i]; i++)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "",
                         allowed[i]);
            return fail(rd, k, "unknown key \"%s\" in %s (known: %s)", q(ks, x), what, list);
        }
        for (yaml_node_pair_t *o = m->data.mapping.pairs.start; o < p; o++)
            if (scalar(node(rd, o->key)) && !strcmp(scalar(node(rd, o->key)), ks))
                return fail(rd, k, "key \"%s\" appears twice in %s", ks, what);
    }
    return AW_OK;
}

static yaml_node_t *get(reader *rd, yaml_node_t *m, const char *key) {
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++)
        if (scalar(node(rd, p->key)) && !strcmp(scalar(node(rd, p->key)), key))
            return node(rd, p->value);
    return NULL;
}

static int want_string(reader *rd, yaml_node_t *n, const char *what, char **out) {
    const char *s = scalar(n);
    if (!s || !*s)
        return fail(rd, n, "%s must be a non-empty string", what);
    if (strlen(s) > 1024 || !aw_utf8_valid(s, strlen(s)))
        return fail(rd, n, "%s must be UTF-8 of at most 1024 bytes", what);
    if (!(*out = strdup(s)))
        return rd->rc = AW_ENOMEM;
    return AW_OK;
}

static int want_count(reader *rd, yaml_node_t *n, const char *what, long *out) {
    const char *s = scalar(n);
    long v;
    if (!plain(n) || aw_parse_long(s, 1, 1000000, &v) != AW_OK)
        return fail(rd, n, "%s must be a whole number from 1 to 1000000, not \"%s\"", what,
                    s ? s : "(not a scalar)");
    *out = v;
    return AW_OK;
}

static int want_duration(reader *rd, yaml_node_t *n, const char *what, int64_t *out) {
    const char *s = scalar(n);
    char x[96];
    if (!s || aw_parse_duration(s, out) != AW_OK || *out <= 0)
        return fail(rd, n, "%s must be a positive duration such as 30d (s, m, h, d, w), not "
                    "\"%s\"", what, s ? q(s, x) : "(not a scalar)");
    return AW_OK;
}

static int want_size(reader *rd, yaml_node_t *n, const char *what, int64_t *out) {
    const char *s = scalar(n);
    char x[96];
    if (!s || aw_parse_size(s, out) != AW_OK)
        return fail(rd, n, "%s must be a size such as 1MiB (B, KB, MB, GB, TB, KiB, MiB, GiB, "
                    "TiB), not \"%s\"", what, s ? q(s, x) : "(not a scalar)");
    return AW_OK;
}

static int want_bool(reader *rd, yaml_node_t *n, const char *what, bool *out) {
    const char *s = scalar(n);
    if (plain(n) && (!strcmp(s, "true") || !strcmp(s, "yes")))
        *out = true;
    else if (plain(n) && (!strcmp(s, "false") || !strcmp(s, "no")))
        *out = false;
    else
        return fail(rd, n, "%s must be true or false", what);
    return AW_OK;
}

/* match.mlflow: what MLflow says of the object (`artifact-watch mlflow sync`
 * reads it): registered, an alias of its model versions, its run's lifecycle. */
static int read_mlflow(reader *rd, aw_rule *r, yaml_node_t *m) {
    static const char *const keys[] = {"registered", "alias", "run_lifecycle", NULL};
    char what[160];
    snprintf(what, sizeof what, "the mlflow match of rule \"%s\"", r->name);
    if (m->type != YAML_MAPPING_NODE || m->data.mapping.pairs.start == m->data.mapping.pairs.top)
        return fail(rd, m, "rule \"%s\": mlflow must be a mapping of registered, alias or "
                           "run_lifecycle", r->name);
    if (check_keys(rd, m, keys, what))
        return rd->rc;
    yaml_node_t *n;
    bool reg;
    if ((n = get(rd, m, "registered"))) {
        if (want_bool(rd, n, "registered", &reg))
            return rd->rc;
        r->mlflow_registered = reg;
    }
    if ((n = get(rd, m, "alias")) && want_string(rd, n, "alias", &r->mlflow_alias))
        return rd->rc;
    if ((n = get(rd, m, "run_lifecycle"))) {
        if (want_string(rd, n, "run_lifecycle", &r->mlflow_lifecycle))
            return rd->rc;
        if (strcmp(r->mlflow_lifecycle, "active") && strcmp(r->mlflow_lifecycle, "deleted"))
            return fail(rd, n, "rule \"%s\": run_lifecycle must be active or deleted", r->name);
    }
    return AW_OK;
}

static int read_match(reader *rd, aw_rule *r, yaml_node_t *m) {
    static const char *const keys[] = {"bucket", "store", "prefix", "glob", "artifact",
                                       "metadata", "min_size", "max_size", "older_than",
                                       "mlflow", NULL};
    char what[160];
    snprintf(what, sizeof what, "the match of rule \"%s\"", r->name);
    if (!m || m->type != YAML_MAPPING_NODE)
        return fail(rd, m, "rule \"%s\": match must be a mapping", r->name);
    if (check_keys(rd, m, keys, what))
        return rd->rc;
    yaml_node_t *b = get(rd, m, "bucket"), *n;
    if (!b)
        return fail(rd, m, "rule \"%s\": match needs a bucket (a name or a glob)", r->name);
    if (want_string(rd, b, "bucket", &r->bucket))
        return rd->rc;
    if ((n = get(rd, m, "store")) && want_string(rd, n, "store", &r->store))
        return rd->rc;
    if ((n = get(rd, m, "prefix")) && want_string(rd, n, "prefix", &r->prefix))
        return rd->rc;
    if ((n = get(rd, m, "glob")) && want_string(rd, n, "glob", &r->glob))
        return rd->rc;
    if ((n = get(rd, m, "artifact")) && want_string(rd, n, "artifact", &r->artifact))
        return rd->rc;
    if ((n = get(rd, m, "min_size")) && want_size(rd, n, "min_size", &r->min_size))
        return rd->rc;
    if ((n = get(rd, m, "max_size")) && want_size(rd, n, "max_size", &r->max_size))
        return rd->rc;
    if (r->min_size >= 0 && r->max_size >= 0 && r->min_size > r->max_size)
        return fail(rd, get(rd, m, "max_size"), "rule \"%s\": max_size is below min_size",
                    r->name);
    if ((n = get(rd, m, "older_than")) && want_duration(rd, n, "older_than", &r->older_than_s))
        return rd->rc;
    if ((n = get(rd, m, "mlflow")) && read_mlflow(rd, r, n))
        return rd->rc;
    if ((n = get(rd, m, "metadata"))) {
        if (n->type != YAML_MAPPING_NODE || n->data.mapping.pairs.start == n->data.mapping.pairs.top)
            return fail(rd, n, "rule \"%s\": metadata must be a mapping of fields to values",
                        r->name);
        size_t cnt = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
        if (!(r->metadata = calloc(cnt, sizeof *r->metadata)))
            return rd->rc = AW_ENOMEM;
        for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
             p++) {
            yaml_node_t *k = node(rd, p->key), *v = node(rd, p->value);
            aw_rule_kv *kv = &r->metadata[r->nmetadata++];
            if (want_string(rd, k, "a metadata field", &kv->path) ||
                want_string(rd, v, "a metadata value", &kv->value))
                return rd->rc;
        }
    }
    return AW_OK;
}

static int read_rule(reader *rd, aw_rules *rs, yaml_node_t *m) {
    static const char *const keys[] = {"name", "match", "keep_last", "expire_after",
                                       "noncurrent_expire_after", "keep_noncurrent",
                                       "protect", NULL};
    if (!m || m->type != YAML_MAPPING_NODE)
        return fail(rd, m, "a rule must be a mapping");
    aw_rule *r = &rs->v[rs->n++];
    r->line = (int)m->start_mark.line + 1;
    r->column = (int)m->start_mark.column + 1;
    r->min_size = r->max_size = r->older_than_s = -1;
    r->mlflow_registered = -1;
    if (check_keys(rd, m, keys, "a rule"))
        return rd->rc;
    yaml_node_t *n = get(rd, m, "name");
    if (!n)
        return fail(rd, m, "a rule needs a name");
    if (want_string(rd, n, "name", &r->name))
        return rd->rc;
    for (size_t i = 0; i + 1 < rs->n; i++)
        if (!strcmp(rs->v[i].name, r->name))
            return fail(rd, n, "rule name \"%s\" is used twice (first at line %d)", r->name,
                        rs->v[i].line);
    if (read_match(rd, r, get(rd, m, "match")))
        return rd->rc;
    static const char *const actions[] = {"keep_last", "expire_after",
                                          "noncurrent_expire_after", "protect", NULL};
    const char *seen = NULL;
    for (int i = 0; actions[i]; i++) {
        if (!(n = get(rd, m, actions[i])))
            continue;
        if (seen)
            return fail(rd, n, "rule \"%s\" has two actions, %s and %s; each rule has exactly "
                        "one", r->name, seen, actions[i]);
        seen = actions[i];
        bool yes = false;
        switch (i) {
        case 0:
            r->action = AW_RULE_KEEP_LAST;
            want_count(rd, n, "keep_last", &r->count);
            break;
        case 1:
            r->action = AW_RULE_EXPIRE;
            want_duration(rd, n, "expire_after", &r->after_s);
            break;
        case 2:
            r->action = AW_RULE_NONCURRENT;
            want_duration(rd, n, "noncurrent_expire_after", &r->after_s);
            break;
        case 3:
            r->action = AW_RULE_PROTECT;
            if (!want_bool(rd, n, "protect", &yes) && !yes)
                fail(rd, n, "protect: false protects nothing; leave the rule out");
            break;
        }
        if (rd->rc)
            return rd->rc;
    }
    if (!seen)
        return fail(rd, m, "rule \"%s\" has no action (keep_last, expire_after, "
                    "noncurrent_expire_after or protect)", r->name);
    if ((n = get(rd, m, "keep_noncurrent"))) {
        if (r->action != AW_RULE_NONCURRENT)
            return fail(rd, n, "rule \"%s\": keep_noncurrent goes only with "
                        "noncurrent_expire_after", r->name);
        if (want_count(rd, n, "keep_noncurrent", &r->count))
            return rd->rc;
    }
    return AW_OK;
}

static int read_root(reader *rd, aw_rules *rs) {
    static const char *const keys[] = {"version", "protect_lineage", "limits", "rules", NULL};
    yaml_node_t *root = yaml_document_get_root_node(&rd->doc), *n;
    if (!root || root->type != YAML_MAPPING_NODE)
        return fail(rd, root, "the rules file must be a mapping with version and rules");
    if (check_keys(rd, root, keys, "the rules file"))
        return rd->rc;
    n = get(rd, root, "version");
    long v;
    if (!n || !plain(n) || aw_parse_long(scalar(n), 1, 1, &v) != AW_OK)
        return fail(rd, n ? n : root, "version: 1 is the only version this artifact-watch "
                    "reads");
    rs->version = (int)v;
    rs->protect_lineage = true;
    if ((n = get(rd, root, "protect_lineage"))) {
        if (plain(n) && !strcmp(scalar(n), "current"))
            rs->lineage_current = true;
        else if (plain(n) && (!strcmp(scalar(n), "true") || !strcmp(scalar(n), "yes") ||
                              !strcmp(scalar(n), "false") || !strcmp(scalar(n), "no")))
            rs->protect_lineage = scalar(n)[0] == 't' || scalar(n)[0] == 'y';
        else
            return fail(rd, n, "protect_lineage must be true, false or current");
    }
    rs->max_delete_fraction = 0.10;
    rs->max_mlflow_age_s = 3600;
    if ((n = get(rd, root, "limits"))) {
        static const char *const lkeys[] = {"max_delete_fraction", "max_mlflow_age", NULL};
        if (n->type != YAML_MAPPING_NODE)
            return fail(rd, n, "limits must be a mapping");
        if (check_keys(rd, n, lkeys, "limits"))
            return rd->rc;
        yaml_node_t *f = get(rd, n, "max_delete_fraction");
        if (f) {
            char *end;
            errno = 0;
            double x = plain(f) ? strtod(scalar(f), &end) : -1;
            if (!plain(f) || errno || *end || !(x > 0 && x <= 1))
                return fail(rd, f, "max_delete_fraction must be a number above 0 and at most 1");
            rs->max_delete_fraction = x;
        }
        if ((f = get(rd, n, "max_mlflow_age")) &&
            want_duration(rd, f, "max_mlflow_age", &rs->max_mlflow_age_s))
            return rd->rc;
    }
    n = get(rd, root, "rules");
    if (!n || n->type != YAML_SEQUENCE_NODE || n->data.sequence.items.start == n->data.sequence.items.top)
        return fail(rd, n ? n : root, "rules must be a list of at least one rule");
    size_t cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (!(rs->v = calloc(cnt, sizeof *rs->v)))
        return rd->rc = AW_ENOMEM;
    for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
         it++)
        if (read_rule(rd, rs, node(rd, *it)))
            return rd->rc;
    return AW_OK;
}

int aw_rules_parse(const char *text, size_t len, const char *name, aw_rules **out,
                   char *errstr, size_t n) {
    *out = NULL;
    aw_rules *rs = calloc(1, sizeof *rs);
    if (!rs || !(rs->path = strdup(name))) {
        free(rs);
        return AW_ENOMEM;
    }
    if (aw_sha256_hex(text, len, rs->sha256) != AW_OK) {
        aw_rules_free(rs);
        return AW_ETLS;
    }
    reader rd = {.name = name, .errstr = errstr, .errn = n};
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p)) {
        aw_rules_free(rs);
        return AW_ENOMEM;
    }
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    if (!yaml_parser_load(&p, &rd.doc)) {
        snprintf(errstr, n, "%s:%zu:%zu: %s%s%s", name, p.problem_mark.line + 1,
                 p.problem_mark.column + 1, p.problem ? p.problem : "not YAML",
                 p.context ? " " : "", p.context ? p.context : "");
        yaml_parser_delete(&p);
        aw_rules_free(rs);
        return AW_ECONFIG;
    }
    read_root(&rd, rs);
    /* one document only: a second one would be silently ignored */
    yaml_document_t extra;
    if (rd.rc == AW_OK && yaml_parser_load(&p, &extra)) {
        if (yaml_document_get_root_node(&extra))
            fail(&rd, yaml_document_get_root_node(&extra), "a second YAML document; the "
                 "rules file holds one");
        yaml_document_delete(&extra);
    }
    yaml_document_delete(&rd.doc);
    yaml_parser_delete(&p);
    if (rd.rc != AW_OK) {
        aw_rules_free(rs);
        return rd.rc;
    }
    *out = rs;
    return AW_OK;
}

int aw_rules_load(const char *path, aw_rules **out, char *errstr, size_t n) {
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(errstr, n, "%s: %s", path, strerror(errno));
        return AW_ECONFIG;
    }
    size_t cap = 1 << 14, len = 0, got;
    char *buf = malloc(cap);
    while (buf && (got = fread(buf + len, 1, cap - len, f)) > 0) {
        len += got;
        if (len == cap) {
            char *nb = cap < (16u << 20) ? realloc(buf, cap * 2) : NULL;
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (!buf) {
        snprintf(errstr, n, "%s: larger than 16 MiB", path);
        return AW_ECONFIG;
    }
    int rc = aw_rules_parse(buf, len, path, out, errstr, n);
    free(buf);
    return rc;
}

void aw_rules_free(aw_rules *rs) {
    if (!rs)
        return;
    for (size_t i = 0; i < rs->n; i++) {
        aw_rule *r = &rs->v[i];
        free(r->name);
        free(r->bucket);
        free(r->store);
        free(r->prefix);
        free(r->glob);
        free(r->artifact);
        free(r->mlflow_alias);
        free(r->mlflow_lifecycle);
        for (size_t k = 0; k < r->nmetadata; k++) {
            free(r->metadata[k].path);
            free(r->metadata[k].value);
        }
        free(r->metadata);
    }
    free(rs->v);
    free(rs->path);
    free(rs);
}

/* Sets key to a new string; false on no memory. */
static bool set_str(json_t *o, const char *key, const char *v) {
    return !v || json_object_set_new(o, key, json_string(v)) == 0;
}

char *aw_rules_json(const aw_rules *rs) {
    static const char *const action_names[] = {"", "keep_last", "expire_after",
                                               "noncurrent_expire_after", "protect"};
    json_t *arr = json_array();
    bool ok = arr != NULL;
    for (size_t i = 0; ok && i < rs->n; i++) {
        const aw_rule *r = &rs->v[i];
        json_t *o = json_object(), *md = json_object();
        ok = o && md && json_array_append_new(arr, o) == 0 &&
             json_object_set_new(o, "metadata", md) == 0; /* steals md */
        ok = ok && set_str(o, "name", r->name) && set_str(o, "action", action_names[r->action]) &&
             set_str(o, "bucket", r->bucket) && set_str(o, "store", r->store) &&
             set_str(o, "prefix", r->prefix) && set_str(o, "glob", r->glob) &&
             set_str(o, "artifact", r->artifact);
        if (ok && (r->mlflow_registered >= 0 || r->mlflow_alias || r->mlflow_lifecycle)) {
            json_t *ml = json_object();
            ok = ml && json_object_set_new(o, "mlflow", ml) == 0 &&
                 set_str(ml, "alias", r->mlflow_alias) &&
                 set_str(ml, "run_lifecycle", r->mlflow_lifecycle) &&
                 (r->mlflow_registered < 0 ||
                  json_object_set_new(ml, "registered", json_boolean(r->mlflow_registered)) == 0);
        }
        for (size_t k = 0; ok && k < r->nmetadata; k++)
            ok = json_object_set_new(md, r->metadata[k].path,
                                     json_string(r->metadata[k].value)) == 0;
#define INT(key, v)                                                            \
    if (ok && (v) >= 0)                                                        \
        ok = json_object_set_new(o, key, json_integer((json_int_t)(v))) == 0;
        INT("min_size", r->min_size)
        INT("max_size", r->max_size)
        INT("older_than_s", r->older_than_s)
        INT("count", r->action == AW_RULE_PROTECT || r->action == AW_RULE_EXPIRE ? -1 : r->count)
        INT("after_s", r->action == AW_RULE_EXPIRE || r->action == AW_RULE_NONCURRENT ? r->after_s
                                                                                        : -1)
#undef INT
    }
    json_t *doc = ok ? json_pack("{s:i, s:o, s:f, s:I, s:s, s:o}", "version", rs->version,
                                 "protect_lineage", rs->lineage_current
                                                        ? json_string("current")
                                                        : json_boolean(rs->protect_lineage),
                                 "max_delete_fraction", rs->max_delete_fraction,
                                 "max_mlflow_age_s", (json_int_t)rs->max_mlflow_age_s, "sha256",
                                 rs->sha256, "rules", arr)
                     : NULL;
    if (!doc)
        json_decref(arr);
    char *s = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    return s;
}
