/* fuzz_text.c — the UTF-8 sanitizer, the code point reader and the Llama-3 pre-tokenizer
 * (lib/tokenizer/text.h) on arbitrary bytes.
 *
 * Invariants: sbti_utf8_valid agrees with an independent check written here; the sanitizer's
 * output is valid UTF-8, at most 3x the input, equal to the input when that was valid, and a
 * fixed point (sanitizing it again changes nothing); sbti_utf8_next walks it code point by
 * code point, each re-encoding to the same bytes, and reads U+FFFD for every maximal invalid
 * subsequence of the raw input exactly where the sanitizer wrote one; the pre-tokenizer's
 * pieces are non-empty, start on code point boundaries and tile the text in order, and a
 * callback's non-zero return stops it at once with that value. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/text.h"

#include "fuzz.h"

static size_t encode_cp(uint32_t cp, unsigned char *out)
{
    if (cp < 0x80) {
        out[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (unsigned char)(0xC0 | cp >> 6);
        out[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (unsigned char)(0xE0 | cp >> 12);
        out[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (unsigned char)(0xF0 | cp >> 18);
    out[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
    out[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

typedef struct pieces {
    const unsigned char *text;
    size_t len, at, count, stop_after;
} pieces;

static int on_piece(void *ctx, size_t start, size_t end)
{
    pieces *p = ctx;
    FUZZ_CHECK(start == p->at);             /* in order, no gap, no overlap */
    FUZZ_CHECK(end > start && end <= p->len); /* non-empty, inside */
    FUZZ_CHECK((p->text[start] & 0xC0) != 0x80);                 /* on a code point boundary */
    FUZZ_CHECK(end == p->len || (p->text[end] & 0xC0) != 0x80);
    p->at = end;
    p->count++;
    return p->count == p->stop_after ? 7 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    char *out = malloc(3 * size + 1);
    FUZZ_CHECK(out != NULL);
    size_t n = sbti_utf8_sanitize(in, size, out);
    FUZZ_CHECK(n <= 3 * size);
    FUZZ_CHECK(fuzz_utf8_valid((const unsigned char *)out, n));
    int valid = fuzz_utf8_valid(data, size);
    FUZZ_CHECK(sbti_utf8_valid(in, size) == valid);
    FUZZ_CHECK(sbti_utf8_valid(out, n));
    if (valid)
        FUZZ_CHECK(n == size && memcmp(out, in, size) == 0);

    /* a fixed point */
    char *again = malloc(3 * n + 1);
    FUZZ_CHECK(again != NULL);
    FUZZ_CHECK(sbti_utf8_sanitize(out, n, again) == n);
    FUZZ_CHECK(memcmp(again, out, n) == 0);
    free(again);

    /* sbti_utf8_next on the output: code points that re-encode to the same bytes */
    size_t pos = 0, n_cp = 0;
    while (pos < n) {
        size_t before = pos;
        uint32_t cp = sbti_utf8_next(out, n, &pos);
        unsigned char enc[4];
        FUZZ_CHECK(pos > before && pos <= n);
        FUZZ_CHECK(cp <= 0x10FFFF && (cp < 0xD800 || cp > 0xDFFF));
        FUZZ_CHECK(encode_cp(cp, enc) == pos - before);
        FUZZ_CHECK(memcmp(enc, out + before, pos - before) == 0);
        n_cp++;
    }
    /* ... and on the raw input: the same code points, U+FFFD where the sanitizer put one */
    size_t ipos = 0, opos = 0, n_raw = 0;
    while (ipos < size) {
        size_t before = ipos;
        uint32_t cp = sbti_utf8_next(in, size, &ipos);
        FUZZ_CHECK(ipos > before && ipos <= size);
        unsigned char enc[4];
        size_t k = encode_cp(cp, enc);
        FUZZ_CHECK(opos + k <= n && memcmp(enc, out + opos, k) == 0);
        opos += k;
        n_raw++;
    }
    FUZZ_CHECK(opos == n && n_raw == n_cp);
    FUZZ_CHECK(sbti_utf8_next(out, n, &pos) == 0 && pos == n); /* at the end: 0, no move */

    /* the pre-tokenizer over the whole (valid) text */
    pieces p = {(const unsigned char *)out, n, 0, 0, 0};
    FUZZ_CHECK(sbti_pretokenize_llama3(out, n, on_piece, &p) == 0);
    FUZZ_CHECK(p.at == n);
    FUZZ_CHECK(n == 0 ? p.count == 0 : p.count >= 1 && p.count <= n_cp);
    /* stopped early by the callback */
    if (p.count >= 2) {
        size_t total = p.count;
        pieces q = {(const unsigned char *)out, n, 0, 0, 1 + size % (total - 1)};
        FUZZ_CHECK(sbti_pretokenize_llama3(out, n, on_piece, &q) == 7);
        FUZZ_CHECK(q.count == q.stop_after);
    }
    free(out);
    return 0;
}
