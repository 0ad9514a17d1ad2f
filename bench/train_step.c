/*
 * train_step.c — times one `strata train` step (forward + InfoNCE + backward
 * + clipping + AdamW) on random weights and ids, and measures the sgemm peak
 * of this machine with the same thread count. Built and run by
 * bench/bench_train.sh.
 *
 * usage: train_step L C H F N T THREADS STEPS [PRECISION]
 * (PRECISION fp32, the default, or bf16) prints one JSON line.
 */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "strata/train.h"
#include "bench_clock.h"

/* sgemm GFLOP/s, M=N=K=n, the way our kernels use it: OpenMP over row blocks,
 * each a single-threaded sgemm (strata_set_threads pins BLAS to 1). */
static double sgemm_peak(int n, int threads) {
    float *a = malloc(sizeof(float) * n * n), *b = malloc(sizeof(float) * n * n),
          *c = malloc(sizeof(float) * n * n);
    for (int i = 0; i < n * n; i++) a[i] = b[i] = 0.001f * (i % 97);
    double best = 0;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = bench_wall();
        int blk = n / threads;
#pragma omp parallel for num_threads(threads)
        for (int t = 0; t < threads; t++)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, blk, n, n, 1.0f,
                        a + (size_t)t * blk * n, n, b, n, 0.0f, c + (size_t)t * blk * n, n);
        double dt = bench_wall() - t0, g = 2.0 * n * n * n / dt / 1e9;
        if (g > best) best = g;
    }
    free(a); free(b); free(c);
    return best;
}

int main(int argc, char **argv) {
    if (argc != 9 && argc != 10) {
        fprintf(stderr, "usage: train_step L C H F N T THREADS STEPS [fp32|bf16]\n");
        return 2;
    }
    int L = atoi(argv[1]), C = atoi(argv[2]), H = atoi(argv[3]), F = atoi(argv[4]);
    int N = atoi(argv[5]), T = atoi(argv[6]), threads = atoi(argv[7]), steps = atoi(argv[8]);
    strata_set_threads(threads);
    strata_bert_config cfg = {.vocab_size = 30522, .hidden_size = C, .num_layers = L,
                              .num_heads = H, .intermediate_size = F, .max_position = 512,
                              .type_vocab_size = 2, .layer_norm_eps = 1e-12f,
                              .pool = STRATA_POOL_MEAN, .normalize = 1};
    size_t sizes[STRATA_BERT_NUM_TENSORS];
    size_t n = strata_bert_param_sizes(&cfg, sizes);
    float *p = malloc(n * sizeof(float)), *g = calloc(n, sizeof(float)),
          *m = calloc(n, sizeof(float)), *v = calloc(n, sizeof(float));
    strata_rng r;
    strata_rng_seed(&r, 1, 0);
    for (size_t i = 0; i < n; i++) p[i] = (float)(0.02 * strata_rng_normal(&r));
    strata_bert_weights w, gw;
    strata_bert_bind(&cfg, p, &w);
    strata_bert_bind(&cfg, g, &gw);
    for (int l = 0; l < L * C; l++) { w.ln1_w[l] = 1; w.ln2_w[l] = 1; }
    for (int c = 0; c < C; c++) w.emb_ln_w[c] = 1;
    int32_t *ids = malloc(sizeof(int32_t) * 2 * N * T);
    int *len = malloc(sizeof(int) * 2 * N);
    for (int i = 0; i < 2 * N; i++) {
        len[i] = T;
        for (int t = 0; t < T; t++) ids[i * T + t] = 1000 + (int)strata_rng_below(&r, 20000);
    }
    strata_train_ws *ws;
    strata_error err;
    if (strata_train_ws_create(&ws, &cfg, &err)) return 1;
    strata_precision prec = STRATA_PRECISION_FP32;
    if (argc == 10 && (strata_precision_parse(argv[9], &prec, &err) ||
                       strata_train_ws_set_precision(ws, prec, &err))) {
        fprintf(stderr, "%s\n", err.msg);
        return 2;
    }
    double total = 0, ctotal = 0;
    for (int s = 0; s < steps + 2; s++) {
        double t0 = bench_wall(), c0 = bench_cpu();
        memset(g, 0, n * sizeof(float));
        strata_infonce_stats st;
        if (strata_train_batch(ws, &cfg, &w, ids, len, N, T, NULL, 0.02, 0, STRATA_POOL_MEAN, 0,
                               &gw, &st, &err)) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        strata_train_optimizer_step(&cfg, p, g, m, v, 1e-5, 0.01, 1.0, 0.9, 0.999, 1e-8, s + 1);
        double dt = bench_wall() - t0, dc = bench_cpu() - c0;
        if (s >= 2) { /* two warm-up steps */
            total += dt;
            ctotal += dc;
        }
    }
    double step_s = total / steps;
    /* training FLOPs: 3x the forward matmuls (forward, dinput, dweight) */
    double tok = 2.0 * N * T;
    double fwd = tok * L * (2.0 * (4.0 * C * C + 2.0 * C * F) + 4.0 * T * C);
    double flops = 3.0 * fwd;
    double peak = getenv("TRAIN_STEP_NO_PEAK") ? 0.0 : sgemm_peak(1024, threads);
    printf("{\"impl\": \"strata-%s\", \"L\": %d, \"C\": %d, \"H\": %d, \"F\": %d, \"pairs\": %d, "
           "\"T\": %d, \"threads\": %d, \"step_ms\": %.2f, \"step_cpu_ms\": %.2f, \"gflops\": %.2f, "
           "\"sgemm_peak_gflops\": %.2f}\n",
           strata_precision_name(prec), L, C, H, F, N, T, threads, 1e3 * step_s, 1e3 * ctotal / steps, flops / step_s / 1e9, peak);
    strata_train_ws_free(ws);
    free(p); free(g); free(m); free(v); free(ids); free(len);
    return 0;
}
