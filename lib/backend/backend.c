/* backend.c — what every backend shares: recording a failure, reading it back, destroying; and the
 * CUDA constructor of a build without CUDA. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "backend/backend.h"
#include "core/error.h"

sbt_status sbti_backend_fail(sbti_backend *be, sbt_status st, const char *fmt, ...)
{
    char msg[sizeof be->error_msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (be->error == SBT_OK) { /* the first failure is the cause; later ones are its echoes */
        be->error = st;
        memcpy(be->error_msg, msg, sizeof msg);
    }
    return sbti_fail(st, "%s", msg);
}

sbt_status sbti_backend_check(sbti_backend *be)
{
    if (!be)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbti_backend_check: backend is NULL");
    sbt_status st = be->ops->sync(be);
    if (st == SBT_OK)
        st = be->error;
    if (st == SBT_OK)
        return SBT_OK;
    if (be->error != SBT_OK)
        return sbti_fail(be->error, "%s backend: %s", be->name, be->error_msg);
    return sbti_fail(st, "%s backend: %s", be->name, sbt_status_str(st));
}

void sbti_backend_destroy(sbti_backend *be)
{
    if (be)
        be->ops->destroy(be);
}

#ifndef SELFBT_HAVE_CUDA
sbt_status sbti_backend_cuda_create(sbti_backend **out, int device)
{
    (void)device;
    if (out)
        *out = NULL;
    return sbti_fail(SBT_E_UNSUPPORTED, "this libselfbt was built without CUDA");
}
#endif
