/*
 * A minimal test harness in the spirit of libuv's: named cases, each run and
 * reported on its own (a failed assertion ends its case, not the program),
 * and assertions that print both sides with file and line. The program exits
 * 1 when any case failed, so ctest reports it.
 *
 *   CASE("decodes form-encoded keys") {
 *       ASSERT_STR_EQ(...);
 *   }
 *   ...
 *   TEST_DONE();
 */
#ifndef AW_TEST_H
#define AW_TEST_H

#include <inttypes.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int aw_test_checks;
static int aw_test_cases, aw_test_failed, aw_test_case_checks;
static const char *aw_test_name;   /* the case running, NULL between cases */
static bool aw_test_left, aw_test_bad;
static jmp_buf aw_test_jmp;

/* Ends the running case as failed (or, outside a case, the program). */
static inline void aw_test_fail(void) {
    if (aw_test_name) {
        aw_test_bad = true;
        longjmp(aw_test_jmp, 1);
    }
    exit(1);
}

static inline void aw_test_begin(const char *name) {
    aw_test_name = name;
    aw_test_left = true;
    aw_test_bad = false;
    aw_test_case_checks = aw_test_checks;
}

static inline bool aw_test_more(void) { return aw_test_left; }

static inline void aw_test_end(void) {
    aw_test_cases++;
    aw_test_failed += aw_test_bad;
    printf("%s %s (%d checks)\n", aw_test_bad ? "FAIL" : "ok  ", aw_test_name,
           aw_test_checks - aw_test_case_checks);
    aw_test_name = NULL;
    aw_test_left = false;
}

/* A named case: the block runs once; a failed assertion in it ends it. */
#define CASE(name)                                                             \
    for (aw_test_begin(name); aw_test_more(); aw_test_end())                   \
        if (setjmp(aw_test_jmp) == 0)

#define FAIL_(...)                                                             \
    do {                                                                       \
        fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                        \
        fprintf(stderr, __VA_ARGS__);                                          \
        fputc('\n', stderr);                                                   \
        aw_test_fail();                                                        \
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
        if (aw_test_failed) {                                                  \
            printf("%s: %d of %d cases failed\n", __FILE__, aw_test_failed,    \
                   aw_test_cases);                                             \
            return 1;                                                          \
        }                                                                      \
        printf("%s: %d checks passed%s\n", __FILE__, aw_test_checks,           \
               aw_test_cases ? "" : " (no named cases)");                      \
        return aw_test_checks > 0 ? 0 : 1;                                     \
    } while (0)

#endif
