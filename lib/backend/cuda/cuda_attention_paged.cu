/* cuda_attention_paged.cu — attention of decoding tokens against the paged KV cache
 * (backend.h attention_paged).
 *
 * Decoding queries are one per sequence and contexts short (the search's steps: about 2048 rows
 * of 24-50 positions, pages of one position), so the work is small matrix products per
 * (token, key/value head): S = Q·Kᵀ for the group's query heads, softmax, O = P·V. A SIMT kernel
 * spends most of its time issuing the fp32 multiply-adds, shuffles and conversions of that; here
 * they run on the tensor cores (mma.sync m16n8k16, bf16 in, fp32 accumulation), one warp per
 * (token, key/value head, up to 16 query heads of the group — more take several warps):
 *
 *   - the query heads are the rows of the A operand (16 rows; with at most 8 heads a warp, the
 *     Llama heads' 4, rows 8-15 are left out of the registers), loaded once;
 *   - positions go PP at a time: the warp's page-table entries for the pass (loaded during the
 *     previous pass) go to shared memory, then the K and V rows of those positions are copied
 *     into shared memory with cp.async (16 bytes a lane, the whole pass in flight together, no
 *     registers held);
 *   - S (heads x PP positions) comes from ldmatrix'd K tiles, is scaled, masked past pos[n] and
 *     folded into an online softmax (max, sum, rescale of O) in fp32, per query head;
 *   - P·V takes P as the A operand straight from S's accumulator layout and V through
 *     ldmatrix.trans. P is split into bf16 hi + lo parts (two products), so the weights keep about
 *     16 bits rather than bf16's 8: the result stays as close to the fp32 reference as the SIMT
 *     kernel's was;
 *   - at the end the row sums are reduced over the lane quads and O / l is written as bf16.
 * No block synchronisation, no atomics: the same bits run to run. Nothing allocated, no host
 * synchronisation (the op is captured into CUDA graphs).
 *
 * The kernel is latency-bound: a warp waits for pos/seq, the page table, then its K/V copies, so
 * the speed comes from warps resident per SM. PP = 16 at hd <= 64 (4.7 KB of staging a warp) and
 * registers capped for 8 blocks of 4 warps an SM (64 registers, about 100 bytes spilled) gave the
 * best time at the search's shape (H200, 2048 rows, L 25-50: 66 us under ncu against 70-77 us
 * for PP = 32 with 4-6 blocks an SM, and 155 us for the SIMT kernel); longer contexts would
 * prefer PP = 32 (L ~ 1000: 93 us against 107 us).
 *
 * The SIMT kernel that came before (one warp per (token, key/value head), positions one per
 * lane, then values with lanes owning dims) remains for what the MMA kernel does not take: hd
 * not a multiple of 8 or over 128, or buffers not 16-byte aligned. */
#include <math.h>
#include <stdint.h>

#include "backend/cuda/cuda_internal.h"

namespace {

/* ---- the SIMT kernel (odd head sizes, unaligned buffers) -------------------------------- */

constexpr int SIMT_WARPS = 4; /* per block */

template <int DPL, int RMAX>
__global__ void __launch_bounds__(32 * SIMT_WARPS)
attn_paged_simt(bf16 *out, const bf16 *qkv, const bf16 *kcache, const bf16 *vcache,
                  const int32_t *seq, const int32_t *pos, const int32_t *pages, int max_pages,
                  int page_size, int N, int nh, int nkv, int hd, int chunks, float scale)
{
    constexpr int DP = 32 * DPL < 64 ? 64 : 32 * DPL; /* hd rounded up: lanes' dims, a chunk */
    __shared__ __align__(16) float qs[SIMT_WARPS][RMAX][DP];
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const size_t item = (size_t)blockIdx.x * SIMT_WARPS + warp;
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
void launch_simt(sbti_backend *be, bf16 *out, const bf16 *qkv, const bf16 *kc, const bf16 *vc,
            const int32_t *seq, const int32_t *pos, const int32_t *pages, int max_pages,
            int page_size, int N, int nh, int nkv, int hd, float scale)
{
    const int rep = nh / nkv, chunks = (rep + RMAX - 1) / RMAX;
    const size_t items = (size_t)N * nkv * chunks;
    const size_t blocks = (items + SIMT_WARPS - 1) / SIMT_WARPS;
    if (blocks > 0x7fffffffu) {
        sbti_backend_fail(be, SBT_E_UNSUPPORTED, "cuda attention_paged: %zu warps of work", items);
        return;
    }
    attn_paged_simt<DPL, RMAX><<<(unsigned)blocks, 32 * SIMT_WARPS, 0, sbti_cuda(be)->stream>>>(
        out, qkv, kc, vc, seq, pos, pages, max_pages, page_size, N, nh, nkv, hd, chunks, scale);
    sbti_cuda_launched(be, "attn_paged_simt");
}


/* ---- the tensor-core kernel --------------------------------------------------------------- */

constexpr int MMA_WARPS = 4; /* per block, each on its own (token, key/value head, heads) */
constexpr int PP_SMALL = 16; /* positions a pass at hd <= 64 (32 at hd <= 128) */
constexpr int MMA_MINB = 8;  /* blocks an SM the registers must allow at hd <= 64 (the header) */

__device__ __forceinline__ void cp_async16(void *smem, const void *gmem)
{
    const unsigned s = (unsigned)__cvta_generic_to_shared(smem);
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(s), "l"(gmem) : "memory");
}

__device__ __forceinline__ void cp_async_wait_all()
{
    asm volatile("cp.async.commit_group;\ncp.async.wait_group 0;\n" ::: "memory");
}

__device__ __forceinline__ void ldsm_x4(uint32_t (&d)[4], const void *smem)
{
    const unsigned s = (unsigned)__cvta_generic_to_shared(smem);
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(d[0]), "=r"(d[1]), "=r"(d[2]), "=r"(d[3])
                 : "r"(s));
}

__device__ __forceinline__ void ldsm_x2(uint32_t (&d)[4], const void *smem)
{
    const unsigned s = (unsigned)__cvta_generic_to_shared(smem);
    asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0,%1}, [%2];\n"
                 : "=r"(d[0]), "=r"(d[1])
                 : "r"(s));
}

__device__ __forceinline__ void ldsm_x4_t(uint32_t (&d)[4], const void *smem)
{
    const unsigned s = (unsigned)__cvta_generic_to_shared(smem);
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(d[0]), "=r"(d[1]), "=r"(d[2]), "=r"(d[3])
                 : "r"(s));
}

__device__ __forceinline__ void ldsm_x2_t(uint32_t (&d)[4], const void *smem)
{
    const unsigned s = (unsigned)__cvta_generic_to_shared(smem);
    asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0,%1}, [%2];\n"
                 : "=r"(d[0]), "=r"(d[1])
                 : "r"(s));
}

/* c += a · b, m16n8k16, bf16 in, fp32 accumulation. With M16 false, rows 8-15 of A are zero
 * and only c's rows 0-7 are kept: a = {a0, a2}, c = {c0, c1} (fewer registers a lane). */
template <bool M16>
__device__ __forceinline__ void mma16816(float (&c)[M16 ? 4 : 2], const uint32_t (&a)[M16 ? 4 : 2],
                                         uint32_t b0, uint32_t b1)
{
    if constexpr (M16) {
        asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, "
                     "{%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                     : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
    } else {
        float d2, d3;
        asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, "
                     "{%4,%5,%6,%5}, {%7,%8}, {%0,%1,%9,%9};\n"
                     : "+f"(c[0]), "+f"(c[1]), "=f"(d2), "=f"(d3)
                     : "r"(a[0]), "r"(0u), "r"(a[1]), "r"(b0), "r"(b1), "f"(0.0f));
    }
}

__device__ __forceinline__ uint32_t pack_bf16(float lo, float hi)
{
    const __nv_bfloat162 h = __floats2bfloat162_rn(lo, hi);
    return *(const uint32_t *)&h;
}

/* x = hi + lo (+ about 2^-17 x): the bf16 pair of (x0, x1) and of what it leaves */
__device__ __forceinline__ void split_bf16(float x0, float x1, uint32_t &hi, uint32_t &lo)
{
    const __nv_bfloat162 h = __floats2bfloat162_rn(x0, x1);
    const float2 f = __bfloat1622float2(h);
    hi = *(const uint32_t *)&h;
    lo = pack_bf16(x0 - f.x, x1 - f.y);
}

/* HD16: k-steps of 16 dims the instance takes (hd <= 16 * HD16); PP: positions a pass; M16:
 * more than 8 query heads a warp (else rows 8-15 of the products are left out). */
template <int HD16, int PP, bool M16>
__global__ void __launch_bounds__(32 * MMA_WARPS, HD16 <= 4 ? MMA_MINB : 1)
attn_paged_mma(bf16 *__restrict__ out, const bf16 *__restrict__ qkv,
               const bf16 *__restrict__ kcache, const bf16 *__restrict__ vcache,
               const int32_t *__restrict__ seq, const int32_t *__restrict__ pos,
               const int32_t *__restrict__ pages, int max_pages, int page_size, int N, int nh,
               int nkv, int hd, int chunks, float scale_log2)
{
    static_assert(PP % 16 == 0 && PP <= 64, "positions a pass: a multiple of 16, at most 64");
    constexpr int HDP = HD16 * 16 + 8; /* a staged row (elements): 16-byte aligned, and ldmatrix's
                                        * 8 rows fall in distinct banks */
    constexpr int NT8 = PP / 8;        /* score tiles of 8 positions */
    constexpr int HDN = HD16 * 2;      /* output tiles of 8 dims */
    constexpr int CR = M16 ? 4 : 2;    /* accumulators a tile, A registers a k-step */
    constexpr int NS = (PP + 31) / 32; /* page-table entries a lane, a pass */
    extern __shared__ __align__(16) unsigned char smem_raw[];
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const size_t item = (size_t)blockIdx.x * MMA_WARPS + warp;
    if (item >= (size_t)N * nkv * chunks)
        return;
    bf16 *ks = (bf16 *)smem_raw + (size_t)warp * (2 * PP * HDP + 2 * PP); /* K [PP][HDP] */
    bf16 *vs = ks + PP * HDP;                                             /* V [PP][HDP] */
    int32_t *slots = (int32_t *)(vs + PP * HDP);                          /* [PP] */
    const int n = (int)(item / ((size_t)nkv * chunks));
    const int g = (int)(item / chunks % nkv), h0 = (int)(item % chunks) * 16;
    const int rep = nh / nkv, nq = min(16, rep - h0);
    const int r = lane >> 2, qd = (lane & 3) * 2; /* the lane's fragment row and column pair */
    const int ksteps = (hd + 15) >> 4, ntile = hd >> 3;
    const size_t W = (size_t)(nh + 2 * nkv) * hd, row = (size_t)nkv * hd;

    /* the row's length and page table first: the longest chain of loads */
    const int32_t *table = pages + (size_t)seq[n] * max_pages;
    const int L = pos[n] + 1; /* attends positions 0..pos[n] */
    int sl[NS];               /* this pass's slots, positions p0 + lane + 32 i */
#pragma unroll
    for (int i = 0; i < NS; i++) {
        const int j = lane + 32 * i;
        sl[i] = j < PP && j < L ? (page_size == 1 ? table[j] : table[j / page_size] * page_size + j % page_size)
                                : 0;
    }

    /* never-copied parts of the staging must be finite: V's rows past a pass's positions meet
     * zero weights, K's columns past hd (hd % 16 == 8) meet zero queries */
    const uint4 z = make_uint4(0u, 0u, 0u, 0u);
    for (int e = lane; e < PP * HDP / 8; e += 32)
        ((uint4 *)vs)[e] = z;
    if (hd & 15)
        for (int p = lane; p < PP; p += 32)
            *(uint4 *)(ks + p * HDP + hd) = z;

    /* the query heads as A fragments (rows r, r + 8; columns qd, qd + 8 of each k-step) */
    uint32_t qa[HD16][CR];
    const bf16 *qrow = qkv + (size_t)n * W + (size_t)(g * rep + h0) * hd;
#pragma unroll
    for (int k = 0; k < HD16; k++) {
        const int c0 = k * 16 + qd, c1 = c0 + 8;
        if constexpr (M16) {
            qa[k][0] = r < nq && c0 < hd ? *(const uint32_t *)(qrow + (size_t)r * hd + c0) : 0u;
            qa[k][1] = r + 8 < nq && c0 < hd ? *(const uint32_t *)(qrow + (size_t)(r + 8) * hd + c0) : 0u;
            qa[k][2] = r < nq && c1 < hd ? *(const uint32_t *)(qrow + (size_t)r * hd + c1) : 0u;
            qa[k][3] = r + 8 < nq && c1 < hd ? *(const uint32_t *)(qrow + (size_t)(r + 8) * hd + c1) : 0u;
        } else {
            qa[k][0] = r < nq && c0 < hd ? *(const uint32_t *)(qrow + (size_t)r * hd + c0) : 0u;
            qa[k][1] = r < nq && c1 < hd ? *(const uint32_t *)(qrow + (size_t)r * hd + c1) : 0u;
        }
    }

    float m0 = -INFINITY, m1 = -INFINITY, l0 = 0.0f, l1 = 0.0f; /* rows r and r + 8 */
    float o[HDN][CR];
#pragma unroll
    for (int d = 0; d < HDN; d++)
#pragma unroll
        for (int e = 0; e < CR; e++)
            o[d][e] = 0.0f;

    /* the copy: lane (row j, 16-byte chunk cc), 2^lc lanes a row */
    int lc = 0;
    while ((1 << lc) < ntile)
        lc++;
    const int cc = lane & ((1 << lc) - 1), rstep = 32 >> lc;
    const bf16 *kg = kcache + (size_t)g * hd + cc * 8, *vg = vcache + (size_t)g * hd + cc * 8;
    for (int p0 = 0; p0 < L; p0 += PP) {
        const int cnt = min(PP, L - p0);
#pragma unroll
        for (int i = 0; i < NS; i++)
            if (lane + 32 * i < cnt)
                slots[lane + 32 * i] = sl[i];
        __syncwarp();
        /* the next pass's slots, in flight while this one is copied and computed */
#pragma unroll
        for (int i = 0; i < NS; i++) {
            const int j = lane + 32 * i, p = p0 + PP + j;
            sl[i] = j < PP && p < L ? (page_size == 1 ? table[p] : table[p / page_size] * page_size + p % page_size)
                                    : 0;
        }
        for (int j = lane >> lc; j < cnt; j += rstep)
            if (cc < ntile) {
                const size_t off = (size_t)slots[j] * row;
                cp_async16(ks + j * HDP + cc * 8, kg + off);
                cp_async16(vs + j * HDP + cc * 8, vg + off);
            }
        cp_async_wait_all();
        __syncwarp();

        /* S = Q·Kᵀ over the tiles that hold positions, in pairs (P·V's k-steps of 16) */
        const int nt = (cnt + 15) >> 4 << 1;
        float s[NT8][CR];
#pragma unroll
        for (int t = 0; t < NT8; t++) {
#pragma unroll
            for (int e = 0; e < CR; e++)
                s[t][e] = 0.0f;
            if (t < nt) {
                /* lane i addresses row i % 8 of matrix i / 8: positions 8t.., dims k*16 + 8 (i / 8) */
                const bf16 *kp = ks + (t * 8 + (lane & 7)) * HDP + (lane >> 3) * 8;
#pragma unroll
                for (int k = 0; k < HD16; k += 2)
                    if (k < ksteps) {
                        uint32_t b[4];
                        if (k + 1 < ksteps) {
                            ldsm_x4(b, kp + k * 16);
                            mma16816<M16>(s[t], qa[k], b[0], b[1]);
                            mma16816<M16>(s[t], qa[k + 1], b[2], b[3]);
                        } else {
                            ldsm_x2(b, kp + k * 16);
                            mma16816<M16>(s[t], qa[k], b[0], b[1]);
                        }
                    }
            }
        }
        /* the online softmax, base 2 (scale_log2 = log2(e) / sqrt(hd)); past pos[n]: -inf */
        float mx0 = m0, mx1 = m1;
#pragma unroll
        for (int t = 0; t < NT8; t++)
            if (t < nt)
#pragma unroll
                for (int e = 0; e < CR; e++) {
                    const int p = p0 + t * 8 + qd + (e & 1);
                    const float v = p < L ? s[t][e] * scale_log2 : -INFINITY;
                    s[t][e] = v;
                    if (e < 2)
                        mx0 = fmaxf(mx0, v);
                    else
                        mx1 = fmaxf(mx1, v);
                }
        mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 1));
        mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 2));
        if constexpr (M16) {
            mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 1));
            mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 2));
        }
        /* position p0 is in every pass: the maxima are finite */
        const float corr0 = exp2f(m0 - mx0), corr1 = M16 ? exp2f(m1 - mx1) : 0.0f;
        m0 = mx0, m1 = mx1;
        float ps0 = 0.0f, ps1 = 0.0f;
#pragma unroll
        for (int t = 0; t < NT8; t++)
            if (t < nt) {
                s[t][0] = exp2f(s[t][0] - mx0), s[t][1] = exp2f(s[t][1] - mx0);
                ps0 += s[t][0] + s[t][1];
                if constexpr (M16) {
                    s[t][2] = exp2f(s[t][2] - mx1), s[t][3] = exp2f(s[t][3] - mx1);
                    ps1 += s[t][2] + s[t][3];
                }
            }
        l0 = l0 * corr0 + ps0; /* the lane's columns; summed over the quad at the end */
        l1 = l1 * corr1 + ps1;
#pragma unroll
        for (int d = 0; d < HDN; d++) {
            o[d][0] *= corr0, o[d][1] *= corr0;
            if constexpr (M16)
                o[d][2] *= corr1, o[d][3] *= corr1;
        }
        /* O += P·V: P from S's accumulators (hi + lo bf16), V through ldmatrix.trans */
#pragma unroll
        for (int j = 0; j < NT8 / 2; j++)
            if (2 * j < nt) {
                uint32_t ah[CR], al[CR];
                if constexpr (M16) {
                    split_bf16(s[2 * j][0], s[2 * j][1], ah[0], al[0]);
                    split_bf16(s[2 * j][2], s[2 * j][3], ah[1], al[1]);
                    split_bf16(s[2 * j + 1][0], s[2 * j + 1][1], ah[2], al[2]);
                    split_bf16(s[2 * j + 1][2], s[2 * j + 1][3], ah[3], al[3]);
                } else {
                    split_bf16(s[2 * j][0], s[2 * j][1], ah[0], al[0]);
                    split_bf16(s[2 * j + 1][0], s[2 * j + 1][1], ah[1], al[1]);
                }
                /* lane i addresses row i % 8 of matrix i / 8: positions 16j + 8 ((i / 8) % 2)..,
                 * dims 8 (d + i / 16).. */
                const bf16 *vp = vs + (j * 16 + (lane & 7) + ((lane >> 3) & 1) * 8) * HDP + (lane >> 4) * 8;
#pragma unroll
                for (int d = 0; d < HDN; d += 2)
                    if (d < ntile) {
                        uint32_t b[4];
                        if (d + 1 < ntile) {
                            ldsm_x4_t(b, vp + d * 8);
                            mma16816<M16>(o[d], ah, b[0], b[1]);
                            mma16816<M16>(o[d], al, b[0], b[1]);
                            mma16816<M16>(o[d + 1], ah, b[2], b[3]);
                            mma16816<M16>(o[d + 1], al, b[2], b[3]);
                        } else {
                            ldsm_x2_t(b, vp + d * 8);
                            mma16816<M16>(o[d], ah, b[0], b[1]);
                            mma16816<M16>(o[d], al, b[0], b[1]);
                        }
                    }
            }
        __syncwarp(); /* every lane done with the staging before the next pass copies */
    }

    l0 += __shfl_xor_sync(0xffffffffu, l0, 1);
    l0 += __shfl_xor_sync(0xffffffffu, l0, 2);
    const float inv0 = l0 > 0.0f ? 1.0f / l0 : 0.0f;
    float inv1 = 0.0f;
    if constexpr (M16) {
        l1 += __shfl_xor_sync(0xffffffffu, l1, 1);
        l1 += __shfl_xor_sync(0xffffffffu, l1, 2);
        inv1 = l1 > 0.0f ? 1.0f / l1 : 0.0f;
    }
    bf16 *orow = out + (size_t)n * nh * hd + (size_t)(g * rep + h0) * hd;
#pragma unroll
    for (int d = 0; d < HDN; d++)
        if (d < ntile) {
            const int col = d * 8 + qd;
            if (r < nq)
                *(uint32_t *)(orow + (size_t)r * hd + col) = pack_bf16(o[d][0] * inv0, o[d][1] * inv0);
            if constexpr (M16)
                if (r + 8 < nq)
                    *(uint32_t *)(orow + (size_t)(r + 8) * hd + col) =
                        pack_bf16(o[d][2] * inv1, o[d][3] * inv1);
        }
}

template <int HD16, int PP, bool M16>
void launch_mma_(sbti_backend *be, bf16 *out, const bf16 *qkv, const bf16 *kc, const bf16 *vc,
                const int32_t *seq, const int32_t *pos, const int32_t *pages, int max_pages,
                int page_size, int N, int nh, int nkv, int hd)
{
    const int rep = nh / nkv, chunks = (rep + 15) / 16;
    const size_t items = (size_t)N * nkv * chunks;
    const size_t blocks = (items + MMA_WARPS - 1) / MMA_WARPS;
    if (blocks > 0x7fffffffu) {
        sbti_backend_fail(be, SBT_E_UNSUPPORTED, "cuda attention_paged: %zu warps of work", items);
        return;
    }
    constexpr int HDP = HD16 * 16 + 8;
    const size_t smem = (size_t)MMA_WARPS * (2 * PP * HDP * sizeof(bf16) + PP * sizeof(int32_t));
    if (smem > 48 * 1024 &&
        !sbti_cuda_ok(be,
                      cudaFuncSetAttribute(attn_paged_mma<HD16, PP, M16>,
                                           cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem),
                      "attention_paged: cudaFuncSetAttribute"))
        return;
    const float scale_log2 = (float)(1.4426950408889634 / sqrt((double)hd));
    attn_paged_mma<HD16, PP, M16><<<(unsigned)blocks, 32 * MMA_WARPS, smem, sbti_cuda(be)->stream>>>(
        out, qkv, kc, vc, seq, pos, pages, max_pages, page_size, N, nh, nkv, hd, chunks,
        scale_log2);
    sbti_cuda_launched(be, "attn_paged_mma");
}

/* 8 query heads a warp or fewer (the Llama heads: 4) leave rows 8-15 of the products out */
template <int HD16, int PP>
void launch_mma(sbti_backend *be, bf16 *out, const bf16 *qkv, const bf16 *kc, const bf16 *vc,
                const int32_t *seq, const int32_t *pos, const int32_t *pages, int max_pages,
                int page_size, int N, int nh, int nkv, int hd)
{
    if (nh / nkv <= 8)
        launch_mma_<HD16, PP, false>(be, out, qkv, kc, vc, seq, pos, pages, max_pages, page_size, N, nh, nkv, hd);
    else
        launch_mma_<HD16, PP, true>(be, out, qkv, kc, vc, seq, pos, pages, max_pages, page_size, N, nh, nkv, hd);
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
    bf16 *o = (bf16 *)out;
    const bf16 *x = (const bf16 *)qkv, *k = (const bf16 *)kcache, *v = (const bf16 *)vcache;
    /* the tensor cores: hd a multiple of 8 up to 128, K/V rows and queries 16-byte aligned */
    const uintptr_t align = (uintptr_t)qkv | (uintptr_t)kcache | (uintptr_t)vcache;
    if (hd % 8 == 0 && hd <= 128 && align % 16 == 0 && (uintptr_t)out % 4 == 0) {
        if (hd <= 32)
            launch_mma<2, PP_SMALL>(be, o, x, k, v, seq, pos, pages, max_pages, page_size, N, nh, nkv, hd);
        else if (hd <= 64)
            launch_mma<4, PP_SMALL>(be, o, x, k, v, seq, pos, pages, max_pages, page_size, N, nh, nkv, hd);
        else
            launch_mma<8, 32>(be, o, x, k, v, seq, pos, pages, max_pages, page_size, N, nh, nkv, hd);
        return;
    }
    const float scale = (float)(1.0 / sqrt((double)hd));
    /* heads a warp: the group's (so no lane scores a head that is not there), at most 8 (4
     * at hd > 128, for registers) */
    const int rep = nh / nkv;
#define SBTI_PAGED(DPL, RMAX)                                                                 \
    launch_simt<DPL, RMAX>(be, o, x, k, v, seq, pos, pages, max_pages, page_size, N, nh, nkv, hd, scale)
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
