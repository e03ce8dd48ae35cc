/* decoder_internal.h — internal: test switches of sbt_decoder. */
#ifndef SBTI_DECODE_DECODER_INTERNAL_H
#define SBTI_DECODE_DECODER_INTERNAL_H

#include "selfbt/decoder.h"

/* With on, every step refeeds each sequence from its first token instead of reusing the KV
 * cache (no fork sharing, no truncation reuse): the tests check it gives the same output. */
void sbti_decoder_set_recompute(sbt_decoder *dec, int on);

/* How many batches the run keeps in flight (1 or 2: while the device runs one, the host
 * chooses the other's tokens and queues its next step); 0, the default, is 2 where the model's
 * backend runs beside the host (CUDA) and 1 elsewhere. SBT_DECODE_LANES=1|2 in the environment
 * overrides the default. The tests check that it does not change the output. */
void sbti_decoder_set_lanes(sbt_decoder *dec, int lanes);

#endif /* SBTI_DECODE_DECODER_INTERNAL_H */
