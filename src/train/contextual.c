/*
 * contextual.c — training of the contextual model: one batch's loss and
 * gradients with two-stage gradient caching, sequence dropout replayed from
 * a counter-based hash, and the optimizer step over the whole block.
 *
 * The pass, for N pairs (2N sequences) and J context documents:
 *
 *   stage 1   M1 over the J documents (chunks)  -> pooled -> head -> E [J, C]
 *   prompt    P [S, C] from the prompt MLP on a vector of ones
 *   stage 2   M2 over [E (or v_null) | P | text] (chunks) -> text mean
 *             -> head -> L2 norm -> embeddings [2N, C]
 *   loss      InfoNCE -> d embeddings
 *   back 2    each M2 chunk again with activations, backward: M2, head and
 *             embedding-table gradients, and the gradient of every prefix
 *             row, summed (in double, rows in order) into dE, dP, d v_null
 *   back P    the prompt MLP from dP
 *   back 1    each M1 chunk again with activations, backward against dE
 *
 * With one chunk per stage the activations of the first forward are kept
 * and nothing is recomputed. Every kernel partitions its work in fixed
 * blocks, so results do not depend on the thread count.
 */
#include "strata/contextual.h"
#include "encoder/ctx_internal.h"
#include "train/ctx_kernels.h"
#include "train/train_kernels.h"

#include <math.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Sequence dropout                                                          */
/* ------------------------------------------------------------------------ */

static inline uint64_t mix64(uint64_t z) { /* splitmix64's finalizer */
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void strata_ctx_dropout_mask(uint64_t seed, int64_t step, int row0, int n_rows, int J,
                             double p, uint8_t *out) {
    uint64_t k = mix64(mix64(seed ^ 0x73657164726f70ULL) ^ (uint64_t)step);
    for (int r = 0; r < n_rows; r++)
        for (int j = 0; j < J; j++) {
            uint64_t h = mix64(k ^ (((uint64_t)(uint32_t)(row0 + r) << 32) | (uint32_t)j));
            double u = (double)(h >> 11) * 0x1.0p-53; /* uniform [0, 1) */
            out[(size_t)r * J + j] = (uint8_t)(u < p);
        }
}

/* ------------------------------------------------------------------------ */
/* Workspace                                                                 */
/* ------------------------------------------------------------------------ */

enum { F_POOL1, F_PRE1, F_ACT1, F_E, F_DE, F_POOL2, F_PRE2, F_ACT2, F_Y2, F_NORM2, F_EMB,
       F_DEMB, F_X, F_DH, F_DX, F_PREFIX, F_DPREFIX, F_D1, F_D2, F_D3, F_PROMPT, F_PPPRE,
       F_PPACT, F_DPROMPT, NF };
enum { D_DE, D_DPROMPT, D_DNULL, ND };

struct strata_ctx_ws {
    strata_ctx_config cfg;
    strata_train_acts *a1, *a2;   /* M1 [a1_B, a1_T], M2 [a2_B, a2_T]       */
    int a1_B, a1_T, a2_B, a2_T;
    float *f[NF];                 /* see the sizes in reserve()             */
    size_t fcap[NF];
    double *d[ND];                /* dE [J, C], dP [S*C], d v_null [C]      */
    size_t dcap[ND];
    uint8_t *drop;                /* [2N, J]                                */
    int32_t *ids1, *ids2;         /* compacted ids: [J, Tc], [2N, T]        */
    int *len2;                    /* [chunk] attention lengths of M2        */
    size_t cap_drop, cap_ids1, cap_ids2, cap_len2;
    int last_B, last_T2;          /* shape of M2's last chunk               */
};

strata_status strata_ctx_ws_create(strata_ctx_ws **out, const strata_ctx_config *cfg,
                                   strata_error *err) {
    *out = strata_calloc(1, sizeof **out);
    if (!*out) return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    (*out)->cfg = *cfg;
    return STRATA_OK;
}

void strata_ctx_ws_free(strata_ctx_ws *ws) {
    if (!ws) return;
    strata_train_acts_free(ws->a1);
    strata_train_acts_free(ws->a2);
    for (int i = 0; i < NF; i++) strata_free(ws->f[i]);
    for (int i = 0; i < ND; i++) strata_free(ws->d[i]);
    strata_free(ws->drop);
    strata_free(ws->ids1);
    strata_free(ws->ids2);
    strata_free(ws->len2);
    strata_free(ws);
}

void strata_ctx_ws_outputs(const strata_ctx_ws *ws, const float **E, const float **dE,
                           const float **pooled, const float **emb, const uint8_t **drop) {
    if (E) *E = ws->f[F_E];
    if (dE) *dE = ws->f[F_DE];
    if (pooled) *pooled = ws->f[F_POOL2];
    if (emb) *emb = ws->f[F_EMB];
    if (drop) *drop = ws->drop;
}

/* Grows *p to n elements of size sz (contents not kept). */
static int grow(void **p, size_t *cap, size_t n, size_t sz) {
    if (n == 0) n = 1;
    if (n <= *cap) return 0;
    void *q = strata_malloc_array(n, sz);
    if (!q) return -1;
    strata_free(*p);
    *p = q;
    *cap = n;
    return 0;
}

static strata_status grow_acts(strata_train_acts **a, int *capB, int *capT,
                               const strata_bert_config *cfg, int B, int T, strata_error *err) {
    if (*a && B <= *capB && T <= *capT) return STRATA_OK;
    int nb = B > *capB ? B : *capB, nt = T > *capT ? T : *capT;
    strata_train_acts_free(*a);
    *a = NULL;
    *capB = *capT = 0;
    strata_status st = strata_train_acts_create(a, cfg, nb, nt, err);
    if (st) return st;
    *capB = nb;
    *capT = nt;
    return STRATA_OK;
}

static strata_status reserve(strata_ctx_ws *ws, int J, int n_seq, int ch1, int ch2, int Tc,
                             int T, strata_error *err) {
    size_t C = (size_t)ws->cfg.bert.hidden_size, S = (size_t)ws->cfg.n_prompt;
    size_t P = (size_t)J + S, T2 = P + (size_t)T;
    size_t chmax = (size_t)(ch1 > ch2 ? ch1 : ch2);
    size_t xs = (size_t)ch1 * Tc > ch2 * T2 ? (size_t)ch1 * Tc : ch2 * T2;
    size_t need[NF] = {
        J * C, J * C, J * C, J * C, J * C,                       /* stage 1  */
        n_seq * C, n_seq * C, n_seq * C, n_seq * C, (size_t)n_seq, n_seq * C,
        n_seq * C,                                               /* stage 2  */
        xs * C, xs * C, xs * C, ch2 * P * C, ch2 * P * C,        /* chunks   */
        chmax * C, chmax * C, chmax * C, S * C, C, C, S * C};
    size_t dneed[ND] = {J * C, S * C, C};
    for (int i = 0; i < NF; i++)
        if (grow((void **)&ws->f[i], &ws->fcap[i], need[i], sizeof(float)))
            return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    for (int i = 0; i < ND; i++)
        if (grow((void **)&ws->d[i], &ws->dcap[i], dneed[i], sizeof(double)))
            return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    if (grow((void **)&ws->drop, &ws->cap_drop, (size_t)n_seq * J, 1) ||
        grow((void **)&ws->ids1, &ws->cap_ids1, (size_t)J * Tc, sizeof(int32_t)) ||
        grow((void **)&ws->ids2, &ws->cap_ids2, (size_t)n_seq * T, sizeof(int32_t)) ||
        grow((void **)&ws->len2, &ws->cap_len2, (size_t)ch2, sizeof(int)))
        return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    strata_status st = grow_acts(&ws->a1, &ws->a1_B, &ws->a1_T, &ws->cfg.bert, ch1, Tc, err);
    if (!st) st = grow_acts(&ws->a2, &ws->a2_B, &ws->a2_T, &ws->cfg.bert, ch2, (int)T2, err);
    return st;
}

static int same_shape(const strata_bert_config *a, const strata_bert_config *b) {
    return a->vocab_size == b->vocab_size && a->hidden_size == b->hidden_size &&
           a->num_layers == b->num_layers && a->num_heads == b->num_heads &&
           a->intermediate_size == b->intermediate_size && a->max_position == b->max_position &&
           a->type_vocab_size == b->type_vocab_size && a->layer_norm_eps == b->layer_norm_eps;
}

/* Copies rows [r0, r0+n) of ids [*, T] into dst + r0*T with the chunk's own
 * padded length (its longest sequence); returns that length. */
static int compact(int32_t *dst, const int32_t *ids, const int *len, int T, int r0, int n) {
    int Tc = 1;
    for (int i = 0; i < n; i++)
        if (len[r0 + i] > Tc) Tc = len[r0 + i];
    int32_t *d = dst + (size_t)r0 * T;
    for (int i = 0; i < n; i++)
        for (int t = 0; t < Tc; t++)
            d[(size_t)i * Tc + t] = t < len[r0 + i] ? ids[(size_t)(r0 + i) * T + t] : 0;
    return Tc;
}

/* ------------------------------------------------------------------------ */
/* Stage 1: M1 over context documents [j0, j0+n)                             */
/* ------------------------------------------------------------------------ */

static void stage1_forward(strata_ctx_ws *ws, const strata_ctx_weights *w,
                           const strata_ctx_batch *b, int j0, int n) {
    int C = ws->cfg.bert.hidden_size;
    int Tn = compact(ws->ids1, b->ctx_ids, b->ctx_lengths, b->Tc, j0, n);
    const int32_t *ids = ws->ids1 + (size_t)j0 * b->Tc;
    const int *len = b->ctx_lengths + j0;
    size_t o = (size_t)j0 * C;
    strata_k_embed_forward(ws->f[F_X], ids, w->m1.word_emb, w->m1.pos_emb, w->m1.type_emb, n,
                           Tn, C);
    strata_train_forward_embeds(&ws->cfg.bert, &w->m1, ws->a1, ws->f[F_X], len, n, Tn);
    strata_k_pool_forward(ws->f[F_POOL1] + o, strata_train_hidden(ws->a1), len, n, Tn, C, 1);
    strata__ctx_head1(w, C, ws->f[F_POOL1] + o, n, ws->f[F_PRE1] + o, ws->f[F_ACT1] + o,
                      ws->f[F_E] + o);
}

static void stage1_backward(strata_ctx_ws *ws, const strata_ctx_weights *w,
                            const strata_ctx_batch *b, int j0, int n, strata_ctx_weights *g) {
    int C = ws->cfg.bert.hidden_size;
    int Tn = 1;
    for (int i = 0; i < n; i++)
        if (b->ctx_lengths[j0 + i] > Tn) Tn = b->ctx_lengths[j0 + i];
    size_t o = (size_t)j0 * C;
    float *d1 = ws->f[F_D1], *d2 = ws->f[F_D2];
    /* E = mlp2(gelu(mlp0(pooled))) */
    strata__tr_linear_bwd(d1, g->mlp2_w, g->mlp2_b, ws->f[F_DE] + o, ws->f[F_ACT1] + o,
                          w->mlp2_w, n, C, C, 0);
    strata__tr_gelu_bwd(d1, ws->f[F_PRE1] + o, d1, (int64_t)n * C);
    strata__tr_linear_bwd(d2, g->mlp0_w, g->mlp0_b, d1, ws->f[F_POOL1] + o, w->mlp0_w, n, C, C,
                          0);
    strata__tr_pool_bwd(ws->f[F_DH], d2, b->ctx_lengths + j0, n, Tn, C, STRATA_POOL_MEAN);
    strata_train_backward_embeds(&ws->cfg.bert, &w->m1, ws->a1, ws->f[F_DH], &g->m1,
                                 ws->f[F_DX]);
    strata__tr_emb_bwd(g->m1.word_emb, g->m1.pos_emb, g->m1.type_emb, ws->f[F_DX],
                       ws->ids1 + (size_t)j0 * b->Tc, b->ctx_lengths + j0, n, Tn, C);
}

/* ------------------------------------------------------------------------ */
/* Stage 2: M2 over sequences [s0, s0+n)                                     */
/* ------------------------------------------------------------------------ */

static void stage2_forward(strata_ctx_ws *ws, const strata_ctx_weights *w,
                           const strata_ctx_batch *b, int s0, int n) {
    const strata_ctx_config *cfg = &ws->cfg;
    int C = cfg->bert.hidden_size, J = cfg->context_size, S = cfg->n_prompt, P = J + S;
    int Tn = compact(ws->ids2, b->ids, b->lengths, b->T, s0, n), T2 = P + Tn;
    const int *len = b->lengths + s0;
    size_t o = (size_t)s0 * C;
    strata__ctx_prefix(ws->f[F_PREFIX], ws->f[F_E], ws->drop + (size_t)s0 * J, w->null_emb,
                       ws->f[F_PROMPT], n, J, S, C);
    strata_k_embed_prefix_forward(ws->f[F_X], ws->f[F_PREFIX], ws->ids2 + (size_t)s0 * b->T,
                                  w->m2.word_emb, w->m2.pos_emb, w->m2.type_emb, n, P, Tn, C,
                                  cfg->context_positions);
    for (int i = 0; i < n; i++) ws->len2[i] = P + len[i];
    strata_train_forward_embeds(&cfg->bert, &w->m2, ws->a2, ws->f[F_X], ws->len2, n, T2);
    ws->last_B = n;
    ws->last_T2 = T2;
    /* the mean over the text positions only: row i starts at i*T2 + P */
    strata_k_pool_forward(ws->f[F_POOL2] + o, strata_train_hidden(ws->a2) + (size_t)P * C, len,
                          n, T2, C, 1);
    strata__ctx_head2(w, C, cfg->output_residual, ws->f[F_POOL2] + o, n, ws->f[F_PRE2] + o,
                      ws->f[F_ACT2] + o, ws->f[F_Y2] + o);
    strata_k_l2norm_forward(ws->f[F_EMB] + o, ws->f[F_NORM2] + s0, ws->f[F_Y2] + o, n, C);
}

void strata__ctx_prefix_bwd(double *dE, double *dnull, double *dprompt,
                            const float *dprefix, const uint8_t *drop, int B, int J,
                            int S, int C) {
    for (int i = 0; i < B; i++)
        for (int j = 0; j < J + S; j++) {
            const float *g = dprefix + ((size_t)i * (J + S) + j) * C;
            double *acc = j >= J ? dprompt + (size_t)(j - J) * C
                          : drop && drop[(size_t)i * J + j] ? dnull : dE + (size_t)j * C;
            for (int c = 0; c < C; c++) acc[c] += g[c];
        }
}

void strata__ctx_text_pool_bwd(float *dh, const float *dpool, const int *lengths, int B,
                               int P, int T2, int C) {
    memset(dh, 0, sizeof(float) * (size_t)B * T2 * C);
    for (int i = 0; i < B; i++) {
        float inv = 1.0f / (float)lengths[i];
        for (int t = 0; t < lengths[i]; t++)
            for (int c = 0; c < C; c++)
                dh[((size_t)i * T2 + P + t) * C + c] = dpool[(size_t)i * C + c] * inv;
    }
}

void strata__ctx_relu_bwd(float *d, const float *pre, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (!(pre[i] > 0.0f)) d[i] = 0.0f;
}

const float *strata__ctx_ws_hidden(const strata_ctx_ws *ws, int *B, int *T2) {
    if (B) *B = ws->last_B;
    if (T2) *T2 = ws->last_T2;
    return strata_train_hidden(ws->a2);
}

static void stage2_backward(strata_ctx_ws *ws, const strata_ctx_weights *w,
                            const strata_ctx_batch *b, int s0, int n, strata_ctx_weights *g) {
    const strata_ctx_config *cfg = &ws->cfg;
    int C = cfg->bert.hidden_size, J = cfg->context_size, S = cfg->n_prompt, P = J + S;
    int Tn = 1;
    for (int i = 0; i < n; i++)
        if (b->lengths[s0 + i] > Tn) Tn = b->lengths[s0 + i];
    int T2 = P + Tn;
    size_t o = (size_t)s0 * C;
    float *d1 = ws->f[F_D1], *d2 = ws->f[F_D2], *d3 = ws->f[F_D3], *dh = ws->f[F_DH];
    /* emb = normalize(op2(relu(op0(pooled))) [+ pooled]) */
    strata__tr_l2n_bwd(d1, ws->f[F_DEMB] + o, ws->f[F_EMB] + o, ws->f[F_NORM2] + s0, n, C);
    strata__tr_linear_bwd(d2, g->op2_w, g->op2_b, d1, ws->f[F_ACT2] + o, w->op2_w, n, C, C, 0);
    strata__ctx_relu_bwd(d2, ws->f[F_PRE2] + o, (int64_t)n * C);
    strata__tr_linear_bwd(d3, g->op0_w, g->op0_b, d2, ws->f[F_POOL2] + o, w->op0_w, n, C, C, 0);
    if (cfg->output_residual)
        for (size_t i = 0; i < (size_t)n * C; i++) d3[i] += d1[i];
    strata__ctx_text_pool_bwd(dh, d3, b->lengths + s0, n, P, T2, C);
    strata_train_backward_embeds(&cfg->bert, &w->m2, ws->a2, dh, &g->m2, ws->f[F_DX]);
    strata__tr_emb_prefix_bwd(ws->f[F_DPREFIX], g->m2.word_emb, g->m2.pos_emb, g->m2.type_emb,
                              ws->f[F_DX], ws->ids2 + (size_t)s0 * b->T, b->lengths + s0, n,
                              P, Tn, C, cfg->context_positions);
    strata__ctx_prefix_bwd(ws->d[D_DE], ws->d[D_DNULL], ws->d[D_DPROMPT], ws->f[F_DPREFIX],
                           ws->drop + (size_t)s0 * J, n, J, S, C);
}

/* The prompt MLP's backward from dP (ws->d[D_DPROMPT]). */
static void prompt_backward(strata_ctx_ws *ws, const strata_ctx_weights *w,
                            strata_ctx_weights *g) {
    int C = ws->cfg.bert.hidden_size, S = ws->cfg.n_prompt;
    float *dP = ws->f[F_DPROMPT], da[C], ones[C];
    for (int i = 0; i < S * C; i++) dP[i] = (float)ws->d[D_DPROMPT][i];
    for (int c = 0; c < C; c++) ones[c] = 1.0f;
    strata__tr_linear_bwd(da, g->pp2_w, g->pp2_b, dP, ws->f[F_PPACT], w->pp2_w, 1, C, S * C, 0);
    strata__ctx_relu_bwd(da, ws->f[F_PPPRE], C);
    strata__tr_linear_bwd(NULL, g->pp0_w, g->pp0_b, da, ones, w->pp0_w, 1, C, C, 0);
}

/* ------------------------------------------------------------------------ */
/* One batch                                                                 */
/* ------------------------------------------------------------------------ */

static strata_status check_batch(const strata_ctx_config *cfg, const strata_ctx_batch *b,
                                 strata_error *err) {
    const strata_bert_config *c = &cfg->bert;
    int J = cfg->context_size, npos = b->T + (cfg->context_positions ? J + cfg->n_prompt : 0);
    if (b->N < 1 || b->T < 1 || b->Tc < 1)
        return strata_error_set(err, STRATA_EINVAL, "contextual batch: empty batch");
    if (npos > c->max_position || b->Tc > c->max_position)
        return strata_error_set(err, STRATA_EINVAL,
                                "contextual batch: %d positions exceed max_position %d",
                                npos > b->Tc ? npos : b->Tc, c->max_position);
    const int *lens[2] = {b->lengths, b->ctx_lengths};
    const int32_t *ids[2] = {b->ids, b->ctx_ids};
    int rows[2] = {2 * b->N, J}, Ts[2] = {b->T, b->Tc};
    const char *what[2] = {"sequence", "context document"};
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < rows[k]; i++) {
            if (lens[k][i] < 1 || lens[k][i] > Ts[k])
                return strata_error_set(err, STRATA_EINVAL,
                                        "contextual batch: %s %d has length %d (T = %d)",
                                        what[k], i, lens[k][i], Ts[k]);
            for (int t = 0; t < lens[k][i]; t++) {
                int32_t id = ids[k][(size_t)i * Ts[k] + t];
                if (id < 0 || id >= c->vocab_size)
                    return strata_error_set(err, STRATA_EINVAL,
                                            "contextual batch: %s %d: token id %d out of range",
                                            what[k], i, id);
            }
        }
    return STRATA_OK;
}

strata_status strata_ctx_train_batch(strata_ctx_ws *ws, const strata_ctx_config *cfg,
                                     const strata_ctx_weights *w, const strata_ctx_batch *b,
                                     double tau, int symmetric, int chunk, strata_ctx_weights *g,
                                     strata_infonce_stats *st, strata_error *err) {
    strata_status s = check_batch(cfg, b, err);
    if (s) return s;
    if (!same_shape(&ws->cfg.bert, &cfg->bert))
        return strata_error_set(err, STRATA_EINVAL,
                                "contextual batch: the workspace was made for another model shape");
    ws->cfg = *cfg;
    int C = cfg->bert.hidden_size, J = cfg->context_size, S = cfg->n_prompt;
    int N = b->N, n_seq = 2 * N;
    int ch1 = chunk <= 0 || chunk >= J ? J : chunk;
    int ch2 = chunk <= 0 || chunk >= n_seq ? n_seq : chunk;
    if ((s = reserve(ws, J, n_seq, ch1, ch2, b->Tc, b->T, err))) return s;
    strata_ctx_dropout_mask(b->seed, b->step, 0, n_seq, J, cfg->seq_dropout, ws->drop);
    memset(ws->d[D_DE], 0, sizeof(double) * (size_t)J * C);
    memset(ws->d[D_DPROMPT], 0, sizeof(double) * (size_t)S * C);
    memset(ws->d[D_DNULL], 0, sizeof(double) * (size_t)C);

    for (int j0 = 0; j0 < J; j0 += ch1) stage1_forward(ws, w, b, j0, J - j0 < ch1 ? J - j0 : ch1);
    strata__ctx_prompt(cfg, w, ws->f[F_PPPRE], ws->f[F_PPACT], ws->f[F_PROMPT]);
    for (int s0 = 0; s0 < n_seq; s0 += ch2)
        stage2_forward(ws, w, b, s0, n_seq - s0 < ch2 ? n_seq - s0 : ch2);
    float *emb = ws->f[F_EMB], *demb = ws->f[F_DEMB];
    if ((s = strata_infonce(emb, emb + (size_t)N * C, N, C, b->mask, tau, symmetric, demb,
                            demb + (size_t)N * C, st, err)))
        return s;
    for (int s0 = 0; s0 < n_seq; s0 += ch2) {
        int n = n_seq - s0 < ch2 ? n_seq - s0 : ch2;
        if (ch2 < n_seq) stage2_forward(ws, w, b, s0, n); /* GradCache: recompute */
        stage2_backward(ws, w, b, s0, n, g);
    }
    prompt_backward(ws, w, g);
    for (int c = 0; c < C; c++) g->null_emb[c] += (float)ws->d[D_DNULL][c];
    for (size_t i = 0; i < (size_t)J * C; i++) ws->f[F_DE][i] = (float)ws->d[D_DE][i];
    for (int j0 = 0; j0 < J; j0 += ch1) {
        int n = J - j0 < ch1 ? J - j0 : ch1;
        if (ch1 < J) stage1_forward(ws, w, b, j0, n);
        stage1_backward(ws, w, b, j0, n, g);
    }
    return STRATA_OK;
}

/* ------------------------------------------------------------------------ */
/* Optimizer                                                                 */
/* ------------------------------------------------------------------------ */

double strata_ctx_optimizer_step(const strata_ctx_config *cfg, float *params, float *grads,
                                 float *m, float *v, double lr, double wd, double clip,
                                 double beta1, double beta2, double eps, int64_t t) {
    size_t s[STRATA_CTX_NUM_TENSORS];
    size_t n = strata_ctx_param_sizes(cfg, s);
    double norm = strata_train_clip(grads, n, clip);
    size_t off = 0;
    for (int i = 0; i < STRATA_CTX_NUM_TENSORS; i++) {
        strata_adamw_update(params + off, grads + off, m + off, v + off, s[i], lr, beta1, beta2,
                            eps, strata_ctx_tensor_decays(i) ? wd : 0.0, t);
        off += s[i];
    }
    return norm;
}
