/*
 * kmeans_internal.h — pieces shared by the files of src/kmeans/: view.c
 * (validation, views, sampling), init.c, assign.c, lloyd.c (state, update,
 * the loop), lloyd_api.c (public blocks, naive reference) and fit.c
 * (per-source driver, splitting, statistics, stats.json).
 *
 * A "view" is the subset of this rank's rows that one clustering problem
 * works on (all rows, one source, one cluster being split, a training
 * sample), together with where those rows sit in the problem's global order
 * (view position = rows of the view on lower ranks + local position).
 */
#ifndef STRATA_KMEANS_INTERNAL_H
#define STRATA_KMEANS_INTERNAL_H

#include "strata/kmeans.h"

/* Fixed-point unit of centroid sums: a normalized component v becomes
 * (int64)(v * 2^31) (truncated). |v| <= 1 and N < 2^31 rows keep every sum
 * below 2^62; integer sums are exact, so any order gives the same bits. */
#define KM_FX_SCALE 2147483648.0

typedef struct km_view {
    const strata_kmeans_input *in;
    const float *invn;        /* [nparts, n_local] inverse row norms per part */
    const int64_t *idx;       /* [n] local row of each view row, NULL: identity */
    int64_t n;                /* view rows held here                         */
    int64_t n_global;         /* view rows over all ranks                    */
    int64_t gpos0;            /* view position of this rank's first row      */
    int64_t *rank_n;          /* [P] view rows per rank (owned), NULL if P=1 */
    const strata_kmeans_comm *comm; /* NULL or size > 1                      */
} km_view;

/* Builds a view (one allreduce when comm is set). */
strata_status km_view_make(km_view *v, const strata_kmeans_input *in,
                           const float *invn, const int64_t *idx, int64_t n,
                           const strata_kmeans_comm *comm, strata_error *err);
void km_view_free(km_view *v);

static inline int64_t km_dt(const strata_kmeans_input *in) {
    return in->dim[0] + (in->nparts > 1 ? in->dim[1] : 0);
}

/* Normalized row i of the view into out [Dt]. */
void km_load_row(const km_view *v, int64_t i, float *out);
/* Double-precision score of a normalized row against a centroid, the one
 * function both the fast kernel and the naive reference decide with. */
double km_dscore(const float *x, const float *c, int64_t dt);
/* Normalizes each part of c [Dt] to unit norm (left as is when zero). */
void km_normalize_parts(float *c, int nparts, const int64_t *dim);
/* Sum allreduce (no-op without comm); EIO on failure. */
strata_status km_allreduce(const strata_kmeans_comm *comm, int64_t *buf, size_t n,
                           strata_error *err);

/* Sorted sample of m distinct positions out of n (selection sampling). */
void km_sample_sorted(strata_rng *rng, int64_t n, int64_t m, int64_t *out);
/* Gathers the normalized rows at sorted view positions pos[0..m) into
 * G [m, Dt] on every rank. */
strata_status km_gather(const km_view *v, const int64_t *pos, int64_t m, float *G,
                        strata_error *err);

/* Initial centroids C [K, Dt] (normalized per part). */
strata_status km_init(float *C, const km_view *v, int k, strata_kmeans_init init,
                      int64_t init_sample, strata_rng *rng, strata_error *err);

/* Candidates kept per row: the KM_NCAND best centroids of the last full
 * scoring. A row whose best candidate beats the bound on every other
 * centroid is assigned from KM_NCAND exact scores instead of K. */
#define KM_NCAND 8
/* At most K / KM_MOVED_DIV centroids count as moved: rows re-score against
 * them (a 1/KM_MOVED_DIV sgemm) and bound the others by the largest drift
 * among those others. */
#define KM_MOVED_DIV 8
/* The pruning tests run on KM_FILTER_BLOCKS full-scoring blocks at a time,
 * so the rows they leave fill whole sgemm calls (the moved-set scores of
 * such a block, KM_FILTER_BLOCKS * B x K / KM_MOVED_DIV, fit in [B, K]). */
#define KM_FILTER_BLOCKS 4

/* Lloyd state over one view. */
typedef struct km_state {
    int k;
    int64_t dt, n;
    float *C;          /* [K, Dt] current centroids                        */
    float *Cold;       /* [K, Dt] centroids before the last update         */
    int64_t *S;        /* [K, Dt] fixed-point sums of assigned rows (global) */
    int64_t *cnt;      /* [K] rows assigned (global)                       */
    int64_t *red;      /* [K*Dt + K + 2] deltas to reduce                  */
    int32_t *a;        /* [n] cluster of each view row, -1 before the first */
    int32_t *prev;     /* [n] previous assignment                          */
    double *lb, *ub;   /* [n] bounds on own / best other score             */
    int32_t *cand;     /* [n, ncand] best centroids at the last full scoring */
    double *ucand;     /* [n] bound on every score outside cand[]           */
    int32_t *cnext;    /* [n] the next best after cand[] then, -1: none     */
    int ncand;         /* min(KM_NCAND, K)                                  */
    double *drift;     /* [K] movement of each centroid at the last update */
    double dmax1, dmax2;
    int dmax_i;
    int32_t *moved;    /* [K] the centroids that drifted most (nmoved)      */
    float *CM;         /* [nmoved, Dt] their rows, for one sgemm per block  */
    int nmoved;        /* 0..K/KM_MOVED_DIV                                 */
    double d_stay;     /* largest drift outside moved[]                     */
    int bounds_valid;
    int64_t *mv_off;   /* [2K + 2] move lists offsets (in, out)            */
    int64_t *mv;       /* [2n] rows moving in / out                        */
    int64_t *rep;      /* [K] sizes while repairing empty clusters (kept
                          here so that the repair cannot fail)              */
} km_state;

strata_status km_state_init(km_state *s, const km_view *v, int k, strata_error *err);
void km_state_free(km_state *s);

/* One assignment pass against s->C, then the sums and counts follow the
 * moves (global). changed/scored are global counts. */
strata_status km_assign(km_state *s, const km_view *v, int use_bounds,
                        int64_t *changed, int64_t *scored, strata_error *err);
/* sum_k S_k . C_k (training objective for the current assignment). */
double km_objective(const km_state *s);
/* New centroids from the sums; empty clusters repaired when repair is set
 * (FAISS's rule: split a cluster drawn with probability ~ size - 1);
 * drift and bound shifts updated. Returns the number repaired. */
int km_update(km_state *s, const strata_kmeans_input *in, strata_rng *rng, int repair);

/* Per-iteration records, grown as iterations run: memory follows the
 * iterations done (Lloyd stops early), not the niter asked for. */
typedef struct km_iters {
    strata_kmeans_iter *v; /* [n] (owned) */
    int n, cap;
} km_iters;
void km_iters_free(km_iters *r);

/* Full Lloyd on a view from s->C: niter iterations (early stop when nothing
 * moves), then a final assignment to the final centroids. rec (may be NULL)
 * is reset and receives one record per iteration run. */
typedef struct km_prog {
    const strata_progress *progress;
    int64_t done, total;
} km_prog;
strata_status km_lloyd(km_state *s, const km_view *v, int niter, int bounds,
                       int repair, strata_rng *rng, km_iters *rec,
                       int *n_iter, km_prog *prog, strata_error *err);

/* Validates rows (NaN, Inf, zero) and fills invn [nparts, n_local]. */
strata_status km_validate(const strata_kmeans_input *in, float *invn,
                          const strata_kmeans_comm *comm, strata_error *err);

/* 0: score candidates without AVX2 even where the CPU has it (tests). */
void strata__kmeans_set_simd(int on);
/* 0 after strata__kmeans_set_simd(0): kernels take their portable path. */
int km_simd_allowed(void);


#endif
