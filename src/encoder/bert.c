/*
 * bert.c — the BERT encoder's inference: per-call state, the forward pass
 * and text embedding (through embed_batch.c's length-sorted, dynamically
 * padded batches). Configuration is in bert_config.c, weights (create,
 * load, save) in bert_weights.c.
 *
 * Layout follows llm.c: all parameters in one float block, typed pointers
 * into it (strata_bert_weights), per-layer tensors stacked over layers.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/internal.h"
#include "encoder/kernels.h"
#include "encoder/bert_internal.h"
#include "encoder/embed_batch.h"
#include "encoder/lowp.h"
#include "encoder/st_folder.h"
#include "strata/encoder.h"
#include "strata/io.h"

/* ------------------------------------------------------------------------ */
/* Forward pass                                                              */
/* ------------------------------------------------------------------------ */

struct strata_bert_state {
    size_t cap_nc;      /* capacity of the [N, C] buffers, in floats */
    size_t cap_nf;      /* capacity of ff, in floats */
    size_t cap_scr;     /* capacity of the attention scratch */
    float *x;           /* [N, C] residual stream */
    float *q, *k, *v;   /* [N, C] each */
    float *ctx;         /* [N, C] attention output (heads concatenated) */
    float *proj;        /* [N, C] dense outputs */
    float *ff;          /* [N, F] GELU(intermediate) */
    float *scr;         /* attention score scratch, one T*T per thread */
    strata__bert_lowp *lp;      /* BF16/INT8 weights, or NULL (fp32) */
    const strata_bert *lp_model; /* the model lp was made from */
    void *gscr;         /* reduced-precision scratch, lp->scratch per thread */
    size_t cap_gscr;    /* its size in bytes */
};

strata_status strata_bert_state_create(strata_bert_state **out,
                                       strata_error *err) {
    *out = strata_calloc(1, sizeof **out);
    if (!*out) return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    return STRATA_OK;
}

void strata_bert_state_free(strata_bert_state *s) {
    if (!s) return;
    float **bufs[7] = {&s->x, &s->q, &s->k, &s->v, &s->ctx, &s->proj, &s->ff};
    for (int i = 0; i < 7; i++) strata_free(*bufs[i]);
    strata_free(s->scr);
    strata__bert_lowp_free(s->lp);
    strata_free(s->gscr);
    strata_free(s);
}

strata_status strata_bert_state_set_precision(strata_bert_state *s, const strata_bert *m,
                                              strata_precision p, strata_error *err) {
    strata_status st = strata_precision_resolve(p, &p, err);
    if (st != STRATA_OK) return st;
    strata__bert_lowp_free(s->lp);
    s->lp = NULL;
    s->lp_model = NULL;
    if (p == STRATA_PRECISION_FP32) return STRATA_OK;
    if ((st = strata__bert_lowp_create(&s->lp, &m->cfg, &m->w, p, 0, err)) != STRATA_OK) return st;
    s->lp_model = m;
    return STRATA_OK;
}

strata_precision strata_bert_state_precision(const strata_bert_state *s) {
    return s->lp ? s->lp->prec : STRATA_PRECISION_FP32;
}

static int grow(float **p, size_t *cap, size_t need) {
    if (need <= *cap) return 0;
    float *np = strata_malloc_array(need, sizeof(float));
    if (!np) return -1;
    strata_free(*p);
    *p = np;
    *cap = need;
    return 0;
}

static strata_status state_reserve(strata_bert_state *s, const strata_bert_config *c,
                                   int B, int T, strata_error *err) {
    size_t N = (size_t)B * (size_t)T;
    size_t nc = N * (size_t)c->hidden_size, nf = N * (size_t)c->intermediate_size;
    int nt = strata__max_threads();
    size_t scr = strata_k_attention_scratch(T) * (size_t)nt;
    if (nc > s->cap_nc) {
        float **bufs[6] = {&s->x, &s->q, &s->k, &s->v, &s->ctx, &s->proj};
        for (int i = 0; i < 6; i++) {
            strata_free(*bufs[i]);
            *bufs[i] = NULL;
        }
        s->cap_nc = 0;
        for (int i = 0; i < 6; i++) {
            *bufs[i] = strata_malloc_array(nc, sizeof(float));
            if (!*bufs[i]) return strata_error_set(err, STRATA_ENOMEM, "out of memory");
        }
        s->cap_nc = nc;
    }
    if (grow(&s->ff, &s->cap_nf, nf) || grow(&s->scr, &s->cap_scr, scr))
        return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    if (s->lp && s->lp->scratch * (size_t)nt > s->cap_gscr) {
        size_t need = s->lp->scratch * (size_t)nt;
        strata_free(s->gscr);
        s->cap_gscr = 0;
        if (!(s->gscr = strata_malloc(need)))
            return strata_error_set(err, STRATA_ENOMEM, "out of memory");
        s->cap_gscr = need;
    }
    return STRATA_OK;
}

/* strata_bert_forward (ids: token ids, out: pooled) and
 * strata_bert_forward_embeds (x: the embedding sum, hidden: last states; m
 * NULL: the state must be fp32, having no prepared weights of a model). */
static strata_status forward_impl(const strata_bert *m, const strata_bert_config *c,
                                  const strata_bert_weights *w,
                                  strata_bert_state *s, const int32_t *ids,
                                  const float *x0, const int *lengths, int B,
                                  int T, float *out, float *hidden,
                                  strata_error *err) {
    int C = c->hidden_size, F = c->intermediate_size, H = c->num_heads;
    if (B < 1 || T < 1 || (ids && T > c->max_position))
        return strata_error_set(err, STRATA_EINVAL,
                                "batch shape [%d, %d] invalid (max positions %d)",
                                B, T, c->max_position);
    for (int b = 0; b < B; b++)
        if (lengths[b] < 1 || lengths[b] > T)
            return strata_error_set(err, STRATA_EINVAL,
                                    "sequence %d has length %d, not in [1, %d]", b,
                                    lengths[b], T);
    for (size_t i = 0; ids && i < (size_t)B * (size_t)T; i++)
        if (ids[i] < 0 || ids[i] >= c->vocab_size)
            return strata_error_set(err, STRATA_EINVAL,
                                    "token id %d at position %zu outside the vocabulary",
                                    ids[i], i);
    if (s->lp && s->lp_model != m)
        return strata_error_set(err, STRATA_EINVAL,
                                "forward: the state's %s weights belong to another model",
                                strata_precision_name(s->lp->prec));
    strata_status st = state_reserve(s, c, B, T, err);
    if (st != STRATA_OK) return st;
    int64_t N = (int64_t)B * T;
    size_t CC = (size_t)C * C, CF = (size_t)C * F;

    if (ids)
        strata_k_embed_forward(s->x, ids, w->word_emb, w->pos_emb, w->type_emb, B, T, C);
    else
        memcpy(s->x, x0, sizeof(float) * (size_t)N * C);
    strata_k_layernorm_forward(s->x, NULL, NULL, s->x, w->emb_ln_w, w->emb_ln_b, N,
                               C, c->layer_norm_eps);
    if (s->lp && strata__bert_lowp_layers(s->lp, c, w, s->x, s->q, s->k, s->v, s->ctx, s->proj,
                                           s->ff, s->scr, s->gscr, lengths, B, T))
        return strata_error_set(err, STRATA_ENOMEM, "oneDNN: %s matrix product failed",
                                strata_precision_name(s->lp->prec));
    for (int l = 0; !s->lp && l < c->num_layers; l++) {
        strata_k_linear_forward(s->q, s->x, w->q_w + l * CC, w->q_b + (size_t)l * C, N, C, C);
        strata_k_linear_forward(s->k, s->x, w->k_w + l * CC, w->k_b + (size_t)l * C, N, C, C);
        strata_k_linear_forward(s->v, s->x, w->v_w + l * CC, w->v_b + (size_t)l * C, N, C, C);
        strata_k_attention_forward(s->ctx, NULL, s->scr, s->q, s->k, s->v, C, lengths,
                                   B, T, C, H);
        strata_k_linear_forward(s->proj, s->ctx, w->ao_w + l * CC, w->ao_b + (size_t)l * C,
                                N, C, C);
        strata_k_add_layernorm_forward(s->x, NULL, NULL, NULL, s->x, s->proj,
                                       w->ln1_w + (size_t)l * C, w->ln1_b + (size_t)l * C,
                                       N, C, c->layer_norm_eps);
        strata_k_linear_gelu_forward(s->ff, NULL, s->x, w->ff1_w + l * CF,
                                     w->ff1_b + (size_t)l * F, N, C, F);
        strata_k_linear_forward(s->proj, s->ff, w->ff2_w + l * CF, w->ff2_b + (size_t)l * C,
                                N, F, C);
        strata_k_add_layernorm_forward(s->x, NULL, NULL, NULL, s->x, s->proj,
                                       w->ln2_w + (size_t)l * C, w->ln2_b + (size_t)l * C,
                                       N, C, c->layer_norm_eps);
    }
    if (hidden) {
        memcpy(hidden, s->x, sizeof(float) * (size_t)N * C);
        return STRATA_OK;
    }
    strata_k_pool_forward(out, s->x, lengths, B, T, C, c->pool == STRATA_POOL_MEAN);
    if (c->normalize) strata_k_l2norm_forward(out, NULL, out, B, C);
    return STRATA_OK;
}

strata_status strata_bert_forward(const strata_bert *m, strata_bert_state *s,
                                  const int32_t *ids, const int *lengths,
                                  int B, int T, float *out,
                                  strata_error *err) {
    return forward_impl(m, &m->cfg, &m->w, s, ids, NULL, lengths, B, T, out, NULL, err);
}

strata_status strata_bert_forward_embeds(const strata_bert_config *cfg,
                                         const strata_bert_weights *w,
                                         strata_bert_state *s, const float *x,
                                         const int *lengths, int B, int T,
                                         float *hidden, strata_error *err) {
    return forward_impl(NULL, cfg, w, s, NULL, x, lengths, B, T, NULL, hidden, err);
}

/* ------------------------------------------------------------------------ */
/* Embedding texts                                                           */
/* ------------------------------------------------------------------------ */

strata_embed_params strata_embed_default_params(void) {
    strata_embed_params p;
    memset(&p, 0, sizeof p);
    p.max_len = 0; /* the model's: strata__st_embed_len */
    p.prompt = NULL;
    p.batch_size = 64;
    p.precision = STRATA_PRECISION_AUTO;
    return p;
}

typedef struct bert_fwd {
    const strata_bert *m;
    strata_bert_state *s;
} bert_fwd;

static strata_status bert_forward_cb(void *ctx, const int32_t *ids, const int *lens, int B, int T,
                                     float *out, strata_error *err) {
    const bert_fwd *f = ctx;
    return strata_bert_forward(f->m, f->s, ids, lens, B, T, out, err);
}

strata_status strata_bert_embed_texts(const strata_bert *m,
                                      const char *const *texts,
                                      const size_t *lens, int64_t n,
                                      const strata_embed_params *p,
                                      float *out, strata_error *err) {
    strata_embed_params d = strata_embed_default_params();
    if (!p) p = &d;
    if (!m->tok)
        return strata_error_set(err, STRATA_ESTATE, "the model has no vocabulary");
    if (p->max_len < 0)
        return strata_error_set(err, STRATA_EINVAL, "max_len %d < 0", p->max_len);
    int max_len = p->max_len > 0 ? p->max_len : strata__st_embed_len(&m->cfg);
    if (max_len > m->cfg.max_position) max_len = m->cfg.max_position;
    if (max_len < 2)
        return strata_error_set(err, STRATA_EINVAL, "max_len %d too small", max_len);
    int bs = p->batch_size > 0 ? p->batch_size : 64;
    bert_fwd f = {m, NULL};
    strata_status st = strata_bert_state_create(&f.s, err);
    if (!st) st = strata_bert_state_set_precision(f.s, m, p->precision, err);
    if (!st)
        st = strata__embed_batched(m->tok, texts, lens, n, max_len, p->prompt, bs,
                                   m->cfg.hidden_size,
                                   &p->progress, bert_forward_cb, &f, out, err);
    strata_bert_state_free(f.s);
    return st;
}
