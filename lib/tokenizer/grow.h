/* grow.h — internal: growing a malloc'd array by doubling, as the tokenizer's tables do. */
#ifndef SBTI_TOKENIZER_GROW_H
#define SBTI_TOKENIZER_GROW_H

#include <stdint.h>
#include <stdlib.h>

/* Reallocates p (an array of *cap elements of elem bytes; call when need > *cap) to *cap
 * doubled (first when it is 0) as often as it takes to hold need elements. Returns the new
 * array with *cap updated, or NULL with p and *cap untouched when out of memory. */
static inline void *sbti_grow(void *p, size_t *cap, size_t need, size_t elem, size_t first)
{
    size_t c = *cap ? *cap : first;
    while (c < need) {
        if (c > SIZE_MAX / 2)
            return NULL;
        c *= 2;
    }
    if (c > SIZE_MAX / elem)
        return NULL;
    void *q = realloc(p, c * elem);
    if (q)
        *cap = c;
    return q;
}

#endif /* SBTI_TOKENIZER_GROW_H */
