/* tokenizer_bench.c — encode throughput of the libselfbt tokenizer, one thread.
 *
 *   tokenizer_bench (--tokenizer PATH | --countdown) --corpus FILE [--runs N] [--mode docs|lines|whole]
 *
 * The corpus is split into documents at blank lines ("\n\n", as bench/make_corpus.js writes
 * it; --mode lines splits at every "\n", --mode whole encodes the file as one text); each
 * document is one sbt_tokenizer_encode call without special tokens, the same work
 * bench/tokenizer_bench.js gives Hugging Face's tokenizers. Prints the best of N runs in MB/s
 * (10^6 bytes of input per second) and the token count, which must equal the HF count. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "selfbt/status.h"
#include "selfbt/tokenizer.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int usage(const char *msg)
{
    fprintf(stderr, "tokenizer_bench: %s\nusage: tokenizer_bench (--tokenizer PATH | --countdown) --corpus FILE "
                    "[--runs N] [--mode docs|lines|whole]\n", msg);
    return 2;
}

static int oom(const char *what)
{
    fprintf(stderr, "tokenizer_bench: out of memory %s\n", what);
    return 1;
}

typedef struct span {
    size_t off, len;
} span;

int main(int argc, char **argv)
{
    const char *tok_path = NULL, *corpus = NULL, *mode = "docs";
    int countdown = 0, runs = 5;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--countdown")) {
            countdown = 1;
        } else if (!strcmp(a, "--tokenizer") && v) {
            tok_path = v, i++;
        } else if (!strcmp(a, "--corpus") && v) {
            corpus = v, i++;
        } else if (!strcmp(a, "--runs") && v) {
            runs = atoi(v), i++;
        } else if (!strcmp(a, "--mode") && v) {
            mode = v, i++;
        } else {
            return usage("bad argument");
        }
    }
    if ((!tok_path) == (!countdown) || !corpus || runs < 1 ||
        (strcmp(mode, "docs") && strcmp(mode, "lines") && strcmp(mode, "whole")))
        return usage("give one of --tokenizer/--countdown, --corpus, --runs >= 1, a known --mode");

    FILE *f = fopen(corpus, "rb");
    if (!f) {
        perror(corpus);
        return 1;
    }
    long sz = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    char *text = sz >= 0 && fseek(f, 0, SEEK_SET) == 0 ? malloc((size_t)sz + 1) : NULL;
    if (!text || fread(text, 1, (size_t)sz, f) != (size_t)sz) {
        fprintf(stderr, "tokenizer_bench: cannot read %s\n", corpus);
        return 1;
    }
    fclose(f);
    size_t len = (size_t)sz;

    /* Documents: split at "\n\n" (docs), "\n" (lines) or none (whole); a trailing "\n" of the
     * file is not part of the last document. */
    int whole = !strcmp(mode, "whole");
    size_t cap = 1024, n_docs = 0;
    span *docs = malloc(cap * sizeof *docs);
    if (!docs)
        return oom("splitting the corpus");
    size_t body = len && text[len - 1] == '\n' && !whole ? len - 1 : len;
    size_t start = 0, input_bytes = 0;
    const char *sep = !strcmp(mode, "docs") ? "\n\n" : "\n";
    size_t sep_len = strlen(sep);
    for (size_t i = 0; i <= body; i++) {
        int cut = i == body || (!whole && i + sep_len <= body && !memcmp(text + i, sep, sep_len));
        if (!cut)
            continue;
        if (n_docs == cap) {
            span *grown = realloc(docs, (cap *= 2) * sizeof *docs);
            if (!grown)
                return oom("splitting the corpus");
            docs = grown;
        }
        docs[n_docs].off = start;
        docs[n_docs].len = i - start;
        input_bytes += i - start;
        n_docs++;
        start = i + sep_len;
        i += sep_len - 1;
    }

    sbt_tokenizer *tok = NULL;
    double t_load = now();
    sbt_status st = countdown ? sbt_tokenizer_create_countdown(&tok) : sbt_tokenizer_load(&tok, tok_path);
    t_load = now() - t_load;
    if (st != SBT_OK) {
        fprintf(stderr, "tokenizer_bench: loading %s: %s: %s\n", countdown ? "countdown" : tok_path,
                sbt_status_str(st), sbt_last_error());
        return 1;
    }

    size_t ids_cap = 1 << 16;
    sbt_token *ids = malloc(ids_cap * sizeof *ids);
    if (!ids)
        return oom("for the ids");
    double best = 1e30, best_cpu = 0;
    uint64_t tokens = 0, checksum = 0;
    for (int r = 0; r < runs; r++) {
        uint64_t n_tok = 0, sum = 0;
        double t0 = now(), c0 = cpu_now();
        for (size_t d = 0; d < n_docs; d++) {
            size_t n = 0;
            st = sbt_tokenizer_encode(tok, text + docs[d].off, docs[d].len, 0, ids, ids_cap, &n);
            if (st == SBT_E_INVALID_ARGUMENT && n > ids_cap) {
                sbt_token *grown = realloc(ids, 2 * n * sizeof *ids);
                if (!grown)
                    return oom("for the ids");
                ids = grown;
                ids_cap = 2 * n;
                st = sbt_tokenizer_encode(tok, text + docs[d].off, docs[d].len, 0, ids, ids_cap, &n);
            }
            if (st != SBT_OK) {
                fprintf(stderr, "tokenizer_bench: encode: %s: %s\n", sbt_status_str(st), sbt_last_error());
                return 1;
            }
            n_tok += n;
            for (size_t k = 0; k < n; k++)
                sum = sum * 31 + (uint64_t)ids[k];
        }
        double dt = now() - t0, dc = cpu_now() - c0;
        if (dt < best)
            best = dt, best_cpu = dc;
        tokens = n_tok;
        checksum = sum;
    }
    printf("selfbt   %s: %zu documents (%s), %zu bytes, %llu tokens (%.2f bytes/token), checksum %016llx\n",
           countdown ? "countdown" : tok_path, n_docs, mode, input_bytes, (unsigned long long)tokens,
           tokens ? (double)input_bytes / (double)tokens : 0.0, (unsigned long long)checksum);
    printf("selfbt   load %.3f s; encode best of %d: %.3f s (cpu %.3f s) = %.2f MB/s, %.2f Mtokens/s\n",
           t_load, runs, best, best_cpu, (double)input_bytes / best / 1e6, (double)tokens / best / 1e6);
    printf("RESULT selfbt_mb_s=%.3f tokens=%llu\n", (double)input_bytes / best / 1e6, (unsigned long long)tokens);
    free(ids);
    free(docs);
    free(text);
    sbt_tokenizer_free(tok);
    return 0;
}
