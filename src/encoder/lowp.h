/*
 * lowp.h — the encoder's weights prepared for reduced-precision products
 * (internal): one strata_gemm_w per linear layer, made from a model's fp32
 * weights by strata_bert_state_set_precision, and the row-blocked linear
 * kernels that apply them.
 */
#ifndef STRATA_ENCODER_LOWP_H
#define STRATA_ENCODER_LOWP_H

#include "core/gemm.h"
#include "strata/encoder.h"

/* Linear layers of one BERT in the order q, k, v, attention output, ff1,
 * ff2 per layer: w[l * 6 + j]. */
typedef struct strata__bert_lowp {
    strata_precision prec;   /* BF16 or INT8 */
    int L;
    strata_gemm_w **w;       /* [L * 6] */
    size_t scratch;          /* bytes per thread for the largest layer */
} strata__bert_lowp;

enum { STRATA_LOWP_Q, STRATA_LOWP_K, STRATA_LOWP_V, STRATA_LOWP_AO, STRATA_LOWP_FF1,
       STRATA_LOWP_FF2, STRATA_LOWP_PER_LAYER };

/* Prepares every linear weight of (cfg, w) in precision p (BF16 or INT8)
 * for y = x W^T (trans = 0, the forward) or y = x W (trans = 1, BF16 only:
 * the input gradient of the backward). *out owned by the caller
 * (strata__bert_lowp_free). */
strata_status strata__bert_lowp_create(strata__bert_lowp **out,
                                       const strata_bert_config *cfg,
                                       const strata_bert_weights *w,
                                       strata_precision p, int trans,
                                       strata_error *err);
/* Re-reads the weights' values (training: after each optimizer step). */
void strata__bert_lowp_update(strata__bert_lowp *lp, const strata_bert_config *cfg,
                              const strata_bert_weights *w);
void strata__bert_lowp_free(strata__bert_lowp *lp);

/* The encoder layers of strata_bert_forward with lp's linear layers: x [N, C]
 * (N = B*T) holds the embedding LayerNorm output and receives the last
 * layer's output; q, k, v, ctx, proj [N, C], ff [N, F] are scratch; scr the
 * attention scratch (strata_k_attention_scratch(T) floats per thread); gscr
 * lp->scratch bytes per thread. Returns 0, or -1 when oneDNN failed. */
int strata__bert_lowp_layers(const strata__bert_lowp *lp, const strata_bert_config *c,
                             const strata_bert_weights *w, float *x, float *q, float *k,
                             float *v, float *ctx, float *proj, float *ff, float *scr,
                             void *gscr, const int *lengths, int B, int T);

#endif
