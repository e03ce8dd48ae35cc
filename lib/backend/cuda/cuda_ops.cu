/* cuda_ops.cu — the CUDA backend's own kernels other than matmul and attention: upload
 * conversions, embedding (backward deterministic: a bitonic sort of (token, position) keys, then
 * one block per distinct token summing its rows in position order), RMSNorm (backward dw through
 * fixed per-block partials), RoPE, SwiGLU, fused cross-entropy, the KV-cache store, row gather,
 * sumsq (double, two fixed passes) and fused AdamW. All arithmetic is fp32 or wider; results
 * do not depend on the device's SM count. */
#include <math.h>

#include "backend/cuda/cuda_internal.h"

namespace {

/* ---- small helpers -------------------------------------------------------------------------- */

__device__ __forceinline__ float ld(const bf16 *p, size_t i) { return __bfloat162float(p[i]); }
__device__ __forceinline__ float ld(const float *p, size_t i) { return p[i]; }
__device__ __forceinline__ float ld(const __half *p, size_t i) { return __half2float(p[i]); }
__device__ __forceinline__ void st(bf16 *p, size_t i, float x) { p[i] = __float2bfloat16_rn(x); }
__device__ __forceinline__ void st(float *p, size_t i, float x) { p[i] = x; }

__device__ __forceinline__ double warp_sum_d(double x)
{
    for (int o = 16; o > 0; o >>= 1)
        x += __shfl_xor_sync(0xffffffffu, x, o);
    return x;
}

/* Sum over the block (blockDim a multiple of 32, at most 1024); every thread gets the result.
 * `red` is 32 floats of shared memory; the function starts and ends with a barrier. */
__device__ __forceinline__ float block_sum(float x, float *red)
{
    int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
    x = sbti_warp_sum(x);
    __syncthreads();
    if (lane == 0)
        red[w] = x;
    __syncthreads();
    x = lane < nw ? red[lane] : 0.0f;
    x = sbti_warp_sum(x);
    __syncthreads();
    return x;
}

__device__ __forceinline__ double block_sum_d(double x, double *red)
{
    int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
    x = warp_sum_d(x);
    __syncthreads();
    if (lane == 0)
        red[w] = x;
    __syncthreads();
    x = lane < nw ? red[lane] : 0.0;
    x = warp_sum_d(x);
    __syncthreads();
    return x;
}

/* ---- conversions ---------------------------------------------------------------------------- */

template <typename S, typename D>
__global__ void convert_kernel(D *dst, const S *src, size_t n)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        st(dst, i, ld(src, i));
}

template <typename S>
void convert_from(sbti_backend *be, void *dst, int dst_bf16, const void *src, size_t n)
{
    unsigned g = sbti_cuda_blocks(n, 256);
    if (g > 65536)
        g = 65536;
    cudaStream_t s = sbti_cuda(be)->stream;
    if (dst_bf16)
        convert_kernel<S, bf16><<<g, 256, 0, s>>>((bf16 *)dst, (const S *)src, n);
    else
        convert_kernel<S, float><<<g, 256, 0, s>>>((float *)dst, (const S *)src, n);
    sbti_cuda_launched(be, "upload: convert_kernel");
}

/* ---- embedding -------------------------------------------------------------------------------- */

__global__ void embedding_fwd_kernel(bf16 *out, const int32_t *tok, const bf16 *wte, int C)
{
    int n = blockIdx.x;
    const bf16 *row = wte + (size_t)tok[n] * C;
    bf16 *o = out + (size_t)n * C;
    for (int c = threadIdx.x; c < C; c += blockDim.x)
        o[c] = row[c];
}

typedef unsigned long long u64;

__global__ void make_keys_kernel(u64 *keys, const int32_t *tok, int N, int L)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < N)
        keys[i] = ((u64)((uint32_t)tok[i] ^ 0x80000000u) << 32) | (u64)(uint32_t)i;
    else if (i < L)
        keys[i] = ~0ull; /* padding sorts last */
}

__device__ __forceinline__ void cmp_swap(u64 *a, int i, int j, bool asc)
{
    u64 x = a[i], y = a[j];
    if ((x > y) == asc) {
        a[i] = y;
        a[j] = x;
    }
}

/* Bitonic sort, in the segments of S = 2 * blockDim.x keys each block holds in shared memory:
 * k_fixed == 0 runs the stages k = 2..S (each segment sorted in the direction its global index
 * gives); k_fixed > S runs the steps j = S/2..1 of stage k_fixed. */
__global__ void bitonic_shared_kernel(u64 *keys, int k_fixed)
{
    extern __shared__ u64 sk[];
    int S = 2 * blockDim.x, t = threadIdx.x;
    size_t base = (size_t)blockIdx.x * S;
    sk[t] = keys[base + t];
    sk[t + blockDim.x] = keys[base + t + blockDim.x];
    int k0 = k_fixed ? k_fixed : 2, k1 = k_fixed ? k_fixed : S;
    for (int k = k0; k <= k1; k <<= 1)
        for (int j = (k_fixed ? S : k) >> 1; j > 0; j >>= 1) {
            __syncthreads();
            int i = 2 * j * (t / j) + t % j;
            cmp_swap(sk, i, i + j, ((base + i) & (size_t)k) == 0);
        }
    __syncthreads();
    keys[base + t] = sk[t];
    keys[base + t + blockDim.x] = sk[t + blockDim.x];
}

__global__ void bitonic_global_kernel(u64 *keys, int half, int k, int j)
{
    int t = blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= half)
        return;
    int i = 2 * j * (t / j) + t % j;
    cmp_swap(keys, i, i + j, (i & k) == 0);
}

/* One block per sorted position; the first position of each token's run sums the run's rows of
 * dout in position order and adds the sum to the token's row of dwte. */
__global__ void embedding_bwd_kernel(float *dwte, const bf16 *dout, const u64 *keys, int N, int C)
{
    int i = blockIdx.x;
    u64 key = keys[i];
    if (i > 0 && (keys[i - 1] >> 32) == (key >> 32))
        return;
    int end = i + 1;
    while (end < N && (keys[end] >> 32) == (key >> 32))
        end++;
    int tok = (int)((uint32_t)(key >> 32) ^ 0x80000000u);
    float *row = dwte + (size_t)tok * C;
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        float acc = 0.0f;
        for (int j = i; j < end; j++)
            acc += __bfloat162float(dout[(size_t)(uint32_t)keys[j] * C + c]);
        row[c] += acc;
    }
}

/* ---- RMSNorm ------------------------------------------------------------------------------------ */

__global__ void rmsnorm_fwd_kernel(bf16 *out, float *rstd, const bf16 *inp, const bf16 *w, int C,
                                   float eps)
{
    __shared__ float red[32];
    size_t n = blockIdx.x;
    const bf16 *x = inp + n * C;
    float ss = 0.0f;
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        float v = __bfloat162float(x[c]);
        ss += v * v;
    }
    ss = block_sum(ss, red);
    float r = 1.0f / sqrtf(ss / (float)C + eps);
    if (rstd && threadIdx.x == 0)
        rstd[n] = r;
    bf16 *o = out + n * C;
    for (int c = threadIdx.x; c < C; c += blockDim.x)
        o[c] = __float2bfloat16_rn(__bfloat162float(x[c]) * r * __bfloat162float(w[c]));
}

/* 8 bf16 as one 16-byte load or store. */
union bf16x8 {
    uint4 raw;
    __nv_bfloat162 h[4];
};

/* The same with a thread per 8 columns (C % 8 == 0, C <= 8192, 16-byte aligned rows): one
 * 16-byte load of the row, kept in registers for the second pass. */
__global__ void rmsnorm_fwd_vec_kernel(bf16 *out, float *rstd, const bf16 *inp, const bf16 *w,
                                       int C, float eps)
{
    __shared__ float red[32];
    const size_t n = blockIdx.x;
    const int c = threadIdx.x * 8;
    float v[8], ss = 0.0f;
    if (c < C) {
        bf16x8 x;
        x.raw = *(const uint4 *)(inp + n * C + c);
        for (int k = 0; k < 4; k++) {
            float2 f = __bfloat1622float2(x.h[k]);
            v[2 * k] = f.x;
            v[2 * k + 1] = f.y;
            ss += f.x * f.x + f.y * f.y;
        }
    }
    ss = block_sum(ss, red);
    float r = 1.0f / sqrtf(ss / (float)C + eps);
    if (rstd && threadIdx.x == 0)
        rstd[n] = r;
    if (c < C) {
        bf16x8 g, o;
        g.raw = *(const uint4 *)(w + c);
        for (int k = 0; k < 4; k++) {
            float2 f = __bfloat1622float2(g.h[k]);
            o.h[k] = __floats2bfloat162_rn(v[2 * k] * r * f.x, v[2 * k + 1] * r * f.y);
        }
        *(uint4 *)(out + n * C + c) = o.raw;
    }
}

/* Block b takes rows b, b + G, ...; its dw partial (row b of part) is owned by the thread of
 * each column, so no two threads touch one partial. */
__global__ void rmsnorm_bwd_kernel(bf16 *dinp, float *part, const bf16 *dout, const bf16 *inp,
                                   const bf16 *w, const float *rstd, int N, int C)
{
    __shared__ float red[32];
    float *pb = part + (size_t)blockIdx.x * C;
    bool first = true;
    for (int n = blockIdx.x; n < N; n += gridDim.x) {
        const bf16 *x = inp + (size_t)n * C, *g = dout + (size_t)n * C;
        bf16 *d = dinp ? dinp + (size_t)n * C : NULL;
        float r = rstd[n];
        float dot = 0.0f;
        for (int c = threadIdx.x; c < C; c += blockDim.x)
            dot += __bfloat162float(g[c]) * __bfloat162float(w[c]) * __bfloat162float(x[c]);
        dot = block_sum(dot, red);
        float k = dot * r * r * r / (float)C;
        for (int c = threadIdx.x; c < C; c += blockDim.x) {
            float xc = __bfloat162float(x[c]), gc = __bfloat162float(g[c]);
            float pw = gc * (xc * r); /* x * r as the forward rounds it */
            pb[c] = first ? pw : pb[c] + pw;
            if (dinp) {
                float dx = r * (__bfloat162float(w[c]) * gc) - k * xc;
                d[c] = __float2bfloat16_rn(__bfloat162float(d[c]) + dx);
            }
        }
        first = false;
    }
}

__global__ void sum_partials_kernel(float *dw, const float *part, int G, int C)
{
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C)
        return;
    float s = 0.0f;
    for (int b = 0; b < G; b++)
        s += part[(size_t)b * C + c];
    dw[c] += s;
}

/* ---- RoPE --------------------------------------------------------------------------------------- */

/* dir = +1: rotate by the angle (forward); -1: by its negative (the gradient). A block per
 * token: the hd/2 angles' cosines and sines once into shared memory, then every head's pairs. */
__global__ void rope_kernel(bf16 *qkv, const int32_t *pos, const float *inv_freq, int nh, int nkv,
                            int hd, float dir)
{
    extern __shared__ float cs[]; /* [half] cos, then [half] dir * sin */
    const int half = hd / 2, pairs = (nh + nkv) * half;
    const size_t n = blockIdx.x;
    const float p = (float)pos[n];
    for (int i = threadIdx.x; i < half; i += blockDim.x) {
        float s, c;
        sincosf(p * inv_freq[i], &s, &c);
        cs[i] = c;
        cs[half + i] = s * dir;
    }
    __syncthreads();
    bf16 *row = qkv + n * (size_t)(nh + 2 * nkv) * hd;
    for (int t = threadIdx.x; t < pairs; t += blockDim.x) {
        const int h = t / half, i = t - h * half;
        bf16 *x = row + h * hd;
        const float c = cs[i], s = cs[half + i];
        float x1 = __bfloat162float(x[i]), x2 = __bfloat162float(x[i + half]);
        x[i] = __float2bfloat16_rn(x1 * c - x2 * s);
        x[i + half] = __float2bfloat16_rn(x2 * c + x1 * s);
    }
}

/* ---- SwiGLU ---------------------------------------------------------------------------------------- */

/* Rows along y, columns along x (no 64-bit division per element); with I even, two columns a
 * thread in 4-byte loads. */
__device__ __forceinline__ float silu_times(float g, float u)
{
    return g / (1.0f + expf(-g)) * u;
}

/* I % 8 == 0 and 16-byte aligned rows: 8 columns a thread, in 16-byte loads and stores. */
__global__ void swiglu_fwd_vec_kernel(bf16 *out, const bf16 *gu, int N, int I)
{
    const int cols = I / 8;
    for (int n = blockIdx.y; n < N; n += gridDim.y) {
        const uint4 *gr = (const uint4 *)(gu + (size_t)n * 2 * I), *ur = gr + cols;
        uint4 *orow = (uint4 *)(out + (size_t)n * I);
        for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < cols; i += gridDim.x * blockDim.x) {
            bf16x8 g, u, o;
            g.raw = gr[i];
            u.raw = ur[i];
            for (int k = 0; k < 4; k++) {
                float2 a = __bfloat1622float2(g.h[k]), b = __bfloat1622float2(u.h[k]);
                o.h[k] = __floats2bfloat162_rn(silu_times(a.x, b.x), silu_times(a.y, b.y));
            }
            orow[i] = o.raw;
        }
    }
}

template <bool PAIRS>
__global__ void swiglu_fwd_kernel(bf16 *out, const bf16 *gu, int N, int I)
{
    const int step = PAIRS ? 2 : 1;
    for (int n = blockIdx.y; n < N; n += gridDim.y) {
        const bf16 *gr = gu + (size_t)n * 2 * I;
        bf16 *orow = out + (size_t)n * I;
        for (int i = (blockIdx.x * blockDim.x + threadIdx.x) * step; i < I;
             i += gridDim.x * blockDim.x * step) {
            if (PAIRS) {
                const float2 g = __bfloat1622float2(*(const __nv_bfloat162 *)(gr + i));
                const float2 u = __bfloat1622float2(*(const __nv_bfloat162 *)(gr + I + i));
                *(__nv_bfloat162 *)(orow + i) =
                    __floats2bfloat162_rn(silu_times(g.x, u.x), silu_times(g.y, u.y));
            } else {
                float g = __bfloat162float(gr[i]), u = __bfloat162float(gr[I + i]);
                orow[i] = __float2bfloat16_rn(silu_times(g, u));
            }
        }
    }
}

__global__ void swiglu_bwd_kernel(bf16 *dgu, const bf16 *dout, const bf16 *gu, int N, int I)
{
    size_t total = (size_t)N * I;
    for (size_t t = blockIdx.x * (size_t)blockDim.x + threadIdx.x; t < total;
         t += (size_t)gridDim.x * blockDim.x) {
        size_t n = t / I, i = t % I;
        size_t a = n * 2 * I + i, b = a + I;
        float g = __bfloat162float(gu[a]), u = __bfloat162float(gu[b]);
        float d = __bfloat162float(dout[t]);
        float sig = 1.0f / (1.0f + expf(-g));
        float silu = g * sig;
        dgu[a] = __float2bfloat16_rn(d * u * sig * (1.0f + g * (1.0f - sig)));
        dgu[b] = __float2bfloat16_rn(d * silu);
    }
}

/* ---- cross-entropy ---------------------------------------------------------------------------------- */

/* (m, s): a running max and the sum of exp(x - m); s == 0 means empty. */
__device__ __forceinline__ void lse_merge(float &m, float &s, float m2, float s2)
{
    if (s2 == 0.0f)
        return;
    if (s == 0.0f) {
        m = m2;
        s = s2;
        return;
    }
    float M = fmaxf(m, m2);
    s = s * expf(m - M) + s2 * expf(m2 - M);
    m = M;
}

/* One block per row: one pass for the log-sum-exp, one to write the gradient in place. */
__global__ void cross_entropy_kernel(float *loss, bf16 *logits, const int32_t *targets, int V,
                                     float dscale)
{
    __shared__ float sm[32], ss[32];
    __shared__ float xt;
    size_t n = blockIdx.x;
    bf16 *x = logits + n * (size_t)V;
    int t = targets[n];
    bool ignored = t < 0 || t >= V;
    if (threadIdx.x == 0)
        xt = ignored ? 0.0f : __bfloat162float(x[t]);
    float m = -INFINITY, s = 0.0f;
    for (int j = threadIdx.x; j < V; j += blockDim.x) {
        float v = __bfloat162float(x[j]);
        if (v > m) {
            s = s * expf(m - v) + 1.0f;
            m = v;
        } else {
            s += v == -INFINITY ? 0.0f : expf(v - m); /* (-inf) - (-inf) would be NaN */
        }
    }
    for (int o = 16; o > 0; o >>= 1) {
        float m2 = __shfl_xor_sync(0xffffffffu, m, o), s2 = __shfl_xor_sync(0xffffffffu, s, o);
        lse_merge(m, s, m2, s2);
    }
    int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
    if (lane == 0) {
        sm[w] = m;
        ss[w] = s;
    }
    __syncthreads(); /* also orders the read of x[t] before the writes below */
    m = lane < nw ? sm[lane] : -INFINITY;
    s = lane < nw ? ss[lane] : 0.0f;
    for (int o = 16; o > 0; o >>= 1) {
        float m2 = __shfl_xor_sync(0xffffffffu, m, o), s2 = __shfl_xor_sync(0xffffffffu, s, o);
        lse_merge(m, s, m2, s2);
    }
    float lse = m + logf(s);
    if (threadIdx.x == 0 && loss)
        loss[n] = ignored ? 0.0f : lse - xt;
    if (dscale == 0.0f)
        return;
    for (int j = threadIdx.x; j < V; j += blockDim.x) {
        float g = 0.0f;
        if (!ignored)
            g = dscale * (expf(__bfloat162float(x[j]) - lse) - (j == t ? 1.0f : 0.0f));
        x[j] = __float2bfloat16_rn(g);
    }
}

/* ---- KV cache, gather --------------------------------------------------------------------------- */

/* A block per token: its key and value rows to their cache slot, in 16-byte pieces where the
 * rows allow (VEC: nkv*hd and nh*hd multiples of 8, aligned buffers). */
template <bool VEC>
__global__ void kv_store_kernel(bf16 *kc, bf16 *vc, const bf16 *qkv, const int32_t *slot, int nh,
                                int nkv, int hd)
{
    const size_t n = blockIdx.x;
    const int s = slot[n];
    if (s < 0)
        return;
    const int row = nkv * hd;
    const bf16 *src = qkv + n * (size_t)(nh + 2 * nkv) * hd + (size_t)nh * hd;
    bf16 *kd = kc + (size_t)s * row, *vd = vc + (size_t)s * row;
    if (VEC) {
        for (int e = threadIdx.x; e < row / 8; e += blockDim.x) {
            ((uint4 *)kd)[e] = ((const uint4 *)src)[e];
            ((uint4 *)vd)[e] = ((const uint4 *)(src + row))[e];
        }
    } else {
        for (int e = threadIdx.x; e < row; e += blockDim.x) {
            kd[e] = src[e];
            vd[e] = src[row + e];
        }
    }
}

__global__ void gather_rows_kernel(bf16 *out, const bf16 *inp, const int32_t *idx, int C)
{
    size_t n = blockIdx.x;
    const bf16 *src = inp + (size_t)idx[n] * C;
    for (int c = threadIdx.x; c < C; c += blockDim.x)
        out[n * C + c] = src[c];
}

/* ---- sumsq, AdamW -------------------------------------------------------------------------------- */

__global__ void sumsq_partial_kernel(double *part, const float *g, size_t n)
{
    __shared__ double red[32];
    double acc = 0.0;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        double v = g[i];
        acc += v * v;
    }
    acc = block_sum_d(acc, red);
    if (threadIdx.x == 0)
        part[blockIdx.x] = acc;
}

__global__ void sumsq_final_kernel(double *out, const double *part, int G)
{
    __shared__ double red[32];
    double acc = 0.0;
    for (int i = threadIdx.x; i < G; i += blockDim.x)
        acc += part[i];
    acc = block_sum_d(acc, red);
    if (threadIdx.x == 0)
        *out = acc;
}

struct adamw_consts {
    float gscale, decay, beta2, one_m_beta1, one_m_beta2, step_size, bc2_sqrt, eps;
};

__global__ void adamw_kernel(bf16 *param, float *master, const float *grad, float *m, float *v,
                             size_t n, adamw_consts k)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        float g = grad[i] * k.gscale;
        float p = master ? master[i] : __bfloat162float(param[i]);
        p = p * k.decay;
        /* m: torch's lerp (m + w (g - m), from the far end when w >= 0.5), which equals
         * beta1 m + (1 - beta1) g up to rounding. */
        float w = k.one_m_beta1, mi = m[i];
        mi = w < 0.5f ? mi + w * (g - mi) : g - (g - mi) * (1.0f - w);
        float vi = v[i] * k.beta2 + k.one_m_beta2 * g * g;
        m[i] = mi;
        v[i] = vi;
        p = p + (-k.step_size) * mi / (sqrtf(vi) / k.bc2_sqrt + k.eps);
        if (master)
            master[i] = p;
        param[i] = __float2bfloat16_rn(p);
    }
}

/* Threads for a one-block-per-row kernel over C columns: a multiple of 32, up to 1024 (cap). */
unsigned row_threads(int C, unsigned cap)
{
    unsigned t = ((unsigned)C + 31u) / 32u * 32u;
    return t < 32 ? 32 : (t > cap ? cap : t);
}

/* The three buffers start on 16-byte boundaries (uint4 loads). */
bool aligned16(const void *a, const void *b, const void *c)
{
    return (((uintptr_t)a | (uintptr_t)b | (uintptr_t)c) & 15u) == 0;
}

} /* namespace */

/* ---- entry points ----------------------------------------------------------------------------------- */

#define STREAM (sbti_cuda(be)->stream)

void sbti_cuda_convert_in(sbti_backend *be, void *dst, int dst_bf16, const void *src,
                          sbti_dtype src_dtype, size_t n)
{
    switch (src_dtype) {
    case SBTI_F32: convert_from<float>(be, dst, dst_bf16, src, n); break;
    case SBTI_BF16: convert_from<bf16>(be, dst, dst_bf16, src, n); break;
    case SBTI_F16: convert_from<__half>(be, dst, dst_bf16, src, n); break;
    }
}

void sbti_cuda_embedding_fwd(sbti_backend *be, void *out, const int32_t *tok, const void *wte,
                             int N, int C)
{
    if (N <= 0 || C <= 0 || !sbti_cuda_begin(be, "embedding_fwd"))
        return;
    embedding_fwd_kernel<<<N, row_threads(C, 256), 0, STREAM>>>((bf16 *)out, tok,
                                                                (const bf16 *)wte, C);
    sbti_cuda_launched(be, "embedding_fwd_kernel");
}

void sbti_cuda_embedding_bwd(sbti_backend *be, void *dwte, const void *dout, const int32_t *tok,
                             int N, int C)
{
    if (N <= 0 || C <= 0 || !sbti_cuda_begin(be, "embedding_bwd"))
        return;
    if (N > (1 << 30)) {
        sbti_backend_fail(be, SBT_E_UNSUPPORTED, "cuda embedding_bwd: N = %d tokens is too many", N);
        return;
    }
    int L = 2;
    while (L < N)
        L <<= 1;
    u64 *keys = (u64 *)sbti_cuda_scratch(be, (size_t)L * sizeof(u64), "embedding_bwd");
    if (!keys)
        return;
    cudaStream_t s = STREAM;
    make_keys_kernel<<<(L + 255) / 256, 256, 0, s>>>(keys, tok, N, L);
    if (!sbti_cuda_launched(be, "embedding_bwd: make_keys_kernel"))
        return;
    int S = L < 2048 ? L : 2048; /* keys per shared-memory segment */
    size_t smem = (size_t)S * sizeof(u64);
    bitonic_shared_kernel<<<L / S, S / 2, smem, s>>>(keys, 0);
    for (int k = 2 * S; k <= L; k <<= 1) {
        for (int j = k / 2; j >= S; j >>= 1)
            bitonic_global_kernel<<<(L / 2 + 255) / 256, 256, 0, s>>>(keys, L / 2, k, j);
        bitonic_shared_kernel<<<L / S, S / 2, smem, s>>>(keys, k);
    }
    if (!sbti_cuda_launched(be, "embedding_bwd: bitonic sort"))
        return;
    embedding_bwd_kernel<<<N, row_threads(C, 256), 0, s>>>((float *)dwte, (const bf16 *)dout, keys,
                                                           N, C);
    sbti_cuda_launched(be, "embedding_bwd_kernel");
}

void sbti_cuda_rmsnorm_fwd(sbti_backend *be, void *out, float *rstd, const void *inp,
                           const void *w, int N, int C, float eps)
{
    if (N <= 0 || C <= 0 || !sbti_cuda_begin(be, "rmsnorm_fwd"))
        return;
    if (C % 8 == 0 && C <= 8 * 1024 && aligned16(out, inp, w)) {
        rmsnorm_fwd_vec_kernel<<<N, row_threads(C / 8, 1024), 0, STREAM>>>(
            (bf16 *)out, rstd, (const bf16 *)inp, (const bf16 *)w, C, eps);
        sbti_cuda_launched(be, "rmsnorm_fwd_vec_kernel");
        return;
    }
    rmsnorm_fwd_kernel<<<N, row_threads(C, 512), 0, STREAM>>>(
        (bf16 *)out, rstd, (const bf16 *)inp, (const bf16 *)w, C, eps);
    sbti_cuda_launched(be, "rmsnorm_fwd_kernel");
}

void sbti_cuda_rmsnorm_bwd(sbti_backend *be, void *dinp, void *dw, const void *dout,
                           const void *inp, const void *w, const float *rstd, int N, int C)
{
    if (N <= 0 || C <= 0 || (!dinp && !dw) || !sbti_cuda_begin(be, "rmsnorm_bwd"))
        return;
    if (!rstd) {
        sbti_backend_fail(be, SBT_E_INTERNAL,
                          "cuda rmsnorm_bwd: rstd is NULL (eps is not passed: the forward must "
                          "keep rstd)");
        return;
    }
    /* A fixed number of partial rows (not the SM count): the same sums on every device. */
    int G = N < 256 ? N : 256;
    float *part = (float *)sbti_cuda_scratch(be, (size_t)G * C * sizeof(float), "rmsnorm_bwd");
    if (!part)
        return;
    rmsnorm_bwd_kernel<<<G, row_threads(C, 512), 0, STREAM>>>(
        (bf16 *)dinp, part, (const bf16 *)dout, (const bf16 *)inp, (const bf16 *)w, rstd, N, C);
    if (!sbti_cuda_launched(be, "rmsnorm_bwd_kernel") || !dw)
        return;
    sum_partials_kernel<<<(C + 255) / 256, 256, 0, STREAM>>>((float *)dw, part, G, C);
    sbti_cuda_launched(be, "rmsnorm_bwd: sum_partials_kernel");
}

static void rope(sbti_backend *be, void *qkv, const int32_t *pos, const float *inv_freq, int N,
                 int nh, int nkv, int hd, float dir, const char *op)
{
    if (N <= 0 || hd <= 0 || nh + nkv <= 0 || !sbti_cuda_begin(be, op))
        return;
    if (hd % 2) {
        sbti_backend_fail(be, SBT_E_INVALID_ARGUMENT, "cuda %s: head dim %d is odd", op, hd);
        return;
    }
    const int pairs = (nh + nkv) * (hd / 2);
    rope_kernel<<<N, pairs < 256 ? row_threads(pairs, 256) : 256, sizeof(float) * hd, STREAM>>>(
        (bf16 *)qkv, pos, inv_freq, nh, nkv, hd, dir);
    sbti_cuda_launched(be, "rope_kernel");
}

void sbti_cuda_rope_fwd(sbti_backend *be, void *qkv, const int32_t *pos, const float *inv_freq,
                        int N, int nh, int nkv, int hd)
{
    rope(be, qkv, pos, inv_freq, N, nh, nkv, hd, 1.0f, "rope_fwd");
}

void sbti_cuda_rope_bwd(sbti_backend *be, void *dqkv, const int32_t *pos, const float *inv_freq,
                        int N, int nh, int nkv, int hd)
{
    rope(be, dqkv, pos, inv_freq, N, nh, nkv, hd, -1.0f, "rope_bwd");
}

void sbti_cuda_swiglu_fwd(sbti_backend *be, void *out, const void *gu, int N, int I)
{
    if (N <= 0 || I <= 0 || !sbti_cuda_begin(be, "swiglu_fwd"))
        return;
    /* pairs need 4-byte aligned rows: I even and the buffers (from alloc) aligned */
    const bool vec = I % 8 == 0 && aligned16(out, gu, gu);
    const bool pairs = I % 2 == 0 && ((uintptr_t)out | (uintptr_t)gu) % 4 == 0;
    const int cols = vec ? I / 8 : pairs ? I / 2 : I;
    dim3 grid((unsigned)((cols + 255) / 256 < 32 ? (cols + 255) / 256 : 32),
              (unsigned)(N < 65535 ? N : 65535));
    if (vec)
        swiglu_fwd_vec_kernel<<<grid, 256, 0, STREAM>>>((bf16 *)out, (const bf16 *)gu, N, I);
    else if (pairs)
        swiglu_fwd_kernel<true><<<grid, 256, 0, STREAM>>>((bf16 *)out, (const bf16 *)gu, N, I);
    else
        swiglu_fwd_kernel<false><<<grid, 256, 0, STREAM>>>((bf16 *)out, (const bf16 *)gu, N, I);
    sbti_cuda_launched(be, "swiglu_fwd_kernel");
}

void sbti_cuda_swiglu_bwd(sbti_backend *be, void *dgu, const void *dout, const void *gu, int N,
                          int I)
{
    if (N <= 0 || I <= 0 || !sbti_cuda_begin(be, "swiglu_bwd"))
        return;
    swiglu_bwd_kernel<<<sbti_cuda_blocks((size_t)N * I, 256), 256, 0, STREAM>>>(
        (bf16 *)dgu, (const bf16 *)dout, (const bf16 *)gu, N, I);
    sbti_cuda_launched(be, "swiglu_bwd_kernel");
}

void sbti_cuda_cross_entropy(sbti_backend *be, float *loss, void *logits,
                             const int32_t *targets, int N, int V, float dscale)
{
    if (N <= 0 || V <= 0 || !sbti_cuda_begin(be, "cross_entropy"))
        return;
    cross_entropy_kernel<<<N, row_threads(V, 1024), 0, STREAM>>>(loss, (bf16 *)logits, targets, V,
                                                                 dscale);
    sbti_cuda_launched(be, "cross_entropy_kernel");
}

void sbti_cuda_kv_store(sbti_backend *be, void *kcache, void *vcache, const void *qkv,
                        const int32_t *slot, int N, int nh, int nkv, int hd)
{
    if (N <= 0 || nkv <= 0 || hd <= 0 || !sbti_cuda_begin(be, "kv_store"))
        return;
    const int row = nkv * hd;
    unsigned threads = row_threads(row % 8 == 0 ? row / 8 : row, 256);
    if (row % 8 == 0 && (nh * hd) % 8 == 0 && aligned16(kcache, vcache, qkv))
        kv_store_kernel<true><<<N, threads, 0, STREAM>>>((bf16 *)kcache, (bf16 *)vcache,
                                                         (const bf16 *)qkv, slot, nh, nkv, hd);
    else
        kv_store_kernel<false><<<N, threads, 0, STREAM>>>((bf16 *)kcache, (bf16 *)vcache,
                                                          (const bf16 *)qkv, slot, nh, nkv, hd);
    sbti_cuda_launched(be, "kv_store_kernel");
}

void sbti_cuda_gather_rows(sbti_backend *be, void *out, const void *inp, const int32_t *idx,
                           int N, int C)
{
    if (N <= 0 || C <= 0 || !sbti_cuda_begin(be, "gather_rows"))
        return;
    gather_rows_kernel<<<N, row_threads(C, 256), 0, STREAM>>>((bf16 *)out, (const bf16 *)inp, idx,
                                                             C);
    sbti_cuda_launched(be, "gather_rows_kernel");
}

double sbti_cuda_sumsq(sbti_backend *be, const void *grad, size_t n)
{
    if (n == 0 || !sbti_cuda_begin(be, "sumsq"))
        return 0.0;
    sbti_cuda_backend *cb = sbti_cuda(be);
    /* The number of partials depends on n alone: the same sum on every device and run. */
    int G = (int)(n / (256 * 16) + 1);
    if (G > 1024)
        G = 1024;
    double *part = (double *)sbti_cuda_scratch(be, (size_t)(G + 1) * sizeof(double), "sumsq");
    if (!part)
        return 0.0;
    sumsq_partial_kernel<<<G, 256, 0, cb->stream>>>(part + 1, (const float *)grad, n);
    if (!sbti_cuda_launched(be, "sumsq_partial_kernel"))
        return 0.0;
    sumsq_final_kernel<<<1, 1024, 0, cb->stream>>>(part, part + 1, G);
    if (!sbti_cuda_launched(be, "sumsq_final_kernel") ||
        !sbti_cuda_ok(be, cudaMemcpyAsync(cb->host_double, part, sizeof(double),
                                          cudaMemcpyDeviceToHost, cb->stream),
                      "sumsq: cudaMemcpyAsync device to host") ||
        !sbti_cuda_ok(be, cudaStreamSynchronize(cb->stream), "sumsq: cudaStreamSynchronize"))
        return 0.0;
    return *cb->host_double;
}

void sbti_cuda_adamw(sbti_backend *be, void *param, float *master, const void *grad, float *m,
                     float *v, size_t n, const sbti_adamw_args *a)
{
    if (n == 0 || !sbti_cuda_begin(be, "adamw"))
        return;
    if (!a || a->step < 1) {
        sbti_backend_fail(be, SBT_E_INVALID_ARGUMENT, "cuda adamw: %s",
                          a ? "step must be at least 1" : "args is NULL");
        return;
    }
    /* As torch computes them (_single_tensor_adamw): the scalars in double, then rounded to
     * fp32 factors. */
    double bc1 = 1.0 - pow((double)a->beta1, (double)a->step);
    double bc2 = 1.0 - pow((double)a->beta2, (double)a->step);
    adamw_consts k;
    k.gscale = a->grad_scale;
    k.decay = (float)(1.0 - (double)a->lr * (double)a->weight_decay);
    k.beta2 = a->beta2;
    k.one_m_beta1 = (float)(1.0 - (double)a->beta1);
    k.one_m_beta2 = (float)(1.0 - (double)a->beta2);
    k.step_size = (float)((double)a->lr / bc1);
    k.bc2_sqrt = (float)sqrt(bc2);
    k.eps = a->eps;
    unsigned g = sbti_cuda_blocks(n, 256);
    if (g > 65536)
        g = 65536;
    adamw_kernel<<<g, 256, 0, STREAM>>>((bf16 *)param, master, (const float *)grad, m, v, n, k);
    sbti_cuda_launched(be, "adamw_kernel");
}
