/*
 * Helpers over jansson for reading loosely typed JSON from the outside world:
 * dotted-path lookup, and numbers that arrive as numbers or as strings (Ceph
 * and GCS send sizes as strings).
 */
#ifndef AW_JSON_H
#define AW_JSON_H

#include <jansson.h>
#include <stdint.h>

#include "aw/err.h"

/* Follows "a.b.c" through nested objects; NULL if any step is missing or not
 * an object. The result is borrowed from root. */
json_t *aw_json_path(json_t *root, const char *dotted);

/* The string at path, or NULL if absent, null or not a string. Borrowed. */
const char *aw_json_str(json_t *root, const char *dotted);

/* Reads an object size: an integer from 0 to AW_OBJECT_SIZE_MAX, given as a
 * JSON integer or a decimal string. AW_ENOTFOUND if absent or null,
 * AW_EPARSE if present but not such a value. */
int aw_json_size(json_t *v, int64_t *out) AW_WUR;

#endif
