/*
 * kmeans.h — spherical and asymmetric (CDE) k-means, per source, exact and
 * deterministic, optionally spread over MPI ranks.
 *
 * Geometry. A data row has one part (spherical mode: x, D dims) or two parts
 * (asymmetric mode: q and d, D dims each, Dt = 2D). Every part of every row is
 * unit-normalized on the fly (the input is never modified), and every part of
 * every centroid is unit-normalized, so the score of row i against centroid k
 *     s(i, k) = sum over parts p of  x_p(i) . c_p(k)
 * is a sum of cosines, and argmax_k s(i, k) = argmin_k ||x(i) - c(k)||^2.
 *
 * Asymmetric mode (CDE, Morris & Rush 2024, section 4.1): a pair (q, d) is the
 * point [q (+) d]; a centroid is the pair (d_m, q_m) written in the swapped
 * layout [d_m (+) q_m]; the pair's distance to the centroid is
 *     ||q - d_m||^2 + ||d - q_m||^2 = 2*2 - 2 (q.d_m + d.q_m),
 * so the stored centroid row c = [c_q (+) c_d] holds c_q = d_m (the centroid's
 * "document", matched against queries) and c_d = q_m (its "query", matched
 * against documents). The best centroid for fixed members is the normalized
 * mean of the members' queries (c_q) and documents (c_d).
 *
 * Exactness. The fast kernel scores rows in blocks with single-threaded
 * cblas_sgemm and a fused top-9 scan; every candidate within twice the float
 * error bound of the float maximum is re-scored in double, and the row goes to
 * the best double score (lowest index on ties). The naive reference scores
 * every centroid in double, so both give the same assignment for every row,
 * whatever the blocking, thread count, rank count or pruning. Centroid sums
 * are exact 64-bit fixed-point sums (2^-31 units), so they too are identical
 * for any order of addition (threads, ranks, incremental updates).
 * Consequently assign and centroids are bit-identical across thread counts,
 * runs with one seed, and MPI rank counts.
 *
 * Pruning (exact): after an update a unit row's score against centroid c
 * changes by at most its drift ||c_new - c_old|| (Cauchy-Schwarz per part).
 * A row is skipped when Hamerly's bounds (own score vs every other) cannot
 * cross; else when the exact best of its 8 kept candidates beats a bound on
 * every other centroid (the centroids that moved most are scored with one
 * small sgemm per block, the rest bounded by the largest remaining drift);
 * else it is scored in full. Same assignments as Lloyd.
 *
 * Thread-safety: a call uses OpenMP internally; distinct calls on distinct
 * results may run concurrently only if BLAS is pinned to one thread.
 */
#ifndef STRATA_KMEANS_H
#define STRATA_KMEANS_H

#include "strata/strata.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Collective hooks (MPI or anything else); NULL means one process          */
/* ------------------------------------------------------------------------ */

/* Every rank must call the library with the same parameters; rows are split
 * between ranks as contiguous global ranges in rank order. Hooks return 0 on
 * success. */
typedef struct strata_kmeans_comm {
    int rank;  /* this process, 0 .. size-1 */
    int size;  /* number of processes       */
    /* In-place element-wise sum of buf[0..n) over all ranks. */
    int (*allreduce_i64)(void *ud, int64_t *buf, size_t n);
    /* Broadcast of bytes from root to every rank. */
    int (*bcast)(void *ud, void *buf, size_t bytes, int root);
    void *ud;
} strata_kmeans_comm;

/* ------------------------------------------------------------------------ */
/* Parameters                                                                */
/* ------------------------------------------------------------------------ */

typedef enum strata_kmeans_init {
    STRATA_KMEANS_INIT_PP = 0,  /* k-means++ over a deterministic sample */
    STRATA_KMEANS_INIT_RANDOM   /* K distinct random rows                */
} strata_kmeans_init;

typedef struct strata_kmeans_params {
    int k;                  /* K per source (0: use cluster_size)                */
    int64_t cluster_size;   /* > 0: K per source = ceil(n_source / cluster_size) */
    int niter;              /* Lloyd iterations, default 25 (stops early when no
                               row changes: further iterations are no-ops)       */
    int nredo;              /* runs with different seeds, best kept; default 1   */
    strata_kmeans_init init;/* default k-means++                                 */
    int64_t init_sample;    /* rows k-means++ draws from; 0: min(n, 16K + 1024)  */
    int64_t max_points_per_centroid; /* 0: train on every row (default);
                               else on a seeded sample of K*M rows per source    */
    int64_t max_cluster_size; /* 0: none; else split bigger clusters by
                               recursive 2-means                                 */
    int bounds;             /* 1 (default): exact bound-based pruning            */
    uint64_t seed;          /* default 1                                         */
    strata_progress progress; /* stage "kmeans", unit "iter"                     */
    const strata_kmeans_comm *comm; /* NULL: single process                      */
} strata_kmeans_params;

strata_kmeans_params strata_kmeans_default_params(void);

/* ------------------------------------------------------------------------ */
/* Input: this rank's rows                                                   */
/* ------------------------------------------------------------------------ */

typedef struct strata_kmeans_input {
    int64_t n_global;       /* N rows over all ranks                         */
    int64_t row0;           /* global index of this rank's first row         */
    int64_t n_local;        /* rows held here                                */
    int nparts;             /* 1 spherical, 2 asymmetric ([q (+) d])         */
    const float *x[2];      /* part p: [n_local, dim[p]], row-major          */
    int64_t dim[2];         /* D of each part                                */
    const int32_t *source;  /* [n_local] source id per row, or NULL          */
    int n_sources;          /* >= 1 when source is given                     */
    const char *name[2];    /* name of each part (its file, say) that starts
                               an error about one of its rows, or NULL       */
} strata_kmeans_input;

/* ------------------------------------------------------------------------ */
/* Result                                                                    */
/* ------------------------------------------------------------------------ */

typedef struct strata_kmeans_iter {
    double objective;   /* sum over training rows of s(i, a(i)) w.r.t. the
                           centroids used for this assignment                */
    double seconds;     /* wall time of the iteration                        */
    int64_t changed;    /* rows whose cluster changed                        */
    int64_t scored;     /* rows re-scored (the rest were pruned by bounds)   */
} strata_kmeans_iter;

typedef struct strata_kmeans_run {
    int source;             /* source id                                     */
    int64_t n;              /* rows of the source                            */
    int64_t n_used;         /* rows used for training                        */
    int k;                  /* K for this source (before splitting)          */
    int first_cluster;      /* global id of its first cluster                */
    int best_redo;          /* which redo was kept                           */
    double *redo_objective; /* [nredo] final training objective of each run  */
    int nredo;
    strata_kmeans_iter *iters; /* [n_iter] of the kept run                   */
    int n_iter;
    double init_seconds;    /* initialization time of the kept run           */
} strata_kmeans_run;

typedef struct strata_kmeans_result {
    int k;                  /* K total (global ids 0..K-1), after splitting   */
    int64_t dim;            /* Dt = sum of part dims                          */
    int nparts;
    float *centroids;       /* [K, Dt], each part unit-norm (zero if empty)  */
    int32_t *assign;        /* [n_local] global cluster of each local row    */
    int32_t *cluster_source;/* [K] source of each cluster                    */
    int32_t *split_from;    /* [K] cluster it was split from, or -1          */
    int64_t *size;          /* [K] rows over all ranks                       */
    double *cos_centroid;   /* [K] mean over members of s(i, k) / nparts     */
    double *pairwise;       /* [K * nparts] mean pairwise cosine per part
                               (NaN for clusters of < 2 rows)                */
    double objective;       /* sum over all rows of s(i, a(i))                */
    int64_t n_used;         /* rows used for training, all sources           */
    int n_split;            /* clusters created by --max-cluster-size        */
    strata_kmeans_run *runs;/* [n_runs], one per non-empty source            */
    int n_runs;
    double seconds;         /* total wall time                               */
} strata_kmeans_result;

/* Clusters the rows of `in` (per source when in->source is set): validates
 * every row first (NaN, Inf or all-zero rows are STRATA_EFORMAT naming the
 * global row, part and column, after the part's name when given), initializes, runs Lloyd with pruning, keeps the best
 * of nredo runs, repairs empty clusters by splitting a big one, assigns every
 * row to its nearest final centroid, splits clusters above max_cluster_size,
 * and fills per-cluster statistics. K larger than the rows available is an
 * error (per source, K is capped at the source's row count instead).
 * res is overwritten; free it with strata_kmeans_result_free. With a comm,
 * every rank returns the same status and the same global fields. */
strata_status strata_kmeans_fit(strata_kmeans_result *res,
                                const strata_kmeans_input *in,
                                const strata_kmeans_params *p,
                                strata_error *err);
void strata_kmeans_result_free(strata_kmeans_result *res);

/* Imbalance factor K * sum n_k^2 / N^2 (1 = perfectly balanced), over the
 * clusters [first, first + k). */
double strata_kmeans_imbalance(const int64_t *size, int first, int k);

/* Writes stats.json atomically: parameters, per source its runs and
 * per-iteration objective/seconds, per cluster size, source, mean cosine to
 * the centroid and mean pairwise cosine, imbalance, points used.
 * source_names may be NULL (ids are written). */
strata_status strata_kmeans_write_stats(const char *path,
                                        const strata_kmeans_result *res,
                                        const strata_kmeans_params *p,
                                        const char *const *source_names,
                                        strata_error *err);

/* ------------------------------------------------------------------------ */
/* Building blocks, exposed for tests and benchmarks (one process)           */
/* ------------------------------------------------------------------------ */

/* Lloyd from given centroids over all rows of `in` (sources ignored, no
 * redo, no empty-cluster repair when repair == 0). centroids [K, Dt] is
 * normalized per part on entry and overwritten with the final centroids;
 * assign [n_local] receives the assignment to the final centroids. iters
 * [niter + 1] (may be NULL) receives per-iteration records; *n_iter the count.
 * bounds selects pruning. */
strata_status strata_kmeans_lloyd(float *centroids, int32_t *assign,
                                  const strata_kmeans_input *in, int k,
                                  int niter, int bounds, int repair,
                                  strata_kmeans_iter *iters, int *n_iter,
                                  strata_error *err);

/* Naive reference of strata_kmeans_lloyd (repair == 0): every score in
 * double, centroid sums in double, no blocking, no pruning, one thread. */
strata_status strata_kmeans_lloyd_naive(float *centroids, int32_t *assign,
                                        const strata_kmeans_input *in, int k,
                                        int niter, double *objective,
                                        strata_error *err);

#ifdef __cplusplus
}
#endif

#endif /* STRATA_KMEANS_H */
