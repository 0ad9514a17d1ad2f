/*
 * plan.c — building a batch plan: groups, shuffles, packing, the duplicate
 * rule, leftover merging, random / greedy-TSP order, curricula.
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
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <cblas.h>

#include "plan/plan_internal.h"
#include "core/internal.h"

/* ------------------------------------------------------------------------ */
/* Names and defaults                                                        */
/* ------------------------------------------------------------------------ */

static const char *k_strategy[] = {"random", "source", "cluster"};
static const char *k_order[] = {"random", "tsp"};

int strata_plan_strategy_parse(const char *s, strata_plan_strategy *out) {
    for (int i = 0; i < 3; i++)
        if (s && !strcmp(s, k_strategy[i])) { *out = (strata_plan_strategy)i; return 0; }
    return -1;
}

int strata_plan_order_parse(const char *s, strata_plan_order *out) {
    for (int i = 0; i < 2; i++)
        if (s && !strcmp(s, k_order[i])) { *out = (strata_plan_order)i; return 0; }
    return -1;
}

const char *strata_plan_strategy_name(strata_plan_strategy s) {
    return (unsigned)s < 3 ? k_strategy[s] : "?";
}

const char *strata_plan_order_name(strata_plan_order o) {
    return (unsigned)o < 2 ? k_order[o] : "?";
}

strata_plan_params strata_plan_default_params(void) {
    strata_plan_params p;
    memset(&p, 0, sizeof p);
    p.batch_size = 64;
    p.epochs = 1;
    p.order = STRATA_ORDER_RANDOM;
    p.margin = 0.0;
    p.seed = 1;
    return p;
}

void strata_plan_free(strata_plan *plan) {
    if (!plan) return;
    strata_free(plan->batches);
    strata_free(plan->mask);
    strata_free(plan->batch_source);
    strata_free(plan->batch_cluster);
    strata_free(plan->batch_nclusters);
    strata_free(plan->batch_stage);
    strata_free(plan->batch_epoch);
    for (int s = 0; s < plan->n_stages && plan->stages; s++) strata_free(plan->stages[s].name);
    strata_free(plan->stages);
    memset(plan, 0, sizeof *plan);
}

/* ------------------------------------------------------------------------ */
/* Growable plan output                                                      */
/* ------------------------------------------------------------------------ */

typedef struct outbuf {
    strata_plan *p;
    int64_t cap;      /* batches allocated                                  */
    int64_t *unit;    /* [cap] TSP unit (group) of each batch               */
} outbuf;

static int out_reserve(outbuf *o, int64_t extra) {
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
/* Groups                                                                    */
/* ------------------------------------------------------------------------ */

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

static void groups_free(groups *g) {
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
static strata_status groups_build(groups *g, const strata_plan_data *d,
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
        groups_free(g);
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
    groups_free(g);
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
static strata_status groups_centroids(groups *g, const strata_plan_data *d,
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

/* ------------------------------------------------------------------------ */
/* Greedy nearest-neighbour walk (TSP order, leftover chains)                */
/* ------------------------------------------------------------------------ */

#define NBR_M 32
#define NBR_ROWS 256   /* row block: fixed, so results do not depend on threads */
#define NBR_COLS 4096

/* nbr[i] = the M most similar other rows of C [G, dim] (unit rows), best
 * first, ties to the lower index; -1 where G - 1 < M. Naive equivalent:
 * full sort of row i of C C^T. */
static strata_status neighbours(const float *C, int64_t G, int64_t dim, int M,
                                int32_t **out, strata_error *err) {
    int nt = strata__max_threads();
    int32_t *nbr = strata_malloc_array((size_t)G * (size_t)M, sizeof(int32_t));
    float *S = strata_malloc_array((size_t)nt * NBR_ROWS * NBR_COLS, sizeof(float));
    float *best = strata_malloc_array((size_t)G * (size_t)M, sizeof(float));
    if (!nbr || !S || !best) {
        strata_free(nbr); strata_free(S); strata_free(best);
        return strata_error_set(err, STRATA_ENOMEM, "plan: out of memory (neighbour lists)");
    }
    for (size_t t = 0; t < (size_t)G * (size_t)M; t++) { nbr[t] = -1; best[t] = -INFINITY; }
    int64_t nblk = (G + NBR_ROWS - 1) / NBR_ROWS;
    #pragma omp parallel for schedule(dynamic, 1)
    for (int64_t rb = 0; rb < nblk; rb++) {
        float *s = S + (size_t)strata__thread_num() * NBR_ROWS * NBR_COLS;
        int64_t r0 = rb * NBR_ROWS, nr = G - r0 < NBR_ROWS ? G - r0 : NBR_ROWS;
        for (int64_t c0 = 0; c0 < G; c0 += NBR_COLS) {
            int64_t nc = G - c0 < NBR_COLS ? G - c0 : NBR_COLS;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nr, (int)nc, (int)dim,
                        1.0f, C + (size_t)r0 * (size_t)dim, (int)dim,
                        C + (size_t)c0 * (size_t)dim, (int)dim, 0.0f, s, (int)nc);
            for (int64_t r = 0; r < nr; r++) {
                int64_t i = r0 + r;
                float *bv = best + (size_t)i * (size_t)M;
                int32_t *bi = nbr + (size_t)i * (size_t)M;
                for (int64_t c = 0; c < nc; c++) {
                    int64_t j = c0 + c;
                    if (j == i) continue;
                    float v = s[(size_t)r * (size_t)nc + c];
                    if (!(v > bv[M - 1])) continue;  /* ties keep the lower index */
                    int q = M - 1;
                    while (q > 0 && v > bv[q - 1]) { bv[q] = bv[q - 1]; bi[q] = bi[q - 1]; q--; }
                    bv[q] = v;
                    bi[q] = (int32_t)j;
                }
            }
        }
    }
    strata_free(S);
    strata_free(best);
    *out = nbr;
    return STRATA_OK;
}

static float dotf(const float *a, const float *b, int64_t n) {
    float s = 0;
    for (int64_t k = 0; k < n; k++) s += a[k] * b[k];
    return s;
}

/* Greedy walk over the units u with take[u] != 0, from `start`: the next
 * unit is the most similar unvisited one (the neighbour list when it has
 * one, else a full scan; ties to the lower index). Writes the visit order
 * to order[] and returns its length. take[] is cleared as units are used. */
static int64_t greedy_walk(const float *C, int64_t dim, const int32_t *nbr, int M,
                           uint8_t *take, const int64_t *cand, int64_t ncand,
                           int64_t start, int64_t *order) {
    int64_t n = 0, cur = start;
    while (cur >= 0) {
        order[n++] = cur;
        take[cur] = 0;
        int64_t next = -1;
        if (nbr) {
            for (int q = 0; q < M; q++) {
                int32_t j = nbr[(size_t)cur * (size_t)M + q];
                if (j >= 0 && take[j]) { next = j; break; }
            }
        }
        if (next < 0) {
            float bestv = -INFINITY;
            const float *c = C + (size_t)cur * (size_t)dim;
            for (int64_t t = 0; t < ncand; t++) {
                int64_t j = cand[t];
                if (!take[j]) continue;
                float v = dotf(c, C + (size_t)j * (size_t)dim, dim);
                if (v > bestv || (v == bestv && j < next) || next < 0) { bestv = v; next = j; }
            }
        }
        cur = next;
    }
    return n;
}

/* ------------------------------------------------------------------------ */
/* Batcher: fills one batch at a time under the duplicate rule               */
/* ------------------------------------------------------------------------ */

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

static int bt_init(batcher *b, int64_t B, const uint64_t *qh, const uint64_t *ph) {
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

static void bt_free(batcher *b) {
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
    if (out_reserve(c->o, 1)) return -1;
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
        int64_t n = greedy_walk(g->cent, g->cdim, NULL, 0, take, gl, ng, start, order);
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

/* Reorders the batches [b0, n_batches) of the plan: random permutation or
 * greedy TSP over their groups (batches of a group stay together, in the
 * order they were made). */
static strata_status order_pass(pass_ctx *c, int64_t b0, uint8_t *take, int64_t *order,
                                strata_error *err) {
    strata_plan *p = c->o->p;
    const int64_t nb = p->n_batches - b0, B = p->batch_size;
    if (nb <= 1) return STRATA_OK;
    int64_t *perm = strata_malloc_array((size_t)nb, sizeof(int64_t));
    if (!perm) return strata_error_set(err, STRATA_ENOMEM, "plan: out of memory");
    strata_rng r;
    strata_rng_seed(&r, c->p->seed, plan__stream(3, (uint64_t)c->stage, (uint64_t)c->pass, 0));
    if (c->p->order == STRATA_ORDER_RANDOM || c->st->strategy == STRATA_PLAN_RANDOM) {
        /* random stages of a TSP curriculum have no centroids: random order */
        for (int64_t i = 0; i < nb; i++) perm[i] = b0 + i;
        strata_rng_shuffle_i64(&r, perm, nb);
    } else {
        groups *g = c->g;
        /* bucket the batches by unit, keeping creation order */
        int64_t *cnt = strata_calloc((size_t)g->G + 1, sizeof(int64_t));
        int64_t *cand = strata_malloc_array((size_t)g->G, sizeof(int64_t));
        if (!cnt || !cand) {
            strata_free(perm); strata_free(cnt); strata_free(cand);
            return strata_error_set(err, STRATA_ENOMEM, "plan: out of memory");
        }
        for (int64_t i = 0; i < nb; i++) cnt[c->o->unit[b0 + i] + 1]++;
        int64_t ncand = 0;
        for (int64_t u = 0; u < g->G; u++)
            if (cnt[u + 1]) { take[u] = 1; cand[ncand++] = u; }
        for (int64_t u = 0; u < g->G; u++) cnt[u + 1] += cnt[u];
        int64_t *fill = perm; /* reuse: first bucket, then walk */
        int64_t *bucket = strata_malloc_array((size_t)nb, sizeof(int64_t));
        if (!bucket) {
            strata_free(perm); strata_free(cnt); strata_free(cand);
            return strata_error_set(err, STRATA_ENOMEM, "plan: out of memory");
        }
        for (int64_t i = 0; i < nb; i++) bucket[cnt[c->o->unit[b0 + i]]++] = b0 + i;
        for (int64_t u = g->G; u > 0; u--) cnt[u] = cnt[u - 1];
        cnt[0] = 0;
        int64_t start = cand[strata_rng_below(&r, (uint64_t)ncand)];
        int64_t nw = greedy_walk(g->cent, g->cdim, g->nbr, g->M, take, cand, ncand, start, order);
        int64_t k = 0;
        for (int64_t t = 0; t < nw; t++)
            for (int64_t i = cnt[order[t]]; i < cnt[order[t] + 1]; i++) fill[k++] = bucket[i];
        strata_free(bucket);
        strata_free(cnt);
        strata_free(cand);
    }
    /* apply perm: batches (via one copy) and per-batch arrays */
    int64_t *tmpb = strata_malloc_array((size_t)nb * (size_t)B, sizeof(int64_t));
    int32_t *tmp32 = strata_malloc_array((size_t)nb, sizeof(int32_t));
    int64_t *tmp64 = strata_malloc_array((size_t)nb, sizeof(int64_t));
    if (!tmpb || !tmp32 || !tmp64) {
        strata_free(perm); strata_free(tmpb); strata_free(tmp32); strata_free(tmp64);
        return strata_error_set(err, STRATA_ENOMEM, "plan: out of memory");
    }
    for (int64_t i = 0; i < nb; i++)
        memcpy(tmpb + (size_t)i * (size_t)B, p->batches + (size_t)perm[i] * (size_t)B,
               (size_t)B * sizeof(int64_t));
    memcpy(p->batches + (size_t)b0 * (size_t)B, tmpb, (size_t)nb * (size_t)B * sizeof(int64_t));
    int32_t *arrs[] = {p->batch_source, p->batch_cluster, p->batch_nclusters, p->batch_stage,
                       p->batch_epoch};
    for (int a = 0; a < 5; a++) {
        for (int64_t i = 0; i < nb; i++) tmp32[i] = arrs[a][perm[i]];
        memcpy(arrs[a] + b0, tmp32, (size_t)nb * sizeof(int32_t));
    }
    for (int64_t i = 0; i < nb; i++) tmp64[i] = c->o->unit[perm[i]];
    memcpy(c->o->unit + b0, tmp64, (size_t)nb * sizeof(int64_t));
    strata_free(tmpb); strata_free(tmp32); strata_free(tmp64); strata_free(perm);
    return STRATA_OK;
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
static strata_status run_pass(pass_ctx *c, int64_t *lo, int64_t *lstart, int64_t *gl,
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
    return order_pass(c, b0, take, order, err);
oom:
    return strata_error_set(err, STRATA_ENOMEM, "plan: out of memory");
}

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
                                "(--filter-q and --filter-d)");
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
        if (out_reserve(&o, guess)) {
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
        st = groups_build(&g, d, sg->strategy, sg->assign, Ks[s], err);
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
            groups_free(&g);
            st = strata_error_set(err, STRATA_ENOMEM, "plan: out of memory");
            break;
        }
        int need_cent = (p->order == STRATA_ORDER_TSP && sg->strategy != STRATA_PLAN_RANDOM) ||
                        (sg->strategy == STRATA_PLAN_CLUSTER && !p->drop_last);
        if (need_cent) st = groups_centroids(&g, d, sg, err);
        if (!st && p->order == STRATA_ORDER_TSP && sg->strategy != STRATA_PLAN_RANDOM && g.G > 1) {
            g.M = g.G - 1 < NBR_M ? (int)(g.G - 1) : NBR_M;
            st = neighbours(g.cent, g.G, g.cdim, g.M, &g.nbr, err);
        }
        pass_ctx c;
        memset(&c, 0, sizeof c);
        c.o = &o; c.d = d; c.st = sg; c.p = p; c.g = &g; c.info = info; c.stage = s;
        c.tmp = tmp;
        if (!st && bt_init(&c.bt, B, d->qhash, d->phash))
            st = strata_error_set(err, STRATA_ENOMEM, "plan: out of memory");
        for (int pass = 0; !st; pass++) {
            if (n_stages == 1 && pass >= p->epochs) break;
            if (n_stages > 1 && out->n_batches - info->first_batch >= target) break;
            int64_t before = out->n_batches;
            c.pass = pass;
            st = run_pass(&c, lo, lstart, gl, take, order, pos, err);
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
        bt_free(&c.bt);
        groups_free(&g);
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

/* ------------------------------------------------------------------------ */
/* Curriculum specification                                                  */
/* ------------------------------------------------------------------------ */

void strata_plan_spec_free(strata_plan_spec_stage *s, int n) {
    if (!s) return;
    for (int i = 0; i < n; i++) {
        strata_free(s[i].path);
        strata_free(s[i].text);
    }
    strata_free(s);
}

strata_status strata_plan_spec_parse(const char *spec, strata_plan_spec_stage **out, int *n,
                                     strata_error *err) {
    *out = NULL;
    *n = 0;
    if (!spec || !*spec) return strata_error_set(err, STRATA_EINVAL, "--stages: empty");
    int cap = 1;
    for (const char *q = spec; *q; q++) cap += *q == ',';
    strata_plan_spec_stage *v = strata_calloc((size_t)cap, sizeof *v);
    if (!v) return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    int k = 0;
    const char *s = spec;
    for (;;) {
        const char *e = strchr(s, ',');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        char *t = strata_strndup(s, len);
        if (!t) goto oom;
        v[k].text = t;
        v[k].share = 1.0;
        k++;
        char *colon = strrchr(t, ':');
        char *body = strata_strndup(t, colon ? (size_t)(colon - t) : strlen(t));
        if (!body) goto oom;
        if (colon) {
            char *end;
            double sh = strtod(colon + 1, &end);
            if (end == colon + 1 || *end || !(sh > 0) || !isfinite(sh)) {
                strata_error_set(err, STRATA_EINVAL,
                                 "--stages: stage %d \"%.200s\": share \"%.100s\" is not a "
                                 "positive number", k, t, colon + 1);
                strata_free(body);
                strata_plan_spec_free(v, k);
                return STRATA_EINVAL;
            }
            v[k - 1].share = sh;
        }
        char *eq = strchr(body, '=');
        if (eq) *eq = 0;
        if (strata_plan_strategy_parse(body, &v[k - 1].strategy)) {
            strata_error_set(err, STRATA_EINVAL,
                             "--stages: stage %d \"%.200s\": unknown strategy \"%.100s\" "
                             "(random, source, cluster)", k, t, body);
            strata_free(body);
            strata_plan_spec_free(v, k);
            return STRATA_EINVAL;
        }
        if (eq) {
            if (!eq[1] || v[k - 1].strategy != STRATA_PLAN_CLUSTER) {
                strata_error_set(err, STRATA_EINVAL,
                                 "--stages: stage %d \"%.200s\": %s", k, t,
                                 eq[1] ? "only the cluster strategy takes a path"
                                       : "empty path after '='");
                strata_free(body);
                strata_plan_spec_free(v, k);
                return STRATA_EINVAL;
            }
            v[k - 1].path = strata_strdup(eq + 1);
            if (!v[k - 1].path) { strata_free(body); goto oom; }
        }
        strata_free(body);
        if (!e) break;
        s = e + 1;
    }
    *out = v;
    *n = k;
    return STRATA_OK;
oom:
    strata_plan_spec_free(v, k);
    return strata_error_set(err, STRATA_ENOMEM, "out of memory");
}
