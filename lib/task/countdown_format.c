/* countdown_format.c — the text formats of the task: the seed's prompt (SPEC §1.2), a step
 * "a op b=r", and the D_op / D_back search_path strings. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "task/countdown_internal.h"

size_t sbt_countdown_prompt(const sbt_countdown_problem *p, char *buf, size_t cap)
{
    if (!p || p->n_nums < 1 || p->n_nums > SBT_COUNTDOWN_MAX_NUMS)
        return 0;
    /* Python's str(list): "[2, 39, 45, 10]". */
    char nums[SBT_COUNTDOWN_MAX_NUMS * 13 + 2];
    size_t n = 0;
    nums[n++] = '[';
    for (int i = 0; i < p->n_nums; i++)
        n += (size_t)snprintf(nums + n, sizeof nums - n, "%s%" PRId32, i ? ", " : "", p->nums[i]);
    nums[n++] = ']';
    nums[n] = '\0';
    int len = snprintf(buf, cap, "###Question: numbers %s->target %" PRId32 "\n###Response:\n", nums,
                       p->target);
    return len < 0 ? 0 : (size_t)len;
}

int sbti_cd_format_step(const sbti_cd_step *st, char *buf)
{
    return snprintf(buf, SBTI_CD_STEP_MAX, "%" PRId64 "%c%" PRId64 "=%" PRId64, st->a, st->op, st->b,
                    st->r);
}

size_t sbti_cd_format_lines(const sbti_cd_step *steps, int n, char *buf)
{
    size_t len = 0;
    for (int i = 0; i < n; i++) {
        len += (size_t)sbti_cd_format_step(&steps[i], buf + len);
        buf[len++] = '\n';
    }
    return len;
}

size_t sbti_cd_format_optimal(const sbti_cd_step *y, int n_steps, char *buf)
{
    size_t len = sbti_cd_format_lines(y, n_steps, buf);
    memcpy(buf + len, SBTI_CD_GOAL, sizeof SBTI_CD_GOAL);
    return len + sizeof SBTI_CD_GOAL - 1;
}

size_t sbti_cd_format_back(const sbti_cd_step *y, int k, const sbti_cd_step *err, char *buf)
{
    size_t len = sbti_cd_format_lines(y, k, buf);
    len += sbti_cd_format_lines(err, 1, buf + len);
    memcpy(buf + len, SBTI_CD_BACKTRACK, sizeof SBTI_CD_BACKTRACK);
    return len + sizeof SBTI_CD_BACKTRACK - 1;
}
