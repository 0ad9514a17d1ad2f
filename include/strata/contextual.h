/*
 * contextual.h — the contextual document embedding model of CDE (Morris &
 * Rush 2024, section 4.2): a document embedding that reads a sample of its
 * own corpus.
 *
 *   Stage 1 (M1): a BERT encoder embeds J context documents of the target
 *     corpus; mean pooling; a head Linear(C,C) -> GELU -> Linear(C,C) gives
 *     the context vectors E [J, C].
 *   Stage 2 (M2): a second BERT of the same shape (untied) reads
 *       [ E_1 .. E_J | P_1 .. P_S | text tokens ]
 *     where P [S, C] (S = 8) is a soft prompt, an MLP Linear(C,C) -> ReLU ->
 *     Linear(C, S*C) applied to a vector of ones. Context and prompt vectors
 *     get no position and no token-type embedding, so the output does not
 *     depend on the order of the context; text tokens get word + position
 *     0..T-1 + type 0 as in any BERT. The embedding LayerNorm applies to every
 *     position; attention is bidirectional over all real positions. The mean
 *     over the TEXT positions only goes through Linear(C,C) -> ReLU ->
 *     Linear(C,C) and is L2-normalized. Queries and documents use the same
 *     M2 and the same context (the context comes from documents only).
 *   Sequence dropout: in training each (sequence, slot) pair is replaced by
 *     a learned null vector v_null [C] with probability p; with no corpus at
 *     hand every slot is v_null.
 *
 * Where the reference code (jxmorris12/cde) differs, Strata follows the
 * paper; docs/contextual.md lists the differences (no positions on the
 * context there only for NomicBERT backbones; a residual around the output
 * head in its later versions: output_residual = 1 here).
 *
 * Dimension letters: J context documents, S soft-prompt vectors, B batch,
 * T text tokens, C hidden, N pairs in a training batch.
 *
 * Thread-safety: a loaded strata_ctx_model is read-only and may be shared;
 * strata_ctx_state and strata_ctx_ws are per-call scratch, not shareable.
 * Results do not depend on the thread count.
 */
#ifndef STRATA_CONTEXTUAL_H
#define STRATA_CONTEXTUAL_H

#include "strata/encoder.h"
#include "strata/train.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Configuration and parameter layout                                        */
/* ------------------------------------------------------------------------ */

#define STRATA_CTX_PROMPT 8   /* soft-prompt vectors S (the reference's)  */

typedef struct strata_ctx_config {
    strata_bert_config bert;  /* shape of both stages (pool is mean)      */
    int context_size;         /* J >= 1: context slots                    */
    int n_prompt;             /* S >= 1: soft-prompt vectors (8)          */
    double seq_dropout;       /* p in [0, 1]: training slot dropout       */
    int context_positions;    /* 0 (paper): no position/type on the
                                 context and prompt; 1: positions
                                 0..J+S+T-1 on every input, as Hugging Face
                                 BertModel(inputs_embeds=) (a control)    */
    int output_residual;      /* 0 (paper): head(pooled); 1: head(pooled)
                                 + pooled (reference code, later)         */
} strata_ctx_config;

/* Typed pointers into one parameter block, in block order. Linear weights
 * are [out, in] as in PyTorch. */
typedef struct strata_ctx_weights {
    strata_bert_weights m1;   /* first stage (first_stage_model.embedder.*)   */
    float *mlp0_w, *mlp0_b;   /* [C, C], [C]  first_stage_model.mlp.0         */
    float *mlp2_w, *mlp2_b;   /* [C, C], [C]  first_stage_model.mlp.2         */
    strata_bert_weights m2;   /* second stage (second_stage_model.backbone.*) */
    float *pp0_w, *pp0_b;     /* [C, C], [C]  prompt_projection.0             */
    float *pp2_w, *pp2_b;     /* [S*C, C], [S*C]  prompt_projection.2         */
    float *op0_w, *op0_b;     /* [C, C], [C]  output_projection.0             */
    float *op2_w, *op2_b;     /* [C, C], [C]  output_projection.2             */
    float *null_emb;          /* [C]  sequence_dropout_null_embedding          */
} strata_ctx_weights;

/* Tensors: M1's 21, its head's 4, M2's 21, the prompt's 4, the output
 * head's 4, v_null. */
#define STRATA_CTX_NUM_TENSORS (2 * STRATA_BERT_NUM_TENSORS + 13)

/* Floats of each tensor (block order) and the total. */
size_t strata_ctx_param_sizes(const strata_ctx_config *cfg,
                              size_t sizes[STRATA_CTX_NUM_TENSORS]);
/* Points w's members into block (strata_ctx_param_sizes floats). */
void strata_ctx_bind(const strata_ctx_config *cfg, float *block,
                     strata_ctx_weights *w);
/* Saved name of tensor i; stacked BERT tensors carry a '*' for the layer
 * ("second_stage_model.backbone.encoder.layer.*.attention.self.query.weight").
 * "?" when out of range. */
const char *strata_ctx_tensor_name(int i, char *buf, size_t cap);
/* 1 when tensor i gets weight decay: matrices, embeddings and v_null (the
 * Hugging Face Trainer's rule: all but biases and LayerNorm), else 0. */
int strata_ctx_tensor_decays(int i);

/* ------------------------------------------------------------------------ */
/* The model                                                                 */
/* ------------------------------------------------------------------------ */

typedef struct strata_ctx_model {
    strata_ctx_config cfg;
    float *params;            /* n_params floats (owned)                    */
    size_t n_params;
    strata_ctx_weights w;     /* typed pointers into params                 */
    strata_tokenizer *tok;    /* owned; NULL when made without a vocabulary */
} strata_ctx_model;

/* A fresh model: both stages start from the SAME random BERT (normal(0,
 * 0.02) matrices, as strata_bert_create with this seed), the three heads
 * from PyTorch's nn.Linear default (uniform +-1/sqrt(in) for weights and
 * biases), v_null from normal(0, 0.01) (the reference's init); all
 * deterministic in seed. cfg->bert.pool and normalize are ignored (mean,
 * normalized). Takes ownership of tok (may be NULL), also on failure.
 * Errors: a bad configuration, out of memory. */
strata_status strata_ctx_create(strata_ctx_model **out,
                                const strata_ctx_config *cfg,
                                strata_tokenizer *tok, uint64_t seed,
                                strata_error *err);

/* Both stages from one pretrained BERT (copied; untied from then on), heads
 * and v_null fresh as strata_ctx_create. cfg supplies J, S, p and the flags;
 * its bert member is replaced by init's. Takes init->tok (sets it NULL). */
strata_status strata_ctx_from_bert(strata_ctx_model **out, strata_bert *init,
                                   const strata_ctx_config *cfg, uint64_t seed,
                                   strata_error *err);

/* 1 when dir/config.json names a contextual model (has the key
 * "transductive_corpus_size"), else 0. */
int strata_ctx_is_model_dir(const char *dir);
/* The same with an error: *is_ctx as above; ENOMEM when memory ran out
 * (a missing or unreadable config.json is not an error here: *is_ctx = 0,
 * and a loader names the problem). */
strata_status strata_ctx_probe_dir(const char *dir, int *is_ctx, strata_error *err);

/* Loads a folder written by strata_ctx_save: config.json (Hugging Face BERT
 * keys for both stages plus the contextual keys, see docs/contextual.md),
 * model.safetensors (F32/F16/BF16) and vocab.txt or tokenizer.json. Errors
 * name the file and the key or tensor (missing, wrong shape or dtype). */
strata_status strata_ctx_load(strata_ctx_model **out, const char *dir,
                              strata_error *err);

/* Writes dir/config.json, dir/model.safetensors (F32, names as
 * strata_ctx_tensor_name with the layer number), vocab.txt and
 * tokenizer_config.json, each atomically. */
strata_status strata_ctx_save(const strata_ctx_model *m, const char *dir,
                              strata_error *err);

void strata_ctx_free(strata_ctx_model *m);

/* Writes a block in the parameter layout (parameters or gradients) as the
 * safetensors file strata_ctx_save writes (F32, per-layer names),
 * atomically. */
strata_status strata_ctx_save_block(const char *path, const strata_ctx_config *cfg,
                                    const float *block, strata_error *err);

/* ------------------------------------------------------------------------ */
/* Inference                                                                 */
/* ------------------------------------------------------------------------ */

/* The context sample: J indices into a corpus of n >= 1 documents. n >= J:
 * J distinct documents drawn uniformly at random (no repeats). n < J
 * (oversampling): a seeded permutation of all n repeated in order until J
 * slots are full, so every document appears floor(J/n) or ceil(J/n) times.
 * Deterministic in (seed, stream). idx: [J]. Errors: n < 1 or J < 1, out
 * of memory. */
strata_status strata_ctx_sample(int64_t n, int J, uint64_t seed, uint64_t stream,
                                int64_t *idx, strata_error *err);

typedef struct strata_ctx_state strata_ctx_state;

strata_status strata_ctx_state_create(strata_ctx_state **out,
                                      strata_error *err);
void strata_ctx_state_free(strata_ctx_state *s);

/* Stage 1: E [n, C] (overwritten) for n documents given as ids [n, T]
 * (lengths[b] in [1, T], padding with any valid id). Rows are independent:
 * E does not depend on which documents share the call. */
strata_status strata_ctx_first_stage(const strata_ctx_model *m,
                                     strata_ctx_state *s, const int32_t *ids,
                                     const int *lengths, int n, int T,
                                     float *E, strata_error *err);

/* Stage 2: out [B, C] (overwritten, L2-normalized) for B texts given the
 * context E [J, C], or E = NULL for J null slots (v_null, the no-context
 * model). Any J >= 1 is accepted (the model was trained with
 * cfg.context_size). No dropout. Rows are independent of each other and of
 * the padding. */
strata_status strata_ctx_second_stage(const strata_ctx_model *m,
                                      strata_ctx_state *s, const float *E,
                                      int J, const int32_t *ids,
                                      const int *lengths, int B, int T,
                                      float *out, strata_error *err);

/* Text versions (tokenize with m->tok, length-sorted dynamically padded
 * batches, as strata_bert_embed_texts; output in input order). First stage
 * of n documents -> E [n, C]; second stage of n texts with E [J, C] (NULL:
 * null context) -> out [n, C]. Errors as strata_bert_embed_texts ("text 12:
 * invalid UTF-8 at byte 5"). */
strata_status strata_ctx_embed_context(const strata_ctx_model *m,
                                       const char *const *texts,
                                       const size_t *lens, int64_t n,
                                       const strata_embed_params *p,
                                       float *E, strata_error *err);
strata_status strata_ctx_embed_texts(const strata_ctx_model *m,
                                     const float *E, int J,
                                     const char *const *texts,
                                     const size_t *lens, int64_t n,
                                     const strata_embed_params *p,
                                     float *out, strata_error *err);

/* The context of a corpus of n texts: strata_ctx_sample(n, J, seed, 0)
 * (oversampled when n < J), then strata_ctx_embed_context of those texts.
 * E: [J, C]; idx: [J] or NULL, receives the sampled corpus indices. An
 * invalid text fails with "text K: ..." (K its corpus index). */
strata_status strata_ctx_context_from_texts(const strata_ctx_model *m,
                                            const char *const *texts,
                                            const size_t *lens, int64_t n, int J,
                                            uint64_t seed,
                                            const strata_embed_params *p,
                                            float *E, int64_t *idx,
                                            strata_error *err);

/* ------------------------------------------------------------------------ */
/* Training: one batch with two-stage gradient caching                       */
/* ------------------------------------------------------------------------ */

/* Sequence-dropout mask of rows row0..row0+n_rows-1 (out [n_rows, J], 1 =
 * slot replaced by v_null). Counter-based: bit (row, slot) is a hash of
 * (seed, step, row, slot) compared with p, so any chunking of the rows
 * replays the same mask. p <= 0: none; p >= 1: all. */
void strata_ctx_dropout_mask(uint64_t seed, int64_t step, int row0,
                             int n_rows, int J, double p, uint8_t *out);

typedef struct strata_ctx_batch {
    const int32_t *ids;       /* [2N, T]: queries 0..N-1, documents N..2N-1 */
    const int *lengths;       /* [2N] in [1, T]                             */
    int N, T;
    const int32_t *ctx_ids;   /* [J, Tc] context documents (J = cfg J)      */
    const int *ctx_lengths;   /* [J] in [1, Tc]                             */
    int Tc;
    const uint8_t *mask;      /* [N, ceil(N/8)] false negatives, or NULL    */
    uint64_t seed;            /* sequence-dropout key: seed and step        */
    int64_t step;
} strata_ctx_batch;

typedef struct strata_ctx_ws strata_ctx_ws;

strata_status strata_ctx_ws_create(strata_ctx_ws **out,
                                   const strata_ctx_config *cfg,
                                   strata_error *err);
void strata_ctx_ws_free(strata_ctx_ws *ws);

/* Loss (InfoNCE q -> d over in-batch negatives with the mask, as
 * strata_infonce) and the gradients of every parameter, ACCUMULATED into g
 * (zero it first). chunk <= 0 or >= the number of sequences runs each stage
 * at once; otherwise two-stage GradCache: M1 over the context in chunks of
 * `chunk` documents without keeping activations -> E; M2 over the 2N
 * sequences in chunks -> embeddings; loss gradient at the embeddings; M2
 * chunks again with activations, backpropagated (M2, prompt and head
 * gradients, dE, d v_null); M1 chunks again against dE. Sequence dropout
 * with cfg.seq_dropout keyed by (seed, step, sequence, slot). Errors:
 * lengths or ids out of range, T or Tc past max positions, out of memory. */
strata_status strata_ctx_train_batch(strata_ctx_ws *ws,
                                     const strata_ctx_config *cfg,
                                     const strata_ctx_weights *w,
                                     const strata_ctx_batch *b, double tau,
                                     int symmetric, int chunk,
                                     strata_ctx_weights *g,
                                     strata_infonce_stats *st,
                                     strata_error *err);

/* Tensors of the last strata_ctx_train_batch (valid until the next call):
 * E [J, C] context vectors, dE [J, C] the loss gradient w.r.t. them,
 * pooled [2N, C] the text-position mean of M2 before the head, emb [2N, C]
 * the normalized embeddings, drop [2N, J] the dropout mask. Any may be NULL. */
void strata_ctx_ws_outputs(const strata_ctx_ws *ws, const float **E,
                           const float **dE, const float **pooled,
                           const float **emb, const uint8_t **drop);

/* Clipping over the whole block, then AdamW per tensor with weight decay wd
 * where strata_ctx_tensor_decays says so (as strata_train_optimizer_step).
 * Returns the gradient norm before clipping. */
double strata_ctx_optimizer_step(const strata_ctx_config *cfg, float *params,
                                 float *grads, float *m, float *v, double lr,
                                 double wd, double clip, double beta1,
                                 double beta2, double eps, int64_t t);

#ifdef __cplusplus
}
#endif

#endif /* STRATA_CONTEXTUAL_H */
