/* test_backend_cpu.c — the fp32 CPU reference backend (lib/backend/cpu) on random inputs of odd
 * shapes: every forward against a plain double-precision transcription of the math; every
 * backward against central finite differences of L = sum(out * R) (with a deliberately wrong
 * gradient shown to fail the same check); gradient accumulation and overwrite semantics; the
 * paged KV cache against dense attention; AdamW against torch's formula in double; the
 * cross-entropy's invariants; identical bits with 1 and 2 threads; transfers, conversions and
 * allocation failure.
 *
 * Set SBT_TEST_VERBOSE=1 to print the measured errors. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "backend/backend.h"
#include "core/error.h"
#include "core/rng.h"

#include "check_main.h"

#define N_OF(a) (sizeof(a) / sizeof *(a))
#define ACT SBTI_MEM_ACT
#define PARAM SBTI_MEM_PARAM
#define GRAD SBTI_MEM_GRAD
#define F32 SBTI_MEM_F32
#define I32 SBTI_MEM_I32

#define FWD_TOL 1e-5   /* ‖out − ref‖ / ‖ref‖ of a forward against its double reference */
#define FD_TOL 2e-3    /* relative error of directional derivatives against finite differences */
#define FD_H 1e-2f     /* finite-difference step (inputs are O(1)) */
#define FD_DIRS 4      /* random directions per gradient */
#define FD_WRONG 0.05  /* the wrong gradient: the right one + noise of 5% of its norm */

/* ---- helpers ---------------------------------------------------------------------------- */

static sbti_backend *be;

static void setup(void) { ck_assert_int_eq(sbti_backend_cpu_create(&be, 0), SBT_OK); }

static void teardown(void)
{
    sbti_backend_destroy(be);
    be = NULL;
}

static int verbose(void)
{
    const char *v = getenv("SBT_TEST_VERBOSE");
    return v && *v && strcmp(v, "0") != 0;
}

static void note(const char *what, double err)
{
    if (verbose())
        printf("  %-44s %.3g\n", what, err);
}

/* Uniform in [-1, 1). */
static float uni(sbti_rng *r) { return (float)((double)(sbti_rng_next(r) >> 40) * 0x1p-23 - 1.0); }

static float *fvec(size_t n) { return calloc(n ? n : 1, sizeof(float)); }

static float *frand(sbti_rng *r, size_t n, float scale)
{
    float *x = fvec(n);
    for (size_t i = 0; i < n; i++)
        x[i] = scale * uni(r);
    return x;
}

static double *dvec(size_t n) { return calloc(n ? n : 1, sizeof(double)); }

/* A backend buffer of n elements of kind, filled from host (when not NULL). */
static void *dev(sbti_mem kind, size_t n, const void *host)
{
    void *p = NULL;
    ck_assert_int_eq(be->ops->alloc(be, &p, kind, n), SBT_OK);
    if (host)
        ck_assert_int_eq(be->ops->upload(be, p, kind, 0, host, SBTI_F32, n), SBT_OK);
    return p;
}

static void put(void *d, sbti_mem kind, const void *host, size_t n)
{
    ck_assert_int_eq(be->ops->upload(be, d, kind, 0, host, SBTI_F32, n), SBT_OK);
}

/* n floats of d, malloc'd. */
static float *get(const void *d, sbti_mem kind, size_t n)
{
    float *h = fvec(n);
    ck_assert_int_eq(be->ops->download(be, h, d, kind, 0, n), SBT_OK);
    return h;
}

static void dfree(void *p) { be->ops->free(be, p); }

/* ‖a − ref‖ / ‖ref‖ (or the absolute norm when ref is 0). */
static double rel_err(const float *a, const double *ref, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        num += (a[i] - ref[i]) * (a[i] - ref[i]);
        den += ref[i] * ref[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

static double rel_err_f(const float *a, const float *b, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        num += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        den += (double)b[i] * b[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

static double dot_d(const float *a, const float *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)a[i] * b[i];
    return s;
}

static void check_fwd(const char *what, double err)
{
    note(what, err);
    ck_assert_msg(err < FWD_TOL, "%s: relative error %g (tolerance %g)", what, err, FWD_TOL);
}

/* L at x, one input of an operation varied (the rest fixed in ctx). */
typedef double (*loss_fn)(void *ctx, const float *x);

/* The analytic gradient `grad` of f at x0 (n values) against central differences along FD_DIRS
 * random directions d: <grad, (x+ − x−)/2h> against (L(x+) − L(x−)) / 2h, where x± = x0 ± h d
 * rounded to fp32 (the realised step, so rounding the step is no error). The error is
 * ‖analytic − numeric‖ / ‖numeric‖ over the directions; it must be below FD_TOL, and the same
 * comparison for a gradient that is wrong by FD_WRONG of its norm must be above it. */
static void fd_check(const char *what, loss_fn f, void *ctx, const float *x0, const float *grad,
                     size_t n, sbti_rng *rng)
{
    float *xp = fvec(n), *xm = fvec(n), *bad = fvec(n);
    double gnorm = sqrt(dot_d(grad, grad, n));
    for (size_t i = 0; i < n; i++) /* uniform noise of variance 1/3: scale by sqrt(3) */
        bad[i] = grad[i] + (float)(FD_WRONG * gnorm / sqrt((double)n) * sqrt(3.0) * uni(rng));
    double num_ok = 0, num_bad = 0, den = 0;
    for (int k = 0; k < FD_DIRS; k++) {
        for (size_t i = 0; i < n; i++) {
            float d = uni(rng);
            xp[i] = x0[i] + FD_H * d;
            xm[i] = x0[i] - FD_H * d;
        }
        double fd = (f(ctx, xp) - f(ctx, xm)) / (2.0 * FD_H), a = 0, ab = 0;
        for (size_t i = 0; i < n; i++) {
            double step = ((double)xp[i] - xm[i]) / (2.0 * FD_H);
            a += grad[i] * step;
            ab += bad[i] * step;
        }
        num_ok += (a - fd) * (a - fd);
        num_bad += (ab - fd) * (ab - fd);
        den += fd * fd;
    }
    double err = sqrt(num_ok / den), err_bad = sqrt(num_bad / den);
    if (verbose())
        printf("  %-44s %.3g (wrong gradient: %.3g)\n", what, err, err_bad);
    ck_assert_msg(den > 0, "%s: the loss does not depend on the input", what);
    ck_assert_msg(err < FD_TOL, "%s: gradient error %g (tolerance %g)", what, err, FD_TOL);
    ck_assert_msg(err_bad > FD_TOL, "%s: a wrong gradient passed (%g): the check is too weak", what,
                  err_bad);
    free(xp);
    free(xm);
    free(bad);
}

/* ---- references in double --------------------------------------------------------------- */

static void ref_attention(double *out, double *lse, const float *qkv, const int32_t *len, int B,
                          int T, int nh, int nkv, int hd)
{
    int row = (nh + 2 * nkv) * hd;
    double scale = 1.0 / sqrt((double)hd), *s = dvec((size_t)T);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < nh; h++) {
            int g = h / (nh / nkv), L = len ? len[b] : T;
            for (int i = 0; i < T; i++) {
                const float *q = qkv + (size_t)(b * T + i) * row + h * hd;
                int nk = i + 1 < L ? i + 1 : L;
                double max = -INFINITY, sum = 0;
                for (int j = 0; j < nk; j++) {
                    const float *k = qkv + (size_t)(b * T + j) * row + (nh + g) * hd;
                    s[j] = 0;
                    for (int d = 0; d < hd; d++)
                        s[j] += (double)q[d] * k[d];
                    s[j] *= scale;
                    max = fmax(max, s[j]);
                }
                for (int j = 0; j < nk; j++)
                    sum += exp(s[j] - max);
                double *o = out + (size_t)(b * T + i) * nh * hd + h * hd;
                for (int d = 0; d < hd; d++)
                    o[d] = 0;
                for (int j = 0; j < nk; j++) {
                    const float *v = qkv + (size_t)(b * T + j) * row + (nh + nkv + g) * hd;
                    for (int d = 0; d < hd; d++)
                        o[d] += exp(s[j] - max) / sum * v[d];
                }
                lse[(b * nh + h) * T + i] = max + log(sum);
            }
        }
    free(s);
}

/* inv_freq[i] = theta^(-2i/hd) in fp32, as transformers' default RoPE. */
static void make_inv_freq(float *f, int hd)
{
    for (int i = 0; i < hd / 2; i++)
        f[i] = (float)(1.0 / pow(10000.0, 2.0 * i / hd));
}

/* ==== 1. forwards against double references ============================================== */

START_TEST(forward_embedding_gather)
{
    sbti_rng rng;
    sbti_rng_init(&rng, 1, 0, 0);
    int V = 11;
    int Cs[] = {5, 33}, Ns[] = {1, 7};
    for (size_t a = 0; a < N_OF(Cs); a++)
        for (size_t b = 0; b < N_OF(Ns); b++) {
            int C = Cs[a], N = Ns[b];
            float *wte = frand(&rng, (size_t)V * C, 1.0f);
            int32_t tok[7];
            for (int n = 0; n < N; n++)
                tok[n] = (int32_t)sbti_rng_below(&rng, (uint32_t)V);
            float *dw = dev(PARAM, (size_t)V * C, wte), *dout = dev(ACT, (size_t)N * C, NULL);
            int32_t *dtok = dev(I32, (size_t)N, NULL);
            ck_assert_int_eq(be->ops->upload(be, dtok, I32, 0, tok, SBTI_F32, (size_t)N), SBT_OK);
            be->ops->embedding_fwd(be, dout, dtok, dw, N, C);
            float *out = get(dout, ACT, (size_t)N * C);
            for (int n = 0; n < N; n++)
                ck_assert_mem_eq(out + (size_t)n * C, wte + (size_t)tok[n] * C, C * sizeof(float));
            /* gather_rows: the same rows of an ACT matrix */
            float *dg = dev(ACT, (size_t)N * C, NULL);
            be->ops->gather_rows(be, dg, dw, dtok, N, C);
            float *g = get(dg, ACT, (size_t)N * C);
            ck_assert_mem_eq(g, out, (size_t)N * C * sizeof(float));
            free(g);
            free(out);
            free(wte);
            dfree(dg);
            dfree(dw);
            dfree(dout);
            dfree(dtok);
        }
}
END_TEST

START_TEST(forward_rmsnorm)
{
    sbti_rng rng;
    sbti_rng_init(&rng, 2, 0, 0);
    int Cs[] = {5, 33, 256}, Ns[] = {1, 7};
    double worst = 0, worst_r = 0;
    for (size_t a = 0; a < N_OF(Cs); a++)
        for (size_t b = 0; b < N_OF(Ns); b++) {
            int C = Cs[a], N = Ns[b];
            float eps = 1e-5f;
            size_t NC = (size_t)N * C;
            float *x = frand(&rng, NC, 2.0f), *w = frand(&rng, (size_t)C, 1.5f);
            double *ref = dvec(NC), *rref = dvec((size_t)N);
            for (int n = 0; n < N; n++) {
                double ss = 0;
                for (int c = 0; c < C; c++)
                    ss += (double)x[n * C + c] * x[n * C + c];
                rref[n] = 1.0 / sqrt(ss / C + eps);
                for (int c = 0; c < C; c++)
                    ref[n * C + c] = w[c] * x[n * C + c] * rref[n];
            }
            float *dx = dev(ACT, NC, x), *dw = dev(PARAM, (size_t)C, w), *dy = dev(ACT, NC, NULL);
            float *dr = dev(F32, (size_t)N, NULL);
            be->ops->rmsnorm_fwd(be, dy, dr, dx, dw, N, C, eps);
            float *y = get(dy, ACT, NC), *r = get(dr, F32, (size_t)N);
            worst = fmax(worst, rel_err(y, ref, NC));
            worst_r = fmax(worst_r, rel_err(r, rref, (size_t)N));
            be->ops->rmsnorm_fwd(be, dy, NULL, dx, dw, N, C, eps); /* rstd may be NULL */
            float *y2 = get(dy, ACT, NC);
            ck_assert_mem_eq(y2, y, NC * sizeof(float));
            free(y2);
            free(y);
            free(r);
            free(x);
            free(w);
            free(ref);
            free(rref);
            dfree(dx);
            dfree(dw);
            dfree(dy);
            dfree(dr);
        }
    check_fwd("rmsnorm_fwd out", worst);
    check_fwd("rmsnorm_fwd rstd", worst_r);
}
END_TEST

START_TEST(forward_matmul)
{
    sbti_rng rng;
    sbti_rng_init(&rng, 3, 0, 0);
    int shapes[][3] = {{1, 5, 7}, {7, 33, 5}, {13, 37, 70}, {33, 300, 67}, {17, 1, 3}};
    double worst = 0;
    for (size_t s = 0; s < N_OF(shapes); s++) {
        int N = shapes[s][0], K = shapes[s][1], M = shapes[s][2];
        size_t NK = (size_t)N * K, MK = (size_t)M * K, NM = (size_t)N * M;
        float *x = frand(&rng, NK, 1.0f), *w = frand(&rng, MK, 1.0f), *res = frand(&rng, NM, 1.0f);
        double *ref = dvec(NM), *refr = dvec(NM);
        for (int n = 0; n < N; n++)
            for (int m = 0; m < M; m++) {
                double acc = 0;
                for (int k = 0; k < K; k++)
                    acc += (double)x[(size_t)n * K + k] * w[(size_t)m * K + k];
                ref[(size_t)n * M + m] = acc;
                refr[(size_t)n * M + m] = acc + res[(size_t)n * M + m];
            }
        float *dx = dev(ACT, NK, x), *dw = dev(PARAM, MK, w), *dres = dev(ACT, NM, res);
        float *dy = dev(ACT, NM, NULL);
        be->ops->matmul_fwd(be, dy, dx, dw, NULL, N, K, M);
        float *y = get(dy, ACT, NM);
        worst = fmax(worst, rel_err(y, ref, NM));
        be->ops->matmul_fwd(be, dy, dx, dw, dres, N, K, M); /* with a residual */
        float *yr = get(dy, ACT, NM);
        worst = fmax(worst, rel_err(yr, refr, NM));
        be->ops->matmul_fwd(be, dres, dx, dw, dres, N, K, M); /* in place: out == res */
        float *yi = get(dres, ACT, NM);
        ck_assert_mem_eq(yi, yr, NM * sizeof(float));
        /* a row alone (N = 1, as in decoding) has the bits it has in the batch */
        float *d1 = dev(ACT, (size_t)M, NULL);
        for (int n = 0; n < N; n++) {
            be->ops->matmul_fwd(be, d1, sbti_at(be, dx, ACT, (size_t)n * K), dw, NULL, 1, K, M);
            float *y1 = get(d1, ACT, (size_t)M);
            ck_assert_msg(memcmp(y1, y + (size_t)n * M, (size_t)M * sizeof(float)) == 0,
                          "matmul_fwd N=%d K=%d M=%d: row %d alone differs", N, K, M, n);
            free(y1);
        }
        dfree(d1);
        free(y);
        free(yr);
        free(yi);
        free(x);
        free(w);
        free(res);
        free(ref);
        free(refr);
        dfree(dx);
        dfree(dw);
        dfree(dres);
        dfree(dy);
    }
    check_fwd("matmul_fwd (with/without residual)", worst);
}
END_TEST

/* Head layouts (nh, nkv, hd) the attention and RoPE tests run through. */
static const int heads[][3] = {{4, 2, 8}, {3, 3, 6}, {4, 1, 8}};

START_TEST(forward_rope)
{
    sbti_rng rng;
    sbti_rng_init(&rng, 4, 0, 0);
    int Ns[] = {1, 7};
    double worst = 0;
    for (size_t hi = 0; hi < N_OF(heads); hi++)
        for (size_t b = 0; b < N_OF(Ns); b++) {
            int nh = heads[hi][0], nkv = heads[hi][1], hd = heads[hi][2], N = Ns[b];
            int row = (nh + 2 * nkv) * hd, half = hd / 2;
            size_t n_all = (size_t)N * row;
            float *x = frand(&rng, n_all, 1.0f), inv[8];
            make_inv_freq(inv, hd);
            int32_t pos[7];
            for (int n = 0; n < N; n++)
                pos[n] = sbti_rng_range(&rng, 0, 4000);
            double *ref = dvec(n_all);
            for (size_t i = 0; i < n_all; i++)
                ref[i] = x[i];
            for (int n = 0; n < N; n++)
                for (int h = 0; h < nh + nkv; h++)
                    for (int i = 0; i < half; i++) {
                        /* the angle rounded to fp32, as backend.h says (and transformers does) */
                        double ang = (float)((double)pos[n] * inv[i]);
                        double c = cos(ang), s = sin(ang);
                        const float *p = x + (size_t)n * row + h * hd;
                        ref[(size_t)n * row + h * hd + i] = p[i] * c - p[i + half] * s;
                        ref[(size_t)n * row + h * hd + i + half] = p[i + half] * c + p[i] * s;
                    }
            float *dx = dev(ACT, n_all, x), *dinv = dev(F32, (size_t)half, inv);
            int32_t *dpos = dev(I32, (size_t)N, NULL);
            ck_assert_int_eq(be->ops->upload(be, dpos, I32, 0, pos, SBTI_F32, (size_t)N), SBT_OK);
            be->ops->rope_fwd(be, dx, dpos, dinv, N, nh, nkv, hd);
            float *y = get(dx, ACT, n_all);
            worst = fmax(worst, rel_err(y, ref, n_all));
            for (int n = 0; n < N; n++) /* the value heads are untouched */
                ck_assert_mem_eq(y + (size_t)n * row + (nh + nkv) * hd,
                                 x + (size_t)n * row + (nh + nkv) * hd, (size_t)nkv * hd * 4);
            free(y);
            free(x);
            free(ref);
            dfree(dx);
            dfree(dinv);
            dfree(dpos);
        }
    check_fwd("rope_fwd", worst);
}
END_TEST

START_TEST(forward_attention)
{
    sbti_rng rng;
    sbti_rng_init(&rng, 5, 0, 0);
    int BT[][2] = {{2, 7}, {3, 5}, {1, 1}, {2, 33}};
    double worst = 0, worst_lse = 0;
    for (size_t hi = 0; hi < N_OF(heads); hi++)
        for (size_t s = 0; s < N_OF(BT); s++)
            for (int padded = 0; padded < 2; padded++) {
                int nh = heads[hi][0], nkv = heads[hi][1], hd = heads[hi][2];
                int B = BT[s][0], T = BT[s][1], row = (nh + 2 * nkv) * hd;
                size_t nq = (size_t)B * T * row, no = (size_t)B * T * nh * hd;
                size_t nl = (size_t)B * nh * T;
                float *qkv = frand(&rng, nq, 1.5f);
                int32_t len[3];
                for (int b = 0; b < B; b++)
                    len[b] = padded ? sbti_rng_range(&rng, 1, T) : T;
                double *ref = dvec(no), *lref = dvec(nl);
                ref_attention(ref, lref, qkv, padded ? len : NULL, B, T, nh, nkv, hd);
                float *dq = dev(ACT, nq, qkv), *dout = dev(ACT, no, NULL), *dl = dev(F32, nl, NULL);
                int32_t *dlen = dev(I32, (size_t)B, NULL);
                put(dlen, I32, len, (size_t)B);
                be->ops->attention_fwd(be, dout, dl, dq, padded ? dlen : NULL, B, T, nh, nkv, hd);
                float *o = get(dout, ACT, no), *l = get(dl, F32, nl);
                worst = fmax(worst, rel_err(o, ref, no));
                worst_lse = fmax(worst_lse, rel_err(l, lref, nl));
                free(o);
                free(l);
                free(qkv);
                free(ref);
                free(lref);
                dfree(dq);
                dfree(dout);
                dfree(dl);
                dfree(dlen);
            }
    check_fwd("attention_fwd out", worst);
    check_fwd("attention_fwd lse", worst_lse);
}
END_TEST

START_TEST(forward_swiglu)
{
    sbti_rng rng;
    sbti_rng_init(&rng, 6, 0, 0);
    int Is[] = {5, 33}, Ns[] = {1, 7};
    double worst = 0;
    for (size_t a = 0; a < N_OF(Is); a++)
        for (size_t b = 0; b < N_OF(Ns); b++) {
            int I = Is[a], N = Ns[b];
            size_t n2 = (size_t)N * 2 * I, n1 = (size_t)N * I;
            float *gu = frand(&rng, n2, 6.0f);
            double *ref = dvec(n1);
            for (int n = 0; n < N; n++)
                for (int i = 0; i < I; i++) {
                    double g = gu[(size_t)n * 2 * I + i], u = gu[(size_t)n * 2 * I + I + i];
                    ref[(size_t)n * I + i] = g / (1.0 + exp(-g)) * u;
                }
            float *dgu = dev(ACT, n2, gu), *dy = dev(ACT, n1, NULL);
            be->ops->swiglu_fwd(be, dy, dgu, N, I);
            float *y = get(dy, ACT, n1);
            worst = fmax(worst, rel_err(y, ref, n1));
            free(y);
            free(gu);
            free(ref);
            dfree(dgu);
            dfree(dy);
        }
    check_fwd("swiglu_fwd", worst);
}
END_TEST

/* ==== 2. backwards against finite differences ============================================ */

typedef struct emb_ctx {
    int N, C, V;
    const int32_t *tok;
    const float *R;
} emb_ctx;

static double emb_loss(void *p, const float *wte)
{
    emb_ctx *c = p;
    float *dw = dev(PARAM, (size_t)c->V * c->C, wte), *dy = dev(ACT, (size_t)c->N * c->C, NULL);
    int32_t *dt = dev(I32, (size_t)c->N, NULL);
    put(dt, I32, c->tok, (size_t)c->N);
    be->ops->embedding_fwd(be, dy, dt, dw, c->N, c->C);
    float *y = get(dy, ACT, (size_t)c->N * c->C);
    double L = dot_d(y, c->R, (size_t)c->N * c->C);
    free(y);
    dfree(dw);
    dfree(dy);
    dfree(dt);
    return L;
}

START_TEST(backward_embedding)
{
    sbti_rng rng;
    sbti_rng_init(&rng, 10, 0, 0);
    emb_ctx c = {.N = 9, .C = 33, .V = 6};
    int32_t tok[9]; /* ids repeat: their gradients add up */
    for (int n = 0; n < c.N; n++)
        tok[n] = (int32_t)sbti_rng_below(&rng, 4);
    size_t nw = (size_t)c.V * c.C, ny = (size_t)c.N * c.C;
    float *wte = frand(&rng, nw, 1.0f), *R = frand(&rng, ny, 1.0f);
    c.tok = tok;
    c.R = R;
    float *ddw = dev(GRAD, nw, NULL), *dR = dev(ACT, ny, R);
    int32_t *dt = dev(I32, (size_t)c.N, NULL);
    put(dt, I32, tok, (size_t)c.N);
    be->ops->embedding_bwd(be, ddw, dR, dt, c.N, c.C);
    float *g = get(ddw, GRAD, nw);
    fd_check("embedding_bwd dwte", emb_loss, &c, wte, g, nw, &rng);
    free(g);
    free(wte);
    free(R);
    dfree(ddw);
    dfree(dR);
    dfree(dt);
}
END_TEST

typedef struct rms_ctx {
    int N, C, vary; /* vary: 0 the input, 1 the weight */
    float eps;
    const float *x, *w, *R;
} rms_ctx;

static double rms_loss(void *p, const float *v)
{
    rms_ctx *c = p;
    size_t NC = (size_t)c->N * c->C;
    float *dx = dev(ACT, NC, c->vary == 0 ? v : c->x);
    float *dw = dev(PARAM, (size_t)c->C, c->vary == 1 ? v : c->w), *dy = dev(ACT, NC, NULL);
    be->ops->rmsnorm_fwd(be, dy, NULL, dx, dw, c->N, c->C, c->eps);
    float *y = get(dy, ACT, NC);
    double L = dot_d(y, c->R, NC);
    free(y);
    dfree(dx);
    dfree(dw);
    dfree(dy);
    return L;
}

START_TEST(backward_rmsnorm)
{
    sbti_rng rng;
    sbti_rng_init(&rng, 11, 0, 0);
    int shapes[][2] = {{1, 5}, {7, 33}, {4, 64}};
    for (size_t s = 0; s < N_OF(shapes); s++) {
        rms_ctx c = {.N = shapes[s][0], .C = shapes[s][1], .eps = 1e-5f};
        size_t NC = (size_t)c.N * c.C;
        float *x = frand(&rng, NC, 1.0f), *w = frand(&rng, (size_t)c.C, 1.0f);
        float *R = frand(&rng, NC, 1.0f);
        c.x = x;
        c.w = w;
        c.R = R;
        float *dx = dev(ACT, NC, x), *dw = dev(PARAM, (size_t)c.C, w), *dy = dev(ACT, NC, NULL);
        float *dr = dev(F32, (size_t)c.N, NULL), *dR = dev(ACT, NC, R);
        float *ddx = dev(ACT, NC, NULL), *ddw = dev(GRAD, (size_t)c.C, NULL);
        be->ops->rmsnorm_fwd(be, dy, dr, dx, dw, c.N, c.C, c.eps);
        be->ops->rmsnorm_bwd(be, ddx, ddw, dR, dx, dw, dr, c.N, c.C);
        float *gx = get(ddx, ACT, NC), *gw = get(ddw, GRAD, (size_t)c.C);
        char what[64];
        snprintf(what, sizeof what, "rmsnorm_bwd dinp N=%d C=%d", c.N, c.C);
        c.vary = 0;
        fd_check(what, rms_loss, &c, x, gx, NC, &rng);
        snprintf(what, sizeof what, "rmsnorm_bwd dw N=%d C=%d", c.N, c.C);
        c.vary = 1;
        fd_check(what, rms_loss, &c, w, gw, (size_t)c.C, &rng);
        free(gx);
        free(gw);
        free(x);
        free(w);
        free(R);
        dfree(dx);
        dfree(dw);
        dfree(dy);
        dfree(dr);
        dfree(dR);
        dfree(ddx);
        dfree(ddw);
    }
}
END_TEST

typedef struct mm_ctx {
    int N, K, M, vary; /* 0: inp, 1: w */
    const float *x, *w, *R;
} mm_ctx;

static double mm_loss(void *p, const float *v)
{
    mm_ctx *c = p;
    size_t NK = (size_t)c->N * c->K, MK = (size_t)c->M * c->K, NM = (size_t)c->N * c->M;
    float *dx = dev(ACT, NK, c->vary == 0 ? v : c->x), *dw = dev(PARAM, MK, c->vary == 1 ? v : c->w);
    float *dy = dev(ACT, NM, NULL);
    be->ops->matmul_fwd(be, dy, dx, dw, NULL, c->N, c->K, c->M);
    float *y = get(dy, ACT, NM);
    double L = dot_d(y, c->R, NM);
    free(y);
    dfree(dx);
    dfree(dw);
    dfree(dy);
    return L;
}

START_TEST(backward_matmul)
{
    sbti_rng rng;
    sbti_rng_init(&rng, 12, 0, 0);
    int shapes[][3] = {{1, 5, 7}, {7, 33, 5}, {13, 37, 70}, {5, 300, 9}};
    for (size_t s = 0; s < N_OF(shapes); s++) {
        mm_ctx c = {.N = shapes[s][0], .K = shapes[s][1], .M = shapes[s][2]};
        size_t NK = (size_t)c.N * c.K, MK = (size_t)c.M * c.K, NM = (size_t)c.N * c.M;
        float *x = frand(&rng, NK, 1.0f), *w = frand(&rng, MK, 1.0f), *R = frand(&rng, NM, 1.0f);
        c.x = x;
        c.w = w;
        c.R = R;
        float *dx = dev(ACT, NK, x), *dw = dev(PARAM, MK, w), *dR = dev(ACT, NM, R);
        float *ddx = dev(ACT, NK, NULL), *ddw = dev(GRAD, MK, NULL);
        float *junk = frand(&rng, NK, 100.0f); /* dinp is overwritten, not added to */
        put(ddx, ACT, junk, NK);
        be->ops->matmul_bwd(be, ddx, ddw, dR, dx, dw, c.N, c.K, c.M);
        float *gx = get(ddx, ACT, NK), *gw = get(ddw, GRAD, MK);
        char what[64];
        snprintf(what, sizeof what, "matmul_bwd dinp N=%d K=%d M=%d", c.N, c.K, c.M);
        c.vary = 0;
        fd_check(what, mm_loss, &c, x, gx, NK, &rng);
        snprintf(what, sizeof what, "matmul_bwd dw N=%d K=%d M=%d", c.N, c.K, c.M);
        c.vary = 1;
        fd_check(what, mm_loss, &c, w, gw, MK, &rng);
        /* each half alone (the other NULL) gives the same numbers */
        float *ddx2 = dev(ACT, NK, NULL), *ddw2 = dev(GRAD, MK, NULL);
        be->ops->matmul_bwd(be, ddx2, NULL, dR, dx, dw, c.N, c.K, c.M);
        be->ops->matmul_bwd(be, NULL, ddw2, dR, dx, dw, c.N, c.K, c.M);
        float *gx2 = get(ddx2, ACT, NK), *gw2 = get(ddw2, GRAD, MK);
        ck_assert_mem_eq(gx2, gx, NK * sizeof(float));
        ck_assert_mem_eq(gw2, gw, MK * sizeof(float));
        free(gx2);
        free(gw2);
        dfree(ddx2);
        dfree(ddw2);
        free(junk);
        free(gx);
        free(gw);
        free(x);
        free(w);
        free(R);
        dfree(dx);
        dfree(dw);
        dfree(dR);
        dfree(ddx);
        dfree(ddw);
    }
}
END_TEST

typedef struct rope_ctx {
    int N, nh, nkv, hd;
    const int32_t *pos;
    const float *inv, *R;
} rope_ctx;

static double rope_loss(void *p, const float *x)
{
    rope_ctx *c = p;
    size_t n = (size_t)c->N * (c->nh + 2 * c->nkv) * c->hd;
    float *dx = dev(ACT, n, x), *dinv = dev(F32, (size_t)c->hd / 2, c->inv);
    int32_t *dpos = dev(I32, (size_t)c->N, NULL);
    put(dpos, I32, c->pos, (size_t)c->N);
    be->ops->rope_fwd(be, dx, dpos, dinv, c->N, c->nh, c->nkv, c->hd);
    float *y = get(dx, ACT, n);
    double L = dot_d(y, c->R, n);
    free(y);
    dfree(dx);
    dfree(dinv);
    dfree(dpos);
    return L;
}

START_TEST(backward_rope)
{
    sbti_rng rng;
    sbti_rng_init(&rng, 13, 0, 0);
    for (size_t hi = 0; hi < N_OF(heads); hi++) {
        rope_ctx c = {.N = 7, .nh = heads[hi][0], .nkv = heads[hi][1], .hd = heads[hi][2]};
        size_t n = (size_t)c.N * (c.nh + 2 * c.nkv) * c.hd;
        float inv[8], *x = frand(&rng, n, 1.0f), *R = frand(&rng, n, 1.0f);
        int32_t pos[7];
        make_inv_freq(inv, c.hd);
        for (int i = 0; i < c.N; i++)
            pos[i] = sbti_rng_range(&rng, 0, 100);
        c.pos = pos;
        c.inv = inv;
        c.R = R;
        float *dR = dev(ACT, n, R), *dinv = dev(F32, (size_t)c.hd / 2, inv);
        int32_t *dpos = dev(I32, (size_t)c.N, NULL);
        put(dpos, I32, pos, (size_t)c.N);
        be->ops->rope_bwd(be, dR, dpos, dinv, c.N, c.nh, c.nkv, c.hd);
        float *g = get(dR, ACT, n);
        char what[64];
        snprintf(what, sizeof what, "rope_bwd nh=%d nkv=%d hd=%d", c.nh, c.nkv, c.hd);
        fd_check(what, rope_loss, &c, x, g, n, &rng);
        free(g);
        free(x);
        free(R);
        dfree(dR);
        dfree(dinv);
        dfree(dpos);
    }
}
END_TEST

typedef struct att_ctx {
    int B, T, nh, nkv, hd;
    const int32_t *len; /* host, or NULL */
    const float *R;
} att_ctx;

static double att_loss(void *p, const float *qkv)
{
    att_ctx *c = p;
    size_t nq = (size_t)c->B * c->T * (c->nh + 2 * c->nkv) * c->hd;
    size_t no = (size_t)c->B * c->T * c->nh * c->hd;
    float *dq = dev(ACT, nq, qkv), *dy = dev(ACT, no, NULL);
    int32_t *dlen = dev(I32, (size_t)c->B, NULL);
    if (c->len)
        put(dlen, I32, c->len, (size_t)c->B);
    be->ops->attention_fwd(be, dy, NULL, dq, c->len ? dlen : NULL, c->B, c->T, c->nh, c->nkv,
                           c->hd);
    float *y = get(dy, ACT, no);
    double L = dot_d(y, c->R, no);
    free(y);
    dfree(dq);
    dfree(dy);
    dfree(dlen);
    return L;
}

/* dqkv of attention_bwd for dout = R at qkv (forward run first for out and lse). */
static float *att_grad(const att_ctx *c, const float *qkv, float junk)
{
    size_t nq = (size_t)c->B * c->T * (c->nh + 2 * c->nkv) * c->hd;
    size_t no = (size_t)c->B * c->T * c->nh * c->hd, nl = (size_t)c->B * c->nh * c->T;
    float *dq = dev(ACT, nq, qkv), *dy = dev(ACT, no, NULL), *dl = dev(F32, nl, NULL);
    float *dR = dev(ACT, no, c->R), *ddq = dev(ACT, nq, NULL);
    int32_t *dlen = dev(I32, (size_t)c->B, NULL);
    if (c->len)
        put(dlen, I32, c->len, (size_t)c->B);
    float *fill = fvec(nq); /* dqkv is overwritten: start it from junk */
    for (size_t i = 0; i < nq; i++)
        fill[i] = junk;
    put(ddq, ACT, fill, nq);
    free(fill);
    const int32_t *l = c->len ? dlen : NULL;
    be->ops->attention_fwd(be, dy, dl, dq, l, c->B, c->T, c->nh, c->nkv, c->hd);
    be->ops->attention_bwd(be, ddq, dR, dq, dy, dl, l, c->B, c->T, c->nh, c->nkv, c->hd);
    float *g = get(ddq, ACT, nq);
    dfree(dq);
    dfree(dy);
    dfree(dl);
    dfree(dR);
    dfree(ddq);
    dfree(dlen);
    return g;
}

START_TEST(backward_attention)
{
    sbti_rng rng;
    sbti_rng_init(&rng, 14, 0, 0);
    int BT[][2] = {{2, 7}, {3, 5}, {1, 1}};
    for (size_t hi = 0; hi < N_OF(heads); hi++)
        for (size_t s = 0; s < N_OF(BT); s++)
            for (int padded = 0; padded < 2; padded++) {
                att_ctx c = {.B = BT[s][0], .T = BT[s][1], .nh = heads[hi][0],
                             .nkv = heads[hi][1], .hd = heads[hi][2]};
                size_t nq = (size_t)c.B * c.T * (c.nh + 2 * c.nkv) * c.hd;
                size_t no = (size_t)c.B * c.T * c.nh * c.hd;
                int32_t len[3];
                for (int b = 0; b < c.B; b++) /* one row always padded, when T allows */
                    len[b] = b == 0 ? (c.T + 1) / 2 : sbti_rng_range(&rng, 1, c.T);
                c.len = padded ? len : NULL;
                float *qkv = frand(&rng, nq, 1.0f), *R = frand(&rng, no, 1.0f);
                c.R = R;
                float *g = att_grad(&c, qkv, 1e30f);
                char what[80];
                snprintf(what, sizeof what, "attention_bwd B=%d T=%d nh=%d nkv=%d hd=%d%s", c.B,
                         c.T, c.nh, c.nkv, c.hd, padded ? " padded" : "");
                fd_check(what, att_loss, &c, qkv, g, nq, &rng);
                if (padded) { /* padding keys get no gradient (nothing attends them) */
                    int row = (c.nh + 2 * c.nkv) * c.hd;
                    for (int b = 0; b < c.B; b++)
                        for (int j = len[b]; j < c.T; j++)
                            for (int e = c.nh * c.hd; e < row; e++)
                                ck_assert_msg(g[(size_t)(b * c.T + j) * row + e] == 0.0f,
                                              "%s: padding key %d of row %d has a gradient", what,
                                              j, b);
                }
                free(g);
                free(qkv);
                free(R);
            }
}
END_TEST

typedef struct swi_ctx {
    int N, I;
    const float *R;
} swi_ctx;

static double swi_loss(void *p, const float *gu)
{
    swi_ctx *c = p;
    size_t n2 = (size_t)c->N * 2 * c->I, n1 = (size_t)c->N * c->I;
    float *dgu = dev(ACT, n2, gu), *dy = dev(ACT, n1, NULL);
    be->ops->swiglu_fwd(be, dy, dgu, c->N, c->I);
    float *y = get(dy, ACT, n1);
    double L = dot_d(y, c->R, n1);
    free(y);
    dfree(dgu);
    dfree(dy);
    return L;
}

START_TEST(backward_swiglu)
{
    sbti_rng rng;
    sbti_rng_init(&rng, 15, 0, 0);
    int shapes[][2] = {{1, 5}, {7, 33}};
    for (size_t s = 0; s < N_OF(shapes); s++) {
        swi_ctx c = {.N = shapes[s][0], .I = shapes[s][1]};
        size_t n2 = (size_t)c.N * 2 * c.I, n1 = (size_t)c.N * c.I;
        float *gu = frand(&rng, n2, 3.0f), *R = frand(&rng, n1, 1.0f);
        c.R = R;
        float *dgu = dev(ACT, n2, gu), *dR = dev(ACT, n1, R), *ddgu = dev(ACT, n2, NULL);
        float *junk = frand(&rng, n2, 100.0f);
        put(ddgu, ACT, junk, n2);
        be->ops->swiglu_bwd(be, ddgu, dR, dgu, c.N, c.I);
        float *g = get(ddgu, ACT, n2);
        char what[64];
        snprintf(what, sizeof what, "swiglu_bwd N=%d I=%d", c.N, c.I);
        fd_check(what, swi_loss, &c, gu, g, n2, &rng);
        free(junk);
        free(g);
        free(gu);
        free(R);
        dfree(dgu);
        dfree(dR);
        dfree(ddgu);
    }
}
END_TEST

typedef struct ce_ctx {
    int N, V;
    float dscale;
    const int32_t *tgt;
} ce_ctx;

/* dscale * sum of the row losses: what the gradient written with dscale is the gradient of. */
static double ce_loss(void *p, const float *logits)
{
    ce_ctx *c = p;
    size_t nv = (size_t)c->N * c->V;
    float *dl = dev(ACT, nv, logits), *dloss = dev(F32, (size_t)c->N, NULL);
    int32_t *dt = dev(I32, (size_t)c->N, NULL);
    put(dt, I32, c->tgt, (size_t)c->N);
    be->ops->cross_entropy(be, dloss, dl, dt, c->N, c->V, 0.0f);
    float *loss = get(dloss, F32, (size_t)c->N);
    double L = 0;
    for (int n = 0; n < c->N; n++)
        L += c->dscale * (double)loss[n];
    free(loss);
    dfree(dl);
    dfree(dloss);
    dfree(dt);
    return L;
}

START_TEST(backward_cross_entropy)
{
    sbti_rng rng;
    sbti_rng_init(&rng, 16, 0, 0);
    int shapes[][2] = {{1, 5}, {7, 33}, {6, 300}};
    for (size_t s = 0; s < N_OF(shapes); s++) {
        ce_ctx c = {.N = shapes[s][0], .V = shapes[s][1], .dscale = 0.7f};
        size_t nv = (size_t)c.N * c.V;
        int32_t tgt[7];
        for (int n = 0; n < c.N; n++) /* every third row ignored */
            tgt[n] = n % 3 == 2 ? -100 : (int32_t)sbti_rng_below(&rng, (uint32_t)c.V);
        c.tgt = tgt;
        float *x = frand(&rng, nv, 3.0f);
        float *dl = dev(ACT, nv, x);
        int32_t *dt = dev(I32, (size_t)c.N, NULL);
        put(dt, I32, tgt, (size_t)c.N);
        be->ops->cross_entropy(be, NULL, dl, dt, c.N, c.V, c.dscale); /* loss may be NULL */
        float *g = get(dl, ACT, nv);
        char what[64];
        snprintf(what, sizeof what, "cross_entropy grad N=%d V=%d", c.N, c.V);
        fd_check(what, ce_loss, &c, x, g, nv, &rng);
        free(g);
        free(x);
        dfree(dl);
        dfree(dt);
    }
}
END_TEST

/* ==== 3. accumulation and overwrite semantics ============================================ */

START_TEST(gradients_accumulate)
{
    sbti_rng rng;
    sbti_rng_init(&rng, 20, 0, 0);
    int N = 7, K = 33, M = 70, C = 33, V = 5;
    size_t NK = (size_t)N * K, MK = (size_t)M * K, NM = (size_t)N * M, NC = (size_t)N * C;

    /* matmul: a second call adds the same dw again (exactly: the sum is made, then added) */
    float *x = frand(&rng, NK, 1.0f), *w = frand(&rng, MK, 1.0f), *R = frand(&rng, NM, 1.0f);
    float *dx = dev(ACT, NK, x), *dw = dev(PARAM, MK, w), *dR = dev(ACT, NM, R);
    float *ddw = dev(GRAD, MK, NULL);
    be->ops->matmul_bwd(be, NULL, ddw, dR, dx, dw, N, K, M);
    float *once = get(ddw, GRAD, MK);
    be->ops->matmul_bwd(be, NULL, ddw, dR, dx, dw, N, K, M);
    float *twice = get(ddw, GRAD, MK);
    for (size_t i = 0; i < MK; i++)
        once[i] *= 2;
    ck_assert_mem_eq(twice, once, MK * sizeof(float));
    free(once);
    free(twice);

    /* rmsnorm: dw doubles; dinp is added to what is there */
    float *xr = frand(&rng, NC, 1.0f), *wr = frand(&rng, (size_t)C, 1.0f), *Rr = frand(&rng, NC, 1.0f);
    float *d0 = frand(&rng, NC, 1.0f);
    float *dxr = dev(ACT, NC, xr), *dwr = dev(PARAM, (size_t)C, wr), *dRr = dev(ACT, NC, Rr);
    float *dy = dev(ACT, NC, NULL), *drs = dev(F32, (size_t)N, NULL);
    float *ddx0 = dev(ACT, NC, NULL), *ddx1 = dev(ACT, NC, d0), *ddwr = dev(GRAD, (size_t)C, NULL);
    be->ops->rmsnorm_fwd(be, dy, drs, dxr, dwr, N, C, 1e-6f);
    be->ops->rmsnorm_bwd(be, ddx0, ddwr, dRr, dxr, dwr, drs, N, C);
    float *gw1 = get(ddwr, GRAD, (size_t)C), *g0 = get(ddx0, ACT, NC);
    be->ops->rmsnorm_bwd(be, ddx1, ddwr, dRr, dxr, dwr, drs, N, C);
    float *gw2 = get(ddwr, GRAD, (size_t)C), *g1 = get(ddx1, ACT, NC);
    for (int c = 0; c < C; c++)
        gw1[c] *= 2;
    ck_assert_mem_eq(gw2, gw1, (size_t)C * sizeof(float));
    for (size_t i = 0; i < NC; i++) /* d0 + g, in fp32 like the op */
        g0[i] += d0[i];
    ck_assert_mem_eq(g1, g0, NC * sizeof(float));

    /* embedding: two calls give twice the gradient (tokens repeat) */
    int32_t tok[7] = {1, 3, 1, 0, 3, 3, 4};
    float *wte = frand(&rng, (size_t)V * C, 1.0f);
    float *dwte = dev(PARAM, (size_t)V * C, wte), *ddwte = dev(GRAD, (size_t)V * C, NULL);
    int32_t *dt = dev(I32, (size_t)N, NULL);
    put(dt, I32, tok, (size_t)N);
    be->ops->embedding_bwd(be, ddwte, dRr, dt, N, C);
    float *e1 = get(ddwte, GRAD, (size_t)V * C);
    be->ops->embedding_bwd(be, ddwte, dRr, dt, N, C);
    float *e2 = get(ddwte, GRAD, (size_t)V * C);
    double *e1x2 = dvec((size_t)V * C);
    for (size_t i = 0; i < (size_t)V * C; i++)
        e1x2[i] = 2.0 * e1[i];
    double err = rel_err(e2, e1x2, (size_t)V * C);
    note("embedding_bwd twice vs 2x once", err);
    ck_assert_msg(err < 1e-6, "embedding_bwd twice: %g", err);
    for (int c = 0; c < C; c++) /* an unused id (2) gets nothing */
        ck_assert(e2[2 * C + c] == 0.0f);

    free(e1);
    free(e2);
    free(e1x2);
    free(wte);
    dfree(dwte);
    dfree(ddwte);
    dfree(dt);
    free(gw1);
    free(gw2);
    free(g0);
    free(g1);
    free(xr);
    free(wr);
    free(Rr);
    free(d0);
    dfree(dxr);
    dfree(dwr);
    dfree(dRr);
    dfree(dy);
    dfree(drs);
    dfree(ddx0);
    dfree(ddx1);
    dfree(ddwr);
    free(x);
    free(w);
    free(R);
    dfree(dx);
    dfree(dw);
    dfree(dR);
    dfree(ddw);
}
END_TEST

/* ==== 4. the paged KV cache against dense attention ====================================== */

START_TEST(paged_attention_equals_dense)
{
    sbti_rng rng;
    sbti_rng_init(&rng, 30, 0, 0);
    enum { S = 3, T = 13, PAGE = 4, MAXP = 4, POOL = 14 };
    int lens[S] = {5, 13, 9}; /* each sequence: lens-1 tokens of prefill, then one decoded */
    double worst = 0;
    for (size_t hi = 0; hi < N_OF(heads); hi++) {
        int nh = heads[hi][0], nkv = heads[hi][1], hd = heads[hi][2];
        int row = (nh + 2 * nkv) * hd, orow = nh * hd;
        size_t nq = (size_t)S * T * row, no = (size_t)S * T * orow;
        /* The dense reference: S padded rows of T tokens. */
        float *qkv = frand(&rng, nq, 1.5f);
        float *dq = dev(ACT, nq, qkv), *dout = dev(ACT, no, NULL);
        int32_t *dlen = dev(I32, S, NULL);
        put(dlen, I32, lens, S);
        be->ops->attention_fwd(be, dout, NULL, dq, dlen, S, T, nh, nkv, hd);
        float *dense = get(dout, ACT, no);

        /* Pages: a shuffled pool, handed out to the sequences in turn. */
        int32_t perm[POOL], pages[S * MAXP];
        for (int i = 0; i < POOL; i++)
            perm[i] = i;
        for (int i = POOL - 1; i > 0; i--) {
            int j = (int)sbti_rng_below(&rng, (uint32_t)i + 1);
            int32_t t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        for (int i = 0; i < S * MAXP; i++)
            pages[i] = -1; /* unused entries: never read */
        for (int p = 0, next = 0; p < MAXP; p++)
            for (int s = 0; s < S; s++)
                if (p * PAGE < lens[s])
                    pages[s * MAXP + p] = perm[next++];
        float *kc = dev(ACT, (size_t)POOL * PAGE * nkv * hd, NULL);
        float *vc = dev(ACT, (size_t)POOL * PAGE * nkv * hd, NULL);
        int32_t *dpages = dev(I32, S * MAXP, NULL);
        put(dpages, I32, pages, S * MAXP);

        for (int phase = 0; phase < 2; phase++) { /* 0: prefill (all but the last), 1: decode */
            /* The tokens of this phase, sequences interleaved: gather their qkv rows. */
            int32_t seq[S * T], pos[S * T], slot[S * T], src[S * T];
            int N = 0;
            for (int s = 0; s < S; s++) {
                int p0 = phase == 0 ? 0 : lens[s] - 1, p1 = phase == 0 ? lens[s] - 1 : lens[s];
                for (int p = p0; p < p1; p++) {
                    seq[N] = s;
                    pos[N] = p;
                    slot[N] = pages[s * MAXP + p / PAGE] * PAGE + p % PAGE;
                    src[N] = s * T + p;
                    N++;
                }
            }
            float *tq = dev(ACT, (size_t)N * row, NULL), *to = dev(ACT, (size_t)N * orow, NULL);
            int32_t *dseq = dev(I32, (size_t)N, NULL), *dpos = dev(I32, (size_t)N, NULL);
            int32_t *dslot = dev(I32, (size_t)N, NULL), *dsrc = dev(I32, (size_t)N, NULL);
            put(dseq, I32, seq, (size_t)N);
            put(dpos, I32, pos, (size_t)N);
            put(dslot, I32, slot, (size_t)N);
            put(dsrc, I32, src, (size_t)N);
            be->ops->gather_rows(be, tq, dq, dsrc, N, row);
            be->ops->kv_store(be, kc, vc, tq, dslot, N, nh, nkv, hd);
            be->ops->attention_paged(be, to, tq, kc, vc, dseq, dpos, dpages, MAXP, PAGE, N, nh,
                                     nkv, hd);
            float *paged = get(to, ACT, (size_t)N * orow);
            double *ref = dvec((size_t)N * orow);
            for (int n = 0; n < N; n++)
                for (int e = 0; e < orow; e++)
                    ref[(size_t)n * orow + e] = dense[(size_t)src[n] * orow + e];
            worst = fmax(worst, rel_err(paged, ref, (size_t)N * orow));
            for (int n = 0; n < N; n++) /* the same function computes both: the same bits */
                ck_assert_msg(memcmp(paged + (size_t)n * orow, dense + (size_t)src[n] * orow,
                                     (size_t)orow * sizeof(float)) == 0,
                              "paged attention differs from dense: phase %d, seq %d, pos %d",
                              phase, seq[n], pos[n]);
            free(paged);
            free(ref);
            dfree(tq);
            dfree(to);
            dfree(dseq);
            dfree(dpos);
            dfree(dslot);
            dfree(dsrc);
        }
        free(qkv);
        free(dense);
        dfree(dq);
        dfree(dout);
        dfree(dlen);
        dfree(kc);
        dfree(vc);
        dfree(dpages);
    }
    note("attention_paged vs attention_fwd", worst);
    ck_assert(worst == 0.0);
}
END_TEST

/* ==== 5. AdamW =========================================================================== */

/* torch's _single_tensor_adamw in double, from the same fp32 inputs. */
static void ref_adamw(double *p, double *m, double *v, const float *g, size_t n,
                      const sbti_adamw_args *a)
{
    double lr = a->lr, b1 = a->beta1, b2 = a->beta2, step = (double)a->step;
    double bc1 = 1.0 - pow(b1, step), bc2_sqrt = sqrt(1.0 - pow(b2, step));
    for (size_t i = 0; i < n; i++) {
        double gi = (double)g[i] * a->grad_scale;
        p[i] *= 1.0 - lr * a->weight_decay;
        m[i] = b1 * m[i] + (1.0 - b1) * gi;
        v[i] = b2 * v[i] + (1.0 - b2) * gi * gi;
        p[i] -= lr / bc1 * m[i] / (sqrt(v[i]) / bc2_sqrt + a->eps);
    }
}

START_TEST(adamw_matches_torch_formula)
{
    sbti_rng rng;
    sbti_rng_init(&rng, 40, 0, 0);
    const size_t n = 37;
    float wds[] = {0.1f, 0.0f};
    float *final[2] = {NULL, NULL};
    for (int wi = 0; wi < 2; wi++) {
        sbti_adamw_args a = {.lr = 1e-2f, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f,
                             .weight_decay = wds[wi], .grad_scale = 0.5f};
        sbti_rng_init(&rng, 40, 1, 0); /* the same parameters and gradients for both */
        float *p0 = frand(&rng, n, 1.0f);
        double *rp = dvec(n), *rm = dvec(n), *rv = dvec(n);
        for (size_t i = 0; i < n; i++)
            rp[i] = p0[i];
        float *dp = dev(PARAM, n, p0), *dg = dev(GRAD, n, NULL);
        float *dm = dev(F32, n, NULL), *dv = dev(F32, n, NULL);
        for (int step = 1; step <= 3; step++) {
            float *g = frand(&rng, n, 2.0f);
            g[3] = 0.0f; /* a zero gradient: m, v stay 0, the update is eps-guarded */
            put(dg, GRAD, g, n);
            a.step = step;
            be->ops->adamw(be, dp, NULL, dg, dm, dv, n, &a);
            ref_adamw(rp, rm, rv, g, n, &a);
            free(g);
        }
        float *p = get(dp, PARAM, n), *m = get(dm, F32, n), *v = get(dv, F32, n);
        double ep = rel_err(p, rp, n), em = rel_err(m, rm, n), ev = rel_err(v, rv, n);
        char what[64];
        snprintf(what, sizeof what, "adamw 3 steps wd=%g: param", (double)wds[wi]);
        note(what, ep);
        note("adamw 3 steps: m", em);
        note("adamw 3 steps: v", ev);
        ck_assert_msg(ep < 1e-6 && em < 1e-6 && ev < 1e-6, "adamw: param %g, m %g, v %g", ep, em,
                      ev);
        /* the parameter changed by ~lr per step, not by rounding */
        ck_assert(rel_err_f(p, p0, n) > 1e-3);
        if (wi == 1) /* without decay, element 3 (zero gradients throughout) did not move */
            ck_assert(p[3] == p0[3]);
        else         /* with decay it shrank by (1 - lr wd)^3 */
            ck_assert(fabs(p[3] - p0[3] * pow(1 - 1e-2 * 0.1, 3)) < 1e-6);
        final[wi] = p;
        free(m);
        free(v);
        free(p0);
        free(rp);
        free(rm);
        free(rv);
        dfree(dp);
        dfree(dg);
        dfree(dm);
        dfree(dv);
    }
    ck_assert(memcmp(final[0], final[1], n * sizeof(float)) != 0); /* decay was applied */
    free(final[0]);
    free(final[1]);
}
END_TEST

/* ==== 6. cross-entropy invariants ======================================================== */

START_TEST(cross_entropy_invariants)
{
    sbti_rng rng;
    sbti_rng_init(&rng, 50, 0, 0);
    enum { N = 7, V = 33 };
    float *x = frand(&rng, (size_t)N * V, 4.0f);
    for (int i = 0; i < V; i++) /* row 1: huge logits, still finite */
        x[V + i] += 1000.0f;
    int32_t tgt[N] = {3, 0, -1, 32, -100, 7, 7};
    double ref[N], worst = 0, worst_sum = 0;
    for (int n = 0; n < N; n++) {
        const float *r = x + (size_t)n * V;
        double max = -INFINITY, s = 0;
        for (int i = 0; i < V; i++)
            max = fmax(max, r[i]);
        for (int i = 0; i < V; i++)
            s += exp(r[i] - max);
        ref[n] = tgt[n] < 0 ? 0.0 : max + log(s) - r[tgt[n]];
    }
    float *dl = dev(ACT, (size_t)N * V, x), *dloss = dev(F32, N, NULL);
    int32_t *dt = dev(I32, N, NULL);
    put(dt, I32, tgt, N);
    be->ops->cross_entropy(be, dloss, dl, dt, N, V, 0.0f); /* dscale 0: logits stay */
    float *keep = get(dl, ACT, (size_t)N * V), *loss0 = get(dloss, F32, N);
    ck_assert_mem_eq(keep, x, (size_t)N * V * sizeof(float));
    const float dscale = 1.0f / 5;
    be->ops->cross_entropy(be, dloss, dl, dt, N, V, dscale);
    float *g = get(dl, ACT, (size_t)N * V), *loss = get(dloss, F32, N);
    ck_assert_mem_eq(loss, loss0, N * sizeof(float));
    worst = rel_err(loss, ref, N);
    for (int n = 0; n < N; n++) {
        const float *r = g + (size_t)n * V;
        double s = 0;
        for (int i = 0; i < V; i++)
            s += r[i];
        if (tgt[n] < 0) {
            ck_assert_msg(loss[n] == 0.0f, "ignored row %d has loss %g", n, (double)loss[n]);
            for (int i = 0; i < V; i++)
                ck_assert_msg(r[i] == 0.0f, "ignored row %d has a gradient", n);
        } else {
            ck_assert_msg(r[tgt[n]] < 0, "row %d: the target's gradient is not negative", n);
            worst_sum = fmax(worst_sum, fabs(s) / dscale);
        }
    }
    note("cross_entropy loss vs logsumexp - logit", worst);
    note("cross_entropy |gradient row sum| / dscale", worst_sum);
    ck_assert_msg(worst < 1e-6, "cross_entropy loss: relative error %g", worst);
    ck_assert_msg(worst_sum < 1e-6, "cross_entropy gradient rows sum to %g", worst_sum);
    free(keep);
    free(loss0);
    free(g);
    free(loss);
    free(x);
    dfree(dl);
    dfree(dloss);
    dfree(dt);
}
END_TEST

/* ==== 7. determinism across thread counts ================================================ */

/* matmul_bwd (dinp, dw) and attention_bwd's dqkv on a backend of nt threads, concatenated. */
static float *grads_with_threads(int nt, size_t *n_out)
{
    sbti_backend *keep = be;
    ck_assert_int_eq(sbti_backend_cpu_create(&be, nt), SBT_OK);
    sbti_rng rng;
    sbti_rng_init(&rng, 60, 0, 0);
    int N = 37, K = 300, M = 70;
    size_t NK = (size_t)N * K, MK = (size_t)M * K, NM = (size_t)N * M;
    float *x = frand(&rng, NK, 1.0f), *w = frand(&rng, MK, 1.0f), *R = frand(&rng, NM, 1.0f);
    float *dx = dev(ACT, NK, x), *dw = dev(PARAM, MK, w), *dR = dev(ACT, NM, R);
    float *ddx = dev(ACT, NK, NULL), *ddw = dev(GRAD, MK, NULL);
    be->ops->matmul_bwd(be, ddx, ddw, dR, dx, dw, N, K, M);

    int32_t len[3] = {17, 9, 30};
    att_ctx c = {.B = 3, .T = 30, .nh = 4, .nkv = 2, .hd = 8, .len = len};
    size_t nq = (size_t)c.B * c.T * (c.nh + 2 * c.nkv) * c.hd;
    float *qkv = frand(&rng, nq, 1.0f), *Ra = frand(&rng, (size_t)c.B * c.T * c.nh * c.hd, 1.0f);
    c.R = Ra;
    float *ga = att_grad(&c, qkv, 0.0f);

    *n_out = NK + MK + nq;
    float *all = fvec(*n_out), *gx = get(ddx, ACT, NK), *gw = get(ddw, GRAD, MK);
    memcpy(all, gx, NK * sizeof(float));
    memcpy(all + NK, gw, MK * sizeof(float));
    memcpy(all + NK + MK, ga, nq * sizeof(float));
    free(gx);
    free(gw);
    free(ga);
    free(qkv);
    free(Ra);
    free(x);
    free(w);
    free(R);
    dfree(dx);
    dfree(dw);
    dfree(dR);
    dfree(ddx);
    dfree(ddw);
    sbti_backend_destroy(be);
    be = keep;
    return all;
}

START_TEST(same_bits_any_thread_count)
{
    size_t n1, n2, n0;
    float *one = grads_with_threads(1, &n1), *two = grads_with_threads(2, &n2);
    ck_assert_uint_eq(n1, n2);
    ck_assert_msg(memcmp(one, two, n1 * sizeof(float)) == 0, "1 and 2 threads differ");
#ifdef _OPENMP
    /* num_threads 0: OpenMP's default, here set to 3 */
    omp_set_num_threads(3);
    float *three = grads_with_threads(0, &n0);
    ck_assert_msg(memcmp(one, three, n1 * sizeof(float)) == 0, "1 and 3 threads differ");
    free(three);
#else
    (void)n0;
#endif
    free(one);
    free(two);
}
END_TEST

/* ==== 8. memory, transfers, errors ======================================================= */

START_TEST(memory_and_transfers)
{
    ck_assert_str_eq(be->name, "cpu");
    ck_assert_ptr_nonnull(strstr(be->description, "CPU"));
    ck_assert_int_eq(be->master_weights, 0);
    for (int k = 0; k < SBTI_MEM_COUNT; k++)
        ck_assert_uint_eq(be->elem_size[k], 4);

    /* alloc zero-fills and aligns */
    float *a = NULL;
    ck_assert_int_eq(be->ops->alloc(be, (void **)&a, ACT, 100), SBT_OK);
    ck_assert_uint_eq((uintptr_t)a % 64, 0);
    float *h = get(a, ACT, 100);
    for (int i = 0; i < 100; i++)
        ck_assert(h[i] == 0.0f);
    free(h);

    /* BF16 and F16 host data, at an offset */
    const uint16_t bf16[4] = {0x3F80, 0xC020, 0x3E20, 0x0000};  /* 1, -2.5, 0.15625, 0 */
    const uint16_t f16[4] = {0x3C00, 0xC100, 0x7BFF, 0x0001};   /* 1, -2.5, 65504, 2^-24 */
    const float want_bf[4] = {1.0f, -2.5f, 0.15625f, 0.0f}, want_h[4] = {1.0f, -2.5f, 65504.0f,
                                                                        0x1p-24f};
    ck_assert_int_eq(be->ops->upload(be, a, ACT, 10, bf16, SBTI_BF16, 4), SBT_OK);
    ck_assert_int_eq(be->ops->upload(be, a, PARAM, 20, f16, SBTI_F16, 4), SBT_OK);
    float got[4];
    ck_assert_int_eq(be->ops->download(be, got, a, ACT, 10, 4), SBT_OK);
    ck_assert_mem_eq(got, want_bf, sizeof got);
    ck_assert_int_eq(be->ops->download(be, got, a, ACT, 20, 4), SBT_OK);
    ck_assert_mem_eq(got, want_h, sizeof got);
    ck_assert_int_eq(be->ops->download(be, got, a, ACT, 9, 1), SBT_OK); /* untouched */
    ck_assert(got[0] == 0.0f);

    /* int32 */
    int32_t ids[3] = {-7, 0, 123456789}, back[3];
    int32_t *di = NULL;
    ck_assert_int_eq(be->ops->alloc(be, (void **)&di, I32, 3), SBT_OK);
    ck_assert_int_eq(be->ops->upload(be, di, I32, 0, ids, SBTI_BF16, 3), SBT_OK); /* dtype ignored */
    ck_assert_int_eq(be->ops->download(be, back, di, I32, 0, 3), SBT_OK);
    ck_assert_mem_eq(back, ids, sizeof ids);

    /* copy, zero, sbti_at */
    float *b = NULL;
    ck_assert_int_eq(be->ops->alloc(be, (void **)&b, ACT, 100), SBT_OK);
    be->ops->copy(be, b, sbti_at(be, a, ACT, 10), ACT, 4);
    ck_assert_int_eq(be->ops->download(be, got, b, ACT, 0, 4), SBT_OK);
    ck_assert_mem_eq(got, want_bf, sizeof got);
    be->ops->zero(be, b, ACT, 2);
    ck_assert_int_eq(be->ops->download(be, got, b, ACT, 0, 4), SBT_OK);
    ck_assert(got[0] == 0.0f && got[1] == 0.0f && got[2] == 0.15625f);
    ck_assert_int_eq(be->ops->sync(be), SBT_OK);
    ck_assert_int_eq(sbti_backend_check(be), SBT_OK);

    /* sumsq in double */
    double want = 0;
    for (int i = 0; i < 4; i++)
        want += (double)want_h[i] * want_h[i];
    ck_assert(be->ops->sumsq(be, sbti_at(be, a, ACT, 20), 4) == want);

    /* absurd sizes fail cleanly, naming the size */
    void *big = (void *)1;
    sbt_clear_error();
    ck_assert_int_eq(be->ops->alloc(be, &big, ACT, SIZE_MAX / 2), SBT_E_OUT_OF_MEMORY);
    ck_assert_ptr_null(big);
    ck_assert_ptr_nonnull(strstr(sbt_last_error(), "cannot allocate"));
    char num[32];
    snprintf(num, sizeof num, "%zu", SIZE_MAX / 2);
    ck_assert_ptr_nonnull(strstr(sbt_last_error(), num));
    big = (void *)1;
    ck_assert_int_eq(be->ops->alloc(be, &big, GRAD, SIZE_MAX / 8), SBT_E_OUT_OF_MEMORY);
    ck_assert_ptr_null(big);
    ck_assert_int_eq(sbti_backend_check(be), SBT_OK); /* a failed alloc is not a recorded error */

    be->ops->free(be, NULL);
    dfree(a);
    dfree(b);
    dfree(di);
}
END_TEST

START_TEST(recorded_errors)
{
    sbt_clear_error();
    ck_assert_int_eq(sbti_backend_fail(be, SBT_E_BACKEND, "first failure %d", 1), SBT_E_BACKEND);
    ck_assert_str_eq(sbt_last_error(), "first failure 1");
    sbti_backend_fail(be, SBT_E_INTERNAL, "second failure");
    ck_assert_str_eq(sbt_last_error(), "second failure"); /* the thread sees the latest ... */
    sbt_clear_error();
    ck_assert_int_eq(sbti_backend_check(be), SBT_E_BACKEND); /* ... the backend keeps the first */
    ck_assert_ptr_nonnull(strstr(sbt_last_error(), "first failure 1"));
    ck_assert_int_eq(sbti_backend_check(be), SBT_E_BACKEND); /* and keeps it */
    float x[1];
    float *a = dev(ACT, 1, NULL);
    ck_assert_int_eq(be->ops->download(be, x, a, ACT, 0, 1), SBT_E_BACKEND);
    ck_assert_int_eq(be->ops->sync(be), SBT_E_BACKEND);
    dfree(a);

    /* an operation that cannot run records its failure */
    sbti_backend *b2 = NULL;
    ck_assert_int_eq(sbti_backend_cpu_create(&b2, 1), SBT_OK);
    float *lg = NULL;
    int32_t *t = NULL, bad = 5;
    ck_assert_int_eq(b2->ops->alloc(b2, (void **)&lg, ACT, 5), SBT_OK);
    ck_assert_int_eq(b2->ops->alloc(b2, (void **)&t, I32, 1), SBT_OK);
    ck_assert_int_eq(b2->ops->upload(b2, t, I32, 0, &bad, SBTI_F32, 1), SBT_OK);
    b2->ops->cross_entropy(b2, NULL, lg, t, 1, 5, 1.0f); /* target 5 of V = 5 */
    ck_assert_int_eq(sbti_backend_check(b2), SBT_E_INTERNAL);
    ck_assert_ptr_nonnull(strstr(sbt_last_error(), "target 5"));
    b2->ops->free(b2, lg);
    b2->ops->free(b2, t);
    sbti_backend_destroy(b2);
    sbti_backend_destroy(NULL);

    sbti_backend *cuda = (sbti_backend *)1;
    sbt_status st = sbti_backend_cuda_create(&cuda, 0);
    if (st == SBT_E_UNSUPPORTED) {
        ck_assert_ptr_null(cuda);
        ck_assert_str_eq(sbt_last_error(), "this libselfbt was built without CUDA");
    } else if (st == SBT_OK) {
        sbti_backend_destroy(cuda);
    }
}
END_TEST

/* ---- suite ------------------------------------------------------------------------------ */

static Suite *backend_cpu_suite(void)
{
    Suite *s = suite_create("backend_cpu");
    TCase *t = tcase_create("forward");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, forward_embedding_gather);
    tcase_add_test(t, forward_rmsnorm);
    tcase_add_test(t, forward_matmul);
    tcase_add_test(t, forward_rope);
    tcase_add_test(t, forward_attention);
    tcase_add_test(t, forward_swiglu);
    suite_add_tcase(s, t);

    t = tcase_create("backward");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, backward_embedding);
    tcase_add_test(t, backward_rmsnorm);
    tcase_add_test(t, backward_matmul);
    tcase_add_test(t, backward_rope);
    tcase_add_test(t, backward_attention);
    tcase_add_test(t, backward_swiglu);
    tcase_add_test(t, backward_cross_entropy);
    tcase_add_test(t, gradients_accumulate);
    suite_add_tcase(s, t);

    t = tcase_create("decode_optim");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, paged_attention_equals_dense);
    tcase_add_test(t, adamw_matches_torch_formula);
    tcase_add_test(t, cross_entropy_invariants);
    tcase_add_test(t, same_bits_any_thread_count);
    suite_add_tcase(s, t);

    t = tcase_create("memory");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, memory_and_transfers);
    tcase_add_test(t, recorded_errors);
    suite_add_tcase(s, t);
    return s;
}

SBT_CHECK_MAIN(backend_cpu_suite)
