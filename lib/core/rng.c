/* rng.c — xoshiro256** streams and a CPython-compatible MT19937. */
#include "core/rng.h"

/* ---- splitmix64 + xoshiro256** --------------------------------------------------- */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void sbti_rng_init(sbti_rng *rng, uint64_t seed, uint64_t stream, uint64_t index)
{
    /* Hash the three key parts one after another so that (1,2,3) and (3,2,1) differ. */
    uint64_t x = seed;
    uint64_t h = splitmix64(&x);
    x = h ^ stream;
    h = splitmix64(&x);
    x = h ^ index;
    for (int i = 0; i < 4; i++)
        rng->s[i] = splitmix64(&x);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t sbti_rng_next(sbti_rng *rng)
{
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint32_t sbti_rng_below(sbti_rng *rng, uint32_t n)
{
    /* Rejection on the top 32 bits: accept r < the largest multiple of n. */
    uint32_t limit = (uint32_t)(0x100000000ULL - (0x100000000ULL % n));
    for (;;) {
        uint32_t r = (uint32_t)(sbti_rng_next(rng) >> 32);
        if (limit == 0 || r < limit)
            return r % n;
    }
}

int32_t sbti_rng_range(sbti_rng *rng, int32_t lo, int32_t hi)
{
    /* In 64 bits: hi - lo and lo + offset may not fit an int32 on the way. */
    uint64_t span = (uint64_t)((int64_t)hi - (int64_t)lo) + 1u;
    uint64_t offset = span > UINT32_MAX ? (uint64_t)(uint32_t)(sbti_rng_next(rng) >> 32)
                                        : sbti_rng_below(rng, (uint32_t)span);
    return (int32_t)((int64_t)lo + (int64_t)offset);
}

/* ---- MT19937 as CPython's _random ------------------------------------------------ */

static void mt_init_genrand(sbti_mt *m, uint32_t s)
{
    m->mt[0] = s;
    for (int i = 1; i < 624; i++)
        m->mt[i] = 1812433253u * (m->mt[i - 1] ^ (m->mt[i - 1] >> 30)) + (uint32_t)i;
    m->index = 624;
}

void sbti_mt_seed(sbti_mt *m, uint64_t seed)
{
    /* CPython splits abs(seed) into 32-bit words, least significant first; 0 -> [0]. */
    uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    int key_len = key[1] ? 2 : 1;
    mt_init_genrand(m, 19650218u);
    int i = 1, j = 0;
    for (int k = 624 > key_len ? 624 : key_len; k; k--) {
        m->mt[i] = (m->mt[i] ^ ((m->mt[i - 1] ^ (m->mt[i - 1] >> 30)) * 1664525u)) + key[j] + (uint32_t)j;
        i++;
        j++;
        if (i >= 624) {
            m->mt[0] = m->mt[623];
            i = 1;
        }
        if (j >= key_len)
            j = 0;
    }
    for (int k = 623; k; k--) {
        m->mt[i] = (m->mt[i] ^ ((m->mt[i - 1] ^ (m->mt[i - 1] >> 30)) * 1566083941u)) - (uint32_t)i;
        i++;
        if (i >= 624) {
            m->mt[0] = m->mt[623];
            i = 1;
        }
    }
    m->mt[0] = 0x80000000u;
    m->index = 624;
}

uint32_t sbti_mt_next(sbti_mt *m)
{
    static const uint32_t mag01[2] = {0u, 0x9908b0dfu};
    if (m->index >= 624) {
        int k;
        for (k = 0; k < 624 - 397; k++) {
            uint32_t y = (m->mt[k] & 0x80000000u) | (m->mt[k + 1] & 0x7fffffffu);
            m->mt[k] = m->mt[k + 397] ^ (y >> 1) ^ mag01[y & 1u];
        }
        for (; k < 623; k++) {
            uint32_t y = (m->mt[k] & 0x80000000u) | (m->mt[k + 1] & 0x7fffffffu);
            m->mt[k] = m->mt[k + (397 - 624)] ^ (y >> 1) ^ mag01[y & 1u];
        }
        uint32_t y = (m->mt[623] & 0x80000000u) | (m->mt[0] & 0x7fffffffu);
        m->mt[623] = m->mt[396] ^ (y >> 1) ^ mag01[y & 1u];
        m->index = 0;
    }
    uint32_t y = m->mt[m->index++];
    y ^= (y >> 11);
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= (y >> 18);
    return y;
}

uint32_t sbti_mt_below(sbti_mt *m, uint32_t n)
{
    /* _randbelow_with_getrandbits: k = n.bit_length(); r = getrandbits(k) until r < n. */
    int k = 0;
    for (uint32_t v = n; v; v >>= 1)
        k++;
    for (;;) {
        uint32_t r = sbti_mt_next(m) >> (32 - k);
        if (r < n)
            return r;
    }
}

void sbti_mt_shuffle_i32(sbti_mt *m, int32_t *a, size_t n)
{
    for (size_t i = n; i-- > 1;) {
        size_t j = sbti_mt_below(m, (uint32_t)(i + 1));
        int32_t t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}
