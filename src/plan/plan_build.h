/*
 * plan_build.h — what the files of the plan builder share: plan.c (checks,
 * the stage loop), strategy.c (groups), pack.c (output, batcher, passes)
 * and order.c (neighbours, walk, batch order). Not public.
 */
#ifndef STRATA_PLAN_BUILD_H
#define STRATA_PLAN_BUILD_H

#include "strata/plan.h"
#include "core/internal.h"

/* Neighbours kept per group for the TSP walk. */
#define NBR_M 32

/* The plan being grown, with the TSP unit of each batch. */
typedef struct outbuf {
    strata_plan *p;
    int64_t cap;      /* batches allocated                                  */
    int64_t *unit;    /* [cap] TSP unit (group) of each batch               */
} outbuf;

/* The partition of the pairs used by one stage. */
typedef struct groups {
    int64_t G;          /* number of groups                                   */
    int32_t *gid;       /* [N] group of each pair                             */
    int64_t *start;     /* [G + 1] member ranges in mem                       */
    int64_t *mem;       /* [N] members, grouped (shuffled in place per pass)  */
    int32_t *gsource;   /* [G] source of the group (-1 for random)            */
    int32_t *gcluster;  /* [G] cluster of the group (-1 unless cluster)       */
    float *cent;        /* [G, cdim] unit-norm centroids or NULL              */
    int64_t cdim;
    int32_t *nbr;       /* [G, M] nearest other groups (TSP), or NULL         */
    int M;
} groups;

/* The batch being filled, with the hash tables of the duplicate rule. */
typedef struct batcher {
    int64_t B;
    const uint64_t *qh, *ph;   /* [N] or NULL                               */
    uint64_t *tq, *tp;         /* [T] open-addressing tables (hash values)  */
    uint32_t *sq, *sp;         /* [T] stamps: slot used in current batch    */
    uint32_t stamp;
    int64_t tmask;             /* T - 1                                     */
    int64_t *cur, ncur;        /* [B] the batch being filled                */
    int64_t *pend, npend, cap; /* deferred pairs                            */
} batcher;

/* Everything one pass of one stage works with. */
typedef struct pass_ctx {
    outbuf *o;
    const strata_plan_data *d;
    const strata_plan_stage *st;
    const strata_plan_params *p;
    groups *g;
    strata_plan_stage_info *info;
    batcher bt;
    int stage, pass;
    int merged;               /* batches now emitted are merged leftovers   */
    int64_t cur_group;        /* group of the batches now emitted           */
    int64_t swap_b0;          /* first batch of the current source / pass   */
    int32_t *tmp;             /* [B] scratch for cluster counts             */
} pass_ctx;

/* Group ids: random -> one group; source -> the source; cluster -> dense
 * ids of (source, cluster) keys in increasing key order. (strategy.c) */
strata_status plan__groups_build(groups *g, const strata_plan_data *d,
                                 strata_plan_strategy strat, const int32_t *assign, int64_t K,
                                 strata_error *err);
/* Frees g's arrays and zeroes it. (strategy.c) */
void plan__groups_free(groups *g);
/* Unit-norm group centroids (g->cent), or none when there is nothing
 * to compute them from. (strategy.c) */
strata_status plan__groups_centroids(groups *g, const strata_plan_data *d,
                                     const strata_plan_stage *st, strata_error *err);
/* Room for `extra` more batches in o->p (0 ok, -1 out of memory). (pack.c) */
int plan__out_reserve(outbuf *o, int64_t extra);
/* Batcher for batches of B (0 ok, -1 out of memory). (pack.c) */
int plan__bt_init(batcher *b, int64_t B, const uint64_t *qh, const uint64_t *ph);
/* Frees the batcher's tables. (pack.c) */
void plan__bt_free(batcher *b);
/* One pass of a stage: appends its batches to the plan, in order. (pack.c) */
strata_status plan__run_pass(pass_ctx *c, int64_t *lo, int64_t *lstart, int64_t *gl,
                             uint8_t *take, int64_t *order, int64_t *pos, strata_error *err);
/* nbr[i] = the M most similar other rows of C [G, dim] (unit rows). (order.c) */
strata_status plan__neighbours(const float *C, int64_t G, int64_t dim, int M, int32_t **out,
                               strata_error *err);
/* Greedy nearest-neighbour walk over the units with take[u] != 0. (order.c) */
int64_t plan__greedy_walk(const float *C, int64_t dim, const int32_t *nbr, int M, uint8_t *take,
                          const int64_t *cand, int64_t ncand, int64_t start, int64_t *order);
/* Reorders the batches [b0, n_batches): random permutation or TSP walk. (order.c) */
strata_status plan__order_pass(pass_ctx *c, int64_t b0, uint8_t *take, int64_t *order,
                               strata_error *err);

#endif
