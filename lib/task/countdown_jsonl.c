/* countdown_jsonl.c — writes a split as JSONL rows {"nums":[..],"target":N,"search_path":".."}
 * (the columns of the seed's dataset), through jansson for correct string escaping, into a
 * temporary file that is renamed into place only when complete. */
#include <errno.h>
#include <jansson.h>
#include <string.h>

#include "core/error.h"
#include "io/atomic_file.h"
#include "task/countdown_data_internal.h"

static json_t *row_json(const sbt_countdown_problem *p, const char *search_path)
{
    json_t *nums = json_array();
    for (int k = 0; nums && k < p->n_nums; k++)
        if (json_array_append_new(nums, json_integer(p->nums[k])) != 0) {
            json_decref(nums);
            return NULL;
        }
    /* "o" steals nums (and frees it if the pack fails). */
    return json_pack("{s:o, s:i, s:s}", "nums", nums, "target", (int)p->target, "search_path",
                     search_path);
}

/* Writes every row of a split to an open file. */
static sbt_status write_rows(const sbt_countdown_data *d, sbt_countdown_split split,
                             sbti_atomic_file *f)
{
    const sbti_cd_split *s = &d->split[split];
    for (int64_t r = 0; r < s->n; r++) {
        json_t *row = row_json(&s->problem[r], d->text + s->offset[r]);
        int bad = !row || json_dumpf(row, f->fp, JSON_COMPACT) != 0 || fputc('\n', f->fp) == EOF;
        json_decref(row);
        if (bad)
            return row ? sbti_fail(SBT_E_IO, "cannot write %s: %s", f->path, strerror(errno))
                       : sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory writing %s", f->path);
    }
    return SBT_OK;
}

static sbt_status check_args(const sbt_countdown_data *d, const void *path, const char *fn,
                             const char *what)
{
    if (!d || !path)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "%s: %s is NULL", fn, !d ? "data" : what);
    return SBT_OK;
}

sbt_status sbt_countdown_data_write_jsonl(const sbt_countdown_data *d, sbt_countdown_split split,
                                          const char *path)
{
    sbt_status st = check_args(d, path, "sbt_countdown_data_write_jsonl", "path");
    if (st != SBT_OK)
        return st;
    if ((unsigned)split >= SBT_COUNTDOWN_N_SPLITS)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_countdown_data_write_jsonl: unknown split %d",
                         (int)split);
    sbti_atomic_file f;
    st = sbti_atomic_open(&f, path);
    if (st != SBT_OK)
        return st;
    st = write_rows(d, split, &f);
    if (st != SBT_OK) {
        sbti_atomic_abort(&f);
        return st;
    }
    return sbti_atomic_commit(&f);
}

static const char *const split_file[SBT_COUNTDOWN_N_SPLITS] = {"train.jsonl", "val.jsonl",
                                                               "val_new.jsonl"};

const char *sbt_countdown_split_file(sbt_countdown_split split)
{
    return (unsigned)split < SBT_COUNTDOWN_N_SPLITS ? split_file[split] : NULL;
}

sbt_status sbt_countdown_data_write(const sbt_countdown_data *d, const char *dir)
{
    sbt_status st = check_args(d, dir, "sbt_countdown_data_write", "dir");
    sbti_atomic_file f[SBT_COUNTDOWN_N_SPLITS];
    int n_open = 0;
    /* Write and close all three under temporary names; rename only when all are complete. */
    for (int k = 0; st == SBT_OK && k < SBT_COUNTDOWN_N_SPLITS; k++) {
        char path[4096];
        if (snprintf(path, sizeof path, "%s/%s", dir, split_file[k]) >= (int)sizeof path)
            return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_countdown_data_write: folder name too long");
        st = sbti_atomic_open(&f[k], path);
        if (st != SBT_OK)
            break;
        n_open++;
        st = write_rows(d, (sbt_countdown_split)k, &f[k]);
        if (st == SBT_OK)
            st = sbti_atomic_finish(&f[k]);
        else
            sbti_atomic_abort(&f[k]);
    }
    for (int k = 0; k < n_open; k++) {
        if (st == SBT_OK)
            st = sbti_atomic_rename(&f[k]);
        else
            sbti_atomic_abort(&f[k]);
    }
    return st;
}
