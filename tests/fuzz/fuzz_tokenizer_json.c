/* fuzz_tokenizer_json.c — the tokenizer loader on arbitrary bytes as tokenizer.json (no
 * tokenizer_config.json).
 *
 * Invariants: a failure is a documented status with a message and leaves *out NULL; a
 * tokenizer that loads has no special ids (they come from the config), and then keeps every
 * contract fuzz_exercise_tokenizer checks (fuzz_tokenizer.h). */
#include "fuzz_tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sbt_tokenizer *tok = (sbt_tokenizer *)&tok; /* not NULL: the loader must clear it */
    fuzz_log_all();
    sbt_clear_error();
    sbt_status st = sbt_tokenizer_load_json(&tok, (const char *)data, size, NULL, 0);
    if (st != SBT_OK) {
        FUZZ_CHECK_FAILURE(st);
        FUZZ_CHECK(st == SBT_E_PARSE || st == SBT_E_UNSUPPORTED || st == SBT_E_OUT_OF_MEMORY);
        FUZZ_CHECK(tok == NULL);
        return 0;
    }
    FUZZ_CHECK(tok != NULL);
    FUZZ_CHECK(sbt_tokenizer_bos(tok) == -1 && sbt_tokenizer_eos(tok) == -1 &&
               sbt_tokenizer_pad(tok) == -1);
    fuzz_exercise_tokenizer(tok, (const char *)data, size);
    sbt_tokenizer_free(tok);
    return 0;
}
