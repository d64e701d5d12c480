/*
 * Local folders as a store: each root directory is a bucket named by its
 * last component, and a key is a path below it. Requests are the S3
 * client's (GET, ranged GET, HEAD, DELETE with If-Match) with the same
 * outcomes, answered by the file system, so scrub, verify, retention and
 * backfill treat a folder like a bucket.
 *
 * A key is opened one component at a time with O_NOFOLLOW below the root's
 * descriptor: no symbolic link is followed, so nothing outside the root is
 * ever read or unlinked, whatever the key says; a path through a link, or
 * to one, is not found. A file's ETag is its inode,
 * size and mtime: If-Match on a DELETE compares them immediately before the
 * unlink, and a GET during which they change ends in AW_FETCH_PRECONDITION
 * (the bytes read may be a mix).
 */
#define _GNU_SOURCE /* renameat2 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "aw/codec.h"
#include "aw/log.h"
#include "aw/util.h"
#include "internal.h"

#define KEY_MAX 1024
#define CHUNK (256 * 1024)

typedef struct froot {
    char *bucket, *path;
    dev_t dev;              /* the directory it was at start: a root swapped for */
    ino_t ino;              /* another (a link elsewhere) is never followed */
} froot;

struct aw_fstore {
    froot *roots;
    size_t n;
    char *buf;              /* CHUNK bytes, for reads */
};

void aw_file_etag(uint64_t ino, int64_t size, int64_t sec, long nsec, char *out, size_t cap) {
    snprintf(out, cap, "%llx-%llx-%lld.%09ld", (unsigned long long)ino, (long long)size,
             (long long)sec, nsec);
}

static void stat_etag(const struct stat *st, char *out, size_t cap) {
    aw_file_etag((uint64_t)st->st_ino, (int64_t)st->st_size, (int64_t)st->st_mtim.tv_sec,
                 st->st_mtim.tv_nsec, out, cap);
}

void aw_fstore_destroy(aw_fstore *fs) {
    if (!fs)
        return;
    for (size_t i = 0; i < fs->n; i++)
        free(fs->roots[i].bucket), free(fs->roots[i].path);
    free(fs->roots);
    free(fs->buf);
    free(fs);
}

int aw_fstore_new(const char *const *roots, size_t n, aw_fstore **out, char *errstr,
                  size_t errn) {
    *out = NULL;
    if (!n) {
        snprintf(errstr, errn, "a file store needs at least one root directory (root = DIR)");
        return AW_ECONFIG;
    }
    aw_fstore *fs = calloc(1, sizeof *fs);
    if (!fs || !(fs->roots = calloc(n, sizeof *fs->roots)) || !(fs->buf = malloc(CHUNK))) {
        aw_fstore_destroy(fs);
        return AW_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        char x[160];
        aw_escape_text(roots[i], strlen(roots[i]), x, sizeof x);
        char *real = roots[i][0] == '/' ? realpath(roots[i], NULL) : NULL;
        struct stat st;
        if (!real || stat(real, &st) != 0 || !S_ISDIR(st.st_mode)) {
            snprintf(errstr, errn, "root \"%s\" is not %s", x,
                     roots[i][0] != '/' ? "an absolute path" : "a directory");
            free(real);
            aw_fstore_destroy(fs);
            return AW_ECONFIG;
        }
        const char *base = strrchr(real, '/') + 1;
        fs->roots[i].path = real;
        fs->roots[i].dev = st.st_dev;
        fs->roots[i].ino = st.st_ino;
        fs->n = i + 1;
        if (!aw_bucket_name_ok(base)) {
            snprintf(errstr, errn, "root \"%s\": its last component \"%s\" must be a bucket "
                     "name (3 to 255 letters, digits, '.', '_', '-')", x, base);
            aw_fstore_destroy(fs);
            return AW_ECONFIG;
        }
        for (size_t j = 0; j < i; j++) {
            const char *a = fs->roots[j].path;
            size_t al = strlen(a), bl = strlen(real);
            /* one file must be one key: no root inside another */
            if ((al < bl && !strncmp(real, a, al) && real[al] == '/') ||
                (bl < al && !strncmp(a, real, bl) && a[bl] == '/') || !strcmp(a, real)) {
                snprintf(errstr, errn, "roots %s and %s overlap: one holds the other", a, real);
                aw_fstore_destroy(fs);
                return AW_ECONFIG;
            }
            if (!strcmp(fs->roots[j].bucket, base)) {
                snprintf(errstr, errn, "roots %s and %s would both be bucket \"%s\"",
                         fs->roots[j].path, real, base);
                aw_fstore_destroy(fs);
                return AW_ECONFIG;
            }
        }
        if (!(fs->roots[i].bucket = strdup(base))) {
            aw_fstore_destroy(fs);
            return AW_ENOMEM;
        }
    }
    *out = fs;
    return AW_OK;
}

int aw_fstore_open_root(const aw_fstore *fs, const char *bucket) {
    for (size_t i = 0; fs && bucket && i < fs->n; i++) {
        if (strcmp(fs->roots[i].bucket, bucket))
            continue;
        int fd = open(fs->roots[i].path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;
        if (fd >= 0 && fstat(fd, &st) == 0 && st.st_dev == fs->roots[i].dev &&
            st.st_ino == fs->roots[i].ino)
            return fd;
        /* gone, replaced or unmounted: never "no such file" for what it held */
        int e = fd < 0 && (errno == EACCES || errno == EMFILE || errno == ENFILE) ? errno
                                                                                 : ESTALE;
        if (fd >= 0)
            close(fd);
        errno = e;
        return -1;
    }
    errno = ENXIO;
    return -1;
}

const char *aw_fstore_root(const aw_fstore *fs, const char *bucket) {
    for (size_t i = 0; fs && bucket && i < fs->n; i++)
        if (!strcmp(fs->roots[i].bucket, bucket))
            return fs->roots[i].path;
    return NULL;
}

size_t aw_fstore_count(const aw_fstore *fs) { return fs->n; }
const char *aw_fstore_bucket(const aw_fstore *fs, size_t i) { return fs->roots[i].bucket; }

/* Whether key can name a file below a root: not empty, relative, no empty,
 * "." or ".." component, at most KEY_MAX bytes. */
bool aw_fstore_key_ok(const char *key) {
    size_t l = strlen(key);
    if (!l || l > KEY_MAX || key[0] == '/' || key[l - 1] == '/')
        return false;
    for (const char *c = key; *c;) {
        size_t cl = strcspn(c, "/");
        if (!cl || (cl == 1 && c[0] == '.') || (cl == 2 && c[0] == '.' && c[1] == '.'))
            return false;
        c += cl;
        if (*c)
            c++;
    }
    return true;
}

int aw_fstore_open_parent(const aw_fstore *fs, const char *bucket, const char *key,
                       const char **name) {
    int dfd = aw_fstore_open_root(fs, bucket);
    const char *c = key;
    for (;;) {
        const char *slash = strchr(c, '/');
        if (dfd < 0 || !slash)
            break;
        char comp[NAME_MAX + 1];
        size_t cl = (size_t)(slash - c);
        if (cl > NAME_MAX) {
            close(dfd);
            errno = ENAMETOOLONG;
            return -1;
        }
        memcpy(comp, c, cl);
        comp[cl] = '\0';
        int nfd = openat(dfd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int e = errno;
        close(dfd);
        errno = e;
        dfd = nfd;
        c = slash + 1;
    }
    *name = c;
    return dfd;
}

static void http_date(time_t t, char *out, size_t cap) {
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, cap, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

/* The outcome of a failed open or stat (errno e). */
static void failed(aw_fetch *r, int e, const char *what) {
    aw_s3_object_info *i = &r->info;
    switch (e) {
    case ENOENT:
    case ENOTDIR:
    case EISDIR: /* a directory, FIFO or device now: the file is gone */
    case ELOOP: /* a symbolic link is no file of this store: never followed */
        r->outcome = AW_FETCH_NOT_FOUND;
        i->status = 404;
        snprintf(i->error_code, sizeof i->error_code, "NoSuchKey");
        break;
    case ENXIO:
        r->outcome = AW_FETCH_NOT_FOUND;
        i->status = 404;
        snprintf(i->error_code, sizeof i->error_code, "NoSuchBucket");
        break;
    case EACCES:
    case EPERM:
        r->outcome = AW_FETCH_DENIED;
        i->status = 403;
        snprintf(i->error_code, sizeof i->error_code, "AccessDenied");
        break;
    default:
        r->outcome = AW_FETCH_FAILED;
        i->status = 500;
    }
    snprintf(r->error, sizeof r->error, "%s: %s", what,
             e == ELOOP || e == ENOTDIR ? "not found (symbolic links are not followed)"
             : e == ENXIO ? "no such root (bucket)"
             : e == ESTALE ? "the root is not the directory it was at start; not followed"
             : e == EISDIR ? "not a regular file any more" : strerror(e));
}

static void set_info(aw_s3_object_info *i, const struct stat *st) {
    i->content_length = (int64_t)st->st_size;
    stat_etag(st, i->etag, sizeof i->etag);
    http_date(st->st_mtim.tv_sec, i->last_modified, sizeof i->last_modified);
}

bool aw_file_young(const struct stat *st) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t age_ms = ((int64_t)now.tv_sec - (int64_t)st->st_mtim.tv_sec) * 1000 +
                     (now.tv_nsec - st->st_mtim.tv_nsec) / 1000000;
    return age_ms >= -1000 && age_ms < 1000;
}

static bool same_file(const struct stat *a, const struct stat *b) {
    return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

static void precondition(aw_fetch *r, const char *why) {
    r->outcome = AW_FETCH_PRECONDITION;
    r->info.status = 412;
    snprintf(r->info.error_code, sizeof r->info.error_code, "PreconditionFailed");
    snprintf(r->error, sizeof r->error, "%s", why);
}

/* Reads the open file fd (st) into r's body callback. */
static void read_body(aw_fstore *fs, aw_fetch *r, int fd, const struct stat *st) {
    int64_t off = 0, end = st->st_size;
    if (r->range_len > 0) {
        if (r->range_start >= st->st_size) {
            r->outcome = AW_FETCH_FAILED;
            r->info.status = 416;
            snprintf(r->error, sizeof r->error, "range beyond the file's %lld bytes",
                     (long long)st->st_size);
            return;
        }
        off = r->range_start;
        end = off + r->range_len < st->st_size ? off + r->range_len : st->st_size;
        r->info.status = 206;
        r->info.range_total = st->st_size;
        r->info.content_length = end - off;
    }
    while (off < end) {
        size_t want = end - off < CHUNK ? (size_t)(end - off) : CHUNK;
        ssize_t got = pread(fd, fs->buf, want, off);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            if (got == 0) {
                precondition(r, "the file became shorter while it was read");
            } else {
                r->outcome = AW_FETCH_FAILED;
                r->info.status = 500;
                snprintf(r->error, sizeof r->error, "read: %s", strerror(errno));
            }
            return;
        }
        int rc = r->on_body ? r->on_body(r->ud, fs->buf, (size_t)got) : AW_OK;
        if (rc != AW_OK) {
            r->outcome = AW_FETCH_FAILED;
            snprintf(r->error, sizeof r->error, "body consumer failed: %s", aw_strerror(rc));
            return;
        }
        off += got;
    }
    struct stat after;
    if (fstat(fd, &after) != 0 || !same_file(st, &after)) {
        precondition(r, "the file changed while it was read");
        return;
    }
    if (aw_file_young(&after)) {
        /* the kernel sets mtime before it copies a write's bytes: a write
         * under way can leave the stat unchanged around a read of mixed
         * bytes, so a file this fresh is read again later */
        precondition(r, "written within the last second; read again once it is quiet");
        return;
    }
    r->outcome = AW_FETCH_OK;
}

/* A DELETE of name in directory dfd: If-Match compares the file's inode,
 * size and mtime immediately before the unlink. */
static void unlink_one(aw_fetch *r, int dfd, const char *name) {
    struct stat st;
    if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        failed(r, errno, "stat");
        return;
    }
    if (!S_ISREG(st.st_mode)) { /* never unlinked: not the file recorded */
        failed(r, S_ISLNK(st.st_mode) ? ELOOP : EISDIR, "delete");
        return;
    }
    char etag[80];
    stat_etag(&st, etag, sizeof etag);
    set_info(&r->info, &st);
    if (r->if_match && *r->if_match && strcmp(r->if_match, etag)) {
        precondition(r, "the file's inode, size or mtime changed");
        return;
    }
    /* The file is moved aside first and checked again there, where nothing
     * else writes: a file renamed over the name between the check above and
     * the unlink (an editor's atomic save) is put back, never unlinked. */
    char aside[64];
    snprintf(aside, sizeof aside, ".aw-unlink-%ld-%lld", (long)getpid(), (long long)aw_now_ms());
    if (renameat2(dfd, name, dfd, aside, RENAME_NOREPLACE) != 0) {
        if (errno != EINVAL && errno != ENOSYS) {
            failed(r, errno, "rename aside");
            return;
        }
        /* a file system without RENAME_NOREPLACE: the check above stands */
        if (unlinkat(dfd, name, 0) != 0) {
            failed(r, errno, "unlink");
            return;
        }
        r->outcome = AW_FETCH_OK;
        r->info.status = 204;
        return;
    }
    bool same = fstatat(dfd, aside, &st, AT_SYMLINK_NOFOLLOW) == 0;
    if (same) {
        stat_etag(&st, etag, sizeof etag);
        same = !r->if_match || !*r->if_match || !strcmp(r->if_match, etag);
    }
    if (!same) {
        if (renameat2(dfd, aside, dfd, name, RENAME_NOREPLACE) != 0)
            snprintf(r->error, sizeof r->error, "the file changed as it was deleted and a new "
                     "one took its name: the changed one is kept as %s", aside);
        else
            precondition(r, "the file's inode, size or mtime changed");
        r->outcome = AW_FETCH_PRECONDITION;
        r->info.status = 412;
        return;
    }
    if (unlinkat(dfd, aside, 0) != 0) {
        int e = errno;
        if (renameat2(dfd, aside, dfd, name, RENAME_NOREPLACE) != 0)
            AW_WARN("store", "%s: could not unlink or restore it", aside);
        failed(r, e, "unlink");
        return;
    }
    r->outcome = AW_FETCH_OK;
    r->info.status = 204;
}

/* Answers one request. */
static void one(aw_fstore *fs, aw_fetch *r) {
    aw_s3_info_reset(&r->info);
    r->started_ms = aw_now_ms();
    r->attempts = 1;
    r->outcome = AW_FETCH_FAILED;
    const char *m = r->method ? r->method : "GET";
    bool head = !strcmp(m, "HEAD"), del = !strcmp(m, "DELETE");
    if (!r->bucket || !r->key || (!head && !del && strcmp(m, "GET"))) {
        r->info.status = 400;
        snprintf(r->error, sizeof r->error, "a file store answers GET, HEAD and DELETE of a "
                                            "file (listings: aw_s3_list)");
        return;
    }
    if (!aw_fstore_key_ok(r->key)) {
        r->info.status = 400;
        snprintf(r->error, sizeof r->error, "not a path below the root");
        return;
    }
    if (r->version_id && *r->version_id && strcmp(r->version_id, "null")) {
        r->outcome = AW_FETCH_NOT_FOUND;
        r->info.status = 404;
        snprintf(r->info.error_code, sizeof r->info.error_code, "NoSuchVersion");
        snprintf(r->error, sizeof r->error, "a file store keeps no versions");
        return;
    }
    const char *name = NULL;
    int dfd = aw_fstore_open_parent(fs, r->bucket, r->key, &name);
    if (dfd < 0) {
        failed(r, errno, "open");
        return;
    }
    struct stat st;
    if (del) {
        unlink_one(r, dfd, name);
        close(dfd);
        r->duration_ms = aw_now_ms() - r->started_ms;
        return;
    }
    /* O_NONBLOCK: a FIFO must not block the open; it is refused below */
    int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    int e = errno;
    close(dfd);
    if (fd < 0) {
        failed(r, e, "open");
    } else if (fstat(fd, &st) != 0) {
        failed(r, errno, "stat");
    } else if (!S_ISREG(st.st_mode)) {
        failed(r, EISDIR, "open");
    } else {
        set_info(&r->info, &st);
        r->info.status = 200;
        if (r->if_match && *r->if_match && strcmp(r->if_match, r->info.etag))
            precondition(r, "the file's inode, size or mtime changed");
        else if (head)
            r->outcome = AW_FETCH_OK;
        else if (r->on_start && (e = r->on_start(r->ud)) != AW_OK)
            snprintf(r->error, sizeof r->error, "body consumer: %s", aw_strerror(e));
        else
            read_body(fs, r, fd, &st);
    }
    if (fd >= 0)
        close(fd);
    r->duration_ms = aw_now_ms() - r->started_ms;
}

int aw_fstore_fetch_many(aw_fstore *fs, aw_fetch *reqs, size_t n, const aw_fetch_policy *p,
                         const volatile sig_atomic_t *stop) {
    int64_t stop_at = -1, last_tick = aw_now_ms();
    for (size_t i = 0; i < n; i++) {
        aw_fetch *r = &reqs[i];
        r->error[0] = '\0';
        r->attempts = 0;
        for (;;) {
            int64_t now = aw_now_ms();
            if (p->tick && now - last_tick >= 100) {
                p->tick(p->tick_ud);
                last_tick = now;
            }
            if (stop && *stop && stop_at < 0)
                stop_at = now + (p->stop_grace_ms > 0 ? p->stop_grace_ms : 0);
            if (stop_at >= 0 && now >= stop_at) {
                for (size_t j = i; j < n; j++) {
                    reqs[j].outcome = AW_FETCH_FAILED;
                    snprintf(reqs[j].error, sizeof reqs[j].error, "interrupted");
                    if (reqs[j].on_end)
                        reqs[j].on_end(reqs[j].ud);
                }
                return AW_EINTERRUPTED;
            }
            int g = p->gate ? p->gate(p->gate_ud, i) : AW_GATE_START;
            if (g == AW_GATE_START) {
                one(fs, r);
                break;
            }
            if (g == AW_GATE_SKIP) {
                r->outcome = AW_FETCH_FAILED;
                snprintf(r->error, sizeof r->error, "not started");
                break;
            }
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        if (r->on_end)
            r->on_end(r->ud);
    }
    return AW_OK;
}

int aw_fstore_probe(const aw_fstore *fs, char *errstr, size_t errn) {
    for (size_t i = 0; i < fs->n; i++)
        if (access(fs->roots[i].path, R_OK | X_OK) != 0) {
            snprintf(errstr, errn, "%s: %s", fs->roots[i].path, strerror(errno));
            return AW_EUNAVAILABLE;
        }
    return AW_OK;
}
