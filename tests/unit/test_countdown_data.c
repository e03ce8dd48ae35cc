/* test_countdown_data.c — the dataset generator: D_op rows are real solutions, every D_back
 * row's last step is wrong in the way its kind says, the splits and ratios are as asked, the
 * output does not depend on the thread count, and bad options fail with a clear message. */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "selfbt/selfbt.h"

#include "check_main.h"

/* ck_assert records its location on every call (a write to a pipe in fork mode); in loops
 * over thousands of rows only a failure should cost anything. */
#define REQUIRE(cond, ...)                                                                  \
    do {                                                                                    \
        if (!(cond))                                                                        \
            ck_abort_msg(__VA_ARGS__);                                                      \
    } while (0)
#define CHECK(cond) REQUIRE(cond, "%s:%d: %s", __FILE__, __LINE__, #cond)
#define REQUIRE_EQ(a, b)                                                                    \
    REQUIRE((a) == (b), "%s:%d: %s == %s: %lld != %lld", __FILE__, __LINE__, #a, #b,        \
            (long long)(a), (long long)(b))

static sbt_countdown_options small_options(void)
{
    sbt_countdown_options o;
    sbt_countdown_options_init(&o);
    o.train_problems = 4000;
    o.val_problems = 400;
    o.val_new_problems = 400;
    return o;
}

static sbt_countdown_data *generate(const sbt_countdown_options *o)
{
    sbt_countdown_data *d = NULL;
    sbt_status st = sbt_countdown_generate(&d, o);
    ck_assert_msg(st == SBT_OK, "generate: %s", sbt_last_error());
    ck_assert_ptr_nonnull(d);
    return d;
}

static sbt_countdown_row row_at(const sbt_countdown_data *d, sbt_countdown_split split, int64_t i)
{
    sbt_countdown_row r;
    memset(&r, 0, sizeof r);
    r.size = sizeof r;
    REQUIRE_EQ(sbt_countdown_data_row(d, split, i, &r), SBT_OK);
    return r;
}

/* ---- an independent model of the rules ------------------------------------------------- */

typedef struct step {
    long long a, b, r;
    char op;
} step;

static int parse_step(const char *s, size_t len, step *out)
{
    char buf[128];
    int used = 0;
    if (len >= sizeof buf)
        return 0;
    memcpy(buf, s, len);
    buf[len] = '\0';
    return sscanf(buf, "%lld%c%lld=%lld%n", &out->a, &out->op, &out->b, &out->r, &used) == 4 &&
           (size_t)used == len && strchr("+-*/", out->op);
}

/* The true value under the generator's rules (non-negative '-', exact '/'), or -1. */
static long long value_of(const step *s)
{
    switch (s->op) {
    case '+': return s->a + s->b;
    case '*': return s->a * s->b;
    case '-': return s->a >= s->b ? s->a - s->b : -1;
    default: return s->b != 0 && s->a % s->b == 0 ? s->a / s->b : -1;
    }
}

typedef struct bag {
    int n;
    long long v[8];
} bag;

static int bag_take(bag *b, long long x)
{
    for (int k = 0; k < b->n; k++)
        if (b->v[k] == x) {
            b->v[k] = b->v[--b->n];
            return 1;
        }
    return 0;
}

static int bag_has(const bag *b, long long x)
{
    for (int k = 0; k < b->n; k++)
        if (b->v[k] == x)
            return 1;
    return 0;
}

static int reachable(const bag *b, long long target)
{
    if (b->n == 1)
        return b->v[0] == target;
    for (int i = 0; i < b->n; i++)
        for (int j = 0; j < b->n; j++) {
            if (i == j)
                continue;
            bag rest = {0, {0}};
            for (int k = 0; k < b->n; k++)
                if (k != i && k != j)
                    rest.v[rest.n++] = b->v[k];
            step s[4] = {{b->v[i], b->v[j], 0, '+'}, {b->v[i], b->v[j], 0, '*'},
                         {b->v[i], b->v[j], 0, '-'}, {b->v[i], b->v[j], 0, '/'}};
            for (int c = 0; c < 4; c++) {
                long long v = value_of(&s[c]);
                if (v < 0)
                    continue;
                rest.v[rest.n] = v;
                rest.n++;
                int ok = reachable(&rest, target);
                rest.n--;
                if (ok)
                    return 1;
            }
        }
    return 0;
}

/* Splits a search_path into lines; returns how many. */
static int split_lines(const char *s, const char **line, size_t *len, int cap)
{
    int n = 0;
    while (n < cap) {
        const char *nl = strchr(s, '\n');
        line[n] = s;
        len[n] = nl ? (size_t)(nl - s) : strlen(s);
        n++;
        if (!nl)
            break;
        s = nl + 1;
    }
    return n;
}

static sbt_countdown_verdict verify(const sbt_countdown_problem *p, const char *path,
                                    sbt_countdown_verifier mode)
{
    char text[512];
    size_t n = sbt_countdown_prompt(p, text, sizeof text);
    snprintf(text + n, sizeof text - n, "%s", path);
    sbt_countdown_verdict v;
    memset(&v, 0, sizeof v);
    v.size = sizeof v;
    REQUIRE_EQ(sbt_countdown_verify(text, strlen(text), mode, &v), SBT_OK);
    return v;
}

static int bag_has_duplicates(const bag *b)
{
    for (int i = 0; i < b->n; i++)
        for (int j = i + 1; j < b->n; j++)
            if (b->v[i] == b->v[j])
                return 1;
    return 0;
}

/* Checks one D_back row against its problem's D_op row. */
static void check_back_row(const sbt_countdown_row *op, const sbt_countdown_row *back)
{
    const char *ol[8], *bl[8];
    size_t olen[8], blen[8];
    int no = split_lines(op->search_path, ol, olen, 8);
    int nb = split_lines(back->search_path, bl, blen, 8);
    REQUIRE(memcmp(&op->problem, &back->problem, sizeof op->problem) == 0,
                  "D_back row is not on its D_op row's problem");
    REQUIRE(nb >= 2 && blen[nb - 1] == 11 && !memcmp(bl[nb - 1], "<backtrack>", 11),
                  "D_back row does not end with <backtrack> on its own line: %s", back->search_path);
    int k = nb - 2; /* the erroneous step's index; lines 0..k-1 are the prefix */
    REQUIRE(k < no - 1, "%s:%d", __FILE__, __LINE__);
    for (int t = 0; t < k; t++)
        REQUIRE(blen[t] == olen[t] && !memcmp(bl[t], ol[t], blen[t]),
                      "prefix differs from the optimal path: %s vs %s", back->search_path,
                      op->search_path);
    bag b = {op->problem.n_nums, {0}};
    for (int t = 0; t < b.n; t++)
        b.v[t] = op->problem.nums[t];
    int repeats = 0; /* a value held twice at some point: the seed's verifier mishandles it */
    for (int t = 0; t < k; t++) {
        step s;
        repeats |= bag_has_duplicates(&b);
        CHECK(parse_step(bl[t], blen[t], &s));
        CHECK(bag_take(&b, s.a) && bag_take(&b, s.b));
        b.v[b.n++] = s.r;
    }
    repeats |= bag_has_duplicates(&b);
    step e;
    REQUIRE(parse_step(bl[k], blen[k], &e), "bad step '%.*s'", (int)blen[k], bl[k]);
    CHECK(e.r >= 0);
    bag after = b;
    int available = bag_take(&after, e.a) && bag_take(&after, e.b);
    switch (back->kind) {
    case SBT_ROW_BACK_EXPLORATION:
        REQUIRE(available && value_of(&e) == e.r, "exploration step is not legal: %s",
                      back->search_path);
        after.v[after.n++] = e.r;
        REQUIRE(!reachable(&after, op->problem.target), "exploration step leaves a solvable state: %s",
                      back->search_path);
        break;
    case SBT_ROW_BACK_COMPUTATIONAL: {
        step want;
        CHECK(parse_step(ol[k], olen[k], &want));
        REQUIRE(available && e.a == want.a && e.b == want.b && e.op == want.op && e.r != want.r,
                      "computational error is not the optimal step with a wrong result: %s",
                      back->search_path);
        break;
    }
    case SBT_ROW_BACK_RULE:
        REQUIRE(!bag_has(&b, e.a) || !bag_has(&b, e.b), "rule violation uses available numbers: %s",
                      back->search_path);
        REQUIRE(value_of(&e) == e.r, "rule violation step has a wrong result: %s", back->search_path);
        break;
    default:
        ck_abort_msg("unexpected kind %d", back->kind);
    }
    /* The seed's verifier sees the same failure at the same step (its duplicate-value bug
     * can fail an earlier step, so only rows that never hold a value twice are compared). */
    if (!repeats) {
        sbt_countdown_verdict v = verify(&back->problem, back->search_path, SBT_VERIFY_REFERENCE);
        REQUIRE(!v.is_correct, "reference verifier accepts D_back row %d %d %d %d -> %d: %s", op->problem.nums[0], op->problem.nums[1], op->problem.nums[2], op->problem.nums[3], op->problem.target, back->search_path);
        REQUIRE_EQ(v.is_backtrack, 1);
        sbt_countdown_failure want = back->kind == SBT_ROW_BACK_EXPLORATION     ? SBT_FAIL_NOT_REACHED
                                     : back->kind == SBT_ROW_BACK_COMPUTATIONAL ? SBT_FAIL_INCORRECT_RESULT
                                                                                : SBT_FAIL_UNKNOWN_NUMBER;
        REQUIRE(v.failure == want, "%s: reference verifier says %s", back->search_path,
                      sbt_countdown_failure_name(v.failure));
    }
}

START_TEST(rows_are_what_their_kind_says)
{
    sbt_countdown_options o = small_options();
    sbt_countdown_data *d = generate(&o);
    int64_t n = sbt_countdown_data_count(d, SBT_SPLIT_TRAIN);
    REQUIRE_EQ(n, 8000);
    int64_t kinds[4] = {0, 0, 0, 0};
    sbt_countdown_row op = {0};
    for (int64_t i = 0; i < n; i++) {
        sbt_countdown_row r = row_at(d, SBT_SPLIT_TRAIN, i);
        kinds[r.kind]++;
        if (r.kind == SBT_ROW_OPTIMAL) {
            op = r;
            sbt_countdown_verdict v = verify(&r.problem, r.search_path, SBT_VERIFY_STRICT);
            REQUIRE(v.is_correct, "D_op row fails strict mode: %s", r.search_path);
            REQUIRE_EQ(strstr(r.search_path, "Goal Reached!") - r.search_path + 13,
                             (long)strlen(r.search_path));
        } else {
            REQUIRE(op.search_path != NULL, "D_back row before any D_op row");
            check_back_row(&op, &r);
        }
    }
    /* 1:1 D_op:D_back, and D_back in exploration:computational:rule = 1:2:2 exactly. */
    sbt_countdown_summary s;
    memset(&s, 0, sizeof s);
    s.size = sizeof s;
    REQUIRE_EQ(sbt_countdown_data_summary(d, &s), SBT_OK);
    REQUIRE_EQ(kinds[SBT_ROW_OPTIMAL], 4000);
    REQUIRE_EQ(s.exploration_fallbacks, 0);
    REQUIRE_EQ(kinds[SBT_ROW_BACK_EXPLORATION], 800);
    REQUIRE_EQ(kinds[SBT_ROW_BACK_COMPUTATIONAL], 1600);
    REQUIRE_EQ(kinds[SBT_ROW_BACK_RULE], 1600);
    for (int k = 0; k < 4; k++)
        REQUIRE_EQ(s.train_rows_by_kind[k], kinds[k]);
    REQUIRE_EQ(s.rows[SBT_SPLIT_VAL], 400);
    REQUIRE_EQ(s.n_heldout, 9);
    sbt_countdown_data_free(d);
}
END_TEST

START_TEST(splits_use_their_targets)
{
    sbt_countdown_options o = small_options();
    sbt_countdown_data *d = generate(&o);
    int32_t held[9];
    size_t n_held;
    REQUIRE_EQ(sbt_countdown_heldout_targets(&o, held, 9, &n_held), SBT_OK);
    for (int split = 0; split < SBT_COUNTDOWN_N_SPLITS; split++) {
        for (int64_t i = 0; i < sbt_countdown_data_count(d, (sbt_countdown_split)split); i++) {
            sbt_countdown_row r = row_at(d, (sbt_countdown_split)split, i);
            int is_held = 0;
            for (int k = 0; k < 9; k++)
                is_held |= r.problem.target == held[k];
            REQUIRE_EQ(is_held, split == SBT_SPLIT_VAL_NEW);
            CHECK(r.problem.target >= 10 && r.problem.target <= 100);
            for (int k = 0; k < 4; k++)
                CHECK(r.problem.nums[k] >= 1 && r.problem.nums[k] <= 99);
            if (split != SBT_SPLIT_TRAIN) {
                REQUIRE_EQ(r.kind, SBT_ROW_OPTIMAL);
                CHECK(verify(&r.problem, r.search_path, SBT_VERIFY_STRICT).is_correct);
            }
        }
    }
    /* SoS de-duplication: no val solution equals a train solution. */
    int64_t n_train = sbt_countdown_data_count(d, SBT_SPLIT_TRAIN);
    for (int64_t j = 0; j < sbt_countdown_data_count(d, SBT_SPLIT_VAL); j++) {
        sbt_countdown_row v = row_at(d, SBT_SPLIT_VAL, j);
        for (int64_t i = 0; i < n_train; i++) {
            sbt_countdown_row t = row_at(d, SBT_SPLIT_TRAIN, i);
            CHECK(t.kind != SBT_ROW_OPTIMAL || strcmp(t.search_path, v.search_path) != 0);
        }
    }
    sbt_countdown_data_free(d);
}
END_TEST

static void assert_same_data(const sbt_countdown_data *a, const sbt_countdown_data *b)
{
    for (int split = 0; split < SBT_COUNTDOWN_N_SPLITS; split++) {
        int64_t n = sbt_countdown_data_count(a, (sbt_countdown_split)split);
        REQUIRE_EQ(n, sbt_countdown_data_count(b, (sbt_countdown_split)split));
        for (int64_t i = 0; i < n; i++) {
            sbt_countdown_row x = row_at(a, (sbt_countdown_split)split, i);
            sbt_countdown_row y = row_at(b, (sbt_countdown_split)split, i);
            CHECK(memcmp(&x.problem, &y.problem, sizeof x.problem) == 0);
            REQUIRE_EQ(x.kind, y.kind);
            REQUIRE(strcmp(x.search_path, y.search_path) == 0, "%s != %s", x.search_path, y.search_path);
        }
    }
}

START_TEST(output_does_not_depend_on_threads)
{
    sbt_countdown_options o = small_options();
    o.train_problems = 20000; /* more than one chunk */
    o.n_threads = 1;
    sbt_countdown_data *one = generate(&o);
    o.n_threads = 3;
    sbt_countdown_data *three = generate(&o);
    assert_same_data(one, three);
    o.seed = 5;
    sbt_countdown_data *other = generate(&o);
    sbt_countdown_row x = row_at(one, SBT_SPLIT_TRAIN, 0), y = row_at(other, SBT_SPLIT_TRAIN, 0);
    ck_assert(memcmp(&x.problem, &y.problem, sizeof x.problem) != 0);
    sbt_countdown_data_free(one);
    sbt_countdown_data_free(three);
    sbt_countdown_data_free(other);
}
END_TEST

START_TEST(ratios)
{
    sbt_countdown_options o = small_options();
    o.train_problems = 1000;
    o.val_problems = o.val_new_problems = 10;
    const double per_op[] = {0.5, 2.0, 4.0, 0.0};
    for (int t = 0; t < 4; t++) {
        o.back_per_op = per_op[t];
        sbt_countdown_data *d = generate(&o);
        int64_t want_back = (int64_t)(1000 * per_op[t]);
        REQUIRE_EQ(sbt_countdown_data_count(d, SBT_SPLIT_TRAIN), 1000 + want_back);
        int64_t kinds[4] = {0, 0, 0, 0};
        sbt_countdown_row op = {0};
        for (int64_t i = 0; i < 1000 + want_back; i++) {
            sbt_countdown_row r = row_at(d, SBT_SPLIT_TRAIN, i);
            kinds[r.kind]++;
            if (r.kind == SBT_ROW_OPTIMAL)
                op = r;
            else
                check_back_row(&op, &r);
        }
        REQUIRE_EQ(kinds[0], 1000);
        REQUIRE_EQ(kinds[1] * 5, want_back);
        REQUIRE_EQ(kinds[2] * 5, want_back * 2);
        sbt_countdown_data_free(d);
    }
    /* Only rule violations. */
    o.back_per_op = 1.0;
    o.error_weights[0] = o.error_weights[1] = 0;
    sbt_countdown_data *d = generate(&o);
    sbt_countdown_summary s;
    memset(&s, 0, sizeof s);
    s.size = sizeof s;
    REQUIRE_EQ(sbt_countdown_data_summary(d, &s), SBT_OK);
    REQUIRE_EQ(s.train_rows_by_kind[SBT_ROW_BACK_RULE], 1000);
    sbt_countdown_data_free(d);
}
END_TEST

START_TEST(bad_options_name_the_field)
{
    sbt_countdown_data *d = (sbt_countdown_data *)&d;
    sbt_countdown_options o = small_options();
    o.n_nums = 1;
    ck_assert_int_eq(sbt_countdown_generate(&d, &o), SBT_E_INVALID_ARGUMENT);
    ck_assert_ptr_null(d);
    ck_assert_ptr_nonnull(strstr(sbt_last_error(), "n_nums"));
    o = small_options();
    o.max_num = 0;
    ck_assert_int_eq(sbt_countdown_generate(&d, &o), SBT_E_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(sbt_last_error(), "max_num"));
    o = small_options();
    o.heldout_divisor = 0;
    ck_assert_int_eq(sbt_countdown_generate(&d, &o), SBT_E_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(sbt_last_error(), "heldout_divisor"));
    o = small_options();
    o.back_per_op = -1;
    ck_assert_int_eq(sbt_countdown_generate(&d, &o), SBT_E_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(sbt_last_error(), "back_per_op"));
    o = small_options();
    o.error_weights[0] = o.error_weights[1] = o.error_weights[2] = 0;
    ck_assert_int_eq(sbt_countdown_generate(&d, &o), SBT_E_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(sbt_last_error(), "error_weights"));
    o = small_options();
    o.max_target = 5;
    ck_assert_int_eq(sbt_countdown_generate(&d, &o), SBT_E_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(sbt_last_error(), "targets"));
    o = small_options();
    o.size = 8;
    ck_assert_int_eq(sbt_countdown_generate(&d, &o), SBT_E_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(sbt_last_error(), "size"));
    ck_assert_int_eq(sbt_countdown_generate(&d, NULL), SBT_E_INVALID_ARGUMENT);
    ck_assert_int_eq(sbt_countdown_generate(NULL, &o), SBT_E_INVALID_ARGUMENT);
    /* A target no draw can reach fails instead of looping. */
    o = small_options();
    o.n_nums = 2;
    o.max_num = 1;
    o.min_target = o.max_target = 1000;
    o.heldout_divisor = 2;
    ck_assert_int_eq(sbt_countdown_generate(&d, &o), SBT_E_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(sbt_last_error(), "target 1000"));
    ck_assert_ptr_null(d);
}
END_TEST

static int cancel_at_val(const char *what, int64_t done, int64_t total, void *user)
{
    (void)done;
    (void)total;
    ++*(int *)user;
    return strcmp(what, "val") == 0;
}

START_TEST(progress_and_cancel)
{
    sbt_countdown_options o = small_options();
    int calls = 0;
    o.progress = cancel_at_val;
    o.progress_user_data = &calls;
    sbt_countdown_data *d = NULL;
    ck_assert_int_eq(sbt_countdown_generate(&d, &o), SBT_E_CANCELLED);
    ck_assert_ptr_null(d);
    ck_assert_int_ge(calls, 2);
    ck_assert_ptr_nonnull(strstr(sbt_last_error(), "cancel"));
}
END_TEST

START_TEST(jsonl_round_trip)
{
    sbt_countdown_options o = small_options();
    o.train_problems = 300;
    sbt_countdown_data *d = generate(&o);
    char path[512];
    snprintf(path, sizeof path, "%s/data_train.jsonl", SBT_TEST_TMP_DIR);
    REQUIRE_EQ(sbt_countdown_data_write_jsonl(d, SBT_SPLIT_TRAIN, path), SBT_OK);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    char line[1024];
    int64_t i = 0;
    while (fgets(line, sizeof line, f)) {
        json_error_t err;
        json_t *j = json_loads(line, 0, &err);
        REQUIRE(j != NULL, "line %lld: %s", (long long)i + 1, err.text);
        REQUIRE_EQ(json_object_size(j), 3);
        sbt_countdown_row r = row_at(d, SBT_SPLIT_TRAIN, i);
        json_t *nums = json_object_get(j, "nums");
        REQUIRE_EQ(json_array_size(nums), 4);
        for (int k = 0; k < 4; k++)
            REQUIRE_EQ(json_integer_value(json_array_get(nums, k)), r.problem.nums[k]);
        REQUIRE_EQ(json_integer_value(json_object_get(j, "target")), r.problem.target);
        CHECK(strcmp(json_string_value(json_object_get(j, "search_path")), r.search_path) == 0);
        ck_assert_ptr_nonnull(strstr(line, "{\"nums\":["));
        json_decref(j);
        i++;
    }
    fclose(f);
    REQUIRE_EQ(i, sbt_countdown_data_count(d, SBT_SPLIT_TRAIN));
    /* A folder that does not exist: a clear error naming the file, nothing written. */
    snprintf(path, sizeof path, "%s/no/such/folder/train.jsonl", SBT_TEST_TMP_DIR);
    REQUIRE_EQ(sbt_countdown_data_write_jsonl(d, SBT_SPLIT_TRAIN, path), SBT_E_IO);
    ck_assert_ptr_nonnull(strstr(sbt_last_error(), "no/such/folder/train.jsonl"));
    ck_assert_int_ne(access(path, F_OK), 0);
    sbt_countdown_data_free(d);
}
END_TEST

/* Reads a whole file into a malloc'd NUL-terminated buffer. */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

START_TEST(write_set_equals_each_split)
{
    sbt_countdown_options o = small_options();
    o.train_problems = 200;
    o.val_problems = o.val_new_problems = 20;
    sbt_countdown_data *d = generate(&o);
    char dir[512], path[600], single[600];
    snprintf(dir, sizeof dir, "%s/set", SBT_TEST_TMP_DIR);
    mkdir(dir, 0777);
    ck_assert_int_eq(sbt_countdown_data_write(d, dir), SBT_OK);
    for (int k = 0; k < SBT_COUNTDOWN_N_SPLITS; k++) {
        snprintf(path, sizeof path, "%s/%s", dir, sbt_countdown_split_file((sbt_countdown_split)k));
        snprintf(single, sizeof single, "%s/single_%d.jsonl", SBT_TEST_TMP_DIR, k);
        ck_assert_int_eq(sbt_countdown_data_write_jsonl(d, (sbt_countdown_split)k, single), SBT_OK);
        char *a = slurp(path), *b = slurp(single);
        ck_assert_str_eq(a, b);
        ck_assert_int_gt((int)strlen(a), 0);
        free(a);
        free(b);
    }
    ck_assert_str_eq(sbt_countdown_split_file(SBT_SPLIT_VAL_NEW), "val_new.jsonl");
    ck_assert_ptr_null(sbt_countdown_split_file((sbt_countdown_split)3));
    /* A folder that does not exist: an error naming the file, nothing created. */
    snprintf(dir, sizeof dir, "%s/no_such_set", SBT_TEST_TMP_DIR);
    ck_assert_int_eq(sbt_countdown_data_write(d, dir), SBT_E_IO);
    ck_assert_ptr_nonnull(strstr(sbt_last_error(), "no_such_set/train.jsonl"));
    ck_assert_int_ne(access(dir, F_OK), 0);
    ck_assert_int_eq(sbt_countdown_data_write(NULL, dir), SBT_E_INVALID_ARGUMENT);
    sbt_countdown_data_free(d);
}
END_TEST

START_TEST(row_accessors_check_their_arguments)
{
    sbt_countdown_options o = small_options();
    o.train_problems = 10;
    o.val_problems = o.val_new_problems = 1;
    sbt_countdown_data *d = generate(&o);
    sbt_countdown_row r;
    memset(&r, 0, sizeof r);
    r.size = sizeof r;
    ck_assert_int_eq(sbt_countdown_data_row(d, SBT_SPLIT_VAL, 1, &r), SBT_E_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(sbt_last_error(), "index 1"));
    ck_assert_int_eq(sbt_countdown_data_row(d, (sbt_countdown_split)7, 0, &r), SBT_E_INVALID_ARGUMENT);
    r.size = 4;
    ck_assert_int_eq(sbt_countdown_data_row(d, SBT_SPLIT_VAL, 0, &r), SBT_E_INVALID_ARGUMENT);
    ck_assert_int_eq(sbt_countdown_data_count(d, (sbt_countdown_split)3), -1);
    ck_assert_int_eq(sbt_countdown_data_count(NULL, SBT_SPLIT_TRAIN), -1);
    sbt_countdown_data_free(d);
    sbt_countdown_data_free(NULL);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("countdown_data");
    TCase *tc = tcase_create("data");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, rows_are_what_their_kind_says);
    tcase_add_test(tc, splits_use_their_targets);
    tcase_add_test(tc, output_does_not_depend_on_threads);
    tcase_add_test(tc, ratios);
    tcase_add_test(tc, bad_options_name_the_field);
    tcase_add_test(tc, progress_and_cancel);
    tcase_add_test(tc, jsonl_round_trip);
    tcase_add_test(tc, write_set_equals_each_split);
    tcase_add_test(tc, row_accessors_check_their_arguments);
    suite_add_tcase(s, tc);
    return s;
}

SBT_CHECK_MAIN(suite)
