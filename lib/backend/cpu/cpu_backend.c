/* cpu_backend.c — the fp32 CPU reference backend: creation, memory (64-byte aligned, zero-filled
 * host buffers), transfers with BF16/F16 conversion, and the vtable of the operations defined in
 * cpu_layers.c, cpu_matmul.c, cpu_attention.c and cpu_loss_optim.c. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cpu/cpu.h"
#include "core/error.h"
#include "io/safetensors.h"

#define ALIGN 64 /* a cache line, and enough for any vector load */

static const char *const kind_names[SBTI_MEM_COUNT] = {"PARAM", "GRAD", "ACT", "F32", "I32"};

float *sbti_cpu_scratch(sbti_backend *be, size_t n, const char *op)
{
    float *p = n <= SIZE_MAX / sizeof(float) ? malloc((n ? n : 1) * sizeof(float)) : NULL;
    if (!p)
        sbti_backend_fail(be, SBT_E_OUT_OF_MEMORY, "cpu %s: cannot allocate %zu floats of scratch",
                          op, n);
    return p;
}

static void cpu_destroy(sbti_backend *be) { free(be); }

static sbt_status cpu_alloc(sbti_backend *be, void **out, sbti_mem kind, size_t n)
{
    if (!out)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "cpu alloc: out is NULL");
    *out = NULL;
    if ((unsigned)kind >= SBTI_MEM_COUNT)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "cpu alloc: unknown memory kind %d", (int)kind);
    size_t es = be->elem_size[kind];
    /* Sizes no allocator can satisfy fail here, before malloc: a sanitizer's allocator would
     * abort on them instead of returning NULL. */
    if (n > ((size_t)PTRDIFF_MAX - ALIGN) / es)
        return sbti_fail(SBT_E_OUT_OF_MEMORY,
                         "cpu alloc: cannot allocate %zu elements of %s (%zu bytes each): too large",
                         n, kind_names[kind], es);
    size_t bytes = n * es;
    size_t padded = (bytes + ALIGN - 1) / ALIGN * ALIGN; /* aligned_alloc wants a multiple */
    void *p = aligned_alloc(ALIGN, padded ? padded : ALIGN);
    if (!p)
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "cpu alloc: cannot allocate %zu bytes (%zu elements of %s)",
                         bytes, n, kind_names[kind]);
    memset(p, 0, padded ? padded : ALIGN);
    *out = p;
    return SBT_OK;
}

static void cpu_free(sbti_backend *be, void *p)
{
    (void)be;
    free(p);
}

static sbt_status cpu_upload(sbti_backend *be, void *dst, sbti_mem kind, size_t off,
                             const void *src, sbti_dtype src_dtype, size_t n)
{
    if (n == 0)
        return SBT_OK;
    if (!dst || !src)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "cpu upload: %s is NULL", dst ? "src" : "dst");
    if ((unsigned)kind >= SBTI_MEM_COUNT)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "cpu upload: unknown memory kind %d", (int)kind);
    void *d = sbti_at(be, dst, kind, off);
    if (kind == SBTI_MEM_I32) {
        memcpy(d, src, n * sizeof(int32_t));
        return SBT_OK;
    }
    switch (src_dtype) {
    case SBTI_F32: memcpy(d, src, n * sizeof(float)); return SBT_OK;
    case SBTI_BF16: sbti_bf16_to_f32(d, src, n); return SBT_OK;
    case SBTI_F16: sbti_f16_to_f32(d, src, n); return SBT_OK;
    }
    return sbti_fail(SBT_E_INVALID_ARGUMENT, "cpu upload: unknown host dtype %d", (int)src_dtype);
}

static sbt_status cpu_download(sbti_backend *be, void *dst, const void *src, sbti_mem kind,
                               size_t off, size_t n)
{
    if ((unsigned)kind >= SBTI_MEM_COUNT)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "cpu download: unknown memory kind %d", (int)kind);
    if (n > 0 && (!dst || !src))
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "cpu download: %s is NULL", dst ? "src" : "dst");
    if (n > 0)
        memcpy(dst, sbti_at(be, src, kind, off), n * be->elem_size[kind]);
    return sbti_backend_check(be);
}

static void cpu_zero(sbti_backend *be, void *p, sbti_mem kind, size_t n)
{
    if (n > 0)
        memset(p, 0, n * be->elem_size[kind]);
}

static void cpu_copy(sbti_backend *be, void *dst, const void *src, sbti_mem kind, size_t n)
{
    if (n > 0 && dst != src)
        memcpy(dst, src, n * be->elem_size[kind]);
}

/* Operations run to completion before they return: nothing is ever queued. */
static sbt_status cpu_sync(sbti_backend *be) { return be->error; }

/* Overlap: every operation is done when it returns, so a download needs no wait and a fence
 * marks nothing (it is a non-NULL token). */
static void *cpu_host_alloc(sbti_backend *be, size_t bytes)
{
    (void)be;
    return malloc(bytes ? bytes : 1);
}

static void cpu_host_free(sbti_backend *be, void *p)
{
    (void)be;
    free(p);
}

static sbt_status cpu_download_async(sbti_backend *be, void *dst, const void *src, sbti_mem kind,
                                     size_t off, size_t n)
{
    if (kind != SBTI_MEM_I32 && kind != SBTI_MEM_F32)
        return sbti_fail(SBT_E_INVALID_ARGUMENT,
                         "cpu download_async: memory kind %d (I32 or F32 only)", (int)kind);
    return cpu_download(be, dst, src, kind, off, n);
}

static sbt_status cpu_fence_record(sbti_backend *be, void **fence)
{
    static char token;
    *fence = &token;
    return be->error;
}

static sbt_status cpu_fence_wait(sbti_backend *be, void *fence)
{
    (void)fence;
    return sbti_backend_check(be);
}

static void cpu_fence_free(sbti_backend *be, void *fence)
{
    (void)be;
    (void)fence;
}

static const sbti_backend_ops cpu_ops = {
    .destroy = cpu_destroy,
    .alloc = cpu_alloc,
    .free = cpu_free,
    .upload = cpu_upload,
    .download = cpu_download,
    .zero = cpu_zero,
    .copy = cpu_copy,
    .sync = cpu_sync,
    .embedding_fwd = sbti_cpu_embedding_fwd,
    .embedding_bwd = sbti_cpu_embedding_bwd,
    .rmsnorm_fwd = sbti_cpu_rmsnorm_fwd,
    .rmsnorm_bwd = sbti_cpu_rmsnorm_bwd,
    .matmul_fwd = sbti_cpu_matmul_fwd,
    .matmul_bwd = sbti_cpu_matmul_bwd,
    .rope_fwd = sbti_cpu_rope_fwd,
    .rope_bwd = sbti_cpu_rope_bwd,
    .attention_fwd = sbti_cpu_attention_fwd,
    .attention_bwd = sbti_cpu_attention_bwd,
    .swiglu_fwd = sbti_cpu_swiglu_fwd,
    .swiglu_bwd = sbti_cpu_swiglu_bwd,
    .cross_entropy = sbti_cpu_cross_entropy,
    .kv_store = sbti_cpu_kv_store,
    .attention_paged = sbti_cpu_attention_paged,
    .gather_rows = sbti_cpu_gather_rows,
    .select = sbti_cpu_select,
    .sumsq = sbti_cpu_sumsq,
    .adamw = sbti_cpu_adamw,
    .host_alloc = cpu_host_alloc,
    .host_free = cpu_host_free,
    .download_async = cpu_download_async,
    .fence_record = cpu_fence_record,
    .fence_wait = cpu_fence_wait,
    .fence_free = cpu_fence_free,
};

sbt_status sbti_backend_cpu_create(sbti_backend **out, int num_threads)
{
    if (!out)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbti_backend_cpu_create: out is NULL");
    *out = NULL;
    sbti_cpu_backend *c = calloc(1, sizeof *c);
    if (!c)
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "cpu backend: cannot allocate %zu bytes", sizeof *c);
    sbti_backend *be = &c->base;
    be->ops = &cpu_ops;
    be->name = "cpu";
    for (int k = 0; k < SBTI_MEM_COUNT; k++)
        be->elem_size[k] = 4; /* fp32 for every float kind, int32 for I32 */
    be->master_weights = 0;   /* PARAM is fp32 already: AdamW updates it directly */
    be->error = SBT_OK;
    c->num_threads = num_threads;
#ifdef _OPENMP
    int nt = sbti_cpu_threads(be);
    snprintf(be->description, sizeof be->description, "CPU, %d OpenMP thread%s", nt,
             nt == 1 ? "" : "s");
#else
    snprintf(be->description, sizeof be->description, "CPU, 1 thread (built without OpenMP)");
#endif
    *out = be;
    return SBT_OK;
}
