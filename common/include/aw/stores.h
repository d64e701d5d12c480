/*
 * The object stores one process serves. Every row of the index names its
 * store; a request for a row goes to that store's client and to no other.
 * The default store is the one the s3.* settings describe, under the name
 * s3.store; a stores file (--stores FILE) adds others, or describes the
 * default one itself:
 *
 *   # a section per store: its name as rows carry it
 *   [mirror]
 *   endpoint = https://s3.eu-west-1.amazonaws.com
 *   region = eu-west-1
 *   path_style = false
 *   access_key_id = AKIA...           # or credentials_file and profile
 *   secret_access_key = ...
 *
 * A row of a store without a client here is never touched: the caller
 * counts it as another store's (aw_stores_client returns NULL).
 */
#ifndef AW_STORES_H
#define AW_STORES_H

#include <stdbool.h>
#include <stddef.h>

#include "aw/config.h"
#include "aw/err.h"
#include "aw/http.h"

/* One store as a stores file describes it; strings malloc'd. */
typedef struct aw_store_def {
    char *name, *endpoint, *region, *access_key_id, *secret_access_key, *session_token,
        *credentials_file, *profile;
    bool path_style;
    int line;               /* where its section starts */
} aw_store_def;

/* The longest store name (letters, digits, '.', '_', '-'). */
#define AW_STORE_NAME_MAX 64

/*
 * Reads a stores file's text (path names it in errors) into *defs (n of
 * them). AW_ECONFIG with "PATH:LINE: why" for a malformed line, an unknown
 * key, a key outside a section, a bad or repeated store name; AW_ENOMEM.
 */
int aw_stores_parse(const char *text, size_t len, const char *path, aw_store_def **defs,
                    size_t *n, char *errstr, size_t errstr_size) AW_WUR;
void aw_store_defs_free(aw_store_def *defs, size_t n);

typedef struct aw_stores aw_stores;

/*
 * The clients of the default store (cfg's s3.* settings, name cfg->s3_store)
 * and of every store of cfg's stores file. A section named like the default
 * store describes it instead of the s3.* settings. cfg must outlive the
 * result. AW_ECONFIG naming the file, line or setting when a store cannot
 * be used; AW_ENOMEM.
 */
int aw_stores_open(const aw_config *cfg, aw_stores **out, char *errstr,
                   size_t errstr_size) AW_WUR;

/* The client of store name, or NULL when this process serves no such store. */
aw_s3 *aw_stores_client(const aw_stores *s, const char *name);

/* A client of its own for store name (for another thread), as
 * aw_stores_client's was made. AW_ENOTFOUND for a store not served here. */
int aw_stores_new_client(const aw_stores *s, const char *name, aw_s3 **out, char *errstr,
                         size_t errstr_size) AW_WUR;

/* The stores served, in order: the default first. */
size_t aw_stores_count(const aw_stores *s);
const char *aw_stores_name(const aw_stores *s, size_t i);

/* NULL is ignored. */
void aw_stores_destroy(aw_stores *s);

#endif
