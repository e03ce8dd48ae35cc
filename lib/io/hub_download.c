/* hub_download.c — one file into the cache (ask the Hub for its commit and ETag, fetch the
 * blob into blobs/{etag}.incomplete under the huggingface_hub lock, check its size and
 * sha256, rename, link the snapshot), and a repo's file list from the Hub API. */
#include "io/hub.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"

static int is_sha256(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
            return 0;
    return n == 64;
}

/* {endpoint}/[datasets/]{id}/resolve/{revision}/{file} */
static char *resolve_url(const sbt_hub *hub, const sbti_hub_ref *ref)
{
    char *rev = sbti_hub_escape(ref->revision, 0), *file = sbti_hub_escape(ref->file, 1);
    char *url = rev && file ? sbti_hub_fmt("%s/%s%s/resolve/%s/%s", hub->endpoint,
                                           ref->type == SBT_HUB_DATASET ? "datasets/" : "",
                                           ref->id, rev, file)
                            : NULL;
    free(rev);
    free(file);
    return url;
}

/* Takes the lock huggingface_hub takes for this blob ({cache}/.locks/{repo folder}/{etag}.lock,
 * flock), so Python and libselfbt never write one blob at once. Returns the fd, or -1. */
static int lock_blob(const sbt_hub *hub, const char *repo_dir, const char *etag)
{
    const char *repo = strrchr(repo_dir, '/') + 1;
    char *path = sbti_hub_fmt("%s/.locks/%s/%s.lock", hub->cache_dir, repo, etag);
    int fd = -1;
    if (!path) {
        sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory");
    } else if (sbti_hub_mkdirs_for(path) == SBT_OK) {
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
        if (fd < 0 || flock(fd, LOCK_EX) != 0) {
            sbti_fail(SBT_E_IO, "cannot lock %s: %s", path, strerror(errno));
            if (fd >= 0)
                close(fd);
            fd = -1;
        }
    }
    free(path);
    return fd;
}

/* Checks the finished .incomplete file against the Hub's size and (LFS) sha256. A file that
 * fails is removed, so the next try starts afresh. */
static sbt_status verify(const char *tmp, const sbti_hub_meta *meta, const sbti_hub_ref *ref)
{
    struct stat sb;
    if (stat(tmp, &sb) != 0)
        return sbti_fail(SBT_E_IO, "cannot read %s: %s", tmp, strerror(errno));
    sbt_status st = SBT_OK;
    char hex[65];
    if (meta->size >= 0 && (int64_t)sb.st_size != meta->size)
        st = sbti_fail(SBT_E_NETWORK, "the download of %s from %s has %lld bytes, the Hub says "
                       "%lld; the partial file was removed, try again", ref->file, meta->location,
                       (long long)sb.st_size, (long long)meta->size);
    else if (is_sha256(meta->etag) && (st = sbti_hub_sha256_file(hex, tmp)) == SBT_OK &&
             strcmp(hex, meta->etag) != 0)
        st = sbti_fail(SBT_E_NETWORK, "the download of %s from %s is corrupt: its sha256 is %s, "
                       "the Hub says %s; the partial file was removed, try again", ref->file,
                       meta->location, hex, meta->etag);
    if (st == SBT_E_NETWORK)
        unlink(tmp);
    return st;
}

/* blobs/{etag} from meta->location, unless it is there or another process made it meanwhile
 * (a cache that is complete may be read-only: no lock is taken then). */
static sbt_status fetch_blob(sbt_hub *hub, const sbti_hub_ref *ref, const sbti_hub_meta *meta,
                             const char *repo_dir, const char *blob)
{
    struct stat sb;
    if (stat(blob, &sb) == 0)
        return SBT_OK;
    int lock = lock_blob(hub, repo_dir, meta->etag);
    if (lock < 0)
        return SBT_E_IO;
    char *tmp = sbti_hub_fmt("%s.incomplete", blob);
    sbt_status st = tmp ? SBT_OK : sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory");
    if (st == SBT_OK && stat(blob, &sb) != 0) {
        st = sbti_hub_mkdirs_for(blob);
        if (st == SBT_OK)
            st = sbti_hub_get_file(hub, meta->location, tmp, meta->size, ref);
        if (st == SBT_OK)
            st = verify(tmp, meta, ref);
        if (st == SBT_OK && rename(tmp, blob) != 0)
            st = sbti_fail(SBT_E_IO, "cannot rename %s to %s: %s", tmp, blob, strerror(errno));
    }
    free(tmp);
    close(lock); /* releases the flock */
    return st;
}

/* Offline, or the Hub out of reach with the file cached: the cached copy or an error. */
static sbt_status from_cache(char **out, sbt_hub *hub, const sbti_hub_ref *ref, const char *why)
{
    sbt_status st = sbti_hub_cached_file(out, hub, ref);
    if (st == SBT_OK && why)
        sbti_log(SBT_LOG_WARN, "hub: %s; using the cached %s", why, *out);
    else if (st == SBT_E_NOT_FOUND && !why)
        st = sbti_fail(SBT_E_NOT_FOUND, "offline mode (HF_HUB_OFFLINE): %s of %s repo %s at "
                       "revision '%s' is not in the cache %s; download it once online",
                       ref->file, sbti_hub_kind(ref->type), ref->id, ref->revision, hub->cache_dir);
    return st;
}

sbt_status sbti_hub_download(char **out, sbt_hub *hub, const sbti_hub_ref *ref)
{
    *out = NULL;
    if (hub->offline)
        return from_cache(out, hub, ref, NULL);
    if (sbti_hub_is_commit(ref->revision) && sbti_hub_cached_file(out, hub, ref) == SBT_OK)
        return SBT_OK; /* a commit never changes: no need to ask */
    char *url = resolve_url(hub, ref), *repo_dir = sbti_hub_repo_dir(hub, ref);
    char *blob = NULL;
    sbti_hub_meta meta = {0};
    sbt_status st = url && repo_dir ? SBT_OK : sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory");
    if (st == SBT_OK)
        st = sbti_hub_head(&meta, hub, url, ref);
    if (st == SBT_E_NETWORK && hub->unreachable) {
        char why[1024];
        snprintf(why, sizeof why, "%s", sbt_last_error());
        if (from_cache(out, hub, ref, why) == SBT_OK)
            st = SBT_OK;
        else
            sbti_fail(st, "%s", why);
        free(url);
        free(repo_dir);
        return st;
    }
    if (st == SBT_OK)
        st = sbti_hub_write_ref(repo_dir, ref->revision, meta.commit);
    if (st == SBT_OK && !meta.location) {
        /* on the Hub itself: fetch it at the commit, in case the branch moves meanwhile */
        sbti_hub_ref at = {ref->id, ref->type, meta.commit, ref->file};
        if (!(meta.location = resolve_url(hub, &at)))
            st = sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory");
    }
    if (st == SBT_OK && !(blob = sbti_hub_fmt("%s/blobs/%s", repo_dir, meta.etag)))
        st = sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory");
    if (st == SBT_OK)
        st = fetch_blob(hub, ref, &meta, repo_dir, blob);
    if (st == SBT_OK)
        st = sbti_hub_link(out, repo_dir, meta.commit, ref->file, meta.etag);
    free(meta.location);
    free(blob);
    free(url);
    free(repo_dir);
    return st;
}

sbt_status sbti_hub_list(char ***out, char *commit, sbt_hub *hub, const sbti_hub_ref *ref)
{
    *out = NULL;
    char sha[SBT_HUB_COMMIT_SIZE];
    if (hub->offline) {
        sbt_status st = sbti_hub_cached_list(out, sha, hub, ref);
        if (st == SBT_OK && commit)
            memcpy(commit, sha, sizeof sha);
        return st;
    }
    char *rev = sbti_hub_escape(ref->revision, 0);
    char *url = rev ? sbti_hub_fmt("%s/api/%ss/%s/revision/%s", hub->endpoint,
                                   sbti_hub_kind(ref->type), ref->id, rev)
                    : NULL;
    char *repo_dir = sbti_hub_repo_dir(hub, ref);
    json_t *root = NULL;
    char **names = NULL;
    sbt_status st = url && repo_dir ? SBT_OK : sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory");
    if (st == SBT_OK)
        st = sbti_hub_get_json(&root, hub, url, ref);
    json_t *siblings = json_object_get(root, "siblings");
    const char *s = json_string_value(json_object_get(root, "sha"));
    if (st == SBT_OK && (!s || !sbti_hub_is_commit(s) || !json_is_array(siblings)))
        st = sbti_fail(SBT_E_PARSE, "%s: the answer has no \"sha\" commit hash or no \"siblings\" "
                       "list", url);
    size_t n = st == SBT_OK ? json_array_size(siblings) : 0;
    if (st == SBT_OK && !(names = calloc(n + 1, sizeof *names)))
        st = sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory");
    for (size_t k = 0; st == SBT_OK && k < n; k++) {
        const char *name = json_string_value(json_object_get(json_array_get(siblings, k), "rfilename"));
        sbti_hub_ref one = {ref->id, ref->type, ref->revision, name};
        if (!name || sbti_hub_check_ref(&one) != SBT_OK)
            st = sbti_fail(SBT_E_PARSE, "%s: siblings[%zu] has no usable \"rfilename\"", url, k);
        names[k] = (char *)name;
    }
    if (st == SBT_OK)
        st = sbti_hub_strings(out, names, n, 0);
    if (st == SBT_OK)
        st = sbti_hub_write_ref(repo_dir, ref->revision, s);
    if (st == SBT_OK && commit)
        memcpy(commit, s, SBT_HUB_COMMIT_SIZE);
    if (st != SBT_OK) {
        sbt_hub_files_free(*out);
        *out = NULL;
    }
    free(names);
    json_decref(root);
    free(url);
    free(rev);
    free(repo_dir);
    return st;
}

/* The public calls: check the arguments, then the above. */
static sbt_status check_args(const void *out, const sbt_hub *hub, const sbti_hub_ref *ref,
                             const char *fn)
{
    if (!out || !hub || !ref->id || (ref->type != SBT_HUB_MODEL && ref->type != SBT_HUB_DATASET))
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "%s: a NULL argument or an unknown repo type", fn);
    return sbti_hub_check_ref(ref);
}

sbt_status sbt_hub_download(char **out_path, sbt_hub *hub, const char *repo_id,
                            sbt_hub_repo_type type, const char *revision, const char *filename)
{
    if (out_path)
        *out_path = NULL;
    sbti_hub_ref ref = {repo_id, type, revision ? revision : "main", filename ? filename : ""};
    sbt_status st = check_args(out_path, hub, &ref, "sbt_hub_download");
    return st == SBT_OK ? sbti_hub_download(out_path, hub, &ref) : st;
}

sbt_status sbt_hub_list_files(char ***out_files, char *out_commit, sbt_hub *hub,
                              const char *repo_id, sbt_hub_repo_type type, const char *revision)
{
    if (out_files)
        *out_files = NULL;
    sbti_hub_ref ref = {repo_id, type, revision ? revision : "main", NULL};
    sbt_status st = check_args(out_files, hub, &ref, "sbt_hub_list_files");
    return st == SBT_OK ? sbti_hub_list(out_files, out_commit, hub, &ref) : st;
}
