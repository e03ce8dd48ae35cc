/* selfbt-data — makes the Countdown dataset of Self-Backtracking: train.jsonl (D_op and
 * D_back rows on the same problems), val.jsonl (Seen Targets) and val_new.jsonl (New
 * Targets), with the paper's sizes by default. See docs/cli.md. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_args.h"
#include "cli_progress.h"
#include "selfbt/selfbt.h"

/* mkdir -p, then check we may create files there, so a bad folder fails before the work.
 * *created is set to 1 if the folder itself did not exist. */
static int prepare_dir(const char *dir, int *created)
{
    struct stat st;
    *created = stat(dir, &st) != 0;
    char path[4096];
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path) {
        fprintf(stderr, "selfbt-data: --out: the path is too long\n");
        return -1;
    }
    for (char *p = path + 1;; p++) {
        char c = *p;
        if (c == '/' || c == '\0') {
            *p = '\0';
            if (mkdir(path, 0777) != 0 && errno != EEXIST) {
                fprintf(stderr, "selfbt-data: cannot create folder %s: %s\n", path, strerror(errno));
                return -1;
            }
            *p = c;
        }
        if (c == '\0')
            break;
    }
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "selfbt-data: %s is not a folder\n", dir);
        return -1;
    }
    if (access(dir, W_OK) != 0) {
        fprintf(stderr, "selfbt-data: cannot write in %s: %s\n", dir, strerror(errno));
        return -1;
    }
    return 0;
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

static void print_summary(const sbt_countdown_data *data, const sbt_countdown_options *o,
                          const char *dir, double seconds)
{
    sbt_countdown_summary s;
    memset(&s, 0, sizeof s);
    s.size = sizeof s;
    sbt_countdown_data_summary(data, &s);
    int32_t held[1024];
    size_t n_held = 0;
    sbt_countdown_heldout_targets(o, held, sizeof held / sizeof *held, &n_held);

    printf("selfbt-data: wrote %s in %.1f s (seed %llu)\n", dir, seconds, (unsigned long long)o->seed);
    int64_t n_back = s.rows[SBT_SPLIT_TRAIN] - s.train_rows_by_kind[SBT_ROW_OPTIMAL];
    printf("  %-14s %8lld rows: %lld D_op + %lld D_back (exploration %lld, computational %lld, "
           "rule violation %lld)\n",
           sbt_countdown_split_file(SBT_SPLIT_TRAIN), (long long)s.rows[SBT_SPLIT_TRAIN],
           (long long)s.train_rows_by_kind[SBT_ROW_OPTIMAL], (long long)n_back,
           (long long)s.train_rows_by_kind[SBT_ROW_BACK_EXPLORATION],
           (long long)s.train_rows_by_kind[SBT_ROW_BACK_COMPUTATIONAL],
           (long long)s.train_rows_by_kind[SBT_ROW_BACK_RULE]);
    printf("  %-14s %8lld rows: Seen Targets\n", sbt_countdown_split_file(SBT_SPLIT_VAL), (long long)s.rows[SBT_SPLIT_VAL]);
    printf("  %-14s %8lld rows: New Targets", sbt_countdown_split_file(SBT_SPLIT_VAL_NEW),
           (long long)s.rows[SBT_SPLIT_VAL_NEW]);
    qsort(held, n_held < 1024 ? n_held : 1024, sizeof *held, cmp_i32);
    for (size_t k = 0; k < n_held && k < sizeof held / sizeof *held; k++)
        printf("%s%d", k ? " " : " (held out: ", (int)held[k]);
    printf("%s\n", n_held ? ")" : "");
    printf("  duplicate problems: %lld in train, %lld in val, %lld in val_new; %lld val problems "
           "also in train\n",
           (long long)s.train_duplicate_problems, (long long)s.val_duplicate_problems,
           (long long)s.val_new_duplicate_problems, (long long)s.val_in_train);
    printf("  val draws redrawn for repeating a train solution: %lld; unsolvable draws rejected: "
           "%lld; exploration errors that fell back to another type: %lld\n",
           (long long)s.val_redraws, (long long)s.unsolvable_draws, (long long)s.exploration_fallbacks);
}

int main(int argc, char **argv)
{
    sbt_countdown_options o;
    sbt_countdown_options_init(&o);
    const char *out = "data/countdown";
    int64_t seed = 4, train = o.train_problems, val = o.val_problems, val_new = o.val_new_problems;
    int64_t n_nums = o.n_nums, max_num = o.max_num, min_target = o.min_target;
    int64_t max_target = o.max_target, threads = 0;
    double ratio[2] = {1, 1}, mix[3] = {1, 2, 2};
    int quiet = 0;
    const cli_opt opts[] = {
        {"out", CLI_STRING, &out, 0, 0, "DIR", "output folder (default data/countdown)"},
        {"seed", CLI_INT, &seed, 0, 4294967295.0, "N", "random seed; picks the held-out targets too (default 4)"},
        {"train-problems", CLI_INT, &train, 0, 1e8, "N", "train problems, each one D_op row (default 250000)"},
        {"ratio", CLI_RATIO, ratio, 2, 2, "OP:BACK", "D_op : D_back rows in train (default 1:1)"},
        {"error-mix", CLI_RATIO, mix, 3, 3, "E:C:R", "D_back exploration : computational : rule violation (default 1:2:2)"},
        {"val", CLI_INT, &val, 0, 1e8, "N", "Seen-Targets test problems (default 5000)"},
        {"val-new", CLI_INT, &val_new, 0, 1e8, "N", "New-Targets test problems (default 5000)"},
        {"nums", CLI_INT, &n_nums, 2, SBT_COUNTDOWN_MAX_NUMS, "N", "numbers per problem (default 4)"},
        {"max-num", CLI_INT, &max_num, 1, 1000, "N", "numbers are drawn from 1..N (default 99)"},
        {"min-target", CLI_INT, &min_target, 2, 1000000, "N", "smallest target (default 10)"},
        {"max-target", CLI_INT, &max_target, 2, 1000000, "N", "largest target (default 100)"},
        {"threads", CLI_INT, &threads, 0, 1024, "N", "worker threads, 0 = all cores (default 0); the output does not depend on it"},
        {"quiet", CLI_FLAG, &quiet, 0, 0, NULL, "no progress bar and no summary"},
    };
    const cli_spec spec = {"selfbt-data",
                           "Make the Countdown data of Self-Backtracking: train.jsonl (D_op + D_back), "
                           "val.jsonl, val_new.jsonl.",
                           opts, (int)(sizeof opts / sizeof *opts)};
    int rc = cli_parse(&spec, argc, argv);
    if (rc)
        return rc == 1 ? 0 : rc;
    if (ratio[0] <= 0) {
        fprintf(stderr, "selfbt-data: --ratio: the D_op part must be positive\n");
        return 2;
    }
    for (int k = 0; k < 3; k++)
        if (mix[k] != (int)mix[k] || mix[k] > 1000) {
            fprintf(stderr, "selfbt-data: --error-mix: parts must be whole numbers up to 1000\n");
            return 2;
        }
    if (mix[0] + mix[1] + mix[2] == 0 && ratio[1] > 0) {
        fprintf(stderr, "selfbt-data: --error-mix: all parts are 0 but --ratio asks for D_back rows\n");
        return 2;
    }
    o.seed = (uint64_t)seed;
    o.train_problems = train;
    o.back_per_op = ratio[1] / ratio[0];
    for (int k = 0; k < 3; k++)
        o.error_weights[k] = (int32_t)mix[k];
    o.val_problems = val;
    o.val_new_problems = val_new;
    o.n_nums = (int32_t)n_nums;
    o.max_num = (int32_t)max_num;
    o.min_target = (int32_t)min_target;
    o.max_target = (int32_t)max_target;
    o.n_threads = (int32_t)threads;

    int created = 0;
    if (prepare_dir(out, &created) != 0)
        return 1;
    cli_progress bar;
    cli_progress_init(&bar, !quiet);
    o.progress = cli_progress_cb;
    o.progress_user_data = &bar;

    double t0 = cli_now();
    sbt_countdown_data *data = NULL;
    sbt_status st = sbt_countdown_generate(&data, &o);
    if (st == SBT_OK)
        st = sbt_countdown_data_write(data, out);
    cli_progress_end(&bar);
    if (st != SBT_OK) {
        fprintf(stderr, "selfbt-data: %s\n", sbt_last_error());
        sbt_countdown_data_free(data);
        if (created)
            rmdir(out); /* only a folder this run made, and only if it is still empty */
        return st == SBT_E_CANCELLED ? 130 : 1;
    }
    if (!quiet)
        print_summary(data, &o, out, cli_now() - t0);
    sbt_countdown_data_free(data);
    return 0;
}
