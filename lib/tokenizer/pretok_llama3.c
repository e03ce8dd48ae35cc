/* pretok_llama3.c — the Llama-3 split regex as a hand-written single pass (Split, "Isolated").
 *
 * The regex (Hugging Face tokenizers, Oniguruma, leftmost-first alternation):
 *   1 (?i:'s|'t|'re|'ve|'m|'ll|'d)
 *   2 [^\r\n\p{L}\p{N}]?\p{L}+
 *   3 \p{N}{1,3}
 *   4  ?[^\s\p{L}\p{N}]+[\r\n]*
 *   5 \s*[\r\n]+
 *   6 \s+(?!\S)
 *   7 \s+
 * Every code point is a letter (L), a number (N), white space (S, \r and \n among them) or
 * other (O), and every one starts a match of some alternative, so matches follow each other with
 * no gap; at each position the first alternative that matches decides, with the result a
 * backtracking engine gives:
 *   1  "'" then s/t/m/d, or re/ve/ll, ASCII case-insensitive; U+017F (long s) folds to s in
 *      Oniguruma's Unicode case folding, so "'ſ" matches too (checked against HF; no other
 *      code point folds to one of these letters).
 *   2  a letter run, or one non-letter non-number char other than \r \n followed by a letter run.
 *   3  one to three numbers.
 *   4  an optional U+0020 then a run of O, then a run of \r \n.
 *   5  a white-space run containing \r or \n: the match ends after the last \r or \n in it
 *      (\s* gives back until [\r\n]+ can match).
 *   6  a white-space run without \r \n: all of it at the end of the text, else all but its last
 *      char (given back so that (?!\S) holds) when that leaves at least one.
 *   7  a single white-space char before a non-space.
 */
#include "tokenizer/text.h"

enum { C_O = SBTI_CHAR_OTHER, C_L = SBTI_CHAR_LETTER, C_N = SBTI_CHAR_NUMBER,
       C_S = SBTI_CHAR_SPACE };

/* The class of cp: U+0000..U+00FF by table, the rest by one search. */
static inline unsigned uclass(uint32_t cp)
{
    return cp < 0x100 ? sbti_unicode_latin1[cp] : (unsigned)sbti_char_class(cp);
}

/* The char at s[p] (p < n): its code point and class; returns the position after it. */
static inline size_t get(const char *s, size_t n, size_t p, uint32_t *cp, unsigned *cls)
{
    unsigned char b = (unsigned char)s[p];
    if (b < 0x80) {
        *cp = b;
        *cls = sbti_unicode_latin1[b];
        return p + 1;
    }
    *cp = sbti_utf8_next(s, n, &p);
    *cls = uclass(*cp);
    return p;
}

/* End of the run of chars of class `want` starting at p. */
static inline size_t run_of(const char *s, size_t n, size_t p, unsigned want)
{
    while (p < n) {
        unsigned char b = (unsigned char)s[p];
        if (b < 0x80) {
            if (sbti_unicode_latin1[b] != want)
                break;
            p++;
        } else {
            uint32_t cp;
            unsigned c;
            size_t q = get(s, n, p, &cp, &c);
            if (c != want)
                break;
            p = q;
        }
    }
    return p;
}

/* Folds a contraction letter: ASCII to lower case, U+017F to 's'; anything else to 0. */
static inline uint32_t fold(uint32_t cp)
{
    if (cp >= 'A' && cp <= 'Z')
        return cp + 32;
    if (cp >= 'a' && cp <= 'z')
        return cp;
    return cp == 0x17F ? 's' : 0;
}

/* Length of a contraction match at s[p] == '\'', or 0. */
static inline size_t contraction(const char *s, size_t n, size_t p)
{
    size_t q = p + 1;
    if (q >= n)
        return 0;
    uint32_t a = fold(sbti_utf8_next(s, n, &q));
    if (a == 's' || a == 't' || a == 'm' || a == 'd')
        return q - p;
    if ((a == 'r' || a == 'v' || a == 'l') && q < n) {
        uint32_t b = fold(sbti_utf8_next(s, n, &q));
        if (b == (a == 'l' ? 'l' : 'e'))
            return q - p;
    }
    return 0;
}

int sbti_pretokenize_llama3(const char *s, size_t n, sbti_piece_fn emit, void *ctx)
{
    size_t i = 0;

    while (i < n) {
        uint32_t cp;
        unsigned cls;
        size_t next = get(s, n, i, &cp, &cls);
        size_t end;

        if (cp == '\'' && (end = contraction(s, n, i)) != 0) {
            end += i; /* 1 */
        } else if (cls == C_L) {
            end = run_of(s, n, next, C_L); /* 2 */
        } else if (cls == C_N) {
            /* 3: up to three numbers (2 cannot start at a number). */
            end = next;
            for (int k = 1; k < 3 && end < n; k++) {
                uint32_t c2;
                unsigned k2;
                size_t e2 = get(s, n, end, &c2, &k2);
                if (k2 != C_N)
                    break;
                end = e2;
            }
        } else {
            uint32_t c1 = 0;
            unsigned k1 = C_O;
            size_t next1 = next;
            if (next < n)
                next1 = get(s, n, next, &c1, &k1);
            if (k1 == C_L && next < n && cp != '\r' && cp != '\n') {
                end = run_of(s, n, next1, C_L); /* 2, with its optional first char */
            } else if (cls == C_O || (cp == ' ' && next < n && k1 == C_O)) {
                /* 4: [^\s\p{L}\p{N}]+ then [\r\n]* */
                size_t p = cls == C_O ? next : next1;
                p = run_of(s, n, p, C_O);
                while (p < n && (s[p] == '\r' || s[p] == '\n'))
                    p++;
                end = p;
            } else {
                /* cls == C_S: 5, 6 or 7 over the white-space run [i, k). */
                size_t k = next, last = i, nl_end = 0;
                if (cp == '\r' || cp == '\n')
                    nl_end = next;
                while (k < n) {
                    uint32_t c2;
                    unsigned k2;
                    size_t e2 = get(s, n, k, &c2, &k2);
                    if (k2 != C_S)
                        break;
                    if (c2 == '\r' || c2 == '\n')
                        nl_end = e2;
                    last = k;
                    k = e2;
                }
                if (nl_end)
                    end = nl_end; /* 5 */
                else if (k == n || last == i)
                    end = k; /* 6 at the end of the text, or 7 */
                else
                    end = last; /* 6: give back the last white-space char */
            }
        }
        int rc = emit(ctx, i, end);
        if (rc)
            return rc;
        i = end;
    }
    return 0;
}
