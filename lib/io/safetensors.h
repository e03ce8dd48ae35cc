/* safetensors.h — internal: .safetensors checkpoints: a validating mmap reader (one file or
 * shards through model.safetensors.index.json), fp32 conversions, and an atomic writer.
 *
 * Format (huggingface/safetensors README): 8-byte little-endian header length N, N bytes of
 * UTF-8 JSON starting with '{' (trailing spaces allowed), then the data section. The JSON maps
 * each tensor name to {"dtype", "shape", "data_offsets": [begin, end]} (offsets relative to
 * the data section) plus an optional "__metadata__" object of string values. As the
 * reference reader does, this one requires the tensors, sorted by offset, to tile the data
 * section exactly: no overlap, no gap, nothing after the last tensor. */
#ifndef SBTI_IO_SAFETENSORS_H
#define SBTI_IO_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "selfbt/status.h"

/* The element types we read and write; any other dtype is SBT_E_UNSUPPORTED. */
typedef enum sbti_dtype { SBTI_F32 = 0, SBTI_BF16 = 1, SBTI_F16 = 2 } sbti_dtype;

size_t sbti_dtype_size(sbti_dtype dtype);      /* bytes per element: 4 or 2 */
const char *sbti_dtype_name(sbti_dtype dtype); /* "F32", "BF16", "F16" */

#define SBTI_ST_MAX_DIMS 8             /* a higher rank is SBT_E_UNSUPPORTED */
#define SBTI_ST_MAX_DIM (INT64_C(1) << 40) /* a larger dimension is rejected as absurd */

/* One tensor of an open file. Everything stays valid until the file (or set) is closed. */
typedef struct sbti_st_tensor {
    const char *name;
    sbti_dtype dtype;
    int ndim;                        /* 0 for a scalar */
    int64_t shape[SBTI_ST_MAX_DIMS]; /* shape[0..ndim) */
    int64_t numel;                   /* product of the shape (1 for a scalar) */
    const void *data;                /* [numel] elements, little-endian, read-only, inside the
                                      * mapping; aligned to the element size in files laid out
                                      * as the reference writer does (ours included), not in
                                      * general: read through memcpy or sbti_st_to_f32 */
    size_t nbytes;                   /* numel * sbti_dtype_size(dtype) */
} sbti_st_tensor;

/* ---- one file ------------------------------------------------------------------------ */

typedef struct sbti_st_file sbti_st_file;

/* Maps path read-only (one mapping; tensor data is never copied) and validates the whole
 * header. Errors name the file and the tensor or field: SBT_E_NOT_FOUND (no such file),
 * SBT_E_IO, SBT_E_PARSE (any malformed header or layout), SBT_E_UNSUPPORTED (a dtype other
 * than F32/BF16/F16, or a rank above SBTI_ST_MAX_DIMS). The file must not be truncated while
 * it is open (the mapping would fault). */
sbt_status sbti_st_open(sbti_st_file **out, const char *path);
void sbti_st_close(sbti_st_file *f); /* NULL-safe */

const char *sbti_st_path(const sbti_st_file *f);
size_t sbti_st_count(const sbti_st_file *f);
/* The i-th tensor in data-offset order (the order of the bytes in the file). */
const sbti_st_tensor *sbti_st_at(const sbti_st_file *f, size_t i);
/* The tensor called name, or NULL (binary search over the names). */
const sbti_st_tensor *sbti_st_find(const sbti_st_file *f, const char *name);
/* The "__metadata__" value for key, or NULL. */
const char *sbti_st_metadata(const sbti_st_file *f, const char *key);

/* ---- a checkpoint: one file or shards ------------------------------------------------ */

typedef struct sbti_st_set sbti_st_set;

/* Opens the checkpoint in folder dir: model.safetensors.index.json if it exists, else
 * model.safetensors; SBT_E_NOT_FOUND naming dir if neither does. */
sbt_status sbti_st_set_open_dir(sbti_st_set **out, const char *dir);
/* Opens a shard index ({"metadata": {...}, "weight_map": {tensor: shard file}}): each shard
 * (a plain file name in the index's folder) is opened once, and every tensor of the map must
 * be in its shard (SBT_E_NOT_FOUND naming the index, the tensor and the shard otherwise).
 * Tensors a shard holds but the map does not list are not reachable, as in transformers. */
sbt_status sbti_st_set_open_index(sbti_st_set **out, const char *index_path);
/* A set over a single file. */
sbt_status sbti_st_set_open_file(sbti_st_set **out, const char *path);
void sbti_st_set_close(sbti_st_set *s); /* NULL-safe */

size_t sbti_st_set_count(const sbti_st_set *s);
/* The i-th tensor in name order (strcmp). */
const sbti_st_tensor *sbti_st_set_at(const sbti_st_set *s, size_t i);
const sbti_st_tensor *sbti_st_set_find(const sbti_st_set *s, const char *name);
/* Like find, but a missing tensor is SBT_E_NOT_FOUND naming it and the checkpoint; and
 * where ndim >= 0, a tensor of another rank or shape is SBT_E_PARSE naming both shapes. */
sbt_status sbti_st_set_get(const sbti_st_tensor **out, const sbti_st_set *s, const char *name,
                           int ndim, const int64_t *shape);

/* ---- conversions (any alignment of the 16-bit input; OpenMP over large n) ------------- */

void sbti_bf16_to_f32(float *out, const void *in, size_t n); /* exact */
void sbti_f16_to_f32(float *out, const void *in, size_t n);  /* exact, subnormals included */
/* Round to nearest even, as torch's .to(torch.bfloat16); a NaN stays a (quiet) NaN. */
void sbti_f32_to_bf16(void *out, const float *in, size_t n);
/* out[numel] = the tensor's values as fp32. */
void sbti_st_to_f32(float *out, const sbti_st_tensor *t);

/* ---- writer ----------------------------------------------------------------------------- */

typedef struct sbti_st_entry {
    const char *name;
    sbti_dtype dtype;
    int ndim;             /* 0..SBTI_ST_MAX_DIMS */
    const int64_t *shape; /* [ndim] */
    const void *data;     /* [product of shape] elements of dtype, little-endian */
} sbti_st_entry;

/* Writes n tensors to path through a temporary file, fsync and rename. The layout is the
 * reference library's (safetensors' serialize): tensors sorted by dtype alignment, widest
 * first (F32, then BF16, then F16), then by name; compact header JSON with "__metadata__"
 * first when n_meta > 0 (meta holds n_meta key, value pairs: meta[2i], meta[2i+1]; pass
 * "format", "pt" for transformers), padded with spaces to a multiple of 8 bytes; then the
 * data back to back, so every tensor is aligned to its element size. Names must be unique
 * and not "__metadata__": SBT_E_INVALID_ARGUMENT otherwise. */
sbt_status sbti_st_write(const char *path, const sbti_st_entry *tensors, size_t n,
                         const char *const *meta, size_t n_meta);

/* Fills buf with the data of tensors[i] (its full size in its dtype). */
typedef sbt_status (*sbti_st_fill_fn)(void *user, size_t i, void *buf);

/* sbti_st_write for data that is not in memory all at once (a model on a GPU, or weights to
 * convert): every tensor whose data is NULL is produced by fill, one at a time, into a buffer
 * of the largest such tensor, and written at once. An error from fill removes the temporary
 * file and is returned. */
sbt_status sbti_st_write_stream(const char *path, const sbti_st_entry *tensors, size_t n,
                                const char *const *meta, size_t n_meta, sbti_st_fill_fn fill,
                                void *user);

#endif /* SBTI_IO_SAFETENSORS_H */
