/* test_improve.c — sbt_improve on the CPU with a tiny model that has memorised a few problems:
 * the filter (sbt_improve_keep) keeps exactly the verified outputs that reach "Goal Reached!",
 * cut there; the loop writes every iteration's files; each kept row passes the verifier and
 * holds no <backtrack>; report entries carry the protocol; a run stopped after an iteration
 * resumes after it (finished iterations are not redone), a larger `times` extends a run, other
 * settings are refused naming the field; the held-out protocol draws fresh train-target
 * problems; bad options name the field. */
#define _GNU_SOURCE
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "selfbt/dataset.h"
#include "selfbt/improve.h"
#include "selfbt/selfbt.h"
#include "selfbt/trainer.h"

#include "backend_fixture.h"
#include "check_main.h"
#include "tokenizer_fixture.h"

static sbt_backend *be;
static sbt_tokenizer *tok;
static sbt_dataset *seen, *unseen;
static char *tmp;
static char model0[1024];

/* ---- the filter ---------------------------------------------------------------------- */

#define P "<|begin_of_text|>###Question: numbers [44, 5, 3, 85]->target 49\n###Response:\n"

START_TEST(keep_filter)
{
    char buf[256];
    int kept = -1;
    /* correct, cut right after the marker (EOS and anything after dropped) */
    const char *ok = P "44+5=49\nGoal Reached!<|end_of_text|>junk";
    ck_assert_int_eq(sbt_improve_keep(&kept, buf, sizeof buf, ok, strlen(ok), SBT_VERIFY_REFERENCE),
                     SBT_OK);
    ck_assert_int_eq(kept, 1);
    ck_assert_str_eq(buf, "44+5=49\nGoal Reached!");
    /* strict needs all four numbers: the same output is not kept */
    ck_assert_int_eq(sbt_improve_keep(&kept, buf, sizeof buf, ok, strlen(ok), SBT_VERIFY_STRICT),
                     SBT_OK);
    ck_assert_int_eq(kept, 0);
    /* the reference verifier accepts a response cut at <backtrack>; it is still not kept */
    const char *bt = P "44+5=49\n<backtrack>";
    sbt_countdown_verdict v = {sizeof v};
    ck_assert_int_eq(sbt_countdown_verify(bt, strlen(bt), SBT_VERIFY_REFERENCE, &v), SBT_OK);
    ck_assert_int_eq(v.is_correct, 1);
    ck_assert_int_eq(sbt_improve_keep(&kept, buf, sizeof buf, bt, strlen(bt), SBT_VERIFY_REFERENCE),
                     SBT_OK);
    ck_assert_int_eq(kept, 0);
    /* wrong */
    const char *bad = P "44+5=48\nGoal Reached!";
    ck_assert_int_eq(sbt_improve_keep(&kept, buf, sizeof buf, bad, strlen(bad),
                                      SBT_VERIFY_REFERENCE), SBT_OK);
    ck_assert_int_eq(kept, 0);
    /* too small a buffer */
    ck_assert_int_eq(sbt_improve_keep(&kept, buf, 5, ok, strlen(ok), SBT_VERIFY_REFERENCE),
                     SBT_E_INVALID_ARGUMENT);
    ck_assert_int_eq(sbt_improve_keep(NULL, buf, sizeof buf, ok, strlen(ok), SBT_VERIFY_REFERENCE),
                     SBT_E_INVALID_ARGUMENT);
}
END_TEST

/* ---- fixtures ------------------------------------------------------------------------ */

/* A tiny model trained on the D_op rows of `seen`'s problems until it reproduces most of
 * them, saved with its tokenizer as model0. */
static void setup(void)
{
    be = test_backend(SBT_BACKEND_CPU, 2);
    ck_assert_int_eq(sbt_tokenizer_create_countdown(&tok), SBT_OK);
    sbt_countdown_options co;
    sbt_countdown_options_init(&co);
    co.train_problems = 8;
    co.back_per_op = 0;
    co.val_problems = 1;
    co.val_new_problems = 4;
    sbt_countdown_data *g = NULL;
    ck_assert_int_eq(sbt_countdown_generate(&g, &co), SBT_OK);
    sbt_dataset *train = NULL;
    ck_assert_int_eq(sbt_dataset_create(&train), SBT_OK);
    ck_assert_int_eq(sbt_dataset_create(&seen), SBT_OK);
    ck_assert_int_eq(sbt_dataset_create(&unseen), SBT_OK);
    for (int64_t i = 0; i < sbt_countdown_data_count(g, SBT_SPLIT_TRAIN); i++) {
        sbt_countdown_row r = {sizeof r};
        ck_assert_int_eq(sbt_countdown_data_row(g, SBT_SPLIT_TRAIN, i, &r), SBT_OK);
        if (r.kind != SBT_ROW_OPTIMAL)
            continue;
        ck_assert_int_eq(sbt_dataset_append(train, &r.problem, r.search_path), SBT_OK);
        ck_assert_int_eq(sbt_dataset_append(seen, &r.problem, NULL), SBT_OK);
    }
    for (int64_t i = 0; i < sbt_countdown_data_count(g, SBT_SPLIT_VAL_NEW); i++) {
        sbt_countdown_row r = {sizeof r};
        ck_assert_int_eq(sbt_countdown_data_row(g, SBT_SPLIT_VAL_NEW, i, &r), SBT_OK);
        ck_assert_int_eq(sbt_dataset_append(unseen, &r.problem, NULL), SBT_OK);
    }
    sbt_countdown_data_free(g);
    tmp = make_tmp_dir("improve_");

    /* trained once, then shared by the tests (each runs in its own process) */
    snprintf(model0, sizeof model0, "%s/improve_model0_v3", SBT_TEST_TMP_DIR);
    char probe[1100];
    snprintf(probe, sizeof probe, "%s/tokenizer.json", model0);
    struct stat st;
    if (stat(probe, &st) != 0) {
        sbt_model_config c;
        ck_assert_int_eq(sbt_trainer_preset_config(&c, "tiny", tok), SBT_OK);
        sbt_model *m = NULL;
        ck_assert_int_eq(sbt_model_create(&m, be, &c, 7), SBT_OK);
        sbt_trainer_options o;
        sbt_trainer_options_init(&o);
        char tdir[700];
        snprintf(tdir, sizeof tdir, "%s/pretrain", tmp);
        o.output_dir = tdir;
        o.batch_size = 8;
        o.lr = 1e-2;
        o.max_steps = 100;
        o.warmup_steps = 5;
        o.log_steps = 0;
        o.eval_steps = 0;
        o.save_steps = 0;
        o.pad_label_eos = 1;
        sbt_trainer *t = NULL;
        ck_assert_int_eq(sbt_trainer_create(&t, m, tok, train, NULL, &o), SBT_OK);
        ck_assert_msg(sbt_trainer_train(t) == SBT_OK, "%s", sbt_last_error());
        sbt_trainer_free(t);
        char final[800];
        snprintf(final, sizeof final, "%s/final_model", tdir);
        ck_assert_int_eq(rename(final, model0), 0); /* whole or absent */
        sbt_model_free(m);
    }
    sbt_dataset_free(train);
}

static void teardown(void)
{
    char cmd[800];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", tmp);
    free(tmp);
    sbt_dataset_free(seen);
    sbt_dataset_free(unseen);
    sbt_tokenizer_free(tok);
    sbt_backend_free(be);
}

static sbt_decoder_options search;
static sbt_trainer_options train;

typedef struct calls {
    int n, resumed, stop_after;
    int iteration[16];
    double fast_seen[16];
} calls;

static int on_it(const sbt_improve_iteration *it, void *ud)
{
    calls *c = ud;
    ck_assert_uint_eq(it->size, sizeof *it);
    if (c->n < 16) {
        c->iteration[c->n] = it->iteration;
        c->fast_seen[c->n] = it->fast_seen;
    }
    c->n++;
    c->resumed += it->resumed;
    return c->stop_after >= 0 && it->iteration == c->stop_after && !it->resumed;
}

static sbt_improve_options opts(const char *sub, calls *c)
{
    static char dir[4][700];
    static int k;
    char *d = dir[k++ % 4];
    snprintf(d, 700, "%s/%s", tmp, sub);
    sbt_improve_options o;
    sbt_improve_options_init(&o);
    o.output_dir = d;
    o.start_model = model0;
    o.backend = be;
    o.times = 2;
    o.seen = seen;
    o.unseen = unseen;
    o.decode_batch = 4;
    sbt_improve_search_defaults(&search);
    search.n = 4;
    o.search = &search;
    sbt_improve_train_defaults(&train);
    train.lr = 1e-3;
    train.batch_size = 8;
    train.num_train_epochs = 1;
    o.train = &train;
    o.callback = on_it;
    o.callback_user_data = c;
    return o;
}

static int exists(const char *dir, const char *name)
{
    char p[1000];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    struct stat st;
    return stat(p, &st) == 0;
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    ck_assert_int_eq(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = 0;
    fclose(f);
    return s;
}

static int count_of(const char *s, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static int in_seen(const sbt_countdown_problem *p)
{
    for (int64_t i = 0; i < sbt_dataset_count(seen); i++) {
        sbt_dataset_row r = {sizeof r};
        ck_assert_int_eq(sbt_dataset_get(seen, i, &r), SBT_OK);
        if (r.problem.target == p->target && r.problem.n_nums == p->n_nums &&
            memcmp(r.problem.nums, p->nums, sizeof(int32_t) * (size_t)p->n_nums) == 0)
            return 1;
    }
    return 0;
}

/* Every kept row verifies (prompt + search_path) and has no <backtrack>; returns the rows. */
static int64_t check_kept(const char *dir, int t)
{
    char p[1000];
    snprintf(p, sizeof p, "%s/kept_iteration_%d.jsonl", dir, t);
    sbt_dataset *ds = NULL;
    ck_assert_msg(sbt_dataset_load(&ds, p, NULL) == SBT_OK, "%s", sbt_last_error());
    int64_t n = sbt_dataset_count(ds);
    for (int64_t i = 0; i < n; i++) {
        sbt_dataset_row r = {sizeof r};
        ck_assert_int_eq(sbt_dataset_get(ds, i, &r), SBT_OK);
        ck_assert_ptr_null(strstr(r.search_path, "<backtrack>"));
        size_t L = strlen(r.search_path);
        ck_assert(L >= 13 && strcmp(r.search_path + L - 13, "Goal Reached!") == 0);
        char text[512];
        size_t pl = sbt_countdown_prompt(&r.problem, text, sizeof text);
        snprintf(text + pl, sizeof text - pl, "%s", r.search_path);
        sbt_countdown_verdict v = {sizeof v};
        ck_assert_int_eq(sbt_countdown_verify(text, strlen(text), SBT_VERIFY_REFERENCE, &v), SBT_OK);
        ck_assert_msg(v.is_correct, "kept row %lld does not verify: %s", (long long)i, text);
        ck_assert(in_seen(&r.problem));
    }
    sbt_dataset_free(ds);
    return n;
}

/* ---- the loop ------------------------------------------------------------------------ */

START_TEST(loop_files_and_resume)
{
    calls c = {0, 0, 0, {0}, {0}};
    c.stop_after = 1; /* "crash" after iteration 1 */
    sbt_improve_options o = opts("run", &c);
    ck_assert_int_eq(sbt_improve_run(&o), SBT_E_CANCELLED);
    ck_assert_int_eq(c.n, 2);
    const char *d = o.output_dir;
    ck_assert(exists(d, "report.json"));
    ck_assert(exists(d, "model_iteration_1/model.safetensors"));
    ck_assert(exists(d, "model_iteration_1/config.json"));
    ck_assert(exists(d, "model_iteration_1/tokenizer.json"));
    ck_assert(exists(d, "train_iteration_1/metrics.jsonl"));
    ck_assert(!exists(d, "model_iteration_2"));
    int64_t k1 = check_kept(d, 1);
    ck_assert_msg(k1 > 0, "the memorising model kept nothing");
    check_kept(d, 2); /* written before entry 1 */
    char p[1000];
    snprintf(p, sizeof p, "%s/report.json", d);
    char *rep = read_all(p);
    ck_assert_int_eq(count_of(rep, "\"protocol\": \"transductive\""), 3); /* config + 2 */
    free(rep);

    /* restart: iterations 0 and 1 are reported as done, only 2 is made */
    calls c2 = {0, 0, -1, {0}, {0}};
    sbt_improve_options o2 = opts("run", &c2);
    ck_assert_msg(sbt_improve_run(&o2) == SBT_OK, "%s", sbt_last_error());
    ck_assert_int_eq(c2.n, 3);
    ck_assert_int_eq(c2.resumed, 2);
    ck_assert_int_eq(c2.iteration[2], 2);
    ck_assert(c2.fast_seen[0] == c.fast_seen[0]);
    ck_assert(exists(d, "model_iteration_2/model.safetensors"));
    ck_assert(!exists(d, "kept_iteration_3.jsonl")); /* the last model searches for nothing */
    rep = read_all(p);
    ck_assert_int_eq(count_of(rep, "\"iteration\": "), 3);
    ck_assert_int_eq(count_of(rep, "\"fast\": "), 2 * 3 + 1 + 2 * 3); /* seen/new, config, other */
    free(rep);

    /* the same again: nothing to do, every iteration resumed */
    calls c3 = {0, 0, -1, {0}, {0}};
    sbt_improve_options o3 = opts("run", &c3);
    ck_assert_int_eq(sbt_improve_run(&o3), SBT_OK);
    ck_assert_int_eq(c3.n, 3);
    ck_assert_int_eq(c3.resumed, 3);

    /* other settings are refused, naming the setting */
    calls c4 = {0, 0, -1, {0}, {0}};
    sbt_improve_options o4 = opts("run", &c4);
    o4.seed = 99;
    ck_assert_int_eq(sbt_improve_run(&o4), SBT_E_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(sbt_last_error(), "\"seed\""));
    ck_assert_int_eq(c4.n, 0);
}
END_TEST

START_TEST(heldout_draws_fresh_problems)
{
    calls c = {0, 0, -1, {0}, {0}};
    sbt_improve_options o = opts("heldout", &c);
    o.protocol = SBT_IMPROVE_HELDOUT;
    o.times = 1;
    o.heldout_problems = 6;
    o.eval_slow = 0;
    ck_assert_msg(sbt_improve_run(&o) == SBT_OK, "%s", sbt_last_error());
    ck_assert_int_eq(c.n, 2);
    char p[1000];
    snprintf(p, sizeof p, "%s/heldout_problems.jsonl", o.output_dir);
    sbt_dataset_options dopt;
    sbt_dataset_options_init(&dopt);
    dopt.require_search_path = 0;
    sbt_dataset *ds = NULL;
    ck_assert_int_eq(sbt_dataset_load(&ds, p, &dopt), SBT_OK);
    ck_assert_int_eq(sbt_dataset_count(ds), 6);
    sbt_countdown_options co;
    sbt_countdown_options_init(&co);
    int32_t held[64];
    size_t nh = 0;
    ck_assert_int_eq(sbt_countdown_heldout_targets(&co, held, 64, &nh), SBT_OK);
    for (int64_t i = 0; i < 6; i++) {
        sbt_dataset_row r = {sizeof r};
        ck_assert_int_eq(sbt_dataset_get(ds, i, &r), SBT_OK);
        for (size_t k = 0; k < nh; k++)
            ck_assert_int_ne(r.problem.target, held[k]);
        char sol[256];
        int found = 0;
        ck_assert_int_eq(sbt_countdown_solve(&r.problem, sol, sizeof sol, &found), SBT_OK);
        ck_assert_int_eq(found, 1);
        ck_assert(!in_seen(&r.problem));
    }
    sbt_dataset_free(ds);
    snprintf(p, sizeof p, "%s/report.json", o.output_dir);
    char *rep = read_all(p);
    ck_assert_int_eq(count_of(rep, "\"protocol\": \"heldout\""), 3);
    ck_assert_ptr_nonnull(strstr(rep, "\"problems_from\": \"heldout_problems.jsonl\""));
    ck_assert_ptr_nonnull(strstr(rep, "\"self_trained_on\": false"));
    ck_assert_ptr_null(strstr(rep, "\"self_trained_on\": true"));
    free(rep);
    ck_assert(exists(o.output_dir, "model_iteration_1/model.safetensors"));
}
END_TEST

START_TEST(bad_options)
{
    calls c = {0, 0, -1, {0}, {0}};
    sbt_improve_options o = opts("bad", &c);
    o.output_dir = NULL;
    ck_assert_int_eq(sbt_improve_run(&o), SBT_E_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(sbt_last_error(), "output_dir"));
    o = opts("bad", &c);
    o.seen = NULL;
    ck_assert_int_eq(sbt_improve_run(&o), SBT_E_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(sbt_last_error(), "seen"));
    o = opts("bad", &c);
    search.strategy = SBT_DECODE_GREEDY;
    ck_assert_int_eq(sbt_improve_run(&o), SBT_E_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(sbt_last_error(), "search.strategy"));
    o = opts("bad", &c);
    o.times = -1;
    ck_assert_int_eq(sbt_improve_run(&o), SBT_E_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(sbt_last_error(), "times"));
    o = opts("bad", &c);
    o.start_model = "/nonexistent/model";
    ck_assert_int_ne(sbt_improve_run(&o), SBT_OK);
    ck_assert_ptr_nonnull(strstr(sbt_last_error(), "/nonexistent/model"));
    ck_assert_int_eq(sbt_improve_run(NULL), SBT_E_INVALID_ARGUMENT);
    sbt_improve_protocol pr;
    ck_assert_int_eq(sbt_improve_protocol_parse("heldout", &pr), SBT_OK);
    ck_assert_int_eq(pr, SBT_IMPROVE_HELDOUT);
    ck_assert_int_eq(sbt_improve_protocol_parse("inductive", &pr), SBT_E_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(sbt_last_error(), "inductive"));
    ck_assert_str_eq(sbt_improve_protocol_name(SBT_IMPROVE_TRANSDUCTIVE), "transductive");
    ck_assert_int_eq(c.n, 0);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("improve");
    TCase *tf = tcase_create("filter");
    tcase_add_test(tf, keep_filter);
    suite_add_tcase(s, tf);
    TCase *tc = tcase_create("loop");
    tcase_set_timeout(tc, 300);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, loop_files_and_resume);
    tcase_add_test(tc, heldout_draws_fresh_problems);
    tcase_add_test(tc, bad_options);
    suite_add_tcase(s, tc);
    return s;
}

SBT_CHECK_MAIN(make_suite)
