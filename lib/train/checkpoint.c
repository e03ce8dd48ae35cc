/* checkpoint.c — trainer checkpoints: output_dir/checkpoint-<step> (the Hugging Face folder
 * in F32, the tokenizer, optimizer.safetensors with AdamW's moments, trainer_state.json with
 * the step, the data position and the logging accumulators), written under a temporary name
 * and renamed; rotation (save_total_limit); the newest checkpoint; exact resume; final_model. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/log.h"
#include "io/atomic_file.h"
#include "io/safetensors.h"
#include "model/model.h"
#include "train/train_internal.h"

#define STATE_FILE "trainer_state.json"
#define OPTIM_FILE "optimizer.safetensors"
#define STATE_FORMAT "libselfbt-trainer-state"
#define STATE_VERSION 1

char *sbti_path_join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (!p)
        return NULL;
    memcpy(p, dir, a);
    size_t n = a;
    if (n > 0 && p[n - 1] != '/')
        p[n++] = '/';
    memcpy(p + n, name, b + 1);
    return p;
}

sbt_status sbti_mkdirs(const char *dir)
{
    char *p = strdup(dir);
    if (!p)
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory");
    for (char *s = p + 1;; s++) {
        char c = *s;
        if (c == '/' || c == '\0') {
            *s = '\0';
            if (mkdir(p, 0777) != 0 && errno != EEXIST) {
                int e = errno;
                sbt_status st = sbti_fail(SBT_E_IO, "cannot create folder %s: %s", p, strerror(e));
                free(p);
                return st;
            }
            *s = c;
        }
        if (c == '\0')
            break;
    }
    free(p);
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return sbti_fail(SBT_E_IO, "%s is not a folder", dir);
    return SBT_OK;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    return flag == FTW_DP ? rmdir(path) : unlink(path);
}

/* rm -rf path (absent is fine). */
static void rm_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return;
    if (nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        sbti_log(SBT_LOG_WARN, "cannot remove %s: %s", path, strerror(errno));
}

static void fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

static int file_exists(const char *dir, const char *name)
{
    char *p = sbti_path_join(dir, name);
    int ok = p && access(p, R_OK) == 0;
    free(p);
    return ok;
}

/* The step of a folder name "checkpoint-<digits>", or -1. */
static int64_t checkpoint_step(const char *name)
{
    static const char prefix[] = "checkpoint-";
    if (strncmp(name, prefix, sizeof prefix - 1) != 0)
        return -1;
    const char *d = name + sizeof prefix - 1;
    if (!*d || strlen(d) > 18)
        return -1;
    int64_t v = 0;
    for (; *d; d++) {
        if (*d < '0' || *d > '9')
            return -1;
        v = v * 10 + (*d - '0');
    }
    return v;
}

/* The complete checkpoints under dir, sorted by step. */
static sbt_status list_checkpoints(const char *dir, int64_t **steps, size_t *n)
{
    *steps = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? SBT_OK
                               : sbti_fail(SBT_E_IO, "cannot read %s: %s", dir, strerror(errno));
    size_t cap = 0;
    sbt_status st = SBT_OK;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && st == SBT_OK) {
        int64_t s = checkpoint_step(e->d_name);
        if (s < 0)
            continue;
        char *sub = sbti_path_join(dir, e->d_name);
        int ok = sub && file_exists(sub, STATE_FILE);
        free(sub);
        if (!ok)
            continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 16;
            int64_t *g = realloc(*steps, sizeof *g * cap);
            if (!g) {
                st = sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory");
                break;
            }
            *steps = g;
        }
        (*steps)[(*n)++] = s;
    }
    closedir(d);
    for (size_t i = 1; i < *n; i++) /* insertion sort: a handful of entries */
        for (size_t j = i; j > 0 && (*steps)[j - 1] > (*steps)[j]; j--) {
            int64_t x = (*steps)[j];
            (*steps)[j] = (*steps)[j - 1];
            (*steps)[j - 1] = x;
        }
    if (st != SBT_OK) {
        free(*steps);
        *steps = NULL;
        *n = 0;
    }
    return st;
}

sbt_status sbt_trainer_latest_checkpoint(const char *output_dir, char *buf, size_t cap)
{
    if (!output_dir || (!buf && cap))
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_trainer_latest_checkpoint: NULL argument");
    int64_t *steps;
    size_t n;
    sbt_status st = list_checkpoints(output_dir, &steps, &n);
    if (st != SBT_OK)
        return st;
    if (n == 0)
        return sbti_fail(SBT_E_NOT_FOUND, "no checkpoint-<step> folder with %s in %s", STATE_FILE,
                         output_dir);
    int64_t last = steps[n - 1];
    free(steps);
    int len = snprintf(buf, cap, "%s%scheckpoint-%lld", output_dir,
                       output_dir[0] && output_dir[strlen(output_dir) - 1] == '/' ? "" : "/",
                       (long long)last);
    if (len < 0 || (size_t)len >= cap)
        return sbti_fail(SBT_E_INVALID_ARGUMENT,
                         "sbt_trainer_latest_checkpoint: the path needs %d bytes", len + 1);
    return SBT_OK;
}

/* ---- optimizer moments -------------------------------------------------------------------- */

typedef struct optim_fill {
    const sbt_model *m;
} optim_fill;

/* Tensor i: param i/2's exp_avg (even) or exp_avg_sq (odd). */
static sbt_status fill_moment(void *user, size_t i, void *buf)
{
    const sbt_model *m = ((optim_fill *)user)->m;
    const sbti_param *p = &m->params[i / 2];
    float *src = i % 2 ? m->adam_v : m->adam_m;
    return m->be->ops->download(m->be, buf, src, SBTI_MEM_F32, p->offset, p->numel);
}

static sbt_status save_optimizer(const sbt_trainer *t, const char *path)
{
    const sbt_model *m = t->m;
    size_t n = 2 * m->n_params;
    sbti_st_entry *e = calloc(n, sizeof *e);
    char (*names)[100] = calloc(n, sizeof *names);
    if (!e || !names) {
        free(e);
        free(names);
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        const sbti_param *p = &m->params[i / 2];
        snprintf(names[i], sizeof names[i], "%s.%s", p->name, i % 2 ? "exp_avg_sq" : "exp_avg");
        e[i].name = names[i];
        e[i].dtype = SBTI_F32;
        e[i].ndim = p->ndim;
        e[i].shape = p->shape;
        e[i].data = NULL;
    }
    char step[32];
    snprintf(step, sizeof step, "%lld", (long long)t->step);
    const char *meta[] = {"format", "pt", "optimizer", "adamw", "step", step};
    optim_fill f = {m};
    sbt_status st = sbti_st_write_stream(path, e, n, meta, 3, fill_moment, &f);
    free(e);
    free(names);
    return st;
}

static sbt_status load_optimizer(sbt_trainer *t, const char *path)
{
    sbt_model *m = t->m;
    sbti_backend *be = m->be;
    sbti_st_file *f = NULL;
    sbt_status st = sbti_st_open(&f, path);
    if (st != SBT_OK)
        return st;
    st = sbti_model_alloc_optimizer(m);
    float *buf = NULL;
    size_t cap = 0;
    for (size_t i = 0; st == SBT_OK && i < 2 * m->n_params; i++) {
        const sbti_param *p = &m->params[i / 2];
        char name[100];
        snprintf(name, sizeof name, "%s.%s", p->name, i % 2 ? "exp_avg_sq" : "exp_avg");
        const sbti_st_tensor *ts = sbti_st_find(f, name);
        if (!ts) {
            st = sbti_fail(SBT_E_NOT_FOUND, "%s: no tensor %s", path, name);
            break;
        }
        if ((size_t)ts->numel != p->numel) {
            st = sbti_fail(SBT_E_PARSE, "%s: %s has %lld values, the model's tensor %zu", path,
                           name, (long long)ts->numel, p->numel);
            break;
        }
        if (p->numel > cap) {
            float *nb = realloc(buf, sizeof *buf * p->numel);
            if (!nb) {
                st = sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory");
                break;
            }
            buf = nb;
            cap = p->numel;
        }
        sbti_st_to_f32(buf, ts);
        st = be->ops->upload(be, i % 2 ? m->adam_v : m->adam_m, SBTI_MEM_F32, p->offset, buf,
                             SBTI_F32, p->numel);
    }
    free(buf);
    sbti_st_close(f);
    return st;
}

/* ---- trainer state ------------------------------------------------------------------------ */

static json_t *state_json(const sbt_trainer *t)
{
    char fp[32];
    snprintf(fp, sizeof fp, "%016" PRIx64, t->fingerprint);
    const sbt_trainer_options *o = &t->o;
    json_t *j = json_pack(
        "{s:s, s:i, s:I, s:I, s:f, s:I, s:I, s:I, s:I, s:I, s:{s:f, s:I, s:I}, s:f, s:f, s:f,"
        " s:{s:I, s:i, s:i, s:i, s:I, s:s, s:i, s:i, s:i, s:s, s:f, s:s, s:I},"
        " s:{s:s, s:s, s:I}}",
        "format", STATE_FORMAT, "version", STATE_VERSION, "global_step", (json_int_t)t->step,
        "max_steps", (json_int_t)t->max_steps, "epoch", (double)t->step / (double)t->steps_per_epoch,
        "data_epoch", (json_int_t)t->epoch, "data_batch", (json_int_t)t->batch, "n_batches",
        (json_int_t)t->n_batches, "steps_per_epoch", (json_int_t)t->steps_per_epoch, "tokens_total",
        (json_int_t)t->tokens_total, "log_accum",
        "loss_sum", t->log_loss_sum, "labelled", (json_int_t)t->log_labelled, "steps",
        (json_int_t)t->log_steps_done, "last_lr", t->last_lr, "last_grad_norm",
        isfinite(t->last_grad_norm) ? t->last_grad_norm : 0.0, "last_loss",
        isfinite(t->last_loss) ? t->last_loss : 0.0,
        /* what must match on resume */
        "setup", "seed", (json_int_t)o->seed, "batch_size", (int)o->batch_size,
        "gradient_accumulation_steps", (int)o->gradient_accumulation_steps, "context_length",
        (int)o->context_length, "n_train_rows", (json_int_t)t->n_rows, "train_fingerprint", fp,
        "mask_error_step", (int)o->mask_error_step, "shuffle", (int)o->shuffle,
        "pad_label_eos", (int)o->pad_label_eos,
        "lr_scheduler_type", sbt_lr_schedule_name(o->lr_scheduler_type), "lr", o->lr,
        "model_dtype",
        t->model_dtype == SBT_DTYPE_BF16  ? "bfloat16"
        : t->model_dtype == SBT_DTYPE_F16 ? "float16"
                                          : "float32",
        "warmup_steps", (json_int_t)o->warmup_steps,
        /* where the rest of the state is */
        "files", "optimizer", t->m->adam_m ? OPTIM_FILE : "", "model", "model.safetensors",
        "adam_step", (json_int_t)t->step);
    return j;
}

static sbt_status write_state(const sbt_trainer *t, const char *path)
{
    json_t *j = state_json(t);
    if (!j)
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory writing %s", path);
    sbti_atomic_file f;
    sbt_status st = sbti_atomic_open(&f, path);
    if (st == SBT_OK) {
        if (json_dumpf(j, f.fp, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17)) !=
                0 ||
            fputc('\n', f.fp) == EOF) {
            st = sbti_fail(SBT_E_IO, "cannot write %s: %s", path, strerror(errno));
            sbti_atomic_abort(&f);
        } else {
            st = sbti_atomic_commit(&f);
        }
    }
    json_decref(j);
    return st;
}

/* Writes the whole checkpoint folder into dir (made here). */
static sbt_status write_checkpoint(const sbt_trainer *t, const char *dir)
{
    sbt_status st = sbti_mkdirs(dir);
    sbt_model_save_options so;
    sbt_model_save_options_init(&so);
    so.dtype = SBT_DTYPE_F32; /* the training weights exactly: resume is bit for bit */
    if (st == SBT_OK)
        st = sbt_model_save(t->m, dir, &so);
    if (st == SBT_OK)
        st = sbt_tokenizer_save(t->tok, dir);
    if (st == SBT_OK && t->m->adam_m) {
        char *p = sbti_path_join(dir, OPTIM_FILE);
        st = p ? save_optimizer(t, p) : sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory");
        free(p);
    }
    if (st == SBT_OK) { /* last: its presence marks the folder complete */
        char *p = sbti_path_join(dir, STATE_FILE);
        st = p ? write_state(t, p) : sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory");
        free(p);
    }
    return st;
}

static void rotate(const sbt_trainer *t)
{
    if (t->o.save_total_limit <= 0)
        return;
    int64_t *steps;
    size_t n;
    if (list_checkpoints(t->output_dir, &steps, &n) != SBT_OK)
        return;
    for (size_t i = 0; i + (size_t)t->o.save_total_limit < n; i++) {
        if (steps[i] == t->step)
            continue;
        char name[64];
        snprintf(name, sizeof name, "checkpoint-%lld", (long long)steps[i]);
        char *p = sbti_path_join(t->output_dir, name);
        if (p) {
            sbti_log(SBT_LOG_INFO, "removing %s (save_total_limit %d)", p,
                     (int)t->o.save_total_limit);
            rm_tree(p);
        }
        free(p);
    }
    free(steps);
}

sbt_status sbt_trainer_save_checkpoint(sbt_trainer *t)
{
    if (!t)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_trainer_save_checkpoint: trainer is NULL");
    sbt_status st = sbti_mkdirs(t->output_dir);
    if (st != SBT_OK)
        return st;
    char name[64], tmp_name[80], old_name[80];
    snprintf(name, sizeof name, "checkpoint-%lld", (long long)t->step);
    snprintf(tmp_name, sizeof tmp_name, ".tmp-%s", name);
    snprintf(old_name, sizeof old_name, ".old-%s", name);
    char *final = sbti_path_join(t->output_dir, name);
    char *tmp = sbti_path_join(t->output_dir, tmp_name);
    char *old = sbti_path_join(t->output_dir, old_name);
    if (!final || !tmp || !old)
        st = sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory");
    if (st == SBT_OK) {
        rm_tree(tmp);
        st = write_checkpoint(t, tmp);
    }
    if (st == SBT_OK) {
        struct stat sb;
        int had = stat(final, &sb) == 0;
        if (had) {
            rm_tree(old);
            if (rename(final, old) != 0)
                st = sbti_fail(SBT_E_IO, "cannot rename %s: %s", final, strerror(errno));
        }
        if (st == SBT_OK && rename(tmp, final) != 0)
            st = sbti_fail(SBT_E_IO, "cannot rename %s to %s: %s", tmp, final, strerror(errno));
        if (st == SBT_OK) {
            fsync_dir(t->output_dir);
            if (had)
                rm_tree(old);
        }
    }
    if (st != SBT_OK && tmp)
        rm_tree(tmp);
    if (st == SBT_OK) {
        t->last_save_step = t->step;
        sbti_log(SBT_LOG_INFO, "saved %s", final);
        rotate(t);
    }
    free(final);
    free(tmp);
    free(old);
    return st;
}

sbt_status sbti_train_save_final(sbt_trainer *t, int *stop)
{
    sbt_status st = SBT_OK;
    if (t->last_save_step != t->step) {
        st = sbt_trainer_save_checkpoint(t);
        if (st == SBT_OK) {
            char name[64];
            snprintf(name, sizeof name, "checkpoint-%lld", (long long)t->step);
            char *p = sbti_path_join(t->output_dir, name);
            *stop |= sbti_train_emit(t, SBT_TRAIN_EVENT_SAVE, NAN, NAN, p);
            free(p);
        }
    }
    char *dir = sbti_path_join(t->output_dir, "final_model");
    if (!dir)
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory");
    sbt_model_save_options so;
    sbt_model_save_options_init(&so);
    so.dtype = t->o.final_dtype != SBT_DTYPE_AUTO ? t->o.final_dtype : t->model_dtype;
    if (st == SBT_OK)
        st = sbti_mkdirs(dir);
    if (st == SBT_OK)
        st = sbt_model_save(t->m, dir, &so);
    if (st == SBT_OK)
        st = sbt_tokenizer_save(t->tok, dir);
    if (st == SBT_OK)
        *stop |= sbti_train_emit(t, SBT_TRAIN_EVENT_SAVE, NAN, NAN, dir);
    free(dir);
    return st;
}

/* ---- resume --------------------------------------------------------------------------------- */

/* Keeps the metrics.jsonl lines whose step is at most `step`. */
static sbt_status cut_metrics(const sbt_trainer *t)
{
    char *path = sbti_path_join(t->output_dir, "metrics.jsonl");
    if (!path)
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory");
    FILE *in = fopen(path, "rb");
    if (!in) {
        free(path);
        return SBT_OK;
    }
    sbti_atomic_file f;
    sbt_status st = sbti_atomic_open(&f, path);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while (st == SBT_OK && (len = getline(&line, &cap, in)) > 0) {
        json_t *j = json_loadb(line, (size_t)len, 0, NULL);
        json_t *s = j ? json_object_get(j, "step") : NULL;
        int keep = s && json_is_integer(s) && json_integer_value(s) <= t->step;
        json_decref(j);
        if (keep && fwrite(line, 1, (size_t)len, f.fp) != (size_t)len)
            st = sbti_fail(SBT_E_IO, "cannot write %s: %s", path, strerror(errno));
    }
    free(line);
    fclose(in);
    if (st == SBT_OK)
        st = sbti_atomic_commit(&f);
    else
        sbti_atomic_abort(&f);
    free(path);
    return st;
}

static sbt_status get_int(json_t *obj, const char *key, const char *path, int64_t *out)
{
    json_t *v = json_object_get(obj, key);
    if (!v || !json_is_integer(v))
        return sbti_fail(SBT_E_PARSE, "%s: \"%s\" is missing or not an integer", path, key);
    *out = json_integer_value(v);
    return SBT_OK;
}

static sbt_status get_num(json_t *obj, const char *key, const char *path, double *out)
{
    json_t *v = json_object_get(obj, key);
    if (!v || !json_is_number(v))
        return sbti_fail(SBT_E_PARSE, "%s: \"%s\" is missing or not a number", path, key);
    *out = json_number_value(v);
    return SBT_OK;
}

/* The setup field key of the checkpoint must equal want. */
static sbt_status same(json_t *setup, const char *key, int64_t want, const char *path)
{
    int64_t v = 0;
    sbt_status st = get_int(setup, key, path, &v);
    if (st == SBT_OK && v != want)
        st = sbti_fail(SBT_E_INVALID_ARGUMENT,
                       "%s: the checkpoint was trained with %s %lld, this run has %lld", path, key,
                       (long long)v, (long long)want);
    return st;
}

sbt_status sbt_trainer_resume(sbt_trainer *t, const char *dir)
{
    if (!t)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_trainer_resume: trainer is NULL");
    char latest[4096];
    if (!dir) {
        sbt_status st = sbt_trainer_latest_checkpoint(t->output_dir, latest, sizeof latest);
        if (st != SBT_OK)
            return st;
        dir = latest;
    }
    char *path = sbti_path_join(dir, STATE_FILE);
    if (!path)
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory");
    json_error_t err;
    json_t *j = json_load_file(path, 0, &err);
    sbt_status st = SBT_OK;
    if (!j)
        st = access(path, F_OK) != 0
                 ? sbti_fail(SBT_E_NOT_FOUND, "%s: no %s: not a trainer checkpoint", dir, STATE_FILE)
                 : sbti_fail(SBT_E_PARSE, "%s:%d: %s", path, err.line, err.text);
    json_t *setup = j ? json_object_get(j, "setup") : NULL;
    json_t *acc = j ? json_object_get(j, "log_accum") : NULL;
    if (st == SBT_OK) {
        json_t *fmt = json_object_get(j, "format");
        if (!fmt || !json_is_string(fmt) || strcmp(json_string_value(fmt), STATE_FORMAT) != 0)
            st = sbti_fail(SBT_E_PARSE, "%s: \"format\" is not \"%s\"", path, STATE_FORMAT);
        else if (!json_is_object(setup) || !json_is_object(acc))
            st = sbti_fail(SBT_E_PARSE, "%s: \"setup\" or \"log_accum\" is missing", path);
    }
    int64_t version = 0, step = 0, epoch = 0, batch = 0, labelled = 0, nsteps = 0, tokens = 0;
    double loss_sum = 0, last_lr = 0, last_gn = 0, last_loss = 0;
    if (st == SBT_OK)
        st = get_int(j, "version", path, &version);
    if (st == SBT_OK && version != STATE_VERSION)
        st = sbti_fail(SBT_E_UNSUPPORTED, "%s: version %lld (this library reads %d)", path,
                       (long long)version, STATE_VERSION);
    if (st == SBT_OK)
        st = get_int(j, "global_step", path, &step);
    if (st == SBT_OK)
        st = get_int(j, "data_epoch", path, &epoch);
    if (st == SBT_OK)
        st = get_int(j, "data_batch", path, &batch);
    if (st == SBT_OK)
        st = get_int(j, "tokens_total", path, &tokens);
    if (st == SBT_OK)
        st = get_num(acc, "loss_sum", path, &loss_sum);
    if (st == SBT_OK)
        st = get_int(acc, "labelled", path, &labelled);
    if (st == SBT_OK)
        st = get_int(acc, "steps", path, &nsteps);
    if (st == SBT_OK)
        st = get_num(j, "last_lr", path, &last_lr);
    if (st == SBT_OK)
        st = get_num(j, "last_grad_norm", path, &last_gn);
    if (st == SBT_OK)
        st = get_num(j, "last_loss", path, &last_loss);
    if (st == SBT_OK)
        st = same(setup, "seed", (int64_t)t->o.seed, path);
    if (st == SBT_OK)
        st = same(setup, "batch_size", t->o.batch_size, path);
    if (st == SBT_OK)
        st = same(setup, "gradient_accumulation_steps", t->o.gradient_accumulation_steps, path);
    if (st == SBT_OK)
        st = same(setup, "context_length", t->o.context_length, path);
    if (st == SBT_OK)
        st = same(setup, "mask_error_step", t->o.mask_error_step, path);
    if (st == SBT_OK)
        st = same(setup, "shuffle", t->o.shuffle, path);
    if (st == SBT_OK && json_object_get(setup, "pad_label_eos"))
        st = same(setup, "pad_label_eos", t->o.pad_label_eos, path);
    if (st == SBT_OK)
        st = same(setup, "n_train_rows", t->n_rows, path);
    if (st == SBT_OK) {
        char fp[32];
        snprintf(fp, sizeof fp, "%016" PRIx64, t->fingerprint);
        json_t *v = json_object_get(setup, "train_fingerprint");
        if (!v || !json_is_string(v) || strcmp(json_string_value(v), fp) != 0)
            st = sbti_fail(SBT_E_INVALID_ARGUMENT,
                           "%s: the training rows differ from the checkpoint's (train_fingerprint "
                           "%s, this run's data %s)", path, v && json_is_string(v) ? json_string_value(v) : "?", fp);
    }
    if (st == SBT_OK && (step < 0 || epoch < 0 || batch < 0 || batch > t->n_batches))
        st = sbti_fail(SBT_E_PARSE, "%s: the data position (epoch %lld, batch %lld) is not valid",
                       path, (long long)epoch, (long long)batch);
    if (st == SBT_OK) {
        json_t *md = json_object_get(setup, "model_dtype");
        const char *s = md && json_is_string(md) ? json_string_value(md) : "float32";
        t->model_dtype = !strcmp(s, "bfloat16") ? SBT_DTYPE_BF16
                         : !strcmp(s, "float16") ? SBT_DTYPE_F16
                                                 : SBT_DTYPE_F32;
        json_t *files = json_object_get(j, "files");
        json_t *opt = files ? json_object_get(files, "optimizer") : NULL;
        if (opt && json_is_string(opt) && json_string_value(opt)[0]) {
            char *op = sbti_path_join(dir, json_string_value(opt));
            st = op ? load_optimizer(t, op) : sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory");
            free(op);
        } else if (step > 0) {
            st = sbti_fail(SBT_E_NOT_FOUND, "%s: the checkpoint of step %lld has no optimizer "
                           "state", path, (long long)step);
        }
    }
    if (st == SBT_OK) {
        t->step = step;
        t->epoch = epoch;
        t->batch = batch;
        t->tokens_total = tokens;
        t->log_loss_sum = loss_sum;
        t->log_labelled = labelled;
        t->log_steps_done = nsteps;
        t->last_lr = last_lr;
        t->last_grad_norm = last_gn;
        t->last_loss = last_loss;
        t->resumed = 1;
        t->last_save_step = step;
        if (t->metrics) {
            fclose(t->metrics);
            t->metrics = NULL;
        }
        st = cut_metrics(t);
        if (step > t->max_steps)
            sbti_log(SBT_LOG_WARN, "%s: step %lld is past this run's max_steps %lld", dir,
                     (long long)step, (long long)t->max_steps);
        sbti_log(SBT_LOG_INFO, "resumed from %s at step %lld (epoch %lld, batch %lld)", dir,
                 (long long)step, (long long)epoch, (long long)batch);
    }
    json_decref(j);
    free(path);
    return st;
}
