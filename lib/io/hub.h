/* hub.h — internal: the sbt_hub handle and the pieces its files share (names and paths,
 * the cache layout, HTTP transfers). */
#ifndef SBTI_IO_HUB_H
#define SBTI_IO_HUB_H

#include <stdint.h>

#include <jansson.h>

#include "core/error.h"
#include "selfbt/hub.h"

struct sbt_hub {
    char *endpoint;  /* scheme://host[:port][/path], no trailing '/' */
    char *token;     /* NULL: none. Only ever put in an Authorization header. */
    char *cache_dir;
    int offline;
    int max_retries, retry_delay_ms, connect_timeout_s, stall_timeout_s;
    sbt_progress_fn progress;
    void *progress_user_data;
    void *curl;      /* the CURL easy handle (connections are reused), made on first use */
    int unreachable; /* the last request failed as if the Hub could not be reached (DNS,
                        connection, timeout, HTTP 429/5xx): a cached copy may stand in */
};

/* What a request is about, for the messages of its failures. */
typedef struct sbti_hub_ref {
    const char *id;          /* "org/name" */
    sbt_hub_repo_type type;
    const char *revision;    /* never NULL */
    const char *file;        /* NULL for the API */
} sbti_hub_ref;

/* ---- hub.c: names, paths, strings -------------------------------------------------- */

/* malloc'd printf; NULL when out of memory. */
char *sbti_hub_fmt(const char *fmt, ...) SBTI_PRINTF(1, 2);
/* s percent-encoded for a URL (unreserved characters kept, and '/' if keep_slash); malloc'd. */
char *sbti_hub_escape(const char *s, int keep_slash);
/* Splits "org/name[@rev]" into malloc'd *id and *revision ("main" when absent). */
sbt_status sbti_hub_parse_name(char **id, char **revision, const char *name);
/* Checks a repo id, a revision and (if not NULL) a file path; the error names the bad one. */
sbt_status sbti_hub_check_ref(const sbti_hub_ref *ref);
/* "model" or "dataset". */
const char *sbti_hub_kind(sbt_hub_repo_type type);
/* A NULL-terminated array of n copies of the first n strings of names (sorted if asked). */
sbt_status sbti_hub_strings(char ***out, char **names, size_t n, int sort);

/* ---- hub_cache.c: the huggingface_hub cache layout --------------------------------- */

/* s is 40 lowercase hex digits (a commit hash). */
int sbti_hub_is_commit(const char *s);
/* {cache}/{models|datasets}--org--name */
char *sbti_hub_repo_dir(const sbt_hub *hub, const sbti_hub_ref *ref);
/* The commit of ref->revision known to the cache (the revision itself if it is a commit with
 * a snapshot folder, else refs/{revision}); SBT_E_NOT_FOUND (no message) if none. */
sbt_status sbti_hub_cached_commit(char commit[SBT_HUB_COMMIT_SIZE], const char *repo_dir,
                                  const char *revision);
/* snapshots/{commit}/{file} of the cached revision if it exists; else SBT_E_NOT_FOUND with a
 * message naming the file, the repo and the cache. */
sbt_status sbti_hub_cached_file(char **out, const sbt_hub *hub, const sbti_hub_ref *ref);
/* The files under dir (recursively, following symlinks, not into hidden folders), sorted. */
sbt_status sbti_hub_list_dir(char ***out, const char *dir);
/* The files of the cached snapshot of ref->revision, relative and sorted. */
sbt_status sbti_hub_cached_list(char ***out, char commit[SBT_HUB_COMMIT_SIZE], const sbt_hub *hub,
                                const sbti_hub_ref *ref);
/* Writes refs/{revision} = commit (atomically), unless revision is that commit. */
sbt_status sbti_hub_write_ref(const char *repo_dir, const char *revision, const char *commit);
/* Points snapshots/{commit}/{file} at blobs/{etag} with a relative symlink (replacing any
 * older entry) and gives its path. */
sbt_status sbti_hub_link(char **out, const char *repo_dir, const char *commit, const char *file,
                         const char *etag);
/* mkdir -p of the folder that holds path. */
sbt_status sbti_hub_mkdirs_for(const char *path);

/* ---- hub_transfer.c: HTTP over libcurl --------------------------------------------- */

/* What a Hub answers about a file (HEAD of its resolve URL). */
typedef struct sbti_hub_meta {
    char commit[SBT_HUB_COMMIT_SIZE];       /* X-Repo-Commit: 40 hex digits (checked)          */
    char etag[129];                        /* X-Linked-Etag or ETag, without W/ and quotes    */
    int64_t size;                          /* X-Linked-Size or Content-Length; -1 if unknown   */
    char *location;                        /* a redirect off the Hub (a CDN), or NULL: the
                                              content is on the Hub itself                  */
} sbti_hub_meta;

/* HEAD url: follows redirects on the endpoint's own origin, stops at one to elsewhere and
 * keeps it as meta->location (free it). */
sbt_status sbti_hub_head(sbti_hub_meta *meta, sbt_hub *hub, const char *url, const sbti_hub_ref *ref);
/* GET url as JSON. */
sbt_status sbti_hub_get_json(json_t **out, sbt_hub *hub, const char *url, const sbti_hub_ref *ref);
/* GET url into path (the .incomplete file), resuming from its current size with a Range
 * request, until it holds size bytes (size >= 0) or the server says it is complete. */
sbt_status sbti_hub_get_file(sbt_hub *hub, const char *url, const char *path, int64_t size,
                             const sbti_hub_ref *ref);
/* The sha256 of a file as 64 lowercase hex digits. */
sbt_status sbti_hub_sha256_file(char hex[65], const char *path);
/* The message for a libcurl error code on url after tries attempts (used by the tests too). */
void sbti_hub_transport_message(char *buf, size_t cap, int curl_code, const char *url, int tries);
void sbti_hub_transfer_free(sbt_hub *hub);

/* ---- hub_download.c ---------------------------------------------------------------- */

/* sbt_hub_download for a checked ref. */
sbt_status sbti_hub_download(char **out, sbt_hub *hub, const sbti_hub_ref *ref);
/* sbt_hub_list_files for a checked ref; commit may be NULL. */
sbt_status sbti_hub_list(char ***out, char *commit, sbt_hub *hub, const sbti_hub_ref *ref);

#endif /* SBTI_IO_HUB_H */
