/* fuzz.h — shared by the fuzz targets in tests/fuzz (see CMakeLists.txt there).
 *
 * Each target is one LLVMFuzzerTestOneInput in its own file. It is linked either with
 * libFuzzer (-DSELFBT_FUZZ=ON, clang) or with replay.c, which feeds it a seed corpus and
 * deterministic mutations of it (a ctest test in every build). An invariant that does not
 * hold stops the process with FUZZ_CHECK's __builtin_trap(), which both drivers report as a
 * crash along with the input. */
#ifndef SBT_FUZZ_H
#define SBT_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "selfbt/status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Stops on a broken invariant, saying which one (stderr first: a trap prints nothing). */
#define FUZZ_CHECK(cond)                                                                      \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);      \
            fflush(stderr);                                                                   \
            __builtin_trap();                                                                 \
        }                                                                                     \
    } while (0)

/* A failed library call: a status the function documents, and a message saying why. A bug in
 * the library (SBT_E_INTERNAL) or a silent failure is a finding. */
#define FUZZ_CHECK_FAILURE(st)                                                                \
    do {                                                                                      \
        FUZZ_CHECK((st) < 0 && (st) != SBT_E_INTERNAL);                                       \
        FUZZ_CHECK(sbt_last_error()[0] != '\0');                                              \
    } while (0)

/* 1 if s[0..n) is well-formed UTF-8 (Unicode Table 3-7), written independently of the
 * library's decoder so the two check each other. */
static inline int fuzz_utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned b = s[i];
        size_t need;
        unsigned lo = 0x80, hi = 0xBF;
        if (b < 0x80) {
            i++;
            continue;
        } else if (b >= 0xC2 && b <= 0xDF) {
            need = 1;
        } else if (b >= 0xE0 && b <= 0xEF) {
            need = 2;
            lo = b == 0xE0 ? 0xA0 : 0x80;
            hi = b == 0xED ? 0x9F : 0xBF;
        } else if (b >= 0xF0 && b <= 0xF4) {
            need = 3;
            lo = b == 0xF0 ? 0x90 : 0x80;
            hi = b == 0xF4 ? 0x8F : 0xBF;
        } else {
            return 0;
        }
        if (n - i <= need)
            return 0;
        for (size_t k = 1; k <= need; k++) {
            unsigned c = s[i + k];
            if (c < lo || c > hi)
                return 0;
            lo = 0x80;
            hi = 0xBF;
        }
        i += need + 1;
    }
    return 1;
}

/* The whole file at path (NUL-terminated; *len without the NUL), or exits: a fixture that
 * cannot be read is a broken build, not a finding. */
static inline char *fuzz_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n = -1;
    if (f && fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)n + 1)) != NULL && fread(buf, 1, (size_t)n, f) == (size_t)n) {
        fclose(f);
        buf[n] = '\0';
        if (len)
            *len = (size_t)n;
        return buf;
    }
    fprintf(stderr, "fuzz: cannot read the fixture %s\n", path);
    exit(2);
}

/* Fixtures the targets load once: SBT_FUZZ_GOLDEN_DIR is tests/golden (set by CMake). */
#ifndef SBT_FUZZ_GOLDEN_DIR
#  error "SBT_FUZZ_GOLDEN_DIR must name tests/golden"
#endif

#endif /* SBT_FUZZ_H */
