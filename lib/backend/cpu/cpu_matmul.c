/* cpu_matmul.c — the linear layer of the CPU backend: out = inp · wᵀ (+ res) and its backward.
 *
 * Weights are (M, K) as nn.Linear stores them, so every inner loop below runs along K, which is
 * contiguous in inp, w and both gradients. Work is split into tiles that each own a block of
 * output elements; every output is summed by one thread in a fixed order, so the results do not
 * depend on the thread count. Sums are fp32. */
#include <string.h>

#include "backend/cpu/cpu.h"

#define TN 16  /* forward tile: rows of inp ... */
#define TM 64  /* ... times rows of w, sized to stay in L2 for K up to a few thousand */
#define KB 256 /* backward: a block of K columns, accumulated on the stack */

/* The dot products of the forward, in register tiles: two rows of inp times four rows of w
 * share their loads (eight sums, each along contiguous k). `omp simd reduction` lets the
 * compiler keep each sum in vector lanes (it may not reorder a plain float sum by itself); the
 * order is fixed when the library is compiled, whatever the thread count. */
static void dot_2x4(float *y0, float *y1, const float *a0, const float *a1, const float *b,
                    int K)
{
    const float *b0 = b, *b1 = b + K, *b2 = b + 2 * (size_t)K, *b3 = b + 3 * (size_t)K;
    float s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0;
#pragma omp simd reduction(+ : s00, s01, s02, s03, s10, s11, s12, s13)
    for (int k = 0; k < K; k++) {
        float x0 = a0[k], x1 = a1[k];
        s00 += x0 * b0[k];
        s01 += x0 * b1[k];
        s02 += x0 * b2[k];
        s03 += x0 * b3[k];
        s10 += x1 * b0[k];
        s11 += x1 * b1[k];
        s12 += x1 * b2[k];
        s13 += x1 * b3[k];
    }
    y0[0] = s00, y0[1] = s01, y0[2] = s02, y0[3] = s03;
    y1[0] = s10, y1[1] = s11, y1[2] = s12, y1[3] = s13;
}

/* One row of inp times four rows of w: the last row of an odd tile (and decoding, N = 1). */
static void dot_1x4(float *y, const float *a, const float *b, int K)
{
    const float *b0 = b, *b1 = b + K, *b2 = b + 2 * (size_t)K, *b3 = b + 3 * (size_t)K;
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
#pragma omp simd reduction(+ : s0, s1, s2, s3)
    for (int k = 0; k < K; k++) {
        float x = a[k];
        s0 += x * b0[k];
        s1 += x * b1[k];
        s2 += x * b2[k];
        s3 += x * b3[k];
    }
    y[0] = s0, y[1] = s1, y[2] = s2, y[3] = s3;
}

static float dot_1x1(const float *a, const float *b, int K)
{
    float s = 0;
#pragma omp simd reduction(+ : s)
    for (int k = 0; k < K; k++)
        s += a[k] * b[k];
    return s;
}

/* y[j] = d[j] (+ r[j]) for n values; res is read before out is written (they may be one). */
static void store(float *y, const float *d, const float *r, int n)
{
    for (int j = 0; j < n; j++)
        y[j] = r ? d[j] + r[j] : d[j];
}

/* out[n][m0..m1) (+ res) for one row n, or for two rows n, n+1 when two is set. */
static void fwd_rows(float *out, const float *inp, const float *w, const float *res, int n,
                     int two, int m0, int m1, int K, int M)
{
    const float *a0 = inp + (size_t)n * K, *a1 = a0 + K;
    float *y0 = out + (size_t)n * M, *y1 = y0 + M;
    const float *r0 = res ? res + (size_t)n * M : NULL, *r1 = res ? r0 + M : NULL;
    float d0[4], d1[4];
    int m = m0;
    for (; m + 4 <= m1; m += 4) {
        if (two)
            dot_2x4(d0, d1, a0, a1, w + (size_t)m * K, K);
        else
            dot_1x4(d0, a0, w + (size_t)m * K, K);
        store(y0 + m, d0, r0 ? r0 + m : NULL, 4);
        if (two)
            store(y1 + m, d1, r1 ? r1 + m : NULL, 4);
    }
    for (; m < m1; m++) {
        d0[0] = dot_1x1(a0, w + (size_t)m * K, K);
        store(y0 + m, d0, r0 ? r0 + m : NULL, 1);
        if (two) {
            d1[0] = dot_1x1(a1, w + (size_t)m * K, K);
            store(y1 + m, d1, r1 ? r1 + m : NULL, 1);
        }
    }
}

void sbti_cpu_matmul_fwd(sbti_backend *be, void *out, const void *inp, const void *w,
                         const void *res, int N, int K, int M)
{
    /* out (N, M) = inp (N, K) · w (M, K)ᵀ [+ res (N, M), which may be out] */
    int tiles_n = (N + TN - 1) / TN, tiles_m = (M + TM - 1) / TM;
#pragma omp parallel for collapse(2) num_threads(sbti_cpu_threads(be)) schedule(static)
    for (int tn = 0; tn < tiles_n; tn++)
        for (int tm = 0; tm < tiles_m; tm++) {
            int n0 = tn * TN, n1 = n0 + TN < N ? n0 + TN : N;
            int m0 = tm * TM, m1 = m0 + TM < M ? m0 + TM : M;
            for (int n = n0; n < n1; n += 2)
                fwd_rows(out, inp, w, res, n, n + 1 < n1, m0, m1, K, M);
        }
}

/* dinp[n][k] = sum_m dout[n][m] * w[m][k] (over m in order): four rows of dinp and a block of
 * KB columns at a time, each row of w read once for the four. */
static void matmul_bwd_inp(sbti_backend *be, float *dinp, const float *dout, const float *w, int N,
                           int K, int M)
{
    int tiles_n = (N + 3) / 4, tiles_k = (K + KB - 1) / KB;
#pragma omp parallel for collapse(2) num_threads(sbti_cpu_threads(be)) schedule(static)
    for (int tn = 0; tn < tiles_n; tn++)
        for (int tk = 0; tk < tiles_k; tk++) {
            int n0 = tn * 4, rows = N - n0 < 4 ? N - n0 : 4;
            int k0 = tk * KB, kn = K - k0 < KB ? K - k0 : KB;
            float acc[4][KB];
            memset(acc, 0, sizeof acc);
            for (int m = 0; m < M; m++) {
                const float *wm = w + (size_t)m * K + k0;
                for (int r = 0; r < rows; r++) {
                    float d = dout[(size_t)(n0 + r) * M + m];
                    for (int k = 0; k < kn; k++)
                        acc[r][k] += d * wm[k];
                }
            }
            for (int r = 0; r < rows; r++)
                memcpy(dinp + (size_t)(n0 + r) * K + k0, acc[r], (size_t)kn * sizeof(float));
        }
}

/* dw[m][k] += sum_n dout[n][m] * inp[n][k]: the sum over n (in order) is made on the stack for
 * four rows of dw and a block of KB columns, then added, so calling twice adds the same sum
 * twice. Parallel over blocks of dw: no two threads touch one element. */
static void matmul_bwd_w(sbti_backend *be, float *dw, const float *dout, const float *inp, int N,
                         int K, int M)
{
    int tiles_m = (M + 3) / 4, tiles_k = (K + KB - 1) / KB;
#pragma omp parallel for collapse(2) num_threads(sbti_cpu_threads(be)) schedule(static)
    for (int tm = 0; tm < tiles_m; tm++)
        for (int tk = 0; tk < tiles_k; tk++) {
            int m0 = tm * 4, rows = M - m0 < 4 ? M - m0 : 4;
            int k0 = tk * KB, kn = K - k0 < KB ? K - k0 : KB;
            float acc[4][KB];
            memset(acc, 0, sizeof acc);
            for (int n = 0; n < N; n++) {
                const float *x = inp + (size_t)n * K + k0;
                const float *dy = dout + (size_t)n * M + m0;
                for (int r = 0; r < rows; r++) {
                    float d = dy[r];
                    for (int k = 0; k < kn; k++)
                        acc[r][k] += d * x[k];
                }
            }
            for (int r = 0; r < rows; r++) {
                float *dst = dw + (size_t)(m0 + r) * K + k0;
                for (int k = 0; k < kn; k++)
                    dst[k] += acc[r][k];
            }
        }
}

void sbti_cpu_matmul_bwd(sbti_backend *be, void *dinp, void *dw, const void *dout,
                         const void *inp, const void *w, int N, int K, int M)
{
    if (dinp) /* (N, K) = dout (N, M) · w (M, K) */
        matmul_bwd_inp(be, dinp, dout, w, N, K, M);
    if (dw) /* (M, K) += doutᵀ · inp (N, K) */
        matmul_bwd_w(be, dw, dout, inp, N, K, M);
}
