/* dataset.c — sbt_dataset: Countdown rows read from JSONL or a JSON array (validated row by
 * row, each bad row named by file:line), built in memory, sliced, sub-sampled as the seed's
 * random.sample, and written back as JSONL. */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"
#include "core/rng.h"
#include "io/atomic_file.h"
#include "selfbt/dataset.h"

#define MAX_SKIP_LOGS 20

struct sbt_dataset {
    char *path;
    int64_t n, cap;
    sbt_countdown_problem *prob;
    int64_t *sp;   /* offset of the row's search_path in text, or -1 */
    int64_t *line; /* 1-based line, 0 when made in memory */
    char *text;
    size_t text_len, text_cap;
    int64_t skipped;
};

void sbt_dataset_options_init(sbt_dataset_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->size = sizeof *o;
    o->require_search_path = 1;
    o->skip_bad_rows = 0;
    o->max_rows = 0;
}

static sbt_dataset *ds_new(const char *path)
{
    sbt_dataset *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->path = strdup(path ? path : "");
    if (!d->path) {
        free(d);
        return NULL;
    }
    return d;
}

void sbt_dataset_free(sbt_dataset *d)
{
    if (!d)
        return;
    free(d->path);
    free(d->prob);
    free(d->sp);
    free(d->line);
    free(d->text);
    free(d);
}

static sbt_status ds_reserve(sbt_dataset *d, int64_t rows, size_t text)
{
    if (rows > d->cap) {
        int64_t cap = d->cap ? d->cap : 64;
        while (cap < rows)
            cap *= 2;
        sbt_countdown_problem *p = realloc(d->prob, sizeof *p * (size_t)cap);
        if (p)
            d->prob = p;
        int64_t *s = p ? realloc(d->sp, sizeof *s * (size_t)cap) : NULL;
        if (s)
            d->sp = s;
        int64_t *l = s ? realloc(d->line, sizeof *l * (size_t)cap) : NULL;
        if (!l)
            return sbti_fail(SBT_E_OUT_OF_MEMORY, "dataset: out of memory for %lld rows",
                             (long long)rows);
        d->line = l;
        d->cap = cap;
    }
    if (text > d->text_cap) {
        size_t cap = d->text_cap ? d->text_cap : 4096;
        while (cap < text)
            cap *= 2;
        char *t = realloc(d->text, cap);
        if (!t)
            return sbti_fail(SBT_E_OUT_OF_MEMORY, "dataset: out of memory for %zu bytes of text",
                             text);
        d->text = t;
        d->text_cap = cap;
    }
    return SBT_OK;
}

/* Appends a row whose search_path is sp[0..sp_len) (sp NULL: none). */
static sbt_status ds_push(sbt_dataset *d, const sbt_countdown_problem *p, const char *sp,
                          size_t sp_len, int64_t line)
{
    sbt_status st = ds_reserve(d, d->n + 1, d->text_len + (sp ? sp_len + 1 : 0));
    if (st != SBT_OK)
        return st;
    d->prob[d->n] = *p;
    d->line[d->n] = line;
    if (sp) {
        d->sp[d->n] = (int64_t)d->text_len;
        memcpy(d->text + d->text_len, sp, sp_len);
        d->text[d->text_len + sp_len] = '\0';
        d->text_len += sp_len + 1;
    } else {
        d->sp[d->n] = -1;
    }
    d->n++;
    return SBT_OK;
}

/* ---- reading ---------------------------------------------------------------------------- */

/* Checks one row; on a bad row writes why into why[cap] and returns 0. */
static int check_row(json_t *row, int require_sp, sbt_countdown_problem *p, const char **sp,
                     size_t *sp_len, char *why, size_t cap)
{
    if (!json_is_object(row)) {
        snprintf(why, cap, "the row is not a JSON object");
        return 0;
    }
    json_t *nums = json_object_get(row, "nums");
    if (!nums) {
        snprintf(why, cap, "nums: the column is missing");
        return 0;
    }
    size_t nn = json_is_array(nums) ? json_array_size(nums) : 0;
    if (!json_is_array(nums) || nn < 1 || nn > SBT_COUNTDOWN_MAX_NUMS) {
        snprintf(why, cap, "nums: expected an array of 1..%d integers", SBT_COUNTDOWN_MAX_NUMS);
        return 0;
    }
    memset(p, 0, sizeof *p);
    p->n_nums = (int32_t)nn;
    for (size_t i = 0; i < nn; i++) {
        json_t *v = json_array_get(nums, i);
        if (!json_is_integer(v) || json_integer_value(v) < 0 ||
            json_integer_value(v) > INT32_MAX) {
            snprintf(why, cap, "nums[%zu]: expected a non-negative integer below 2^31", i);
            return 0;
        }
        p->nums[i] = (int32_t)json_integer_value(v);
    }
    json_t *t = json_object_get(row, "target");
    if (!t) {
        snprintf(why, cap, "target: the column is missing");
        return 0;
    }
    if (!json_is_integer(t) || json_integer_value(t) < 0 || json_integer_value(t) > INT32_MAX) {
        snprintf(why, cap, "target: expected a non-negative integer below 2^31");
        return 0;
    }
    p->target = (int32_t)json_integer_value(t);
    json_t *s = json_object_get(row, "search_path");
    *sp = NULL;
    *sp_len = 0;
    if (!s || json_is_null(s)) {
        if (require_sp) {
            snprintf(why, cap, "search_path: the column is missing");
            return 0;
        }
        return 1;
    }
    if (!json_is_string(s)) {
        snprintf(why, cap, "search_path: expected a string");
        return 0;
    }
    *sp = json_string_value(s);
    *sp_len = json_string_length(s);
    if (memchr(*sp, '\0', *sp_len)) {
        snprintf(why, cap, "search_path: the string holds a NUL character");
        return 0;
    }
    return 1;
}

typedef struct reader {
    sbt_dataset *d;
    sbt_dataset_options o;
    int done; /* max_rows reached */
} reader;

/* A bad row: fail, or log and count it. */
static sbt_status bad_row(reader *r, int64_t line, const char *why)
{
    if (!r->o.skip_bad_rows)
        return sbti_fail(SBT_E_PARSE, "%s:%lld: %s", r->d->path, (long long)line, why);
    if (r->d->skipped < MAX_SKIP_LOGS)
        sbti_log(SBT_LOG_WARN, "%s:%lld: skipped: %s", r->d->path, (long long)line, why);
    r->d->skipped++;
    return SBT_OK;
}

static sbt_status take_row(reader *r, json_t *row, int64_t line)
{
    sbt_countdown_problem p;
    const char *sp;
    size_t sp_len;
    char why[160];
    if (!check_row(row, r->o.require_search_path, &p, &sp, &sp_len, why, sizeof why))
        return bad_row(r, line, why);
    sbt_status st = ds_push(r->d, &p, sp, sp_len, line);
    if (st == SBT_OK && r->o.max_rows > 0 && r->d->n >= r->o.max_rows)
        r->done = 1;
    return st;
}

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static sbt_status read_jsonl(reader *r, const char *buf, size_t len)
{
    int64_t line = 0;
    size_t at = 0;
    while (at < len && !r->done) {
        const char *nl = memchr(buf + at, '\n', len - at);
        size_t end = nl ? (size_t)(nl - buf) : len;
        line++;
        size_t a = at, b = end;
        while (a < b && is_ws(buf[a]))
            a++;
        while (b > a && is_ws(buf[b - 1]))
            b--;
        at = end + 1;
        if (a == b)
            continue;
        json_error_t err;
        json_t *row = json_loadb(buf + a, b - a, 0, &err);
        sbt_status st;
        if (!row) {
            char why[240];
            snprintf(why, sizeof why, "not valid JSON (column %d: %s)", err.column, err.text);
            st = bad_row(r, line, why);
        } else {
            st = take_row(r, row, line);
            json_decref(row);
        }
        if (st != SBT_OK)
            return st;
    }
    return SBT_OK;
}

/* One JSON array: elements are parsed one at a time so each has its line. A syntax error
 * fails the load even with skip_bad_rows (there is no next line to resume at). */
static sbt_status read_array(reader *r, const char *buf, size_t len, size_t at)
{
    int64_t line = 1;
    size_t counted = 0; /* newlines counted up to here */
#define ADVANCE_LINES(to)                                                                      \
    do {                                                                                       \
        for (; counted < (to); counted++)                                                      \
            line += buf[counted] == '\n';                                                      \
    } while (0)
    at++; /* '[' */
    for (int first = 1; !r->done; first = 0) {
        while (at < len && is_ws(buf[at]))
            at++;
        ADVANCE_LINES(at);
        if (at < len && buf[at] == ']' && first)
            return SBT_OK;
        if (!first) {
            if (at < len && buf[at] == ']')
                return SBT_OK;
            if (at >= len || buf[at] != ',')
                return sbti_fail(SBT_E_PARSE, "%s:%lld: expected ',' or ']' in the JSON array",
                                 r->d->path, (long long)line);
            at++;
            while (at < len && is_ws(buf[at]))
                at++;
            ADVANCE_LINES(at);
        }
        if (at >= len)
            return sbti_fail(SBT_E_PARSE, "%s:%lld: the JSON array is not closed", r->d->path,
                             (long long)line);
        json_error_t err;
        json_t *row = json_loadb(buf + at, len - at, JSON_DISABLE_EOF_CHECK, &err);
        if (!row)
            return sbti_fail(SBT_E_PARSE, "%s:%lld: not valid JSON: %s", r->d->path,
                             (long long)(line + err.line - 1), err.text);
        sbt_status st = take_row(r, row, line);
        json_decref(row);
        if (st != SBT_OK)
            return st;
        at += (size_t)err.position;
    }
#undef ADVANCE_LINES
    return SBT_OK;
}

static sbt_status slurp(const char *path, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return sbti_fail(errno == ENOENT ? SBT_E_NOT_FOUND : SBT_E_IO, "cannot open %s: %s", path,
                         strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap);
    while (b) {
        size_t got = fread(b + n, 1, cap - n, f);
        n += got;
        if (n < cap)
            break;
        char *nb = realloc(b, cap * 2);
        if (!nb) {
            free(b);
            b = NULL;
            break;
        }
        b = nb;
        cap *= 2;
    }
    int bad = ferror(f);
    fclose(f);
    if (!b)
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory reading %s", path);
    if (bad) {
        free(b);
        return sbti_fail(SBT_E_IO, "cannot read %s", path);
    }
    *out = b;
    *len = n;
    return SBT_OK;
}

sbt_status sbt_dataset_load(sbt_dataset **out, const char *path, const sbt_dataset_options *opts)
{
    if (!out || !path)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_dataset_load: %s is NULL",
                         !out ? "out" : "path");
    *out = NULL;
    reader r = {0};
    sbt_dataset_options_init(&r.o);
    if (opts) {
        if (opts->size < sizeof(size_t) || opts->size > sizeof r.o)
            return sbti_fail(SBT_E_INVALID_ARGUMENT,
                             "sbt_dataset_load: options.size %zu is not valid", opts->size);
        memcpy(&r.o, opts, opts->size);
        r.o.size = sizeof r.o;
    }
    if (r.o.max_rows < 0)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_dataset_load: max_rows %lld is negative",
                         (long long)r.o.max_rows);
    char *buf = NULL;
    size_t len = 0;
    sbt_status st = slurp(path, &buf, &len);
    if (st != SBT_OK)
        return st;
    r.d = ds_new(path);
    if (!r.d) {
        free(buf);
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory reading %s", path);
    }
    size_t at = 0;
    if (len >= 3 && (unsigned char)buf[0] == 0xEF && (unsigned char)buf[1] == 0xBB &&
        (unsigned char)buf[2] == 0xBF)
        at = 3; /* a UTF-8 byte order mark */
    size_t first = at;
    while (first < len && is_ws(buf[first]))
        first++;
    if (first < len && buf[first] == '[')
        st = read_array(&r, buf, len, first);
    else
        st = read_jsonl(&r, buf + at, len - at);
    free(buf);
    if (st != SBT_OK) {
        sbt_dataset_free(r.d);
        return st;
    }
    if (r.d->skipped > MAX_SKIP_LOGS)
        sbti_log(SBT_LOG_WARN, "%s: %lld bad rows skipped in all (the first %d are listed)", path,
                 (long long)r.d->skipped, MAX_SKIP_LOGS);
    *out = r.d;
    return SBT_OK;
}

/* ---- building and access ---------------------------------------------------------------- */

sbt_status sbt_dataset_create(sbt_dataset **out)
{
    if (!out)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_dataset_create: out is NULL");
    *out = ds_new("");
    return *out ? SBT_OK : sbti_fail(SBT_E_OUT_OF_MEMORY, "sbt_dataset_create: out of memory");
}

sbt_status sbt_dataset_append(sbt_dataset *d, const sbt_countdown_problem *p, const char *sp)
{
    if (!d || !p)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_dataset_append: %s is NULL",
                         !d ? "dataset" : "problem");
    if (p->n_nums < 1 || p->n_nums > SBT_COUNTDOWN_MAX_NUMS)
        return sbti_fail(SBT_E_INVALID_ARGUMENT,
                         "sbt_dataset_append: n_nums %d is outside 1..%d", (int)p->n_nums,
                         SBT_COUNTDOWN_MAX_NUMS);
    return ds_push(d, p, sp, sp ? strlen(sp) : 0, 0);
}

int64_t sbt_dataset_count(const sbt_dataset *d)
{
    return d ? d->n : -1;
}

int64_t sbt_dataset_skipped(const sbt_dataset *d)
{
    return d ? d->skipped : -1;
}

const char *sbt_dataset_path(const sbt_dataset *d)
{
    return d ? d->path : NULL;
}

sbt_status sbt_dataset_get(const sbt_dataset *d, int64_t i, sbt_dataset_row *out)
{
    if (!d || !out)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_dataset_get: %s is NULL",
                         !d ? "dataset" : "out");
    if (out->size < sizeof *out)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_dataset_get: out->size %zu is too small",
                         out->size);
    if (i < 0 || i >= d->n)
        return sbti_fail(SBT_E_INVALID_ARGUMENT,
                         "sbt_dataset_get: row %lld is outside 0..%lld of %s", (long long)i,
                         (long long)d->n - 1, d->path[0] ? d->path : "the dataset");
    out->problem = d->prob[i];
    out->search_path = d->sp[i] >= 0 ? d->text + d->sp[i] : NULL;
    out->line = d->line[i];
    return SBT_OK;
}

/* A new dataset of the rows idx[0..k) of src, in that order. */
static sbt_status pick(sbt_dataset **out, const sbt_dataset *src, const int64_t *idx,
                       int64_t begin, int64_t k)
{
    sbt_dataset *d = ds_new(src->path);
    if (!d)
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "dataset: out of memory");
    size_t text = 0;
    for (int64_t j = 0; j < k; j++) {
        int64_t i = idx ? idx[j] : begin + j;
        if (src->sp[i] >= 0)
            text += strlen(src->text + src->sp[i]) + 1;
    }
    sbt_status st = ds_reserve(d, k, text);
    for (int64_t j = 0; st == SBT_OK && j < k; j++) {
        int64_t i = idx ? idx[j] : begin + j;
        const char *sp = src->sp[i] >= 0 ? src->text + src->sp[i] : NULL;
        st = ds_push(d, &src->prob[i], sp, sp ? strlen(sp) : 0, src->line[i]);
    }
    if (st != SBT_OK) {
        sbt_dataset_free(d);
        return st;
    }
    *out = d;
    return SBT_OK;
}

sbt_status sbt_dataset_slice(sbt_dataset **out, const sbt_dataset *src, int64_t begin,
                             int64_t count)
{
    if (!out || !src)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_dataset_slice: %s is NULL",
                         !out ? "out" : "src");
    *out = NULL;
    if (begin < 0 || count < 0 || begin > src->n || count > src->n - begin)
        return sbti_fail(SBT_E_INVALID_ARGUMENT,
                         "sbt_dataset_slice: rows [%lld, %lld) are outside the %lld rows of %s",
                         (long long)begin, (long long)(begin + count), (long long)src->n,
                         src->path[0] ? src->path : "the dataset");
    return pick(out, src, NULL, begin, count);
}

sbt_status sbt_dataset_seed_val_split(sbt_dataset **out_val, sbt_dataset **out_val_new,
                                      const sbt_dataset *src)
{
    if (out_val)
        *out_val = NULL;
    if (out_val_new)
        *out_val_new = NULL;
    if (!src)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_dataset_seed_val_split: src is NULL");
    int64_t n_test = (src->n + 1) / 2, n_val = src->n - n_test; /* ceil(0.5 n) goes to "test" */
    sbt_status st = SBT_OK;
    if (out_val)
        st = sbt_dataset_slice(out_val, src, 0, n_val);
    if (st == SBT_OK && out_val_new)
        st = sbt_dataset_slice(out_val_new, src, n_val, n_test);
    if (st != SBT_OK && out_val) {
        sbt_dataset_free(*out_val);
        *out_val = NULL;
    }
    return st;
}

/* ---- the seed's sub-sample ---------------------------------------------------------------- */

int64_t sbt_dataset_sample_count(int64_t n, double percent, int64_t num_train)
{
    if (n <= 0)
        return 0;
    if (percent >= 0) {
        double p = percent > 100.0 ? 100.0 : percent;
        double k = nearbyint(p * 0.01 * (double)n); /* round half to even, as Python's round */
        return k < 1 ? 1 : (int64_t)k;
    }
    if (num_train > 0)
        return num_train < n ? num_train : n;
    double k = nearbyint(0.02 * (double)n);
    return k < 1 ? 1 : (int64_t)k;
}

sbt_status sbt_dataset_sample(sbt_dataset **out, const sbt_dataset *src, int64_t k, uint64_t seed)
{
    if (!out || !src)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_dataset_sample: %s is NULL",
                         !out ? "out" : "src");
    *out = NULL;
    const int64_t n = src->n;
    if (k < 0)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_dataset_sample: k %lld is negative",
                         (long long)k);
    if (k >= n)
        return pick(out, src, NULL, 0, n);
    if (n > (int64_t)UINT32_MAX)
        return sbti_fail(SBT_E_UNSUPPORTED, "sbt_dataset_sample: %lld rows are more than the "
                         "sampler handles", (long long)n);
    int64_t *idx = malloc(sizeof *idx * (size_t)(k ? k : 1));
    if (!idx)
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "sbt_dataset_sample: out of memory");
    sbti_mt mt;
    sbti_mt_seed(&mt, seed);
    /* CPython's Random.sample(population, k) */
    double setsize = 21;
    if (k > 5)
        setsize += pow(4.0, ceil(log((double)(k * 3)) / log(4.0)));
    sbt_status st = SBT_OK;
    if ((double)n <= setsize) {
        int64_t *pool = malloc(sizeof *pool * (size_t)n);
        if (!pool) {
            st = sbti_fail(SBT_E_OUT_OF_MEMORY, "sbt_dataset_sample: out of memory");
        } else {
            for (int64_t i = 0; i < n; i++)
                pool[i] = i;
            for (int64_t i = 0; i < k; i++) {
                int64_t j = sbti_mt_below(&mt, (uint32_t)(n - i));
                idx[i] = pool[j];
                pool[j] = pool[n - i - 1];
            }
            free(pool);
        }
    } else {
        unsigned char *sel = calloc((size_t)n / 8 + 1, 1);
        if (!sel) {
            st = sbti_fail(SBT_E_OUT_OF_MEMORY, "sbt_dataset_sample: out of memory");
        } else {
            for (int64_t i = 0; i < k; i++) {
                uint32_t j = sbti_mt_below(&mt, (uint32_t)n);
                while (sel[j >> 3] & (1u << (j & 7)))
                    j = sbti_mt_below(&mt, (uint32_t)n);
                sel[j >> 3] |= (unsigned char)(1u << (j & 7));
                idx[i] = j;
            }
            free(sel);
        }
    }
    if (st == SBT_OK)
        st = pick(out, src, idx, 0, k);
    free(idx);
    return st;
}

/* ---- writing -------------------------------------------------------------------------- */

sbt_status sbt_dataset_write_jsonl(const sbt_dataset *d, const char *path)
{
    if (!d || !path)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_dataset_write_jsonl: %s is NULL",
                         !d ? "dataset" : "path");
    sbti_atomic_file f;
    sbt_status st = sbti_atomic_open(&f, path);
    if (st != SBT_OK)
        return st;
    for (int64_t i = 0; i < d->n && st == SBT_OK; i++) {
        const sbt_countdown_problem *p = &d->prob[i];
        json_t *row = json_object(), *nums = json_array();
        int bad = !row || !nums;
        for (int k = 0; !bad && k < p->n_nums; k++)
            bad = json_array_append_new(nums, json_integer(p->nums[k])) != 0;
        if (!bad)
            bad = json_object_set(row, "nums", nums) != 0 ||
                  json_object_set_new(row, "target", json_integer(p->target)) != 0;
        if (!bad && d->sp[i] >= 0)
            bad = json_object_set_new(row, "search_path", json_string(d->text + d->sp[i])) != 0;
        json_decref(nums);
        if (bad)
            st = sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory writing %s", path);
        else if (json_dumpf(row, f.fp, JSON_COMPACT | JSON_PRESERVE_ORDER) != 0 ||
                 fputc('\n', f.fp) == EOF)
            st = sbti_fail(SBT_E_IO, "cannot write %s: %s", f.path, strerror(errno));
        json_decref(row);
    }
    if (st != SBT_OK) {
        sbti_atomic_abort(&f);
        return st;
    }
    return sbti_atomic_commit(&f);
}
