/*
 * kernels.c — backward kernels of the BERT ops for training (the forward
 * kernels are the encoder's, src/encoder/kernels.c).
 *
 * Fast kernels call single-threaded OpenBLAS sgemm from inside OpenMP loops
 * over fixed-size output blocks (ROW_BLK rows, COL_BLK columns); the block
 * partition does not depend on the thread count, so neither do the results.
 * Naive reference kernels sit beside the sgemm ones for the tests.
 */
#include "train/train_kernels.h"
#include "core/internal.h"
#include "core/gemm.h"
#include "strata/io.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#define ROW_BLK 256  /* rows per block in row-partitioned sgemm kernels
                        (bigger blocks pack the weight matrix fewer times) */
#define DW_BLK 64    /* output features per block of weight gradients     */
#define COL_BLK 32   /* columns per block in column-partitioned kernels */
/* Below this many multiply-adds a kernel runs on one thread: OpenMP
 * start-up and barriers cost more than they save on tiny shapes, and far
 * more when the cores are shared with other processes. */
#define PAR_MIN (1 << 20)

static inline int64_t nblocks(int64_t n, int64_t blk) { return (n + blk - 1) / blk; }

/* ------------------------------------------------------------------------ */
/* Embeddings                                                                */
/* ------------------------------------------------------------------------ */

void strata__tr_emb_bwd(float *dword, float *dpos, float *dtype,
                        const float *dout, const int32_t *ids,
                        const int *lengths, int B, int T, int C) {
    /* Each block owns columns [c0, c1) of every gradient table and walks the
     * tokens in order: deterministic, no atomics. */
    int64_t nb = nblocks(C, COL_BLK);
#pragma omp parallel for schedule(static) if ((int64_t)B * T * C >= PAR_MIN / 16)
    for (int64_t blk = 0; blk < nb; blk++) {
        int c0 = (int)(blk * COL_BLK), c1 = c0 + COL_BLK < C ? c0 + COL_BLK : C;
        for (int b = 0; b < B; b++)
            for (int t = 0; t < lengths[b]; t++) {
                const float *g = dout + ((size_t)b * T + t) * C;
                float *dw = dword + (size_t)ids[(size_t)b * T + t] * C;
                float *dp = dpos + (size_t)t * C;
                for (int c = c0; c < c1; c++) {
                    dw[c] += g[c];
                    dp[c] += g[c];
                    dtype[c] += g[c];
                }
            }
    }
}

void strata__tr_emb_prefix_bwd(float *dprefix, float *dword, float *dpos,
                               float *dtype, const float *dout,
                               const int32_t *ids, const int *lengths, int B,
                               int P, int T, int C, int prefix_pos) {
    int S = P + T;
    for (int b = 0; b < B; b++)
        memcpy(dprefix + (size_t)b * P * C, dout + (size_t)b * S * C,
               sizeof(float) * (size_t)P * C);
    int64_t nb = nblocks(C, COL_BLK);
#pragma omp parallel for schedule(static) if ((int64_t)B * S * C >= PAR_MIN / 16)
    for (int64_t blk = 0; blk < nb; blk++) {
        int c0 = (int)(blk * COL_BLK), c1 = c0 + COL_BLK < C ? c0 + COL_BLK : C;
        for (int b = 0; b < B; b++) {
            if (prefix_pos)
                for (int p = 0; p < P; p++) {
                    const float *g = dout + ((size_t)b * S + p) * C;
                    float *dp = dpos + (size_t)p * C;
                    for (int c = c0; c < c1; c++) {
                        dp[c] += g[c];
                        dtype[c] += g[c];
                    }
                }
            for (int t = 0; t < lengths[b]; t++) {
                const float *g = dout + ((size_t)b * S + P + t) * C;
                float *dw = dword + (size_t)ids[(size_t)b * T + t] * C;
                float *dp = dpos + (size_t)(prefix_pos ? P + t : t) * C;
                for (int c = c0; c < c1; c++) {
                    dw[c] += g[c];
                    dp[c] += g[c];
                    dtype[c] += g[c];
                }
            }
        }
    }
}

/* ------------------------------------------------------------------------ */
/* LayerNorm                                                                 */
/* ------------------------------------------------------------------------ */

void strata__tr_ln_bwd(float *dinp, float *dw, float *db, const float *dout,
                       const float *inp, const float *mean, const float *rstd,
                       const float *w, int64_t N, int C, int accum) {
    /* input gradient: rows are independent */
#pragma omp parallel for schedule(static) if (N * C >= PAR_MIN / 16)
    for (int64_t r = 0; r < N; r++) {
        const float *x = inp + (size_t)r * C, *g = dout + (size_t)r * C;
        float m = mean[r], rs = rstd[r];
        double s1 = 0, s2 = 0;
        for (int c = 0; c < C; c++) {
            double xh = (x[c] - m) * rs, dn = (double)g[c] * w[c];
            s1 += dn;
            s2 += dn * xh;
        }
        float a1 = (float)(s1 / C), a2 = (float)(s2 / C);
        float *di = dinp + (size_t)r * C;
        for (int c = 0; c < C; c++) {
            float xh = (x[c] - m) * rs;
            float v = (g[c] * w[c] - a1 - xh * a2) * rs;
            di[c] = accum ? di[c] + v : v;
        }
    }
    /* weight and bias gradients: column blocks, rows in order, double sums */
    int64_t nb = nblocks(C, COL_BLK);
#pragma omp parallel for schedule(static) if (N * C >= PAR_MIN / 16)
    for (int64_t blk = 0; blk < nb; blk++) {
        int c0 = (int)(blk * COL_BLK), c1 = c0 + COL_BLK < C ? c0 + COL_BLK : C;
        double aw[COL_BLK] = {0}, ab[COL_BLK] = {0};
        for (int64_t r = 0; r < N; r++) {
            const float *x = inp + (size_t)r * C, *g = dout + (size_t)r * C;
            float m = mean[r], rs = rstd[r];
            for (int c = c0; c < c1; c++) {
                aw[c - c0] += (double)g[c] * ((x[c] - m) * rs);
                ab[c - c0] += g[c];
            }
        }
        for (int c = c0; c < c1; c++) {
            dw[c] += (float)aw[c - c0];
            db[c] += (float)ab[c - c0];
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Linear                                                                    */
/* ------------------------------------------------------------------------ */

/* Bias gradient of output features [o0, o0 + m): sums over rows in double. */
static void bias_grad(float *db, const float *dout, int64_t N, int OC, int o0, int m) {
    double acc[DW_BLK] = {0};
    for (int64_t r = 0; r < N; r++) {
        const float *g = dout + (size_t)r * OC + o0;
        for (int j = 0; j < m; j++) acc[j] += g[j];
    }
    for (int j = 0; j < m; j++) db[o0 + j] += (float)acc[j];
}

void strata__tr_linear_bwd(float *dinp, float *dW, float *db,
                           const float *dout, const float *inp,
                           const float *W, int64_t N, int IC, int OC,
                           int accum) {
    if (dinp) {
        int64_t nb = nblocks(N, ROW_BLK);
#pragma omp parallel for schedule(static) if (N * IC * OC >= PAR_MIN)
        for (int64_t blk = 0; blk < nb; blk++) {
            int64_t r0 = blk * ROW_BLK, m = N - r0 < ROW_BLK ? N - r0 : ROW_BLK;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, IC,
                        OC, 1.0f, dout + (size_t)r0 * OC, OC, W, IC,
                        accum ? 1.0f : 0.0f, dinp + (size_t)r0 * IC, IC);
        }
    }
    /* dW rows (output features) in blocks; each block reduces over all N
     * rows inside one sgemm; db over the same columns in double. */
    int64_t nb = nblocks(OC, DW_BLK);
#pragma omp parallel for schedule(static) if (N * IC * OC >= PAR_MIN)
    for (int64_t blk = 0; blk < nb; blk++) {
        int o0 = (int)(blk * DW_BLK), m = OC - o0 < DW_BLK ? OC - o0 : DW_BLK;
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, m, IC, (int)N,
                    1.0f, dout + o0, OC, inp, IC, 1.0f, dW + (size_t)o0 * IC, IC);
        if (db) bias_grad(db, dout, N, OC, o0, m);
    }
}

static float bf16r(float x) { return strata_bf16_to_f32(strata_f32_to_bf16(x)); }

/* A GEMM operand as the naive references read it: x itself, or rounded to
 * bf16 (what the bf16 kernels multiply). */
static float operand(float x, int bf16) { return bf16 ? bf16r(x) : x; }

/* The naive linear backward both references share: dot products in double
 * over operands read by operand(); db from dout as it is. */
static void linear_bwd_ref(float *dinp, float *dW, float *db, const float *dout,
                           const float *inp, const float *W, int64_t N, int IC, int OC,
                           int accum, int bf16) {
    if (dinp)
        for (int64_t r = 0; r < N; r++)
            for (int i = 0; i < IC; i++) {
                double s = 0;
                for (int o = 0; o < OC; o++)
                    s += (double)operand(dout[(size_t)r * OC + o], bf16) *
                         operand(W[(size_t)o * IC + i], bf16);
                float *d = dinp + (size_t)r * IC + i;
                *d = accum ? *d + (float)s : (float)s;
            }
    for (int o = 0; o < OC; o++) {
        for (int i = 0; i < IC; i++) {
            double s = 0;
            for (int64_t r = 0; r < N; r++)
                s += (double)operand(dout[(size_t)r * OC + o], bf16) *
                     operand(inp[(size_t)r * IC + i], bf16);
            dW[(size_t)o * IC + i] += (float)s;
        }
        if (db) {
            double s = 0;
            for (int64_t r = 0; r < N; r++) s += dout[(size_t)r * OC + o];
            db[o] += (float)s;
        }
    }
}

void strata__tr_linear_bwd_naive(float *dinp, float *dW, float *db,
                                 const float *dout, const float *inp,
                                 const float *W, int64_t N, int IC, int OC,
                                 int accum) {
    linear_bwd_ref(dinp, dW, db, dout, inp, W, N, IC, OC, accum, 0);
}

int strata__tr_linear_bwd_bf16(float *dinp, float *dW, float *db,
                               const float *dout, const float *inp,
                               const struct strata_gemm_w *wt, int64_t N,
                               int IC, int OC, int accum, uint16_t *dout16,
                               uint16_t *inp16, void *scratch) {
    int bad = 0;
    size_t per = strata_k_linear_lowp_scratch(wt);
    int64_t nr = nblocks(N, ROW_BLK / 2); /* gemm_w blocks: <= STRATA_GEMM_MAX_M rows */
    /* operands of dW in bf16, row blocks in parallel */
#pragma omp parallel for schedule(static)
    for (int64_t blk = 0; blk < nr; blk++) {
        int64_t r0 = blk * (ROW_BLK / 2), m = N - r0 < ROW_BLK / 2 ? N - r0 : ROW_BLK / 2;
        strata_bf16_pack(dout16 + (size_t)r0 * OC, dout + (size_t)r0 * OC, m * OC);
        strata_bf16_pack(inp16 + (size_t)r0 * IC, inp + (size_t)r0 * IC, m * IC);
    }
    if (dinp) {
#pragma omp parallel for schedule(dynamic, 1) reduction(| : bad)
        for (int64_t blk = 0; blk < nr; blk++) {
            int64_t r0 = blk * (ROW_BLK / 2), m = N - r0 < ROW_BLK / 2 ? N - r0 : ROW_BLK / 2;
            int tid = strata__thread_num();
            bad |= strata_gemm_w_apply(wt, dinp + (size_t)r0 * IC, dout + (size_t)r0 * OC, OC,
                                       (int)m, NULL, accum, (char *)scratch + (size_t)tid * per);
        }
    }
    /* dW [OC, IC] += dout^T inp in blocks of DW_BLK output features */
    int64_t nb = nblocks(OC, DW_BLK);
    int head = OC < DW_BLK ? OC : DW_BLK, tail = (int)(OC - (nb - 1) * DW_BLK);
    strata_gemm_plan *full = NULL, *last = NULL;
    if (strata_gemm_plan_bf16(&full, head, IC, (int)N, 1, OC, IC, 1, IC, 1, NULL) ||
        strata_gemm_plan_bf16(&last, tail, IC, (int)N, 1, OC, IC, 1, IC, 1, NULL))
        bad = 1;
#pragma omp parallel for schedule(dynamic, 1) reduction(| : bad)
    for (int64_t blk = 0; blk < nb; blk++) {
        if (!full || !last) continue;
        int o0 = (int)(blk * DW_BLK), m = OC - o0 < DW_BLK ? OC - o0 : DW_BLK;
        bad |= strata_gemm_plan_run(m == head ? full : last, dW + (size_t)o0 * IC,
                                    dout16 + o0, inp16) != 0;
        if (db) bias_grad(db, dout, N, OC, o0, m);
    }
    strata_gemm_plan_free(full);
    strata_gemm_plan_free(last);
    return bad ? -1 : 0;
}

void strata__tr_linear_bwd_bf16_naive(float *dinp, float *dW, float *db,
                                      const float *dout, const float *inp,
                                      const float *W, int64_t N, int IC, int OC,
                                      int accum) {
    linear_bwd_ref(dinp, dW, db, dout, inp, W, N, IC, OC, accum, 1);
}

/* ------------------------------------------------------------------------ */
/* GELU (exact: 0.5 x (1 + erf(x / sqrt 2)), as torch and HF "gelu"), float  */
/* strata_k_gelu_grad takes the cdf from the forward's erf, so the backward  */
/* matches the function strata_k_gelu_forward computes.                      */
/* ------------------------------------------------------------------------ */

void strata__tr_gelu_bwd(float *dinp, const float *inp, const float *dout,
                         int64_t n) {
    const int64_t span = 16384;
    int64_t nblk = (n + span - 1) / span;
#pragma omp parallel for schedule(static) if (n >= PAR_MIN / 16)
    for (int64_t blk = 0; blk < nblk; blk++) {
        int64_t i0 = blk * span, m = n - i0 < span ? n - i0 : span;
        strata_k_gelu_grad(dinp + i0, inp + i0, dout + i0, m);
    }
}

/* ------------------------------------------------------------------------ */
/* Attention                                                                 */
/* ------------------------------------------------------------------------ */

void strata__tr_attn_bwd(float *dq, float *dk, float *dv, float *datt,
                         const float *dout, const float *q, const float *k,
                         const float *v, const float *att, int B, int T,
                         int C, int H) {
    int hs = C / H;
    float scale = 1.0f / sqrtf((float)hs);
#pragma omp parallel for schedule(static) if ((int64_t)B * T * T * C >= PAR_MIN)
    for (int bh = 0; bh < B * H; bh++) {
        int b = bh / H, h = bh % H;
        size_t base = (size_t)b * T * C + (size_t)h * hs;
        const float *P = att + (size_t)bh * T * T;
        float *dP = datt + (size_t)bh * T * T;
        /* dV = P^T dO ; dP = dO V^T */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hs, T, 1.0f, P,
                    T, dout + base, C, 0.0f, dv + base, C);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hs, 1.0f,
                    dout + base, C, v + base, C, 0.0f, dP, T);
        /* softmax backward: dS = P * (dP - sum_j P dP), times the scale */
        for (int t = 0; t < T; t++) {
            const float *p = P + (size_t)t * T;
            float *d = dP + (size_t)t * T;
            double s = 0;
            for (int j = 0; j < T; j++) s += (double)p[j] * d[j];
            float sf = (float)s;
            for (int j = 0; j < T; j++) d[j] = p[j] * (d[j] - sf) * scale;
        }
        /* dQ = dS K ; dK = dS^T Q */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hs, T, 1.0f,
                    dP, T, k + base, C, 0.0f, dq + base, C);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hs, T, 1.0f, dP,
                    T, q + base, C, 0.0f, dk + base, C);
    }
}

/* ------------------------------------------------------------------------ */
/* Pooling and L2 normalization                                              */
/* ------------------------------------------------------------------------ */

void strata__tr_pool_bwd(float *dx, const float *dout, const int *lengths,
                         int B, int T, int C, strata_pool pool) {
    memset(dx, 0, sizeof(float) * (size_t)B * T * C);
    for (int b = 0; b < B; b++) {
        const float *g = dout + (size_t)b * C;
        float *d = dx + (size_t)b * T * C;
        if (pool == STRATA_POOL_CLS) {
            memcpy(d, g, sizeof(float) * (size_t)C);
            continue;
        }
        int len = lengths[b];
        float inv = 1.0f / (float)len;
        for (int t = 0; t < len; t++)
            for (int c = 0; c < C; c++) d[(size_t)t * C + c] = g[c] * inv;
    }
}

void strata__tr_l2n_bwd(float *dx, const float *dout, const float *out,
                        const float *norm, int B, int C) {
    for (int b = 0; b < B; b++) {
        const float *g = dout + (size_t)b * C, *y = out + (size_t)b * C;
        float *d = dx + (size_t)b * C;
        double n = norm[b];
        if (n <= 1e-12) { /* clamped: y = x / eps is linear */
            for (int c = 0; c < C; c++) d[c] = (float)(g[c] / 1e-12);
            continue;
        }
        double dot = 0;
        for (int c = 0; c < C; c++) dot += (double)y[c] * g[c];
        for (int c = 0; c < C; c++) d[c] = (float)((g[c] - y[c] * dot) / n);
    }
}
