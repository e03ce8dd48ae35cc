/* test_backend_cuda.c — every operation of the CUDA backend against the CPU reference backend:
 * fresh random inputs (the seed is printed; SBT_TEST_SEED repeats a run), several shapes with
 * odd sizes, the same bf16-rounded inputs given to both backends, outputs poisoned with NaN
 * before each operation (accumulated outputs start from random values instead), and the
 * relative error ||gpu - cpu|| / ||cpu|| held to what bf16 storage allows (1e-2 for bf16
 * outputs, 1e-4 for fp32 ones). Also: transfers and conversions, determinism of the backward
 * reductions, error recording, and a summary table of every comparison. Exits 77 (skipped)
 * where there is no usable GPU. Runs without fork (a CUDA context does not survive one).
 *
 * SBT_TEST_QUICK=1: smaller shapes, for compute-sanitizer (racecheck slows our shared-memory
 * kernels by orders of magnitude: the full suite ran over 330 s without finishing). Still odd
 * sizes, GQA, padded rows, every op, every attention mode (the chunked cuDNN backward
 * included) and every kernel path (bitonic sort across blocks, staging in several chunks,
 * rows looped over by a block); left out are the big cases (V = 128,257 and 50,000, T = 300 to
 * 1000, B = 16, 3M-element reductions, the 1000 x 4096 norm, the largest GEMMs). */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend/backend.h"
#include "backend/cuda/cuda_hooks.h"
#include "io/safetensors.h"
#include "selfbt/status.h"

#include "gpu_main.h"

#define TOL_BF16 1e-2 /* outputs stored as bf16 */
#define TOL_F32 1e-4  /* outputs stored as fp32 */


#define COUNT(a) (sizeof(a) / sizeof *(a))
/* The shape list of a test: FULL, or SMALL under SBT_TEST_QUICK; sets n to its length. */
#define SHAPES(full, small, n) ((n) = quick ? COUNT(small) : COUNT(full), quick ? (small) : (full))

/* ---- random numbers ------------------------------------------------------------------------ */

static float symmetric(float scale) { return scale * (float)(2.0 * uniform() - 1.0); }

static float *fill_normal(size_t n, float scale)
{
    float *x = malloc((n ? n : 1) * sizeof *x);
    ck_assert_ptr_nonnull(x);
    for (size_t i = 0; i < n; i++)
        x[i] = scale * normal();
    return x;
}

/* ---- the summary table ----------------------------------------------------------------------- */

typedef struct row {
    char op[40], shape[64];
    double err, tol;
} row;

static row *table;
static size_t table_n, table_cap;

static void record(const char *op, const char *shape, double err, double tol)
{
    if (table_n == table_cap) {
        table_cap = table_cap ? 2 * table_cap : 64;
        table = realloc(table, table_cap * sizeof *table);
        ck_assert_ptr_nonnull(table);
    }
    row *r = &table[table_n++];
    snprintf(r->op, sizeof r->op, "%s", op);
    snprintf(r->shape, sizeof r->shape, "%s", shape);
    r->err = err;
    r->tol = tol;
}

static void print_table(void)
{
    printf("\n%-28s %-40s %12s %9s\n", "op", "shape", "rel error", "tol");
    for (size_t i = 0; i < table_n; i++)
        printf("%-28s %-40s %12.3e %9.0e %s\n", table[i].op, table[i].shape, table[i].err,
               table[i].tol, table[i].err <= table[i].tol ? "" : "FAIL");
    fflush(stdout);
}

/* ---- paired buffers: one on each backend ------------------------------------------------------ */

typedef struct pair {
    void *g, *c;
    sbti_mem kind;
    size_t n;
} pair;

static void ok(sbt_status st, const char *what)
{
    ck_assert_msg(st == SBT_OK, "%s: %s (%s)", what, sbt_status_str(st), sbt_last_error());
}

static pair palloc(sbti_mem kind, size_t n)
{
    pair p = {NULL, NULL, kind, n};
    ok(gpu->ops->alloc(gpu, &p.g, kind, n), "gpu alloc");
    ok(cpu->ops->alloc(cpu, &p.c, kind, n), "cpu alloc");
    return p;
}

static void pfree(pair *p)
{
    gpu->ops->free(gpu, p->g);
    cpu->ops->free(cpu, p->c);
    p->g = p->c = NULL;
}

/* Both sides = x (rounded to bf16 first where the GPU stores bf16, so both see one input). */
static void pset(pair *p, const float *x)
{
    if (p->kind == SBTI_MEM_I32) {
        ok(gpu->ops->upload(gpu, p->g, p->kind, 0, x, SBTI_F32, p->n), "gpu upload");
        ok(cpu->ops->upload(cpu, p->c, p->kind, 0, x, SBTI_F32, p->n), "cpu upload");
        return;
    }
    float *r = malloc((p->n ? p->n : 1) * sizeof *r);
    ck_assert_ptr_nonnull(r);
    int bf = gpu->elem_size[p->kind] == 2;
    for (size_t i = 0; i < p->n; i++)
        r[i] = bf ? round_bf16(x[i]) : x[i];
    ok(gpu->ops->upload(gpu, p->g, p->kind, 0, r, SBTI_F32, p->n), "gpu upload");
    ok(cpu->ops->upload(cpu, p->c, p->kind, 0, r, SBTI_F32, p->n), "cpu upload");
    free(r);
}

static void pset_i32(pair *p, const int32_t *x)
{
    ok(gpu->ops->upload(gpu, p->g, SBTI_MEM_I32, 0, x, SBTI_F32, p->n), "gpu upload i32");
    ok(cpu->ops->upload(cpu, p->c, SBTI_MEM_I32, 0, x, SBTI_F32, p->n), "cpu upload i32");
}

static pair pnew(sbti_mem kind, size_t n, float scale)
{
    pair p = palloc(kind, n);
    float *x = fill_normal(n, scale);
    pset(&p, x);
    free(x);
    return p;
}

static pair pnew_i32(const int32_t *x, size_t n)
{
    pair p = palloc(SBTI_MEM_I32, n);
    pset_i32(&p, x);
    return p;
}

/* Outputs that are overwritten start as NaN: an element left unwritten fails the comparison. */
static void poison(pair *p)
{
    float *x = malloc((p->n ? p->n : 1) * sizeof *x);
    ck_assert_ptr_nonnull(x);
    for (size_t i = 0; i < p->n; i++)
        x[i] = NAN;
    ok(gpu->ops->upload(gpu, p->g, p->kind, 0, x, SBTI_F32, p->n), "gpu poison");
    ok(cpu->ops->upload(cpu, p->c, p->kind, 0, x, SBTI_F32, p->n), "cpu poison");
    free(x);
}

static float *download(sbti_backend *be, const void *src, sbti_mem kind, size_t n)
{
    float *x = malloc((n ? n : 1) * sizeof *x);
    ck_assert_ptr_nonnull(x);
    ok(be->ops->download(be, x, src, kind, 0, n), be == gpu ? "gpu download" : "cpu download");
    return x;
}

/* ||a - b|| / ||b||, infinite when a has a NaN or Inf; 0 when both are 0. */
static double rel_err(const float *a, const float *b, size_t n)
{
    double num = 0.0, den = 0.0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(a[i]))
            return INFINITY;
        double d = (double)a[i] - (double)b[i];
        num += d * d;
        den += (double)b[i] * b[i];
    }
    if (den == 0.0)
        return num == 0.0 ? 0.0 : INFINITY;
    return sqrt(num / den);
}

/* Downloads both sides, records and checks the error. */
static double compare(const pair *p, const char *op, const char *shape, double tol)
{
    float *a = download(gpu, p->g, p->kind, p->n), *b = download(cpu, p->c, p->kind, p->n);
    double e = rel_err(a, b, p->n);
    free(a);
    free(b);
    record(op, shape, e, tol);
    ck_assert_msg(e <= tol, "%s %s: relative error %.3e over %.0e", op, shape, e, tol);
    return e;
}

/* The GPU side of p, bit for bit, twice: the second run must equal the first. */
static void same_bits(const float *first, const pair *p, const char *op, const char *shape)
{
    float *again = download(gpu, p->g, p->kind, p->n);
    ck_assert_msg(memcmp(first, again, p->n * sizeof *first) == 0,
                  "%s %s: two runs on the same inputs differ", op, shape);
    free(again);
}

static void sync_both(void)
{
    ok(sbti_backend_check(gpu), "gpu");
    ok(sbti_backend_check(cpu), "cpu");
}

/* ---- transfers ----------------------------------------------------------------------------------- */

static uint16_t to_bf16_bits(float x)
{
    float r = round_bf16(x);
    uint32_t u;
    memcpy(&u, &r, 4);
    return (uint16_t)(u >> 16);
}

/* Half precision bits of x (x chosen representable: integers / 64 in range). */
static uint16_t to_f16_bits(float x)
{
    if (x == 0.0f)
        return 0;
    uint32_t u;
    memcpy(&u, &x, 4);
    uint32_t sign = (u >> 16) & 0x8000u;
    int e = (int)((u >> 23) & 0xff) - 127 + 15;
    uint32_t m = (u >> 13) & 0x3ffu;
    return (uint16_t)(sign | ((uint32_t)e << 10) | m);
}

START_TEST(test_transfers)
{
    /* the last spans several staging chunks (4 MiB: 1M fp32 or 2M 16-bit elements) */
    static const size_t full[] = {1, 7, 1000, 3000001}, small[] = {1, 7, 1000, 2200001};
    size_t count;
    const size_t *ns = SHAPES(full, small, count);
    for (size_t t = 0; t < count; t++) {
        size_t n = ns[t];
        char shape[64];
        snprintf(shape, sizeof shape, "n=%zu", n);
        float *x = malloc(n * sizeof *x), *exp_bf = malloc(n * sizeof *x);
        uint16_t *hb = malloc(n * 2), *hh = malloc(n * 2);
        ck_assert(x && exp_bf && hb && hh);
        for (size_t i = 0; i < n; i++) {
            x[i] = (float)(rand_int(4096) - 2048) / 64.0f; /* exact in f16, not in bf16 */
            exp_bf[i] = round_bf16(x[i]);
            hb[i] = to_bf16_bits(x[i]);
            hh[i] = to_f16_bits(x[i]);
        }
        for (int kind = 0; kind < 4; kind++) {
            int bf = gpu->elem_size[kind] == 2;
            void *d;
            ok(gpu->ops->alloc(gpu, &d, (sbti_mem)kind, n + 5), "alloc");
            for (int dt = 0; dt < 3; dt++) {
                const void *src = dt == 0 ? (const void *)x : dt == 1 ? (const void *)hb : hh;
                ok(gpu->ops->upload(gpu, d, (sbti_mem)kind, 5, src, (sbti_dtype)dt, n), "upload");
                float *y = malloc(n * sizeof *y);
                ck_assert_ptr_nonnull(y);
                ok(gpu->ops->download(gpu, y, d, (sbti_mem)kind, 5, n), "download");
                /* F32 and F16 sources hold x exactly; BF16 holds its rounding. */
                const float *want = (bf || dt == 1) ? exp_bf : x;
                ck_assert_msg(memcmp(y, want, n * sizeof *y) == 0,
                              "upload kind %d from dtype %d, n = %zu: values differ", kind, dt, n);
                free(y);
            }
            float first;
            ok(gpu->ops->download(gpu, &first, d, (sbti_mem)kind, 0, 1), "download");
            ck_assert_msg(first == 0.0f, "alloc is not zero-filled");
            /* copy, then zero */
            void *e;
            ok(gpu->ops->alloc(gpu, &e, (sbti_mem)kind, n), "alloc");
            gpu->ops->copy(gpu, e, sbti_at(gpu, d, (sbti_mem)kind, 5), (sbti_mem)kind, n);
            float *y = download(gpu, e, (sbti_mem)kind, n); /* d holds the F16 upload */
            ck_assert_msg(memcmp(y, bf ? exp_bf : x, n * sizeof *y) == 0, "copy kind %d", kind);
            gpu->ops->zero(gpu, e, (sbti_mem)kind, n);
            free(y);
            y = download(gpu, e, (sbti_mem)kind, n);
            for (size_t i = 0; i < n; i++)
                ck_assert_msg(y[i] == 0.0f, "zero kind %d", kind);
            free(y);
            gpu->ops->free(gpu, e);
            gpu->ops->free(gpu, d);
        }
        /* I32 */
        int32_t *iv = malloc(n * sizeof *iv), *io = malloc(n * sizeof *io);
        ck_assert(iv && io);
        for (size_t i = 0; i < n; i++)
            iv[i] = (int32_t)rng_next();
        void *d;
        ok(gpu->ops->alloc(gpu, &d, SBTI_MEM_I32, n), "alloc");
        ok(gpu->ops->upload(gpu, d, SBTI_MEM_I32, 0, iv, SBTI_BF16, n), "upload i32");
        ok(gpu->ops->download(gpu, io, d, SBTI_MEM_I32, 0, n), "download i32");
        ck_assert(memcmp(iv, io, n * sizeof *iv) == 0);
        gpu->ops->free(gpu, d);
        record("upload/download/copy/zero", shape, 0.0, 0.0);
        free(iv);
        free(io);
        free(x);
        free(exp_bf);
        free(hb);
        free(hh);
    }
}
END_TEST

/* ---- embedding ------------------------------------------------------------------------------------ */

START_TEST(test_embedding)
{
    /* N > 2048 sorts across blocks (bitonic_global_kernel) */
    static const int full[][3] = {{1, 64, 10},  {7, 64, 5},      {33, 96, 50},
                                  {300, 64, 7}, {2500, 40, 100}, {4097, 33, 3000}};
    static const int small[][3] = {{1, 64, 10}, {7, 64, 5}, {33, 96, 50}, {300, 64, 7},
                                   {2049, 33, 300}};
    size_t count;
    const int(*shapes)[3] = SHAPES(full, small, count);
    for (size_t s = 0; s < count; s++) {
        int N = shapes[s][0], C = shapes[s][1], V = shapes[s][2];
        char shape[64];
        snprintf(shape, sizeof shape, "N=%d C=%d V=%d", N, C, V);
        int32_t *tok = malloc((size_t)N * sizeof *tok);
        for (int n = 0; n < N; n++)
            tok[n] = rand_int(V);
        pair t = pnew_i32(tok, (size_t)N);
        pair wte = pnew(SBTI_MEM_PARAM, (size_t)V * C, 1.0f);
        pair out = palloc(SBTI_MEM_ACT, (size_t)N * C);
        poison(&out);
        gpu->ops->embedding_fwd(gpu, out.g, t.g, wte.g, N, C);
        cpu->ops->embedding_fwd(cpu, out.c, t.c, wte.c, N, C);
        sync_both();
        compare(&out, "embedding_fwd", shape, 0.0);

        pair dout = pnew(SBTI_MEM_ACT, (size_t)N * C, 1.0f);
        pair dwte = pnew(SBTI_MEM_GRAD, (size_t)V * C, 1.0f); /* accumulated into */
        gpu->ops->embedding_bwd(gpu, dwte.g, dout.g, t.g, N, C);
        cpu->ops->embedding_bwd(cpu, dwte.c, dout.c, t.c, N, C);
        sync_both();
        compare(&dwte, "embedding_bwd (dwte +=)", shape, TOL_F32);
        /* deterministic: once more from the same start gives the same bits */
        float *start = fill_normal(dwte.n, 1.0f);
        pset(&dwte, start);
        gpu->ops->embedding_bwd(gpu, dwte.g, dout.g, t.g, N, C);
        float *a = download(gpu, dwte.g, dwte.kind, dwte.n);
        pset(&dwte, start);
        gpu->ops->embedding_bwd(gpu, dwte.g, dout.g, t.g, N, C);
        same_bits(a, &dwte, "embedding_bwd", shape);
        free(a);
        free(start);
        pfree(&t), pfree(&wte), pfree(&out), pfree(&dout), pfree(&dwte);
        free(tok);
    }
}
END_TEST

/* ---- RMSNorm ---------------------------------------------------------------------------------------- */

START_TEST(test_rmsnorm)
{
    /* N > 256: a block of the backward takes several rows */
    static const int full[][2] = {{1, 64}, {7, 64}, {33, 2048}, {5, 33}, {300, 128}, {1000, 4096}};
    static const int small[][2] = {{1, 64}, {7, 64}, {33, 2048}, {5, 33}, {300, 128}};
    size_t count;
    const int(*shapes)[2] = SHAPES(full, small, count);
    for (size_t s = 0; s < count; s++) {
        int N = shapes[s][0], C = shapes[s][1];
        char shape[64];
        snprintf(shape, sizeof shape, "N=%d C=%d", N, C);
        float eps = 1e-5f;
        pair inp = pnew(SBTI_MEM_ACT, (size_t)N * C, 2.0f);
        pair w = palloc(SBTI_MEM_PARAM, (size_t)C);
        float *wv = malloc((size_t)C * sizeof *wv);
        for (int c = 0; c < C; c++)
            wv[c] = 1.0f + symmetric(0.5f);
        pset(&w, wv);
        free(wv);
        pair out = palloc(SBTI_MEM_ACT, (size_t)N * C), rstd = palloc(SBTI_MEM_F32, (size_t)N);
        poison(&out), poison(&rstd);
        gpu->ops->rmsnorm_fwd(gpu, out.g, rstd.g, inp.g, w.g, N, C, eps);
        cpu->ops->rmsnorm_fwd(cpu, out.c, rstd.c, inp.c, w.c, N, C, eps);
        sync_both();
        compare(&out, "rmsnorm_fwd out", shape, TOL_BF16);
        compare(&rstd, "rmsnorm_fwd rstd", shape, TOL_F32);

        pair dout = pnew(SBTI_MEM_ACT, (size_t)N * C, 1.0f);
        pair dinp = pnew(SBTI_MEM_ACT, (size_t)N * C, 1.0f); /* += */
        pair dw = pnew(SBTI_MEM_GRAD, (size_t)C, 1.0f);      /* += */
        /* rstd: the same (the CPU's) on both sides */
        float *r = download(cpu, rstd.c, SBTI_MEM_F32, (size_t)N);
        pset(&rstd, r);
        free(r);
        gpu->ops->rmsnorm_bwd(gpu, dinp.g, dw.g, dout.g, inp.g, w.g, rstd.g, N, C);
        cpu->ops->rmsnorm_bwd(cpu, dinp.c, dw.c, dout.c, inp.c, w.c, rstd.c, N, C);
        sync_both();
        compare(&dinp, "rmsnorm_bwd dinp (+=)", shape, TOL_BF16);
        compare(&dw, "rmsnorm_bwd dw (+=)", shape, TOL_F32);
        /* deterministic dw */
        float *dw0 = fill_normal((size_t)C, 1.0f);
        pset(&dw, dw0);
        gpu->ops->rmsnorm_bwd(gpu, NULL, dw.g, dout.g, inp.g, w.g, rstd.g, N, C);
        float *a = download(gpu, dw.g, dw.kind, dw.n);
        pset(&dw, dw0);
        gpu->ops->rmsnorm_bwd(gpu, NULL, dw.g, dout.g, inp.g, w.g, rstd.g, N, C);
        same_bits(a, &dw, "rmsnorm_bwd dw", shape);
        free(a);
        free(dw0);
        pfree(&inp), pfree(&w), pfree(&out), pfree(&rstd), pfree(&dout), pfree(&dinp), pfree(&dw);
    }
}
END_TEST

/* ---- matmul ------------------------------------------------------------------------------------------ */

START_TEST(test_matmul)
{
    static const int full[][3] = {{1, 64, 64},   {7, 64, 96},   {33, 128, 200}, {33, 7, 5},
                                  {5, 33, 17},   {64, 2048, 512}, {300, 576, 1536}};
    static const int small[][3] = {{1, 64, 64}, {7, 64, 96}, {33, 128, 200},
                                   {33, 7, 5},  {5, 33, 17}, {64, 512, 256}};
    size_t count;
    const int(*shapes)[3] = SHAPES(full, small, count);
    for (size_t s = 0; s < count; s++) {
        int N = shapes[s][0], K = shapes[s][1], M = shapes[s][2];
        char shape[64];
        snprintf(shape, sizeof shape, "N=%d K=%d M=%d", N, K, M);
        pair inp = pnew(SBTI_MEM_ACT, (size_t)N * K, 1.0f);
        pair w = pnew(SBTI_MEM_PARAM, (size_t)M * K, 0.05f);
        pair out = palloc(SBTI_MEM_ACT, (size_t)N * M);
        poison(&out);
        gpu->ops->matmul_fwd(gpu, out.g, inp.g, w.g, NULL, N, K, M);
        cpu->ops->matmul_fwd(cpu, out.c, inp.c, w.c, NULL, N, K, M);
        sync_both();
        compare(&out, "matmul_fwd", shape, TOL_BF16);

        pair res = pnew(SBTI_MEM_ACT, (size_t)N * M, 1.0f);
        poison(&out);
        gpu->ops->matmul_fwd(gpu, out.g, inp.g, w.g, res.g, N, K, M);
        cpu->ops->matmul_fwd(cpu, out.c, inp.c, w.c, res.c, N, K, M);
        sync_both();
        compare(&out, "matmul_fwd +res", shape, TOL_BF16);
        /* in place: out == res */
        gpu->ops->matmul_fwd(gpu, res.g, inp.g, w.g, res.g, N, K, M);
        cpu->ops->matmul_fwd(cpu, res.c, inp.c, w.c, res.c, N, K, M);
        sync_both();
        compare(&res, "matmul_fwd +res in place", shape, TOL_BF16);

        pair dout = pnew(SBTI_MEM_ACT, (size_t)N * M, 1.0f);
        pair dinp = palloc(SBTI_MEM_ACT, (size_t)N * K);
        pair dw = pnew(SBTI_MEM_GRAD, (size_t)M * K, 1.0f); /* += */
        poison(&dinp);
        gpu->ops->matmul_bwd(gpu, dinp.g, dw.g, dout.g, inp.g, w.g, N, K, M);
        cpu->ops->matmul_bwd(cpu, dinp.c, dw.c, dout.c, inp.c, w.c, N, K, M);
        sync_both();
        compare(&dinp, "matmul_bwd dinp", shape, TOL_BF16);
        compare(&dw, "matmul_bwd dw (+=)", shape, TOL_F32);
        /* each half alone */
        poison(&dinp);
        gpu->ops->matmul_bwd(gpu, dinp.g, NULL, dout.g, inp.g, w.g, N, K, M);
        cpu->ops->matmul_bwd(cpu, dinp.c, NULL, dout.c, inp.c, w.c, N, K, M);
        gpu->ops->matmul_bwd(gpu, NULL, dw.g, dout.g, inp.g, w.g, N, K, M);
        cpu->ops->matmul_bwd(cpu, NULL, dw.c, dout.c, inp.c, w.c, N, K, M);
        sync_both();
        compare(&dinp, "matmul_bwd dinp only", shape, TOL_BF16);
        compare(&dw, "matmul_bwd dw only (+=)", shape, TOL_F32);
        pfree(&inp), pfree(&w), pfree(&out), pfree(&res), pfree(&dout), pfree(&dinp), pfree(&dw);
    }
}
END_TEST

/* ---- RoPE --------------------------------------------------------------------------------------------- */

static float *llama_inv_freq(int hd)
{
    float *f = malloc((size_t)(hd / 2) * sizeof *f);
    for (int i = 0; i < hd / 2; i++)
        f[i] = (float)(1.0 / pow(500000.0, (2.0 * i) / hd));
    return f;
}

START_TEST(test_rope)
{
    /* small already: SBT_TEST_QUICK runs them all */
    static const int shapes[][4] = {{1, 4, 2, 64}, {7, 4, 2, 64}, {33, 8, 2, 128}, {33, 3, 1, 16}};
    for (size_t s = 0; s < COUNT(shapes); s++) {
        int N = shapes[s][0], nh = shapes[s][1], nkv = shapes[s][2], hd = shapes[s][3];
        char shape[64];
        snprintf(shape, sizeof shape, "N=%d nh=%d nkv=%d hd=%d", N, nh, nkv, hd);
        int32_t *pos = malloc((size_t)N * sizeof *pos);
        for (int n = 0; n < N; n++)
            pos[n] = n == 0 ? 131071 : rand_int(8192);
        pair p = pnew_i32(pos, (size_t)N);
        float *f = llama_inv_freq(hd);
        pair inv = palloc(SBTI_MEM_F32, (size_t)hd / 2);
        pset(&inv, f);
        size_t W = (size_t)(nh + 2 * nkv) * hd;
        pair qkv = pnew(SBTI_MEM_ACT, (size_t)N * W, 1.0f);
        gpu->ops->rope_fwd(gpu, qkv.g, p.g, inv.g, N, nh, nkv, hd);
        cpu->ops->rope_fwd(cpu, qkv.c, p.c, inv.c, N, nh, nkv, hd);
        sync_both();
        compare(&qkv, "rope_fwd", shape, TOL_BF16);
        pair d = pnew(SBTI_MEM_ACT, (size_t)N * W, 1.0f);
        gpu->ops->rope_bwd(gpu, d.g, p.g, inv.g, N, nh, nkv, hd);
        cpu->ops->rope_bwd(cpu, d.c, p.c, inv.c, N, nh, nkv, hd);
        sync_both();
        compare(&d, "rope_bwd", shape, TOL_BF16);
        free(f);
        free(pos);
        pfree(&p), pfree(&inv), pfree(&qkv), pfree(&d);
    }
}
END_TEST

/* ---- attention ---------------------------------------------------------------------------------------- */

/* attention_fwd / attention_bwd in every mode of the CUDA backend (cuda_hooks.h): cuDNN's fused
 * SDPA with its deterministic backward (whole batch, and in chunks of rows under a small
 * workspace limit), with its atomic (non-deterministic) backward (chosen by auto when the limit
 * is too small, and named), and the plain kernels, each against one CPU reference per shape. The last column of the shapes marks
 * the training shapes (Llama-3.2-1B heads) that must run through cuDNN when
 * SBT_TEST_REQUIRE_CUDNN=1 (a GPU machine with cuDNN); elsewhere a cuDNN mode may fall back to
 * the plain kernels, and the table says which path ran. */
START_TEST(test_attention)
{
    /* B, T, nh, nkv, hd, padded rows (len < T for odd b), training shape */
    static const int full[][7] = {
        {1, 1, 2, 1, 64, 0, 0},      {2, 7, 4, 2, 64, 1, 0},      {2, 33, 4, 4, 32, 1, 0},
        {1, 100, 8, 2, 128, 0, 0},   {2, 300, 4, 1, 64, 1, 0},    {1, 40, 2, 1, 256, 0, 0},
        {2, 17, 3, 1, 16, 1, 0},     {1, 1000, 2, 1, 64, 0, 0},   {4, 512, 32, 8, 64, 1, 1},
        {16, 512, 32, 8, 64, 0, 1},  {4, 333, 32, 8, 64, 0, 1},   {8, 64, 32, 8, 64, 1, 1},
        {4, 256, 32, 8, 128, 1, 1},  {2, 200, 32, 8, 128, 0, 1}};
    /* quick: T up to 100, hd 16-256, GQA 1-4 heads a group, padding; the Llama-3.2-1B heads
     * at hd 64 and 128 with B >= 3, so cuDNN's backward also runs in chunks of rows */
    static const int small[][7] = {
        {1, 1, 2, 1, 64, 0, 0},      {2, 7, 4, 2, 64, 1, 0},      {2, 33, 4, 4, 32, 1, 0},
        {1, 100, 8, 2, 128, 0, 0},   {3, 70, 4, 1, 64, 1, 0},     {1, 40, 2, 1, 256, 0, 0},
        {2, 17, 3, 1, 16, 1, 0},     {8, 64, 32, 8, 64, 1, 1},    {3, 45, 32, 8, 128, 1, 1}};
    size_t count;
    const int(*shapes)[7] = SHAPES(full, small, count);
    /* mode, workspace limit of the deterministic backward: 0 the default, -1 about half its
     * size (the batch goes in chunks of rows), 1 one byte (auto then runs cuDNN's atomic
     * backward); the label names the row of the table */
    const struct {
        const char *mode, *label;
        int limit, bitwise;
    } modes[] = {{"cudnn", "cudnn", 0, 1},
                 {"cudnn", "cudnn-chunks", -1, 1},
                 {"auto", "cudnn-nondet", 1, 0},
                 {"cudnn-nondet", "cudnn-nondet", 0, 0},
                 {"plain", "plain", 0, 1}};
    const char *req = getenv("SBT_TEST_REQUIRE_CUDNN");
    int require = req && strcmp(req, "0") != 0;
    for (size_t s = 0; s < count; s++) {
        int B = shapes[s][0], T = shapes[s][1], nh = shapes[s][2], nkv = shapes[s][3],
            hd = shapes[s][4], padded = shapes[s][5], training = shapes[s][6];
        char shape[64];
        snprintf(shape, sizeof shape, "B=%d T=%d nh=%d nkv=%d hd=%d%s", B, T, nh, nkv, hd,
                 padded ? " len<T" : "");
        int32_t *len = malloc((size_t)B * sizeof *len);
        for (int b = 0; b < B; b++)
            len[b] = padded && (b % 2) ? 1 + rand_int(T) : T;
        pair l = pnew_i32(len, (size_t)B);
        size_t W = (size_t)(nh + 2 * nkv) * hd, BT = (size_t)B * T;
        pair qkv = pnew(SBTI_MEM_ACT, BT * W, 1.0f);
        pair out = palloc(SBTI_MEM_ACT, BT * nh * hd), lse = palloc(SBTI_MEM_F32, (size_t)B * nh * T);
        pair dout = pnew(SBTI_MEM_ACT, BT * nh * hd, 1.0f);
        pair dqkv = palloc(SBTI_MEM_ACT, BT * W);
        const int32_t *lc = padded ? l.c : NULL, *lg = padded ? l.g : NULL;
        /* the CPU reference, once: forward, then backward from its own forward (out rounded to
         * bf16 as the GPU stores it); the GPU's backward gets the same out and lse */
        cpu->ops->attention_fwd(cpu, out.c, lse.c, qkv.c, lc, B, T, nh, nkv, hd);
        ok(sbti_backend_check(cpu), "cpu");
        float *o = download(cpu, out.c, SBTI_MEM_ACT, out.n), *ls = download(cpu, lse.c, SBTI_MEM_F32, lse.n);
        for (size_t i = 0; i < out.n; i++)
            o[i] = round_bf16(o[i]);
        ok(cpu->ops->upload(cpu, out.c, SBTI_MEM_ACT, 0, o, SBTI_F32, out.n), "cpu upload");
        cpu->ops->attention_bwd(cpu, dqkv.c, dout.c, qkv.c, out.c, lse.c, lc, B, T, nh, nkv, hd);
        ok(sbti_backend_check(cpu), "cpu");
        float *ref_out = download(cpu, out.c, SBTI_MEM_ACT, out.n);
        float *ref_lse = download(cpu, lse.c, SBTI_MEM_F32, lse.n);
        float *ref_dqkv = download(cpu, dqkv.c, SBTI_MEM_ACT, dqkv.n);

        for (size_t m = 0; m < sizeof modes / sizeof *modes; m++) {
            if (modes[m].limit < 0 && B < 3)
                continue; /* chunks of rows need a few rows */
            ck_assert_int_eq(sbti_cuda_attention_set_mode(gpu, modes[m].mode), 0);
            /* one row's workspace stays under nh * Tp² * 4 bytes (T padded to 128; seen on
             * cuDNN 9.19: 12.2 MB at T=333, 8.4 MB at T=256 hd=128, 32 heads), the whole
             * batch's is well over: chunks of one row or more */
            long long Tp = (T + 127) / 128 * 128;
            long long limit =
                modes[m].limit >= 0 ? modes[m].limit : (long long)nh * Tp * Tp * 4 + (1 << 20);
            ck_assert_int_eq(sbti_cuda_attention_set_workspace_limit(gpu, limit), 0);
            char op[40];
            const char *why = "";
            /* forward: its own out and lse against the reference's (out before rounding is what
             * the reference computed; the GPU stores bf16, within TOL_BF16 of either) */
            poison(&out), poison(&lse);
            ok(cpu->ops->upload(cpu, out.c, SBTI_MEM_ACT, 0, ref_out, SBTI_F32, out.n), "cpu");
            ok(cpu->ops->upload(cpu, lse.c, SBTI_MEM_F32, 0, ref_lse, SBTI_F32, lse.n), "cpu");
            gpu->ops->attention_fwd(gpu, out.g, lse.g, qkv.g, lg, B, T, nh, nkv, hd);
            sync_both();
            const char *path = sbti_cuda_attention_path(gpu, &why);
            if (strcmp(modes[m].mode, "plain") != 0 && strcmp(path, "cudnn") != 0) {
                printf("attention %s %s: forward fell back to the plain kernel: %s\n",
                       modes[m].label, shape, why);
                ck_assert_msg(!(require && training), "%s: cuDNN required: %s", shape, why);
            }
            snprintf(op, sizeof op, "attention_fwd out [%s]", path);
            compare(&out, op, shape, TOL_BF16);
            snprintf(op, sizeof op, "attention_fwd lse [%s]", path);
            compare(&lse, op, shape, TOL_F32);

            /* backward from the reference forward */
            pset(&out, o);
            pset(&lse, ls);
            poison(&dqkv);
            ok(cpu->ops->upload(cpu, dqkv.c, SBTI_MEM_ACT, 0, ref_dqkv, SBTI_F32, dqkv.n), "cpu");
            gpu->ops->attention_bwd(gpu, dqkv.g, dout.g, qkv.g, out.g, lse.g, lg, B, T, nh, nkv, hd);
            sync_both();
            path = sbti_cuda_attention_path(gpu, &why);
            if (strcmp(modes[m].mode, "plain") != 0 && strcmp(path, "cudnn") != 0) {
                printf("attention %s %s: backward fell back to the plain kernel: %s\n",
                       modes[m].label, shape, why);
                /* under a test-made workspace limit the fallback is the designed answer */
                ck_assert_msg(!(require && training && modes[m].limit == 0),
                              "%s: cuDNN required: %s", shape, why);
            }
            snprintf(op, sizeof op, "attention_bwd dqkv [%s]",
                     !strcmp(path, "cudnn") ? modes[m].label : path);
            compare(&dqkv, op, shape, TOL_BF16);
            if (modes[m].bitwise) { /* bitwise reproducible */
                float *first = download(gpu, dqkv.g, dqkv.kind, dqkv.n);
                poison(&dqkv);
                gpu->ops->attention_bwd(gpu, dqkv.g, dout.g, qkv.g, out.g, lse.g, lg, B, T, nh,
                                        nkv, hd);
                same_bits(first, &dqkv, "attention_bwd", shape);
                free(first);
            }
        }
        ck_assert_int_eq(sbti_cuda_attention_set_mode(gpu, "auto"), 0);
        ck_assert_int_eq(sbti_cuda_attention_set_workspace_limit(gpu, 0), 0);
        free(o), free(ls), free(ref_out), free(ref_lse), free(ref_dqkv);
        free(len);
        pfree(&l), pfree(&qkv), pfree(&out), pfree(&lse), pfree(&dout), pfree(&dqkv);
    }
}
END_TEST

/* ---- SwiGLU ------------------------------------------------------------------------------------------- */

START_TEST(test_swiglu)
{
    static const int full[][2] = {{1, 64}, {7, 33}, {33, 1000}, {64, 8192}};
    static const int small[][2] = {{1, 64}, {7, 33}, {33, 1000}, {9, 2051}};
    size_t count;
    const int(*shapes)[2] = SHAPES(full, small, count);
    for (size_t s = 0; s < count; s++) {
        int N = shapes[s][0], I = shapes[s][1];
        char shape[64];
        snprintf(shape, sizeof shape, "N=%d I=%d", N, I);
        pair gu = pnew(SBTI_MEM_ACT, (size_t)N * 2 * I, 3.0f);
        pair out = palloc(SBTI_MEM_ACT, (size_t)N * I);
        poison(&out);
        gpu->ops->swiglu_fwd(gpu, out.g, gu.g, N, I);
        cpu->ops->swiglu_fwd(cpu, out.c, gu.c, N, I);
        sync_both();
        compare(&out, "swiglu_fwd", shape, TOL_BF16);
        pair dout = pnew(SBTI_MEM_ACT, (size_t)N * I, 1.0f);
        pair dgu = palloc(SBTI_MEM_ACT, (size_t)N * 2 * I);
        poison(&dgu);
        gpu->ops->swiglu_bwd(gpu, dgu.g, dout.g, gu.g, N, I);
        cpu->ops->swiglu_bwd(cpu, dgu.c, dout.c, gu.c, N, I);
        sync_both();
        compare(&dgu, "swiglu_bwd", shape, TOL_BF16);
        pfree(&gu), pfree(&out), pfree(&dout), pfree(&dgu);
    }
}
END_TEST

/* ---- cross-entropy -------------------------------------------------------------------------------------- */

START_TEST(test_cross_entropy)
{
    /* V > 1024: each of the block's 1024 threads loops over several columns */
    static const int full[][2] = {{1, 10}, {7, 1000}, {33, 50000}, {4, 128257}, {3, 31}};
    static const int small[][2] = {{1, 10}, {7, 1000}, {9, 5003}, {3, 31}};
    size_t count;
    const int(*shapes)[2] = SHAPES(full, small, count);
    for (size_t s = 0; s < count; s++) {
        int N = shapes[s][0], V = shapes[s][1];
        for (int with_grad = 0; with_grad < 2; with_grad++) {
            char shape[64];
            snprintf(shape, sizeof shape, "N=%d V=%d%s", N, V, with_grad ? "" : " dscale=0");
            int32_t *tg = malloc((size_t)N * sizeof *tg);
            for (int n = 0; n < N; n++)
                tg[n] = (n % 3 == 2) ? -100 : rand_int(V); /* every third row ignored */
            pair t = pnew_i32(tg, (size_t)N);
            pair logits = pnew(SBTI_MEM_ACT, (size_t)N * V, 3.0f);
            pair loss = palloc(SBTI_MEM_F32, (size_t)N);
            poison(&loss);
            float dscale = with_grad ? 1.0f / (float)N : 0.0f;
            gpu->ops->cross_entropy(gpu, loss.g, logits.g, t.g, N, V, dscale);
            cpu->ops->cross_entropy(cpu, loss.c, logits.c, t.c, N, V, dscale);
            sync_both();
            compare(&loss, "cross_entropy loss", shape, TOL_F32);
            compare(&logits, with_grad ? "cross_entropy dlogits" : "cross_entropy logits kept",
                    shape, with_grad ? TOL_BF16 : 0.0);
            free(tg);
            pfree(&t), pfree(&logits), pfree(&loss);
        }
    }
}
END_TEST

/* ---- KV cache ------------------------------------------------------------------------------------------ */

/* 0 .. n-1 in a random order (the page pools of the paged tests), malloc'd. */
static int *shuffled(int n)
{
    int *perm = malloc((size_t)n * sizeof *perm);
    ck_assert_ptr_nonnull(perm);
    for (int i = 0; i < n; i++)
        perm[i] = i;
    for (int i = n - 1; i > 0; i--) {
        int j = rand_int(i + 1), x = perm[i];
        perm[i] = perm[j];
        perm[j] = x;
    }
    return perm;
}

START_TEST(test_kv_paged)
{
    /* nh, nkv, hd, page_size, sequence lengths (3 sequences) */
    static const int full[][7] = {{4, 2, 64, 16, 1, 17, 40},    {8, 2, 128, 8, 100, 3, 64},
                                  {3, 1, 16, 4, 9, 1, 30},      {32, 8, 64, 16, 300, 50, 7},
                                  {2, 2, 256, 32, 70, 2, 33},   {40, 2, 64, 16, 20, 5, 9},
                                  {32, 8, 64, 1, 45, 12, 3},    {6, 3, 40, 1, 33, 32, 31},
                                  {4, 2, 36, 1, 20, 9, 2}};
    /* quick: the Llama heads at L = 77 instead of 300; nh 40 / nkv 2 still needs three head
     * chunks (20 query heads a group, 8 a warp); pages of one position as the decoder uses */
    static const int small[][7] = {{4, 2, 64, 16, 1, 17, 40},   {8, 2, 128, 8, 100, 3, 64},
                                   {3, 1, 16, 4, 9, 1, 30},     {32, 8, 64, 16, 77, 50, 7},
                                   {2, 2, 256, 32, 70, 2, 33},  {40, 2, 64, 16, 20, 5, 9},
                                   {32, 8, 64, 1, 45, 12, 3},   {6, 3, 40, 1, 33, 32, 31},
                                   {4, 2, 36, 1, 20, 9, 2}};
    size_t count;
    const int(*shapes)[7] = SHAPES(full, small, count);
    for (size_t s = 0; s < count; s++) {
        int nh = shapes[s][0], nkv = shapes[s][1], hd = shapes[s][2], ps = shapes[s][3];
        const int *L = &shapes[s][4];
        int nseq = 3, max_pages = 0, total = 0;
        for (int q = 0; q < nseq; q++) {
            int np = (L[q] + ps - 1) / ps;
            max_pages = np > max_pages ? np : max_pages;
            total += L[q];
        }
        char shape[64];
        snprintf(shape, sizeof shape, "nh=%d nkv=%d hd=%d page=%d L=%d,%d,%d", nh, nkv, hd, ps,
                 L[0], L[1], L[2]);
        /* pages: a shuffled pool, more than needed */
        int npool = nseq * max_pages + 3;
        int *perm = shuffled(npool);
        int32_t *pages = malloc((size_t)nseq * max_pages * sizeof *pages);
        for (int i = 0; i < nseq * max_pages; i++)
            pages[i] = perm[i];
        /* every token of every sequence stored */
        int32_t *slot = malloc((size_t)total * sizeof *slot), *seq = malloc((size_t)total * 4),
                *pos = malloc((size_t)total * 4);
        int k = 0;
        for (int q = 0; q < nseq; q++)
            for (int p = 0; p < L[q]; p++, k++) {
                slot[k] = pages[q * max_pages + p / ps] * ps + p % ps;
                seq[k] = q;
                pos[k] = p;
            }
        size_t W = (size_t)(nh + 2 * nkv) * hd, row = (size_t)nkv * hd, nslots = (size_t)npool * ps;
        pair qkv = pnew(SBTI_MEM_ACT, (size_t)total * W, 1.0f);
        pair kc = pnew(SBTI_MEM_ACT, nslots * row, 1.0f), vc = pnew(SBTI_MEM_ACT, nslots * row, 1.0f);
        pair sl = pnew_i32(slot, (size_t)total), pg = pnew_i32(pages, (size_t)nseq * max_pages);
        pair sq = pnew_i32(seq, (size_t)total), po = pnew_i32(pos, (size_t)total);
        gpu->ops->kv_store(gpu, kc.g, vc.g, qkv.g, sl.g, total, nh, nkv, hd);
        cpu->ops->kv_store(cpu, kc.c, vc.c, qkv.c, sl.c, total, nh, nkv, hd);
        sync_both();
        compare(&kc, "kv_store kcache", shape, 0.0);
        compare(&vc, "kv_store vcache", shape, 0.0);
        /* every stored token queries its own sequence up to its position */
        pair out = palloc(SBTI_MEM_ACT, (size_t)total * nh * hd);
        poison(&out);
        gpu->ops->attention_paged(gpu, out.g, qkv.g, kc.g, vc.g, sq.g, po.g, pg.g, max_pages, ps,
                                  total, nh, nkv, hd);
        cpu->ops->attention_paged(cpu, out.c, qkv.c, kc.c, vc.c, sq.c, po.c, pg.c, max_pages, ps,
                                  total, nh, nkv, hd);
        sync_both();
        compare(&out, "attention_paged", shape, TOL_BF16);
        free(perm), free(pages), free(slot), free(seq), free(pos);
        pfree(&qkv), pfree(&kc), pfree(&vc), pfree(&sl), pfree(&pg), pfree(&sq), pfree(&po),
            pfree(&out);
    }

    /* The search's decode step (Llama-3.2-1B heads): P problems x B beams, one query token a row
     * at its last position; a problem's beams share the pages of its first PROMPT positions (the
     * same physical pages), then have 1 + b % GEN positions in pages of their own. The cache is
     * filled directly. Also: the same output bits when run again. */
    static const int dfull[][5] = {{64, 32, 24, 26, 1}, {8, 32, 24, 26, 16}, {4, 8, 100, 200, 1}};
    static const int dsmall[][5] = {{4, 32, 24, 26, 1}, {2, 16, 24, 26, 16}, {1, 4, 60, 40, 1}};
    const int(*dec)[5] = SHAPES(dfull, dsmall, count);
    for (size_t s = 0; s < count; s++) {
        const int P = dec[s][0], B = dec[s][1], prompt = dec[s][2], gen = dec[s][3], ps = dec[s][4];
        const int nh = 32, nkv = 8, hd = 64, N = P * B, shared = prompt / ps;
        const int max_pages = (prompt + gen + ps - 1) / ps, own = max_pages - shared;
        const int npool = P * shared + N * own + 3;
        char shape[64];
        snprintf(shape, sizeof shape, "decode %dx%d rows L=%d..%d page=%d", P, B, prompt + 1,
                 prompt + gen, ps);
        int *perm = shuffled(npool);
        int32_t *pages = malloc((size_t)N * max_pages * sizeof *pages);
        int32_t *seq = malloc((size_t)N * 4), *pos = malloc((size_t)N * 4);
        int next = 0;
        for (int p = 0; p < P; p++, next += shared)
            for (int b = 0; b < B; b++) {
                const int r = p * B + b;
                for (int k = 0; k < max_pages; k++)
                    pages[(size_t)r * max_pages + k] =
                        k < shared ? perm[next + k] : perm[P * shared + r * own + k - shared];
                seq[r] = r;
                pos[r] = prompt + b % gen; /* attends prompt + 1 + b % gen positions */
            }
        size_t W = (size_t)(nh + 2 * nkv) * hd, row = (size_t)nkv * hd, nslots = (size_t)npool * ps;
        pair qkv = pnew(SBTI_MEM_ACT, (size_t)N * W, 1.0f);
        pair kc = pnew(SBTI_MEM_ACT, nslots * row, 1.0f), vc = pnew(SBTI_MEM_ACT, nslots * row, 1.0f);
        pair pg = pnew_i32(pages, (size_t)N * max_pages);
        pair sq = pnew_i32(seq, (size_t)N), po = pnew_i32(pos, (size_t)N);
        pair out = palloc(SBTI_MEM_ACT, (size_t)N * nh * hd);
        poison(&out);
        gpu->ops->attention_paged(gpu, out.g, qkv.g, kc.g, vc.g, sq.g, po.g, pg.g, max_pages, ps,
                                  N, nh, nkv, hd);
        cpu->ops->attention_paged(cpu, out.c, qkv.c, kc.c, vc.c, sq.c, po.c, pg.c, max_pages, ps,
                                  N, nh, nkv, hd);
        sync_both();
        compare(&out, "attention_paged", shape, TOL_BF16);
        float *first = download(gpu, out.g, SBTI_MEM_ACT, out.n);
        gpu->ops->attention_paged(gpu, out.g, qkv.g, kc.g, vc.g, sq.g, po.g, pg.g, max_pages, ps,
                                  N, nh, nkv, hd);
        float *again = download(gpu, out.g, SBTI_MEM_ACT, out.n);
        ck_assert_msg(memcmp(first, again, out.n * sizeof *first) == 0,
                      "attention_paged %s: other bits when run again", shape);
        free(first), free(again);
        free(perm), free(pages), free(seq), free(pos);
        pfree(&qkv), pfree(&kc), pfree(&vc), pfree(&pg), pfree(&sq), pfree(&po), pfree(&out);
    }
}
END_TEST

START_TEST(test_gather_rows)
{
    static const int shapes[][3] = {{1, 64, 3}, {7, 33, 10}, {33, 2048, 40}}; /* quick too */
    for (size_t s = 0; s < COUNT(shapes); s++) {
        int N = shapes[s][0], C = shapes[s][1], R = shapes[s][2];
        char shape[64];
        snprintf(shape, sizeof shape, "N=%d C=%d rows=%d", N, C, R);
        int32_t *idx = malloc((size_t)N * sizeof *idx);
        for (int n = 0; n < N; n++)
            idx[n] = rand_int(R);
        pair ix = pnew_i32(idx, (size_t)N);
        pair inp = pnew(SBTI_MEM_ACT, (size_t)R * C, 1.0f), out = palloc(SBTI_MEM_ACT, (size_t)N * C);
        poison(&out);
        gpu->ops->gather_rows(gpu, out.g, inp.g, ix.g, N, C);
        cpu->ops->gather_rows(cpu, out.c, inp.c, ix.c, N, C);
        sync_both();
        compare(&out, "gather_rows", shape, 0.0);
        free(idx);
        pfree(&ix), pfree(&inp), pfree(&out);
    }
}
END_TEST

/* ---- optimizer ------------------------------------------------------------------------------------------- */

START_TEST(test_sumsq)
{
    /* 300001: 74 partials; 3000001: 733 (the fixed count grows with n, up to 1024) */
    static const size_t full[] = {1, 7, 1000, 3000001}, small[] = {1, 7, 1000, 300001};
    size_t count;
    const size_t *ns = SHAPES(full, small, count);
    for (size_t s = 0; s < count; s++) {
        size_t n = ns[s];
        char shape[64];
        snprintf(shape, sizeof shape, "n=%zu", n);
        pair g = pnew(SBTI_MEM_GRAD, n, 1e-2f);
        double a = gpu->ops->sumsq(gpu, g.g, n), b = cpu->ops->sumsq(cpu, g.c, n);
        sync_both();
        double e = fabs(a - b) / b;
        record("sumsq", shape, e, 1e-10);
        ck_assert_msg(e <= 1e-10, "sumsq n=%zu: %.17g vs %.17g", n, a, b);
        ck_assert_msg(gpu->ops->sumsq(gpu, g.g, n) == a, "sumsq is not deterministic");
        pfree(&g);
    }
}
END_TEST

START_TEST(test_adamw)
{
    static const size_t ns[] = {1, 1000, 100003}; /* small already: SBT_TEST_QUICK too */
    for (size_t s = 0; s < COUNT(ns); s++) {
        size_t n = ns[s];
        char shape[64];
        snprintf(shape, sizeof shape, "n=%zu, 3 steps", n);
        float *p0 = fill_normal(n, 0.02f);
        /* CPU: fp32 PARAM is the weight. GPU: fp32 master, bf16 PARAM its rounding. */
        pair param = palloc(SBTI_MEM_PARAM, n), master = palloc(SBTI_MEM_F32, n);
        ok(cpu->ops->upload(cpu, param.c, SBTI_MEM_PARAM, 0, p0, SBTI_F32, n), "upload");
        ok(gpu->ops->upload(gpu, param.g, SBTI_MEM_PARAM, 0, p0, SBTI_F32, n), "upload");
        ok(gpu->ops->upload(gpu, master.g, SBTI_MEM_F32, 0, p0, SBTI_F32, n), "upload");
        pair m = palloc(SBTI_MEM_F32, n), v = palloc(SBTI_MEM_F32, n);
        pair grad = palloc(SBTI_MEM_GRAD, n);
        sbti_adamw_args a = {1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 0.5f, 1};
        for (int step = 1; step <= 3; step++) {
            float *g = fill_normal(n, 1e-2f);
            pset(&grad, g);
            free(g);
            a.step = step;
            gpu->ops->adamw(gpu, param.g, master.g, grad.g, m.g, v.g, n, &a);
            cpu->ops->adamw(cpu, param.c, NULL, grad.c, m.c, v.c, n, &a);
        }
        sync_both();
        float *gm = download(gpu, master.g, SBTI_MEM_F32, n), *gp = download(gpu, param.g, SBTI_MEM_PARAM, n);
        float *cp = download(cpu, param.c, SBTI_MEM_PARAM, n);
        double e_master = rel_err(gm, cp, n), e_param = rel_err(gp, cp, n);
        /* the GPU's param is exactly its master rounded to bf16 */
        for (size_t i = 0; i < n; i++)
            ck_assert_msg(gp[i] == round_bf16(gm[i]), "adamw: param %zu is not bf16(master)", i);
        record("adamw master (fp32)", shape, e_master, TOL_F32);
        record("adamw param (bf16)", shape, e_param, TOL_BF16);
        ck_assert_msg(e_master <= 1e-5, "adamw master: %.3e", e_master);
        ck_assert_msg(e_param <= TOL_BF16, "adamw param: %.3e", e_param);
        compare(&m, "adamw m", shape, TOL_F32);
        compare(&v, "adamw v", shape, TOL_F32);
        free(gm), free(gp), free(cp), free(p0);
        pfree(&param), pfree(&master), pfree(&m), pfree(&v), pfree(&grad);
    }
}
END_TEST

/* ---- errors and identity ---------------------------------------------------------------------------- */

START_TEST(test_errors)
{
    ck_assert_str_eq(gpu->name, "cuda");
    ck_assert(strlen(gpu->description) > 10);
    ck_assert_uint_eq(gpu->elem_size[SBTI_MEM_PARAM], 2);
    ck_assert_uint_eq(gpu->elem_size[SBTI_MEM_ACT], 2);
    ck_assert_uint_eq(gpu->elem_size[SBTI_MEM_GRAD], 4);
    ck_assert_uint_eq(gpu->elem_size[SBTI_MEM_F32], 4);
    ck_assert_uint_eq(gpu->elem_size[SBTI_MEM_I32], 4);
    ck_assert_int_eq(gpu->master_weights, 1);

    /* An allocation too large fails cleanly, naming bytes, and records nothing. */
    void *p = (void *)1;
    sbt_status st = gpu->ops->alloc(gpu, &p, SBTI_MEM_F32, (size_t)1 << 42);
    ck_assert_int_eq(st, SBT_E_OUT_OF_MEMORY);
    ck_assert_ptr_null(p);
    ck_assert_msg(strstr(sbt_last_error(), "bytes") != NULL, "%s", sbt_last_error());
    ck_assert_int_eq(gpu->error, SBT_OK);

    /* An operation that cannot run records its failure; later ones do nothing; check reports it.
     * On a backend of its own, so the shared one stays usable. */
    sbti_backend *be = NULL;
    ok(sbti_backend_cuda_create(&be, 0), "second backend");
    void *qkv, *out;
    ok(be->ops->alloc(be, &qkv, SBTI_MEM_ACT, 4 * 3 * 512), "alloc");
    ok(be->ops->alloc(be, &out, SBTI_MEM_ACT, 4 * 512), "alloc");
    be->ops->attention_fwd(be, out, NULL, qkv, NULL, 1, 4, 1, 1, 512); /* hd 512: too large */
    ck_assert_int_eq(be->error, SBT_E_UNSUPPORTED);
    st = sbti_backend_check(be);
    ck_assert_int_eq(st, SBT_E_UNSUPPORTED);
    ck_assert_msg(strstr(sbt_last_error(), "hd = 512") != NULL, "%s", sbt_last_error());
    float x[4];
    ck_assert_int_eq(be->ops->download(be, x, out, SBTI_MEM_ACT, 0, 4), SBT_E_UNSUPPORTED);
    be->ops->free(be, qkv);
    be->ops->free(be, out);
    sbti_backend_destroy(be);

    /* a device that does not exist */
    be = (sbti_backend *)1;
    ck_assert_int_eq(sbti_backend_cuda_create(&be, 4096), SBT_E_NOT_FOUND);
    ck_assert_ptr_null(be);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("backend_cuda");
    TCase *tc = tcase_create("vs_cpu");
    tcase_set_timeout(tc, 600);
    /* the shared-memory kernels first: a sanitizer run cut short still covers them */
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_attention);
    tcase_add_test(tc, test_kv_paged);
    tcase_add_test(tc, test_embedding);
    tcase_add_test(tc, test_rmsnorm);
    tcase_add_test(tc, test_cross_entropy);
    tcase_add_test(tc, test_transfers);
    tcase_add_test(tc, test_matmul);
    tcase_add_test(tc, test_rope);
    tcase_add_test(tc, test_swiglu);
    tcase_add_test(tc, test_gather_rows);
    tcase_add_test(tc, test_sumsq);
    tcase_add_test(tc, test_adamw);
    suite_add_tcase(s, tc);
    return s;
}

/* The table of measured errors, then its memory. */
static void report(void)
{
    print_table();
    free(table);
}

int main(void)
{
    return gpu_suite_main(make_suite, report);
}
