/* test_hub.c — the hub client against tests/hub/fake_hub.py, a Hub look-alike on loopback
 * (no test touches the internet): downloads into the huggingface_hub cache layout, resume
 * after a dropped connection, corrupt content, 404/401 messages, offline mode, the token
 * kept off the CDN, retries, timeouts, cancel, file lists and dataset file discovery.
 * Exits 77 (skipped) when python3 is missing. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* mkdtemp, setenv */
#endif
#include <check.h>
#include <curl/curl.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "io/hub.h"
#include "selfbt/hub.h"
#include "selfbt/log.h"

#ifndef SBT_TEST_TMP_DIR
#define SBT_TEST_TMP_DIR "/tmp"
#endif
#ifndef SBT_FAKE_HUB
#define SBT_FAKE_HUB "tests/hub/fake_hub.py"
#endif

#define TOKEN "hf_test_token"
#define TINY "test-org/tiny-model"

/* ==== the fake Hub ===================================================================== */

typedef struct server {
    pid_t pid;
    int ctl; /* its stdin: closing it ends the server */
    int port, cdn_port;
    char root[1024], endpoint[64];
} server;

static const char *python3(void)
{
    const char *p = getenv("PYTHON3");
    return p && *p ? p : "python3";
}

static void make_tmp(char *out, size_t cap)
{
    snprintf(out, cap, "%s/hub.XXXXXX", SBT_TEST_TMP_DIR);
    ck_assert_ptr_nonnull(mkdtemp(out));
}

/* Starts fake_hub.py with the extra flags (NULL-terminated) and waits for its ports. */
static void server_start(server *s, const char *dir, const char *const *flags)
{
    int in[2], out[2];
    ck_assert_int_eq(pipe(in), 0);
    ck_assert_int_eq(pipe(out), 0);
    snprintf(s->root, sizeof s->root, "%s/server", dir);
    s->pid = fork();
    ck_assert_int_ge(s->pid, 0);
    if (s->pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[1]);
        close(out[0]);
        const char *argv[16] = {python3(), SBT_FAKE_HUB, "--root", s->root, "--max-seconds", "120"};
        int n = 6;
        for (; flags && *flags && n < 15; flags++)
            argv[n++] = *flags;
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    s->ctl = in[1];
    struct pollfd pfd = {out[0], POLLIN, 0};
    char line[128] = "";
    FILE *f = fdopen(out[0], "r");
    ck_assert_ptr_nonnull(f);
    ck_assert_msg(poll(&pfd, 1, 20000) == 1 && fgets(line, sizeof line, f), "fake_hub.py did not start");
    fclose(f);
    ck_assert_int_eq(sscanf(line, "PORTS %d %d", &s->port, &s->cdn_port), 2);
    snprintf(s->endpoint, sizeof s->endpoint, "http://127.0.0.1:%d", s->port);
}

static void server_stop(server *s)
{
    if (s->pid <= 0)
        return;
    close(s->ctl);
    kill(s->pid, SIGTERM);
    waitpid(s->pid, NULL, 0);
    s->pid = 0;
}

static json_t *manifest(const server *s)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/manifest.json", s->root);
    json_t *m = json_load_file(path, 0, NULL);
    ck_assert_ptr_nonnull(m);
    return m;
}

static const char *mf_commit(json_t *m, const char *repo)
{
    return json_string_value(json_object_get(json_object_get(m, repo), "commit"));
}

static const char *mf(json_t *m, const char *repo, const char *file, const char *key)
{
    json_t *f = json_object_get(json_object_get(json_object_get(m, repo), "files"), file);
    return json_string_value(json_object_get(f, key));
}

/* Requests in the server's log matching: server, method and a part of the path (NULL = any);
 * auth -1 any, 0 none, 1 "Bearer TOKEN"; ranged -1 any, 0 none, 1 a Range from > 0. */
typedef struct req_filter {
    const char *server, *method, *path;
    int auth, ranged;
} req_filter;

static int count_requests(const server *s, req_filter f)
{
    char path[1100], line[4096];
    snprintf(path, sizeof path, "%s/requests.jsonl", s->root);
    FILE *fp = fopen(path, "r");
    ck_assert_ptr_nonnull(fp);
    int n = 0;
    while (fgets(line, sizeof line, fp)) {
        json_t *r = json_loads(line, 0, NULL);
        ck_assert_ptr_nonnull(r);
        const char *srv = json_string_value(json_object_get(r, "server"));
        const char *method = json_string_value(json_object_get(r, "method"));
        const char *p = json_string_value(json_object_get(r, "path"));
        const char *auth = json_string_value(json_object_get(r, "auth"));
        const char *range = json_string_value(json_object_get(r, "range"));
        long long from = -1;
        if (range)
            sscanf(range, "bytes=%lld-", &from);
        int ok = (!f.server || !strcmp(srv, f.server)) && (!f.method || !strcmp(method, f.method)) &&
                 (!f.path || strstr(p, f.path)) &&
                 (f.auth < 0 || (f.auth == 0 && !auth) || (f.auth == 1 && auth && !strcmp(auth, "Bearer " TOKEN))) &&
                 (f.ranged < 0 || (f.ranged == 0 && !range) || (f.ranged == 1 && from > 0));
        n += ok;
        json_decref(r);
    }
    fclose(fp);
    return n;
}

/* ==== helpers ============================================================================ */

static char log_text[16384];

static void capture_log(sbt_log_level level, const char *msg, void *user_data)
{
    (void)level, (void)user_data;
    size_t n = strlen(log_text);
    snprintf(log_text + n, sizeof log_text - n, "%s\n", msg);
}

static sbt_hub *hub_new(const char *endpoint, const char *cache, const char *token, int offline)
{
    sbt_hub_options o;
    sbt_hub_options_init(&o);
    o.endpoint = endpoint;
    o.cache_dir = cache;
    o.token = token ? token : "";
    o.offline = offline;
    o.max_retries = 3;
    o.retry_delay_ms = 10;
    o.connect_timeout_s = 5;
    o.stall_timeout_s = 5;
    sbt_hub *hub = NULL;
    ck_assert_int_eq(sbt_hub_create(&hub, &o), SBT_OK);
    return hub;
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    char *buf = NULL;
    size_t n = 0, cap = 0, got;
    char chunk[65536];
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (n + got > cap) {
            cap = 2 * (n + got);
            buf = realloc(buf, cap);
            ck_assert_ptr_nonnull(buf);
        }
        memcpy(buf + n, chunk, got);
        n += got;
    }
    fclose(f);
    *len = n;
    return buf;
}

static void assert_same_content(const char *a, const char *b)
{
    size_t na, nb;
    char *x = read_all(a, &na), *y = read_all(b, &nb);
    ck_assert_msg(na == nb && (na == 0 || !memcmp(x, y, na)), "%s and %s differ", a, b);
    free(x);
    free(y);
}

static int exists(const char *path)
{
    struct stat sb;
    return lstat(path, &sb) == 0;
}

/* Counts the entries of dir whose name ends with suffix. */
static int count_suffix(const char *dir, const char *suffix)
{
    char cmd[1400], out[32] = "";
    snprintf(cmd, sizeof cmd, "find '%s' -name '*%s' 2>/dev/null | wc -l", dir, suffix);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    ck_assert_ptr_nonnull(fgets(out, sizeof out, p));
    pclose(p);
    return atoi(out);
}

/* A test's temporary folder, its cache, the fake Hub, the Hub's manifest and a client. */
typedef struct fixture {
    char dir[1024], cache[1100];
    server s;
    json_t *m;
    sbt_hub *hub;
} fixture;

/* A fresh temporary folder with its cache path; no server, no client. */
static void make_cache(fixture *fx)
{
    memset(fx, 0, sizeof *fx);
    make_tmp(fx->dir, sizeof fx->dir);
    snprintf(fx->cache, sizeof fx->cache, "%s/cache", fx->dir);
}

/* make_cache, then the fake Hub started with flags (NULL-terminated) and its manifest. */
static void setup_server(fixture *fx, const char *const *flags)
{
    make_cache(fx);
    server_start(&fx->s, fx->dir, flags);
    fx->m = manifest(&fx->s);
}

/* setup_server, then a client of it: no token, online. */
static void setup(fixture *fx, const char *const *flags)
{
    setup_server(fx, flags);
    fx->hub = hub_new(fx->s.endpoint, fx->cache, NULL, 0);
}

/* Options for the fixture's server and cache, the rest at their defaults. */
static sbt_hub_options fx_options(const fixture *fx)
{
    sbt_hub_options o;
    sbt_hub_options_init(&o);
    o.endpoint = fx->s.endpoint;
    o.cache_dir = fx->cache;
    return o;
}

/* Frees the client, the manifest and stops the server (each where there is one). */
static void teardown(fixture *fx)
{
    sbt_hub_free(fx->hub);
    fx->hub = NULL;
    json_decref(fx->m);
    fx->m = NULL;
    server_stop(&fx->s);
}

/* ==== full download into an empty cache ================================================== */

START_TEST(full_download_layout)
{
    char path[1400], link[256];
    fixture fx;
    setup(&fx, NULL);
    const char *repo = "models/" TINY, *commit = mf_commit(fx.m, repo);
    ck_assert_str_eq(sbt_hub_cache_dir(fx.hub), fx.cache);

    const char *files[] = {"config.json", "model.safetensors", "tokenizer/vocab.txt"};
    const char *links[] = {"../../blobs/", "../../blobs/", "../../../blobs/"};
    for (int k = 0; k < 3; k++) {
        char *out = NULL;
        ck_assert_msg(sbt_hub_download(&out, fx.hub, TINY, SBT_HUB_MODEL, NULL, files[k]) == SBT_OK,
                      "%s", sbt_last_error());
        snprintf(path, sizeof path, "%s/models--test-org--tiny-model/snapshots/%s/%s", fx.cache, commit,
                 files[k]);
        ck_assert_str_eq(out, path);
        /* the snapshot entry is a relative symlink to blobs/{etag} */
        struct stat sb;
        ck_assert_int_eq(lstat(out, &sb), 0);
        ck_assert(S_ISLNK(sb.st_mode));
        ssize_t n = readlink(out, link, sizeof link - 1);
        ck_assert_int_gt(n, 0);
        link[n] = '\0';
        char want[256];
        snprintf(want, sizeof want, "%s%s", links[k], mf(fx.m, repo, files[k], "etag"));
        ck_assert_str_eq(link, want);
        assert_same_content(out, mf(fx.m, repo, files[k], "path"));
        sbt_hub_path_free(out);
    }
    /* the LFS blob is named by its sha256, the others by their git blob sha1 */
    ck_assert_str_eq(mf(fx.m, repo, "model.safetensors", "etag"), mf(fx.m, repo, "model.safetensors", "sha256"));
    snprintf(path, sizeof path, "%s/models--test-org--tiny-model/blobs/%s", fx.cache,
             mf(fx.m, repo, "config.json", "etag"));
    ck_assert(exists(path));
    /* refs/main holds the commit, without a newline */
    snprintf(path, sizeof path, "%s/models--test-org--tiny-model/refs/main", fx.cache);
    size_t len;
    char *ref = read_all(path, &len);
    ck_assert_uint_eq(len, 40);
    ck_assert(!memcmp(ref, commit, 40));
    free(ref);
    ck_assert_int_eq(count_suffix(fx.cache, ".incomplete"), 0);
    ck_assert_int_eq(count_suffix(fx.cache, ".tmp.*"), 0);
    /* the LFS file came from the CDN, once; asking again fetches nothing more */
    ck_assert_int_eq(count_requests(&fx.s, (req_filter){"cdn", "GET", NULL, -1, -1}), 1);
    char *again = NULL;
    ck_assert_int_eq(sbt_hub_download(&again, fx.hub, TINY, SBT_HUB_MODEL, "main", "model.safetensors"), SBT_OK);
    sbt_hub_path_free(again);
    ck_assert_int_eq(count_requests(&fx.s, (req_filter){NULL, "GET", NULL, -1, -1}), 3);
    ck_assert_int_eq(count_requests(&fx.s, (req_filter){"cdn", "GET", NULL, -1, -1}), 1);
    teardown(&fx);
}
END_TEST

START_TEST(revision_other_than_main)
{
    char path[1400];
    fixture fx;
    setup(&fx, NULL);
    const char *commit = mf_commit(fx.m, "models/" TINY);
    char *out = NULL;
    ck_assert_int_eq(sbt_hub_download(&out, fx.hub, TINY, SBT_HUB_MODEL, "v1.0", "config.json"), SBT_OK);
    sbt_hub_path_free(out);
    snprintf(path, sizeof path, "%s/models--test-org--tiny-model/refs/v1.0", fx.cache);
    ck_assert(exists(path));
    /* a commit as the revision: no refs/{commit} file */
    ck_assert_int_eq(sbt_hub_download(&out, fx.hub, TINY, SBT_HUB_MODEL, commit, "config.json"), SBT_OK);
    sbt_hub_path_free(out);
    snprintf(path, sizeof path, "%s/models--test-org--tiny-model/refs/%s", fx.cache, commit);
    ck_assert(!exists(path));
    teardown(&fx);
}
END_TEST

/* ==== resume, verification, retries, timeouts ============================================ */

START_TEST(resume_after_dropped_connection)
{
    fixture fx;
    setup(&fx, (const char *[]){"--drop-once", NULL});
    char *out = NULL, hex[65];
    ck_assert_msg(sbt_hub_download(&out, fx.hub, TINY, SBT_HUB_MODEL, NULL, "model.safetensors") == SBT_OK,
                  "%s", sbt_last_error());
    /* the second GET asked for the rest only */
    ck_assert_int_eq(count_requests(&fx.s, (req_filter){"cdn", "GET", NULL, -1, 0}), 1);
    ck_assert_int_eq(count_requests(&fx.s, (req_filter){"cdn", "GET", NULL, -1, 1}), 1);
    ck_assert_int_eq(sbti_hub_sha256_file(hex, out), SBT_OK);
    ck_assert_str_eq(hex, mf(fx.m, "models/" TINY, "model.safetensors", "sha256"));
    sbt_hub_path_free(out);
    teardown(&fx);
}
END_TEST

START_TEST(resume_incomplete_from_earlier_run)
{
    char blob[1400];
    fixture fx;
    setup_server(&fx, NULL);
    const char *repo = "models/" TINY, *sha = mf(fx.m, repo, "model.safetensors", "sha256");
    /* an earlier run left the first 1000 bytes */
    size_t len;
    char *data = read_all(mf(fx.m, repo, "model.safetensors", "path"), &len);
    snprintf(blob, sizeof blob, "%s/models--test-org--tiny-model/blobs/%s.incomplete", fx.cache, sha);
    ck_assert_int_eq(sbti_hub_mkdirs_for(blob), SBT_OK);
    FILE *f = fopen(blob, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, 1000, f), 1000);
    fclose(f);
    free(data);
    fx.hub = hub_new(fx.s.endpoint, fx.cache, NULL, 0);
    char *out = NULL, hex[65];
    ck_assert_int_eq(sbt_hub_download(&out, fx.hub, TINY, SBT_HUB_MODEL, NULL, "model.safetensors"), SBT_OK);
    ck_assert_int_eq(count_requests(&fx.s, (req_filter){"cdn", "GET", NULL, -1, -1}), 1);
    ck_assert_int_eq(count_requests(&fx.s, (req_filter){"cdn", "GET", NULL, -1, 1}), 1);
    ck_assert_int_eq(sbti_hub_sha256_file(hex, out), SBT_OK);
    ck_assert_str_eq(hex, sha);
    ck_assert(!exists(blob));
    sbt_hub_path_free(out);
    teardown(&fx);
}
END_TEST

START_TEST(corrupt_content_is_rejected)
{
    char path[1400];
    fixture fx;
    setup(&fx, (const char *[]){"--corrupt", NULL});
    const char *repo = "models/" TINY;
    char *out = (char *)1;
    ck_assert_int_eq(sbt_hub_download(&out, fx.hub, TINY, SBT_HUB_MODEL, NULL, "model.safetensors"), SBT_E_NETWORK);
    ck_assert_ptr_null(out);
    ck_assert_msg(strstr(sbt_last_error(), "corrupt") && strstr(sbt_last_error(), "sha256") &&
                  strstr(sbt_last_error(), "model.safetensors"), "%s", sbt_last_error());
    /* nothing under the final names, and no partial file to resume from */
    snprintf(path, sizeof path, "%s/models--test-org--tiny-model/blobs/%s", fx.cache,
             mf(fx.m, repo, "model.safetensors", "etag"));
    ck_assert(!exists(path));
    snprintf(path, sizeof path, "%s/models--test-org--tiny-model/snapshots/%s/model.safetensors",
             fx.cache, mf_commit(fx.m, repo));
    ck_assert(!exists(path));
    ck_assert_int_eq(count_suffix(fx.cache, ".incomplete"), 0);
    teardown(&fx);
}
END_TEST

START_TEST(retry_after_503)
{
    fixture fx;
    setup_server(&fx, (const char *[]){"--fail-first", "2", NULL});
    log_text[0] = '\0';
    sbt_log_set(capture_log, NULL, SBT_LOG_DEBUG);
    fx.hub = hub_new(fx.s.endpoint, fx.cache, NULL, 0);
    char *out = NULL;
    ck_assert_msg(sbt_hub_download(&out, fx.hub, TINY, SBT_HUB_MODEL, NULL, "config.json") == SBT_OK,
                  "%s", sbt_last_error());
    ck_assert_int_eq(count_requests(&fx.s, (req_filter){"main", "HEAD", "config.json", -1, -1}), 3);
    ck_assert_ptr_nonnull(strstr(log_text, "HTTP 503"));
    sbt_hub_path_free(out);
    teardown(&fx);
    sbt_log_set(NULL, NULL, SBT_LOG_INFO);
}
END_TEST

START_TEST(retries_are_bounded)
{
    char url[256];
    fixture fx;
    setup(&fx, (const char *[]){"--fail-first", "100", NULL});
    char *out = NULL;
    ck_assert_int_eq(sbt_hub_download(&out, fx.hub, TINY, SBT_HUB_MODEL, NULL, "config.json"), SBT_E_NETWORK);
    snprintf(url, sizeof url, "%s/" TINY "/resolve/main/config.json", fx.s.endpoint);
    ck_assert_msg(strstr(sbt_last_error(), "HTTP 503") && strstr(sbt_last_error(), url) &&
                  strstr(sbt_last_error(), "4 tries"), "%s", sbt_last_error());
    ck_assert_int_eq(count_requests(&fx.s, (req_filter){NULL, NULL, NULL, -1, -1}), 4);
    teardown(&fx);
}
END_TEST

START_TEST(stalled_transfer_times_out)
{
    fixture fx;
    setup_server(&fx, (const char *[]){"--stall", NULL});
    sbt_hub_options o = fx_options(&fx);
    o.max_retries = 1;
    o.retry_delay_ms = 10;
    o.stall_timeout_s = 1;
    ck_assert_int_eq(sbt_hub_create(&fx.hub, &o), SBT_OK);
    char *out = NULL;
    ck_assert_int_eq(sbt_hub_download(&out, fx.hub, TINY, SBT_HUB_MODEL, NULL, "model.safetensors"), SBT_E_NETWORK);
    ck_assert_msg(strstr(sbt_last_error(), "timed out") && strstr(sbt_last_error(), "/cdn/"), "%s",
                  sbt_last_error());
    ck_assert_int_eq(count_requests(&fx.s, (req_filter){"cdn", "GET", NULL, -1, -1}), 2);
    teardown(&fx);
}
END_TEST

typedef struct progress_log {
    int64_t last_done, last_total;
    int calls, cancel_at;
    char what[64];
} progress_log;

static int on_progress(const char *what, int64_t done, int64_t total, void *user_data)
{
    progress_log *p = user_data;
    snprintf(p->what, sizeof p->what, "%s", what);
    p->last_done = done;
    p->last_total = total;
    return ++p->calls >= p->cancel_at && p->cancel_at > 0;
}

START_TEST(progress_and_cancel)
{
    fixture fx;
    setup_server(&fx, NULL);
    sbt_hub_options o = fx_options(&fx);
    progress_log p = {0};
    o.progress = on_progress;
    o.progress_user_data = &p;
    p.cancel_at = 1;
    ck_assert_int_eq(sbt_hub_create(&fx.hub, &o), SBT_OK);
    char *out = NULL;
    ck_assert_int_eq(sbt_hub_download(&out, fx.hub, TINY, SBT_HUB_MODEL, NULL, "model.safetensors"), SBT_E_CANCELLED);
    char blob[1400];
    snprintf(blob, sizeof blob, "%s/models--test-org--tiny-model/blobs/%s", fx.cache,
             mf(fx.m, "models/" TINY, "model.safetensors", "etag"));
    ck_assert(!exists(blob)); /* nothing under the final name */
    sbt_hub_free(fx.hub);
    fx.hub = NULL;
    memset(&p, 0, sizeof p);
    ck_assert_int_eq(sbt_hub_create(&fx.hub, &o), SBT_OK);
    ck_assert_int_eq(sbt_hub_download(&out, fx.hub, TINY, SBT_HUB_MODEL, NULL, "model.safetensors"), SBT_OK);
    ck_assert_int_gt(p.calls, 0);
    ck_assert_str_eq(p.what, "model.safetensors");
    ck_assert_int_eq(p.last_total, 256 * 1024);
    ck_assert_int_eq(p.last_done, 256 * 1024);
    sbt_hub_path_free(out);
    teardown(&fx);
}
END_TEST

/* ==== errors: 404, 401, the token ======================================================== */

START_TEST(not_found_messages)
{
    char url[256];
    fixture fx;
    setup(&fx, NULL);
    char *out = NULL;
    ck_assert_int_eq(sbt_hub_download(&out, fx.hub, "test-org/nope", SBT_HUB_MODEL, NULL, "config.json"), SBT_E_NOT_FOUND);
    snprintf(url, sizeof url, "%s/test-org/nope/resolve/main/config.json", fx.s.endpoint);
    ck_assert_msg(strstr(sbt_last_error(), "repo test-org/nope not found") && strstr(sbt_last_error(), url),
                  "%s", sbt_last_error());
    ck_assert_int_eq(sbt_hub_download(&out, fx.hub, TINY, SBT_HUB_MODEL, NULL, "missing.bin"), SBT_E_NOT_FOUND);
    ck_assert_msg(strstr(sbt_last_error(), "file 'missing.bin' not found in model repo " TINY),
                  "%s", sbt_last_error());
    ck_assert_int_eq(sbt_hub_download(&out, fx.hub, TINY, SBT_HUB_MODEL, "no-such-branch", "config.json"), SBT_E_NOT_FOUND);
    ck_assert_msg(strstr(sbt_last_error(), "revision 'no-such-branch' not found"), "%s", sbt_last_error());
    /* a model looked up as a dataset: /datasets/ URL, and a hint */
    ck_assert_int_eq(sbt_hub_download(&out, fx.hub, TINY, SBT_HUB_DATASET, NULL, "config.json"), SBT_E_NOT_FOUND);
    ck_assert_msg(strstr(sbt_last_error(), "/datasets/" TINY "/resolve/") && strstr(sbt_last_error(), "is it a model?"),
                  "%s", sbt_last_error());
    char **files = NULL;
    ck_assert_int_eq(sbt_hub_list_files(&files, NULL, fx.hub, "test-org/nope", SBT_HUB_MODEL, NULL), SBT_E_NOT_FOUND);
    ck_assert_ptr_null(files);
    ck_assert_msg(strstr(sbt_last_error(), "/api/models/test-org/nope/revision/main"), "%s", sbt_last_error());
    char path[1400];
    snprintf(path, sizeof path, "%s/models--test-org--nope", fx.cache);
    ck_assert(!exists(path));
    teardown(&fx);
}
END_TEST

START_TEST(gated_repo_needs_the_token)
{
    fixture fx;
    setup_server(&fx, NULL);
    log_text[0] = '\0';
    sbt_log_set(capture_log, NULL, SBT_LOG_DEBUG);
    const char *gated = "test-org/gated-model";
    char *out = NULL;
    fx.hub = hub_new(fx.s.endpoint, fx.cache, NULL, 0);
    ck_assert_int_eq(sbt_hub_download(&out, fx.hub, gated, SBT_HUB_MODEL, NULL, "config.json"), SBT_E_NETWORK);
    ck_assert_msg(strstr(sbt_last_error(), "gated") && strstr(sbt_last_error(), "HF_TOKEN") &&
                  strstr(sbt_last_error(), "HTTP 401") && strstr(sbt_last_error(), fx.s.endpoint),
                  "%s", sbt_last_error());
    sbt_hub_free(fx.hub);
    fx.hub = hub_new(fx.s.endpoint, fx.cache, "hf_wrong_secret", 0);
    ck_assert_int_eq(sbt_hub_download(&out, fx.hub, gated, SBT_HUB_MODEL, NULL, "config.json"), SBT_E_NETWORK);
    ck_assert_msg(strstr(sbt_last_error(), "not accepted"), "%s", sbt_last_error());
    ck_assert_ptr_null(strstr(sbt_last_error(), "hf_wrong_secret"));
    char **files = NULL;
    ck_assert_int_eq(sbt_hub_list_files(&files, NULL, fx.hub, gated, SBT_HUB_MODEL, NULL), SBT_E_NETWORK);
    ck_assert_ptr_null(strstr(sbt_last_error(), "hf_wrong_secret"));
    sbt_hub_free(fx.hub);
    fx.hub = hub_new(fx.s.endpoint, fx.cache, TOKEN, 0);
    ck_assert_msg(sbt_hub_download(&out, fx.hub, gated, SBT_HUB_MODEL, NULL, "config.json") == SBT_OK, "%s",
                  sbt_last_error());
    sbt_hub_path_free(out);
    ck_assert_ptr_null(strstr(log_text, "hf_wrong_secret"));
    ck_assert_ptr_null(strstr(log_text, TOKEN));
    teardown(&fx);
    sbt_log_set(NULL, NULL, SBT_LOG_INFO);
}
END_TEST

START_TEST(token_only_to_the_endpoint)
{
    fixture fx;
    setup_server(&fx, NULL);
    fx.hub = hub_new(fx.s.endpoint, fx.cache, TOKEN, 0);
    char *out = NULL, **files = NULL;
    ck_assert_int_eq(sbt_hub_list_files(&files, NULL, fx.hub, TINY, SBT_HUB_MODEL, NULL), SBT_OK);
    sbt_hub_files_free(files);
    ck_assert_int_eq(sbt_hub_download(&out, fx.hub, TINY, SBT_HUB_MODEL, NULL, "model.safetensors"), SBT_OK);
    sbt_hub_path_free(out);
    int main_all = count_requests(&fx.s, (req_filter){"main", NULL, NULL, -1, -1});
    ck_assert_int_eq(main_all, 2);
    ck_assert_int_eq(count_requests(&fx.s, (req_filter){"main", NULL, NULL, 1, -1}), main_all);
    ck_assert_int_eq(count_requests(&fx.s, (req_filter){"cdn", "GET", NULL, -1, -1}), 1);
    ck_assert_int_eq(count_requests(&fx.s, (req_filter){"cdn", NULL, NULL, 0, -1}), 1);
    teardown(&fx);
}
END_TEST

/* ==== offline ============================================================================ */

START_TEST(offline_uses_the_cache)
{
    fixture fx;
    setup(&fx, NULL);
    char *online = NULL, *out = NULL;
    ck_assert_int_eq(sbt_hub_download(&online, fx.hub, TINY, SBT_HUB_MODEL, NULL, "config.json"), SBT_OK);
    teardown(&fx); /* from here on nothing answers; fx.s.endpoint still names it */

    fx.hub = hub_new(fx.s.endpoint, fx.cache, NULL, 1);
    ck_assert_int_eq(sbt_hub_download(&out, fx.hub, TINY, SBT_HUB_MODEL, NULL, "config.json"), SBT_OK);
    ck_assert_str_eq(out, online);
    sbt_hub_path_free(out);
    char **files = NULL, commit[SBT_HUB_COMMIT_SIZE];
    ck_assert_int_eq(sbt_hub_list_files(&files, commit, fx.hub, TINY, SBT_HUB_MODEL, NULL), SBT_OK);
    ck_assert_str_eq(files[0], "config.json");
    ck_assert_ptr_null(files[1]);
    ck_assert_ptr_nonnull(strstr(online, commit));
    sbt_hub_files_free(files);
    sbt_hub_free(fx.hub);

    /* HF_HUB_OFFLINE=1 through the environment */
    setenv("HF_HUB_OFFLINE", "1", 1);
    fx.hub = hub_new(fx.s.endpoint, fx.cache, NULL, SBT_HUB_OFFLINE_FROM_ENV);
    ck_assert_int_eq(sbt_hub_download(&out, fx.hub, TINY, SBT_HUB_MODEL, NULL, "config.json"), SBT_OK);
    sbt_hub_path_free(out);
    sbt_hub_free(fx.hub);
    fx.hub = NULL;
    unsetenv("HF_HUB_OFFLINE");

    /* online but unreachable: resolve_path is offline-first, download falls back to the cache */
    sbt_hub_options o = fx_options(&fx);
    o.max_retries = 0;
    ck_assert_int_eq(sbt_hub_create(&fx.hub, &o), SBT_OK);
    ck_assert_int_eq(sbt_hub_resolve_path(&out, fx.hub, TINY, SBT_HUB_MODEL, "config.json"), SBT_OK);
    ck_assert_str_eq(out, online);
    sbt_hub_path_free(out);
    log_text[0] = '\0';
    sbt_log_set(capture_log, NULL, SBT_LOG_WARN);
    ck_assert_int_eq(sbt_hub_download(&out, fx.hub, TINY, SBT_HUB_MODEL, NULL, "config.json"), SBT_OK);
    ck_assert_str_eq(out, online);
    ck_assert_msg(strstr(log_text, "cannot connect") && strstr(log_text, "using the cached"), "%s", log_text);
    sbt_log_set(NULL, NULL, SBT_LOG_INFO);
    sbt_hub_path_free(out);
    /* not cached and unreachable: the connection error */
    ck_assert_int_eq(sbt_hub_download(&out, fx.hub, TINY, SBT_HUB_MODEL, NULL, "model.safetensors"), SBT_E_NETWORK);
    ck_assert_msg(strstr(sbt_last_error(), "cannot connect to") && strstr(sbt_last_error(), fx.s.endpoint),
                  "%s", sbt_last_error());
    teardown(&fx);
    sbt_hub_path_free(online);
}
END_TEST

START_TEST(offline_missing_file)
{
    fixture fx;
    make_cache(&fx);
    fx.hub = hub_new("http://127.0.0.1:9", fx.cache, NULL, 1);
    char *out = NULL;
    ck_assert_int_eq(sbt_hub_download(&out, fx.hub, TINY, SBT_HUB_MODEL, NULL, "model.safetensors"), SBT_E_NOT_FOUND);
    ck_assert_msg(strstr(sbt_last_error(), "offline") && strstr(sbt_last_error(), "model.safetensors") &&
                  strstr(sbt_last_error(), TINY), "%s", sbt_last_error());
    ck_assert_int_eq(sbt_hub_resolve_path(&out, fx.hub, TINY, SBT_HUB_MODEL, "config.json"), SBT_E_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(sbt_last_error(), "config.json"));
    char **files = NULL;
    ck_assert_int_eq(sbt_hub_list_files(&files, NULL, fx.hub, TINY, SBT_HUB_MODEL, NULL), SBT_E_NOT_FOUND);
    teardown(&fx);
}
END_TEST

/* ==== lists, datasets, local paths ======================================================= */

START_TEST(list_files)
{
    char path[1400];
    fixture fx;
    setup(&fx, NULL);
    char **files = NULL, commit[SBT_HUB_COMMIT_SIZE];
    ck_assert_int_eq(sbt_hub_list_files(&files, commit, fx.hub, TINY, SBT_HUB_MODEL, NULL), SBT_OK);
    ck_assert_str_eq(commit, mf_commit(fx.m, "models/" TINY));
    const char *want[] = {"config.json", "model.safetensors", "tokenizer/vocab.txt", NULL};
    for (int k = 0; k < 4; k++) {
        if (want[k])
            ck_assert_str_eq(files[k], want[k]);
        else
            ck_assert_ptr_null(files[k]);
    }
    sbt_hub_files_free(files);
    snprintf(path, sizeof path, "%s/models--test-org--tiny-model/refs/main", fx.cache);
    ck_assert(exists(path));
    ck_assert_int_eq(sbt_hub_list_files(&files, commit, fx.hub, "test-org/countdown", SBT_HUB_DATASET, "main"), SBT_OK);
    ck_assert_str_eq(commit, mf_commit(fx.m, "datasets/test-org/countdown"));
    ck_assert_str_eq(files[2], "train_backtrack.json");
    sbt_hub_files_free(files);
    ck_assert_int_eq(count_requests(&fx.s, (req_filter){"main", "GET", "/api/datasets/test-org/countdown/revision/main", -1, -1}), 1);
    snprintf(path, sizeof path, "%s/datasets--test-org--countdown/refs/main", fx.cache);
    ck_assert(exists(path));
    teardown(&fx);
}
END_TEST

START_TEST(dataset_file_discovery)
{
    char local[1100], path[1400];
    fixture fx;
    setup(&fx, NULL);
    const char *repo = "datasets/test-org/countdown";
    char *train = NULL, *val = NULL;
    ck_assert_msg(sbt_hub_dataset_files(&train, &val, fx.hub, "test-org/countdown") == SBT_OK, "%s",
                  sbt_last_error());
    snprintf(path, sizeof path, "%s/datasets--test-org--countdown/snapshots/%s/train_backtrack.json",
             fx.cache, mf_commit(fx.m, repo));
    ck_assert_str_eq(train, path);
    ck_assert_ptr_nonnull(val);
    ck_assert_ptr_nonnull(strstr(val, "/val_backtrack.json"));
    assert_same_content(train, mf(fx.m, repo, "train_backtrack.json", "path"));
    assert_same_content(val, mf(fx.m, repo, "val_backtrack.json", "path"));
    sbt_hub_path_free(train);
    sbt_hub_path_free(val);
    /* name@revision */
    ck_assert_int_eq(sbt_hub_dataset_files(&train, &val, fx.hub, "test-org/countdown@v1.0"), SBT_OK);
    sbt_hub_path_free(train);
    sbt_hub_path_free(val);
    /* Parquet only: unsupported, with the conversion */
    ck_assert_int_eq(sbt_hub_dataset_files(&train, &val, fx.hub, "test-org/parquet-only"), SBT_E_UNSUPPORTED);
    ck_assert_ptr_null(train);
    ck_assert_msg(strstr(sbt_last_error(), "Parquet") && strstr(sbt_last_error(), "pd.read_parquet('x.parquet')"),
                  "%s", sbt_last_error());
    /* a model repo has no train file */
    ck_assert_int_eq(sbt_hub_dataset_files(&train, &val, fx.hub, "test-org/nope"), SBT_E_NOT_FOUND);
    /* a local folder: train.jsonl and validation.jsonl, no network */
    snprintf(local, sizeof local, "%s/local", fx.dir);
    ck_assert_int_eq(mkdir(local, 0777), 0);
    const char *names[] = {"train.jsonl", "validation.jsonl", "README.md", "test.parquet"};
    for (int k = 0; k < 4; k++) {
        snprintf(path, sizeof path, "%s/%s", local, names[k]);
        FILE *f = fopen(path, "w");
        ck_assert_ptr_nonnull(f);
        fputs("{}\n", f);
        fclose(f);
    }
    ck_assert_int_eq(sbt_hub_dataset_files(&train, &val, fx.hub, local), SBT_OK);
    snprintf(path, sizeof path, "%s/train.jsonl", local);
    ck_assert_str_eq(train, path);
    snprintf(path, sizeof path, "%s/validation.jsonl", local);
    ck_assert_str_eq(val, path);
    sbt_hub_path_free(train);
    sbt_hub_path_free(val);
    /* two train files: unsupported, named */
    snprintf(path, sizeof path, "%s/train_more.json", local);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    ck_assert_int_eq(sbt_hub_dataset_files(&train, &val, fx.hub, local), SBT_E_UNSUPPORTED);
    ck_assert_ptr_nonnull(strstr(sbt_last_error(), "2 train files"));
    teardown(&fx);
}
END_TEST

START_TEST(resolve_local_paths_and_names)
{
    char path[1400];
    fixture fx;
    make_cache(&fx);
    const char *dir = fx.dir;
    sbt_hub *hub = fx.hub = hub_new("http://127.0.0.1:9", fx.cache, NULL, 1);
    char *out = NULL;
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    ck_assert_int_eq(sbt_hub_resolve_path(&out, hub, dir, SBT_HUB_MODEL, "config.json"), SBT_OK);
    ck_assert_str_eq(out, path);
    sbt_hub_path_free(out);
    ck_assert_int_eq(sbt_hub_resolve_path(&out, hub, dir, SBT_HUB_MODEL, NULL), SBT_OK);
    ck_assert_str_eq(out, dir);
    sbt_hub_path_free(out);
    ck_assert_int_eq(sbt_hub_resolve_path(&out, hub, path, SBT_HUB_MODEL, NULL), SBT_OK);
    ck_assert_str_eq(out, path);
    sbt_hub_path_free(out);
    ck_assert_int_eq(sbt_hub_resolve_path(&out, hub, dir, SBT_HUB_MODEL, "missing.json"), SBT_E_NOT_FOUND);
    ck_assert_int_eq(sbt_hub_resolve_path(&out, hub, "./no/such/dir/x", SBT_HUB_MODEL, NULL), SBT_E_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(sbt_last_error(), "neither an existing file or folder nor a Hub repo id"));
    /* bad names are refused before any network */
    ck_assert_int_eq(sbt_hub_download(&out, hub, "a/b/c", SBT_HUB_MODEL, NULL, "x"), SBT_E_INVALID_ARGUMENT);
    ck_assert_int_eq(sbt_hub_download(&out, hub, TINY, SBT_HUB_MODEL, NULL, "../x"), SBT_E_INVALID_ARGUMENT);
    ck_assert_int_eq(sbt_hub_download(&out, hub, TINY, SBT_HUB_MODEL, "../main", "x"), SBT_E_INVALID_ARGUMENT);
    ck_assert_int_eq(sbt_hub_download(&out, hub, "org--x/y", SBT_HUB_MODEL, NULL, "x"), SBT_E_INVALID_ARGUMENT);
    ck_assert_int_eq(sbt_hub_download(NULL, hub, TINY, SBT_HUB_MODEL, NULL, "x"), SBT_E_INVALID_ARGUMENT);
    teardown(&fx);
}
END_TEST

START_TEST(snapshot_of_every_file)
{
    char path[1400];
    fixture fx;
    setup(&fx, NULL);
    char *out = NULL;
    ck_assert_msg(sbt_hub_resolve_path(&out, fx.hub, TINY, SBT_HUB_MODEL, NULL) == SBT_OK, "%s", sbt_last_error());
    snprintf(path, sizeof path, "%s/models--test-org--tiny-model/snapshots/%s", fx.cache, mf_commit(fx.m, "models/" TINY));
    ck_assert_str_eq(out, path);
    snprintf(path, sizeof path, "%s/tokenizer/vocab.txt", out);
    ck_assert(exists(path));
    sbt_hub_path_free(out);
    teardown(&fx);
}
END_TEST

/* ==== environment and messages =========================================================== */

START_TEST(environment_settings)
{
    char dir[1024], path[1400];
    make_tmp(dir, sizeof dir);
    setenv("HF_HOME", dir, 1);
    setenv("HF_ENDPOINT", "http://127.0.0.1:9/", 1);
    sbt_hub *hub = NULL;
    ck_assert_int_eq(sbt_hub_create(&hub, NULL), SBT_OK);
    snprintf(path, sizeof path, "%s/hub", dir);
    ck_assert_str_eq(sbt_hub_cache_dir(hub), path);
    ck_assert_str_eq(hub->endpoint, "http://127.0.0.1:9");
    ck_assert_ptr_null(hub->token);
    ck_assert_int_eq(hub->offline, 0);
    sbt_hub_free(hub);
    /* the token file huggingface_hub's login writes, then HF_TOKEN, HF_HUB_CACHE */
    snprintf(path, sizeof path, "%s/token", dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("hf_from_file\n", f);
    fclose(f);
    ck_assert_int_eq(sbt_hub_create(&hub, NULL), SBT_OK);
    ck_assert_str_eq(hub->token, "hf_from_file");
    sbt_hub_free(hub);
    setenv("HF_TOKEN", "hf_from_env", 1);
    setenv("HF_HUB_CACHE", "/somewhere/else/", 1);
    setenv("HF_HUB_OFFLINE", "yes", 1);
    ck_assert_int_eq(sbt_hub_create(&hub, NULL), SBT_OK);
    ck_assert_str_eq(hub->token, "hf_from_env");
    ck_assert_str_eq(sbt_hub_cache_dir(hub), "/somewhere/else");
    ck_assert_int_eq(hub->offline, 1);
    sbt_hub_free(hub);
    setenv("HF_ENDPOINT", "ftp://example", 1);
    ck_assert_int_eq(sbt_hub_create(&hub, NULL), SBT_E_INVALID_ARGUMENT);
    ck_assert_ptr_null(hub);
    ck_assert_ptr_nonnull(strstr(sbt_last_error(), "HF_ENDPOINT"));
    unsetenv("HF_ENDPOINT");
    unsetenv("HF_TOKEN");
    unsetenv("HF_HUB_CACHE");
    unsetenv("HF_HUB_OFFLINE");
    unsetenv("HF_HOME");
    sbt_hub_options o;
    sbt_hub_options_init(&o);
    o.size = 3;
    ck_assert_int_eq(sbt_hub_create(&hub, &o), SBT_E_INVALID_ARGUMENT);
    sbt_hub_free(NULL);
    sbt_hub_path_free(NULL);
    sbt_hub_files_free(NULL);
}
END_TEST

START_TEST(transport_messages)
{
    char msg[512];
    const char *url = "https://hub.example/org/name/resolve/main/x";
    sbti_hub_transport_message(msg, sizeof msg, CURLE_COULDNT_RESOLVE_HOST, url, 1);
    ck_assert_msg(strstr(msg, "DNS") && strstr(msg, url) && strstr(msg, "HF_HUB_OFFLINE"), "%s", msg);
    sbti_hub_transport_message(msg, sizeof msg, CURLE_OPERATION_TIMEDOUT, url, 5);
    ck_assert_msg(strstr(msg, "timed out") && strstr(msg, "5 tries"), "%s", msg);
    sbti_hub_transport_message(msg, sizeof msg, CURLE_PARTIAL_FILE, url, 5);
    ck_assert_msg(strstr(msg, "broke") && strstr(msg, url), "%s", msg);
}
END_TEST

static Suite *hub_suite(void)
{
    Suite *s = suite_create("hub");
    TCase *t = tcase_create("download");
    tcase_add_test(t, full_download_layout);
    tcase_add_test(t, revision_other_than_main);
    tcase_add_test(t, resume_after_dropped_connection);
    tcase_add_test(t, resume_incomplete_from_earlier_run);
    tcase_add_test(t, corrupt_content_is_rejected);
    tcase_add_test(t, retry_after_503);
    tcase_add_test(t, retries_are_bounded);
    tcase_add_test(t, stalled_transfer_times_out);
    tcase_add_test(t, progress_and_cancel);
    suite_add_tcase(s, t);
    t = tcase_create("errors");
    tcase_add_test(t, not_found_messages);
    tcase_add_test(t, gated_repo_needs_the_token);
    tcase_add_test(t, token_only_to_the_endpoint);
    suite_add_tcase(s, t);
    t = tcase_create("offline");
    tcase_add_test(t, offline_uses_the_cache);
    tcase_add_test(t, offline_missing_file);
    suite_add_tcase(s, t);
    t = tcase_create("repos");
    tcase_add_test(t, list_files);
    tcase_add_test(t, dataset_file_discovery);
    tcase_add_test(t, resolve_local_paths_and_names);
    tcase_add_test(t, snapshot_of_every_file);
    suite_add_tcase(s, t);
    t = tcase_create("settings");
    tcase_add_test(t, environment_settings);
    tcase_add_test(t, transport_messages);
    suite_add_tcase(s, t);
    return s;
}

/* Skips (77) without python3; keeps the user's HF_* settings and proxies out of the tests. */
int main(void)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "%s -c 'import http.server, socketserver' >/dev/null 2>&1", python3());
    if (system(cmd) != 0) {
        printf("test_hub: skipped: %s with http.server is not available\n", python3());
        return 77;
    }
    static const char *clear[] = {"HF_TOKEN", "HF_TOKEN_PATH", "HF_ENDPOINT", "HF_HUB_OFFLINE",
                                  "HF_HOME", "HF_HUB_CACHE", "http_proxy", "https_proxy",
                                  "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"};
    for (size_t k = 0; k < sizeof clear / sizeof *clear; k++)
        unsetenv(clear[k]);
    setenv("NO_PROXY", "*", 1);
    SRunner *sr = srunner_create(hub_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
