/* log.c — the process-wide log callback. The library itself never prints. */
#include <stdarg.h>
#include <stdio.h>

#include "core/log.h"

static sbt_log_fn log_fn;
static void *log_user_data;
static sbt_log_level log_min_level = SBT_LOG_INFO;

void sbt_log_set(sbt_log_fn fn, void *user_data, sbt_log_level min_level)
{
    log_fn = fn;
    log_user_data = user_data;
    log_min_level = min_level;
}

void sbti_log(sbt_log_level level, const char *fmt, ...)
{
    if (!log_fn || level < log_min_level)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    log_fn(level, msg, log_user_data);
}
