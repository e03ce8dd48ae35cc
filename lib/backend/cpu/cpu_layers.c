/* cpu_layers.c — the elementwise and per-row layers of the CPU backend: token embedding, RMSNorm,
 * RoPE, SwiGLU and row gathering, forward and backward, as transformers' Llama computes them in
 * fp32. */
#include <math.h>
#include <string.h>

#include "backend/cpu/cpu.h"

/* Column block of the parameter-gradient reductions: each thread owns whole columns of dw and
 * walks the rows in order, so every sum has one fixed order whatever the thread count. */
#define COLS 32

/* ---- embedding --------------------------------------------------------------------------- */

void sbti_cpu_embedding_fwd(sbti_backend *be, void *out_, const int32_t *tok, const void *wte_,
                            int N, int C)
{
    float *out = out_;        /* (N, C) */
    const float *wte = wte_;  /* (V, C) */
#pragma omp parallel for num_threads(sbti_cpu_threads(be)) schedule(static)
    for (int n = 0; n < N; n++)
        memcpy(out + (size_t)n * C, wte + (size_t)tok[n] * C, (size_t)C * sizeof(float));
}

void sbti_cpu_embedding_bwd(sbti_backend *be, void *dwte_, const void *dout_, const int32_t *tok,
                            int N, int C)
{
    float *dwte = dwte_;       /* (V, C) */
    const float *dout = dout_; /* (N, C) */
    int nblocks = (C + COLS - 1) / COLS;
    /* A token may repeat: parallel over columns, so one thread adds all rows of a column. */
#pragma omp parallel for num_threads(sbti_cpu_threads(be)) schedule(static)
    for (int blk = 0; blk < nblocks; blk++) {
        int c0 = blk * COLS, c1 = c0 + COLS < C ? c0 + COLS : C;
        for (int n = 0; n < N; n++) {
            float *dst = dwte + (size_t)tok[n] * C;
            const float *src = dout + (size_t)n * C;
            for (int c = c0; c < c1; c++)
                dst[c] += src[c];
        }
    }
}

/* ---- RMSNorm ----------------------------------------------------------------------------- */

/* 1 / sqrt(mean(x²) + eps) of one row: the mean in double, rounded to fp32 like torch's fp32
 * mean, then rsqrt in fp32. */
static float row_rstd(const float *x, int C, float eps)
{
    double ss = 0.0;
    for (int c = 0; c < C; c++)
        ss += (double)x[c] * x[c];
    float var = (float)(ss / C);
    return 1.0f / sqrtf(var + eps);
}

void sbti_cpu_rmsnorm_fwd(sbti_backend *be, void *out_, float *rstd, const void *inp_,
                          const void *w_, int N, int C, float eps)
{
    float *out = out_;       /* (N, C) */
    const float *inp = inp_; /* (N, C) */
    const float *w = w_;     /* (C) */
#pragma omp parallel for num_threads(sbti_cpu_threads(be)) schedule(static)
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C;
        float *y = out + (size_t)n * C;
        float r = row_rstd(x, C, eps);
        for (int c = 0; c < C; c++)
            y[c] = w[c] * (x[c] * r); /* HF: weight * (hidden * rsqrt(var + eps)) */
        if (rstd)
            rstd[n] = r;
    }
}

/* y = w * x * r with r = (mean(x²) + eps)^-1/2, so
 *   dx_c = r * w_c dy_c - (r³ / C) * x_c * sum_k w_k dy_k x_k,   dw_c = sum_rows dy_c * (x_c r). */
void sbti_cpu_rmsnorm_bwd(sbti_backend *be, void *dinp_, void *dw_, const void *dout_,
                          const void *inp_, const void *w_, const float *rstd, int N, int C)
{
    float *dinp = dinp_;       /* (N, C) += */
    float *dw = dw_;           /* (C) += */
    const float *dout = dout_; /* (N, C) */
    const float *inp = inp_;   /* (N, C) */
    const float *w = w_;       /* (C) */
    int nt = sbti_cpu_threads(be);
    if (!rstd) { /* eps is not passed here: the forward must have kept rstd */
        sbti_backend_fail(be, SBT_E_INTERNAL, "cpu rmsnorm_bwd: rstd is NULL");
        return;
    }

    if (dinp) {
#pragma omp parallel for num_threads(nt) schedule(static)
        for (int n = 0; n < N; n++) {
            const float *x = inp + (size_t)n * C, *dy = dout + (size_t)n * C;
            float *dx = dinp + (size_t)n * C;
            double rn = rstd[n], dot = 0.0;
            for (int c = 0; c < C; c++)
                dot += (double)(w[c] * dy[c]) * x[c];
            float a = rstd[n], b = (float)(rn * rn * rn * dot / C);
            for (int c = 0; c < C; c++)
                dx[c] += a * (w[c] * dy[c]) - b * x[c];
        }
    }

    if (dw) {
        int nblocks = (C + COLS - 1) / COLS;
#pragma omp parallel for num_threads(nt) schedule(static)
        for (int blk = 0; blk < nblocks; blk++) {
            int c0 = blk * COLS, c1 = c0 + COLS < C ? c0 + COLS : C;
            double acc[COLS] = {0};
            for (int n = 0; n < N; n++) {
                const float *x = inp + (size_t)n * C, *dy = dout + (size_t)n * C;
                float rn = rstd[n];
                for (int c = c0; c < c1; c++)
                    acc[c - c0] += (double)dy[c] * (x[c] * rn); /* x * r as the forward rounds it */
            }
            for (int c = c0; c < c1; c++)
                dw[c] += (float)acc[c - c0];
        }
    }
}

/* ---- RoPE -------------------------------------------------------------------------------- */

/* Rotates the first nh + nkv heads (queries, then keys) of each row by +angle (dir 1) or
 * -angle (dir -1, the backward: the transpose of a rotation is its inverse). As transformers'
 * rotate_half: x1 = x[i], x2 = x[i + hd/2]; out1 = x1 cos - x2 sin, out2 = x2 cos + x1 sin. */
static void rope(sbti_backend *be, float *qkv, const int32_t *pos, const float *inv_freq, int N,
                 int nh, int nkv, int hd, float dir)
{
    int half = hd / 2, row = (nh + 2 * nkv) * hd;
#pragma omp parallel for num_threads(sbti_cpu_threads(be)) schedule(static)
    for (int n = 0; n < N; n++) {
        float *x = qkv + (size_t)n * row;
        for (int i = 0; i < half; i++) {
            float angle = (float)pos[n] * inv_freq[i]; /* HF: inv_freq @ position_ids in fp32 */
            float c = cosf(angle), s = dir * sinf(angle);
            for (int h = 0; h < nh + nkv; h++) {
                float *p = x + (size_t)h * hd;
                float x1 = p[i], x2 = p[i + half];
                p[i] = x1 * c - x2 * s;
                p[i + half] = x2 * c + x1 * s;
            }
        }
    }
}

void sbti_cpu_rope_fwd(sbti_backend *be, void *qkv, const int32_t *pos, const float *inv_freq,
                       int N, int nh, int nkv, int hd)
{
    rope(be, qkv, pos, inv_freq, N, nh, nkv, hd, 1.0f);
}

void sbti_cpu_rope_bwd(sbti_backend *be, void *dqkv, const int32_t *pos, const float *inv_freq,
                       int N, int nh, int nkv, int hd)
{
    rope(be, dqkv, pos, inv_freq, N, nh, nkv, hd, -1.0f);
}

/* ---- SwiGLU ------------------------------------------------------------------------------ */

/* silu(g) = g * sigmoid(g), written as torch writes it: g / (1 + exp(-g)). */
void sbti_cpu_swiglu_fwd(sbti_backend *be, void *out_, const void *gu_, int N, int I)
{
    float *out = out_;     /* (N, I) */
    const float *gu = gu_; /* (N, 2I): gate | up */
#pragma omp parallel for num_threads(sbti_cpu_threads(be)) schedule(static)
    for (int n = 0; n < N; n++) {
        const float *g = gu + (size_t)n * 2 * I, *u = g + I;
        float *y = out + (size_t)n * I;
        for (int i = 0; i < I; i++)
            y[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
    }
}

/* d/dg silu(g) = s (1 + g (1 - s)) with s = sigmoid(g). */
void sbti_cpu_swiglu_bwd(sbti_backend *be, void *dgu_, const void *dout_, const void *gu_, int N,
                         int I)
{
    float *dgu = dgu_;         /* (N, 2I) */
    const float *dout = dout_; /* (N, I) */
    const float *gu = gu_;     /* (N, 2I) */
#pragma omp parallel for num_threads(sbti_cpu_threads(be)) schedule(static)
    for (int n = 0; n < N; n++) {
        const float *g = gu + (size_t)n * 2 * I, *u = g + I, *dy = dout + (size_t)n * I;
        float *dg = dgu + (size_t)n * 2 * I, *du = dg + I;
        for (int i = 0; i < I; i++) {
            float s = 1.0f / (1.0f + expf(-g[i]));
            du[i] = dy[i] * (g[i] / (1.0f + expf(-g[i])));
            dg[i] = dy[i] * u[i] * (s * (1.0f + g[i] * (1.0f - s)));
        }
    }
}

/* ---- gather ------------------------------------------------------------------------------ */

void sbti_cpu_gather_rows(sbti_backend *be, void *out_, const void *inp_, const int32_t *idx, int N,
                          int C)
{
    float *out = out_;       /* (N, C) */
    const float *inp = inp_; /* (?, C) */
#pragma omp parallel for num_threads(sbti_cpu_threads(be)) schedule(static)
    for (int n = 0; n < N; n++)
        memcpy(out + (size_t)n * C, inp + (size_t)idx[n] * C, (size_t)C * sizeof(float));
}
