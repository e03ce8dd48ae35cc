/* hub.h — models and datasets from a Hugging Face-compatible Hub, kept in the huggingface_hub
 * cache so that Python programs and libselfbt share one copy.
 *
 * A sbt_hub handle holds the endpoint (HF_ENDPOINT), the token (HF_TOKEN), the cache folder
 * (HF_HUB_CACHE, HF_HOME) and the offline switch (HF_HUB_OFFLINE); downloads go through
 * libcurl, resume after a broken connection, retry transient failures with back-off, and are
 * checked (size, and sha256 for LFS files) before they take their final name. The token is
 * sent only to the endpoint's own host, never to a redirect target elsewhere, and never
 * appears in a message. See docs/hub.md.
 *
 * Strings returned through char ** are the caller's: free them with sbt_hub_path_free or
 * sbt_hub_files_free. A handle is used by one thread at a time; separate handles may be used
 * at once. Built without libcurl (SELFBT_CURL=OFF), only files already in the cache are
 * found; anything that needs the network fails with SBT_E_UNSUPPORTED. */
#ifndef SELFBT_HUB_H
#define SELFBT_HUB_H

#include <stddef.h>
#include <stdint.h>

#include "selfbt/export.h"
#include "selfbt/progress.h"
#include "selfbt/status.h"

SBT_BEGIN_DECLS

typedef struct sbt_hub sbt_hub;

typedef enum sbt_hub_repo_type {
    SBT_HUB_MODEL = 0,  /* {endpoint}/{id}/...,          cache folder models--org--name   */
    SBT_HUB_DATASET = 1 /* {endpoint}/datasets/{id}/..., cache folder datasets--org--name */
} sbt_hub_repo_type;

/* sbt_hub_options.offline: take the setting from HF_HUB_OFFLINE (1/ON/YES/TRUE = offline). */
#define SBT_HUB_OFFLINE_FROM_ENV (-1)
/* Room for a commit hash as the Hub writes it (40 hex digits) and its NUL. */
#define SBT_HUB_COMMIT_SIZE 41

typedef struct sbt_hub_options {
    size_t size;               /* = sizeof(sbt_hub_options); set by _options_init                */
    const char *endpoint;      /* NULL: $HF_ENDPOINT, else "https://huggingface.co"              */
    const char *token;         /* NULL: $HF_TOKEN, else the file $HF_TOKEN_PATH or $HF_HOME/token;
                                  "" sends none                                                  */
    const char *cache_dir;     /* NULL: $HF_HUB_CACHE, $HF_HOME/hub, $XDG_CACHE_HOME/huggingface/hub
                                  or ~/.cache/huggingface/hub                                    */
    int32_t offline;           /* SBT_HUB_OFFLINE_FROM_ENV; 0 = online; 1 = the cache only       */
    int32_t max_retries;       /* 4: retries of a transient failure (connection lost or refused,
                                  timeout, HTTP 429 or 5xx); 0 tries once                        */
    int32_t retry_delay_ms;    /* 1000: the first back-off delay, doubled each retry (at most
                                  30 s; a Retry-After header may ask for longer, up to 60 s)    */
    int32_t connect_timeout_s; /* 10: give up a connection attempt after this long               */
    int32_t stall_timeout_s;   /* 30: give up a transfer that receives nothing for this long     */
    sbt_progress_fn progress;  /* NULL, or called during downloads with what = the file name and
                                  bytes done / total; non-zero cancels (SBT_E_CANCELLED)         */
    void *progress_user_data;
} sbt_hub_options;

/* Fills *opts with the defaults above and sets opts->size. */
SBT_API void sbt_hub_options_init(sbt_hub_options *opts);

/* Makes a handle; opts may be NULL for the defaults. The strings are copied and the
 * environment is read here, once. Fails with SBT_E_INVALID_ARGUMENT for a malformed endpoint
 * or when no cache folder can be found (no HOME and no HF_HUB_CACHE / HF_HOME). */
SBT_API sbt_status sbt_hub_create(sbt_hub **out, const sbt_hub_options *opts);
/* NULL-safe. */
SBT_API void sbt_hub_free(sbt_hub *hub);

/* The cache folder in use (the huggingface_hub "hub" folder); never NULL for a valid handle. */
SBT_API const char *sbt_hub_cache_dir(const sbt_hub *hub);

/* The files of a repo at revision (NULL = "main"), as a NULL-terminated array of paths
 * relative to the repo root (free it with sbt_hub_files_free). out_commit, when not NULL,
 * receives the commit the revision points to (SBT_HUB_COMMIT_SIZE bytes). Online this asks
 * {endpoint}/api/{models|datasets}/{id}/revision/{revision} and records the commit under
 * refs/; offline it lists what the cache holds for that revision. */
SBT_API sbt_status sbt_hub_list_files(char ***out_files, char *out_commit, sbt_hub *hub,
                                      const char *repo_id, sbt_hub_repo_type type,
                                      const char *revision);
/* NULL-safe. */
SBT_API void sbt_hub_files_free(char **files);

/* Downloads one file of a repo at revision (NULL = "main") into the cache, unless the cache
 * already has it, and gives the path of its snapshot entry
 * ({cache}/{models|datasets}--org--name/snapshots/{commit}/{file}, a symlink into blobs/).
 * Online it asks the Hub which commit the revision is at (so a moved branch is followed);
 * when the Hub cannot be reached but the cache has the file, that copy is used (a warning is
 * logged). Offline it uses the cache only: a missing file is SBT_E_NOT_FOUND naming it.
 * HTTP 404 is SBT_E_NOT_FOUND; 401/403, other HTTP failures, DNS failures, timeouts and a
 * failed check of the content are SBT_E_NETWORK; the message names the URL (never the token). */
SBT_API sbt_status sbt_hub_download(char **out_path, sbt_hub *hub, const char *repo_id,
                                    sbt_hub_repo_type type, const char *revision,
                                    const char *filename);

/* The one call the CLIs use to turn a user's "model"/"data" argument into a local path.
 * name_or_path is either a path that exists (a folder or a file) or a Hub repo id "org/name",
 * optionally with a revision "org/name@rev".
 *   - A folder: filename NULL gives the folder, else folder/filename (which must exist).
 *   - A file: filename must be NULL; gives the file.
 *   - A repo id: offline-first: if the cache has filename at that revision it is used
 *     without asking the network; else it is downloaded (sbt_hub_download). With filename
 *     NULL every file of the repo is fetched and the snapshot folder is given.
 * The result is freed with sbt_hub_path_free. */
SBT_API sbt_status sbt_hub_resolve_path(char **out_path, sbt_hub *hub, const char *name_or_path,
                                        sbt_hub_repo_type type, const char *filename);

/* Finds and fetches the train and validation files of a dataset (a local folder or a dataset
 * repo id, "org/name[@rev]"), as the `datasets` library names splits: the .json/.jsonl file
 * whose path has the word train/training is the train file; validation/valid/val/dev (else
 * test/testing/eval/evaluation) the validation file. *out_val is NULL when there is none. A
 * repo with only Parquet files is SBT_E_UNSUPPORTED (docs/hub.md gives the one-line
 * conversion); several files for one split is SBT_E_UNSUPPORTED; no train file is
 * SBT_E_NOT_FOUND. Free both paths with sbt_hub_path_free. */
SBT_API sbt_status sbt_hub_dataset_files(char **out_train, char **out_val, sbt_hub *hub,
                                         const char *name_or_path);

/* Frees a path returned by this API. NULL-safe. */
SBT_API void sbt_hub_path_free(char *path);

SBT_END_DECLS

#endif /* SELFBT_HUB_H */
