/* decoder.h — decoding with a language model: greedy, beam search, beam-sample (Hugging Face
 * semantics), independent sampling, and the Self-Backtracking search (SPEC §4), many prompts
 * decoded together.
 *
 * A sbt_decoder is made once for a model (or for a caller's own next-token function) and a
 * tokenizer, then runs any number of batches of prompts. Inside, prompts are batched: each
 * prompt is prefilled once and its beams share it through a paged KV cache; a rollback is a
 * truncation of the cache, a beam reorder a fork by index; finished work leaves the batch and
 * queued prompts fill it. Results depend only on the options and the seed (each prompt draws
 * from its own random stream), not on the batch size. See docs/decode.md.
 *
 * The search is task-agnostic: sbt_search_hooks give the step delimiter, the backtrack token,
 * the goal test, the scorer and a verifier, so a C program can drive the backtracking search
 * for its own task (examples/custom_search.c). The defaults are Countdown's. */
#ifndef SELFBT_DECODER_H
#define SELFBT_DECODER_H

#include <stddef.h>
#include <stdint.h>

#include "selfbt/export.h"
#include "selfbt/model.h"
#include "selfbt/progress.h"
#include "selfbt/status.h"
#include "selfbt/tokenizer.h"

SBT_BEGIN_DECLS

typedef struct sbt_decoder sbt_decoder;
typedef struct sbt_decode_results sbt_decode_results;

typedef enum sbt_decode_strategy {
    SBT_DECODE_GREEDY = 0,         /* argmax until EOS                                          */
    SBT_DECODE_BEAM = 1,           /* beam search (HF num_beams=n, do_sample=False): best beam    */
    SBT_DECODE_BEAM_SAMPLE = 2,    /* HF beam-sample (SPEC §4.3): best beam                      */
    SBT_DECODE_SAMPLE = 3,         /* n independent samples (temperature, top-k, top-p): the one
                                      with the highest mean log-probability                      */
    SBT_DECODE_SELF_BACKTRACK = 4  /* the Self-Backtracking search (SPEC §4.1-4.4)              */
} sbt_decode_strategy;

/* How the search scores and aggregates its candidates (SPEC §4.4). */
typedef enum sbt_search_scoring {
    /* The seed's code, bug for bug: the T=1 mean log-probability of every token after the
     * original prompt, the EOS padding of its expansion included (denominator: padded length
     * minus prompt length); duplicate answers have their scores summed. */
    SBT_SCORE_REFERENCE = 0,
    /* Mean log-probability of the response tokens through the first EOS, no padding;
     * duplicates de-duplicated, keeping the best. */
    SBT_SCORE_CLEAN = 1
} sbt_search_scoring;

/* How many rolled-back states are re-expanded per round. */
typedef enum sbt_backtrack_width {
    SBT_WIDTH_SQRT_B = 0, /* floor(sqrt(b)): the seed's code (1 for b = 1..3)  */
    SBT_WIDTH_SQRT_N = 1, /* floor(sqrt(n)): the paper's text                  */
    SBT_WIDTH_FIXED = 2   /* the options' k                                   */
} sbt_backtrack_width;

/* What a scorer hook sees of one candidate sequence. */
typedef struct sbt_search_beam {
    size_t size;              /* sizeof(sbt_search_beam) as the library was built            */
    const sbt_token *tokens;  /* the whole sequence: BOS, prompt, response (no EOS)           */
    int32_t n_tokens;
    int32_t prompt_tokens;    /* tokens of the original prompt (BOS included)                 */
    const float *logprobs;    /* logprobs[t]: log p(tokens[t] | tokens[<t]) at temperature 1,
                                 for t >= prompt_tokens (earlier entries are 0)              */
    int32_t ended_with_eos;   /* 1 if the model ended it with EOS                              */
    float eos_logprob;        /* log p(EOS | tokens) when ended_with_eos                       */
    const char *response;     /* the response text, special tokens kept                       */
    size_t response_len;
    double builtin_score;     /* the score the options' scoring mode gives                   */
} sbt_search_beam;

/* The task-specific parts of the search. Every pointer may be NULL (the Countdown default). */
typedef struct sbt_search_hooks {
    size_t size;                 /* = sizeof(sbt_search_hooks); set by _hooks_init          */
    const char *step_delimiter;  /* "\n": a step ends with it; a rollback drops the last step */
    const char *backtrack_token; /* "<backtrack>": one token of the tokenizer               */
    const char *goal_marker;     /* "Goal Reached!": a response containing it is a candidate,
                                    and its answer (the aggregation key) ends there          */
    /* Replaces the goal test: non-zero if this response (special tokens kept) is a
     * candidate. */
    int (*is_goal)(void *user_data, const char *response, size_t len);
    /* Replaces the score of a candidate (higher is better); aggregation still follows the
     * scoring mode (sum or max over equal answers). */
    double (*score)(void *user_data, const sbt_search_beam *beam);
    /* Judges an output (prompt index, whole text with special tokens): 1 correct, 0 not.
     * Stored in each result's `verdict`; with verify_candidates, candidates it rejects are
     * dropped before selection (a verifier-guided search). */
    int (*verify)(void *user_data, int64_t prompt_index, const char *text, size_t len);
    void *user_data;
} sbt_search_hooks;

/* Fills *hooks with Countdown's markers ("\n", "<backtrack>", "Goal Reached!"), no
 * callbacks, and sets hooks->size. */
SBT_API void sbt_search_hooks_init(sbt_search_hooks *hooks);

typedef struct sbt_decoder_options {
    size_t size;                  /* = sizeof(sbt_decoder_options); set by _options_init      */
    sbt_decode_strategy strategy; /* SBT_DECODE_SELF_BACKTRACK                                 */
    int32_t n;                    /* 32: beams per expansion (beam, beam-sample, search) or
                                     samples (sample)                                          */
    int32_t b;                    /* 1: backtracking budget (rounds of re-expansion)          */
    sbt_backtrack_width width;    /* SBT_WIDTH_SQRT_B                                          */
    int32_t k;                    /* 1: rolled-back states per round with SBT_WIDTH_FIXED      */
    sbt_decode_strategy expansion;/* SBT_DECODE_BEAM_SAMPLE (reference) or SBT_DECODE_SAMPLE:
                                     how the search expands a state                           */
    sbt_search_scoring scoring;   /* SBT_SCORE_REFERENCE                                       */
    double temperature;           /* 0.7 (sampling strategies)                                 */
    double top_p;                 /* 0.9: inherited from Llama-3.2's generation_config         */
    int32_t top_k;                /* 50: transformers' GenerationConfig default; 0 = off       */
    int32_t max_length;           /* 0: the seed's budget: 50 tokens in all (prompt included)
                                     for every strategy but greedy; >0: that total             */
    int32_t max_new_tokens;       /* 0: the seed's budget: 50 for greedy, none for the rest;
                                     >0: at most that many new tokens per expansion           */
    uint64_t seed;                /* 4: the seed's torch.manual_seed                           */
    int32_t batch;                /* 16: prompts decoded together                              */
    int32_t page_size;            /* 1: KV-cache page (positions); see docs/decode.md           */
    int64_t kv_pages;             /* 0: enough pages that the cache never runs out            */
    int32_t verify_candidates;    /* 0; 1: drop candidates the verify hook rejects            */
    const sbt_search_hooks *hooks;/* NULL: Countdown's (copied at create)                      */
    sbt_progress_fn progress;     /* NULL, or called with prompts finished / total ("decode") */
    void *progress_user_data;
} sbt_decoder_options;

/* Fills *opts with the seed's defaults (above) and sets opts->size. */
SBT_API void sbt_decoder_options_init(sbt_decoder_options *opts);

/* A decoder over model (used by one thread at a time; it must outlive the decoder) and tok
 * (which must know the backtrack token for the search, and EOS). opts may be NULL. */
SBT_API sbt_status sbt_decoder_create(sbt_decoder **out, sbt_model *model,
                                      const sbt_tokenizer *tok, const sbt_decoder_options *opts);

/* A caller's own language model: next-token logits for n sequences given in full
 * (seqs[i][0..lens[i])), written to logits[i * n_vocab ...]. -INFINITY is allowed. Return 0,
 * or non-zero for a failure (the run then fails with SBT_E_BACKEND). */
typedef int (*sbt_next_logits_fn)(void *user_data, const sbt_token *const *seqs,
                                  const int32_t *lens, int32_t n, float *logits);

typedef struct sbt_lm_callbacks {
    size_t size;                  /* = sizeof(sbt_lm_callbacks)                                */
    int32_t n_vocab;              /* logits per sequence                                       */
    sbt_next_logits_fn next_logits;
    void *user_data;
} sbt_lm_callbacks;

/* The same over a caller's next-token function instead of a sbt_model (for tests, for toy
 * tasks, or for a model libselfbt does not run). */
SBT_API sbt_status sbt_decoder_create_custom(sbt_decoder **out, const sbt_lm_callbacks *lm,
                                             const sbt_tokenizer *tok,
                                             const sbt_decoder_options *opts);

/* NULL-safe. */
SBT_API void sbt_decoder_free(sbt_decoder *dec);

/* Decodes n prompts (text; BOS is added as the tokenizer's template does). On success *out
 * holds one result per prompt, in order. SBT_E_CANCELLED when the progress callback asks to
 * stop. */
SBT_API sbt_status sbt_decoder_run(sbt_decoder *dec, const char *const *prompts, int64_t n,
                                   sbt_decode_results **out);

/* One prompt's output. Pointers are owned by the results. */
typedef struct sbt_decode_result {
    size_t size;               /* set by the caller to sizeof(sbt_decode_result)              */
    const char *text;          /* the output decoded with special tokens (BOS, prompt,
                                  response, EOS if the model ended it), NUL-terminated       */
    size_t text_len;
    const sbt_token *tokens;   /* the same as ids (BOS, prompt, response, no EOS)            */
    int32_t n_tokens;
    int32_t prompt_tokens;
    int32_t ended_with_eos;
    double score;              /* the selection score (search: the aggregated score; others:
                                  the beam score or mean log-probability); NaN in fallback   */
    int32_t found;             /* search: 1 if a candidate was selected, 0 for the fallback
                                  (the best beam of the last expansion); others: 1           */
    int32_t n_candidates;      /* search: candidates seen (with repeats)                      */
    int32_t n_unique;          /* search: distinct answers among them                        */
    int32_t n_expansions;      /* generate calls (1 for the non-search strategies)            */
    int32_t n_backtracks;      /* rolled-back states expanded                                */
    int64_t generated_tokens;  /* tokens sampled for this prompt, every beam and expansion   */
    int32_t verdict;           /* the verify hook's answer, -1 without one                   */
} sbt_decode_result;

SBT_API int64_t sbt_decode_results_count(const sbt_decode_results *res);

/* Result i (0-based). out->size must be set. */
SBT_API sbt_status sbt_decode_results_get(const sbt_decode_results *res, int64_t i,
                                          sbt_decode_result *out);

typedef struct sbt_decode_stats {
    size_t size;              /* set by the caller to sizeof(sbt_decode_stats)                */
    int64_t prompts;
    int64_t generated_tokens; /* tokens sampled (all beams, all expansions)                  */
    int64_t forward_tokens;   /* tokens run through the model (prefill, decode, padding)      */
    int64_t forward_calls;    /* batched model calls                                          */
    int64_t expansions;
    double seconds;           /* wall time of the run                                        */
} sbt_decode_stats;

SBT_API sbt_status sbt_decode_results_stats(const sbt_decode_results *res, sbt_decode_stats *out);

/* NULL-safe. */
SBT_API void sbt_decode_results_free(sbt_decode_results *res);

/* "greedy", "beam", "beam_sample", "sample", "self_backtrack" (also "sbt"), and back. */
SBT_API const char *sbt_decode_strategy_name(sbt_decode_strategy s);
SBT_API sbt_status sbt_decode_strategy_parse(const char *text, sbt_decode_strategy *out);

SBT_END_DECLS

#endif /* SELFBT_DECODER_H */
