/* fuzz_verify.c — the Countdown verifier on arbitrary bytes (prompt + response), both modes,
 * and the failure reason written from its verdict.
 *
 * Invariants: verify succeeds on any bytes (a wrong answer is a verdict, not an error); every
 * span lies inside the text; is_correct <=> no failure <=> empty reason; the fields that do
 * not depend on the mode agree between modes; a strict solution has n_nums-1 steps; the
 * reason's length is the same at every buffer size and a short buffer gets its prefix; a
 * reason quoting a step is its words plus exactly the step's bytes; a caller's older, shorter
 * verdict struct is filled only up to its size. ASan checks that nothing past len is read:
 * both drivers pass the input in a buffer of exactly that size. */
#include <stdlib.h>
#include <string.h>

#include "selfbt/countdown.h"

#include "fuzz.h"

/* The words a reason quoting a step starts with (as documented), or NULL. */
static const char *step_words(sbt_countdown_failure f)
{
    switch (f) {
    case SBT_FAIL_INVALID_STEP: return "Invalid step format: ";
    case SBT_FAIL_UNKNOWN_NUMBER: return "Unknown number in step: ";
    case SBT_FAIL_INCORRECT_RESULT: return "Incorrect result in step: ";
    case SBT_FAIL_DIVISION_BY_ZERO: return "Division by zero in step: ";
    case SBT_FAIL_NUMBER_TOO_LARGE: return "Number too large in step: ";
    case SBT_FAIL_INEXACT_DIVISION: return "Inexact division in step: ";
    case SBT_FAIL_NEGATIVE_RESULT: return "Negative result in step: ";
    default: return NULL;
    }
}

static int starts_with(const char *s, size_t n, const char *prefix)
{
    size_t k = strlen(prefix);
    return n >= k && memcmp(s, prefix, k) == 0;
}

static void check_verdict(const sbt_countdown_verdict *v, size_t len)
{
    FUZZ_CHECK(v->size == sizeof *v);
    FUZZ_CHECK((int)v->failure >= 0 && (int)v->failure < SBT_COUNTDOWN_N_FAILURES);
    FUZZ_CHECK(v->is_correct == (v->failure == SBT_FAIL_NONE));
    FUZZ_CHECK(v->is_backtrack == 0 || v->is_backtrack == 1);
    FUZZ_CHECK(v->n_steps >= 0 && v->expected_steps >= 0);
    FUZZ_CHECK(v->failed_step >= -1);
    if (v->is_correct)
        FUZZ_CHECK(v->failed_step == -1);
    FUZZ_CHECK(v->step_offset <= len && v->step_len <= len - v->step_offset);
    FUZZ_CHECK(v->target_offset <= len && v->target_len <= len - v->target_offset);
    FUZZ_CHECK(v->output_len <= len);
}

/* The reason at several buffer sizes; returns it (malloc'd, NUL-terminated) and its length. */
static char *check_reason(const sbt_countdown_verdict *v, const char *text, size_t *n_out)
{
    size_t n = sbt_countdown_verdict_reason(v, text, NULL, 0);
    FUZZ_CHECK((n == 0) == (v->is_correct != 0));
    char *full = malloc(n + 1);
    FUZZ_CHECK(full != NULL);
    memset(full, 0x5A, n + 1);
    FUZZ_CHECK(sbt_countdown_verdict_reason(v, text, full, n + 1) == n);
    FUZZ_CHECK(full[n] == '\0');
    /* truncated copies: the prefix that fits, then a NUL */
    size_t caps[3] = {1, n / 2 + 1, n};
    for (int k = 0; k < 3; k++) {
        size_t cap = caps[k];
        if (cap == 0)
            continue;
        char *buf = malloc(cap);
        FUZZ_CHECK(buf != NULL);
        memset(buf, 0x5A, cap);
        FUZZ_CHECK(sbt_countdown_verdict_reason(v, text, buf, cap) == n);
        FUZZ_CHECK(memcmp(buf, full, cap - 1) == 0 && buf[cap - 1] == '\0');
        free(buf);
    }
    /* the words the seed's evaluator uses */
    const char *words = step_words(v->failure);
    if (words) {
        size_t w = strlen(words);
        FUZZ_CHECK(n == w + v->step_len);
        FUZZ_CHECK(memcmp(full, words, w) == 0);
        FUZZ_CHECK(v->step_len == 0 || memcmp(full + w, text + v->step_offset, v->step_len) == 0);
    }
    switch (v->failure) {
    case SBT_FAIL_INVALID_FORMAT: FUZZ_CHECK(strcmp(full, "Invalid output format") == 0); break;
    case SBT_FAIL_NOT_REACHED: FUZZ_CHECK(starts_with(full, n, "Not reached target: ")); break;
    case SBT_FAIL_STEP_COUNT: FUZZ_CHECK(starts_with(full, n, "Wrong number of steps: ")); break;
    case SBT_FAIL_NO_GOAL:
        FUZZ_CHECK(strcmp(full, "No goal marker: the response backtracked") == 0);
        break;
    default: break;
    }
    /* without the text, a reason that quotes nothing is still written in full */
    if (!words && v->failure != SBT_FAIL_NOT_REACHED) {
        char again[128];
        FUZZ_CHECK(n < sizeof again);
        FUZZ_CHECK(sbt_countdown_verdict_reason(v, NULL, again, sizeof again) == n);
        FUZZ_CHECK(strcmp(again, full) == 0);
    }
    *n_out = n;
    return full;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    sbt_countdown_verdict ref = {sizeof ref}, strict = {sizeof strict};

    FUZZ_CHECK(sbt_countdown_verify(text, size, SBT_VERIFY_REFERENCE, &ref) == SBT_OK);
    FUZZ_CHECK(sbt_countdown_verify(text, size, SBT_VERIFY_STRICT, &strict) == SBT_OK);
    check_verdict(&ref, size);
    check_verdict(&strict, size);

    /* what does not depend on the mode */
    FUZZ_CHECK(ref.is_backtrack == strict.is_backtrack);
    FUZZ_CHECK(ref.output_len == strict.output_len);
    FUZZ_CHECK(ref.target_offset == strict.target_offset && ref.target_len == strict.target_len);
    FUZZ_CHECK(ref.expected_steps == strict.expected_steps);
    FUZZ_CHECK((ref.failure == SBT_FAIL_INVALID_FORMAT) ==
               (strict.failure == SBT_FAIL_INVALID_FORMAT));
    /* A strict solution uses every number once, in n_nums-1 steps, ending at the marker. (It
     * need not pass the reference verifier, which removes every copy of a used value:
     * [13, 13, 42, 6] -> 78 by 13*42, 13-6, 546/7 is "Unknown number in step: 13-6=7".) */
    if (strict.is_correct) {
        FUZZ_CHECK(!strict.is_backtrack);
        FUZZ_CHECK(strict.n_steps == strict.expected_steps);
    }

    size_t n_ref, n_strict;
    free(check_reason(&ref, text, &n_ref));
    char *reason = check_reason(&strict, text, &n_strict);

    /* A caller built against an older header: its struct ends before expected_steps. The
     * verdict is the same up to there, the rest of its memory is left alone, and a step count
     * reason is written without the expected count. */
    struct {
        sbt_countdown_verdict v;
        unsigned char guard[16];
    } old;
    memset(&old, 0xA5, sizeof old);
    old.v.size = offsetof(sbt_countdown_verdict, expected_steps);
    FUZZ_CHECK(sbt_countdown_verify(text, size, SBT_VERIFY_STRICT, &old.v) == SBT_OK);
    FUZZ_CHECK(old.v.size == offsetof(sbt_countdown_verdict, expected_steps));
    FUZZ_CHECK(memcmp((const char *)&old.v + sizeof old.v.size,
                      (const char *)&strict + sizeof strict.size,
                      old.v.size - sizeof old.v.size) == 0);
    const unsigned char *tail = (const unsigned char *)&old + old.v.size;
    for (size_t i = 0; i < sizeof old - old.v.size; i++)
        FUZZ_CHECK(tail[i] == 0xA5);
    char buf[512];
    size_t n_old = sbt_countdown_verdict_reason(&old.v, text, buf, sizeof buf);
    if (strict.failure == SBT_FAIL_STEP_COUNT) {
        FUZZ_CHECK(n_old < n_strict && memcmp(buf, reason, n_old) == 0);
    } else {
        FUZZ_CHECK(n_old == n_strict);
        FUZZ_CHECK(memcmp(buf, reason, n_old < sizeof buf ? n_old : sizeof buf - 1) == 0);
    }
    free(reason);

    /* a verdict struct too small to hold the spans is refused */
    sbt_countdown_verdict tiny = {offsetof(sbt_countdown_verdict, output_len)};
    sbt_clear_error();
    sbt_status st = sbt_countdown_verify(text, size, SBT_VERIFY_REFERENCE, &tiny);
    FUZZ_CHECK(st == SBT_E_INVALID_ARGUMENT);
    FUZZ_CHECK_FAILURE(st);
    return 0;
}
