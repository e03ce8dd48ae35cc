/* backend_api.c — the public sbt_backend handle over the internal backends. */
#include <string.h>
#include <stdlib.h>

#include "backend/backend.h"
#include "core/error.h"

struct sbt_backend {
    sbti_backend *impl;
    sbt_backend_kind kind;
};

sbti_backend *sbti_backend_of(const sbt_backend *be)
{
    return be->impl;
}

void sbt_backend_options_init(sbt_backend_options *opts)
{
    if (!opts)
        return;
    memset(opts, 0, sizeof *opts);
    opts->size = sizeof *opts;
    opts->kind = SBT_BACKEND_AUTO;
}

sbt_status sbt_backend_create(sbt_backend **out, const sbt_backend_options *o)
{
    if (!out)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_backend_create: NULL out");
    *out = NULL;
    sbt_backend_options opts;
    sbt_backend_options_init(&opts);
    if (o) {
        if (o->size < offsetof(sbt_backend_options, num_threads) + sizeof o->num_threads)
            return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_backend_create: options.size %zu is "
                             "too small (call sbt_backend_options_init)", o->size);
        opts.kind = o->kind;
        opts.device = o->device;
        opts.num_threads = o->num_threads;
    }
    if (opts.kind != SBT_BACKEND_AUTO && opts.kind != SBT_BACKEND_CPU &&
        opts.kind != SBT_BACKEND_CUDA)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_backend_create: kind %d is not a "
                         "sbt_backend_kind", (int)opts.kind);
    sbt_backend *be = calloc(1, sizeof *be);
    if (!be)
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory");
    sbt_status st = SBT_E_NOT_FOUND;
    if (opts.kind != SBT_BACKEND_CPU) {
        st = sbti_backend_cuda_create(&be->impl, opts.device);
        be->kind = SBT_BACKEND_CUDA;
        if (st != SBT_OK && opts.kind == SBT_BACKEND_AUTO) {
            sbt_clear_error();
            st = SBT_E_NOT_FOUND; /* fall back to the CPU below */
        }
    }
    if (!be->impl && opts.kind != SBT_BACKEND_CUDA) {
        st = sbti_backend_cpu_create(&be->impl, opts.num_threads);
        be->kind = SBT_BACKEND_CPU;
    }
    if (st != SBT_OK) {
        free(be);
        return st;
    }
    *out = be;
    return SBT_OK;
}

void sbt_backend_free(sbt_backend *be)
{
    if (!be)
        return;
    sbti_backend_destroy(be->impl);
    free(be);
}

sbt_backend_kind sbt_backend_get_kind(const sbt_backend *be)
{
    return be ? be->kind : SBT_BACKEND_AUTO;
}

const char *sbt_backend_name(const sbt_backend *be)
{
    return be ? be->impl->name : "";
}

const char *sbt_backend_description(const sbt_backend *be)
{
    return be ? be->impl->description : "";
}

sbt_status sbt_backend_kind_parse(const char *text, sbt_backend_kind *out)
{
    static const struct {
        const char *name;
        sbt_backend_kind kind;
    } names[] = {{"auto", SBT_BACKEND_AUTO}, {"cpu", SBT_BACKEND_CPU}, {"cuda", SBT_BACKEND_CUDA}};
    for (size_t i = 0; text && out && i < sizeof names / sizeof names[0]; i++)
        if (strcmp(text, names[i].name) == 0) {
            *out = names[i].kind;
            return SBT_OK;
        }
    return sbti_fail(SBT_E_INVALID_ARGUMENT, "backend \"%s\" is not one of auto, cpu, cuda",
                     text ? text : "(null)");
}
