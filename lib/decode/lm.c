/* lm.c — the two next-token candidate sources of lm.h: the model's paged KV cache (selection on
 * the model's backend, next to the logits), and a caller's function of whole token histories
 * (selection on the host). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/error.h"
#include "decode/lm.h"
#include "model/model.h"

/* A row's 64-bit noise seed as select takes it: two int32, the low word first. */
static void pack_seed(int32_t *dst, uint64_t seed)
{
    dst[0] = (int32_t)(uint32_t)seed;
    dst[1] = (int32_t)(uint32_t)(seed >> 32);
}

/* ---- the model through its KV cache ---------------------------------------------------- */

/* What a lane keeps between its submit and its collect: where the answers land (host memory
 * the backend downloads into without waiting), how to put them back in the caller's order,
 * and the fence after the downloads. */
typedef struct kv_lane {
    int cap_rows;
    size_t cap_c;
    int32_t *perm;          /* [cap_rows] caller's row of each group-ordered row */
    int32_t *hi;            /* host_alloc [cap_c + cap_rows]: ids of every group's block, kept */
    float *hf;              /* host_alloc [2 * cap_c + cap_rows]: lp, key, then extra_lp */
    void *fence;
    int in_flight;
    size_t n_c;
    int count[256];         /* rows per group */
    sbti_lm_select *sel;
} kv_lane;

typedef struct lm_kv {
    sbti_lm base;
    sbti_kv_cache *kv;
    sbt_model *m;
    sbti_backend *be;
    /* per-submit scratch, shared by the lanes (the device's is used in queue order) */
    int cap_rows, cap_c;
    int32_t *prow;         /* [cap_rows] */
    int32_t *seeds;        /* [2 * cap_rows] */
    int32_t *d_seeds, *d_i;
    float *d_f;
    kv_lane lanes[SBTI_LM_LANES];
} lm_kv;

static void kv_scratch_free(lm_kv *lm)
{
    free(lm->prow);
    free(lm->seeds);
    lm->be->ops->free(lm->be, lm->d_seeds);
    lm->be->ops->free(lm->be, lm->d_i);
    lm->be->ops->free(lm->be, lm->d_f);
    lm->prow = lm->seeds = lm->d_seeds = lm->d_i = NULL;
    lm->d_f = NULL;
    lm->cap_rows = lm->cap_c = 0;
}

static void lane_free(sbti_backend *be, kv_lane *L)
{
    free(L->perm);
    be->ops->host_free(be, L->hi);
    be->ops->host_free(be, L->hf);
    L->perm = NULL;
    L->hi = NULL;
    L->hf = NULL;
    L->cap_rows = 0;
    L->cap_c = 0;
}

/* n grown to at least want, doubling. */
static size_t grown(size_t have, size_t want)
{
    return want > 2 * have ? want : 2 * have;
}

/* Room for n_out rows whose candidate blocks hold n_c entries in all: the shared scratch (the
 * device's freed only when the device is done with it: free waits) and the lane's answers. */
static sbt_status kv_scratch(lm_kv *lm, kv_lane *L, int n_out, size_t n_c)
{
    sbti_backend *be = lm->be;
    if (n_c > INT32_MAX / 4)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "decoder: %zu candidates in one step", n_c);
    if (n_out > lm->cap_rows || n_c > (size_t)lm->cap_c) {
        size_t rows = grown((size_t)lm->cap_rows, (size_t)n_out);
        size_t c = grown((size_t)lm->cap_c, n_c);
        if (c > INT32_MAX / 4)
            c = n_c;
        kv_scratch_free(lm);
        lm->prow = malloc(sizeof(int32_t) * rows);
        lm->seeds = malloc(sizeof(int32_t) * 2 * rows);
        sbt_status st = lm->prow && lm->seeds
                            ? SBT_OK
                            : sbti_fail(SBT_E_OUT_OF_MEMORY, "decoder: out of memory");
        if (st == SBT_OK)
            st = be->ops->alloc(be, (void **)&lm->d_seeds, SBTI_MEM_I32, 2 * rows);
        if (st == SBT_OK)
            st = be->ops->alloc(be, (void **)&lm->d_i, SBTI_MEM_I32, c + rows);
        if (st == SBT_OK)
            st = be->ops->alloc(be, (void **)&lm->d_f, SBTI_MEM_F32, 2 * c + rows);
        if (st != SBT_OK) {
            kv_scratch_free(lm);
            return st;
        }
        lm->cap_rows = (int)rows;
        lm->cap_c = (int)c;
    }
    if (n_out > L->cap_rows || n_c > L->cap_c) {
        size_t rows = grown((size_t)L->cap_rows, (size_t)n_out), c = grown(L->cap_c, n_c);
        lane_free(be, L);
        L->perm = malloc(sizeof(int32_t) * rows);
        L->hi = be->ops->host_alloc(be, sizeof(int32_t) * (c + rows));
        L->hf = be->ops->host_alloc(be, sizeof(float) * (2 * c + rows));
        if (!L->perm || !L->hi || !L->hf) {
            lane_free(be, L);
            return sbti_fail(SBT_E_OUT_OF_MEMORY, "decoder: out of memory (%zu candidates)", c);
        }
        L->cap_rows = (int)rows;
        L->cap_c = c;
    }
    return SBT_OK;
}

/* The forward leaves the logits on the backend; each group's rows (made contiguous by
 * ordering the output rows by group) go through select there, and two downloads that do not
 * wait bring back every row's candidates into the lane; a fence marks their end. */
static sbt_status kv_submit(sbti_lm *base, int lane, const int32_t *ids, const int32_t *seq,
                            int n, const int32_t *out_rows, int n_out, sbti_lm_select *sel)
{
    lm_kv *lm = (lm_kv *)base;
    sbti_backend *be = lm->be;
    kv_lane *L = &lm->lanes[lane];
    int first[256];
    size_t n_c = 0;
    memset(L->count, 0, sizeof L->count);
    for (int r = 0; r < n_out; r++)
        L->count[sel->group[r]]++;
    for (int g = 0; g < sel->n_groups; g++)
        n_c += (size_t)L->count[g] * (size_t)sel->groups[g].k;
    sbt_status st = kv_scratch(lm, L, n_out, n_c);
    if (st != SBT_OK)
        return st;
    first[0] = 0;
    for (int g = 1; g < sel->n_groups; g++)
        first[g] = first[g - 1] + L->count[g - 1];
    for (int r = 0; r < n_out; r++) {
        int k = first[sel->group[r]]++;
        L->perm[k] = r;
        lm->prow[k] = out_rows[r];
        pack_seed(lm->seeds + 2 * k, sel->seed[r]);
    }
    const void *logits;
    const double t0 = sbti_now();
    st = sbti_kv_forward_device(lm->kv, ids, seq, n, lm->prow, n_out, &logits);
    if (st != SBT_OK || n_out == 0)
        return st;
    st = be->ops->upload(be, lm->d_seeds, SBTI_MEM_I32, 0, lm->seeds, SBTI_F32,
                         (size_t)2 * n_out);
    if (st != SBT_OK)
        return st;
    const int V = base->n_vocab, ld = sbti_logits_ld(lm->m);
    size_t row = 0, c = 0;
    for (int g = 0; g < sel->n_groups; g++) {
        if (L->count[g] == 0)
            continue;
        sbti_select_args a = sel->groups[g];
        a.row_stride = ld; /* the logits rows as the head wrote them, padded */
        be->ops->select(be, lm->d_i + c, lm->d_f + c, lm->d_f + n_c + c, lm->d_i + n_c + row,
                        lm->d_f + 2 * n_c + row, sbti_at(be, logits, SBTI_MEM_ACT, row * ld),
                        a.sample ? lm->d_seeds + 2 * row : NULL, L->count[g], V, &a);
        row += (size_t)L->count[g];
        c += (size_t)L->count[g] * (size_t)a.k;
    }
    st = be->ops->download_async(be, L->hi, lm->d_i, SBTI_MEM_I32, 0, n_c + (size_t)n_out);
    if (st == SBT_OK)
        st = be->ops->download_async(be, L->hf, lm->d_f, SBTI_MEM_F32, 0,
                                     2 * n_c + (size_t)n_out);
    if (st == SBT_OK)
        st = be->ops->fence_record(be, &L->fence);
    base->t_queue += sbti_now() - t0;
    if (st != SBT_OK)
        return st;
    L->in_flight = 1;
    L->n_c = n_c;
    L->sel = sel;
    return SBT_OK;
}

/* Waits for the lane's answers and puts them in the caller's row order, blocks of kmax. */
static sbt_status kv_collect(sbti_lm *base, int lane)
{
    lm_kv *lm = (lm_kv *)base;
    kv_lane *L = &lm->lanes[lane];
    if (!L->in_flight)
        return SBT_OK;
    L->in_flight = 0;
    const double t0 = sbti_now();
    sbt_status st = lm->be->ops->fence_wait(lm->be, L->fence);
    base->t_wait += sbti_now() - t0;
    if (st != SBT_OK)
        return st;
    sbti_lm_select *sel = L->sel;
    const size_t n_c = L->n_c;
    size_t row = 0, c = 0;
    for (int g = 0; g < sel->n_groups; g++) {
        const int k = sel->groups[g].k;
        for (int i = 0; i < L->count[g]; i++, row++, c += (size_t)k) {
            const size_t o = (size_t)L->perm[row] * sel->kmax;
            for (int j = 0; j < sel->kmax; j++) {
                sel->ids[o + j] = j < k ? L->hi[c + j] : -1;
                sel->lp[o + j] = j < k ? L->hf[c + j] : -INFINITY;
                sel->key[o + j] = j < k ? L->hf[n_c + c + j] : -INFINITY;
            }
            sel->kept[L->perm[row]] = L->hi[n_c + row];
            sel->extra_lp[L->perm[row]] = L->hf[2 * n_c + row];
        }
    }
    return SBT_OK;
}

static void kv_fork(sbti_lm *lm, int dst, int src)
{
    sbti_kv_seq_fork(((lm_kv *)lm)->kv, dst, src);
}

static void kv_truncate(sbti_lm *lm, int seq, int len)
{
    sbti_kv_seq_truncate(((lm_kv *)lm)->kv, seq, len);
}

static void kv_destroy(sbti_lm *base)
{
    lm_kv *lm = (lm_kv *)base;
    (void)lm->be->ops->sync(lm->be); /* nothing may still be downloading into a lane */
    for (int i = 0; i < SBTI_LM_LANES; i++) {
        lane_free(lm->be, &lm->lanes[i]);
        lm->be->ops->fence_free(lm->be, lm->lanes[i].fence);
    }
    kv_scratch_free(lm);
    sbti_kv_free(lm->kv);
    free(lm);
}

static const sbti_lm_vt kv_vt = {kv_submit, kv_collect, kv_fork, kv_truncate, kv_destroy};

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
    lm->m = m;
    lm->be = m->be;
    lm->base.vt = &kv_vt;
    lm->base.overlaps = m->be->asynchronous;
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
    float *logits; /* [cap_out * n_vocab] */
    int32_t *seeds; /* [2 * cap_out] */
    int cap_out;
} lm_fn;

/* select (backend.h) of host logits, on the host, into blocks of kmax: one call for each run
 * of consecutive rows of one group (a job's rows), seeds packed in seeds (2 * n_out). */
static sbt_status select_rows(const float *logits, int n_out, int V, sbti_lm_select *sel,
                              int32_t *seeds)
{
    for (int r = 0; r < n_out; r++)
        pack_seed(seeds + 2 * r, sel->seed[r]);
    for (int r0 = 0, r1; r0 < n_out; r0 = r1) {
        for (r1 = r0 + 1; r1 < n_out && sel->group[r1] == sel->group[r0]; r1++)
            ;
        const sbti_select_args *a = &sel->groups[sel->group[r0]];
        const size_t o = (size_t)r0 * sel->kmax;
        if (sbti_select_check(a, r1 - r0, V) != SBT_OK)
            return sbti_fail(SBT_E_INTERNAL, "decoder: bad selection (k %d of %d)", a->k, V);
        if (sbti_select_host(sel->ids + o, sel->lp + o, sel->key + o, sel->kmax, sel->kept + r0,
                             sel->extra_lp + r0, logits + (size_t)r0 * V, seeds + 2 * r0,
                             r1 - r0, V, a) != 0)
            return sbti_fail(SBT_E_OUT_OF_MEMORY, "decoder: out of memory");
        for (int r = r0; r < r1; r++)
            for (int j = a->k; j < sel->kmax; j++) {
                const size_t q = (size_t)r * sel->kmax + (size_t)j;
                sel->ids[q] = -1;
                sel->lp[q] = sel->key[q] = -INFINITY;
            }
    }
    return SBT_OK;
}

/* The caller's function computes at once: submit answers, collect has nothing to wait for. */
static sbt_status fn_submit(sbti_lm *base, int lane, const int32_t *ids, const int32_t *seq,
                            int n, const int32_t *out_rows, int n_out, sbti_lm_select *sel)
{
    (void)lane;
    lm_fn *lm = (lm_fn *)base;
    if (n_out > lm->cap_out) {
        float *l = realloc(lm->logits, sizeof *l * (size_t)n_out * (size_t)base->n_vocab);
        if (l)
            lm->logits = l;
        int32_t *sd = realloc(lm->seeds, sizeof *sd * 2 * (size_t)n_out);
        if (sd)
            lm->seeds = sd;
        if (!l || !sd)
            return sbti_fail(SBT_E_OUT_OF_MEMORY, "decoder: out of memory (%d logits rows)", n_out);
        lm->cap_out = n_out;
    }
    float *logits = lm->logits;
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
    return select_rows(logits, n_out, base->n_vocab, sel, lm->seeds);
}

static sbt_status fn_collect(sbti_lm *base, int lane)
{
    (void)base;
    (void)lane;
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
    free(lm->logits);
    free(lm->seeds);
    free(lm);
}

static const sbti_lm_vt fn_vt = {fn_submit, fn_collect, fn_fork, fn_truncate, fn_destroy};

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
