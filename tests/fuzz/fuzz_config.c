/* fuzz_config.c — the Llama config.json parser (lib/model/config.h) on arbitrary bytes.
 *
 * Invariants: a failure is SBT_E_PARSE or SBT_E_UNSUPPORTED with a message naming the source
 * and leaves *out alone; a config that parses is valid (sbti_config_validate accepts it and
 * changes nothing: parsing already filled in num_key_value_heads and head_dim), its RoPE
 * inverse frequencies can be computed (UBSan checks the float conversions), and writing it
 * then reading it back gives the same config, field for field (the writer's floats read back
 * exactly). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/config.h"

#include "fuzz.h"

static char dir[4096], path[4200];

static void remove_dir(void)
{
    unlink(path);
    rmdir(dir);
}

static void same_config(const sbti_config *a, const sbti_config *b)
{
    FUZZ_CHECK(a->vocab_size == b->vocab_size);
    FUZZ_CHECK(a->hidden_size == b->hidden_size);
    FUZZ_CHECK(a->intermediate_size == b->intermediate_size);
    FUZZ_CHECK(a->num_hidden_layers == b->num_hidden_layers);
    FUZZ_CHECK(a->num_attention_heads == b->num_attention_heads);
    FUZZ_CHECK(a->num_key_value_heads == b->num_key_value_heads);
    FUZZ_CHECK(a->head_dim == b->head_dim);
    FUZZ_CHECK(a->max_position_embeddings == b->max_position_embeddings);
    FUZZ_CHECK(a->rms_norm_eps == b->rms_norm_eps);
    FUZZ_CHECK(a->rope_theta == b->rope_theta);
    FUZZ_CHECK(a->rope_type == b->rope_type);
    if (a->rope_type == SBTI_ROPE_LLAMA3) {
        FUZZ_CHECK(a->rope_factor == b->rope_factor);
        FUZZ_CHECK(a->rope_low_freq_factor == b->rope_low_freq_factor);
        FUZZ_CHECK(a->rope_high_freq_factor == b->rope_high_freq_factor);
        FUZZ_CHECK(a->rope_original_max_position_embeddings ==
                   b->rope_original_max_position_embeddings);
    }
    FUZZ_CHECK(a->tie_word_embeddings == b->tie_word_embeddings);
    FUZZ_CHECK(a->bos_token_id == b->bos_token_id);
    FUZZ_CHECK(a->pad_token_id == b->pad_token_id);
    FUZZ_CHECK(a->n_eos == b->n_eos);
    for (int i = 0; i < a->n_eos; i++)
        FUZZ_CHECK(a->eos_token_id[i] == b->eos_token_id[i]);
    FUZZ_CHECK(strcmp(a->torch_dtype, b->torch_dtype) == 0);
    FUZZ_CHECK(a->initializer_range == b->initializer_range);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sbti_config c;
    memset(&c, 0x5A, sizeof c);
    sbt_clear_error();
    sbt_status st = sbti_config_parse(&c, (const char *)data, size, "fuzz/config.json");
    if (st != SBT_OK) {
        FUZZ_CHECK_FAILURE(st);
        FUZZ_CHECK(st == SBT_E_PARSE || st == SBT_E_UNSUPPORTED);
        FUZZ_CHECK(strstr(sbt_last_error(), "fuzz/config.json") != NULL);
        const unsigned char *p = (const unsigned char *)&c;
        for (size_t i = 0; i < sizeof c; i++)
            FUZZ_CHECK(p[i] == 0x5A);
        return 0;
    }
    sbti_config v = c;
    FUZZ_CHECK(sbti_config_validate(&v) == SBT_OK);
    same_config(&v, &c);
    FUZZ_CHECK(c.num_key_value_heads > 0 && c.head_dim > 0 && c.head_dim % 2 == 0);

    float *freq = malloc((size_t)(c.head_dim / 2) * sizeof *freq);
    FUZZ_CHECK(freq != NULL);
    sbti_rope_inv_freq(freq, &c);
    for (int64_t i = 0; i < c.head_dim / 2; i++)
        FUZZ_CHECK(!isnan(freq[i]) && freq[i] >= 0);
    free(freq);

    /* written and read back */
    if (!dir[0]) {
        const char *tmp = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/fuzz_config.XXXXXX", tmp && *tmp ? tmp : "/tmp");
        FUZZ_CHECK(mkdtemp(dir) != NULL);
        snprintf(path, sizeof path, "%s/config.json", dir);
        atexit(remove_dir);
    }
    st = sbti_config_save(&c, path);
    if (st != SBT_OK)
        fprintf(stderr, "save: %s\n", sbt_last_error());
    FUZZ_CHECK(st == SBT_OK);
    sbti_config back;
    st = sbti_config_load(&back, path);
    if (st != SBT_OK)
        fprintf(stderr, "load of the saved config: %s\n", sbt_last_error());
    FUZZ_CHECK(st == SBT_OK);
    same_config(&back, &c);
    return 0;
}
