/* sampler.h — internal: what one row of next-token logits offers a decoding step.
 *
 * Per row the engine needs only a short list: the tokens the strategy may choose, each with
 * its temperature-1 log-probability (for scoring) and its processed score (what Hugging Face's
 * logits processors make of it: log_softmax / T, top-k, top-p). This is the part a GPU
 * backend can later compute on the device (a log-sum-exp and a top-k per row). */
#ifndef SBTI_DECODE_SAMPLER_H
#define SBTI_DECODE_SAMPLER_H

#include <stdint.h>

#include "core/rng.h"
#include "selfbt/status.h"

typedef struct sbti_cand {
    int32_t id;
    int32_t parent; /* the row it extends (filled by the caller) */
    float lp;       /* log p at temperature 1                   */
    double proc;    /* processed score                          */
    double total;   /* beam score + proc (filled by the caller) */
    double key;     /* scratch: the Gumbel-perturbed total       */
} sbti_cand;

typedef struct sbti_warp {
    int sample;         /* 0: the `keep` best by logit, proc = lp (greedy, beam search) */
    int keep;           /* !sample: how many                                            */
    double temperature; /* sample: > 0                                                  */
    int top_k;          /* sample: 0 = off                                              */
    double top_p;       /* sample: >= 1 = off                                           */
    int min_keep;       /* sample: tokens top-k / top-p always keep                     */
} sbti_warp;

/* Scratch reused across rows. */
typedef struct sbti_rowbuf {
    int32_t *idx;
    int cap;
} sbti_rowbuf;

void sbti_rowbuf_free(sbti_rowbuf *b);

/* The candidates of one row of V logits (NaN counts as -inf), best logit first, appended at
 * *out[*n..] (grown as needed, capacity *cap); returns the number added, or -1 when out of
 * memory. A row with no finite logit gives none. */
int sbti_row_candidates(const float *x, int V, const sbti_warp *w, sbti_rowbuf *buf,
                        sbti_cand **out, int *n, int *cap);

/* Uniform in (0, 1) and a standard Gumbel draw. */
double sbti_uniform(sbti_rng *rng);
double sbti_gumbel(sbti_rng *rng);

#endif /* SBTI_DECODE_SAMPLER_H */
