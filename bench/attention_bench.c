/* attention_bench.c — causal GQA attention of the CUDA backend, forward and forward+backward, in
 * each attention mode (cuda_hooks.h): the default (auto), cuDNN's fused SDPA (deterministic
 * backward), cuDNN with its atomic backward, and the plain kernels. Built with -DSELFBT_CUDA=ON, never run by ctest;
 * bench/attention_bench.py times PyTorch's F.scaled_dot_product_attention on the same shapes,
 * and docs/benchmarks.md has the numbers.
 *
 *   attention_bench [ITERS] [B,T,nh,nkv,hd ...]
 *
 * Each timing is the mean over ITERS calls (default 20) queued back to back after 3 warm-up
 * calls, host wall clock around the queue and a final synchronisation. FLOPs count the causal
 * half of the score matrix: forward 4 * B * nh * hd * T * (T + 1) / 2 (Q·Kᵀ and P·V), backward
 * 2.5 times that (five products of the same size). */
#define _POSIX_C_SOURCE 200809L /* clock_gettime (core/clock.h) */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"

#define BENCH_NAME "attention_bench"
#include "bench_util.h"
#include "backend/cuda/cuda_hooks.h"

static float *normal_host(size_t n, unsigned seed)
{
    float *x = malloc(n * sizeof *x);
    if (!x)
        die("malloc");
    unsigned s = seed;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = ((float)(s >> 8) / 16777216.0f - 0.5f) * 3.4f; /* uniform, variance about 1 */
    }
    return x;
}

int main(int argc, char **argv)
{
    int iters = argc > 1 ? atoi(argv[1]) : 20;
    if (iters <= 0)
        iters = 20;
    static const int defaults[][5] = {{4, 512, 32, 8, 64},  {16, 512, 32, 8, 64},
                                      {8, 1024, 32, 8, 64}, {4, 2048, 32, 8, 64},
                                      {4, 4096, 32, 8, 64}, {16, 256, 32, 8, 64},
                                      {4, 512, 32, 8, 128}};
    int nshape = argc > 2 ? argc - 2 : (int)(sizeof defaults / sizeof *defaults);
    int (*shapes)[5] = calloc((size_t)nshape, sizeof *shapes);
    for (int i = 0; i < nshape; i++) {
        if (argc > 2) {
            if (sscanf(argv[i + 2], "%d,%d,%d,%d,%d", &shapes[i][0], &shapes[i][1], &shapes[i][2],
                       &shapes[i][3], &shapes[i][4]) != 5) {
                fprintf(stderr, "attention_bench: shape %s is not B,T,nh,nkv,hd\n", argv[i + 2]);
                return 2;
            }
        } else {
            memcpy(shapes[i], defaults[i], sizeof shapes[i]);
        }
    }

    sbti_backend *be = NULL;
    if (sbti_backend_cuda_create(&be, 0) != SBT_OK)
        die("cuda backend");
    printf("# %s\n# iters %d; ms per call; TFLOP/s counting the causal half\n", be->description,
           iters);
    printf("%-13s %3s %5s %3s %3s %4s %10s %10s %12s %12s  %s\n", "mode", "B", "T", "nh", "nkv",
           "hd", "fwd_ms", "fwd_TF/s", "fwdbwd_ms", "fwdbwd_TF/s", "path");
    const char *modes[] = {"auto", "cudnn", "cudnn-nondet", "plain"};
    for (int s = 0; s < nshape; s++) {
        int B = shapes[s][0], T = shapes[s][1], nh = shapes[s][2], nkv = shapes[s][3],
            hd = shapes[s][4];
        size_t W = (size_t)(nh + 2 * nkv) * hd, BT = (size_t)B * T;
        void *qkv, *out, *dout, *dqkv;
        float *lse;
        if (be->ops->alloc(be, &qkv, SBTI_MEM_ACT, BT * W) != SBT_OK ||
            be->ops->alloc(be, &out, SBTI_MEM_ACT, BT * nh * hd) != SBT_OK ||
            be->ops->alloc(be, &dout, SBTI_MEM_ACT, BT * nh * hd) != SBT_OK ||
            be->ops->alloc(be, &dqkv, SBTI_MEM_ACT, BT * W) != SBT_OK ||
            be->ops->alloc(be, (void **)&lse, SBTI_MEM_F32, (size_t)B * nh * T) != SBT_OK)
            die("alloc");
        float *h = normal_host(BT * W, 1u + (unsigned)s);
        if (be->ops->upload(be, qkv, SBTI_MEM_ACT, 0, h, SBTI_F32, BT * W) != SBT_OK ||
            be->ops->upload(be, dout, SBTI_MEM_ACT, 0, h, SBTI_F32, BT * nh * hd) != SBT_OK)
            die("upload");
        free(h);
        double fwd_flop = 4.0 * B * nh * hd * (double)T * (T + 1) / 2.0;
        for (size_t m = 0; m < sizeof modes / sizeof *modes; m++) {
            if (sbti_cuda_attention_set_mode(be, modes[m]) != 0)
                die("mode");
            double t_fwd = 0.0, t_all = 0.0;
            const char *path_f = "", *path_b = "", *why = "";
            for (int phase = 0; phase < 2; phase++) {
                for (int i = 0; i < 3 + iters; i++) {
                    if (i == 3) {
                        if (sbti_backend_check(be) != SBT_OK)
                            die("warm-up");
                        (phase ? &t_all : &t_fwd)[0] = sbti_now();
                    }
                    be->ops->attention_fwd(be, out, lse, qkv, NULL, B, T, nh, nkv, hd);
                    if (i == 0)
                        path_f = sbti_cuda_attention_path(be, &why);
                    if (phase) {
                        be->ops->attention_bwd(be, dqkv, dout, qkv, out, lse, NULL, B, T, nh, nkv,
                                               hd);
                        if (i == 0)
                            path_b = sbti_cuda_attention_path(be, &why);
                    }
                }
                if (sbti_backend_check(be) != SBT_OK)
                    die(modes[m]);
                double *t = phase ? &t_all : &t_fwd;
                *t = (sbti_now() - *t) / iters;
            }
            printf("%-13s %3d %5d %3d %3d %4d %10.3f %10.1f %12.3f %12.1f  fwd=%s bwd=%s%s%s\n",
                   modes[m], B, T, nh, nkv, hd, 1e3 * t_fwd, fwd_flop / t_fwd * 1e-12,
                   1e3 * t_all, 3.5 * fwd_flop / t_all * 1e-12, path_f, path_b,
                   why[0] ? " | " : "", why);
            fflush(stdout);
        }
        be->ops->free(be, qkv);
        be->ops->free(be, out);
        be->ops->free(be, dout);
        be->ops->free(be, dqkv);
        be->ops->free(be, lse);
    }
    free(shapes);
    sbti_backend_destroy(be);
    return 0;
}
