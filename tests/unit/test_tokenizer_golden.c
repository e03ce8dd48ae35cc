/* test_tokenizer_golden.c — the tokenizer against Hugging Face's own `tokenizers`: golden ids
 * and decodes made by tests/tokenizer/make_golden.js (HF tokenizers@0.23.2 through its Node
 * binding) for the corpus of tests/tokenizer/corpus.js.
 *
 *   test_tokenizer_golden TOKENIZER GOLDEN
 *       TOKENIZER: a tokenizer.json, a folder holding one, or "countdown" (the compact one);
 *       GOLDEN: a file written by make_golden.js. Both may instead come from the environment
 *       (SBT_TOKENIZER, SBT_TOKENIZER_GOLDEN).
 *   test_tokenizer_golden --save TOKENIZER DIR [SPECIAL_TOKEN...]
 *       loads TOKENIZER (or makes the compact one: "countdown"), adds the special tokens and
 *       saves it into DIR (made if missing), for make_golden.js to load in Hugging Face.
 *
 * Asserts 0 mismatches for ids without and with special tokens, for the three decodes, and
 * decode(encode(x)) == x for every valid-UTF-8 string (the U+FFFD form for the others); prints
 * the mismatch counts and the first few mismatches with their string. Exits 77 (skipped) when
 * the golden file or the tokenizer is missing: the reference could not be fetched. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* getline */
#endif
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "selfbt/status.h"
#include "selfbt/tokenizer.h"

#define SKIP_CODE 77
#define SHOW_FIRST 5

/* ==== the golden file ================================================================ */

typedef struct ids_t {
    sbt_token *v;
    size_t n;
} ids_t;

typedef struct bytes_t {
    char *p;
    size_t n;
} bytes_t;

typedef struct record {
    char *kind;
    int line;
    bytes_t text;
    ids_t ids, ids_special;
    bytes_t dec_special, dec_skip, dec_plain;
} record;

static const char *g_tokenizer_arg;
static const char *g_golden_path;
static sbt_tokenizer *g_tok;
static record *g_rec;
static size_t g_n_rec;
static char **g_add_special;
static size_t g_n_add_special;
static long g_n_vocab = -1;
static struct {
    char *token;
    long id;
} g_token_ids[16];
static size_t g_n_token_ids;

static void die(const char *fmt, const char *a, int b)
{
    fprintf(stderr, "test_tokenizer_golden: ");
    fprintf(stderr, fmt, a, b);
    fputc('\n', stderr);
    exit(1);
}

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (!d)
        die("out of memory%s%d", "", 0);
    memcpy(d, s, n);
    return d;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int parse_hex(const char *s, bytes_t *out)
{
    size_t n = strlen(s);
    if (n % 2)
        return -1;
    out->n = n / 2;
    out->p = malloc(out->n + 1);
    if (!out->p)
        return -1;
    for (size_t k = 0; k < out->n; k++) {
        int hi = hexval(s[2 * k]), lo = hexval(s[2 * k + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out->p[k] = (char)(hi << 4 | lo);
    }
    out->p[out->n] = '\0';
    return 0;
}

static int parse_ids(const char *s, ids_t *out)
{
    size_t cap = 16;
    out->n = 0;
    out->v = malloc(cap * sizeof *out->v);
    if (!out->v)
        return -1;
    while (*s) {
        while (*s == ' ')
            s++;
        if (!*s)
            break;
        char *end;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (end == s || errno || v < 0 || v > INT32_MAX)
            return -1;
        if (out->n == cap) {
            cap *= 2;
            sbt_token *nv = realloc(out->v, cap * sizeof *nv);
            if (!nv)
                return -1;
            out->v = nv;
        }
        out->v[out->n++] = (sbt_token)v;
        s = end;
    }
    return 0;
}

/* Splits line at tabs in place; returns the number of fields (empty ones count). */
static int split_tabs(char *line, char **f, int max)
{
    int n = 0;
    f[n++] = line;
    for (char *p = line; *p && n < max; p++)
        if (*p == '\t') {
            *p = '\0';
            f[n++] = p + 1;
        }
    return n;
}

static void load_golden(const char *path)
{
    FILE *fp = fopen(path, "r");
    if (!fp)
        die("cannot open %s (errno %d)", path, errno);
    char *line = NULL;
    size_t cap = 0, rcap = 0;
    ssize_t got;
    int lineno = 0;
    while ((got = getline(&line, &cap, fp)) >= 0) {
        lineno++;
        while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r'))
            line[--got] = '\0';
        char *f[8];
        if (line[0] == '#') {
            if (line[1] != '!')
                continue;
            int n = split_tabs(line + 2, f, 8);
            if (!strcmp(f[0], "add_special") && n >= 2) {
                g_add_special = realloc(g_add_special, (g_n_add_special + 1) * sizeof *g_add_special);
                g_add_special[g_n_add_special++] = xstrdup(f[1]);
            } else if (!strcmp(f[0], "n_vocab") && n >= 2) {
                g_n_vocab = strtol(f[1], NULL, 10);
            } else if (!strcmp(f[0], "token_id") && n >= 3 && g_n_token_ids < 16) {
                g_token_ids[g_n_token_ids].token = xstrdup(f[1]);
                g_token_ids[g_n_token_ids++].id = strtol(f[2], NULL, 10);
            }
            continue;
        }
        if (!line[0])
            continue;
        if (split_tabs(line, f, 8) != 7)
            die("%s: line %d does not have 7 tab-separated fields", path, lineno);
        if (g_n_rec == rcap) {
            rcap = rcap ? 2 * rcap : 1024;
            g_rec = realloc(g_rec, rcap * sizeof *g_rec);
            if (!g_rec)
                die("out of memory%s%d", "", 0);
        }
        record *r = &g_rec[g_n_rec++];
        memset(r, 0, sizeof *r);
        r->kind = xstrdup(f[0]);
        r->line = lineno;
        if (parse_hex(f[1], &r->text) || parse_ids(f[2], &r->ids) || parse_ids(f[3], &r->ids_special) ||
            parse_hex(f[4], &r->dec_special) || parse_hex(f[5], &r->dec_skip) ||
            parse_hex(f[6], &r->dec_plain))
            die("%s: line %d is malformed", path, lineno);
    }
    free(line);
    fclose(fp);
}

/* ==== helpers ======================================================================== */

/* 1 if s[0..n) is valid UTF-8: Unicode Table 3-7, written out here independently of the
 * library's own check. */
static int utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c < 0xC2 || c > 0xF4)
            return 0;
        size_t len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
        unsigned lo = c == 0xE0 ? 0xA0 : c == 0xF0 ? 0x90 : 0x80; /* no overlong forms */
        unsigned hi = c == 0xED ? 0x9F : c == 0xF4 ? 0x8F : 0xBF; /* no surrogates, <= U+10FFFF */
        if (i + len > n || s[i + 1] < lo || s[i + 1] > hi)
            return 0;
        for (size_t k = 2; k < len; k++)
            if (s[i + k] < 0x80 || s[i + k] > 0xBF)
                return 0;
        i += len;
    }
    return 1;
}

/* The string for a message: printable ASCII as is, the rest escaped, cut at 160 bytes. */
static void show_text(FILE *out, const char *p, size_t n)
{
    fputc('"', out);
    size_t k;
    for (k = 0; k < n && k < 160; k++) {
        unsigned char c = (unsigned char)p[k];
        if (c == '\n')
            fputs("\\n", out);
        else if (c == '\r')
            fputs("\\r", out);
        else if (c == '\t')
            fputs("\\t", out);
        else if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c >= 0x20 && c < 0x7f)
            fputc(c, out);
        else
            fprintf(out, "\\x%02x", c);
    }
    fprintf(out, "\"%s (%zu bytes)", k < n ? "..." : "", n);
}

/* The first line of a reported mismatch: what, the string's kind and golden line, the string. */
static void show_mismatch(const char *what, const char *note, const record *r)
{
    fprintf(stderr, "  %s mismatch%s, %s string (golden line %d): ", what, note, r->kind, r->line);
    show_text(stderr, r->text.p, r->text.n);
    fputc('\n', stderr);
}

static void show_ids(FILE *out, const char *what, const sbt_token *v, size_t n, size_t around)
{
    size_t from = around > 8 ? around - 8 : 0, to = around + 12 < n ? around + 12 : n;
    fprintf(out, "      %-9s (%zu ids) %s", what, n, from ? "... " : "");
    for (size_t k = from; k < to; k++)
        fprintf(out, k == around ? "[%d] " : "%d ", (int)v[k]);
    fprintf(out, "%s\n", to < n ? "..." : "");
}

/* Encodes into a growing buffer; returns the status. */
static sbt_status encode(const char *p, size_t n, unsigned flags, ids_t *out, size_t *cap)
{
    size_t need = 0;
    sbt_status st = sbt_tokenizer_encode(g_tok, p, n, flags, out->v, *cap, &need);
    if (st == SBT_E_INVALID_ARGUMENT && need > *cap) {
        *cap = need + 16;
        sbt_token *nv = realloc(out->v, *cap * sizeof *nv);
        if (!nv)
            return SBT_E_OUT_OF_MEMORY;
        out->v = nv;
        st = sbt_tokenizer_encode(g_tok, p, n, flags, out->v, *cap, &need);
    }
    out->n = need;
    return st;
}

static sbt_status decode(const ids_t *ids, unsigned flags, bytes_t *out, size_t *cap)
{
    size_t need = 0;
    sbt_status st = sbt_tokenizer_decode(g_tok, ids->v, ids->n, flags, out->p, *cap, &need);
    if (st == SBT_E_INVALID_ARGUMENT && need + 1 > *cap) {
        *cap = need + 64;
        char *np = realloc(out->p, *cap);
        if (!np)
            return SBT_E_OUT_OF_MEMORY;
        out->p = np;
        st = sbt_tokenizer_decode(g_tok, ids->v, ids->n, flags, out->p, *cap, &need);
    }
    out->n = need;
    return st;
}

static size_t first_diff_ids(const ids_t *a, const ids_t *b)
{
    size_t k = 0;
    while (k < a->n && k < b->n && a->v[k] == b->v[k])
        k++;
    return k;
}

static int same_bytes(const bytes_t *a, const char *p, size_t n)
{
    return a->n == n && (n == 0 || !memcmp(a->p, p, n));
}

/* ==== the checks ===================================================================== */

/* Compares our encode (flags) of every string with the golden ids. Returns the mismatches. */
static size_t check_encode(unsigned flags, const char *what)
{
    ids_t got = {NULL, 0};
    size_t cap = 0, bad = 0, errors = 0;
    for (size_t i = 0; i < g_n_rec; i++) {
        const record *r = &g_rec[i];
        const ids_t *want = flags ? &r->ids_special : &r->ids;
        sbt_status st = encode(r->text.p, r->text.n, flags, &got, &cap);
        int same = st == SBT_OK && got.n == want->n &&
                   (want->n == 0 || !memcmp(got.v, want->v, want->n * sizeof *got.v));
        if (same)
            continue;
        if (bad++ < SHOW_FIRST) {
            show_mismatch(what, "", r);
            if (st != SBT_OK) {
                errors++;
                fprintf(stderr, "      encode failed: %s: %s\n", sbt_status_str(st), sbt_last_error());
            } else {
                size_t at = first_diff_ids(&got, want);
                fprintf(stderr, "      first difference at id %zu\n", at);
                show_ids(stderr, "expected", want->v, want->n, at);
                show_ids(stderr, "got", got.v, got.n, at);
            }
        }
    }
    printf("%s: %zu mismatches in %zu strings\n", what, bad, g_n_rec);
    free(got.v);
    return bad;
}

/* Decodes golden ids and compares with Hugging Face's decode. */
static size_t check_decode(int which, const char *what)
{
    bytes_t got = {NULL, 0};
    size_t cap = 0, bad = 0;
    for (size_t i = 0; i < g_n_rec; i++) {
        const record *r = &g_rec[i];
        const ids_t *ids = which == 2 ? &r->ids : &r->ids_special;
        const bytes_t *want = which == 0 ? &r->dec_special : which == 1 ? &r->dec_skip : &r->dec_plain;
        unsigned flags = which == 1 ? SBT_DECODE_SKIP_SPECIAL : 0;
        sbt_status st = decode(ids, flags, &got, &cap);
        if (st == SBT_OK && same_bytes(want, got.p, got.n))
            continue;
        if (bad++ < SHOW_FIRST) {
            show_mismatch(what, "", r);
            if (st != SBT_OK) {
                fprintf(stderr, "      decode failed: %s: %s\n", sbt_status_str(st), sbt_last_error());
            } else {
                fprintf(stderr, "      expected ");
                show_text(stderr, want->p, want->n);
                fprintf(stderr, "\n      got      ");
                show_text(stderr, got.p, got.n);
                fputc('\n', stderr);
            }
        }
    }
    printf("%s: %zu mismatches in %zu strings\n", what, bad, g_n_rec);
    free(got.p);
    return bad;
}

/* decode(encode(x)) == x for valid UTF-8 (our ids, our decode), else the U+FFFD form. */
static size_t check_roundtrip(size_t *n_valid)
{
    ids_t ids = {NULL, 0};
    bytes_t got = {NULL, 0};
    size_t icap = 0, dcap = 0, bad = 0;
    *n_valid = 0;
    for (size_t i = 0; i < g_n_rec; i++) {
        const record *r = &g_rec[i];
        int valid = utf8_valid((const unsigned char *)r->text.p, r->text.n);
        *n_valid += valid;
        sbt_status st = encode(r->text.p, r->text.n, 0, &ids, &icap);
        if (st == SBT_OK)
            st = decode(&ids, 0, &got, &dcap);
        const bytes_t *want = valid ? &r->text : &r->dec_plain;
        if (st == SBT_OK && same_bytes(want, got.p, got.n))
            continue;
        if (bad++ < SHOW_FIRST) {
            show_mismatch("round trip", valid ? " (valid UTF-8)" : " (invalid UTF-8)", r);
            if (st != SBT_OK) {
                fprintf(stderr, "      failed: %s: %s\n", sbt_status_str(st), sbt_last_error());
            } else {
                fprintf(stderr, "      got ");
                show_text(stderr, got.p, got.n);
                fputc('\n', stderr);
            }
        }
    }
    printf("decode(encode(x)) == x: %zu mismatches in %zu strings (%zu valid UTF-8)\n", bad,
           g_n_rec, *n_valid);
    free(ids.v);
    free(got.p);
    return bad;
}

START_TEST(golden_ids)
{
    ck_assert_uint_eq(check_encode(0, "ids (no special tokens)"), 0);
}
END_TEST

START_TEST(golden_ids_special)
{
    ck_assert_uint_eq(check_encode(SBT_ENCODE_ADD_SPECIAL, "ids (add special tokens)"), 0);
}
END_TEST

START_TEST(golden_decode)
{
    size_t bad = check_decode(0, "decode(ids with specials)");
    bad += check_decode(1, "decode(ids with specials, skip special)");
    bad += check_decode(2, "decode(ids)");
    ck_assert_uint_eq(bad, 0);
}
END_TEST

START_TEST(golden_roundtrip)
{
    size_t n_valid;
    ck_assert_uint_eq(check_roundtrip(&n_valid), 0);
    ck_assert_uint_gt(n_valid, 0);
}
END_TEST

START_TEST(golden_vocab)
{
    ck_assert_uint_gt(g_n_rec, 0);
    if (g_n_vocab >= 0)
        ck_assert_int_eq(sbt_tokenizer_n_vocab(g_tok), g_n_vocab);
    for (size_t k = 0; k < g_n_token_ids; k++) {
        ck_assert_int_eq(sbt_tokenizer_token_id(g_tok, g_token_ids[k].token), g_token_ids[k].id);
        ck_assert_int_eq(sbt_tokenizer_is_special(g_tok, (sbt_token)g_token_ids[k].id), 1);
        const char *t = sbt_tokenizer_token_text(g_tok, (sbt_token)g_token_ids[k].id);
        ck_assert_ptr_nonnull(t);
        ck_assert_str_eq(t, g_token_ids[k].token);
    }
}
END_TEST

/* The size-query protocol: cap 0 gives SBT_E_INVALID_ARGUMENT and the full count. */
START_TEST(golden_buffer_protocol)
{
    for (size_t i = 0; i < g_n_rec; i += 97) {
        const record *r = &g_rec[i];
        size_t n = 12345;
        sbt_status st = sbt_tokenizer_encode(g_tok, r->text.p, r->text.n, 0, NULL, 0, &n);
        if (r->ids.n == 0)
            ck_assert_int_eq(st, SBT_OK);
        else
            ck_assert_int_eq(st, SBT_E_INVALID_ARGUMENT);
        ck_assert_uint_eq(n, r->ids.n);
        size_t len = 12345;
        char small[1];
        st = sbt_tokenizer_decode(g_tok, r->ids_special.v, r->ids_special.n, 0, small, 1, &len);
        ck_assert_uint_eq(len, r->dec_special.n);
        if (r->dec_special.n > 0)
            ck_assert_int_eq(st, SBT_E_INVALID_ARGUMENT);
    }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("tokenizer_golden");
    TCase *tc = tcase_create("golden");
    tcase_add_test(tc, golden_vocab);
    tcase_add_test(tc, golden_ids);
    tcase_add_test(tc, golden_ids_special);
    tcase_add_test(tc, golden_decode);
    tcase_add_test(tc, golden_roundtrip);
    tcase_add_test(tc, golden_buffer_protocol);
    suite_add_tcase(s, tc);
    return s;
}

/* ==== main =========================================================================== */

/* Loads src ("countdown" or a path), adds the special tokens, saves into dir (made if missing).
 * Exits 77 when src is a path that does not exist (the reference was not fetched). */
static int save_tokenizer(const char *src, const char *dir, char **add, int n_add)
{
    struct stat sb;
    int countdown = !strcmp(src, "countdown");
    if (!countdown && stat(src, &sb) != 0) {
        printf("SKIP: no tokenizer at %s\n", src);
        return SKIP_CODE;
    }
    mkdir(dir, 0777);
    sbt_tokenizer *tok = NULL;
    sbt_status st = countdown ? sbt_tokenizer_create_countdown(&tok) : sbt_tokenizer_load(&tok, src);
    if (st == SBT_OK && n_add > 0)
        st = sbt_tokenizer_add_special_tokens(tok, (const char *const *)add, (size_t)n_add, NULL);
    if (st == SBT_OK)
        st = sbt_tokenizer_save(tok, dir);
    sbt_tokenizer_free(tok);
    if (st != SBT_OK) {
        fprintf(stderr, "test_tokenizer_golden: saving %s into %s: %s: %s\n", src, dir,
                sbt_status_str(st), sbt_last_error());
        return 1;
    }
    printf("saved %s%s into %s\n", src, n_add ? " with added special tokens" : "", dir);
    return 0;
}

int main(int argc, char **argv)
{
    /* Line-buffered: a failing check ends its forked child with _exit, which would lose a
     * fully buffered stdout and with it the mismatch counts. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc >= 4 && !strcmp(argv[1], "--save"))
        return save_tokenizer(argv[2], argv[3], argv + 4, argc - 4);
    g_tokenizer_arg = argc > 1 ? argv[1] : getenv("SBT_TOKENIZER");
    g_golden_path = argc > 2 ? argv[2] : getenv("SBT_TOKENIZER_GOLDEN");
    if (!g_tokenizer_arg || !g_golden_path) {
        fprintf(stderr, "usage: %s TOKENIZER GOLDEN  (or SBT_TOKENIZER, SBT_TOKENIZER_GOLDEN)\n"
                        "       %s --save TOKENIZER DIR [SPECIAL_TOKEN...]\n", argv[0], argv[0]);
        return 2;
    }
    struct stat st;
    if (stat(g_golden_path, &st) != 0) {
        printf("SKIP: no golden file %s: the Hugging Face reference could not be fetched or run "
               "(see the output of the tokenizer.reference test)\n", g_golden_path);
        return SKIP_CODE;
    }
    int countdown = !strcmp(g_tokenizer_arg, "countdown");
    if (!countdown && stat(g_tokenizer_arg, &st) != 0) {
        printf("SKIP: no tokenizer at %s\n", g_tokenizer_arg);
        return SKIP_CODE;
    }
    load_golden(g_golden_path);

    sbt_status s = countdown ? sbt_tokenizer_create_countdown(&g_tok) : sbt_tokenizer_load(&g_tok, g_tokenizer_arg);
    if (s != SBT_OK) {
        fprintf(stderr, "test_tokenizer_golden: loading %s: %s: %s\n", g_tokenizer_arg,
                sbt_status_str(s), sbt_last_error());
        return 1;
    }
    if (g_n_add_special) {
        size_t added = 0;
        s = sbt_tokenizer_add_special_tokens(g_tok, (const char *const *)g_add_special, g_n_add_special, &added);
        if (s != SBT_OK) {
            fprintf(stderr, "test_tokenizer_golden: add_special_tokens: %s: %s\n", sbt_status_str(s),
                    sbt_last_error());
            return 1;
        }
    }
    printf("tokenizer %s, golden %s: %zu strings, n_vocab %d\n", g_tokenizer_arg, g_golden_path,
           g_n_rec, (int)sbt_tokenizer_n_vocab(g_tok));
    fflush(stdout);

    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    sbt_tokenizer_free(g_tok);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
