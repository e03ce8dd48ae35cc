/* text.h — internal: UTF-8 handling, Unicode classes and the Llama-3 pre-tokenizer, shared by
 * the tokenizer (lib/tokenizer) and anything else that needs Hugging Face's view of text. */
#ifndef SBTI_TOKENIZER_TEXT_H
#define SBTI_TOKENIZER_TEXT_H

#include <stddef.h>
#include <stdint.h>

/* Copies in[0..len) to out, replacing each maximal invalid UTF-8 subsequence by U+FFFD
 * (EF BF BD), as Python's errors="replace", WHATWG TextDecoder and Rust's from_utf8_lossy do.
 * out must hold 3 * len bytes. Returns the bytes written. */
size_t sbti_utf8_sanitize(const char *in, size_t len, char *out);

/* 1 if s[0..len) is valid UTF-8 (no overlong forms, surrogates or code points past
 * U+10FFFF), else 0. */
int sbti_utf8_valid(const char *s, size_t len);

/* Decodes the code point at s[*pos] of valid UTF-8 and advances *pos. */
uint32_t sbti_utf8_next(const char *s, size_t len, size_t *pos);

/* Unicode classes as the Llama-3 split regex sees them (Unicode general categories L* and N*,
 * and the White_Space property used by \s); every code point is in one of them or in none. */
enum { SBTI_CHAR_OTHER = 0, SBTI_CHAR_LETTER = 1, SBTI_CHAR_NUMBER = 2, SBTI_CHAR_SPACE = 4 };

/* The class of cp (SBTI_CHAR_*), in one table search; anything past U+10FFFF is other. */
int sbti_char_class(uint32_t cp);

/* The class of U+0000..U+00FF, by table (generated into unicode_tables.c). Declared hidden,
 * as -fvisibility=hidden makes its definition, so that the library reads it directly rather
 * than through the GOT (5% of the pre-tokenizer's instructions). */
#if defined(__GNUC__)
extern const uint8_t sbti_unicode_latin1[256] __attribute__((visibility("hidden")));
#else
extern const uint8_t sbti_unicode_latin1[256];
#endif

/* sbti_char_class(cp) == SBTI_CHAR_LETTER, _NUMBER, _SPACE. */
int sbti_is_letter(uint32_t cp);
int sbti_is_number(uint32_t cp);
int sbti_is_space(uint32_t cp);

/* The Llama-3 Split regex, as tokenizer.json spells it (the only one implemented):
 *   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+ */
#define SBTI_LLAMA3_PATTERN                                                                     \
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "                   \
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

/* Splits valid UTF-8 text into the pieces of that regex (Split behavior "Isolated": every
 * piece, matched or not, in order, covering the text).
 * Calls emit(ctx, start, end) with byte offsets for each piece; stops early and returns the
 * callback's value if it is non-zero, else returns 0. */
typedef int (*sbti_piece_fn)(void *ctx, size_t start, size_t end);
int sbti_pretokenize_llama3(const char *text, size_t len, sbti_piece_fn emit, void *ctx);

#endif /* SBTI_TOKENIZER_TEXT_H */
