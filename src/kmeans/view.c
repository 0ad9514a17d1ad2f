/*
 * view.c — the rows a clustering problem works on: validation (NaN, Inf,
 * zero rows; inverse norms per part), views over a subset of this rank's
 * rows, selection sampling, and gathering sampled rows on every rank.
 *
 * Legend: N rows, Dt dims of a row (sum of parts).
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
/* Validation                                                                */
/* ------------------------------------------------------------------------ */

strata_status km_validate(const strata_kmeans_input *in, float *invn,
                          const strata_kmeans_comm *comm, strata_error *err) {
    int P = comm ? comm->size : 1, R = comm ? comm->rank : 0;
    int64_t n = in->n_local;
    int64_t bad_row = -1;
    int bad_kind = 0, bad_part = 0;
    int64_t bad_col = 0;
    /* Each thread owns a range of rows; the first bad row is the minimum. */
    int64_t first_bad = n;
#pragma omp parallel for schedule(static) reduction(min : first_bad)
    for (int64_t i = 0; i < n; i++) {
        for (int p = 0; p < in->nparts; p++) {
            const float *x = in->x[p] + (size_t)i * (size_t)in->dim[p];
            double ss = 0;
            int ok = 1;
            for (int64_t j = 0; j < in->dim[p]; j++) {
                if (!isfinite(x[j])) ok = 0;
                ss += (double)x[j] * (double)x[j];
            }
            if (!ok || !(ss > 0) || !isfinite(ss)) {
                if (i < first_bad) first_bad = i;
                invn[(size_t)p * (size_t)n + (size_t)i] = 0;
            } else {
                invn[(size_t)p * (size_t)n + (size_t)i] = (float)(1.0 / sqrt(ss));
            }
        }
    }
    if (first_bad < n) {
        int64_t i = first_bad;
        bad_row = in->row0 + i;
        for (int p = 0; p < in->nparts && !bad_kind; p++) {
            const float *x = in->x[p] + (size_t)i * (size_t)in->dim[p];
            for (int64_t j = 0; j < in->dim[p]; j++)
                if (isnan(x[j])) { bad_kind = 1; bad_part = p; bad_col = j; break; }
                else if (isinf(x[j])) { bad_kind = 2; bad_part = p; bad_col = j; break; }
            if (!bad_kind && invn[(size_t)p * (size_t)n + (size_t)i] == 0) {
                bad_kind = 3;
                bad_part = p;
            }
        }
        if (!bad_kind) bad_kind = 3;
    }
    /* Every rank learns every rank's first bad row: [P][4]. */
    int64_t *v = strata_calloc((size_t)P * 4, sizeof *v);
    if (!v) return strata_error_set(err, STRATA_ENOMEM, "kmeans: out of memory");
    v[R * 4 + 0] = bad_row + 1;
    v[R * 4 + 1] = bad_kind;
    v[R * 4 + 2] = bad_part;
    v[R * 4 + 3] = bad_col;
    strata_status st = km_allreduce(comm, v, (size_t)P * 4, err);
    if (st) {
        strata_free(v);
        return st;
    }
    for (int r = 0; r < P; r++) {
        if (v[r * 4] == 0) continue;
        long long row = (long long)(v[r * 4] - 1);
        int kind = (int)v[r * 4 + 1];
        const char *part = in->nparts > 1 ? (v[r * 4 + 2] ? " (input2)" : " (input)") : "";
        const char *name = in->name[in->nparts > 1 && v[r * 4 + 2] ? 1 : 0];
        long long col = (long long)v[r * 4 + 3];
        strata_free(v);
        if (kind == 1)
            strata_error_set(err, STRATA_EFORMAT, "row %lld%s: NaN in column %lld", row, part, col);
        else if (kind == 2)
            strata_error_set(err, STRATA_EFORMAT, "row %lld%s: Inf in column %lld", row, part, col);
        else
            strata_error_set(err, STRATA_EFORMAT,
                             "row %lld%s: all-zero vector (cannot be normalized)", row, part);
        if (name) strata_error_prefix(err, "%s", name);
        return STRATA_EFORMAT;
    }
    strata_free(v);
    return STRATA_OK;
}

/* ------------------------------------------------------------------------ */
/* Views, sampling and gathering                                             */
/* ------------------------------------------------------------------------ */

strata_status km_view_make(km_view *v, const strata_kmeans_input *in,
                           const float *invn, const int64_t *idx, int64_t n,
                           const strata_kmeans_comm *comm, strata_error *err) {
    memset(v, 0, sizeof *v);
    v->in = in;
    v->invn = invn;
    v->idx = idx;
    v->n = n;
    v->n_global = n;
    if (!comm || comm->size <= 1) return STRATA_OK;
    v->comm = comm;
    v->rank_n = strata_calloc((size_t)comm->size, sizeof(int64_t));
    if (!v->rank_n) return strata_error_set(err, STRATA_ENOMEM, "kmeans: out of memory");
    v->rank_n[comm->rank] = n;
    strata_status st = km_allreduce(comm, v->rank_n, (size_t)comm->size, err);
    if (st) {
        km_view_free(v);
        return st;
    }
    v->n_global = 0;
    for (int r = 0; r < comm->size; r++) {
        if (r == comm->rank) v->gpos0 = v->n_global;
        v->n_global += v->rank_n[r];
    }
    return STRATA_OK;
}

void km_view_free(km_view *v) {
    if (!v) return;
    strata_free(v->rank_n);
    v->rank_n = NULL;
}

void km_sample_sorted(strata_rng *rng, int64_t n, int64_t m, int64_t *out) {
    /* Knuth's Algorithm S: each position kept with probability
     * (still needed) / (still left); output sorted, exactly m. */
    int64_t got = 0;
    for (int64_t t = 0; t < n && got < m; t++) {
        double u = strata_rng_uniform(rng);
        if ((double)(n - t) * u < (double)(m - got)) out[got++] = t;
    }
}

static int64_t lower_bound_i64(const int64_t *a, int64_t n, int64_t key) {
    int64_t lo = 0, hi = n;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (a[mid] < key) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

strata_status km_gather(const km_view *v, const int64_t *pos, int64_t m, float *G,
                        strata_error *err) {
    int64_t dt = km_dt(v->in);
    int64_t lo = lower_bound_i64(pos, m, v->gpos0);
    int64_t hi = lower_bound_i64(pos, m, v->gpos0 + v->n);
#pragma omp parallel for schedule(static)
    for (int64_t s = lo; s < hi; s++) km_load_row(v, pos[s] - v->gpos0, G + (size_t)s * (size_t)dt);
    if (!v->comm) return STRATA_OK;
    int64_t start = 0;
    for (int r = 0; r < v->comm->size; r++) {
        int64_t a = lower_bound_i64(pos, m, start);
        int64_t b = lower_bound_i64(pos, m, start + v->rank_n[r]);
        start += v->rank_n[r];
        if (b <= a) continue;
        /* chunks below 1 GiB per call */
        size_t bytes = (size_t)(b - a) * (size_t)dt * sizeof(float);
        char *p = (char *)(G + (size_t)a * (size_t)dt);
        while (bytes > 0) {
            size_t c = bytes > ((size_t)1 << 30) ? ((size_t)1 << 30) : bytes;
            if (v->comm->bcast(v->comm->ud, p, c, r) != 0)
                return strata_error_set(err, STRATA_EIO, "kmeans: collective broadcast failed");
            p += c;
            bytes -= c;
        }
    }
    return STRATA_OK;
}
