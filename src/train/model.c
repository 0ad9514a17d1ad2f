/*
 * model.c — parameter layout, the activation cache, the training forward and
 * backward passes over a whole BERT, and one batch's loss and gradients with
 * optional gradient caching (Gao et al. 2021).
 */
#include "strata/train.h"
#include "core/internal.h"
#include "strata/io.h"
#include "train/train_kernels.h"
#include "encoder/lowp.h"

#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Parameter layout (same order as strata_bert_weights)                      */
/* ------------------------------------------------------------------------ */

static const char *const k_names[STRATA_BERT_NUM_TENSORS] = {
    "embeddings.word_embeddings.weight",
    "embeddings.position_embeddings.weight",
    "embeddings.token_type_embeddings.weight",
    "embeddings.LayerNorm.weight",
    "embeddings.LayerNorm.bias",
    "encoder.layer.*.attention.self.query.weight",
    "encoder.layer.*.attention.self.query.bias",
    "encoder.layer.*.attention.self.key.weight",
    "encoder.layer.*.attention.self.key.bias",
    "encoder.layer.*.attention.self.value.weight",
    "encoder.layer.*.attention.self.value.bias",
    "encoder.layer.*.attention.output.dense.weight",
    "encoder.layer.*.attention.output.dense.bias",
    "encoder.layer.*.attention.output.LayerNorm.weight",
    "encoder.layer.*.attention.output.LayerNorm.bias",
    "encoder.layer.*.intermediate.dense.weight",
    "encoder.layer.*.intermediate.dense.bias",
    "encoder.layer.*.output.dense.weight",
    "encoder.layer.*.output.dense.bias",
    "encoder.layer.*.output.LayerNorm.weight",
    "encoder.layer.*.output.LayerNorm.bias",
};

/* weight decay: matrices and embeddings yes; biases and LayerNorm no */
static const unsigned char k_decay[STRATA_BERT_NUM_TENSORS] = {
    1, 1, 1, 0, 0, 1, 0, 1, 0, 1, 0, 1, 0, 0, 0, 1, 0, 1, 0, 0, 0};

const char *strata_train_tensor_name(int i) {
    return i >= 0 && i < STRATA_BERT_NUM_TENSORS ? k_names[i] : "?";
}

int strata_train_tensor_decays(int i) {
    return i >= 0 && i < STRATA_BERT_NUM_TENSORS ? k_decay[i] : 0;
}

/* ------------------------------------------------------------------------ */
/* Activation cache                                                          */
/* ------------------------------------------------------------------------ */

struct strata_train_acts {
    strata_bert_config cfg;
    int max_B, max_T;
    int B, T;             /* shape of the last forward */
    strata_pool pool;
    int32_t *ids;         /* [max_B*max_T] copy of the last ids */
    int *lengths;         /* [max_B] */
    float *block;         /* all float buffers below */
    /* forward (layer tensors have a stride of max_B*max_T rows) */
    float *emb;           /* [N, C] embedding sum before LayerNorm */
    float *emb_mean, *emb_rstd; /* [N] */
    float *res;           /* [L+1, N, C] layer inputs; res[L] is the output */
    float *q, *k, *v;     /* [L, N, C] */
    float *att;           /* [L, B, H, T, T] softmax probabilities */
    float *atty;          /* [L, N, C] attention output before projection */
    float *r1;            /* [L, N, C] residual + projection (LN1 input) */
    float *ln1_mean, *ln1_rstd; /* [L, N] */
    float *h1;            /* [L, N, C] LN1 output */
    float *f1;            /* [L, N, F] intermediate before GELU */
    float *g;             /* [L, N, F] GELU output */
    float *r2;            /* [L, N, C] h1 + FFN output (LN2 input) */
    float *ln2_mean, *ln2_rstd; /* [L, N] */
    float *pooled;        /* [B, C] before normalization */
    float *norm;          /* [B] max(|pooled|, 1e-12) */
    float *out;           /* [B, C] normalized */
    /* backward scratch */
    float *dres;          /* [N, C] */
    float *dtmp;          /* [N, C] */
    float *dq, *dk, *dv, *datty; /* [N, C] */
    float *dF;            /* [N, F] */
    float *datt;          /* [B, H, T, T] */
    float *dpool;         /* [B, C] */
    /* reduced precision (strata_train_ws_set_precision); NULL: fp32 */
    const strata__bert_lowp *lpf; /* forward weights (y = x W^T), borrowed */
    const strata__bert_lowp *lpb; /* backward weights (dx = dy W), borrowed */
    void *gscr;           /* per-thread product scratch */
    size_t cap_gscr;      /* bytes */
    uint16_t *h16a, *h16b; /* [max_N * max(C, F)] bf16 operands of dW */
    int failed;           /* a oneDNN product failed since the last check */
};

strata_status strata_train_acts_create(strata_train_acts **out,
                                       const strata_bert_config *cfg,
                                       int max_B, int max_T,
                                       strata_error *err) {
    *out = NULL;
    if (max_B <= 0 || max_T <= 0)
        return strata_error_set(err, STRATA_EINVAL, "activation cache: bad shape %d x %d",
                                max_B, max_T);
    size_t N = (size_t)max_B * max_T, C = (size_t)cfg->hidden_size,
           L = (size_t)cfg->num_layers, F = (size_t)cfg->intermediate_size,
           H = (size_t)cfg->num_heads, TT = (size_t)max_T * max_T,
           B = (size_t)max_B;
    size_t sizes[] = {
        N * C, N, N, (L + 1) * N * C, L * N * C, L * N * C, L * N * C,
        L * B * H * TT, L * N * C, L * N * C, L * N, L * N, L * N * C,
        L * N * F, L * N * F, L * N * C, L * N, L * N, B * C, B, B * C,
        N * C, N * C, N * C, N * C, N * C, N * C, N * F, B * H * TT, B * C};
    enum { NS = sizeof sizes / sizeof sizes[0] };
    size_t total = 0;
    for (int i = 0; i < NS; i++)
        if (strata_size_add(total, sizes[i], &total))
            return strata_error_set(err, STRATA_ENOMEM, "activation cache too large");
    strata_train_acts *a = strata_calloc(1, sizeof *a);
    if (!a) return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    a->block = strata_malloc_array(total, sizeof(float));
    a->ids = strata_malloc_array(N, sizeof(int32_t));
    a->lengths = strata_malloc_array(B, sizeof(int));
    if (!a->block || !a->ids || !a->lengths) {
        strata_train_acts_free(a);
        return strata_error_set(err, STRATA_ENOMEM,
                                "out of memory for activations (%zu floats)", total);
    }
    a->cfg = *cfg;
    a->max_B = max_B;
    a->max_T = max_T;
    float **ptr[] = {
        &a->emb, &a->emb_mean, &a->emb_rstd, &a->res, &a->q, &a->k, &a->v,
        &a->att, &a->atty, &a->r1, &a->ln1_mean, &a->ln1_rstd, &a->h1,
        &a->f1, &a->g, &a->r2, &a->ln2_mean, &a->ln2_rstd, &a->pooled,
        &a->norm, &a->out, &a->dres, &a->dtmp, &a->dq, &a->dk, &a->dv,
        &a->datty, &a->dF, &a->datt, &a->dpool};
    float *p = a->block;
    for (int i = 0; i < NS; i++) {
        *ptr[i] = p;
        p += sizes[i];
    }
    *out = a;
    return STRATA_OK;
}

void strata_train_acts_free(strata_train_acts *a) {
    if (!a) return;
    strata_free(a->gscr);
    strata_free(a->h16a);
    strata_free(a->h16b);
    strata_free(a->block);
    strata_free(a->ids);
    strata_free(a->lengths);
    strata_free(a);
}

const float *strata__tr_acts_res(const strata_train_acts *a, int l) {
    return a->res + (size_t)l * a->max_B * a->max_T * a->cfg.hidden_size;
}

const float *strata__tr_acts_pooled(const strata_train_acts *a) { return a->pooled; }

/* ------------------------------------------------------------------------ */
/* Forward                                                                   */
/* ------------------------------------------------------------------------ */

/* Linear layer j (STRATA_LOWP_*) of layer l, optionally fused with GELU
 * (pre keeps the pre-activation): fp32 sgemm, or the prepared bf16 weights. */
static void linear(strata_train_acts *a, float *out, float *pre, const float *inp,
                   const float *W, const float *b, int l, int j, int64_t N, int IC,
                   int OC, int gelu) {
    if (a->lpf) {
        a->failed |= strata_k_linear_lowp_forward(out, pre, inp,
                                                  a->lpf->w[l * STRATA_LOWP_PER_LAYER + j], b,
                                                  N, IC, OC, gelu, a->gscr) != 0;
    } else if (gelu) {
        strata_k_linear_gelu_forward(out, pre, inp, W, b, N, IC, OC);
    } else {
        strata_k_linear_forward(out, inp, W, b, N, IC, OC);
    }
}

/* Backward of linear(): fp32 or bf16 as the forward. */
static void linear_bwd(strata_train_acts *a, float *dinp, float *dW, float *db,
                       const float *dout, const float *inp, const float *W, int l, int j,
                       int64_t N, int IC, int OC, int accum) {
    if (a->lpb)
        a->failed |= strata__tr_linear_bwd_bf16(dinp, dW, db, dout, inp,
                                                a->lpb->w[l * STRATA_LOWP_PER_LAYER + j], N, IC,
                                                OC, accum, a->h16a, a->h16b, a->gscr) != 0;
    else
        strata__tr_linear_bwd(dinp, dW, db, dout, inp, W, N, IC, OC, accum);
}

/* The forward of strata_train_forward (ids != NULL) and
 * strata_train_forward_embeds (x != NULL: the embedding sum is given; no
 * pooling when pool < 0). */
static void forward_impl(const strata_bert_config *cfg,
                         const strata_bert_weights *w, strata_train_acts *a,
                         const int32_t *ids, const float *x0,
                         const int *lengths, int B, int T, int pool,
                         float *out) {
    int C = cfg->hidden_size, L = cfg->num_layers, F = cfg->intermediate_size,
        H = cfg->num_heads;
    int64_t N = (int64_t)B * T;
    size_t sN = (size_t)a->max_B * a->max_T;      /* layer stride in rows */
    size_t sA = (size_t)a->max_B * H * a->max_T * a->max_T;
    float eps = cfg->layer_norm_eps;
    a->B = B;
    a->T = T;
    a->pool = pool < 0 ? STRATA_POOL_MEAN : (strata_pool)pool;
    if (ids) memcpy(a->ids, ids, sizeof(int32_t) * (size_t)N);
    memcpy(a->lengths, lengths, sizeof(int) * (size_t)B);

    /* the encoder's forward kernels, storing what the backward reads */
    if (ids)
        strata_k_embed_forward(a->emb, ids, w->word_emb, w->pos_emb, w->type_emb, B, T, C);
    else
        memcpy(a->emb, x0, sizeof(float) * (size_t)N * C);
    strata_k_layernorm_forward(a->res, a->emb_mean, a->emb_rstd, a->emb,
                               w->emb_ln_w, w->emb_ln_b, N, C, eps);
    for (int l = 0; l < L; l++) {
        size_t oc = (size_t)l * sN * C, of = (size_t)l * sN * F, on = (size_t)l * sN;
        size_t wcc = (size_t)l * C * C, wc = (size_t)l * C;
        size_t wfc = (size_t)l * F * C, wf = (size_t)l * F;
        const float *x = a->res + oc;            /* [N, C] layer input */
        float *q = a->q + oc, *k = a->k + oc, *v = a->v + oc;
        float *h1 = a->h1 + oc, *y = a->res + oc + sN * C; /* layer output */
        linear(a, q, NULL, x, w->q_w + wcc, w->q_b + wc, l, STRATA_LOWP_Q, N, C, C, 0);
        linear(a, k, NULL, x, w->k_w + wcc, w->k_b + wc, l, STRATA_LOWP_K, N, C, C, 0);
        linear(a, v, NULL, x, w->v_w + wcc, w->v_b + wc, l, STRATA_LOWP_V, N, C, C, 0);
        strata_k_attention_forward(a->atty + oc, a->att + (size_t)l * sA, NULL,
                                   q, k, v, C, lengths, B, T, C, H);
        /* the projection goes to h1, which the fused add + LN overwrites
         * in place; r1 = x + projection is kept for the backward */
        linear(a, h1, NULL, a->atty + oc, w->ao_w + wcc, w->ao_b + wc, l, STRATA_LOWP_AO,
               N, C, C, 0);
        strata_k_add_layernorm_forward(h1, a->r1 + oc, a->ln1_mean + on,
                                       a->ln1_rstd + on, x, h1, w->ln1_w + wc,
                                       w->ln1_b + wc, N, C, eps);
        linear(a, a->g + of, a->f1 + of, h1, w->ff1_w + wfc, w->ff1_b + wf, l,
               STRATA_LOWP_FF1, N, C, F, 1);
        /* likewise the FFN output goes to y; r2 = h1 + FFN output is kept */
        linear(a, y, NULL, a->g + of, w->ff2_w + wfc, w->ff2_b + wc, l, STRATA_LOWP_FF2,
               N, F, C, 0);
        strata_k_add_layernorm_forward(y, a->r2 + oc, a->ln2_mean + on,
                                       a->ln2_rstd + on, h1, y, w->ln2_w + wc,
                                       w->ln2_b + wc, N, C, eps);
    }
    if (pool < 0) return;
    strata_k_pool_forward(a->pooled, a->res + (size_t)L * sN * C, lengths, B, T,
                          C, pool == STRATA_POOL_MEAN);
    strata_k_l2norm_forward(a->out, a->norm, a->pooled, B, C);
    if (out) memcpy(out, a->out, sizeof(float) * (size_t)B * C);
}

void strata_train_forward(const strata_bert_config *cfg,
                          const strata_bert_weights *w, strata_train_acts *a,
                          const int32_t *ids, const int *lengths, int B,
                          int T, strata_pool pool, float *out) {
    forward_impl(cfg, w, a, ids, NULL, lengths, B, T, (int)pool, out);
}

void strata_train_forward_embeds(const strata_bert_config *cfg,
                                 const strata_bert_weights *w,
                                 strata_train_acts *a, const float *x,
                                 const int *lengths, int B, int T) {
    forward_impl(cfg, w, a, NULL, x, lengths, B, T, -1, NULL);
}

const float *strata_train_hidden(const strata_train_acts *a) {
    return strata__tr_acts_res(a, a->cfg.num_layers);
}

/* ------------------------------------------------------------------------ */
/* Backward                                                                  */
/* ------------------------------------------------------------------------ */

/* The backward of strata_train_backward (dout: gradient of the normalized
 * pooled output) and strata_train_backward_embeds (dhidden: gradient of the
 * last hidden states; dx receives the gradient of the embedding sum). */
static void backward_impl(const strata_bert_config *cfg,
                          const strata_bert_weights *w, strata_train_acts *a,
                          const float *dout, const float *dhidden,
                          strata_bert_weights *g, float *dx) {
    int C = cfg->hidden_size, L = cfg->num_layers, F = cfg->intermediate_size,
        H = cfg->num_heads, B = a->B, T = a->T;
    int64_t N = (int64_t)B * T;
    size_t sN = (size_t)a->max_B * a->max_T;
    size_t sA = (size_t)a->max_B * H * a->max_T * a->max_T;

    if (dout) {
        strata__tr_l2n_bwd(a->dpool, dout, a->out, a->norm, B, C);
        strata__tr_pool_bwd(a->dres, a->dpool, a->lengths, B, T, C, a->pool);
    } else {
        memcpy(a->dres, dhidden, sizeof(float) * (size_t)N * C);
    }
    for (int l = L - 1; l >= 0; l--) {
        size_t oc = (size_t)l * sN * C, of = (size_t)l * sN * F, on = (size_t)l * sN;
        size_t wcc = (size_t)l * C * C, wc = (size_t)l * C;
        size_t wfc = (size_t)l * F * C, wf = (size_t)l * F;
        const float *x = a->res + oc;
        /* dres = d(layer output); LN2 backward -> dtmp = d r2 */
        strata__tr_ln_bwd(a->dtmp, g->ln2_w + wc, g->ln2_b + wc, a->dres,
                          a->r2 + oc, a->ln2_mean + on, a->ln2_rstd + on,
                          w->ln2_w + wc, N, C, 0);
        /* r2 = ff2(gelu(ff1(h1))) + h1 */
        linear_bwd(a, a->dF, g->ff2_w + wfc, g->ff2_b + wc, a->dtmp, a->g + of,
                   w->ff2_w + wfc, l, STRATA_LOWP_FF2, N, F, C, 0);
        strata__tr_gelu_bwd(a->dF, a->f1 + of, a->dF, N * F);
        linear_bwd(a, a->dtmp, g->ff1_w + wfc, g->ff1_b + wf, a->dF, a->h1 + oc,
                   w->ff1_w + wfc, l, STRATA_LOWP_FF1, N, C, F, 1);
        /* dtmp = d h1; LN1 backward -> dres = d r1 */
        strata__tr_ln_bwd(a->dres, g->ln1_w + wc, g->ln1_b + wc, a->dtmp,
                          a->r1 + oc, a->ln1_mean + on, a->ln1_rstd + on,
                          w->ln1_w + wc, N, C, 0);
        /* r1 = ao(attn(q, k, v)) + x: dres already holds the residual part */
        linear_bwd(a, a->datty, g->ao_w + wcc, g->ao_b + wc, a->dres, a->atty + oc,
                   w->ao_w + wcc, l, STRATA_LOWP_AO, N, C, C, 0);
        strata__tr_attn_bwd(a->dq, a->dk, a->dv, a->datt, a->datty, a->q + oc,
                            a->k + oc, a->v + oc, a->att + (size_t)l * sA, B, T,
                            C, H);
        linear_bwd(a, a->dres, g->q_w + wcc, g->q_b + wc, a->dq, x, w->q_w + wcc, l,
                   STRATA_LOWP_Q, N, C, C, 1);
        linear_bwd(a, a->dres, g->k_w + wcc, g->k_b + wc, a->dk, x, w->k_w + wcc, l,
                   STRATA_LOWP_K, N, C, C, 1);
        linear_bwd(a, a->dres, g->v_w + wcc, g->v_b + wc, a->dv, x, w->v_w + wcc, l,
                   STRATA_LOWP_V, N, C, C, 1);
    }
    strata__tr_ln_bwd(dx ? dx : a->dtmp, g->emb_ln_w, g->emb_ln_b, a->dres, a->emb,
                      a->emb_mean, a->emb_rstd, w->emb_ln_w, N, C, 0);
    if (dx) return;
    strata__tr_emb_bwd(g->word_emb, g->pos_emb, g->type_emb, a->dtmp, a->ids,
                       a->lengths, B, T, C);
}

void strata_train_backward(const strata_bert_config *cfg,
                           const strata_bert_weights *w, strata_train_acts *a,
                           const float *dout, strata_bert_weights *g) {
    backward_impl(cfg, w, a, dout, NULL, g, NULL);
}

void strata_train_backward_embeds(const strata_bert_config *cfg,
                                  const strata_bert_weights *w,
                                  strata_train_acts *a, const float *dhidden,
                                  strata_bert_weights *g, float *dx) {
    backward_impl(cfg, w, a, NULL, dhidden, g, dx);
}

/* ------------------------------------------------------------------------ */
/* One batch, with gradient caching                                          */
/* ------------------------------------------------------------------------ */

struct strata_train_ws {
    strata_bert_config cfg;
    strata_train_acts *acts;  /* sized for acts_B x acts_T */
    int acts_B, acts_T;
    float *emb;               /* [cap_seq, C] embeddings of all sequences */
    float *demb;              /* [cap_seq, C] loss gradient w.r.t. them   */
    int32_t *cids;            /* [cap_seq * T] ids of one chunk, compacted */
    int cap_seq, cap_T;
    strata_precision prec;    /* FP32 or BF16 (strata_train_ws_set_precision) */
    strata__bert_lowp *lpf, *lpb; /* BF16: forward / backward weights */
};

strata_status strata_train_ws_set_precision(strata_train_ws *ws, strata_precision p,
                                            strata_error *err) {
    strata_status st = strata_precision_resolve(p, &p, err);
    if (st != STRATA_OK) return st;
    if (p == STRATA_PRECISION_INT8)
        return strata_error_set(err, STRATA_EUNSUPPORTED,
                                "precision int8 is for inference (embed, eval), not training");
    strata__bert_lowp_free(ws->lpf);
    strata__bert_lowp_free(ws->lpb);
    ws->lpf = ws->lpb = NULL;
    ws->prec = p;
    return STRATA_OK;
}

strata_precision strata_train_ws_precision(const strata_train_ws *ws) { return ws->prec; }

/* BF16: (re)converts the weights for this batch and sizes the acts' scratch. */
static strata_status ws_lowp(strata_train_ws *ws, const strata_bert_weights *w,
                             strata_error *err) {
    strata_train_acts *a = ws->acts;
    a->lpf = a->lpb = NULL;
    if (ws->prec != STRATA_PRECISION_BF16) return STRATA_OK;
    strata_status st;
    if (!ws->lpf) {
        if ((st = strata__bert_lowp_create(&ws->lpf, &ws->cfg, w, ws->prec, 0, err)) ||
            (st = strata__bert_lowp_create(&ws->lpb, &ws->cfg, w, ws->prec, 1, err)))
            return st;
    } else {
        strata__bert_lowp_update(ws->lpf, &ws->cfg, w);
        strata__bert_lowp_update(ws->lpb, &ws->cfg, w);
    }
    int nt = strata__max_threads(); /* scratch is indexed by strata__thread_num() */
    size_t per = ws->lpf->scratch > ws->lpb->scratch ? ws->lpf->scratch : ws->lpb->scratch;
    if (per * (size_t)nt > a->cap_gscr) {
        strata_free(a->gscr);
        a->cap_gscr = 0;
        if (!(a->gscr = strata_malloc(per * (size_t)nt)))
            return strata_error_set(err, STRATA_ENOMEM, "out of memory");
        a->cap_gscr = per * (size_t)nt;
    }
    if (!a->h16a) {
        size_t C = (size_t)ws->cfg.hidden_size, F = (size_t)ws->cfg.intermediate_size;
        size_t n = (size_t)a->max_B * a->max_T * (C > F ? C : F);
        a->h16a = strata_malloc_array(n, sizeof(uint16_t));
        a->h16b = strata_malloc_array(n, sizeof(uint16_t));
        if (!a->h16a || !a->h16b) return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    }
    a->lpf = ws->lpf;
    a->lpb = ws->lpb;
    a->failed = 0;
    return STRATA_OK;
}

strata_status strata_train_ws_create(strata_train_ws **out,
                                     const strata_bert_config *cfg,
                                     strata_error *err) {
    *out = strata_calloc(1, sizeof **out);
    if (!*out) return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    (*out)->cfg = *cfg;
    return STRATA_OK;
}

void strata_train_ws_free(strata_train_ws *ws) {
    if (!ws) return;
    strata_train_acts_free(ws->acts);
    strata__bert_lowp_free(ws->lpf);
    strata__bert_lowp_free(ws->lpb);
    strata_free(ws->emb);
    strata_free(ws->demb);
    strata_free(ws->cids);
    strata_free(ws);
}

static strata_status ws_reserve(strata_train_ws *ws, int n_seq, int chunk,
                                int T, strata_error *err) {
    int C = ws->cfg.hidden_size;
    if (n_seq > ws->cap_seq || T > ws->cap_T) {
        int ns = n_seq > ws->cap_seq ? n_seq : ws->cap_seq;
        int nt = T > ws->cap_T ? T : ws->cap_T;
        strata_free(ws->emb);
        strata_free(ws->demb);
        strata_free(ws->cids);
        ws->emb = strata_malloc_array((size_t)ns * C, sizeof(float));
        ws->demb = strata_malloc_array((size_t)ns * C, sizeof(float));
        ws->cids = strata_malloc_array((size_t)ns * nt, sizeof(int32_t));
        ws->cap_seq = ws->cap_T = 0;
        if (!ws->emb || !ws->demb || !ws->cids)
            return strata_error_set(err, STRATA_ENOMEM, "out of memory");
        ws->cap_seq = ns;
        ws->cap_T = nt;
    }
    if (!ws->acts || chunk > ws->acts_B || T > ws->acts_T) {
        int nb = chunk > ws->acts_B ? chunk : ws->acts_B;
        int nt = T > ws->acts_T ? T : ws->acts_T;
        strata_train_acts_free(ws->acts);
        ws->acts = NULL;
        strata_status st = strata_train_acts_create(&ws->acts, &ws->cfg, nb, nt, err);
        if (st) return st;
        ws->acts_B = nb;
        ws->acts_T = nt;
    }
    return STRATA_OK;
}

/* Forward of sequences [s0, s0+n) padded to their longest; embeddings go to
 * ws->emb rows s0.. . Returns the real token count. */
static int64_t chunk_forward(strata_train_ws *ws, const strata_bert_config *cfg,
                             const strata_bert_weights *w, const int32_t *ids,
                             const int *lengths, int T, int s0, int n,
                             strata_pool pool) {
    int Tc = 1;
    int64_t tokens = 0;
    for (int i = 0; i < n; i++) {
        if (lengths[s0 + i] > Tc) Tc = lengths[s0 + i];
        tokens += lengths[s0 + i];
    }
    for (int i = 0; i < n; i++)
        for (int t = 0; t < Tc; t++)
            ws->cids[(size_t)i * Tc + t] =
                t < lengths[s0 + i] ? ids[(size_t)(s0 + i) * T + t] : 0;
    strata_train_forward(cfg, w, ws->acts, ws->cids, lengths + s0, n, Tc, pool,
                         ws->emb + (size_t)s0 * cfg->hidden_size);
    return tokens;
}

strata_status strata_train_batch(strata_train_ws *ws,
                                 const strata_bert_config *cfg,
                                 const strata_bert_weights *w,
                                 const int32_t *ids, const int *lengths,
                                 int N, int T, const uint8_t *mask,
                                 double tau, int symmetric, strata_pool pool,
                                 int chunk, strata_bert_weights *g,
                                 strata_infonce_stats *st, strata_error *err) {
    if (N <= 0 || T <= 0)
        return strata_error_set(err, STRATA_EINVAL, "train batch: empty batch");
    if (T > cfg->max_position)
        return strata_error_set(err, STRATA_EINVAL,
                                "train batch: %d tokens exceed max_position %d", T,
                                cfg->max_position);
    int n_seq = 2 * N;
    for (int i = 0; i < n_seq; i++)
        if (lengths[i] < 1 || lengths[i] > T)
            return strata_error_set(err, STRATA_EINVAL,
                                    "train batch: sequence %d has length %d (T = %d)",
                                    i, lengths[i], T);
    for (size_t i = 0; i < (size_t)n_seq * T; i++)
        if (ids[i] < 0 || ids[i] >= cfg->vocab_size)
            if ((int)(i % T) < lengths[i / T])
                return strata_error_set(err, STRATA_EINVAL,
                                        "train batch: token id %d out of range", ids[i]);
    int ch = (chunk <= 0 || chunk >= n_seq) ? n_seq : chunk;
    strata_status s = ws_reserve(ws, n_seq, ch, T, err);
    if (s) return s;
    if ((s = ws_lowp(ws, w, err))) return s;
    int C = cfg->hidden_size;
    int64_t tokens = 0;
    if (ch == n_seq) {
        /* whole batch: one forward with activations, one backward */
        tokens = chunk_forward(ws, cfg, w, ids, lengths, T, 0, n_seq, pool);
        if ((s = strata_infonce(ws->emb, ws->emb + (size_t)N * C, N, C, mask, tau, symmetric,
                                ws->demb, ws->demb + (size_t)N * C, st, err)))
            return s;
        strata_train_backward(cfg, w, ws->acts, ws->demb, g);
    } else {
        /* GradCache: embed chunk by chunk, loss gradient w.r.t. the
         * embeddings, then recompute each chunk and backpropagate */
        for (int s0 = 0; s0 < n_seq; s0 += ch) {
            int n = n_seq - s0 < ch ? n_seq - s0 : ch;
            tokens += chunk_forward(ws, cfg, w, ids, lengths, T, s0, n, pool);
        }
        if ((s = strata_infonce(ws->emb, ws->emb + (size_t)N * C, N, C, mask, tau, symmetric,
                                ws->demb, ws->demb + (size_t)N * C, st, err)))
            return s;
        for (int s0 = 0; s0 < n_seq; s0 += ch) {
            int n = n_seq - s0 < ch ? n_seq - s0 : ch;
            chunk_forward(ws, cfg, w, ids, lengths, T, s0, n, pool);
            strata_train_backward(cfg, w, ws->acts, ws->demb + (size_t)s0 * C, g);
        }
    }
    (void)tokens;
    if (ws->acts->failed)
        return strata_error_set(err, STRATA_ENOMEM, "oneDNN: a bf16 matrix product failed");
    return STRATA_OK;
}

/* ------------------------------------------------------------------------ */
/* Saving a parameter-layout block with Hugging Face names                   */
/* ------------------------------------------------------------------------ */

strata_status strata_train_save_block(const char *path,
                                      const strata_bert_config *cfg,
                                      const float *block, strata_error *err) {
    size_t s[STRATA_BERT_NUM_TENSORS];
    strata_bert_param_sizes(cfg, s);
    int L = cfg->num_layers, C = cfg->hidden_size, F = cfg->intermediate_size;
    int n = 5 + (STRATA_BERT_NUM_TENSORS - 5) * L;
    strata_tensor *t = strata_calloc((size_t)n, sizeof *t);
    char *names = strata_calloc((size_t)n, 96);
    if (!t || !names) {
        strata_free(t);
        strata_free(names);
        return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    }
    /* per-layer shapes of the stacked tensors, in order from index 5 */
    int64_t shp[STRATA_BERT_NUM_TENSORS][2] = {
        {cfg->vocab_size, C}, {cfg->max_position, C}, {cfg->type_vocab_size, C},
        {C, 0}, {C, 0}, {C, C}, {C, 0}, {C, C}, {C, 0}, {C, C}, {C, 0},
        {C, C}, {C, 0}, {C, 0}, {C, 0}, {F, C}, {F, 0}, {C, F}, {C, 0}, {C, 0}, {C, 0}};
    int k = 0;
    const float *p = block;
    for (int i = 0; i < STRATA_BERT_NUM_TENSORS; i++) {
        int reps = i < 5 ? 1 : L;
        size_t per = s[i] / (size_t)reps;
        for (int l = 0; l < reps; l++, k++) {
            char *nm = names + (size_t)k * 96;
            const char *src = k_names[i], *star = strchr(src, '*');
            if (star)
                snprintf(nm, 96, "%.*s%d%s", (int)(star - src), src, l, star + 1);
            else
                snprintf(nm, 96, "%s", src);
            t[k].name = nm;
            t[k].dtype = STRATA_DTYPE_F32;
            t[k].ndim = shp[i][1] ? 2 : 1;
            t[k].shape[0] = shp[i][0];
            t[k].shape[1] = shp[i][1];
            t[k].count = (int64_t)per;
            t[k].data = p;
            t[k].nbytes = per * sizeof(float);
            p += per;
        }
    }
    strata_status st = strata_safetensors_save(path, n, t, NULL, err);
    strata_free(t);
    strata_free(names);
    return st;
}
