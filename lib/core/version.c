/* version.c — the run-time version of the loaded library. */
#include "selfbt/version.h"

#define SBTI_STR2(x) #x
#define SBTI_STR(x) SBTI_STR2(x)

unsigned sbt_version_number(void) { return SBT_VERSION_NUMBER; }

const char *sbt_version_string(void)
{
    return SBTI_STR(SBT_VERSION_MAJOR) "." SBTI_STR(SBT_VERSION_MINOR) "." SBTI_STR(SBT_VERSION_PATCH);
}
