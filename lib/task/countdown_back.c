/* countdown_back.c — the erroneous step of a D_back row (SPEC §2.2, recipe of §2.2/§9.6):
 *   exploration:   where Stream-of-Search's heuristic dfs, on its first descent, first leaves
 *                  the optimal path — kept only if the state it leads to is unsolvable and
 *                  the step does not already make the target;
 *   computational: a step of the optimal path with a wrong non-negative result;
 *   rule:          a step with an operand that is not available (a consumed number when
 *                  there is one, as in the paper's Figure 2), arithmetically right. */
#include <stdlib.h>
#include <string.h>

#include "task/countdown_internal.h"

/* ---- exploration ----------------------------------------------------------------- */

/* What the dfs's heuristic needs: the target and, for the mult heuristic, its factors. */
typedef struct dfs_ctx {
    int64_t target;
    sbti_cd_heuristic h;
    int n_factors;
    int64_t factors[256]; /* no target <= 10^6 has more than 240 divisors */
} dfs_ctx;

static void dfs_ctx_init(dfs_ctx *c, int64_t target, sbti_cd_heuristic h)
{
    c->target = target;
    c->h = h;
    c->n_factors = 0;
    for (int64_t f = 2; f <= target && c->n_factors < 256; f++)
        if (target % f == 0)
            c->factors[c->n_factors++] = f;
}

/* SoS heuristics: sum = mean distance to the target, mult = total distance to the nearest
 * factor of the target in 2..target. The dfs only compares siblings (same list length) and
 * the threshold, so computing them in double exactly as Python does keeps its order and ties. */
static double heuristic(const sbti_cd_state *s, const dfs_ctx *c)
{
    int64_t sum = 0;
    for (int k = 0; k < s->n; k++) {
        if (c->h == SBTI_CD_SUM) {
            sum += llabs(s->v[k] - c->target);
            continue;
        }
        int64_t best = INT64_MAX;
        for (int f = 0; f < c->n_factors; f++)
            if (llabs(s->v[k] - c->factors[f]) < best)
                best = llabs(s->v[k] - c->factors[f]);
        sum += best;
    }
    return (c->h == SBTI_CD_SUM && s->n > 1) ? (double)sum / (double)s->n : (double)sum;
}

/* The child dfs explores first from s: the first generated among those with the lowest
 * heuristic at or under the threshold (its sort is stable). Returns 0 if none is kept. */
static int first_child(const sbti_cd_state *s, const dfs_ctx *c, sbti_cd_step *best,
                       sbti_cd_state *best_state)
{
    int found = 0;
    double best_h = 0;
    for (int i = 0; i < s->n; i++) {
        for (int j = i + 1; j < s->n; j++) {
            sbti_cd_step cand[4];
            int nc = sbti_cd_combine(s->v[i], s->v[j], cand);
            for (int k = 0; k < nc; k++) {
                sbti_cd_state next;
                sbti_cd_apply(s, i, j, cand[k].r, &next);
                double hv = heuristic(&next, c);
                if (hv <= (double)c->target && (!found || hv < best_h)) {
                    found = 1;
                    best_h = hv;
                    *best = cand[k];
                    best->i = (int8_t)i;
                    best->j = (int8_t)j;
                    *best_state = next;
                }
            }
        }
    }
    return found;
}

static int same_text(const sbti_cd_step *x, const sbti_cd_step *y)
{
    char a[SBTI_CD_STEP_MAX], b[SBTI_CD_STEP_MAX];
    sbti_cd_format_step(x, a);
    sbti_cd_format_step(y, b);
    return strcmp(a, b) == 0;
}

int sbti_cd_exploration_error(const sbt_countdown_problem *p, const sbti_cd_step *y, int n_steps,
                              sbti_cd_heuristic h, sbti_cd_step *err)
{
    dfs_ctx c;
    dfs_ctx_init(&c, p->target, h);
    sbti_cd_state s;
    sbti_cd_state_of(p, &s);
    for (int k = 0; k < n_steps; k++) {
        sbti_cd_step d;
        sbti_cd_state next;
        if (!first_child(&s, &c, &d, &next))
            return -1; /* the descent ends before leaving the optimal path */
        if (!same_text(&d, &y[k])) {
            sbti_cd_step scratch[SBT_COUNTDOWN_MAX_NUMS];
            if (sbti_cd_search(&next, p->target, scratch))
                return -1; /* not an error: the target is still reachable */
            if (next.n > 1 && d.r == p->target)
                return -1; /* a step that makes the target early: the seed's verifier, which
                              does not require every number, would call it a solution */
            *err = d;
            return k;
        }
        s = next;
    }
    return -1;
}

/* ---- computational and rule errors ------------------------------------------------ */

/* The list state after the first k optimal steps. */
static void state_after(const sbt_countdown_problem *p, const sbti_cd_step *y, int k,
                        sbti_cd_state *s)
{
    sbti_cd_state_of(p, s);
    for (int t = 0; t < k; t++) {
        sbti_cd_state next;
        sbti_cd_apply(s, y[t].i, y[t].j, y[t].r, &next);
        *s = next;
    }
}

static int contains(const int64_t *v, int n, int64_t x)
{
    for (int k = 0; k < n; k++)
        if (v[k] == x)
            return 1;
    return 0;
}

void sbti_cd_computational_error(const sbt_countdown_problem *p, const sbti_cd_step *y, int n_steps,
                                 sbti_rng *rng, int *k, sbti_cd_step *err)
{
    (void)p;
    *k = (int)sbti_rng_below(rng, (uint32_t)n_steps);
    *err = y[*k];
    int64_t r = err->r, wrong;
    if (sbti_rng_below(rng, 4) < 3) {
        /* Mostly a near miss, the slip a model makes: off by 1..10. */
        int64_t delta = 1 + sbti_rng_below(rng, 10);
        wrong = (sbti_rng_below(rng, 2) && r - delta >= 0) ? r - delta : r + delta;
    } else {
        /* Sometimes a wild value in 0..max(2r, 100). */
        int64_t hi = r * 2 > 100 ? r * 2 : 100;
        wrong = (int64_t)(sbti_rng_next(rng) % (uint64_t)(hi + 1));
        if (wrong == r)
            wrong = r + 1;
    }
    err->r = wrong;
    err->i = err->j = -1;
}

void sbti_cd_rule_error(const sbt_countdown_problem *p, const sbti_cd_step *y, int n_steps,
                        sbti_rng *rng, int *k, sbti_cd_step *err)
{
    *k = (int)sbti_rng_below(rng, (uint32_t)n_steps);
    sbti_cd_state s;
    state_after(p, y, *k, &s);

    /* Numbers that were on the table and are gone now: the problem's and the results of
     * the prefix steps. Re-using one of them is the paper's example ("39+6=45"). */
    int64_t gone[2 * SBT_COUNTDOWN_MAX_NUMS];
    int n_gone = 0;
    for (int t = 0; t < p->n_nums + *k; t++) {
        int64_t v = t < p->n_nums ? p->nums[t] : y[t - p->n_nums].r;
        if (!contains(s.v, s.n, v) && !contains(gone, n_gone, v))
            gone[n_gone++] = v;
    }
    int64_t x;
    if (n_gone > 0) {
        x = gone[sbti_rng_below(rng, (uint32_t)n_gone)];
    } else {
        /* Nothing consumed yet: a number that is not in the problem, in the problem's range. */
        int64_t hi = 99;
        for (int t = 0; t < s.n; t++)
            if (s.v[t] > hi)
                hi = s.v[t];
        do
            x = 1 + (int64_t)sbti_rng_below(rng, (uint32_t)hi);
        while (contains(s.v, s.n, x));
    }
    int64_t other = s.v[sbti_rng_below(rng, (uint32_t)s.n)];

    sbti_cd_step cand[4];
    int nc = sbti_cd_combine(x, other, cand);
    *err = cand[sbti_rng_below(rng, (uint32_t)nc)];
    if ((err->op == '+' || err->op == '*') && sbti_rng_below(rng, 2)) {
        int64_t t = err->a; /* either order for the commutative operators */
        err->a = err->b;
        err->b = t;
    }
    err->i = err->j = -1;
}
