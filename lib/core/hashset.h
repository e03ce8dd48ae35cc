/* hashset.h — internal: an open-addressing set of int64 ids keyed by a caller's hash and
 * equality, so keys can live wherever the caller keeps them (problems, strings in an arena). */
#ifndef SBTI_CORE_HASHSET_H
#define SBTI_CORE_HASHSET_H

#include <stddef.h>
#include <stdint.h>

#include "selfbt/status.h"

typedef struct sbti_set {
    size_t cap, count; /* cap is a power of two, at least twice count */
    uint64_t *hash;
    int64_t *id;       /* -1 marks an empty slot */
} sbti_set;

/* Does `key` equal the key of the element with this id? */
typedef int (*sbti_set_eq)(const void *key, int64_t id, const void *ctx);

sbt_status sbti_set_init(sbti_set *s, size_t expected);
void sbti_set_free(sbti_set *s);
/* The id of an element equal to key, or -1. */
int64_t sbti_set_find(const sbti_set *s, uint64_t hash, const void *key, sbti_set_eq eq,
                      const void *ctx);
/* Adds id under hash (the caller has checked it is absent). */
sbt_status sbti_set_add(sbti_set *s, uint64_t hash, int64_t id);

/* A 64-bit hash of n bytes (FNV-1a, then a final mix so low bits are usable as an index). */
uint64_t sbti_hash_bytes(const void *data, size_t n);

#endif /* SBTI_CORE_HASHSET_H */
