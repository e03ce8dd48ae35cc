/* selfbt-tokenize — encode text to token ids (or tokens) and decode ids back to text, with a
 * Hugging Face tokenizer.json or the compact Countdown tokenizer. See docs/tokenizer.md.
 *
 *   selfbt-tokenize --tokenizer PATH            stdin, line by line -> ids, one line each
 *   selfbt-tokenize --countdown --tokens        the tokens instead of the ids
 *   selfbt-tokenize --tokenizer PATH --decode   ids (whitespace-separated) -> text
 *   selfbt-tokenize --countdown --null          texts separated by NUL bytes -> ids, one line each
 *
 * Without --special, encoding adds no BOS and decoding drops special tokens
 * (skip_special_tokens=True); with it, encoding applies the post-processor (BOS) and decoding
 * keeps them. Exit status: 0, 1 on a runtime error (message from sbt_last_error()), 2 on a bad
 * command line, 130 after Ctrl-C. */
#define _POSIX_C_SOURCE 200809L /* getline, fileno */

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli_args.h"
#include "cli_progress.h"
#include "selfbt/selfbt.h"
#include "selfbt/tokenizer.h"

#define PROG "selfbt-tokenize"

typedef struct buffers {
    sbt_token *ids;
    size_t ids_cap;
    char *text;
    size_t text_cap;
} buffers;

/* Loads --tokenizer: a local tokenizer.json or folder, or else a Hugging Face repo id
 * ("org/name[@rev]") resolved through the shared HF cache, offline first (docs/hub.md). */
static sbt_status load_tokenizer(sbt_tokenizer **tok, const char *arg)
{
    struct stat st;
    if (stat(arg, &st) == 0)
        return sbt_tokenizer_load(tok, arg);
    sbt_hub_options o;
    sbt_hub_options_init(&o);
    sbt_hub *hub = NULL;
    char *json = NULL, *config = NULL;
    sbt_status s = sbt_hub_create(&hub, &o);
    if (s == SBT_OK)
        s = sbt_hub_resolve_path(&json, hub, arg, SBT_HUB_MODEL, "tokenizer.json");
    /* tokenizer_config.json is optional; when the repo has it, it lands next to
     * tokenizer.json, where sbt_tokenizer_load reads it. */
    if (s == SBT_OK && sbt_hub_resolve_path(&config, hub, arg, SBT_HUB_MODEL, "tokenizer_config.json") != SBT_OK)
        sbt_clear_error();
    if (s == SBT_OK)
        s = sbt_tokenizer_load(tok, json);
    sbt_hub_path_free(json);
    sbt_hub_path_free(config);
    sbt_hub_free(hub);
    return s;
}

static int runtime_error(const char *what, sbt_status st)
{
    fprintf(stderr, PROG ": %s: %s: %s\n", what, sbt_status_str(st), sbt_last_error());
    return 1;
}

static int oom(void)
{
    fprintf(stderr, PROG ": out of memory\n");
    return 1;
}

/* p (elements of elem bytes) reallocated to need and half again plus slack elements: the new
 * array with *cap set, or NULL (p and *cap untouched) when out of memory. */
static void *regrow(void *p, size_t *cap, size_t need, size_t slack, size_t elem)
{
    size_t c = need + need / 2 + slack;
    void *q = realloc(p, c * elem);
    if (q)
        *cap = c;
    return q;
}

/* Encodes text[0..len) into b->ids (grown as needed); *n gets the count. */
static sbt_status encode(const sbt_tokenizer *tok, const char *text, size_t len, unsigned flags,
                         buffers *b, size_t *n)
{
    sbt_status st = sbt_tokenizer_encode(tok, text, len, flags, b->ids, b->ids_cap, n);
    if (st == SBT_E_INVALID_ARGUMENT && *n > b->ids_cap) {
        sbt_token *p = regrow(b->ids, &b->ids_cap, *n, 16, sizeof *p);
        if (!p)
            return SBT_E_OUT_OF_MEMORY;
        b->ids = p;
        st = sbt_tokenizer_encode(tok, text, len, flags, b->ids, b->ids_cap, n);
    }
    return st;
}

/* Decodes ids into b->text (grown as needed, NUL-terminated); *len gets the bytes. */
static sbt_status decode(const sbt_tokenizer *tok, const sbt_token *ids, size_t n, unsigned flags,
                         buffers *b, size_t *len)
{
    sbt_status st = sbt_tokenizer_decode(tok, ids, n, flags, b->text, b->text_cap, len);
    if (st == SBT_E_INVALID_ARGUMENT && *len + 1 > b->text_cap) {
        char *p = regrow(b->text, &b->text_cap, *len, 64, 1);
        if (!p)
            return SBT_E_OUT_OF_MEMORY;
        b->text = p;
        st = sbt_tokenizer_decode(tok, ids, n, flags, b->text, b->text_cap, len);
    }
    return st;
}

/* Prints one encoded text: ids (or tokens) separated by spaces, then a newline. */
static int print_encoded(const sbt_tokenizer *tok, const sbt_token *ids, size_t n, int tokens)
{
    for (size_t k = 0; k < n; k++) {
        if (k)
            putchar(' ');
        if (tokens) {
            const char *t = sbt_tokenizer_token_text(tok, ids[k]);
            fputs(t ? t : "<unknown>", stdout);
        } else {
            printf("%d", (int)ids[k]);
        }
    }
    putchar('\n');
    return ferror(stdout) ? -1 : 0;
}

/* What separates ids in --decode input: white space and commas. */
static int is_sep(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',' || c == '\v' || c == '\f';
}

/* Parses whitespace-separated ids from text[0..len) and appends them to *ids. */
static int parse_ids(const char *text, size_t len, sbt_token **ids, size_t *n, size_t *cap,
                     long long line)
{
    size_t i = 0;
    while (i < len) {
        while (i < len && is_sep(text[i]))
            i++;
        if (i == len)
            break;
        long long v = 0;
        size_t start = i;
        while (i < len && text[i] >= '0' && text[i] <= '9' && v <= INT32_MAX)
            v = v * 10 + (text[i++] - '0');
        if (i == start || (i < len && !is_sep(text[i])) || v > INT32_MAX) {
            size_t end = start;
            while (end < len && end - start < 20 && text[end] != ' ' && text[end] != '\n')
                end++;
            fprintf(stderr, PROG ": line %lld: '%.*s' is not a token id (a whole number 0..%d)\n",
                    line, (int)(end - start), text + start, INT32_MAX);
            return 1;
        }
        if (*n == *cap) {
            size_t nc = *cap ? 2 * *cap : 256;
            sbt_token *p = realloc(*ids, nc * sizeof *p);
            if (!p)
                return oom();
            *ids = p;
            *cap = nc;
        }
        (*ids)[(*n)++] = (sbt_token)v;
    }
    return 0;
}

/* Reads all of f into a malloc'd buffer. */
static char *read_all(FILE *f, size_t *len)
{
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    if (!buf)
        return NULL;
    for (;;) {
        if (n == cap) {
            char *p = realloc(buf, cap *= 2);
            if (!p) {
                free(buf);
                return NULL;
            }
            buf = p;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

/* Splits a comma-separated list in place into tokens[]. */
static size_t split_list(char *s, const char **tokens, size_t max)
{
    size_t n = 0;
    char *p = s;
    while (n < max) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        if (*p)
            tokens[n++] = p;
        if (!comma)
            break;
        p = comma + 1;
    }
    return n;
}

static void print_info(const sbt_tokenizer *tok, const char *name)
{
    sbt_token bos = sbt_tokenizer_bos(tok), eos = sbt_tokenizer_eos(tok), pad = sbt_tokenizer_pad(tok);
    printf("tokenizer  %s\n", name);
    printf("n_vocab    %d\n", (int)sbt_tokenizer_n_vocab(tok));
    const sbt_token ids[3] = {bos, eos, pad};
    const char *names[3] = {"bos", "eos", "pad"};
    for (int k = 0; k < 3; k++) {
        const char *t = ids[k] >= 0 ? sbt_tokenizer_token_text(tok, ids[k]) : NULL;
        printf("%-10s %d%s%s\n", names[k], (int)ids[k], t ? " " : "", t ? t : "");
    }
}

int main(int argc, char **argv)
{
    const char *path = NULL, *save = NULL, *add_special = NULL;
    int countdown = 0, whole = 0, tokens = 0, do_decode = 0, special = 0, info = 0, stats = 0;
    int quiet = 0, nul = 0;
    const cli_opt opts[] = {
        {"tokenizer", CLI_STRING, &path, 0, 0, "PATH", "a tokenizer.json, a folder holding one (and tokenizer_config.json), or a Hub repo id org/name[@rev] (through the HF cache, offline first)"},
        {"countdown", CLI_FLAG, &countdown, 0, 0, NULL, "the compact Countdown tokenizer instead of --tokenizer"},
        {"add-special", CLI_STRING, &add_special, 0, 0, "T1,T2", "add special tokens first (e.g. '<backtrack>'), comma-separated"},
        {"decode", CLI_FLAG, &do_decode, 0, 0, NULL, "read token ids (separated by spaces or commas) and print the text"},
        {"whole", CLI_FLAG, &whole, 0, 0, NULL, "the whole input is one text (one id sequence with --decode), not one per line"},
        {"null", CLI_FLAG, &nul, 0, 0, NULL, "texts are separated by NUL bytes, not newlines (encode: input; decode: output)"},
        {"tokens", CLI_FLAG, &tokens, 0, 0, NULL, "print the tokens (vocabulary form, e.g. Ġword) instead of the ids"},
        {"special", CLI_FLAG, &special, 0, 0, NULL, "encode: add special tokens (BOS); decode: keep special tokens (default: drop them)"},
        {"save", CLI_STRING, &save, 0, 0, "DIR", "write tokenizer.json + tokenizer_config.json into DIR (made if missing) and exit"},
        {"info", CLI_FLAG, &info, 0, 0, NULL, "print the vocabulary size and BOS/EOS/PAD and exit"},
        {"stats", CLI_FLAG, &stats, 0, 0, NULL, "print bytes, tokens, time and MB/s to stderr at the end"},
        {"quiet", CLI_FLAG, &quiet, 0, 0, NULL, "no progress bar (drawn only when stderr is a terminal and stdin a file)"},
    };
    const cli_spec spec = {PROG,
                           "Encode text (stdin) to token ids, or decode ids to text, with a Hugging Face "
                           "tokenizer.json or the compact Countdown tokenizer.",
                           opts, (int)(sizeof opts / sizeof *opts)};
    int rc = cli_parse(&spec, argc, argv);
    if (rc)
        return rc == 1 ? 0 : rc;
    const char *usage_error = NULL;
    if (!path && !countdown)
        usage_error = "give --tokenizer PATH or --countdown";
    else if (path && countdown)
        usage_error = "--tokenizer and --countdown exclude each other";
    else if (nul && whole)
        usage_error = "--null and --whole exclude each other";
    else if (tokens && do_decode)
        usage_error = "--tokens is for encoding; it does not go with --decode";
    else if ((save || info) && (do_decode || tokens || whole || stats))
        usage_error = "--save and --info do not read input: no --decode, --tokens, --whole or --stats";
    else if (save && info)
        usage_error = "--save and --info exclude each other";
    if (usage_error) {
        fprintf(stderr, PROG ": %s\nTry '" PROG " --help' for the list of options.\n", usage_error);
        return 2;
    }

    sbt_tokenizer *tok = NULL;
    sbt_status st = countdown ? sbt_tokenizer_create_countdown(&tok) : load_tokenizer(&tok, path);
    if (st != SBT_OK)
        return runtime_error(countdown ? "the Countdown tokenizer" : path, st);
    if (add_special) {
        char *list = malloc(strlen(add_special) + 1);
        const char *toks[256];
        if (!list) {
            sbt_tokenizer_free(tok);
            return oom();
        }
        strcpy(list, add_special);
        size_t n = split_list(list, toks, 256);
        st = n ? sbt_tokenizer_add_special_tokens(tok, toks, n, NULL) : SBT_OK;
        free(list);
        if (st != SBT_OK) {
            sbt_tokenizer_free(tok);
            return runtime_error("--add-special", st);
        }
    }
    const char *name = countdown ? "countdown" : path;
    if (info) {
        print_info(tok, name);
        sbt_tokenizer_free(tok);
        return 0;
    }
    if (save) {
        if (mkdir(save, 0777) != 0 && errno != EEXIST) {
            fprintf(stderr, PROG ": cannot create folder %s: %s\n", save, strerror(errno));
            sbt_tokenizer_free(tok);
            return 1;
        }
        st = sbt_tokenizer_save(tok, save);
        sbt_tokenizer_free(tok);
        if (st != SBT_OK)
            return runtime_error(save, st);
        return 0;
    }

    /* A progress bar by bytes read, when stdin is a file of known size. */
    struct stat sb;
    int64_t total = fstat(fileno(stdin), &sb) == 0 && S_ISREG(sb.st_mode) ? (int64_t)sb.st_size : 0;
    cli_progress bar;
    cli_progress_init(&bar, !quiet && total > 0 && !whole);

    unsigned eflags = special ? SBT_ENCODE_ADD_SPECIAL : 0;
    unsigned dflags = special ? 0 : SBT_DECODE_SKIP_SPECIAL;
    buffers b = {NULL, 0, NULL, 0};
    sbt_token *ids = NULL;
    size_t n_ids = 0, ids_cap = 0;
    int64_t bytes = 0, n_tokens = 0;
    long long lineno = 0;
    int status = 0, cancelled = 0;
    double t0 = cli_now();

    if (whole) {
        size_t len = 0;
        char *text = read_all(stdin, &len);
        if (!text) {
            fprintf(stderr, PROG ": reading stdin: %s\n", strerror(errno));
            status = 1;
        } else if (do_decode) {
            status = parse_ids(text, len, &ids, &n_ids, &ids_cap, 1);
            size_t out_len = 0;
            if (!status && (st = decode(tok, ids, n_ids, dflags, &b, &out_len)) != SBT_OK)
                status = runtime_error("decode", st);
            if (!status)
                fwrite(b.text, 1, out_len, stdout);
            bytes = (int64_t)out_len;
            n_tokens = (int64_t)n_ids;
        } else {
            size_t n = 0;
            if ((st = encode(tok, text, len, eflags, &b, &n)) != SBT_OK)
                status = runtime_error("encode", st);
            else if (print_encoded(tok, b.ids, n, tokens))
                status = -1;
            bytes = (int64_t)len;
            n_tokens = (int64_t)n;
        }
        free(text);
    } else {
        char *line = NULL;
        size_t cap = 0;
        ssize_t got;
        /* --null is about texts: NUL-separated texts in, or NUL-terminated texts out. */
        int delim = nul && !do_decode ? '\0' : '\n';
        while (!status && (got = getdelim(&line, &cap, delim, stdin)) >= 0) {
            lineno++;
            bytes += got;
            size_t len = (size_t)got;
            if (len && line[len - 1] == delim)
                len--;
            size_t n = 0, out_len = 0; /* ids, and bytes decoded */
            if (do_decode) {
                n_ids = 0;
                if ((status = parse_ids(line, len, &ids, &n_ids, &ids_cap, lineno)) != 0)
                    break;
                n = n_ids;
                st = decode(tok, ids, n_ids, dflags, &b, &out_len);
            } else {
                st = encode(tok, line, len, eflags, &b, &n);
            }
            if (st != SBT_OK) {
                char what[64];
                snprintf(what, sizeof what, "line %lld", lineno);
                status = runtime_error(what, st);
                break;
            }
            if (do_decode) {
                fwrite(b.text, 1, out_len, stdout);
                putchar(nul ? '\0' : '\n');
            } else if (print_encoded(tok, b.ids, n, tokens)) {
                status = -1;
                break;
            }
            n_tokens += (int64_t)n;
            if (total > 0 && cli_progress_cb("tokenize", bytes, total, &bar)) {
                cancelled = 1;
                break;
            }
        }
        if (!status && ferror(stdin)) {
            fprintf(stderr, PROG ": reading stdin: %s\n", strerror(errno));
            status = 1;
        }
        free(line);
    }
    cli_progress_end(&bar);
    if (fflush(stdout) != 0 || status < 0) {
        fprintf(stderr, PROG ": writing stdout: %s\n", strerror(errno));
        status = 1;
    }
    double dt = cli_now() - t0;
    if (stats && !status)
        fprintf(stderr, PROG ": %lld bytes, %lld tokens, %lld lines in %.3f s: %.2f MB/s, %.2f bytes/token\n",
                (long long)bytes, (long long)n_tokens, lineno, dt, dt > 0 ? (double)bytes / dt / 1e6 : 0.0,
                n_tokens ? (double)bytes / (double)n_tokens : 0.0);
    free(ids);
    free(b.ids);
    free(b.text);
    sbt_tokenizer_free(tok);
    if (cancelled) {
        fprintf(stderr, PROG ": interrupted after %lld lines\n", lineno);
        return 130;
    }
    return status;
}
