/*
 * plan.c — building a batch plan: input checks, then for each stage its
 * groups, their centroids and neighbour lists, its passes, and at the end the
 * false-negative mask.
 *
 * A pass (one epoch of one stage) works group by group (the whole set for
 * random, a source, or a (source, cluster)): the group's members are
 * shuffled with an RNG stream derived from (seed, stage, pass, group) and
 * fed to a batcher that fills one batch at a time. A pair whose query or
 * positive hash is already in the batch being filled is deferred and retried
 * first in the next batch. Cluster leftovers (a group's tail and deferred
 * pairs) are chained per source by nearest centroid and batched again
 * ("merged" batches). The last short batch of a source (of the set, for
 * random) is kept with -1 pads, or dropped with drop_last. Every step is
 * sequential and driven by seeded streams, so the plan does not depend on
 * the thread count; only centroid means, neighbour lists and masks use
 * OpenMP, each thread owning its outputs.
 *
 * The pieces: strategy.c (groups), pack.c (batcher, passes), order.c
 * (neighbours, greedy walk, batch order), mask.c (masks), params.c (names,
 * defaults, curriculum specs); plan_build.h holds what they share.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <cblas.h>

#include "plan/plan_internal.h"
#include "plan/plan_build.h"
#include "core/internal.h"

/* ------------------------------------------------------------------------ */
/* Validation                                                                */
/* ------------------------------------------------------------------------ */

static strata_status check_inputs(const strata_plan_data *d, const strata_plan_stage *stages,
                                  int n_stages, const strata_plan_params *p, int64_t *Ks,
                                  strata_error *err) {
    if (!d || d->n < 1) return strata_error_set(err, STRATA_EINVAL, "plan: no pairs");
    if (n_stages < 1 || !stages) return strata_error_set(err, STRATA_EINVAL, "plan: no stage");
    if (p->batch_size < 1)
        return strata_error_set(err, STRATA_EINVAL, "plan: batch size must be >= 1 (got %lld)",
                                (long long)p->batch_size);
    if (p->batch_size > d->n)
        return strata_error_set(err, STRATA_EINVAL,
                                "plan: batch size %lld is larger than the data (%lld pairs)",
                                (long long)p->batch_size, (long long)d->n);
    if (p->batch_size > (1 << 20))
        return strata_error_set(err, STRATA_EINVAL, "plan: batch size %lld too large",
                                (long long)p->batch_size);
    if (p->epochs < 1) return strata_error_set(err, STRATA_EINVAL, "plan: epochs must be >= 1");
    if (d->source) {
        if (d->n_sources < 1) return strata_error_set(err, STRATA_EINVAL, "plan: n_sources < 1");
        for (int64_t i = 0; i < d->n; i++)
            if (d->source[i] < 0 || d->source[i] >= d->n_sources)
                return strata_error_set(err, STRATA_EINVAL,
                                        "plan: pair %lld: source id %d outside [0, %d)",
                                        (long long)i, d->source[i], d->n_sources);
    }
    if ((p->filter || p->order == STRATA_ORDER_TSP) && (d->fq || d->fd) &&
        (!d->fq || !d->fd || d->fdim < 1))
        return strata_error_set(err, STRATA_EINVAL, "plan: surrogate embeddings need both q and d");
    if (p->filter && (!d->fq || !d->fd))
        return strata_error_set(err, STRATA_EINVAL,
                                "plan: the false-negative filter needs surrogate embeddings "
                                "(--query-emb and --doc-emb)");
    if (p->filter && (!isfinite(p->margin) || (p->use_threshold && !isfinite(p->threshold))))
        return strata_error_set(err, STRATA_EINVAL, "plan: margin/threshold must be finite");
    for (int s = 0; s < n_stages; s++) {
        const strata_plan_stage *st = &stages[s];
        const char *nm = st->name ? st->name : strata_plan_strategy_name(st->strategy);
        if ((unsigned)st->strategy > STRATA_PLAN_CLUSTER)
            return strata_error_set(err, STRATA_EINVAL, "plan: stage %d: unknown strategy", s + 1);
        if (n_stages > 1 && !(st->share > 0 && isfinite(st->share)))
            return strata_error_set(err, STRATA_EINVAL, "plan: stage %d (%s): share must be > 0",
                                    s + 1, nm);
        Ks[s] = 0;
        if (st->strategy == STRATA_PLAN_RANDOM && p->order == STRATA_ORDER_TSP && n_stages == 1)
            return strata_error_set(err, STRATA_EINVAL,
                                    "plan: stage %d (%s): --order tsp needs the source or "
                                    "cluster strategy (random batches have no centroid)", s + 1, nm);
        if (st->strategy != STRATA_PLAN_CLUSTER) {
            if (st->strategy == STRATA_PLAN_SOURCE && p->order == STRATA_ORDER_TSP &&
                !(d->fq && d->fd))
                return strata_error_set(err, STRATA_EINVAL,
                                        "plan: stage %d (%s): --order tsp with source batches "
                                        "needs surrogate embeddings for the centroids", s + 1, nm);
            continue;
        }
        if (!st->assign)
            return strata_error_set(err, STRATA_EINVAL,
                                    "plan: stage %d (%s): the cluster strategy needs an "
                                    "assignment (--assign)", s + 1, nm);
        int64_t K = st->k, mx = -1;
        for (int64_t i = 0; i < d->n; i++) {
            int32_t a = st->assign[i];
            if (a < 0 || (K > 0 && a >= K))
                return strata_error_set(err, STRATA_EINVAL,
                                        "plan: stage %d (%s): pair %lld: cluster id %d outside "
                                        "[0, %lld)", s + 1, nm, (long long)i, a,
                                        (long long)(K > 0 ? K : INT32_MAX));
            if (a > mx) mx = a;
        }
        if (K <= 0) K = mx + 1;
        if (st->centroids && (st->cdim < 1 || st->k < 1))
            return strata_error_set(err, STRATA_EINVAL,
                                    "plan: stage %d (%s): centroids need their shape (k, cdim)",
                                    s + 1, nm);
        if (p->order == STRATA_ORDER_TSP && !st->centroids && !(d->fq && d->fd))
            return strata_error_set(err, STRATA_EINVAL,
                                    "plan: stage %d (%s): --order tsp needs --centroids or "
                                    "surrogate embeddings", s + 1, nm);
        Ks[s] = K;
    }
    return STRATA_OK;
}

/* ------------------------------------------------------------------------ */
/* Build                                                                     */
/* ------------------------------------------------------------------------ */

strata_status strata_plan_build(strata_plan *out, const strata_plan_data *d,
                                const strata_plan_stage *stages, int n_stages,
                                const strata_plan_params *p, strata_error *err) {
    memset(out, 0, sizeof *out);
    if (!p) return strata_error_set(err, STRATA_EINVAL, "plan: no parameters");
    int64_t *Ks = strata_malloc_array((size_t)(n_stages > 0 ? n_stages : 1), sizeof(int64_t));
    if (!Ks) return strata_error_set(err, STRATA_ENOMEM, "plan: out of memory");
    strata_status st = check_inputs(d, stages, n_stages, p, Ks, err);
    if (st) { strata_free(Ks); return st; }

    const int64_t N = d->n, B = p->batch_size;
    out->batch_size = B;
    out->n_pairs = N;
    out->n_stages = n_stages;
    out->stages = strata_calloc((size_t)n_stages, sizeof(strata_plan_stage_info));
    outbuf o = {out, 0, NULL};
    /* scratch: lo [N] leftovers (cluster strategy); per group [G + 1]:
     * lstart, gl, order, pos, take (allocated per stage) */
    int64_t *lo = NULL, *lstart = NULL, *gl = NULL, *order = NULL, *pos = NULL;
    uint8_t *take = NULL;
    int32_t *tmp = strata_malloc_array((size_t)B, sizeof(int32_t));
    if (!out->stages || !tmp) {
        st = strata_error_set(err, STRATA_ENOMEM, "plan: out of memory");
        goto done;
    }

    /* steps per stage: exact passes for one stage, shares of E x random
     * batches for a curriculum */
    double total_share = 0;
    for (int s = 0; s < n_stages; s++) total_share += n_stages > 1 ? stages[s].share : 1.0;
    int64_t steps_total = (int64_t)p->epochs * (p->drop_last ? N / B : (N + B - 1) / B);
    /* room for the usual count up front (E passes of N/B batches plus a short
     * batch per source each, and one spare pass), so the output rarely moves */
    {
        int64_t guess = ((int64_t)p->epochs + 1) * ((N + B - 1) / B + (d->source ? d->n_sources : 1));
        if (plan__out_reserve(&o, guess)) {
            st = strata_error_set(err, STRATA_ENOMEM, "plan: out of memory");
            goto done;
        }
    }
    double cum = 0;
    int64_t prev_cut = 0;
    for (int s = 0; s < n_stages && !st; s++) {
        const strata_plan_stage *sg = &stages[s];
        strata_plan_stage_info *info = &out->stages[s];
        info->strategy = sg->strategy;
        info->name = sg->name ? strata_strdup(sg->name) : NULL;
        if (sg->name && !info->name) {
            st = strata_error_set(err, STRATA_ENOMEM, "plan: out of memory");
            break;
        }
        info->share = (n_stages > 1 ? sg->share : 1.0) / total_share;
        info->first_batch = out->n_batches;
        cum += info->share;
        int64_t cut = s == n_stages - 1 ? steps_total : (int64_t)llround(cum * (double)steps_total);
        int64_t target = cut - prev_cut;
        prev_cut = cut;

        groups g;
        st = plan__groups_build(&g, d, sg->strategy, sg->assign, Ks[s], err);
        if (st) break;
        info->n_groups = g.G;
        strata_free(lstart); strata_free(gl); strata_free(order); strata_free(pos);
        strata_free(take);
        lstart = strata_malloc_array((size_t)g.G + 1, sizeof(int64_t));
        gl = strata_malloc_array((size_t)g.G + 1, sizeof(int64_t));
        order = strata_malloc_array((size_t)g.G + 1, sizeof(int64_t));
        pos = strata_malloc_array((size_t)g.G + 1, sizeof(int64_t));
        take = strata_calloc((size_t)g.G + 1, 1);
        if (!lo && sg->strategy == STRATA_PLAN_CLUSTER)
            lo = strata_malloc_array((size_t)N, sizeof(int64_t));
        if (!lstart || !gl || !order || !pos || !take ||
            (sg->strategy == STRATA_PLAN_CLUSTER && !lo)) {
            plan__groups_free(&g);
            st = strata_error_set(err, STRATA_ENOMEM, "plan: out of memory");
            break;
        }
        int need_cent = (p->order == STRATA_ORDER_TSP && sg->strategy != STRATA_PLAN_RANDOM) ||
                        (sg->strategy == STRATA_PLAN_CLUSTER && !p->drop_last);
        if (need_cent) st = plan__groups_centroids(&g, d, sg, err);
        if (!st && p->order == STRATA_ORDER_TSP && sg->strategy != STRATA_PLAN_RANDOM && g.G > 1) {
            g.M = g.G - 1 < NBR_M ? (int)(g.G - 1) : NBR_M;
            st = plan__neighbours(g.cent, g.G, g.cdim, g.M, &g.nbr, err);
        }
        pass_ctx c;
        memset(&c, 0, sizeof c);
        c.o = &o; c.d = d; c.st = sg; c.p = p; c.g = &g; c.info = info; c.stage = s;
        c.tmp = tmp;
        if (!st && plan__bt_init(&c.bt, B, d->qhash, d->phash))
            st = strata_error_set(err, STRATA_ENOMEM, "plan: out of memory");
        for (int pass = 0; !st; pass++) {
            if (n_stages == 1 && pass >= p->epochs) break;
            if (n_stages > 1 && out->n_batches - info->first_batch >= target) break;
            int64_t before = out->n_batches;
            c.pass = pass;
            st = plan__run_pass(&c, lo, lstart, gl, take, order, pos, err);
            info->passes = pass + 1;
            if (!st && out->n_batches == before)
                st = strata_error_set(err, STRATA_EINVAL,
                                      "plan: stage %d (%s) yields no batch: every group is "
                                      "smaller than the batch size %lld with --drop-last",
                                      s + 1, sg->name ? sg->name : strata_plan_strategy_name(sg->strategy),
                                      (long long)B);
            strata_progress_report(&p->progress, "plan", n_stages == 1 ? pass + 1 : out->n_batches,
                                   n_stages == 1 ? p->epochs : steps_total,
                                   n_stages == 1 ? "passes" : "batches");
        }
        if (!st && n_stages > 1) out->n_batches = info->first_batch + target;
        info->n_batches = out->n_batches - info->first_batch;
        /* merged / padded over the batches kept (a curriculum cuts the last
         * pass short); the drop and defer counts cover the passes run */
        info->merged_batches = info->padded_batches = 0;
        for (int64_t b = info->first_batch; !st && b < out->n_batches; b++) {
            info->merged_batches += out->batch_nclusters[b] > 1;
            info->padded_batches += out->batches[b * B + B - 1] < 0;
        }
        plan__bt_free(&c.bt);
        plan__groups_free(&g);
    }
    if (!st && out->n_batches == 0)
        st = strata_error_set(err, STRATA_EINVAL, "plan: no batches");
    if (!st && p->filter)
        st = strata_plan_compute_mask(out, d->fq, d->fd, N, d->fdim, p->margin, p->use_threshold,
                                      p->threshold, p->progress, err);
    if (!st) {
        /* count valid off-diagonal slots even without a mask */
        int64_t offdiag = 0;
        for (int64_t b = 0; b < out->n_batches; b++) {
            int64_t v = 0;
            for (int64_t i = 0; i < B; i++) v += out->batches[b * B + i] >= 0;
            offdiag += v * (v - 1);
        }
        out->n_offdiag = offdiag;
    }
done:
    strata_free(Ks); strata_free(lo); strata_free(lstart); strata_free(gl);
    strata_free(order); strata_free(pos); strata_free(take); strata_free(tmp);
    strata_free(o.unit);
    if (st) strata_plan_free(out);
    return st;
}
