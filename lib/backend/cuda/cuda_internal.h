/* cuda_internal.h — internal to lib/backend/cuda: the CUDA backend's struct, error checking,
 * scratch memory, and the operations each .cu file puts into the vtable (cuda_backend.cu).
 *
 * Storage: PARAM and ACT are bf16 (__nv_bfloat16), GRAD and F32 fp32, I32 int32; every kernel
 * accumulates in fp32 (sumsq in double). Everything runs on the backend's one stream, so work
 * is ordered and buffers (scratch, the cuBLASLt workspace) can be reused by the next operation
 * without waiting. Every kernel is `static` (or in an unnamed namespace) and the objects are
 * built with hidden visibility: nothing here is exported from libselfbt.so. No C++ library
 * features are used (no new/delete, exceptions, RTTI); nvcc's launch stubs still need the C++
 * ABI runtime (__cxa_guard_*), which cudart and cuBLASLt need anyway. */
#ifndef SBTI_BACKEND_CUDA_CUDA_INTERNAL_H
#define SBTI_BACKEND_CUDA_CUDA_INTERNAL_H

#include <cublasLt.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <stddef.h>
#include <stdint.h>

extern "C" {
#include "backend/backend.h"
}
#include "backend/cuda/cuda_hooks.h"

typedef __nv_bfloat16 bf16;

/* Max and sum over a warp's 32 lanes (every lane gets the result). */
__device__ __forceinline__ float sbti_warp_max(float x)
{
    for (int o = 16; o > 0; o >>= 1)
        x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, o));
    return x;
}

__device__ __forceinline__ float sbti_warp_sum(float x)
{
    for (int o = 16; o > 0; o >>= 1)
        x += __shfl_xor_sync(0xffffffffu, x, o);
    return x;
}

#define SBTI_CUDA_LT_WORKSPACE ((size_t)32 << 20) /* cuBLASLt workspace, allocated once */
#define SBTI_CUDA_MM_CACHE 64                     /* matmul descriptors kept, per backend */

/* One cached cuBLASLt plan: the descriptors and the heuristic's algorithm for one shape. */
typedef struct sbti_cuda_mm_plan {
    int used;
    /* key */
    int op;                 /* 0 fwd, 1 fwd+res, 2 bwd dinp, 3 bwd dw */
    int N, K, M;
    int ldm;                /* leading dimension of the (.., M) operand: M, or M padded to 8 */
    int align[4];           /* byte alignment of A, B, C, D (capped at 256) */
    /* value */
    int use_fallback;       /* 1: cuBLASLt had no algorithm; the plain kernel runs */
    cublasLtMatmulDesc_t desc;
    cublasLtMatrixLayout_t la, lb, lc, ld;
    cublasLtMatmulAlgo_t algo;
} sbti_cuda_mm_plan;

/* Attention modes (cuda_hooks.h); the default is AUTO. */
enum {
    SBTI_CUDA_ATTN_AUTO = 0,
    SBTI_CUDA_ATTN_CUDNN = 1,
    SBTI_CUDA_ATTN_CUDNN_NONDET = 2,
    SBTI_CUDA_ATTN_PLAIN = 3
};

typedef struct sbti_cuda_sdpa sbti_cuda_sdpa; /* cuDNN state (cuda_sdpa.cu) */

typedef struct sbti_cuda_backend {
    sbti_backend base; /* first, so an sbti_backend * is a sbti_cuda_backend * */
    int device;
    int num_sms;
    cudaStream_t stream;
    cublasLtHandle_t lt;
    void *lt_ws;         /* SBTI_CUDA_LT_WORKSPACE bytes */
    void *scratch;       /* grown on demand (sbti_cuda_scratch) */
    size_t scratch_size;
    unsigned long scratch_gen; /* +1 each time scratch moves: graphs recorded before are stale */
    double *host_double; /* pinned, one double: the result of sumsq */
    sbti_cuda_mm_plan plans[SBTI_CUDA_MM_CACHE];
    int plan_next;       /* the slot replaced when the table is full */
    int matmul_plain;    /* 1: every product through the plain kernel (SBT_CUDA_MATMUL=plain,
                          * for compute-sanitizer's racecheck, which fails inside cuBLASLt) */
    int attn_mode;       /* SBTI_CUDA_ATTN_*, from SBT_CUDA_ATTENTION at creation */
    int attn_cudnn;      /* 1: the last attention call ran through cuDNN */
    char attn_why[256];  /* why it did not, in a cuDNN mode ("" otherwise) */
    int64_t attn_ws_limit; /* deterministic cuDNN backward workspace limit (0: the default) */
    sbti_cuda_sdpa *sdpa; /* created on first use; NULL until then */
} sbti_cuda_backend;

static inline sbti_cuda_backend *sbti_cuda(sbti_backend *be) { return (sbti_cuda_backend *)be; }

/* Records a failed CUDA runtime call (what: the call and the operation) and returns 0;
 * returns 1 on cudaSuccess. An allocation failure is SBT_E_OUT_OF_MEMORY. */
int sbti_cuda_ok(sbti_backend *be, cudaError_t e, const char *what);

/* Checks the launch just made (cudaGetLastError); 1 if it went in. */
static inline int sbti_cuda_launched(sbti_backend *be, const char *kernel)
{
    return sbti_cuda_ok(be, cudaGetLastError(), kernel);
}

/* At the start of every operation: 0 when a failure is already recorded (the operation then
 * does nothing), else makes the backend's device current and returns 1. */
int sbti_cuda_begin(sbti_backend *be, const char *op);

/* At least `bytes` of device scratch, valid until the next call (stream-ordered: the previous
 * user's queued work is finished before the buffer is replaced). NULL with the failure
 * recorded, naming op. */
void *sbti_cuda_scratch(sbti_backend *be, size_t bytes, const char *op);

/* Blocks of `threads` for n items, at least 1, at most 2^31 - 1 (kernels loop over the rest). */
static inline unsigned sbti_cuda_blocks(size_t n, unsigned threads)
{
    size_t b = (n + threads - 1) / threads;
    if (b < 1)
        b = 1;
    if (b > 0x7fffffffu)
        b = 0x7fffffffu;
    return (unsigned)b;
}

/* ---- conversions (cuda_ops.cu) --------------------------------------------------------- */

/* dst[0..n) of type dst_bf16 ? bf16 : fp32 = src[0..n) device values of host dtype src_dtype. */
void sbti_cuda_convert_in(sbti_backend *be, void *dst, int dst_bf16, const void *src,
                          sbti_dtype src_dtype, size_t n);

/* ---- matmul (cuda_matmul.cu) ------------------------------------------------------------ */

void sbti_cuda_mm_plans_free(sbti_cuda_backend *cb);
void sbti_cuda_matmul_fwd(sbti_backend *be, void *out, const void *inp, const void *w,
                          const void *res, int N, int K, int M);
void sbti_cuda_matmul_bwd(sbti_backend *be, void *dinp, void *dw, const void *dout,
                          const void *inp, const void *w, int N, int K, int M);

/* ---- layers (cuda_ops.cu) --------------------------------------------------------------- */

void sbti_cuda_embedding_fwd(sbti_backend *be, void *out, const int32_t *tok, const void *wte,
                             int N, int C);
void sbti_cuda_embedding_bwd(sbti_backend *be, void *dwte, const void *dout, const int32_t *tok,
                             int N, int C);
void sbti_cuda_rmsnorm_fwd(sbti_backend *be, void *out, float *rstd, const void *inp,
                           const void *w, int N, int C, float eps);
void sbti_cuda_rmsnorm_bwd(sbti_backend *be, void *dinp, void *dw, const void *dout,
                           const void *inp, const void *w, const float *rstd, int N, int C);
void sbti_cuda_rope_fwd(sbti_backend *be, void *qkv, const int32_t *pos, const float *inv_freq,
                        int N, int nh, int nkv, int hd);
void sbti_cuda_rope_bwd(sbti_backend *be, void *dqkv, const int32_t *pos, const float *inv_freq,
                        int N, int nh, int nkv, int hd);
void sbti_cuda_swiglu_fwd(sbti_backend *be, void *out, const void *gu, int N, int I);
void sbti_cuda_swiglu_bwd(sbti_backend *be, void *dgu, const void *dout, const void *gu, int N,
                          int I);
void sbti_cuda_cross_entropy(sbti_backend *be, float *loss, void *logits,
                             const int32_t *targets, int N, int V, float dscale);
void sbti_cuda_kv_store(sbti_backend *be, void *kcache, void *vcache, const void *qkv,
                        const int32_t *slot, int N, int nh, int nkv, int hd);
void sbti_cuda_gather_rows(sbti_backend *be, void *out, const void *inp, const int32_t *idx,
                           int N, int C);
double sbti_cuda_sumsq(sbti_backend *be, const void *grad, size_t n);
void sbti_cuda_adamw(sbti_backend *be, void *param, float *master, const void *grad, float *m,
                     float *v, size_t n, const sbti_adamw_args *args);

/* ---- cuDNN fused attention (cuda_sdpa.cu) --------------------------------------------------- */

/* The mode named by SBT_CUDA_ATTENTION (AUTO when unset or unknown). */
int sbti_cuda_attn_mode_from_env(void);
/* Run attention_fwd / attention_bwd through cuDNN's fused SDPA. Return 1 when the operation was
 * queued (or a failure of it recorded in the backend), 0 when the caller must run the plain
 * kernel (cuDNN absent, plain mode, unsupported shape or alignment; attn_why says which).
 * The arguments are those of backend.h, already checked. */
int sbti_cuda_sdpa_fwd(sbti_backend *be, void *out, float *lse, const void *qkv,
                       const int32_t *len, int B, int T, int nh, int nkv, int hd);
int sbti_cuda_sdpa_bwd(sbti_backend *be, void *dqkv, const void *dout, const void *qkv,
                       const void *out, const float *lse, const int32_t *len, int B, int T,
                       int nh, int nkv, int hd);
/* "cuDNN 9.19.0" (the library found at run time), or why there is none; for the description. */
void sbti_cuda_sdpa_describe(char *buf, size_t n);
/* Frees the cuDNN handle and the cached plans (cuda_destroy). */
void sbti_cuda_sdpa_free(sbti_cuda_backend *cb);

/* ---- attention (cuda_attention.cu) ----------------------------------------------------- */

void sbti_cuda_attention_fwd(sbti_backend *be, void *out, float *lse, const void *qkv,
                             const int32_t *len, int B, int T, int nh, int nkv, int hd);
void sbti_cuda_attention_bwd(sbti_backend *be, void *dqkv, const void *dout, const void *qkv,
                             const void *out, const float *lse, const int32_t *len, int B, int T,
                             int nh, int nkv, int hd);
void sbti_cuda_attention_paged(sbti_backend *be, void *out, const void *qkv, const void *kcache,
                               const void *vcache, const int32_t *seq, const int32_t *pos,
                               const int32_t *pages, int max_pages, int page_size, int N, int nh,
                               int nkv, int hd);

/* ---- select (cuda_select.cu) -------------------------------------------------------------- */

void sbti_cuda_select(sbti_backend *be, int32_t *ids, float *lp, float *key, int32_t *kept,
                      float *extra_lp, const void *logits, const int32_t *seeds, int R, int V,
                      const sbti_select_args *args);

#endif /* SBTI_BACKEND_CUDA_CUDA_INTERNAL_H */
