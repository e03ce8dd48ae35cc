/* cuda_attention_paged.cu — attention of decoding tokens against the paged KV cache
 * (backend.h attention_paged).
 *
 * Decoding queries are few per sequence and contexts short (a Countdown search: 40-50
 * positions), so the work is one warp per (token, key/value head), for up to RMAX query heads
 * of the group (more take several warps). Positions go 32 at a time, one per lane: lane j looks
 * up its slot and scores its key against every query head (the queries in shared memory, read
 * as broadcasts), one warp max and sum per head update the online softmax, and the values are
 * accumulated with lane l owning dims [l*DPL, (l+1)*DPL), each key's weight shuffled from its
 * lane. No block synchronisation; fp32 sums in a fixed order (deterministic). */
#include <math.h>

#include "backend/cuda/cuda_internal.h"

namespace {

constexpr int WARPS = 4; /* per block */

template <int DPL, int RMAX>
__global__ void __launch_bounds__(32 * WARPS)
attn_paged_kernel(bf16 *out, const bf16 *qkv, const bf16 *kcache, const bf16 *vcache,
                  const int32_t *seq, const int32_t *pos, const int32_t *pages, int max_pages,
                  int page_size, int N, int nh, int nkv, int hd, int chunks, float scale)
{
    constexpr int DP = 32 * DPL < 64 ? 64 : 32 * DPL; /* hd rounded up: lanes' dims, a chunk */
    __shared__ __align__(16) float qs[WARPS][RMAX][DP];
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const size_t item = (size_t)blockIdx.x * WARPS + warp;
    if (item >= (size_t)N * nkv * chunks)
        return;
    const int n = (int)(item / ((size_t)nkv * chunks));
    const int g = (int)(item / chunks % nkv), chunk = (int)(item % chunks);
    const int rep = nh / nkv, h0 = chunk * RMAX;
    const int nq = min(RMAX, rep - h0);
    const size_t W = (size_t)(nh + 2 * nkv) * hd, row = (size_t)nkv * hd;
    const int d0 = lane * DPL;

    float (*q)[DP] = qs[warp]; /* the warp's query heads, scaled, zero past hd */
    const bf16 *qrow = qkv + (size_t)n * W + (size_t)(g * rep + h0) * hd;
    for (int e = lane; e < RMAX * DP; e += 32) {
        int h = e / DP, d = e % DP;
        q[h][d] = (h < nq && d < hd) ? __bfloat162float(qrow[(size_t)h * hd + d]) * scale : 0.0f;
    }
    __syncwarp();

    float m[RMAX], l[RMAX], o[RMAX][DPL];
#pragma unroll
    for (int h = 0; h < RMAX; h++) {
        m[h] = -INFINITY;
        l[h] = 0.0f;
#pragma unroll
        for (int i = 0; i < DPL; i++)
            o[h][i] = 0.0f;
    }

    const int32_t *table = pages + (size_t)seq[n] * max_pages;
    const int last = pos[n]; /* attends positions 0..last */
    for (int p0 = 0; p0 <= last; p0 += 32) {
        const int p = p0 + lane, cnt = min(32, last - p0 + 1);
        const bool valid = p <= last;
        const size_t slot = valid ? (size_t)table[p / page_size] * page_size + p % page_size : 0;
        /* lane p's key against every head: with hd a multiple of 8, the row in 16-byte loads
         * issued together, 64 dims at a time (one memory latency per chunk, not per dim) */
        const bf16 *krow = kcache + slot * row + (size_t)g * hd;
        float s[RMAX];
#pragma unroll
        for (int h = 0; h < RMAX; h++)
            s[h] = 0.0f;
        if (hd % 8 == 0) {
            for (int c = 0; c < hd; c += 64) {
                uint4 kv[8];
#pragma unroll
                for (int u = 0; u < 8; u++)
                    kv[u] = c + 8 * u < hd ? *(const uint4 *)(krow + c + 8 * u)
                                           : make_uint4(0u, 0u, 0u, 0u);
#pragma unroll
                for (int u = 0; u < 8; u++) {
                    const __nv_bfloat162 *k2 = (const __nv_bfloat162 *)&kv[u];
                    const float2 f0 = __bfloat1622float2(k2[0]), f1 = __bfloat1622float2(k2[1]);
                    const float2 f2 = __bfloat1622float2(k2[2]), f3 = __bfloat1622float2(k2[3]);
                    const int d = c + 8 * u;
#pragma unroll
                    for (int h = 0; h < RMAX; h++) { /* two 16-byte broadcasts of the query */
                        const float4 qa = *(const float4 *)&q[h][d], qb = *(const float4 *)&q[h][d + 4];
                        s[h] += qa.x * f0.x + qa.y * f0.y + qa.z * f1.x + qa.w * f1.y +
                                qb.x * f2.x + qb.y * f2.y + qb.z * f3.x + qb.w * f3.y;
                    }
                }
            }
        } else {
            for (int d = 0; d < hd; d++) {
                const float kd = __bfloat162float(krow[d]);
#pragma unroll
                for (int h = 0; h < RMAX; h++)
                    s[h] += q[h][d] * kd;
            }
        }
        /* the online softmax: s becomes each key's weight */
#pragma unroll
        for (int h = 0; h < RMAX; h++) {
            if (h >= nq)
                break;
            const float mx = sbti_warp_max(valid ? s[h] : -INFINITY); /* lane 0 is always valid */
            const float mn = fmaxf(m[h], mx), corr = expf(m[h] - mn);
            s[h] = valid ? expf(s[h] - mn) : 0.0f;
            l[h] = l[h] * corr + sbti_warp_sum(s[h]);
            m[h] = mn;
#pragma unroll
            for (int i = 0; i < DPL; i++)
                o[h][i] *= corr;
        }
        /* the values, lane l owning dims d0..: 8 keys' rows loaded together, then weighed */
        for (int j0 = 0; j0 < cnt; j0 += 8) {
            float v[8][DPL];
#pragma unroll
            for (int u = 0; u < 8; u++) {
                const size_t sj = __shfl_sync(0xffffffffu, slot, (j0 + u) & 31);
                const bf16 *vrow = vcache + sj * row + (size_t)g * hd;
#pragma unroll
                for (int i = 0; i < DPL; i++)
                    v[u][i] = j0 + u < cnt && d0 + i < hd ? __bfloat162float(vrow[d0 + i]) : 0.0f;
            }
#pragma unroll
            for (int h = 0; h < RMAX; h++) {
                if (h >= nq)
                    break;
#pragma unroll
                for (int u = 0; u < 8; u++) {
                    const float w = __shfl_sync(0xffffffffu, s[h], (j0 + u) & 31);
#pragma unroll
                    for (int i = 0; i < DPL; i++)
                        o[h][i] += w * v[u][i];
                }
            }
        }
    }

    bf16 *orow = out + (size_t)n * nh * hd + (size_t)(g * rep + h0) * hd;
#pragma unroll
    for (int h = 0; h < RMAX; h++) {
        if (h >= nq)
            break;
        const float inv = l[h] > 0.0f ? 1.0f / l[h] : 0.0f;
#pragma unroll
        for (int i = 0; i < DPL; i++)
            if (d0 + i < hd)
                orow[(size_t)h * hd + d0 + i] = __float2bfloat16_rn(o[h][i] * inv);
    }
}

template <int DPL, int RMAX>
void launch(sbti_backend *be, bf16 *out, const bf16 *qkv, const bf16 *kc, const bf16 *vc,
            const int32_t *seq, const int32_t *pos, const int32_t *pages, int max_pages,
            int page_size, int N, int nh, int nkv, int hd, float scale)
{
    const int rep = nh / nkv, chunks = (rep + RMAX - 1) / RMAX;
    const size_t items = (size_t)N * nkv * chunks;
    const size_t blocks = (items + WARPS - 1) / WARPS;
    if (blocks > 0x7fffffffu) {
        sbti_backend_fail(be, SBT_E_UNSUPPORTED, "cuda attention_paged: %zu warps of work", items);
        return;
    }
    attn_paged_kernel<DPL, RMAX><<<(unsigned)blocks, 32 * WARPS, 0, sbti_cuda(be)->stream>>>(
        out, qkv, kc, vc, seq, pos, pages, max_pages, page_size, N, nh, nkv, hd, chunks, scale);
    sbti_cuda_launched(be, "attn_paged_kernel");
}

} /* namespace */

void sbti_cuda_attention_paged(sbti_backend *be, void *out, const void *qkv, const void *kcache,
                               const void *vcache, const int32_t *seq, const int32_t *pos,
                               const int32_t *pages, int max_pages, int page_size, int N, int nh,
                               int nkv, int hd)
{
    if (N <= 0 || !sbti_cuda_begin(be, "attention_paged"))
        return;
    if (nh <= 0 || nkv <= 0 || nh % nkv != 0 || hd <= 0 || hd > 256 || page_size <= 0 ||
        max_pages <= 0) {
        sbti_backend_fail(be, SBT_E_UNSUPPORTED,
                          "cuda attention_paged: nh = %d, nkv = %d, hd = %d, page_size = %d, "
                          "max_pages = %d: need nkv dividing nh, 1 <= hd <= 256 and pages",
                          nh, nkv, hd, page_size, max_pages);
        return;
    }
    const float scale = (float)(1.0 / sqrt((double)hd));
    bf16 *o = (bf16 *)out;
    const bf16 *x = (const bf16 *)qkv, *k = (const bf16 *)kcache, *v = (const bf16 *)vcache;
    /* heads per warp: the group's (so no lane scores a head that is not there), at most 8 (4
     * at hd > 128, for registers) */
    const int rep = nh / nkv;
#define SBTI_PAGED(DPL, RMAX)                                                                 \
    launch<DPL, RMAX>(be, o, x, k, v, seq, pos, pages, max_pages, page_size, N, nh, nkv, hd, scale)
#define SBTI_PAGED_R(DPL, RMAXMAX)                                                            \
    do {                                                                                      \
        if (rep <= 1)                                                                         \
            SBTI_PAGED(DPL, 1);                                                               \
        else if (rep <= 2)                                                                    \
            SBTI_PAGED(DPL, 2);                                                               \
        else if (rep <= 4 || RMAXMAX == 4)                                                    \
            SBTI_PAGED(DPL, 4);                                                               \
        else                                                                                  \
            SBTI_PAGED(DPL, RMAXMAX);                                                         \
    } while (0)
    if (hd <= 32)
        SBTI_PAGED_R(1, 8);
    else if (hd <= 64)
        SBTI_PAGED_R(2, 8);
    else if (hd <= 128)
        SBTI_PAGED_R(4, 8);
    else
        SBTI_PAGED_R(8, 4);
#undef SBTI_PAGED_R
#undef SBTI_PAGED
}
