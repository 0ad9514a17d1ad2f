/*
 * train_kernels.h — float backward kernels of the BERT ops used by the
 * trainer (internal; tests include it as "train/train_kernels.h").
 *
 * The forward pass uses the encoder's kernels (encoder/kernels.h, included
 * here), which store what the backward needs: LayerNorm mean/rstd, the
 * attention probabilities, the GELU pre-activation, the LayerNorm inputs of
 * the fused residual adds and the clamped L2 norm. Each backward kernel
 * below names the forward kernel it differentiates.
 *
 * Conventions (llm.c style): `*_bwd(dinp, dweight, ..., dout, ...)`.
 * Weight gradients are always ACCUMULATED (+=); input gradients are
 * accumulated when the kernel says so and overwritten otherwise. Every kernel partitions its outputs in fixed-size blocks and
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
#include "encoder/kernels.h"

/* ---- embeddings ------------------------------------------------------- */

/* Backward of strata_k_embed_forward. Scatter-adds dout [B,T,C] into
 * dword [V,C], dpos [P,C], dtype [TV,C] for the real tokens
 * (t < lengths[b]); tokens in order, columns partitioned. */
void strata__tr_emb_bwd(float *dword, float *dpos, float *dtype,
                        const float *dout, const int32_t *ids,
                        const int *lengths, int B, int T, int C);

/* Backward of strata_k_embed_prefix_forward: dprefix [B,P,C] is
 * overwritten with dout's first P rows of each sequence; the real text
 * tokens (t < lengths[b]) scatter-add into dword, dpos, dtype as
 * strata__tr_emb_bwd does; with prefix_pos the prefix rows also add into
 * dpos[p] and dtype[0], and text positions are shifted by P. dout:
 * [B, P+T, C]. Tokens in order, columns partitioned. */
void strata__tr_emb_prefix_bwd(float *dprefix, float *dword, float *dpos,
                               float *dtype, const float *dout,
                               const int32_t *ids, const int *lengths, int B,
                               int P, int T, int C, int prefix_pos);

/* ---- LayerNorm -------------------------------------------------------- */

/* Backward of strata_k_layernorm_forward / strata_k_add_layernorm_forward
 * (inp = the LayerNorm input, mean and rstd as those kernels store them).
 * dinp [N,C] (accumulated if accum, else overwritten), dw, db [C] += . */
void strata__tr_ln_bwd(float *dinp, float *dw, float *db, const float *dout,
                       const float *inp, const float *mean, const float *rstd,
                       const float *w, int64_t N, int C, int accum);

/* ---- linear (y = x W^T + b, W [OC, IC] as Hugging Face) ---------------- */

/* Backward of strata_k_linear_forward, row blocks of single-threaded
 * sgemm. dinp [N,IC] (+)= dout W; dW [OC,IC] += dout^T inp;
 * db [OC] += sum dout. dinp may be NULL. */
void strata__tr_linear_bwd(float *dinp, float *dW, float *db,
                           const float *dout, const float *inp,
                           const float *W, int64_t N, int IC, int OC,
                           int accum);
void strata__tr_linear_bwd_naive(float *dinp, float *dW, float *db,
                                 const float *dout, const float *inp,
                                 const float *W, int64_t N, int IC, int OC,
                                 int accum);

/* bf16 twin of strata__tr_linear_bwd (see strata_precision in strata.h):
 * dinp (+)= bf16(dout) bf16(W) through wt, W prepared by strata_gemm_w_create
 * with trans = 1 (src/core/gemm.h), in the same row blocks; dW +=
 * bf16(dout)^T bf16(inp) with fp32 sums through one oneDNN plan per call,
 * in the same DW_BLK output blocks; db in double as the fp32 kernel.
 * dout16 [N*OC], inp16 [N*IC]: bf16 scratch; scratch:
 * strata_k_linear_lowp_scratch(wt) bytes per thread (omp_get_max_threads()).
 * Returns 0, or -1 when oneDNN failed (dW, dinp then undefined). */
struct strata_gemm_w;
int strata__tr_linear_bwd_bf16(float *dinp, float *dW, float *db,
                               const float *dout, const float *inp,
                               const struct strata_gemm_w *wt, int64_t N,
                               int IC, int OC, int accum, uint16_t *dout16,
                               uint16_t *inp16, void *scratch);
/* Naive twin: operands rounded to bf16 (round to nearest even), sums in
 * double. */
void strata__tr_linear_bwd_bf16_naive(float *dinp, float *dW, float *db,
                                      const float *dout, const float *inp,
                                      const float *W, int64_t N, int IC,
                                      int OC, int accum);

/* ---- GELU (exact, erf) ------------------------------------------------ */

/* Backward of strata_k_gelu_forward / strata_k_linear_gelu_forward (inp =
 * the pre-activation): dinp = dout * gelu'(inp), by strata_k_gelu_grad (the
 * cdf from the forward's own erf). Overwritten; dinp may alias dout. */
void strata__tr_gelu_bwd(float *dinp, const float *inp, const float *dout,
                         int64_t n);

/* ---- attention -------------------------------------------------------- */

/* Backward of strata_k_attention_forward with ld = C (q, k, v separate
 * [B,T,C] tensors) and att [B,H,T,T] the probabilities it stored (0 on
 * padded keys). dq, dk, dv [B,T,C] overwritten; datt [B,H,T,T] is scratch. */
void strata__tr_attn_bwd(float *dq, float *dk, float *dv, float *datt,
                         const float *dout, const float *q, const float *k,
                         const float *v, const float *att, int B, int T,
                         int C, int H);

/* ---- pooling and L2 normalization ------------------------------------ */

/* Backward of strata_k_pool_forward (pool 0 = STRATA_POOL_CLS, 1 = MEAN).
 * dx [B,T,C] overwritten (zero on rows that do not feed the pool). */
void strata__tr_pool_bwd(float *dx, const float *dout, const int *lengths,
                         int B, int T, int C, strata_pool pool);
/* Backward of strata_k_l2norm_forward: out [B,C] and norm [B] = max(|x|,
 * 1e-12) as it stores them. dx [B,C] overwritten. */
void strata__tr_l2n_bwd(float *dx, const float *dout, const float *out,
                        const float *norm, int B, int C);

/* ---- activation access for tests ------------------------------------ */

struct strata_train_acts;
/* Hidden states [B*T, C] of the last forward: l = 0 the embedding LayerNorm
 * output, l = 1..L the output of layer l. */
const float *strata__tr_acts_res(const struct strata_train_acts *a, int l);
/* Pooled embeddings [B, C] before normalization. */
const float *strata__tr_acts_pooled(const struct strata_train_acts *a);

#endif
