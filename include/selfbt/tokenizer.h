/* tokenizer.h — Hugging Face tokenizers in C: load a `tokenizer.json` (byte-level BPE with the
 * Llama-3 pre-tokenizer), encode and decode exactly as Hugging Face's `tokenizers` does, add
 * special tokens, save a `tokenizer.json` that Hugging Face loads; and the compact Countdown
 * tokenizer for models trained from scratch.
 *
 * Text is UTF-8 given with an explicit length. Invalid UTF-8 is read as U+FFFD per maximal
 * invalid subsequence — what Python's bytes.decode(errors="replace"), JavaScript's
 * TextDecoder and Rust's from_utf8_lossy give — so ids match what Hugging Face produces for
 * the same bytes turned into a string. */
#ifndef SELFBT_TOKENIZER_H
#define SELFBT_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "selfbt/export.h"
#include "selfbt/status.h"

SBT_BEGIN_DECLS

typedef int32_t sbt_token;

typedef struct sbt_tokenizer sbt_tokenizer;

/* Loads `path`: a tokenizer.json file, or a folder holding tokenizer.json and optionally
 * tokenizer_config.json (which gives bos_token / eos_token / pad_token). Unsupported parts
 * (another model type, normalizer or pre-tokenizer) fail with SBT_E_UNSUPPORTED naming the
 * field; malformed JSON fails with SBT_E_PARSE naming the line or field. */
SBT_API sbt_status sbt_tokenizer_load(sbt_tokenizer **out, const char *path);

/* The same from a tokenizer.json already in memory (config_json may be NULL). */
SBT_API sbt_status sbt_tokenizer_load_json(sbt_tokenizer **out, const char *tokenizer_json,
                                           size_t len, const char *config_json, size_t config_len);

/* The compact Countdown tokenizer (see docs/tokenizer.md): a small byte-level BPE whose
 * vocabulary covers the prompt words, numbers, operators and markers, with
 * <|begin_of_text|>, <|end_of_text|> and <backtrack> as special tokens. */
SBT_API sbt_status sbt_tokenizer_create_countdown(sbt_tokenizer **out);

/* NULL-safe. */
SBT_API void sbt_tokenizer_free(sbt_tokenizer *tok);

/* Writes tokenizer.json (and tokenizer_config.json) into the existing folder dir, each
 * through a temporary file and a rename. Hugging Face's `tokenizers` loads the result and
 * encodes exactly as this tokenizer does. */
SBT_API sbt_status sbt_tokenizer_save(const sbt_tokenizer *tok, const char *dir);

/* Encoding flags. */
#define SBT_ENCODE_ADD_SPECIAL 1u /* apply the post-processor's template (e.g. prepend BOS) */

/* Encodes text. Added tokens in the text (special or not) are matched first, as Hugging Face
 * does. Writes up to cap ids and sets *n_ids to the full count; if the count exceeds cap,
 * returns SBT_E_INVALID_ARGUMENT with nothing but *n_ids meaningful, so a caller can size a
 * buffer with a first call (ids may be NULL when cap is 0). */
SBT_API sbt_status sbt_tokenizer_encode(const sbt_tokenizer *tok, const char *text, size_t len,
                                        unsigned flags, sbt_token *ids, size_t cap, size_t *n_ids);

/* Decoding flags. */
#define SBT_DECODE_SKIP_SPECIAL 1u /* drop special tokens, as skip_special_tokens=True */

/* Decodes ids into UTF-8 text (the byte-level decoder; invalid byte sequences become
 * U+FFFD as in Hugging Face). Writes up to cap-1 bytes plus a NUL and sets *len to the full
 * length without the NUL; like encode, a too-small buffer gives SBT_E_INVALID_ARGUMENT with
 * *len set. An id outside the vocabulary is SBT_E_INVALID_ARGUMENT naming it. */
SBT_API sbt_status sbt_tokenizer_decode(const sbt_tokenizer *tok, const sbt_token *ids, size_t n,
                                        unsigned flags, char *text, size_t cap, size_t *len);

/* Vocabulary size including added tokens (the embedding rows a model needs): max id + 1. */
SBT_API int32_t sbt_tokenizer_n_vocab(const sbt_tokenizer *tok);

/* A token's string as stored in the vocabulary (byte-level form, e.g. "Ġnumbers"), or NULL for
 * an unknown id. Valid until the tokenizer is freed or changed. */
SBT_API const char *sbt_tokenizer_token_text(const sbt_tokenizer *tok, sbt_token id);

/* The id of a vocabulary or added token string, or -1. */
SBT_API sbt_token sbt_tokenizer_token_id(const sbt_tokenizer *tok, const char *token);

/* 1 if id is an added token marked special. */
SBT_API int sbt_tokenizer_is_special(const sbt_tokenizer *tok, sbt_token id);

/* Adds special tokens as transformers' add_special_tokens({"additional_special_tokens": ...})
 * does. Each new one gets the id Hugging Face gives it: one past the largest added token, or
 * the model vocabulary's size when there is no added token yet (Llama-3 + "<backtrack>" gives
 * 128256). With a vocabulary whose ids have gaps that id can be taken: SBT_E_UNSUPPORTED,
 * naming it. A token already in the vocabulary keeps its id and becomes special. *n_added
 * (may be NULL) gets how many were new. */
SBT_API sbt_status sbt_tokenizer_add_special_tokens(sbt_tokenizer *tok, const char *const *tokens,
                                                    size_t n, size_t *n_added);

/* Special ids from tokenizer_config.json (or the compact tokenizer); -1 when not set. */
SBT_API sbt_token sbt_tokenizer_bos(const sbt_tokenizer *tok);
SBT_API sbt_token sbt_tokenizer_eos(const sbt_tokenizer *tok);
SBT_API sbt_token sbt_tokenizer_pad(const sbt_tokenizer *tok);

/* Sets the padding token (written as pad_token by sbt_tokenizer_save); -1 clears it. An id
 * outside the vocabulary is SBT_E_INVALID_ARGUMENT naming it. The seed pads with EOS:
 * sbt_tokenizer_set_pad(tok, sbt_tokenizer_eos(tok)). */
SBT_API sbt_status sbt_tokenizer_set_pad(sbt_tokenizer *tok, sbt_token id);

SBT_END_DECLS

#endif /* SELFBT_TOKENIZER_H */
