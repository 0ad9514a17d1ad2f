/*
 * eval.h — retrieval evaluation: exact top-k search by inner product, TREC
 * runs, and the BEIR metrics (nDCG@10, Recall@10/@100, MRR@10, MAP@100)
 * computed exactly as trec_eval / pytrec_eval compute them.
 *
 * Pipeline: embeddings of a BEIR set (strata_beir, data.h) -> top-k per
 * query (strata_eval_retrieve, a strata_run) -> metrics per query and mean
 * (strata_eval_metrics). strata_eval_embeddings does both; it is what the
 * trainer calls for evaluation during training.
 *
 * Ranking conventions (documented in docs/eval.md):
 *   - Retrieval ranks by score descending, ties by lower corpus index; the
 *     result does not depend on the thread count.
 *   - Metrics rank a query's retrieved documents as trec_eval does: score
 *     descending, ties by document id in *descending* byte order (strcmp).
 *     This is how pytrec_eval (and so BEIR) orders a run, so metrics agree
 *     with it exactly, ties included.
 *   - Relevance: a judgment with score >= 1 is relevant; nDCG gain is the
 *     score itself (linear), discount log2(rank + 1); the ideal DCG sorts all
 *     judged documents of the query by score. Negative scores are ignored.
 *   - Means are over queries with at least one judgment; a judged query with
 *     nothing retrieved scores 0; queries without judgments are excluded.
 *   - MRR@10 is BEIR's: 1/rank of the first relevant document among the top
 *     10 (0 if none), in the trec_eval order above.
 *
 * Thread-safety: all functions may run concurrently on distinct outputs;
 * inputs are read-only. The top-k kernel uses OpenMP threads and calls
 * single-threaded sgemm inside them (call strata_set_threads first).
 *
 * Dimensions: NQ queries, NC corpus documents, D embedding dims, K results.
 */
#ifndef STRATA_EVAL_H
#define STRATA_EVAL_H

#include "strata/strata.h"
#include "strata/data.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Exact top-k                                                               */
/* ------------------------------------------------------------------------ */

/* For each query q, the k corpus rows c with the highest
 *     score(q, c) = (Q[q] . C[c]) * c_scale[c] * q_scale[q]
 * (a NULL scale is all ones; pass inverse norms for cosine), best first:
 * score descending, ties by lower c. Rows beyond nc (k > nc) get idx -1 and
 * score -INFINITY. Blocked: a query block times a corpus block by sgemm,
 * each thread owning whole query blocks, a bounded min-heap per query fused
 * after each corpus block; memory O(threads * block^2 + NQ * K), never
 * NQ x NC. Inputs must be finite (a NaN score never enters a heap).
 * Results are identical for any thread count.
 *   Q       [nq, D]     row-major queries
 *   C       [nc, D]     row-major corpus
 *   q_scale [nq] or NULL, c_scale [nc] or NULL
 *   idx     [nq, k]     out: corpus row indices (overwritten)
 *   score   [nq, k]     out: scores (overwritten)
 * progress: stage "search", done/total in queries. Errors: k < 1, D < 1,
 * negative sizes, out of memory. */
strata_status strata_topk_ip(const float *Q, int64_t nq, const float *C,
                             int64_t nc, int D, const float *q_scale,
                             const float *c_scale, int k, int64_t *idx,
                             float *score, strata_progress progress,
                             strata_error *err);

/* Naive reference of strata_topk_ip: every score by a plain float dot
 * product loop, a full sort per query. Same outputs and tie rule (scores
 * may differ from the blocked kernel in the last bits). Single-threaded. */
strata_status strata_topk_ip_naive(const float *Q, int64_t nq, const float *C,
                                   int64_t nc, int D, const float *q_scale,
                                   const float *c_scale, int k, int64_t *idx,
                                   float *score, strata_error *err);

/* Inverse L2 norms of the n rows of X [n, D] into inv [n] (0 for a zero
 * row), computed in double. OpenMP over rows. */
void strata_inv_norms(const float *X, int64_t n, int D, float *inv);

/* ------------------------------------------------------------------------ */
/* Runs                                                                      */
/* ------------------------------------------------------------------------ */

/* Retrieved documents per query of a strata_beir (CSR). Query q's list is
 * doc[off[q] .. off[q+1]) with scores score[...]; an empty list means not
 * retrieved. Free with strata_run_free. */
typedef struct strata_run {
    int64_t nq;      /* = queries.n of the strata_beir it belongs to */
    int64_t *off;    /* [nq + 1]                                    */
    int64_t *doc;    /* [off[nq]] corpus indices                     */
    double *score;   /* [off[nq]]                                    */
} strata_run;

void strata_run_free(strata_run *r);

/* Reading a TREC run "qid Q0 docid rank score [run_name]" (whitespace
 * separated; the rank column is ignored, as trec_eval does). */
typedef struct strata_run_read_options {
    strata_unknown_ids unknown_query; /* ERROR (default) or SKIP         */
    strata_unknown_ids unknown_doc;   /* ERROR (default), SKIP, or ADD
                                         (add to b->corpus: needed when
                                         b holds only the qrels' ids)   */
    int64_t n_skipped;                /* out: lines skipped              */
} strata_run_read_options;

/* Reads a TREC run file against b's query and corpus ids. Errors name
 * file:line: too few columns, a score that is not a number (or NaN/Inf),
 * an unknown query or document id (per opt), a document listed twice for a
 * query. Lists are sorted by score descending, then doc id descending (the
 * trec_eval order). opt may be NULL (defaults). b->corpus may grow (ADD). */
strata_status strata_run_read_trec(strata_run *out, strata_beir *b,
                                   const char *path,
                                   strata_run_read_options *opt,
                                   strata_error *err);

/* Writes run r of b as a TREC run file, atomically: one line
 * "qid Q0 docid rank score run_name" per retrieved document, queries in
 * order, rank from 1, score printed with 9 significant digits (exact for
 * float32 scores). name NULL: "strata". */
strata_status strata_run_write_trec(const strata_run *r, const strata_beir *b,
                                    const char *path, const char *name,
                                    strata_error *err);

/* ------------------------------------------------------------------------ */
/* Metrics                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct strata_metrics {
    double ndcg10;     /* nDCG@10 (trec_eval ndcg_cut_10)            */
    double recall10;   /* Recall@10 (trec_eval recall_10)            */
    double recall100;  /* Recall@100 (trec_eval recall_100)          */
    double mrr10;      /* MRR@10 (BEIR's mrr@10)                     */
    double map100;     /* MAP@100 (trec_eval map_cut_100)            */
    int64_t n;         /* mean: queries averaged; per query: 1 when the
                          query has judgments (else all fields 0)    */
} strata_metrics;

typedef struct strata_eval_options {
    int k;                    /* documents retrieved per query, default 100 */
    int normalize;            /* 1: cosine (scores divided by both norms);
                                 0 (default): raw inner product           */
    int ignore_identical_ids; /* drop a retrieved document whose id equals
                                 the query id (BEIR: ArguAna, Quora); the
                                 search fetches k + 1 so k remain         */
    strata_progress progress;
} strata_eval_options;

strata_eval_options strata_eval_default_options(void);

/* Top-k retrieval for every query of b that has judgments (all queries when
 * b has no qrels); other queries get an empty list.
 *   C [b->corpus.n, D], Q [b->queries.n, D]  row-major float32
 * Errors: D < 1, k < 1, a NaN/Inf in an embedding row (names the row). */
strata_status strata_eval_retrieve(const strata_beir *b, const float *C,
                                   const float *Q, int D,
                                   const strata_eval_options *opt,
                                   strata_run *out, strata_error *err);

/* Metrics of run r (r->nq == b->queries.n) against b's qrels.
 *   mean       out: averages over judged queries (n = their count)
 *   per_query  [b->queries.n] out, or NULL
 * ignore_identical_ids: skip retrieved documents whose id equals the query
 * id before ranking (BEIR's EvaluateRetrieval does this). Errors: b has no
 * qrels, r does not match b, a document listed twice for a query. */
strata_status strata_eval_metrics(const strata_beir *b, const strata_run *r,
                                  int ignore_identical_ids,
                                  strata_metrics *mean,
                                  strata_metrics *per_query,
                                  strata_error *err);

/* strata_eval_retrieve then strata_eval_metrics: one call for a trainer.
 * run_out may be NULL (the run is freed), else it receives the run. */
strata_status strata_eval_embeddings(const strata_beir *b, const float *C,
                                     const float *Q, int D,
                                     const strata_eval_options *opt,
                                     strata_metrics *mean,
                                     strata_metrics *per_query,
                                     strata_run *run_out, strata_error *err);

/* Writes {"mean": {"ndcg@10": .., "recall@10": .., "recall@100": ..,
 * "mrr@10": .., "map@100": ..}, "per_query": {"<query-id>": {...}}}
 * atomically. per_query may be NULL (omitted); only judged queries are
 * listed, in query order. */
strata_status strata_metrics_write_json(const char *path, const strata_beir *b,
                                        const strata_metrics *mean,
                                        const strata_metrics *per_query,
                                        strata_error *err);

#ifdef __cplusplus
}
#endif

#endif /* STRATA_EVAL_H */
