/* make_hf_start — a small Hugging Face-style starting checkpoint for selfbt-train --model: a
 * seeded random Llama whose vocabulary is the given tokenizer's (which lacks <backtrack>), with
 * the tokenizer saved beside it, as a downloaded Llama-3.2-1B folder would be.
 * Usage: make_hf_start TOKENIZER_DIR OUT_DIR */
#include <stdio.h>

#include "selfbt/selfbt.h"

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: make_hf_start TOKENIZER_DIR OUT_DIR\n");
        return 2;
    }
    sbt_backend_options bo;
    sbt_backend_options_init(&bo);
    bo.kind = SBT_BACKEND_CPU;
    sbt_backend *be = NULL;
    sbt_tokenizer *tok = NULL;
    sbt_model *m = NULL;
    int rc = 1;
    if (sbt_backend_create(&be, &bo) != SBT_OK || sbt_tokenizer_load(&tok, argv[1]) != SBT_OK)
        goto done;
    sbt_model_config c;
    sbt_model_config_init(&c);
    c.vocab_size = sbt_tokenizer_n_vocab(tok);
    c.hidden_size = 32;
    c.intermediate_size = 64;
    c.num_hidden_layers = 2;
    c.num_attention_heads = 4;
    c.num_key_value_heads = 2;
    c.max_position_embeddings = 512;
    c.bos_token_id = sbt_tokenizer_bos(tok);
    c.eos_token_id = sbt_tokenizer_eos(tok);
    c.pad_token_id = -1; /* as Llama-3.2-1B: no pad id in its config */
    c.tie_word_embeddings = 1;
    c.dtype = SBT_DTYPE_BF16; /* as Llama-3.2-1B is stored */
    if (sbt_model_create(&m, be, &c, 3) != SBT_OK || sbt_model_save(m, argv[2], NULL) != SBT_OK ||
        sbt_tokenizer_save(tok, argv[2]) != SBT_OK)
        goto done;
    printf("%s: vocabulary %d, eos %d\n", argv[2], (int)c.vocab_size, (int)c.eos_token_id);
    rc = 0;
done:
    if (rc)
        fprintf(stderr, "make_hf_start: %s\n", sbt_last_error());
    sbt_model_free(m);
    sbt_tokenizer_free(tok);
    sbt_backend_free(be);
    return rc;
}
