/*
 * test_compare.c — the statistics of strata_compare (compare.h).
 *
 *   - Holm and Bonferroni on hand-computed families (ties, values capped at
 *     1, the step-down maximum), and on 200 random families against
 *     statsmodels' multipletests (exact to 1e-15: the same arithmetic);
 *   - the Student t tail against scipy.stats.t.sf on a grid of t and
 *     degrees of freedom (1e-10 relative; measured ~1e-13);
 *   - two identical runs: difference 0, interval [0, 0], p = 1, t-test p 1;
 *     identical up to 1e-16 rounding (a metrics JSON's 15 digits) as well;
 *   - one run better on every query: p at its minimum, 1/(P+1) by Monte
 *     Carlo, 2/2^NQ when every sign vector is enumerated;
 *   - seed pooling: a run of 3 seeds gives the same comparison as a one-seed
 *     run holding the per-query means; its seed means and their sd;
 *   - results identical for 1, 2 and 3 threads, and a different seed
 *     changes the Monte Carlo parts only;
 *   - bad arguments: each a clear error;
 *   - every number of the CLI's JSON against tests/ref/compare_ref.py
 *     (numpy/scipy/statsmodels): exact on means, differences, counts, t, d_z
 *     and corrections, within Monte Carlo error (4 binomial standard
 *     errors) on randomization p-values and bootstrap interval ends, on
 *     random metrics with 3 runs of 3/1/2 seeds, on every pair with
 *     Bonferroni across metrics, and on 9 queries (exact enumeration).
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strata/compare.h"
#include "eval/compare_internal.h"
#include "testutil.h"

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */
/* ------------------------------------------------------------------------ */

/* Random per-query metrics of a system of quality `level` (0..1) with a
 * per-query difficulty shared by every system (so runs are paired, as real
 * runs are): values in [0, 1], recall on a grid of thirds (ties), ndcg
 * continuous. Every query judged (n = 1). */
static strata_metrics *make_metrics(int64_t nq, double level, uint64_t seed) {
    strata_metrics *m = calloc((size_t)nq, sizeof *m);
    strata_rng shared, own;
    strata_rng_seed(&shared, 777, 0);
    strata_rng_seed(&own, seed, 1);
    for (int64_t q = 0; q < nq; q++) {
        double base = strata_rng_uniform(&shared);
        double v = 0.6 * base + 0.4 * level + 0.25 * (strata_rng_uniform(&own) - 0.5);
        v = v < 0 ? 0 : v > 1 ? 1 : v;
        m[q].ndcg10 = v;
        m[q].recall10 = floor(3 * v) / 3;
        m[q].recall100 = fmin(1.0, floor(3 * v + 1) / 3);
        m[q].mrr10 = v * v;
        m[q].map100 = 0.9 * v;
        m[q].n = 1;
    }
    return m;
}

static strata_compare_group group1(const char *name, const strata_metrics **one) {
    strata_compare_group g = {name, 1, one};
    return g;
}

static void expect_same_pair(const strata_compare_pair_stats *x, const strata_compare_pair_stats *y) {
    assert_int_equal(x->a, y->a);
    assert_int_equal(x->b, y->b);
    assert_true(x->diff == y->diff);
    assert_true(x->ci_lo == y->ci_lo && x->ci_hi == y->ci_hi);
    assert_true(x->p == y->p && x->p_adj == y->p_adj);
    assert_true(x->t == y->t && x->p_t == y->p_t && x->p_t_adj == y->p_t_adj);
    assert_true(x->effect == y->effect);
    assert_int_equal(x->n_better, y->n_better);
    assert_int_equal(x->n_worse, y->n_worse);
    assert_int_equal(x->n_tied, y->n_tied);
}

/* ------------------------------------------------------------------------ */
/* Names and corrections                                                     */
/* ------------------------------------------------------------------------ */

static void test_names(void **state) {
    (void)state;
    for (int i = 0; i < STRATA_METRIC_COUNT; i++)
        assert_int_equal(strata_metric_parse(strata_metric_name((strata_metric_id)i)), i);
    assert_int_equal(strata_metric_parse("ndcg@100"), -1);
    assert_int_equal(strata_metric_parse(NULL), -1);
    assert_int_equal(strata_correction_parse("holm"), STRATA_CORRECTION_HOLM);
    assert_int_equal(strata_correction_parse("bonferroni"), STRATA_CORRECTION_BONFERRONI);
    assert_int_equal(strata_correction_parse("none"), STRATA_CORRECTION_NONE);
    assert_int_equal(strata_correction_parse("Holm"), -1);
    strata_metrics m = {0.1, 0.2, 0.3, 0.4, 0.5, 1};
    assert_true(strata_metric_value(&m, STRATA_METRIC_RECALL100) == 0.3);
    assert_true(strata_metric_value(&m, STRATA_METRIC_MAP100) == 0.5);
}

/* Hand-computed: p = (.01, .04, .03, .5), n = 4.
 * Holm: sorted .01 .03 .04 .5 times 4 3 2 1 = .04 .09 .08 .5; running max
 * .04 .09 .09 .5 -> in input order (.04, .09, .09, .5).
 * Bonferroni: (.04, .16, .12, 1). Ties (.02, .02): Holm .04 .04. */
static void test_p_adjust_hand(void **state) {
    (void)state;
    const double p[4] = {0.01, 0.04, 0.03, 0.5};
    double o[4];
    strata_error err;
    assert_int_equal(strata_p_adjust(p, 4, STRATA_CORRECTION_HOLM, o, &err), STRATA_OK);
    const double holm[4] = {0.04, 0.09, 0.09, 0.5};
    for (int i = 0; i < 4; i++) assert_true(fabs(o[i] - holm[i]) < 1e-15);
    assert_int_equal(strata_p_adjust(p, 4, STRATA_CORRECTION_BONFERRONI, o, &err), STRATA_OK);
    const double bonf[4] = {0.04, 0.16, 0.12, 1.0};
    for (int i = 0; i < 4; i++) assert_true(fabs(o[i] - bonf[i]) < 1e-15);
    assert_int_equal(strata_p_adjust(p, 4, STRATA_CORRECTION_NONE, o, &err), STRATA_OK);
    for (int i = 0; i < 4; i++) assert_true(o[i] == p[i]);
    double t[2] = {0.02, 0.02};
    assert_int_equal(strata_p_adjust(t, 2, STRATA_CORRECTION_HOLM, t, &err), STRATA_OK);
    assert_true(fabs(t[0] - 0.04) < 1e-15 && fabs(t[1] - 0.04) < 1e-15);
    const double one[1] = {0.3};
    assert_int_equal(strata_p_adjust(one, 1, STRATA_CORRECTION_HOLM, o, &err), STRATA_OK);
    assert_true(o[0] == 0.3);
    const double bad[2] = {0.5, 1.5};
    assert_int_equal(strata_p_adjust(bad, 2, STRATA_CORRECTION_HOLM, o, &err), STRATA_EINVAL);
    assert_non_null(strstr(err.msg, "p[1] = 1.5 is not in [0, 1]"));
    const double nan[1] = {NAN};
    assert_int_equal(strata_p_adjust(nan, 1, STRATA_CORRECTION_BONFERRONI, o, &err), STRATA_EINVAL);
}

static void test_p_adjust_statsmodels(void **state) {
    (void)state;
    TU_REQUIRE_PY("numpy");
    const char *path = tu_join(tu_tmpdir(), "adjust.txt");
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    strata_rng r;
    strata_rng_seed(&r, 5, 0);
    strata_error err;
    for (int fam = 0; fam < 200; fam++) {
        int n = 1 + (int)strata_rng_below(&r, 12);
        double p[12], o[12];
        for (int i = 0; i < n; i++) {
            double u = strata_rng_uniform(&r);
            /* small values, ties, and values whose products pass 1 */
            p[i] = i > 0 && u < 0.2 ? p[i - 1] : u < 0.6 ? u * u * u * 0.2 : u;
        }
        const char *meth = fam % 2 ? "bonferroni" : "holm";
        assert_int_equal(strata_p_adjust(p, n, fam % 2 ? STRATA_CORRECTION_BONFERRONI
                                                       : STRATA_CORRECTION_HOLM, o, &err),
                         STRATA_OK);
        fprintf(f, "%s %d", meth, n);
        for (int i = 0; i < n; i++) fprintf(f, " %.17g", p[i]);
        for (int i = 0; i < n; i++) fprintf(f, " %.17g", o[i]);
        fputc('\n', f);
    }
    fclose(f);
    int rc = tu_sh("%s tests/ref/compare_ref.py adjust %s", tu_python(), path);
    print_message("%s%s", tu_last_out(), tu_last_err());
    assert_int_equal(rc, 0);
}

/* ------------------------------------------------------------------------ */
/* Student t                                                                 */
/* ------------------------------------------------------------------------ */

static void test_t_dist_scipy(void **state) {
    (void)state;
    /* properties that hold without scipy */
    assert_true(strata__t_p_two_sided(0.0, 10) == 1.0);
    assert_true(strata__t_p_two_sided(INFINITY, 10) == 0.0);
    assert_true(isnan(strata__t_p_two_sided(NAN, 10)));
    /* t with 1 df is Cauchy: 2 P(T >= t) = 1 - 2 atan(t) / pi */
    for (double t = 0.05; t < 100; t *= 1.7)
        assert_true(fabs(strata__t_p_two_sided(t, 1) - (1 - 2 * atan(t) / M_PI)) < 1e-14);
    /* 2 df: p = 1 - t / sqrt(2 + t^2) */
    for (double t = 0.05; t < 100; t *= 1.7)
        assert_true(fabs(strata__t_p_two_sided(t, 2) - (1 - t / sqrt(2 + t * t))) < 1e-14);
    assert_true(strata__t_p_two_sided(-2.5, 7) == strata__t_p_two_sided(2.5, 7));
    TU_REQUIRE_PY("scipy");
    const char *path = tu_join(tu_tmpdir(), "tdist.txt");
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    const double dfs[] = {1, 2, 3, 5, 9, 29, 39, 40, 41, 99, 299, 1000, 3451, 20000, 1e6};
    for (size_t i = 0; i < sizeof dfs / sizeof *dfs; i++)
        for (double t = 1e-4; t < 200; t *= 1.37)
            fprintf(f, "%.17g %.17g %.17g\n", t, dfs[i], strata__t_p_two_sided(t, dfs[i]));
    fclose(f);
    int rc = tu_sh("%s tests/ref/compare_ref.py tdist %s", tu_python(), path);
    print_message("%s%s", tu_last_out(), tu_last_err());
    assert_int_equal(rc, 0);
}

/* ------------------------------------------------------------------------ */
/* Extreme cases                                                             */
/* ------------------------------------------------------------------------ */

static void test_identical_runs(void **state) {
    (void)state;
    int64_t nq = 80;
    strata_metrics *a = make_metrics(nq, 0.5, 1);
    strata_metrics *c = malloc((size_t)nq * sizeof *c);
    memcpy(c, a, (size_t)nq * sizeof *c);
    for (int64_t q = 0; q < nq; q += 3) c[q].ndcg10 = nextafter(c[q].ndcg10, 2.0); /* 1 ulp */
    const strata_metrics *pa[1] = {a}, *pc[1] = {c};
    strata_compare_group g[3] = {group1("a", pa), group1("b", pa), group1("c", pc)};
    strata_compare_params p = strata_compare_default_params();
    p.metrics = STRATA_METRICS_ALL;
    strata_compare_result r;
    strata_error err;
    assert_int_equal(strata_compare(g, 3, nq, NULL, &p, &r, &err), STRATA_OK);
    assert_int_equal(r.n_pairs, 2);
    for (int i = 0; i < r.n_metrics * r.n_pairs; i++) {
        const strata_compare_pair_stats *s = &r.pairs[i];
        assert_true(s->diff == 0.0);
        assert_true(s->ci_lo == 0.0 && s->ci_hi == 0.0);
        assert_true(s->p == 1.0 && s->p_adj == 1.0);
        assert_true(s->p_t == 1.0 && s->t == 0.0 && s->effect == 0.0);
        assert_int_equal(s->n_tied, nq);
    }
    strata_compare_result_free(&r);
    strata_compare_result_free(&r); /* twice: a freed result is zeroed */
    free(a);
    free(c);
}

/* b = a + delta(q) with delta > 0 on every query. */
static void strictly_better(int64_t nq, int64_t P, int exact) {
    strata_metrics *a = make_metrics(nq, 0.3, 1);
    strata_metrics *b = malloc((size_t)nq * sizeof *b);
    for (int64_t q = 0; q < nq; q++) {
        b[q] = a[q];
        b[q].ndcg10 += 0.01 + 0.001 * (double)(q % 7);
    }
    const strata_metrics *pa[1] = {a}, *pb[1] = {b};
    strata_compare_group g[2] = {group1("a", pa), group1("b", pb)};
    strata_compare_params p = strata_compare_default_params();
    p.metrics = STRATA_METRIC_BIT(STRATA_METRIC_NDCG10);
    p.n_permutations = P;
    strata_compare_result r;
    strata_error err;
    assert_int_equal(strata_compare(g, 2, nq, NULL, &p, &r, &err), STRATA_OK);
    const strata_compare_pair_stats *s = strata_compare_get_pair(&r, STRATA_METRIC_NDCG10, 0, 1);
    assert_non_null(s);
    assert_null(strata_compare_get_pair(&r, STRATA_METRIC_NDCG10, 1, 0));
    assert_null(strata_compare_get_pair(&r, STRATA_METRIC_MAP100, 0, 1));
    assert_int_equal(s->p_exact, exact);
    /* only the all-plus and all-minus sign vectors reach |T| */
    double pmin = exact ? 2.0 / (double)(1ll << nq) : 1.0 / (double)(P + 1);
    print_message("NQ %lld: p %.6g, minimum %.6g\n", (long long)nq, s->p, pmin);
    assert_true(fabs(s->p - pmin) < 1e-15);
    assert_int_equal(s->n_better, nq);
    assert_true(s->ci_lo > 0.0 && s->ci_lo >= 0.01 - 1e-12 && s->ci_hi <= 0.016 + 1e-12);
    assert_true(s->diff > 0 && s->p_t < 1e-6);
    strata_compare_result_free(&r);
    free(a);
    free(b);
}

static void test_strictly_better(void **state) {
    (void)state;
    strictly_better(50, 10000, 0);
    strictly_better(8, 10000, 1);
    strictly_better(12, 4096, 1);
}

/* ------------------------------------------------------------------------ */
/* Seeds, determinism, threads                                               */
/* ------------------------------------------------------------------------ */

static void test_seed_pooling(void **state) {
    (void)state;
    int64_t nq = 150;
    strata_metrics *base = make_metrics(nq, 0.4, 9);
    strata_metrics *s[3] = {make_metrics(nq, 0.5, 1), make_metrics(nq, 0.55, 2),
                            make_metrics(nq, 0.45, 3)};
    strata_metrics *mean = calloc((size_t)nq, sizeof *mean);
    for (int64_t q = 0; q < nq; q++) {
        mean[q].n = 1;
        mean[q].ndcg10 = (s[0][q].ndcg10 + s[1][q].ndcg10 + s[2][q].ndcg10) / 3;
        mean[q].recall100 = (s[0][q].recall100 + s[1][q].recall100 + s[2][q].recall100) / 3;
    }
    const strata_metrics *pb[1] = {base}, *ps[3] = {s[0], s[1], s[2]}, *pm[1] = {mean};
    strata_compare_group g3[2] = {group1("base", pb), {"x", 3, ps}};
    strata_compare_group g1[2] = {group1("base", pb), group1("x", pm)};
    strata_compare_result r3, r1;
    strata_error err;
    assert_int_equal(strata_compare(g3, 2, nq, NULL, NULL, &r3, &err), STRATA_OK);
    assert_int_equal(strata_compare(g1, 2, nq, NULL, NULL, &r1, &err), STRATA_OK);
    assert_int_equal(r3.n_metrics, 2); /* defaults: ndcg@10, recall@100 */
    for (int i = 0; i < 2; i++) expect_same_pair(&r3.pairs[i], &r1.pairs[i]);
    const strata_compare_run_stats *x = strata_compare_get_run(&r3, STRATA_METRIC_NDCG10, 1);
    assert_int_equal(r3.n_seeds[1], 3);
    double sm[3], mu = 0, ss = 0;
    for (int j = 0; j < 3; j++) {
        double t = 0;
        for (int64_t q = 0; q < nq; q++) t += s[j][q].ndcg10;
        sm[j] = t / (double)nq;
        assert_true(fabs(x->seed_means[j] - sm[j]) < 1e-13);
        mu += sm[j] / 3;
    }
    for (int j = 0; j < 3; j++) ss += (sm[j] - mu) * (sm[j] - mu);
    assert_true(fabs(x->seed_sd - sqrt(ss / 2)) < 1e-13);
    assert_true(fabs(x->mean - mu) < 1e-13);
    assert_true(strata_compare_get_run(&r3, STRATA_METRIC_NDCG10, 0)->seed_sd == 0.0);
    strata_compare_result_free(&r3);
    strata_compare_result_free(&r1);
    free(base);
    free(mean);
    for (int j = 0; j < 3; j++) free(s[j]);
}

static void test_threads_and_seed(void **state) {
    (void)state;
    int64_t nq = 333;
    strata_metrics *m[4] = {make_metrics(nq, 0.5, 1), make_metrics(nq, 0.52, 2),
                            make_metrics(nq, 0.49, 3), make_metrics(nq, 0.6, 4)};
    const strata_metrics *p0[1] = {m[0]}, *p1[2] = {m[1], m[2]}, *p2[1] = {m[3]};
    strata_compare_group g[3] = {group1("a", p0), {"b", 2, p1}, group1("c", p2)};
    strata_compare_params p = strata_compare_default_params();
    p.metrics = STRATA_METRICS_ALL;
    p.all_pairs = 1;
    p.n_bootstrap = 3001; /* not a multiple of the chunk */
    p.n_permutations = 2999;
    strata_compare_result r[4];
    strata_error err;
    int saved = strata_get_threads();
    for (int t = 1; t <= 3; t++) {
        strata_set_threads(t);
        assert_int_equal(strata_compare(g, 3, nq, NULL, &p, &r[t - 1], &err), STRATA_OK);
    }
    strata_set_threads(saved);
    p.seed = 2;
    assert_int_equal(strata_compare(g, 3, nq, NULL, &p, &r[3], &err), STRATA_OK);
    int n = r[0].n_metrics * r[0].n_pairs, moved = 0;
    assert_int_equal(n, 5 * 3);
    for (int t = 1; t < 3; t++) {
        for (int i = 0; i < n; i++) expect_same_pair(&r[0].pairs[i], &r[t].pairs[i]);
        for (int i = 0; i < r[0].n_metrics * 3; i++) {
            assert_true(r[0].runs[i].ci_lo == r[t].runs[i].ci_lo);
            assert_true(r[0].runs[i].ci_hi == r[t].runs[i].ci_hi);
        }
    }
    for (int i = 0; i < n; i++) {
        /* another seed: same exact parts, other Monte Carlo draws */
        assert_true(r[3].pairs[i].diff == r[0].pairs[i].diff);
        assert_true(r[3].pairs[i].p_t == r[0].pairs[i].p_t);
        moved += r[3].pairs[i].ci_lo != r[0].pairs[i].ci_lo;
    }
    assert_true(moved > n / 2);
    for (int i = 0; i < 4; i++) strata_compare_result_free(&r[i]);
    for (int i = 0; i < 4; i++) free(m[i]);
}

/* ------------------------------------------------------------------------ */
/* Bad arguments                                                             */
/* ------------------------------------------------------------------------ */

#define EXPECT_ERR(call, needle)                                                        \
    do {                                                                                \
        assert_int_equal((call), STRATA_EINVAL);                                        \
        if (!strstr(err.msg, (needle))) fail_msg("'%s' lacks '%s'", err.msg, (needle)); \
    } while (0)

static void test_bad_arguments(void **state) {
    (void)state;
    int64_t nq = 5;
    strata_metrics *a = make_metrics(nq, 0.5, 1), *b = make_metrics(nq, 0.5, 2);
    const strata_metrics *pa[1] = {a}, *pb[1] = {b};
    const char *ids[5] = {"q1", "q2", "q3", "q4", "q5"};
    strata_compare_group g[2] = {group1("a", pa), group1("b", pb)};
    strata_compare_result r;
    strata_error err;
    EXPECT_ERR(strata_compare(g, 1, nq, ids, NULL, &r, &err), "need at least 2 runs (got 1)");
    g[1].name = "a";
    EXPECT_ERR(strata_compare(g, 2, nq, ids, NULL, &r, &err), "duplicate run name \"a\"");
    g[1].name = "";
    EXPECT_ERR(strata_compare(g, 2, nq, ids, NULL, &r, &err), "run 2 has no name");
    g[1].name = "b";
    g[1].n_seeds = 0;
    EXPECT_ERR(strata_compare(g, 2, nq, ids, NULL, &r, &err), "run \"b\" has no seeds");
    g[1].n_seeds = 1;
    b[2].n = 0;
    EXPECT_ERR(strata_compare(g, 2, nq, ids, NULL, &r, &err),
               "query \"q3\" is judged in run \"a\" (seed 1) but not in run \"b\" (seed 1)");
    b[2].n = 1;
    b[3].recall100 = NAN;
    EXPECT_ERR(strata_compare(g, 2, nq, ids, NULL, &r, &err),
               "run \"b\" seed 1, query \"q4\": recall@100 is not a finite number");
    b[3].recall100 = 0.5;
    for (int q = 1; q < 5; q++) a[q].n = b[q].n = 0;
    EXPECT_ERR(strata_compare(g, 2, nq, ids, NULL, &r, &err), "1 judged query in common");
    for (int q = 1; q < 5; q++) a[q].n = b[q].n = 1;
    strata_compare_params p = strata_compare_default_params();
    p.metrics = 0;
    EXPECT_ERR(strata_compare(g, 2, nq, ids, &p, &r, &err), "selects no known metric");
    p = strata_compare_default_params();
    p.n_bootstrap = 0;
    EXPECT_ERR(strata_compare(g, 2, nq, ids, &p, &r, &err), "must be >= 1");
    p = strata_compare_default_params();
    p.confidence = 1.0;
    EXPECT_ERR(strata_compare(g, 2, nq, ids, &p, &r, &err), "confidence 1 is not in (0, 1)");
    p = strata_compare_default_params();
    p.baseline = 2;
    EXPECT_ERR(strata_compare(g, 2, nq, ids, &p, &r, &err), "baseline 2 is not a run");
    p = strata_compare_default_params();
    int pairs[2] = {1, 1};
    p.pairs = pairs;
    p.n_pairs = 1;
    EXPECT_ERR(strata_compare(g, 2, nq, ids, &p, &r, &err), "pair 0 is (1, 1)");
    /* the good call after all that, with an explicit reversed pair */
    pairs[0] = 1;
    pairs[1] = 0;
    assert_int_equal(strata_compare(g, 2, nq, ids, &p, &r, &err), STRATA_OK);
    assert_int_equal(r.pairs[0].a, 1);
    assert_int_equal(r.params.baseline, -1);
    char *t = strata_compare_table(&r, 1);
    assert_non_null(t);
    assert_non_null(strstr(t, "a - b"));
    assert_non_null(strstr(t, "t-test p"));
    strata_free(t);
    strata_compare_result_free(&r);
    free(a);
    free(b);
}

/* ------------------------------------------------------------------------ */
/* Against the numpy/scipy reference, through the CLI                        */
/* ------------------------------------------------------------------------ */

/* Writes m [nq] as a metrics JSON (the format of strata eval --out) with
 * ids "q<i>"; values with 17 digits (exact). */
static void write_metrics_json(const char *path, const strata_metrics *m, int64_t nq) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "{\"mean\": {}, \"per_query\": {\n");
    for (int64_t q = 0; q < nq; q++)
        fprintf(f, "  \"q%lld\": {\"ndcg@10\": %.17g, \"recall@10\": %.17g, \"recall@100\": %.17g, "
                   "\"mrr@10\": %.17g, \"map@100\": %.17g}%s\n",
                (long long)q, m[q].ndcg10, m[q].recall10, m[q].recall100, m[q].mrr10, m[q].map100,
                q + 1 < nq ? "," : "");
    fprintf(f, "}}\n");
    fclose(f);
}

/* Runs A (3 seeds), B (1), C (2) of nq random queries through `strata
 * compare` with extra options, then compare_ref.py stats. */
static void ref_case(const char *tag, int64_t nq, const char *opts, const char *ref_opts) {
    TU_REQUIRE_PY("scipy");
    const char *dir = tu_tmpdir();
    const double level[6] = {0.5, 0.52, 0.48, 0.58, 0.47, 0.5};
    char spec[3][2048];
    const int seeds[3] = {3, 1, 2};
    int k = 0;
    for (int g = 0; g < 3; g++) {
        int n = snprintf(spec[g], sizeof spec[g], "%c=", 'A' + g);
        for (int s = 0; s < seeds[g]; s++, k++) {
            char name[64];
            snprintf(name, sizeof name, "%s_%c%d.json", tag, 'A' + g, s);
            strata_metrics *m = make_metrics(nq, level[k], 100 + (uint64_t)k);
            write_metrics_json(tu_join(dir, name), m, nq);
            free(m);
            n += snprintf(spec[g] + n, sizeof spec[g] - (size_t)n, "%s%s", s ? "," : "",
                          tu_join(dir, name));
        }
    }
    const char *out = tu_join(dir, "ref_out.json");
    char outp[1024];
    snprintf(outp, sizeof outp, "%s", out);
    assert_int_equal(tu_sh("%s compare --quiet --metric all --ttest %s --out %s %s %s %s", tu_strata(),
                           opts, outp, spec[0], spec[1], spec[2]),
                     0);
    int rc = tu_sh("%s tests/ref/compare_ref.py stats %s %s %s %s %s", tu_python(), outp,
                   ref_opts, spec[0], spec[1], spec[2]);
    print_message("%s: %s%s", tag, tu_last_out(), tu_last_err());
    assert_int_equal(rc, 0);
}

static void test_ref_baseline_holm(void **state) {
    (void)state;
    ref_case("base", 120, "", "");
}

static void test_ref_all_pairs_bonferroni(void **state) {
    (void)state;
    ref_case("pairs", 200, "--all-pairs --correction bonferroni --across-metrics --seed 7 "
             "--bootstrap 4000 --permutations 6000 --confidence 0.9", "--all-pairs");
}

static void test_ref_exact_small(void **state) {
    (void)state;
    /* 9 queries: 2^9 = 512 <= 10000 sign vectors, enumerated (as scipy does) */
    ref_case("small", 9, "--baseline B", "");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_p_adjust_hand),
        cmocka_unit_test(test_p_adjust_statsmodels),
        cmocka_unit_test(test_t_dist_scipy),
        cmocka_unit_test(test_identical_runs),
        cmocka_unit_test(test_strictly_better),
        cmocka_unit_test(test_seed_pooling),
        cmocka_unit_test(test_threads_and_seed),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_ref_baseline_holm),
        cmocka_unit_test(test_ref_all_pairs_bonferroni),
        cmocka_unit_test(test_ref_exact_small),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
