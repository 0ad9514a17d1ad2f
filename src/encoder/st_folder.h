/*
 * st_folder.h — the sentence-transformers side of a BERT model folder
 * (st_folder.c): sentence_bert_config.json, config_sentence_transformers.json
 * (prompts), the tokenizer files passed through, modules.json, 1_Pooling/
 * and 2_Normalize/ written on save; prompts prepended before tokenization.
 * Not public.
 */
#ifndef STRATA_ST_FOLDER_H
#define STRATA_ST_FOLDER_H

#include "strata/encoder.h"

/* Most files strata__st_save writes (it appends their names to a list). */
#define STRATA__ST_MAX_FILES 10

/* Reads dir's sentence_bert_config.json (cfg->max_seq_length,
 * cfg->do_lower_case), config_sentence_transformers.json (prompts,
 * default_prompt_name), 1_Pooling/config.json's include_prompt (false is
 * EUNSUPPORTED), and the bytes of its tokenizer files; every file is
 * optional. *out is owned by the caller (strata__st_free). Errors name the
 * file and the key. */
strata_status strata__st_load(strata_bert_config *cfg, strata_bert_st **out, const char *dir,
                              strata_error *err);
void strata__st_free(strata_bert_st *s); /* accepts NULL */

/* Applies cfg->do_lower_case to a tokenizer loaded from the same folder:
 * sentence-transformers lower-cases the text before its tokenizer, so the
 * tokenizer lower-cases too (its accent stripping unchanged). */
void strata__st_apply_lower_case(const strata_bert_config *cfg, strata_tokenizer *tok);

/* The embedding length of a model: max_seq_length, else
 * STRATA_EMBED_DEFAULT_MAX_LEN, capped at max_position. */
int strata__st_embed_len(const strata_bert_config *cfg);

/* Writes every file of the folder but model.safetensors and config.json
 * (see strata_bert_save), each atomically, and appends their names to
 * files[*n] (room for STRATA__ST_MAX_FILES more). */
strata_status strata__st_save(const strata_bert *m, const char *dir, const char **files, int *n,
                              strata_error *err);

/* strata_tokenizer_encode of prompt + text (the two strings joined, as
 * sentence-transformers does; prompt NULL or "": the text alone). An
 * error about invalid UTF-8 in the text gives its byte offset in the text. */
strata_status strata__encode_prompted(const strata_tokenizer *tok, const char *prompt,
                                      const char *text, size_t len, int max_len, int32_t *ids,
                                      int *n_ids, strata_error *err);

#endif
