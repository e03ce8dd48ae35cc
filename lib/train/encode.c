/* encode.c — one training example as the seed's train.py builds it (SPEC §3): the text
 * prompt + search_path.strip() + EOS, its token ids, and the labels with the prompt and (in
 * D_back rows) the erroneous step masked. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "selfbt/dataset.h"
#include "train/train_internal.h"

void sbt_encode_options_init(sbt_encode_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->size = sizeof *o;
    o->context_length = 128;
    o->mask_prompt = 1;
    o->mask_error_step = 1;
}

/* Length of a UTF-8 encoded Python whitespace character (str.isspace) ending at s[len-1]
 * (back = 1) or starting at s[0] (back = 0); 0 if there is none. */
static size_t space_at(const unsigned char *s, size_t len, int back)
{
    static const char *const wide[] = {
        "\xc2\x85", "\xc2\xa0", "\xe1\x9a\x80", "\xe2\x80\x80", "\xe2\x80\x81", "\xe2\x80\x82",
        "\xe2\x80\x83", "\xe2\x80\x84", "\xe2\x80\x85", "\xe2\x80\x86", "\xe2\x80\x87",
        "\xe2\x80\x88", "\xe2\x80\x89", "\xe2\x80\x8a", "\xe2\x80\xa8", "\xe2\x80\xa9",
        "\xe2\x80\xaf", "\xe2\x81\x9f", "\xe3\x80\x80"};
    if (len == 0)
        return 0;
    unsigned char c = back ? s[len - 1] : s[0];
    if (c == ' ' || (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x1f))
        return 1;
    for (size_t i = 0; i < sizeof wide / sizeof *wide; i++) {
        size_t w = strlen(wide[i]);
        if (w <= len && !memcmp(back ? s + len - w : s, wide[i], w))
            return w;
    }
    return 0;
}

void sbti_py_strip(const char *s, size_t len, size_t *begin, size_t *end)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t a = 0, b = len, w;
    while ((w = space_at(u + a, b - a, 0)) > 0)
        a += w;
    while ((w = space_at(u + a, b - a, 1)) > 0)
        b -= w;
    *begin = a;
    *end = b;
}

/* The number of tokens of text[0..len) with the special-token template. */
static sbt_status count_tokens(const sbt_tokenizer *tok, const char *text, size_t len, size_t *n)
{
    sbt_status st = sbt_tokenizer_encode(tok, text, len, SBT_ENCODE_ADD_SPECIAL, NULL, 0, n);
    if (st == SBT_E_INVALID_ARGUMENT && *n > 0)
        return SBT_OK; /* only the size was asked for */
    return st;
}

static const char *rfind_nl(const char *s, size_t len)
{
    while (len-- > 0)
        if (s[len] == '\n')
            return s + len;
    return NULL;
}

sbt_status sbti_build_text(const sbt_tokenizer *tok, const sbt_countdown_problem *p,
                           const char *sp, char **out, size_t *out_len, size_t *response_start)
{
    sbt_token eos = sbt_tokenizer_eos(tok);
    const char *eos_text = eos >= 0 ? sbt_tokenizer_token_text(tok, eos) : NULL;
    if (!eos_text)
        return sbti_fail(SBT_E_INVALID_ARGUMENT,
                         "encode: the tokenizer has no EOS token (tokenizer_config.json eos_token)");
    size_t plen = sbt_countdown_prompt(p, NULL, 0);
    if (plen == 0)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "encode: the problem has %d numbers",
                         (int)p->n_nums);
    if (!sp)
        sp = "";
    size_t a, b;
    sbti_py_strip(sp, strlen(sp), &a, &b);
    size_t elen = strlen(eos_text), n = plen + (b - a) + elen;
    char *t = malloc(n + 1);
    if (!t)
        return sbti_fail(SBT_E_OUT_OF_MEMORY, "encode: out of memory");
    sbt_countdown_prompt(p, t, plen + 1);
    memcpy(t + plen, sp + a, b - a);
    memcpy(t + plen + (b - a), eos_text, elen + 1);
    *out = t;
    *out_len = n;
    /* txt.find("###Response:\n") + len: the prompt holds it once, at its end */
    static const char marker[] = "###Response:\n";
    const char *m = strstr(t, marker);
    *response_start = m ? (size_t)(m - t) + sizeof marker - 1 : sizeof marker - 2;
    return SBT_OK;
}

sbt_status sbt_dataset_encode_example(const sbt_tokenizer *tok, const sbt_countdown_problem *p,
                                      const char *sp, const sbt_encode_options *opts,
                                      sbt_token *ids, int32_t *labels, size_t cap, size_t *n)
{
    if (!tok || !p || !n)
        return sbti_fail(SBT_E_INVALID_ARGUMENT, "sbt_dataset_encode_example: %s is NULL",
                         !tok ? "tok" : !p ? "problem" : "n");
    *n = 0;
    sbt_encode_options o;
    sbt_encode_options_init(&o);
    if (opts) {
        if (opts->size < sizeof(size_t) || opts->size > sizeof o)
            return sbti_fail(SBT_E_INVALID_ARGUMENT,
                             "sbt_dataset_encode_example: options.size %zu is not valid",
                             opts->size);
        memcpy(&o, opts, opts->size);
        o.size = sizeof o;
    }
    if (o.context_length < 1)
        return sbti_fail(SBT_E_INVALID_ARGUMENT,
                         "sbt_dataset_encode_example: context_length %d is not positive",
                         (int)o.context_length);
    char *text;
    size_t len, rs;
    sbt_status st = sbti_build_text(tok, p, sp, &text, &len, &rs);
    if (st != SBT_OK)
        return st;
    size_t total = 0;
    st = count_tokens(tok, text, len, &total);
    size_t keep = total < (size_t)o.context_length ? total : (size_t)o.context_length;
    if (st == SBT_OK && (cap < keep || !ids || !labels)) {
        *n = keep;
        free(text);
        return sbti_fail(SBT_E_INVALID_ARGUMENT,
                         "sbt_dataset_encode_example: %zu tokens do not fit in %zu", keep, cap);
    }
    sbt_token *all = NULL;
    if (st == SBT_OK) {
        all = malloc(sizeof *all * (total ? total : 1));
        if (!all)
            st = sbti_fail(SBT_E_OUT_OF_MEMORY, "encode: out of memory");
    }
    size_t got = 0;
    if (st == SBT_OK)
        st = sbt_tokenizer_encode(tok, text, len, SBT_ENCODE_ADD_SPECIAL, all, total, &got);
    size_t m0 = 0, m1 = 0, mp = 0;
    if (st == SBT_OK && o.mask_prompt)
        st = count_tokens(tok, text, rs, &mp);
    if (st == SBT_OK && o.mask_error_step && strstr(text, "<backtrack>")) {
        const char *last = rfind_nl(text, len);
        if (last) {
            const char *prev = rfind_nl(text, (size_t)(last - text));
            size_t before = prev ? (size_t)(prev - text) + 1 : 0;
            st = count_tokens(tok, text, before, &m0);
            if (st == SBT_OK)
                st = count_tokens(tok, text, (size_t)(last - text) + 1, &m1);
        }
        /* Python: "last" = -1 without a newline; then txt[:0] and txt[:-1+1]: both spans
         * are the empty prefix, nothing is masked. */
    }
    if (st == SBT_OK) {
        for (size_t i = 0; i < keep; i++) {
            ids[i] = all[i];
            labels[i] = all[i];
            if (i < mp || (i >= m0 && i < m1))
                labels[i] = SBT_LABEL_IGNORE;
        }
        *n = keep;
    }
    free(all);
    free(text);
    return st;
}
