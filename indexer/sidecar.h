/*
 * Sidecars: the small files pipelines upload next to their artifacts, and
 * OpenLineage run events. Which keys are sidecars is decided by basename
 * globs (configurable); what a sidecar says is read by aw_sidecar_parse,
 * a pure function of its bytes, so it is fixture-testable like the event
 * decoder. A sidecar that cannot be read is still a result: its error is
 * recorded next to it and never stops anything else. Private to indexer/:
 * the rest of the program reaches sidecars only through aw/indexer.h.
 */
#ifndef AW_SIDECAR_H
#define AW_SIDECAR_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "aw/err.h"

typedef enum aw_sidecar_kind {
    AW_SC_NONE = 0,
    AW_SC_METADATA,      /* metadata.json: describes the files of its folder */
    AW_SC_FILE_METADATA, /* <file>.metadata.json: describes <file>, wins over the folder's */
    AW_SC_SHA256,        /* <file>.sha256: the digest <file> must have */
    AW_SC_METRICS,       /* metrics.json: numbers about the folder's artifact */
    AW_SC_OPENLINEAGE,   /* *.openlineage.json or a message of the OpenLineage topic */
    AW_SC_MLMODEL,       /* MLflow's MLmodel (YAML): its folder's metadata, stored as such */
} aw_sidecar_kind;

#define AW_SC_NKINDS 7

/* "metadata", "file_metadata", "sha256", "metrics", "openlineage"; an MLmodel
 * is its folder's "metadata". */
const char *aw_sidecar_kind_name(aw_sidecar_kind k);

typedef struct aw_sidecar_rules aw_sidecar_rules;

/*
 * Builds the rules from comma-separated basename globs per kind (fnmatch
 * syntax). The per-file kinds (file_metadata, sha256) must be "*SUFFIX"
 * patterns, because the file they describe is the key without SUFFIX. Empty
 * disables a kind. AW_ECONFIG with the reason in errstr.
 */
int aw_sidecar_rules_new(const char *const globs[AW_SC_NKINDS], aw_sidecar_rules **out,
                         char *errstr, size_t errstr_size) AW_WUR;
void aw_sidecar_rules_destroy(aw_sidecar_rules *r);

/*
 * The kind of the object at key, AW_SC_NONE for an ordinary object. When
 * subject is not NULL it receives a malloc'd string: the folder ("a/b/", ""
 * at the root) for folder kinds, the described file's key for per-file
 * kinds, NULL for OpenLineage. The per-file kinds are tried first, so
 * "x.metadata.json" is a file sidecar even when "metadata.json" would match.
 */
aw_sidecar_kind aw_sidecar_classify(const aw_sidecar_rules *r, const char *key, char **subject);

/* One lineage declaration: the object it names is a parent (an input). */
typedef struct aw_lineage_parent {
    char *uri;           /* as declared, normalised to s3://bucket/key */
    char *bucket, *key;
    char sha256[65];     /* declared lowercase hex digest, "" when none */
    char *child_bucket;  /* OpenLineage: the output it produced; NULL for */
    char *child_key;     /* metadata, whose children are its subjects */
    const char *kind;    /* "data" (created_from.data_path) or "openlineage" */
} aw_lineage_parent;

typedef struct aw_sidecar_doc {
    aw_sidecar_kind kind;
    const char *root;    /* a local folder's root while it is parsed, else NULL */
    char *json;          /* the document (valid JSON) for jsonb; NULL if unreadable */
    char error[512];     /* "" when everything was understood */
    char sha256[65];     /* .sha256: the declared digest, else "" */
    char *created_at;    /* metadata created_at, OpenLineage eventTime */
    char *code_commit;   /* created_from.code_commit, else git_commit */
    char *run_id;        /* created_from.training_run_id, OpenLineage run.runId */
    char *job;           /* OpenLineage job namespace/name */
    char *event_type;    /* OpenLineage eventType */
    char *artifact_type, *name, *version;
    aw_lineage_parent *parents;
    size_t nparents, parents_cap;
    size_t parents_dropped;  /* declarations beyond AW_SIDECAR_MAX_DECLS */
} aw_sidecar_doc;

/* An MLmodel's YAML as compact JSON text (malloc'd); AW_EPARSE with why when
 * it is not YAML a document can be made of. */
int aw_mlmodel_json(const char *body, size_t len, char **json, char *why, size_t n) AW_WUR;

/* The fields of an MLmodel's JSON into d (mlmodel.c). */
int aw_mlmodel_read(aw_sidecar_doc *d, json_t *root) AW_WUR;

/* A text member of obj (a string, or an integer written out) into *out
 * when *out is still empty; a value of another type or too long is noted
 * in d (where + name), not used. AW_ENOMEM. */
int aw_sidecar_text_field(aw_sidecar_doc *d, json_t *obj, const char *name, const char *where,
                          char **out) AW_WUR;

/* How deep a sidecar's JSON may nest before it is refused. */
#define AW_SIDECAR_MAX_DEPTH 64

/* The most lineage declarations one sidecar keeps (an OpenLineage event
 * declares one per output and input pair); the rest are counted in the
 * parse error. */
#define AW_SIDECAR_MAX_DECLS 10000

/* The longest text field kept (names, versions, commits, run ids, times):
 * longer ones are reported and left out, so every value fits an index. */
#define AW_SIDECAR_MAX_TEXT 1024

/*
 * Reads a sidecar of kind k. subject_name is the basename of the described
 * file (to pick a line of a multi-line .sha256), or NULL. truncated says the
 * body was cut at the size limit: the document is then refused as too
 * large, with total_size in the message. Returns AW_OK (look at out->error:
 * a sidecar with errors is still a result) or AW_ENOMEM. Release with
 * aw_sidecar_doc_clear.
 */
int aw_sidecar_parse(aw_sidecar_kind k, const char *body, size_t len, bool truncated,
                     long long total_size, const char *subject_name,
                     aw_sidecar_doc *out) AW_WUR;

/* aw_sidecar_parse of a sidecar in a local folder whose root directory
 * (realpath, its last component the bucket) is root: created_from may name
 * files in it by file:/// URI, absolute path or path relative to root. */
int aw_sidecar_parse_at(aw_sidecar_kind k, const char *body, size_t len, bool truncated,
                        long long total_size, const char *subject_name, const char *root,
                        aw_sidecar_doc *out) AW_WUR;

void aw_sidecar_doc_clear(aw_sidecar_doc *d);

/* A path a sidecar in the local folder root (realpath) names: file:///...
 * or an absolute path below root, or a path relative to root, as its bucket
 * (root's last component) and key, malloc'd. AW_EPARSE for anything else
 * (a path elsewhere, another host, "." or ".." or empty components, a
 * directory); AW_ENOMEM. */
int aw_sidecar_local_path(const char *root, const char *path, char **bucket, char **key) AW_WUR;

/* Appends to d's parse error ("; " between), kept valid UTF-8 when it fills. */
void aw_sidecar_note(aw_sidecar_doc *d, const char *fmt, ...) AW_PRINTF(2, 3);

/*
 * The trust boundary of an object sidecar: it may name inputs anywhere, but
 * outputs (OpenLineage) only in its own bucket. Removes the declarations
 * whose output is elsewhere and returns how many it removed.
 */
size_t aw_sidecar_keep_outputs_in(aw_sidecar_doc *d, const char *bucket);

#endif
