/* clock.h — internal: a monotonic clock in seconds, for rates and timings. */
#ifndef SBTI_CORE_CLOCK_H
#define SBTI_CORE_CLOCK_H

#include <time.h>

static inline double sbti_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#endif /* SBTI_CORE_CLOCK_H */
