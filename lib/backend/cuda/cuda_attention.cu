/* cuda_attention.cu — causal grouped-query attention, forward and backward, for training.
 * attention_fwd / attention_bwd first offer the work to cuDNN's fused SDPA (cuda_sdpa.cu); what
 * it declines (no cuDNN, SBT_CUDA_ATTENTION=plain, unsupported shapes) runs here:
 * straightforward correct kernels (fp32 in shared memory, online softmax in fp32), any T, head
 * dims up to 256 (decoding's attention over the paged cache: cuda_attention_paged.cu). Query head h reads key/value head h / (nh / nkv) directly
 * (no replication). Deterministic: no atomics; each output element is summed by one thread in
 * a fixed order.
 *
 * Forward: one block of 4 warps per (query tile of 16 rows, head, batch row); key
 * tiles of 32 go through shared memory; lane j of a warp scores key j of the tile, then the
 * warp's lanes own the output dims d = lane + 32c. lse = max + log(sum) of the scaled scores.
 * Backward: D = rowsum(dO ∘ O) first; then one kernel for dQ (per query tile, like the forward,
 * recomputing P = exp(S - lse)) and one for dK, dV (per key tile and key/value head, looping over
 * the heads of its group and the query tiles at or after it, with the sums in shared memory). */
#include <math.h>
#include <stdio.h>

#include "backend/cuda/cuda_internal.h"

#define QT 16   /* query rows per forward / dQ block: 4 warps x QW */
#define QW 4    /* query rows per warp */
#define KT 32   /* keys per tile (= warp size: lane j scores key j) */
#define QT2 16  /* query rows per step of the dK/dV kernel */
#define MAX_HD 256

namespace {

/* Forward: block (query tile, head h, batch row b); query rows are the tokens q0 + r. */
template <int DCH>
__global__ void __launch_bounds__(128)
attn_fwd_kernel(bf16 *out, float *lse, const bf16 *qkv, const int32_t *len, int T, int nh,
                int nkv, int hd, float scale)
{
    extern __shared__ float smem[];
    const int hp = hd + 1; /* padded row: lane-per-key reads hit distinct banks */
    const int dp = DCH * 32;
    float *qs = smem;              /* [QT][hd]      */
    float *ks = qs + QT * hd;      /* [KT][hd + 1]  */
    float *vs = ks + KT * hp;      /* [KT][DCH*32], zero beyond hd */
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int rep = nh / nkv;
    const size_t W = (size_t)(nh + 2 * nkv) * hd;

    const int b = blockIdx.z, h = blockIdx.y, q0 = blockIdx.x * QT;
    const int g = h / rep;
    const int nrows = min(QT, T - q0);                   /* valid query rows of this block */
    const int Lb = len ? min(max(len[b], 0), T) : T;
    const int causal_base = q0;                          /* query row r is token q0 + r */
    const int kmax = min(q0 + nrows, Lb);                /* keys 0..kmax-1 may be attended */
    const bf16 *row0 = qkv + (size_t)b * T * W;
    const bf16 *qbase = row0 + (size_t)q0 * W + (size_t)h * hd; /* query row r: + r * W */
    const size_t qstride = W;
    bf16 *obase = out + ((size_t)b * T + q0) * nh * hd + (size_t)h * hd;
    const size_t ostride = (size_t)nh * hd;
    const bf16 *kbase = row0 + (size_t)(nh + g) * hd, *vbase = row0 + (size_t)(nh + nkv + g) * hd;

    for (int e = threadIdx.x; e < QT * hd; e += blockDim.x) {
        int r = e / hd, d = e % hd;
        qs[e] = r < nrows ? __bfloat162float(qbase[(size_t)r * qstride + d]) : 0.0f;
    }

    float m[QW], l[QW], o[QW][DCH];
#pragma unroll
    for (int q = 0; q < QW; q++) {
        m[q] = -INFINITY;
        l[q] = 0.0f;
#pragma unroll
        for (int c = 0; c < DCH; c++)
            o[q][c] = 0.0f;
    }

    for (int k0 = 0; k0 < kmax; k0 += KT) {
        __syncthreads();
        for (int e = threadIdx.x; e < KT * dp; e += blockDim.x) {
            int j = e / dp, d = e % dp;
            float kv = 0.0f, vv = 0.0f;
            if (k0 + j < kmax && d < hd) {
                size_t off = (size_t)(k0 + j) * W + d;
                kv = __bfloat162float(kbase[off]);
                vv = __bfloat162float(vbase[off]);
            }
            if (d < hd)
                ks[j * hp + d] = kv;
            vs[j * dp + d] = vv;
        }
        __syncthreads();
#pragma unroll
        for (int q = 0; q < QW; q++) {
            int r = warp * QW + q;
            if (r >= nrows)
                continue;
            int j = k0 + lane;
            bool valid = j < kmax && j <= causal_base + r && j < Lb;
            float s = -INFINITY;
            if (valid) {
                const float *qr = qs + r * hd, *kr = ks + lane * hp;
                float dot = 0.0f;
                for (int d = 0; d < hd; d++)
                    dot += qr[d] * kr[d];
                s = dot * scale;
            }
            float tmax = sbti_warp_max(s);
            if (tmax == -INFINITY)
                continue;
            float mn = fmaxf(m[q], tmax);
            float corr = expf(m[q] - mn);
            float p = valid ? expf(s - mn) : 0.0f;
            l[q] = l[q] * corr + sbti_warp_sum(p);
            m[q] = mn;
#pragma unroll
            for (int c = 0; c < DCH; c++)
                o[q][c] *= corr;
            for (int jj = 0; jj < KT; jj++) {
                float pj = __shfl_sync(0xffffffffu, p, jj);
                const float *vr = vs + jj * dp + lane;
#pragma unroll
                for (int c = 0; c < DCH; c++)
                    o[q][c] += pj * vr[32 * c];
            }
        }
    }

#pragma unroll
    for (int q = 0; q < QW; q++) {
        int r = warp * QW + q;
        if (r >= nrows)
            continue;
        float inv = l[q] > 0.0f ? 1.0f / l[q] : 0.0f;
        bf16 *orow = obase + (size_t)r * ostride;
#pragma unroll
        for (int c = 0; c < DCH; c++) {
            int d = lane + 32 * c;
            if (d < hd)
                orow[d] = __float2bfloat16_rn(o[q][c] * inv);
        }
        if (lse && lane == 0) {
            lse[((size_t)b * nh + h) * T + causal_base + r] =
                l[q] > 0.0f ? m[q] + logf(l[q]) : -INFINITY;
        }
    }
}

/* D[b, h, i] = sum_d dO[b*T+i, h, d] * O[b*T+i, h, d]: one warp per (token, head). */
__global__ void attn_bwd_prep_kernel(float *Dv, const bf16 *dout, const bf16 *out, int B, int T,
                                     int nh, int hd)
{
    size_t w = (blockIdx.x * (size_t)blockDim.x + threadIdx.x) >> 5;
    int lane = threadIdx.x & 31;
    size_t total = (size_t)B * T * nh;
    if (w >= total)
        return;
    size_t bt = w / nh; /* token b*T + i */
    int h = (int)(w % nh);
    const bf16 *a = dout + bt * nh * hd + (size_t)h * hd, *o = out + bt * nh * hd + (size_t)h * hd;
    float s = 0.0f;
    for (int d = lane; d < hd; d += 32)
        s += __bfloat162float(a[d]) * __bfloat162float(o[d]);
    s = sbti_warp_sum(s);
    if (lane == 0) {
        size_t b = bt / T, i = bt % T;
        Dv[(b * nh + h) * T + i] = s;
    }
}

/* dQ: block (query tile, head h, batch row b), as the forward. */
template <int DCH>
__global__ void __launch_bounds__(128)
attn_bwd_dq_kernel(bf16 *dqkv, const bf16 *dout, const bf16 *qkv, const float *lse,
                   const float *Dv, const int32_t *len, int T, int nh, int nkv, int hd,
                   float scale)
{
    extern __shared__ float smem[];
    const int hp = hd + 1;
    float *qs = smem;          /* [QT][hd] */
    float *dos = qs + QT * hd; /* [QT][hd] */
    float *ks = dos + QT * hd; /* [KT][hd + 1] */
    float *vs = ks + KT * hp;  /* [KT][hd + 1] */
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int b = blockIdx.z, h = blockIdx.y, q0 = blockIdx.x * QT;
    const int g = h / (nh / nkv);
    const size_t W = (size_t)(nh + 2 * nkv) * hd;
    const int nrows = min(QT, T - q0);
    const int Lb = len ? min(max(len[b], 0), T) : T;
    const int kmax = min(q0 + nrows, Lb);
    const bf16 *row0 = qkv + (size_t)b * T * W;

    for (int e = threadIdx.x; e < QT * hd; e += blockDim.x) {
        int r = e / hd, d = e % hd;
        bool ok = r < nrows;
        qs[e] = ok ? __bfloat162float(row0[(size_t)(q0 + r) * W + (size_t)h * hd + d]) : 0.0f;
        dos[e] = ok ? __bfloat162float(dout[((size_t)b * T + q0 + r) * nh * hd + (size_t)h * hd + d])
                    : 0.0f;
    }
    float li[QW], Di[QW], dq[QW][DCH];
#pragma unroll
    for (int q = 0; q < QW; q++) {
        int r = warp * QW + q;
        size_t idx = ((size_t)b * nh + h) * T + q0 + r;
        li[q] = r < nrows ? lse[idx] : 0.0f;
        Di[q] = r < nrows ? Dv[idx] : 0.0f;
#pragma unroll
        for (int c = 0; c < DCH; c++)
            dq[q][c] = 0.0f;
    }

    for (int k0 = 0; k0 < kmax; k0 += KT) {
        __syncthreads();
        for (int e = threadIdx.x; e < KT * hd; e += blockDim.x) {
            int j = e / hd, d = e % hd;
            bool ok = k0 + j < kmax;
            size_t off = (size_t)(k0 + j) * W + d;
            ks[j * hp + d] = ok ? __bfloat162float(row0[off + (size_t)(nh + g) * hd]) : 0.0f;
            vs[j * hp + d] = ok ? __bfloat162float(row0[off + (size_t)(nh + nkv + g) * hd]) : 0.0f;
        }
        __syncthreads();
#pragma unroll
        for (int q = 0; q < QW; q++) {
            int r = warp * QW + q;
            if (r >= nrows)
                continue;
            int j = k0 + lane;
            bool valid = j < kmax && j <= q0 + r;
            float ds = 0.0f;
            if (valid) {
                const float *qr = qs + r * hd, *dr = dos + r * hd, *kr = ks + lane * hp,
                            *vr = vs + lane * hp;
                float s = 0.0f, dpv = 0.0f;
                for (int d = 0; d < hd; d++) {
                    s += qr[d] * kr[d];
                    dpv += dr[d] * vr[d];
                }
                float p = expf(s * scale - li[q]);
                ds = p * (dpv - Di[q]);
            }
            for (int jj = 0; jj < KT; jj++) {
                float dsj = __shfl_sync(0xffffffffu, ds, jj);
                const float *kr = ks + jj * hp + lane;
#pragma unroll
                for (int c = 0; c < DCH; c++)
                    if (lane + 32 * c < hd)
                        dq[q][c] += dsj * kr[32 * c];
            }
        }
    }

#pragma unroll
    for (int q = 0; q < QW; q++) {
        int r = warp * QW + q;
        if (r >= nrows)
            continue;
        bf16 *dst = dqkv + ((size_t)b * T + q0 + r) * W + (size_t)h * hd;
#pragma unroll
        for (int c = 0; c < DCH; c++) {
            int d = lane + 32 * c;
            if (d < hd)
                dst[d] = __float2bfloat16_rn(dq[q][c] * scale);
        }
    }
}

/* dK, dV: block (key tile of KT, key/value head g, batch row b). */
__global__ void __launch_bounds__(128)
attn_bwd_dkv_kernel(bf16 *dqkv, const bf16 *dout, const bf16 *qkv, const float *lse,
                    const float *Dv, const int32_t *len, int T, int nh, int nkv, int hd,
                    float scale)
{
    extern __shared__ float smem[];
    const int hp = hd + 1;
    float *ks = smem;            /* [KT][hd + 1] */
    float *vs = ks + KT * hp;    /* [KT][hd + 1] */
    float *dk = vs + KT * hp;    /* [KT][hd] */
    float *dv = dk + KT * hd;    /* [KT][hd] */
    float *qs = dv + KT * hd;    /* [QT2][hd + 1] */
    float *dos = qs + QT2 * hp;  /* [QT2][hd + 1] */
    float *P = dos + QT2 * hp;   /* [QT2][KT + 1] */
    float *dS = P + QT2 * (KT + 1);
    float *li = dS + QT2 * (KT + 1); /* [QT2] */
    float *Di = li + QT2;            /* [QT2] */
    const int b = blockIdx.z, g = blockIdx.y, k0 = blockIdx.x * KT;
    const int rep = nh / nkv;
    const size_t W = (size_t)(nh + 2 * nkv) * hd;
    const int Lb = len ? min(max(len[b], 0), T) : T;
    const int nk = min(KT, T - k0);
    const bf16 *row0 = qkv + (size_t)b * T * W;

    for (int e = threadIdx.x; e < KT * hd; e += blockDim.x) {
        int j = e / hd, d = e % hd;
        bool ok = j < nk && k0 + j < Lb;
        size_t off = (size_t)(k0 + j) * W + d;
        ks[j * hp + d] = ok ? __bfloat162float(row0[off + (size_t)(nh + g) * hd]) : 0.0f;
        vs[j * hp + d] = ok ? __bfloat162float(row0[off + (size_t)(nh + nkv + g) * hd]) : 0.0f;
        dk[e] = 0.0f;
        dv[e] = 0.0f;
    }

    if (k0 < Lb) {
        for (int h = g * rep; h < (g + 1) * rep; h++) {
            for (int q0 = k0; q0 < T; q0 += QT2) {
                int nq = min(QT2, T - q0);
                __syncthreads();
                for (int e = threadIdx.x; e < QT2 * hd; e += blockDim.x) {
                    int r = e / hd, d = e % hd;
                    bool ok = r < nq;
                    qs[r * hp + d] =
                        ok ? __bfloat162float(row0[(size_t)(q0 + r) * W + (size_t)h * hd + d]) : 0.0f;
                    dos[r * hp + d] =
                        ok ? __bfloat162float(
                                 dout[((size_t)b * T + q0 + r) * nh * hd + (size_t)h * hd + d])
                           : 0.0f;
                }
                for (int r = threadIdx.x; r < QT2; r += blockDim.x) {
                    size_t idx = ((size_t)b * nh + h) * T + q0 + r;
                    li[r] = r < nq ? lse[idx] : 0.0f;
                    Di[r] = r < nq ? Dv[idx] : 0.0f;
                }
                __syncthreads();
                /* P and dS for the QT2 x KT pairs: a warp's lanes take the keys of one row. */
                for (int e = threadIdx.x; e < QT2 * KT; e += blockDim.x) {
                    int r = e / KT, j = e % KT;
                    int i = q0 + r, kj = k0 + j;
                    float p = 0.0f, ds = 0.0f;
                    if (r < nq && kj <= i && kj < Lb) {
                        const float *qr = qs + r * hp, *dr = dos + r * hp, *kr = ks + j * hp,
                                    *vr = vs + j * hp;
                        float s = 0.0f, dpv = 0.0f;
                        for (int d = 0; d < hd; d++) {
                            s += qr[d] * kr[d];
                            dpv += dr[d] * vr[d];
                        }
                        p = expf(s * scale - li[r]);
                        ds = p * (dpv - Di[r]);
                    }
                    P[r * (KT + 1) + j] = p;
                    dS[r * (KT + 1) + j] = ds;
                }
                __syncthreads();
                /* Each (key, dim) accumulator belongs to one thread. */
                for (int e = threadIdx.x; e < KT * hd; e += blockDim.x) {
                    int j = e / hd, d = e % hd;
                    float av = dv[e], ak = dk[e];
                    for (int r = 0; r < nq; r++) {
                        av += P[r * (KT + 1) + j] * dos[r * hp + d];
                        ak += dS[r * (KT + 1) + j] * qs[r * hp + d];
                    }
                    dv[e] = av;
                    dk[e] = ak;
                }
            }
        }
    }
    __syncthreads();
    for (int e = threadIdx.x; e < KT * hd; e += blockDim.x) {
        int j = e / hd, d = e % hd;
        if (j >= nk)
            continue;
        bf16 *row = dqkv + ((size_t)b * T + k0 + j) * W;
        row[(size_t)(nh + g) * hd + d] = __float2bfloat16_rn(dk[e] * scale);
        row[(size_t)(nh + nkv + g) * hd + d] = __float2bfloat16_rn(dv[e]);
    }
}

/* Raises a kernel's dynamic shared-memory limit where it needs more than the default 48 KiB. */
template <typename K>
int smem_ok(sbti_backend *be, K kernel, size_t bytes, const char *name)
{
    if (bytes <= 48 * 1024)
        return 1;
    char what[96];
    snprintf(what, sizeof what, "%s: cudaFuncSetAttribute(MaxDynamicSharedMemorySize=%zu)", name,
             bytes);
    return sbti_cuda_ok(be,
                        cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                             (int)bytes),
                        what);
}

template <int DCH>
void launch_fwd(sbti_backend *be, dim3 grid, bf16 *out, float *lse, const bf16 *qkv,
                const int32_t *len, int T, int nh, int nkv, int hd, float scale)
{
    size_t smem = (size_t)(QT * hd + KT * (hd + 1) + KT * DCH * 32) * sizeof(float);
    if (!smem_ok(be, attn_fwd_kernel<DCH>, smem, "attn_fwd_kernel"))
        return;
    attn_fwd_kernel<DCH><<<grid, 128, smem, sbti_cuda(be)->stream>>>(out, lse, qkv, len, T, nh,
                                                                     nkv, hd, scale);
    sbti_cuda_launched(be, "attn_fwd_kernel");
}

void dispatch_fwd(sbti_backend *be, dim3 grid, bf16 *out, float *lse, const bf16 *qkv,
                  const int32_t *len, int T, int nh, int nkv, int hd, float scale)
{
#define SBTI_FWD(D) launch_fwd<D>(be, grid, out, lse, qkv, len, T, nh, nkv, hd, scale)
    if (hd <= 32)
        SBTI_FWD(1);
    else if (hd <= 64)
        SBTI_FWD(2);
    else if (hd <= 128)
        SBTI_FWD(4);
    else
        SBTI_FWD(8);
#undef SBTI_FWD
}

template <int DCH>
void launch_dq(sbti_backend *be, dim3 grid, bf16 *dqkv, const bf16 *dout, const bf16 *qkv,
               const float *lse, const float *Dv, const int32_t *len, int T, int nh, int nkv,
               int hd, float scale)
{
    size_t smem = (size_t)(2 * QT * hd + 2 * KT * (hd + 1)) * sizeof(float);
    if (!smem_ok(be, attn_bwd_dq_kernel<DCH>, smem, "attn_bwd_dq_kernel"))
        return;
    attn_bwd_dq_kernel<DCH><<<grid, 128, smem, sbti_cuda(be)->stream>>>(dqkv, dout, qkv, lse, Dv,
                                                                       len, T, nh, nkv, hd, scale);
    sbti_cuda_launched(be, "attn_bwd_dq_kernel");
}

/* Shapes every attention entry point accepts. */
int check_heads(sbti_backend *be, const char *op, int nh, int nkv, int hd)
{
    if (nh <= 0 || nkv <= 0 || nh % nkv != 0 || hd <= 0 || hd > MAX_HD) {
        sbti_backend_fail(be, SBT_E_UNSUPPORTED,
                          "cuda %s: nh = %d, nkv = %d, hd = %d: need nkv dividing nh and "
                          "1 <= hd <= %d",
                          op, nh, nkv, hd, MAX_HD);
        return 0;
    }
    return 1;
}

} /* namespace */

void sbti_cuda_attention_fwd(sbti_backend *be, void *out, float *lse, const void *qkv,
                             const int32_t *len, int B, int T, int nh, int nkv, int hd)
{
    if (B <= 0 || T <= 0 || !sbti_cuda_begin(be, "attention_fwd") ||
        !check_heads(be, "attention_fwd", nh, nkv, hd))
        return;
    if (B > 65535 || nh > 65535) {
        sbti_backend_fail(be, SBT_E_UNSUPPORTED, "cuda attention_fwd: B = %d, nh = %d (at most 65535)",
                          B, nh);
        return;
    }
    if (sbti_cuda_sdpa_fwd(be, out, lse, qkv, len, B, T, nh, nkv, hd))
        return; /* cuDNN ran it (cuda_sdpa.cu) */
    float scale = (float)(1.0 / sqrt((double)hd));
    dim3 grid((unsigned)((T + QT - 1) / QT), (unsigned)nh, (unsigned)B);
    dispatch_fwd(be, grid, (bf16 *)out, lse, (const bf16 *)qkv, len, T, nh, nkv, hd, scale);
}

void sbti_cuda_attention_bwd(sbti_backend *be, void *dqkv, const void *dout, const void *qkv,
                             const void *out, const float *lse, const int32_t *len, int B, int T,
                             int nh, int nkv, int hd)
{
    if (B <= 0 || T <= 0 || !sbti_cuda_begin(be, "attention_bwd") ||
        !check_heads(be, "attention_bwd", nh, nkv, hd))
        return;
    if (B > 65535 || nh > 65535 || !lse) {
        sbti_backend_fail(be, SBT_E_UNSUPPORTED,
                          "cuda attention_bwd: B = %d, nh = %d (at most 65535), lse %s", B, nh,
                          lse ? "given" : "NULL (the forward must keep it)");
        return;
    }
    if (sbti_cuda_sdpa_bwd(be, dqkv, dout, qkv, out, lse, len, B, T, nh, nkv, hd))
        return; /* cuDNN ran it (cuda_sdpa.cu) */
    float scale = (float)(1.0 / sqrt((double)hd));
    size_t nrow = (size_t)B * nh * T;
    float *Dv = (float *)sbti_cuda_scratch(be, nrow * sizeof(float), "attention_bwd");
    if (!Dv)
        return;
    cudaStream_t s = sbti_cuda(be)->stream;
    attn_bwd_prep_kernel<<<sbti_cuda_blocks(nrow * 32, 256), 256, 0, s>>>(
        Dv, (const bf16 *)dout, (const bf16 *)out, B, T, nh, hd);
    if (!sbti_cuda_launched(be, "attn_bwd_prep_kernel"))
        return;

    dim3 gq((unsigned)((T + QT - 1) / QT), (unsigned)nh, (unsigned)B);
    bf16 *dq = (bf16 *)dqkv;
    const bf16 *dO = (const bf16 *)dout, *x = (const bf16 *)qkv;
    if (hd <= 32)
        launch_dq<1>(be, gq, dq, dO, x, lse, Dv, len, T, nh, nkv, hd, scale);
    else if (hd <= 64)
        launch_dq<2>(be, gq, dq, dO, x, lse, Dv, len, T, nh, nkv, hd, scale);
    else if (hd <= 128)
        launch_dq<4>(be, gq, dq, dO, x, lse, Dv, len, T, nh, nkv, hd, scale);
    else
        launch_dq<8>(be, gq, dq, dO, x, lse, Dv, len, T, nh, nkv, hd, scale);
    if (be->error != SBT_OK)
        return;

    size_t smem = (size_t)(2 * KT * (hd + 1) + 2 * KT * hd + 2 * QT2 * (hd + 1) +
                           2 * QT2 * (KT + 1) + 2 * QT2) *
                  sizeof(float);
    if (!smem_ok(be, attn_bwd_dkv_kernel, smem, "attn_bwd_dkv_kernel"))
        return;
    dim3 gk((unsigned)((T + KT - 1) / KT), (unsigned)nkv, (unsigned)B);
    attn_bwd_dkv_kernel<<<gk, 128, smem, s>>>(dq, dO, x, lse, Dv, len, T, nh, nkv, hd, scale);
    sbti_cuda_launched(be, "attn_bwd_dkv_kernel");
}
