/*
 * metrics.c — retrieval over a BEIR set and the trec_eval metrics.
 *
 * The metric definitions follow trec_eval 9.x (form_res_rels.c,
 * m_ndcg_cut.c, m_recall.c, m_map_cut.c) as bundled in pytrec_eval, which is
 * what BEIR reports:
 *   - a query's retrieved documents are ranked by score descending, ties by
 *     document id descending (strcmp), whatever order they came in;
 *   - relevant = judged with score >= 1 (relevance_level 1);
 *   - nDCG@10 = DCG@10 / IDCG@10, gain = score (linear), rank i (from 0)
 *     discounted by log2(i + 2); IDCG from all the query's judgments with
 *     score > 0 sorted by score descending; 0 when IDCG is 0;
 *   - Recall@k = relevant in the top k / relevant judged (0 when none);
 *   - MAP@100 = sum over relevant ranks i < 100 of precision@(i+1), divided
 *     by relevant judged;
 *   - MRR@10 = 1 / rank of the first relevant document in the top 10
 *     (BEIR's mrr@k; trec_eval's recip_rank has no cutoff).
 */
#define _POSIX_C_SOURCE 200809L
#include "strata/eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

strata_eval_options strata_eval_default_options(void) {
    strata_eval_options o;
    memset(&o, 0, sizeof o);
    o.k = 100;
    return o;
}

void strata_run_free(strata_run *r) {
    if (!r) return;
    strata_free(r->off);
    strata_free(r->doc);
    strata_free(r->score);
    memset(r, 0, sizeof *r);
}

/* ------------------------------------------------------------------------ */
/* One query                                                                 */
/* ------------------------------------------------------------------------ */

typedef struct ranked {
    double s;        /* score                      */
    const char *id;  /* document id (tie-breaker)  */
    int64_t doc;     /* corpus index               */
    int32_t rel;     /* judged score, 0 unjudged   */
} ranked;

/* trec_eval's comp_sim_docno: score descending, then docno descending. */
static int cmp_trec(const void *a, const void *b) {
    const ranked *x = a, *y = b;
    if (x->s > y->s) return -1;
    if (x->s < y->s) return 1;
    return strcmp(y->id, x->id);
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int cmp_i32_desc(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x < y) - (x > y);
}

/* Judged score of doc among the query's qrels (sorted by doc), or 0. */
static int32_t lookup_rel(const strata_qrel *q, int64_t n, int64_t doc) {
    int64_t lo = 0, hi = n;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (q[mid].doc < doc) lo = mid + 1;
        else hi = mid;
    }
    return lo < n && q[lo].doc == doc ? q[lo].score : 0;
}

/* Metrics of one judged query. r[0..m) is ranked in place (trec order);
 * gains[] is scratch of at least nq_rels entries. */
static void query_metrics(ranked *r, int64_t m, const strata_qrel *qr, int64_t nqr,
                          int32_t *gains, strata_metrics *out) {
    qsort(r, (size_t)m, sizeof *r, cmp_trec);
    int64_t num_rel = 0, ng = 0;
    for (int64_t j = 0; j < nqr; j++) {
        if (qr[j].score >= 1) num_rel++;
        if (qr[j].score > 0) gains[ng++] = qr[j].score;
    }
    qsort(gains, (size_t)ng, sizeof *gains, cmp_i32_desc);
    double idcg = 0.0;
    for (int64_t i = 0; i < ng && i < 10; i++) idcg += gains[i] / log2((double)(i + 2));
    double dcg = 0.0, ap = 0.0, rr = 0.0;
    int64_t rel10 = 0, rel100 = 0, so_far = 0;
    for (int64_t i = 0; i < m && i < 100; i++) {
        int32_t g = r[i].rel;
        if (i < 10 && g > 0) dcg += g / log2((double)(i + 2));
        if (g >= 1) {
            so_far++;
            ap += (double)so_far / (double)(i + 1);
            if (i < 10) {
                rel10++;
                if (rr == 0.0) rr = 1.0 / (double)(i + 1);
            }
            rel100++;
        }
    }
    out->ndcg10 = idcg > 0.0 ? dcg / idcg : 0.0;
    out->recall10 = num_rel ? (double)rel10 / (double)num_rel : 0.0;
    out->recall100 = num_rel ? (double)rel100 / (double)num_rel : 0.0;
    out->map100 = num_rel ? ap / (double)num_rel : 0.0;
    out->mrr10 = rr;
    out->n = 1;
}

/* ------------------------------------------------------------------------ */
/* Metrics of a run                                                          */
/* ------------------------------------------------------------------------ */

strata_status strata_eval_metrics(const strata_beir *b, const strata_run *r,
                                  int ignore_identical_ids,
                                  strata_metrics *mean,
                                  strata_metrics *per_query,
                                  strata_error *err) {
    if (!b || !r)
        return strata_error_set(err, STRATA_EINVAL, "eval: NULL argument");
    if (!b->qrels_off)
        return strata_error_set(err, STRATA_EINVAL, "eval: the BEIR set has no qrels loaded");
    if (r->nq != b->queries.n || !r->off)
        return strata_error_set(err, STRATA_EINVAL,
                                "eval: run has %lld queries, the BEIR set %lld",
                                (long long)r->nq, (long long)b->queries.n);
    if (b->n_qrels < 1 || b->qrels_off[b->queries.n] < 1)
        return strata_error_set(err, STRATA_EFORMAT,
                                "eval: the qrels hold no judgment; there is nothing to evaluate");
    int64_t maxm = 0, maxr = 0;
    for (int64_t q = 0; q < r->nq; q++) {
        int64_t m = r->off[q + 1] - r->off[q];
        int64_t nr = b->qrels_off[q + 1] - b->qrels_off[q];
        if (m > maxm) maxm = m;
        if (nr > maxr) maxr = nr;
    }
    ranked *rk = strata_malloc_array((size_t)maxm + 1, sizeof *rk);
    int64_t *dd = strata_malloc_array((size_t)maxm + 1, sizeof *dd);
    int32_t *gains = strata_malloc_array((size_t)maxr + 1, sizeof *gains);
    if (!rk || !dd || !gains) {
        strata_free(rk);
        strata_free(dd);
        strata_free(gains);
        return strata_error_set(err, STRATA_ENOMEM, "eval: out of memory");
    }
    strata_status st = STRATA_OK;
    double sum[5] = {0, 0, 0, 0, 0};
    int64_t n_judged = 0;
    for (int64_t q = 0; q < b->queries.n; q++) {
        strata_metrics pq;
        memset(&pq, 0, sizeof pq);
        const strata_qrel *qr = b->qrels + b->qrels_off[q];
        int64_t nqr = b->qrels_off[q + 1] - b->qrels_off[q];
        if (nqr > 0) {
            const char *qid = strata_texts_id(&b->queries, q);
            int64_t m = 0;
            for (int64_t j = r->off[q]; j < r->off[q + 1]; j++) {
                int64_t d = r->doc[j];
                if (d < 0 || d >= b->corpus.n) {
                    st = strata_error_set(err, STRATA_EINVAL,
                                          "eval: run lists corpus index %lld for query \"%s\" "
                                          "(corpus has %lld documents)",
                                          (long long)d, qid, (long long)b->corpus.n);
                    break;
                }
                const char *did = strata_texts_id(&b->corpus, d);
                if (ignore_identical_ids && strcmp(did, qid) == 0) continue;
                rk[m].s = r->score[j];
                rk[m].id = did;
                rk[m].doc = d;
                rk[m].rel = lookup_rel(qr, nqr, d);
                dd[m] = d;
                m++;
            }
            if (st) break;
            qsort(dd, (size_t)m, sizeof *dd, cmp_i64);
            for (int64_t j = 1; j < m; j++) {
                if (dd[j] == dd[j - 1]) {
                    st = strata_error_set(err, STRATA_EINVAL,
                                          "eval: document \"%s\" listed twice for query \"%s\"",
                                          strata_texts_id(&b->corpus, dd[j]), qid);
                    break;
                }
            }
            if (st) break;
            query_metrics(rk, m, qr, nqr, gains, &pq);
            sum[0] += pq.ndcg10;
            sum[1] += pq.recall10;
            sum[2] += pq.recall100;
            sum[3] += pq.mrr10;
            sum[4] += pq.map100;
            n_judged++;
        }
        if (per_query) per_query[q] = pq;
    }
    strata_free(rk);
    strata_free(dd);
    strata_free(gains);
    if (st) return st;
    if (mean) {
        mean->ndcg10 = n_judged ? sum[0] / (double)n_judged : 0.0;
        mean->recall10 = n_judged ? sum[1] / (double)n_judged : 0.0;
        mean->recall100 = n_judged ? sum[2] / (double)n_judged : 0.0;
        mean->mrr10 = n_judged ? sum[3] / (double)n_judged : 0.0;
        mean->map100 = n_judged ? sum[4] / (double)n_judged : 0.0;
        mean->n = n_judged;
    }
    return STRATA_OK;
}

/* ------------------------------------------------------------------------ */
/* Retrieval                                                                 */
/* ------------------------------------------------------------------------ */

/* First row of X [n, D] holding a NaN or Inf, or -1. */
static int64_t first_nonfinite(const float *X, int64_t n, int D) {
    int64_t bad = n;
#pragma omp parallel for schedule(static) reduction(min : bad)
    for (int64_t i = 0; i < n; i++) {
        const float *x = X + (size_t)i * D;
        int ok = 1;
        for (int d = 0; d < D; d++) ok &= isfinite(x[d]) != 0;
        if (!ok && i < bad) bad = i;
    }
    return bad < n ? bad : -1;
}

strata_status strata_eval_retrieve(const strata_beir *b, const float *C,
                                   const float *Q, int D,
                                   const strata_eval_options *opt,
                                   strata_run *out, strata_error *err) {
    if (!b || !out || (!C && b->corpus.n) || (!Q && b->queries.n))
        return strata_error_set(err, STRATA_EINVAL, "eval: NULL argument");
    memset(out, 0, sizeof *out);
    strata_eval_options o = opt ? *opt : strata_eval_default_options();
    if (o.k < 1) return strata_error_set(err, STRATA_EINVAL, "eval: k must be >= 1 (got %d)", o.k);
    if (D < 1) return strata_error_set(err, STRATA_EINVAL, "eval: D must be >= 1 (got %d)", D);
    int64_t nc = b->corpus.n, nqa = b->queries.n;
    /* a list holds at most the whole corpus: memory follows min(k, N) */
    if (o.k > nc) o.k = nc > 0 ? (int)nc : 1;
    int64_t bad = first_nonfinite(C, nc, D);
    if (bad >= 0)
        return strata_error_set(err, STRATA_EFORMAT,
                                "eval: corpus embedding row %lld (id \"%s\") is not finite",
                                (long long)bad, strata_texts_id(&b->corpus, bad));
    bad = first_nonfinite(Q, nqa, D);
    if (bad >= 0)
        return strata_error_set(err, STRATA_EFORMAT,
                                "eval: query embedding row %lld (id \"%s\") is not finite",
                                (long long)bad, strata_texts_id(&b->queries, bad));
    /* queries to search: the judged ones (all when no qrels) */
    int64_t *sel = strata_malloc_array((size_t)nqa + 1, sizeof *sel);
    if (!sel) return strata_error_set(err, STRATA_ENOMEM, "eval: out of memory");
    int64_t ns = 0;
    for (int64_t q = 0; q < nqa; q++)
        if (!b->qrels_off || b->qrels_off[q + 1] > b->qrels_off[q]) sel[ns++] = q;
    int kk = o.k + (o.ignore_identical_ids && o.k < nc ? 1 : 0);
    size_t nres;
    if (strata_size_mul((size_t)ns, (size_t)kk, &nres)) {
        strata_free(sel);
        return strata_error_set(err, STRATA_ENOMEM, "eval: size overflow");
    }
    float *Qs = strata_malloc_array((size_t)ns * D + 1, sizeof *Qs);
    float *qinv = o.normalize ? strata_malloc_array((size_t)ns + 1, sizeof *qinv) : NULL;
    float *cinv = o.normalize ? strata_malloc_array((size_t)nc + 1, sizeof *cinv) : NULL;
    int64_t *idx = strata_malloc_array(nres + 1, sizeof *idx);
    float *sc = strata_malloc_array(nres + 1, sizeof *sc);
    out->off = strata_calloc((size_t)nqa + 1, sizeof *out->off);
    out->doc = strata_malloc_array((size_t)ns * o.k + 1, sizeof *out->doc);
    out->score = strata_malloc_array((size_t)ns * o.k + 1, sizeof *out->score);
    strata_status st = STRATA_OK;
    if (!Qs || !idx || !sc || !out->off || !out->doc || !out->score ||
        (o.normalize && (!qinv || !cinv))) {
        st = strata_error_set(err, STRATA_ENOMEM, "eval: out of memory");
    }
    if (!st) {
        for (int64_t i = 0; i < ns; i++)
            memcpy(Qs + (size_t)i * D, Q + (size_t)sel[i] * D, (size_t)D * sizeof(float));
        if (o.normalize) {
            strata_inv_norms(Qs, ns, D, qinv);
            strata_inv_norms(C, nc, D, cinv);
        }
        st = strata_topk_ip(Qs, ns, C, nc, D, qinv, cinv, kk, idx, sc, o.progress, err);
    }
    if (!st) {
        out->nq = nqa;
        int64_t w = 0, s = 0;
        for (int64_t q = 0; q < nqa; q++) {
            if (s < ns && sel[s] == q) {
                const char *qid = strata_texts_id(&b->queries, q);
                int kept = 0;
                for (int j = 0; j < kk && kept < o.k; j++) {
                    int64_t d = idx[(size_t)s * kk + j];
                    if (d < 0) break;
                    if (o.ignore_identical_ids && strcmp(strata_texts_id(&b->corpus, d), qid) == 0)
                        continue;
                    out->doc[w] = d;
                    out->score[w] = sc[(size_t)s * kk + j];
                    w++;
                    kept++;
                }
                s++;
            }
            out->off[q + 1] = w;
        }
    }
    strata_free(sel);
    strata_free(Qs);
    strata_free(qinv);
    strata_free(cinv);
    strata_free(idx);
    strata_free(sc);
    if (st) strata_run_free(out);
    return st;
}

strata_status strata_eval_embeddings(const strata_beir *b, const float *C,
                                     const float *Q, int D,
                                     const strata_eval_options *opt,
                                     strata_metrics *mean,
                                     strata_metrics *per_query,
                                     strata_run *run_out, strata_error *err) {
    if (b && !b->qrels_off)
        return strata_error_set(err, STRATA_EINVAL, "eval: the BEIR set has no qrels loaded");
    strata_run run;
    strata_status st = strata_eval_retrieve(b, C, Q, D, opt, &run, err);
    if (st) return st;
    /* identical ids were already dropped by the search */
    st = strata_eval_metrics(b, &run, 0, mean, per_query, err);
    if (st || !run_out) strata_run_free(&run);
    else *run_out = run;
    return st;
}
