/* improve.h — self-improvement (SPEC §6, the paper's Algorithm 2): slow thinking distilled into
 * fast thinking. Each round runs the Self-Backtracking search with the current model on a set
 * of problems, keeps the outputs the verifier accepts (cut right after "Goal Reached!"), and
 * fine-tunes the model on them with only the prompt masked; the new model is saved as
 * output_dir/model_iteration_<t> and evaluated greedily ("fast") and with the search ("slow")
 * on seen (val) and new (val_new) targets.
 *
 * Two protocols, named in every report entry:
 *   transductive  the seed's train_self_improvement.py: the self-training problems are the
 *                 evaluation problems themselves (no reference answers are used, only the
 *                 verifier), i.e. test-time training;
 *   heldout       self-training on fresh problems from the training distribution (train
 *                 targets, drawn as Stream-of-Search draws them, none equal to an evaluation
 *                 problem), evaluation on the untouched val / val_new problems.
 *
 * Files under output_dir (docs/improve.md describes each):
 *   report.json                 the run's settings and one entry per finished iteration
 *                               (0 = the starting model), rewritten atomically after each
 *   model_iteration_<t>/        Hugging Face folder (config, weights, tokenizer) of M_t
 *   kept_iteration_<t>.jsonl    the verified outputs M_{t-1} found, on which M_t was trained
 *   train_iteration_<t>/        the trainer's metrics.jsonl for that SFT
 *   heldout_problems.jsonl      heldout: the self-training problems drawn
 * A run whose output_dir already holds a report of the same settings resumes after its last
 * finished iteration (a larger `times` extends it); with train->save_steps > 0 an interrupted
 * SFT also resumes from its newest checkpoint in train_iteration_<t>/ (exactly: the same
 * weights as an uninterrupted run, as sbt_trainer_resume). */
#ifndef SELFBT_IMPROVE_H
#define SELFBT_IMPROVE_H

#include <stddef.h>
#include <stdint.h>

#include "selfbt/backend.h"
#include "selfbt/countdown.h"
#include "selfbt/dataset.h"
#include "selfbt/decoder.h"
#include "selfbt/export.h"
#include "selfbt/model.h"
#include "selfbt/progress.h"
#include "selfbt/status.h"
#include "selfbt/trainer.h"

SBT_BEGIN_DECLS

typedef enum sbt_improve_protocol {
    SBT_IMPROVE_TRANSDUCTIVE = 0, /* the seed's: self-train on the evaluation problems     */
    SBT_IMPROVE_HELDOUT = 1       /* self-train on fresh train-distribution problems        */
} sbt_improve_protocol;

/* transductive: which evaluation splits are the self-training problems (bit set). */
#define SBT_IMPROVE_SPLIT_SEEN 1 /* val: seen targets (the seed's default data) */
#define SBT_IMPROVE_SPLIT_NEW 2  /* val_new: new targets                         */

/* What one finished iteration reports (also what report.json holds). Accuracies are
 * fractions in [0, 1] in the options' verifier mode; NaN where not measured. */
typedef struct sbt_improve_iteration {
    size_t size;               /* sizeof(sbt_improve_iteration) of the library              */
    int32_t iteration;         /* t: 0 = the starting model, else model_iteration_<t>       */
    int32_t resumed;           /* 1: read back from an earlier run's report                  */
    const char *model_dir;     /* the model evaluated                                       */
    /* how M_t was made (t >= 1) */
    int64_t train_examples;    /* verified outputs of M_{t-1} trained on                     */
    int64_t train_steps;
    double train_loss_first;   /* the first and the last optimizer step's loss; NaN for t = 0 */
    double train_loss_last;    /* or when nothing was kept                                   */
    /* evaluation of M_t (problems: 0 where the split was not given) */
    int64_t seen_problems, new_problems;
    double fast_seen, fast_new; /* greedy                                                   */
    double slow_seen, slow_new; /* the search (the options' search settings)                 */
    /* M_t's search on the self-training problems, which makes the next round's data
     * (t < times; else 0 / NaN) */
    int64_t search_problems;
    double search_accuracy;
    int64_t examples_kept;
    /* wall seconds of this iteration's phases */
    double seconds_train, seconds_eval, seconds_search, seconds_total;
} sbt_improve_iteration;

/* Called after each finished iteration (and for each one a resumed run finds already done,
 * with resumed = 1). Return non-zero to stop (sbt_improve_run then returns SBT_E_CANCELLED;
 * the report keeps every finished iteration). */
typedef int (*sbt_improve_callback)(const sbt_improve_iteration *it, void *user_data);

typedef struct sbt_improve_options {
    size_t size;                  /* = sizeof(sbt_improve_options); set by _options_init      */
    const char *output_dir;       /* required; made if missing                                 */
    const char *start_model;      /* required: M_0, a checkpoint folder with tokenizer.json     */
    const char *tokenizer;        /* NULL: start_model's                                       */
    sbt_backend *backend;         /* required: where the models run (borrowed)                 */
    sbt_improve_protocol protocol;/* SBT_IMPROVE_TRANSDUCTIVE                                  */
    int32_t times;                /* 3 rounds: models 1..times (the seed's --times)            */
    /* Evaluation problems (borrowed; nums and target are used, search_path never). Either
     * may be NULL (that split is not evaluated); transductive needs the splits it trains on. */
    const sbt_dataset *seen;      /* val                                                       */
    const sbt_dataset *unseen;    /* val_new                                                   */
    int32_t transductive_splits;  /* SBT_IMPROVE_SPLIT_SEEN (the seed's --data val)             */
    /* heldout: the self-training problems. NULL: heldout_problems fresh ones are drawn (seed
     * `seed`) with Stream-of-Search's procedure from the train targets of
     * sbt_countdown_options_init's defaults, skipping any evaluation problem. */
    const sbt_dataset *problems;
    int64_t heldout_problems;     /* 1000                                                      */
    sbt_countdown_verifier verifier; /* SBT_VERIFY_REFERENCE: the filter and the accuracies    */
    /* The search (slow thinking, and the source of the data). NULL: sbt_improve_search_defaults.
     * strategy must be SBT_DECODE_SELF_BACKTRACK; its hooks, progress and seed are ignored
     * (the run's seed is used). */
    const sbt_decoder_options *search;
    /* The SFT of each round. NULL: sbt_improve_train_defaults. output_dir, callback and
     * progress are ignored; mask_error_step and eval_steps are always 0 (kept outputs have no
     * <backtrack>). save_steps (0 by default) > 0 writes a checkpoint that often, the newest
     * only unless save_total_limit says otherwise, for a restarted run to resume the SFT. */
    const sbt_trainer_options *train;
    sbt_dtype save_dtype;         /* SBT_DTYPE_F32: the weights of model_iteration_<t>
                                     (AUTO: the start model's dtype; bf16 rounding can undo
                                     updates as small as lr 1e-5 gives)                      */
    uint64_t seed;                /* 1234: the seed's --seed (decoding and the SFT shuffle)    */
    int32_t eval_fast;            /* 1: greedy accuracy of every model                         */
    int32_t eval_slow;            /* 1: search accuracy of every model                         */
    int32_t decode_batch;         /* 16: prompts decoded together                              */
    sbt_progress_fn progress;     /* NULL, or called with ("search"|"greedy"|"train", done,
                                     total); non-zero cancels (SBT_E_CANCELLED)                */
    void *progress_user_data;
    sbt_improve_callback callback;/* NULL, or called after each iteration                     */
    void *callback_user_data;
} sbt_improve_options;

/* The seed's settings (above) and opts->size. */
SBT_API void sbt_improve_options_init(sbt_improve_options *opts);

/* The seed's search for self-improvement: sbt_decoder_options_init, then the
 * self-backtracking strategy with n = 16, b = 1, temperature 0.7. */
SBT_API void sbt_improve_search_defaults(sbt_decoder_options *opts);

/* The seed's SFT for self-improvement (its TrainingArguments): sbt_trainer_options_init, then
 * lr 1e-5, 3 epochs, batch 16, warmup 0, linear decay, weight decay 0, context 128,
 * mask_error_step 0 (only the prompt masked), log every 5 steps, no eval, seed 1234. */
SBT_API void sbt_improve_train_defaults(sbt_trainer_options *opts);

/* Runs the loop: for t = 0..times, evaluate M_t, and while t < times, search with it, keep the
 * verified outputs, train M_{t+1} from M_t on them and save it. Resumes a matching report in
 * output_dir (a report of other settings is SBT_E_INVALID_ARGUMENT naming the setting).
 * The options are checked first, each error naming the field. */
SBT_API sbt_status sbt_improve_run(const sbt_improve_options *opts);

/* "transductive" / "heldout", and back (SBT_E_INVALID_ARGUMENT naming the text). */
SBT_API const char *sbt_improve_protocol_name(sbt_improve_protocol protocol);
SBT_API sbt_status sbt_improve_protocol_parse(const char *text, sbt_improve_protocol *out);

/* Judges one model output (prompt + response, as a decode result's text) for self-training,
 * as the seed does: it is kept when the verifier in `mode` accepts it and its response reaches
 * "Goal Reached!" before any <backtrack>. Then *kept is 1 and buf receives the response cut
 * right after "Goal Reached!" (from after "###Response:\n"; NUL-terminated; it never holds
 * <backtrack>); SBT_E_INVALID_ARGUMENT when it does not fit in cap. Otherwise *kept is 0. */
SBT_API sbt_status sbt_improve_keep(int *kept, char *buf, size_t cap, const char *text,
                                    size_t len, sbt_countdown_verifier mode);

SBT_END_DECLS

#endif /* SELFBT_IMPROVE_H */
