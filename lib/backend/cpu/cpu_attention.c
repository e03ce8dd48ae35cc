/* cpu_attention.c — causal grouped-query attention of the CPU backend: the training forward and
 * backward over padded rows, and decoding against the paged KV cache.
 *
 * The forward keeps only the log-sum-exp of each query's scores; the backward recomputes the
 * probabilities from it (as flash attention does), so no (T, T) matrix outlives a call. One
 * function, attend(), computes one query's output for both the dense and the paged forward, so
 * the two give bit-identical results on the same keys. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/cpu.h"

/* sum_k a[k] * b[k] in fp32, in eight interleaved partial sums (so the compiler can keep them in
 * vector registers) added pairwise at the end, then the tail: always the same order for the
 * same K, whichever loop or thread calls it: the dense and paged forwards and both backward
 * passes see the same scores. */
static float dot(const float *a, const float *b, int K)
{
    float acc[8] = {0};
    int k = 0;
    for (; k + 8 <= K; k += 8)
        for (int l = 0; l < 8; l++)
            acc[l] += a[k + l] * b[k + l];
    float s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (; k < K; k++)
        s += a[k] * b[k];
    return s;
}

/* out(hd) = softmax(scale * q·k_j) · v_j over the nkeys keys j; key j's row starts at
 * k + row(j) * stride (v likewise), where row(j) = rows[j], or j when rows is NULL.
 * s(nkeys) is scratch. *lse (when not NULL) = max + log(sum exp(score - max)). */
static void attend(float *out, float *lse, const float *q, const float *k, const float *v,
                   size_t stride, const int32_t *rows, int nkeys, int hd, float scale, float *s)
{
    float max = -INFINITY;
    for (int j = 0; j < nkeys; j++) {
        size_t r = rows ? (size_t)rows[j] : (size_t)j;
        s[j] = dot(q, k + r * stride, hd) * scale;
        max = s[j] > max ? s[j] : max;
    }
    double sum = 0.0;
    for (int j = 0; j < nkeys; j++) {
        s[j] = expf(s[j] - max);
        sum += s[j];
    }
    float inv = (float)(1.0 / sum);
    memset(out, 0, (size_t)hd * sizeof(float));
    for (int j = 0; j < nkeys; j++) {
        size_t r = rows ? (size_t)rows[j] : (size_t)j;
        const float *vj = v + r * stride;
        float p = s[j] * inv;
        for (int d = 0; d < hd; d++)
            out[d] += p * vj[d];
    }
    if (lse)
        *lse = max + (float)log(sum);
}

/* The keys query i of a row of valid length L attends: j <= i and j < L. */
static int n_keys(int i, int L) { return i + 1 < L ? i + 1 : L; }

void sbti_cpu_attention_fwd(sbti_backend *be, void *out_, float *lse, const void *qkv_,
                            const int32_t *len, int B, int T, int nh, int nkv, int hd)
{
    float *out = out_;       /* (B*T, nh*hd) */
    const float *qkv = qkv_; /* (B*T, (nh+2*nkv)*hd) */
    /* lse: (B, nh, T) or NULL */
    int nt = sbti_cpu_threads(be), group = nh / nkv;
    size_t row = (size_t)(nh + 2 * nkv) * hd;
    float scale = (float)(1.0 / sqrt((double)hd)); /* hd ** -0.5 rounded once, as torch */
    float *scratch = sbti_cpu_scratch(be, (size_t)nt * T, "attention_fwd"); /* (nt, T) scores */
    if (!scratch)
        return;
    /* One (b, h, i) per item: balanced even when B * nh is small, as in a short prefill. */
#pragma omp parallel for collapse(3) num_threads(nt) schedule(static)
    for (int b = 0; b < B; b++)
        for (int h = 0; h < nh; h++)
            for (int i = 0; i < T; i++) {
                int L = len ? len[b] : T, g = h / group;
                const float *base = qkv + (size_t)b * T * row;
                float *o = out + ((size_t)b * T + i) * nh * hd + (size_t)h * hd;
                float *l = lse ? lse + ((size_t)b * nh + h) * T + i : NULL;
                attend(o, l, base + (size_t)i * row + (size_t)h * hd,
                       base + (size_t)(nh + g) * hd, base + (size_t)(nh + nkv + g) * hd, row, NULL,
                       n_keys(i, L), hd, scale, scratch + (size_t)omp_get_thread_num() * T);
            }
    free(scratch);
}

/* With p_ij = exp(s_ij - lse_i), s_ij = scale q_i·k_j, D_i = dout_i·out_i, and
 * ds_ij = p_ij (dout_i·v_j - D_i):
 *   dq_i = scale sum_j ds_ij k_j,   dk_j = scale sum_i ds_ij q_i,   dv_j = sum_i p_ij dout_i,
 * the sums over i running over every query head of k/v head g's group. Two passes recompute
 * p: one owns the rows of dq, the other the rows of dk and dv, so each gradient element is
 * summed by one thread in a fixed order (no atomics). */
void sbti_cpu_attention_bwd(sbti_backend *be, void *dqkv_, const void *dout_, const void *qkv_,
                            const void *out_, const float *lse, const int32_t *len, int B, int T,
                            int nh, int nkv, int hd)
{
    float *dqkv = dqkv_;       /* (B*T, (nh+2*nkv)*hd) */
    const float *dout = dout_; /* (B*T, nh*hd) */
    const float *qkv = qkv_;   /* (B*T, (nh+2*nkv)*hd) */
    const float *out = out_;   /* (B*T, nh*hd) */
    /* lse: (B, nh, T) */
    int nt = sbti_cpu_threads(be), group = nh / nkv;
    size_t row = (size_t)(nh + 2 * nkv) * hd, orow = (size_t)nh * hd;
    float scale = (float)(1.0 / sqrt((double)hd)); /* hd ** -0.5 rounded once, as torch */
    float *D = sbti_cpu_scratch(be, (size_t)B * nh * T, "attention_bwd"); /* (B, nh, T) */
    if (!D)
        return;

#pragma omp parallel for collapse(2) num_threads(nt) schedule(static)
    for (int bt = 0; bt < B * T; bt++)
        for (int h = 0; h < nh; h++) {
            int b = bt / T, i = bt % T;
            const float *dy = dout + (size_t)bt * orow + (size_t)h * hd;
            const float *o = out + (size_t)bt * orow + (size_t)h * hd;
            D[((size_t)b * nh + h) * T + i] = dot(dy, o, hd);
        }

    /* dq: one query (b, h, i) per item, over its keys j. */
#pragma omp parallel for collapse(3) num_threads(nt) schedule(static)
    for (int b = 0; b < B; b++)
        for (int h = 0; h < nh; h++)
            for (int i = 0; i < T; i++) {
                int L = len ? len[b] : T, g = h / group, nk = n_keys(i, L);
                const float *base = qkv + (size_t)b * T * row;
                const float *q = base + (size_t)i * row + (size_t)h * hd;
                const float *dy = dout + ((size_t)b * T + i) * orow + (size_t)h * hd;
                size_t bhi = ((size_t)b * nh + h) * T + i;
                float *dq = dqkv + ((size_t)b * T + i) * row + (size_t)h * hd;
                memset(dq, 0, (size_t)hd * sizeof(float));
                for (int j = 0; j < nk; j++) {
                    const float *kj = base + (size_t)j * row + (size_t)(nh + g) * hd;
                    const float *vj = base + (size_t)j * row + (size_t)(nh + nkv + g) * hd;
                    float p = expf(dot(q, kj, hd) * scale - lse[bhi]);
                    float ds = p * (dot(dy, vj, hd) - D[bhi]);
                    for (int d = 0; d < hd; d++)
                        dq[d] += ds * kj[d];
                }
                for (int d = 0; d < hd; d++)
                    dq[d] *= scale;
            }

    /* dk, dv: one key (b, g, j) per item, over the queries that attend it: every head h of the
     * group, queries i >= j, and none at all when j is padding (j >= L). */
#pragma omp parallel for collapse(3) num_threads(nt) schedule(static)
    for (int b = 0; b < B; b++)
        for (int g = 0; g < nkv; g++)
            for (int j = 0; j < T; j++) {
                int L = len ? len[b] : T;
                const float *base = qkv + (size_t)b * T * row;
                const float *kj = base + (size_t)j * row + (size_t)(nh + g) * hd;
                const float *vj = base + (size_t)j * row + (size_t)(nh + nkv + g) * hd;
                float *dk = dqkv + ((size_t)b * T + j) * row + (size_t)(nh + g) * hd;
                float *dv = dqkv + ((size_t)b * T + j) * row + (size_t)(nh + nkv + g) * hd;
                memset(dk, 0, (size_t)hd * sizeof(float));
                memset(dv, 0, (size_t)hd * sizeof(float));
                if (j >= L)
                    continue;
                for (int h = g * group; h < (g + 1) * group; h++)
                    for (int i = j; i < T; i++) {
                        const float *q = base + (size_t)i * row + (size_t)h * hd;
                        const float *dy = dout + ((size_t)b * T + i) * orow + (size_t)h * hd;
                        size_t bhi = ((size_t)b * nh + h) * T + i;
                        float p = expf(dot(q, kj, hd) * scale - lse[bhi]);
                        float ds = p * (dot(dy, vj, hd) - D[bhi]);
                        for (int d = 0; d < hd; d++) {
                            dv[d] += p * dy[d];
                            dk[d] += ds * q[d];
                        }
                    }
                for (int d = 0; d < hd; d++)
                    dk[d] *= scale;
            }
    free(D);
}

void sbti_cpu_kv_store(sbti_backend *be, void *kcache_, void *vcache_, const void *qkv_,
                       const int32_t *slot, int N, int nh, int nkv, int hd)
{
    float *kcache = kcache_, *vcache = vcache_; /* (n_slots, nkv*hd) */
    const float *qkv = qkv_;                    /* (N, (nh+2*nkv)*hd) */
    size_t row = (size_t)(nh + 2 * nkv) * hd, kv = (size_t)nkv * hd;
#pragma omp parallel for num_threads(sbti_cpu_threads(be)) schedule(static)
    for (int n = 0; n < N; n++) {
        if (slot[n] < 0) /* padding (kv_cache.c): nothing to keep */
            continue;
        const float *x = qkv + (size_t)n * row;
        memcpy(kcache + (size_t)slot[n] * kv, x + (size_t)nh * hd, kv * sizeof(float));
        memcpy(vcache + (size_t)slot[n] * kv, x + (size_t)(nh + nkv) * hd, kv * sizeof(float));
    }
}

void sbti_cpu_attention_paged(sbti_backend *be, void *out_, const void *qkv_, const void *kcache_,
                              const void *vcache_, const int32_t *seq, const int32_t *pos,
                              const int32_t *pages, int max_pages, int page_size, int N, int nh,
                              int nkv, int hd)
{
    float *out = out_;                                  /* (N, nh*hd) */
    const float *qkv = qkv_;                            /* (N, (nh+2*nkv)*hd) */
    const float *kcache = kcache_, *vcache = vcache_;   /* (n_slots, nkv*hd) */
    int nt = sbti_cpu_threads(be), group = nh / nkv, maxk = 1;
    size_t row = (size_t)(nh + 2 * nkv) * hd, kv = (size_t)nkv * hd;
    float scale = (float)(1.0 / sqrt((double)hd)); /* hd ** -0.5 rounded once, as torch */
    for (int n = 0; n < N; n++)
        maxk = pos[n] + 1 > maxk ? pos[n] + 1 : maxk;
    /* Per thread: maxk scores, then maxk slot numbers (int32 is the size of a float). */
    float *scratch = sbti_cpu_scratch(be, (size_t)nt * 2 * maxk, "attention_paged");
    if (!scratch)
        return;
#pragma omp parallel for collapse(2) num_threads(nt) schedule(static)
    for (int n = 0; n < N; n++)
        for (int h = 0; h < nh; h++) {
            float *s = scratch + (size_t)omp_get_thread_num() * 2 * maxk;
            int32_t *slots = (int32_t *)(s + maxk);
            const int32_t *pg = pages + (size_t)seq[n] * max_pages;
            int nk = pos[n] + 1, g = h / group;
            for (int p = 0; p < nk; p++)
                slots[p] = pg[p / page_size] * page_size + p % page_size;
            attend(out + (size_t)n * nh * hd + (size_t)h * hd, NULL,
                   qkv + (size_t)n * row + (size_t)h * hd, kcache + (size_t)g * hd,
                   vcache + (size_t)g * hd, kv, slots, nk, hd, scale, s);
        }
    free(scratch);
}
