/* cuda_sdpa.cu — attention_fwd / attention_bwd through cuDNN's fused SDPA (flash attention),
 * built with cuDNN 9's backend ("graph") C API: no cudnn-frontend, no C++ library.
 *
 * cuDNN is opened at run time (dlopen of libcudnn.so.9), so a library built with cuDNN's headers
 * still loads, and falls back to the plain kernels of cuda_attention.cu, on a machine without it.
 * The fallback is also taken for the plain mode (SBT_CUDA_ATTENTION=plain, cuda_hooks.h), for a
 * shape no cuDNN engine supports (its plan is cached as unsupported), for pointers that are not
 * 16-byte aligned, and (cudnn mode) for a deterministic backward over its workspace limit.
 *
 * The graphs are the ones cuDNN's fused flash-attention engines recognise (the pattern
 * cudnn-frontend's SDPA nodes lower to; written here from that description):
 *
 *   forward:  S = Q·Kᵀ · scale → [padding mask] → causal mask → softmax with Stats
 *             (max, sub, exp, sum, log, add: Stats = lse) → O = P·V
 *   backward: softmax_sum = rowsum(dO ∘ O); S = Q·Kᵀ · scale − Stats → [padding mask] → causal
 *             mask → P = exp; dV = Pᵀ·dO; dS = P ∘ (dO·Vᵀ − softmax_sum) · scale;
 *             dK = dSᵀ·Q; dQ = dS·K. With GQA (nkv < nh), dK and dV are reduced over the heads
 *             of each group inside the graph; K and V are never replicated.
 *
 * Layout: the tensors are strided views of our buffers, no copies. Q of (b, h, t, d) is
 * qkv[(b*T + t) * W + h*hd + d] with W = (nh + 2*nkv) * hd, K and V likewise at the key and value
 * heads, O and dO are (B*T, nh*hd), lse is (B, nh, T) = cuDNN's Stats (B, nh, T, 1).
 *
 * Masks. backend.h: query i of row b attends keys j <= i with j < len[b]. With len, the graph
 * gets a padding mask with per-row lengths seq_q = T (every query row is computed, padded ones
 * included) and seq_kv = clamp(len[b], 0, T), then the causal mask: keys j < len[b] and j <= i,
 * exactly backend.h's rule, for padded query rows too. Afterwards a small kernel writes what
 * backend.h defines where cuDNN may not: rows with len[b] <= 0 (out 0, lse -inf; gradient 0)
 * and the key/value gradients of padded keys (0).
 *
 * Determinism. The default backward uses cuDNN's dP-workspace variant (dQ written by its own
 * GEMM, no atomics: bitwise reproducible, checked by the tests; workspace about B*nh*T*T*2
 * bytes). Over the workspace limit (4 GiB or 1/16 of the device's memory) the batch runs in
 * chunks of rows; where one row alone is over it (T beyond about 8k at 32 heads), the auto mode
 * runs the variant that accumulates dQ in fp32 with atomics (small workspace, not bitwise
 * reproducible) and the cudnn mode the plain kernels. SBT_CUDA_ATTENTION=cudnn-nondet picks the
 * atomic variant always.
 *
 * Plans (graph, heuristics, execution plan) are built once per shape and cached in the backend;
 * the workspace comes from the backend's scratch. Every cuDNN call is checked: a failure while
 * building a plan falls back (the reason is kept, see sbti_cuda_attention_path), a failure while
 * executing one is recorded with sbti_backend_fail. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/cuda/cuda_internal.h"

#define SDPA_CACHE 32                            /* plans kept per backend */
#define SDPA_MAX_WORKSPACE ((int64_t)4 << 30)    /* deterministic backward workspace, at most */
#define SDPA_MAX_CONFIGS 8                       /* engine configurations tried per graph */

static void set_why(sbti_cuda_backend *cb, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void set_why(sbti_cuda_backend *cb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cb->attn_why, sizeof cb->attn_why, fmt, ap);
    va_end(ap);
}

int sbti_cuda_attn_mode_from_env(void)
{
    const char *m = getenv("SBT_CUDA_ATTENTION");
    if (!m || !*m || !strcmp(m, "auto"))
        return SBTI_CUDA_ATTN_AUTO;
    if (!strcmp(m, "cudnn"))
        return SBTI_CUDA_ATTN_CUDNN;
    if (!strcmp(m, "cudnn-nondet"))
        return SBTI_CUDA_ATTN_CUDNN_NONDET;
    if (!strcmp(m, "plain"))
        return SBTI_CUDA_ATTN_PLAIN;
    return SBTI_CUDA_ATTN_AUTO;
}

extern "C" int sbti_cuda_attention_set_mode(struct sbti_backend *be, const char *mode)
{
    if (!be || !be->name || strcmp(be->name, "cuda") != 0 || !mode)
        return -1;
    int m;
    if (!strcmp(mode, "auto"))
        m = SBTI_CUDA_ATTN_AUTO;
    else if (!strcmp(mode, "cudnn"))
        m = SBTI_CUDA_ATTN_CUDNN;
    else if (!strcmp(mode, "cudnn-nondet"))
        m = SBTI_CUDA_ATTN_CUDNN_NONDET;
    else if (!strcmp(mode, "plain"))
        m = SBTI_CUDA_ATTN_PLAIN;
    else
        return -1;
    sbti_cuda(be)->attn_mode = m;
    return 0;
}

extern "C" int sbti_cuda_attention_set_workspace_limit(struct sbti_backend *be, long long bytes)
{
    if (!be || !be->name || strcmp(be->name, "cuda") != 0)
        return -1;
    sbti_cuda(be)->attn_ws_limit = bytes > 0 ? (int64_t)bytes : 0;
    return 0;
}

extern "C" const char *sbti_cuda_attention_path(struct sbti_backend *be, const char **why)
{
    sbti_cuda_backend *cb = sbti_cuda(be);
    if (why)
        *why = cb->attn_why;
    return cb->attn_cudnn ? "cudnn" : "plain";
}

#ifndef SELFBT_HAVE_CUDNN

/* Built without cuDNN's headers: the plain kernels always. */
int sbti_cuda_sdpa_fwd(sbti_backend *be, void *, float *, const void *, const int32_t *, int, int,
                       int, int, int)
{
    sbti_cuda_backend *cb = sbti_cuda(be);
    cb->attn_cudnn = 0;
    set_why(cb, "%s", cb->attn_mode == SBTI_CUDA_ATTN_PLAIN ? "" : "built without cuDNN");
    return 0;
}

int sbti_cuda_sdpa_bwd(sbti_backend *be, void *, const void *, const void *, const void *,
                       const float *, const int32_t *, int, int, int, int, int)
{
    sbti_cuda_backend *cb = sbti_cuda(be);
    cb->attn_cudnn = 0;
    set_why(cb, "%s", cb->attn_mode == SBTI_CUDA_ATTN_PLAIN ? "" : "built without cuDNN");
    return 0;
}

void sbti_cuda_sdpa_free(sbti_cuda_backend *) {}

void sbti_cuda_sdpa_describe(char *buf, size_t n) { snprintf(buf, n, "no cuDNN (not built in)"); }

#else /* SELFBT_HAVE_CUDNN */

#include <cudnn_graph.h>
#include <dlfcn.h>
#include <pthread.h>

/* ---- fix-ups for what backend.h defines and cuDNN may leave alone ---------------------------- */

namespace {

/* seq_q[b] = T, seq_kv[b] = clamp(len[b], 0, T) (T without len). */
__global__ void sdpa_seqlen_kernel(int32_t *seq_q, int32_t *seq_kv, const int32_t *len, int B,
                                   int T)
{
    int b = blockIdx.x * blockDim.x + threadIdx.x;
    if (b >= B)
        return;
    seq_q[b] = T;
    seq_kv[b] = len ? min(max(len[b], 0), T) : T;
}

/* Forward, rows b with len[b] <= 0: out = 0, lse = -inf. One block per (b, t). */
__global__ void sdpa_fwd_fix_kernel(bf16 *out, float *lse, const int32_t *len, int T, int nh,
                                    int hd)
{
    int b = blockIdx.x / T, t = blockIdx.x % T;
    if (len[b] > 0)
        return;
    bf16 *o = out + (size_t)blockIdx.x * nh * hd;
    for (int e = threadIdx.x; e < nh * hd; e += blockDim.x)
        o[e] = __float2bfloat16_rn(0.0f);
    if (lse)
        for (int h = threadIdx.x; h < nh; h += blockDim.x)
            lse[((size_t)b * nh + h) * T + t] = -INFINITY;
}

/* Backward: zero the whole row (b, t) of dqkv where len[b] <= 0, and its key/value gradients
 * where t >= len[b]. One block per (b, t). */
__global__ void sdpa_bwd_fix_kernel(bf16 *dqkv, const int32_t *len, int T, int nh, int nkv,
                                    int hd)
{
    int b = blockIdx.x / T, t = blockIdx.x % T;
    int L = len[b];
    if (t < L)
        return;
    int W = (nh + 2 * nkv) * hd, from = L <= 0 ? 0 : nh * hd;
    bf16 *row = dqkv + (size_t)blockIdx.x * W;
    for (int e = from + threadIdx.x; e < W; e += blockDim.x)
        row[e] = __float2bfloat16_rn(0.0f);
}

} /* namespace */


/* Attribute names cudnn_graph.h marks deprecated (their replacements came with cuDNN 9.8);
 * the numeric values serve every cuDNN 9. */
#define ATTR_OPERATIONGRAPH_HANDLE ((cudnnBackendAttributeName_t)800)
#define ATTR_EXECUTION_PLAN_HANDLE ((cudnnBackendAttributeName_t)400)

/* ---- the library, opened once per process ------------------------------------------------------ */

typedef struct sdpa_api {
    int ok;          /* 1: every entry point below was found */
    char why[192];   /* else why not */
    size_t version;  /* cudnnGetVersion() */
    cudnnStatus_t (*create)(cudnnHandle_t *);
    cudnnStatus_t (*destroy)(cudnnHandle_t);
    cudnnStatus_t (*set_stream)(cudnnHandle_t, cudaStream_t);
    const char *(*error_string)(cudnnStatus_t);
    void (*last_error)(char *, size_t); /* may be NULL */
    size_t (*get_version)(void);
    cudnnStatus_t (*bcreate)(cudnnBackendDescriptorType_t, cudnnBackendDescriptor_t *);
    cudnnStatus_t (*bdestroy)(cudnnBackendDescriptor_t);
    cudnnStatus_t (*bset)(cudnnBackendDescriptor_t, cudnnBackendAttributeName_t,
                          cudnnBackendAttributeType_t, int64_t, const void *);
    cudnnStatus_t (*bget)(cudnnBackendDescriptor_t const, cudnnBackendAttributeName_t,
                          cudnnBackendAttributeType_t, int64_t, int64_t *, void *);
    cudnnStatus_t (*bfinalize)(cudnnBackendDescriptor_t);
    cudnnStatus_t (*bexecute)(cudnnHandle_t, cudnnBackendDescriptor_t, cudnnBackendDescriptor_t);
} sdpa_api;

static sdpa_api g_api;
static pthread_once_t g_api_once = PTHREAD_ONCE_INIT;

static void api_load(void)
{
    sdpa_api *a = &g_api;
    const char *names[] = {"libcudnn.so.9", "libcudnn.so"};
    void *lib = NULL;
    for (size_t i = 0; i < sizeof names / sizeof *names && !lib; i++)
        lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        const char *e = dlerror();
        snprintf(a->why, sizeof a->why, "cuDNN not found at run time (dlopen libcudnn.so.9: %s)",
                 e ? e : "?");
        return;
    }
#define SDPA_SYM(field, name)                                                                   \
    do {                                                                                        \
        *(void **)&a->field = dlsym(lib, name);                                                 \
        if (!a->field) {                                                                        \
            snprintf(a->why, sizeof a->why, "cuDNN at run time lacks %s", name);                \
            return;                                                                             \
        }                                                                                       \
    } while (0)
    SDPA_SYM(create, "cudnnCreate");
    SDPA_SYM(destroy, "cudnnDestroy");
    SDPA_SYM(set_stream, "cudnnSetStream");
    SDPA_SYM(error_string, "cudnnGetErrorString");
    SDPA_SYM(get_version, "cudnnGetVersion");
    SDPA_SYM(bcreate, "cudnnBackendCreateDescriptor");
    SDPA_SYM(bdestroy, "cudnnBackendDestroyDescriptor");
    SDPA_SYM(bset, "cudnnBackendSetAttribute");
    SDPA_SYM(bget, "cudnnBackendGetAttribute");
    SDPA_SYM(bfinalize, "cudnnBackendFinalize");
    SDPA_SYM(bexecute, "cudnnBackendExecute");
#undef SDPA_SYM
    *(void **)&a->last_error = dlsym(lib, "cudnnGetLastErrorString");
    a->version = a->get_version();
    if (a->version < 90000) {
        snprintf(a->why, sizeof a->why, "cuDNN %zu at run time: 9.0 or later is needed",
                 a->version);
        return;
    }
    a->ok = 1; /* the library stays open for the process */
}

/* "what: status name (cuDNN's last message)" into buf. */
static void describe(char *buf, size_t n, const char *what, cudnnStatus_t st)
{
    char last[160] = "";
    if (g_api.last_error)
        g_api.last_error(last, sizeof last);
    snprintf(buf, n, "%s: %s%s%s%s", what, g_api.error_string(st), last[0] ? " (" : "", last,
             last[0] ? ")" : "");
}

void sbti_cuda_sdpa_describe(char *buf, size_t n)
{
    pthread_once(&g_api_once, api_load);
    if (g_api.ok)
        snprintf(buf, n, "cuDNN %zu.%zu.%zu", g_api.version / 10000, g_api.version / 100 % 100,
                 g_api.version % 100);
    else
        snprintf(buf, n, "no cuDNN at run time");
}

/* ---- plans ------------------------------------------------------------------------------------- */

/* Unique ids of the tensors the variant pack fills. */
enum {
    U_Q = 1, U_K, U_V, U_O, U_STATS, U_DO, U_DQ, U_DK, U_DV, U_SCALE, U_ONE,
    U_NINF1, U_NINF2, U_NINF3, U_SEQ_Q, U_SEQ_KV, U_SUM, U_DQ_ACC,
    U_VIRTUAL = 100 /* virtual tensors from here */
};

typedef struct sdpa_plan {
    int used;
    int pinned;                       /* in use by the call in progress: not replaced */
    /* key */
    int bwd, B, T, nh, nkv, hd, padded, det;
    /* value */
    int ok;                           /* 0: no engine: the plain kernels run */
    cudnnBackendDescriptor_t plan;
    cudnnBackendDescriptor_t *keep;   /* every descriptor the plan was built from */
    int nkeep;
    int64_t workspace;
    char why[224];                    /* ok = 0: why */
} sdpa_plan;

struct sbti_cuda_sdpa {
    cudnnHandle_t handle;
    int failed;      /* 1: cudnnCreate failed; why in why */
    char why[224];
    sdpa_plan plans[SDPA_CACHE];
    int next;
};

static void plan_release(sdpa_plan *p)
{
    if (p->plan)
        (void)g_api.bdestroy(p->plan);
    for (int i = p->nkeep; i-- > 0;)
        (void)g_api.bdestroy(p->keep[i]);
    free(p->keep);
    memset(p, 0, sizeof *p);
}

void sbti_cuda_sdpa_free(sbti_cuda_backend *cb)
{
    sbti_cuda_sdpa *s = cb->sdpa;
    if (!s)
        return;
    for (int i = 0; i < SDPA_CACHE; i++)
        if (s->plans[i].used)
            plan_release(&s->plans[i]);
    if (s->handle)
        (void)g_api.destroy(s->handle);
    free(s);
    cb->sdpa = NULL;
}

/* The graph builder: every descriptor it creates is kept (and destroyed with the plan); the
 * first failure stops it and is described in why. */
typedef struct gb {
    cudnnStatus_t st;
    char why[192];
    cudnnBackendDescriptor_t *d;
    int n, cap;
    cudnnBackendDescriptor_t ops[64];
    int nops;
    int64_t next_uid;
} gb;

static void gfail(gb *g, cudnnStatus_t st, const char *what)
{
    if (g->st != CUDNN_STATUS_SUCCESS)
        return;
    g->st = st;
    describe(g->why, sizeof g->why, what, st);
}

static cudnnBackendDescriptor_t gnew(gb *g, cudnnBackendDescriptorType_t t, const char *what)
{
    if (g->st != CUDNN_STATUS_SUCCESS)
        return NULL;
    if (g->n == g->cap) {
        int cap = g->cap ? 2 * g->cap : 128;
        void *p = realloc(g->d, (size_t)cap * sizeof *g->d);
        if (!p) {
            gfail(g, CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED, "host allocation");
            return NULL;
        }
        g->d = (cudnnBackendDescriptor_t *)p;
        g->cap = cap;
    }
    cudnnBackendDescriptor_t d = NULL;
    cudnnStatus_t st = g_api.bcreate(t, &d);
    if (st != CUDNN_STATUS_SUCCESS) {
        gfail(g, st, what);
        return NULL;
    }
    g->d[g->n++] = d;
    return d;
}

static void gset(gb *g, cudnnBackendDescriptor_t d, cudnnBackendAttributeName_t name,
                 cudnnBackendAttributeType_t type, int64_t count, const void *value,
                 const char *what)
{
    if (g->st != CUDNN_STATUS_SUCCESS || !d)
        return;
    cudnnStatus_t st = g_api.bset(d, name, type, count, value);
    if (st != CUDNN_STATUS_SUCCESS) {
        char w[96];
        snprintf(w, sizeof w, "%s: cudnnBackendSetAttribute(%d)", what, (int)name);
        gfail(g, st, w);
    }
}

static void gfin(gb *g, cudnnBackendDescriptor_t d, const char *what)
{
    if (g->st != CUDNN_STATUS_SUCCESS || !d)
        return;
    cudnnStatus_t st = g_api.bfinalize(d);
    if (st != CUDNN_STATUS_SUCCESS) {
        char w[96];
        snprintf(w, sizeof w, "%s: cudnnBackendFinalize", what);
        gfail(g, st, w);
    }
}

static void gop(gb *g, cudnnBackendDescriptor_t op)
{
    if (g->st != CUDNN_STATUS_SUCCESS || !op)
        return;
    if (g->nops == (int)(sizeof g->ops / sizeof *g->ops)) {
        gfail(g, CUDNN_STATUS_BAD_PARAM, "too many operations");
        return;
    }
    g->ops[g->nops++] = op;
}

/* A 4-d tensor. uid 0: a fresh virtual one. */
static cudnnBackendDescriptor_t tensor(gb *g, int64_t uid, cudnnDataType_t dt, const int64_t *dim,
                                       const int64_t *stride, bool by_value)
{
    bool virt = uid == 0;
    if (virt)
        uid = g->next_uid++;
    int64_t align = 16;
    cudnnBackendDescriptor_t d = gnew(g, CUDNN_BACKEND_TENSOR_DESCRIPTOR, "tensor");
    gset(g, d, CUDNN_ATTR_TENSOR_DATA_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &dt, "tensor");
    gset(g, d, CUDNN_ATTR_TENSOR_DIMENSIONS, CUDNN_TYPE_INT64, 4, dim, "tensor");
    gset(g, d, CUDNN_ATTR_TENSOR_STRIDES, CUDNN_TYPE_INT64, 4, stride, "tensor");
    gset(g, d, CUDNN_ATTR_TENSOR_UNIQUE_ID, CUDNN_TYPE_INT64, 1, &uid, "tensor");
    gset(g, d, CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, CUDNN_TYPE_INT64, 1, &align, "tensor");
    if (virt)
        gset(g, d, CUDNN_ATTR_TENSOR_IS_VIRTUAL, CUDNN_TYPE_BOOLEAN, 1, &virt, "tensor");
    if (by_value)
        gset(g, d, CUDNN_ATTR_TENSOR_IS_BY_VALUE, CUDNN_TYPE_BOOLEAN, 1, &by_value, "tensor");
    gfin(g, d, "tensor");
    return d;
}

static cudnnBackendDescriptor_t vt(gb *g, cudnnDataType_t dt, const int64_t *dim,
                                   const int64_t *stride)
{
    return tensor(g, 0, dt, dim, stride, false);
}

/* A float scalar passed by value (host pointer in the variant pack). */
static cudnnBackendDescriptor_t scalar(gb *g, int64_t uid)
{
    static const int64_t one[4] = {1, 1, 1, 1};
    return tensor(g, uid, CUDNN_DATA_FLOAT, one, one, true);
}

/* y = mode(x [, b [, t]]); axis >= 0 for GEN_INDEX. */
static void pw(gb *g, cudnnPointwiseMode_t mode, cudnnDataType_t prec, int64_t axis,
               cudnnBackendDescriptor_t x, cudnnBackendDescriptor_t b, cudnnBackendDescriptor_t t,
               cudnnBackendDescriptor_t y)
{
    cudnnBackendDescriptor_t p = gnew(g, CUDNN_BACKEND_POINTWISE_DESCRIPTOR, "pointwise");
    gset(g, p, CUDNN_ATTR_POINTWISE_MODE, CUDNN_TYPE_POINTWISE_MODE, 1, &mode, "pointwise");
    gset(g, p, CUDNN_ATTR_POINTWISE_MATH_PREC, CUDNN_TYPE_DATA_TYPE, 1, &prec, "pointwise");
    if (axis >= 0)
        gset(g, p, CUDNN_ATTR_POINTWISE_AXIS, CUDNN_TYPE_INT64, 1, &axis, "pointwise");
    gfin(g, p, "pointwise");
    cudnnBackendDescriptor_t op =
        gnew(g, CUDNN_BACKEND_OPERATION_POINTWISE_DESCRIPTOR, "pointwise operation");
    gset(g, op, CUDNN_ATTR_OPERATION_POINTWISE_PW_DESCRIPTOR, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &p,
         "pointwise operation");
    gset(g, op, CUDNN_ATTR_OPERATION_POINTWISE_XDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &x,
         "pointwise operation");
    if (b)
        gset(g, op, CUDNN_ATTR_OPERATION_POINTWISE_BDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &b,
             "pointwise operation");
    if (t)
        gset(g, op, CUDNN_ATTR_OPERATION_POINTWISE_TDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &t,
             "pointwise operation");
    gset(g, op, CUDNN_ATTR_OPERATION_POINTWISE_YDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &y,
         "pointwise operation");
    gfin(g, op, "pointwise operation");
    gop(g, op);
}

static void reduce(gb *g, cudnnReduceTensorOp_t red, cudnnBackendDescriptor_t x,
                   cudnnBackendDescriptor_t y)
{
    cudnnDataType_t f = CUDNN_DATA_FLOAT;
    cudnnBackendDescriptor_t r = gnew(g, CUDNN_BACKEND_REDUCTION_DESCRIPTOR, "reduction");
    gset(g, r, CUDNN_ATTR_REDUCTION_OPERATOR, CUDNN_TYPE_REDUCTION_OPERATOR_TYPE, 1, &red,
         "reduction");
    gset(g, r, CUDNN_ATTR_REDUCTION_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &f, "reduction");
    gfin(g, r, "reduction");
    cudnnBackendDescriptor_t op =
        gnew(g, CUDNN_BACKEND_OPERATION_REDUCTION_DESCRIPTOR, "reduction operation");
    gset(g, op, CUDNN_ATTR_OPERATION_REDUCTION_XDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &x,
         "reduction operation");
    gset(g, op, CUDNN_ATTR_OPERATION_REDUCTION_YDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &y,
         "reduction operation");
    gset(g, op, CUDNN_ATTR_OPERATION_REDUCTION_DESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &r,
         "reduction operation");
    gfin(g, op, "reduction operation");
    gop(g, op);
}

/* c = a · b, with optional per-row overrides of M, N, K (the sequence lengths). */
static void matmul(gb *g, cudnnBackendDescriptor_t a, cudnnBackendDescriptor_t b,
                   cudnnBackendDescriptor_t c, cudnnBackendDescriptor_t m,
                   cudnnBackendDescriptor_t n, cudnnBackendDescriptor_t k)
{
    cudnnDataType_t f = CUDNN_DATA_FLOAT;
    cudnnBackendDescriptor_t md = gnew(g, CUDNN_BACKEND_MATMUL_DESCRIPTOR, "matmul");
    gset(g, md, CUDNN_ATTR_MATMUL_COMP_TYPE, CUDNN_TYPE_DATA_TYPE, 1, &f, "matmul");
    gfin(g, md, "matmul");
    cudnnBackendDescriptor_t op =
        gnew(g, CUDNN_BACKEND_OPERATION_MATMUL_DESCRIPTOR, "matmul operation");
    gset(g, op, CUDNN_ATTR_OPERATION_MATMUL_ADESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &a,
         "matmul operation");
    gset(g, op, CUDNN_ATTR_OPERATION_MATMUL_BDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &b,
         "matmul operation");
    gset(g, op, CUDNN_ATTR_OPERATION_MATMUL_CDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &c,
         "matmul operation");
    gset(g, op, CUDNN_ATTR_OPERATION_MATMUL_DESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &md,
         "matmul operation");
    if (m)
        gset(g, op, CUDNN_ATTR_OPERATION_MATMUL_GEMM_M_OVERRIDE_DESC,
             CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &m, "matmul operation");
    if (n)
        gset(g, op, CUDNN_ATTR_OPERATION_MATMUL_GEMM_N_OVERRIDE_DESC,
             CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &n, "matmul operation");
    if (k)
        gset(g, op, CUDNN_ATTR_OPERATION_MATMUL_GEMM_K_OVERRIDE_DESC,
             CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &k, "matmul operation");
    gfin(g, op, "matmul operation");
    gop(g, op);
}

static void reshape(gb *g, cudnnBackendDescriptor_t x, cudnnBackendDescriptor_t y)
{
    cudnnBackendDescriptor_t op =
        gnew(g, CUDNN_BACKEND_OPERATION_RESHAPE_DESCRIPTOR, "reshape operation");
    gset(g, op, CUDNN_ATTR_OPERATION_RESHAPE_XDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &x,
         "reshape operation");
    gset(g, op, CUDNN_ATTR_OPERATION_RESHAPE_YDESC, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &y,
         "reshape operation");
    gfin(g, op, "reshape operation");
    gop(g, op);
}

/* Scores (b, h, T, T) keep where row < seq_q[b] and col < seq_kv[b], else -inf. */
static cudnnBackendDescriptor_t padding_mask(gb *g, cudnnBackendDescriptor_t s,
                                             cudnnBackendDescriptor_t seq_q,
                                             cudnnBackendDescriptor_t seq_kv, int64_t ninf_uid,
                                             const int64_t *dim, const int64_t *str)
{
    cudnnBackendDescriptor_t row = vt(g, CUDNN_DATA_INT32, dim, str),
                             col = vt(g, CUDNN_DATA_INT32, dim, str);
    pw(g, CUDNN_POINTWISE_GEN_INDEX, CUDNN_DATA_INT32, 2, s, NULL, NULL, row);
    pw(g, CUDNN_POINTWISE_GEN_INDEX, CUDNN_DATA_INT32, 3, s, NULL, NULL, col);
    cudnnBackendDescriptor_t rm = vt(g, CUDNN_DATA_BOOLEAN, dim, str),
                             cm = vt(g, CUDNN_DATA_BOOLEAN, dim, str),
                             m = vt(g, CUDNN_DATA_BOOLEAN, dim, str);
    pw(g, CUDNN_POINTWISE_CMP_LT, CUDNN_DATA_BOOLEAN, -1, row, seq_q, NULL, rm);
    pw(g, CUDNN_POINTWISE_CMP_LT, CUDNN_DATA_BOOLEAN, -1, col, seq_kv, NULL, cm);
    pw(g, CUDNN_POINTWISE_LOGICAL_AND, CUDNN_DATA_BOOLEAN, -1, rm, cm, NULL, m);
    cudnnBackendDescriptor_t out = vt(g, CUDNN_DATA_FLOAT, dim, str);
    pw(g, CUDNN_POINTWISE_BINARY_SELECT, CUDNN_DATA_FLOAT, -1, s, scalar(g, ninf_uid), m, out);
    return out;
}

/* Scores keep where row >= col (top-left causal), else -inf. */
static cudnnBackendDescriptor_t causal_mask(gb *g, cudnnBackendDescriptor_t s, int64_t ninf_uid,
                                            const int64_t *dim, const int64_t *str)
{
    cudnnBackendDescriptor_t row = vt(g, CUDNN_DATA_INT32, dim, str),
                             col = vt(g, CUDNN_DATA_INT32, dim, str);
    pw(g, CUDNN_POINTWISE_GEN_INDEX, CUDNN_DATA_FLOAT, 2, s, NULL, NULL, row);
    pw(g, CUDNN_POINTWISE_GEN_INDEX, CUDNN_DATA_FLOAT, 3, s, NULL, NULL, col);
    cudnnBackendDescriptor_t m = vt(g, CUDNN_DATA_BOOLEAN, dim, str);
    pw(g, CUDNN_POINTWISE_CMP_GE, CUDNN_DATA_BOOLEAN, -1, row, col, NULL, m);
    cudnnBackendDescriptor_t out = vt(g, CUDNN_DATA_FLOAT, dim, str);
    pw(g, CUDNN_POINTWISE_BINARY_SELECT, CUDNN_DATA_FLOAT, -1, s, scalar(g, ninf_uid), m, out);
    return out;
}

/* The operations of the forward or backward graph for plan p's key. */
static void build_graph(gb *g, const sdpa_plan *p)
{
    const int64_t B = p->B, T = p->T, nh = p->nh, nkv = p->nkv, hd = p->hd;
    const int64_t W = (nh + 2 * nkv) * hd;
    const int64_t q_dim[4] = {B, nh, T, hd}, q_str[4] = {T * W, hd, W, 1};
    const int64_t kv_dim[4] = {B, nkv, T, hd}, kv_str[4] = {T * W, hd, W, 1};
    const int64_t kt_dim[4] = {B, nkv, hd, T}, kt_str[4] = {T * W, hd, 1, W};
    const int64_t o_dim[4] = {B, nh, T, hd}, o_str[4] = {T * nh * hd, hd, nh * hd, 1};
    const int64_t s_dim[4] = {B, nh, T, T}, s_str[4] = {nh * T * T, T * T, T, 1};
    const int64_t st_dim[4] = {B, nh, T, 1}, st_str[4] = {nh * T, T, 1, 1};
    const int64_t sl_dim[4] = {B, 1, 1, 1}, sl_str[4] = {1, 1, 1, 1};
    const cudnnDataType_t BF = CUDNN_DATA_BFLOAT16, F = CUDNN_DATA_FLOAT;
    g->next_uid = U_VIRTUAL;

    cudnnBackendDescriptor_t Q = tensor(g, U_Q, BF, q_dim, q_str, false);
    cudnnBackendDescriptor_t KT = tensor(g, U_K, BF, kt_dim, kt_str, false);
    cudnnBackendDescriptor_t O = tensor(g, U_O, BF, o_dim, o_str, false);
    cudnnBackendDescriptor_t ST = tensor(g, U_STATS, F, st_dim, st_str, false);
    cudnnBackendDescriptor_t scale = scalar(g, U_SCALE);
    cudnnBackendDescriptor_t SQ = NULL, SKV = NULL;
    if (p->padded) {
        SQ = tensor(g, U_SEQ_Q, CUDNN_DATA_INT32, sl_dim, sl_str, false);
        SKV = tensor(g, U_SEQ_KV, CUDNN_DATA_INT32, sl_dim, sl_str, false);
    }

    if (!p->bwd) {
        cudnnBackendDescriptor_t V = tensor(g, U_V, BF, kv_dim, kv_str, false);
        cudnnBackendDescriptor_t s1 = vt(g, F, s_dim, s_str), s2 = vt(g, F, s_dim, s_str);
        matmul(g, Q, KT, s1, SQ, SKV, NULL);
        pw(g, CUDNN_POINTWISE_MUL, F, -1, s1, scale, NULL, s2);
        cudnnBackendDescriptor_t s = s2;
        if (p->padded)
            s = padding_mask(g, s, SQ, SKV, U_NINF1, s_dim, s_str);
        s = causal_mask(g, s, U_NINF2, s_dim, s_str);
        cudnnBackendDescriptor_t mx = vt(g, F, st_dim, st_str), sub = vt(g, F, s_dim, s_str),
                                 ex = vt(g, F, s_dim, s_str), sum = vt(g, F, st_dim, st_str),
                                 lg = vt(g, F, st_dim, st_str), P = vt(g, BF, s_dim, s_str);
        reduce(g, CUDNN_REDUCE_TENSOR_MAX, s, mx);
        pw(g, CUDNN_POINTWISE_SUB, F, -1, s, mx, NULL, sub);
        pw(g, CUDNN_POINTWISE_EXP, F, -1, sub, NULL, NULL, ex);
        reduce(g, CUDNN_REDUCE_TENSOR_ADD, ex, sum);
        pw(g, CUDNN_POINTWISE_LOG, F, -1, sum, NULL, NULL, lg);
        pw(g, CUDNN_POINTWISE_ADD, F, -1, mx, lg, NULL, ST);
        pw(g, CUDNN_POINTWISE_DIV, F, -1, ex, sum, NULL, P);
        matmul(g, P, V, O, SQ, NULL, SKV);
        return;
    }

    const int64_t vt_dim[4] = {B, nkv, hd, T}, vt_str[4] = {T * W, hd, 1, W};
    const int64_t full_dim[4] = {B, nh, T, hd}, full_str[4] = {nh * T * hd, T * hd, hd, 1};
    const int64_t tr_str[4] = {nh * T * T, T * T, 1, T}; /* (b, h, key, query) view */
    cudnnBackendDescriptor_t VT = tensor(g, U_V, BF, vt_dim, vt_str, false);
    cudnnBackendDescriptor_t dO = tensor(g, U_DO, BF, o_dim, o_str, false);
    cudnnBackendDescriptor_t dQ = tensor(g, U_DQ, BF, q_dim, q_str, false);
    cudnnBackendDescriptor_t dK = tensor(g, U_DK, BF, kv_dim, kv_str, false);
    cudnnBackendDescriptor_t dV = tensor(g, U_DV, BF, kv_dim, kv_str, false);
    cudnnBackendDescriptor_t one = scalar(g, U_ONE);

    /* softmax_sum = rowsum(dO * O), kept in the workspace */
    const int64_t do_str[4] = {nh * T * hd, T * hd, nh * hd, 1};
    cudnnBackendDescriptor_t t1 = vt(g, F, o_dim, do_str), t2 = vt(g, F, st_dim, st_str);
    cudnnBackendDescriptor_t SUM = tensor(g, U_SUM, F, st_dim, st_str, false);
    pw(g, CUDNN_POINTWISE_MUL, F, -1, dO, O, NULL, t1);
    reduce(g, CUDNN_REDUCE_TENSOR_ADD, t1, t2);
    pw(g, CUDNN_POINTWISE_MUL, F, -1, t2, one, NULL, SUM);

    /* P = exp(S * scale - Stats), masked */
    cudnnBackendDescriptor_t s1 = vt(g, F, s_dim, s_str), s2 = vt(g, F, s_dim, s_str),
                             s3 = vt(g, F, s_dim, s_str);
    matmul(g, Q, KT, s1, SQ, SKV, NULL);
    pw(g, CUDNN_POINTWISE_MUL, F, -1, s1, scale, NULL, s2);
    pw(g, CUDNN_POINTWISE_SUB, F, -1, s2, ST, NULL, s3);
    cudnnBackendDescriptor_t s = s3;
    if (p->padded) {
        s = padding_mask(g, s, SQ, SKV, U_NINF1, s_dim, s_str);
        if (g_api.version < 91000) /* cuDNN 9.0-9.9 want the padding again after the stats */
            s = padding_mask(g, s, SQ, SKV, U_NINF3, s_dim, s_str);
    }
    s = causal_mask(g, s, U_NINF2, s_dim, s_str);
    cudnnBackendDescriptor_t E = vt(g, F, s_dim, s_str);
    pw(g, CUDNN_POINTWISE_EXP, F, -1, s, NULL, NULL, E);

    /* dV = Pᵀ · dO (reduced over each group's heads) */
    cudnnBackendDescriptor_t PT = vt(g, BF, s_dim, tr_str);
    reshape(g, E, PT);
    if (nh == nkv) {
        matmul(g, PT, dO, dV, SKV, NULL, SQ);
    } else {
        cudnnBackendDescriptor_t dVf = vt(g, BF, full_dim, full_str);
        matmul(g, PT, dO, dVf, SKV, NULL, SQ);
        reduce(g, CUDNN_REDUCE_TENSOR_ADD, dVf, dV);
    }

    /* dS = P * (dO · Vᵀ - softmax_sum) * scale */
    cudnnBackendDescriptor_t dP = vt(g, F, s_dim, s_str), d2 = vt(g, F, s_dim, s_str),
                             d3 = vt(g, F, s_dim, s_str), dS = vt(g, F, s_dim, s_str);
    matmul(g, dO, VT, dP, SQ, SKV, NULL);
    pw(g, CUDNN_POINTWISE_SUB, F, -1, dP, SUM, NULL, d2);
    pw(g, CUDNN_POINTWISE_MUL, F, -1, d2, E, NULL, d3);
    pw(g, CUDNN_POINTWISE_MUL, F, -1, d3, scale, NULL, dS);

    /* dK = dSᵀ · Q (reduced over each group's heads) */
    cudnnBackendDescriptor_t dST = vt(g, BF, s_dim, tr_str);
    reshape(g, dS, dST);
    if (nh == nkv) {
        matmul(g, dST, Q, dK, SKV, NULL, SQ);
    } else {
        cudnnBackendDescriptor_t dKf = vt(g, BF, full_dim, full_str);
        matmul(g, dST, Q, dKf, SKV, NULL, SQ);
        reduce(g, CUDNN_REDUCE_TENSOR_ADD, dKf, dK);
    }

    /* dQ = dS · K */
    cudnnBackendDescriptor_t K = vt(g, F, kv_dim, kv_str);
    reshape(g, KT, K);
    if (p->det) {
        matmul(g, dS, K, dQ, SQ, NULL, SKV);
    } else {
        cudnnBackendDescriptor_t acc = tensor(g, U_DQ_ACC, F, full_dim, full_str, false);
        matmul(g, dS, K, acc, SQ, NULL, SKV);
        pw(g, CUDNN_POINTWISE_IDENTITY, F, -1, acc, NULL, NULL, dQ);
    }
}

/* 1 when the engine configuration's engine notes non-determinism. */
static int cfg_nondeterministic(cudnnBackendDescriptor_t cfg)
{
    cudnnBackendDescriptor_t eng = NULL;
    if (g_api.bcreate(CUDNN_BACKEND_ENGINE_DESCRIPTOR, &eng) != CUDNN_STATUS_SUCCESS)
        return 0;
    int64_t n = 0;
    int nondet = 0;
    if (g_api.bget(cfg, CUDNN_ATTR_ENGINECFG_ENGINE, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &n, &eng) ==
            CUDNN_STATUS_SUCCESS &&
        n == 1) {
        cudnnBackendNumericalNote_t notes[CUDNN_NUMERICAL_NOTE_TYPE_COUNT];
        int64_t k = 0;
        if (g_api.bget(eng, CUDNN_ATTR_ENGINE_NUMERICAL_NOTE, CUDNN_TYPE_NUMERICAL_NOTE,
                       CUDNN_NUMERICAL_NOTE_TYPE_COUNT, &k, notes) == CUDNN_STATUS_SUCCESS)
            for (int64_t i = 0; i < k; i++)
                if (notes[i] == CUDNN_NUMERICAL_NOTE_NONDETERMINISTIC)
                    nondet = 1;
    }
    (void)g_api.bdestroy(eng);
    return nondet;
}

/* Builds plan p (its key set): graph, heuristics, the first engine configuration that
 * finalizes. On failure p->ok stays 0 and why says what failed. */
static void plan_build(sbti_cuda_sdpa *s, sdpa_plan *p, char *why, size_t nwhy)
{
    gb g;
    memset(&g, 0, sizeof g);
    build_graph(&g, p);
    cudnnBackendDescriptor_t og = gnew(&g, CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR, "graph");
    gset(&g, og, ATTR_OPERATIONGRAPH_HANDLE, CUDNN_TYPE_HANDLE, 1, &s->handle, "graph");
    gset(&g, og, CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR, g.nops, g.ops,
         "graph");
    gfin(&g, og, "operation graph");
    cudnnBackendDescriptor_t eh = gnew(&g, CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR, "heuristics");
    cudnnBackendHeurMode_t mode = CUDNN_HEUR_MODE_A;
    gset(&g, eh, CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &og,
         "heuristics");
    gset(&g, eh, CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &mode, "heuristics");
    gfin(&g, eh, "heuristics");
    int64_t count = 0;
    if (g.st == CUDNN_STATUS_SUCCESS) {
        cudnnStatus_t st = g_api.bget(eh, CUDNN_ATTR_ENGINEHEUR_RESULTS,
                                      CUDNN_TYPE_BACKEND_DESCRIPTOR, 0, &count, NULL);
        if (st != CUDNN_STATUS_SUCCESS)
            gfail(&g, st, "heuristics results (count)");
        else if (count <= 0)
            gfail(&g, CUDNN_STATUS_NOT_SUPPORTED, "heuristics: no engine for this graph");
    }
    cudnnBackendDescriptor_t cfgs[SDPA_MAX_CONFIGS];
    int ncfg = 0;
    if (g.st == CUDNN_STATUS_SUCCESS) {
        int want = count < SDPA_MAX_CONFIGS ? (int)count : SDPA_MAX_CONFIGS;
        for (int i = 0; i < want; i++)
            cfgs[i] = gnew(&g, CUDNN_BACKEND_ENGINECFG_DESCRIPTOR, "engine configuration");
        int64_t got = 0;
        if (g.st == CUDNN_STATUS_SUCCESS) {
            cudnnStatus_t st = g_api.bget(eh, CUDNN_ATTR_ENGINEHEUR_RESULTS,
                                          CUDNN_TYPE_BACKEND_DESCRIPTOR, want, &got, cfgs);
            if (st != CUDNN_STATUS_SUCCESS)
                gfail(&g, st, "heuristics results");
            ncfg = (int)(got < want ? got : want);
        }
    }
    cudnnBackendDescriptor_t plan = NULL;
    char last[224] = "no engine configuration finalized";
    for (int i = 0; i < ncfg && g.st == CUDNN_STATUS_SUCCESS && !plan; i++) {
        if (p->det && cfg_nondeterministic(cfgs[i])) {
            snprintf(last, sizeof last, "only non-deterministic engines");
            continue;
        }
        cudnnBackendDescriptor_t pl = NULL;
        cudnnStatus_t st = g_api.bcreate(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR, &pl);
        if (st == CUDNN_STATUS_SUCCESS)
            st = g_api.bset(pl, ATTR_EXECUTION_PLAN_HANDLE, CUDNN_TYPE_HANDLE, 1, &s->handle);
        if (st == CUDNN_STATUS_SUCCESS)
            st = g_api.bset(pl, CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG,
                            CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &cfgs[i]);
        if (st == CUDNN_STATUS_SUCCESS)
            st = g_api.bfinalize(pl);
        if (st == CUDNN_STATUS_SUCCESS) {
            plan = pl;
        } else {
            describe(last, sizeof last, "execution plan", st);
            if (pl)
                (void)g_api.bdestroy(pl);
        }
    }
    if (g.st == CUDNN_STATUS_SUCCESS && !plan)
        gfail(&g, CUDNN_STATUS_NOT_SUPPORTED, last);
    int64_t ws = 0;
    if (g.st == CUDNN_STATUS_SUCCESS) {
        int64_t n = 0;
        cudnnStatus_t st = g_api.bget(plan, CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE,
                                      CUDNN_TYPE_INT64, 1, &n, &ws);
        if (st != CUDNN_STATUS_SUCCESS)
            gfail(&g, st, "workspace size");
    }
    if (g.st != CUDNN_STATUS_SUCCESS) {
        snprintf(why, nwhy, "cuDNN %s graph %s", p->bwd ? "backward" : "forward", g.why);
        if (plan)
            (void)g_api.bdestroy(plan);
        for (int i = g.n; i-- > 0;)
            (void)g_api.bdestroy(g.d[i]);
        free(g.d);
        p->ok = 0;
        return;
    }
    p->ok = 1;
    p->plan = plan;
    p->keep = g.d;
    p->nkeep = g.n;
    p->workspace = ws;
}

/* The state of cb (handle on first use); NULL with why set when cuDNN cannot be used. */
static sbti_cuda_sdpa *state(sbti_cuda_backend *cb)
{
    pthread_once(&g_api_once, api_load);
    if (!g_api.ok) {
        set_why(cb, "%s", g_api.why);
        return NULL;
    }
    if (!cb->sdpa) {
        cb->sdpa = (sbti_cuda_sdpa *)calloc(1, sizeof *cb->sdpa);
        if (!cb->sdpa) {
            set_why(cb, "cannot allocate the cuDNN state");
            return NULL;
        }
        cudnnStatus_t st = g_api.create(&cb->sdpa->handle);
        if (st == CUDNN_STATUS_SUCCESS) {
            st = g_api.set_stream(cb->sdpa->handle, cb->stream);
            if (st != CUDNN_STATUS_SUCCESS)
                describe(cb->sdpa->why, sizeof cb->sdpa->why, "cudnnSetStream", st);
        } else {
            cb->sdpa->handle = NULL;
            describe(cb->sdpa->why, sizeof cb->sdpa->why, "cudnnCreate", st);
        }
        if (st != CUDNN_STATUS_SUCCESS) {
            cb->sdpa->failed = 1;
            (void)cudaGetLastError();
        }
    }
    if (cb->sdpa->failed) {
        set_why(cb, "%s", cb->sdpa->why);
        return NULL;
    }
    return cb->sdpa;
}

/* The cached plan for the key (built on first use); NULL with why set where cuDNN cannot run
 * it. */
static sdpa_plan *plan_for(sbti_cuda_backend *cb, int bwd, int B, int T, int nh, int nkv, int hd,
                           int padded, int det)
{
    sbti_cuda_sdpa *s = state(cb);
    if (!s)
        return NULL;
    sdpa_plan *p = NULL;
    for (int i = 0; i < SDPA_CACHE && !p; i++) {
        sdpa_plan *c = &s->plans[i];
        if (c->used && c->bwd == bwd && c->B == B && c->T == T && c->nh == nh && c->nkv == nkv &&
            c->hd == hd && c->padded == padded && c->det == det)
            p = c;
    }
    if (!p) {
        for (int i = 0; i < SDPA_CACHE && !p; i++)
            if (!s->plans[i].used)
                p = &s->plans[i];
        while (!p) {
            sdpa_plan *c = &s->plans[s->next];
            s->next = (s->next + 1) % SDPA_CACHE;
            if (!c->pinned) {
                plan_release(c);
                p = c;
            }
        }
        p->used = 1;
        p->bwd = bwd, p->B = B, p->T = T, p->nh = nh, p->nkv = nkv, p->hd = hd;
        p->padded = padded, p->det = det;
        plan_build(s, p, p->why, sizeof p->why);
        (void)cudaGetLastError(); /* cuDNN's probing must not leave a sticky runtime error */
    }
    if (!p->ok) { /* the failed key stays cached: its graph is not rebuilt every call */
        set_why(cb, "%s", p->why);
        return NULL;
    }
    return p;
}

/* Appends a tensor to the variant pack being built (uids, vp, n in scope). */
#define SDPA_ADD(u, ptr) (uids[n] = (u), vp[n] = (void *)(ptr), n++)

static inline size_t align_up(size_t x) { return (x + 255) & ~(size_t)255; }

static inline int aligned16(const void *p) { return ((uintptr_t)p & 15u) == 0; }

/* Common checks; the plan or NULL (the caller falls back). */
static sdpa_plan *prepare(sbti_backend *be, int bwd, const void *const *ptrs, int nptr,
                          const int32_t *len, int B, int T, int nh, int nkv, int hd, int *det)
{
    sbti_cuda_backend *cb = sbti_cuda(be);
    cb->attn_cudnn = 0;
    cb->attn_why[0] = '\0';
    if (cb->attn_mode == SBTI_CUDA_ATTN_PLAIN)
        return NULL;
    if (hd % 8 != 0 || hd > 256) {
        set_why(cb, "hd = %d: cuDNN's fused attention needs a multiple of 8, at most 256", hd);
        return NULL;
    }
    for (int i = 0; i < nptr; i++)
        if (!aligned16(ptrs[i])) {
            set_why(cb, "a buffer is not 16-byte aligned");
            return NULL;
        }
    *det = cb->attn_mode != SBTI_CUDA_ATTN_CUDNN_NONDET;
    pthread_once(&g_api_once, api_load);
    /* cuDNN <= 9.15's backward needs a padding mask where T is not a multiple of 128 */
    int padded = len != NULL || (bwd && T % 128 != 0 && g_api.ok && g_api.version <= 91500);
    return plan_for(cb, bwd, B, T, nh, nkv, hd, padded, bwd ? *det : 0);
}

static int execute(sbti_backend *be, sdpa_plan *p, int n, int64_t *uids, void **ptrs, void *ws,
                   const char *op)
{
    sbti_cuda_backend *cb = sbti_cuda(be);
    cudnnBackendDescriptor_t vp = NULL;
    const char *what = "cudnnBackendCreateDescriptor(variant pack)";
    cudnnStatus_t st = g_api.bcreate(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR, &vp);
    if (st == CUDNN_STATUS_SUCCESS) {
        what = "variant pack";
        st = g_api.bset(vp, CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, n, uids);
    }
    if (st == CUDNN_STATUS_SUCCESS)
        st = g_api.bset(vp, CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, n, ptrs);
    if (st == CUDNN_STATUS_SUCCESS)
        st = g_api.bset(vp, CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1, &ws);
    if (st == CUDNN_STATUS_SUCCESS)
        st = g_api.bfinalize(vp);
    if (st == CUDNN_STATUS_SUCCESS) {
        what = "cudnnBackendExecute";
        st = g_api.bexecute(cb->sdpa->handle, p->plan, vp);
    }
    if (vp)
        (void)g_api.bdestroy(vp);
    if (st != CUDNN_STATUS_SUCCESS) {
        char msg[256];
        describe(msg, sizeof msg, what, st);
        sbti_backend_fail(be, SBT_E_BACKEND, "cuda %s: cuDNN fused attention: %s", op, msg);
        return 0;
    }
    cb->attn_cudnn = 1;
    return sbti_cuda_launched(be, op);
}

int sbti_cuda_sdpa_fwd(sbti_backend *be, void *out, float *lse, const void *qkv,
                       const int32_t *len, int B, int T, int nh, int nkv, int hd)
{
    sbti_cuda_backend *cb = sbti_cuda(be);
    const bf16 *x = (const bf16 *)qkv;
    const void *ptrs[] = {x, x + (size_t)nh * hd, x + (size_t)(nh + nkv) * hd, out, lse ? lse : out};
    int det = 1;
    sdpa_plan *p = prepare(be, 0, ptrs, 5, len, B, T, nh, nkv, hd, &det);
    if (!p)
        return 0;
    size_t nstat = (size_t)B * nh * T * sizeof(float);
    size_t off_seq = align_up((size_t)p->workspace), off_stat = off_seq + align_up(2 * (size_t)B * 4);
    size_t bytes = off_stat + (lse ? 0 : align_up(nstat));
    char *scr = (char *)sbti_cuda_scratch(be, bytes, "attention_fwd");
    if (!scr)
        return 1;
    int32_t *seq_q = (int32_t *)(scr + off_seq), *seq_kv = seq_q + B;
    float *stats = lse ? lse : (float *)(scr + off_stat);
    if (p->padded) {
        sdpa_seqlen_kernel<<<(B + 127) / 128, 128, 0, cb->stream>>>(seq_q, seq_kv, len, B, T);
        if (!sbti_cuda_launched(be, "sdpa_seqlen_kernel"))
            return 1;
    }
    float scale = (float)(1.0 / sqrt((double)hd)), ninf = -INFINITY;
    int64_t uids[16];
    void *vp[16];
    int n = 0;
    SDPA_ADD(U_Q, ptrs[0]);
    SDPA_ADD(U_K, ptrs[1]);
    SDPA_ADD(U_V, ptrs[2]);
    SDPA_ADD(U_O, out);
    SDPA_ADD(U_STATS, stats);
    SDPA_ADD(U_SCALE, &scale);
    SDPA_ADD(U_NINF2, &ninf);
    if (p->padded) {
        SDPA_ADD(U_NINF1, &ninf);
        SDPA_ADD(U_SEQ_Q, seq_q);
        SDPA_ADD(U_SEQ_KV, seq_kv);
    }
    if (!execute(be, p, n, uids, vp, scr, "attention_fwd"))
        return 1;
    if (len) {
        sdpa_fwd_fix_kernel<<<(unsigned)(B * T), 128, 0, cb->stream>>>((bf16 *)out, lse, len, T,
                                                                       nh, hd);
        sbti_cuda_launched(be, "sdpa_fwd_fix_kernel");
    }
    return 1;
}

/* The backward of rows b0 .. b0 + p->B through plan p: the pointers are the call's, advanced
 * to row b0 (len too, when given). 1 when it ran (or its failure was recorded). */
static int bwd_rows(sbti_backend *be, sdpa_plan *p, bf16 *dx, const bf16 *dout, const bf16 *x,
                    const bf16 *out, const float *lse, const int32_t *len, int T, int nh,
                    int nkv, int hd)
{
    sbti_cuda_backend *cb = sbti_cuda(be);
    const int B = p->B, det = p->det;
    const size_t ko = (size_t)nh * hd, vo = (size_t)(nh + nkv) * hd;
    size_t nsum = (size_t)B * nh * T * sizeof(float);
    size_t nacc = det ? 0 : (size_t)B * nh * T * hd * sizeof(float);
    size_t off_seq = align_up((size_t)p->workspace), off_sum = off_seq + align_up(2 * (size_t)B * 4),
           off_acc = off_sum + align_up(nsum), bytes = off_acc + align_up(nacc);
    char *scr = (char *)sbti_cuda_scratch(be, bytes, "attention_bwd");
    if (!scr)
        return 1;
    int32_t *seq_q = (int32_t *)(scr + off_seq), *seq_kv = seq_q + B;
    if (p->padded) {
        sdpa_seqlen_kernel<<<(B + 127) / 128, 128, 0, cb->stream>>>(seq_q, seq_kv, len, B, T);
        if (!sbti_cuda_launched(be, "sdpa_seqlen_kernel"))
            return 1;
    }
    if (nacc && !sbti_cuda_ok(be, cudaMemsetAsync(scr + off_acc, 0, nacc, cb->stream),
                              "attention_bwd: cudaMemsetAsync (dQ accumulator)"))
        return 1;
    float scale = (float)(1.0 / sqrt((double)hd)), ninf = -INFINITY, one = 1.0f;
    int64_t uids[20];
    void *vp[20];
    int n = 0;
    SDPA_ADD(U_Q, x);
    SDPA_ADD(U_K, x + ko);
    SDPA_ADD(U_V, x + vo);
    SDPA_ADD(U_O, out);
    SDPA_ADD(U_STATS, lse);
    SDPA_ADD(U_DO, dout);
    SDPA_ADD(U_DQ, dx);
    SDPA_ADD(U_DK, dx + ko);
    SDPA_ADD(U_DV, dx + vo);
    SDPA_ADD(U_SCALE, &scale);
    SDPA_ADD(U_ONE, &one);
    SDPA_ADD(U_NINF2, &ninf);
    SDPA_ADD(U_SUM, scr + off_sum);
    if (p->padded) {
        SDPA_ADD(U_NINF1, &ninf);
        if (g_api.version < 91000)
            SDPA_ADD(U_NINF3, &ninf);
        SDPA_ADD(U_SEQ_Q, seq_q);
        SDPA_ADD(U_SEQ_KV, seq_kv);
    }
    if (nacc)
        SDPA_ADD(U_DQ_ACC, scr + off_acc);
#undef SDPA_ADD
    if (!execute(be, p, n, uids, vp, scr, "attention_bwd"))
        return 1;
    if (len) {
        sdpa_bwd_fix_kernel<<<(unsigned)(B * T), 128, 0, cb->stream>>>(dx, len, T, nh, nkv, hd);
        sbti_cuda_launched(be, "sdpa_bwd_fix_kernel");
    }
    return 1;
}

int sbti_cuda_sdpa_bwd(sbti_backend *be, void *dqkv, const void *dout, const void *qkv,
                       const void *out, const float *lse, const int32_t *len, int B, int T,
                       int nh, int nkv, int hd)
{
    sbti_cuda_backend *cb = sbti_cuda(be);
    const bf16 *x = (const bf16 *)qkv;
    bf16 *dx = (bf16 *)dqkv;
    const size_t ko = (size_t)nh * hd, vo = (size_t)(nh + nkv) * hd;
    const void *ptrs[] = {x, x + ko, x + vo, out, lse, dout, dx, dx + ko, dx + vo};
    int det = 1;
    sdpa_plan *p = prepare(be, 1, ptrs, 9, len, B, T, nh, nkv, hd, &det);
    if (!p)
        return 0;
    /* The deterministic backward's workspace (dP, about B*nh*T*T*2 bytes) grows with B: over
     * the limit, the batch goes through in chunks of rows, each within it. */
    int64_t limit = cb->attn_ws_limit;
    if (limit <= 0) { /* at most 4 GiB and 1/16 of the device's memory */
        size_t fr = 0, tot = 0;
        limit = SDPA_MAX_WORKSPACE;
        if (cudaMemGetInfo(&fr, &tot) == cudaSuccess && (int64_t)(tot / 16) < limit)
            limit = (int64_t)(tot / 16);
        (void)cudaGetLastError();
        cb->attn_ws_limit = limit;
    }
    /* p may be replaced in the cache by the lookups below: its key and size first */
    const int64_t ws_full = p->workspace;
    const int padded = p->padded;
    int Bc = B;
    sdpa_plan *pc = p, *pr = NULL;
    if (det && ws_full > limit) {
        int nchunk = (int)((ws_full + limit - 1) / limit);
        Bc = (B + nchunk - 1) / nchunk;
        for (;;) {
            /* each chunk's lse must stay 16-byte aligned */
            while (Bc > 1 && ((size_t)Bc * nh * T) % 4 != 0)
                Bc--;
            pc = Bc < B && ((size_t)Bc * nh * T) % 4 == 0
                     ? plan_for(cb, 1, Bc, T, nh, nkv, hd, padded, det)
                     : NULL;
            if (!pc || pc->workspace <= limit || Bc == 1)
                break;
            int smaller = (int)((int64_t)Bc * limit / pc->workspace);
            Bc = smaller < Bc - 1 ? (smaller > 1 ? smaller : 1) : Bc - 1;
        }
        if (pc && B % Bc) {
            pc->pinned = 1;
            pr = plan_for(cb, 1, B % Bc, T, nh, nkv, hd, padded, det);
            pc->pinned = 0;
        }
        if (!pc || pc->workspace > limit || (B % Bc && (!pr || pr->workspace > limit))) {
            char why[200];
            snprintf(why, sizeof why,
                     "the deterministic cuDNN backward wants %lld bytes of workspace (over the "
                     "limit of %lld, also in chunks of rows)",
                     (long long)ws_full, (long long)limit);
            /* auto: cuDNN's atomic backward rather than the 30-50x slower plain kernels */
            sdpa_plan *nd = cb->attn_mode == SBTI_CUDA_ATTN_AUTO
                                ? plan_for(cb, 1, B, T, nh, nkv, hd, padded, 0)
                                : NULL;
            if (!nd) {
                cb->attn_cudnn = 0;
                set_why(cb, "%s", why);
                return 0;
            }
            bwd_rows(be, nd, dx, (const bf16 *)dout, x, (const bf16 *)out, lse, len, T, nh, nkv,
                     hd);
            set_why(cb, "%s: ran the non-deterministic one", why);
            return 1;
        }
    }
    const size_t W = (size_t)(nh + 2 * nkv) * hd, O = (size_t)nh * hd;
    const bf16 *o = (const bf16 *)out, *dO = (const bf16 *)dout;
    for (int b0 = 0; b0 < B && be->error == SBT_OK; b0 += Bc) {
        sdpa_plan *q = B - b0 >= Bc ? pc : pr;
        size_t r = (size_t)b0 * T;
        bwd_rows(be, q, dx + r * W, dO + r * O, x + r * W, o + r * O, lse + (size_t)b0 * nh * T,
                 len ? len + b0 : NULL, T, nh, nkv, hd);
    }
    return 1;
}

#endif /* SELFBT_HAVE_CUDNN */
