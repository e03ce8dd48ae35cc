/* test_select.c — the reference of backend.h's select (lib/backend/cpu/cpu_select.c): what it
 * keeps against a plain transcription of transformers' warpers (a full sort, the ascending
 * cumulative sum of TopPLogitsWarper), its order, its log-probs, and its Gumbel keys as draws:
 * the best key's frequencies match the warped distribution, and the k best of rows plus beam
 * scores match a sequential draw without replacement. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "core/rng.h"

#include "check_main.h"

/* ---- the plain transcription ------------------------------------------------------------- */

static const float *g_x;

static int by_rank(const void *a, const void *b) /* x desc, id asc */
{
    int32_t i = *(const int32_t *)a, j = *(const int32_t *)b;
    if (g_x[i] != g_x[j])
        return g_x[i] > g_x[j] ? -1 : 1;
    return i < j ? -1 : 1;
}

/* The tokens the warpers keep, in rank order; returns how many. Sorted ascending as
 * TopPLogitsWarper does: remove a token when the cumulative mass up to it (from the bottom) is
 * <= 1 - top_p; keep the min_keep best anyway. */
static int naive_kept(const float *x, int V, const sbti_select_args *a, int32_t *order)
{
    int n = 0;
    for (int i = 0; i < V; i++)
        if (x[i] > -INFINITY)
            order[n++] = i;
    g_x = x;
    qsort(order, (size_t)n, sizeof *order, by_rank);
    if (!a->sample)
        return n;
    int mk = a->min_keep < 1 ? 1 : a->min_keep;
    if (a->top_k > 0) {
        int k = a->top_k > mk ? a->top_k : mk;
        n = n < k ? n : k;
    }
    if (a->top_p >= 1.0f)
        return n;
    double mx = x[order[0]] / a->temperature, s = 0;
    for (int j = 0; j < n; j++)
        s += exp(x[order[j]] / a->temperature - mx);
    double below = 0; /* from the bottom: the mass of ranks >= j */
    int kept = n;
    for (int j = n - 1; j >= mk; j--) {
        below += exp(x[order[j]] / a->temperature - mx) / s;
        if (below <= 1.0 - a->top_p)
            kept = j;
        else
            break;
    }
    return kept;
}

static void random_row(sbti_rng *r, float *x, int V, int ties, int holes)
{
    for (int i = 0; i < V; i++) {
        double u = (double)(sbti_rng_next(r) >> 11) / 9007199254740992.0;
        x[i] = (float)(4.0 * u - 2.0);
        if (ties)
            x[i] = roundf(x[i] * 4.0f) / 4.0f;
        if (holes && sbti_rng_next(r) % 7 == 0)
            x[i] = (sbti_rng_next(r) & 1) ? -INFINITY : NAN;
    }
}

static int run(const float *x, int V, const sbti_select_args *a, uint64_t seed, int32_t *ids,
               float *lp, float *key, float *extra)
{
    int32_t kept = -7, sd[2] = {(int32_t)(uint32_t)seed, (int32_t)(uint32_t)(seed >> 32)};
    ck_assert_int_eq(sbti_select_host(ids, lp, key, a->k, &kept, extra, x, sd, 1, V, a), 0);
    return kept;
}

/* ---- tests ------------------------------------------------------------------------------- */

/* Kept counts and the deterministic order equal the plain transcription; lp = log_softmax. */
START_TEST(kept_and_order_match_the_warpers)
{
    const sbti_select_args modes[] = {
        {.sample = 0, .k = 16, .extra_id = 3},
        {.sample = 1, .temperature = 0.7f, .top_k = 50, .top_p = 0.9f, .min_keep = 2, .k = 64},
        {.sample = 1, .temperature = 0.7f, .top_k = 0, .top_p = 0.9f, .min_keep = 1, .k = 8},
        {.sample = 1, .temperature = 1.3f, .top_k = 5, .top_p = 1.0f, .min_keep = 1, .k = 8},
        {.sample = 1, .temperature = 0.5f, .top_k = 0, .top_p = 0.3f, .min_keep = 3, .k = 4},
        {.sample = 1, .temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .min_keep = 1, .k = 512},
    };
    const int Vs[] = {1, 2, 5, 33, 300, 5000};
    sbti_rng r;
    sbti_rng_init(&r, 11, 0, 0);
    float *x = malloc(sizeof(float) * 5000), lp[512], key[512], extra;
    int32_t *order = malloc(sizeof(int32_t) * 5000), ids[512];
    for (size_t m = 0; m < sizeof modes / sizeof *modes; m++)
        for (size_t vi = 0; vi < sizeof Vs / sizeof *Vs; vi++)
            for (int trial = 0; trial < 6; trial++) {
                const int V = Vs[vi];
                sbti_select_args a = modes[m];
                a.extra_id = V > 3 ? 3 : -1;
                random_row(&r, x, V, trial & 1, trial & 2);
                int want = naive_kept(x, V, &a, order);
                int kept = run(x, V, &a, 99 + trial, ids, lp, key, &extra);
                ck_assert_msg(kept == want, "mode %zu V %d trial %d: kept %d, warpers keep %d", m,
                              V, trial, kept, want);
                double mx = -INFINITY, s = 0;
                for (int i = 0; i < V; i++)
                    mx = x[i] > mx ? x[i] : mx;
                for (int i = 0; i < V; i++)
                    if (x[i] > -INFINITY)
                        s += exp(x[i] - mx);
                const double lse = mx + log(s);
                int n = kept < a.k ? kept : a.k;
                for (int j = 0; j < a.k; j++) {
                    if (j >= n) {
                        ck_assert_int_eq(ids[j], -1);
                        continue;
                    }
                    if (!a.sample) /* the k best in rank order */
                        ck_assert_int_eq(ids[j], order[j]);
                    else { /* a kept token, keys best first */
                        int in = 0;
                        for (int q = 0; q < kept && !in; q++)
                            in = order[q] == ids[j];
                        ck_assert_msg(in, "mode %zu: id %d is not kept", m, ids[j]);
                        if (j > 0)
                            ck_assert(key[j - 1] > key[j] ||
                                      (key[j - 1] == key[j] && ids[j - 1] < ids[j]));
                    }
                    ck_assert_float_eq_tol(lp[j], x[ids[j]] - lse, 1e-5);
                }
                if (a.extra_id >= 0 && x[3] > -INFINITY)
                    ck_assert_float_eq_tol(extra, x[3] - lse, 1e-5);
                else if (a.extra_id >= 0)
                    ck_assert(extra == -INFINITY);
            }
    free(x);
    free(order);
}
END_TEST

/* The best key over many seeds is a draw from softmax(x / T) restricted to the kept set. */
START_TEST(best_key_is_a_draw_from_the_warped_distribution)
{
    const float x[6] = {1.0f, 0.5f, 0.0f, -0.5f, -1.0f, -3.0f};
    const sbti_select_args a = {.sample = 1, .temperature = 0.8f, .top_k = 0, .top_p = 0.97f,
                                .min_keep = 1, .k = 1, .extra_id = -1};
    int32_t order[6];
    const int kept = naive_kept(x, 6, &a, order);
    ck_assert_int_eq(kept, 5); /* the last token falls outside the nucleus */
    double p[6] = {0}, s = 0;
    for (int j = 0; j < kept; j++)
        s += p[order[j]] = exp(x[order[j]] / a.temperature);
    const int draws = 40000;
    int count[6] = {0};
    for (int d = 0; d < draws; d++) {
        int32_t id;
        float lp, key, extra;
        run(x, 6, &a, 0x1234567ull * (uint64_t)(d + 1), &id, &lp, &key, &extra);
        count[id]++;
    }
    double chi2 = 0;
    for (int i = 0; i < 6; i++) {
        double e = draws * p[i] / s;
        if (e == 0) {
            ck_assert_int_eq(count[i], 0);
            continue;
        }
        chi2 += (count[i] - e) * (count[i] - e) / e;
    }
    ck_assert_msg(chi2 < 20.5, "chi-square %.2f over 4 degrees of freedom (p < 0.0005)", chi2);
}
END_TEST

/* Two rows with beam scores: the best two of (score + key) over both rows are a draw of two
 * without replacement from softmax(score + lp / T) over all pairs (row, token). */
START_TEST(keys_plus_scores_draw_without_replacement_across_rows)
{
    const float x[2][3] = {{0.0f, -0.4f, -1.2f}, {0.3f, -0.2f, -2.0f}};
    const double score[2] = {0.0, -0.7};
    const sbti_select_args a = {.sample = 1, .temperature = 1.0f, .top_k = 0, .top_p = 1.0f,
                                .min_keep = 1, .k = 2, .extra_id = -1};
    double w[6], tot = 0; /* the pair weights */
    for (int r = 0; r < 2; r++) {
        double mx = -INFINITY, s = 0;
        for (int i = 0; i < 3; i++)
            mx = x[r][i] > mx ? x[r][i] : mx;
        for (int i = 0; i < 3; i++)
            s += exp(x[r][i] - mx);
        for (int i = 0; i < 3; i++)
            tot += w[3 * r + i] = exp(score[r] + x[r][i] - mx - log(s));
    }
    /* P(first = a, second = b) sequentially without replacement */
    const int draws = 60000;
    int count[6][6] = {{0}};
    for (int d = 0; d < draws; d++) {
        double best[2] = {-INFINITY, -INFINITY};
        int who[2] = {-1, -1};
        for (int r = 0; r < 2; r++) {
            int32_t ids[2];
            float lp[2], key[2], extra;
            run(x[r], 3, &a, (uint64_t)d * 7919u + (uint64_t)r * 0x9E37ull + 1, ids, lp, key,
                &extra);
            for (int c = 0; c < 2; c++) {
                double k = score[r] + key[c];
                int pair = 3 * r + ids[c];
                if (k > best[0]) {
                    best[1] = best[0], who[1] = who[0];
                    best[0] = k, who[0] = pair;
                } else if (k > best[1]) {
                    best[1] = k, who[1] = pair;
                }
            }
        }
        count[who[0]][who[1]]++;
    }
    double chi2 = 0;
    int cells = 0;
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 6; j++) {
            if (i == j) {
                ck_assert_int_eq(count[i][j], 0);
                continue;
            }
            double e = draws * (w[i] / tot) * (w[j] / (tot - w[i]));
            chi2 += (count[i][j] - e) * (count[i][j] - e) / e;
            cells++;
        }
    ck_assert_int_eq(cells, 30);
    ck_assert_msg(chi2 < 64.0, "chi-square %.2f over 29 degrees of freedom (p < 0.0002)", chi2);
}
END_TEST

/* Host and device share sbti_select_uniform: values in (0, 1), spread evenly. */
START_TEST(uniform_is_in_the_open_interval_and_even)
{
    int bins[16] = {0};
    for (int i = 0; i < 160000; i++) {
        float u = sbti_select_uniform(0xABCDEFull + (uint64_t)(i / 1000), i % 1000);
        ck_assert(u > 0.0f && u < 1.0f);
        bins[(int)(u * 16)]++;
    }
    for (int b = 0; b < 16; b++)
        ck_assert_msg(abs(bins[b] - 10000) < 500, "bin %d has %d of 160000", b, bins[b]);
    /* the extremes of the 23 bits stay inside: an all-ones draw is below 1 */
    ck_assert(((float)((1u << 23) - 1) + 0.5f) * (1.0f / 8388608.0f) < 1.0f);
}
END_TEST

/* Rows padded to a longer stride (args.row_stride), the padding +1e4 that must never be
 * selected: the same bits as the unpadded rows, on the host path and the CPU backend's op. */
START_TEST(padded_rows_equal_unpadded)
{
    const sbti_select_args modes[] = {
        {.sample = 0, .k = 16, .extra_id = 3},
        {.sample = 1, .temperature = 0.7f, .top_k = 50, .top_p = 0.9f, .min_keep = 2, .k = 64,
         .extra_id = 3},
        {.sample = 1, .temperature = 0.7f, .top_k = 0, .top_p = 0.9f, .min_keep = 1, .k = 8,
         .extra_id = 3},
        {.sample = 1, .temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .min_keep = 1, .k = 1,
         .extra_id = -1},
    };
    const int shapes[][2] = {{33, 40}, {1000, 1003}, {5000, 5000}, {5000, 5008}};
    enum { R = 5, KMAX = 64 };
    sbti_rng r;
    sbti_rng_init(&r, 12, 0, 0);
    sbti_backend *be = NULL;
    ck_assert_int_eq(sbti_backend_cpu_create(&be, 2), SBT_OK);
    for (size_t sh = 0; sh < sizeof shapes / sizeof *shapes; sh++) {
        const int V = shapes[sh][0], S = shapes[sh][1];
        float *x = malloc(sizeof(float) * R * V), *xp = malloc(sizeof(float) * R * S);
        ck_assert(x && xp);
        for (int row = 0; row < R; row++) {
            random_row(&r, x + (size_t)row * V, V, row & 1, row & 2);
            for (int i = 0; i < S; i++)
                xp[(size_t)row * S + i] = i < V ? x[(size_t)row * V + i] : 1e4f;
        }
        int32_t sd[2 * R];
        for (int i = 0; i < 2 * R; i++)
            sd[i] = (int32_t)sbti_rng_next(&r);
        for (size_t m = 0; m < sizeof modes / sizeof *modes; m++) {
            sbti_select_args a = modes[m], ap = modes[m];
            ap.row_stride = S;
            int32_t ids[2][R * KMAX], kept[2][R];
            float lp[2][R * KMAX], key[2][R * KMAX], extra[2][R];
            ck_assert_int_eq(sbti_select_host(ids[0], lp[0], key[0], a.k, kept[0], extra[0], x,
                                              sd, R, V, &a),
                             0);
            ck_assert_int_eq(sbti_select_host(ids[1], lp[1], key[1], a.k, kept[1], extra[1], xp,
                                              sd, R, V, &ap),
                             0);
            const size_t n = (size_t)R * a.k;
            ck_assert_msg(memcmp(ids[0], ids[1], n * 4) == 0 && memcmp(lp[0], lp[1], n * 4) == 0 &&
                              memcmp(key[0], key[1], n * 4) == 0 &&
                              memcmp(kept[0], kept[1], sizeof kept[0]) == 0 &&
                              (a.extra_id < 0 || memcmp(extra[0], extra[1], sizeof extra[0]) == 0),
                          "host: V %d stride %d mode %zu: padded rows differ", V, S, m);
            for (size_t j = 0; j < n; j++)
                ck_assert(ids[1][j] >= -1 && ids[1][j] < V);
            /* the backend's op (ACT is fp32 on the CPU backend) */
            int32_t oids[R * KMAX], okept[R];
            float olp[R * KMAX], okey[R * KMAX], oextra[R];
            be->ops->select(be, oids, olp, okey, okept, oextra, xp, a.sample ? sd : NULL, R, V,
                            &ap);
            ck_assert_int_eq(sbti_backend_check(be), SBT_OK);
            ck_assert_msg(memcmp(ids[0], oids, n * 4) == 0 && memcmp(lp[0], olp, n * 4) == 0 &&
                              memcmp(key[0], okey, n * 4) == 0 &&
                              memcmp(kept[0], okept, sizeof okept) == 0,
                          "op: V %d stride %d mode %zu: padded rows differ", V, S, m);
        }
        free(x);
        free(xp);
    }
    sbti_backend_destroy(be);
}
END_TEST

START_TEST(bad_arguments_are_refused)
{
    sbti_select_args a = {.sample = 0, .k = 0, .extra_id = -1};
    ck_assert_int_eq(sbti_select_check(&a, 1, 10), SBT_E_INVALID_ARGUMENT);
    a.k = SBTI_SELECT_MAX_K + 1;
    ck_assert_int_eq(sbti_select_check(&a, 1, 10), SBT_E_INVALID_ARGUMENT);
    a.k = 4;
    a.extra_id = 10;
    ck_assert_int_eq(sbti_select_check(&a, 1, 10), SBT_E_INVALID_ARGUMENT);
    a.extra_id = 9;
    ck_assert_int_eq(sbti_select_check(&a, 1, 10), SBT_OK);
    a.sample = 1;
    a.top_p = 1.0f;
    a.min_keep = 1;
    a.temperature = 0.0f;
    ck_assert_int_eq(sbti_select_check(&a, 1, 10), SBT_E_INVALID_ARGUMENT);
    a.temperature = 0.7f;
    ck_assert_int_eq(sbti_select_check(&a, 1, 10), SBT_OK);
    /* row_stride: 0 (V) or at least V */
    a.row_stride = 9;
    ck_assert_int_eq(sbti_select_check(&a, 1, 10), SBT_E_INVALID_ARGUMENT);
    ck_assert_msg(strstr(sbt_last_error(), "row_stride = 9") != NULL, "%s", sbt_last_error());
    a.row_stride = 10;
    ck_assert_int_eq(sbti_select_check(&a, 1, 10), SBT_OK);
    a.row_stride = 16;
    ck_assert_int_eq(sbti_select_check(&a, 1, 10), SBT_OK);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("select");
    TCase *tc = tcase_create("select");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, kept_and_order_match_the_warpers);
    tcase_add_test(tc, best_key_is_a_draw_from_the_warped_distribution);
    tcase_add_test(tc, keys_plus_scores_draw_without_replacement_across_rows);
    tcase_add_test(tc, uniform_is_in_the_open_interval_and_even);
    tcase_add_test(tc, padded_rows_equal_unpadded);
    tcase_add_test(tc, bad_arguments_are_refused);
    suite_add_tcase(s, tc);
    return s;
}

SBT_CHECK_MAIN(suite)
