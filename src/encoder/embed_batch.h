/*
 * embed_batch.h — the text-embedding driver shared by the BERT encoder
 * (bert.c) and the contextual model (ctx_infer.c). Not public.
 */
#ifndef STRATA_EMBED_BATCH_H
#define STRATA_EMBED_BATCH_H

#include "strata/encoder.h"

/* One padded batch through a model: ids [B, T] (rows of lens[b] tokens,
 * then pads), out [B, C] overwritten. */
typedef strata_status (*strata__embed_forward)(void *ctx, const int32_t *ids, const int *lens,
                                               int B, int T, float *out, strata_error *err);

/* Embeds texts[0..n) into out [n, C] in input order: chunks of texts are
 * tokenized in parallel (prompt, when not NULL or "", prepended to each:
 * strata__encode_prompted; at most max_len tokens with [CLS]/[SEP]; an invalid
 * text fails with "text K: ...", K its index in texts), sorted longest
 * first (ties by index, so batches are deterministic), padded with [PAD]
 * to their longest text, bs at a time, and run through fwd. Progress is
 * reported as "embed", in texts. */
strata_status strata__embed_batched(const strata_tokenizer *tok, const char *const *texts,
                                    const size_t *lens, int64_t n, int max_len,
                                    const char *prompt, int bs, int C,
                                    const strata_progress *progress, strata__embed_forward fwd,
                                    void *ctx, float *out, strata_error *err);

#endif
