/* test_trainer.c — sbt_trainer on a tiny model on the CPU: the schedules equal transformers'
 * lambdas; presets; option errors name the field; the loss falls; gradient accumulation of k
 * micro-batches equals one batch k times larger (the loss is the token mean of the whole step);
 * in-process resume from a checkpoint gives the same parameters bit for bit; cancelling saves
 * a checkpoint. */
#define _GNU_SOURCE
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "selfbt/dataset.h"
#include "selfbt/selfbt.h"
#include "selfbt/trainer.h"

#include "backend_fixture.h"
#include "check_main.h"
#include "tokenizer_fixture.h"

static sbt_backend *be;
static sbt_tokenizer *tok;
static sbt_dataset *data;
static char *tmp;

static void setup(void)
{
    be = test_backend(SBT_BACKEND_CPU, 2);
    ck_assert_int_eq(sbt_tokenizer_create_countdown(&tok), SBT_OK);
    sbt_countdown_options co;
    sbt_countdown_options_init(&co);
    co.train_problems = 48;
    co.val_problems = 8;
    co.val_new_problems = 1;
    sbt_countdown_data *g = NULL;
    ck_assert_int_eq(sbt_countdown_generate(&g, &co), SBT_OK);
    ck_assert_int_eq(sbt_dataset_create(&data), SBT_OK);
    for (int64_t i = 0; i < sbt_countdown_data_count(g, SBT_SPLIT_TRAIN); i++) {
        sbt_countdown_row r = {sizeof r};
        ck_assert_int_eq(sbt_countdown_data_row(g, SBT_SPLIT_TRAIN, i, &r), SBT_OK);
        ck_assert_int_eq(sbt_dataset_append(data, &r.problem, r.search_path), SBT_OK);
    }
    sbt_countdown_data_free(g);
    tmp = make_tmp_dir("trainer_");
}

static void teardown(void)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", tmp);
    free(tmp);
    sbt_dataset_free(data);
    sbt_tokenizer_free(tok);
    sbt_backend_free(be);
}

static sbt_model *tiny_model(void)
{
    sbt_model_config c;
    ck_assert_int_eq(sbt_trainer_preset_config(&c, "tiny", tok), SBT_OK);
    sbt_model *m = NULL;
    ck_assert_msg(sbt_model_create(&m, be, &c, 7) == SBT_OK, "%s", sbt_last_error());
    return m;
}

static sbt_trainer_options base_options(const char *sub)
{
    static char dir[8][600];
    static int k;
    char *d = dir[k++ % 8];
    snprintf(d, 600, "%s/%s", tmp, sub);
    sbt_trainer_options o;
    sbt_trainer_options_init(&o);
    o.output_dir = d;
    o.batch_size = 8;
    o.lr = 3e-3;
    o.max_steps = 12;
    o.log_steps = 0;
    o.eval_steps = 0;
    o.save_steps = 0;
    o.warmup_steps = 2;
    return o;
}

/* All parameters of m as one host array (caller frees), through a save + reload. */
static float *params_of(sbt_model *m, const char *dir, int64_t *n)
{
    (void)dir;
    sbt_model_config c = {sizeof c};
    sbt_model_get_config(m, &c);
    /* the logits of a fixed input identify the parameters well enough and are cheap */
    int32_t ids[12] = {1288, 356, 1284, 58, 1285, 259, 50, 44, 32, 295, 44, 32};
    float *out = malloc(sizeof(float) * 12 * (size_t)c.vocab_size);
    ck_assert_int_eq(sbt_model_forward(m, ids, 1, 12, NULL, 0, out), SBT_OK);
    *n = 12 * c.vocab_size;
    return out;
}

START_TEST(schedules)
{
    /* transformers: the first step of a warmup runs at 0 */
    ck_assert_double_eq(sbt_lr_at(SBT_LR_COSINE, 1.0, 1, 10, 0), 0.0);
    ck_assert_double_eq_tol(sbt_lr_at(SBT_LR_COSINE, 1.0, 1, 10, 1), 1.0, 1e-12);
    ck_assert_double_eq_tol(sbt_lr_at(SBT_LR_COSINE, 1.0, 0, 10, 5), 0.5, 1e-12);
    ck_assert_double_eq_tol(sbt_lr_at(SBT_LR_COSINE, 2.0, 2, 12, 7), 1.0, 1e-12);
    ck_assert_double_eq_tol(sbt_lr_at(SBT_LR_LINEAR, 1.0, 2, 12, 1), 0.5, 1e-12);
    ck_assert_double_eq_tol(sbt_lr_at(SBT_LR_LINEAR, 1.0, 2, 12, 7), 0.5, 1e-12);
    ck_assert_double_eq(sbt_lr_at(SBT_LR_LINEAR, 1.0, 2, 12, 12), 0.0);
    ck_assert_double_eq(sbt_lr_at(SBT_LR_CONSTANT, 3.0, 5, 12, 0), 3.0);
    ck_assert_double_eq_tol(sbt_lr_at(SBT_LR_CONSTANT_WITH_WARMUP, 1.0, 4, 12, 1), 0.25, 1e-12);
    sbt_lr_schedule s;
    ck_assert_int_eq(sbt_lr_schedule_parse("linear", &s), SBT_OK);
    ck_assert_int_eq(s, SBT_LR_LINEAR);
    ck_assert_int_eq(sbt_lr_schedule_parse("polynomial", &s), SBT_E_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(sbt_last_error(), "polynomial"));
    ck_assert_str_eq(sbt_lr_schedule_name(SBT_LR_COSINE), "cosine");
}
END_TEST

START_TEST(presets_and_options)
{
    sbt_model_config c;
    for (int i = 0; sbt_trainer_preset_name(i); i++)
        ck_assert_int_eq(sbt_trainer_preset_config(&c, sbt_trainer_preset_name(i), tok), SBT_OK);
    ck_assert_int_eq(sbt_trainer_preset_config(&c, "huge", tok), SBT_E_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(sbt_last_error(), "huge"));
    sbt_model *m = tiny_model();
    sbt_trainer *t = NULL;
    sbt_trainer_options o = base_options("x");
    o.batch_size = 0;
    ck_assert_int_eq(sbt_trainer_create(&t, m, tok, data, NULL, &o), SBT_E_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(sbt_last_error(), "batch_size"));
    o = base_options("x");
    o.output_dir = NULL;
    ck_assert_int_eq(sbt_trainer_create(&t, m, tok, data, NULL, &o), SBT_E_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(sbt_last_error(), "output_dir"));
    o = base_options("x");
    o.warmup_steps = -1;
    ck_assert_int_eq(sbt_trainer_create(&t, m, tok, data, NULL, &o), SBT_E_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(sbt_last_error(), "warmup_steps"));
    sbt_dataset *empty = NULL;
    ck_assert_int_eq(sbt_dataset_create(&empty), SBT_OK);
    o = base_options("x");
    ck_assert_int_eq(sbt_trainer_create(&t, m, tok, empty, NULL, &o), SBT_E_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(sbt_last_error(), "no rows"));
    ck_assert_ptr_null(t);
    sbt_dataset_free(empty);
    /* steps: 96 rows / 8 = 12 batches; accumulation 5 -> 3 steps per epoch (the last takes 2) */
    o = base_options("x");
    o.max_steps = 0;
    o.num_train_epochs = 2;
    o.gradient_accumulation_steps = 5;
    ck_assert_int_eq(sbt_trainer_create(&t, m, tok, data, NULL, &o), SBT_OK);
    ck_assert_int_eq(sbt_trainer_max_steps(t), 6);
    ck_assert_int_eq(sbt_trainer_step(t), 0);
    sbt_trainer_free(t);
    sbt_model_free(m);
}
END_TEST

START_TEST(loss_falls)
{
    sbt_model *m = tiny_model();
    sbt_trainer *t = NULL;
    sbt_trainer_options o = base_options("falls");
    o.max_steps = 30;
    sbt_dataset *val = NULL;
    ck_assert_int_eq(sbt_dataset_slice(&val, data, 0, 16), SBT_OK);
    ck_assert_int_eq(sbt_trainer_create(&t, m, tok, data, val, &o), SBT_OK);
    double before, after;
    int64_t n;
    ck_assert_int_eq(sbt_trainer_evaluate(t, &before, &n), SBT_OK);
    ck_assert_int_gt(n, 0);
    ck_assert_msg(sbt_trainer_train(t) == SBT_OK, "%s", sbt_last_error());
    ck_assert_int_eq(sbt_trainer_step(t), 30);
    ck_assert_int_eq(sbt_trainer_evaluate(t, &after, NULL), SBT_OK);
    ck_assert_msg(after < 0.7 * before, "eval loss %g -> %g", before, after);
    sbt_trainer_free(t);
    sbt_dataset_free(val);
    sbt_model_free(m);
}
END_TEST

/* log p(EOS | a D_op row ending in EOS, then one more EOS) under m. */
static double eos_after_eos(sbt_model *m)
{
    int32_t ids[64];
    size_t n = 0;
    sbt_dataset_row row = {sizeof row};
    ck_assert_int_eq(sbt_dataset_get(data, 0, &row), SBT_OK);
    char text[512];
    size_t plen = sbt_countdown_prompt(&row.problem, text, sizeof text);
    snprintf(text + plen, sizeof text - plen, "%s", row.search_path);
    ck_assert_int_eq(sbt_tokenizer_encode(tok, text, strlen(text), SBT_ENCODE_ADD_SPECIAL, ids,
                                          60, &n), SBT_OK);
    ids[n++] = sbt_tokenizer_eos(tok);
    ids[n++] = sbt_tokenizer_eos(tok);
    sbt_model_config c = {sizeof c};
    sbt_model_get_config(m, &c);
    float *lg = malloc(sizeof(float) * (size_t)c.vocab_size);
    ck_assert_int_eq(sbt_model_forward(m, ids, 1, (int)n, NULL, SBT_FORWARD_LAST_ONLY, lg),
                     SBT_OK);
    double mx = lg[0], z = 0;
    for (int v = 1; v < c.vocab_size; v++)
        mx = lg[v] > mx ? lg[v] : mx;
    for (int v = 0; v < c.vocab_size; v++)
        z += exp(lg[v] - mx);
    double lp = lg[sbt_tokenizer_eos(tok)] - mx - log(z);
    free(lg);
    return lp;
}

/* The seed's padding quirk: with pad_label_eos the model learns EOS after EOS (the reference
 * score counts on it); without it that position is never trained. */
START_TEST(pad_label_eos_teaches_eos_after_eos)
{
    double lp[2];
    for (int quirk = 0; quirk < 2; quirk++) {
        sbt_model *m = tiny_model();
        sbt_trainer *t = NULL;
        sbt_trainer_options o = base_options(quirk ? "quirk" : "noquirk");
        o.max_steps = 60;
        o.pad_label_eos = quirk;
        ck_assert_int_eq(sbt_trainer_create(&t, m, tok, data, NULL, &o), SBT_OK);
        ck_assert_msg(sbt_trainer_train(t) == SBT_OK, "%s", sbt_last_error());
        sbt_trainer_free(t);
        lp[quirk] = eos_after_eos(m);
        sbt_model_free(m);
    }
    printf("log p(EOS | EOS): %g without, %g with pad_label_eos\n", lp[0], lp[1]);
    ck_assert_msg(lp[1] > -0.5 && lp[1] > lp[0] + 0.3,
                  "log p(EOS | EOS): %g without the quirk, %g with it", lp[0], lp[1]);
}
END_TEST

/* 2 micro-batches of 4 rows accumulated == 1 batch of 8 rows (same rows, same order): the
 * loss is the mean over the step's labelled tokens, not a mean of micro-batch means. */
START_TEST(accumulation_equals_big_batch)
{
    sbt_model *m1 = tiny_model(), *m2 = tiny_model();
    sbt_trainer *t1 = NULL, *t2 = NULL;
    sbt_trainer_options o = base_options("ga1");
    o.shuffle = 0;
    o.max_steps = 4;
    ck_assert_int_eq(sbt_trainer_create(&t1, m1, tok, data, NULL, &o), SBT_OK);
    o = base_options("ga2");
    o.shuffle = 0;
    o.max_steps = 4;
    o.batch_size = 4;
    o.gradient_accumulation_steps = 2;
    ck_assert_int_eq(sbt_trainer_create(&t2, m2, tok, data, NULL, &o), SBT_OK);
    ck_assert_int_eq(sbt_trainer_train(t1), SBT_OK);
    ck_assert_int_eq(sbt_trainer_train(t2), SBT_OK);
    int64_t n;
    float *a = params_of(m1, NULL, &n), *b = params_of(m2, NULL, &n);
    double maxd = 0, maxa = 0;
    for (int64_t i = 0; i < n; i++) {
        maxd = fmax(maxd, fabs((double)a[i] - b[i]));
        maxa = fmax(maxa, fabs((double)a[i]));
    }
    /* not bit-equal (padding widths and summation order differ), equal to fp32 rounding */
    ck_assert_msg(maxd < 1e-4 * (1 + maxa), "logits differ by %g (scale %g)", maxd, maxa);
    free(a);
    free(b);
    sbt_trainer_free(t1);
    sbt_trainer_free(t2);
    sbt_model_free(m1);
    sbt_model_free(m2);
}
END_TEST

static int cancel_at_5(const sbt_trainer_event *ev, void *user)
{
    (void)user;
    return ev->kind == SBT_TRAIN_EVENT_STEP && ev->step == 5;
}

/* Train 12 steps straight; train 5, cancel (a checkpoint is saved), load it into a new model
 * and resume to 12: identical logits bit for bit. */
START_TEST(resume_in_process)
{
    sbt_model *m1 = tiny_model();
    sbt_trainer *t = NULL;
    sbt_trainer_options o = base_options("straight");
    ck_assert_int_eq(sbt_trainer_create(&t, m1, tok, data, NULL, &o), SBT_OK);
    ck_assert_int_eq(sbt_trainer_train(t), SBT_OK);
    sbt_trainer_free(t);

    sbt_model *m2 = tiny_model();
    o = base_options("cut");
    o.callback = cancel_at_5;
    ck_assert_int_eq(sbt_trainer_create(&t, m2, tok, data, NULL, &o), SBT_OK);
    ck_assert_int_eq(sbt_trainer_train(t), SBT_E_CANCELLED);
    ck_assert_int_eq(sbt_trainer_step(t), 5);
    sbt_trainer_free(t);
    sbt_model_free(m2);

    char ck[700];
    ck_assert_int_eq(sbt_trainer_latest_checkpoint(o.output_dir, ck, sizeof ck), SBT_OK);
    ck_assert_ptr_nonnull(strstr(ck, "checkpoint-5"));
    sbt_model *m3 = NULL;
    ck_assert_int_eq(sbt_model_load(&m3, be, ck), SBT_OK);
    o.callback = NULL;
    ck_assert_int_eq(sbt_trainer_create(&t, m3, tok, data, NULL, &o), SBT_OK);
    ck_assert_msg(sbt_trainer_resume(t, NULL) == SBT_OK, "%s", sbt_last_error());
    ck_assert_int_eq(sbt_trainer_step(t), 5);
    ck_assert_int_eq(sbt_trainer_train(t), SBT_OK);
    ck_assert_int_eq(sbt_trainer_step(t), 12);
    int64_t n;
    float *a = params_of(m1, NULL, &n), *b = params_of(m3, NULL, &n);
    ck_assert_int_eq(memcmp(a, b, sizeof(float) * (size_t)n), 0);
    free(a);
    free(b);
    sbt_trainer_free(t);

    /* another seed is refused, naming the field */
    o.seed = 43;
    ck_assert_int_eq(sbt_trainer_create(&t, m3, tok, data, NULL, &o), SBT_OK);
    ck_assert_int_eq(sbt_trainer_resume(t, ck), SBT_E_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(sbt_last_error(), "seed"));
    ck_assert_int_eq(sbt_trainer_resume(t, tmp), SBT_E_NOT_FOUND);
    sbt_trainer_free(t);
    sbt_model_free(m3);
    sbt_model_free(m1);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("trainer");
    TCase *tc = tcase_create("trainer");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, schedules);
    tcase_add_test(tc, presets_and_options);
    tcase_add_test(tc, loss_falls);
    tcase_add_test(tc, pad_label_eos_teaches_eos_after_eos);
    tcase_add_test(tc, accumulation_equals_big_batch);
    tcase_add_test(tc, resume_in_process);
    suite_add_tcase(s, tc);
    return s;
}

SBT_CHECK_MAIN(suite)
