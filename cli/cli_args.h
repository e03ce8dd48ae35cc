/* cli_args.h — the flag parser and usage printer shared by the selfbt-* tools.
 *
 * A tool describes its flags in a table; parsing accepts "--name value" and "--name=value",
 * checks types and ranges, and reports the flag by name on error. */
#ifndef SELFBT_CLI_ARGS_H
#define SELFBT_CLI_ARGS_H

#include <stdint.h>
#include <stdio.h>

typedef enum cli_kind {
    CLI_FLAG,   /* no value: sets *(int *)dest = 1        */
    CLI_INT,    /* int64_t in [min, max]                  */
    CLI_DOUBLE, /* double in [min, max]                   */
    CLI_STRING, /* const char * (points into argv)        */
    CLI_RATIO   /* "a:b:..." into double[n] (n = max), each >= 0 */
} cli_kind;

typedef struct cli_opt {
    const char *name;  /* without the leading "--" */
    cli_kind kind;
    void *dest;
    double min, max;   /* CLI_INT/CLI_DOUBLE bounds; CLI_RATIO: min = max = number of parts */
    const char *meta;  /* value placeholder in the usage, e.g. "N" */
    const char *help;  /* one line; the default is appended by the tool in the text */
} cli_opt;

typedef struct cli_spec {
    const char *prog;     /* "selfbt-data" */
    const char *summary;  /* one line saying what the tool does */
    const cli_opt *opts;
    int n_opts;
    /* Positional arguments (anything not starting with "--", or everything after "--"):
     * with positional == NULL a tool takes none; else up to max_positional are stored in
     * positional[] (NULL-terminated, so it holds max_positional + 1) and counted in
     * *n_positional. args names them in the usage line, e.g. "ORG/NAME [FILE...]". */
    const char **positional;
    int max_positional;
    int *n_positional;
    const char *args;
} cli_spec;

/* Parses argv. Returns 0 on success; on --help prints the usage to stdout and returns 1; on
 * --version prints the version and returns 1; on a bad flag prints "prog: <what>" and a hint
 * to stderr and returns 2 (the tool exits with that code). */
int cli_parse(const cli_spec *spec, int argc, char **argv);

void cli_usage(const cli_spec *spec, FILE *out);

/* The index of value among names (NULL-terminated), for a flag that takes one of a few words;
 * -1 after printing "prog: --flag: 'value' is not a, b or c" to stderr. */
int cli_choice(const char *prog, const char *flag, const char *value, const char *const *names);

#endif /* SELFBT_CLI_ARGS_H */
