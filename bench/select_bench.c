/* select_bench.c — the CUDA backend's select (next-token candidates, cuda_select.cu) on R rows of
 * a Llama-3 vocabulary, in the modes a decoder uses: its beam-sample group (temperature 0.7,
 * top-k 50, top-p 0.9, min_keep 2, k 64), its sampling group (the same with min_keep 1, k 1),
 * greedy / beam candidates (no sampling, k 64); then nucleus sampling over the whole row (top-k
 * off, top-p 0.9) and plain sampling (everything kept), the general kernel's modes. The
 * beam-sample group runs again on rows padded to a multiple of 8 columns (args.row_stride, as
 * the LM head writes them). Two kinds of logits: spread like a trained model's (normal, sd 2)
 * and nearly uniform like a random model's (normal, sd 0.1), whose nucleus holds most of the
 * vocabulary. Built with -DSELFBT_CUDA=ON, never run by ctest.
 *
 *   select_bench [ITERS] [R] [V]       (defaults 20, 2048, 128257)
 *
 * Each timing is the mean over ITERS calls queued back to back after 3 warm-up calls, host
 * wall clock around the queue and a final synchronisation; GB/s counts one read of the logits. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime (core/clock.h) */

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "backend/backend.h"

#define BENCH_NAME "select_bench"
#include "bench_util.h"

/* R rows of normal(0, sd) logits, row r at r * S: 64 distinct rows, repeated; the padding of a
 * row (S > V) is +1e4, never to be selected. */
static void fill(sbti_backend *be, void *logits, int R, int V, int S, float sd)
{
    const int D = R < 64 ? R : 64;
    float *x = malloc((size_t)D * S * sizeof *x);
    if (!x)
        die("malloc");
    for (size_t i = 0; i < (size_t)D * S; i++)
        x[i] = (int)(i % (size_t)S) < V
                   ? sd * (float)(sqrt(-2.0 * log(bench_unif())) * cos(6.283185307179586 * bench_unif()))
                   : 1e4f;
    for (int r = 0; r < R; r += D) {
        int n = R - r < D ? R - r : D;
        if (be->ops->upload(be, logits, SBTI_MEM_ACT, (size_t)r * S, x, SBTI_F32, (size_t)n * S))
            die("upload");
    }
    free(x);
}

int main(int argc, char **argv)
{
    int iters = argc > 1 ? atoi(argv[1]) : 20, R = argc > 2 ? atoi(argv[2]) : 2048,
        V = argc > 3 ? atoi(argv[3]) : 128257;
    if (iters <= 0 || R <= 0 || V <= 0) {
        fprintf(stderr, "usage: select_bench [ITERS] [R] [V]\n");
        return 2;
    }
    sbti_backend *be = NULL;
    if (sbti_backend_cuda_create(&be, 0) != SBT_OK)
        die("sbti_backend_cuda_create");
    printf("%s\nR = %d rows, V = %d, %d calls each\n\n", be->description, R, V, iters);

    const int K = 64, S = (V + 7) / 8 * 8; /* the padded row stride */
    void *logits, *ids, *lp, *key, *kept, *extra, *seeds;
    if (be->ops->alloc(be, &logits, SBTI_MEM_ACT, (size_t)R * S) ||
        be->ops->alloc(be, &ids, SBTI_MEM_I32, (size_t)R * K) ||
        be->ops->alloc(be, &lp, SBTI_MEM_F32, (size_t)R * K) ||
        be->ops->alloc(be, &key, SBTI_MEM_F32, (size_t)R * K) ||
        be->ops->alloc(be, &kept, SBTI_MEM_I32, (size_t)R) ||
        be->ops->alloc(be, &extra, SBTI_MEM_F32, (size_t)R) ||
        be->ops->alloc(be, &seeds, SBTI_MEM_I32, (size_t)2 * R))
        die("alloc");
    int32_t *hs = malloc((size_t)2 * R * sizeof *hs), *hk = malloc((size_t)R * sizeof *hk);
    if (!hs || !hk)
        die("malloc");
    for (int i = 0; i < 2 * R; i++)
        hs[i] = (int32_t)(bench_unif() * 2147483647.0);
    if (be->ops->upload(be, seeds, SBTI_MEM_I32, 0, hs, SBTI_F32, (size_t)2 * R))
        die("upload");

    static const struct {
        const char *name;
        sbti_select_args a;
    } modes[] = {
        {"beam-sample T=.7 top_k=50 top_p=.9 mk=2", {1, 0.7f, 50, 0.9f, 2, K, 0, 0}},
        {"sample T=.7 top_k=50 top_p=.9 k=1", {1, 0.7f, 50, 0.9f, 1, 1, 0, 0}},
        {"greedy / beam (no sampling)", {0, 1.0f, 0, 1.0f, 1, K, 0, 0}},
        {"sample T=.7 top_p=.9 (top_k off)", {1, 0.7f, 0, 0.9f, 1, K, 0, 0}},
        {"sample T=1 (all kept)", {1, 1.0f, 0, 1.0f, 1, K, 0, 0}},
        {"beam-sample, rows padded to 8 columns", {1, 0.7f, 50, 0.9f, 2, K, 0, -1}},
    };
    static const float sds[] = {2.0f, 0.1f};
    printf("%-40s %-8s %12s %10s %8s\n", "mode (k = 64 unless said, extra_lp on)", "logits",
           "mean kept", "ms/call", "GB/s");
    for (int d = 0; d < 2; d++) {
        int filled = -1; /* the stride the logits hold */
        for (size_t m = 0; m < sizeof modes / sizeof *modes; m++) {
            sbti_select_args args = modes[m].a;
            const int stride = args.row_stride < 0 ? S : V;
            args.row_stride = stride;
            if (filled != stride) {
                fill(be, logits, R, V, stride, sds[d]);
                filled = stride;
            }
            const sbti_select_args *a = &args;
            for (int i = 0; i < 3; i++)
                be->ops->select(be, ids, lp, key, kept, extra, logits, seeds, R, V, a);
            if (be->ops->sync(be))
                die("select");
            double t0 = sbti_now();
            for (int i = 0; i < iters; i++)
                be->ops->select(be, ids, lp, key, kept, extra, logits, seeds, R, V, a);
            if (be->ops->sync(be))
                die("select");
            double ms = (sbti_now() - t0) * 1e3 / iters;
            if (be->ops->download(be, hk, kept, SBTI_MEM_I32, 0, (size_t)R))
                die("download");
            double mean = 0;
            for (int r = 0; r < R; r++)
                mean += hk[r];
            printf("%-40s sd %-5.1f %12.1f %10.3f %8.0f\n", modes[m].name, sds[d], mean / R, ms,
                   (double)R * V * 2 / (ms * 1e-3) / 1e9);
            fflush(stdout);
        }
    }
    be->ops->free(be, logits), be->ops->free(be, ids), be->ops->free(be, lp);
    be->ops->free(be, key), be->ops->free(be, kept), be->ops->free(be, extra);
    be->ops->free(be, seeds);
    free(hs), free(hk);
    sbti_backend_destroy(be);
    return 0;
}
