/*
 * test_eval.c — exact top-k and the BEIR metrics.
 *
 *   - top-k against the naive reference (full scoring + sort) on odd shapes,
 *     exact on integer data (every score exact in float, so ties must be
 *     broken identically), within 1e-5 on random data;
 *   - identical results for 1, 2 and 3 threads;
 *   - metrics on hand-computed cases (graded relevance, tied scores, a query
 *     with no relevant document retrieved, a judged query absent from the
 *     run, a query without judgments, a relevant document at rank 11,
 *     identical ids);
 *   - agreement with pytrec_eval (PyPI pytrec-eval-terrier, the trec_eval
 *     BEIR reports through) to 1e-6 per query and on average, on runs over
 *     ../shared/data/beir/scifact and nq_qed (test split) and on a
 *     tie-heavy run;
 *   - bad input through the CLI: clear error, exit 1, no output file.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "strata/data.h"
#include "strata/eval.h"
#include "strata/io.h"
#include "eval/topk_internal.h"
#include "testutil.h"

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */
/* ------------------------------------------------------------------------ */

static uint64_t g_rng = 88172645463325252ull;
static uint64_t xorshift(void) {
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return g_rng;
}
static float frand(void) { return (float)((double)(xorshift() >> 11) / 9007199254740992.0) * 2 - 1; }

static float *rand_mat(int64_t n, int D, int integer) {
    float *x = malloc((size_t)(n ? n : 1) * D * sizeof *x);
    for (int64_t i = 0; i < n * D; i++)
        x[i] = integer ? (float)((int)(xorshift() % 7) - 3) : frand();
    return x;
}

/* A directory DIR with DIR/qrels under the test tmpdir. The path is kept in
 * a static buffer (tu_join's rotating buffers would be overwritten). */
static const char *make_dir(const char *name) {
    static char dir[1024];
    snprintf(dir, sizeof dir, "%s", tu_join(tu_tmpdir(), name));
    char qd[1100];
    mkdir(dir, 0755);
    snprintf(qd, sizeof qd, "%s/qrels", dir);
    mkdir(qd, 0755);
    return dir;
}

static void save_mat(const char *path, const float *x, int64_t n, int D) {
    strata_error err;
    int64_t shape[2] = {n, D};
    assert_int_equal(strata_npy_save(path, STRATA_DTYPE_F32, 2, shape, x, &err), STRATA_OK);
}

/* ------------------------------------------------------------------------ */
/* Top-k against the naive reference                                         */
/* ------------------------------------------------------------------------ */

static void compare_topk(int64_t nq, int64_t nc, int D, int k, int integer, int scaled) {
    float *Q = rand_mat(nq, D, integer), *C = rand_mat(nc, D, integer);
    float *qs = NULL, *cs = NULL;
    if (scaled) {
        qs = malloc((size_t)nq * sizeof *qs);
        cs = malloc((size_t)(nc ? nc : 1) * sizeof *cs);
        strata_inv_norms(Q, nq, D, qs);
        strata_inv_norms(C, nc, D, cs);
    }
    size_t n = (size_t)nq * k;
    int64_t *i1 = malloc(n * sizeof *i1), *i2 = malloc(n * sizeof *i2);
    float *s1 = malloc(n * sizeof *s1), *s2 = malloc(n * sizeof *s2);
    strata_error err;
    assert_int_equal(strata_topk_ip(Q, nq, C, nc, D, qs, cs, k, i1, s1, (strata_progress){0}, &err),
                     STRATA_OK);
    assert_int_equal(strata_topk_ip_naive(Q, nq, C, nc, D, qs, cs, k, i2, s2, &err), STRATA_OK);
    for (size_t j = 0; j < n; j++) {
        if (integer) {
            /* small integers: every product and sum is exact in float, so
             * both kernels see identical scores and must break ties alike */
            if (i1[j] != i2[j] || s1[j] != s2[j])
                fail_msg("shape %lld x %lld x %d k %d: entry %zu: fast (%lld, %g) naive (%lld, %g)",
                         (long long)nq, (long long)nc, D, k, j, (long long)i1[j], s1[j],
                         (long long)i2[j], s2[j]);
        } else if (i2[j] < 0) {
            assert_int_equal(i1[j], -1);
            assert_true(isinf(s1[j]) && s1[j] < 0);
        } else {
            /* float sums in a different order: |error| <= D * eps * |terms|
             * ~ 1e-6 here; 1e-5 leaves room. Indices may swap only between
             * scores closer than that. */
            assert_true(fabsf(s1[j] - s2[j]) <= 1e-5f);
            if (i1[j] != i2[j]) {
                size_t q = j / k;
                int found = 0;
                for (int t = 0; t < k; t++)
                    if (i2[q * k + t] == i1[j] && fabsf(s2[q * k + t] - s2[j]) <= 2e-5f) found = 1;
                if (!found)
                    fail_msg("entry %zu: fast picked %lld, naive %lld (not a near-tie)", j,
                             (long long)i1[j], (long long)i2[j]);
            }
        }
    }
    free(Q); free(C); free(qs); free(cs); free(i1); free(i2); free(s1); free(s2);
}

static void test_topk_vs_naive(void **state) {
    (void)state;
    static const int shapes[][4] = {
        /* nq, nc, D, k */
        {1, 1, 1, 1},     {3, 5, 2, 10},  {17, 1000, 7, 13}, {5, 3000, 1, 50},
        {600, 2500, 33, 100}, {2, 0, 4, 3}, {9, 2049, 5, 1},
    };
    /* block sizes {query rows, corpus rows} (0: defaults); the last flag
     * forces the portable scan instead of the AVX2 one */
    int blocks[][3] = {{0, 0, 0}, {7, 64, 0}, {1, 1, 0}, {64, 1000, 0}, {0, 0, 1}, {7, 64, 1}};
    for (size_t b = 0; b < sizeof blocks / sizeof blocks[0]; b++) {
        strata__topk_set_blocks(blocks[b][0], blocks[b][1]);
        strata__topk_set_simd(!blocks[b][2]);
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            if (blocks[b][1] == 1 && shapes[s][1] > 1000) continue; /* slow, adds nothing */
            for (int integer = 0; integer < 2; integer++)
                compare_topk(shapes[s][0], shapes[s][1], shapes[s][2], shapes[s][3], integer,
                             0);
            compare_topk(shapes[s][0], shapes[s][1], shapes[s][2], shapes[s][3], 0, 1);
        }
    }
    strata__topk_set_blocks(0, 0);
    strata__topk_set_simd(1);
}

static void test_topk_ties_rule(void **state) {
    (void)state;
    /* D = 1, all corpus rows equal: every score ties, so the result must be
     * the k lowest indices in order */
    enum { NC = 5000, K = 37 };
    float q = 1.0f, *C = malloc(NC * sizeof *C);
    for (int i = 0; i < NC; i++) C[i] = 0.5f;
    C[4321] = 0.75f; /* one better row first */
    int64_t idx[K];
    float sc[K];
    strata_error err;
    assert_int_equal(strata_topk_ip(&q, 1, C, NC, 1, NULL, NULL, K, idx, sc, (strata_progress){0}, &err),
                     STRATA_OK);
    assert_int_equal(idx[0], 4321);
    assert_true(sc[0] == 0.75f);
    for (int j = 1; j < K; j++) {
        assert_int_equal(idx[j], j - 1);
        assert_true(sc[j] == 0.5f);
    }
    free(C);
    /* argument errors */
    assert_int_equal(strata_topk_ip(&q, 1, &q, 1, 1, NULL, NULL, 0, idx, sc, (strata_progress){0}, &err),
                     STRATA_EINVAL);
    assert_non_null(strstr(err.msg, "k must be >= 1"));
    assert_int_equal(strata_topk_ip(&q, 1, &q, 1, 0, NULL, NULL, 1, idx, sc, (strata_progress){0}, &err),
                     STRATA_EINVAL);
}

static void test_topk_threads(void **state) {
    (void)state;
    enum { NQ = 1100, NC = 7000, D = 24, K = 50 };
    float *Q = rand_mat(NQ, D, 0), *C = rand_mat(NC, D, 0);
    int64_t *ref_i = malloc(NQ * K * sizeof *ref_i), *i2 = malloc(NQ * K * sizeof *i2);
    float *ref_s = malloc(NQ * K * sizeof *ref_s), *s2 = malloc(NQ * K * sizeof *s2);
    strata_error err;
    int old = strata_get_threads();
    for (int t = 1; t <= 3; t++) {
        strata_set_threads(t);
        int64_t *oi = t == 1 ? ref_i : i2;
        float *os = t == 1 ? ref_s : s2;
        assert_int_equal(strata_topk_ip(Q, NQ, C, NC, D, NULL, NULL, K, oi, os, (strata_progress){0}, &err),
                         STRATA_OK);
        if (t > 1) {
            assert_memory_equal(ref_i, i2, NQ * K * sizeof *i2);
            assert_memory_equal(ref_s, s2, NQ * K * sizeof *s2);
        }
    }
    strata_set_threads(old);
    free(Q); free(C); free(ref_i); free(i2); free(ref_s); free(s2);
}

/* ------------------------------------------------------------------------ */
/* Hand-computed metrics                                                     */
/* ------------------------------------------------------------------------ */

/* corpus, queries, qrels and a run whose metrics are worked out by hand:
 *   q1 graded: judged d1=2 d2=1 d3=0 d4=1; ranked d3 d1 d5 d2 (d5 unjudged)
 *      DCG@10 = 2/log2(3) + 1/log2(5); IDCG@10 = 2/log2(2) + 1/log2(3)
 *      + 1/log2(4); nDCG = 0.5405857679450102; 3 relevant, 2 retrieved:
 *      recall 2/3; first relevant at rank 2: MRR 1/2; AP = (1/2 + 2/4)/3.
 *   q2 relevant d1 not retrieved: all 0.
 *   q3 no judgments: excluded from the mean.
 *   q4 ties: dA dB dC all 0.5, relevant dB; trec_eval orders ties by docid
 *      descending -> dC dB dA: dB at rank 2: nDCG 1/log2(3), MRR 1/2,
 *      AP 1/2, recall 1.
 *   q5 judged, absent from the run: all 0, counted.
 *   q6 doc "q6" (same id as the query) 0.9 then relevant d2 0.8: as q4;
 *      with identical ids ignored, d2 is first: all 1.
 *   q7 relevant x10 at rank 11: nDCG@10 0, recall@10 0, MRR@10 0,
 *      recall@100 1, AP 1/11.
 * Mean nDCG@10 over the 6 judged queries = 0.3004075458479875. */
static const char *HAND_CORPUS_IDS[] = {"dA", "dB", "dC", "d1", "d2", "d3", "d4", "d5", "q6",
                                        "x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8",
                                        "x9", "x10"};
static const char *HAND_QRELS = "query-id\tcorpus-id\tscore\n"
                                "q1\td1\t2\nq1\td2\t1\nq1\td3\t0\nq1\td4\t1\n"
                                "q2\td1\t1\nq4\tdB\t1\nq5\td5\t1\nq6\td2\t1\nq7\tx10\t1\n";

static const char *hand_dir(void) {
    const char *dir = make_dir("hand");
    char buf[4096];
    size_t n = 0;
    for (size_t i = 0; i < sizeof HAND_CORPUS_IDS / sizeof *HAND_CORPUS_IDS; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "{\"_id\": \"%s\", \"text\": \"t\"}\n",
                              HAND_CORPUS_IDS[i]);
    tu_write_str(tu_join(dir, "corpus.jsonl"), buf);
    n = 0;
    for (int i = 1; i <= 7; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "{\"_id\": \"q%d\", \"text\": \"t\"}\n", i);
    tu_write_str(tu_join(dir, "queries.jsonl"), buf);
    tu_write_str(tu_join(dir, "qrels/test.tsv"), HAND_QRELS);
    n = (size_t)snprintf(buf, sizeof buf,
                         "q1 Q0 d3 1 0.9 r\nq1 Q0 d1 2 0.8 r\nq1 Q0 d5 3 0.7 r\nq1 Q0 d2 4 0.6 r\n"
                         "q2 Q0 d2 1 0.5 r\nq2 Q0 d3 2 0.4 r\nq3 Q0 d1 1 0.3 r\n"
                         "q4 Q0 dA 1 0.5 r\nq4 Q0 dB 2 0.5 r\nq4 Q0 dC 3 0.5 r\n"
                         "q6 Q0 q6 1 0.9 r\nq6 Q0 d2 2 0.8 r\n");
    for (int i = 0; i <= 10; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "q7 Q0 x%d %d %.1f r\n", i, i + 1,
                              1.0 - 0.1 * i);
    tu_write_str(tu_join(dir, "run.trec"), buf);
    return dir;
}

#define NEAR(a, b) assert_true(fabs((a) - (b)) < 1e-12)

static void expect_metrics(const strata_metrics *m, double ndcg, double r10, double r100,
                           double mrr, double map) {
    NEAR(m->ndcg10, ndcg);
    NEAR(m->recall10, r10);
    NEAR(m->recall100, r100);
    NEAR(m->mrr10, mrr);
    NEAR(m->map100, map);
}

static void test_metrics_hand(void **state) {
    (void)state;
    const char *dir = hand_dir();
    strata_beir b;
    strata_error err;
    assert_int_equal(strata_beir_load(&b, dir, "test", (strata_progress){0}, &err), STRATA_OK);
    strata_run run;
    assert_int_equal(strata_run_read_trec(&run, &b, tu_join(dir, "run.trec"), NULL, &err),
                     STRATA_OK);
    strata_metrics mean, pq[7];
    assert_int_equal(strata_eval_metrics(&b, &run, 0, &mean, pq, &err), STRATA_OK);
    const double n3 = 1.0 / log2(3.0);
    expect_metrics(&pq[0], 0.5405857679450102, 2.0 / 3, 2.0 / 3, 0.5, 1.0 / 3);
    expect_metrics(&pq[1], 0, 0, 0, 0, 0);
    assert_int_equal(pq[1].n, 1);
    assert_int_equal(pq[2].n, 0); /* q3: no judgments */
    expect_metrics(&pq[3], n3, 1, 1, 0.5, 0.5);
    expect_metrics(&pq[4], 0, 0, 0, 0, 0);
    assert_int_equal(pq[4].n, 1); /* q5 counted although not retrieved */
    expect_metrics(&pq[5], n3, 1, 1, 0.5, 0.5);
    expect_metrics(&pq[6], 0, 0, 1, 0, 1.0 / 11);
    assert_int_equal(mean.n, 6);
    NEAR(mean.ndcg10, 0.3004075458479875);
    NEAR(mean.recall10, (2.0 / 3 + 1 + 1) / 6);
    NEAR(mean.recall100, (2.0 / 3 + 1 + 1 + 1) / 6);
    NEAR(mean.mrr10, (0.5 + 0.5 + 0.5) / 6);
    NEAR(mean.map100, (1.0 / 3 + 0.5 + 0.5 + 1.0 / 11) / 6);
    /* identical ids ignored: q6 becomes perfect, nothing else changes */
    assert_int_equal(strata_eval_metrics(&b, &run, 1, &mean, pq, &err), STRATA_OK);
    expect_metrics(&pq[5], 1, 1, 1, 1, 1);
    NEAR(mean.ndcg10, 0.3004075458479875 + (1 - n3) / 6);
    strata_run_free(&run);
    strata_run_free(&run);
    strata_beir_free(&b);
}

static void test_metrics_hand_cli_pytrec(void **state) {
    (void)state;
    const char *dir = hand_dir();
    const char *out = tu_join(dir, "m.json");
    /* the run has q3, which the qrels do not know: --skip-unknown */
    assert_int_equal(tu_sh("%s eval --quiet --run %s/run.trec --qrels %s/qrels/test.tsv --out %s"
                           " --skip-unknown",
                           tu_strata(), dir, dir, out),
                     0);
    assert_non_null(strstr(tu_last_out(), "ndcg@10 0.30041"));
    assert_non_null(strstr(tu_last_out(), "queries 6"));
    char *js = tu_read(out, NULL);
    assert_non_null(js);
    assert_non_null(strstr(js, "\"mean\""));
    assert_non_null(strstr(js, "\"per_query\""));
    assert_non_null(strstr(js, "\"q7\""));
    assert_null(strstr(js, "\"q3\"")); /* no judgments: not listed */
    free(js);
    /* the same run through --beir (ids checked against the corpus) */
    assert_int_equal(tu_sh("%s eval --quiet --run %s/run.trec --beir %s", tu_strata(), dir, dir), 0);
    assert_non_null(strstr(tu_last_out(), "ndcg@10 0.30041"));
    /* and pytrec_eval on the same files */
    if (!tu_python_has("pytrec_eval")) {
        print_message("skipped pytrec_eval part: module not installed\n");
        return;
    }
    assert_int_equal(tu_sh("%s tests/ref/eval_pytrec.py %s/run.trec %s/qrels/test.tsv %s 1e-6",
                           tu_python(), dir, dir, out),
                     0);
}

static void test_eval_embeddings_api(void **state) {
    (void)state;
    /* 4 docs on the unit circle, 2 queries; q "d0" shares an id with a doc */
    strata_beir b;
    memset(&b, 0, sizeof b);
    strata_error err;
    const char *qp = tu_join(make_dir("api"), "qrels.tsv");
    tu_write_str(qp, "d0\td1\t1\nqb\td3\t2\nqb\td2\t1\n");
    strata_beir_options o = strata_beir_default_options();
    o.unknown = STRATA_UNKNOWN_ADD;
    assert_int_equal(strata_beir_load_qrels(&b, qp, &o, &err), STRATA_OK);
    /* corpus order from the qrels: d1 d3 d2; add d0 */
    assert_int_equal(strata_texts_add(&b.corpus, "d0", "", NULL, &err), STRATA_OK);
    /* C rows: d1 d3 d2 d0 */
    const float C[] = {1, 0, 0, 1, -1, 0, 0.8f, 0.6f};
    const float Q[] = {4, 3, 0, -2}; /* query d0 ~ doc d0 (cos 1); qb points down */
    strata_eval_options eo = strata_eval_default_options();
    eo.k = 2;
    eo.normalize = 1;
    strata_metrics mean, pq[2];
    strata_run run;
    assert_int_equal(strata_eval_embeddings(&b, C, Q, 2, &eo, &mean, pq, &run, &err), STRATA_OK);
    /* query d0: d0 (cos 1), then d1 (cos .8): relevant d1 at rank 2 */
    assert_int_equal(run.off[1] - run.off[0], 2);
    assert_int_equal(run.doc[0], 3);
    assert_true(fabs(run.score[0] - 1.0) < 1e-6);
    assert_int_equal(run.doc[1], 0);
    assert_true(fabs(run.score[1] - 0.8) < 1e-6);
    NEAR(pq[0].mrr10, 0.5);
    /* query qb (0,-1): d1 and d2 score 0, d0 -0.6, d3 -1: the top 2 are the
     * tie d1, d2, in corpus index order (0, 2) */
    assert_int_equal(run.doc[2], 0);
    assert_int_equal(run.doc[3], 2);
    /* trec order of the tie: docid descending -> d2 (rel 1) then d1:
     * DCG = 1, IDCG = 2 + 1/log2(3) */
    NEAR(pq[1].ndcg10, 1.0 / (2.0 + 1.0 / log2(3.0)));
    strata_run_free(&run);
    /* ignore identical ids: query d0 loses doc d0, k stays 2 */
    eo.ignore_identical_ids = 1;
    assert_int_equal(strata_eval_embeddings(&b, C, Q, 2, &eo, &mean, pq, &run, &err), STRATA_OK);
    assert_int_equal(run.off[1] - run.off[0], 2);
    assert_int_equal(run.doc[0], 0);
    NEAR(pq[0].mrr10, 1.0);
    strata_run_free(&run);
    /* a NaN row is refused, naming it */
    float Cbad[8];
    memcpy(Cbad, C, sizeof Cbad);
    Cbad[5] = NAN;
    assert_int_equal(strata_eval_embeddings(&b, Cbad, Q, 2, &eo, &mean, pq, NULL, &err),
                     STRATA_EFORMAT);
    assert_non_null(strstr(err.msg, "corpus embedding row 2 (id \"d2\") is not finite"));
    strata_beir_free(&b);
}

/* ------------------------------------------------------------------------ */
/* Issue #15: huge k, empty qrels, ids a TREC run cannot hold                */
/* ------------------------------------------------------------------------ */

static size_t g_cap; /* allocations above this many bytes fail (0: none) */
static void *cap_malloc(size_t n, void *ud) {
    (void)ud;
    return g_cap && n > g_cap ? NULL : malloc(n);
}
static void *cap_realloc(void *p, size_t n, void *ud) {
    (void)ud;
    return g_cap && n > g_cap ? NULL : realloc(p, n);
}
static void cap_free(void *p, void *ud) {
    (void)ud;
    free(p);
}

/* k far above the corpus size retrieves the whole corpus in memory
 * proportional to it (issue #15: --k 1e7 on 2,000 documents took 23 GB):
 * the same run as k = corpus size, with no allocation above 16 MB. */
static void test_k_clamped_to_corpus(void **state) {
    (void)state;
    const char *dir = hand_dir();
    strata_beir b;
    strata_error err;
    assert_int_equal(strata_beir_load(&b, dir, "test", (strata_progress){0}, &err), STRATA_OK);
    float *C = rand_mat(b.corpus.n, 4, 0), *Q = rand_mat(b.queries.n, 4, 0);
    strata_eval_options eo = strata_eval_default_options();
    eo.k = (int)b.corpus.n;
    strata_run ref, big;
    assert_int_equal(strata_eval_retrieve(&b, C, Q, 4, &eo, &ref, &err), STRATA_OK);
    eo.k = 10000000;
    g_cap = (size_t)16 << 20;
    strata_allocator a = {cap_malloc, cap_realloc, cap_free, NULL};
    strata_set_allocator(&a);
    strata_status st = strata_eval_retrieve(&b, C, Q, 4, &eo, &big, &err);
    strata_set_allocator(NULL);
    g_cap = 0;
    if (st) fail_msg("k = 1e7: %s", err.msg);
    assert_memory_equal(ref.off, big.off, sizeof(int64_t) * (size_t)(b.queries.n + 1));
    int64_t nr = ref.off[b.queries.n];
    assert_int_equal(nr, 6 * b.corpus.n); /* every judged query gets every document */
    assert_memory_equal(ref.doc, big.doc, sizeof(int64_t) * (size_t)nr);
    strata_run_free(&ref);
    strata_run_free(&big);
    free(C);
    free(Q);
    strata_beir_free(&b);
}

/* Qrels without a judgment evaluate nothing: an error naming the file, not
 * nDCG 0 with exit 0 (issue #15). */
static void test_empty_qrels(void **state) {
    (void)state;
    const char *dir = hand_dir();
    const char *s = tu_strata();
    tu_write_str(tu_join(dir, "empty.tsv"), "query-id\tcorpus-id\tscore\n");
    assert_int_equal(tu_sh("%s eval --quiet --run %s/run.trec --qrels %s/empty.tsv", s, dir, dir),
                     1);
    assert_non_null(strstr(tu_last_err(), "empty.tsv: no judgments"));
    float *C = rand_mat(20, 4, 0), *Q = rand_mat(7, 4, 0);
    save_mat(tu_join(dir, "Ce.npy"), C, 20, 4);
    save_mat(tu_join(dir, "Qe.npy"), Q, 7, 4);
    assert_int_equal(tu_sh("%s eval --quiet --beir %s --corpus-emb %s/Ce.npy --query-emb %s/Qe.npy "
                           "--qrels %s/empty.tsv --out %s/out.json", s, dir, dir, dir, dir, dir),
                     1);
    assert_non_null(strstr(tu_last_err(), "empty.tsv: no judgments"));
    assert_false(tu_exists(tu_join(dir, "out.json")));
    /* every line naming unknown ids, skipped */
    tu_write_str(tu_join(dir, "unk.tsv"), "query-id\tcorpus-id\tscore\nqX\td1\t1\nq1\tdX\t1\n");
    assert_int_equal(tu_sh("%s eval --quiet --run %s/run.trec --beir %s --qrels %s/unk.tsv "
                           "--skip-unknown", s, dir, dir, dir), 1);
    assert_non_null(strstr(tu_last_err(), "unk.tsv: no judgments"));
    /* the library refuses a qrels table without judgments too */
    strata_beir b;
    strata_error err;
    assert_int_equal(strata_beir_load(&b, dir, "test", (strata_progress){0}, &err), STRATA_OK);
    strata_free(b.qrels);
    b.qrels = NULL;
    b.n_qrels = 0;
    memset(b.qrels_off, 0, sizeof(int64_t) * (size_t)(b.queries.n + 1));
    strata_run run;
    strata_eval_options eo = strata_eval_default_options();
    assert_int_equal(strata_eval_retrieve(&b, C, Q, 4, &eo, &run, &err), STRATA_OK);
    strata_metrics mean;
    assert_int_equal(strata_eval_metrics(&b, &run, 0, &mean, NULL, &err), STRATA_EFORMAT);
    assert_non_null(strstr(err.msg, "no judgment"));
    strata_run_free(&run);
    strata_beir_free(&b);
    free(C);
    free(Q);
}

/* An id with whitespace cannot be a column of a TREC run: writing one is an
 * error naming the id (issue #15: the run was written and eval could not
 * read it back). */
static void test_run_ids_with_spaces(void **state) {
    (void)state;
    const char *dir = make_dir("spaces");
    tu_write_str(tu_join(dir, "corpus.jsonl"),
                 "{\"_id\": \"d 1\", \"text\": \"a\"}\n{\"_id\": \"d2\", \"text\": \"b\"}\n");
    tu_write_str(tu_join(dir, "queries.jsonl"), "{\"_id\": \"q1\", \"text\": \"a\"}\n");
    tu_write_str(tu_join(dir, "qrels/test.tsv"), "query-id\tcorpus-id\tscore\nq1\td 1\t1\n");
    const float C[] = {1, 0, 0, 1}, Q[] = {1, 0};
    save_mat(tu_join(dir, "C.npy"), C, 2, 2);
    save_mat(tu_join(dir, "Q.npy"), Q, 1, 2);
    int rc = tu_sh("%s eval --quiet --beir %s --corpus-emb %s/C.npy --query-emb %s/Q.npy "
                   "--run-out %s/out.trec", tu_strata(), dir, dir, dir, dir);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(tu_last_err(), "document id \"d 1\""));
    assert_non_null(strstr(tu_last_err(), "whitespace"));
    assert_false(tu_exists(tu_join(dir, "out.trec")));
    assert_int_equal(tu_count_files(dir, ".tmp."), 0);
    /* a query id with a tab, and a run name with a space, likewise */
    strata_beir b;
    memset(&b, 0, sizeof b);
    strata_error err;
    assert_int_equal(strata_texts_add(&b.queries, "q\t1", "", NULL, &err), STRATA_OK);
    assert_int_equal(strata_texts_add(&b.corpus, "d1", "", NULL, &err), STRATA_OK);
    int64_t off[2] = {0, 1}, doc[1] = {0};
    double score[1] = {0.5};
    strata_run run = {1, off, doc, score};
    const char *out = tu_join(dir, "lib.trec");
    assert_int_equal(strata_run_write_trec(&run, &b, out, NULL, &err), STRATA_EFORMAT);
    assert_non_null(strstr(err.msg, "query id \"q\t1\""));
    assert_false(tu_exists(out));
    strata_texts_free(&b.queries);
    memset(&b.queries, 0, sizeof b.queries);
    assert_int_equal(strata_texts_add(&b.queries, "q1", "", NULL, &err), STRATA_OK);
    assert_int_equal(strata_run_write_trec(&run, &b, out, "my run", &err), STRATA_EINVAL);
    assert_non_null(strstr(err.msg, "run name \"my run\""));
    assert_int_equal(strata_run_write_trec(&run, &b, out, "mine", &err), STRATA_OK);
    assert_int_equal(tu_count_files(dir, ".tmp."), 0);
    strata_beir_free(&b);
}

/* ------------------------------------------------------------------------ */
/* Agreement with pytrec_eval on real data                                   */
/* ------------------------------------------------------------------------ */

/* Retrieval over a real BEIR set, scored by Strata and by pytrec_eval.
 * model "hash": the built-in hashed TF-IDF embedder (`--model hash`);
 * "tfidf": tests/ref/eval_tfidf.py's numpy embeddings at dim (a small dim
 * gives many exactly tied scores, which exercise the tie rule). */
static void pytrec_on_beir(const char *name, const char *model, int dim) {
    char rel[256];
    snprintf(rel, sizeof rel, "beir/%s/corpus.jsonl", name);
    TU_REQUIRE_DATA(rel);
    TU_REQUIRE_PY("pytrec_eval");
    snprintf(rel, sizeof rel, "beir/%s", name);
    char data[1024];
    snprintf(data, sizeof data, "%s", tu_data(rel));
    char dname[128];
    snprintf(dname, sizeof dname, "%s_%s", name, model);
    const char *dir = make_dir(dname);
    if (strcmp(model, "hash") == 0) {
        assert_int_equal(tu_sh("%s eval --quiet --beir %s --model hash --run-out %s/run.trec "
                               "--out %s/m.json",
                               tu_strata(), data, dir, dir),
                         0);
        /* --model embeds only the judged queries (the others are never
         * searched): the run equals the one from every query's embedding */
        assert_int_equal(tu_sh("%s embed --quiet --model hash --input %s --field corpus --out "
                               "%s/C.npy && %s embed --quiet --model hash --input %s --field "
                               "queries --out %s/Q.npy && %s eval --quiet --beir %s --corpus-emb "
                               "%s/C.npy --query-emb %s/Q.npy --run-out %s/all.trec && cmp "
                               "%s/run.trec %s/all.trec",
                               tu_strata(), data, dir, tu_strata(), data, dir, tu_strata(), data,
                               dir, dir, dir, dir, dir),
                         0);
    } else {
        TU_REQUIRE_PY("numpy");
        assert_int_equal(tu_sh("%s tests/ref/eval_tfidf.py %s %s %d", tu_python(), data, dir, dim),
                         0);
        assert_int_equal(tu_sh("%s eval --quiet --beir %s --corpus-emb %s/C.npy --query-emb "
                               "%s/Q.npy --run-out %s/run.trec --out %s/m.json",
                               tu_strata(), data, dir, dir, dir, dir),
                         0);
    }
    int rc = tu_sh("%s tests/ref/eval_pytrec.py %s/run.trec %s/qrels/test.tsv %s/m.json 1e-6",
                   tu_python(), dir, data, dir);
    print_message("%s %s: %s", name, model, tu_last_out());
    assert_int_equal(rc, 0);
}

static void test_pytrec_scifact(void **state) {
    (void)state;
    pytrec_on_beir("scifact", "hash", 0);
}

static void test_pytrec_nq_qed(void **state) {
    (void)state;
    pytrec_on_beir("nq_qed", "hash", 0);
}

static void test_pytrec_nq_qed_tfidf(void **state) {
    (void)state;
    pytrec_on_beir("nq_qed", "tfidf", 64);
}

/* A run with scores from {0, .1, .2, .3, .4}: most ranks are ties, so the
 * metrics depend on trec_eval's docid-descending tie order throughout. */
static void test_pytrec_ties(void **state) {
    (void)state;
    TU_REQUIRE_DATA("beir/scifact/corpus.jsonl");
    TU_REQUIRE_PY("pytrec_eval");
    char data[1024];
    snprintf(data, sizeof data, "%s", tu_data("beir/scifact"));
    strata_beir b;
    strata_error err;
    assert_int_equal(strata_beir_load(&b, data, "test", (strata_progress){0}, &err), STRATA_OK);
    const char *dir = make_dir("ties");
    const char *run = tu_join(dir, "run.trec");
    FILE *f = fopen(run, "w");
    assert_non_null(f);
    for (int64_t q = 0; q < b.queries.n; q++) {
        if (b.qrels_off[q + 1] == b.qrels_off[q]) continue;
        const char *qid = strata_texts_id(&b.queries, q);
        int64_t n = 0;
        /* its relevant documents (sometimes), then random others */
        for (int64_t j = b.qrels_off[q]; j < b.qrels_off[q + 1]; j++)
            if (xorshift() % 3)
                fprintf(f, "%s Q0 %s %lld %.1f t\n", qid, strata_texts_id(&b.corpus, b.qrels[j].doc),
                        (long long)++n, (double)(xorshift() % 5) / 10);
        int64_t start = (int64_t)(xorshift() % (uint64_t)(b.corpus.n - 150));
        for (int64_t d = start; d < start + 120; d++) {
            int dup = 0;
            for (int64_t j = b.qrels_off[q]; j < b.qrels_off[q + 1]; j++) dup |= b.qrels[j].doc == d;
            if (!dup)
                fprintf(f, "%s Q0 %s %lld %.1f t\n", qid, strata_texts_id(&b.corpus, d),
                        (long long)++n, (double)(xorshift() % 5) / 10);
        }
    }
    fclose(f);
    char qrels[1100];
    snprintf(qrels, sizeof qrels, "%s/qrels/test.tsv", data);
    assert_int_equal(tu_sh("%s eval --quiet --run %s --qrels %s --out %s/m.json", tu_strata(), run,
                           qrels, dir),
                     0);
    int rc = tu_sh("%s tests/ref/eval_pytrec.py %s %s %s/m.json 1e-6", tu_python(), run, qrels, dir);
    print_message("%s", tu_last_out());
    assert_int_equal(rc, 0);
    strata_beir_free(&b);
}

/* ------------------------------------------------------------------------ */
/* Bad input through the CLI                                                 */
/* ------------------------------------------------------------------------ */

static void expect_cli_fail(const char *dir, const char *needle, int code) {
    if (!strstr(tu_last_err(), needle)) fail_msg("stderr '%s' lacks '%s'", tu_last_err(), needle);
    assert_false(tu_exists(tu_join(dir, "out.json")));
    assert_false(tu_exists(tu_join(dir, "out.trec")));
    assert_int_equal(tu_count_files(dir, ".tmp."), 0);
    (void)code;
}

static void test_cli_bad_input(void **state) {
    (void)state;
    const char *dir = hand_dir();
    const char *s = tu_strata();
    /* a qrels line with too few columns */
    tu_write_str(tu_join(dir, "short.tsv"), "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\n");
    assert_int_equal(tu_sh("%s eval --quiet --run %s/run.trec --qrels %s/short.tsv --out %s/out.json",
                           s, dir, dir, dir),
                     1);
    expect_cli_fail(dir, "short.tsv:3: expected 3 columns (query-id, corpus-id, score), found 2", 1);
    /* a run referring to an unknown query */
    tu_write_str(tu_join(dir, "unk.trec"), "q1 Q0 d1 1 0.5 r\nq99 Q0 d1 1 0.5 r\n");
    assert_int_equal(tu_sh("%s eval --quiet --run %s/unk.trec --qrels %s/qrels/test.tsv --out %s/out.json",
                           s, dir, dir, dir),
                     1);
    expect_cli_fail(dir, "unk.trec:2: field \"qid\": unknown query \"q99\"", 1);
    /* ... which --skip-unknown turns into a count */
    assert_int_equal(tu_sh("%s eval --run %s/unk.trec --qrels %s/qrels/test.tsv --skip-unknown",
                           s, dir, dir),
                     0);
    assert_non_null(strstr(tu_last_err(), "skipped 1 lines"));
    /* an unknown document against a BEIR corpus */
    tu_write_str(tu_join(dir, "unkd.trec"), "q1 Q0 nope 1 0.5 r\n");
    assert_int_equal(tu_sh("%s eval --quiet --run %s/unkd.trec --beir %s --out %s/out.json", s, dir,
                           dir, dir),
                     1);
    expect_cli_fail(dir, "unkd.trec:1: field \"docid\": unknown document \"nope\"", 1);
    /* a run line with a bad score, and one listed twice */
    tu_write_str(tu_join(dir, "bad.trec"), "q1 Q0 d1 1 high r\n");
    assert_int_equal(tu_sh("%s eval --quiet --run %s/bad.trec --qrels %s/qrels/test.tsv", s, dir, dir), 1);
    expect_cli_fail(dir, "bad.trec:1: field \"score\": \"high\" is not a finite number", 1);
    tu_write_str(tu_join(dir, "dup.trec"), "q1 Q0 d1 1 0.5 r\nq1 Q0 d2 2 0.4 r\nq1 Q0 d1 3 0.3 r\n");
    assert_int_equal(tu_sh("%s eval --quiet --run %s/dup.trec --qrels %s/qrels/test.tsv", s, dir, dir), 1);
    expect_cli_fail(dir, "dup.trec:3: document \"d1\" listed twice for query \"q1\" (first at line 1)", 1);
    /* embeddings whose row count disagrees with the corpus (20 docs) */
    float *C = rand_mat(19, 4, 0), *Q = rand_mat(7, 4, 0);
    save_mat(tu_join(dir, "C19.npy"), C, 19, 4);
    save_mat(tu_join(dir, "Q.npy"), Q, 7, 4);
    assert_int_equal(tu_sh("%s eval --quiet --beir %s --corpus-emb %s/C19.npy --query-emb %s/Q.npy "
                           "--out %s/out.json --run-out %s/out.trec",
                           s, dir, dir, dir, dir, dir),
                     1);
    expect_cli_fail(dir, "C19.npy: 19 rows, but the corpus has 20 documents", 1);
    free(C);
    C = rand_mat(20, 4, 0);
    save_mat(tu_join(dir, "C.npy"), C, 20, 4);
    save_mat(tu_join(dir, "Q6.npy"), Q, 6, 4);
    assert_int_equal(tu_sh("%s eval --quiet --beir %s --corpus-emb %s/C.npy --query-emb %s/Q6.npy "
                           "--out %s/out.json",
                           s, dir, dir, dir, dir),
                     1);
    expect_cli_fail(dir, "Q6.npy: 6 rows, but there are 7 queries", 1);
    /* ids next to the embeddings in another order */
    char ids[512] = "";
    for (int i = 0; i < 20; i++) {
        strcat(ids, HAND_CORPUS_IDS[i == 0 ? 1 : i == 1 ? 0 : i]);
        strcat(ids, "\n");
    }
    tu_write_str(tu_join(dir, "C.ids.txt"), ids);
    assert_int_equal(tu_sh("%s eval --quiet --beir %s --corpus-emb %s/C.npy --query-emb %s/Q.npy "
                           "--out %s/out.json",
                           s, dir, dir, dir, dir),
                     1);
    expect_cli_fail(dir, "C.ids.txt:1: id \"dB\" but the corpus documents have \"dA\" at row 0", 1);
    remove(tu_join(dir, "C.ids.txt"));
    /* the good case writes both outputs, run lines for judged queries only */
    assert_int_equal(tu_sh("%s eval --quiet --beir %s --corpus-emb %s/C.npy --query-emb %s/Q.npy "
                           "--k 5 --out %s/good.json --run-out %s/good.trec",
                           s, dir, dir, dir, dir, dir),
                     0);
    char *run = tu_read(tu_join(dir, "good.trec"), NULL);
    assert_non_null(run);
    int lines = 0;
    for (char *p = run; *p; p++) lines += *p == '\n';
    assert_int_equal(lines, 6 * 5); /* 6 judged queries x k */
    assert_null(strstr(run, "q3 Q0"));
    free(run);
    /* usage errors exit 2 */
    assert_int_equal(tu_sh("%s eval --quiet --beir %s --corpus-emb %s/C.npy", s, dir, dir), 2);
    assert_int_equal(tu_sh("%s eval --quiet --run %s/run.trec", s, dir), 2);
    assert_int_equal(tu_sh("%s eval --quiet --beir %s --corpus-emb %s/C.npy --query-emb %s/Q.npy --k 0",
                           s, dir, dir, dir),
                     2);
    free(C);
    free(Q);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_topk_vs_naive),
        cmocka_unit_test(test_topk_ties_rule),
        cmocka_unit_test(test_topk_threads),
        cmocka_unit_test(test_metrics_hand),
        cmocka_unit_test(test_metrics_hand_cli_pytrec),
        cmocka_unit_test(test_eval_embeddings_api),
        cmocka_unit_test(test_k_clamped_to_corpus),
        cmocka_unit_test(test_empty_qrels),
        cmocka_unit_test(test_run_ids_with_spaces),
        cmocka_unit_test(test_pytrec_scifact),
        cmocka_unit_test(test_pytrec_nq_qed),
        cmocka_unit_test(test_pytrec_nq_qed_tfidf),
        cmocka_unit_test(test_pytrec_ties),
        cmocka_unit_test(test_cli_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
