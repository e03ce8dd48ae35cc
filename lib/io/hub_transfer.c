/* hub_transfer.c — HTTP for the hub over libcurl: one request at a time on the handle's
 * connection; redirects followed by hand, so the token goes only to the endpoint's own
 * origin; bounded retries with exponential back-off; resumable downloads (Range); the
 * messages of failures; and the sha256 of downloaded content (OpenSSL's EVP). Built without
 * libcurl, every transfer fails with SBT_E_UNSUPPORTED. */
#include "io/hub.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if SELFBT_HAVE_CURL
#include <pthread.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "core/clock.h"
#include "core/log.h"
#include "selfbt/version.h"

#if LIBCURL_VERSION_NUM < 0x075500
#error "the hub needs libcurl 7.85 or newer (curl_easy_header, CURLOPT_PROTOCOLS_STR)"
#endif

#define MAX_REDIRECTS 10
#define MAX_JSON_BODY (64 << 20) /* the largest API answer accepted */
#define MAX_ERROR_BODY 4096      /* what is kept of other answers' bodies */
#define MAX_DELAY_MS 30000       /* the back-off cap */
#define MAX_RETRY_AFTER_MS 60000 /* the most a Retry-After header may ask for */

typedef struct request {
    sbt_hub *hub;
    const sbti_hub_ref *ref;
    char *url;         /* the current URL; changes with redirects */
    int head;          /* HEAD: headers only */
    FILE *fp;          /* a download: 2xx bodies are appended here ...   */
    const char *path;  /* ... the file it writes                         */
    int64_t offset;    /* bytes already in fp, asked for with Range        */
    int64_t total;     /* the size of the whole file; -1 unknown           */
    int started;       /* the first 2xx bytes of this attempt arrived      */
    int restarted;     /* a 200 answered a Range request: fp was emptied   */
    int bad_range;     /* a 206 that does not start at offset              */
    int write_errno;
    int cancelled;
    int stalled;       /* nothing arrived for stall_timeout_s */
    int64_t last_now;  /* bytes received when ...           */
    double last_time;  /* ... the count last moved (monotonic s) */
    char *body;        /* other bodies (JSON, error pages), capped */
    size_t body_len, body_limit;
    int body_too_big;
    char errbuf[CURL_ERROR_SIZE];
} request;

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;

static void global_init(void)
{
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static sbt_status ensure_curl(sbt_hub *hub)
{
    pthread_once(&global_once, global_init);
    if (global_rc != CURLE_OK)
        return sbti_fail(SBT_E_NETWORK, "libcurl failed to start: %s", curl_easy_strerror(global_rc));
    if (!hub->curl && !(hub->curl = curl_easy_init()))
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "libcurl could not make a handle");
    return SBT_OK;
}

void sbti_hub_transfer_free(sbt_hub *hub)
{
    if (hub->curl)
        curl_easy_cleanup(hub->curl);
    hub->curl = NULL;
}

/* Scheme, host and port (the default one if absent) of a and b are equal. */
static int same_origin(const char *a, const char *b)
{
    static const CURLUPart parts[] = {CURLUPART_SCHEME, CURLUPART_HOST, CURLUPART_PORT};
    CURLU *ua = curl_url(), *ub = curl_url();
    int same = ua && ub && !curl_url_set(ua, CURLUPART_URL, a, 0) &&
               !curl_url_set(ub, CURLUPART_URL, b, 0);
    for (size_t k = 0; same && k < sizeof parts / sizeof *parts; k++) {
        char *pa = NULL, *pb = NULL;
        same = !curl_url_get(ua, parts[k], &pa, CURLU_DEFAULT_PORT) &&
               !curl_url_get(ub, parts[k], &pb, CURLU_DEFAULT_PORT) && !strcasecmp(pa, pb);
        curl_free(pa);
        curl_free(pb);
    }
    curl_url_cleanup(ua);
    curl_url_cleanup(ub);
    return same;
}

/* A header of the last answer, or NULL. */
static const char *header(const request *r, const char *name)
{
    struct curl_header *h;
    if (curl_easy_header(r->hub->curl, name, 0, CURLH_HEADER, -1, &h) != CURLHE_OK)
        return NULL;
    return h->value;
}

/* Keeps a body in memory: past body_limit a JSON answer fails, an error page is cut short.
 * Returns 0 to abort the transfer. */
static int keep_body(request *r, const char *data, size_t len, int fail_if_big)
{
    if (r->body_len + len > r->body_limit) {
        if (fail_if_big) {
            r->body_too_big = 1;
            return 0;
        }
        len = r->body_limit - r->body_len;
    }
    if (!len)
        return 1;
    char *p = realloc(r->body, r->body_len + len + 1);
    if (!p)
        return 0;
    memcpy(p + r->body_len, data, len);
    r->body = p;
    r->body_len += len;
    p[r->body_len] = '\0';
    return 1;
}

static size_t on_data(char *data, size_t size, size_t n, void *user)
{
    request *r = user;
    size_t len = size * n;
    long code = 0;
    curl_easy_getinfo(r->hub->curl, CURLINFO_RESPONSE_CODE, &code);
    if (!r->fp || (code != 200 && code != 206))
        return keep_body(r, data, len, !r->fp && code / 100 == 2) ? len : 0;
    if (!r->started) {
        r->started = 1;
        const char *range = header(r, "Content-Range");
        long long from = -1;
        if (code == 206 && !(range && sscanf(range, "bytes %lld-", &from) == 1 && from == r->offset)) {
            r->bad_range = 1;
            return 0;
        }
        if (code == 200 && r->offset > 0) {
            if (ftruncate(fileno(r->fp), 0) != 0) {
                r->write_errno = errno;
                return 0;
            }
            r->restarted = 1;
        }
    }
    if (fwrite(data, 1, len, r->fp) != len) {
        r->write_errno = errno ? errno : EIO;
        return 0;
    }
    return len;
}

static int report(request *r, int64_t now)
{
    int64_t base = r->restarted ? 0 : r->offset;
    int64_t total = r->total >= 0 ? r->total : 0;
    if (r->hub->progress(r->ref->file, base + now, total, r->hub->progress_user_data)) {
        r->cancelled = 1;
        return 1;
    }
    return 0;
}

/* libcurl calls this at least once a second: stall detection, progress and cancel. */
static int on_progress(void *user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dltotal, (void)ultotal, (void)ulnow;
    request *r = user;
    double t = sbti_now();
    if ((int64_t)dlnow != r->last_now || r->last_time == 0) {
        r->last_now = (int64_t)dlnow;
        r->last_time = t;
    } else if (t - r->last_time > r->hub->stall_timeout_s) {
        r->stalled = 1;
        return 1;
    }
    return r->fp && r->hub->progress ? report(r, (int64_t)dlnow) : 0;
}

/* One request, no redirect followed, no retry. */
static CURLcode perform(request *r)
{
    sbt_hub *hub = r->hub;
    CURL *c = hub->curl;
    curl_easy_reset(c);
    r->body_len = 0;
    r->started = r->restarted = r->bad_range = r->write_errno = r->body_too_big = r->stalled = 0;
    r->last_now = 0;
    r->last_time = 0;
    r->errbuf[0] = '\0';
    struct curl_slist *headers = NULL;
    char *auth = NULL;
    if (hub->token && same_origin(r->url, hub->endpoint)) {
        auth = sbti_hub_fmt("Authorization: Bearer %s", hub->token);
        if (!auth || !(headers = curl_slist_append(NULL, auth))) {
            free(auth);
            return CURLE_OUT_OF_MEMORY;
        }
    }
    char agent[64], range[32];
    snprintf(agent, sizeof agent, "libselfbt/%s", sbt_version_string());
    curl_easy_setopt(c, CURLOPT_URL, r->url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)hub->connect_timeout_s);
    curl_easy_setopt(c, CURLOPT_USERAGENT, agent);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    if (headers)
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    if (r->head)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    if (!r->fp && !r->head)
        curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, ""); /* JSON may come compressed */
    if (r->fp && r->offset > 0) {
        snprintf(range, sizeof range, "%lld-", (long long)r->offset);
        curl_easy_setopt(c, CURLOPT_RANGE, range);
    }
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, r);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_ABORTED_BY_CALLBACK && r->stalled)
        rc = CURLE_OPERATION_TIMEDOUT;
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(headers);
    if (auth) {
        for (volatile char *p = auth; *p; p++)
            *p = 0;
        free(auth);
    }
    if (r->fp && fflush(r->fp) != 0 && !r->write_errno)
        r->write_errno = errno ? errno : EIO;
    return rc;
}

static int transient_status(long code)
{
    return code == 408 || code == 429 || (code >= 500 && code <= 599);
}

static int transient_curl(CURLcode rc)
{
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
        return 1;
    default:
        return 0;
    }
}

void sbti_hub_transport_message(char *buf, size_t cap, int curl_code, const char *url, int tries)
{
    switch ((CURLcode)curl_code) {
    case CURLE_COULDNT_RESOLVE_HOST:
        snprintf(buf, cap, "cannot resolve the host of %s (DNS failure): check the network and "
                 "HF_ENDPOINT, or set HF_HUB_OFFLINE=1 to use only the cache", url);
        break;
    case CURLE_COULDNT_RESOLVE_PROXY:
        snprintf(buf, cap, "cannot resolve the proxy host for %s (DNS failure): check "
                 "https_proxy / http_proxy", url);
        break;
    case CURLE_COULDNT_CONNECT:
        snprintf(buf, cap, "cannot connect to %s (gave up after %d tries): check the network and "
                 "HF_ENDPOINT, or set HF_HUB_OFFLINE=1 to use only the cache", url, tries);
        break;
    case CURLE_OPERATION_TIMEDOUT:
        snprintf(buf, cap, "timed out on %s (gave up after %d tries): no connection, or nothing "
                 "received for too long", url, tries);
        break;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
        snprintf(buf, cap, "the TLS certificate of %s could not be verified", url);
        break;
    default:
        if (transient_curl((CURLcode)curl_code))
            snprintf(buf, cap, "the connection to %s broke (gave up after %d tries)", url, tries);
        else
            snprintf(buf, cap, "the transfer of %s failed", url);
    }
}

/* The message of an HTTP failure, naming the URL and what was asked for. */
static sbt_status http_error(request *r, long code, int tries)
{
    const sbti_hub_ref *ref = r->ref;
    const char *kind = sbti_hub_kind(ref->type);
    const char *ec = header(r, "X-Error-Code");
    const char *code_name = ec ? ec : "";
    const char *url = r->url;
    if (!same_origin(url, r->hub->endpoint) && code < 500 && code != 429)
        return sbti_fail(SBT_E_NETWORK, "HTTP %ld for %s (where the Hub sent the download of %s)",
                         code, url, ref->file ? ref->file : ref->id);
    if (code == 401 || code == 403) {
        if (!strcmp(code_name, "GatedRepo"))
            return sbti_fail(SBT_E_NETWORK, "%s repo %s is gated (HTTP %ld for %s): accept its "
                             "conditions on its Hub page, then set HF_TOKEN to a token of that "
                             "account%s", kind, ref->id, code, url,
                             r->hub->token ? " (the token sent was not accepted for it)" : "");
        if (r->hub->token)
            return sbti_fail(SBT_E_NETWORK, "access denied (HTTP %ld for %s): the token in HF_TOKEN "
                             "was refused or cannot read %s repo %s (a private repo, or a gated "
                             "one whose conditions were not accepted)", code, url, kind, ref->id);
        return sbti_fail(SBT_E_NETWORK, "authentication needed (HTTP %ld for %s): %s repo %s does "
                         "not exist, or is private or gated; set HF_TOKEN to a token that can "
                         "read it", code, url, kind, ref->id);
    }
    if (code == 404) {
        if (!strcmp(code_name, "RevisionNotFound"))
            return sbti_fail(SBT_E_NOT_FOUND, "revision '%s' not found in %s repo %s (HTTP 404 for "
                             "%s)", ref->revision, kind, ref->id, url);
        if (!strcmp(code_name, "EntryNotFound"))
            return sbti_fail(SBT_E_NOT_FOUND, "file '%s' not found in %s repo %s at revision '%s' "
                             "(HTTP 404 for %s)", ref->file ? ref->file : "", kind, ref->id,
                             ref->revision, url);
        if (!strcmp(code_name, "RepoNotFound"))
            return sbti_fail(SBT_E_NOT_FOUND, "%s repo %s not found (HTTP 404 for %s): check the "
                             "name (is it a %s?), or set HF_TOKEN if it is private", kind, ref->id,
                             url, ref->type == SBT_HUB_DATASET ? "model" : "dataset");
        return sbti_fail(SBT_E_NOT_FOUND, "not found (HTTP 404 for %s): %s repo %s, its revision "
                         "'%s'%s%s does not exist", url, kind, ref->id, ref->revision,
                         ref->file ? " or the file " : "", ref->file ? ref->file : "");
    }
    if (code == 429)
        return sbti_fail(SBT_E_NETWORK, "rate limited (HTTP 429) on %s; gave up after %d tries",
                         url, tries);
    if (code >= 500)
        return sbti_fail(SBT_E_NETWORK, "server error (HTTP %ld) on %s; gave up after %d tries",
                         code, url, tries);
    const char *msg = header(r, "X-Error-Message");
    return sbti_fail(SBT_E_NETWORK, "HTTP %ld for %s%s%.200s", code, url, msg ? ": " : "",
                     msg ? msg : "");
}

/* Sleeps before retry number attempt + 1 (cancellable through the progress callback). */
static int backoff(request *r, int attempt, const char *why, int64_t retry_after_ms)
{
    int64_t ms = r->hub->retry_delay_ms;
    for (int k = 0; k < attempt && ms < MAX_DELAY_MS; k++)
        ms *= 2;
    if (ms > MAX_DELAY_MS)
        ms = MAX_DELAY_MS;
    if (retry_after_ms > ms)
        ms = retry_after_ms < MAX_RETRY_AFTER_MS ? retry_after_ms : MAX_RETRY_AFTER_MS;
    sbti_log(SBT_LOG_WARN, "hub: %s; retry %d of %d in %.1f s", why, attempt + 1,
             r->hub->max_retries, (double)ms / 1000.0);
    while (ms > 0) {
        int64_t step = ms < 100 ? ms : 100;
        struct timespec ts = {0, (long)step * 1000000L};
        nanosleep(&ts, NULL);
        ms -= step;
        if (r->fp && r->hub->progress && report(r, 0))
            return 1;
    }
    return 0;
}

/* Brings r->offset to the size of the partial file; 1 if it is already complete. */
static int resume_point(request *r)
{
    struct stat sb;
    r->offset = fstat(fileno(r->fp), &sb) == 0 ? (int64_t)sb.st_size : 0;
    if (r->total >= 0 && r->offset > r->total) {
        if (ftruncate(fileno(r->fp), 0) == 0)
            r->offset = 0;
    }
    return r->total >= 0 && r->offset == r->total;
}

/* Runs r to a 2xx answer, following redirects and retrying transient failures. With
 * foreign != NULL, a redirect off the endpoint's origin is not followed but given back. */
static sbt_status fetch(request *r, char **foreign)
{
    sbt_hub *hub = r->hub;
    for (int attempt = 0, redirects = 0;;) {
        if (r->fp && resume_point(r))
            return SBT_OK;
        CURLcode rc = perform(r);
        char why[CURL_ERROR_SIZE + 512];
        int64_t retry_after_ms = 0;
        int restart = r->bad_range; /* the partial file is of no use: start over */
        if (rc == CURLE_OK) {
            long code = 0;
            char *loc = NULL;
            curl_easy_getinfo(hub->curl, CURLINFO_RESPONSE_CODE, &code);
            curl_easy_getinfo(hub->curl, CURLINFO_REDIRECT_URL, &loc);
            if (code >= 300 && code < 400 && loc) {
                if (++redirects > MAX_REDIRECTS)
                    return sbti_fail(SBT_E_NETWORK, "more than %d redirects from %s", MAX_REDIRECTS,
                                     r->url);
                char *next = strdup(loc);
                if (!next)
                    return sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory");
                if (foreign && !same_origin(next, hub->endpoint)) {
                    *foreign = next;
                    return SBT_OK;
                }
                free(r->url);
                r->url = next;
                continue;
            }
            if (code >= 200 && code < 300)
                return SBT_OK;
            restart = r->fp && code == 416;
            int again = transient_status(code) || restart;
            if (!again || attempt >= hub->max_retries) {
                hub->unreachable = transient_status(code);
                return http_error(r, code, attempt + 1);
            }
            const char *ra = header(r, "Retry-After");
            if (ra && *ra >= '0' && *ra <= '9')
                retry_after_ms = 1000 * (int64_t)strtol(ra, NULL, 10);
            snprintf(why, sizeof why, "HTTP %ld from %s", code, r->url);
        } else {
            if (rc == CURLE_ABORTED_BY_CALLBACK && r->cancelled)
                return sbti_fail(SBT_E_CANCELLED, "the download of %s was cancelled", r->url);
            if (r->write_errno)
                return sbti_fail(SBT_E_IO, "cannot write %s: %s", r->path, strerror(r->write_errno));
            if (r->body_too_big)
                return sbti_fail(SBT_E_NETWORK, "the answer of %s is larger than %d MiB", r->url,
                                 MAX_JSON_BODY >> 20);
            char stall[64];
            snprintf(stall, sizeof stall, "nothing received for %d s", hub->stall_timeout_s);
            const char *detail = r->stalled ? stall : r->errbuf[0] ? r->errbuf : curl_easy_strerror(rc);
            if (!r->bad_range && (!transient_curl(rc) || attempt >= hub->max_retries)) {
                hub->unreachable = transient_curl(rc) || rc == CURLE_COULDNT_RESOLVE_HOST;
                sbti_hub_transport_message(why, sizeof why, rc, r->url, attempt + 1);
                return sbti_fail(SBT_E_NETWORK, "%s: %s", why, detail);
            }
            if (r->bad_range && attempt >= hub->max_retries)
                return sbti_fail(SBT_E_NETWORK, "%s answered a range request with other bytes",
                                 r->url);
            snprintf(why, sizeof why, "%s: %s", r->url, r->bad_range ? "bad range answer" : detail);
        }
        if (restart && ftruncate(fileno(r->fp), 0) != 0)
            return sbti_fail(SBT_E_IO, "cannot write %s: %s", r->path, strerror(errno));
        if (backoff(r, attempt, why, retry_after_ms))
            return sbti_fail(SBT_E_CANCELLED, "the download of %s was cancelled", r->url);
        attempt++;
    }
}

static sbt_status start(request *r, sbt_hub *hub, const char *url, const sbti_hub_ref *ref,
                        size_t body_limit)
{
    memset(r, 0, sizeof *r);
    hub->unreachable = 0;
    r->hub = hub;
    r->ref = ref;
    r->total = -1;
    r->body_limit = body_limit;
    sbt_status st = ensure_curl(hub);
    if (st == SBT_OK && !(r->url = strdup(url)))
        st = sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory");
    return st;
}

static void finish(request *r)
{
    free(r->url);
    free(r->body);
}

/* "W/\"abc\"" -> "abc"; checked to be a safe file name. */
static int clean_etag(char *out, size_t cap, const char *etag)
{
    if (!strncmp(etag, "W/", 2))
        etag += 2;
    size_t n = strlen(etag);
    if (n >= 2 && etag[0] == '"' && etag[n - 1] == '"') {
        etag++;
        n -= 2;
    }
    if (n == 0 || n >= cap)
        return 0;
    for (size_t k = 0; k < n; k++) {
        char c = etag[k];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              c == '-' || c == '_' || (c == '.' && k > 0)))
            return 0;
    }
    memcpy(out, etag, n);
    out[n] = '\0';
    return 1;
}

sbt_status sbti_hub_head(sbti_hub_meta *meta, sbt_hub *hub, const char *url, const sbti_hub_ref *ref)
{
    memset(meta, 0, sizeof *meta);
    meta->size = -1;
    request r;
    sbt_status st = start(&r, hub, url, ref, MAX_ERROR_BODY);
    r.head = 1;
    char *foreign = NULL;
    if (st == SBT_OK)
        st = fetch(&r, &foreign);
    if (st == SBT_OK) {
        const char *commit = header(&r, "X-Repo-Commit");
        const char *etag = header(&r, "X-Linked-Etag");
        const char *size = header(&r, "X-Linked-Size");
        if (!etag)
            etag = header(&r, "ETag");
        if (!size && !foreign)
            size = header(&r, "Content-Length");
        if (!commit || !sbti_hub_is_commit(commit))
            st = sbti_fail(SBT_E_NETWORK, "%s answered without a commit hash (X-Repo-Commit): is "
                           "%s a Hugging Face Hub?", r.url, hub->endpoint);
        else if (!etag || !clean_etag(meta->etag, sizeof meta->etag, etag))
            st = sbti_fail(SBT_E_NETWORK, "%s answered without a usable ETag: is %s a Hugging "
                           "Face Hub?", r.url, hub->endpoint);
        else {
            memcpy(meta->commit, commit, SBT_HUB_COMMIT_SIZE);
            meta->size = size && *size >= '0' && *size <= '9' ? strtoll(size, NULL, 10) : -1;
            meta->location = foreign;
            foreign = NULL;
        }
    }
    free(foreign);
    finish(&r);
    return st;
}

sbt_status sbti_hub_get_json(json_t **out, sbt_hub *hub, const char *url, const sbti_hub_ref *ref)
{
    *out = NULL;
    request r;
    sbt_status st = start(&r, hub, url, ref, MAX_JSON_BODY);
    if (st == SBT_OK)
        st = fetch(&r, NULL);
    if (st == SBT_OK) {
        json_error_t err;
        *out = json_loadb(r.body ? r.body : "", r.body_len, 0, &err);
        if (!*out)
            st = sbti_fail(SBT_E_PARSE, "the answer of %s is not JSON: %s (line %d)", r.url,
                           err.text, err.line);
    }
    finish(&r);
    return st;
}

sbt_status sbti_hub_get_file(sbt_hub *hub, const char *url, const char *path, int64_t size,
                             const sbti_hub_ref *ref)
{
    request r;
    sbt_status st = start(&r, hub, url, ref, MAX_ERROR_BODY);
    if (st == SBT_OK && !(r.fp = fopen(path, "ab")))
        st = sbti_fail(SBT_E_IO, "cannot open %s: %s", path, strerror(errno));
    if (st == SBT_OK) {
        r.path = path;
        r.total = size;
        st = fetch(&r, NULL);
        if (st == SBT_OK && fsync(fileno(r.fp)) != 0)
            st = sbti_fail(SBT_E_IO, "cannot write %s: %s", path, strerror(errno));
        if (fclose(r.fp) != 0 && st == SBT_OK)
            st = sbti_fail(SBT_E_IO, "cannot write %s: %s", path, strerror(errno));
    }
    finish(&r);
    return st;
}

sbt_status sbti_hub_sha256_file(char hex[65], const char *path)
{
    enum { CHUNK = 1 << 20 };
    FILE *f = fopen(path, "rb");
    if (!f)
        return sbti_fail(SBT_E_IO, "cannot open %s: %s", path, strerror(errno));
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char *buf = malloc(CHUNK), md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    int ok = ctx && buf && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1;
    size_t n;
    while (ok && (n = fread(buf, 1, CHUNK, f)) > 0)
        ok = EVP_DigestUpdate(ctx, buf, n) == 1;
    int read_failed = ferror(f);
    ok = ok && !read_failed && EVP_DigestFinal_ex(ctx, md, &md_len) == 1 && md_len == 32;
    fclose(f);
    free(buf);
    EVP_MD_CTX_free(ctx);
    if (read_failed)
        return sbti_fail(SBT_E_IO, "cannot read %s", path);
    if (!ok)
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "cannot compute the sha256 of %s", path);
    for (unsigned k = 0; k < 32; k++)
        snprintf(hex + 2 * k, 3, "%02x", md[k]);
    return SBT_OK;
}

#else /* built without libcurl */

static sbt_status no_curl(const char *url)
{
    return sbti_fail(SBT_E_UNSUPPORTED, "cannot fetch %s: libselfbt was built without libcurl "
                     "(SELFBT_CURL=OFF); only files already in the cache can be used", url);
}

sbt_status sbti_hub_head(sbti_hub_meta *meta, sbt_hub *hub, const char *url, const sbti_hub_ref *ref)
{
    (void)hub, (void)ref;
    memset(meta, 0, sizeof *meta);
    return no_curl(url);
}

sbt_status sbti_hub_get_json(json_t **out, sbt_hub *hub, const char *url, const sbti_hub_ref *ref)
{
    (void)hub, (void)ref;
    *out = NULL;
    return no_curl(url);
}

sbt_status sbti_hub_get_file(sbt_hub *hub, const char *url, const char *path, int64_t size,
                             const sbti_hub_ref *ref)
{
    (void)hub, (void)path, (void)size, (void)ref;
    return no_curl(url);
}

sbt_status sbti_hub_sha256_file(char hex[65], const char *path)
{
    hex[0] = '\0';
    return sbti_fail(SBT_E_UNSUPPORTED, "cannot check %s: built without libcurl/OpenSSL", path);
}

void sbti_hub_transport_message(char *buf, size_t cap, int curl_code, const char *url, int tries)
{
    (void)curl_code, (void)tries;
    snprintf(buf, cap, "cannot fetch %s: built without libcurl", url);
}

void sbti_hub_transfer_free(sbt_hub *hub)
{
    (void)hub;
}

#endif
