/* tokenizer.c — the sbt_tokenizer API: encode (added tokens, the Llama-3 pre-tokenizer, BPE,
 * the post-processor template), decode (ByteLevel decoder, lossy UTF-8), vocabulary queries and
 * adding special tokens.
 *
 * Threads: encode, decode and the queries only read the tokenizer (the BPE piece cache they
 * share is try-locked, see bpe.c), so any number of threads may call them on one tokenizer at
 * once. sbt_tokenizer_add_special_tokens changes it and must not run alongside anything else on
 * the same tokenizer. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "tokenizer/text.h"
#include "tokenizer/tokenizer_internal.h"

/* ==== encode ================================================================================== */

typedef struct enc_state {
    const sbt_tokenizer *tok;
    const char *base; /* the segment the pre-tokenizer is splitting */
    sbti_ids out;
    sbti_bpe_scratch scratch;
    sbt_status st;
} enc_state;

typedef struct split_ctx {
    enc_state *e;
    const char *s; /* the text being split (offsets are relative to it) */
} split_ctx;

static int piece_cb(void *ctx, size_t start, size_t end)
{
    enc_state *e = ctx;
    sbt_status st = sbti_bpe_encode(&e->tok->bpe, e->base + start, end - start, &e->scratch,
                                    &e->out);
    if (st != SBT_OK) {
        e->st = st;
        return 1;
    }
    return 0;
}

static int encode_plain(enc_state *e, const char *s, size_t len)
{
    if (len == 0)
        return 0;
    e->base = s;
    int rc = sbti_pretokenize_llama3(s, len, piece_cb, e);
    if (rc && e->st == SBT_OK)
        e->st = sbti_fail(SBT_E_INTERNAL, "the pre-tokenizer stopped (%d)", rc);
    return rc;
}

static int pass2_cb(void *ctx, size_t start, size_t end, int32_t id)
{
    split_ctx *c = ctx;
    if (id >= 0) {
        sbti_ids_push(&c->e->out, id);
        return 0;
    }
    return encode_plain(c->e, c->s + start, end - start);
}

static int pass1_cb(void *ctx, size_t start, size_t end, int32_t id)
{
    split_ctx *c = ctx;
    if (id >= 0) {
        sbti_ids_push(&c->e->out, id);
        return 0;
    }
    const sbti_added *a = &c->e->tok->added;
    if (sbti_added_empty(a, 1))
        return encode_plain(c->e, c->s + start, end - start);
    split_ctx inner = {c->e, c->s + start};
    return sbti_added_split(a, 1, inner.s, end - start, pass2_cb, &inner);
}

sbt_status sbt_tokenizer_encode(const sbt_tokenizer *tok, const char *text, size_t len,
                                        unsigned flags, sbt_token *ids, size_t cap, size_t *n_ids)
{
    if (n_ids)
        *n_ids = 0;
    if (!tok || !n_ids || (!text && len) || (!ids && cap))
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_tokenizer_encode: %s is NULL",
                         !tok ? "tok" : !n_ids ? "n_ids" : (!text && len) ? "text" : "ids");
    if (flags & ~SBT_ENCODE_ADD_SPECIAL)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_tokenizer_encode: unknown flags 0x%x",
                         flags & ~SBT_ENCODE_ADD_SPECIAL);
    char *clean = NULL;
    if (len && !sbti_utf8_valid(text, len)) {
        if (len > SIZE_MAX / 3)
            return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_tokenizer_encode: text too long");
        clean = malloc(3 * len);
        if (!clean)
            return sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory encoding %zu bytes", len);
        len = sbti_utf8_sanitize(text, len, clean);
        text = clean;
    }
    enc_state e = {0};
    e.tok = tok;
    e.out.ids = ids;
    e.out.cap = cap;
    int add = (flags & SBT_ENCODE_ADD_SPECIAL) != 0;
    if (add)
        for (size_t k = 0; k < tok->n_tmpl_prefix; k++)
            sbti_ids_push(&e.out, tok->tmpl_prefix[k]);
    split_ctx c = {&e, text};
    if (sbti_added_empty(&tok->added, 0))
        pass1_cb(&c, 0, len, -1);
    else
        sbti_added_split(&tok->added, 0, text, len, pass1_cb, &c);
    if (add && e.st == SBT_OK)
        for (size_t k = 0; k < tok->n_tmpl_suffix; k++)
            sbti_ids_push(&e.out, tok->tmpl_suffix[k]);
    sbti_bpe_scratch_free(&e.scratch);
    free(clean);
    if (e.st != SBT_OK)
        return e.st;
    *n_ids = e.out.n;
    if (e.out.n > cap)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_tokenizer_encode: %zu ids do not fit in a "
                         "buffer of %zu", e.out.n, cap);
    return SBT_OK;
}

/* ==== decode ================================================================================== */

sbt_status sbt_tokenizer_decode(const sbt_tokenizer *tok, const sbt_token *ids, size_t n,
                                        unsigned flags, char *text, size_t cap, size_t *len)
{
    if (len)
        *len = 0;
    if (!tok || !len || (!ids && n) || (!text && cap))
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_tokenizer_decode: %s is NULL",
                         !tok ? "tok" : !len ? "len" : (!ids && n) ? "ids" : "text");
    if (flags & ~SBT_DECODE_SKIP_SPECIAL)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_tokenizer_decode: unknown flags 0x%x",
                         flags & ~SBT_DECODE_SKIP_SPECIAL);
    int skip = (flags & SBT_DECODE_SKIP_SPECIAL) != 0;
    int byte_level = tok->decoder == SBTI_DECODER_BYTE_LEVEL;
    size_t total = 0, kept = 0;
    for (size_t i = 0; i < n; i++) {
        sbt_token id = ids[i];
        if (id < 0 || id >= tok->n_ids || !tok->info[id].kind)
            return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_tokenizer_decode: ids[%zu] = %ld is not "
                             "a token id (the vocabulary has %ld)", i, (long)id, (long)tok->n_ids);
        const sbti_token_info *ti = &tok->info[id];
        if (skip && ti->special)
            continue;
        total += byte_level ? ti->bytes_len : ti->text_len;
        kept++;
    }
    if (!byte_level && kept > 1)
        total += kept - 1; /* HF joins the token strings with " " when there is no decoder */
    if (total > SIZE_MAX / 3 - 1)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_tokenizer_decode: output too long");
    char small[1024];
    char *raw = total <= sizeof small ? small : malloc(total);
    if (!raw)
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory decoding %zu ids", n);
    size_t k = 0;
    for (size_t i = 0, j = 0; i < n; i++) {
        const sbti_token_info *ti = &tok->info[ids[i]];
        if (skip && ti->special)
            continue;
        if (!byte_level && j++ > 0)
            raw[k++] = ' ';
        uint32_t off = byte_level ? ti->bytes_off : ti->text_off;
        uint32_t l = byte_level ? ti->bytes_len : ti->text_len;
        memcpy(raw + k, tok->arena + off, l);
        k += l;
    }
    /* from_utf8_lossy */
    const char *out = raw;
    char *fixed = NULL;
    if (!sbti_utf8_valid(raw, total)) {
        fixed = malloc(3 * total);
        if (!fixed) {
            if (raw != small)
                free(raw);
            return sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory decoding %zu ids", n);
        }
        total = sbti_utf8_sanitize(raw, total, fixed);
        out = fixed;
    }
    *len = total;
    sbt_status st = SBT_OK;
    if (total + 1 > cap) {
        st = sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_tokenizer_decode: %zu bytes do not fit in a "
                       "buffer of %zu", total + 1, cap);
        if (cap)
            text[0] = '\0';
    } else {
        memcpy(text, out, total);
        text[total] = '\0';
    }
    free(fixed);
    if (raw != small)
        free(raw);
    return st;
}

/* ==== queries ================================================================================= */

void sbt_tokenizer_free(sbt_tokenizer *tok)
{
    if (!tok)
        return;
    json_decref(tok->meta);
    json_decref(tok->config);
    json_decref(tok->extra_special);
    sbti_bpe_free(&tok->bpe);
    sbti_added_free(&tok->added);
    sbti_strtab_free(&tok->by_text);
    free(tok->tmpl_prefix);
    free(tok->tmpl_suffix);
    free(tok->arena);
    free(tok->info);
    free(tok);
}

int32_t sbt_tokenizer_n_vocab(const sbt_tokenizer *tok)
{
    return tok ? tok->n_ids : 0;
}

const char *sbt_tokenizer_token_text(const sbt_tokenizer *tok, sbt_token id)
{
    if (!tok || id < 0 || id >= tok->n_ids || !tok->info[id].kind)
        return NULL;
    return sbti_tok_text(tok, id);
}

sbt_token sbt_tokenizer_token_id(const sbt_tokenizer *tok, const char *token)
{
    if (!tok || !token)
        return -1;
    return sbti_strtab_find(&tok->by_text, token, strlen(token));
}

int sbt_tokenizer_is_special(const sbt_tokenizer *tok, sbt_token id)
{
    if (!tok || id < 0 || id >= tok->n_ids)
        return 0;
    return tok->info[id].special != 0;
}

sbt_token sbt_tokenizer_bos(const sbt_tokenizer *tok)
{
    return tok ? tok->bos : -1;
}

sbt_token sbt_tokenizer_eos(const sbt_tokenizer *tok)
{
    return tok ? tok->eos : -1;
}

sbt_token sbt_tokenizer_pad(const sbt_tokenizer *tok)
{
    return tok ? tok->pad : -1;
}

sbt_status sbt_tokenizer_set_pad(sbt_tokenizer *tok, sbt_token id)
{
    if (!tok)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_tokenizer_set_pad: NULL tokenizer");
    if (id < -1 || id >= sbt_tokenizer_n_vocab(tok))
        return sbti_fail(SBT_E_INVALID_ARGUMENT,
                         "sbt_tokenizer_set_pad: id %d is outside the vocabulary of %d", (int)id,
                         (int)sbt_tokenizer_n_vocab(tok));
    tok->pad = id;
    return SBT_OK;
}

/* ==== adding special tokens =================================================================== */

sbt_status sbt_tokenizer_add_special_tokens(sbt_tokenizer *tok, const char *const *tokens,
                                                    size_t n, size_t *n_added)
{
    if (n_added)
        *n_added = 0;
    if (!tok || (!tokens && n))
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_tokenizer_add_special_tokens: %s is NULL",
                         !tok ? "tok" : "tokens");
    for (size_t i = 0; i < n; i++)
        if (!tokens[i] || !*tokens[i])
            return sbti_fail(SBT_E_INVALID_ARGUMENT,
                             "sbt_tokenizer_add_special_tokens: tokens[%zu] is %s", i,
                             tokens[i] ? "empty" : "NULL");
    if (!tok->extra_special && !(tok->extra_special = json_array()))
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory adding special tokens");
    size_t added = 0;
    sbt_status st = SBT_OK;
    for (size_t i = 0; i < n && st == SBT_OK; i++) {
        const char *s = tokens[i];
        size_t len = strlen(s);
        int32_t id = sbti_strtab_find(&tok->by_text, s, len);
        if (id >= 0 && (tok->info[id].kind & SBTI_TOK_ADDED))
            continue; /* already an added token: kept as it is */
        sbti_added_token f = {0};
        f.special = 1; /* as transformers adds them: special, not normalized, no strip */
        if (id < 0) {
            id = sbti_tok_next_added_id(tok);
            if (id < tok->n_ids && tok->info[id].kind) {
                st = sbti_fail(SBT_E_UNSUPPORTED, "cannot add \"%s\": the id it would get, %ld, "
                               "is taken (the vocabulary's ids have gaps)", s, (long)id);
                break;
            }
            if ((st = sbti_tok_reserve_ids(tok, id)) != SBT_OK ||
                (st = sbti_tok_set_text(tok, id, s, len)) != SBT_OK ||
                (st = sbti_strtab_put(&tok->by_text, s, len, id)) != SBT_OK)
                break;
            added++;
        }
        /* A token of the model vocabulary keeps its id and becomes an added special token. */
        f.id = id;
        if ((st = sbti_added_push(&tok->added, &f, s, len)) != SBT_OK)
            break;
        tok->info[id].kind |= SBTI_TOK_ADDED;
        tok->info[id].special = 1;
        if (json_array_append_new(tok->extra_special, json_string(s)) != 0)
            st = sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory adding special tokens");
    }
    sbt_status st2 = sbti_added_build(&tok->added);
    if (st == SBT_OK)
        st = st2;
    if (n_added)
        *n_added = added;
    return st;
}
