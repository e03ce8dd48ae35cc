/* test_graph_cuda.c — the decoding forward recorded as CUDA graphs and replayed (kv_cache.c), on
 * small random Llama models on the CUDA backend. Three caches of one model run the same script
 * (a prefill, steps of 1 to 40 rows and a few longer blocks, output rows for every token, each
 * sequence's last or none, forks and rollbacks): graphs (SBTI_KV_GRAPHS), the same padding run
 * operation by operation (SBTI_KV_PADDED) and the unpadded forward (SBTI_KV_EAGER). The graphs'
 * logits equal the padded ones bit for bit (the same kernels on the same shapes) and the
 * unpadded ones within bf16 tolerance (cuBLASLt may pick other algorithms for other row
 * counts); the cache's counters show that graphs were recorded and replayed. Also: when a shape
 * is recorded, when graphs are dropped, SBT_CUDA_GRAPHS=0, and the time of a decoding step with
 * and without graphs. And the overlap the decoder uses: downloads that do not wait and fences
 * (each fence waits for its own work, not later work), and two forwards of the candidates
 * source in flight at once, whose answers equal those of the same forwards one at a time. Exits 77 (skipped) where there is no usable GPU; runs without fork (a
 * CUDA context does not survive one). */
#define _POSIX_C_SOURCE 200809L /* setenv, clock_gettime */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend/backend.h"
#include "decode/lm.h"
#include "model/model.h"
#include "selfbt/backend.h"
#include "selfbt/model.h"

#define TOL_BF16 1e-2 /* graphs vs the unpadded forward: bf16 activations, other GEMM algorithms */

static int quick; /* SBT_TEST_QUICK: a shorter script, no timing */
static sbt_backend *gpu;

/* A random Llama: GQA, head dim 32 (tiny) or 64. */
static sbt_model *model(int V, int C, int I, int L, int nh, int nkv, uint64_t seed)
{
    sbt_model_config c;
    sbt_model_config_init(&c);
    c.vocab_size = V;
    c.hidden_size = C;
    c.intermediate_size = I;
    c.num_hidden_layers = L;
    c.num_attention_heads = nh;
    c.num_key_value_heads = nkv;
    c.max_position_embeddings = 1024;
    c.rms_norm_eps = 1e-5;
    c.rope_theta = 10000.0;
    c.tie_word_embeddings = 0;
    c.bos_token_id = 1;
    c.eos_token_id = 2;
    c.pad_token_id = 0;
    c.initializer_range = 0.1;
    sbt_model *m = NULL;
    ck_assert_msg(sbt_model_create(&m, gpu, &c, seed) == SBT_OK, "%s", sbt_last_error());
    return m;
}

static sbt_model *tiny(void)
{
    return model(384, 128, 344, 3, 4, 2, 5);
}

static sbti_kv_cache *cache(sbt_model *m, sbti_kv_mode mode, int max_seqs, int max_len)
{
    sbti_kv_cache *kv;
    ck_assert_msg(sbti_kv_create(&kv, m, max_seqs, max_len, 16, max_seqs * max_len / 16 + 8) ==
                      SBT_OK,
                  "%s", sbt_last_error());
    sbti_kv_set_mode(kv, mode);
    return kv;
}

/* ‖a − b‖ / ‖b‖ */
static double rel_err(const float *a, const float *b, size_t n)
{
    double d = 0, r = 0;
    for (size_t i = 0; i < n; i++) {
        d += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        r += (double)b[i] * b[i];
    }
    return sqrt(d / (r > 0 ? r : 1));
}

static uint32_t rng = 12345;

static int rnd(int k)
{
    rng = rng * 1664525u + 1013904223u;
    return (int)((rng >> 8) % (uint32_t)k);
}

enum { G = 0, P = 1, E = 2 }; /* graphs, padded, eager */
static const char *const mode_names[3] = {"graphs", "padded", "eager"};

START_TEST(graphs_equal_the_padded_forward_bit_for_bit)
{
    sbt_model *m = tiny();
    const int V = m->V, S = 12, max_len = 160;
    const sbti_kv_mode modes[3] = {SBTI_KV_GRAPHS, SBTI_KV_PADDED, SBTI_KV_EAGER};
    sbti_kv_cache *kv[3];
    float *lg[3];
    for (int k = 0; k < 3; k++) {
        kv[k] = cache(m, modes[k], S, max_len);
        lg[k] = malloc(sizeof(float) * 192 * V);
    }
    int32_t ids[192], seq[192], rows[192]; /* at most 12 sequences of 15 tokens */
    double worst = 0;
    int forwards = 0;
    const int n_steps = quick ? 40 : 120;
    for (int step = 0; step < n_steps; step++) {
        /* a prefill of 90 tokens, then 1..3 tokens each for some sequences (at most 36 rows),
         * and every 17th step 8..15 each (up to 180 rows); the sequences interleaved */
        int add[12] = {0};
        if (step == 0)
            add[0] = 90;
        else
            for (int s = 0; s < S; s++)
                add[s] = rnd(2) ? 0 : (step % 17 == 8 ? 8 + rnd(8) : 1 + rnd(3));
        for (int s = 0; s < S; s++)
            if (sbti_kv_seq_len(kv[0], s) + add[s] > max_len) { /* roll back to make room */
                int len = rnd(max_len / 2);
                for (int k = 0; k < 3; k++)
                    sbti_kv_seq_truncate(kv[k], s, len);
            }
        int n = 0;
        for (int round = 0, more = 1; more; round++) {
            more = 0;
            for (int s = 0; s < S; s++)
                if (round < add[s]) {
                    ids[n] = 3 + rnd(V - 3);
                    seq[n++] = s;
                    more = 1;
                }
        }
        if (n == 0)
            continue;
        int n_out = 0, how = rnd(6);
        for (int i = 0; i < n; i++) { /* how: 0 none, 1 every token, else each sequence's last */
            int last = 1;
            for (int j = i + 1; j < n && last; j++)
                last = seq[j] != seq[i];
            if (how == 1 || (how > 1 && last))
                rows[n_out++] = i;
        }
        for (int k = 0; k < 3; k++)
            ck_assert_msg(sbti_kv_forward(kv[k], ids, seq, n, rows, n_out, lg[k]) == SBT_OK,
                          "step %d (%d tokens, %d rows), %s: %s", step, n, n_out, mode_names[k],
                          sbt_last_error());
        forwards++;
        ck_assert_msg(memcmp(lg[G], lg[P], sizeof(float) * (size_t)n_out * V) == 0,
                      "step %d (%d tokens, %d rows): graphs differ from the padded forward", step,
                      n, n_out);
        for (int r = 0; r < n_out; r++) {
            double e = rel_err(lg[G] + (size_t)r * V, lg[E] + (size_t)r * V, (size_t)V);
            worst = e > worst ? e : worst;
            ck_assert_msg(e < TOL_BF16, "step %d row %d of %d (%d tokens): graphs vs unpadded %g",
                          step, r, n_out, n, e);
        }
        for (int s = 0; s < S; s++)
            for (int k = 1; k < 3; k++)
                ck_assert_int_eq(sbti_kv_seq_len(kv[k], s), sbti_kv_seq_len(kv[0], s));
        if (rnd(3) == 0) { /* a beam replaces another */
            int dst = rnd(S), src = rnd(S);
            for (int k = 0; k < 3; k++)
                sbti_kv_seq_fork(kv[k], dst, src);
        }
        if (rnd(4) == 0) { /* a rollback */
            int s = rnd(S), len = rnd(sbti_kv_seq_len(kv[0], s) + 1);
            for (int k = 0; k < 3; k++)
                sbti_kv_seq_truncate(kv[k], s, len);
        }
    }
    sbti_kv_stats st[3];
    for (int k = 0; k < 3; k++)
        st[k] = sbti_kv_get_stats(kv[k]);
    printf("graphs vs padded: bit for bit over %d forwards; graphs vs unpadded: worst rel err "
           "%.3g\ngraphs: %lld eager, %lld recorded, %lld launched, %d held, %lld dummy tokens\n",
           forwards, worst, (long long)st[G].eager, (long long)st[G].captures,
           (long long)st[G].replays, st[G].graphs, (long long)st[G].padded);
    ck_assert_int_eq(st[G].eager + st[G].replays, forwards);
    ck_assert(st[G].captures > 0 && st[G].replays > st[G].captures);
    ck_assert_int_eq(st[G].padded, st[P].padded);
    ck_assert_int_eq(st[P].eager, forwards);
    ck_assert_int_eq(st[P].captures + st[P].replays + st[E].captures + st[E].replays, 0);
    ck_assert_int_eq(st[E].padded, 0);
    for (int k = 0; k < 3; k++) {
        sbti_kv_free(kv[k]);
        free(lg[k]);
    }
    sbt_model_free(m);
}
END_TEST

/* A shape runs eagerly first, is recorded on its second forward and replayed after; larger
 * scratch buffers drop every graph (and the first-run marks); forwards over 4096 rows are
 * neither padded nor recorded; SBT_CUDA_GRAPHS=0 turns graphs off. */
START_TEST(record_on_the_second_forward_and_drop_with_the_buffers)
{
    sbt_model *m = tiny();
    sbti_kv_cache *kv = cache(m, SBTI_KV_GRAPHS, 8, 1100);
    float *lg = malloc(sizeof(float) * 4100 * m->V);
    static int32_t ids[4100], seq[4100], rows[4100];
    for (int i = 0; i < 4100; i++) {
        ids[i] = 3 + i % 300;
        seq[i] = i % 8;
        rows[i] = i;
    }
#define FWD(n, n_out)                                                                        \
    ck_assert_msg(sbti_kv_forward(kv, ids, seq, (n), rows, (n_out), lg) == SBT_OK, "%s",    \
                  sbt_last_error())
#define STATS(e, c, r, g)                                                                    \
    do {                                                                                     \
        sbti_kv_stats s_ = sbti_kv_get_stats(kv);                                            \
        ck_assert_msg(s_.eager == (e) && s_.captures == (c) && s_.replays == (r) &&          \
                          s_.graphs == (g),                                                  \
                      "line %d: eager %lld, recorded %lld, launched %lld, held %d", __LINE__, \
                      (long long)s_.eager, (long long)s_.captures, (long long)s_.replays,    \
                      s_.graphs);                                                            \
    } while (0)
    FWD(5, 5);   /* bucket (8, 8): first seen, eager */
    STATS(1, 0, 0, 0);
    FWD(6, 2);   /* (8, 8) again: recorded and launched */
    STATS(1, 1, 1, 1);
    FWD(8, 8);   /* replayed */
    FWD(7, 1);
    STATS(1, 1, 3, 1);
    FWD(8, 0);   /* (8, 0): another shape */
    FWD(8, 0);
    STATS(2, 2, 4, 2);
    FWD(100, 3); /* (128, 8): the buffers grow (graphs dropped), then eager */
    STATS(3, 2, 4, 0);
    FWD(3, 3);   /* (8, 8) is new again */
    STATS(4, 2, 4, 0);
    FWD(4100, 1); /* over 4096 rows: unpadded, eager, not remembered */
    FWD(4100, 1);
    STATS(6, 2, 4, 0);
    ck_assert_int_eq(sbti_kv_get_stats(kv).padded, 3 + 2 + 0 + 1 + 28 + 5);
#undef FWD
#undef STATS
    sbti_kv_free(kv);
    /* the switch is read when a cache is made */
    setenv("SBT_CUDA_GRAPHS", "0", 1);
    ck_assert_int_eq(sbti_kv_create(&kv, m, 2, 64, 16, 8), SBT_OK);
    unsetenv("SBT_CUDA_GRAPHS");
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(sbti_kv_forward(kv, ids, seq, 2, rows, 2, lg), SBT_OK);
    sbti_kv_stats s = sbti_kv_get_stats(kv);
    ck_assert(s.eager == 3 && s.captures == 0 && s.replays == 0 && s.padded == 0);
    sbti_kv_free(kv);
    free(lg);
    sbt_model_free(m);
}
END_TEST

/* A graph records the backend's scratch buffer (the LM head of an odd vocabulary runs on
 * padded rows there); when the scratch moves, launching the graph is refused as stale, the
 * forward runs eagerly and the shape is recorded again: the logits stay those of the padded
 * eager forward, bit for bit. */
START_TEST(a_graph_recorded_before_the_scratch_moved_is_recorded_again)
{
    sbt_model *m = model(4099, 128, 344, 2, 4, 2, 7); /* V odd: padded LM-head rows */
    sbti_kv_cache *kv = cache(m, SBTI_KV_GRAPHS, 8, 64), *ref = cache(m, SBTI_KV_PADDED, 8, 64);
    const int V = m->V;
    float *a = malloc(sizeof(float) * 8 * V), *b = malloc(sizeof(float) * 8 * V);
    int32_t ids[8], seq[8], rows[8];
    for (int i = 0; i < 8; i++) {
        ids[i] = 3 + 17 * i;
        seq[i] = i;
        rows[i] = i;
    }
#define BOTH(n, n_out)                                                                           do {                                                                                             ck_assert_int_eq(sbti_kv_forward(kv, ids, seq, (n), rows, (n_out), a), SBT_OK);              ck_assert_int_eq(sbti_kv_forward(ref, ids, seq, (n), rows, (n_out), b), SBT_OK);             ck_assert_msg(memcmp(a, b, sizeof(float) * (n_out) * V) == 0, "line %d", __LINE__);     } while (0)
    BOTH(5, 5); /* eager */
    BOTH(6, 5); /* recorded, launched */
    BOTH(4, 4); /* replayed */
    sbti_kv_stats s = sbti_kv_get_stats(kv);
    ck_assert(s.eager == 1 && s.captures == 1 && s.replays == 2 && s.stale == 0);
    /* an odd-M product larger than anything before: the scratch grows, and moves */
    sbti_backend *be = sbti_backend_of(gpu);
    void *x, *w, *y;
    const int N = 64, K = 8, M = 1000001;
    ck_assert_int_eq(be->ops->alloc(be, &x, SBTI_MEM_ACT, (size_t)N * K), SBT_OK);
    ck_assert_int_eq(be->ops->alloc(be, &w, SBTI_MEM_PARAM, (size_t)M * K), SBT_OK);
    ck_assert_int_eq(be->ops->alloc(be, &y, SBTI_MEM_ACT, (size_t)N * M), SBT_OK);
    be->ops->matmul_fwd(be, y, x, w, NULL, N, K, M);
    ck_assert_int_eq(be->ops->sync(be), SBT_OK);
    be->ops->free(be, x), be->ops->free(be, w), be->ops->free(be, y);
    BOTH(7, 3); /* stale: eager */
    s = sbti_kv_get_stats(kv);
    ck_assert_msg(s.stale == 1 && s.eager == 2 && s.graphs == 0, "stale %lld, eager %lld",
                  (long long)s.stale, (long long)s.eager);
    BOTH(8, 8); /* recorded again */
    BOTH(2, 1);
    s = sbti_kv_get_stats(kv);
    ck_assert(s.captures == 2 && s.replays == 4 && s.graphs == 1 && s.stale == 1);
#undef BOTH
    sbti_kv_free(kv);
    sbti_kv_free(ref);
    free(a);
    free(b);
    sbt_model_free(m);
}
END_TEST

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/* Milliseconds per decoding step of n sequences of ctx tokens, one token each, logits of every
 * row left on the device; each step is rolled back after (the context stays ctx) and waits for
 * the device (a decoder reads its candidates every step). */
static double step_ms(sbt_model *m, sbti_kv_mode mode, int n, int ctx)
{
    sbti_backend *be = m->be;
    sbti_kv_cache *kv = cache(m, mode, n, 512);
    int32_t *ids = malloc(sizeof *ids * (size_t)n * ctx);
    int32_t *seq = malloc(sizeof *seq * (size_t)n * ctx);
    int32_t rows[64];
    for (int i = 0; i < n * ctx; i++) {
        ids[i] = 3 + i % (m->V - 3);
        seq[i] = i % n;
    }
    ck_assert_msg(sbti_kv_forward(kv, ids, seq, n * ctx, rows, 0, NULL) == SBT_OK, "%s",
                  sbt_last_error());
    for (int i = 0; i < n; i++)
        rows[i] = i;
    const void *dev;
    double t0 = 0;
    const int warm = 16, steps = 200;
    for (int k = 0; k < warm + steps; k++) {
        if (k == warm)
            t0 = now();
        for (int i = 0; i < n; i++)
            ids[i] = 3 + (k * 7 + i) % (m->V - 3);
        ck_assert_msg(sbti_kv_forward_device(kv, ids, seq, n, rows, n, &dev) == SBT_OK, "%s",
                      sbt_last_error());
        ck_assert_int_eq(be->ops->sync(be), SBT_OK);
        for (int i = 0; i < n; i++)
            sbti_kv_seq_truncate(kv, i, ctx);
    }
    double ms = (now() - t0) * 1e3 / steps;
    if (mode == SBTI_KV_GRAPHS)
        ck_assert(sbti_kv_get_stats(kv).replays >= steps);
    sbti_kv_free(kv);
    free(ids);
    free(seq);
    return ms;
}

/* download_async into host_alloc memory behind queued work; each fence covers the work before
 * its record, whatever is queued after it */
START_TEST(downloads_that_do_not_wait_land_by_their_fence)
{
    sbti_backend *be = sbti_backend_of(gpu);
    const size_t n = (size_t)1 << 22;
    int32_t *host = malloc(sizeof *host * n), *d_a, *d_b;
    for (size_t i = 0; i < n; i++)
        host[i] = (int32_t)(i * 2654435761u);
    ck_assert_int_eq(be->ops->alloc(be, (void **)&d_a, SBTI_MEM_I32, n), SBT_OK);
    ck_assert_int_eq(be->ops->alloc(be, (void **)&d_b, SBTI_MEM_I32, n), SBT_OK);
    ck_assert_int_eq(be->ops->upload(be, d_a, SBTI_MEM_I32, 0, host, SBTI_F32, n), SBT_OK);
    int32_t *a = be->ops->host_alloc(be, sizeof *a * n), *b = be->ops->host_alloc(be, sizeof *b * n);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    memset(a, 0, sizeof *a * n);
    memset(b, 0, sizeof *b * n);
    void *f1 = NULL, *f2 = NULL;
    for (int round = 0; round < 2; round++) { /* the second round reuses both fences */
        ck_assert_int_eq(be->ops->download_async(be, a, d_a, SBTI_MEM_I32, 0, n), SBT_OK);
        ck_assert_int_eq(be->ops->fence_record(be, &f1), SBT_OK);
        for (int k = 0; k < 20; k++) /* work after the first fence */
            be->ops->copy(be, d_b, d_a, SBTI_MEM_I32, n);
        ck_assert_int_eq(be->ops->download_async(be, b, d_b, SBTI_MEM_I32, 1, n - 1), SBT_OK);
        ck_assert_int_eq(be->ops->fence_record(be, &f2), SBT_OK);
        ck_assert_int_eq(be->ops->fence_wait(be, f1), SBT_OK);
        ck_assert(memcmp(a, host, sizeof *a * n) == 0);
        ck_assert_int_eq(be->ops->fence_wait(be, f2), SBT_OK);
        ck_assert(memcmp(b, host + 1, sizeof *b * (n - 1)) == 0);
        memset(a, 0, sizeof *a * n);
        memset(b, 0, sizeof *b * n);
    }
    /* bf16 kinds need a conversion: not for download_async */
    void *act;
    ck_assert_int_eq(be->ops->alloc(be, &act, SBTI_MEM_ACT, 16), SBT_OK);
    ck_assert_int_eq(be->ops->download_async(be, a, act, SBTI_MEM_ACT, 0, 16),
                     SBT_E_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(sbt_last_error(), "ACT"));
    be->ops->free(be, act);
    be->ops->fence_free(be, f1);
    be->ops->fence_free(be, f2);
    be->ops->host_free(be, a);
    be->ops->host_free(be, b);
    be->ops->free(be, d_a);
    be->ops->free(be, d_b);
    free(host);
}
END_TEST

/* One step of `rows` sequences from first: a new token each, beam-search candidates (k 8) of
 * every row. */
typedef struct lane_step {
    int32_t ids[64], seq[64], rows[64], cid[64 * 8], kept[64];
    float lp[64 * 8], key[64 * 8], extra[64];
    uint8_t group[64];
    uint64_t seed[64];
    sbti_select_args args;
    sbti_lm_select sel;
} lane_step;

static void lane_step_init(lane_step *s, int first, int rows, int t, int V)
{
    memset(s, 0, sizeof *s);
    s->args = (sbti_select_args){.sample = 1, .temperature = 0.7f, .top_k = 50, .top_p = 0.9f,
                                 .min_keep = 2, .k = 8, .extra_id = 2};
    for (int r = 0; r < rows; r++) {
        s->ids[r] = 3 + (first * 31 + r * 7 + t * 13) % (V - 3);
        s->seq[r] = first + r;
        s->rows[r] = r;
        s->seed[r] = (uint64_t)(first + r) * 1000003u + (uint64_t)t;
    }
    s->sel = (sbti_lm_select){.groups = &s->args, .n_groups = 1, .kmax = 8, .group = s->group,
                              .seed = s->seed, .ids = s->cid, .lp = s->lp, .key = s->key,
                              .kept = s->kept, .extra_lp = s->extra};
}

/* Two lanes of 24 and 40 sequences: each step submits both, then collects both (the second
 * forward queued behind the first, their uploads staged while it runs); the answers equal a
 * source that runs the same forwards one at a time, bit for bit (the same kernels on the same
 * shapes, graphs recorded alike). */
START_TEST(two_forwards_in_flight_answer_as_one_at_a_time)
{
    sbt_model *m = model(8192, 512, 1408, 16, 8, 2, 7);
    const int V = m->V, n0 = 24, n1 = 40, steps = quick ? 6 : 30;
    sbti_lm *lm[2];
    for (int k = 0; k < 2; k++)
        ck_assert_msg(sbti_lm_kv_create(&lm[k], m, n0 + n1, 64, 1, (n0 + n1) * 64) == SBT_OK,
                      "%s", sbt_last_error());
    lane_step *s = malloc(sizeof *s * 4); /* [source][lane] */
    for (int t = 0; t < steps; t++) {
        for (int k = 0; k < 2; k++) {
            lane_step_init(&s[2 * k], 0, n0, t, V);
            lane_step_init(&s[2 * k + 1], n0, n1, t, V);
        }
        /* source 0: both in flight; source 1: one at a time */
        for (int l = 0; l < 2; l++) {
            lane_step *x = &s[l];
            ck_assert_msg(lm[0]->vt->submit(lm[0], l, x->ids, x->seq, l ? n1 : n0, x->rows,
                                            l ? n1 : n0, &x->sel) == SBT_OK,
                          "%s", sbt_last_error());
        }
        for (int l = 0; l < 2; l++)
            ck_assert_msg(lm[0]->vt->collect(lm[0], l) == SBT_OK, "%s", sbt_last_error());
        for (int l = 0; l < 2; l++) {
            lane_step *x = &s[2 + l];
            ck_assert_int_eq(lm[1]->vt->submit(lm[1], l, x->ids, x->seq, l ? n1 : n0, x->rows,
                                               l ? n1 : n0, &x->sel),
                             SBT_OK);
            ck_assert_int_eq(lm[1]->vt->collect(lm[1], l), SBT_OK);
        }
        for (int l = 0; l < 2; l++) {
            const lane_step *a = &s[l], *b = &s[2 + l];
            const int rows = l ? n1 : n0;
            ck_assert_msg(memcmp(a->cid, b->cid, sizeof(int32_t) * 8 * rows) == 0, "step %d", t);
            ck_assert(memcmp(a->lp, b->lp, sizeof(float) * 8 * rows) == 0);
            ck_assert(memcmp(a->key, b->key, sizeof(float) * 8 * rows) == 0);
            ck_assert(memcmp(a->kept, b->kept, sizeof(int32_t) * rows) == 0);
            ck_assert(memcmp(a->extra, b->extra, sizeof(float) * rows) == 0);
            for (int r = 0; r < rows; r++) /* answers, not leftovers */
                ck_assert(a->cid[8 * r] >= 0 && a->kept[r] >= 2 && a->lp[8 * r] < 0);
        }
    }
    free(s);
    sbti_lm_free(lm[0]);
    sbti_lm_free(lm[1]);
    sbt_model_free(m);
}
END_TEST

START_TEST(decode_step_time)
{
    struct {
        const char *name;
        sbt_model *m;
    } models[2] = {{"tiny (3 layers, C 128, V 384)", tiny()},
                   {"small (16 layers, C 512, hd 64, V 8192)",
                    model(8192, 512, 1408, 16, 8, 2, 6)}};
    printf("decode step, ms (waiting for the device every step; 200 steps after 16):\n");
    for (int k = 0; k < 2; k++) {
        const int ns[3] = {1, 8, 64}, ctxs[2] = {40, 200};
        for (int j = 0; j < 3; j++)
            for (int c = 0; c < 2; c++) {
                double e = step_ms(models[k].m, SBTI_KV_EAGER, ns[j], ctxs[c]);
                double g = step_ms(models[k].m, SBTI_KV_GRAPHS, ns[j], ctxs[c]);
                printf("  %-40s n = %2d, context %3d: eager %.3f, graphs %.3f (%.2fx)\n",
                       models[k].name, ns[j], ctxs[c], e, g, e / g);
            }
        sbt_model_free(models[k].m);
    }
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("graph_cuda");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, graphs_equal_the_padded_forward_bit_for_bit);
    tcase_add_test(tc, record_on_the_second_forward_and_drop_with_the_buffers);
    tcase_add_test(tc, a_graph_recorded_before_the_scratch_moved_is_recorded_again);
    tcase_add_test(tc, downloads_that_do_not_wait_land_by_their_fence);
    tcase_add_test(tc, two_forwards_in_flight_answer_as_one_at_a_time);
    if (!quick) /* a timing, not a check: not under the sanitizers */
        tcase_add_test(tc, decode_step_time);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    sbt_backend_options o;
    sbt_backend_options_init(&o);
    o.kind = SBT_BACKEND_CUDA;
    sbt_status st = sbt_backend_create(&gpu, &o);
    if (st == SBT_E_NOT_FOUND || st == SBT_E_UNSUPPORTED) {
        printf("skipped: %s\n", sbt_last_error());
        return 77;
    }
    if (st != SBT_OK) {
        fprintf(stderr, "sbt_backend_create: %s\n", sbt_last_error());
        return EXIT_FAILURE;
    }
    const char *q = getenv("SBT_TEST_QUICK");
    quick = q && strcmp(q, "0") != 0;
    printf("cuda backend: %s%s\n", sbti_backend_of(gpu)->description,
           quick ? "\nquick: 40 forwards, no timing (SBT_TEST_QUICK)" : "");
    fflush(stdout);
    SRunner *sr = srunner_create(make_suite());
    srunner_set_fork_status(sr, CK_NOFORK); /* a CUDA context cannot cross fork() */
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    sbt_backend_free(gpu);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
