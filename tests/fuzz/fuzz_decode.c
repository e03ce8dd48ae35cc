/* fuzz_decode.c — decode with the tiny fixture tokenizer on arbitrary id arrays.
 *
 * Input: byte 0 holds flags (bit 0: SKIP_SPECIAL; bit 1: the ids are raw little-endian
 * int32s, else each 2 bytes give an id in [-8, 292), mostly inside the vocabulary of 285 and
 * sometimes just outside it), the rest the ids.
 *
 * Invariants: decode succeeds exactly when every id is a token (else SBT_E_INVALID_ARGUMENT
 * with a message); the sizing protocol of fuzz_decode; and the text equals an independent
 * ByteLevel decoder's: each kept token's string mapped back through GPT-2's bytes_to_unicode
 * table (characters outside it kept as their UTF-8 bytes, as Hugging Face's decoder does),
 * concatenated, then made valid UTF-8 by replacing maximal invalid subsequences with U+FFFD. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer/text.h"

#include "fuzz_tokenizer.h"

/* byte_of[cp] for the 256 code points of GPT-2's bytes_to_unicode (all below U+0144), or -1. */
static int byte_of[0x144];

static void init_byte_table(void)
{
    static int done;
    if (done)
        return;
    for (int cp = 0; cp < 0x144; cp++)
        byte_of[cp] = -1;
    int extra = 0;
    for (int b = 0; b < 256; b++) {
        int printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) ||
                        (b >= 0xAE && b <= 0xFF);
        int cp = printable ? b : 256 + extra++;
        byte_of[cp] = b;
    }
    done = 1;
}

/* Appends the ByteLevel decoding of the token string s to out (room for 4 bytes a byte of s). */
static size_t byte_level(const char *s, unsigned char *out)
{
    size_t len = strlen(s), pos = 0, o = 0;
    while (pos < len) {
        size_t start = pos;
        uint32_t cp = sbti_utf8_next(s, len, &pos);
        if (cp < 0x144 && byte_of[cp] >= 0) {
            out[o++] = (unsigned char)byte_of[cp];
        } else {
            memcpy(out + o, s + start, pos - start);
            o += pos - start;
        }
    }
    return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const sbt_tokenizer *tok = fuzz_tiny_tokenizer();
    init_byte_table();
    unsigned mode = data[0];
    unsigned flags = mode & 1 ? SBT_DECODE_SKIP_SPECIAL : 0;
    size_t width = mode & 2 ? 4 : 2;
    size_t n = (size - 1) / width;
    sbt_token *ids = malloc((n ? n : 1) * sizeof *ids);
    FUZZ_CHECK(ids != NULL);
    const uint8_t *p = data + 1;
    int32_t n_vocab = sbt_tokenizer_n_vocab(tok);
    int all_valid = 1;
    for (size_t i = 0; i < n; i++, p += width) {
        if (width == 4)
            ids[i] = (sbt_token)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                                 (uint32_t)p[3] << 24);
        else
            ids[i] = (sbt_token)(((unsigned)p[0] | (unsigned)p[1] << 8) %
                                 (unsigned)(n_vocab + 15)) - 8;
        all_valid &= sbt_tokenizer_token_text(tok, ids[i]) != NULL;
    }

    sbt_status st;
    size_t len;
    char *text = fuzz_decode(tok, ids, n, flags, &len, &st);
    FUZZ_CHECK((text != NULL) == all_valid);
    if (text) {
        /* the reference: bytes of the kept tokens, then U+FFFD for what is not UTF-8 */
        size_t cap = 1;
        for (size_t i = 0; i < n; i++)
            cap += 4 * strlen(sbt_tokenizer_token_text(tok, ids[i]));
        unsigned char *raw = malloc(cap);
        char *want = malloc(3 * cap);
        FUZZ_CHECK(raw && want);
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if (!(flags & SBT_DECODE_SKIP_SPECIAL) || !sbt_tokenizer_is_special(tok, ids[i]))
                k += byte_level(sbt_tokenizer_token_text(tok, ids[i]), raw + k);
        size_t want_len = sbti_utf8_sanitize((const char *)raw, k, want);
        FUZZ_CHECK(len == want_len && memcmp(text, want, len) == 0);
        free(want);
        free(raw);
        free(text);
    } else {
        FUZZ_CHECK(st == SBT_E_INVALID_ARGUMENT);
    }
    free(ids);
    return 0;
}
