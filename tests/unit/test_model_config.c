/* test_model_config.c — config.json for LlamaForCausalLM: the published Llama-3.2-1B file and
 * one written by transformers 5.17, transformers' defaults, writing (byte-identical to the
 * published layout), RoPE inverse frequencies bit for bit against transformers, and broken
 * or foreign configs (clear status and a message naming the file and the field). */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "model/config.h"

#include "check_main.h"

#define CFG SBT_TEST_DATA_DIR "/config"
#define LLAMA32 CFG "/llama-3.2-1b.json"
#define N_OF(a) (sizeof(a) / sizeof *(a))

/* ---- helpers ---------------------------------------------------------------------------- */

static const char *tmp(const char *name)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/cfg_%s", SBT_TEST_TMP_DIR, name);
    return path;
}

/* The text of path, NUL-terminated, malloc'd. */
static char *slurp(const char *path)
{
    FILE *fp = fopen(path, "rb");
    ck_assert_ptr_nonnull(fp);
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    rewind(fp);
    char *buf = malloc((size_t)n + 1);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, fp), (size_t)n);
    buf[n] = '\0';
    fclose(fp);
    return buf;
}

/* text with its one occurrence of `from` replaced by `to`, malloc'd. */
static char *replace(const char *text, const char *from, const char *to)
{
    const char *at = strstr(text, from);
    ck_assert_msg(at && !strstr(at + 1, from), "\"%s\" must occur once", from);
    size_t head = (size_t)(at - text), nf = strlen(from), nt = strlen(to);
    char *out = malloc(strlen(text) - nf + nt + 1);
    memcpy(out, text, head);
    memcpy(out + head, to, nt);
    strcpy(out + head + nt, at + nf);
    return out;
}

static void expect_parse_fail(const char *text, sbt_status status, const char *part1,
                              const char *part2)
{
    sbti_config c;
    sbt_status st = sbti_config_parse(&c, text, strlen(text), "variant.json");
    const char *msg = sbt_last_error();
    ck_assert_msg(st == status, "status %d, expected %d: %s", st, status, msg);
    ck_assert_msg(strstr(msg, "variant.json"), "message does not name the file: %s", msg);
    ck_assert_msg(!part1 || strstr(msg, part1), "message lacks \"%s\": %s", part1, msg);
    ck_assert_msg(!part2 || strstr(msg, part2), "message lacks \"%s\": %s", part2, msg);
}

/* The Llama-3.2-1B file with `from` replaced by `to` fails with status and the parts. */
static void expect_variant(const char *from, const char *to, sbt_status status, const char *part1,
                           const char *part2)
{
    char *base = slurp(LLAMA32);
    char *text = replace(base, from, to);
    expect_parse_fail(text, status, part1, part2);
    free(text);
    free(base);
}

/* One variant of the Llama-3.2-1B file: `from` replaced by `to`, and a part of the message. */
typedef struct variant_case {
    const char *from, *to, *part;
} variant_case;

/* Each case fails with status and a message holding its part. */
static void expect_variants(const variant_case *cases, size_t n, sbt_status status)
{
    for (size_t i = 0; i < n; i++)
        expect_variant(cases[i].from, cases[i].to, status, cases[i].part, NULL);
}

static void assert_same(const sbti_config *a, const sbti_config *b)
{
    ck_assert_int_eq(a->vocab_size, b->vocab_size);
    ck_assert_int_eq(a->hidden_size, b->hidden_size);
    ck_assert_int_eq(a->intermediate_size, b->intermediate_size);
    ck_assert_int_eq(a->num_hidden_layers, b->num_hidden_layers);
    ck_assert_int_eq(a->num_attention_heads, b->num_attention_heads);
    ck_assert_int_eq(a->num_key_value_heads, b->num_key_value_heads);
    ck_assert_int_eq(a->head_dim, b->head_dim);
    ck_assert_int_eq(a->max_position_embeddings, b->max_position_embeddings);
    ck_assert(a->rms_norm_eps == b->rms_norm_eps && a->rope_theta == b->rope_theta);
    ck_assert_int_eq(a->rope_type, b->rope_type);
    if (a->rope_type == SBTI_ROPE_LLAMA3) {
        ck_assert(a->rope_factor == b->rope_factor);
        ck_assert(a->rope_low_freq_factor == b->rope_low_freq_factor);
        ck_assert(a->rope_high_freq_factor == b->rope_high_freq_factor);
        ck_assert_int_eq(a->rope_original_max_position_embeddings,
                         b->rope_original_max_position_embeddings);
    }
    ck_assert_int_eq(a->tie_word_embeddings, b->tie_word_embeddings);
    ck_assert_int_eq(a->bos_token_id, b->bos_token_id);
    ck_assert_int_eq(a->pad_token_id, b->pad_token_id);
    ck_assert_int_eq(a->n_eos, b->n_eos);
    ck_assert_int_eq(a->eos_is_list, b->eos_is_list);
    for (int i = 0; i < a->n_eos; i++)
        ck_assert_int_eq(a->eos_token_id[i], b->eos_token_id[i]);
    ck_assert_str_eq(a->torch_dtype, b->torch_dtype);
    ck_assert(a->initializer_range == b->initializer_range);
}

static void assert_bits_eq(const float *got, const float *want, size_t n)
{
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(memcmp(&got[i], &want[i], sizeof(float)) == 0, "[%zu]: %a, expected %a", i,
                      (double)got[i], (double)want[i]);
}

/* c's RoPE inverse frequencies ([head_dim / 2] of them, n) equal want bit for bit. */
static void expect_inv_freq(const sbti_config *c, const float *want, size_t n)
{
    float inv[64];
    ck_assert_msg((size_t)c->head_dim / 2 == n && n <= N_OF(inv), "head_dim %lld for %zu frequencies",
                  (long long)c->head_dim, n);
    sbti_rope_inv_freq(inv, c);
    assert_bits_eq(inv, want, n);
}

/* ==== reading =========================================================================== */

START_TEST(llama_3_2_1b_loads)
{
    sbti_config c;
    ck_assert_int_eq(sbti_config_load(&c, LLAMA32), SBT_OK);
    ck_assert_int_eq(c.vocab_size, 128256);
    ck_assert_int_eq(c.hidden_size, 2048);
    ck_assert_int_eq(c.intermediate_size, 8192);
    ck_assert_int_eq(c.num_hidden_layers, 16);
    ck_assert_int_eq(c.num_attention_heads, 32);
    ck_assert_int_eq(c.num_key_value_heads, 8);
    ck_assert_int_eq(c.head_dim, 64);
    ck_assert_int_eq(c.max_position_embeddings, 131072);
    ck_assert(c.rms_norm_eps == 1e-5 && c.rope_theta == 500000.0);
    ck_assert_int_eq(c.rope_type, SBTI_ROPE_LLAMA3);
    ck_assert(c.rope_factor == 32.0 && c.rope_low_freq_factor == 1.0 && c.rope_high_freq_factor == 4.0);
    ck_assert_int_eq(c.rope_original_max_position_embeddings, 8192);
    ck_assert_int_eq(c.tie_word_embeddings, 1);
    ck_assert_int_eq(c.bos_token_id, 128000);
    ck_assert_int_eq(c.n_eos, 1);
    ck_assert_int_eq(c.eos_is_list, 0);
    ck_assert_int_eq(c.eos_token_id[0], 128001);
    ck_assert_int_eq(c.pad_token_id, -1);
    ck_assert_str_eq(c.torch_dtype, "bfloat16");
    ck_assert(c.initializer_range == 0.02);
}
END_TEST

START_TEST(transformers_5_config_loads)
{
    /* written by transformers 5.17 save_pretrained: rope_parameters, "dtype", eos list */
    sbti_config c;
    ck_assert_int_eq(sbti_config_load(&c, CFG "/tiny-llama3-transformers5.json"), SBT_OK);
    ck_assert_int_eq(c.vocab_size, 300);
    ck_assert_int_eq(c.hidden_size, 64);
    ck_assert_int_eq(c.num_attention_heads, 4);
    ck_assert_int_eq(c.num_key_value_heads, 2);
    ck_assert_int_eq(c.head_dim, 16);
    ck_assert(c.rope_theta == 500000.0 && c.rms_norm_eps == 1e-6);
    ck_assert_int_eq(c.rope_type, SBTI_ROPE_LLAMA3);
    ck_assert(c.rope_factor == 32.0);
    ck_assert_int_eq(c.rope_original_max_position_embeddings, 8192);
    ck_assert_int_eq(c.n_eos, 2);
    ck_assert_int_eq(c.eos_is_list, 1);
    ck_assert_int_eq(c.eos_token_id[0], 128001);
    ck_assert_int_eq(c.eos_token_id[1], 128009);
    ck_assert_int_eq(c.pad_token_id, -1);
    ck_assert_str_eq(c.torch_dtype, "bfloat16");
}
END_TEST

START_TEST(absent_fields_take_transformers_defaults)
{
    const char *text = "{\"model_type\": \"llama\", \"vocab_size\": 300, \"hidden_size\": 64, "
                       "\"intermediate_size\": 128, \"num_hidden_layers\": 2, "
                       "\"num_attention_heads\": 4, \"rope_scaling\": null, \"pad_token_id\": null,"
                       " \"num_key_value_heads\": null, \"some_other_key\": [1, 2]}";
    sbti_config c;
    ck_assert_int_eq(sbti_config_parse(&c, text, strlen(text), "min.json"), SBT_OK);
    ck_assert_int_eq(c.num_key_value_heads, 4);
    ck_assert_int_eq(c.head_dim, 16);
    ck_assert_int_eq(c.max_position_embeddings, 2048);
    ck_assert(c.rms_norm_eps == 1e-6 && c.rope_theta == 10000.0 && c.initializer_range == 0.02);
    ck_assert_int_eq(c.rope_type, SBTI_ROPE_DEFAULT);
    ck_assert_int_eq(c.bos_token_id, 1);
    ck_assert_int_eq(c.n_eos, 1);
    ck_assert_int_eq(c.eos_token_id[0], 2);
    ck_assert_int_eq(c.pad_token_id, -1);
    ck_assert_int_eq(c.tie_word_embeddings, 0);
    ck_assert_str_eq(c.torch_dtype, "float32");

    /* null ids are none; a rope_type "default" is no scaling; "type" is the old key */
    const char *t2 = "{\"model_type\": \"llama\", \"vocab_size\": 300, \"hidden_size\": 64, "
                     "\"intermediate_size\": 128, \"num_hidden_layers\": 2, \"num_attention_heads\":"
                     " 4, \"bos_token_id\": null, \"eos_token_id\": null, \"pad_token_id\": 0, "
                     "\"rope_parameters\": {\"rope_type\": \"default\", \"rope_theta\": 1000.0}}";
    ck_assert_int_eq(sbti_config_parse(&c, t2, strlen(t2), "min.json"), SBT_OK);
    ck_assert_int_eq(c.bos_token_id, -1);
    ck_assert_int_eq(c.n_eos, 0);
    ck_assert_int_eq(c.pad_token_id, 0);
    ck_assert(c.rope_theta == 1000.0);
    ck_assert_int_eq(c.rope_type, SBTI_ROPE_DEFAULT);
    char *base = slurp(LLAMA32);
    char *t3 = replace(base, "\"rope_type\": \"llama3\"", "\"type\": \"llama3\"");
    ck_assert_int_eq(sbti_config_parse(&c, t3, strlen(t3), "old.json"), SBT_OK);
    ck_assert_int_eq(c.rope_type, SBTI_ROPE_LLAMA3);
    free(t3);
    free(base);
}
END_TEST

/* ==== RoPE ============================================================================== */

/* transformers 5.17 / torch 2.11 (CPU), LlamaRotaryEmbedding(config).inv_freq for the
 * Llama-3.2-1B config. */
static const float llama32_inv_freq[32] = {
    0x1.000000p+0f,  0x1.53c38cp-1f,  0x1.c2ef78p-2f,  0x1.2b3dc6p-2f,  0x1.8d2760p-3f,
    0x1.078d40p-3f,  0x1.5dc95ap-4f,  0x1.d03ccep-5f,  0x1.341190p-5f,  0x1.98de92p-6f,
    0x1.0f5386p-6f,  0x1.681adap-7f,  0x1.ddee9ep-8f,  0x1.3d2804p-8f,  0x1.a4ee40p-9f,
    0x1.524f36p-10f, 0x1.c26c40p-12f, 0x1.9731eep-14f, 0x1.46831ap-16f, 0x1.b15902p-17f,
    0x1.1f91f0p-17f, 0x1.7da9e8p-18f, 0x1.fa8b86p-19f, 0x1.5024d6p-19f, 0x1.be2188p-20f,
    0x1.280d96p-20f, 0x1.88ec20p-21f, 0x1.04be68p-21f, 0x1.5a0f4ep-22f, 0x1.cb4a9ap-23f,
    0x1.30c94ep-23f, 0x1.948360p-24f,
};

START_TEST(llama3_inv_freq_matches_transformers_bit_for_bit)
{
    sbti_config c;
    ck_assert_int_eq(sbti_config_load(&c, LLAMA32), SBT_OK);
    expect_inv_freq(&c, llama32_inv_freq, 32);

    /* the transformers-5 tiny config: head_dim 16, same scaling */
    static const float tiny[8] = {0x1.000000p+0f,  0x1.8d2760p-3f,  0x1.341190p-5f,
                                  0x1.ddee9ep-8f,  0x1.c26c40p-12f, 0x1.1f91f0p-17f,
                                  0x1.be2188p-20f, 0x1.5a0f4ep-22f};
    ck_assert_int_eq(sbti_config_load(&c, CFG "/tiny-llama3-transformers5.json"), SBT_OK);
    expect_inv_freq(&c, tiny, 8);
}
END_TEST

START_TEST(llama31_8b_inv_freq_matches_transformers_bit_for_bit)
{
    /* Llama-3.1-8B: head_dim 128, theta 500000, llama3 factor 8 / 1 / 4 / 8192; values from
     * LlamaRotaryEmbedding of transformers 5.17 (torch 2.11, CPU) */
    static const float want[64] = {
        0x1.0p+0f,      0x1.a11582p-1f,  0x1.53c38cp-1f,  0x1.14c708p-1f,  0x1.c2ef78p-2f,
        0x1.6f56fap-2f,  0x1.2b3dc6p-2f,  0x1.e788c2p-3f,  0x1.8d276p-3f,   0x1.43874p-3f,
        0x1.078d4p-3f,   0x1.ad6338p-4f,  0x1.5dc95ap-4f,  0x1.1cf13p-4f,   0x1.d03ccep-5f,
        0x1.7a2d08p-5f,  0x1.34119p-5f,   0x1.f5ea7ep-6f,  0x1.98de92p-6f,  0x1.4d1272p-6f,
        0x1.0f5386p-6f,  0x1.ba0dd8p-7f,  0x1.681adap-7f,  0x1.2558fep-7f,  0x1.ddee9ep-8f,
        0x1.8554ecp-8f,  0x1.3d2804p-8f,  0x1.025c6ap-8f,  0x1.a4ee4p-9f,   0x1.1bfa0cp-9f,
        0x1.67a23ap-10f, 0x1.c12f3cp-11f, 0x1.132ba4p-11f, 0x1.47e21p-12f,  0x1.765ba4p-13f,
        0x1.90d10cp-14f, 0x1.46831ap-14f, 0x1.09fb7ep-14f, 0x1.b15902p-15f, 0x1.610332p-15f,
        0x1.1f91fp-15f,  0x1.d484dep-16f, 0x1.7da9e8p-16f, 0x1.36e8eap-16f, 0x1.fa8b86p-17f,
        0x1.9ca3eap-17f, 0x1.5024d6p-17f, 0x1.11d41ep-17f, 0x1.be2188p-18f, 0x1.6b6d0ep-18f,
        0x1.280d96p-18f, 0x1.e257p-19f,   0x1.88ec2p-19f,  0x1.4014d2p-19f, 0x1.04be68p-19f,
        0x1.a8d01p-20f,  0x1.5a0f4ep-20f, 0x1.19e8p-20f,   0x1.cb4a9ap-21f, 0x1.76258ep-21f,
        0x1.30c94ep-21f, 0x1.f09184p-22f, 0x1.94836p-22f,  0x1.4985fep-22f,
    };
    sbti_config c;
    sbti_config_init(&c);
    c.num_key_value_heads = 8;
    c.rope_theta = 500000;
    c.rope_type = SBTI_ROPE_LLAMA3;
    c.rope_factor = 8;
    c.rope_low_freq_factor = 1;
    c.rope_high_freq_factor = 4;
    c.rope_original_max_position_embeddings = 8192;
    ck_assert_int_eq(sbti_config_validate(&c), SBT_OK);
    ck_assert_int_eq(c.head_dim, 128);
    expect_inv_freq(&c, want, 64);
}
END_TEST

START_TEST(default_inv_freq_matches_transformers_bit_for_bit)
{
    /* 1.0 / 10000 ** (arange(0, 64, 2).float() / 64) in float32, as torch 2.11 (CPU) */
    static const float want[32] = {
        0x1.000000p+0f,  0x1.7ff222p-1f,  0x1.1feb34p-1f,  0x1.afd136p-2f,  0x1.43d136p-2f,
        0x1.e5a846p-3f,  0x1.6c310ep-3f,  0x1.111aeep-3f,  0x1.99999ap-4f,  0x1.33281ap-4f,
        0x1.ccab84p-5f,  0x1.59742ap-5f,  0x1.030dc6p-5f,  0x1.84869ep-6f,  0x1.235a72p-6f,
        0x1.b4f7e4p-7f,  0x1.47ae14p-7f,  0x1.eb7360p-8f,  0x1.708938p-8f,  0x1.145ceep-8f,
        0x1.9e7c70p-9f,  0x1.36d21ap-9f,  0x1.d22a50p-10f, 0x1.5d931cp-10f, 0x1.0624dep-10f,
        0x1.892918p-11f, 0x1.26d42cp-11f, 0x1.ba2e4ap-12f, 0x1.4b96c0p-12f, 0x1.f1502ap-13f,
        0x1.74eea6p-13f, 0x1.17a8e4p-13f,
    };
    sbti_config c;
    sbti_config_init(&c);
    c.hidden_size = 2048;
    ck_assert_int_eq(sbti_config_validate(&c), SBT_OK);
    ck_assert_int_eq(c.head_dim, 64);
    expect_inv_freq(&c, want, 32);
}
END_TEST

/* ==== writing =========================================================================== */

START_TEST(save_reproduces_the_published_file)
{
    sbti_config c;
    ck_assert_int_eq(sbti_config_load(&c, LLAMA32), SBT_OK);
    const char *out = tmp("llama32.json");
    ck_assert_int_eq(sbti_config_save(&c, out), SBT_OK);
    char *published = slurp(LLAMA32), *ours = slurp(out);
    char *expect = replace(published, "\"4.45.0.dev0\"", "\"4.45.0\"");
    ck_assert_str_eq(ours, expect);
    free(published);
    free(ours);
    free(expect);
}
END_TEST

START_TEST(save_round_trips_lists_nulls_and_floats)
{
    sbti_config c, back;
    ck_assert_int_eq(sbti_config_load(&c, CFG "/tiny-llama3-transformers5.json"), SBT_OK);
    c.pad_token_id = 0;
    c.rms_norm_eps = 1.5e-7;
    c.rope_theta = 123456.789;
    c.initializer_range = 1.0 / 3;
    c.rope_low_freq_factor = 0.5;
    const char *out = tmp("tiny.json");
    ck_assert_int_eq(sbti_config_save(&c, out), SBT_OK);
    ck_assert_int_eq(sbti_config_load(&back, out), SBT_OK);
    assert_same(&c, &back);
    char *text = slurp(out);
    const char *parts[] = {
        "\"eos_token_id\": [\n    128001,\n    128009\n  ],\n",
        "\"pad_token_id\": 0,\n",
        "\"rms_norm_eps\": 1.5e-07,\n",
        "\"rope_theta\": 123456.789,\n",
        "\"initializer_range\": 0.3333333333333333,\n",
        "\"low_freq_factor\": 0.5,\n",
        "\"torch_dtype\": \"bfloat16\",\n",
        "\"use_cache\": true,\n",
    };
    for (size_t i = 0; i < N_OF(parts); i++)
        ck_assert_msg(strstr(text, parts[i]), "no %s in\n%s", parts[i], text);
    free(text);

    /* no scaling, no ids, float32 */
    sbti_config_init(&c);
    c.bos_token_id = -1;
    c.n_eos = 0;
    c.rope_theta = 1e12;
    ck_assert_int_eq(sbti_config_save(&c, out), SBT_OK);
    ck_assert_int_eq(sbti_config_load(&back, out), SBT_OK);
    ck_assert_int_eq(sbti_config_validate(&c), SBT_OK);
    assert_same(&c, &back);
    text = slurp(out);
    ck_assert_ptr_nonnull(strstr(text, "\"rope_scaling\": null,\n"));
    ck_assert_ptr_nonnull(strstr(text, "\"bos_token_id\": null,\n"));
    ck_assert_ptr_nonnull(strstr(text, "\"eos_token_id\": null,\n"));
    ck_assert_ptr_nonnull(strstr(text, "\"rope_theta\": 1000000000000.0,\n"));
    ck_assert_ptr_null(strstr(text, "pad_token_id"));
    free(text);
}
END_TEST

START_TEST(validate_and_save_reject_bad_configs)
{
    sbti_config c;
    sbti_config_init(&c);
    ck_assert_int_eq(sbti_config_validate(&c), SBT_OK);
    ck_assert_int_eq(c.num_key_value_heads, 32);
    ck_assert_int_eq(c.head_dim, 128);
    c.num_key_value_heads = 5;
    ck_assert_int_eq(sbti_config_validate(&c), SBT_E_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(sbt_last_error(), "config: \"num_attention_heads\" (32) must be a multiple"));
    const char *out = tmp("never.json");
    unlink(out);
    ck_assert_int_eq(sbti_config_save(&c, out), SBT_E_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(sbt_last_error(), out));
    ck_assert_int_ne(access(out, F_OK), 0);
    sbti_config_init(&c);
    strcpy(c.torch_dtype, "int8");
    ck_assert_int_eq(sbti_config_validate(&c), SBT_E_INVALID_ARGUMENT);
    sbti_config_init(&c);
    c.rope_type = SBTI_ROPE_LLAMA3; /* factors left at 0 */
    ck_assert_int_eq(sbti_config_validate(&c), SBT_E_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(sbt_last_error(), "rope_scaling.factor"));
    sbti_config_init(&c);
    ck_assert_int_eq(sbti_config_save(&c, SBT_TEST_TMP_DIR "/no/such/dir/config.json"), SBT_E_IO);
    ck_assert_int_eq(sbti_config_validate(NULL), SBT_E_INVALID_ARGUMENT);
}
END_TEST

/* ==== foreign and broken configs ======================================================== */

START_TEST(other_architectures_are_unsupported)
{
    sbti_config c;
    ck_assert_int_eq(sbti_config_load(&c, CFG "/mistral-7b.json"), SBT_E_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(sbt_last_error(), "mistral-7b.json: unsupported architecture MistralForCausalLM"));
    ck_assert_int_eq(sbti_config_load(&c, CFG "/gpt2.json"), SBT_E_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(sbt_last_error(), "gpt2.json: unsupported architecture GPT2LMHeadModel"));
    static const variant_case cases[] = {
        {"\"LlamaForCausalLM\"", "\"LlamaForSequenceClassification\"", "unsupported architecture LlamaForSequenceClassification"},
        {"\"model_type\": \"llama\"", "\"model_type\": \"qwen2\"", "unsupported architecture qwen2"},
        {"\"rope_type\": \"llama3\"", "\"rope_type\": \"yarn\"", "\"rope_scaling.rope_type\" \"yarn\" is not supported"},
        {"\"rope_type\": \"llama3\"", "\"type\": \"linear\"", "\"linear\""},
        {"\"attention_bias\": false", "\"attention_bias\": true", "\"attention_bias\": true is not supported"},
        {"\"mlp_bias\": false", "\"mlp_bias\": true", "\"mlp_bias\""},
        {"\"silu\"", "\"gelu\"", "\"hidden_act\" \"gelu\""},
        {"\"attention_dropout\": 0.0", "\"attention_dropout\": 0.1", "\"attention_dropout\""},
        {"\"bfloat16\"", "\"float64\"", "\"torch_dtype\" \"float64\""},
        {"\"rope_type\": \"llama3\"", "\"rope_type\": \"llama3\", \"partial_rotary_factor\": 0.5", "partial_rotary_factor"},
        {"\"eos_token_id\": 128001", "\"eos_token_id\": [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17]", "\"eos_token_id\" lists 17 ids"},
    };
    expect_variants(cases, N_OF(cases), SBT_E_UNSUPPORTED);
}
END_TEST

START_TEST(missing_and_mistyped_fields_name_the_field)
{
    static const variant_case cases[] = {
        {"\"hidden_size\": 2048,", "", "required field \"hidden_size\" is missing"},
        {"\"vocab_size\": 128256", "\"vocab_size\": null", "required field \"vocab_size\""},
        {"\"model_type\": \"llama\",", "", "required field \"model_type\" is missing"},
        {"\"model_type\": \"llama\"", "\"model_type\": 3", "\"model_type\" must be a string"},
        {"\"hidden_size\": 2048", "\"hidden_size\": \"2048\"", "\"hidden_size\" must be an integer"},
        {"\"hidden_size\": 2048", "\"hidden_size\": 2048.0", "\"hidden_size\" must be an integer"},
        {"\"num_hidden_layers\": 16", "\"num_hidden_layers\": -16", "\"num_hidden_layers\" must be an integer >= 1"},
        {"\"head_dim\": 64", "\"head_dim\": 0", "\"head_dim\" must be an integer >= 1"},
        {"\"tie_word_embeddings\": true", "\"tie_word_embeddings\": \"yes\"", "\"tie_word_embeddings\" must be true or false"},
        {"\"eos_token_id\": 128001", "\"eos_token_id\": [\"a\"]", "\"eos_token_id\"[0]"},
        {"\"eos_token_id\": 128001", "\"eos_token_id\": \"x\"", "\"eos_token_id\" must be"},
        {"\"bos_token_id\": 128000", "\"bos_token_id\": \"1\"", "\"bos_token_id\" must be an integer"},
        {"\"bos_token_id\": 128000", "\"bos_token_id\": -2", "\"bos_token_id\" must be an integer >= -1"},
        {"\"rms_norm_eps\": 1e-05", "\"rms_norm_eps\": \"1e-5\"", "\"rms_norm_eps\" must be a number"},
        {"\"rope_theta\": 500000.0", "\"rope_theta\": [500000]", "\"rope_theta\" must be a number"},
        {"\"architectures\": [\n    \"LlamaForCausalLM\"\n  ]", "\"architectures\": \"LlamaForCausalLM\"", "\"architectures\" must be a list"},
        {"\"architectures\": [\n    \"LlamaForCausalLM\"\n  ]", "\"architectures\": [1]", "\"architectures\" must be a list"},
        {"\"torch_dtype\": \"bfloat16\"", "\"torch_dtype\": 16", "\"torch_dtype\" must be a string"},
        {"\"rope_scaling\": {", "\"rope_scaling\": 5, \"x\": {", "\"rope_scaling\" must be an object or null"},
        {"\"factor\": 32.0,", "", "required field \"rope_scaling.factor\" is missing"},
        {"\"factor\": 32.0", "\"factor\": \"32\"", "\"rope_scaling.factor\" must be a number"},
        {"\"original_max_position_embeddings\": 8192", "\"original_max_position_embeddings\": 8192.5", "\"rope_scaling.original_max_position_embeddings\" must be an integer"},
        {",\n    \"rope_type\": \"llama3\"", "", "\"rope_scaling.rope_type\" is missing"},
        {"\"rope_type\": \"llama3\"", "\"rope_type\": 3", "\"rope_scaling.rope_type\" is not a string"},
    };
    expect_variants(cases, N_OF(cases), SBT_E_PARSE);
}
END_TEST

START_TEST(absurd_and_inconsistent_values)
{
    static const variant_case cases[] = {
        {"\"num_key_value_heads\": 8", "\"num_key_value_heads\": 5", "must be a multiple of \"num_key_value_heads\" (5)"},
        {"\"num_key_value_heads\": 8", "\"num_key_value_heads\": 64", "\"num_key_value_heads\" is 64"},
        {"\"head_dim\": 64", "\"head_dim\": 63", "\"head_dim\" is 63; it must be even"},
        {"\"head_dim\": 64", "\"head_dim\": 4096", "\"head_dim\" is 4096"},
        {"\"vocab_size\": 128256", "\"vocab_size\": 1000000000000", "\"vocab_size\" is 1000000000000"},
        {"\"hidden_size\": 2048", "\"hidden_size\": 4611686018427387904", "\"hidden_size\" is"},
        {"\"num_hidden_layers\": 16", "\"num_hidden_layers\": 100000", "\"num_hidden_layers\" is 100000"},
        {"\"max_position_embeddings\": 131072", "\"max_position_embeddings\": 0", "\"max_position_embeddings\" must be an integer >= 1"},
        {"\"rms_norm_eps\": 1e-05", "\"rms_norm_eps\": 0", "\"rms_norm_eps\" is 0"},
        {"\"rms_norm_eps\": 1e-05", "\"rms_norm_eps\": 1.0", "\"rms_norm_eps\" is 1"},
        {"\"rope_theta\": 500000.0", "\"rope_theta\": -1.0", "\"rope_theta\" is -1"},
        {"\"rope_theta\": 500000.0", "\"rope_theta\": 1e300", "\"rope_theta\" is 1e+300"},
        {"\"factor\": 32.0", "\"factor\": 0.5", "\"rope_scaling.factor\" is 0.5"},
        {"\"high_freq_factor\": 4.0", "\"high_freq_factor\": 1.0", "\"rope_scaling.high_freq_factor\" is 1"},
        {"\"original_max_position_embeddings\": 8192", "\"original_max_position_embeddings\": 0", "must be an integer >= 1"},
        {"\"initializer_range\": 0.02", "\"initializer_range\": 2", "\"initializer_range\" is 2"},
        {"\"bos_token_id\": 128000", "\"bos_token_id\": 4294967296", "\"bos_token_id\" is 4294967296"},
        {"\"eos_token_id\": 128001", "\"eos_token_id\": [128001, 4294967296]", "\"eos_token_id\" is 4294967296"},
    };
    expect_variants(cases, N_OF(cases), SBT_E_PARSE);
    /* without head_dim, heads must divide hidden_size */
    char *base = slurp(LLAMA32);
    char *a = replace(base, "\"head_dim\": 64,", "");
    char *b = replace(a, "\"hidden_size\": 2048", "\"hidden_size\": 2050");
    expect_parse_fail(b, SBT_E_PARSE, "\"hidden_size\" (2050) must be a multiple of "
                      "\"num_attention_heads\" (32) when \"head_dim\" is not given", NULL);
    free(a);
    free(b);
    free(base);
}
END_TEST

START_TEST(malformed_json_and_files)
{
    expect_parse_fail("", SBT_E_PARSE, "variant.json:", NULL);
    expect_parse_fail("{\"model_type\": ", SBT_E_PARSE, "variant.json:1:", NULL);
    expect_parse_fail("[\"llama\"]", SBT_E_PARSE, "not a JSON object", NULL);
    expect_parse_fail("{\"model_type\": \"llama\", \"model_type\": \"llama\"}", SBT_E_PARSE,
                      "duplicate", NULL);
    sbti_config c;
    ck_assert_int_eq(sbti_config_load(&c, tmp("missing.json")), SBT_E_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(sbt_last_error(), "missing.json"));
    ck_assert_int_eq(sbti_config_load(&c, SBT_TEST_TMP_DIR), SBT_E_IO);
    /* over 1 MiB */
    const char *big = tmp("big.json");
    FILE *fp = fopen(big, "wb");
    ck_assert_ptr_nonnull(fp);
    fputc('{', fp);
    for (int i = 0; i < (1 << 20); i++)
        fputc(' ', fp);
    fputc('}', fp);
    fclose(fp);
    ck_assert_int_eq(sbti_config_load(&c, big), SBT_E_PARSE);
    ck_assert_ptr_nonnull(strstr(sbt_last_error(), "larger than"));
    unlink(big);
}
END_TEST

static Suite *config_suite(void)
{
    Suite *s = suite_create("model_config");
    TCase *tc = tcase_create("read");
    tcase_add_test(tc, llama_3_2_1b_loads);
    tcase_add_test(tc, transformers_5_config_loads);
    tcase_add_test(tc, absent_fields_take_transformers_defaults);
    suite_add_tcase(s, tc);
    tc = tcase_create("rope");
    tcase_add_test(tc, llama3_inv_freq_matches_transformers_bit_for_bit);
    tcase_add_test(tc, llama31_8b_inv_freq_matches_transformers_bit_for_bit);
    tcase_add_test(tc, default_inv_freq_matches_transformers_bit_for_bit);
    suite_add_tcase(s, tc);
    tc = tcase_create("write");
    tcase_add_test(tc, save_reproduces_the_published_file);
    tcase_add_test(tc, save_round_trips_lists_nulls_and_floats);
    tcase_add_test(tc, validate_and_save_reject_bad_configs);
    suite_add_tcase(s, tc);
    tc = tcase_create("bad");
    tcase_add_test(tc, other_architectures_are_unsupported);
    tcase_add_test(tc, missing_and_mistyped_fields_name_the_field);
    tcase_add_test(tc, absurd_and_inconsistent_values);
    tcase_add_test(tc, malformed_json_and_files);
    suite_add_tcase(s, tc);
    return s;
}

SBT_CHECK_MAIN(config_suite)
