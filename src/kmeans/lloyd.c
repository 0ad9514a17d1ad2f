/*
 * lloyd.c — Lloyd's iterations over one view: the state (centroids, fixed-point
 * sums, bounds, candidate lists), the centroid update with empty-cluster
 * repair (FAISS's rule) and the loop that alternates assignment and update.
 * The assignment kernel is in assign.c, initialization in init.c, row
 * validation and views in view.c, the public building blocks and the naive
 * reference in lloyd_api.c.
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
/* Small helpers                                                             */
/* ------------------------------------------------------------------------ */

strata_status km_allreduce(const strata_kmeans_comm *comm, int64_t *buf, size_t n,
                           strata_error *err) {
    if (!comm || comm->size <= 1 || n == 0) return STRATA_OK;
    if (comm->allreduce_i64(comm->ud, buf, n) != 0)
        return strata_error_set(err, STRATA_EIO, "kmeans: collective sum failed");
    return STRATA_OK;
}

void km_normalize_parts(float *c, int nparts, const int64_t *dim) {
    for (int p = 0; p < nparts; p++) {
        double ss = 0;
        for (int64_t j = 0; j < dim[p]; j++) ss += (double)c[j] * (double)c[j];
        if (ss > 0) {
            double s = 1.0 / sqrt(ss);
            for (int64_t j = 0; j < dim[p]; j++) c[j] = (float)((double)c[j] * s);
        }
        c += dim[p];
    }
}

/* ------------------------------------------------------------------------ */
/* Lloyd state                                                               */
/* ------------------------------------------------------------------------ */

void km_state_free(km_state *s) {
    if (!s) return;
    strata_free(s->C);
    strata_free(s->Cold);
    strata_free(s->S);
    strata_free(s->cnt);
    strata_free(s->red);
    strata_free(s->a);
    strata_free(s->prev);
    strata_free(s->lb);
    strata_free(s->ub);
    strata_free(s->cand);
    strata_free(s->ucand);
    strata_free(s->cnext);
    strata_free(s->drift);
    strata_free(s->moved);
    strata_free(s->CM);
    strata_free(s->mv_off);
    strata_free(s->mv);
    strata_free(s->rep);
    memset(s, 0, sizeof *s);
}

strata_status km_state_init(km_state *s, const km_view *v, int k, strata_error *err) {
    memset(s, 0, sizeof *s);
    s->k = k;
    s->dt = km_dt(v->in);
    s->n = v->n;
    size_t kd = (size_t)k * (size_t)s->dt, n = (size_t)(v->n > 0 ? v->n : 1);
    s->C = strata_calloc(kd, sizeof(float));
    s->Cold = strata_calloc(kd, sizeof(float));
    s->S = strata_calloc(kd, sizeof(int64_t));
    s->cnt = strata_calloc((size_t)k, sizeof(int64_t));
    s->red = strata_calloc(kd + (size_t)k + 2, sizeof(int64_t));
    s->a = strata_malloc_array(n, sizeof(int32_t));
    s->prev = strata_malloc_array(n, sizeof(int32_t));
    s->lb = strata_malloc_array(n, sizeof(double));
    s->ub = strata_malloc_array(n, sizeof(double));
    s->ncand = k < KM_NCAND ? k : KM_NCAND;
    s->cand = strata_malloc_array(n * (size_t)s->ncand, sizeof(int32_t));
    s->ucand = strata_malloc_array(n, sizeof(double));
    s->cnext = strata_malloc_array(n, sizeof(int32_t));
    s->drift = strata_calloc((size_t)k, sizeof(double));
    s->moved = strata_malloc_array((size_t)k, sizeof(int32_t));
    s->CM = strata_malloc_array((size_t)(k / KM_MOVED_DIV > 0 ? k / KM_MOVED_DIV : 1) * (size_t)s->dt,
                                sizeof(float));
    s->mv_off = strata_calloc(2 * (size_t)k + 2, sizeof(int64_t));
    s->mv = strata_malloc_array(2 * n, sizeof(int64_t));
    s->rep = strata_malloc_array((size_t)k, sizeof(int64_t));
    if (!s->C || !s->Cold || !s->S || !s->cnt || !s->red || !s->a || !s->prev || !s->lb ||
        !s->ub || !s->cand || !s->ucand || !s->cnext || !s->drift || !s->moved || !s->CM ||
        !s->mv_off || !s->mv || !s->rep) {
        km_state_free(s);
        return strata_error_set(err, STRATA_ENOMEM, "kmeans: out of memory (K=%d, N=%lld)", k,
                                (long long)v->n);
    }
    for (int64_t i = 0; i < v->n; i++) s->a[i] = -1;
    return STRATA_OK;
}

/* ------------------------------------------------------------------------ */
/* Update and empty-cluster repair                                           */
/* ------------------------------------------------------------------------ */

/* Descending drift, then ascending index (a total order: same bits
 * everywhere). */
static int by_drift_desc(const void *x, const void *y, void *arg) {
    const double *d = arg;
    int32_t a = *(const int32_t *)x, b = *(const int32_t *)y;
    if (d[a] != d[b]) return d[a] > d[b] ? -1 : 1;
    return (a > b) - (a < b);
}

int km_update(km_state *s, const strata_kmeans_input *in, strata_rng *rng, int repair) {
    int k = s->k;
    int64_t dt = s->dt;
    memcpy(s->Cold, s->C, (size_t)k * (size_t)dt * sizeof(float));
    for (int c = 0; c < k; c++) {
        if (s->cnt[c] <= 0) continue;
        const int64_t *S = s->S + (size_t)c * (size_t)dt; /* [Dt] */
        float *C = s->C + (size_t)c * (size_t)dt;         /* [Dt] */
        int64_t o = 0;
        for (int p = 0; p < in->nparts; p++) {
            double ss = 0;
            for (int64_t j = 0; j < in->dim[p]; j++) ss += (double)S[o + j] * (double)S[o + j];
            if (ss > 0) {
                double sc = 1.0 / sqrt(ss);
                for (int64_t j = 0; j < in->dim[p]; j++) C[o + j] = (float)((double)S[o + j] * sc);
            }
            o += in->dim[p];
        }
    }
    int nrep = 0;
    if (repair) {
        int64_t *h = s->rep;
        memcpy(h, s->cnt, (size_t)k * sizeof *h);
        const double EPS = 1.0 / 1024.0;
        for (int ci = 0; ci < k; ci++) {
            if (h[ci] > 0) continue;
            uint64_t total = 0;
            for (int c = 0; c < k; c++)
                if (h[c] > 1) total += (uint64_t)(h[c] - 1);
            if (total == 0) break;
            uint64_t u = strata_rng_below(rng, total), cum = 0;
            int cj = 0;
            for (int c = 0; c < k; c++) {
                if (h[c] <= 1) continue;
                cum += (uint64_t)(h[c] - 1);
                if (u < cum) {
                    cj = c;
                    break;
                }
            }
            float *a = s->C + (size_t)ci * (size_t)dt, *b = s->C + (size_t)cj * (size_t)dt;
            memcpy(a, b, (size_t)dt * sizeof(float));
            for (int64_t j = 0; j < dt; j++) {
                if (j % 2 == 0) {
                    a[j] = (float)((double)a[j] * (1 + EPS));
                    b[j] = (float)((double)b[j] * (1 - EPS));
                } else {
                    a[j] = (float)((double)a[j] * (1 - EPS));
                    b[j] = (float)((double)b[j] * (1 + EPS));
                }
            }
            km_normalize_parts(a, in->nparts, in->dim);
            km_normalize_parts(b, in->nparts, in->dim);
            h[ci] = h[cj] / 2;
            h[cj] -= h[ci];
            nrep++;
        }
    }
    /* Drift per centroid, an upper bound on how much any unit row's score
     * against it can change (Cauchy-Schwarz per part, with slack). */
    s->dmax1 = s->dmax2 = 0;
    s->dmax_i = -1;
    for (int c = 0; c < k; c++) {
        const float *a = s->C + (size_t)c * (size_t)dt, *b = s->Cold + (size_t)c * (size_t)dt;
        double d = 0;
        int64_t o = 0;
        for (int p = 0; p < in->nparts; p++) {
            double ss = 0;
            for (int64_t j = 0; j < in->dim[p]; j++) {
                double e = (double)a[o + j] - (double)b[o + j];
                ss += e * e;
            }
            d += sqrt(ss);
            o += in->dim[p];
        }
        d = d * (1 + 1e-5) + (d > 0 ? 1e-12 : 0);
        s->drift[c] = d;
        if (d > s->dmax1) {
            s->dmax2 = s->dmax1;
            s->dmax1 = d;
            s->dmax_i = c;
        } else if (d > s->dmax2) {
            s->dmax2 = d;
        }
    }
    /* The moved set: up to K / KM_MOVED_DIV centroids with the largest
     * (non-zero) drifts; every other one moved at most d_stay. */
    s->nmoved = 0;
    s->d_stay = s->dmax1;
    int maxm = k / KM_MOVED_DIV;
    if (maxm > 0) {
        for (int c = 0; c < k; c++) s->moved[c] = c;
        qsort_r(s->moved, (size_t)k, sizeof(int32_t), by_drift_desc, s->drift);
        int nm = 0;
        while (nm < maxm && s->drift[s->moved[nm]] > 0) nm++;
        s->nmoved = nm;
        s->d_stay = nm < k ? s->drift[s->moved[nm]] : 0;
        for (int q = 0; q < nm; q++)
            memcpy(s->CM + (size_t)q * (size_t)dt, s->C + (size_t)s->moved[q] * (size_t)dt,
                   (size_t)dt * sizeof(float));
    }
    s->bounds_valid = 1;
    return nrep;
}

/* ------------------------------------------------------------------------ */
/* Lloyd                                                                     */
/* ------------------------------------------------------------------------ */

void km_iters_free(km_iters *r) {
    if (!r) return;
    strata_free(r->v);
    memset(r, 0, sizeof *r);
}

/* The next record of rec (grown by doubling), NULL when out of memory. */
static strata_kmeans_iter *iters_next(km_iters *rec) {
    if (rec->n == rec->cap) {
        int ncap = rec->cap > 0 ? (rec->cap < INT32_MAX / 2 ? rec->cap * 2 : INT32_MAX) : 32;
        strata_kmeans_iter *nv = strata_realloc(rec->v, (size_t)ncap * sizeof *nv);
        if (!nv) return NULL;
        rec->v = nv;
        rec->cap = ncap;
    }
    strata_kmeans_iter *r = &rec->v[rec->n++];
    memset(r, 0, sizeof *r);
    return r;
}

strata_status km_lloyd(km_state *s, const km_view *v, int niter, int bounds, int repair,
                       strata_rng *rng, km_iters *rec, int *n_iter, km_prog *prog,
                       strata_error *err) {
    int it = 0, need_final = 1;
    strata_status st;
    if (rec) rec->n = 0;
    for (; it < niter; it++) {
        double t0 = strata__now_s();
        int64_t changed, scored;
        if ((st = km_assign(s, v, bounds, &changed, &scored, err))) return st;
        double obj = km_objective(s);
        strata_kmeans_iter *r = NULL;
        if (rec && !(r = iters_next(rec)))
            return strata_error_set(err, STRATA_ENOMEM, "kmeans: out of memory (iteration records)");
        if (r) {
            r->objective = obj;
            r->changed = changed;
            r->scored = scored;
        }
        if (changed == 0 && it > 0) {
            /* nothing moved: the centroids are already the means */
            if (r) r->seconds = strata__now_s() - t0;
            it++;
            if (prog && prog->progress) prog->done++;
            need_final = 0;
            break;
        }
        km_update(s, v->in, rng, repair);
        if (r) r->seconds = strata__now_s() - t0;
        if (prog && prog->progress) {
            prog->done++;
            strata_progress_report(prog->progress, "kmeans", prog->done, prog->total, "iter");
        }
    }
    if (prog && prog->progress && it < niter) {
        prog->done += niter - it;
        strata_progress_report(prog->progress, "kmeans", prog->done, prog->total, "iter");
    }
    if (need_final) {
        int64_t changed, scored;
        if ((st = km_assign(s, v, bounds, &changed, &scored, err))) return st;
    }
    *n_iter = it;
    return STRATA_OK;
}
