/* selfbt-eval — evaluates a checkpoint on Countdown problems with a decoder (greedy, beam,
 * beam-sample, sample or the Self-Backtracking search), as the seed's eval_search.py: writes
 * its results JSON (per problem model_output, is_backtrack, failed_step, is_correct; accuracy)
 * and prints accuracy in both verifier modes, failure counts, problems/s and tokens/s.
 * --ckpt is a folder or a Hub model id (fetched into the Hugging Face cache, docs/hub.md).
 * See docs/decode.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_args.h"
#include "cli_data.h"
#include "cli_progress.h"
#include "selfbt/dataset.h"
#include "selfbt/decoder.h"
#include "selfbt/hub.h"
#include "selfbt/selfbt.h"

#define PROG "selfbt-eval"

/* The problems: a file, or the split val / val_new of data_dir (val.jsonl / val_new.jsonl as
 * selfbt-data writes them, else the seed's val_backtrack.json cut in halves). */
static sbt_dataset *load_data(const char *data, const char *data_dir, char *name, size_t cap)
{
    sbt_dataset_options o;
    sbt_dataset_options_init(&o);
    o.require_search_path = 0;
    sbt_dataset *ds = NULL;
    if (strcmp(data, "val") != 0 && strcmp(data, "val_new") != 0) { /* a file */
        if (sbt_dataset_load(&ds, data, &o) != SBT_OK) {
            fprintf(stderr, PROG ": --data: %s\n", sbt_last_error());
            return NULL;
        }
        const char *base = strrchr(data, '/');
        base = base ? base + 1 : data;
        snprintf(name, cap, "%s", base);
        char *dot = strrchr(name, '.');
        if (dot && dot != name)
            *dot = 0;
        return ds;
    }
    snprintf(name, cap, "%s", data);
    return cli_load_split(PROG, data_dir, data);
}

static void json_str(FILE *f, const char *s, size_t n)
{
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (c < 0x20)
                fprintf(f, "\\u%04x", c);
            else
                fputc(c, f);
        }
    }
    fputc('"', f);
}

/* A double as Python's repr writes it: the shortest text that reads back the same, with ".0"
 * for integral values (the seed's json.dump of a float). */
static void py_float(char *buf, size_t cap, double x)
{
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, cap, "%.*g", prec, x);
        if (strtod(buf, NULL) == x)
            break;
    }
    if (!strpbrk(buf, ".eEn"))
        strncat(buf, ".0", cap - strlen(buf) - 1);
}

int main(int argc, char **argv)
{
    const char *ckpt = NULL, *tok_path = NULL, *data = "val", *data_dir = "data",
               *decoder = "self_backtrack", *verifier = "reference", *scoring = "reference",
               *expansion = "beam_sample", *width = "sqrt_b", *backend = "auto", *out = NULL;
    int64_t num = 5000, offset = 0, b = 1, n = -1, k = 1, seed = 4, batch = 16, threads = 0,
            top_k = 50, max_length = 0, max_new = 0;
    double temperature = 0.7, top_p = 0.9;
    int quiet = 0;
    const cli_opt opts[] = {
        {"ckpt", CLI_STRING, &ckpt, 0, 0, "DIR|ORG/NAME[@REV]", "checkpoint folder (config.json, model.safetensors, tokenizer.json), or a Hub model id (HF_ENDPOINT, HF_TOKEN, HF_HUB_CACHE, HF_HUB_OFFLINE apply)"},
        {"tokenizer", CLI_STRING, &tok_path, 0, 0, "PATH", "tokenizer.json or its folder (default: --ckpt)"},
        {"data", CLI_STRING, &data, 0, 0, "val|val_new|FILE", "problems: a split of --data_dir, or a JSONL/JSON file (default val)"},
        {"data_dir", CLI_STRING, &data_dir, 0, 0, "DIR", "folder of val.jsonl / val_new.jsonl or the seed's val_backtrack.json (default data)"},
        {"num", CLI_INT, &num, 0, 1e12, "N", "end row, as the seed: rows [offset, num) (default 5000)"},
        {"offset", CLI_INT, &offset, 0, 1e12, "N", "first row (default 0)"},
        {"decoder", CLI_STRING, &decoder, 0, 0, "NAME", "greedy|beam|beam_sample|sample|self_backtrack (default self_backtrack)"},
        {"b", CLI_INT, &b, 0, 64, "B", "backtracking budget (default 1)"},
        {"n", CLI_INT, &n, 1, 4096, "N", "beams or samples (default 32; beam 16; sample 1)"},
        {"width", CLI_STRING, &width, 0, 0, "sqrt_b|sqrt_n|fixed", "rollbacks re-expanded per round (default sqrt_b, the seed's code)"},
        {"k", CLI_INT, &k, 0, 4096, "K", "rollbacks per round with --width fixed (default 1)"},
        {"expansion", CLI_STRING, &expansion, 0, 0, "beam_sample|sample", "how the search expands a state (default beam_sample)"},
        {"scoring", CLI_STRING, &scoring, 0, 0, "reference|clean", "candidate scoring and aggregation (default reference)"},
        {"temperature", CLI_DOUBLE, &temperature, 1e-6, 100, "T", "sampling temperature (default 0.7)"},
        {"top_p", CLI_DOUBLE, &top_p, 1e-9, 1, "P", "nucleus (default 0.9, Llama-3.2's generation_config)"},
        {"top_k", CLI_INT, &top_k, 0, 1e9, "K", "top-k, 0 = off (default 50, transformers' default)"},
        {"max_length", CLI_INT, &max_length, 0, 1e6, "N", "total tokens per expansion (default: the seed's 50; greedy: 50 new)"},
        {"max_new_tokens", CLI_INT, &max_new, 0, 1e6, "N", "new tokens per expansion (default: none)"},
        {"seed", CLI_INT, &seed, 0, 9.2e18, "S", "random seed (default 4, the seed's)"},
        {"verifier", CLI_STRING, &verifier, 0, 0, "reference|strict", "mode of is_correct / accuracy in the JSON (default reference)"},
        {"backend", CLI_STRING, &backend, 0, 0, "auto|cpu|cuda", "compute backend (default auto)"},
        {"threads", CLI_INT, &threads, 0, 4096, "N", "CPU threads (default: OpenMP's)"},
        {"batch", CLI_INT, &batch, 1, 65536, "N", "problems decoded together (default 16)"},
        {"out", CLI_STRING, &out, 0, 0, "FILE", "results JSON (default: results_<data>_<offset>_<num>_<decoder>.json in the --ckpt folder, or here for a Hub id)"},
        {"quiet", CLI_FLAG, &quiet, 0, 0, NULL, "no progress bar"},
    };
    cli_spec spec = {PROG, "evaluate a checkpoint on Countdown with a decoder (SPEC §4, §5)", opts,
                     (int)(sizeof opts / sizeof *opts), NULL, 0, NULL, NULL};
    int pr = cli_parse(&spec, argc, argv);
    if (pr)
        return pr == 1 ? 0 : pr;
    if (!ckpt) {
        fprintf(stderr, PROG ": --ckpt is required\n");
        return 2;
    }
    sbt_decoder_options dopt;
    sbt_decoder_options_init(&dopt);
    if (sbt_decode_strategy_parse(decoder, &dopt.strategy) != SBT_OK ||
        sbt_decode_strategy_parse(expansion, &dopt.expansion) != SBT_OK) {
        fprintf(stderr, PROG ": --decoder/--expansion: %s\n", sbt_last_error());
        return 2;
    }
    static const char *const verifiers[] = {"reference", "strict", NULL};
    static const char *const scorings[] = {"reference", "clean", NULL};
    static const char *const widths[] = {"sqrt_b", "sqrt_n", "fixed", NULL};
    static const sbt_countdown_verifier verifier_of[] = {SBT_VERIFY_REFERENCE, SBT_VERIFY_STRICT};
    static const sbt_search_scoring scoring_of[] = {SBT_SCORE_REFERENCE, SBT_SCORE_CLEAN};
    static const sbt_backtrack_width width_of[] = {SBT_WIDTH_SQRT_B, SBT_WIDTH_SQRT_N,
                                                SBT_WIDTH_FIXED};
    int iv = cli_choice(PROG, "verifier", verifier, verifiers);
    int is = iv < 0 ? -1 : cli_choice(PROG, "scoring", scoring, scorings);
    int iw = is < 0 ? -1 : cli_choice(PROG, "width", width, widths);
    if (iw < 0)
        return 2;
    sbt_countdown_verifier vmode = verifier_of[iv];
    dopt.scoring = scoring_of[is];
    dopt.width = width_of[iw];
    sbt_backend_options bopt;
    sbt_backend_options_init(&bopt);
    if (sbt_backend_kind_parse(backend, &bopt.kind) != SBT_OK) {
        fprintf(stderr, PROG ": --backend: %s\n", sbt_last_error());
        return 2;
    }
    bopt.num_threads = (int)threads;
    if (n < 0)
        n = dopt.strategy == SBT_DECODE_BEAM ? 16 : dopt.strategy == SBT_DECODE_SAMPLE ? 1 : 32;
    if (dopt.strategy == SBT_DECODE_GREEDY)
        n = 1;
    dopt.n = (int32_t)n;
    dopt.b = (int32_t)b;
    dopt.k = (int32_t)k;
    dopt.temperature = temperature;
    dopt.top_p = top_p;
    dopt.top_k = (int32_t)top_k;
    dopt.max_length = (int32_t)max_length;
    dopt.max_new_tokens = (int32_t)max_new;
    dopt.seed = (uint64_t)seed;
    dopt.batch = (int32_t)batch;

    char data_name[512];
    sbt_dataset *ds = load_data(data, data_dir, data_name, sizeof data_name);
    if (!ds)
        return 1;
    int64_t rows = sbt_dataset_count(ds);
    int64_t end = num < rows ? num : rows;
    int64_t count = end > offset ? end - offset : 0;
    if (count == 0) {
        fprintf(stderr, PROG ": no problems: rows [%lld, %lld) of %lld\n", (long long)offset,
                (long long)num, (long long)rows);
        sbt_dataset_free(ds);
        return 1;
    }
    /* --ckpt: a folder, or a Hub model id whose files come from the cache or the Hub */
    char *ckpt_dir = NULL;
    const char *model_dir = cli_model_dir(PROG, "ckpt", ckpt, &ckpt_dir);
    if (!model_dir) {
        sbt_dataset_free(ds);
        return 1;
    }
    const int local = ckpt_dir == NULL;
    char out_path[4096];
    if (out)
        snprintf(out_path, sizeof out_path, "%s", out);
    else /* beside a local checkpoint, as the seed; never into the Hub cache */
        snprintf(out_path, sizeof out_path, "%s%sresults_%s_%lld_%lld_%s.json", local ? ckpt : "",
                 local ? "/" : "", data_name, (long long)offset, (long long)num, decoder);

    int rc = 1;
    sbt_backend *be = NULL;
    sbt_model *model = NULL;
    sbt_tokenizer *tok = NULL;
    sbt_decoder *dec = NULL;
    sbt_decode_results *res = NULL;
    char **prompts = calloc((size_t)count, sizeof *prompts);
    FILE *f = NULL;
    cli_progress prog;
    cli_progress_init(&prog, !quiet);
    if (!prompts) {
        fprintf(stderr, PROG ": out of memory\n");
        goto done;
    }
    for (int64_t i = 0; i < count; i++) {
        sbt_dataset_row r;
        r.size = sizeof r;
        if (sbt_dataset_get(ds, offset + i, &r) != SBT_OK) {
            fprintf(stderr, PROG ": %s\n", sbt_last_error());
            goto done;
        }
        size_t len = sbt_countdown_prompt(&r.problem, NULL, 0);
        prompts[i] = malloc(len + 1);
        if (!prompts[i] || len == 0) {
            fprintf(stderr, PROG ": row %lld: cannot make its prompt\n", (long long)(offset + i));
            goto done;
        }
        sbt_countdown_prompt(&r.problem, prompts[i], len + 1);
    }
    if (sbt_backend_create(&be, &bopt) != SBT_OK ||
        sbt_model_load(&model, be, model_dir) != SBT_OK ||
        sbt_tokenizer_load(&tok, tok_path ? tok_path : model_dir) != SBT_OK) {
        fprintf(stderr, PROG ": %s\n", sbt_last_error());
        goto done;
    }
    dopt.progress = cli_progress_cb;
    dopt.progress_user_data = &prog;
    if (sbt_decoder_create(&dec, model, tok, &dopt) != SBT_OK) {
        fprintf(stderr, PROG ": %s\n", sbt_last_error());
        goto done;
    }
    sbt_status st = sbt_decoder_run(dec, (const char *const *)prompts, count, &res);
    cli_progress_end(&prog);
    if (st != SBT_OK) {
        fprintf(stderr, PROG ": %s\n", sbt_last_error());
        rc = st == SBT_E_CANCELLED ? 130 : 1;
        goto done;
    }
    sbt_decode_stats stats;
    stats.size = sizeof stats;
    sbt_decode_results_stats(res, &stats);

    /* verify in both modes; the JSON follows --verifier */
    int64_t correct[2] = {0, 0}, fails[2][SBT_COUNTDOWN_N_FAILURES], found = 0;
    memset(fails, 0, sizeof fails);
    char tmp_path[4200];
    snprintf(tmp_path, sizeof tmp_path, "%s.tmp", out_path);
    f = fopen(tmp_path, "w");
    if (!f) {
        fprintf(stderr, PROG ": cannot write %s\n", tmp_path);
        goto done;
    }
    fputs("{\n    \"output\": [", f);
    for (int64_t i = 0; i < count; i++) {
        sbt_decode_result r;
        r.size = sizeof r;
        sbt_decode_results_get(res, i, &r);
        found += r.found;
        sbt_countdown_verdict v[2];
        for (int m = 0; m < 2; m++) {
            v[m].size = sizeof v[m];
            if (sbt_countdown_verify(r.text, r.text_len, (sbt_countdown_verifier)m, &v[m]) != SBT_OK) {
                fprintf(stderr, PROG ": %s\n", sbt_last_error());
                goto done;
            }
            correct[m] += v[m].is_correct;
            fails[m][v[m].failure]++;
        }
        const sbt_countdown_verdict *vj = &v[vmode];
        char reason[1024];
        sbt_countdown_verdict_reason(vj, r.text, reason, sizeof reason);
        fprintf(f, "%s\n        {\n            \"model_output\": ", i ? "," : "");
        json_str(f, r.text, vj->output_len);
        fprintf(f, ",\n            \"is_backtrack\": %s,\n            \"failed_step\": ",
                vj->is_backtrack ? "true" : "false");
        json_str(f, reason, strlen(reason));
        fprintf(f, ",\n            \"is_correct\": %s\n        }", vj->is_correct ? "true" : "false");
    }
    double acc[2] = {(double)correct[0] / count, (double)correct[1] / count};
    double secs = stats.seconds > 0 ? stats.seconds : 1e-9;
    char fa[3][40];
    py_float(fa[0], sizeof fa[0], acc[vmode]);
    py_float(fa[1], sizeof fa[1], acc[0]);
    py_float(fa[2], sizeof fa[2], acc[1]);
    fprintf(f, "\n    ],\n    \"accuracy\": %s,\n", fa[0]);
    fprintf(f, "    \"verifier\": \"%s\",\n    \"accuracy_reference\": %s,\n"
               "    \"accuracy_strict\": %s,\n", verifier, fa[1], fa[2]);
    fprintf(f, "    \"failures\": {");
    int first = 1;
    for (int fl = 1; fl < SBT_COUNTDOWN_N_FAILURES; fl++)
        if (fails[vmode][fl]) {
            fprintf(f, "%s\"%s\": %lld", first ? "" : ", ", sbt_countdown_failure_name((sbt_countdown_failure)fl),
                    (long long)fails[vmode][fl]);
            first = 0;
        }
    fprintf(f, "},\n    \"decoder\": {\"name\": \"%s\", \"n\": %d, \"b\": %d, \"width\": \"%s\", "
               "\"expansion\": \"%s\", \"scoring\": \"%s\", \"temperature\": %g, \"top_p\": %g, "
               "\"top_k\": %d, \"max_length\": %d, \"max_new_tokens\": %d, \"seed\": %lld},\n",
            decoder, dopt.n, dopt.b, width, expansion, scoring, temperature, top_p, dopt.top_k,
            dopt.max_length, dopt.max_new_tokens, (long long)seed);
    fprintf(f, "    \"problems\": %lld,\n    \"seconds\": %.3f,\n    \"problems_per_s\": %.4f,\n"
               "    \"generated_tokens\": %lld,\n    \"tokens_per_s\": %.2f,\n"
               "    \"forward_tokens\": %lld\n}\n",
            (long long)count, stats.seconds, count / secs, (long long)stats.generated_tokens,
            stats.generated_tokens / secs, (long long)stats.forward_tokens);
    if (fclose(f) != 0 || rename(tmp_path, out_path) != 0) {
        f = NULL;
        fprintf(stderr, PROG ": cannot write %s\n", out_path);
        remove(tmp_path);
        goto done;
    }
    f = NULL;

    printf(PROG ": %lld problems (%s rows %lld..%lld), decoder %s on %s\n", (long long)count,
           data_name, (long long)offset, (long long)(offset + count - 1), decoder,
           sbt_backend_name(be));
    printf("  accuracy  reference %.2f %%  strict %.2f %%   (%lld / %lld; JSON: %s)\n",
           100 * acc[0], 100 * acc[1], (long long)correct[0], (long long)correct[1], verifier);
    for (int m = 0; m < 2; m++) {
        printf("  failures  %-9s", m ? "strict" : "reference");
        for (int fl = 1; fl < SBT_COUNTDOWN_N_FAILURES; fl++)
            if (fails[m][fl])
                printf(" %s %lld", sbt_countdown_failure_name((sbt_countdown_failure)fl),
                       (long long)fails[m][fl]);
        printf("\n");
    }
    if (dopt.strategy == SBT_DECODE_SELF_BACKTRACK)
        printf("  search    %lld of %lld found a goal candidate; %lld expansions\n",
               (long long)found, (long long)count, (long long)stats.expansions);
    printf("  speed     %.3f problems/s, %.1f tokens/s generated (%lld tokens), %.1f tokens/s "
           "through the model, %.2f s\n", count / secs, stats.generated_tokens / secs,
           (long long)stats.generated_tokens, stats.forward_tokens / secs, stats.seconds);
    printf("  wrote     %s\n", out_path);
    rc = 0;
done:
    if (f) {
        fclose(f);
        remove(tmp_path);
    }
    if (prompts)
        for (int64_t i = 0; i < count; i++)
            free(prompts[i]);
    free(prompts);
    sbt_decode_results_free(res);
    sbt_decoder_free(dec);
    sbt_tokenizer_free(tok);
    sbt_model_free(model);
    sbt_backend_free(be);
    sbt_dataset_free(ds);
    sbt_hub_path_free(ckpt_dir);
    return rc;
}
