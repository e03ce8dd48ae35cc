/* backend.h — where the numbers are computed: the fp32 CPU reference or the bf16 CUDA backend.
 *
 * A sbt_backend is created once and handed to sbt_model_load / sbt_model_create; it must
 * outlive every model made on it. A backend (and the models on it) is used by one thread at
 * a time. */
#ifndef SELFBT_BACKEND_H
#define SELFBT_BACKEND_H

#include <stddef.h>

#include "selfbt/export.h"
#include "selfbt/status.h"

SBT_BEGIN_DECLS

typedef struct sbt_backend sbt_backend;

typedef enum sbt_backend_kind {
    SBT_BACKEND_AUTO = 0, /* CUDA when this build has it and a GPU is present, else CPU      */
    SBT_BACKEND_CPU = 1,  /* fp32 reference, OpenMP threads                                   */
    SBT_BACKEND_CUDA = 2  /* bf16 weights and activations, fp32 accumulation and master weights */
} sbt_backend_kind;

typedef struct sbt_backend_options {
    size_t size;           /* = sizeof(sbt_backend_options); set by _options_init     */
    sbt_backend_kind kind; /* SBT_BACKEND_AUTO                                         */
    int device;            /* 0: the CUDA device index                                 */
    int num_threads;       /* 0: OpenMP's default (CPU backend)                        */
} sbt_backend_options;

/* Fills *opts with the defaults above and sets opts->size. */
SBT_API void sbt_backend_options_init(sbt_backend_options *opts);

/* Creates a backend (opts NULL: the defaults). SBT_E_UNSUPPORTED for CUDA in a build without
 * it; SBT_E_NOT_FOUND when no usable GPU is present; SBT_E_BACKEND when the driver fails. */
SBT_API sbt_status sbt_backend_create(sbt_backend **out, const sbt_backend_options *opts);

/* NULL-safe. Free the models made on it first. */
SBT_API void sbt_backend_free(sbt_backend *be);

/* SBT_BACKEND_CPU or SBT_BACKEND_CUDA (never AUTO). */
SBT_API sbt_backend_kind sbt_backend_get_kind(const sbt_backend *be);

/* "cpu" or "cuda". */
SBT_API const char *sbt_backend_name(const sbt_backend *be);

/* One line: the device, its memory, and the library versions found at run time. */
SBT_API const char *sbt_backend_description(const sbt_backend *be);

/* Parses "auto", "cpu" or "cuda" (for command lines); SBT_E_INVALID_ARGUMENT naming the text
 * otherwise. */
SBT_API sbt_status sbt_backend_kind_parse(const char *text, sbt_backend_kind *out);

SBT_END_DECLS

#endif /* SELFBT_BACKEND_H */
