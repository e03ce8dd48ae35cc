/* test_self_backtrack.c — the Self-Backtracking search's control flow (SPEC §4.2) on a scripted
 * fake model: a trie over whole scripted outputs gives each next token the summed weight of the
 * scripts that continue with it, so which beams exist, which get rolled back and what is found
 * is known exactly. Checks: candidates and selection, a rollback re-expanding a branch the first
 * expansion pruned, K (floor(sqrt(b)), floor(sqrt(n)), fixed), the root never re-expanded, the
 * visited set, the fallback, reference (summed) vs clean (max) aggregation, the hooks (goal
 * test, scorer, verifier), batch-size and seed determinism, errors and cancellation. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode/decoder_internal.h"
#include "selfbt/decoder.h"
#include "selfbt/tokenizer.h"

#include "check_main.h"

static sbt_tokenizer *tok;
static const char *PROMPT = "###Question: numbers [1, 2, 3, 4]->target 12\n###Response:\n";

/* ---- the scripted fake ------------------------------------------------------------------- */

typedef struct script {
    const char *response; /* without EOS */
    double weight;
} script;

#define MAX_SCRIPTS 16
typedef struct fake {
    int n;
    sbt_token ids[MAX_SCRIPTS][128];
    int len[MAX_SCRIPTS];
    double w[MAX_SCRIPTS];
    int V;
    sbt_token eos;
    int fail;   /* make the callback fail */
    long calls; /* next_logits calls */
} fake;

static void fake_init(fake *f, const script *s, int n)
{
    memset(f, 0, sizeof *f);
    f->V = sbt_tokenizer_n_vocab(tok);
    f->eos = sbt_tokenizer_eos(tok);
    f->n = n;
    for (int i = 0; i < n; i++) {
        size_t np = 0, nr = 0;
        ck_assert_int_eq(sbt_tokenizer_encode(tok, PROMPT, strlen(PROMPT), SBT_ENCODE_ADD_SPECIAL,
                                              f->ids[i], 128, &np), SBT_OK);
        ck_assert_int_eq(sbt_tokenizer_encode(tok, s[i].response, strlen(s[i].response), 0,
                                              f->ids[i] + np, 128 - np - 1, &nr), SBT_OK);
        f->ids[i][np + nr] = f->eos;
        f->len[i] = (int)(np + nr + 1);
        f->w[i] = s[i].weight;
    }
}

static int fake_logits(void *user, const sbt_token *const *seqs, const int32_t *lens, int32_t n,
                       float *logits)
{
    fake *f = user;
    f->calls++;
    if (f->fail)
        return 1;
    for (int32_t r = 0; r < n; r++) {
        float *x = logits + (size_t)r * f->V;
        double *mass = calloc((size_t)f->V, sizeof *mass);
        int any = 0;
        for (int s = 0; s < f->n; s++) {
            if (lens[r] >= f->len[s] || memcmp(seqs[r], f->ids[s], sizeof(sbt_token) * lens[r]))
                continue;
            mass[f->ids[s][lens[r]]] += f->w[s];
            any = 1;
        }
        if (!any)
            mass[f->eos] = 1; /* off script, or after EOS: EOS for ever (log p = 0) */
        for (int v = 0; v < f->V; v++)
            x[v] = mass[v] > 0 ? (float)log(mass[v]) : -INFINITY;
        free(mass);
    }
    return 0;
}

static void opts_exact(sbt_decoder_options *o, int n, int b)
{
    sbt_decoder_options_init(o);
    o->n = n;
    o->b = b;
    o->top_p = 1.0; /* every scripted continuation stays in play: beam-sample is exhaustive */
    o->top_k = 0;
}

static sbt_decode_results *run_fake(fake *f, const sbt_decoder_options *o, int n_prompts,
                                    const char *const *prompts)
{
    sbt_lm_callbacks cb = {sizeof cb, f->V, fake_logits, f};
    sbt_decoder *d = NULL;
    ck_assert_msg(sbt_decoder_create_custom(&d, &cb, tok, o) == SBT_OK, "%s", sbt_last_error());
    const char *one[1] = {PROMPT};
    sbt_decode_results *res = NULL;
    sbt_status st = sbt_decoder_run(d, prompts ? prompts : one, prompts ? n_prompts : 1, &res);
    ck_assert_msg(st == SBT_OK, "%s", sbt_last_error());
    sbt_decoder_free(d);
    return res;
}

static sbt_decode_result get(const sbt_decode_results *res, int64_t i)
{
    sbt_decode_result r;
    r.size = sizeof r;
    ck_assert_int_eq(sbt_decode_results_get(res, i, &r), SBT_OK);
    return r;
}

static int resp_tokens(const char *response)
{
    size_t n = 0;
    sbt_tokenizer_encode(tok, response, strlen(response), 0, NULL, 0, &n);
    return (int)n;
}

static void setup(void)
{
    ck_assert_int_eq(sbt_tokenizer_create_countdown(&tok), SBT_OK);
}

static void teardown(void)
{
    sbt_tokenizer_free(tok);
    tok = NULL;
}

/* ---- tests ------------------------------------------------------------------------------- */

START_TEST(b0_candidates_and_selection)
{
    script s[] = {{"1+2=3\n3*4=12\nGoal Reached!", 4},
                  {"1+2=3\n3+4=7\n<backtrack>", 3},
                  {"2*4=8\n8+1=9\nGoal Reached!", 2},
                  {"2*4=8\n8-1=7\n<backtrack>", 1}};
    fake f;
    fake_init(&f, s, 4);
    sbt_decoder_options o;
    opts_exact(&o, 4, 0);
    sbt_decode_results *res = run_fake(&f, &o, 0, NULL);
    sbt_decode_result r = get(res, 0);
    ck_assert_int_eq(r.found, 1);
    ck_assert_int_eq(r.n_expansions, 1);
    ck_assert_int_eq(r.n_backtracks, 0);
    ck_assert_int_eq(r.n_candidates, 2);
    ck_assert_int_eq(r.n_unique, 2);
    ck_assert_int_eq(r.ended_with_eos, 1);
    ck_assert_msg(strstr(r.text, "###Response:\n1+2=3\n3*4=12\nGoal Reached!<|end_of_text|>"),
                  "%s", r.text);
    ck_assert_msg(strncmp(r.text, "<|begin_of_text|>###Question", 28) == 0, "%s", r.text);
    /* reference score: log p of the whole response over the padded length of the batch:
     * the longest hypothesis plus its EOS; EOS padding has log p 0 here */
    int longest = 0;
    for (int i = 0; i < 4; i++)
        if (resp_tokens(s[i].response) > longest)
            longest = resp_tokens(s[i].response);
    double want = log(0.4) / (longest + 1);
    ck_assert_msg(fabs(r.score - want) < 1e-5, "score %.8f, want %.8f", r.score, want);
    ck_assert_int_eq(r.verdict, -1);
    sbt_decode_stats st;
    st.size = sizeof st;
    ck_assert_int_eq(sbt_decode_results_stats(res, &st), SBT_OK);
    ck_assert_int_eq(st.prompts, 1);
    ck_assert_int_eq(st.expansions, 1);
    ck_assert(st.generated_tokens > 30);
    ck_assert(st.forward_calls > 10);
    sbt_decode_results_free(res);

    /* clean scoring: mean log p over the response and its EOS */
    o.scoring = SBT_SCORE_CLEAN;
    res = run_fake(&f, &o, 0, NULL);
    r = get(res, 0);
    want = log(0.4) / (resp_tokens(s[0].response) + 1);
    ck_assert_msg(fabs(r.score - want) < 1e-5, "clean score %.8f, want %.8f", r.score, want);
    sbt_decode_results_free(res);
}
END_TEST

/* N = 2: at the operator after "1+2=3\n3" the branch "*" (p .06) loses its beam to the "5"
 * branch (p .4), so the first expansion finds no goal; rolling "1+2=3\n3+4=7\n<backtrack>" back
 * to "1+2=3\n" and expanding again finds "3*4=12". */
static const script crowd[] = {{"1+2=3\n3+4=7\n<backtrack>", 0.54},
                               {"1+2=3\n3*4=12\nGoal Reached!", 0.06},
                               {"5+5=10\n10+10=20\n<backtrack>", 0.40}};

START_TEST(rollback_reexpands_what_the_first_expansion_pruned)
{
    fake f;
    fake_init(&f, crowd, 3);
    sbt_decoder_options o;
    opts_exact(&o, 2, 1);
    sbt_decode_results *res = run_fake(&f, &o, 0, NULL);
    sbt_decode_result r = get(res, 0);
    ck_assert_int_eq(r.found, 1);
    ck_assert_int_eq(r.n_expansions, 2);
    ck_assert_int_eq(r.n_backtracks, 1);
    ck_assert_int_eq(r.n_candidates, 1);
    ck_assert_msg(strstr(r.text, "\n###Response:\n1+2=3\n3*4=12\nGoal Reached!"), "%s", r.text);
    sbt_decode_results_free(res);

    /* b = 0: nothing found; the fallback is the best beam of the (only) expansion */
    opts_exact(&o, 2, 0);
    res = run_fake(&f, &o, 0, NULL);
    r = get(res, 0);
    ck_assert_int_eq(r.found, 0);
    ck_assert_int_eq(r.n_expansions, 1);
    ck_assert_int_eq(r.n_candidates, 0);
    ck_assert(isnan(r.score));
    ck_assert_msg(strstr(r.text, "###Response:\n1+2=3\n3+4=7\n<backtrack><|end_of_text|>"), "%s",
                  r.text);
    sbt_decode_results_free(res);
}
END_TEST

START_TEST(width_k_rollbacks_per_round)
{
    fake f;
    fake_init(&f, crowd, 3);
    sbt_decoder_options o;
    opts_exact(&o, 2, 1);
    o.width = SBT_WIDTH_FIXED;
    o.k = 2; /* both backtracking beams are rolled back and expanded */
    sbt_decode_results *res = run_fake(&f, &o, 0, NULL);
    sbt_decode_result r = get(res, 0);
    ck_assert_int_eq(r.n_expansions, 3);
    ck_assert_int_eq(r.n_backtracks, 2);
    ck_assert_int_eq(r.found, 1);
    sbt_decode_results_free(res);

    o.width = SBT_WIDTH_SQRT_N; /* floor(sqrt(4)) = 2 with n = 4: every beam fits, nothing pruned */
    o.n = 4;
    res = run_fake(&f, &o, 0, NULL);
    r = get(res, 0);
    ck_assert_int_eq(r.n_expansions, 3);
    ck_assert_int_eq(r.n_backtracks, 2);
    ck_assert_int_eq(r.n_candidates, 2); /* found in round 0 and again from "1+2=3\n" */
    ck_assert_int_eq(r.n_unique, 1);
    sbt_decode_results_free(res);

    o.width = SBT_WIDTH_SQRT_B; /* floor(sqrt(3)) = 1 per round, up to 3 rounds */
    o.b = 3;
    o.n = 2;
    res = run_fake(&f, &o, 0, NULL);
    r = get(res, 0);
    /* round 0 rolls back to "1+2=3\n"; round 1 from there finds the goal and its backtracking
     * beam rolls back to "1+2=3\n" again: visited, so round 2 never starts */
    ck_assert_int_eq(r.n_expansions, 2);
    ck_assert_int_eq(r.found, 1);
    sbt_decode_results_free(res);
}
END_TEST

START_TEST(root_is_never_reexpanded)
{
    /* the best backtracking beam rolls back to the prompt: skipped, and it does not use up K */
    script s[] = {{"5+5=10\n<backtrack>", 0.8}, {"1+2=3\n3+4=7\n<backtrack>", 0.2}};
    fake f;
    fake_init(&f, s, 2);
    sbt_decoder_options o;
    opts_exact(&o, 2, 1);
    sbt_decode_results *res = run_fake(&f, &o, 0, NULL);
    sbt_decode_result r = get(res, 0);
    ck_assert_int_eq(r.n_expansions, 2);
    ck_assert_int_eq(r.n_backtracks, 1);
    ck_assert_int_eq(r.found, 0);
    sbt_decode_results_free(res);

    fake_init(&f, s, 1); /* only the first-step error: nothing to re-expand */
    res = run_fake(&f, &o, 0, NULL);
    r = get(res, 0);
    ck_assert_int_eq(r.n_expansions, 1);
    ck_assert_int_eq(r.n_backtracks, 0);
    ck_assert_msg(strstr(r.text, "Response:\n5+5=10\n<backtrack>"), "%s", r.text);
    sbt_decode_results_free(res);
}
END_TEST

START_TEST(visited_states_are_expanded_once)
{
    script s[] = {{"1+2=3\n3+4=7\n<backtrack>", 0.5}, {"1+2=3\n3-1=2\n<backtrack>", 0.5}};
    fake f;
    fake_init(&f, s, 2);
    sbt_decoder_options o;
    opts_exact(&o, 2, 2);
    o.width = SBT_WIDTH_FIXED;
    o.k = 2;
    sbt_decode_results *res = run_fake(&f, &o, 0, NULL);
    sbt_decode_result r = get(res, 0);
    /* both roll back to "1+2=3\n": one state; its expansion gives the same two beams, whose
     * rollback is visited: no third expansion although b = 2 */
    ck_assert_int_eq(r.n_expansions, 2);
    ck_assert_int_eq(r.n_backtracks, 1);
    sbt_decode_results_free(res);
}
END_TEST

/* G1 is found in round 0 and again after the rollback to "1+2=3\n"; G2 once. The reference
 * aggregation sums the (negative) scores, so the repeated G1 loses; clean takes the max. */
static const script agg[] = {{"1+2=3\n3*4=12\nGoal Reached!", 0.35},
                             {"1+2=3\n3+4=7\n<backtrack>", 0.35},
                             {"2*3=6\n6*2=12\nGoal Reached!", 0.30}};

START_TEST(aggregation_reference_sums_clean_takes_max)
{
    fake f;
    fake_init(&f, agg, 3);
    sbt_decoder_options o;
    opts_exact(&o, 4, 1);
    sbt_decode_results *res = run_fake(&f, &o, 0, NULL);
    sbt_decode_result r = get(res, 0);
    ck_assert_int_eq(r.n_candidates, 3);
    ck_assert_int_eq(r.n_unique, 2);
    ck_assert_msg(strstr(r.text, "Response:\n2*3=6\n6*2=12\nGoal Reached!"), "%s", r.text);
    int longest = resp_tokens(agg[0].response); /* all three have this many tokens */
    double g1 = log(0.35) / (longest + 1);
    ck_assert_msg(r.score < g1, "%g", r.score);
    ck_assert_msg(fabs(r.score - log(0.30) / (longest + 1)) < 1e-5, "%g", r.score);
    sbt_decode_results_free(res);

    o.scoring = SBT_SCORE_CLEAN;
    res = run_fake(&f, &o, 0, NULL);
    r = get(res, 0);
    ck_assert_int_eq(r.n_unique, 2);
    ck_assert_msg(strstr(r.text, "Response:\n1+2=3\n3*4=12\nGoal Reached!"), "%s", r.text);
    ck_assert_msg(fabs(r.score - g1) < 1e-5, "%g vs %g", r.score, g1);
    sbt_decode_results_free(res);
}
END_TEST

static int goal_twelve(void *u, const char *resp, size_t len)
{
    (void)u;
    for (size_t i = 0; i + 4 <= len; i++)
        if (memcmp(resp + i, "=12\n", 4) == 0)
            return 1;
    return 0;
}

static double prefer_g2(void *u, const sbt_search_beam *b)
{
    ck_assert_int_eq((int)b->size, (int)sizeof *b);
    ck_assert(b->prompt_tokens > 0 && b->n_tokens > b->prompt_tokens);
    ck_assert(b->logprobs[b->prompt_tokens] <= 0);
    ++*(int *)u;
    return memchr(b->response, '6', b->response_len) ? 1.0 : -1.0;
}

static int verify_not_g1(void *u, int64_t i, const char *text, size_t len)
{
    (void)u;
    ck_assert_int_eq((int)i, 0);
    ck_assert_uint_eq(len, strlen(text));
    return strstr(text, "3*4=12") == NULL;
}

START_TEST(hooks_goal_score_verify)
{
    fake f;
    fake_init(&f, agg, 3);
    sbt_decoder_options o;
    opts_exact(&o, 4, 0);
    o.scoring = SBT_SCORE_CLEAN;
    int calls = 0;
    sbt_search_hooks h;
    sbt_search_hooks_init(&h);
    h.is_goal = goal_twelve;
    h.score = prefer_g2;
    h.user_data = &calls;
    o.hooks = &h;
    sbt_decode_results *res = run_fake(&f, &o, 0, NULL);
    sbt_decode_result r = get(res, 0);
    ck_assert_int_eq(calls, 2);
    ck_assert_msg(strstr(r.text, "6*2=12"), "%s", r.text);
    ck_assert_msg(fabs(r.score - 1.0) < 1e-12, "%g", r.score);
    sbt_decode_results_free(res);

    /* verifier: the verdict of the output, and with verify_candidates a filter */
    sbt_search_hooks_init(&h);
    h.verify = verify_not_g1;
    res = run_fake(&f, &o, 0, NULL);
    r = get(res, 0);
    ck_assert_msg(strstr(r.text, "3*4=12"), "%s", r.text); /* the best by score */
    ck_assert_int_eq(r.verdict, 0);
    sbt_decode_results_free(res);
    o.verify_candidates = 1;
    res = run_fake(&f, &o, 0, NULL);
    r = get(res, 0);
    ck_assert_msg(strstr(r.text, "6*2=12"), "%s", r.text);
    ck_assert_int_eq(r.verdict, 1);
    ck_assert_int_eq(r.n_candidates, 1);
    sbt_decode_results_free(res);

    /* another step delimiter and goal marker: ';'-separated steps, "DONE" */
    script t[] = {{"1+2=3;3+4=7;<backtrack>", 0.7}, {"1+2=3;3*4=12;DONE", 0.3}};
    fake_init(&f, t, 2);
    sbt_search_hooks_init(&h);
    h.step_delimiter = ";";
    h.goal_marker = "DONE";
    opts_exact(&o, 1, 1);
    o.hooks = &h;
    res = run_fake(&f, &o, 0, NULL);
    r = get(res, 0);
    ck_assert_int_eq(r.n_expansions, 2);
    ck_assert_int_eq(r.found, 0); /* n = 1 follows the likelier branch again from "1+2=3;" */
    sbt_decode_results_free(res);
    o.n = 2;
    res = run_fake(&f, &o, 0, NULL);
    r = get(res, 0);
    ck_assert_int_eq(r.found, 1);
    ck_assert_msg(strstr(r.text, "3*4=12;DONE"), "%s", r.text);
    sbt_decode_results_free(res);
}
END_TEST

/* A pseudo-random model: the logits of a few Countdown tokens are a hash of the history. */
typedef struct hashlm {
    int V;
    sbt_token allowed[12];
    int n_allowed;
} hashlm;

static int hash_logits(void *user, const sbt_token *const *seqs, const int32_t *lens, int32_t n,
                       float *logits)
{
    hashlm *h = user;
    for (int32_t r = 0; r < n; r++) {
        float *x = logits + (size_t)r * h->V;
        for (int v = 0; v < h->V; v++)
            x[v] = -INFINITY;
        uint64_t k = 1469598103934665603ull;
        for (int32_t t = 0; t < lens[r]; t++)
            k = (k ^ (uint64_t)seqs[r][t]) * 1099511628211ull;
        for (int a = 0; a < h->n_allowed; a++) {
            uint64_t z = (k ^ (uint64_t)(a + 1) * 0x9e3779b97f4a7c15ull) * 0xbf58476d1ce4e5b9ull;
            z ^= z >> 31;
            x[h->allowed[a]] = (float)((double)(z % 1000) / 250.0);
        }
    }
    return 0;
}

static void hashlm_init(hashlm *h)
{
    const char *toks[] = {"1", "2", "+", "=", "\n", "<backtrack>", "Goal", " Reached", "!"};
    h->V = sbt_tokenizer_n_vocab(tok);
    h->n_allowed = 0;
    for (int i = 0; i < 9; i++) {
        size_t n = 0;
        sbt_token id;
        ck_assert_int_eq(sbt_tokenizer_encode(tok, toks[i], strlen(toks[i]), 0, &id, 1, &n), SBT_OK);
        h->allowed[h->n_allowed++] = id;
    }
    h->allowed[h->n_allowed++] = sbt_tokenizer_eos(tok);
}

static sbt_decode_results *run_hash(const sbt_decoder_options *o, int recompute)
{
    static hashlm h;
    hashlm_init(&h);
    sbt_lm_callbacks cb = {sizeof cb, h.V, hash_logits, &h};
    sbt_decoder *d = NULL;
    ck_assert_msg(sbt_decoder_create_custom(&d, &cb, tok, o) == SBT_OK, "%s", sbt_last_error());
    sbti_decoder_set_recompute(d, recompute);
    char buf[7][96];
    const char *p[7];
    for (int i = 0; i < 7; i++) {
        snprintf(buf[i], sizeof buf[i], "###Question: numbers [%d, 2, 3, 4]->target %d\n###Response:\n",
                 i + 1, 10 + i);
        p[i] = buf[i];
    }
    sbt_decode_results *res = NULL;
    ck_assert_msg(sbt_decoder_run(d, p, 7, &res) == SBT_OK, "%s", sbt_last_error());
    sbt_decoder_free(d);
    return res;
}

static void same_results(const sbt_decode_results *a, const sbt_decode_results *b)
{
    ck_assert_int_eq(sbt_decode_results_count(a), sbt_decode_results_count(b));
    for (int64_t i = 0; i < sbt_decode_results_count(a); i++) {
        sbt_decode_result x = get(a, i), y = get(b, i);
        ck_assert_str_eq(x.text, y.text);
        ck_assert_int_eq(x.n_expansions, y.n_expansions);
        ck_assert_int_eq(x.n_candidates, y.n_candidates);
        ck_assert_int_eq(x.generated_tokens, y.generated_tokens);
        ck_assert(x.score == y.score || (isnan(x.score) && isnan(y.score)));
    }
}

START_TEST(deterministic_for_a_seed_whatever_the_batch)
{
    for (int e = 0; e < 2; e++) {
        sbt_decoder_options o;
        sbt_decoder_options_init(&o);
        o.n = 6;
        o.b = 2;
        o.width = SBT_WIDTH_FIXED;
        o.k = 2;
        o.top_k = 6;
        o.expansion = e ? SBT_DECODE_SAMPLE : SBT_DECODE_BEAM_SAMPLE;
        o.batch = 1;
        sbt_decode_results *a = run_hash(&o, 0);
        o.batch = 3;
        sbt_decode_results *b = run_hash(&o, 0);
        o.batch = 16;
        sbt_decode_results *c = run_hash(&o, 1);
        same_results(a, b);
        same_results(a, c);
        int bts = 0, expansions = 0;
        for (int i = 0; i < 7; i++) {
            bts += get(a, i).n_backtracks;
            expansions += get(a, i).n_expansions;
        }
        ck_assert_msg(bts > 0, "the random model never backtracked: a weak test");
        ck_assert_int_le(expansions, 7 * (1 + 2 * 2));
        o.seed = 5; /* another seed, other samples */
        sbt_decode_results *s = run_hash(&o, 0);
        int differ = 0;
        for (int i = 0; i < 7; i++)
            differ += strcmp(get(a, i).text, get(s, i).text) != 0;
        ck_assert_int_gt(differ, 0);
        sbt_decode_results_free(a);
        sbt_decode_results_free(b);
        sbt_decode_results_free(c);
        sbt_decode_results_free(s);
    }
}
END_TEST

static int cancel_after_two(const char *what, int64_t done, int64_t total, void *u)
{
    ck_assert_str_eq(what, "decode");
    ck_assert_int_eq(total, 7);
    *(int64_t *)u = done;
    return done >= 2;
}

START_TEST(errors_and_cancel)
{
    sbt_decoder_options o;
    sbt_decoder_options_init(&o);
    fake f;
    fake_init(&f, agg, 3);
    sbt_lm_callbacks cb = {sizeof cb, f.V, fake_logits, &f};
    sbt_decoder *d = NULL;
    o.n = 0;
    ck_assert_int_eq(sbt_decoder_create_custom(&d, &cb, tok, &o), SBT_E_INVALID_ARGUMENT);
    ck_assert_ptr_null(d);
    ck_assert_msg(strstr(sbt_last_error(), "n (1..4096)"), "%s", sbt_last_error());
    sbt_decoder_options_init(&o);
    o.top_p = 1.5;
    ck_assert_int_eq(sbt_decoder_create_custom(&d, &cb, tok, &o), SBT_E_INVALID_ARGUMENT);
    ck_assert_msg(strstr(sbt_last_error(), "top_p"), "%s", sbt_last_error());
    sbt_decoder_options_init(&o);
    sbt_search_hooks h;
    sbt_search_hooks_init(&h);
    h.backtrack_token = "<nope>";
    o.hooks = &h;
    ck_assert_int_eq(sbt_decoder_create_custom(&d, &cb, tok, &o), SBT_E_NOT_FOUND);
    ck_assert_msg(strstr(sbt_last_error(), "<nope>"), "%s", sbt_last_error());
    o.hooks = NULL;
    sbt_lm_callbacks bad = cb;
    bad.next_logits = NULL;
    ck_assert_int_eq(sbt_decoder_create_custom(&d, &bad, tok, &o), SBT_E_INVALID_ARGUMENT);
    ck_assert_int_eq(sbt_decoder_create(&d, NULL, tok, &o), SBT_E_INVALID_ARGUMENT);

    ck_assert_int_eq(sbt_decoder_create_custom(&d, &cb, tok, &o), SBT_OK);
    sbt_decode_results *res = NULL;
    const char *p[1] = {PROMPT};
    f.fail = 1;
    ck_assert_int_eq(sbt_decoder_run(d, p, 1, &res), SBT_E_BACKEND);
    ck_assert_ptr_null(res);
    f.fail = 0;
    ck_assert_int_eq(sbt_decoder_run(d, p, 0, &res), SBT_OK); /* nothing to do */
    ck_assert_int_eq(sbt_decode_results_count(res), 0);
    sbt_decode_results_free(res);
    sbt_decoder_free(d);

    /* cancel */
    hashlm hl;
    hashlm_init(&hl);
    sbt_lm_callbacks hc = {sizeof hc, hl.V, hash_logits, &hl};
    int64_t seen = 0;
    sbt_decoder_options_init(&o);
    o.n = 4;
    o.batch = 2;
    o.progress = cancel_after_two;
    o.progress_user_data = &seen;
    ck_assert_int_eq(sbt_decoder_create_custom(&d, &hc, tok, &o), SBT_OK);
    const char *seven[7];
    for (int i = 0; i < 7; i++)
        seven[i] = PROMPT;
    ck_assert_int_eq(sbt_decoder_run(d, seven, 7, &res), SBT_E_CANCELLED);
    ck_assert_ptr_null(res);
    ck_assert_int_eq(seen, 2);
    sbt_decoder_free(d);
    sbt_decoder_free(NULL);
    sbt_decode_results_free(NULL);
    ck_assert_int_eq(sbt_decode_results_count(NULL), -1);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("self_backtrack");
    TCase *tc = tcase_create("search");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, b0_candidates_and_selection);
    tcase_add_test(tc, rollback_reexpands_what_the_first_expansion_pruned);
    tcase_add_test(tc, width_k_rollbacks_per_round);
    tcase_add_test(tc, root_is_never_reexpanded);
    tcase_add_test(tc, visited_states_are_expanded_once);
    tcase_add_test(tc, aggregation_reference_sums_clean_takes_max);
    tcase_add_test(tc, hooks_goal_score_verify);
    tcase_add_test(tc, deterministic_for_a_seed_whatever_the_batch);
    tcase_add_test(tc, errors_and_cancel);
    suite_add_tcase(s, tc);
    return s;
}

SBT_CHECK_MAIN(suite)
