/* cpu_loss_optim.c — the CPU backend's softmax cross-entropy (loss and gradient in one pass over
 * the logits), the gradient sum of squares for clipping, and torch.optim.AdamW's update. */
#include <math.h>
#include <stdlib.h>

#include "backend/cpu/cpu.h"

void sbti_cpu_cross_entropy(sbti_backend *be, float *loss, void *logits_, const int32_t *targets,
                            int N, int V, float dscale)
{
    float *logits = logits_; /* (N, V); overwritten with the gradient when dscale != 0 */
    /* loss: (N) or NULL */
    for (int n = 0; n < N; n++)
        if (targets[n] >= V) {
            sbti_backend_fail(be, SBT_E_INTERNAL,
                              "cpu cross_entropy: target %d of row %d is not below V = %d",
                              (int)targets[n], n, V);
            return;
        }
#pragma omp parallel for num_threads(sbti_cpu_threads(be)) schedule(static)
    for (int n = 0; n < N; n++) {
        float *x = logits + (size_t)n * V;
        int t = targets[n];
        if (t < 0) { /* ignored (padding, prompt): no loss, no gradient */
            if (loss)
                loss[n] = 0.0f;
            if (dscale != 0.0f)
                for (int i = 0; i < V; i++)
                    x[i] = 0.0f;
            continue;
        }
        float max = -INFINITY;
        for (int i = 0; i < V; i++)
            max = x[i] > max ? x[i] : max;
        double sum = 0.0;
        for (int i = 0; i < V; i++)
            sum += expf(x[i] - max);
        if (loss) /* logsumexp - logit[t], with the max taken out so exp cannot overflow */
            loss[n] = (float)((double)max + log(sum) - x[t]);
        if (dscale != 0.0f) {
            float inv = (float)(1.0 / sum);
            for (int i = 0; i < V; i++)
                x[i] = dscale * (expf(x[i] - max) * inv - (i == t ? 1.0f : 0.0f));
        }
    }
}

/* Fixed chunks summed in parallel, then the chunk sums in order: the same double whatever the
 * thread count. */
#define SUMSQ_CHUNK 65536

double sbti_cpu_sumsq(sbti_backend *be, const void *grad_, size_t n)
{
    const float *grad = grad_; /* (n) */
    size_t nchunks = (n + SUMSQ_CHUNK - 1) / SUMSQ_CHUNK;
    double *part = malloc((nchunks ? nchunks : 1) * sizeof *part);
    if (!part) { /* no room for the chunk sums: one thread, same chunks, same result */
        double total = 0.0;
        for (size_t c = 0; c < nchunks; c++) {
            double s = 0.0;
            size_t i1 = (c + 1) * SUMSQ_CHUNK < n ? (c + 1) * SUMSQ_CHUNK : n;
            for (size_t i = c * SUMSQ_CHUNK; i < i1; i++)
                s += (double)grad[i] * grad[i];
            total += s;
        }
        return total;
    }
#pragma omp parallel for num_threads(sbti_cpu_threads(be)) schedule(static)
    for (ptrdiff_t c = 0; c < (ptrdiff_t)nchunks; c++) {
        double s = 0.0;
        size_t i1 = ((size_t)c + 1) * SUMSQ_CHUNK < n ? ((size_t)c + 1) * SUMSQ_CHUNK : n;
        for (size_t i = (size_t)c * SUMSQ_CHUNK; i < i1; i++)
            s += (double)grad[i] * grad[i];
        part[c] = s;
    }
    double total = 0.0;
    for (size_t c = 0; c < nchunks; c++)
        total += part[c];
    free(part);
    return total;
}

/* torch.optim.AdamW's _single_tensor_adamw, op for op in fp32, with the Python-float (double)
 * scalars rounded to fp32 where torch rounds them:
 *   p *= 1 - lr*wd;  m.lerp_(g, 1 - beta1);  v = v*beta2 + (1 - beta2)*g*g;
 *   p += (-lr / (1 - beta1^step)) * m / (sqrt(v) / sqrt(1 - beta2^step) + eps).
 * The lerp (m + w (g - m) for w = 1 - beta1 < 0.5) equals backend.h's beta1 m + (1 - beta1) g up
 * to rounding; it is what torch computes. */
void sbti_cpu_adamw(sbti_backend *be, void *param_, float *master, const void *grad_, float *m,
                    float *v, size_t n, const sbti_adamw_args *a)
{
    float *param = param_;     /* (n) */
    const float *grad = grad_; /* (n) */
    double lr = a->lr, b1 = a->beta1, b2 = a->beta2, step = (double)a->step;
    float decay = (float)(1.0 - lr * (double)a->weight_decay);
    float w1 = (float)(1.0 - b1); /* the lerp weight */
    float beta2 = a->beta2, w2 = (float)(1.0 - b2);
    float step_size = (float)(lr / (1.0 - pow(b1, step)));
    float bc2_sqrt = (float)sqrt(1.0 - pow(b2, step));
    float eps = a->eps, scale = a->grad_scale;
    float *p = master ? master : param; /* the fp32 weights that are updated */
#pragma omp parallel for num_threads(sbti_cpu_threads(be)) schedule(static)
    for (ptrdiff_t i = 0; i < (ptrdiff_t)n; i++) {
        float g = grad[i] * scale;
        float x = p[i];
        x = x * decay; /* exact when weight_decay is 0: decay is 1 */
        m[i] = w1 < 0.5f ? m[i] + w1 * (g - m[i]) : g - (g - m[i]) * (1.0f - w1); /* torch lerp */
        v[i] = v[i] * beta2 + w2 * g * g;
        float denom = sqrtf(v[i]) / bc2_sqrt + eps;
        x = x + (-step_size) * m[i] / denom;
        p[i] = x;
        if (master)
            param[i] = x;
    }
}
