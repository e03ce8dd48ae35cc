/* test_tokenizer.c — the tokenizer on a small hand-made tokenizer.json (tests/golden/
 * tiny_tokenizer.json): BPE merges, ignore_merges, added tokens (lstrip, rstrip, single_word,
 * normalized), the BOS template, decode with and without specials, add_special_tokens, buffer
 * sizing, save → load, threads; and the compact Countdown tokenizer. Expected ids were made by
 * Hugging Face tokenizers 0.23 (Node binding) on the same fixture. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* mkdtemp, nftw */
#endif
#include <check.h>
#include <ftw.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "selfbt/tokenizer.h"

#include "check_main.h"
#include "tokenizer_fixture.h"

/* Fixture ids (tiny_tokenizer.json). */
enum {
    T_HE = 256, T_HELL = 258, T_HELLO = 259, T_GWORLD = 264, T_GTHE = 266, T_123 = 268,
    T_AB = 269, T_BC = 270, T_AA = 271, T_XYZ = 276, T_BOS = 277, T_EOS = 278, T_MASK = 279,
    T_R = 280, T_SW = 281, T_CAT = 282, T_BOTH = 283, T_EACUTE_BANG = 284, T_N_VOCAB = 285
};
#define SP 32 /* 'Ġ': the byte ' ' */

/* ==== helpers ========================================================================== */

static sbt_tokenizer *load_text(const char *json)
{
    size_t clen;
    char *cfg = slurp(FIXTURE_CONFIG, &clen);
    sbt_tokenizer *tok = NULL;
    sbt_status st = sbt_tokenizer_load_json(&tok, json, strlen(json), cfg, clen);
    ck_assert_msg(st == SBT_OK, "load: %s", sbt_last_error());
    free(cfg);
    return tok;
}

static sbt_tokenizer *load_tiny(void)
{
    char *json = slurp(FIXTURE, NULL);
    sbt_tokenizer *tok = load_text(json);
    free(json);
    return tok;
}

/* Encodes and compares with the expected ids. */
static void expect_enc_len(const sbt_tokenizer *tok, const char *text, size_t len, unsigned flags,
                           const sbt_token *want, size_t n_want)
{
    sbt_token ids[512];
    size_t n = 0;
    sbt_status st = sbt_tokenizer_encode(tok, text, len, flags, ids, N_OF(ids), &n);
    ck_assert_msg(st == SBT_OK, "encode \"%s\": %s", text, sbt_last_error());
    char got[2048] = "", exp[2048] = "";
    for (size_t i = 0; i < n; i++)
        snprintf(got + strlen(got), sizeof got - strlen(got), " %d", ids[i]);
    for (size_t i = 0; i < n_want; i++)
        snprintf(exp + strlen(exp), sizeof exp - strlen(exp), " %d", want[i]);
    ck_assert_msg(n == n_want && memcmp(ids, want, n * sizeof *ids) == 0,
                  "encode \"%s\" (flags %u): got [%s ], want [%s ]", text, flags, got, exp);
}

#define EXPECT_ENC(tok, text, flags, ...)                                                      \
    do {                                                                                       \
        const sbt_token want_[] = {__VA_ARGS__};                                               \
        expect_enc_len((tok), (text), strlen(text), (flags), want_, N_OF(want_));              \
    } while (0)

static void expect_dec(const sbt_tokenizer *tok, const sbt_token *ids, size_t n, unsigned flags,
                       const char *want)
{
    char buf[4096];
    size_t len = 0;
    sbt_status st = sbt_tokenizer_decode(tok, ids, n, flags, buf, sizeof buf, &len);
    ck_assert_msg(st == SBT_OK, "decode: %s", sbt_last_error());
    ck_assert_uint_eq(len, strlen(want));
    ck_assert_str_eq(buf, want);
}

#define EXPECT_DEC(tok, flags, want, ...)                                                      \
    do {                                                                                       \
        const sbt_token ids_[] = {__VA_ARGS__};                                                \
        expect_dec((tok), ids_, N_OF(ids_), (flags), (want));                                  \
    } while (0)

static size_t count_ids(const sbt_tokenizer *tok, const char *text, unsigned flags)
{
    size_t n = 0;
    sbt_status st = sbt_tokenizer_encode(tok, text, strlen(text), flags, NULL, 0, &n);
    ck_assert(st == SBT_OK || st == SBT_E_INVALID_ARGUMENT);
    return n;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void remove_tree(char *dir)
{
    nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    free(dir);
}

/* ==== loading and queries ================================================================ */

START_TEST(tiny_loads_with_its_config)
{
    sbt_tokenizer *tok = load_tiny();
    ck_assert_int_eq(sbt_tokenizer_n_vocab(tok), T_N_VOCAB);
    ck_assert_int_eq(sbt_tokenizer_bos(tok), T_BOS);
    ck_assert_int_eq(sbt_tokenizer_eos(tok), T_EOS); /* {"content": "</s>"} form */
    ck_assert_int_eq(sbt_tokenizer_pad(tok), -1);    /* null */
    ck_assert_str_eq(sbt_tokenizer_token_text(tok, T_GWORLD), "Ġworld");
    ck_assert_str_eq(sbt_tokenizer_token_text(tok, T_MASK), "<mask>");
    ck_assert_str_eq(sbt_tokenizer_token_text(tok, SP), "Ġ");
    ck_assert_str_eq(sbt_tokenizer_token_text(tok, 0), "Ā");
    ck_assert_ptr_null(sbt_tokenizer_token_text(tok, T_N_VOCAB));
    ck_assert_ptr_null(sbt_tokenizer_token_text(tok, -1));
    ck_assert_int_eq(sbt_tokenizer_token_id(tok, "Ġworld"), T_GWORLD);
    ck_assert_int_eq(sbt_tokenizer_token_id(tok, "</s>"), T_EOS);
    ck_assert_int_eq(sbt_tokenizer_token_id(tok, "hello"), T_HELLO); /* vocab and added */
    ck_assert_int_eq(sbt_tokenizer_token_id(tok, " world"), -1);
    ck_assert_int_eq(sbt_tokenizer_is_special(tok, T_BOS), 1);
    ck_assert_int_eq(sbt_tokenizer_is_special(tok, T_MASK), 1);
    ck_assert_int_eq(sbt_tokenizer_is_special(tok, T_R), 0);
    ck_assert_int_eq(sbt_tokenizer_is_special(tok, T_HELLO), 0);
    ck_assert_int_eq(sbt_tokenizer_is_special(tok, 99999), 0);
    sbt_tokenizer_free(tok);
}
END_TEST

START_TEST(load_from_folder_and_file)
{
    char *dir = make_tmp_dir("tok");
    char p[600], q[600];
    snprintf(p, sizeof p, "%s/tokenizer.json", dir);
    snprintf(q, sizeof q, "%s/tokenizer_config.json", dir);
    char *json = slurp(FIXTURE, NULL), *cfg = slurp(FIXTURE_CONFIG, NULL);
    FILE *f = fopen(p, "wb");
    fputs(json, f);
    fclose(f);
    f = fopen(q, "wb");
    fputs(cfg, f);
    fclose(f);
    sbt_tokenizer *tok = NULL;
    ck_assert_int_eq(sbt_tokenizer_load(&tok, dir), SBT_OK);
    ck_assert_int_eq(sbt_tokenizer_bos(tok), T_BOS);
    sbt_tokenizer_free(tok);
    /* The file itself: its sibling tokenizer_config.json counts. */
    ck_assert_int_eq(sbt_tokenizer_load(&tok, p), SBT_OK);
    ck_assert_int_eq(sbt_tokenizer_eos(tok), T_EOS);
    sbt_tokenizer_free(tok);
    /* A folder without tokenizer_config.json: no bos/eos. */
    remove(q);
    ck_assert_int_eq(sbt_tokenizer_load(&tok, dir), SBT_OK);
    ck_assert_int_eq(sbt_tokenizer_bos(tok), -1);
    ck_assert_int_eq(sbt_tokenizer_eos(tok), -1);
    ck_assert_int_eq(sbt_tokenizer_n_vocab(tok), T_N_VOCAB);
    sbt_tokenizer_free(tok);
    /* A file under another name does not pick up a config. */
    ck_assert_int_eq(sbt_tokenizer_load(&tok, FIXTURE), SBT_OK);
    ck_assert_int_eq(sbt_tokenizer_bos(tok), -1);
    sbt_tokenizer_free(tok);
    free(json);
    free(cfg);
    remove_tree(dir);
}
END_TEST

/* ==== BPE ================================================================================= */

START_TEST(bpe_merges_by_rank)
{
    sbt_tokenizer *tok = load_tiny();
    EXPECT_ENC(tok, "hello world", 0, T_HELLO, T_GWORLD);
    EXPECT_ENC(tok, "hello there world", 0, T_HELLO, T_GTHE, 'r', 'e', T_GWORLD);
    EXPECT_ENC(tok, "aaa", 0, T_AA, 'a');              /* equal ranks: leftmost first */
    EXPECT_ENC(tok, "aaaaa", 0, T_AA, T_AA, 'a');
    EXPECT_ENC(tok, "abc", 0, T_AB, 'c');              /* "a b" ranks before "b c" */
    EXPECT_ENC(tok, "bcd", 0, T_BC, 'd');
    EXPECT_ENC(tok, "123", 0, T_123);
    EXPECT_ENC(tok, "1234", 0, T_123, '4');            /* \p{N}{1,3} */
    EXPECT_ENC(tok, "say hello", 0, 's', 'a', 'y', SP, T_HELLO);
    EXPECT_ENC(tok, "\xC3\xA9", 0, 0xC3, 0xA9);        /* é: two byte tokens */
    EXPECT_ENC(tok, " \xC3\xA9 ", 0, SP, 0xC3, 0xA9, SP);
    sbt_tokenizer_free(tok);
}
END_TEST

START_TEST(empty_text)
{
    sbt_tokenizer *tok = load_tiny();
    sbt_token ids[4];
    size_t n = 99;
    ck_assert_int_eq(sbt_tokenizer_encode(tok, "", 0, 0, ids, 4, &n), SBT_OK);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(sbt_tokenizer_encode(tok, NULL, 0, 0, NULL, 0, &n), SBT_OK);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(sbt_tokenizer_encode(tok, "", 0, SBT_ENCODE_ADD_SPECIAL, ids, 4, &n), SBT_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(ids[0], T_BOS);
    char buf[4];
    size_t len = 9;
    ck_assert_int_eq(sbt_tokenizer_decode(tok, NULL, 0, 0, buf, sizeof buf, &len), SBT_OK);
    ck_assert_uint_eq(len, 0);
    ck_assert_str_eq(buf, "");
    sbt_tokenizer_free(tok);
}
END_TEST

START_TEST(ignore_merges)
{
    sbt_tokenizer *tok = load_tiny();
    EXPECT_ENC(tok, "xyz", 0, T_XYZ); /* in the vocabulary, no merges lead to it */
    EXPECT_ENC(tok, "xyzxyz", 0, 'x', 'y', 'z', 'x', 'y', 'z');
    sbt_tokenizer_free(tok);

    char *json = slurp(FIXTURE, NULL);
    char *off = replace(json, "\"ignore_merges\": true", "\"ignore_merges\": false");
    tok = load_text(off);
    EXPECT_ENC(tok, "xyz", 0, 'x', 'y', 'z');
    EXPECT_ENC(tok, "hello world", 0, T_HELLO, T_GWORLD);
    sbt_tokenizer_free(tok);
    free(off);
    free(json);
}
END_TEST

START_TEST(long_piece_uses_the_heap_path)
{
    sbt_tokenizer *tok = load_tiny();
    size_t n = 100001;
    char *s = malloc(n + 1);
    memset(s, 'a', n);
    s[n] = '\0';
    sbt_token *ids = malloc((n + 8) * sizeof *ids);
    size_t got = 0;
    ck_assert_int_eq(sbt_tokenizer_encode(tok, s, n, 0, ids, n + 8, &got), SBT_OK);
    ck_assert_uint_eq(got, n / 2 + 1);
    for (size_t i = 0; i < n / 2; i++)
        ck_assert_int_eq(ids[i], T_AA);
    ck_assert_int_eq(ids[n / 2], 'a');
    char *back = malloc(n + 1);
    size_t len = 0;
    ck_assert_int_eq(sbt_tokenizer_decode(tok, ids, got, 0, back, n + 1, &len), SBT_OK);
    ck_assert_uint_eq(len, n);
    ck_assert_int_eq(memcmp(back, s, n), 0);
    free(back);
    free(ids);
    free(s);
    sbt_tokenizer_free(tok);
}
END_TEST

/* ==== added tokens ======================================================================== */

START_TEST(added_tokens_lstrip_rstrip)
{
    sbt_tokenizer *tok = load_tiny();
    /* <mask> lstrip: the whitespace before it is part of the token */
    EXPECT_ENC(tok, "a <mask> b", 0, 'a', T_MASK, SP, 'b');
    EXPECT_ENC(tok, "a   <mask>b", 0, 'a', T_MASK, 'b');
    EXPECT_ENC(tok, "x\t<mask>", 0, 'x', T_MASK);
    EXPECT_ENC(tok, "<mask><mask>", 0, T_MASK, T_MASK);
    /* [R] rstrip: the whitespace after it */
    EXPECT_ENC(tok, "[R]  x", 0, T_R, 'x');
    EXPECT_ENC(tok, "[R]\n\nx", 0, T_R, 'x');
    /* both */
    EXPECT_ENC(tok, "x  <both>  y", 0, 'x', T_BOTH, 'y');
    sbt_tokenizer_free(tok);
}
END_TEST

START_TEST(added_tokens_single_word)
{
    sbt_tokenizer *tok = load_tiny();
    EXPECT_ENC(tok, "a sw b", 0, 'a', SP, T_SW, SP, 'b');
    EXPECT_ENC(tok, "sw", 0, T_SW);
    EXPECT_ENC(tok, "asw b", 0, 'a', 's', 'w', SP, 'b');  /* a word character before */
    EXPECT_ENC(tok, "a swb", 0, 'a', SP, 's', 'w', 'b');  /* and after */
    EXPECT_ENC(tok, "sw_", 0, 's', 'w', '_');             /* '_' is a word character */
    EXPECT_ENC(tok, "\xC3\xA9 sw", 0, 0xC3, 0xA9, SP, T_SW);
    EXPECT_ENC(tok, "a\xCC\x81sw", 0, 'a', 0xCC, 0x81, 's', 'w'); /* a combining mark is \w */
    sbt_tokenizer_free(tok);
}
END_TEST

START_TEST(added_tokens_normalized_and_in_vocab)
{
    sbt_tokenizer *tok = load_tiny();
    /* "cat" (normalized=true) is matched in a second pass, also inside words */
    EXPECT_ENC(tok, "concatenate", 0, 'c', 'o', 'n', T_CAT, 'e', 'n', 'a', 't', 'e');
    EXPECT_ENC(tok, "the cat", 0, 't', T_HE, SP, T_CAT);
    /* "hello" is both a vocabulary token and an added one: same id */
    EXPECT_ENC(tok, "hello", 0, T_HELLO);
    EXPECT_ENC(tok, "<s>hello</s>", 0, T_BOS, T_HELLO, T_EOS);
    EXPECT_ENC(tok, "<s", 0, '<', 's');
    EXPECT_ENC(tok, "\xC3\xA9!", 0, T_EACUTE_BANG);
    sbt_tokenizer_free(tok);
}
END_TEST

START_TEST(template_adds_bos)
{
    sbt_tokenizer *tok = load_tiny();
    EXPECT_ENC(tok, "hello world", SBT_ENCODE_ADD_SPECIAL, T_BOS, T_HELLO, T_GWORLD);
    EXPECT_ENC(tok, "<s>", SBT_ENCODE_ADD_SPECIAL, T_BOS, T_BOS);
    sbt_tokenizer_free(tok);

    /* A template with a suffix, inside a Sequence with ByteLevel (as Llama-3 has it). */
    char *json = slurp(FIXTURE, NULL);
    char *a = replace(json, "\"post_processor\": {",
                      "\"post_processor\": {\"type\": \"Sequence\", \"processors\": [{\"type\": "
                      "\"ByteLevel\", \"add_prefix_space\": true, \"trim_offsets\": false, "
                      "\"use_regex\": true}, {");
    char *b = replace(a, "\"type_id\": 0\n    }\n   }\n  ],\n  \"pair\"",
                      "\"type_id\": 0\n    }\n   }, {\"SpecialToken\": {\"id\": \"</s>\", "
                      "\"type_id\": 0}}\n  ],\n  \"pair\"");
    char *c = replace(b, "\"tokens\": [\n     \"<s>\"\n    ]\n   }\n  }\n },",
                      "\"tokens\": [\"<s>\"]}, \"</s>\": {\"id\": \"</s>\", \"ids\": [278], "
                      "\"tokens\": [\"</s>\"]}}}]},");
    tok = load_text(c);
    EXPECT_ENC(tok, "hello", SBT_ENCODE_ADD_SPECIAL, T_BOS, T_HELLO, T_EOS);
    EXPECT_ENC(tok, "hello", 0, T_HELLO);
    sbt_tokenizer_free(tok);
    free(a);
    free(b);
    free(c);
    free(json);
}
END_TEST

START_TEST(invalid_utf8_is_replaced)
{
    sbt_tokenizer *tok = load_tiny();
    /* "a\xFFb": U+FFFD (EF BF BD) between a and b; the pre-tokenizer keeps a, "\uFFFD" and b
     * apart... as bytes through the byte-level alphabet. */
    sbt_token ids[16];
    size_t n = 0;
    ck_assert_int_eq(sbt_tokenizer_encode(tok, "a\xFF" "b", 3, 0, ids, 16, &n), SBT_OK);
    char buf[32];
    size_t len = 0;
    ck_assert_int_eq(sbt_tokenizer_decode(tok, ids, n, 0, buf, sizeof buf, &len), SBT_OK);
    ck_assert_str_eq(buf, "a\xEF\xBF\xBD" "b");
    /* The same ids as for the replaced text itself. */
    EXPECT_ENC(tok, "a\xEF\xBF\xBD" "b", 0, 'a', 0xEF, 0xBF, 0xBD, 'b');
    ck_assert_uint_eq(n, 5);
    sbt_tokenizer_free(tok);
}
END_TEST

/* ==== decode =============================================================================== */

START_TEST(decode_with_and_without_specials)
{
    sbt_tokenizer *tok = load_tiny();
    EXPECT_DEC(tok, 0, "<s>hello world</s>", T_BOS, T_HELLO, T_GWORLD, T_EOS);
    EXPECT_DEC(tok, SBT_DECODE_SKIP_SPECIAL, "hello world", T_BOS, T_HELLO, T_GWORLD, T_EOS);
    /* non-special added tokens stay; lstrip'd <mask> decodes as its content only */
    EXPECT_DEC(tok, SBT_DECODE_SKIP_SPECIAL, "a[R]b", 'a', T_MASK, T_R, 'b');
    EXPECT_DEC(tok, 0, "a<mask>[R]b", 'a', T_MASK, T_R, 'b');
    /* an added token goes through the ByteLevel decoder too: 'é' is byte 0xE9 there */
    EXPECT_DEC(tok, 0, "\xEF\xBF\xBD!", T_EACUTE_BANG);
    /* invalid byte sequences become U+FFFD, one per maximal invalid subsequence */
    EXPECT_DEC(tok, 0, "\xEF\xBF\xBD", 0xC3);
    EXPECT_DEC(tok, 0, "\xC3\xA9", 0xC3, 0xA9);
    EXPECT_DEC(tok, 0, "\xEF\xBF\xBD\xEF\xBF\xBD" "a", 0xE9, 0xFF, 'a');
    EXPECT_DEC(tok, 0, "\xEF\xBF\xBD" "a", 0xE2, 0x82, 'a');
    EXPECT_DEC(tok, SBT_DECODE_SKIP_SPECIAL, "", T_BOS, T_EOS);
    sbt_tokenizer_free(tok);
}
END_TEST

START_TEST(decode_without_a_decoder_joins_with_spaces)
{
    char *json = slurp(FIXTURE, NULL);
    char *a = replace(json, "\"decoder\": {", "\"decoder\": null, \"unused_decoder\": {");
    sbt_tokenizer *tok = load_text(a);
    EXPECT_DEC(tok, 0, "<s> hello Ġworld", T_BOS, T_HELLO, T_GWORLD);
    EXPECT_DEC(tok, SBT_DECODE_SKIP_SPECIAL, "hello Ġworld", T_BOS, T_HELLO, T_GWORLD);
    sbt_tokenizer_free(tok);
    free(a);
    free(json);
}
END_TEST

START_TEST(buffers_too_small_give_the_size)
{
    sbt_tokenizer *tok = load_tiny();
    size_t n = 0;
    ck_assert_int_eq(sbt_tokenizer_encode(tok, "hello world", 11, 0, NULL, 0, &n),
                     SBT_E_INVALID_ARGUMENT);
    ck_assert_uint_eq(n, 2);
    sbt_token ids[2];
    ck_assert_int_eq(sbt_tokenizer_encode(tok, "hello world", 11, SBT_ENCODE_ADD_SPECIAL, ids, 2,
                                          &n),
                     SBT_E_INVALID_ARGUMENT);
    ck_assert_uint_eq(n, 3);
    ck_assert_int_eq(sbt_tokenizer_encode(tok, "hello world", 11, 0, ids, 2, &n), SBT_OK);
    ck_assert_uint_eq(n, 2);

    const sbt_token hw[] = {T_HELLO, T_GWORLD};
    char buf[12];
    size_t len = 0;
    ck_assert_int_eq(sbt_tokenizer_decode(tok, hw, 2, 0, NULL, 0, &len), SBT_E_INVALID_ARGUMENT);
    ck_assert_uint_eq(len, 11);
    ck_assert_int_eq(sbt_tokenizer_decode(tok, hw, 2, 0, buf, 11, &len), SBT_E_INVALID_ARGUMENT);
    ck_assert_uint_eq(len, 11);
    ck_assert_int_eq(sbt_tokenizer_decode(tok, hw, 2, 0, buf, 12, &len), SBT_OK);
    ck_assert_str_eq(buf, "hello world");
    sbt_tokenizer_free(tok);
}
END_TEST

/* ==== add_special_tokens and save ============================================================= */

START_TEST(add_special_tokens_ids)
{
    sbt_tokenizer *tok = load_tiny();
    const char *add[] = {"<backtrack>", "<s>", "<backtrack>", "<new2>"};
    size_t n_added = 99;
    ck_assert_int_eq(sbt_tokenizer_add_special_tokens(tok, add, 4, &n_added), SBT_OK);
    ck_assert_uint_eq(n_added, 2);
    ck_assert_int_eq(sbt_tokenizer_token_id(tok, "<backtrack>"), T_N_VOCAB);
    ck_assert_int_eq(sbt_tokenizer_token_id(tok, "<new2>"), T_N_VOCAB + 1);
    ck_assert_int_eq(sbt_tokenizer_token_id(tok, "<s>"), T_BOS);
    ck_assert_int_eq(sbt_tokenizer_n_vocab(tok), T_N_VOCAB + 2);
    ck_assert_int_eq(sbt_tokenizer_is_special(tok, T_N_VOCAB), 1);
    EXPECT_ENC(tok, "a\n<backtrack>", 0, 'a', '\n', T_N_VOCAB);
    EXPECT_ENC(tok, "x <backtrack> y", 0, 'x', SP, T_N_VOCAB, SP, 'y'); /* no lstrip/rstrip */
    EXPECT_DEC(tok, 0, "a<backtrack>", 'a', T_N_VOCAB);
    EXPECT_DEC(tok, SBT_DECODE_SKIP_SPECIAL, "a", 'a', T_N_VOCAB);
    /* again: nothing new */
    ck_assert_int_eq(sbt_tokenizer_add_special_tokens(tok, add, 1, &n_added), SBT_OK);
    ck_assert_uint_eq(n_added, 0);
    /* a vocabulary token keeps its id and becomes special (as HF does) */
    const char *xyz[] = {"xyz"};
    ck_assert_int_eq(sbt_tokenizer_add_special_tokens(tok, xyz, 1, &n_added), SBT_OK);
    ck_assert_uint_eq(n_added, 0);
    ck_assert_int_eq(sbt_tokenizer_is_special(tok, T_XYZ), 1);
    EXPECT_ENC(tok, "axyzb", 0, 'a', T_XYZ, 'b');
    EXPECT_DEC(tok, SBT_DECODE_SKIP_SPECIAL, "ab", 'a', T_XYZ, 'b');
    ck_assert_int_eq(sbt_tokenizer_n_vocab(tok), T_N_VOCAB + 2);
    sbt_tokenizer_free(tok);
}
END_TEST

static const char *const SAMPLES[] = {
    "hello world", "a <mask> b", "[R]  x", "a sw b", "concatenate the cat", "<s>hello</s>",
    "x <backtrack> y", "\xC3\xA9!", "It's 12:30\r\nok", "aaaaa bcd 1234567", "axyzb",
    "###Question: numbers [2, 39, 45, 10]->target 62\n###Response:\n45-39=6\n39+6=45\n<backtrack>",
    "a\xFF" "b \xE2\x82", "  \t\n\n  x  ", "日本語 \xF0\x9F\x98\x80"};

static void expect_same_encodings(const sbt_tokenizer *a, const sbt_tokenizer *b)
{
    ck_assert_int_eq(sbt_tokenizer_n_vocab(a), sbt_tokenizer_n_vocab(b));
    ck_assert_int_eq(sbt_tokenizer_bos(a), sbt_tokenizer_bos(b));
    ck_assert_int_eq(sbt_tokenizer_eos(a), sbt_tokenizer_eos(b));
    ck_assert_int_eq(sbt_tokenizer_pad(a), sbt_tokenizer_pad(b));
    for (int32_t id = 0; id < sbt_tokenizer_n_vocab(a); id++) {
        const char *x = sbt_tokenizer_token_text(a, id), *y = sbt_tokenizer_token_text(b, id);
        ck_assert_int_eq(x == NULL, y == NULL);
        if (x)
            ck_assert_str_eq(x, y);
        ck_assert_int_eq(sbt_tokenizer_is_special(a, id), sbt_tokenizer_is_special(b, id));
    }
    for (size_t k = 0; k < N_OF(SAMPLES); k++) {
        for (unsigned fl = 0; fl <= SBT_ENCODE_ADD_SPECIAL; fl++) {
            sbt_token x[256], y[256];
            size_t nx = 0, ny = 0;
            ck_assert_int_eq(sbt_tokenizer_encode(a, SAMPLES[k], strlen(SAMPLES[k]), fl, x, 256,
                                                  &nx),
                             SBT_OK);
            ck_assert_int_eq(sbt_tokenizer_encode(b, SAMPLES[k], strlen(SAMPLES[k]), fl, y, 256,
                                                  &ny),
                             SBT_OK);
            ck_assert_uint_eq(nx, ny);
            ck_assert_int_eq(memcmp(x, y, nx * sizeof *x), 0);
        }
    }
}

START_TEST(save_then_load_encodes_the_same)
{
    sbt_tokenizer *tok = load_tiny();
    const char *add[] = {"<backtrack>"};
    ck_assert_int_eq(sbt_tokenizer_add_special_tokens(tok, add, 1, NULL), SBT_OK);
    char *dir = make_tmp_dir("tok");
    ck_assert_msg(sbt_tokenizer_save(tok, dir) == SBT_OK, "save: %s", sbt_last_error());
    sbt_tokenizer *back = NULL;
    ck_assert_msg(sbt_tokenizer_load(&back, dir) == SBT_OK, "load: %s", sbt_last_error());
    expect_same_encodings(tok, back);
    /* and once more, from what was saved */
    ck_assert_int_eq(sbt_tokenizer_save(back, dir), SBT_OK);
    sbt_tokenizer *again = NULL;
    ck_assert_int_eq(sbt_tokenizer_load(&again, dir), SBT_OK);
    expect_same_encodings(tok, again);

    /* the files: merges as pairs, the class, the added token and the huge integer intact */
    char p[600];
    snprintf(p, sizeof p, "%s/tokenizer.json", dir);
    char *json = slurp(p, NULL);
    ck_assert_ptr_nonnull(strstr(json, "[\"h\", \"e\"]"));
    ck_assert_ptr_nonnull(strstr(json, "\"content\": \"<backtrack>\""));
    free(json);
    snprintf(p, sizeof p, "%s/tokenizer_config.json", dir);
    char *cfg = slurp(p, NULL);
    ck_assert_ptr_nonnull(strstr(cfg, "\"tokenizer_class\": \"PreTrainedTokenizerFast\""));
    ck_assert_ptr_nonnull(strstr(cfg, "\"model_max_length\": 1000000000000000019884624838656"));
    ck_assert_ptr_nonnull(strstr(cfg, "\"<backtrack>\""));
    ck_assert_ptr_nonnull(strstr(cfg, "\"bos_token\": \"<s>\""));
    free(cfg);
    /* no temporary files left */
    char cmd[700];
    snprintf(cmd, sizeof cmd, "ls %s | grep -c tmp > /dev/null", dir);
    ck_assert_int_ne(system(cmd), 0);

    sbt_tokenizer_free(again);
    sbt_tokenizer_free(back);
    sbt_tokenizer_free(tok);
    remove_tree(dir);
}
END_TEST

/* ==== threads =============================================================================== */

typedef struct thread_job {
    const sbt_tokenizer *tok;
    int ok;
} thread_job;

static const char *thread_text(int k, char *buf, size_t cap)
{
    snprintf(buf, cap, "###Question: numbers [%d, %d, %d, %d]->target %d\n###Response:\n"
                       "hello world the cat sat on xyz %d aaaa%c bcd\n<backtrack>",
             k % 100, (k * 7) % 100, (k * 13) % 100, k % 17, k % 91, k, 'a' + k % 26);
    return buf;
}

static void *thread_main(void *arg)
{
    thread_job *j = arg;
    j->ok = 1;
    for (int round = 0; round < 200; round++) {
        for (int k = 0; k < 50; k++) {
            char text[256];
            thread_text(k, text, sizeof text);
            sbt_token ids[256];
            size_t n = 0;
            if (sbt_tokenizer_encode(j->tok, text, strlen(text), 1, ids, 256, &n) != SBT_OK)
                j->ok = 0;
            char back[512];
            size_t len = 0;
            if (sbt_tokenizer_decode(j->tok, ids, n, 0, back, sizeof back, &len) != SBT_OK ||
                len < 17 || strcmp(back + 17, text) != 0) /* after <|begin_of_text|> */
                j->ok = 0;
        }
    }
    return NULL;
}

START_TEST(concurrent_encode_on_one_tokenizer)
{
    sbt_tokenizer *tok = NULL;
    ck_assert_int_eq(sbt_tokenizer_create_countdown(&tok), SBT_OK);
    pthread_t th[4];
    thread_job jobs[4];
    for (int t = 0; t < 4; t++) {
        jobs[t].tok = tok;
        ck_assert_int_eq(pthread_create(&th[t], NULL, thread_main, &jobs[t]), 0);
    }
    for (int t = 0; t < 4; t++) {
        pthread_join(th[t], NULL);
        ck_assert_int_eq(jobs[t].ok, 1);
    }
    sbt_tokenizer_free(tok);
}
END_TEST

/* ==== the compact Countdown tokenizer ========================================================== */

static const char SPEC_PROMPT[] = "###Question: numbers [2, 39, 45, 10]->target 62\n###Response:\n";
static const char SPEC_SOLUTION[] = "45-39=6\n10*6=60\n2+60=62\nGoal Reached!";

START_TEST(countdown_spec_example_tokens)
{
    sbt_tokenizer *tok = NULL;
    ck_assert_int_eq(sbt_tokenizer_create_countdown(&tok), SBT_OK);
    char text[256];
    snprintf(text, sizeof text, "%s%s<|end_of_text|>", SPEC_PROMPT, SPEC_SOLUTION);
    sbt_token ids[128];
    size_t n = 0;
    ck_assert_int_eq(sbt_tokenizer_encode(tok, text, strlen(text), SBT_ENCODE_ADD_SPECIAL, ids,
                                          128, &n),
                     SBT_OK);
    static const char *const want[] = {
        "<|begin_of_text|>", "###", "Question", ":", "Ġnumbers", "Ġ[", "2", ",", "Ġ", "39", ",",
        "Ġ", "45", ",", "Ġ", "10", "]->", "target", "Ġ", "62", "Ċ", "###", "Response", ":Ċ",
        "45", "-", "39", "=", "6", "Ċ", "10", "*", "6", "=", "60", "Ċ", "2", "+", "60", "=",
        "62", "Ċ", "Goal", "ĠReached", "!", "<|end_of_text|>"};
    ck_assert_uint_eq(n, N_OF(want)); /* 46, as many as Llama-3 gives */
    for (size_t i = 0; i < n; i++)
        ck_assert_str_eq(sbt_tokenizer_token_text(tok, ids[i]), want[i]);
    ck_assert_int_eq(ids[0], sbt_tokenizer_bos(tok));
    ck_assert_int_eq(ids[n - 1], sbt_tokenizer_eos(tok));
    ck_assert_uint_eq(count_ids(tok, SPEC_PROMPT, SBT_ENCODE_ADD_SPECIAL), 24);

    char back[256];
    size_t len = 0;
    ck_assert_int_eq(sbt_tokenizer_decode(tok, ids, n, 0, back, sizeof back, &len), SBT_OK);
    ck_assert_str_eq(back + strlen("<|begin_of_text|>"), text);
    ck_assert_int_eq(sbt_tokenizer_decode(tok, ids, n, SBT_DECODE_SKIP_SPECIAL, back, sizeof back,
                                          &len),
                     SBT_OK);
    snprintf(text, sizeof text, "%s%s", SPEC_PROMPT, SPEC_SOLUTION);
    ck_assert_str_eq(back, text);

    /* the backtracking example: <backtrack> is one token on its own line */
    const char *back_ex = "45-39=6\n39+6=45\n<backtrack>";
    sbt_token b[32];
    ck_assert_int_eq(sbt_tokenizer_encode(tok, back_ex, strlen(back_ex), 0, b, 32, &n), SBT_OK);
    ck_assert_uint_eq(n, 13);
    ck_assert_int_eq(b[11], sbt_tokenizer_token_id(tok, "Ċ"));
    ck_assert_int_eq(b[12], sbt_tokenizer_token_id(tok, "<backtrack>"));
    ck_assert_int_eq(sbt_tokenizer_is_special(tok, b[12]), 1);
    sbt_tokenizer_free(tok);
}
END_TEST

START_TEST(countdown_vocabulary)
{
    sbt_tokenizer *tok = NULL;
    ck_assert_int_eq(sbt_tokenizer_create_countdown(&tok), SBT_OK);
    int32_t nv = sbt_tokenizer_n_vocab(tok);
    ck_assert_int_eq(sbt_tokenizer_bos(tok), nv - 3);
    ck_assert_int_eq(sbt_tokenizer_eos(tok), nv - 2);
    ck_assert_int_eq(sbt_tokenizer_pad(tok), nv - 2); /* pad = EOS */
    ck_assert_int_eq(sbt_tokenizer_token_id(tok, "<backtrack>"), nv - 1);
    ck_assert_str_eq(sbt_tokenizer_token_text(tok, nv - 3), "<|begin_of_text|>");
    ck_assert_int_lt(nv, 1400);
    /* ids 0..255 are the bytes */
    for (int b = 0; b < 0x80; b++) { /* (a lone byte >= 0x80 is not valid UTF-8 text) */
        char c = (char)b;
        sbt_token want = b;
        expect_enc_len(tok, &c, 1, 0, &want, 1);
    }
    /* every integer 0..999 is one token, and so is each unit of the format */
    for (int v = 0; v < 1000; v++) {
        char s[16];
        snprintf(s, sizeof s, "%d", v);
        ck_assert_msg(count_ids(tok, s, 0) == 1, "%s is not one token", s);
    }
    static const char *const units[] = {"###", "Question", ":", " numbers", " [", ",", " ",
                                        "]->", "target", "\n", "Response", ":\n", "Goal",
                                        " Reached", "!", "+", "-", "*", "/", "="};
    for (size_t k = 0; k < N_OF(units); k++)
        ck_assert_msg(count_ids(tok, units[k], 0) == 1, "\"%s\" is not one token", units[k]);
    /* other text still round-trips, byte by byte where it must */
    const char *other = "Goals reached? 1000 numbers, 7.5 \xC3\xA9\xE6\x97\xA5 <|eot_id|>";
    sbt_token ids[128];
    size_t n = 0;
    ck_assert_int_eq(sbt_tokenizer_encode(tok, other, strlen(other), 0, ids, 128, &n), SBT_OK);
    char back[256];
    size_t len = 0;
    ck_assert_int_eq(sbt_tokenizer_decode(tok, ids, n, 0, back, sizeof back, &len), SBT_OK);
    ck_assert_str_eq(back, other);
    sbt_tokenizer_free(tok);
}
END_TEST

/* The padding token: set, cleared, refused outside the vocabulary, saved and read back. */
START_TEST(set_pad_saves_and_reloads)
{
    sbt_tokenizer *tok = NULL;
    ck_assert_int_eq(sbt_tokenizer_create_countdown(&tok), SBT_OK);
    sbt_token eos = sbt_tokenizer_eos(tok);
    ck_assert_int_eq(sbt_tokenizer_set_pad(tok, -1), SBT_OK);
    ck_assert_int_eq(sbt_tokenizer_pad(tok), -1);
    ck_assert_int_eq(sbt_tokenizer_set_pad(tok, sbt_tokenizer_n_vocab(tok)), SBT_E_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(sbt_last_error(), "outside the vocabulary"));
    ck_assert_int_eq(sbt_tokenizer_set_pad(tok, eos), SBT_OK);
    char *dir = make_tmp_dir("tok");
    ck_assert_int_eq(sbt_tokenizer_save(tok, dir), SBT_OK);
    sbt_tokenizer *back = NULL;
    ck_assert_msg(sbt_tokenizer_load(&back, dir) == SBT_OK, "load: %s", sbt_last_error());
    ck_assert_int_eq(sbt_tokenizer_pad(back), eos);
    sbt_tokenizer_free(back);
    sbt_tokenizer_free(tok);
    free(dir);
}
END_TEST

START_TEST(countdown_save_and_reload)
{
    sbt_tokenizer *tok = NULL;
    ck_assert_int_eq(sbt_tokenizer_create_countdown(&tok), SBT_OK);
    char *dir = make_tmp_dir("tok");
    ck_assert_msg(sbt_tokenizer_save(tok, dir) == SBT_OK, "save: %s", sbt_last_error());
    sbt_tokenizer *back = NULL;
    ck_assert_msg(sbt_tokenizer_load(&back, dir) == SBT_OK, "load: %s", sbt_last_error());
    expect_same_encodings(tok, back);

    /* With node and Hugging Face's `tokenizers` package (SBT_HF_TOKENIZERS_JS = the package's
     * folder), HF loads the saved file and gives the same ids for SPEC's example. */
    const char *pkg = getenv("SBT_HF_TOKENIZERS_JS");
    if (!pkg || !*pkg || system("node --version > /dev/null 2>&1") != 0) {
        fprintf(stderr, "countdown_save_and_reload: Hugging Face check skipped (set "
                        "SBT_HF_TOKENIZERS_JS to the npm `tokenizers` folder and have node)\n");
    } else {
        char text[256];
        snprintf(text, sizeof text, "%s%s<|end_of_text|>", SPEC_PROMPT, SPEC_SOLUTION);
        sbt_token ids[128];
        size_t n = 0;
        ck_assert_int_eq(sbt_tokenizer_encode(tok, text, strlen(text), SBT_ENCODE_ADD_SPECIAL,
                                              ids, 128, &n),
                         SBT_OK);
        char want[1024] = "";
        for (size_t i = 0; i < n; i++)
            snprintf(want + strlen(want), sizeof want - strlen(want), "%s%d", i ? "," : "",
                     ids[i]);
        char cmd[4096];
        snprintf(cmd, sizeof cmd,
                 "node -e 'const {Tokenizer}=require(process.argv[1]);"
                 "(async()=>{const t=Tokenizer.fromFile(process.argv[2]+\"/tokenizer.json\");"
                 "const e=await t.encode(%s,null,{addSpecialTokens:true});"
                 "process.exit(e.getIds().join(\",\")===process.argv[3]?0:1)})()' '%s' '%s' '%s'",
                 "\"###Question: numbers [2, 39, 45, 10]->target 62\\n###Response:\\n45-39=6\\n"
                 "10*6=60\\n2+60=62\\nGoal Reached!<|end_of_text|>\"",
                 pkg, dir, want);
        ck_assert_msg(system(cmd) == 0, "Hugging Face encodes the saved tokenizer differently");
    }
    sbt_tokenizer_free(back);
    sbt_tokenizer_free(tok);
    remove_tree(dir);
}
END_TEST

/* ==== suite =================================================================================== */

static Suite *suite(void)
{
    Suite *s = suite_create("tokenizer");
    TCase *tc = tcase_create("load");
    tcase_add_test(tc, tiny_loads_with_its_config);
    tcase_add_test(tc, load_from_folder_and_file);
    suite_add_tcase(s, tc);

    tc = tcase_create("bpe");
    tcase_add_test(tc, bpe_merges_by_rank);
    tcase_add_test(tc, empty_text);
    tcase_add_test(tc, ignore_merges);
    tcase_add_test(tc, long_piece_uses_the_heap_path);
    suite_add_tcase(s, tc);

    tc = tcase_create("added");
    tcase_add_test(tc, added_tokens_lstrip_rstrip);
    tcase_add_test(tc, added_tokens_single_word);
    tcase_add_test(tc, added_tokens_normalized_and_in_vocab);
    tcase_add_test(tc, template_adds_bos);
    tcase_add_test(tc, invalid_utf8_is_replaced);
    suite_add_tcase(s, tc);

    tc = tcase_create("decode");
    tcase_add_test(tc, decode_with_and_without_specials);
    tcase_add_test(tc, decode_without_a_decoder_joins_with_spaces);
    tcase_add_test(tc, buffers_too_small_give_the_size);
    suite_add_tcase(s, tc);

    tc = tcase_create("special_and_save");
    tcase_add_test(tc, add_special_tokens_ids);
    tcase_add_test(tc, save_then_load_encodes_the_same);
    suite_add_tcase(s, tc);

    tc = tcase_create("threads");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, concurrent_encode_on_one_tokenizer);
    suite_add_tcase(s, tc);

    tc = tcase_create("countdown");
    tcase_add_test(tc, countdown_spec_example_tokens);
    tcase_add_test(tc, countdown_vocabulary);
    tcase_add_test(tc, countdown_save_and_reload);
    tcase_add_test(tc, set_pad_saves_and_reloads);
    suite_add_tcase(s, tc);
    return s;
}

SBT_CHECK_MAIN(suite)
