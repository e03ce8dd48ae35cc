/* countdown_vocab.c — the compact Countdown tokenizer: a byte-level BPE in the tokenizer.json
 * format (so Hugging Face loads it), built here as JSON and read by the ordinary loader.
 *
 * Vocabulary: ids 0..255 are the single bytes (id = byte value, in the GPT-2 alphabet), then one
 * token per merge, then <|begin_of_text|> (BOS), <|end_of_text|> (EOS) and <backtrack>
 * (special added tokens). The merges build, left to right, every piece the Llama-3
 * pre-tokenizer cuts from Countdown text into one token:
 *   "###" "Question" ":" " numbers" " [" "," " " "]->" "target" "\n" "Response" ":\n"
 *   "Goal" " Reached" "!" "+" "-" "*" "/" "=" and every integer 0..999
 * (the pre-tokenizer keeps "," and " 39" apart and makes "]->" and ":\n" single pieces, so those
 * are the units). Ranks put shorter results first; ignore_merges makes each whole piece that is a
 * token come out as that token whatever the merge order would do. Other text still encodes,
 * byte by byte where no merge applies. The post-processor prepends BOS; pad is EOS (SPEC §1.4). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "tokenizer/text.h"
#include "tokenizer/tokenizer_internal.h"

static const char *const WORDS[] = {"###",    "Question", ":",        " numbers", " [", ",",
                                    " ",      "]->",      "target",   "\n",       "Response",
                                    ":\n",    "Goal",     " Reached", "!",        "+",
                                    "-",      "*",        "/",        "="};

#define CD_MAX_TOKEN 16 /* bytes in the longest target ("Question", " Reached": 8) */

typedef struct cd_merge {
    char left[CD_MAX_TOKEN + 1], right[CD_MAX_TOKEN + 1]; /* raw bytes */
    size_t len;                                           /* bytes of left + right */
    size_t order;                                         /* first appearance */
} cd_merge;

/* The byte-level string of raw bytes. */
static json_t *bl_string(const char *raw, size_t n)
{
    char buf[2 * CD_MAX_TOKEN + 1];
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += sbti_bytelevel_utf8((unsigned char)raw[i], buf + k);
    return json_stringn(buf, k);
}

static int cmp_merge(const void *a, const void *b)
{
    const cd_merge *x = a, *y = b;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return (x->order > y->order) - (x->order < y->order);
}

/* The merges of all targets, deduplicated, ordered shorter first. */
static cd_merge *make_merges(size_t *n_out)
{
    size_t n_targets = sizeof WORDS / sizeof *WORDS + 1000, cap = 2048, n = 0;
    cd_merge *m = malloc(cap * sizeof *m);
    if (!m)
        return NULL;
    for (size_t t = 0; t < n_targets; t++) {
        char num[24];
        const char *s = t < sizeof WORDS / sizeof *WORDS ? WORDS[t] : num;
        if (s == num)
            snprintf(num, sizeof num, "%zu", t - sizeof WORDS / sizeof *WORDS);
        size_t len = strlen(s);
        for (size_t k = 2; k <= len; k++) {
            /* (s[0..k-1), s[k-1]) makes s[0..k) */
            size_t j = 0;
            while (j < n && !(m[j].len == k && memcmp(m[j].left, s, k - 1) == 0 &&
                              m[j].left[k - 1] == '\0' && m[j].right[0] == s[k - 1]))
                j++;
            if (j < n)
                continue;
            if (n == cap) {
                free(m);
                return NULL; /* cannot happen: about 1,030 merges */
            }
            memset(&m[n], 0, sizeof m[n]);
            memcpy(m[n].left, s, k - 1);
            m[n].right[0] = s[k - 1];
            m[n].len = k;
            m[n].order = n;
            n++;
        }
    }
    qsort(m, n, sizeof *m, cmp_merge);
    *n_out = n;
    return m;
}

static json_t *added_token(int32_t id, const char *content)
{
    return json_pack("{s:i, s:s, s:b, s:b, s:b, s:b, s:b}", "id", (json_int_t)id, "content",
                     content, "single_word", 0, "lstrip", 0, "rstrip", 0, "normalized", 0,
                     "special", 1);
}

static json_t *make_json(void)
{
    size_t n_merges;
    cd_merge *m = make_merges(&n_merges);
    if (!m)
        return NULL;
    json_t *vocab = json_object(), *merges = json_array();
    int bad = !vocab || !merges;
    for (int b = 0; b < 256 && !bad; b++) {
        char c = (char)b;
        json_t *key = bl_string(&c, 1);
        bad |= !key || json_object_set_new(vocab, json_string_value(key), json_integer(b)) != 0;
        json_decref(key);
    }
    for (size_t r = 0; r < n_merges && !bad; r++) {
        char whole[2 * CD_MAX_TOKEN + 1];
        size_t ll = strlen(m[r].left);
        memcpy(whole, m[r].left, ll);
        whole[ll] = m[r].right[0];
        json_t *w = bl_string(whole, ll + 1);
        json_t *l = bl_string(m[r].left, ll), *rt = bl_string(m[r].right, 1);
        bad |= !w || !l || !rt;
        if (!bad)
            bad |= json_object_set_new(vocab, json_string_value(w), json_integer(256 + (json_int_t)r)) != 0 ||
                   json_array_append_new(merges, json_pack("[OO]", l, rt)) != 0;
        json_decref(w);
        json_decref(l);
        json_decref(rt);
    }
    int32_t bos = 256 + (int32_t)n_merges, eos = bos + 1, back = bos + 2;
    free(m);
    if (bad) {
        json_decref(vocab);
        json_decref(merges);
        return NULL;
    }
    json_t *root = json_pack(
        "{s:s, s:n, s:n, s:[o,o,o], s:n,"
        " s:{s:s, s:[{s:s, s:{s:s}, s:s, s:b}, {s:s, s:b, s:b, s:b}]},"
        " s:{s:s, s:[{s:{s:s, s:i}}, {s:{s:s, s:i}}],"
        "      s:[{s:{s:s, s:i}}, {s:{s:s, s:i}}, {s:{s:s, s:i}}, {s:{s:s, s:i}}],"
        "      s:{s:{s:s, s:[i], s:[s]}}},"
        " s:{s:s, s:b, s:b, s:b},"
        " s:{s:s, s:n, s:n, s:n, s:n, s:b, s:b, s:b, s:o, s:o}}",
        "version", "1.0", "truncation", "padding", "added_tokens",
        added_token(bos, "<|begin_of_text|>"), added_token(eos, "<|end_of_text|>"),
        added_token(back, "<backtrack>"), "normalizer",
        "pre_tokenizer", "type", "Sequence", "pretokenizers", "type", "Split", "pattern", "Regex",
        SBTI_LLAMA3_PATTERN, "behavior", "Isolated", "invert", 0, "type", "ByteLevel",
        "add_prefix_space", 0, "trim_offsets", 1, "use_regex", 0,
        "post_processor", "type", "TemplateProcessing", "single", "SpecialToken", "id",
        "<|begin_of_text|>", "type_id", 0, "Sequence", "id", "A", "type_id", 0, "pair",
        "SpecialToken", "id", "<|begin_of_text|>", "type_id", 0, "Sequence", "id", "A", "type_id",
        0, "SpecialToken", "id", "<|begin_of_text|>", "type_id", 1, "Sequence", "id", "B",
        "type_id", 1, "special_tokens", "<|begin_of_text|>", "id", "<|begin_of_text|>", "ids",
        (json_int_t)bos, "tokens", "<|begin_of_text|>",
        "decoder", "type", "ByteLevel", "add_prefix_space", 1, "trim_offsets", 1, "use_regex", 1,
        "model", "type", "BPE", "dropout", "unk_token", "continuing_subword_prefix",
        "end_of_word_suffix", "fuse_unk", 0, "byte_fallback", 0, "ignore_merges", 1, "vocab",
        vocab, "merges", merges);
    return root;
}

static const char CONFIG[] =
    "{\"bos_token\": \"<|begin_of_text|>\", \"eos_token\": \"<|end_of_text|>\","
    " \"pad_token\": \"<|end_of_text|>\", \"additional_special_tokens\": [\"<backtrack>\"],"
    " \"clean_up_tokenization_spaces\": false, \"model_input_names\": [\"input_ids\","
    " \"attention_mask\"], \"tokenizer_class\": \"PreTrainedTokenizerFast\"}";

sbt_status sbt_tokenizer_create_countdown(sbt_tokenizer **out)
{
    if (!out)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_tokenizer_create_countdown: out is NULL");
    *out = NULL;
    json_t *root = make_json();
    char *text = root ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    if (!text)
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "out of memory building the Countdown tokenizer");
    sbt_status st = sbti_tok_from_json(out, text, strlen(text), CONFIG, sizeof CONFIG - 1,
                                       "countdown tokenizer.json", "countdown tokenizer_config.json");
    free(text);
    return st;
}
