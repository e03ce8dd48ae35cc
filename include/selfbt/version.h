/* version.h — compile-time and run-time version of libselfbt.
 *
 * SBT_VERSION_* is the API version; SBT_SOVERSION changes only when the ABI breaks
 * (docs/ABI.md keeps the history). A program can check at start-up that the library it
 * loaded is at least as new as the headers it was compiled with:
 *     assert(sbt_version_number() >= SBT_VERSION_NUMBER);  */
#ifndef SELFBT_VERSION_H
#define SELFBT_VERSION_H

#include "selfbt/export.h"

#define SBT_VERSION_MAJOR 0
#define SBT_VERSION_MINOR 1
#define SBT_VERSION_PATCH 0
#define SBT_SOVERSION 0

#define SBT_VERSION_NUMBER (SBT_VERSION_MAJOR * 10000 + SBT_VERSION_MINOR * 100 + SBT_VERSION_PATCH)
#define SBT_AT_LEAST_VERSION(major, minor, patch) \
    (SBT_VERSION_NUMBER >= ((major) * 10000 + (minor) * 100 + (patch)))

SBT_BEGIN_DECLS

/* MMmmpp of the library actually loaded, e.g. 100 for 0.1.0. */
SBT_API unsigned sbt_version_number(void);
/* "0.1.0" (static storage). */
SBT_API const char *sbt_version_string(void);

SBT_END_DECLS

#endif /* SELFBT_VERSION_H */
