/* test_model.c — the Llama model on the CPU backend, apart from the transformers goldens
 * (test_model_golden.c): the KV-cache forward against the full forward (prefill, decode,
 * shared prefixes, rollback, copy on write), unpadded and padded as graphs pad it, and the
 * padded forward against the unpadded one; save/load round trips in every dtype and as
 * shards, vocabulary growth, seeded initialisation, a few training steps, and bad input. */
#define _GNU_SOURCE
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/safetensors.h"
#include "model/model.h"
#include "selfbt/model.h"

#include "backend_fixture.h"
#include "check_main.h"

static sbt_backend *be;

static void setup(void)
{
    be = test_backend(SBT_BACKEND_CPU, 0);
}

static void teardown(void)
{
    sbt_backend_free(be);
    be = NULL;
}

static const char *tmp(const char *name)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/model_%s", SBT_TEST_TMP_DIR, name);
    return path;
}

/* A tiny config: GQA, llama3 RoPE scaling, odd intermediate size. */
static void tiny_config(sbt_model_config *c, int tied)
{
    sbt_model_config_init(c);
    c->vocab_size = 97;
    c->hidden_size = 32;
    c->intermediate_size = 44;
    c->num_hidden_layers = 2;
    c->num_attention_heads = 4;
    c->num_key_value_heads = 2;
    c->max_position_embeddings = 128;
    c->rms_norm_eps = 1e-5;
    c->rope_theta = 500000.0;
    c->rope_scaling = SBT_ROPE_LLAMA3;
    c->rope_factor = 32.0;
    c->rope_low_freq_factor = 1.0;
    c->rope_high_freq_factor = 4.0;
    c->rope_original_max_position_embeddings = 64;
    c->tie_word_embeddings = tied;
    c->bos_token_id = 1;
    c->eos_token_id = 2;
    c->pad_token_id = 0;
    c->initializer_range = 0.2; /* large, so that logits differ visibly between tokens */
}

static sbt_model *tiny_model(int tied, uint64_t seed)
{
    sbt_model_config c;
    tiny_config(&c, tied);
    sbt_model *m = NULL;
    ck_assert_msg(sbt_model_create(&m, be, &c, seed) == SBT_OK, "%s", sbt_last_error());
    return m;
}

static int32_t *random_ids(size_t n, int V, uint32_t seed)
{
    int32_t *ids = malloc(n * sizeof *ids);
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x = x * 1664525u + 1013904223u;
        ids[i] = (int32_t)(3 + (x >> 8) % (uint32_t)(V - 3));
    }
    return ids;
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

/* Full-forward logits of one sequence, (T, V). */
static float *full_logits(sbt_model *m, const int32_t *ids, int T)
{
    float *out = malloc(sizeof(float) * (size_t)T * m->V);
    ck_assert_msg(sbt_model_forward(m, ids, 1, T, NULL, 0, out) == SBT_OK, "%s", sbt_last_error());
    return out;
}

/* ---- KV cache -------------------------------------------------------------------------- */

/* A cache whose forwards run unpadded (padded = 0) or padded to the buckets graphs use. */
static sbti_kv_cache *kv_new(sbt_model *m, int padded, int max_seqs, int max_len, int page_size,
                             int n_pages)
{
    sbti_kv_cache *kv;
    ck_assert_msg(sbti_kv_create(&kv, m, max_seqs, max_len, page_size, n_pages) == SBT_OK, "%s",
                  sbt_last_error());
    sbti_kv_set_mode(kv, padded ? SBTI_KV_PADDED : SBTI_KV_EAGER);
    return kv;
}

START_TEST(kv_prefill_then_decode_equals_full_forward)
{
    sbt_model *m = tiny_model(_i % 2, 11);
    const int T = 21, V = m->V, P = 9;
    int32_t *ids = random_ids(T, V, 5);
    float *full = full_logits(m, ids, T);
    sbti_kv_cache *kv = kv_new(m, _i / 2, 2, 64, 4, 16);
    float *got = malloc(sizeof(float) * (size_t)T * V);
    int32_t seq[32] = {0}, rows[32];
    for (int i = 0; i < P; i++)
        rows[i] = i;
    /* prefill P tokens with logits at every one of them, then decode one at a time */
    ck_assert_msg(sbti_kv_forward(kv, ids, seq, P, rows, P, got) == SBT_OK, "%s", sbt_last_error());
    for (int t = P; t < T; t++) {
        int32_t r0 = 0;
        ck_assert_int_eq(sbti_kv_forward(kv, ids + t, seq, 1, &r0, 1, got + (size_t)t * V), SBT_OK);
    }
    ck_assert_int_eq(sbti_kv_seq_len(kv, 0), T);
    double e = rel_err(got, full, (size_t)T * V);
    ck_assert_msg(e < 1e-5, "kv vs full: rel err %g", e);
    sbti_kv_free(kv);
    free(got);
    free(full);
    free(ids);
    sbt_model_free(m);
}
END_TEST

/* Beams sharing a prompt (fork), each going its own way, one rolled back and continued:
 * every logit equals the full forward of that beam's token sequence. */
START_TEST(kv_fork_truncate_and_copy_on_write)
{
    sbt_model *m = tiny_model(0, 12);
    const int V = m->V, prompt = 7, nb = 3;
    int32_t *ids = random_ids(64, V, 9);
    sbti_kv_cache *kv = kv_new(m, _i, 4, 40, 4, 40);
    float *lg = malloc(sizeof(float) * 8 * V);
    int32_t seq0[16] = {0}, last = prompt - 1;
    ck_assert_int_eq(sbti_kv_forward(kv, ids, seq0, prompt, &last, 1, lg), SBT_OK);
    for (int b = 1; b < nb; b++)
        sbti_kv_seq_fork(kv, b, 0);
    /* beam b's sequence: prompt, then tokens ids[10*b + k] */
    int32_t beam[3][40];
    int blen[3];
    for (int b = 0; b < nb; b++) {
        memcpy(beam[b], ids, sizeof(int32_t) * prompt);
        blen[b] = prompt;
    }
    for (int step = 0; step < 6; step++) {
        int32_t tok[3], sq[3], rows[3] = {0, 1, 2};
        for (int b = 0; b < nb; b++) {
            tok[b] = ids[10 * (b + 1) + step];
            sq[b] = b;
            beam[b][blen[b]++] = tok[b];
        }
        ck_assert_int_eq(sbti_kv_forward(kv, tok, sq, nb, rows, nb, lg), SBT_OK);
        for (int b = 0; b < nb; b++) {
            float *full = full_logits(m, beam[b], blen[b]);
            double e = rel_err(lg + (size_t)b * V, full + (size_t)(blen[b] - 1) * V, (size_t)V);
            ck_assert_msg(e < 1e-5, "step %d beam %d: rel err %g", step, b, e);
            free(full);
        }
    }
    /* roll beam 1 back to 2 tokens after the prompt (inside a shared-then-copied page),
     * then continue with new tokens; and make beam 3 a copy of beam 2 (a reorder) */
    sbti_kv_seq_truncate(kv, 1, prompt + 2);
    blen[1] = prompt + 2;
    sbti_kv_seq_fork(kv, 3, 2);
    for (int step = 0; step < 5; step++) {
        int32_t tok[2] = {ids[50 + step], ids[55 + step]}, sq[2] = {1, 3}, rows[2] = {0, 1};
        beam[1][blen[1]++] = tok[0];
        ck_assert_int_eq(sbti_kv_forward(kv, tok, sq, 2, rows, 2, lg), SBT_OK);
        float *full = full_logits(m, beam[1], blen[1]);
        double e = rel_err(lg, full + (size_t)(blen[1] - 1) * V, (size_t)V);
        ck_assert_msg(e < 1e-5, "after rollback, step %d: rel err %g", step, e);
        free(full);
        int32_t b3[40];
        memcpy(b3, beam[2], sizeof(int32_t) * blen[2]);
        for (int k = 0; k <= step; k++)
            b3[blen[2] + k] = ids[55 + k];
        full = full_logits(m, b3, blen[2] + step + 1);
        e = rel_err(lg + V, full + (size_t)(blen[2] + step) * V, (size_t)V);
        ck_assert_msg(e < 1e-5, "forked beam, step %d: rel err %g", step, e);
        free(full);
    }
    /* beam 2 itself was not disturbed by its fork writing */
    int32_t tok = ids[60], sq = 2, r = 0;
    beam[2][blen[2]++] = tok;
    ck_assert_int_eq(sbti_kv_forward(kv, &tok, &sq, 1, &r, 1, lg), SBT_OK);
    float *full = full_logits(m, beam[2], blen[2]);
    ck_assert(rel_err(lg, full + (size_t)(blen[2] - 1) * V, (size_t)V) < 1e-5);
    free(full);
    sbti_kv_free(kv);
    free(lg);
    free(ids);
    sbt_model_free(m);
}
END_TEST

START_TEST(kv_errors_leave_the_cache_usable)
{
    sbt_model *m = tiny_model(1, 13);
    sbti_kv_cache *kv = kv_new(m, _i, 2, 8, 4, 3); /* 3 pages of 4 positions (padding or not) */
    int32_t *ids = random_ids(16, m->V, 3);
    int32_t seq[16] = {0}, r = 0;
    float *lg = malloc(sizeof(float) * m->V);
    ck_assert_int_eq(sbti_kv_forward(kv, ids, seq, 6, &r, 1, lg), SBT_OK); /* 2 pages */
    int32_t s1[3] = {1, 1, 1};
    ck_assert_int_eq(sbti_kv_forward(kv, ids, s1, 3, &r, 1, lg), SBT_OK); /* the 3rd page */
    /* sequence 1's 5th position needs a 4th page */
    ck_assert_int_eq(sbti_kv_forward(kv, ids, s1, 2, &r, 1, lg), SBT_E_OUT_OF_MEMORY);
    ck_assert_ptr_nonnull(strstr(sbt_last_error(), "pages"));
    ck_assert_int_eq(sbti_kv_seq_len(kv, 0), 6); /* unchanged */
    ck_assert_int_eq(sbti_kv_seq_len(kv, 1), 3);
    int32_t s0[3] = {0, 0, 0};
    /* a full sequence, a bad id, a bad sequence, a bad output row */
    sbti_kv_seq_reset(kv, 1);
    ck_assert_int_eq(sbti_kv_forward(kv, ids, s0, 3, &r, 1, lg), SBT_E_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(sbt_last_error(), "full"));
    int32_t bad = m->V;
    ck_assert_int_eq(sbti_kv_forward(kv, &bad, s1, 1, &r, 1, lg), SBT_E_INVALID_ARGUMENT);
    int32_t badseq = 7;
    ck_assert_int_eq(sbti_kv_forward(kv, ids, &badseq, 1, &r, 1, lg), SBT_E_INVALID_ARGUMENT);
    int32_t badrow = 1;
    ck_assert_int_eq(sbti_kv_forward(kv, ids, s1, 1, &badrow, 1, lg), SBT_E_INVALID_ARGUMENT);
    /* still usable */
    ck_assert_int_eq(sbti_kv_forward(kv, ids, s0, 2, &r, 1, lg), SBT_OK);
    ck_assert_int_eq(sbti_kv_seq_len(kv, 0), 8);
    free(lg);
    free(ids);
    sbti_kv_free(kv);
    sbt_model_free(m);
}
END_TEST

/* A random script on two caches of one model, one unpadded and one padded as graphs pad:
 * a prefill of 70 tokens, then steps of 1 to 90 rows with the sequences' tokens interleaved,
 * output rows for every token, for the last of each sequence or none, forks and rollbacks.
 * Every logit and length agrees. Each row's sums run in the same order whatever rows are
 * around it (up to the CPU matmul's pairing of rows), so the logits agree to rounding; and the
 * dummy tokens store nothing into real sequences' pages, or later logits would differ. */
START_TEST(kv_padded_equals_unpadded)
{
    sbt_model *m = tiny_model(_i, 21);
    const int V = m->V, S = 6, max_len = 100;
    sbti_kv_cache *kv[2] = {kv_new(m, 0, S, max_len, 4, 170), kv_new(m, 1, S, max_len, 4, 170)};
    int32_t *pool = random_ids(8192, V, 17);
    size_t used = 0;
    int32_t ids[128], seq[128], rows[128];
    float *lg[2] = {malloc(sizeof(float) * 128 * V), malloc(sizeof(float) * 128 * V)};
    uint32_t x = 7u + (uint32_t)_i;
#define RND(k) ((x = x * 1664525u + 1013904223u), (int)((x >> 8) % (uint32_t)(k)))
    double worst = 0;
    int64_t want_pad = 0;
    for (int step = 0; step < 60; step++) {
        /* how many tokens each sequence gets: a prefill of sequence 0 first, then 1..3 each
         * for a random set, and every 9th step a long block (n over 64) */
        int add[6] = {0};
        if (step == 0)
            add[0] = 70;
        else
            for (int s = 0; s < S; s++)
                add[s] = RND(3) ? 0 : (step % 9 == 4 ? 10 + RND(6) : 1 + RND(3));
        int n = 0;
        for (int s = 0; s < S; s++)
            if (sbti_kv_seq_len(kv[0], s) + add[s] > max_len) { /* roll back to make room */
                int len = RND(max_len / 2);
                for (int k = 0; k < 2; k++)
                    sbti_kv_seq_truncate(kv[k], s, len);
            }
        for (int round = 0, more = 1; more; round++) { /* interleaved */
            more = 0;
            for (int s = 0; s < S; s++)
                if (round < add[s]) {
                    ids[n] = pool[used++ % 8192];
                    seq[n++] = s;
                    more = 1;
                }
        }
        if (n == 0)
            continue;
        int n_out = 0, how = RND(5);
        for (int i = 0; i < n; i++) { /* how: 0 none, 1 every token, else each sequence's last */
            int last = 1;
            for (int j = i + 1; j < n && last; j++)
                last = seq[j] != seq[i];
            if (how == 1 || (how > 1 && last))
                rows[n_out++] = i;
        }
        for (int k = 0; k < 2; k++)
            ck_assert_msg(sbti_kv_forward(kv[k], ids, seq, n, rows, n_out, lg[k]) == SBT_OK,
                          "step %d (%d tokens, %d rows), %s: %s", step, n, n_out,
                          k ? "padded" : "unpadded", sbt_last_error());
        want_pad += (n <= 64 ? (n + 7) / 8 * 8 : (n + 31) / 32 * 32) - n;
        for (int r = 0; r < n_out; r++) {
            double e = rel_err(lg[1] + (size_t)r * V, lg[0] + (size_t)r * V, (size_t)V);
            worst = e > worst ? e : worst;
            ck_assert_msg(e <= 1e-6, "step %d row %d of %d (%d tokens): rel err %g", step, r,
                          n_out, n, e);
        }
        for (int s = 0; s < S; s++)
            ck_assert_int_eq(sbti_kv_seq_len(kv[1], s), sbti_kv_seq_len(kv[0], s));
        /* now and then a beam replaces another (a fork), or one is rolled back */
        if (step == 0 || RND(4) == 0) {
            int dst = 1 + RND(S - 1), src = RND(S);
            for (int k = 0; k < 2; k++)
                sbti_kv_seq_fork(kv[k], dst, step == 0 ? 0 : src);
        }
        if (RND(5) == 0) {
            int s = RND(S), len = RND(sbti_kv_seq_len(kv[0], s) + 1);
            for (int k = 0; k < 2; k++)
                sbti_kv_seq_truncate(kv[k], s, len);
        }
    }
#undef RND
    sbti_kv_stats st0 = sbti_kv_get_stats(kv[0]), st1 = sbti_kv_get_stats(kv[1]);
    ck_assert_int_eq(st0.padded, 0);
    ck_assert_int_eq(st1.padded, want_pad);
    ck_assert(want_pad > 0);
    ck_assert_int_eq(st1.eager, st0.eager);
    ck_assert_int_eq(st1.captures + st1.replays + st1.graphs, 0); /* the CPU has no graphs */
    printf("kv padded vs unpadded: worst rel err %g over %lld forwards\n", worst,
           (long long)st0.eager);
    for (int k = 0; k < 2; k++) {
        sbti_kv_free(kv[k]);
        free(lg[k]);
    }
    free(pool);
    sbt_model_free(m);
}
END_TEST

/* ---- forward ------------------------------------------------------------------------------ */

/* Right padding changes nothing for the real tokens, and LAST_ONLY picks each row's last. */
START_TEST(forward_padding_and_last_only)
{
    sbt_model *m = tiny_model(0, 14);
    const int B = 3, T = 10, V = m->V;
    int32_t *ids = random_ids((size_t)B * T, V, 4), lens[3] = {10, 6, 1};
    float *all = malloc(sizeof(float) * B * T * V), *last = malloc(sizeof(float) * B * V);
    ck_assert_int_eq(sbt_model_forward(m, ids, B, T, lens, 0, all), SBT_OK);
    ck_assert_int_eq(sbt_model_forward(m, ids, B, T, lens, SBT_FORWARD_LAST_ONLY, last), SBT_OK);
    for (int b = 0; b < B; b++) {
        float *alone = full_logits(m, ids + b * T, lens[b]);
        double e = rel_err(all + (size_t)b * T * V, alone, (size_t)lens[b] * V);
        ck_assert_msg(e < 1e-6, "row %d: padded vs alone rel err %g", b, e);
        ck_assert(rel_err(last + (size_t)b * V, alone + (size_t)(lens[b] - 1) * V, V) < 1e-6);
        free(alone);
    }
    /* bad ids and lengths are named */
    ids[5] = V;
    ck_assert_int_eq(sbt_model_forward(m, ids, B, T, lens, 0, all), SBT_E_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(sbt_last_error(), "token id 97"));
    ids[5] = 3;
    lens[1] = 11;
    ck_assert_int_eq(sbt_model_forward(m, ids, B, T, lens, 0, all), SBT_E_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(sbt_last_error(), "length 11 of row 1"));
    ck_assert_int_eq(sbt_model_forward(m, ids, B, T, NULL, 4, all), SBT_E_INVALID_ARGUMENT);
    free(all);
    free(last);
    free(ids);
    sbt_model_free(m);
}
END_TEST

START_TEST(create_is_seeded_and_initialised_as_transformers)
{
    sbt_model *a = tiny_model(0, 7), *b = tiny_model(0, 7), *c = tiny_model(0, 8);
    const sbti_param *p = sbti_model_param(a, "model.layers.1.mlp.down_proj.weight");
    ck_assert_ptr_nonnull(p);
    float *wa = malloc(sizeof(float) * p->numel), *wb = malloc(sizeof(float) * p->numel);
    ck_assert_int_eq(sbti_model_get_param(a, p, wa), SBT_OK);
    ck_assert_int_eq(sbti_model_get_param(b, p, wb), SBT_OK);
    ck_assert(memcmp(wa, wb, sizeof(float) * p->numel) == 0);
    ck_assert_int_eq(sbti_model_get_param(c, p, wb), SBT_OK);
    ck_assert(memcmp(wa, wb, sizeof(float) * p->numel) != 0);
    /* std close to initializer_range (0.2), mean close to 0 */
    double s = 0, s2 = 0;
    for (size_t i = 0; i < p->numel; i++) {
        s += wa[i];
        s2 += (double)wa[i] * wa[i];
    }
    double mean = s / p->numel, sd = sqrt(s2 / p->numel - mean * mean);
    ck_assert_msg(fabs(sd - 0.2) < 0.02 && fabs(mean) < 0.02, "mean %g sd %g", mean, sd);
    /* pad row of the embedding is zero; norms are one */
    const sbti_param *e = sbti_model_param(a, "model.embed_tokens.weight");
    float *we = malloc(sizeof(float) * e->numel);
    ck_assert_int_eq(sbti_model_get_param(a, e, we), SBT_OK);
    for (int i = 0; i < a->C; i++)
        ck_assert(we[i] == 0.0f && we[a->C + i] != 0.0f);
    const sbti_param *n = sbti_model_param(a, "model.norm.weight");
    ck_assert_int_eq(sbti_model_get_param(a, n, wb), SBT_OK);
    for (int i = 0; i < a->C; i++)
        ck_assert(wb[i] == 1.0f);
    ck_assert_int_eq(sbt_model_num_params(a),
                     2 * 97 * 32 + 2 * (32 * (32 + 16 + 16) + 32 * 32 + 3 * 32 * 44 + 2 * 32) + 32);
    free(wa);
    free(wb);
    free(we);
    sbt_model_free(a);
    sbt_model_free(b);
    sbt_model_free(c);
}
END_TEST

/* ---- save / load ---------------------------------------------------------------------------- */

static void check_round_trip(sbt_model *m, sbt_dtype dt, const char *dir, double tol)
{
    sbt_model_save_options o;
    sbt_model_save_options_init(&o);
    o.dtype = dt;
    ck_assert_msg(sbt_model_save(m, dir, &o) == SBT_OK, "%s", sbt_last_error());
    sbt_model *r = NULL;
    ck_assert_msg(sbt_model_load(&r, be, dir) == SBT_OK, "%s", sbt_last_error());
    sbt_model_config a, b;
    sbt_model_get_config(m, &a);
    sbt_model_get_config(r, &b);
    ck_assert_int_eq(a.vocab_size, b.vocab_size);
    ck_assert_int_eq(a.tie_word_embeddings, b.tie_word_embeddings);
    ck_assert_int_eq(b.dtype, dt);
    ck_assert(a.rope_factor == b.rope_factor && a.rms_norm_eps == b.rms_norm_eps);
    const int T = 12;
    int32_t *ids = random_ids(T, m->V, 21);
    float *x = full_logits(m, ids, T), *y = full_logits(r, ids, T);
    double e = rel_err(y, x, (size_t)T * m->V);
    ck_assert_msg(tol == 0 ? e == 0 : e < tol, "dtype %d: logits rel err %g", (int)dt, e);
    free(x);
    free(y);
    free(ids);
    sbt_model_free(r);
}

START_TEST(save_load_round_trip)
{
    sbt_model *m = tiny_model(_i, 15);
    check_round_trip(m, SBT_DTYPE_F32, tmp(_i ? "rt_tied" : "rt_untied"), 0);
    check_round_trip(m, SBT_DTYPE_BF16, tmp("rt_bf16"), 3e-2);
    check_round_trip(m, SBT_DTYPE_F16, tmp("rt_f16"), 3e-3);
    /* the tied model writes no lm_head; the untied one does */
    sbti_st_file *f;
    char path[600];
    snprintf(path, sizeof path, "%s/model.safetensors", tmp(_i ? "rt_tied" : "rt_untied"));
    ck_assert_int_eq(sbti_st_open(&f, path), SBT_OK);
    ck_assert(!!sbti_st_find(f, "lm_head.weight") == !_i);
    ck_assert_str_eq(sbti_st_metadata(f, "format"), "pt");
    sbti_st_close(f);
    sbt_model_free(m);
}
END_TEST

/* Shards through model.safetensors.index.json load as the single file does; a later save
 * into the same folder removes the stale index. */
START_TEST(sharded_checkpoint_loads)
{
    sbt_model *m = tiny_model(0, 16);
    const char *dir = tmp("sharded");
    ck_assert_int_eq(sbt_model_save(m, dir, NULL), SBT_OK);
    /* split: embed + layer 0 in shard 1, the rest in shard 2 */
    char path[600];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    sbti_st_file *f;
    ck_assert_int_eq(sbti_st_open(&f, path), SBT_OK);
    size_t n = sbti_st_count(f);
    sbti_st_entry *e1 = calloc(n, sizeof *e1), *e2 = calloc(n, sizeof *e2);
    size_t n1 = 0, n2 = 0;
    FILE *idx;
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    ck_assert_ptr_nonnull(idx = fopen(path, "w"));
    fprintf(idx, "{\"metadata\": {\"total_size\": 0}, \"weight_map\": {");
    for (size_t i = 0; i < n; i++) {
        const sbti_st_tensor *t = sbti_st_at(f, i);
        int first = strstr(t->name, "embed") || strstr(t->name, "layers.0.");
        sbti_st_entry e = {t->name, t->dtype, t->ndim, t->shape, t->data};
        if (first)
            e1[n1++] = e;
        else
            e2[n2++] = e;
        fprintf(idx, "%s\"%s\": \"model-0000%d-of-00002.safetensors\"", i ? ", " : "", t->name,
                first ? 1 : 2);
    }
    fprintf(idx, "}}\n");
    fclose(idx);
    snprintf(path, sizeof path, "%s/model-00001-of-00002.safetensors", dir);
    ck_assert_int_eq(sbti_st_write(path, e1, n1, NULL, 0), SBT_OK);
    snprintf(path, sizeof path, "%s/model-00002-of-00002.safetensors", dir);
    ck_assert_int_eq(sbti_st_write(path, e2, n2, NULL, 0), SBT_OK);
    sbti_st_close(f);
    free(e1);
    free(e2);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    ck_assert_int_eq(unlink(path), 0);

    sbt_model *r;
    ck_assert_msg(sbt_model_load(&r, be, dir) == SBT_OK, "%s", sbt_last_error());
    int32_t *ids = random_ids(9, m->V, 2);
    float *x = full_logits(m, ids, 9), *y = full_logits(r, ids, 9);
    ck_assert(rel_err(y, x, (size_t)9 * m->V) == 0);
    /* saving over it leaves one file and no index */
    ck_assert_int_eq(sbt_model_save(r, dir, NULL), SBT_OK);
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    ck_assert_int_ne(access(path, F_OK), 0);
    snprintf(path, sizeof path, "%s/model-00001-of-00002.safetensors", dir);
    ck_assert_int_ne(access(path, F_OK), 0);
    free(x);
    free(y);
    free(ids);
    sbt_model_free(r);
    sbt_model_free(m);
}
END_TEST

/* Writes dir/config.json with `config` and dir/model.safetensors from a saved model with one
 * tensor replaced (shape) or dropped. */
static void write_text(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    ck_assert_ptr_nonnull(fp);
    fputs(text, fp);
    fclose(fp);
}

/* Writes text with its first `from` replaced by `to` into path. */
static void write_replaced(const char *path, const char *text, const char *from, const char *to)
{
    const char *at = strstr(text, from);
    ck_assert_msg(at != NULL, "%s not in the config", from);
    FILE *fp = fopen(path, "w");
    ck_assert_ptr_nonnull(fp);
    fprintf(fp, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
    fclose(fp);
}

START_TEST(load_errors_name_the_file_and_field)
{
    sbt_model *m = tiny_model(0, 17), *r = NULL;
    char dir[512];
    snprintf(dir, sizeof dir, "%s", tmp("bad"));
    ck_assert_int_eq(sbt_model_save(m, dir, NULL), SBT_OK);
    char cfg[600], wts[600], text[4096];
    snprintf(cfg, sizeof cfg, "%s/config.json", dir);
    snprintf(wts, sizeof wts, "%s/model.safetensors", dir);
    FILE *fp = fopen(cfg, "r");
    size_t n = fread(text, 1, sizeof text - 1, fp);
    fclose(fp);
    text[n] = 0;

    /* a missing folder */
    ck_assert_int_eq(sbt_model_load(&r, be, tmp("nowhere")), SBT_E_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(sbt_last_error(), "nowhere"));
    /* config: another architecture, a missing field, a mistyped field */
    write_text(cfg, "{\"model_type\": \"gpt2\", \"architectures\": [\"GPT2LMHeadModel\"]}");
    ck_assert_int_eq(sbt_model_load(&r, be, dir), SBT_E_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(sbt_last_error(), "config.json"));
    write_text(cfg, "{\"model_type\": \"llama\", \"hidden_size\": 32}");
    ck_assert_int_eq(sbt_model_load(&r, be, dir), SBT_E_PARSE);
    ck_assert_ptr_nonnull(strstr(sbt_last_error(), "vocab_size"));
    write_replaced(cfg, text, "\"hidden_size\": 32", "\"hidden_size\": \"32\"");
    ck_assert_int_eq(sbt_model_load(&r, be, dir), SBT_E_PARSE);
    ck_assert_ptr_nonnull(strstr(sbt_last_error(), "hidden_size"));
    /* config says 3 layers: layer 2's tensors are missing, named */
    write_replaced(cfg, text, "\"num_hidden_layers\": 2", "\"num_hidden_layers\": 3");
    ck_assert_int_eq(sbt_model_load(&r, be, dir), SBT_E_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(sbt_last_error(), "model.layers.2."));
    /* config says a larger vocabulary: the shape mismatch names the tensor */
    write_replaced(cfg, text, "\"vocab_size\": 97", "\"vocab_size\": 98");
    ck_assert_int_eq(sbt_model_load(&r, be, dir), SBT_E_PARSE);
    ck_assert_ptr_nonnull(strstr(sbt_last_error(), "model.embed_tokens.weight"));
    /* weights: truncated */
    write_text(cfg, text);
    fp = fopen(wts, "r+");
    fseek(fp, 0, SEEK_END);
    long size = ftell(fp);
    fclose(fp);
    ck_assert_int_eq(truncate(wts, size - 10), 0);
    ck_assert_int_eq(sbt_model_load(&r, be, dir), SBT_E_PARSE);
    ck_assert_ptr_nonnull(strstr(sbt_last_error(), "model.safetensors"));
    ck_assert_ptr_null(r);
    /* absurd dimensions in the config are refused before any allocation */
    write_replaced(cfg, text, "\"intermediate_size\": 44", "\"intermediate_size\": 4444444444");
    ck_assert_int_ne(sbt_model_load(&r, be, dir), SBT_OK);
    ck_assert_ptr_nonnull(strstr(sbt_last_error(), "intermediate_size"));
    sbt_model_free(m);
}
END_TEST

/* ---- vocabulary growth ------------------------------------------------------------------ */

START_TEST(resize_keeps_old_logits_and_draws_new_rows_near_the_mean)
{
    sbt_model *m = tiny_model(_i, 18);
    const int V = m->V, C = m->C, T = 8, add = 3;
    int32_t *ids = random_ids(T, V, 6);
    float *before = full_logits(m, ids, T);
    const sbti_param *e = sbti_model_param(m, "model.embed_tokens.weight");
    float *old = malloc(sizeof(float) * e->numel);
    ck_assert_int_eq(sbti_model_get_param(m, e, old), SBT_OK);

    ck_assert_int_eq(sbt_model_resize_vocab(m, V - 1, 1), SBT_E_INVALID_ARGUMENT);
    ck_assert_msg(sbt_model_resize_vocab(m, V + add, 1) == SBT_OK, "%s", sbt_last_error());
    ck_assert_int_eq(m->V, V + add);
    sbt_model_config c;
    sbt_model_get_config(m, &c);
    ck_assert_int_eq(c.vocab_size, V + add);
    float *after = full_logits(m, ids, T);
    for (int t = 0; t < T; t++) /* the old columns are unchanged (new rows don't enter them) */
        ck_assert(memcmp(after + (size_t)t * (V + add), before + (size_t)t * V,
                         sizeof(float) * V) == 0);
    e = sbti_model_param(m, "model.embed_tokens.weight");
    float *grown = malloc(sizeof(float) * e->numel);
    ck_assert_int_eq(sbti_model_get_param(m, e, grown), SBT_OK);
    ck_assert(memcmp(grown, old, sizeof(float) * V * C) == 0);
    double spread = 0;
    for (int k = 0; k < add; k++)
        for (int j = 0; j < C; j++) {
            double mean = 0;
            for (int v = 0; v < V; v++)
                mean += old[v * C + j];
            mean /= V;
            double d = grown[(V + k) * C + j] - mean;
            ck_assert_msg(fabs(d) < 1e-3, "new row %d col %d: %g from the mean", k, j, d);
            spread += fabs(d);
        }
    ck_assert_msg(spread > 0, "new rows are drawn, not exactly the mean"); /* V > C here */
    /* the new token can be fed and predicted */
    int32_t nid[2] = {V + 1, 5};
    float *lg = full_logits(m, nid, 2);
    ck_assert(isfinite(lg[V + 1]));
    free(lg);
    free(grown);
    free(old);
    free(before);
    free(after);
    free(ids);
    sbt_model_free(m);
}
END_TEST

/* ---- training ---------------------------------------------------------------------------- */

START_TEST(training_steps_lower_the_loss)
{
    sbt_model *m = tiny_model(1, 19);
    const int B = 2, T = 12;
    int32_t *ids = random_ids((size_t)B * T, m->V, 8), tgt[24];
    for (int i = 0; i < B * T; i++)
        tgt[i] = (i % T) + 1 < T ? ids[i + 1] : -1;
    tgt[0] = -1;
    sbti_optim_args a = {.lr = 1e-2f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f,
                         .weight_decay = 0.01f, .max_grad_norm = 1.0f};
    double first = 0, loss = 0;
    for (int step = 1; step <= 20; step++) {
        int64_t n = 0;
        ck_assert_int_eq(sbti_model_zero_grad(m), SBT_OK);
        ck_assert_int_eq(sbti_model_forward_train(m, ids, NULL, B, T, tgt, &loss, &n), SBT_OK);
        ck_assert_int_eq(n, 2 * 11 - 1);
        loss /= (double)n;
        if (step == 1)
            first = loss;
        ck_assert_int_eq(sbti_model_backward(m, 1.0f / (float)n), SBT_OK);
        a.step = step;
        double gn;
        ck_assert_int_eq(sbti_model_adamw_step(m, &a, &gn), SBT_OK);
        ck_assert(gn > 0 && isfinite(gn));
    }
    ck_assert_msg(loss < 0.5 * first, "loss %g -> %g", first, loss);
    /* a second backward without a forward is refused */
    ck_assert_int_eq(sbti_model_backward(m, 1.0f), SBT_E_INVALID_ARGUMENT);
    free(ids);
    sbt_model_free(m);
}
END_TEST

/* torch's padding_idx: the padding row gets no gradient from the embedding lookup (a tied head's
 * share stays); without a pad id it does. */
START_TEST(padding_row_gets_no_lookup_gradient)
{
    const int tied = _i;
    float row[2][64];
    for (int with_pad = 0; with_pad < 2; with_pad++) {
        sbt_model *m = tiny_model(tied, 23);
        m->cfg.pad_token_id = with_pad ? 0 : -1;
        int32_t ids[8] = {5, 0, 9, 0, 14, 3, 0, 7}, tgt[8];
        for (int t = 0; t < 8; t++)
            tgt[t] = t + 1 < 8 ? ids[t + 1] : -1;
        double loss;
        int64_t n;
        ck_assert_int_eq(sbti_model_forward_train(m, ids, NULL, 1, 8, tgt, &loss, &n), SBT_OK);
        ck_assert_int_eq(sbti_model_backward(m, 1.0f / (float)n), SBT_OK);
        const sbti_param *e = sbti_model_param(m, "model.embed_tokens.weight");
        float *g = malloc(sizeof(float) * e->numel);
        ck_assert_int_eq(sbti_model_get_grad(m, e, g), SBT_OK);
        memcpy(row[with_pad], g, sizeof(float) * m->C);
        double norm0 = 0, norm5 = 0;
        for (int c = 0; c < m->C; c++) {
            norm0 += fabs(g[c]);
            norm5 += fabs(g[5 * m->C + c]);
        }
        ck_assert(norm5 > 0);
        if (with_pad && !tied)
            ck_assert_msg(norm0 == 0, "untied padding row: |g| = %g", norm0);
        else
            ck_assert(norm0 > 0);
        free(g);
        sbt_model_free(m);
    }
    if (tied) /* the head's share alone differs from head + lookup */
        ck_assert(memcmp(row[0], row[1], sizeof(float) * 32) != 0);
}
END_TEST

START_TEST(backend_handle)
{
    ck_assert_int_eq(sbt_backend_get_kind(be), SBT_BACKEND_CPU);
    ck_assert_str_eq(sbt_backend_name(be), "cpu");
    ck_assert(strlen(sbt_backend_description(be)) > 0);
    sbt_backend_kind k;
    ck_assert_int_eq(sbt_backend_kind_parse("cuda", &k), SBT_OK);
    ck_assert_int_eq(k, SBT_BACKEND_CUDA);
    ck_assert_int_eq(sbt_backend_kind_parse("tpu", &k), SBT_E_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(sbt_last_error(), "tpu"));
    sbt_backend_options o;
    sbt_backend_options_init(&o);
    o.size = 4;
    sbt_backend *b2 = NULL;
    ck_assert_int_eq(sbt_backend_create(&b2, &o), SBT_E_INVALID_ARGUMENT);
    /* AUTO always gives something; CUDA gives a GPU or a clean error */
    sbt_backend_options_init(&o);
    ck_assert_int_eq(sbt_backend_create(&b2, &o), SBT_OK);
    sbt_backend_free(b2);
    o.kind = SBT_BACKEND_CUDA;
    sbt_status st = sbt_backend_create(&b2, &o);
    if (st == SBT_OK)
        sbt_backend_free(b2);
    else
        ck_assert(strlen(sbt_last_error()) > 0);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("model");
    TCase *tc = tcase_create("model");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, kv_prefill_then_decode_equals_full_forward, 0, 4);
    tcase_add_loop_test(tc, kv_fork_truncate_and_copy_on_write, 0, 2);
    tcase_add_loop_test(tc, kv_errors_leave_the_cache_usable, 0, 2);
    tcase_add_loop_test(tc, kv_padded_equals_unpadded, 0, 2);
    tcase_add_test(tc, forward_padding_and_last_only);
    tcase_add_test(tc, create_is_seeded_and_initialised_as_transformers);
    tcase_add_loop_test(tc, save_load_round_trip, 0, 2);
    tcase_add_test(tc, sharded_checkpoint_loads);
    tcase_add_test(tc, load_errors_name_the_file_and_field);
    tcase_add_loop_test(tc, resize_keeps_old_logits_and_draws_new_rows_near_the_mean, 0, 2);
    tcase_add_test(tc, training_steps_lower_the_loss);
    tcase_add_loop_test(tc, padding_row_gets_no_lookup_gradient, 0, 2);
    tcase_add_test(tc, backend_handle);
    suite_add_tcase(s, tc);
    return s;
}

SBT_CHECK_MAIN(suite)
