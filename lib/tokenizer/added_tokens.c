/* added_tokens.c — splitting text on added tokens: a byte trie per pass, leftmost-longest
 * matches, and Hugging Face's single_word / lstrip / rstrip rules (AddedVocabulary::find_matches). */
#include "tokenizer/added_tokens.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "tokenizer/grow.h"
#include "tokenizer/text.h"

void sbti_added_init(sbti_added *a)
{
    memset(a, 0, sizeof *a);
}

static void trie_free(sbti_trie *t)
{
    free(t->node);
    memset(t, 0, sizeof *t);
}

void sbti_added_free(sbti_added *a)
{
    free(a->tok);
    free(a->text);
    trie_free(&a->trie[0]);
    trie_free(&a->trie[1]);
    memset(a, 0, sizeof *a);
}

sbt_status sbti_added_push(sbti_added *a, const sbti_added_token *t, const char *content,
                           size_t len)
{
    if (a->n == a->cap) {
        sbti_added_token *p = sbti_grow(a->tok, &a->cap, a->n + 1, sizeof *p, 16);
        if (!p)
            return sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory for added tokens");
        a->tok = p;
    }
    if (len > UINT32_MAX / 4 || a->text_len + len + 1 > UINT32_MAX)
        return sbti_fail(SBT_E_UNSUPPORTED, "added tokens' contents exceed 4 GiB");
    if (a->text_len + len + 1 > a->text_cap) {
        char *p = sbti_grow(a->text, &a->text_cap, a->text_len + len + 1, 1, 1024);
        if (!p)
            return sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory for added tokens");
        a->text = p;
    }
    sbti_added_token x = *t;
    x.off = (uint32_t)a->text_len;
    x.len = (uint32_t)len;
    if (len)
        memcpy(a->text + a->text_len, content, len);
    a->text[a->text_len + len] = '\0';
    a->text_len += len + 1;
    a->tok[a->n++] = x;
    return SBT_OK;
}

static sbt_status trie_new_node(sbti_trie *t, uint8_t byte, int32_t *out)
{
    if (t->n == t->cap) {
        sbti_trie_node *p = sbti_grow(t->node, &t->cap, t->n + 1, sizeof *p, 64);
        if (!p)
            return sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory for the added-token trie");
        t->node = p;
    }
    t->node[t->n] = (sbti_trie_node){-1, -1, -1, byte};
    *out = (int32_t)t->n++;
    return SBT_OK;
}

static sbt_status trie_insert(sbti_trie *t, const unsigned char *s, size_t len, int32_t token)
{
    int32_t at = 0;
    for (size_t i = 0; i < len; i++) {
        int32_t c = t->node[at].child;
        while (c >= 0 && t->node[c].byte != s[i])
            c = t->node[c].sibling;
        if (c < 0) {
            sbt_status st = trie_new_node(t, s[i], &c);
            if (st != SBT_OK)
                return st;
            t->node[c].sibling = t->node[at].child;
            t->node[at].child = c;
        }
        at = c;
    }
    if (t->node[at].token < 0)
        t->node[at].token = token;
    return SBT_OK;
}

sbt_status sbti_added_build(sbti_added *a)
{
    for (int w = 0; w < 2; w++) {
        sbti_trie *t = &a->trie[w];
        t->n = 0;
        t->n_first = 0;
        memset(t->first, 0, sizeof t->first);
        int32_t root;
        sbt_status st = trie_new_node(t, 0, &root);
        if (st != SBT_OK)
            return st;
        for (size_t k = 0; k < a->n; k++) {
            const sbti_added_token *x = &a->tok[k];
            if ((x->normalized != 0) != w || x->len == 0)
                continue;
            const unsigned char *s = (const unsigned char *)a->text + x->off;
            st = trie_insert(t, s, x->len, (int32_t)k);
            if (st != SBT_OK)
                return st;
            if (!t->first[s[0]]) {
                t->first[s[0]] = 1;
                t->n_first++;
                t->only_first = s[0];
            }
        }
    }
    return SBT_OK;
}

/* ---- character classes at the edges of a match ---------------------------------------------- */

/* Where the character that ends s[0..end) starts (valid UTF-8, end > 0). */
static size_t char_start_before(const char *s, size_t end)
{
    size_t i = end - 1;
    while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80)
        i--;
    return i;
}

/* The code point that ends s[0..end) (valid UTF-8, end > 0). */
static uint32_t last_char(const char *s, size_t end)
{
    size_t pos = char_start_before(s, end);
    return sbti_utf8_next(s, end, &pos);
}

/* Start of the whitespace run that ends s[0..end) (Rust `\s*$`). */
static size_t space_leftmost_at_end(const char *s, size_t end)
{
    while (end > 0) {
        size_t i = char_start_before(s, end);
        size_t pos = i;
        if (!sbti_is_space(sbti_utf8_next(s, end, &pos)))
            break;
        end = i;
    }
    return end;
}

/* Length of the whitespace run that starts s[start..len) (Rust `^\s*`). */
static size_t space_rightmost_at_start(const char *s, size_t start, size_t len)
{
    size_t pos = start;
    while (pos < len) {
        size_t next = pos;
        if (!sbti_is_space(sbti_utf8_next(s, len, &next)))
            break;
        pos = next;
    }
    return pos - start;
}

/* ---- matching ---------------------------------------------------------------------------------- */

/* The leftmost-longest match starting at or after *from: sets *start, *end, *token. */
static int find_match(const sbti_trie *t, const unsigned char *s, size_t len, size_t from,
                      size_t *start, size_t *end, int32_t *token)
{
    const sbti_trie_node *node = t->node;
    for (size_t p = from; p < len; p++) {
        if (t->n_first == 1) {
            const unsigned char *q = memchr(s + p, t->only_first, len - p);
            if (!q)
                return 0;
            p = (size_t)(q - s);
        } else if (!t->first[s[p]]) {
            continue;
        }
        int32_t at = 0, best = -1;
        size_t best_end = 0;
        for (size_t i = p; i < len; i++) {
            int32_t c = node[at].child;
            while (c >= 0 && node[c].byte != s[i])
                c = node[c].sibling;
            if (c < 0)
                break;
            at = c;
            if (node[at].token >= 0) {
                best = node[at].token;
                best_end = i + 1;
            }
        }
        if (best >= 0) {
            *start = p;
            *end = best_end;
            *token = best;
            return 1;
        }
    }
    return 0;
}

int sbti_added_split(const sbti_added *a, int which, const char *s, size_t len, sbti_split_fn fn,
                     void *ctx)
{
    const sbti_trie *t = &a->trie[which];
    const unsigned char *u = (const unsigned char *)s;
    size_t start_offset = 0, from = 0, start, stop;
    int32_t k;
    int rc;
    while (t->n_first > 0 && from < len && find_match(t, u, len, from, &start, &stop, &k)) {
        /* The search goes on after the match whether or not it is kept (Aho-Corasick's
         * non-overlapping iterator). */
        from = stop;
        const sbti_added_token *x = &a->tok[k];
        if (x->single_word) {
            int start_space = start == 0 || !sbti_is_word_char(last_char(s, start));
            size_t pos = stop;
            int stop_space = stop == len || !sbti_is_word_char(sbti_utf8_next(s, len, &pos));
            if (!start_space || !stop_space)
                continue;
        }
        if (x->lstrip) {
            size_t newstart = space_leftmost_at_end(s, start);
            start = newstart > start_offset ? newstart : start_offset;
        }
        if (x->rstrip)
            stop += space_rightmost_at_start(s, stop, len);
        if (start_offset < start && (rc = fn(ctx, start_offset, start, -1)) != 0)
            return rc;
        if ((rc = fn(ctx, start, stop, x->id)) != 0)
            return rc;
        start_offset = stop;
    }
    if (start_offset < len && (rc = fn(ctx, start_offset, len, -1)) != 0)
        return rc;
    return 0;
}
