/* countdown_data.c — generation of the Countdown dataset (SPEC §2): train rows (D_op and
 * D_back on the same problems), val ("Seen Targets") and val_new ("New Targets").
 *
 * Every problem i of a split draws from its own random stream (seed, split, i), and every
 * D_back row r from (seed, back, r), so the output is the same for any number of threads.
 * Work runs in chunks: problems of a chunk are made in parallel into fixed-size slots, then
 * their texts are appended to one arena in row order; progress and cancel are checked
 * between chunks, on the calling thread. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/error.h"
#include "core/hashset.h"
#include "core/log.h"
#include "task/countdown_data_internal.h"

enum { STREAM_TRAIN = 1, STREAM_VAL = 2, STREAM_VAL_NEW = 3, STREAM_BACK = 4 };
enum { CHUNK = 8192 };
/* Draws of numbers for one target before giving up: a target no draw can reach (say 1000
 * from numbers up to 2) must fail with a message, not loop forever. */
enum { MAX_DRAWS = 200000 };

typedef struct gen {
    sbt_countdown_data *d;
    const sbt_countdown_options *o;
    int n_steps;          /* n_nums - 1 */
    int n_threads;
    size_t slot;          /* bytes of one row's text slot */
    int32_t *pool;        /* shuffled targets: [0, n_held) held out, [n_held, n_pool) train */
    size_t n_held, n_pool;
    sbti_cd_step *y;      /* (train_problems, n_steps) optimal steps of train problem i */
    uint8_t *explore;     /* (train_problems) bit h: an exploration error exists with heuristic h */
    int64_t *row_start;   /* (train_problems + 1) first train row of problem i */
    int64_t n_back;
    uint8_t *back_kind;   /* (n_back) kind of D_back row r (problem r % train_problems) */
    sbti_set train_solutions; /* train problem ids, keyed by their solution text */
    /* Chunk scratch and the first failure inside a parallel loop. */
    char *slots;
    int64_t rejected;     /* unsolvable draws */
    int64_t redraws;      /* val draws rejected for repeating a train solution */
    int failed;
    int32_t failed_target;
} gen;

/* ---- drawing problems ------------------------------------------------------------- */

/* SoS: target = random.choice(pool), then numbers until the solver finds a solution.
 * Returns the number of rejected draws, or -1 if the target was never reached. */
static int64_t draw_problem(const gen *g, sbti_rng *rng, const int32_t *targets, size_t n_targets,
                            sbt_countdown_problem *p, sbti_cd_step *y)
{
    memset(p, 0, sizeof *p);
    p->n_nums = g->o->n_nums;
    p->target = targets[sbti_rng_below(rng, (uint32_t)n_targets)];
    for (int64_t draws = 0; draws < MAX_DRAWS; draws++) {
        sbti_cd_state s;
        s.n = p->n_nums;
        for (int k = 0; k < p->n_nums; k++)
            s.v[k] = p->nums[k] = sbti_rng_range(rng, 1, g->o->max_num);
        if (sbti_cd_search(&s, p->target, y))
            return draws;
    }
    return -1;
}

static void record_failure(gen *g, int32_t target)
{
#ifdef _OPENMP
#pragma omp critical
#endif
    if (!g->failed) {
        g->failed = 1;
        g->failed_target = target;
    }
}

static void add_count(int64_t *counter, int64_t v)
{
#ifdef _OPENMP
#pragma omp atomic
#endif
    *counter += v;
}

/* ---- chunked parallel loops ------------------------------------------------------- */

typedef int (*item_fn)(gen *g, int64_t item, int64_t chunk_row0);
typedef sbt_status (*chunk_fn)(gen *g, sbti_cd_split *split, int64_t row0, int64_t row1);

/* Calls item(g, i, first row of the chunk) for every i in [0, n) in parallel, chunk by
 * chunk; after each chunk calls after(g, split, first row, end row) on this thread and
 * reports progress. Item i owns rows row_start[i] .. row_start[i+1]-1, or just row i when
 * row_start is NULL. */
static sbt_status run_chunks(gen *g, const char *what, int64_t n, int64_t chunk, item_fn item,
                             chunk_fn after, sbti_cd_split *split, const int64_t *row_start)
{
    for (int64_t c0 = 0; c0 < n; c0 += chunk) {
        int64_t c1 = c0 + chunk < n ? c0 + chunk : n;
        int64_t row0 = row_start ? row_start[c0] : c0;
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 64) num_threads(g->n_threads)
#endif
        for (int64_t i = c0; i < c1; i++)
            if (!g->failed && item(g, i, row0) != 0)
                record_failure(g, 0);
        if (g->failed)
            return g->failed_target
                       ? sbti_fail(SBT_E_INVALID_ARGUMENT,
                                   "countdown: no solvable numbers for target %d after %d draws "
                                   "(check n_nums, max_num and the target range)",
                                   (int)g->failed_target, MAX_DRAWS)
                       : sbti_fail(SBT_E_INTERNAL, "countdown: could not build a %s row",
                                   what ? what : "train");
        if (after) {
            int64_t row1 = row_start ? row_start[c1] : c1;
            sbt_status st = after(g, split, row0, row1);
            if (st != SBT_OK)
                return st;
        }
        if (g->o->progress && what && g->o->progress(what, c1, n, g->o->progress_user_data))
            return sbti_fail(SBT_E_CANCELLED, "countdown: cancelled while making %s", what);
    }
    return SBT_OK;
}

/* Appends the texts of rows [row0, row1) from the chunk slots to the arena. */
static sbt_status append_rows(gen *g, sbti_cd_split *split, int64_t row0, int64_t row1)
{
    sbt_countdown_data *d = g->d;
    for (int64_t r = row0; r < row1; r++) {
        const char *s = g->slots + (size_t)(r - row0) * g->slot;
        size_t len = strlen(s) + 1;
        if (d->text_len + len > d->text_cap) {
            size_t cap = d->text_cap ? d->text_cap * 2 : (size_t)1 << 20;
            while (cap < d->text_len + len)
                cap *= 2;
            char *t = realloc(d->text, cap);
            if (!t)
                return sbti_fail(SBT_E_OUT_OF_MEMORY, "countdown: out of memory for %zu bytes of text",
                                 cap);
            d->text = t;
            d->text_cap = cap;
        }
        memcpy(d->text + d->text_len, s, len);
        split->offset[r] = d->text_len;
        d->text_len += len;
    }
    return SBT_OK;
}

static sbt_status alloc_split(sbti_cd_split *s, int64_t n)
{
    s->n = n;
    size_t m = n > 0 ? (size_t)n : 1;
    s->problem = calloc(m, sizeof *s->problem);
    s->kind = calloc(m, sizeof *s->kind);
    s->offset = calloc(m, sizeof *s->offset);
    if (!s->problem || !s->kind || !s->offset)
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "countdown: out of memory for %lld rows", (long long)n);
    return SBT_OK;
}

/* ---- train: problems, D_back kinds, rows -------------------------------------------- */

static int make_train_problem(gen *g, int64_t i, int64_t row0)
{
    (void)row0;
    sbti_rng rng;
    sbti_rng_init(&rng, g->o->seed, STREAM_TRAIN, (uint64_t)i);
    sbt_countdown_problem p;
    sbti_cd_step *y = g->y + i * g->n_steps;
    int64_t rejected = draw_problem(g, &rng, g->pool + g->n_held, g->n_pool - g->n_held, &p, y);
    if (rejected < 0) {
        record_failure(g, p.target);
        return 0;
    }
    add_count(&g->rejected, rejected);
    /* Stored in the problem's D_op row; its other rows copy it when rows are laid out. */
    g->d->split[SBT_SPLIT_TRAIN].problem[g->row_start[i]] = p;
    uint8_t mask = 0;
    if (g->o->error_weights[0] > 0 && g->n_back > 0)
        for (int h = 0; h < 2; h++) {
            sbti_cd_step err;
            if (sbti_cd_exploration_error(&p, y, g->n_steps, (sbti_cd_heuristic)h, &err) >= 0)
                mask |= (uint8_t)(1u << h);
        }
    g->explore[i] = mask;
    return 0;
}

/* Which kind each D_back row gets. The wanted sequence is a smooth weighted round robin over
 * the error weights, so every prefix is in proportion (1:2:2 gives E C R C R ...). A row that
 * wants an exploration error on a problem that has none waits in a queue, and the next
 * computational/rule row whose problem has one trades kinds with it: the totals stay exact.
 * Rows still waiting at the end are the fallbacks (they keep a computational or rule kind). */
static sbt_status assign_back_kinds(gen *g)
{
    const int32_t *w = g->o->error_weights;
    int64_t cur[3] = {0, 0, 0}, wsum = w[0] + w[1] + w[2];
    int64_t *waiting = malloc((size_t)(g->n_back > 0 ? g->n_back : 1) * sizeof *waiting);
    if (!waiting)
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "countdown: out of memory for D_back kinds");
    int64_t head = 0, tail = 0, n_op = g->o->train_problems;
    for (int64_t r = 0; r < g->n_back; r++) {
        int want = 0;
        for (int k = 0; k < 3; k++) {
            cur[k] += w[k];
            if (cur[k] > cur[want])
                want = k;
        }
        cur[want] -= wsum;
        int can_explore = g->explore[r % n_op] != 0;
        if (want == 0 && !can_explore) {
            waiting[tail++] = r;
            g->back_kind[r] = (uint8_t)(SBT_ROW_BACK_COMPUTATIONAL + (w[1] < w[2] || (w[1] == w[2] && r % 2)));
            continue;
        }
        if (want != 0 && can_explore && head < tail) {
            g->back_kind[waiting[head++]] = (uint8_t)(SBT_ROW_BACK_EXPLORATION + want);
            want = 0;
        }
        g->back_kind[r] = (uint8_t)(SBT_ROW_BACK_EXPLORATION + want);
    }
    g->d->summary.exploration_fallbacks = tail - head;
    free(waiting);
    return SBT_OK;
}

static int make_train_rows(gen *g, int64_t i, int64_t row0)
{
    sbti_cd_split *sp = &g->d->split[SBT_SPLIT_TRAIN];
    const sbti_cd_step *y = g->y + i * g->n_steps;
    int64_t r = g->row_start[i];
    const sbt_countdown_problem *p = &sp->problem[r];
    char *slot = g->slots + (size_t)(r - row0) * g->slot;
    sbti_cd_format_optimal(y, g->n_steps, slot);
    sp->kind[r] = SBT_ROW_OPTIMAL;
    /* D_back rows of problem i are rows i, i + n_op, i + 2 n_op, ... of the D_back list. */
    int64_t n_op = g->o->train_problems;
    for (int64_t b = i; b < g->n_back; b += n_op) {
        r++;
        slot += g->slot;
        sbti_rng rng;
        sbti_rng_init(&rng, g->o->seed, STREAM_BACK, (uint64_t)b);
        sbt_countdown_row_kind kind = (sbt_countdown_row_kind)g->back_kind[b];
        sbti_cd_step err;
        int k = -1;
        if (kind == SBT_ROW_BACK_EXPLORATION) {
            int h = (int)sbti_rng_below(&rng, 2);
            if (!(g->explore[i] >> h & 1u))
                h = 1 - h;
            k = sbti_cd_exploration_error(p, y, g->n_steps, (sbti_cd_heuristic)h, &err);
        } else if (kind == SBT_ROW_BACK_COMPUTATIONAL) {
            sbti_cd_computational_error(p, y, g->n_steps, &rng, &k, &err);
        } else {
            sbti_cd_rule_error(p, y, g->n_steps, &rng, &k, &err);
        }
        if (k < 0)
            return -1;
        sbti_cd_format_back(y, k, &err, slot);
        sp->problem[r] = *p;
        sp->kind[r] = (uint8_t)kind;
    }
    return 0;
}

/* ---- val and val_new ---------------------------------------------------------------- */

typedef struct text_key {
    const char *s;
    size_t len;
} text_key;

/* Train problem `id`'s solution is its D_op row without the trailing "\nGoal Reached!". */
static int solution_eq(const void *key, int64_t id, const void *ctx)
{
    const gen *g = ctx;
    const text_key *k = key;
    const char *row = g->d->text + g->d->split[SBT_SPLIT_TRAIN].offset[g->row_start[id]];
    size_t len = strlen(row) - (sizeof SBTI_CD_GOAL);
    return len == k->len && memcmp(row, k->s, len) == 0;
}

static sbt_status index_train_solutions(gen *g)
{
    int64_t n = g->o->train_problems;
    sbt_status st = sbti_set_init(&g->train_solutions, (size_t)n);
    for (int64_t i = 0; i < n && st == SBT_OK; i++) {
        const char *row = g->d->text + g->d->split[SBT_SPLIT_TRAIN].offset[g->row_start[i]];
        text_key k = {row, strlen(row) - sizeof SBTI_CD_GOAL};
        uint64_t h = sbti_hash_bytes(k.s, k.len);
        if (sbti_set_find(&g->train_solutions, h, &k, solution_eq, g) < 0)
            st = sbti_set_add(&g->train_solutions, h, i);
    }
    return st;
}

static int make_test_row(gen *g, sbt_countdown_split which, int64_t j, int64_t row0)
{
    sbti_cd_split *sp = &g->d->split[which];
    sbti_rng rng;
    sbti_rng_init(&rng, g->o->seed, which == SBT_SPLIT_VAL ? STREAM_VAL : STREAM_VAL_NEW, (uint64_t)j);
    const int32_t *targets = which == SBT_SPLIT_VAL ? g->pool + g->n_held : g->pool;
    size_t n_targets = which == SBT_SPLIT_VAL ? g->n_pool - g->n_held : g->n_held;
    char *slot = g->slots + (size_t)(j - row0) * g->slot;
    sbti_cd_step y[SBT_COUNTDOWN_MAX_NUMS];
    for (;;) {
        int64_t rejected = draw_problem(g, &rng, targets, n_targets, &sp->problem[j], y);
        if (rejected < 0) {
            record_failure(g, sp->problem[j].target);
            return 0;
        }
        add_count(&g->rejected, rejected);
        size_t len = sbti_cd_format_optimal(y, g->n_steps, slot);
        if (which == SBT_SPLIT_VAL_NEW)
            break;
        /* SoS's weak de-duplication: redraw while the solution is a train solution. */
        text_key k = {slot, len - sizeof SBTI_CD_GOAL};
        if (sbti_set_find(&g->train_solutions, sbti_hash_bytes(k.s, k.len), &k, solution_eq, g) < 0)
            break;
        add_count(&g->redraws, 1);
    }
    sp->kind[j] = SBT_ROW_OPTIMAL;
    return 0;
}

static int make_val_row(gen *g, int64_t j, int64_t row0) { return make_test_row(g, SBT_SPLIT_VAL, j, row0); }

static int make_val_new_row(gen *g, int64_t j, int64_t row0)
{
    return make_test_row(g, SBT_SPLIT_VAL_NEW, j, row0);
}

/* ---- summary ------------------------------------------------------------------------ */

static int problem_eq(const void *key, int64_t id, const void *ctx)
{
    const sbt_countdown_problem *a = key, *b = (const sbt_countdown_problem *)ctx + id;
    return memcmp(a, b, sizeof *a) == 0;
}

/* Counts problems of `rows` (D_op rows only) equal to an earlier one; with `other`, also
 * counts how many occur in `other` (its D_op rows). */
static sbt_status count_duplicates(const sbti_cd_split *rows, const sbti_cd_split *other,
                                   int64_t *dups, int64_t *in_other)
{
    sbti_set seen, theirs = {0};
    sbt_status st = sbti_set_init(&seen, (size_t)rows->n);
    if (st == SBT_OK && other) {
        st = sbti_set_init(&theirs, (size_t)other->n);
        for (int64_t r = 0; r < other->n && st == SBT_OK; r++) {
            const sbt_countdown_problem *p = &other->problem[r];
            uint64_t h = sbti_hash_bytes(p, sizeof *p);
            if (other->kind[r] == SBT_ROW_OPTIMAL && sbti_set_find(&theirs, h, p, problem_eq, other->problem) < 0)
                st = sbti_set_add(&theirs, h, r);
        }
    }
    *dups = 0;
    if (in_other)
        *in_other = 0;
    for (int64_t r = 0; r < rows->n && st == SBT_OK; r++) {
        if (rows->kind[r] != SBT_ROW_OPTIMAL)
            continue;
        const sbt_countdown_problem *p = &rows->problem[r];
        uint64_t h = sbti_hash_bytes(p, sizeof *p);
        if (sbti_set_find(&seen, h, p, problem_eq, rows->problem) >= 0)
            (*dups)++;
        else
            st = sbti_set_add(&seen, h, r);
        if (other && sbti_set_find(&theirs, h, p, problem_eq, other->problem) >= 0)
            (*in_other)++;
    }
    sbti_set_free(&seen);
    if (other)
        sbti_set_free(&theirs);
    return st;
}

static sbt_status summarize(gen *g)
{
    sbt_countdown_data *d = g->d;
    sbt_countdown_summary *s = &d->summary;
    s->size = sizeof *s;
    for (int k = 0; k < SBT_COUNTDOWN_N_SPLITS; k++)
        s->rows[k] = d->split[k].n;
    for (int64_t r = 0; r < d->split[SBT_SPLIT_TRAIN].n; r++)
        s->train_rows_by_kind[d->split[SBT_SPLIT_TRAIN].kind[r]]++;
    s->val_redraws = g->redraws;
    s->unsolvable_draws = g->rejected;
    s->n_heldout = (int32_t)g->n_held;
    sbt_status st = count_duplicates(&d->split[SBT_SPLIT_TRAIN], NULL, &s->train_duplicate_problems, NULL);
    if (st == SBT_OK)
        st = count_duplicates(&d->split[SBT_SPLIT_VAL], &d->split[SBT_SPLIT_TRAIN],
                              &s->val_duplicate_problems, &s->val_in_train);
    if (st == SBT_OK)
        st = count_duplicates(&d->split[SBT_SPLIT_VAL_NEW], NULL, &s->val_new_duplicate_problems, NULL);
    return st;
}

/* ---- the whole generation ----------------------------------------------------------- */

static sbt_status generate_train(gen *g)
{
    const sbt_countdown_options *o = g->o;
    int64_t n_op = o->train_problems;
    g->n_back = n_op > 0 ? llround(o->back_per_op * (double)n_op) : 0;
    g->y = malloc((size_t)(n_op > 0 ? n_op : 1) * (size_t)g->n_steps * sizeof *g->y);
    g->explore = calloc((size_t)(n_op > 0 ? n_op : 1), 1);
    g->row_start = malloc((size_t)(n_op + 1) * sizeof *g->row_start);
    g->back_kind = malloc((size_t)(g->n_back > 0 ? g->n_back : 1));
    if (!g->y || !g->explore || !g->row_start || !g->back_kind)
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "countdown: out of memory for %lld train problems",
                         (long long)n_op);
    /* Problem i owns rows row_start[i] .. row_start[i+1]-1: its D_op row, then its D_back rows. */
    g->row_start[0] = 0;
    for (int64_t i = 0; i < n_op; i++)
        g->row_start[i + 1] = g->row_start[i] + 1 + (g->n_back > i ? (g->n_back - i - 1) / n_op + 1 : 0);
    sbt_status st = alloc_split(&g->d->split[SBT_SPLIT_TRAIN], g->row_start[n_op]);
    if (st == SBT_OK && n_op > 0 && g->n_pool == g->n_held)
        st = sbti_fail(SBT_E_INVALID_ARGUMENT, "countdown: every target is held out; no train targets");
    if (st == SBT_OK)
        st = run_chunks(g, "train", n_op, CHUNK, make_train_problem, NULL, NULL, NULL);
    if (st == SBT_OK)
        st = assign_back_kinds(g);
    if (st != SBT_OK)
        return st;
    /* Rows of one chunk must fit the slot scratch: fewer problems per chunk when each has
     * many D_back rows. */
    int64_t per_problem = 1 + (g->n_back + n_op - 1) / (n_op > 0 ? n_op : 1);
    int64_t chunk = CHUNK / per_problem > 16 ? CHUNK / per_problem : 16;
    return run_chunks(g, NULL, n_op, chunk, make_train_rows, append_rows,
                      &g->d->split[SBT_SPLIT_TRAIN], g->row_start);
}

static sbt_status generate_tests(gen *g)
{
    const sbt_countdown_options *o = g->o;
    if (o->val_problems > 0 && g->n_pool == g->n_held)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "countdown: every target is held out; no val targets");
    if (o->val_new_problems > 0 && g->n_held == 0)
        return sbti_fail(SBT_E_INVALID_ARGUMENT,
                         "countdown: no held-out targets (pool of %zu, heldout_divisor %d) for val_new",
                         g->n_pool, (int)o->heldout_divisor);
    sbt_status st = index_train_solutions(g);
    if (st == SBT_OK)
        st = alloc_split(&g->d->split[SBT_SPLIT_VAL], o->val_problems);
    if (st == SBT_OK)
        st = alloc_split(&g->d->split[SBT_SPLIT_VAL_NEW], o->val_new_problems);
    if (st == SBT_OK)
        st = run_chunks(g, "val", o->val_problems, CHUNK, make_val_row, append_rows,
                        &g->d->split[SBT_SPLIT_VAL], NULL);
    if (st == SBT_OK)
        st = run_chunks(g, "val_new", o->val_new_problems, CHUNK, make_val_new_row, append_rows,
                        &g->d->split[SBT_SPLIT_VAL_NEW], NULL);
    return st;
}

static void gen_free(gen *g)
{
    free(g->pool);
    free(g->y);
    free(g->explore);
    free(g->row_start);
    free(g->back_kind);
    free(g->slots);
    sbti_set_free(&g->train_solutions);
}

sbt_status sbt_countdown_generate(sbt_countdown_data **out, const sbt_countdown_options *opts)
{
    if (!out)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_countdown_generate: out is NULL");
    *out = NULL;
    sbt_countdown_data *d = calloc(1, sizeof *d);
    if (!d)
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "countdown: out of memory");
    gen g = {0};
    g.d = d;
    g.o = &d->opts;
    sbt_status st = sbti_cd_options_copy(&d->opts, opts);
    if (st == SBT_OK) {
        g.n_steps = g.o->n_nums - 1;
        g.slot = (size_t)g.o->n_nums * (SBTI_CD_STEP_MAX + 1) + 32;
#ifdef _OPENMP
        g.n_threads = g.o->n_threads > 0 ? g.o->n_threads : omp_get_max_threads();
#else
        g.n_threads = 1;
#endif
        g.n_pool = (size_t)(g.o->max_target - g.o->min_target + 1);
        g.pool = malloc(g.n_pool * sizeof *g.pool);
        g.slots = malloc((size_t)CHUNK * g.slot);
        if (!g.pool || !g.slots)
            st = sbti_fail(SBT_E_OUT_OF_MEMORY, "countdown: out of memory");
    }
    if (st == SBT_OK) {
        g.n_held = sbti_cd_split_targets(g.o, g.pool);
        sbti_log(SBT_LOG_INFO, "countdown: seed %llu, %zu held-out targets, %d threads",
                 (unsigned long long)g.o->seed, g.n_held, g.n_threads);
        st = generate_train(&g);
    }
    if (st == SBT_OK)
        st = generate_tests(&g);
    if (st == SBT_OK)
        st = summarize(&g);
    gen_free(&g);
    if (st != SBT_OK) {
        sbt_countdown_data_free(d);
        return st;
    }
    *out = d;
    return SBT_OK;
}

/* ---- accessors ---------------------------------------------------------------------- */

void sbt_countdown_data_free(sbt_countdown_data *d)
{
    if (!d)
        return;
    for (int k = 0; k < SBT_COUNTDOWN_N_SPLITS; k++) {
        free(d->split[k].problem);
        free(d->split[k].kind);
        free(d->split[k].offset);
    }
    free(d->text);
    free(d);
}

int64_t sbt_countdown_data_count(const sbt_countdown_data *d, sbt_countdown_split split)
{
    if (!d || (unsigned)split >= SBT_COUNTDOWN_N_SPLITS)
        return -1;
    return d->split[split].n;
}

sbt_status sbt_countdown_data_row(const sbt_countdown_data *d, sbt_countdown_split split, int64_t index,
                                  sbt_countdown_row *out)
{
    if (!d || !out)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_countdown_data_row: %s is NULL", !d ? "data" : "out");
    if (out->size < offsetof(sbt_countdown_row, search_path) + sizeof out->search_path)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_countdown_data_row: out->size is %zu, expected %zu",
                         out->size, sizeof *out);
    if ((unsigned)split >= SBT_COUNTDOWN_N_SPLITS)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_countdown_data_row: unknown split %d", (int)split);
    const sbti_cd_split *s = &d->split[split];
    if (index < 0 || index >= s->n)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_countdown_data_row: index %lld outside 0..%lld",
                         (long long)index, (long long)s->n - 1);
    out->problem = s->problem[index];
    out->kind = (sbt_countdown_row_kind)s->kind[index];
    out->search_path = d->text + s->offset[index];
    return SBT_OK;
}

sbt_status sbt_countdown_data_summary(const sbt_countdown_data *d, sbt_countdown_summary *out)
{
    if (!d || !out)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_countdown_data_summary: %s is NULL",
                         !d ? "data" : "out");
    size_t n = out->size < sizeof *out ? out->size : sizeof *out;
    if (n < sizeof(size_t))
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_countdown_data_summary: out->size is %zu", out->size);
    size_t caller_size = out->size;
    memcpy(out, &d->summary, n);
    out->size = caller_size;
    return SBT_OK;
}
