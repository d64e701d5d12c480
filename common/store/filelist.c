/*
 * A file store's listing: a walk of a root in the order S3 lists keys (by
 * bytes), so that backfill's pages, markers and reconciliation work on a
 * folder unchanged. A directory's entries are sorted with a '/' after each
 * directory's name, which is the order of the full keys; a page resumes
 * after the last key of the one before by descending only into directories
 * that can hold later keys, so nothing is kept between pages and memory
 * grows with the entries of one directory per level, never with the tree.
 *
 * Nothing a link points to is listed or entered. What cannot be a key is
 * skipped and counted in page->refused: links, FIFOs, sockets, devices,
 * names that are not UTF-8, keys longer than 1024 bytes, directories that
 * cannot be read (their files are then absent from the listing, and
 * backfill's HEAD of each, denied, keeps them in the index).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "aw/codec.h"
#include "aw/util.h"
#include "internal.h"

#define KEY_MAX 1024
#define DEPTH_MAX 256

typedef struct ent {
    char *name;
    size_t len;
    bool dir;
} ent;

typedef struct walk {
    const char *prefix, *after;
    size_t max;
    aw_listing_page *page;
    bool full;              /* a key beyond the page was found: truncated */
    int rc;
} walk;

/* name + "/" for a directory, compared byte by byte */
static int ent_cmp(const void *pa, const void *pb) {
    const ent *a = pa, *b = pb;
    size_t la = a->len + a->dir, lb = b->len + b->dir;
    for (size_t i = 0; i < la && i < lb; i++) {
        unsigned char ca = i < a->len ? (unsigned char)a->name[i] : '/';
        unsigned char cb = i < b->len ? (unsigned char)b->name[i] : '/';
        if (ca != cb)
            return ca < cb ? -1 : 1;
    }
    return la < lb ? -1 : la > lb;
}

static bool starts(const char *s, const char *p, size_t pl) { return !strncmp(s, p, pl); }

static void refuse(walk *w, const char *key, size_t kl, const char *why) {
    aw_listing_page *p = w->page;
    if (!p->refused) {
        char x[160];
        aw_escape_text(key, kl, x, sizeof x);
        snprintf(p->refused_why, sizeof p->refused_why, "%s: %s", x, why);
    }
    p->refused++;
}

int aw_file_listed(const char *key, const struct stat *st, aw_listed *out) {
    char etag[80], lm[40];
    aw_file_etag((uint64_t)st->st_ino, (int64_t)st->st_size, (int64_t)st->st_mtim.tv_sec,
                 st->st_mtim.tv_nsec, etag, sizeof etag);
    struct tm tm;
    gmtime_r(&st->st_mtim.tv_sec, &tm);
    size_t n = strftime(lm, sizeof lm, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(lm + n, sizeof lm - n, ".%03ldZ", st->st_mtim.tv_nsec / 1000000);
    *out = (aw_listed){.key = strdup(key), .etag = strdup(etag), .last_modified = strdup(lm),
                       .size = (int64_t)st->st_size, .is_latest = true};
    if (out->key && out->etag && out->last_modified)
        return AW_OK;
    free(out->key), free(out->etag), free(out->last_modified);
    return AW_ENOMEM;
}

static int add_item(walk *w, const char *key, const struct stat *st) {
    aw_listed l;
    int rc = aw_file_listed(key, st, &l);
    if (rc == AW_OK && (rc = aw_listing_push(w->page, &l)) != AW_OK)
        free(l.key), free(l.etag), free(l.last_modified);
    return rc;
}

/* Reads the entries of directory fd (left open) into *out, sorted. */
static int read_dir(int fd, ent **out, size_t *nout) {
    *out = NULL;
    *nout = 0;
    int dup_fd = dup(fd);
    DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
    if (!d) {
        if (dup_fd >= 0)
            close(dup_fd);
        return AW_EHTTP;
    }
    ent *v = NULL;
    size_t n = 0, cap = 0;
    int rc = AW_OK;
    struct dirent *de;
    while (rc == AW_OK && (errno = 0, de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        bool dir = de->d_type == DT_DIR;
        if (de->d_type == DT_UNKNOWN) {
            struct stat st;
            dir = fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            ent *nv = realloc(v, cap * sizeof *nv);
            if (!nv) {
                rc = AW_ENOMEM;
                break;
            }
            v = nv;
        }
        v[n].len = strlen(de->d_name);
        v[n].dir = dir;
        if (!(v[n].name = strdup(de->d_name)))
            rc = AW_ENOMEM;
        else
            n++;
    }
    if (rc == AW_OK && errno)
        rc = AW_EHTTP;
    closedir(d);
    if (rc != AW_OK) {
        for (size_t i = 0; i < n; i++)
            free(v[i].name);
        free(v);
        return rc;
    }
    if (n)
        qsort(v, n, sizeof *v, ent_cmp);
    *out = v;
    *nout = n;
    return AW_OK;
}

/* Lists directory fd (closed here), whose keys start with key[0..plen)
 * ("" or ending in '/'; key has room for KEY_MAX + 2 bytes). */
static void walk_dir(walk *w, int fd, char *key, size_t plen, int depth) {
    ent *v;
    size_t n;
    int rc = read_dir(fd, &v, &n);
    if (rc != AW_OK) {
        if (rc == AW_ENOMEM)
            w->rc = rc;
        else
            refuse(w, key, plen, "the directory cannot be read");
        close(fd);
        return;
    }
    size_t pl = strlen(w->prefix);
    for (size_t i = 0; i < n && w->rc == AW_OK && !w->full; i++) {
        size_t kl = plen + v[i].len + v[i].dir;
        if (kl > KEY_MAX) {
            key[plen] = '\0';
            if (starts(key, w->prefix, plen < pl ? plen : pl) &&
                (!*w->after || strcmp(key, w->after) > 0))
                refuse(w, key, plen, "a key longer than 1024 bytes below here");
            continue;
        }
        memcpy(key + plen, v[i].name, v[i].len);
        if (v[i].dir)
            key[kl - 1] = '/';
        key[kl] = '\0';
        /* under the prefix (or, a directory, able to hold keys that are) */
        if (kl < pl ? !(v[i].dir && starts(w->prefix, key, kl)) : !starts(key, w->prefix, pl))
            continue;
        if (v[i].dir) {
            /* only a directory that can hold keys after the marker */
            if (*w->after && strcmp(w->after, key) >= 0 && !starts(w->after, key, kl))
                continue;
            if (!aw_utf8_valid(v[i].name, v[i].len)) {
                refuse(w, key, kl, "a name that is not UTF-8");
                continue;
            }
            if (depth >= DEPTH_MAX) {
                refuse(w, key, kl, "more than 256 directories deep");
                continue;
            }
            int cfd = openat(fd, v[i].name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (cfd < 0) {
                refuse(w, key, kl, errno == ELOOP || errno == ENOTDIR
                       ? "not a directory any more" : "the directory cannot be read");
                continue;
            }
            walk_dir(w, cfd, key, kl, depth + 1);
            continue;
        }
        if (*w->after && strcmp(key, w->after) <= 0)
            continue;
        struct stat st;
        if (fstatat(fd, v[i].name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno != ENOENT) /* gone since the directory was read: not listed */
                refuse(w, key, kl, strerror(errno));
            continue;
        }
        if (!S_ISREG(st.st_mode)) {
            refuse(w, key, kl, S_ISLNK(st.st_mode) ? "a symbolic link (not followed)"
                               : S_ISDIR(st.st_mode) ? "a directory now"
                               : "not a regular file (FIFO, socket or device)");
            continue;
        }
        if (!aw_utf8_valid(key, kl)) {
            refuse(w, key, kl, "a name that is not UTF-8");
            continue;
        }
        if (w->page->n >= w->max) {
            w->full = true;
            break;
        }
        w->rc = add_item(w, key, &st);
    }
    for (size_t i = 0; i < n; i++)
        free(v[i].name);
    free(v);
    close(fd);
}

int aw_fstore_list(const aw_fstore *fs, const char *bucket, const char *prefix,
                   const char *after, long max, aw_listing_page *page, char *errstr,
                   size_t errn) {
    aw_listing_page_clear(page);
    if (!bucket) {
        size_t n = aw_fstore_count(fs);
        if (!(page->buckets = calloc(n ? n : 1, sizeof *page->buckets)))
            return AW_ENOMEM;
        for (size_t i = 0; i < n; i++)
            if (!(page->buckets[page->nbuckets++] = strdup(aw_fstore_bucket(fs, i))))
                return AW_ENOMEM;
        return AW_OK;
    }
    int fd = aw_fstore_open_root(fs, bucket);
    if (fd < 0) {
        const char *root = aw_fstore_root(fs, bucket);
        snprintf(errstr, errn, "%s: %s", root ? root : bucket,
                 errno == ENXIO ? "no root directory is this bucket in this file store"
                 : errno == ESTALE ? "not the directory it was at start; not followed"
                 : strerror(errno));
        return AW_EUNAVAILABLE; /* never an empty listing: nothing may look deleted */
    }
    char *key = malloc(KEY_MAX + 2);
    if (!key) {
        close(fd);
        return AW_ENOMEM;
    }
    key[0] = '\0';
    walk w = {.prefix = prefix ? prefix : "", .after = after ? after : "",
              .max = max > 0 ? (size_t)max : 1000, .page = page};
    walk_dir(&w, fd, key, 0, 0);
    free(key);
    if (w.rc != AW_OK)
        return w.rc;
    page->truncated = w.full;
    if (w.full && page->n && !(page->next_token = strdup(page->items[page->n - 1].key)))
        return AW_ENOMEM;
    return AW_OK;
}

int aw_s3_file_entry(aw_s3 *s3, const char *bucket, const char *key, aw_listed *out,
                     bool *young) {
    *young = false;
    aw_fstore *fs = aw_s3_fstore(s3);
    if (!fs)
        return AW_EINVAL;
    const char *name = NULL;
    int dfd = aw_fstore_key_ok(key) ? aw_fstore_open_parent(fs, bucket, key, &name) : -1;
    if (dfd < 0)
        return AW_ENOTFOUND;
    struct stat st;
    int rc = fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
                     aw_utf8_valid(key, strlen(key))
                 ? aw_file_listed(key, &st, out)
                 : AW_ENOTFOUND;
    *young = rc == AW_OK && aw_file_young(&st);
    close(dfd);
    return rc;
}
