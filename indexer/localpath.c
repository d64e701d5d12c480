/*
 * Paths a sidecar in a local folder names in its lineage block: a file of
 * the same folder tree (file:///..., an absolute path below the root, or a
 * path relative to the root) as the bucket and key the file store indexes
 * it under. Nothing outside the root is ever named this way.
 */
#include <stdlib.h>
#include <string.h>

#include "aw/codec.h"
#include "sidecar.h"

/* A path a sidecar in a local folder (root, realpath'd) names: file:///...
 * or an absolute path below root, or a path relative to root, as the bucket
 * (root's last component) and key it is. AW_EPARSE for anything else (a
 * path elsewhere, ".." or "." components, empty components). */
static int local_key(const char *root, const char *path, char **bucket, char **key);

int aw_sidecar_local_path(const char *root, const char *path, char **bucket, char **key) {
    *bucket = *key = NULL;
    if (strncmp(path, "file://", 7))
        return local_key(root, path, bucket, key);
    path += 7;
    if (!strncmp(path, "localhost/", 10))
        path += 9;
    if (*path != '/')
        return AW_EPARSE; /* another host's file */
    /* a URI's path is percent-encoded (Path.as_uri() writes a space as %20) */
    char *dec = NULL;
    size_t dl = 0;
    int rc = aw_urldecode(path, strlen(path), false, &dec, &dl);
    if (rc == AW_OK && (strlen(dec) != dl || !aw_utf8_valid(dec, dl)))
        rc = AW_EPARSE;
    if (rc == AW_OK)
        rc = local_key(root, dec, bucket, key);
    free(dec);
    return rc == AW_ENOMEM ? rc : rc == AW_OK ? AW_OK : AW_EPARSE;
}

/* A plain path (absolute below root, or relative to it) as bucket and key. */
static int local_key(const char *root, const char *path, char **bucket, char **key) {
    size_t rl = strlen(root);
    if (*path == '/') {
        if (strncmp(path, root, rl) || path[rl] != '/')
            return AW_EPARSE;
        path += rl + 1;
    }
    while (!strncmp(path, "./", 2))
        path += 2;
    size_t kl = strlen(path);
    if (!kl || kl > 1024 || aw_object_scheme_len(path) || strstr(path, "://"))
        return AW_EPARSE;
    for (const char *c = path; *c;) {
        size_t cl = strcspn(c, "/");
        if (!cl || (cl == 1 && c[0] == '.') || (cl == 2 && c[0] == '.' && c[1] == '.'))
            return AW_EPARSE;
        c += cl + (c[cl] == '/');
        if (c[-1] == '/' && !*c)
            return AW_EPARSE; /* a directory, not a file */
    }
    *bucket = strdup(strrchr(root, '/') + 1);
    *key = strdup(path);
    if (!*bucket || !*key) {
        free(*bucket), free(*key);
        *bucket = *key = NULL;
        return AW_ENOMEM;
    }
    return AW_OK;
}
