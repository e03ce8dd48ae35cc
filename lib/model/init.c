/* init.c — fresh weights as transformers draws them, and vocabulary growth as
 * resize_token_embeddings does it. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/rng.h"
#include "model/model.h"

/* A standard normal (Box-Muller on two uniform doubles in (0, 1]). */
static double normal(sbti_rng *r)
{
    double u1 = ((double)(sbti_rng_next(r) >> 11) + 1.0) * 0x1.0p-53;
    double u2 = (double)(sbti_rng_next(r) >> 11) * 0x1.0p-53;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* Random streams: one per (seed, tensor, row), so a tensor's values do not depend on the order
 * or the threads that draw them. */
enum { STREAM_INIT = 1, STREAM_RESIZE = 2 };

/* transformers' LlamaPreTrainedModel._init_weights: Linear and Embedding weights ~ N(0, std),
 * the padding row of the embedding zeroed, RMSNorm weights 1. */
static sbt_status init_weights(sbt_model *m, uint64_t seed)
{
    size_t biggest = 0;
    for (size_t i = 0; i < m->n_params; i++)
        biggest = m->params[i].numel > biggest ? m->params[i].numel : biggest;
    float *buf = malloc(biggest * sizeof(float));
    if (!buf)
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "model: out of memory");
    const double std = m->cfg.initializer_range;
    sbt_status st = SBT_OK;
    for (size_t i = 0; i < m->n_params && st == SBT_OK; i++) {
        const sbti_param *p = &m->params[i];
        if (p->ndim == 1) { /* a norm weight */
            for (size_t j = 0; j < p->numel; j++)
                buf[j] = 1.0f;
        } else {
            const size_t rows = (size_t)p->shape[0], cols = (size_t)p->shape[1];
#pragma omp parallel for schedule(static)
            for (size_t r = 0; r < rows; r++) {
                sbti_rng rng;
                sbti_rng_init(&rng, seed, STREAM_INIT * 1000003u + i, r);
                for (size_t c = 0; c < cols; c++)
                    buf[r * cols + c] = (float)(std * normal(&rng));
            }
            int64_t pad = m->cfg.pad_token_id;
            if (p->offset == m->off_embed && pad >= 0 && pad < p->shape[0])
                memset(buf + (size_t)pad * cols, 0, cols * sizeof(float));
        }
        st = sbti_model_set_param(m, p, buf, SBTI_F32);
    }
    free(buf);
    return st;
}

sbt_status sbti_model_create_seeded(sbt_model **out, sbti_backend *be, const sbti_config *cfg,
                                    uint64_t seed)
{
    sbt_status st = sbti_model_new(out, be, cfg);
    if (st == SBT_OK && (st = init_weights(*out, seed)) != SBT_OK) {
        sbt_model_free(*out);
        *out = NULL;
    }
    return st;
}

/* ==== vocabulary growth ================================================================= */

/* New rows of a (V_old, C) matrix w, written to out (n_new, C): transformers'
 * _init_added_embeddings_weights_with_mean draws them from N(mean, 1e-9 * cov) where mean and
 * cov are the rows' mean and (biased) covariance. A draw is made without factoring cov:
 * mean + sqrt(1e-9 / V_old) * sum_i g_i (w_i - mean), g_i ~ N(0, 1), has exactly that
 * distribution. transformers falls back to the mean when cov is not positive definite, which
 * is certain when V_old <= C; so do we (and we assume it is definite otherwise). */
static void added_rows(float *out, const float *w, size_t V, size_t C, size_t n_new,
                       uint64_t seed, uint64_t stream)
{
    double *mean = calloc(C, sizeof *mean);
    double *acc = calloc(C, sizeof *acc);
    if (!mean || !acc) { /* tiny buffers; fall back to zeros rather than fail the resize */
        memset(out, 0, n_new * C * sizeof(float));
        free(mean);
        free(acc);
        return;
    }
    for (size_t i = 0; i < V; i++)
        for (size_t c = 0; c < C; c++)
            mean[c] += w[i * C + c];
    for (size_t c = 0; c < C; c++)
        mean[c] /= (double)V;
    for (size_t k = 0; k < n_new; k++) {
        memset(acc, 0, C * sizeof *acc);
        if (V > C) {
            sbti_rng rng;
            sbti_rng_init(&rng, seed, stream, k);
            for (size_t i = 0; i < V; i++) {
                double g = normal(&rng);
                for (size_t c = 0; c < C; c++)
                    acc[c] += g * ((double)w[i * C + c] - mean[c]);
            }
        }
        double f = V > C ? sqrt(1e-9 / (double)V) : 0.0;
        for (size_t c = 0; c < C; c++)
            out[k * C + c] = (float)(mean[c] + f * acc[c]);
    }
    free(mean);
    free(acc);
}

/* Copies the first n elements of a tensor from model `from` to model `to` (same backend). */
static void copy_prefix(sbt_model *to, size_t to_off, const sbt_model *from, size_t from_off,
                        size_t n)
{
    sbti_backend *be = to->be;
    be->ops->copy(be, sbti_at(be, to->w, SBTI_MEM_PARAM, to_off),
                  sbti_at(be, from->w, SBTI_MEM_PARAM, from_off), SBTI_MEM_PARAM, n);
    if (to->master)
        be->ops->copy(be, to->master + to_off, from->master + from_off, SBTI_MEM_F32, n);
}

/* Grows the (V_old, C) matrix at offset off of m into n: old rows copied, new rows drawn. */
static sbt_status grow_matrix(sbt_model *n, size_t n_off, const sbt_model *m, size_t m_off,
                              uint64_t seed, uint64_t stream)
{
    const size_t C = (size_t)m->C, V = (size_t)m->V, add = (size_t)(n->V - m->V);
    copy_prefix(n, n_off, m, m_off, V * C);
    float *old = malloc(V * C * sizeof(float)), *rows = malloc(add * C * sizeof(float));
    sbt_status st = SBT_OK;
    if (!old || !rows)
        st = sbti_fail(SBT_E_OUT_OF_MEMORY, "model: out of memory for a %zu x %zu matrix", V, C);
    sbti_backend *be = m->be;
    const float *src_master = m->master;
    if (st == SBT_OK)
        st = src_master ? be->ops->download(be, old, src_master, SBTI_MEM_F32, m_off, V * C)
                        : be->ops->download(be, old, m->w, SBTI_MEM_PARAM, m_off, V * C);
    if (st == SBT_OK) {
        added_rows(rows, old, V, C, add, seed, stream);
        sbti_param p = {.offset = n_off + V * C, .numel = add * C};
        st = sbti_model_set_param(n, &p, rows, SBTI_F32);
    }
    free(old);
    free(rows);
    return st;
}

sbt_status sbt_model_resize_vocab(sbt_model *m, int64_t n_vocab, uint64_t seed)
{
    if (!m)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_model_resize_vocab: NULL model");
    if (n_vocab < m->V)
        return sbti_fail(SBT_E_INVALID_ARGUMENT,
                         "sbt_model_resize_vocab: %lld rows is fewer than the %d the model has; "
                         "shrinking is not supported", (long long)n_vocab, m->V);
    if (n_vocab == m->V)
        return SBT_OK;
    sbti_config cfg = m->cfg;
    cfg.vocab_size = n_vocab;
    sbt_model *n = NULL;
    sbt_status st = sbti_model_new(&n, m->be, &cfg);
    if (st != SBT_OK)
        return st;
    /* every tensor but the vocabulary-sized ones is copied whole */
    for (size_t i = 0; i < n->n_params; i++) {
        const sbti_param *p = &n->params[i], *q = sbti_model_param(m, p->name);
        if (p->offset != n->off_embed && p->offset != n->off_lm_head)
            copy_prefix(n, p->offset, m, q->offset, p->numel);
    }
    st = grow_matrix(n, n->off_embed, m, m->off_embed, seed, STREAM_RESIZE * 2);
    if (st == SBT_OK && !cfg.tie_word_embeddings)
        st = grow_matrix(n, n->off_lm_head, m, m->off_lm_head, seed, STREAM_RESIZE * 2 + 1);
    if (st == SBT_OK)
        st = sbti_backend_check(m->be);
    if (st != SBT_OK) {
        sbt_model_free(n);
        return st;
    }
    /* n takes m's place: swap the contents, free the old ones */
    sbti_model_release_training(m);
    sbt_model old = *m;
    *m = *n;
    *n = old;
    sbt_model_free(n);
    return SBT_OK;
}
