/* checkpoint.c — Hugging Face checkpoint folders: load (config.json + safetensors, one file or
 * shards) and save (config.json, generation_config.json, model.safetensors). */
#include <glob.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/log.h"
#include "io/atomic_file.h"
#include "io/hub.h"
#include "io/safetensors.h"
#include "model/model.h"

/* What transformers writes as the generation_config's transformers_version (the same version
 * config.c writes). */
#define GEN_TRANSFORMERS_VERSION "4.45.0"

static char *join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* A tensor in the checkpoint the model has no place for: transformers warns and goes on. */
static int ignorable(const sbt_model *m, const char *name)
{
    if (m->cfg.tie_word_embeddings && strcmp(name, "lm_head.weight") == 0)
        return 1; /* some savers write the tied head too; transformers ties it back */
    const char *suffix = "rotary_emb.inv_freq"; /* old checkpoints kept the RoPE buffer */
    size_t n = strlen(name), k = strlen(suffix);
    return n >= k && strcmp(name + n - k, suffix) == 0;
}

static sbt_status load_weights(sbt_model *m, const sbti_st_set *set, const char *dir)
{
    for (size_t i = 0; i < m->n_params; i++) {
        const sbti_param *p = &m->params[i];
        const sbti_st_tensor *t;
        sbt_status st = sbti_st_set_get(&t, set, p->name, p->ndim, p->shape);
        if (st != SBT_OK)
            return st;
        if ((st = sbti_model_set_param(m, p, t->data, t->dtype)) != SBT_OK)
            return st;
    }
    size_t unused = 0;
    for (size_t i = 0; i < sbti_st_set_count(set); i++) {
        const char *name = sbti_st_set_at(set, i)->name;
        if (!sbti_model_param(m, name) && !ignorable(m, name)) {
            if (unused++ < 8)
                sbti_log(SBT_LOG_WARN, "%s: tensor %s is not used by a LlamaForCausalLM; skipped",
                         dir, name);
        }
    }
    if (unused > 8)
        sbti_log(SBT_LOG_WARN, "%s: %zu tensors in all were not used", dir, unused);
    return sbti_backend_check(m->be);
}

sbt_status sbt_model_load(sbt_model **out, sbt_backend *pbe, const char *dir)
{
    if (!out || !pbe || !dir)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_model_load: NULL argument");
    *out = NULL;
    char *cfg_path = join(dir, "config.json");
    if (!cfg_path)
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "model: out of memory");
    sbti_config cfg;
    sbt_status st = sbti_config_load(&cfg, cfg_path);
    free(cfg_path);
    if (st != SBT_OK)
        return st;
    sbti_st_set *set = NULL;
    if ((st = sbti_st_set_open_dir(&set, dir)) != SBT_OK)
        return st;
    sbt_model *m = NULL;
    st = sbti_model_new(&m, sbti_backend_of(pbe), &cfg);
    if (st == SBT_OK)
        st = load_weights(m, set, dir);
    sbti_st_set_close(set);
    if (st != SBT_OK) {
        sbt_model_free(m);
        return st;
    }
    *out = m;
    return SBT_OK;
}

/* ==== save ============================================================================== */

static sbti_dtype storage_dtype(sbt_dtype want, const char *torch_dtype)
{
    switch (want) {
    case SBT_DTYPE_F32: return SBTI_F32;
    case SBT_DTYPE_BF16: return SBTI_BF16;
    case SBT_DTYPE_F16: return SBTI_F16;
    default: break;
    }
    if (strcmp(torch_dtype, "bfloat16") == 0)
        return SBTI_BF16;
    if (strcmp(torch_dtype, "float16") == 0)
        return SBTI_F16;
    return SBTI_F32;
}

/* fp32 -> IEEE half, round to nearest even (as torch's .half()). */
static uint16_t f32_to_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u, exp = (x >> 23) & 0xffu, man = x & 0x7fffffu;
    if (exp == 0xffu) /* inf or nan */
        return (uint16_t)(sign | 0x7c00u | (man ? 0x200u : 0));
    int e = (int)exp - 127 + 15;
    if (e >= 31)
        return (uint16_t)(sign | 0x7c00u);
    if (e <= 0) { /* subnormal half (or zero) */
        if (e < -10)
            return (uint16_t)sign;
        man |= 0x800000u;
        int shift = 14 - e;
        uint32_t half = man >> shift, rest = man & ((1u << shift) - 1), mid = 1u << (shift - 1);
        if (rest > mid || (rest == mid && (half & 1u)))
            half++;
        return (uint16_t)(sign | half);
    }
    uint32_t half = ((uint32_t)e << 10) | (man >> 13), rest = man & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (half & 1u)))
        half++; /* a carry into the exponent is the right rounding, up to inf */
    return (uint16_t)(sign | half);
}

static void convert_from_f32(void *out, const float *in, size_t n, sbti_dtype dt)
{
    if (dt == SBTI_F32)
        memcpy(out, in, n * sizeof(float));
    else if (dt == SBTI_BF16)
        sbti_f32_to_bf16(out, in, n);
    else
        for (size_t i = 0; i < n; i++) {
            uint16_t h = f32_to_f16(in[i]);
            memcpy((char *)out + 2 * i, &h, 2);
        }
}

static sbt_status write_generation_config(const sbti_config *c, const char *path)
{
    sbti_atomic_file f;
    sbt_status st = sbti_atomic_open(&f, path);
    if (st != SBT_OK)
        return st;
    fprintf(f.fp, "{\n  \"_from_model_config\": true,\n");
    if (c->bos_token_id >= 0)
        fprintf(f.fp, "  \"bos_token_id\": %lld,\n", (long long)c->bos_token_id);
    if (c->n_eos == 1 && !c->eos_is_list) {
        fprintf(f.fp, "  \"eos_token_id\": %lld,\n", (long long)c->eos_token_id[0]);
    } else if (c->n_eos > 0) {
        fprintf(f.fp, "  \"eos_token_id\": [\n");
        for (int i = 0; i < c->n_eos; i++)
            fprintf(f.fp, "    %lld%s\n", (long long)c->eos_token_id[i],
                    i + 1 < c->n_eos ? "," : "");
        fprintf(f.fp, "  ],\n");
    }
    if (c->pad_token_id >= 0)
        fprintf(f.fp, "  \"pad_token_id\": %lld,\n", (long long)c->pad_token_id);
    fprintf(f.fp, "  \"transformers_version\": \"%s\"\n}\n", GEN_TRANSFORMERS_VERSION);
    return sbti_atomic_commit(&f);
}

/* Streams each tensor from the backend, converted to the file's dtype, into the writer: one
 * tensor in host memory at a time, however large the model. */
typedef struct weight_source {
    const sbt_model *m;
    sbti_dtype dt;
    float *tmp; /* (largest tensor) fp32 */
} weight_source;

static sbt_status fill_tensor(void *user, size_t i, void *buf)
{
    weight_source *src = user;
    const sbti_param *p = &src->m->params[i];
    sbt_status st = sbti_model_get_param(src->m, p, src->tmp);
    if (st == SBT_OK)
        convert_from_f32(buf, src->tmp, p->numel, src->dt);
    return st;
}

static sbt_status write_weights(const sbt_model *m, const char *path, sbti_dtype dt)
{
    size_t biggest = 0;
    for (size_t i = 0; i < m->n_params; i++)
        biggest = m->params[i].numel > biggest ? m->params[i].numel : biggest;
    weight_source src = {m, dt, malloc(biggest * sizeof(float))};
    sbti_st_entry *e = calloc(m->n_params, sizeof *e);
    sbt_status st = SBT_OK;
    if (!src.tmp || !e)
        st = sbti_fail(SBT_E_OUT_OF_MEMORY, "%s: out of memory", path);
    for (size_t i = 0; st == SBT_OK && i < m->n_params; i++) {
        const sbti_param *p = &m->params[i];
        e[i] = (sbti_st_entry){.name = p->name, .dtype = dt, .ndim = p->ndim, .shape = p->shape};
    }
    static const char *const meta[] = {"format", "pt"};
    if (st == SBT_OK)
        st = sbti_st_write_stream(path, e, m->n_params, meta, 1, fill_tensor, &src);
    free(src.tmp);
    free(e);
    return st;
}

/* A sharded checkpoint saved earlier in dir would be loaded instead of the new file (the index
 * wins): remove its index and its shards, as save_pretrained does. */
static void remove_stale_shards(const char *dir)
{
    char *index = join(dir, "model.safetensors.index.json");
#define D5 "[0-9][0-9][0-9][0-9][0-9]"
    char *pattern = join(dir, "model-" D5 "-of-" D5 ".safetensors"); /* transformers' shards */
#undef D5
    if (index && unlink(index) == 0)
        sbti_log(SBT_LOG_INFO, "%s: removed the old shard index", index);
    glob_t g;
    if (pattern && glob(pattern, 0, NULL, &g) == 0) {
        for (size_t i = 0; i < g.gl_pathc; i++)
            unlink(g.gl_pathv[i]);
        globfree(&g);
    }
    free(index);
    free(pattern);
}

void sbt_model_save_options_init(sbt_model_save_options *opts)
{
    if (!opts)
        return;
    memset(opts, 0, sizeof *opts);
    opts->size = sizeof *opts;
    opts->dtype = SBT_DTYPE_AUTO;
}

sbt_status sbt_model_save(const sbt_model *m, const char *dir, const sbt_model_save_options *o)
{
    if (!m || !dir)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_model_save: NULL argument");
    sbt_model_save_options opts;
    sbt_model_save_options_init(&opts);
    if (o) {
        if (o->size < offsetof(sbt_model_save_options, dtype) + sizeof o->dtype)
            return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_model_save: options.size %zu is too "
                             "small (call sbt_model_save_options_init)", o->size);
        opts.dtype = o->dtype;
    }
    if (opts.dtype < SBT_DTYPE_AUTO || opts.dtype > SBT_DTYPE_F16)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_model_save: dtype %d is not a sbt_dtype",
                         (int)opts.dtype);
    sbti_dtype dt = storage_dtype(opts.dtype, m->cfg.torch_dtype);
    sbti_config cfg = m->cfg;
    snprintf(cfg.torch_dtype, sizeof cfg.torch_dtype, "%s",
             dt == SBTI_BF16 ? "bfloat16" : dt == SBTI_F16 ? "float16" : "float32");

    char *cfg_path = join(dir, "config.json"), *gen_path = join(dir, "generation_config.json");
    char *st_path = join(dir, "model.safetensors");
    sbt_status st = SBT_OK;
    if (!cfg_path || !gen_path || !st_path)
        st = sbti_fail(SBT_E_OUT_OF_MEMORY, "model: out of memory");
    if (st == SBT_OK)
        st = sbti_hub_mkdirs_for(cfg_path);
    /* weights first: a config.json beside missing weights would look like a checkpoint */
    if (st == SBT_OK)
        st = write_weights(m, st_path, dt);
    if (st == SBT_OK)
        remove_stale_shards(dir);
    if (st == SBT_OK)
        st = sbti_config_save(&cfg, cfg_path);
    if (st == SBT_OK)
        st = write_generation_config(&cfg, gen_path);
    free(cfg_path);
    free(gen_path);
    free(st_path);
    return st;
}
