/*
 * plan.h — the batch planner: stratified minibatches (random | source |
 * cluster), packing of clusters into equal batches, random or greedy-TSP
 * order, the no-duplicate-text rule, false-negative masks (CDE Eq. 4),
 * curricula made of stages, and batch-hardness diagnostics.
 *
 * The planner works on arrays, not on text: a source id per pair, a cluster
 * id per pair (assign.npy from `strata cluster`), optional centroids, 64-bit
 * hashes of each query and positive text (duplicate rule), and optional
 * surrogate embeddings (masks, hardness). The CLI (`strata plan`) loads the
 * pairs and builds these arrays.
 *
 * On-disk plan (a directory; see docs/plan.md):
 *   batches.npy  int64 [n_batches, B]  pair indices, -1 pads (only in a short
 *                final batch that was kept)
 *   mask.npy     uint8 [n_batches, B, W], W = ceil(B / 8), bit-packed in
 *                little-endian bit order: bit j of row i (byte j/8, bit j%8)
 *                is set <=> in-batch document j is excluded from query i's
 *                softmax partition. Never the diagonal, never a pad. Absent
 *                file = no masking.
 *   plan.json    parameters, counts, per-batch source/cluster/stage/epoch,
 *                per-stage info, masked fraction, the fingerprint of the
 *                pairs planned.
 *   manifest.json  the directory is one unit (io.h): marked incomplete
 *                before the first file, listing the files when done.
 *
 * Dimension letters: N pairs, K clusters, D embedding dims, B batch size,
 * W = ceil(B/8) mask bytes per row, G groups (source or (source, cluster)).
 *
 * Thread-safety: a built or loaded strata_plan is read-only data and may be
 * shared. Building uses OpenMP internally (masks, TSP neighbour lists);
 * results are identical for any thread count.
 */
#ifndef STRATA_PLAN_H
#define STRATA_PLAN_H

#include "strata/strata.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Parameters                                                                */
/* ------------------------------------------------------------------------ */

typedef enum strata_plan_strategy {
    STRATA_PLAN_RANDOM = 0,  /* shuffled pairs, batches mix sources          */
    STRATA_PLAN_SOURCE,      /* every batch from one source                   */
    STRATA_PLAN_CLUSTER      /* every batch from one (source, cluster)        */
} strata_plan_strategy;

typedef enum strata_plan_order {
    STRATA_ORDER_RANDOM = 0, /* batches of an epoch in random order           */
    STRATA_ORDER_TSP         /* greedy nearest-neighbour walk over centroids  */
} strata_plan_order;

/* Parses "random" | "source" | "cluster" (resp. "random" | "tsp"). Returns
 * 0 on success, -1 for an unknown name. */
int strata_plan_strategy_parse(const char *s, strata_plan_strategy *out);
int strata_plan_order_parse(const char *s, strata_plan_order *out);
const char *strata_plan_strategy_name(strata_plan_strategy s);
const char *strata_plan_order_name(strata_plan_order o);

/* What the planner knows about the pairs. All arrays are borrowed. */
typedef struct strata_plan_data {
    int64_t n;               /* N pairs                                       */
    const int32_t *source;   /* [N] source id in [0, n_sources); NULL: one    */
    int n_sources;           /* number of sources (>= 1)                      */
    const uint64_t *qhash;   /* [N] hash of each query text; NULL: no rule    */
    const uint64_t *phash;   /* [N] hash of each positive text; NULL: no rule */
    const float *fq;         /* [N, fdim] surrogate query embeddings or NULL  */
    const float *fd;         /* [N, fdim] surrogate document embeddings       */
    int64_t fdim;            /* D of fq/fd                                    */
} strata_plan_data;

/* One stage of a plan (a plan without a curriculum has exactly one). */
typedef struct strata_plan_stage {
    strata_plan_strategy strategy;
    const int32_t *assign;    /* [N] cluster id per pair (cluster strategy)   */
    int64_t k;                /* K: ids must lie in [0, K); 0 = max id + 1    */
    const float *centroids;   /* [K, cdim] cluster centroids or NULL          */
    int64_t cdim;             /* D of centroids                               */
    double share;             /* share of the steps (curricula; > 0)          */
    const char *name;         /* label kept in plan.json; may be NULL         */
} strata_plan_stage;

typedef struct strata_plan_params {
    int64_t batch_size;       /* B (default 64)                               */
    int epochs;               /* E passes over the data (default 1)           */
    int drop_last;            /* drop leftovers instead of merging / padding  */
    strata_plan_order order;  /* default STRATA_ORDER_RANDOM                  */
    int filter;               /* compute the false-negative mask (needs fq/fd)*/
    double margin;            /* mask s(q_i,d_j) >= s(q_i,d_i) - margin (0)    */
    int use_threshold;        /* instead: mask s(q_i,d_j) >= threshold        */
    double threshold;
    uint64_t seed;            /* default 1                                    */
    strata_progress progress;
} strata_plan_params;

strata_plan_params strata_plan_default_params(void);

/* ------------------------------------------------------------------------ */
/* A plan                                                                    */
/* ------------------------------------------------------------------------ */

typedef struct strata_plan_stage_info {
    strata_plan_strategy strategy;
    char *name;                  /* owned; may be NULL                        */
    double share;                /* normalised share of the steps             */
    int64_t first_batch;         /* index of its first batch                  */
    int64_t n_batches;
    int passes;                  /* passes over the data it started           */
    int64_t n_groups;            /* sources or (source, cluster) groups       */
    int64_t merged_batches;      /* batches holding more than one cluster     */
    int64_t padded_batches;      /* short batches kept with -1 pads           */
    int64_t dropped_leftover;    /* pair slots dropped by --drop-last         */
    int64_t dropped_duplicate;   /* pairs unplaceable under the duplicate rule*/
    int64_t deferred_duplicate;  /* pairs moved to a later batch by the rule  */
} strata_plan_stage_info;

typedef struct strata_plan {
    int64_t n_batches;
    int64_t batch_size;          /* B                                         */
    int64_t n_pairs;             /* N of the data planned (0 if unknown)      */
    int64_t *batches;            /* [n_batches, B] pair indices, -1 pads      */
    uint8_t *mask;               /* [n_batches, B, W] or NULL (no masking)    */
    int32_t *batch_source;       /* [n_batches] source, -1 = mixed; or NULL   */
    int32_t *batch_cluster;      /* [n_batches] primary cluster, -1 none; NULL*/
    int32_t *batch_nclusters;    /* [n_batches] clusters in the batch (1 pure,
                                    > 1 merged leftovers, 0 no clusters); NULL */
    int32_t *batch_stage;        /* [n_batches] stage index; or NULL          */
    int32_t *batch_epoch;        /* [n_batches] pass index in its stage; NULL */
    int n_stages;
    strata_plan_stage_info *stages;  /* [n_stages] or NULL after a load      */
    int64_t n_masked;            /* mask bits set                             */
    int64_t n_offdiag;           /* valid off-diagonal (query, doc) slots     */
    uint64_t pairs_fingerprint;  /* strata_pairs_fingerprint of the pairs
                                    planned; 0: unknown (set by the caller
                                    before strata_plan_save)                  */
} strata_plan;

/* Number of bytes per mask row: ceil(B / 8). */
static inline int64_t strata_plan_mask_width(int64_t B) { return (B + 7) / 8; }

/* Bit j of a mask row (the W bytes of query i; see the on-disk format
 * above): 1 when document j is excluded from query i's partition. The one
 * decoder of the packed mask; strata_plan_mask_set the one encoder. */
static inline int strata_plan_mask_get(const uint8_t *row, int64_t j) {
    return (row[j >> 3] >> (j & 7)) & 1;
}

/* Sets bit j of a mask row. */
static inline void strata_plan_mask_set(uint8_t *row, int64_t j) {
    row[j >> 3] |= (uint8_t)(1u << (j & 7));
}

/* Builds a plan. With n_stages == 1 the plan has exactly E passes over the
 * data (every pair once per pass unless dropped). With n_stages > 1 (a
 * curriculum) the total number of steps is E * (batches of one random pass)
 * and stage s takes its normalised share of them, running as many passes of
 * its own strategy as it needs and cutting the last one short.
 *
 * Per pass and group (the whole set, a source, or a (source, cluster)): the
 * members are shuffled, cut into batches of B in order, a pair whose query
 * or positive hash is already in the batch being filled is deferred to the
 * next batch of the group. Cluster leftovers (the tail plus deferred pairs)
 * are merged, per source, along a greedy nearest-centroid chain and cut into
 * batches (recorded in batch_nclusters); the last short batch of a source
 * (or of the whole set for random) is padded with -1. With drop_last the
 * leftovers are dropped instead. Deferred pairs that no batch of their
 * group/source can take are dropped for that pass (counted).
 *
 * Errors (STRATA_EINVAL, message names the field): B < 1 or B > N, stage
 * assign missing or ids out of range / negative, centroids with too few
 * rows, TSP order without centroids or surrogate embeddings, filter without
 * fq/fd, a stage that yields no batch. *out is zeroed first and left empty
 * on failure. */
strata_status strata_plan_build(strata_plan *out, const strata_plan_data *data,
                                const strata_plan_stage *stages, int n_stages,
                                const strata_plan_params *p, strata_error *err);

/* (Re)computes plan->mask from surrogate embeddings fq/fd [n, dim] (rows
 * are normalised on the fly; zero rows score 0). Replaces any mask already
 * there, sets n_masked / n_offdiag. Pads and pairs >= n are an error. */
strata_status strata_plan_compute_mask(strata_plan *plan, const float *fq,
                                       const float *fd, int64_t n, int64_t dim,
                                       double margin, int use_threshold,
                                       double threshold, strata_progress prog,
                                       strata_error *err);

/* One batch's mask, fast (sgemm, float) and naive (double loops) kernels.
 * idx [B] pair indices (-1 pads), mask [B, W] overwritten. qn/dn [n] are
 * the row norms (fast kernel only); scratch holds
 * strata_plan_mask_scratch(B, dim) floats. Returns the number of bits set. */
static inline size_t strata_plan_mask_scratch(int64_t B, int64_t dim) {
    return (size_t)B * (size_t)dim * 2 + (size_t)B * (size_t)B + (size_t)B * 4;
}
int64_t strata_plan_mask_batch(uint8_t *mask, const int64_t *idx, int64_t B,
                               const float *fq, const float *fd, int64_t dim,
                               const float *qn, const float *dn, double margin,
                               int use_threshold, double threshold,
                               float *scratch);
int64_t strata_plan_mask_batch_naive(uint8_t *mask, const int64_t *idx,
                                     int64_t B, const float *fq,
                                     const float *fd, int64_t dim,
                                     double margin, int use_threshold,
                                     double threshold);

/* Writes DIR/batches.npy, DIR/mask.npy (or removes a stale one when the plan
 * has no mask) and DIR/plan.json, each atomically, as one unit: DIR's
 * manifest says incomplete before the first file and lists them after the
 * last (strata_dir_begin / strata_dir_commit), and plan.json is removed
 * first and written last. Creates DIR. params_json (may be NULL) is a JSON
 * object stored as "params"; plan->pairs_fingerprint, when set, is stored
 * as "pairs_fingerprint" (16 hex digits). */
strata_status strata_plan_save(const strata_plan *plan, const char *dir,
                               const char *params_json, strata_error *err);

/* Loads DIR/batches.npy, DIR/mask.npy (optional) and the per-batch source
 * and cluster arrays of DIR/plan.json (required: an incomplete plan is an
 * error, so is a manifest saying incomplete). Shapes are checked against
 * each other; pairs_fingerprint is read back (0 when absent). */
strata_status strata_plan_load(strata_plan *out, const char *dir,
                               strata_error *err);

/* Checks, before a plan directory is used with a set of pairs, that it is
 * complete (its manifest, and plan.json present) and, when plan.json records
 * a pairs fingerprint, that it equals pairs_fingerprint (0: not checked):
 * "plan/plan.json: the plan was made for other pairs ... than PAIRS_NAME". */
strata_status strata_plan_check_pairs(const char *dir, uint64_t pairs_fingerprint,
                                      const char *pairs_name, strata_error *err);

/* Frees everything a plan owns; accepts NULL; leaves *plan zeroed. */
void strata_plan_free(strata_plan *plan);

/* Mask bit of query i, document j in batch b (0 when there is no mask). */
static inline int strata_plan_masked(const strata_plan *p, int64_t b,
                                     int64_t i, int64_t j) {
    if (!p->mask) return 0;
    int64_t W = strata_plan_mask_width(p->batch_size);
    const uint8_t *row = p->mask + ((size_t)b * (size_t)p->batch_size + (size_t)i) * (size_t)W;
    return (row[j >> 3] >> (j & 7)) & 1;
}

/* ------------------------------------------------------------------------ */
/* Curriculum specification                                                  */
/* ------------------------------------------------------------------------ */

/* One parsed stage of a --stages SPEC (see docs/plan.md):
 *   SPEC  := STAGE ("," STAGE)*
 *   STAGE := STRATEGY ["=" PATH] [":" SHARE]
 * STRATEGY is random | source | cluster; PATH (cluster only) is a
 * `strata cluster` output directory (assign.npy, centroids.npy if present)
 * or an assign .npy file; SHARE a positive number (default 1; shares are
 * normalised). Strings are owned by the spec. */
typedef struct strata_plan_spec_stage {
    strata_plan_strategy strategy;
    char *path;      /* NULL or the PATH                                     */
    double share;
    char *text;      /* the stage's text as written                          */
} strata_plan_spec_stage;

/* Parses SPEC into *out (array of *n stages, free with
 * strata_plan_spec_free). Errors name the stage and the problem. */
strata_status strata_plan_spec_parse(const char *spec,
                                     strata_plan_spec_stage **out, int *n,
                                     strata_error *err);
void strata_plan_spec_free(strata_plan_spec_stage *s, int n);

/* ------------------------------------------------------------------------ */
/* Loading the planner's inputs from files                                   */
/* ------------------------------------------------------------------------ */

/* A cluster assignment as written by `strata cluster`. */
typedef struct strata_plan_clusters {
    int64_t n;             /* N entries                                     */
    int32_t *assign;       /* [N] cluster id per pair (owned)               */
    int64_t k;             /* K: centroid rows, else max id + 1             */
    float *centroids;      /* [K, cdim] (owned) or NULL                     */
    int64_t cdim;
    char *assign_path;     /* owned: the file actually read                 */
    char *centroids_path;  /* owned or NULL                                 */
} strata_plan_clusters;

/* Reads an assignment: path is an .npy file (int32 or int64, [N] or
 * [N, 1]) or a directory holding assign.npy; centroids.npy next to
 * assign.npy is used when centroids_path is NULL. The folder is checked
 * with strata_dir_check first (a `strata cluster` directory left incomplete
 * by an interrupted run is refused; a folder without manifest is read as
 * is). centroids_path, when given, must be float32 / float16 [K, D].
 * n_expected > 0: the length must match ("assign.npy: 1000 entries but the
 * pairs have 999"). Ids must lie in [0, K). */
strata_status strata_plan_clusters_load(strata_plan_clusters *out, const char *path,
                                        const char *centroids_path, int64_t n_expected,
                                        strata_error *err);
void strata_plan_clusters_free(strata_plan_clusters *c);

/* Surrogate embeddings q / d [N, D] (float32 or float16 .npy), checked:
 * both N rows (n_expected > 0), equal D, finite values. Each is returned
 * as an owned float32 copy or a zero-copy map (free with free_embeddings). */
typedef struct strata_plan_embeddings {
    int64_t n, dim;
    const float *q;       /* [N, D] */
    const float *d;       /* [N, D] */
    void *internal[2];
} strata_plan_embeddings;

strata_status strata_plan_embeddings_load(strata_plan_embeddings *out, const char *qpath,
                                          const char *dpath, int64_t n_expected,
                                          strata_error *err);
void strata_plan_embeddings_free(strata_plan_embeddings *e);

/* qh[i] / ph[i] = strata_hash64 of query / positive text i (seed 0) for the
 * n texts described by the offsets (text t = arena + off[t], length
 * off[t+1] - off[t] - 1; query of pair i at 2i, positive at 2i+1, the
 * strata_pairs layout). At 64 bits the chance of any collision among 2N
 * texts is about (2N)^2 / 2^65 (1e-5 for N = 10M), and a collision only
 * defers a pair to the next batch, so equality is not re-checked. */
void strata_plan_hash_texts(const char *arena, const int64_t *off, int64_t n,
                            uint64_t *qh, uint64_t *ph);

/* ------------------------------------------------------------------------ */
/* Hardness                                                                  */
/* ------------------------------------------------------------------------ */

/* Per batch, under a surrogate model (cosine similarities s_ij of query i
 * and document j of the batch, pads ignored). */
typedef struct strata_hardness_batch {
    int64_t n;            /* valid pairs in the batch                        */
    double mean_offdiag;  /* mean s_ij over i != j                           */
    double max_offdiag;   /* max s_ij over i != j                            */
    double loss;          /* mean InfoNCE -log softmax(s_i./tau)_i, masked j
                             removed from the partition                      */
    double top1;          /* share of i with s_ii > every unmasked s_ij      */
    double margin;        /* mean of s_ii - max unmasked s_ij                */
} strata_hardness_batch;

typedef struct strata_hardness_summary {
    int64_t n_batches;       /* batches measured (those with >= 2 pairs)     */
    double tau;
    int masked;              /* 1 if the plan's mask was applied             */
    double mean_loss;        /* averages over batches                        */
    double mean_top1;
    double mean_offdiag_sim;
    double mean_max_offdiag;
    double mean_margin;
} strata_hardness_summary;

/* Measures the first min(max_batches, n_batches) batches (max_batches <= 0:
 * all) of plan with embeddings q/d [n, dim] (normalised on the fly).
 * per_batch (may be NULL) receives one entry per measured batch; batches
 * with fewer than 2 valid pairs get n < 2 and zeros and are left out of the
 * summary. use_mask applies plan->mask when present. tau > 0. */
strata_status strata_hardness_compute(const strata_plan *plan, const float *q,
                                      const float *d, int64_t n, int64_t dim,
                                      double tau, int use_mask,
                                      int64_t max_batches,
                                      strata_hardness_batch *per_batch,
                                      strata_hardness_summary *sum,
                                      strata_error *err);

/* Naive reference for one batch (double loops, no BLAS). */
void strata_hardness_batch_naive(const strata_plan *plan, int64_t b,
                                 const float *q, const float *d, int64_t dim,
                                 double tau, int use_mask,
                                 strata_hardness_batch *out);

#ifdef __cplusplus
}
#endif

#endif /* STRATA_PLAN_H */
