/* test_safetensors.c — the safetensors reader, shard sets, conversions and writer: the
 * committed fixtures (tests/tools/make_safetensors_fixtures.py, laid out as the reference
 * library does), byte-identical round trips, and hostile files (every truncation, bad
 * header lengths, bad JSON, wrong types, layout errors, absurd shapes, broken indexes). */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "io/safetensors.h"

#include "check_main.h"

#define DATA SBT_TEST_DATA_DIR "/safetensors"
#define SMALL DATA "/small.safetensors"
#define N_OF(a) (sizeof(a) / sizeof *(a))

/* ---- helpers ---------------------------------------------------------------------------- */

static const char *tmp(const char *name)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/st_%s", SBT_TEST_TMP_DIR, name);
    return path;
}

static void write_bytes(const char *path, const void *data, size_t n)
{
    FILE *fp = fopen(path, "wb");
    ck_assert_ptr_nonnull(fp);
    ck_assert_uint_eq(fwrite(data, 1, n, fp), n);
    ck_assert_int_eq(fclose(fp), 0);
}

/* *n bytes of path, malloc'd. */
static unsigned char *read_bytes(const char *path, size_t *n)
{
    FILE *fp = fopen(path, "rb");
    ck_assert_ptr_nonnull(fp);
    fseek(fp, 0, SEEK_END);
    *n = (size_t)ftell(fp);
    rewind(fp);
    unsigned char *buf = malloc(*n ? *n : 1);
    ck_assert_uint_eq(fread(buf, 1, *n, fp), *n);
    fclose(fp);
    return buf;
}

/* A file of: 8-byte length `n_claimed`, then the h bytes of `header`, then data_len bytes. */
static void write_raw_n(const char *path, uint64_t n_claimed, const char *header, size_t h,
                        size_t data_len)
{
    unsigned char *buf = malloc(8 + h + data_len);
    for (int i = 0; i < 8; i++)
        buf[i] = (unsigned char)(n_claimed >> (8 * i));
    memcpy(buf + 8, header, h);
    for (size_t i = 0; i < data_len; i++)
        buf[8 + h + i] = (unsigned char)i;
    write_bytes(path, buf, 8 + h + data_len);
    free(buf);
}

static void write_raw(const char *path, uint64_t n_claimed, const char *header, size_t data_len)
{
    write_raw_n(path, n_claimed, header, strlen(header), data_len);
}

static void write_header(const char *path, const char *header, size_t data_len)
{
    write_raw(path, strlen(header), header, data_len);
}

/* Opening path fails with status, and the message names the file and each of the parts. */
static void expect_fail(const char *path, sbt_status status, const char *part1, const char *part2)
{
    sbti_st_file *f = (sbti_st_file *)&f;
    sbt_status st = sbti_st_open(&f, path);
    const char *msg = sbt_last_error();
    ck_assert_msg(st == status, "%s: status %d, expected %d (%s)", path, st, status, msg);
    ck_assert_ptr_null(f);
    ck_assert_msg(strstr(msg, path), "message does not name the file: %s", msg);
    ck_assert_msg(!part1 || strstr(msg, part1), "message lacks \"%s\": %s", part1, msg);
    ck_assert_msg(!part2 || strstr(msg, part2), "message lacks \"%s\": %s", part2, msg);
}

static void expect_header_fail(const char *header, size_t data_len, sbt_status status,
                               const char *part1, const char *part2)
{
    const char *path = tmp("bad.safetensors");
    write_header(path, header, data_len);
    expect_fail(path, status, part1, part2);
}

static uint32_t f32_bits(float x)
{
    uint32_t b;
    memcpy(&b, &x, sizeof b);
    return b;
}

/* ==== the small fixture ================================================================= */

START_TEST(small_fixture_reads)
{
    sbti_st_file *f = NULL;
    ck_assert_int_eq(sbti_st_open(&f, SMALL), SBT_OK);
    ck_assert_str_eq(sbti_st_path(f), SMALL);
    ck_assert_uint_eq(sbti_st_count(f), 5);
    /* data-offset order: the reference layout (F32 by name, then BF16, then F16) */
    const char *order[] = {"a.f32", "empty", "scalar", "b.bf16", "c.f16"};
    for (size_t i = 0; i < N_OF(order); i++) {
        const sbti_st_tensor *t = sbti_st_at(f, i);
        ck_assert_str_eq(t->name, order[i]);
        ck_assert_ptr_eq(sbti_st_find(f, order[i]), t);
        ck_assert_uint_eq((uintptr_t)t->data % sbti_dtype_size(t->dtype), 0);
    }
    ck_assert_ptr_null(sbti_st_at(f, 5));
    ck_assert_ptr_null(sbti_st_find(f, "nope"));
    ck_assert_ptr_null(sbti_st_find(f, "__metadata__"));
    ck_assert_str_eq(sbti_st_metadata(f, "format"), "pt");
    ck_assert_ptr_null(sbti_st_metadata(f, "other"));

    const sbti_st_tensor *a = sbti_st_find(f, "a.f32");
    ck_assert_int_eq(a->dtype, SBTI_F32);
    ck_assert_int_eq(a->ndim, 2);
    ck_assert_int_eq(a->shape[0], 2);
    ck_assert_int_eq(a->shape[1], 3);
    ck_assert_int_eq(a->numel, 6);
    ck_assert_uint_eq(a->nbytes, 24);
    float v[9]; /* [9]: the largest tensor */
    sbti_st_to_f32(v, a);
    const float want_a[] = {0.0f, 1.0f, -2.5f, 3.25f, 1e-40f, 65504.0f};
    for (int i = 0; i < 6; i++)
        ck_assert_uint_eq(f32_bits(v[i]), f32_bits(want_a[i]));

    const sbti_st_tensor *s = sbti_st_find(f, "scalar");
    ck_assert_int_eq(s->ndim, 0);
    ck_assert_int_eq(s->numel, 1);
    sbti_st_to_f32(v, s);
    ck_assert(v[0] == 42.0f);

    const sbti_st_tensor *e = sbti_st_find(f, "empty");
    ck_assert_int_eq(e->numel, 0);
    ck_assert_uint_eq(e->nbytes, 0);
    ck_assert_int_eq(e->shape[0], 0);
    ck_assert_int_eq(e->shape[1], 4);

    const sbti_st_tensor *b = sbti_st_find(f, "b.bf16");
    ck_assert_int_eq(b->dtype, SBTI_BF16);
    sbti_st_to_f32(v, b);
    ck_assert(v[0] == 1.0f && v[1] == -2.5f && isinf(v[2]) && v[2] > 0);
    ck_assert(v[3] == ldexpf(1.0f, -133));
    ck_assert_uint_eq(f32_bits(v[4]), 0x7FC10000u); /* the NaN payload survives */

    const sbti_st_tensor *c = sbti_st_find(f, "c.f16");
    ck_assert_int_eq(c->dtype, SBTI_F16);
    sbti_st_to_f32(v, c);
    ck_assert(v[0] == 1.0f && v[1] == ldexpf(1.0f, -24) && v[2] == ldexpf(1023.0f, -24));
    ck_assert(v[3] == 65504.0f && isinf(v[4]) && v[4] > 0 && isinf(v[5]) && v[5] < 0);
    ck_assert_uint_eq(f32_bits(v[6]), 0x80000000u);
    ck_assert_uint_eq(f32_bits(v[7]), 0x7FC02000u);
    ck_assert(v[8] == -2.5f);
    sbti_st_close(f);
    sbti_st_close(NULL);
}
END_TEST

/* ==== conversions ======================================================================= */

/* The value of an f16 bit pattern, by the textbook formula. */
static float f16_reference(uint16_t h)
{
    int sign = h >> 15, exp = (h >> 10) & 31, man = h & 1023;
    float mag = exp == 0 ? ldexpf((float)man, -24)
                : exp == 31 ? (man ? NAN : INFINITY)
                            : ldexpf((float)(man + 1024), exp - 25);
    return sign ? -mag : mag;
}

START_TEST(f16_and_bf16_convert_every_pattern_exactly)
{
    enum { N = 65536 };
    uint16_t *bits = malloc(N * sizeof *bits); /* [N] every 16-bit pattern */
    float *out = malloc(N * sizeof *out);      /* [N] */
    for (uint32_t i = 0; i < N; i++)
        bits[i] = (uint16_t)i; /* little-endian host: the bytes are the file's */
    sbti_f16_to_f32(out, bits, N);
    for (uint32_t i = 0; i < N; i++) {
        float want = f16_reference((uint16_t)i);
        if (isnan(want))
            ck_assert_msg(isnan(out[i]) && (f32_bits(out[i]) >> 31) == (i >> 15) &&
                              ((f32_bits(out[i]) >> 13) & 1023) == (i & 1023),
                          "f16 %04x", i);
        else
            ck_assert_msg(f32_bits(out[i]) == f32_bits(want), "f16 %04x: %a, expected %a", i,
                          (double)out[i], (double)want);
    }
    sbti_bf16_to_f32(out, bits, N);
    for (uint32_t i = 0; i < N; i++)
        ck_assert_uint_eq(f32_bits(out[i]), i << 16);
    free(bits);
    free(out);
}
END_TEST

START_TEST(f32_to_bf16_rounds_to_nearest_even)
{
    const uint32_t in[] = {
        0x3F800000u, /* 1.0                                */
        0x3F808000u, /* halfway 1.0 / next: even is 0x3F80 */
        0x3F818000u, /* halfway 0x3F81 / 0x3F82: 0x3F82     */
        0x3F808001u, /* just above halfway: up              */
        0x7F7FFFFFu, /* FLT_MAX rounds to inf               */
        0xFF800000u, /* -inf                                */
        0x7F800001u, /* signalling NaN: stays NaN, quiet    */
        0x00000001u, /* tiny subnormal: 0                   */
        0x80000000u, /* -0                                  */
    };
    const uint16_t want[] = {0x3F80, 0x3F80, 0x3F82, 0x3F81, 0x7F80, 0xFF80, 0x7FC0, 0x0000, 0x8000};
    float f[N_OF(in)];
    uint16_t out[N_OF(in)];
    memcpy(f, in, sizeof in);
    sbti_f32_to_bf16(out, f, N_OF(in));
    for (size_t i = 0; i < N_OF(in); i++)
        ck_assert_msg(out[i] == want[i], "%08x -> %04x, expected %04x", in[i], out[i], want[i]);
}
END_TEST

START_TEST(conversions_agree_serial_and_parallel_and_unaligned)
{
    enum { N = 200003 }; /* above the parallel threshold, odd */
    unsigned char *raw = malloc(2 * N + 1);     /* [2N + 1]: the 16-bit values start at raw + 1 */
    float *big = malloc(N * sizeof *big);       /* [N] */
    float small[7];
    for (size_t i = 0; i < 2 * N + 1; i++)
        raw[i] = (unsigned char)(i * 2654435761u >> 13);
    sbti_f16_to_f32(big, raw + 1, N);
    for (size_t i = 0; i + 7 <= N; i += 40009) {
        sbti_f16_to_f32(small, raw + 1 + 2 * i, 7);
        ck_assert_mem_eq(small, big + i, sizeof small);
    }
    sbti_bf16_to_f32(big, raw + 1, N);
    for (size_t i = 0; i + 7 <= N; i += 40009) {
        sbti_bf16_to_f32(small, raw + 1 + 2 * i, 7);
        ck_assert_mem_eq(small, big + i, sizeof small);
    }
    unsigned char *back = malloc(2 * N); /* [2N] */
    sbti_f32_to_bf16(back, big, N);      /* bf16 -> f32 -> bf16 is the identity but for NaNs */
    for (size_t i = 0; i < N; i++)
        if (!isnan(big[i]))
            ck_assert_int_eq(back[2 * i] | back[2 * i + 1] << 8, raw[1 + 2 * i] | raw[2 + 2 * i] << 8);
    free(raw);
    free(big);
    free(back);
}
END_TEST

/* ==== writer ============================================================================ */

/* The fixture's tensors as writer entries (pointing into f). */
static size_t entries_of(const sbti_st_file *f, sbti_st_entry *e)
{
    size_t n = sbti_st_count(f);
    for (size_t i = 0; i < n; i++) {
        const sbti_st_tensor *t = sbti_st_at(f, n - 1 - i); /* reversed: the writer sorts */
        e[i] = (sbti_st_entry){t->name, t->dtype, t->ndim, t->shape, t->data};
    }
    return n;
}

START_TEST(writer_reproduces_the_reference_layout_byte_for_byte)
{
    sbti_st_file *f = NULL;
    ck_assert_int_eq(sbti_st_open(&f, SMALL), SBT_OK);
    sbti_st_entry e[8];
    size_t n = entries_of(f, e);
    const char *meta[] = {"format", "pt"};
    const char *out = tmp("rewrite.safetensors");
    ck_assert_int_eq(sbti_st_write(out, e, n, meta, 1), SBT_OK);
    sbti_st_close(f);
    size_t na, nb;
    unsigned char *a = read_bytes(SMALL, &na), *b = read_bytes(out, &nb);
    ck_assert_uint_eq(na, nb);
    ck_assert_mem_eq(a, b, na);
    free(a);
    free(b);
}
END_TEST

START_TEST(writer_round_trips_values_and_handles_edge_shapes)
{
    float w[3][4]; /* [3, 4] */
    uint16_t h[5]; /* [5] bf16 */
    for (int i = 0; i < 12; i++)
        w[i / 4][i % 4] = (float)i * 0.25f - 1.0f;
    for (int i = 0; i < 5; i++)
        h[i] = (uint16_t)(0x4000 + i);
    int64_t s_w[] = {3, 4}, s_h[] = {5}, s_e[] = {2, 0, 7};
    float one = 1.5f;
    sbti_st_entry e[] = {
        {"z.bf16", SBTI_BF16, 1, s_h, h},
        {"m.weight", SBTI_F32, 2, s_w, w},
        {"empty", SBTI_F16, 3, s_e, NULL},
        {"one", SBTI_F32, 0, NULL, &one},
        {"\xc3\xa9t\xc3\xa9 \"quoted\"\\", SBTI_F32, 1, (int64_t[]){1}, &one},
    };
    const char *out = tmp("roundtrip.safetensors");
    ck_assert_int_eq(sbti_st_write(out, e, N_OF(e), NULL, 0), SBT_OK);
    sbti_st_file *f = NULL;
    ck_assert_int_eq(sbti_st_open(&f, out), SBT_OK);
    ck_assert_uint_eq(sbti_st_count(f), N_OF(e));
    ck_assert_ptr_null(sbti_st_metadata(f, "format"));
    for (size_t i = 0; i < N_OF(e); i++) {
        const sbti_st_tensor *t = sbti_st_find(f, e[i].name);
        ck_assert_ptr_nonnull(t);
        ck_assert_int_eq(t->dtype, e[i].dtype);
        ck_assert_int_eq(t->ndim, e[i].ndim);
        for (int d = 0; d < t->ndim; d++)
            ck_assert_int_eq(t->shape[d], e[i].shape[d]);
        ck_assert_uint_eq((uintptr_t)t->data % sbti_dtype_size(t->dtype), 0);
        if (t->nbytes)
            ck_assert_mem_eq(t->data, e[i].data, t->nbytes);
    }
    /* the header length is a multiple of 8 */
    size_t n;
    unsigned char *bytes = read_bytes(out, &n);
    ck_assert_uint_eq(bytes[0] % 8, 0);
    free(bytes);
    sbti_st_close(f);
}
END_TEST

/* fill for the streaming writer: tensor i holds i + 0.5 everywhere; index 2 fails. */
static sbt_status fill_const(void *user, size_t i, void *buf)
{
    int *calls = user;
    ++*calls;
    if (i == 2)
        return sbti_fail(SBT_E_IO, "fill %zu failed", i);
    float v = (float)i + 0.5f;
    for (int k = 0; k < 6; k++)
        memcpy((char *)buf + 4 * k, &v, 4);
    return SBT_OK;
}

/* Streaming gives the same bytes as the in-memory writer; a failing fill leaves no file. */
START_TEST(streaming_writer)
{
    static const int64_t shape[2] = {2, 3};
    float a[6], b[6];
    for (int k = 0; k < 6; k++)
        a[k] = 0.5f, b[k] = 1.5f;
    sbti_st_entry mem[2] = {{"w.a", SBTI_F32, 2, shape, a}, {"w.b", SBTI_F32, 2, shape, b}};
    sbti_st_entry lazy[3] = {{"w.a", SBTI_F32, 2, shape, NULL}, {"w.b", SBTI_F32, 2, shape, NULL},
                             {"w.c", SBTI_F32, 2, shape, NULL}};
    ck_assert_int_eq(sbti_st_write(tmp("mem"), mem, 2, NULL, 0), SBT_OK);
    int calls = 0;
    ck_assert_int_eq(sbti_st_write_stream(tmp("lazy"), lazy, 2, NULL, 0, fill_const, &calls),
                     SBT_OK);
    ck_assert_int_eq(calls, 2);
    size_t n1, n2;
    unsigned char *x = read_bytes(tmp("mem"), &n1), *y = read_bytes(tmp("lazy"), &n2);
    ck_assert(n1 == n2 && memcmp(x, y, n1) == 0);
    free(x);
    free(y);
    unlink(tmp("fail"));
    ck_assert_int_eq(sbti_st_write_stream(tmp("fail"), lazy, 3, NULL, 0, fill_const, &calls),
                     SBT_E_IO);
    ck_assert_int_ne(access(tmp("fail"), F_OK), 0);
    /* without fill, missing data is refused */
    ck_assert_int_eq(sbti_st_write(tmp("fail"), lazy, 1, NULL, 0), SBT_E_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(sbt_last_error(), "has no data"));
}
END_TEST

START_TEST(writer_rejects_bad_entries_and_leaves_no_file)
{
    float x[2] = {1, 2};
    int64_t two[] = {2}, neg[] = {-1}, huge[] = {INT64_C(1) << 62};
    const char *out = tmp("never.safetensors");
    unlink(out);
    struct {
        sbti_st_entry e[2];
        size_t n;
        const char *msg;
    } cases[] = {
        {{{"a", SBTI_F32, 1, two, x}, {"a", SBTI_F16, 1, two, x}}, 2, "duplicate tensor name 'a'"},
        {{{"__metadata__", SBTI_F32, 1, two, x}}, 1, "__metadata__"},
        {{{"a", SBTI_F32, 1, neg, x}}, 1, "bad dimension -1"},
        {{{"a", SBTI_F32, 1, huge, x}}, 1, "bad dimension"},
        {{{"a", SBTI_F32, 1, two, NULL}}, 1, "has no data"},
        {{{"a", (sbti_dtype)7, 1, two, x}}, 1, "bad name, dtype or rank"},
        {{{"a", SBTI_F32, 9, two, x}}, 1, "bad name, dtype or rank"},
        {{{NULL, SBTI_F32, 1, two, x}}, 1, "has no name"},
        {{{"\xff", SBTI_F32, 1, two, x}}, 1, "not UTF-8"},
    };
    for (size_t i = 0; i < N_OF(cases); i++) {
        ck_assert_int_eq(sbti_st_write(out, cases[i].e, cases[i].n, NULL, 0), SBT_E_INVALID_ARGUMENT);
        ck_assert_msg(strstr(sbt_last_error(), cases[i].msg), "case %zu: %s", i, sbt_last_error());
        ck_assert_int_ne(access(out, F_OK), 0);
    }
    const char *bad_meta[] = {"format", NULL};
    ck_assert_int_eq(sbti_st_write(out, NULL, 0, bad_meta, 1), SBT_E_INVALID_ARGUMENT);
    ck_assert_int_eq(sbti_st_write(SBT_TEST_TMP_DIR "/no/such/dir/x.safetensors", NULL, 0, NULL, 0),
                     SBT_E_IO);
    ck_assert_ptr_nonnull(strstr(sbt_last_error(), "/no/such/dir/x.safetensors"));
    /* zero tensors: the reference's empty file, "{}" padded to 8 */
    ck_assert_int_eq(sbti_st_write(out, NULL, 0, NULL, 0), SBT_OK);
    size_t n;
    unsigned char *b = read_bytes(out, &n);
    ck_assert_uint_eq(n, 16);
    ck_assert_mem_eq(b, "\x08\0\0\0\0\0\0\0{}      ", 16);
    free(b);
    sbti_st_file *f = NULL;
    ck_assert_int_eq(sbti_st_open(&f, out), SBT_OK);
    ck_assert_uint_eq(sbti_st_count(f), 0);
    sbti_st_close(f);
}
END_TEST

/* ==== hostile files ===================================================================== */

START_TEST(missing_file_is_not_found)
{
    expect_fail(tmp("does-not-exist.safetensors"), SBT_E_NOT_FOUND, "No such file", NULL);
    expect_fail(SBT_TEST_TMP_DIR, SBT_E_IO, "not a regular file", NULL);
}
END_TEST

START_TEST(every_truncation_and_any_extra_byte_fail)
{
    size_t n;
    unsigned char *full = read_bytes(SMALL, &n);
    const char *path = tmp("truncated.safetensors");
    for (size_t k = 0; k < n; k++) {
        write_bytes(path, full, k);
        sbti_st_file *f = NULL;
        ck_assert_msg(sbti_st_open(&f, path) == SBT_E_PARSE, "prefix of %zu bytes: %s", k,
                      sbt_last_error());
        ck_assert_ptr_null(f);
        ck_assert_ptr_nonnull(strstr(sbt_last_error(), path));
    }
    unsigned char *more = malloc(n + 1);
    memcpy(more, full, n);
    more[n] = 0;
    write_bytes(path, more, n + 1);
    expect_fail(path, SBT_E_PARSE, "the last 1 bytes of the file belong to no tensor", NULL);
    free(more);
    free(full);
}
END_TEST

START_TEST(header_length_bounds)
{
    const char *path = tmp("hlen.safetensors");
    write_raw(path, 0, "{}", 0);
    expect_fail(path, SBT_E_PARSE, "header length 0 is too small", NULL);
    write_raw(path, 1, "{}", 0);
    expect_fail(path, SBT_E_PARSE, "header length 1 is too small", NULL);
    write_raw(path, 3, "{}", 0);
    expect_fail(path, SBT_E_PARSE, "runs past the end of the file", NULL);
    write_raw(path, 100000001, "{}", 0);
    expect_fail(path, SBT_E_PARSE, "over the limit", NULL);
    write_raw(path, UINT64_MAX, "{}", 0);
    expect_fail(path, SBT_E_PARSE, "header length 18446744073709551615", NULL);
    write_raw(path, UINT64_C(1) << 63, "{}", 0);
    expect_fail(path, SBT_E_PARSE, "over the limit", NULL);
    write_bytes(path, "\x02\0\0\0", 4);
    expect_fail(path, SBT_E_PARSE, "too short", NULL);
    /* the smallest valid file: "{}" and no data */
    write_raw(path, 2, "{}", 0);
    sbti_st_file *f = NULL;
    ck_assert_int_eq(sbti_st_open(&f, path), SBT_OK);
    ck_assert_uint_eq(sbti_st_count(f), 0);
    sbti_st_close(f);
}
END_TEST

START_TEST(header_json_must_be_an_object)
{
    expect_header_fail("not json", 0, SBT_E_PARSE, "not a JSON object", NULL);
    expect_header_fail("[1, 2, 3]  ", 0, SBT_E_PARSE, "not a JSON object", NULL);
    expect_header_fail(" {}", 0, SBT_E_PARSE, "must start with '{'", NULL);
    expect_header_fail("{\"a\": }", 0, SBT_E_PARSE, "header JSON", NULL);
    expect_header_fail("{} trailing", 0, SBT_E_PARSE, "header JSON", NULL);
    const char *path = tmp("pad.safetensors");
    write_raw_n(path, 4, "{}\0\0", 4, 0); /* NUL padding is not the format's */
    expect_fail(path, SBT_E_PARSE, "header JSON", NULL);
    expect_header_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                       "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                       8, SBT_E_PARSE, "duplicate", NULL);
    expect_header_fail("{\"a\\u0000b\":{}}", 0, SBT_E_PARSE, "header JSON", NULL);
    expect_header_fail("{\"\xff\":{}}", 0, SBT_E_PARSE, "header JSON", NULL);
    /* trailing spaces are the format's padding */
    write_header(path, "{\"x\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}    ", 4);
    sbti_st_file *f = NULL;
    ck_assert_int_eq(sbti_st_open(&f, path), SBT_OK);
    sbti_st_close(f);
}
END_TEST

START_TEST(wrong_types_name_the_tensor_and_field)
{
    static const struct {
        const char *header;
        const char *part;
    } cases[] = {
        {"{\"w\":5}", "tensor 'w' must be an object"},
        {"{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", "\"dtype\" is missing"},
        {"{\"w\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}", "\"dtype\" is not a string"},
        {"{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", "\"shape\" is missing"},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":4,\"data_offsets\":[0,4]}}", "\"shape\" is not an array"},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[\"4\"],\"data_offsets\":[0,4]}}", "\"shape\"[0]"},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[1.0],\"data_offsets\":[0,4]}}", "\"shape\"[0]"},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[1,-1],\"data_offsets\":[0,4]}}", "\"shape\"[1]"},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", "\"data_offsets\" is missing"},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", "\"data_offsets\" is malformed"},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", "malformed"},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,\"4\"]}}", "malformed"},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":{\"0\":4}}}", "malformed"},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", "malformed"},
        {"{\"w\":{\"dtype\":\"Q7\",\"shape\":[1],\"data_offsets\":[0,4]}}", "unknown dtype \"Q7\""},
        {"{\"__metadata__\":[\"pt\"]}", "\"__metadata__\" must be an object"},
        {"{\"__metadata__\":{\"format\":1}}", "\"__metadata__\" value \"format\""},
    };
    for (size_t i = 0; i < N_OF(cases); i++)
        expect_header_fail(cases[i].header, 4, SBT_E_PARSE, cases[i].part, NULL);
}
END_TEST

START_TEST(unsupported_dtypes_and_ranks)
{
    expect_header_fail("{\"ids\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8,
                       SBT_E_UNSUPPORTED, "tensor 'ids' has dtype I64", NULL);
    expect_header_fail("{\"q\":{\"dtype\":\"F8_E4M3\",\"shape\":[8],\"data_offsets\":[0,8]}}", 8,
                       SBT_E_UNSUPPORTED, "F8_E4M3", "'q'");
    expect_header_fail("{\"r\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],"
                       "\"data_offsets\":[0,4]}}", 4, SBT_E_UNSUPPORTED, "'r' has 9 dimensions",
                       NULL);
}
END_TEST

START_TEST(layout_errors)
{
    /* dtype/shape against the byte range */
    expect_header_fail("{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8,
                       SBT_E_PARSE, "'w': dtype F32 and shape [3] need 12 bytes", "hold 8");
    expect_header_fail("{\"w\":{\"dtype\":\"BF16\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", 16,
                       SBT_E_PARSE, "shape [2, 2] need 8 bytes", NULL);
    /* offsets out of range or reversed */
    expect_header_fail("{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8,
                       SBT_E_PARSE, "'w'", "run past the end of the data section (8 bytes)");
    expect_header_fail("{\"w\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,4]}}", 8,
                       SBT_E_PARSE, "end before they begin", NULL);
    expect_header_fail("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,"
                       "9223372036854775807]}}", 8, SBT_E_PARSE, "run past the end", NULL);
    /* overlap, gap, nothing at the start, trailing data */
    expect_header_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                       "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12,
                       SBT_E_PARSE, "tensors 'a' and 'b' overlap", NULL);
    expect_header_fail("{\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                       "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8,
                       SBT_E_PARSE, "overlap", NULL);
    expect_header_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                       "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", 12,
                       SBT_E_PARSE, "data bytes [4, 8) before tensor 'b' belong to no tensor", NULL);
    expect_header_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8,
                       SBT_E_PARSE, "data bytes [0, 4)", NULL);
    expect_header_fail("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 6,
                       SBT_E_PARSE, "the last 2 bytes", NULL);
    /* header order does not matter, only the offsets do; zero-size tensors share offsets */
    const char *path = tmp("order.safetensors");
    write_header(path, "{\"z\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[8,12]},"
                       "\"e1\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,8]},"
                       "\"e2\":{\"dtype\":\"F32\",\"shape\":[5,0],\"data_offsets\":[8,8]},"
                       "\"y\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 12);
    sbti_st_file *f = NULL;
    ck_assert_int_eq(sbti_st_open(&f, path), SBT_OK);
    ck_assert_str_eq(sbti_st_at(f, 0)->name, "y");
    ck_assert_str_eq(sbti_st_at(f, 3)->name, "z");
    ck_assert_ptr_eq(sbti_st_find(f, "z")->data, (const unsigned char *)sbti_st_find(f, "y")->data + 8);
    sbti_st_close(f);
}
END_TEST

START_TEST(absurd_dimensions)
{
    expect_header_fail("{\"w\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904],"
                       "\"data_offsets\":[0,4]}}", 4, SBT_E_PARSE, "'w': dimension "
                       "4611686018427387904 of \"shape\" is absurd", NULL);
    expect_header_fail("{\"w\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,0],"
                       "\"data_offsets\":[0,0]}}", 0, SBT_E_PARSE, "absurd", NULL);
    expect_header_fail("{\"w\":{\"dtype\":\"F32\",\"shape\":[1099511627776,1099511627776],"
                       "\"data_offsets\":[0,4]}}", 4, SBT_E_PARSE, "more elements than", NULL);
    expect_header_fail("{\"w\":{\"dtype\":\"F32\",\"shape\":[1048576,1048576,1048576],"
                       "\"data_offsets\":[0,4]}}", 4, SBT_E_PARSE, "more elements than", NULL);
    expect_header_fail("{\"w\":{\"dtype\":\"F32\",\"shape\":[99999999999999999999],"
                       "\"data_offsets\":[0,4]}}", 4, SBT_E_PARSE, "header JSON", NULL);
    /* large but consistent: the size check catches it */
    expect_header_fail("{\"w\":{\"dtype\":\"F32\",\"shape\":[1048576,1048576],"
                       "\"data_offsets\":[0,4]}}", 4, SBT_E_PARSE, "need 4398046511104 bytes", NULL);
}
END_TEST

/* ==== checkpoint sets =================================================================== */

START_TEST(sharded_checkpoint_opens_each_shard_once)
{
    sbti_st_set *s = NULL;
    ck_assert_int_eq(sbti_st_set_open_dir(&s, DATA "/sharded"), SBT_OK);
    ck_assert_uint_eq(sbti_st_set_count(s), 3);
    const char *names[] = {"lm_head.weight", "model.embed_tokens.weight", "model.norm.weight"};
    for (size_t i = 0; i < 3; i++)
        ck_assert_str_eq(sbti_st_set_at(s, i)->name, names[i]);
    ck_assert_ptr_null(sbti_st_set_at(s, 3));
    const sbti_st_tensor *t = NULL;
    int64_t shape[] = {4, 2};
    ck_assert_int_eq(sbti_st_set_get(&t, s, "lm_head.weight", 2, shape), SBT_OK);
    ck_assert_int_eq(t->dtype, SBTI_F16);
    float v[8]; /* [4, 2] */
    sbti_st_to_f32(v, t);
    ck_assert(v[0] == 1.0f && v[1] == 1.0f + 1.0f / 1024);
    ck_assert_int_eq(sbti_st_set_get(&t, s, "model.embed_tokens.weight", 2, shape), SBT_OK);
    ck_assert_int_eq(t->dtype, SBTI_BF16);
    ck_assert_int_eq(sbti_st_set_get(&t, s, "model.norm.weight", -1, NULL), SBT_OK);
    ck_assert_int_eq(t->numel, 2);

    ck_assert_int_eq(sbti_st_set_get(&t, s, "model.norm.weight", 2, shape), SBT_E_PARSE);
    ck_assert_ptr_null(t);
    ck_assert_ptr_nonnull(strstr(sbt_last_error(), "'model.norm.weight' has shape [2], expected [4, 2]"));
    ck_assert_ptr_nonnull(strstr(sbt_last_error(), "model.safetensors.index.json"));
    ck_assert_int_eq(sbti_st_set_get(&t, s, "model.layers.0.mlp.up_proj.weight", -1, NULL),
                     SBT_E_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(sbt_last_error(), "no tensor 'model.layers.0.mlp.up_proj.weight'"));
    sbti_st_set_close(s);
    sbti_st_set_close(NULL);
}
END_TEST

START_TEST(single_file_checkpoint_folder)
{
    const char *dir = tmp("single");
    mkdir(dir, 0777);
    char path[600];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    size_t n;
    unsigned char *b = read_bytes(SMALL, &n);
    write_bytes(path, b, n);
    free(b);
    sbti_st_set *s = NULL;
    ck_assert_int_eq(sbti_st_set_open_dir(&s, dir), SBT_OK);
    ck_assert_uint_eq(sbti_st_set_count(s), 5);
    ck_assert_str_eq(sbti_st_set_at(s, 0)->name, "a.f32"); /* name order */
    ck_assert_str_eq(sbti_st_set_at(s, 4)->name, "scalar");
    ck_assert_ptr_nonnull(sbti_st_set_find(s, "c.f16"));
    sbti_st_set_close(s);
    unlink(path);
    ck_assert_int_eq(sbti_st_set_open_dir(&s, dir), SBT_E_NOT_FOUND);
    ck_assert_ptr_null(s);
    ck_assert_ptr_nonnull(strstr(sbt_last_error(), "no model.safetensors or model.safetensors.index.json"));
}
END_TEST

/* A folder "<tmp>/idx" with the fixture's two shards and the given index text. */
static const char *index_with(const char *text)
{
    static char index[600];
    const char *dir = tmp("idx");
    mkdir(dir, 0777);
    const char *shards[] = {"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"};
    for (int i = 0; i < 2; i++) {
        char from[600], to[600];
        snprintf(from, sizeof from, "%s/sharded/%s", DATA, shards[i]);
        snprintf(to, sizeof to, "%s/%s", dir, shards[i]);
        size_t n;
        unsigned char *b = read_bytes(from, &n);
        write_bytes(to, b, n);
        free(b);
    }
    snprintf(index, sizeof index, "%s/model.safetensors.index.json", dir);
    write_bytes(index, text, strlen(text));
    return index;
}

static void expect_index_fail(const char *text, sbt_status status, const char *part1,
                              const char *part2)
{
    const char *index = index_with(text);
    sbti_st_set *s = (sbti_st_set *)&s;
    sbt_status st = sbti_st_set_open_index(&s, index);
    const char *msg = sbt_last_error();
    ck_assert_msg(st == status, "status %d, expected %d: %s", st, status, msg);
    ck_assert_ptr_null(s);
    ck_assert_msg(strstr(msg, index), "message does not name the index: %s", msg);
    ck_assert_msg(!part1 || strstr(msg, part1), "message lacks \"%s\": %s", part1, msg);
    ck_assert_msg(!part2 || strstr(msg, part2), "message lacks \"%s\": %s", part2, msg);
}

START_TEST(broken_indexes)
{
    expect_index_fail("{\"weight_map\": {\"x\": \"model-00003-of-00003.safetensors\"}}",
                      SBT_E_NOT_FOUND, "tensor 'x' is mapped to shard model-00003-of-00003",
                      "No such file");
    expect_index_fail("{\"weight_map\": {\"lm_head.weight\": \"model-00002-of-00002.safetensors\","
                      " \"model.norm.weight\": \"model-00002-of-00002.safetensors\"}}",
                      SBT_E_NOT_FOUND, "'model.norm.weight' is mapped to shard "
                      "model-00002-of-00002.safetensors, which does not hold it", NULL);
    expect_index_fail("{\"metadata\": {}}", SBT_E_PARSE, "\"weight_map\" is missing", NULL);
    expect_index_fail("{\"weight_map\": []}", SBT_E_PARSE, "\"weight_map\" is not an object", NULL);
    expect_index_fail("{\"weight_map\": {}, \"metadata\": 3}", SBT_E_PARSE, "\"metadata\"", NULL);
    expect_index_fail("{\"weight_map\": {\"x\": 1}}", SBT_E_PARSE, "weight_map[\"x\"]", NULL);
    expect_index_fail("{\"weight_map\": {\"x\": \"../sharded/model-00002-of-00002.safetensors\"}}",
                      SBT_E_PARSE, "weight_map[\"x\"]", "file name");
    expect_index_fail("{\"weight_map\": {\"x\": \"\"}}", SBT_E_PARSE, "weight_map[\"x\"]", NULL);
    expect_index_fail("{\"weight_map\": {\"x\": \"model.safetensors.index.json\"}}", SBT_E_PARSE,
                      "tensor 'x' is mapped to shard model.safetensors.index.json", "header");
    expect_index_fail("{\"weight_map\": {\"x\": \"a\", \"x\": \"b\"}}", SBT_E_PARSE, "duplicate",
                      NULL);
    expect_index_fail("{\"weight_map\": ", SBT_E_PARSE, NULL, NULL);
    expect_index_fail("[]", SBT_E_PARSE, "not a JSON object", NULL);
    sbti_st_set *s = NULL;
    ck_assert_int_eq(sbti_st_set_open_index(&s, tmp("nope.index.json")), SBT_E_NOT_FOUND);
    ck_assert_int_eq(sbti_st_set_open_file(&s, tmp("nope.safetensors")), SBT_E_NOT_FOUND);
    /* an empty map is a checkpoint with no tensors */
    ck_assert_int_eq(sbti_st_set_open_index(&s, index_with("{\"weight_map\": {}}")), SBT_OK);
    ck_assert_uint_eq(sbti_st_set_count(s), 0);
    sbti_st_set_close(s);
}
END_TEST

static Suite *safetensors_suite(void)
{
    Suite *s = suite_create("safetensors");
    TCase *tc = tcase_create("read");
    tcase_add_test(tc, small_fixture_reads);
    tcase_add_test(tc, f16_and_bf16_convert_every_pattern_exactly);
    tcase_add_test(tc, f32_to_bf16_rounds_to_nearest_even);
    tcase_add_test(tc, conversions_agree_serial_and_parallel_and_unaligned);
    suite_add_tcase(s, tc);
    tc = tcase_create("write");
    tcase_add_test(tc, writer_reproduces_the_reference_layout_byte_for_byte);
    tcase_add_test(tc, writer_round_trips_values_and_handles_edge_shapes);
    tcase_add_test(tc, writer_rejects_bad_entries_and_leaves_no_file);
    tcase_add_test(tc, streaming_writer);
    suite_add_tcase(s, tc);
    tc = tcase_create("hostile");
    tcase_add_test(tc, missing_file_is_not_found);
    tcase_add_test(tc, every_truncation_and_any_extra_byte_fail);
    tcase_add_test(tc, header_length_bounds);
    tcase_add_test(tc, header_json_must_be_an_object);
    tcase_add_test(tc, wrong_types_name_the_tensor_and_field);
    tcase_add_test(tc, unsupported_dtypes_and_ranks);
    tcase_add_test(tc, layout_errors);
    tcase_add_test(tc, absurd_dimensions);
    suite_add_tcase(s, tc);
    tc = tcase_create("sets");
    tcase_add_test(tc, sharded_checkpoint_opens_each_shard_once);
    tcase_add_test(tc, single_file_checkpoint_folder);
    tcase_add_test(tc, broken_indexes);
    suite_add_tcase(s, tc);
    return s;
}

SBT_CHECK_MAIN(safetensors_suite)
