/* improve.c — sbt_improve_run: self-improvement (SPEC §6, Algorithm 2). For t = 0..times:
 * train M_t from M_{t-1} on the verified outputs M_{t-1} found (t >= 1), save it, evaluate it
 * fast (greedy) and slow (the search) on val / val_new, and while t < times run its search on
 * the self-training problems (transductive: the evaluation problems, reusing the slow
 * evaluation; heldout: fresh train-distribution problems) and keep the verified outputs for
 * the next round. Each iteration ends with its entry in report.json, so a restart resumes
 * after the last finished one. */
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "core/clock.h"
#include "core/error.h"
#include "core/log.h"
#include "core/rng.h"
#include "train/improve_internal.h"
#include "train/train_internal.h"

#define RESPONSE_MARK "###Response:\n"
#define GOAL_MARK "Goal Reached!"
#define BACKTRACK_MARK "<backtrack>"

/* ---- options ------------------------------------------------------------------------- */

void sbt_improve_options_init(sbt_improve_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->size = sizeof *o;
    o->protocol = SBT_IMPROVE_TRANSDUCTIVE;
    o->times = 3;
    o->transductive_splits = SBT_IMPROVE_SPLIT_SEEN;
    o->heldout_problems = 1000;
    o->verifier = SBT_VERIFY_REFERENCE;
    o->save_dtype = SBT_DTYPE_F32;
    o->seed = 1234;
    o->eval_fast = 1;
    o->eval_slow = 1;
    o->decode_batch = 16;
}

void sbt_improve_search_defaults(sbt_decoder_options *o)
{
    if (!o)
        return;
    sbt_decoder_options_init(o);
    o->strategy = SBT_DECODE_SELF_BACKTRACK;
    o->n = 16;
    o->b = 1;
    o->temperature = 0.7;
}

void sbt_improve_train_defaults(sbt_trainer_options *o)
{
    if (!o)
        return;
    sbt_trainer_options_init(o);
    o->lr = 1e-5;
    o->num_train_epochs = 3;
    o->batch_size = 16;
    o->warmup_steps = 0;
    o->lr_scheduler_type = SBT_LR_LINEAR;
    o->weight_decay = 0;
    o->context_length = 128;
    o->mask_error_step = 0;
    o->log_steps = 5;
    o->eval_steps = 0;
    o->save_steps = 0;
    o->seed = 1234;
}

const char *sbt_improve_protocol_name(sbt_improve_protocol p)
{
    return p == SBT_IMPROVE_TRANSDUCTIVE ? "transductive" : p == SBT_IMPROVE_HELDOUT ? "heldout" : NULL;
}

sbt_status sbt_improve_protocol_parse(const char *text, sbt_improve_protocol *out)
{
    if (!text || !out)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_improve_protocol_parse: NULL argument");
    if (strcmp(text, "transductive") == 0)
        *out = SBT_IMPROVE_TRANSDUCTIVE;
    else if (strcmp(text, "heldout") == 0 || strcmp(text, "held-out") == 0)
        *out = SBT_IMPROVE_HELDOUT;
    else
        return sbti_fail(SBT_E_INVALID_ARGUMENT,
                         "unknown protocol '%s' (transductive or heldout)", text);
    return SBT_OK;
}

/* ---- the filter ---------------------------------------------------------------------- */

sbt_status sbt_improve_keep(int *kept, char *buf, size_t cap, const char *text, size_t len,
                            sbt_countdown_verifier mode)
{
    if (!kept || !text || (!buf && cap))
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_improve_keep: NULL argument");
    *kept = 0;
    sbt_countdown_verdict v;
    v.size = sizeof v;
    sbt_status st = sbt_countdown_verify(text, len, mode, &v);
    if (st != SBT_OK || !v.is_correct || v.is_backtrack)
        return st;
    const char *r = memmem(text, len, RESPONSE_MARK, strlen(RESPONSE_MARK));
    if (!r)
        return SBT_OK;
    r += strlen(RESPONSE_MARK);
    size_t rest = len - (size_t)(r - text);
    const char *g = memmem(r, rest, GOAL_MARK, strlen(GOAL_MARK));
    if (!g)
        return SBT_OK;
    size_t n = (size_t)(g - r) + strlen(GOAL_MARK);
    if (memmem(r, n, BACKTRACK_MARK, strlen(BACKTRACK_MARK)) || memchr(r, 0, n))
        return SBT_OK;
    if (n + 1 > cap)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_improve_keep: the response (%zu bytes) "
                         "does not fit in %zu", n, cap);
    memcpy(buf, r, n);
    buf[n] = 0;
    *kept = 1;
    return SBT_OK;
}

/* ---- the run's state ----------------------------------------------------------------- */

typedef struct split {
    const char *name;      /* "val", "val_new", "heldout"             */
    const char *key;       /* the report's key: "seen", "new"         */
    const sbt_dataset *ds; /* NULL: not used                          */
    char **prompts;
    int64_t n;
    int self_train;        /* its problems make the next round's data */
} split;

typedef struct run {
    const sbt_improve_options *o;
    sbt_decoder_options search, greedy;
    sbt_trainer_options train;
    sbt_tokenizer *tok;
    split seen, unseen, held;
    sbt_dataset *drawn;    /* heldout problems drawn here (owned)    */
    json_t *config, *entries;
    char *report_path;
    sbt_dtype save_dtype;
    const char *what;      /* the progress phase                      */
    /* the trainer's callback */
    double loss_first, loss_last;
    const char *sft_dir;   /* the SFT in progress: its first loss is kept there (a resume) */
} run;

static int progress_cb(const char *what, int64_t done, int64_t total, void *ud)
{
    run *r = ud;
    if (!r->o->progress)
        return 0;
    return r->o->progress(r->what ? r->what : what, done, total, r->o->progress_user_data);
}

/* The first step's loss of an SFT goes to the report; it is also kept in the SFT's folder
 * (sft_first_loss.json), for a run that resumes the SFT from a checkpoint past it. */
#define FIRST_LOSS_FILE "sft_first_loss.json"

static int train_cb(const sbt_trainer_event *e, void *ud)
{
    run *r = ud;
    if (e->kind == SBT_TRAIN_EVENT_STEP) {
        if (e->step == 1) {
            r->loss_first = e->loss;
            char *p = r->sft_dir ? sbti_path_join(r->sft_dir, FIRST_LOSS_FILE) : NULL;
            json_t *j = json_pack("{s:f}", "loss", e->loss);
            if (!p || !j || json_dump_file(j, p, 0) != 0) /* only the report's number is lost */
                sbti_log(SBT_LOG_WARN, "self-improvement: cannot keep the first SFT loss in %s",
                         p ? p : "the SFT folder");
            json_decref(j);
            free(p);
        }
        r->loss_last = e->loss;
    }
    return 0;
}

/* The first loss an interrupted SFT kept in dir, or NaN. */
static double kept_first_loss(const char *dir)
{
    char *p = sbti_path_join(dir, FIRST_LOSS_FILE);
    json_t *j = p ? json_load_file(p, 0, NULL) : NULL;
    json_t *v = j ? json_object_get(j, "loss") : NULL;
    double loss = json_is_number(v) ? json_number_value(v) : NAN;
    json_decref(j);
    free(p);
    return loss;
}

static char *path2(const char *dir, const char *fmt, int t)
{
    char name[128];
    snprintf(name, sizeof name, fmt, t);
    return sbti_path_join(dir, name);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void rm_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) == 0)
        nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void free_split(split *s)
{
    if (s->prompts)
        for (int64_t i = 0; i < s->n; i++)
            free(s->prompts[i]);
    free(s->prompts);
    s->prompts = NULL;
}

static sbt_status make_prompts(split *s)
{
    s->n = s->ds ? sbt_dataset_count(s->ds) : 0;
    if (s->n <= 0)
        return SBT_OK;
    s->prompts = calloc((size_t)s->n, sizeof *s->prompts);
    if (!s->prompts)
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory");
    for (int64_t i = 0; i < s->n; i++) {
        sbt_dataset_row row;
        row.size = sizeof row;
        sbt_status st = sbt_dataset_get(s->ds, i, &row);
        if (st != SBT_OK)
            return st;
        size_t len = sbt_countdown_prompt(&row.problem, NULL, 0);
        if (len == 0)
            return sbti_fail(SBT_E_INVALID_ARGUMENT, "self-improvement: %s row %lld is not a "
                             "valid problem", s->name, (long long)i);
        s->prompts[i] = malloc(len + 1);
        if (!s->prompts[i])
            return sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory");
        sbt_countdown_prompt(&row.problem, s->prompts[i], len + 1);
    }
    return SBT_OK;
}

static uint64_t fingerprint(const sbt_dataset *ds)
{
    uint64_t h = 1469598103934665603ull;
    int64_t n = ds ? sbt_dataset_count(ds) : 0;
    for (int64_t i = 0; i < n; i++) {
        sbt_dataset_row row;
        row.size = sizeof row;
        if (sbt_dataset_get(ds, i, &row) != SBT_OK)
            break;
        int32_t v[SBT_COUNTDOWN_MAX_NUMS + 2];
        v[0] = row.problem.n_nums;
        for (int k = 0; k < row.problem.n_nums; k++)
            v[1 + k] = row.problem.nums[k];
        v[1 + row.problem.n_nums] = row.problem.target;
        const unsigned char *b = (const unsigned char *)v;
        for (size_t k = 0; k < sizeof(int32_t) * (size_t)(row.problem.n_nums + 2); k++) {
            h ^= b[k];
            h *= 1099511628211ull;
        }
    }
    return h;
}

static int same_problem(const sbt_countdown_problem *a, const sbt_countdown_problem *b)
{
    if (a->n_nums != b->n_nums || a->target != b->target)
        return 0;
    for (int k = 0; k < a->n_nums; k++)
        if (a->nums[k] != b->nums[k])
            return 0;
    return 1;
}

static int in_dataset(const sbt_dataset *ds, const sbt_countdown_problem *p)
{
    int64_t n = ds ? sbt_dataset_count(ds) : 0;
    for (int64_t i = 0; i < n; i++) {
        sbt_dataset_row row;
        row.size = sizeof row;
        if (sbt_dataset_get(ds, i, &row) == SBT_OK && same_problem(&row.problem, p))
            return 1;
    }
    return 0;
}

/* Stream-of-Search's draw (SPEC §2.1) with the train targets of the default generator: target
 * uniform over the pool without the held-out targets, then four numbers in 1..max_num until
 * the solver finds a solution; evaluation problems and repeats are skipped. */
static sbt_status draw_problems(run *r)
{
    sbt_countdown_options co;
    sbt_countdown_options_init(&co);
    int32_t held[128], pool[256];
    size_t n_held = 0, n_pool = 0;
    sbt_status st = sbt_countdown_heldout_targets(&co, held, 128, &n_held);
    if (st != SBT_OK)
        return st;
    for (int32_t x = co.min_target; x <= co.max_target && n_pool < 256; x++) {
        int h = 0;
        for (size_t k = 0; k < n_held; k++)
            h |= held[k] == x;
        if (!h)
            pool[n_pool++] = x;
    }
    st = sbt_dataset_create(&r->drawn);
    if (st != SBT_OK)
        return st;
    sbti_rng rng;
    sbti_rng_init(&rng, r->o->seed, 0x696d70726f7665ull /* "improve" */, 0);
    int64_t want = r->o->heldout_problems, tries = 0;
    while (sbt_dataset_count(r->drawn) < want) {
        if (++tries > want * 1000 + 100000)
            return sbti_fail(SBT_E_INTERNAL, "self-improvement: cannot draw %lld distinct "
                             "problems", (long long)want);
        sbt_countdown_problem p;
        memset(&p, 0, sizeof p);
        p.n_nums = co.n_nums;
        p.target = pool[sbti_rng_below(&rng, (uint32_t)n_pool)];
        int found = 0;
        char sol[256];
        for (int a = 0; a < 100000 && !found; a++) {
            for (int k = 0; k < p.n_nums; k++)
                p.nums[k] = sbti_rng_range(&rng, 1, co.max_num);
            st = sbt_countdown_solve(&p, sol, sizeof sol, &found);
            if (st != SBT_OK)
                return st;
        }
        if (!found || in_dataset(r->seen.ds, &p) || in_dataset(r->unseen.ds, &p) ||
            in_dataset(r->drawn, &p))
            continue;
        st = sbt_dataset_append(r->drawn, &p, NULL);
        if (st != SBT_OK)
            return st;
    }
    return SBT_OK;
}

/* ---- settings ------------------------------------------------------------------------ */

static json_t *split_config(const split *s)
{
    char fp[32];
    snprintf(fp, sizeof fp, "%016llx", (unsigned long long)fingerprint(s->ds));
    return json_pack("{s:I, s:s, s:b}", "problems", (json_int_t)s->n, "fingerprint", fp,
                     "self_training", s->self_train);
}

static json_t *make_config(const run *r)
{
    const sbt_improve_options *o = r->o;
    const sbt_decoder_options *d = &r->search;
    const sbt_trainer_options *t = &r->train;
    json_t *c = json_object();
    if (!c)
        return NULL;
    json_object_set_new(c, "protocol", json_string(sbt_improve_protocol_name(o->protocol)));
    json_object_set_new(c, "start_model", json_string(o->start_model));
    json_object_set_new(c, "verifier", json_string(o->verifier == SBT_VERIFY_STRICT ? "strict"
                                                                                    : "reference"));
    json_object_set_new(c, "seed", json_integer((json_int_t)o->seed));
    json_object_set_new(c, "save_dtype", json_string(r->save_dtype == SBT_DTYPE_BF16  ? "bf16"
                                                     : r->save_dtype == SBT_DTYPE_F16 ? "f16"
                                                                                      : "f32"));
    json_t *ev = json_object();
    if (r->seen.ds)
        json_object_set_new(ev, "val", split_config(&r->seen));
    if (r->unseen.ds)
        json_object_set_new(ev, "val_new", split_config(&r->unseen));
    json_object_set_new(ev, "fast", json_boolean(o->eval_fast));
    json_object_set_new(ev, "slow", json_boolean(o->eval_slow));
    json_object_set_new(c, "eval", ev);
    if (o->protocol == SBT_IMPROVE_HELDOUT) {
        json_t *h = split_config(&r->held);
        json_object_set_new(h, "drawn", json_boolean(r->drawn != NULL));
        json_object_set_new(c, "heldout_problems", h);
    }
    json_object_set_new(c, "search",
        json_pack("{s:s, s:i, s:i, s:i, s:i, s:s, s:s, s:f, s:f, s:i, s:i, s:i}",
                  "decoder", sbt_decode_strategy_name(d->strategy), "n", d->n, "b", d->b,
                  "width", (int)d->width, "k", d->k,
                  "expansion", sbt_decode_strategy_name(d->expansion),
                  "scoring", d->scoring == SBT_SCORE_CLEAN ? "clean" : "reference",
                  "temperature", d->temperature, "top_p", d->top_p, "top_k", d->top_k,
                  "max_length", d->max_length, "max_new_tokens", d->max_new_tokens));
    json_object_set_new(c, "train",
        json_pack("{s:f, s:f, s:I, s:i, s:i, s:I, s:s, s:f, s:i, s:f, s:i, s:i}",
                  "lr", t->lr, "epochs", t->num_train_epochs, "max_steps",
                  (json_int_t)t->max_steps, "batch_size", t->batch_size,
                  "gradient_accumulation_steps", t->gradient_accumulation_steps,
                  "warmup_steps", (json_int_t)t->warmup_steps,
                  "lr_scheduler_type", sbt_lr_schedule_name(t->lr_scheduler_type),
                  "weight_decay", t->weight_decay, "context_length", t->context_length,
                  "max_grad_norm", t->max_grad_norm, "pad_label_eos", t->pad_label_eos,
                  "mask_error_step", t->mask_error_step));
    json_object_set_new(c, "times", json_integer(o->times));
    return c;
}

static sbt_status check_options(const sbt_improve_options *o)
{
    if (!o)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_improve_run: options are NULL");
    if (o->size != sizeof *o)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_improve_run: options.size %zu, expected "
                         "%zu (call sbt_improve_options_init)", o->size, sizeof *o);
    const char *bad = !o->output_dir || !o->output_dir[0]     ? "output_dir (required)"
                      : !o->start_model || !o->start_model[0] ? "start_model (required)"
                      : !o->backend                           ? "backend (required)"
                      : !sbt_improve_protocol_name(o->protocol) ? "protocol"
                      : o->times < 0                          ? "times (must be >= 0)"
                      : o->verifier != SBT_VERIFY_REFERENCE && o->verifier != SBT_VERIFY_STRICT
                          ? "verifier"
                      : o->decode_batch < 1                   ? "decode_batch (must be >= 1)"
                      : o->save_dtype < SBT_DTYPE_AUTO || o->save_dtype > SBT_DTYPE_F16
                          ? "save_dtype"
                      : o->search && o->search->size != sizeof(sbt_decoder_options)
                          ? "search (its size: call sbt_improve_search_defaults)"
                      : o->search && o->search->strategy != SBT_DECODE_SELF_BACKTRACK
                          ? "search.strategy (must be SBT_DECODE_SELF_BACKTRACK)"
                      : o->train && o->train->size != sizeof(sbt_trainer_options)
                          ? "train (its size: call sbt_improve_train_defaults)"
                          : NULL;
    if (!bad && o->protocol == SBT_IMPROVE_TRANSDUCTIVE) {
        if (!(o->transductive_splits & 3) || (o->transductive_splits & ~3))
            bad = "transductive_splits (SBT_IMPROVE_SPLIT_SEEN and/or SBT_IMPROVE_SPLIT_NEW)";
        else if ((o->transductive_splits & SBT_IMPROVE_SPLIT_SEEN) &&
                 (!o->seen || sbt_dataset_count(o->seen) <= 0))
            bad = "seen (transductive self-training on val needs its problems)";
        else if ((o->transductive_splits & SBT_IMPROVE_SPLIT_NEW) &&
                 (!o->unseen || sbt_dataset_count(o->unseen) <= 0))
            bad = "unseen (transductive self-training on val_new needs its problems)";
    }
    if (!bad && o->protocol == SBT_IMPROVE_HELDOUT) {
        if (o->problems ? sbt_dataset_count(o->problems) <= 0 : o->heldout_problems <= 0)
            bad = "problems / heldout_problems (heldout needs self-training problems)";
    }
    if (bad)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_improve_run: bad option %s", bad);
    return SBT_OK;
}

/* ---- decoding ------------------------------------------------------------------------ */

typedef struct decode_stats {
    int64_t problems, correct[2]; /* [options' mode, the other mode] */
    int64_t kept, dropped_backtrack;
    double seconds;
} decode_stats;

/* Decodes split s with options d on model m, verifies every output, and (kept non-NULL)
 * appends the outputs kept for self-training. */
static sbt_status decode_split(run *r, sbt_model *m, const sbt_decoder_options *d, split *s,
                               const char *what, decode_stats *ds, sbt_dataset *kept)
{
    memset(ds, 0, sizeof *ds);
    if (!s->ds || s->n == 0)
        return SBT_OK;
    r->what = what;
    sbt_decoder_options dopt = *d;
    dopt.progress = progress_cb;
    dopt.progress_user_data = r;
    dopt.batch = r->o->decode_batch;
    dopt.seed = r->o->seed;
    dopt.hooks = NULL;
    sbt_decoder *dec = NULL;
    sbt_decode_results *res = NULL;
    char *buf = NULL;
    double t0 = sbti_now();
    sbt_status st = sbt_decoder_create(&dec, m, r->tok, &dopt);
    if (st == SBT_OK)
        st = sbt_decoder_run(dec, (const char *const *)s->prompts, s->n, &res);
    sbt_countdown_verifier other = r->o->verifier == SBT_VERIFY_REFERENCE ? SBT_VERIFY_STRICT
                                                                         : SBT_VERIFY_REFERENCE;
    for (int64_t i = 0; st == SBT_OK && i < s->n; i++) {
        sbt_decode_result out;
        out.size = sizeof out;
        st = sbt_decode_results_get(res, i, &out);
        sbt_countdown_verdict v[2];
        v[0].size = v[1].size = sizeof v[0];
        if (st == SBT_OK)
            st = sbt_countdown_verify(out.text, out.text_len, r->o->verifier, &v[0]);
        if (st == SBT_OK)
            st = sbt_countdown_verify(out.text, out.text_len, other, &v[1]);
        if (st != SBT_OK)
            break;
        ds->correct[0] += v[0].is_correct;
        ds->correct[1] += v[1].is_correct;
        if (!kept || !v[0].is_correct)
            continue;
        char *nb = realloc(buf, out.text_len + 1);
        if (!nb) {
            st = sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory");
            break;
        }
        buf = nb;
        int keep = 0;
        st = sbt_improve_keep(&keep, buf, out.text_len + 1, out.text, out.text_len,
                              r->o->verifier);
        if (st != SBT_OK)
            break;
        if (!keep) {
            ds->dropped_backtrack++;
            continue;
        }
        sbt_dataset_row row;
        row.size = sizeof row;
        st = sbt_dataset_get(s->ds, i, &row);
        if (st == SBT_OK)
            st = sbt_dataset_append(kept, &row.problem, buf);
        ds->kept += st == SBT_OK;
    }
    ds->problems = s->n;
    ds->seconds = sbti_now() - t0;
    free(buf);
    sbt_decode_results_free(res);
    sbt_decoder_free(dec);
    r->what = NULL;
    return st;
}

/* ---- one round's SFT ----------------------------------------------------------------- */

static sbt_status train_round(run *r, sbt_model **m, int t, const sbt_dataset *kept,
                              json_t *entry, sbt_improve_iteration *it)
{
    const char *out = r->o->output_dir;
    char *tdir = path2(out, "train_iteration_%d", t);
    char *mdir = path2(out, "model_iteration_%d", t);
    char *final = tdir ? sbti_path_join(tdir, "final_model") : NULL;
    sbt_trainer *tr = NULL;
    sbt_status st = tdir && mdir && final ? SBT_OK : sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory");
    double t0 = sbti_now();
    int64_t n = sbt_dataset_count(kept), steps = 0;
    r->loss_first = r->loss_last = NAN;
    /* a crashed attempt: its SFT checkpoint (written every save_steps) is resumed; anything
     * else it left is removed */
    char ck[4096];
    int resume = st == SBT_OK && n > 0 && r->train.save_steps > 0 &&
                 sbt_trainer_latest_checkpoint(tdir, ck, sizeof ck) == SBT_OK;
    sbt_clear_error();
    if (st == SBT_OK) {
        if (!resume)
            rm_tree(tdir);
        rm_tree(mdir);
        st = sbti_mkdirs(tdir);
    }
    if (st == SBT_OK && n > 0) {
        sbt_trainer_options to = r->train;
        to.output_dir = tdir;
        to.callback = train_cb;
        to.callback_user_data = r;
        to.progress = progress_cb;
        to.progress_user_data = r;
        to.final_dtype = r->save_dtype;
        to.seed = r->o->seed;
        to.mask_error_step = 0;
        to.eval_steps = 0;
        if (to.save_steps > 0 && to.save_total_limit == 0)
            to.save_total_limit = 1; /* a checkpoint only to resume from: the newest will do */
        r->what = "train";
        r->sft_dir = tdir;
        if (resume) { /* the checkpoint's weights, then its optimizer state and position */
            sbt_model *cm = NULL;
            st = sbt_model_load(&cm, r->o->backend, ck);
            if (st == SBT_OK)
                st = sbt_trainer_create(&tr, cm, r->tok, kept, NULL, &to);
            if (st == SBT_OK)
                st = sbt_trainer_resume(tr, ck);
            if (st == SBT_OK) {
                sbt_model_free(*m);
                *m = cm;
                r->loss_first = kept_first_loss(tdir);
                sbti_log(SBT_LOG_INFO, "self-improvement: iteration %d resumes its SFT from %s",
                         t, ck);
            } else { /* not this SFT's (or torn): start it afresh */
                sbti_log(SBT_LOG_WARN, "self-improvement: iteration %d cannot resume its SFT "
                         "from %s (%s); it starts again", t, ck, sbt_last_error());
                sbt_trainer_free(tr);
                tr = NULL;
                sbt_model_free(cm);
                rm_tree(tdir);
                resume = 0;
                st = sbti_mkdirs(tdir);
            }
        }
        if (st == SBT_OK && !resume)
            st = sbt_trainer_create(&tr, *m, r->tok, kept, NULL, &to);
        if (st == SBT_OK)
            st = sbt_trainer_train(tr);
        steps = tr ? sbt_trainer_step(tr) : 0;
        sbt_trainer_free(tr);
        r->what = NULL;
        r->sft_dir = NULL;
    } else if (st == SBT_OK) {
        /* nothing verified: M_t = M_{t-1} */
        sbti_log(SBT_LOG_WARN, "self-improvement: iteration %d has no verified outputs to train "
                 "on; model_iteration_%d is model %d unchanged", t, t, t - 1);
        sbt_model_save_options so;
        sbt_model_save_options_init(&so);
        so.dtype = r->save_dtype;
        st = sbti_mkdirs(final);
        if (st == SBT_OK)
            st = sbt_model_save(*m, final, &so);
        if (st == SBT_OK)
            st = sbt_tokenizer_save(r->tok, final);
    }
    if (st == SBT_OK && rename(final, mdir) != 0)
        st = sbti_fail(SBT_E_IO, "cannot rename %s to %s: %s", final, mdir, strerror(errno));
    if (st == SBT_OK) {
        /* the trainer's checkpoints (weights and optimizer state) are not needed any more */
        for (int k = 0; k < 64 && sbt_trainer_latest_checkpoint(tdir, ck, sizeof ck) == SBT_OK; k++)
            rm_tree(ck);
        sbt_clear_error();
        sbt_model_free(*m);
        *m = NULL;
        st = sbt_model_load(m, r->o->backend, mdir);
    }
    if (st == SBT_OK) {
        it->train_examples = n;
        it->train_steps = steps;
        it->train_loss_first = r->loss_first;
        it->train_loss_last = r->loss_last;
        it->seconds_train = sbti_now() - t0;
        char kname[64];
        snprintf(kname, sizeof kname, "kept_iteration_%d.jsonl", t);
        json_object_set_new(entry, "train",
            json_pack("{s:I, s:s, s:I, s:o, s:o, s:f}", "examples", (json_int_t)n, "data", kname,
                      "steps", (json_int_t)steps, "loss_first", sbti_improve_num(r->loss_first),
                      "loss_last", sbti_improve_num(r->loss_last), "seconds",
                      it->seconds_train));
    }
    free(final);
    free(tdir);
    free(mdir);
    return st;
}

/* ---- evaluation and the search ------------------------------------------------------- */

static double frac(int64_t a, int64_t b)
{
    return b > 0 ? (double)a / (double)b : NAN;
}

static sbt_status eval_model(run *r, sbt_model *m, json_t *entry, sbt_improve_iteration *it,
                             sbt_dataset *kept, decode_stats *search_out, int *search_done)
{
    double t0 = sbti_now();
    json_t *ev = json_object();
    split *sp[2] = {&r->seen, &r->unseen};
    sbt_status st = SBT_OK;
    int transductive = r->o->protocol == SBT_IMPROVE_TRANSDUCTIVE;
    *search_done = transductive && r->o->eval_slow && kept;
    memset(search_out, 0, sizeof *search_out);
    const char *other = r->o->verifier == SBT_VERIFY_REFERENCE ? "strict" : "reference";
    for (int i = 0; i < 2 && st == SBT_OK; i++) {
        split *s = sp[i];
        double fast[2] = {NAN, NAN}, slow[2] = {NAN, NAN};
        decode_stats d;
        char what[32];
        if (!s->ds)
            continue;
        if (r->o->eval_fast) {
            snprintf(what, sizeof what, "greedy:%s", s->name);
            st = decode_split(r, m, &r->greedy, s, what, &d, NULL);
            fast[0] = frac(d.correct[0], d.problems);
            fast[1] = frac(d.correct[1], d.problems);
        }
        if (st == SBT_OK && r->o->eval_slow) {
            snprintf(what, sizeof what, "search:%s", s->name);
            int collect = transductive && s->self_train && kept;
            st = decode_split(r, m, &r->search, s, what, &d, collect ? kept : NULL);
            slow[0] = frac(d.correct[0], d.problems);
            slow[1] = frac(d.correct[1], d.problems);
            if (collect) {
                search_out->problems += d.problems;
                search_out->correct[0] += d.correct[0];
                search_out->correct[1] += d.correct[1];
                search_out->kept += d.kept;
                search_out->dropped_backtrack += d.dropped_backtrack;
                search_out->seconds += d.seconds;
            }
        }
        if (i == 0) {
            it->seen_problems = s->n;
            it->fast_seen = fast[0];
            it->slow_seen = slow[0];
        } else {
            it->new_problems = s->n;
            it->fast_new = fast[0];
            it->slow_new = slow[0];
        }
        json_object_set_new(ev, s->key,
            json_pack("{s:s, s:I, s:b, s:o, s:o, s:{s:s, s:o, s:o}}", "split", s->name,
                      "problems", (json_int_t)s->n, "self_trained_on", transductive && s->self_train,
                      "fast", sbti_improve_num(fast[0]), "slow", sbti_improve_num(slow[0]),
                      "other_verifier", "mode", other, "fast", sbti_improve_num(fast[1]), "slow",
                      sbti_improve_num(slow[1])));
    }
    it->seconds_eval = sbti_now() - t0;
    json_object_set_new(entry, "eval", ev);
    return st;
}

/* M_t's search on the self-training problems, unless the evaluation did it. */
static sbt_status search_round(run *r, sbt_model *m, sbt_dataset *kept, decode_stats *acc)
{
    memset(acc, 0, sizeof *acc);
    split *sp[3] = {&r->seen, &r->unseen, &r->held};
    for (int i = 0; i < 3; i++) {
        if (!sp[i]->self_train)
            continue;
        decode_stats d;
        char what[32];
        snprintf(what, sizeof what, "search:%s", sp[i]->name);
        sbt_status st = decode_split(r, m, &r->search, sp[i], what, &d, kept);
        if (st != SBT_OK)
            return st;
        acc->problems += d.problems;
        acc->correct[0] += d.correct[0];
        acc->correct[1] += d.correct[1];
        acc->kept += d.kept;
        acc->dropped_backtrack += d.dropped_backtrack;
        acc->seconds += d.seconds;
    }
    return SBT_OK;
}

/* The iteration struct of a report entry (for the callback of a resumed run). */
static void entry_to_iteration(const json_t *e, sbt_improve_iteration *it)
{
    memset(it, 0, sizeof *it);
    it->size = sizeof *it;
    it->iteration = (int32_t)sbti_improve_get_int(e, "iteration");
    const json_t *model = json_object_get(e, "model");
    it->model_dir = json_is_string(model) ? json_string_value(model) : "";
    const json_t *tr = json_object_get(e, "train");
    it->train_examples = sbti_improve_get_int(tr, "examples");
    it->train_steps = sbti_improve_get_int(tr, "steps");
    it->train_loss_first = sbti_improve_get_num(tr, "loss_first");
    it->train_loss_last = sbti_improve_get_num(tr, "loss_last");
    const json_t *ev = json_object_get(e, "eval");
    const json_t *seen = json_object_get(ev, "seen"), *unseen = json_object_get(ev, "new");
    it->seen_problems = sbti_improve_get_int(seen, "problems");
    it->new_problems = sbti_improve_get_int(unseen, "problems");
    it->fast_seen = sbti_improve_get_num(seen, "fast");
    it->slow_seen = sbti_improve_get_num(seen, "slow");
    it->fast_new = sbti_improve_get_num(unseen, "fast");
    it->slow_new = sbti_improve_get_num(unseen, "slow");
    const json_t *se = json_object_get(e, "search");
    it->search_problems = sbti_improve_get_int(se, "problems");
    it->search_accuracy = se ? sbti_improve_get_num(se, "accuracy") : NAN;
    it->examples_kept = sbti_improve_get_int(se, "examples_kept");
    const json_t *sec = json_object_get(e, "seconds");
    it->seconds_train = sbti_improve_get_num(sec, "train");
    it->seconds_eval = sbti_improve_get_num(sec, "eval");
    it->seconds_search = sbti_improve_get_num(sec, "search");
    it->seconds_total = sbti_improve_get_num(sec, "total");
    it->resumed = 1;
}

/* ---- the loop ------------------------------------------------------------------------ */

static sbt_status setup(run *r)
{
    const sbt_improve_options *o = r->o;
    if (o->search)
        r->search = *o->search;
    else
        sbt_improve_search_defaults(&r->search);
    r->greedy = r->search;
    r->greedy.strategy = SBT_DECODE_GREEDY;
    r->greedy.n = 1;
    r->greedy.max_length = 0;
    r->greedy.max_new_tokens = 0;
    if (o->train)
        r->train = *o->train;
    else
        sbt_improve_train_defaults(&r->train);
    r->train.seed = o->seed;
    r->train.mask_error_step = 0;
    r->train.eval_steps = 0;
    r->save_dtype = o->save_dtype;
    sbt_status st = SBT_OK;
    if (r->save_dtype == SBT_DTYPE_AUTO) {
        sbt_model_config c;
        sbt_model_config_init(&c);
        st = sbt_model_config_load(&c, o->start_model);
        r->save_dtype = c.dtype == SBT_DTYPE_AUTO ? SBT_DTYPE_F32 : c.dtype;
    }
    if (st == SBT_OK)
        st = sbti_mkdirs(o->output_dir);
    if (st == SBT_OK)
        st = sbt_tokenizer_load(&r->tok, o->tokenizer ? o->tokenizer : o->start_model);
    if (st == SBT_OK && sbt_tokenizer_token_id(r->tok, BACKTRACK_MARK) < 0)
        st = sbti_fail(SBT_E_INVALID_ARGUMENT, "self-improvement: the tokenizer of %s has no "
                       "%s token (the search needs a self-backtracking model)",
                       o->tokenizer ? o->tokenizer : o->start_model, BACKTRACK_MARK);
    if (st != SBT_OK)
        return st;
    int tr = o->protocol == SBT_IMPROVE_TRANSDUCTIVE;
    r->seen = (split){"val", "seen", o->seen, NULL, 0, tr && (o->transductive_splits & 1)};
    r->unseen = (split){"val_new", "new", o->unseen, NULL, 0, tr && (o->transductive_splits & 2)};
    r->held = (split){"heldout", "heldout", NULL, NULL, 0, !tr};
    if (!tr) {
        if (o->problems) {
            r->held.ds = o->problems;
        } else {
            st = draw_problems(r);
            r->held.ds = r->drawn;
        }
    }
    if (st == SBT_OK)
        st = make_prompts(&r->seen);
    if (st == SBT_OK)
        st = make_prompts(&r->unseen);
    if (st == SBT_OK)
        st = make_prompts(&r->held);
    if (st == SBT_OK && r->drawn) {
        char *p = sbti_path_join(o->output_dir, "heldout_problems.jsonl");
        st = p ? sbt_dataset_write_jsonl(r->drawn, p) : sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory");
        free(p);
    }
    if (st != SBT_OK)
        return st;
    r->config = make_config(r);
    r->report_path = sbti_path_join(o->output_dir, "report.json");
    if (!r->config || !r->report_path)
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory");
    st = sbti_improve_report_read(r->report_path, r->config, &r->entries);
    if (st == SBT_OK && !r->entries)
        r->entries = json_array();
    return st != SBT_OK ? st : r->entries ? SBT_OK : sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory");
}

static sbt_status loop(run *r)
{
    const sbt_improve_options *o = r->o;
    int done = (int)json_array_size(r->entries);
    sbt_status st = SBT_OK;
    for (int i = 0; i < done && i <= o->times; i++) {
        sbt_improve_iteration it;
        entry_to_iteration(json_array_get(r->entries, (size_t)i), &it);
        if (o->callback && o->callback(&it, o->callback_user_data))
            return sbti_fail(SBT_E_CANCELLED, "self-improvement: cancelled");
    }
    if (done > o->times) {
        sbti_log(SBT_LOG_INFO, "self-improvement: %s already holds %d iterations", r->report_path,
                 done);
        return SBT_OK;
    }
    sbt_model *m = NULL;
    sbt_dataset *kept = NULL, *next = NULL;
    char *dir = done <= 1 ? NULL : path2(o->output_dir, "model_iteration_%d", done - 1);
    if (done > 1 && !dir)
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory");
    st = sbt_model_load(&m, o->backend, done <= 1 ? o->start_model : dir);
    if (st == SBT_OK && done > 0) {
        /* the data M_{done-1} found, written before its entry */
        char *kp = path2(o->output_dir, "kept_iteration_%d.jsonl", done);
        sbt_dataset_options dopt;
        sbt_dataset_options_init(&dopt);
        st = kp ? sbt_dataset_load(&kept, kp, &dopt) : sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory");
        if (st == SBT_E_NOT_FOUND) { /* deleted: search again */
            sbt_clear_error();
            decode_stats d;
            st = sbt_dataset_create(&kept);
            if (st == SBT_OK)
                st = search_round(r, m, kept, &d);
            if (st == SBT_OK)
                st = sbt_dataset_write_jsonl(kept, kp);
        }
        free(kp);
        if (st == SBT_OK)
            sbti_log(SBT_LOG_INFO, "self-improvement: resuming %s after iteration %d",
                     o->output_dir, done - 1);
    }
    free(dir);
    for (int t = done; st == SBT_OK && t <= o->times; t++) {
        double t0 = sbti_now();
        sbt_improve_iteration it;
        memset(&it, 0, sizeof it);
        it.size = sizeof it;
        it.iteration = t;
        it.train_loss_first = it.train_loss_last = it.search_accuracy = NAN;
        char mname[64];
        snprintf(mname, sizeof mname, "model_iteration_%d", t);
        it.model_dir = t == 0 ? o->start_model : mname;
        json_t *entry = json_pack("{s:i, s:s, s:s, s:s}", "iteration", t, "protocol",
                                  sbt_improve_protocol_name(o->protocol), "verifier",
                                  o->verifier == SBT_VERIFY_STRICT ? "strict" : "reference",
                                  "model", it.model_dir);
        if (!entry) {
            st = sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory");
            break;
        }
        if (t == 0)
            json_object_set_new(entry, "train", json_null());
        else
            st = train_round(r, &m, t, kept, entry, &it);
        decode_stats sd;
        int search_done = 0;
        if (st == SBT_OK && t < o->times)
            st = sbt_dataset_create(&next);
        if (st == SBT_OK)
            st = eval_model(r, m, entry, &it, next, &sd, &search_done);
        if (st == SBT_OK && t < o->times && !search_done)
            st = search_round(r, m, next, &sd);
        if (st == SBT_OK && t < o->times) {
            char *kp = path2(o->output_dir, "kept_iteration_%d.jsonl", t + 1);
            st = kp ? sbt_dataset_write_jsonl(next, kp) : sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory");
            free(kp);
            char kname[64], on[64];
            snprintf(kname, sizeof kname, "kept_iteration_%d.jsonl", t + 1);
            snprintf(on, sizeof on, "%s",
                     r->held.self_train ? (r->drawn ? "heldout_problems.jsonl" : "problems")
                     : r->seen.self_train && r->unseen.self_train ? "val+val_new"
                     : r->seen.self_train ? "val" : "val_new");
            it.search_problems = sd.problems;
            it.search_accuracy = frac(sd.correct[0], sd.problems);
            it.examples_kept = sd.kept;
            it.seconds_search = sd.seconds;
            json_object_set_new(entry, "search",
                json_pack("{s:s, s:I, s:o, s:o, s:I, s:I, s:s, s:b, s:f}", "problems_from", on,
                          "problems", (json_int_t)sd.problems, "accuracy",
                          sbti_improve_num(it.search_accuracy), "accuracy_other_verifier",
                          sbti_improve_num(frac(sd.correct[1], sd.problems)), "examples_kept",
                          (json_int_t)sd.kept, "dropped_correct_without_goal",
                          (json_int_t)sd.dropped_backtrack, "data", kname, "is_slow_eval",
                          search_done, "seconds", sd.seconds));
        } else if (st == SBT_OK) {
            json_object_set_new(entry, "search", json_null());
        }
        it.seconds_total = sbti_now() - t0;
        json_object_set_new(entry, "seconds",
            json_pack("{s:f, s:f, s:f, s:f}", "train", it.seconds_train, "eval", it.seconds_eval,
                      "search", it.seconds_search, "total", it.seconds_total));
        if (st == SBT_OK) {
            json_array_append(r->entries, entry);
            st = sbti_improve_report_write(r->report_path, r->config, r->entries);
            if (st != SBT_OK) /* keep memory and file in step */
                json_array_remove(r->entries, json_array_size(r->entries) - 1);
        }
        json_decref(entry);
        sbt_dataset_free(kept);
        kept = next;
        next = NULL;
        if (st == SBT_OK && o->callback && o->callback(&it, o->callback_user_data))
            st = sbti_fail(SBT_E_CANCELLED, "self-improvement: cancelled after iteration %d", t);
    }
    sbt_dataset_free(next);
    sbt_dataset_free(kept);
    sbt_model_free(m);
    return st;
}

sbt_status sbt_improve_run(const sbt_improve_options *opts)
{
    sbt_status st = check_options(opts);
    if (st != SBT_OK)
        return st;
    run r;
    memset(&r, 0, sizeof r);
    r.o = opts;
    st = setup(&r);
    if (st == SBT_OK)
        st = loop(&r);
    free_split(&r.seen);
    free_split(&r.unseen);
    free_split(&r.held);
    sbt_dataset_free(r.drawn);
    sbt_tokenizer_free(r.tok);
    json_decref(r.config);
    json_decref(r.entries);
    free(r.report_path);
    return st;
}
