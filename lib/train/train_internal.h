/* train_internal.h — internal: what the files of lib/train share. */
#ifndef SBTI_TRAIN_INTERNAL_H
#define SBTI_TRAIN_INTERNAL_H

#include <stddef.h>

#include "selfbt/countdown.h"
#include "selfbt/status.h"
#include "selfbt/tokenizer.h"

/* Python's str.strip(): s[*begin, *end) without the leading and trailing whitespace (every
 * character str.isspace accepts, ASCII and Unicode, in UTF-8). */
void sbti_py_strip(const char *s, size_t len, size_t *begin, size_t *end);

/* The seed's training text: prompt(p) + sp.strip() + the EOS token's text (malloc'ed,
 * NUL-terminated, into *out), and the offset just past "###Response:\n". */
sbt_status sbti_build_text(const sbt_tokenizer *tok, const sbt_countdown_problem *p,
                           const char *sp, char **out, size_t *out_len, size_t *response_start);

#endif /* SBTI_TRAIN_INTERNAL_H */
