/* backend.h — internal: the tensor operations the Llama graph is written against (DESIGN §4).
 *
 * A backend owns memory and runs operations on it. lib/model calls only what is declared here,
 * so the fp32 CPU reference (lib/backend/cpu) and the bf16 CUDA fast path (lib/backend/cuda)
 * serve the same model code.
 *
 * Memory. Every buffer is allocated by the backend with a kind (sbti_mem) that fixes its element
 * type on that backend: the CPU backend stores every float kind as fp32; the CUDA backend stores
 * PARAM and ACT as bf16 and keeps GRAD, F32 as fp32. I32 is always int32. Pointers returned by
 * alloc are device pointers: the model never dereferences them, it only offsets them with
 * sbti_at() and passes them to operations. Sizes and offsets are in elements.
 *
 * Layouts. Matrices are row-major. A weight matrix is stored as nn.Linear stores it,
 * (out_features, in_features), so a linear layer is out = inp · Wᵀ. The fused QKV projection
 * gives rows of (nh + 2*nkv) * hd values: nh query heads, then nkv key heads, then nkv value
 * heads, each head hd contiguous values. The fused gate/up projection gives rows of 2*I
 * values: gate (I), then up (I).
 *
 * Threads. A backend is driven by one host thread at a time (the CPU backend parallelises each
 * operation itself, with OpenMP).
 *
 * Errors. Operations return nothing: a failure inside one (an asynchronous CUDA error, say) is
 * recorded in the backend, the first one wins, and later operations may do nothing. The model
 * reads it with sbti_backend_check() at the end of every forward, backward and step. Only
 * allocation and transfers return a status directly.
 *
 * Gradients. Operations named *_bwd write the gradient of their input (overwriting it, unless
 * the comment says +=) and ADD the gradient of their parameters into the parameter-gradient
 * buffers, so gradients accumulate over micro-batches and tied weights until zeroed. */
#ifndef SBTI_BACKEND_BACKEND_H
#define SBTI_BACKEND_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "io/safetensors.h" /* sbti_dtype: the host-side element types of uploads */
#include "selfbt/backend.h"
#include "selfbt/status.h"

typedef enum sbti_mem {
    SBTI_MEM_PARAM = 0, /* weights as the forward reads them       (cpu fp32, cuda bf16) */
    SBTI_MEM_GRAD = 1,  /* parameter gradients                      (cpu fp32, cuda fp32) */
    SBTI_MEM_ACT = 2,   /* activations, their gradients, logits, KV (cpu fp32, cuda bf16) */
    SBTI_MEM_F32 = 3,   /* always fp32: master weights, AdamW moments, rstd, lse, losses  */
    SBTI_MEM_I32 = 4,   /* int32: token ids, targets, positions, lengths, page tables     */
    SBTI_MEM_COUNT = 5
} sbti_mem;

/* AdamW hyper-parameters for one call; torch.optim.AdamW semantics (see adamw below). */
typedef struct sbti_adamw_args {
    float lr;
    float beta1, beta2;
    float eps;
    float weight_decay; /* decoupled: p *= 1 - lr * weight_decay, before the Adam update */
    float grad_scale;   /* gradients are multiplied by this first (global-norm clipping) */
    int64_t step;       /* 1 for the first step: bias corrections 1 - beta^step */
} sbti_adamw_args;

typedef struct sbti_backend sbti_backend;

/* What select keeps of a row of logits x and how it orders it (transformers' warpers, SPEC §4.3).
 *   lp(i)  = x[i] - logsumexp(x)                     (log-prob at temperature 1)
 * !sample: every finite token is kept; key = lp        (greedy, beam search)
 *  sample: temperature, then top-k, then top-p, as TemperatureLogitsWarper, TopKLogitsWarper and
 *          TopPLogitsWarper do to a row: rank the tokens by x (equal x: the smaller id first);
 *          top-k keeps the first max(top_k, min_keep); top-p keeps, of those, the first
 *          max(min_keep, J), J = the number of ranks j whose probability mass ranked above j
 *          (softmax of x / temperature over the top-k set) is below top_p;
 *          key = lp / temperature + g, g = -log(-log(u)), u = sbti_select_uniform(seed, id):
 *          the best key of a row is a draw from its warped distribution, and the k best keys,
 *          each plus a per-row constant (a beam's score), are a draw without replacement
 *          (Gumbel top-k) across rows.
 * NaN logits count as -inf (never kept). */
typedef struct sbti_select_args {
    int sample;
    float temperature; /* sample: > 0               */
    int top_k;         /* sample: 0 = off           */
    float top_p;       /* sample: >= 1 = off        */
    int min_keep;      /* sample: >= 1              */
    int k;             /* 1 .. SBTI_SELECT_MAX_K    */
    int32_t extra_id;  /* 0 .. V-1, or -1: extra_lp not written */
    int row_stride;    /* elements from one logits row to the next: 0 means V, else >= V (rows
                        * padded, e.g. to a multiple of 8 columns; the padding is never read) */
} sbti_select_args;

#define SBTI_SELECT_MAX_K 512

/* The uniform in (0, 1) behind a token's Gumbel noise: the top 23 bits of a SplitMix64 mix of
 * seed + (id + 1) * 0x9E3779B97F4A7C15, plus one half, times 2^-23 (exact in fp32, so never 0
 * or 1: with 24 bits the top value rounded to 1 and its Gumbel noise was +inf). Host and device
 * compute it bit for bit alike. */
#ifdef __CUDACC__
__host__ __device__
#endif
static inline float sbti_select_uniform(uint64_t seed, int32_t id)
{
    uint64_t z = seed + (uint64_t)((int64_t)id + 1) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return ((float)(z >> 41) + 0.5f) * (1.0f / 8388608.0f);
}


typedef struct sbti_backend_ops {
    void (*destroy)(sbti_backend *be);

    /* ---- memory -------------------------------------------------------------------- */

    /* *out = n elements of kind, zero-filled. SBT_E_OUT_OF_MEMORY naming the size on failure. */
    sbt_status (*alloc)(sbti_backend *be, void **out, sbti_mem kind, size_t n);
    void (*free)(sbti_backend *be, void *p); /* NULL-safe */
    /* dst[off .. off+n) (a float kind) = src[0..n) host values of src_dtype, converted;
     * for kind I32, src_dtype is ignored and src holds int32. */
    sbt_status (*upload)(sbti_backend *be, void *dst, sbti_mem kind, size_t off, const void *src,
                         sbti_dtype src_dtype, size_t n);
    /* host dst[0..n) = src[off .. off+n) of kind: fp32 for float kinds, int32 for I32.
     * Waits for queued work and returns the backend's recorded error, if any. */
    sbt_status (*download)(sbti_backend *be, void *dst, const void *src, sbti_mem kind, size_t off,
                           size_t n);
    void (*zero)(sbti_backend *be, void *p, sbti_mem kind, size_t n);
    /* dst[0..n) = src[0..n), same kind; the ranges must not overlap. */
    void (*copy)(sbti_backend *be, void *dst, const void *src, sbti_mem kind, size_t n);
    /* Waits for queued work; returns the recorded error (and keeps it). */
    sbt_status (*sync)(sbti_backend *be);

    /* ---- layers ---------------------------------------------------------------------- */

    /* out(N,C) ACT = wte(V,C) PARAM rows tok(N) I32. Ids are checked by the caller. */
    void (*embedding_fwd)(sbti_backend *be, void *out, const int32_t *tok, const void *wte, int N,
                          int C);
    /* dwte(V,C) GRAD += dout(N,C) ACT scattered by tok(N). */
    void (*embedding_bwd)(sbti_backend *be, void *dwte, const void *dout, const int32_t *tok,
                          int N, int C);

    /* out(N,C) ACT = inp * rsqrt(mean(inp²) + eps) * w(C) PARAM, per row (HF LlamaRMSNorm);
     * rstd(N) F32 = the row's rsqrt, kept for backward (may be NULL). out may not alias inp. */
    void (*rmsnorm_fwd)(sbti_backend *be, void *out, float *rstd, const void *inp, const void *w,
                        int N, int C, float eps);
    /* dinp(N,C) ACT += ∂/∂inp; dw(C) GRAD += ∂/∂w, for dout(N,C) ACT (either may be NULL to
     * skip it). rstd must be the forward's (it is not recomputed: eps is not passed). */
    void (*rmsnorm_bwd)(sbti_backend *be, void *dinp, void *dw, const void *dout, const void *inp,
                        const void *w, const float *rstd, int N, int C);

    /* out(N,M) ACT = inp(N,K) ACT · w(M,K)ᵀ PARAM [+ res(N,M) ACT when res is not NULL].
     * out may equal res (an in-place residual add); it may not alias inp. */
    void (*matmul_fwd)(sbti_backend *be, void *out, const void *inp, const void *w,
                       const void *res, int N, int K, int M);
    /* dinp(N,K) ACT = dout(N,M) · w (skipped when dinp is NULL);
     * dw(M,K) GRAD += doutᵀ · inp (skipped when dw is NULL). */
    void (*matmul_bwd)(sbti_backend *be, void *dinp, void *dw, const void *dout, const void *inp,
                       const void *w, int N, int K, int M);

    /* RoPE in place on the nh query heads and nkv key heads of qkv(N, (nh+2*nkv)*hd) ACT, as
     * transformers' rotate_half: for i < hd/2, the pair (x[i], x[i+hd/2]) is rotated by the
     * angle pos[n] * inv_freq[i] (the product rounded to fp32, then cos/sin). pos(N) I32,
     * inv_freq(hd/2) F32. The value heads are untouched. */
    void (*rope_fwd)(sbti_backend *be, void *qkv, const int32_t *pos, const float *inv_freq,
                     int N, int nh, int nkv, int hd);
    /* The inverse rotation, in place on dqkv: the gradient through rope_fwd. */
    void (*rope_bwd)(sbti_backend *be, void *dqkv, const int32_t *pos, const float *inv_freq,
                     int N, int nh, int nkv, int hd);

    /* Causal grouped-query attention over B rows of T tokens: qkv(B*T, (nh+2*nkv)*hd) ACT
     * (RoPE applied); query head h reads key/value head h / (nh/nkv). Query i of row b attends
     * keys j <= i with j < len[b] (right padding; len(B) I32, or NULL for all T), with scale
     * 1/sqrt(hd). out(B*T, nh*hd) ACT; lse(B, nh, T) F32 = log-sum-exp of each query's scaled
     * scores, kept for backward (may be NULL). */
    void (*attention_fwd)(sbti_backend *be, void *out, float *lse, const void *qkv,
                          const int32_t *len, int B, int T, int nh, int nkv, int hd);
    /* dqkv(B*T, (nh+2*nkv)*hd) ACT = the gradient for dout(B*T, nh*hd) ACT, given the
     * forward's qkv, out and lse. */
    void (*attention_bwd)(sbti_backend *be, void *dqkv, const void *dout, const void *qkv,
                          const void *out, const float *lse, const int32_t *len, int B, int T,
                          int nh, int nkv, int hd);

    /* out(N,I) ACT = silu(gate) * up, with gu(N,2I) ACT = [gate | up] per row. */
    void (*swiglu_fwd)(sbti_backend *be, void *out, const void *gu, int N, int I);
    /* dgu(N,2I) ACT = the gradient for dout(N,I) ACT. */
    void (*swiglu_bwd)(sbti_backend *be, void *dgu, const void *dout, const void *gu, int N, int I);

    /* Softmax cross-entropy of logits(N,V) ACT against targets(N) I32 (a negative target is
     * ignored: loss 0, gradient 0; a target >= V is a caller bug, recorded as SBT_E_INTERNAL). loss(N) F32 = logsumexp - logit[target]. When dscale is
     * not 0, logits is overwritten with its gradient, dscale * (softmax - onehot), for every
     * row (ignored rows become 0); probabilities are never kept. */
    void (*cross_entropy)(sbti_backend *be, float *loss, void *logits, const int32_t *targets,
                          int N, int V, float dscale);

    /* ---- KV cache (decoding) ------------------------------------------------------------- */

    /* The cache of one layer is two pools kcache, vcache (n_slots, nkv*hd) ACT; a slot is
     * page * page_size + offset. Writes the key and value heads of qkv(N, (nh+2*nkv)*hd) ACT
     * (after RoPE) into slot[n] (N) I32; a token whose slot is negative is not stored (the
     * dummy tokens that pad a forward to a recorded shape, kv_cache.c). */
    void (*kv_store)(sbti_backend *be, void *kcache, void *vcache, const void *qkv,
                     const int32_t *slot, int N, int nh, int nkv, int hd);
    /* Attention of N query tokens against the cache: token n belongs to sequence seq[n] and sits
     * at position pos[n]; it attends the positions 0..pos[n] of its sequence, position p being
     * in slot pages[seq[n] * max_pages + p / page_size] * page_size + p % page_size (its own
     * key and value must have been stored already). The queries come from qkv(N, ...) ACT;
     * out(N, nh*hd) ACT. seq, pos (N) and pages (n_seq, max_pages) are I32. */
    void (*attention_paged)(sbti_backend *be, void *out, const void *qkv, const void *kcache,
                            const void *vcache, const int32_t *seq, const int32_t *pos,
                            const int32_t *pages, int max_pages, int page_size, int N, int nh,
                            int nkv, int hd);
    /* out(N,C) ACT = inp rows idx(N) I32 of an ACT matrix with C columns. */
    void (*gather_rows)(sbti_backend *be, void *out, const void *inp, const int32_t *idx, int N,
                        int C);

    /* Next-token candidates of R rows of logits(R,V) ACT, so that a decoding step downloads a
     * few numbers per row instead of V (sbti_select_args says what is kept and how it is
     * ordered). Row r's V logits start at logits + r * stride, stride = args->row_stride or V
     * where that is 0. Per row r:
     *   ids(R,k) I32, lp(R,k) F32, key(R,k) F32: the min(k, kept) best kept tokens by key,
     *     best first (equal keys: the smaller id first); the entries past them are id -1;
     *   kept(R) I32: how many tokens the warpers keep (0 when the row has no finite logit);
     *   extra_lp(R) F32 (may be NULL): log p(args->extra_id) at temperature 1.
     * seeds(R,2) I32 hold each row's 64-bit noise seed (low word first); NULL when !sample. */
    void (*select)(sbti_backend *be, int32_t *ids, float *lp, float *key, int32_t *kept,
                   float *extra_lp, const void *logits, const int32_t *seeds, int R, int V,
                   const struct sbti_select_args *args);

    /* ---- optimizer ------------------------------------------------------------------------ */

    /* Sum of squares of grad[0..n) GRAD, in double on the host (waits for queued work). */
    double (*sumsq)(sbti_backend *be, const void *grad, size_t n);
    /* One AdamW step over n elements, torch.optim.AdamW (amsgrad off, maximize off):
     *   g = grad * grad_scale
     *   p = p * (1 - lr * weight_decay)
     *   m = beta1 * m + (1 - beta1) * g;   v = beta2 * v + (1 - beta2) * g²
     *   p = p - (lr / (1 - beta1^step)) * m / (sqrt(v) / sqrt(1 - beta2^step) + eps)
     * param PARAM; master F32 holds the fp32 weights where the backend keeps them apart
     * (master_weights = 1: the update is done on master, and param is its rounding), NULL
     * otherwise; grad GRAD; m, v F32. */
    void (*adamw)(sbti_backend *be, void *param, float *master, const void *grad, float *m,
                  float *v, size_t n, const sbti_adamw_args *args);

    /* ---- graphs (NULL where the backend has none) ------------------------------------------ */

    /* Record the operations queued between graph_begin and graph_end, without running them, as
     * a graph that graph_launch replays on the same buffers (whose contents may change between
     * launches: uploads before a launch are seen by it). Nothing else (alloc, free, download,
     * upload, sync, sumsq) may be called while recording. graph_end returns the recorded
     * failure, if any, and *graph = NULL then. */
    sbt_status (*graph_begin)(sbti_backend *be);
    sbt_status (*graph_end)(sbti_backend *be, void **graph);
    /* SBT_E_NOT_FOUND (not recorded as a failure): the graph is stale, a buffer the backend
     * keeps for itself moved since it was recorded; free it and record it again. */
    sbt_status (*graph_launch)(sbti_backend *be, void *graph);
    void (*graph_free)(sbti_backend *be, void *graph); /* NULL-safe */

    /* ---- overlap: downloads that do not wait, and fences ----------------------------------- */

    /* With these the host can prepare the next piece of work while the device runs the last
     * one (the decoder keeps two batches in flight). Backends whose operations finish before
     * they return (the CPU's) implement them trivially.
     * host_alloc: host memory that download_async can fill without the host waiting (pinned
     * on CUDA; NULL when out of memory); freed by host_free (NULL-safe). */
    void *(*host_alloc)(sbti_backend *be, size_t bytes);
    void (*host_free)(sbti_backend *be, void *p);
    /* Queues the download of n elements of an I32 or F32 buffer (no conversion) into dst, host
     * memory, behind the queued work, and returns: dst holds them once fence_wait returns for
     * a fence recorded after this call. dst from host_alloc: the host does not wait here (any
     * other host memory works too, but the call may wait for the queued work). */
    sbt_status (*download_async)(sbti_backend *be, void *dst, const void *src, sbti_mem kind,
                                 size_t off, size_t n);
    /* Marks the point the queued work has reached: *fence is made on first use (NULL in) and
     * reused after; a record replaces the fence's previous mark. */
    sbt_status (*fence_record)(sbti_backend *be, void **fence);
    /* Waits until the work queued before the fence's mark is done; returns the first recorded
     * failure, as sbti_backend_check does. */
    sbt_status (*fence_wait)(sbti_backend *be, void *fence);
    void (*fence_free)(sbti_backend *be, void *fence); /* NULL-safe */
} sbti_backend_ops;

/* Every backend starts with this. */
struct sbti_backend {
    const sbti_backend_ops *ops;
    const char *name;                      /* "cpu", "cuda" */
    char description[256];                 /* device, memory, library versions */
    size_t elem_size[SBTI_MEM_COUNT];      /* bytes per element of each kind */
    int master_weights;                    /* 1: PARAM is a rounding of fp32 master weights */
    int asynchronous;                      /* 1: operations return before they are done, so
                                            * host work can overlap them (CUDA) */
    sbt_status error;                      /* first recorded failure (SBT_OK: none) */
    char error_msg[512];                   /* its message */
};

/* p advanced by n elements of kind. */
static inline void *sbti_at(const sbti_backend *be, const void *p, sbti_mem kind, size_t n)
{
    return (char *)p + n * be->elem_size[kind];
}

/* Records a failure (the first one is kept) and returns it; the message also goes to
 * sbt_last_error on this thread. For backend implementations. */
sbt_status sbti_backend_fail(sbti_backend *be, sbt_status st, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Waits for queued work and returns the first recorded failure (SBT_OK if none), setting
 * sbt_last_error to its message. The failure stays recorded. */
sbt_status sbti_backend_check(sbti_backend *be);

/* select on host fp32 logits (R, V; row r at logits + r * (args->row_stride or V)), outputs as
 * the op's, on the host: the CPU backend's op, and the decoder's path for logits that a
 * caller's function returns. Row r's candidates go to ids, lp, key + r * ld (ld >= k; the op's
 * layout is ld = k). Returns -1 when out of memory.
 * sbti_select_check says whether the arguments are valid for R rows of V (sbt_last_error names
 * the bad one). */
int sbti_select_host(int32_t *ids, float *lp, float *key, int ld, int32_t *kept, float *extra_lp,
                     const float *logits, const int32_t *seeds, int R, int V,
                     const sbti_select_args *args);
sbt_status sbti_select_check(const sbti_select_args *args, int R, int V);

/* The CPU reference backend; num_threads <= 0 leaves OpenMP's default. */
sbt_status sbti_backend_cpu_create(sbti_backend **out, int num_threads);

/* The CUDA backend on device `device` (lib/backend/cuda); SBT_E_UNSUPPORTED where the library
 * was built without CUDA, SBT_E_NOT_FOUND where no usable GPU is present. */
sbt_status sbti_backend_cuda_create(sbti_backend **out, int device);

void sbti_backend_destroy(sbti_backend *be); /* NULL-safe */

/* The backend behind a public handle (backend_api.c). */
sbti_backend *sbti_backend_of(const sbt_backend *be);

#endif /* SBTI_BACKEND_BACKEND_H */
