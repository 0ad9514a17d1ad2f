/*
 * kernels.h — forward kernels of the BERT encoder (internal, llm.c style),
 * shared by inference (src/encoder/bert.c) and training (src/train/, which
 * adds the matching backward kernels and caches the activations these
 * kernels can store).
 *
 * Dimension letters: N rows (= B*T tokens), B batch, T tokens (padded
 * length), C hidden, H heads, hs = C/H head size, F intermediate, V vocab,
 * P max positions, IC/OC linear input/output features.
 *
 * Contract shared by every kernel here:
 *   - pure: no allocation, no failure, no printing; outputs are overwritten;
 *   - OpenMP inside (over row blocks or (batch, head) pairs); BLAS calls are
 *     made from inside the parallel regions and must be single-threaded
 *     (strata_set_threads pins BLAS to 1 thread);
 *   - work is split into fixed items (row blocks, rows, (b, h) pairs) whose
 *     results do not depend on which thread computes them, so results are
 *     bitwise identical for any number of threads; items are handed out
 *     dynamically, which keeps both cores busy on a shared machine;
 *   - a naive reference (`*_naive`, plain loops, no BLAS, no OpenMP) sits
 *     beside each fast kernel for the tests.
 *
 * Kernels:
 *   strata_k_embed_forward        word + position + token-type(0) embeddings
 *   strata_k_embed_prefix_forward input vectors (no position) + text embeddings
 *   strata_k_layernorm_forward    y = (x - mean) * rstd * w + b (stats in double)
 *   strata_k_add_layernorm_forward  fused residual add + LayerNorm (post-LN)
 *   strata_k_linear_forward       y = x W^T + b   (W [OC, IC] as in PyTorch)
 *   strata_k_linear_gelu_forward  fused linear + bias + exact GELU
 *   strata_k_linear_lowp_forward  the same two in bf16 or int8 (oneDNN), with
 *                                 an exact-semantics naive twin
 *   strata_k_gelu_forward         exact (erf) GELU
 *   strata_k_attention_forward    per (b, h): softmax(Q K^T / sqrt(hs) + mask) V,
 *                                 fused masked softmax, optional stored probs
 *   strata_k_pool_forward         CLS or masked mean pooling
 *   strata_k_l2norm_forward       row-wise x / max(||x||, 1e-12)
 */
#ifndef STRATA_ENCODER_KERNELS_H
#define STRATA_ENCODER_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* Rows per OpenMP work item in the row-blocked kernels (fixed, so the
 * partition — and thus every bit of the result — is thread-count free). */
#ifndef STRATA_K_ROW_BLOCK
#define STRATA_K_ROW_BLOCK 128
#endif

/* ------------------------------------------------------------------------ */
/* Embeddings                                                                */
/* ------------------------------------------------------------------------ */

/* out[b, t, :] = wte[ids[b, t]] + wpe[t] + wtt[0] for all B*T positions
 * (padding positions too; ids must be valid ids there, e.g. 0).
 * out: [B, T, C]; ids: [B, T]; wte: [V, C]; wpe: [P, C] (T <= P);
 * wtt: [TV, C] (row 0 used: token type ids are all 0). */
void strata_k_embed_forward(float *out, const int32_t *ids, const float *wte,
                            const float *wpe, const float *wtt, int B, int T,
                            int C);

/* ------------------------------------------------------------------------ */
/* LayerNorm                                                                 */
/* ------------------------------------------------------------------------ */

/* out[n, :] = (inp[n, :] - mean_n) * rstd_n * w + b, with biased variance
 * and rstd = 1 / sqrt(var + eps) (PyTorch semantics); statistics in double.
 * out, inp: [N, C] (out may alias inp); w, b: [C];
 * mean, rstd: [N] or NULL (stored for the backward pass when non-NULL). */
void strata_k_layernorm_forward(float *out, float *mean, float *rstd,
                                const float *inp, const float *w,
                                const float *b, int64_t N, int C, float eps);
void strata_k_layernorm_forward_naive(float *out, float *mean, float *rstd,
                                      const float *inp, const float *w,
                                      const float *b, int64_t N, int C,
                                      float eps);

/* Fused post-LN residual: s = a + r; out = LayerNorm(s).
 * out, a, r: [N, C] (out may alias a or r); sum: [N, C] or NULL (stores s,
 * the LayerNorm input, for the backward pass); mean, rstd: [N] or NULL. */
void strata_k_add_layernorm_forward(float *out, float *sum, float *mean,
                                    float *rstd, const float *a,
                                    const float *r, const float *w,
                                    const float *b, int64_t N, int C,
                                    float eps);

/* ------------------------------------------------------------------------ */
/* Linear layers                                                             */
/* ------------------------------------------------------------------------ */

/* out[n, o] = sum_i inp[n, i] * weight[o, i] + bias[o].
 * out: [N, OC]; inp: [N, IC]; weight: [OC, IC]; bias: [OC] or NULL.
 * OpenMP over blocks of STRATA_K_ROW_BLOCK rows, one single-threaded sgemm
 * per block. */
void strata_k_linear_forward(float *out, const float *inp,
                             const float *weight, const float *bias,
                             int64_t N, int IC, int OC);
void strata_k_linear_forward_naive(float *out, const float *inp,
                                   const float *weight, const float *bias,
                                   int64_t N, int IC, int OC);

/* out = gelu(inp W^T + b), computed block by block while in cache.
 * out: [N, OC]; pre: [N, OC] or NULL (stores the pre-activation for the
 * backward pass); the other arguments as strata_k_linear_forward. */
void strata_k_linear_gelu_forward(float *out, float *pre, const float *inp,
                                  const float *weight, const float *bias,
                                  int64_t N, int IC, int OC);

/* Reduced precision (BF16 / INT8, see strata_precision in strata.h): the
 * linear layer, optionally fused with GELU, with W prepared by
 * strata_gemm_w_create (src/core/gemm.h) from a [OC, IC] weight.
 *   BF16: inp and W rounded to bf16 (round to nearest even), products
 *         summed in fp32, bias added in fp32;
 *   INT8: each row of inp quantized with scale max|row| / 127, each row of
 *         W (output feature) with scale max|W[o, :]| / 127, int32 sums,
 *         out = sum * s_row * s_o + bias.
 * Same row blocks as strata_k_linear_forward (thread-count free).
 * out, pre (NULL, or the pre-activation when gelu): [N, OC]; inp: [N, IC];
 * bias: [OC] or NULL; scratch: strata_k_linear_lowp_scratch(w) bytes for
 * each of omp_get_max_threads() threads, 64-byte aligned.
 * Returns 0, or -1 when oneDNN failed (out of memory inside it). */
struct strata_gemm_w;
size_t strata_k_linear_lowp_scratch(const struct strata_gemm_w *w);
int strata_k_linear_lowp_forward(float *out, float *pre, const float *inp,
                                 const struct strata_gemm_w *w,
                                 const float *bias, int64_t N, int IC, int OC,
                                 int gelu, void *scratch);
/* The naive twin: the semantics above with plain loops, sums in double
 * (int64 for INT8), from the fp32 weight [OC, IC]. prec is
 * STRATA_PRECISION_BF16 (1) or STRATA_PRECISION_INT8 (2). */
void strata_k_linear_lowp_forward_naive(float *out, const float *inp,
                                        const float *weight, const float *bias,
                                        int64_t N, int IC, int OC, int prec);

/* ------------------------------------------------------------------------ */
/* Activations                                                               */
/* ------------------------------------------------------------------------ */

/* Exact GELU: 0.5 x (1 + erf(x / sqrt 2)), as PyTorch's gelu (approximate
 * = "none") and Hugging Face's "gelu". The fast kernel evaluates erf with a
 * vectorizable rational approximation (max abs error of erf < 2e-7 against
 * double erf, tested); the naive one calls libm's erff.
 * out, inp: [n] (may alias). */
void strata_k_gelu_forward(float *out, const float *inp, int64_t n);
void strata_k_gelu_forward_naive(float *out, const float *inp, int64_t n);
/* GELU's derivative times dout: dinp = dout (cdf(x) + x pdf(x)), the cdf from
 * the forward's erf, so the backward matches the function the forward
 * computes, and the pdf from strata_k_exp. 4 lanes at a time, the same bits
 * as one at a time. One thread; dinp may alias dout. */
void strata_k_gelu_grad(float *dinp, const float *inp, const float *dout, int64_t n);
/* Scalar erf of the fast kernel (exposed for tests). */
float strata_k_erf(float x);
/* The vectorizable exp used by the attention softmax (relative error
 * < 2e-7 on [-87, 0]; clamps to [-87, 88]). */
float strata_k_exp(float x);

/* ------------------------------------------------------------------------ */
/* Self-attention                                                            */
/* ------------------------------------------------------------------------ */

/* Multi-head self-attention with a padding mask, for each (b, h):
 *   S = Q_bh K_bh^T / sqrt(hs)     over the first lengths[b] keys,
 *   P = softmax(S) row-wise (fused: max, exp, sum, scale in one pass),
 *   out_bh = P V_bh.
 * Padded keys (t >= lengths[b]) get probability exactly 0 (as Hugging
 * Face's additive finfo.min mask does); padded query rows are computed the
 * same way (they attend to the real keys), so every row of out is defined.
 * q, k, v: rows of [B*T] with row stride ld floats (ld = C for separate
 *          [B, T, C] tensors, ld = 3C for a fused [B, T, 3C] qkv tensor);
 *          head h occupies columns [h*hs, (h+1)*hs).
 * out: [B, T, C] (head-interleaved like the input, ready for the output
 *      dense layer).
 * att: [B, H, T, T] or NULL. When non-NULL the probabilities are stored
 *      there (zeros in padded key columns), for the backward pass, and
 *      serve as the score scratch.
 * scratch: used only when att is NULL: strata_k_attention_scratch(T)
 *      floats per thread, for omp_get_max_threads() threads.
 * OpenMP over the B*H (b, h) pairs, single-threaded sgemm for Q K^T and P V. */
void strata_k_attention_forward(float *out, float *att, float *scratch,
                                const float *q, const float *k,
                                const float *v, int ld, const int *lengths,
                                int B, int T, int C, int H);
size_t strata_k_attention_scratch(int T);
/* Naive reference (plain loops, scratch-free, att may be NULL). */
void strata_k_attention_forward_naive(float *out, float *att, const float *q,
                                      const float *k, const float *v, int ld,
                                      const int *lengths, int B, int T, int C,
                                      int H);

/* ------------------------------------------------------------------------ */
/* Pooling and normalization                                                 */
/* ------------------------------------------------------------------------ */

/* pool 0 (CLS): out[b] = inp[b, 0]; pool 1 (mean): out[b] = mean over
 * t < lengths[b] of inp[b, t] (sums in double; lengths[b] >= 1).
 * out: [B, C]; inp: [B, T, C]. */
void strata_k_pool_forward(float *out, const float *inp, const int *lengths,
                           int B, int T, int C, int pool);

/* out[n] = inp[n] / max(||inp[n]||_2, 1e-12) (torch.nn.functional.normalize).
 * out, inp: [N, C] (may alias); norm: [N] or NULL (stores max(||x||, eps)). */
void strata_k_l2norm_forward(float *out, float *norm, const float *inp,
                             int64_t N, int C);

/* ------------------------------------------------------------------------ */
/* Input vectors before the text (the contextual model's second stage)       */
/* ------------------------------------------------------------------------ */

/* The embedding sum of P given input vectors followed by T text tokens:
 *   out[b, p, :]     = prefix[b, p, :]                       (p < P)
 *   out[b, P + t, :] = wte[ids[b, t]] + wpe[t] + wtt[0]      (t < T)
 * With prefix_pos = 1 every position gets a position and token type, as
 * Hugging Face BertModel(inputs_embeds=...) does: out[b, p] also adds
 * wpe[p] + wtt[0], and text positions start at P (wpe[P + t]); this is the
 * control that makes the output depend on the order of the prefix.
 * out: [B, P + T, C]; prefix: [B, P, C]; ids: [B, T] (valid ids on padding
 * too); wpe: [Pmax, C] with T <= Pmax (P + T <= Pmax when prefix_pos);
 * wtt: [TV, C] (row 0). One item per (b, row); P = 0 is
 * strata_k_embed_forward. */
void strata_k_embed_prefix_forward(float *out, const float *prefix,
                                   const int32_t *ids, const float *wte,
                                   const float *wpe, const float *wtt, int B,
                                   int P, int T, int C, int prefix_pos);

#endif /* STRATA_ENCODER_KERNELS_H */
