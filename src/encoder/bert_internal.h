/*
 * bert_internal.h — what the BERT files share: bert_config.c (layout,
 * limits, config files), bert_weights.c (create, load, save) and bert.c
 * (forward, embedding). Not public.
 */
#ifndef STRATA_BERT_INTERNAL_H
#define STRATA_BERT_INTERNAL_H

#include "strata/encoder.h"

/* Checks every size of cfg against the limits and the parameter count
 * against size_t; errors (status `bad`) name `where` (a config.json path,
 * or "configuration") and the key. */
strata_status strata__bert_check_config(const strata_bert_config *cfg, const char *where,
                                        strata_status bad, strata_error *err);

/* Hugging Face name (without "bert." prefix) and per-layer shape of tensor
 * index i (STRATA_BERT_NUM_TENSORS order) for layer l. alt: the old
 * gamma/beta LayerNorm name, or "" when none. Returns ndim. */
int strata__bert_tensor_desc(const strata_bert_config *cfg, int i, int l, char *name,
                             size_t cap, char *alt, size_t acap, int64_t shape[2]);

/* 1 when tensor index i is stacked over layers (the embeddings are not). */
static inline int strata__bert_per_layer(int i) { return i >= 5; }

/* Reads 1_Pooling/config.json and modules.json of a sentence-transformers
 * folder (both optional) into cfg's pooling fields. */
strata_status strata__bert_load_st_config(strata_bert_config *cfg, const char *dir,
                                          strata_error *err);

#endif
