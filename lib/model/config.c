/* config.c — config.json of a LlamaForCausalLM: parse (transformers 4.x and 5.x keys),
 * validate, write as transformers does, and the RoPE inverse frequencies. */
#include "model/config.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "io/atomic_file.h"

#define MAX_CONFIG_BYTES (1L << 20)
/* The oldest transformers whose LlamaConfig knows every key we write (head_dim: 4.45). */
#define WRITTEN_TRANSFORMERS_VERSION "4.45.0"

static const char *const dtypes[] = {"float32", "bfloat16", "float16"};

void sbti_config_init(sbti_config *c)
{
    memset(c, 0, sizeof *c);
    c->vocab_size = 32000;
    c->hidden_size = 4096;
    c->intermediate_size = 11008;
    c->num_hidden_layers = 32;
    c->num_attention_heads = 32;
    c->max_position_embeddings = 2048;
    c->rms_norm_eps = 1e-6;
    c->rope_theta = 10000.0;
    c->bos_token_id = 1;
    c->pad_token_id = -1;
    c->n_eos = 1;
    c->eos_token_id[0] = 2;
    strcpy(c->torch_dtype, "float32");
    c->initializer_range = 0.02;
}

/* ==== validation ======================================================================== */

/* In check(): fail with `bad` unless lo <= value <= hi (integers) or ok (reals). */
#define RANGE(name, value, lo, hi)                                                           \
    if ((value) < (lo) || (value) > (hi))                                                    \
        return sbti_fail(bad, "%s: \"%s\" is %lld; it must be in [%lld, %lld]", where, name,   \
                         (long long)(value), (long long)(lo), (long long)(hi))
#define REAL(name, value, ok, what)                                                          \
    if (!(ok))                                                                               \
        return sbti_fail(bad, "%s: \"%s\" is %g; it must be %s", where, name, value, what)

/* Checks c (filling in num_key_value_heads and head_dim when 0); failures are `bad`. */
static sbt_status check(sbti_config *c, const char *where, sbt_status bad)
{
    RANGE("vocab_size", c->vocab_size, 1, 1 << 24);
    RANGE("hidden_size", c->hidden_size, 1, 1 << 16);
    RANGE("intermediate_size", c->intermediate_size, 1, 1 << 20);
    RANGE("num_hidden_layers", c->num_hidden_layers, 1, 1024);
    RANGE("num_attention_heads", c->num_attention_heads, 1, 1024);
    RANGE("max_position_embeddings", c->max_position_embeddings, 1, 1 << 24);
    if (c->num_key_value_heads == 0)
        c->num_key_value_heads = c->num_attention_heads;
    RANGE("num_key_value_heads", c->num_key_value_heads, 1, c->num_attention_heads);
    if (c->num_attention_heads % c->num_key_value_heads != 0)
        return sbti_fail(bad, "%s: \"num_attention_heads\" (%lld) must be a multiple of "
                         "\"num_key_value_heads\" (%lld)", where, (long long)c->num_attention_heads,
                         (long long)c->num_key_value_heads);
    if (c->head_dim == 0) {
        if (c->hidden_size % c->num_attention_heads != 0)
            return sbti_fail(bad, "%s: \"hidden_size\" (%lld) must be a multiple of "
                             "\"num_attention_heads\" (%lld) when \"head_dim\" is not given", where,
                             (long long)c->hidden_size, (long long)c->num_attention_heads);
        c->head_dim = c->hidden_size / c->num_attention_heads;
    }
    RANGE("head_dim", c->head_dim, 2, 1024);
    if (c->head_dim % 2 != 0)
        return sbti_fail(bad, "%s: \"head_dim\" is %lld; it must be even (RoPE rotates pairs)",
                         where, (long long)c->head_dim);
    REAL("rms_norm_eps", c->rms_norm_eps, c->rms_norm_eps > 0 && c->rms_norm_eps < 1, "in (0, 1)");
    REAL("rope_theta", c->rope_theta, c->rope_theta > 0 && c->rope_theta <= 1e12, "in (0, 1e12]");
    if (c->rope_type == SBTI_ROPE_LLAMA3) {
        REAL("rope_scaling.factor", c->rope_factor, c->rope_factor >= 1 && c->rope_factor <= 1e6,
             "in [1, 1e6]");
        REAL("rope_scaling.low_freq_factor", c->rope_low_freq_factor,
             c->rope_low_freq_factor > 0 && c->rope_low_freq_factor <= 1e6, "in (0, 1e6]");
        REAL("rope_scaling.high_freq_factor", c->rope_high_freq_factor,
             c->rope_high_freq_factor > c->rope_low_freq_factor && c->rope_high_freq_factor <= 1e6,
             "above low_freq_factor and at most 1e6");
        RANGE("rope_scaling.original_max_position_embeddings",
              c->rope_original_max_position_embeddings, 1, 1 << 24);
    } else if (c->rope_type != SBTI_ROPE_DEFAULT) {
        return sbti_fail(bad, "%s: unknown rope type %d", where, (int)c->rope_type);
    }
    REAL("initializer_range", c->initializer_range,
         c->initializer_range >= 0 && c->initializer_range <= 1, "in [0, 1]");
    RANGE("tie_word_embeddings", c->tie_word_embeddings, 0, 1);
    RANGE("bos_token_id", c->bos_token_id, -1, INT32_MAX);
    RANGE("pad_token_id", c->pad_token_id, -1, INT32_MAX);
    RANGE("eos_token_id count", c->n_eos, 0, SBTI_CONFIG_MAX_EOS);
    for (int i = 0; i < c->n_eos; i++)
        RANGE("eos_token_id", c->eos_token_id[i], 0, INT32_MAX);
    for (size_t i = 0; i < sizeof dtypes / sizeof *dtypes; i++)
        if (strcmp(c->torch_dtype, dtypes[i]) == 0)
            return SBT_OK;
    return sbti_fail(bad, "%s: \"torch_dtype\" \"%.15s\" is not supported (float32, bfloat16 "
                     "or float16)", where, c->torch_dtype);
}
#undef RANGE
#undef REAL

sbt_status sbti_config_validate(sbti_config *c)
{
    if (!c)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbti_config_validate: NULL config");
    return check(c, "config", SBT_E_INVALID_ARGUMENT);
}

/* ==== parsing =========================================================================== */

/* Field readers: an absent or null field leaves *out as it is (the default) unless required;
 * prefix ("" or "rope_scaling.") only names the field in messages. */
static sbt_status read_int(const char *where, json_t *obj, const char *prefix, const char *key,
                           int required, int64_t min, int64_t *out)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        return required ? sbti_fail(SBT_E_PARSE, "%s: required field \"%s%s\" is missing", where,
                                    prefix, key)
                        : SBT_OK;
    if (!json_is_integer(v) || json_integer_value(v) < min)
        return sbti_fail(SBT_E_PARSE, "%s: \"%s%s\" must be an integer >= %lld", where, prefix, key,
                         (long long)min);
    *out = (int64_t)json_integer_value(v);
    return SBT_OK;
}

static sbt_status read_num(const char *where, json_t *obj, const char *prefix, const char *key,
                           int required, double *out)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        return required ? sbti_fail(SBT_E_PARSE, "%s: required field \"%s%s\" is missing", where,
                                    prefix, key)
                        : SBT_OK;
    if (!json_is_number(v))
        return sbti_fail(SBT_E_PARSE, "%s: \"%s%s\" must be a number", where, prefix, key);
    *out = json_number_value(v);
    return SBT_OK;
}

static sbt_status read_bool(const char *where, json_t *obj, const char *key, int *out)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        return SBT_OK;
    if (!json_is_boolean(v))
        return sbti_fail(SBT_E_PARSE, "%s: \"%s\" must be true or false", where, key);
    *out = json_is_true(v);
    return SBT_OK;
}

static sbt_status read_str(const char *where, json_t *obj, const char *key, const char **out)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        return SBT_OK;
    if (!json_is_string(v))
        return sbti_fail(SBT_E_PARSE, "%s: \"%s\" must be a string", where, key);
    *out = json_string_value(v);
    return SBT_OK;
}

static sbt_status check_architecture(const char *where, json_t *root)
{
    json_t *arch = json_object_get(root, "architectures"), *a;
    size_t i;
    if (arch && !json_is_null(arch) && !json_is_array(arch))
        return sbti_fail(SBT_E_PARSE, "%s: \"architectures\" must be a list of strings", where);
    json_array_foreach(arch, i, a) {
        if (!json_is_string(a))
            return sbti_fail(SBT_E_PARSE, "%s: \"architectures\" must be a list of strings", where);
        if (strcmp(json_string_value(a), "LlamaForCausalLM") != 0)
            return sbti_fail(SBT_E_UNSUPPORTED, "%s: unsupported architecture %s (only "
                             "LlamaForCausalLM)", where, json_string_value(a));
    }
    const char *type = NULL;
    sbt_status st = read_str(where, root, "model_type", &type);
    if (st != SBT_OK)
        return st;
    if (!type)
        return sbti_fail(SBT_E_PARSE, "%s: required field \"model_type\" is missing", where);
    if (strcmp(type, "llama") != 0)
        return sbti_fail(SBT_E_UNSUPPORTED, "%s: unsupported architecture %s (model_type; only "
                         "llama)", where, type);
    return SBT_OK;
}

/* The features a Llama config may switch on that this library does not implement. */
static sbt_status check_features(const char *where, json_t *root)
{
    int attention_bias = 0, mlp_bias = 0;
    const char *act = "silu";
    double dropout = 0;
    sbt_status st = read_bool(where, root, "attention_bias", &attention_bias);
    if (st == SBT_OK)
        st = read_bool(where, root, "mlp_bias", &mlp_bias);
    if (st == SBT_OK)
        st = read_str(where, root, "hidden_act", &act);
    if (st == SBT_OK)
        st = read_num(where, root, "", "attention_dropout", 0, &dropout);
    if (st != SBT_OK)
        return st;
    if (attention_bias || mlp_bias)
        return sbti_fail(SBT_E_UNSUPPORTED, "%s: \"%s\": true is not supported (Llama has no "
                         "biases)", where, attention_bias ? "attention_bias" : "mlp_bias");
    if (strcmp(act, "silu") != 0)
        return sbti_fail(SBT_E_UNSUPPORTED, "%s: \"hidden_act\" \"%s\" is not supported (only "
                         "silu)", where, act);
    if (dropout != 0)
        return sbti_fail(SBT_E_UNSUPPORTED, "%s: \"attention_dropout\" %g is not supported (only "
                         "0)", where, dropout);
    return SBT_OK;
}

/* rope_theta and the scaling: 5.x's rope_parameters (theta inside), else rope_scaling. */
static sbt_status parse_rope(sbti_config *c, const char *where, json_t *root)
{
    sbt_status st = read_num(where, root, "", "rope_theta", 0, &c->rope_theta);
    const char *prefix = "rope_parameters.";
    json_t *rp = json_object_get(root, "rope_parameters");
    if (!rp || json_is_null(rp)) {
        prefix = "rope_scaling.";
        rp = json_object_get(root, "rope_scaling");
    }
    if (st != SBT_OK || !rp || json_is_null(rp))
        return st;
    int name_len = (int)strlen(prefix) - 1;
    if (!json_is_object(rp))
        return sbti_fail(SBT_E_PARSE, "%s: \"%.*s\" must be an object or null", where, name_len,
                         prefix);
    if ((st = read_num(where, rp, prefix, "rope_theta", 0, &c->rope_theta)) != SBT_OK)
        return st;
    json_t *type = json_object_get(rp, "rope_type");
    if (!type)
        type = json_object_get(rp, "type");
    if (!json_is_string(type))
        return sbti_fail(SBT_E_PARSE, "%s: \"%srope_type\" is %s; it must be a string", where,
                         prefix, type ? "not a string" : "missing");
    const char *t = json_string_value(type);
    if (strcmp(t, "default") == 0)
        return SBT_OK;
    if (strcmp(t, "llama3") != 0)
        return sbti_fail(SBT_E_UNSUPPORTED, "%s: \"%srope_type\" \"%s\" is not supported (only "
                         "llama3 or default)", where, prefix, t);
    double partial = 1.0;
    c->rope_type = SBTI_ROPE_LLAMA3;
    st = read_num(where, rp, prefix, "factor", 1, &c->rope_factor);
    if (st == SBT_OK)
        st = read_num(where, rp, prefix, "low_freq_factor", 1, &c->rope_low_freq_factor);
    if (st == SBT_OK)
        st = read_num(where, rp, prefix, "high_freq_factor", 1, &c->rope_high_freq_factor);
    if (st == SBT_OK)
        st = read_int(where, rp, prefix, "original_max_position_embeddings", 1, 1,
                      &c->rope_original_max_position_embeddings);
    if (st == SBT_OK)
        st = read_num(where, rp, prefix, "partial_rotary_factor", 0, &partial);
    if (st != SBT_OK)
        return st;
    if (partial != 1.0)
        return sbti_fail(SBT_E_UNSUPPORTED, "%s: \"%spartial_rotary_factor\" %g is not supported "
                         "(only 1)", where, prefix, partial);
    return SBT_OK;
}

/* bos_token_id / pad_token_id: absent keeps the default, null is none (-1). */
static sbt_status read_id(const char *where, json_t *root, const char *key, int64_t *out)
{
    json_t *v = json_object_get(root, key);
    if (json_is_null(v))
        *out = -1;
    return read_int(where, root, "", key, 0, -1, out);
}

static sbt_status parse_eos(sbti_config *c, const char *where, json_t *root)
{
    json_t *v = json_object_get(root, "eos_token_id"), *e;
    size_t i;
    if (!v)
        return SBT_OK;
    c->n_eos = 0;
    c->eos_is_list = json_is_array(v);
    if (json_is_null(v))
        return SBT_OK;
    if (json_is_integer(v) && json_integer_value(v) >= -1) {
        c->n_eos = json_integer_value(v) >= 0;
        c->eos_token_id[0] = (int64_t)json_integer_value(v);
        return SBT_OK;
    }
    if (!json_is_array(v))
        return sbti_fail(SBT_E_PARSE, "%s: \"eos_token_id\" must be an integer, a list of integers "
                         "or null", where);
    if (json_array_size(v) > SBTI_CONFIG_MAX_EOS)
        return sbti_fail(SBT_E_UNSUPPORTED, "%s: \"eos_token_id\" lists %zu ids; at most %d are "
                         "supported", where, json_array_size(v), SBTI_CONFIG_MAX_EOS);
    json_array_foreach(v, i, e) {
        if (!json_is_integer(e) || json_integer_value(e) < 0)
            return sbti_fail(SBT_E_PARSE, "%s: \"eos_token_id\"[%zu] must be a non-negative "
                             "integer", where, i);
        c->eos_token_id[c->n_eos++] = (int64_t)json_integer_value(e);
    }
    return SBT_OK;
}

static sbt_status parse_dtype(sbti_config *c, const char *where, json_t *root)
{
    const char *d = NULL;
    sbt_status st = read_str(where, root, "dtype", &d); /* transformers 5.x */
    if (st == SBT_OK && !d)
        st = read_str(where, root, "torch_dtype", &d);
    if (st != SBT_OK || !d)
        return st;
    for (size_t i = 0; i < sizeof dtypes / sizeof *dtypes; i++)
        if (strcmp(d, dtypes[i]) == 0) {
            strcpy(c->torch_dtype, dtypes[i]);
            return SBT_OK;
        }
    return sbti_fail(SBT_E_UNSUPPORTED, "%s: \"torch_dtype\" \"%s\" is not supported (float32, "
                     "bfloat16 or float16)", where, d);
}

static sbt_status parse_root(sbti_config *c, const char *where, json_t *root)
{
    sbt_status st = check_architecture(where, root);
    if (st == SBT_OK)
        st = check_features(where, root);
    static const struct {
        const char *key;
        size_t offset;
        int required;
    } ints[] = {
        {"vocab_size", offsetof(sbti_config, vocab_size), 1},
        {"hidden_size", offsetof(sbti_config, hidden_size), 1},
        {"intermediate_size", offsetof(sbti_config, intermediate_size), 1},
        {"num_hidden_layers", offsetof(sbti_config, num_hidden_layers), 1},
        {"num_attention_heads", offsetof(sbti_config, num_attention_heads), 1},
        {"num_key_value_heads", offsetof(sbti_config, num_key_value_heads), 0},
        {"head_dim", offsetof(sbti_config, head_dim), 0},
        {"max_position_embeddings", offsetof(sbti_config, max_position_embeddings), 0},
    };
    for (size_t i = 0; i < sizeof ints / sizeof *ints && st == SBT_OK; i++)
        st = read_int(where, root, "", ints[i].key, ints[i].required, 1,
                      (int64_t *)((char *)c + ints[i].offset));
    if (st == SBT_OK)
        st = read_num(where, root, "", "rms_norm_eps", 0, &c->rms_norm_eps);
    if (st == SBT_OK)
        st = read_num(where, root, "", "initializer_range", 0, &c->initializer_range);
    if (st == SBT_OK)
        st = read_bool(where, root, "tie_word_embeddings", &c->tie_word_embeddings);
    if (st == SBT_OK)
        st = parse_rope(c, where, root);
    if (st == SBT_OK)
        st = read_id(where, root, "bos_token_id", &c->bos_token_id);
    if (st == SBT_OK)
        st = read_id(where, root, "pad_token_id", &c->pad_token_id);
    if (st == SBT_OK)
        st = parse_eos(c, where, root);
    if (st == SBT_OK)
        st = parse_dtype(c, where, root);
    return st == SBT_OK ? check(c, where, SBT_E_PARSE) : st;
}

sbt_status sbti_config_parse(sbti_config *out, const char *json, size_t len, const char *where)
{
    if (!out || !json || !where)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbti_config_parse: NULL argument");
    json_error_t err;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &err);
    if (!root)
        return sbti_fail(SBT_E_PARSE, "%s:%d:%d: %s", where, err.line, err.column, err.text);
    sbti_config c;
    sbti_config_init(&c);
    sbt_status st = json_is_object(root)
                        ? parse_root(&c, where, root)
                        : sbti_fail(SBT_E_PARSE, "%s: not a JSON object", where);
    json_decref(root);
    if (st == SBT_OK)
        *out = c;
    return st;
}

sbt_status sbti_config_load(sbti_config *out, const char *path)
{
    if (!out || !path)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbti_config_load: NULL argument");
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        int e = errno;
        return sbti_fail(e == ENOENT ? SBT_E_NOT_FOUND : SBT_E_IO, "cannot open %s: %s", path,
                         strerror(e));
    }
    char *buf = malloc(MAX_CONFIG_BYTES + 1); /* [MAX_CONFIG_BYTES + 1]: one over the limit */
    size_t n = buf ? fread(buf, 1, MAX_CONFIG_BYTES + 1, fp) : 0;
    int failed = ferror(fp);
    fclose(fp);
    sbt_status st;
    if (!buf)
        st = sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory reading %s", path);
    else if (failed)
        st = sbti_fail(SBT_E_IO, "cannot read %s", path);
    else if (n > MAX_CONFIG_BYTES)
        st = sbti_fail(SBT_E_PARSE, "%s: larger than %ld bytes", path, MAX_CONFIG_BYTES);
    else
        st = sbti_config_parse(out, buf, n, path);
    free(buf);
    return st;
}

/* ==== writing =========================================================================== */

/* v as Python's repr(float) writes it: the shortest digits that read back as v, positional
 * for exponents in [-4, 16) ("500000.0", "0.02"), else "1e-05" style. v must be finite. */
static void py_float(char *out, size_t size, double v)
{
    char buf[40], digits[20];
    int p = 1;
    for (; p < 17; p++) {
        snprintf(buf, sizeof buf, "%.*e", p - 1, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    snprintf(buf, sizeof buf, "%.*e", p - 1, v);
    int nd = 0;
    const char *s = buf + (buf[0] == '-');
    for (; *s != 'e'; s++) /* skips the locale's decimal point */
        if (*s >= '0' && *s <= '9')
            digits[nd++] = *s;
    int exp = atoi(s + 1);
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    size_t at = (size_t)snprintf(out, size, "%s", buf[0] == '-' ? "-" : "");
#define PUT(...) at += (size_t)snprintf(out + at, at < size ? size - at : 0, __VA_ARGS__)
    if (exp < -4 || exp >= 16) {
        PUT("%c", digits[0]);
        if (nd > 1)
            PUT(".%.*s", nd - 1, digits + 1);
        PUT("e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    } else if (exp < 0) {
        PUT("0.%.*s%.*s", -exp - 1, "0000", nd, digits);
    } else {
        for (int i = 0; i <= exp; i++)
            PUT("%c", i < nd ? digits[i] : '0');
        PUT(".%.*s", nd > exp + 1 ? nd - exp - 1 : 1, nd > exp + 1 ? digits + exp + 1 : "0");
    }
#undef PUT
}

static void put_id(FILE *fp, const char *key, int64_t id)
{
    if (id < 0)
        fprintf(fp, "  \"%s\": null,\n", key);
    else
        fprintf(fp, "  \"%s\": %lld,\n", key, (long long)id);
}

static void put_real(FILE *fp, const char *indent, const char *key, double v)
{
    char num[40];
    py_float(num, sizeof num, v);
    fprintf(fp, "%s\"%s\": %s,\n", indent, key, num);
}

/* The keys in sorted order, as transformers' to_json_string (sort_keys, indent=2). */
static void write_json(FILE *fp, const sbti_config *c)
{
    fprintf(fp, "{\n  \"architectures\": [\n    \"LlamaForCausalLM\"\n  ],\n"
                "  \"attention_bias\": false,\n  \"attention_dropout\": 0.0,\n");
    put_id(fp, "bos_token_id", c->bos_token_id);
    if (!c->eos_is_list) {
        put_id(fp, "eos_token_id", c->n_eos ? c->eos_token_id[0] : -1);
    } else if (c->n_eos == 0) {
        fprintf(fp, "  \"eos_token_id\": [],\n");
    } else {
        fprintf(fp, "  \"eos_token_id\": [\n");
        for (int i = 0; i < c->n_eos; i++)
            fprintf(fp, "    %lld%s\n", (long long)c->eos_token_id[i], i + 1 < c->n_eos ? "," : "");
        fprintf(fp, "  ],\n");
    }
    fprintf(fp, "  \"head_dim\": %lld,\n  \"hidden_act\": \"silu\",\n  \"hidden_size\": %lld,\n",
            (long long)c->head_dim, (long long)c->hidden_size);
    put_real(fp, "  ", "initializer_range", c->initializer_range);
    fprintf(fp, "  \"intermediate_size\": %lld,\n  \"max_position_embeddings\": %lld,\n"
                "  \"mlp_bias\": false,\n  \"model_type\": \"llama\",\n"
                "  \"num_attention_heads\": %lld,\n  \"num_hidden_layers\": %lld,\n"
                "  \"num_key_value_heads\": %lld,\n",
            (long long)c->intermediate_size, (long long)c->max_position_embeddings,
            (long long)c->num_attention_heads, (long long)c->num_hidden_layers,
            (long long)c->num_key_value_heads);
    if (c->pad_token_id >= 0)
        put_id(fp, "pad_token_id", c->pad_token_id);
    fprintf(fp, "  \"pretraining_tp\": 1,\n");
    put_real(fp, "  ", "rms_norm_eps", c->rms_norm_eps);
    if (c->rope_type == SBTI_ROPE_LLAMA3) {
        fprintf(fp, "  \"rope_scaling\": {\n");
        put_real(fp, "    ", "factor", c->rope_factor);
        put_real(fp, "    ", "high_freq_factor", c->rope_high_freq_factor);
        put_real(fp, "    ", "low_freq_factor", c->rope_low_freq_factor);
        fprintf(fp, "    \"original_max_position_embeddings\": %lld,\n    \"rope_type\": \"llama3\""
                    "\n  },\n", (long long)c->rope_original_max_position_embeddings);
    } else {
        fprintf(fp, "  \"rope_scaling\": null,\n");
    }
    put_real(fp, "  ", "rope_theta", c->rope_theta);
    fprintf(fp, "  \"tie_word_embeddings\": %s,\n  \"torch_dtype\": \"%s\",\n"
                "  \"transformers_version\": \"%s\",\n  \"use_cache\": true,\n"
                "  \"vocab_size\": %lld\n}\n",
            c->tie_word_embeddings ? "true" : "false", c->torch_dtype,
            WRITTEN_TRANSFORMERS_VERSION, (long long)c->vocab_size);
}

sbt_status sbti_config_save(const sbti_config *c, const char *path)
{
    if (!c || !path)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbti_config_save: NULL argument");
    sbti_config v = *c;
    sbt_status st = check(&v, path, SBT_E_INVALID_ARGUMENT);
    if (st != SBT_OK)
        return st;
    sbti_atomic_file f;
    if ((st = sbti_atomic_open(&f, path)) != SBT_OK)
        return st;
    write_json(f.fp, &v);
    return sbti_atomic_commit(&f);
}

/* ==== RoPE ============================================================================== */

void sbti_rope_inv_freq(float *out, const sbti_config *c)
{
    const int64_t dim = c->head_dim;
    const float base = (float)c->rope_theta;
    const float factor = (float)c->rope_factor, low = (float)c->rope_low_freq_factor;
    const double old_len = (double)c->rope_original_max_position_embeddings;
    /* Python scalars, rounded to float32 where torch meets them. */
    const float two_pi = (float)6.283185307179586, old = (float)old_len;
    const float low_wavelen = (float)(old_len / c->rope_low_freq_factor);
    const float high_wavelen = (float)(old_len / c->rope_high_freq_factor);
    const float span = (float)(c->rope_high_freq_factor - c->rope_low_freq_factor);
    for (int64_t i = 0; i < dim / 2; i++) {
        float x = (float)(2 * i) / (float)dim;             /* arange(0, dim, 2).float() / dim */
        float inv = 1.0f / (float)pow((double)base, (double)x); /* 1.0 / base ** x          */
        if (c->rope_type != SBTI_ROPE_LLAMA3) {
            out[i] = inv;
            continue;
        }
        float wavelen = (1.0f / inv) * two_pi;             /* 2 * math.pi / inv_freq        */
        float llama = wavelen > low_wavelen ? inv / factor : inv;
        float smooth = ((1.0f / wavelen) * old - low) / span;
        float a = (1.0f - smooth) * llama;                 /* (1 - s) * inv_freq_llama       */
        float smoothed = a / factor + smooth * llama;      /* ... / factor + s * inv_llama   */
        int medium = !(wavelen < high_wavelen) && !(wavelen > low_wavelen);
        out[i] = medium ? smoothed : llama;
    }
}
