/* safetensors.c — .safetensors: mmap reader with full header validation, shard sets,
 * fp16/bf16 conversions, and the atomic writer (reference layout). */
#include "io/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "io/atomic_file.h"

#define MAX_HEADER UINT64_C(100000000)       /* the reference reader's limit (100 MB)  */
#define MAX_NUMEL (INT64_MAX / 8)            /* so numel * element size cannot overflow */
#define MAX_INDEX_BYTES (64L * 1024 * 1024)  /* a model.safetensors.index.json         */
#define PARALLEL_MIN 65536                   /* elements below which a conversion is serial */

static const char *const dtype_names[] = {"F32", "BF16", "F16"};
static const size_t dtype_sizes[] = {4, 2, 2};
/* The reference library's other dtypes: valid files this build cannot use. */
static const char *const other_dtypes[] = {"BOOL", "U8", "I8", "I16", "U16", "I32", "U32",
                                           "I64", "U64", "F64", "F8_E4M3", "F8_E5M2",
                                           "F8_E8M0", "F4", "F6_E2M3", "F6_E3M2", "C64"};

size_t sbti_dtype_size(sbti_dtype dtype) { return dtype_sizes[dtype]; }
const char *sbti_dtype_name(sbti_dtype dtype) { return dtype_names[dtype]; }

struct sbti_st_file {
    char *path;
    const unsigned char *map; /* [map_size], the whole file */
    size_t map_size;
    json_t *header;           /* owns the tensor names and the metadata strings */
    size_t count;
    sbti_st_tensor *tensors;  /* [count], data-offset order */
    const sbti_st_tensor **by_name; /* [count], strcmp order */
};

struct sbti_st_set {
    char *where;                    /* the index or the file, for messages */
    size_t n_files;
    sbti_st_file **files;           /* [n_files] */
    size_t count;
    const sbti_st_tensor **by_name; /* [count], strcmp order */
};

/* ==== reader ============================================================================ */

static void shape_str(char *buf, size_t size, int ndim, const int64_t *shape)
{
    size_t at = (size_t)snprintf(buf, size, "[");
    for (int d = 0; d < ndim && at < size; d++)
        at += (size_t)snprintf(buf + at, size - at, "%s%lld", d ? ", " : "", (long long)shape[d]);
    if (at < size)
        snprintf(buf + at, size - at, "]");
}

static int cmp_name(const void *a, const void *b)
{
    const sbti_st_tensor *x = *(const sbti_st_tensor *const *)a;
    const sbti_st_tensor *y = *(const sbti_st_tensor *const *)b;
    return strcmp(x->name, y->name);
}

static int cmp_offset(const void *a, const void *b)
{
    const sbti_st_tensor *x = a, *y = b;
    uintptr_t px = (uintptr_t)x->data, py = (uintptr_t)y->data;
    if (px != py)
        return px < py ? -1 : 1;
    return (x->nbytes > y->nbytes) - (x->nbytes < y->nbytes);
}

static sbt_status map_file(sbti_st_file *f)
{
    int fd = open(f->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        return sbti_fail(e == ENOENT ? SBT_E_NOT_FOUND : SBT_E_IO, "cannot open %s: %s", f->path,
                         strerror(e));
    }
    struct stat st;
    int e = fstat(fd, &st) != 0 ? errno : 0;
    if (e || !S_ISREG(st.st_mode)) {
        const char *why = e ? strerror(e) : "not a regular file";
        close(fd);
        return sbti_fail(SBT_E_IO, "cannot read %s: %s", f->path, why);
    }
    if (st.st_size < 8) {
        close(fd);
        return sbti_fail(SBT_E_PARSE, "%s: %lld bytes is too short for a safetensors file (the "
                         "header length alone takes 8)", f->path, (long long)st.st_size);
    }
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    e = errno;
    close(fd);
    if (map == MAP_FAILED)
        return sbti_fail(SBT_E_IO, "cannot map %s: %s", f->path, strerror(e));
    f->map = map;
    f->map_size = (size_t)st.st_size;
    return SBT_OK;
}

static sbt_status check_metadata(const sbti_st_file *f, json_t *meta)
{
    const char *key;
    json_t *v;
    if (json_is_null(meta))
        return SBT_OK;
    if (!json_is_object(meta))
        return sbti_fail(SBT_E_PARSE, "%s: \"__metadata__\" must be an object of strings", f->path);
    json_object_foreach(meta, key, v) {
        if (!json_is_string(v))
            return sbti_fail(SBT_E_PARSE, "%s: \"__metadata__\" value \"%s\" must be a string",
                             f->path, key);
    }
    return SBT_OK;
}

static sbt_status parse_dtype(const sbti_st_file *f, const char *name, const char *s,
                              sbti_dtype *out)
{
    for (int d = 0; d < 3; d++)
        if (strcmp(s, dtype_names[d]) == 0) {
            *out = (sbti_dtype)d;
            return SBT_OK;
        }
    for (size_t i = 0; i < sizeof other_dtypes / sizeof *other_dtypes; i++)
        if (strcmp(s, other_dtypes[i]) == 0)
            return sbti_fail(SBT_E_UNSUPPORTED, "%s: tensor '%s' has dtype %s; only F32, BF16 and "
                             "F16 are supported", f->path, name, s);
    return sbti_fail(SBT_E_PARSE, "%s: tensor '%s': unknown dtype \"%s\"", f->path, name, s);
}

static sbt_status parse_shape(const sbti_st_file *f, const char *name, json_t *shape,
                              sbti_st_tensor *t)
{
    if (!json_is_array(shape))
        return sbti_fail(SBT_E_PARSE, "%s: tensor '%s': \"shape\" is %s; it must be an array of "
                         "non-negative integers", f->path, name,
                         shape ? "not an array" : "missing");
    size_t rank = json_array_size(shape);
    if (rank > SBTI_ST_MAX_DIMS)
        return sbti_fail(SBT_E_UNSUPPORTED, "%s: tensor '%s' has %zu dimensions; at most %d are "
                         "supported", f->path, name, rank, SBTI_ST_MAX_DIMS);
    t->ndim = (int)rank;
    t->numel = 1;
    for (size_t d = 0; d < rank; d++) {
        json_t *v = json_array_get(shape, d);
        if (!json_is_integer(v) || json_integer_value(v) < 0)
            return sbti_fail(SBT_E_PARSE, "%s: tensor '%s': \"shape\"[%zu] must be a "
                             "non-negative integer", f->path, name, d);
        int64_t dim = (int64_t)json_integer_value(v);
        if (dim > SBTI_ST_MAX_DIM)
            return sbti_fail(SBT_E_PARSE, "%s: tensor '%s': dimension %lld of \"shape\" is absurd "
                             "(more than 2^40)", f->path, name, (long long)dim);
        if (dim != 0 && t->numel > MAX_NUMEL / dim)
            return sbti_fail(SBT_E_PARSE, "%s: tensor '%s': \"shape\" has more elements than "
                             "64-bit sizes can hold", f->path, name);
        t->shape[d] = dim;
        t->numel *= dim;
    }
    return SBT_OK;
}

/* Fills t from one header entry; t->data and t->nbytes hold the checked byte range. */
static sbt_status parse_entry(const sbti_st_file *f, const char *name, json_t *v,
                              const unsigned char *data, uint64_t data_len, sbti_st_tensor *t)
{
    t->name = name;
    if (!json_is_object(v))
        return sbti_fail(SBT_E_PARSE, "%s: tensor '%s' must be an object with \"dtype\", "
                         "\"shape\" and \"data_offsets\"", f->path, name);
    json_t *dtype = json_object_get(v, "dtype");
    if (!json_is_string(dtype))
        return sbti_fail(SBT_E_PARSE, "%s: tensor '%s': \"dtype\" is %s; it must be a string",
                         f->path, name, dtype ? "not a string" : "missing");
    sbt_status st = parse_dtype(f, name, json_string_value(dtype), &t->dtype);
    if (st == SBT_OK)
        st = parse_shape(f, name, json_object_get(v, "shape"), t);
    if (st != SBT_OK)
        return st;

    json_t *off = json_object_get(v, "data_offsets");
    json_t *b = json_array_get(off, 0), *e = json_array_get(off, 1);
    if (!json_is_array(off) || json_array_size(off) != 2 || !json_is_integer(b) ||
        !json_is_integer(e) || json_integer_value(b) < 0 || json_integer_value(e) < 0)
        return sbti_fail(SBT_E_PARSE, "%s: tensor '%s': \"data_offsets\" is %s; it must be "
                         "[begin, end], two non-negative integers", f->path, name,
                         off ? "malformed" : "missing");
    uint64_t begin = (uint64_t)json_integer_value(b), end = (uint64_t)json_integer_value(e);
    if (end < begin)
        return sbti_fail(SBT_E_PARSE, "%s: tensor '%s': \"data_offsets\" [%llu, %llu] end "
                         "before they begin", f->path, name, (unsigned long long)begin,
                         (unsigned long long)end);
    if (end > data_len)
        return sbti_fail(SBT_E_PARSE, "%s: tensor '%s': \"data_offsets\" [%llu, %llu] run past "
                         "the end of the data section (%llu bytes)", f->path, name,
                         (unsigned long long)begin, (unsigned long long)end,
                         (unsigned long long)data_len);
    uint64_t need = (uint64_t)t->numel * dtype_sizes[t->dtype];
    if (need != end - begin) {
        char shape[160];
        shape_str(shape, sizeof shape, t->ndim, t->shape);
        return sbti_fail(SBT_E_PARSE, "%s: tensor '%s': dtype %s and shape %s need %llu bytes "
                         "but \"data_offsets\" [%llu, %llu] hold %llu", f->path, name,
                         dtype_names[t->dtype], shape, (unsigned long long)need,
                         (unsigned long long)begin, (unsigned long long)end,
                         (unsigned long long)(end - begin));
    }
    t->data = data + begin;
    t->nbytes = (size_t)need;
    return SBT_OK;
}

/* Sorted by offset, the tensors must tile [0, data_len) exactly, as the reference requires. */
static sbt_status check_tiling(const sbti_st_file *f, const unsigned char *data, uint64_t data_len)
{
    uint64_t at = 0;
    for (size_t i = 0; i < f->count; i++) {
        const sbti_st_tensor *t = &f->tensors[i];
        uint64_t begin = (uint64_t)((const unsigned char *)t->data - data);
        if (begin < at)
            return sbti_fail(SBT_E_PARSE, "%s: tensors '%s' and '%s' overlap (data_offsets [%llu, "
                             "%llu] and [%llu, %llu])", f->path, f->tensors[i - 1].name, t->name,
                             (unsigned long long)(at - f->tensors[i - 1].nbytes),
                             (unsigned long long)at, (unsigned long long)begin,
                             (unsigned long long)(begin + t->nbytes));
        if (begin > at)
            return sbti_fail(SBT_E_PARSE, "%s: data bytes [%llu, %llu) before tensor '%s' belong "
                             "to no tensor (safetensors allows no gaps)", f->path,
                             (unsigned long long)at, (unsigned long long)begin, t->name);
        at = begin + t->nbytes;
    }
    if (at != data_len)
        return sbti_fail(SBT_E_PARSE, "%s: the last %llu bytes of the file belong to no tensor "
                         "(safetensors allows no trailing data)", f->path,
                         (unsigned long long)(data_len - at));
    return SBT_OK;
}

static sbt_status parse_header(sbti_st_file *f)
{
    const unsigned char *m = f->map;
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = n << 8 | m[i];
    if (n < 2)
        return sbti_fail(SBT_E_PARSE, "%s: header length %llu is too small (the smallest header, "
                         "{}, takes 2 bytes)", f->path, (unsigned long long)n);
    if (n > MAX_HEADER)
        return sbti_fail(SBT_E_PARSE, "%s: header length %llu is over the limit of %llu bytes",
                         f->path, (unsigned long long)n, (unsigned long long)MAX_HEADER);
    if (n > f->map_size - 8)
        return sbti_fail(SBT_E_PARSE, "%s: header length %llu runs past the end of the file "
                         "(%zu bytes): the file is truncated or not safetensors", f->path,
                         (unsigned long long)n, f->map_size);
    if (m[8] != '{')
        return sbti_fail(SBT_E_PARSE, "%s: the header is not a JSON object (it must start with "
                         "'{')", f->path);
    json_error_t err;
    f->header = json_loadb((const char *)m + 8, (size_t)n, JSON_REJECT_DUPLICATES, &err);
    if (!f->header)
        return sbti_fail(SBT_E_PARSE, "%s: header JSON: %s (at header byte %d)", f->path,
                         err.text, err.position);

    json_t *meta = json_object_get(f->header, "__metadata__");
    size_t total = json_object_size(f->header) - (meta != NULL);
    f->tensors = calloc(total ? total : 1, sizeof *f->tensors);
    f->by_name = calloc(total ? total : 1, sizeof *f->by_name);
    if (!f->tensors || !f->by_name)
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory reading %s", f->path);
    if (meta) {
        sbt_status st = check_metadata(f, meta);
        if (st != SBT_OK)
            return st;
    }

    const unsigned char *data = m + 8 + n;
    uint64_t data_len = f->map_size - 8 - n;
    const char *key;
    json_t *v;
    json_object_foreach(f->header, key, v) {
        if (v == meta)
            continue;
        sbt_status st = parse_entry(f, key, v, data, data_len, &f->tensors[f->count]);
        if (st != SBT_OK)
            return st;
        f->count++;
    }
    qsort(f->tensors, f->count, sizeof *f->tensors, cmp_offset);
    for (size_t i = 0; i < f->count; i++)
        f->by_name[i] = &f->tensors[i];
    qsort(f->by_name, f->count, sizeof *f->by_name, cmp_name);
    return check_tiling(f, data, data_len);
}

sbt_status sbti_st_open(sbti_st_file **out, const char *path)
{
    if (!out || !path)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbti_st_open: NULL argument");
    *out = NULL;
    sbti_st_file *f = calloc(1, sizeof *f);
    if (!f || !(f->path = strdup(path))) {
        free(f);
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory opening %s", path);
    }
    sbt_status st = map_file(f);
    if (st == SBT_OK)
        st = parse_header(f);
    if (st != SBT_OK) {
        sbti_st_close(f);
        return st;
    }
    *out = f;
    return SBT_OK;
}

void sbti_st_close(sbti_st_file *f)
{
    if (!f)
        return;
    if (f->map)
        munmap((void *)f->map, f->map_size);
    json_decref(f->header);
    free(f->tensors);
    free(f->by_name);
    free(f->path);
    free(f);
}

const char *sbti_st_path(const sbti_st_file *f) { return f->path; }
size_t sbti_st_count(const sbti_st_file *f) { return f->count; }

const sbti_st_tensor *sbti_st_at(const sbti_st_file *f, size_t i)
{
    return i < f->count ? &f->tensors[i] : NULL;
}

static const sbti_st_tensor *find_sorted(const sbti_st_tensor *const *by_name, size_t count,
                                         const char *name)
{
    size_t lo = 0, hi = count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(name, by_name[mid]->name);
        if (c == 0)
            return by_name[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

const sbti_st_tensor *sbti_st_find(const sbti_st_file *f, const char *name)
{
    return find_sorted(f->by_name, f->count, name);
}

const char *sbti_st_metadata(const sbti_st_file *f, const char *key)
{
    return json_string_value(json_object_get(json_object_get(f->header, "__metadata__"), key));
}

/* ==== checkpoint sets =================================================================== */

static sbti_st_set *set_new(const char *where)
{
    sbti_st_set *s = calloc(1, sizeof *s);
    if (s && !(s->where = strdup(where))) {
        free(s);
        s = NULL;
    }
    return s;
}

void sbti_st_set_close(sbti_st_set *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n_files; i++)
        sbti_st_close(s->files[i]);
    free(s->files);
    free(s->by_name);
    free(s->where);
    free(s);
}

sbt_status sbti_st_set_open_file(sbti_st_set **out, const char *path)
{
    if (!out || !path)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbti_st_set_open_file: NULL argument");
    *out = NULL;
    sbti_st_set *s = set_new(path);
    if (!s || !(s->files = calloc(1, sizeof *s->files))) {
        sbti_st_set_close(s);
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory opening %s", path);
    }
    sbt_status st = sbti_st_open(&s->files[0], path);
    if (st != SBT_OK) {
        sbti_st_set_close(s);
        return st;
    }
    s->n_files = 1;
    s->count = s->files[0]->count;
    s->by_name = malloc((s->count ? s->count : 1) * sizeof *s->by_name);
    if (!s->by_name) {
        sbti_st_set_close(s);
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory opening %s", path);
    }
    memcpy(s->by_name, s->files[0]->by_name, s->count * sizeof *s->by_name);
    *out = s;
    return SBT_OK;
}

/* "<folder of index_path>/<name>" */
static char *sibling_path(const char *index_path, const char *name)
{
    const char *slash = strrchr(index_path, '/');
    size_t dir = slash ? (size_t)(slash - index_path) + 1 : 0;
    size_t n = strlen(name);
    char *p = malloc(dir + n + 1);
    if (p) {
        memcpy(p, index_path, dir);
        memcpy(p + dir, name, n + 1);
    }
    return p;
}

static int plain_file_name(const char *s)
{
    return *s && !strchr(s, '/') && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

/* Opens every shard the weight map names, once: files[k] is the shard called names[k]. */
static sbt_status open_shards(sbti_st_set *s, json_t *map, const char **names)
{
    const char *tensor;
    json_t *v;
    json_object_foreach(map, tensor, v) {
        const char *shard = json_string_value(v);
        if (!shard || !plain_file_name(shard))
            return sbti_fail(SBT_E_PARSE, "%s: weight_map[\"%s\"] must be the file name of a shard "
                             "in the same folder", s->where, tensor);
        size_t k = 0;
        while (k < s->n_files && strcmp(names[k], shard) != 0)
            k++;
        if (k < s->n_files)
            continue;
        char *path = sibling_path(s->where, shard);
        if (!path)
            return sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory opening %s", s->where);
        sbt_status st = sbti_st_open(&s->files[k], path);
        free(path);
        if (st != SBT_OK) {
            char why[1024];
            snprintf(why, sizeof why, "%s", sbt_last_error());
            return sbti_fail(st, "%s: tensor '%s' is mapped to shard %s: %s", s->where, tensor,
                             shard, why);
        }
        names[k] = shard;
        s->n_files++;
    }
    return SBT_OK;
}

/* Finds each tensor of the weight map in its shard. */
static sbt_status map_tensors(sbti_st_set *s, json_t *map, const char **names)
{
    const char *tensor;
    json_t *v;
    json_object_foreach(map, tensor, v) {
        size_t k = 0;
        while (strcmp(names[k], json_string_value(v)) != 0)
            k++;
        const sbti_st_tensor *t = sbti_st_find(s->files[k], tensor);
        if (!t)
            return sbti_fail(SBT_E_NOT_FOUND, "%s: tensor '%s' is mapped to shard %s, which does "
                             "not hold it", s->where, tensor, names[k]);
        s->by_name[s->count++] = t;
    }
    return SBT_OK;
}

static sbt_status load_index(sbti_st_set *s, json_t *root)
{
    json_t *map = json_object_get(root, "weight_map");
    json_t *meta = json_object_get(root, "metadata");
    if (!json_is_object(map))
        return sbti_fail(SBT_E_PARSE, "%s: \"weight_map\" is %s; it must be an object", s->where,
                         map ? "not an object" : "missing");
    if (meta && !json_is_object(meta) && !json_is_null(meta))
        return sbti_fail(SBT_E_PARSE, "%s: \"metadata\" must be an object", s->where);
    size_t n = json_object_size(map);
    const char **names = calloc(n ? n : 1, sizeof *names); /* [n_files] shard file names */
    s->files = calloc(n ? n : 1, sizeof *s->files);
    s->by_name = calloc(n ? n : 1, sizeof *s->by_name);
    if (!names || !s->files || !s->by_name) {
        free(names);
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory reading %s", s->where);
    }
    sbt_status st = open_shards(s, map, names);
    if (st == SBT_OK)
        st = map_tensors(s, map, names);
    free(names);
    if (st == SBT_OK)
        qsort(s->by_name, s->count, sizeof *s->by_name, cmp_name);
    return st;
}

sbt_status sbti_st_set_open_index(sbti_st_set **out, const char *index_path)
{
    if (!out || !index_path)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbti_st_set_open_index: NULL argument");
    *out = NULL;
    struct stat sb;
    if (stat(index_path, &sb) != 0) {
        int e = errno;
        return sbti_fail(e == ENOENT ? SBT_E_NOT_FOUND : SBT_E_IO, "cannot open %s: %s",
                         index_path, strerror(e));
    }
    if (sb.st_size > MAX_INDEX_BYTES)
        return sbti_fail(SBT_E_PARSE, "%s: %lld bytes is too large for a shard index", index_path,
                         (long long)sb.st_size);
    json_error_t err;
    json_t *root = json_load_file(index_path, JSON_REJECT_DUPLICATES, &err);
    if (!root)
        return sbti_fail(SBT_E_PARSE, "%s:%d:%d: %s", index_path, err.line, err.column, err.text);
    sbti_st_set *s = set_new(index_path);
    sbt_status st = s ? (json_is_object(root) ? load_index(s, root)
                                              : sbti_fail(SBT_E_PARSE, "%s: not a JSON object",
                                                          index_path))
                      : sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory opening %s", index_path);
    json_decref(root);
    if (st != SBT_OK) {
        sbti_st_set_close(s);
        return st;
    }
    *out = s;
    return SBT_OK;
}

sbt_status sbti_st_set_open_dir(sbti_st_set **out, const char *dir)
{
    if (!out || !dir)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbti_st_set_open_dir: NULL argument");
    *out = NULL;
    size_t n = strlen(dir);
    char *path = malloc(n + sizeof "/model.safetensors.index.json");
    if (!path)
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory opening %s", dir);
    struct stat sb;
    sbt_status st;
    snprintf(path, n + sizeof "/model.safetensors.index.json", "%s/model.safetensors.index.json",
             dir);
    if (stat(path, &sb) == 0) {
        st = sbti_st_set_open_index(out, path);
    } else {
        snprintf(path, n + sizeof "/model.safetensors", "%s/model.safetensors", dir);
        st = stat(path, &sb) == 0 ? sbti_st_set_open_file(out, path)
                                  : sbti_fail(SBT_E_NOT_FOUND, "%s: no model.safetensors or "
                                              "model.safetensors.index.json", dir);
    }
    free(path);
    return st;
}

size_t sbti_st_set_count(const sbti_st_set *s) { return s->count; }

const sbti_st_tensor *sbti_st_set_at(const sbti_st_set *s, size_t i)
{
    return i < s->count ? s->by_name[i] : NULL;
}

const sbti_st_tensor *sbti_st_set_find(const sbti_st_set *s, const char *name)
{
    return find_sorted(s->by_name, s->count, name);
}

sbt_status sbti_st_set_get(const sbti_st_tensor **out, const sbti_st_set *s, const char *name,
                           int ndim, const int64_t *shape)
{
    *out = NULL;
    const sbti_st_tensor *t = sbti_st_set_find(s, name);
    if (!t)
        return sbti_fail(SBT_E_NOT_FOUND, "%s: no tensor '%s'", s->where, name);
    if (ndim >= 0 && (t->ndim != ndim ||
                      (ndim > 0 && memcmp(t->shape, shape, (size_t)ndim * sizeof *shape)))) {
        char have[160], want[160];
        shape_str(have, sizeof have, t->ndim, t->shape);
        shape_str(want, sizeof want, ndim, shape);
        return sbti_fail(SBT_E_PARSE, "%s: tensor '%s' has shape %s, expected %s", s->where, name,
                         have, want);
    }
    *out = t;
    return SBT_OK;
}

/* ==== conversions ======================================================================= */

static float f32_from_bits(uint32_t b)
{
    float x;
    memcpy(&x, &b, sizeof x);
    return x;
}

static uint32_t u16_at(const unsigned char *p, size_t i)
{
    return (uint32_t)p[2 * i] | (uint32_t)p[2 * i + 1] << 8;
}

void sbti_bf16_to_f32(float *out, const void *in, size_t n)
{
    const unsigned char *p = in;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (n >= PARALLEL_MIN)
#endif
    for (ptrdiff_t i = 0; i < (ptrdiff_t)n; i++)
        out[i] = f32_from_bits(u16_at(p, (size_t)i) << 16);
}

static float f16_value(uint32_t h)
{
    uint32_t sign = (h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
    if (exp == 0x1f) /* inf, or NaN with its payload */
        return f32_from_bits(sign | 0x7f800000u | man << 13);
    if (exp != 0) /* normal: rebias the exponent from 15 to 127 */
        return f32_from_bits(sign | (exp + 112) << 23 | man << 13);
    if (man == 0)
        return f32_from_bits(sign);
    uint32_t e = 113; /* subnormal man * 2^-24: shift the leading 1 into the implicit bit */
    while (!(man & 0x400u)) {
        man <<= 1;
        e--;
    }
    return f32_from_bits(sign | e << 23 | (man & 0x3ffu) << 13);
}

void sbti_f16_to_f32(float *out, const void *in, size_t n)
{
    const unsigned char *p = in;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (n >= PARALLEL_MIN)
#endif
    for (ptrdiff_t i = 0; i < (ptrdiff_t)n; i++)
        out[i] = f16_value(u16_at(p, (size_t)i));
}

void sbti_f32_to_bf16(void *out, const float *in, size_t n)
{
    unsigned char *p = out;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (n >= PARALLEL_MIN)
#endif
    for (ptrdiff_t i = 0; i < (ptrdiff_t)n; i++) {
        uint32_t b;
        memcpy(&b, &in[i], sizeof b);
        uint32_t r = (b & 0x7fffffffu) > 0x7f800000u ? (b >> 16) | 0x40u /* quiet NaN */
                                                     : (b + 0x7fffu + ((b >> 16) & 1u)) >> 16;
        p[2 * i] = (unsigned char)r;
        p[2 * i + 1] = (unsigned char)(r >> 8);
    }
}

void sbti_st_to_f32(float *out, const sbti_st_tensor *t)
{
    switch (t->dtype) {
    case SBTI_F32: memcpy(out, t->data, t->nbytes); break; /* little-endian hosts only */
    case SBTI_BF16: sbti_bf16_to_f32(out, t->data, (size_t)t->numel); break;
    case SBTI_F16: sbti_f16_to_f32(out, t->data, (size_t)t->numel); break;
    }
}

/* ==== writer ============================================================================ */

static int cmp_entry(const void *a, const void *b)
{
    const sbti_st_entry *x = *(const sbti_st_entry *const *)a;
    const sbti_st_entry *y = *(const sbti_st_entry *const *)b;
    if (x->dtype != y->dtype) /* the enum runs from the widest alignment down */
        return x->dtype < y->dtype ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* Checks an entry and returns its byte size in *nbytes. */
static sbt_status check_entry(const char *path, const sbti_st_entry *e, uint64_t *nbytes)
{
    if (strcmp(e->name, "__metadata__") == 0 || (unsigned)e->dtype > SBTI_F16 || e->ndim < 0 ||
        e->ndim > SBTI_ST_MAX_DIMS || (e->ndim > 0 && !e->shape))
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "%s: tensor '%s': bad name, dtype or rank", path,
                         e->name);
    int64_t numel = 1;
    for (int d = 0; d < e->ndim; d++) {
        int64_t dim = e->shape[d];
        if (dim < 0 || dim > SBTI_ST_MAX_DIM || (dim != 0 && numel > MAX_NUMEL / dim))
            return sbti_fail(SBT_E_INVALID_ARGUMENT, "%s: tensor '%s': bad dimension %lld", path,
                             e->name, (long long)dim);
        numel *= dim;
    }
    *nbytes = (uint64_t)numel * dtype_sizes[e->dtype];
    return SBT_OK;
}

/* *out = the header JSON for the tensors in `order`, "__metadata__" first (free() it). */
static sbt_status header_json(char **out, const char *path, const sbti_st_entry *const *order,
                              size_t n, const char *const *meta, size_t n_meta)
{
    *out = NULL;
    json_t *root = json_object();
    sbt_status st = root ? SBT_OK : SBT_E_OUT_OF_MEMORY;
    if (st == SBT_OK && n_meta) {
        json_t *m = json_object();
        st = json_object_set_new(root, "__metadata__", m) != 0 ? SBT_E_OUT_OF_MEMORY : SBT_OK;
        for (size_t i = 0; i < n_meta && st == SBT_OK; i++)
            if (!meta[2 * i] || !meta[2 * i + 1] ||
                json_object_set_new(m, meta[2 * i], json_string(meta[2 * i + 1])) != 0)
                st = sbti_fail(SBT_E_INVALID_ARGUMENT, "%s: metadata pair %zu is NULL or not "
                               "UTF-8", path, i);
    }
    uint64_t offset = 0;
    for (size_t i = 0; i < n && st == SBT_OK; i++) {
        const sbti_st_entry *e = order[i];
        uint64_t nbytes = 0;
        st = check_entry(path, e, &nbytes);
        if (st == SBT_OK && json_object_get(root, e->name))
            st = sbti_fail(SBT_E_INVALID_ARGUMENT, "%s: duplicate tensor name '%s'", path, e->name);
        if (st != SBT_OK)
            break;
        json_t *shape = json_array();
        for (int d = 0; d < e->ndim && shape; d++)
            if (json_array_append_new(shape, json_integer(e->shape[d])) != 0) {
                json_decref(shape);
                shape = NULL;
            }
        json_t *info = shape ? json_pack("{s:s, s:o, s:[I, I]}", "dtype", dtype_names[e->dtype],
                                         "shape", shape, "data_offsets", (json_int_t)offset,
                                         (json_int_t)(offset + nbytes))
                             : NULL;
        if (!info)
            st = SBT_E_OUT_OF_MEMORY;
        else if (json_object_set_new(root, e->name, info) != 0)
            st = sbti_fail(SBT_E_INVALID_ARGUMENT, "%s: tensor name '%s' is not UTF-8", path,
                           e->name);
        offset += nbytes;
    }
    if (st == SBT_OK && !(*out = json_dumps(root, JSON_COMPACT)))
        st = SBT_E_OUT_OF_MEMORY;
    json_decref(root);
    return st == SBT_E_OUT_OF_MEMORY ? sbti_fail(st, "out of memory writing %s", path) : st;
}

/* Streams the data of tensors without `data` through fill (one tensor at a time). */
typedef struct write_source {
    const sbti_st_entry *base;
    sbti_st_fill_fn fill;
    void *user;
} write_source;

/* Bytes of an entry (0 for an entry header_json will refuse: a bad dtype or rank). */
static size_t entry_bytes(const sbti_st_entry *e)
{
    if ((unsigned)e->dtype > SBTI_F16 || e->ndim < 0 || e->ndim > SBTI_ST_MAX_DIMS ||
        (e->ndim > 0 && !e->shape))
        return 0;
    size_t numel = 1;
    for (int d = 0; d < e->ndim; d++)
        numel *= (size_t)e->shape[d];
    return numel * dtype_sizes[e->dtype];
}

static sbt_status write_file(const char *path, const sbti_st_entry *const *order, size_t n,
                             const char *header, const write_source *src)
{
    size_t len = strlen(header), pad = (8 - len % 8) % 8, biggest = 0;
    unsigned char le[8];
    for (int i = 0; i < 8; i++)
        le[i] = (unsigned char)((uint64_t)(len + pad) >> (8 * i));
    for (size_t i = 0; i < n; i++)
        if (!order[i]->data && entry_bytes(order[i]) > biggest)
            biggest = entry_bytes(order[i]);
    void *scratch = NULL;
    if (biggest && !(scratch = malloc(biggest)))
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "%s: out of memory for a %zu-byte tensor", path,
                         biggest);
    sbti_atomic_file f;
    sbt_status st = sbti_atomic_open(&f, path);
    if (st != SBT_OK) {
        free(scratch);
        return st;
    }
    fwrite(le, 1, sizeof le, f.fp);
    fwrite(header, 1, len, f.fp);
    fwrite("       ", 1, pad, f.fp);
    for (size_t i = 0; i < n && st == SBT_OK; i++) {
        const sbti_st_entry *e = order[i];
        size_t bytes = entry_bytes(e);
        const void *data = e->data;
        if (!data && bytes) {
            st = src->fill(src->user, (size_t)(e - src->base), scratch);
            data = scratch;
        }
        if (st == SBT_OK && bytes)
            fwrite(data, 1, bytes, f.fp);
    }
    free(scratch);
    if (st != SBT_OK) {
        sbti_atomic_abort(&f);
        return st;
    }
    return sbti_atomic_commit(&f); /* reports any write error above */
}

sbt_status sbti_st_write(const char *path, const sbti_st_entry *tensors, size_t n,
                         const char *const *meta, size_t n_meta)
{
    return sbti_st_write_stream(path, tensors, n, meta, n_meta, NULL, NULL);
}

sbt_status sbti_st_write_stream(const char *path, const sbti_st_entry *tensors, size_t n,
                                const char *const *meta, size_t n_meta, sbti_st_fill_fn fill,
                                void *user)
{
    if (!path || (n && !tensors) || (n_meta && !meta))
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbti_st_write: NULL argument");
    const sbti_st_entry **order = malloc((n ? n : 1) * sizeof *order); /* [n] write order */
    if (!order)
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory writing %s", path);
    for (size_t i = 0; i < n; i++) {
        order[i] = &tensors[i];
        if (!tensors[i].name) {
            free(order);
            return sbti_fail(SBT_E_INVALID_ARGUMENT, "%s: tensor %zu has no name", path, i);
        }
        if (!tensors[i].data && !fill && entry_bytes(&tensors[i]) > 0) {
            free(order);
            return sbti_fail(SBT_E_INVALID_ARGUMENT, "%s: tensor %s has no data", path,
                             tensors[i].name);
        }
    }
    qsort(order, n, sizeof *order, cmp_entry);
    char *header = NULL;
    sbt_status st = header_json(&header, path, order, n, meta, n_meta);
    write_source src = {tensors, fill, user};
    if (st == SBT_OK)
        st = write_file(path, order, n, header, &src);
    free(header);
    free(order);
    return st;
}
