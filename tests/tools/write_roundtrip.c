/* write_roundtrip.c — writes checkpoints for tests/golden/check_roundtrip.py, which loads them
 * with transformers and compares its logits with ours (issue #4: "a checkpoint written by
 * libselfbt loads in transformers with the same logits").
 *
 *   write_roundtrip OUT   ->  OUT/<case>/{model/, inputs.json, logits.safetensors}
 *
 * Cases: f32_tied (fresh seeded model), f32_untied_trained (untied, vocabulary grown by one
 * token as when <backtrack> is added, then 3 AdamW steps so no weight is at its initial
 * value), bf16_tied (saved in bf16; logits from the bf16-rounded weights). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/safetensors.h"
#include "model/model.h"
#include "selfbt/model.h"

#define B 2
#define T 10

static int die(const char *what)
{
    fprintf(stderr, "write_roundtrip: %s: %s\n", what, sbt_last_error());
    exit(1);
}

static void write_case(sbt_model *m, sbt_backend *be, const char *out, const char *name,
                       sbt_dtype dt)
{
    char dir[1024], path[1100];
    snprintf(dir, sizeof dir, "%s/%s", out, name);
    mkdir(out, 0777);
    mkdir(dir, 0777);
    snprintf(path, sizeof path, "%s/model", dir);
    sbt_model_save_options o;
    sbt_model_save_options_init(&o);
    o.dtype = dt;
    if (sbt_model_save(m, path, &o) != SBT_OK)
        die("save");
    /* the logits of what was written, read back (bf16 rounding included) */
    sbt_model *r = NULL;
    if (sbt_model_load(&r, be, path) != SBT_OK)
        die("load");
    int32_t ids[B * T], lens[B] = {T, 7};
    for (int i = 0; i < B * T; i++)
        ids[i] = 3 + (i * 37 + 11) % (r->V - 3);
    ids[T + 3] = r->V - 1; /* the newest token, where the vocabulary grew */
    float *logits = malloc(sizeof(float) * B * T * r->V);
    if (sbt_model_forward(r, ids, B, T, lens, 0, logits) != SBT_OK)
        die("forward");
    snprintf(path, sizeof path, "%s/logits.safetensors", dir);
    int64_t shape[3] = {B, T, r->V};
    sbti_st_entry e = {"logits", SBTI_F32, 3, shape, logits};
    if (sbti_st_write(path, &e, 1, NULL, 0) != SBT_OK)
        die("logits");
    snprintf(path, sizeof path, "%s/inputs.json", dir);
    FILE *fp = fopen(path, "w");
    fprintf(fp, "{\"input_ids\": [");
    for (int b = 0; b < B; b++) {
        fprintf(fp, "%s[", b ? ", " : "");
        for (int t = 0; t < T; t++)
            fprintf(fp, "%s%d", t ? ", " : "", ids[b * T + t]);
        fprintf(fp, "]");
    }
    fprintf(fp, "], \"attention_mask\": [");
    for (int b = 0; b < B; b++) {
        fprintf(fp, "%s[", b ? ", " : "");
        for (int t = 0; t < T; t++)
            fprintf(fp, "%s%d", t ? ", " : "", t < lens[b]);
        fprintf(fp, "]");
    }
    fprintf(fp, "]}\n");
    fclose(fp);
    free(logits);
    sbt_model_free(r);
    printf("%s/%s written\n", out, name);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUT\n", argv[0]);
        return 2;
    }
    sbt_backend_options bo;
    sbt_backend_options_init(&bo);
    bo.kind = SBT_BACKEND_CPU;
    sbt_backend *be;
    if (sbt_backend_create(&be, &bo) != SBT_OK)
        die("backend");
    sbt_model_config c;
    sbt_model_config_init(&c);
    c.vocab_size = 300;
    c.hidden_size = 64;
    c.intermediate_size = 96;
    c.num_hidden_layers = 2;
    c.num_attention_heads = 4;
    c.num_key_value_heads = 2;
    c.max_position_embeddings = 64;
    c.rms_norm_eps = 1e-5;
    c.rope_theta = 500000.0;
    c.rope_scaling = SBT_ROPE_LLAMA3;
    c.rope_factor = 32.0;
    c.rope_low_freq_factor = 1.0;
    c.rope_high_freq_factor = 4.0;
    c.rope_original_max_position_embeddings = 8192;
    c.bos_token_id = 1;
    c.eos_token_id = 2;
    c.pad_token_id = 0;
    for (int tied = 1; tied >= 0; tied--) {
        c.tie_word_embeddings = tied;
        sbt_model *m;
        if (sbt_model_create(&m, be, &c, 99 + (uint64_t)tied) != SBT_OK)
            die("create");
        if (tied) {
            write_case(m, be, argv[1], "f32_tied", SBT_DTYPE_F32);
            write_case(m, be, argv[1], "bf16_tied", SBT_DTYPE_BF16);
        } else {
            if (sbt_model_resize_vocab(m, c.vocab_size + 1, 5) != SBT_OK)
                die("resize");
            int32_t ids[T], tgt[T];
            for (int t = 0; t < T; t++)
                ids[t] = 3 + t * 29 % 290;
            for (int t = 0; t < T; t++)
                tgt[t] = t + 1 < T ? ids[t + 1] : -1;
            sbti_optim_args a = {.lr = 1e-2f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f,
                                 .weight_decay = 0.01f, .max_grad_norm = 1.0f};
            for (int s = 1; s <= 3; s++) {
                double loss;
                int64_t n;
                a.step = s;
                if (sbti_model_zero_grad(m) != SBT_OK ||
                    sbti_model_forward_train(m, ids, NULL, 1, T, tgt, &loss, &n) != SBT_OK ||
                    sbti_model_backward(m, 1.0f / (float)n) != SBT_OK ||
                    sbti_model_adamw_step(m, &a, NULL) != SBT_OK)
                    die("train");
            }
            write_case(m, be, argv[1], "f32_untied_trained", SBT_DTYPE_F32);
        }
        sbt_model_free(m);
    }
    sbt_backend_free(be);
    return 0;
}
