/*
 * mask.c — false-negative masks (CDE Eq. 4) from surrogate embeddings.
 *
 * For a batch of B pairs with surrogate query / document embeddings, query i
 * excludes in-batch document j (j != i) from its softmax partition when
 *     s(q_i, d_j) >= s(q_i, d_i) - margin        (relative rule, default)
 *     s(q_i, d_j) >= threshold                   (absolute rule)
 * with s the cosine similarity. The fast kernel gathers the batch rows and
 * computes the B x B scores with one single-threaded sgemm; batches are
 * spread over OpenMP threads, each batch owned by one thread, so the mask
 * does not depend on the thread count.
 */
#include <math.h>
#include <string.h>
#include <cblas.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "plan/plan_internal.h"
#include "core/internal.h"

/* Bits set in each byte value. */
static const uint8_t k_popcount[256] = {
#define P2(n) n, n + 1, n + 1, n + 2
#define P4(n) P2(n), P2(n + 1), P2(n + 1), P2(n + 2)
#define P6(n) P4(n), P4(n + 1), P4(n + 1), P4(n + 2)
    P6(0), P6(1), P6(1), P6(2)
#undef P2
#undef P4
#undef P6
};

/* ------------------------------------------------------------------------ */
/* One batch: naive reference (double loops)                                 */
/* ------------------------------------------------------------------------ */

static double cos_naive(const float *a, const float *b, int64_t dim) {
    double ab = 0, aa = 0, bb = 0;
    for (int64_t k = 0; k < dim; k++) {
        ab += (double)a[k] * b[k];
        aa += (double)a[k] * a[k];
        bb += (double)b[k] * b[k];
    }
    if (aa <= 0 || bb <= 0) return 0;
    return ab / (sqrt(aa) * sqrt(bb));
}

int64_t strata_plan_mask_batch_naive(uint8_t *mask, const int64_t *idx,
                                     int64_t B, const float *fq,
                                     const float *fd, int64_t dim,
                                     double margin, int use_threshold,
                                     double threshold) {
    int64_t W = strata_plan_mask_width(B), set = 0;
    memset(mask, 0, (size_t)B * (size_t)W);
    for (int64_t i = 0; i < B; i++) {
        if (idx[i] < 0) continue;
        const float *q = fq + (size_t)idx[i] * (size_t)dim;
        double pos = cos_naive(q, fd + (size_t)idx[i] * (size_t)dim, dim);
        double thr = use_threshold ? threshold : pos - margin;
        for (int64_t j = 0; j < B; j++) {
            if (j == i || idx[j] < 0) continue;
            double s = cos_naive(q, fd + (size_t)idx[j] * (size_t)dim, dim);
            if (s >= thr) {
                strata_plan_mask_set(mask + i * W, j);
                set++;
            }
        }
    }
    return set;
}

/* ------------------------------------------------------------------------ */
/* One batch: fast kernel (gather + sgemm)                                   */
/* ------------------------------------------------------------------------ */

int64_t strata_plan_mask_batch(uint8_t *mask, const int64_t *idx, int64_t B,
                               const float *fq, const float *fd, int64_t dim,
                               const float *qn, const float *dn, double margin,
                               int use_threshold, double threshold,
                               float *scratch) {
    int64_t W = strata_plan_mask_width(B), set = 0;
    float *Qb = scratch;                          /* [B, dim] */
    float *Db = Qb + (size_t)B * (size_t)dim;     /* [B, dim] */
    float *S = Db + (size_t)B * (size_t)dim;      /* [B, B]   */
    float *iq = S + (size_t)B * (size_t)B;        /* [B] 1/||q_i|| (0: pad/zero) */
    float *id = iq + B;                           /* [B] 1/||d_j||            */
    plan__gather_batch(idx, B, fq, fd, dim, qn, dn, scratch);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)B, (int)B, (int)dim,
                1.0f, Qb, (int)dim, Db, (int)dim, 0.0f, S, (int)B);
    int64_t npad = 0;
    int32_t *pads = (int32_t *)(id + B); /* [B] pad columns (scratch tail) */
    for (int64_t j = 0; j < B; j++)
        if (idx[j] < 0) pads[npad++] = (int32_t)j;
    /* row i, column j: cos = S_ij * iq_i * id_j >= thr_i  <=>  S_ij * id_j >=
     * thr_i / iq_i (iq_i > 0); pad columns have id_j = 0 and are cleared by
     * the valid-column bits below. Bits are built 8 columns at a time. */
    for (int64_t i = 0; i < B; i++) {
        uint8_t *m = mask + i * W;
        if (idx[i] < 0) {
            memset(m, 0, (size_t)W);
            continue;
        }
        float *row = S + (size_t)i * (size_t)B;
        double pos = (double)row[i] * iq[i] * id[i];
        double thr = use_threshold ? threshold : pos - margin;
        if (iq[i] > 0) {
            const float t = (float)(thr / iq[i]);
            for (int64_t j = 0; j < B; j++) row[j] = row[j] * id[j] - t;
        } else {
            const float v = 0.0 >= thr ? 1.0f : -1.0f; /* a zero query scores 0 */
            for (int64_t j = 0; j < B; j++) row[j] = v;
        }
        for (int64_t t = 0; t < npad; t++) row[pads[t]] = -1.0f;
        row[i] = -1.0f; /* never the diagonal */
        int64_t w = 0;
#if defined(__SSE2__)
        const __m128 zero = _mm_setzero_ps();
        for (; w < B / 8; w++) {
            __m128 a = _mm_loadu_ps(row + 8 * w), b = _mm_loadu_ps(row + 8 * w + 4);
            m[w] = (uint8_t)(_mm_movemask_ps(_mm_cmpge_ps(a, zero)) |
                             (_mm_movemask_ps(_mm_cmpge_ps(b, zero)) << 4));
        }
#endif
        for (; w < W; w++) {
            unsigned byte = 0;
            int64_t j0 = w * 8, j1 = j0 + 8 < B ? j0 + 8 : B;
            for (int64_t j = j0; j < j1; j++) byte |= (unsigned)(row[j] >= 0.0f) << (j - j0);
            m[w] = (uint8_t)byte;
        }
        for (w = 0; w < W; w++) set += k_popcount[m[w]];
    }
    return set;
}

/* ------------------------------------------------------------------------ */
/* Whole plan                                                                */
/* ------------------------------------------------------------------------ */

strata_status strata_plan_compute_mask(strata_plan *plan, const float *fq,
                                       const float *fd, int64_t n, int64_t dim,
                                       double margin, int use_threshold,
                                       double threshold, strata_progress prog,
                                       strata_error *err) {
    if (!plan || !plan->batches || !fq || !fd || dim < 1 || n < 1)
        return strata_error_set(err, STRATA_EINVAL, "mask: missing plan or surrogate embeddings");
    if (!isfinite(margin) || (use_threshold && !isfinite(threshold)))
        return strata_error_set(err, STRATA_EINVAL, "mask: margin/threshold must be finite");
    const int64_t nb = plan->n_batches, B = plan->batch_size, W = strata_plan_mask_width(B);
    for (int64_t t = 0; t < nb * B; t++) {
        if (plan->batches[t] >= n)
            return strata_error_set(err, STRATA_EINVAL,
                                    "mask: batch %lld holds pair %lld but the surrogate "
                                    "embeddings have %lld rows",
                                    (long long)(t / B), (long long)plan->batches[t],
                                    (long long)n);
    }
    size_t mbytes;
    if (strata_size_mul((size_t)nb * (size_t)B, (size_t)W, &mbytes))
        return strata_error_set(err, STRATA_ENOMEM, "mask: size overflow");
    int nt = strata__max_threads();
    size_t per = strata_plan_mask_scratch(B, dim);
    uint8_t *mask = strata_malloc(mbytes ? mbytes : 1);
    float *norms = strata_malloc_array((size_t)n * 2, sizeof(float));
    float *scratch = strata_malloc_array(per * (size_t)nt, sizeof(float));
    int64_t *cnt = strata_malloc_array((size_t)(nb ? nb : 1), sizeof(int64_t));
    if (!mask || !norms || !scratch || !cnt) {
        strata_free(mask); strata_free(norms); strata_free(scratch); strata_free(cnt);
        return strata_error_set(err, STRATA_ENOMEM, "mask: out of memory (%zu bytes of mask)",
                                mbytes);
    }
    float *qn = norms, *dn = norms + n;
    plan__row_norms(fq, n, dim, qn);
    plan__row_norms(fd, n, dim, dn);
    const int64_t chunk = 4096;
    for (int64_t c0 = 0; c0 < nb; c0 += chunk) {
        int64_t c1 = c0 + chunk < nb ? c0 + chunk : nb;
        #pragma omp parallel for schedule(dynamic, 8) num_threads(nt)
        for (int64_t b = c0; b < c1; b++) {
            float *s = scratch + per * (size_t)strata__thread_num();
            cnt[b] = strata_plan_mask_batch(mask + (size_t)b * (size_t)B * (size_t)W,
                                            plan->batches + (size_t)b * (size_t)B, B,
                                            fq, fd, dim, qn, dn, margin, use_threshold,
                                            threshold, s);
        }
        strata_progress_report(&prog, "mask", c1, nb, "batches");
    }
    int64_t set = 0, offdiag = 0;
    for (int64_t b = 0; b < nb; b++) {
        set += cnt[b];
        int64_t v = 0;
        for (int64_t i = 0; i < B; i++) v += plan->batches[b * B + i] >= 0;
        offdiag += v * (v - 1);
    }
    strata_free(norms);
    strata_free(scratch);
    strata_free(cnt);
    strata_free(plan->mask);
    plan->mask = mask;
    plan->n_masked = set;
    plan->n_offdiag = offdiag;
    return STRATA_OK;
}
