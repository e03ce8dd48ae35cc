/* status.h — error codes and the thread-local last-error message.
 *
 * Every fallible function returns sbt_status: SBT_OK (0) on success, a negative code
 * otherwise. The values are pinned forever; new codes are only appended. After a failure,
 * sbt_last_error() returns a message for the calling thread that names what was wrong
 * (the file, the field, the line or the flag). */
#ifndef SELFBT_STATUS_H
#define SELFBT_STATUS_H

#include "selfbt/export.h"

SBT_BEGIN_DECLS

typedef enum sbt_status {
    SBT_OK = 0,
    SBT_E_INVALID_ARGUMENT = -1, /* a parameter or option is out of range or NULL      */
    SBT_E_OUT_OF_MEMORY = -2,    /* an allocation failed                                */
    SBT_E_IO = -3,               /* reading or writing a file failed                    */
    SBT_E_PARSE = -4,            /* malformed input: JSON, config, checkpoint, dataset   */
    SBT_E_UNSUPPORTED = -5,      /* valid input this build or version cannot handle      */
    SBT_E_NOT_FOUND = -6,        /* a file, key, token or tensor does not exist          */
    SBT_E_CANCELLED = -7,        /* a progress callback asked to stop                    */
    SBT_E_INTERNAL = -8,         /* a broken invariant: a bug in libselfbt               */
    SBT_E_BACKEND = -9,          /* the compute backend (CUDA, cuBLASLt, NCCL) failed    */
    SBT_E_NETWORK = -10          /* an HTTP transfer failed                              */
} sbt_status;

/* A short constant description of a status ("invalid argument"); never NULL. */
SBT_API const char *sbt_status_str(sbt_status status);

/* The message of the last failure on the calling thread, or "" if none.
 * Valid until the next libselfbt call on this thread. */
SBT_API const char *sbt_last_error(void);

/* Forget the calling thread's last error. */
SBT_API void sbt_clear_error(void);

SBT_END_DECLS

#endif /* SELFBT_STATUS_H */
