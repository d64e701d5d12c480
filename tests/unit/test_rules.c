/*
 * The retention rules reader (policy/rules.c): every fixture in
 * tests/data/rules/NAME.yaml has NAME.expected, "ok N" (N rules) or
 * "error LINE:COLUMN: words of the message"; then sizes, durations, globs
 * and the JSON handed to PostgreSQL.
 */
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aw/config.h"
#include "rules.h"
#include "test.h"

static void run_fixture(const char *dir, const char *name) {
    char path[1024], want[512] = "";
    snprintf(path, sizeof path, "%s/%s.expected", dir, name);
    size_t len;
    char *exp = test_slurp(path, &len);
    if (!exp)
        FAIL_("fixture %s has no .expected file", name);
    snprintf(want, sizeof want, "%.*s", (int)strcspn(exp, "\n"), exp);
    free(exp);
    snprintf(path, sizeof path, "%s/%s.yaml", dir, name);
    aw_rules *rs = NULL;
    char err[1024] = "";
    int rc = aw_rules_load(path, &rs, err, sizeof err);
    if (!strncmp(want, "ok ", 3)) {
        if (rc != AW_OK)
            FAIL_("%s: want %s, got %s", name, want, err);
        char n[32];
        snprintf(n, sizeof n, "ok %zu", rs->n);
        ASSERT_STR_EQ(n, want);
        aw_rules_free(rs);
        return;
    }
    ASSERT_INT_EQ(rc, AW_ECONFIG);
    /* "FILE:LINE:COLUMN: message" */
    char at[2048];
    snprintf(at, sizeof at, "%s:%s", path, want + 6);
    if (strncmp(err, at, strlen(at)))
        FAIL_("%s: want \"%s\", got \"%s\"", name, at, err);
    aw_test_checks++;
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "tests/data/rules";
    DIR *d = opendir(dir);
    if (!d)
        FAIL_("cannot open %s", dir);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 6 || strcmp(e->d_name + l - 5, ".yaml"))
            continue;
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)(l - 5), e->d_name);
        CASE(name) run_fixture(dir, name);
        n++;
    }
    closedir(d);
    ASSERT(n >= 20);

    int64_t v;
    ASSERT_INT_EQ(aw_parse_size("1MiB", &v), AW_OK);
    ASSERT_INT_EQ(v, 1048576);
    ASSERT_INT_EQ(aw_parse_size("10GiB", &v), AW_OK);
    ASSERT_INT_EQ(v, 10737418240LL);
    ASSERT_INT_EQ(aw_parse_size("5 MB", &v), AW_OK);
    ASSERT_INT_EQ(v, 5000000);
    ASSERT_INT_EQ(aw_parse_size("4096", &v), AW_OK);
    ASSERT_INT_EQ(v, 4096);
    ASSERT_INT_EQ(aw_parse_size("1mib", &v), AW_EINVAL);
    ASSERT_INT_EQ(aw_parse_size("-1B", &v), AW_EINVAL);
    ASSERT_INT_EQ(aw_parse_size("99999999999TiB", &v), AW_EINVAL);
    ASSERT_INT_EQ(aw_parse_duration("30d", &v), AW_OK);
    ASSERT_INT_EQ(v, 2592000);
    ASSERT_INT_EQ(aw_parse_duration("2w", &v), AW_OK);
    ASSERT_INT_EQ(v, 1209600);
    ASSERT_INT_EQ(aw_parse_duration("90m", &v), AW_OK);
    ASSERT_INT_EQ(v, 5400);
    ASSERT_INT_EQ(aw_parse_duration("1y", &v), AW_EINVAL);
    ASSERT_INT_EQ(aw_parse_duration("d", &v), AW_EINVAL);
    ASSERT_INT_EQ(aw_parse_duration("1dd", &v), AW_EINVAL);

    /* globs: '*' and '?' within a segment, '**' across; no regex metacharacters */
    ASSERT(aw_glob_match("**/*.joblib", "a/b/model.joblib", true));
    ASSERT(aw_glob_match("**/*.joblib", "/model.joblib", true));
    ASSERT(!aw_glob_match("**/*.joblib", "model.joblib", true));
    ASSERT(!aw_glob_match("**/*.joblib", "a/model.joblib/x", true));
    ASSERT(aw_glob_match("*.joblib", "model.joblib", true));
    ASSERT(!aw_glob_match("*.joblib", "a/model.joblib", true));
    ASSERT(aw_glob_match("a/**", "a/b/c", true));
    ASSERT(aw_glob_match("a/**", "a/", true));
    ASSERT(!aw_glob_match("a/?", "a//", true));
    ASSERT(aw_glob_match("churn-?(x)", "churn-1(x)", false));
    ASSERT(!aw_glob_match("churn-?(x)", "churn-1x", false));
    ASSERT(aw_glob_match("churn-*", "churn-a/b", false));
    ASSERT(aw_glob_match("a.b", "a.b", false));
    ASSERT(!aw_glob_match("a.b", "axb", false));
    ASSERT(aw_glob_match("mod\u00e8l?", "mod\u00e8l\u00e9", false)); /* ? is one character */
    ASSERT(!aw_glob_match("mod?", "mod\u00e8x", false));
    ASSERT(aw_glob_match("", "", true));
    ASSERT(!aw_glob_match("", "x", true));
    ASSERT(aw_glob_match("*", "", true));
    /* a pattern that backtracking matchers take exponential time over */
    ASSERT(!aw_glob_match("*a*a*a*a*a*a*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false));

    /* version folder order */
    long long ka[AW_VERSION_KEY_MAX], kb[AW_VERSION_KEY_MAX];
#define VCMP(a, b) aw_version_cmp(ka, aw_version_key(a, ka), kb, aw_version_key(b, kb))
    ASSERT_INT_EQ(VCMP("v1.0.10", "v1.0.9"), 1);
    ASSERT_INT_EQ(VCMP("1.2.0", "v1.10.0"), -1);
    ASSERT_INT_EQ(VCMP("v2.0.0-rc.2", "v2.0.0"), -1);
    ASSERT_INT_EQ(VCMP("v2.0.0-rc.2", "v2.0.0-rc.10"), -1);
    ASSERT_INT_EQ(VCMP("v2.0.0-rc.2", "v1.9.9"), 1);
    ASSERT_INT_EQ(VCMP("V3", "v3"), 0);
    ASSERT_INT_EQ(VCMP("2024-05-10", "2024-05-09T10:00"), 1);
    ASSERT_INT_EQ(VCMP("2024-12-01", "v0.1"), -1);
    ASSERT_INT_EQ(aw_version_key("latest", ka), 0);
    ASSERT_INT_EQ(aw_version_key("v1.0_final", ka), 0);
    ASSERT_INT_EQ(aw_version_key("", ka), 0);
    ASSERT(aw_version_key("99999999999999999999999.1", ka) > 0); /* saturates, no overflow */
#undef VCMP

    aw_rules *rs;
    char err[512];
    snprintf(err, sizeof err, "%s/full.yaml", dir);
    ASSERT_INT_EQ(aw_rules_load(err, &rs, err, sizeof err), AW_OK);
    ASSERT_INT_EQ(rs->protect_lineage, 1);
    ASSERT(rs->max_delete_fraction > 0.099 && rs->max_delete_fraction < 0.101);
    ASSERT_INT_EQ(rs->max_mlflow_age_s, 3600); /* limits.max_mlflow_age by default */
    ASSERT_INT_EQ(rs->v[0].min_size, 1048576);
    ASSERT_INT_EQ(rs->v[0].older_than_s, 2592000);
    ASSERT_INT_EQ(rs->v[2].count, 5);
    char *json = aw_rules_json(rs);
    json_error_t je;
    json_t *doc = json_loads(json, 0, &je);
    ASSERT(doc != NULL);
    json_t *r0 = json_array_get(json_object_get(doc, "rules"), 0);
    ASSERT_STR_EQ(json_string_value(json_object_get(r0, "bucket")), "ml-artifacts");
    ASSERT_STR_EQ(json_string_value(json_object_get(r0, "artifact")), "churn-*");
    ASSERT_STR_EQ(json_string_value(json_object_get(json_object_get(r0, "metadata"), "stage")),
                  "staging");
    ASSERT_INT_EQ(json_integer_value(json_object_get(r0, "count")), 3);
    json_t *r1 = json_array_get(json_object_get(doc, "rules"), 1);
    ASSERT_STR_EQ(json_string_value(json_object_get(r1, "action")), "expire_after");
    ASSERT_INT_EQ(json_integer_value(json_object_get(r1, "after_s")), 604800);
    ASSERT(json_object_get(r1, "count") == NULL);
    ASSERT_STR_EQ(json_string_value(json_object_get(doc, "sha256")), rs->sha256);
    ASSERT(json_is_true(json_object_get(doc, "protect_lineage")));
    json_decref(doc);
    free(json);
    aw_rules_free(rs);
    /* protect_lineage: current, as the plan records it */
    snprintf(err, sizeof err, "%s/lineage_current.yaml", dir);
    ASSERT_INT_EQ(aw_rules_load(err, &rs, err, sizeof err), AW_OK);
    ASSERT_INT_EQ(rs->protect_lineage, 1);
    ASSERT_INT_EQ(rs->lineage_current, 1);
    json = aw_rules_json(rs);
    doc = json_loads(json, 0, &je);
    ASSERT_STR_EQ(json_string_value(json_object_get(doc, "protect_lineage")), "current");
    json_decref(doc);
    free(json);
    aw_rules_free(rs);
    aw_rules_free(NULL);
    printf("%d fixtures\n", n);
    TEST_DONE();
}
