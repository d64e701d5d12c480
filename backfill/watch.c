/*
 * `artifact-watch watch DIR...`: local folders (and shared file systems) as
 * a source, the way ingest watches buckets. Each root directory is a bucket
 * of a file store (aw/store.h); what a file is, is decided exactly as for a
 * bucket, by backfill's page settlement (page.c): the walk of a root is its
 * listing, a file is read and hashed through the store client, and only the
 * indexer writes.
 *
 * inotify tells which paths changed: a file closed after writing, renamed
 * in or out, deleted, or its attributes changed. A changed path waits
 * watch.settle_ms after its last event, so a temporary file renamed into
 * place is read once, under its final name; then the paths due are settled
 * together, a page of them at a time (a file that is there is indexed if its
 * inode, size or mtime are new to the index; one that is gone is marked
 * deleted once a HEAD confirms it). A new directory is watched and walked
 * (files may have landed in it before the watch did); a directory renamed
 * or deleted is walked again where it was.
 *
 * Nothing is lost to a kill or to the kernel: every start walks the roots
 * before taking events, and so does an overflow of inotify's queue, and
 * --rescan walks them periodically for file systems whose remote changes
 * inotify never reports (NFS). Memory and watches grow with directories;
 * files are counted in the index, not here.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "aw/backfill.h"
#include "aw/codec.h"
#include "aw/daemon.h"
#include "aw/log.h"
#include "aw/metrics.h"
#include "aw/util.h"
#include "internal.h"

#define WLOG "watch"
#define KEY_MAX 1024
#define FILE_EVENTS (IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_ATTRIB)
#define DIR_MASK (FILE_EVENTS | IN_CREATE | IN_MODIFY | IN_DELETE_SELF | IN_ONLYDIR | \
                  IN_DONT_FOLLOW | IN_EXCL_UNLINK)

/* ------------------------------------------------------------ state */

typedef struct wroot {
    const char *bucket, *path;
} wroot;

typedef struct watcher {
    backfill *bf;
    int fd;                 /* inotify */
    wroot *roots;
    size_t nroots;
    bf_htab wds;               /* "wd" -> its directory */
    bf_htab dirty;             /* "root\x1fkey" -> when due */
    bool rewalk;            /* the queue overflowed, or a walk did not finish */
    bool again;             /* a walk left files it could not read as listed */
    int64_t walk_at;        /* with rewalk: when */
    int64_t nowatch;        /* directories inotify could not watch */
} watcher;

static aw_metric *m_events, *m_dirs, *m_walks, *m_nowatch;

static void declare_metrics(void) {
    m_events = aw_metric_counter("aw_watch_events_total",
                                 "inotify events taken in (changed paths, before settling)",
                                 NULL);
    m_dirs = aw_metric_gauge("aw_watch_directories", "directories watched with inotify", NULL);
    m_walks = aw_metric_counter("aw_watch_walks_total",
                                "walks of a root or a directory that reconciled the index",
                                NULL);
    m_nowatch = aw_metric_counter("aw_watch_unwatched_directories_total",
                                  "directories inotify could not watch (only walks see them)",
                                  NULL);
}

/* ------------------------------------------------------------ watches */

/* Watches directory dir (key prefix "" or "a/b/") of root r and every
 * directory below it, no link followed. */
static int watch_tree(watcher *w, int r, const char *dir) {
    char path[PATH_MAX];
    if (aw_fmt(path, sizeof path, "%s/%s", w->roots[r].path, dir) != AW_OK)
        return AW_OK; /* too long to watch: walks still see what they can */
    int wd = inotify_add_watch(w->fd, path, DIR_MASK);
    if (wd < 0) {
        w->nowatch++;
        aw_metric_add(m_nowatch, 1);
        if (errno == ENOSPC)
            AW_ERROR(WLOG, "%s: no inotify watch left (raise fs.inotify.max_user_watches, or "
                     "set --rescan): changes below it are seen by walks only", path);
        else if (errno != ENOENT && errno != ENOTDIR)
            AW_WARN(WLOG, "%s: cannot watch: %s", path, strerror(errno));
        return AW_OK;
    }
    char k[24];
    snprintf(k, sizeof k, "%d", wd);
    bool made;
    bf_hent *e = bf_hget(&w->wds, k, &made);
    char *d = strdup(dir);
    if (!e || !d) {
        free(d);
        return AW_ENOMEM;
    }
    free(e->dir);
    e->dir = d; /* the same directory renamed keeps its descriptor: a new place */
    e->root = r;
    aw_metric_set(m_dirs, (double)w->wds.n);
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR *dh = fd >= 0 ? fdopendir(fd) : NULL;
    if (!dh) {
        if (fd >= 0)
            close(fd);
        return AW_OK;
    }
    int rc = AW_OK;
    struct dirent *de;
    size_t dl = strlen(dir);
    while (rc == AW_OK && (de = readdir(dh))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        bool isdir = de->d_type == DT_DIR;
        if (de->d_type == DT_UNKNOWN) {
            struct stat st;
            isdir = fstatat(dirfd(dh), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                    S_ISDIR(st.st_mode);
        }
        size_t nl = strlen(de->d_name);
        /* a directory whose name cannot be in a key is not watched (walks
         * skip and count it too) */
        if (!isdir || dl + nl + 1 > KEY_MAX || !aw_utf8_valid(de->d_name, nl))
            continue;
        char *sub = malloc(dl + nl + 2);
        if (!sub) {
            rc = AW_ENOMEM;
            break;
        }
        memcpy(sub, dir, dl);
        memcpy(sub + dl, de->d_name, nl);
        sub[dl + nl] = '/';
        sub[dl + nl + 1] = '\0';
        rc = watch_tree(w, r, sub);
        free(sub);
    }
    closedir(dh);
    return rc;
}

/* Stops watching dir of root r and what is below it (renamed away). */
static void unwatch_tree(watcher *w, int r, const char *dir) {
    size_t dl = strlen(dir);
    for (size_t i = 0; i < w->wds.nb; i++)
        for (bf_hent *e = w->wds.b[i], *nx; e; e = nx) {
            nx = e->next;
            if (e->root == r && !strncmp(e->dir, dir, dl)) {
                inotify_rm_watch(w->fd, (int)strtol(e->key, NULL, 10));
            }
        }
}

/* ------------------------------------------------------------ changes */

/* Marks key of root r changed: settled once settle_ms pass with no other
 * event for it. A key ending in '/' is a directory to walk. */
static int mark(watcher *w, int r, const char *key, int64_t now) {
    size_t kl = strlen(key);
    char *k = malloc(kl + 16);
    if (!k)
        return AW_ENOMEM;
    snprintf(k, kl + 16, "%d:%s", r, key);
    bool made;
    bf_hent *e = bf_hget(&w->dirty, k, &made);
    free(k);
    if (!e)
        return AW_ENOMEM;
    e->root = r;
    e->due = now + w->bf->cfg->watch_settle_ms;
    return AW_OK;
}

/* Takes in one event. */
static int take(watcher *w, const struct inotify_event *ev, int64_t now) {
    aw_metric_add(m_events, 1);
    if (ev->mask & IN_Q_OVERFLOW) {
        AW_WARN(WLOG, "inotify's queue overflowed: events were lost; walking the roots");
        w->rewalk = true;
        w->walk_at = now;
        return AW_OK;
    }
    char k[24];
    snprintf(k, sizeof k, "%d", ev->wd);
    if (ev->mask & IN_IGNORED) {
        bf_hdel(&w->wds, k);
        aw_metric_set(m_dirs, (double)w->wds.n);
        return AW_OK;
    }
    const bf_hent *d = bf_hfind(&w->wds, k);
    if (!d || !ev->len || !ev->name[0])
        return AW_OK;
    size_t dl = strlen(d->dir), nl = strlen(ev->name);
    bool isdir = ev->mask & IN_ISDIR;
    if (dl + nl + isdir > KEY_MAX || !aw_utf8_valid(ev->name, nl)) {
        char x[160];
        aw_escape_text(ev->name, nl, x, sizeof x);
        AW_WARN(WLOG, "%s/%s%s: %s; not indexed", w->roots[d->root].path, d->dir, x,
                dl + nl + isdir > KEY_MAX ? "a key longer than 1024 bytes"
                                          : "a name that is not UTF-8");
        return AW_OK;
    }
    char key[KEY_MAX + 2];
    memcpy(key, d->dir, dl);
    memcpy(key + dl, ev->name, nl + 1);
    int r = d->root;
    if (isdir) {
        /* IN_ATTRIB: a directory made readable may be watched and walked now */
        uint32_t in = IN_CREATE | IN_MOVED_TO | IN_ATTRIB;
        if (!(ev->mask & (in | IN_MOVED_FROM | IN_DELETE)))
            return AW_OK;
        key[dl + nl] = '/';
        key[dl + nl + 1] = '\0';
        if (ev->mask & IN_MOVED_FROM)
            unwatch_tree(w, r, key);
        int rc = ev->mask & in ? watch_tree(w, r, key) : AW_OK;
        return rc == AW_OK ? mark(w, r, key, now) : rc;
    }
    if (ev->mask & IN_MODIFY) { /* still being written: later, if it is waiting */
        char dk[KEY_MAX + 16];
        snprintf(dk, sizeof dk, "%d:%s", r, key);
        bf_hent *e = bf_hfind(&w->dirty, dk);
        if (e)
            e->due = now + w->bf->cfg->watch_settle_ms;
        return AW_OK;
    }
    if (!(ev->mask & FILE_EVENTS))
        return AW_OK; /* a file created: its close (or rename) tells when it is whole */
    return mark(w, r, key, now);
}

/* Reads what inotify has. */
static int drain(watcher *w) {
    char buf[64 * 1024] __attribute__((aligned(__alignof__(struct inotify_event))));
    int64_t now = aw_now_ms();
    for (;;) {
        ssize_t n = read(w->fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return AW_OK; /* EAGAIN: nothing more now */
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *ev = (const struct inotify_event *)p;
            int rc = take(w, ev, now);
            if (rc != AW_OK)
                return rc;
            p += sizeof *ev + ev->len;
        }
    }
}

/* ------------------------------------------------------------ settling */

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Settles keys[0..n) (sorted) of root r: one page. A file written within
 * the last second is left waiting (young[i]): its bytes may still be
 * arriving. */
static int settle_files(watcher *w, int r, char **keys, size_t n, bool *young, char *errstr,
                        size_t errn) {
    aw_listed *items = calloc(n ? n : 1, sizeof *items);
    char **settled = calloc(n ? n : 1, sizeof *settled);
    if (!items || !settled) {
        free(items), free(settled);
        return AW_ENOMEM;
    }
    size_t ni = 0, ns = 0;
    backfill *bf = w->bf;
    int rc = AW_OK;
    /* a file that is not there (or not a file) is settled as absent: a HEAD decides */
    for (size_t i = 0; i < n && rc != AW_ENOMEM; i++) {
        rc = aw_s3_file_entry(bf->s3, w->roots[r].bucket, keys[i], &items[ni], &young[i]);
        if (rc == AW_OK && young[i])
            free(items[ni].key), free(items[ni].etag), free(items[ni].last_modified);
        else if (rc == AW_OK)
            ni++;
        if (!young[i])
            settled[ns++] = keys[i];
    }
    bf->bucket = w->roots[r].bucket;
    bf->prefix = "";
    bf_range range = {.after = "", .only = (const char *const *)settled, .nonly = ns};
    if (rc != AW_ENOMEM)
        rc = ns ? bf_page(bf, items, ni, &range, errstr, errn) : AW_OK;
    for (size_t i = 0; i < ni; i++)
        free(items[i].key), free(items[i].etag), free(items[i].last_modified);
    free(items);
    free(settled);
    return rc;
}

/* Walks prefix of root r ("" the whole root, watched first: directories
 * made while events were lost): backfill's pass. Done when its listing
 * reached the end, whatever became of single files (each is logged and
 * counted); files it could not read as listed (changed, or too fresh) make
 * the root walked again soon. */
static int walk(watcher *w, int r, const char *prefix) {
    aw_metric_add(m_walks, 1);
    if (!*prefix && watch_tree(w, r, "") != AW_OK)
        return AW_ENOMEM;
    bf_run_target(w->bf, w->roots[r].bucket, prefix);
    if (w->bf->finished && w->bf->c.gone)
        w->again = true;
    return w->bf->finished ? AW_OK : AW_EUNAVAILABLE;
}

/* Settles what is due: files a page at a time, directories by a walk. What
 * fails (the database away) or is too fresh waits and is tried again; the
 * rest of the pass goes on. */
static int settle(watcher *w, int64_t now) {
    size_t cap = w->dirty.n, n = 0;
    if (!cap)
        return AW_OK;
    char **due = malloc(cap * sizeof *due);
    int64_t *retry = calloc(cap, sizeof *retry); /* 0: settled, else when to try again */
    bool *young = calloc(cap, sizeof *young);
    if (!due || !retry || !young) {
        free(due), free(retry), free(young);
        return AW_ENOMEM;
    }
    for (size_t i = 0; i < w->dirty.nb; i++)
        for (bf_hent *e = w->dirty.b[i]; e; e = e->next)
            if (e->due <= now)
                due[n++] = e->key;
    qsort(due, n, sizeof *due, cmp_str); /* "r:key": by root, then key */
    long page = w->bf->cfg->backfill_page_size;
    int rc = AW_OK;
    char err[1024] = "";
    for (size_t i = 0; i < n && rc != AW_ENOMEM && !aw_stop;) {
        int r = (int)strtol(due[i], NULL, 10);
        char *key = strchr(due[i], ':') + 1;
        if (key[strlen(key) - 1] == '/') { /* a directory: walked */
            if ((rc = walk(w, r, key)) == AW_ENOMEM)
                break;
            retry[i] = rc == AW_OK ? 0 : now + 5000;
            i++;
            continue;
        }
        size_t j = i;
        char *keys[1000];
        _Static_assert(sizeof keys / sizeof *keys >= 1000, "a page is at most 1000 keys");
        while (j < n && (long)(j - i) < page && (int)strtol(due[j], NULL, 10) == r) {
            char *kj = strchr(due[j], ':') + 1;
            if (kj[strlen(kj) - 1] == '/')
                break;
            keys[j - i] = kj;
            j++;
        }
        rc = settle_files(w, r, keys, j - i, young + i, err, sizeof err);
        if (rc != AW_OK && rc != AW_ENOMEM)
            AW_ERROR(WLOG, "%s; trying again in 5 s", err[0] ? err : aw_strerror(rc));
        for (size_t k = i; k < j; k++)
            retry[k] = young[k] ? now + 1000 : rc == AW_OK ? 0 : now + 5000;
        i = j;
    }
    /* what was settled is forgotten; the rest waits */
    for (size_t i = 0; i < n; i++) {
        bf_hent *e = bf_hfind(&w->dirty, due[i]);
        if (e && retry[i])
            e->due = retry[i];
        else if (e && rc != AW_ENOMEM)
            bf_hdel(&w->dirty, due[i]); /* due[i] is e's key: not used after this */
    }
    free(due), free(retry), free(young);
    return rc == AW_ENOMEM ? rc : AW_OK;
}

/* ------------------------------------------------------------ the loop */

/* Walks every root: again in 10 s when one did not reach its end, in 2 s
 * when one left files too fresh (or changing) to read. */
static void walk_all(watcher *w) {
    bool ok = true;
    w->again = false;
    for (size_t r = 0; r < w->nroots && !aw_stop; r++)
        ok &= walk(w, (int)r, "") == AW_OK;
    w->rewalk = !ok || w->again;
    w->walk_at = aw_now_ms() + (ok ? 2000 : 10000);
    aw_metrics_ready(ok, ok ? NULL : "a walk failed; see the log");
}

static int run(watcher *w) {
    for (size_t r = 0; r < w->nroots; r++) {
        int rc = watch_tree(w, (int)r, "");
        if (rc != AW_OK)
            return rc;
        AW_INFO(WLOG, "watching %s as bucket %s of store %s (%zu directories so far)",
                w->roots[r].path, w->roots[r].bucket, w->bf->cfg->s3_store, w->wds.n);
    }
    /* events from here on wait in the queue while the walks reconcile */
    walk_all(w);
    const aw_config *cfg = w->bf->cfg;
    int64_t rescan_ms = cfg->watch_rescan_s * 1000, last_walk = aw_now_ms();
    while (!aw_stop) {
        struct pollfd p = {.fd = w->fd, .events = POLLIN};
        int64_t now = aw_now_ms(), wait = 1000;
        for (size_t i = 0; i < w->dirty.nb; i++)
            for (bf_hent *e = w->dirty.b[i]; e; e = e->next)
                if (e->due - now < wait)
                    wait = e->due - now;
        if (poll(&p, 1, (int)(wait > 0 ? wait : 0)) > 0 && drain(w) != AW_OK)
            return AW_ENOMEM;
        now = aw_now_ms();
        if ((w->rewalk && now >= w->walk_at) || (rescan_ms > 0 && now - last_walk >= rescan_ms)) {
            walk_all(w);
            last_walk = now;
        }
        if (settle(w, now) != AW_OK)
            return AW_ENOMEM;
        aw_metrics_heartbeat();
    }
    return AW_OK;
}

/* The roots to watch: every root of the store, or the DIRs named, each of
 * which must be one of them. */
static int pick_roots(const aw_config *cfg, aw_s3 *s3, watcher *w) {
    aw_listing_page pg = {0};
    aw_list_req q = {0};
    char err[512];
    if (aw_s3_list(s3, NULL, &q, &pg, err, sizeof err) != AW_OK || !pg.nbuckets) {
        aw_listing_page_clear(&pg);
        return AW_ENOMEM;
    }
    w->roots = calloc(pg.nbuckets, sizeof *w->roots);
    int rc = w->roots ? AW_OK : AW_ENOMEM;
    for (size_t i = 0; rc == AW_OK && i < pg.nbuckets; i++) {
        const char *path = aw_s3_root(s3, pg.buckets[i]);
        bool named = !cfg->nargs;
        for (size_t a = 0; !named && a < cfg->nargs; a++) {
            char *real = realpath(cfg->args[a], NULL);
            named = real && !strcmp(real, path);
            free(real);
        }
        if (named) {
            w->roots[w->nroots].bucket = strdup(pg.buckets[i]);
            w->roots[w->nroots++].path = path;
            rc = w->roots[w->nroots - 1].bucket ? AW_OK : AW_ENOMEM;
        }
    }
    aw_listing_page_clear(&pg);
    return rc;
}

int aw_cmd_watch(aw_config *cfg) {
    declare_metrics();
    if (!strcmp(cfg->s3_store, "default")) { /* a folder is not the S3 default store */
        char *l = strdup("local");
        if (!l)
            return 1;
        free(cfg->s3_store);
        cfg->s3_store = l;
    }
    aw_store_def extra = {.name = cfg->s3_store, .kind = AW_STORE_FILE,
                          .roots = (char **)cfg->args, .nroots = cfg->nargs};
    backfill bf = {.cfg = cfg, .ephemeral = true, .event_name = "Watch",
                   .pol = {.concurrency = 1, .retries = (int)cfg->fetch_retries,
                           .backoff_base_ms = 200, .backoff_max_ms = 10000,
                           .stop_grace_ms = 5000}};
    cfg->backfill_restart = true;
    watcher w = {.bf = &bf, .fd = -1};
    char err[1024];
    int status = 0;
    if (aw_stores_open_with(cfg, cfg->nargs ? &extra : NULL, &bf.stores, err, sizeof err) !=
        AW_OK) {
        fprintf(stderr, "artifact-watch watch: %s\n", err);
        return 2;
    }
    bf.s3 = aw_stores_client(bf.stores, cfg->s3_store);
    if (aw_s3_kind(bf.s3) != AW_STORE_FILE) {
        fprintf(stderr, "artifact-watch watch: store \"%s\" is not a file store: name the "
                "folders (watch DIR...) or describe it with kind = file and its roots in the "
                "stores file\n", cfg->s3_store);
        status = 2;
    } else if (pick_roots(cfg, bf.s3, &w) != AW_OK || w.nroots != (cfg->nargs ? cfg->nargs
                                                                              : w.nroots)) {
        fprintf(stderr, "artifact-watch watch: every DIR must be one of the roots of store "
                "\"%s\" in the stores file\n", cfg->s3_store);
        status = 2;
    }
    if (!status && aw_indexer_new(cfg, &bf.ix, err, sizeof err) != AW_OK) {
        fprintf(stderr, "artifact-watch watch: %s\n", err);
        status = 2;
    }
    if (!status && aw_pg_connect(cfg->pg_conninfo, &bf.pg, err, sizeof err) != AW_OK) {
        AW_ERROR(WLOG, "PostgreSQL: %s", err);
        status = 1;
    }
    if (!status && (w.fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) < 0) {
        AW_ERROR(WLOG, "inotify: %s", strerror(errno));
        status = 1;
    }
    if (!status) {
        aw_daemon_signals();
        aw_rate_init(&bf.rate, 0);
        if (run(&w) != AW_OK) {
            AW_ERROR(WLOG, "out of memory");
            status = 1;
        }
        AW_INFO(WLOG, "stopped");
    }
    if (w.fd >= 0)
        close(w.fd);
    bf_hfree(&w.wds);
    bf_hfree(&w.dirty);
    for (size_t i = 0; i < w.nroots; i++)
        free((char *)w.roots[i].bucket);
    free(w.roots);
    aw_pg_destroy(bf.pg);
    aw_indexer_destroy(bf.ix);
    aw_stores_destroy(bf.stores);
    return status;
}
