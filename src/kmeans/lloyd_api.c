/*
 * lloyd_api.c — the public building blocks (strata_kmeans_lloyd from given
 * centroids) and the naive reference Lloyd the tests compare against.
 *
 * Legend: N rows, K clusters, Dt dims of a row (sum of parts).
 */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/internal.h"
#include "kmeans/kmeans_internal.h"

/* ------------------------------------------------------------------------ */
/* Public building blocks                                                    */
/* ------------------------------------------------------------------------ */

static strata_status check_input(const strata_kmeans_input *in, int k, strata_error *err) {
    if (!in || (in->nparts != 1 && in->nparts != 2))
        return strata_error_set(err, STRATA_EINVAL, "kmeans: nparts must be 1 or 2");
    for (int p = 0; p < in->nparts; p++) {
        if (in->dim[p] <= 0 || in->dim[p] > (1 << 24))
            return strata_error_set(err, STRATA_EINVAL, "kmeans: bad dimension %lld",
                                    (long long)in->dim[p]);
        if (in->n_local > 0 && !in->x[p])
            return strata_error_set(err, STRATA_EINVAL, "kmeans: missing data for part %d", p);
    }
    if (in->n_local < 0 || in->n_local > INT32_MAX)
        return strata_error_set(err, STRATA_EINVAL, "kmeans: bad row count %lld",
                                (long long)in->n_local);
    if (k < 1) return strata_error_set(err, STRATA_EINVAL, "kmeans: K must be >= 1, got %d", k);
    return STRATA_OK;
}

strata_status strata_kmeans_lloyd(float *centroids, int32_t *assign,
                                  const strata_kmeans_input *in, int k, int niter, int bounds,
                                  int repair, strata_kmeans_iter *iters, int *n_iter,
                                  strata_error *err) {
    strata_status st = check_input(in, k, err);
    if (st) return st;
    if (k > in->n_local)
        return strata_error_set(err, STRATA_EINVAL, "K (%d) exceeds the number of rows (%lld)", k,
                                (long long)in->n_local);
    strata_blas_threads(1);
    int64_t dt = km_dt(in);
    float *invn = strata_malloc_array((size_t)in->nparts * (size_t)in->n_local, sizeof(float));
    if (!invn) return strata_error_set(err, STRATA_ENOMEM, "kmeans: out of memory");
    if ((st = km_validate(in, invn, NULL, err))) {
        strata_free(invn);
        return st;
    }
    km_view v;
    km_state s;
    if ((st = km_view_make(&v, in, invn, NULL, in->n_local, NULL, err)) ||
        (st = km_state_init(&s, &v, k, err))) {
        strata_free(invn);
        return st;
    }
    memcpy(s.C, centroids, (size_t)k * (size_t)dt * sizeof(float));
    for (int c = 0; c < k; c++) km_normalize_parts(s.C + (size_t)c * (size_t)dt, in->nparts, in->dim);
    strata_rng rng;
    strata_rng_seed(&rng, 1, 0);
    int done = 0;
    km_iters rec = {NULL, 0, 0};
    st = km_lloyd(&s, &v, niter, bounds, repair, &rng, iters ? &rec : NULL, &done, NULL, err);
    if (st == STRATA_OK) {
        memcpy(centroids, s.C, (size_t)k * (size_t)dt * sizeof(float));
        memcpy(assign, s.a, (size_t)in->n_local * sizeof(int32_t));
        if (iters && rec.n > 0) memcpy(iters, rec.v, (size_t)rec.n * sizeof *iters);
        if (n_iter) *n_iter = done;
    }
    km_iters_free(&rec);
    km_state_free(&s);
    strata_free(invn);
    return st;
}

/* ------------------------------------------------------------------------ */
/* Naive reference                                                           */
/* ------------------------------------------------------------------------ */

strata_status strata_kmeans_lloyd_naive(float *centroids, int32_t *assign,
                                        const strata_kmeans_input *in, int k, int niter,
                                        double *objective, strata_error *err) {
    strata_status st = check_input(in, k, err);
    if (st) return st;
    int64_t n = in->n_local, dt = km_dt(in);
    float *invn = strata_malloc_array((size_t)in->nparts * (size_t)n, sizeof(float));
    float *X = strata_malloc_array((size_t)n * (size_t)dt, sizeof(float));     /* [N, Dt] */
    double *sum = strata_malloc_array((size_t)k * (size_t)dt, sizeof(double)); /* [K, Dt] */
    int64_t *cnt = strata_malloc_array((size_t)k, sizeof(int64_t));
    if (!invn || !X || !sum || !cnt) {
        st = strata_error_set(err, STRATA_ENOMEM, "kmeans: out of memory");
        goto done;
    }
    if ((st = km_validate(in, invn, NULL, err))) goto done;
    km_view v;
    if ((st = km_view_make(&v, in, invn, NULL, n, NULL, err))) goto done;
    for (int64_t i = 0; i < n; i++) km_load_row(&v, i, X + (size_t)i * (size_t)dt);
    for (int c = 0; c < k; c++)
        km_normalize_parts(centroids + (size_t)c * (size_t)dt, in->nparts, in->dim);
    for (int it = 0; it <= niter; it++) {
        double obj = 0;
        for (int64_t i = 0; i < n; i++) {
            int best = 0;
            double bs = -INFINITY;
            for (int c = 0; c < k; c++) {
                double d = km_dscore(X + (size_t)i * (size_t)dt, centroids + (size_t)c * (size_t)dt, dt);
                if (d > bs) {
                    bs = d;
                    best = c;
                }
            }
            assign[i] = best;
            obj += bs;
        }
        if (objective) *objective = obj;
        if (it == niter) break; /* final assignment to the final centroids */
        memset(sum, 0, (size_t)k * (size_t)dt * sizeof(double));
        memset(cnt, 0, (size_t)k * sizeof(int64_t));
        for (int64_t i = 0; i < n; i++) {
            cnt[assign[i]]++;
            for (int64_t j = 0; j < dt; j++)
                sum[(size_t)assign[i] * (size_t)dt + (size_t)j] += X[(size_t)i * (size_t)dt + (size_t)j];
        }
        for (int c = 0; c < k; c++) {
            if (!cnt[c]) continue;
            int64_t o = 0;
            for (int p = 0; p < in->nparts; p++) {
                double ss = 0;
                for (int64_t j = 0; j < in->dim[p]; j++) {
                    double e = sum[(size_t)c * (size_t)dt + (size_t)(o + j)];
                    ss += e * e;
                }
                for (int64_t j = 0; j < in->dim[p]; j++)
                    centroids[(size_t)c * (size_t)dt + (size_t)(o + j)] =
                        (float)(sum[(size_t)c * (size_t)dt + (size_t)(o + j)] / sqrt(ss));
                o += in->dim[p];
            }
        }
    }
done:
    strata_free(invn);
    strata_free(X);
    strata_free(sum);
    strata_free(cnt);
    return st;
}
