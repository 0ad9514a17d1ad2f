/*
 * topk.c — exact top-k by inner product: blocked sgemm fused with a bounded
 * min-heap per query, and the naive reference it is tested against.
 *
 * Layout of the fast kernel: the queries are cut into fixed blocks of BQ
 * rows (the cut depends only on NQ, never on the thread count); each
 * OpenMP thread takes whole query blocks and, for each corpus block of BC
 * rows, computes S = Qblk · Cblkᵀ with a single-threaded sgemm into its own
 * scratch [BQ, BC] (small enough to stay in cache), then scans each row of S
 * against the query's heap threshold. Almost every score fails the single
 * compare, so the scan costs a small fraction of the product. The heaps live
 * in the output arrays themselves; at the end each is sorted best first.
 *
 * Tie rule: better = higher score, then lower corpus index. Corpus blocks are
 * scanned in increasing index order, so a candidate whose score equals the
 * heap's worst is always worse (its index is larger) and the strict compare
 * `s > threshold` is exact.
 */
#define _POSIX_C_SOURCE 200809L
#include "strata/eval.h"
#include "core/internal.h"
#include "eval/topk_internal.h"

#include <cblas.h>
#include <math.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define TOPK_X86 1
#endif
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Block sizes                                                               */
/* ------------------------------------------------------------------------ */

/* Measured in bench/bench_topk.sh (5,000 x 500,000 x 384, 2 threads). */
static int g_bq = 512;   /* query rows per block  */
static int g_bc = 1024;  /* corpus rows per block */
static int g_no_simd;    /* 1: portable scan even where AVX2 exists */

void strata__topk_set_blocks(int bq, int bc) {
    g_bq = bq > 0 ? bq : 512;
    g_bc = bc > 0 ? bc : 1024;
}

void strata__topk_set_simd(int on) { g_no_simd = !on; }

/* ------------------------------------------------------------------------ */
/* Heap of one query: hs[0..n) scores, hi[0..n) indices, root = worst       */
/* ------------------------------------------------------------------------ */

/* 1 when (sa, ia) ranks below (sb, ib). */
static inline int worse(float sa, int64_t ia, float sb, int64_t ib) {
    return sa < sb || (sa == sb && ia > ib);
}

static inline void heap_push(float *hs, int64_t *hi, int n, float s, int64_t i) {
    int c = n;
    while (c > 0) {
        int p = (c - 1) >> 1;
        if (!worse(s, i, hs[p], hi[p])) break;
        hs[c] = hs[p];
        hi[c] = hi[p];
        c = p;
    }
    hs[c] = s;
    hi[c] = i;
}

/* Replaces the root (the worst) by (s, i) and sifts it down. */
static inline void heap_replace(float *hs, int64_t *hi, int n, float s, int64_t i) {
    int c = 0;
    for (;;) {
        int l = 2 * c + 1;
        if (l >= n) break;
        int r = l + 1;
        int m = (r < n && worse(hs[r], hi[r], hs[l], hi[l])) ? r : l;
        if (!worse(hs[m], hi[m], s, i)) break;
        hs[c] = hs[m];
        hi[c] = hi[m];
        c = m;
    }
    hs[c] = s;
    hi[c] = i;
}

typedef struct pair_si {
    float s;
    int64_t i;
} pair_si;

static int cmp_best_first(const void *a, const void *b) {
    const pair_si *x = a, *y = b;
    if (x->s != y->s) return x->s > y->s ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

/* Sorts the n entries of one heap best first and pads to k. */
static void heap_finish(float *hs, int64_t *hi, int n, int k, float qscale, pair_si *tmp) {
    for (int j = 0; j < n; j++) {
        tmp[j].s = hs[j];
        tmp[j].i = hi[j];
    }
    qsort(tmp, (size_t)n, sizeof *tmp, cmp_best_first);
    for (int j = 0; j < n; j++) {
        hs[j] = tmp[j].s * qscale;
        hi[j] = tmp[j].i;
    }
    for (int j = n; j < k; j++) {
        hs[j] = -INFINITY;
        hi[j] = -1;
    }
}

/* The unscaled scan after the fill phase, portable version: blocks of 8
 * scores are tested against the threshold at once (the compiler vectorizes
 * the test), the rare block with a candidate is handled one by one. */
static void scan_plain(const float *restrict row, int64_t c0, int j, int bc,
                       float *restrict hs, int64_t *restrict hi, int k) {
    float thr = hs[0];
    for (; j + 8 <= bc; j += 8) {
        int m = 0;
        for (int t = 0; t < 8; t++) m |= row[j + t] > thr;
        if (!m) continue;
        for (int t = 0; t < 8; t++) {
            float s = row[j + t];
            if (s > thr) {
                heap_replace(hs, hi, k, s, c0 + j + t);
                thr = hs[0];
            }
        }
    }
    for (; j < bc; j++) {
        float s = row[j];
        if (s > thr) {
            heap_replace(hs, hi, k, s, c0 + j);
            thr = hs[0];
        }
    }
}

#ifdef TOPK_X86
/* Same scan with AVX2: 16 scores per test (two compares and one movemask).
 * Identical result to scan_plain (same compares, same order). */
__attribute__((target("avx2"))) static void scan_avx2(const float *restrict row, int64_t c0,
                                                      int j, int bc, float *restrict hs,
                                                      int64_t *restrict hi, int k) {
    float thr = hs[0];
    __m256 t8 = _mm256_set1_ps(thr);
    for (; j + 16 <= bc; j += 16) {
        __m256 a = _mm256_loadu_ps(row + j), b = _mm256_loadu_ps(row + j + 8);
        __m256 m = _mm256_or_ps(_mm256_cmp_ps(a, t8, _CMP_GT_OQ), _mm256_cmp_ps(b, t8, _CMP_GT_OQ));
        if (!_mm256_movemask_ps(m)) continue;
        for (int t = 0; t < 16; t++) {
            float s = row[j + t];
            if (s > thr) {
                heap_replace(hs, hi, k, s, c0 + j + t);
                thr = hs[0];
            }
        }
        t8 = _mm256_set1_ps(thr);
    }
    for (; j < bc; j++) {
        float s = row[j];
        if (s > thr) {
            heap_replace(hs, hi, k, s, c0 + j);
            thr = hs[0];
        }
    }
}

static int have_avx2(void) { return (strata__cpu_features() & STRATA_CPU_AVX2) != 0; }
#endif

/* Feeds one row of scores (corpus rows c0 .. c0+bc) into a heap. */
static inline void scan_row(const float *restrict row, const float *restrict cs, int64_t c0,
                            int bc, float *restrict hs, int64_t *restrict hi, int *cnt, int k,
                            int avx2) {
    int j = 0, n = *cnt;
    /* fill phase: everything (but NaN) enters until the heap is full */
    for (; n < k && j < bc; j++) {
        float s = cs ? row[j] * cs[j] : row[j];
        if (s == s) heap_push(hs, hi, n++, s, c0 + j);
    }
    *cnt = n;
    if (j >= bc) return;
    if (!cs) {
#ifdef TOPK_X86
        if (avx2) {
            scan_avx2(row, c0, j, bc, hs, hi, k);
            return;
        }
#endif
        (void)avx2;
        scan_plain(row, c0, j, bc, hs, hi, k);
        return;
    }
    float thr = hs[0];
    for (; j < bc; j++) {
        float s = row[j] * cs[j];
        if (s > thr) {
            heap_replace(hs, hi, k, s, c0 + j);
            thr = hs[0];
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Fast kernel                                                               */
/* ------------------------------------------------------------------------ */

static strata_status check_args(const float *Q, int64_t nq, const float *C, int64_t nc,
                                int D, int k, const int64_t *idx, const float *score,
                                strata_error *err) {
    if (k < 1) return strata_error_set(err, STRATA_EINVAL, "top-k: k must be >= 1 (got %d)", k);
    if (D < 1) return strata_error_set(err, STRATA_EINVAL, "top-k: D must be >= 1 (got %d)", D);
    if (nq < 0 || nc < 0)
        return strata_error_set(err, STRATA_EINVAL, "top-k: negative sizes");
    if ((nq > 0 && (!Q || !idx || !score)) || (nc > 0 && !C))
        return strata_error_set(err, STRATA_EINVAL, "top-k: NULL array");
    size_t tmp;
    if (strata_size_mul((size_t)nq, (size_t)k, &tmp) ||
        strata_size_mul((size_t)nc, (size_t)D, &tmp) ||
        strata_size_mul((size_t)nq, (size_t)D, &tmp))
        return strata_error_set(err, STRATA_ENOMEM, "top-k: size overflow");
    return STRATA_OK;
}

strata_status strata_topk_ip(const float *Q, int64_t nq, const float *C,
                             int64_t nc, int D, const float *q_scale,
                             const float *c_scale, int k, int64_t *idx,
                             float *score, strata_progress progress,
                             strata_error *err) {
    strata_status st = check_args(Q, nq, C, nc, D, k, idx, score, err);
    if (st) return st;
    if (nq == 0) return STRATA_OK;
    const int BQ = g_bq, BC = g_bc;
    int nt = strata__max_threads();
    float *scratch = strata_malloc_array((size_t)nt * BQ, (size_t)BC * sizeof(float));
    int *cnt = strata_calloc((size_t)nq, sizeof *cnt);
    pair_si *tmp = strata_malloc_array((size_t)nt * k, sizeof *tmp);
    if (!scratch || !cnt || !tmp) {
        strata_free(scratch);
        strata_free(cnt);
        strata_free(tmp);
        return strata_error_set(err, STRATA_ENOMEM, "top-k: out of memory for scratch");
    }
    strata_blas_threads(1); /* sgemm runs inside our OpenMP threads */
    int avx2 = 0;
#ifdef TOPK_X86
    avx2 = have_avx2() && !g_no_simd;
#endif
    int64_t nblk = (nq + BQ - 1) / BQ;
    int64_t chunk = nblk / 8 > 4 * (int64_t)nt ? nblk / 8 : 4 * (int64_t)nt;
    for (int64_t b0 = 0; b0 < nblk; b0 += chunk) {
        int64_t b1 = b0 + chunk < nblk ? b0 + chunk : nblk;
#pragma omp parallel for schedule(dynamic, 1)
        for (int64_t blk = b0; blk < b1; blk++) {
            int tid = strata__thread_num();
            float *S = scratch + (size_t)tid * BQ * BC; /* [bq, bc] */
            int64_t q0 = blk * BQ;
            int bq = (int)(nq - q0 < BQ ? nq - q0 : BQ);
            for (int64_t c0 = 0; c0 < nc; c0 += BC) {
                int bc = (int)(nc - c0 < BC ? nc - c0 : BC);
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, bq, bc, D, 1.0f,
                            Q + (size_t)q0 * D, D, C + (size_t)c0 * D, D, 0.0f, S, bc);
                const float *cs = c_scale ? c_scale + c0 : NULL;
                for (int r = 0; r < bq; r++) {
                    int64_t q = q0 + r;
                    scan_row(S + (size_t)r * bc, cs, c0, bc, score + (size_t)q * k,
                             idx + (size_t)q * k, &cnt[q], k, avx2);
                }
            }
            for (int r = 0; r < bq; r++) {
                int64_t q = q0 + r;
                heap_finish(score + (size_t)q * k, idx + (size_t)q * k, cnt[q], k,
                            q_scale ? q_scale[q] : 1.0f, tmp + (size_t)tid * k);
            }
        }
        int64_t done = b1 * BQ < nq ? b1 * BQ : nq;
        strata_progress_report(&progress, "search", done, nq, "queries");
    }
    strata_free(scratch);
    strata_free(cnt);
    strata_free(tmp);
    return STRATA_OK;
}

/* ------------------------------------------------------------------------ */
/* Naive reference                                                           */
/* ------------------------------------------------------------------------ */

strata_status strata_topk_ip_naive(const float *Q, int64_t nq, const float *C,
                                   int64_t nc, int D, const float *q_scale,
                                   const float *c_scale, int k, int64_t *idx,
                                   float *score, strata_error *err) {
    strata_status st = check_args(Q, nq, C, nc, D, k, idx, score, err);
    if (st) return st;
    pair_si *all = strata_malloc_array((size_t)(nc ? nc : 1), sizeof *all);
    if (!all) return strata_error_set(err, STRATA_ENOMEM, "top-k: out of memory");
    for (int64_t q = 0; q < nq; q++) {
        int64_t m = 0;
        for (int64_t c = 0; c < nc; c++) {
            float dot = 0.0f;
            for (int d = 0; d < D; d++) dot += Q[(size_t)q * D + d] * C[(size_t)c * D + d];
            float s = c_scale ? dot * c_scale[c] : dot;
            if (s != s) continue;
            all[m].s = s;
            all[m].i = c;
            m++;
        }
        qsort(all, (size_t)m, sizeof *all, cmp_best_first);
        float qs = q_scale ? q_scale[q] : 1.0f;
        for (int j = 0; j < k; j++) {
            score[(size_t)q * k + j] = j < m ? all[j].s * qs : -INFINITY;
            idx[(size_t)q * k + j] = j < m ? all[j].i : -1;
        }
    }
    strata_free(all);
    return STRATA_OK;
}

/* ------------------------------------------------------------------------ */
/* Norms                                                                     */
/* ------------------------------------------------------------------------ */

void strata_inv_norms(const float *X, int64_t n, int D, float *inv) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) {
        double s = 0.0;
        const float *x = X + (size_t)i * D;
        for (int d = 0; d < D; d++) s += (double)x[d] * x[d];
        inv[i] = s > 0.0 ? (float)(1.0 / sqrt(s)) : 0.0f;
    }
}
