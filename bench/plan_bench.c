/*
 * plan_bench.c — library-level benchmark of the batch planner: N synthetic
 * pairs (S sources, K clusters with uneven sizes, surrogate embeddings of D
 * dims = cluster centre + uniform noise, distinct text hashes except 0.1% repeated
 * queries), cluster strategy, greedy-TSP order, false-negative masks, then
 * the plan written to OUT. Inputs are generated in memory (a 10M-pair JSONL
 * would be gigabytes); the timed part is strata_plan_build + save.
 *
 *   plan_bench N D B K S THREADS OUT_DIR
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "strata/plan.h"
#include "bench_clock.h"

/* CPU seconds (user + system) of the whole process so far: on a shared,
 * oversubscribed machine this is steadier than wall time. */
static double cpu(void) {
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)u.ru_utime.tv_sec + 1e-6 * (double)u.ru_utime.tv_usec +
           (double)u.ru_stime.tv_sec + 1e-6 * (double)u.ru_stime.tv_usec;
}

int main(int argc, char **argv) {
    if (argc != 8) {
        fprintf(stderr, "usage: plan_bench N D B K S THREADS OUT_DIR\n");
        return 2;
    }
    int64_t N = atoll(argv[1]), D = atoll(argv[2]), B = atoll(argv[3]);
    int K = atoi(argv[4]), S = atoi(argv[5]), T = atoi(argv[6]);
    const char *out = argv[7];
    strata_set_threads(T);
    double t0 = bench_wall();
    int32_t *src = malloc((size_t)N * 4), *asg = malloc((size_t)N * 4);
    uint64_t *qh = malloc((size_t)N * 8), *ph = malloc((size_t)N * 8);
    float *q = malloc((size_t)N * (size_t)D * 4), *d = malloc((size_t)N * (size_t)D * 4);
    float *cent = malloc((size_t)K * (size_t)D * 4);
    if (!src || !asg || !qh || !ph || !q || !d || !cent) { fprintf(stderr, "oom\n"); return 1; }
    strata_rng r;
    strata_rng_seed(&r, 1, 0);
    for (int64_t k = 0; k < (int64_t)K * D; k++) cent[k] = (float)strata_rng_normal(&r);
    #pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < N; i++) {
        strata_rng rr;
        strata_rng_seed(&rr, 2, (uint64_t)i);
        /* cluster c belongs to source c % S; uneven sizes: c ~ K * u^2 */
        double u = strata_rng_uniform(&rr);
        int c = (int)((double)K * u * u);
        if (c >= K) c = K - 1;
        asg[i] = c;
        src[i] = c % S;
        qh[i] = (i % 1000 == 999) ? strata_hash64(&(int64_t){i - 1}, 8, 1)
                                  : strata_hash64(&i, 8, 1);
        ph[i] = strata_hash64(&i, 8, 2);
        for (int64_t k = 0; k < D; k++) {
            float cc = cent[(size_t)c * (size_t)D + k];
            /* cheap noise: uniform in [-1.4, 1.4) (std 0.8) */
            uint64_t x = strata_rng_next(&rr);
            q[(size_t)i * (size_t)D + k] = cc + 2.8f * ((float)(x >> 40) * 0x1p-24f - 0.5f);
            d[(size_t)i * (size_t)D + k] = cc + 2.8f * ((float)(x & 0xffffff) * 0x1p-24f - 0.5f);
        }
    }
    double t1 = bench_wall(), c1 = cpu();
    strata_plan_data data = {0};
    data.n = N;
    data.source = src;
    data.n_sources = S;
    data.qhash = qh;
    data.phash = ph;
    data.fq = q;
    data.fd = d;
    data.fdim = D;
    strata_plan_stage st = {0};
    st.strategy = STRATA_PLAN_CLUSTER;
    st.assign = asg;
    st.k = K;
    st.centroids = cent;
    st.cdim = D;
    st.share = 1;
    strata_plan_params p = strata_plan_default_params();
    p.batch_size = B;
    p.order = STRATA_ORDER_TSP;
    p.filter = 1;
    p.seed = 1;
    strata_plan plan;
    strata_error err;
    if (strata_plan_build(&plan, &data, &st, 1, &p, &err)) {
        fprintf(stderr, "build: %s\n", err.msg);
        return 1;
    }
    double t2 = bench_wall();
    if (strata_plan_save(&plan, out, NULL, &err)) {
        fprintf(stderr, "save: %s\n", err.msg);
        return 1;
    }
    double t3 = bench_wall(), c3 = cpu();
    printf("strata: N=%lld D=%lld B=%lld K=%d S=%d threads=%d\n", (long long)N, (long long)D,
           (long long)B, K, S, T);
    printf("strata: generate %.2f s, plan+mask %.2f s, save %.2f s, plan+mask+save %.2f s\n",
           t1 - t0, t2 - t1, t3 - t2, t3 - t1);
    printf("strata: plan+mask+save CPU time %.2f s (user+sys, all threads)\n", c3 - c1);
    printf("strata: %lld batches, %lld merged, %lld padded, dropped %lld dup, masked %.4f\n",
           (long long)plan.n_batches, (long long)plan.stages[0].merged_batches,
           (long long)plan.stages[0].padded_batches, (long long)plan.stages[0].dropped_duplicate,
           plan.n_offdiag ? (double)plan.n_masked / (double)plan.n_offdiag : 0.0);
    strata_plan_free(&plan);
    free(src); free(asg); free(qh); free(ph); free(q); free(d); free(cent);
    return 0;
}
