/*
 * embed_hash.c — the smallest program on the installed library: embeds
 * three texts with the built-in hashed TF-IDF embedder (embedder.h) and
 * prints their cosine similarities. Build it against an installed Strata:
 *
 *   cc embed_hash.c $(pkg-config --cflags --libs strata) -o embed_hash
 */
#include <stdio.h>
#include <string.h>

#include "strata/embedder.h"

int main(void) {
    const char *texts[3] = {"how do plants make food from light",
                            "photosynthesis turns light into chemical energy in plants",
                            "the stock market fell sharply on monday"};
    size_t lens[3];
    for (int i = 0; i < 3; i++) lens[i] = strlen(texts[i]);
    strata_error err;
    strata_embedder *e;
    strata_embedder_params p = strata_embedder_default_params();
    p.hash.dim = 64;
    if (strata_embedder_open(&e, "hash", &p, &err) ||
        strata_embedder_fit(e, texts, lens, 3, NULL, &err)) {
        fprintf(stderr, "embed_hash: %s\n", err.msg);
        return 1;
    }
    float out[3 * 64];
    if (strata_embedder_embed(e, texts, lens, 3, NULL, out, &err)) {
        fprintf(stderr, "embed_hash: %s\n", err.msg);
        strata_embedder_free(e);
        return 1;
    }
    strata_embedder_free(e);
    printf("strata %s\n", strata_version());
    for (int a = 0; a < 3; a++)
        for (int b = a + 1; b < 3; b++) {
            double dot = 0; /* rows are L2-normalized: the dot product is the cosine */
            for (int j = 0; j < 64; j++) dot += (double)out[a * 64 + j] * out[b * 64 + j];
            printf("cos(text %d, text %d) = %.4f\n", a, b, dot);
        }
    return 0;
}
