/*
 * lowp.c — a BERT's linear weights prepared for bf16 / int8 products (see
 * lowp.h), and the per-state switch strata_bert_state_set_precision uses.
 */
#include "encoder/lowp.h"
#include "encoder/kernels.h"

/* Weight [OC, IC] and shape of linear layer j of layer l. */
static const float *layer_w(const strata_bert_config *c, const strata_bert_weights *w,
                            int l, int j, int *oc, int *ic) {
    size_t C = (size_t)c->hidden_size, F = (size_t)c->intermediate_size;
    size_t CC = C * C, CF = C * F;
    *oc = (int)C;
    *ic = (int)C;
    switch (j) {
    case STRATA_LOWP_Q: return w->q_w + l * CC;
    case STRATA_LOWP_K: return w->k_w + l * CC;
    case STRATA_LOWP_V: return w->v_w + l * CC;
    case STRATA_LOWP_AO: return w->ao_w + l * CC;
    case STRATA_LOWP_FF1: *oc = (int)F; return w->ff1_w + l * CF;
    default: *ic = (int)F; return w->ff2_w + l * CF;
    }
}

strata_status strata__bert_lowp_create(strata__bert_lowp **out, const strata_bert_config *cfg,
                                       const strata_bert_weights *w, strata_precision p,
                                       int trans, strata_error *err) {
    *out = NULL;
    strata__bert_lowp *lp = strata_calloc(1, sizeof *lp);
    int n = cfg->num_layers * STRATA_LOWP_PER_LAYER;
    if (!lp || !(lp->w = strata_calloc((size_t)n, sizeof *lp->w))) {
        strata_free(lp);
        return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    }
    lp->prec = p;
    lp->L = cfg->num_layers;
    for (int i = 0; i < n; i++) {
        int oc, ic;
        const float *W = layer_w(cfg, w, i / STRATA_LOWP_PER_LAYER, i % STRATA_LOWP_PER_LAYER,
                                 &oc, &ic);
        /* trans: W [OC, IC] read as the [K, N] operand of dout W */
        strata_status st = trans ? strata_gemm_w_create(&lp->w[i], W, ic, oc, 1, p, err)
                                 : strata_gemm_w_create(&lp->w[i], W, oc, ic, 0, p, err);
        if (st != STRATA_OK) {
            strata__bert_lowp_free(lp);
            return st;
        }
        size_t s = strata_k_linear_lowp_scratch(lp->w[i]);
        if (s > lp->scratch) lp->scratch = s;
    }
    *out = lp;
    return STRATA_OK;
}

void strata__bert_lowp_update(strata__bert_lowp *lp, const strata_bert_config *cfg,
                              const strata_bert_weights *w) {
    for (int i = 0; i < lp->L * STRATA_LOWP_PER_LAYER; i++) {
        int oc, ic;
        strata_gemm_w_update(lp->w[i], layer_w(cfg, w, i / STRATA_LOWP_PER_LAYER,
                                               i % STRATA_LOWP_PER_LAYER, &oc, &ic));
    }
}

void strata__bert_lowp_free(strata__bert_lowp *lp) {
    if (!lp) return;
    if (lp->w)
        for (int i = 0; i < lp->L * STRATA_LOWP_PER_LAYER; i++) strata_gemm_w_free(lp->w[i]);
    strata_free(lp->w);
    strata_free(lp);
}

int strata__bert_lowp_layers(const strata__bert_lowp *lp, const strata_bert_config *c,
                             const strata_bert_weights *w, float *x, float *q, float *k,
                             float *v, float *ctx, float *proj, float *ff, float *scr,
                             void *gscr, const int *lengths, int B, int T) {
    int C = c->hidden_size, F = c->intermediate_size, H = c->num_heads;
    int64_t N = (int64_t)B * T;
    int bad = 0;
    for (int l = 0; l < c->num_layers && !bad; l++) {
        strata_gemm_w *const *g = lp->w + (size_t)l * STRATA_LOWP_PER_LAYER;
        size_t lc = (size_t)l * C;
        bad |= strata_k_linear_lowp_forward(q, NULL, x, g[STRATA_LOWP_Q], w->q_b + lc, N, C, C, 0, gscr);
        bad |= strata_k_linear_lowp_forward(k, NULL, x, g[STRATA_LOWP_K], w->k_b + lc, N, C, C, 0, gscr);
        bad |= strata_k_linear_lowp_forward(v, NULL, x, g[STRATA_LOWP_V], w->v_b + lc, N, C, C, 0, gscr);
        strata_k_attention_forward(ctx, NULL, scr, q, k, v, C, lengths, B, T, C, H);
        bad |= strata_k_linear_lowp_forward(proj, NULL, ctx, g[STRATA_LOWP_AO], w->ao_b + lc, N, C,
                                            C, 0, gscr);
        strata_k_add_layernorm_forward(x, NULL, NULL, NULL, x, proj, w->ln1_w + lc, w->ln1_b + lc,
                                       N, C, c->layer_norm_eps);
        bad |= strata_k_linear_lowp_forward(ff, NULL, x, g[STRATA_LOWP_FF1], w->ff1_b + (size_t)l * F,
                                            N, C, F, 1, gscr);
        bad |= strata_k_linear_lowp_forward(proj, NULL, ff, g[STRATA_LOWP_FF2], w->ff2_b + lc, N, F,
                                            C, 0, gscr);
        strata_k_add_layernorm_forward(x, NULL, NULL, NULL, x, proj, w->ln2_w + lc, w->ln2_b + lc,
                                       N, C, c->layer_norm_eps);
    }
    return bad ? -1 : 0;
}
