/* hub_cache.c — the huggingface_hub cache layout, shared with Python:
 *   {cache}/models--org--name/blobs/{etag}                 the content, named by its ETag
 *                            /snapshots/{commit}/{file}    relative symlink to ../../blobs/{etag}
 *                            /refs/{revision}              the commit hash, no newline
 * (datasets--org--name for datasets). */
#include "io/hub.h"

#include <dirent.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/atomic_file.h"

char *sbti_hub_repo_dir(const sbt_hub *hub, const sbti_hub_ref *ref)
{
    const char *kind = sbti_hub_kind(ref->type), *slash = strchr(ref->id, '/');
    if (!slash)
        return sbti_hub_fmt("%s/%ss--%s", hub->cache_dir, kind, ref->id);
    return sbti_hub_fmt("%s/%ss--%.*s--%s", hub->cache_dir, kind, (int)(slash - ref->id), ref->id,
                        slash + 1);
}

sbt_status sbti_hub_mkdirs_for(const char *path)
{
    char *p = strdup(path);
    if (!p)
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory");
    char *last = strrchr(p, '/');
    for (char *c = p + 1; last && c <= last; c++) {
        if (*c != '/')
            continue;
        *c = '\0';
        if (mkdir(p, 0777) != 0 && errno != EEXIST) {
            int e = errno;
            sbt_status st = sbti_fail(SBT_E_IO, "cannot create folder %s: %s", p, strerror(e));
            free(p);
            return st;
        }
        *c = '/';
    }
    free(p);
    return SBT_OK;
}

int sbti_hub_is_commit(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
            return 0;
    return n == SBT_HUB_COMMIT_SIZE - 1;
}

sbt_status sbti_hub_cached_commit(char commit[SBT_HUB_COMMIT_SIZE], const char *repo_dir,
                                  const char *revision)
{
    struct stat st;
    char *path = sbti_hub_is_commit(revision) ? sbti_hub_fmt("%s/snapshots/%s", repo_dir, revision) : NULL;
    if (path && stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        free(path);
        memcpy(commit, revision, SBT_HUB_COMMIT_SIZE);
        return SBT_OK;
    }
    free(path);
    if (!(path = sbti_hub_fmt("%s/refs/%s", repo_dir, revision)))
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory");
    FILE *f = fopen(path, "rb");
    free(path);
    if (!f)
        return SBT_E_NOT_FOUND;
    char buf[SBT_HUB_COMMIT_SIZE + 8];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        n--;
    buf[n] = '\0';
    if (!sbti_hub_is_commit(buf))
        return SBT_E_NOT_FOUND;
    memcpy(commit, buf, SBT_HUB_COMMIT_SIZE);
    return SBT_OK;
}

sbt_status sbti_hub_cached_file(char **out, const sbt_hub *hub, const sbti_hub_ref *ref)
{
    *out = NULL;
    char *dir = sbti_hub_repo_dir(hub, ref);
    if (!dir)
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory");
    char commit[SBT_HUB_COMMIT_SIZE];
    sbt_status st = sbti_hub_cached_commit(commit, dir, ref->revision);
    if (st == SBT_OK) {
        char *path = sbti_hub_fmt("%s/snapshots/%s/%s", dir, commit, ref->file);
        struct stat sb;
        if (!path)
            st = sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory");
        else if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode))
            *out = path;
        else {
            free(path);
            st = SBT_E_NOT_FOUND;
        }
    }
    if (st == SBT_E_NOT_FOUND)
        sbti_fail(st, "%s of %s repo %s at revision '%s' is not in the cache %s", ref->file,
                  sbti_hub_kind(ref->type), ref->id, ref->revision, hub->cache_dir);
    free(dir);
    return st;
}

typedef struct name_list {
    char **names;
    size_t n, cap;
} name_list;

/* Appends the files under root/rel (symlinks to files count as files), recursively. */
static sbt_status walk(name_list *l, const char *root, const char *rel, int depth)
{
    char *dir = rel ? sbti_hub_fmt("%s/%s", root, rel) : strdup(root);
    if (!dir)
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory");
    DIR *d = opendir(dir);
    if (!d) {
        int e = errno;
        sbt_status st = sbti_fail(SBT_E_IO, "cannot list %s: %s", dir, strerror(e));
        free(dir);
        return st;
    }
    sbt_status st = SBT_OK;
    struct dirent *ent;
    while (st == SBT_OK && (ent = readdir(d))) {
        if (!strcmp(ent->d_name, ".") || !strcmp(ent->d_name, ".."))
            continue;
        char *name = rel ? sbti_hub_fmt("%s/%s", rel, ent->d_name) : strdup(ent->d_name);
        char *full = sbti_hub_fmt("%s/%s", dir, ent->d_name);
        struct stat sb;
        if (!name || !full) {
            st = sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory");
        } else if (stat(full, &sb) != 0) {
            /* a dangling link: not a usable file */
        } else if (S_ISDIR(sb.st_mode) && ent->d_name[0] != '.' && depth < 16) {
            /* not hidden folders such as .git or .cache */
            st = walk(l, root, name, depth + 1);
        } else if (S_ISREG(sb.st_mode)) {
            if (l->n == l->cap) {
                size_t cap = l->cap ? 2 * l->cap : 16;
                char **p = realloc(l->names, cap * sizeof *p);
                if (p) {
                    l->names = p;
                    l->cap = cap;
                } else {
                    st = sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory");
                }
            }
            if (st == SBT_OK) {
                l->names[l->n++] = name;
                name = NULL;
            }
        }
        free(name);
        free(full);
    }
    closedir(d);
    free(dir);
    return st;
}

sbt_status sbti_hub_list_dir(char ***out, const char *dir)
{
    name_list l = {0};
    sbt_status st = walk(&l, dir, NULL, 0);
    if (st == SBT_OK)
        st = sbti_hub_strings(out, l.names, l.n, 1);
    for (size_t k = 0; k < l.n; k++)
        free(l.names[k]);
    free(l.names);
    return st;
}

sbt_status sbti_hub_cached_list(char ***out, char commit[SBT_HUB_COMMIT_SIZE], const sbt_hub *hub,
                                const sbti_hub_ref *ref)
{
    *out = NULL;
    char *dir = sbti_hub_repo_dir(hub, ref);
    if (!dir)
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory");
    sbt_status st = sbti_hub_cached_commit(commit, dir, ref->revision);
    if (st == SBT_E_NOT_FOUND)
        st = sbti_fail(st, "%s repo %s at revision '%s' is not in the cache %s",
                       sbti_hub_kind(ref->type), ref->id, ref->revision, hub->cache_dir);
    char *snap = st == SBT_OK ? sbti_hub_fmt("%s/snapshots/%s", dir, commit) : NULL;
    if (st == SBT_OK && !snap)
        st = sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory");
    if (st == SBT_OK)
        st = sbti_hub_list_dir(out, snap);
    free(snap);
    free(dir);
    return st;
}

sbt_status sbti_hub_write_ref(const char *repo_dir, const char *revision, const char *commit)
{
    if (!strcmp(revision, commit))
        return SBT_OK;
    char old[SBT_HUB_COMMIT_SIZE];
    if (sbti_hub_cached_commit(old, repo_dir, revision) == SBT_OK && !strcmp(old, commit))
        return SBT_OK;
    char *path = sbti_hub_fmt("%s/refs/%s", repo_dir, revision);
    if (!path)
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory");
    sbti_atomic_file f;
    sbt_status st = sbti_hub_mkdirs_for(path);
    if (st == SBT_OK)
        st = sbti_atomic_open(&f, path);
    if (st == SBT_OK) {
        fputs(commit, f.fp);
        st = sbti_atomic_commit(&f);
    }
    free(path);
    return st;
}

sbt_status sbti_hub_link(char **out, const char *repo_dir, const char *commit, const char *file,
                         const char *etag)
{
    *out = NULL;
    size_t up = 2; /* snapshots/{commit}/ */
    for (const char *c = file; *c; c++)
        up += *c == '/';
    char *target = malloc(3 * up + sizeof "blobs/" + strlen(etag));
    char *path = sbti_hub_fmt("%s/snapshots/%s/%s", repo_dir, commit, file);
    static atomic_uint serial; /* temporary names unique across threads too */
    char *tmp = path ? sbti_hub_fmt("%s.tmp.%ld.%u", path, (long)getpid(),
                                    atomic_fetch_add(&serial, 1u)) : NULL;
    sbt_status st = target && tmp ? SBT_OK : sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory");
    if (st == SBT_OK) {
        target[0] = '\0';
        for (size_t k = 0; k < up; k++)
            strcat(target, "../");
        strcat(strcat(target, "blobs/"), etag);
        st = sbti_hub_mkdirs_for(path);
    }
    char now[4096];
    ssize_t n = st == SBT_OK ? readlink(path, now, sizeof now - 1) : -1;
    if (n >= 0)
        now[n] = '\0';
    if (st == SBT_OK && !(n >= 0 && !strcmp(now, target))) {
        /* a new link under a temporary name, renamed over the old entry (atomic) */
        unlink(tmp);
        if (symlink(target, tmp) != 0 || rename(tmp, path) != 0) {
            int e = errno;
            unlink(tmp);
            st = sbti_fail(SBT_E_IO, "cannot link %s to %s: %s", path, target, strerror(e));
        }
    }
    free(target);
    free(tmp);
    if (st == SBT_OK)
        *out = path;
    else
        free(path);
    return st;
}
