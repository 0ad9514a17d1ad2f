/*
 * bert_internal.h — what the BERT files share: bert_config.c (layout,
 * limits, config files), bert_weights.c (create, load, save) and bert.c
 * (forward, embedding). Not public.
 */
#ifndef STRATA_BERT_INTERNAL_H
#define STRATA_BERT_INTERNAL_H

#include "strata/encoder.h"
#include "strata/io.h"

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

/* Adds the shape keys of c (vocab_size ... type_vocab_size, Hugging Face
 * names) to the JSON object j, in config.json's order. */
void strata__bert_config_json_shape(struct cJSON *j, const strata_bert_config *c);

/* Reads 1_Pooling/config.json and modules.json of a sentence-transformers
 * folder (both optional) into cfg's pooling fields. */
strata_status strata__bert_load_st_config(strata_bert_config *cfg, const char *dir,
                                          strata_error *err);

/* The folder pieces the BERT model (bert_weights.c) and the contextual model
 * (contextual.c, two BERT stages) both use. */

/* Opens a model folder for loading: dir must be a folder, complete when
 * Strata wrote it (strata_dir_check); *cfg_path and *w_path receive
 * dir/config.json and dir/model.safetensors (free both; NULL on error). */
strata_status strata__model_dir_open(const char *dir, char **cfg_path, char **w_path,
                                     strata_error *err);

/* Converts tensor t (n elements; F32, F16 or BF16, else an error naming
 * path and the tensor) of file path into dst [n] float32. */
strata_status strata__tensor_to_f32(float *dst, const strata_tensor *t, size_t n,
                                    const char *path, strata_error *err);

/* Loads the tokenizer of a model folder into *tok; an error when its
 * vocabulary is larger than vocab_size (the config's). */
strata_status strata__model_load_tokenizer(strata_tokenizer **tok, const char *dir,
                                           int vocab_size, strata_error *err);

/* Writes vocab.txt and tokenizer_config.json (model_max_length
 * max_position) of tok into dir. */
strata_status strata__model_save_tokenizer(const strata_tokenizer *tok, int max_position,
                                           const char *dir, strata_error *err);

#endif
