/* utf8.c — UTF-8 validity, decoding and sanitizing (maximal invalid subparts become U+FFFD). */
#include "tokenizer/text.h"

#include <string.h>

/* Lead byte b0 (>= 0x80) of Unicode Table 3-7: how many continuation bytes follow it (0 when
 * it never leads: 80..C1, F5..FF), with the bounds of the first one in *lo, *hi. */
static inline size_t lead(unsigned b0, unsigned *lo, unsigned *hi)
{
    *lo = 0x80;
    *hi = 0xBF;
    if (b0 >= 0xC2 && b0 <= 0xDF)
        return 1;
    if (b0 >= 0xE0 && b0 <= 0xEF) {
        if (b0 == 0xE0)
            *lo = 0xA0; /* no overlong forms */
        else if (b0 == 0xED)
            *hi = 0x9F; /* no surrogates */
        return 2;
    }
    if (b0 >= 0xF0 && b0 <= 0xF4) {
        if (b0 == 0xF0)
            *lo = 0x90; /* no overlong forms */
        else if (b0 == 0xF4)
            *hi = 0x8F; /* nothing above U+10FFFF */
        return 3;
    }
    return 0;
}

/* Decodes one sequence at s[0..n), n >= 1. Returns its length and sets *ok = 1 with *cp, or,
 * for an ill-formed sequence, the length of its maximal subpart (the lead byte and the
 * continuation bytes that still fit Unicode Table 3-7, at least 1) with *ok = 0. */
static inline size_t decode(const unsigned char *s, size_t n, uint32_t *cp, int *ok)
{
    unsigned b0 = s[0];
    if (b0 < 0x80) {
        *cp = b0;
        *ok = 1;
        return 1;
    }
    unsigned lo, hi;
    size_t need = lead(b0, &lo, &hi);
    if (need == 0) {
        *ok = 0;
        return 1;
    }
    uint32_t c = b0 & (0x3Fu >> need); /* the lead byte's payload: 5, 4 or 3 bits */
    for (size_t i = 1; i <= need; i++) {
        unsigned b;
        if (i >= n || (b = s[i]) < lo || b > hi) {
            *ok = 0;
            return i;
        }
        c = (c << 6) | (b & 0x3F);
        lo = 0x80;
        hi = 0xBF;
    }
    *cp = c;
    *ok = 1;
    return need + 1;
}

size_t sbti_utf8_sanitize(const char *in, size_t len, char *out)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t i = 0, o = 0;

    while (i < len) {
        /* ASCII run: copy it whole. */
        size_t j = i;
        while (j < len && s[j] < 0x80)
            j++;
        if (j > i) {
            memmove(out + o, in + i, j - i);
            o += j - i;
            i = j;
            if (i == len)
                break;
        }
        uint32_t cp;
        int ok;
        size_t k = decode(s + i, len - i, &cp, &ok);
        if (ok) {
            memmove(out + o, in + i, k);
            o += k;
        } else {
            out[o++] = (char)0xEF;
            out[o++] = (char)0xBF;
            out[o++] = (char)0xBD;
        }
        i += k;
    }
    return o;
}

int sbti_utf8_valid(const char *in, size_t len)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t i = 0;
    while (i < len) {
        /* Eight ASCII bytes at a time. */
        while (i + 8 <= len) {
            uint64_t v;
            memcpy(&v, s + i, 8);
            if (v & 0x8080808080808080ULL)
                break;
            i += 8;
        }
        if (i >= len)
            break;
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        unsigned lo, hi;
        size_t need = lead(s[i], &lo, &hi);
        if (need == 0 || i + need >= len || s[i + 1] < lo || s[i + 1] > hi)
            return 0;
        for (size_t k = 2; k <= need; k++)
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
        i += need + 1;
    }
    return 1;
}

uint32_t sbti_utf8_next(const char *s, size_t len, size_t *pos)
{
    size_t p = *pos;
    if (p >= len)
        return 0;
    unsigned char b = (unsigned char)s[p];
    if (b < 0x80) {
        *pos = p + 1;
        return b;
    }
    uint32_t cp;
    int ok;
    size_t k = decode((const unsigned char *)s + p, len - p, &cp, &ok);
    *pos = p + k;
    /* Not valid UTF-8 after all: the maximal subpart reads as one U+FFFD, as the sanitizer
     * would have written it. */
    return ok ? cp : 0xFFFD;
}
