/*
 * ctx_internal.h — pieces of the contextual model shared by its inference
 * (src/encoder/ctx_infer.c) and training (src/train/contextual.c) passes, so
 * both compute the same function with the same kernels.
 *
 * Dimension letters: J context slots, S soft-prompt vectors, B sequences,
 * C hidden.
 */
#ifndef STRATA_CTX_INTERNAL_H
#define STRATA_CTX_INTERNAL_H

#include "strata/contextual.h"

/* The soft prompt: out [S*C] = pp2(relu(pp0(ones[C]))). pre, act [C] receive
 * the hidden pre-activation and its ReLU (for the backward); may be NULL
 * together. */
void strata__ctx_prompt(const strata_ctx_config *cfg, const strata_ctx_weights *w,
                        float *pre, float *act, float *out);

/* The input vectors of B sequences: prefix [B, J+S, C] with row b =
 * [slot 0..J-1 | prompt 0..S-1]; slot j is v_null when E is NULL or
 * drop[b*J + j] is set (drop may be NULL: none), else E[j]. */
void strata__ctx_prefix(float *prefix, const float *E, const uint8_t *drop,
                        const float *null_emb, const float *prompt, int B, int J,
                        int S, int C);

/* y = max(x, 0), n elements (may alias). */
void strata__ctx_relu(float *y, const float *x, int64_t n);

/* The first-stage head on pooled [n, C]: pre = mlp0(pooled), act =
 * gelu(pre), E = mlp2(act). pre, act, E: [n, C]. */
void strata__ctx_head1(const strata_ctx_weights *w, int C, const float *pooled,
                       int64_t n, float *pre, float *act, float *E);

/* The output head on pooled [n, C]: pre = op0(pooled), act = relu(pre),
 * y = op2(act) (+ pooled when residual). pre, act, y: [n, C]. */
void strata__ctx_head2(const strata_ctx_weights *w, int C, int residual,
                       const float *pooled, int64_t n, float *pre, float *act,
                       float *y);

#endif
