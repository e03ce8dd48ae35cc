/* atomic_file.h — internal: write a file under a temporary name, then rename it into place,
 * so a reader (or a crash) never sees a half-written file under the final name. */
#ifndef SBTI_IO_ATOMIC_FILE_H
#define SBTI_IO_ATOMIC_FILE_H

#include <stdio.h>

#include "selfbt/status.h"

typedef struct sbti_atomic_file {
    FILE *fp;         /* write here between open and commit */
    char *path;       /* the final name                      */
    char *tmp_path;   /* "<path>.tmp.XXXXXX" in the same folder */
} sbti_atomic_file;

/* Creates the temporary file next to path. On failure nothing is left behind. */
sbt_status sbti_atomic_open(sbti_atomic_file *f, const char *path);
/* The two halves of commit, for writing several files as a set: finish all (flush, fsync,
 * close), then rename all. Each removes the temporary and sets the error on failure. */
sbt_status sbti_atomic_finish(sbti_atomic_file *f);
sbt_status sbti_atomic_rename(sbti_atomic_file *f);
/* Flushes, fsyncs, closes and renames onto path. On any failure the temporary is removed,
 * path is untouched, and the error names the file and the system's reason. */
sbt_status sbti_atomic_commit(sbti_atomic_file *f);
/* Closes and removes the temporary; path is untouched. Safe after a failed open. */
void sbti_atomic_abort(sbti_atomic_file *f);

#endif /* SBTI_IO_ATOMIC_FILE_H */
