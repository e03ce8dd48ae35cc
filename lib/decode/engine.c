/* engine.c — the batched decoding engine of engine.h: slots, jobs (HF beam search and
 * beam-sample, independent rows), one forward per step for all of them. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/error.h"
#include "decode/engine.h"

sbt_status sbti_engine_init(sbti_engine *e, sbti_lm *lm, int32_t eos, double temperature,
                            int top_k, double top_p)
{
    memset(e, 0, sizeof *e);
    e->lm = lm;
    e->V = lm->n_vocab;
    e->max_seqs = lm->max_seqs;
    e->max_len = lm->max_len;
    e->eos = eos;
    e->temperature = temperature;
    const sbti_select_args det = {.sample = 0, .k = 1, .extra_id = eos};
    sbti_select_args smp = {.sample = 1, .temperature = (float)temperature, .top_k = top_k,
                            .top_p = (float)top_p, .min_keep = 2, .k = 1, .extra_id = eos};
    e->groups[SBTI_GROUP_DET] = det;
    e->groups[SBTI_GROUP_BEAM_SAMPLE] = smp;
    smp.min_keep = 1;
    e->groups[SBTI_GROUP_SAMPLE] = smp;
    size_t n = (size_t)e->max_seqs * e->max_len;
    e->tok = malloc(sizeof *e->tok * n);
    e->lp = calloc(n, sizeof *e->lp);
    e->len = calloc((size_t)e->max_seqs, sizeof *e->len);
    e->kv_len = calloc((size_t)e->max_seqs, sizeof *e->kv_len);
    e->free_slots = malloc(sizeof *e->free_slots * (size_t)e->max_seqs);
    if (!e->tok || !e->lp || !e->len || !e->kv_len || !e->free_slots) {
        sbti_engine_release(e);
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "decoder: out of memory (%d sequences of %d)",
                         e->max_seqs, e->max_len);
    }
    for (int s = 0; s < e->max_seqs; s++)
        e->free_slots[s] = e->max_seqs - 1 - s;
    e->n_free = e->max_seqs;
    return SBT_OK;
}

void sbti_engine_release(sbti_engine *e)
{
    free(e->tok);
    free(e->lp);
    free(e->len);
    free(e->kv_len);
    free(e->free_slots);
    for (int i = 0; i < SBTI_LM_LANES; i++) {
        sbti_step *st = &e->steps[i];
        free(st->jobs);
        free(st->ids);
        free(st->seq);
        free(st->rows);
        free(st->row_group);
        free(st->row_seed);
        free(st->c_kept);
        free(st->c_extra);
        free(st->c_ids);
        free(st->c_lp);
        free(st->c_key);
    }
    free(e->cands);
    memset(e, 0, sizeof *e);
}

/* ---- slots ------------------------------------------------------------------------------ */

int sbti_slot_alloc(sbti_engine *e)
{
    if (e->n_free == 0)
        return -1;
    int s = e->free_slots[--e->n_free];
    e->len[s] = e->kv_len[s] = 0;
    return s;
}

void sbti_slot_release(sbti_engine *e, int slot)
{
    if (slot < 0)
        return;
    e->lm->vt->truncate(e->lm, slot, 0);
    e->len[slot] = e->kv_len[slot] = 0;
    e->free_slots[e->n_free++] = slot;
}

void sbti_slot_fork(sbti_engine *e, int dst, int src)
{
    if (dst == src)
        return;
    e->lm->vt->fork(e->lm, dst, src);
    size_t n = (size_t)e->len[src];
    memcpy(sbti_slot_tokens(e, dst), sbti_slot_tokens(e, src), sizeof(int32_t) * n);
    memcpy(sbti_slot_lps(e, dst), sbti_slot_lps(e, src), sizeof(float) * n);
    e->len[dst] = e->len[src];
    e->kv_len[dst] = e->kv_len[src];
}

void sbti_slot_truncate(sbti_engine *e, int slot, int len)
{
    if (len < e->len[slot])
        e->len[slot] = len;
    if (len < e->kv_len[slot]) {
        e->lm->vt->truncate(e->lm, slot, len);
        e->kv_len[slot] = len;
    }
}

void sbti_slot_set(sbti_engine *e, int slot, const int32_t *tok, int n)
{
    memcpy(sbti_slot_tokens(e, slot), tok, sizeof(int32_t) * (size_t)n);
    memset(sbti_slot_lps(e, slot), 0, sizeof(float) * (size_t)n);
    e->len[slot] = n;
}

/* Sets the KV of slot to hold exactly `keep` positions (no more than it has). */
static void kv_keep(sbti_engine *e, int slot, int keep)
{
    if (keep < e->kv_len[slot]) {
        e->lm->vt->truncate(e->lm, slot, keep);
        e->kv_len[slot] = keep;
    }
}

/* ---- jobs ------------------------------------------------------------------------------- */

sbt_status sbti_job_create(sbti_job **out, sbti_engine *e, sbti_job_kind kind, int sample, int n,
                           int start_slot, int limit, int pad_to_L, uint64_t seed,
                           uint64_t stream, uint64_t index)
{
    *out = NULL;
    sbti_job *j = calloc(1, sizeof *j);
    if (j) {
        j->rows = malloc(sizeof *j->rows * (size_t)n);
        j->hyps = malloc(sizeof *j->hyps * (size_t)(n + 1));
    }
    if (!j || !j->rows || !j->hyps) {
        if (j) {
            free(j->rows);
            free(j->hyps);
        }
        free(j);
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "decoder: out of memory");
    }
    j->kind = kind;
    j->sample = sample;
    j->n = n;
    j->start_len = e->len[start_slot];
    j->limit = limit > j->start_len ? limit : j->start_len + 1; /* HF makes one step anyway */
    if (j->limit > e->max_len)
        j->limit = e->max_len;
    j->pad_to_L = pad_to_L;
    sbti_rng_init(&j->rng, seed, stream, index);
    j->rows[0] = (sbti_row){start_slot, 0.0};
    j->n_rows = 1;
    j->worst = 1e9;
    j->phase = SBTI_JOB_RUN;
    *out = j;
    return SBT_OK;
}

void sbti_job_free(sbti_engine *e, sbti_job *j)
{
    if (!j)
        return;
    for (int r = 0; r < j->n_rows; r++)
        sbti_slot_release(e, j->rows[r].slot);
    for (int h = 0; h < j->n_hyps; h++)
        sbti_slot_release(e, j->hyps[h].slot);
    free(j->rows);
    free(j->hyps);
    free(j);
}

/* HF BeamHypotheses.add. With take, src's slot goes to the hypothesis (or is released when
 * it is not kept); otherwise the hypothesis gets a fork of it. */
static sbt_status hyp_add(sbti_engine *e, sbti_job *j, int src, int take, int len, int eos,
                          float eos_lp, double score)
{
    if (j->n_hyps >= j->n && !(score > j->worst)) {
        if (take)
            sbti_slot_release(e, src);
        return SBT_OK;
    }
    if (j->n_hyps >= j->n) { /* drop the worst (the first of the lowest) */
        int w = 0;
        for (int h = 1; h < j->n_hyps; h++)
            if (j->hyps[h].score < j->hyps[w].score)
                w = h;
        sbti_slot_release(e, j->hyps[w].slot);
        memmove(j->hyps + w, j->hyps + w + 1, sizeof *j->hyps * (size_t)(j->n_hyps - w - 1));
        j->n_hyps--;
    }
    int slot = src;
    if (!take) {
        slot = sbti_slot_alloc(e);
        if (slot < 0)
            return sbti_fail(SBT_E_INTERNAL, "decoder: no free sequence slot");
        sbti_slot_fork(e, slot, src);
    }
    sbti_slot_truncate(e, slot, len);
    j->hyps[j->n_hyps++] = (sbti_hyp){.slot = slot, .len = len, .eos = eos, .eos_lp = eos_lp,
                                      .score = score, .serial = j->serial++};
    j->worst = j->hyps[0].score;
    for (int h = 1; h < j->n_hyps; h++)
        if (j->hyps[h].score < j->worst)
            j->worst = j->hyps[h].score;
    return SBT_OK;
}

static int hyp_cmp_beam(const void *a, const void *b)
{
    const sbti_hyp *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return x->serial > y->serial ? -1 : 1; /* HF pops the later of equals first */
}

static int hyp_cmp_indep(const void *a, const void *b)
{
    const sbti_hyp *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return x->serial < y->serial ? -1 : 1;
}

/* The job has no more rows to run: order its hypotheses and set the padded length. */
static void job_finish(sbti_engine *e, sbti_job *j)
{
    (void)e;
    qsort(j->hyps, (size_t)j->n_hyps, sizeof *j->hyps,
          j->kind == SBTI_JOB_BEAM ? hyp_cmp_beam : hyp_cmp_indep);
    int longest = 0;
    for (int h = 0; h < j->n_hyps; h++)
        if (j->hyps[h].len > longest)
            longest = j->hyps[h].len;
    j->L = longest + 1 < j->limit ? longest + 1 : j->limit;
    int pads = 0;
    for (int h = 0; h < j->n_hyps; h++) {
        sbti_hyp *y = &j->hyps[h];
        y->pad_n = y->len < j->L ? j->L - y->len : 0;
        y->pad_lp = (y->pad_n > 0 && y->eos) ? y->eos_lp : 0.0;
        if (y->pad_n > (y->eos ? 1 : 0))
            pads = 1;
    }
    j->phase = (j->pad_to_L && pads) ? SBTI_JOB_PAD : SBTI_JOB_DONE;
}

static int cand_by_key(const void *a, const void *b)
{
    const sbti_cand *x = a, *y = b;
    if (x->key != y->key)
        return x->key > y->key ? -1 : 1;
    if (x->parent != y->parent)
        return x->parent < y->parent ? -1 : 1;
    return x->id < y->id ? -1 : 1;
}

static int cand_by_total(const void *a, const void *b)
{
    const sbti_cand *x = a, *y = b;
    if (x->total != y->total)
        return x->total > y->total ? -1 : 1;
    return cand_by_key(a, b);
}

/* Appends token id (log-prob lp) to a slot's host copy. */
static void slot_push(sbti_engine *e, int slot, int32_t id, float lp)
{
    int n = e->len[slot];
    sbti_slot_tokens(e, slot)[n] = id;
    sbti_slot_lps(e, slot)[n] = lp;
    e->len[slot] = n + 1;
}

/* One step of HF beam search / beam-sample (transformers 4.47 _beam_search with
 * BeamSearchScorer, length_penalty 1, early_stopping False). Row r's candidates are at
 * logits row base + r: its 2N best by lp, or by Gumbel key (a draw without replacement from
 * softmax(beam score + processed score) across the rows, as HF's multinomial). */
static sbt_status beam_step(sbti_engine *e, const sbti_step *sp, sbti_job *j, int base)
{
    const int N = j->n, K = sp->kmax;
    const int cur = e->len[j->rows[0].slot];
    const double T = j->sample ? e->temperature : 1.0;
    if (2 * N > e->cap_cands) {
        sbti_cand *c = realloc(e->cands, sizeof *c * 2 * (size_t)N);
        if (!c)
            return sbti_fail(SBT_E_OUT_OF_MEMORY, "decoder: out of memory");
        e->cands = c;
        e->cap_cands = 2 * N;
    }
    /* the 2N best keys over the rows (sampled without replacement, or the best): each row's
     * list is best first, so a merge of the rows' heads; equal keys go to the lower row, as
     * cand_by_key orders them */
    sbti_cand *cd = e->cands;
    int head[j->n_rows];
    double hkey[j->n_rows];
    const int take = 2 * N < K ? 2 * N : K;
    for (int r = 0; r < j->n_rows; r++) {
        head[r] = 0;
        hkey[r] = -INFINITY;
        const size_t o = (size_t)(base + r) * K;
        if (sp->c_ids[o] >= 0)
            hkey[r] = j->rows[r].score + (j->sample ? sp->c_key[o] : sp->c_lp[o]);
    }
    int ns = 0;
    while (ns < 2 * N) {
        int best = -1;
        for (int r = 0; r < j->n_rows; r++)
            if (hkey[r] > -INFINITY && (best < 0 || hkey[r] > hkey[best]))
                best = r;
        if (best < 0)
            break;
        const size_t o = (size_t)(base + best) * K + (size_t)head[best];
        const double score = j->rows[best].score;
        cd[ns] = (sbti_cand){.id = sp->c_ids[o], .parent = best, .lp = sp->c_lp[o],
                             .total = score + sp->c_lp[o] / T, .key = hkey[best]};
        ns++;
        if (++head[best] < take && sp->c_ids[o + 1] >= 0)
            hkey[best] = score + (j->sample ? sp->c_key[o + 1] : sp->c_lp[o + 1]);
        else
            hkey[best] = -INFINITY;
    }
    qsort(cd, (size_t)ns, sizeof *cd, cand_by_total);

    /* walk them best first: EOS in the top N finishes a hypothesis, others become beams */
    int32_t par[N], tokn[N];
    float lpn[N];
    double tot[N];
    int nn = 0;
    for (int rank = 0; rank < ns && nn < N; rank++) {
        const sbti_cand *c = &cd[rank];
        if (c->id == e->eos) {
            if (rank >= N)
                continue;
            double score = c->total / (double)(cur + 1 - j->start_len);
            sbt_status st = hyp_add(e, j, j->rows[c->parent].slot, 0, cur, 1, c->lp, score);
            if (st != SBT_OK)
                return st;
            j->generated++;
            continue;
        }
        par[nn] = c->parent;
        tokn[nn] = c->id;
        lpn[nn] = c->lp;
        tot[nn] = c->total;
        nn++;
    }
    int done = 0;
    if (j->n_hyps >= N && ns > 0)
        done = j->worst >= cd[0].total / (double)(cur + 1 - j->start_len);

    /* reorder: a parent's slot goes to its first child, the others fork it */
    int n_par = j->n_rows;
    int first[n_par > 0 ? n_par : 1];
    for (int r = 0; r < n_par; r++)
        first[r] = -1;
    for (int c = 0; c < nn; c++)
        if (first[par[c]] < 0)
            first[par[c]] = c;
    for (int r = 0; r < n_par; r++)
        if (first[r] < 0)
            sbti_slot_release(e, j->rows[r].slot);
    int slot_of[N];
    for (int c = 0; c < nn; c++) {
        if (first[par[c]] == c) {
            slot_of[c] = j->rows[par[c]].slot;
            continue;
        }
        int s = sbti_slot_alloc(e);
        if (s < 0) {
            for (int k = 0; k < c; k++) /* give back what this step took */
                if (first[par[k]] != k)
                    sbti_slot_release(e, slot_of[k]);
            j->n_rows = 0;
            return sbti_fail(SBT_E_INTERNAL, "decoder: no free sequence slot");
        }
        sbti_slot_fork(e, s, j->rows[par[c]].slot);
        slot_of[c] = s;
    }
    for (int c = 0; c < nn; c++) {
        slot_push(e, slot_of[c], tokn[c], lpn[c]);
        j->rows[c] = (sbti_row){slot_of[c], tot[c]};
    }
    j->n_rows = nn;
    j->generated += nn;

    if (!done && nn > 0 && cur + 1 < j->limit)
        return SBT_OK;
    if (!done) /* the length limit: every running beam becomes a hypothesis */
        for (int r = 0; r < j->n_rows; r++) {
            double score = j->rows[r].score / (double)(cur + 1 - j->start_len);
            sbt_status st = hyp_add(e, j, j->rows[r].slot, 1, cur + 1, 0, 0.0f, score);
            j->rows[r].slot = -1;
            if (st != SBT_OK)
                return st;
        }
    for (int r = 0; r < j->n_rows; r++)
        sbti_slot_release(e, j->rows[r].slot);
    j->n_rows = 0;
    job_finish(e, j);
    return SBT_OK;
}

/* Ends row r of an independent job as a hypothesis (its slot goes with it). */
static sbt_status indep_end(sbti_engine *e, sbti_job *j, int r, int eos, float eos_lp)
{
    int s = j->rows[r].slot, len = e->len[s];
    const float *lp = sbti_slot_lps(e, s);
    double sum = eos ? eos_lp : 0.0;
    for (int t = j->start_len; t < len; t++)
        sum += lp[t];
    int n = len - j->start_len + (eos ? 1 : 0);
    j->rows[r].slot = -1;
    return hyp_add(e, j, s, 1, len, eos, eos_lp, n > 0 ? sum / n : 0.0);
}

/* Independent rows: each row's candidate is the best of its logits row (greedy) or a draw
 * from its warped distribution (the best Gumbel key). The first step has one prefilled row,
 * asked n times with n seeds: n draws, each row then a fork. */
static sbt_status indep_step(sbti_engine *e, const sbti_step *sp, sbti_job *j, int base)
{
    const int K = sp->kmax;
    if (!j->started) {
        j->started = 1;
        if (sp->c_ids[(size_t)base * K] < 0) { /* no finite logit */
            sbti_slot_release(e, j->rows[0].slot);
            j->n_rows = 0;
            job_finish(e, j);
            return SBT_OK;
        }
        int src = j->rows[0].slot;
        for (int r = 1; r < j->n; r++) {
            int s = sbti_slot_alloc(e);
            if (s < 0)
                return sbti_fail(SBT_E_INTERNAL, "decoder: no free sequence slot");
            sbti_slot_fork(e, s, src);
            j->rows[j->n_rows++] = (sbti_row){s, 0.0};
        }
    }
    int kept = 0;
    for (int r = 0; r < j->n_rows; r++) {
        const size_t o = (size_t)(base + r) * K;
        const int32_t id = sp->c_ids[o];
        const float lp = sp->c_lp[o];
        sbt_status st = SBT_OK;
        int s = j->rows[r].slot;
        if (id < 0) {
            st = indep_end(e, j, r, 0, 0.0f);
        } else {
            j->generated++;
            if (id == e->eos) {
                st = indep_end(e, j, r, 1, lp);
            } else {
                slot_push(e, s, id, lp);
                if (e->len[s] >= j->limit)
                    st = indep_end(e, j, r, 0, 0.0f);
                else
                    j->rows[kept++] = j->rows[r];
            }
        }
        if (st != SBT_OK)
            return st;
    }
    j->n_rows = kept;
    if (j->n_rows == 0)
        job_finish(e, j);
    return SBT_OK;
}

/* ---- the step ---------------------------------------------------------------------------- */

/* *p grown to n elements of size bytes; 0, or -1 (with *p as it was) when out of memory. */
static int grow(void *p, size_t size, size_t n)
{
    void *q = realloc(*(void **)p, size * n);
    if (!q)
        return -1;
    *(void **)p = q;
    return 0;
}

static sbt_status ensure_step(sbti_step *sp, int n_jobs, int n_tok, int n_rows, int kmax)
{
    if (n_jobs > sp->cap_jobs) {
        size_t cap = (size_t)(n_jobs > 2 * sp->cap_jobs ? n_jobs : 2 * sp->cap_jobs);
        if (grow(&sp->jobs, sizeof *sp->jobs, cap))
            return sbti_fail(SBT_E_OUT_OF_MEMORY, "decoder: out of memory");
        sp->cap_jobs = (int)cap;
    }
    if (n_tok > sp->cap_tok) {
        size_t cap = (size_t)(n_tok > 2 * sp->cap_tok ? n_tok : 2 * sp->cap_tok);
        if (grow(&sp->ids, sizeof *sp->ids, cap) || grow(&sp->seq, sizeof *sp->seq, cap))
            return sbti_fail(SBT_E_OUT_OF_MEMORY, "decoder: out of memory");
        sp->cap_tok = (int)cap;
    }
    if (n_rows > sp->cap_rows) {
        size_t cap = (size_t)(n_rows > 2 * sp->cap_rows ? n_rows : 2 * sp->cap_rows);
        if (grow(&sp->rows, sizeof *sp->rows, cap) ||
            grow(&sp->row_group, sizeof *sp->row_group, cap) ||
            grow(&sp->row_seed, sizeof *sp->row_seed, cap) ||
            grow(&sp->c_kept, sizeof *sp->c_kept, cap) ||
            grow(&sp->c_extra, sizeof *sp->c_extra, cap))
            return sbti_fail(SBT_E_OUT_OF_MEMORY, "decoder: out of memory");
        sp->cap_rows = (int)cap;
    }
    size_t need = (size_t)n_rows * (size_t)kmax;
    if (need > sp->cap_c) {
        size_t cap = need > 2 * sp->cap_c ? need : 2 * sp->cap_c;
        if (grow(&sp->c_ids, sizeof *sp->c_ids, cap) || grow(&sp->c_lp, sizeof *sp->c_lp, cap) ||
            grow(&sp->c_key, sizeof *sp->c_key, cap))
            return sbti_fail(SBT_E_OUT_OF_MEMORY, "decoder: out of memory (%zu candidates)", cap);
        sp->cap_c = cap;
    }
    return SBT_OK;
}

/* What a running job asks of each of its output rows: a selection group and how many
 * candidates. */
static int job_group(const sbti_job *j)
{
    if (!j->sample)
        return SBTI_GROUP_DET;
    return j->kind == SBTI_JOB_BEAM ? SBTI_GROUP_BEAM_SAMPLE : SBTI_GROUP_SAMPLE;
}

static int job_k(const sbti_job *j)
{
    return j->kind == SBTI_JOB_BEAM ? 2 * j->n : 1;
}

/* Output rows per running row this step: 1, or n when an independent job starts (its one
 * prefilled row, asked n times: n draws). */
static int job_draws(const sbti_job *j)
{
    return (j->kind == SBTI_JOB_INDEP && !j->started) ? j->n : 1;
}

/* First position a padding hypothesis needs logits for, and where its feed starts. */
static void pad_plan(sbti_engine *e, const sbti_hyp *y, int L, int *q0, int *from)
{
    *q0 = y->eos ? y->len + 1 : y->len; /* positions q0..L-1 need log p(EOS | before q) */
    *from = e->kv_len[y->slot];
    if (*from > *q0 - 1)
        *from = *q0 - 1;
    (void)L;
}

sbt_status sbti_engine_submit(sbti_engine *e, int lane, sbti_job **jobs, int n_jobs)
{
    const double t0 = sbti_now();
    sbti_step *sp = &e->steps[lane];
    sp->queued = 0;
    sp->n_jobs = 0;
    /* count */
    int n_tok = 0, n_out = 0, kmax = 1, gk[SBTI_N_GROUPS] = {1, 1, 1};
    for (int i = 0; i < n_jobs; i++) {
        sbti_job *j = jobs[i];
        if (j->phase == SBTI_JOB_RUN) {
            if (j->n_rows == 0)
                continue;
            for (int r = 0; r < j->n_rows; r++) {
                int s = j->rows[r].slot;
                if (e->recompute)
                    kv_keep(e, s, 0);
                kv_keep(e, s, e->len[s] - 1);
                n_tok += e->len[s] - e->kv_len[s];
            }
            n_out += j->n_rows * job_draws(j);
            int g = job_group(j), k = job_k(j);
            gk[g] = k > gk[g] ? k : gk[g];
        } else if (j->phase == SBTI_JOB_PAD) {
            for (int h = 0; h < j->n_hyps; h++) {
                const sbti_hyp *y = &j->hyps[h];
                int q0, from;
                pad_plan(e, y, j->L, &q0, &from);
                if (q0 > j->L - 1)
                    continue;
                kv_keep(e, y->slot, from);
                n_tok += (j->L - 1) - from;
                n_out += j->L - q0;
            }
        }
    }
    if (n_tok == 0)
        return SBT_OK;
    for (int g = 0; g < SBTI_N_GROUPS; g++) {
        if (gk[g] > SBTI_SELECT_MAX_K)
            return sbti_fail(SBT_E_INVALID_ARGUMENT, "decoder: %d candidates per row (at most %d)",
                             gk[g], SBTI_SELECT_MAX_K);
        sp->groups[g] = e->groups[g];
        sp->groups[g].k = gk[g];
        kmax = gk[g] > kmax ? gk[g] : kmax;
    }
    sbt_status st = ensure_step(sp, n_jobs, n_tok, n_out, kmax);
    if (st != SBT_OK)
        return st;
    sp->kmax = kmax;
    /* fill */
    int t = 0, o = 0;
    for (int i = 0; i < n_jobs; i++) {
        sbti_job *j = jobs[i];
        sp->jobs[sp->n_jobs++] = j;
        j->out_base = o;
        if (j->phase == SBTI_JOB_RUN) {
            if (j->n_rows == 0)
                continue;
            for (int r = 0; r < j->n_rows; r++) {
                int s = j->rows[r].slot;
                const int32_t *tk = sbti_slot_tokens(e, s);
                for (int p = e->kv_len[s]; p < e->len[s]; p++) {
                    sp->ids[t] = tk[p];
                    sp->seq[t++] = s;
                }
                e->kv_len[s] = e->len[s];
                for (int q = 0; q < job_draws(j); q++) {
                    sp->rows[o] = t - 1;
                    sp->row_group[o] = (uint8_t)job_group(j);
                    sp->row_seed[o++] = j->sample ? sbti_rng_next(&j->rng) : 0;
                }
            }
        } else if (j->phase == SBTI_JOB_PAD) {
            for (int h = 0; h < j->n_hyps; h++) {
                const sbti_hyp *y = &j->hyps[h];
                int q0, from;
                pad_plan(e, y, j->L, &q0, &from);
                if (q0 > j->L - 1)
                    continue;
                const int32_t *tk = sbti_slot_tokens(e, y->slot);
                for (int p = from; p < j->L - 1; p++) {
                    sp->ids[t] = p < y->len ? tk[p] : e->eos;
                    sp->seq[t] = y->slot;
                    if (p + 1 >= q0) {
                        sp->rows[o] = t;
                        sp->row_group[o] = SBTI_GROUP_DET;
                        sp->row_seed[o++] = 0;
                    }
                    t++;
                }
                e->kv_len[y->slot] = j->L - 1;
            }
        }
    }
    sp->sel = (sbti_lm_select){.groups = sp->groups, .n_groups = SBTI_N_GROUPS, .kmax = kmax,
                               .group = sp->row_group, .seed = sp->row_seed, .ids = sp->c_ids,
                               .lp = sp->c_lp, .key = sp->c_key, .kept = sp->c_kept,
                               .extra_lp = sp->c_extra};
    const double t1 = sbti_now();
    st = e->lm->vt->submit(e->lm, lane, sp->ids, sp->seq, n_tok, sp->rows, n_out, &sp->sel);
    e->t_prepare += t1 - t0;
    e->t_forward += sbti_now() - t1;
    e->forward_calls++;
    e->forward_tokens += n_tok;
    if (st != SBT_OK)
        return st;
    sp->queued = 1;
    return SBT_OK;
}

sbt_status sbti_engine_collect(sbti_engine *e, int lane)
{
    sbti_step *sp = &e->steps[lane];
    if (!sp->queued)
        return SBT_OK;
    sp->queued = 0;
    const double t0 = sbti_now();
    sbt_status st = e->lm->vt->collect(e->lm, lane);
    const double t1 = sbti_now();
    e->t_forward += t1 - t0;
    if (st != SBT_OK)
        return st;
    /* each job's choice */
    for (int i = 0; i < sp->n_jobs; i++) {
        sbti_job *j = sp->jobs[i];
        if (j->phase == SBTI_JOB_RUN) {
            if (j->n_rows == 0)
                continue;
            st = j->kind == SBTI_JOB_BEAM ? beam_step(e, sp, j, j->out_base)
                                          : indep_step(e, sp, j, j->out_base);
            if (st != SBT_OK)
                return st;
        } else if (j->phase == SBTI_JOB_PAD) {
            int k = j->out_base;
            for (int h = 0; h < j->n_hyps; h++) {
                sbti_hyp *y = &j->hyps[h];
                int q0, from;
                pad_plan(e, y, j->L, &q0, &from);
                (void)from;
                for (int q = q0; q <= j->L - 1; q++, k++)
                    y->pad_lp += sp->c_extra[k];
                sbti_slot_truncate(e, y->slot, y->len);
            }
            j->phase = SBTI_JOB_DONE;
        }
    }
    e->t_choose += sbti_now() - t1;
    return SBT_OK;
}

sbt_status sbti_engine_step(sbti_engine *e, sbti_job **jobs, int n_jobs)
{
    sbt_status st = sbti_engine_submit(e, 0, jobs, n_jobs);
    return st != SBT_OK ? st : sbti_engine_collect(e, 0);
}
