/* check_main.h — the main() every Check suite shares: run the suite, exit 1 on any failure. */
#ifndef SBT_TESTS_CHECK_MAIN_H
#define SBT_TESTS_CHECK_MAIN_H

#include <check.h>
#include <stdlib.h>

#define SBT_CHECK_MAIN(make_suite)                                                          \
    int main(void)                                                                          \
    {                                                                                       \
        SRunner *sr = srunner_create(make_suite());                                         \
        srunner_run_all(sr, CK_NORMAL);                                                     \
        int failed = srunner_ntests_failed(sr);                                             \
        srunner_free(sr);                                                                   \
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;                                   \
    }

#endif /* SBT_TESTS_CHECK_MAIN_H */
