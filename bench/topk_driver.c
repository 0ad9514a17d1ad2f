/*
 * topk_driver.c — times strata_topk_ip (exact top-k, fused blocked sgemm +
 * heap) and, for scale, the bare sgemm of the same product with the same
 * blocking and threads (no top-k at all), on .npy inputs.
 *
 * usage: topk_driver DIR K THREADS REPS [BQ BC]
 * reads DIR/C.npy [NC, D] and DIR/Q.npy [NQ, D]; prints
 *   strata_topk_s <best>   sgemm_only_s <best>   and saves DIR/strata_I.npy.
 * Built by bench/bench_topk.sh with the Makefile's flags.
 */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "strata/eval.h"
#include "strata/io.h"
#include "eval/topk_internal.h"
#include "bench_clock.h"

/* The same product as the kernel, same block sizes and thread layout, with
 * only a trivial use of each block (so the compiler keeps the calls). */
static double sgemm_only(const float *Q, int64_t nq, const float *C, int64_t nc, int D, int BQ,
                         int BC) {
    int nt = strata_get_threads();
    float *scratch = malloc((size_t)nt * BQ * BC * sizeof(float));
    double sink = 0.0;
    int64_t nblk = (nq + BQ - 1) / BQ;
#pragma omp parallel for schedule(dynamic, 1) reduction(+ : sink)
    for (int64_t blk = 0; blk < nblk; blk++) {
        int tid = 0;
#ifdef _OPENMP
        tid = omp_get_thread_num();
#endif
        float *S = scratch + (size_t)tid * BQ * BC;
        int64_t q0 = blk * BQ;
        int bq = (int)(nq - q0 < BQ ? nq - q0 : BQ);
        for (int64_t c0 = 0; c0 < nc; c0 += BC) {
            int bc = (int)(nc - c0 < BC ? nc - c0 : BC);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, bq, bc, D, 1.0f,
                        Q + (size_t)q0 * D, D, C + (size_t)c0 * D, D, 0.0f, S, bc);
            sink += S[0];
        }
    }
    free(scratch);
    return sink;
}

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: %s DIR K THREADS REPS [BQ BC]\n", argv[0]);
        return 2;
    }
    const char *dir = argv[1];
    int k = atoi(argv[2]), threads = atoi(argv[3]), reps = atoi(argv[4]);
    int bq = argc > 5 ? atoi(argv[5]) : 0, bc = argc > 6 ? atoi(argv[6]) : 0;
    strata__topk_set_blocks(bq, bc);
    strata_set_threads(threads);
    strata_error err;
    strata_mat C, Q;
    char p[4096];
    snprintf(p, sizeof p, "%s/C.npy", dir);
    if (strata_mat_load(&C, p, &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
    snprintf(p, sizeof p, "%s/Q.npy", dir);
    if (strata_mat_load(&Q, p, &err)) { fprintf(stderr, "%s\n", err.msg); return 1; }
    int D = (int)C.cols;
    int64_t nq = Q.rows, nc = C.rows;
    /* touch the corpus once so both sides start from the page cache */
    volatile float t = 0;
    for (int64_t i = 0; i < nc * D; i += 1024) t += C.data[i];
    int64_t *idx = malloc((size_t)nq * k * sizeof *idx);
    float *sc = malloc((size_t)nq * k * sizeof *sc);
    double best = 1e30, best_g = 1e30, best_cpu = 1e30;
    for (int r = 0; r < reps; r++) {
        double c0 = bench_cpu();
        double t0 = bench_wall();
        if (strata_topk_ip(Q.data, nq, C.data, nc, D, NULL, NULL, k, idx, sc,
                           (strata_progress){0}, &err)) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        double t1 = bench_wall() - t0, c1 = bench_cpu() - c0;
        if (t1 < best) best = t1;
        if (c1 < best_cpu) best_cpu = c1;
        printf("strata rep %d: %.3f s (cpu %.3f s)\n", r, t1, c1);
        fflush(stdout);
    }
    const char *no_sgemm = getenv("TOPK_NO_SGEMM");
    if (!no_sgemm || !*no_sgemm) {
        for (int r = 0; r < reps; r++) {
            double t0 = bench_wall();
            volatile double s = sgemm_only(Q.data, nq, C.data, nc, D, bq > 0 ? bq : 512,
                                           bc > 0 ? bc : 1024);
            (void)s;
            double t1 = bench_wall() - t0;
            if (t1 < best_g) best_g = t1;
            printf("sgemm rep %d: %.3f s\n", r, t1);
            fflush(stdout);
        }
    }
    snprintf(p, sizeof p, "%s/strata_I.npy", dir);
    int64_t shape[2] = {nq, k};
    if (strata_npy_save(p, STRATA_DTYPE_I64, 2, shape, idx, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    double gflop = 2.0 * (double)nq * (double)nc * D * 1e-9;
    printf("strata_topk_s %.4f (%.1f GFLOP/s)\n", best, gflop / best);
    printf("strata_topk_cpu_s %.4f\n", best_cpu);
    if (best_g < 1e30) printf("sgemm_only_s %.4f (%.1f GFLOP/s)\n", best_g, gflop / best_g);
    free(idx);
    free(sc);
    strata_mat_free(&C);
    strata_mat_free(&Q);
    return 0;
}
