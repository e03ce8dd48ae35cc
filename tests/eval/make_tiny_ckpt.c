/* make_tiny_ckpt — writes a tiny checkpoint folder for the selfbt-eval and selfbt-train tests: a
 * seeded random Llama (config.json, model.safetensors, tokenizer.json) over the compact
 * Countdown tokenizer, or over the tokenizer in TOKENIZER_DIR, stored in bf16 as a downloaded
 * Llama-3.2-1B folder is (the selfbt-train --model tests: that tokenizer lacks <backtrack>).
 * Usage: make_tiny_ckpt DIR [TOKENIZER_DIR] */
#include <stdio.h>

#include "selfbt/selfbt.h"

int main(int argc, char **argv)
{
    if (argc != 2 && argc != 3) {
        fprintf(stderr, "usage: make_tiny_ckpt DIR [TOKENIZER_DIR]\n");
        return 2;
    }
    sbt_backend_options bo;
    sbt_backend_options_init(&bo);
    bo.kind = SBT_BACKEND_CPU;
    sbt_backend *be = NULL;
    sbt_tokenizer *tok = NULL;
    sbt_model *m = NULL;
    int rc = 1;
    if (sbt_backend_create(&be, &bo) != SBT_OK ||
        (argc == 3 ? sbt_tokenizer_load(&tok, argv[2]) : sbt_tokenizer_create_countdown(&tok)) !=
            SBT_OK)
        goto done;
    sbt_model_config c;
    sbt_model_config_init(&c);
    c.vocab_size = sbt_tokenizer_n_vocab(tok);
    c.hidden_size = 64;
    c.intermediate_size = 128;
    c.num_hidden_layers = 2;
    c.num_attention_heads = 4;
    c.num_key_value_heads = 2;
    c.max_position_embeddings = 256;
    c.rms_norm_eps = 1e-5;
    c.rope_theta = 10000;
    c.tie_word_embeddings = 1;
    c.bos_token_id = sbt_tokenizer_bos(tok);
    c.eos_token_id = sbt_tokenizer_eos(tok);
    c.pad_token_id = -1;
    c.initializer_range = 0.1;
    if (argc == 3)
        c.dtype = SBT_DTYPE_BF16;
    if (sbt_model_create(&m, be, &c, 11) != SBT_OK || sbt_model_save(m, argv[1], NULL) != SBT_OK ||
        sbt_tokenizer_save(tok, argv[1]) != SBT_OK)
        goto done;
    printf("%s: vocabulary %d, eos %d\n", argv[1], (int)c.vocab_size, (int)c.eos_token_id);
    rc = 0;
done:
    if (rc)
        fprintf(stderr, "make_tiny_ckpt: %s\n", sbt_last_error());
    sbt_model_free(m);
    sbt_tokenizer_free(tok);
    sbt_backend_free(be);
    return rc;
}
