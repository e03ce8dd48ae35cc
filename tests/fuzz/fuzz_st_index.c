/* fuzz_st_index.c — the safetensors shard index reader (sbti_st_set_open_index and
 * sbti_st_set_open_dir) on arbitrary bytes as model.safetensors.index.json, in a temp folder
 * that also holds the two shards of tests/golden/safetensors/sharded and, as
 * model.safetensors, tests/golden/safetensors/small.safetensors.
 *
 * Invariants: a failure is a documented status with a message and leaves *out NULL; a set
 * that opens lists its tensors in strictly increasing strcmp order (names are unique), finds
 * each by name, accepts each one's own shape, and its data converts to fp32 (ASan checks the
 * reads stay in the mapping); opening the folder gives the same set (the index wins over
 * model.safetensors). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/safetensors.h"

#include "fuzz.h"

static char dir[4096], index_path[4200];
static const char *const FILES[] = {"model-00001-of-00002.safetensors",
                                    "model-00002-of-00002.safetensors", "model.safetensors",
                                    "model.safetensors.index.json"};

static void write_file(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    FUZZ_CHECK(f != NULL);
    FUZZ_CHECK(size == 0 || fwrite(data, 1, size, f) == size);
    FUZZ_CHECK(fclose(f) == 0);
}

static void remove_dir(void)
{
    char path[4300];
    for (size_t i = 0; i < sizeof FILES / sizeof *FILES; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, FILES[i]);
        unlink(path);
    }
    rmdir(dir);
}

static void make_dir(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/fuzz_st_index.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    FUZZ_CHECK(mkdtemp(dir) != NULL);
    atexit(remove_dir);
    static const char *const from[] = {"/safetensors/sharded/model-00001-of-00002.safetensors",
                                       "/safetensors/sharded/model-00002-of-00002.safetensors",
                                       "/safetensors/small.safetensors"};
    for (int i = 0; i < 3; i++) {
        char src[4096], dst[4300];
        size_t len;
        snprintf(src, sizeof src, "%s%s", SBT_FUZZ_GOLDEN_DIR, from[i]);
        char *bytes = fuzz_slurp(src, &len);
        snprintf(dst, sizeof dst, "%s/%s", dir, FILES[i]);
        write_file(dst, bytes, len);
        free(bytes);
    }
    snprintf(index_path, sizeof index_path, "%s/%s", dir, FILES[3]);
}

static void check_set(const sbti_st_set *s)
{
    size_t count = sbti_st_set_count(s);
    FUZZ_CHECK(sbti_st_set_at(s, count) == NULL);
    for (size_t i = 0; i < count; i++) {
        const sbti_st_tensor *t = sbti_st_set_at(s, i);
        FUZZ_CHECK(t != NULL && t->name != NULL);
        if (i > 0)
            FUZZ_CHECK(strcmp(sbti_st_set_at(s, i - 1)->name, t->name) < 0);
        FUZZ_CHECK(sbti_st_set_find(s, t->name) == t);
        const sbti_st_tensor *got = NULL;
        FUZZ_CHECK(sbti_st_set_get(&got, s, t->name, t->ndim, t->shape) == SBT_OK && got == t);
        float *v = malloc(((size_t)t->numel ? (size_t)t->numel : 1) * sizeof *v);
        FUZZ_CHECK(v != NULL);
        sbti_st_to_f32(v, t);
        free(v);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir[0])
        make_dir();
    write_file(index_path, data, size);

    sbti_st_set *s = (sbti_st_set *)&s; /* not NULL: open must clear it */
    sbt_clear_error();
    sbt_status st = sbti_st_set_open_index(&s, index_path);
    if (st != SBT_OK) {
        FUZZ_CHECK_FAILURE(st);
        FUZZ_CHECK(st == SBT_E_PARSE || st == SBT_E_UNSUPPORTED || st == SBT_E_NOT_FOUND ||
                   st == SBT_E_IO || st == SBT_E_OUT_OF_MEMORY);
        FUZZ_CHECK(s == NULL);
    } else {
        check_set(s);
    }

    sbti_st_set *d = (sbti_st_set *)&d;
    sbt_status st_dir = sbti_st_set_open_dir(&d, dir);
    FUZZ_CHECK(st_dir == st);
    if (st_dir != SBT_OK) {
        FUZZ_CHECK(d == NULL);
    } else {
        FUZZ_CHECK(sbti_st_set_count(d) == sbti_st_set_count(s));
        for (size_t i = 0; i < sbti_st_set_count(d); i++)
            FUZZ_CHECK(strcmp(sbti_st_set_at(d, i)->name, sbti_st_set_at(s, i)->name) == 0);
        sbti_st_set_close(d);
    }
    if (st == SBT_OK)
        sbti_st_set_close(s);
    return 0;
}
