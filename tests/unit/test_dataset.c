/* test_dataset.c — sbt_dataset: JSONL and JSON-array reading, per-row validation with
 * file:line errors (fail or skip), optional search_path, slices and the seed's val split,
 * the seed's sub-sample (CPython random.sample, checked against values Python printed),
 * building in memory and writing JSONL back. */
#define _GNU_SOURCE
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "selfbt/dataset.h"
#include "selfbt/log.h"
#include "selfbt/selfbt.h"

#include "check_main.h"
#include "tokenizer_fixture.h"

static char *tmp_dir;

static void setup(void)
{
    tmp_dir = make_tmp_dir("dataset_");
}

static void teardown(void)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", tmp_dir);
    free(tmp_dir);
}

/* Writes text to tmp_dir/name and returns the path (static buffer). */
static const char *write_file(const char *name, const char *text)
{
    static char path[700];
    snprintf(path, sizeof path, "%s/%s", tmp_dir, name);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static sbt_dataset *load_ok(const char *path, const sbt_dataset_options *o)
{
    sbt_dataset *d = NULL;
    sbt_status st = sbt_dataset_load(&d, path, o);
    ck_assert_msg(st == SBT_OK, "load %s: %s", path, sbt_last_error());
    return d;
}

static sbt_dataset_row row(const sbt_dataset *d, int64_t i)
{
    sbt_dataset_row r;
    memset(&r, 0, sizeof r);
    r.size = sizeof r;
    ck_assert_int_eq(sbt_dataset_get(d, i, &r), SBT_OK);
    return r;
}

static const char *const JSONL =
    "{\"nums\": [2, 39, 45, 10], \"target\": 62, \"search_path\": "
    "\"45-39=6\\n10*6=60\\n2+60=62\\nGoal Reached!\"}\n"
    "\n"
    "{\"nums\":[2,39,45,10],\"target\":62,\"search_path\":\"45-39=6\\n39+6=45\\n<backtrack>\","
    "\"extra\":1}\r\n"
    "{\"target\":29,\"nums\":[27,15,8,8],\"search_path\":\"15-8=7\\n8*7=56\\n56-27=29\\nGoal Reached!\"}";

START_TEST(jsonl_rows)
{
    sbt_dataset *d = load_ok(write_file("a.jsonl", JSONL), NULL);
    ck_assert_int_eq(sbt_dataset_count(d), 3);
    ck_assert_int_eq(sbt_dataset_skipped(d), 0);
    ck_assert_ptr_nonnull(strstr(sbt_dataset_path(d), "a.jsonl"));
    sbt_dataset_row r = row(d, 0);
    ck_assert_int_eq(r.problem.n_nums, 4);
    ck_assert_int_eq(r.problem.nums[0], 2);
    ck_assert_int_eq(r.problem.nums[3], 10);
    ck_assert_int_eq(r.problem.target, 62);
    ck_assert_str_eq(r.search_path, "45-39=6\n10*6=60\n2+60=62\nGoal Reached!");
    ck_assert_int_eq(r.line, 1);
    r = row(d, 1);
    ck_assert_str_eq(r.search_path, "45-39=6\n39+6=45\n<backtrack>");
    ck_assert_int_eq(r.line, 3); /* the blank line counts */
    r = row(d, 2);
    ck_assert_int_eq(r.problem.target, 29);
    ck_assert_int_eq(r.problem.nums[3], 8);
    ck_assert_int_eq(r.line, 4);
    /* out of range, NULL, bad size */
    sbt_dataset_row bad = {sizeof bad};
    ck_assert_int_eq(sbt_dataset_get(d, 3, &bad), SBT_E_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(sbt_last_error(), "row 3"));
    ck_assert_int_eq(sbt_dataset_get(d, -1, &bad), SBT_E_INVALID_ARGUMENT);
    bad.size = 4;
    ck_assert_int_eq(sbt_dataset_get(d, 0, &bad), SBT_E_INVALID_ARGUMENT);
    ck_assert_int_eq(sbt_dataset_count(NULL), -1);
    sbt_dataset_free(d);
    sbt_dataset_free(NULL);
}
END_TEST

START_TEST(json_array_rows)
{
    const char *text = "\xEF\xBB\xBF  [\n"
                       "  {\"nums\": [1, 2, 3, 4], \"target\": 10, \"search_path\": \"a\"},\n"
                       "  {\"nums\": [5, 6, 7, 8],\n   \"target\": 26,\n   \"search_path\": \"b\"}\n"
                       "]\n";
    sbt_dataset *d = load_ok(write_file("a.json", text), NULL);
    ck_assert_int_eq(sbt_dataset_count(d), 2);
    ck_assert_int_eq(row(d, 0).line, 2);
    ck_assert_int_eq(row(d, 1).line, 3);
    ck_assert_str_eq(row(d, 1).search_path, "b");
    ck_assert_int_eq(row(d, 1).problem.target, 26);
    sbt_dataset_free(d);

    d = load_ok(write_file("empty.json", "[ ]"), NULL);
    ck_assert_int_eq(sbt_dataset_count(d), 0);
    sbt_dataset_free(d);
    d = load_ok(write_file("empty.jsonl", ""), NULL);
    ck_assert_int_eq(sbt_dataset_count(d), 0);
    sbt_dataset_free(d);

    /* a bad element of an array: named by its line; a syntax error fails even when skipping */
    const char *bad = "[{\"nums\":[1,2],\"target\":3,\"search_path\":\"x\"},\n"
                      "{\"nums\":[1,2],\"target\":\"3\",\"search_path\":\"x\"}]";
    sbt_dataset *out = NULL;
    ck_assert_int_eq(sbt_dataset_load(&out, write_file("bad.json", bad), NULL), SBT_E_PARSE);
    ck_assert_ptr_null(out);
    ck_assert_msg(strstr(sbt_last_error(), "bad.json:2: target"), "%s", sbt_last_error());
    ck_assert_int_eq(sbt_dataset_load(&out, write_file("open.json", "[{\"nums\":[1],\"target\":1,"
                                                                   "\"search_path\":\"\"},"),
                                      NULL),
                     SBT_E_PARSE);
    ck_assert_msg(strstr(sbt_last_error(), "open.json:1"), "%s", sbt_last_error());
    ck_assert_int_eq(sbt_dataset_load(&out, write_file("comma.json", "[{\"nums\":[1],\"target\":1,"
                                                                    "\"search_path\":\"\"} {}]"),
                                      NULL),
                     SBT_E_PARSE);
    ck_assert_msg(strstr(sbt_last_error(), "expected ','"), "%s", sbt_last_error());
}
END_TEST

/* Each bad row, the message it must give (after "file:line: "). */
static const struct {
    const char *row, *why;
} BAD[] = {
    {"not json", "not valid JSON"},
    {"[1, 2]", "not a JSON object"},
    {"{\"target\": 3, \"search_path\": \"x\"}", "nums: the column is missing"},
    {"{\"nums\": 3, \"target\": 3, \"search_path\": \"x\"}", "nums: expected an array"},
    {"{\"nums\": [], \"target\": 3, \"search_path\": \"x\"}", "nums: expected an array"},
    {"{\"nums\": [1,2,3,4,5,6,7], \"target\": 3, \"search_path\": \"x\"}", "nums: expected an array"},
    {"{\"nums\": [1, -2], \"target\": 3, \"search_path\": \"x\"}", "nums[1]: expected a non-negative"},
    {"{\"nums\": [1, 2.5], \"target\": 3, \"search_path\": \"x\"}", "nums[1]"},
    {"{\"nums\": [1, 4294967296], \"target\": 3, \"search_path\": \"x\"}", "nums[1]"},
    {"{\"nums\": [1, 2], \"search_path\": \"x\"}", "target: the column is missing"},
    {"{\"nums\": [1, 2], \"target\": 3.0, \"search_path\": \"x\"}", "target: expected"},
    {"{\"nums\": [1, 2], \"target\": 3}", "search_path: the column is missing"},
    {"{\"nums\": [1, 2], \"target\": 3, \"search_path\": 5}", "search_path: expected a string"},
    {"{\"nums\": [1, 2], \"target\": 3, \"search_path\": \"a\\u0000b\"}", "not valid JSON"},
};

START_TEST(bad_rows_fail_with_line)
{
    for (size_t i = 0; i < N_OF(BAD); i++) {
        char text[512];
        snprintf(text, sizeof text,
                 "{\"nums\":[1,2],\"target\":3,\"search_path\":\"1+2=3\\nGoal Reached!\"}\n%s\n",
                 BAD[i].row);
        sbt_dataset *d = NULL;
        sbt_status st = sbt_dataset_load(&d, write_file("bad.jsonl", text), NULL);
        ck_assert_msg(st == SBT_E_PARSE, "row %zu (%s): status %d", i, BAD[i].row, st);
        ck_assert_ptr_null(d);
        const char *msg = sbt_last_error();
        ck_assert_msg(strstr(msg, "bad.jsonl:2: ") && strstr(msg, BAD[i].why),
                      "row %zu: \"%s\" lacks \"%s\"", i, msg, BAD[i].why);
    }
}
END_TEST

static int n_warnings;
static char last_warning[512];
static void on_log(sbt_log_level level, const char *msg, void *user)
{
    (void)user;
    if (level == SBT_LOG_WARN) {
        n_warnings++;
        snprintf(last_warning, sizeof last_warning, "%s", msg);
    }
}

START_TEST(bad_rows_skipped)
{
    char *text = malloc(16384);
    size_t n = 0;
    for (size_t i = 0; i < N_OF(BAD); i++)
        n += (size_t)sprintf(text + n, "{\"nums\":[%zu,2],\"target\":3,\"search_path\":\"ok\"}\n%s\n",
                             i, BAD[i].row);
    sbt_dataset_options o;
    sbt_dataset_options_init(&o);
    ck_assert_int_eq(o.size, sizeof o);
    ck_assert_int_eq(o.require_search_path, 1);
    o.skip_bad_rows = 1;
    n_warnings = 0;
    sbt_log_set(on_log, NULL, SBT_LOG_DEBUG);
    sbt_dataset *d = load_ok(write_file("mixed.jsonl", text), &o);
    sbt_log_set(NULL, NULL, SBT_LOG_WARN);
    ck_assert_int_eq(sbt_dataset_count(d), (int64_t)N_OF(BAD));
    ck_assert_int_eq(sbt_dataset_skipped(d), (int64_t)N_OF(BAD));
    ck_assert_int_eq(n_warnings, (int)N_OF(BAD));
    ck_assert_msg(strstr(last_warning, "mixed.jsonl:28: skipped: not valid JSON"), "%s", last_warning);
    for (size_t i = 0; i < N_OF(BAD); i++) {
        ck_assert_int_eq(row(d, (int64_t)i).problem.nums[0], (int)i);
        ck_assert_int_eq(row(d, (int64_t)i).line, (int64_t)(2 * i + 1));
    }
    sbt_dataset_free(d);

    /* max_rows stops early */
    o.max_rows = 3;
    d = load_ok(write_file("mixed.jsonl", text), &o);
    ck_assert_int_eq(sbt_dataset_count(d), 3);
    sbt_dataset_free(d);
    free(text);
}
END_TEST

START_TEST(search_path_optional)
{
    const char *text = "{\"nums\":[1,2,3,4],\"target\":24}\n"
                       "{\"nums\":[1,2,3,4],\"target\":10,\"search_path\":null}\n"
                       "{\"nums\":[1,2,3,4],\"target\":10,\"search_path\":\"x\"}\n";
    sbt_dataset_options o;
    sbt_dataset_options_init(&o);
    o.require_search_path = 0;
    sbt_dataset *d = load_ok(write_file("eval.jsonl", text), &o);
    ck_assert_int_eq(sbt_dataset_count(d), 3);
    ck_assert_ptr_null(row(d, 0).search_path);
    ck_assert_ptr_null(row(d, 1).search_path);
    ck_assert_str_eq(row(d, 2).search_path, "x");
    sbt_dataset_free(d);
    /* required by default */
    ck_assert_int_eq(sbt_dataset_load(&d, write_file("eval.jsonl", text), NULL), SBT_E_PARSE);
    ck_assert_msg(strstr(sbt_last_error(), "eval.jsonl:1: search_path"), "%s", sbt_last_error());
}
END_TEST

START_TEST(missing_file_and_bad_args)
{
    sbt_dataset *d = (sbt_dataset *)1;
    char path[700];
    snprintf(path, sizeof path, "%s/nope.jsonl", tmp_dir);
    ck_assert_int_eq(sbt_dataset_load(&d, path, NULL), SBT_E_NOT_FOUND);
    ck_assert_ptr_null(d);
    ck_assert_msg(strstr(sbt_last_error(), "nope.jsonl"), "%s", sbt_last_error());
    ck_assert_int_eq(sbt_dataset_load(NULL, path, NULL), SBT_E_INVALID_ARGUMENT);
    ck_assert_int_eq(sbt_dataset_load(&d, NULL, NULL), SBT_E_INVALID_ARGUMENT);
    sbt_dataset_options o;
    sbt_dataset_options_init(&o);
    o.size = 1;
    ck_assert_int_eq(sbt_dataset_load(&d, path, &o), SBT_E_INVALID_ARGUMENT);
    /* a folder is not a file */
    ck_assert_int_ne(sbt_dataset_load(&d, tmp_dir, NULL), SBT_OK);
    ck_assert_ptr_null(d);
}
END_TEST

static sbt_dataset *numbered(int n)
{
    sbt_dataset *d = NULL;
    ck_assert_int_eq(sbt_dataset_create(&d), SBT_OK);
    for (int i = 0; i < n; i++) {
        sbt_countdown_problem p = {2, {i, i + 1}, 2 * i + 1};
        char sp[64];
        snprintf(sp, sizeof sp, "%d+%d=%d\nGoal Reached!", i, i + 1, 2 * i + 1);
        ck_assert_int_eq(sbt_dataset_append(d, &p, i % 7 == 3 ? NULL : sp), SBT_OK);
    }
    return d;
}

START_TEST(slices_and_val_split)
{
    sbt_dataset *d = numbered(11), *a = NULL, *b = NULL;
    ck_assert_int_eq(sbt_dataset_count(d), 11);
    ck_assert_str_eq(sbt_dataset_path(d), "");
    ck_assert_int_eq(row(d, 0).line, 0);
    ck_assert_int_eq(sbt_dataset_slice(&a, d, 2, 5), SBT_OK);
    ck_assert_int_eq(sbt_dataset_count(a), 5);
    ck_assert_int_eq(row(a, 0).problem.nums[0], 2);
    ck_assert_ptr_null(row(a, 1).search_path); /* row 3 has none */
    ck_assert_str_eq(row(a, 4).search_path, "6+7=13\nGoal Reached!");
    sbt_dataset_free(a);
    ck_assert_int_eq(sbt_dataset_slice(&a, d, 8, 4), SBT_E_INVALID_ARGUMENT);
    ck_assert_ptr_null(a);
    ck_assert_int_eq(sbt_dataset_slice(&a, d, 11, 0), SBT_OK);
    ck_assert_int_eq(sbt_dataset_count(a), 0);
    sbt_dataset_free(a);
    /* train_test_split(test_size=0.5, shuffle=False) on 11 rows: 5 train ("val"), 6 test */
    ck_assert_int_eq(sbt_dataset_seed_val_split(&a, &b, d), SBT_OK);
    ck_assert_int_eq(sbt_dataset_count(a), 5);
    ck_assert_int_eq(sbt_dataset_count(b), 6);
    ck_assert_int_eq(row(b, 0).problem.nums[0], 5);
    sbt_dataset_free(a);
    sbt_dataset_free(b);
    sbt_countdown_problem bad = {0, {0}, 1};
    ck_assert_int_eq(sbt_dataset_append(d, &bad, "x"), SBT_E_INVALID_ARGUMENT);
    sbt_dataset_free(d);
}
END_TEST

START_TEST(seed_sample_count)
{
    /* the seed's train.py: dataset_percent wins, then num_train, then 2 % */
    ck_assert_int_eq(sbt_dataset_sample_count(500000, 2.0, 500000), 10000);
    ck_assert_int_eq(sbt_dataset_sample_count(500000, -1, 500000), 500000);
    ck_assert_int_eq(sbt_dataset_sample_count(500000, -1, 900000), 500000);
    ck_assert_int_eq(sbt_dataset_sample_count(500000, -1, 0), 10000);
    ck_assert_int_eq(sbt_dataset_sample_count(25, 2.0, 0), 1);   /* round(0.5) = 0 -> max 1 */
    ck_assert_int_eq(sbt_dataset_sample_count(75, 2.0, 0), 2);   /* round(1.5) = 2 */
    ck_assert_int_eq(sbt_dataset_sample_count(10, 250, 0), 10);  /* clamped to 100 % */
    ck_assert_int_eq(sbt_dataset_sample_count(10, 0, 0), 1);
    ck_assert_int_eq(sbt_dataset_sample_count(0, 2.0, 0), 0);
}
END_TEST

/* random.seed(s); random.sample(range(n), k), as CPython 3 prints it. */
static void check_sample(int n, int k, uint64_t seed, const int *want)
{
    sbt_dataset *d = numbered(n), *s = NULL;
    ck_assert_int_eq(sbt_dataset_sample(&s, d, k, seed), SBT_OK);
    ck_assert_int_eq(sbt_dataset_count(s), k);
    for (int i = 0; i < k; i++)
        ck_assert_msg(row(s, i).problem.nums[0] == want[i], "n=%d k=%d seed=%d: [%d] = %d, not %d",
                      n, k, (int)seed, i, row(s, i).problem.nums[0], want[i]);
    sbt_dataset_free(s);
    sbt_dataset_free(d);
}

START_TEST(seed_sample_matches_python)
{
    static const int a[] = {654, 114, 25, 759, 281, 250, 228, 142, 754, 104}; /* set path */
    static const int b[] = {20, 3, 0, 23, 8, 7, 24, 4};                       /* pool path */
    static const int c[] = {42445, 19772, 51750, 85319, 6328, 9494,
                            70239, 12337, 47931, 76387, 7602,  66510};
    static const int e[] = {1, 0, 4};
    check_sample(1000, 10, 42, a);
    check_sample(30, 8, 42, b);
    check_sample(100000, 12, 7, c);
    check_sample(10, 3, 42, e);
    /* k >= n: everything, in file order */
    sbt_dataset *d = numbered(5), *s = NULL;
    ck_assert_int_eq(sbt_dataset_sample(&s, d, 9, 1), SBT_OK);
    ck_assert_int_eq(sbt_dataset_count(s), 5);
    ck_assert_int_eq(row(s, 4).problem.nums[0], 4);
    sbt_dataset_free(s);
    ck_assert_int_eq(sbt_dataset_sample(&s, d, -1, 1), SBT_E_INVALID_ARGUMENT);
    sbt_dataset_free(d);
}
END_TEST

START_TEST(write_and_read_back)
{
    sbt_dataset *d = numbered(20), *back = NULL;
    sbt_countdown_problem p = {4, {2, 39, 45, 10}, 62};
    ck_assert_int_eq(sbt_dataset_append(d, &p, "quote \" backslash \\ tab\t\xc3\xa9"), SBT_OK);
    char path[700];
    snprintf(path, sizeof path, "%s/out.jsonl", tmp_dir);
    ck_assert_int_eq(sbt_dataset_write_jsonl(d, path), SBT_OK);
    sbt_dataset_options o;
    sbt_dataset_options_init(&o);
    o.require_search_path = 0;
    back = load_ok(path, &o);
    ck_assert_int_eq(sbt_dataset_count(back), 21);
    for (int64_t i = 0; i < 21; i++) {
        sbt_dataset_row x = row(d, i), y = row(back, i);
        ck_assert_int_eq(memcmp(&x.problem, &y.problem, sizeof x.problem), 0);
        ck_assert_int_eq(!x.search_path, !y.search_path);
        if (x.search_path)
            ck_assert_str_eq(x.search_path, y.search_path);
        ck_assert_int_eq(y.line, i + 1);
    }
    sbt_dataset_free(back);
    snprintf(path, sizeof path, "%s/no/such/dir/out.jsonl", tmp_dir);
    ck_assert_int_ne(sbt_dataset_write_jsonl(d, path), SBT_OK);
    sbt_dataset_free(d);
}
END_TEST

/* The files selfbt-data writes load as they are. */
START_TEST(reads_generated_data)
{
    sbt_countdown_options co;
    sbt_countdown_options_init(&co);
    co.train_problems = 50;
    co.val_problems = 10;
    co.val_new_problems = 10;
    sbt_countdown_data *g = NULL;
    ck_assert_int_eq(sbt_countdown_generate(&g, &co), SBT_OK);
    ck_assert_int_eq(sbt_countdown_data_write(g, tmp_dir), SBT_OK);
    char path[700];
    snprintf(path, sizeof path, "%s/%s", tmp_dir, sbt_countdown_split_file(SBT_SPLIT_TRAIN));
    sbt_dataset *d = load_ok(path, NULL);
    ck_assert_int_eq(sbt_dataset_count(d), sbt_countdown_data_count(g, SBT_SPLIT_TRAIN));
    for (int64_t i = 0; i < sbt_dataset_count(d); i++) {
        sbt_countdown_row r = {sizeof r};
        ck_assert_int_eq(sbt_countdown_data_row(g, SBT_SPLIT_TRAIN, i, &r), SBT_OK);
        sbt_dataset_row x = row(d, i);
        ck_assert_int_eq(memcmp(&x.problem, &r.problem, sizeof r.problem), 0);
        ck_assert_str_eq(x.search_path, r.search_path);
    }
    sbt_dataset_free(d);
    sbt_countdown_data_free(g);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("dataset");
    TCase *tc = tcase_create("dataset");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, jsonl_rows);
    tcase_add_test(tc, json_array_rows);
    tcase_add_test(tc, bad_rows_fail_with_line);
    tcase_add_test(tc, bad_rows_skipped);
    tcase_add_test(tc, search_path_optional);
    tcase_add_test(tc, missing_file_and_bad_args);
    tcase_add_test(tc, slices_and_val_split);
    tcase_add_test(tc, seed_sample_count);
    tcase_add_test(tc, seed_sample_matches_python);
    tcase_add_test(tc, write_and_read_back);
    tcase_add_test(tc, reads_generated_data);
    suite_add_tcase(s, tc);
    return s;
}

SBT_CHECK_MAIN(suite)
