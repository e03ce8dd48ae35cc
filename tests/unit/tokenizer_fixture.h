/* tokenizer_fixture.h — what the tokenizer suites (test_tokenizer.c, test_tokenizer_errors.c)
 * share: the paths of the small tokenizer.json fixture, reading it, editing it, and a scratch
 * folder. Include after <check.h>, with _GNU_SOURCE (or POSIX 2008) defined for mkdtemp. */
#ifndef SBT_TESTS_TOKENIZER_FIXTURE_H
#define SBT_TESTS_TOKENIZER_FIXTURE_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef SBT_TEST_DATA_DIR
#define SBT_TEST_DATA_DIR "tests/golden"
#endif
#ifndef SBT_TEST_TMP_DIR
#define SBT_TEST_TMP_DIR "/tmp"
#endif

#define N_OF(a) (sizeof(a) / sizeof *(a))
#define FIXTURE SBT_TEST_DATA_DIR "/tiny_tokenizer.json"
#define FIXTURE_CONFIG SBT_TEST_DATA_DIR "/tiny_tokenizer_config.json"

/* The whole file, NUL-terminated; *len (if len) gets its size. */
static inline char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(b);
    ck_assert_uint_eq(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    b[n] = '\0';
    if (len)
        *len = (size_t)n;
    return b;
}

/* s with the first occurrence of from replaced by to (which must be there). */
static inline char *replace(const char *s, const char *from, const char *to)
{
    const char *at = strstr(s, from);
    ck_assert_msg(at != NULL, "fixture lacks \"%s\"", from);
    size_t a = (size_t)(at - s), f = strlen(from), t = strlen(to), n = strlen(s);
    char *r = malloc(n - f + t + 1);
    ck_assert_ptr_nonnull(r);
    memcpy(r, s, a);
    memcpy(r + a, to, t);
    memcpy(r + a + t, at + f, n - a - f + 1);
    return r;
}

/* A new empty folder named PREFIXxxxxxx under SBT_TEST_TMP_DIR (else /tmp); free() the path. */
static inline char *make_tmp_dir(const char *prefix)
{
    char *dir = malloc(512);
    ck_assert_ptr_nonnull(dir);
    snprintf(dir, 512, "%s/%sXXXXXX", SBT_TEST_TMP_DIR, prefix);
    if (!mkdtemp(dir)) {
        snprintf(dir, 512, "/tmp/%sXXXXXX", prefix);
        ck_assert_ptr_nonnull(mkdtemp(dir));
    }
    return dir;
}

#endif /* SBT_TESTS_TOKENIZER_FIXTURE_H */
