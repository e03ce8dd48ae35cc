/* fuzz_tokenizer_config.c — the tokenizer loader on the tiny fixture's tokenizer.json with
 * arbitrary bytes as tokenizer_config.json.
 *
 * Invariants: as fuzz_tokenizer_json.c; in addition a config that loads gives the same
 * vocabulary as the fixture alone, and its bos/eos/pad are -1 or tokens of it. */
#include "fuzz_tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char *json;
    static size_t json_len;
    if (!json)
        json = fuzz_slurp(SBT_FUZZ_GOLDEN_DIR "/tiny_tokenizer.json", &json_len);

    sbt_tokenizer *tok = (sbt_tokenizer *)&tok; /* not NULL: the loader must clear it */
    fuzz_log_all();
    sbt_clear_error();
    sbt_status st = sbt_tokenizer_load_json(&tok, json, json_len, (const char *)data, size);
    if (st != SBT_OK) {
        FUZZ_CHECK_FAILURE(st);
        FUZZ_CHECK(st == SBT_E_PARSE || st == SBT_E_UNSUPPORTED || st == SBT_E_OUT_OF_MEMORY ||
                   st == SBT_E_NOT_FOUND);
        FUZZ_CHECK(tok == NULL);
        return 0;
    }
    FUZZ_CHECK(tok != NULL);
    FUZZ_CHECK(sbt_tokenizer_n_vocab(tok) == 285);
    fuzz_exercise_tokenizer(tok, (const char *)data, size);
    sbt_tokenizer_free(tok);
    return 0;
}
