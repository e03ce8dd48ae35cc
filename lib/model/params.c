/* params.c — the parameter buffer of a Llama model: which Hugging Face tensor sits where
 * (see model.h for the layout), allocation, and host <-> backend copies of single tensors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "model/model.h"

/* More elements than this in one model is a config error, not an allocation attempt. */
#define MAX_PARAM_ELEMS (UINT64_C(1) << 40)

typedef struct layout_builder {
    sbt_model *m;
    size_t at;  /* next free offset */
    size_t n;   /* entries written  */
    int overflow;
} layout_builder;

/* Appends tensor `name` of the given shape at the next offset; returns its offset. */
static size_t add(layout_builder *b, const char *name, int64_t rows, int64_t cols)
{
    sbti_param *p = &b->m->params[b->n++];
    snprintf(p->name, sizeof p->name, "%s", name);
    p->ndim = cols > 0 ? 2 : 1;
    p->shape[0] = rows;
    p->shape[1] = cols > 0 ? cols : 0;
    p->numel = (size_t)rows * (size_t)(cols > 0 ? cols : 1);
    p->offset = b->at;
    if (p->numel > MAX_PARAM_ELEMS || b->at > MAX_PARAM_ELEMS - p->numel)
        b->overflow = 1;
    else
        b->at += p->numel;
    return p->offset;
}

static size_t add_layer(layout_builder *b, int l, const char *what, int64_t rows, int64_t cols)
{
    char name[80];
    snprintf(name, sizeof name, "model.layers.%d.%s", l, what);
    return add(b, name, rows, cols);
}

sbt_status sbti_model_layout(sbt_model *m)
{
    const sbti_config *c = &m->cfg;
    m->L = (int)c->num_hidden_layers;
    m->C = (int)c->hidden_size;
    m->I = (int)c->intermediate_size;
    m->V = (int)c->vocab_size;
    m->nh = (int)c->num_attention_heads;
    m->nkv = (int)c->num_key_value_heads;
    m->hd = (int)c->head_dim;
    m->qkv_dim = (m->nh + 2 * m->nkv) * m->hd;
    m->att_dim = m->nh * m->hd;

    size_t n = 1 + 9 * (size_t)m->L + 1 + (c->tie_word_embeddings ? 0 : 1);
    free(m->params);
    free(m->layer);
    m->params = calloc(n, sizeof *m->params);
    m->layer = calloc((size_t)m->L, sizeof *m->layer);
    if (!m->params || !m->layer)
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "model: out of memory for the tensor table");

    layout_builder b = {.m = m};
    const int64_t C = m->C, I = m->I, hd = m->hd;
    /* weight-decayed: the matrices */
    m->off_embed = add(&b, "model.embed_tokens.weight", m->V, C);
    for (int l = 0; l < m->L; l++) {
        sbti_layer_offsets *lo = &m->layer[l];
        lo->qkv = add_layer(&b, l, "self_attn.q_proj.weight", m->nh * hd, C);
        add_layer(&b, l, "self_attn.k_proj.weight", m->nkv * hd, C);
        add_layer(&b, l, "self_attn.v_proj.weight", m->nkv * hd, C);
        lo->o = add_layer(&b, l, "self_attn.o_proj.weight", C, m->att_dim);
        lo->gu = add_layer(&b, l, "mlp.gate_proj.weight", I, C);
        add_layer(&b, l, "mlp.up_proj.weight", I, C);
        lo->down = add_layer(&b, l, "mlp.down_proj.weight", C, I);
    }
    m->off_lm_head = c->tie_word_embeddings ? m->off_embed : add(&b, "lm_head.weight", m->V, C);
    m->n_decay = b.at;
    /* not decayed: the norm weights */
    for (int l = 0; l < m->L; l++) {
        m->layer[l].ln1 = add_layer(&b, l, "input_layernorm.weight", C, 0);
        m->layer[l].ln2 = add_layer(&b, l, "post_attention_layernorm.weight", C, 0);
    }
    m->off_norm = add(&b, "model.norm.weight", C, 0);
    m->n_params = b.n;
    m->n_elems = b.at;
    if (b.overflow)
        return sbti_fail(SBT_E_INVALID_ARGUMENT,
                         "model: the configuration asks for more than 2^40 parameters");
    return SBT_OK;
}

const sbti_param *sbti_model_param(const sbt_model *m, const char *name)
{
    for (size_t i = 0; i < m->n_params; i++)
        if (strcmp(m->params[i].name, name) == 0)
            return &m->params[i];
    return NULL;
}

sbt_status sbti_model_alloc_weights(sbt_model *m)
{
    sbti_backend *be = m->be;
    /* the head's rows V .. ld-1 read past it: past the end when it is the last tensor */
    size_t slack = (size_t)(sbti_logits_ld(m) - m->V) * (size_t)m->C;
    sbt_status st = be->ops->alloc(be, &m->w, SBTI_MEM_PARAM, m->n_elems + slack);
    if (st == SBT_OK && be->master_weights)
        st = be->ops->alloc(be, (void **)&m->master, SBTI_MEM_F32, m->n_elems);
    if (st == SBT_OK)
        st = be->ops->alloc(be, (void **)&m->inv_freq, SBTI_MEM_F32, (size_t)m->hd / 2);
    if (st != SBT_OK)
        return st;
    float *inv = malloc(sizeof(float) * (size_t)m->hd / 2);
    if (!inv)
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "model: out of memory");
    sbti_rope_inv_freq(inv, &m->cfg);
    st = be->ops->upload(be, m->inv_freq, SBTI_MEM_F32, 0, inv, SBTI_F32, (size_t)m->hd / 2);
    free(inv);
    return st;
}

sbt_status sbti_model_new(sbt_model **out, sbti_backend *be, const sbti_config *cfg)
{
    *out = NULL;
    sbt_model *m = calloc(1, sizeof *m);
    if (!m)
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "model: out of memory");
    m->be = be;
    m->cfg = *cfg;
    sbt_status st = sbti_config_validate(&m->cfg);
    if (st == SBT_OK)
        st = sbti_model_layout(m);
    if (st == SBT_OK)
        st = sbti_model_alloc_weights(m);
    if (st != SBT_OK) {
        sbt_model_free(m);
        return st;
    }
    *out = m;
    return SBT_OK;
}

sbt_status sbti_model_set_param(sbt_model *m, const sbti_param *p, const void *src,
                                sbti_dtype dtype)
{
    sbti_backend *be = m->be;
    sbt_status st = be->ops->upload(be, m->w, SBTI_MEM_PARAM, p->offset, src, dtype, p->numel);
    if (st == SBT_OK && m->master)
        st = be->ops->upload(be, m->master, SBTI_MEM_F32, p->offset, src, dtype, p->numel);
    return st;
}

sbt_status sbti_model_get_param(const sbt_model *m, const sbti_param *p, float *out)
{
    sbti_backend *be = m->be;
    if (m->master)
        return be->ops->download(be, out, m->master, SBTI_MEM_F32, p->offset, p->numel);
    return be->ops->download(be, out, m->w, SBTI_MEM_PARAM, p->offset, p->numel);
}

sbt_status sbti_model_get_grad(const sbt_model *m, const sbti_param *p, float *out)
{
    if (!m->grad) {
        memset(out, 0, sizeof(float) * p->numel);
        return SBT_OK;
    }
    return m->be->ops->download(m->be, out, m->grad, SBTI_MEM_GRAD, p->offset, p->numel);
}

void sbt_model_free(sbt_model *m)
{
    if (!m)
        return;
    sbti_model_release_training(m);
    sbti_backend *be = m->be;
    be->ops->free(be, m->w);
    be->ops->free(be, m->master);
    be->ops->free(be, m->inv_freq);
    free(m->params);
    free(m->layer);
    free(m);
}
