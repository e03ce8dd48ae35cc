/* fuzz_safetensors.c — the safetensors reader (lib/io/safetensors.h) on arbitrary bytes as a
 * .safetensors file. The reader maps a path, so the input goes into an in-memory file
 * (memfd_create, opened again through /proc/self/fd) or, where that is missing, a temp file.
 *
 * Invariants: a failure is a documented status with a message; a file that opens has tensors
 * that, in the order sbti_st_at gives, tile the data section exactly (no gap, no overlap,
 * nothing after) with the input's bytes, each with numel = the product of its shape and
 * nbytes = numel * the dtype's size; sbti_st_find finds each by name; sbti_st_to_f32 gives
 * what an independent conversion gives; the same file as a one-file set lists the tensors in
 * strcmp order and sbti_st_set_get accepts their shapes and refuses another. */
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "io/safetensors.h"

#include "fuzz.h"

static char tmp_path[4096];

static void remove_tmp(void)
{
    if (tmp_path[0])
        unlink(tmp_path);
}

/* A path whose content is now data[0..size). */
static const char *input_path(const uint8_t *data, size_t size)
{
    static int fd = -1;
    static char path[4096];
    if (fd < 0) {
#ifdef MFD_CLOEXEC
        fd = memfd_create("fuzz_safetensors", MFD_CLOEXEC);
        if (fd >= 0) {
            snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
            int probe = open(path, O_RDONLY | O_CLOEXEC);
            if (probe >= 0) {
                close(probe);
            } else { /* no /proc */
                close(fd);
                fd = -1;
            }
        }
#endif
        if (fd < 0) {
            const char *dir = getenv("TMPDIR");
            snprintf(tmp_path, sizeof tmp_path, "%s/fuzz_safetensors.XXXXXX",
                     dir && *dir ? dir : "/tmp");
            fd = mkstemp(tmp_path);
            FUZZ_CHECK(fd >= 0);
            atexit(remove_tmp);
            snprintf(path, sizeof path, "%s", tmp_path);
        }
    }
    FUZZ_CHECK(ftruncate(fd, 0) == 0);
    size_t done = 0;
    while (done < size) {
        ssize_t w = pwrite(fd, data + done, size - done, (off_t)done);
        FUZZ_CHECK(w > 0);
        done += (size_t)w;
    }
    return path;
}

static float half_to_float(uint16_t h)
{
    int sign = h >> 15, exp = h >> 10 & 0x1F, mant = h & 0x3FF;
    float v;
    if (exp == 0)
        v = ldexpf((float)mant, -24);
    else if (exp == 31)
        v = mant ? NAN : INFINITY;
    else
        v = ldexpf((float)(mant | 0x400), exp - 25);
    return sign ? -v : v;
}

static void check_values(const sbti_st_tensor *t)
{
    size_t n = (size_t)t->numel;
    float *got = malloc((n ? n : 1) * sizeof *got);
    FUZZ_CHECK(got != NULL);
    sbti_st_to_f32(got, t);
    const unsigned char *p = t->data;
    for (size_t i = 0; i < n; i++) {
        float want;
        if (t->dtype == SBTI_F32) {
            memcpy(&want, p + 4 * i, 4);
        } else {
            uint16_t h = (uint16_t)(p[2 * i] | p[2 * i + 1] << 8);
            if (t->dtype == SBTI_BF16) {
                uint32_t bits = (uint32_t)h << 16;
                memcpy(&want, &bits, 4);
            } else {
                want = half_to_float(h);
            }
        }
        if (isnan(want))
            FUZZ_CHECK(isnan(got[i]));
        else
            FUZZ_CHECK(memcmp(&want, &got[i], 4) == 0); /* the same bits: -0 is not 0 */
    }
    free(got);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = input_path(data, size);
    sbti_st_file *f = (sbti_st_file *)&f; /* not NULL: open must clear it */
    sbt_clear_error();
    sbt_status st = sbti_st_open(&f, path);
    if (st != SBT_OK) {
        FUZZ_CHECK_FAILURE(st);
        FUZZ_CHECK(st == SBT_E_PARSE || st == SBT_E_UNSUPPORTED || st == SBT_E_OUT_OF_MEMORY);
        FUZZ_CHECK(f == NULL);
        return 0;
    }
    FUZZ_CHECK(size >= 10);
    uint64_t header = 0;
    for (int i = 7; i >= 0; i--)
        header = header << 8 | data[i];
    FUZZ_CHECK(header >= 2 && header <= size - 8 && data[8] == '{');
    size_t at = 8 + (size_t)header; /* the data section's offset in the file */

    size_t count = sbti_st_count(f);
    FUZZ_CHECK(sbti_st_at(f, count) == NULL);
    const unsigned char *prev_end = NULL;
    for (size_t i = 0; i < count; i++) {
        const sbti_st_tensor *t = sbti_st_at(f, i);
        FUZZ_CHECK(t != NULL && t->name != NULL);
        FUZZ_CHECK(t->dtype == SBTI_F32 || t->dtype == SBTI_BF16 || t->dtype == SBTI_F16);
        FUZZ_CHECK(t->ndim >= 0 && t->ndim <= SBTI_ST_MAX_DIMS);
        int64_t numel = 1;
        for (int d = 0; d < t->ndim; d++) {
            FUZZ_CHECK(t->shape[d] >= 0 && t->shape[d] <= SBTI_ST_MAX_DIM);
            numel *= t->shape[d]; /* cannot overflow: the bytes are in the file */
        }
        FUZZ_CHECK(t->numel == numel);
        FUZZ_CHECK(t->nbytes == (size_t)numel * sbti_dtype_size(t->dtype));
        FUZZ_CHECK(prev_end == NULL || (const unsigned char *)t->data == prev_end);
        FUZZ_CHECK(t->nbytes <= size - at);
        FUZZ_CHECK(t->nbytes == 0 || memcmp(t->data, data + at, t->nbytes) == 0);
        at += t->nbytes;
        prev_end = (const unsigned char *)t->data + t->nbytes;
        FUZZ_CHECK(sbti_st_find(f, t->name) == t);
        check_values(t);
    }
    FUZZ_CHECK(at == size); /* nothing after the last tensor */
    (void)sbti_st_metadata(f, "format");
    sbti_st_close(f);

    /* the same file as a one-file set */
    sbti_st_set *s = NULL;
    st = sbti_st_set_open_file(&s, path);
    FUZZ_CHECK(st == SBT_OK && s != NULL);
    FUZZ_CHECK(sbti_st_set_count(s) == count);
    for (size_t i = 0; i < count; i++) {
        const sbti_st_tensor *t = sbti_st_set_at(s, i);
        FUZZ_CHECK(t != NULL);
        if (i > 0)
            FUZZ_CHECK(strcmp(sbti_st_set_at(s, i - 1)->name, t->name) < 0);
        const sbti_st_tensor *got = NULL;
        FUZZ_CHECK(sbti_st_set_get(&got, s, t->name, t->ndim, t->shape) == SBT_OK && got == t);
        FUZZ_CHECK(sbti_st_set_get(&got, s, t->name, -1, NULL) == SBT_OK && got == t);
        /* another shape: one dimension more for a scalar, else a different first one */
        int64_t other[SBTI_ST_MAX_DIMS] = {1};
        if (t->ndim > 0) {
            memcpy(other, t->shape, sizeof t->shape);
            other[0]++;
        }
        st = sbti_st_set_get(&got, s, t->name, t->ndim > 0 ? t->ndim : 1, other);
        FUZZ_CHECK(st == SBT_E_PARSE && got == NULL);
    }
    FUZZ_CHECK(sbti_st_set_at(s, count) == NULL);
    sbti_st_set_close(s);
    return 0;
}
