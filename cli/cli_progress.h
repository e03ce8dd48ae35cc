/* cli_progress.h — a one-line progress bar on a terminal, the library's log on stderr, and
 * Ctrl-C as a clean cancel:
 * the first SIGINT makes the progress callback ask the library to stop (it then frees what it
 * made and leaves no half-written file), a second one kills the process as usual. */
#ifndef SELFBT_CLI_PROGRESS_H
#define SELFBT_CLI_PROGRESS_H

#include <stdint.h>

#include "selfbt/log.h"

typedef struct cli_progress {
    int enabled;      /* draw the bar (stderr is a terminal and not --quiet) */
    double t0;        /* when the phase began */
    char what[32];    /* the phase being drawn */
    int last_permille;
} cli_progress;

/* enabled: draw only if stderr is a terminal too. Installs the SIGINT handler. */
void cli_progress_init(cli_progress *p, int enabled);
/* An sbt_progress_fn: user_data is the cli_progress. Returns 1 after Ctrl-C. */
int cli_progress_cb(const char *what, int64_t done, int64_t total, void *user_data);
/* Erases the bar. */
void cli_progress_end(cli_progress *p);
/* Seconds on a monotonic clock. */
double cli_now(void);

/* The library's log messages of min_level and above to stderr, as "prog: [warning: |error: ]
 * message" (prog must outlive the process's logging). */
void cli_log_to_stderr(const char *prog, sbt_log_level min_level);

#endif /* SELFBT_CLI_PROGRESS_H */
