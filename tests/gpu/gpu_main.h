/* gpu_main.h — what the GPU op suites share around their tests: a CUDA backend and the CPU
 * reference (exit 77, "skipped", without a usable GPU), the seed (SBT_TEST_SEED, else the time;
 * printed so that a failure can be repeated) and quick mode (SBT_TEST_QUICK) from the
 * environment, and a main that runs the suite without fork (a CUDA context does not survive
 * one) and then the suite's report. */
#ifndef SBT_TESTS_GPU_MAIN_H
#define SBT_TESTS_GPU_MAIN_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend/backend.h"
#include "gpu_random.h"

static sbti_backend *gpu, *cpu;
static int quick; /* SBT_TEST_QUICK: the smaller shapes */

static int gpu_suite_main(Suite *(*make_suite)(void), void (*report)(void))
{
    sbt_status st = sbti_backend_cuda_create(&gpu, 0);
    if (st == SBT_E_NOT_FOUND || st == SBT_E_UNSUPPORTED) {
        printf("skipped: %s\n", sbt_last_error());
        return 77;
    }
    if (st != SBT_OK) {
        fprintf(stderr, "sbti_backend_cuda_create: %s\n", sbt_last_error());
        return EXIT_FAILURE;
    }
    if (sbti_backend_cpu_create(&cpu, 0) != SBT_OK) {
        fprintf(stderr, "sbti_backend_cpu_create: %s\n", sbt_last_error());
        sbti_backend_destroy(gpu);
        return EXIT_FAILURE;
    }
    const char *seed = getenv("SBT_TEST_SEED"), *q = getenv("SBT_TEST_QUICK");
    rng_state = seed ? strtoull(seed, NULL, 0) : (uint64_t)time(NULL);
    quick = q && *q && strcmp(q, "0") != 0;
    printf("cuda backend: %s\nseed: %llu (SBT_TEST_SEED repeats it)\n%s", gpu->description,
           (unsigned long long)rng_state,
           quick ? "quick: the small shapes (SBT_TEST_QUICK)\n" : "");
    fflush(stdout);

    SRunner *sr = srunner_create(make_suite());
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    report();
    sbti_backend_destroy(cpu);
    sbti_backend_destroy(gpu);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif /* SBT_TESTS_GPU_MAIN_H */
