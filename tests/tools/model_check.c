/* model_check.c — runs a checkpoint on a backend for comparison scripts
 * (tests/golden/check_llama1b.py): the logits of one batch, and the losses of a few AdamW
 * training steps on given batches.
 *
 *   model_check MODEL_DIR BATCHES_JSON OUT_DIR [cpu|cuda]
 *
 * BATCHES_JSON: {"batches": [{"input_ids": [[...]], "labels": [[...]],
 *                             "attention_mask": [[...]]}, ...],
 *                "adamw": {"lr", "beta1", "beta2", "eps", "weight_decay", "max_grad_norm"}}
 * The first batch's forward logits go to OUT_DIR/logits.safetensors ("logits", F32,
 * (B, T, V)); then one AdamW step per batch (labels shifted as transformers does, -100 not
 * trained, loss = mean over labelled tokens), and OUT_DIR/results.json gets
 * {"backend", "device", "losses": [...], "grad_norms": [...], "step_ms": [...]}.
 * A tests/golden/<variant>/inputs.json (one batch and its "adamw") is read as one batch. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "io/safetensors.h"
#include "model/model.h"
#include "selfbt/model.h"

static void die(const char *what)
{
    fprintf(stderr, "model_check: %s: %s\n", what, sbt_last_error());
    exit(1);
}

typedef struct batch {
    int B, T;
    int32_t *ids, *targets, *lens;
} batch;

static int32_t at(json_t *rows, int b, int t)
{
    return (int32_t)json_integer_value(json_array_get(json_array_get(rows, (size_t)b), (size_t)t));
}

static batch read_batch(json_t *o)
{
    json_t *ids = json_object_get(o, "input_ids"), *labels = json_object_get(o, "labels");
    json_t *mask = json_object_get(o, "attention_mask");
    batch x = {(int)json_array_size(ids), (int)json_array_size(json_array_get(ids, 0)), 0, 0, 0};
    x.ids = malloc(sizeof(int32_t) * x.B * x.T);
    x.targets = malloc(sizeof(int32_t) * x.B * x.T);
    x.lens = calloc((size_t)x.B, sizeof(int32_t));
    for (int b = 0; b < x.B; b++)
        for (int t = 0; t < x.T; t++) {
            x.ids[b * x.T + t] = at(ids, b, t);
            x.lens[b] += mask ? at(mask, b, t) : 1;
            int32_t next = labels && t + 1 < x.T ? at(labels, b, t + 1) : -100;
            x.targets[b * x.T + t] = next < 0 ? -1 : next;
        }
    return x;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s MODEL_DIR BATCHES_JSON OUT_DIR [cpu|cuda]\n", argv[0]);
        return 2;
    }
    sbt_backend_options bo;
    sbt_backend_options_init(&bo);
    if (argc > 4 && sbt_backend_kind_parse(argv[4], &bo.kind) != SBT_OK)
        die("backend");
    sbt_backend *be;
    if (sbt_backend_create(&be, &bo) != SBT_OK)
        die("backend");
    sbt_model *m;
    double t0 = now_ms();
    if (sbt_model_load(&m, be, argv[1]) != SBT_OK)
        die(argv[1]);
    double load_ms = now_ms() - t0;
    json_error_t err;
    json_t *root = json_load_file(argv[2], 0, &err);
    if (!root) {
        fprintf(stderr, "model_check: %s: %s\n", argv[2], err.text);
        return 1;
    }
    json_t *batches = json_incref(json_object_get(root, "batches"));
    json_t *a = json_object_get(root, "adamw");
    if (!batches) { /* a golden inputs.json: its one batch */
        batches = json_array();
        json_array_append(batches, root);
    }
    sbti_optim_args args = {
        .lr = (float)json_number_value(json_object_get(a, "lr")),
        .beta1 = (float)json_number_value(json_object_get(a, "beta1")),
        .beta2 = (float)json_number_value(json_object_get(a, "beta2")),
        .eps = (float)json_number_value(json_object_get(a, "eps")),
        .weight_decay = (float)json_number_value(json_object_get(a, "weight_decay")),
        .max_grad_norm = (float)json_number_value(json_object_get(a, "max_grad_norm"))};
    mkdir(argv[3], 0777);
    char path[1024];

    json_t *losses = json_array(), *norms = json_array(), *times = json_array();
    for (size_t s = 0; s < json_array_size(batches); s++) {
        batch x = read_batch(json_array_get(batches, s));
        double loss, gn;
        int64_t n;
        double t1 = now_ms();
        if (sbti_model_zero_grad(m) != SBT_OK ||
            sbti_model_forward_train(m, x.ids, x.lens, x.B, x.T, x.targets, &loss, &n) != SBT_OK)
            die("forward");
        if (s == 0) { /* the logits of the first batch, before any step */
            size_t nl = (size_t)x.B * x.T * m->V;
            float *logits = malloc(sizeof(float) * nl);
            if (sbti_model_download_logits(m, logits) != SBT_OK)
                die("logits");
            int64_t shape[3] = {x.B, x.T, m->V};
            sbti_st_entry e = {"logits", SBTI_F32, 3, shape, logits};
            snprintf(path, sizeof path, "%s/logits.safetensors", argv[3]);
            if (sbti_st_write(path, &e, 1, NULL, 0) != SBT_OK)
                die(path);
            free(logits);
        }
        args.step = (int64_t)s + 1;
        if (sbti_model_backward(m, (float)(1.0 / (double)n)) != SBT_OK ||
            sbti_model_adamw_step(m, &args, &gn) != SBT_OK)
            die("step");
        double ms = now_ms() - t1;
        json_array_append_new(losses, json_real(loss / (double)n));
        json_array_append_new(norms, json_real(gn));
        json_array_append_new(times, json_real(ms));
        printf("step %2zu  loss %.6f  grad norm %.4f  %.1f ms\n", s + 1, loss / (double)n, gn, ms);
        free(x.ids);
        free(x.targets);
        free(x.lens);
    }
    json_t *out = json_pack("{s:s, s:s, s:f, s:o, s:o, s:o}", "backend", sbt_backend_name(be),
                            "device", sbt_backend_description(be), "load_ms", load_ms, "losses",
                            losses, "grad_norms", norms, "step_ms", times);
    snprintf(path, sizeof path, "%s/results.json", argv[3]);
    if (json_dump_file(out, path, JSON_INDENT(2)) != 0) {
        fprintf(stderr, "model_check: cannot write %s\n", path);
        return 1;
    }
    json_decref(out);
    json_decref(batches);
    json_decref(root);
    sbt_model_free(m);
    sbt_backend_free(be);
    return 0;
}
