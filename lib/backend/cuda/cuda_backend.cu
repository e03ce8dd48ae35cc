/* cuda_backend.cu — the bf16 CUDA backend: creation (device checks, stream, cuBLASLt handle,
 * workspace), memory (cudaMalloc, zero-filled), transfers with dtype conversion through pinned
 * staging buffers, scratch, error recording, and the vtable of the operations defined in
 * cuda_ops.cu, cuda_matmul.cu, cuda_attention.cu and cuda_sdpa.cu. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cuda/cuda_internal.h"

extern "C" {
#include "core/error.h"
}

#define STAGE_BYTES ((size_t)2 << 20) /* each pinned staging slot */
#define STAGE_SLOTS 8                 /* a ring: an upload waits only for the copy out of the
                                       * slot it takes, queued STAGE_SLOTS chunks before, so a
                                       * few small uploads can go behind a forward in flight */

static const char *const kind_names[SBTI_MEM_COUNT] = {"PARAM", "GRAD", "ACT", "F32", "I32"};

/* The backend's private part beyond sbti_cuda_backend: staging for uploads. */
typedef struct cuda_full {
    sbti_cuda_backend cb;
    void *stage[STAGE_SLOTS];        /* pinned host, STAGE_BYTES each */
    cudaEvent_t staged[STAGE_SLOTS]; /* recorded after the copy out of stage[i] was queued */
    int next_stage;                  /* the slot the next chunk takes */
} cuda_full;

int sbti_cuda_ok(sbti_backend *be, cudaError_t e, const char *what)
{
    if (e == cudaSuccess)
        return 1;
    sbti_backend_fail(be, e == cudaErrorMemoryAllocation ? SBT_E_OUT_OF_MEMORY : SBT_E_BACKEND,
                      "cuda: %s: %s (%s)", what, cudaGetErrorString(e), cudaGetErrorName(e));
    return 0;
}

int sbti_cuda_begin(sbti_backend *be, const char *op)
{
    if (be->error != SBT_OK)
        return 0;
    cudaError_t e = cudaSetDevice(sbti_cuda(be)->device);
    if (e != cudaSuccess) {
        char what[96];
        snprintf(what, sizeof what, "%s: cudaSetDevice(%d)", op, sbti_cuda(be)->device);
        return sbti_cuda_ok(be, e, what);
    }
    return 1;
}

void *sbti_cuda_scratch(sbti_backend *be, size_t bytes, const char *op)
{
    sbti_cuda_backend *cb = sbti_cuda(be);
    if (bytes <= cb->scratch_size && cb->scratch)
        return cb->scratch;
    /* cudaFree waits for the device, so queued users of the old buffer are done. */
    if (cb->scratch) {
        cudaError_t e = cudaFree(cb->scratch);
        cb->scratch = NULL;
        cb->scratch_size = 0;
        if (!sbti_cuda_ok(be, e, "scratch: cudaFree"))
            return NULL;
    }
    cb->scratch_gen++;
    size_t want = bytes < ((size_t)1 << 20) ? ((size_t)1 << 20) : bytes + bytes / 4;
    void *p = NULL;
    cudaError_t e = cudaMalloc(&p, want);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        size_t fr = 0, tot = 0;
        (void)cudaMemGetInfo(&fr, &tot);
        sbti_backend_fail(be, SBT_E_OUT_OF_MEMORY,
                          "cuda %s: cannot allocate %zu bytes of scratch: %s (%zu of %zu bytes free "
                          "on device %d)",
                          op, want, cudaGetErrorString(e), fr, tot, cb->device);
        return NULL;
    }
    cb->scratch = p;
    cb->scratch_size = want;
    return p;
}

/* ---- lifetime ----------------------------------------------------------------------------- */

static void cuda_destroy(sbti_backend *be)
{
    if (!be)
        return;
    cuda_full *f = (cuda_full *)be;
    sbti_cuda_backend *cb = &f->cb;
    (void)cudaSetDevice(cb->device);
    if (cb->stream)
        (void)cudaStreamSynchronize(cb->stream);
    sbti_cuda_mm_plans_free(cb);
    sbti_cuda_sdpa_free(cb);
    if (cb->lt)
        (void)cublasLtDestroy(cb->lt);
    if (cb->lt_ws)
        (void)cudaFree(cb->lt_ws);
    if (cb->scratch)
        (void)cudaFree(cb->scratch);
    if (cb->host_double)
        (void)cudaFreeHost(cb->host_double);
    for (int i = 0; i < STAGE_SLOTS; i++) {
        if (f->staged[i])
            (void)cudaEventDestroy(f->staged[i]);
        if (f->stage[i])
            (void)cudaFreeHost(f->stage[i]);
    }
    if (cb->stream)
        (void)cudaStreamDestroy(cb->stream);
    (void)cudaGetLastError();
    free(f);
}

/* ---- memory ------------------------------------------------------------------------------ */

static sbt_status cuda_alloc(sbti_backend *be, void **out, sbti_mem kind, size_t n)
{
    if (!out)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "cuda alloc: out is NULL");
    *out = NULL;
    if ((unsigned)kind >= SBTI_MEM_COUNT)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "cuda alloc: unknown memory kind %d", (int)kind);
    sbti_cuda_backend *cb = sbti_cuda(be);
    size_t es = be->elem_size[kind];
    if (n > (SIZE_MAX - 256) / es)
        return sbti_fail(SBT_E_OUT_OF_MEMORY,
                         "cuda alloc: %zu elements of %s (%zu bytes each) is too large", n,
                         kind_names[kind], es);
    size_t bytes = (n ? n : 1) * es;
    cudaError_t e = cudaSetDevice(cb->device);
    void *p = NULL;
    if (e == cudaSuccess)
        e = cudaMalloc(&p, bytes);
    if (e != cudaSuccess) {
        (void)cudaGetLastError(); /* an allocation failure is not sticky: clear it */
        size_t fr = 0, tot = 0;
        (void)cudaMemGetInfo(&fr, &tot);
        return sbti_fail(e == cudaErrorMemoryAllocation ? SBT_E_OUT_OF_MEMORY : SBT_E_BACKEND,
                         "cuda alloc: cudaMalloc of %zu bytes (%zu elements of %s) on device %d "
                         "failed: %s; %zu of %zu bytes free",
                         bytes, n, kind_names[kind], cb->device, cudaGetErrorString(e), fr, tot);
    }
    e = cudaMemsetAsync(p, 0, bytes, cb->stream);
    if (e != cudaSuccess) {
        (void)cudaFree(p);
        (void)cudaGetLastError();
        return sbti_fail(SBT_E_BACKEND, "cuda alloc: cudaMemsetAsync of %zu bytes failed: %s",
                         bytes, cudaGetErrorString(e));
    }
    *out = p;
    return SBT_OK;
}

static void cuda_free(sbti_backend *be, void *p)
{
    if (!p)
        return;
    (void)cudaSetDevice(sbti_cuda(be)->device);
    sbti_cuda_ok(be, cudaFree(p), "free: cudaFree"); /* waits for queued work using p */
}

/* A transfer's earlier-failure answer: the recorded error, also as this thread's last error. */
static sbt_status earlier(sbti_backend *be, const char *what)
{
    return sbti_fail(be->error, "cuda %s: an earlier operation failed: %s", what, be->error_msg);
}

static sbt_status cuda_upload(sbti_backend *be, void *dst, sbti_mem kind, size_t off,
                              const void *src, sbti_dtype src_dtype, size_t n)
{
    if (n == 0)
        return SBT_OK;
    if (!dst || !src)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "cuda upload: %s is NULL", dst ? "src" : "dst");
    if ((unsigned)kind >= SBTI_MEM_COUNT)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "cuda upload: unknown memory kind %d", (int)kind);
    if (kind != SBTI_MEM_I32 && src_dtype != SBTI_F32 && src_dtype != SBTI_BF16 &&
        src_dtype != SBTI_F16)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "cuda upload: unknown host dtype %d",
                         (int)src_dtype);
    if (!sbti_cuda_begin(be, "upload"))
        return earlier(be, "upload");
    cuda_full *f = (cuda_full *)be;
    sbti_cuda_backend *cb = &f->cb;
    int dst_bf16 = kind == SBTI_MEM_PARAM || kind == SBTI_MEM_ACT;
    size_t des = be->elem_size[kind];
    size_t ses = kind == SBTI_MEM_I32 ? 4 : sbti_dtype_size(src_dtype);
    int direct = kind == SBTI_MEM_I32 || (dst_bf16 ? src_dtype == SBTI_BF16 : src_dtype == SBTI_F32);
    char *d = (char *)sbti_at(be, dst, kind, off);
    const char *s = (const char *)src;
    void *dev_raw = NULL;
    if (!direct && !(dev_raw = sbti_cuda_scratch(be, STAGE_BYTES, "upload")))
        return be->error;
    size_t chunk = STAGE_BYTES / ses;
    for (size_t i = 0; i < n; i += chunk) {
        size_t m = n - i < chunk ? n - i : chunk;
        int k = f->next_stage;
        f->next_stage = (k + 1) % STAGE_SLOTS;
        /* The previous copy out of this slot must be done before it is overwritten. */
        if (!sbti_cuda_ok(be, cudaEventSynchronize(f->staged[k]), "upload: cudaEventSynchronize"))
            return be->error;
        memcpy(f->stage[k], s + i * ses, m * ses);
        void *to = direct ? (void *)(d + i * des) : dev_raw;
        if (!sbti_cuda_ok(be, cudaMemcpyAsync(to, f->stage[k], m * ses, cudaMemcpyHostToDevice,
                                              cb->stream),
                          "upload: cudaMemcpyAsync host to device"))
            return be->error;
        if (!direct) {
            sbti_cuda_convert_in(be, d + i * des, dst_bf16, dev_raw, src_dtype, m);
            if (be->error != SBT_OK)
                return be->error;
        }
        if (!sbti_cuda_ok(be, cudaEventRecord(f->staged[k], cb->stream), "upload: cudaEventRecord"))
            return be->error;
    }
    return SBT_OK;
}

static sbt_status cuda_download(sbti_backend *be, void *dst, const void *src, sbti_mem kind,
                                size_t off, size_t n)
{
    if ((unsigned)kind >= SBTI_MEM_COUNT)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "cuda download: unknown memory kind %d",
                         (int)kind);
    if (n > 0 && (!dst || !src))
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "cuda download: %s is NULL",
                         dst ? "src" : "dst");
    if (n > 0 && sbti_cuda_begin(be, "download")) {
        sbti_cuda_backend *cb = sbti_cuda(be);
        size_t es = be->elem_size[kind];
        /* bf16 kinds: the raw values go to the first half of dst, then widen in place from the
         * end (element i's 4 bytes only cover raw elements 2i, 2i+1, already read). */
        if (sbti_cuda_ok(be, cudaMemcpyAsync(dst, sbti_at(be, src, kind, off), n * es,
                                             cudaMemcpyDeviceToHost, cb->stream),
                         "download: cudaMemcpyAsync device to host") &&
            sbti_cuda_ok(be, cudaStreamSynchronize(cb->stream), "download: cudaStreamSynchronize") &&
            es == 2) {
            const uint16_t *raw = (const uint16_t *)dst;
            float *out = (float *)dst;
            for (size_t i = n; i-- > 0;) {
                uint32_t u = (uint32_t)raw[i] << 16;
                float x;
                memcpy(&x, &u, sizeof x);
                out[i] = x;
            }
        }
    }
    return sbti_backend_check(be);
}

static void cuda_zero(sbti_backend *be, void *p, sbti_mem kind, size_t n)
{
    if (n == 0 || !sbti_cuda_begin(be, "zero"))
        return;
    sbti_cuda_ok(be, cudaMemsetAsync(p, 0, n * be->elem_size[kind], sbti_cuda(be)->stream),
                 "zero: cudaMemsetAsync");
}

static void cuda_copy(sbti_backend *be, void *dst, const void *src, sbti_mem kind, size_t n)
{
    if (n == 0 || dst == src || !sbti_cuda_begin(be, "copy"))
        return;
    sbti_cuda_ok(be, cudaMemcpyAsync(dst, src, n * be->elem_size[kind], cudaMemcpyDeviceToDevice,
                                     sbti_cuda(be)->stream),
                 "copy: cudaMemcpyAsync device to device");
}

static sbt_status cuda_sync(sbti_backend *be)
{
    if (be->error != SBT_OK)
        return be->error;
    sbti_cuda_backend *cb = sbti_cuda(be);
    if (sbti_cuda_ok(be, cudaSetDevice(cb->device), "sync: cudaSetDevice"))
        sbti_cuda_ok(be, cudaStreamSynchronize(cb->stream), "sync: cudaStreamSynchronize");
    return be->error;
}

/* ---- overlap ----------------------------------------------------------------------------- */

static void *cuda_host_alloc(sbti_backend *be, size_t bytes)
{
    void *p = NULL;
    if (cudaSetDevice(sbti_cuda(be)->device) != cudaSuccess ||
        cudaMallocHost(&p, bytes ? bytes : 1) != cudaSuccess) {
        (void)cudaGetLastError(); /* not sticky: the caller reports the NULL */
        return NULL;
    }
    return p;
}

static void cuda_host_free(sbti_backend *be, void *p)
{
    if (p)
        sbti_cuda_ok(be, cudaFreeHost(p), "host_free: cudaFreeHost");
}

static sbt_status cuda_download_async(sbti_backend *be, void *dst, const void *src, sbti_mem kind,
                                      size_t off, size_t n)
{
    if (kind != SBTI_MEM_I32 && kind != SBTI_MEM_F32)
        return sbti_fail(SBT_E_INVALID_ARGUMENT,
                         "cuda download_async: memory kind %s (I32 or F32 only)",
                         (unsigned)kind < SBTI_MEM_COUNT ? kind_names[kind] : "unknown");
    if (n > 0 && (!dst || !src))
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "cuda download_async: %s is NULL",
                         dst ? "src" : "dst");
    if (n == 0)
        return SBT_OK;
    if (!sbti_cuda_begin(be, "download_async"))
        return earlier(be, "download_async");
    sbti_cuda_ok(be, cudaMemcpyAsync(dst, sbti_at(be, src, kind, off), n * 4,
                                     cudaMemcpyDeviceToHost, sbti_cuda(be)->stream),
                 "download_async: cudaMemcpyAsync device to host");
    return be->error == SBT_OK ? SBT_OK : earlier(be, "download_async");
}

/* A fence is a CUDA event (timing off), made on first use. */
static sbt_status cuda_fence_record(sbti_backend *be, void **fence)
{
    if (!sbti_cuda_begin(be, "fence_record"))
        return earlier(be, "fence_record");
    cudaEvent_t ev = (cudaEvent_t)*fence;
    if (!ev && !sbti_cuda_ok(be, cudaEventCreateWithFlags(&ev, cudaEventDisableTiming),
                             "fence_record: cudaEventCreateWithFlags"))
        return earlier(be, "fence_record");
    *fence = (void *)ev;
    if (!sbti_cuda_ok(be, cudaEventRecord(ev, sbti_cuda(be)->stream),
                      "fence_record: cudaEventRecord"))
        return earlier(be, "fence_record");
    return SBT_OK;
}

static sbt_status cuda_fence_wait(sbti_backend *be, void *fence)
{
    if (!fence)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "cuda fence_wait: fence is NULL");
    if (sbti_cuda_begin(be, "fence_wait"))
        sbti_cuda_ok(be, cudaEventSynchronize((cudaEvent_t)fence),
                     "fence_wait: cudaEventSynchronize");
    return be->error == SBT_OK ? SBT_OK : earlier(be, "fence_wait");
}

static void cuda_fence_free(sbti_backend *be, void *fence)
{
    if (!fence)
        return;
    (void)cudaSetDevice(sbti_cuda(be)->device);
    sbti_cuda_ok(be, cudaEventDestroy((cudaEvent_t)fence), "fence_free: cudaEventDestroy");
}

/* ---- graphs ------------------------------------------------------------------------------ */

/* Recording is stream capture on the backend's stream. ThreadLocal mode: a call on this thread
 * that is not allowed while capturing (cudaMalloc, a synchronous copy, a synchronisation) fails
 * instead of running outside the graph, so such a bug shows as an error, not as a graph that
 * silently misses work. Allocations by others' threads are none of its business. */
static sbt_status cuda_graph_begin(sbti_backend *be)
{
    if (!sbti_cuda_begin(be, "graph_begin"))
        return earlier(be, "graph_begin");
    cudaStream_t s = sbti_cuda(be)->stream;
    sbti_cuda_ok(be, cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal),
                 "graph_begin: cudaStreamBeginCapture");
    return be->error;
}

/* An executable graph, and the scratch buffer it was recorded with (its generation). */
typedef struct cuda_graph {
    cudaGraphExec_t exec;
    unsigned long scratch_gen;
} cuda_graph;

static sbt_status cuda_graph_end(sbti_backend *be, void **graph)
{
    *graph = NULL;
    sbti_cuda_backend *cb = sbti_cuda(be);
    /* The capture ends even after a failure, so that the stream is usable again. */
    cudaGraph_t g = NULL;
    cudaError_t e = cudaSetDevice(cb->device);
    if (e == cudaSuccess)
        e = cudaStreamEndCapture(cb->stream, &g);
    if (be->error != SBT_OK || !sbti_cuda_ok(be, e, "graph_end: cudaStreamEndCapture")) {
        if (g)
            (void)cudaGraphDestroy(g);
        return earlier(be, "graph_end");
    }
    cuda_graph *cg = (cuda_graph *)calloc(1, sizeof *cg);
    if (!cg) {
        (void)cudaGraphDestroy(g);
        return sbti_backend_fail(be, SBT_E_OUT_OF_MEMORY, "cuda graph_end: out of memory");
    }
    int ok = sbti_cuda_ok(be, cudaGraphInstantiateWithFlags(&cg->exec, g, 0),
                          "graph_end: cudaGraphInstantiateWithFlags");
    /* The executable graph is a copy: the recorded one is not needed any more. */
    ok = sbti_cuda_ok(be, cudaGraphDestroy(g), "graph_end: cudaGraphDestroy") && ok;
    if (!ok) {
        if (cg->exec)
            (void)cudaGraphExecDestroy(cg->exec);
        free(cg);
        return be->error;
    }
    cg->scratch_gen = cb->scratch_gen;
    *graph = cg;
    return SBT_OK;
}

/* A graph recorded before the scratch buffer moved would write to freed memory: it is stale
 * (SBT_E_NOT_FOUND, nothing recorded as a failure; the caller records it again). */
static sbt_status cuda_graph_launch(sbti_backend *be, void *graph)
{
    if (!sbti_cuda_begin(be, "graph_launch"))
        return earlier(be, "graph_launch");
    cuda_graph *cg = (cuda_graph *)graph;
    if (cg->scratch_gen != sbti_cuda(be)->scratch_gen)
        return SBT_E_NOT_FOUND;
    sbti_cuda_ok(be, cudaGraphLaunch(cg->exec, sbti_cuda(be)->stream),
                 "graph_launch: cudaGraphLaunch");
    return be->error;
}

/* An executable graph still running is freed when it is done (cudaGraphExecDestroy). */
static void cuda_graph_free(sbti_backend *be, void *graph)
{
    if (!graph)
        return;
    cuda_graph *cg = (cuda_graph *)graph;
    (void)cudaSetDevice(sbti_cuda(be)->device);
    sbti_cuda_ok(be, cudaGraphExecDestroy(cg->exec), "graph_free: cudaGraphExecDestroy");
    free(cg);
}

static const sbti_backend_ops cuda_ops = {
    cuda_destroy,
    cuda_alloc,
    cuda_free,
    cuda_upload,
    cuda_download,
    cuda_zero,
    cuda_copy,
    cuda_sync,
    sbti_cuda_embedding_fwd,
    sbti_cuda_embedding_bwd,
    sbti_cuda_rmsnorm_fwd,
    sbti_cuda_rmsnorm_bwd,
    sbti_cuda_matmul_fwd,
    sbti_cuda_matmul_bwd,
    sbti_cuda_rope_fwd,
    sbti_cuda_rope_bwd,
    sbti_cuda_attention_fwd,
    sbti_cuda_attention_bwd,
    sbti_cuda_swiglu_fwd,
    sbti_cuda_swiglu_bwd,
    sbti_cuda_cross_entropy,
    sbti_cuda_kv_store,
    sbti_cuda_attention_paged,
    sbti_cuda_gather_rows,
    sbti_cuda_select,
    sbti_cuda_sumsq,
    sbti_cuda_adamw,
    cuda_graph_begin,
    cuda_graph_end,
    cuda_graph_launch,
    cuda_graph_free,
    cuda_host_alloc,
    cuda_host_free,
    cuda_download_async,
    cuda_fence_record,
    cuda_fence_wait,
    cuda_fence_free,
};

/* ---- creation ---------------------------------------------------------------------------- */

static __global__ void probe_kernel(int *p)
{
    if (p)
        *p = 0;
}

/* A failed creation step: message, cleanup, status. */
static sbt_status create_fail(cuda_full *f, sbt_status st, const char *what, cudaError_t e)
{
    (void)cudaGetLastError();
    cuda_destroy(f ? &f->cb.base : NULL);
    return sbti_fail(st, "cuda backend: %s: %s (%s)", what, cudaGetErrorString(e),
                     cudaGetErrorName(e));
}

extern "C" sbt_status sbti_backend_cuda_create(sbti_backend **out, int device)
{
    if (!out)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbti_backend_cuda_create: out is NULL");
    *out = NULL;
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        return sbti_fail(SBT_E_NOT_FOUND,
                         "cuda backend: no usable CUDA device: cudaGetDeviceCount: %s (%s)",
                         cudaGetErrorString(e), cudaGetErrorName(e));
    }
    if (count <= 0)
        return sbti_fail(SBT_E_NOT_FOUND, "cuda backend: no CUDA device present");
    if (device < 0 || device >= count)
        return sbti_fail(SBT_E_NOT_FOUND, "cuda backend: device %d does not exist (%d device%s)",
                         device, count, count == 1 ? "" : "s");
    cudaDeviceProp prop;
    if ((e = cudaGetDeviceProperties(&prop, device)) != cudaSuccess)
        return create_fail(NULL, SBT_E_NOT_FOUND, "cudaGetDeviceProperties", e);
    if ((e = cudaSetDevice(device)) != cudaSuccess)
        return create_fail(NULL, SBT_E_NOT_FOUND, "cudaSetDevice", e);
    /* Is there machine code for this device in the library? */
    cudaFuncAttributes fa;
    if ((e = cudaFuncGetAttributes(&fa, probe_kernel)) != cudaSuccess) {
        (void)cudaGetLastError();
        return sbti_fail(SBT_E_UNSUPPORTED,
                         "cuda backend: %s (sm_%d%d) cannot run this library's kernels (built "
                         "for other architectures, see SELFBT_CUDA_ARCH): %s",
                         prop.name, prop.major, prop.minor, cudaGetErrorString(e));
    }

    cuda_full *f = (cuda_full *)calloc(1, sizeof *f);
    if (!f)
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "cuda backend: cannot allocate %zu bytes",
                         sizeof *f);
    sbti_cuda_backend *cb = &f->cb;
    sbti_backend *be = &cb->base;
    be->ops = &cuda_ops;
    be->name = "cuda";
    be->elem_size[SBTI_MEM_PARAM] = sizeof(bf16);
    be->elem_size[SBTI_MEM_GRAD] = sizeof(float);
    be->elem_size[SBTI_MEM_ACT] = sizeof(bf16);
    be->elem_size[SBTI_MEM_F32] = sizeof(float);
    be->elem_size[SBTI_MEM_I32] = sizeof(int32_t);
    be->master_weights = 1;
    be->asynchronous = 1;
    be->error = SBT_OK;
    cb->device = device;
    cb->num_sms = prop.multiProcessorCount;
    cb->attn_mode = sbti_cuda_attn_mode_from_env();
    const char *mm = getenv("SBT_CUDA_MATMUL");
    cb->matmul_plain = mm && strcmp(mm, "plain") == 0;

    if ((e = cudaStreamCreateWithFlags(&cb->stream, cudaStreamNonBlocking)) != cudaSuccess)
        return create_fail(f, SBT_E_BACKEND, "cudaStreamCreateWithFlags", e);
    cublasStatus_t bs = cublasLtCreate(&cb->lt);
    if (bs != CUBLAS_STATUS_SUCCESS) {
        cb->lt = NULL;
        cuda_destroy(be);
        return sbti_fail(SBT_E_BACKEND, "cuda backend: cublasLtCreate: %s (%d)",
                         cublasLtGetStatusString(bs), (int)bs);
    }
    if ((e = cudaMalloc(&cb->lt_ws, SBTI_CUDA_LT_WORKSPACE)) != cudaSuccess) {
        size_t fr = 0, tot = 0;
        (void)cudaGetLastError();
        (void)cudaMemGetInfo(&fr, &tot);
        cb->lt_ws = NULL;
        cuda_destroy(be);
        return sbti_fail(SBT_E_OUT_OF_MEMORY,
                         "cuda backend: cudaMalloc of the %zu-byte cuBLASLt workspace: %s (%zu of "
                         "%zu bytes free)",
                         SBTI_CUDA_LT_WORKSPACE, cudaGetErrorString(e), fr, tot);
    }
    if ((e = cudaMallocHost((void **)&cb->host_double, sizeof(double))) != cudaSuccess)
        return create_fail(f, SBT_E_OUT_OF_MEMORY, "cudaMallocHost (8 bytes)", e);
    for (int i = 0; i < STAGE_SLOTS; i++) {
        if ((e = cudaMallocHost(&f->stage[i], STAGE_BYTES)) != cudaSuccess)
            return create_fail(f, SBT_E_OUT_OF_MEMORY, "cudaMallocHost (staging, 2 MiB)", e);
        if ((e = cudaEventCreateWithFlags(&f->staged[i], cudaEventDisableTiming)) != cudaSuccess)
            return create_fail(f, SBT_E_BACKEND, "cudaEventCreateWithFlags", e);
    }

    int rt = 0, drv = 0;
    (void)cudaRuntimeGetVersion(&rt);
    (void)cudaDriverGetVersion(&drv);
    size_t lt = cublasLtGetVersion();
    char dnn[64];
    sbti_cuda_sdpa_describe(dnn, sizeof dnn);
    char desc[1024]; /* room for any values, then cut to the description's size */
    snprintf(desc, sizeof desc,
             "%s (device %d, sm_%d%d, %d SMs, %.1f GiB), CUDA runtime %d.%d, driver %d.%d, "
             "cuBLASLt %zu.%zu.%zu, %s",
             prop.name, device, prop.major, prop.minor, prop.multiProcessorCount,
             (double)prop.totalGlobalMem / (1024.0 * 1024.0 * 1024.0), rt / 1000, rt % 1000 / 10,
             drv / 1000, drv % 1000 / 10, lt / 10000, lt / 100 % 100, lt % 100, dnn);
    size_t dl = strlen(desc);
    if (dl >= sizeof be->description)
        dl = sizeof be->description - 1;
    memcpy(be->description, desc, dl);
    be->description[dl] = '\0';
    *out = be;
    return SBT_OK;
}
