/* tokenizer_json.c — reading tokenizer.json / tokenizer_config.json (Hugging Face `tokenizers`
 * format 1.0, byte-level BPE with the Llama-3 pre-tokenizer) and writing them back. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "core/log.h"
#include "io/atomic_file.h"
#include "tokenizer/grow.h"
#include "tokenizer/text.h"
#include "tokenizer/tokenizer_internal.h"

/* ==== small helpers ======================================================================== */

/* A printable excerpt of s for messages: at most 40 bytes, cut at a character boundary. */
static int excerpt_len(const char *s, size_t len)
{
    if (len <= 40)
        return (int)len;
    size_t n = 40;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    return (int)n;
}

#define EXC(s, len) excerpt_len((s), (len)), (s), ((len) > 40 ? "..." : "")

static const char *json_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        return "null";
    }
    return "a value";
}

static sbt_status parse_error(const char *src, const json_error_t *e)
{
    if (e->line > 0)
        return sbti_fail(SBT_E_PARSE, "%s:%d:%d: %s", src, e->line, e->column, e->text);
    return sbti_fail(SBT_E_PARSE, "%s: %s", src, e->text);
}

/* Reads an optional boolean member; absent or null gives def. */
static sbt_status get_bool(const json_t *obj, const char *key, int def, int *out, const char *src,
                           const char *where)
{
    const json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) {
        *out = def;
        return SBT_OK;
    }
    if (!json_is_boolean(v))
        return sbti_fail(SBT_E_PARSE, "%s: %s.%s must be true or false, not %s", src, where, key,
                         json_type_name(v));
    *out = json_is_true(v);
    return SBT_OK;
}

static int str_is(const json_t *v, const char *s)
{
    return json_is_string(v) && strcmp(json_string_value(v), s) == 0;
}

static const char *type_of(const json_t *obj)
{
    const json_t *t = json_object_get(obj, "type");
    return json_is_string(t) ? json_string_value(t) : NULL;
}

/* ==== the tokenizer object =================================================================== */

/* Appends bytes (plus a NUL) to the arena; *off gets their offset. */
static sbt_status arena_add(sbt_tokenizer *tok, const char *s, size_t len, uint32_t *off)
{
    if (tok->arena_len + len + 1 > UINT32_MAX)
        return sbti_fail(SBT_E_UNSUPPORTED, "token strings exceed 4 GiB");
    if (tok->arena_len + len + 1 > tok->arena_cap) {
        char *p = sbti_grow(tok->arena, &tok->arena_cap, tok->arena_len + len + 1, 1, 65536);
        if (!p)
            return sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory for token strings");
        tok->arena = p;
    }
    *off = (uint32_t)tok->arena_len;
    if (len)
        memcpy(tok->arena + tok->arena_len, s, len);
    tok->arena[tok->arena_len + len] = '\0';
    tok->arena_len += len + 1;
    return SBT_OK;
}

sbt_status sbti_tok_reserve_ids(sbt_tokenizer *tok, int32_t max_id)
{
    if (max_id < 0 || max_id > SBTI_MAX_TOKEN_ID)
        return sbti_fail(SBT_E_UNSUPPORTED, "token id %ld is out of range (at most %d)",
                         (long)max_id, SBTI_MAX_TOKEN_ID);
    size_t need = (size_t)max_id + 1;
    if (need > tok->info_cap) {
        size_t old = tok->info_cap;
        sbti_token_info *p = sbti_grow(tok->info, &tok->info_cap, need, sizeof *p, 256);
        if (!p)
            return sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory for %zu token ids", need);
        memset(p + old, 0, (tok->info_cap - old) * sizeof *p);
        tok->info = p;
    }
    if (max_id + 1 > tok->n_ids)
        tok->n_ids = max_id + 1;
    return SBT_OK;
}

sbt_status sbti_tok_set_text(sbt_tokenizer *tok, int32_t id, const char *s, size_t len)
{
    uint32_t off;
    sbt_status st = arena_add(tok, s, len, &off);
    if (st != SBT_OK)
        return st;
    tok->info[id].text_off = off;
    tok->info[id].text_len = (uint32_t)len;
    /* The ByteLevel decoder: every character back to its byte, or the string as it is when
     * some character is not in the alphabet. */
    int all = 1;
    size_t n = 0; /* characters (counted in full only when all are in the alphabet) */
    for (size_t pos = 0; all && pos < len; n++)
        all = sbti_bytelevel_byte(sbti_utf8_next(s, len, &pos)) >= 0;
    tok->info[id].byte_level = (uint8_t)all;
    if (!all || n == len) { /* the same bytes: share the text */
        tok->info[id].bytes_off = off;
        tok->info[id].bytes_len = (uint32_t)len;
        return SBT_OK;
    }
    char small[256];
    char *buf = n <= sizeof small ? small : malloc(n);
    if (!buf)
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory decoding a token");
    size_t k = 0;
    for (size_t pos = 0; pos < len;)
        buf[k++] = (char)sbti_bytelevel_byte(sbti_utf8_next(s, len, &pos));
    st = arena_add(tok, buf, n, &off);
    if (buf != small)
        free(buf);
    if (st != SBT_OK)
        return st;
    tok->info[id].bytes_off = off;
    tok->info[id].bytes_len = (uint32_t)n;
    return SBT_OK;
}

/* Creates an empty tokenizer. */
static sbt_status tok_new(sbt_tokenizer **out)
{
    sbt_tokenizer *tok = calloc(1, sizeof *tok);
    if (!tok)
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory for a tokenizer");
    sbti_bpe_init(&tok->bpe);
    sbti_added_init(&tok->added);
    tok->bos = tok->eos = tok->pad = -1;
    *out = tok;
    return SBT_OK;
}

int32_t sbti_tok_next_added_id(const sbt_tokenizer *tok)
{
    int32_t max = -1;
    for (size_t k = 0; k < tok->added.n; k++)
        if (tok->added.tok[k].id > max)
            max = tok->added.tok[k].id;
    if (max < 0)
        return tok->n_model;
    if (max >= tok->n_model || tok->n_model == 0)
        return max + 1;
    return tok->n_model;
}

/* ==== model ================================================================================== */

static void iter_key(void *it, const char **key, size_t *len)
{
    *key = json_object_iter_key(it);
#if JANSSON_VERSION_HEX >= 0x020E00
    *len = json_object_iter_key_len(it);
#else
    *len = strlen(*key);
#endif
}

static sbt_status load_vocab(sbt_tokenizer *tok, const json_t *vocab, const char *src)
{
    size_t count = json_object_size(vocab);
    if (count > (size_t)SBTI_MAX_TOKEN_ID)
        return sbti_fail(SBT_E_UNSUPPORTED, "%s: model.vocab has %zu entries (at most %d)", src,
                         count, SBTI_MAX_TOKEN_ID);
    json_int_t max = -1;
    for (void *it = json_object_iter((json_t *)vocab); it;
         it = json_object_iter_next((json_t *)vocab, it)) {
        const char *key;
        size_t klen;
        iter_key(it, &key, &klen);
        json_t *v = json_object_iter_value(it);
        if (!json_is_integer(v))
            return sbti_fail(SBT_E_PARSE, "%s: model.vocab[\"%.*s%s\"] must be an integer id, not %s",
                             src, EXC(key, klen), json_type_name(v));
        json_int_t id = json_integer_value(v);
        if (id < 0 || id > SBTI_MAX_TOKEN_ID)
            return sbti_fail(id < 0 ? SBT_E_PARSE : SBT_E_UNSUPPORTED,
                             "%s: model.vocab[\"%.*s%s\"]: id %lld is out of range (0..%d)", src,
                             EXC(key, klen), (long long)id, SBTI_MAX_TOKEN_ID);
        if (id > max)
            max = id;
    }
    /* Ids index dense tables: bound them by the file's size (HF allows gaps; real files have
     * none). */
    if (max >= 0 && (size_t)max >= 2 * count + 1024)
        return sbti_fail(SBT_E_UNSUPPORTED, "%s: model.vocab: ids are too sparse (largest %lld for "
                         "%zu tokens)", src, (long long)max, count);
    tok->n_model = (int32_t)count;
    sbt_status st = sbti_strtab_init(&tok->by_text, count + 512);
    if (st == SBT_OK)
        st = sbti_strtab_init(&tok->bpe.by_bytes, count + 16);
    if (st == SBT_OK && max >= 0)
        st = sbti_tok_reserve_ids(tok, (int32_t)max);
    if (st != SBT_OK)
        return st;
    for (void *it = json_object_iter((json_t *)vocab); it;
         it = json_object_iter_next((json_t *)vocab, it)) {
        const char *key;
        size_t klen;
        iter_key(it, &key, &klen);
        int32_t id = (int32_t)json_integer_value(json_object_iter_value(it));
        sbti_token_info *ti = &tok->info[id];
        if (ti->kind)
            return sbti_fail(SBT_E_PARSE,
                             "%s: model.vocab: id %ld is given to both \"%.*s%s\" and \"%.*s%s\"",
                             src, (long)id, EXC(sbti_tok_text(tok, id), ti->text_len),
                             EXC(key, klen));
        if ((st = sbti_tok_set_text(tok, id, key, klen)) != SBT_OK)
            return st;
        ti->kind = SBTI_TOK_MODEL;
        if ((st = sbti_strtab_put(&tok->by_text, key, klen, id)) != SBT_OK)
            return st;
        if (ti->byte_level &&
            (st = sbti_strtab_put(&tok->bpe.by_bytes, tok->arena + ti->bytes_off, ti->bytes_len,
                                  id)) != SBT_OK)
            return st;
    }
    for (int b = 0; b < 256; b++) {
        char u[4];
        size_t n = sbti_bytelevel_utf8((unsigned char)b, u);
        tok->bpe.byte_id[b] = sbti_strtab_find(&tok->by_text, u, n);
    }
    return SBT_OK;
}

static int32_t model_id(const sbt_tokenizer *tok, const char *s, size_t len)
{
    int32_t id = sbti_strtab_find(&tok->by_text, s, len);
    return id >= 0 && (tok->info[id].kind & SBTI_TOK_MODEL) ? id : -1;
}

static sbt_status load_merges(sbt_tokenizer *tok, const json_t *merges, const char *src)
{
    char small[512];
    char *buf = small;
    size_t buf_cap = sizeof small;
    size_t n = json_array_size(merges);
    sbt_status st = sbti_bpe_reserve_merges(&tok->bpe, n);
    for (size_t i = 0; i < n && st == SBT_OK; i++) {
        const json_t *m = json_array_get(merges, i);
        const char *a, *b;
        size_t alen, blen;
        if (i > 0 && json_is_string(m) != json_is_string(json_array_get(merges, 0))) {
            /* HF reads the list as all strings or all pairs */
            st = sbti_fail(SBT_E_PARSE, "%s: model.merges[%zu] is %s but model.merges[0] is %s "
                           "(the list must use one form)", src, i, json_type_name(m),
                           json_type_name(json_array_get(merges, 0)));
            break;
        }
        if (json_is_string(m)) {
            const char *s = json_string_value(m);
            size_t len = json_string_length(m);
            const char *sp = memchr(s, ' ', len);
            if (!sp || memchr(sp + 1, ' ', len - (size_t)(sp - s) - 1)) {
                st = sbti_fail(SBT_E_PARSE,
                               "%s: model.merges[%zu] \"%.*s%s\" is not two tokens separated by "
                               "one space",
                               src, i, EXC(s, len));
                break;
            }
            a = s;
            alen = (size_t)(sp - s);
            b = sp + 1;
            blen = len - alen - 1;
        } else if (json_is_array(m) && json_array_size(m) == 2 &&
                   json_is_string(json_array_get(m, 0)) && json_is_string(json_array_get(m, 1))) {
            a = json_string_value(json_array_get(m, 0));
            alen = json_string_length(json_array_get(m, 0));
            b = json_string_value(json_array_get(m, 1));
            blen = json_string_length(json_array_get(m, 1));
        } else {
            st = sbti_fail(SBT_E_PARSE,
                           "%s: model.merges[%zu] must be a string \"a b\" or an array [\"a\", "
                           "\"b\"], not %s",
                           src, i, json_is_array(m) ? "an array of other items" : json_type_name(m));
            break;
        }
        int32_t ida = model_id(tok, a, alen), idb = model_id(tok, b, blen);
        if (ida < 0 || idb < 0) {
            const char *u = ida < 0 ? a : b;
            size_t ulen = ida < 0 ? alen : blen;
            st = sbti_fail(SBT_E_PARSE, "%s: model.merges[%zu] names \"%.*s%s\", which is not in "
                           "model.vocab", src, i, EXC(u, ulen));
            break;
        }
        if (alen + blen > buf_cap) {
            size_t cap = buf_cap;
            while (cap < alen + blen)
                cap *= 2;
            char *p = buf == small ? malloc(cap) : realloc(buf, cap);
            if (!p) {
                st = sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory reading merges");
                break;
            }
            buf = p;
            buf_cap = cap;
        }
        memcpy(buf, a, alen);
        memcpy(buf + alen, b, blen);
        int32_t idm = model_id(tok, buf, alen + blen);
        if (idm < 0) {
            st = sbti_fail(SBT_E_PARSE, "%s: model.merges[%zu] makes \"%.*s%s\", which is not in "
                           "model.vocab", src, i, EXC(buf, alen + blen));
            break;
        }
        st = sbti_bpe_add_merge(&tok->bpe, ida, idb, idm);
    }
    if (buf != small)
        free(buf);
    return st;
}

static sbt_status check_empty_string(const json_t *model, const char *key, const char *src)
{
    const json_t *v = json_object_get(model, key);
    if (!v || json_is_null(v) || (json_is_string(v) && json_string_length(v) == 0))
        return SBT_OK;
    if (json_is_string(v))
        return sbti_fail(SBT_E_UNSUPPORTED, "%s: model.%s \"%s\" is not supported (only null or "
                         "\"\")", src, key, json_string_value(v));
    return sbti_fail(SBT_E_PARSE, "%s: model.%s must be a string or null, not %s", src, key,
                     json_type_name(v));
}

/* model: an object (build checks it first). */
static sbt_status load_model(sbt_tokenizer *tok, const json_t *model, const char *src)
{
    const json_t *type = json_object_get(model, "type");
    if (type && !str_is(type, "BPE")) {
        if (json_is_string(type))
            return sbti_fail(SBT_E_UNSUPPORTED, "%s: model.type \"%s\" is not supported (only BPE)",
                             src, json_string_value(type));
        return sbti_fail(SBT_E_PARSE, "%s: model.type must be a string, not %s", src,
                         json_type_name(type));
    }
    const json_t *vocab = json_object_get(model, "vocab");
    const json_t *merges = json_object_get(model, "merges");
    if (!vocab)
        return sbti_fail(SBT_E_PARSE, "%s: model has no \"vocab\"", src);
    if (!json_is_object(vocab))
        return sbti_fail(SBT_E_PARSE, "%s: model.vocab must be an object, not %s", src,
                         json_type_name(vocab));
    if (!merges)
        return sbti_fail(SBT_E_PARSE, "%s: model has no \"merges\"", src);
    if (!json_is_array(merges))
        return sbti_fail(SBT_E_PARSE, "%s: model.merges must be an array, not %s", src,
                         json_type_name(merges));
    const json_t *dropout = json_object_get(model, "dropout");
    if (dropout && !json_is_null(dropout)) {
        if (!json_is_number(dropout))
            return sbti_fail(SBT_E_PARSE, "%s: model.dropout must be a number or null, not %s",
                             src, json_type_name(dropout));
        if (json_number_value(dropout) != 0.0)
            return sbti_fail(SBT_E_UNSUPPORTED, "%s: model.dropout %g is not supported (only "
                             "null)", src, json_number_value(dropout));
    }
    sbt_status st;
    if ((st = check_empty_string(model, "continuing_subword_prefix", src)) != SBT_OK ||
        (st = check_empty_string(model, "end_of_word_suffix", src)) != SBT_OK)
        return st;
    int byte_fallback = 0, fuse_unk = 0, ignore_merges = 0;
    if ((st = get_bool(model, "byte_fallback", 0, &byte_fallback, src, "model")) != SBT_OK ||
        (st = get_bool(model, "fuse_unk", 0, &fuse_unk, src, "model")) != SBT_OK ||
        (st = get_bool(model, "ignore_merges", 0, &ignore_merges, src, "model")) != SBT_OK)
        return st;
    if (byte_fallback)
        return sbti_fail(SBT_E_UNSUPPORTED, "%s: model.byte_fallback true is not supported", src);
    const json_t *unk = json_object_get(model, "unk_token");
    if (unk && !json_is_null(unk) && !json_is_string(unk))
        return sbti_fail(SBT_E_PARSE, "%s: model.unk_token must be a string or null, not %s", src,
                         json_type_name(unk));
    tok->bpe.fuse_unk = fuse_unk;
    tok->bpe.ignore_merges = ignore_merges;
    if ((st = load_vocab(tok, vocab, src)) != SBT_OK)
        return st;
    if (json_is_string(unk))
        tok->bpe.unk_id = model_id(tok, json_string_value(unk), json_string_length(unk));
    return load_merges(tok, merges, src);
}

/* ==== added tokens =========================================================================== */

/* Registers an added token under the id Hugging Face gives it (checked against want_id if
 * want_id >= 0); where names it in messages. */
static sbt_status add_token(sbt_tokenizer *tok, const char *content, size_t len,
                            const sbti_added_token *flags, int32_t want_id, const char *src,
                            const char *where)
{
    if (len == 0)
        return sbti_fail(SBT_E_PARSE, "%s: %s has an empty content", src, where);
    int32_t id = sbti_strtab_find(&tok->by_text, content, len);
    if (id >= 0 && (tok->info[id].kind & SBTI_TOK_ADDED))
        return sbti_fail(SBT_E_PARSE, "%s: %s repeats the added token \"%.*s%s\"", src, where,
                         EXC(content, len));
    if (id < 0)
        id = sbti_tok_next_added_id(tok);
    if (want_id >= 0 && want_id != id) {
        if (want_id < tok->n_ids && (tok->info[want_id].kind & SBTI_TOK_MODEL))
            return sbti_fail(SBT_E_PARSE, "%s: %s (\"%.*s%s\"): id %ld is already model.vocab's "
                             "\"%.*s%s\"", src, where, EXC(content, len), (long)want_id,
                             EXC(sbti_tok_text(tok, want_id), tok->info[want_id].text_len));
        if (want_id < tok->n_ids && (tok->info[want_id].kind & SBTI_TOK_ADDED))
            return sbti_fail(SBT_E_PARSE, "%s: %s (\"%.*s%s\"): id %ld is already the added "
                             "token \"%.*s%s\"", src, where, EXC(content, len), (long)want_id,
                             EXC(sbti_tok_text(tok, want_id), tok->info[want_id].text_len));
        return sbti_fail(SBT_E_PARSE, "%s: %s (\"%.*s%s\"): id %ld, but Hugging Face gives it "
                         "id %ld (added tokens take the ids after the vocabulary, in order)",
                         src, where, EXC(content, len), (long)want_id, (long)id);
    }
    sbt_status st = sbti_tok_reserve_ids(tok, id);
    if (st != SBT_OK)
        return st;
    sbti_token_info *ti = &tok->info[id];
    if (!ti->kind) {
        if ((st = sbti_tok_set_text(tok, id, content, len)) != SBT_OK ||
            (st = sbti_strtab_put(&tok->by_text, content, len, id)) != SBT_OK)
            return st;
    }
    ti->kind |= SBTI_TOK_ADDED;
    ti->special = flags->special;
    sbti_added_token x = *flags;
    x.id = id;
    return sbti_added_push(&tok->added, &x, content, len);
}

static sbt_status load_added(sbt_tokenizer *tok, const json_t *arr, const char *src)
{
    if (!arr || json_is_null(arr))
        return sbti_added_build(&tok->added);
    if (!json_is_array(arr))
        return sbti_fail(SBT_E_PARSE, "%s: added_tokens must be an array, not %s", src,
                         json_type_name(arr));
    sbt_status st;
    for (size_t i = 0; i < json_array_size(arr); i++) {
        const json_t *a = json_array_get(arr, i);
        char where[64];
        snprintf(where, sizeof where, "added_tokens[%zu]", i);
        if (!json_is_object(a))
            return sbti_fail(SBT_E_PARSE, "%s: %s must be an object, not %s", src, where,
                             json_type_name(a));
        const json_t *id = json_object_get(a, "id");
        const json_t *content = json_object_get(a, "content");
        if (!json_is_integer(id))
            return sbti_fail(SBT_E_PARSE, "%s: %s.id must be an integer, not %s", src, where,
                             id ? json_type_name(id) : "missing");
        if (!json_is_string(content))
            return sbti_fail(SBT_E_PARSE, "%s: %s.content must be a string, not %s", src, where,
                             content ? json_type_name(content) : "missing");
        json_int_t idv = json_integer_value(id);
        if (idv < 0 || idv > SBTI_MAX_TOKEN_ID)
            return sbti_fail(idv < 0 ? SBT_E_PARSE : SBT_E_UNSUPPORTED,
                             "%s: %s.id %lld is out of range (0..%d)", src, where, (long long)idv,
                             SBTI_MAX_TOKEN_ID);
        int single_word = 0, lstrip = 0, rstrip = 0, normalized = 0, special = 0;
        if ((st = get_bool(a, "special", 0, &special, src, where)) != SBT_OK ||
            (st = get_bool(a, "single_word", 0, &single_word, src, where)) != SBT_OK ||
            (st = get_bool(a, "lstrip", 0, &lstrip, src, where)) != SBT_OK ||
            (st = get_bool(a, "rstrip", 0, &rstrip, src, where)) != SBT_OK ||
            (st = get_bool(a, "normalized", !special, &normalized, src, where)) != SBT_OK)
            return st;
        sbti_added_token f = {0};
        f.single_word = (uint8_t)single_word;
        f.lstrip = (uint8_t)lstrip;
        f.rstrip = (uint8_t)rstrip;
        f.normalized = (uint8_t)normalized;
        f.special = (uint8_t)special;
        if ((st = add_token(tok, json_string_value(content), json_string_length(content), &f,
                            (int32_t)idv, src, where)) != SBT_OK)
            return st;
    }
    return sbti_added_build(&tok->added);
}

/* ==== pipeline parts ========================================================================= */

static sbt_status check_normalizer(const json_t *n, const char *src)
{
    if (!n || json_is_null(n))
        return SBT_OK;
    if (!json_is_object(n))
        return sbti_fail(SBT_E_PARSE, "%s: normalizer must be an object or null, not %s", src,
                         json_type_name(n));
    const char *t = type_of(n);
    const json_t *list = json_object_get(n, "normalizers");
    if (t && strcmp(t, "Sequence") == 0 && json_is_array(list) && json_array_size(list) == 0)
        return SBT_OK;
    return sbti_fail(SBT_E_UNSUPPORTED, "%s: normalizer of type \"%s\" is not supported (only "
                     "null)", src, t ? t : "?");
}

static sbt_status check_pre_tokenizer(const json_t *p, const char *src)
{
    static const char want[] = "a Sequence of Split (the Llama-3 regex, Isolated) and ByteLevel "
                               "(add_prefix_space false, use_regex false)";
    if (!p || json_is_null(p))
        return sbti_fail(SBT_E_UNSUPPORTED, "%s: pre_tokenizer is null; supported: %s", src, want);
    if (!json_is_object(p))
        return sbti_fail(SBT_E_PARSE, "%s: pre_tokenizer must be an object, not %s", src,
                         json_type_name(p));
    const char *t = type_of(p);
    const json_t *list = json_object_get(p, "pretokenizers");
    if (!t || strcmp(t, "Sequence") != 0 || !json_is_array(list) || json_array_size(list) != 2) {
        if (t && strcmp(t, "ByteLevel") == 0)
            return sbti_fail(SBT_E_UNSUPPORTED, "%s: pre_tokenizer ByteLevel (GPT-2 style, "
                             "use_regex %s) is not supported; supported: %s", src,
                             json_is_true(json_object_get(p, "use_regex")) ? "true" : "false",
                             want);
        return sbti_fail(SBT_E_UNSUPPORTED, "%s: pre_tokenizer of type \"%s\"%s is not "
                         "supported; supported: %s", src, t ? t : "?",
                         t && strcmp(t, "Sequence") == 0 ? " with other than 2 parts" : "", want);
    }
    const json_t *split = json_array_get(list, 0), *bl = json_array_get(list, 1);
    const char *ts = json_is_object(split) ? type_of(split) : NULL;
    const char *tb = json_is_object(bl) ? type_of(bl) : NULL;
    if (!ts || strcmp(ts, "Split") != 0 || !tb || strcmp(tb, "ByteLevel") != 0)
        return sbti_fail(SBT_E_UNSUPPORTED, "%s: pre_tokenizer Sequence of \"%s\" and \"%s\" is "
                         "not supported; supported: %s", src, ts ? ts : "?", tb ? tb : "?", want);
    const json_t *pattern = json_object_get(split, "pattern");
    const json_t *regex = json_is_object(pattern) ? json_object_get(pattern, "Regex") : NULL;
    if (!json_is_string(regex)) {
        const json_t *s = json_is_object(pattern) ? json_object_get(pattern, "String") : NULL;
        if (json_is_string(s))
            return sbti_fail(SBT_E_UNSUPPORTED, "%s: pre_tokenizer Split on the string \"%.*s%s\" "
                             "is not supported; supported: %s", src,
                             EXC(json_string_value(s), json_string_length(s)), want);
        return sbti_fail(SBT_E_PARSE, "%s: pre_tokenizer.pretokenizers[0].pattern must be "
                         "{\"Regex\": ...} or {\"String\": ...}", src);
    }
    const char *re = json_string_value(regex);
    size_t relen = json_string_length(regex);
    if (relen != sizeof SBTI_LLAMA3_PATTERN - 1 || memcmp(re, SBTI_LLAMA3_PATTERN, relen) != 0)
        return sbti_fail(SBT_E_UNSUPPORTED, "%s: pre_tokenizer Split regex \"%.*s%s\" is not the "
                         "Llama-3 pattern (the only one supported)", src, EXC(re, relen));
    if (!str_is(json_object_get(split, "behavior"), "Isolated"))
        return sbti_fail(SBT_E_UNSUPPORTED, "%s: pre_tokenizer Split behavior %s is not supported "
                         "(only \"Isolated\")", src,
                         json_is_string(json_object_get(split, "behavior"))
                             ? json_string_value(json_object_get(split, "behavior"))
                             : "(missing)");
    if (json_is_true(json_object_get(split, "invert")))
        return sbti_fail(SBT_E_UNSUPPORTED, "%s: pre_tokenizer Split invert true is not supported",
                         src);
    if (json_is_true(json_object_get(bl, "add_prefix_space")))
        return sbti_fail(SBT_E_UNSUPPORTED, "%s: pre_tokenizer ByteLevel add_prefix_space true is "
                         "not supported", src);
    const json_t *use_regex = json_object_get(bl, "use_regex");
    if (!use_regex || json_is_true(use_regex)) /* HF's default is true */
        return sbti_fail(SBT_E_UNSUPPORTED, "%s: pre_tokenizer ByteLevel use_regex true (a second "
                         "GPT-2 split) is not supported", src);
    return SBT_OK;
}

/* The ids of a TemplateProcessing special token name. */
static sbt_status template_ids(sbt_tokenizer *tok, const json_t *specials, const char *name,
                               sbt_token **arr, size_t *n, const char *src)
{
    const json_t *s = json_is_object(specials) ? json_object_get(specials, name) : NULL;
    const json_t *ids = json_is_object(s) ? json_object_get(s, "ids") : NULL;
    if (!json_is_array(ids))
        return sbti_fail(SBT_E_PARSE, "%s: post_processor: special token \"%s\" is not in "
                         "special_tokens (or has no ids)", src, name);
    for (size_t i = 0; i < json_array_size(ids); i++) {
        const json_t *v = json_array_get(ids, i);
        json_int_t id = json_is_integer(v) ? json_integer_value(v) : -1;
        if (id < 0 || id >= tok->n_ids || !tok->info[id].kind)
            return sbti_fail(SBT_E_PARSE, "%s: post_processor.special_tokens[\"%s\"].ids[%zu] is "
                             "not a token id of this tokenizer", src, name, i);
        sbt_token *p = realloc(*arr, (*n + 1) * sizeof *p);
        if (!p)
            return sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory for the post-processor");
        p[(*n)++] = (sbt_token)id;
        *arr = p;
    }
    return SBT_OK;
}

static sbt_status load_template(sbt_tokenizer *tok, const json_t *pp, const char *src)
{
    const json_t *single = json_object_get(pp, "single");
    const json_t *specials = json_object_get(pp, "special_tokens");
    if (!json_is_array(single))
        return sbti_fail(SBT_E_UNSUPPORTED, "%s: post_processor TemplateProcessing: single must be "
                         "an array of items", src);
    int seen_a = 0;
    for (size_t i = 0; i < json_array_size(single); i++) {
        const json_t *item = json_array_get(single, i);
        const json_t *seq = json_is_object(item) ? json_object_get(item, "Sequence") : NULL;
        const json_t *sp = json_is_object(item) ? json_object_get(item, "SpecialToken") : NULL;
        if (json_is_object(seq)) {
            if (seen_a)
                return sbti_fail(SBT_E_UNSUPPORTED, "%s: post_processor: single names the "
                                 "sequence twice", src);
            seen_a = 1;
        } else if (json_is_object(sp) && json_is_string(json_object_get(sp, "id"))) {
            sbt_status st = template_ids(tok, specials, json_string_value(json_object_get(sp, "id")),
                                         seen_a ? &tok->tmpl_suffix : &tok->tmpl_prefix,
                                         seen_a ? &tok->n_tmpl_suffix : &tok->n_tmpl_prefix, src);
            if (st != SBT_OK)
                return st;
        } else {
            return sbti_fail(SBT_E_PARSE, "%s: post_processor.single[%zu] must be {\"Sequence\": "
                             "...} or {\"SpecialToken\": {\"id\": ...}}", src, i);
        }
    }
    if (!seen_a)
        return sbti_fail(SBT_E_UNSUPPORTED, "%s: post_processor: single has no Sequence", src);
    return SBT_OK;
}

static sbt_status load_post_processor(sbt_tokenizer *tok, const json_t *pp, const char *src)
{
    if (!pp || json_is_null(pp))
        return SBT_OK;
    if (!json_is_object(pp))
        return sbti_fail(SBT_E_PARSE, "%s: post_processor must be an object or null, not %s", src,
                         json_type_name(pp));
    const char *t = type_of(pp);
    if (t && strcmp(t, "ByteLevel") == 0)
        return SBT_OK; /* offsets only */
    if (t && strcmp(t, "TemplateProcessing") == 0)
        return load_template(tok, pp, src);
    if (t && strcmp(t, "Sequence") == 0 && json_is_array(json_object_get(pp, "processors"))) {
        const json_t *list = json_object_get(pp, "processors");
        int templates = 0;
        for (size_t i = 0; i < json_array_size(list); i++) {
            const json_t *p = json_array_get(list, i);
            const char *pt = json_is_object(p) ? type_of(p) : NULL;
            if (pt && strcmp(pt, "ByteLevel") == 0)
                continue;
            if (pt && strcmp(pt, "TemplateProcessing") == 0 && !templates++) {
                sbt_status st = load_template(tok, p, src);
                if (st != SBT_OK)
                    return st;
                continue;
            }
            return sbti_fail(SBT_E_UNSUPPORTED, "%s: post_processor Sequence item of type \"%s\" is "
                             "not supported (only ByteLevel and one TemplateProcessing)", src,
                             pt ? pt : "?");
        }
        return SBT_OK;
    }
    return sbti_fail(SBT_E_UNSUPPORTED, "%s: post_processor of type \"%s\" is not supported (only "
                     "TemplateProcessing, ByteLevel or a Sequence of them)", src, t ? t : "?");
}

static sbt_status load_decoder(sbt_tokenizer *tok, const json_t *d, const char *src)
{
    if (!d || json_is_null(d)) {
        tok->decoder = SBTI_DECODER_NONE;
        return SBT_OK;
    }
    const char *t = json_is_object(d) ? type_of(d) : NULL;
    if (t && strcmp(t, "ByteLevel") == 0) {
        tok->decoder = SBTI_DECODER_BYTE_LEVEL;
        return SBT_OK;
    }
    if (!json_is_object(d))
        return sbti_fail(SBT_E_PARSE, "%s: decoder must be an object or null, not %s", src,
                         json_type_name(d));
    return sbti_fail(SBT_E_UNSUPPORTED, "%s: decoder of type \"%s\" is not supported (only "
                     "ByteLevel or null)", src, t ? t : "?");
}

/* ==== tokenizer_config.json ================================================================== */

/* Replaces each real below v (object members; array items too when in_arrays) for which fn
 * gives a new value (fn returns NULL to keep it). */
static void map_reals(json_t *v, json_t *(*fn)(double), int in_arrays)
{
    if (json_is_object(v)) {
        const char *k;
        json_t *x, *y;
        json_object_foreach(v, k, x)
        {
            if (json_is_real(x) && (y = fn(json_real_value(x))) != NULL)
                json_object_set_new(v, k, y);
            else
                map_reals(x, fn, in_arrays);
        }
    } else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            json_t *x = json_array_get(v, i), *y;
            if (in_arrays && json_is_real(x) && (y = fn(json_real_value(x))) != NULL)
                json_array_set_new(v, i, y);
            else
                map_reals(x, fn, in_arrays);
        }
    }
}

/* A whole number within json_int_t as an integer, else NULL. */
static json_t *whole_to_integer(double d)
{
    if (d > -9.0e18 && d < 9.0e18 && d == (double)(json_int_t)d)
        return json_integer((json_int_t)d);
    return NULL;
}

static sbt_status config_token(sbt_tokenizer *tok, const json_t *cfg, const char *key,
                               sbt_token *out, const char *src)
{
    *out = -1;
    const json_t *v = json_object_get(cfg, key);
    if (!v || json_is_null(v))
        return SBT_OK;
    if (json_is_object(v))
        v = json_object_get(v, "content");
    if (!json_is_string(v))
        return sbti_fail(SBT_E_PARSE, "%s: %s must be a string or an object with a string "
                         "\"content\"", src, key);
    int32_t id = sbti_strtab_find(&tok->by_text, json_string_value(v), json_string_length(v));
    if (id < 0)
        sbti_log(SBT_LOG_WARN, "%s: %s \"%s\" is not a token of this tokenizer; ignored", src, key,
                 json_string_value(v));
    *out = id;
    return SBT_OK;
}

static sbt_status load_config(sbt_tokenizer *tok, const char *config, size_t len, const char *src)
{
    json_error_t err;
    json_t *cfg = json_loadb(config, len, JSON_REJECT_DUPLICATES, &err);
    if (!cfg && strstr(err.text, "too big integer")) {
        /* e.g. model_max_length 1000000000000000019884624838656 */
        cfg = json_loadb(config, len, JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL, &err);
        if (cfg) /* reals that hold whole numbers become integers again */
            map_reals(cfg, whole_to_integer, 1);
    }
    if (!cfg)
        return parse_error(src, &err);
    if (!json_is_object(cfg)) {
        sbt_status st = sbti_fail(SBT_E_PARSE, "%s: the top level must be an object, not %s", src,
                                  json_type_name(cfg));
        json_decref(cfg);
        return st;
    }
    tok->config = cfg;
    sbt_status st;
    if ((st = config_token(tok, cfg, "bos_token", &tok->bos, src)) != SBT_OK ||
        (st = config_token(tok, cfg, "eos_token", &tok->eos, src)) != SBT_OK)
        return st;
    return config_token(tok, cfg, "pad_token", &tok->pad, src);
}

/* ==== loading ================================================================================ */

static sbt_status build(sbt_tokenizer *tok, json_t *root, const char *src)
{
    if (!json_is_object(root))
        return sbti_fail(SBT_E_PARSE, "%s: the top level must be an object, not %s", src,
                         json_type_name(root));
    const json_t *version = json_object_get(root, "version");
    if (version && !str_is(version, "1.0"))
        return sbti_fail(SBT_E_UNSUPPORTED, "%s: version %s is not supported (only \"1.0\")", src,
                         json_is_string(version) ? json_string_value(version) : "(not a string)");
    const json_t *model = json_object_get(root, "model");
    if (!model)
        return sbti_fail(SBT_E_PARSE, "%s: no \"model\"", src);
    if (!json_is_object(model))
        return sbti_fail(SBT_E_PARSE, "%s: model must be an object, not %s", src,
                         json_type_name(model));
    sbt_status st;
    if ((st = check_normalizer(json_object_get(root, "normalizer"), src)) != SBT_OK ||
        (st = check_pre_tokenizer(json_object_get(root, "pre_tokenizer"), src)) != SBT_OK ||
        (st = load_model(tok, model, src)) != SBT_OK ||
        (st = load_added(tok, json_object_get(root, "added_tokens"), src)) != SBT_OK ||
        (st = load_post_processor(tok, json_object_get(root, "post_processor"), src)) != SBT_OK ||
        (st = load_decoder(tok, json_object_get(root, "decoder"), src)) != SBT_OK)
        return st;
    return sbti_bpe_cache_create(&tok->bpe);
}

sbt_status sbti_tok_from_json(sbt_tokenizer **out, const char *json, size_t len,
                              const char *config, size_t config_len, const char *src,
                              const char *config_src)
{
    *out = NULL;
    json_error_t err;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &err);
    if (!root)
        return parse_error(src, &err);
    sbt_tokenizer *tok = NULL;
    sbt_status st = tok_new(&tok);
    if (st == SBT_OK)
        st = build(tok, root, src);
    if (st == SBT_OK && config)
        st = load_config(tok, config, config_len, config_src);
    if (st != SBT_OK) {
        json_decref(root);
        sbt_tokenizer_free(tok);
        return st;
    }
    /* Keep what save needs, without the large parts rebuilt from the tables. */
    json_t *model = json_object_get(root, "model");
    json_object_del(model, "vocab");
    json_object_del(model, "merges");
    json_object_del(root, "added_tokens");
    tok->meta = root;
    *out = tok;
    return SBT_OK;
}

/* Reads a whole file; NOT_FOUND when it does not exist. */
static sbt_status read_file(const char *path, char **data, size_t *len)
{
    *data = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        return sbti_fail(e == ENOENT ? SBT_E_NOT_FOUND : SBT_E_IO, "cannot open %s: %s", path,
                         strerror(e));
    }
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return sbti_fail(SBT_E_IO, "%s is not a regular file", path);
    }
    if ((uint64_t)sb.st_size > ((uint64_t)1 << 31)) {
        fclose(f);
        return sbti_fail(SBT_E_UNSUPPORTED, "%s is larger than 2 GiB", path);
    }
    size_t n = (size_t)sb.st_size;
    char *buf = malloc(n + 1);
    if (!buf) {
        fclose(f);
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory reading %s (%zu bytes)", path, n);
    }
    size_t got = n ? fread(buf, 1, n, f) : 0;
    int bad = got != n || ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return sbti_fail(SBT_E_IO, "cannot read %s", path);
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return SBT_OK;
}

/* dir[0..a) + "/" (unless it ends in one or is empty) + name, malloc'd; NULL when out of
 * memory. */
static char *join_path_n(const char *dir, size_t a, const char *name)
{
    size_t b = strlen(name);
    char *p = malloc(a + b + 2);
    if (!p)
        return NULL;
    memcpy(p, dir, a);
    size_t k = a;
    if (a && dir[a - 1] != '/')
        p[k++] = '/';
    memcpy(p + k, name, b + 1);
    return p;
}

static char *join_path(const char *dir, const char *name)
{
    return join_path_n(dir, strlen(dir), name);
}

sbt_status sbt_tokenizer_load(sbt_tokenizer **out, const char *path)
{
    if (!out)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_tokenizer_load: out is NULL");
    *out = NULL;
    if (!path || !*path)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_tokenizer_load: path is empty");
    struct stat sb;
    if (stat(path, &sb) != 0) {
        int e = errno;
        return sbti_fail(e == ENOENT ? SBT_E_NOT_FOUND : SBT_E_IO, "cannot open %s: %s", path,
                         strerror(e));
    }
    /* A folder: its tokenizer.json and tokenizer_config.json. A file: itself, and its sibling
     * tokenizer_config.json when the file is tokenizer.json. */
    char *json_path, *config_path = NULL;
    int want_config = 1;
    if (S_ISDIR(sb.st_mode)) {
        json_path = join_path(path, "tokenizer.json");
        config_path = join_path(path, "tokenizer_config.json");
    } else {
        const char *slash = strrchr(path, '/');
        const char *base = slash ? slash + 1 : path;
        json_path = strdup(path);
        want_config = strcmp(base, "tokenizer.json") == 0;
        if (want_config)
            config_path = join_path_n(path, (size_t)(base - path), "tokenizer_config.json");
    }
    if (!json_path || (want_config && !config_path)) {
        free(json_path);
        free(config_path);
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory loading %s", path);
    }
    char *json = NULL, *config = NULL;
    size_t len = 0, config_len = 0;
    sbt_status st = read_file(json_path, &json, &len);
    if (st == SBT_OK && config_path) {
        st = read_file(config_path, &config, &config_len);
        if (st == SBT_E_NOT_FOUND) {
            sbt_clear_error();
            st = SBT_OK;
        }
    }
    if (st == SBT_OK)
        st = sbti_tok_from_json(out, json, len, config, config_len, json_path,
                                config_path ? config_path : "tokenizer_config.json");
    free(json);
    free(config);
    free(json_path);
    free(config_path);
    return st;
}

sbt_status sbt_tokenizer_load_json(sbt_tokenizer **out, const char *tokenizer_json,
                                           size_t len, const char *config_json, size_t config_len)
{
    if (!out)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_tokenizer_load_json: out is NULL");
    *out = NULL;
    if (!tokenizer_json)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_tokenizer_load_json: tokenizer_json is NULL");
    return sbti_tok_from_json(out, tokenizer_json, len, config_json, config_len, "tokenizer.json",
                              "tokenizer_config.json");
}

/* ==== saving ================================================================================= */

static void put_json_string(FILE *f, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    fputc('"', f);
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        fwrite(s + run, 1, i - run, f);
        run = i + 1;
        switch (c) {
        case '"':
            fputs("\\\"", f);
            break;
        case '\\':
            fputs("\\\\", f);
            break;
        case '\n':
            fputs("\\n", f);
            break;
        case '\t':
            fputs("\\t", f);
            break;
        case '\r':
            fputs("\\r", f);
            break;
        default: {
            char e[7] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0};
            fputs(e, f);
        }
        }
    }
    fwrite(s + run, 1, len - run, f);
    fputc('"', f);
}

static int put_json_value(FILE *f, const json_t *v)
{
    char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    if (!s)
        return -1;
    fputs(s, f);
    free(s);
    return 0;
}

/* Added tokens by ascending id (how HF writes them). */
static int cmp_added_id(const void *a, const void *b)
{
    int32_t x = ((const sbti_added_token *)a)->id, y = ((const sbti_added_token *)b)->id;
    return (x > y) - (x < y);
}

static sbt_status sorted_added(const sbt_tokenizer *tok, sbti_added_token **out)
{
    *out = NULL;
    if (!tok->added.n)
        return SBT_OK;
    sbti_added_token *v = malloc(tok->added.n * sizeof *v);
    if (!v)
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory saving the tokenizer");
    memcpy(v, tok->added.tok, tok->added.n * sizeof *v);
    qsort(v, tok->added.n, sizeof *v, cmp_added_id);
    *out = v;
    return SBT_OK;
}

static int write_tokenizer_json(const sbt_tokenizer *tok, const sbti_added_token *added, FILE *f)
{
    static const char *const order[] = {"version",        "truncation",     "padding",
                                        "added_tokens",   "normalizer",     "pre_tokenizer",
                                        "post_processor", "decoder",        "model"};
    const json_t *meta = tok->meta;
    fputs("{\n", f);
    for (size_t k = 0; k < sizeof order / sizeof *order; k++) {
        const char *key = order[k];
        fprintf(f, "%s  \"%s\": ", k ? ",\n" : "", key);
        if (strcmp(key, "added_tokens") == 0) {
            fputs("[", f);
            for (size_t i = 0; i < tok->added.n; i++) {
                const sbti_added_token *a = &added[i];
                fprintf(f, "%s\n    {\"id\": %ld, \"content\": ", i ? "," : "", (long)a->id);
                put_json_string(f, tok->added.text + a->off, a->len);
                fprintf(f, ", \"single_word\": %s, \"lstrip\": %s, \"rstrip\": %s, "
                           "\"normalized\": %s, \"special\": %s}",
                        a->single_word ? "true" : "false", a->lstrip ? "true" : "false",
                        a->rstrip ? "true" : "false", a->normalized ? "true" : "false",
                        a->special ? "true" : "false");
            }
            fputs(tok->added.n ? "\n  ]" : "]", f);
        } else if (strcmp(key, "model") == 0) {
            const json_t *model = json_object_get(meta, "model");
            fputs("{\n", f);
            const char *mk;
            json_t *mv;
            json_object_foreach((json_t *)model, mk, mv)
            {
                fputs("    ", f);
                put_json_string(f, mk, strlen(mk));
                fputs(": ", f);
                if (put_json_value(f, mv) != 0)
                    return -1;
                fputs(",\n", f);
            }
            fputs("    \"vocab\": {", f);
            int firstv = 1;
            for (int32_t id = 0; id < tok->n_ids; id++) {
                const sbti_token_info *ti = &tok->info[id];
                if (!(ti->kind & SBTI_TOK_MODEL))
                    continue;
                fputs(firstv ? "\n      " : ",\n      ", f);
                firstv = 0;
                put_json_string(f, tok->arena + ti->text_off, ti->text_len);
                fprintf(f, ": %ld", (long)id);
            }
            fputs(firstv ? "},\n" : "\n    },\n", f);
            fputs("    \"merges\": [", f);
            for (size_t r = 0; r < tok->bpe.n_merge_list; r++) {
                int32_t a = tok->bpe.merge_list[r][0], b = tok->bpe.merge_list[r][1];
                fputs(r ? ",\n      [" : "\n      [", f);
                put_json_string(f, tok->arena + tok->info[a].text_off, tok->info[a].text_len);
                fputs(", ", f);
                put_json_string(f, tok->arena + tok->info[b].text_off, tok->info[b].text_len);
                fputs("]", f);
            }
            fputs(tok->bpe.n_merge_list ? "\n    ]\n  }" : "]\n  }", f);
        } else {
            const json_t *v = json_object_get(meta, key);
            if (!v && strcmp(key, "version") == 0)
                fputs("\"1.0\"", f);
            else if (!v)
                fputs("null", f);
            else if (put_json_value(f, v) != 0)
                return -1;
        }
    }
    /* Anything else the file had, after the known parts. */
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)meta, k, v)
    {
        size_t j = 0;
        while (j < sizeof order / sizeof *order && strcmp(order[j], k) != 0)
            j++;
        if (j < sizeof order / sizeof *order)
            continue;
        fputs(",\n  ", f);
        put_json_string(f, k, strlen(k));
        fputs(": ", f);
        if (put_json_value(f, v) != 0)
            return -1;
    }
    fputs("\n}\n", f);
    return 0;
}

static json_t *token_string(const sbt_tokenizer *tok, int32_t id)
{
    return json_stringn(sbti_tok_text(tok, id), tok->info[id].text_len);
}

/* tokenizer_config.json: the loaded one (if any) with bos/eos/pad, the added tokens and the
 * tokenizer class brought up to date. */
static json_t *make_config(const sbt_tokenizer *tok, const sbti_added_token *added)
{
    json_t *cfg = tok->config ? json_deep_copy(tok->config) : json_object();
    json_t *dec = json_object();
    if (!cfg || !dec) {
        json_decref(cfg);
        json_decref(dec);
        return NULL;
    }
    int bad = 0;
    for (size_t i = 0; i < tok->added.n; i++) {
        const sbti_added_token *a = &added[i];
        char key[24];
        snprintf(key, sizeof key, "%ld", (long)a->id);
        json_t *o = json_object();
        bad |= !o;
        bad |= json_object_set_new(o, "content",
                                   json_stringn(tok->added.text + a->off, a->len)) != 0;
        bad |= json_object_set_new(o, "lstrip", json_boolean(a->lstrip)) != 0;
        bad |= json_object_set_new(o, "normalized", json_boolean(a->normalized)) != 0;
        bad |= json_object_set_new(o, "rstrip", json_boolean(a->rstrip)) != 0;
        bad |= json_object_set_new(o, "single_word", json_boolean(a->single_word)) != 0;
        bad |= json_object_set_new(o, "special", json_boolean(a->special)) != 0;
        bad |= json_object_set_new(dec, key, o) != 0;
    }
    bad |= json_object_set_new(cfg, "added_tokens_decoder", dec) != 0;
    if (tok->extra_special && json_array_size(tok->extra_special)) {
        json_t *list = json_object_get(cfg, "additional_special_tokens");
        if (!json_is_array(list)) {
            list = json_array();
            bad |= json_object_set_new(cfg, "additional_special_tokens", list) != 0;
        }
        for (size_t i = 0; list && i < json_array_size(tok->extra_special); i++) {
            json_t *s = json_array_get(tok->extra_special, i);
            int present = 0;
            for (size_t j = 0; j < json_array_size(list); j++) {
                json_t *x = json_array_get(list, j);
                if (json_is_object(x))
                    x = json_object_get(x, "content");
                present |= json_equal(x, s);
            }
            if (!present)
                bad |= json_array_append(list, s) != 0;
        }
    }
    const char *keys[3] = {"bos_token", "eos_token", "pad_token"};
    sbt_token ids[3] = {tok->bos, tok->eos, tok->pad};
    for (int k = 0; k < 3; k++)
        if (ids[k] >= 0)
            bad |= json_object_set_new(cfg, keys[k], token_string(tok, ids[k])) != 0;
    bad |= json_object_set_new(cfg, "tokenizer_class", json_string("PreTrainedTokenizerFast")) != 0;
    if (bad) {
        json_decref(cfg);
        return NULL;
    }
    return cfg;
}

/* Whole numbers too large for json_int_t (model_max_length is often int(1e30)) were read as
 * reals; they go back as the exact integer, through a marked string replaced after dumping. */
#define BIGINT_MARK "\001sbt-bigint:"
#define BIGINT_MARK_DUMPED "\"\\u0001sbt-bigint:"

/* A finite real beyond int64 (every such double is a whole number) as a marked string. */
static json_t *bigint_mark(double d)
{
    char buf[400];
    if (d - d == 0 && (d >= 9.0e18 || d <= -9.0e18) &&
        snprintf(buf, sizeof buf, BIGINT_MARK "%.0f", d) < (int)sizeof buf)
        return json_string(buf);
    return NULL;
}

static int write_config(json_t *cfg, FILE *f)
{
    /* object members only: a real inside an array is written as jansson writes a real */
    map_reals(cfg, bigint_mark, 0);
    char *s = json_dumps(cfg, JSON_INDENT(2));
    if (!s)
        return -1;
    const char *p = s, *m;
    while ((m = strstr(p, BIGINT_MARK_DUMPED)) != NULL) {
        fwrite(p, 1, (size_t)(m - p), f);
        const char *digits = m + strlen(BIGINT_MARK_DUMPED);
        const char *end = strchr(digits, '"');
        if (!end)
            break;
        fwrite(digits, 1, (size_t)(end - digits), f);
        p = end + 1;
    }
    fputs(p, f);
    fputc('\n', f);
    free(s);
    return 0;
}

sbt_status sbt_tokenizer_save(const sbt_tokenizer *tok, const char *dir)
{
    if (!tok || !dir || !*dir)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_tokenizer_save: %s is NULL or empty",
                         !tok ? "tok" : "dir");
    struct stat sb;
    if (stat(dir, &sb) != 0)
        return sbti_fail(SBT_E_IO, "cannot save into %s: %s", dir, strerror(errno));
    if (!S_ISDIR(sb.st_mode))
        return sbti_fail(SBT_E_IO, "cannot save into %s: not a folder", dir);
    char *p1 = join_path(dir, "tokenizer.json"), *p2 = join_path(dir, "tokenizer_config.json");
    sbti_added_token *added = NULL;
    json_t *cfg = NULL;
    sbt_status st = SBT_OK;
    if (!p1 || !p2)
        st = sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory saving into %s", dir);
    if (st == SBT_OK)
        st = sorted_added(tok, &added);
    if (st == SBT_OK && !(cfg = make_config(tok, added)))
        st = sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory making %s", p2);
    /* Both files are finished before either is renamed; abort is a no-op on a file that was
     * renamed or never opened, and removes any temporary left. */
    sbti_atomic_file f1 = {0}, f2 = {0};
    if (st == SBT_OK)
        st = sbti_atomic_open(&f1, p1);
    if (st == SBT_OK)
        st = sbti_atomic_open(&f2, p2);
    if (st == SBT_OK && write_tokenizer_json(tok, added, f1.fp) != 0)
        st = sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory writing %s", p1);
    if (st == SBT_OK && write_config(cfg, f2.fp) != 0)
        st = sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory writing %s", p2);
    if (st == SBT_OK)
        st = sbti_atomic_finish(&f1);
    if (st == SBT_OK)
        st = sbti_atomic_finish(&f2);
    if (st == SBT_OK)
        st = sbti_atomic_rename(&f1);
    if (st == SBT_OK)
        st = sbti_atomic_rename(&f2);
    sbti_atomic_abort(&f1);
    sbti_atomic_abort(&f2);
    json_decref(cfg);
    free(added);
    free(p1);
    free(p2);
    return st;
}
