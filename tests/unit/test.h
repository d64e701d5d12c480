/*
 * A minimal test harness in the spirit of libuv's: each assertion prints both
 * sides with file and line, and a failed assertion ends the test program with
 * status 1 so ctest reports it.
 */
#ifndef AW_TEST_H
#define AW_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int aw_test_checks;

#define FAIL_(...)                                                             \
    do {                                                                       \
        fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                        \
        fprintf(stderr, __VA_ARGS__);                                          \
        fputc('\n', stderr);                                                   \
        exit(1);                                                               \
    } while (0)

#define ASSERT(cond)                                                           \
    do {                                                                       \
        aw_test_checks++;                                                      \
        if (!(cond))                                                           \
            FAIL_("assertion failed: %s", #cond);                              \
    } while (0)

#define ASSERT_INT_EQ(a, b)                                                    \
    do {                                                                       \
        long long a_ = (long long)(a), b_ = (long long)(b);                    \
        aw_test_checks++;                                                      \
        if (a_ != b_)                                                          \
            FAIL_("%s == %s: %lld != %lld", #a, #b, a_, b_);                   \
    } while (0)

#define ASSERT_STR_EQ(a, b)                                                    \
    do {                                                                       \
        const char *a_ = (a), *b_ = (b);                                       \
        aw_test_checks++;                                                      \
        if (!a_ || !b_ || strcmp(a_, b_) != 0)                                 \
            FAIL_("%s == %s: \"%s\" != \"%s\"", #a, #b, a_ ? a_ : "(null)",    \
                  b_ ? b_ : "(null)");                                         \
    } while (0)

#define ASSERT_CONTAINS(hay, needle)                                           \
    do {                                                                       \
        const char *h_ = (hay), *n_ = (needle);                                \
        aw_test_checks++;                                                      \
        if (!h_ || !strstr(h_, n_))                                            \
            FAIL_("\"%s\" does not contain \"%s\"", h_ ? h_ : "(null)", n_);   \
    } while (0)

/* A whole file, NUL-terminated, its length in *len; NULL if it cannot be opened. */
static inline char *test_slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0, r;
    char *buf = malloc(cap + 1);
    ASSERT(buf != NULL);
    while ((r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
            ASSERT(buf != NULL);
        }
    }
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

#define TEST_DONE()                                                            \
    do {                                                                       \
        printf("%s: %d checks passed\n", __FILE__, aw_test_checks);            \
        return aw_test_checks > 0 ? 0 : 1;                                     \
    } while (0)

#endif
