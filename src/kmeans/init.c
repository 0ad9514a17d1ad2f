/*
 * init.c — initial centroids: k-means++ over a sample (half-precision
 * scoring where the CPU has F16C and AVX2) or random rows of the sample.
 *
 * Legend: K clusters, Dt dims of a row (sum of parts), m sampled rows.
 */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define KM_AVX2 1
#endif

#include "core/internal.h"
#include "kmeans/kmeans_internal.h"

/* ------------------------------------------------------------------------ */
/* Initialization                                                            */
/* ------------------------------------------------------------------------ */

enum { PP_CHUNK = 256 };

#ifdef KM_AVX2
static int km_have_f16(void) {
    const int want = STRATA_CPU_AVX2 | STRATA_CPU_FMA | STRATA_CPU_F16C;
    return (strata__cpu_features() & want) == want && km_simd_allowed();
}

/* G [m, Dt] to half precision H [m, Dt] (round to nearest). */
__attribute__((target("avx2,f16c"))) static void pp_to_half(const float *G, uint16_t *H,
                                                            size_t len) {
    size_t j = 0;
    for (; j + 8 <= len; j += 8)
        _mm_storeu_si128((__m128i *)(H + j),
                         _mm256_cvtps_ph(_mm256_loadu_ps(G + j), _MM_FROUND_TO_NEAREST_INT));
    for (; j < len; j++) H[j] = _cvtss_sh(G[j], _MM_FROUND_TO_NEAREST_INT);
}

/* One chunk of k-means++ on the half-precision sample: best[r] takes the
 * score of rows H [rows, Dt] against c [Dt] where it is higher; returns the
 * chunk's draw weight sum_r max(0, nparts - best[r]). */
__attribute__((target("avx2,fma,f16c"))) static double pp_chunk_half(const uint16_t *H,
                                                                     int64_t rows, int64_t dt,
                                                                     const float *c, double *best,
                                                                     int nparts) {
    double wsum = 0;
    for (int64_t r = 0; r < rows; r++) {
        const uint16_t *h = H + (size_t)r * (size_t)dt; /* [Dt] */
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(),
               a3 = _mm256_setzero_ps();
        int64_t j = 0;
#define PP_LD(o) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(h + j + (o))))
        for (; j + 32 <= dt; j += 32) {
            a0 = _mm256_fmadd_ps(PP_LD(0), _mm256_loadu_ps(c + j), a0);
            a1 = _mm256_fmadd_ps(PP_LD(8), _mm256_loadu_ps(c + j + 8), a1);
            a2 = _mm256_fmadd_ps(PP_LD(16), _mm256_loadu_ps(c + j + 16), a2);
            a3 = _mm256_fmadd_ps(PP_LD(24), _mm256_loadu_ps(c + j + 24), a3);
        }
        for (; j + 8 <= dt; j += 8) a0 = _mm256_fmadd_ps(PP_LD(0), _mm256_loadu_ps(c + j), a0);
#undef PP_LD
        a0 = _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));
        __m128 q = _mm_add_ps(_mm256_castps256_ps128(a0), _mm256_extractf128_ps(a0, 1));
        float t4[4];
        _mm_storeu_ps(t4, q);
        float sc = (t4[0] + t4[1]) + (t4[2] + t4[3]);
        for (; j < dt; j++) sc += _cvtsh_ss(h[j]) * c[j];
        if ((double)sc > best[r]) best[r] = (double)sc;
        double w = (double)nparts - best[r];
        if (w > 0) wsum += w;
    }
    return wsum;
}
#endif

/* One chunk of k-means++ on the float sample (sgemv), as pp_chunk_half. */
static double pp_chunk_float(const float *G, int64_t rows, int64_t dt, const float *c,
                             double *best, int nparts, float *t /* [PP_CHUNK] */) {
    cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)rows, (int)dt, 1.0f, G, (int)dt, c, 1, 0.0f, t,
                1);
    double wsum = 0;
    for (int64_t r = 0; r < rows; r++) {
        if ((double)t[r] > best[r]) best[r] = (double)t[r];
        double w = (double)nparts - best[r];
        if (w > 0) wsum += w;
    }
    return wsum;
}

/* k-means++ over G [m, Dt]: first centroid uniform, each next one drawn with
 * probability proportional to its squared distance 2 (nparts - best score)
 * to the chosen ones. Scores are kept per fixed 256-row chunk with the
 * chunk's weight sum, so the draws do not depend on the thread count. Where
 * the CPU has AVX2, FMA and F16C the scores come from a half-precision copy
 * of the sample (half the memory traffic per draw; a score moves by about
 * 1e-3 at most, which only perturbs the draw weights), elsewhere from sgemv
 * on the floats. The chosen centroids are the float rows either way. */
static strata_status kmeanspp(float *C, const float *G, int64_t m, int64_t dt, int k, int nparts,
                              strata_rng *rng, strata_error *err) {
    int64_t nch = (m + PP_CHUNK - 1) / PP_CHUNK;
    double *best = strata_malloc_array((size_t)m, sizeof *best);
    double *wch = strata_malloc_array((size_t)nch, sizeof *wch);
    int half = 0;
#ifdef KM_AVX2
    half = km_have_f16();
#endif
    uint16_t *H = half ? strata_malloc_array((size_t)m * (size_t)dt, sizeof *H) : NULL; /* [m, Dt] */
    float *tmp = half ? NULL : strata_malloc_array((size_t)strata__max_threads() * PP_CHUNK, sizeof *tmp);
    if (!best || !wch || (half ? !H : !tmp)) {
        strata_free(best);
        strata_free(wch);
        strata_free(tmp);
        strata_free(H);
        return strata_error_set(err, STRATA_ENOMEM, "kmeans: out of memory (k-means++)");
    }
#ifdef KM_AVX2
    if (H) pp_to_half(G, H, (size_t)m * (size_t)dt);
#endif
    int64_t f = (int64_t)strata_rng_below(rng, (uint64_t)m);
    memcpy(C, G + (size_t)f * (size_t)dt, (size_t)dt * sizeof(float));
    for (int64_t i = 0; i < m; i++) best[i] = -INFINITY;
    for (int c = 1; c < k; c++) {
        const float *last = C + (size_t)(c - 1) * (size_t)dt; /* [Dt] */
#pragma omp parallel
        {
            float *t = tmp ? tmp + (size_t)strata__thread_num() * PP_CHUNK : NULL; /* [PP_CHUNK] */
#pragma omp for schedule(static)
            for (int64_t ch = 0; ch < nch; ch++) {
                int64_t i0 = ch * PP_CHUNK, rows = m - i0 < PP_CHUNK ? m - i0 : PP_CHUNK;
#ifdef KM_AVX2
                if (H) {
                    wch[ch] = pp_chunk_half(H + (size_t)i0 * (size_t)dt, rows, dt, last, best + i0,
                                            nparts);
                    continue;
                }
#endif
                wch[ch] = pp_chunk_float(G + (size_t)i0 * (size_t)dt, rows, dt, last, best + i0,
                                         nparts, t);
            }
        }
        double total = 0;
        for (int64_t ch = 0; ch < nch; ch++) total += wch[ch];
        if (!(total > 1e-12)) {
            f = (int64_t)strata_rng_below(rng, (uint64_t)m);
        } else {
            /* the chunk where the running sum passes u, then the row */
            double u = strata_rng_uniform(rng) * total, cum = 0;
            int64_t ch = 0;
            while (ch < nch - 1 && cum + wch[ch] <= u) cum += wch[ch++];
            f = -1;
            for (int64_t i = ch * PP_CHUNK; i < m; i++) {
                double w = (double)nparts - best[i];
                if (w <= 0) continue;
                cum += w;
                f = i;
                if (cum > u) break;
            }
            if (f < 0) /* rounding left u past the last weight: the last one */
                for (int64_t i = m - 1; i >= 0 && f < 0; i--)
                    if ((double)nparts - best[i] > 0) f = i;
        }
        memcpy(C + (size_t)c * (size_t)dt, G + (size_t)f * (size_t)dt,
               (size_t)dt * sizeof(float));
    }
    strata_free(best);
    strata_free(wch);
    strata_free(tmp);
    strata_free(H);
    return STRATA_OK;
}

strata_status km_init(float *C, const km_view *v, int k, strata_kmeans_init init,
                      int64_t init_sample, strata_rng *rng, strata_error *err) {
    const strata_kmeans_input *in = v->in;
    int64_t dt = km_dt(in), n = v->n_global;
    int64_t m;
    if (init == STRATA_KMEANS_INIT_RANDOM) m = k;
    else {
        m = init_sample > 0 ? init_sample : 16 * (int64_t)k + 1024;
        if (m < k) m = k;
    }
    if (m > n) m = n;
    int64_t *pos = strata_malloc_array((size_t)m, sizeof *pos);
    float *G = strata_malloc_array((size_t)m * (size_t)dt, sizeof *G); /* [m, Dt] */
    if (!pos || !G) {
        strata_free(pos);
        strata_free(G);
        return strata_error_set(err, STRATA_ENOMEM, "kmeans: out of memory (init sample)");
    }
    km_sample_sorted(rng, n, m, pos);
    strata_status st = km_gather(v, pos, m, G, err);
    if (st == STRATA_OK) {
        if (init == STRATA_KMEANS_INIT_RANDOM) {
            /* m == k rows in a seeded random order */
            int64_t *perm = strata_malloc_array((size_t)m, sizeof *perm);
            if (!perm) st = strata_error_set(err, STRATA_ENOMEM, "kmeans: out of memory");
            else {
                for (int64_t i = 0; i < m; i++) perm[i] = i;
                strata_rng_shuffle_i64(rng, perm, m);
                for (int64_t i = 0; i < m; i++)
                    memcpy(C + (size_t)i * (size_t)dt, G + (size_t)perm[i] * (size_t)dt,
                           (size_t)dt * sizeof(float));
                strata_free(perm);
            }
        } else {
            st = kmeanspp(C, G, m, dt, k, in->nparts, rng, err);
        }
    }
    strata_free(pos);
    strata_free(G);
    if (st) return st;
    for (int c = 0; c < k; c++) km_normalize_parts(C + (size_t)c * (size_t)dt, in->nparts, in->dim);
    return STRATA_OK;
}
