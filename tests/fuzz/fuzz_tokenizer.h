/* fuzz_tokenizer.h — helpers of the tokenizer fuzz targets: the tiny fixture tokenizer
 * (tests/golden/tiny_tokenizer.json + tiny_tokenizer_config.json), loaded once, and checked
 * wrappers of encode and decode. */
#ifndef SBT_FUZZ_TOKENIZER_H
#define SBT_FUZZ_TOKENIZER_H

#include <stdlib.h>
#include <string.h>

#include "selfbt/log.h"
#include "selfbt/tokenizer.h"

#include "fuzz.h"

static inline void fuzz_log_sink(sbt_log_level level, const char *msg, void *user_data)
{
    (void)level;
    (void)user_data;
    FUZZ_CHECK(msg != NULL && strlen(msg) < 1024);
}

/* Has the library format every log message (into a sink that drops it), so ASan sees the
 * formatting of whatever the input put in them. */
static inline void fuzz_log_all(void)
{
    static int done;
    if (!done)
        sbt_log_set(fuzz_log_sink, NULL, SBT_LOG_DEBUG);
    done = 1;
}

/* The fixture, loaded on first use and kept for the life of the process. */
static inline const sbt_tokenizer *fuzz_tiny_tokenizer(void)
{
    static sbt_tokenizer *tok;
    if (!tok) {
        size_t len, config_len;
        char *json = fuzz_slurp(SBT_FUZZ_GOLDEN_DIR "/tiny_tokenizer.json", &len);
        char *config = fuzz_slurp(SBT_FUZZ_GOLDEN_DIR "/tiny_tokenizer_config.json", &config_len);
        if (sbt_tokenizer_load_json(&tok, json, len, config, config_len) != SBT_OK) {
            fprintf(stderr, "fuzz: the tiny tokenizer does not load: %s\n", sbt_last_error());
            exit(2);
        }
        free(json);
        free(config);
    }
    return tok;
}

/* Encodes text[0..len) with flags, checking the sizing protocol: a first call with no buffer
 * gives the count (and fails unless it is 0), a buffer one short is refused with the same
 * count, one that fits gets them. Returns the ids (malloc'd, *n of them), or NULL with the
 * failure's status in *st (an encode may fail only for a reason it documents, never with an
 * internal error). */
static inline sbt_token *fuzz_encode(const sbt_tokenizer *tok, const char *text, size_t len,
                                     unsigned flags, size_t *n, sbt_status *st)
{
    size_t count = (size_t)-1;
    sbt_clear_error();
    *st = sbt_tokenizer_encode(tok, text, len, flags, NULL, 0, &count);
    FUZZ_CHECK(count != (size_t)-1);
    if (*st != SBT_OK && count == 0) { /* failed before counting */
        FUZZ_CHECK_FAILURE(*st);
        return NULL;
    }
    FUZZ_CHECK(count == 0 ? *st == SBT_OK : *st == SBT_E_INVALID_ARGUMENT);
    sbt_token *ids = malloc((count + 1) * sizeof *ids);
    FUZZ_CHECK(ids != NULL);
    if (count > 0) {
        size_t again = 0;
        FUZZ_CHECK(sbt_tokenizer_encode(tok, text, len, flags, ids, count - 1, &again) ==
                   SBT_E_INVALID_ARGUMENT);
        FUZZ_CHECK(again == count);
    }
    size_t got = 0;
    *st = sbt_tokenizer_encode(tok, text, len, flags, ids, count, &got);
    FUZZ_CHECK(*st == SBT_OK && got == count);
    int32_t n_vocab = sbt_tokenizer_n_vocab(tok);
    for (size_t i = 0; i < count; i++)
        FUZZ_CHECK(ids[i] >= 0 && ids[i] < n_vocab && sbt_tokenizer_token_text(tok, ids[i]));
    *n = count;
    return ids;
}

/* Decodes ids with flags, checking the sizing protocol likewise (a buffer without room for
 * the NUL is refused with the length set) and that the text is valid UTF-8 and NUL-terminated.
 * Returns it (malloc'd, *len bytes), or NULL with the failure's status in *st. */
static inline char *fuzz_decode(const sbt_tokenizer *tok, const sbt_token *ids, size_t n,
                                unsigned flags, size_t *len, sbt_status *st)
{
    char one[1] = {'x'};
    size_t need = (size_t)-1;
    sbt_clear_error();
    *st = sbt_tokenizer_decode(tok, ids, n, flags, one, 1, &need);
    FUZZ_CHECK(need != (size_t)-1);
    if (*st != SBT_OK) {
        FUZZ_CHECK_FAILURE(*st);
        FUZZ_CHECK(*st == SBT_E_INVALID_ARGUMENT);
        if (need == 0) /* refused before measuring: a bad id */
            return NULL;
        FUZZ_CHECK(one[0] == '\0');
    } else {
        FUZZ_CHECK(need == 0 && one[0] == '\0');
    }
    size_t again = (size_t)-1;
    FUZZ_CHECK(sbt_tokenizer_decode(tok, ids, n, flags, NULL, 0, &again) == SBT_E_INVALID_ARGUMENT);
    FUZZ_CHECK(again == need);
    char *text = malloc(need + 1);
    FUZZ_CHECK(text != NULL);
    memset(text, 0x5A, need + 1);
    if (need > 0) {
        FUZZ_CHECK(sbt_tokenizer_decode(tok, ids, n, flags, text, need, &again) ==
                   SBT_E_INVALID_ARGUMENT);
        FUZZ_CHECK(again == need && text[0] == '\0');
    }
    *st = sbt_tokenizer_decode(tok, ids, n, flags, text, need + 1, &again);
    FUZZ_CHECK(*st == SBT_OK && again == need);
    FUZZ_CHECK(text[need] == '\0');
    FUZZ_CHECK(fuzz_utf8_valid((const unsigned char *)text, need));
    *len = need;
    return text;
}

/* Uses a tokenizer that loaded from fuzzed input: vocabulary queries agree with each other,
 * special ids are tokens, encode and decode keep their contracts on a few texts (and on a
 * piece of the input itself), and a new special token gets the next id and is matched. */
static inline void fuzz_exercise_tokenizer(sbt_tokenizer *tok, const char *input, size_t input_len)
{
    int32_t n_vocab = sbt_tokenizer_n_vocab(tok);
    FUZZ_CHECK(n_vocab > 0);
    sbt_token special[3] = {sbt_tokenizer_bos(tok), sbt_tokenizer_eos(tok), sbt_tokenizer_pad(tok)};
    for (int k = 0; k < 3; k++)
        FUZZ_CHECK(special[k] == -1 || sbt_tokenizer_token_text(tok, special[k]) != NULL);
    FUZZ_CHECK(sbt_tokenizer_token_text(tok, -1) == NULL);
    FUZZ_CHECK(sbt_tokenizer_token_text(tok, n_vocab) == NULL);

    /* every id's string finds a token with that string; the known ids decode together */
    size_t n_known = 0, limit = n_vocab < 4096 ? (size_t)n_vocab : 4096;
    sbt_token *known = malloc(limit * sizeof *known);
    FUZZ_CHECK(known != NULL);
    for (size_t i = 0; i < limit; i++) {
        const char *s = sbt_tokenizer_token_text(tok, (sbt_token)i);
        if (!s)
            continue;
        /* (-1 is possible: a string holding U+0000 reads here only up to it) */
        sbt_token id = sbt_tokenizer_token_id(tok, s);
        FUZZ_CHECK(id >= -1 && id < n_vocab);
        FUZZ_CHECK(id == -1 || strcmp(sbt_tokenizer_token_text(tok, id), s) == 0);
        known[n_known++] = (sbt_token)i;
    }
    sbt_status st;
    size_t len;
    for (unsigned flags = 0; flags <= SBT_DECODE_SKIP_SPECIAL; flags++) {
        char *text = fuzz_decode(tok, known, n_known, flags, &len, &st);
        FUZZ_CHECK(text != NULL);
        free(text);
    }
    free(known);

    /* encode, then decode, a few texts */
    const char *texts[4] = {"Hello world! 123 4567 it's\n\n  \xC3\xA9t\xC3\xA9 "
                            "\xF0\x9F\x98\x80 <s>x</s>",
                            "\xFF\xFEhi\xE2\x82", input, NULL};
    size_t lens[4] = {strlen(texts[0]), strlen(texts[1]), input_len < 96 ? input_len : 96, 0};
    for (int k = 0; k < 3; k++) {
        size_t n, n_special;
        sbt_token *ids = fuzz_encode(tok, texts[k], lens[k], 0, &n, &st);
        FUZZ_CHECK(ids != NULL);
        sbt_token *ids_special = fuzz_encode(tok, texts[k], lens[k], SBT_ENCODE_ADD_SPECIAL,
                                             &n_special, &st);
        FUZZ_CHECK(ids_special != NULL && n_special >= n);
        char *text = fuzz_decode(tok, ids, n, 0, &len, &st);
        FUZZ_CHECK(text != NULL);
        free(text);
        free(ids_special);
        free(ids);
    }

    /* A new special token. Its id follows Hugging Face's rule (one past the largest added id,
     * or the model's entry count, whichever is larger), which in a vocabulary with gaps may be
     * a free id inside it, and is refused (SBT_E_UNSUPPORTED) if that id is taken. Either way
     * it is special, has its own string and is matched in text as one token. */
    static const char NEW[] = "<|fuzz_new|>";
    int was_known = sbt_tokenizer_token_id(tok, NEW) >= 0;
    const char *zero = sbt_tokenizer_token_text(tok, 0);
    char *copy = NULL;
    if (zero) { /* valid only until the tokenizer changes */
        copy = malloc(strlen(zero) + 1);
        FUZZ_CHECK(copy != NULL);
        strcpy(copy, zero);
    }
    const char *add[2] = {NEW, copy};
    size_t n_added = 99;
    sbt_clear_error();
    st = sbt_tokenizer_add_special_tokens(tok, add, copy ? 2 : 1, &n_added);
    free(copy);
    if (st != SBT_OK) {
        FUZZ_CHECK_FAILURE(st);
        FUZZ_CHECK(st == SBT_E_OUT_OF_MEMORY || st == SBT_E_UNSUPPORTED);
        return;
    }
    FUZZ_CHECK(n_added <= 2);
    FUZZ_CHECK(sbt_tokenizer_n_vocab(tok) >= n_vocab);
    if (was_known)
        return;
    FUZZ_CHECK(n_added >= 1);
    sbt_token id = sbt_tokenizer_token_id(tok, NEW);
    FUZZ_CHECK(id >= 0 && id < sbt_tokenizer_n_vocab(tok) && sbt_tokenizer_is_special(tok, id));
    FUZZ_CHECK(strcmp(sbt_tokenizer_token_text(tok, id), NEW) == 0);
    FUZZ_CHECK(sbt_tokenizer_n_vocab(tok) == (id < n_vocab ? n_vocab : id + 1) ||
               n_added == 2); /* (token 0's string may have been added after it) */
    size_t n;
    sbt_token *ids = fuzz_encode(tok, NEW, strlen(NEW), 0, &n, &st);
    FUZZ_CHECK(ids != NULL && n == 1 && ids[0] == id);
    free(ids);
}

#endif /* SBT_FUZZ_TOKENIZER_H */
