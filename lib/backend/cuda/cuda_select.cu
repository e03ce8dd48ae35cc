/* cuda_select.cu — select (backend.h) on the CUDA backend: the next-token candidates of rows of
 * bf16 logits, with transformers' temperature, top-k and top-p warpers and Gumbel-top-k keys,
 * so that a decoding step downloads k numbers per row instead of V. The CPU backend's
 * cpu_select.c is the reference; this file computes the same thing without sorting a row.
 * Rows are args->row_stride apart (0: V), e.g. padded to a multiple of 8 columns.
 *
 * Two kernels. Where the candidates are the N <= 128 best logits of a row (greedy / beam, and
 * sampling with top-k on: the decoder's groups), select_fast_kernel reads a row once (below,
 * "the fast path"). Everything else (top-k off, or a larger N) goes to select_kernel:
 *
 * One block per row. Everything is a search over order-preserving integer codes: a logit's
 * 16-bit bf16 pattern (ranking by x, ties by the smaller id) and a key's 32-bit fp32 pattern.
 *   1. One pass: the row's max, log-sum-exp (per-thread online sums, in double), its number of
 *      finite logits, and a histogram of the top 12 bits of the logit codes.
 *   2. The tokens the warpers keep are always the first `kept` of the row's ranking:
 *      top-k is a rank, and top-p's J comes from a search by probability mass: masses in
 *      fixed point (integers, so sums do not depend on their order) summed per 12-bit bin,
 *      the bin where the mass above reaches top_p, then its 16 exact values, and within the
 *      tie group of the boundary value the count follows from the (equal) mass of its members.
 *   3. A rank cut (the N best by code) is a radix search: 12-bit digits, histograms of the
 *      tokens under the prefix found so far, until the tokens at or above the prefix fit into
 *      shared memory (CAP) or the code is exact; in a tie group at the cut, the smallest ids
 *      are found by a pass in index order (each thread a contiguous range, a block scan).
 *   4. The candidates (at most CAP) are collected into shared memory and sorted (bitonic,
 *      on code << 32 | ~id). A small kept set (top-k on, the default top_k = 50) is handled
 *      there: top-p over the sorted top-k, then the keys of the kept tokens, sorted again. A
 *      large one (top_k = 0 with a wide nucleus) gets its k best keys by the radix search on
 *      key codes over the kept tokens, recomputing the keys in each pass.
 * Deterministic: floating-point sums are per-thread loops over fixed elements and fixed-order
 * block reductions; integer atomics only count or add exact fixed-point masses; the collected
 * candidates are sorted by a total order, so the order they arrived in does not matter. */
#include <math.h>

#include "backend/cuda/cuda_internal.h"
#include "backend/cuda/cuda_hooks.h"

namespace {

typedef unsigned long long u64;

constexpr int NT = 512;        /* threads per block: one block per row */
constexpr int NW = NT / 32;    /* warps per block */
constexpr int CAP = 2048;      /* candidates a block collects and sorts in shared memory */
constexpr int HB = 4096;       /* bins of a 12-bit radix digit */
/* Probability masses relative to the row's max, in fixed point: exp(..) <= 1 times 2^44, so a
 * row of up to 2^19 tokens sums below 2^63; a token's mass is rounded by 2^-45 of the max. */
constexpr float MASS_SCALE = 17592186044416.0f;

/* ---- codes ----------------------------------------------------------------------------------- */

/* The code of a bf16 pattern: larger x, larger code; -0 is +0. False for NaN and -inf, the
 * tokens that are never kept. Valid codes are in [0x0080, 0xff80], never 0. */
__device__ __forceinline__ bool xcode(uint32_t raw, uint32_t &c)
{
    if ((raw & 0x7fffu) > 0x7f80u || raw == 0xff80u)
        return false;
    if (raw == 0x8000u)
        raw = 0;
    c = (raw & 0x8000u) ? (~raw & 0xffffu) : (raw | 0x8000u);
    return true;
}

__device__ __forceinline__ float xval(uint32_t c)
{
    uint32_t raw = (c & 0x8000u) ? (c & 0x7fffu) : (~c & 0xffffu);
    return __uint_as_float(raw << 16);
}

/* The code of an fp32 key (larger key, larger code; -0 is +0), and back. */
__device__ __forceinline__ uint32_t fcode(float f)
{
    uint32_t u = __float_as_uint(f == 0.0f ? 0.0f : f);
    return (u >> 31) ? ~u : (u | 0x80000000u);
}

__device__ __forceinline__ float fval(uint32_t c)
{
    return __uint_as_float((c >> 31) ? (c & 0x7fffffffu) : ~c);
}

/* A token's Gumbel key, as cpu_select.c writes it: (x - lse) / T - log(-log(u)). */
__device__ __forceinline__ float gumbel_key(float x, float lse, float T, uint64_t seed, int id)
{
    return (x - lse) / T - logf(-logf(sbti_select_uniform(seed, id)));
}

/* The tokens of a cut: code above thr, or equal to it with an id below id (the smallest ids of
 * the tie group). {0, V} is every valid token. */
struct Cut {
    uint32_t thr;
    int id;
    __device__ bool has(uint32_t c, int i) const { return c > thr || (c == thr && i < id); }
};

/* Code functors: (index, bf16 pattern) -> whether the token takes part, and its code. */
struct XAll {
    __device__ bool operator()(int, uint32_t raw, uint32_t &c) const { return xcode(raw, c); }
};

/* The kept tokens (a cut of the logit ranking) by their Gumbel key. */
struct KeyCode {
    Cut kept;
    float lse, T;
    uint64_t seed;
    __device__ bool operator()(int i, uint32_t raw, uint32_t &c) const
    {
        uint32_t xc;
        if (!xcode(raw, xc) || !kept.has(xc, i))
            return false;
        c = fcode(gumbel_key(__uint_as_float(raw << 16), lse, T, seed, i));
        return true;
    }
};

/* ---- shared memory -------------------------------------------------------------------------- */

struct Smem {
    static constexpr int NTH = NT;
    uint32_t h1[HB]; /* 12-bit histogram of the logit codes, kept for the whole row */
    union {
        uint32_t h2[HB]; /* the histogram of a radix pass */
        u64 mass[HB];    /* fixed-point mass per 12-bit bin of logit codes */
        u64 cand[CAP];   /* collected candidates: code << 32 | ~id */
    } w;
    u64 red[NW];
    double redd[NW];
    float redf[NW];
    uint32_t cnt16[16];
    u64 above;
    int bin, id, n;
};

struct Ctx {
    Smem *sm;
    const uint16_t *row; /* (V) bf16 patterns */
    int V;
    float mx, lse, T, top_p;
    int k, min_keep;
    uint64_t seed;
    int32_t *ids;        /* (k) */
    float *lp, *key;     /* (k) */
};

/* ---- block primitives (blockDim.x == S::NTH; S has red, redd, redf, bin, above) --------------- */

/* Exclusive prefix sum over the block in thread order; *total = the sum. Starts with a barrier. */
template <class S>
__device__ u64 block_excl_scan(u64 v, S &sm, u64 *total)
{
    constexpr int NW = S::NTH / 32;
    const int lane = threadIdx.x & 31, w = threadIdx.x >> 5;
    u64 incl = v;
    for (int o = 1; o < 32; o <<= 1) {
        u64 y = __shfl_up_sync(0xffffffffu, incl, o);
        if (lane >= o)
            incl += y;
    }
    __syncthreads();
    if (lane == 31)
        sm.red[w] = incl;
    __syncthreads();
    u64 off = 0, tot = 0;
    for (int i = 0; i < NW; i++) {
        off += i < w ? sm.red[i] : 0;
        tot += sm.red[i];
    }
    *total = tot;
    return off + incl - v;
}

template <class S>
__device__ u64 block_sum_u64(u64 v, S &sm)
{
    u64 t;
    block_excl_scan(v, sm, &t);
    return t;
}

/* Fixed-order reductions: every thread gets the same bits. Each starts with a barrier. */
template <class S>
__device__ float block_max(float v, S &sm)
{
    constexpr int NW = S::NTH / 32;
    for (int o = 16; o > 0; o >>= 1)
        v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    __syncthreads();
    if ((threadIdx.x & 31) == 0)
        sm.redf[threadIdx.x >> 5] = v;
    __syncthreads();
    float r = sm.redf[0];
    for (int i = 1; i < NW; i++)
        r = fmaxf(r, sm.redf[i]);
    return r;
}

template <class S>
__device__ double block_sum_d(double v, S &sm)
{
    constexpr int NW = S::NTH / 32;
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_xor_sync(0xffffffffu, v, o);
    __syncthreads();
    if ((threadIdx.x & 31) == 0)
        sm.redd[threadIdx.x >> 5] = v;
    __syncthreads();
    double r = sm.redd[0];
    for (int i = 1; i < NW; i++)
        r += sm.redd[i];
    return r;
}

template <class F>
__device__ __forceinline__ void each8(int i0, uint4 u, F &f)
{
    const uint32_t w[4] = {u.x, u.y, u.z, u.w};
#pragma unroll
    for (int e = 0; e < 4; e++) {
        f(i0 + 2 * e, w[e] & 0xffffu);
        f(i0 + 2 * e + 1, w[e] >> 16);
    }
}

/* The first elements of the row before a 16-byte boundary (at most 7), and how many 8-element
 * vectors follow. */
__device__ __forceinline__ void row_split(const uint16_t *x, int V, int *head, int *nv)
{
    int h = (int)(((16u - ((uintptr_t)x & 15u)) & 15u) >> 1);
    *head = h < V ? h : V;
    *nv = (V - *head) >> 3;
}

/* f(i, pattern) for every element of the row, coalesced 16-byte loads; the elements each thread
 * sees, and their order, depend on V and the row's alignment only. */
template <class F>
__device__ __forceinline__ void for_each(const uint16_t *x, int V, F f)
{
    int head, nv;
    row_split(x, V, &head, &nv);
    for (int i = threadIdx.x; i < head; i += NT)
        f(i, x[i]);
    const uint4 *v = reinterpret_cast<const uint4 *>(x + head);
    for (int j = threadIdx.x; j < nv; j += 2 * NT) { /* two loads in flight */
        uint4 a = __ldg(v + j), b = make_uint4(0, 0, 0, 0);
        if (j + NT < nv)
            b = __ldg(v + j + NT);
        each8(head + 8 * j, a, f);
        if (j + NT < nv)
            each8(head + 8 * (j + NT), b, f);
    }
    for (int i = head + 8 * nv + threadIdx.x; i < V; i += NT)
        f(i, x[i]);
}

/* f(i, pattern) for this thread's contiguous range of the row, in index order; the ranges of
 * threads 0, 1, ... follow each other (thread 0 also takes the head, the last the tail). */
template <class F>
__device__ __forceinline__ void for_range(const uint16_t *x, int V, F f)
{
    int head, nv;
    row_split(x, V, &head, &nv);
    const int t = threadIdx.x, per = (nv + NT - 1) / NT;
    const int lo = t == 0 ? 0 : head + 8 * min(nv, t * per);
    const int hi = t == NT - 1 ? V : head + 8 * min(nv, (t + 1) * per);
    const uint4 *v = reinterpret_cast<const uint4 *>(x + head);
    int i = lo;
    for (; i < hi && i < head; i++)
        f(i, x[i]);
    for (; i + 8 <= hi && i + 8 <= head + 8 * nv; i += 8)
        each8(i, __ldg(v + (i - head) / 8), f);
    for (; i < hi; i++)
        f(i, x[i]);
}

/* The bin, scanning h (nb bins) from the top, where the running sum first reaches `reached`
 * (false for 0, true for the total); *above = the sum of the bins above it. */
template <class H, class Reached, class S>
__device__ int crossing(const H *h, int nb, Reached reached, S &sm, u64 *above)
{
    const int per = nb > S::NTH ? nb / S::NTH : 1, d0 = threadIdx.x * per;
    u64 sum = 0;
    for (int d = d0; d < d0 + per && d < nb; d++)
        sum += h[nb - 1 - d];
    u64 total, cum = block_excl_scan(sum, sm, &total);
    for (int d = d0; d < d0 + per && d < nb; d++) {
        u64 next = cum + h[nb - 1 - d];
        if (!reached(cum) && reached(next)) {
            sm.bin = nb - 1 - d;
            sm.above = cum;
        }
        cum = next;
    }
    __syncthreads();
    *above = sm.above;
    int b = sm.bin;
    __syncthreads();
    return b;
}

/* The id bound of the `need` smallest ids among the tokens with code thr (0 < need < their
 * count): a pass in index order. */
template <class Code>
__device__ int tie_cut(const Ctx &cx, const Code &code, uint32_t thr, int need)
{
    Smem &sm = *cx.sm;
    int cnt = 0;
    for_range(cx.row, cx.V, [&](int i, uint32_t raw) {
        uint32_t c;
        if (code(i, raw, c) && c == thr)
            cnt++;
    });
    u64 total;
    const int before = (int)block_excl_scan((u64)cnt, sm, &total);
    if (before < need && need <= before + cnt) {
        int left = need - before;
        for_range(cx.row, cx.V, [&](int i, uint32_t raw) {
            uint32_t c;
            if (left > 0 && code(i, raw, c) && c == thr && --left == 0)
                sm.id = i + 1;
        });
    }
    __syncthreads();
    int id = sm.id;
    __syncthreads();
    return id;
}

/* The cut of the N best tokens by (code, smaller id), 1 <= N <= their number, by radix digits
 * of 12 bits (the last one shorter) over BITS-bit codes. With `fit`, it may stop early at a cut
 * of more than N tokens that still fit into CAP (all codes at or above a prefix): enough to
 * collect and sort. h1 (the logit histogram) serves as the first digit where use_h1. */
template <int BITS, class Code>
__device__ Cut find_cut(const Ctx &cx, const Code &code, int N, bool fit, bool use_h1)
{
    Smem &sm = *cx.sm;
    uint32_t prefix = 0;
    int shift = BITS, need = N, above_all = 0;
    for (int L = 0;; L++) {
        const int w = shift < 12 ? shift : 12, pshift = shift;
        shift -= w;
        const int nb = 1 << w;
        const uint32_t *h = sm.h1;
        if (L > 0 || !use_h1) {
            __syncthreads();
            for (int b = threadIdx.x; b < nb; b += NT)
                sm.w.h2[b] = 0;
            __syncthreads();
            for_each(cx.row, cx.V, [&](int i, uint32_t raw) {
                uint32_t c;
                if (code(i, raw, c) && (L == 0 || (c >> pshift) == prefix))
                    atomicAdd(&sm.w.h2[(c >> shift) & (uint32_t)(nb - 1)], 1u);
            });
            __syncthreads();
            h = sm.w.h2;
        }
        u64 above;
        const int b = crossing(h, nb, [need](u64 s) { return s >= (u64)need; }, sm, &above);
        const int cnt = (int)h[b];
        need -= (int)above;
        above_all += (int)above;
        prefix = (prefix << w) | (uint32_t)b;
        if (fit && above_all + cnt <= CAP)
            return Cut{prefix << shift, cx.V};
        if (shift == 0)
            return Cut{prefix, need == cnt ? cx.V : tie_cut(cx, code, prefix, need)};
    }
}

/* The tokens of cut into sm.w.cand (code << 32 | ~id); returns how many (<= CAP by the cut). */
template <class Code>
__device__ int collect(const Ctx &cx, const Code &code, Cut cut)
{
    Smem &sm = *cx.sm;
    __syncthreads();
    if (threadIdx.x == 0)
        sm.n = 0;
    __syncthreads();
    for_each(cx.row, cx.V, [&](int i, uint32_t raw) {
        uint32_t c;
        if (code(i, raw, c) && cut.has(c, i)) {
            int s = atomicAdd(&sm.n, 1);
            if (s < CAP)
                sm.w.cand[s] = (u64)c << 32 | (uint32_t)~i;
        }
    });
    __syncthreads();
    return min(sm.n, CAP);
}

/* a[0..n) descending (bitonic, padded with zeros to a power of two <= the room of a), by NTH
 * threads. */
template <int NTH = NT>
__device__ void sort_desc(u64 *a, int n)
{
    int P = 1;
    while (P < n)
        P <<= 1;
    __syncthreads();
    for (int i = n + threadIdx.x; i < P; i += NTH)
        a[i] = 0;
    for (int k = 2; k <= P; k <<= 1)
        for (int j = k >> 1; j > 0; j >>= 1) {
            __syncthreads();
            for (int t = threadIdx.x; t < P / 2; t += NTH) {
                int i = 2 * j * (t / j) + t % j, l = i + j;
                u64 x = a[i], y = a[l];
                if ((x < y) == ((i & k) == 0)) {
                    a[i] = y;
                    a[l] = x;
                }
            }
        }
    __syncthreads();
}

/* The outputs from the first n sorted candidates (by key code where by_key, else by logit code,
 * the key then being lp); -1 and -inf past them. */
__device__ void write_out(const Ctx &cx, int n, bool by_key)
{
    const u64 *cand = cx.sm->w.cand;
    for (int j = threadIdx.x; j < cx.k; j += NT) {
        if (j < n) {
            u64 e = cand[j];
            int id = (int)~(uint32_t)e;
            float lp = __uint_as_float((uint32_t)cx.row[id] << 16) - cx.lse;
            cx.ids[j] = id;
            cx.lp[j] = lp;
            cx.key[j] = by_key ? fval((uint32_t)(e >> 32)) : lp;
        } else {
            cx.ids[j] = -1;
            cx.lp[j] = cx.key[j] = -INFINITY;
        }
    }
}

__device__ __forceinline__ u64 fixed_mass(uint32_t c, float mx, float T)
{
    return __float2ull_rn(expf((xval(c) - mx) / T) * MASS_SCALE);
}

/* The N best tokens by logit (N <= CAP) collected and sorted; !sample: the output. sample: with
 * use_p, top-p over them (they are the top-k set); the kept ones by key. Returns how many are
 * kept. */
__device__ int finish_small(const Ctx &cx, int N, bool sample, bool use_p)
{
    Smem &sm = *cx.sm;
    sort_desc(sm.w.cand, collect(cx, XAll(), find_cut<16>(cx, XAll(), N, true, true)));
    if (!sample) {
        write_out(cx, min(N, cx.k), false);
        return N;
    }
    int keep = N;
    if (use_p) { /* J = the ranks j < N whose mass above is below top_p of the total */
        constexpr int PER = CAP / NT;
        u64 m[PER], sum = 0;
        for (int e = 0; e < PER; e++) {
            int j = threadIdx.x * PER + e;
            m[e] = j < N ? fixed_mass((uint32_t)(sm.w.cand[j] >> 32), cx.mx, cx.T) : 0;
            sum += m[e];
        }
        u64 total, run = block_excl_scan(sum, sm, &total);
        const double thr = (double)cx.top_p * (double)total;
        u64 cnt = 0;
        for (int e = 0; e < PER; e++) {
            int j = threadIdx.x * PER + e;
            cnt += j < N && (double)run < thr;
            run += m[e];
        }
        int J = (int)block_sum_u64(cnt, sm);
        keep = min(max(cx.min_keep, J), N);
    }
    __syncthreads();
    for (int j = threadIdx.x; j < keep; j += NT) {
        u64 e = sm.w.cand[j];
        uint32_t lo = (uint32_t)e;
        float key = gumbel_key(xval((uint32_t)(e >> 32)), cx.lse, cx.T, cx.seed, (int)~lo);
        sm.w.cand[j] = (u64)fcode(key) << 32 | lo;
    }
    sort_desc(sm.w.cand, keep);
    write_out(cx, min(keep, cx.k), true);
    return keep;
}

/* Where top-p cuts the ranking of S: the tie group of logit code `code`, of which S holds
 * `group` tokens and the cut the first `take` (1 <= take <= group). */
struct TopP {
    uint32_t code;
    int take, group;
};

/* J of top-p over the tokens of S: the number of ranks whose mass above is below top_p of S's
 * mass; *g = where the cut of those J tokens falls. */
__device__ int top_p_j(const Ctx &cx, Cut S, TopP *g)
{
    Smem &sm = *cx.sm;
    const float mx = cx.mx, T = cx.T;
    __syncthreads();
    for (int b = threadIdx.x; b < HB; b += NT)
        sm.w.mass[b] = 0;
    __syncthreads();
    for_each(cx.row, cx.V, [&](int i, uint32_t raw) {
        uint32_t c;
        if (xcode(raw, c) && S.has(c, i))
            atomicAdd(&sm.w.mass[c >> 4], fixed_mass(c, mx, T));
    });
    __syncthreads();
    u64 part = 0;
    for (int b = threadIdx.x; b < HB; b += NT)
        part += sm.w.mass[b];
    const double thr = (double)cx.top_p * (double)block_sum_u64(part, sm);
    /* thr > 0: rank 0 (mass above 0) is always below it, so the crossing is in a bin */
    u64 C;
    const int b = crossing(sm.w.mass, HB, [thr](u64 s) { return (double)s >= thr; }, sm, &C);
    /* the tokens of S above bin b: all of the row's there */
    part = 0;
    for (int i = threadIdx.x; i < HB; i += NT)
        part += i > b ? sm.h1[i] : 0;
    const int n_above = (int)block_sum_u64(part, sm);
    if (threadIdx.x < 16)
        sm.cnt16[threadIdx.x] = 0;
    __syncthreads();
    for_each(cx.row, cx.V, [&](int i, uint32_t raw) {
        uint32_t c;
        if (xcode(raw, c) && (c >> 4) == (uint32_t)b && S.has(c, i))
            atomicAdd(&sm.cnt16[c & 15u], 1u);
    });
    __syncthreads();
    if (threadIdx.x == 0) { /* the 16 values of bin b, best first: the tokens of one value have
                             * one mass, so the boundary inside its group is a division. The
                             * masses of the values sum to the bin's, so one of them crosses. */
        int J = n_above;
        for (int v = 15; v >= 0; v--) {
            const u64 cnt = sm.cnt16[v];
            const uint32_t code = (uint32_t)b << 4 | (uint32_t)v;
            const u64 pv = cnt ? fixed_mass(code, mx, T) : 0;
            if ((double)(C + cnt * pv) < thr) { /* pv == 0 always ends here */
                C += cnt * pv;
                J += (int)cnt;
                continue;
            }
            /* i = the members whose mass above, C + i * pv, is below thr (at least one) */
            u64 i = (u64)ceil((thr - (double)C) / (double)pv);
            i = i < 1 ? 1 : (i > cnt ? cnt : i);
            while (i > 1 && (double)(C + (i - 1) * pv) >= thr)
                i--;
            while (i < cnt && (double)(C + i * pv) < thr)
                i++;
            sm.bin = (int)code;
            sm.n = (int)i;
            sm.id = (int)cnt;
            sm.above = (u64)(J + (int)i);
            break;
        }
    }
    __syncthreads();
    g->code = (uint32_t)sm.bin;
    g->take = sm.n;
    g->group = sm.id;
    const int J = (int)sm.above;
    __syncthreads();
    return J;
}

/* The k best keys of the kept tokens (the cut K, Kkeep > CAP of them). */
__device__ void finish_large(const Ctx &cx, Cut K, int Kkeep)
{
    const KeyCode code{K, cx.lse, cx.T, cx.seed};
    const int N = min(cx.k, Kkeep);
    sort_desc(cx.sm->w.cand, collect(cx, code, find_cut<32>(cx, code, N, true, false)));
    write_out(cx, N, true);
}

__global__ void __launch_bounds__(NT, 2)
select_kernel(int32_t *ids, float *lp, float *key, int32_t *kept, float *extra_lp,
              const bf16 *logits, const int32_t *seeds, int V, size_t stride, sbti_select_args a)
{
    extern __shared__ __align__(16) unsigned char smem_raw[];
    Smem &sm = *reinterpret_cast<Smem *>(smem_raw);
    const int r = blockIdx.x;
    Ctx cx;
    cx.sm = &sm;
    cx.row = reinterpret_cast<const uint16_t *>(logits) + (size_t)r * stride;
    cx.V = V;
    cx.T = a.temperature;
    cx.top_p = a.top_p;
    cx.k = a.k;
    cx.min_keep = a.min_keep < 1 ? 1 : a.min_keep;
    cx.seed = seeds ? (uint64_t)(uint32_t)seeds[2 * r] | (uint64_t)(uint32_t)seeds[2 * r + 1] << 32
                    : 0;
    cx.ids = ids + (size_t)r * a.k;
    cx.lp = lp + (size_t)r * a.k;
    cx.key = key + (size_t)r * a.k;

    /* 1. max, log-sum-exp, finite count, logit histogram */
    for (int b = threadIdx.x; b < HB; b += NT)
        sm.h1[b] = 0;
    __syncthreads();
    float m = -INFINITY;
    double s = 0.0;
    int nf = 0;
    for_each(cx.row, V, [&](int, uint32_t raw) {
        uint32_t c;
        if (!xcode(raw, c))
            return;
        atomicAdd(&sm.h1[c >> 4], 1u);
        nf++;
        float x = __uint_as_float(raw << 16);
        if (x > m) {
            s = s * (double)expf(m - x) + 1.0;
            m = x;
        } else {
            s += (double)expf(x - m);
        }
    });
    const float mx = block_max(m, sm);
    const double S = block_sum_d(m > -INFINITY ? s * exp((double)m - (double)mx) : 0.0, sm);
    nf = (int)block_sum_u64((u64)nf, sm);
    cx.mx = mx;
    cx.lse = (float)((double)mx + log(S));
    if (threadIdx.x == 0 && extra_lp && a.extra_id >= 0) {
        uint32_t c;
        extra_lp[r] = nf > 0 && xcode(cx.row[a.extra_id], c)
                          ? __uint_as_float((uint32_t)cx.row[a.extra_id] << 16) - cx.lse
                          : -INFINITY;
    }
    if (nf == 0) {
        write_out(cx, 0, false);
        if (threadIdx.x == 0)
            kept[r] = 0;
        return;
    }

    /* 2-4. */
    int n_kept;
    if (!a.sample) {
        finish_small(cx, min(a.k, nf), false, false);
        n_kept = nf;
    } else {
        const int Kk = a.top_k > 0 ? min(max(a.top_k, cx.min_keep), nf) : nf;
        const bool use_p = a.top_p < 1.0f;
        if (Kk <= CAP) {
            n_kept = finish_small(cx, Kk, true, use_p);
        } else {
            const Cut S = Kk == nf ? Cut{0, V} : find_cut<16>(cx, XAll(), Kk, false, true);
            Cut K = S;
            n_kept = Kk;
            if (use_p) {
                TopP g;
                const int J = top_p_j(cx, S, &g);
                if (J >= cx.min_keep) {
                    n_kept = J;
                    if (J > CAP) /* the first `take` of the group, within S */
                        K = g.take < g.group ? Cut{g.code, tie_cut(cx, XAll(), g.code, g.take)}
                                             : Cut{g.code, g.code == S.thr ? S.id : V};
                } else {
                    n_kept = min(cx.min_keep, Kk);
                    if (n_kept > CAP)
                        K = find_cut<16>(cx, XAll(), n_kept, false, true);
                }
            }
            if (n_kept <= CAP)
                finish_small(cx, n_kept, true, false);
            else
                finish_large(cx, K, n_kept);
        }
    }
    if (threadIdx.x == 0)
        kept[r] = n_kept;
}

/* ---- the fast path: the N best logits of a row in one pass (N <= FN_MAX) ------------------------
 *
 * Where the warpers' candidates are the N best logits of a row (greedy / beam: N = k; top-k on:
 * N = max(top_k, min_keep)), one read of the row gives everything: each thread's online max and
 * sum of exp (log-sum-exp), its count of finite logits, and the row's N best by (code, smaller
 * id) through a rising threshold. A threshold is a composite key (code << 32 | ~id) that at
 * least N tokens of the row reach, so no token below it is among the N best: first the N-th best
 * code of a sample (every thread's first vectors, by a histogram), then the N-th best key of a
 * warp's candidates each time the warp compacts them; warps share the best one. A vector whose
 * max is below the threshold costs a comparison and a vote; the few others are queued (a slot
 * each, by the vote) and their tokens checked 32 vectors at a time, so that no warp runs a rare
 * branch for one lane. At the end every warp finds its N-th best code (its own threshold), the
 * candidates at or above the best threshold are gathered, cut to the row's N-th best code (two
 * 8-bit histograms) and sorted, and the rest is finish_small's: top-p by fixed-point masses over
 * the sorted top-k set, Gumbel keys, a sort. The candidates at a moment depend on timing (the
 * shared threshold), the N best do not; the sums are per-thread loops over fixed elements and
 * fixed-order reductions (exp2 in fp32 within a vector, as the other kernel's expf), so results
 * are the same bits run to run. On an H200, R 2048 x V 128,257: 0.33 ms (0.89 ms before),
 * about 1.6 TB/s, issue-bound (the exp of every logit and the per-vector bookkeeping). */

/* Threads a block (a row), 16-byte loads a thread issues together, blocks an SM (registers: 64
 * a thread at 128 x 8). Measured on an H200 at R 2048, V 128,257, beam-sample (ms): 128 / 4 / 8
 * 0.326, 256 / 4 / 4 0.336, 128 / 8 / 6 0.372. */
#ifndef SBTI_SELECT_FNT
#define SBTI_SELECT_FNT 128
#endif
#ifndef SBTI_SELECT_FU
#define SBTI_SELECT_FU 4
#endif
#ifndef SBTI_SELECT_FMINB
#define SBTI_SELECT_FMINB 8
#endif

constexpr int FNT = SBTI_SELECT_FNT; /* threads per block, one block per row */
constexpr int FNW = FNT / 32;       /* warps */
constexpr int FU = SBTI_SELECT_FU;  /* 16-byte loads a thread issues together */
constexpr int FBW = 512;            /* a warp's candidate buffer */
constexpr int FSTEP = 256;          /* the most one round of the queue (32 vectors) adds to it */
constexpr int FQ = 64;              /* a warp's queue of vectors to check */
constexpr int FN_MAX = 128;         /* the largest N of the fast path */
constexpr int FCAND = FNW * FN_MAX; /* gathered candidates, at most N per warp */
constexpr float LOG2E = 1.4426950408889634f;
static_assert(FN_MAX <= FNT, "top-p gives a candidate to a thread");

struct FSmem {
    static constexpr int NTH = FNT;
    union {
        uint32_t hist[HB]; /* the sample's 12-bit histogram (before any candidate) */
        u64 buf[FNW][FBW]; /* each warp's candidates: code << 32 | ~id */
    } a;
    union {
        struct {
            uint4 q[FNW][FQ]; /* each warp's queue: vectors with a token at or above its thr. */
            int qid[FNW][FQ]; /* the id of their first token */
        } w;
        u64 cand[FCAND]; /* (after the pass) */
    } b;
    u64 red[FNW];
    double redd[FNW];
    float redf[FNW];
    uint32_t cnt16[16];
    u64 above, thr; /* thr: the best threshold found, shared */
    int bin, n;
    int wcnt[FNW]; /* each warp's candidate count */
};

__device__ __forceinline__ float ex2(float x)
{
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
    return y;
}

/* Two bf16 max / min at once (a NaN gives way to the other operand). */
__device__ __forceinline__ uint32_t bmax2(uint32_t a, uint32_t b)
{
    uint32_t d;
    asm("max.bf16x2 %0, %1, %2;" : "=r"(d) : "r"(a), "r"(b));
    return d;
}

__device__ __forceinline__ uint32_t bmin2(uint32_t a, uint32_t b)
{
    uint32_t d;
    asm("min.bf16x2 %0, %1, %2;" : "=r"(d) : "r"(a), "r"(b));
    return d;
}

/* The bf16 pattern of token e of a vector (element e in the low half of word e / 2 first). */
__device__ __forceinline__ uint32_t half8(const uint4 &v, int e)
{
    const uint32_t w = (e & 4) ? ((e & 2) ? v.w : v.z) : ((e & 2) ? v.y : v.x);
    return (e & 1) ? w >> 16 : w & 0xffffu;
}

/* A thread's running log-sum-exp and finite count: m its max, s the sum of exp(x - m), ml =
 * m * log2(e). NaN logits make s NaN: the thread then starts again with them cleaned (rare, so
 * that the common path does not look for them). */
struct Lse {
    float m, ml, s;
    int nf;
};

/* One vector into L; returns its max. */
__device__ __forceinline__ float lse_add(Lse &L, const uint4 &v)
{
    const uint32_t mx2 = bmax2(bmax2(v.x, v.y), bmax2(v.z, v.w));
    const float m8 = fmaxf(__uint_as_float(mx2 << 16), __uint_as_float(mx2 & 0xffff0000u));
    if (m8 > L.m) {
        L.s *= ex2(L.ml - m8 * LOG2E);
        L.m = m8;
        L.ml = m8 * LOG2E;
    }
    if (m8 > -INFINITY) {
        const uint32_t w[4] = {v.x, v.y, v.z, v.w};
        float e[8];
#pragma unroll
        for (int i = 0; i < 4; i++) {
            e[2 * i] = ex2(fmaf(__uint_as_float(w[i] << 16), LOG2E, -L.ml));
            e[2 * i + 1] = ex2(fmaf(__uint_as_float(w[i] & 0xffff0000u), LOG2E, -L.ml));
        }
        L.s += ((e[0] + e[1]) + (e[2] + e[3])) + ((e[4] + e[5]) + (e[6] + e[7]));
    }
    /* -inf is below every other pattern but NaN (which min passes over); a max of NaN: all of
     * the vector is NaN (none counts; with finite tokens a NaN makes s NaN instead) */
    uint32_t mn2 = bmin2(bmin2(v.x, v.y), bmin2(v.z, v.w));
    mn2 = bmin2(mn2, __byte_perm(mn2, 0, 0x1032));
    if (mn2 != 0xff80ff80u && m8 == m8) {
        L.nf += 8;
    } else {
#pragma unroll
        for (int e = 0; e < 8; e++) {
            uint32_t c;
            L.nf += xcode(half8(v, e), c);
        }
    }
    return m8;
}

/* NaN patterns to -inf. */
__device__ __forceinline__ uint4 clean8(uint4 v)
{
    uint32_t w[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
    for (int i = 0; i < 4; i++) {
        if ((w[i] & 0x7fffu) > 0x7f80u)
            w[i] = (w[i] & 0xffff0000u) | 0xff80u;
        if (((w[i] >> 16) & 0x7fffu) > 0x7f80u)
            w[i] = (w[i] & 0xffffu) | 0xff800000u;
    }
    return make_uint4(w[0], w[1], w[2], w[3]);
}

constexpr uint32_t NEG_INF2 = 0xff80ff80u;

/* The warp's candidates buf[0..cnt) cut to those at or above T, the N-th best code's key (all of
 * that code, when at most `fit` are) or else the N-th best key (then exactly N are left). N <=
 * cnt. With `final`, the buffer is left as it is where the code's key is T (the gathering reads
 * what is at or above the shared threshold). Returns the count left; *T_out the threshold. */
__device__ __noinline__ int warp_compact(u64 *buf, int cnt, int N, int fit, bool final,
                                         u64 *T_out)
{
    const int lane = threadIdx.x & 31;
    constexpr int PER = FBW / 32;
    const uint32_t *hi = reinterpret_cast<const uint32_t *>(buf) + 1; /* hi[2 i]: code of i */
    __syncwarp();
    /* how many of the codes are >= c (> c where gt) */
    auto count = [&](uint32_t c, bool gt) {
        unsigned n = 0;
        for (int i = lane; i < cnt; i += 32) {
            const uint32_t h = hi[2 * i];
            n += gt ? h > c : h >= c;
        }
        return __reduce_add_sync(0xffffffffu, n);
    };
    uint32_t t = 0;
    for (int bit = 15; bit >= 0; bit--)
        if (count(t | (1u << bit), false) >= (unsigned)N)
            t |= 1u << bit;
    const unsigned gt = count(t, true), ge = count(t, false);
    u64 T = (u64)t << 32;
    if (ge > (unsigned)fit) {
        /* the need smallest ids of code t: ~id >= lo (ids below 2^19: ~id's top 13 bits set) */
        const unsigned need = (unsigned)N - gt;
        uint32_t lo = 0xfff80000u;
        for (int bit = 18; bit >= 0; bit--) {
            const uint32_t c = lo | (1u << bit);
            unsigned n = 0;
            for (int i = lane; i < cnt; i += 32)
                n += hi[2 * i] == t && (uint32_t)buf[i] >= c;
            if (__reduce_add_sync(0xffffffffu, n) >= need)
                lo = c;
        }
        T |= lo;
    } else if (final) {
        *T_out = T;
        return cnt;
    }
    /* in place: a lane writes at or before the entries of its round, all read first */
    int nc = 0;
    for (int j = 0; j < PER; j++) {
        if (32 * j >= cnt)
            break;
        const int i = lane + 32 * j;
        const u64 e = i < cnt ? buf[i] : 0;
        const bool keep = i < cnt && e >= T;
        const unsigned mask = __ballot_sync(0xffffffffu, keep);
        __syncwarp(); /* the reads of this round (and of the searches) before any write */
        if (keep)
            buf[nc + __popc(mask & ((1u << lane) - 1u))] = e;
        nc += __popc(mask);
    }
    __syncwarp();
    *T_out = T;
    return nc;
}

/* Publishes T (a valid threshold) and returns the best one found so far (lane 0's atomic). */
__device__ __forceinline__ u64 share_thr(FSmem &sm, u64 T)
{
    u64 best = 0;
    if ((threadIdx.x & 31) == 0) {
        const u64 old = atomicMax(&sm.thr, T);
        best = old > T ? old : T;
    }
    return __shfl_sync(0xffffffffu, best, 0);
}

/* The float of a threshold's code: a token below it is not a candidate (0: the lowest finite). */
__device__ __forceinline__ float thr_float(u64 thrK)
{
    return xval(thrK ? (uint32_t)(thrK >> 32) : 0x80u);
}

/* A warp's state in the pass. */
struct FWarp {
    u64 *buf;
    int *wcnt;
    uint4 *q;
    int *qid;
    int nq;      /* queued vectors (warp-uniform) */
    u64 thrK;    /* candidates: key >= thrK */
    float thr_x; /* the float of thrK's code */
    int N;
};

__device__ __forceinline__ void set_thr(FWarp &fw, u64 best)
{
    if (best != fw.thrK) {
        fw.thrK = best;
        fw.thr_x = thr_float(best);
    }
}

/* Room for one round of the queue in the warp's buffer (warp-uniform). */
__device__ __forceinline__ void make_room(FWarp &fw, FSmem &sm)
{
    __syncwarp();
    const int cnt = *(volatile int *)fw.wcnt;
    if (cnt > FBW - FSTEP) {
        u64 T;
        const int nc = warp_compact(fw.buf, cnt, fw.N, FBW - FSTEP, false, &T);
        if ((threadIdx.x & 31) == 0)
            *fw.wcnt = nc;
        set_thr(fw, share_thr(sm, T > fw.thrK ? T : fw.thrK));
        __syncwarp();
    }
}

/* The last `take` (<= 32) queued vectors: their tokens at or above the threshold to the buffer. */
__device__ __forceinline__ void drain(FWarp &fw, FSmem &sm, int take)
{
    make_room(fw, sm);
    const int lane = threadIdx.x & 31, i = fw.nq - take + lane;
    if (lane < take) {
        const uint4 v = fw.q[i];
        const int id0 = fw.qid[i];
#pragma unroll
        for (int e = 0; e < 8; e++) {
            const uint32_t raw = half8(v, e);
            uint32_t c;
            if (__uint_as_float(raw << 16) >= fw.thr_x && xcode(raw, c)) {
                const u64 key = (u64)c << 32 | (uint32_t)~(id0 + e);
                if (key >= fw.thrK)
                    fw.buf[atomicAdd(fw.wcnt, 1)] = key;
            }
        }
    }
    fw.nq -= take;
    __syncwarp();
}

/* One vector of eight logits (ids id0 ..) a lane (warp-uniform): log-sum-exp, finite count, and
 * into the queue if a token reaches the threshold. */
__device__ __forceinline__ void step8(FWarp &fw, FSmem &sm, Lse &L, const uint4 &v, int id0)
{
    const float m8 = lse_add(L, v);
    const bool hit = m8 >= fw.thr_x;
    const unsigned hm = __ballot_sync(0xffffffffu, hit);
    if (hm) {
        const int lane = threadIdx.x & 31;
        if (hit) {
            const int slot = fw.nq + __popc(hm & ((1u << lane) - 1u));
            fw.q[slot] = v;
            fw.qid[slot] = id0;
        }
        fw.nq += __popc(hm);
        if (fw.nq >= 32)
            drain(fw, sm, 32);
    }
}

__global__ void __launch_bounds__(FNT, SBTI_SELECT_FMINB)
select_fast_kernel(int32_t *ids, float *lp, float *key, int32_t *kept, float *extra_lp,
                   const bf16 *logits, const int32_t *seeds, int V, size_t stride,
                   sbti_select_args a, int N)
{
    extern __shared__ __align__(16) unsigned char smem_raw[];
    FSmem &sm = *reinterpret_cast<FSmem *>(smem_raw);
    const int r = blockIdx.x, tid = threadIdx.x, lane = tid & 31, wp = tid >> 5;
    const uint16_t *row = reinterpret_cast<const uint16_t *>(logits) + (size_t)r * stride;
    int head, nv;
    row_split(row, V, &head, &nv);
    const uint4 *vp = reinterpret_cast<const uint4 *>(row + head);
    const int nscalar = V - 8 * nv; /* the head and the tail, at most 14 */
    const uint4 neg = make_uint4(NEG_INF2, NEG_INF2, NEG_INF2, NEG_INF2);

    for (int b = tid; b < HB; b += FNT)
        sm.a.hist[b] = 0;
    if (tid < FNW)
        sm.wcnt[tid] = 0;
    if (tid == 0)
        sm.n = 0;
    __syncthreads();

    /* The sample: every thread's first FU vectors. Its N-th best code is the first threshold. */
    uint4 v[FU];
#pragma unroll
    for (int u = 0; u < FU; u++) {
        const int j = u * FNT + tid;
        v[u] = j < nv ? __ldg(vp + j) : neg;
    }
    unsigned sv = 0;
#pragma unroll
    for (int u = 0; u < FU; u++)
#pragma unroll
        for (int e = 0; e < 8; e++) {
            uint32_t c;
            if (xcode(half8(v[u], e), c)) {
                atomicAdd(&sm.a.hist[c >> 4], 1u);
                sv++;
            }
        }
    if (block_sum_u64((u64)sv, sm) >= (u64)N) { /* block-uniform */
        u64 above;
        const int b = crossing(sm.a.hist, HB, [N](u64 x) { return x >= (u64)N; }, sm, &above);
        if (tid < 16)
            sm.cnt16[tid] = 0;
        __syncthreads();
#pragma unroll
        for (int u = 0; u < FU; u++)
#pragma unroll
            for (int e = 0; e < 8; e++) {
                uint32_t c;
                if (xcode(half8(v[u], e), c) && (c >> 4) == (uint32_t)b)
                    atomicAdd(&sm.cnt16[c & 15u], 1u);
            }
        __syncthreads();
        if (tid == 0) {
            int q = 15;
            for (u64 cum = above; q > 0; q--) {
                cum += sm.cnt16[q];
                if (cum >= (u64)N)
                    break;
            }
            sm.thr = (u64)((uint32_t)b << 4 | (uint32_t)q) << 32;
        }
    } else if (tid == 0) {
        sm.thr = 0;
    }
    __syncthreads(); /* the histogram is done: the buffers (its memory) may fill */

    FWarp fw;
    fw.buf = sm.a.buf[wp];
    fw.wcnt = &sm.wcnt[wp];
    fw.q = sm.b.w.q[wp];
    fw.qid = sm.b.w.qid[wp];
    fw.nq = 0;
    fw.thrK = ~0ull;
    set_thr(fw, share_thr(sm, 0)); /* an atomic read: other warps may raise it already */
    fw.N = N;
    Lse L{-INFINITY, -INFINITY, 0.0f, 0};

    /* The pass: groups of FU vectors a thread, the loop warp-uniform (votes, compaction). */
    for (int g = 0;; g++) {
        const int base = g * FU * FNT;
        if (base + 32 * wp >= nv)
            break;
        if (g > 0) {
            set_thr(fw, share_thr(sm, fw.thrK));
#pragma unroll
            for (int u = 0; u < FU; u++) {
                const int j = base + u * FNT + tid;
                v[u] = j < nv ? __ldg(vp + j) : neg;
            }
        }
#pragma unroll
        for (int u = 0; u < FU; u++)
            step8(fw, sm, L, v[u], head + 8 * (base + u * FNT + tid));
    }
    /* The head and the tail: an element a lane of warp 0, as a vector with seven -inf. */
    if (wp == 0 && nscalar > 0) {
        uint4 s1 = neg;
        int id = 0;
        if (lane < nscalar) {
            id = lane < head ? lane : 8 * nv + lane;
            s1.x = 0xff800000u | (uint32_t)row[id];
        }
        step8(fw, sm, L, s1, id);
    }
    if (fw.nq > 0)
        drain(fw, sm, fw.nq);
    /* NaN logits: this thread's sums again, cleaned */
    if (L.s != L.s) {
        L = Lse{-INFINITY, -INFINITY, 0.0f, 0};
        for (int j = tid; j < nv; j += FNT)
            lse_add(L, clean8(__ldg(vp + j)));
        if (wp == 0 && lane < nscalar) {
            const int id = lane < head ? lane : 8 * nv + lane;
            lse_add(L, clean8(make_uint4(0xff800000u | (uint32_t)row[id], NEG_INF2, NEG_INF2,
                                         NEG_INF2)));
        }
    }

    /* Every warp's N best (its N-th best code, at most FN_MAX tokens at or above it; else the N
     * best keys exactly), then those at or above the best threshold gathered, cut to the row's
     * N-th best code and sorted. */
    {
        __syncwarp();
        int cnt = *(volatile int *)fw.wcnt;
        if (cnt > N) {
            u64 T;
            cnt = warp_compact(fw.buf, cnt, N, FN_MAX, true, &T);
            share_thr(sm, T);
        }
        __syncwarp(); /* every lane has read the count */
        if (lane == 0)
            *fw.wcnt = cnt;
    }
    __syncthreads();
    {
        const u64 T = sm.thr;
        const int cnt = *fw.wcnt;
        for (int i = lane; i < cnt; i += 32) {
            const u64 e = fw.buf[i];
            if (e >= T)
                sm.b.cand[atomicAdd(&sm.n, 1)] = e;
        }
    }
    const float mx = block_max(L.m, sm);
    const double S = block_sum_d(
        L.m > -INFINITY ? (double)L.s * exp2((double)L.ml - (double)mx * (double)LOG2E) : 0.0,
        sm);
    const int nf = (int)block_sum_u64((u64)L.nf, sm);
    const float lse = (float)((double)mx + log(S));
    const int n = sm.n; /* after the barriers of the sums */
    if (tid == 0 && extra_lp && a.extra_id >= 0) {
        uint32_t c;
        extra_lp[r] = nf > 0 && xcode(row[a.extra_id], c)
                          ? __uint_as_float((uint32_t)row[a.extra_id] << 16) - lse
                          : -INFINITY;
    }
    /* The N-th best code t of the n gathered (a 16-bit search in two 8-bit histograms): those at
     * or above it, N and the ties at t, into C (the buffers' memory, past the histograms). */
    u64 *C = sm.b.cand;
    int m = n;
    if (n > N) { /* block-uniform */
        uint32_t *h = sm.a.hist; /* two 256-bin histograms */
        for (int i = tid; i < 512; i += FNT)
            h[i] = 0;
        __syncthreads();
        for (int i = tid; i < n; i += FNT)
            atomicAdd(&h[(uint32_t)(sm.b.cand[i] >> 40) & 255u], 1u);
        __syncthreads();
        u64 above1, above2;
        const int b1 = crossing(h, 256, [N](u64 x) { return x >= (u64)N; }, sm, &above1);
        for (int i = tid; i < n; i += FNT) {
            const uint32_t c = (uint32_t)(sm.b.cand[i] >> 32);
            if ((c >> 8) == (uint32_t)b1)
                atomicAdd(&h[256 + (c & 255u)], 1u);
        }
        __syncthreads();
        const u64 need = (u64)N - above1;
        const int b2 =
            crossing(h + 256, 256, [need](u64 x) { return x >= need; }, sm, &above2);
        const uint32_t t = (uint32_t)b1 << 8 | (uint32_t)b2;
        C = reinterpret_cast<u64 *>(sm.a.hist + 512);
        if (tid == 0)
            sm.n = 0;
        __syncthreads();
        for (int i = tid; i < n; i += FNT) {
            const u64 e = sm.b.cand[i];
            if ((uint32_t)(e >> 32) >= t)
                C[atomicAdd(&sm.n, 1)] = e;
        }
        __syncthreads();
        m = sm.n;
    }
    int32_t *o_ids = ids + (size_t)r * a.k;
    float *o_lp = lp + (size_t)r * a.k, *o_key = key + (size_t)r * a.k;
    auto write_out = [&](int nout, bool by_key) {
        for (int j = tid; j < a.k; j += FNT) {
            if (j < nout) {
                const u64 e = C[j];
                const int id = (int)~(uint32_t)e;
                const float l = __uint_as_float((uint32_t)row[id] << 16) - lse;
                o_ids[j] = id;
                o_lp[j] = l;
                o_key[j] = by_key ? fval((uint32_t)(e >> 32)) : l;
            } else {
                o_ids[j] = -1;
                o_lp[j] = o_key[j] = -INFINITY;
            }
        }
    };
    if (nf == 0) {
        write_out(0, false);
        if (tid == 0)
            kept[r] = 0;
        return;
    }
    sort_desc<FNT>(C, m);
    const int Kk = min(N, nf); /* the N best, C[0..Kk) (m >= Kk) */
    if (!a.sample) {
        write_out(min(a.k, Kk), false);
        if (tid == 0)
            kept[r] = nf;
        return;
    }
    const float T = a.temperature;
    const int min_keep = a.min_keep < 1 ? 1 : a.min_keep;
    int keep = Kk;
    if (a.top_p < 1.0f) { /* J = the ranks j < Kk whose mass above is below top_p of the total */
        const u64 ms = tid < Kk ? fixed_mass((uint32_t)(C[tid] >> 32), mx, T) : 0;
        u64 total;
        const u64 run = block_excl_scan(ms, sm, &total);
        const double thr = (double)a.top_p * (double)total;
        const int J = (int)block_sum_u64((u64)(tid < Kk && (double)run < thr), sm);
        keep = min(max(min_keep, J), Kk);
    }
    const uint64_t seed =
        (uint64_t)(uint32_t)seeds[2 * r] | (uint64_t)(uint32_t)seeds[2 * r + 1] << 32;
    __syncthreads();
    for (int j = tid; j < keep; j += FNT) {
        const u64 e = C[j];
        const uint32_t lo = (uint32_t)e;
        const float kj = gumbel_key(xval((uint32_t)(e >> 32)), lse, T, seed, (int)~lo);
        C[j] = (u64)fcode(kj) << 32 | lo;
    }
    sort_desc<FNT>(C, keep);
    write_out(min(keep, a.k), true);
    if (tid == 0)
        kept[r] = keep;
}

__global__ void uniforms_kernel(float *u, const int32_t *seeds, const int32_t *ids, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        u[i] = sbti_select_uniform((uint64_t)(uint32_t)seeds[2 * i] |
                                  (uint64_t)(uint32_t)seeds[2 * i + 1] << 32,
                              ids[i]);
}

} /* namespace */

void sbti_cuda_select(sbti_backend *be, int32_t *ids, float *lp, float *key, int32_t *kept,
                      float *extra_lp, const void *logits, const int32_t *seeds, int R, int V,
                      const sbti_select_args *args)
{
    if (!sbti_cuda_begin(be, "select"))
        return;
    const sbti_select_args a = *args;
    if (R < 0 || V < 1) {
        sbti_backend_fail(be, SBT_E_INVALID_ARGUMENT, "cuda select: R = %d, V = %d", R, V);
        return;
    }
    if (V > (1 << 19)) { /* the fixed-point masses of a row sum below 2^63 (MASS_SCALE) */
        sbti_backend_fail(be, SBT_E_UNSUPPORTED, "cuda select: V = %d is over 2^19", V);
        return;
    }
    if (a.k < 1 || a.k > SBTI_SELECT_MAX_K) {
        sbti_backend_fail(be, SBT_E_INVALID_ARGUMENT, "cuda select: k = %d (1 .. %d)", a.k,
                          SBTI_SELECT_MAX_K);
        return;
    }
    if (a.extra_id < -1 || a.extra_id >= V) {
        sbti_backend_fail(be, SBT_E_INVALID_ARGUMENT, "cuda select: extra_id = %d for V = %d",
                          (int)a.extra_id, V);
        return;
    }
    if (a.row_stride != 0 && a.row_stride < V) {
        sbti_backend_fail(be, SBT_E_INVALID_ARGUMENT,
                          "cuda select: row_stride = %d for V = %d (0 means V, else at least V)",
                          a.row_stride, V);
        return;
    }
    if (a.sample && (!(a.temperature > 0) || a.top_k < 0 || !(a.top_p > 0) || !seeds)) {
        sbti_backend_fail(be, SBT_E_INVALID_ARGUMENT,
                          "cuda select: sampling with temperature = %g, top_k = %d, top_p = %g, "
                          "seeds %s",
                          (double)a.temperature, a.top_k, (double)a.top_p,
                          seeds ? "given" : "NULL");
        return;
    }
    if (R == 0)
        return;
    const size_t stride = a.row_stride > 0 ? (size_t)a.row_stride : (size_t)V;
    /* the fast path where the candidates are the N best logits: greedy / beam (N = k) and
     * top-k sampling (N = max(top_k, min_keep)) */
    const int min_keep = a.min_keep < 1 ? 1 : a.min_keep;
    const int N = !a.sample ? a.k : a.top_k > 0 ? (a.top_k > min_keep ? a.top_k : min_keep) : 0;
    if (N >= 1 && N <= FN_MAX) {
        const size_t smem = sizeof(FSmem);
        if (!sbti_cuda_ok(be,
                          cudaFuncSetAttribute(select_fast_kernel,
                                               cudaFuncAttributeMaxDynamicSharedMemorySize,
                                               (int)smem),
                          "select: cudaFuncSetAttribute(MaxDynamicSharedMemorySize)"))
            return;
        select_fast_kernel<<<R, FNT, smem, sbti_cuda(be)->stream>>>(
            ids, lp, key, kept, extra_lp, (const bf16 *)logits, a.sample ? seeds : NULL, V,
            stride, a, N);
        sbti_cuda_launched(be, "select_fast_kernel");
        return;
    }
    const size_t smem = sizeof(Smem);
    if (!sbti_cuda_ok(be,
                      cudaFuncSetAttribute(select_kernel,
                                           cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem),
                      "select: cudaFuncSetAttribute(MaxDynamicSharedMemorySize)"))
        return;
    select_kernel<<<R, NT, smem, sbti_cuda(be)->stream>>>(ids, lp, key, kept, extra_lp,
                                                          (const bf16 *)logits,
                                                          a.sample ? seeds : NULL, V, stride, a);
    sbti_cuda_launched(be, "select_kernel");
}

/* For tests/gpu/test_select_cuda.c: u(n) F32 = sbti_select_uniform of seeds(n,2) I32 and
 * ids(n) I32, as the kernel computes it (device buffers). */
extern "C" void sbti_cuda_select_uniforms(sbti_backend *be, float *u, const int32_t *seeds,
                                          const int32_t *ids, int n)
{
    if (n <= 0 || !sbti_cuda_begin(be, "select_uniforms"))
        return;
    uniforms_kernel<<<sbti_cuda_blocks((size_t)n, 256), 256, 0, sbti_cuda(be)->stream>>>(
        u, seeds, ids, n);
    sbti_cuda_launched(be, "uniforms_kernel");
}
