/*
 * Sidecar tests. Fixtures: every directory tests/data/sidecars/CASE holds one
 * sidecar file (named as a pipeline would name it, so it is classified by
 * the default patterns as the key "CASE/<file>") and CASE/expected with the
 * rendering below. Then the pattern rules, the size limit, deep nesting and
 * random garbage (under ASan in CI).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aw/codec.h"
#include "sidecar.h"
#include "test.h"

static const char *const default_globs[AW_SC_NKINDS] = {
    NULL,           "metadata.json",      "*.metadata.json", "*.sha256",
    "metrics.json", "*.openlineage.json", "MLmodel"};

#define O(s) ((s) && *(s) ? (s) : "-")

static void render(const aw_sidecar_doc *d, const char *subject, char *out, size_t cap) {
    size_t pos = 0;
#define P(...) pos += (size_t)snprintf(out + pos, cap - pos, __VA_ARGS__)
    P("kind %s subject %s\n", aw_sidecar_kind_name(d->kind), subject ? subject : "-");
    P("error %s\n", O(d->error));
    P("json %s\n", d->json ? "yes" : "no");
    if (d->sha256[0])
        P("sha256 %s\n", d->sha256);
    const char *names[] = {"created_at", "code_commit", "run_id", "job", "event_type",
                           "artifact_type", "name", "version"};
    const char *vals[] = {d->created_at, d->code_commit, d->run_id, d->job, d->event_type,
                          d->artifact_type, d->name, d->version};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (vals[i])
            P("%s %s\n", names[i], vals[i]);
    for (size_t i = 0; i < d->nparents; i++) {
        const aw_lineage_parent *p = &d->parents[i];
        P("parent %s %s %s", p->kind, p->uri, O(p->sha256));
        if (p->child_key)
            P(" -> s3://%s/%s", p->child_bucket, p->child_key);
        P("\n");
    }
#undef P
    ASSERT(pos < cap);
}

static void run_case(aw_sidecar_rules *rules, const char *dir, const char *name, bool print) {
    char path[1024], key[512];
    DIR *d = opendir((snprintf(path, sizeof path, "%s/%s", dir, name), path));
    ASSERT(d != NULL);
    struct dirent *de;
    char file[256] = "";
    while ((de = readdir(d)))
        if (de->d_name[0] != '.' && strcmp(de->d_name, "expected"))
            snprintf(file, sizeof file, "%s", de->d_name);
    closedir(d);
    if (!file[0])
        FAIL_("%s: no sidecar file", name);
    snprintf(key, sizeof key, "%s/%s", name, file);
    char *subject = NULL;
    aw_sidecar_kind k = aw_sidecar_classify(rules, key, &subject);
    if (k == AW_SC_NONE)
        FAIL_("%s: not classified as a sidecar", key);
    size_t len, elen;
    snprintf(path, sizeof path, "%s/%s/%s", dir, name, file);
    char *body = test_slurp(path, &len);
    ASSERT(body != NULL);
    const char *sn = subject && strrchr(subject, '/') ? strrchr(subject, '/') + 1 : subject;
    aw_sidecar_doc doc;
    ASSERT_INT_EQ(aw_sidecar_parse(k, body, len, false, (long long)len, sn, &doc), AW_OK);
    static char got[1 << 14];
    render(&doc, subject, got, sizeof got);
    snprintf(path, sizeof path, "%s/%s/expected", dir, name);
    char *want = test_slurp(path, &elen);
    if (print)
        printf("== %s\n%s", name, got);
    else if (!want)
        FAIL_("%s: no expected file", name);
    else if (strcmp(want, got) != 0)
        FAIL_("%s: differs\n--- want\n%s--- got\n%s", name, want, got);
    aw_test_checks++;
    free(want);
    free(body);
    free(subject);
    aw_sidecar_doc_clear(&doc);
}

static void rules(void) {
    aw_sidecar_rules *r;
    char err[256];
    char *subj;
    ASSERT_INT_EQ(aw_sidecar_rules_new(default_globs, &r, err, sizeof err), AW_OK);
    ASSERT_INT_EQ(aw_sidecar_classify(r, "a/b/metadata.json", &subj), AW_SC_METADATA);
    ASSERT_STR_EQ(subj, "a/b/");
    free(subj);
    ASSERT_INT_EQ(aw_sidecar_classify(r, "metadata.json", &subj), AW_SC_METADATA);
    ASSERT_STR_EQ(subj, "");
    free(subj);
    ASSERT_INT_EQ(aw_sidecar_classify(r, "a/model.bin.metadata.json", &subj),
                  AW_SC_FILE_METADATA);
    ASSERT_STR_EQ(subj, "a/model.bin");
    free(subj);
    /* "x.metadata.json" is a file sidecar even though metadata.json is a folder one */
    ASSERT_INT_EQ(aw_sidecar_classify(r, "a/data set ü.csv.sha256", &subj), AW_SC_SHA256);
    ASSERT_STR_EQ(subj, "a/data set ü.csv");
    free(subj);
    ASSERT_INT_EQ(aw_sidecar_classify(r, "a/.sha256", NULL), AW_SC_NONE);
    ASSERT_INT_EQ(aw_sidecar_classify(r, "a/metrics.json", NULL), AW_SC_METRICS);
    ASSERT_INT_EQ(aw_sidecar_classify(r, "a/run.openlineage.json", &subj), AW_SC_OPENLINEAGE);
    ASSERT(subj == NULL);
    ASSERT_INT_EQ(aw_sidecar_classify(r, "a/metadata.json/model.bin", NULL), AW_SC_NONE);
    ASSERT_INT_EQ(aw_sidecar_classify(r, "a/model.joblib", NULL), AW_SC_NONE);
    ASSERT_INT_EQ(aw_sidecar_classify(r, "a/my-metadata.json", NULL), AW_SC_NONE);
    aw_sidecar_rules_destroy(r);

    const char *custom[AW_SC_NKINDS] = {NULL, "meta.json, *.meta.yaml.json", "*.meta.json",
                                        "*.sha256sum", "", ""};
    ASSERT_INT_EQ(aw_sidecar_rules_new(custom, &r, err, sizeof err), AW_OK);
    ASSERT_INT_EQ(aw_sidecar_classify(r, "x/meta.json", NULL), AW_SC_METADATA);
    ASSERT_INT_EQ(aw_sidecar_classify(r, "x/a.meta.yaml.json", NULL), AW_SC_METADATA);
    ASSERT_INT_EQ(aw_sidecar_classify(r, "x/f.bin.meta.json", &subj), AW_SC_FILE_METADATA);
    ASSERT_STR_EQ(subj, "x/f.bin");
    free(subj);
    ASSERT_INT_EQ(aw_sidecar_classify(r, "x/metrics.json", NULL), AW_SC_NONE);
    ASSERT_INT_EQ(aw_sidecar_classify(r, "x/metadata.json", NULL), AW_SC_NONE);
    aw_sidecar_rules_destroy(r);

    const char *bad1[AW_SC_NKINDS] = {NULL, "", "meta.json", "", "", ""};
    ASSERT_INT_EQ(aw_sidecar_rules_new(bad1, &r, err, sizeof err), AW_ECONFIG);
    ASSERT_CONTAINS(err, "must be \"*SUFFIX\"");
    const char *bad2[AW_SC_NKINDS] = {NULL, "a/metadata.json", "", "", "", ""};
    ASSERT_INT_EQ(aw_sidecar_rules_new(bad2, &r, err, sizeof err), AW_ECONFIG);
    ASSERT_CONTAINS(err, "cannot contain '/'");
}

static void limits(void) {
    aw_sidecar_doc d;
    /* cut at the size limit: refused with the size, nothing read */
    ASSERT_INT_EQ(aw_sidecar_parse(AW_SC_METADATA, "{", 1, true, 3145728, NULL, &d), AW_OK);
    ASSERT_CONTAINS(d.error, "3145728 bytes: larger than the sidecar size limit");
    ASSERT(d.json == NULL && d.nparents == 0);
    aw_sidecar_doc_clear(&d);

    /* nesting: 64 levels are fine, 65 are refused, 100000 do not crash */
    static char deep[200001];
    for (int levels = 63; levels <= 65; levels++) {
        int n = 0;
        n += snprintf(deep + n, sizeof deep - n, "{\"a\":");
        for (int i = 1; i < levels; i++)
            deep[n++] = '[';
        deep[n++] = '1';
        for (int i = 1; i < levels; i++)
            deep[n++] = ']';
        deep[n++] = '}';
        ASSERT_INT_EQ(aw_sidecar_parse(AW_SC_METADATA, deep, (size_t)n, false, n, NULL, &d),
                      AW_OK);
        if (levels <= 64)
            ASSERT_STR_EQ(d.error, "");
        else
            ASSERT_CONTAINS(d.error, "nested deeper than 64 levels");
        aw_sidecar_doc_clear(&d);
    }
    memset(deep, '[', 100000);
    memset(deep + 100000, ']', 100000);
    ASSERT_INT_EQ(aw_sidecar_parse(AW_SC_METADATA, deep, 200000, false, 200000, NULL, &d),
                  AW_OK);
    ASSERT(d.error[0] != '\0' && d.json == NULL);
    aw_sidecar_doc_clear(&d);

    /* NUL inside a string: PostgreSQL's jsonb refuses \u0000, so do we */
    const char nul[] = "{\"name\":\"a\\u0000b\"}";
    ASSERT_INT_EQ(aw_sidecar_parse(AW_SC_METADATA, nul, sizeof nul - 1, false, 0, NULL, &d),
                  AW_OK);
    ASSERT_CONTAINS(d.error, "invalid JSON");
    aw_sidecar_doc_clear(&d);
    const char raw_nul[] = "0123456789012345678901234567890123456789012345678901234567890123\0x";
    ASSERT_INT_EQ(aw_sidecar_parse(AW_SC_SHA256, raw_nul, sizeof raw_nul - 1, false, 0, NULL, &d),
                  AW_OK);
    ASSERT_STR_EQ(d.error, "not text");
    aw_sidecar_doc_clear(&d);
}

/* An OpenLineage event with nin inputs and nout outputs on object stores. */
static char *ol_event(int nin, int nout, size_t *len) {
    size_t cap = 64 + (size_t)(nin + nout) * 96;
    char *s = malloc(cap);
    ASSERT(s != NULL);
    size_t n = (size_t)snprintf(s, cap, "{\"run\":{\"runId\":\"r\"},\"inputs\":[");
    for (int i = 0; i < nin; i++)
        n += (size_t)snprintf(s + n, cap - n, "%s{\"namespace\":\"s3://in-bkt\",\"name\":\"i/%d\"}",
                              i ? "," : "", i);
    n += (size_t)snprintf(s + n, cap - n, "],\"outputs\":[");
    for (int i = 0; i < nout; i++)
        n += (size_t)snprintf(s + n, cap - n, "%s{\"namespace\":\"s3://out-bkt\",\"name\":\"o/%d\"}",
                              i ? "," : "", i);
    n += (size_t)snprintf(s + n, cap - n, "]}");
    *len = n;
    return s;
}

/* What PostgreSQL would refuse never leaves the reader: bounded text, valid
 * bucket names, capped declarations, UTF-8 errors. */
static void hostile(void) {
    aw_sidecar_doc d;
    size_t len;
    /* 1000 inputs x 1000 outputs: a million pairs, the first 10000 kept */
    char *ev = ol_event(1000, 1000, &len);
    ASSERT(len < 120000);
    ASSERT_INT_EQ(aw_sidecar_parse(AW_SC_OPENLINEAGE, ev, len, false, (long long)len, NULL, &d),
                  AW_OK);
    ASSERT_INT_EQ(d.nparents, AW_SIDECAR_MAX_DECLS);
    ASSERT_CONTAINS(d.error, "1000000 lineage declarations; only the first 10000 are kept");
    ASSERT_STR_EQ(d.parents[9999].child_key, "o/9");
    ASSERT_STR_EQ(d.parents[9999].key, "i/999");
    aw_sidecar_doc_clear(&d);
    free(ev);
    ev = ol_event(3, 2, &len);
    ASSERT_INT_EQ(aw_sidecar_parse(AW_SC_OPENLINEAGE, ev, len, false, (long long)len, NULL, &d),
                  AW_OK);
    ASSERT_INT_EQ(d.nparents, 6);
    ASSERT_STR_EQ(d.error, "");
    aw_sidecar_doc_clear(&d);
    free(ev);

    /* text fields longer than an index row: reported and left out */
    static char big[4096];
    int n = snprintf(big, sizeof big, "{\"name\":\"");
    memset(big + n, 'x', 2000);
    n += 2000;
    n += snprintf(big + n, sizeof big - (size_t)n, "\",\"version\":\"v1\"}");
    ASSERT_INT_EQ(aw_sidecar_parse(AW_SC_METADATA, big, (size_t)n, false, n, NULL, &d), AW_OK);
    ASSERT(d.name == NULL);
    ASSERT_STR_EQ(d.version, "v1");
    ASSERT_CONTAINS(d.error, "name: longer than 1024 bytes; not used");
    aw_sidecar_doc_clear(&d);

    /* URIs naming what no store could hold */
    const char *bad = "{\"created_from\":{\"data_path\":[\"s3://a/x\",\"s3://ok-bkt/y\","
                      "\"s3://evil.com:80@b/z\"]}}";
    ASSERT_INT_EQ(aw_sidecar_parse(AW_SC_METADATA, bad, strlen(bad), false, 0, NULL, &d), AW_OK);
    ASSERT_INT_EQ(d.nparents, 1);
    ASSERT_STR_EQ(d.parents[0].bucket, "ok-bkt");
    ASSERT_CONTAINS(d.error, "data_path[0]: \"a\" is not a valid bucket name");
    ASSERT_CONTAINS(d.error, "data_path[2]: \"evil.com:80@b\" is not a valid bucket name");
    aw_sidecar_doc_clear(&d);

    /* errors quoting outside text stay valid UTF-8 and one line, even when
     * the error buffer fills up in the middle of a character */
    static char many[60000];
    n = snprintf(many, sizeof many, "{\"created_from\":{\"data_path\":[");
    for (int i = 0; i < 200; i++)
        n += snprintf(many + n, sizeof many - (size_t)n, "%s\"\\u00e9\\u00e9\\u00e9\\n%d\"",
                      i ? "," : "", i);
    n += snprintf(many + n, sizeof many - (size_t)n, "]}}");
    ASSERT_INT_EQ(aw_sidecar_parse(AW_SC_METADATA, many, (size_t)n, false, n, NULL, &d), AW_OK);
    ASSERT(aw_utf8_valid(d.error, strlen(d.error)));
    ASSERT(strchr(d.error, '\n') == NULL);
    ASSERT_CONTAINS(d.error, "\\x0a");
    aw_sidecar_doc_clear(&d);
}

static void garbage(void) {
    unsigned seed = 777;
    static const char alphabet[] = "{}[]\":,created_from data_path s3:// 0a\\ \n";
    char buf[600];
    for (int round = 0; round < 3000; round++) {
        size_t n = (size_t)(rand_r(&seed) % sizeof buf);
        for (size_t i = 0; i < n; i++)
            buf[i] = alphabet[rand_r(&seed) % (sizeof alphabet - 1)];
        aw_sidecar_doc d;
        aw_sidecar_kind k = (aw_sidecar_kind)(1 + round % (AW_SC_NKINDS - 1));
        ASSERT_INT_EQ(aw_sidecar_parse(k, buf, n, false, (long long)n, "f", &d), AW_OK);
        ASSERT(d.json != NULL || d.error[0] != '\0');
        ASSERT(aw_utf8_valid(d.error, strlen(d.error)));
        aw_sidecar_doc_clear(&d);
    }
}

int main(int argc, char **argv) {

    const char *dir = argc > 1 ? argv[1] : "tests/data/sidecars";
    bool print = argc > 2 && !strcmp(argv[2], "--print");
    aw_sidecar_rules *r;
    char err[256];
    ASSERT_INT_EQ(aw_sidecar_rules_new(default_globs, &r, err, sizeof err), AW_OK);
    DIR *d = opendir(dir);
    if (!d)
        FAIL_("cannot open fixture directory %s", dir);
    struct dirent *de;
    int cases = 0;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        CASE(de->d_name) run_case(r, dir, de->d_name, print);
        cases++;
    }
    closedir(d);
    aw_sidecar_rules_destroy(r);
    ASSERT(cases >= 20);
    CASE("which keys are sidecars") rules();
    CASE("limits: sizes, declarations, depth") limits();
    CASE("hostile text") hostile();
    CASE("garbage in, an error out, never a crash") garbage();
    printf("%d fixtures\n", cases);
    TEST_DONE();
}
