/* test_countdown_solver.c — the SoS solver, prompt, held-out targets and exploration errors,
 * against SPEC's worked examples, an independent brute force, and the golden file made by
 * tests/tools/sos_reference.py (a Python model of the Stream-of-Search code). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "selfbt/selfbt.h"
#include "task/countdown_internal.h"

#include "check_main.h"

static sbt_countdown_problem problem4(int a, int b, int c, int d, int target)
{
    sbt_countdown_problem p;
    memset(&p, 0, sizeof p);
    p.n_nums = 4;
    p.nums[0] = a;
    p.nums[1] = b;
    p.nums[2] = c;
    p.nums[3] = d;
    p.target = target;
    return p;
}

START_TEST(prompt_is_the_seeds_string)
{
    sbt_countdown_problem p = problem4(2, 39, 45, 10, 62);
    char buf[128];
    size_t n = sbt_countdown_prompt(&p, buf, sizeof buf);
    const char *want = "###Question: numbers [2, 39, 45, 10]->target 62\n###Response:\n";
    ck_assert_str_eq(buf, want);
    ck_assert_uint_eq(n, strlen(want));
    /* snprintf semantics: truncated, NUL-terminated, full length returned. */
    char small[10];
    ck_assert_uint_eq(sbt_countdown_prompt(&p, small, sizeof small), strlen(want));
    ck_assert_str_eq(small, "###Questi");
    p.n_nums = 0;
    ck_assert_uint_eq(sbt_countdown_prompt(&p, buf, sizeof buf), 0);
}
END_TEST

START_TEST(solver_worked_examples)
{
    char buf[256];
    int found = -1;
    sbt_countdown_problem p = problem4(2, 39, 45, 10, 62);
    ck_assert_int_eq(sbt_countdown_solve(&p, buf, sizeof buf, &found), SBT_OK);
    ck_assert_int_eq(found, 1);
    ck_assert_str_eq(buf, "45-39=6\n10*6=60\n2+60=62");
    /* SPEC §1.2 illustrative rows (SoS generator, seed 4). */
    p = problem4(84, 53, 80, 88, 75);
    ck_assert_int_eq(sbt_countdown_solve(&p, buf, sizeof buf, &found), SBT_OK);
    ck_assert_str_eq(buf, "84-80=4\n88/4=22\n53+22=75");
    p = problem4(27, 15, 8, 8, 29);
    ck_assert_int_eq(sbt_countdown_solve(&p, buf, sizeof buf, &found), SBT_OK);
    ck_assert_str_eq(buf, "15-8=7\n8*7=56\n56-27=29");
    /* Unsolvable: all four numbers must be used. */
    p = problem4(1, 1, 1, 1, 99);
    ck_assert_int_eq(sbt_countdown_solve(&p, buf, sizeof buf, &found), SBT_OK);
    ck_assert_int_eq(found, 0);
    ck_assert_str_eq(buf, "");
}
END_TEST

START_TEST(solver_rejects_bad_arguments)
{
    char buf[256];
    int found;
    sbt_countdown_problem p = problem4(2, 39, 45, 10, 62);
    ck_assert_int_eq(sbt_countdown_solve(NULL, buf, sizeof buf, &found), SBT_E_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(sbt_last_error(), "problem"));
    ck_assert_int_eq(sbt_countdown_solve(&p, buf, 5, &found), SBT_E_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(sbt_last_error(), "too small"));
    p.n_nums = 7;
    ck_assert_int_eq(sbt_countdown_solve(&p, buf, sizeof buf, &found), SBT_E_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(sbt_last_error(), "n_nums"));
    p = problem4(2, -3, 45, 10, 62);
    ck_assert_int_eq(sbt_countdown_solve(&p, buf, sizeof buf, &found), SBT_E_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(sbt_last_error(), "nums[1]"));
}
END_TEST

/* ---- brute force: every value reachable by combining any two numbers (either order) with
 * the generator's rules, written independently of the solver. */
static int brute_reaches(const long long *v, int n, long long target)
{
    if (n == 1)
        return v[0] == target;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            if (i == j)
                continue;
            long long rest[SBT_COUNTDOWN_MAX_NUMS];
            int m = 0;
            for (int k = 0; k < n; k++)
                if (k != i && k != j)
                    rest[m++] = v[k];
            long long a = v[i], b = v[j];
            long long cand[4];
            int nc = 0;
            cand[nc++] = a + b;
            cand[nc++] = a * b;
            if (a >= b)
                cand[nc++] = a - b;
            if (b != 0 && a % b == 0)
                cand[nc++] = a / b;
            for (int c = 0; c < nc; c++) {
                rest[m] = cand[c];
                if (brute_reaches(rest, m + 1, target))
                    return 1;
            }
        }
    return 0;
}

/* Replays "a op b=r" lines on a multiset: each operand must be available, the arithmetic
 * exact and the last value the target. */
static int solution_is_valid(const sbt_countdown_problem *p, const char *text)
{
    long long have[SBT_COUNTDOWN_MAX_NUMS];
    int n = p->n_nums;
    for (int k = 0; k < n; k++)
        have[k] = p->nums[k];
    const char *s = text;
    for (int step = 0; step < p->n_nums - 1; step++) {
        long long a, b, r;
        char op;
        int used;
        if (sscanf(s, "%lld%c%lld=%lld%n", &a, &op, &b, &r, &used) != 4)
            return 0;
        long long want = op == '+' ? a + b : op == '-' ? a - b : op == '*' ? a * b : (b && a % b == 0) ? a / b : -1;
        if (want != r || r < 0)
            return 0;
        for (int t = 0; t < 2; t++) {
            long long x = t ? b : a;
            int k = 0;
            while (k < n && have[k] != x)
                k++;
            if (k == n)
                return 0;
            have[k] = have[--n];
        }
        have[n++] = r;
        s += used;
        if (*s == '\n')
            s++;
    }
    return *s == '\0' && n == 1 && have[0] == p->target;
}

START_TEST(solver_agrees_with_brute_force)
{
    srand(12345);
    int solved = 0;
    for (int t = 0; t < 3000; t++) {
        sbt_countdown_problem p;
        memset(&p, 0, sizeof p);
        p.n_nums = 3 + t % 2;
        long long v[SBT_COUNTDOWN_MAX_NUMS];
        for (int k = 0; k < p.n_nums; k++)
            v[k] = p.nums[k] = 1 + rand() % 30;
        p.target = 1 + rand() % 100;
        char buf[256];
        int found;
        ck_assert_int_eq(sbt_countdown_solve(&p, buf, sizeof buf, &found), SBT_OK);
        ck_assert_int_eq(found, brute_reaches(v, p.n_nums, p.target));
        if (found) {
            solved++;
            ck_assert_msg(solution_is_valid(&p, buf), "invalid solution %s", buf);
        }
    }
    ck_assert_int_gt(solved, 300);
}
END_TEST

/* ---- the golden file ------------------------------------------------------------------ */

static FILE *open_golden(void)
{
    FILE *f = fopen(SBT_TEST_DATA_DIR "/countdown_sos.txt", "r");
    ck_assert_msg(f != NULL, "cannot open " SBT_TEST_DATA_DIR "/countdown_sos.txt");
    return f;
}

START_TEST(heldout_targets_match_python)
{
    FILE *f = open_golden();
    char line[512];
    int checked = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] != 'H')
            continue;
        int seed, want[9];
        ck_assert_int_eq(sscanf(line, "H %d %d %d %d %d %d %d %d %d %d", &seed, &want[0], &want[1],
                                &want[2], &want[3], &want[4], &want[5], &want[6], &want[7], &want[8]),
                         10);
        sbt_countdown_options o;
        sbt_countdown_options_init(&o);
        o.seed = (uint64_t)seed;
        int32_t got[16];
        size_t n = 0;
        ck_assert_int_eq(sbt_countdown_heldout_targets(&o, got, 16, &n), SBT_OK);
        ck_assert_uint_eq(n, 9);
        for (int k = 0; k < 9; k++)
            ck_assert_int_eq(got[k], want[k]);
        checked++;
    }
    fclose(f);
    ck_assert_int_eq(checked, 8);
}
END_TEST

START_TEST(heldout_targets_of_spec_seed)
{
    /* SPEC §2.1: seed 4 holds out {14, 39, 41, 57, 62, 81, 87, 89, 96}. */
    sbt_countdown_options o;
    sbt_countdown_options_init(&o);
    ck_assert_int_eq((int)o.seed, 4);
    int32_t got[9];
    size_t n;
    ck_assert_int_eq(sbt_countdown_heldout_targets(&o, got, 9, &n), SBT_OK);
    int sorted[9] = {14, 39, 41, 57, 62, 81, 87, 89, 96};
    for (int k = 0; k < 9; k++) {
        int seen = 0;
        for (int t = 0; t < 9; t++)
            seen |= got[t] == sorted[k];
        ck_assert_msg(seen, "target %d not held out", sorted[k]);
    }
}
END_TEST

/* "a op b=r" of an internal step. */
static const char *step_text(const sbti_cd_step *s, char *buf)
{
    sbti_cd_format_step(s, buf);
    return buf;
}

START_TEST(solver_and_exploration_match_python)
{
    FILE *f = open_golden();
    char line[512];
    int checked = 0, with_error = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] != 'P')
            continue;
        line[strcspn(line, "\n")] = '\0';
        int target, n, v[4];
        ck_assert_int_eq(sscanf(line, "P %d %d %d %d %d %d", &target, &n, &v[0], &v[1], &v[2], &v[3]), 6);
        char *cell[3];
        char *bar = strchr(line, '|');
        for (int k = 0; k < 3; k++) {
            ck_assert_ptr_nonnull(bar);
            cell[k] = bar + 2;
            bar = strchr(cell[k], '|');
            if (bar)
                bar[-1] = '\0';
        }
        sbt_countdown_problem p = problem4(v[0], v[1], v[2], v[3], target);
        char buf[256];
        int found;
        ck_assert_int_eq(sbt_countdown_solve(&p, buf, sizeof buf, &found), SBT_OK);
        if (!strcmp(cell[0], "-")) {
            ck_assert_int_eq(found, 0);
            continue;
        }
        ck_assert_int_eq(found, 1);
        for (char *c = buf; *c; c++)
            if (*c == '\n')
                *c = ';';
        ck_assert_str_eq(buf, cell[0]);

        sbti_cd_state s;
        sbti_cd_step y[3];
        sbti_cd_state_of(&p, &s);
        ck_assert_int_eq(sbti_cd_search(&s, target, y), 1);
        for (int h = 0; h < 2; h++) {
            sbti_cd_step err;
            int k = sbti_cd_exploration_error(&p, y, 3, (sbti_cd_heuristic)h, &err);
            if (!strcmp(cell[1 + h], "-")) {
                ck_assert_msg(k < 0, "%s: unexpected exploration error", line);
            } else {
                char want[80], got[320];
                snprintf(want, sizeof want, "%s", cell[1 + h]);
                ck_assert_msg(k >= 0, "%s: no exploration error, expected %s", line, want);
                snprintf(got, sizeof got, "%d:%s", k, step_text(&err, buf));
                ck_assert_str_eq(got, want);
                with_error++;
            }
        }
        checked++;
    }
    fclose(f);
    ck_assert_int_gt(checked, 1500);
    ck_assert_int_gt(with_error, 1000);
}
END_TEST

START_TEST(exploration_example_of_spec)
{
    /* SPEC §2.2: [2,39,45,10]->62 with the sum heuristic first explores 2*10=20, which leaves
     * [39, 45, 20]: unsolvable, so the D_back row is "2*10=20\n<backtrack>". */
    sbt_countdown_problem p = problem4(2, 39, 45, 10, 62);
    sbti_cd_state s;
    sbti_cd_step y[3], err;
    sbti_cd_state_of(&p, &s);
    ck_assert_int_eq(sbti_cd_search(&s, 62, y), 1);
    ck_assert_int_eq(sbti_cd_exploration_error(&p, y, 3, SBTI_CD_SUM, &err), 0);
    char buf[128];
    sbti_cd_format_back(y, 0, &err, buf);
    ck_assert_str_eq(buf, "2*10=20\n<backtrack>");
    /* [38,18,33,49]->26: the sum-heuristic dfs diverges with 49-18=31, which still leads to a
     * solution, so it is not an exploration error (SPEC's solvability check). */
    p = problem4(38, 18, 33, 49, 26);
    sbti_cd_state_of(&p, &s);
    ck_assert_int_eq(sbti_cd_search(&s, 26, y), 1);
    ck_assert_int_lt(sbti_cd_exploration_error(&p, y, 3, SBTI_CD_SUM, &err), 0);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("countdown_solver");
    TCase *tc = tcase_create("solver");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, prompt_is_the_seeds_string);
    tcase_add_test(tc, solver_worked_examples);
    tcase_add_test(tc, solver_rejects_bad_arguments);
    tcase_add_test(tc, solver_agrees_with_brute_force);
    tcase_add_test(tc, heldout_targets_match_python);
    tcase_add_test(tc, heldout_targets_of_spec_seed);
    tcase_add_test(tc, solver_and_exploration_match_python);
    tcase_add_test(tc, exploration_example_of_spec);
    suite_add_tcase(s, tc);
    return s;
}

SBT_CHECK_MAIN(suite)
