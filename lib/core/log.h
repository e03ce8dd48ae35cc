/* log.h — internal: send a message to the user's log callback, if any. */
#ifndef SBTI_CORE_LOG_H
#define SBTI_CORE_LOG_H

#include "core/error.h"
#include "selfbt/log.h"

void sbti_log(sbt_log_level level, const char *fmt, ...) SBTI_PRINTF(2, 3);

#endif /* SBTI_CORE_LOG_H */
