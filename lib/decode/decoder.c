/* decoder.c — sbt_decoder: the strategies and the Self-Backtracking search (SPEC §4) on top of
 * the batched engine (engine.c), and the results handle.
 *
 * Each prompt is a "problem". Plain strategies run one job on the prompt. The search runs
 * rounds: round 0 expands the prompt; each later round expands the states rolled back from the
 * previous round's beams that ended in the backtrack token (at most K per round, never a state
 * seen before); all jobs of a round run concurrently and their beams are then walked in the
 * seed's order (job by job, best beam first), so the result equals the seed's sequential loop.
 * Candidates are beams with the goal marker; they are scored, grouped by answer and the best
 * group wins; without any, the best beam of the last expansion is returned. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/error.h"
#include "decode/decoder_internal.h"
#include "decode/engine.h"
#include "decode/lm.h"

/* ---- options ------------------------------------------------------------------------- */

void sbt_search_hooks_init(sbt_search_hooks *hooks)
{
    if (!hooks)
        return;
    memset(hooks, 0, sizeof *hooks);
    hooks->size = sizeof *hooks;
    hooks->step_delimiter = "\n";
    hooks->backtrack_token = "<backtrack>";
    hooks->goal_marker = "Goal Reached!";
}

void sbt_decoder_options_init(sbt_decoder_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->size = sizeof *o;
    o->strategy = SBT_DECODE_SELF_BACKTRACK;
    o->n = 32;
    o->b = 1;
    o->width = SBT_WIDTH_SQRT_B;
    o->k = 1;
    o->expansion = SBT_DECODE_BEAM_SAMPLE;
    o->scoring = SBT_SCORE_REFERENCE;
    o->temperature = 0.7;
    o->top_p = 0.9;
    o->top_k = 50;
    o->seed = 4;
    o->batch = 16;
    o->page_size = 1; /* beams part at every token: pages of one position are never copied */
}

static const char *const strategy_names[] = {"greedy", "beam", "beam_sample", "sample",
                                             "self_backtrack"};

const char *sbt_decode_strategy_name(sbt_decode_strategy s)
{
    return (unsigned)s < 5 ? strategy_names[s] : "unknown";
}

sbt_status sbt_decode_strategy_parse(const char *text, sbt_decode_strategy *out)
{
    if (!text || !out)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_decode_strategy_parse: NULL argument");
    for (int i = 0; i < 5; i++)
        if (strcmp(text, strategy_names[i]) == 0) {
            *out = (sbt_decode_strategy)i;
            return SBT_OK;
        }
    if (strcmp(text, "sbt") == 0 || strcmp(text, "self-backtrack") == 0) {
        *out = SBT_DECODE_SELF_BACKTRACK;
        return SBT_OK;
    }
    if (strcmp(text, "beam-sample") == 0) {
        *out = SBT_DECODE_BEAM_SAMPLE;
        return SBT_OK;
    }
    return sbti_fail(SBT_E_INVALID_ARGUMENT,
                     "unknown decoder '%s' (greedy, beam, beam_sample, sample, self_backtrack)",
                     text);
}

/* ---- the decoder ----------------------------------------------------------------------- */

struct sbt_decoder {
    sbt_decoder_options o;
    sbt_search_hooks h;
    char *delim, *bt_text, *goal; /* copies of the hook strings */
    sbt_model *model;
    sbt_lm_callbacks cb;
    const sbt_tokenizer *tok;
    int32_t eos, bt_id;
    char *eos_text;
    int K; /* rolled-back states per round */
    int recompute;
    int lanes; /* 0: by the backend */
};

void sbti_decoder_set_recompute(sbt_decoder *dec, int on)
{
    if (dec)
        dec->recompute = on;
}

void sbti_decoder_set_lanes(sbt_decoder *dec, int lanes)
{
    if (dec)
        dec->lanes = lanes < 0 ? 0 : lanes > SBTI_LM_LANES ? SBTI_LM_LANES : lanes;
}

static char *dupstr(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

void sbt_decoder_free(sbt_decoder *d)
{
    if (!d)
        return;
    free(d->delim);
    free(d->bt_text);
    free(d->goal);
    free(d->eos_text);
    free(d);
}

static int isqrt(int v)
{
    int r = 0;
    while ((r + 1) * (r + 1) <= v)
        r++;
    return r;
}

static char *decode_alloc(const sbt_tokenizer *tok, const int32_t *ids, size_t n, unsigned flags,
                          size_t *len, sbt_status *st);

static sbt_status create_common(sbt_decoder **out, sbt_model *model, const sbt_lm_callbacks *cb,
                                const sbt_tokenizer *tok, const sbt_decoder_options *opts)
{
    *out = NULL;
    if (!tok)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_decoder_create: tok is NULL");
    sbt_decoder *d = calloc(1, sizeof *d);
    if (!d)
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "sbt_decoder_create: out of memory");
    sbt_decoder_options_init(&d->o);
    if (opts) {
        if (opts->size < offsetof(sbt_decoder_options, strategy) + sizeof opts->strategy ||
            opts->size > sizeof *opts) {
            free(d);
            return sbti_fail(SBT_E_INVALID_ARGUMENT,
                             "sbt_decoder_create: opts->size %zu (expected %zu; call "
                             "sbt_decoder_options_init)", opts->size, sizeof *opts);
        }
        memcpy(&d->o, opts, opts->size);
        d->o.size = sizeof d->o;
    }
    sbt_search_hooks_init(&d->h);
    if (d->o.hooks) {
        const sbt_search_hooks *h = d->o.hooks;
        if (h->size < sizeof(size_t) || h->size > sizeof *h) {
            free(d);
            return sbti_fail(SBT_E_INVALID_ARGUMENT,
                             "sbt_decoder_create: hooks->size %zu (call sbt_search_hooks_init)",
                             h->size);
        }
        sbt_search_hooks def = d->h;
        memcpy(&d->h, h, h->size);
        d->h.size = sizeof d->h;
        if (!d->h.step_delimiter)
            d->h.step_delimiter = def.step_delimiter;
        if (!d->h.backtrack_token)
            d->h.backtrack_token = def.backtrack_token;
        if (!d->h.goal_marker)
            d->h.goal_marker = def.goal_marker;
    }
    d->o.hooks = NULL;
    const sbt_decoder_options *o = &d->o;
    const char *bad = NULL;
    if ((unsigned)o->strategy > SBT_DECODE_SELF_BACKTRACK)
        bad = "strategy";
    else if (o->n < 1 || o->n > 4096)
        bad = "n (1..4096)";
    else if (o->b < 0 || o->b > 64)
        bad = "b (0..64)";
    else if ((unsigned)o->width > SBT_WIDTH_FIXED)
        bad = "width";
    else if (o->width == SBT_WIDTH_FIXED && (o->k < 0 || o->k > 4096))
        bad = "k (0..4096)";
    else if (o->expansion != SBT_DECODE_BEAM_SAMPLE && o->expansion != SBT_DECODE_SAMPLE &&
             o->expansion != SBT_DECODE_BEAM)
        bad = "expansion (beam_sample, sample or beam)";
    else if ((unsigned)o->scoring > SBT_SCORE_CLEAN)
        bad = "scoring";
    else if (!(o->temperature > 0) || !(o->temperature <= 100))
        bad = "temperature (> 0)";
    else if (!(o->top_p > 0) || !(o->top_p <= 1))
        bad = "top_p (0 < p <= 1)";
    else if (o->top_k < 0)
        bad = "top_k (>= 0)";
    else if (o->max_length < 0 || o->max_new_tokens < 0)
        bad = "max_length / max_new_tokens (>= 0)";
    else if (o->batch < 1 || o->batch > 65536)
        bad = "batch (1..65536)";
    else if (o->page_size < 1 || o->page_size > 4096)
        bad = "page_size (1..4096)";
    else if (o->kv_pages < 0)
        bad = "kv_pages (>= 0)";
    else if (!d->h.step_delimiter[0] || !d->h.backtrack_token[0] || !d->h.goal_marker[0])
        bad = "hooks (empty step_delimiter, backtrack_token or goal_marker)";
    if (bad) {
        free(d);
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_decoder_create: bad option %s", bad);
    }
    d->delim = dupstr(d->h.step_delimiter);
    d->bt_text = dupstr(d->h.backtrack_token);
    d->goal = dupstr(d->h.goal_marker);
    if (!d->delim || !d->bt_text || !d->goal) {
        sbt_decoder_free(d);
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "sbt_decoder_create: out of memory");
    }
    d->h.step_delimiter = d->delim;
    d->h.backtrack_token = d->bt_text;
    d->h.goal_marker = d->goal;
    d->tok = tok;
    d->model = model;
    if (cb)
        d->cb = *cb;
    d->eos = sbt_tokenizer_eos(tok);
    if (d->eos < 0) {
        sbt_decoder_free(d);
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_decoder_create: the tokenizer has no EOS");
    }
    int32_t V = cb ? cb->n_vocab : 0;
    if (model) {
        sbt_model_config c;
        sbt_model_get_config(model, &c);
        V = (int32_t)c.vocab_size;
    }
    if (d->eos >= V) {
        sbt_status e = sbti_fail(SBT_E_INVALID_ARGUMENT,
                                 "sbt_decoder_create: EOS id %d is outside the model's %d logits",
                                 d->eos, V);
        sbt_decoder_free(d);
        return e;
    }
    d->bt_id = sbt_tokenizer_token_id(tok, d->bt_text);
    if (o->strategy == SBT_DECODE_SELF_BACKTRACK && d->bt_id < 0) {
        sbt_status e = sbti_fail(SBT_E_NOT_FOUND,
                                 "sbt_decoder_create: the tokenizer has no token '%s' (the "
                                 "backtrack token of the search)", d->bt_text);
        sbt_decoder_free(d);
        return e;
    }
    sbt_status st;
    size_t el;
    d->eos_text = decode_alloc(tok, &d->eos, 1, 0, &el, &st);
    if (!d->eos_text) {
        sbt_decoder_free(d);
        return st;
    }
    d->K = o->width == SBT_WIDTH_SQRT_B ? isqrt(o->b)
           : o->width == SBT_WIDTH_SQRT_N ? isqrt(o->n)
                                          : o->k;
    *out = d;
    return SBT_OK;
}

sbt_status sbt_decoder_create(sbt_decoder **out, sbt_model *model, const sbt_tokenizer *tok,
                              const sbt_decoder_options *opts)
{
    if (!out)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_decoder_create: out is NULL");
    *out = NULL;
    if (!model)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_decoder_create: model is NULL");
    return create_common(out, model, NULL, tok, opts);
}

sbt_status sbt_decoder_create_custom(sbt_decoder **out, const sbt_lm_callbacks *lm,
                                     const sbt_tokenizer *tok, const sbt_decoder_options *opts)
{
    if (!out)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_decoder_create_custom: out is NULL");
    *out = NULL;
    if (!lm || lm->size < sizeof *lm || !lm->next_logits || lm->n_vocab < 1)
        return sbti_fail(SBT_E_INVALID_ARGUMENT,
                         "sbt_decoder_create_custom: lm must be set (size, n_vocab >= 1, "
                         "next_logits)");
    return create_common(out, NULL, lm, tok, opts);
}

/* ---- text helpers ------------------------------------------------------------------------ */

static char *decode_alloc(const sbt_tokenizer *tok, const int32_t *ids, size_t n, unsigned flags,
                          size_t *len, sbt_status *st)
{
    size_t cap = 256;
    for (;;) {
        char *buf = malloc(cap);
        if (!buf) {
            *st = sbti_fail(SBT_E_OUT_OF_MEMORY, "decoder: out of memory");
            return NULL;
        }
        size_t l = 0;
        *st = sbt_tokenizer_decode(tok, ids, n, flags, buf, cap, &l);
        if (*st == SBT_OK) {
            *len = l;
            return buf;
        }
        free(buf);
        if (l + 1 <= cap) /* a real error (an id the tokenizer does not know) */
            return NULL;
        cap = l + 1;
    }
}

static const char *memfind(const char *h, size_t hn, const char *nd, size_t nn)
{
    if (nn == 0 || hn < nn)
        return NULL;
    for (size_t i = 0; i + nn <= hn; i++)
        if (h[i] == nd[0] && memcmp(h + i, nd, nn) == 0)
            return h + i;
    return NULL;
}

/* Last occurrence of nd in h[0..hn), or -1. */
static long memrfind(const char *h, size_t hn, const char *nd, size_t nn)
{
    if (nn == 0 || hn < nn)
        return -1;
    for (size_t i = hn - nn + 1; i-- > 0;)
        if (h[i] == nd[0] && memcmp(h + i, nd, nn) == 0)
            return (long)i;
    return -1;
}

/* ---- results ------------------------------------------------------------------------------ */

typedef struct res_item {
    char *text;
    size_t text_len;
    int32_t *tokens;
    int32_t n_tokens, prompt_tokens, eos;
    double score;
    int32_t found, n_cand, n_unique, n_exp, n_bt, verdict;
    int64_t generated;
} res_item;

struct sbt_decode_results {
    int64_t n;
    res_item *items;
    sbt_decode_stats stats;
};

void sbt_decode_results_free(sbt_decode_results *r)
{
    if (!r)
        return;
    for (int64_t i = 0; i < r->n; i++) {
        free(r->items[i].text);
        free(r->items[i].tokens);
    }
    free(r->items);
    free(r);
}

int64_t sbt_decode_results_count(const sbt_decode_results *r)
{
    return r ? r->n : -1;
}

sbt_status sbt_decode_results_get(const sbt_decode_results *r, int64_t i, sbt_decode_result *out)
{
    if (!r || !out)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_decode_results_get: NULL argument");
    if (out->size < sizeof(size_t) || out->size > sizeof *out)
        return sbti_fail(SBT_E_INVALID_ARGUMENT,
                         "sbt_decode_results_get: out->size %zu (expected %zu)", out->size,
                         sizeof *out);
    if (i < 0 || i >= r->n)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_decode_results_get: index %lld of %lld",
                         (long long)i, (long long)r->n);
    const res_item *it = &r->items[i];
    sbt_decode_result full = {
        .size = out->size,
        .text = it->text,
        .text_len = it->text_len,
        .tokens = it->tokens,
        .n_tokens = it->n_tokens,
        .prompt_tokens = it->prompt_tokens,
        .ended_with_eos = it->eos,
        .score = it->score,
        .found = it->found,
        .n_candidates = it->n_cand,
        .n_unique = it->n_unique,
        .n_expansions = it->n_exp,
        .n_backtracks = it->n_bt,
        .generated_tokens = it->generated,
        .verdict = it->verdict,
    };
    memcpy(out, &full, out->size);
    return SBT_OK;
}

sbt_status sbt_decode_results_stats(const sbt_decode_results *r, sbt_decode_stats *out)
{
    if (!r || !out)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_decode_results_stats: NULL argument");
    if (out->size < sizeof(size_t) || out->size > sizeof *out)
        return sbti_fail(SBT_E_INVALID_ARGUMENT,
                         "sbt_decode_results_stats: out->size %zu (expected %zu)", out->size,
                         sizeof *out);
    size_t sz = out->size;
    sbt_decode_stats s = r->stats;
    s.size = sz;
    memcpy(out, &s, sz);
    return SBT_OK;
}

/* ---- problems ------------------------------------------------------------------------------ */

typedef struct cand {
    int32_t *tok;
    int n, eos;
    char *key; /* the answer: the response up to the goal marker */
    size_t key_len;
    double score;
} cand;

typedef struct problem {
    int64_t index;
    int p0; /* prompt tokens (BOS included) */
    int round;
    sbti_job **jobs;
    int n_jobs, n_done;
    int *states; /* slots of the states to expand next */
    int n_states;
    char **visited;
    size_t *visited_len;
    int n_visited, cap_visited;
    cand *cands;
    int n_cands, cap_cands;
    int32_t *fb_tok; /* fallback: the best beam of the last expansion */
    int fb_n, fb_eos;
    double fb_score;
    int n_exp, n_bt;
    int64_t generated;
    uint64_t serial;
    int finished;
    int lane;
} problem;

/* A batch of problems whose steps run together: the run keeps one or two in flight. */
typedef struct run_lane {
    problem **live; /* [cap] */
    int n_live, cap;
    sbti_job **active; /* the jobs of its problems that are not done */
    int n_active, cap_active;
} run_lane;

typedef struct run {
    sbt_decoder *d;
    sbti_engine e;
    sbti_lm *lm;
    int tot_limit, new_limit; /* 0 = none */
    int K;
    run_lane lanes[SBTI_LM_LANES];
    int n_lanes;
    const char *const *prompts;
    int64_t n, next, finished;
    sbt_decode_results *res;
} run;

static void problem_free(run *R, problem *P)
{
    if (!P)
        return;
    for (int i = 0; i < P->n_jobs; i++)
        sbti_job_free(&R->e, P->jobs[i]);
    for (int i = 0; i < P->n_states; i++)
        sbti_slot_release(&R->e, P->states[i]);
    for (int i = 0; i < P->n_visited; i++)
        free(P->visited[i]);
    for (int i = 0; i < P->n_cands; i++) {
        free(P->cands[i].tok);
        free(P->cands[i].key);
    }
    free(P->jobs);
    free(P->states);
    free(P->visited);
    free(P->visited_len);
    free(P->cands);
    free(P->fb_tok);
    free(P);
}

static int job_limit(const run *R, int start)
{
    int lim = R->tot_limit > 0 ? R->tot_limit : 1 << 30;
    if (R->new_limit > 0 && start + R->new_limit < lim)
        lim = start + R->new_limit;
    return lim;
}

static int is_search(const sbt_decoder *d)
{
    return d->o.strategy == SBT_DECODE_SELF_BACKTRACK;
}

/* Starts one job per state in P->states (which the jobs take over). */
static sbt_status launch(run *R, problem *P)
{
    const sbt_decoder *d = R->d;
    sbt_decode_strategy s = is_search(d) ? d->o.expansion : d->o.strategy;
    sbti_job_kind kind = (s == SBT_DECODE_BEAM || s == SBT_DECODE_BEAM_SAMPLE) ? SBTI_JOB_BEAM
                                                                              : SBTI_JOB_INDEP;
    int sample = s == SBT_DECODE_BEAM_SAMPLE || s == SBT_DECODE_SAMPLE;
    int n = s == SBT_DECODE_GREEDY ? 1 : d->o.n;
    int pad = is_search(d) && d->o.scoring == SBT_SCORE_REFERENCE;
    P->jobs = calloc((size_t)(P->n_states > 0 ? P->n_states : 1), sizeof *P->jobs);
    if (!P->jobs)
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "decoder: out of memory");
    P->n_jobs = P->n_done = 0;
    run_lane *ln = &R->lanes[P->lane];
    if (ln->n_active + P->n_states > ln->cap_active) {
        int cap = (ln->n_active + P->n_states) * 2;
        sbti_job **a = realloc(ln->active, sizeof *a * (size_t)cap);
        if (!a)
            return sbti_fail(SBT_E_OUT_OF_MEMORY, "decoder: out of memory");
        ln->active = a;
        ln->cap_active = cap;
    }
    for (int i = 0; i < P->n_states; i++) {
        int slot = P->states[i];
        sbti_job *j;
        sbt_status st = sbti_job_create(&j, &R->e, kind, sample, n, slot,
                                        job_limit(R, R->e.len[slot]), pad, d->o.seed,
                                        (uint64_t)P->index, P->serial++);
        if (st != SBT_OK)
            return st;
        P->states[i] = -1;
        j->owner = P;
        j->order = i;
        P->jobs[P->n_jobs++] = j;
        ln->active[ln->n_active++] = j;
        P->n_exp++;
        if (P->round > 0)
            P->n_bt++;
    }
    P->n_states = 0;
    return SBT_OK;
}

static int visited_has(const problem *P, const char *t, size_t n)
{
    for (int i = 0; i < P->n_visited; i++)
        if (P->visited_len[i] == n && memcmp(P->visited[i], t, n) == 0)
            return 1;
    return 0;
}

static sbt_status visited_add(problem *P, char *t, size_t n)
{
    if (P->n_visited == P->cap_visited) {
        int cap = P->cap_visited ? 2 * P->cap_visited : 8;
        char **v = realloc(P->visited, sizeof *v * (size_t)cap);
        if (v)
            P->visited = v;
        size_t *l = realloc(P->visited_len, sizeof *l * (size_t)cap);
        if (l)
            P->visited_len = l;
        if (!v || !l) {
            free(t);
            return sbti_fail(SBT_E_OUT_OF_MEMORY, "decoder: out of memory");
        }
        P->cap_visited = cap;
    }
    P->visited[P->n_visited] = t;
    P->visited_len[P->n_visited++] = n;
    return SBT_OK;
}

static sbt_status problem_start(run *R, problem **out, int64_t index, const char *prompt,
                                int lane)
{
    *out = NULL;
    sbt_decoder *d = R->d;
    problem *P = calloc(1, sizeof *P);
    if (!P)
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "decoder: out of memory");
    P->index = index;
    P->lane = lane;
    P->fb_score = NAN;
    sbt_status st = SBT_OK;
    size_t n = 0;
    int slot = sbti_slot_alloc(&R->e);
    if (slot < 0)
        st = sbti_fail(SBT_E_INTERNAL, "decoder: no free sequence slot");
    if (st == SBT_OK) {
        st = sbt_tokenizer_encode(d->tok, prompt, strlen(prompt), SBT_ENCODE_ADD_SPECIAL,
                                  sbti_slot_tokens(&R->e, slot), (size_t)R->e.max_len - 1, &n);
        if (st != SBT_OK)
            st = sbti_fail(SBT_E_INVALID_ARGUMENT,
                           "decoder: prompt %lld has %zu tokens; at most %d fit",
                           (long long)index, n, R->e.max_len - 1);
    }
    if (st == SBT_OK && n == 0)
        st = sbti_fail(SBT_E_INVALID_ARGUMENT, "decoder: prompt %lld is empty", (long long)index);
    if (st != SBT_OK) {
        sbti_slot_release(&R->e, slot);
        free(P);
        return st;
    }
    R->e.len[slot] = (int32_t)n;
    memset(sbti_slot_lps(&R->e, slot), 0, sizeof(float) * n);
    P->p0 = (int)n;
    P->states = malloc(sizeof *P->states * (size_t)(R->K > 1 ? R->K : 1));
    if (!P->states) {
        sbti_slot_release(&R->e, slot);
        free(P);
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "decoder: out of memory");
    }
    P->states[0] = slot;
    P->n_states = 1;
    if (is_search(d)) {
        size_t tl;
        char *t = decode_alloc(d->tok, sbti_slot_tokens(&R->e, slot), n, SBT_DECODE_SKIP_SPECIAL,
                               &tl, &st);
        if (!t || (st = visited_add(P, t, tl)) != SBT_OK) {
            problem_free(R, P);
            return st;
        }
    }
    st = launch(R, P);
    if (st != SBT_OK) {
        problem_free(R, P);
        return st;
    }
    *out = P;
    return SBT_OK;
}

/* The length a rollback of tokens[0..n) keeps, with the seed's text semantics: the text
 * without special tokens, cut after the second-to-last step delimiter. p0 when that leaves
 * nothing of the response (the seed then returns the prompt, which is never re-expanded). */
static int rollback_len(const sbt_decoder *d, const int32_t *tok, int n, int p0, sbt_status *st)
{
    *st = SBT_OK;
    size_t dl = strlen(d->delim);
    /* text and the end offset of each token in it */
    size_t cap = 256, len = 0;
    char *t = malloc(cap);
    size_t *end = malloc(sizeof *end * (size_t)n);
    if (!t || !end) {
        free(t);
        free(end);
        *st = sbti_fail(SBT_E_OUT_OF_MEMORY, "decoder: out of memory");
        return -1;
    }
    for (int i = 0; i < n; i++) {
        size_t pl;
        char *piece = decode_alloc(d->tok, tok + i, 1, SBT_DECODE_SKIP_SPECIAL, &pl, st);
        if (!piece) {
            free(t);
            free(end);
            return -1;
        }
        if (len + pl + 1 > cap) {
            while (len + pl + 1 > cap)
                cap *= 2;
            char *nt = realloc(t, cap);
            if (!nt) {
                free(piece);
                free(t);
                free(end);
                *st = sbti_fail(SBT_E_OUT_OF_MEMORY, "decoder: out of memory");
                return -1;
            }
            t = nt;
        }
        memcpy(t + len, piece, pl);
        len += pl;
        end[i] = len;
        free(piece);
    }
    int keep = p0;
    long last = memrfind(t, len, d->delim, dl);
    long prev = last >= 0 ? memrfind(t, (size_t)last, d->delim, dl) : -1;
    if (prev >= 0) {
        size_t cut = (size_t)prev + dl;
        int j = 0;
        while (j < n - 1 && end[j] < cut)
            j++;
        keep = j + 1;
    }
    if (keep < p0)
        keep = p0;
    free(t);
    free(end);
    return keep;
}

/* The score of hypothesis y (of job j) under the decoder's scoring mode. */
static double builtin_score(const run *R, const problem *P, const sbti_job *j, const sbti_hyp *y)
{
    const float *lp = sbti_slot_lps((sbti_engine *)&R->e, y->slot);
    double sum = 0;
    for (int t = P->p0; t < y->len; t++)
        sum += lp[t];
    if (R->d->o.scoring == SBT_SCORE_REFERENCE) {
        int den = j->L - P->p0;
        return den > 0 ? (sum + y->pad_lp) / den : 0.0;
    }
    int den = y->len - P->p0 + (y->eos ? 1 : 0);
    if (y->eos)
        sum += y->eos_lp;
    return den > 0 ? sum / den : 0.0;
}

static sbt_status add_cand(problem *P, const int32_t *tok, int n, int eos, const char *key,
                           size_t key_len, double score)
{
    if (P->n_cands == P->cap_cands) {
        int cap = P->cap_cands ? 2 * P->cap_cands : 16;
        cand *c = realloc(P->cands, sizeof *c * (size_t)cap);
        if (!c)
            return sbti_fail(SBT_E_OUT_OF_MEMORY, "decoder: out of memory");
        P->cands = c;
        P->cap_cands = cap;
    }
    cand *c = &P->cands[P->n_cands];
    c->tok = malloc(sizeof *c->tok * (size_t)(n > 0 ? n : 1));
    c->key = malloc(key_len + 1);
    if (!c->tok || !c->key) {
        free(c->tok);
        free(c->key);
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "decoder: out of memory");
    }
    memcpy(c->tok, tok, sizeof *tok * (size_t)n);
    memcpy(c->key, key, key_len);
    c->key[key_len] = 0;
    c->key_len = key_len;
    c->n = n;
    c->eos = eos;
    c->score = score;
    P->n_cands++;
    return SBT_OK;
}

/* The whole output text: tokens with special tokens, then EOS when the model ended it. */
static char *output_text(const sbt_decoder *d, const int32_t *tok, int n, int eos, size_t *len,
                         sbt_status *st)
{
    size_t l;
    char *t = decode_alloc(d->tok, tok, (size_t)n, 0, &l, st);
    if (!t || !eos) {
        *len = t ? l : 0;
        return t;
    }
    size_t el = strlen(d->eos_text);
    char *u = realloc(t, l + el + 1);
    if (!u) {
        free(t);
        *st = sbti_fail(SBT_E_OUT_OF_MEMORY, "decoder: out of memory");
        return NULL;
    }
    memcpy(u + l, d->eos_text, el + 1);
    *len = l + el;
    return u;
}

static sbt_status finish_problem(run *R, problem *P, const int32_t *tok, int n, int eos,
                                 double score, int found, int n_unique)
{
    res_item *it = &R->res->items[P->index];
    sbt_status st = SBT_OK;
    it->tokens = malloc(sizeof *tok * (size_t)(n > 0 ? n : 1));
    if (!it->tokens)
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "decoder: out of memory");
    memcpy(it->tokens, tok, sizeof *tok * (size_t)n);
    it->text = output_text(R->d, tok, n, eos, &it->text_len, &st);
    if (!it->text)
        return st;
    it->n_tokens = n;
    it->prompt_tokens = P->p0;
    it->eos = eos;
    it->score = score;
    it->found = found;
    it->n_cand = P->n_cands;
    it->n_unique = n_unique;
    it->n_exp = P->n_exp;
    it->n_bt = P->n_bt;
    it->generated = P->generated;
    const sbt_search_hooks *h = &R->d->h;
    it->verdict = h->verify ? (h->verify(h->user_data, P->index, it->text, it->text_len) != 0)
                            : -1;
    P->finished = 1;
    return SBT_OK;
}

/* Selection (SPEC §4.4): group candidates by answer; reference sums each group's scores and
 * keeps its first member, clean keeps its best; the best group wins (the first on ties). */
static sbt_status select_best(run *R, problem *P)
{
    int n = P->n_cands;
    if (n == 0)
        return finish_problem(R, P, P->fb_tok, P->fb_n, P->fb_eos, NAN, 0, 0);
    int *rep = malloc(sizeof *rep * (size_t)n);
    double *agg = malloc(sizeof *agg * (size_t)n);
    if (!rep || !agg) {
        free(rep);
        free(agg);
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "decoder: out of memory");
    }
    int ng = 0;
    int ref = R->d->o.scoring == SBT_SCORE_REFERENCE;
    for (int i = 0; i < n; i++) {
        const cand *c = &P->cands[i];
        int g = 0;
        while (g < ng && !(P->cands[rep[g]].key_len == c->key_len &&
                           memcmp(P->cands[rep[g]].key, c->key, c->key_len) == 0))
            g++;
        if (g == ng) {
            rep[ng] = i;
            agg[ng++] = c->score;
        } else if (ref) {
            agg[g] += c->score;
        } else if (c->score > agg[g]) {
            agg[g] = c->score;
            rep[g] = i;
        }
    }
    int best = 0;
    for (int g = 1; g < ng; g++)
        if (agg[g] > agg[best])
            best = g;
    const cand *c = &P->cands[rep[best]];
    double score = agg[best];
    free(rep);
    free(agg);
    return finish_problem(R, P, c->tok, c->n, c->eos, score, 1, ng);
}

/* All jobs of P's round are done: walk their beams as the seed does, then start the next round
 * or finish. */
static sbt_status process_round(run *R, problem *P)
{
    sbt_decoder *d = R->d;
    sbti_engine *e = &R->e;
    sbt_status st = SBT_OK;
    for (int i = 0; i < P->n_jobs; i++)
        P->generated += P->jobs[i]->generated;
    if (!is_search(d)) {
        sbti_job *j = P->jobs[0];
        if (j->n_hyps == 0)
            return sbti_fail(SBT_E_INTERNAL, "decoder: prompt %lld produced no sequence",
                             (long long)P->index);
        const sbti_hyp *y = &j->hyps[0];
        return finish_problem(R, P, sbti_slot_tokens(e, y->slot), y->len, y->eos, y->score, 1,
                              0);
    }
    int expand = P->round < d->o.b;
    int K = R->K;
    const sbt_search_hooks *h = &d->h;
    size_t gl = strlen(d->goal), bl = strlen(d->bt_text);
    for (int ji = 0; ji < P->n_jobs && st == SBT_OK; ji++) {
        sbti_job *j = P->jobs[ji];
        if (j->n_hyps > 0) { /* the fallback: the best beam of the last expansion */
            const sbti_hyp *y = &j->hyps[0];
            int32_t *fb = realloc(P->fb_tok, sizeof *fb * (size_t)y->len);
            if (!fb)
                return sbti_fail(SBT_E_OUT_OF_MEMORY, "decoder: out of memory");
            memcpy(fb, sbti_slot_tokens(e, y->slot), sizeof *fb * (size_t)y->len);
            P->fb_tok = fb;
            P->fb_n = y->len;
            P->fb_eos = y->eos;
        }
        for (int hi = 0; hi < j->n_hyps && st == SBT_OK; hi++) {
            sbti_hyp *y = &j->hyps[hi];
            const int32_t *tok = sbti_slot_tokens(e, y->slot);
            size_t rl;
            char *resp = decode_alloc(d->tok, tok + P->p0, (size_t)(y->len - P->p0), 0, &rl, &st);
            if (!resp)
                break;
            int goal = h->is_goal ? h->is_goal(h->user_data, resp, rl) != 0
                                  : memfind(resp, rl, d->goal, gl) != NULL;
            if (goal) {
                double score = builtin_score(R, P, j, y);
                if (h->score) {
                    sbt_search_beam b = {
                        .size = sizeof b, .tokens = tok, .n_tokens = y->len,
                        .prompt_tokens = P->p0, .logprobs = sbti_slot_lps(e, y->slot),
                        .ended_with_eos = y->eos, .eos_logprob = y->eos_lp, .response = resp,
                        .response_len = rl, .builtin_score = score};
                    score = h->score(h->user_data, &b);
                }
                int keep = 1;
                if (d->o.verify_candidates && h->verify) {
                    size_t tl;
                    char *text = output_text(d, tok, y->len, y->eos, &tl, &st);
                    if (!text) {
                        free(resp);
                        break;
                    }
                    keep = h->verify(h->user_data, P->index, text, tl) != 0;
                    free(text);
                }
                const char *g = memfind(resp, rl, d->goal, gl);
                size_t kl = g ? (size_t)(g - resp) : rl;
                if (keep)
                    st = add_cand(P, tok, y->len, y->eos, resp, kl, score);
            }
            int bt = memfind(resp, rl, d->bt_text, bl) != NULL;
            free(resp);
            if (st != SBT_OK || !expand || P->n_states >= K || !bt)
                continue;
            int keep_len = rollback_len(d, tok, y->len, P->p0, &st);
            if (keep_len < 0)
                break;
            size_t tl;
            char *text = decode_alloc(d->tok, tok, (size_t)keep_len, SBT_DECODE_SKIP_SPECIAL, &tl,
                                      &st);
            if (!text)
                break;
            if (visited_has(P, text, tl)) {
                free(text);
                continue;
            }
            if ((st = visited_add(P, text, tl)) != SBT_OK)
                break;
            sbti_slot_truncate(e, y->slot, keep_len); /* the rollback: no recomputation */
            P->states[P->n_states++] = y->slot;
            y->slot = -1;
        }
    }
    if (st != SBT_OK)
        return st;
    for (int i = 0; i < P->n_jobs; i++)
        sbti_job_free(e, P->jobs[i]);
    free(P->jobs);
    P->jobs = NULL;
    P->n_jobs = P->n_done = 0;
    P->round++;
    if (expand && P->n_states > 0)
        return launch(R, P);
    return select_best(R, P);
}

/* ---- the run ---------------------------------------------------------------------------- */

/* After lane l's step: its finished jobs leave it, problems whose round is over go on or
 * finish, new problems fill its places, and its next step is queued. */
static sbt_status lane_turn(run *R, int l)
{
    const sbt_decoder_options *o = &R->d->o;
    run_lane *ln = &R->lanes[l];
    sbt_status st = sbti_engine_collect(&R->e, l);
    if (st != SBT_OK)
        return st;
    int k = 0;
    for (int i = 0; i < ln->n_active; i++) {
        sbti_job *j = ln->active[i];
        if (j->phase == SBTI_JOB_DONE)
            ((problem *)j->owner)->n_done++;
        else
            ln->active[k++] = j;
    }
    ln->n_active = k;
    int m = 0;
    for (int i = 0; i < ln->n_live; i++) {
        problem *P = ln->live[i];
        if (P->n_jobs > 0 && P->n_done == P->n_jobs) {
            st = process_round(R, P);
            if (st != SBT_OK)
                return st;
        }
        if (P->finished) {
            problem_free(R, P);
            ln->live[i] = NULL;
            R->finished++;
            if (o->progress && o->progress("decode", R->finished, R->n, o->progress_user_data))
                return sbti_fail(SBT_E_CANCELLED, "sbt_decoder_run: cancelled after %lld of "
                                 "%lld prompts", (long long)R->finished, (long long)R->n);
        }
    }
    for (int i = 0; i < ln->n_live; i++)
        if (ln->live[i])
            ln->live[m++] = ln->live[i];
    ln->n_live = m;
    while (ln->n_live < ln->cap && R->next < R->n) {
        st = problem_start(R, &ln->live[ln->n_live], R->next, R->prompts[R->next], l);
        if (st != SBT_OK)
            return st;
        ln->n_live++;
        R->next++;
    }
    return sbti_engine_submit(&R->e, l, ln->active, ln->n_active);
}

sbt_status sbt_decoder_run(sbt_decoder *d, const char *const *prompts, int64_t n,
                           sbt_decode_results **out)
{
    if (!out)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_decoder_run: out is NULL");
    *out = NULL;
    if (!d || (!prompts && n > 0) || n < 0)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_decoder_run: %s",
                         !d ? "dec is NULL" : n < 0 ? "n < 0" : "prompts is NULL");
    for (int64_t i = 0; i < n; i++)
        if (!prompts[i])
            return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_decoder_run: prompts[%lld] is NULL",
                             (long long)i);
    double t0 = sbti_now();
    const sbt_decoder_options *o = &d->o;
    run R = {.d = d};
    R.K = is_search(d) ? d->K : 1;
    if (o->max_length == 0 && o->max_new_tokens == 0) {
        if (o->strategy == SBT_DECODE_GREEDY)
            R.new_limit = 50;
        else
            R.tot_limit = 50;
    } else {
        R.tot_limit = o->max_length;
        R.new_limit = o->max_new_tokens;
    }
    /* sizes: the longest prompt and what can grow from it */
    int longest = 1;
    for (int64_t i = 0; i < n; i++) {
        size_t np = 0;
        sbt_tokenizer_encode(d->tok, prompts[i], strlen(prompts[i]), SBT_ENCODE_ADD_SPECIAL, NULL,
                             0, &np);
        if (np > (size_t)longest)
            longest = np > (1u << 20) ? 1 << 20 : (int)np;
    }
    sbt_clear_error();
    int rounds = is_search(d) ? o->b + 1 : 1;
    int64_t max_len = R.tot_limit > longest ? R.tot_limit : longest + 1;
    if (R.new_limit > 0) {
        int64_t grow = (int64_t)longest + (int64_t)rounds * R.new_limit;
        if (R.tot_limit == 0 || grow < max_len)
            max_len = grow > longest + 1 ? grow : longest + 1;
    }
    max_len += 1;
    int64_t nb = o->strategy == SBT_DECODE_GREEDY ? 1 : o->n;
    int per_job = (int)(2 * nb + 1);
    int64_t per_problem = (int64_t)(R.K > 1 ? R.K : 1) * per_job + 2;
    int64_t batch = o->batch < n ? o->batch : (n > 0 ? n : 1);
    int64_t max_seqs = batch * per_problem;
    if (max_len > (1 << 20) || max_seqs > (1 << 24) || max_len * max_seqs > ((int64_t)1 << 31))
        return sbti_fail(SBT_E_INVALID_ARGUMENT,
                         "sbt_decoder_run: %lld sequences of %lld tokens is too much; lower "
                         "batch, n or the length budget", (long long)max_seqs, (long long)max_len);
    int64_t pages = o->kv_pages;
    if (pages == 0)
        pages = max_seqs * ((max_len + o->page_size - 1) / o->page_size);
    sbt_status st;
    if (d->model)
        st = sbti_lm_kv_create(&R.lm, d->model, (int)max_seqs, (int)max_len, o->page_size, pages);
    else
        st = sbti_lm_fn_create(&R.lm, &d->cb, (int)max_seqs, (int)max_len);
    if (st != SBT_OK)
        return st;
    st = sbti_engine_init(&R.e, R.lm, d->eos, o->temperature, o->top_k, o->top_p);
    if (st != SBT_OK) {
        sbti_lm_free(R.lm);
        return st;
    }
    R.e.recompute = d->recompute;
    R.prompts = prompts;
    R.n = n;
    R.n_lanes = d->lanes;
    const char *env = getenv("SBT_DECODE_LANES");
    if (R.n_lanes == 0 && env && (strcmp(env, "1") == 0 || strcmp(env, "2") == 0))
        R.n_lanes = env[0] - '0';
    if (R.n_lanes == 0)
        R.n_lanes = R.lm->overlaps ? SBTI_LM_LANES : 1;
    if (R.n_lanes > batch)
        R.n_lanes = (int)batch;
    R.res = calloc(1, sizeof *R.res);
    if (R.res)
        R.res->items = calloc((size_t)(n > 0 ? n : 1), sizeof *R.res->items);
    st = R.res && R.res->items ? SBT_OK
                               : sbti_fail(SBT_E_OUT_OF_MEMORY, "sbt_decoder_run: out of memory");
    for (int l = 0; l < R.n_lanes && st == SBT_OK; l++) { /* the batch, split between lanes */
        run_lane *ln = &R.lanes[l];
        ln->cap = (int)(batch / R.n_lanes + (l < batch % R.n_lanes ? 1 : 0));
        ln->live = calloc((size_t)ln->cap, sizeof *ln->live);
        if (!ln->live)
            st = sbti_fail(SBT_E_OUT_OF_MEMORY, "sbt_decoder_run: out of memory");
    }
    if (st != SBT_OK)
        goto done;
    R.res->n = n;
    /* each lane's first step, then turns: while the device runs one lane's step, the host
     * makes the other's choices and queues its next one */
    for (int l = 0; l < R.n_lanes; l++)
        if ((st = lane_turn(&R, l)) != SBT_OK)
            goto done;
    while (R.finished < n) {
        int queued = 0;
        for (int l = 0; l < R.n_lanes; l++)
            queued |= R.e.steps[l].queued;
        if (!queued) {
            st = sbti_fail(SBT_E_INTERNAL, "decoder: %lld prompts unfinished and nothing to run",
                           (long long)(n - R.finished));
            goto done;
        }
        for (int l = 0; l < R.n_lanes && R.finished < n; l++)
            if ((st = lane_turn(&R, l)) != SBT_OK)
                goto done;
    }
    R.res->stats.prompts = n;
    R.res->stats.forward_tokens = R.e.forward_tokens;
    R.res->stats.forward_calls = R.e.forward_calls;
    for (int64_t i = 0; i < n; i++) {
        R.res->stats.generated_tokens += R.res->items[i].generated;
        R.res->stats.expansions += R.res->items[i].n_exp;
    }
    R.res->stats.seconds = sbti_now() - t0;
    if (getenv("SBT_DECODE_PROFILE"))
        fprintf(stderr,
                "decode profile: %.3f s in all, %lld steps: prepare %.3f s, forward %.3f s "
                "(queue %.3f s, wait %.3f s), choose %.3f s\n",
                R.res->stats.seconds, (long long)R.e.forward_calls, R.e.t_prepare, R.e.t_forward,
                R.lm->t_queue, R.lm->t_wait, R.e.t_choose);
done:
    for (int l = 0; l < SBTI_LM_LANES; l++) {
        for (int i = 0; i < R.lanes[l].n_live; i++)
            problem_free(&R, R.lanes[l].live[i]); /* NULL-safe */
        free(R.lanes[l].live);
        free(R.lanes[l].active);
    }
    sbti_lm_free(R.lm); /* first: it waits for work still in flight */
    sbti_engine_release(&R.e);
    if (st != SBT_OK) {
        sbt_decode_results_free(R.res);
        return st;
    }
    *out = R.res;
    return SBT_OK;
}
