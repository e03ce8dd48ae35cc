/* error.h — internal: record a failure for sbt_last_error() and return its status. */
#ifndef SBTI_CORE_ERROR_H
#define SBTI_CORE_ERROR_H

#include "selfbt/status.h"

#if defined(__GNUC__) || defined(__clang__)
#  define SBTI_PRINTF(fmt_idx, arg_idx) __attribute__((format(printf, fmt_idx, arg_idx)))
#else
#  define SBTI_PRINTF(fmt_idx, arg_idx)
#endif

/* Sets the calling thread's last-error message (printf-style) and returns status, so a
 * failing path reads `return sbti_fail(SBT_E_IO, "cannot open %s: %s", path, strerror(e));` */
sbt_status sbti_fail(sbt_status status, const char *fmt, ...) SBTI_PRINTF(2, 3);

#endif /* SBTI_CORE_ERROR_H */
