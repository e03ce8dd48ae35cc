/* log.c — the process-wide log callback. The library itself never prints.
 * The callback, its user data and level change together under a lock, so a thread that logs
 * while another calls sbt_log_set sees one consistent setting. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

#include "core/log.h"

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static sbt_log_fn log_fn;
static void *log_user_data;
static sbt_log_level log_min_level = SBT_LOG_INFO;

void sbt_log_set(sbt_log_fn fn, void *user_data, sbt_log_level min_level)
{
    pthread_mutex_lock(&log_lock);
    log_fn = fn;
    log_user_data = user_data;
    log_min_level = min_level;
    pthread_mutex_unlock(&log_lock);
}

void sbti_log(sbt_log_level level, const char *fmt, ...)
{
    pthread_mutex_lock(&log_lock);
    sbt_log_fn fn = log_fn;
    void *user_data = log_user_data;
    int wanted = fn && level >= log_min_level;
    pthread_mutex_unlock(&log_lock);
    if (!wanted)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fn(level, msg, user_data);
}
