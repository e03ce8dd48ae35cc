/* replay.c — a libFuzzer-free driver for the fuzz targets, built with any compiler and run by
 * ctest: it feeds LLVMFuzzerTestOneInput every seed of a corpus, then deterministic mutations
 * of each (bit and byte flips, truncations, deletions, insertions of random bytes and of
 * dictionary tokens, duplicated chunks, splices with another seed).
 *
 *   fuzz_replay_<target> [-n MUTATIONS] [-s SECONDS] [-d DICT] PATH...
 *
 * A PATH is a corpus folder (its files in name order) or one file. -n gives the mutations of
 * each seed (default 1000; 0 replays the seeds alone). -s stops mutating after that many
 * seconds of wall time (default 0: no limit), so a slow machine ends early rather than past
 * ctest's timeout; it prints how far it got. -d reads a dictionary in libFuzzer/AFL format
 * (one "token" a line, optionally name="token", with \\, \" and \xNN escapes).
 *
 * Every input is passed in a heap buffer of exactly its size, so ASan catches a read past
 * the end. When an input crashes (a signal, or a sanitizer's report), its bytes are written to
 * crash-<target>-<seed>[-<mutation>] in the current folder and its origin printed; replay it
 * with `fuzz_replay_<target> -n 0 crash-...` or the libFuzzer binary. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fuzz.h"

#ifndef SBT_FUZZ_TARGET
#  define SBT_FUZZ_TARGET "target"
#endif

#define REPLAY_MAX_INPUT (1u << 20) /* mutations never grow an input past this */

typedef struct buf {
    unsigned char *p;
    size_t n;
} buf;

typedef struct list {
    buf *v;
    char **names;
    size_t n, cap;
} list;

/* ---- what is running now, for the crash report (written from a signal handler) -------- */

static const unsigned char *volatile cur_data;
static volatile size_t cur_size;
static const char *volatile cur_seed = "";
static volatile long cur_mutation = -1;

static void put_str(const char *s)
{
    size_t n = strlen(s);
    while (n > 0) {
        ssize_t w = write(2, s, n);
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

/* async-signal-safe decimal */
static void fmt_long(char *out, long v)
{
    char tmp[24];
    int k = 0, neg = v < 0;
    unsigned long u = neg ? 0UL - (unsigned long)v : (unsigned long)v;
    do {
        tmp[k++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (neg)
        *out++ = '-';
    while (k)
        *out++ = tmp[--k];
    *out = '\0';
}

static void report_crash(void)
{
    static volatile sig_atomic_t reported;
    if (reported || !cur_data)
        return;
    reported = 1;
    char name[512], num[24];
    const char *seed = strrchr(cur_seed, '/') ? strrchr(cur_seed, '/') + 1 : cur_seed;
    fmt_long(num, cur_mutation);
    /* crash-<target>-<seed>-<mutation>, the seed's name cut to 64 bytes */
    size_t k = 0;
    const char *parts[] = {"crash-", SBT_FUZZ_TARGET, "-", seed, "-", num};
    size_t n_parts = cur_mutation < 0 ? 4 : 6; /* a seed as it is: crash-<target>-<seed> */
    for (size_t i = 0; i < n_parts; i++)
        for (const char *c = parts[i]; *c && k < sizeof name - 1 && (i != 3 || c - seed < 64); c++)
            name[k++] = (*c == '/' || *c == ' ') ? '_' : *c;
    name[k] = '\0';
    put_str("\n==== fuzz_replay: the input that crashed: seed ");
    put_str(cur_seed);
    put_str(cur_mutation < 0 ? " (as is)" : ", mutation ");
    if (cur_mutation >= 0)
        put_str(num);
    put_str("; written to ");
    put_str(name);
    put_str("\n");
    int fd = open(name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
        size_t done = 0;
        while (done < cur_size) {
            ssize_t w = write(fd, cur_data + done, cur_size - done);
            if (w <= 0)
                break;
            done += (size_t)w;
        }
        close(fd);
    }
}

static void on_signal(int sig)
{
    report_crash();
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Sanitizers call this before they end the process (present only in sanitizer builds). */
extern void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));

/* ---- inputs ----------------------------------------------------------------------------- */

static void add(list *l, unsigned char *p, size_t n, const char *name)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
        l->names = realloc(l->names, l->cap * sizeof *l->names);
        if (!l->v || !l->names) {
            fprintf(stderr, "fuzz_replay: out of memory\n");
            exit(2);
        }
    }
    l->v[l->n] = (buf){p, n};
    l->names[l->n] = name ? strdup(name) : NULL;
    l->n++;
}

static int read_file(const char *path, buf *out)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    size_t cap = 4096, n = 0;
    unsigned char *p = malloc(cap);
    for (;;) {
        if (!p)
            break;
        n += fread(p + n, 1, cap - n, f);
        if (n < cap)
            break;
        unsigned char *q = realloc(p, 2 * cap);
        if (!q) {
            free(p);
            p = NULL;
            break;
        }
        p = q;
        cap *= 2;
    }
    int err = ferror(f);
    fclose(f);
    if (!p || err) {
        free(p);
        return -1;
    }
    *out = (buf){p, n};
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void add_path(list *l, const char *path)
{
    struct stat sb;
    if (stat(path, &sb) != 0) {
        fprintf(stderr, "fuzz_replay: %s: %s\n", path, strerror(errno));
        exit(2);
    }
    if (!S_ISDIR(sb.st_mode)) {
        buf b;
        if (read_file(path, &b) != 0) {
            fprintf(stderr, "fuzz_replay: cannot read %s\n", path);
            exit(2);
        }
        add(l, b.p, b.n, path);
        return;
    }
    DIR *d = opendir(path);
    if (!d) {
        fprintf(stderr, "fuzz_replay: %s: %s\n", path, strerror(errno));
        exit(2);
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            names = realloc(names, cap * sizeof *names);
            if (!names)
                exit(2);
        }
        size_t len = strlen(path) + strlen(e->d_name) + 2;
        names[n] = malloc(len);
        if (!names[n])
            exit(2);
        snprintf(names[n], len, "%s/%s", path, e->d_name);
        n++;
    }
    closedir(d);
    qsort(names, n, sizeof *names, by_name);
    for (size_t i = 0; i < n; i++) {
        struct stat fb;
        if (stat(names[i], &fb) == 0 && S_ISREG(fb.st_mode))
            add_path(l, names[i]);
        free(names[i]);
    }
    free(names);
}

/* One dictionary line: "token" or name="token" with \\, \" and \xNN; comments start with #. */
static void read_dict(list *l, const char *path)
{
    buf file;
    if (read_file(path, &file) != 0) {
        fprintf(stderr, "fuzz_replay: cannot read the dictionary %s\n", path);
        exit(2);
    }
    size_t i = 0;
    while (i < file.n) {
        size_t end = i;
        while (end < file.n && file.p[end] != '\n')
            end++;
        size_t q = i;
        while (q < end && file.p[q] != '"' && file.p[q] != '#')
            q++;
        if (q < end && file.p[q] == '"') {
            unsigned char *tok = malloc(end - q);
            size_t n = 0, k = q + 1;
            int closed = 0;
            while (tok && k < end) {
                unsigned char c = file.p[k++];
                if (c == '"') {
                    closed = 1;
                    break;
                }
                if (c == '\\' && k < end) {
                    c = file.p[k++];
                    if (c == 'x' && k + 1 < end) {
                        char hex[3] = {(char)file.p[k], (char)file.p[k + 1], 0};
                        c = (unsigned char)strtoul(hex, NULL, 16);
                        k += 2;
                    }
                }
                tok[n++] = c;
            }
            if (tok && closed && n > 0)
                add(l, tok, n, NULL);
            else
                free(tok);
        }
        i = end + 1;
    }
    free(file.p);
}

/* ---- mutations ------------------------------------------------------------------------- */

static uint64_t rng_state;

static uint64_t rnd(void) /* splitmix64 */
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static size_t below(size_t n) { return n ? (size_t)(rnd() % n) : 0; }

static uint64_t hash(const unsigned char *p, size_t n)
{
    uint64_t h = 0xCBF29CE484222325ULL; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001B3ULL;
    return h;
}

static const unsigned char INTERESTING[] = {0x00, 0x01, 0x7F, 0x80, 0xFF, 0xC0, 0xC3, 0xE2,
                                            0xED, 0xF0, 0xF4, 0xF5, '"', '\\', '{', '}', '[',
                                            ']', ':', ',', '-', '0', '9', '\n', ' ', 'e'};

/* Inserts src[0..k) at pos of b (capacity REPLAY_MAX_INPUT); returns 0 if it does not fit. */
static int insert(buf *b, size_t pos, const unsigned char *src, size_t k)
{
    if (b->n + k > REPLAY_MAX_INPUT)
        return 0;
    memmove(b->p + pos + k, b->p + pos, b->n - pos);
    memcpy(b->p + pos, src, k);
    b->n += k;
    return 1;
}

/* Applies 1..4 random edits to b (capacity REPLAY_MAX_INPUT). */
static void mutate(buf *b, const list *seeds, const list *dict)
{
    int edits = 1 + (int)below(4);
    for (int e = 0; e < edits; e++) {
        size_t pos = below(b->n + 1);
        switch (below(11)) {
        case 0: /* flip a bit */
            if (b->n)
                b->p[below(b->n)] ^= (unsigned char)(1u << below(8));
            break;
        case 1: /* a random byte */
            if (b->n)
                b->p[below(b->n)] = (unsigned char)rnd();
            break;
        case 2: /* an interesting byte */
            if (b->n)
                b->p[below(b->n)] = INTERESTING[below(sizeof INTERESTING)];
            break;
        case 3: /* truncate */
            b->n = below(b->n + 1);
            break;
        case 4: { /* delete a range */
            size_t k = below(b->n - (pos < b->n ? pos : b->n) + 1);
            if (k > 16 && below(2))
                k = 1 + below(16);
            memmove(b->p + pos, b->p + pos + k, b->n - pos - k);
            b->n -= k;
            break;
        }
        case 5: { /* insert random bytes */
            unsigned char tmp[8];
            size_t k = 1 + below(sizeof tmp);
            for (size_t i = 0; i < k; i++)
                tmp[i] = (unsigned char)rnd();
            insert(b, pos, tmp, k);
            break;
        }
        case 6: /* insert an interesting byte */
            insert(b, pos, &INTERESTING[below(sizeof INTERESTING)], 1);
            break;
        case 7: /* a dictionary token, inserted or written over */
        case 8:
            if (dict->n) {
                const buf *t = &dict->v[below(dict->n)];
                if (below(2) && pos + t->n <= b->n)
                    memcpy(b->p + pos, t->p, t->n);
                else
                    insert(b, pos, t->p, t->n);
            }
            break;
        case 9: /* duplicate a chunk */
            if (b->n) {
                size_t from = below(b->n), k = 1 + below(b->n - from);
                if (k > 256)
                    k = 1 + below(256);
                unsigned char *tmp = malloc(k);
                if (tmp) {
                    memcpy(tmp, b->p + from, k);
                    insert(b, pos, tmp, k);
                    free(tmp);
                }
            }
            break;
        case 10: /* splice: our head, another seed's tail */
            if (seeds->n) {
                const buf *o = &seeds->v[below(seeds->n)];
                size_t from = below(o->n + 1), k = o->n - from;
                if (pos + k <= REPLAY_MAX_INPUT) {
                    memcpy(b->p + pos, o->p + from, k);
                    b->n = pos + k;
                }
            }
            break;
        }
    }
}

/* Runs the target on data[0..n) from an exact-size heap copy. */
static void run_one(const unsigned char *data, size_t n)
{
    unsigned char *copy = malloc(n ? n : 1);
    if (!copy) {
        fprintf(stderr, "fuzz_replay: out of memory\n");
        exit(2);
    }
    if (n)
        memcpy(copy, data, n);
    cur_data = copy;
    cur_size = n;
    LLVMFuzzerTestOneInput(copy, n);
    cur_data = NULL;
    free(copy);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    long mutations = 1000;
    double seconds = 0;
    list seeds = {0}, dict = {0};
    int n_paths = 0;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-n") == 0 && i + 1 < argc) {
            mutations = strtol(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "-s") == 0 && i + 1 < argc) {
            seconds = strtod(argv[++i], NULL);
        } else if (strcmp(argv[i], "-d") == 0 && i + 1 < argc) {
            read_dict(&dict, argv[++i]);
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "usage: %s [-n MUTATIONS] [-s SECONDS] [-d DICT] PATH...\n", argv[0]);
            return 2;
        } else {
            add_path(&seeds, argv[i]);
            n_paths++;
        }
    }
    if (!n_paths) {
        fprintf(stderr, "usage: %s [-n MUTATIONS] [-s SECONDS] [-d DICT] PATH...\n", argv[0]);
        return 2;
    }
    if (!seeds.n) {
        fprintf(stderr, "fuzz_replay: no seed inputs found\n");
        return 2;
    }

    /* A sanitizer reports the signals it handles (SEGV, BUS, FPE) and then calls the death
     * callback; the others (a FUZZ_CHECK's trap is SIGILL) are ours to catch. */
    int sigs[] = {SIGILL, SIGABRT, SIGTRAP, SIGSEGV, SIGBUS, SIGFPE};
    int sanitized = __sanitizer_set_death_callback != NULL;
    for (size_t i = 0; i < (sanitized ? 3u : sizeof sigs / sizeof *sigs); i++)
        signal(sigs[i], on_signal);
    if (sanitized)
        __sanitizer_set_death_callback(report_crash);

    double start = now();
    /* the seeds as they are, then the empty input */
    for (size_t s = 0; s < seeds.n; s++) {
        cur_seed = seeds.names[s];
        cur_mutation = -1;
        run_one(seeds.v[s].p, seeds.v[s].n);
    }
    cur_seed = "(empty)";
    run_one((const unsigned char *)"", 0);

    /* mutations, seed by seed; each seed's sequence depends only on its bytes */
    buf b = {malloc(REPLAY_MAX_INPUT), 0};
    if (!b.p)
        return 2;
    long runs = (long)seeds.n + 1, m = 0;
    int stopped = 0;
    for (size_t s = 0; s < seeds.n && !stopped; s++) {
        cur_seed = seeds.names[s];
        rng_state = hash(seeds.v[s].p, seeds.v[s].n);
        for (m = 0; m < mutations; m++) {
            if ((m & 63) == 0 && seconds > 0 && now() - start > seconds) {
                stopped = 1;
                break;
            }
            /* mostly stacked on the previous mutant, now and then from the seed again */
            if (m == 0 || below(4) == 0) {
                size_t n = seeds.v[s].n < REPLAY_MAX_INPUT ? seeds.v[s].n : REPLAY_MAX_INPUT;
                memcpy(b.p, seeds.v[s].p, n);
                b.n = n;
            }
            mutate(&b, &seeds, &dict);
            cur_mutation = m;
            run_one(b.p, b.n);
            runs++;
        }
        if (stopped)
            printf("fuzz_replay: %s: the time limit (%.0f s) stopped it at seed %zu of %zu, "
                   "mutation %ld\n", SBT_FUZZ_TARGET, seconds, s + 1, seeds.n, m);
    }
    double t = now() - start;
    printf("fuzz_replay: %s: %zu seeds, %ld runs in %.2f s (%.0f/s), no crash\n", SBT_FUZZ_TARGET,
           seeds.n, runs, t, t > 0 ? runs / t : 0.0);
    free(b.p);
    for (size_t i = 0; i < seeds.n; i++) {
        free(seeds.v[i].p);
        free(seeds.names[i]);
    }
    for (size_t i = 0; i < dict.n; i++)
        free(dict.v[i].p);
    free(seeds.v);
    free(seeds.names);
    free(dict.v);
    free(dict.names);
    return 0;
}
