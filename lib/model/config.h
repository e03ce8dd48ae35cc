/* config.h — internal: the Hugging Face config.json of a LlamaForCausalLM (read, validate,
 * write) and its RoPE inverse frequencies.
 *
 * Reading accepts what transformers 4.x writes (rope_theta + rope_scaling, torch_dtype) and
 * what 5.x writes (rope_parameters, dtype). A field that is absent or null takes
 * LlamaConfig's default (but a null bos/eos/pad id means none), so a file means what it means
 * to transformers; only model_type and the sizes that fix tensor shapes (vocab_size,
 * hidden_size, intermediate_size, num_hidden_layers, num_attention_heads) are required.
 * Unknown keys are ignored. Writing produces the 4.x layout (rope_theta + rope_scaling,
 * torch_dtype), which transformers 4.45+ and 5.x (checked: 5.17) both load. */
#ifndef SBTI_MODEL_CONFIG_H
#define SBTI_MODEL_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "selfbt/status.h"

typedef enum sbti_rope_type {
    SBTI_ROPE_DEFAULT = 0, /* plain RoPE (rope_scaling null, or rope_type "default") */
    SBTI_ROPE_LLAMA3 = 1   /* Llama 3.1 frequency scaling */
} sbti_rope_type;

#define SBTI_CONFIG_MAX_EOS 16

typedef struct sbti_config {
    int64_t vocab_size;
    int64_t hidden_size;
    int64_t intermediate_size;
    int64_t num_hidden_layers;
    int64_t num_attention_heads;
    int64_t num_key_value_heads; /* 0: = num_attention_heads (validation fills it in)   */
    int64_t head_dim;            /* 0: = hidden_size / num_attention_heads (likewise)   */
    int64_t max_position_embeddings;
    double rms_norm_eps;
    double rope_theta;
    sbti_rope_type rope_type;
    double rope_factor;          /* llama3 only, like the three below                  */
    double rope_low_freq_factor;
    double rope_high_freq_factor;
    int64_t rope_original_max_position_embeddings;
    int tie_word_embeddings;     /* 0 or 1 */
    int64_t bos_token_id;        /* -1: none (null) */
    int64_t pad_token_id;        /* -1: none (null) */
    int n_eos;                   /* 0: none */
    int eos_is_list;             /* the file held a list, written back as one */
    int64_t eos_token_id[SBTI_CONFIG_MAX_EOS]; /* [n_eos] */
    char torch_dtype[16];        /* "float32", "bfloat16" or "float16" */
    double initializer_range;
} sbti_config;

/* transformers' LlamaConfig defaults (a Llama-2-7B shape, float32, no RoPE scaling). */
void sbti_config_init(sbti_config *c);

/* Fills in num_key_value_heads and head_dim when 0, then checks every field: sizes in range,
 * heads dividing hidden_size (unless head_dim is set) and kv heads dividing heads, head_dim
 * even, finite positive eps/theta, sane llama3 factors, token ids, dtype.
 * SBT_E_INVALID_ARGUMENT naming the field. */
sbt_status sbti_config_validate(sbti_config *c);

/* Parses config.json text; `where` (a path) starts every message. SBT_E_PARSE for malformed
 * JSON, a missing required field, a mistyped or out-of-range value (naming the field);
 * SBT_E_UNSUPPORTED for another architecture ("unsupported architecture X"), a rope type
 * other than llama3/default, attention_bias or mlp_bias true, hidden_act other than silu,
 * attention_dropout other than 0, or a dtype other than float32/bfloat16/float16. */
sbt_status sbti_config_parse(sbti_config *out, const char *json, size_t len, const char *where);
/* Reads and parses a config.json file (at most 1 MiB). */
sbt_status sbti_config_load(sbti_config *out, const char *path);
/* Validates a copy of c, then writes it as transformers does (keys sorted, two-space indent,
 * floats in Python's repr), through a temporary file, fsync and rename. */
sbt_status sbti_config_save(const sbti_config *c, const char *path);

/* out[head_dim / 2] = the RoPE inverse frequencies of a validated config, as transformers
 * computes them on the CPU (_compute_default_rope_parameters, _compute_llama3_parameters):
 * each step is the same float32 operation in the same order (Python scalars rounded to float32
 * where torch meets them; torch's `scalar / tensor` is a reciprocal, then a multiply). Only
 * base ** x differs: we round the double pow correctly, while torch's vectorised CPU pow (and
 * its CUDA pow) is off by one ulp for a few percent of (base, x) pairs. Checked against torch
 * 2.11: bit for bit for Llama-3.2-1B, Llama-3.1-8B, theta 10000 / head_dim 64 and
 * theta 1e6 / head_dim 96; one ulp apart at 2 of 64 frequencies for theta 31337.5. */
void sbti_rope_inv_freq(float *out, const sbti_config *c);

#endif /* SBTI_MODEL_CONFIG_H */
