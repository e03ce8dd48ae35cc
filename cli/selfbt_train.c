/* selfbt-train — supervised fine-tuning with the Self-Backtracking loss masks, as the seed's
 * train.py: `selfbt-train --config configs/sft.conf` reads the seed's sft.conf keys (JSON) plus
 * ours; flags override the file. Starts from a Hugging Face checkpoint (<backtrack> added,
 * embeddings resized) or from scratch (a size preset and the compact Countdown tokenizer);
 * --resume continues from the newest checkpoint exactly. See docs/train.md. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_args.h"
#include "cli_data.h"
#include "cli_progress.h"
#include "selfbt/dataset.h"
#include "selfbt/selfbt.h"
#include "selfbt/trainer.h"

#define PROG "selfbt-train"

/* ---- the settings: config keys, then flags ------------------------------------------------ */

typedef struct settings {
    /* seed's keys */
    const char *name, *train_type, *output_dir, *data_dir, *train_file, *val_file;
    int64_t seed, num_train, context_length, eval_steps, log_steps, batch_size, grad_accum;
    int64_t warmup_steps, save_total_limit, save_steps;
    double dataset_percent, num_train_epochs, weight_decay, lr;
    const char *lr_scheduler_type;
    /* ours */
    const char *model, *preset, *data, *backend, *val_split, *final_dtype;
    int64_t threads, max_steps, eval_max_rows, eval_batch_size, skip_bad_rows, mask_error_step;
    int64_t pad_label_eos;
    double max_grad_norm, adam_beta1, adam_beta2, adam_epsilon;
    int has_num_train, has_dataset_percent;
} settings;

typedef enum ktype { K_STR, K_INT, K_NUM, K_BOOL } ktype;

typedef struct key {
    const char *name;
    ktype type;
    size_t off;
    size_t has_off; /* (size_t)-1: none */
} key;

#define S(f) offsetof(settings, f)
#define NOHAS ((size_t)-1)
static const key KEYS[] = {
    {"name", K_STR, S(name), NOHAS},
    {"train_type", K_STR, S(train_type), NOHAS},
    {"seed", K_INT, S(seed), NOHAS},
    {"output_dir", K_STR, S(output_dir), NOHAS},
    {"data_dir", K_STR, S(data_dir), NOHAS},
    {"train_file", K_STR, S(train_file), NOHAS},
    {"val_file", K_STR, S(val_file), NOHAS},
    {"num_train", K_INT, S(num_train), S(has_num_train)},
    {"dataset_percent", K_NUM, S(dataset_percent), S(has_dataset_percent)},
    {"context_length", K_INT, S(context_length), NOHAS},
    {"eval_steps", K_INT, S(eval_steps), NOHAS},
    {"log_steps", K_INT, S(log_steps), NOHAS},
    {"batch_size", K_INT, S(batch_size), NOHAS},
    {"gradient_accumulation_steps", K_INT, S(grad_accum), NOHAS},
    {"num_train_epochs", K_NUM, S(num_train_epochs), NOHAS},
    {"weight_decay", K_NUM, S(weight_decay), NOHAS},
    {"warmup_steps", K_INT, S(warmup_steps), NOHAS},
    {"lr_scheduler_type", K_STR, S(lr_scheduler_type), NOHAS},
    {"lr", K_NUM, S(lr), NOHAS},
    {"save_total_limit", K_INT, S(save_total_limit), NOHAS},
    {"save_steps", K_INT, S(save_steps), NOHAS},
    /* libselfbt's */
    {"model", K_STR, S(model), NOHAS},
    {"preset", K_STR, S(preset), NOHAS},
    {"data", K_STR, S(data), NOHAS},
    {"val_split", K_STR, S(val_split), NOHAS},
    {"backend", K_STR, S(backend), NOHAS},
    {"threads", K_INT, S(threads), NOHAS},
    {"max_steps", K_INT, S(max_steps), NOHAS},
    {"max_grad_norm", K_NUM, S(max_grad_norm), NOHAS},
    {"adam_beta1", K_NUM, S(adam_beta1), NOHAS},
    {"adam_beta2", K_NUM, S(adam_beta2), NOHAS},
    {"adam_epsilon", K_NUM, S(adam_epsilon), NOHAS},
    {"eval_max_rows", K_INT, S(eval_max_rows), NOHAS},
    {"eval_batch_size", K_INT, S(eval_batch_size), NOHAS},
    {"skip_bad_rows", K_BOOL, S(skip_bad_rows), NOHAS},
    {"mask_error_step", K_BOOL, S(mask_error_step), NOHAS},
    {"pad_label_eos", K_BOOL, S(pad_label_eos), NOHAS},
    {"final_dtype", K_STR, S(final_dtype), NOHAS},
};
#define N_KEYS (sizeof KEYS / sizeof *KEYS)

/* ---- a flat JSON object reader (the config is one object of scalars) ------------------- */

typedef struct jr {
    const char *path, *s, *p;
    int line;
} jr;

static int jerr(jr *r, const char *fmt, const char *what)
{
    fprintf(stderr, "%s: %s:%d: ", PROG, r->path, r->line);
    fprintf(stderr, fmt, what);
    fputc('\n', stderr);
    return -1;
}

static void jws(jr *r)
{
    for (;;) {
        while (*r->p == ' ' || *r->p == '\t' || *r->p == '\r' || *r->p == '\n') {
            r->line += *r->p == '\n';
            r->p++;
        }
        if (r->p[0] == '/' && r->p[1] == '/') { /* tolerate // comments */
            while (*r->p && *r->p != '\n')
                r->p++;
            continue;
        }
        break;
    }
}

/* A JSON string into a new buffer (\uXXXX of the BMP and surrogate pairs as UTF-8). */
static char *jstr(jr *r)
{
    if (*r->p != '"')
        return NULL;
    r->p++;
    size_t cap = 64, n = 0;
    char *out = malloc(cap);
    while (out && *r->p && *r->p != '"') {
        if (n + 8 > cap) {
            char *o2 = realloc(out, cap *= 2);
            if (!o2) {
                free(out);
                return NULL;
            }
            out = o2;
        }
        char c = *r->p++;
        if (c == '\n') {
            free(out);
            return NULL;
        }
        if (c != '\\') {
            out[n++] = c;
            continue;
        }
        c = *r->p++;
        switch (c) {
        case 'n': out[n++] = '\n'; break;
        case 't': out[n++] = '\t'; break;
        case 'r': out[n++] = '\r'; break;
        case 'b': out[n++] = '\b'; break;
        case 'f': out[n++] = '\f'; break;
        case '"': case '\\': case '/': out[n++] = c; break;
        case 'u': {
            unsigned v = 0;
            for (int i = 0; i < 4; i++) {
                char h = *r->p++;
                v = v * 16 + (unsigned)(h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10
                                        : h >= 'A' && h <= 'F' ? h - 'A' + 10 : 99);
                if (v > 0xFFFF || !h) {
                    free(out);
                    return NULL;
                }
            }
            if (v < 0x80) {
                out[n++] = (char)v;
            } else if (v < 0x800) {
                out[n++] = (char)(0xC0 | v >> 6);
                out[n++] = (char)(0x80 | (v & 0x3F));
            } else {
                out[n++] = (char)(0xE0 | v >> 12);
                out[n++] = (char)(0x80 | ((v >> 6) & 0x3F));
                out[n++] = (char)(0x80 | (v & 0x3F));
            }
            break;
        }
        default:
            free(out);
            return NULL;
        }
    }
    if (!out || *r->p != '"') {
        free(out);
        return NULL;
    }
    r->p++;
    out[n] = '\0';
    return out;
}

/* Skips a nested object or array (for keys we only warn about). */
static int jskip_nested(jr *r)
{
    int depth = 0;
    do {
        char c = *r->p;
        if (!c)
            return -1;
        if (c == '"') {
            char *s = jstr(r);
            if (!s)
                return -1;
            free(s);
            continue;
        }
        if (c == '{' || c == '[')
            depth++;
        else if (c == '}' || c == ']')
            depth--;
        r->line += c == '\n';
        r->p++;
    } while (depth > 0);
    return 0;
}

static char **g_strings; /* strings the config made (freed at exit) */
static size_t g_n_strings;

static int keep_string(char *s)
{
    char **g = realloc(g_strings, sizeof *g * (g_n_strings + 1));
    if (!g)
        return -1;
    g_strings = g;
    g_strings[g_n_strings++] = s;
    return 0;
}

static const char *type_name(ktype t)
{
    return t == K_STR ? "a string" : t == K_INT ? "an integer" : t == K_NUM ? "a number"
                                                                           : "true or false";
}

static int read_config(const char *path, settings *cfg)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "%s: --config: cannot open %s: %s\n", PROG, path, strerror(errno));
        return -1;
    }
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            char *b = realloc(buf, cap = 2 * cap + 8192);
            if (!b) {
                free(buf);
                fclose(f);
                return -1;
            }
            buf = b;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    fclose(f);
    buf[n] = '\0';
    jr r = {path, buf, buf, 1};
    int rc = 0;
    jws(&r);
    if (*r.p != '{') {
        rc = jerr(&r, "%s", "expected a JSON object ({ ... })");
        goto done;
    }
    r.p++;
    jws(&r);
    if (*r.p == '}') {
        r.p++;
        goto end;
    }
    for (;;) {
        jws(&r);
        char *k = jstr(&r);
        if (!k) {
            rc = jerr(&r, "%s", "expected a key in double quotes");
            goto done;
        }
        jws(&r);
        if (*r.p != ':') {
            rc = jerr(&r, "expected ':' after \"%s\"", k);
            free(k);
            goto done;
        }
        r.p++;
        jws(&r);
        const key *kd = NULL;
        for (size_t i = 0; i < N_KEYS; i++)
            if (!strcmp(KEYS[i].name, k))
                kd = &KEYS[i];
        char *base = (char *)cfg;
        if (*r.p == '{' || *r.p == '[') {
            int line = r.line;
            if (jskip_nested(&r) != 0) {
                rc = jerr(&r, "%s", "unterminated object or array");
                free(k);
                goto done;
            }
            if (kd) {
                fprintf(stderr, "%s: %s:%d: \"%s\" must be %s, not an object or array\n", PROG,
                        path, line, k, type_name(kd->type));
                rc = -1;
                free(k);
                goto done;
            }
            fprintf(stderr, "%s: warning: %s:%d: unknown key \"%s\" ignored\n", PROG, path, line, k);
        } else if (*r.p == '"') {
            int line = r.line;
            char *v = jstr(&r);
            if (!v) {
                rc = jerr(&r, "bad string value of \"%s\"", k);
                free(k);
                goto done;
            }
            if (!kd) {
                fprintf(stderr, "%s: warning: %s:%d: unknown key \"%s\" ignored\n", PROG, path,
                        line, k);
                free(v);
            } else if (kd->type != K_STR) {
                fprintf(stderr, "%s: %s:%d: \"%s\" must be %s, not a string (\"%s\")\n", PROG, path,
                        line, k, type_name(kd->type), v);
                free(v);
                free(k);
                rc = -1;
                goto done;
            } else {
                keep_string(v);
                *(const char **)(base + kd->off) = v;
            }
        } else {
            const char *a = r.p;
            while (*r.p && !strchr(",}\n\r\t ", *r.p))
                r.p++;
            char tok[64];
            size_t tl = (size_t)(r.p - a) < sizeof tok - 1 ? (size_t)(r.p - a) : sizeof tok - 1;
            memcpy(tok, a, tl);
            tok[tl] = '\0';
            if (!kd) {
                fprintf(stderr, "%s: warning: %s:%d: unknown key \"%s\" ignored\n", PROG, path,
                        r.line, k);
            } else if (!strcmp(tok, "null")) {
                /* null: keep the default */
            } else if (kd->type == K_BOOL) {
                if (strcmp(tok, "true") && strcmp(tok, "false") && strcmp(tok, "0") &&
                    strcmp(tok, "1")) {
                    fprintf(stderr, "%s: %s:%d: \"%s\" must be true or false, not %s\n", PROG,
                            path, r.line, k, tok);
                    free(k);
                    rc = -1;
                    goto done;
                }
                *(int64_t *)(base + kd->off) = !strcmp(tok, "true") || !strcmp(tok, "1");
            } else if (kd->type == K_STR) {
                fprintf(stderr, "%s: %s:%d: \"%s\" must be a string, not %s\n", PROG, path, r.line,
                        k, tok);
                free(k);
                rc = -1;
                goto done;
            } else {
                char *end;
                errno = 0;
                double d = strtod(tok, &end);
                int is_int = *end == '\0' && tl > 0 && !strpbrk(tok, ".eE") && errno == 0;
                if (*end != '\0' || tl == 0 || !isfinite(d) ||
                    (kd->type == K_INT && (!is_int || fabs(d) > 9e15))) {
                    fprintf(stderr, "%s: %s:%d: \"%s\" must be %s, not %s\n", PROG, path, r.line,
                            k, type_name(kd->type), tok[0] ? tok : "(nothing)");
                    free(k);
                    rc = -1;
                    goto done;
                }
                if (kd->type == K_INT)
                    *(int64_t *)(base + kd->off) = strtoll(tok, NULL, 10);
                else
                    *(double *)(base + kd->off) = d;
                if (kd->has_off != NOHAS)
                    *(int *)(base + kd->has_off) = 1;
            }
        }
        free(k);
        jws(&r);
        if (*r.p == ',') {
            r.p++;
            continue;
        }
        if (*r.p == '}') {
            r.p++;
            break;
        }
        rc = jerr(&r, "%s", "expected ',' or '}'");
        goto done;
    }
end:
    jws(&r);
    if (*r.p)
        rc = jerr(&r, "%s", "text after the closing '}'");
done:
    free(buf);
    return rc;
}

/* ---- progress ---------------------------------------------------------------------------- */

typedef struct run {
    cli_progress bar;
    int tty, quiet;
    int64_t first_step;
} run;

static void fmt_time(char *buf, size_t cap, double s)
{
    if (!isfinite(s) || s < 0)
        snprintf(buf, cap, "?");
    else if (s < 60)
        snprintf(buf, cap, "%.0fs", s);
    else if (s < 3600)
        snprintf(buf, cap, "%dm%02ds", (int)s / 60, (int)s % 60);
    else
        snprintf(buf, cap, "%dh%02dm", (int)s / 3600, ((int)s / 60) % 60);
}

static int on_event(const sbt_trainer_event *ev, void *user)
{
    run *r = user;
    int cancel = cli_progress_cb("train", 0, 0, &r->bar); /* only reads Ctrl-C */
    if (r->quiet)
        return cancel;
    int64_t done = ev->step - r->first_step;
    double eta = done > 0 ? ev->elapsed_s / (double)done * (double)(ev->max_steps - ev->step) : NAN;
    char eta_s[32];
    fmt_time(eta_s, sizeof eta_s, eta);
    switch (ev->kind) {
    case SBT_TRAIN_EVENT_STEP:
        if (r->tty)
            fprintf(stderr,
                    "\r\033[Kstep %lld/%lld  epoch %.2f  loss %.4f  lr %.3g  %.0f tok/s  ETA %s",
                    (long long)ev->step, (long long)ev->max_steps, ev->epoch, ev->loss, ev->lr,
                    ev->tokens_per_s, eta_s);
        break;
    case SBT_TRAIN_EVENT_LOG:
        if (r->tty)
            fprintf(stderr, "\r\033[K");
        printf("step %lld/%lld  epoch %.2f  loss %.4f  lr %.3g  grad_norm %.3f  %.0f tok/s  ETA "
               "%s\n",
               (long long)ev->step, (long long)ev->max_steps, ev->epoch, ev->loss, ev->lr,
               ev->grad_norm, ev->tokens_per_s, eta_s);
        fflush(stdout);
        break;
    case SBT_TRAIN_EVENT_EVAL:
        if (r->tty)
            fprintf(stderr, "\r\033[K");
        printf("step %lld/%lld  eval_loss %.4f\n", (long long)ev->step, (long long)ev->max_steps,
               ev->eval_loss);
        fflush(stdout);
        break;
    case SBT_TRAIN_EVENT_SAVE:
        if (r->tty)
            fprintf(stderr, "\r\033[K");
        printf("saved %s\n", ev->path);
        fflush(stdout);
        break;
    }
    return cancel;
}

/* ---- setup ------------------------------------------------------------------------------- */

static int exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

/* dir/name into a new string (name as is when absolute or dir NULL). */
static char *join(const char *dir, const char *name)
{
    if (!dir || !*dir || name[0] == '/')
        return strdup(name);
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (p)
        snprintf(p, a + b + 2, "%s%s%s", dir, dir[a - 1] == '/' ? "" : "/", name);
    return p;
}

static sbt_dataset *load_data(const char *path, int require_sp, int skip, const char *what)
{
    if (!exists(path)) {
        fprintf(stderr, "%s: %s: no such file: %s\n", PROG, what, path);
        return NULL;
    }
    sbt_dataset_options o;
    sbt_dataset_options_init(&o);
    o.require_search_path = require_sp;
    o.skip_bad_rows = skip;
    sbt_dataset *d = NULL;
    if (sbt_dataset_load(&d, path, &o) != SBT_OK) {
        fprintf(stderr, "%s: %s: %s\n", PROG, what, sbt_last_error());
        return NULL;
    }
    return d;
}

int main(int argc, char **argv)
{
    settings c;
    memset(&c, 0, sizeof c);
    sbt_trainer_options to;
    sbt_trainer_options_init(&to);
    c.name = "selfbt";
    c.output_dir = "output";
    c.seed = (int64_t)to.seed;
    c.context_length = to.context_length;
    c.eval_steps = to.eval_steps;
    c.log_steps = to.log_steps;
    c.batch_size = to.batch_size;
    c.grad_accum = to.gradient_accumulation_steps;
    c.warmup_steps = to.warmup_steps;
    c.save_total_limit = to.save_total_limit;
    c.save_steps = to.save_steps;
    c.dataset_percent = 2.0;
    c.num_train_epochs = to.num_train_epochs;
    c.weight_decay = to.weight_decay;
    c.lr = to.lr;
    c.lr_scheduler_type = "cosine";
    c.backend = "auto";
    c.val_split = "auto";
    c.final_dtype = "auto";
    c.max_grad_norm = to.max_grad_norm;
    c.adam_beta1 = to.adam_beta1;
    c.adam_beta2 = to.adam_beta2;
    c.adam_epsilon = to.adam_epsilon;
    c.mask_error_step = 1;

    /* flags: read first for --config, applied over the file afterwards */
    const char *config = NULL, *f_model = NULL, *f_preset = NULL, *f_data = NULL, *f_train = NULL,
               *f_val = NULL, *f_out = NULL, *f_backend = NULL, *ckpt = NULL;
    int64_t f_threads = -1, f_max_steps = -1, f_batch = -1, f_seed = -1, f_log = -1, f_eval = -1,
            f_save = -1, f_num_train = -1, f_eval_rows = -1;
    double f_lr = -1, f_epochs = -1, f_pct = -1;
    int resume = 0, quiet = 0, overwrite = 0;
    const cli_opt opts[] = {
        {"config", CLI_STRING, &config, 0, 0, "FILE", "JSON config with the seed's sft.conf keys and ours (docs/train.md)"},
        {"model", CLI_STRING, &f_model, 0, 0, "PATH", "start from this HF checkpoint folder or Hub repo id (<backtrack> added, embeddings resized)"},
        {"preset", CLI_STRING, &f_preset, 0, 0, "NAME", "start from scratch: tiny, small, base or large, with the compact tokenizer"},
        {"ckpt", CLI_STRING, &f_model, 0, 0, "DIR", "with --resume: the checkpoint to continue from; else the same as --model"},
        {"resume", CLI_FLAG, &resume, 0, 0, NULL, "continue from the newest checkpoint in the output folder (or --ckpt)"},
        {"data", CLI_STRING, &f_data, 0, 0, "DIR", "a folder (train.jsonl/val.jsonl of selfbt-data, or the seed's files) or a dataset repo id"},
        {"train-file", CLI_STRING, &f_train, 0, 0, "FILE", "the training rows (JSONL or JSON array)"},
        {"val-file", CLI_STRING, &f_val, 0, 0, "FILE", "the rows of the eval loss"},
        {"output-dir", CLI_STRING, &f_out, 0, 0, "DIR", "checkpoints, metrics.jsonl, final_model (default: output)"},
        {"backend", CLI_STRING, &f_backend, 0, 0, "NAME", "auto, cpu or cuda (default auto)"},
        {"threads", CLI_INT, &f_threads, 0, 4096, "N", "CPU threads, 0 = OpenMP's default"},
        {"max-steps", CLI_INT, &f_max_steps, 1, 1e15, "N", "stop after N optimizer steps (overrides epochs)"},
        {"epochs", CLI_DOUBLE, &f_epochs, 0, 1e6, "X", "num_train_epochs"},
        {"batch-size", CLI_INT, &f_batch, 1, 65536, "N", "rows per micro-batch"},
        {"lr", CLI_DOUBLE, &f_lr, 0, 10, "X", "peak learning rate"},
        {"seed", CLI_INT, &f_seed, 0, 4294967295.0, "N", "seed of the sub-sample, the shuffle and a fresh model"},
        {"num-train", CLI_INT, &f_num_train, 1, 1e12, "N", "train on N sampled rows (instead of dataset_percent)"},
        {"dataset-percent", CLI_DOUBLE, &f_pct, 0, 100, "X", "train on X % of the rows, sampled with the seed (default 2)"},
        {"log-steps", CLI_INT, &f_log, 0, 1e15, "N", "a metrics line every N steps"},
        {"eval-steps", CLI_INT, &f_eval, 0, 1e15, "N", "eval loss every N steps (0: at the end)"},
        {"eval-max-rows", CLI_INT, &f_eval_rows, 0, 1e15, "N", "eval on the first N val rows (0: all)"},
        {"save-steps", CLI_INT, &f_save, 0, 1e15, "N", "a checkpoint every N steps (0: at the end)"},
        {"overwrite", CLI_FLAG, &overwrite, 0, 0, NULL, "start afresh even if the output folder holds checkpoints"},
        {"quiet", CLI_FLAG, &quiet, 0, 0, NULL, "no progress line and no log lines"},
    };
    const cli_spec spec = {PROG,
                           "Train a Llama model on Countdown with the Self-Backtracking loss masks "
                           "(SFT as the seed's train.py).",
                           opts, (int)(sizeof opts / sizeof *opts)};
    int rc = cli_parse(&spec, argc, argv);
    if (rc)
        return rc == 1 ? 0 : rc;
    if (config && read_config(config, &c) != 0)
        return 2;
    for (int i = 1; i < argc; i++) /* --ckpt and --model share a slot; remember which */
        if (!strcmp(argv[i], "--ckpt") || !strncmp(argv[i], "--ckpt=", 7))
            ckpt = f_model;
    if (f_model)
        c.model = f_model;
    if (f_preset)
        c.preset = f_preset;
    if (f_data)
        c.data = f_data;
    if (f_train)
        c.train_file = f_train, c.data_dir = NULL;
    if (f_val)
        c.val_file = f_val;
    if (f_out)
        c.output_dir = f_out;
    if (f_backend)
        c.backend = f_backend;
    if (f_threads >= 0)
        c.threads = f_threads;
    if (f_max_steps > 0)
        c.max_steps = f_max_steps;
    if (f_epochs >= 0)
        c.num_train_epochs = f_epochs;
    if (f_batch > 0)
        c.batch_size = f_batch;
    if (f_lr >= 0)
        c.lr = f_lr;
    if (f_seed >= 0)
        c.seed = f_seed;
    if (f_num_train > 0)
        c.num_train = f_num_train, c.has_num_train = 1, c.has_dataset_percent = 0;
    if (f_pct >= 0)
        c.dataset_percent = f_pct, c.has_dataset_percent = 1;
    if (f_log >= 0)
        c.log_steps = f_log;
    if (f_eval >= 0)
        c.eval_steps = f_eval;
    if (f_eval_rows >= 0)
        c.eval_max_rows = f_eval_rows;
    if (f_save >= 0)
        c.save_steps = f_save;
    if (c.train_type && strcmp(c.train_type, "sft") != 0) {
        fprintf(stderr, "%s: train_type \"%s\" is not supported (only \"sft\")\n", PROG,
                c.train_type);
        return 2;
    }

    /* everything that can be checked before loading anything */
    to.output_dir = c.output_dir;
    to.seed = (uint64_t)c.seed;
    to.context_length = (int32_t)c.context_length;
    to.batch_size = (int32_t)c.batch_size;
    to.eval_batch_size = (int32_t)c.eval_batch_size;
    to.gradient_accumulation_steps = (int32_t)c.grad_accum;
    to.num_train_epochs = c.num_train_epochs;
    to.max_steps = c.max_steps;
    to.lr = c.lr;
    to.warmup_steps = c.warmup_steps;
    to.weight_decay = c.weight_decay;
    to.adam_beta1 = c.adam_beta1;
    to.adam_beta2 = c.adam_beta2;
    to.adam_epsilon = c.adam_epsilon;
    to.max_grad_norm = c.max_grad_norm;
    to.log_steps = c.log_steps;
    to.eval_steps = c.eval_steps;
    to.eval_max_rows = c.eval_max_rows;
    to.save_steps = c.save_steps;
    to.save_total_limit = (int32_t)c.save_total_limit;
    to.mask_error_step = (int32_t)c.mask_error_step;
    to.pad_label_eos = (int32_t)c.pad_label_eos;
    if (sbt_lr_schedule_parse(c.lr_scheduler_type, &to.lr_scheduler_type) != SBT_OK) {
        fprintf(stderr, "%s: %s\n", PROG, sbt_last_error());
        return 2;
    }
    if (!strcmp(c.final_dtype, "auto"))
        to.final_dtype = SBT_DTYPE_AUTO;
    else if (!strcmp(c.final_dtype, "float32"))
        to.final_dtype = SBT_DTYPE_F32;
    else if (!strcmp(c.final_dtype, "bfloat16"))
        to.final_dtype = SBT_DTYPE_BF16;
    else if (!strcmp(c.final_dtype, "float16"))
        to.final_dtype = SBT_DTYPE_F16;
    else {
        fprintf(stderr, "%s: final_dtype \"%s\" is not auto, float32, bfloat16 or float16\n", PROG,
                c.final_dtype);
        return 2;
    }
    if (strcmp(c.val_split, "auto") && strcmp(c.val_split, "all") &&
        strcmp(c.val_split, "first_half")) {
        fprintf(stderr, "%s: val_split \"%s\" is not auto, all or first_half\n", PROG, c.val_split);
        return 2;
    }
    sbt_backend_kind kind;
    if (sbt_backend_kind_parse(c.backend, &kind) != SBT_OK) {
        fprintf(stderr, "%s: backend: %s\n", PROG, sbt_last_error());
        return 2;
    }
    if (!resume && !c.model && !c.preset) {
        fprintf(stderr, "%s: nothing to start from: give --model PATH (or \"model\" in the "
                        "config), --preset NAME, or --resume\n", PROG);
        return 2;
    }
    if (!resume && c.model && c.preset) {
        fprintf(stderr, "%s: both a model (%s) and a preset (%s): choose one\n", PROG, c.model,
                c.preset);
        return 2;
    }
    char latest[4096];
    if (!resume && !overwrite &&
        sbt_trainer_latest_checkpoint(c.output_dir, latest, sizeof latest) == SBT_OK) {
        fprintf(stderr, "%s: %s already holds checkpoints (%s): pass --resume to continue or "
                        "--overwrite to start afresh\n", PROG, c.output_dir, latest);
        return 2;
    }
    if (!quiet)
        cli_log_to_stderr(PROG, SBT_LOG_WARN);
    else
        cli_log_to_stderr(PROG, SBT_LOG_ERROR);

    int ret = 1;
    sbt_hub *hub = NULL;
    sbt_backend *be = NULL;
    sbt_model *model = NULL;
    sbt_tokenizer *tok = NULL;
    sbt_dataset *train_all = NULL, *train = NULL, *val_all = NULL, *val = NULL;
    sbt_trainer *tr = NULL;
    char *model_dir = NULL, *train_path = NULL, *val_path = NULL;
    int val_is_seed_file = 0;

    /* ---- data ---- */
    if (c.train_file) {
        train_path = join(c.data_dir, c.train_file);
        if (c.val_file)
            val_path = join(c.data_dir, c.val_file);
    } else if (c.data || c.data_dir) {
        const char *d = c.data ? c.data : c.data_dir;
        char *tj = join(d, "train.jsonl");
        if (cli_is_dir(d) && tj && exists(tj)) {
            train_path = tj;
            tj = join(d, "val.jsonl");
            if (tj && exists(tj))
                val_path = tj;
            else
                free(tj);
        } else {
            free(tj);
            if (sbt_hub_create(&hub, NULL) != SBT_OK ||
                sbt_hub_dataset_files(&train_path, &val_path, hub, d) != SBT_OK) {
                fprintf(stderr, "%s: data %s: %s\n", PROG, d, sbt_last_error());
                goto out;
            }
            val_is_seed_file = 1;
        }
        if (c.val_file) {
            free(val_path);
            val_path = join(c.data ? NULL : c.data_dir, c.val_file);
            val_is_seed_file = 0;
        }
    } else {
        fprintf(stderr, "%s: no training data: give --data DIR, --train-file FILE, or \"data\" / "
                        "\"train_file\" in the config\n", PROG);
        ret = 2;
        goto out;
    }
    train_all = load_data(train_path, 1, (int)c.skip_bad_rows, "train data");
    if (!train_all)
        goto out;
    if (val_path) {
        val_all = load_data(val_path, 1, (int)c.skip_bad_rows, "val data");
        if (!val_all)
            goto out;
        int half = !strcmp(c.val_split, "first_half") ||
                   (!strcmp(c.val_split, "auto") && val_is_seed_file);
        if (half) {
            if (sbt_dataset_seed_val_split(&val, NULL, val_all) != SBT_OK) {
                fprintf(stderr, "%s: %s\n", PROG, sbt_last_error());
                goto out;
            }
        } else {
            val = val_all;
            val_all = NULL;
        }
    }
    {
        int64_t n = sbt_dataset_count(train_all);
        int64_t k = sbt_dataset_sample_count(n, c.has_dataset_percent || !c.has_num_train ? c.dataset_percent : -1,
                                             c.has_num_train ? c.num_train : 0);
        if (sbt_dataset_sample(&train, train_all, k, (uint64_t)c.seed) != SBT_OK) {
            fprintf(stderr, "%s: %s\n", PROG, sbt_last_error());
            goto out;
        }
        if (!quiet)
            printf("data: %lld of %lld training rows (%s) from %s; %lld val rows%s%s\n",
                   (long long)sbt_dataset_count(train), (long long)n,
                   c.has_dataset_percent || !c.has_num_train ? "dataset_percent" : "num_train",
                   train_path, (long long)(val ? sbt_dataset_count(val) : 0), val ? " from " : "",
                   val ? val_path : "");
    }

    /* ---- backend, tokenizer, model ---- */
    {
        sbt_backend_options bo;
        sbt_backend_options_init(&bo);
        bo.kind = kind;
        bo.num_threads = (int)c.threads;
        if (sbt_backend_create(&be, &bo) != SBT_OK) {
            fprintf(stderr, "%s: backend %s: %s\n", PROG, c.backend, sbt_last_error());
            goto out;
        }
        if (!quiet)
            printf("backend: %s (%s)\n", sbt_backend_name(be), sbt_backend_description(be));
    }
    if (resume) {
        if (ckpt) {
            snprintf(latest, sizeof latest, "%s", ckpt);
        } else if (sbt_trainer_latest_checkpoint(c.output_dir, latest, sizeof latest) != SBT_OK) {
            fprintf(stderr, "%s: --resume: %s\n", PROG, sbt_last_error());
            goto out;
        }
        if (sbt_tokenizer_load(&tok, latest) != SBT_OK ||
            sbt_model_load(&model, be, latest) != SBT_OK) {
            fprintf(stderr, "%s: --resume %s: %s\n", PROG, latest, sbt_last_error());
            goto out;
        }
    } else if (c.model) {
        if (!hub && sbt_hub_create(&hub, NULL) != SBT_OK) {
            fprintf(stderr, "%s: %s\n", PROG, sbt_last_error());
            goto out;
        }
        if (sbt_hub_resolve_path(&model_dir, hub, c.model, SBT_HUB_MODEL, NULL) != SBT_OK ||
            sbt_tokenizer_load(&tok, model_dir) != SBT_OK) {
            fprintf(stderr, "%s: model %s: %s\n", PROG, c.model, sbt_last_error());
            goto out;
        }
        const char *bt = "<backtrack>";
        size_t added = 0;
        /* as the seed: <backtrack> added, and tokenizer.pad_token = tokenizer.eos_token */
        if (sbt_tokenizer_add_special_tokens(tok, &bt, 1, &added) != SBT_OK ||
            (sbt_tokenizer_pad(tok) < 0 &&
             sbt_tokenizer_set_pad(tok, sbt_tokenizer_eos(tok)) != SBT_OK) ||
            sbt_model_load(&model, be, model_dir) != SBT_OK) {
            fprintf(stderr, "%s: model %s: %s\n", PROG, c.model, sbt_last_error());
            goto out;
        }
        sbt_model_config mc = {sizeof mc};
        sbt_model_get_config(model, &mc);
        if (sbt_tokenizer_n_vocab(tok) > mc.vocab_size &&
            sbt_model_resize_vocab(model, sbt_tokenizer_n_vocab(tok), (uint64_t)c.seed) != SBT_OK) {
            fprintf(stderr, "%s: model %s: %s\n", PROG, c.model, sbt_last_error());
            goto out;
        }
    } else {
        sbt_model_config mc;
        if (sbt_tokenizer_create_countdown(&tok) != SBT_OK ||
            sbt_trainer_preset_config(&mc, c.preset, tok) != SBT_OK ||
            sbt_model_create(&model, be, &mc, (uint64_t)c.seed) != SBT_OK) {
            fprintf(stderr, "%s: preset: %s\n", PROG, sbt_last_error());
            ret = 2;
            goto out;
        }
    }
    if (!quiet)
        printf("model: %lld parameters, vocabulary %d (%s)\n",
               (long long)sbt_model_num_params(model), (int)sbt_tokenizer_n_vocab(tok),
               resume ? latest : c.model ? c.model : c.preset);

    /* ---- train ---- */
    run r;
    memset(&r, 0, sizeof r);
    cli_progress_init(&r.bar, 0);
    r.tty = !quiet && isatty(2);
    r.quiet = quiet;
    to.callback = on_event;
    to.callback_user_data = &r;
    if (sbt_trainer_create(&tr, model, tok, train, val, &to) != SBT_OK) {
        fprintf(stderr, "%s: %s\n", PROG, sbt_last_error());
        ret = 2;
        goto out;
    }
    if (resume && sbt_trainer_resume(tr, latest) != SBT_OK) {
        fprintf(stderr, "%s: --resume: %s\n", PROG, sbt_last_error());
        goto out;
    }
    r.first_step = sbt_trainer_step(tr);
    if (!quiet)
        printf("training: %lld optimizer steps (from step %lld), batch %lld x %lld accumulated, "
               "lr %g %s, output %s\n",
               (long long)sbt_trainer_max_steps(tr), (long long)r.first_step,
               (long long)c.batch_size, (long long)c.grad_accum, c.lr, c.lr_scheduler_type,
               c.output_dir);
    fflush(stdout);
    sbt_status st = sbt_trainer_train(tr);
    if (r.tty)
        fprintf(stderr, "\r\033[K");
    if (st != SBT_OK) {
        fprintf(stderr, "%s: %s\n", PROG, sbt_last_error());
        ret = st == SBT_E_CANCELLED ? 130 : 1;
        goto out;
    }
    if (!quiet)
        printf("done: %lld steps; final model in %s/final_model\n",
               (long long)sbt_trainer_step(tr), c.output_dir);
    ret = 0;
out:
    sbt_trainer_free(tr);
    sbt_dataset_free(train);
    sbt_dataset_free(train_all);
    sbt_dataset_free(val);
    sbt_dataset_free(val_all);
    sbt_model_free(model);
    sbt_tokenizer_free(tok);
    sbt_backend_free(be);
    sbt_hub_path_free(model_dir);
    if (hub) {
        sbt_hub_path_free(train_path);
        sbt_hub_path_free(val_path);
    } else {
        free(train_path);
        free(val_path);
    }
    sbt_hub_free(hub);
    for (size_t i = 0; i < g_n_strings; i++)
        free(g_strings[i]);
    free(g_strings);
    return ret;
}
