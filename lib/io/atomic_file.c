/* atomic_file.c — temporary file + fsync + rename. */
#include "io/atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"

static void release(sbti_atomic_file *f)
{
    free(f->path);
    free(f->tmp_path);
    f->fp = NULL;
    f->path = f->tmp_path = NULL;
}

sbt_status sbti_atomic_open(sbti_atomic_file *f, const char *path)
{
    memset(f, 0, sizeof *f);
    if (!path || !*path)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "output path is empty");
    size_t n = strlen(path);
    f->path = malloc(n + 1);
    f->tmp_path = malloc(n + sizeof ".tmp.XXXXXX");
    if (!f->path || !f->tmp_path) {
        release(f);
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory opening %s", path);
    }
    memcpy(f->path, path, n + 1);
    memcpy(f->tmp_path, path, n);
    memcpy(f->tmp_path + n, ".tmp.XXXXXX", sizeof ".tmp.XXXXXX");
    int fd = mkstemp(f->tmp_path);
    if (fd < 0) {
        int e = errno;
        sbt_status st = sbti_fail(SBT_E_IO, "cannot create %s: %s", path, strerror(e));
        release(f);
        return st;
    }
    /* mkstemp makes the file owner-only; give it the mode open(2) would: 0666 less umask. */
    mode_t mask = umask(0);
    umask(mask);
    if (fchmod(fd, 0666 & ~mask) != 0) {
        int e = errno;
        close(fd);
        unlink(f->tmp_path);
        sbt_status st = sbti_fail(SBT_E_IO, "cannot set the mode of %s: %s", path, strerror(e));
        release(f);
        return st;
    }
    f->fp = fdopen(fd, "wb");
    if (!f->fp) {
        int e = errno;
        close(fd);
        unlink(f->tmp_path);
        sbt_status st = sbti_fail(SBT_E_IO, "cannot open %s: %s", path, strerror(e));
        release(f);
        return st;
    }
    return SBT_OK;
}

sbt_status sbti_atomic_finish(sbti_atomic_file *f)
{
    int failed = ferror(f->fp) || fflush(f->fp) != 0 || fsync(fileno(f->fp)) != 0;
    int e = errno;
    if (fclose(f->fp) != 0 && !failed) {
        failed = 1;
        e = errno;
    }
    f->fp = NULL;
    if (failed) {
        sbt_status st = sbti_fail(SBT_E_IO, "cannot write %s: %s", f->path, strerror(e ? e : EIO));
        sbti_atomic_abort(f);
        return st;
    }
    return SBT_OK;
}

/* fsync the folder so the rename itself survives a crash. */
static void sync_parent(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(copy);
}

sbt_status sbti_atomic_rename(sbti_atomic_file *f)
{
    if (rename(f->tmp_path, f->path) != 0) {
        int e = errno;
        sbt_status st = sbti_fail(SBT_E_IO, "cannot write %s: %s", f->path, strerror(e));
        sbti_atomic_abort(f);
        return st;
    }
    sync_parent(f->path);
    release(f);
    return SBT_OK;
}

sbt_status sbti_atomic_commit(sbti_atomic_file *f)
{
    sbt_status st = sbti_atomic_finish(f);
    return st == SBT_OK ? sbti_atomic_rename(f) : st;
}

void sbti_atomic_abort(sbti_atomic_file *f)
{
    if (f->fp)
        fclose(f->fp);
    if (f->tmp_path)
        unlink(f->tmp_path);
    release(f);
}
