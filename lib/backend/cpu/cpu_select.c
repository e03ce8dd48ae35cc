/* cpu_select.c — the reference of backend.h's select: next-token candidates of rows of fp32
 * logits, with transformers' temperature, top-k and top-p warpers and Gumbel-top-k keys.
 *
 * Also the decoder's host path (sbti_select_host) for logits a caller's function returns. One
 * row at a time, in double where sums are taken; rows in parallel (each row's result does not
 * depend on the others, so any thread count gives the same bits). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/cpu.h"
#include "core/error.h"

static int better(const float *x, int32_t a, int32_t b) /* a ranks before b */
{
    return x[a] > x[b] || (x[a] == x[b] && a < b);
}

static void sift_down(const float *x, int32_t *idx, int n, int c)
{
    for (;;) {
        int l = 2 * c + 1, r = l + 1, w = c;
        if (l < n && better(x, idx[w], idx[l]))
            w = l;
        if (r < n && better(x, idx[w], idx[r]))
            w = r;
        if (w == c)
            return;
        int32_t t = idx[w];
        idx[w] = idx[c];
        idx[c] = t;
        c = w;
    }
}

/* The m best finite entries of x (V), best first, into idx; returns how many (<= m).
 * A heap of the m best seen, its root the worst of them: O(V log m). */
static int top_m(const float *x, int V, int m, int32_t *idx)
{
    int n = 0;
    for (int32_t i = 0; i < V; i++) {
        if (!(x[i] > -INFINITY))
            continue;
        if (n < m) { /* sift up */
            int c = n++;
            idx[c] = i;
            while (c > 0) {
                int p = (c - 1) / 2;
                if (!better(x, idx[p], idx[c]))
                    break;
                int32_t t = idx[p];
                idx[p] = idx[c];
                idx[c] = t;
                c = p;
            }
        } else if (n > 0 && better(x, i, idx[0])) {
            idx[0] = i;
            sift_down(x, idx, n, 0);
        }
    }
    for (int end = n - 1; end > 0; end--) { /* heap sort: the worst to the back */
        int32_t t = idx[0];
        idx[0] = idx[end];
        idx[end] = t;
        sift_down(x, idx, end, 0);
    }
    return n;
}

/* How many tokens of the row the warpers keep; idx[0..) holds them best first when the
 * answer is not every finite token (*all = 0). */
static int warp_kept(const float *x, int V, int n_finite, const sbti_select_args *a,
                     int32_t *idx, int *all)
{
    *all = 0;
    const double T = a->temperature;
    const int min_keep = a->min_keep < 1 ? 1 : a->min_keep;
    const int k = a->top_k > 0 ? (a->top_k > min_keep ? a->top_k : min_keep) : 0;
    const int use_p = a->top_p < 1.0f;
    if (!use_p) {
        if (k > 0 && k < n_finite)
            return top_m(x, V, k, idx);
        *all = 1;
        return n_finite;
    }
    /* top-p renormalises over the top-k set, or over every finite token */
    int m = k > 0 ? k : 64;
    if (m > n_finite)
        m = n_finite;
    for (;;) {
        m = top_m(x, V, m, idx);
        const double mt = x[idx[0]] / T;
        double st = 0;
        if (k > 0) {
            for (int j = 0; j < m; j++)
                st += exp(x[idx[j]] / T - mt);
        } else {
            for (int i = 0; i < V; i++)
                if (x[i] > -INFINITY)
                    st += exp(x[i] / T - mt);
        }
        const double lseT = mt + log(st);
        /* keep ranks j while the mass above j is below top_p (transformers removes a token
         * when the ascending cumulative mass up to it is <= 1 - top_p), min_keep anyway */
        double above = 0;
        int kept = 0;
        for (int j = 0; j < m; j++) {
            if (j >= min_keep && !(above < a->top_p))
                break;
            kept++;
            above += exp(x[idx[j]] / T - lseT);
        }
        if (kept < m || k > 0 || m >= n_finite)
            return kept;
        m = m * 4 < n_finite ? m * 4 : n_finite; /* the nucleus is wider: look further */
    }
}

/* One row: see backend.h. keys (V) and idx (V) are scratch. */
static void select_row(int32_t *ids, float *lp, float *key, int32_t *kept, float *extra_lp,
                       const float *x, uint64_t seed, int V, const sbti_select_args *a,
                       float *keys, int32_t *idx)
{
    for (int j = 0; j < a->k; j++) {
        ids[j] = -1;
        lp[j] = key[j] = -INFINITY;
    }
    double mx = -INFINITY;
    int n_finite = 0;
    for (int i = 0; i < V; i++)
        if (x[i] > -INFINITY) {
            n_finite++;
            mx = x[i] > mx ? x[i] : mx;
        }
    *kept = 0;
    if (extra_lp)
        *extra_lp = -INFINITY;
    if (n_finite == 0)
        return;
    double s = 0;
    for (int i = 0; i < V; i++)
        if (x[i] > -INFINITY)
            s += exp(x[i] - mx);
    const float lse = (float)(mx + log(s));
    if (extra_lp && a->extra_id >= 0 && x[a->extra_id] > -INFINITY)
        *extra_lp = x[a->extra_id] - lse;

    if (!a->sample) { /* key = lp: the k best logits */
        int n = top_m(x, V, a->k, idx);
        for (int j = 0; j < n; j++) {
            ids[j] = idx[j];
            lp[j] = key[j] = x[idx[j]] - lse;
        }
        *kept = n_finite;
        return;
    }
    int all;
    const int n_kept = warp_kept(x, V, n_finite, a, idx, &all);
    *kept = n_kept;
    /* Gumbel keys of the kept tokens, -inf elsewhere; then their k best */
    for (int i = 0; i < V; i++)
        keys[i] = -INFINITY;
    const float T = a->temperature;
    for (int j = 0; j < (all ? V : n_kept); j++) {
        int32_t i = all ? j : idx[j];
        if (!(x[i] > -INFINITY))
            continue;
        float u = sbti_select_uniform(seed, i);
        keys[i] = (x[i] - lse) / T - logf(-logf(u));
    }
    int n = top_m(keys, V, a->k, idx);
    for (int j = 0; j < n; j++) {
        ids[j] = idx[j];
        lp[j] = x[idx[j]] - lse;
        key[j] = keys[idx[j]];
    }
}

/* NaN logits count as -inf: the row is copied with them replaced where there are any. */
static const float *clean_row(const float *x, int V, float *buf)
{
    int nan = 0;
    for (int i = 0; i < V && !nan; i++)
        nan = x[i] != x[i];
    if (!nan)
        return x;
    for (int i = 0; i < V; i++)
        buf[i] = x[i] != x[i] ? -INFINITY : x[i];
    return buf;
}

sbt_status sbti_select_check(const sbti_select_args *a, int R, int V)
{
    const sbt_status bad = SBT_E_INVALID_ARGUMENT;
    if (R < 0 || V < 1)
        return sbti_fail(bad, "select: R = %d, V = %d", R, V);
    if (a->k < 1 || a->k > SBTI_SELECT_MAX_K)
        return sbti_fail(bad, "select: k = %d (1 .. %d)", a->k, SBTI_SELECT_MAX_K);
    if (a->extra_id >= V || a->extra_id < -1)
        return sbti_fail(bad, "select: extra_id = %d for V = %d", (int)a->extra_id, V);
    if (a->row_stride != 0 && a->row_stride < V)
        return sbti_fail(bad, "select: row_stride = %d for V = %d (0 means V, else at least V)",
                         a->row_stride, V);
    if (a->sample && (!(a->temperature > 0) || a->top_k < 0 || !(a->top_p > 0)))
        return sbti_fail(bad, "select: sampling with temperature = %g, top_k = %d, top_p = %g",
                         (double)a->temperature, a->top_k, (double)a->top_p);
    return SBT_OK;
}

int sbti_select_host(int32_t *ids, float *lp, float *key, int ld, int32_t *kept, float *extra_lp,
                     const float *logits, const int32_t *seeds, int R, int V,
                     const sbti_select_args *a)
{
    const size_t stride = a->row_stride > 0 ? (size_t)a->row_stride : (size_t)V;
    int oom = 0;
#pragma omp parallel reduction(| : oom)
    {
        float *keys = a->sample ? malloc(sizeof *keys * (size_t)V) : NULL;
        float *clean = malloc(sizeof *clean * (size_t)V);
        int32_t *idx = malloc(sizeof *idx * (size_t)V);
        if ((a->sample && !keys) || !clean || !idx)
            oom = 1;
#pragma omp for schedule(dynamic, 1)
        for (int r = 0; r < R; r++) {
            if (oom)
                continue;
            uint64_t seed = 0;
            if (seeds)
                seed = (uint64_t)(uint32_t)seeds[2 * r] | (uint64_t)(uint32_t)seeds[2 * r + 1] << 32;
            const size_t o = (size_t)r * (size_t)ld;
            select_row(ids + o, lp + o, key + o, kept + r, extra_lp ? extra_lp + r : NULL,
                       clean_row(logits + (size_t)r * stride, V, clean), seed, V, a, keys, idx);
        }
        free(keys);
        free(clean);
        free(idx);
    }
    return oom ? -1 : 0;
}

void sbti_cpu_select(sbti_backend *be, int32_t *ids, float *lp, float *key, int32_t *kept,
                     float *extra_lp, const void *logits, const int32_t *seeds, int R, int V,
                     const sbti_select_args *a)
{
    if (sbti_select_check(a, R, V) != SBT_OK) {
        sbti_backend_fail(be, SBT_E_INVALID_ARGUMENT, "%s", sbt_last_error());
        return;
    }
    if (a->sample && !seeds) {
        sbti_backend_fail(be, SBT_E_INVALID_ARGUMENT, "select: sampling needs seeds");
        return;
    }
    if (sbti_select_host(ids, lp, key, a->k, kept, extra_lp, logits, seeds, R, V, a) != 0)
        sbti_backend_fail(be, SBT_E_OUT_OF_MEMORY, "select: out of memory for rows of %d", V);
}
