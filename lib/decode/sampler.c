/* sampler.c — per-row candidate lists: log-sum-exp, top-m selection, temperature, top-k and
 * top-p exactly as transformers' TemperatureLogitsWarper, TopKLogitsWarper and
 * TopPLogitsWarper treat a row of log-probabilities. */
#include <math.h>
#include <stdlib.h>

#include "decode/sampler.h"

void sbti_rowbuf_free(sbti_rowbuf *b)
{
    free(b->idx);
    b->idx = NULL;
    b->cap = 0;
}

static int better(const float *x, int32_t a, int32_t b) /* a ranks before b */
{
    return x[a] > x[b] || (x[a] == x[b] && a < b);
}

/* The m best finite entries of x, best first, into idx; returns how many (<= m). A min-heap
 * of size m: O(V log m). */
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
        } else if (better(x, i, idx[0])) { /* replace the worst, sift down */
            idx[0] = i;
            int c = 0;
            for (;;) {
                int l = 2 * c + 1, r = l + 1, w = c;
                if (l < n && better(x, idx[w], idx[l]))
                    w = l;
                if (r < n && better(x, idx[w], idx[r]))
                    w = r;
                if (w == c)
                    break;
                int32_t t = idx[w];
                idx[w] = idx[c];
                idx[c] = t;
                c = w;
            }
        }
    }
    /* heap sort: pop the worst to the end */
    for (int end = n - 1; end > 0; end--) {
        int32_t t = idx[0];
        idx[0] = idx[end];
        idx[end] = t;
        int c = 0;
        for (;;) {
            int l = 2 * c + 1, r = l + 1, w = c;
            if (l < end && better(x, idx[w], idx[l]))
                w = l;
            if (r < end && better(x, idx[w], idx[r]))
                w = r;
            if (w == c)
                break;
            int32_t u = idx[w];
            idx[w] = idx[c];
            idx[c] = u;
            c = w;
        }
    }
    return n;
}

static int grow(sbti_cand **out, int *cap, int need)
{
    if (need <= *cap)
        return 0;
    int c = *cap ? *cap : 64;
    while (c < need)
        c *= 2;
    sbti_cand *p = realloc(*out, sizeof *p * (size_t)c);
    if (!p)
        return -1;
    *out = p;
    *cap = c;
    return 0;
}

int sbti_row_candidates(const float *x, int V, const sbti_warp *w, sbti_rowbuf *buf,
                        sbti_cand **out, int *n, int *cap)
{
    double mx = -INFINITY;
    int n_finite = 0;
    for (int i = 0; i < V; i++)
        if (x[i] > -INFINITY) {
            n_finite++;
            if (x[i] > mx)
                mx = x[i];
        }
    if (n_finite == 0)
        return 0;
    double s = 0;
    for (int i = 0; i < V; i++)
        if (x[i] > -INFINITY)
            s += exp(x[i] - mx);
    const double lse1 = mx + log(s);
    if (!buf->idx || buf->cap < V) {
        int32_t *p = realloc(buf->idx, sizeof *p * (size_t)V);
        if (!p)
            return -1;
        buf->idx = p;
        buf->cap = V;
    }
    int32_t *idx = buf->idx;

    if (!w->sample) {
        int m = top_m(x, V, w->keep < 1 ? 1 : w->keep, idx);
        if (grow(out, cap, *n + m))
            return -1;
        for (int j = 0; j < m; j++) {
            sbti_cand *c = &(*out)[*n + j];
            c->id = idx[j];
            c->lp = (float)(x[idx[j]] - lse1);
            c->proc = (double)x[idx[j]] - lse1;
        }
        *n += m;
        return m;
    }

    const double T = w->temperature;
    const int min_keep = w->min_keep < 1 ? 1 : w->min_keep;
    int k = w->top_k > 0 ? (w->top_k > min_keep ? w->top_k : min_keep) : 0;
    int use_p = w->top_p < 1.0;
    int m = k > 0 ? k : (use_p ? 64 : n_finite);
    if (m > n_finite)
        m = n_finite;
    /* log-sum-exp of x/T over the set top-p renormalises on: the top-k set, or everything */
    double lseT = 0;
    int kept = 0;
    for (;;) {
        m = top_m(x, V, m, idx);
        if (!use_p) {
            kept = m;
            break;
        }
        double mt = x[idx[0]] / T, st = 0;
        if (k > 0) {
            for (int j = 0; j < m; j++)
                st += exp(x[idx[j]] / T - mt);
        } else {
            for (int i = 0; i < V; i++)
                if (x[i] > -INFINITY)
                    st += exp(x[i] / T - mt);
        }
        lseT = mt + log(st);
        /* keep tokens (best first) while the mass strictly above them is below top_p:
         * transformers removes a token when the ascending cumulative mass up to it is
         * <= 1 - top_p, then keeps the min_keep best anyway */
        double above = 0;
        kept = 0;
        for (int j = 0; j < m; j++) {
            if (j >= min_keep && !(1.0 - above > 1.0 - w->top_p))
                break;
            kept++;
            above += exp(x[idx[j]] / T - lseT);
        }
        if (kept < m || k > 0 || m >= n_finite)
            break;
        m = m * 4 < n_finite ? m * 4 : n_finite; /* the nucleus is wider: look further */
    }
    if (grow(out, cap, *n + kept))
        return -1;
    for (int j = 0; j < kept; j++) {
        sbti_cand *c = &(*out)[*n + j];
        c->id = idx[j];
        c->lp = (float)(x[idx[j]] - lse1);
        c->proc = ((double)x[idx[j]] - lse1) / T;
    }
    *n += kept;
    return kept;
}

double sbti_uniform(sbti_rng *rng)
{
    return ((double)(sbti_rng_next(rng) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

double sbti_gumbel(sbti_rng *rng)
{
    return -log(-log(sbti_uniform(rng)));
}
