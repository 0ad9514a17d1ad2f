/*
 * lloyd.c — the k-means kernels: row validation, the blocked sgemm
 * assignment with a fused top-9 scan and exact double re-scoring, exact
 * pruning (Hamerly bounds, then per-row candidate lists checked against the
 * centroids that moved most), exact fixed-point centroid sums, empty-cluster
 * repair, k-means++ / random initialization, and the naive reference.
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

/* ------------------------------------------------------------------------ */
/* Small helpers                                                             */
/* ------------------------------------------------------------------------ */

strata_status km_allreduce(const strata_kmeans_comm *comm, int64_t *buf, size_t n,
                           strata_error *err) {
    if (!comm || comm->size <= 1 || n == 0) return STRATA_OK;
    if (comm->allreduce_i64(comm->ud, buf, n) != 0)
        return strata_error_set(err, STRATA_EIO, "kmeans: collective sum failed");
    return STRATA_OK;
}

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

void km_normalize_parts(float *c, int nparts, const int64_t *dim) {
    for (int p = 0; p < nparts; p++) {
        double ss = 0;
        for (int64_t j = 0; j < dim[p]; j++) ss += (double)c[j] * (double)c[j];
        if (ss > 0) {
            double s = 1.0 / sqrt(ss);
            for (int64_t j = 0; j < dim[p]; j++) c[j] = (float)((double)c[j] * s);
        }
        c += dim[p];
    }
}

static inline void fx_add(int64_t *acc, const float *x, int64_t dt, int sign) {
    if (sign > 0)
        for (int64_t j = 0; j < dt; j++) acc[j] += (int64_t)((double)x[j] * KM_FX_SCALE);
    else
        for (int64_t j = 0; j < dt; j++) acc[j] -= (int64_t)((double)x[j] * KM_FX_SCALE);
}

/* ------------------------------------------------------------------------ */
/* Validation                                                                */
/* ------------------------------------------------------------------------ */

strata_status km_validate(const strata_kmeans_input *in, float *invn,
                          const strata_kmeans_comm *comm, strata_error *err) {
    int P = comm ? comm->size : 1, R = comm ? comm->rank : 0;
    int64_t n = in->n_local;
    int64_t bad_row = -1;
    int bad_kind = 0, bad_part = 0;
    int64_t bad_col = 0;
    /* Each thread owns a range of rows; the first bad row is the minimum. */
    int64_t first_bad = n;
#pragma omp parallel for schedule(static) reduction(min : first_bad)
    for (int64_t i = 0; i < n; i++) {
        for (int p = 0; p < in->nparts; p++) {
            const float *x = in->x[p] + (size_t)i * (size_t)in->dim[p];
            double ss = 0;
            int ok = 1;
            for (int64_t j = 0; j < in->dim[p]; j++) {
                if (!isfinite(x[j])) ok = 0;
                ss += (double)x[j] * (double)x[j];
            }
            if (!ok || !(ss > 0) || !isfinite(ss)) {
                if (i < first_bad) first_bad = i;
                invn[(size_t)p * (size_t)n + (size_t)i] = 0;
            } else {
                invn[(size_t)p * (size_t)n + (size_t)i] = (float)(1.0 / sqrt(ss));
            }
        }
    }
    if (first_bad < n) {
        int64_t i = first_bad;
        bad_row = in->row0 + i;
        for (int p = 0; p < in->nparts && !bad_kind; p++) {
            const float *x = in->x[p] + (size_t)i * (size_t)in->dim[p];
            for (int64_t j = 0; j < in->dim[p]; j++)
                if (isnan(x[j])) { bad_kind = 1; bad_part = p; bad_col = j; break; }
                else if (isinf(x[j])) { bad_kind = 2; bad_part = p; bad_col = j; break; }
            if (!bad_kind && invn[(size_t)p * (size_t)n + (size_t)i] == 0) {
                bad_kind = 3;
                bad_part = p;
            }
        }
        if (!bad_kind) bad_kind = 3;
    }
    /* Every rank learns every rank's first bad row: [P][4]. */
    int64_t *v = strata_calloc((size_t)P * 4, sizeof *v);
    if (!v) return strata_error_set(err, STRATA_ENOMEM, "kmeans: out of memory");
    v[R * 4 + 0] = bad_row + 1;
    v[R * 4 + 1] = bad_kind;
    v[R * 4 + 2] = bad_part;
    v[R * 4 + 3] = bad_col;
    strata_status st = km_allreduce(comm, v, (size_t)P * 4, err);
    if (st) {
        strata_free(v);
        return st;
    }
    for (int r = 0; r < P; r++) {
        if (v[r * 4] == 0) continue;
        long long row = (long long)(v[r * 4] - 1);
        int kind = (int)v[r * 4 + 1];
        const char *part = in->nparts > 1 ? (v[r * 4 + 2] ? " (input2)" : " (input)") : "";
        long long col = (long long)v[r * 4 + 3];
        strata_free(v);
        if (kind == 1)
            return strata_error_set(err, STRATA_EFORMAT, "row %lld%s: NaN in column %lld",
                                    row, part, col);
        if (kind == 2)
            return strata_error_set(err, STRATA_EFORMAT, "row %lld%s: Inf in column %lld",
                                    row, part, col);
        return strata_error_set(err, STRATA_EFORMAT,
                                "row %lld%s: all-zero vector (cannot be normalized)", row,
                                part);
    }
    strata_free(v);
    return STRATA_OK;
}

/* ------------------------------------------------------------------------ */
/* Views, sampling and gathering                                             */
/* ------------------------------------------------------------------------ */

strata_status km_view_make(km_view *v, const strata_kmeans_input *in,
                           const float *invn, const int64_t *idx, int64_t n,
                           const strata_kmeans_comm *comm, strata_error *err) {
    memset(v, 0, sizeof *v);
    v->in = in;
    v->invn = invn;
    v->idx = idx;
    v->n = n;
    v->n_global = n;
    if (!comm || comm->size <= 1) return STRATA_OK;
    v->comm = comm;
    v->rank_n = strata_calloc((size_t)comm->size, sizeof(int64_t));
    if (!v->rank_n) return strata_error_set(err, STRATA_ENOMEM, "kmeans: out of memory");
    v->rank_n[comm->rank] = n;
    strata_status st = km_allreduce(comm, v->rank_n, (size_t)comm->size, err);
    if (st) {
        km_view_free(v);
        return st;
    }
    v->n_global = 0;
    for (int r = 0; r < comm->size; r++) {
        if (r == comm->rank) v->gpos0 = v->n_global;
        v->n_global += v->rank_n[r];
    }
    return STRATA_OK;
}

void km_view_free(km_view *v) {
    if (!v) return;
    strata_free(v->rank_n);
    v->rank_n = NULL;
}

void km_sample_sorted(strata_rng *rng, int64_t n, int64_t m, int64_t *out) {
    /* Knuth's Algorithm S: each position kept with probability
     * (still needed) / (still left); output sorted, exactly m. */
    int64_t got = 0;
    for (int64_t t = 0; t < n && got < m; t++) {
        double u = strata_rng_uniform(rng);
        if ((double)(n - t) * u < (double)(m - got)) out[got++] = t;
    }
}

static int64_t lower_bound_i64(const int64_t *a, int64_t n, int64_t key) {
    int64_t lo = 0, hi = n;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (a[mid] < key) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

strata_status km_gather(const km_view *v, const int64_t *pos, int64_t m, float *G,
                        strata_error *err) {
    int64_t dt = km_dt(v->in);
    int64_t lo = lower_bound_i64(pos, m, v->gpos0);
    int64_t hi = lower_bound_i64(pos, m, v->gpos0 + v->n);
#pragma omp parallel for schedule(static)
    for (int64_t s = lo; s < hi; s++) km_load_row(v, pos[s] - v->gpos0, G + (size_t)s * (size_t)dt);
    if (!v->comm) return STRATA_OK;
    int64_t start = 0;
    for (int r = 0; r < v->comm->size; r++) {
        int64_t a = lower_bound_i64(pos, m, start);
        int64_t b = lower_bound_i64(pos, m, start + v->rank_n[r]);
        start += v->rank_n[r];
        if (b <= a) continue;
        /* chunks below 1 GiB per call */
        size_t bytes = (size_t)(b - a) * (size_t)dt * sizeof(float);
        char *p = (char *)(G + (size_t)a * (size_t)dt);
        while (bytes > 0) {
            size_t c = bytes > ((size_t)1 << 30) ? ((size_t)1 << 30) : bytes;
            if (v->comm->bcast(v->comm->ud, p, c, r) != 0)
                return strata_error_set(err, STRATA_EIO, "kmeans: collective broadcast failed");
            p += c;
            bytes -= c;
        }
    }
    return STRATA_OK;
}

/* ------------------------------------------------------------------------ */
/* Initialization                                                            */
/* ------------------------------------------------------------------------ */

enum { PP_CHUNK = 256 };

#ifdef KM_AVX2
static int km_have_f16(void) {
    const int want = STRATA_CPU_AVX2 | STRATA_CPU_FMA | STRATA_CPU_F16C;
    return (strata__cpu_features() & want) == want && !g_no_simd;
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

/* ------------------------------------------------------------------------ */
/* Lloyd state                                                               */
/* ------------------------------------------------------------------------ */

void km_state_free(km_state *s) {
    if (!s) return;
    strata_free(s->C);
    strata_free(s->Cold);
    strata_free(s->S);
    strata_free(s->cnt);
    strata_free(s->red);
    strata_free(s->a);
    strata_free(s->prev);
    strata_free(s->lb);
    strata_free(s->ub);
    strata_free(s->cand);
    strata_free(s->ucand);
    strata_free(s->cnext);
    strata_free(s->drift);
    strata_free(s->moved);
    strata_free(s->CM);
    strata_free(s->mv_off);
    strata_free(s->mv);
    strata_free(s->rep);
    memset(s, 0, sizeof *s);
}

strata_status km_state_init(km_state *s, const km_view *v, int k, strata_error *err) {
    memset(s, 0, sizeof *s);
    s->k = k;
    s->dt = km_dt(v->in);
    s->n = v->n;
    size_t kd = (size_t)k * (size_t)s->dt, n = (size_t)(v->n > 0 ? v->n : 1);
    s->C = strata_calloc(kd, sizeof(float));
    s->Cold = strata_calloc(kd, sizeof(float));
    s->S = strata_calloc(kd, sizeof(int64_t));
    s->cnt = strata_calloc((size_t)k, sizeof(int64_t));
    s->red = strata_calloc(kd + (size_t)k + 2, sizeof(int64_t));
    s->a = strata_malloc_array(n, sizeof(int32_t));
    s->prev = strata_malloc_array(n, sizeof(int32_t));
    s->lb = strata_malloc_array(n, sizeof(double));
    s->ub = strata_malloc_array(n, sizeof(double));
    s->ncand = k < KM_NCAND ? k : KM_NCAND;
    s->cand = strata_malloc_array(n * (size_t)s->ncand, sizeof(int32_t));
    s->ucand = strata_malloc_array(n, sizeof(double));
    s->cnext = strata_malloc_array(n, sizeof(int32_t));
    s->drift = strata_calloc((size_t)k, sizeof(double));
    s->moved = strata_malloc_array((size_t)k, sizeof(int32_t));
    s->CM = strata_malloc_array((size_t)(k / KM_MOVED_DIV > 0 ? k / KM_MOVED_DIV : 1) * (size_t)s->dt,
                                sizeof(float));
    s->mv_off = strata_calloc(2 * (size_t)k + 2, sizeof(int64_t));
    s->mv = strata_malloc_array(2 * n, sizeof(int64_t));
    s->rep = strata_malloc_array((size_t)k, sizeof(int64_t));
    if (!s->C || !s->Cold || !s->S || !s->cnt || !s->red || !s->a || !s->prev || !s->lb ||
        !s->ub || !s->cand || !s->ucand || !s->cnext || !s->drift || !s->moved || !s->CM ||
        !s->mv_off || !s->mv || !s->rep) {
        km_state_free(s);
        return strata_error_set(err, STRATA_ENOMEM, "kmeans: out of memory (K=%d, N=%lld)", k,
                                (long long)v->n);
    }
    for (int64_t i = 0; i < v->n; i++) s->a[i] = -1;
    return STRATA_OK;
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

strata_status km_assign(km_state *s, const km_view *v, int use_bounds, int64_t *changed,
                        int64_t *scored, strata_error *err) {
    int k = s->k;
    int64_t dt = s->dt, n = v->n;
    int64_t B = block_rows(k);
    int T = strata__max_threads();
    double err_max = score_err(dt, v->in->nparts);
    int prune = use_bounds && s->bounds_valid;
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

double km_objective(const km_state *s) {
    double obj = 0;
    size_t kd = (size_t)s->k * (size_t)s->dt;
    for (size_t j = 0; j < kd; j++) obj += (double)s->S[j] * (double)s->C[j];
    return obj / KM_FX_SCALE;
}

/* ------------------------------------------------------------------------ */
/* Update and empty-cluster repair                                           */
/* ------------------------------------------------------------------------ */

/* Descending drift, then ascending index (a total order: same bits
 * everywhere). */
static int by_drift_desc(const void *x, const void *y, void *arg) {
    const double *d = arg;
    int32_t a = *(const int32_t *)x, b = *(const int32_t *)y;
    if (d[a] != d[b]) return d[a] > d[b] ? -1 : 1;
    return (a > b) - (a < b);
}

int km_update(km_state *s, const strata_kmeans_input *in, strata_rng *rng, int repair) {
    int k = s->k;
    int64_t dt = s->dt;
    memcpy(s->Cold, s->C, (size_t)k * (size_t)dt * sizeof(float));
    for (int c = 0; c < k; c++) {
        if (s->cnt[c] <= 0) continue;
        const int64_t *S = s->S + (size_t)c * (size_t)dt; /* [Dt] */
        float *C = s->C + (size_t)c * (size_t)dt;         /* [Dt] */
        int64_t o = 0;
        for (int p = 0; p < in->nparts; p++) {
            double ss = 0;
            for (int64_t j = 0; j < in->dim[p]; j++) ss += (double)S[o + j] * (double)S[o + j];
            if (ss > 0) {
                double sc = 1.0 / sqrt(ss);
                for (int64_t j = 0; j < in->dim[p]; j++) C[o + j] = (float)((double)S[o + j] * sc);
            }
            o += in->dim[p];
        }
    }
    int nrep = 0;
    if (repair) {
        int64_t *h = s->rep;
        memcpy(h, s->cnt, (size_t)k * sizeof *h);
        const double EPS = 1.0 / 1024.0;
        for (int ci = 0; ci < k; ci++) {
            if (h[ci] > 0) continue;
            uint64_t total = 0;
            for (int c = 0; c < k; c++)
                if (h[c] > 1) total += (uint64_t)(h[c] - 1);
            if (total == 0) break;
            uint64_t u = strata_rng_below(rng, total), cum = 0;
            int cj = 0;
            for (int c = 0; c < k; c++) {
                if (h[c] <= 1) continue;
                cum += (uint64_t)(h[c] - 1);
                if (u < cum) {
                    cj = c;
                    break;
                }
            }
            float *a = s->C + (size_t)ci * (size_t)dt, *b = s->C + (size_t)cj * (size_t)dt;
            memcpy(a, b, (size_t)dt * sizeof(float));
            for (int64_t j = 0; j < dt; j++) {
                if (j % 2 == 0) {
                    a[j] = (float)((double)a[j] * (1 + EPS));
                    b[j] = (float)((double)b[j] * (1 - EPS));
                } else {
                    a[j] = (float)((double)a[j] * (1 - EPS));
                    b[j] = (float)((double)b[j] * (1 + EPS));
                }
            }
            km_normalize_parts(a, in->nparts, in->dim);
            km_normalize_parts(b, in->nparts, in->dim);
            h[ci] = h[cj] / 2;
            h[cj] -= h[ci];
            nrep++;
        }
    }
    /* Drift per centroid, an upper bound on how much any unit row's score
     * against it can change (Cauchy-Schwarz per part, with slack). */
    s->dmax1 = s->dmax2 = 0;
    s->dmax_i = -1;
    for (int c = 0; c < k; c++) {
        const float *a = s->C + (size_t)c * (size_t)dt, *b = s->Cold + (size_t)c * (size_t)dt;
        double d = 0;
        int64_t o = 0;
        for (int p = 0; p < in->nparts; p++) {
            double ss = 0;
            for (int64_t j = 0; j < in->dim[p]; j++) {
                double e = (double)a[o + j] - (double)b[o + j];
                ss += e * e;
            }
            d += sqrt(ss);
            o += in->dim[p];
        }
        d = d * (1 + 1e-5) + (d > 0 ? 1e-12 : 0);
        s->drift[c] = d;
        if (d > s->dmax1) {
            s->dmax2 = s->dmax1;
            s->dmax1 = d;
            s->dmax_i = c;
        } else if (d > s->dmax2) {
            s->dmax2 = d;
        }
    }
    /* The moved set: up to K / KM_MOVED_DIV centroids with the largest
     * (non-zero) drifts; every other one moved at most d_stay. */
    s->nmoved = 0;
    s->d_stay = s->dmax1;
    int maxm = k / KM_MOVED_DIV;
    if (maxm > 0) {
        for (int c = 0; c < k; c++) s->moved[c] = c;
        qsort_r(s->moved, (size_t)k, sizeof(int32_t), by_drift_desc, s->drift);
        int nm = 0;
        while (nm < maxm && s->drift[s->moved[nm]] > 0) nm++;
        s->nmoved = nm;
        s->d_stay = nm < k ? s->drift[s->moved[nm]] : 0;
        for (int q = 0; q < nm; q++)
            memcpy(s->CM + (size_t)q * (size_t)dt, s->C + (size_t)s->moved[q] * (size_t)dt,
                   (size_t)dt * sizeof(float));
    }
    s->bounds_valid = 1;
    return nrep;
}

/* ------------------------------------------------------------------------ */
/* Lloyd                                                                     */
/* ------------------------------------------------------------------------ */

void km_iters_free(km_iters *r) {
    if (!r) return;
    strata_free(r->v);
    memset(r, 0, sizeof *r);
}

/* The next record of rec (grown by doubling), NULL when out of memory. */
static strata_kmeans_iter *iters_next(km_iters *rec) {
    if (rec->n == rec->cap) {
        int ncap = rec->cap > 0 ? (rec->cap < INT32_MAX / 2 ? rec->cap * 2 : INT32_MAX) : 32;
        strata_kmeans_iter *nv = strata_realloc(rec->v, (size_t)ncap * sizeof *nv);
        if (!nv) return NULL;
        rec->v = nv;
        rec->cap = ncap;
    }
    strata_kmeans_iter *r = &rec->v[rec->n++];
    memset(r, 0, sizeof *r);
    return r;
}

strata_status km_lloyd(km_state *s, const km_view *v, int niter, int bounds, int repair,
                       strata_rng *rng, km_iters *rec, int *n_iter, km_prog *prog,
                       strata_error *err) {
    int it = 0, need_final = 1;
    strata_status st;
    if (rec) rec->n = 0;
    for (; it < niter; it++) {
        double t0 = strata__now_s();
        int64_t changed, scored;
        if ((st = km_assign(s, v, bounds, &changed, &scored, err))) return st;
        double obj = km_objective(s);
        strata_kmeans_iter *r = NULL;
        if (rec && !(r = iters_next(rec)))
            return strata_error_set(err, STRATA_ENOMEM, "kmeans: out of memory (iteration records)");
        if (r) {
            r->objective = obj;
            r->changed = changed;
            r->scored = scored;
        }
        if (changed == 0 && it > 0) {
            /* nothing moved: the centroids are already the means */
            if (r) r->seconds = strata__now_s() - t0;
            it++;
            if (prog && prog->progress) prog->done++;
            need_final = 0;
            break;
        }
        km_update(s, v->in, rng, repair);
        if (r) r->seconds = strata__now_s() - t0;
        if (prog && prog->progress) {
            prog->done++;
            strata_progress_report(prog->progress, "kmeans", prog->done, prog->total, "iter");
        }
    }
    if (prog && prog->progress && it < niter) {
        prog->done += niter - it;
        strata_progress_report(prog->progress, "kmeans", prog->done, prog->total, "iter");
    }
    if (need_final) {
        int64_t changed, scored;
        if ((st = km_assign(s, v, bounds, &changed, &scored, err))) return st;
    }
    *n_iter = it;
    return STRATA_OK;
}

/* ------------------------------------------------------------------------ */
/* Public building blocks                                                    */
/* ------------------------------------------------------------------------ */

static strata_status check_input(const strata_kmeans_input *in, int k, strata_error *err) {
    if (!in || (in->nparts != 1 && in->nparts != 2))
        return strata_error_set(err, STRATA_EINVAL, "kmeans: nparts must be 1 or 2");
    for (int p = 0; p < in->nparts; p++) {
        if (in->dim[p] <= 0 || in->dim[p] > (1 << 24))
            return strata_error_set(err, STRATA_EINVAL, "kmeans: bad dimension %lld",
                                    (long long)in->dim[p]);
        if (in->n_local > 0 && !in->x[p])
            return strata_error_set(err, STRATA_EINVAL, "kmeans: missing data for part %d", p);
    }
    if (in->n_local < 0 || in->n_local > INT32_MAX)
        return strata_error_set(err, STRATA_EINVAL, "kmeans: bad row count %lld",
                                (long long)in->n_local);
    if (k < 1) return strata_error_set(err, STRATA_EINVAL, "kmeans: K must be >= 1, got %d", k);
    return STRATA_OK;
}

strata_status strata_kmeans_lloyd(float *centroids, int32_t *assign,
                                  const strata_kmeans_input *in, int k, int niter, int bounds,
                                  int repair, strata_kmeans_iter *iters, int *n_iter,
                                  strata_error *err) {
    strata_status st = check_input(in, k, err);
    if (st) return st;
    if (k > in->n_local)
        return strata_error_set(err, STRATA_EINVAL, "K (%d) exceeds the number of rows (%lld)", k,
                                (long long)in->n_local);
    strata_blas_threads(1);
    int64_t dt = km_dt(in);
    float *invn = strata_malloc_array((size_t)in->nparts * (size_t)in->n_local, sizeof(float));
    if (!invn) return strata_error_set(err, STRATA_ENOMEM, "kmeans: out of memory");
    if ((st = km_validate(in, invn, NULL, err))) {
        strata_free(invn);
        return st;
    }
    km_view v;
    km_state s;
    if ((st = km_view_make(&v, in, invn, NULL, in->n_local, NULL, err)) ||
        (st = km_state_init(&s, &v, k, err))) {
        strata_free(invn);
        return st;
    }
    memcpy(s.C, centroids, (size_t)k * (size_t)dt * sizeof(float));
    for (int c = 0; c < k; c++) km_normalize_parts(s.C + (size_t)c * (size_t)dt, in->nparts, in->dim);
    strata_rng rng;
    strata_rng_seed(&rng, 1, 0);
    int done = 0;
    km_iters rec = {NULL, 0, 0};
    st = km_lloyd(&s, &v, niter, bounds, repair, &rng, iters ? &rec : NULL, &done, NULL, err);
    if (st == STRATA_OK) {
        memcpy(centroids, s.C, (size_t)k * (size_t)dt * sizeof(float));
        memcpy(assign, s.a, (size_t)in->n_local * sizeof(int32_t));
        if (iters && rec.n > 0) memcpy(iters, rec.v, (size_t)rec.n * sizeof *iters);
        if (n_iter) *n_iter = done;
    }
    km_iters_free(&rec);
    km_state_free(&s);
    strata_free(invn);
    return st;
}

/* ------------------------------------------------------------------------ */
/* Naive reference                                                           */
/* ------------------------------------------------------------------------ */

strata_status strata_kmeans_lloyd_naive(float *centroids, int32_t *assign,
                                        const strata_kmeans_input *in, int k, int niter,
                                        double *objective, strata_error *err) {
    strata_status st = check_input(in, k, err);
    if (st) return st;
    int64_t n = in->n_local, dt = km_dt(in);
    float *invn = strata_malloc_array((size_t)in->nparts * (size_t)n, sizeof(float));
    float *X = strata_malloc_array((size_t)n * (size_t)dt, sizeof(float));     /* [N, Dt] */
    double *sum = strata_malloc_array((size_t)k * (size_t)dt, sizeof(double)); /* [K, Dt] */
    int64_t *cnt = strata_malloc_array((size_t)k, sizeof(int64_t));
    if (!invn || !X || !sum || !cnt) {
        st = strata_error_set(err, STRATA_ENOMEM, "kmeans: out of memory");
        goto done;
    }
    if ((st = km_validate(in, invn, NULL, err))) goto done;
    km_view v;
    if ((st = km_view_make(&v, in, invn, NULL, n, NULL, err))) goto done;
    for (int64_t i = 0; i < n; i++) km_load_row(&v, i, X + (size_t)i * (size_t)dt);
    for (int c = 0; c < k; c++)
        km_normalize_parts(centroids + (size_t)c * (size_t)dt, in->nparts, in->dim);
    for (int it = 0; it <= niter; it++) {
        double obj = 0;
        for (int64_t i = 0; i < n; i++) {
            int best = 0;
            double bs = -INFINITY;
            for (int c = 0; c < k; c++) {
                double d = km_dscore(X + (size_t)i * (size_t)dt, centroids + (size_t)c * (size_t)dt, dt);
                if (d > bs) {
                    bs = d;
                    best = c;
                }
            }
            assign[i] = best;
            obj += bs;
        }
        if (objective) *objective = obj;
        if (it == niter) break; /* final assignment to the final centroids */
        memset(sum, 0, (size_t)k * (size_t)dt * sizeof(double));
        memset(cnt, 0, (size_t)k * sizeof(int64_t));
        for (int64_t i = 0; i < n; i++) {
            cnt[assign[i]]++;
            for (int64_t j = 0; j < dt; j++)
                sum[(size_t)assign[i] * (size_t)dt + (size_t)j] += X[(size_t)i * (size_t)dt + (size_t)j];
        }
        for (int c = 0; c < k; c++) {
            if (!cnt[c]) continue;
            int64_t o = 0;
            for (int p = 0; p < in->nparts; p++) {
                double ss = 0;
                for (int64_t j = 0; j < in->dim[p]; j++) {
                    double e = sum[(size_t)c * (size_t)dt + (size_t)(o + j)];
                    ss += e * e;
                }
                for (int64_t j = 0; j < in->dim[p]; j++)
                    centroids[(size_t)c * (size_t)dt + (size_t)(o + j)] =
                        (float)(sum[(size_t)c * (size_t)dt + (size_t)(o + j)] / sqrt(ss));
                o += in->dim[p];
            }
        }
    }
done:
    strata_free(invn);
    strata_free(X);
    strata_free(sum);
    strata_free(cnt);
    return st;
}
