/* kv_cache.c — the decoding forward: a paged KV cache shared by many sequences.
 *
 * Keys and values live in pages of page_size positions, one pool per layer: (n_pages *
 * page_size, nkv*hd) for K and for V. Each sequence has a page table; sequences may share pages
 * (a fork shares them all, with reference counts), and a page is copied only when a sequence
 * writes into a page someone else also holds. So beams that share a prompt share its KV, a
 * rollback is a truncation, and reordering beams is a fork by index — nothing is recomputed.
 * The page tables are kept on the host and sent with each forward (they are small).
 *
 * Graphs. A decoding step of a few rows is a few hundred short kernels: on a GPU it is bound by
 * launching them, not by running them. Where the backend records graphs, a forward is padded
 * to a bucket of rows (bucket()) with dummy tokens and dummy output rows, so that a few shapes
 * serve every call, and the kernels of each shape are recorded once and replayed. Everything
 * that changes between calls (ids, sequences, positions, slots, output rows, page tables) sits
 * in device buffers of fixed address that are uploaded before the launch. The dummy tokens
 * belong to a sequence of the cache's own (row max_seqs of the page tables), whose one page
 * (page n_pages, zero and never written) holds position 0: each dummy token sits there, attends
 * that one zero key and value, and is not stored (slot -1). Dummy output rows read token 0. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "model/model.h"

#define KV_GRAPHS 32   /* recorded shapes kept per cache; the least recently used one goes */
#define KV_PAD_MAX 4096 /* forwards of more rows (or output rows) are neither padded nor recorded */

/* One padded shape of the forward. It is run eagerly the first time, so that what a backend
 * makes on first use (matmul plans, kernel modules, attributes) is made outside a recording;
 * recorded the second time; replayed after. */
typedef struct kv_graph {
    int n, n_out;  /* the padded shape; n == 0: a free entry */
    void *graph;   /* the recorded forward; NULL while it has only run eagerly */
    uint64_t used; /* kv->clock at its last use */
} kv_graph;

struct sbti_kv_cache {
    sbt_model *m;
    int max_seqs, max_len, page_size, n_pages, max_pages;
    size_t kv_dim;     /* nkv * hd */
    size_t n_slots;    /* (n_pages + 1) * page_size: the pages, then the dummy sequence's page */
    void *k, *v;       /* (L, n_slots, kv_dim) ACT */
    int32_t *ref;      /* [n_pages] holders of each page */
    int32_t *free_pg;  /* [n_pages] stack of free pages  */
    int n_free;
    int32_t *table;    /* [(max_seqs + 1) * max_pages], -1 = none; row max_seqs: the dummies' */
    int32_t *len;      /* [max_seqs] */
    int32_t *old_len;  /* [max_seqs] lengths before a forward, to undo it on failure */
    int32_t *d_table;  /* device copy of table: rows of the sequences of a forward are sent
                        * when they changed (dirty) */
    uint8_t *dirty;    /* [max_seqs] the row differs from the device's copy */
    /* per-call scratch, device, for cap tokens and cap_out output rows */
    int cap, cap_out;
    int32_t *d_i32;    /* (4 * cap + cap_out) I32: a forward of n tokens and n_out output rows
                        * sends its ids, sequences, positions, slots (n each) and output rows
                        * (n_out) in one upload, one after the other */
    int32_t *h_i32;    /* [4 * cap + cap_out] their host image */
    void *x, *ln, *qkv, *att, *gu, *h; /* (cap, C|C|qkv|att|2I|I) ACT */
    void *xr, *lnr, *logits;           /* (cap_out, C|C|ld) ACT, ld = sbti_logits_ld */
    /* graphs */
    sbti_kv_mode mode;
    int can_record;                    /* the backend has graph operations */
    kv_graph graphs[KV_GRAPHS];
    uint64_t clock;
    sbti_kv_stats stats;
};

/* Graphs read the scratch buffers by address: they go whenever the buffers do. */
static void drop_graphs(sbti_kv_cache *kv)
{
    sbti_backend *be = kv->m->be;
    for (int i = 0; i < KV_GRAPHS; i++) {
        if (kv->graphs[i].graph)
            be->ops->graph_free(be, kv->graphs[i].graph);
        memset(&kv->graphs[i], 0, sizeof kv->graphs[i]);
    }
    kv->stats.graphs = 0;
}

static void free_scratch(sbti_kv_cache *kv)
{
    sbti_backend *be = kv->m->be;
    drop_graphs(kv);
    void *bufs[] = {kv->d_i32, kv->x, kv->ln, kv->qkv, kv->att,
                    kv->gu,    kv->h, kv->xr, kv->lnr, kv->logits};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        be->ops->free(be, bufs[i]);
    free(kv->h_i32);
    kv->d_i32 = kv->h_i32 = NULL;
    kv->x = kv->ln = kv->qkv = kv->att = kv->gu = kv->h = kv->xr = kv->lnr = kv->logits = NULL;
    kv->cap = kv->cap_out = 0;
}

static sbt_status ensure_scratch(sbti_kv_cache *kv, int n, int n_out)
{
    if (n <= kv->cap && n_out <= kv->cap_out)
        return SBT_OK;
    const sbt_model *m = kv->m;
    sbti_backend *be = m->be;
    int cap = n > kv->cap ? n : kv->cap, cap_out = n_out > kv->cap_out ? n_out : kv->cap_out;
    if (cap_out < 1)
        cap_out = 1;
    free_scratch(kv);
    size_t N = (size_t)cap, R = (size_t)cap_out;
    struct {
        void **p;
        sbti_mem kind;
        size_t n;
    } want[] = {
        {(void **)&kv->d_i32, SBTI_MEM_I32, 4 * N + R},
        {&kv->x, SBTI_MEM_ACT, N * m->C},         {&kv->ln, SBTI_MEM_ACT, N * m->C},
        {&kv->qkv, SBTI_MEM_ACT, N * m->qkv_dim}, {&kv->att, SBTI_MEM_ACT, N * m->att_dim},
        {&kv->gu, SBTI_MEM_ACT, N * 2 * m->I},    {&kv->h, SBTI_MEM_ACT, N * m->I},
        {&kv->xr, SBTI_MEM_ACT, R * m->C},        {&kv->lnr, SBTI_MEM_ACT, R * m->C},
        {&kv->logits, SBTI_MEM_ACT, R * (size_t)sbti_logits_ld(m)},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        sbt_status st = be->ops->alloc(be, want[i].p, want[i].kind, want[i].n);
        if (st != SBT_OK) {
            free_scratch(kv);
            return st;
        }
    }
    kv->h_i32 = malloc(sizeof *kv->h_i32 * (4 * N + R));
    if (!kv->h_i32) {
        free_scratch(kv);
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "kv cache: out of memory");
    }
    kv->cap = cap;
    kv->cap_out = cap_out;
    return SBT_OK;
}

sbt_status sbti_kv_create(sbti_kv_cache **out, sbt_model *m, int max_seqs, int max_len,
                          int page_size, int n_pages)
{
    *out = NULL;
    if (max_seqs < 1 || max_len < 1 || page_size < 1 || n_pages < 1 ||
        ((int64_t)n_pages + 1) * page_size > INT32_MAX)
        return sbti_fail(SBT_E_INVALID_ARGUMENT,
                         "kv cache: max_seqs %d, max_len %d, page_size %d, n_pages %d: each "
                         "must be at least 1 and (n_pages + 1) * page_size below 2^31 (one "
                         "more page pads forwards)",
                         max_seqs, max_len, page_size, n_pages);
    sbti_kv_cache *kv = calloc(1, sizeof *kv);
    if (!kv)
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "kv cache: out of memory");
    kv->m = m;
    kv->max_seqs = max_seqs;
    kv->max_len = max_len;
    kv->page_size = page_size;
    kv->n_pages = n_pages;
    kv->max_pages = (max_len + page_size - 1) / page_size;
    kv->kv_dim = (size_t)m->nkv * m->hd;
    kv->n_slots = ((size_t)n_pages + 1) * page_size;
    size_t n_table = ((size_t)max_seqs + 1) * kv->max_pages;
    kv->ref = calloc((size_t)n_pages, sizeof *kv->ref);
    kv->free_pg = malloc(sizeof *kv->free_pg * (size_t)n_pages);
    kv->table = malloc(sizeof *kv->table * n_table);
    kv->len = calloc((size_t)max_seqs, sizeof *kv->len);
    kv->old_len = malloc(sizeof *kv->old_len * (size_t)max_seqs);
    kv->dirty = malloc((size_t)max_seqs);
    sbti_backend *be = m->be;
    sbt_status st = SBT_OK;
    if (!kv->ref || !kv->free_pg || !kv->table || !kv->len || !kv->old_len || !kv->dirty)
        st = sbti_fail(SBT_E_OUT_OF_MEMORY, "kv cache: out of memory");
    size_t pool = (size_t)m->L * kv->n_slots * kv->kv_dim;
    if (st == SBT_OK)
        st = be->ops->alloc(be, &kv->k, SBTI_MEM_ACT, pool);
    if (st == SBT_OK)
        st = be->ops->alloc(be, &kv->v, SBTI_MEM_ACT, pool);
    if (st == SBT_OK)
        st = be->ops->alloc(be, (void **)&kv->d_table, SBTI_MEM_I32, n_table);
    if (st == SBT_OK) {
        for (size_t i = 0; i < n_table; i++)
            kv->table[i] = -1;
        size_t dummy = (size_t)max_seqs * kv->max_pages;
        kv->table[dummy] = n_pages;
        st = be->ops->upload(be, kv->d_table, SBTI_MEM_I32, dummy, kv->table + dummy, SBTI_F32,
                             (size_t)kv->max_pages);
    }
    if (st != SBT_OK) {
        sbti_kv_free(kv);
        return st;
    }
    memset(kv->dirty, 1, (size_t)max_seqs);
    const char *env = getenv("SBT_CUDA_GRAPHS");
    kv->mode = env && strcmp(env, "0") == 0 ? SBTI_KV_EAGER : SBTI_KV_GRAPHS;
    kv->can_record = be->ops->graph_begin && be->ops->graph_end && be->ops->graph_launch &&
                     be->ops->graph_free;
    for (int p = 0; p < n_pages; p++) /* page 0 on top of the stack */
        kv->free_pg[p] = n_pages - 1 - p;
    kv->n_free = n_pages;
    *out = kv;
    return SBT_OK;
}

void sbti_kv_free(sbti_kv_cache *kv)
{
    if (!kv)
        return;
    sbti_backend *be = kv->m->be;
    free_scratch(kv);
    be->ops->free(be, kv->k);
    be->ops->free(be, kv->v);
    be->ops->free(be, kv->d_table);
    free(kv->ref);
    free(kv->free_pg);
    free(kv->table);
    free(kv->len);
    free(kv->old_len);
    free(kv->dirty);
    free(kv);
}

void sbti_kv_set_mode(sbti_kv_cache *kv, sbti_kv_mode mode)
{
    kv->mode = mode;
}

sbti_kv_stats sbti_kv_get_stats(const sbti_kv_cache *kv)
{
    return kv->stats;
}

int sbti_kv_seq_len(const sbti_kv_cache *kv, int seq)
{
    return kv->len[seq];
}

static void release_page(sbti_kv_cache *kv, int32_t *entry)
{
    if (*entry < 0)
        return;
    if (--kv->ref[*entry] == 0)
        kv->free_pg[kv->n_free++] = *entry;
    *entry = -1;
}

void sbti_kv_seq_truncate(sbti_kv_cache *kv, int seq, int len)
{
    if (len < 0)
        len = 0;
    if (len > kv->len[seq])
        return;
    int32_t *t = kv->table + (size_t)seq * kv->max_pages;
    for (int p = (len + kv->page_size - 1) / kv->page_size; p < kv->max_pages; p++)
        release_page(kv, &t[p]);
    kv->dirty[seq] = 1;
    kv->len[seq] = len;
}

void sbti_kv_seq_reset(sbti_kv_cache *kv, int seq)
{
    sbti_kv_seq_truncate(kv, seq, 0);
}

void sbti_kv_seq_fork(sbti_kv_cache *kv, int dst, int src)
{
    if (dst == src)
        return;
    sbti_kv_seq_reset(kv, dst);
    const int32_t *ts = kv->table + (size_t)src * kv->max_pages;
    int32_t *td = kv->table + (size_t)dst * kv->max_pages;
    for (int p = 0; p < kv->max_pages; p++) {
        td[p] = ts[p];
        if (td[p] >= 0)
            kv->ref[td[p]]++;
    }
    kv->len[dst] = kv->len[src];
    kv->dirty[dst] = 1;
}

/* Makes position pos of seq writable: a page there that this sequence alone holds. */
static sbt_status writable_page(sbti_kv_cache *kv, int seq, int pos)
{
    int32_t *entry = kv->table + (size_t)seq * kv->max_pages + pos / kv->page_size;
    if (*entry >= 0 && kv->ref[*entry] == 1)
        return SBT_OK;
    if (kv->n_free == 0)
        return sbti_fail(SBT_E_OUT_OF_MEMORY,
                         "kv cache: all %d pages of %d positions are in use (sequence %d at "
                         "position %d); make the cache larger or the batch smaller",
                         kv->n_pages, kv->page_size, seq, pos);
    int32_t page = kv->free_pg[--kv->n_free];
    kv->ref[page] = 1;
    if (*entry >= 0) { /* shared: copy the page in every layer, then let go of it */
        sbti_backend *be = kv->m->be;
        size_t n = (size_t)kv->page_size * kv->kv_dim;
        size_t layer = kv->n_slots * kv->kv_dim;
        for (int l = 0; l < kv->m->L; l++) {
            size_t from = l * layer + (size_t)*entry * n, to = l * layer + (size_t)page * n;
            be->ops->copy(be, sbti_at(be, kv->k, SBTI_MEM_ACT, to),
                          sbti_at(be, kv->k, SBTI_MEM_ACT, from), SBTI_MEM_ACT, n);
            be->ops->copy(be, sbti_at(be, kv->v, SBTI_MEM_ACT, to),
                          sbti_at(be, kv->v, SBTI_MEM_ACT, from), SBTI_MEM_ACT, n);
        }
        release_page(kv, entry);
    }
    *entry = page;
    kv->dirty[seq] = 1;
    return SBT_OK;
}

/* Host work of a forward: checks, positions and slots, pages made writable. On failure the
 * sequences are put back to their old lengths. */
static sbt_status place_tokens(sbti_kv_cache *kv, const int32_t *ids, const int32_t *seq, int n,
                               int32_t *pos, int32_t *slot, int32_t *old_len, int lo, int hi)
{
    const sbt_model *m = kv->m;
    for (int i = 0; i < n; i++) {
        if (seq[i] < 0 || seq[i] >= kv->max_seqs)
            return sbti_fail(SBT_E_INVALID_ARGUMENT,
                             "kv cache: token %d names sequence %d; there are %d", i, seq[i],
                             kv->max_seqs);
        if (ids[i] < 0 || ids[i] >= m->V)
            return sbti_fail(SBT_E_INVALID_ARGUMENT,
                             "kv cache: token id %d (token %d) is outside the vocabulary of %d",
                             ids[i], i, m->V);
    }
    memcpy(old_len, kv->len + lo, sizeof *old_len * (size_t)(hi - lo + 1));
    sbt_status st = SBT_OK;
    for (int i = 0; i < n && st == SBT_OK; i++) {
        int s = seq[i], p = kv->len[s];
        if (p >= kv->max_len) {
            st = sbti_fail(SBT_E_INVALID_ARGUMENT,
                           "kv cache: sequence %d is full (%d positions)", s, kv->max_len);
            break;
        }
        st = writable_page(kv, s, p);
        if (st != SBT_OK)
            break;
        pos[i] = p;
        slot[i] = kv->table[(size_t)s * kv->max_pages + p / kv->page_size] * kv->page_size +
                  p % kv->page_size;
        kv->len[s] = p + 1;
    }
    if (st != SBT_OK)
        for (int s = lo; s <= hi; s++)
            sbti_kv_seq_truncate(kv, s, old_len[s - lo]);
    return st;
}

/* The rows a forward of n rows (or output rows) is padded to: multiples of 8 up to 64, of 32 up
 * to 512 and of 128 up to KV_PAD_MAX. Up to 64 rows a step is bound by launches and weight
 * reads, so 7 dummy rows cost next to nothing; beyond, the waste stays under a third of the
 * rows (under a fifth past 512). Big steps are recorded too: a batch of searches runs hundreds
 * of steps of the same thousands of rows, and their host time (a few hundred launches, about
 * 1 ms at Llama-3.2-1B) would otherwise add to every step. 50 shapes cover 1..4096; a forward
 * of more rows (a long prefill) runs unpadded and unrecorded. */
static int bucket(int n)
{
    return n <= 64 ? (n + 7) / 8 * 8 : n <= 512 ? (n + 31) / 32 * 32 : (n + 127) / 128 * 128;
}

/* Queues the forward of n tokens and n_out output rows on the scratch buffers, whose inputs
 * (d_i32, d_table) are uploaded: nothing here reads the host arrays, allocates or waits, so
 * that it can be recorded. */
static void queue_forward(sbti_kv_cache *kv, int n, int n_out)
{
    sbt_model *m = kv->m;
    sbti_backend *be = m->be;
    const sbti_backend_ops *op = be->ops;
    const int C = m->C, I = m->I;
    const float eps = (float)m->cfg.rms_norm_eps;
    const size_t layer = kv->n_slots * kv->kv_dim;
    /* d_i32 as the forward laid it out: (n) I32 each, then (n_out) I32 */
    const int32_t *tok = kv->d_i32;
    const int32_t *seq = sbti_at(be, tok, SBTI_MEM_I32, (size_t)n);
    const int32_t *pos = sbti_at(be, tok, SBTI_MEM_I32, 2 * (size_t)n);
    const int32_t *slot = sbti_at(be, tok, SBTI_MEM_I32, 3 * (size_t)n);
    const int32_t *rows = sbti_at(be, tok, SBTI_MEM_I32, 4 * (size_t)n);
#define W(off) sbti_at(be, m->w, SBTI_MEM_PARAM, (off))
    op->embedding_fwd(be, kv->x, tok, W(m->off_embed), n, C);
    for (int l = 0; l < m->L; l++) {
        const sbti_layer_offsets *lo = &m->layer[l];
        void *kl = sbti_at(be, kv->k, SBTI_MEM_ACT, l * layer);
        void *vl = sbti_at(be, kv->v, SBTI_MEM_ACT, l * layer);
        op->rmsnorm_fwd(be, kv->ln, NULL, kv->x, W(lo->ln1), n, C, eps);
        op->matmul_fwd(be, kv->qkv, kv->ln, W(lo->qkv), NULL, n, C, m->qkv_dim);
        op->rope_fwd(be, kv->qkv, pos, m->inv_freq, n, m->nh, m->nkv, m->hd);
        op->kv_store(be, kl, vl, kv->qkv, slot, n, m->nh, m->nkv, m->hd);
        op->attention_paged(be, kv->att, kv->qkv, kl, vl, seq, pos, kv->d_table,
                            kv->max_pages, kv->page_size, n, m->nh, m->nkv, m->hd);
        op->matmul_fwd(be, kv->x, kv->att, W(lo->o), kv->x, n, m->att_dim, C);
        op->rmsnorm_fwd(be, kv->ln, NULL, kv->x, W(lo->ln2), n, C, eps);
        op->matmul_fwd(be, kv->gu, kv->ln, W(lo->gu), NULL, n, C, 2 * I);
        op->swiglu_fwd(be, kv->h, kv->gu, n, I);
        op->matmul_fwd(be, kv->x, kv->h, W(lo->down), kv->x, n, I, C);
    }
    if (n_out == 0)
        return;
    op->gather_rows(be, kv->xr, kv->x, rows, n_out, C);
    op->rmsnorm_fwd(be, kv->lnr, NULL, kv->xr, W(m->off_norm), n_out, C, eps);
    /* over ld >= V head rows (the weights have room, sbti_model_alloc_weights): an aligned
     * product, where V = 128,257 would make cuBLASLt take its slow align-1 kernels */
    op->matmul_fwd(be, kv->logits, kv->lnr, W(m->off_lm_head), NULL, n_out, C,
                   sbti_logits_ld(m));
#undef W
}

/* Runs the padded forward of shape (n, n_out) through the graph cache: eagerly for a shape not
 * seen yet (evicting the least recently used entry when full), recorded on its second call,
 * replayed after. */
static sbt_status run_graph(sbti_kv_cache *kv, int n, int n_out)
{
    sbti_backend *be = kv->m->be;
    const sbti_backend_ops *op = be->ops;
    kv_graph *g = NULL, *lru = &kv->graphs[0];
    for (int i = 0; i < KV_GRAPHS && !g; i++) {
        kv_graph *e = &kv->graphs[i];
        if (e->n == n && e->n_out == n_out)
            g = e;
        else if (e->used < lru->used)
            lru = e; /* a free entry has used = 0: it goes first */
    }
    kv->clock++;
    if (!g) {
        if (lru->graph) {
            op->graph_free(be, lru->graph);
            kv->stats.graphs--;
        }
        *lru = (kv_graph){.n = n, .n_out = n_out, .used = kv->clock};
        queue_forward(kv, n, n_out);
        kv->stats.eager++;
        return SBT_OK;
    }
    g->used = kv->clock;
    if (!g->graph) {
        sbt_status st = op->graph_begin(be);
        if (st != SBT_OK)
            return st;
        queue_forward(kv, n, n_out);
        st = op->graph_end(be, &g->graph);
        if (st != SBT_OK)
            return st;
        kv->stats.captures++;
        kv->stats.graphs++;
    }
    sbt_status st = op->graph_launch(be, g->graph);
    if (st == SBT_E_NOT_FOUND) { /* stale: run eagerly now, record again next time */
        op->graph_free(be, g->graph);
        g->graph = NULL;
        kv->stats.graphs--;
        kv->stats.stale++;
        queue_forward(kv, n, n_out);
        kv->stats.eager++;
        return SBT_OK;
    }
    kv->stats.replays++;
    return st;
}

sbt_status sbti_kv_forward_device(sbti_kv_cache *kv, const int32_t *ids, const int32_t *seq, int n,
                                  const int32_t *out_rows, int n_out, const void **logits)
{
    *logits = NULL;
    sbt_model *m = kv->m;
    sbti_backend *be = m->be;
    const sbti_backend_ops *op = be->ops;
    if (n < 1 || n_out < 0)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "kv cache: %d tokens, %d output rows", n, n_out);
    for (int k = 0; k < n_out; k++)
        if (out_rows[k] < 0 || out_rows[k] >= n)
            return sbti_fail(SBT_E_INVALID_ARGUMENT,
                             "kv cache: output row %d names token %d of %d", k, out_rows[k], n);
    /* the shape that runs: (np, nop), padded where graphs run (or a test asks for it) */
    int record = kv->mode == SBTI_KV_GRAPHS && kv->can_record;
    int pad = (record || kv->mode == SBTI_KV_PADDED) && n <= KV_PAD_MAX && n_out <= KV_PAD_MAX;
    int np = pad ? bucket(n) : n, nop = pad ? bucket(n_out) : n_out;
    sbt_status st = ensure_scratch(kv, np, nop);
    if (st != SBT_OK)
        return st;
    /* the sequences of this call lie in [first, last]: only their lengths are saved for an undo,
     * and only their changed page-table rows are sent */
    int first = kv->max_seqs, last = -1;
    for (int i = 0; i < n; i++)
        if (seq[i] >= 0 && seq[i] < kv->max_seqs) {
            first = seq[i] < first ? seq[i] : first;
            last = seq[i] > last ? seq[i] : last;
        }
    if (last < first)
        first = last = 0; /* every sequence id is bad: place_tokens says which */
    int32_t *tok = kv->h_i32, *sq = tok + np, *pos = tok + 2 * np, *slot = tok + 3 * np;
    int32_t *rows = tok + 4 * np;
    st = place_tokens(kv, ids, seq, n, pos, slot, kv->old_len, first, last);
    if (st != SBT_OK)
        return st;
    memcpy(tok, ids, sizeof *tok * (size_t)n);
    memcpy(sq, seq, sizeof *sq * (size_t)n);
    memcpy(rows, out_rows, sizeof *rows * (size_t)n_out);
    for (int i = n; i < np; i++) {
        tok[i] = 0;
        sq[i] = kv->max_seqs;
        pos[i] = 0;
        slot[i] = -1;
    }
    for (int k = n_out; k < nop; k++)
        rows[k] = 0;
    kv->stats.padded += np - n;
    int dlo = last + 1, dhi = first - 1; /* the dirty rows among [first, last] */
    for (int i = 0; i < n; i++)
        if (kv->dirty[seq[i]]) {
            dlo = seq[i] < dlo ? seq[i] : dlo;
            dhi = seq[i] > dhi ? seq[i] : dhi;
        }
    st = op->upload(be, kv->d_i32, SBTI_MEM_I32, 0, kv->h_i32, SBTI_F32,
                    4 * (size_t)np + (size_t)nop);
    if (st == SBT_OK && dlo <= dhi) {
        size_t row = (size_t)kv->max_pages;
        st = op->upload(be, kv->d_table, SBTI_MEM_I32, (size_t)dlo * row,
                        kv->table + (size_t)dlo * row, SBTI_F32, (size_t)(dhi - dlo + 1) * row);
        if (st == SBT_OK)
            for (int i = 0; i < n; i++)
                kv->dirty[seq[i]] = 0;
    }
    if (st != SBT_OK)
        return st;
    if (pad && record) {
        st = run_graph(kv, np, nop);
    } else {
        queue_forward(kv, np, nop);
        kv->stats.eager++;
    }
    if (st != SBT_OK)
        return st;
    if (n_out == 0)
        return sbti_backend_check(be);
    *logits = kv->logits;
    return SBT_OK;
}

sbt_status sbti_kv_forward(sbti_kv_cache *kv, const int32_t *ids, const int32_t *seq, int n,
                           const int32_t *out_rows, int n_out, float *logits)
{
    const void *dev;
    sbt_status st = sbti_kv_forward_device(kv, ids, seq, n, out_rows, n_out, &dev);
    if (st != SBT_OK || n_out == 0)
        return st;
    sbti_backend *be = kv->m->be;
    const size_t V = (size_t)kv->m->V, ld = (size_t)sbti_logits_ld(kv->m);
    if (ld == V)
        return be->ops->download(be, logits, dev, SBTI_MEM_ACT, 0, (size_t)n_out * V);
    float *rows = malloc(sizeof *rows * ld * (size_t)n_out); /* padded rows, then packed */
    if (!rows)
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "kv cache: out of memory (%d logits rows)", n_out);
    st = be->ops->download(be, rows, dev, SBTI_MEM_ACT, 0, (size_t)n_out * ld);
    for (int k = 0; st == SBT_OK && k < n_out; k++)
        memcpy(logits + (size_t)k * V, rows + (size_t)k * ld, sizeof *rows * V);
    free(rows);
    return st;
}
