/* countdown_internal.h — internal pieces of the Countdown task shared by the solver, the
 * D_back builder and the dataset generator.
 *
 * A state is a list of numbers in Stream-of-Search order: combining positions i<j removes
 * both and appends the result at the end. Values are int64: with at most 6 numbers of at
 * most 1000 (the generator's limits) no product overflows. */
#ifndef SBTI_TASK_COUNTDOWN_INTERNAL_H
#define SBTI_TASK_COUNTDOWN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "core/rng.h"
#include "selfbt/countdown.h"

/* One step "a op b=r"; op is one of '+', '-', '*', '/'. i<j are the positions in the state
 * list it combined (set by the solver and the dfs; -1 for steps made up by error builders). */
typedef struct sbti_cd_step {
    int64_t a, b, r;
    char op;
    int8_t i, j;
} sbti_cd_step;

/* A list state of up to SBT_COUNTDOWN_MAX_NUMS numbers. */
typedef struct sbti_cd_state {
    int n;
    int64_t v[SBT_COUNTDOWN_MAX_NUMS];
} sbti_cd_state;

/* Largest number a problem may hold: with at most SBT_COUNTDOWN_MAX_NUMS of them, every
 * value an expression reaches stays below prod(x+1) <= 1001^6 < 2^63. */
#define SBTI_CD_MAX_VALUE 1000

/* Longest text a formatted step can take (two 19-digit operands, a 19-digit result). */
#define SBTI_CD_STEP_MAX 64

/* SoS combine_nums(a, b): a+b, a*b, then larger-minus-smaller and, when exact, the
 * division; returns how many (3 or 4) it wrote to out. */
int sbti_cd_combine(int64_t a, int64_t b, sbti_cd_step out[4]);

/* The state after combining positions i<j of s into step st's result. */
void sbti_cd_apply(const sbti_cd_state *s, int i, int j, int64_t result, sbti_cd_state *out);

/* CountDown.search: the first solution in SoS order, written to steps[0..s->n-2].
 * Returns 1 if found, 0 if the state cannot reach target. */
int sbti_cd_search(const sbti_cd_state *s, int64_t target, sbti_cd_step *steps);

/* "a op b=r" into buf (NUL-terminated); returns its length. buf holds SBTI_CD_STEP_MAX. */
int sbti_cd_format_step(const sbti_cd_step *st, char *buf);

/* The state of a problem. */
void sbti_cd_state_of(const sbt_countdown_problem *p, sbti_cd_state *out);

/* Heuristics of SoS's dfs: the sum heuristic (mean distance to the target) and the mult
 * heuristic (distance to the nearest factor of the target). */
typedef enum sbti_cd_heuristic { SBTI_CD_SUM = 0, SBTI_CD_MULT = 1 } sbti_cd_heuristic;

/* An exploration error: the first step where SoS's dfs(heuristic, threshold=target), on its
 * first descent, leaves the optimal path `y` (n_steps steps), such that the state it leads to
 * cannot reach the target. Returns the step index k (y[0..k-1] is the shared prefix) and
 * writes the divergent step to *err, or returns -1 when the dfs never diverges, or its first
 * divergence still leaves a solvable state or makes the target before the last step (which
 * the seed's lenient verifier would accept as a solution). */
int sbti_cd_exploration_error(const sbt_countdown_problem *p, const sbti_cd_step *y, int n_steps,
                              sbti_cd_heuristic h, sbti_cd_step *err);

/* Builds the erroneous step of a D_back row of `kind` after the prefix y[0..k-1]:
 * computational (wrong result) or rule violation (an operand that is not available), with
 * k and the values drawn from rng. Writes k and the step. */
void sbti_cd_computational_error(const sbt_countdown_problem *p, const sbti_cd_step *y, int n_steps,
                                 sbti_rng *rng, int *k, sbti_cd_step *err);
void sbti_cd_rule_error(const sbt_countdown_problem *p, const sbti_cd_step *y, int n_steps,
                        sbti_rng *rng, int *k, sbti_cd_step *err);

/* steps[0..n-1], each followed by '\n'; returns the length written. */
size_t sbti_cd_format_lines(const sbti_cd_step *steps, int n, char *buf);

/* search_path texts. D_op: the steps, one a line, then "Goal Reached!". D_back: y[0..k-1]
 * one a line, the erroneous step, then "<backtrack>" on its own line. Both return the length
 * written (buf must hold n_steps * (SBTI_CD_STEP_MAX + 1) + 16 bytes). */
size_t sbti_cd_format_optimal(const sbti_cd_step *y, int n_steps, char *buf);
size_t sbti_cd_format_back(const sbti_cd_step *y, int k, const sbti_cd_step *err, char *buf);

#define SBTI_CD_GOAL "Goal Reached!"
#define SBTI_CD_BACKTRACK "<backtrack>"

#endif /* SBTI_TASK_COUNTDOWN_INTERNAL_H */
