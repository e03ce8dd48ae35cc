/* trainer.c — sbt_trainer: options, batches (seeded shuffle per epoch, right padding that is
 * never attended nor trained, shifted targets), the optimizer step over accumulated
 * micro-batches with a token-mean loss, eval loss, metrics.jsonl and the training loop. */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/error.h"
#include "core/log.h"
#include "core/rng.h"
#include "model/model.h"
#include "train/train_internal.h"

#define SHUFFLE_STREAM UINT64_C(0x73687566666c65) /* "shuffle" */

void sbt_trainer_options_init(sbt_trainer_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->size = sizeof *o;
    o->seed = 42;
    o->context_length = 128;
    o->batch_size = 16;
    o->gradient_accumulation_steps = 1;
    o->num_train_epochs = 3;
    o->lr = 1e-5;
    o->lr_scheduler_type = SBT_LR_COSINE;
    o->warmup_steps = 1;
    o->weight_decay = 0.01;
    o->adam_beta1 = 0.9;
    o->adam_beta2 = 0.999;
    o->adam_epsilon = 1e-8;
    o->max_grad_norm = 1.0;
    o->log_steps = 10;
    o->eval_steps = 5000;
    o->save_steps = 5000;
    o->final_dtype = SBT_DTYPE_AUTO;
    o->mask_error_step = 1;
    o->shuffle = 1;
}

static sbt_status check_options(const sbt_trainer_options *o)
{
#define BAD(...) return sbti_fail(SBT_E_INVALID_ARGUMENT, __VA_ARGS__)
    if (!o->output_dir || !*o->output_dir)
        BAD("trainer: output_dir is not set");
    if (o->context_length < 2 || o->context_length > 1 << 20)
        BAD("trainer: context_length %d is outside 2..%d", (int)o->context_length, 1 << 20);
    if (o->batch_size < 1 || o->batch_size > 1 << 16)
        BAD("trainer: batch_size %d is outside 1..65536", (int)o->batch_size);
    if (o->eval_batch_size < 0 || o->eval_batch_size > 1 << 16)
        BAD("trainer: eval_batch_size %d is outside 0..65536", (int)o->eval_batch_size);
    if (o->gradient_accumulation_steps < 1 || o->gradient_accumulation_steps > 1 << 16)
        BAD("trainer: gradient_accumulation_steps %d is outside 1..65536",
            (int)o->gradient_accumulation_steps);
    if (!(o->num_train_epochs >= 0) || o->num_train_epochs > 1e6)
        BAD("trainer: num_train_epochs %g is not a number of epochs", o->num_train_epochs);
    if (o->max_steps < 0 || o->warmup_steps < 0 || o->log_steps < 0 || o->eval_steps < 0 ||
        o->save_steps < 0 || o->eval_max_rows < 0 || o->save_total_limit < 0)
        BAD("trainer: %s is negative",
            o->max_steps < 0       ? "max_steps"
            : o->warmup_steps < 0  ? "warmup_steps"
            : o->log_steps < 0     ? "log_steps"
            : o->eval_steps < 0    ? "eval_steps"
            : o->save_steps < 0    ? "save_steps"
            : o->eval_max_rows < 0 ? "eval_max_rows"
                                   : "save_total_limit");
    if (o->max_steps == 0 && o->num_train_epochs <= 0)
        BAD("trainer: num_train_epochs is 0 and max_steps is not set: nothing to train");
    if (!(o->lr >= 0) || !isfinite(o->lr))
        BAD("trainer: lr %g is not a learning rate", o->lr);
    if (!sbt_lr_schedule_name(o->lr_scheduler_type))
        BAD("trainer: lr_scheduler_type %d is not a sbt_lr_schedule", (int)o->lr_scheduler_type);
    if (!(o->weight_decay >= 0) || !isfinite(o->weight_decay))
        BAD("trainer: weight_decay %g is not valid", o->weight_decay);
    if (!(o->adam_beta1 >= 0 && o->adam_beta1 < 1) || !(o->adam_beta2 >= 0 && o->adam_beta2 < 1))
        BAD("trainer: adam_beta%d %g is outside [0, 1)", o->adam_beta1 >= 0 && o->adam_beta1 < 1 ? 2 : 1,
            o->adam_beta1 >= 0 && o->adam_beta1 < 1 ? o->adam_beta2 : o->adam_beta1);
    if (!(o->adam_epsilon > 0) || !isfinite(o->adam_epsilon))
        BAD("trainer: adam_epsilon %g must be positive", o->adam_epsilon);
    if (isnan(o->max_grad_norm))
        BAD("trainer: max_grad_norm is NaN");
    if (o->final_dtype < SBT_DTYPE_AUTO || o->final_dtype > SBT_DTYPE_F16)
        BAD("trainer: final_dtype %d is not a sbt_dtype", (int)o->final_dtype);
#undef BAD
    return SBT_OK;
}

/* FNV-1a over the training rows: resume refuses other data. */
static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}

static uint64_t fingerprint(const sbt_dataset *d)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    int64_t n = sbt_dataset_count(d);
    h = fnv(h, &n, sizeof n);
    for (int64_t i = 0; i < n; i++) {
        sbt_dataset_row r = {sizeof r};
        sbt_dataset_get(d, i, &r);
        h = fnv(h, &r.problem.n_nums, sizeof r.problem.n_nums);
        h = fnv(h, r.problem.nums, sizeof r.problem.nums[0] * (size_t)r.problem.n_nums);
        h = fnv(h, &r.problem.target, sizeof r.problem.target);
        if (r.search_path)
            h = fnv(h, r.search_path, strlen(r.search_path) + 1);
    }
    return h;
}

void sbt_trainer_free(sbt_trainer *t)
{
    if (!t)
        return;
    if (t->metrics)
        fclose(t->metrics);
    if (t->m)
        sbti_model_release_training(t->m);
    free(t->output_dir);
    free(t->perm);
    free(t->ids);
    free(t->targets);
    free(t->lens);
    free(t->row_ids);
    free(t->row_labels);
    free(t);
}

sbt_status sbt_trainer_create(sbt_trainer **out, sbt_model *model, const sbt_tokenizer *tok,
                              const sbt_dataset *train, const sbt_dataset *val,
                              const sbt_trainer_options *opts)
{
    if (!out)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_trainer_create: out is NULL");
    *out = NULL;
    if (!model || !tok || !train)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_trainer_create: %s is NULL",
                         !model ? "model" : !tok ? "tok" : "train");
    sbt_trainer_options o;
    sbt_trainer_options_init(&o);
    if (opts) {
        if (opts->size < offsetof(sbt_trainer_options, output_dir) + sizeof(char *) ||
            opts->size > sizeof o)
            return sbti_fail(SBT_E_INVALID_ARGUMENT,
                             "sbt_trainer_create: options.size %zu is not valid (call "
                             "sbt_trainer_options_init)", opts->size);
        memcpy(&o, opts, opts->size);
        o.size = sizeof o;
    }
    sbt_status st = check_options(&o);
    if (st != SBT_OK)
        return st;
    if (sbt_tokenizer_eos(tok) < 0)
        return sbti_fail(SBT_E_INVALID_ARGUMENT,
                         "trainer: the tokenizer has no EOS token to end each example");
    if (sbt_tokenizer_n_vocab(tok) > model->V)
        return sbti_fail(SBT_E_INVALID_ARGUMENT,
                         "trainer: the tokenizer has %d ids but the model only %d embedding rows "
                         "(grow it with sbt_model_resize_vocab)",
                         (int)sbt_tokenizer_n_vocab(tok), model->V);
    int64_t n = sbt_dataset_count(train);
    if (n <= 0)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "trainer: the training data %s has no rows",
                         sbt_dataset_path(train)[0] ? sbt_dataset_path(train) : "(in memory)");

    sbt_trainer *t = calloc(1, sizeof *t);
    if (!t)
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "trainer: out of memory");
    t->m = model;
    t->tok = tok;
    t->train = train;
    t->val = val && sbt_dataset_count(val) > 0 ? val : NULL;
    t->o = o;
    t->output_dir = strdup(o.output_dir);
    t->o.output_dir = t->output_dir;
    if (!t->o.eval_batch_size)
        t->o.eval_batch_size = t->o.batch_size;
    sbt_encode_options_init(&t->enc);
    t->enc.context_length = o.context_length;
    t->enc.mask_error_step = o.mask_error_step;
    t->pad = sbt_tokenizer_pad(tok) >= 0 ? sbt_tokenizer_pad(tok) : sbt_tokenizer_eos(tok);
    sbt_model_config mc = {sizeof mc};
    sbt_model_get_config(model, &mc);
    t->model_dtype = mc.dtype;
    t->n_rows = n;
    t->n_batches = (n + o.batch_size - 1) / o.batch_size;
    t->steps_per_epoch = (t->n_batches + o.gradient_accumulation_steps - 1) /
                         o.gradient_accumulation_steps;
    t->max_steps = o.max_steps > 0 ? o.max_steps
                                   : (int64_t)ceil(o.num_train_epochs * (double)t->steps_per_epoch);
    if (t->max_steps < 1)
        t->max_steps = 1;
    t->fingerprint = fingerprint(train);
    t->perm_epoch = -1;
    t->last_eval_step = t->last_save_step = -1;
    size_t bs = (size_t)(o.batch_size > t->o.eval_batch_size ? o.batch_size : t->o.eval_batch_size);
    size_t cap = (size_t)o.gradient_accumulation_steps * bs * (size_t)o.context_length;
    if (bs * (size_t)o.context_length > cap)
        cap = bs * (size_t)o.context_length;
    t->ids = malloc(sizeof *t->ids * cap);
    t->targets = malloc(sizeof *t->targets * cap);
    t->lens = malloc(sizeof *t->lens * (size_t)o.gradient_accumulation_steps * bs);
    t->row_ids = malloc(sizeof *t->row_ids * (size_t)o.context_length);
    t->row_labels = malloc(sizeof *t->row_labels * (size_t)o.context_length);
    t->perm = malloc(sizeof *t->perm * (size_t)n);
    if (!t->output_dir || !t->ids || !t->targets || !t->lens || !t->row_ids || !t->row_labels ||
        !t->perm) {
        sbt_trainer_free(t);
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "trainer: out of memory");
    }
    *out = t;
    return SBT_OK;
}

int64_t sbt_trainer_step(const sbt_trainer *t)
{
    return t ? t->step : -1;
}

int64_t sbt_trainer_max_steps(const sbt_trainer *t)
{
    return t ? t->max_steps : -1;
}

/* ---- batches ---------------------------------------------------------------------------- */

/* The row order of epoch e: Fisher-Yates from the stream (seed, "shuffle", e). */
static void make_perm(sbt_trainer *t, int64_t e)
{
    if (t->perm_epoch == e)
        return;
    for (int64_t i = 0; i < t->n_rows; i++)
        t->perm[i] = i;
    if (t->o.shuffle) {
        sbti_rng r;
        sbti_rng_init(&r, t->o.seed, SHUFFLE_STREAM, (uint64_t)e);
        for (int64_t i = t->n_rows - 1; i > 0; i--) {
            int64_t j = (int64_t)(sbti_rng_next(&r) % (uint64_t)(i + 1));
            int64_t x = t->perm[i];
            t->perm[i] = t->perm[j];
            t->perm[j] = x;
        }
    }
    t->perm_epoch = e;
}

typedef struct batch {
    int32_t *ids, *targets, *lens;
    int B, T;
    int64_t labelled, tokens;
} batch;

/* Encodes rows[0..B) of ds into b (ids right-padded to the longest row; targets shifted: the
 * id position t must predict, -1 where nothing is trained, padding included). */
static sbt_status make_batch(sbt_trainer *t, const sbt_dataset *ds, const int64_t *rows,
                             int64_t first, int B, batch *b)
{
    const int CL = t->o.context_length;
    int T = 1;
    b->B = B;
    b->labelled = b->tokens = 0;
    /* first pass: encode into the slots of width CL, then compact to width T */
    for (int r = 0; r < B; r++) {
        int64_t idx = rows ? rows[r] : first + r;
        sbt_dataset_row row = {sizeof row};
        sbt_status st = sbt_dataset_get(ds, idx, &row);
        size_t n = 0;
        if (st == SBT_OK)
            st = sbt_dataset_encode_example(t->tok, &row.problem, row.search_path, &t->enc,
                                            t->row_ids, t->row_labels, (size_t)CL, &n);
        if (st != SBT_OK)
            return sbti_fail(st, "%s:%lld: %s", sbt_dataset_path(ds)[0] ? sbt_dataset_path(ds)
                                                                       : "dataset",
                             (long long)row.line, sbt_last_error());
        if (n == 0)
            return sbti_fail(SBT_E_INTERNAL, "trainer: an example encoded to no tokens");
        int32_t *ids = b->ids + (size_t)r * CL, *tg = b->targets + (size_t)r * CL;
        for (size_t i = 0; i < n; i++) {
            ids[i] = t->row_ids[i];
            tg[i] = i + 1 < n && t->row_labels[i + 1] != SBT_LABEL_IGNORE ? t->row_labels[i + 1]
                                                                         : -1;
            b->labelled += tg[i] >= 0;
        }
        b->lens[r] = (int32_t)n;
        b->tokens += (int64_t)n;
        if ((int)n > T)
            T = (int)n;
    }
    for (int r = 0; r < B; r++) {
        int32_t *src_i = b->ids + (size_t)r * CL, *src_t = b->targets + (size_t)r * CL;
        int32_t *dst_i = b->ids + (size_t)r * T, *dst_t = b->targets + (size_t)r * T;
        memmove(dst_i, src_i, sizeof *dst_i * (size_t)b->lens[r]);
        memmove(dst_t, src_t, sizeof *dst_t * (size_t)b->lens[r]);
        for (int i = b->lens[r]; i < T; i++) {
            dst_i[i] = t->pad;
            dst_t[i] = -1;
        }
        if (t->o.pad_label_eos) { /* the seed's quirk: padding is EOS, labelled EOS */
            const int32_t eos = sbt_tokenizer_eos(t->tok);
            for (int i = b->lens[r]; i < T; i++)
                dst_i[i] = eos;
            for (int i = b->lens[r] - 1; i + 1 < T; i++) { /* position i predicts i + 1 */
                dst_t[i] = eos;
                b->labelled++;
            }
        }
    }
    b->T = T;
    return SBT_OK;
}

/* ---- events and metrics ---------------------------------------------------------------- */

static double epoch_of(const sbt_trainer *t)
{
    return (double)t->step / (double)t->steps_per_epoch;
}

int sbti_train_emit(sbt_trainer *t, sbt_trainer_event_kind kind, double loss, double eval_loss,
                    const char *path)
{
    int stop = 0;
    if (t->o.callback) {
        double el = sbti_now() - t->t0;
        sbt_trainer_event ev = {sizeof ev};
        ev.kind = kind;
        ev.step = t->step;
        ev.max_steps = t->max_steps;
        ev.epoch = epoch_of(t);
        ev.loss = loss;
        ev.lr = t->last_lr;
        ev.grad_norm = t->last_grad_norm;
        ev.eval_loss = eval_loss;
        ev.tokens = t->tokens_run;
        ev.elapsed_s = el;
        ev.tokens_per_s = el > 0 ? (double)t->tokens_run / el : 0;
        ev.path = path;
        stop = t->o.callback(&ev, t->o.callback_user_data) != 0;
    }
    if (kind == SBT_TRAIN_EVENT_STEP && t->o.progress)
        stop |= t->o.progress("train", t->step, t->max_steps, t->o.progress_user_data) != 0;
    return stop;
}

/* A JSON number, or null for NaN and infinities (which JSON cannot hold). */
static json_t *num(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

/* Appends one object to metrics.jsonl (steals obj). */
static sbt_status write_metrics(sbt_trainer *t, json_t *obj)
{
    if (!obj)
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "trainer: out of memory");
    int bad = !t->metrics || json_dumpf(obj, t->metrics, JSON_COMPACT | JSON_PRESERVE_ORDER) ||
              fputc('\n', t->metrics) == EOF || fflush(t->metrics) != 0;
    json_decref(obj);
    if (bad)
        return sbti_fail(SBT_E_IO, "cannot write %s/metrics.jsonl: %s", t->output_dir,
                         strerror(errno));
    return SBT_OK;
}

/* ---- evaluation ------------------------------------------------------------------------ */

sbt_status sbt_trainer_evaluate(sbt_trainer *t, double *loss, int64_t *n_tokens)
{
    if (!t || !loss)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_trainer_evaluate: NULL argument");
    *loss = NAN;
    if (n_tokens)
        *n_tokens = 0;
    if (!t->val)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_trainer_evaluate: no val dataset");
    int64_t n = sbt_dataset_count(t->val);
    if (t->o.eval_max_rows > 0 && t->o.eval_max_rows < n)
        n = t->o.eval_max_rows;
    double sum = 0;
    int64_t labelled = 0;
    const int EB = t->o.eval_batch_size;
    batch b = {t->ids, t->targets, t->lens, 0, 0, 0, 0};
    for (int64_t first = 0; first < n; first += EB) {
        int B = (int)(n - first < EB ? n - first : EB);
        sbt_status st = make_batch(t, t->val, NULL, first, B, &b);
        double s = 0;
        int64_t nl = 0;
        if (st == SBT_OK)
            st = sbti_model_forward_train(t->m, b.ids, b.lens, b.B, b.T, b.targets, &s, &nl);
        if (st != SBT_OK)
            return st;
        sum += s;
        labelled += nl;
        if (t->o.progress &&
            t->o.progress("eval", first + B, n, t->o.progress_user_data) != 0)
            return sbti_fail(SBT_E_CANCELLED, "trainer: cancelled during evaluation");
    }
    *loss = labelled ? sum / (double)labelled : NAN;
    if (n_tokens)
        *n_tokens = labelled;
    return SBT_OK;
}

static sbt_status eval_and_log(sbt_trainer *t, int *stop)
{
    double loss;
    int64_t n;
    sbt_status st = sbt_trainer_evaluate(t, &loss, &n);
    if (st != SBT_OK)
        return st;
    t->last_eval_step = t->step;
    sbti_log(SBT_LOG_INFO, "step %lld: eval_loss %.6f over %lld tokens", (long long)t->step,
             loss, (long long)n);
    st = write_metrics(t, json_pack("{s:I, s:f, s:o, s:I}", "step", (json_int_t)t->step, "epoch",
                                    epoch_of(t), "eval_loss", num(loss), "eval_tokens",
                                    (json_int_t)n));
    if (st == SBT_OK)
        *stop |= sbti_train_emit(t, SBT_TRAIN_EVENT_EVAL, NAN, loss, NULL);
    return st;
}

/* ---- one optimizer step -------------------------------------------------------------------- */

static sbt_status train_step(sbt_trainer *t, double *step_loss)
{
    const int B = t->o.batch_size, CL = t->o.context_length;
    if (t->batch >= t->n_batches) {
        t->epoch++;
        t->batch = 0;
    }
    make_perm(t, t->epoch);
    int64_t k = t->n_batches - t->batch;
    if (k > t->o.gradient_accumulation_steps)
        k = t->o.gradient_accumulation_steps;
    /* encode all micro-batches first: the loss scale needs the step's labelled tokens */
    batch mb[64], *mbs = k <= 64 ? mb : malloc(sizeof *mbs * (size_t)k);
    if (!mbs)
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "trainer: out of memory");
    int64_t labelled = 0, tokens = 0;
    sbt_status st = SBT_OK;
    for (int64_t j = 0; j < k && st == SBT_OK; j++) {
        int64_t bi = t->batch + j, first = bi * B;
        int rows = (int)(t->n_rows - first < B ? t->n_rows - first : B);
        mbs[j].ids = t->ids + (size_t)j * B * CL;
        mbs[j].targets = t->targets + (size_t)j * B * CL;
        mbs[j].lens = t->lens + (size_t)j * B;
        st = make_batch(t, t->train, t->perm + first, 0, rows, &mbs[j]);
        labelled += mbs[j].labelled;
        tokens += mbs[j].tokens;
    }
    if (st == SBT_OK)
        st = sbti_model_zero_grad(t->m);
    double loss_sum = 0;
    float dscale = labelled ? (float)(1.0 / (double)labelled) : 0.0f;
    for (int64_t j = 0; j < k && st == SBT_OK; j++) {
        double s = 0;
        int64_t nl = 0;
        st = sbti_model_forward_train(t->m, mbs[j].ids, mbs[j].lens, mbs[j].B, mbs[j].T,
                                      mbs[j].targets, &s, &nl);
        if (st == SBT_OK && nl != mbs[j].labelled)
            st = sbti_fail(SBT_E_INTERNAL, "trainer: %lld labelled tokens, the model saw %lld",
                           (long long)mbs[j].labelled, (long long)nl);
        if (st == SBT_OK && nl > 0)
            st = sbti_model_backward(t->m, dscale);
        loss_sum += s;
    }
    if (mbs != mb)
        free(mbs);
    if (st != SBT_OK)
        return st;
    double lr = sbt_lr_at(t->o.lr_scheduler_type, t->o.lr, t->o.warmup_steps, t->max_steps,
                          t->step);
    sbti_optim_args a = {(float)lr,
                         (float)t->o.adam_beta1,
                         (float)t->o.adam_beta2,
                         (float)t->o.adam_epsilon,
                         (float)t->o.weight_decay,
                         (float)t->o.max_grad_norm,
                         t->step + 1};
    double gn = 0;
    st = sbti_model_adamw_step(t->m, &a, &gn);
    if (st != SBT_OK)
        return sbti_fail(st, "trainer: step %lld: %s", (long long)t->step + 1, sbt_last_error());
    t->step++;
    t->batch += k;
    t->last_lr = lr;
    t->last_grad_norm = gn;
    t->tokens_run += tokens;
    t->tokens_total += tokens;
    t->log_loss_sum += loss_sum;
    t->log_labelled += labelled;
    t->log_steps_done++;
    *step_loss = labelled ? loss_sum / (double)labelled : 0;
    t->last_loss = *step_loss;
    return SBT_OK;
}

static sbt_status log_step(sbt_trainer *t, int *stop)
{
    double loss = t->log_labelled ? t->log_loss_sum / (double)t->log_labelled : 0;
    double el = sbti_now() - t->t0;
    sbt_status st = write_metrics(
        t, json_pack("{s:I, s:f, s:o, s:f, s:o, s:I, s:I, s:f, s:f}", "step", (json_int_t)t->step,
                     "epoch", epoch_of(t), "loss", num(loss), "lr", t->last_lr, "grad_norm",
                     num(t->last_grad_norm), "labelled_tokens", (json_int_t)t->log_labelled, "tokens",
                     (json_int_t)t->tokens_total, "tokens_per_s",
                     el > 0 ? (double)t->tokens_run / el : 0.0, "elapsed_s", el));
    t->log_loss_sum = 0;
    t->log_labelled = 0;
    t->log_steps_done = 0;
    if (st == SBT_OK)
        *stop |= sbti_train_emit(t, SBT_TRAIN_EVENT_LOG, loss, NAN, NULL);
    return st;
}

sbt_status sbti_train_save_final(sbt_trainer *t, int *stop);

static sbt_status open_metrics(sbt_trainer *t)
{
    if (t->metrics)
        return SBT_OK;
    sbt_status st = sbti_mkdirs(t->output_dir);
    if (st != SBT_OK)
        return st;
    char *path = sbti_path_join(t->output_dir, "metrics.jsonl");
    if (!path)
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "trainer: out of memory");
    /* a fresh run starts a fresh file; a resumed one appends (resume cut it at its step) */
    t->metrics = fopen(path, t->resumed || t->step > 0 ? "a" : "w");
    int e = errno;
    st = t->metrics ? SBT_OK : sbti_fail(SBT_E_IO, "cannot open %s: %s", path, strerror(e));
    free(path);
    return st;
}

sbt_status sbt_trainer_train(sbt_trainer *t)
{
    if (!t)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_trainer_train: trainer is NULL");
    sbt_status st = open_metrics(t);
    if (st != SBT_OK)
        return st;
    t->t0 = sbti_now();
    t->tokens_run = 0;
    int stop = 0;
    while (t->step < t->max_steps && st == SBT_OK && !stop) {
        double loss = 0;
        st = train_step(t, &loss);
        if (st != SBT_OK)
            break;
        stop |= sbti_train_emit(t, SBT_TRAIN_EVENT_STEP, loss, NAN, NULL);
        if (t->o.log_steps > 0 && t->step % t->o.log_steps == 0)
            st = log_step(t, &stop);
        if (st == SBT_OK && t->val && t->o.eval_steps > 0 && t->step % t->o.eval_steps == 0)
            st = eval_and_log(t, &stop);
        if (st == SBT_OK && t->o.save_steps > 0 && t->step % t->o.save_steps == 0 &&
            t->step < t->max_steps) {
            st = sbt_trainer_save_checkpoint(t);
            if (st == SBT_OK) {
                char name[64];
                snprintf(name, sizeof name, "checkpoint-%lld", (long long)t->step);
                char *p = sbti_path_join(t->output_dir, name);
                stop |= sbti_train_emit(t, SBT_TRAIN_EVENT_SAVE, NAN, NAN, p);
                free(p);
            }
        }
    }
    if (st != SBT_OK)
        return st;
    if (stop) {
        /* keep what was done: a checkpoint of this step, so --resume continues here */
        if (t->last_save_step != t->step)
            st = sbt_trainer_save_checkpoint(t);
        return st != SBT_OK ? st : sbti_fail(SBT_E_CANCELLED, "trainer: cancelled at step %lld",
                                             (long long)t->step);
    }
    if (t->val && t->last_eval_step != t->step)
        st = eval_and_log(t, &stop);
    if (st == SBT_OK)
        st = sbti_train_save_final(t, &stop);
    return st;
}
