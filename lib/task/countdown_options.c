/* countdown_options.c — dataset options: defaults, validation, and the Stream-of-Search
 * target split (held-out "new" targets). */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/rng.h"
#include "task/countdown_data_internal.h"

void sbt_countdown_options_init(sbt_countdown_options *opts)
{
    if (!opts)
        return;
    memset(opts, 0, sizeof *opts);
    opts->size = sizeof *opts;
    opts->seed = 4;
    opts->n_nums = 4;
    opts->min_target = 10;
    opts->max_target = 100;
    opts->max_num = 99;
    opts->heldout_divisor = 10;
    opts->train_problems = 250000;
    opts->back_per_op = 1.0;
    opts->error_weights[0] = 1;
    opts->error_weights[1] = 2;
    opts->error_weights[2] = 2;
    opts->val_problems = 5000;
    opts->val_new_problems = 5000;
}

sbt_status sbti_cd_options_copy(sbt_countdown_options *dst, const sbt_countdown_options *src)
{
    sbt_countdown_options_init(dst);
    if (!src)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "countdown options are NULL");
    if (src->size < offsetof(sbt_countdown_options, progress_user_data) + sizeof(void *))
        return sbti_fail(SBT_E_INVALID_ARGUMENT,
                         "countdown options: size is %zu; call sbt_countdown_options_init first",
                         src->size);
    /* A newer caller's larger struct: take the fields we know. */
    memcpy(dst, src, src->size < sizeof *dst ? src->size : sizeof *dst);
    dst->size = sizeof *dst;

    const sbt_countdown_options *o = dst;
    if (o->n_nums < 2 || o->n_nums > SBT_COUNTDOWN_MAX_NUMS)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "countdown options: n_nums is %d, expected 2..%d",
                         (int)o->n_nums, SBT_COUNTDOWN_MAX_NUMS);
    if (o->min_target < 2 || o->max_target < o->min_target || o->max_target > 1000000)
        return sbti_fail(SBT_E_INVALID_ARGUMENT,
                         "countdown options: targets %d..%d, expected 2 <= min_target <= "
                         "max_target <= 1000000",
                         (int)o->min_target, (int)o->max_target);
    if (o->max_num < 1 || o->max_num > SBTI_CD_MAX_VALUE)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "countdown options: max_num is %d, expected 1..%d",
                         (int)o->max_num, SBTI_CD_MAX_VALUE);
    if (o->heldout_divisor < 1)
        return sbti_fail(SBT_E_INVALID_ARGUMENT,
                         "countdown options: heldout_divisor is %d, expected >= 1",
                         (int)o->heldout_divisor);
    if (o->train_problems < 0 || o->val_problems < 0 || o->val_new_problems < 0 ||
        o->train_problems > 100000000 || o->val_problems > 100000000 ||
        o->val_new_problems > 100000000)
        return sbti_fail(SBT_E_INVALID_ARGUMENT,
                         "countdown options: split sizes %lld/%lld/%lld, expected 0..100000000",
                         (long long)o->train_problems, (long long)o->val_problems,
                         (long long)o->val_new_problems);
    if (!(o->back_per_op >= 0.0 && o->back_per_op <= 100.0))
        return sbti_fail(SBT_E_INVALID_ARGUMENT,
                         "countdown options: back_per_op is %g, expected 0..100", o->back_per_op);
    int32_t wsum = 0;
    for (int k = 0; k < 3; k++) {
        if (o->error_weights[k] < 0 || o->error_weights[k] > 1000)
            return sbti_fail(SBT_E_INVALID_ARGUMENT,
                             "countdown options: error_weights[%d] is %d, expected 0..1000", k,
                             (int)o->error_weights[k]);
        wsum += o->error_weights[k];
    }
    if (wsum == 0 && o->back_per_op > 0 && o->train_problems > 0)
        return sbti_fail(SBT_E_INVALID_ARGUMENT,
                         "countdown options: error_weights are all 0 but D_back rows are asked for");
    if (o->n_threads < 0)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "countdown options: n_threads is %d, expected >= 0",
                         (int)o->n_threads);
    return SBT_OK;
}

size_t sbti_cd_split_targets(const sbt_countdown_options *o, int32_t *pool)
{
    size_t n = (size_t)(o->max_target - o->min_target + 1);
    for (size_t k = 0; k < n; k++)
        pool[k] = o->min_target + (int32_t)k;
    /* random.seed(seed); random.shuffle(pool); pool[:len(pool)//10] are held out. */
    sbti_mt mt;
    sbti_mt_seed(&mt, o->seed);
    sbti_mt_shuffle_i32(&mt, pool, n);
    return n / (size_t)o->heldout_divisor;
}

sbt_status sbt_countdown_heldout_targets(const sbt_countdown_options *opts, int32_t *out, size_t cap,
                                         size_t *n)
{
    if (!n || (cap > 0 && !out))
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_countdown_heldout_targets: %s is NULL",
                         !n ? "n" : "out");
    sbt_countdown_options o;
    sbt_status st = sbti_cd_options_copy(&o, opts);
    if (st != SBT_OK)
        return st;
    int32_t *pool = malloc((size_t)(o.max_target - o.min_target + 1) * sizeof *pool);
    if (!pool)
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory for the target pool");
    size_t n_held = sbti_cd_split_targets(&o, pool);
    if (n_held > 0 && cap > 0)
        memcpy(out, pool, (n_held < cap ? n_held : cap) * sizeof *out);
    free(pool);
    *n = n_held;
    return SBT_OK;
}
