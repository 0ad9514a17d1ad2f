/*
 * ctx_infer.c — inference of the contextual model: the context sample, the
 * two stages over token ids, and both over texts (tokenized, length-sorted,
 * dynamically padded batches).
 *
 * Both stages run the encoder's inference forward (strata_bert_forward_embeds)
 * on an embedding sum built here: M1's is the usual word + position + type
 * sum, M2's is [context | prompt | text] from strata_k_embed_prefix_forward.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encoder/ctx_internal.h"
#include "encoder/embed_batch.h"
#include "encoder/kernels.h"

/* ------------------------------------------------------------------------ */
/* Shared pieces (ctx_internal.h)                                            */
/* ------------------------------------------------------------------------ */

void strata__ctx_relu(float *y, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void strata__ctx_prompt(const strata_ctx_config *cfg, const strata_ctx_weights *w,
                        float *pre, float *act, float *out) {
    int C = cfg->bert.hidden_size, S = cfg->n_prompt;
    float ones[C], h[C], a[C];
    for (int c = 0; c < C; c++) ones[c] = 1.0f;
    strata_k_linear_forward(h, ones, w->pp0_w, w->pp0_b, 1, C, C);
    strata__ctx_relu(a, h, C);
    strata_k_linear_forward(out, a, w->pp2_w, w->pp2_b, 1, C, S * C);
    if (pre) memcpy(pre, h, sizeof h);
    if (act) memcpy(act, a, sizeof a);
}

void strata__ctx_prefix(float *prefix, const float *E, const uint8_t *drop,
                        const float *null_emb, const float *prompt, int B, int J,
                        int S, int C) {
    size_t row = (size_t)C * sizeof(float);
    for (int b = 0; b < B; b++) {
        float *p = prefix + (size_t)b * (J + S) * C;
        for (int j = 0; j < J; j++) {
            int null = !E || (drop && drop[(size_t)b * J + j]);
            memcpy(p + (size_t)j * C, null ? null_emb : E + (size_t)j * C, row);
        }
        memcpy(p + (size_t)J * C, prompt, row * (size_t)S);
    }
}

void strata__ctx_head1(const strata_ctx_weights *w, int C, const float *pooled,
                       int64_t n, float *pre, float *act, float *E) {
    strata_k_linear_forward(pre, pooled, w->mlp0_w, w->mlp0_b, n, C, C);
    strata_k_gelu_forward(act, pre, n * C);
    strata_k_linear_forward(E, act, w->mlp2_w, w->mlp2_b, n, C, C);
}

void strata__ctx_head2(const strata_ctx_weights *w, int C, int residual,
                       const float *pooled, int64_t n, float *pre, float *act,
                       float *y) {
    strata_k_linear_forward(pre, pooled, w->op0_w, w->op0_b, n, C, C);
    strata__ctx_relu(act, pre, n * C);
    strata_k_linear_forward(y, act, w->op2_w, w->op2_b, n, C, C);
    if (residual)
        for (int64_t i = 0; i < n * C; i++) y[i] += pooled[i];
}

/* ------------------------------------------------------------------------ */
/* The context sample                                                        */
/* ------------------------------------------------------------------------ */

strata_status strata_ctx_sample(int64_t n, int J, uint64_t seed, uint64_t stream,
                                int64_t *idx, strata_error *err) {
    if (n < 1 || J < 1)
        return strata_error_set(err, STRATA_EINVAL, "context sample: %lld documents, J = %d",
                                (long long)n, J);
    strata_rng r;
    strata_rng_seed(&r, seed, 0x636f6e74657874ULL ^ stream);
    if (n < J) { /* oversampling: a permutation of all n, repeated in order */
        for (int64_t i = 0; i < n; i++) idx[i] = i;
        strata_rng_shuffle_i64(&r, idx, n);
        for (int i = (int)n; i < J; i++) idx[i] = idx[i - n];
        return STRATA_OK;
    }
    /* J distinct documents, uniformly, in draw order: draws that repeat an
     * earlier one are rejected (an open-addressing set of 2^k >= 2J slots;
     * expected draws <= J ln J when n = J, about J when n >> J) */
    size_t cap = 2;
    while (cap < 2 * (size_t)J) cap *= 2;
    int64_t *set = strata_malloc_array(cap, sizeof(int64_t));
    if (!set) return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    for (size_t i = 0; i < cap; i++) set[i] = -1;
    for (int i = 0; i < J;) {
        int64_t d = (int64_t)strata_rng_below(&r, (uint64_t)n);
        size_t h = (size_t)strata_hash64(&d, sizeof d, 0) & (cap - 1);
        while (set[h] >= 0 && set[h] != d) h = (h + 1) & (cap - 1);
        if (set[h] == d) continue;
        set[h] = d;
        idx[i++] = d;
    }
    strata_free(set);
    return STRATA_OK;
}

/* ------------------------------------------------------------------------ */
/* State                                                                     */
/* ------------------------------------------------------------------------ */

struct strata_ctx_state {
    strata_bert_state *bs;
    float *x, *h;          /* [B*T2*C] embedding sum, hidden states */
    float *prefix;         /* [B*(J+S)*C] */
    float *pool, *pre, *act; /* [B*C] */
    float *prompt;         /* [S*C] */
    int *len2;             /* [B] */
    size_t cap[7], cap_l;  /* capacities, in reserve()'s order */
};

strata_status strata_ctx_state_create(strata_ctx_state **out, strata_error *err) {
    *out = strata_calloc(1, sizeof **out);
    if (!*out) return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    strata_status st = strata_bert_state_create(&(*out)->bs, err);
    if (st) {
        strata_free(*out);
        *out = NULL;
    }
    return st;
}

void strata_ctx_state_free(strata_ctx_state *s) {
    if (!s) return;
    strata_bert_state_free(s->bs);
    float *f[] = {s->x, s->h, s->prefix, s->pool, s->pre, s->act, s->prompt};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) strata_free(f[i]);
    strata_free(s->len2);
    strata_free(s);
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

static strata_status reserve(strata_ctx_state *s, size_t nx, size_t np, size_t nb,
                             size_t ns, int B, strata_error *err) {
    float **buf[7] = {&s->x, &s->h, &s->prefix, &s->pool, &s->pre, &s->act, &s->prompt};
    size_t need[7] = {nx, nx, np, nb, nb, nb, ns};
    for (int i = 0; i < 7; i++)
        if (grow(buf[i], &s->cap[i], need[i] ? need[i] : 1))
            return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    if ((size_t)B > s->cap_l) {
        int *l = strata_malloc_array((size_t)B, sizeof(int));
        if (!l) return strata_error_set(err, STRATA_ENOMEM, "out of memory");
        strata_free(s->len2);
        s->len2 = l;
        s->cap_l = (size_t)B;
    }
    return STRATA_OK;
}

static strata_status check_ids(const strata_ctx_model *m, const int32_t *ids,
                               const int *lengths, int B, int T, strata_error *err) {
    if (B < 1 || T < 1)
        return strata_error_set(err, STRATA_EINVAL, "batch shape [%d, %d] invalid", B, T);
    for (int b = 0; b < B; b++)
        if (lengths[b] < 1 || lengths[b] > T)
            return strata_error_set(err, STRATA_EINVAL,
                                    "sequence %d has length %d, not in [1, %d]", b,
                                    lengths[b], T);
    for (size_t i = 0; i < (size_t)B * (size_t)T; i++)
        if (ids[i] < 0 || ids[i] >= m->cfg.bert.vocab_size)
            return strata_error_set(err, STRATA_EINVAL,
                                    "token id %d at position %zu outside the vocabulary",
                                    ids[i], i);
    return STRATA_OK;
}

/* ------------------------------------------------------------------------ */
/* The two stages                                                            */
/* ------------------------------------------------------------------------ */

strata_status strata_ctx_first_stage(const strata_ctx_model *m, strata_ctx_state *s,
                                     const int32_t *ids, const int *lengths, int n, int T,
                                     float *E, strata_error *err) {
    const strata_bert_config *c = &m->cfg.bert;
    int C = c->hidden_size;
    strata_status st = check_ids(m, ids, lengths, n, T, err);
    if (st) return st;
    if (T > c->max_position)
        return strata_error_set(err, STRATA_EINVAL, "%d tokens exceed max positions %d", T,
                                c->max_position);
    if ((st = reserve(s, (size_t)n * T * C, 0, (size_t)n * C, 0, n, err))) return st;
    const strata_bert_weights *w = &m->w.m1;
    strata_k_embed_forward(s->x, ids, w->word_emb, w->pos_emb, w->type_emb, n, T, C);
    if ((st = strata_bert_forward_embeds(c, w, s->bs, s->x, lengths, n, T, s->h, err)))
        return st;
    strata_k_pool_forward(s->pool, s->h, lengths, n, T, C, 1);
    strata__ctx_head1(&m->w, C, s->pool, n, s->pre, s->act, E);
    return STRATA_OK;
}

strata_status strata_ctx_second_stage(const strata_ctx_model *m, strata_ctx_state *s,
                                      const float *E, int J, const int32_t *ids,
                                      const int *lengths, int B, int T, float *out,
                                      strata_error *err) {
    const strata_ctx_config *cfg = &m->cfg;
    const strata_bert_config *c = &cfg->bert;
    int C = c->hidden_size, S = cfg->n_prompt;
    if (J < 1) return strata_error_set(err, STRATA_EINVAL, "context size %d < 1", J);
    strata_status st = check_ids(m, ids, lengths, B, T, err);
    if (st) return st;
    int P = J + S, T2 = P + T;
    int npos = cfg->context_positions ? T2 : T;
    if (npos > c->max_position)
        return strata_error_set(err, STRATA_EINVAL, "%d positions exceed max positions %d",
                                npos, c->max_position);
    if ((st = reserve(s, (size_t)B * T2 * C, (size_t)B * P * C, (size_t)B * C, (size_t)S * C,
                      B, err)))
        return st;
    const strata_bert_weights *w = &m->w.m2;
    strata__ctx_prompt(cfg, &m->w, NULL, NULL, s->prompt);
    strata__ctx_prefix(s->prefix, E, NULL, m->w.null_emb, s->prompt, B, J, S, C);
    strata_k_embed_prefix_forward(s->x, s->prefix, ids, w->word_emb, w->pos_emb, w->type_emb,
                                  B, P, T, C, cfg->context_positions);
    for (int b = 0; b < B; b++) s->len2[b] = P + lengths[b];
    if ((st = strata_bert_forward_embeds(c, w, s->bs, s->x, s->len2, B, T2, s->h, err)))
        return st;
    /* the mean over the text positions only: row b starts at b*T2 + P */
    strata_k_pool_forward(s->pool, s->h + (size_t)P * C, lengths, B, T2, C, 1);
    strata__ctx_head2(&m->w, C, cfg->output_residual, s->pool, B, s->pre, s->act, out);
    strata_k_l2norm_forward(out, NULL, out, B, C);
    return STRATA_OK;
}

/* ------------------------------------------------------------------------ */
/* Texts                                                                     */
/* ------------------------------------------------------------------------ */

typedef struct ctx_fwd {
    const strata_ctx_model *m;
    strata_ctx_state *s;
    int stage;         /* 1: first stage, 2: second stage with E   */
    const float *E;    /* [J, C] the context (stage 2)             */
    int J;
} ctx_fwd;

static strata_status ctx_forward_cb(void *ctx, const int32_t *ids, const int *lens, int B, int T,
                                    float *out, strata_error *err) {
    const ctx_fwd *f = ctx;
    return f->stage == 1
               ? strata_ctx_first_stage(f->m, f->s, ids, lens, B, T, out, err)
               : strata_ctx_second_stage(f->m, f->s, f->E, f->J, ids, lens, B, T, out, err);
}

/* stage 1 (E = output rows) or stage 2 (with context E [J, C]) over texts. */
static strata_status embed_impl(const strata_ctx_model *m, int stage, const float *E, int J,
                                const char *const *texts, const size_t *lens, int64_t n,
                                const strata_embed_params *p, float *out, strata_error *err) {
    strata_embed_params d = strata_embed_default_params();
    if (!p) p = &d;
    if (!m->tok) return strata_error_set(err, STRATA_ESTATE, "the model has no vocabulary");
    int max_len = p->max_len > 0 ? p->max_len : STRATA_EMBED_DEFAULT_MAX_LEN;
    int npos = m->cfg.bert.max_position;
    if (stage == 2 && m->cfg.context_positions) npos -= J + m->cfg.n_prompt;
    if (max_len > npos) max_len = npos;
    if (max_len < 2) return strata_error_set(err, STRATA_EINVAL, "max_len %d too small", max_len);
    int bs = p->batch_size > 0 ? p->batch_size : 64;
    ctx_fwd f = {m, NULL, stage, E, J};
    strata_status st = strata_ctx_state_create(&f.s, err);
    if (!st)
        st = strata__embed_batched(m->tok, texts, lens, n, max_len, p->prompt, bs,
                                   m->cfg.bert.hidden_size,
                                   &p->progress, ctx_forward_cb, &f, out, err);
    strata_ctx_state_free(f.s);
    return st;
}

strata_status strata_ctx_embed_context(const strata_ctx_model *m, const char *const *texts,
                                       const size_t *lens, int64_t n,
                                       const strata_embed_params *p, float *E,
                                       strata_error *err) {
    return embed_impl(m, 1, NULL, 0, texts, lens, n, p, E, err);
}

strata_status strata_ctx_embed_texts(const strata_ctx_model *m, const float *E, int J,
                                     const char *const *texts, const size_t *lens, int64_t n,
                                     const strata_embed_params *p, float *out,
                                     strata_error *err) {
    if (J < 1) return strata_error_set(err, STRATA_EINVAL, "context size %d < 1", J);
    return embed_impl(m, 2, E, J, texts, lens, n, p, out, err);
}

strata_status strata_ctx_context_from_texts(const strata_ctx_model *m, const char *const *texts,
                                            const size_t *lens, int64_t n, int J, uint64_t seed,
                                            const strata_embed_params *p, float *E, int64_t *idx,
                                            strata_error *err) {
    if (n < 1) return strata_error_set(err, STRATA_EINVAL, "the context corpus is empty");
    if (J < 1) return strata_error_set(err, STRATA_EINVAL, "context size %d < 1", J);
    int64_t *ix = strata_malloc_array((size_t)J, sizeof(int64_t));
    const char **t = strata_malloc_array((size_t)J, sizeof(char *));
    size_t *l = strata_malloc_array((size_t)J, sizeof(size_t));
    strata_status st = STRATA_OK;
    if (!ix || !t || !l) st = strata_error_set(err, STRATA_ENOMEM, "out of memory");
    if (!st) st = strata_ctx_sample(n, J, seed, 0, ix, err);
    if (!st) {
        for (int j = 0; j < J; j++) {
            t[j] = texts[ix[j]];
            l[j] = lens[ix[j]];
        }
        st = strata_ctx_embed_context(m, t, l, J, p, E, err);
        if (st && err && err->item >= 0 && err->item < J) { /* name the corpus index */
            int64_t k = err->item;
            char msg[STRATA_ERROR_MSG_MAX];
            snprintf(msg, sizeof msg, "%s", strata_error_detail(err));
            strata_error_set(err, st, "%s", msg);
            strata_error_item(err, ix[k]);
        }
    }
    if (!st && idx) memcpy(idx, ix, sizeof(int64_t) * (size_t)J);
    strata_free(ix);
    strata_free(t);
    strata_free(l);
    return st;
}
