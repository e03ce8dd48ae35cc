/* lm.h — internal: the "next-token candidates source" the decoding engine runs on.
 *
 * Sequences are slots 0..max_seqs-1, each a token history. A forward (submit, then collect)
 * appends tokens (of many slots in one call) and, for chosen rows, returns what backend.h's
 * select makes of their next-token logits: a few candidates per row (so a GPU never sends V
 * logits per row to the host). Two forwards can be in flight, one per lane, so that the host
 * prepares one while the device runs the other. fork makes one slot a copy of another;
 * truncate shortens a slot (a rollback). Two
 * sources: the model's paged KV cache (sbti_lm_kv_create: fork shares pages, truncate gives them
 * back, nothing is recomputed; selection runs on the model's backend) and a caller's function
 * of whole histories (sbti_lm_fn_create: what the public sbt_decoder_create_custom wraps, and
 * what the tests script; selection runs on the host, the same reference code). */
#ifndef SBTI_DECODE_LM_H
#define SBTI_DECODE_LM_H

#include <stdint.h>

#include "backend/backend.h"
#include "selfbt/decoder.h"
#include "selfbt/model.h"
#include "selfbt/status.h"

typedef struct sbti_lm sbti_lm;

/* The selection asked of each output row, and its answer. Row r uses groups[group[r]] (all
 * groups share extra_id) and seed[r]; its answer is at [r * kmax, r * kmax + kmax) of ids, lp
 * and key (select's order; ids -1 past the row's candidates), kept[r] and extra_lp[r]. kmax is
 * at least every group's k. */
typedef struct sbti_lm_select {
    const sbti_select_args *groups;
    int n_groups;
    int kmax;
    const uint8_t *group;  /* [n_out] */
    const uint64_t *seed;  /* [n_out] */
    int32_t *ids;          /* [n_out * kmax] */
    float *lp, *key;       /* [n_out * kmax] */
    int32_t *kept;         /* [n_out] */
    float *extra_lp;       /* [n_out] */
} sbti_lm_select;

/* Forwards in flight at once: one per lane. */
#define SBTI_LM_LANES 2

typedef struct sbti_lm_vt {
    /* Appends the tokens and queues the forward of lane `lane` (not in flight); its answers
     * reach *sel (which must stay valid) by the lane's collect. A source that computes at once
     * (the caller's function) answers here already. */
    sbt_status (*submit)(sbti_lm *lm, int lane, const int32_t *ids, const int32_t *seq, int n,
                         const int32_t *out_rows, int n_out, sbti_lm_select *sel);
    sbt_status (*collect)(sbti_lm *lm, int lane);
    void (*fork)(sbti_lm *lm, int dst, int src);
    void (*truncate)(sbti_lm *lm, int seq, int len);
    void (*destroy)(sbti_lm *lm);
} sbti_lm_vt;

struct sbti_lm {
    const sbti_lm_vt *vt;
    int n_vocab, max_seqs, max_len;
    int overlaps; /* its forward runs on a device beside the host: two lanes in flight pay */
    /* seconds spent queuing the work (submit), then waiting for its answers (collect): the
     * model's source; SBT_DECODE_PROFILE prints them */
    double t_queue, t_wait;
};

sbt_status sbti_lm_kv_create(sbti_lm **out, sbt_model *m, int max_seqs, int max_len,
                             int page_size, int64_t n_pages);
sbt_status sbti_lm_fn_create(sbti_lm **out, const sbt_lm_callbacks *cb, int max_seqs,
                             int max_len);
void sbti_lm_free(sbti_lm *lm);

#endif /* SBTI_DECODE_LM_H */
