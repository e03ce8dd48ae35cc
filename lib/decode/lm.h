/* lm.h — internal: the "next-token logits source" the decoding engine runs on.
 *
 * Sequences are slots 0..max_seqs-1, each a token history. forward appends tokens (of many
 * slots in one call) and returns next-token logits for chosen rows; fork makes one slot a copy
 * of another; truncate shortens a slot (a rollback). Two sources: the model's paged KV cache
 * (sbti_lm_kv_create: fork shares pages, truncate gives them back, nothing is recomputed) and a
 * caller's function of whole histories (sbti_lm_fn_create: what the public
 * sbt_decoder_create_custom wraps, and what the tests script). */
#ifndef SBTI_DECODE_LM_H
#define SBTI_DECODE_LM_H

#include <stdint.h>

#include "selfbt/decoder.h"
#include "selfbt/model.h"
#include "selfbt/status.h"

typedef struct sbti_lm sbti_lm;

typedef struct sbti_lm_vt {
    sbt_status (*forward)(sbti_lm *lm, const int32_t *ids, const int32_t *seq, int n,
                          const int32_t *out_rows, int n_out, float *logits);
    void (*fork)(sbti_lm *lm, int dst, int src);
    void (*truncate)(sbti_lm *lm, int seq, int len);
    void (*destroy)(sbti_lm *lm);
} sbti_lm_vt;

struct sbti_lm {
    const sbti_lm_vt *vt;
    int n_vocab, max_seqs, max_len;
};

sbt_status sbti_lm_kv_create(sbti_lm **out, sbt_model *m, int max_seqs, int max_len,
                             int page_size, int64_t n_pages);
sbt_status sbti_lm_fn_create(sbti_lm **out, const sbt_lm_callbacks *cb, int max_seqs,
                             int max_len);
void sbti_lm_free(sbti_lm *lm);

#endif /* SBTI_DECODE_LM_H */
