/* model.h — internal: the Llama model as lib/train and lib/decode see it.
 *
 * Parameters live in one PARAM buffer of the backend (and gradients, when training, in one
 * GRAD buffer of the same layout). Each Hugging Face tensor is one contiguous range of it; the
 * ranges are laid out so that the projections the forward fuses are adjacent rows of one
 * matrix — q_proj, k_proj, v_proj form the (nh+2*nkv)*hd x C QKV matrix, gate_proj and
 * up_proj the 2I x C gate/up matrix — and so that every weight-decayed tensor (the matrices)
 * comes before every undecayed one (the norm weights): AdamW runs as two calls.
 *
 *   [embed | per layer: qkv, o, gate_up, down | lm_head if untied]  decayed
 *   [per layer: input_layernorm, post_attention_layernorm | norm]   not decayed
 *
 * The training forward keeps every activation the backward needs (llm.c style) for the last
 * (B, T) it ran; the decoding forward (kv_cache.c) reads and extends a paged KV cache. */
#ifndef SBTI_MODEL_MODEL_H
#define SBTI_MODEL_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "backend/backend.h"
#include "model/config.h"
#include "selfbt/model.h"

/* One Hugging Face tensor: its name and where it sits in the parameter buffer. */
typedef struct sbti_param {
    char name[80];    /* "model.layers.0.self_attn.q_proj.weight" */
    int ndim;         /* 1 or 2 */
    int64_t shape[2]; /* (rows, cols) or (n) */
    size_t offset;    /* in elements */
    size_t numel;
} sbti_param;

/* Offsets (elements) of one layer's tensors in the parameter buffer. */
typedef struct sbti_layer_offsets {
    size_t ln1;  /* (C)               input_layernorm.weight           */
    size_t qkv;  /* ((nh+2nkv)*hd, C) q_proj, k_proj, v_proj stacked  */
    size_t o;    /* (C, nh*hd)        o_proj.weight                    */
    size_t ln2;  /* (C)               post_attention_layernorm.weight  */
    size_t gu;   /* (2I, C)           gate_proj, up_proj stacked       */
    size_t down; /* (C, I)            down_proj.weight                 */
} sbti_layer_offsets;

/* Activations of one training forward, kept for its backward: device buffers sized for
 * n_tok = B*T tokens (reallocated when a larger batch comes). */
typedef struct sbti_acts {
    int B, T;         /* the shape of the last forward                   */
    size_t cap_tok;   /* tokens the buffers hold                         */
    int32_t *tokens;  /* (N) I32                                         */
    int32_t *targets; /* (N) I32, -1 where not labelled                  */
    int32_t *pos;     /* (N) I32                                         */
    int32_t *len;     /* (B) I32 (cap_tok entries)                       */
    void *resid;      /* (L+1, N, C) ACT: the residual stream into each layer, and out */
    void *ln1;        /* (L, N, C)                                       */
    float *rstd1;     /* (L, N) F32                                      */
    void *qkv;        /* (L, N, (nh+2nkv)*hd), RoPE applied              */
    void *att;        /* (L, N, nh*hd)                                   */
    float *lse;       /* (L, B, nh, T) F32                               */
    void *mid;        /* (L, N, C): residual after attention             */
    void *ln2;        /* (L, N, C)                                       */
    float *rstd2;     /* (L, N) F32                                      */
    void *gu;         /* (L, N, 2I)                                      */
    void *h;          /* (L, N, I)                                       */
    void *lnf;        /* (N, C)                                          */
    float *rstdf;     /* (N) F32                                         */
    void *logits;     /* (N, V): logits, then their gradient after backward */
    float *losses;    /* (N) F32                                         */
    /* scratch for the backward */
    void *dresid;     /* (N, C)                                          */
    void *dln;        /* (N, C)                                          */
    void *dbig;       /* (N, max((nh+2nkv)*hd, 2I))                      */
    void *dmid;       /* (N, max(nh*hd, I))                              */
    void *gpad;       /* (C) GRAD: the padding row's gradient, kept across embedding_bwd */
    int has_targets;  /* the last forward computed the loss              */
} sbti_acts;

struct sbt_model {
    sbti_backend *be;
    sbti_config cfg;
    int L, C, I, V, nh, nkv, hd;
    int qkv_dim; /* (nh + 2*nkv) * hd */
    int att_dim; /* nh * hd */

    sbti_param *params; /* [n_params] in buffer order */
    size_t n_params;
    size_t n_elems;     /* elements in the parameter buffer */
    size_t n_decay;     /* the first n_decay elements are weight-decayed */
    size_t off_embed, off_lm_head, off_norm; /* off_lm_head == off_embed when tied */
    sbti_layer_offsets *layer;               /* [L] */

    void *w;        /* (n_elems) PARAM */
    float *master;  /* (n_elems) F32 where the backend keeps master weights, else NULL */
    void *grad;     /* (n_elems) GRAD, NULL until training starts */
    float *adam_m;  /* (n_elems) F32, NULL until the first step */
    float *adam_v;
    float *inv_freq; /* (hd/2) F32 */

    sbti_acts acts;
};

/* ---- parameters (params.c) ---------------------------------------------------------- */

/* Builds m->params, layer offsets and sizes from m->cfg (validated); no allocation of the
 * buffer itself. */
sbt_status sbti_model_layout(sbt_model *m);
/* The tensor called name, or NULL. */
const sbti_param *sbti_model_param(const sbt_model *m, const char *name);
/* Allocates w (and master) for m->n_elems, uploads inv_freq. w has room past its end for
 * sbti_logits_ld(m) - V more LM-head rows (zero, or whatever tensor follows the head), so that
 * the head can run as a product over a multiple of 8 rows (aligned for cuBLASLt). */
sbt_status sbti_model_alloc_weights(sbt_model *m);

/* The row length of logits the decoding forward writes: V rounded up to a multiple of 8 (the
 * columns past V are not logits of anything; select reads V of each row). */
static inline int sbti_logits_ld(const sbt_model *m)
{
    return (m->V + 7) / 8 * 8;
}
/* A model skeleton on be for a validated config (layout + buffers, weights zero). */
sbt_status sbti_model_new(sbt_model **out, sbti_backend *be, const sbti_config *cfg);
/* A model with fresh weights (init.c): as transformers initialises them, from seed. */
sbt_status sbti_model_create_seeded(sbt_model **out, sbti_backend *be, const sbti_config *cfg,
                                    uint64_t seed);
/* Writes weights from host values of dtype into the tensor p (numel values); keeps master. */
sbt_status sbti_model_set_param(sbt_model *m, const sbti_param *p, const void *src,
                                sbti_dtype dtype);
/* Reads the tensor p into host fp32 out[p->numel]; from the master weights where they exist. */
sbt_status sbti_model_get_param(const sbt_model *m, const sbti_param *p, float *out);
/* Reads the gradient of tensor p (zeros before any backward). */
sbt_status sbti_model_get_grad(const sbt_model *m, const sbti_param *p, float *out);

/* ---- training (train_step.c) --------------------------------------------------------- */

/* The forward of B rows of T tokens (host arrays): ids (B*T), lens (B, or NULL for all T).
 * targets (B*T, or NULL): the id each position must predict, or a negative value for none —
 * the caller shifts the labels (targets[b,t] = labels[b,t+1]). With targets, *loss_sum gets
 * the sum of the per-token losses and *n_labelled the count of labelled positions. Keeps the
 * activations for sbti_model_backward. */
sbt_status sbti_model_forward_train(sbt_model *m, const int32_t *ids, const int32_t *lens,
                                    int B, int T, const int32_t *targets, double *loss_sum,
                                    int64_t *n_labelled);
/* Host copy of the last forward's logits: out[(B*T) * V] (before sbti_model_backward). */
sbt_status sbti_model_download_logits(sbt_model *m, float *out);
/* Adds to the gradients d(dscale * loss_sum)/dparams of the last forward (which had targets);
 * allocates the gradient buffer on first use. dscale is 1 / (labelled tokens of the whole
 * optimizer step) for a token-mean loss. */
sbt_status sbti_model_backward(sbt_model *m, float dscale);
/* Allocates what the optimizer keeps (gradients, AdamW moments) where missing, zero-filled. */
sbt_status sbti_model_alloc_optimizer(sbt_model *m);
/* Zeroes the gradients (allocating them if needed). */
sbt_status sbti_model_zero_grad(sbt_model *m);
/* The global L2 norm of the gradients, as torch.nn.utils.clip_grad_norm_ computes it. */
sbt_status sbti_model_grad_norm(sbt_model *m, double *norm);

typedef struct sbti_optim_args {
    float lr, beta1, beta2, eps, weight_decay;
    float max_grad_norm; /* <= 0: no clipping */
    int64_t step;        /* 1 for the first step */
} sbti_optim_args;

/* Clips the gradients to max_grad_norm (scale = min(1, max / (norm + 1e-6)), as torch) and runs
 * one AdamW step; weight decay only on the decayed range. *grad_norm (may be NULL) receives the
 * norm before clipping. */
sbt_status sbti_model_adamw_step(sbt_model *m, const sbti_optim_args *a, double *grad_norm);

/* Frees the activations, gradients and optimizer state (the weights stay). */
void sbti_model_release_training(sbt_model *m);

/* ---- decoding (kv_cache.c) ----------------------------------------------------------- */

typedef struct sbti_kv_cache sbti_kv_cache;

/* A paged KV cache for model m: n_pages pages of page_size positions, shared by up to max_seqs
 * sequences of at most max_len positions each (and one more page that padding reads). */
sbt_status sbti_kv_create(sbti_kv_cache **out, sbt_model *m, int max_seqs, int max_len,
                          int page_size, int n_pages);
void sbti_kv_free(sbti_kv_cache *kv);

/* How forwards run. GRAPHS is the default (SBT_CUDA_GRAPHS=0 at creation makes it EAGER). */
typedef enum sbti_kv_mode {
    SBTI_KV_EAGER = 0,  /* operation by operation, on the tokens given                       */
    SBTI_KV_GRAPHS = 1, /* where the backend records graphs: padded to a bucket of rows with
                         * dummy tokens, recorded once per bucket and replayed; EAGER elsewhere */
    SBTI_KV_PADDED = 2  /* padded as GRAPHS pads, operation by operation: tests check the
                         * padding on backends without graphs, and the graphs against it     */
} sbti_kv_mode;

void sbti_kv_set_mode(sbti_kv_cache *kv, sbti_kv_mode mode);

/* What the forwards of a cache did, for tests and benchmarks. */
typedef struct sbti_kv_stats {
    int64_t eager;    /* forwards queued operation by operation                         */
    int64_t captures; /* forwards recorded as a graph                                   */
    int64_t replays;  /* forwards run by launching a graph (each recording's first too) */
    int64_t padded;   /* dummy tokens added, over every forward                         */
    int64_t stale;    /* graphs found stale (the backend's scratch moved) and recorded again */
    int graphs;       /* graphs held now                                                */
} sbti_kv_stats;

sbti_kv_stats sbti_kv_get_stats(const sbti_kv_cache *kv);

/* Sequence handles are 0..max_seqs-1. A sequence is empty after kv_create and kv_seq_reset. */
int sbti_kv_seq_len(const sbti_kv_cache *kv, int seq);
/* Empties seq, giving its pages back. */
void sbti_kv_seq_reset(sbti_kv_cache *kv, int seq);
/* Makes dst a copy of src (dst's old pages are released): the pages are shared, and copied
 * only when one of them writes into a shared page (copy on write). */
void sbti_kv_seq_fork(sbti_kv_cache *kv, int dst, int src);
/* Shortens seq to len positions (a rollback): no recomputation. */
void sbti_kv_seq_truncate(sbti_kv_cache *kv, int seq, int len);

/* Appends n tokens: ids[i] to sequence seq[i], in order (a sequence's tokens consecutive or
 * not, each goes at the sequence's current end). For the k tokens i listed in out_rows
 * (indices into ids), logits[k * V ...] receive that token's next-token logits (host fp32).
 * SBT_E_OUT_OF_MEMORY naming the cache when pages run out, SBT_E_INVALID_ARGUMENT when a
 * sequence would pass max_len. */
sbt_status sbti_kv_forward(sbti_kv_cache *kv, const int32_t *ids, const int32_t *seq, int n,
                           const int32_t *out_rows, int n_out, float *logits);
/* The same, leaving the logits on the device: *logits = (n_out, sbti_logits_ld) ACT owned by
 * the cache (row k's V logits, then padding), valid until its next forward. */
sbt_status sbti_kv_forward_device(sbti_kv_cache *kv, const int32_t *ids, const int32_t *seq, int n,
                                  const int32_t *out_rows, int n_out, const void **logits);

#endif /* SBTI_MODEL_MODEL_H */
