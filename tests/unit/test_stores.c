/*
 * The stores file (common/store/stores.c): sections, keys, the mistakes refused
 * with FILE:LINE, and the clients of the stores a process serves.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aw/store.h"
#include "test.h"

static int parse(const char *text, aw_store_def **d, size_t *n, char *err) {
    return aw_stores_parse(text, strlen(text), "s.conf", d, n, err, 512);
}

int main(void) {

    aw_store_def *d = NULL;
    size_t n = 0;
    char err[512];

    ASSERT_INT_EQ(parse("# two stores\n\n[mirror]\nendpoint = http://127.0.0.1:9000\n"
                        "region = eu-west-1\npath_style = false\naccess_key_id = AK\n"
                        "secret_access_key = s3cr=t\n  [ archive ]  \r\n"
                        "credentials_file = /c\nprofile = p\n", &d, &n, err), AW_OK);
    ASSERT_INT_EQ(n, 2);
    ASSERT_STR_EQ(d[0].name, "mirror");
    ASSERT_STR_EQ(d[0].endpoint, "http://127.0.0.1:9000");
    ASSERT_STR_EQ(d[0].region, "eu-west-1");
    ASSERT_INT_EQ(d[0].path_style, 0);
    ASSERT_STR_EQ(d[0].secret_access_key, "s3cr=t"); /* the first '=' splits */
    ASSERT_INT_EQ(d[0].line, 3);
    ASSERT_STR_EQ(d[1].name, "archive");
    ASSERT_INT_EQ(d[1].path_style, 1); /* the default */
    ASSERT_STR_EQ(d[1].profile, "p");
    ASSERT(d[1].endpoint == NULL);
    aw_store_defs_free(d, n);

    CASE("mistakes, each named by its line") {
        static const struct {
            const char *text, *want;
        } bad[] = {
            {"endpoint = x\n", "s.conf:1: a setting before the first [store] section"},
            {"[a]\nendpont = x\n", "s.conf:2: unknown key \"endpont\""},
            {"[a]\npath_style = maybe\n", "s.conf:2: path_style must be true or false"},
            {"[a]\n[a]\n", "s.conf:2: store \"a\" is described twice (first at line 1)"},
            {"[a b]\n", "s.conf:1: \"[a b]\" is not a [store] section"},
            {"[]\n", "s.conf:1: \"[]\" is not a [store] section"},
            {"[a]\njunk\n", "s.conf:2: expected key = value"},
            {"[<script>]\n", "s.conf:1: \"[<script>]\" is not a [store] section"},
        };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            ASSERT_INT_EQ(parse(bad[i].text, &d, &n, err), AW_ECONFIG);
            ASSERT_CONTAINS(err, bad[i].want);
            ASSERT(d == NULL && n == 0);
        }
        char nul[] = "[a]\nendpoint = x\0y\n";
        ASSERT_INT_EQ(aw_stores_parse(nul, sizeof nul - 1, "s.conf", &d, &n, err, sizeof err),
                      AW_ECONFIG);
        ASSERT_CONTAINS(err, "s.conf:2: a NUL byte");
    }

    CASE("the clients: the default store first, then the file's; others are NULL") {
        FILE *f = fopen("stores_test.conf", "w");
        ASSERT(f != NULL);
        fputs("[mirror]\nendpoint = http://127.0.0.1:9\n", f);
        fclose(f);
        aw_config cfg;
        ASSERT_INT_EQ(aw_config_init(&cfg), AW_OK);
        free(cfg.stores_file);
        cfg.stores_file = strdup("stores_test.conf");
        aw_stores *st = NULL;
        ASSERT_INT_EQ(aw_stores_open(&cfg, &st, err, sizeof err), AW_OK);
        ASSERT_INT_EQ(aw_stores_count(st), 2);
        ASSERT_STR_EQ(aw_stores_name(st, 0), "default");
        ASSERT_STR_EQ(aw_stores_name(st, 1), "mirror");
        ASSERT(aw_stores_client(st, "mirror") != NULL);
        ASSERT(aw_stores_client(st, "default") != NULL);
        ASSERT(aw_stores_client(st, "elsewhere") == NULL);
        aw_s3 *c = NULL;
        ASSERT_INT_EQ(aw_stores_new_client(st, "elsewhere", &c, err, sizeof err), AW_ENOTFOUND);
        ASSERT_INT_EQ(aw_stores_new_client(st, "mirror", &c, err, sizeof err), AW_OK);
        aw_s3_destroy(c);
        aw_stores_destroy(st);
        aw_stores_destroy(NULL);


        /* a file that is not there */
        free(cfg.stores_file);
        cfg.stores_file = strdup("no-such-stores.conf");
        ASSERT_INT_EQ(aw_stores_open(&cfg, &st, err, sizeof err), AW_ECONFIG);
        ASSERT_CONTAINS(err, "cannot open the stores file no-such-stores.conf");
        aw_config_free(&cfg);
        remove("stores_test.conf");
    }
    TEST_DONE();
}
