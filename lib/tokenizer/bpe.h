/* bpe.h — internal: byte-level BPE (the Hugging Face `tokenizers` BPE model as used with the
 * ByteLevel pre-tokenizer): string→id tables, the merge table keyed by (left id, right id), the
 * GPT-2 byte alphabet, merging one pre-token piece by lowest rank, and a bounded cache of
 * recent pieces that several threads may share. */
#ifndef SBTI_TOKENIZER_BPE_H
#define SBTI_TOKENIZER_BPE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "selfbt/status.h"
#include "selfbt/tokenizer.h"

/* ---- hashing ------------------------------------------------------------------------- */

/* A fast 64-bit hash of n bytes (8 bytes per step), good in its low bits. */
uint64_t sbti_tok_hash(const void *data, size_t n);

/* ---- string → id table ----------------------------------------------------------------- */

/* Open addressing; keys are copied into the table's own buffer. */
typedef struct sbti_strtab_slot {
    uint32_t hash; /* high half of the 64-bit hash                  */
    int32_t id;    /* -1: empty                                     */
    uint32_t off;  /* key bytes in keys[off .. off + len)            */
    uint32_t len;
} sbti_strtab_slot;

typedef struct sbti_strtab {
    sbti_strtab_slot *slot;
    size_t mask, count; /* mask = capacity - 1 (a power of two) */
    char *keys;
    size_t keys_len, keys_cap;
} sbti_strtab;

sbt_status sbti_strtab_init(sbti_strtab *t, size_t expected);
void sbti_strtab_free(sbti_strtab *t);
/* The id stored under key, or -1. */
int32_t sbti_strtab_find(const sbti_strtab *t, const void *key, size_t len);
/* Stores id under key (replacing an existing id). */
sbt_status sbti_strtab_put(sbti_strtab *t, const void *key, size_t len, int32_t id);

/* ---- the GPT-2 byte alphabet ------------------------------------------------------------ */

/* The code point that stands for byte b in byte-level vocabularies ('Ġ' for ' ', ...). */
uint32_t sbti_bytelevel_char(unsigned char b);
/* The byte a code point stands for, or -1 if cp is not in the alphabet. */
int sbti_bytelevel_byte(uint32_t cp);
/* Writes the UTF-8 of byte b's alphabet character to out (2 bytes at most); returns its length. */
size_t sbti_bytelevel_utf8(unsigned char b, char out[4]);

/* ---- output buffer ------------------------------------------------------------------------ */

/* Ids written up to cap; n counts them all, so an undersized buffer still gives the length. */
typedef struct sbti_ids {
    sbt_token *ids;
    size_t cap, n;
} sbti_ids;

static inline void sbti_ids_push(sbti_ids *o, sbt_token id)
{
    if (o->n < o->cap)
        o->ids[o->n] = id;
    o->n++;
}

/* ---- the BPE model ------------------------------------------------------------------------- */

typedef struct sbti_merge_slot {
    uint64_t key;   /* (uint64)left << 32 | right; UINT64_MAX: empty */
    uint32_t rank;  /* position in the merges list (the later one wins on a repeated pair) */
    int32_t new_id; /* the merged token */
} sbti_merge_slot;

typedef struct sbti_bpe_cache sbti_bpe_cache;

typedef struct sbti_bpe {
    /* Model tokens by their bytes (the byte-level string decoded through the alphabet); only
     * tokens made entirely of alphabet characters, the only ones a piece can ever become. */
    sbti_strtab by_bytes;
    int32_t byte_id[256]; /* the token of each single byte, -1 if the vocabulary lacks it */

    sbti_merge_slot *merge; /* open addressing, mask + 1 slots */
    size_t merge_mask, merge_count;
    /* The merges in file order, for saving: left and right ids per rank. */
    int32_t (*merge_list)[2];
    size_t n_merge_list, merge_list_cap;

    int ignore_merges; /* a piece that is itself a token is emitted as it is */
    int32_t unk_id;    /* -1: bytes without a token are dropped, as HF does without unk_token */
    int fuse_unk;

    sbti_bpe_cache *cache; /* NULL: no cache */
} sbti_bpe;

void sbti_bpe_init(sbti_bpe *b);
void sbti_bpe_free(sbti_bpe *b);
/* Adds the merge (left, right) → new_id with the next rank. */
sbt_status sbti_bpe_add_merge(sbti_bpe *b, int32_t left, int32_t right, int32_t new_id);
/* Makes room for n merges. */
sbt_status sbti_bpe_reserve_merges(sbti_bpe *b, size_t n);
/* Creates the piece cache (call once the model is complete). */
sbt_status sbti_bpe_cache_create(sbti_bpe *b);

/* Working memory of one encode call (so pieces need no allocation of their own). */
typedef struct sbti_bpe_scratch {
    void *mem;
    size_t cap; /* symbols it has room for */
} sbti_bpe_scratch;

void sbti_bpe_scratch_free(sbti_bpe_scratch *s);

/* Appends the ids of one pre-token piece (raw bytes, before the byte-level mapping). */
sbt_status sbti_bpe_encode(const sbti_bpe *b, const char *piece, size_t len,
                           sbti_bpe_scratch *s, sbti_ids *out);

#endif /* SBTI_TOKENIZER_BPE_H */
