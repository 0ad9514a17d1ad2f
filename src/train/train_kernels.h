/*
 * train_kernels.h — float forward and backward kernels of the BERT ops used by
 * the trainer (internal; tests include it as "train/train_kernels.h").
 *
 * Conventions (llm.c style): `*_fwd(out, inp, ...)`, `*_bwd(dinp, dweight,
 * ..., dout, ...)`. Weight gradients are always ACCUMULATED (+=); input
 * gradients are accumulated when the kernel says so and overwritten
 * otherwise. Every kernel partitions its outputs in fixed-size blocks and
 * runs the blocks with OpenMP, so results do not depend on the thread count.
 * Reductions over rows (bias, LayerNorm and embedding gradients) run in
 * double in a fixed order.
 *
 * Dimension letters: N rows (= B*T), B sequences, T tokens, C hidden,
 * H heads, IC/OC linear in/out features, V vocabulary.
 */
#ifndef STRATA_TRAIN_KERNELS_H
#define STRATA_TRAIN_KERNELS_H

#include <stdint.h>
#include "strata/encoder.h"

/* ---- embeddings ------------------------------------------------------- */

/* out[b,t,:] = word[ids[b,t]] + pos[t] + type[0]. out [B,T,C]. */
void strata__tr_emb_fwd(float *out, const int32_t *ids, const float *word,
                        const float *pos, const float *type, int B, int T,
                        int C);
/* Scatter-adds dout [B,T,C] into dword [V,C], dpos [P,C], dtype [TV,C] for
 * the real tokens (t < lengths[b]); tokens in order, columns partitioned. */
void strata__tr_emb_bwd(float *dword, float *dpos, float *dtype,
                        const float *dout, const int32_t *ids,
                        const int *lengths, int B, int T, int C);

/* ---- LayerNorm -------------------------------------------------------- */

/* out [N,C] = (inp - mean)*rstd*w + b; mean, rstd [N] saved. */
void strata__tr_ln_fwd(float *out, float *mean, float *rstd,
                       const float *inp, const float *w, const float *b,
                       int64_t N, int C, float eps);
/* dinp [N,C] (accumulated if accum, else overwritten), dw, db [C] += . */
void strata__tr_ln_bwd(float *dinp, float *dw, float *db, const float *dout,
                       const float *inp, const float *mean, const float *rstd,
                       const float *w, int64_t N, int C, int accum);

/* ---- linear (y = x W^T + b, W [OC, IC] as Hugging Face) ---------------- */

/* out [N,OC] = inp [N,IC] W^T + b (b may be NULL). Row blocks, each a
 * single-threaded sgemm. */
void strata__tr_linear_fwd(float *out, const float *inp, const float *W,
                           const float *b, int64_t N, int IC, int OC);
/* Naive reference of strata__tr_linear_fwd (double accumulation). */
void strata__tr_linear_fwd_naive(float *out, const float *inp, const float *W,
                                 const float *b, int64_t N, int IC, int OC);
/* dinp [N,IC] (+)= dout W; dW [OC,IC] += dout^T inp; db [OC] += sum dout.
 * dinp may be NULL. */
void strata__tr_linear_bwd(float *dinp, float *dW, float *db,
                           const float *dout, const float *inp,
                           const float *W, int64_t N, int IC, int OC,
                           int accum);
void strata__tr_linear_bwd_naive(float *dinp, float *dW, float *db,
                                 const float *dout, const float *inp,
                                 const float *W, int64_t N, int IC, int OC,
                                 int accum);

/* ---- GELU (exact, erf) ------------------------------------------------ */

void strata__tr_gelu_fwd(float *out, const float *inp, int64_t n);
/* dinp = dout * gelu'(inp) (overwritten; dinp may alias dout). */
void strata__tr_gelu_bwd(float *dinp, const float *inp, const float *dout,
                         int64_t n);

/* ---- attention -------------------------------------------------------- */

/* Multi-head self-attention core on q, k, v [B,T,C] (head h uses columns
 * h*C/H ..): att [B,H,T,T] = softmax(q k^T / sqrt(C/H)) with keys t >=
 * lengths[b] given probability 0; out [B,T,C] = att v. */
void strata__tr_attn_fwd(float *out, float *att, const float *q,
                         const float *k, const float *v, const int *lengths,
                         int B, int T, int C, int H);
/* dq, dk, dv [B,T,C] overwritten; datt [B,H,T,T] is scratch. */
void strata__tr_attn_bwd(float *dq, float *dk, float *dv, float *datt,
                         const float *dout, const float *q, const float *k,
                         const float *v, const float *att, int B, int T,
                         int C, int H);

/* ---- pooling and L2 normalization ------------------------------------ */

/* out [B,C]: x[b,0,:] (CLS) or the mean over t < lengths[b] (MEAN). */
void strata__tr_pool_fwd(float *out, const float *x, const int *lengths,
                         int B, int T, int C, strata_pool pool);
/* dx [B,T,C] overwritten (zero on rows that do not feed the pool). */
void strata__tr_pool_bwd(float *dx, const float *dout, const int *lengths,
                         int B, int T, int C, strata_pool pool);
/* out [B,C] = x / max(|x|, 1e-12); norm [B] = |x|. */
void strata__tr_l2n_fwd(float *out, float *norm, const float *x, int B, int C);
/* dx [B,C] overwritten. */
void strata__tr_l2n_bwd(float *dx, const float *dout, const float *out,
                        const float *norm, int B, int C);

/* ---- elementwise ------------------------------------------------------ */

/* y[i] += x[i] */
void strata__tr_add_inplace(float *y, const float *x, int64_t n);

/* ---- activation access for tests ------------------------------------ */

struct strata_train_acts;
/* Hidden states [B*T, C] of the last forward: l = 0 the embedding LayerNorm
 * output, l = 1..L the output of layer l. */
const float *strata__tr_acts_res(const struct strata_train_acts *a, int l);
/* Pooled embeddings [B, C] before normalization. */
const float *strata__tr_acts_pooled(const struct strata_train_acts *a);

#endif
