/*
 * encoder_bench.c — timing driver for bench/bench_encoder.sh.
 *
 *   encoder_bench sgemm N THREADS          peak sgemm GFLOP/s (N x N x N)
 *   encoder_bench linear THREADS           linear-layer variants on MiniLM shapes
 *   encoder_bench embed MODEL TEXTS.jsonl MAX_LEN BATCH THREADS OUT.npy [PRECISION]
 *        embeds the texts (one JSON string per line) with strata_bert_embed_texts,
 *        prints texts/s, seconds, forward GFLOP and GFLOP/s (FLOPs counted on
 *        the padded batches actually run: linear layers 2*N*(4C^2 + 2CF) per
 *        layer, attention 4*B*T*T*C per layer). PRECISION: fp32 (default),
 *        bf16 or int8 (strata_precision).
 */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "encoder/kernels.h"
#include "strata/encoder.h"
#include "strata/io.h"
#include "bench_clock.h"

static void randf(float *x, size_t n) {
    strata_rng r;
    strata_rng_seed(&r, 1, 0);
    for (size_t i = 0; i < n; i++) x[i] = (float)strata_rng_uniform(&r) - 0.5f;
}

static int bench_sgemm(int n, int threads) {
    float *a = malloc(sizeof(float) * n * n), *b = malloc(sizeof(float) * n * n);
    float *c = malloc(sizeof(float) * n * n);
    randf(a, (size_t)n * n);
    randf(b, (size_t)n * n);
    strata_set_threads(threads);
    strata_blas_threads(threads);
    double best = 1e30;
    for (int rep = 0; rep < 5; rep++) {
        double t = bench_wall();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
        t = bench_wall() - t;
        if (t < best) best = t;
    }
    strata_blas_threads(1);
    printf("sgemm n=%d threads=%d GFLOP/s %.1f\n", n, threads, 2.0 * n * n * (double)n / best / 1e9);
    free(a); free(b); free(c);
    return 0;
}

/* One BLAS call with BLAS threads vs OpenMP row blocks of single-threaded sgemm. */
static int bench_linear(int threads) {
    int64_t N = 64 * 128;
    int shapes[3][2] = {{384, 384}, {384, 1536}, {1536, 384}};
    float *x = malloc(sizeof(float) * N * 1536), *w = malloc(sizeof(float) * 1536 * 1536);
    float *y = malloc(sizeof(float) * N * 1536), *bias = calloc(1536, sizeof(float));
    randf(x, (size_t)N * 1536);
    randf(w, 1536 * 1536);
    strata_set_threads(threads);
    for (int s = 0; s < 3; s++) {
        int IC = shapes[s][0], OC = shapes[s][1];
        double flop = 2.0 * N * IC * OC, t_blk = 1e30, t_one = 1e30;
        for (int rep = 0; rep < 5; rep++) {
            double t = bench_wall();
            strata_k_linear_forward(y, x, w, bias, N, IC, OC);
            t = bench_wall() - t;
            if (t < t_blk) t_blk = t;
            strata_blas_threads(threads);
            t = bench_wall();
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)N, OC, IC, 1.0f, x, IC, w, IC,
                        0.0f, y, OC);
            t = bench_wall() - t;
            strata_blas_threads(1);
            if (t < t_one) t_one = t;
        }
        printf("linear N=%lld %dx%d: row blocks (%d rows) %.1f GFLOP/s, one BLAS call %.1f GFLOP/s\n",
               (long long)N, IC, OC, STRATA_K_ROW_BLOCK, flop / t_blk / 1e9, flop / t_one / 1e9);
    }
    free(x); free(w); free(y); free(bias);
    return 0;
}

static int bench_embed(const char *model_dir, const char *texts_path, int max_len, int bs,
                       int threads, const char *out_path, const char *prec) {
    strata_error err;
    strata_bert *m;
    if (strata_bert_load(&m, model_dir, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    strata_set_threads(threads);
    char *data;
    size_t len;
    if (strata_read_file(texts_path, &data, &len, 0, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    int n = 0, cap = 1024;
    char **t = malloc(sizeof(char *) * cap);
    size_t *l = malloc(sizeof(size_t) * cap);
    for (char *p = data; *p;) {
        char *e = strchr(p, '\n');
        if (e) *e = 0;
        cJSON *j = cJSON_Parse(p);
        if (n == cap) {
            cap *= 2;
            t = realloc(t, sizeof(char *) * cap);
            l = realloc(l, sizeof(size_t) * cap);
        }
        t[n] = strdup(cJSON_GetStringValue(j));
        l[n] = strlen(t[n]);
        n++;
        cJSON_Delete(j);
        if (!e) break;
        p = e + 1;
    }
    /* FLOPs of the batches strata_bert_embed_texts forms (same sort) */
    int C = m->cfg.hidden_size, F = m->cfg.intermediate_size, L = m->cfg.num_layers;
    int *tl = malloc(sizeof(int) * n);
    int32_t *ids = malloc(sizeof(int32_t) * max_len);
    for (int i = 0; i < n; i++) {
        strata_tokenizer_encode(m->tok, t[i], l[i], 1, max_len, ids, &tl[i], &err);
    }
    double flop = 0;
    for (int c0 = 0; c0 < n; c0 += 8192) {
        int cn = n - c0 < 8192 ? n - c0 : 8192;
        int *s = malloc(sizeof(int) * cn);
        memcpy(s, tl + c0, sizeof(int) * cn);
        /* descending sort of lengths */
        for (int i = 1; i < cn; i++) {
            int v = s[i], j = i;
            while (j > 0 && s[j - 1] < v) { s[j] = s[j - 1]; j--; }
            s[j] = v;
        }
        for (int b0 = 0; b0 < cn; b0 += bs) {
            int B = cn - b0 < bs ? cn - b0 : bs, T = s[b0];
            double Ntok = (double)B * T;
            flop += L * (2.0 * Ntok * (4.0 * C * C + 2.0 * C * F) + 4.0 * B * (double)T * T * C);
        }
        free(s);
    }
    float *out = malloc(sizeof(float) * (size_t)n * C);
    strata_embed_params p = strata_embed_default_params();
    p.max_len = max_len;
    p.batch_size = bs;
    p.precision = STRATA_PRECISION_FP32;
    if (prec && strata_precision_parse(prec, &p.precision, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 2;
    }
    double t0 = bench_wall(), c0 = bench_cpu();
    if (strata_bert_embed_texts(m, (const char *const *)t, l, n, &p, out, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    double dt = bench_wall() - t0, dc = bench_cpu() - c0;
    printf("texts/s %.2f\nseconds %.4f\ncpu_seconds %.4f\nGFLOP %.1f\nGFLOP/s %.1f\n"
           "GFLOP/cpu-s %.1f\n", n / dt, dt, dc, flop / 1e9, flop / dt / 1e9, flop / dc / 1e9);
    int64_t shape[2] = {n, C};
    if (out_path && strata_npy_save(out_path, STRATA_DTYPE_F32, 2, shape, out, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    for (int i = 0; i < n; i++) free(t[i]);
    free(t); free(l); free(tl); free(ids); free(out); strata_free(data);
    strata_bert_free(m);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 4 && strcmp(argv[1], "sgemm") == 0) return bench_sgemm(atoi(argv[2]), atoi(argv[3]));
    if (argc >= 3 && strcmp(argv[1], "linear") == 0) return bench_linear(atoi(argv[2]));
    if (argc >= 7 && strcmp(argv[1], "embed") == 0)
        return bench_embed(argv[2], argv[3], atoi(argv[4]), atoi(argv[5]), atoi(argv[6]),
                           argc > 7 ? argv[7] : NULL, argc > 8 ? argv[8] : NULL);
    fprintf(stderr, "usage: see the comment at the top of bench/encoder_bench.c\n");
    return 2;
}
