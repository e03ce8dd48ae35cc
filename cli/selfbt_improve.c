/* selfbt-improve — self-improvement (SPEC §6, Algorithm 2), as the seed's
 * train_self_improvement.py: per iteration, the Self-Backtracking search on the problems, the
 * verified outputs kept (cut after "Goal Reached!"), SFT on them with only the prompt masked,
 * model_iteration_<t> saved and evaluated fast (greedy) and slow (the search) on val and
 * val_new; all of it in --output_dir/report.json. Transductive (the seed's) or held-out
 * protocol; a rerun with the same flags resumes after the last finished iteration.
 * See docs/improve.md. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_args.h"
#include "cli_data.h"
#include "cli_progress.h"
#include "selfbt/dataset.h"
#include "selfbt/hub.h"
#include "selfbt/improve.h"
#include "selfbt/selfbt.h"

#define PROG "selfbt-improve"

/* Rows [offset, num) of ds (the seed's data[offset:num]); NULL and a message when empty. */
static sbt_dataset *rows(sbt_dataset *ds, int64_t offset, int64_t num, const char *what)
{
    int64_t n = sbt_dataset_count(ds);
    int64_t end = num < n ? num : n;
    if (end <= offset) {
        fprintf(stderr, PROG ": no problems in %s: rows [%lld, %lld) of %lld (see --offset, "
                "--num)\n", what, (long long)offset, (long long)num, (long long)n);
        return NULL;
    }
    sbt_dataset *out = NULL;
    if (sbt_dataset_slice(&out, ds, offset, end - offset) != SBT_OK) {
        fprintf(stderr, PROG ": %s\n", sbt_last_error());
        return NULL;
    }
    return out;
}

static void pct(char *buf, size_t cap, double x)
{
    if (isnan(x))
        snprintf(buf, cap, "   -  ");
    else
        snprintf(buf, cap, "%5.1f%%", 100 * x);
}

static int on_iteration(const sbt_improve_iteration *it, void *ud)
{
    cli_progress *prog = ud;
    cli_progress_end(prog);
    char a[16], b[16], c[16], d[16];
    pct(a, sizeof a, it->fast_seen);
    pct(b, sizeof b, it->fast_new);
    pct(c, sizeof c, it->slow_seen);
    pct(d, sizeof d, it->slow_new);
    printf("iteration %d%s  fast val %s val_new %s | slow val %s val_new %s", it->iteration,
           it->resumed ? " (done before)" : "", a, b, c, d);
    if (it->iteration > 0)
        printf(" | trained on %lld (%lld steps, loss %.3f -> %.3f)", (long long)it->train_examples,
               (long long)it->train_steps, it->train_loss_first, it->train_loss_last);
    if (it->search_problems > 0)
        printf(" | kept %lld of %lld", (long long)it->examples_kept, (long long)it->search_problems);
    printf(" | %.1f s\n", it->seconds_total);
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    const char *past_model = NULL, *tok_path = NULL, *output_dir = NULL, *data = "val",
               *data_dir = "data", *protocol = "transductive", *problems = NULL,
               *verifier = "reference", *backend = "auto", *scoring = "reference",
               *schedule = "linear", *save_dtype = "f32";
    int64_t num = 5000, offset = 0, times = 3, b = 1, n = 16, batch_size = 16, ctx = 128,
            warmup = 0, seed = 1234, threads = 0, decode_batch = 16, heldout_num = -1,
            grad_accum = 1, max_steps = 0, save_steps = 0;
    double temperature = 0.7, lr = 1e-5, epochs = 3, weight_decay = 0;
    int quiet = 0, no_fast = 0, no_slow = 0, pad_label_eos = 0;
    const cli_opt opts[] = {
        {"past_model", CLI_STRING, &past_model, 0, 0, "DIR|ORG/NAME[@REV]", "the starting model M_0: checkpoint folder with tokenizer.json, or a Hub model id (required)"},
        {"tokenizer", CLI_STRING, &tok_path, 0, 0, "PATH", "tokenizer.json or its folder (default: --past_model)"},
        {"output_dir", CLI_STRING, &output_dir, 0, 0, "DIR", "where model_iteration_<t>, kept data and report.json go (required)"},
        {"protocol", CLI_STRING, &protocol, 0, 0, "transductive|heldout", "self-train on the evaluation problems (the seed's) or on fresh train-distribution ones (default transductive)"},
        {"data", CLI_STRING, &data, 0, 0, "val|val_new|both", "transductive: the split(s) self-trained on (default val, the seed's)"},
        {"data_dir", CLI_STRING, &data_dir, 0, 0, "DIR", "folder of val.jsonl / val_new.jsonl or the seed's val_backtrack.json (default data)"},
        {"num", CLI_INT, &num, 1, 1e12, "N", "end row of each evaluation split, as the seed: rows [offset, num) (default 5000)"},
        {"offset", CLI_INT, &offset, 0, 1e12, "N", "first row (default 0)"},
        {"problems", CLI_STRING, &problems, 0, 0, "FILE", "heldout: JSONL of self-training problems (default: fresh ones drawn)"},
        {"heldout_num", CLI_INT, &heldout_num, 1, 1e9, "N", "heldout: problems drawn (default: as many as --num - --offset)"},
        {"times", CLI_INT, &times, 0, 1000, "T", "iterations (default 3)"},
        {"b", CLI_INT, &b, 0, 64, "B", "backtracking budget of the search (default 1)"},
        {"backtrack_times", CLI_INT, &b, 0, 64, "B", "the seed's name of --b"},
        {"n", CLI_INT, &n, 1, 4096, "N", "beams per expansion (default 16)"},
        {"k", CLI_INT, &n, 1, 4096, "N", "the seed's name of --n"},
        {"temperature", CLI_DOUBLE, &temperature, 1e-6, 100, "T", "search temperature (default 0.7)"},
        {"scoring", CLI_STRING, &scoring, 0, 0, "reference|clean", "candidate scoring (default reference)"},
        {"verifier", CLI_STRING, &verifier, 0, 0, "reference|strict", "the filter and the accuracies (default reference)"},
        {"batch_size", CLI_INT, &batch_size, 1, 65536, "N", "SFT rows per micro-batch (default 16)"},
        {"gradient_accumulation_steps", CLI_INT, &grad_accum, 1, 65536, "N", "micro-batches per step (default 1)"},
        {"ctx", CLI_INT, &ctx, 8, 1 << 20, "N", "SFT context length (default 128)"},
        {"lr", CLI_DOUBLE, &lr, 0, 10, "LR", "SFT peak learning rate (default 1e-5)"},
        {"learning_rate", CLI_DOUBLE, &lr, 0, 10, "LR", "the seed's name of --lr"},
        {"epochs", CLI_DOUBLE, &epochs, 1e-9, 1e6, "E", "SFT epochs per iteration (default 3)"},
        {"num_train_epochs", CLI_DOUBLE, &epochs, 1e-9, 1e6, "E", "the seed's name of --epochs"},
        {"max_steps", CLI_INT, &max_steps, 0, 1e12, "N", "SFT steps per iteration, overriding --epochs (default 0: off)"},
        {"save_steps", CLI_INT, &save_steps, 0, 1e12, "N", "an SFT checkpoint every N steps, for a restart to resume the SFT (default 0: a restart redoes it)"},
        {"warmup", CLI_INT, &warmup, 0, 1e12, "N", "SFT warmup steps (default 0)"},
        {"warmup_steps", CLI_INT, &warmup, 0, 1e12, "N", "the seed's name of --warmup"},
        {"lr_scheduler_type", CLI_STRING, &schedule, 0, 0, "NAME", "linear|cosine|constant|constant_with_warmup (default linear, HF's)"},
        {"weight_decay", CLI_DOUBLE, &weight_decay, 0, 10, "W", "SFT weight decay (default 0, HF's)"},
        {"pad_label_eos", CLI_FLAG, &pad_label_eos, 0, 0, NULL, "train EOS on padding (SPEC §3 quirk; the seed's self-improvement does not)"},
        {"save_dtype", CLI_STRING, &save_dtype, 0, 0, "f32|bf16|f16|auto", "weights of model_iteration_<t> (default f32; auto: the past model's)"},
        {"seed", CLI_INT, &seed, 0, 9.2e18, "S", "decoding and SFT seed (default 1234, the seed's)"},
        {"no_fast", CLI_FLAG, &no_fast, 0, 0, NULL, "skip the greedy evaluation"},
        {"no_slow", CLI_FLAG, &no_slow, 0, 0, NULL, "skip the search evaluation"},
        {"decode_batch", CLI_INT, &decode_batch, 1, 65536, "N", "problems decoded together (default 16)"},
        {"backend", CLI_STRING, &backend, 0, 0, "auto|cpu|cuda", "compute backend (default auto)"},
        {"threads", CLI_INT, &threads, 0, 4096, "N", "CPU threads (default: OpenMP's)"},
        {"quiet", CLI_FLAG, &quiet, 0, 0, NULL, "no progress bar"},
    };
    cli_spec spec = {PROG, "self-improvement: distil the self-backtracking search into the model (SPEC §6)",
                     opts, (int)(sizeof opts / sizeof *opts), NULL, 0, NULL, NULL};
    int pr = cli_parse(&spec, argc, argv);
    if (pr)
        return pr == 1 ? 0 : pr;
    if (!past_model) {
        fprintf(stderr, PROG ": --past_model is required (the starting model's folder)\n");
        return 2;
    }
    if (!output_dir) {
        fprintf(stderr, PROG ": --output_dir is required\n");
        return 2;
    }
    sbt_improve_options io;
    sbt_improve_options_init(&io);
    if (sbt_improve_protocol_parse(protocol, &io.protocol) != SBT_OK) {
        fprintf(stderr, PROG ": --protocol: %s\n", sbt_last_error());
        return 2;
    }
    static const char *const datas[] = {"val", "val_new", "both", NULL};
    static const char *const verifiers[] = {"reference", "strict", NULL};
    static const char *const dtypes[] = {"f32", "bf16", "f16", "auto", NULL};
    static const int32_t split_of[] = {SBT_IMPROVE_SPLIT_SEEN, SBT_IMPROVE_SPLIT_NEW,
                                        SBT_IMPROVE_SPLIT_SEEN | SBT_IMPROVE_SPLIT_NEW};
    static const sbt_countdown_verifier verifier_of[] = {SBT_VERIFY_REFERENCE, SBT_VERIFY_STRICT};
    static const sbt_dtype dtype_of[] = {SBT_DTYPE_F32, SBT_DTYPE_BF16, SBT_DTYPE_F16,
                                         SBT_DTYPE_AUTO};
    int id = cli_choice(PROG, "data", data, datas);
    int iv = id < 0 ? -1 : cli_choice(PROG, "verifier", verifier, verifiers);
    int it = iv < 0 ? -1 : cli_choice(PROG, "save_dtype", save_dtype, dtypes);
    if (it < 0)
        return 2;
    io.transductive_splits = split_of[id];
    io.verifier = verifier_of[iv];
    io.save_dtype = dtype_of[it];
    sbt_decoder_options search;
    sbt_improve_search_defaults(&search);
    search.n = (int32_t)n;
    search.b = (int32_t)b;
    search.temperature = temperature;
    static const char *const scorings[] = {"reference", "clean", NULL};
    static const sbt_search_scoring scoring_of[] = {SBT_SCORE_REFERENCE, SBT_SCORE_CLEAN};
    int is = cli_choice(PROG, "scoring", scoring, scorings);
    if (is < 0)
        return 2;
    search.scoring = scoring_of[is];
    sbt_trainer_options train;
    sbt_improve_train_defaults(&train);
    if (sbt_lr_schedule_parse(schedule, &train.lr_scheduler_type) != SBT_OK) {
        fprintf(stderr, PROG ": --lr_scheduler_type: %s\n", sbt_last_error());
        return 2;
    }
    train.lr = lr;
    train.num_train_epochs = epochs;
    train.max_steps = max_steps;
    train.save_steps = save_steps;
    train.batch_size = (int32_t)batch_size;
    train.gradient_accumulation_steps = (int32_t)grad_accum;
    train.context_length = (int32_t)ctx;
    train.warmup_steps = warmup;
    train.weight_decay = weight_decay;
    train.pad_label_eos = pad_label_eos;
    sbt_backend_options bopt;
    sbt_backend_options_init(&bopt);
    if (sbt_backend_kind_parse(backend, &bopt.kind) != SBT_OK) {
        fprintf(stderr, PROG ": --backend: %s\n", sbt_last_error());
        return 2;
    }
    bopt.num_threads = (int)threads;

    cli_log_to_stderr(PROG, quiet ? SBT_LOG_WARN : SBT_LOG_INFO); /* resumes are told */
    int rc = 1;
    sbt_dataset *val_all = NULL, *new_all = NULL, *val = NULL, *val_new = NULL, *prob = NULL;
    sbt_backend *be = NULL;
    char *fetched = NULL; /* --past_model's snapshot folder when it is a Hub id */
    const char *model_dir = NULL;
    cli_progress prog;
    cli_progress_init(&prog, !quiet);
    if (!(val_all = cli_load_split(PROG, data_dir, "val")) || !(new_all = cli_load_split(PROG, data_dir, "val_new")) ||
        !(val = rows(val_all, offset, num, "val")) ||
        !(val_new = rows(new_all, offset, num, "val_new")))
        goto done;
    if (problems) {
        if (io.protocol != SBT_IMPROVE_HELDOUT) {
            fprintf(stderr, PROG ": --problems is for --protocol heldout (transductive self-trains "
                    "on the evaluation problems)\n");
            rc = 2;
            goto done;
        }
        sbt_dataset_options dopt;
        sbt_dataset_options_init(&dopt);
        dopt.require_search_path = 0;
        if (sbt_dataset_load(&prob, problems, &dopt) != SBT_OK) {
            fprintf(stderr, PROG ": --problems: %s\n", sbt_last_error());
            goto done;
        }
    }
    if (!(model_dir = cli_model_dir(PROG, "past_model", past_model, &fetched)))
        goto done;
    if (sbt_backend_create(&be, &bopt) != SBT_OK) {
        fprintf(stderr, PROG ": --backend %s: %s\n", backend, sbt_last_error());
        goto done;
    }
    io.output_dir = output_dir;
    io.start_model = model_dir;
    io.tokenizer = tok_path;
    io.backend = be;
    io.times = (int32_t)times;
    io.seen = val;
    io.unseen = val_new;
    io.problems = prob;
    io.heldout_problems = heldout_num > 0 ? heldout_num : sbt_dataset_count(val);
    io.search = &search;
    io.train = &train;
    io.seed = (uint64_t)seed;
    io.eval_fast = !no_fast;
    io.eval_slow = !no_slow;
    io.decode_batch = (int32_t)decode_batch;
    io.progress = cli_progress_cb;
    io.progress_user_data = &prog;
    io.callback = on_iteration;
    io.callback_user_data = &prog;
    printf(PROG ": %s protocol, %d iteration(s) from %s on %s; val %lld + val_new %lld "
           "problems; search b=%d n=%d T=%g; SFT lr %g, %g epochs, batch %d\n",
           sbt_improve_protocol_name(io.protocol), io.times, past_model, sbt_backend_name(be),
           (long long)sbt_dataset_count(val), (long long)sbt_dataset_count(val_new), search.b,
           search.n, search.temperature, train.lr, train.num_train_epochs, train.batch_size);
    fflush(stdout);
    sbt_status st = sbt_improve_run(&io);
    cli_progress_end(&prog);
    if (st != SBT_OK) {
        fprintf(stderr, PROG ": %s\n", sbt_last_error());
        rc = st == SBT_E_CANCELLED ? 130 : st == SBT_E_INVALID_ARGUMENT ? 2 : 1;
        goto done;
    }
    printf(PROG ": report %s/report.json\n", output_dir);
    rc = 0;
done:
    sbt_hub_path_free(fetched);
    sbt_backend_free(be);
    sbt_dataset_free(prob);
    sbt_dataset_free(val);
    sbt_dataset_free(val_new);
    sbt_dataset_free(val_all);
    sbt_dataset_free(new_all);
    return rc;
}
