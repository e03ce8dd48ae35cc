/* schedule.c — learning-rate schedules as transformers' get_scheduler builds them, and the
 * model size presets for Countdown models trained from scratch. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "selfbt/trainer.h"

static const char *const schedule_names[] = {"linear", "cosine", "constant",
                                             "constant_with_warmup"};
#define N_SCHEDULES (sizeof schedule_names / sizeof *schedule_names)

sbt_status sbt_lr_schedule_parse(const char *text, sbt_lr_schedule *out)
{
    if (!text || !out)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_lr_schedule_parse: NULL argument");
    for (size_t i = 0; i < N_SCHEDULES; i++)
        if (!strcmp(text, schedule_names[i])) {
            *out = (sbt_lr_schedule)i;
            return SBT_OK;
        }
    return sbti_fail(SBT_E_INVALID_ARGUMENT,
                     "lr_scheduler_type \"%s\" is not one of linear, cosine, constant, "
                     "constant_with_warmup", text);
}

const char *sbt_lr_schedule_name(sbt_lr_schedule s)
{
    return (unsigned)s < N_SCHEDULES ? schedule_names[s] : NULL;
}

double sbt_lr_at(sbt_lr_schedule s, double lr, int64_t warmup, int64_t max_steps, int64_t step)
{
    /* transformers.optimization: LambdaLR lambdas of the current step (0 for the first) */
    if (warmup < 0)
        warmup = 0;
    double w = (double)(warmup > 1 ? warmup : 1);
    switch (s) {
    case SBT_LR_CONSTANT:
        return lr;
    case SBT_LR_CONSTANT_WITH_WARMUP:
        return step < warmup ? lr * (double)step / w : lr;
    case SBT_LR_LINEAR: {
        if (step < warmup)
            return lr * (double)step / w;
        double d = (double)(max_steps - warmup > 1 ? max_steps - warmup : 1);
        double f = (double)(max_steps - step) / d;
        return lr * (f > 0 ? f : 0);
    }
    case SBT_LR_COSINE: {
        if (step < warmup)
            return lr * (double)step / w;
        double d = (double)(max_steps - warmup > 1 ? max_steps - warmup : 1);
        double progress = (double)(step - warmup) / d;
        double f = 0.5 * (1.0 + cos(M_PI * 0.5 * 2.0 * progress));
        return lr * (f > 0 ? f : 0);
    }
    }
    return lr;
}

/* ---- presets --------------------------------------------------------------------------- */

typedef struct preset {
    const char *name;
    int hidden, layers, heads, kv_heads, mlp;
} preset;

static const preset presets[] = {
    {"tiny", 64, 2, 4, 2, 192},
    {"small", 256, 4, 4, 4, 768},
    {"base", 512, 8, 8, 4, 1536},
    {"large", 1024, 16, 16, 8, 3072},
};
#define N_PRESETS (int)(sizeof presets / sizeof *presets)

const char *sbt_trainer_preset_name(int i)
{
    return i >= 0 && i < N_PRESETS ? presets[i].name : NULL;
}

sbt_status sbt_trainer_preset_config(sbt_model_config *c, const char *name,
                                     const sbt_tokenizer *tok)
{
    if (!c || !name || !tok)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_trainer_preset_config: NULL argument");
    const preset *p = NULL;
    for (int i = 0; i < N_PRESETS; i++)
        if (!strcmp(presets[i].name, name))
            p = &presets[i];
    if (!p)
        return sbti_fail(SBT_E_NOT_FOUND,
                         "preset \"%s\" is not one of tiny, small, base, large", name);
    sbt_model_config_init(c);
    c->vocab_size = sbt_tokenizer_n_vocab(tok);
    c->hidden_size = p->hidden;
    c->intermediate_size = p->mlp;
    c->num_hidden_layers = p->layers;
    c->num_attention_heads = p->heads;
    c->num_key_value_heads = p->kv_heads;
    c->head_dim = 0;
    c->max_position_embeddings = 512;
    c->rms_norm_eps = 1e-5;
    c->rope_theta = 10000.0;
    c->rope_scaling = SBT_ROPE_NONE;
    c->tie_word_embeddings = 1;
    c->bos_token_id = sbt_tokenizer_bos(tok);
    c->eos_token_id = sbt_tokenizer_eos(tok);
    /* No padding_idx: with pad = EOS (the seed's choice) a padding row would zero EOS's
     * embedding at init. Padding is masked out of attention and loss anyway. */
    c->pad_token_id = -1;
    c->initializer_range = 0.02;
    c->dtype = SBT_DTYPE_F32;
    return SBT_OK;
}
