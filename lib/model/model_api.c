/* model_api.c — the public sbt_model functions that are not about files or vocabulary:
 * configuration, creation, logits. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "model/model.h"

/* ---- configuration: the public struct <-> the internal one ----------------------------- */

static void to_public(sbt_model_config *o, const sbti_config *c)
{
    memset(o, 0, sizeof *o);
    o->size = sizeof *o;
    o->vocab_size = c->vocab_size;
    o->hidden_size = c->hidden_size;
    o->intermediate_size = c->intermediate_size;
    o->num_hidden_layers = c->num_hidden_layers;
    o->num_attention_heads = c->num_attention_heads;
    o->num_key_value_heads = c->num_key_value_heads;
    o->head_dim = c->head_dim;
    o->max_position_embeddings = c->max_position_embeddings;
    o->rms_norm_eps = c->rms_norm_eps;
    o->rope_theta = c->rope_theta;
    o->rope_scaling = c->rope_type == SBTI_ROPE_LLAMA3 ? SBT_ROPE_LLAMA3 : SBT_ROPE_NONE;
    o->rope_factor = c->rope_factor;
    o->rope_low_freq_factor = c->rope_low_freq_factor;
    o->rope_high_freq_factor = c->rope_high_freq_factor;
    o->rope_original_max_position_embeddings = c->rope_original_max_position_embeddings;
    o->tie_word_embeddings = c->tie_word_embeddings;
    o->bos_token_id = c->bos_token_id;
    o->eos_token_id = c->n_eos > 0 ? c->eos_token_id[0] : -1;
    o->pad_token_id = c->pad_token_id;
    o->initializer_range = c->initializer_range;
    o->dtype = strcmp(c->torch_dtype, "bfloat16") == 0  ? SBT_DTYPE_BF16
               : strcmp(c->torch_dtype, "float16") == 0 ? SBT_DTYPE_F16
                                                        : SBT_DTYPE_F32;
}

static sbt_status from_public(sbti_config *c, const sbt_model_config *o)
{
    if (!o || o->size < offsetof(sbt_model_config, dtype) + sizeof o->dtype)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_model_config: %s (call "
                         "sbt_model_config_init first)", o ? "size is too small" : "NULL");
    sbti_config_init(c);
    c->vocab_size = o->vocab_size;
    c->hidden_size = o->hidden_size;
    c->intermediate_size = o->intermediate_size;
    c->num_hidden_layers = o->num_hidden_layers;
    c->num_attention_heads = o->num_attention_heads;
    c->num_key_value_heads = o->num_key_value_heads;
    c->head_dim = o->head_dim;
    c->max_position_embeddings = o->max_position_embeddings;
    c->rms_norm_eps = o->rms_norm_eps;
    c->rope_theta = o->rope_theta;
    if (o->rope_scaling != SBT_ROPE_NONE && o->rope_scaling != SBT_ROPE_LLAMA3)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_model_config: rope_scaling %d is not a "
                         "sbt_rope_scaling", (int)o->rope_scaling);
    c->rope_type = o->rope_scaling == SBT_ROPE_LLAMA3 ? SBTI_ROPE_LLAMA3 : SBTI_ROPE_DEFAULT;
    c->rope_factor = o->rope_factor;
    c->rope_low_freq_factor = o->rope_low_freq_factor;
    c->rope_high_freq_factor = o->rope_high_freq_factor;
    c->rope_original_max_position_embeddings = o->rope_original_max_position_embeddings;
    c->tie_word_embeddings = o->tie_word_embeddings != 0;
    c->bos_token_id = o->bos_token_id;
    c->n_eos = o->eos_token_id >= 0 ? 1 : 0;
    c->eos_token_id[0] = o->eos_token_id;
    c->pad_token_id = o->pad_token_id;
    c->initializer_range = o->initializer_range;
    if (o->dtype < SBT_DTYPE_AUTO || o->dtype > SBT_DTYPE_F16)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_model_config: dtype %d is not a sbt_dtype",
                         (int)o->dtype);
    strcpy(c->torch_dtype, o->dtype == SBT_DTYPE_BF16  ? "bfloat16"
                           : o->dtype == SBT_DTYPE_F16 ? "float16"
                                                       : "float32");
    return sbti_config_validate(c);
}

void sbt_model_config_init(sbt_model_config *config)
{
    if (!config)
        return;
    sbti_config c;
    sbti_config_init(&c);
    to_public(config, &c);
}

sbt_status sbt_model_config_load(sbt_model_config *config, const char *path)
{
    if (!config || !path)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_model_config_load: NULL argument");
    size_t n = strlen(path);
    char *file = malloc(n + sizeof "/config.json");
    if (!file)
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory");
    strcpy(file, path);
    if (n < 5 || strcmp(path + n - 5, ".json") != 0) /* a folder */
        strcat(file, "/config.json");
    sbti_config c;
    sbt_status st = sbti_config_load(&c, file);
    free(file);
    if (st == SBT_OK)
        to_public(config, &c);
    return st;
}

sbt_status sbt_model_create(sbt_model **out, sbt_backend *be, const sbt_model_config *config,
                            uint64_t seed)
{
    if (!out || !be)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_model_create: NULL argument");
    *out = NULL;
    sbti_config c;
    sbt_status st = from_public(&c, config);
    if (st != SBT_OK)
        return st;
    return sbti_model_create_seeded(out, sbti_backend_of(be), &c, seed);
}

void sbt_model_get_config(const sbt_model *model, sbt_model_config *config)
{
    if (model && config)
        to_public(config, &model->cfg);
}

int64_t sbt_model_num_params(const sbt_model *model)
{
    return model ? (int64_t)model->n_elems : 0;
}

/* ---- logits ------------------------------------------------------------------------------ */

sbt_status sbt_model_forward(sbt_model *m, const int32_t *ids, int batch, int seq_len,
                             const int32_t *lengths, unsigned flags, float *logits)
{
    if (!m || !ids || !logits)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_model_forward: NULL argument");
    if (flags & ~SBT_FORWARD_LAST_ONLY)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_model_forward: unknown flags 0x%x", flags);
    sbt_status st = sbti_model_forward_train(m, ids, lengths, batch, seq_len, NULL, NULL, NULL);
    if (st != SBT_OK)
        return st;
    if (!(flags & SBT_FORWARD_LAST_ONLY))
        return sbti_model_download_logits(m, logits);
    const size_t V = (size_t)m->V;
    for (int b = 0; b < batch && st == SBT_OK; b++) {
        size_t row = (size_t)b * seq_len + (size_t)(lengths ? lengths[b] : seq_len) - 1;
        st = m->be->ops->download(m->be, logits + (size_t)b * V, m->acts.logits, SBTI_MEM_ACT,
                                  row * V, V);
    }
    return st;
}
