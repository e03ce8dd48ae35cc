/* test_decoder.c — the decoding strategies on a real model of the CPU backend whose weights are
 * set so its outputs are known: a bigram model (embeddings one-hot, every layer's output
 * projections zero, the LM head holding log-probabilities), so greedy, beam search, beam-sample
 * and sampling have expected sequences; and the engine's KV source: truncation + continuation
 * and forks give the logits a full recomputation gives, and the search with the KV cache equals
 * the search that refeeds every sequence from scratch. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode/decoder_internal.h"
#include "decode/lm.h"
#include "model/model.h"
#include "selfbt/decoder.h"
#include "selfbt/tokenizer.h"

#include "backend_fixture.h"
#include "check_main.h"

static sbt_backend *be;
static sbt_tokenizer *tok;
static const char *PROMPT = "###Question: numbers [1, 2, 3, 4]->target 12\n###Response:\n";

static void setup(void)
{
    be = test_backend(SBT_BACKEND_CPU, 2);
    ck_assert_int_eq(sbt_tokenizer_create_countdown(&tok), SBT_OK);
}

static void teardown(void)
{
    sbt_tokenizer_free(tok);
    sbt_backend_free(be);
}

static sbt_token id_of(const char *s)
{
    size_t n = 0;
    sbt_token id = -1;
    ck_assert_int_eq(sbt_tokenizer_encode(tok, s, strlen(s), 0, &id, 1, &n), SBT_OK);
    ck_assert_int_eq((int)n, 1);
    return id;
}

/* A one-layer model over the tokenizer's vocabulary whose next-token logits are B[last token]:
 * hidden size = V, embeddings one-hot, attention and MLP outputs zero, the LM head B^T/sqrt(V)
 * (the final RMSNorm scales a one-hot row by sqrt(V)). */
static sbt_model *bigram_model(const float *B, int V, double attn_std)
{
    sbt_model_config c;
    sbt_model_config_init(&c);
    c.vocab_size = V;
    c.hidden_size = V;
    c.intermediate_size = 8;
    c.num_hidden_layers = 1;
    c.num_attention_heads = 1;
    c.num_key_value_heads = 1;
    c.head_dim = 8;
    c.max_position_embeddings = 256;
    c.rms_norm_eps = 1e-12;
    c.rope_theta = 10000;
    c.tie_word_embeddings = 0;
    c.bos_token_id = sbt_tokenizer_bos(tok);
    c.eos_token_id = sbt_tokenizer_eos(tok);
    c.pad_token_id = -1;
    c.initializer_range = attn_std > 0 ? attn_std : 0.02;
    sbt_model *m = NULL;
    ck_assert_msg(sbt_model_create(&m, be, &c, 7) == SBT_OK, "%s", sbt_last_error());
    float *buf = malloc(sizeof(float) * (size_t)V * V);
    for (size_t i = 0; i < m->n_params; i++) {
        const sbti_param *p = &m->params[i];
        const char *nm = p->name;
        int keep_random = attn_std > 0 && (strstr(nm, "q_proj") || strstr(nm, "k_proj") ||
                                           strstr(nm, "v_proj") || strstr(nm, "o_proj"));
        if (keep_random)
            continue;
        memset(buf, 0, sizeof(float) * p->numel);
        if (strstr(nm, "layernorm") || strcmp(nm, "model.norm.weight") == 0)
            for (size_t k = 0; k < p->numel; k++)
                buf[k] = 1.0f;
        else if (strcmp(nm, "model.embed_tokens.weight") == 0)
            for (int t = 0; t < V; t++)
                buf[(size_t)t * V + t] = 1.0f;
        else if (strcmp(nm, "lm_head.weight") == 0)
            for (int v = 0; v < V; v++)
                for (int t = 0; t < V; t++)
                    buf[(size_t)v * V + t] = B[(size_t)t * V + v] / sqrtf((float)V);
        ck_assert_int_eq(sbti_model_set_param(m, p, buf, SBTI_F32), SBT_OK);
    }
    free(buf);
    return m;
}

/* The bigram table of the strategy tests: after the prompt's last token ":\n", "1" .6 / "2" .4;
 * "1" -> "3" .55 / "4" .45; "2" -> "5" .9 / "6" .1; then EOS. Everything else -30. */
static float *table(int V, double p_first)
{
    float *B = malloc(sizeof(float) * (size_t)V * V);
    for (size_t i = 0; i < (size_t)V * V; i++)
        B[i] = -30.0f;
    sbt_token colon = id_of(":\n"), t1 = id_of("1"), t2 = id_of("2"), t3 = id_of("3"),
              t4 = id_of("4"), t5 = id_of("5"), t6 = id_of("6"), eos = sbt_tokenizer_eos(tok);
#define SET(a, b, p) B[(size_t)(a) * V + (b)] = (float)log(p)
    SET(colon, t1, p_first);
    SET(colon, t2, 1 - p_first);
    SET(t1, t3, 0.55);
    SET(t1, t4, 0.45);
    SET(t2, t5, 0.9);
    SET(t2, t6, 0.1);
    SET(t3, eos, 1.0);
    SET(t4, eos, 1.0);
    SET(t5, eos, 1.0);
    SET(t6, eos, 1.0);
#undef SET
    return B;
}

static char *decode1(sbt_model *m, const sbt_decoder_options *o, int n_prompts, double *score)
{
    sbt_decoder *d = NULL;
    ck_assert_msg(sbt_decoder_create(&d, m, tok, o) == SBT_OK, "%s", sbt_last_error());
    const char **p = malloc(sizeof *p * (size_t)n_prompts);
    for (int i = 0; i < n_prompts; i++)
        p[i] = PROMPT;
    sbt_decode_results *res = NULL;
    ck_assert_msg(sbt_decoder_run(d, p, n_prompts, &res) == SBT_OK, "%s", sbt_last_error());
    /* the responses, one a line */
    size_t cap = 64 * (size_t)n_prompts + 1, len = 0;
    char *out = malloc(cap);
    out[0] = 0;
    for (int i = 0; i < n_prompts; i++) {
        sbt_decode_result r;
        r.size = sizeof r;
        ck_assert_int_eq(sbt_decode_results_get(res, i, &r), SBT_OK);
        const char *resp = strstr(r.text, "###Response:\n");
        ck_assert_ptr_nonnull(resp);
        len += (size_t)snprintf(out + len, cap - len, "%s|", resp + 13);
        if (score)
            *score = r.score;
    }
    free(p);
    sbt_decode_results_free(res);
    sbt_decoder_free(d);
    return out;
}

START_TEST(strategies_on_a_bigram_model)
{
    int V = sbt_tokenizer_n_vocab(tok);
    float *B = table(V, 0.6);
    sbt_model *m = bigram_model(B, V, 0);
    sbt_decoder_options o;
    sbt_decoder_options_init(&o);

    o.strategy = SBT_DECODE_GREEDY; /* the likeliest token each time: 1 (.6) then 3 */
    char *s = decode1(m, &o, 1, NULL);
    ck_assert_str_eq(s, "13<|end_of_text|>|");
    free(s);

    o.strategy = SBT_DECODE_BEAM; /* two beams keep "2", whose 2 5 (.36) beats 1 3 (.33) */
    o.n = 2;
    double score = 0;
    s = decode1(m, &o, 1, &score);
    ck_assert_str_eq(s, "25<|end_of_text|>|");
    ck_assert_msg(fabs(score - log(0.36) / 3) < 1e-4, "%g", score); /* HF: sum / generated */
    free(s);
    o.n = 1; /* one beam is greedy */
    s = decode1(m, &o, 1, NULL);
    ck_assert_str_eq(s, "13<|end_of_text|>|");
    free(s);

    /* beam-sample with top-k 2: at most 2N candidates a step, so all are drawn: the beam result */
    o.strategy = SBT_DECODE_BEAM_SAMPLE;
    o.n = 2;
    o.top_k = 2;
    o.top_p = 1.0;
    s = decode1(m, &o, 3, &score);
    ck_assert_str_eq(s, "25<|end_of_text|>|25<|end_of_text|>|25<|end_of_text|>|");
    ck_assert_msg(fabs(score - log(0.36) / 0.7 / 3) < 1e-4, "%g", score); /* scores are /T */
    free(s);

    /* sampling with a vanishing nucleus keeps one token: greedy */
    o.strategy = SBT_DECODE_SAMPLE;
    o.n = 1;
    o.top_k = 0;
    o.top_p = 1e-6;
    s = decode1(m, &o, 2, NULL);
    ck_assert_str_eq(s, "13<|end_of_text|>|13<|end_of_text|>|");
    free(s);
    sbt_model_free(m);
    free(B);
}
END_TEST

START_TEST(sampling_frequencies_and_batch_invariance)
{
    int V = sbt_tokenizer_n_vocab(tok);
    float *B = table(V, 0.5);
    sbt_model *m = bigram_model(B, V, 0);
    sbt_decoder_options o;
    sbt_decoder_options_init(&o);
    o.strategy = SBT_DECODE_SAMPLE;
    o.n = 1;
    o.temperature = 1.0;
    o.top_p = 1.0;
    o.top_k = 2;
    o.batch = 64;
    const int N = 200;
    char *a = decode1(m, &o, N, NULL);
    o.batch = 7;
    char *b = decode1(m, &o, N, NULL);
    ck_assert_str_eq(a, b); /* each prompt draws from its own stream */
    int ones = 0;
    for (const char *p = a; *p; p++)
        if (p[0] == '|' && p[1] == '1')
            ones++;
    ones += a[0] == '1';
    ck_assert_msg(ones > N / 2 - 30 && ones < N / 2 + 30, "%d of %d start with 1", ones, N);
    free(a);
    free(b);
    sbt_model_free(m);
    free(B);
}
END_TEST

/* Next-token log-probs (V <= SBTI_SELECT_MAX_K) through a source: one deterministic
 * selection that returns every token. */
static sbt_status lm_logprobs(sbti_lm *lm, const int32_t *ids, const int32_t *seq, int n, int row,
                              float *lp)
{
    const int V = lm->n_vocab;
    sbti_select_args all = {.sample = 0, .k = V, .extra_id = -1};
    uint8_t group = 0;
    uint64_t seed = 0;
    int32_t kept, cid[SBTI_SELECT_MAX_K];
    float clp[SBTI_SELECT_MAX_K], ckey[SBTI_SELECT_MAX_K], extra;
    sbti_lm_select sel = {.groups = &all, .n_groups = 1, .kmax = V, .group = &group,
                          .seed = &seed, .ids = cid, .lp = clp, .key = ckey, .kept = &kept,
                          .extra_lp = &extra};
    sbt_status st = lm->vt->submit(lm, 0, ids, seq, n, &row, 1, &sel);
    if (st == SBT_OK)
        st = lm->vt->collect(lm, 0);
    for (int c = 0; st == SBT_OK && c < V; c++) {
        ck_assert_int_ge(cid[c], 0);
        lp[cid[c]] = clp[c];
    }
    return st;
}

/* log_softmax of a row, in place. */
static void log_softmax(float *x, int V)
{
    double mx = -INFINITY, s = 0;
    for (int v = 0; v < V; v++)
        mx = x[v] > mx ? x[v] : mx;
    for (int v = 0; v < V; v++)
        s += exp(x[v] - mx);
    for (int v = 0; v < V; v++)
        x[v] = (float)(x[v] - mx - log(s));
}

/* The KV source: prefill, decode, fork (a reorder), truncate (a rollback) and continue give the
 * log-probs of a full forward of the same tokens. */
START_TEST(kv_truncate_and_continue_equals_recompute)
{
    sbt_model_config c;
    sbt_model_config_init(&c);
    c.vocab_size = 97;
    c.hidden_size = 32;
    c.intermediate_size = 40;
    c.num_hidden_layers = 2;
    c.num_attention_heads = 4;
    c.num_key_value_heads = 2;
    c.max_position_embeddings = 128;
    c.rms_norm_eps = 1e-5;
    c.initializer_range = 0.2;
    c.bos_token_id = 1;
    c.eos_token_id = 2;
    sbt_model *m = NULL;
    ck_assert_int_eq(sbt_model_create(&m, be, &c, 3), SBT_OK);
    sbti_lm *lm = NULL;
    ck_assert_int_eq(sbti_lm_kv_create(&lm, m, 3, 64, 4, 48), SBT_OK);
    int32_t seq[40];
    for (int i = 0; i < 40; i++)
        seq[i] = 3 + (i * 37) % 90;
    float *got = malloc(sizeof(float) * 97), *full = malloc(sizeof(float) * 40 * 97);
    int32_t sq[20] = {0}, last = 9;
    ck_assert_int_eq(lm_logprobs(lm, seq, sq, 10, last, got), SBT_OK); /* prefill 10 */
    lm->vt->fork(lm, 1, 0);
    int32_t s1 = 1;
    /* slot 1 continues with 11 tokens; slot 0 is rolled back to 6 and continues differently */
    for (int t = 10; t < 21; t++)
        ck_assert_int_eq(lm_logprobs(lm, seq + t, &s1, 1, 0, got), SBT_OK);
    ck_assert_int_eq(sbt_model_forward(m, seq, 1, 21, NULL, 0, full), SBT_OK);
    log_softmax(full + 20 * 97, 97);
    for (int v = 0; v < 97; v++)
        ck_assert_msg(fabsf(got[v] - full[20 * 97 + v]) < 1e-4, "forked slot, token %d", v);
    lm->vt->truncate(lm, 0, 6);
    int32_t alt[12];
    memcpy(alt, seq, sizeof(int32_t) * 6);
    for (int t = 6; t < 12; t++) {
        alt[t] = 5 + t;
        int32_t s0 = 0;
        ck_assert_int_eq(lm_logprobs(lm, alt + t, &s0, 1, 0, got), SBT_OK);
        ck_assert_int_eq(sbt_model_forward(m, alt, 1, t + 1, NULL, 0, full), SBT_OK);
        log_softmax(full + t * 97, 97);
        for (int v = 0; v < 97; v++)
            ck_assert_msg(fabsf(got[v] - full[t * 97 + v]) < 1e-4, "rolled back, t %d logit %d", t,
                          v);
    }
    free(got);
    free(full);
    sbti_lm_free(lm);
    sbt_model_free(m);
}
END_TEST

/* The whole search with the KV cache (prompt shared by the beams, rollback by truncation) equals
 * the search that refeeds every sequence from scratch at every step. The model is the bigram
 * structure of a backtracking task plus random attention, so the history matters. */
START_TEST(search_with_kv_cache_equals_recompute)
{
    int V = sbt_tokenizer_n_vocab(tok);
    float *B = malloc(sizeof(float) * (size_t)V * V);
    for (size_t i = 0; i < (size_t)V * V; i++)
        B[i] = -30.0f;
    const char *alpha[] = {"1", "2", "+", "=", "\n", "<backtrack>", "Goal", " Reached", "!", ":\n"};
    sbt_token ids[11];
    for (int i = 0; i < 10; i++)
        ids[i] = id_of(alpha[i]);
    ids[10] = sbt_tokenizer_eos(tok);
    uint32_t x = 12345;
    for (int a = 0; a < 11; a++)
        for (int b = 0; b < 5; b++) { /* steps of 1 2 + = and newlines */
            x = x * 1664525u + 1013904223u;
            B[(size_t)ids[a] * V + ids[b]] = (float)((x >> 8) % 1000) / 400.0f;
        }
    /* "\n" leads often to <backtrack>, <backtrack> and "!" to EOS */
    B[(size_t)ids[4] * V + ids[5]] = 1.8f;  /* \n <backtrack> */
    B[(size_t)ids[4] * V + ids[6]] = 0.8f;  /* \n Goal Reached! */
    B[(size_t)ids[6] * V + ids[7]] = 5.0f;
    B[(size_t)ids[7] * V + ids[8]] = 5.0f;
    B[(size_t)ids[5] * V + ids[10]] = 5.0f; /* then EOS */
    B[(size_t)ids[8] * V + ids[10]] = 5.0f;
    sbt_model *m = bigram_model(B, V, 0.02);
    sbt_decoder_options o;
    sbt_decoder_options_init(&o);
    o.n = 4;
    o.b = 2;
    o.width = SBT_WIDTH_FIXED;
    o.k = 2;
    o.max_length = 40;
    o.batch = 3;
    const char *p[4] = {PROMPT, "###Question: numbers [2, 2]->target 4\n###Response:\n", PROMPT,
                        "###Question: numbers [9, 1]->target 10\n###Response:\n"};
    /* cached, one batch in flight; recomputed; cached with two batches in flight (the problems
     * split 2 + 1 between them, so other problems share each step) */
    sbt_decode_results *res[3];
    for (int rc = 0; rc < 3; rc++) {
        sbt_decoder *d = NULL;
        ck_assert_int_eq(sbt_decoder_create(&d, m, tok, &o), SBT_OK);
        sbti_decoder_set_recompute(d, rc == 1);
        sbti_decoder_set_lanes(d, rc == 2 ? 2 : 1);
        ck_assert_msg(sbt_decoder_run(d, p, 4, &res[rc]) == SBT_OK, "%s", sbt_last_error());
        sbt_decoder_free(d);
    }
    int bts = 0;
    for (int i = 0; i < 4; i++) {
        sbt_decode_result a, b, c;
        a.size = b.size = c.size = sizeof a;
        ck_assert_int_eq(sbt_decode_results_get(res[0], i, &a), SBT_OK);
        ck_assert_int_eq(sbt_decode_results_get(res[1], i, &b), SBT_OK);
        ck_assert_int_eq(sbt_decode_results_get(res[2], i, &c), SBT_OK);
        ck_assert_str_eq(a.text, b.text);
        ck_assert_int_eq(a.n_expansions, b.n_expansions);
        ck_assert_int_eq(a.generated_tokens, b.generated_tokens);
        ck_assert(isnan(a.score) ? isnan(b.score) : fabs(a.score - b.score) < 1e-4);
        ck_assert_str_eq(a.text, c.text); /* rows are computed alike whoever shares the step */
        ck_assert_int_eq(a.n_expansions, c.n_expansions);
        ck_assert_int_eq(a.generated_tokens, c.generated_tokens);
        ck_assert(isnan(a.score) ? isnan(c.score) : a.score == c.score);
        bts += a.n_backtracks;
        if (getenv("SBT_TEST_VERBOSE"))
            printf("%d: %s (exp %d)\n", i, a.text, a.n_expansions);
    }
    ck_assert_msg(bts > 0, "no rollback happened: a weak test");
    sbt_decode_stats s0, s1;
    s0.size = s1.size = sizeof s0;
    sbt_decode_results_stats(res[0], &s0);
    sbt_decode_results_stats(res[1], &s1);
    ck_assert_msg(s0.forward_tokens * 3 < s1.forward_tokens, "cached %lld vs recomputed %lld",
                  (long long)s0.forward_tokens, (long long)s1.forward_tokens);
    for (int rc = 0; rc < 3; rc++)
        sbt_decode_results_free(res[rc]);
    sbt_model_free(m);
    free(B);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("decoder");
    TCase *tc = tcase_create("strategies");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, strategies_on_a_bigram_model);
    tcase_add_test(tc, sampling_frequencies_and_batch_invariance);
    tcase_add_test(tc, kv_truncate_and_continue_equals_recompute);
    tcase_add_test(tc, search_with_kv_cache_equals_recompute);
    suite_add_tcase(s, tc);
    return s;
}

SBT_CHECK_MAIN(suite)
