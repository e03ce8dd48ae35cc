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

sbt_status sbt_countdown_data_write_jsonl(const sbt_countdown_data *d, sbt_countdown_split split,
                                          const char *path)
{
    if (!d || !path)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_countdown_data_write_jsonl: %s is NULL",
                         !d ? "data" : "path");
    if ((unsigned)split >= SBT_COUNTDOWN_N_SPLITS)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_countdown_data_write_jsonl: unknown split %d",
                         (int)split);
    sbti_atomic_file f;
    sbt_status st = sbti_atomic_open(&f, path);
    if (st != SBT_OK)
        return st;
    const sbti_cd_split *s = &d->split[split];
    for (int64_t r = 0; r < s->n; r++) {
        json_t *row = row_json(&s->problem[r], d->text + s->offset[r]);
        int bad = !row || json_dumpf(row, f.fp, JSON_COMPACT) != 0 || fputc('\n', f.fp) == EOF;
        json_decref(row);
        if (bad) {
            int e = errno;
            sbti_atomic_abort(&f);
            return row ? sbti_fail(SBT_E_IO, "cannot write %s: %s", path, strerror(e))
                       : sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory writing %s", path);
        }
    }
    return sbti_atomic_commit(&f);
}
