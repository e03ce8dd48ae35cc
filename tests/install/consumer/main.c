/* main.c — a tiny program built against an installed libselfbt (tests/install). */
#include <stdio.h>
#include <string.h>

#include <selfbt/selfbt.h>

int main(void) {
    const char *v = sbt_version_string();
    printf("libselfbt %s (%u)\n", v ? v : "(null)", sbt_version_number());
    /* The library loaded must be the one these headers describe. */
    if (v == NULL || sbt_version_number() != SBT_VERSION_NUMBER) {
        fprintf(stderr, "version mismatch: headers say %d\n", SBT_VERSION_NUMBER);
        return 1;
    }
    if (strcmp(sbt_status_str(SBT_OK), "") == 0) {
        fprintf(stderr, "sbt_status_str(SBT_OK) is empty\n");
        return 1;
    }
    return 0;
}
