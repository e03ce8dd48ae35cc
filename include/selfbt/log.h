/* log.h — the library never prints; it hands messages to a callback.
 *
 * With no callback installed, messages are dropped. The callback may be called from any
 * thread the library uses, so it must be thread-safe. */
#ifndef SELFBT_LOG_H
#define SELFBT_LOG_H

#include "selfbt/export.h"

SBT_BEGIN_DECLS

typedef enum sbt_log_level {
    SBT_LOG_DEBUG = 0,
    SBT_LOG_INFO = 1,
    SBT_LOG_WARN = 2,
    SBT_LOG_ERROR = 3
} sbt_log_level;

/* msg is one line without a trailing newline; it is only valid during the call. */
typedef void (*sbt_log_fn)(sbt_log_level level, const char *msg, void *user_data);

/* Install (or, with fn == NULL, remove) the process-wide log callback. Messages below
 * min_level are not formatted at all. */
SBT_API void sbt_log_set(sbt_log_fn fn, void *user_data, sbt_log_level min_level);

SBT_END_DECLS

#endif /* SELFBT_LOG_H */
