/*
 * fit.c — the clustering driver: per-source K, training sample, best of
 * nredo runs, final assignment, splitting of oversized clusters by recursive
 * 2-means, and per-cluster statistics. stats.json is written by stats.c.
 *
 * Legend: N rows, K clusters, Dt dims of a row, P ranks.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "kmeans/kmeans_internal.h"

strata_kmeans_params strata_kmeans_default_params(void) {
    strata_kmeans_params p;
    memset(&p, 0, sizeof p);
    p.k = 0;
    p.niter = 25;
    p.nredo = 1;
    p.init = STRATA_KMEANS_INIT_PP;
    p.bounds = 1;
    p.seed = 1;
    return p;
}

void strata_kmeans_result_free(strata_kmeans_result *r) {
    if (!r) return;
    strata_free(r->centroids);
    strata_free(r->assign);
    strata_free(r->cluster_source);
    strata_free(r->split_from);
    strata_free(r->size);
    strata_free(r->cos_centroid);
    strata_free(r->pairwise);
    for (int i = 0; i < r->n_runs; i++) {
        strata_free(r->runs[i].redo_objective);
        strata_free(r->runs[i].iters);
    }
    strata_free(r->runs);
    memset(r, 0, sizeof *r);
}

double strata_kmeans_imbalance(const int64_t *size, int first, int k) {
    double tot = 0, sq = 0;
    for (int c = first; c < first + k; c++) {
        tot += (double)size[c];
        sq += (double)size[c] * (double)size[c];
    }
    return tot > 0 ? (double)k * sq / (tot * tot) : 0;
}

/* Grows the per-cluster arrays of res to hold cap clusters. */
static int grow_clusters(strata_kmeans_result *r, int cap, int64_t dt) {
    float *c = strata_realloc(r->centroids, (size_t)cap * (size_t)dt * sizeof(float));
    if (!c) return -1;
    r->centroids = c;
    int32_t *s = strata_realloc(r->cluster_source, (size_t)cap * sizeof(int32_t));
    if (!s) return -1;
    r->cluster_source = s;
    int32_t *f = strata_realloc(r->split_from, (size_t)cap * sizeof(int32_t));
    if (!f) return -1;
    r->split_from = f;
    int64_t *z = strata_realloc(r->size, (size_t)cap * sizeof(int64_t));
    if (!z) return -1;
    r->size = z;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* One clustering problem (a source, or a cluster being split)               */
/* ------------------------------------------------------------------------ */

typedef struct problem {
    const strata_kmeans_input *in;
    const float *invn;
    const strata_kmeans_params *p;
    const strata_kmeans_comm *comm;
    km_prog *prog;
} problem;

/* Appends the final objective of redo r to run->redo_objective, grown by
 * doubling (capacity: the next power of two), so memory follows the redos
 * run, not the nredo asked for. */
static strata_status record_redo(strata_kmeans_run *run, int r, double obj, strata_error *err) {
    if ((r & (r - 1)) == 0) { /* r is 0 or a power of two: full */
        size_t cap = r == 0 ? 1 : 2 * (size_t)r;
        double *v = strata_realloc(run->redo_objective, cap * sizeof *v);
        if (!v) return strata_error_set(err, STRATA_ENOMEM, "kmeans: out of memory (redo records)");
        run->redo_objective = v;
    }
    run->redo_objective[r] = obj;
    run->nredo = r + 1;
    return STRATA_OK;
}

/* Clusters view `full` into k clusters. On return `a` [full.n] holds the
 * cluster (0..k-1) of each view row, C [k, Dt] the centroids, cnt [k] the
 * global sizes. run (may be NULL) receives the record. */
static strata_status solve(const problem *pb, const km_view *full, int k, int niter, int nredo,
                           uint64_t stream, int32_t *a, float *C, int64_t *cnt,
                           strata_kmeans_run *run, strata_error *err) {
    const strata_kmeans_params *p = pb->p;
    int64_t dt = km_dt(pb->in);
    strata_status st = STRATA_OK;
    /* Training view: every row, or a seeded sample of k*M rows. */
    km_view train = *full; /* shares full's rank_n unless a sample is made */
    int64_t *tidx = NULL, *pos = NULL;
    int sampled = 0;
    if (p->max_points_per_centroid > 0 &&
        full->n_global > (int64_t)k * p->max_points_per_centroid) {
        int64_t m = (int64_t)k * p->max_points_per_centroid;
        pos = strata_malloc_array((size_t)m, sizeof *pos);
        tidx = strata_malloc_array((size_t)(full->n > 0 ? full->n : 1), sizeof *tidx);
        if (!pos || !tidx) {
            st = strata_error_set(err, STRATA_ENOMEM, "kmeans: out of memory (sample)");
            goto out;
        }
        strata_rng rs;
        strata_rng_seed(&rs, p->seed, stream ^ 0x5a5a5a5a00000000ull);
        km_sample_sorted(&rs, full->n_global, m, pos);
        int64_t nt = 0;
        for (int64_t s = 0; s < m; s++) {
            int64_t g = pos[s] - full->gpos0;
            if (g < 0 || g >= full->n) continue;
            tidx[nt++] = full->idx ? full->idx[g] : g;
        }
        if ((st = km_view_make(&train, pb->in, pb->invn, tidx, nt, pb->comm, err))) goto out;
        sampled = 1;
    }
    if (run) run->n_used = train.n_global;

    float *bestC = strata_malloc_array((size_t)k * (size_t)dt, sizeof(float));
    km_iters cur = {NULL, 0, 0}, kept = {NULL, 0, 0}; /* this redo's / the best's records */
    if (!bestC) {
        st = strata_error_set(err, STRATA_ENOMEM, "kmeans: out of memory");
        goto out;
    }
    km_state best;
    memset(&best, 0, sizeof best);
    double best_obj = -INFINITY;
    for (int r = 0; r < nredo && st == STRATA_OK; r++) {
        km_state s;
        if ((st = km_state_init(&s, &train, k, err))) break;
        strata_rng rng;
        strata_rng_seed(&rng, p->seed, stream + (uint64_t)r);
        double t0 = strata__now_s();
        st = km_init(s.C, &train, k, p->init, p->init_sample, &rng, err);
        double tinit = strata__now_s() - t0;
        int n_iter = 0;
        if (st == STRATA_OK)
            st = km_lloyd(&s, &train, niter, p->bounds, 1, &rng, run ? &cur : NULL, &n_iter,
                          pb->prog, err);
        double obj = st == STRATA_OK ? km_objective(&s) : 0;
        if (st == STRATA_OK && run) st = record_redo(run, r, obj, err);
        if (st) {
            km_state_free(&s);
            break;
        }
        if (obj > best_obj) {
            best_obj = obj;
            memcpy(bestC, s.C, (size_t)k * (size_t)dt * sizeof(float));
            km_state_free(&best);
            best = s;
            if (run) {
                km_iters t = kept;
                kept = cur;
                cur = t;
                run->best_redo = r;
                run->init_seconds = tinit;
            }
        } else {
            km_state_free(&s);
        }
    }
    if (st == STRATA_OK && run) { /* the kept run's records move to the result */
        strata_free(run->iters);
        run->iters = kept.v;
        run->n_iter = kept.n;
        kept.v = NULL;
    }
    km_iters_free(&cur);
    km_iters_free(&kept);
    if (st == STRATA_OK) {
        if (sampled) {
            /* assign every row to the trained centroids */
            km_state f;
            if ((st = km_state_init(&f, full, k, err)) == STRATA_OK) {
                memcpy(f.C, bestC, (size_t)k * (size_t)dt * sizeof(float));
                int64_t ch, sc;
                st = km_assign(&f, full, 0, &ch, &sc, err);
                if (st == STRATA_OK) {
                    memcpy(a, f.a, (size_t)full->n * sizeof(int32_t));
                    memcpy(cnt, f.cnt, (size_t)k * sizeof(int64_t));
                }
                km_state_free(&f);
            }
        } else {
            memcpy(a, best.a, (size_t)full->n * sizeof(int32_t));
            memcpy(cnt, best.cnt, (size_t)k * sizeof(int64_t));
        }
        memcpy(C, bestC, (size_t)k * (size_t)dt * sizeof(float));
    }
    km_state_free(&best);
    strata_free(bestC);
out:
    if (sampled) km_view_free(&train);
    strata_free(tidx);
    strata_free(pos);
    return st;
}

/* ------------------------------------------------------------------------ */
/* Splitting clusters above max_cluster_size                                 */
/* ------------------------------------------------------------------------ */

/* The split queue is FIFO and only moves forward: every split pushes up to
 * two clusters, so it holds as many entries as splits, not as clusters, and
 * grows on its own. 0 ok, -1 out of memory. */
typedef struct split_queue {
    int *v;
    int head, tail, cap;
} split_queue;

static int queue_push(split_queue *q, int c) {
    if (q->tail == q->cap) {
        int ncap = q->cap > 0 ? q->cap * 2 : 64;
        int *nv = strata_realloc(q->v, (size_t)ncap * sizeof *nv);
        if (!nv) return -1;
        q->v = nv;
        q->cap = ncap;
    }
    q->v[q->tail++] = c;
    return 0;
}

static strata_status split_big(strata_kmeans_result *res, const problem *pb,
                               int64_t max_size, int *cap, strata_error *err) {
    const strata_kmeans_input *in = pb->in;
    int64_t n = in->n_local, dt = km_dt(in);
    strata_status st = STRATA_OK;
    problem quiet = *pb; /* the 2-means runs do not count as progress */
    quiet.prog = NULL;
    pb = &quiet;
    /* Members of each cluster, contiguous in perm; cluster c owns
     * perm[off[c] .. off[c] + len[c]). Splitting partitions a segment. */
    int K = res->k;
    int64_t *perm = strata_malloc_array((size_t)(n > 0 ? n : 1), sizeof *perm);
    int64_t *off = strata_malloc_array((size_t)*cap, sizeof *off);
    int64_t *len = strata_calloc((size_t)*cap, sizeof *len);
    split_queue queue = {NULL, 0, 0, 0};
    int32_t *a2 = strata_malloc_array((size_t)(n > 0 ? n : 1), sizeof *a2);
    int64_t *tmp = strata_malloc_array((size_t)(n > 0 ? n : 1), sizeof *tmp);
    if (!perm || !off || !len || !a2 || !tmp) {
        st = strata_error_set(err, STRATA_ENOMEM, "kmeans: out of memory (split)");
        goto done;
    }
    for (int64_t i = 0; i < n; i++) len[res->assign[i]]++;
    {
        int64_t o = 0;
        for (int c = 0; c < K; c++) {
            off[c] = o;
            o += len[c];
        }
    }
    {
        int64_t *fill = strata_malloc_array((size_t)K, sizeof *fill);
        if (!fill) {
            st = strata_error_set(err, STRATA_ENOMEM, "kmeans: out of memory (split)");
            goto done;
        }
        memcpy(fill, off, (size_t)K * sizeof *off);
        for (int64_t i = 0; i < n; i++) perm[fill[res->assign[i]]++] = i;
        strata_free(fill);
    }
    for (int c = 0; c < K; c++)
        if (res->size[c] > max_size && queue_push(&queue, c)) {
            st = strata_error_set(err, STRATA_ENOMEM, "kmeans: out of memory (split)");
            goto done;
        }
    while (queue.head < queue.tail) {
        int c = queue.v[queue.head++];
        km_view v;
        if ((st = km_view_make(&v, in, pb->invn, perm + off[c], len[c], pb->comm, err))) break;
        float C2[2 * 4096];
        float *C = dt <= 4096 ? C2 : strata_malloc_array(2 * (size_t)dt, sizeof(float));
        int64_t cnt[2] = {0, 0};
        if (!C) {
            km_view_free(&v);
            st = strata_error_set(err, STRATA_ENOMEM, "kmeans: out of memory (split)");
            break;
        }
        int niter = pb->p->niter < 10 ? pb->p->niter : 10;
        if (niter < 1) niter = 1;
        st = solve(pb, &v, 2, niter, 1, 0x7000000000000000ull + ((uint64_t)c << 8), a2, C, cnt,
                   NULL, err);
        if (st) {
            if (C != C2) strata_free(C);
            km_view_free(&v);
            break;
        }
        if (cnt[0] == 0 || cnt[1] == 0) {
            /* 2-means cannot separate (identical rows): halves by position */
            for (int64_t i = 0; i < v.n; i++) a2[i] = (v.gpos0 + i) >= v.n_global / 2;
            cnt[0] = v.n_global / 2;
            cnt[1] = v.n_global - cnt[0];
        }
        int nc = res->k;
        if (nc >= *cap) {
            int ncap = *cap * 2;
            if (grow_clusters(res, ncap, dt)) {
                if (C != C2) strata_free(C);
                km_view_free(&v);
                st = strata_error_set(err, STRATA_ENOMEM, "kmeans: out of memory (split)");
                break;
            }
            int64_t *o2 = strata_realloc(off, (size_t)ncap * sizeof *off);
            if (o2) off = o2;
            int64_t *l2 = strata_realloc(len, (size_t)ncap * sizeof *len);
            if (l2) len = l2;
            if (!o2 || !l2) {
                if (C != C2) strata_free(C);
                km_view_free(&v);
                st = strata_error_set(err, STRATA_ENOMEM, "kmeans: out of memory (split)");
                break;
            }
            *cap = ncap;
        }
        /* stable partition of the segment: piece 0 then piece 1 */
        int64_t *seg = perm + off[c], n0 = 0, n1 = 0;
        for (int64_t i = 0; i < len[c]; i++)
            if (a2[i] == 0) seg[n0++] = seg[i];
            else tmp[n1++] = seg[i];
        memcpy(seg + n0, tmp, (size_t)n1 * sizeof *tmp);
        res->k = nc + 1;
        off[nc] = off[c] + n0;
        len[nc] = n1;
        len[c] = n0;
        for (int64_t i = 0; i < n1; i++) res->assign[seg[n0 + i]] = nc;
        res->cluster_source[nc] = res->cluster_source[c];
        res->split_from[nc] = c;
        if (res->split_from[c] < 0) res->split_from[c] = c;
        res->size[c] = cnt[0];
        res->size[nc] = cnt[1];
        memcpy(res->centroids + (size_t)c * (size_t)dt, C, (size_t)dt * sizeof(float));
        memcpy(res->centroids + (size_t)nc * (size_t)dt, C + dt, (size_t)dt * sizeof(float));
        res->n_split++;
        if (C != C2) strata_free(C);
        km_view_free(&v);
        if ((cnt[0] > max_size && queue_push(&queue, c)) ||
            (cnt[1] > max_size && queue_push(&queue, nc))) {
            st = strata_error_set(err, STRATA_ENOMEM, "kmeans: out of memory (split)");
            break;
        }
    }
done:
    strata_free(perm);
    strata_free(off);
    strata_free(len);
    strata_free(queue.v);
    strata_free(a2);
    strata_free(tmp);
    return st;
}

/* ------------------------------------------------------------------------ */
/* Final statistics (exact sums over every row)                              */
/* ------------------------------------------------------------------------ */

static strata_status final_stats(strata_kmeans_result *res, const problem *pb,
                                 strata_error *err) {
    const strata_kmeans_input *in = pb->in;
    int K = res->k;
    int64_t n = in->n_local, dt = km_dt(in);
    size_t kd = (size_t)K * (size_t)dt;
    int64_t *S = strata_calloc(kd + (size_t)K, sizeof(int64_t)); /* [K, Dt] | counts [K] */
    int64_t *off = strata_calloc((size_t)K + 1, sizeof(int64_t));
    int64_t *perm = strata_malloc_array((size_t)(n > 0 ? n : 1), sizeof(int64_t));
    int64_t *fill = strata_malloc_array((size_t)K + 1, sizeof(int64_t));
    float *rows = strata_malloc_array((size_t)strata__max_threads() * (size_t)dt, sizeof(float));
    res->cos_centroid = strata_calloc((size_t)K, sizeof(double));
    res->pairwise = strata_calloc((size_t)K * (size_t)in->nparts, sizeof(double));
    km_view v;
    strata_status vs = STRATA_ENOMEM;
    if (!S || !off || !perm || !fill || !rows || !res->cos_centroid || !res->pairwise ||
        (vs = km_view_make(&v, in, pb->invn, NULL, n, NULL, err)) != STRATA_OK) {
        strata_free(S);
        strata_free(off);
        strata_free(perm);
        strata_free(fill);
        strata_free(rows);
        if (vs != STRATA_ENOMEM) return vs;
        return strata_error_set(err, STRATA_ENOMEM, "kmeans: out of memory (statistics)");
    }
    for (int64_t i = 0; i < n; i++) off[res->assign[i] + 1]++;
    for (int c = 0; c < K; c++) off[c + 1] += off[c];
    memcpy(fill, off, ((size_t)K + 1) * sizeof(int64_t));
    for (int64_t i = 0; i < n; i++) perm[fill[res->assign[i]]++] = i;
    strata_free(fill);
#pragma omp parallel
    {
        float *row = rows + (size_t)strata__thread_num() * (size_t)dt;
#pragma omp for schedule(dynamic, 4)
        for (int c = 0; c < K; c++) {
            int64_t *acc = S + (size_t)c * (size_t)dt;
            for (int64_t j = off[c]; j < off[c + 1]; j++) {
                km_load_row(&v, perm[j], row);
                for (int64_t d = 0; d < dt; d++) acc[d] += (int64_t)((double)row[d] * KM_FX_SCALE);
            }
            S[kd + (size_t)c] = off[c + 1] - off[c];
        }
    }
    strata_free(rows);
    strata_free(perm);
    strata_free(off);
    strata_status st = km_allreduce(pb->comm, S, kd + (size_t)K, err);
    if (st) {
        strata_free(S);
        return st;
    }
    double total = 0;
    for (int c = 0; c < K; c++) {
        int64_t nk = S[kd + (size_t)c];
        res->size[c] = nk;
        float *C = res->centroids + (size_t)c * (size_t)dt;
        const int64_t *Sc = S + (size_t)c * (size_t)dt;
        if (res->split_from[c] >= 0 && nk > 0) {
            /* pieces of a split: centroid = normalized mean of the piece */
            for (int64_t d = 0; d < dt; d++) C[d] = (float)((double)Sc[d] / KM_FX_SCALE);
            km_normalize_parts(C, in->nparts, in->dim);
        }
        if (nk == 0) memset(C, 0, (size_t)dt * sizeof(float)), res->cos_centroid[c] = NAN;
        double dot = 0;
        for (int64_t d = 0; d < dt; d++) dot += (double)Sc[d] * (double)C[d];
        dot /= KM_FX_SCALE;
        total += dot;
        if (nk > 0) res->cos_centroid[c] = dot / (double)nk / (double)in->nparts;
        int64_t o = 0;
        for (int p = 0; p < in->nparts; p++) {
            double ss = 0;
            for (int64_t d = 0; d < in->dim[p]; d++) {
                double e = (double)Sc[o + d] / KM_FX_SCALE;
                ss += e * e;
            }
            res->pairwise[(size_t)c * (size_t)in->nparts + (size_t)p] =
                nk >= 2 ? (ss - (double)nk) / ((double)nk * (double)(nk - 1)) : NAN;
            o += in->dim[p];
        }
    }
    res->objective = total;
    strata_free(S);
    return STRATA_OK;
}

/* ------------------------------------------------------------------------ */
/* The driver                                                                */
/* ------------------------------------------------------------------------ */

strata_status strata_kmeans_fit(strata_kmeans_result *res, const strata_kmeans_input *in,
                                const strata_kmeans_params *p, strata_error *err) {
    memset(res, 0, sizeof *res);
    double t_start = strata__now_s();
    if (!in || !p) return strata_error_set(err, STRATA_EINVAL, "kmeans: missing argument");
    if (in->nparts != 1 && in->nparts != 2)
        return strata_error_set(err, STRATA_EINVAL, "kmeans: nparts must be 1 or 2");
    if (in->nparts == 2 && in->dim[0] != in->dim[1])
        return strata_error_set(err, STRATA_EINVAL,
                                "asymmetric mode needs equal dimensions, got %lld and %lld",
                                (long long)in->dim[0], (long long)in->dim[1]);
    for (int q = 0; q < in->nparts; q++)
        if (in->dim[q] <= 0 || (in->n_local > 0 && !in->x[q]))
            return strata_error_set(err, STRATA_EINVAL, "kmeans: bad input part %d", q);
    if (in->n_local < 0 || in->n_global < 1 || in->n_global > INT32_MAX)
        return strata_error_set(err, STRATA_EINVAL, "kmeans: bad row count %lld",
                                (long long)in->n_global);
    if (p->k <= 0 && p->cluster_size <= 0)
        return strata_error_set(err, STRATA_EINVAL, "kmeans: give K >= 1 or a cluster size >= 1");
    if (p->niter < 1 || p->nredo < 1)
        return strata_error_set(err, STRATA_EINVAL, "kmeans: niter and nredo must be >= 1");
    if (p->max_points_per_centroid < 0 || p->max_cluster_size < 0 || p->init_sample < 0)
        return strata_error_set(err, STRATA_EINVAL, "kmeans: negative limit");
    int nsrc = in->source ? in->n_sources : 1;
    if (nsrc < 1) return strata_error_set(err, STRATA_EINVAL, "kmeans: n_sources must be >= 1");
    for (int64_t i = 0; in->source && i < in->n_local; i++)
        if (in->source[i] < 0 || in->source[i] >= nsrc)
            return strata_error_set(err, STRATA_EINVAL, "kmeans: row %lld: source id %d out of range",
                                    (long long)(in->row0 + i), (int)in->source[i]);
    const strata_kmeans_comm *comm = p->comm && p->comm->size > 1 ? p->comm : NULL;
    int P = comm ? comm->size : 1, R = comm ? comm->rank : 0;
    strata_blas_threads(1);
    int64_t dt = km_dt(in), n = in->n_local;
    strata_status st;

    float *invn = strata_malloc_array((size_t)in->nparts * (size_t)(n > 0 ? n : 1), sizeof(float));
    int64_t *cnt_rs = strata_calloc((size_t)P * (size_t)nsrc, sizeof(int64_t)); /* [P, sources] */
    int64_t *idx = strata_malloc_array((size_t)(n > 0 ? n : 1), sizeof(int64_t));
    int32_t *a = strata_malloc_array((size_t)(n > 0 ? n : 1), sizeof(int32_t));
    int *ks = strata_calloc((size_t)nsrc, sizeof(int));
    if (!invn || !cnt_rs || !idx || !a || !ks) {
        st = strata_error_set(err, STRATA_ENOMEM, "kmeans: out of memory");
        goto fail;
    }
    if ((st = km_validate(in, invn, comm, err))) goto fail;
    for (int64_t i = 0; i < n; i++) cnt_rs[(size_t)R * (size_t)nsrc + (size_t)(in->source ? in->source[i] : 0)]++;
    if ((st = km_allreduce(comm, cnt_rs, (size_t)P * (size_t)nsrc, err))) goto fail;

    /* K per source */
    int64_t ktot = 0;
    int nruns = 0;
    for (int s = 0; s < nsrc; s++) {
        int64_t ns = 0;
        for (int r = 0; r < P; r++) ns += cnt_rs[(size_t)r * (size_t)nsrc + (size_t)s];
        int64_t k;
        if (ns == 0) k = 0;
        else if (p->cluster_size > 0) k = (ns + p->cluster_size - 1) / p->cluster_size;
        else {
            k = p->k;
            if (k > ns) {
                if (!in->source) {
                    st = strata_error_set(err, STRATA_EINVAL,
                                          "K (%d) exceeds the number of rows (%lld)", p->k,
                                          (long long)ns);
                    goto fail;
                }
                k = ns; /* per source: a small source gets one cluster per row */
            }
        }
        ks[s] = (int)k;
        ktot += k;
        if (k > 0) nruns++;
        if (ktot > INT32_MAX / 2) {
            st = strata_error_set(err, STRATA_EINVAL, "kmeans: too many clusters (%lld)",
                                  (long long)ktot);
            goto fail;
        }
    }
    int cap = (int)ktot + 16;
    res->nparts = in->nparts;
    res->dim = dt;
    res->assign = strata_malloc_array((size_t)(n > 0 ? n : 1), sizeof(int32_t));
    res->runs = strata_calloc((size_t)nruns, sizeof *res->runs);
    if (!res->assign || !res->runs || grow_clusters(res, cap, dt)) {
        st = strata_error_set(err, STRATA_ENOMEM, "kmeans: out of memory (K=%lld)", (long long)ktot);
        goto fail;
    }
    /* iterations for progress, saturated (runs * niter * nredo may pass 2^63) */
    double tot_it = (double)nruns * (double)p->niter * (double)p->nredo;
    km_prog prog = {p->progress.fn ? &p->progress : NULL, 0,
                    tot_it < 9e18 ? (int64_t)tot_it : INT64_MAX};
    problem pb = {in, invn, p, comm, &prog};
    int first = 0;
    for (int s = 0; s < nsrc; s++) {
        if (ks[s] == 0) continue;
        int64_t m = 0;
        for (int64_t i = 0; i < n; i++)
            if (!in->source || in->source[i] == s) idx[m++] = i;
        km_view v;
        if ((st = km_view_make(&v, in, invn, in->source ? idx : NULL, m, comm, err))) goto fail;
        strata_kmeans_run *run = &res->runs[res->n_runs++];
        run->source = s;
        run->n = v.n_global;
        run->k = ks[s];
        run->first_cluster = first;
        st = solve(&pb, &v, ks[s], p->niter, p->nredo, (uint64_t)s << 32, a,
                   res->centroids + (size_t)first * (size_t)dt, res->size + first, run, err);
        km_view_free(&v);
        if (st) goto fail;
        for (int64_t i = 0; i < m; i++) res->assign[in->source ? idx[i] : i] = first + a[i];
        for (int c = 0; c < ks[s]; c++) {
            res->cluster_source[first + c] = s;
            res->split_from[first + c] = -1;
        }
        res->n_used += run->n_used;
        first += ks[s];
    }
    res->k = first;
    if (p->max_cluster_size > 0 && (st = split_big(res, &pb, p->max_cluster_size, &cap, err)))
        goto fail;
    if ((st = final_stats(res, &pb, err))) goto fail;
    strata_free(invn);
    strata_free(cnt_rs);
    strata_free(idx);
    strata_free(a);
    strata_free(ks);
    res->seconds = strata__now_s() - t_start;
    return STRATA_OK;
fail:
    strata_free(invn);
    strata_free(cnt_rs);
    strata_free(idx);
    strata_free(a);
    strata_free(ks);
    strata_kmeans_result_free(res);
    return st;
}
