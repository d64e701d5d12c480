/*
 * Fixture-driven decoder tests: for every tests/data/events/NAME.json the
 * file NAME.expected holds one line per decoded event
 *   kind|source|bucket|key|size|etag|version_id|sequencer|content_type|event_time
 * ("-" for absent; "|repaired" appended when bucket or key came from the
 * bucket ARN because the record's own named something else), or "skip", or
 * "error AW_E<CODE> <text in the message>".
 * An optional first line "encoding=raw|url|auto" selects the key encoding.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aw/config.h"
#include "aw/event.h"
#include "test.h"

static const char *kind_name(aw_event_kind k) {
    return k == AW_EV_CREATED ? "created" : k == AW_EV_DELETED ? "deleted" : "delete_marker";
}

static void render(const aw_events *evs, char *out, size_t cap) {
    size_t pos = 0;
    out[0] = '\0';
    for (size_t i = 0; i < evs->n; i++) {
        const aw_event *e = &evs->v[i];
        char size[32];
        if (e->size < 0)
            snprintf(size, sizeof size, "-");
        else
            snprintf(size, sizeof size, "%lld", (long long)e->size);
#define O(s) ((s) ? (s) : "-")
        int w = snprintf(out + pos, cap - pos, "%s|%s|%s|%s|%s|%s|%s|%s|%s|%s%s\n",
                         kind_name(e->kind), e->source, e->bucket, e->key, size, O(e->etag),
                         O(e->version_id), O(e->sequencer), O(e->content_type),
                         O(e->event_time), e->repaired ? "|repaired" : "");
#undef O
        ASSERT(w > 0 && (size_t)w < cap - pos);
        ASSERT_INT_EQ(strlen(e->key), e->key_len);
        pos += (size_t)w;
    }
}

static int run_fixture(const char *dir, const char *name) {
    char path[1024];
    size_t jlen, elen;
    snprintf(path, sizeof path, "%s/%s.json", dir, name);
    char *json = test_slurp(path, &jlen);
    ASSERT(json != NULL);
    snprintf(path, sizeof path, "%s/%s.expected", dir, name);
    char *expected = test_slurp(path, &elen);
    if (!expected)
        FAIL_("fixture %s has no .expected file", name);
    char *want = expected;
    aw_key_encoding enc = AW_KEYS_AUTO;
    if (!strncmp(want, "encoding=", 9)) {
        char *nl = strchr(want, '\n');
        ASSERT(nl != NULL);
        *nl = '\0';
        static const char *const words[] = {"auto", "url", "raw", NULL};
        int i = aw_word_index(words, want + 9);
        ASSERT(i >= 0);
        enc = (aw_key_encoding)i;
        want = nl + 1;
    }
    aw_events evs;
    char err[512] = "";
    int rc = aw_event_decode(json, jlen, enc, &evs, err, sizeof err);
    if (!strncmp(want, "skip", 4)) {
        if (rc != AW_ESKIP)
            FAIL_("%s: want skip, got %s (%s)", name, aw_err_name(rc), err);
    } else if (!strncmp(want, "error ", 6)) {
        char code[32], text[256] = "";
        ASSERT(sscanf(want + 6, "%31s %255[^\n]", code, text) >= 1);
        if (strcmp(aw_err_name(rc), code) != 0)
            FAIL_("%s: want %s, got %s (%s)", name, code, aw_err_name(rc), err);
        if (!strstr(err, text))
            FAIL_("%s: error \"%s\" lacks \"%s\"", name, err, text);
        ASSERT_INT_EQ(evs.n, 0);
    } else {
        if (rc != AW_OK)
            FAIL_("%s: want events, got %s (%s)", name, aw_err_name(rc), err);
        static char got[1 << 16];
        render(&evs, got, sizeof got);
        if (strcmp(got, want) != 0)
            FAIL_("%s: decoded events differ\n--- want\n%s--- got\n%s", name, want, got);
    }
    aw_test_checks++;
    aw_events_clear(&evs);
    free(json);
    free(expected);
    return 0;
}

/* A key as long as S3 allows (1024 bytes) made of every escape at once. */
static void long_key(void) {
    char key[1024 * 3 + 1], want[1025];
    size_t k = 0, w = 0;
    static const char *const parts[][2] = {{"+", " "}, {"%2F", "/"}, {"%C3%A9", "\xc3\xa9"},
                                           {"x", "x"}, {"%25", "%"}};
    for (int i = 0; w < 1000; i = (i + 1) % 5) {
        k += (size_t)snprintf(key + k, sizeof key - k, "%s", parts[i][0]);
        w += (size_t)snprintf(want + w, sizeof want - w, "%s", parts[i][1]);
    }
    char json[8192];
    snprintf(json, sizeof json,
             "{\"Records\":[{\"eventVersion\":\"2.1\",\"eventSource\":\"aws:s3\","
             "\"eventName\":\"ObjectCreated:Put\",\"s3\":{\"bucket\":{\"name\":\"bkt\"},"
             "\"object\":{\"key\":\"%s\",\"size\":1}}}]}",
             key);
    aw_events evs;
    char err[256];
    ASSERT_INT_EQ(aw_event_decode(json, strlen(json), AW_KEYS_AUTO, &evs, err, sizeof err), AW_OK);
    ASSERT_INT_EQ(evs.n, 1);
    ASSERT_STR_EQ(evs.v[0].key, want);
    ASSERT_INT_EQ(evs.v[0].key_len, w);
    aw_events_clear(&evs);
}

/* Garbage must produce an error, never a crash (run under ASan in CI). */
static void garbage(void) {
    unsigned seed = 12345;
    static const char alphabet[] = "{}[]\":,Records s3 key%+0123abc\\";
    char buf[512];
    for (int round = 0; round < 2000; round++) {
        size_t n = (size_t)(rand_r(&seed) % sizeof buf);
        for (size_t i = 0; i < n; i++)
            buf[i] = alphabet[rand_r(&seed) % (sizeof alphabet - 1)];
        aw_events evs;
        char err[256];
        int rc = aw_event_decode(buf, n, AW_KEYS_AUTO, &evs, err, sizeof err);
        ASSERT(rc == AW_OK || rc == AW_ESKIP || rc == AW_EPARSE || rc == AW_EUNSUPPORTED ||
               rc == AW_EINVALID);
        aw_events_clear(&evs);
    }
    aw_events evs;
    char err[64];
    ASSERT_INT_EQ(aw_event_decode("", 0, AW_KEYS_AUTO, &evs, err, sizeof err), AW_EPARSE);
    ASSERT_CONTAINS(err, "empty message");
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "tests/data/events";
    DIR *d = opendir(dir);
    if (!d)
        FAIL_("cannot open fixture directory %s", dir);
    struct dirent *de;
    int fixtures = 0;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l < 6 || strcmp(de->d_name + l - 5, ".json"))
            continue;
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)(l - 5), de->d_name);
        CASE(name) run_fixture(dir, name);
        fixtures++;
    }
    closedir(d);
    ASSERT(fixtures >= 20);
    CASE("a key at the length limit, and one beyond") long_key();
    CASE("garbage in, an error out, never a crash") garbage();
    printf("%d fixtures\n", fixtures);
    TEST_DONE();
}
