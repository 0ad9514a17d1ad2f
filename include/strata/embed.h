/*
 * embed.h — the built-in hashed TF-IDF embedder (`strata embed --model
 * hash`): no weights needed, deterministic under a seed.
 *
 * Definition (tests/ref/encoder_hash_ref.py re-implements it in numpy):
 *   words   BERT's basic tokenizer (clean text, CJK split, lower-case,
 *           strip accents, split on whitespace and punctuation);
 *   buckets unigram w      -> strata_hash64(w, |w|, 1)       mod 2^20
 *           bigram (w1,w2) -> strata_hash64("w1 w2", |..|, 2) mod 2^20
 *           (bigrams only with params.bigrams);
 *   weight  x_b = (1 + ln tf_b) * idf_b, tf_b = occurrences of bucket b in
 *           the text, idf_b = ln((1 + N) / (1 + df_b)) + 1 (scikit-learn's
 *           smooth_idf) with N texts fitted and df_b of them containing b;
 *   project each bucket b adds x_b * s_j / sqrt(S) to S output dims
 *           (j = 0..S-1, S = params.nnz): r = strata_hash64(le64(b), 8,
 *           seed ^ ((j + 1) * 0x9E3779B97F4A7C15)), dim = (r >> 1) mod D,
 *           s_j = +1 if r & 1 else -1 (a sparse signed random projection;
 *           no matrix is stored); sums in double over buckets in
 *           increasing order;
 *   output  L2-normalized (a text without words gives a zero row).
 *
 * Thread-safety: a fitted strata_hash_idf is read-only and shareable.
 */
#ifndef STRATA_EMBED_H
#define STRATA_EMBED_H

#include "strata/strata.h"

#ifdef __cplusplus
extern "C" {
#endif

#define STRATA_HASH_BITS 20
#define STRATA_HASH_BUCKETS (1u << STRATA_HASH_BITS)

typedef struct strata_hash_params {
    int dim;                  /* D output dims (default 256)               */
    int bigrams;              /* also hash word bigrams (default 0)        */
    int nnz;                  /* S output dims per bucket (default 4)      */
    uint64_t seed;            /* projection seed (default 1)               */
    strata_progress progress; /* stages "idf" and "embed", unit "texts"    */
} strata_hash_params;

strata_hash_params strata_hash_default_params(void);

/* Document frequencies fitted on a set of texts. */
typedef struct strata_hash_idf {
    int64_t n_docs;   /* N texts fitted                          */
    int bigrams;      /* 1 if bigram buckets were counted         */
    int64_t *df;      /* [STRATA_HASH_BUCKETS] texts per bucket   */
    float *idf;       /* [STRATA_HASH_BUCKETS] ln((1+N)/(1+df))+1 */
} strata_hash_idf;

/* Fits document frequencies on n texts (texts[i] has lens[i] bytes of
 * UTF-8) with OpenMP over texts; p->bigrams decides whether bigrams are
 * counted. *out is overwritten; free with strata_hash_idf_free. Invalid
 * UTF-8: "text 12: invalid UTF-8 at byte 5". */
strata_status strata_hash_idf_fit(strata_hash_idf *out,
                                  const char *const *texts,
                                  const size_t *lens, int64_t n,
                                  const strata_hash_params *p,
                                  strata_error *err);
void strata_hash_idf_free(strata_hash_idf *idf); /* accepts NULL */

/* Recomputes idf[] from df[] and n_docs, after a caller changed them (the
 * sum of per-process counts of a distributed fit); 0 <= df <= n_docs. */
void strata_hash_idf_update(strata_hash_idf *idf);

/* Saves as an int64 .npy of shape [2 + 2^20]: [0] = N, [1] = bigrams flag,
 * [2 + b] = df of bucket b (exact, so a reload gives identical embeddings).
 * Written atomically. */
strata_status strata_hash_idf_save(const strata_hash_idf *idf,
                                   const char *path, strata_error *err);
/* Loads a file written by strata_hash_idf_save; checks shape, dtype and
 * values (0 <= df <= N). */
strata_status strata_hash_idf_load(strata_hash_idf *out, const char *path,
                                   strata_error *err);

/* Embeds n texts into out[n, p->dim] (overwritten), OpenMP over texts,
 * results independent of the thread count. p->bigrams must equal
 * idf->bigrams. Errors: invalid UTF-8 ("text 12: ..."), bad params. */
strata_status strata_hash_embed(const strata_hash_idf *idf,
                                const char *const *texts, const size_t *lens,
                                int64_t n, const strata_hash_params *p,
                                float *out, strata_error *err);

#ifdef __cplusplus
}
#endif

#endif /* STRATA_EMBED_H */
