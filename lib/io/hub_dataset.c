/* hub_dataset.c — the train and validation files of a dataset (a local folder or a dataset
 * repo), found by their names as the `datasets` library finds splits, JSON/JSONL only. */
#include "io/hub.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/log.h"

#define PARQUET_HINT                                                                       \
    "python -c \"import pandas as pd; pd.read_parquet('x.parquet').to_json('x.jsonl', "   \
    "orient='records', lines=True)\""

enum split { SPLIT_NONE, SPLIT_TRAIN, SPLIT_VAL, SPLIT_TEST, N_SPLITS };
enum format { FORMAT_OTHER, FORMAT_JSON, FORMAT_PARQUET };

static const char *const split_words[N_SPLITS][4] = {
    [SPLIT_TRAIN] = {"train", "training"},
    [SPLIT_VAL] = {"validation", "valid", "val", "dev"},
    [SPLIT_TEST] = {"test", "testing", "eval", "evaluation"},
};
static const char *const split_names[N_SPLITS] = {"", "train", "validation", "test"};

static int ends_with(const char *s, const char *end)
{
    size_t n = strlen(s), m = strlen(end);
    return n >= m && !strcmp(s + n - m, end);
}

static enum format format_of(const char *name)
{
    if (ends_with(name, ".jsonl") || ends_with(name, ".json"))
        return FORMAT_JSON;
    return ends_with(name, ".parquet") ? FORMAT_PARQUET : FORMAT_OTHER;
}

/* The split whose words (runs of letters in the path, any case) the name holds, if exactly
 * one split's: "train_backtrack.json" is train, "data/val-00000.jsonl" validation. */
static enum split split_of(const char *name)
{
    int seen[N_SPLITS] = {0};
    for (const char *p = name; *p;) {
        if (!isalpha((unsigned char)*p)) {
            p++;
            continue;
        }
        char word[16];
        size_t n = 0;
        for (; isalpha((unsigned char)*p); p++)
            if (n < sizeof word - 1)
                word[n++] = (char)tolower((unsigned char)*p);
        word[n] = '\0';
        for (int s = SPLIT_TRAIN; s < N_SPLITS; s++)
            for (int k = 0; k < 4 && split_words[s][k]; k++)
                seen[s] |= !strcmp(word, split_words[s][k]);
    }
    int which = SPLIT_NONE, count = 0;
    for (int s = SPLIT_TRAIN; s < N_SPLITS; s++)
        if (seen[s]) {
            which = s;
            count++;
        }
    return count == 1 ? (enum split)which : SPLIT_NONE;
}

/* Picks the train file and the validation (else test) file of files, or says why not. */
static sbt_status pick(const char **train, const char **val, char **files, const char *where)
{
    size_t n_json[N_SPLITS] = {0}, n_parquet[N_SPLITS] = {0}, n_files = 0;
    const char *first[N_SPLITS] = {0};
    for (char **f = files; *f; f++, n_files++) {
        enum split s = split_of(*f);
        enum format fmt = format_of(*f);
        if (fmt == FORMAT_PARQUET)
            n_parquet[s]++;
        if (fmt == FORMAT_JSON && s != SPLIT_NONE && !n_json[s]++)
            first[s] = *f;
    }
    size_t any_parquet = 0;
    for (int s = 0; s < N_SPLITS; s++)
        any_parquet += n_parquet[s];
    enum split v = n_json[SPLIT_VAL] || n_parquet[SPLIT_VAL] ? SPLIT_VAL : SPLIT_TEST;
    if ((!n_json[SPLIT_TRAIN] && any_parquet) || (!n_json[v] && n_parquet[v]))
        return sbti_fail(SBT_E_UNSUPPORTED, "%s holds its %s data only as Parquet, which libselfbt "
                         "does not read; convert each file to JSONL, e.g. with %s (see docs/hub.md)",
                         where, split_names[n_json[SPLIT_TRAIN] ? v : SPLIT_TRAIN], PARQUET_HINT);
    if (!n_json[SPLIT_TRAIN])
        return sbti_fail(SBT_E_NOT_FOUND, "%s has no train file: none of its %zu files is a "
                         ".json/.jsonl file with 'train' in its name", where, n_files);
    const enum split used[2] = {SPLIT_TRAIN, v};
    for (int k = 0; k < 2; k++)
        if (n_json[used[k]] > 1)
            return sbti_fail(SBT_E_UNSUPPORTED, "%s has %zu %s files (e.g. %s): a dataset split "
                             "over several files is not supported; name a folder with one file "
                             "per split", where, n_json[used[k]], split_names[used[k]],
                             first[used[k]]);
    *train = first[SPLIT_TRAIN];
    *val = first[v];
    return SBT_OK;
}

/* Local folder: both paths joined to it. */
static sbt_status from_folder(char **out_train, char **out_val, const char *dir)
{
    char **files = NULL;
    const char *train = NULL, *val = NULL;
    sbt_status st = sbti_hub_list_dir(&files, dir);
    if (st == SBT_OK)
        st = pick(&train, &val, files, dir);
    if (st == SBT_OK) {
        *out_train = sbti_hub_fmt("%s/%s", dir, train);
        *out_val = val ? sbti_hub_fmt("%s/%s", dir, val) : NULL;
        if (!*out_train || (val && !*out_val))
            st = sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory");
    }
    sbt_hub_files_free(files);
    return st;
}

/* The file of a dataset repo at commit: cached, else downloaded. */
static sbt_status fetch(char **out, sbt_hub *hub, const char *id, const char *commit,
                        const char *file)
{
    sbti_hub_ref ref = {id, SBT_HUB_DATASET, commit, file};
    sbt_status st = sbti_hub_cached_file(out, hub, &ref);
    return st == SBT_E_NOT_FOUND ? sbti_hub_download(out, hub, &ref) : st;
}

static sbt_status from_repo(char **out_train, char **out_val, sbt_hub *hub, const char *name)
{
    char *id, *rev, **files = NULL, commit[SBT_HUB_COMMIT_SIZE];
    sbt_status st = sbti_hub_parse_name(&id, &rev, name);
    if (st != SBT_OK)
        return st;
    sbti_hub_ref ref = {id, SBT_HUB_DATASET, rev, NULL};
    if (sbti_hub_check_ref(&ref) != SBT_OK)
        st = sbti_fail(SBT_E_NOT_FOUND, "%s is neither a folder nor a dataset repo id "
                       "(org/name[@revision])", name);
    if (st == SBT_OK)
        st = sbti_hub_list(&files, commit, hub, &ref);
    if (st == SBT_E_NETWORK && hub->unreachable) {
        char why[1024];
        snprintf(why, sizeof why, "%s", sbt_last_error());
        if (sbti_hub_cached_list(&files, commit, hub, &ref) == SBT_OK) {
            sbti_log(SBT_LOG_WARN, "hub: %s; using the cached files of %s", why, name);
            st = SBT_OK;
        } else {
            sbti_fail(st, "%s", why);
        }
    }
    const char *train = NULL, *val = NULL;
    if (st == SBT_OK)
        st = pick(&train, &val, files, name);
    if (st == SBT_OK)
        st = fetch(out_train, hub, id, commit, train);
    if (st == SBT_OK && val)
        st = fetch(out_val, hub, id, commit, val);
    sbt_hub_files_free(files);
    free(id);
    free(rev);
    return st;
}

sbt_status sbt_hub_dataset_files(char **out_train, char **out_val, sbt_hub *hub,
                                 const char *name_or_path)
{
    if (out_train)
        *out_train = NULL;
    if (out_val)
        *out_val = NULL;
    if (!out_train || !out_val || !hub || !name_or_path || !*name_or_path)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_hub_dataset_files: a NULL or empty argument");
    struct stat sb;
    sbt_status st;
    if (stat(name_or_path, &sb) == 0)
        st = S_ISDIR(sb.st_mode) ? from_folder(out_train, out_val, name_or_path)
                                 : sbti_fail(SBT_E_INVALID_ARGUMENT, "%s is a file: a dataset is a "
                                             "folder or a dataset repo id", name_or_path);
    else
        st = from_repo(out_train, out_val, hub, name_or_path);
    if (st != SBT_OK) {
        free(*out_train);
        free(*out_val);
        *out_train = *out_val = NULL;
    }
    return st;
}
