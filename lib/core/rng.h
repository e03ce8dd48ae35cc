/* rng.h — internal random number generators.
 *
 * sbti_rng: xoshiro256** seeded through splitmix64 from a (seed, stream, index) key, so every
 *           problem of a dataset draws from its own stream and the result does not depend on
 *           which thread made it.
 * sbti_mt:  MT19937 exactly as CPython's `random` module, for the few places where our output
 *           must equal a Python reference (Stream-of-Search's held-out target shuffle). */
#ifndef SBTI_CORE_RNG_H
#define SBTI_CORE_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct sbti_rng {
    uint64_t s[4];
} sbti_rng;

/* A stream identified by (seed, stream, index); distinct keys give independent streams. */
void sbti_rng_init(sbti_rng *rng, uint64_t seed, uint64_t stream, uint64_t index);
uint64_t sbti_rng_next(sbti_rng *rng);
/* Uniform in [0, n), unbiased; n > 0. */
uint32_t sbti_rng_below(sbti_rng *rng, uint32_t n);
/* Uniform in [lo, hi] inclusive, for any lo <= hi. */
int32_t sbti_rng_range(sbti_rng *rng, int32_t lo, int32_t hi);

typedef struct sbti_mt {
    uint32_t mt[624];
    int index;
} sbti_mt;

/* random.seed(seed) for a non-negative integer seed (CPython's init_by_array). */
void sbti_mt_seed(sbti_mt *mt, uint64_t seed);
uint32_t sbti_mt_next(sbti_mt *mt);
/* random._randbelow(n) (getrandbits rejection); n > 0. */
uint32_t sbti_mt_below(sbti_mt *mt, uint32_t n);
/* random.shuffle(list) for a list of int32. */
void sbti_mt_shuffle_i32(sbti_mt *mt, int32_t *a, size_t n);

#endif /* SBTI_CORE_RNG_H */
