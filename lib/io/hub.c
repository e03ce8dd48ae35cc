/* hub.c — the sbt_hub handle: options and environment, repo names, and resolving a user's
 * "local path or org/name[@rev]" to a local path. */
#include "io/hub.h"

#include <ctype.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "core/log.h"

#define DEFAULT_ENDPOINT "https://huggingface.co"

void sbt_hub_options_init(sbt_hub_options *opts)
{
    if (!opts)
        return;
    memset(opts, 0, sizeof *opts);
    opts->size = sizeof *opts;
    opts->offline = SBT_HUB_OFFLINE_FROM_ENV;
    opts->max_retries = 4;
    opts->retry_delay_ms = 1000;
    opts->connect_timeout_s = 10;
    opts->stall_timeout_s = 30;
}

char *sbti_hub_fmt(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *s = malloc((size_t)n + 1);
    if (!s)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

char *sbti_hub_escape(const char *s, int keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    char *out = malloc(3 * strlen(s) + 1), *p = out;
    if (!out)
        return NULL;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || (keep_slash && c == '/')) {
            *p++ = (char)c;
        } else {
            *p++ = '%';
            *p++ = hex[c >> 4];
            *p++ = hex[c & 15];
        }
    }
    *p = '\0';
    return out;
}

const char *sbti_hub_kind(sbt_hub_repo_type type)
{
    return type == SBT_HUB_DATASET ? "dataset" : "model";
}

/* One segment of a repo id: [A-Za-z0-9_.-], not starting with '.' or '-', no "--" or "..". */
static int good_id_part(const char *s, size_t n)
{
    if (n == 0 || s[0] == '.' || s[0] == '-' || s[n - 1] == '.' || s[n - 1] == '-')
        return 0;
    for (size_t k = 0; k < n; k++) {
        unsigned char c = (unsigned char)s[k];
        if (!(isalnum(c) || c == '_' || c == '.' || c == '-'))
            return 0;
        if (k > 0 && (c == '-' || c == '.') && s[k - 1] == c)
            return 0;
    }
    return 1;
}

static int good_repo_id(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > 96)
        return 0;
    const char *slash = strchr(id, '/');
    if (!slash)
        return good_id_part(id, n);
    return good_id_part(id, (size_t)(slash - id)) && good_id_part(slash + 1, strlen(slash + 1));
}

/* A relative path of '/'-separated segments, none empty, "." or "..", no '\\' or control
 * characters (it becomes both a URL part and a path under the cache). */
static int good_rel_path(const char *p, size_t max)
{
    size_t n = strlen(p);
    if (n == 0 || n > max || p[0] == '/' || p[n - 1] == '/')
        return 0;
    const char *seg = p;
    for (const char *c = p;; c++) {
        if (*c == '/' || *c == '\0') {
            size_t len = (size_t)(c - seg);
            if (len == 0 || (len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.'))
                return 0;
            if (*c == '\0')
                return 1;
            seg = c + 1;
        } else if ((unsigned char)*c < 0x20 || *c == '\\' || *c == 0x7f) {
            return 0;
        }
    }
}

sbt_status sbti_hub_check_ref(const sbti_hub_ref *ref)
{
    if (!good_repo_id(ref->id))
        return sbti_fail(SBT_E_INVALID_ARGUMENT,
                         "'%s' is not a Hub repo id: expected org/name (letters, digits, '-', "
                         "'_', '.'; at most 96 characters)", ref->id);
    if (!good_rel_path(ref->revision, 255) || strchr(ref->revision, ' '))
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "'%s' is not a valid revision of %s",
                         ref->revision, ref->id);
    if (ref->file && !good_rel_path(ref->file, 4096))
        return sbti_fail(SBT_E_INVALID_ARGUMENT,
                         "'%s' is not a valid file name in %s: expected a relative path without "
                         "'.' or '..' parts", ref->file, ref->id);
    return SBT_OK;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

sbt_status sbti_hub_strings(char ***out, char **names, size_t n, int sort)
{
    char **list = calloc(n + 1, sizeof *list);
    if (!list)
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory listing %zu files", n);
    for (size_t k = 0; k < n; k++)
        if (!(list[k] = strdup(names[k]))) {
            sbt_hub_files_free(list);
            return sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory listing %zu files", n);
        }
    if (sort)
        qsort(list, n, sizeof *list, cmp_str);
    *out = list;
    return SBT_OK;
}

void sbt_hub_files_free(char **files)
{
    if (!files)
        return;
    for (char **p = files; *p; p++)
        free(*p);
    free(files);
}

void sbt_hub_path_free(char *path)
{
    free(path);
}

/* ---- the handle --------------------------------------------------------------------- */

static int env_true(const char *name)
{
    const char *v = getenv(name);
    if (!v)
        return 0;
    static const char *yes[] = {"1", "on", "yes", "true"};
    for (size_t k = 0; k < sizeof yes / sizeof *yes; k++)
        if (!strcasecmp(v, yes[k]))
            return 1;
    return 0;
}

static const char *env_nonempty(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

/* A copy of path with a leading "~/" replaced by $HOME (as Python's expanduser). */
static char *expand_home(const char *path)
{
    const char *home = env_nonempty("HOME");
    if (path[0] == '~' && (path[1] == '/' || path[1] == '\0') && home)
        return sbti_hub_fmt("%s%s", home, path + 1);
    return strdup(path);
}

/* $HF_HOME, else $XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface; NULL if none. */
static char *hf_home(void)
{
    const char *v = env_nonempty("HF_HOME");
    if (v)
        return expand_home(v);
    if ((v = env_nonempty("XDG_CACHE_HOME")))
        return sbti_hub_fmt("%s/huggingface", v);
    if ((v = env_nonempty("HOME")))
        return sbti_hub_fmt("%s/.cache/huggingface", v);
    return NULL;
}

/* The token file huggingface_hub writes on login: $HF_TOKEN_PATH or $HF_HOME/token. */
static char *token_from_file(void)
{
    const char *v = env_nonempty("HF_TOKEN_PATH");
    char *home = v ? NULL : hf_home();
    char *path = v ? expand_home(v) : home ? sbti_hub_fmt("%s/token", home) : NULL;
    free(home);
    if (!path)
        return NULL;
    FILE *f = fopen(path, "rb");
    free(path);
    if (!f)
        return NULL;
    char buf[1024];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *s = buf;
    while (isspace((unsigned char)*s))
        s++;
    size_t len = strlen(s);
    while (len > 0 && isspace((unsigned char)s[len - 1]))
        s[--len] = '\0';
    return len ? strdup(s) : NULL;
}

static sbt_status set_endpoint(sbt_hub *hub, const char *opt)
{
    const char *e = opt ? opt : env_nonempty("HF_ENDPOINT");
    if (!e)
        e = DEFAULT_ENDPOINT;
    const char *host = !strncmp(e, "https://", 8) ? e + 8 : !strncmp(e, "http://", 7) ? e + 7 : NULL;
    if (!host || !*host || *host == '/' || strpbrk(e, " \t\r\n?#@"))
        return sbti_fail(SBT_E_INVALID_ARGUMENT,
                         "endpoint '%s'%s is not an http:// or https:// URL of a Hub", e,
                         opt ? "" : " (from HF_ENDPOINT)");
    size_t n = strlen(e);
    while (n > 0 && e[n - 1] == '/')
        n--;
    if (!(hub->endpoint = strndup(e, n)))
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory");
    return SBT_OK;
}

static sbt_status set_cache_dir(sbt_hub *hub, const char *opt)
{
    const char *v = opt ? opt : env_nonempty("HF_HUB_CACHE");
    if (v) {
        hub->cache_dir = expand_home(v);
    } else {
        char *home = hf_home();
        if (!home)
            return sbti_fail(SBT_E_INVALID_ARGUMENT,
                             "no cache folder: HOME is not set; set HF_HUB_CACHE or HF_HOME");
        hub->cache_dir = sbti_hub_fmt("%s/hub", home);
        free(home);
    }
    if (!hub->cache_dir)
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory");
    size_t n = strlen(hub->cache_dir);
    while (n > 1 && hub->cache_dir[n - 1] == '/')
        hub->cache_dir[--n] = '\0';
    if (!n)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "the cache folder is an empty path");
    return SBT_OK;
}

sbt_status sbt_hub_create(sbt_hub **out, const sbt_hub_options *opts)
{
    if (!out)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_hub_create: out is NULL");
    *out = NULL;
    sbt_hub_options o;
    sbt_hub_options_init(&o);
    if (opts) {
        if (opts->size < offsetof(sbt_hub_options, progress_user_data) + sizeof(void *))
            return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_hub_options.size is %zu: call "
                             "sbt_hub_options_init first", opts->size);
        memcpy(&o, opts, opts->size < sizeof o ? opts->size : sizeof o);
        o.size = sizeof o;
    }
    if (o.offline < SBT_HUB_OFFLINE_FROM_ENV || o.offline > 1 || o.max_retries < 0 ||
        o.max_retries > 100 || o.retry_delay_ms < 0 || o.connect_timeout_s < 1 ||
        o.stall_timeout_s < 1)
        return sbti_fail(SBT_E_INVALID_ARGUMENT,
                         "sbt_hub_options: offline must be -1, 0 or 1, max_retries 0..100, "
                         "retry_delay_ms >= 0 and the timeouts >= 1 s");
    sbt_hub *hub = calloc(1, sizeof *hub);
    if (!hub)
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory");
    sbt_status st = set_endpoint(hub, o.endpoint);
    if (st == SBT_OK)
        st = set_cache_dir(hub, o.cache_dir);
    if (st != SBT_OK) {
        sbt_hub_free(hub);
        return st;
    }
    const char *tok = o.token ? o.token : env_nonempty("HF_TOKEN");
    hub->token = tok ? (*tok ? strdup(tok) : NULL) : token_from_file();
    hub->offline = o.offline == SBT_HUB_OFFLINE_FROM_ENV ? env_true("HF_HUB_OFFLINE") : o.offline;
    hub->max_retries = o.max_retries;
    hub->retry_delay_ms = o.retry_delay_ms;
    hub->connect_timeout_s = o.connect_timeout_s;
    hub->stall_timeout_s = o.stall_timeout_s;
    hub->progress = o.progress;
    hub->progress_user_data = o.progress_user_data;
    sbti_log(SBT_LOG_DEBUG, "hub: endpoint %s, cache %s, %s, %s", hub->endpoint, hub->cache_dir,
             hub->token ? "with a token" : "no token", hub->offline ? "offline" : "online");
    *out = hub;
    return SBT_OK;
}

void sbt_hub_free(sbt_hub *hub)
{
    if (!hub)
        return;
    sbti_hub_transfer_free(hub);
    free(hub->endpoint);
    if (hub->token) {
        volatile char *t = hub->token; /* do not leave the token in freed memory */
        while (*t)
            *t++ = 0;
        free(hub->token);
    }
    free(hub->cache_dir);
    free(hub);
}

const char *sbt_hub_cache_dir(const sbt_hub *hub)
{
    return hub ? hub->cache_dir : "";
}

/* ---- local path or org/name[@rev] ----------------------------------------------------- */

sbt_status sbti_hub_parse_name(char **id, char **revision, const char *name)
{
    const char *at = strchr(name, '@');
    *id = at ? strndup(name, (size_t)(at - name)) : strdup(name);
    *revision = strdup(at ? at + 1 : "main");
    if (!*id || !*revision) {
        free(*id);
        free(*revision);
        *id = *revision = NULL;
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory");
    }
    return SBT_OK;
}

static sbt_status resolve_local(char **out, const char *path, const struct stat *st,
                                const char *filename)
{
    if (S_ISDIR(st->st_mode)) {
        *out = filename ? sbti_hub_fmt("%s/%s", path, filename) : strdup(path);
        if (!*out)
            return sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory");
        struct stat fst;
        if (filename && stat(*out, &fst) != 0) {
            free(*out);
            *out = NULL;
            return sbti_fail(SBT_E_NOT_FOUND, "%s has no file %s", path, filename);
        }
        return SBT_OK;
    }
    if (filename)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "%s is a file, not a folder holding %s", path,
                         filename);
    if (!(*out = strdup(path)))
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory");
    return SBT_OK;
}

/* Every file of a repo at one commit; gives the snapshot folder. */
static sbt_status resolve_snapshot(char **out, sbt_hub *hub, const sbti_hub_ref *ref)
{
    char commit[SBT_HUB_COMMIT_SIZE];
    char **files = NULL;
    sbt_status st = sbti_hub_list(&files, commit, hub, ref);
    for (size_t k = 0; st == SBT_OK && files[k]; k++) {
        sbti_hub_ref one = {ref->id, ref->type, commit, files[k]};
        char *path = NULL;
        st = sbti_hub_cached_file(&path, hub, &one);
        if (st == SBT_E_NOT_FOUND)
            st = sbti_hub_download(&path, hub, &one);
        free(path);
    }
    sbt_hub_files_free(files);
    if (st != SBT_OK)
        return st;
    char *dir = sbti_hub_repo_dir(hub, ref);
    *out = dir ? sbti_hub_fmt("%s/snapshots/%s", dir, commit) : NULL;
    free(dir);
    return *out ? SBT_OK : sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory");
}

sbt_status sbt_hub_resolve_path(char **out_path, sbt_hub *hub, const char *name_or_path,
                                sbt_hub_repo_type type, const char *filename)
{
    if (out_path)
        *out_path = NULL;
    if (!out_path || !hub || !name_or_path || !*name_or_path ||
        (type != SBT_HUB_MODEL && type != SBT_HUB_DATASET))
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_hub_resolve_path: a NULL or empty argument, "
                         "or an unknown repo type");
    struct stat st_local;
    if (stat(name_or_path, &st_local) == 0)
        return resolve_local(out_path, name_or_path, &st_local, filename);
    char *id, *rev;
    sbt_status st = sbti_hub_parse_name(&id, &rev, name_or_path);
    if (st != SBT_OK)
        return st;
    sbti_hub_ref ref = {id, type, rev, NULL};
    if (sbti_hub_check_ref(&ref) != SBT_OK)
        st = sbti_fail(SBT_E_NOT_FOUND, "%s is neither an existing file or folder nor a Hub repo "
                       "id (org/name[@revision])", name_or_path);
    ref.file = filename;
    if (st == SBT_OK && filename)
        st = sbti_hub_check_ref(&ref);
    if (st == SBT_OK && filename) {
        st = sbti_hub_cached_file(out_path, hub, &ref); /* offline-first */
        if (st == SBT_E_NOT_FOUND)
            st = sbti_hub_download(out_path, hub, &ref);
    } else if (st == SBT_OK) {
        st = resolve_snapshot(out_path, hub, &ref);
    }
    free(id);
    free(rev);
    return st;
}
