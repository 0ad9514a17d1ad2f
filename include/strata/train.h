/*
 * train.h — contrastive training of a BERT biencoder (`strata train`):
 * forward with cached activations, backward for every BERT op, InfoNCE over
 * in-batch negatives with the plan's false-negative mask, AdamW with warmup
 * and linear decay, gradient-norm clipping, gradient caching (Gao et al.
 * 2021), checkpoints and exact resume.
 *
 * Dimension letters: B batch (sequences), T tokens, C hidden, H heads,
 * F intermediate, L layers, V vocabulary, N pairs in a training batch.
 *
 * Determinism: no dropout (BERT dropout is off in training, documented in
 * docs/train.md); every reduction has a fixed order, and kernels partition
 * their outputs in fixed-size blocks, so a given build gives the same bytes
 * for any thread count. A run killed and resumed ends with the same weights
 * as an uninterrupted one.
 *
 * Thread-safety: a strata_train_ws is per-call scratch, not shareable; the
 * weights passed in are read-only during forward/backward.
 */
#ifndef STRATA_TRAIN_H
#define STRATA_TRAIN_H

#include "strata/encoder.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Parameter layout                                                          */
/* ------------------------------------------------------------------------ */

/* Parameters, gradients and Adam moments all use the encoder's layout:
 * strata_bert_param_sizes / strata_bert_bind (encoder.h). */
/* Hugging Face name of tensor i ("embeddings.word_embeddings.weight",
 * "encoder.layer.*.attention.self.query.weight" for stacked tensors). */
const char *strata_train_tensor_name(int i);
/* 1 when tensor i gets weight decay (matrices and embeddings), 0 for biases
 * and LayerNorm weights/biases. */
int strata_train_tensor_decays(int i);

/* Writes a block in the parameter layout (parameters or gradients) as a
 * safetensors file with Hugging Face BertModel names, per-layer tensors
 * split into encoder.layer.N.*, F32, atomically. */
strata_status strata_train_save_block(const char *path,
                                      const strata_bert_config *cfg,
                                      const float *block, strata_error *err);

/* ------------------------------------------------------------------------ */
/* Forward with activations, backward                                        */
/* ------------------------------------------------------------------------ */

/* Activation cache for up to max_B sequences of up to max_T tokens. */
typedef struct strata_train_acts strata_train_acts;

strata_status strata_train_acts_create(strata_train_acts **out,
                                       const strata_bert_config *cfg,
                                       int max_B, int max_T,
                                       strata_error *err);
void strata_train_acts_free(strata_train_acts *a);

/* Forward pass keeping every activation needed by the backward pass.
 * ids [B, T] row-major (positions >= lengths[b] are padding and never
 * attended to), token type 0, positions 0..T-1. pool selects CLS or mean
 * pooling; out [B, C] receives the L2-normalized pooled embedding (training
 * uses cosine similarity). B <= max_B, T <= max_T and T <= cfg->max_position
 * (checked by the caller). */
void strata_train_forward(const strata_bert_config *cfg,
                          const strata_bert_weights *w, strata_train_acts *a,
                          const int32_t *ids, const int *lengths, int B,
                          int T, strata_pool pool, float *out);

/* Backward of the last strata_train_forward on `a`: dout [B, C] is the
 * gradient w.r.t. the normalized embeddings. Gradients are ACCUMULATED into
 * g (same layout as the weights; zero it before the first chunk). */
void strata_train_backward(const strata_bert_config *cfg,
                           const strata_bert_weights *w, strata_train_acts *a,
                           const float *dout, strata_bert_weights *g);

/* Forward from a given embedding sum instead of token ids, for models that
 * feed the encoder other vectors (the contextual model's second stage):
 * x [B, T, C] is the input of the embedding LayerNorm (copied into the
 * cache); lengths[b] positions are attended to. No pooling: the last hidden
 * states [B*T, C] are at strata_train_hidden(a) until the next forward. */
void strata_train_forward_embeds(const strata_bert_config *cfg,
                                 const strata_bert_weights *w,
                                 strata_train_acts *a, const float *x,
                                 const int *lengths, int B, int T);
const float *strata_train_hidden(const strata_train_acts *a);

/* Backward of the last strata_train_forward_embeds: dhidden [B, T, C] is the
 * gradient w.r.t. the last hidden states (zero on rows the caller does not
 * use). Weight gradients are ACCUMULATED into g; dx [B, T, C] receives
 * (overwritten) the gradient w.r.t. x. The word, position and token-type
 * tables of g are untouched: the caller owns the embedding sum. */
void strata_train_backward_embeds(const strata_bert_config *cfg,
                                  const strata_bert_weights *w,
                                  strata_train_acts *a, const float *dhidden,
                                  strata_bert_weights *g, float *dx);

/* ------------------------------------------------------------------------ */
/* InfoNCE                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct strata_infonce_stats {
    double loss;         /* mean over queries (and documents if symmetric) */
    double acc;          /* in-batch top-1 accuracy, query -> document      */
    double masked_frac;  /* masked negatives / all in-batch negatives       */
} strata_infonce_stats;

/* InfoNCE over in-batch negatives for N pairs: q, d [N, C] unit vectors,
 * s_ij = q_i . d_j / tau, loss_i = logsumexp_{j in P(i)} s_ij - s_ii where
 * P(i) holds i and every j whose bit j of mask row i is clear (mask [N,
 * ceil(N/8)] bit-packed little-endian, or NULL for none; the positive is never
 * removed). symmetric adds the document -> query direction with the mask
 * transposed and averages the two. Writes dq, dd [N, C] = d(loss)/d(q, d)
 * (overwritten; either may be NULL to skip gradients). Computed in double;
 * allocates N*N doubles twice. Errors: N or C < 1, tau <= 0 (EINVAL), out of
 * memory (ENOMEM; st, dq and dd are then left as they were). */
strata_status strata_infonce(const float *q, const float *d, int N, int C,
                             const uint8_t *mask, double tau, int symmetric,
                             float *dq, float *dd, strata_infonce_stats *st,
                             strata_error *err);

/* ------------------------------------------------------------------------ */
/* Optimizer                                                                 */
/* ------------------------------------------------------------------------ */

/* Learning rate for optimizer step `step` (0-based): linear warmup
 * lr*(step+1)/warmup for step < warmup, then linear decay
 * lr*(total-step)/(total-warmup) reaching 0 at total. */
double strata_train_lr(double lr, int64_t warmup, int64_t total, int64_t step);

/* Global L2 norm of g[0..n) (in double); if max_norm > 0 and the norm exceeds
 * it, scales g by max_norm/(norm+1e-6) (as torch clip_grad_norm_). Returns
 * the norm before clipping. */
double strata_train_clip(float *g, size_t n, double max_norm);

/* One AdamW update of n parameters (torch.optim.AdamW semantics: decoupled
 * decay p -= lr*wd*p, then Adam with bias correction; t is the 1-based step
 * count after this update). m and v are updated in place. */
void strata_adamw_update(float *p, const float *g, float *m, float *v,
                         size_t n, double lr, double beta1, double beta2,
                         double eps, double wd, int64_t t);

/* One optimizer step over a whole parameter block (layout of
 * strata_bert_param_sizes): clips grads to clip (<= 0: none), then AdamW
 * with weight decay wd on the tensors strata_train_tensor_decays() names and
 * none on the others. t is the 1-based step count. Returns the gradient norm
 * before clipping. */
double strata_train_optimizer_step(const strata_bert_config *cfg,
                                   float *params, float *grads, float *m,
                                   float *v, double lr, double wd,
                                   double clip, double beta1, double beta2,
                                   double eps, int64_t t);

/* ------------------------------------------------------------------------ */
/* One batch: loss and gradients, with optional gradient caching             */
/* ------------------------------------------------------------------------ */

typedef struct strata_train_ws strata_train_ws;

strata_status strata_train_ws_create(strata_train_ws **out,
                                     const strata_bert_config *cfg,
                                     strata_error *err);
void strata_train_ws_free(strata_train_ws *ws);
/* Precision of the batch's matrix products (strata_precision, strata.h):
 * FP32 (a new workspace's) or BF16 (AUTO resolves to BF16 where available):
 * bf16 operands with fp32 sums for every linear layer, forward and
 * backward; the weights stay fp32 (the master copy the optimizer updates)
 * and are rounded to bf16 afresh in every strata_train_batch; LayerNorm,
 * attention softmax, GELU, pooling, the loss and AdamW stay fp32. INT8 is
 * EUNSUPPORTED (inference only), as is BF16 where unavailable. */
strata_status strata_train_ws_set_precision(strata_train_ws *ws,
                                            strata_precision p,
                                            strata_error *err);
strata_precision strata_train_ws_precision(const strata_train_ws *ws);

/* Loss and parameter gradients for N pairs. Sequences 0..N-1 are queries,
 * N..2N-1 their documents: ids [2N, T] (row-major; padding past lengths),
 * lengths [2N]. chunk > 0 embeds the 2N sequences in chunks of `chunk`
 * without keeping activations, takes the loss gradient w.r.t. the
 * embeddings, then re-runs each chunk with activations and backpropagates
 * it (GradCache); chunk <= 0 or >= 2N runs the whole batch at once. Each
 * chunk is padded to its own longest sequence. Gradients are ACCUMULATED into
 * g (zero it first). Errors: lengths outside 1..T, ids outside the
 * vocabulary, T > max_position, out of memory. */
strata_status strata_train_batch(strata_train_ws *ws,
                                 const strata_bert_config *cfg,
                                 const strata_bert_weights *w,
                                 const int32_t *ids, const int *lengths,
                                 int N, int T, const uint8_t *mask,
                                 double tau, int symmetric, strata_pool pool,
                                 int chunk, strata_bert_weights *g,
                                 strata_infonce_stats *st, strata_error *err);

/* ------------------------------------------------------------------------ */
/* The training run (`strata train`)                                         */
/* ------------------------------------------------------------------------ */

typedef struct strata_train_params {
    const char *pairs_path;   /* pairs file (strata_pairs_load)              */
    const char *query_field, *positive_field, *source_field; /* its JSONL
                                 fields (NULL: strata_pairs_load's defaults) */
    const char *plan_dir;     /* batches.npy [+ mask.npy]                    */
    const char *init_dir;     /* model folder to start from, or NULL         */
    const char *config_path;  /* config.json for a fresh model (no init)     */
    const char *vocab_path;   /* vocab.txt / tokenizer.json (with config)    */
    const char *out_dir;      /* RUN_DIR                                     */
    double tau;               /* default 0.02                                */
    int symmetric;            /* add document -> query loss; default 0       */
    int pool;                 /* -1: the model's; STRATA_POOL_CLS/MEAN       */
    int max_len;              /* tokens per text; default 64. The saved
                                 folder's max_seq_length is the init
                                 model's when it has one, else max_len      */
    const char *query_prompt; /* prepended to every query (and saved as the
                                 folder's "query" prompt); NULL (default):
                                 the init model's query prompt; "": none    */
    const char *doc_prompt;   /* the same for positives ("document" prompt;
                                 NULL: the init model's document prompt,
                                 strata_bert_doc_prompt)                    */
    double lr;                /* default 2e-5                                */
    int64_t warmup;           /* linear warmup steps; default -1: a tenth of
                                 the total steps. A warmup as long as the run
                                 or longer is an error: the learning rate
                                 would never reach its peak                 */
    double weight_decay;      /* default 0.01                                */
    double clip;              /* default 1.0 (<= 0: no clipping)             */
    double beta1, beta2, eps; /* 0.9, 0.999, 1e-8                            */
    int chunk;                /* GradCache chunk (0: whole batch)            */
    int64_t steps;            /* total steps (0: one pass over the plan)     */
    int64_t save_every;       /* checkpoint period (0: only final)           */
    int keep_checkpoints;     /* keep only the newest N checkpoint-STEP/
                                 folders, removing older ones once a newer
                                 one is complete (0, default: keep all)     */
    const char *eval_beir;    /* BEIR folder for NDCG@10 (NULL: none)        */
    int64_t eval_every;       /* evaluation period                           */
    int resume;               /* continue from the latest checkpoint         */
    uint64_t seed;            /* init seed for a fresh model                 */
    strata_precision precision; /* matrix products: AUTO (default: BF16 where
                                   available, else FP32), FP32 or BF16; a
                                   resumed run must use its checkpoint's  */
    int contextual;           /* train the contextual model (contextual.h)   */
    int context_size;         /* J (0: the plan's batch size; a loaded
                                 contextual model's own J)                  */
    double seq_dropout;       /* p (< 0: the loaded model's, else 0.005)    */
    strata_progress progress;
} strata_train_params;

strata_train_params strata_train_default_params(void);

/* Runs the training described by p: writes RUN_DIR/log.jsonl (one JSON line
 * per step, flushed), RUN_DIR/checkpoint-STEP/ every save_every steps
 * (written to RUN_DIR/.checkpoint-STEP.tmp and renamed), and RUN_DIR/final/.
 * The plan is consumed in order and wraps around when steps exceed it. */
strata_status strata_train_run(const strata_train_params *p,
                               strata_error *err);

#ifdef __cplusplus
}
#endif

#endif /* STRATA_TRAIN_H */
