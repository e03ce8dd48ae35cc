/* cuda_hooks.h — internal to libselfbt: the CUDA backend's attention switches, for its tests and
 * benchmarks (C and CUDA). Not exported from libselfbt.so (hidden visibility); reachable where the
 * static library is linked.
 *
 * The CUDA backend runs attention_fwd / attention_bwd through cuDNN's fused SDPA (flash
 * attention, lib/backend/cuda/cuda_sdpa.cu) where it can, and through its plain kernels
 * (cuda_attention.cu) otherwise. The mode is read from the environment variable
 * SBT_CUDA_ATTENTION when the backend is created:
 *
 *   auto (unset)  the default: cuDNN where it is available and supports the shape, plain otherwise;
 *                 the deterministic cuDNN backward, but see the workspace limit below
 *   cudnn         the same, and never the non-deterministic backward
 *   cudnn-nondet  cuDNN with its faster backward that accumulates dQ with atomics (not bitwise
 *                 reproducible; the default backward is deterministic)
 *   plain         the plain kernels only */
#ifndef SBTI_BACKEND_CUDA_CUDA_HOOKS_H
#define SBTI_BACKEND_CUDA_CUDA_HOOKS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct sbti_backend;

/* Sets the attention mode of a CUDA backend ("auto", "cudnn", "cudnn-nondet", "plain");
 * 0 on success, -1 for an unknown name or a backend that is not CUDA's. */
int sbti_cuda_attention_set_mode(struct sbti_backend *be, const char *mode);

/* The path the last attention_fwd / attention_bwd took: "cudnn" or "plain", and when it was
 * plain in a cuDNN mode, why (else ""). Valid until the next attention call. */
const char *sbti_cuda_attention_path(struct sbti_backend *be, const char **why);

/* Caps the workspace of the deterministic cuDNN backward (bytes; 0: the default, 4 GiB or 1/16
 * of the device's memory if less). Over it, the batch runs in chunks of rows; where a single
 * row is over it, the auto mode runs cuDNN's non-deterministic backward and the cudnn mode the
 * plain kernels. 0 on success, -1 for a backend that is not CUDA's. */
int sbti_cuda_attention_set_workspace_limit(struct sbti_backend *be, long long bytes);

/* u(n) F32 = sbti_select_uniform (backend.h) of seeds(n,2) I32 and ids(n) I32 as select's kernel
 * computes it (device buffers): tests compare it with the host's bit for bit. */
void sbti_cuda_select_uniforms(struct sbti_backend *be, float *u, const int32_t *seeds,
                               const int32_t *ids, int n);

#ifdef __cplusplus
}
#endif

#endif /* SBTI_BACKEND_CUDA_CUDA_HOOKS_H */
