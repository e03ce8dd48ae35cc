/* bpe.c — byte-level BPE: hashing, string tables, the merge table, the piece cache and the
 * lowest-rank merge loop of Hugging Face `tokenizers` (Word::merge_all). */
#include "tokenizer/bpe.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "tokenizer/grow.h"

/* ==== hashing =============================================================================== */

static inline uint64_t load64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline uint64_t mix64(uint64_t a, uint64_t b)
{
#ifdef __SIZEOF_INT128__
    __uint128_t r = (__uint128_t)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
#else
    uint64_t r = a * b;
    return r ^ (r >> 29) ^ (a >> 32) * (b | 1);
#endif
}

uint64_t sbti_tok_hash(const void *data, size_t n)
{
    const unsigned char *p = data;
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ ((uint64_t)n * 0xA0761D6478BD642FULL);
    while (n >= 8) {
        h = mix64(h ^ load64(p), 0xE7037ED1A0B428DBULL);
        p += 8;
        n -= 8;
    }
    uint64_t t = 0;
    if (n)
        memcpy(&t, p, n);
    h = mix64(h ^ t, 0x8EBC6AF09C88C6E3ULL);
    return mix64(h, 0x589965CC75374CC3ULL);
}

/* ==== string → id table ====================================================================== */

static sbt_status strtab_alloc(sbti_strtab *t, size_t cap)
{
    t->slot = malloc(cap * sizeof *t->slot);
    if (!t->slot)
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory for a token table of %zu slots", cap);
    for (size_t k = 0; k < cap; k++)
        t->slot[k].id = -1;
    t->mask = cap - 1;
    return SBT_OK;
}

sbt_status sbti_strtab_init(sbti_strtab *t, size_t expected)
{
    memset(t, 0, sizeof *t);
    size_t cap = 16;
    while (cap < 2 * expected)
        cap *= 2;
    return strtab_alloc(t, cap);
}

void sbti_strtab_free(sbti_strtab *t)
{
    free(t->slot);
    free(t->keys);
    memset(t, 0, sizeof *t);
}

static int32_t strtab_find_hashed(const sbti_strtab *t, uint64_t h, const void *key, size_t len)
{
    uint32_t hi = (uint32_t)(h >> 32);
    for (size_t k = (size_t)h & t->mask;; k = (k + 1) & t->mask) {
        const sbti_strtab_slot *s = &t->slot[k];
        if (s->id < 0)
            return -1;
        if (s->hash == hi && s->len == len && memcmp(t->keys + s->off, key, len) == 0)
            return s->id;
    }
}

int32_t sbti_strtab_find(const sbti_strtab *t, const void *key, size_t len)
{
    if (!t->slot)
        return -1;
    return strtab_find_hashed(t, sbti_tok_hash(key, len), key, len);
}

static void strtab_insert_slot(sbti_strtab *t, sbti_strtab_slot s, uint64_t h)
{
    size_t k = (size_t)h & t->mask;
    while (t->slot[k].id >= 0)
        k = (k + 1) & t->mask;
    t->slot[k] = s;
}

sbt_status sbti_strtab_put(sbti_strtab *t, const void *key, size_t len, int32_t id)
{
    if (len > UINT32_MAX / 2)
        return sbti_fail(SBT_E_UNSUPPORTED, "a token of %zu bytes is too long", len);
    uint64_t h = sbti_tok_hash(key, len);
    uint32_t hi = (uint32_t)(h >> 32);
    for (size_t k = (size_t)h & t->mask; t->slot[k].id >= 0; k = (k + 1) & t->mask) {
        sbti_strtab_slot *s = &t->slot[k];
        if (s->hash == hi && s->len == len && memcmp(t->keys + s->off, key, len) == 0) {
            s->id = id;
            return SBT_OK;
        }
    }
    if (t->keys_len + len > UINT32_MAX)
        return sbti_fail(SBT_E_UNSUPPORTED, "token strings exceed 4 GiB");
    if (t->keys_len + len > t->keys_cap) {
        char *k = sbti_grow(t->keys, &t->keys_cap, t->keys_len + len, 1, 4096);
        if (!k)
            return sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory for token strings");
        t->keys = k;
    }
    if (2 * (t->count + 1) > t->mask + 1) {
        sbti_strtab old = *t;
        sbt_status st = strtab_alloc(t, 2 * (old.mask + 1));
        if (st != SBT_OK) {
            t->slot = old.slot;
            t->mask = old.mask;
            return st;
        }
        for (size_t k = 0; k <= old.mask; k++)
            if (old.slot[k].id >= 0)
                strtab_insert_slot(t, old.slot[k],
                                   sbti_tok_hash(t->keys + old.slot[k].off, old.slot[k].len));
        free(old.slot);
    }
    if (len)
        memcpy(t->keys + t->keys_len, key, len);
    sbti_strtab_slot s = {hi, id, (uint32_t)t->keys_len, (uint32_t)len};
    t->keys_len += len;
    strtab_insert_slot(t, s, h);
    t->count++;
    return SBT_OK;
}

/* ==== the GPT-2 byte alphabet ================================================================= */
/* Printable bytes stand for themselves ('!'..'~', '¡'..'¬', '®'..'ÿ'); the other 68 (0x00-0x20,
 * 0x7F-0xA0, 0xAD) get U+0100 onwards in byte order. */

uint32_t sbti_bytelevel_char(unsigned char b)
{
    if (b <= 0x20)
        return 0x100u + b;
    if (b >= 0x7F && b <= 0xA0)
        return 0x100u + 33 + (b - 0x7Fu);
    if (b == 0xAD)
        return 0x100u + 67;
    return b;
}

int sbti_bytelevel_byte(uint32_t cp)
{
    if ((cp >= 0x21 && cp <= 0x7E) || (cp >= 0xA1 && cp <= 0xAC) || (cp >= 0xAE && cp <= 0xFF))
        return (int)cp;
    if (cp >= 0x100 && cp <= 0x120)
        return (int)(cp - 0x100);
    if (cp >= 0x121 && cp <= 0x142)
        return (int)(cp - 0x121 + 0x7F);
    if (cp == 0x143)
        return 0xAD;
    return -1;
}

size_t sbti_bytelevel_utf8(unsigned char b, char out[4])
{
    uint32_t cp = sbti_bytelevel_char(b);
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    out[0] = (char)(0xC0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
}

/* ==== merges ================================================================================== */

static inline size_t merge_slot_of(uint64_t key, size_t mask)
{
    uint64_t m = key * 0x9E3779B97F4A7C15ULL;
    m ^= m >> 32;
    m *= 0xD6E8FEB86659FD93ULL;
    return (size_t)(m >> 24) & mask;
}

static sbt_status merge_resize(sbti_bpe *b, size_t cap)
{
    sbti_merge_slot *t = malloc(cap * sizeof *t);
    if (!t)
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory for a merge table of %zu slots", cap);
    for (size_t k = 0; k < cap; k++)
        t[k].key = UINT64_MAX;
    if (b->merge) {
        for (size_t k = 0; k <= b->merge_mask; k++) {
            if (b->merge[k].key == UINT64_MAX)
                continue;
            size_t j = merge_slot_of(b->merge[k].key, cap - 1);
            while (t[j].key != UINT64_MAX)
                j = (j + 1) & (cap - 1);
            t[j] = b->merge[k];
        }
        free(b->merge);
    }
    b->merge = t;
    b->merge_mask = cap - 1;
    return SBT_OK;
}

static sbt_status merge_grow(sbti_bpe *b)
{
    return merge_resize(b, b->merge ? 2 * (b->merge_mask + 1) : 1024);
}

sbt_status sbti_bpe_reserve_merges(sbti_bpe *b, size_t n)
{
    size_t cap = 1024; /* load factor at most 3/4 */
    while (3 * cap < 4 * (n + 1))
        cap *= 2;
    if (b->merge && cap <= b->merge_mask + 1)
        return SBT_OK;
    sbt_status st = merge_resize(b, cap);
    if (st != SBT_OK)
        return st;
    size_t lcap = 64;
    while (lcap < n)
        lcap *= 2;
    if (lcap > 64 && b->n_merge_list == 0) {
        int32_t(*l)[2] = malloc(lcap * sizeof *l);
        if (!l)
            return sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory for %zu merges", n);
        free(b->merge_list);
        b->merge_list = l;
        b->merge_list_cap = lcap;
    }
    return SBT_OK;
}

void sbti_bpe_init(sbti_bpe *b)
{
    memset(b, 0, sizeof *b);
    for (int k = 0; k < 256; k++)
        b->byte_id[k] = -1;
    b->unk_id = -1;
}

sbt_status sbti_bpe_add_merge(sbti_bpe *b, int32_t left, int32_t right, int32_t new_id)
{
    if (b->n_merge_list >= UINT32_MAX - 1)
        return sbti_fail(SBT_E_UNSUPPORTED, "too many merges");
    if (!b->merge || 4 * (b->merge_count + 1) > 3 * (b->merge_mask + 1)) {
        sbt_status st = merge_grow(b);
        if (st != SBT_OK)
            return st;
    }
    size_t n = b->n_merge_list;
    if (n == b->merge_list_cap) {
        int32_t(*l)[2] = sbti_grow(b->merge_list, &b->merge_list_cap, n + 1, sizeof *l, 64);
        if (!l)
            return sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory for %zu merges", n + 1);
        b->merge_list = l;
    }
    b->merge_list[n][0] = left;
    b->merge_list[n][1] = right;
    b->n_merge_list = n + 1;

    uint64_t key = (uint64_t)(uint32_t)left << 32 | (uint32_t)right;
    size_t j = merge_slot_of(key, b->merge_mask);
    while (b->merge[j].key != UINT64_MAX && b->merge[j].key != key)
        j = (j + 1) & b->merge_mask;
    if (b->merge[j].key == UINT64_MAX)
        b->merge_count++;
    /* A repeated pair takes the later rank, as Hugging Face's HashMap collect does. */
    b->merge[j].key = key;
    b->merge[j].rank = (uint32_t)n;
    b->merge[j].new_id = new_id;
    return SBT_OK;
}

static inline const sbti_merge_slot *find_merge(const sbti_bpe *b, int32_t left, int32_t right)
{
    if (!b->merge)
        return NULL;
    uint64_t key = (uint64_t)(uint32_t)left << 32 | (uint32_t)right;
    for (size_t j = merge_slot_of(key, b->merge_mask);; j = (j + 1) & b->merge_mask) {
        if (b->merge[j].key == key)
            return &b->merge[j];
        if (b->merge[j].key == UINT64_MAX)
            return NULL;
    }
}

/* ==== the piece cache ========================================================================= */
/* 64 shards, each a direct-mapped table behind its own mutex. Lookups and inserts only
 * try-lock: when another thread holds a shard the piece is simply merged again, so encode
 * never waits and the cache is safe to share between threads using one tokenizer. */

enum { CACHE_SHARDS = 64, CACHE_SLOTS = 128, CACHE_KEY_MAX = 40, CACHE_IDS_MAX = 12 };

typedef struct cache_entry {
    uint64_t hash;
    uint8_t key_len; /* 0: empty */
    uint8_t n_ids;
    char key[CACHE_KEY_MAX];
    int32_t ids[CACHE_IDS_MAX];
} cache_entry;

struct sbti_bpe_cache {
    struct cache_shard {
        pthread_mutex_t mu;
        cache_entry e[CACHE_SLOTS];
    } shard[CACHE_SHARDS];
};

sbt_status sbti_bpe_cache_create(sbti_bpe *b)
{
    if (b->cache)
        return SBT_OK;
    sbti_bpe_cache *c = calloc(1, sizeof *c);
    if (!c)
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory for the BPE cache");
    for (int k = 0; k < CACHE_SHARDS; k++) {
        if (pthread_mutex_init(&c->shard[k].mu, NULL) != 0) {
            while (k-- > 0)
                pthread_mutex_destroy(&c->shard[k].mu);
            free(c);
            return sbti_fail(SBT_E_INTERNAL, "cannot create a mutex for the BPE cache");
        }
    }
    b->cache = c;
    return SBT_OK;
}

static void cache_destroy(sbti_bpe_cache *c)
{
    if (!c)
        return;
    for (int k = 0; k < CACHE_SHARDS; k++)
        pthread_mutex_destroy(&c->shard[k].mu);
    free(c);
}

/* Appends the cached ids of the piece and returns 1, or returns 0. */
static int cache_get(sbti_bpe_cache *c, uint64_t h, const char *key, size_t len, sbti_ids *out)
{
    struct cache_shard *s = &c->shard[h & (CACHE_SHARDS - 1)];
    if (pthread_mutex_trylock(&s->mu) != 0)
        return 0;
    const cache_entry *e = &s->e[(h >> 6) & (CACHE_SLOTS - 1)];
    int hit = e->hash == h && e->key_len == len && memcmp(e->key, key, len) == 0;
    if (hit)
        for (int k = 0; k < e->n_ids; k++)
            sbti_ids_push(out, e->ids[k]);
    pthread_mutex_unlock(&s->mu);
    return hit;
}

static void cache_put(sbti_bpe_cache *c, uint64_t h, const char *key, size_t len,
                      const sbt_token *ids, size_t n)
{
    struct cache_shard *s = &c->shard[h & (CACHE_SHARDS - 1)];
    if (pthread_mutex_trylock(&s->mu) != 0)
        return;
    cache_entry *e = &s->e[(h >> 6) & (CACHE_SLOTS - 1)];
    e->hash = h;
    e->key_len = (uint8_t)len;
    e->n_ids = (uint8_t)n;
    memcpy(e->key, key, len);
    memcpy(e->ids, ids, n * sizeof *ids);
    pthread_mutex_unlock(&s->mu);
}

void sbti_bpe_free(sbti_bpe *b)
{
    sbti_strtab_free(&b->by_bytes);
    free(b->merge);
    free(b->merge_list);
    cache_destroy(b->cache);
    sbti_bpe_init(b);
}

/* ==== merging one piece ========================================================================= */

typedef struct heap_item {
    uint32_t rank;
    int32_t pos;
    int32_t new_id;
} heap_item;

static inline int heap_less(const heap_item *a, const heap_item *b)
{
    return a->rank != b->rank ? a->rank < b->rank : a->pos < b->pos;
}

static void heap_push(heap_item *h, size_t *n, heap_item x)
{
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!heap_less(&x, &h[p]))
            break;
        h[i] = h[p];
        i = p;
    }
    h[i] = x;
}

static heap_item heap_pop(heap_item *h, size_t *n)
{
    heap_item top = h[0];
    heap_item x = h[--*n];
    size_t i = 0, m = *n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= m)
            break;
        if (c + 1 < m && heap_less(&h[c + 1], &h[c]))
            c++;
        if (!heap_less(&h[c], &x))
            break;
        h[i] = h[c];
        i = c;
    }
    if (m)
        h[i] = x;
    return top;
}

/* Per symbol: id, prev, next, plus three heap items (each merge pushes at most two). */
enum { SYM_BYTES = 3 * sizeof(int32_t) + 3 * sizeof(heap_item), STACK_SYMS = 64 };

void sbti_bpe_scratch_free(sbti_bpe_scratch *s)
{
    free(s->mem);
    s->mem = NULL;
    s->cap = 0;
}

sbt_status sbti_bpe_encode(const sbti_bpe *b, const char *piece, size_t len,
                           sbti_bpe_scratch *s, sbti_ids *out)
{
    if (len == 0)
        return SBT_OK;
    const unsigned char *p = (const unsigned char *)piece;
    if (len == 1 && b->byte_id[p[0]] >= 0) {
        sbti_ids_push(out, b->byte_id[p[0]]);
        return SBT_OK;
    }
    uint64_t h = sbti_tok_hash(piece, len);
    if (b->ignore_merges) {
        int32_t id = strtab_find_hashed(&b->by_bytes, h, piece, len);
        if (id >= 0) {
            sbti_ids_push(out, id);
            return SBT_OK;
        }
    }
    int cacheable = b->cache && len <= CACHE_KEY_MAX;
    if (cacheable && cache_get(b->cache, h, piece, len, out))
        return SBT_OK;

    if (len > (size_t)INT32_MAX / 4)
        return sbti_fail(SBT_E_UNSUPPORTED, "a pre-token of %zu bytes is too long", len);
    _Alignas(8) unsigned char stack_mem[STACK_SYMS * SYM_BYTES];
    unsigned char *mem = stack_mem;
    if (len > STACK_SYMS) {
        if (s->cap < len) {
            size_t cap = s->cap ? s->cap : 256;
            while (cap < len)
                cap *= 2;
            void *m = malloc(cap * SYM_BYTES);
            if (!m)
                return sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory merging a piece of %zu bytes",
                                 len);
            free(s->mem);
            s->mem = m;
            s->cap = cap;
        }
        mem = s->mem;
    }
    heap_item *heap = (heap_item *)mem;
    int32_t *sym = (int32_t *)(mem + 3 * len * sizeof(heap_item));
    int32_t *prev = sym + len;
    int32_t *next = prev + len;

    /* The symbols: one per byte, with Hugging Face's unknown-token handling. */
    int32_t n = 0;
    int32_t unk_pending = 0; /* bytes of a pending unk symbol (0: none) */
    for (size_t i = 0; i < len; i++) {
        int32_t id = b->byte_id[p[i]];
        if (id >= 0) {
            if (unk_pending) {
                sym[n++] = b->unk_id;
                unk_pending = 0;
            }
            sym[n++] = id;
        } else if (b->unk_id >= 0) {
            if (unk_pending && !b->fuse_unk)
                sym[n++] = b->unk_id;
            unk_pending = 1;
        }
    }
    if (unk_pending)
        sym[n++] = b->unk_id;
    for (int32_t i = 0; i < n; i++) {
        prev[i] = i - 1;
        next[i] = i + 1 < n ? i + 1 : -1;
    }

    size_t nh = 0;
    for (int32_t i = 0; i + 1 < n; i++) {
        const sbti_merge_slot *m = find_merge(b, sym[i], sym[i + 1]);
        if (m)
            heap_push(heap, &nh, (heap_item){m->rank, i, m->new_id});
    }
    while (nh) {
        heap_item top = heap_pop(heap, &nh);
        int32_t pos = top.pos;
        if (sym[pos] < 0 || next[pos] < 0)
            continue; /* removed, or the last symbol */
        int32_t right = next[pos];
        const sbti_merge_slot *m = find_merge(b, sym[pos], sym[right]);
        if (!m || m->new_id != top.new_id)
            continue; /* a stale entry */
        sym[pos] = top.new_id;
        sym[right] = -1;
        next[pos] = next[right];
        if (next[right] >= 0)
            prev[next[right]] = pos;
        if (prev[pos] >= 0) {
            const sbti_merge_slot *l = find_merge(b, sym[prev[pos]], sym[pos]);
            if (l)
                heap_push(heap, &nh, (heap_item){l->rank, prev[pos], l->new_id});
        }
        if (next[pos] >= 0) {
            const sbti_merge_slot *r = find_merge(b, sym[pos], sym[next[pos]]);
            if (r)
                heap_push(heap, &nh, (heap_item){r->rank, pos, r->new_id});
        }
    }

    /* Symbol 0 never dies (merges keep the left position); walk the list from it. */
    size_t first = out->n, count = 0;
    for (int32_t i = n ? 0 : -1; i >= 0; i = next[i]) {
        sbti_ids_push(out, sym[i]);
        count++;
    }
    if (cacheable && count <= CACHE_IDS_MAX && first + count <= out->cap)
        cache_put(b->cache, h, piece, len, out->ids + first, count);
    else if (cacheable && count <= CACHE_IDS_MAX) {
        /* The caller's buffer is already full: collect the ids again for the cache. */
        sbt_token tmp[CACHE_IDS_MAX];
        size_t k = 0;
        for (int32_t i = n ? 0 : -1; i >= 0; i = next[i])
            tmp[k++] = sym[i];
        cache_put(b->cache, h, piece, len, tmp, k);
    }
    return SBT_OK;
}
