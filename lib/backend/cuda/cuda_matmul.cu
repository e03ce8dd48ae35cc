/* cuda_matmul.cu — matmul forward and backward through cuBLASLt: bf16 operands, fp32 compute;
 * the residual add as C = res with beta = 1; dw accumulated into the fp32 gradient (bf16 A/B,
 * fp32 C = D, beta = 1). One plan (descriptors, layouts, the heuristic's algorithm) per shape and
 * pointer alignment, kept in a small table per backend. Where cuBLASLt offers no algorithm (or
 * SBT_CUDA_MATMUL=plain asks, for sanitizer runs), a plain fp32-accumulating kernel computes the
 * same product.
 *
 * An M that is not a multiple of 8 (the Llama-3 vocabulary with <backtrack>: 128,257) gives rows
 * of out / dout that are not 16-byte aligned, and cuBLASLt then has only slow align-1 kernels
 * (sm75 CUTLASS: 12.7 ms for the 2048-row LM head on an H200, against 1.5 ms aligned). So such
 * products run on a copy with rows padded to ldm = M rounded up to 8 in the backend's scratch,
 * the forward as two products (the first M rounded down to 8 columns, then the rest: cuBLASLt
 * also goes align-1 for an odd M itself) that are then compacted into out; the backward pads
 * dout there first.
 *
 * Row-major X(r, c) is column-major Xᵀ(c, r) with leading dimension c, so each product is set up
 * on the transposes:
 *   fwd:  out(N,M) = inp(N,K) · w(M,K)ᵀ    ->  outᵀ(M,N)  = op_T(w: K×M) · inpᵀ(K×N)
 *   dinp: dinp(N,K) = dout(N,M) · w(M,K)   ->  dinpᵀ(K,N) = wᵀ(K×M) · doutᵀ(M×N)
 *   dw:   dw(M,K) += dout(N,M)ᵀ · inp(N,K) ->  dwᵀ(K,M)  += inpᵀ(K×N) · op_T(doutᵀ: M×N) */
#include <stdio.h>
#include <string.h>

#include "backend/cuda/cuda_internal.h"

enum { OP_FWD = 0, OP_FWD_RES = 1, OP_DINP = 2, OP_DW = 3 };
static const char *const op_names[4] = {"matmul_fwd", "matmul_fwd (residual)", "matmul_bwd dinp",
                                        "matmul_bwd dw"};

namespace {

/* out[i, j] (row-major, ld ldo) = sum_r A(i, r) B(r, j) [+ out[i, j] when acc] [+ res[i, j]],
 * A(i, r) = a[i*ai + r*ar], B(r, j) = b[r*br + j*bj]: one thread per output, fp32 sums. */
template <typename TO>
__global__ void gemm_fallback_kernel(TO *out, const bf16 *res, const bf16 *a, const bf16 *b, int R,
                                     int Cc, int Kr, size_t ai, size_t ar, size_t br, size_t bj,
                                     int acc)
{
    size_t total = (size_t)R * Cc;
    for (size_t t = blockIdx.x * (size_t)blockDim.x + threadIdx.x; t < total;
         t += (size_t)gridDim.x * blockDim.x) {
        size_t i = t / Cc, j = t % Cc;
        float s = 0.0f;
        for (int r = 0; r < Kr; r++)
            s += __bfloat162float(a[i * ai + r * ar]) * __bfloat162float(b[r * br + j * bj]);
        if (res)
            s += __bfloat162float(res[t]);
        if (acc)
            s += (float)out[t];
        out[t] = (TO)s;
    }
}

} /* namespace */

static unsigned alignment(const void *p)
{
    uintptr_t a = (uintptr_t)p;
    unsigned al = 256;
    while (al > 1 && (a % al) != 0)
        al >>= 1;
    return al;
}

static void plan_release(sbti_cuda_mm_plan *p)
{
    if (p->desc)
        (void)cublasLtMatmulDescDestroy(p->desc);
    if (p->la)
        (void)cublasLtMatrixLayoutDestroy(p->la);
    if (p->lb)
        (void)cublasLtMatrixLayoutDestroy(p->lb);
    if (p->lc)
        (void)cublasLtMatrixLayoutDestroy(p->lc);
    if (p->ld)
        (void)cublasLtMatrixLayoutDestroy(p->ld);
    memset(p, 0, sizeof *p);
}

void sbti_cuda_mm_plans_free(sbti_cuda_backend *cb)
{
    for (int i = 0; i < SBTI_CUDA_MM_CACHE; i++)
        if (cb->plans[i].used)
            plan_release(&cb->plans[i]);
}

static int lt_ok(sbti_backend *be, cublasStatus_t st, int op, const char *call, int N, int K,
                 int M)
{
    if (st == CUBLAS_STATUS_SUCCESS)
        return 1;
    sbti_backend_fail(be, st == CUBLAS_STATUS_ALLOC_FAILED ? SBT_E_OUT_OF_MEMORY : SBT_E_BACKEND,
                      "cuda %s (N=%d K=%d M=%d): %s: %s (%d)", op_names[op], N, K, M, call,
                      cublasLtGetStatusString(st), (int)st);
    return 0;
}

/* The plan for (op, shape, alignments): from the table, or made now. NULL on failure. */
/* ldm: the leading dimension of the (.., M) row-major operand (out, dout), M or more. */
static sbti_cuda_mm_plan *get_plan(sbti_backend *be, int op, int N, int K, int M, int ldm,
                                   const unsigned al[4])
{
    sbti_cuda_backend *cb = sbti_cuda(be);
    for (int i = 0; i < SBTI_CUDA_MM_CACHE; i++) {
        sbti_cuda_mm_plan *p = &cb->plans[i];
        if (p->used && p->op == op && p->N == N && p->K == K && p->M == M && p->ldm == ldm &&
            p->align[0] == (int)al[0] && p->align[1] == (int)al[1] &&
            p->align[2] == (int)al[2] && p->align[3] == (int)al[3])
            return p;
    }
    int slot = -1;
    for (int i = 0; i < SBTI_CUDA_MM_CACHE && slot < 0; i++)
        if (!cb->plans[i].used)
            slot = i;
    if (slot < 0) {
        slot = cb->plan_next;
        cb->plan_next = (cb->plan_next + 1) % SBTI_CUDA_MM_CACHE;
        plan_release(&cb->plans[slot]);
    }
    sbti_cuda_mm_plan *p = &cb->plans[slot];
    memset(p, 0, sizeof *p);
    p->op = op;
    p->N = N;
    p->K = K;
    p->M = M;
    p->ldm = ldm;
    for (int i = 0; i < 4; i++)
        p->align[i] = (int)al[i];

    cublasOperation_t ta, tb;
    cudaDataType_t tc = op == OP_DW ? CUDA_R_32F : CUDA_R_16BF;
    uint64_t ar, ac, br, bc, cr, cc;
    int64_t lda, ldb, ldc;
    switch (op) {
    case OP_FWD:
    case OP_FWD_RES: /* outᵀ(M,N) = op_T(w: K×M) · inpᵀ(K×N) */
        ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
        ar = K, ac = M, lda = K;
        br = K, bc = N, ldb = K;
        cr = M, cc = N, ldc = ldm;
        break;
    case OP_DINP: /* dinpᵀ(K,N) = (w: K×M) · doutᵀ(M×N) */
        ta = CUBLAS_OP_N, tb = CUBLAS_OP_N;
        ar = K, ac = M, lda = K;
        br = M, bc = N, ldb = ldm;
        cr = K, cc = N, ldc = K;
        break;
    default: /* dwᵀ(K,M) += inpᵀ(K×N) · op_T(doutᵀ: M×N) */
        ta = CUBLAS_OP_N, tb = CUBLAS_OP_T;
        ar = K, ac = N, lda = K;
        br = M, bc = N, ldb = ldm;
        cr = K, cc = M, ldc = K;
        break;
    }
    cublasLtMatmulPreference_t pref = NULL;
    uint64_t ws = SBTI_CUDA_LT_WORKSPACE;
    int ok =
        lt_ok(be, cublasLtMatmulDescCreate(&p->desc, CUBLAS_COMPUTE_32F, CUDA_R_32F), op,
              "cublasLtMatmulDescCreate", N, K, M) &&
        lt_ok(be, cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta),
              op, "cublasLtMatmulDescSetAttribute(TRANSA)", N, K, M) &&
        lt_ok(be, cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb),
              op, "cublasLtMatmulDescSetAttribute(TRANSB)", N, K, M) &&
        lt_ok(be, cublasLtMatrixLayoutCreate(&p->la, CUDA_R_16BF, ar, ac, lda), op,
              "cublasLtMatrixLayoutCreate(A)", N, K, M) &&
        lt_ok(be, cublasLtMatrixLayoutCreate(&p->lb, CUDA_R_16BF, br, bc, ldb), op,
              "cublasLtMatrixLayoutCreate(B)", N, K, M) &&
        lt_ok(be, cublasLtMatrixLayoutCreate(&p->lc, tc, cr, cc, ldc), op,
              "cublasLtMatrixLayoutCreate(C)", N, K, M) &&
        lt_ok(be, cublasLtMatrixLayoutCreate(&p->ld, tc, cr, cc, ldc), op,
              "cublasLtMatrixLayoutCreate(D)", N, K, M) &&
        lt_ok(be, cublasLtMatmulPreferenceCreate(&pref), op, "cublasLtMatmulPreferenceCreate", N,
              K, M) &&
        lt_ok(be, cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                       &ws, sizeof ws),
              op, "cublasLtMatmulPreferenceSetAttribute(MAX_WORKSPACE_BYTES)", N, K, M);
    static const cublasLtMatmulPreferenceAttributes_t align_attr[4] = {
        CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
        CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES};
    for (int i = 0; i < 4 && ok; i++) {
        uint32_t v = al[i];
        ok = lt_ok(be, cublasLtMatmulPreferenceSetAttribute(pref, align_attr[i], &v, sizeof v), op,
                   "cublasLtMatmulPreferenceSetAttribute(MIN_ALIGNMENT)", N, K, M);
    }
    if (ok) {
        cublasLtMatmulHeuristicResult_t res;
        int found = 0;
        memset(&res, 0, sizeof res);
        cublasStatus_t st = cublasLtMatmulAlgoGetHeuristic(cb->lt, p->desc, p->la, p->lb, p->lc,
                                                           p->ld, pref, 1, &res, &found);
        if (st == CUBLAS_STATUS_SUCCESS && found > 0 && res.state == CUBLAS_STATUS_SUCCESS)
            p->algo = res.algo;
        else
            p->use_fallback = 1; /* no algorithm for this shape: the plain kernel */
    }
    if (pref)
        (void)cublasLtMatmulPreferenceDestroy(pref);
    if (!ok) {
        plan_release(p);
        return NULL;
    }
    p->used = 1;
    return p;
}

static void fallback(sbti_backend *be, int op, void *D, const void *res, const void *A,
                     const void *B, int N, int K, int M)
{
    cudaStream_t s = sbti_cuda(be)->stream;
    const bf16 *a = (const bf16 *)A, *b = (const bf16 *)B;
    size_t total;
    switch (op) {
    case OP_FWD:
    case OP_FWD_RES: /* out[n,m] = sum_k inp[n,k] w[m,k]; A = inp, B = w */
        total = (size_t)N * M;
        gemm_fallback_kernel<bf16><<<sbti_cuda_blocks(total, 128), 128, 0, s>>>(
            (bf16 *)D, (const bf16 *)res, a, b, N, M, K, (size_t)K, 1, 1, (size_t)K, 0);
        break;
    case OP_DINP: /* dinp[n,k] = sum_m dout[n,m] w[m,k]; A = dout, B = w */
        total = (size_t)N * K;
        gemm_fallback_kernel<bf16><<<sbti_cuda_blocks(total, 128), 128, 0, s>>>(
            (bf16 *)D, NULL, a, b, N, K, M, (size_t)M, 1, (size_t)K, 1, 0);
        break;
    default: /* dw[m,k] += sum_n dout[n,m] inp[n,k]; A = dout, B = inp */
        total = (size_t)M * K;
        gemm_fallback_kernel<float><<<sbti_cuda_blocks(total, 128), 128, 0, s>>>(
            (float *)D, NULL, a, b, M, K, N, 1, (size_t)M, (size_t)K, 1, 1);
        break;
    }
    sbti_cuda_launched(be, "gemm_fallback_kernel");
}

/* D = A·B [+ C]: A, B as the plan of op lays them out (see the top of this file), the (.., M)
 * operand with leading dimension ldm. Returns 0 when there was no cuBLASLt algorithm: then the
 * plain kernel wrote fb_d from the contiguous fb_a, fb_b instead, where fb_d is not NULL. */
static int run(sbti_backend *be, int op, void *D, const void *C, const void *A, const void *B,
               int N, int K, int M, int ldm, void *fb_d, const void *fb_a, const void *fb_b)
{
    if (sbti_cuda(be)->matmul_plain) {
        if (fb_d)
            fallback(be, op, fb_d, op == OP_FWD_RES ? C : NULL, fb_a, fb_b, N, K, M);
        return 0;
    }
    unsigned al[4] = {alignment(A), alignment(B), alignment(C), alignment(D)};
    sbti_cuda_mm_plan *p = get_plan(be, op, N, K, M, ldm, al);
    if (!p)
        return 1;
    if (p->use_fallback) {
        if (fb_d)
            fallback(be, op, fb_d, op == OP_FWD_RES ? C : NULL, fb_a, fb_b, N, K, M);
        return 0;
    }
    sbti_cuda_backend *cb = sbti_cuda(be);
    float alpha = 1.0f, beta = (op == OP_FWD_RES || op == OP_DW) ? 1.0f : 0.0f;
    lt_ok(be,
          cublasLtMatmul(cb->lt, p->desc, &alpha, A, p->la, B, p->lb, &beta, C, p->lc, D, p->ld,
                         &p->algo, cb->lt_ws, SBTI_CUDA_LT_WORKSPACE, cb->stream),
          op, "cublasLtMatmul", N, K, M);
    return 1;
}

namespace {

/* dst(R, dcols) row-major, ld ldd = src(R, scols) row-major, ld lds; columns past scols are 0.
 * Rows along y, columns along x: no division per element. */
__global__ void copy_rows_kernel(bf16 *dst, size_t ldd, const bf16 *src, size_t lds, int R,
                                 int dcols, int scols)
{
    for (int r = blockIdx.y; r < R; r += gridDim.y)
        for (int c = blockIdx.x * blockDim.x + threadIdx.x; c < dcols; c += gridDim.x * blockDim.x)
            dst[(size_t)r * ldd + c] = c < scols ? src[(size_t)r * lds + c] : __float2bfloat16(0.0f);
}

} /* namespace */

static void copy_rows(sbti_backend *be, bf16 *dst, size_t ldd, const bf16 *src, size_t lds, int R,
                      int dcols, int scols)
{
    dim3 grid((unsigned)((dcols + 1023) / 1024 < 64 ? (dcols + 1023) / 1024 : 64),
              (unsigned)(R < 65535 ? R : 65535));
    copy_rows_kernel<<<grid, 1024, 0, sbti_cuda(be)->stream>>>(dst, ldd, src, lds, R, dcols, scols);
    sbti_cuda_launched(be, "copy_rows_kernel");
}

/* M rounded up to 8 where rows of M bf16 would not stay 16-byte aligned, else M. */
static int padded_ld(int M)
{
    return M % 8 == 0 ? M : (M + 7) / 8 * 8;
}

void sbti_cuda_matmul_fwd(sbti_backend *be, void *out, const void *inp, const void *w,
                          const void *res, int N, int K, int M)
{
    if (N <= 0 || K <= 0 || M <= 0 || !sbti_cuda_begin(be, "matmul_fwd"))
        return;
    const int ldm = padded_ld(M);
    if (res || ldm == M) {
        run(be, res ? OP_FWD_RES : OP_FWD, out, res ? res : out, w, inp, N, K, M, M, out, inp, w);
        return;
    }
    /* An odd M also makes cuBLASLt pick align-1 kernels whatever the leading dimension: the
     * first M8 columns (a multiple of 8) are one product, the last few another. */
    bf16 *pad = (bf16 *)sbti_cuda_scratch(be, (size_t)N * ldm * sizeof(bf16), "matmul_fwd");
    if (!pad)
        return;
    const int M8 = M / 8 * 8, Mr = M - M8;
    const bf16 *wr = (const bf16 *)w + (size_t)M8 * K;
    int ok = M8 == 0 || run(be, OP_FWD, pad, pad, w, inp, N, K, M8, ldm, NULL, NULL, NULL);
    if (ok && be->error == SBT_OK)
        ok = run(be, OP_FWD, pad + M8, pad + M8, wr, inp, N, K, Mr, ldm, NULL, NULL, NULL);
    if (!ok) { /* no cuBLASLt algorithm: the plain kernel on the whole product */
        fallback(be, OP_FWD, out, NULL, inp, w, N, K, M);
        return;
    }
    copy_rows(be, (bf16 *)out, (size_t)M, pad, (size_t)ldm, N, M, M);
}

void sbti_cuda_matmul_bwd(sbti_backend *be, void *dinp, void *dw, const void *dout,
                          const void *inp, const void *w, int N, int K, int M)
{
    if (N <= 0 || K <= 0 || M <= 0 || !sbti_cuda_begin(be, "matmul_bwd"))
        return;
    const int ldm = padded_ld(M);
    const void *g = dout;
    if (ldm != M) {
        bf16 *pad = (bf16 *)sbti_cuda_scratch(be, (size_t)N * ldm * sizeof(bf16), "matmul_bwd");
        if (!pad)
            return;
        copy_rows(be, pad, (size_t)ldm, (const bf16 *)dout, (size_t)M, N, ldm, M);
        g = pad;
    }
    if (dinp)
        run(be, OP_DINP, dinp, dinp, w, g, N, K, M, ldm, dinp, dout, w);
    if (dw && be->error == SBT_OK)
        run(be, OP_DW, dw, dw, inp, g, N, K, M, ldm, dw, dout, inp);
}
