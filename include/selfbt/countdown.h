/* countdown.h — the Countdown task: problems, the exhaustive solver, the prompt, the
 * D_op / D_back training data of Self-Backtracking, and the verifier.
 *
 * Semantics follow ../shared/SPEC.md §1, §2 and §5 (Stream-of-Search problem generator,
 * the seed's prompt string, the seed's evaluator). Everything here is deterministic for a
 * given seed and independent of the number of threads. */
#ifndef SELFBT_COUNTDOWN_H
#define SELFBT_COUNTDOWN_H

#include <stddef.h>
#include <stdint.h>

#include "selfbt/export.h"
#include "selfbt/progress.h"
#include "selfbt/status.h"

SBT_BEGIN_DECLS

/* Most numbers a problem may have (the paper uses 4). */
#define SBT_COUNTDOWN_MAX_NUMS 6

/* One problem: combine all n_nums numbers with + - * / into target.
 * This plain value type is frozen: it never grows. */
typedef struct sbt_countdown_problem {
    int32_t n_nums;
    int32_t nums[SBT_COUNTDOWN_MAX_NUMS];
    int32_t target;
} sbt_countdown_problem;

/* ------------------------------------------------------------------------------------ */
/* Prompt and solver                                                                    */

/* Writes the seed's prompt, e.g.
 *     "###Question: numbers [2, 39, 45, 10]->target 62\n###Response:\n"
 * into buf (NUL-terminated, truncated to cap-1 bytes). Returns the full length without
 * the NUL, as snprintf does; 0 if p is NULL or invalid. */
SBT_API size_t sbt_countdown_prompt(const sbt_countdown_problem *p, char *buf, size_t cap);

/* The Stream-of-Search exhaustive DFS (CountDown.search): pairs i<j in combination order,
 * for each the candidates a+b, a*b, then larger-minus-smaller and exact division; all
 * numbers must be used. Writes the first solution found as "45-39=6\n10*6=60\n2+60=62"
 * (no trailing newline) into buf and sets *found to 1, or sets *found to 0 when the
 * problem has no solution. SBT_E_INVALID_ARGUMENT if the problem or buffer is unusable
 * (the message says why); cap of 256 always suffices. */
SBT_API sbt_status sbt_countdown_solve(const sbt_countdown_problem *p, char *buf, size_t cap,
                                       int *found);

/* ------------------------------------------------------------------------------------ */
/* Data generation: D_op and D_back (SPEC §2)                                            */

typedef enum sbt_countdown_split {
    SBT_SPLIT_TRAIN = 0,   /* train targets; D_op and D_back rows                  */
    SBT_SPLIT_VAL = 1,     /* "Seen Targets": train targets, D_op rows only          */
    SBT_SPLIT_VAL_NEW = 2  /* "New Targets": the held-out targets, D_op rows only    */
} sbt_countdown_split;
#define SBT_COUNTDOWN_N_SPLITS 3

typedef enum sbt_countdown_row_kind {
    SBT_ROW_OPTIMAL = 0,           /* D_op: the solver's steps, then "Goal Reached!"          */
    SBT_ROW_BACK_EXPLORATION = 1,  /* D_back: a legal step that leaves an unsolvable state     */
    SBT_ROW_BACK_COMPUTATIONAL = 2,/* D_back: a step with a wrong result                       */
    SBT_ROW_BACK_RULE = 3          /* D_back: a step using a number that is not available      */
} sbt_countdown_row_kind;
#define SBT_COUNTDOWN_N_ROW_KINDS 4

typedef struct sbt_countdown_options {
    size_t size;               /* = sizeof(sbt_countdown_options); set by _options_init     */
    uint64_t seed;             /* 4 (Stream-of-Search's seed): picks held-out targets + data */
    int32_t n_nums;            /* 4 numbers per problem (2..SBT_COUNTDOWN_MAX_NUMS)          */
    int32_t min_target;        /* 10: the target pool is min_target..max_target              */
    int32_t max_target;        /* 100                                                        */
    int32_t max_num;           /* 99: numbers are uniform in 1..max_num, with replacement    */
    int32_t heldout_divisor;   /* 10: the first pool/heldout_divisor shuffled targets are new */
    int64_t train_problems;    /* 250000 problems, each one D_op row                          */
    double back_per_op;        /* 1.0: D_back rows per D_op row (D_op:D_back = 1:back_per_op) */
    int32_t error_weights[3];  /* {1,2,2}: exploration : computational : rule violation      */
    int64_t val_problems;      /* 5000 "Seen Targets" problems                                */
    int64_t val_new_problems;  /* 5000 "New Targets" problems                                 */
    int32_t n_threads;         /* 0: as many as OpenMP offers; the output never depends on it */
    sbt_progress_fn progress;  /* NULL, or called with the problems made so far              */
    void *progress_user_data;
} sbt_countdown_options;

/* Fills *opts with the paper's defaults (above) and sets opts->size. */
SBT_API void sbt_countdown_options_init(sbt_countdown_options *opts);

/* The held-out ("new") targets of Stream-of-Search for these options: the pool
 * min_target..max_target is shuffled exactly as Python's random.seed(seed);
 * random.shuffle(pool) does, and its first pool/heldout_divisor entries are held out.
 * Writes up to cap of them (in shuffled order) to out and their count to *n. */
SBT_API sbt_status sbt_countdown_heldout_targets(const sbt_countdown_options *opts, int32_t *out,
                                                 size_t cap, size_t *n);

/* A generated dataset (opaque). */
typedef struct sbt_countdown_data sbt_countdown_data;

/* Generates the three splits. On failure *out is NULL and nothing is leaked. */
SBT_API sbt_status sbt_countdown_generate(sbt_countdown_data **out,
                                          const sbt_countdown_options *opts);
/* NULL-safe. */
SBT_API void sbt_countdown_data_free(sbt_countdown_data *data);

/* Number of rows in a split (-1 if data is NULL or split is unknown). */
SBT_API int64_t sbt_countdown_data_count(const sbt_countdown_data *data, sbt_countdown_split split);

typedef struct sbt_countdown_row {
    size_t size;                 /* set by the caller to sizeof(sbt_countdown_row)            */
    sbt_countdown_problem problem;
    sbt_countdown_row_kind kind;
    const char *search_path;     /* owned by the data; valid until sbt_countdown_data_free    */
} sbt_countdown_row;

/* Row `index` of a split. out->size must be set. */
SBT_API sbt_status sbt_countdown_data_row(const sbt_countdown_data *data, sbt_countdown_split split,
                                          int64_t index, sbt_countdown_row *out);

/* Writes a split as JSONL, one {"nums":[..],"target":N,"search_path":"..."} a line. The file
 * is written under a temporary name in the same folder, flushed and renamed, so `path`
 * either keeps its old content or gets the whole new one. */
SBT_API sbt_status sbt_countdown_data_write_jsonl(const sbt_countdown_data *data,
                                                  sbt_countdown_split split, const char *path);

/* Writes all three splits into the existing folder dir as train.jsonl, val.jsonl and
 * val_new.jsonl. All three are written under temporary names first and renamed only once all
 * are complete, so a failure leaves the folder's previous files as they were. */
SBT_API sbt_status sbt_countdown_data_write(const sbt_countdown_data *data, const char *dir);

/* The file name sbt_countdown_data_write gives a split ("train.jsonl"), or NULL. */
SBT_API const char *sbt_countdown_split_file(sbt_countdown_split split);

typedef struct sbt_countdown_summary {
    size_t size;                         /* set by the caller to sizeof(sbt_countdown_summary) */
    int64_t rows[SBT_COUNTDOWN_N_SPLITS];
    int64_t train_rows_by_kind[SBT_COUNTDOWN_N_ROW_KINDS];
    int64_t train_duplicate_problems;    /* train problems (nums and target) seen before in train */
    int64_t val_duplicate_problems;      /* val problems seen before in val                      */
    int64_t val_new_duplicate_problems;  /* val_new problems seen before in val_new              */
    int64_t val_in_train;                /* val problems whose nums and target occur in train    */
    int64_t val_redraws;                 /* val draws rejected: their solution is a train one     */
    int64_t exploration_fallbacks;       /* problems where no exploration error existed          */
    int64_t unsolvable_draws;            /* random draws the solver rejected, all splits          */
    int32_t n_heldout;                   /* held-out targets (see sbt_countdown_heldout_targets) */
} sbt_countdown_summary;

/* Counts describing what was made. out->size must be set. */
SBT_API sbt_status sbt_countdown_data_summary(const sbt_countdown_data *data,
                                              sbt_countdown_summary *out);

/* ------------------------------------------------------------------------------------ */
/* Verifier (SPEC §5)                                                                    */

typedef enum sbt_countdown_verifier {
    /* The seed's validate_steps, bug for bug: floor division accepted, operands checked by
     * membership, every copy of a used value removed, any number of steps, text after a
     * step ignored, a response cut at <backtrack> still judged. All paper numbers use it. */
    SBT_VERIFY_REFERENCE = 0,
    /* A real solution: each number used exactly once, exact division, no negative
     * intermediate, exactly n_nums-1 well-formed steps, "Goal Reached!" as the marker, the
     * last result equal to the target. */
    SBT_VERIFY_STRICT = 1
} sbt_countdown_verifier;

typedef enum sbt_countdown_failure {
    SBT_FAIL_NONE = 0,
    SBT_FAIL_INVALID_FORMAT = 1,   /* "Invalid output format": no prompt numbers/target, or no
                                      "###Response:\n" followed by a marker                   */
    SBT_FAIL_INVALID_STEP = 2,     /* "Invalid step format: <step>"                          */
    SBT_FAIL_UNKNOWN_NUMBER = 3,   /* "Unknown number in step: <step>"                       */
    SBT_FAIL_INCORRECT_RESULT = 4, /* "Incorrect result in step: <step>"                     */
    SBT_FAIL_DIVISION_BY_ZERO = 5, /* "Division by zero in step: <step>"                     */
    SBT_FAIL_NOT_REACHED = 6,      /* "Not reached target: <result> not equal to <target>"   */
    SBT_FAIL_NUMBER_TOO_LARGE = 7, /* a value beyond 128-bit range (our limit; the seed's
                                      Python has none)                                        */
    SBT_FAIL_INEXACT_DIVISION = 8, /* strict: "Inexact division in step: <step>"             */
    SBT_FAIL_NEGATIVE_RESULT = 9,  /* strict: "Negative result in step: <step>"              */
    SBT_FAIL_STEP_COUNT = 10,      /* strict: "Wrong number of steps: <k> instead of <n>"    */
    SBT_FAIL_NO_GOAL = 11          /* strict: "No goal marker: the response backtracked"     */
} sbt_countdown_failure;
#define SBT_COUNTDOWN_N_FAILURES 12

typedef struct sbt_countdown_verdict {
    size_t size;                   /* set by the caller to sizeof(sbt_countdown_verdict)     */
    int32_t is_correct;            /* 1 if the output solves its problem in this mode        */
    int32_t is_backtrack;          /* 1 if the first marker after the response is <backtrack> */
    sbt_countdown_failure failure; /* SBT_FAIL_NONE when correct                              */
    int32_t failed_step;           /* 0-based index of the failing step, -1 if none          */
    int32_t n_steps;               /* steps parsed from the response                          */
    size_t step_offset, step_len;  /* the failing (for NOT_REACHED: the last) step in text    */
    size_t target_offset, target_len; /* the target's digits in text                          */
    size_t output_len;             /* the seed's model_output: text up to and including the
                                      first marker, or the whole text if there is none        */
    int32_t expected_steps;        /* steps a full solution has (n_nums - 1); 0 if the numbers
                                      could not be read                                        */
} sbt_countdown_verdict;

/* Judges a whole model output (prompt + response, as the seed's evaluator sees it: the
 * numbers and target are read from the prompt in the text). text need not be
 * NUL-terminated or valid UTF-8. A wrong answer is not an error: the function returns
 * SBT_OK and fills *out; it fails only on NULL arguments, a wrong out->size, an unknown
 * mode, or (SBT_E_OUT_OF_MEMORY) when its scratch table cannot be allocated. */
SBT_API sbt_status sbt_countdown_verify(const char *text, size_t len, sbt_countdown_verifier mode,
                                        sbt_countdown_verdict *out);

/* The verdict's failure reason in the seed's words (see sbt_countdown_failure), written to
 * buf like snprintf (returns the full length). text must be the one given to verify.
 * "" for a correct output. */
SBT_API size_t sbt_countdown_verdict_reason(const sbt_countdown_verdict *v, const char *text,
                                            char *buf, size_t cap);

/* A short constant name for a failure ("unknown_number"), for counts and JSON keys. */
SBT_API const char *sbt_countdown_failure_name(sbt_countdown_failure failure);

SBT_END_DECLS

#endif /* SELFBT_COUNTDOWN_H */
