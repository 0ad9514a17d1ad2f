/*
 * order.c — the order of batches: neighbour lists of group centroids
 * (blocked sgemm, fixed blocks so that the result does not depend on the
 * thread count), the greedy nearest-neighbour walk (TSP order, leftover
 * chains), and the reordering of a pass's batches (random or TSP).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <cblas.h>

#include "plan/plan_internal.h"
#include "plan/plan_build.h"
#include "core/internal.h"

/* ------------------------------------------------------------------------ */
/* Greedy nearest-neighbour walk (TSP order, leftover chains)                */
/* ------------------------------------------------------------------------ */

#define NBR_ROWS 256   /* row block: fixed, so results do not depend on threads */
#define NBR_COLS 4096

/* nbr[i] = the M most similar other rows of C [G, dim] (unit rows), best
 * first, ties to the lower index; -1 where G - 1 < M. Naive equivalent:
 * full sort of row i of C C^T. */
strata_status plan__neighbours(const float *C, int64_t G, int64_t dim, int M,
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
int64_t plan__greedy_walk(const float *C, int64_t dim, const int32_t *nbr, int M,
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

/* Reorders the batches [b0, n_batches) of the plan: random permutation or
 * greedy TSP over their groups (batches of a group stay together, in the
 * order they were made). */
strata_status plan__order_pass(pass_ctx *c, int64_t b0, uint8_t *take, int64_t *order,
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
        int64_t nw = plan__greedy_walk(g->cent, g->cdim, g->nbr, g->M, take, cand, ncand, start, order);
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
