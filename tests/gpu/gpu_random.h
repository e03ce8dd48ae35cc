/* gpu_random.h — the random inputs of the GPU tests: a SplitMix64 stream (seeded by the test
 * through rng_state, printed so a failure can be repeated), uniforms, normals, and rounding to
 * bf16 so that the CPU reference and the GPU see identical values. */
#ifndef SBT_TESTS_GPU_RANDOM_H
#define SBT_TESTS_GPU_RANDOM_H

#include <math.h>
#include <stdint.h>
#include <string.h>

static uint64_t rng_state;

static inline uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* In [0, 1). */
static inline double uniform(void) { return (double)(rng_next() >> 11) * (1.0 / 9007199254740992.0); }
static inline int rand_int(int n) { return (int)(rng_next() % (uint64_t)n); }

static inline float normal(void)
{
    double u1 = ((rng_next() >> 11) + 1.0) * (1.0 / 9007199254740993.0);
    double u2 = (rng_next() >> 11) * (1.0 / 9007199254740992.0);
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

/* x rounded to bf16 (nearest even), as fp32; NaN and infinities unchanged. */
static inline float round_bf16(float x)
{
    uint32_t u;
    memcpy(&u, &x, 4);
    if ((u & 0x7f800000u) != 0x7f800000u)
        u += 0x7fffu + ((u >> 16) & 1u);
    u &= 0xffff0000u;
    memcpy(&x, &u, 4);
    return x;
}

#endif /* SBT_TESTS_GPU_RANDOM_H */
