/* trainer.h — supervised fine-tuning with the Self-Backtracking loss masks (SPEC §3), as the
 * seed's train.py runs it through Hugging Face's Trainer: AdamW with decay on matrices only,
 * warmup + cosine/linear schedule, gradient clipping, gradient accumulation, epochs with a
 * seeded shuffle, eval loss, a metrics JSONL, checkpoints (Hugging Face folders + trainer
 * state) with rotation, and exact resume.
 *
 * The trainer works on any backend: it sees the model only through sbt_model. One optimizer
 * step's loss is the mean cross-entropy over every labelled token of all its micro-batches.
 * Files it writes under output_dir (docs/train.md describes each):
 *   metrics.jsonl                 one JSON object per logged step and per evaluation
 *   checkpoint-<step>/            config.json, model.safetensors (F32), generation_config.json,
 *                                 tokenizer.json, tokenizer_config.json, optimizer.safetensors,
 *                                 trainer_state.json — written under a temporary name and
 *                                 renamed, so a crash while saving leaves the older ones whole
 *   final_model/                  the model (final_dtype) and tokenizer at the end, as the seed */
#ifndef SELFBT_TRAINER_H
#define SELFBT_TRAINER_H

#include <stddef.h>
#include <stdint.h>

#include "selfbt/dataset.h"
#include "selfbt/export.h"
#include "selfbt/model.h"
#include "selfbt/progress.h"
#include "selfbt/status.h"
#include "selfbt/tokenizer.h"

SBT_BEGIN_DECLS

typedef struct sbt_trainer sbt_trainer;

/* transformers' SchedulerType names. */
typedef enum sbt_lr_schedule {
    SBT_LR_LINEAR = 0,               /* "linear": warmup, then linear decay to 0              */
    SBT_LR_COSINE = 1,               /* "cosine": warmup, then half a cosine to 0             */
    SBT_LR_CONSTANT = 2,             /* "constant": no warmup, no decay                       */
    SBT_LR_CONSTANT_WITH_WARMUP = 3  /* "constant_with_warmup"                                */
} sbt_lr_schedule;

/* Parses a schedule name; SBT_E_INVALID_ARGUMENT naming the text and the accepted names. */
SBT_API sbt_status sbt_lr_schedule_parse(const char *text, sbt_lr_schedule *out);
/* "linear", "cosine", ...; NULL for an unknown value. */
SBT_API const char *sbt_lr_schedule_name(sbt_lr_schedule schedule);

/* The learning rate of optimizer step `step` (0-based) out of max_steps, as transformers'
 * LambdaLR schedules give it: the first step of a warmup runs at lr 0. */
SBT_API double sbt_lr_at(sbt_lr_schedule schedule, double lr, int64_t warmup_steps,
                         int64_t max_steps, int64_t step);

typedef enum sbt_trainer_event_kind {
    SBT_TRAIN_EVENT_STEP = 0, /* after every optimizer step                          */
    SBT_TRAIN_EVENT_LOG = 1,  /* every log_steps steps (a metrics.jsonl line)       */
    SBT_TRAIN_EVENT_EVAL = 2, /* after an evaluation on val                          */
    SBT_TRAIN_EVENT_SAVE = 3  /* after a checkpoint (path) or the final model       */
} sbt_trainer_event_kind;

typedef struct sbt_trainer_event {
    size_t size;                 /* sizeof(sbt_trainer_event) of the library            */
    sbt_trainer_event_kind kind;
    int64_t step;                /* optimizer steps done                                */
    int64_t max_steps;
    double epoch;                /* fractional epoch, as transformers logs it           */
    double loss;                 /* STEP: this step's; LOG: over the steps since the last log */
    double lr;                   /* the learning rate the last step used                */
    double grad_norm;            /* the last step's gradient norm before clipping       */
    double eval_loss;            /* EVAL                                                */
    int64_t tokens;              /* tokens (padding excluded) trained in this run       */
    double tokens_per_s;         /* over this run                                       */
    double elapsed_s;            /* wall time of this run                               */
    const char *path;            /* SAVE: the folder written                            */
} sbt_trainer_event;

/* Called from the training thread; return non-zero to stop (the trainer saves a checkpoint
 * of the steps done and returns SBT_E_CANCELLED). */
typedef int (*sbt_trainer_callback)(const sbt_trainer_event *event, void *user_data);

typedef struct sbt_trainer_options {
    size_t size;                 /* = sizeof(sbt_trainer_options); set by _options_init       */
    const char *output_dir;      /* required; made if missing                                 */
    uint64_t seed;               /* 42: the shuffle of each epoch                             */
    int32_t context_length;      /* 128: truncation of each example                           */
    int32_t batch_size;          /* 16 rows per micro-batch                                   */
    int32_t eval_batch_size;     /* 0: batch_size                                             */
    int32_t gradient_accumulation_steps; /* 1 micro-batch per optimizer step                  */
    double num_train_epochs;     /* 3 (may be fractional)                                     */
    int64_t max_steps;           /* 0: from num_train_epochs; > 0 wins, as in transformers    */
    double lr;                   /* 1e-5 peak learning rate                                   */
    sbt_lr_schedule lr_scheduler_type; /* SBT_LR_COSINE                                      */
    int64_t warmup_steps;        /* 1                                                         */
    double weight_decay;         /* 0.01, on matrices (embeddings and projections) only      */
    double adam_beta1;           /* 0.9                                                       */
    double adam_beta2;           /* 0.999                                                     */
    double adam_epsilon;         /* 1e-8                                                      */
    double max_grad_norm;        /* 1.0; <= 0: no clipping                                    */
    int64_t log_steps;           /* 10; 0: never                                              */
    int64_t eval_steps;          /* 5000; 0: only at the end (when val is given)             */
    int64_t eval_max_rows;       /* 0: every val row; else the first this many               */
    int64_t save_steps;          /* 5000; 0: only at the end                                  */
    int32_t save_total_limit;    /* 0: keep every checkpoint; else the newest this many       */
    sbt_dtype final_dtype;       /* SBT_DTYPE_AUTO: final_model in the model's own dtype      */
    int32_t mask_error_step;     /* 1: SPEC §3's D_back mask; 0: plain SFT on the response   */
    int32_t shuffle;             /* 1: a new seeded order every epoch; 0: file order          */
    sbt_trainer_callback callback; /* NULL, or called with each event                        */
    void *callback_user_data;
    sbt_progress_fn progress;    /* NULL, or called with ("train", step, max_steps) and
                                    ("eval", rows, rows in all); non-zero cancels           */
    void *progress_user_data;
    int32_t pad_label_eos;       /* 0: padding is never trained. 1: the seed's padding quirk
                                    (SPEC §3): each row's padding in its micro-batch is EOS
                                    and trained to predict EOS (the model learns EOS after
                                    EOS, which the reference score of SPEC §4.4 counts on) */
} sbt_trainer_options;

/* Fills *opts with the seed's sft.conf values (above) and sets opts->size. */
SBT_API void sbt_trainer_options_init(sbt_trainer_options *opts);

/* A trainer of model on train (and val, may be NULL: no eval loss), tokenized with tok.
 * model, tok and the datasets are borrowed: they must outlive the trainer. The tokenizer
 * must have an EOS token and fit the model's vocabulary (resize the model first:
 * sbt_model_resize_vocab). Options are checked here, each error naming the field. */
SBT_API sbt_status sbt_trainer_create(sbt_trainer **out, sbt_model *model,
                                      const sbt_tokenizer *tok, const sbt_dataset *train,
                                      const sbt_dataset *val, const sbt_trainer_options *opts);

/* NULL-safe. The model keeps its trained weights (its optimizer state is released). */
SBT_API void sbt_trainer_free(sbt_trainer *trainer);

/* Continues from a checkpoint folder written by a trainer: restores the optimizer moments,
 * the step, the data position (epoch and batch), the schedule and the logging accumulators.
 * The model must already hold that checkpoint's weights (sbt_model_load of the same folder).
 * The checkpoint must match the training setup (seed, batch size, accumulation, context
 * length, and the training rows themselves, by fingerprint): SBT_E_INVALID_ARGUMENT names
 * the field that differs. dir NULL: the newest checkpoint in output_dir (SBT_E_NOT_FOUND if
 * none). metrics.jsonl loses the lines past the checkpoint's step. */
SBT_API sbt_status sbt_trainer_resume(sbt_trainer *trainer, const char *dir);

/* Trains until max_steps, logging, evaluating and saving as the options say, then saves the
 * last checkpoint and output_dir/final_model. */
SBT_API sbt_status sbt_trainer_train(sbt_trainer *trainer);

/* The eval loss on val (mean over its labelled tokens; eval_max_rows applies). *n_tokens
 * (may be NULL) receives the labelled tokens counted. */
SBT_API sbt_status sbt_trainer_evaluate(sbt_trainer *trainer, double *loss, int64_t *n_tokens);

/* Writes output_dir/checkpoint-<step> now (and applies save_total_limit). */
SBT_API sbt_status sbt_trainer_save_checkpoint(sbt_trainer *trainer);

/* Optimizer steps done, and the steps the run will do in all. */
SBT_API int64_t sbt_trainer_step(const sbt_trainer *trainer);
SBT_API int64_t sbt_trainer_max_steps(const sbt_trainer *trainer);

/* The newest complete checkpoint folder (one holding trainer_state.json) under output_dir,
 * written into buf like snprintf (SBT_E_INVALID_ARGUMENT if it does not fit); SBT_E_NOT_FOUND
 * when there is none. */
SBT_API sbt_status sbt_trainer_latest_checkpoint(const char *output_dir, char *buf, size_t cap);

/* ---- models trained from scratch ----------------------------------------------------- */

/* A Llama configuration for a model trained from scratch with tok (usually the compact
 * Countdown tokenizer): the preset's sizes, vocab_size = the tokenizer's, BOS/EOS ids from
 * it, no pad_token_id (padding is masked; a padding row would pin EOS's embedding to zero at
 * init when pad = EOS), tied embeddings, RoPE theta 10000, 512 positions,
 * float32. Presets (parameters with the compact tokenizer):
 *   "tiny"  hidden 64,   2 layers,  4 heads (2 KV), MLP 192   (~0.2 M, for tests)
 *   "small" hidden 256,  4 layers,  4 heads,        MLP 768   (~3.5 M)
 *   "base"  hidden 512,  8 layers,  8 heads (4 KV), MLP 1536  (~23 M)
 *   "large" hidden 1024, 16 layers, 16 heads (8 KV), MLP 3072 (~190 M)
 * SBT_E_NOT_FOUND naming the preset and listing the names otherwise. */
SBT_API sbt_status sbt_trainer_preset_config(sbt_model_config *config, const char *name,
                                             const sbt_tokenizer *tok);

/* The name of preset i (0, 1, ...), NULL past the last. */
SBT_API const char *sbt_trainer_preset_name(int i);

SBT_END_DECLS

#endif /* SELFBT_TRAINER_H */
