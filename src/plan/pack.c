/*
 * pack.c — packing pairs into batches: the growable plan output, the
 * batcher that fills one batch at a time under the duplicate rule (a pair
 * whose query or positive is already in the batch is deferred), swaps that
 * place deferred pairs in earlier batches, leftover merging, and one pass
 * of a stage.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <cblas.h>

#include "plan/plan_internal.h"
#include "plan/plan_build.h"
#include "core/internal.h"

/* ------------------------------------------------------------------------ */
/* Growable plan output                                                      */
/* ------------------------------------------------------------------------ */

int plan__out_reserve(outbuf *o, int64_t extra) {
    strata_plan *p = o->p;
    int64_t need = p->n_batches + extra;
    if (need <= o->cap) return 0;
    int64_t cap = o->cap ? o->cap : 64;
    while (cap < need) cap *= 2;
    size_t B = (size_t)p->batch_size;
    int64_t *b = strata_realloc(p->batches, (size_t)cap * B * sizeof(int64_t));
    if (!b) return -1;
    p->batches = b;
#define GROW(field, type)                                                        \
    do {                                                                         \
        type *t = strata_realloc(field, (size_t)cap * sizeof(type));             \
        if (!t) return -1;                                                       \
        field = t;                                                               \
    } while (0)
    GROW(p->batch_source, int32_t);
    GROW(p->batch_cluster, int32_t);
    GROW(p->batch_nclusters, int32_t);
    GROW(p->batch_stage, int32_t);
    GROW(p->batch_epoch, int32_t);
    GROW(o->unit, int64_t);
#undef GROW
    o->cap = cap;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Batcher: fills one batch at a time under the duplicate rule               */
/* ------------------------------------------------------------------------ */

int plan__bt_init(batcher *b, int64_t B, const uint64_t *qh, const uint64_t *ph) {
    memset(b, 0, sizeof *b);
    b->B = B;
    b->qh = qh;
    b->ph = ph;
    int64_t T = 16;
    while (T < 4 * B) T *= 2;
    b->tmask = T - 1;
    b->tq = strata_malloc_array((size_t)T, sizeof(uint64_t));
    b->tp = strata_malloc_array((size_t)T, sizeof(uint64_t));
    b->sq = strata_calloc((size_t)T, sizeof(uint32_t));
    b->sp = strata_calloc((size_t)T, sizeof(uint32_t));
    b->cur = strata_malloc_array((size_t)B, sizeof(int64_t));
    b->stamp = 1;
    return b->tq && b->tp && b->sq && b->sp && b->cur ? 0 : -1;
}

void plan__bt_free(batcher *b) {
    strata_free(b->tq); strata_free(b->tp); strata_free(b->sq); strata_free(b->sp);
    strata_free(b->cur); strata_free(b->pend);
    memset(b, 0, sizeof *b);
}

static inline uint64_t slot_of(uint64_t h) { return (h * 0x9E3779B97F4A7C15ull) >> 17; }

static int tab_has(const batcher *b, const uint64_t *t, const uint32_t *s, uint64_t h) {
    for (uint64_t k = slot_of(h) & (uint64_t)b->tmask;; k = (k + 1) & (uint64_t)b->tmask) {
        if (s[k] != b->stamp) return 0;
        if (t[k] == h) return 1;
    }
}

static void tab_put(batcher *b, uint64_t *t, uint32_t *s, uint64_t h) {
    uint64_t k = slot_of(h) & (uint64_t)b->tmask;
    while (s[k] == b->stamp) {
        if (t[k] == h) return;
        k = (k + 1) & (uint64_t)b->tmask;
    }
    s[k] = b->stamp;
    t[k] = h;
}

static int bt_conflict(const batcher *b, int64_t x) {
    return (b->qh && tab_has(b, b->tq, b->sq, b->qh[x])) ||
           (b->ph && tab_has(b, b->tp, b->sp, b->ph[x]));
}

static void bt_add(batcher *b, int64_t x) {
    b->cur[b->ncur++] = x;
    if (b->qh) tab_put(b, b->tq, b->sq, b->qh[x]);
    if (b->ph) tab_put(b, b->tp, b->sp, b->ph[x]);
}

static void bt_newbatch(batcher *b) {
    b->ncur = 0;
    if (++b->stamp == 0) {
        memset(b->sq, 0, (size_t)(b->tmask + 1) * sizeof(uint32_t));
        memset(b->sp, 0, (size_t)(b->tmask + 1) * sizeof(uint32_t));
        b->stamp = 1;
    }
}

static int bt_defer(batcher *b, int64_t x) {
    if (b->npend == b->cap) {
        int64_t cap = b->cap ? b->cap * 2 : 64;
        int64_t *t = strata_realloc(b->pend, (size_t)cap * sizeof(int64_t));
        if (!t) return -1;
        b->pend = t;
        b->cap = cap;
    }
    b->pend[b->npend++] = x;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* One pass                                                                  */
/* ------------------------------------------------------------------------ */

static int cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* Most frequent value of v[0..n) (ties: the lowest), sorting v in place;
 * *distinct receives the number of distinct values. n must be > 0. */
static int32_t mode_i32(int32_t *v, int64_t n, int32_t *distinct) {
    qsort(v, (size_t)n, sizeof(int32_t), cmp_i32);
    int32_t best = v[0], nd = 0;
    int64_t bestn = 0;
    for (int64_t i = 0; i < n;) {
        int64_t j = i;
        while (j < n && v[j] == v[i]) j++;
        nd++;
        if (j - i > bestn) {
            bestn = j - i;
            best = v[i];
        }
        i = j;
    }
    *distinct = nd;
    return best;
}

static int emit(pass_ctx *c, const int64_t *idx, int64_t cnt) {
    strata_plan *p = c->o->p;
    const int64_t B = p->batch_size;
    if (plan__out_reserve(c->o, 1)) return -1;
    int64_t b = p->n_batches++;
    int64_t *dst = p->batches + (size_t)b * (size_t)B;
    memcpy(dst, idx, (size_t)cnt * sizeof(int64_t));
    for (int64_t i = cnt; i < B; i++) dst[i] = -1;
    if (cnt < B) c->info->padded_batches++;
    /* source: the group's, or for random batches the common source of the
     * members (-1 when mixed) */
    int32_t src;
    if (c->st->strategy != STRATA_PLAN_RANDOM) {
        src = c->g->gsource[c->cur_group];
    } else {
        src = c->d->source ? c->d->source[idx[0]] : 0;
        for (int64_t i = 1; i < cnt && src >= 0; i++)
            if ((c->d->source ? c->d->source[idx[i]] : 0) != src) src = -1;
    }
    p->batch_source[b] = src;
    p->batch_stage[b] = c->stage;
    p->batch_epoch[b] = c->pass;
    c->o->unit[b] = c->cur_group;
    if (c->st->strategy != STRATA_PLAN_CLUSTER) {
        p->batch_cluster[b] = -1;
        p->batch_nclusters[b] = 0;
    } else if (!c->merged) {
        p->batch_cluster[b] = c->g->gcluster[c->cur_group];
        p->batch_nclusters[b] = 1;
    } else {
        /* merged leftovers: primary = most frequent cluster (ties: lowest) */
        for (int64_t i = 0; i < cnt; i++) c->tmp[i] = c->st->assign[idx[i]];
        int32_t distinct;
        int32_t best = mode_i32(c->tmp, cnt, &distinct);
        p->batch_cluster[b] = best;
        p->batch_nclusters[b] = distinct;
        if (distinct > 1) c->info->merged_batches++;
        for (int64_t i = 0; i < cnt; i++)
            if (c->st->assign[idx[i]] == best) { c->o->unit[b] = c->g->gid[idx[i]]; break; }
    }
    return 0;
}

/* Emits the full batch and refills the next ones from the deferred pairs. */
static int bt_full(pass_ctx *c) {
    batcher *b = &c->bt;
    while (b->ncur == b->B) {
        if (emit(c, b->cur, b->B)) return -1;
        bt_newbatch(b);
        int64_t k = 0;
        for (int64_t t = 0; t < b->npend; t++) {
            int64_t x = b->pend[t];
            if (b->ncur < b->B && !bt_conflict(b, x)) bt_add(b, x);
            else b->pend[k++] = x;
        }
        b->npend = k;
    }
    return 0;
}

static int bt_feed(pass_ctx *c, int64_t x) {
    batcher *b = &c->bt;
    if (bt_conflict(b, x)) {
        c->info->deferred_duplicate++;
        return bt_defer(b, x);
    }
    bt_add(b, x);
    return b->ncur == b->B ? bt_full(c) : 0;
}

/* End of a group / chain: what is left is the batch being filled plus the
 * deferred pairs. keep: append them to lo (leftovers) instead of deciding. */
static int bt_take_leftovers(pass_ctx *c, int64_t *lo, int64_t *nlo) {
    batcher *b = &c->bt;
    for (int64_t i = 0; i < b->ncur; i++) lo[(*nlo)++] = b->cur[i];
    for (int64_t i = 0; i < b->npend; i++) lo[(*nlo)++] = b->pend[i];
    b->npend = 0;
    bt_newbatch(b);
    return 0;
}

/* Does pair x share a query or positive text with a member of batch bb
 * other than slot skip? */
static int batch_conflict(const pass_ctx *c, int64_t bb, int64_t skip, int64_t x) {
    const int64_t B = c->o->p->batch_size;
    const int64_t *m = c->o->p->batches + (size_t)bb * (size_t)B;
    const uint64_t *qh = c->d->qhash, *ph = c->d->phash;
    for (int64_t i = 0; i < B; i++) {
        if (i == skip || m[i] < 0) continue;
        if ((qh && qh[m[i]] == qh[x]) || (ph && ph[m[i]] == ph[x])) return 1;
    }
    return 0;
}

/* Recomputes the cluster labels of batch bb after a swap. */
static void relabel(pass_ctx *c, int64_t bb) {
    strata_plan *p = c->o->p;
    const int64_t B = p->batch_size;
    const int64_t *m = p->batches + (size_t)bb * (size_t)B;
    if (c->st->strategy != STRATA_PLAN_CLUSTER) return;
    int64_t cnt = 0;
    for (int64_t i = 0; i < B; i++)
        if (m[i] >= 0) c->tmp[cnt++] = c->st->assign[m[i]];
    int32_t distinct;
    int32_t best = mode_i32(c->tmp, cnt, &distinct);
    if (p->batch_nclusters[bb] <= 1 && distinct > 1) c->info->merged_batches++;
    p->batch_cluster[bb] = best;
    p->batch_nclusters[bb] = distinct;
}

/* A deferred pair x that conflicts with the short batch being filled is
 * swapped into an earlier batch bb of the same source and pass (from a
 * seeded random start, at most 64 batches tried): x replaces a member y of
 * bb that fits the short batch, and y joins the short batch. */
static int try_swap(pass_ctx *c, int64_t x, strata_rng *r) {
    strata_plan *p = c->o->p;
    const int64_t B = p->batch_size, n = p->n_batches - c->swap_b0;
    if (n <= 0) return 0;
    int64_t start = (int64_t)strata_rng_below(r, (uint64_t)n);
    int64_t tries = n < 64 ? n : 64;
    for (int64_t t = 0; t < tries; t++) {
        int64_t bb = c->swap_b0 + (start + t) % n;
        int64_t *m = p->batches + (size_t)bb * (size_t)B;
        for (int64_t i = 0; i < B; i++) {
            int64_t y = m[i];
            if (y < 0 || bt_conflict(&c->bt, y) || batch_conflict(c, bb, i, x)) continue;
            m[i] = x;
            relabel(c, bb);
            bt_add(&c->bt, y);
            return 1;
        }
    }
    return 0;
}

/* Final flush of a source / the set: deferred pairs that conflict with the
 * short batch are swapped into earlier batches where possible, the short
 * batch is padded (or dropped with drop_last); deferred pairs left after
 * that are dropped. */
static int bt_final(pass_ctx *c) {
    batcher *b = &c->bt;
    if (!c->p->drop_last && b->npend > 0) {
        strata_rng r;
        strata_rng_seed(&r, c->p->seed,
                        plan__stream(4, (uint64_t)c->stage, (uint64_t)c->pass,
                                     (uint64_t)c->swap_b0));
        int64_t k = 0;
        for (int64_t t = 0; t < b->npend; t++) {
            int64_t x = b->pend[t];
            if (b->ncur < b->B && !bt_conflict(b, x)) bt_add(b, x);
            else if (b->ncur < b->B && try_swap(c, x, &r)) {}
            else b->pend[k++] = x;
            if (b->ncur == b->B) {
                if (emit(c, b->cur, b->B)) return -1;
                bt_newbatch(b);
            }
        }
        b->npend = k;
    }
    if (b->ncur > 0) {
        if (c->p->drop_last) c->info->dropped_leftover += b->ncur;
        else if (emit(c, b->cur, b->ncur)) return -1;
    }
    c->info->dropped_duplicate += b->npend;
    b->npend = 0;
    bt_newbatch(b);
    return 0;
}

static void shuffle_group(groups *g, int64_t k, uint64_t seed, int stage, int pass) {
    strata_rng r;
    strata_rng_seed(&r, seed, plan__stream(1, (uint64_t)stage, (uint64_t)pass, (uint64_t)k));
    strata_rng_shuffle_i64(&r, g->mem + g->start[k], g->start[k + 1] - g->start[k]);
}

/* Leftover chains of one source: groups[gl[0..ng)] with their leftovers
 * lo[lstart[t] .. lstart[t+1]) are visited along a greedy nearest-centroid
 * chain (random order without centroids) and batched again. */
static int merge_source(pass_ctx *c, const int64_t *gl, const int64_t *lstart,
                        const int64_t *lo, int64_t ng, uint8_t *take, int64_t *order,
                        int64_t *pos) {
    groups *g = c->g;
    strata_rng r;
    strata_rng_seed(&r, c->p->seed,
                    plan__stream(2, (uint64_t)c->stage, (uint64_t)c->pass, (uint64_t)g->gsource[gl[0]]));
    for (int64_t t = 0; t < ng; t++) pos[gl[t]] = t;
    if (g->cent && ng > 1) {
        for (int64_t t = 0; t < ng; t++) take[gl[t]] = 1;
        int64_t start = gl[strata_rng_below(&r, (uint64_t)ng)];
        int64_t n = plan__greedy_walk(g->cent, g->cdim, NULL, 0, take, gl, ng, start, order);
        (void)n;
    } else {
        for (int64_t t = 0; t < ng; t++) order[t] = gl[t];
        strata_rng_shuffle_i64(&r, order, ng);
    }
    c->merged = 1;
    for (int64_t t = 0; t < ng; t++) {
        int64_t u = pos[order[t]];
        c->cur_group = order[t];
        for (int64_t i = lstart[u]; i < lstart[u + 1]; i++)
            if (bt_feed(c, lo[i])) return -1;
    }
    int rc = bt_final(c);
    c->merged = 0;
    return rc;
}

/* The members are in shuffled order, so their hashes are scattered in
 * memory: fetch a few ahead. */
static inline void prefetch_hashes(const pass_ctx *c, const groups *g, int64_t t, int64_t end) {
    if (t >= end) return;
    int64_t x = g->mem[t];
    if (c->d->qhash) __builtin_prefetch(c->d->qhash + x);
    if (c->d->phash) __builtin_prefetch(c->d->phash + x);
}

/* One pass of a stage: appends its batches to the plan, in order. */
strata_status plan__run_pass(pass_ctx *c, int64_t *lo, int64_t *lstart, int64_t *gl,
                              uint8_t *take, int64_t *order, int64_t *pos,
                              strata_error *err) {
    groups *g = c->g;
    const strata_plan_params *p = c->p;
    int64_t b0 = c->o->p->n_batches;
    c->merged = 0;
    for (int64_t k = 0; k < g->G; k++) shuffle_group(g, k, p->seed, c->stage, c->pass);
    if (c->st->strategy != STRATA_PLAN_CLUSTER) {
        for (int64_t k = 0; k < g->G; k++) {
            c->cur_group = k;
            c->swap_b0 = c->o->p->n_batches;
            for (int64_t t = g->start[k]; t < g->start[k + 1]; t++) {
                prefetch_hashes(c, g, t + 8, g->start[k + 1]);
                if (bt_feed(c, g->mem[t])) goto oom;
            }
            if (bt_final(c)) goto oom;
        }
    } else {
        /* groups are ordered source-major: handle one source at a time */
        for (int64_t k0 = 0; k0 < g->G;) {
            int64_t k1 = k0;
            while (k1 < g->G && g->gsource[k1] == g->gsource[k0]) k1++;
            int64_t nlo = 0, ng = 0;
            c->swap_b0 = c->o->p->n_batches;
            for (int64_t k = k0; k < k1; k++) {
                c->cur_group = k;
                for (int64_t t = g->start[k]; t < g->start[k + 1]; t++) {
                    prefetch_hashes(c, g, t + 8, g->start[k + 1]);
                    if (bt_feed(c, g->mem[t])) goto oom;
                }
                int64_t before = nlo;
                if (p->drop_last) {
                    c->info->dropped_leftover += c->bt.ncur;
                    c->info->dropped_duplicate += c->bt.npend;
                    c->bt.npend = 0;
                    bt_newbatch(&c->bt);
                } else {
                    bt_take_leftovers(c, lo, &nlo);
                    if (nlo > before) { lstart[ng] = before; gl[ng++] = k; }
                }
            }
            lstart[ng] = nlo;
            if (ng > 0 && merge_source(c, gl, lstart, lo, ng, take, order, pos)) goto oom;
            k0 = k1;
        }
    }
    return plan__order_pass(c, b0, take, order, err);
oom:
    return strata_error_set(err, STRATA_ENOMEM, "plan: out of memory");
}
