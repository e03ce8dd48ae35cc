/* tokenizer_internal.h — internal: the sbt_tokenizer handle shared by lib/tokenizer's files
 * (tokenizer.c: encode/decode/queries, tokenizer_json.c: load/save, countdown_vocab.c). */
#ifndef SBTI_TOKENIZER_INTERNAL_H
#define SBTI_TOKENIZER_INTERNAL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "selfbt/tokenizer.h"
#include "tokenizer/added_tokens.h"
#include "tokenizer/bpe.h"

/* Token kinds (bits of sbti_token_info.kind). */
enum { SBTI_TOK_MODEL = 1, SBTI_TOK_ADDED = 2 };

/* Ids above this are rejected on load (ids index dense arrays). */
#define SBTI_MAX_TOKEN_ID ((1 << 24) - 1)

typedef struct sbti_token_info {
    uint32_t text_off, text_len;   /* the token string (NUL-terminated) in tok->arena      */
    uint32_t bytes_off, bytes_len; /* what the ByteLevel decoder makes of it, in tok->arena */
    uint8_t kind;                  /* SBTI_TOK_* bits; 0: no token has this id             */
    uint8_t special;               /* an added token marked special                         */
    uint8_t byte_level;            /* every character is in the byte alphabet              */
} sbti_token_info;

typedef enum sbti_decoder_kind {
    SBTI_DECODER_NONE = 0,     /* tokens joined with " " (HF without a decoder) */
    SBTI_DECODER_BYTE_LEVEL = 1
} sbti_decoder_kind;

struct sbt_tokenizer {
    sbti_token_info *info; /* per id, n_ids entries */
    int32_t n_ids;         /* max id + 1 over the model vocabulary and added tokens */
    size_t info_cap;
    int32_t n_model;       /* entries in model.vocab (HF's model vocab size) */

    char *arena;           /* token strings and decoded bytes */
    size_t arena_len, arena_cap;

    sbti_strtab by_text;   /* token string → id (model and added tokens) */
    sbti_bpe bpe;
    sbti_added added;

    sbti_decoder_kind decoder;
    /* Post-processor template for one sequence: ids before and after it. */
    sbt_token *tmpl_prefix, *tmpl_suffix;
    size_t n_tmpl_prefix, n_tmpl_suffix;

    sbt_token bos, eos, pad;

    /* What save writes back: tokenizer.json without model.vocab, model.merges and added_tokens,
     * and tokenizer_config.json (NULL if there was none). */
    json_t *meta;
    json_t *config;
    /* Contents of tokens added with sbt_tokenizer_add_special_tokens, in order (for
     * tokenizer_config.json's additional_special_tokens). */
    json_t *extra_special;
};

/* Makes room for ids up to max_id in info[] (new entries have kind 0). */
sbt_status sbti_tok_reserve_ids(sbt_tokenizer *tok, int32_t max_id);
/* Fills info[id] text/bytes/byte_level from the token string (added to the arena). */
sbt_status sbti_tok_set_text(sbt_tokenizer *tok, int32_t id, const char *s, size_t len);

static inline const char *sbti_tok_text(const sbt_tokenizer *tok, int32_t id)
{
    return tok->arena + tok->info[id].text_off;
}

/* The id Hugging Face gives a new added token: after the largest added id if that is at or
 * past the model vocabulary's size, else the model vocabulary's size. */
int32_t sbti_tok_next_added_id(const sbt_tokenizer *tok);

/* Builds a tokenizer from tokenizer.json text (and optional tokenizer_config.json text); src
 * names the file in messages. */
sbt_status sbti_tok_from_json(sbt_tokenizer **out, const char *json, size_t len,
                              const char *config, size_t config_len, const char *src,
                              const char *config_src);

#endif /* SBTI_TOKENIZER_INTERNAL_H */
