/* test_select_cuda.c — the CUDA backend's select against the CPU reference (cpu_select.c):
 * fresh random rows of logits (the seed is printed; SBT_TEST_SEED repeats a run), rounded to bf16
 * so that both backends see the same values, of several kinds (spread normals, nearly uniform,
 * few distinct values, all equal, -inf and NaN entries, no finite entry, three finite entries),
 * vocabularies from 2 to 128257, every mode (greedy; temperature + top-k + top-p, top-k 50 and
 * 128, the largest of the one-pass kernel; nucleus over the whole row; plain sampling; a top-k
 * set too large for shared memory; min_keep over the nucleus). Outputs are poisoned first, so an entry left unwritten fails. Expected: the same
 * kept counts and ids, lp and key within 1e-4. Two differences are allowed and counted: a row
 * that differs where its top-p boundary mass is within 1e-5 of top_p (fixed-point vs double
 * sums may decide it either way; its kept count and ids are then not compared), and, when
 * sampling, two ids in the other
 * order where the reference's keys are within 1e-5 (a near tie that one rounding may order
 * either way). Each mode also runs on rows padded to a longer row stride (args.row_stride; the
 * padding holds +1e4, which must never be selected) against the unpadded reference. Also: two launches give the same bits, the device's uniforms equal the host's
 * sbti_select_uniform bit for bit, and bad arguments are recorded. Exits 77 (skipped) where
 * there is no usable GPU. Runs without fork (a CUDA context does not survive one). */
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


#define TOL 1e-4       /* lp, key, extra_lp: absolute */
#define NEAR_MASS 1e-5 /* a top-p boundary this close to top_p may go either way */
#define NEAR_KEY 1e-5  /* keys this close (relative) may be ordered either way */


/* ---- random numbers ------------------------------------------------------------------------ */


/* ---- rows ------------------------------------------------------------------------------------- */

enum { ROW_KINDS = 8 };
static const char *const row_kind_name[ROW_KINDS] = {
    "normal", "wide", "4 values", "all equal", "-inf/NaN", "no finite", "3 finite", "near uniform"};

static void fill_row(float *x, int V, int kind)
{
    static const float few[4] = {-1.0f, 0.0f, 0.5f, 2.0f};
    for (int i = 0; i < V; i++) {
        switch (kind) {
        case 0: x[i] = normal(); break;
        case 1: x[i] = 3.0f * normal() - 5.0f; break;
        case 2: x[i] = few[rand_int(4)]; break;
        case 3: x[i] = 1.5f; break;
        case 4: {
            double u = uniform();
            x[i] = u < 0.3 ? -INFINITY : u < 0.4 ? NAN : 2.0f * normal();
            break;
        }
        case 5: x[i] = uniform() < 0.2 ? NAN : -INFINITY; break;
        case 6: x[i] = -INFINITY; break;
        default: x[i] = 0.05f * normal(); break;
        }
        x[i] = round_bf16(x[i]);
    }
    if (kind == 6)
        for (int j = 0; j < 3 && j < V; j++)
            x[rand_int(V)] = round_bf16(normal());
}

/* ---- the summary table --------------------------------------------------------------------------- */

typedef struct row {
    char what[96];
    double err_lp, err_key;
    int rows, boundary, swaps;
} row;

static row *table;
static size_t table_n, table_cap;

static void record(const char *what, double err_lp, double err_key, int rows, int boundary,
                   int swaps)
{
    if (table_n == table_cap) {
        table_cap = table_cap ? 2 * table_cap : 64;
        table = realloc(table, table_cap * sizeof *table);
        ck_assert_ptr_nonnull(table);
    }
    row *r = &table[table_n++];
    snprintf(r->what, sizeof r->what, "%s", what);
    r->err_lp = err_lp;
    r->err_key = err_key;
    r->rows = rows;
    r->boundary = boundary;
    r->swaps = swaps;
}

static void print_table(void)
{
    printf("\n%-64s %10s %10s %6s %8s %6s\n", "case", "max |dlp|", "max |dkey|", "rows",
           "boundary", "swaps");
    int rows = 0, boundary = 0, swaps = 0;
    for (size_t i = 0; i < table_n; i++) {
        const row *r = &table[i];
        printf("%-64s %10.2e %10.2e %6d %8d %6d\n", r->what, r->err_lp, r->err_key, r->rows,
               r->boundary, r->swaps);
        rows += r->rows, boundary += r->boundary, swaps += r->swaps;
    }
    printf("rows compared %d; boundary rows skipped %d; near-tie swaps %d\n", rows, boundary,
           swaps);
    fflush(stdout);
}

/* ---- buffers ------------------------------------------------------------------------------------ */

static void ok(sbt_status st, const char *what)
{
    ck_assert_msg(st == SBT_OK, "%s: %s (%s)", what, sbt_status_str(st), sbt_last_error());
}

static void *dalloc(sbti_backend *be, sbti_mem kind, size_t n)
{
    void *p = NULL;
    ok(be->ops->alloc(be, &p, kind, n ? n : 1), "alloc");
    return p;
}

static void up(sbti_backend *be, void *dst, sbti_mem kind, const void *src, size_t n)
{
    ok(be->ops->upload(be, dst, kind, 0, src, SBTI_F32, n), "upload");
}

static void down(sbti_backend *be, void *dst, const void *src, sbti_mem kind, size_t n)
{
    ok(be->ops->download(be, dst, src, kind, 0, n), "download");
}

/* The outputs of one select on one backend, device side and host side. */
typedef struct outs {
    int R, k;
    void *ids, *lp, *key, *kept, *extra; /* device */
    int32_t *h_ids, *h_kept;             /* host */
    float *h_lp, *h_key, *h_extra;
} outs;

static void outs_init(outs *o, sbti_backend *be, int R, int k)
{
    size_t n = (size_t)R * k;
    o->R = R;
    o->k = k;
    o->ids = dalloc(be, SBTI_MEM_I32, n);
    o->lp = dalloc(be, SBTI_MEM_F32, n);
    o->key = dalloc(be, SBTI_MEM_F32, n);
    o->kept = dalloc(be, SBTI_MEM_I32, (size_t)R);
    o->extra = dalloc(be, SBTI_MEM_F32, (size_t)R);
    o->h_ids = malloc(n * sizeof(int32_t));
    o->h_lp = malloc(n * sizeof(float));
    o->h_key = malloc(n * sizeof(float));
    o->h_kept = malloc((size_t)R * sizeof(int32_t));
    o->h_extra = malloc((size_t)R * sizeof(float));
    ck_assert(o->h_ids && o->h_lp && o->h_key && o->h_kept && o->h_extra);
}

static void outs_free(outs *o, sbti_backend *be)
{
    be->ops->free(be, o->ids);
    be->ops->free(be, o->lp);
    be->ops->free(be, o->key);
    be->ops->free(be, o->kept);
    be->ops->free(be, o->extra);
    free(o->h_ids), free(o->h_lp), free(o->h_key), free(o->h_kept), free(o->h_extra);
}

/* Poison: ids and kept 0x7fffffff, floats NaN. */
static void outs_poison(outs *o, sbti_backend *be)
{
    size_t n = (size_t)o->R * o->k, m = n > (size_t)o->R ? n : (size_t)o->R;
    int32_t *pi = malloc(m * sizeof *pi);
    float *pf = malloc(m * sizeof *pf);
    ck_assert(pi && pf);
    for (size_t i = 0; i < m; i++) {
        pi[i] = 0x7fffffff;
        pf[i] = NAN;
    }
    up(be, o->ids, SBTI_MEM_I32, pi, n);
    up(be, o->lp, SBTI_MEM_F32, pf, n);
    up(be, o->key, SBTI_MEM_F32, pf, n);
    up(be, o->kept, SBTI_MEM_I32, pi, (size_t)o->R);
    up(be, o->extra, SBTI_MEM_F32, pf, (size_t)o->R);
    free(pi);
    free(pf);
}

static void outs_run(outs *o, sbti_backend *be, const void *logits, const void *seeds, int V,
                     const sbti_select_args *a, int with_extra)
{
    outs_poison(o, be);
    sbti_select_args b = *a;
    b.k = o->k;
    be->ops->select(be, o->ids, o->lp, o->key, o->kept, with_extra ? o->extra : NULL, logits,
                    a->sample ? seeds : NULL, o->R, V, &b);
    ok(sbti_backend_check(be), be == gpu ? "gpu select" : "cpu select");
    size_t n = (size_t)o->R * o->k;
    down(be, o->h_ids, o->ids, SBTI_MEM_I32, n);
    down(be, o->h_lp, o->lp, SBTI_MEM_F32, n);
    down(be, o->h_key, o->key, SBTI_MEM_F32, n);
    down(be, o->h_kept, o->kept, SBTI_MEM_I32, (size_t)o->R);
    down(be, o->h_extra, o->extra, SBTI_MEM_F32, (size_t)o->R);
}

/* ---- the top-p boundary, from the reference's own kept count -------------------------------------- */

static const float *sort_x;

static int by_rank(const void *pa, const void *pb)
{
    int32_t a = *(const int32_t *)pa, b = *(const int32_t *)pb;
    if (sort_x[a] != sort_x[b])
        return sort_x[a] > sort_x[b] ? -1 : 1;
    return a < b ? -1 : 1;
}

/* 1 when the mass above rank kept - 1 or rank kept (of the top-k set, renormalised, in
 * double) is within NEAR_MASS of top_p: where the cut falls may then differ by rounding. */
static int near_boundary(const float *x, int V, const sbti_select_args *a, int kept, int32_t *idx)
{
    if (!a->sample || !(a->top_p < 1.0f) || kept <= 0)
        return 0;
    int nf = 0;
    for (int i = 0; i < V; i++)
        if (x[i] > -INFINITY)
            idx[nf++] = i;
    sort_x = x;
    qsort(idx, (size_t)nf, sizeof *idx, by_rank);
    int mk = a->min_keep < 1 ? 1 : a->min_keep;
    int Kk = a->top_k > 0 ? (a->top_k > mk ? a->top_k : mk) : nf;
    if (Kk > nf)
        Kk = nf;
    double T = a->temperature, mt = x[idx[0]] / T, st = 0;
    for (int j = 0; j < Kk; j++)
        st += exp(x[idx[j]] / T - mt);
    double above = 0;
    for (int j = 0; j < Kk && j <= kept; j++) {
        if (j >= kept - 1 && fabs(above - a->top_p) < NEAR_MASS)
            return 1;
        above += exp(x[idx[j]] / T - mt) / st;
    }
    return 0;
}

/* ---- select vs the reference ---------------------------------------------------------------------- */

typedef struct mode {
    const char *name;
    sbti_select_args a;
} mode;

/* sample, temperature, top_k, top_p, min_keep, k, extra_id (set per case) */
static const mode modes[] = {
    {"greedy k=1", {0, 1.0f, 0, 1.0f, 1, 1, 0}},
    {"greedy k=8", {0, 1.0f, 0, 1.0f, 1, 8, 0}},
    {"greedy k=64", {0, 1.0f, 0, 1.0f, 1, 64, 0}},
    {"T=0.7 top_k=50 top_p=0.9 min_keep=2 k=64", {1, 0.7f, 50, 0.9f, 2, 64, 0}},
    {"T=1.3 top_k=128 top_p=0.95 k=32", {1, 1.3f, 128, 0.95f, 1, 32, 0}},
    {"T=0.7 top_p=0.9 k=64", {1, 0.7f, 0, 0.9f, 1, 64, 0}},
    {"T=1 k=64", {1, 1.0f, 0, 1.0f, 1, 64, 0}},
    {"T=1.3 top_k=3000 top_p=0.95 min_keep=5 k=512", {1, 1.3f, 3000, 0.95f, 5, 512, 0}},
    {"T=0.7 top_p=0.5 min_keep=3000 k=16", {1, 0.7f, 0, 0.5f, 3000, 16, 0}},
};

/* stride > V: the GPU reads rows padded to stride (args.row_stride), the padding +1e4, which
 * must never be selected; the reference reads them unpadded. */
static void check_case(int R, int V, int stride, int kind0, const mode *md, int with_extra,
                       int *n_boundary, int *n_swaps)
{
    char what[96];
    if (stride > V)
        snprintf(what, sizeof what, "R=%d V=%d stride %d %s", R, V, stride, md->name);
    else
        snprintf(what, sizeof what, "R=%d V=%d %s", R, V, md->name);
    sbti_select_args a = md->a;
    a.extra_id = with_extra && (rng_next() & 1) ? rand_int(V) : -1;
    const int S = stride > V ? stride : V;

    float *x = malloc((size_t)R * V * sizeof *x);
    int32_t *seeds = malloc((size_t)R * 2 * sizeof *seeds), *idx = malloc((size_t)V * sizeof *idx);
    ck_assert(x && seeds && idx);
    for (int r = 0; r < R; r++)
        fill_row(x + (size_t)r * V, V, (kind0 + r) % ROW_KINDS);
    for (int i = 0; i < 2 * R; i++)
        seeds[i] = (int32_t)rng_next();

    void *gx = dalloc(gpu, SBTI_MEM_ACT, (size_t)R * S), *cx = dalloc(cpu, SBTI_MEM_ACT, (size_t)R * V);
    void *gs = dalloc(gpu, SBTI_MEM_I32, (size_t)2 * R), *cs = dalloc(cpu, SBTI_MEM_I32, (size_t)2 * R);
    if (S > V) {
        float *xp = malloc((size_t)R * S * sizeof *xp);
        ck_assert(xp);
        for (int r = 0; r < R; r++)
            for (int i = 0; i < S; i++)
                xp[(size_t)r * S + i] = i < V ? x[(size_t)r * V + i] : 1e4f;
        up(gpu, gx, SBTI_MEM_ACT, xp, (size_t)R * S);
        free(xp);
    } else {
        up(gpu, gx, SBTI_MEM_ACT, x, (size_t)R * V);
    }
    up(cpu, cx, SBTI_MEM_ACT, x, (size_t)R * V);
    up(gpu, gs, SBTI_MEM_I32, seeds, (size_t)2 * R);
    up(cpu, cs, SBTI_MEM_I32, seeds, (size_t)2 * R);

    /* The reference with one more candidate (the same first k): the key after the last one
     * tells whether a difference at the end is a near tie. */
    const int k = a.k, kc = k < SBTI_SELECT_MAX_K ? k + 1 : k;
    outs g, g2, c;
    outs_init(&g, gpu, R, k);
    outs_init(&g2, gpu, R, k);
    outs_init(&c, cpu, R, kc);
    sbti_select_args ag = a;
    ag.row_stride = S > V ? S : 0;
    outs_run(&g, gpu, gx, gs, V, &ag, with_extra);
    outs_run(&c, cpu, cx, cs, V, &a, with_extra);

    /* the same bits from a second launch */
    outs_run(&g2, gpu, gx, gs, V, &ag, with_extra);
    size_t n = (size_t)R * k;
    ck_assert_msg(memcmp(g.h_ids, g2.h_ids, n * 4) == 0 && memcmp(g.h_lp, g2.h_lp, n * 4) == 0 &&
                      memcmp(g.h_key, g2.h_key, n * 4) == 0 &&
                      memcmp(g.h_kept, g2.h_kept, (size_t)R * 4) == 0 &&
                      (!with_extra || memcmp(g.h_extra, g2.h_extra, (size_t)R * 4) == 0),
                  "%s: two launches differ", what);

    double err_lp = 0, err_key = 0;
    int boundary = 0, swaps = 0;
    for (int r = 0; r < R; r++) {
        const float *xr = x + (size_t)r * V;
        const int32_t *gi = g.h_ids + (size_t)r * k, *ci = c.h_ids + (size_t)r * kc;
        const float *gl = g.h_lp + (size_t)r * k, *cl = c.h_lp + (size_t)r * kc;
        const float *gk = g.h_key + (size_t)r * k, *ck = c.h_key + (size_t)r * kc;
        const int kept = c.h_kept[r];
        const char *kind = row_kind_name[(kind0 + r) % ROW_KINDS];
        if (with_extra && a.extra_id >= 0) {
            float e = g.h_extra[r], f = c.h_extra[r];
            ck_assert_msg(e == f || fabsf(e - f) <= TOL, "%s row %d (%s): extra_lp %g vs %g",
                          what, r, kind, e, f);
            if (e != f)
                err_lp = fmax(err_lp, fabs((double)e - f));
        }
        int differ = g.h_kept[r] != kept;
        for (int j = 0; j < k && !differ; j++)
            differ = gi[j] != ci[j];
        if (differ && near_boundary(xr, V, &a, kept, idx)) {
            boundary++;
            /* not compared; still every entry written and the kept ones valid */
            for (int j = 0; j < k; j++)
                ck_assert_msg(gi[j] == -1 || (gi[j] >= 0 && gi[j] < V && isfinite(gk[j])),
                              "%s row %d: entry %d unwritten or invalid", what, r, j);
            continue;
        }
        ck_assert_msg(g.h_kept[r] == kept, "%s row %d (%s): kept %d vs %d", what, r, kind,
                      g.h_kept[r], kept);
        const int m = kept < k ? kept : k;
        for (int j = 0; j < k; j++) {
            if (j >= m) {
                ck_assert_msg(gi[j] == -1 && ci[j] == -1 && gl[j] == -INFINITY &&
                                  gk[j] == -INFINITY,
                              "%s row %d (%s): entry %d past kept %d: id %d lp %g key %g", what,
                              r, kind, j, kept, gi[j], gl[j], gk[j]);
                continue;
            }
            /* (a uniform of exactly 1 gives an infinite key, on both sides) */
            double dk = gk[j] == ck[j] ? 0.0 : fabs((double)gk[j] - ck[j]);
            ck_assert_msg(dk <= TOL, "%s row %d (%s): key[%d] %.9g vs %.9g (ids %d, %d)", what,
                          r, kind, j, gk[j], ck[j], gi[j], ci[j]);
            err_key = fmax(err_key, dk);
            if (gi[j] == ci[j]) {
                double dl = fabs((double)gl[j] - cl[j]);
                ck_assert_msg(dl <= TOL, "%s row %d (%s): lp[%d] %.9g vs %.9g", what, r, kind,
                              j, gl[j], cl[j]);
                err_lp = fmax(err_lp, dl);
                continue;
            }
            /* a near tie of the reference's keys at j (the next one is there when k < MAX_K) */
            double tol = NEAR_KEY * fmax(1.0, fabs(ck[j]));
            int tie = a.sample && ((j > 0 && fabs((double)ck[j] - ck[j - 1]) <= tol) ||
                                   (j + 1 < kc && fabs((double)ck[j] - ck[j + 1]) <= tol));
            ck_assert_msg(tie, "%s row %d (%s): id[%d] %d vs %d (keys %.9g, %.9g)", what, r,
                          kind, j, gi[j], ci[j], gk[j], ck[j]);
            swaps++;
        }
    }
    record(what, err_lp, err_key, R - boundary, boundary, swaps);
    *n_boundary += boundary;
    *n_swaps += swaps;

    outs_free(&g, gpu), outs_free(&g2, gpu), outs_free(&c, cpu);
    gpu->ops->free(gpu, gx), gpu->ops->free(gpu, gs);
    cpu->ops->free(cpu, cx), cpu->ops->free(cpu, cs);
    free(x), free(seeds), free(idx);
}

/* One mode (_i) on every shape: a loop test, so that a failure in one mode leaves the others
 * to run. */
START_TEST(test_select_vs_cpu)
{
    const int shapes[][2] = {{8, 2},    {16, 5},     {40, 20},   {40, 33},   {24, 1000},
                             {64, 4099}, {24, 128257}, {4096, 33}};
    /* quick (SBT_TEST_QUICK=1, the sanitizer runs): the first six, every kernel path still */
    const size_t n_shapes = quick ? 6 : sizeof shapes / sizeof *shapes;
    int rows = 0, boundary = 0, swaps = 0;
    for (size_t s = 0; s < n_shapes; s++) {
        int R = shapes[s][0], V = shapes[s][1];
        check_case(R, V, 0, (int)(s + (size_t)_i) % ROW_KINDS, &modes[_i], _i != 2, &boundary,
                   &swaps);
        rows += R;
    }
    /* rows padded (args.row_stride): to a multiple of 8 as the LM head writes them, and to an
     * odd stride, so that rows start at every alignment */
    const int padded[][3] = {{16, 33, 40}, {16, 1000, 1003}, {24, 128257, 128264}};
    const size_t n_padded = quick ? 2 : sizeof padded / sizeof *padded;
    for (size_t s = 0; s < n_padded; s++) {
        check_case(padded[s][0], padded[s][1], padded[s][2], (int)(s + 3 + (size_t)_i) % ROW_KINDS,
                   &modes[_i], _i != 1, &boundary, &swaps);
        rows += padded[s][0];
    }
    /* both are allowances for rounding, so they must stay rare */
    ck_assert_msg(boundary * 50 <= rows, "%s: %d of %d rows at a top-p boundary", modes[_i].name,
                  boundary, rows);
    ck_assert_msg(swaps * 50 <= rows, "%s: %d near-tie swaps in %d rows", modes[_i].name, swaps,
                  rows);
}
END_TEST

/* The device's uniforms, bit for bit the host's sbti_select_uniform. */
START_TEST(test_uniform_bits)
{
    const int n = 1 << 20;
    int32_t *seeds = malloc((size_t)2 * n * sizeof *seeds), *ids = malloc((size_t)n * sizeof *ids);
    float *u = malloc((size_t)n * sizeof *u);
    ck_assert(seeds && ids && u);
    static const int32_t edge[] = {0, 1, -1, 128256, INT32_MAX, INT32_MIN};
    for (int i = 0; i < n; i++) {
        seeds[2 * i] = (int32_t)rng_next();
        seeds[2 * i + 1] = i % 7 == 0 ? 0 : (int32_t)rng_next();
        ids[i] = i < 6 ? edge[i] : i % 3 ? rand_int(128257) : (int32_t)rng_next();
    }
    void *ds = dalloc(gpu, SBTI_MEM_I32, (size_t)2 * n), *di = dalloc(gpu, SBTI_MEM_I32, (size_t)n);
    void *du = dalloc(gpu, SBTI_MEM_F32, (size_t)n);
    up(gpu, ds, SBTI_MEM_I32, seeds, (size_t)2 * n);
    up(gpu, di, SBTI_MEM_I32, ids, (size_t)n);
    sbti_cuda_select_uniforms(gpu, du, ds, di, n);
    down(gpu, u, du, SBTI_MEM_F32, (size_t)n);
    for (int i = 0; i < n; i++) {
        uint64_t seed = (uint64_t)(uint32_t)seeds[2 * i] | (uint64_t)(uint32_t)seeds[2 * i + 1] << 32;
        float h = sbti_select_uniform(seed, ids[i]);
        ck_assert_msg(memcmp(&h, &u[i], 4) == 0, "uniform(seed %llu, id %d): device %.9g, host %.9g",
                      (unsigned long long)seed, ids[i], u[i], h);
        ck_assert(u[i] > 0.0f && u[i] < 1.0f);
    }
    record("uniforms: 2^20 (seed, id) pairs, bit for bit", 0, 0, 0, 0, 0);
    gpu->ops->free(gpu, ds), gpu->ops->free(gpu, di), gpu->ops->free(gpu, du);
    free(seeds), free(ids), free(u);
}
END_TEST

/* Bad arguments are recorded, naming the value; each on a backend of its own (the first
 * failure stays). */
START_TEST(test_errors)
{
    static const struct {
        int V, k, extra_id, sample;
        float temperature;
        int row_stride;
        const char *says;
    } bad[] = {
        {100, 0, -1, 0, 1.0f, 0, "k = 0"},
        {100, 513, -1, 0, 1.0f, 0, "k = 513"},
        {0, 4, -1, 0, 1.0f, 0, "V = 0"},
        {100, 4, 100, 0, 1.0f, 0, "extra_id = 100"},
        {100, 4, -1, 1, 0.0f, 0, "temperature = 0"},
        {100, 4, -1, 0, 1.0f, 99, "row_stride = 99"},
    };
    for (size_t t = 0; t < sizeof bad / sizeof *bad; t++) {
        sbti_backend *be = NULL;
        ok(sbti_backend_cuda_create(&be, 0), "backend");
        void *x = dalloc(be, SBTI_MEM_ACT, 200), *ids = dalloc(be, SBTI_MEM_I32, 2048);
        void *lp = dalloc(be, SBTI_MEM_F32, 2048), *key = dalloc(be, SBTI_MEM_F32, 2048);
        void *kept = dalloc(be, SBTI_MEM_I32, 2), *seeds = dalloc(be, SBTI_MEM_I32, 4);
        sbti_select_args a = {bad[t].sample, bad[t].temperature, 0, 1.0f, 1, bad[t].k,
                              bad[t].extra_id, bad[t].row_stride};
        be->ops->select(be, ids, lp, key, kept, NULL, x, seeds, 2, bad[t].V, &a);
        ck_assert_int_eq(sbti_backend_check(be), SBT_E_INVALID_ARGUMENT);
        ck_assert_msg(strstr(sbt_last_error(), bad[t].says) != NULL, "%s: %s", bad[t].says,
                      sbt_last_error());
        be->ops->free(be, x), be->ops->free(be, ids), be->ops->free(be, lp);
        be->ops->free(be, key), be->ops->free(be, kept), be->ops->free(be, seeds);
        sbti_backend_destroy(be);
    }
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("select_cuda");
    TCase *tc = tcase_create("vs_cpu");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_uniform_bits);
    tcase_add_test(tc, test_errors);
    tcase_add_loop_test(tc, test_select_vs_cpu, 0, (int)(sizeof modes / sizeof *modes));
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
