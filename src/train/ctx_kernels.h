/*
 * ctx_kernels.h — the backward pieces that are new in the contextual model
 * (internal; tests include it as "train/ctx_kernels.h" and check each by
 * finite differences). The forward pieces are in encoder/ctx_internal.h and
 * encoder/kernels.h (strata_k_embed_prefix_forward); the BERT layers are the
 * biencoder's (train_kernels.h).
 *
 * Dimension letters: B sequences, J context slots, S prompt vectors,
 * P = J + S prefix rows, T2 = P + T positions of a second-stage sequence,
 * C hidden.
 */
#ifndef STRATA_CTX_KERNELS_H
#define STRATA_CTX_KERNELS_H

#include "strata/contextual.h"

/* Backward of the text-position mean (strata_k_pool_forward on hidden +
 * P*C with row stride T2): dh [B, T2, C] is overwritten, row (b, P + t) for
 * t < lengths[b] gets dpool[b] / lengths[b], every other row 0. */
void strata__ctx_text_pool_bwd(float *dh, const float *dpool, const int *lengths,
                               int B, int P, int T2, int C);

/* Backward of ReLU: d[i] = 0 where pre[i] <= 0 (PyTorch's convention at 0),
 * in place. */
void strata__ctx_relu_bwd(float *d, const float *pre, int64_t n);

/* Backward of strata__ctx_prefix: adds the gradient of each prefix row
 * (dprefix [B, J+S, C]) to dE [J, C] (slots kept) or dnull [C] (slots
 * dropped per drop [B, J], NULL: none) and dprompt [S, C]. Accumulators in
 * double, rows in order, so any chunking of the B rows gives the same sums. */
void strata__ctx_prefix_bwd(double *dE, double *dnull, double *dprompt,
                            const float *dprefix, const uint8_t *drop, int B,
                            int J, int S, int C);

/* The last hidden states of M2's last chunk in the workspace ([*B, *T2, C]
 * rows b*T2 + t; the prefix occupies t < J + S). For tests. */
const float *strata__ctx_ws_hidden(const strata_ctx_ws *ws, int *B, int *T2);

#endif
