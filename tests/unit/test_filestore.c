/*
 * The file store (common/store/file.c, filelist.c) on a real directory tree
 * made here: reads, ranged reads, HEADs and If-Match DELETEs with the S3
 * client's outcomes; no link ever followed out of the root; FIFOs refused
 * without blocking; the walk in S3's key order, paged after a marker, with
 * what cannot be a key counted and left out.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "aw/hash.h"
#include "internal.h"
#include "test.h"

static char base[256];

static void put(const char *rel, const char *text) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", base, rel);
    for (char *s = p + strlen(base) + 1; (s = strchr(s, '/')); s++) {
        *s = '\0';
        mkdir(p, 0755);
        *s = '/';
    }
    FILE *f = fopen(p, "w");
    if (!f || fputs(text, f) < 0 || fclose(f)) {
        fprintf(stderr, "cannot write %s\n", p);
        exit(1);
    }
    /* written a while ago: a file store leaves a file written within the
     * last second alone (the case below shows that) */
    struct timespec t[2] = {{.tv_nsec = UTIME_OMIT}, {.tv_sec = time(NULL) - 10}};
    if (utimensat(AT_FDCWD, p, t, 0) != 0) {
        fprintf(stderr, "cannot set the mtime of %s\n", p);
        exit(1);
    }
}

typedef struct got {
    char buf[256];
    size_t len;
    int starts;
} got;

static int on_start(void *ud) {
    got *g = ud;
    g->len = 0;
    g->starts++;
    return AW_OK;
}

static int on_body(void *ud, const void *d, size_t n) {
    got *g = ud;
    if (g->len + n >= sizeof g->buf)
        return AW_EINVAL;
    memcpy(g->buf + g->len, d, n);
    g->len += n;
    g->buf[g->len] = '\0';
    return AW_OK;
}

static aw_fetch req(const char *method, const char *key, const char *if_match, got *g) {
    return (aw_fetch){.method = method, .bucket = "proj", .key = key, .if_match = if_match,
                      .on_start = on_start, .on_body = on_body, .ud = g};
}

static void run(aw_s3 *s3, aw_fetch *f) {
    aw_fetch_policy p = {.concurrency = 1};
    ASSERT_INT_EQ(aw_s3_fetch_many(s3, f, 1, &p, NULL), AW_OK);
}

static void list_keys(aw_s3 *s3, const char *prefix, const char *after, long max, char *out,
                      size_t cap, aw_listing_page *pg) {
    aw_list_req q = {.bucket = "proj", .prefix = prefix, .start_after = after, .max_keys = max};
    char err[256];
    ASSERT_INT_EQ(aw_s3_list(s3, NULL, &q, pg, err, sizeof err), AW_OK);
    out[0] = '\0';
    for (size_t i = 0; i < pg->n; i++) {
        strncat(out, pg->items[i].key, cap - strlen(out) - 2);
        strncat(out, "|", cap - strlen(out) - 1);
    }
}

int main(void) {
    snprintf(base, sizeof base, "/tmp/aw-filestore-%d/proj", (int)getpid());
    char top[256];
    snprintf(top, sizeof top, "/tmp/aw-filestore-%d", (int)getpid());
    mkdir(top, 0755);
    mkdir(base, 0755);
    put("data/raw/customers.csv", "id,name\n1,a\n");
    put("data/raw-2.csv", "x");
    put("data/a b.csv", "y");
    put("models/churn.joblib", "model-bytes");
    put("z", "last");
    char p[1100], out[1024], err[256];
    snprintf(p, sizeof p, "%s/link", base);
    ASSERT_INT_EQ(symlink("/etc", p), 0);
    snprintf(p, sizeof p, "%s/models/passwd", base);
    ASSERT_INT_EQ(symlink("/etc/passwd", p), 0);
    snprintf(p, sizeof p, "%s/models/fifo", base);
    ASSERT_INT_EQ(mkfifo(p, 0644), 0);
    const char *roots[] = {base};
    aw_s3_opts o = {.kind = AW_STORE_FILE, .roots = roots, .nroots = 1};
    aw_s3 *s3 = NULL;
    ASSERT_INT_EQ(aw_s3_new(&o, &s3, err, sizeof err), AW_OK);

    CASE("a root is the bucket its last component names; roots must be directories") {
        ASSERT_STR_EQ(aw_s3_root(s3, "proj"), base);
        ASSERT(aw_s3_root(s3, "other") == NULL);
        aw_s3 *bad = NULL;
        const char *rel[] = {"relative/dir"};
        aw_s3_opts b = {.kind = AW_STORE_FILE, .roots = rel, .nroots = 1};
        ASSERT_INT_EQ(aw_s3_new(&b, &bad, err, sizeof err), AW_ECONFIG);
        ASSERT_CONTAINS(err, "absolute");
        char twin[300];
        snprintf(twin, sizeof twin, "%s/x", top);
        mkdir(twin, 0755);
        snprintf(twin, sizeof twin, "%s/x/proj", top);
        mkdir(twin, 0755);
        const char *two[] = {base, twin};
        b.roots = two, b.nroots = 2;
        ASSERT_INT_EQ(aw_s3_new(&b, &bad, err, sizeof err), AW_ECONFIG);
        ASSERT_CONTAINS(err, "both be bucket");
        b.nroots = 0;
        ASSERT_INT_EQ(aw_s3_new(&b, &bad, err, sizeof err), AW_ECONFIG);
        char inner[300];
        snprintf(inner, sizeof inner, "%s/data", base);
        const char *nested[] = {base, inner};
        b.roots = nested, b.nroots = 2;
        ASSERT_INT_EQ(aw_s3_new(&b, &bad, err, sizeof err), AW_ECONFIG);
        ASSERT_CONTAINS(err, "overlap");
    }

    CASE("GET streams the file; HEAD gives size and an ETag of inode, size and mtime") {
        got g = {0};
        aw_fetch f = req(NULL, "data/raw/customers.csv", NULL, &g);
        run(s3, &f);
        ASSERT_INT_EQ(f.outcome, AW_FETCH_OK);
        ASSERT_STR_EQ(g.buf, "id,name\n1,a\n");
        ASSERT_INT_EQ(f.info.content_length, 12);
        struct stat st;
        snprintf(p, sizeof p, "%s/data/raw/customers.csv", base);
        ASSERT_INT_EQ(stat(p, &st), 0);
        char etag[80];
        aw_file_etag((uint64_t)st.st_ino, st.st_size, st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
                     etag, sizeof etag);
        ASSERT_STR_EQ(f.info.etag, etag);
        aw_fetch h = req("HEAD", "data/raw/customers.csv", etag, &g);
        run(s3, &h);
        ASSERT_INT_EQ(h.outcome, AW_FETCH_OK);
        ASSERT_INT_EQ(h.info.content_length, 12);
        aw_fetch r = req(NULL, "models/churn.joblib", NULL, &g);
        r.range_start = 2, r.range_len = 4;
        run(s3, &r);
        ASSERT_INT_EQ(r.outcome, AW_FETCH_OK);
        ASSERT_INT_EQ(r.info.status, 206);
        ASSERT_STR_EQ(g.buf, "del-");
        ASSERT_INT_EQ(r.info.range_total, 11);
    }

    CASE("missing files, unknown buckets and versions are 404s; bad keys are refused") {
        got g = {0};
        aw_fetch f = req(NULL, "data/nope.csv", NULL, &g);
        run(s3, &f);
        ASSERT_INT_EQ(f.outcome, AW_FETCH_NOT_FOUND);
        ASSERT_STR_EQ(f.info.error_code, "NoSuchKey");
        f = req(NULL, "x", NULL, &g);
        f.bucket = "elsewhere";
        run(s3, &f);
        ASSERT_INT_EQ(f.outcome, AW_FETCH_NOT_FOUND);
        ASSERT_STR_EQ(f.info.error_code, "NoSuchBucket");
        f = req(NULL, "z", NULL, &g);
        f.version_id = "v1";
        run(s3, &f);
        ASSERT_INT_EQ(f.outcome, AW_FETCH_NOT_FOUND);
        const char *bad[] = {"../etc/passwd", "data/../../x", "/etc/passwd", "a//b", "./z",
                             "data/"};
        for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
            f = req(NULL, bad[i], NULL, &g);
            run(s3, &f);
            ASSERT_INT_EQ(f.outcome, AW_FETCH_FAILED);
            ASSERT_INT_EQ(f.info.status, 400);
        }
    }

    CASE("links are never followed (no such file), FIFOs are refused without blocking") {
        got g = {0};
        aw_fetch f = req(NULL, "link/passwd", NULL, &g);
        run(s3, &f);
        ASSERT_INT_EQ(f.outcome, AW_FETCH_NOT_FOUND);
        ASSERT_INT_EQ((int)g.len, 0);
        f = req(NULL, "models/passwd", NULL, &g);
        run(s3, &f);
        ASSERT_INT_EQ(f.outcome, AW_FETCH_NOT_FOUND);
        ASSERT_INT_EQ((int)g.len, 0);
        f = req("DELETE", "models/passwd", NULL, &g);
        run(s3, &f);
        ASSERT_INT_EQ(f.outcome, AW_FETCH_NOT_FOUND);
        ASSERT_INT_EQ(access("/etc/passwd", F_OK), 0);
        snprintf(p, sizeof p, "%s/models/passwd", base);
        struct stat st;
        ASSERT_INT_EQ(lstat(p, &st), 0); /* the link itself is still there */
        f = req(NULL, "models/fifo", NULL, &g);
        run(s3, &f);
        ASSERT_INT_EQ(f.outcome, AW_FETCH_NOT_FOUND); /* no file of this store */
        f = req("DELETE", "models/fifo", NULL, &g);
        run(s3, &f);
        ASSERT_INT_EQ(f.outcome, AW_FETCH_NOT_FOUND);
        snprintf(p, sizeof p, "%s/models/fifo", base);
        struct stat fst;
        ASSERT_INT_EQ(lstat(p, &fst), 0); /* never unlinked */
        f = req(NULL, "data", NULL, &g); /* a directory */
        run(s3, &f);
        ASSERT_INT_EQ(f.outcome, AW_FETCH_NOT_FOUND);
    }

    CASE("DELETE unlinks only while inode, size and mtime are what If-Match says") {
        got g = {0};
        put("tmp/victim", "v1");
        aw_fetch h = req("HEAD", "tmp/victim", NULL, &g);
        run(s3, &h);
        char old[80];
        snprintf(old, sizeof old, "%s", h.info.etag);
        put("tmp/victim", "v2-longer"); /* rewritten: size and mtime differ */
        aw_fetch d = req("DELETE", "tmp/victim", old, &g);
        run(s3, &d);
        ASSERT_INT_EQ(d.outcome, AW_FETCH_PRECONDITION);
        snprintf(p, sizeof p, "%s/tmp/victim", base);
        ASSERT_INT_EQ(access(p, F_OK), 0);
        h = req("HEAD", "tmp/victim", NULL, &g);
        run(s3, &h);
        d = req("DELETE", "tmp/victim", h.info.etag, &g);
        run(s3, &d);
        ASSERT_INT_EQ(d.outcome, AW_FETCH_OK);
        ASSERT(access(p, F_OK) != 0);
        run(s3, &d);
        ASSERT_INT_EQ(d.outcome, AW_FETCH_NOT_FOUND);
    }

    CASE("a file written within the last second is not read yet: it may be mid-write") {
        snprintf(p, sizeof p, "%s/fresh.txt", base);
        FILE *fw = fopen(p, "w");
        ASSERT(fw != NULL);
        fputs("fresh", fw);
        fclose(fw);
        got g = {0};
        aw_fetch f = req(NULL, "fresh.txt", NULL, &g);
        run(s3, &f);
        ASSERT_INT_EQ(f.outcome, AW_FETCH_PRECONDITION);
        ASSERT_CONTAINS(f.error, "within the last second");
        ASSERT_INT_EQ(unlink(p), 0);
    }

    CASE("a root swapped for a link elsewhere is not followed") {
        char moved[512], elsewhere[512];
        snprintf(moved, sizeof moved, "%s.moved", base);
        snprintf(elsewhere, sizeof elsewhere, "%s/elsewhere", top);
        ASSERT_INT_EQ(mkdir(elsewhere, 0755), 0);
        snprintf(p, sizeof p, "%s/z", elsewhere);
        FILE *fw = fopen(p, "w");
        ASSERT(fw != NULL);
        fclose(fw);
        ASSERT_INT_EQ(rename(base, moved), 0);
        ASSERT_INT_EQ(symlink(elsewhere, base), 0);
        got g = {0};
        aw_fetch f = req("DELETE", "z", NULL, &g);
        run(s3, &f);
        ASSERT_INT_EQ(f.outcome, AW_FETCH_FAILED);
        ASSERT_CONTAINS(f.error, "not the directory it was at start");
        ASSERT_INT_EQ(access(p, F_OK), 0);
        aw_listing_page pg = {0};
        aw_list_req q = {.bucket = "proj"};
        ASSERT_INT_EQ(aw_s3_list(s3, NULL, &q, &pg, err, sizeof err), AW_EUNAVAILABLE);
        ASSERT_INT_EQ(unlink(base), 0);
        ASSERT_INT_EQ(rename(moved, base), 0);
    }

    CASE("the walk lists in S3's key order, skips and counts links and FIFOs") {
        aw_listing_page pg = {0};
        list_keys(s3, "", "", 1000, out, sizeof out, &pg);
        /* '-' and ' ' sort before '/': data/a b.csv < data/raw-2.csv < data/raw/... */
        ASSERT_STR_EQ(out, "data/a b.csv|data/raw-2.csv|data/raw/customers.csv|"
                           "models/churn.joblib|z|");
        ASSERT_INT_EQ((int)pg.refused, 3); /* link, models/fifo, models/passwd */
        ASSERT(!pg.truncated);
        ASSERT(pg.items[0].etag && pg.items[0].last_modified && pg.items[0].size == 1);
        aw_listing_page_clear(&pg);
    }

    CASE("pages continue after the marker; prefixes prune the walk") {
        aw_listing_page pg = {0};
        list_keys(s3, "", "", 2, out, sizeof out, &pg);
        ASSERT_STR_EQ(out, "data/a b.csv|data/raw-2.csv|");
        ASSERT(pg.truncated);
        ASSERT_STR_EQ(pg.next_token, "data/raw-2.csv");
        aw_list_req q = {.bucket = "proj", .prev = &pg, .max_keys = 2};
        aw_listing_page pg2 = {0};
        ASSERT_INT_EQ(aw_s3_list(s3, NULL, &q, &pg2, err, sizeof err), AW_OK);
        ASSERT_INT_EQ((int)pg2.n, 2);
        ASSERT_STR_EQ(pg2.items[0].key, "data/raw/customers.csv");
        ASSERT_STR_EQ(pg2.items[1].key, "models/churn.joblib");
        list_keys(s3, "data/raw", "", 1000, out, sizeof out, &pg);
        ASSERT_STR_EQ(out, "data/raw-2.csv|data/raw/customers.csv|");
        list_keys(s3, "", "models/churn.joblib", 1000, out, sizeof out, &pg);
        ASSERT_STR_EQ(out, "z|");
        list_keys(s3, "", "z", 1000, out, sizeof out, &pg);
        ASSERT_STR_EQ(out, "");
        aw_listing_page_clear(&pg);
        aw_listing_page_clear(&pg2);
    }

    CASE("the buckets of a file store are its roots") {
        aw_listing_page pg = {0};
        aw_list_req q = {0};
        ASSERT_INT_EQ(aw_s3_list(s3, NULL, &q, &pg, err, sizeof err), AW_OK);
        ASSERT_INT_EQ((int)pg.nbuckets, 1);
        ASSERT_STR_EQ(pg.buckets[0], "proj");
        aw_listing_page_clear(&pg);
        ASSERT_INT_EQ(aw_s3_probe(s3, err, sizeof err), AW_OK);
    }

    aw_s3_destroy(s3);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", top);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", top);
    TEST_DONE();
}
