/* decoder_internal.h — internal: test switches of sbt_decoder. */
#ifndef SBTI_DECODE_DECODER_INTERNAL_H
#define SBTI_DECODE_DECODER_INTERNAL_H

#include "selfbt/decoder.h"

/* With on, every step refeeds each sequence from its first token instead of reusing the KV
 * cache (no fork sharing, no truncation reuse): the tests check it gives the same output. */
void sbti_decoder_set_recompute(sbt_decoder *dec, int on);

#endif /* SBTI_DECODE_DECODER_INTERNAL_H */
