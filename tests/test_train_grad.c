/*
 * test_train_grad.c — gradient checks of every training op by central finite
 * differences of naive double-precision forward functions written here (the
 * forward kernels, where a test runs one, are the encoder's, which the
 * trainer uses), the sgemm kernels against their naive references, and
 * InfoNCE with masks.
 *
 * Method: each float backward kernel gets a projected loss L = sum(R * out)
 * (R random), and every input gradient element is compared with
 * (L(x + h) - L(x - h)) / 2h computed entirely in double (h = 1e-5: the
 * truncation error h^2 * f''' ~ 1e-10 and the rounding error 1e-16/h ~ 1e-11
 * are far below the tolerance). Tolerance 1e-4 relative to the largest
 * gradient of the tensor: the analytic side is float32 (unit roundoff 6e-8)
 * accumulated over at most a few hundred terms.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strata/train.h"
#include "train/train_kernels.h"
#include "testutil.h"

#define FD_H 1e-5
#define FD_TOL 1e-4

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */
/* ------------------------------------------------------------------------ */

static uint64_t g_rng = 12345;
static double urand(void) { /* uniform [-1, 1) */
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (double)(g_rng >> 11) / 9007199254740992.0 * 2.0 - 1.0;
}
static void fill(float *x, size_t n, double scale) {
    for (size_t i = 0; i < n; i++) x[i] = (float)(scale * urand());
}
static double *to_d(const float *x, size_t n) {
    double *d = malloc(n * sizeof *d);
    for (size_t i = 0; i < n; i++) d[i] = x[i];
    return d;
}

/* A loss over double inputs: the FD driver perturbs *target elements. */
typedef double (*loss_fn)(void *ctx);

/* Compares analytic (float) gradient ga[n] with central differences of f
 * with respect to x[n] (a double array the loss reads). */
static void fd_check(const char *what, loss_fn f, void *ctx, double *x,
                     const float *ga, size_t n) {
    double maxg = 0, maxerr = 0;
    size_t worst = 0;
    double *fd = malloc(n * sizeof *fd);
    for (size_t i = 0; i < n; i++) {
        double x0 = x[i];
        x[i] = x0 + FD_H;
        double lp = f(ctx);
        x[i] = x0 - FD_H;
        double lm = f(ctx);
        x[i] = x0;
        fd[i] = (lp - lm) / (2 * FD_H);
        if (fabs(fd[i]) > maxg) maxg = fabs(fd[i]);
    }
    for (size_t i = 0; i < n; i++) {
        double e = fabs(fd[i] - ga[i]);
        if (e > maxerr) { maxerr = e; worst = i; }
    }
    double rel = maxerr / (maxg > 1e-12 ? maxg : 1e-12);
    if (rel > FD_TOL || maxg == 0)
        print_message("%s: max |grad| %.3g, max err %.3g (rel %.3g) at %zu: fd %.8g analytic %.8g\n",
                      what, maxg, maxerr, rel, worst, fd[worst], (double)ga[worst]);
    free(fd);
    assert_true(maxg > 0);
    assert_true(rel <= FD_TOL);
}

static double dot_d(const double *a, const double *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

/* ------------------------------------------------------------------------ */
/* LayerNorm                                                                 */
/* ------------------------------------------------------------------------ */

typedef struct { double *x, *w, *b, *R; int N, C; double eps; } ln_ctx;

static double ln_loss(void *p) {
    ln_ctx *c = p;
    double L = 0;
    for (int r = 0; r < c->N; r++) {
        const double *x = c->x + (size_t)r * c->C;
        double m = 0, v = 0;
        for (int j = 0; j < c->C; j++) m += x[j];
        m /= c->C;
        for (int j = 0; j < c->C; j++) v += (x[j] - m) * (x[j] - m);
        v /= c->C;
        for (int j = 0; j < c->C; j++)
            L += c->R[(size_t)r * c->C + j] * ((x[j] - m) / sqrt(v + c->eps) * c->w[j] + c->b[j]);
    }
    return L;
}

static void test_fd_layernorm(void **state) {
    (void)state;
    int N = 5, C = 13;
    float x[65], w[13], b[13], R[65], out[65], mean[5], rstd[5];
    fill(x, 65, 2.0); fill(w, 13, 1.0); fill(b, 13, 0.5); fill(R, 65, 1.0);
    for (int i = 0; i < 13; i++) w[i] += 1.0f;
    strata_k_layernorm_forward(out, mean, rstd, x, w, b, N, C, 1e-12f);
    float dx[65], dw[13] = {0}, db[13] = {0};
    for (int i = 0; i < 65; i++) dx[i] = 0.5f; /* accumulate mode adds */
    strata__tr_ln_bwd(dx, dw, db, R, x, mean, rstd, w, N, C, 1);
    for (int i = 0; i < 65; i++) dx[i] -= 0.5f;
    ln_ctx c = {to_d(x, 65), to_d(w, 13), to_d(b, 13), to_d(R, 65), N, C, 1e-12};
    /* forward agrees with the double reference */
    double L = ln_loss(&c), Lf = 0;
    for (int i = 0; i < 65; i++) Lf += (double)R[i] * out[i];
    assert_true(fabs(L - Lf) < 1e-4 * (1 + fabs(L)));
    fd_check("layernorm dx", ln_loss, &c, c.x, dx, 65);
    fd_check("layernorm dw", ln_loss, &c, c.w, dw, 13);
    fd_check("layernorm db", ln_loss, &c, c.b, db, 13);
    free(c.x); free(c.w); free(c.b); free(c.R);
}

/* ------------------------------------------------------------------------ */
/* Linear                                                                    */
/* ------------------------------------------------------------------------ */

typedef struct { double *x, *W, *b, *R; int N, IC, OC; } lin_ctx;

static double lin_loss(void *p) {
    lin_ctx *c = p;
    double L = 0;
    for (int r = 0; r < c->N; r++)
        for (int o = 0; o < c->OC; o++) {
            double s = c->b[o] + dot_d(c->x + (size_t)r * c->IC, c->W + (size_t)o * c->IC, c->IC);
            L += c->R[(size_t)r * c->OC + o] * s;
        }
    return L;
}

static void test_fd_linear(void **state) {
    (void)state;
    int N = 7, IC = 11, OC = 9;
    float x[77], W[99], b[9], R[63], dx[77] = {0}, dW[99] = {0}, db[9] = {0};
    fill(x, 77, 1.0); fill(W, 99, 0.5); fill(b, 9, 0.5); fill(R, 63, 1.0);
    strata__tr_linear_bwd(dx, dW, db, R, x, W, N, IC, OC, 0);
    lin_ctx c = {to_d(x, 77), to_d(W, 99), to_d(b, 9), to_d(R, 63), N, IC, OC};
    fd_check("linear dx", lin_loss, &c, c.x, dx, 77);
    fd_check("linear dW", lin_loss, &c, c.W, dW, 99);
    fd_check("linear db", lin_loss, &c, c.b, db, 9);
    free(c.x); free(c.W); free(c.b); free(c.R);
}

/* sgemm kernels vs naive references on odd shapes spanning several blocks.
 * Tolerance 1e-5 relative to the largest magnitude: float sums of <= 150
 * terms in different orders. */
static void test_linear_fast_vs_naive(void **state) {
    (void)state;
    int N = 131, IC = 37, OC = 45;
    size_t nx = (size_t)N * IC, nw = (size_t)OC * IC, no = (size_t)N * OC;
    float *x = malloc(nx * 4), *W = malloc(nw * 4), *b = malloc(OC * 4),
          *o1 = malloc(no * 4), *o2 = malloc(no * 4), *g = malloc(no * 4);
    fill(x, nx, 1); fill(W, nw, 1); fill(b, OC, 1); fill(g, no, 1);
    strata_k_linear_forward(o1, x, W, b, N, IC, OC);
    strata_k_linear_forward_naive(o2, x, W, b, N, IC, OC);
    for (size_t i = 0; i < no; i++) assert_true(fabsf(o1[i] - o2[i]) < 1e-5f * 8);
    float *dx1 = calloc(nx, 4), *dx2 = calloc(nx, 4), *dW1 = calloc(nw, 4),
          *dW2 = calloc(nw, 4), *db1 = calloc(OC, 4), *db2 = calloc(OC, 4);
    for (int rep = 0; rep < 2; rep++) { /* second round checks accumulation */
        strata__tr_linear_bwd(dx1, dW1, db1, g, x, W, N, IC, OC, rep);
        strata__tr_linear_bwd_naive(dx2, dW2, db2, g, x, W, N, IC, OC, rep);
    }
    for (size_t i = 0; i < nx; i++) assert_true(fabsf(dx1[i] - dx2[i]) < 1e-5f * 16);
    for (size_t i = 0; i < nw; i++) assert_true(fabsf(dW1[i] - dW2[i]) < 1e-5f * 32);
    for (int i = 0; i < OC; i++) assert_true(fabsf(db1[i] - db2[i]) < 1e-5f * 32);
    free(x); free(W); free(b); free(o1); free(o2); free(g);
    free(dx1); free(dx2); free(dW1); free(dW2); free(db1); free(db2);
}

/* ------------------------------------------------------------------------ */
/* GELU                                                                      */
/* ------------------------------------------------------------------------ */

typedef struct { double *x, *R; int n; } gelu_ctx;

static double gelu_loss(void *p) {
    gelu_ctx *c = p;
    double L = 0;
    for (int i = 0; i < c->n; i++)
        L += c->R[i] * 0.5 * c->x[i] * (1 + erf(c->x[i] / sqrt(2.0)));
    return L;
}

static void test_fd_gelu(void **state) {
    (void)state;
    float x[40], R[40], dx[40];
    fill(x, 40, 3.0); fill(R, 40, 1.0);
    strata__tr_gelu_bwd(dx, x, R, 40);
    gelu_ctx c = {to_d(x, 40), to_d(R, 40), 40};
    fd_check("gelu dx", gelu_loss, &c, c.x, dx, 40);
    free(c.x); free(c.R);
}

/* ------------------------------------------------------------------------ */
/* Attention with a padding mask                                             */
/* ------------------------------------------------------------------------ */

typedef struct { double *q, *k, *v, *R; const int *len; int B, T, C, H; } attn_ctx;

static double attn_loss(void *p) {
    attn_ctx *c = p;
    int hs = c->C / c->H;
    double L = 0, sc[16];
    for (int b = 0; b < c->B; b++)
        for (int h = 0; h < c->H; h++)
            for (int t = 0; t < c->T; t++) {
                const double *qi = c->q + ((size_t)b * c->T + t) * c->C + h * hs;
                double mx = -1e300, z = 0;
                for (int j = 0; j < c->len[b]; j++) {
                    const double *kj = c->k + ((size_t)b * c->T + j) * c->C + h * hs;
                    sc[j] = dot_d(qi, kj, hs) / sqrt((double)hs);
                    if (sc[j] > mx) mx = sc[j];
                }
                for (int j = 0; j < c->len[b]; j++) z += exp(sc[j] - mx);
                for (int e = 0; e < hs; e++) {
                    double o = 0;
                    for (int j = 0; j < c->len[b]; j++)
                        o += exp(sc[j] - mx) / z * c->v[((size_t)b * c->T + j) * c->C + h * hs + e];
                    L += c->R[((size_t)b * c->T + t) * c->C + h * hs + e] * o;
                }
            }
    return L;
}

static void test_fd_attention(void **state) {
    (void)state;
    enum { B = 2, T = 6, C = 8, H = 2, NE = B * T * C, NA = B * H * T * T };
    int len[B] = {6, 4}; /* the second sequence has 2 padding positions */
    float q[NE], k[NE], v[NE], R[NE], out[NE], att[NA], datt[NA];
    float dq[NE], dk[NE], dv[NE];
    fill(q, NE, 1.5); fill(k, NE, 1.5); fill(v, NE, 1.0); fill(R, NE, 1.0);
    strata_k_attention_forward(out, att, NULL, q, k, v, C, len, B, T, C, H);
    strata__tr_attn_bwd(dq, dk, dv, datt, R, q, k, v, att, B, T, C, H);
    attn_ctx c = {to_d(q, NE), to_d(k, NE), to_d(v, NE), to_d(R, NE), len, B, T, C, H};
    double Lf = 0;
    for (int i = 0; i < NE; i++) Lf += (double)R[i] * out[i];
    assert_true(fabs(attn_loss(&c) - Lf) < 1e-4 * (1 + fabs(Lf)));
    /* padded keys get probability exactly 0 */
    for (int h = 0; h < H; h++)
        for (int t = 0; t < T; t++)
            for (int j = 4; j < T; j++) assert_true(att[((size_t)(1 * H + h) * T + t) * T + j] == 0.0f);
    fd_check("attention dq", attn_loss, &c, c.q, dq, NE);
    fd_check("attention dk", attn_loss, &c, c.k, dk, NE);
    fd_check("attention dv", attn_loss, &c, c.v, dv, NE);
    free(c.q); free(c.k); free(c.v); free(c.R);
}

/* ------------------------------------------------------------------------ */
/* Embeddings                                                                */
/* ------------------------------------------------------------------------ */

typedef struct { double *word, *pos, *type, *R; const int32_t *ids; const int *len; int B, T, C; } emb_ctx;

static double emb_loss(void *p) {
    emb_ctx *c = p;
    double L = 0;
    for (int b = 0; b < c->B; b++)
        for (int t = 0; t < c->len[b]; t++) /* padding rows carry no gradient */
            for (int j = 0; j < c->C; j++)
                L += c->R[((size_t)b * c->T + t) * c->C + j] *
                     (c->word[(size_t)c->ids[b * c->T + t] * c->C + j] +
                      c->pos[(size_t)t * c->C + j] + c->type[j]);
    return L;
}

static void test_fd_embedding(void **state) {
    (void)state;
    enum { B = 2, T = 5, C = 40, V = 7, P = 6 };  /* C > one column block */
    int32_t ids[B * T] = {1, 3, 3, 6, 0, 2, 3, 1, 0, 0}; /* repeated ids */
    int len[B] = {5, 3};
    float word[V * C], pos[P * C], type[2 * C], R[B * T * C], out[B * T * C];
    fill(word, V * C, 1); fill(pos, P * C, 1); fill(type, 2 * C, 1); fill(R, B * T * C, 1);
    for (int b = 0; b < B; b++) /* the caller zeroes pad rows' gradient */
        for (int t = len[b]; t < T; t++) memset(R + ((size_t)b * T + t) * C, 0, C * 4);
    strata_k_embed_forward(out, ids, word, pos, type, B, T, C);
    assert_true(fabsf(out[C + 3] - (word[3 * C + 3] + pos[C + 3] + type[3])) < 1e-6f);
    float dword[V * C] = {0}, dpos[P * C] = {0}, dtype[2 * C] = {0};
    strata__tr_emb_bwd(dword, dpos, dtype, R, ids, len, B, T, C);
    emb_ctx c = {to_d(word, V * C), to_d(pos, P * C), to_d(type, 2 * C), to_d(R, B * T * C), ids, len, B, T, C};
    fd_check("embedding dword", emb_loss, &c, c.word, dword, V * C);
    fd_check("embedding dpos", emb_loss, &c, c.pos, dpos, P * C);
    fd_check("embedding dtype", emb_loss, &c, c.type, dtype, C); /* type 0 row */
    for (int j = C; j < 2 * C; j++) assert_true(dtype[j] == 0.0f);
    free(c.word); free(c.pos); free(c.type); free(c.R);
}

/* ------------------------------------------------------------------------ */
/* Pooling + L2 normalization                                                */
/* ------------------------------------------------------------------------ */

typedef struct { double *x, *R; const int *len; int B, T, C; strata_pool pool; } pool_ctx;

static double pool_loss(void *p) {
    pool_ctx *c = p;
    double L = 0, v[64];
    for (int b = 0; b < c->B; b++) {
        double n = 0;
        for (int j = 0; j < c->C; j++) {
            double s = 0;
            int tn = c->pool == STRATA_POOL_CLS ? 1 : c->len[b];
            for (int t = 0; t < tn; t++) s += c->x[((size_t)b * c->T + t) * c->C + j];
            v[j] = s / tn;
            n += v[j] * v[j];
        }
        n = sqrt(n);
        for (int j = 0; j < c->C; j++) L += c->R[(size_t)b * c->C + j] * v[j] / n;
    }
    return L;
}

static void check_pool(strata_pool pool) {
    enum { B = 3, T = 4, C = 6 };
    int len[B] = {4, 2, 1};
    float x[B * T * C], R[B * C], pooled[B * C], y[B * C], norm[B], dp[B * C], dx[B * T * C];
    fill(x, B * T * C, 1); fill(R, B * C, 1);
    strata_k_pool_forward(pooled, x, len, B, T, C, pool == STRATA_POOL_MEAN);
    strata_k_l2norm_forward(y, norm, pooled, B, C);
    strata__tr_l2n_bwd(dp, R, y, norm, B, C);
    strata__tr_pool_bwd(dx, dp, len, B, T, C, pool);
    pool_ctx c = {to_d(x, B * T * C), to_d(R, B * C), len, B, T, C, pool};
    fd_check(pool == STRATA_POOL_CLS ? "cls pool+l2 dx" : "mean pool+l2 dx", pool_loss, &c, c.x, dx, B * T * C);
    free(c.x); free(c.R);
}

static void test_fd_pool_cls(void **state) { (void)state; check_pool(STRATA_POOL_CLS); }
static void test_fd_pool_mean(void **state) { (void)state; check_pool(STRATA_POOL_MEAN); }

/* ------------------------------------------------------------------------ */
/* InfoNCE with mask, symmetric                                              */
/* ------------------------------------------------------------------------ */

typedef struct { double *q, *d; const uint8_t *mask; int N, C, sym; double tau; } nce_ctx;

static int masked(const uint8_t *m, int N, int i, int j) {
    return m && i != j && ((m[i * ((N + 7) / 8) + j / 8] >> (j % 8)) & 1);
}

static double nce_loss(void *p) {
    nce_ctx *c = p;
    double L1 = 0, L2 = 0;
    for (int i = 0; i < c->N; i++) {
        double z1 = 0, z2 = 0;
        for (int j = 0; j < c->N; j++) {
            if (!masked(c->mask, c->N, i, j))
                z1 += exp(dot_d(c->q + i * c->C, c->d + j * c->C, c->C) / c->tau);
            if (!masked(c->mask, c->N, j, i))
                z2 += exp(dot_d(c->q + j * c->C, c->d + i * c->C, c->C) / c->tau);
        }
        double sii = dot_d(c->q + i * c->C, c->d + i * c->C, c->C) / c->tau;
        L1 += log(z1) - sii;
        L2 += log(z2) - sii;
    }
    return c->sym ? 0.5 * (L1 + L2) / c->N : L1 / c->N;
}

static void check_nce(int sym) {
    enum { N = 11, C = 5 };
    float q[N * C], d[N * C], dq[N * C], dd[N * C];
    fill(q, N * C, 1); fill(d, N * C, 1);
    uint8_t mask[N * 2];
    for (int i = 0; i < N * 2; i++) mask[i] = (uint8_t)(g_rng >> (i % 50));
    for (int i = 0; i < N; i++) mask[i * 2 + i / 8] |= (uint8_t)(1u << (i % 8)); /* diagonal bits are ignored */
    strata_infonce_stats st;
    assert_int_equal(strata_infonce(q, d, N, C, mask, 0.5, sym, dq, dd, &st, NULL), STRATA_OK);
    nce_ctx c = {to_d(q, N * C), to_d(d, N * C), mask, N, C, sym, 0.5};
    assert_true(fabs(st.loss - nce_loss(&c)) < 1e-6 * (1 + fabs(st.loss)));
    fd_check(sym ? "infonce sym dq" : "infonce dq", nce_loss, &c, c.q, dq, N * C);
    fd_check(sym ? "infonce sym dd" : "infonce dd", nce_loss, &c, c.d, dd, N * C);
    int nm = 0;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) nm += masked(mask, N, i, j);
    assert_true(fabs(st.masked_frac - (double)nm / (N * (N - 1))) < 1e-12);
    free(c.q); free(c.d);
}

static void test_fd_infonce(void **state) { (void)state; check_nce(0); }
static void test_fd_infonce_symmetric(void **state) { (void)state; check_nce(1); }

/* Everything masked but the positive: loss 0, gradient 0, accuracy 1. */
static void test_infonce_all_masked(void **state) {
    (void)state;
    enum { N = 4, C = 3 };
    float q[N * C], d[N * C], dq[N * C], dd[N * C];
    fill(q, N * C, 1); fill(d, N * C, 1);
    uint8_t mask[N] = {0xff, 0xff, 0xff, 0xff};
    strata_infonce_stats st;
    assert_int_equal(strata_infonce(q, d, N, C, mask, 0.02, 1, dq, dd, &st, NULL), STRATA_OK);
    assert_true(fabs(st.loss) < 1e-12);
    assert_true(st.acc == 1.0);
    assert_true(st.masked_frac == 1.0);
    for (int i = 0; i < N * C; i++) assert_true(dq[i] == 0.0f && dd[i] == 0.0f);
}

/* ------------------------------------------------------------------------ */
/* Schedule, clipping, AdamW                                                 */
/* ------------------------------------------------------------------------ */

static void test_schedule_and_clip(void **state) {
    (void)state;
    assert_true(fabs(strata_train_lr(1.0, 4, 10, 0) - 0.25) < 1e-15);
    assert_true(fabs(strata_train_lr(1.0, 4, 10, 3) - 1.0) < 1e-15);
    assert_true(fabs(strata_train_lr(1.0, 4, 10, 4) - 1.0) < 1e-15);
    assert_true(fabs(strata_train_lr(1.0, 4, 10, 7) - 0.5) < 1e-15);
    assert_true(strata_train_lr(1.0, 4, 10, 10) == 0.0);
    assert_true(strata_train_lr(1.0, 4, 10, 12) == 0.0);
    float g[3] = {3, 4, 0};
    double n = strata_train_clip(g, 3, 1.0);
    assert_true(fabs(n - 5.0) < 1e-12);
    assert_true(fabsf(g[0] - 0.6f) < 1e-6f && fabsf(g[1] - 0.8f) < 1e-6f);
    float h[2] = {0.3f, 0.4f};
    strata_train_clip(h, 2, 1.0); /* below the threshold: unchanged */
    assert_true(h[0] == 0.3f && h[1] == 0.4f);
}

/* Two AdamW steps against the torch.optim.AdamW update written out in double
 * (Loshchilov & Hutter with torch's bias correction); 1e-6 relative: float. */
static void test_adamw_formula(void **state) {
    (void)state;
    float p[2] = {0.5f, -1.0f}, m[2] = {0}, v[2] = {0};
    double pd[2] = {0.5, -1.0}, md[2] = {0}, vd[2] = {0};
    float g1[2] = {0.1f, -2.0f}, g2[2] = {-0.3f, 0.7f};
    const float *gs[2] = {g1, g2};
    for (int t = 1; t <= 2; t++) {
        strata_adamw_update(p, gs[t - 1], m, v, 2, 0.01, 0.9, 0.999, 1e-8, 0.1, t);
        for (int i = 0; i < 2; i++) {
            double g = gs[t - 1][i];
            pd[i] *= 1 - 0.01 * 0.1;
            md[i] = 0.9 * md[i] + 0.1 * g;
            vd[i] = 0.999 * vd[i] + 0.001 * g * g;
            double mh = md[i] / (1 - pow(0.9, t)), vh = vd[i] / (1 - pow(0.999, t));
            pd[i] -= 0.01 * mh / (sqrt(vh) + 1e-8);
        }
    }
    for (int i = 0; i < 2; i++) assert_true(fabs(p[i] - pd[i]) < 1e-6 * fabs(pd[i]) + 1e-7);
}

/* The vectorized update gives every element the bits of the scalar one
 * (each element updated alone, n = 1, takes the scalar path), over three
 * steps and a length that leaves a scalar tail. */
static void test_adamw_vector_equals_scalar(void **state) {
    (void)state;
    enum { N = 4099 };
    float *p = malloc(N * sizeof(float)), *m = calloc(N, sizeof(float)), *v = calloc(N, sizeof(float));
    float *p1 = malloc(N * sizeof(float)), *m1 = calloc(N, sizeof(float)), *v1 = calloc(N, sizeof(float));
    float *g = malloc(N * sizeof(float));
    for (int i = 0; i < N; i++) p[i] = p1[i] = (float)sin(0.37 * i);
    for (int t = 1; t <= 3; t++) {
        for (int i = 0; i < N; i++) g[i] = (float)(cos(1.3 * i + t) * pow(10.0, (i % 7) - 4));
        strata_adamw_update(p, g, m, v, N, 3e-4, 0.9, 0.999, 1e-8, 0.01, t);
        for (int i = 0; i < N; i++)
            strata_adamw_update(p1 + i, g + i, m1 + i, v1 + i, 1, 3e-4, 0.9, 0.999, 1e-8, 0.01, t);
    }
    assert_memory_equal(p, p1, N * sizeof(float));
    assert_memory_equal(m, m1, N * sizeof(float));
    assert_memory_equal(v, v1, N * sizeof(float));
    free(p), free(m), free(v), free(p1), free(m1), free(v1), free(g);
}

/* GELU's backward: 4-lane erf and the scalar one give the same bits. */
static void test_gelu_grad_vector_equals_scalar(void **state) {
    (void)state;
    enum { N = 1027 };
    float x[N], d[N], a[N], b[N];
    for (int i = 0; i < N; i++) {
        x[i] = (float)(-6.0 + 12.0 * i / (N - 1));
        d[i] = (float)cos(0.7 * i);
    }
    strata__tr_gelu_bwd(a, x, d, N);
    for (int i = 0; i < N; i++) strata__tr_gelu_bwd(b + i, x + i, d + i, 1);
    assert_memory_equal(a, b, sizeof a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gelu_grad_vector_equals_scalar),
        cmocka_unit_test(test_adamw_vector_equals_scalar),
        cmocka_unit_test(test_fd_layernorm),
        cmocka_unit_test(test_fd_linear),
        cmocka_unit_test(test_linear_fast_vs_naive),
        cmocka_unit_test(test_fd_gelu),
        cmocka_unit_test(test_fd_attention),
        cmocka_unit_test(test_fd_embedding),
        cmocka_unit_test(test_fd_pool_cls),
        cmocka_unit_test(test_fd_pool_mean),
        cmocka_unit_test(test_fd_infonce),
        cmocka_unit_test(test_fd_infonce_symmetric),
        cmocka_unit_test(test_infonce_all_masked),
        cmocka_unit_test(test_schedule_and_clip),
        cmocka_unit_test(test_adamw_formula),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
