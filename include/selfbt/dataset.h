/* dataset.h — Countdown datasets as the seed stores them: JSONL (or one JSON array) rows
 * {"nums": [...], "target": N, "search_path": "..."}; reading with per-row validation, the
 * seed's sub-sampling (dataset_percent / num_train), slices, building rows in memory, writing
 * JSONL, and the tokenization with the Self-Backtracking loss masks (SPEC §3).
 *
 * A dataset is immutable once loaded (sbt_dataset_append is for datasets made with
 * sbt_dataset_create) and may then be read from several threads at once. See docs/train.md. */
#ifndef SELFBT_DATASET_H
#define SELFBT_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "selfbt/countdown.h"
#include "selfbt/export.h"
#include "selfbt/status.h"
#include "selfbt/tokenizer.h"

SBT_BEGIN_DECLS

typedef struct sbt_dataset sbt_dataset;

typedef struct sbt_dataset_options {
    size_t size;                 /* = sizeof(sbt_dataset_options); set by _options_init        */
    int32_t require_search_path; /* 1: a row without "search_path" is bad (training data);
                                    0: it is optional (evaluation splits)                      */
    int32_t skip_bad_rows;       /* 0: the first bad row fails the load (SBT_E_PARSE, naming
                                    file:line and the column); 1: bad rows are skipped, each
                                    logged as a warning, and counted (sbt_dataset_skipped)     */
    int64_t max_rows;            /* 0: all; else stop after this many good rows                */
} sbt_dataset_options;

/* Defaults: require_search_path 1, skip_bad_rows 0, max_rows 0. */
SBT_API void sbt_dataset_options_init(sbt_dataset_options *opts);

/* Reads path: JSON Lines (one object a line; blank lines are ignored) or, when the first
 * non-blank character is '[', one JSON array of objects (the other layout `datasets` reads).
 * A row is good when it is an object with "nums" (an array of 1..SBT_COUNTDOWN_MAX_NUMS
 * non-negative integers that fit int32), "target" (a non-negative integer that fits int32) and
 * "search_path" (a string; optional where require_search_path is 0, but never of another type).
 * Other columns are ignored. Errors: SBT_E_NOT_FOUND / SBT_E_IO naming the file,
 * SBT_E_PARSE "file:line: ..." naming the column. opts may be NULL (the defaults). */
SBT_API sbt_status sbt_dataset_load(sbt_dataset **out, const char *path,
                                    const sbt_dataset_options *opts);

/* An empty in-memory dataset to fill with sbt_dataset_append (e.g. verified model outputs
 * for self-improvement). */
SBT_API sbt_status sbt_dataset_create(sbt_dataset **out);

/* Appends a row (search_path may be NULL: none). The strings are copied. */
SBT_API sbt_status sbt_dataset_append(sbt_dataset *ds, const sbt_countdown_problem *problem,
                                      const char *search_path);

/* NULL-safe. */
SBT_API void sbt_dataset_free(sbt_dataset *ds);

/* Rows (-1 for NULL). */
SBT_API int64_t sbt_dataset_count(const sbt_dataset *ds);
/* Bad rows skipped by the load (skip_bad_rows = 1); 0 otherwise. -1 for NULL. */
SBT_API int64_t sbt_dataset_skipped(const sbt_dataset *ds);
/* The file it was read from ("" for one made in memory); never NULL for a valid handle. */
SBT_API const char *sbt_dataset_path(const sbt_dataset *ds);

typedef struct sbt_dataset_row {
    size_t size;                   /* set by the caller to sizeof(sbt_dataset_row)              */
    sbt_countdown_problem problem; /* nums and target                                           */
    const char *search_path;       /* NULL when the row has none; owned by the dataset         */
    int64_t line;                  /* 1-based line of the row in its file (0: made in memory)   */
} sbt_dataset_row;

/* Row index (0-based). out->size must be set. */
SBT_API sbt_status sbt_dataset_get(const sbt_dataset *ds, int64_t index, sbt_dataset_row *out);

/* A new dataset holding rows [begin, begin + count) of src, in order (the rows are copied, so
 * src may be freed). The seed's "val" is the first half of its validation file (rows
 * [0, n - ceil(n/2))) and "val_new" the rest; sbt_dataset_seed_val_split gives both. */
SBT_API sbt_status sbt_dataset_slice(sbt_dataset **out, const sbt_dataset *src, int64_t begin,
                                     int64_t count);

/* The seed's split of its validation file (datasets' train_test_split(test_size=0.5,
 * shuffle=False)): val = the first n - ceil(n/2) rows, val_new = the rest. Either out may be
 * NULL. */
SBT_API sbt_status sbt_dataset_seed_val_split(sbt_dataset **out_val, sbt_dataset **out_val_new,
                                              const sbt_dataset *src);

/* How many training rows the seed keeps out of n (its train.py): with dataset_percent >= 0
 * given, max(1, round(clamp(percent, 0, 100) / 100 * n)) (round half to even, as Python);
 * else, with num_train > 0, min(num_train, n); else 2 % of n. Pass dataset_percent < 0 for "not
 * given" and num_train <= 0 for "not given". 0 when n is 0. */
SBT_API int64_t sbt_dataset_sample_count(int64_t n, double dataset_percent, int64_t num_train);

/* The seed's sub-sample: random.seed(seed); random.sample(range(n), k) exactly as CPython
 * does it (Mersenne Twister, the same pool or set algorithm), then the rows in that order.
 * With k >= n the result is all rows in file order (the seed selects nothing then).
 * k is usually sbt_dataset_sample_count(...). */
SBT_API sbt_status sbt_dataset_sample(sbt_dataset **out, const sbt_dataset *src, int64_t k,
                                      uint64_t seed);

/* Writes the dataset as JSONL rows {"nums":[..],"target":N,"search_path":".."} (rows without
 * search_path omit the column) through a temporary file and a rename. */
SBT_API sbt_status sbt_dataset_write_jsonl(const sbt_dataset *ds, const char *path);

/* ---- tokenization and loss masks (SPEC §3) ------------------------------------------- */

/* The label of a position that is not trained (the ignore index of PyTorch's cross-entropy). */
#define SBT_LABEL_IGNORE (-100)

typedef struct sbt_encode_options {
    size_t size;             /* = sizeof(sbt_encode_options); set by _options_init          */
    int32_t context_length;  /* 128: truncation, as the seed's tokenizer(max_length=...)     */
    int32_t mask_prompt;     /* 1: BOS and the prompt through "###Response:\n" not trained  */
    int32_t mask_error_step; /* 1: in rows with <backtrack>, the erroneous step and its
                                newline not trained (0: plain SFT on the whole response)    */
} sbt_encode_options;

SBT_API void sbt_encode_options_init(sbt_encode_options *opts);

/* Tokenizes one training example exactly as the seed's train.py:
 *   TEXT = prompt(problem) + search_path.strip() + EOS text, encoded with the tokenizer's
 *   special tokens (BOS), truncated to context_length;
 *   labels = ids, then SBT_LABEL_IGNORE over the first len(encode(TEXT[:end of
 *   "###Response:\n"])) positions, and, when TEXT contains "<backtrack>", over
 *   [len(encode(TEXT[:prev+1])), len(encode(TEXT[:last+1]))) where last is the last '\n' of
 *   TEXT and prev the one before it.
 * labels are not shifted (labels[i] is what position i holds; a causal LM learns labels[i]
 * from the tokens before i). Writes up to cap ids and labels and sets *n to the count; a
 * smaller cap gives SBT_E_INVALID_ARGUMENT with *n set. search_path NULL counts as "". The
 * tokenizer needs an EOS token (SBT_E_INVALID_ARGUMENT otherwise). opts may be NULL. */
SBT_API sbt_status sbt_dataset_encode_example(const sbt_tokenizer *tok,
                                              const sbt_countdown_problem *problem,
                                              const char *search_path,
                                              const sbt_encode_options *opts, sbt_token *ids,
                                              int32_t *labels, size_t cap, size_t *n);

SBT_END_DECLS

#endif /* SELFBT_DATASET_H */
