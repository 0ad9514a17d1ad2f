/*
 * loss.c — InfoNCE over in-batch negatives with a false-negative mask
 * (CDE Eq. 4: filtered documents leave the partition function), computed in
 * double.
 */
#include "strata/plan.h"
#include "strata/train.h"

#include <math.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */
/* ------------------------------------------------------------------------ */

/* 1 when document j is removed from query i's partition (never j == i). */
static inline int excluded(const uint8_t *mask, int nbytes, int i, int j) {
    if (!mask || i == j) return 0;
    return strata_plan_mask_get(mask + (size_t)i * nbytes, j);
}

/* One direction: rows i of S [N,N] (S[i*N+j] = a_i . b_j / tau) with the
 * partition of row i given by excl(i, j) (transposed when `trans`).
 * Adds weight * dloss/dS into dS; returns the summed row losses and counts
 * top-1 hits in *hits. */
static double direction(const double *S, double *dS, double *row_loss, int N,
                        const uint8_t *mask, int nbytes, int trans, double weight,
                        int64_t *hits) {
    int64_t h = 0;
#pragma omp parallel for schedule(static) reduction(+ : h) if (N >= 64)
    for (int i = 0; i < N; i++) {
        /* s(j) = S[i, j] (q -> d) or S[j, i] (d -> q) */
        double mx = -INFINITY;
        int arg = -1;
        for (int j = 0; j < N; j++) {
            int ex = trans ? excluded(mask, nbytes, j, i) : excluded(mask, nbytes, i, j);
            if (ex) continue;
            double s = trans ? S[(size_t)j * N + i] : S[(size_t)i * N + j];
            if (s > mx) { mx = s; arg = j; }
        }
        double z = 0;
        for (int j = 0; j < N; j++) {
            int ex = trans ? excluded(mask, nbytes, j, i) : excluded(mask, nbytes, i, j);
            if (ex) continue;
            z += exp((trans ? S[(size_t)j * N + i] : S[(size_t)i * N + j]) - mx);
        }
        double lse = mx + log(z);
        double sii = S[(size_t)i * N + i];
        row_loss[i] = lse - sii;
        h += arg == i;
        /* d loss_i / d s(j) = p(j) - [j == i]; each i owns row/column i of
         * its own direction only, and the two directions run one after the
         * other, so writes never overlap within one call. */
        for (int j = 0; j < N; j++) {
            int ex = trans ? excluded(mask, nbytes, j, i) : excluded(mask, nbytes, i, j);
            double s = trans ? S[(size_t)j * N + i] : S[(size_t)i * N + j];
            double p = ex ? 0.0 : exp(s - lse);
            double d = weight * (p - (j == i));
            if (trans) dS[(size_t)j * N + i] += d;
            else dS[(size_t)i * N + j] += d;
        }
    }
    *hits = h;
    double total = 0; /* summed in row order: same bits for any thread count */
    for (int i = 0; i < N; i++) total += row_loss[i];
    return total;
}

/* ------------------------------------------------------------------------ */
/* InfoNCE                                                                   */
/* ------------------------------------------------------------------------ */

strata_status strata_infonce(const float *q, const float *d, int N, int C,
                             const uint8_t *mask, double tau, int symmetric,
                             float *dq, float *dd, strata_infonce_stats *st,
                             strata_error *err) {
    if (N < 1 || C < 1 || !(tau > 0))
        return strata_error_set(err, STRATA_EINVAL, "infonce: N %d, C %d, tau %g", N, C, tau);
    size_t NN = (size_t)N * N;
    double *S = strata_malloc_array(NN, sizeof(double));
    double *dS = strata_calloc(NN, sizeof(double));
    double *rl = strata_malloc_array((size_t)N, sizeof(double));
    if (!S || !dS || !rl) {
        strata_free(S);
        strata_free(dS);
        strata_free(rl);
        return strata_error_set(err, STRATA_ENOMEM, "infonce: out of memory (N = %d)", N);
    }
    int nbytes = (N + 7) / 8;
#pragma omp parallel for schedule(static) if ((int64_t)N * N * C >= 32768)
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            double s = 0;
            const float *a = q + (size_t)i * C, *b = d + (size_t)j * C;
            for (int c = 0; c < C; c++) s += (double)a[c] * b[c];
            S[(size_t)i * N + j] = s / tau;
        }
    double w = symmetric ? 0.5 / N : 1.0 / N;
    int64_t hits = 0, hits2 = 0;
    double loss = direction(S, dS, rl, N, mask, nbytes, 0, w, &hits) * (symmetric ? 0.5 : 1.0) / N;
    if (symmetric) loss += direction(S, dS, rl, N, mask, nbytes, 1, w, &hits2) * 0.5 / N;
    int64_t nmask = 0;
    if (mask)
        for (int i = 0; i < N; i++)
            for (int j = 0; j < N; j++) nmask += excluded(mask, nbytes, i, j);
    if (st) {
        st->loss = loss;
        st->acc = (double)hits / N;
        st->masked_frac = N > 1 ? (double)nmask / ((double)N * (N - 1)) : 0.0;
    }
    /* dq_i = sum_j dS_ij d_j / tau ; dd_j = sum_i dS_ij q_i / tau */
    if (dq) {
#pragma omp parallel for schedule(static) if ((int64_t)N * N * C >= 32768)
        for (int i = 0; i < N; i++)
            for (int c = 0; c < C; c++) {
                double s = 0;
                for (int j = 0; j < N; j++) s += dS[(size_t)i * N + j] * d[(size_t)j * C + c];
                dq[(size_t)i * C + c] = (float)(s / tau);
            }
    }
    if (dd) {
#pragma omp parallel for schedule(static) if ((int64_t)N * N * C >= 32768)
        for (int j = 0; j < N; j++)
            for (int c = 0; c < C; c++) {
                double s = 0;
                for (int i = 0; i < N; i++) s += dS[(size_t)i * N + j] * q[(size_t)i * C + c];
                dd[(size_t)j * C + c] = (float)(s / tau);
            }
    }
    strata_free(S);
    strata_free(dS);
    strata_free(rl);
    return STRATA_OK;
}
