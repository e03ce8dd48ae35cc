/* train_internal.h — internal: what the files of lib/train share. */
#ifndef SBTI_TRAIN_INTERNAL_H
#define SBTI_TRAIN_INTERNAL_H

#include <stddef.h>

#include "selfbt/countdown.h"
#include "selfbt/status.h"
#include "selfbt/tokenizer.h"

/* Python's str.strip(): s[*begin, *end) without the leading and trailing whitespace (every
 * character str.isspace accepts, ASCII and Unicode, in UTF-8). */
void sbti_py_strip(const char *s, size_t len, size_t *begin, size_t *end);

/* The seed's training text: prompt(p) + sp.strip() + the EOS token's text (malloc'ed,
 * NUL-terminated, into *out), and the offset just past "###Response:\n". */
sbt_status sbti_build_text(const sbt_tokenizer *tok, const sbt_countdown_problem *p,
                           const char *sp, char **out, size_t *out_len, size_t *response_start);

/* ---- the trainer (trainer.c, checkpoint.c) ------------------------------------------ */

#include <stdint.h>
#include <stdio.h>

#include "selfbt/trainer.h"

struct sbt_trainer {
    sbt_model *m;
    const sbt_tokenizer *tok;
    const sbt_dataset *train, *val;
    sbt_trainer_options o;
    char *output_dir;
    sbt_encode_options enc;
    int32_t pad;             /* the id padding positions hold (never attended, never trained) */
    sbt_dtype model_dtype;   /* the dtype final_model is written in when final_dtype is AUTO */
    int64_t n_rows, n_batches, steps_per_epoch, max_steps;
    uint64_t fingerprint;    /* of the training rows */

    /* state saved in checkpoints */
    int64_t step;            /* optimizer steps done                              */
    int64_t epoch, batch;    /* the next micro-batch: index batch of epoch's order */
    double log_loss_sum;     /* since the last log                                */
    int64_t log_labelled, log_steps_done;
    double last_lr, last_grad_norm, last_loss;
    int64_t tokens_total;    /* tokens (padding excluded) trained since step 0 */
    int resumed;

    /* this run */
    int64_t tokens_run;
    double t0;
    int64_t last_eval_step, last_save_step;
    int64_t *perm;           /* the row order of epoch perm_epoch */
    int64_t perm_epoch;
    FILE *metrics;

    /* scratch: one optimizer step's micro-batches, each batch_size x context_length */
    int32_t *ids, *targets, *lens;
    int32_t *row_ids, *row_labels; /* one example */
};

/* dir/name, malloc'ed (NULL when out of memory). */
char *sbti_path_join(const char *dir, const char *name);
/* mkdir -p. */
sbt_status sbti_mkdirs(const char *dir);
/* Calls the callback (and progress) with an event; non-zero = cancel. */
int sbti_train_emit(sbt_trainer *t, sbt_trainer_event_kind kind, double loss, double eval_loss,
                    const char *path);

#endif /* SBTI_TRAIN_INTERNAL_H */
