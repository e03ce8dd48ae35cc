/* lm.c — the two next-token logits sources of lm.h: the model's paged KV cache, and a caller's
 * function of whole token histories. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "decode/lm.h"
#include "model/model.h"

/* ---- the model through its KV cache ---------------------------------------------------- */

typedef struct lm_kv {
    sbti_lm base;
    sbti_kv_cache *kv;
} lm_kv;

static sbt_status kv_forward(sbti_lm *lm, const int32_t *ids, const int32_t *seq, int n,
                             const int32_t *out_rows, int n_out, float *logits)
{
    return sbti_kv_forward(((lm_kv *)lm)->kv, ids, seq, n, out_rows, n_out, logits);
}

static void kv_fork(sbti_lm *lm, int dst, int src)
{
    sbti_kv_seq_fork(((lm_kv *)lm)->kv, dst, src);
}

static void kv_truncate(sbti_lm *lm, int seq, int len)
{
    sbti_kv_seq_truncate(((lm_kv *)lm)->kv, seq, len);
}

static void kv_destroy(sbti_lm *lm)
{
    sbti_kv_free(((lm_kv *)lm)->kv);
    free(lm);
}

static const sbti_lm_vt kv_vt = {kv_forward, kv_fork, kv_truncate, kv_destroy};

sbt_status sbti_lm_kv_create(sbti_lm **out, sbt_model *m, int max_seqs, int max_len,
                             int page_size, int64_t n_pages)
{
    *out = NULL;
    if (n_pages > INT32_MAX)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "decoder: %lld KV pages is too many",
                         (long long)n_pages);
    lm_kv *lm = calloc(1, sizeof *lm);
    if (!lm)
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "decoder: out of memory");
    sbt_status st = sbti_kv_create(&lm->kv, m, max_seqs, max_len, page_size, (int)n_pages);
    if (st != SBT_OK) {
        free(lm);
        return st;
    }
    lm->base.vt = &kv_vt;
    lm->base.n_vocab = m->V;
    lm->base.max_seqs = max_seqs;
    lm->base.max_len = max_len;
    *out = &lm->base;
    return SBT_OK;
}

/* ---- a caller's function of whole histories ------------------------------------------- */

typedef struct lm_fn {
    sbti_lm base;
    sbt_lm_callbacks cb;
    int32_t *tok; /* [max_seqs * max_len] */
    int32_t *len; /* [max_seqs] */
    /* per-call scratch */
    const sbt_token **seqs;
    int32_t *lens, *pos;
    int cap;
} lm_fn;

static sbt_status fn_forward(sbti_lm *base, const int32_t *ids, const int32_t *seq, int n,
                             const int32_t *out_rows, int n_out, float *logits)
{
    lm_fn *lm = (lm_fn *)base;
    if (n > lm->cap) {
        int cap = n > 2 * lm->cap ? n : 2 * lm->cap;
        const sbt_token **s = realloc(lm->seqs, sizeof *s * (size_t)cap);
        if (s)
            lm->seqs = s;
        int32_t *l = realloc(lm->lens, sizeof *l * (size_t)cap);
        if (l)
            lm->lens = l;
        int32_t *p = realloc(lm->pos, sizeof *p * (size_t)cap);
        if (p)
            lm->pos = p;
        if (!s || !l || !p)
            return sbti_fail(SBT_E_OUT_OF_MEMORY, "decoder: out of memory");
        lm->cap = cap;
    }
    for (int i = 0; i < n; i++) {
        if (seq[i] < 0 || seq[i] >= base->max_seqs || ids[i] < 0 || ids[i] >= base->n_vocab)
            return sbti_fail(SBT_E_INVALID_ARGUMENT,
                             "decoder: token %d (id %d, sequence %d) out of range", i, ids[i],
                             seq[i]);
        if (lm->len[seq[i]] + 1 > base->max_len) {
            for (int j = 0; j < i; j++)
                lm->len[seq[j]]--;
            return sbti_fail(SBT_E_INVALID_ARGUMENT, "decoder: sequence %d is full (%d tokens)",
                             seq[i], base->max_len);
        }
        int32_t p = lm->len[seq[i]]++;
        lm->tok[(size_t)seq[i] * base->max_len + p] = ids[i];
        lm->pos[i] = p;
    }
    for (int k = 0; k < n_out; k++) {
        int i = out_rows[k];
        lm->seqs[k] = lm->tok + (size_t)seq[i] * base->max_len;
        lm->lens[k] = lm->pos[i] + 1;
    }
    if (n_out > 0 && lm->cb.next_logits(lm->cb.user_data, lm->seqs, lm->lens, n_out, logits) != 0)
        return sbti_fail(SBT_E_BACKEND, "decoder: the next-token callback failed");
    return SBT_OK;
}

static void fn_fork(sbti_lm *base, int dst, int src)
{
    lm_fn *lm = (lm_fn *)base;
    if (dst == src)
        return;
    memcpy(lm->tok + (size_t)dst * base->max_len, lm->tok + (size_t)src * base->max_len,
           sizeof(int32_t) * (size_t)lm->len[src]);
    lm->len[dst] = lm->len[src];
}

static void fn_truncate(sbti_lm *base, int seq, int len)
{
    lm_fn *lm = (lm_fn *)base;
    if (len < 0)
        len = 0;
    if (len < lm->len[seq])
        lm->len[seq] = len;
}

static void fn_destroy(sbti_lm *base)
{
    lm_fn *lm = (lm_fn *)base;
    free(lm->tok);
    free(lm->len);
    free(lm->seqs);
    free(lm->lens);
    free(lm->pos);
    free(lm);
}

static const sbti_lm_vt fn_vt = {fn_forward, fn_fork, fn_truncate, fn_destroy};

sbt_status sbti_lm_fn_create(sbti_lm **out, const sbt_lm_callbacks *cb, int max_seqs,
                             int max_len)
{
    *out = NULL;
    lm_fn *lm = calloc(1, sizeof *lm);
    if (!lm)
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "decoder: out of memory");
    lm->cb = *cb;
    lm->tok = malloc(sizeof(int32_t) * (size_t)max_seqs * (size_t)max_len);
    lm->len = calloc((size_t)max_seqs, sizeof(int32_t));
    if (!lm->tok || !lm->len) {
        fn_destroy(&lm->base);
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "decoder: out of memory");
    }
    lm->base.vt = &fn_vt;
    lm->base.n_vocab = cb->n_vocab;
    lm->base.max_seqs = max_seqs;
    lm->base.max_len = max_len;
    *out = &lm->base;
    return SBT_OK;
}

void sbti_lm_free(sbti_lm *lm)
{
    if (lm)
        lm->vt->destroy(lm);
}
