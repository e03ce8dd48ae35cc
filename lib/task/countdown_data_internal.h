/* countdown_data_internal.h — internal: the generated dataset and the option helpers. */
#ifndef SBTI_TASK_COUNTDOWN_DATA_INTERNAL_H
#define SBTI_TASK_COUNTDOWN_DATA_INTERNAL_H

#include "task/countdown_internal.h"

/* One split's rows. Row r's search_path is text + offset[r], NUL-terminated. */
typedef struct sbti_cd_split {
    int64_t n;
    sbt_countdown_problem *problem; /* (n) */
    uint8_t *kind;                  /* (n) sbt_countdown_row_kind */
    size_t *offset;                 /* (n) into the data's text arena */
} sbti_cd_split;

struct sbt_countdown_data {
    sbt_countdown_options opts;
    sbti_cd_split split[SBT_COUNTDOWN_N_SPLITS];
    char *text; /* every search_path, each NUL-terminated */
    size_t text_len, text_cap;
    sbt_countdown_summary summary;
};

/* Copies the caller's options over the defaults (honouring its size) and validates them;
 * the error names the offending field. */
sbt_status sbti_cd_options_copy(sbt_countdown_options *dst, const sbt_countdown_options *src);

/* Fills pool with min_target..max_target shuffled as Stream-of-Search does; returns how many
 * of its first entries are held out. pool holds max_target - min_target + 1 entries. */
size_t sbti_cd_split_targets(const sbt_countdown_options *o, int32_t *pool);

#endif /* SBTI_TASK_COUNTDOWN_DATA_INTERNAL_H */
