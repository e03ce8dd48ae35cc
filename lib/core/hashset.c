/* hashset.c — linear-probing set of ids. */
#include "core/hashset.h"

#include <stdlib.h>

#include "core/error.h"

static sbt_status alloc_table(sbti_set *s, size_t cap)
{
    s->hash = malloc(cap * sizeof *s->hash);
    s->id = malloc(cap * sizeof *s->id);
    if (!s->hash || !s->id) {
        free(s->hash);
        free(s->id);
        s->hash = NULL;
        s->id = NULL;
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory for a hash set of %zu slots", cap);
    }
    for (size_t k = 0; k < cap; k++)
        s->id[k] = -1;
    s->cap = cap;
    return SBT_OK;
}

sbt_status sbti_set_init(sbti_set *s, size_t expected)
{
    size_t cap = 16;
    while (cap < 2 * expected)
        cap *= 2;
    s->count = 0;
    return alloc_table(s, cap);
}

void sbti_set_free(sbti_set *s)
{
    free(s->hash);
    free(s->id);
    s->hash = NULL;
    s->id = NULL;
    s->cap = s->count = 0;
}

int64_t sbti_set_find(const sbti_set *s, uint64_t hash, const void *key, sbti_set_eq eq,
                      const void *ctx)
{
    for (size_t k = hash & (s->cap - 1);; k = (k + 1) & (s->cap - 1)) {
        if (s->id[k] < 0)
            return -1;
        if (s->hash[k] == hash && eq(key, s->id[k], ctx))
            return s->id[k];
    }
}

static void insert(sbti_set *s, uint64_t hash, int64_t id)
{
    size_t k = hash & (s->cap - 1);
    while (s->id[k] >= 0)
        k = (k + 1) & (s->cap - 1);
    s->hash[k] = hash;
    s->id[k] = id;
    s->count++;
}

sbt_status sbti_set_add(sbti_set *s, uint64_t hash, int64_t id)
{
    if (2 * (s->count + 1) > s->cap) {
        sbti_set old = *s;
        sbt_status st = alloc_table(s, old.cap * 2);
        if (st != SBT_OK) {
            *s = old;
            return st;
        }
        s->count = 0;
        for (size_t k = 0; k < old.cap; k++)
            if (old.id[k] >= 0)
                insert(s, old.hash[k], old.id[k]);
        free(old.hash);
        free(old.id);
    }
    insert(s, hash, id);
    return SBT_OK;
}

uint64_t sbti_hash_bytes(const void *data, size_t n)
{
    const unsigned char *p = data;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t k = 0; k < n; k++)
        h = (h ^ p[k]) * 0x100000001b3ULL;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}
