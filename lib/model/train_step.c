/* train_step.c — the Llama forward that keeps its activations, its backward, and the AdamW
 * step: the whole training graph, written once against lib/backend/backend.h.
 *
 * Per layer (N = B*T tokens; x is the residual stream):
 *   ln1 = rmsnorm(x)            qkv = ln1 · Wqkvᵀ, RoPE on q and k
 *   att = attention(qkv)        mid = x + att · Woᵀ
 *   ln2 = rmsnorm(mid)          gu  = ln2 · Wguᵀ      h = silu(gate) * up
 *   x'  = mid + h · Wdownᵀ
 * then lnf = rmsnorm(x), logits = lnf · Wlmᵀ, and the cross-entropy of the shifted labels. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "model/model.h"

#define MAXI(a, b) ((a) > (b) ? (a) : (b))

static void free_acts(sbti_backend *be, sbti_acts *a)
{
    void *bufs[] = {a->tokens, a->targets, a->pos,  a->len,   a->resid,  a->ln1,
                    a->rstd1,  a->qkv,     a->att,  a->lse,   a->mid,    a->ln2,
                    a->rstd2,  a->gu,      a->h,    a->lnf,   a->rstdf,  a->logits,
                    a->losses, a->dresid,  a->dln,  a->dbig,  a->dmid,   a->gpad};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        be->ops->free(be, bufs[i]);
    memset(a, 0, sizeof *a);
}

/* Makes the activation buffers hold B rows of T tokens. */
static sbt_status ensure_acts(sbt_model *m, int B, int T)
{
    sbti_acts *a = &m->acts;
    size_t N = (size_t)B * (size_t)T;
    if (a->cap_tok >= N && a->resid) {
        a->B = B;
        a->T = T;
        return SBT_OK;
    }
    sbti_backend *be = m->be;
    free_acts(be, a);
    const size_t L = (size_t)m->L, C = (size_t)m->C, I = (size_t)m->I;
    struct {
        void **p;
        sbti_mem kind;
        size_t n;
    } want[] = {
        {(void **)&a->tokens, SBTI_MEM_I32, N},
        {(void **)&a->targets, SBTI_MEM_I32, N},
        {(void **)&a->pos, SBTI_MEM_I32, N},
        {(void **)&a->len, SBTI_MEM_I32, N},
        {&a->resid, SBTI_MEM_ACT, (L + 1) * N * C},
        {&a->ln1, SBTI_MEM_ACT, L * N * C},
        {(void **)&a->rstd1, SBTI_MEM_F32, L * N},
        {&a->qkv, SBTI_MEM_ACT, L * N * (size_t)m->qkv_dim},
        {&a->att, SBTI_MEM_ACT, L * N * (size_t)m->att_dim},
        {(void **)&a->lse, SBTI_MEM_F32, L * N * (size_t)m->nh},
        {&a->mid, SBTI_MEM_ACT, L * N * C},
        {&a->ln2, SBTI_MEM_ACT, L * N * C},
        {(void **)&a->rstd2, SBTI_MEM_F32, L * N},
        {&a->gu, SBTI_MEM_ACT, L * N * 2 * I},
        {&a->h, SBTI_MEM_ACT, L * N * I},
        {&a->lnf, SBTI_MEM_ACT, N * C},
        {(void **)&a->rstdf, SBTI_MEM_F32, N},
        {&a->logits, SBTI_MEM_ACT, N * (size_t)m->V},
        {(void **)&a->losses, SBTI_MEM_F32, N},
        {&a->dresid, SBTI_MEM_ACT, N * C},
        {&a->dln, SBTI_MEM_ACT, N * C},
        {&a->dbig, SBTI_MEM_ACT, N * MAXI((size_t)m->qkv_dim, 2 * I)},
        {&a->dmid, SBTI_MEM_ACT, N * MAXI((size_t)m->att_dim, I)},
        {&a->gpad, SBTI_MEM_GRAD, C},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        sbt_status st = be->ops->alloc(be, want[i].p, want[i].kind, want[i].n);
        if (st != SBT_OK) {
            free_acts(be, a);
            return st;
        }
    }
    a->cap_tok = N;
    a->B = B;
    a->T = T;
    return SBT_OK;
}

/* Layer l's slice of every saved activation of the last forward (N = B*T tokens). */
typedef struct layer_acts {
    void *x, *xo;          /* (N, C) the residual into and out of the layer */
    void *ln1, *mid, *ln2; /* (N, C)                                         */
    float *rstd1, *rstd2;  /* (N) F32                                        */
    void *qkv;             /* (N, (nh+2nkv)*hd)                              */
    void *att;             /* (N, nh*hd)                                     */
    float *lse;            /* (B, nh, T) F32                                 */
    void *gu, *h;          /* (N, 2I), (N, I)                                */
} layer_acts;

static layer_acts layer_view(const sbt_model *m, int l)
{
    const sbti_backend *be = m->be;
    const sbti_acts *a = &m->acts;
    const size_t N = (size_t)a->B * a->T, C = (size_t)m->C, I = (size_t)m->I, L = (size_t)l;
    return (layer_acts){
        .x = sbti_at(be, a->resid, SBTI_MEM_ACT, L * N * C),
        .xo = sbti_at(be, a->resid, SBTI_MEM_ACT, (L + 1) * N * C),
        .ln1 = sbti_at(be, a->ln1, SBTI_MEM_ACT, L * N * C),
        .mid = sbti_at(be, a->mid, SBTI_MEM_ACT, L * N * C),
        .ln2 = sbti_at(be, a->ln2, SBTI_MEM_ACT, L * N * C),
        .rstd1 = sbti_at(be, a->rstd1, SBTI_MEM_F32, L * N),
        .rstd2 = sbti_at(be, a->rstd2, SBTI_MEM_F32, L * N),
        .qkv = sbti_at(be, a->qkv, SBTI_MEM_ACT, L * N * (size_t)m->qkv_dim),
        .att = sbti_at(be, a->att, SBTI_MEM_ACT, L * N * (size_t)m->att_dim),
        .lse = sbti_at(be, a->lse, SBTI_MEM_F32, L * N * (size_t)m->nh),
        .gu = sbti_at(be, a->gu, SBTI_MEM_ACT, L * N * 2 * I),
        .h = sbti_at(be, a->h, SBTI_MEM_ACT, L * N * I),
    };
}

/* Checks ids and lengths before anything reaches the backend (it trusts them). */
static sbt_status check_batch(const sbt_model *m, const int32_t *ids, const int32_t *lens, int B,
                              int T)
{
    if (B < 1 || T < 1 || (int64_t)B * T > INT32_MAX)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "model: batch %d x %d tokens is not valid", B, T);
    for (size_t i = 0; i < (size_t)B * T; i++)
        if (ids[i] < 0 || ids[i] >= m->V)
            return sbti_fail(SBT_E_INVALID_ARGUMENT,
                             "model: token id %d (row %zu, position %zu) is outside the "
                             "vocabulary of %d", ids[i], i / (size_t)T, i % (size_t)T, m->V);
    for (int b = 0; lens && b < B; b++)
        if (lens[b] < 1 || lens[b] > T)
            return sbti_fail(SBT_E_INVALID_ARGUMENT,
                             "model: length %d of row %d is outside 1..%d", lens[b], b, T);
    return SBT_OK;
}

sbt_status sbti_model_forward_train(sbt_model *m, const int32_t *ids, const int32_t *lens,
                                    int B, int T, const int32_t *targets, double *loss_sum,
                                    int64_t *n_labelled)
{
    sbt_status st = check_batch(m, ids, lens, B, T);
    if (st == SBT_OK)
        st = ensure_acts(m, B, T);
    if (st != SBT_OK)
        return st;
    sbti_backend *be = m->be;
    const sbti_backend_ops *op = be->ops;
    sbti_acts *a = &m->acts;
    const int N = B * T, C = m->C, I = m->I, V = m->V;
    const float eps = (float)m->cfg.rms_norm_eps;

    /* host-side inputs: ids, positions 0..T-1 per row, lengths, shifted targets */
    int32_t *host = malloc(sizeof(int32_t) * (size_t)N * 2 + sizeof(int32_t) * (size_t)B);
    if (!host)
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "model: out of memory");
    int32_t *pos = host, *len = host + N, *tgt = host + N + B;
    int64_t labelled = 0;
    for (int i = 0; i < N; i++) {
        pos[i] = i % T;
        tgt[i] = targets && targets[i] >= 0 && targets[i] < V ? targets[i] : -1;
        labelled += tgt[i] >= 0;
    }
    for (int b = 0; b < B; b++)
        len[b] = lens ? lens[b] : T;
    st = op->upload(be, a->tokens, SBTI_MEM_I32, 0, ids, SBTI_F32, (size_t)N);
    if (st == SBT_OK)
        st = op->upload(be, a->pos, SBTI_MEM_I32, 0, pos, SBTI_F32, (size_t)N);
    if (st == SBT_OK)
        st = op->upload(be, a->len, SBTI_MEM_I32, 0, len, SBTI_F32, (size_t)B);
    if (st == SBT_OK)
        st = op->upload(be, a->targets, SBTI_MEM_I32, 0, tgt, SBTI_F32, (size_t)N);
    free(host);
    if (st != SBT_OK)
        return st;

#define W(off) sbti_at(be, m->w, SBTI_MEM_PARAM, (off))
    void *x0 = a->resid; /* (N, C) */
    op->embedding_fwd(be, x0, a->tokens, W(m->off_embed), N, C);
    for (int l = 0; l < m->L; l++) {
        const sbti_layer_offsets *lo = &m->layer[l];
        const layer_acts v = layer_view(m, l);
        op->rmsnorm_fwd(be, v.ln1, v.rstd1, v.x, W(lo->ln1), N, C, eps);
        op->matmul_fwd(be, v.qkv, v.ln1, W(lo->qkv), NULL, N, C, m->qkv_dim);
        op->rope_fwd(be, v.qkv, a->pos, m->inv_freq, N, m->nh, m->nkv, m->hd);
        op->attention_fwd(be, v.att, v.lse, v.qkv, a->len, B, T, m->nh, m->nkv, m->hd);
        op->matmul_fwd(be, v.mid, v.att, W(lo->o), v.x, N, m->att_dim, C);
        op->rmsnorm_fwd(be, v.ln2, v.rstd2, v.mid, W(lo->ln2), N, C, eps);
        op->matmul_fwd(be, v.gu, v.ln2, W(lo->gu), NULL, N, C, 2 * I);
        op->swiglu_fwd(be, v.h, v.gu, N, I);
        op->matmul_fwd(be, v.xo, v.h, W(lo->down), v.mid, N, I, C);
    }
    void *xL = sbti_at(be, a->resid, SBTI_MEM_ACT, (size_t)m->L * N * C);
    op->rmsnorm_fwd(be, a->lnf, a->rstdf, xL, W(m->off_norm), N, C, eps);
    op->matmul_fwd(be, a->logits, a->lnf, W(m->off_lm_head), NULL, N, C, V);
#undef W
    a->has_targets = targets != NULL;
    if (targets) {
        op->cross_entropy(be, a->losses, a->logits, a->targets, N, V, 0.0f);
        float *losses = malloc(sizeof(float) * (size_t)N);
        if (!losses)
            return sbti_fail(SBT_E_OUT_OF_MEMORY, "model: out of memory");
        st = op->download(be, losses, a->losses, SBTI_MEM_F32, 0, (size_t)N);
        double sum = 0;
        for (int i = 0; i < N; i++)
            sum += losses[i];
        free(losses);
        if (loss_sum)
            *loss_sum = sum;
        if (n_labelled)
            *n_labelled = labelled;
        return st;
    }
    return sbti_backend_check(be);
}

sbt_status sbti_model_download_logits(sbt_model *m, float *out)
{
    const sbti_acts *a = &m->acts;
    if (!a->logits)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "model: no forward has run");
    return m->be->ops->download(m->be, out, a->logits, SBTI_MEM_ACT, 0,
                                (size_t)a->B * a->T * m->V);
}

sbt_status sbti_model_zero_grad(sbt_model *m)
{
    sbti_backend *be = m->be;
    if (!m->grad)
        return be->ops->alloc(be, &m->grad, SBTI_MEM_GRAD, m->n_elems); /* zero-filled */
    be->ops->zero(be, m->grad, SBTI_MEM_GRAD, m->n_elems);
    return SBT_OK;
}

sbt_status sbti_model_backward(sbt_model *m, float dscale)
{
    sbti_acts *a = &m->acts;
    if (!a->resid || !a->has_targets)
        return sbti_fail(SBT_E_INVALID_ARGUMENT,
                         "model: backward needs a forward with targets just before it");
    if (!m->grad) {
        sbt_status st = sbti_model_zero_grad(m);
        if (st != SBT_OK)
            return st;
    }
    a->has_targets = 0; /* the logits become their gradient: one backward per forward */
    sbti_backend *be = m->be;
    const sbti_backend_ops *op = be->ops;
    const int B = a->B, T = a->T, N = B * T, C = m->C, I = m->I, V = m->V;
#define W(off) sbti_at(be, m->w, SBTI_MEM_PARAM, (off))
#define G(off) sbti_at(be, m->grad, SBTI_MEM_GRAD, (off))

    op->cross_entropy(be, a->losses, a->logits, a->targets, N, V, dscale); /* logits -> dlogits */
    op->matmul_bwd(be, a->dln, G(m->off_lm_head), a->logits, a->lnf, W(m->off_lm_head), N, C, V);
    op->zero(be, a->dresid, SBTI_MEM_ACT, (size_t)N * C);
    void *xL = sbti_at(be, a->resid, SBTI_MEM_ACT, (size_t)m->L * N * C);
    op->rmsnorm_bwd(be, a->dresid, G(m->off_norm), a->dln, xL, W(m->off_norm), a->rstdf, N, C);

    for (int l = m->L - 1; l >= 0; l--) {
        const sbti_layer_offsets *lo = &m->layer[l];
        const layer_acts v = layer_view(m, l);
        /* dresid holds d/dx'. The MLP branch: */
        op->matmul_bwd(be, a->dmid, G(lo->down), a->dresid, v.h, W(lo->down), N, I, C); /* dh */
        op->swiglu_bwd(be, a->dbig, a->dmid, v.gu, N, I);                                 /* dgu */
        op->matmul_bwd(be, a->dln, G(lo->gu), a->dbig, v.ln2, W(lo->gu), N, C, 2 * I);    /* dln2 */
        op->rmsnorm_bwd(be, a->dresid, G(lo->ln2), a->dln, v.mid, W(lo->ln2), v.rstd2, N, C);
        /* dresid now holds d/dmid. The attention branch: */
        op->matmul_bwd(be, a->dmid, G(lo->o), a->dresid, v.att, W(lo->o), N, m->att_dim, C);
        op->attention_bwd(be, a->dbig, a->dmid, v.qkv, v.att, v.lse, a->len, B, T, m->nh, m->nkv,
                          m->hd);
        op->rope_bwd(be, a->dbig, a->pos, m->inv_freq, N, m->nh, m->nkv, m->hd);
        op->matmul_bwd(be, a->dln, G(lo->qkv), a->dbig, v.ln1, W(lo->qkv), N, C, m->qkv_dim);
        op->rmsnorm_bwd(be, a->dresid, G(lo->ln1), a->dln, v.x, W(lo->ln1), v.rstd1, N, C);
        /* dresid now holds d/dx */
    }
    /* torch's nn.Embedding(padding_idx=pad) gives the padding row no gradient from the lookup
     * (transformers builds the embedding so when pad_token_id is set); a tied LM head's share,
     * added above, stays. So: keep the row, scatter, put the row back. */
    const int64_t pad = m->cfg.pad_token_id;
    void *grow = pad >= 0 && pad < V ? G(m->off_embed + (size_t)pad * C) : NULL;
    if (grow)
        op->copy(be, a->gpad, grow, SBTI_MEM_GRAD, (size_t)C);
    op->embedding_bwd(be, G(m->off_embed), a->dresid, a->tokens, N, C);
    if (grow)
        op->copy(be, grow, a->gpad, SBTI_MEM_GRAD, (size_t)C);
#undef W
#undef G
    return sbti_backend_check(be);
}

sbt_status sbti_model_grad_norm(sbt_model *m, double *norm)
{
    if (!m->grad) {
        *norm = 0;
        return SBT_OK;
    }
    double ss = m->be->ops->sumsq(m->be, m->grad, m->n_elems);
    *norm = sqrt(ss);
    return sbti_backend_check(m->be);
}

sbt_status sbti_model_alloc_optimizer(sbt_model *m)
{
    sbti_backend *be = m->be;
    sbt_status st = SBT_OK;
    if (!m->grad)
        st = be->ops->alloc(be, &m->grad, SBTI_MEM_GRAD, m->n_elems);
    if (st == SBT_OK && !m->adam_m)
        st = be->ops->alloc(be, (void **)&m->adam_m, SBTI_MEM_F32, m->n_elems);
    if (st == SBT_OK && !m->adam_v)
        st = be->ops->alloc(be, (void **)&m->adam_v, SBTI_MEM_F32, m->n_elems);
    return st;
}

sbt_status sbti_model_adamw_step(sbt_model *m, const sbti_optim_args *a, double *grad_norm)
{
    sbti_backend *be = m->be;
    sbt_status st = sbti_model_alloc_optimizer(m);
    double norm = 0;
    if (st == SBT_OK)
        st = sbti_model_grad_norm(m, &norm);
    if (st != SBT_OK)
        return st;
    if (grad_norm)
        *grad_norm = norm;
    if (!isfinite(norm))
        return sbti_fail(SBT_E_INVALID_ARGUMENT,
                         "model: the gradient norm is %g; the step was not taken", norm);
    /* torch.nn.utils.clip_grad_norm_: clip_coef = max_norm / (total_norm + 1e-6), clamped to 1
     * (in fp32, as torch computes it on fp32 gradients). */
    float scale = 1.0f;
    if (a->max_grad_norm > 0) {
        float coef = a->max_grad_norm / ((float)norm + 1e-6f);
        scale = coef < 1.0f ? coef : 1.0f;
    }
    sbti_adamw_args args = {.lr = a->lr, .beta1 = a->beta1, .beta2 = a->beta2, .eps = a->eps,
                            .weight_decay = a->weight_decay, .grad_scale = scale,
                            .step = a->step};
    float *master = m->master;
    be->ops->adamw(be, m->w, master, m->grad, m->adam_m, m->adam_v, m->n_decay, &args);
    args.weight_decay = 0.0f;
    size_t rest = m->n_elems - m->n_decay;
    be->ops->adamw(be, sbti_at(be, m->w, SBTI_MEM_PARAM, m->n_decay),
                   master ? master + m->n_decay : NULL,
                   sbti_at(be, m->grad, SBTI_MEM_GRAD, m->n_decay), m->adam_m + m->n_decay,
                   m->adam_v + m->n_decay, rest, &args);
    return sbti_backend_check(be);
}

void sbti_model_release_training(sbt_model *m)
{
    sbti_backend *be = m->be;
    free_acts(be, &m->acts);
    be->ops->free(be, m->grad);
    be->ops->free(be, m->adam_m);
    be->ops->free(be, m->adam_v);
    m->grad = NULL;
    m->adam_m = m->adam_v = NULL;
}
