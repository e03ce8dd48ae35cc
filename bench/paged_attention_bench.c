/* paged_attention_bench.c — the CUDA backend's attention_paged (cuda_attention_paged.cu) at the
 * shape of a decoding step of the Llama-3.2-1B configuration in the self-backtracking search:
 * P problems x B beams = P*B rows (sequences), one new token each, 32 query heads, 8 key/value
 * heads, hd 64, a bf16 cache in pages (of 1 position by default). The B beams of a problem
 * share the pages of its first PROMPT positions (the same physical pages); beam b of a problem
 * then has 1 + b % GEN positions of its own, in pages of its own, so rows attend PROMPT + 1 to
 * PROMPT + GEN positions. Physical pages are shuffled, as a pool that was used a while. Built
 * with -DSELFBT_CUDA=ON, never run by ctest.
 *
 *   paged_attention_bench [ITERS] [P] [B] [PROMPT] [GEN] [PAGE_SIZE]
 *                         (defaults 50, 64, 32, 24, 26, 1)
 *
 * The timing is the mean over ITERS calls queued back to back after 3 warm-up calls, host wall
 * clock around the queue and a final synchronisation (the K/V of one call partly stays in L2
 * for the next; `ncu --kernel-name regex:paged` gives the per-call time from a flushed L2, the
 * decoder's case). GB/s counts every row's K and V reads once (what the rows read, the shared
 * prompt pages counted per row); "unique" is the cache bytes that exist. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime (core/clock.h) */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "backend/backend.h"

#define BENCH_NAME "paged_attention_bench"
#include "bench_util.h"

/* uniform in [-1.7, 1.7): variance about 1 */
static float unif(void) { return ((float)(bench_next() >> 40) / 16777216.0f - 0.5f) * 3.4f; }

typedef struct paged_case {
    int N, nh, nkv, hd, page_size, max_pages;
    size_t nslots;
    double row_bytes, unique_bytes; /* K+V bytes the rows read; K+V bytes of the used pages */
    void *qkv, *kc, *vc, *out;
    int32_t *seq, *pos, *pages; /* device */
} paged_case;

static void upload_random(sbti_backend *be, void *dst, size_t n)
{
    const size_t CH = (size_t)1 << 22;
    float *x = malloc(CH * sizeof *x);
    if (!x)
        die("malloc");
    for (size_t off = 0; off < n; off += CH) {
        size_t k = n - off < CH ? n - off : CH;
        for (size_t i = 0; i < k; i++)
            x[i] = unif();
        if (be->ops->upload(be, dst, SBTI_MEM_ACT, off, x, SBTI_F32, k))
            die("upload");
    }
    free(x);
}

static void setup(sbti_backend *be, paged_case *c, int P, int B, int prompt, int gen, int ps)
{
    c->N = P * B, c->nh = 32, c->nkv = 8, c->hd = 64, c->page_size = ps;
    const int shared = prompt / ps; /* whole pages of the prompt: shared by the beams */
    const int maxlen = prompt + gen;
    c->max_pages = (maxlen + ps - 1) / ps;
    /* physical pages: each problem's shared ones, then each beam's own */
    const int own = c->max_pages - shared;
    const int npool = P * shared + P * B * own;
    int32_t *perm = malloc((size_t)npool * sizeof *perm);
    int32_t *pages = malloc((size_t)c->N * c->max_pages * sizeof *pages);
    int32_t *seq = malloc((size_t)c->N * sizeof *seq), *pos = malloc((size_t)c->N * sizeof *pos);
    if (!perm || !pages || !seq || !pos)
        die("malloc");
    for (int i = 0; i < npool; i++)
        perm[i] = i;
    for (int i = npool - 1; i > 0; i--) {
        int j = (int)(bench_next() % (uint64_t)(i + 1)), x = perm[i];
        perm[i] = perm[j];
        perm[j] = x;
    }
    int next_page = 0;
    c->row_bytes = 0;
    double used = 0;
    for (int p = 0; p < P; p++) {
        const int first = next_page;
        next_page += shared;
        used += shared;
        for (int b = 0; b < B; b++) {
            const int r = p * B + b, len = prompt + 1 + b % gen;
            int32_t *t = pages + (size_t)r * c->max_pages;
            for (int k = 0; k < shared; k++)
                t[k] = perm[first + k];
            for (int k = shared; k < c->max_pages; k++)
                t[k] = perm[next_page++];
            used += (len + ps - 1) / ps - shared;
            seq[r] = r;
            pos[r] = len - 1;
            c->row_bytes += (double)len * 2 * c->nkv * c->hd * 2;
        }
    }
    c->nslots = (size_t)npool * ps;
    c->unique_bytes = used * ps * 2 * c->nkv * c->hd * 2;
    const size_t W = (size_t)(c->nh + 2 * c->nkv) * c->hd, row = (size_t)c->nkv * c->hd;
    if (be->ops->alloc(be, &c->qkv, SBTI_MEM_ACT, (size_t)c->N * W) ||
        be->ops->alloc(be, &c->kc, SBTI_MEM_ACT, c->nslots * row) ||
        be->ops->alloc(be, &c->vc, SBTI_MEM_ACT, c->nslots * row) ||
        be->ops->alloc(be, &c->out, SBTI_MEM_ACT, (size_t)c->N * c->nh * c->hd) ||
        be->ops->alloc(be, (void **)&c->seq, SBTI_MEM_I32, (size_t)c->N) ||
        be->ops->alloc(be, (void **)&c->pos, SBTI_MEM_I32, (size_t)c->N) ||
        be->ops->alloc(be, (void **)&c->pages, SBTI_MEM_I32, (size_t)c->N * c->max_pages))
        die("alloc");
    upload_random(be, c->qkv, (size_t)c->N * W);
    upload_random(be, c->kc, c->nslots * row);
    upload_random(be, c->vc, c->nslots * row);
    if (be->ops->upload(be, c->seq, SBTI_MEM_I32, 0, seq, SBTI_F32, (size_t)c->N) ||
        be->ops->upload(be, c->pos, SBTI_MEM_I32, 0, pos, SBTI_F32, (size_t)c->N) ||
        be->ops->upload(be, c->pages, SBTI_MEM_I32, 0, pages, SBTI_F32,
                        (size_t)c->N * c->max_pages))
        die("upload");
    free(perm), free(pages), free(seq), free(pos);
}

static void call(sbti_backend *be, const paged_case *c)
{
    be->ops->attention_paged(be, c->out, c->qkv, c->kc, c->vc, c->seq, c->pos, c->pages,
                             c->max_pages, c->page_size, c->N, c->nh, c->nkv, c->hd);
}

/* Mean ms a call over iters calls back to back, after 3 warm-up calls. */
static double time_calls(sbti_backend *be, const paged_case *c, int iters)
{
    for (int i = 0; i < 3; i++)
        call(be, c);
    if (be->ops->sync(be))
        die("attention_paged");
    double t0 = sbti_now();
    for (int i = 0; i < iters; i++)
        call(be, c);
    if (be->ops->sync(be))
        die("attention_paged");
    return (sbti_now() - t0) * 1e3 / iters;
}

static void free_case(sbti_backend *be, paged_case *c)
{
    be->ops->free(be, c->qkv), be->ops->free(be, c->kc), be->ops->free(be, c->vc);
    be->ops->free(be, c->out), be->ops->free(be, c->seq), be->ops->free(be, c->pos);
    be->ops->free(be, c->pages);
}

int main(int argc, char **argv)
{
    int iters = argc > 1 ? atoi(argv[1]) : 50, P = argc > 2 ? atoi(argv[2]) : 64,
        B = argc > 3 ? atoi(argv[3]) : 32, prompt = argc > 4 ? atoi(argv[4]) : 24,
        gen = argc > 5 ? atoi(argv[5]) : 26, ps = argc > 6 ? atoi(argv[6]) : 1;
    if (iters <= 0 || P <= 0 || B <= 0 || prompt < 0 || gen <= 0 || ps <= 0) {
        fprintf(stderr, "usage: paged_attention_bench [ITERS] [P] [B] [PROMPT] [GEN] [PAGE_SIZE]\n");
        return 2;
    }
    sbti_backend *be = NULL;
    if (sbti_backend_cuda_create(&be, 0) != SBT_OK)
        die("sbti_backend_cuda_create");
    paged_case c;
    setup(be, &c, P, B, prompt, gen, ps);
    printf("%s\n%d rows (%d problems x %d beams), nh 32 nkv 8 hd 64, pages of %d, %d to %d "
           "positions a row (the first %d shared by a problem's beams)\n",
           be->description, c.N, P, B, ps, prompt + 1, prompt + gen, prompt / ps * ps);
    const double ms = time_calls(be, &c, iters);
    printf("%.2f us/call (mean of %d): %.0f GB/s of the rows' K/V reads (%.1f MB), "
           "%.1f MB of K/V in the used pages\n",
           ms * 1e3, iters, c.row_bytes / (ms * 1e-3) / 1e9, c.row_bytes / 1e6,
           c.unique_bytes / 1e6);
    free_case(be, &c);
    sbti_backend_destroy(be);
    return 0;
}
