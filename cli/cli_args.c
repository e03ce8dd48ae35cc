/* cli_args.c — table-driven "--flag value" parsing for the selfbt-* tools. */
#include "cli_args.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "selfbt/version.h"

void cli_usage(const cli_spec *spec, FILE *out)
{
    fprintf(out, "usage: %s [options]%s%s\n%s\n\noptions:\n", spec->prog, spec->args ? " " : "",
            spec->args ? spec->args : "", spec->summary);
    for (int k = 0; k < spec->n_opts; k++) {
        const cli_opt *o = &spec->opts[k];
        char left[64];
        snprintf(left, sizeof left, "--%s%s%s", o->name, o->meta ? " " : "", o->meta ? o->meta : "");
        fprintf(out, "  %-26s %s\n", left, o->help);
    }
    fprintf(out, "  %-26s %s\n  %-26s %s\n", "--help", "show this help and exit", "--version",
            "show the library version and exit");
}

static int bad(const cli_spec *spec, const char *fmt, const char *a, const char *b)
{
    fprintf(stderr, "%s: ", spec->prog);
    fprintf(stderr, fmt, a, b);
    fprintf(stderr, "\nTry '%s --help' for the list of options.\n", spec->prog);
    return 2;
}

static int parse_ratio(const char *v, double *out, int n)
{
    const char *p = v;
    for (int k = 0; k < n; k++) {
        char *end;
        errno = 0;
        out[k] = strtod(p, &end);
        if (end == p || errno || !(out[k] >= 0) || out[k] > 1e9)
            return -1;
        p = end;
        if (k < n - 1) {
            if (*p != ':')
                return -1;
            p++;
        }
    }
    return *p ? -1 : 0;
}

static int set_value(const cli_spec *spec, const cli_opt *o, const char *v)
{
    char *end;
    errno = 0;
    switch (o->kind) {
    case CLI_INT: {
        long long x = strtoll(v, &end, 10);
        if (end == v || *end || errno || x < o->min || x > o->max) {
            char range[96];
            snprintf(range, sizeof range, "%.0f..%.0f", o->min, o->max);
            fprintf(stderr, "%s: --%s: '%s' is not a whole number in %s\n", spec->prog, o->name, v,
                    range);
            fprintf(stderr, "Try '%s --help' for the list of options.\n", spec->prog);
            return 2;
        }
        *(int64_t *)o->dest = x;
        return 0;
    }
    case CLI_DOUBLE: {
        double x = strtod(v, &end);
        if (end == v || *end || errno || !(x >= o->min && x <= o->max))
            return bad(spec, "--%s: '%s' is not a number in the allowed range", o->name, v);
        *(double *)o->dest = x;
        return 0;
    }
    case CLI_STRING:
        if (!*v)
            return bad(spec, "--%s: the value is empty%s", o->name, "");
        *(const char **)o->dest = v;
        return 0;
    case CLI_RATIO:
        if (parse_ratio(v, (double *)o->dest, (int)o->max) != 0) {
            fprintf(stderr, "%s: --%s: '%s' is not %d non-negative numbers separated by ':'\n",
                    spec->prog, o->name, v, (int)o->max);
            fprintf(stderr, "Try '%s --help' for the list of options.\n", spec->prog);
            return 2;
        }
        return 0;
    case CLI_FLAG:
        break;
    }
    return bad(spec, "--%s does not take a value ('%s')", o->name, v);
}

/* Stores a positional argument, or reports that the tool takes no (more) of them. */
static int add_positional(const cli_spec *spec, const char *arg)
{
    if (!spec->positional || *spec->n_positional >= spec->max_positional)
        return bad(spec, "unexpected argument '%s'%s", arg, "");
    spec->positional[(*spec->n_positional)++] = arg;
    spec->positional[*spec->n_positional] = NULL;
    return 0;
}

int cli_parse(const cli_spec *spec, int argc, char **argv)
{
    int only_positional = 0;
    if (spec->positional) {
        *spec->n_positional = 0;
        spec->positional[0] = NULL;
    }
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (only_positional || strncmp(arg, "--", 2) != 0 || !strcmp(arg, "-")) {
            if (!strcmp(arg, "-h") && !only_positional) {
                cli_usage(spec, stdout);
                return 1;
            }
            int rc = add_positional(spec, arg);
            if (rc)
                return rc;
            continue;
        }
        if (!strcmp(arg, "--")) {
            only_positional = 1;
            continue;
        }
        if (!strcmp(arg, "--help")) {
            cli_usage(spec, stdout);
            return 1;
        }
        if (!strcmp(arg, "--version")) {
            printf("%s (libselfbt %s)\n", spec->prog, sbt_version_string());
            return 1;
        }
        const char *name = arg + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const cli_opt *o = NULL;
        for (int k = 0; k < spec->n_opts; k++)
            if (strlen(spec->opts[k].name) == len && !strncmp(spec->opts[k].name, name, len))
                o = &spec->opts[k];
        if (!o)
            return bad(spec, "unknown option '%s'%s", arg, "");
        if (o->kind == CLI_FLAG) {
            if (eq)
                return bad(spec, "--%s does not take a value ('%s')", o->name, eq + 1);
            *(int *)o->dest = 1;
            continue;
        }
        const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!v)
            return bad(spec, "--%s needs a value%s", o->name, "");
        int rc = set_value(spec, o, v);
        if (rc)
            return rc;
    }
    return 0;
}

int cli_choice(const char *prog, const char *flag, const char *value, const char *const *names)
{
    int n = 0;
    for (; names[n]; n++)
        if (strcmp(value, names[n]) == 0)
            return n;
    fprintf(stderr, "%s: --%s: '%s' is not ", prog, flag, value);
    for (int i = 0; i < n; i++)
        fprintf(stderr, "%s%s", names[i], i + 2 < n ? ", " : i + 2 == n ? " or " : "\n");
    return -1;
}
