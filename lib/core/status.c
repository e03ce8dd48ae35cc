/* status.c — status strings and the thread-local last-error message. */
#include <stdarg.h>
#include <stdio.h>

#include "core/error.h"

/* One message per thread; long enough for a path plus a field name plus context. */
static _Thread_local char last_error[1024];

const char *sbt_status_str(sbt_status status)
{
    switch (status) {
    case SBT_OK: return "ok";
    case SBT_E_INVALID_ARGUMENT: return "invalid argument";
    case SBT_E_OUT_OF_MEMORY: return "out of memory";
    case SBT_E_IO: return "input/output error";
    case SBT_E_PARSE: return "malformed input";
    case SBT_E_UNSUPPORTED: return "unsupported";
    case SBT_E_NOT_FOUND: return "not found";
    case SBT_E_CANCELLED: return "cancelled";
    case SBT_E_INTERNAL: return "internal error";
    case SBT_E_BACKEND: return "backend error";
    case SBT_E_NETWORK: return "network error";
    }
    return "unknown status";
}

const char *sbt_last_error(void) { return last_error; }

void sbt_clear_error(void) { last_error[0] = '\0'; }

sbt_status sbti_fail(sbt_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return status;
}
