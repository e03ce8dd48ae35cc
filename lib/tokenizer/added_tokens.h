/* added_tokens.h — internal: added tokens (special or not) and how text is split on them before
 * pre-tokenization, as Hugging Face `tokenizers`' AddedVocabulary does: leftmost-longest
 * matching over all contents, single_word / lstrip / rstrip, and two passes (tokens with
 * normalized=false first, then normalized=true ones on what is left). */
#ifndef SBTI_TOKENIZER_ADDED_TOKENS_H
#define SBTI_TOKENIZER_ADDED_TOKENS_H

#include <stddef.h>
#include <stdint.h>

#include "selfbt/status.h"

typedef struct sbti_added_token {
    int32_t id;
    uint32_t off, len; /* content: text[off .. off + len) */
    uint8_t single_word, lstrip, rstrip, normalized, special;
} sbti_added_token;

typedef struct sbti_trie_node {
    int32_t child, sibling; /* -1: none */
    int32_t token;          /* index into tok[] of the token ending here, -1: none */
    uint8_t byte;
} sbti_trie_node;

typedef struct sbti_trie {
    sbti_trie_node *node; /* node 0 is the root */
    size_t n, cap;
    uint8_t first[256];   /* bytes that start some content */
    int n_first;          /* how many bytes are in first[] */
    uint8_t only_first;   /* the byte when n_first == 1 */
} sbti_trie;

typedef struct sbti_added {
    sbti_added_token *tok; /* in the order they were added */
    size_t n, cap;
    char *text;            /* contents, each NUL-terminated */
    size_t text_len, text_cap;
    sbti_trie trie[2];     /* [0]: normalized=false, [1]: normalized=true */
} sbti_added;

void sbti_added_init(sbti_added *a);
void sbti_added_free(sbti_added *a);
/* Appends a token (t's flags and id; content copied). Call sbti_added_build afterwards. */
sbt_status sbti_added_push(sbti_added *a, const sbti_added_token *t, const char *content,
                           size_t len);
/* (Re)builds both tries from tok[]. */
sbt_status sbti_added_build(sbti_added *a);
/* 1 if trie `which` has no tokens. */
static inline int sbti_added_empty(const sbti_added *a, int which)
{
    return a->trie[which].n_first == 0;
}

/* Splits valid UTF-8 s[0..len) on the tokens of trie `which`: calls fn(ctx, start, end, id)
 * in order, with id -1 for the text between tokens and the token's id for a match (whose span
 * includes the whitespace lstrip/rstrip absorbed). Returns the first non-zero value fn
 * returns, else 0. */
typedef int (*sbti_split_fn)(void *ctx, size_t start, size_t end, int32_t id);
int sbti_added_split(const sbti_added *a, int which, const char *s, size_t len, sbti_split_fn fn,
                     void *ctx);

/* Rust regex's \w (Alphabetic, M, Nd, Pc, Join_Control), as HF's single_word test uses. */
int sbti_is_word_char(uint32_t cp);

#endif /* SBTI_TOKENIZER_ADDED_TOKENS_H */
