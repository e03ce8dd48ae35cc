/* test_tokenizer_errors.c — bad tokenizer.json / tokenizer_config.json and bad calls: each gives
 * a clear status and a message naming the file, the line or the field, leaves *out NULL, and
 * never crashes or leaks (the suite runs under ASan in CI). Inputs are mutations of
 * tests/golden/tiny_tokenizer.json: truncated, malformed, mistyped, inconsistent, unsupported,
 * and randomly damaged. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* mkdtemp */
#endif
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "selfbt/tokenizer.h"

#include "check_main.h"
#include "tokenizer_fixture.h"

/* Loads json (and config); checks the status, that *out stayed NULL and that the message
 * contains each of the given fragments. */
static void expect_fail_cfg(const char *json, size_t len, const char *config, sbt_status want,
                            const char *frag1, const char *frag2)
{
    sbt_tokenizer *tok = (sbt_tokenizer *)(uintptr_t)1;
    sbt_status st =
        sbt_tokenizer_load_json(&tok, json, len, config, config ? strlen(config) : 0);
    const char *msg = sbt_last_error();
    ck_assert_msg(st == want, "status %d (%s), want %d; message: %s", st, sbt_status_str(st), want,
                  msg);
    ck_assert_ptr_null(tok);
    if (frag1)
        ck_assert_msg(strstr(msg, frag1) != NULL, "message \"%s\" lacks \"%s\"", msg, frag1);
    if (frag2)
        ck_assert_msg(strstr(msg, frag2) != NULL, "message \"%s\" lacks \"%s\"", msg, frag2);
}

static void expect_fail(const char *json, sbt_status want, const char *frag1, const char *frag2)
{
    expect_fail_cfg(json, strlen(json), NULL, want, frag1, frag2);
}

/* One mutation of the fixture and what it must give. */
typedef struct mutation {
    const char *from, *to;
    sbt_status status;
    const char *frag1, *frag2;
} mutation;

static void run_mutations(const mutation *m, size_t n)
{
    char *json = slurp(FIXTURE, NULL);
    for (size_t i = 0; i < n; i++) {
        char *bad = replace(json, m[i].from, m[i].to);
        expect_fail(bad, m[i].status, m[i].frag1, m[i].frag2);
        free(bad);
    }
    free(json);
}

/* ==== JSON syntax ========================================================================== */

START_TEST(fixture_itself_loads)
{
    size_t len;
    char *json = slurp(FIXTURE, &len);
    sbt_tokenizer *tok = NULL;
    ck_assert_int_eq(sbt_tokenizer_load_json(&tok, json, len, NULL, 0), SBT_OK);
    sbt_tokenizer_free(tok);
    free(json);
}
END_TEST

START_TEST(truncated_json_fails_everywhere)
{
    size_t len;
    char *json = slurp(FIXTURE, &len);
    const char *last = strrchr(json, '}');
    size_t end = (size_t)(last - json); /* every prefix shorter than this is incomplete */
    for (size_t cut = 0; cut <= end; cut += (cut < 200 ? 1 : 7)) {
        sbt_tokenizer *tok = NULL;
        sbt_status st = sbt_tokenizer_load_json(&tok, json, cut, NULL, 0);
        ck_assert_msg(st == SBT_E_PARSE, "cut at %zu: status %d", cut, st);
        ck_assert_ptr_null(tok);
        ck_assert_ptr_nonnull(strstr(sbt_last_error(), "tokenizer.json"));
    }
    free(json);
}
END_TEST

START_TEST(malformed_json_names_line_and_column)
{
    char *json = slurp(FIXTURE, NULL);
    char *bad = replace(json, "\"xyz\": 276", "\"xyz\" 276"); /* line 448 */
    expect_fail(bad, SBT_E_PARSE, "tokenizer.json:448:", NULL);
    free(bad);
    bad = replace(json, "\"xyz\": 276", "\"xyz\": 276, \"xyz\": 277"); /* a repeated key */
    expect_fail(bad, SBT_E_PARSE, "tokenizer.json:448:", "duplicate");
    free(bad);
    expect_fail("", SBT_E_PARSE, "tokenizer.json", NULL);
    expect_fail("[1, 2]", SBT_E_PARSE, "top level", NULL);
    expect_fail("{\"version\": \"1.0\"}", SBT_E_PARSE, "model", NULL);
    /* deep nesting */
    char deep[8192];
    size_t k = 0;
    k += (size_t)snprintf(deep, sizeof deep, "{\"model\": ");
    for (int i = 0; i < 3000; i++)
        deep[k++] = '[';
    deep[k] = '\0';
    expect_fail(deep, SBT_E_PARSE, "tokenizer.json:1:", NULL);
    free(json);
}
END_TEST

/* ==== model ================================================================================ */

static const mutation model_mutations[] = {
    {"\"vocab\": {", "\"vocab\": [], \"old_vocab\": {", SBT_E_PARSE, "model.vocab must be an object", NULL},
    {"\"xyz\": 276", "\"xyz\": \"276\"", SBT_E_PARSE, "model.vocab[\"xyz\"]", "integer"},
    {"\"xyz\": 276", "\"xyz\": 276.0", SBT_E_PARSE, "model.vocab[\"xyz\"]", "integer"},
    {"\"xyz\": 276", "\"xyz\": -5", SBT_E_PARSE, "model.vocab[\"xyz\"]", "out of range"},
    {"\"xyz\": 276", "\"xyz\": 9999999999", SBT_E_UNSUPPORTED, "model.vocab[\"xyz\"]", "out of range"},
    {"\"xyz\": 276", "\"xyz\": 16000000", SBT_E_UNSUPPORTED, "model.vocab", "too sparse"},
    {"\"xyz\": 276", "\"xyz\": 275", SBT_E_PARSE, "id 275 is given to both", "xyz"},
    {"\"merges\": [", "\"merges\": \"h e\", \"old_merges\": [", SBT_E_PARSE, "model.merges must be an array", NULL},
    {"\"merges\": [", "\"old_merges\": [", SBT_E_PARSE, "no \"merges\"", NULL},
    {"\"vocab\": {", "\"old_vocab\": {", SBT_E_PARSE, "no \"vocab\"", NULL},
    {"\"h e\"", "\"h Q9\"", SBT_E_PARSE, "model.merges[0]", "\"Q9\", which is not in model.vocab"},
    {"\"e r\"", "\"r e\"", SBT_E_PARSE, "model.merges[18]", "makes \"re\""},
    {"\"h e\"", "\"h e x\"", SBT_E_PARSE, "model.merges[0]", "two tokens"},
    {"\"h e\"", "\"he\"", SBT_E_PARSE, "model.merges[0]", "two tokens"},
    {"\"h e\"", "5", SBT_E_PARSE, "model.merges[0]", "not an integer"},
    {"\"l l\"", "[\"l\", \"l\"]", SBT_E_PARSE, "model.merges[1]", "one form"},
    {"\"type\": \"BPE\"", "\"type\": \"WordPiece\"", SBT_E_UNSUPPORTED, "model.type \"WordPiece\"", NULL},
    {"\"type\": \"BPE\"", "\"type\": 3", SBT_E_PARSE, "model.type", NULL},
    {"\"dropout\": null", "\"dropout\": 0.1", SBT_E_UNSUPPORTED, "model.dropout", NULL},
    {"\"byte_fallback\": false", "\"byte_fallback\": true", SBT_E_UNSUPPORTED, "model.byte_fallback", NULL},
    {"\"byte_fallback\": false", "\"byte_fallback\": 1", SBT_E_PARSE, "model.byte_fallback", "true or false"},
    {"\"continuing_subword_prefix\": null", "\"continuing_subword_prefix\": \"##\"", SBT_E_UNSUPPORTED, "continuing_subword_prefix", NULL},
    {"\"unk_token\": null", "\"unk_token\": 5", SBT_E_PARSE, "model.unk_token", NULL},
    {"\"model\": {", "\"old_model\": {", SBT_E_PARSE, "no \"model\"", NULL},
    {"\"version\": \"1.0\"", "\"version\": \"2.0\"", SBT_E_UNSUPPORTED, "version 2.0", NULL},
};

START_TEST(model_errors)
{
    run_mutations(model_mutations, N_OF(model_mutations));
}
END_TEST

/* ==== added tokens ========================================================================== */

static const mutation added_mutations[] = {
    {"\"added_tokens\": [", "\"added_tokens\": {}, \"old\": [", SBT_E_PARSE, "added_tokens must be an array", NULL},
    {"\"id\": 277", "\"id\": 5", SBT_E_PARSE, "added_tokens[0]", "id 5 is already model.vocab's"},
    {"\"id\": 278", "\"id\": 277", SBT_E_PARSE, "added_tokens[1]", "id 277 is already the added token \"<s>\""},
    {"\"id\": 277", "\"id\": 300", SBT_E_PARSE, "added_tokens[0]", "gives it id 277"},
    {"\"id\": 277", "\"id\": \"277\"", SBT_E_PARSE, "added_tokens[0].id", "integer"},
    {"\"id\": 277", "\"id\": -1", SBT_E_PARSE, "added_tokens[0].id", "out of range"},
    {"\"content\": \"<s>\"", "\"content\": 7", SBT_E_PARSE, "added_tokens[0].content", "string"},
    {"\"content\": \"<s>\"", "\"text\": \"<s>\"", SBT_E_PARSE, "added_tokens[0].content", "missing"},
    {"\"content\": \"<s>\"", "\"content\": \"\"", SBT_E_PARSE, "added_tokens[0]", "empty"},
    {"\"content\": \"</s>\"", "\"content\": \"<s>\"", SBT_E_PARSE, "added_tokens[1]", "repeats"},
    {"\"lstrip\": false", "\"lstrip\": \"no\"", SBT_E_PARSE, "added_tokens[0].lstrip", "true or false"},
    {"\"added_tokens\": [", "\"added_tokens\": [7, ", SBT_E_PARSE, "added_tokens[0] must be an object", NULL},
};

START_TEST(added_token_errors)
{
    run_mutations(added_mutations, N_OF(added_mutations));
}
END_TEST

/* ==== pipeline parts ========================================================================= */

static const mutation pipeline_mutations[] = {
    {"\"normalizer\": null", "\"normalizer\": {\"type\": \"NFC\"}", SBT_E_UNSUPPORTED, "normalizer", "\"NFC\""},
    {"\"normalizer\": null", "\"normalizer\": 5", SBT_E_PARSE, "normalizer", NULL},
    {"\"Regex\": \"(?i:", "\"Regex\": \"(?x:", SBT_E_UNSUPPORTED, "pre_tokenizer", "\"(?x:'s|'t|'re|'ve|'m|'ll|'d)|[^"},
    {"\"pre_tokenizer\": {", "\"pre_tokenizer\": {\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"use_regex\": true}, \"old\": {", SBT_E_UNSUPPORTED, "pre_tokenizer ByteLevel", NULL},
    {"\"pre_tokenizer\": {", "\"pre_tokenizer\": null, \"old\": {", SBT_E_UNSUPPORTED, "pre_tokenizer is null", NULL},
    {"\"pre_tokenizer\": {", "\"pre_tokenizer\": {\"type\": \"Whitespace\"}, \"old\": {", SBT_E_UNSUPPORTED, "\"Whitespace\"", NULL},
    {"\"behavior\": \"Isolated\"", "\"behavior\": \"Removed\"", SBT_E_UNSUPPORTED, "behavior Removed", NULL},
    {"\"invert\": false", "\"invert\": true", SBT_E_UNSUPPORTED, "invert", NULL},
    {"\"use_regex\": false", "\"use_regex\": true", SBT_E_UNSUPPORTED, "use_regex", NULL},
    {"\"add_prefix_space\": false", "\"add_prefix_space\": true", SBT_E_UNSUPPORTED, "add_prefix_space", NULL},
    {"\"decoder\": {", "\"decoder\": {\"type\": \"WordPiece\"}, \"old\": {", SBT_E_UNSUPPORTED, "decoder of type \"WordPiece\"", NULL},
    {"\"post_processor\": {", "\"post_processor\": {\"type\": \"BertProcessing\"}, \"old\": {", SBT_E_UNSUPPORTED, "post_processor of type \"BertProcessing\"", NULL},
    {"\"ids\": [\n     277", "\"ids\": [\n     9999", SBT_E_PARSE, "post_processor.special_tokens[\"<s>\"]", NULL},
    {"\"special_tokens\": {\n   \"<s>\"", "\"special_tokens\": {\n   \"<t>\"", SBT_E_PARSE, "\"<s>\" is not in special_tokens", NULL},
};

START_TEST(pipeline_errors)
{
    run_mutations(pipeline_mutations, N_OF(pipeline_mutations));
}
END_TEST

/* ==== tokenizer_config.json ================================================================== */

START_TEST(config_errors)
{
    size_t len;
    char *json = slurp(FIXTURE, &len);
    expect_fail_cfg(json, len, "{\"bos_token\": \"<s>\",\n \"eos_token\" }", SBT_E_PARSE,
                    "tokenizer_config.json:2:", NULL);
    expect_fail_cfg(json, len, "{\"bos_token\": 5}", SBT_E_PARSE, "tokenizer_config.json",
                    "bos_token");
    expect_fail_cfg(json, len, "{\"pad_token\": {\"text\": \"<s>\"}}", SBT_E_PARSE, "pad_token",
                    NULL);
    expect_fail_cfg(json, len, "[]", SBT_E_PARSE, "tokenizer_config.json", "top level");
    /* a token the tokenizer does not have: loads, with the id unset */
    sbt_tokenizer *tok = NULL;
    const char *cfg = "{\"bos_token\": \"<nope>\", \"eos_token\": \"</s>\"}";
    ck_assert_int_eq(sbt_tokenizer_load_json(&tok, json, len, cfg, strlen(cfg)), SBT_OK);
    ck_assert_int_eq(sbt_tokenizer_bos(tok), -1);
    ck_assert_int_eq(sbt_tokenizer_eos(tok), 278);
    sbt_tokenizer_free(tok);
    free(json);
}
END_TEST

/* ==== files ================================================================================== */

START_TEST(missing_files)
{
    sbt_tokenizer *tok = (sbt_tokenizer *)(uintptr_t)1;
    ck_assert_int_eq(sbt_tokenizer_load(&tok, "/nonexistent/dir/tokenizer.json"),
                     SBT_E_NOT_FOUND);
    ck_assert_ptr_null(tok);
    ck_assert_ptr_nonnull(strstr(sbt_last_error(), "/nonexistent/dir/tokenizer.json"));

    char *dir = make_tmp_dir("tokerr");
    ck_assert_int_eq(sbt_tokenizer_load(&tok, dir), SBT_E_NOT_FOUND); /* no tokenizer.json */
    ck_assert_ptr_nonnull(strstr(sbt_last_error(), "tokenizer.json"));

    /* a malformed file on disk: the message names its path and line */
    char p[600];
    snprintf(p, sizeof p, "%s/tokenizer.json", dir);
    FILE *f = fopen(p, "wb");
    fputs("{\n  \"model\": {\n    \"vocab\": {\"a\": 0,}\n  }\n}\n", f);
    fclose(f);
    ck_assert_int_eq(sbt_tokenizer_load(&tok, dir), SBT_E_PARSE);
    ck_assert_ptr_nonnull(strstr(sbt_last_error(), p));
    ck_assert_ptr_nonnull(strstr(sbt_last_error(), ":3:"));
    remove(p);

    /* save into a folder that does not exist, or onto a file */
    ck_assert_int_eq(sbt_tokenizer_create_countdown(&tok), SBT_OK);
    char missing[600];
    snprintf(missing, sizeof missing, "%s/no/such", dir);
    ck_assert_int_eq(sbt_tokenizer_save(tok, missing), SBT_E_IO);
    ck_assert_ptr_nonnull(strstr(sbt_last_error(), missing));
    f = fopen(p, "wb");
    fclose(f);
    ck_assert_int_eq(sbt_tokenizer_save(tok, p), SBT_E_IO);
    remove(p);
    sbt_tokenizer_free(tok);
    rmdir(dir);
    free(dir);
}
END_TEST

/* ==== bad calls ============================================================================== */

START_TEST(bad_arguments)
{
    sbt_tokenizer *tok = NULL;
    ck_assert_int_eq(sbt_tokenizer_load(NULL, FIXTURE), SBT_E_INVALID_ARGUMENT);
    ck_assert_int_eq(sbt_tokenizer_load(&tok, NULL), SBT_E_INVALID_ARGUMENT);
    ck_assert_int_eq(sbt_tokenizer_load(&tok, ""), SBT_E_INVALID_ARGUMENT);
    ck_assert_int_eq(sbt_tokenizer_load_json(&tok, NULL, 5, NULL, 0), SBT_E_INVALID_ARGUMENT);
    ck_assert_int_eq(sbt_tokenizer_create_countdown(NULL), SBT_E_INVALID_ARGUMENT);
    ck_assert_int_eq(sbt_tokenizer_save(NULL, "/tmp"), SBT_E_INVALID_ARGUMENT);

    ck_assert_int_eq(sbt_tokenizer_create_countdown(&tok), SBT_OK);
    sbt_token ids[8];
    size_t n;
    ck_assert_int_eq(sbt_tokenizer_encode(NULL, "a", 1, 0, ids, 8, &n), SBT_E_INVALID_ARGUMENT);
    ck_assert_int_eq(sbt_tokenizer_encode(tok, "a", 1, 0, ids, 8, NULL), SBT_E_INVALID_ARGUMENT);
    ck_assert_int_eq(sbt_tokenizer_encode(tok, NULL, 1, 0, ids, 8, &n), SBT_E_INVALID_ARGUMENT);
    ck_assert_int_eq(sbt_tokenizer_encode(tok, "a", 1, 0, NULL, 8, &n), SBT_E_INVALID_ARGUMENT);
    ck_assert_int_eq(sbt_tokenizer_encode(tok, "a", 1, 0x10, ids, 8, &n), SBT_E_INVALID_ARGUMENT);

    char buf[64];
    size_t len;
    const sbt_token bad1[] = {5, -1}, bad2[] = {sbt_tokenizer_n_vocab(tok)};
    ck_assert_int_eq(sbt_tokenizer_decode(tok, bad1, 2, 0, buf, sizeof buf, &len),
                     SBT_E_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(sbt_last_error(), "ids[1] = -1"));
    ck_assert_int_eq(sbt_tokenizer_decode(tok, bad2, 1, 0, buf, sizeof buf, &len),
                     SBT_E_INVALID_ARGUMENT);
    ck_assert_int_eq(sbt_tokenizer_decode(NULL, bad1, 1, 0, buf, sizeof buf, &len),
                     SBT_E_INVALID_ARGUMENT);
    ck_assert_int_eq(sbt_tokenizer_decode(tok, NULL, 1, 0, buf, sizeof buf, &len),
                     SBT_E_INVALID_ARGUMENT);
    ck_assert_int_eq(sbt_tokenizer_decode(tok, bad1, 1, 0, buf, sizeof buf, NULL),
                     SBT_E_INVALID_ARGUMENT);
    ck_assert_int_eq(sbt_tokenizer_decode(tok, bad1, 1, 0x8, buf, sizeof buf, &len),
                     SBT_E_INVALID_ARGUMENT);

    const char *empty[] = {"<ok>", ""}, *null[] = {NULL};
    size_t added = 9;
    int32_t nv = sbt_tokenizer_n_vocab(tok);
    ck_assert_int_eq(sbt_tokenizer_add_special_tokens(tok, empty, 2, &added),
                     SBT_E_INVALID_ARGUMENT);
    ck_assert_uint_eq(added, 0);
    ck_assert_int_eq(sbt_tokenizer_n_vocab(tok), nv); /* nothing added */
    ck_assert_int_eq(sbt_tokenizer_add_special_tokens(tok, null, 1, NULL), SBT_E_INVALID_ARGUMENT);
    ck_assert_int_eq(sbt_tokenizer_add_special_tokens(NULL, empty, 1, NULL),
                     SBT_E_INVALID_ARGUMENT);
    ck_assert_int_eq(sbt_tokenizer_add_special_tokens(tok, NULL, 0, NULL), SBT_OK);

    /* queries are NULL-safe */
    ck_assert_int_eq(sbt_tokenizer_n_vocab(NULL), 0);
    ck_assert_ptr_null(sbt_tokenizer_token_text(NULL, 0));
    ck_assert_int_eq(sbt_tokenizer_token_id(NULL, "a"), -1);
    ck_assert_int_eq(sbt_tokenizer_token_id(tok, NULL), -1);
    ck_assert_int_eq(sbt_tokenizer_is_special(NULL, 0), 0);
    ck_assert_int_eq(sbt_tokenizer_bos(NULL), -1);
    ck_assert_int_eq(sbt_tokenizer_eos(NULL), -1);
    ck_assert_int_eq(sbt_tokenizer_pad(NULL), -1);
    sbt_tokenizer_free(NULL);
    sbt_tokenizer_free(tok);
}
END_TEST

/* ==== random damage ========================================================================== */

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;
static uint64_t next_rand(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

START_TEST(random_damage_never_crashes)
{
    size_t len;
    char *json = slurp(FIXTURE, &len);
    char *copy = malloc(len + 1);
    static const char alphabet[] = "{}[]\",:0123456789-.eE \\nulltruefalse\x80\xFF";
    int ok = 0, failed = 0;
    for (int round = 0; round < 3000; round++) {
        memcpy(copy, json, len + 1);
        int edits = 1 + (int)(next_rand() % 4);
        for (int e = 0; e < edits; e++) {
            size_t at = (size_t)(next_rand() % len);
            copy[at] = alphabet[next_rand() % (sizeof alphabet - 1)];
        }
        sbt_tokenizer *tok = NULL;
        sbt_status st = sbt_tokenizer_load_json(&tok, copy, len, NULL, 0);
        if (st == SBT_OK) {
            ok++;
            sbt_token ids[256];
            size_t n = 0;
            const char *text = "hello <s> world 12345 \xC3\xA9!";
            sbt_status es = sbt_tokenizer_encode(tok, text, strlen(text), 1, ids, 256, &n);
            ck_assert(es == SBT_OK || es == SBT_E_INVALID_ARGUMENT);
            char buf[1024];
            size_t dl;
            if (es == SBT_OK)
                ck_assert_int_eq(sbt_tokenizer_decode(tok, ids, n, 0, buf, sizeof buf, &dl),
                                 SBT_OK);
            sbt_tokenizer_free(tok);
        } else {
            failed++;
            ck_assert_ptr_null(tok);
            ck_assert(st == SBT_E_PARSE || st == SBT_E_UNSUPPORTED);
            ck_assert(sbt_last_error()[0] != '\0');
        }
    }
    ck_assert_int_gt(failed, 0);
    free(copy);
    free(json);
}
END_TEST

START_TEST(hostile_text_encodes)
{
    sbt_tokenizer *tok = NULL;
    ck_assert_int_eq(sbt_tokenizer_create_countdown(&tok), SBT_OK);
    size_t n = 1 << 16;
    char *s = malloc(n);
    sbt_token *ids = malloc(4 * n * sizeof *ids);
    char *back = malloc(3 * n + 1);
    for (int round = 0; round < 20; round++) {
        for (size_t i = 0; i < n; i++)
            s[i] = (char)(round < 10 ? next_rand() : (next_rand() % 2 ? '\0' : 0xC3));
        size_t cnt = 0, len = 0;
        ck_assert_int_eq(sbt_tokenizer_encode(tok, s, n, 1, ids, 4 * n, &cnt), SBT_OK);
        ck_assert_int_eq(sbt_tokenizer_decode(tok, ids, cnt, 0, back, 3 * n + 1, &len), SBT_OK);
        ck_assert_uint_le(len, 3 * n);
    }
    free(back);
    free(ids);
    free(s);
    sbt_tokenizer_free(tok);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("tokenizer_errors");
    TCase *tc = tcase_create("json");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, fixture_itself_loads);
    tcase_add_test(tc, truncated_json_fails_everywhere);
    tcase_add_test(tc, malformed_json_names_line_and_column);
    suite_add_tcase(s, tc);

    tc = tcase_create("fields");
    tcase_add_test(tc, model_errors);
    tcase_add_test(tc, added_token_errors);
    tcase_add_test(tc, pipeline_errors);
    tcase_add_test(tc, config_errors);
    suite_add_tcase(s, tc);

    tc = tcase_create("calls");
    tcase_add_test(tc, missing_files);
    tcase_add_test(tc, bad_arguments);
    suite_add_tcase(s, tc);

    tc = tcase_create("fuzz");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, random_damage_never_crashes);
    tcase_add_test(tc, hostile_text_encodes);
    suite_add_tcase(s, tc);
    return s;
}

SBT_CHECK_MAIN(suite)
