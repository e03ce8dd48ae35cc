/* cli_progress.c — progress bar and Ctrl-C cancel for the selfbt-* tools. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime under -std=c11 */

#include "cli_progress.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
    signal(SIGINT, SIG_DFL); /* a second Ctrl-C ends the process at once */
}

double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void cli_progress_init(cli_progress *p, int enabled)
{
    memset(p, 0, sizeof *p);
    p->enabled = enabled && isatty(STDERR_FILENO);
    p->last_permille = -1;
    signal(SIGINT, on_sigint);
}

int cli_progress_cb(const char *what, int64_t done, int64_t total, void *user_data)
{
    cli_progress *p = user_data;
    if (strncmp(p->what, what, sizeof p->what - 1) != 0) {
        snprintf(p->what, sizeof p->what, "%s", what);
        p->t0 = cli_now();
        p->last_permille = -1;
    }
    int permille = total > 0 ? (int)(1000 * done / total) : 1000;
    if (p->enabled && permille != p->last_permille) {
        p->last_permille = permille;
        char bar[31];
        int fill = permille * 30 / 1000;
        memset(bar, '#', (size_t)fill);
        memset(bar + fill, '.', (size_t)(30 - fill));
        bar[30] = '\0';
        double dt = cli_now() - p->t0;
        double eta = done > 0 ? dt * (double)(total - done) / (double)done : 0.0;
        fprintf(stderr, "\r%-8s [%s] %lld/%lld %5.1f%%  %.1fs  eta %.1fs ", p->what, bar,
                (long long)done, (long long)total, permille / 10.0, dt, eta);
        fflush(stderr);
    }
    return interrupted ? 1 : 0;
}

void cli_progress_end(cli_progress *p)
{
    if (p->enabled) {
        fprintf(stderr, "\r%*s\r", 100, "");
        fflush(stderr);
    }
}

static const char *log_prog = "selfbt";

static void log_line(sbt_log_level level, const char *msg, void *user_data)
{
    (void)user_data;
    fprintf(stderr, "%s: %s%s\n", log_prog,
            level >= SBT_LOG_ERROR ? "error: " : level == SBT_LOG_WARN ? "warning: " : "", msg);
}

void cli_log_to_stderr(const char *prog, sbt_log_level min_level)
{
    log_prog = prog;
    sbt_log_set(log_line, NULL, min_level);
}
