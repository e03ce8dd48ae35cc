/* progress.h — the progress/cancel callback taken by every long operation. */
#ifndef SELFBT_PROGRESS_H
#define SELFBT_PROGRESS_H

#include <stdint.h>

#include "selfbt/export.h"

SBT_BEGIN_DECLS

/* Called from one thread at a time with the work done so far out of total (both in the
 * operation's own unit; what names the phase, e.g. "train"). Return 0 to go on, non-zero to
 * cancel: the operation then stops soon, frees what it made and returns SBT_E_CANCELLED. */
typedef int (*sbt_progress_fn)(const char *what, int64_t done, int64_t total, void *user_data);

SBT_END_DECLS

#endif /* SELFBT_PROGRESS_H */
