/*
 * strategy.c — the partition of the pairs a stage batches from: one group
 * (random), one per source, or one per (source, cluster); and each group's
 * unit-norm centroid (the cluster centroid, or the mean of its members'
 * surrogate embeddings).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <cblas.h>

#include "plan/plan_internal.h"
#include "plan/plan_build.h"
#include "core/internal.h"

/* ------------------------------------------------------------------------ */
/* Groups                                                                    */
/* ------------------------------------------------------------------------ */

void plan__groups_free(groups *g) {
    strata_free(g->gid);
    strata_free(g->start);
    strata_free(g->mem);
    strata_free(g->gsource);
    strata_free(g->gcluster);
    strata_free(g->cent);
    strata_free(g->nbr);
    memset(g, 0, sizeof *g);
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Group ids: random -> one group; source -> the source; cluster -> dense
 * ids of (source, cluster) keys in increasing key order. */
strata_status plan__groups_build(groups *g, const strata_plan_data *d,
                                  strata_plan_strategy strat, const int32_t *assign,
                                  int64_t K, strata_error *err) {
    const int64_t N = d->n;
    const int ns = d->source ? d->n_sources : 1;
    memset(g, 0, sizeof *g);
    g->gid = strata_malloc_array((size_t)N, sizeof(int32_t));
    g->mem = strata_malloc_array((size_t)N, sizeof(int64_t));
    if (!g->gid || !g->mem) goto oom;
    int64_t G = 0;
    if (strat == STRATA_PLAN_RANDOM) {
        G = 1;
        memset(g->gid, 0, (size_t)N * sizeof(int32_t));
    } else if (strat == STRATA_PLAN_SOURCE) {
        G = ns;
        for (int64_t i = 0; i < N; i++) g->gid[i] = d->source ? d->source[i] : 0;
    } else {
        int64_t table = (int64_t)ns * K;
        if (table <= 4 * N + (1 << 20)) {
            int64_t *map = strata_malloc_array((size_t)table, sizeof(int64_t));
            if (!map) goto oom;
            for (int64_t t = 0; t < table; t++) map[t] = -1;
            for (int64_t i = 0; i < N; i++)
                map[(int64_t)(d->source ? d->source[i] : 0) * K + assign[i]] = 0;
            for (int64_t t = 0; t < table; t++)
                if (map[t] == 0) map[t] = G++ + 1;
            for (int64_t i = 0; i < N; i++)
                g->gid[i] = (int32_t)(map[(int64_t)(d->source ? d->source[i] : 0) * K + assign[i]] - 1);
            strata_free(map);
        } else {
            int64_t *keys = strata_malloc_array((size_t)N, sizeof(int64_t));
            if (!keys) goto oom;
            for (int64_t i = 0; i < N; i++)
                keys[i] = (int64_t)(d->source ? d->source[i] : 0) * K + assign[i];
            qsort(keys, (size_t)N, sizeof(int64_t), cmp_i64);
            for (int64_t i = 0; i < N; i++)
                if (i == 0 || keys[i] != keys[G - 1]) keys[G++] = keys[i];
            for (int64_t i = 0; i < N; i++) {
                int64_t key = (int64_t)(d->source ? d->source[i] : 0) * K + assign[i];
                int64_t lo = 0, hi = G - 1;
                while (lo < hi) {
                    int64_t mid = (lo + hi) / 2;
                    if (keys[mid] < key) lo = mid + 1; else hi = mid;
                }
                g->gid[i] = (int32_t)lo;
            }
            strata_free(keys);
        }
    }
    if (G > INT32_MAX) {
        plan__groups_free(g);
        return strata_error_set(err, STRATA_EUNSUPPORTED, "plan: too many groups");
    }
    g->G = G;
    g->start = strata_calloc((size_t)G + 1, sizeof(int64_t));
    g->gsource = strata_malloc_array((size_t)G, sizeof(int32_t));
    g->gcluster = strata_malloc_array((size_t)G, sizeof(int32_t));
    if (!g->start || !g->gsource || !g->gcluster) goto oom;
    for (int64_t i = 0; i < N; i++) g->start[g->gid[i] + 1]++;
    for (int64_t k = 0; k < G; k++) g->start[k + 1] += g->start[k];
    {
        int64_t *fill = strata_malloc_array((size_t)G, sizeof(int64_t));
        if (!fill) goto oom;
        memcpy(fill, g->start, (size_t)G * sizeof(int64_t));
        for (int64_t i = 0; i < N; i++) g->mem[fill[g->gid[i]]++] = i;
        strata_free(fill);
    }
    for (int64_t k = 0; k < G; k++) {
        int64_t first = g->mem[g->start[k]];
        g->gsource[k] = strat == STRATA_PLAN_RANDOM ? -1 : (d->source ? d->source[first] : 0);
        g->gcluster[k] = strat == STRATA_PLAN_CLUSTER ? assign[first] : -1;
    }
    return STRATA_OK;
oom:
    plan__groups_free(g);
    return strata_error_set(err, STRATA_ENOMEM, "plan: out of memory building groups");
}

static void normalize_rows(float *x, int64_t n, int64_t dim) {
    #pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) {
        float *r = x + (size_t)i * (size_t)dim;
        double s = 0;
        for (int64_t k = 0; k < dim; k++) s += (double)r[k] * r[k];
        if (s > 0) {
            float inv = (float)(1.0 / sqrt(s));
            for (int64_t k = 0; k < dim; k++) r[k] *= inv;
        }
    }
}

/* Group centroids: the stage's cluster centroid when given (cluster
 * strategy), else the mean of the members' normalised surrogate query and
 * document embeddings, else none. Rows are normalised (cosine). */
strata_status plan__groups_centroids(groups *g, const strata_plan_data *d,
                                      const strata_plan_stage *st, strata_error *err) {
    if (st->strategy == STRATA_PLAN_CLUSTER && st->centroids) {
        g->cdim = st->cdim;
        g->cent = strata_malloc_array((size_t)g->G * (size_t)g->cdim, sizeof(float));
        if (!g->cent) return strata_error_set(err, STRATA_ENOMEM, "plan: out of memory");
        for (int64_t k = 0; k < g->G; k++)
            memcpy(g->cent + (size_t)k * (size_t)g->cdim,
                   st->centroids + (size_t)g->gcluster[k] * (size_t)g->cdim,
                   (size_t)g->cdim * sizeof(float));
    } else if (d->fq && d->fd) {
        g->cdim = d->fdim;
        g->cent = strata_calloc((size_t)g->G * (size_t)g->cdim, sizeof(float));
        double *acc = strata_malloc_array((size_t)strata__max_threads() * (size_t)g->cdim, sizeof(double));
        if (!g->cent || !acc) {
            strata_free(acc);
            return strata_error_set(err, STRATA_ENOMEM, "plan: out of memory");
        }
        const int64_t D = g->cdim;
        #pragma omp parallel for schedule(dynamic, 4)
        for (int64_t k = 0; k < g->G; k++) {
            double *a = acc + (size_t)strata__thread_num() * (size_t)D;
            memset(a, 0, (size_t)D * sizeof(double));
            for (int64_t t = g->start[k]; t < g->start[k + 1]; t++) {
                const float *q = d->fq + (size_t)g->mem[t] * (size_t)D;
                const float *e = d->fd + (size_t)g->mem[t] * (size_t)D;
                double nq = 0, ne = 0;
                for (int64_t c = 0; c < D; c++) { nq += (double)q[c] * q[c]; ne += (double)e[c] * e[c]; }
                nq = nq > 0 ? 1 / sqrt(nq) : 0;
                ne = ne > 0 ? 1 / sqrt(ne) : 0;
                for (int64_t c = 0; c < D; c++) a[c] += q[c] * nq + e[c] * ne;
            }
            for (int64_t c = 0; c < D; c++) g->cent[(size_t)k * (size_t)D + c] = (float)a[c];
        }
        strata_free(acc);
    } else {
        return STRATA_OK;
    }
    normalize_rows(g->cent, g->G, g->cdim);
    return STRATA_OK;
}
