/* fuzz_encode.c — encode and decode with the tiny fixture tokenizer on arbitrary text bytes.
 *
 * Invariants: encoding any bytes succeeds, with the sizing protocol of fuzz_encode and ids in
 * the vocabulary; invalid UTF-8 is read as its U+FFFD form (encode(x) == encode(sanitize(x)));
 * ADD_SPECIAL prepends exactly the BOS of the fixture's template; and the round trip
 * decode(encode(x)) == sanitize(x) holds whenever x holds none of the fixture's added tokens
 * whose decoding loses bytes: those that strip spaces around them (lstrip/rstrip: "<mask>",
 * "[R]", "<both>"), and "é!", whose content goes through the ByteLevel decoder as Hugging Face
 * does (U+00E9 is the byte-level character of byte 0xE9, so it decodes to a lone 0xE9 and then
 * U+FFFD). Decoding with SKIP_SPECIAL drops exactly the special tokens (the BOS included). */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/text.h"

#include "fuzz_tokenizer.h"

static const char *const LOSSY[] = {"<mask>", "[R]", "<both>", "\xC3\xA9!"};

static int contains(const char *s, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(s + i, needle, k) == 0)
            return 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const sbt_tokenizer *tok = fuzz_tiny_tokenizer();
    const char *text = (const char *)data;
    sbt_status st;
    size_t n, n_bos, n_clean;

    sbt_token *ids = fuzz_encode(tok, text, size, 0, &n, &st);
    FUZZ_CHECK(ids != NULL);
    FUZZ_CHECK(size == 0 || n > 0);

    /* the BOS template */
    sbt_token *with_bos = fuzz_encode(tok, text, size, SBT_ENCODE_ADD_SPECIAL, &n_bos, &st);
    FUZZ_CHECK(with_bos != NULL);
    FUZZ_CHECK(n_bos == n + 1 && with_bos[0] == sbt_tokenizer_bos(tok));
    FUZZ_CHECK(n == 0 || memcmp(with_bos + 1, ids, n * sizeof *ids) == 0);

    /* invalid UTF-8 reads as U+FFFD */
    char *clean = malloc(3 * size + 1);
    FUZZ_CHECK(clean != NULL);
    size_t clean_len = sbti_utf8_sanitize(text, size, clean);
    if (clean_len != size || memcmp(clean, text, size) != 0) {
        sbt_token *ids_clean = fuzz_encode(tok, clean, clean_len, 0, &n_clean, &st);
        FUZZ_CHECK(ids_clean != NULL);
        FUZZ_CHECK(n_clean == n && (n == 0 || memcmp(ids_clean, ids, n * sizeof *ids) == 0));
        free(ids_clean);
    }

    /* the round trip */
    size_t dec_len, skip_len, bos_skip_len;
    char *dec = fuzz_decode(tok, ids, n, 0, &dec_len, &st);
    FUZZ_CHECK(dec != NULL);
    int lossy = 0;
    for (size_t k = 0; k < sizeof LOSSY / sizeof *LOSSY; k++)
        lossy |= contains(clean, clean_len, LOSSY[k]);
    if (!lossy)
        FUZZ_CHECK(dec_len == clean_len && memcmp(dec, clean, clean_len) == 0);

    /* skipping special tokens */
    int any_special = 0;
    for (size_t i = 0; i < n; i++)
        any_special |= sbt_tokenizer_is_special(tok, ids[i]);
    char *skip = fuzz_decode(tok, ids, n, SBT_DECODE_SKIP_SPECIAL, &skip_len, &st);
    FUZZ_CHECK(skip != NULL);
    if (!any_special)
        FUZZ_CHECK(skip_len == dec_len && memcmp(skip, dec, dec_len) == 0);
    else
        FUZZ_CHECK(skip_len < dec_len);
    char *bos_skip = fuzz_decode(tok, with_bos, n_bos, SBT_DECODE_SKIP_SPECIAL, &bos_skip_len, &st);
    FUZZ_CHECK(bos_skip != NULL);
    FUZZ_CHECK(bos_skip_len == skip_len && memcmp(bos_skip, skip, skip_len) == 0);

    free(bos_skip);
    free(skip);
    free(dec);
    free(clean);
    free(with_bos);
    free(ids);
    return 0;
}
