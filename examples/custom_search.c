/* custom_search.c — the Self-Backtracking search driving a task that is not Countdown: find the
 * way out of a small maze. The "model" is a hand-written next-token function (a noisy policy
 * that sometimes walks into a wall and, having learnt to, then writes <backtrack>); the search
 * hooks give the step delimiter, the goal marker and a verifier that replays the moves. Any C
 * program can plug in its own model, task and checks the same way (sbt_decoder_create with an
 * sbt_model works alike). Build: part of the examples; run: example_custom_search. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "selfbt/selfbt.h"
#include "selfbt/decoder.h"

/* 4x4 mazes: '#' wall, start top-left, exit bottom-right */
static const char *MAZES[3][4] = {
    {"..#.", ".##.", "....", "#.#."},
    {".#..", "...#", "#.#.", "...."},
    {"...#", "##..", "...#", ".#.."},
};

typedef struct toy {
    const sbt_tokenizer *tok;
    int32_t V;
    sbt_token eos, bt, ch[128]; /* the token of each ASCII character */
} toy;

/* Replays "R\nD\n..." from the start; returns 0 if a move leaves the maze or hits a wall. */
static int replay(int maze, const char *moves, size_t n, int *r, int *c, int *last_bad)
{
    *r = *c = 0;
    *last_bad = 0;
    for (size_t i = 0; i < n; i++) {
        int dr = 0, dc = 0;
        switch (moves[i]) {
        case 'R': dc = 1; break;
        case 'L': dc = -1; break;
        case 'D': dr = 1; break;
        case 'U': dr = -1; break;
        default: continue;
        }
        int nr = *r + dr, nc = *c + dc;
        if (nr < 0 || nr > 3 || nc < 0 || nc > 3 || MAZES[maze][nr][nc] == '#') {
            *last_bad = 1;
            return 0;
        }
        *r = nr;
        *c = nc;
    }
    return 1;
}

static int maze_of(const char *text)
{
    const char *m = strstr(text, "maze ");
    return m ? (m[5] - '0') % 3 : 0;
}

/* The policy: given the text so far, logits over a few characters. */
static int toy_logits(void *user, const sbt_token *const *seqs, const int32_t *lens, int32_t n,
                      float *logits)
{
    toy *t = user;
    for (int32_t i = 0; i < n; i++) {
        float *x = logits + (size_t)i * t->V;
        for (int v = 0; v < t->V; v++)
            x[v] = -INFINITY;
        char text[1024];
        size_t len = 0;
        if (sbt_tokenizer_decode(t->tok, seqs[i], (size_t)lens[i], 0, text, sizeof text, &len))
            return 1;
        const char *resp = strstr(text, "Moves:\n");
        if (!resp)
            return 1;
        resp += 7;
        size_t rl = strlen(resp);
        int maze = maze_of(text);
        if (strstr(resp, "<backtrack>") || strstr(resp, "EXIT")) { /* done: EOS */
            x[t->eos] = 0;
            continue;
        }
        if (rl > 0 && resp[rl - 1] == 'E') { x[t->ch['X']] = 0; continue; }
        if (rl > 1 && resp[rl - 1] == 'X') { x[t->ch['I']] = 0; continue; }
        if (rl > 2 && resp[rl - 1] == 'I') { x[t->ch['T']] = 0; continue; }
        if (rl > 0 && resp[rl - 1] != '\n') { x[t->ch['\n']] = 0; continue; } /* end the step */
        int r, c, bad;
        replay(maze, resp, rl, &r, &c, &bad);
        if (bad) { /* it knows it erred: <backtrack> (mostly) */
            x[t->bt] = logf(0.9f);
            x[t->ch['R']] = x[t->ch['D']] = logf(0.05f);
            continue;
        }
        if (r == 3 && c == 3) {
            x[t->ch['E']] = 0;
            continue;
        }
        /* a noisy policy: it mostly sees the walls, prefers right and down, and now and then
         * walks into a wall (its error) */
        const char *mv = "RDLU";
        for (int k = 0; k < 4; k++) {
            int nr = r + (mv[k] == 'D') - (mv[k] == 'U'), nc = c + (mv[k] == 'R') - (mv[k] == 'L');
            int open = nr >= 0 && nr <= 3 && nc >= 0 && nc <= 3 && MAZES[maze][nr][nc] != '#';
            x[t->ch[(int)mv[k]]] = logf(!open ? 0.2f : k < 2 ? 0.40f : 0.04f);
        }
    }
    return 0;
}

/* The verifier: every move legal and the walk ends at the exit. */
static int toy_verify(void *user, int64_t index, const char *text, size_t len)
{
    (void)user;
    (void)index;
    const char *resp = strstr(text, "Moves:\n");
    const char *bt = strstr(text, "<backtrack>");
    if (!resp || bt)
        return 0;
    int r, c, bad;
    int ok = replay(maze_of(text), resp + 7, len - (size_t)(resp + 7 - text), &r, &c, &bad);
    return ok && r == 3 && c == 3 && strstr(resp, "EXIT") != NULL;
}

int main(void)
{
    sbt_tokenizer *tok = NULL;
    if (sbt_tokenizer_create_countdown(&tok) != SBT_OK) { /* byte-level: it spells anything */
        fprintf(stderr, "%s\n", sbt_last_error());
        return 1;
    }
    toy t = {.tok = tok, .V = sbt_tokenizer_n_vocab(tok), .eos = sbt_tokenizer_eos(tok),
             .bt = sbt_tokenizer_token_id(tok, "<backtrack>")};
    for (int ch = 1; ch < 128; ch++) {
        char s[2] = {(char)ch, 0};
        size_t k = 0;
        t.ch[ch] = -1;
        if (sbt_tokenizer_encode(tok, s, 1, 0, &t.ch[ch], 1, &k) != SBT_OK || k != 1)
            t.ch[ch] = -1;
    }
    sbt_lm_callbacks lm = {sizeof lm, t.V, toy_logits, &t};
    sbt_search_hooks hooks;
    sbt_search_hooks_init(&hooks);
    hooks.step_delimiter = "\n";         /* one move a line                  */
    hooks.backtrack_token = "<backtrack>";
    hooks.goal_marker = "EXIT";          /* a beam that says EXIT is a candidate */
    hooks.verify = toy_verify;           /* replays the moves                */

    char prompts[12][64];
    const char *p[12];
    for (int i = 0; i < 12; i++) {
        snprintf(prompts[i], sizeof prompts[i], "Walk maze %d from the top left to the exit.\nMoves:\n",
                 i % 3);
        p[i] = prompts[i];
    }
    int budgets[2] = {0, 2};
    for (int k = 0; k < 2; k++) {
        sbt_decoder_options o;
        sbt_decoder_options_init(&o);
        o.n = 4;                   /* beams per expansion                      */
        o.b = budgets[k];          /* backtracking budget                      */
        o.width = SBT_WIDTH_FIXED; /* rolled-back states re-expanded per round */
        o.k = 2;
        o.max_new_tokens = 40;   /* per expansion */
        o.seed = 1;
        o.hooks = &hooks;
        sbt_decoder *dec = NULL;
        sbt_decode_results *res = NULL;
        if (sbt_decoder_create_custom(&dec, &lm, tok, &o) != SBT_OK ||
            sbt_decoder_run(dec, p, 12, &res) != SBT_OK) {
            fprintf(stderr, "%s\n", sbt_last_error());
            sbt_decoder_free(dec);
            sbt_tokenizer_free(tok);
            return 1;
        }
        int solved = 0, expansions = 0;
        for (int i = 0; i < 12; i++) {
            sbt_decode_result r;
            r.size = sizeof r;
            sbt_decode_results_get(res, i, &r);
            solved += r.verdict == 1;
            expansions += r.n_expansions;
            if (i == 0) {
                const char *m = strstr(r.text, "Moves:\n");
                printf("b=%d, first maze: %s", budgets[k], r.found ? "found " : "no candidate; ");
                for (const char *q = m ? m + 7 : ""; *q && *q != '<'; q++)
                    putchar(*q == '\n' ? ' ' : *q);
                putchar('\n');
            }
        }
        printf("b=%d: %d of 12 walks verified, %d expansions\n", budgets[k], solved, expansions);
        sbt_decode_results_free(res);
        sbt_decoder_free(dec);
    }
    sbt_tokenizer_free(tok);
    return 0;
}
