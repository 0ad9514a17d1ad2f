/*
 * test_plan.c — the batch planner: strategy invariants, coverage per epoch,
 * packing (merge / drop-last), the duplicate rule, greedy TSP order, masks
 * against brute force (C double loops and numpy), curricula, determinism
 * across seeds and thread counts, save/load, hardness against PyTorch, the
 * plan feeding a PyTorch DataLoader, and bad input through the CLI.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strata/io.h"
#include "strata/plan.h"
#include "testutil.h"

/* ------------------------------------------------------------------------ */
/* Synthetic data                                                            */
/* ------------------------------------------------------------------------ */

/* N pairs over ns sources, kper clusters per source (global ids
 * s*kper + c, uneven sizes), surrogate embeddings = cluster centre + noise,
 * distinct text hashes unless dup_every > 0 (then every dup_every-th pair
 * copies the query hash of pair i-1 and every (dup_every+1)-th the
 * positive hash of pair i-2, within the same source). */
typedef struct synth {
    int64_t n;
    int ns, K, dim;
    int32_t *src;     /* [N] */
    int32_t *asg;     /* [N] */
    uint64_t *qh, *ph;/* [N] */
    float *q, *d;     /* [N, dim] */
    float *cent;      /* [K, dim] */
} synth;

static void synth_make(synth *s, int64_t n, int ns, int kper, int dim, uint64_t seed,
                       int dup_every) {
    memset(s, 0, sizeof *s);
    s->n = n;
    s->ns = ns;
    s->K = ns * kper;
    s->dim = dim;
    s->src = malloc((size_t)n * sizeof(int32_t));
    s->asg = malloc((size_t)n * sizeof(int32_t));
    s->qh = malloc((size_t)n * sizeof(uint64_t));
    s->ph = malloc((size_t)n * sizeof(uint64_t));
    s->q = malloc((size_t)n * (size_t)dim * sizeof(float));
    s->d = malloc((size_t)n * (size_t)dim * sizeof(float));
    s->cent = malloc((size_t)s->K * (size_t)dim * sizeof(float));
    strata_rng r;
    strata_rng_seed(&r, seed, 7);
    for (int64_t k = 0; k < (int64_t)s->K * dim; k++) s->cent[k] = (float)strata_rng_normal(&r);
    for (int64_t i = 0; i < n; i++) {
        s->src[i] = (int32_t)strata_rng_below(&r, (uint64_t)ns);
        /* skewed cluster sizes: cluster c drawn with probability ~ 1/(c+1) */
        int c = (int)(kper * strata_rng_uniform(&r) * strata_rng_uniform(&r));
        s->asg[i] = s->src[i] * kper + c;
        s->qh[i] = 1000003ull * (uint64_t)i + 17;
        s->ph[i] = 998244353ull * (uint64_t)i + 91;
        for (int k = 0; k < dim; k++) {
            float c0 = s->cent[(size_t)s->asg[i] * (size_t)dim + k];
            s->q[(size_t)i * (size_t)dim + k] = c0 + 0.7f * (float)strata_rng_normal(&r);
            s->d[(size_t)i * (size_t)dim + k] = c0 + 0.7f * (float)strata_rng_normal(&r);
        }
    }
    if (dup_every > 0) {
        for (int64_t i = 2; i < n; i++) {
            if (i % dup_every == 0 && s->src[i] == s->src[i - 1]) s->qh[i] = s->qh[i - 1];
            if (i % (dup_every + 1) == 0 && s->src[i] == s->src[i - 2]) s->ph[i] = s->ph[i - 2];
        }
    }
}

static void synth_free(synth *s) {
    free(s->src); free(s->asg); free(s->qh); free(s->ph); free(s->q); free(s->d); free(s->cent);
}

static strata_plan_data synth_data(const synth *s, int with_emb) {
    strata_plan_data d = {0};
    d.n = s->n;
    d.source = s->src;
    d.n_sources = s->ns;
    d.qhash = s->qh;
    d.phash = s->ph;
    if (with_emb) {
        d.fq = s->q;
        d.fd = s->d;
        d.fdim = s->dim;
    }
    return d;
}

static strata_plan_stage cluster_stage(const synth *s, int with_cent) {
    strata_plan_stage st = {0};
    st.strategy = STRATA_PLAN_CLUSTER;
    st.assign = s->asg;
    st.k = s->K;
    if (with_cent) {
        st.centroids = s->cent;
        st.cdim = s->dim;
    }
    st.share = 1;
    return st;
}

static strata_plan build_ok(const strata_plan_data *d, const strata_plan_stage *st, int ns,
                            const strata_plan_params *p) {
    strata_plan plan;
    strata_error err;
    strata_status rc = strata_plan_build(&plan, d, st, ns, p, &err);
    if (rc) print_error("build failed: %s\n", err.msg);
    assert_int_equal(rc, STRATA_OK);
    return plan;
}

/* ------------------------------------------------------------------------ */
/* Invariant checks                                                          */
/* ------------------------------------------------------------------------ */

/* Every pair at most once per (stage, epoch); returns how many appear in
 * epoch e of stage s. Pads only at the end of a batch. */
static int64_t coverage(const strata_plan *p, int64_t n, int stage, int epoch) {
    char *seen = calloc((size_t)n, 1);
    int64_t cnt = 0;
    const int64_t B = p->batch_size;
    for (int64_t b = 0; b < p->n_batches; b++) {
        if (p->batch_stage[b] != stage || p->batch_epoch[b] != epoch) continue;
        int pad = 0;
        for (int64_t i = 0; i < B; i++) {
            int64_t x = p->batches[b * B + i];
            if (x < 0) { pad = 1; continue; }
            assert_false(pad); /* pads only after the pairs */
            assert_true(x < n);
            assert_int_equal(seen[x], 0);
            seen[x] = 1;
            cnt++;
        }
    }
    free(seen);
    return cnt;
}

static void check_strategy(const strata_plan *p, const synth *s, strata_plan_strategy strat) {
    const int64_t B = p->batch_size;
    for (int64_t b = 0; b < p->n_batches; b++) {
        const int64_t *m = p->batches + b * B;
        if (strat == STRATA_PLAN_RANDOM) {
            assert_int_equal(p->batch_cluster[b], -1);
            continue;
        }
        for (int64_t i = 0; i < B && m[i] >= 0; i++) {
            assert_int_equal(s->src[m[i]], p->batch_source[b]);  /* one source */
            if (strat == STRATA_PLAN_CLUSTER && p->batch_nclusters[b] == 1)
                assert_int_equal(s->asg[m[i]], p->batch_cluster[b]);  /* one cluster */
        }
        if (strat == STRATA_PLAN_CLUSTER) {
            /* nclusters is the true count of distinct clusters */
            int distinct = 0;
            for (int64_t i = 0; i < B && m[i] >= 0; i++) {
                int first = 1;
                for (int64_t j = 0; j < i; j++) first &= s->asg[m[j]] != s->asg[m[i]];
                distinct += first;
            }
            assert_int_equal(distinct, p->batch_nclusters[b]);
        }
    }
}

static void check_no_dup_texts(const strata_plan *p, const synth *s) {
    const int64_t B = p->batch_size;
    for (int64_t b = 0; b < p->n_batches; b++) {
        const int64_t *m = p->batches + b * B;
        for (int64_t i = 0; i < B && m[i] >= 0; i++)
            for (int64_t j = 0; j < i; j++) {
                assert_true(s->qh[m[i]] != s->qh[m[j]]);
                assert_true(s->ph[m[i]] != s->ph[m[j]]);
            }
    }
}

/* ------------------------------------------------------------------------ */
/* Tests: strategies, packing, coverage                                      */
/* ------------------------------------------------------------------------ */

static void test_strategies_cover_every_pair(void **state) {
    (void)state;
    synth s;
    synth_make(&s, 3001, 3, 7, 8, 11, 0);
    strata_plan_data d = synth_data(&s, 1);
    strata_plan_stage st[3] = {{0}, {0}, cluster_stage(&s, 1)};
    st[0].strategy = STRATA_PLAN_RANDOM;
    st[1].strategy = STRATA_PLAN_SOURCE;
    for (int k = 0; k < 3; k++) {
        strata_plan_params p = strata_plan_default_params();
        p.batch_size = 32;
        p.epochs = 3;
        strata_plan plan = build_ok(&d, &st[k], 1, &p);
        for (int e = 0; e < 3; e++) assert_int_equal(coverage(&plan, s.n, 0, e), s.n);
        check_strategy(&plan, &s, st[k].strategy);
        check_no_dup_texts(&plan, &s);
        /* a short batch per source at most (one for random) per epoch */
        int64_t padded = 0;
        for (int64_t b = 0; b < plan.n_batches; b++) padded += plan.batches[b * 32 + 31] < 0;
        assert_true(padded <= 3 * (k == 0 ? 1 : s.ns));
        if (k == 2) assert_true(plan.stages[0].merged_batches > 0);
        /* a new shuffle each epoch: epoch 0 and 1 differ */
        int64_t per = plan.n_batches / 3;
        assert_memory_not_equal(plan.batches, plan.batches + per * 32, (size_t)per * 32 * 8);
        strata_plan_free(&plan);
    }
    synth_free(&s);
}

static void test_drop_last_pure_full_batches(void **state) {
    (void)state;
    synth s;
    synth_make(&s, 2000, 2, 5, 4, 3, 0);
    strata_plan_data d = synth_data(&s, 0);
    strata_plan_stage st = cluster_stage(&s, 0);
    strata_plan_params p = strata_plan_default_params();
    p.batch_size = 16;
    p.drop_last = 1;
    strata_plan plan = build_ok(&d, &st, 1, &p);
    /* expected: sum over (source, cluster) of floor(size / B) batches */
    int64_t *cnt = calloc((size_t)s.K, sizeof(int64_t));
    for (int64_t i = 0; i < s.n; i++) cnt[s.asg[i]]++;
    int64_t want = 0, dropped = 0;
    for (int k = 0; k < s.K; k++) { want += cnt[k] / 16; dropped += cnt[k] % 16; }
    assert_int_equal(plan.n_batches, want);
    assert_int_equal(plan.stages[0].dropped_leftover, dropped);
    assert_int_equal(coverage(&plan, s.n, 0, 0), s.n - dropped);
    for (int64_t b = 0; b < plan.n_batches; b++) {
        assert_int_equal(plan.batch_nclusters[b], 1);
        assert_true(plan.batches[b * 16 + 15] >= 0);
    }
    check_strategy(&plan, &s, STRATA_PLAN_CLUSTER);
    free(cnt);
    strata_plan_free(&plan);
    synth_free(&s);
}

static void test_duplicates_never_share_a_batch(void **state) {
    (void)state;
    synth s;
    synth_make(&s, 4000, 2, 4, 4, 5, 3);
    /* a heavy positive: 60 pairs of source 0 share one positive text */
    int64_t heavy = 0;
    for (int64_t i = 0; i < s.n && heavy < 60; i++)
        if (s.src[i] == 0) { s.ph[i] = 42; heavy++; }
    strata_plan_data d = synth_data(&s, 0);
    strata_plan_stage st[3] = {{0}, {0}, cluster_stage(&s, 0)};
    st[0].strategy = STRATA_PLAN_RANDOM;
    st[1].strategy = STRATA_PLAN_SOURCE;
    for (int k = 0; k < 3; k++) {
        strata_plan_params p = strata_plan_default_params();
        p.batch_size = 64;
        p.epochs = 2;
        strata_plan plan = build_ok(&d, &st[k], 1, &p);
        check_no_dup_texts(&plan, &s);
        check_strategy(&plan, &s, st[k].strategy);
        int64_t placed = coverage(&plan, s.n, 0, 0) + coverage(&plan, s.n, 0, 1);
        /* every pair twice, except those counted as unplaceable */
        assert_int_equal(placed + plan.stages[0].dropped_duplicate, 2 * s.n);
        assert_true(plan.stages[0].deferred_duplicate > 0);
        /* source 0 has about 2000 pairs = 32 batches per epoch: of the 60
         * pairs sharing a positive at most 32 fit per epoch in source/cluster
         * plans, all of them fit in random plans */
        if (k == 0) assert_int_equal(plan.stages[0].dropped_duplicate, 0);
        else assert_true(plan.stages[0].dropped_duplicate >= 2 * (60 - 33));
        strata_plan_free(&plan);
    }
    synth_free(&s);
}

/* ------------------------------------------------------------------------ */
/* Order                                                                     */
/* ------------------------------------------------------------------------ */

static void test_tsp_order_is_greedy_nearest_centroid(void **state) {
    (void)state;
    synth s;
    synth_make(&s, 3000, 1, 40, 6, 9, 0);
    strata_plan_data d = synth_data(&s, 0);
    strata_plan_stage st = cluster_stage(&s, 1);
    strata_plan_params p = strata_plan_default_params();
    p.batch_size = 8;
    p.drop_last = 1;
    p.order = STRATA_ORDER_TSP;
    strata_plan plan = build_ok(&d, &st, 1, &p);
    /* clusters appear in contiguous runs; each next cluster is the most
     * similar (cosine of centroids) cluster not yet visited that has batches */
    char *has = calloc((size_t)s.K, 1), *vis = calloc((size_t)s.K, 1);
    for (int64_t b = 0; b < plan.n_batches; b++) has[plan.batch_cluster[b]] = 1;
    int prev = -1;
    for (int64_t b = 0; b < plan.n_batches; b++) {
        int c = plan.batch_cluster[b];
        if (c == prev) continue;
        assert_int_equal(vis[c], 0); /* contiguous */
        if (prev >= 0) {
            double best = -2;
            int arg = -1;
            const float *a = s.cent + (size_t)prev * 6;
            double na = 0;
            for (int k = 0; k < 6; k++) na += (double)a[k] * a[k];
            for (int u = 0; u < s.K; u++) {
                if (!has[u] || vis[u] || u == prev) continue;
                const float *x = s.cent + (size_t)u * 6;
                double dot = 0, nx = 0;
                for (int k = 0; k < 6; k++) { dot += (double)a[k] * x[k]; nx += (double)x[k] * x[k]; }
                double cs = dot / sqrt(na * nx);
                if (cs > best) { best = cs; arg = u; }
            }
            /* float32 sgemm may swap near-equal candidates: accept 1e-5 */
            const float *x = s.cent + (size_t)c * 6;
            double dot = 0, nx = 0;
            for (int k = 0; k < 6; k++) { dot += (double)a[k] * x[k]; nx += (double)x[k] * x[k]; }
            assert_true(arg == c || dot / sqrt(na * nx) > best - 1e-5);
        }
        vis[prev = c] = 1;
    }
    free(has);
    free(vis);
    strata_plan_free(&plan);
    synth_free(&s);
}

static void test_tsp_needs_centroids(void **state) {
    (void)state;
    synth s;
    synth_make(&s, 500, 2, 3, 4, 1, 0);
    strata_plan_data d = synth_data(&s, 0);
    strata_plan_stage st = cluster_stage(&s, 0);
    strata_plan_params p = strata_plan_default_params();
    p.batch_size = 8;
    p.order = STRATA_ORDER_TSP;
    strata_plan plan;
    strata_error err;
    assert_int_equal(strata_plan_build(&plan, &d, &st, 1, &p, &err), STRATA_EINVAL);
    assert_non_null(strstr(err.msg, "tsp"));
    /* with surrogate embeddings the group means serve as centroids */
    d = synth_data(&s, 1);
    plan = build_ok(&d, &st, 1, &p);
    assert_int_equal(coverage(&plan, s.n, 0, 0), s.n);
    strata_plan_free(&plan);
    synth_free(&s);
}

/* ------------------------------------------------------------------------ */
/* Masks                                                                     */
/* ------------------------------------------------------------------------ */

static void compare_masks(const strata_plan *plan, const synth *s, double margin, int use_thr,
                          double thr) {
    const int64_t B = plan->batch_size, W = strata_plan_mask_width(B);
    uint8_t *ref = malloc((size_t)B * (size_t)W);
    int64_t total = 0;
    for (int64_t b = 0; b < plan->n_batches; b++) {
        const int64_t *idx = plan->batches + b * B;
        total += strata_plan_mask_batch_naive(ref, idx, B, s->q, s->d, s->dim, margin, use_thr, thr);
        const uint8_t *got = plan->mask + (size_t)b * (size_t)B * (size_t)W;
        for (int64_t i = 0; i < B; i++)
            for (int64_t j = 0; j < B; j++) {
                int g = (got[i * W + j / 8] >> (j % 8)) & 1, r = (ref[i * W + j / 8] >> (j % 8)) & 1;
                if (g == r) continue;
                /* only a float32-vs-double near-tie may differ: recheck */
                double qq = 0, dd = 0, qd = 0, di = 0, ii = 0;
                const float *q = s->q + idx[i] * s->dim, *dj = s->d + idx[j] * s->dim,
                            *dii = s->d + idx[i] * s->dim;
                for (int k = 0; k < s->dim; k++) {
                    qq += (double)q[k] * q[k];
                    dd += (double)dj[k] * dj[k];
                    qd += (double)q[k] * dj[k];
                    di += (double)dii[k] * dii[k];
                    ii += (double)q[k] * dii[k];
                }
                double sij = qd / sqrt(qq * dd), sii = ii / sqrt(qq * di);
                double t = use_thr ? thr : sii - margin;
                assert_true(fabs(sij - t) < 1e-5);
            }
    }
    /* n_masked agrees with the reference up to near-ties */
    assert_true(llabs(plan->n_masked - total) <= 2);
    free(ref);
}

static void test_mask_equals_bruteforce(void **state) {
    (void)state;
    synth s;
    synth_make(&s, 1500, 2, 4, 12, 21, 0);
    strata_plan_data d = synth_data(&s, 1);
    strata_plan_stage st = cluster_stage(&s, 1);
    /* odd batch size: a partial last mask byte and pads */
    strata_plan_params p = strata_plan_default_params();
    p.batch_size = 37;
    p.filter = 1;
    p.margin = 0.05;
    strata_plan plan = build_ok(&d, &st, 1, &p);
    assert_non_null(plan.mask);
    assert_true(plan.n_masked > 0 && plan.n_masked < plan.n_offdiag);
    compare_masks(&plan, &s, 0.05, 0, 0);
    /* never the diagonal */
    for (int64_t b = 0; b < plan.n_batches; b++)
        for (int64_t i = 0; i < 37; i++) assert_int_equal(strata_plan_masked(&plan, b, i, i), 0);
    /* absolute threshold */
    strata_error err;
    assert_int_equal(strata_plan_compute_mask(&plan, s.q, s.d, s.n, s.dim, 0, 1, 0.5,
                                              (strata_progress){0}, &err), STRATA_OK);
    compare_masks(&plan, &s, 0, 1, 0.5);
    /* margin grows -> superset */
    strata_plan wide = build_ok(&d, &st, 1, &p);
    assert_int_equal(strata_plan_compute_mask(&wide, s.q, s.d, s.n, s.dim, 0.3, 0, 0,
                                              (strata_progress){0}, &err), STRATA_OK);
    strata_plan narrow = build_ok(&d, &st, 1, &p);
    assert_true(wide.n_masked > narrow.n_masked);
    strata_plan_free(&wide);
    strata_plan_free(&narrow);
    strata_plan_free(&plan);
    synth_free(&s);
}

/* ------------------------------------------------------------------------ */
/* Curriculum                                                                */
/* ------------------------------------------------------------------------ */

static void test_curriculum_stages(void **state) {
    (void)state;
    synth s;
    synth_make(&s, 2400, 3, 6, 4, 4, 0);
    strata_plan_data d = synth_data(&s, 0);
    strata_plan_stage st[3] = {{0}, {0}, cluster_stage(&s, 1)};
    st[0].strategy = STRATA_PLAN_RANDOM;
    st[0].share = 0.3;
    st[1].strategy = STRATA_PLAN_SOURCE;
    st[1].share = 0.2;
    st[2].share = 0.5;
    strata_plan_params p = strata_plan_default_params();
    p.batch_size = 32;
    p.epochs = 4;
    strata_plan plan = build_ok(&d, st, 3, &p);
    int64_t total = 4 * ((2400 + 31) / 32);
    assert_int_equal(plan.n_batches, total);
    assert_int_equal(plan.stages[0].n_batches, llround(0.3 * (double)total));
    assert_int_equal(plan.stages[0].n_batches + plan.stages[1].n_batches,
                     llround(0.5 * (double)total));
    for (int k = 0; k < 3; k++) {
        const strata_plan_stage_info *si = &plan.stages[k];
        for (int64_t b = si->first_batch; b < si->first_batch + si->n_batches; b++) {
            assert_int_equal(plan.batch_stage[b], k);
            const int64_t *m = plan.batches + b * 32;
            for (int64_t i = 0; i < 32 && m[i] >= 0 && k > 0; i++) {
                assert_int_equal(s.src[m[i]], plan.batch_source[b]);
                if (k == 2 && plan.batch_nclusters[b] == 1)
                    assert_int_equal(s.asg[m[i]], plan.batch_cluster[b]);
            }
        }
        /* each pass of a stage covers a pair at most once */
        for (int e = 0; e < si->passes; e++) (void)coverage(&plan, s.n, k, e);
    }
    /* stage 2 runs two passes (0.5 * 4 epochs): the first one complete */
    assert_int_equal(plan.stages[2].passes, 2);
    assert_int_equal(coverage(&plan, s.n, 2, 0), s.n);
    strata_plan_free(&plan);
    synth_free(&s);
}

static void test_spec_parse(void **state) {
    (void)state;
    strata_plan_spec_stage *v;
    int n;
    strata_error err;
    assert_int_equal(strata_plan_spec_parse("random:0.3,cluster=runs/k10:0.3,cluster=a.npy:0.4,source",
                                            &v, &n, &err), STRATA_OK);
    assert_int_equal(n, 4);
    assert_int_equal(v[0].strategy, STRATA_PLAN_RANDOM);
    assert_true(fabs(v[0].share - 0.3) < 1e-12);
    assert_null(v[0].path);
    assert_string_equal(v[1].path, "runs/k10");
    assert_string_equal(v[2].path, "a.npy");
    assert_true(fabs(v[3].share - 1) < 1e-12);
    strata_plan_spec_free(v, n);
    assert_int_equal(strata_plan_spec_parse("random:0.5,tsp:0.5", &v, &n, &err), STRATA_EINVAL);
    assert_non_null(strstr(err.msg, "unknown strategy \"tsp\""));
    assert_int_equal(strata_plan_spec_parse("random:-1", &v, &n, &err), STRATA_EINVAL);
    assert_non_null(strstr(err.msg, "share"));
    assert_int_equal(strata_plan_spec_parse("source=x.npy", &v, &n, &err), STRATA_EINVAL);
    assert_int_equal(strata_plan_spec_parse("", &v, &n, &err), STRATA_EINVAL);
}

/* ------------------------------------------------------------------------ */
/* Determinism, save / load                                                  */
/* ------------------------------------------------------------------------ */

static void test_same_seed_same_plan_any_threads(void **state) {
    (void)state;
    synth s;
    synth_make(&s, 5000, 3, 20, 16, 8, 5);
    strata_plan_data d = synth_data(&s, 1);
    strata_plan_stage st = cluster_stage(&s, 1);
    strata_plan_params p = strata_plan_default_params();
    p.batch_size = 48;
    p.epochs = 2;
    p.order = STRATA_ORDER_TSP;
    p.filter = 1;
    p.seed = 77;
    strata_set_threads(1);
    strata_plan a = build_ok(&d, &st, 1, &p);
    strata_set_threads(2);
    strata_plan b = build_ok(&d, &st, 1, &p);
    strata_set_threads(3);
    strata_plan c = build_ok(&d, &st, 1, &p);
    assert_int_equal(a.n_batches, b.n_batches);
    assert_memory_equal(a.batches, b.batches, (size_t)a.n_batches * 48 * 8);
    assert_memory_equal(a.batches, c.batches, (size_t)a.n_batches * 48 * 8);
    size_t mb = (size_t)a.n_batches * 48 * 6;
    assert_memory_equal(a.mask, b.mask, mb);
    assert_memory_equal(a.mask, c.mask, mb);
    p.seed = 78;
    strata_plan e = build_ok(&d, &st, 1, &p);
    assert_memory_not_equal(a.batches, e.batches, (size_t)a.n_batches * 48 * 8);
    /* save twice -> the same bytes */
    char d1[1024], d2[1024];
    snprintf(d1, sizeof d1, "%s", tu_join(tu_tmpdir(), "det1"));
    snprintf(d2, sizeof d2, "%s", tu_join(tu_tmpdir(), "det2"));
    strata_error err;
    assert_int_equal(strata_plan_save(&a, d1, "{\"x\":1}", &err), STRATA_OK);
    assert_int_equal(strata_plan_save(&c, d2, "{\"x\":1}", &err), STRATA_OK);
    const char *names[] = {"batches.npy", "mask.npy", "plan.json"};
    for (int k = 0; k < 3; k++) {
        size_t l1, l2;
        char *x = tu_read(tu_join(d1, names[k]), &l1), *y = tu_read(tu_join(d2, names[k]), &l2);
        assert_non_null(x);
        assert_int_equal(l1, l2);
        assert_memory_equal(x, y, l1);
        free(x);
        free(y);
    }
    /* load round trip */
    strata_plan l;
    assert_int_equal(strata_plan_load(&l, d1, &err), STRATA_OK);
    assert_int_equal(l.n_batches, a.n_batches);
    assert_int_equal(l.batch_size, 48);
    assert_memory_equal(l.batches, a.batches, (size_t)a.n_batches * 48 * 8);
    assert_memory_equal(l.mask, a.mask, mb);
    assert_memory_equal(l.batch_source, a.batch_source, (size_t)a.n_batches * 4);
    assert_memory_equal(l.batch_cluster, a.batch_cluster, (size_t)a.n_batches * 4);
    strata_plan_free(&l);
    /* a plan whose manifest says incomplete (a run stopped half-way) is
     * refused, and so is one without plan.json */
    assert_int_equal(strata_dir_begin(d1, "plan", &err), STRATA_OK);
    assert_int_not_equal(strata_plan_load(&l, d1, &err), STRATA_OK);
    assert_non_null(strstr(err.msg, "incomplete plan directory"));
    assert_int_equal(remove(tu_join(d1, "manifest.json")), 0); /* as a plan before manifests */
    assert_int_equal(remove(tu_join(d1, "plan.json")), 0);
    assert_int_not_equal(strata_plan_load(&l, d1, &err), STRATA_OK);
    assert_non_null(strstr(err.msg, "not a complete plan"));
    assert_int_equal(tu_count_files(d1, ".tmp."), 0);
    strata_set_threads(0);
    strata_plan_free(&a);
    strata_plan_free(&b);
    strata_plan_free(&c);
    strata_plan_free(&e);
    synth_free(&s);
}

static void test_bad_params(void **state) {
    (void)state;
    synth s;
    synth_make(&s, 100, 2, 3, 4, 1, 0);
    strata_plan_data d = synth_data(&s, 0);
    strata_plan_stage st = cluster_stage(&s, 0);
    strata_plan_params p = strata_plan_default_params();
    strata_plan plan;
    strata_error err;
    p.batch_size = 101;
    assert_int_equal(strata_plan_build(&plan, &d, &st, 1, &p, &err), STRATA_EINVAL);
    assert_non_null(strstr(err.msg, "larger than the data"));
    p.batch_size = 10;
    s.asg[17] = 99; /* outside [0, K) */
    assert_int_equal(strata_plan_build(&plan, &d, &st, 1, &p, &err), STRATA_EINVAL);
    assert_non_null(strstr(err.msg, "pair 17: cluster id 99"));
    s.asg[17] = 0;
    p.filter = 1; /* no embeddings */
    assert_int_equal(strata_plan_build(&plan, &d, &st, 1, &p, &err), STRATA_EINVAL);
    assert_non_null(strstr(err.msg, "surrogate"));
    p.filter = 0;
    p.drop_last = 1;
    p.batch_size = 100; /* every cluster smaller than B */
    assert_int_equal(strata_plan_build(&plan, &d, &st, 1, &p, &err), STRATA_EINVAL);
    assert_non_null(strstr(err.msg, "no batch"));
    synth_free(&s);
}

/* ------------------------------------------------------------------------ */
/* Hardness                                                                  */
/* ------------------------------------------------------------------------ */

static void test_hardness_fast_equals_naive_and_orders(void **state) {
    (void)state;
    synth s;
    synth_make(&s, 3000, 2, 10, 16, 12, 0);
    strata_plan_data d = synth_data(&s, 1);
    strata_plan_stage st[2] = {{0}, cluster_stage(&s, 1)};
    st[0].strategy = STRATA_PLAN_RANDOM;
    strata_hardness_summary sum[2];
    for (int k = 0; k < 2; k++) {
        strata_plan_params p = strata_plan_default_params();
        p.batch_size = 25;
        p.filter = 1;
        strata_plan plan = build_ok(&d, &st[k], 1, &p);
        strata_hardness_batch *hb = calloc((size_t)plan.n_batches, sizeof *hb);
        strata_error err;
        assert_int_equal(strata_hardness_compute(&plan, s.q, s.d, s.n, s.dim, 0.05, 1, 0, hb,
                                                 &sum[k], &err), STRATA_OK);
        for (int64_t b = 0; b < plan.n_batches; b++) {
            strata_hardness_batch r;
            strata_hardness_batch_naive(&plan, b, s.q, s.d, s.dim, 0.05, 1, &r);
            assert_int_equal(r.n, hb[b].n);
            /* float32 sgemm vs double: cosines agree to ~1e-6, loss x 1/tau */
            assert_true(fabs(r.mean_offdiag - hb[b].mean_offdiag) < 1e-5);
            assert_true(fabs(r.max_offdiag - hb[b].max_offdiag) < 1e-5);
            assert_true(fabs(r.loss - hb[b].loss) < 1e-3);
            assert_true(fabs(r.top1 - hb[b].top1) <= 1.0 / 25 + 1e-12);
        }
        free(hb);
        strata_plan_free(&plan);
    }
    /* cluster batches are harder than random ones under the surrogate */
    assert_true(sum[1].mean_offdiag_sim > sum[0].mean_offdiag_sim + 0.1);
    synth_free(&s);
}

/* ------------------------------------------------------------------------ */
/* Through the CLI, with numpy / PyTorch references                          */
/* ------------------------------------------------------------------------ */

/* Writes a JSONL pairs file of n pairs over 3 sources (with two repeated
 * queries) and Q/D/assign/centroids .npy files matching it. */
static void write_cli_inputs(const char *dir, int64_t n, synth *s) {
    synth_make(s, n, 3, 4, 8, 31, 0);
    strata_error err;
    char *buf = malloc((size_t)n * 128 + 1);
    size_t len = 0;
    static const char *names[] = {"alpha", "beta", "gamma"};
    for (int64_t i = 0; i < n; i++) {
        int64_t qi = i % 50 == 7 ? 7 : i; /* every 50th pair repeats query 7 */
        len += (size_t)sprintf(buf + len,
                               "{\"query\": \"q%lld\", \"positive\": \"p%lld\", \"source\": \"%s\"}\n",
                               (long long)qi, (long long)i, names[s->src[i]]);
    }
    tu_write(tu_join(dir, "pairs.jsonl"), buf, len);
    free(buf);
    /* the pairs loader numbers sources by first appearance: remap */
    int map[3] = {-1, -1, -1}, next = 0;
    for (int64_t i = 0; i < n; i++)
        if (map[s->src[i]] < 0) map[s->src[i]] = next++;
    for (int64_t i = 0; i < n; i++) s->src[i] = map[s->src[i]];
    int64_t shp[2] = {n, s->dim}, kshape[2] = {s->K, s->dim};
    assert_int_equal(strata_npy_save(tu_join(dir, "Q.npy"), STRATA_DTYPE_F32, 2, shp, s->q, &err), 0);
    assert_int_equal(strata_npy_save(tu_join(dir, "D.npy"), STRATA_DTYPE_F32, 2, shp, s->d, &err), 0);
    assert_int_equal(strata_npy_save(tu_join(dir, "assign.npy"), STRATA_DTYPE_I32, 1, &n, s->asg, &err), 0);
    assert_int_equal(strata_npy_save(tu_join(dir, "centroids.npy"), STRATA_DTYPE_F32, 2, kshape,
                                     s->cent, &err), 0);
}

static void test_cli_plan_and_references(void **state) {
    (void)state;
    const char *dir = tu_join(tu_tmpdir(), "cli");
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "mkdir -p %s", dir);
    assert_int_equal(system(cmd), 0);
    synth s;
    write_cli_inputs(dir, 1200, &s);
    char dirc[1024];
    snprintf(dirc, sizeof dirc, "%s", dir);
    int rc = tu_sh("%s plan --quiet --pairs %s/pairs.jsonl --batch-size 30 --strategy cluster "
                   "--assign %s --order tsp --filter-q %s/Q.npy --filter-d %s/D.npy --margin 0.02 "
                   "--epochs 2 --out %s/plan --threads 1", tu_strata(), dirc, dirc, dirc, dirc, dirc);
    if (rc) print_error("%s\n", tu_last_err());
    assert_int_equal(rc, 0);
    rc = tu_sh("%s plan --quiet --pairs %s/pairs.jsonl --batch-size 30 --strategy cluster "
               "--assign %s --order tsp --filter-q %s/Q.npy --filter-d %s/D.npy --margin 0.02 "
               "--epochs 2 --out %s/plan2 --threads 2", tu_strata(), dirc, dirc, dirc, dirc, dirc);
    assert_int_equal(rc, 0);
    const char *names[] = {"batches.npy", "mask.npy", "plan.json"};
    for (int k = 0; k < 3; k++) {
        char p1[1200], p2[1200];
        snprintf(p1, sizeof p1, "%s/plan/%s", dirc, names[k]);
        snprintf(p2, sizeof p2, "%s/plan2/%s", dirc, names[k]);
        size_t l1, l2;
        char *x = tu_read(p1, &l1), *y = tu_read(p2, &l2);
        assert_non_null(x);
        assert_non_null(y);
        assert_int_equal(l1, l2); /* --threads 1 and 2: the same bytes */
        assert_memory_equal(x, y, l1);
        free(x);
        free(y);
    }
    /* the plan obeys the duplicate rule for the repeated query q7 */
    strata_plan plan;
    strata_error err;
    char pd[1200];
    snprintf(pd, sizeof pd, "%s/plan", dirc);
    assert_int_equal(strata_plan_load(&plan, pd, &err), STRATA_OK);
    for (int64_t b = 0; b < plan.n_batches; b++) {
        int q7 = 0;
        for (int64_t i = 0; i < 30; i++) {
            int64_t x = plan.batches[b * 30 + i];
            q7 += x >= 0 && (x == 7 || x % 50 == 7);
        }
        assert_true(q7 <= 1);
        for (int64_t i = 0; i < 30; i++) {
            int64_t x = plan.batches[b * 30 + i];
            if (x >= 0) assert_int_equal(s.src[x], plan.batch_source[b]);
        }
    }
    strata_plan_free(&plan);

    /* the sweep: cluster batches harder than source ones, harder than random
     * (the synthetic embeddings are cluster centre + noise) */
    rc = tu_sh("%s hardness --quiet --sweep --pairs %s/pairs.jsonl --q %s/Q.npy --d %s/D.npy "
               "--assign-list %s/assign.npy --batch-sizes 16,32 --csv %s/sweep.csv --out "
               "%s/sweep.json", tu_strata(), dirc, dirc, dirc, dirc, dirc, dirc);
    if (rc) print_error("%s\n", tu_last_err());
    assert_int_equal(rc, 0);
    {
        char sp[1200];
        snprintf(sp, sizeof sp, "%s/sweep.csv", dirc);
        char *csv = tu_read(sp, NULL);
        assert_non_null(csv);
        double off[3][2];
        int row = 0;
        for (char *line = strchr(csv, '\n'); line && line[1] && row < 6; line = strchr(line + 1, '\n')) {
            /* strategy,assign,group_size,batch_size,measured,planned,offdiag,... */
            char *f = line + 1;
            for (int k = 0; k < 6; k++) f = strchr(f, ',') + 1;
            off[row / 2][row % 2] = atof(f);
            row++;
        }
        assert_int_equal(row, 6);
        for (int b = 0; b < 2; b++) {
            assert_true(off[2][b] > off[1][b] + 0.05); /* cluster > source */
            assert_true(off[1][b] > off[0][b] - 0.02); /* source >= random (one centre set) */
        }
        free(csv);
    }

    if (!tu_python_has("numpy")) {
        print_message("skipped numpy/torch references: python module numpy not installed\n");
        synth_free(&s);
        return;
    }
    /* mask vs numpy brute force, float64 */
    rc = tu_sh("%s tests/ref/plan_ref.py mask %s %s/Q.npy %s/D.npy margin 0.02", tu_python(), pd,
               dirc, dirc);
    if (rc) print_error("%s%s\n", tu_last_out(), tu_last_err());
    assert_int_equal(rc, 0);
    assert_non_null(strstr(tu_last_out(), "ok bits="));
    if (tu_python_has("torch")) {
        rc = tu_sh("%s tests/ref/plan_ref.py loader %s 1200", tu_python(), pd);
        if (rc) print_error("%s%s\n", tu_last_out(), tu_last_err());
        assert_int_equal(rc, 0);
        /* hardness vs torch cross_entropy (masked) */
        rc = tu_sh("%s hardness --quiet --plan %s --q %s/Q.npy --d %s/D.npy --tau 0.02 "
                   "--csv %s/h.csv --out %s/h.json", tu_strata(), pd, dirc, dirc, dirc, dirc);
        assert_int_equal(rc, 0);
        assert_non_null(strstr(tu_last_out(), "mean_loss"));
        rc = tu_sh("%s tests/ref/plan_ref.py hardness %s %s/Q.npy %s/D.npy 0.02 %s/h.csv 1",
                   tu_python(), pd, dirc, dirc, dirc);
        if (rc) print_error("%s%s\n", tu_last_out(), tu_last_err());
        assert_int_equal(rc, 0);
        char hj[1200];
        snprintf(hj, sizeof hj, "%s/h.json", dirc);
        char *j = tu_read(hj, NULL);
        assert_non_null(j);
        assert_non_null(strstr(j, "\"mean_loss\""));
        assert_non_null(strstr(j, "\"mean_top1\""));
        assert_non_null(strstr(j, "\"mean_offdiag_sim\""));
        free(j);
    } else {
        print_message("skipped torch references: python module torch not installed\n");
    }
    synth_free(&s);
}

static void test_cli_bad_input(void **state) {
    (void)state;
    const char *dir = tu_join(tu_tmpdir(), "bad");
    char dirc[1024], cmd[2048];
    snprintf(dirc, sizeof dirc, "%s", dir);
    snprintf(cmd, sizeof cmd, "mkdir -p %s", dirc);
    assert_int_equal(system(cmd), 0);
    synth s;
    write_cli_inputs(dirc, 300, &s);
    strata_error err;
    /* assignments of the wrong length */
    int64_t n = 299;
    assert_int_equal(strata_npy_save(tu_join(dirc, "short.npy"), STRATA_DTYPE_I32, 1, &n, s.asg,
                                     &err), 0);
    int rc = tu_sh("%s plan --quiet --pairs %s/pairs.jsonl --batch-size 10 --strategy cluster "
                   "--assign %s/short.npy --out %s/o1", tu_strata(), dirc, dirc, dirc);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(tu_last_err(), "299 entries but the pairs have 300"));
    char o[1200];
    snprintf(o, sizeof o, "%s/o1/plan.json", dirc);
    assert_false(tu_exists(o));
    /* B larger than the data */
    rc = tu_sh("%s plan --quiet --pairs %s/pairs.jsonl --batch-size 301 --strategy random "
               "--out %s/o2", tu_strata(), dirc, dirc);
    assert_int_equal(rc, 2); /* an option value out of range: usage error */
    assert_non_null(strstr(tu_last_err(), "larger than the data (300 pairs)"));
    snprintf(o, sizeof o, "%s/o2/plan.json", dirc);
    assert_false(tu_exists(o));
    /* unknown strategy: usage error */
    rc = tu_sh("%s plan --quiet --pairs %s/pairs.jsonl --batch-size 8 --strategy topic "
               "--out %s/o3", tu_strata(), dirc, dirc);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(tu_last_err(), "unknown --strategy \"topic\""));
    /* too few centroids for the ids used */
    int64_t kshape[2] = {3, s.dim};
    assert_int_equal(strata_npy_save(tu_join(dirc, "c3.npy"), STRATA_DTYPE_F32, 2, kshape, s.cent,
                                     &err), 0);
    rc = tu_sh("%s plan --quiet --pairs %s/pairs.jsonl --batch-size 8 --strategy cluster "
               "--assign %s/assign.npy --centroids %s/c3.npy --out %s/o4", tu_strata(), dirc,
               dirc, dirc, dirc);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(tu_last_err(), "3 centroids but"));
    /* NaN in the surrogate embeddings */
    s.q[5 * s.dim + 2] = NAN;
    int64_t shp[2] = {300, s.dim};
    assert_int_equal(strata_npy_save(tu_join(dirc, "Qnan.npy"), STRATA_DTYPE_F32, 2, shp, s.q,
                                     &err), 0);
    rc = tu_sh("%s plan --quiet --pairs %s/pairs.jsonl --batch-size 8 --strategy random "
               "--filter-q %s/Qnan.npy --filter-d %s/D.npy --out %s/o5", tu_strata(), dirc, dirc,
               dirc, dirc);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(tu_last_err(), "row 5 column 2 is not finite"));
    /* a bad stage spec */
    rc = tu_sh("%s plan --quiet --pairs %s/pairs.jsonl --batch-size 8 --stages 'random:0.5,cluster:0.5' "
               "--out %s/o6", tu_strata(), dirc, dirc);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(tu_last_err(), "cluster needs a path"));
    /* a curriculum through the CLI works and records its stages */
    rc = tu_sh("%s plan --quiet --pairs %s/pairs.jsonl --batch-size 8 --epochs 2 "
               "--stages 'random:1,source:1,cluster=%s:2' --out %s/o7", tu_strata(), dirc, dirc,
               dirc);
    if (rc) print_error("%s\n", tu_last_err());
    assert_int_equal(rc, 0);
    snprintf(o, sizeof o, "%s/o7/plan.json", dirc);
    char *j = tu_read(o, NULL);
    assert_non_null(j);
    assert_non_null(strstr(j, "\"strategy\":\t\"source\""));
    free(j);
    /* no temp files anywhere */
    const char *outs[] = {"o1", "o2", "o3", "o4", "o5", "o6", "o7"};
    for (int k = 0; k < 7; k++) {
        snprintf(o, sizeof o, "%s/%s", dirc, outs[k]);
        if (tu_exists(o)) assert_int_equal(tu_count_files(o, ".tmp."), 0);
    }
    synth_free(&s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strategies_cover_every_pair),
        cmocka_unit_test(test_drop_last_pure_full_batches),
        cmocka_unit_test(test_duplicates_never_share_a_batch),
        cmocka_unit_test(test_tsp_order_is_greedy_nearest_centroid),
        cmocka_unit_test(test_tsp_needs_centroids),
        cmocka_unit_test(test_mask_equals_bruteforce),
        cmocka_unit_test(test_curriculum_stages),
        cmocka_unit_test(test_spec_parse),
        cmocka_unit_test(test_same_seed_same_plan_any_threads),
        cmocka_unit_test(test_bad_params),
        cmocka_unit_test(test_hardness_fast_equals_naive_and_orders),
        cmocka_unit_test(test_cli_plan_and_references),
        cmocka_unit_test(test_cli_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
