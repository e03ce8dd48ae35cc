/* test_countdown_verify.c — the Countdown verifier (SPEC §5): the seed's reference evaluator
 * bug for bug, strict mode, hostile inputs, reason strings and a randomized round trip
 * through an independent brute-force solver. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "selfbt/selfbt.h"

#include "check_main.h"

#define REF SBT_VERIFY_REFERENCE
#define STRICT SBT_VERIFY_STRICT

/* A verdict and its reason, for one text. */
typedef struct judged {
    sbt_countdown_verdict v;
    char reason[512];
    size_t reason_len;
} judged;

static judged judge_bytes(const char *text, size_t len, sbt_countdown_verifier mode)
{
    judged j;
    memset(&j, 0, sizeof j);
    j.v.size = sizeof j.v;
    ck_assert_int_eq(sbt_countdown_verify(text, len, mode, &j.v), SBT_OK);
    j.reason_len = sbt_countdown_verdict_reason(&j.v, text, j.reason, sizeof j.reason);
    /* Whatever the verdict, its spans lie inside the text. */
    ck_assert_uint_le(j.v.output_len, len);
    ck_assert_uint_le(j.v.step_offset + j.v.step_len, len);
    ck_assert_uint_le(j.v.target_offset + j.v.target_len, len);
    ck_assert_int_eq(j.v.is_correct, j.v.failure == SBT_FAIL_NONE);
    ck_assert_int_eq(j.reason_len == 0, j.v.is_correct);
    return j;
}

static judged judge(const char *text, sbt_countdown_verifier mode)
{
    return judge_bytes(text, strlen(text), mode);
}

/* The seed's prompt for `nums` ("2, 39, 45, 10") and `target`, then `response`. */
static const char *output(const char *nums, const char *target, const char *response)
{
    static char buf[4096];
    int n = snprintf(buf, sizeof buf, "###Question: numbers [%s]->target %s\n###Response:\n%s",
                     nums, target, response);
    ck_assert_int_lt(n, (int)sizeof buf);
    return buf;
}

/* Asserts the verdict's failure and its reason ("" when correct). */
static judged expect(const char *text, sbt_countdown_verifier mode, sbt_countdown_failure failure,
                     const char *reason)
{
    judged j = judge(text, mode);
    ck_assert_msg(j.v.failure == failure, "mode %d: failure %s, expected %s (reason \"%s\")",
                  (int)mode, sbt_countdown_failure_name(j.v.failure),
                  sbt_countdown_failure_name(failure), j.reason);
    ck_assert_str_eq(j.reason, reason);
    ck_assert_uint_eq(j.reason_len, strlen(reason));
    return j;
}

static void expect_both(const char *text, sbt_countdown_failure failure, const char *reason)
{
    expect(text, REF, failure, reason);
    expect(text, STRICT, failure, reason);
}

/* ------------------------------------------------------------------------------------ */
/* SPEC worked examples                                                                 */

START_TEST(worked_example_is_correct_in_both_modes)
{
    const char *text = output("2, 39, 45, 10", "62", "45-39=6\n10*6=60\n2+60=62\nGoal Reached!");
    for (int mode = REF; mode <= STRICT; mode++) {
        judged j = expect(text, mode, SBT_FAIL_NONE, "");
        ck_assert_int_eq(j.v.is_correct, 1);
        ck_assert_int_eq(j.v.is_backtrack, 0);
        ck_assert_int_eq(j.v.n_steps, 3);
        ck_assert_int_eq(j.v.failed_step, -1);
        ck_assert_uint_eq(j.v.output_len, strlen(text));
        ck_assert_uint_eq(j.v.target_len, 2);
        ck_assert_int_eq(memcmp(text + j.v.target_offset, "62", 2), 0);
    }
}
END_TEST

START_TEST(worked_backtrack_example)
{
    const char *text = output("2, 39, 45, 10", "62", "45-39=6\n39+6=45\n<backtrack>");
    /* Strict judges the steps before the marker, so it also reports the consumed 39. */
    for (int mode = REF; mode <= STRICT; mode++) {
        judged j = expect(text, mode, SBT_FAIL_UNKNOWN_NUMBER, "Unknown number in step: 39+6=45");
        ck_assert_int_eq(j.v.is_backtrack, 1);
        ck_assert_int_eq(j.v.failed_step, 1);
        ck_assert_int_eq(j.v.n_steps, 2);
        ck_assert_uint_eq(j.v.step_len, 7);
        ck_assert_int_eq(memcmp(text + j.v.step_offset, "39+6=45", 7), 0);
        ck_assert_uint_eq(j.v.output_len, strlen(text));
    }
    /* Every step fine but the response backtracked: the reference still judges it. */
    text = output("2, 39, 45, 10", "62", "45-39=6\n<backtrack>");
    judged j = expect(text, REF, SBT_FAIL_NOT_REACHED, "Not reached target: 6 not equal to 62");
    ck_assert_int_eq(j.v.failed_step, 0);
    j = expect(text, STRICT, SBT_FAIL_NO_GOAL, "No goal marker: the response backtracked");
    ck_assert_int_eq(j.v.is_backtrack, 1);
    ck_assert_int_eq(j.v.failed_step, -1);
}
END_TEST

/* ------------------------------------------------------------------------------------ */
/* The reference quirks of SPEC §5.1 / §9 item 10                                        */

START_TEST(floor_division_is_accepted_by_reference_only)
{
    const char *text = output("88, 32, 79, 37", "91", "79+37=116\n116/32=3\n88+3=91\nGoal Reached!");
    expect(text, REF, SBT_FAIL_NONE, "");
    judged j = expect(text, STRICT, SBT_FAIL_INEXACT_DIVISION, "Inexact division in step: 116/32=3");
    ck_assert_int_eq(j.v.failed_step, 1);
    /* Exact division is fine in both. */
    text = output("84, 53, 80, 88", "75", "84-80=4\n88/4=22\n53+22=75\nGoal Reached!");
    expect_both(text, SBT_FAIL_NONE, "");
}
END_TEST

START_TEST(duplicate_values_bug_of_reference)
{
    const char *text = output("27, 15, 8, 8", "29", "15-8=7\n8*7=56\n56-27=29\nGoal Reached!");
    judged j = expect(text, REF, SBT_FAIL_UNKNOWN_NUMBER, "Unknown number in step: 8*7=56");
    ck_assert_int_eq(j.v.failed_step, 1);
    expect(text, STRICT, SBT_FAIL_NONE, "");
    /* The same with the duplicate as the first operand. */
    text = output("8, 8, 15, 27", "157", "8+15=23\n8*23=184\n184-27=157\nGoal Reached!");
    expect(text, REF, SBT_FAIL_UNKNOWN_NUMBER, "Unknown number in step: 8*23=184");
    expect(text, STRICT, SBT_FAIL_NONE, "");
}
END_TEST

START_TEST(one_step_answer_is_accepted_by_reference_only)
{
    const char *text = output("44, 5, 3, 85", "49", "44+5=49\nGoal Reached!");
    expect(text, REF, SBT_FAIL_NONE, "");
    judged j = expect(text, STRICT, SBT_FAIL_STEP_COUNT, "Wrong number of steps: 1 instead of 3");
    ck_assert_int_eq(j.v.n_steps, 1);
    ck_assert_int_eq(j.v.expected_steps, 3);
    ck_assert_int_eq(j.v.failed_step, 1); /* the first missing step */
    ck_assert_int_eq(memcmp(text + j.v.step_offset, "44+5=49", j.v.step_len), 0);
    expect(output("44, 5, 3, 85", "144", "44+5=49\n49+85=134\nGoal Reached!"), STRICT,
           SBT_FAIL_STEP_COUNT, "Wrong number of steps: 2 instead of 3");
}
END_TEST

START_TEST(membership_instead_of_consumption)
{
    const char *text = output("5, 2", "10", "5+5=10\nGoal Reached!");
    expect(text, REF, SBT_FAIL_NONE, "");
    expect(text, STRICT, SBT_FAIL_UNKNOWN_NUMBER, "Unknown number in step: 5+5=10");
    /* Two copies may be used once each in strict mode. */
    expect_both(output("5, 5", "10", "5+5=10\nGoal Reached!"), SBT_FAIL_NONE, "");
}
END_TEST

START_TEST(trailing_garbage_after_a_step)
{
    const char *text = output("2, 39, 45, 10", "62", "45-39=6 foo\n10*6=60\n2+60=62bar\nGoal Reached!");
    expect(text, REF, SBT_FAIL_NONE, "");
    expect(text, STRICT, SBT_FAIL_INVALID_STEP, "Invalid step format: 45-39=6 foo");
    /* Garbage in the written result changes the number the reference reads. */
    expect_both(output("2, 39, 45, 10", "62", "45-39=6\n10*6=60\n2+60=621\nGoal Reached!"),
                SBT_FAIL_INCORRECT_RESULT, "Incorrect result in step: 2+60=621");
}
END_TEST

START_TEST(response_cut_at_backtrack_is_still_judged)
{
    const char *text = output("2, 39, 45, 10", "62", "45-39=6\n10*6=60\n2+60=62\n<backtrack>");
    judged j = expect(text, REF, SBT_FAIL_NONE, "");
    ck_assert_int_eq(j.v.is_backtrack, 1);
    j = expect(text, STRICT, SBT_FAIL_NO_GOAL, "No goal marker: the response backtracked");
    ck_assert_int_eq(j.v.is_backtrack, 1);
}
END_TEST

START_TEST(first_marker_ends_the_response)
{
    /* "Goal Reached!" first: what follows is not part of the response or model_output. */
    const char *text =
        output("2, 39, 45, 10", "62", "45-39=6\n10*6=60\n2+60=62\nGoal Reached!\n<backtrack>x");
    for (int mode = REF; mode <= STRICT; mode++) {
        judged j = expect(text, mode, SBT_FAIL_NONE, "");
        ck_assert_int_eq(j.v.is_backtrack, 0);
        ck_assert_uint_eq(j.v.output_len, strlen(text) - strlen("\n<backtrack>x"));
    }
    /* <backtrack> first: the later steps and "Goal Reached!" are ignored. */
    text = output("2, 39, 45, 10", "62", "45-39=6\n<backtrack>\n10*6=60\n2+60=62\nGoal Reached!");
    judged j = expect(text, REF, SBT_FAIL_NOT_REACHED, "Not reached target: 6 not equal to 62");
    ck_assert_int_eq(j.v.is_backtrack, 1);
    ck_assert_uint_eq(j.v.output_len, strstr(text, "<backtrack>") + 11 - text);
    /* A marker inside a step line also ends the response. */
    expect(output("2, 39, 45, 10", "62", "45-39=6<backtrack>\n"), REF, SBT_FAIL_NOT_REACHED,
           "Not reached target: 6 not equal to 62");
}
END_TEST

START_TEST(arithmetic_failures)
{
    expect_both(output("2, 39, 45, 10", "62", "45-39=7\nGoal Reached!"), SBT_FAIL_INCORRECT_RESULT,
                "Incorrect result in step: 45-39=7");
    expect_both(output("0, 5, 3", "8", "5/0=0\nGoal Reached!"), SBT_FAIL_DIVISION_BY_ZERO,
                "Division by zero in step: 5/0=0");
    /* A negative result cannot be written: "=-5" fails the regex in both modes. */
    expect_both(output("3, 8", "5", "3-8=-5\nGoal Reached!"), SBT_FAIL_INVALID_STEP,
                "Invalid step format: 3-8=-5");
    /* Written as a positive number: the reference compares -5 with 5, strict stops first. */
    expect(output("3, 8", "5", "3-8=5\nGoal Reached!"), REF, SBT_FAIL_INCORRECT_RESULT,
           "Incorrect result in step: 3-8=5");
    expect(output("3, 8", "5", "3-8=5\nGoal Reached!"), STRICT, SBT_FAIL_NEGATIVE_RESULT,
           "Negative result in step: 3-8=5");
    expect_both(output("8, 3", "5", "8-3=5\nGoal Reached!"), SBT_FAIL_NONE, "");
    expect_both(output("0, 7", "0", "0/7=0\nGoal Reached!"), SBT_FAIL_NONE, "");
    expect_both(output("2, 39, 45, 10", "62", "45-39=6\n10*6=60\n2+60=63\nGoal Reached!"),
                SBT_FAIL_INCORRECT_RESULT, "Incorrect result in step: 2+60=63");
}
END_TEST

START_TEST(not_reached_uses_python_int_formatting)
{
    judged j = expect(output("2, 39, 45, 10", "62", "45-39=6\n10*6=60\nGoal Reached!"), REF,
                      SBT_FAIL_NOT_REACHED, "Not reached target: 60 not equal to 62");
    ck_assert_int_eq(j.v.failed_step, 1);
    ck_assert_int_eq(j.v.n_steps, 2);
    /* Leading zeros are dropped, as str(int("006")) does; "000" stays "0". */
    expect_both(output("45, 39", "0062", "45-39=006\nGoal Reached!"), SBT_FAIL_NOT_REACHED,
                "Not reached target: 6 not equal to 62");
    expect_both(output("5, 5", "07", "5-5=000\nGoal Reached!"), SBT_FAIL_NOT_REACHED,
                "Not reached target: 0 not equal to 7");
    expect_both(output("45, 39", "0006", "45-39=6\nGoal Reached!"), SBT_FAIL_NONE, "");
    /* Operands with leading zeros are the same numbers to int(). */
    expect_both(output("45, 39", "6", "045-0039=6\nGoal Reached!"), SBT_FAIL_NONE, "");
}
END_TEST

START_TEST(spaces_inside_steps)
{
    const char *text = output("2, 39, 45, 10", "62", "45 - 39 = 6\n10\t*\t6=60\n2 +60 =  62\nGoal Reached!");
    expect_both(text, SBT_FAIL_NONE, "");
    /* `\s` is Unicode whitespace in the reference; strict allows spaces and tabs only. */
    text = output("45, 39", "6", "45\xc2\xa0-\xe3\x80\x80" "39\x0b=\x1f" "6\nGoal Reached!");
    expect(text, REF, SBT_FAIL_NONE, "");
    expect(text, STRICT, SBT_FAIL_INVALID_STEP,
           "Invalid step format: 45\xc2\xa0-\xe3\x80\x80" "39\x0b=\x1f" "6");
    /* Leading blanks on a line (not the first: the response is stripped) fail re.match. */
    expect_both(output("2, 39, 45, 10", "60", "45-39=6\n 10*6=60\nGoal Reached!"),
                SBT_FAIL_INVALID_STEP, "Invalid step format:  10*6=60");
    /* A blank line is a step, and '' fails the regex. */
    judged j = expect(output("2, 39, 45, 10", "60", "45-39=6\n\n10*6=60\nGoal Reached!"), REF,
                      SBT_FAIL_INVALID_STEP, "Invalid step format: ");
    ck_assert_int_eq(j.v.failed_step, 1);
    ck_assert_uint_eq(j.v.step_len, 0);
    ck_assert_int_eq(j.v.n_steps, 3);
    /* Unknown operators and missing parts. */
    expect_both(output("4, 2", "2", "4%2=0\nGoal Reached!"), SBT_FAIL_INVALID_STEP,
                "Invalid step format: 4%2=0");
    expect_both(output("4, 2", "2", "4/2\nGoal Reached!"), SBT_FAIL_INVALID_STEP,
                "Invalid step format: 4/2");
    expect_both(output("4, 2", "2", "x4/2=2\nGoal Reached!"), SBT_FAIL_INVALID_STEP,
                "Invalid step format: x4/2=2");
}
END_TEST

START_TEST(crlf_line_endings)
{
    /* "\r" stays part of each step: the reference's match ignores it; strict allows one
     * '\r' at the end of a line (after optional blanks), so CRLF outputs still count. */
    const char *text = output("2, 39, 45, 10", "62", "45-39=6\r\n10*6=60 \r\n2+60=62\r\nGoal Reached!");
    expect_both(text, SBT_FAIL_NONE, "");
    text = output("2, 39, 45, 10", "62", "45-39=6\r\r\n10*6=60\r\n2+60=62\r\nGoal Reached!");
    expect(text, REF, SBT_FAIL_NONE, "");
    expect(text, STRICT, SBT_FAIL_INVALID_STEP, "Invalid step format: 45-39=6\r\r");
    text = output("2, 39, 45, 10", "62", "45-39=6\r\n10*6=61\r\n2+61=63\r\nGoal Reached!");
    expect_both(text, SBT_FAIL_INCORRECT_RESULT, "Incorrect result in step: 10*6=61\r");
    /* The last line's '\r' is stripped with the response. */
    text = output("2, 39, 45, 10", "62", "45-39=6\r\n10*6=60\r\n2+60=63\r\nGoal Reached!");
    expect_both(text, SBT_FAIL_INCORRECT_RESULT, "Incorrect result in step: 2+60=63");
}
END_TEST

START_TEST(unicode_whitespace_around_the_response_is_stripped)
{
    /* U+00A0, U+3000, U+2028, U+0085, \x1c..\x1f are str.strip() whitespace. */
    const char *text = output("2, 39, 45, 10", "62",
                              "\xc2\xa0\xe3\x80\x80\x1c 45-39=6\n10*6=60\n2+60=62"
                              "\xe2\x80\xa8\xc2\x85\x1f\xe3\x80\x80\nGoal Reached!");
    expect_both(text, SBT_FAIL_NONE, "");
    /* Invalid UTF-8 is never whitespace: a lone 0xC2, 0xA0 or a truncated U+3000 stays. */
    expect_both(output("45, 39", "6", "\xc2" "45-39=6\nGoal Reached!"), SBT_FAIL_INVALID_STEP,
                "Invalid step format: \xc2" "45-39=6");
    expect(output("45, 39", "6", "45-39=6\xa0\nGoal Reached!"), REF, SBT_FAIL_NONE, "");
    expect(output("45, 39", "6", "45-39=6\x80\x80\nGoal Reached!"), STRICT, SBT_FAIL_INVALID_STEP,
           "Invalid step format: 45-39=6\x80\x80");
    /* U+200B (zero width space) is not whitespace for Python. */
    expect_both(output("45, 39", "6", "\xe2\x80\x8b" "45-39=6\nGoal Reached!"),
                SBT_FAIL_INVALID_STEP, "Invalid step format: \xe2\x80\x8b" "45-39=6");
    /* A response that is only whitespace is one empty step. */
    judged j = expect(output("45, 39", "6", " \xe3\x80\x80\n\t<backtrack>"), REF,
                      SBT_FAIL_INVALID_STEP, "Invalid step format: ");
    ck_assert_int_eq(j.v.n_steps, 1);
    ck_assert_int_eq(j.v.is_backtrack, 1);
    expect_both(output("45, 39", "6", "Goal Reached!"), SBT_FAIL_INVALID_STEP, "Invalid step format: ");
}
END_TEST

/* ------------------------------------------------------------------------------------ */
/* Prompt parsing and invalid formats                                                   */

START_TEST(invalid_output_format)
{
    const char *cases[] = {
        "",
        "no markers at all",
        "###Question: numbers [2, 39]->target 41\n###Response:\n2+39=41\n", /* no marker */
        "###Question: numbers [2, 39]->target 41\n###Response:\n",          /* lone tag at the end */
        "###Question: numbers [2, 39]->target 41\n###Response: 2+39=41\nGoal Reached!", /* no \n */
        "Goal Reached!###Question: numbers [2, 39]->target 41\n###Response:\n2+39=41", /* marker before */
        "###Question: ->target 41\n###Response:\n2+39=41\nGoal Reached!",   /* no numbers */
        "###Question: numbers [2, 39]->\n###Response:\n2+39=41\nGoal Reached!", /* no target */
        "###Question: numbers [2, 39]->target x41\n###Response:\n2+39=41\nGoal Reached!",
        "###Question: numbers [2,\n 39]->target 41\n###Response:\n2+39=41\nGoal Reached!",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        judged j = expect(cases[i], REF, SBT_FAIL_INVALID_FORMAT, "Invalid output format");
        expect(cases[i], STRICT, SBT_FAIL_INVALID_FORMAT, "Invalid output format");
        ck_assert_int_eq(j.v.n_steps, 0);
        ck_assert_int_eq(j.v.failed_step, -1);
        ck_assert_int_eq(j.v.is_backtrack, 0);
    }
    /* The seed's model_output is the whole text when the response regex fails. */
    judged j = judge(cases[5], REF);
    ck_assert_uint_eq(j.v.output_len, strlen(cases[5]));
    /* NULL with len 0 is the empty text. */
    j = judge_bytes(NULL, 0, STRICT);
    ck_assert_int_eq(j.v.failure, SBT_FAIL_INVALID_FORMAT);
    ck_assert_uint_eq(j.v.output_len, 0);
}
END_TEST

START_TEST(numbers_list_is_a_python_tuple)
{
    const char *resp = "2+39=41\nGoal Reached!";
    /* Accepted: what eval() turns into a tuple of ints. */
    const char *good[] = {"2, 39", "2,39", " 2 ,\t39 , ", "+2, 39, -7", "- 5, 2, 39", "2, 39, 00",
                          "2, 39,", "2,\f39", "\f2, 39", " \f \f2, 39"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        expect(output(good[i], "41", resp), REF, SBT_FAIL_NONE, "");
    /* Where eval() raises, or gives something list() cannot take (an int), the seed crashes. */
    const char *bad[] = {"", " ", "2", "2 39", "2,,39", "05, 39", "2, 39.0", "2, x",
                         ("2, \xc2\xa0" "39"), "\f 2, 39", "\f\t2, 39" /* "unexpected indent" */};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect(output(bad[i], "41", resp), REF, SBT_FAIL_INVALID_FORMAT, "Invalid output format");
    /* Documented deviation: other expressions eval() would take are refused too. */
    const char *python_only[] = {"(2, 39)", "2, 39\r", "--2, 39", "2, 3_9", "2, 40-1", "2, 39 # c"};
    for (size_t i = 0; i < sizeof python_only / sizeof python_only[0]; i++)
        expect(output(python_only[i], "41", resp), REF, SBT_FAIL_INVALID_FORMAT,
               "Invalid output format");
    /* The first "numbers [" whose line has a ']' wins; so does the first "target <digits>". */
    expect(
        "numbers [9 numbers [2, 39] target 5 target 41\n###Response:\n2+39=41\nGoal Reached!",
        REF, SBT_FAIL_INVALID_FORMAT, "Invalid output format");
    expect("numbers [1\nnumbers [2, 39] target x target 41\n###Response:\n2+39=41\nGoal Reached!",
           REF, SBT_FAIL_NONE, "");
    /* The prompt may come after the response: the seed searches the whole text. */
    expect("###Response:\n2+39=41\nGoal Reached! numbers [2, 39] target 41", REF, SBT_FAIL_NONE, "");
}
END_TEST

/* ------------------------------------------------------------------------------------ */
/* Big numbers (Python ints are unbounded; ours are 128-bit)                             */

#define BIG40 "1234567890123456789012345678901234567890"
#define I128_MAX "170141183460469231731687303715884105727"
#define I128_MAX_PLUS_1 "170141183460469231731687303715884105728"

START_TEST(numbers_beyond_128_bits)
{
    /* An operand too large for any prompt number to match: Python says Unknown number. */
    expect_both(output("2, 39", "41", BIG40 "+2=3\nGoal Reached!"), SBT_FAIL_UNKNOWN_NUMBER,
                "Unknown number in step: " BIG40 "+2=3");
    /* ...unless the prompt holds a number that large: then only our limit can answer. */
    expect_both(output(BIG40 ", 2", "41", BIG40 "+2=3\nGoal Reached!"), SBT_FAIL_NUMBER_TOO_LARGE,
                "Number too large in step: " BIG40 "+2=3");
    /* A definitely absent operand still decides first, as in Python's `or`. */
    expect_both(output(BIG40 ", 2", "41", BIG40 "+7=3\nGoal Reached!"), SBT_FAIL_UNKNOWN_NUMBER,
                "Unknown number in step: " BIG40 "+7=3");
    /* A written result that large never equals an in-range value. */
    expect_both(output("2, 39", "41", "2+39=" BIG40 "\nGoal Reached!"), SBT_FAIL_INCORRECT_RESULT,
                "Incorrect result in step: 2+39=" BIG40);
    /* A target that large is never reached; the message carries all its digits. */
    expect_both(output("2, 39", BIG40, "2+39=41\nGoal Reached!"), SBT_FAIL_NOT_REACHED,
                "Not reached target: 41 not equal to " BIG40);
    /* The largest 128-bit value works; one more overflows. */
    expect_both(output(I128_MAX ", 0", I128_MAX, I128_MAX "+0=" I128_MAX "\nGoal Reached!"),
                SBT_FAIL_NONE, "");
    expect_both(output(I128_MAX ", 1", "1", I128_MAX "+1=" I128_MAX_PLUS_1 "\nGoal Reached!"),
                SBT_FAIL_NUMBER_TOO_LARGE,
                "Number too large in step: " I128_MAX "+1=" I128_MAX_PLUS_1);
    /* An overflowing value with an in-range written result is simply wrong. */
    expect_both(output(I128_MAX ", 2", "1", I128_MAX "*2=5\nGoal Reached!"),
                SBT_FAIL_INCORRECT_RESULT, "Incorrect result in step: " I128_MAX "*2=5");
    /* Huge intermediate values within range are exact. */
    expect_both(output("10000000000000000000, 10000000000000000000", "100000000000000000000000000000000000000",
                       "10000000000000000000*10000000000000000000=100000000000000000000000000000000000000"
                       "\nGoal Reached!"),
                SBT_FAIL_NONE, "");
}
END_TEST

/* ------------------------------------------------------------------------------------ */
/* Hostile bytes                                                                        */

START_TEST(nul_bytes_and_invalid_utf8)
{
    static const char text[] = "###Question: numbers [45, 39]->target 6\n###Response:\n"
                               "45-39=6\n\xff\xfe\x00x\nGoal Reached!";
    size_t len = sizeof text - 1;
    for (int mode = REF; mode <= STRICT; mode++) {
        judged j = judge_bytes(text, len, mode);
        ck_assert_int_eq(j.v.failure, SBT_FAIL_INVALID_STEP);
        ck_assert_int_eq(j.v.failed_step, 1);
        ck_assert_uint_eq(j.v.step_len, 4);
        /* The reason quotes the raw bytes, NUL included; its length says so. */
        ck_assert_uint_eq(j.reason_len, strlen("Invalid step format: ") + 4);
        ck_assert_int_eq(memcmp(j.reason, "Invalid step format: \xff\xfe\x00x", j.reason_len), 0);
    }
    /* A NUL before the prompt does not hide it, and len bounds the text. */
    static const char nul_first[] = "\x00###Question: numbers [45, 39]->target 6\n###Response:\n"
                                    "45-39=6\nGoal Reached!TRAILING";
    judged j = judge_bytes(nul_first, sizeof nul_first - 1 - strlen("TRAILING"), STRICT);
    ck_assert_int_eq(j.v.failure, SBT_FAIL_NONE);
    j = judge_bytes(nul_first, sizeof nul_first - 1 - strlen("ed!TRAILING"), REF);
    ck_assert_int_eq(j.v.failure, SBT_FAIL_INVALID_FORMAT);
}
END_TEST

/* A text of `len` bytes, from a heap buffer exactly that large so ASan catches overreads. */
static char *exact_copy(const char *s, size_t len)
{
    char *p = malloc(len ? len : 1);
    ck_assert_ptr_nonnull(p);
    memcpy(p, s, len);
    return p;
}

START_TEST(huge_inputs_stay_linear)
{
    const size_t mb = 1u << 20;
    char *digits = malloc(mb + 64);
    ck_assert_ptr_nonnull(digits);
    memset(digits, '7', mb);

    judged j = judge_bytes(digits, mb, REF);
    ck_assert_int_eq(j.v.failure, SBT_FAIL_INVALID_FORMAT);
    ck_assert_uint_eq(j.v.output_len, mb);

    /* A one-megabyte operand. */
    const char *prompt = "###Question: numbers [7, 2]->target 9\n###Response:\n";
    size_t plen = strlen(prompt);
    char *text = malloc(plen + mb + 64);
    ck_assert_ptr_nonnull(text);
    memcpy(text, prompt, plen);
    memcpy(text + plen, digits, mb);
    memcpy(text + plen + mb, "+2=9\nGoal Reached!", 18);
    char *exact = exact_copy(text, plen + mb + 18);
    for (int mode = REF; mode <= STRICT; mode++) {
        j = judge_bytes(exact, plen + mb + 18, mode);
        ck_assert_int_eq(j.v.failure, SBT_FAIL_UNKNOWN_NUMBER);
        ck_assert_uint_eq(j.v.step_len, mb + 4);
        ck_assert_uint_eq(j.reason_len, strlen("Unknown number in step: ") + mb + 4);
    }
    free(exact);

    /* "numbers [" repeated a megabyte long without ']'. */
    size_t n = 0;
    while (n + 9 <= mb) {
        memcpy(text + n, "numbers [", 9);
        n += 9;
    }
    exact = exact_copy(text, n);
    j = judge_bytes(exact, n, REF);
    ck_assert_int_eq(j.v.failure, SBT_FAIL_INVALID_FORMAT);
    free(exact);
    free(text);
    free(digits);
}
END_TEST

START_TEST(many_numbers_and_steps)
{
    /* 100,001 ones and 50,000 steps "1+1=2": strict consumes them two at a time (and then
     * reports the step count); a quadratic multiset would take minutes here. */
    const int ones = 100001, steps = 50000;
    size_t cap = (size_t)ones * 3 + (size_t)steps * 6 + 256, n = 0;
    char *text = malloc(cap);
    ck_assert_ptr_nonnull(text);
    n += (size_t)sprintf(text + n, "###Question: numbers [");
    for (int i = 0; i < ones; i++)
        n += (size_t)sprintf(text + n, "1, ");
    n += (size_t)sprintf(text + n, "]->target 2\n###Response:\n");
    for (int i = 0; i < steps; i++)
        n += (size_t)sprintf(text + n, "1+1=2\n");
    n += (size_t)sprintf(text + n, "Goal Reached!");
    judged j = judge_bytes(text, n, STRICT);
    ck_assert_int_eq(j.v.failure, SBT_FAIL_STEP_COUNT);
    ck_assert_str_eq(j.reason, "Wrong number of steps: 50000 instead of 100000");
    /* The reference removes every 1 at the first step. */
    j = judge_bytes(text, n, REF);
    ck_assert_int_eq(j.v.failure, SBT_FAIL_UNKNOWN_NUMBER);
    ck_assert_int_eq(j.v.failed_step, 1);
    ck_assert_int_eq(j.v.n_steps, steps);
    free(text);
}
END_TEST

/* ------------------------------------------------------------------------------------ */
/* API contract                                                                         */

START_TEST(bad_arguments)
{
    sbt_countdown_verdict v = {.size = sizeof v};
    ck_assert_int_eq(sbt_countdown_verify("x", 1, REF, NULL), SBT_E_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(sbt_last_error(), "out"));
    ck_assert_int_eq(sbt_countdown_verify(NULL, 3, REF, &v), SBT_E_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(sbt_last_error(), "text"));
    ck_assert_int_eq(sbt_countdown_verify("x", 1, (sbt_countdown_verifier)7, &v),
                     SBT_E_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(sbt_last_error(), "mode"));
    v.size = 0;
    ck_assert_int_eq(sbt_countdown_verify("x", 1, REF, &v), SBT_E_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(sbt_last_error(), "out->size"));
    v.size = offsetof(sbt_countdown_verdict, output_len);
    ck_assert_int_eq(sbt_countdown_verify("x", 1, REF, &v), SBT_E_INVALID_ARGUMENT);
}
END_TEST

START_TEST(larger_verdict_keeps_its_tail)
{
    /* A caller built against a newer header passes a larger struct: we write only ours. */
    struct {
        sbt_countdown_verdict v;
        unsigned char tail[16];
    } big;
    memset(&big, 0xab, sizeof big);
    big.v.size = sizeof big;
    const char *text = output("45, 39", "6", "45-39=6\nGoal Reached!");
    ck_assert_int_eq(sbt_countdown_verify(text, strlen(text), STRICT, &big.v), SBT_OK);
    ck_assert_uint_eq(big.v.size, sizeof big);
    ck_assert_int_eq(big.v.is_correct, 1);
    for (size_t i = 0; i < sizeof big.tail; i++)
        ck_assert_uint_eq(big.tail[i], 0xab);
}
END_TEST

START_TEST(reason_truncates_like_snprintf)
{
    const char *text = output("2, 39, 45, 10", "62", "45-39=6\n39+6=45\n<backtrack>");
    sbt_countdown_verdict v = {.size = sizeof v};
    ck_assert_int_eq(sbt_countdown_verify(text, strlen(text), REF, &v), SBT_OK);
    const char *full = "Unknown number in step: 39+6=45";
    size_t full_len = strlen(full);
    ck_assert_uint_eq(sbt_countdown_verdict_reason(&v, text, NULL, 0), full_len);
    char buf[64];
    memset(buf, 'z', sizeof buf);
    ck_assert_uint_eq(sbt_countdown_verdict_reason(&v, text, buf, 0), full_len);
    ck_assert_int_eq(buf[0], 'z');
    ck_assert_uint_eq(sbt_countdown_verdict_reason(&v, text, buf, 1), full_len);
    ck_assert_str_eq(buf, "");
    ck_assert_uint_eq(sbt_countdown_verdict_reason(&v, text, buf, 10), full_len);
    ck_assert_str_eq(buf, "Unknown n");
    ck_assert_uint_eq(sbt_countdown_verdict_reason(&v, text, buf, full_len), full_len);
    ck_assert_str_eq(buf, "Unknown number in step: 39+6=4");
    ck_assert_uint_eq(sbt_countdown_verdict_reason(&v, text, buf, full_len + 1), full_len);
    ck_assert_str_eq(buf, full);
    /* Truncation inside the number of a "Not reached" reason. */
    text = output("2, 39, 45, 10", "62", "45-39=6\n<backtrack>");
    ck_assert_int_eq(sbt_countdown_verify(text, strlen(text), REF, &v), SBT_OK);
    ck_assert_uint_eq(sbt_countdown_verdict_reason(&v, text, buf, 37), 37);
    ck_assert_str_eq(buf, "Not reached target: 6 not equal to 6");
    /* Correct outputs, NULL verdicts and text-free reasons. */
    text = output("45, 39", "6", "45-39=6\nGoal Reached!");
    ck_assert_int_eq(sbt_countdown_verify(text, strlen(text), REF, &v), SBT_OK);
    ck_assert_uint_eq(sbt_countdown_verdict_reason(&v, text, buf, sizeof buf), 0);
    ck_assert_str_eq(buf, "");
    ck_assert_uint_eq(sbt_countdown_verdict_reason(NULL, text, buf, sizeof buf), 0);
    ck_assert_str_eq(buf, "");
    ck_assert_int_eq(sbt_countdown_verify("", 0, REF, &v), SBT_OK);
    ck_assert_uint_eq(sbt_countdown_verdict_reason(&v, NULL, buf, sizeof buf), 21);
    ck_assert_str_eq(buf, "Invalid output format");
}
END_TEST

START_TEST(failure_names)
{
    static const char *const names[SBT_COUNTDOWN_N_FAILURES] = {
        "none", "invalid_format", "invalid_step", "unknown_number", "incorrect_result",
        "division_by_zero", "not_reached", "number_too_large", "inexact_division",
        "negative_result", "step_count", "no_goal"};
    for (int f = 0; f < SBT_COUNTDOWN_N_FAILURES; f++)
        ck_assert_str_eq(sbt_countdown_failure_name((sbt_countdown_failure)f), names[f]);
    ck_assert_str_eq(sbt_countdown_failure_name((sbt_countdown_failure)SBT_COUNTDOWN_N_FAILURES),
                     "unknown");
    ck_assert_str_eq(sbt_countdown_failure_name((sbt_countdown_failure)99), "unknown");
}
END_TEST

/* ------------------------------------------------------------------------------------ */
/* Randomized: solutions from an independent brute force, then one-byte mutations        */

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t next_random(void) /* splitmix64 */
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static int64_t uniform(int64_t lo, int64_t hi) { return lo + (int64_t)(next_random() % (uint64_t)(hi - lo + 1)); }

static int count_of(const int64_t *vals, int n, int64_t x)
{
    int c = 0;
    for (int i = 0; i < n; i++)
        c += vals[i] == x;
    return c;
}

/* Appends to `steps` one random legal step sequence that uses all n numbers (the
 * generator's rules: a-b and a/b larger first, exact division only; a division that is
 * not allowed becomes an addition). Returns the target it reaches. Sets *repeated if a
 * value ever occurs twice, where the reference's remove-every-copy bug may bite. */
static int64_t random_solution(int64_t *vals, int n, char *steps, int *repeated)
{
    while (n > 1) {
        for (int k = 0; k < n; k++)
            *repeated |= count_of(vals, n, vals[k]) > 1;
        int i = (int)uniform(0, n - 1), j = (int)uniform(0, n - 2);
        j += j >= i;
        int64_t hi = vals[i] > vals[j] ? vals[i] : vals[j], lo = vals[i] + vals[j] - hi, r;
        char op = "+-*/"[uniform(0, 3)];
        if (op == '/' && (lo == 0 || hi % lo != 0))
            op = '+';
        switch (op) {
        case '+': r = vals[i] + vals[j]; break;
        case '*': r = vals[i] * vals[j]; break;
        case '-': r = hi - lo; break;
        default: r = hi / lo; break;
        }
        const char *sp = uniform(0, 3) == 0 ? " " : "";
        if (op == '+' || op == '*')
            sprintf(steps + strlen(steps), "%lld%s%c%s%lld=%lld\n", (long long)vals[i], sp, op, sp,
                    (long long)vals[j], (long long)r);
        else
            sprintf(steps + strlen(steps), "%lld%s%c%s%lld=%lld\n", (long long)hi, sp, op, sp,
                    (long long)lo, (long long)r);
        /* The pair leaves, the result comes in (lo_idx < hi_idx <= n-1). */
        int lo_idx = i < j ? i : j, hi_idx = i < j ? j : i;
        vals[hi_idx] = vals[n - 1];
        vals[lo_idx] = r;
        n--;
    }
    return vals[0];
}

/* One random problem and solution, as the whole text the verifier sees. */
static void random_output(char *text, size_t cap, int *repeated)
{
    int64_t nums[4], vals[4];
    char steps[256] = "";
    for (int k = 0; k < 4; k++)
        nums[k] = vals[k] = uniform(1, 99);
    *repeated = 0;
    int64_t target = random_solution(vals, 4, steps, repeated);
    snprintf(text, cap, "###Question: numbers [%lld, %lld, %lld, %lld]->target %lld\n###Response:\n%sGoal Reached!",
             (long long)nums[0], (long long)nums[1], (long long)nums[2], (long long)nums[3],
             (long long)target, steps);
}

/* Verifies a mutated text: no crash, spans in bounds (judge_bytes), a reason when wrong. */
static void check_mutant(const char *text, size_t len)
{
    char *exact = exact_copy(text, len);
    for (int mode = REF; mode <= STRICT; mode++) {
        judged j = judge_bytes(exact, len, mode);
        ck_assert_str_ne(sbt_countdown_failure_name(j.v.failure), "unknown");
        if (!j.v.is_correct)
            ck_assert_uint_gt(j.reason_len, 0);
        char small[8];
        ck_assert_uint_eq(sbt_countdown_verdict_reason(&j.v, exact, small, sizeof small), j.reason_len);
    }
    free(exact);
}

START_TEST(random_solutions_and_mutations)
{
    char text[512];
    int n_repeated = 0;
    for (int iter = 0; iter < 2000; iter++) {
        int repeated;
        random_output(text, sizeof text, &repeated);
        size_t len = strlen(text);
        judged s = judge_bytes(text, len, STRICT);
        ck_assert_msg(s.v.is_correct, "strict rejects %s: %s", text, s.reason);
        judged r = judge_bytes(text, len, REF);
        /* A repeated value may trip the seed's remove-every-copy bug, nothing else. */
        if (repeated)
            ck_assert_msg(r.v.is_correct || r.v.failure == SBT_FAIL_UNKNOWN_NUMBER, "%s", text);
        else
            ck_assert_msg(r.v.is_correct, "reference rejects %s: %s", text, r.reason);
        n_repeated += repeated;

        size_t pos = (size_t)uniform(0, (int64_t)len - 1);
        text[pos] = (char)uniform(0, 255);
        check_mutant(text, len);
        check_mutant(text, pos); /* and cut right there */
    }
    ck_assert_int_lt(n_repeated, 2000); /* the check above mostly demands correctness */
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("countdown_verify");
    TCase *spec = tcase_create("spec");
    tcase_add_test(spec, worked_example_is_correct_in_both_modes);
    tcase_add_test(spec, worked_backtrack_example);
    tcase_add_test(spec, floor_division_is_accepted_by_reference_only);
    tcase_add_test(spec, duplicate_values_bug_of_reference);
    tcase_add_test(spec, one_step_answer_is_accepted_by_reference_only);
    tcase_add_test(spec, membership_instead_of_consumption);
    tcase_add_test(spec, trailing_garbage_after_a_step);
    tcase_add_test(spec, response_cut_at_backtrack_is_still_judged);
    tcase_add_test(spec, first_marker_ends_the_response);
    tcase_add_test(spec, arithmetic_failures);
    tcase_add_test(spec, not_reached_uses_python_int_formatting);
    tcase_add_test(spec, spaces_inside_steps);
    tcase_add_test(spec, crlf_line_endings);
    tcase_add_test(spec, unicode_whitespace_around_the_response_is_stripped);
    tcase_add_test(spec, invalid_output_format);
    tcase_add_test(spec, numbers_list_is_a_python_tuple);
    suite_add_tcase(s, spec);

    TCase *hostile = tcase_create("hostile");
    tcase_set_timeout(hostile, 120);
    tcase_add_test(hostile, numbers_beyond_128_bits);
    tcase_add_test(hostile, nul_bytes_and_invalid_utf8);
    tcase_add_test(hostile, random_solutions_and_mutations);
    suite_add_tcase(s, hostile);

    /* These take well under a second even under ASan; a quadratic scan takes minutes, so
     * the timeout is what fails it. */
    TCase *linear = tcase_create("linear");
    tcase_set_timeout(linear, 30);
    tcase_add_test(linear, huge_inputs_stay_linear);
    tcase_add_test(linear, many_numbers_and_steps);
    suite_add_tcase(s, linear);

    TCase *api = tcase_create("api");
    tcase_add_test(api, bad_arguments);
    tcase_add_test(api, larger_verdict_keeps_its_tail);
    tcase_add_test(api, reason_truncates_like_snprintf);
    tcase_add_test(api, failure_names);
    suite_add_tcase(s, api);
    return s;
}

SBT_CHECK_MAIN(suite)
