/*
 * The retention rules file: YAML read with libyaml into a checked,
 * immutable description. Every mistake that could widen what is deleted (an
 * unknown key is the classic one: a misspelled `prefx` matches everything)
 * is refused before anything runs, as FILE:LINE:COLUMN: message. The rules
 * are recorded with every plan as JSON (aw_rules_json). Private to policy/.
 */
#ifndef AW_RULES_H
#define AW_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aw/err.h"

typedef enum aw_rule_action {
    AW_RULE_KEEP_LAST = 1,  /* keep the newest N versions (of a key or an artifact) */
    AW_RULE_EXPIRE,         /* current versions older than D */
    AW_RULE_NONCURRENT,     /* noncurrent versions older than D, keeping N */
    AW_RULE_PROTECT,        /* never delete what matches */
} aw_rule_action;

typedef struct aw_rule_kv {
    char *path;             /* dotted path into the artifact's metadata */
    char *value;
} aw_rule_kv;

typedef struct aw_rule {
    char *name;
    int line, column;       /* where the rule starts, for messages */
    /* match */
    char *bucket, *store, *prefix, *glob, *artifact;
    aw_rule_kv *metadata;
    size_t nmetadata;
    int64_t min_size, max_size, older_than_s; /* -1: not given */
    /* mlflow: {registered: BOOL, alias: GLOB, run_lifecycle: active|deleted} */
    int mlflow_registered;  /* -1: not given, else 0 or 1 */
    char *mlflow_alias;     /* a glob one of its versions' aliases matches ("*": any) */
    char *mlflow_lifecycle; /* of the run that made it */
    /* action */
    aw_rule_action action;
    long count;             /* keep_last N, or keep_noncurrent N (0: none) */
    int64_t after_s;        /* expire_after / noncurrent_expire_after */
} aw_rule;

typedef struct aw_rules {
    char *path;
    char sha256[65];        /* of the file's bytes, recorded with every run */
    int version;
    bool protect_lineage;
    bool lineage_current;   /* protect_lineage: current: only a child's current
                               version protects its inputs, not its noncurrent ones */
    double max_delete_fraction;
    int64_t max_mlflow_age_s; /* mlflow: predicates need a sync at most this old */
    aw_rule *v;
    size_t n;
} aw_rules;

/*
 * Reads and checks a rules file. AW_ECONFIG with "FILE:LINE:COLUMN: message"
 * in errstr for anything wrong in it (or "FILE: message" when it cannot be
 * read); AW_ENOMEM.
 */
int aw_rules_load(const char *path, aw_rules **out, char *errstr, size_t errstr_size) AW_WUR;

/* Reads rules from text already in memory; name stands for the file. */
int aw_rules_parse(const char *text, size_t len, const char *name, aw_rules **out,
                   char *errstr, size_t errstr_size) AW_WUR;

void aw_rules_free(aw_rules *r);

/* The rules as JSON, as a saved plan records them; malloc'd; NULL on no memory. */
char *aw_rules_json(const aw_rules *r);

/* Whether s matches glob: '*' any run of characters and '?' one (a UTF-8
 * character); with slashes true '*' and '?' stay within a path segment and
 * '**' crosses '/'. No escapes: every other character stands for itself. */
bool aw_glob_match(const char *glob, const char *s, bool slashes);

/*
 * The order of artifact version folder names. aw_version_key turns a name
 * into a key compared by aw_version_cmp: dates (2024-05-01...) by value,
 * semantic versions (v1.0.10 > v1.0.9, a pre-release such as 1.0.0-rc.2
 * below its release, by its first number) by value and above every date.
 * Returns the key's length, 0 when the name is neither (the folder's newest
 * object then decides).
 */
#define AW_VERSION_KEY_MAX 12
size_t aw_version_key(const char *v, long long key[AW_VERSION_KEY_MAX]);
int aw_version_cmp(const long long *a, size_t na, const long long *b, size_t nb);

#endif
