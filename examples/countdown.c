/* countdown.c — a minimal program against the public API: make a little Countdown data,
 * print a few rows, and judge two model outputs with both verifiers.
 * Build (installed library):  cc countdown.c $(pkg-config --cflags --libs selfbt) */
#include <stdio.h>
#include <string.h>

#include <selfbt/selfbt.h>

int main(void)
{
    sbt_countdown_options opts;
    sbt_countdown_options_init(&opts); /* the paper's defaults: seed 4, 4 numbers, 10..100 */
    opts.train_problems = 5;
    opts.val_problems = opts.val_new_problems = 2;

    sbt_countdown_data *data = NULL;
    if (sbt_countdown_generate(&data, &opts) != SBT_OK) {
        fprintf(stderr, "countdown: %s\n", sbt_last_error());
        return 1;
    }
    for (int64_t i = 0; i < 4; i++) {
        sbt_countdown_row row = {sizeof row};
        sbt_countdown_data_row(data, SBT_SPLIT_TRAIN, i, &row);
        char prompt[256];
        sbt_countdown_prompt(&row.problem, prompt, sizeof prompt);
        printf("%s%s\n\n", prompt, row.search_path);
    }
    sbt_countdown_data_free(data);

    /* The paper's case study: floor division passes the seed's verifier, not the strict one. */
    const char *output = "###Question: numbers [88, 32, 79, 37]->target 91\n###Response:\n"
                         "79+37=116\n116/32=3\n88+3=91\nGoal Reached!";
    const sbt_countdown_verifier modes[2] = {SBT_VERIFY_REFERENCE, SBT_VERIFY_STRICT};
    for (int m = 0; m < 2; m++) {
        sbt_countdown_verdict v = {sizeof v};
        sbt_countdown_verify(output, strlen(output), modes[m], &v);
        char reason[256];
        sbt_countdown_verdict_reason(&v, output, reason, sizeof reason);
        printf("%s: %s%s\n", m ? "strict" : "reference", v.is_correct ? "correct" : "wrong: ", reason);
    }
    return 0;
}
