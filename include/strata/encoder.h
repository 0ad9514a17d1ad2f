/*
 * encoder.h — WordPiece tokenizer and the BERT encoder (Hugging Face
 * `BertModel` layout), shared by `strata embed` (inference) and
 * `strata train` (which adds the backward pass in src/train/).
 *
 * Dimension letters: B batch, T tokens, C hidden, H heads, F intermediate
 * (feed-forward), L layers, V vocabulary, P max positions.
 *
 * The forward kernels (embeddings, LayerNorm, linear, fused linear+GELU,
 * attention with a fused masked softmax, pooling, L2 norm) live in the
 * internal header src/encoder/kernels.h, shared with the trainer.
 *
 * Thread-safety: a loaded strata_tokenizer and strata_bert are read-only and
 * may be shared between threads; per-call scratch lives in
 * strata_bert_state, one per thread or call site.
 */
#ifndef STRATA_ENCODER_H
#define STRATA_ENCODER_H

#include "strata/strata.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* WordPiece tokenizer (equal to Hugging Face BertTokenizer)                 */
/* ------------------------------------------------------------------------ */

typedef struct strata_tokenizer strata_tokenizer;

typedef struct strata_tokenizer_options {
    int lowercase;        /* -1: from tokenizer.json / vocab (uncased), 0, 1 */
    int strip_accents;    /* -1: follow lowercase, 0, 1                      */
    int tokenize_cjk;     /* -1: default on                                   */
} strata_tokenizer_options;

strata_tokenizer_options strata_tokenizer_default_options(void);

/* Loads `vocab.txt` or `tokenizer.json` (path to the file or to a model
 * folder containing one; a folder prefers tokenizer.json). tokenizer.json's
 * BertNormalizer flags are honoured; for vocab.txt, a tokenizer_config.json
 * beside it (do_lower_case, strip_accents, tokenize_chinese_chars; a
 * malformed one is an error) is read,
 * else the vocabulary counts as uncased when no token outside [brackets]
 * has an ASCII capital. opt (may be NULL) overrides. Errors name missing
 * [UNK], [CLS] or [SEP] tokens ([PAD] is optional: id 0 pads then), and a
 * tokenizer.json id that is negative, not an integer, or leaves more than
 * 65536 ids without a token. */
strata_status strata_tokenizer_load(strata_tokenizer **out, const char *path,
                                    const strata_tokenizer_options *opt,
                                    strata_error *err);
void strata_tokenizer_free(strata_tokenizer *tok);

int strata_tokenizer_vocab_size(const strata_tokenizer *tok);
int strata_tokenizer_special(const strata_tokenizer *tok, const char *name); /* "[CLS]" ... or -1 */
const char *strata_tokenizer_token(const strata_tokenizer *tok, int id);

/* Builds an uncased WordPiece vocabulary for a fresh model from the words
 * of pairs (queries and positives) and writes it to path (vocab.txt,
 * atomically): the five BERT specials ([PAD] [UNK] [CLS] [SEP] [MASK]), every
 * printable ASCII character except the capitals alone and as a "##"
 * continuation (so every ASCII word tokenizes), then the max_words most
 * frequent words of two or more letters, lower-cased, split at anything but
 * ASCII letters and digits. Ties are broken by the word, so the file is
 * deterministic. With no capital in it, strata_tokenizer_load treats the
 * file as uncased and lower-cases its input. Errors: max_words < 0, out of
 * memory, write failures. */
struct strata_pairs;
strata_status strata_vocab_build(const struct strata_pairs *pairs, int max_words,
                                 const char *path, strata_error *err);

/* Encodes UTF-8 text into at most max_len ids (with [CLS] ... [SEP] when
 * add_special; truncation keeps the first tokens and the final [SEP]).
 * Writes *n_ids; ids must hold max_len entries (max_len >= 2 with specials,
 * >= 1 without). Invalid UTF-8 is an error naming the byte offset
 * ("invalid UTF-8 at byte 17"); callers prefix the file and line.
 * Special tokens written literally in the text ("[SEP]") map to their ids,
 * as in Hugging Face. Thread-safe (tok is read-only). */
strata_status strata_tokenizer_encode(const strata_tokenizer *tok,
                                      const char *text, size_t len,
                                      int add_special, int max_len,
                                      int32_t *ids, int *n_ids,
                                      strata_error *err);

/* As strata_tokenizer_encode, but allocates *ids (caller frees with
 * strata_free); max_len <= 0 means no truncation. */
strata_status strata_tokenizer_encode_alloc(const strata_tokenizer *tok,
                                            const char *text, size_t len,
                                            int add_special, int max_len,
                                            int32_t **ids, int *n_ids,
                                            strata_error *err);

/* 1 when the tokenizer lower-cases its input. */
int strata_tokenizer_lowercase(const strata_tokenizer *tok);

/* BERT's basic tokenizer alone (no vocabulary): clean text, CJK split,
 * lower-casing and accent stripping per opt (NULL: lowercase, strip accents,
 * CJK on; -1 fields mean on), split on whitespace and punctuation. Calls
 * fn(ud, word, len) for each word in order; `word` is NUL-terminated UTF-8,
 * valid during the call. Invalid UTF-8 is an error naming the byte offset.
 * Used by the hash embedder (embed.h). */
typedef void (*strata_word_fn)(void *ud, const char *word, size_t len);
strata_status strata_tokenizer_basic(const strata_tokenizer_options *opt,
                                     const char *text, size_t len,
                                     strata_word_fn fn, void *ud,
                                     strata_error *err);

/* Writes the vocabulary as vocab.txt (one token per line, id order). */
strata_status strata_tokenizer_save_vocab(const strata_tokenizer *tok,
                                          const char *path, strata_error *err);

/* ------------------------------------------------------------------------ */
/* BERT model: config, parameters in one contiguous block (llm.c style)      */
/* ------------------------------------------------------------------------ */

typedef enum strata_pool { STRATA_POOL_CLS = 0, STRATA_POOL_MEAN = 1 } strata_pool;

typedef struct strata_bert_config {
    int vocab_size;        /* V */
    int hidden_size;       /* C */
    int num_layers;        /* L */
    int num_heads;         /* H (C % H == 0) */
    int intermediate_size; /* F */
    int max_position;      /* P */
    int type_vocab_size;   /* token types (usually 2) */
    float layer_norm_eps;  /* 1e-12 for BERT */
    strata_pool pool;      /* from 1_Pooling/config.json when present */
    int normalize;         /* L2-normalize pooled output */
    int max_seq_length;    /* sentence_bert_config.json: tokens per text when
                              embedding (incl. [CLS]/[SEP]); 0: none, then
                              STRATA_EMBED_DEFAULT_MAX_LEN (capped at P) */
    int do_lower_case;     /* sentence_bert_config.json: lower-case texts
                              before the tokenizer (as sentence-transformers'
                              str.lower()); 0 leaves it to the tokenizer */
} strata_bert_config;

/* Tokens per text when neither the caller nor the folder says
 * (strata_embed_params.max_len 0 and no max_seq_length). */
#define STRATA_EMBED_DEFAULT_MAX_LEN 128

/* Parameter tensors, each a pointer into strata_bert.params. Per-layer
 * tensors are stacked over layers ([L, ...]). Linear weights are stored as
 * Hugging Face does: [out, in] (y = x W^T + b). */
typedef struct strata_bert_weights {
    float *word_emb;   /* [V, C] */
    float *pos_emb;    /* [P, C] */
    float *type_emb;   /* [TV, C] */
    float *emb_ln_w;   /* [C] */
    float *emb_ln_b;   /* [C] */
    float *q_w;        /* [L, C, C] */
    float *q_b;        /* [L, C] */
    float *k_w;        /* [L, C, C] */
    float *k_b;        /* [L, C] */
    float *v_w;        /* [L, C, C] */
    float *v_b;        /* [L, C] */
    float *ao_w;       /* [L, C, C] attention output dense */
    float *ao_b;       /* [L, C] */
    float *ln1_w;      /* [L, C] attention output LayerNorm */
    float *ln1_b;      /* [L, C] */
    float *ff1_w;      /* [L, F, C] intermediate dense */
    float *ff1_b;      /* [L, F] */
    float *ff2_w;      /* [L, C, F] output dense */
    float *ff2_b;      /* [L, C] */
    float *ln2_w;      /* [L, C] output LayerNorm */
    float *ln2_b;      /* [L, C] */
} strata_bert_weights;

#define STRATA_BERT_NUM_TENSORS 21

/* The sentence-transformers side of a folder (src/encoder/st_folder.c):
 * named prompts, the default prompt name, and the bytes of the tokenizer
 * files it was loaded with (passed through unchanged on save). */
typedef struct strata_bert_st strata_bert_st;

typedef struct strata_bert {
    strata_bert_config cfg;
    float *params;            /* one block of n_params floats (owned) */
    size_t n_params;
    strata_bert_weights w;    /* typed pointers into params */
    strata_tokenizer *tok;    /* owned; NULL when loaded without a vocab */
    strata_bert_st *st;       /* owned; NULL: no prompts, no tokenizer files */
} strata_bert;

/* Number of floats of each tensor in STRATA_BERT_NUM_TENSORS order, and the
 * total. Overflow-checked: returns 0 when the total (in bytes) does not fit
 * in size_t (a size that does not fit reads SIZE_MAX in sizes[]). */
size_t strata_bert_param_sizes(const strata_bert_config *cfg,
                               size_t sizes[STRATA_BERT_NUM_TENSORS]);
/* Points w's members into block (which holds strata_bert_param_sizes floats). */
void strata_bert_bind(const strata_bert_config *cfg, float *block,
                      strata_bert_weights *w);

/* Reads config.json (errors name a missing or bad key:
 * "config.json: key \"hidden_size\" missing"). Required: vocab_size,
 * hidden_size, num_hidden_layers, num_attention_heads, intermediate_size,
 * max_position_embeddings; type_vocab_size defaults to 2, layer_norm_eps to
 * 1e-12; hidden_act, when present, must be "gelu". Sizes are limited to
 * vocab_size <= 2^24, hidden_size <= 2^16, num_hidden_layers <= 2^10,
 * intermediate_size and max_position_embeddings <= 2^20, type_vocab_size
 * <= 2^16 (an error names the file and the key); strata_bert_create checks
 * the same limits (EINVAL). Sets pool = MEAN,
 * normalize = 0 (strata_bert_load then reads the sentence-transformers
 * files). */
strata_status strata_bert_config_load(strata_bert_config *cfg,
                                      const char *config_json_path,
                                      strata_error *err);

/* Writes cfg as a Hugging Face BERT config.json (atomically): the keys
 * strata_bert_config_load reads, plus model_type, architectures, hidden_act
 * "gelu", absolute positions and pad_token_id = pad_id. strata_bert_save
 * writes its config.json with this function. */
strata_status strata_bert_config_save(const strata_bert_config *cfg, int pad_id,
                                      const char *path, strata_error *err);

/* Loads a model folder: config.json, model.safetensors (names with or without
 * the "bert." prefix; F32/F16/BF16; pooler.* and position_ids ignored),
 * vocab.txt or tokenizer.json, and the sentence-transformers files when
 * present: 1_Pooling/config.json (CLS or mean pooling; default mean;
 * "include_prompt": false is refused), modules.json (a Normalize module
 * turns normalize on), sentence_bert_config.json (max_seq_length,
 * do_lower_case) and config_sentence_transformers.json (prompts,
 * default_prompt_name). The bytes of tokenizer.json,
 * special_tokens_map.json, vocab.txt and tokenizer_config.json are kept
 * for strata_bert_save. Errors list missing tensors, name wrong shapes,
 * and name the file and key of a bad sentence-transformers value. A folder Strata wrote is checked whole
 * first (strata_dir_check: one left incomplete by an interrupted run is
 * refused). *out is owned by the caller (strata_bert_free). */
strata_status strata_bert_load(strata_bert **out, const char *dir,
                               strata_error *err);

/* A model with freshly initialized weights (normal(0, 0.02) for matrices and
 * embeddings, zeros for biases, ones for LayerNorm weights), deterministic in
 * seed. tok may be NULL; ownership of tok passes to the model. */
strata_status strata_bert_create(strata_bert **out,
                                 const strata_bert_config *cfg,
                                 strata_tokenizer *tok, uint64_t seed,
                                 strata_error *err);

/* Writes a folder Hugging Face and sentence-transformers load with the
 * same settings: config.json, model.safetensors (F32, BertModel names
 * without prefix), the tokenizer files (those the model was loaded with,
 * byte for byte; else vocab.txt, special_tokens_map.json and
 * tokenizer_config.json with model_max_length = the embedding length),
 * sentence_bert_config.json (max_seq_length: cfg.max_seq_length, else
 * STRATA_EMBED_DEFAULT_MAX_LEN, capped at P; do_lower_case),
 * config_sentence_transformers.json (prompts, default_prompt_name,
 * similarity_fn_name "cosine"), 1_Pooling/config.json, modules.json and,
 * with normalize, an empty 2_Normalize/; each file atomically, as one unit
 * (manifest.json, kind "model": incomplete until every file is written). */
strata_status strata_bert_save(const strata_bert *m, const char *dir,
                               strata_error *err);

/* The folder's prompt called name (config_sentence_transformers.json
 * "prompts"), or NULL. Borrowed: valid until the prompt is set again or
 * the model freed. */
const char *strata_bert_prompt(const strata_bert *m, const char *name);

/* The folder's similarity_fn_name (config_sentence_transformers.json):
 * "cosine" (also when absent, sentence-transformers' default), "dot",
 * "euclidean" or "manhattan"; written back by strata_bert_save. */
const char *strata_bert_similarity(const strata_bert *m);

/* The prompt sentence-transformers applies when encode() is given none:
 * the prompt named by "default_prompt_name", or NULL. */
const char *strata_bert_default_prompt(const strata_bert *m);

/* The prompt for documents: the first of "document", "passage" and
 * "corpus" the folder has (sentence-transformers' encode_document order),
 * else the default prompt, else NULL. The query prompt is
 * strata_bert_prompt(m, "query"), else the default prompt. */
const char *strata_bert_doc_prompt(const strata_bert *m);
const char *strata_bert_query_prompt(const strata_bert *m);

/* Sets (text non-NULL) or removes (text NULL) the prompt called name; it
 * is saved by strata_bert_save. Removing the default prompt clears
 * default_prompt_name. Errors: EINVAL for an empty name or invalid UTF-8,
 * ENOMEM. */
strata_status strata_bert_set_prompt(strata_bert *m, const char *name, const char *text,
                                     strata_error *err);

void strata_bert_free(strata_bert *m);

/* ------------------------------------------------------------------------ */
/* Inference                                                                 */
/* ------------------------------------------------------------------------ */

/* Per-call scratch for the forward pass (grows as needed). Not shareable. */
typedef struct strata_bert_state strata_bert_state;

strata_status strata_bert_state_create(strata_bert_state **out,
                                       strata_error *err);
void strata_bert_state_free(strata_bert_state *s);

/* Sets the precision of the state's matrix products for model m (see
 * strata_precision in strata.h): FP32 (a new state's), BF16 or INT8; AUTO
 * resolves to BF16 where available, else FP32. BF16 and INT8 keep a
 * converted copy of m's linear weights in s (2 or 1 bytes per weight); the
 * state is then tied to m (a forward with another model is EINVAL) and must
 * be set again if m's weights change. Errors: EUNSUPPORTED when this CPU or
 * build cannot run p (the message says what is missing), ENOMEM. */
strata_status strata_bert_state_set_precision(strata_bert_state *s,
                                              const strata_bert *m,
                                              strata_precision p,
                                              strata_error *err);
/* The precision the state computes in (FP32, BF16 or INT8). */
strata_precision strata_bert_state_precision(const strata_bert_state *s);

/* Forward pass for B sequences of ids (row-major [B, T]; lengths[b] in
 * [1, T] tokens are real, the rest padding with any valid id). Writes pooled
 * (and, if cfg.normalize, L2-normalized) embeddings out[B, C] (overwritten).
 * T <= max positions. Uses OpenMP inside; results do not depend on the
 * thread count. BLAS must be single-threaded (strata_set_threads). */
strata_status strata_bert_forward(const strata_bert *m, strata_bert_state *s,
                                  const int32_t *ids, const int *lengths,
                                  int B, int T, float *out,
                                  strata_error *err);

/* Forward pass from a given embedding sum instead of token ids (models that
 * feed the encoder other vectors, e.g. the contextual model, contextual.h):
 * x [B, T, C] is the input of the embedding LayerNorm, lengths[b] in [1, T]
 * positions are attended to; hidden [B, T, C] receives the last hidden
 * states (overwritten; no pooling). cfg/w describe any parameter block in
 * the strata_bert_bind layout. T <= max positions is not required. */
strata_status strata_bert_forward_embeds(const strata_bert_config *cfg,
                                         const strata_bert_weights *w,
                                         strata_bert_state *s, const float *x,
                                         const int *lengths, int B, int T,
                                         float *hidden, strata_error *err);

/* Embeds n texts: tokenizes (in chunks of 8192 texts), sorts each chunk
 * by length, batches with dynamic padding, runs the forward pass with
 * OpenMP, writes out[n, C] in input order. texts[i] has lens[i] bytes.
 * Progress: stage "embed", unit "texts". A text with invalid UTF-8 fails
 * the call: "text 12: invalid UTF-8 at byte 5". */
typedef struct strata_embed_params {
    int max_len;        /* tokens per text incl. [CLS]/[SEP]; 0 (default):
                           the model's (its folder's max_seq_length, else
                           STRATA_EMBED_DEFAULT_MAX_LEN), capped at P */
    const char *prompt; /* prepended to every text before tokenization, as
                           sentence-transformers does (its tokens count in
                           the pooling); NULL or "" (default): none */
    int batch_size;     /* default 64 */
    strata_precision precision; /* matrix products; default AUTO (BF16 where
                                   available, else FP32): see strata.h */
    strata_progress progress;
} strata_embed_params;

strata_embed_params strata_embed_default_params(void);

strata_status strata_bert_embed_texts(const strata_bert *m,
                                      const char *const *texts,
                                      const size_t *lens, int64_t n,
                                      const strata_embed_params *p,
                                      float *out, strata_error *err);

#ifdef __cplusplus
}
#endif

#endif /* STRATA_ENCODER_H */
