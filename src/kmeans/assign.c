/*
 * assign.c — the k-means assignment: the float and double scores of a
 * normalized row against a centroid (SSE / AVX2 dispatch), the blocked sgemm
 * with a fused top-9 scan and exact double re-scoring, exact pruning (Hamerly
 * bounds, then per-row candidate lists checked against the centroids that
 * moved most), and the moves applied to the exact fixed-point centroid sums.
 *
 * Legend: N rows, K clusters, Dt dims of a row (sum of parts), B rows per
 * full-scoring sgemm, F rows per pruning pass (KM_FILTER_BLOCKS * B).
 */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#define KM_SSE 1
#endif
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define KM_AVX2 1
#endif

#include "core/internal.h"
#include "kmeans/kmeans_internal.h"

void km_load_row(const km_view *v, int64_t i, float *out) {
    const strata_kmeans_input *in = v->in;
    int64_t r = v->idx ? v->idx[i] : i;
    for (int p = 0; p < in->nparts; p++) {
        const float *x = in->x[p] + (size_t)r * (size_t)in->dim[p]; /* [dim[p]] */
        float s = v->invn[(size_t)p * (size_t)in->n_local + (size_t)r];
        int64_t j = 0, d = in->dim[p];
#ifdef KM_SSE
        __m128 s4 = _mm_set1_ps(s);
        for (; j + 4 <= d; j += 4) _mm_storeu_ps(out + j, _mm_mul_ps(_mm_loadu_ps(x + j), s4));
#endif
        for (; j < d; j++) out[j] = x[j] * s;
        out += d;
    }
}

double km_dscore(const float *x, const float *c, int64_t dt) {
    /* Four interleaved double accumulators in a fixed order: vectorizable
     * without -ffast-math, and the same bits wherever it is called. */
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int64_t j = 0;
    for (; j + 4 <= dt; j += 4) {
        s0 += (double)x[j] * (double)c[j];
        s1 += (double)x[j + 1] * (double)c[j + 1];
        s2 += (double)x[j + 2] * (double)c[j + 2];
        s3 += (double)x[j + 3] * (double)c[j + 3];
    }
    for (; j < dt; j++) s0 += (double)x[j] * (double)c[j];
    return (s0 + s1) + (s2 + s3);
}

static int g_no_simd; /* 1: SSE / portable scores even where AVX2 exists (tests) */
void strata__kmeans_set_simd(int on) { g_no_simd = !on; }
int km_simd_allowed(void) { return !g_no_simd; }

#ifdef KM_AVX2
/* km_fscore with 8-lane FMAs (AVX2 + FMA machines). */
__attribute__((target("avx2,fma"))) static float fscore_avx2(const float *x, const float *c,
                                                               int64_t dt) {
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    int64_t j = 0;
    for (; j + 16 <= dt; j += 16) {
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + j), _mm256_loadu_ps(c + j), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + j + 8), _mm256_loadu_ps(c + j + 8), a1);
    }
    a0 = _mm256_add_ps(a0, a1);
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(a0), _mm256_extractf128_ps(a0, 1));
    float t[4];
    _mm_storeu_ps(t, h);
    float s = (t[0] + t[1]) + (t[2] + t[3]);
    for (; j < dt; j++) s += x[j] * c[j];
    return s;
}

static int km_have_avx2(void) {
    const int want = STRATA_CPU_AVX2 | STRATA_CPU_FMA;
    return (strata__cpu_features() & want) == want && !g_no_simd;
}
#endif

/* Float score of a normalized row against a centroid: within score_err()
 * of the exact one, whatever the summation order or instruction set. */
static float km_fscore(const float *x, const float *c, int64_t dt) {
#ifdef KM_AVX2
    if (km_have_avx2()) return fscore_avx2(x, c, dt);
#endif
    int64_t j = 0;
    float s = 0;
#ifdef KM_SSE
    __m128 a0 = _mm_setzero_ps(), a1 = _mm_setzero_ps(), a2 = _mm_setzero_ps(),
           a3 = _mm_setzero_ps();
    for (; j + 16 <= dt; j += 16) {
        a0 = _mm_add_ps(a0, _mm_mul_ps(_mm_loadu_ps(x + j), _mm_loadu_ps(c + j)));
        a1 = _mm_add_ps(a1, _mm_mul_ps(_mm_loadu_ps(x + j + 4), _mm_loadu_ps(c + j + 4)));
        a2 = _mm_add_ps(a2, _mm_mul_ps(_mm_loadu_ps(x + j + 8), _mm_loadu_ps(c + j + 8)));
        a3 = _mm_add_ps(a3, _mm_mul_ps(_mm_loadu_ps(x + j + 12), _mm_loadu_ps(c + j + 12)));
    }
    float t[4];
    _mm_storeu_ps(t, _mm_add_ps(_mm_add_ps(a0, a1), _mm_add_ps(a2, a3)));
    s = (t[0] + t[1]) + (t[2] + t[3]);
#endif
    for (; j < dt; j++) s += x[j] * c[j];
    return s;
}

static inline void fx_add(int64_t *acc, const float *x, int64_t dt, int sign) {
    if (sign > 0)
        for (int64_t j = 0; j < dt; j++) acc[j] += (int64_t)((double)x[j] * KM_FX_SCALE);
    else
        for (int64_t j = 0; j < dt; j++) acc[j] -= (int64_t)((double)x[j] * KM_FX_SCALE);
}

/* ------------------------------------------------------------------------ */
/* Assignment: blocked sgemm + fused top-9 + exact re-scoring + pruning      */
/* ------------------------------------------------------------------------ */

/* Rows per full scoring (one sgemm): a [B, K] score block stays near 1 MB. */
static int64_t block_rows(int k) {
    int64_t b = (int64_t)262144 / (k > 0 ? k : 1);
    if (b > 256) b = 256;
    if (b < 16) b = 16;
    return b;
}

/* Worst-case float error of one sgemm score (|x_p| = |c_p| = 1 per part):
 * gamma_Dt * nparts, with slack for the float norms. */
static double score_err(int64_t dt, int nparts) {
    double u = 0x1.0p-24, g = (double)dt * u / (1.0 - (double)dt * u);
    return 1.05 * g * (double)nparts + 1e-9;
}

/* Inserts (val, c) into the descending list tv/ti of at most cap entries
 * (ties keep the earlier, lower index first). */
static inline void top_insert(float *tv, int *ti, int *nt, int cap, float val, int c) {
    int pos = *nt < cap ? (*nt)++ : cap - 1;
    while (pos > 0 && tv[pos - 1] < val) {
        tv[pos] = tv[pos - 1];
        ti[pos] = ti[pos - 1];
        pos--;
    }
    tv[pos] = val;
    ti[pos] = c;
}

/* Inserts every score sr[c0..k) that belongs in the descending list of at
 * most cap entries and is at least t (pass -INFINITY for no floor): the
 * list ends as the top cap by (score desc, index asc) among them. */
static void scan_top(const float *sr, int c0, int k, float t, float *tv, int *ti, int *nt, int cap) {
    int c = c0;
#ifdef KM_SSE
    /* most scores lose: test eight at a time (>= keeps ties at the floor;
     * the scalar test below is the exact one) */
    __m128 vlo = _mm_set1_ps(*nt == cap ? tv[cap - 1] : t);
    for (; c + 8 <= k; c += 8) {
        __m128 g = _mm_or_ps(_mm_cmpge_ps(_mm_loadu_ps(sr + c), vlo),
                             _mm_cmpge_ps(_mm_loadu_ps(sr + c + 4), vlo));
        if (!_mm_movemask_ps(g)) continue;
        for (int q = c; q < c + 8; q++) {
            if (*nt == cap ? sr[q] > tv[cap - 1] : sr[q] >= t) top_insert(tv, ti, nt, cap, sr[q], q);
        }
        if (*nt == cap) vlo = _mm_set1_ps(tv[cap - 1]);
    }
#endif
    for (; c < k; c++)
        if (*nt == cap ? sr[c] > tv[cap - 1] : sr[c] >= t) top_insert(tv, ti, nt, cap, sr[c], c);
}

/* Scores rows list[0..m) of a block (normalized into X) against C and sets
 * a, lb, ub, cand and ucand for each. seeded: every row has candidates from
 * an earlier scoring (used only to skip low scores faster). */
static void score_rows(km_state *s, const int64_t *list, int64_t m, const float *X,
                       float *SC, double err_max, int seeded) {
    int k = s->k, nc = s->ncand;
    int64_t dt = s->dt;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, k, (int)dt, 1.0f, X, (int)dt,
                s->C, (int)dt, 0.0f, SC, k);
    double tol = 2.0 * err_max + 1e-9;
    for (int64_t r = 0; r < m; r++) {
        const float *sr = SC + (size_t)r * (size_t)k; /* [K] */
        const float *xr = X + (size_t)r * (size_t)dt; /* [Dt] */
        /* the nc + 1 best float scores, descending (ties: lower index first) */
        float tv[KM_NCAND + 1] = {0};
        int ti[KM_NCAND + 1] = {0}, nt = 0, c = 0;
        int64_t i = list[r];
        if (seeded && s->a[i] >= 0 && s->cnext[i] >= 0) {
            /* the row's last nc + 1 best are likely near the top again: the
             * least of their scores bounds the list's last entry from
             * below, so scores under it are skipped without an insertion */
            const int32_t *cd = s->cand + (size_t)i * (size_t)nc; /* [nc] */
            float t = sr[s->cnext[i]];
            for (int q = 0; q < nc; q++)
                if (sr[cd[q]] < t) t = sr[cd[q]];
            scan_top(sr, 0, k, t, tv, ti, &nt, nc + 1);
        } else {
            for (; c < k && nt < nc + 1; c++) top_insert(tv, ti, &nt, nc + 1, sr[c], c);
            scan_top(sr, c, k, -INFINITY, tv, ti, &nt, nc + 1);
        }
        /* the exact best: every centroid within the float error of the top
         * (ties to the lower index); they are all in the list unless its
         * last entry is itself that close */
        double thr = (double)tv[0] - tol, bs = -INFINITY;
        int best = ti[0];
        if (nt < 2 || (double)tv[1] < thr) {
            bs = (double)tv[0] - err_max; /* one in reach: a lower bound will do */
        } else if (nt < nc + 1 || (double)tv[nc] < thr) {
            for (int q = 0; q < nt && (double)tv[q] >= thr; q++) {
                double d = km_dscore(xr, s->C + (size_t)ti[q] * (size_t)dt, dt);
                if (d > bs || (d == bs && ti[q] < best)) {
                    bs = d;
                    best = ti[q];
                }
            }
        } else {
            for (int q = 0; q < k; q++) {
                if ((double)sr[q] < thr) continue;
                double d = km_dscore(xr, s->C + (size_t)q * (size_t)dt, dt);
                if (d > bs) {
                    bs = d;
                    best = q;
                }
            }
        }
        double other = nt > 1 ? (double)(best == ti[0] ? tv[1] : tv[0]) : -INFINITY;
        s->a[i] = best;
        s->lb[i] = bs;
        s->ub[i] = other + err_max;
        int32_t *cd = s->cand + (size_t)i * (size_t)nc; /* [nc] */
        for (int q = 0; q < nc; q++) cd[q] = ti[q];
        s->ucand[i] = nt > nc ? (double)tv[nc] + err_max : -INFINITY;
        s->cnext[i] = nt > nc ? ti[nc] : -1;
    }
}

/* Row x's candidates: the exact best (ties to the lower index, as in a full
 * scoring), a lower bound on its score (exact when another candidate came
 * close) and a bound on the others' scores. Float scores first; only
 * candidates within the float error of the top are re-scored in double. */
static void score_cands(const km_state *s, int64_t i, const float *x, double err_max, int *best,
                        double *bs, double *s2) {
    int nc = s->ncand;
    const int32_t *cd = s->cand + (size_t)i * (size_t)nc; /* [nc] */
    float f[KM_NCAND];
    float top = -INFINITY;
    for (int q = 0; q < nc; q++) {
        f[q] = km_fscore(x, s->C + (size_t)cd[q] * (size_t)s->dt, s->dt);
        if (f[q] > top) top = f[q];
    }
    double thr = (double)top - (2.0 * err_max + 1e-9), b = -INFINITY;
    int bi = -1, bq = -1, near = 0;
    for (int q = 0; q < nc; q++) near += (double)f[q] >= thr;
    for (int q = 0; q < nc; q++) {
        if ((double)f[q] < thr) continue;
        if (near == 1) { /* the only one in reach: a lower bound will do */
            b = (double)f[q] - err_max;
            bi = cd[q];
            bq = q;
            break;
        }
        double d = km_dscore(x, s->C + (size_t)cd[q] * (size_t)s->dt, s->dt);
        if (d > b || (d == b && cd[q] < bi)) {
            b = d;
            bi = cd[q];
            bq = q;
        }
    }
    double t = -INFINITY;
    for (int q = 0; q < nc; q++)
        if (q != bq && (double)f[q] + err_max > t) t = (double)f[q] + err_max;
    *best = bi;
    *bs = b;
    *s2 = t;
}

/* Settles row i on its candidates when the best beats U, the bound on every
 * other centroid; 1 if settled. */
static int settle(km_state *s, int64_t i, int best, double bs, double s2, double U) {
    if (bs - U <= 1e-9) return 0;
    s->a[i] = best;
    s->lb[i] = bs;
    s->ub[i] = s2 > U ? s2 : U;
    s->ucand[i] = U;
    return 1;
}

/* Second pruning test, for the block's rows that failed Hamerly's and
 * could pass this one: the moved centroids' scores (P [m, nmoved], float)
 * bound the moved non-candidates, the rest moved at most d_stay. cb/cbs/cs2
 * [m]: each row's candidate result. Settled rows leave list/X (the others
 * are scored in full next); returns how many remain. mark [K] is zero on
 * entry and exit. */
static int64_t settle_rows(km_state *s, int64_t *list, int64_t m, float *X, const float *P,
                           const int *cb, const double *cbs, const double *cs2, double err_max,
                           unsigned char *mark) {
    int nc = s->ncand, nm = s->nmoved;
    int64_t dt = s->dt, m2 = 0;
    for (int64_t r = 0; r < m; r++) {
        int64_t i = list[r];
        const int32_t *cd = s->cand + (size_t)i * (size_t)nc; /* [nc] */
        double U = s->ucand[i] + s->d_stay;
        for (int q = 0; q < nc; q++) mark[cd[q]] = 1;
        const float *pr = P + (size_t)r * (size_t)nm; /* [nm] */
        for (int q = 0; q < nm; q++)
            if (!mark[s->moved[q]] && (double)pr[q] + err_max > U) U = (double)pr[q] + err_max;
        for (int q = 0; q < nc; q++) mark[cd[q]] = 0;
        if (settle(s, i, cb[r], cbs[r], cs2[r], U)) continue;
        if (m2 != r)
            memcpy(X + (size_t)m2 * (size_t)dt, X + (size_t)r * (size_t)dt, (size_t)dt * sizeof(float));
        list[m2++] = i;
    }
    return m2;
}

/* Assigns every row of the view against s->C (s->prev keeps the previous
 * assignment); rows the bounds settle (when prune) are not scored in full.
 * *nscored: rows scored in full. */
static strata_status assign_rows(km_state *s, const km_view *v, int prune, int64_t *nscored_out,
                                 strata_error *err) {
    int k = s->k;
    int64_t dt = s->dt, n = v->n;
    int64_t B = block_rows(k);
    int T = strata__max_threads();
    double err_max = score_err(dt, v->in->nparts);
    int64_t F = prune ? KM_FILTER_BLOCKS * B : B; /* without tests, rows go straight to the sgemm */
#ifdef KM_AVX2
    (void)km_have_avx2(); /* set once, before the threads read it */
#endif
    float *X = strata_malloc_array((size_t)T * (size_t)F * (size_t)dt, sizeof(float));
    float *SC = strata_malloc_array((size_t)T * (size_t)B * (size_t)k, sizeof(float));
    int64_t *L = strata_malloc_array((size_t)T * (size_t)F, sizeof(int64_t));
    unsigned char *MK = strata_calloc((size_t)T * (size_t)k, 1);
    int *CB = strata_malloc_array((size_t)T * (size_t)F, sizeof(int));
    double *CBS = strata_malloc_array((size_t)T * (size_t)F * 2, sizeof(double));
    if (!X || !SC || !L || !MK || !CB || !CBS) {
        strata_free(X);
        strata_free(SC);
        strata_free(L);
        strata_free(MK);
        strata_free(CB);
        strata_free(CBS);
        return strata_error_set(err, STRATA_ENOMEM, "kmeans: out of memory (assignment buffers)");
    }
    if (n > 0) memcpy(s->prev, s->a, (size_t)n * sizeof(int32_t));
    int64_t nb = (n + F - 1) / F, nscored = 0;
#pragma omp parallel reduction(+ : nscored)
    {
        int t = strata__thread_num();
        float *x = X + (size_t)t * (size_t)F * (size_t)dt;  /* [F, Dt] */
        float *sc = SC + (size_t)t * (size_t)B * (size_t)k; /* [B, K]  */
        int64_t *list = L + (size_t)t * (size_t)F;          /* [F]     */
        unsigned char *mark = MK + (size_t)t * (size_t)k;   /* [K]     */
        int *cb = CB + (size_t)t * (size_t)F;               /* [F]     */
        double *cbs = CBS + (size_t)t * (size_t)F * 2, *cs2 = cbs + F; /* [F] each */
#pragma omp for schedule(dynamic, 1)
        for (int64_t b = 0; b < nb; b++) {
            /* rows for the second test fill the block from the front, rows
             * that go straight to a full scoring from the back; the rows
             * left are scored in full B at a time */
            int64_t i0 = b * F, i1 = i0 + F < n ? i0 + F : n, m = 0, md = 0;
            for (int64_t i = i0; i < i1; i++) {
                float *xr = x + (size_t)m * (size_t)dt;
                if (prune && s->a[i] >= 0) {
                    /* 1. Hamerly: the own centroid still beats every other one */
                    int ai = s->a[i];
                    s->lb[i] -= s->drift[ai];
                    s->ub[i] += ai == s->dmax_i ? s->dmax2 : s->dmax1;
                    if (s->lb[i] - s->ub[i] > 1e-9) {
                        s->ucand[i] += s->dmax1;
                        continue;
                    }
                    /* the candidates, exactly, for the test below (settling
                     * here against the largest drift would loosen the bound
                     * for the next iterations more than the moved set does) */
                    km_load_row(v, i, xr);
                    score_cands(s, i, xr, err_max, &cb[m], &cbs[m], &cs2[m]);
                    if (cbs[m] - (s->ucand[i] + s->d_stay) > 1e-9) {
                        list[m++] = i;
                        continue;
                    }
                    /* the second test cannot pass: the moved scores only
                     * raise its bound */
                    int64_t r = F - 1 - md++;
                    if (r != m) memcpy(x + (size_t)r * (size_t)dt, xr, (size_t)dt * sizeof(float));
                    list[r] = i;
                    continue;
                }
                int64_t r = F - 1 - md++;
                km_load_row(v, i, x + (size_t)r * (size_t)dt);
                list[r] = i;
            }
            if (m > 0) {
                /* 2. the best candidate beats every other centroid: the
                 * moved ones scored, the rest moved by at most d_stay */
                if (s->nmoved > 0)
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, s->nmoved, (int)dt,
                                1.0f, x, (int)dt, s->CM, (int)dt, 0.0f, sc, s->nmoved);
                m = settle_rows(s, list, m, x, sc, cb, cbs, cs2, err_max, mark);
            }
            if (md > 0 && m != F - md) {
                memmove(x + (size_t)m * (size_t)dt, x + (size_t)(F - md) * (size_t)dt,
                        (size_t)md * (size_t)dt * sizeof(float));
                memmove(list + m, list + (F - md), (size_t)md * sizeof *list);
            }
            m += md;
            for (int64_t j = 0; j < m; j += B)
                score_rows(s, list + j, m - j < B ? m - j : B, x + (size_t)j * (size_t)dt, sc,
                           err_max, prune);
            nscored += m;
        }
    }
    strata_free(MK);
    strata_free(CB);
    strata_free(CBS);
    strata_free(X);
    strata_free(SC);
    strata_free(L);
    *nscored_out = nscored;
    return STRATA_OK;
}

/* The moves of the last assignment (s->a against s->prev), bucketed by
 * cluster, applied to the exact fixed-point sums and counts (summed over
 * ranks); changed/scored are global counts. */
static strata_status apply_moves(km_state *s, const km_view *v, int64_t nscored,
                                 int64_t *changed, int64_t *scored, strata_error *err) {
    int k = s->k;
    int64_t dt = s->dt, n = v->n;
    int T = strata__max_threads();
    /* Moves, bucketed by cluster: in-lists then out-lists (row order). */
    int64_t *off_in = s->mv_off, *off_out = s->mv_off + k + 1;
    memset(s->mv_off, 0, (2 * (size_t)k + 2) * sizeof(int64_t));
    int64_t nch = 0;
    for (int64_t i = 0; i < n; i++) {
        if (s->a[i] == s->prev[i]) continue;
        nch++;
        off_in[s->a[i] + 1]++;
        if (s->prev[i] >= 0) off_out[s->prev[i] + 1]++;
    }
    for (int c = 0; c < k; c++) {
        off_in[c + 1] += off_in[c];
        off_out[c + 1] += off_out[c];
    }
    int64_t *mv_in = s->mv, *mv_out = s->mv + n;
    {
        int64_t *fi = strata_malloc_array((size_t)k * 2, sizeof(int64_t));
        if (!fi) return strata_error_set(err, STRATA_ENOMEM, "kmeans: out of memory");
        memcpy(fi, off_in, (size_t)k * sizeof(int64_t));
        memcpy(fi + k, off_out, (size_t)k * sizeof(int64_t));
        for (int64_t i = 0; i < n; i++) {
            if (s->a[i] == s->prev[i]) continue;
            mv_in[fi[s->a[i]]++] = i;
            if (s->prev[i] >= 0) mv_out[fi[k + s->prev[i]]++] = i;
        }
        strata_free(fi);
    }
    /* Exact fixed-point deltas, each thread owning whole clusters. */
    size_t kd = (size_t)k * (size_t)dt;
    int64_t *red = s->red; /* [K*Dt delta | K counts | changed | scored] */
    memset(red, 0, (kd + (size_t)k + 2) * sizeof(int64_t));
    float *rowbuf = strata_malloc_array((size_t)T * (size_t)dt, sizeof(float));
    if (!rowbuf) return strata_error_set(err, STRATA_ENOMEM, "kmeans: out of memory");
#pragma omp parallel
    {
        float *row = rowbuf + (size_t)strata__thread_num() * (size_t)dt; /* [Dt] */
#pragma omp for schedule(dynamic, 4)
        for (int c = 0; c < k; c++) {
            int64_t *acc = red + (size_t)c * (size_t)dt; /* [Dt] */
            for (int64_t j = off_in[c]; j < off_in[c + 1]; j++) {
                km_load_row(v, mv_in[j], row);
                fx_add(acc, row, dt, +1);
            }
            for (int64_t j = off_out[c]; j < off_out[c + 1]; j++) {
                km_load_row(v, mv_out[j], row);
                fx_add(acc, row, dt, -1);
            }
            red[kd + (size_t)c] = (off_in[c + 1] - off_in[c]) - (off_out[c + 1] - off_out[c]);
        }
    }
    strata_free(rowbuf);
    red[kd + (size_t)k] = nch;
    red[kd + (size_t)k + 1] = nscored;
    strata_status st = km_allreduce(v->comm, red, kd + (size_t)k + 2, err);
    if (st) return st;
    for (size_t j = 0; j < kd; j++) s->S[j] += red[j];
    for (int c = 0; c < k; c++) s->cnt[c] += red[kd + (size_t)c];
    *changed = red[kd + (size_t)k];
    *scored = red[kd + (size_t)k + 1];
    return STRATA_OK;
}

strata_status km_assign(km_state *s, const km_view *v, int use_bounds, int64_t *changed,
                        int64_t *scored, strata_error *err) {
    int64_t nscored = 0;
    strata_status st = assign_rows(s, v, use_bounds && s->bounds_valid, &nscored, err);
    if (st) return st;
    return apply_moves(s, v, nscored, changed, scored, err);
}

double km_objective(const km_state *s) {
    double obj = 0;
    size_t kd = (size_t)s->k * (size_t)s->dt;
    for (size_t j = 0; j < kd; j++) obj += (double)s->S[j] * (double)s->C[j];
    return obj / KM_FX_SCALE;
}
