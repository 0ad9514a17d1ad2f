/*
 * embed_batch.c — texts to embeddings with length-sorted, dynamically
 * padded batches, for any model behind a batch forward function (the BERT
 * encoder, the contextual model's two stages).
 */
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "encoder/embed_batch.h"
#include "encoder/st_folder.h"
#include "strata/io.h"

/* Texts per tokenization chunk: bounds the id buffer to CHUNK * max_len. */
#define CHUNK 8192

typedef struct len_idx {
    int len;
    int64_t idx;
} len_idx;

/* Longest first; ties by input index, so the order is deterministic. */
static int cmp_len_desc(const void *a, const void *b) {
    const len_idx *x = a, *y = b;
    if (x->len != y->len) return x->len > y->len ? -1 : 1;
    return (x->idx > y->idx) - (x->idx < y->idx);
}

/* Tokenizes texts[c0..c0+cn) into ids [cn, max_len] and tl [cn], in
 * parallel; failures are recorded, not raised, and the first bad text is
 * encoded again for its message ("text K: ...", K absolute). */
static strata_status tokenize_chunk(const strata_tokenizer *tok, const char *const *texts,
                                    const size_t *lens, int64_t c0, int64_t cn, int max_len,
                                    const char *prompt, int32_t *ids, int *tl,
                                    strata_error *err) {
    int64_t first_bad = -1;
#pragma omp parallel for schedule(dynamic, 64)
    for (int64_t i = 0; i < cn; i++) {
        int k = 0;
        if (strata__encode_prompted(tok, prompt, texts[c0 + i], lens[c0 + i], max_len,
                                    ids + (size_t)i * max_len, &k, NULL) != STRATA_OK) {
#pragma omp critical(strata_embed_bad)
            if (first_bad < 0 || i < first_bad) first_bad = i;
            k = 0;
        }
        tl[i] = k;
    }
    if (first_bad < 0) return STRATA_OK;
    int k;
    if (strata__encode_prompted(tok, prompt, texts[c0 + first_bad], lens[c0 + first_bad], max_len,
                                ids, &k, err) == STRATA_OK)
        strata_error_set(err, STRATA_ENOMEM, "out of memory tokenizing"); /* transient */
    return strata_error_item(err, c0 + first_bad);
}

strata_status strata__embed_batched(const strata_tokenizer *tok, const char *const *texts,
                                    const size_t *lens, int64_t n, int max_len,
                                    const char *prompt, int bs, int C,
                                    const strata_progress *progress, strata__embed_forward fwd,
                                    void *ctx, float *out, strata_error *err) {
    int64_t chunk = n < CHUNK ? (n > 0 ? n : 1) : CHUNK;
    int32_t *ids = strata_malloc_array((size_t)chunk * (size_t)max_len, sizeof(int32_t));
    int *tl = strata_malloc_array((size_t)chunk, sizeof(int));
    len_idx *order = strata_malloc_array((size_t)chunk, sizeof(len_idx));
    int32_t *bids = strata_malloc_array((size_t)bs * (size_t)max_len, sizeof(int32_t));
    int *blen = strata_malloc_array((size_t)bs, sizeof(int));
    float *bout = strata_malloc_array((size_t)bs * (size_t)C, sizeof(float));
    strata_status st = STRATA_OK;
    if (!ids || !tl || !order || !bids || !blen || !bout) {
        st = strata_error_set(err, STRATA_ENOMEM, "out of memory");
        goto done;
    }
    int pad = strata_tokenizer_special(tok, "[PAD]");
    if (pad < 0) pad = 0;
    int64_t done_n = 0;
    strata_progress_report(progress, "embed", 0, n, "texts");
    for (int64_t c0 = 0; c0 < n; c0 += chunk) {
        int64_t cn = n - c0 < chunk ? n - c0 : chunk;
        if ((st = tokenize_chunk(tok, texts, lens, c0, cn, max_len, prompt, ids, tl, err))) goto done;
        for (int64_t i = 0; i < cn; i++) order[i] = (len_idx){tl[i], i};
        qsort(order, (size_t)cn, sizeof *order, cmp_len_desc);
        for (int64_t b0 = 0; b0 < cn; b0 += bs) {
            int B = (int)(cn - b0 < bs ? cn - b0 : bs);
            int T = order[b0].len; /* longest first */
            for (int b = 0; b < B; b++) {
                int64_t i = order[b0 + b].idx;
                blen[b] = tl[i];
                memcpy(bids + (size_t)b * T, ids + (size_t)i * max_len,
                       sizeof(int32_t) * (size_t)tl[i]);
                for (int t = tl[i]; t < T; t++) bids[(size_t)b * T + t] = pad;
            }
            if ((st = fwd(ctx, bids, blen, B, T, bout, err)) != STRATA_OK) goto done;
            for (int b = 0; b < B; b++)
                memcpy(out + (size_t)(c0 + order[b0 + b].idx) * C, bout + (size_t)b * C,
                       sizeof(float) * (size_t)C);
            done_n += B;
            strata_progress_report(progress, "embed", done_n, n, "texts");
        }
    }
done:
    strata_free(ids);
    strata_free(tl);
    strata_free(order);
    strata_free(bids);
    strata_free(blen);
    strata_free(bout);
    return st;
}
