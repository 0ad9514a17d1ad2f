/*
 * hardness.c — how hard a plan's batches are under a surrogate model.
 *
 * For each batch: cosine similarities s_ij of query i and document j
 * (gather + one sgemm, as for masks), then in double:
 *   mean / max of s_ij over valid i != j (all of them, masked or not:
 *   the raw difficulty of the in-batch negatives, CDE Figure 6);
 *   InfoNCE loss  mean_i [ logsumexp_{j unmasked or j = i}(s_ij / tau)
 *                          - s_ii / tau ];
 *   top-1: share of rows with s_ii > max over unmasked j != i (rows without
 *   an unmasked negative count as correct);
 *   margin: mean over rows with a negative of s_ii - max unmasked s_ij.
 * Batches are spread over threads, each owning its output entry; summary
 * means are taken afterwards in batch order, so results do not depend on
 * the thread count.
 */
#include <math.h>
#include <string.h>
#include <cblas.h>

#include "plan/plan_internal.h"
#include "core/internal.h"

/* ------------------------------------------------------------------------ */
/* Shared per-row statistics                                                  */
/* ------------------------------------------------------------------------ */

/* Row statistics from a similarity accessor sim(i, j) over valid slots. */
typedef struct row_acc {
    double off_sum, off_max;
    int64_t off_n;
    double loss;
    int64_t top1, rows, margin_rows;
    double margin;
} row_acc;

static void finish(const row_acc *a, int64_t n, strata_hardness_batch *out) {
    memset(out, 0, sizeof *out);
    out->n = n;
    if (n < 2) return;
    out->mean_offdiag = a->off_n ? a->off_sum / (double)a->off_n : 0;
    out->max_offdiag = a->off_max;
    out->loss = a->loss / (double)a->rows;
    out->top1 = (double)a->top1 / (double)a->rows;
    out->margin = a->margin_rows ? a->margin / (double)a->margin_rows : 0;
}

/* One row i: s[j] the similarities of query i to every slot j (valid[j]). */
static void row_stats(row_acc *a, const double *s, const int64_t *idx, int64_t B, int64_t i,
                      const uint8_t *mrow, double tau) {
    double pos = s[i], mx = -INFINITY, negmax = -INFINITY;
    for (int64_t j = 0; j < B; j++) {
        if (j == i || idx[j] < 0) continue;
        a->off_sum += s[j];
        a->off_n++;
        if (s[j] > a->off_max) a->off_max = s[j];
        int masked = mrow && strata_plan_mask_get(mrow, j);
        if (masked) continue;
        if (s[j] > negmax) negmax = s[j];
    }
    mx = negmax > pos ? negmax : pos;
    double z = 0;
    for (int64_t j = 0; j < B; j++) {
        if (idx[j] < 0) continue;
        int masked = j != i && mrow && strata_plan_mask_get(mrow, j);
        if (masked) continue;
        z += exp((s[j] - mx) / tau);
    }
    a->loss += log(z) + (mx - pos) / tau;
    a->rows++;
    if (negmax == -INFINITY) {
        a->top1++;
    } else {
        a->top1 += pos > negmax;
        a->margin += pos - negmax;
        a->margin_rows++;
    }
}

/* ------------------------------------------------------------------------ */
/* Naive reference                                                           */
/* ------------------------------------------------------------------------ */

static double cosd(const float *a, const float *b, int64_t dim) {
    double ab = 0, aa = 0, bb = 0;
    for (int64_t k = 0; k < dim; k++) {
        ab += (double)a[k] * b[k];
        aa += (double)a[k] * a[k];
        bb += (double)b[k] * b[k];
    }
    return aa > 0 && bb > 0 ? ab / (sqrt(aa) * sqrt(bb)) : 0;
}

void strata_hardness_batch_naive(const strata_plan *plan, int64_t b, const float *q,
                                 const float *d, int64_t dim, double tau, int use_mask,
                                 strata_hardness_batch *out) {
    const int64_t B = plan->batch_size, W = strata_plan_mask_width(B);
    const int64_t *idx = plan->batches + (size_t)b * (size_t)B;
    row_acc a;
    memset(&a, 0, sizeof a);
    a.off_max = -INFINITY;
    int64_t n = 0;
    for (int64_t i = 0; i < B; i++) n += idx[i] >= 0;
    double *s = strata_malloc_array((size_t)B, sizeof(double));
    if (n >= 2 && s) {
        for (int64_t i = 0; i < B; i++) {
            if (idx[i] < 0) continue;
            for (int64_t j = 0; j < B; j++)
                s[j] = idx[j] < 0 ? 0
                                  : cosd(q + (size_t)idx[i] * (size_t)dim,
                                         d + (size_t)idx[j] * (size_t)dim, dim);
            const uint8_t *mrow = use_mask && plan->mask
                                      ? plan->mask + ((size_t)b * (size_t)B + (size_t)i) * (size_t)W
                                      : NULL;
            row_stats(&a, s, idx, B, i, mrow, tau);
        }
    }
    strata_free(s);
    finish(&a, n, out);
}

/* ------------------------------------------------------------------------ */
/* Fast path                                                                 */
/* ------------------------------------------------------------------------ */

static void batch_fast(const strata_plan *plan, int64_t b, const float *q, const float *d,
                       int64_t dim, const float *qn, const float *dn, double tau, int use_mask,
                       float *scratch, double *srow, strata_hardness_batch *out) {
    const int64_t B = plan->batch_size, W = strata_plan_mask_width(B);
    const int64_t *idx = plan->batches + (size_t)b * (size_t)B;
    float *Qb = scratch, *Db = Qb + (size_t)B * (size_t)dim, *S = Db + (size_t)B * (size_t)dim;
    float *iq = S + (size_t)B * (size_t)B, *id = iq + B;
    int64_t n = plan__gather_batch(idx, B, q, d, dim, qn, dn, scratch);
    row_acc a;
    memset(&a, 0, sizeof a);
    a.off_max = -INFINITY;
    if (n >= 2) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)B, (int)B, (int)dim, 1.0f, Qb,
                    (int)dim, Db, (int)dim, 0.0f, S, (int)B);
        for (int64_t i = 0; i < B; i++) {
            if (idx[i] < 0) continue;
            for (int64_t j = 0; j < B; j++)
                srow[j] = (double)S[(size_t)i * (size_t)B + j] * iq[i] * id[j];
            const uint8_t *mrow = use_mask && plan->mask
                                      ? plan->mask + ((size_t)b * (size_t)B + (size_t)i) * (size_t)W
                                      : NULL;
            row_stats(&a, srow, idx, B, i, mrow, tau);
        }
    }
    finish(&a, n, out);
}

strata_status strata_hardness_compute(const strata_plan *plan, const float *q, const float *d,
                                      int64_t n, int64_t dim, double tau, int use_mask,
                                      int64_t max_batches, strata_hardness_batch *per_batch,
                                      strata_hardness_summary *sum, strata_error *err) {
    memset(sum, 0, sizeof *sum);
    if (!plan || !plan->batches || !q || !d || n < 1 || dim < 1)
        return strata_error_set(err, STRATA_EINVAL, "hardness: missing plan or embeddings");
    if (!(tau > 0) || !isfinite(tau))
        return strata_error_set(err, STRATA_EINVAL, "hardness: tau must be > 0 (got %g)", tau);
    const int64_t B = plan->batch_size;
    int64_t nb = plan->n_batches;
    if (max_batches > 0 && max_batches < nb) nb = max_batches;
    for (int64_t t = 0; t < nb * B; t++)
        if (plan->batches[t] >= n)
            return strata_error_set(err, STRATA_EINVAL,
                                    "hardness: batch %lld holds pair %lld but the embeddings "
                                    "have %lld rows", (long long)(t / B),
                                    (long long)plan->batches[t], (long long)n);
    int nt = strata__max_threads();
    size_t per = strata_plan_mask_scratch(B, dim);
    float *norms = strata_malloc_array((size_t)n * 2, sizeof(float));
    float *scratch = strata_malloc_array(per * (size_t)nt, sizeof(float));
    double *srows = strata_malloc_array((size_t)B * (size_t)nt, sizeof(double));
    strata_hardness_batch *hb = per_batch ? per_batch
                                          : strata_malloc_array((size_t)nb, sizeof *hb);
    if (!norms || !scratch || !srows || !hb) {
        strata_free(norms); strata_free(scratch); strata_free(srows);
        if (!per_batch) strata_free(hb);
        return strata_error_set(err, STRATA_ENOMEM, "hardness: out of memory");
    }
    float *qn = norms, *dn = norms + n;
    plan__row_norms(q, n, dim, qn);
    plan__row_norms(d, n, dim, dn);
    #pragma omp parallel for schedule(dynamic, 4) num_threads(nt)
    for (int64_t b = 0; b < nb; b++) {
        int t = strata__thread_num();
        batch_fast(plan, b, q, d, dim, qn, dn, tau, use_mask, scratch + per * (size_t)t,
                   srows + (size_t)B * (size_t)t, &hb[b]);
    }
    sum->tau = tau;
    sum->masked = use_mask && plan->mask;
    for (int64_t b = 0; b < nb; b++) {
        if (hb[b].n < 2) continue;
        sum->n_batches++;
        sum->mean_loss += hb[b].loss;
        sum->mean_top1 += hb[b].top1;
        sum->mean_offdiag_sim += hb[b].mean_offdiag;
        sum->mean_max_offdiag += hb[b].max_offdiag;
        sum->mean_margin += hb[b].margin;
    }
    if (sum->n_batches) {
        double k = (double)sum->n_batches;
        sum->mean_loss /= k;
        sum->mean_top1 /= k;
        sum->mean_offdiag_sim /= k;
        sum->mean_max_offdiag /= k;
        sum->mean_margin /= k;
    }
    strata_free(norms);
    strata_free(scratch);
    strata_free(srows);
    if (!per_batch) strata_free(hb);
    return STRATA_OK;
}
