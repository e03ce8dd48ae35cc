/* countdown_solver.c — Stream-of-Search's exhaustive Countdown solver (CountDown.search and
 * combine_nums, SPEC §2.1): depth-first over pairs i<j in itertools.combinations order,
 * returning the first solution found. Its order decides the text of every D_op row. */
#include <string.h>

#include "core/error.h"
#include "task/countdown_internal.h"

int sbti_cd_combine(int64_t a, int64_t b, sbti_cd_step out[4])
{
    int n = 0;
    out[n++] = (sbti_cd_step){a, b, a + b, '+', -1, -1};
    out[n++] = (sbti_cd_step){a, b, a * b, '*', -1, -1};
    /* Subtraction and division are written larger operand first. */
    int64_t hi = a <= b ? b : a, lo = a <= b ? a : b;
    out[n++] = (sbti_cd_step){hi, lo, hi - lo, '-', -1, -1};
    if (lo != 0 && hi % lo == 0)
        out[n++] = (sbti_cd_step){hi, lo, hi / lo, '/', -1, -1};
    return n;
}

void sbti_cd_apply(const sbti_cd_state *s, int i, int j, int64_t result, sbti_cd_state *out)
{
    int n = 0;
    for (int k = 0; k < s->n; k++)
        if (k != i && k != j)
            out->v[n++] = s->v[k];
    out->v[n++] = result;
    out->n = n;
}

int sbti_cd_search(const sbti_cd_state *s, int64_t target, sbti_cd_step *steps)
{
    if (s->n == 1)
        return s->v[0] == target;
    for (int i = 0; i < s->n; i++) {
        for (int j = i + 1; j < s->n; j++) {
            sbti_cd_step cand[4];
            int nc = sbti_cd_combine(s->v[i], s->v[j], cand);
            for (int c = 0; c < nc; c++) {
                sbti_cd_state next;
                sbti_cd_apply(s, i, j, cand[c].r, &next);
                steps[0] = cand[c];
                steps[0].i = (int8_t)i;
                steps[0].j = (int8_t)j;
                if (sbti_cd_search(&next, target, steps + 1))
                    return 1;
            }
        }
    }
    return 0;
}

void sbti_cd_state_of(const sbt_countdown_problem *p, sbti_cd_state *out)
{
    out->n = p->n_nums;
    for (int i = 0; i < p->n_nums; i++)
        out->v[i] = p->nums[i];
}

sbt_status sbt_countdown_solve(const sbt_countdown_problem *p, char *buf, size_t cap, int *found)
{
    if (!p || !buf || !found)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_countdown_solve: %s is NULL",
                         !p ? "problem" : !buf ? "buf" : "found");
    if (p->n_nums < 1 || p->n_nums > SBT_COUNTDOWN_MAX_NUMS)
        return sbti_fail(SBT_E_INVALID_ARGUMENT,
                         "sbt_countdown_solve: n_nums is %d, expected 1..%d", (int)p->n_nums,
                         SBT_COUNTDOWN_MAX_NUMS);
    for (int i = 0; i < p->n_nums; i++)
        if (p->nums[i] < 0 || p->nums[i] > SBTI_CD_MAX_VALUE)
            return sbti_fail(SBT_E_INVALID_ARGUMENT,
                             "sbt_countdown_solve: nums[%d] is %d, expected 0..%d", i,
                             (int)p->nums[i], SBTI_CD_MAX_VALUE);
    sbti_cd_state s;
    sbti_cd_step steps[SBT_COUNTDOWN_MAX_NUMS];
    sbti_cd_state_of(p, &s);
    *found = sbti_cd_search(&s, p->target, steps);
    char text[SBT_COUNTDOWN_MAX_NUMS * (SBTI_CD_STEP_MAX + 1) + 16];
    size_t len = *found ? sbti_cd_format_lines(steps, p->n_nums - 1, text) : 0;
    if (len > 0)
        len--; /* no newline after the last step */
    if (len + 1 > cap)
        return sbti_fail(SBT_E_INVALID_ARGUMENT,
                         "sbt_countdown_solve: buffer of %zu bytes is too small for %zu", cap,
                         len + 1);
    memcpy(buf, text, len);
    buf[len] = '\0';
    return SBT_OK;
}
