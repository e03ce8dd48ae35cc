/* bench_util.h — what the benchmarks of the internal API share: the library's monotonic clock
 * (sbti_now, core/clock.h), an exit that names the failed step and the library's last error,
 * and one seeded random stream. Define BENCH_NAME (the program's name) before including it. */
#ifndef SBT_BENCH_UTIL_H
#define SBT_BENCH_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/clock.h"
#include "core/rng.h"
#include "selfbt/status.h"

static inline void die(const char *what)
{
    fprintf(stderr, "%s: %s: %s\n", BENCH_NAME, what, sbt_last_error());
    exit(1);
}

/* The stream: the same numbers every run (seed 0x5eed). */
static inline uint64_t bench_next(void)
{
    static sbti_rng rng;
    static int ready;
    if (!ready) {
        sbti_rng_init(&rng, 0x5eed, 0, 0);
        ready = 1;
    }
    return sbti_rng_next(&rng);
}

/* Uniform in (0, 1), 53 bits. */
static inline double bench_unif(void)
{
    return ((double)(bench_next() >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

#endif /* SBT_BENCH_UTIL_H */
