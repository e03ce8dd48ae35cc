/* backend_fixture.h — the backend a unit test runs on (the CPU one, unless the test says). */
#ifndef SBT_TESTS_BACKEND_FIXTURE_H
#define SBT_TESTS_BACKEND_FIXTURE_H

#include <check.h>

#include "selfbt/backend.h"

/* A backend of kind with num_threads (0: OpenMP's default); fails the test if none. */
static inline sbt_backend *test_backend(sbt_backend_kind kind, int num_threads)
{
    sbt_backend_options o;
    sbt_backend_options_init(&o);
    o.kind = kind;
    o.num_threads = num_threads;
    sbt_backend *be = NULL;
    ck_assert_msg(sbt_backend_create(&be, &o) == SBT_OK, "%s", sbt_last_error());
    return be;
}

#endif /* SBT_TESTS_BACKEND_FIXTURE_H */
