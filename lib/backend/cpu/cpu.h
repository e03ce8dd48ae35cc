/* cpu.h — internal to lib/backend/cpu: the CPU backend's struct, its thread count, scratch,
 * and the operations each cpu_*.c file puts into the vtable (cpu_backend.c).
 *
 * Every float kind is fp32 and I32 is int32, so the void * buffers of backend.h are cast to
 * float * / int32_t * here. Every loop that runs in parallel gives each output element to one
 * thread, which sums in a fixed order: results do not depend on the thread count. */
#ifndef SBTI_BACKEND_CPU_CPU_H
#define SBTI_BACKEND_CPU_CPU_H

#include <stddef.h>
#include <stdint.h>

#include "backend/backend.h"

#ifdef _OPENMP
#include <omp.h>
#else
/* Built without OpenMP: every loop runs on the calling thread. The pragmas, and the backend
 * and thread counts that only they read, are unused on purpose. */
#pragma GCC diagnostic ignored "-Wunknown-pragmas"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wunused-variable"
static inline int omp_get_thread_num(void) { return 0; }
static inline int omp_get_max_threads(void) { return 1; }
#endif

typedef struct sbti_cpu_backend {
    sbti_backend base; /* first, so an sbti_backend * is a sbti_cpu_backend * */
    int num_threads;   /* <= 0: OpenMP's default at each call (omp_get_max_threads) */
} sbti_cpu_backend;

/* The number of threads a parallel loop of this backend uses now. */
static inline int sbti_cpu_threads(const sbti_backend *be)
{
    int n = ((const sbti_cpu_backend *)be)->num_threads;
    return n > 0 ? n : omp_get_max_threads();
}

/* n floats of scratch for one operation (malloc'd, not zeroed); on failure the error is recorded
 * in the backend, naming op, and NULL is returned (the operation then does nothing). */
float *sbti_cpu_scratch(sbti_backend *be, size_t n, const char *op);

/* ---- the operations (see backend.h for what each one computes) ------------------------- */

/* cpu_layers.c */
void sbti_cpu_embedding_fwd(sbti_backend *be, void *out, const int32_t *tok, const void *wte,
                            int N, int C);
void sbti_cpu_embedding_bwd(sbti_backend *be, void *dwte, const void *dout, const int32_t *tok,
                            int N, int C);
void sbti_cpu_rmsnorm_fwd(sbti_backend *be, void *out, float *rstd, const void *inp,
                          const void *w, int N, int C, float eps);
void sbti_cpu_rmsnorm_bwd(sbti_backend *be, void *dinp, void *dw, const void *dout,
                          const void *inp, const void *w, const float *rstd, int N, int C);
void sbti_cpu_rope_fwd(sbti_backend *be, void *qkv, const int32_t *pos, const float *inv_freq,
                       int N, int nh, int nkv, int hd);
void sbti_cpu_rope_bwd(sbti_backend *be, void *dqkv, const int32_t *pos, const float *inv_freq,
                       int N, int nh, int nkv, int hd);
void sbti_cpu_swiglu_fwd(sbti_backend *be, void *out, const void *gu, int N, int I);
void sbti_cpu_swiglu_bwd(sbti_backend *be, void *dgu, const void *dout, const void *gu, int N,
                         int I);
void sbti_cpu_gather_rows(sbti_backend *be, void *out, const void *inp, const int32_t *idx, int N,
                          int C);

/* cpu_select.c */
void sbti_cpu_select(sbti_backend *be, int32_t *ids, float *lp, float *key, int32_t *kept,
                     float *extra_lp, const void *logits, const int32_t *seeds, int R, int V,
                     const sbti_select_args *args);

/* cpu_matmul.c */
void sbti_cpu_matmul_fwd(sbti_backend *be, void *out, const void *inp, const void *w,
                         const void *res, int N, int K, int M);
void sbti_cpu_matmul_bwd(sbti_backend *be, void *dinp, void *dw, const void *dout,
                         const void *inp, const void *w, int N, int K, int M);

/* cpu_attention.c */
void sbti_cpu_attention_fwd(sbti_backend *be, void *out, float *lse, const void *qkv,
                            const int32_t *len, int B, int T, int nh, int nkv, int hd);
void sbti_cpu_attention_bwd(sbti_backend *be, void *dqkv, const void *dout, const void *qkv,
                            const void *out, const float *lse, const int32_t *len, int B, int T,
                            int nh, int nkv, int hd);
void sbti_cpu_kv_store(sbti_backend *be, void *kcache, void *vcache, const void *qkv,
                       const int32_t *slot, int N, int nh, int nkv, int hd);
void sbti_cpu_attention_paged(sbti_backend *be, void *out, const void *qkv, const void *kcache,
                              const void *vcache, const int32_t *seq, const int32_t *pos,
                              const int32_t *pages, int max_pages, int page_size, int N, int nh,
                              int nkv, int hd);

/* cpu_loss_optim.c */
void sbti_cpu_cross_entropy(sbti_backend *be, float *loss, void *logits, const int32_t *targets,
                            int N, int V, float dscale);
double sbti_cpu_sumsq(sbti_backend *be, const void *grad, size_t n);
void sbti_cpu_adamw(sbti_backend *be, void *param, float *master, const void *grad, float *m,
                    float *v, size_t n, const sbti_adamw_args *args);

#endif /* SBTI_BACKEND_CPU_CPU_H */
