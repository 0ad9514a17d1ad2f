/*
 * test_kmeans.c — the clustering engine and `strata cluster`.
 *
 * References nobody here wrote: a numpy float64 Lloyd (tests/ref/
 * kmeans_lloyd.py) for the assignments from given initial centroids, brute
 * force O(n^2) pairwise cosines for Merrick's statistic, and the k-means
 * properties FAISS's own tests check (objective never gets worse, more
 * centroids give a better objective). Plus the naive reference kernel, thread
 * and MPI determinism, and bad input.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "strata/io.h"
#include "strata/kmeans.h"
#include "kmeans/kmeans_internal.h"
#include "testutil.h"

/* ------------------------------------------------------------------------ */
/* Data helpers                                                              */
/* ------------------------------------------------------------------------ */

/* Clustered data: `nc` random centers, rows = center + noise * gaussian. */
static float *make_data(int64_t n, int64_t d, int nc, double noise, uint64_t seed) {
    strata_rng r;
    strata_rng_seed(&r, seed, 0);
    float *c = malloc(sizeof(float) * (size_t)(nc * d));
    for (int64_t i = 0; i < nc * d; i++) c[i] = (float)strata_rng_normal(&r);
    float *x = malloc(sizeof(float) * (size_t)(n * d));
    for (int64_t i = 0; i < n; i++) {
        int k = (int)strata_rng_below(&r, (uint64_t)nc);
        for (int64_t j = 0; j < d; j++)
            x[i * d + j] = c[k * d + j] + (float)(noise * strata_rng_normal(&r));
    }
    free(c);
    return x;
}

static strata_kmeans_input input1(const float *x, int64_t n, int64_t d) {
    strata_kmeans_input in;
    memset(&in, 0, sizeof in);
    in.n_global = in.n_local = n;
    in.nparts = 1;
    in.x[0] = x;
    in.dim[0] = d;
    return in;
}

static void save_f32(const char *path, const float *x, int64_t n, int64_t d) {
    strata_error err;
    int64_t shape[2] = {n, d};
    assert_int_equal(strata_npy_save(path, STRATA_DTYPE_F32, 2, shape, x, &err), STRATA_OK);
}

static int32_t *load_i32(const char *path, int64_t *n) {
    strata_npy a;
    strata_error err;
    if (strata_npy_load(&a, path, &err) != STRATA_OK) fail_msg("%s", err.msg);
    assert_int_equal(a.dtype, STRATA_DTYPE_I32);
    int32_t *v = malloc(sizeof(int32_t) * (size_t)a.count);
    memcpy(v, a.data, sizeof(int32_t) * (size_t)a.count);
    *n = a.count;
    strata_npy_free(&a);
    return v;
}

static cJSON *load_json(const char *path) {
    char *s = tu_read(path, NULL);
    assert_non_null(s);
    cJSON *j = cJSON_Parse(s);
    free(s);
    assert_non_null(j);
    return j;
}

static int files_equal(const char *a, const char *b) {
    size_t la, lb;
    char *x = tu_read(a, &la), *y = tu_read(b, &lb);
    int eq = x && y && la == lb && memcmp(x, y, la) == 0;
    free(x);
    free(y);
    return eq;
}

/* ------------------------------------------------------------------------ */
/* Fast kernel vs naive reference vs numpy                                   */
/* ------------------------------------------------------------------------ */

static void check_vs_naive(int nparts, int bounds, int K, int64_t D, int nc, double noise) {
    enum { N = 3001, IT = 20 };
    float *x = make_data(N, D, nc, noise, 7);
    float *y = make_data(N, D, nc, noise, 8);
    strata_kmeans_input in = input1(x, N, D);
    if (nparts == 2) {
        in.nparts = 2;
        in.x[1] = y;
        in.dim[1] = D;
    }
    int64_t dt = D * nparts;
    float *c0 = malloc(sizeof(float) * K * (size_t)dt);
    for (int k = 0; k < K; k++)
        for (int p = 0; p < nparts; p++)
            memcpy(c0 + k * dt + p * D, (p ? y : x) + (size_t)(k * 97 % N) * D, sizeof(float) * D);
    float *c1 = malloc(sizeof(float) * K * (size_t)dt), *c2 = malloc(sizeof(float) * K * (size_t)dt);
    memcpy(c1, c0, sizeof(float) * K * (size_t)dt);
    memcpy(c2, c0, sizeof(float) * K * (size_t)dt);
    int32_t *a1 = malloc(sizeof(int32_t) * N), *a2 = malloc(sizeof(int32_t) * N);
    strata_error err;
    strata_kmeans_iter it[IT + 1];
    int nit = 0;
    assert_int_equal(strata_kmeans_lloyd(c1, a1, &in, K, IT, bounds, 0, it, &nit, &err), STRATA_OK);
    double obj;
    assert_int_equal(strata_kmeans_lloyd_naive(c2, a2, &in, K, IT, &obj, &err), STRATA_OK);
    /* Exact: both decide every row by the same double-precision scores. */
    assert_memory_equal(a1, a2, sizeof(int32_t) * N);
    /* Centroids: fixed-point (2^-31) vs double sums, both rounded to float;
     * a few float ulps apart at most. */
    for (int64_t i = 0; i < K * dt; i++) assert_true(fabsf(c1[i] - c2[i]) < 1e-6f);
    assert_true(nit >= 2);
    /* the pruning did engage: some later pass scored only a few rows in full */
    int64_t least = N;
    for (int i = 1; i < nit; i++)
        if (it[i].scored < least) least = it[i].scored;
    if (bounds) assert_true(least < N / 4);
    else assert_int_equal(least, N);
    free(x), free(y), free(c0), free(c1), free(c2), free(a1), free(a2);
}

static void test_fast_vs_naive_spherical(void **s) { (void)s; check_vs_naive(1, 1, 17, 37, 12, 0.9); }
static void test_fast_vs_naive_asymmetric(void **s) { (void)s; check_vs_naive(2, 1, 17, 37, 12, 0.9); }
static void test_fast_vs_naive_no_bounds(void **s) { (void)s; check_vs_naive(1, 0, 17, 37, 12, 0.9); }
/* K = 64 in two dimensions with fuzzy clusters: many near ties, centroids
 * overtaking each other, so the candidate lists and the moved set decide; with and without AVX2 */
static void test_fast_vs_naive_many(void **s) {
    (void)s;
    check_vs_naive(1, 1, 64, 2, 20, 0.2);
    check_vs_naive(2, 1, 64, 2, 20, 0.2);
    check_vs_naive(1, 0, 64, 2, 20, 0.2);
    /* more clusters than the candidate list and the moved set hold, over a
     * grid of shapes: the skipped low scores and the bound on the rows'
     * non-candidates decide here */
    for (int kk = 32; kk <= 512; kk *= 4)
        for (int dd = 2; dd <= 8; dd *= 4)
            for (double nz = 0.3; nz < 1; nz *= 3) check_vs_naive(1, 1, kk, dd, kk / 2 + 1, nz);
    /* the same through the SSE candidate scores */
    strata__kmeans_set_simd(0);
    check_vs_naive(1, 1, 64, 2, 20, 0.2);
    check_vs_naive(1, 1, 17, 37, 12, 0.9);
    strata__kmeans_set_simd(1);
}

/* Same assignments as numpy's float64 Lloyd from the same initial centroids. */
static void check_vs_numpy(int nparts) {
    TU_REQUIRE_PY("numpy");
    enum { N = 2000, D = 24, K = 9, IT = 10 };
    const char *dir = tu_tmpdir();
    float *x = make_data(N, D, 8, 0.7, 11), *y = make_data(N, D, 8, 0.7, 12);
    int64_t dt = D * nparts;
    float *c = malloc(sizeof(float) * K * (size_t)dt);
    for (int k = 0; k < K; k++)
        for (int p = 0; p < nparts; p++)
            memcpy(c + k * dt + p * D, (p ? y : x) + (size_t)(k * 131) * D, sizeof(float) * D);
    save_f32(tu_join(dir, "x.npy"), x, N, D);
    save_f32(tu_join(dir, "y.npy"), y, N, D);
    save_f32(tu_join(dir, "init.npy"), c, K, dt);
    assert_int_equal(tu_sh("%s tests/ref/kmeans_lloyd.py %s %s %s %d %s %s", tu_python(),
                           tu_join(dir, "x.npy"), nparts == 2 ? tu_join(dir, "y.npy") : "-",
                           tu_join(dir, "init.npy"), IT, tu_join(dir, "ra.npy"),
                           tu_join(dir, "rc.npy")),
                     0);
    strata_kmeans_input in = input1(x, N, D);
    if (nparts == 2) {
        in.nparts = 2;
        in.x[1] = y;
        in.dim[1] = D;
    }
    int32_t *a = malloc(sizeof(int32_t) * N);
    strata_error err;
    int nit;
    assert_int_equal(strata_kmeans_lloyd(c, a, &in, K, IT, 1, 0, NULL, &nit, &err), STRATA_OK);
    int64_t n;
    int32_t *ra = load_i32(tu_join(dir, "ra.npy"), &n);
    assert_int_equal(n, N);
    /* Exact equality: the data has no near-ties at float precision. */
    assert_memory_equal(a, ra, sizeof(int32_t) * N);
    strata_mat rc;
    assert_int_equal(strata_mat_load(&rc, tu_join(dir, "rc.npy"), &err), STRATA_OK);
    /* float32 vs float64 centroid arithmetic: 1e-5 absolute per component */
    for (int64_t i = 0; i < K * dt; i++) assert_true(fabsf(rc.data[i] - c[i]) < 1e-5f);
    strata_mat_free(&rc);
    free(x), free(y), free(c), free(a), free(ra);
}

static void test_vs_numpy_spherical(void **s) { (void)s; check_vs_numpy(1); }
static void test_vs_numpy_asymmetric(void **s) { (void)s; check_vs_numpy(2); }

/* ------------------------------------------------------------------------ */
/* Properties                                                                */
/* ------------------------------------------------------------------------ */

static void test_objective_never_worse(void **s) {
    (void)s;
    enum { N = 5000, D = 16, K = 40 };
    float *x = make_data(N, D, 25, 1.2, 3);
    strata_kmeans_input in = input1(x, N, D);
    strata_kmeans_params p = strata_kmeans_default_params();
    p.k = K;
    p.niter = 30;
    p.init = STRATA_KMEANS_INIT_RANDOM;
    strata_kmeans_result r;
    strata_error err;
    assert_int_equal(strata_kmeans_fit(&r, &in, &p, &err), STRATA_OK);
    const strata_kmeans_run *u = &r.runs[0];
    assert_true(u->n_iter >= 5);
    /* The objective is a similarity (sum of cosines): it must not decrease.
     * Slack 1e-9 relative for the double evaluation of the objective. */
    for (int i = 1; i < u->n_iter; i++)
        assert_true(u->iters[i].objective >= u->iters[i - 1].objective * (1 - 1e-9));
    /* the final objective is no worse than the last iteration's */
    assert_true(r.objective >= u->iters[u->n_iter - 1].objective * (1 - 1e-9));
    strata_kmeans_result_free(&r);
    free(x);
}

/* k-means++ on well-separated tight clusters draws one seed per cluster
 * (D^2 sampling makes a second seed in a cluster that already has one
 * ~1e-3 as likely as one in an empty cluster); random rows leave some
 * clusters without a seed, which one Lloyd step cannot repair. Both k-means++
 * kernels: half-precision sample (AVX2 + F16C) and float sgemv. */
static double seeded_objective(strata_kmeans_init init, int simd) {
    enum { N = 4000, D = 37, K = 24 };
    float *x = make_data(N, D, K, 0.03, 17);
    strata_kmeans_input in = input1(x, N, D);
    strata_kmeans_params p = strata_kmeans_default_params();
    p.k = K;
    p.niter = 1;
    p.init = init;
    strata_kmeans_result r;
    strata_error err;
    strata__kmeans_set_simd(simd);
    assert_int_equal(strata_kmeans_fit(&r, &in, &p, &err), STRATA_OK);
    strata__kmeans_set_simd(1);
    double mean = r.objective / N;
    strata_kmeans_result_free(&r);
    free(x);
    return mean;
}

static void test_kmeanspp_one_seed_per_cluster(void **s) {
    (void)s;
    /* rows sit at cosine ~0.998 to their cluster's mean, ~0.2 to others */
    assert_true(seeded_objective(STRATA_KMEANS_INIT_PP, 1) > 0.99);
    assert_true(seeded_objective(STRATA_KMEANS_INIT_PP, 0) > 0.99);
    assert_true(seeded_objective(STRATA_KMEANS_INIT_RANDOM, 1) < 0.97);
}

static void test_more_clusters_better(void **s) {
    (void)s;
    enum { N = 4000, D = 12 };
    float *x = make_data(N, D, 30, 1.0, 5);
    strata_kmeans_input in = input1(x, N, D);
    double prev = -1;
    int ks[] = {2, 8, 32, 128};
    for (int i = 0; i < 4; i++) {
        strata_kmeans_params p = strata_kmeans_default_params();
        p.k = ks[i];
        strata_kmeans_result r;
        strata_error err;
        assert_int_equal(strata_kmeans_fit(&r, &in, &p, &err), STRATA_OK);
        assert_true(r.objective > prev);
        prev = r.objective;
        strata_kmeans_result_free(&r);
    }
    free(x);
}

/* Repaired empty clusters jump across the space (the largest drifts by far):
 * the pruned run must still follow plain Lloyd exactly, which needs the
 * moved-set test to score the jumpers. */
static void test_bounds_follow_repair_jumps(void **s) {
    (void)s;
    enum { N = 3001, D = 4, K = 64, IT = 15 };
    float *x = make_data(N, D, 30, 0.5, 21);
    for (int i = 0; i < N * D; i++) x[i] = fabsf(x[i]) + 0.01f; /* positive orthant */
    strata_kmeans_input in = input1(x, N, D);
    float *c1 = malloc(sizeof(float) * K * D), *c2 = malloc(sizeof(float) * K * D);
    for (int k = 0; k < K; k++)
        for (int j = 0; j < D; j++) /* 48 data rows, then 16 empty ones far away */
            c1[k * D + j] = k < 48 ? x[(size_t)(k * 61) * D + j] : -1.0f - 0.01f * (float)k * (float)j;
    memcpy(c2, c1, sizeof(float) * K * D);
    int32_t *a1 = malloc(sizeof(int32_t) * N), *a2 = malloc(sizeof(int32_t) * N);
    strata_kmeans_iter it[IT + 1];
    int n1 = 0, n2 = 0;
    strata_error err;
    assert_int_equal(strata_kmeans_lloyd(c1, a1, &in, K, IT, 1, 1, it, &n1, &err), STRATA_OK);
    assert_int_equal(strata_kmeans_lloyd(c2, a2, &in, K, IT, 0, 1, NULL, &n2, &err), STRATA_OK);
    assert_int_equal(n1, n2);
    assert_memory_equal(a1, a2, sizeof(int32_t) * N);
    assert_memory_equal(c1, c2, sizeof(float) * K * D);
    int64_t least = N;
    for (int i = 1; i < n1; i++)
        if (it[i].scored < least) least = it[i].scored;
    assert_true(least < N); /* the bounds did skip rows */
    free(x), free(c1), free(c2), free(a1), free(a2);
}

static void test_empty_cluster_repair(void **s) {
    (void)s;
    enum { N = 600, D = 8, K = 4 };
    float *x = make_data(N, D, 4, 0.3, 9);
    strata_kmeans_input in = input1(x, N, D);
    /* rows in the positive orthant, centroid 1 in the negative one: no row
     * ever prefers it, so it stays empty unless repaired */
    for (int i = 0; i < N * D; i++) x[i] = fabsf(x[i]) + 0.01f;
    float c[K * D], c2[K * D];
    memcpy(c, x, sizeof(float) * D);
    for (int j = 0; j < D; j++) c[D + j] = -1.0f;
    memcpy(c + 2 * D, x + 200 * D, sizeof(float) * D);
    memcpy(c + 3 * D, x + 400 * D, sizeof(float) * D);
    memcpy(c2, c, sizeof c);
    int32_t a[N];
    strata_error err;
    int nit;
    assert_int_equal(strata_kmeans_lloyd(c, a, &in, K, 10, 1, 0, NULL, &nit, &err), STRATA_OK);
    int cnt[K] = {0};
    for (int i = 0; i < N; i++) cnt[a[i]]++;
    assert_int_equal(cnt[1], 0); /* no repair: stays empty */
    assert_int_equal(strata_kmeans_lloyd(c2, a, &in, K, 10, 1, 1, NULL, &nit, &err), STRATA_OK);
    memset(cnt, 0, sizeof cnt);
    for (int i = 0; i < N; i++) cnt[a[i]]++;
    for (int k = 0; k < K; k++) assert_true(cnt[k] > 0); /* repaired by splitting */
    free(x);
}

static void test_all_identical(void **s) {
    (void)s;
    enum { N = 200, D = 5, K = 6 };
    float x[N * D];
    for (int i = 0; i < N; i++)
        for (int j = 0; j < D; j++) x[i * D + j] = (float)(j + 1);
    strata_kmeans_input in = input1(x, N, D);
    strata_kmeans_params p = strata_kmeans_default_params();
    p.k = K;
    p.max_cluster_size = 50; /* 2-means cannot separate: falls back to halves */
    strata_kmeans_result r;
    strata_error err;
    assert_int_equal(strata_kmeans_fit(&r, &in, &p, &err), STRATA_OK);
    int64_t tot = 0;
    for (int c = 0; c < r.k; c++) {
        tot += r.size[c];
        assert_true(r.size[c] <= 50);
    }
    assert_int_equal(tot, N);
    for (int i = 0; i < N; i++) assert_true(r.assign[i] >= 0 && r.assign[i] < r.k);
    /* every row sits on its centroid: cosine 1 */
    assert_true(fabs(r.objective - N) < 1e-4);
    strata_kmeans_result_free(&r);
}

/* Many splits: 6000 rows in 10 clusters cut down to <= 100 rows each push
 * far more clusters through the split queue than the cluster table held at
 * the start (issue #15: the queue overflowed its buffer, heap corruption). */
static void test_split_many_small(void **s) {
    (void)s;
    enum { N = 6000, D = 16, K = 10, S = 100 };
    float *x = make_data(N, D, 10, 1.0, 37);
    strata_kmeans_input in = input1(x, N, D);
    strata_kmeans_params p = strata_kmeans_default_params();
    p.k = K;
    p.max_cluster_size = S;
    strata_kmeans_result r;
    strata_error err;
    assert_int_equal(strata_kmeans_fit(&r, &in, &p, &err), STRATA_OK);
    assert_true(r.k >= N / S);
    int64_t *cnt = calloc((size_t)r.k, sizeof *cnt);
    for (int i = 0; i < N; i++) {
        assert_true(r.assign[i] >= 0 && r.assign[i] < r.k);
        cnt[r.assign[i]]++;
    }
    for (int c = 0; c < r.k; c++) {
        assert_int_equal(cnt[c], r.size[c]);
        assert_true(r.size[c] <= S);
    }
    free(cnt);
    strata_kmeans_result_free(&r);
    free(x);
}

/* ------------------------------------------------------------------------ */
/* Out of memory is a status, never a silent change of result                */
/* ------------------------------------------------------------------------ */

/* An allocator that fails the n-th allocation (fail_at, 1-based; 0: none)
 * and any single request above big_limit bytes (0: none). */
static struct {
    long count, fail_at;
    size_t big_limit;
} g_oom;

static void *oom_malloc(size_t n, void *ud) {
    (void)ud;
    long c = __atomic_add_fetch(&g_oom.count, 1, __ATOMIC_RELAXED);
    if ((g_oom.fail_at && c == g_oom.fail_at) || (g_oom.big_limit && n > g_oom.big_limit)) return NULL;
    return malloc(n);
}
static void *oom_realloc(void *p, size_t n, void *ud) {
    (void)ud;
    long c = __atomic_add_fetch(&g_oom.count, 1, __ATOMIC_RELAXED);
    if ((g_oom.fail_at && c == g_oom.fail_at) || (g_oom.big_limit && n > g_oom.big_limit)) return NULL;
    return realloc(p, n);
}
static void oom_free(void *p, void *ud) {
    (void)ud;
    free(p);
}
static void oom_install(long fail_at, size_t big_limit) {
    g_oom.count = 0;
    g_oom.fail_at = fail_at;
    g_oom.big_limit = big_limit;
    strata_allocator a = {oom_malloc, oom_realloc, oom_free, NULL};
    strata_set_allocator(&a);
}

/* Every allocation of a fit that needs empty-cluster repair (random init on
 * rows drawn from 3 distinct vectors: duplicate seeds leave clusters empty)
 * and splitting, failed in turn: each run either reports ENOMEM or returns
 * exactly the result of the run without failures (issue #15: a failed
 * allocation skipped the repair silently, another left the statistics'
 * permutation uninitialized). */
static void test_fit_every_allocation_failure(void **s) {
    (void)s;
    enum { N = 240, D = 6, K = 8 };
    float x[N * D];
    for (int i = 0; i < N; i++)
        for (int j = 0; j < D; j++) x[i * D + j] = (float)(1 + (j == i % 3) * 5 + j % 2);
    strata_kmeans_input in = input1(x, N, D);
    strata_kmeans_params p = strata_kmeans_default_params();
    p.k = K;
    p.init = STRATA_KMEANS_INIT_RANDOM;
    p.max_cluster_size = 30;
    p.nredo = 2;
    strata_kmeans_result ref, r;
    strata_error err;
    oom_install(0, 0);
    assert_int_equal(strata_kmeans_fit(&ref, &in, &p, &err), STRATA_OK);
    long total = g_oom.count;
    assert_true(total > 10);
    int failed = 0;
    for (long n = 1; n <= total; n++) {
        oom_install(n, 0);
        strata_status st = strata_kmeans_fit(&r, &in, &p, &err);
        strata_set_allocator(NULL);
        if (st != STRATA_OK) {
            if (st != STRATA_ENOMEM || !strstr(err.msg, "out of memory"))
                fail_msg("allocation %ld failed: status %d, \"%s\"", n, (int)st, err.msg);
            failed++;
            continue;
        }
        if (r.k != ref.k || memcmp(r.assign, ref.assign, sizeof(int32_t) * N) != 0 ||
            memcmp(r.centroids, ref.centroids, sizeof(float) * (size_t)ref.k * D) != 0)
            fail_msg("allocation %ld of %ld failed, yet the fit returned OK with another result", n,
                     total);
        strata_kmeans_result_free(&r);
    }
    assert_true(failed > 0);
    strata_kmeans_result_free(&ref);
}

/* Memory follows the iterations actually run, not --niter / --nredo: a
 * huge niter on data that converges in a few iterations needs no large
 * allocation (issue #15: 1e8 iterations allocated 6 GB up front). */
static void test_fit_huge_niter_small_memory(void **s) {
    (void)s;
    enum { N = 500, D = 8, K = 4 };
    float *x = make_data(N, D, 4, 0.2, 41);
    strata_kmeans_input in = input1(x, N, D);
    strata_kmeans_params p = strata_kmeans_default_params();
    p.k = K;
    p.niter = 2000000000;
    p.nredo = 3;
    strata_kmeans_result r;
    strata_error err;
    oom_install(0, (size_t)64 << 20); /* any single request above 64 MB fails */
    strata_status st = strata_kmeans_fit(&r, &in, &p, &err);
    strata_set_allocator(NULL);
    if (st) fail_msg("%s", err.msg);
    assert_int_equal(r.n_runs, 1);
    assert_true(r.runs[0].n_iter >= 1 && r.runs[0].n_iter < 1000);
    assert_int_equal(r.runs[0].nredo, 3);
    for (int q = 0; q < 3; q++) assert_true(r.runs[0].redo_objective[q] > 0);
    strata_kmeans_result_free(&r);
    free(x);
}

static void test_k1_and_kn(void **s) {
    (void)s;
    enum { N = 300, D = 7 };
    float *x = make_data(N, D, 3, 1.0, 13);
    strata_kmeans_input in = input1(x, N, D);
    strata_kmeans_params p = strata_kmeans_default_params();
    strata_kmeans_result r;
    strata_error err;
    p.k = 1;
    assert_int_equal(strata_kmeans_fit(&r, &in, &p, &err), STRATA_OK);
    double m[D] = {0}, nn = 0;
    for (int i = 0; i < N; i++) {
        assert_int_equal(r.assign[i], 0);
        double ss = 0;
        for (int j = 0; j < D; j++) ss += (double)x[i * D + j] * x[i * D + j];
        for (int j = 0; j < D; j++) m[j] += x[i * D + j] / sqrt(ss);
    }
    for (int j = 0; j < D; j++) nn += m[j] * m[j];
    /* centroid = normalized mean of the normalized rows (float rounding) */
    for (int j = 0; j < D; j++) assert_true(fabs(r.centroids[j] - m[j] / sqrt(nn)) < 1e-6);
    strata_kmeans_result_free(&r);
    p.k = N;
    assert_int_equal(strata_kmeans_fit(&r, &in, &p, &err), STRATA_OK);
    for (int c = 0; c < N; c++) assert_int_equal(r.size[c], 1);
    assert_true(fabs(r.objective - N) < 1e-3);
    strata_kmeans_result_free(&r);
    p.k = N + 1;
    assert_int_equal(strata_kmeans_fit(&r, &in, &p, &err), STRATA_EINVAL);
    assert_non_null(strstr(err.msg, "exceeds the number of rows"));
    free(x);
}

/* Merrick's statistic against brute force over all pairs. */
static void test_pairwise_cosine_stat(void **s) {
    (void)s;
    enum { N = 400, D = 10, K = 5 };
    float *x = make_data(N, D, 5, 0.8, 17);
    strata_kmeans_input in = input1(x, N, D);
    strata_kmeans_params p = strata_kmeans_default_params();
    p.k = K;
    strata_kmeans_result r;
    strata_error err;
    assert_int_equal(strata_kmeans_fit(&r, &in, &p, &err), STRATA_OK);
    for (int c = 0; c < K; c++) {
        double sum = 0, cc = 0;
        int64_t pairs = 0, n = 0;
        for (int i = 0; i < N; i++) {
            if (r.assign[i] != c) continue;
            n++;
            double ni = 0, dotc = 0, nc = 0;
            for (int j = 0; j < D; j++) {
                ni += (double)x[i * D + j] * x[i * D + j];
                dotc += (double)x[i * D + j] * r.centroids[c * D + j];
                nc += (double)r.centroids[c * D + j] * r.centroids[c * D + j];
            }
            cc += dotc / sqrt(ni * nc);
            for (int k = i + 1; k < N; k++) {
                if (r.assign[k] != c) continue;
                double dot = 0, nk = 0;
                for (int j = 0; j < D; j++) {
                    dot += (double)x[i * D + j] * x[k * D + j];
                    nk += (double)x[k * D + j] * x[k * D + j];
                }
                sum += dot / sqrt(ni * nk);
                pairs++;
            }
        }
        assert_int_equal(n, r.size[c]);
        /* float-normalized rows vs double: 1e-6 */
        assert_true(fabs(sum / (double)pairs - r.pairwise[c]) < 1e-6);
        assert_true(fabs(cc / (double)n - r.cos_centroid[c]) < 1e-6);
    }
    strata_kmeans_result_free(&r);
    free(x);
}

static void test_bad_rows(void **s) {
    (void)s;
    enum { N = 50, D = 4 };
    float *x = make_data(N, D, 2, 0.5, 19);
    strata_kmeans_input in = input1(x, N, D);
    strata_kmeans_params p = strata_kmeans_default_params();
    p.k = 3;
    strata_kmeans_result r;
    strata_error err;
    x[17 * D + 2] = NAN;
    assert_int_equal(strata_kmeans_fit(&r, &in, &p, &err), STRATA_EFORMAT);
    assert_string_equal(err.msg, "row 17: NaN in column 2");
    x[17 * D + 2] = 1;
    x[9 * D + 1] = INFINITY;
    assert_int_equal(strata_kmeans_fit(&r, &in, &p, &err), STRATA_EFORMAT);
    assert_string_equal(err.msg, "row 9: Inf in column 1");
    x[9 * D + 1] = 1;
    memset(x + 31 * D, 0, sizeof(float) * D);
    assert_int_equal(strata_kmeans_fit(&r, &in, &p, &err), STRATA_EFORMAT);
    assert_non_null(strstr(err.msg, "row 31: all-zero vector"));
    free(x);
}

/* ------------------------------------------------------------------------ */
/* The command                                                               */
/* ------------------------------------------------------------------------ */

static const char *g_dir;

static void cli_fixture(void) {
    if (g_dir) return;
    g_dir = strdup(tu_tmpdir());
    enum { N = 6000, D = 48 };
    float *x = make_data(N, D, 40, 1.0, 23), *y = make_data(N, D, 40, 1.0, 24);
    save_f32(tu_join(g_dir, "q.npy"), x, N, D);
    save_f32(tu_join(g_dir, "d.npy"), y, N, D);
    save_f32(tu_join(g_dir, "short.npy"), y, N - 1, D);
    /* pairs with 3 sources, in an interleaved order */
    FILE *f = fopen(tu_join(g_dir, "pairs.jsonl"), "w");
    assert_non_null(f);
    const char *src[3] = {"alpha", "beta", "gamma"};
    for (int i = 0; i < N; i++)
        fprintf(f, "{\"query\": \"q%d\", \"positive\": \"p%d\", \"source\": \"%s\"}\n", i, i,
                src[(i * 7 + i / 5) % 3]);
    fclose(f);
    free(x);
    free(y);
}

static void test_cli_threads_and_runs_identical(void **s) {
    (void)s;
    cli_fixture();
    const char *q = tu_join(g_dir, "q.npy");
    for (int t = 1; t <= 2; t++)
        for (int rep = 0; rep < (t == 1 ? 2 : 1); rep++) {
            char out[64];
            snprintf(out, sizeof out, "o_t%d_%d", t, rep);
            assert_int_equal(tu_sh("%s cluster --input %s --k 30 --threads %d --seed 5 --quiet --out %s",
                                   tu_strata(), q, t, tu_join(g_dir, out)),
                             0);
        }
    const char *names[] = {"assign.npy", "centroids.npy"};
    for (int i = 0; i < 2; i++) {
        char a[300], b[300], c[300];
        snprintf(a, sizeof a, "%s/o_t1_0/%s", g_dir, names[i]);
        snprintf(b, sizeof b, "%s/o_t1_1/%s", g_dir, names[i]);
        snprintf(c, sizeof c, "%s/o_t2_0/%s", g_dir, names[i]);
        assert_true(files_equal(a, b)); /* across runs with one seed */
        assert_true(files_equal(a, c)); /* 1 vs 2 threads */
    }
    /* plain Lloyd (no bounds) gives the same bytes */
    assert_int_equal(tu_sh("%s cluster --input %s --k 30 --threads 2 --seed 5 --no-bounds --quiet --out %s",
                           tu_strata(), q, tu_join(g_dir, "o_nb")),
                     0);
    char a[300], b[300];
    snprintf(a, sizeof a, "%s/o_t1_0/assign.npy", g_dir);
    snprintf(b, sizeof b, "%s/o_nb/assign.npy", g_dir);
    assert_true(files_equal(a, b));
    cJSON *j = load_json(tu_join(tu_join(g_dir, "o_t2_0"), "stats.json"));
    assert_int_equal(cJSON_GetObjectItem(j, "k")->valueint, 30);
    assert_int_equal(cJSON_GetObjectItem(j, "points_used")->valueint, 6000);
    cJSON *src = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "sources"), 0);
    assert_true(cJSON_GetArraySize(cJSON_GetObjectItem(src, "iterations")) >= 2);
    cJSON_Delete(j);
}

static void test_cli_mpi_equals_single(void **s) {
    (void)s;
    cli_fixture();
    if (tu_sh("command -v mpirun") != 0) {
        print_message("skipped: mpirun not installed\n");
        skip();
    }
    const char *q = tu_join(g_dir, "q.npy"), *d = tu_join(g_dir, "d.npy");
    /* Open MPI's own plugins leak at exit: LeakSanitizer off for these runs */
    const char *mpi = "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl=self,vader "
                      "mpirun --allow-run-as-root --oversubscribe -np 2";
    /* spherical, per source, with splitting and a training sample */
    const char *opt = "--k 7 --pairs %s --per-source --max-cluster-size 150 "
                      "--max-points-per-centroid 200 --threads 1 --quiet";
    char o1[2048];
    snprintf(o1, sizeof o1, opt, tu_join(g_dir, "pairs.jsonl"));
    assert_int_equal(tu_sh("%s cluster --input %s %s --out %s", tu_strata(), q, o1, tu_join(g_dir, "m1")), 0);
    int rc = tu_sh("%s %s cluster --input %s %s --out %s", mpi, tu_strata(), q, o1, tu_join(g_dir, "m2"));
    if (rc != 0) fail_msg("mpirun failed (%d): %s", rc, tu_last_err());
    char a[300], b[300];
    snprintf(a, sizeof a, "%s/m1/assign.npy", g_dir);
    snprintf(b, sizeof b, "%s/m2/assign.npy", g_dir);
    assert_true(files_equal(a, b));
    snprintf(a, sizeof a, "%s/m1/centroids.npy", g_dir);
    snprintf(b, sizeof b, "%s/m2/centroids.npy", g_dir);
    assert_true(files_equal(a, b));
    /* asymmetric */
    assert_int_equal(tu_sh("%s cluster --input %s --input2 %s --k 20 --threads 2 --quiet --out %s",
                           tu_strata(), q, d, tu_join(g_dir, "m3")),
                     0);
    rc = tu_sh("%s %s cluster --input %s --input2 %s --k 20 --threads 1 --quiet --out %s", mpi,
               tu_strata(), q, d, tu_join(g_dir, "m4"));
    if (rc != 0) fail_msg("mpirun failed (%d): %s", rc, tu_last_err());
    snprintf(a, sizeof a, "%s/m3/assign.npy", g_dir);
    snprintf(b, sizeof b, "%s/m4/assign.npy", g_dir);
    assert_true(files_equal(a, b));
    snprintf(a, sizeof a, "%s/m3/centroids.npy", g_dir);
    snprintf(b, sizeof b, "%s/m4/centroids.npy", g_dir);
    assert_true(files_equal(a, b));
}

static void test_cli_per_source_and_split(void **s) {
    (void)s;
    cli_fixture();
    const char *out = tu_join(g_dir, "ps");
    assert_int_equal(tu_sh("%s cluster --input %s --pairs %s --per-source --k 4 "
                           "--max-cluster-size 400 --quiet --out %s",
                           tu_strata(), tu_join(g_dir, "q.npy"), tu_join(g_dir, "pairs.jsonl"), out),
                     0);
    int64_t n;
    int32_t *a = load_i32(tu_join(out, "assign.npy"), &n);
    assert_int_equal(n, 6000);
    cJSON *j = load_json(tu_join(out, "stats.json"));
    int K = cJSON_GetObjectItem(j, "k")->valueint;
    assert_true(K > 12); /* 3 sources x 4, then splits of clusters > 400 */
    cJSON *cl = cJSON_GetObjectItem(j, "clusters");
    assert_int_equal(cJSON_GetArraySize(cl), K);
    int *size = calloc((size_t)K, sizeof *size);
    for (int i = 0; i < n; i++) {
        assert_true(a[i] >= 0 && a[i] < K);
        size[a[i]]++;
        /* every member of a cluster comes from the cluster's source */
        int want = (i * 7 + i / 5) % 3; /* source ids in order of first appearance */
        cJSON *c = cJSON_GetArrayItem(cl, a[i]);
        int src = cJSON_GetObjectItem(c, "source")->valueint;
        const char *nm = cJSON_GetObjectItem(c, "source_name")->valuestring;
        const char *names[3] = {"alpha", "beta", "gamma"};
        assert_string_equal(nm, names[want]);
        (void)src;
    }
    for (int c = 0; c < K; c++) {
        cJSON *o = cJSON_GetArrayItem(cl, c);
        assert_int_equal(cJSON_GetObjectItem(o, "size")->valueint, size[c]);
        assert_true(size[c] <= 400);
        double pw = cJSON_GetObjectItem(o, "mean_pairwise_cos")->valuedouble;
        double cc = cJSON_GetObjectItem(o, "mean_cos_centroid")->valuedouble;
        assert_true(pw > -1 && pw <= 1 && cc > 0 && cc <= 1);
        /* for unit rows: mean pairwise = (n (mean cos to centroid)^2 ... ) <= cc^2 * n/(n-1) */
        assert_true(pw <= cc * cc * size[c] / (size[c] - 1.0) + 1e-9);
    }
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "sources")), 3);
    free(size);
    free(a);
    cJSON_Delete(j);
    /* --cluster-size: K per source = ceil(n_s / S) */
    out = tu_join(g_dir, "cs");
    assert_int_equal(tu_sh("%s cluster --input %s --pairs %s --per-source --cluster-size 500 --quiet --out %s",
                           tu_strata(), tu_join(g_dir, "q.npy"), tu_join(g_dir, "pairs.jsonl"), out),
                     0);
    j = load_json(tu_join(out, "stats.json"));
    cJSON *sr;
    int ktot = 0;
    cJSON_ArrayForEach(sr, cJSON_GetObjectItem(j, "sources")) {
        int ns = cJSON_GetObjectItem(sr, "n")->valueint;
        assert_int_equal(cJSON_GetObjectItem(sr, "k")->valueint, (ns + 499) / 500);
        ktot += (ns + 499) / 500;
    }
    assert_int_equal(cJSON_GetObjectItem(j, "k")->valueint, ktot);
    cJSON_Delete(j);
}

static void test_cli_points_used(void **s) {
    (void)s;
    cli_fixture();
    const char *out = tu_join(g_dir, "mp");
    assert_int_equal(tu_sh("%s cluster --input %s --k 10 --max-points-per-centroid 50 --quiet --out %s",
                           tu_strata(), tu_join(g_dir, "q.npy"), out),
                     0);
    cJSON *j = load_json(tu_join(out, "stats.json"));
    assert_int_equal(cJSON_GetObjectItem(j, "points_used")->valueint, 500);
    assert_int_equal(cJSON_GetObjectItem(j, "n")->valueint, 6000); /* every row assigned */
    cJSON_Delete(j);
}

static void expect_cli_error(const char *args, const char *want, const char *outname) {
    const char *out = tu_join(g_dir, outname);
    int rc = tu_sh("%s cluster %s --quiet --out %s", tu_strata(), args, out);
    if (rc == 0) fail_msg("expected failure for: %s", args);
    if (!strstr(tu_last_err(), want)) fail_msg("expected '%s' in: %s", want, tu_last_err());
    assert_false(tu_exists(tu_join(out, "assign.npy")));
    assert_false(tu_exists(tu_join(out, "stats.json")));
    if (tu_exists(out)) assert_int_equal(tu_count_files(out, ".tmp."), 0);
}

static void test_cli_bad_input(void **s) {
    (void)s;
    cli_fixture();
    enum { N = 40, D = 6 };
    float *x = make_data(N, D, 2, 0.5, 29);
    x[23 * D + 4] = NAN;
    save_f32(tu_join(g_dir, "nan.npy"), x, N, D);
    char args[1024];
    snprintf(args, sizeof args, "--input %s --k 3", tu_join(g_dir, "nan.npy"));
    expect_cli_error(args, "nan.npy: row 23: NaN in column 4", "b1");
    snprintf(args, sizeof args, "--input %s --k 6001", tu_join(g_dir, "q.npy"));
    expect_cli_error(args, "K (6001) exceeds the number of rows (6000)", "b2");
    snprintf(args, sizeof args, "--input %s --input2 %s --k 3", tu_join(g_dir, "q.npy"),
             tu_join(g_dir, "short.npy"));
    expect_cli_error(args, "has shape [6000, 48] but", "b3");
    snprintf(args, sizeof args, "--input %s --k 3 --cluster-size 9", tu_join(g_dir, "q.npy"));
    expect_cli_error(args, "exactly one of --clusters", "b4");
    snprintf(args, sizeof args, "--input %s --k 3 --per-source", tu_join(g_dir, "q.npy"));
    expect_cli_error(args, "--per-source needs --pairs", "b5");
    snprintf(args, sizeof args, "--input %s --k 3", tu_join(g_dir, "missing.npy"));
    expect_cli_error(args, "missing.npy", "b6");
    free(x);
}

/* A cluster directory is one unit (issue #15). A run killed between its
 * renames (here by the file-size limit: assign.npy, 24 KB, fits; centroids
 * [1000, 48], 192 KB, does not, so SIGXFSZ stops it there) leaves a new
 * assign.npy beside the old centroids.npy and stats.json; `plan` used them
 * together before, and must refuse the directory now. */
static void test_cli_dir_killed_between_files(void **s) {
    (void)s;
    cli_fixture();
    const char *q = tu_join(g_dir, "q.npy");
    char out[512], pairs[512];
    snprintf(out, sizeof out, "%s", tu_join(g_dir, "unit"));
    snprintf(pairs, sizeof pairs, "%s", tu_join(g_dir, "pairs.jsonl"));
    assert_int_equal(tu_sh("%s cluster --input %s --k 1000 --niter 3 --quiet --out %s", tu_strata(),
                           q, out), 0);
    int64_t n;
    int32_t *old = load_i32(tu_join(out, "assign.npy"), &n);
    /* the subshell's status goes to a file: the shell that sees SIGXFSZ
     * reports it on its own stderr */
    tu_sh("(ulimit -f 80; %s cluster --input %s --k 1000 --niter 3 --seed 2 --quiet --out %s; "
          "echo $? > %s/rc) 2>/dev/null", tu_strata(), q, out, g_dir);
    char *rcs = tu_read(tu_join(g_dir, "rc"), NULL);
    assert_non_null(rcs);
    assert_int_not_equal(atoi(rcs), 0);
    free(rcs);
    int32_t *now = load_i32(tu_join(out, "assign.npy"), &n);
    /* the situation of the issue: a new assignment beside the old files */
    assert_true(memcmp(old, now, sizeof(int32_t) * (size_t)n) != 0);
    free(old);
    free(now);
    int rc = tu_sh("%s plan --pairs %s --batch-size 4 --strategy cluster --assign %s --quiet --out %s",
               tu_strata(), pairs, out, tu_join(g_dir, "unit_plan"));
    if (rc != 1) fail_msg("plan on a half-written cluster directory exited %d", rc);
    assert_non_null(strstr(tu_last_err(), "incomplete cluster directory"));
    rc = tu_sh("%s plan --pairs %s --batch-size 4 --strategy cluster --assign %s/assign.npy "
               "--quiet --out %s", tu_strata(), pairs, out, tu_join(g_dir, "unit_plan"));
    assert_int_equal(rc, 1);
    assert_non_null(strstr(tu_last_err(), "incomplete cluster directory"));
    /* a complete run makes it whole again */
    assert_int_equal(tu_sh("%s cluster --input %s --k 1000 --niter 3 --seed 2 --quiet --out %s",
                           tu_strata(), q, out), 0);
    assert_int_equal(tu_sh("%s plan --pairs %s --batch-size 4 --strategy cluster --assign %s "
                           "--quiet --out %s", tu_strata(), pairs, out, tu_join(g_dir, "unit_plan")),
                     0);
}

/* `plan --assign DIR/assign.npy` takes DIR/centroids.npy, as the docs say:
 * the same plan as `--assign DIR` (the TSP order follows the centroids). */
static void test_cli_plan_assign_file_takes_centroids(void **s) {
    (void)s;
    cli_fixture();
    char out[512], pairs[512];
    snprintf(out, sizeof out, "%s", tu_join(g_dir, "tspc"));
    snprintf(pairs, sizeof pairs, "%s", tu_join(g_dir, "pairs.jsonl"));
    assert_int_equal(tu_sh("%s cluster --input %s --k 40 --quiet --out %s", tu_strata(),
                           tu_join(g_dir, "q.npy"), out), 0);
    assert_int_equal(tu_sh("%s plan --pairs %s --batch-size 16 --strategy cluster --order tsp "
                           "--assign %s --quiet --out %s/pd", tu_strata(), pairs, out, out), 0);
    int rc = tu_sh("%s plan --pairs %s --batch-size 16 --strategy cluster --order tsp "
                   "--assign %s/assign.npy --quiet --out %s/pf", tu_strata(), pairs, out, out);
    if (rc != 0) fail_msg("--assign DIR/assign.npy: %s", tu_last_err());
    char a[600], b[600];
    snprintf(a, sizeof a, "%s/pd/batches.npy", out);
    snprintf(b, sizeof b, "%s/pf/batches.npy", out);
    assert_true(files_equal(a, b));
}

/* float16 input (converted per rank) gives the same result as the same
 * values stored as float32 */
static void test_cli_float16_input(void **s) {
    (void)s;
    cli_fixture();
    enum { N = 3000, D = 20 };
    float *x = make_data(N, D, 10, 0.8, 31);
    uint16_t *h = malloc(sizeof(uint16_t) * N * D);
    for (int i = 0; i < N * D; i++) {
        h[i] = strata_f32_to_f16(x[i]);
        x[i] = strata_f16_to_f32(h[i]);
    }
    strata_error err;
    int64_t shape[2] = {N, D};
    assert_int_equal(strata_npy_save(tu_join(g_dir, "h16.npy"), STRATA_DTYPE_F16, 2, shape, h, &err),
                     STRATA_OK);
    save_f32(tu_join(g_dir, "h32.npy"), x, N, D);
    assert_int_equal(tu_sh("%s cluster --input %s --k 12 --quiet --out %s", tu_strata(),
                           tu_join(g_dir, "h16.npy"), tu_join(g_dir, "f16")), 0);
    assert_int_equal(tu_sh("%s cluster --input %s --k 12 --quiet --out %s", tu_strata(),
                           tu_join(g_dir, "h32.npy"), tu_join(g_dir, "f32")), 0);
    char a[300], b[300];
    snprintf(a, sizeof a, "%s/f16/assign.npy", g_dir);
    snprintf(b, sizeof b, "%s/f32/assign.npy", g_dir);
    assert_true(files_equal(a, b));
    free(x);
    free(h);
}

int main(void) {
    strata_set_threads(2);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fast_vs_naive_spherical),
        cmocka_unit_test(test_fast_vs_naive_asymmetric),
        cmocka_unit_test(test_fast_vs_naive_no_bounds),
        cmocka_unit_test(test_fast_vs_naive_many),
        cmocka_unit_test(test_bounds_follow_repair_jumps),
        cmocka_unit_test(test_vs_numpy_spherical),
        cmocka_unit_test(test_vs_numpy_asymmetric),
        cmocka_unit_test(test_objective_never_worse),
        cmocka_unit_test(test_more_clusters_better),
        cmocka_unit_test(test_kmeanspp_one_seed_per_cluster),
        cmocka_unit_test(test_empty_cluster_repair),
        cmocka_unit_test(test_all_identical),
        cmocka_unit_test(test_split_many_small),
        cmocka_unit_test(test_fit_every_allocation_failure),
        cmocka_unit_test(test_fit_huge_niter_small_memory),
        cmocka_unit_test(test_k1_and_kn),
        cmocka_unit_test(test_pairwise_cosine_stat),
        cmocka_unit_test(test_bad_rows),
        cmocka_unit_test(test_cli_threads_and_runs_identical),
        cmocka_unit_test(test_cli_mpi_equals_single),
        cmocka_unit_test(test_cli_per_source_and_split),
        cmocka_unit_test(test_cli_points_used),
        cmocka_unit_test(test_cli_bad_input),
        cmocka_unit_test(test_cli_float16_input),
        cmocka_unit_test(test_cli_dir_killed_between_files),
        cmocka_unit_test(test_cli_plan_assign_file_takes_centroids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
