/* engine.h — internal: the batched decoding engine.
 *
 * A job is one generate call from a start state: HF beam search (sampled or not) with n beams,
 * or n independent rows (greedy, sampling). The engine owns sequence slots (a KV sequence in the
 * logits source plus the host copy of its tokens and their temperature-1 log-probabilities)
 * and advances every active job by one token per step, all of them in one forward call: the
 * rows' pending tokens go in, a few next-token candidates per live row come out (select of
 * backend.h: greedy and beam search take the best, sampling takes the best Gumbel keys, whose
 * noise seeds each job draws from its own random stream). Beams are reordered by
 * forking slots by index; a finished hypothesis keeps its slot (a fork, sharing pages) so the
 * search can roll it back by truncation. Results do not depend on which jobs share a step. */
#ifndef SBTI_DECODE_ENGINE_H
#define SBTI_DECODE_ENGINE_H

#include <stdint.h>

#include "core/rng.h"
#include "decode/lm.h"

typedef enum sbti_job_kind {
    SBTI_JOB_BEAM = 0, /* HF beam search; `sample` selects beam-sample */
    SBTI_JOB_INDEP = 1 /* independent rows; `sample` 0 = greedy        */
} sbti_job_kind;

typedef enum sbti_job_phase { SBTI_JOB_RUN = 0, SBTI_JOB_PAD = 1, SBTI_JOB_DONE = 2 } sbti_job_phase;

/* A candidate continuation of a beam (beam_step). */
typedef struct sbti_cand {
    int32_t id;
    int32_t parent; /* the row it extends                        */
    float lp;       /* log p at temperature 1                    */
    double total;   /* beam score + processed score (lp / T)     */
    double key;     /* total, or beam score + Gumbel key (sample) */
} sbti_cand;

/* The selection groups of a step (sbti_lm_select): deterministic, and sampling with the
 * min_keep of beam-sample (2) and of independent rows (1). */
enum { SBTI_GROUP_DET = 0, SBTI_GROUP_BEAM_SAMPLE = 1, SBTI_GROUP_SAMPLE = 2, SBTI_N_GROUPS = 3 };

typedef struct sbti_hyp {
    int slot;         /* owns a slot until taken (-1 then)                           */
    int len;          /* tokens (no EOS)                                             */
    int eos;          /* ended with EOS                                              */
    float eos_lp;     /* log p(EOS) at temperature 1, when eos                       */
    double score;     /* beam: HF's sum / generated length; indep: mean log-prob     */
    int64_t serial;   /* insertion order (ties: the later one first, as HF's pop)    */
    double pad_lp;    /* reference padding: summed log p of the EOS padding          */
    int pad_n;        /* padded positions scored (len .. L-1)                        */
} sbti_hyp;

typedef struct sbti_row {
    int slot;
    double score; /* beam: cumulative processed score */
} sbti_row;

typedef struct sbti_job {
    sbti_job_kind kind;
    int sample;
    int n;          /* beams / rows                                       */
    int start_len;  /* tokens of the start state (HF's decoder_prompt_len) */
    int limit;      /* total tokens at most (HF's max_length)              */
    int pad_to_L;   /* compute the reference scoring's EOS padding         */
    sbti_rng rng;
    sbti_job_phase phase;
    sbti_row *rows;
    int n_rows;
    int started;    /* the first step has run                              */
    sbti_hyp *hyps; /* best first once DONE                                */
    int n_hyps;
    int64_t serial;
    double worst;
    int L;          /* the padded length of its output batch (HF finalize) */
    int64_t generated;
    int out_base;   /* scratch: first logits row of this job in a step     */
    void *owner;    /* the caller's                                        */
    int order;
} sbti_job;

/* What one step of a set of jobs sends and gets back: the rows' tokens and selections, and
 * their candidates (kmax per output row). A lane of the engine keeps one, so that a step can be
 * in flight (submitted, not yet collected) while the host prepares the other lane's. */
typedef struct sbti_step {
    sbti_job **jobs;       /* the jobs submitted (a copy of the caller's list) */
    int n_jobs, cap_jobs;
    int queued;            /* a forward is in flight: collect chooses */
    sbti_select_args groups[SBTI_N_GROUPS]; /* the engine's, k set for this step */
    int32_t *ids, *seq, *rows;
    int cap_tok, cap_rows;
    uint8_t *row_group;    /* [cap_rows] */
    uint64_t *row_seed;    /* [cap_rows] */
    int32_t *c_kept;       /* [cap_rows] */
    float *c_extra;        /* [cap_rows] log p(EOS) */
    int32_t *c_ids;        /* [cap_c] candidates: kmax per row */
    float *c_lp, *c_key;   /* [cap_c] */
    size_t cap_c;
    int kmax;
    sbti_lm_select sel;    /* the answer's destination, for the logits source */
} sbti_step;

typedef struct sbti_engine {
    sbti_lm *lm;
    int V, max_seqs, max_len;
    int32_t eos;
    double temperature;
    sbti_select_args groups[SBTI_N_GROUPS]; /* k set per step */
    int recompute;         /* tests: refeed every sequence from scratch     */
    /* slots */
    int32_t *tok;          /* [max_seqs * max_len] */
    float *lp;             /* [max_seqs * max_len] */
    int32_t *len, *kv_len; /* [max_seqs] */
    int32_t *free_slots;
    int n_free;
    /* steps: one per lane (SBTI_LM_LANES) */
    sbti_step steps[SBTI_LM_LANES];
    sbti_cand *cands;
    int cap_cands;
    /* stats */
    int64_t forward_tokens, forward_calls;
    double t_prepare, t_forward, t_choose; /* seconds in the three parts of the steps */
} sbti_engine;

sbt_status sbti_engine_init(sbti_engine *e, sbti_lm *lm, int32_t eos, double temperature,
                            int top_k, double top_p);
void sbti_engine_release(sbti_engine *e);

/* A free slot (empty), or -1. */
int sbti_slot_alloc(sbti_engine *e);
void sbti_slot_release(sbti_engine *e, int slot);
/* Makes dst a copy of src (tokens, log-probs, KV). */
void sbti_slot_fork(sbti_engine *e, int dst, int src);
void sbti_slot_truncate(sbti_engine *e, int slot, int len);
/* Sets a fresh slot's tokens (nothing in the KV yet). */
void sbti_slot_set(sbti_engine *e, int slot, const int32_t *tok, int n);
static inline int32_t *sbti_slot_tokens(sbti_engine *e, int slot)
{
    return e->tok + (size_t)slot * e->max_len;
}
static inline float *sbti_slot_lps(sbti_engine *e, int slot)
{
    return e->lp + (size_t)slot * e->max_len;
}

/* A job starting from the state in start_slot (taken over by the job). */
sbt_status sbti_job_create(sbti_job **out, sbti_engine *e, sbti_job_kind kind, int sample, int n,
                           int start_slot, int limit, int pad_to_L, uint64_t seed,
                           uint64_t stream, uint64_t index);
/* Releases the slots the job still holds and frees it. NULL-safe. */
void sbti_job_free(sbti_engine *e, sbti_job *job);

/* One step of every job that is not DONE: one forward call, then each job's selection. */
sbt_status sbti_engine_step(sbti_engine *e, sbti_job **jobs, int n_jobs);

/* The same step in two halves, so that the host can work while the device runs: submit
 * prepares the jobs' rows and queues their forward on lane `lane` (0 .. SBTI_LM_LANES-1, not
 * in flight); collect waits for its answers and makes each job's choice. Between the two the
 * caller may submit on the other lane and work on jobs of it, never on the submitted jobs.
 * Jobs of different lanes hold different slots. */
sbt_status sbti_engine_submit(sbti_engine *e, int lane, sbti_job **jobs, int n_jobs);
sbt_status sbti_engine_collect(sbti_engine *e, int lane);

#endif /* SBTI_DECODE_ENGINE_H */
