/* forward.c — load a Hugging Face Llama checkpoint and print the most likely next tokens.
 *
 *   example_forward DIR "some text"     (DIR holds a tokenizer.json: the text is encoded)
 *   example_forward DIR 128000 791 1938 (token ids)
 *
 * SBT_BACKEND=cpu|cuda|auto picks the backend (default auto).
 * Build (installed library):  cc forward.c $(pkg-config --cflags --libs selfbt) */
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <selfbt/selfbt.h>

#define MAX_IDS 4096

static int fail(const char *what)
{
    fprintf(stderr, "forward: %s: %s\n", what, sbt_last_error());
    return 1;
}

/* The ids of argv[2..]: numbers, or one text encoded with the checkpoint's tokenizer. */
static int read_ids(int argc, char **argv, const sbt_tokenizer *tok, int32_t *ids, size_t *n)
{
    char *end;
    strtol(argv[2], &end, 10);
    if (*end == '\0') {
        *n = 0;
        for (int i = 2; i < argc && *n < MAX_IDS; i++)
            ids[(*n)++] = (int32_t)strtol(argv[i], NULL, 10);
        return 0;
    }
    if (!tok) {
        fprintf(stderr, "forward: %s has no tokenizer.json; give token ids\n", argv[1]);
        return 1;
    }
    if (sbt_tokenizer_encode(tok, argv[2], strlen(argv[2]), SBT_ENCODE_ADD_SPECIAL, ids, MAX_IDS,
                             n) != SBT_OK)
        return fail("encode");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s CHECKPOINT_DIR (TEXT | ID...)\n", argv[0]);
        return 2;
    }
    sbt_backend_options bo;
    sbt_backend_options_init(&bo);
    const char *kind = getenv("SBT_BACKEND");
    if (kind && sbt_backend_kind_parse(kind, &bo.kind) != SBT_OK)
        return fail("SBT_BACKEND");
    sbt_backend *be = NULL;
    if (sbt_backend_create(&be, &bo) != SBT_OK)
        return fail("backend");
    sbt_model *model = NULL;
    if (sbt_model_load(&model, be, argv[1]) != SBT_OK)
        return fail(argv[1]);
    sbt_tokenizer *tok = NULL;
    if (sbt_tokenizer_load(&tok, argv[1]) != SBT_OK)
        tok = NULL; /* ids only */

    static int32_t ids[MAX_IDS];
    size_t n = 0;
    if (read_ids(argc, argv, tok, ids, &n) != 0 || n == 0)
        return 1;
    sbt_model_config cfg;
    sbt_model_get_config(model, &cfg);
    float *logits = malloc(sizeof(float) * (size_t)cfg.vocab_size);
    if (!logits ||
        sbt_model_forward(model, ids, 1, (int)n, NULL, SBT_FORWARD_LAST_ONLY, logits) != SBT_OK)
        return fail("forward");

    printf("%s on %s (%s); %zu tokens in, %lld parameters\n", argv[1], sbt_backend_name(be),
           sbt_backend_description(be), n, (long long)sbt_model_num_params(model));
    for (int k = 0; k < 5; k++) { /* the five largest logits, by selection */
        int32_t best = -1;
        for (int32_t v = 0; v < cfg.vocab_size; v++)
            if (best < 0 || logits[v] > logits[best])
                best = v;
        const char *text = tok ? sbt_tokenizer_token_text(tok, best) : NULL;
        printf("  %8d  %10.4f  %s\n", best, logits[best], text ? text : "");
        logits[best] = -INFINITY;
    }
    free(logits);
    sbt_tokenizer_free(tok);
    sbt_model_free(model);
    sbt_backend_free(be);
    return 0;
}
