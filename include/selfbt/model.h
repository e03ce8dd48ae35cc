/* model.h — Llama-architecture causal language models (LlamaForCausalLM): load and save
 * Hugging Face checkpoint folders, create a fresh model from a configuration, grow the
 * vocabulary when tokens are added, and compute logits.
 *
 * A checkpoint folder is what transformers' save_pretrained writes: config.json and
 * model.safetensors (or shards listed in model.safetensors.index.json), F32, BF16 or F16.
 * The model lives on a sbt_backend, which must outlive it; a model is used by one thread at a
 * time. Training and decoding use it through sbt_trainer and sbt_decoder. */
#ifndef SELFBT_MODEL_H
#define SELFBT_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "selfbt/backend.h"
#include "selfbt/export.h"
#include "selfbt/status.h"

SBT_BEGIN_DECLS

typedef struct sbt_model sbt_model;

typedef enum sbt_dtype {
    SBT_DTYPE_AUTO = 0, /* as the model's config says (torch_dtype)  */
    SBT_DTYPE_F32 = 1,
    SBT_DTYPE_BF16 = 2,
    SBT_DTYPE_F16 = 3
} sbt_dtype;

typedef enum sbt_rope_scaling {
    SBT_ROPE_NONE = 0,  /* plain RoPE                                   */
    SBT_ROPE_LLAMA3 = 1 /* Llama 3.1 frequency scaling (the four below) */
} sbt_rope_scaling;

/* The fields of a LlamaConfig that libselfbt uses. */
typedef struct sbt_model_config {
    size_t size; /* = sizeof(sbt_model_config); set by _config_init */
    int64_t vocab_size;
    int64_t hidden_size;
    int64_t intermediate_size;
    int64_t num_hidden_layers;
    int64_t num_attention_heads;
    int64_t num_key_value_heads; /* 0: = num_attention_heads              */
    int64_t head_dim;            /* 0: = hidden_size / num_attention_heads */
    int64_t max_position_embeddings;
    double rms_norm_eps;
    double rope_theta;
    sbt_rope_scaling rope_scaling;
    double rope_factor;
    double rope_low_freq_factor;
    double rope_high_freq_factor;
    int64_t rope_original_max_position_embeddings;
    int32_t tie_word_embeddings; /* 0 or 1 */
    int64_t bos_token_id;        /* -1: none */
    int64_t eos_token_id;        /* -1: none (the first, where config.json lists several) */
    int64_t pad_token_id;        /* -1: none */
    double initializer_range;    /* std of the normal initialisation */
    sbt_dtype dtype;             /* torch_dtype: what a save writes by default */
} sbt_model_config;

/* transformers' LlamaConfig defaults (a Llama-2-7B shape, float32, no RoPE scaling). */
SBT_API void sbt_model_config_init(sbt_model_config *config);

/* Reads a config.json (path: the file, or a folder holding it). Errors name the file and the
 * field; another architecture is SBT_E_UNSUPPORTED. */
SBT_API sbt_status sbt_model_config_load(sbt_model_config *config, const char *path);

/* Loads the checkpoint folder dir onto be. Every tensor must be present with its shape
 * (lm_head.weight may be absent when the embeddings are tied); a tensor the model does not
 * use is logged and skipped, as transformers warns. Errors name the file and the tensor. */
SBT_API sbt_status sbt_model_load(sbt_model **out, sbt_backend *be, const char *dir);

/* A fresh model: weights drawn as transformers initialises them (normal with std
 * initializer_range; the padding row of the embedding zero; norm weights 1), reproducibly
 * from seed. */
SBT_API sbt_status sbt_model_create(sbt_model **out, sbt_backend *be,
                                    const sbt_model_config *config, uint64_t seed);

/* NULL-safe. */
SBT_API void sbt_model_free(sbt_model *model);

typedef struct sbt_model_save_options {
    size_t size;     /* = sizeof(sbt_model_save_options); set by _options_init */
    sbt_dtype dtype; /* SBT_DTYPE_AUTO: the config's dtype                     */
} sbt_model_save_options;

SBT_API void sbt_model_save_options_init(sbt_model_save_options *opts);

/* Writes config.json, generation_config.json and model.safetensors into dir (created if
 * missing), each through a temporary file, fsync and rename, so an interrupted save leaves the
 * previous files whole. transformers loads the result. opts may be NULL. */
SBT_API sbt_status sbt_model_save(const sbt_model *model, const char *dir,
                                  const sbt_model_save_options *opts);

/* Grows the vocabulary to n_vocab rows (tokens were added to the tokenizer), as transformers'
 * resize_token_embeddings does by default: each new row of the embedding (and of an untied
 * LM head) is drawn from a normal around the mean of the old rows with 1e-9 times their
 * covariance. Shrinking is SBT_E_INVALID_ARGUMENT. Gradients and optimizer state, if any, are
 * dropped. */
SBT_API sbt_status sbt_model_resize_vocab(sbt_model *model, int64_t n_vocab, uint64_t seed);

/* The model's configuration. */
SBT_API void sbt_model_get_config(const sbt_model *model, sbt_model_config *config);

/* The number of parameters (a tied LM head counted once). */
SBT_API int64_t sbt_model_num_params(const sbt_model *model);

/* sbt_model_forward flags. */
#define SBT_FORWARD_LAST_ONLY 1u /* logits only at each row's last token: (batch, vocab) */

/* Logits for `batch` rows of `seq_len` token ids (row-major in ids). lengths[b] (NULL: all
 * seq_len) is the number of real tokens of row b, the rest being right padding that is not
 * attended; positions are 0, 1, 2, ... in every row. logits receives (batch, seq_len,
 * vocab) floats, or (batch, vocab) with SBT_FORWARD_LAST_ONLY (the token at lengths[b]-1). An
 * id outside the vocabulary or a length outside 1..seq_len is SBT_E_INVALID_ARGUMENT naming
 * it. */
SBT_API sbt_status sbt_model_forward(sbt_model *model, const int32_t *ids, int batch,
                                     int seq_len, const int32_t *lengths, unsigned flags,
                                     float *logits);

SBT_END_DECLS

#endif /* SELFBT_MODEL_H */
