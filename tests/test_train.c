/*
 * test_train.c — the trainer against PyTorch autograd (tests/ref/train_ref.py),
 * gradient caching against the full batch, thread-count invariance.
 *
 * Command-level tests (strata train, checkpoints, SIGKILL + resume, bad
 * input) are in test_train_cli.c.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strata/io.h"
#include "strata/train.h"
#include "train/train_kernels.h"
#include "testutil.h"

/* ------------------------------------------------------------------------ */
/* A tiny model with well-conditioned random weights                         */
/* ------------------------------------------------------------------------ */

typedef struct tiny {
    strata_bert_config cfg;
    float *params;          /* [n] */
    size_t n;
    strata_bert_weights w;
    int N, T;               /* pairs, max tokens */
    int32_t *ids;           /* [2N, T] */
    int *len;               /* [2N] */
    uint8_t *mask;          /* [N, ceil(N/8)] */
} tiny;

static uint64_t g_rng = 777;
static double urand(void) {
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (double)(g_rng >> 11) / 9007199254740992.0 * 2.0 - 1.0;
}

static void tiny_make(tiny *m, int N, int T) {
    memset(m, 0, sizeof *m);
    m->cfg = (strata_bert_config){.vocab_size = 64, .hidden_size = 32, .num_layers = 2,
                                  .num_heads = 4, .intermediate_size = 64,
                                  .max_position = 32, .type_vocab_size = 2,
                                  .layer_norm_eps = 1e-12f, .pool = STRATA_POOL_MEAN,
                                  .normalize = 1};
    size_t s[STRATA_BERT_NUM_TENSORS];
    m->n = strata_bert_param_sizes(&m->cfg, s);
    m->params = malloc(m->n * sizeof(float));
    float *p = m->params;
    for (int i = 0; i < STRATA_BERT_NUM_TENSORS; i++) {
        const char *nm = strata_train_tensor_name(i);
        int is_ln_w = strstr(nm, "LayerNorm.weight") != NULL;
        int is_b = strstr(nm, "bias") != NULL;
        int is_emb = i < 3;
        for (size_t j = 0; j < s[i]; j++)
            p[j] = (float)(is_ln_w ? 1.0 + 0.2 * urand()
                           : is_b ? 0.1 * urand()
                           : is_emb ? urand() : 0.3 * urand());
        p += s[i];
    }
    strata_bert_bind(&m->cfg, m->params, &m->w);
    m->N = N;
    m->T = T;
    m->ids = malloc(sizeof(int32_t) * 2 * N * T);
    m->len = malloc(sizeof(int) * 2 * N);
    int nb = (N + 7) / 8;
    m->mask = calloc((size_t)N * nb, 1);
    for (int i = 0; i < 2 * N; i++) {
        m->len[i] = 3 + (int)((urand() + 1) * 0.5 * (T - 3));
        if (m->len[i] > T) m->len[i] = T;
        for (int t = 0; t < T; t++)
            m->ids[i * T + t] = t < m->len[i] ? 1 + (int)((urand() + 1) * 0.5 * 62) : 0;
    }
    m->len[0] = T; /* one full-length sequence */
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++)
            if (i != j && urand() > 0.6) m->mask[i * nb + j / 8] |= (uint8_t)(1u << (j % 8));
}

static void tiny_free(tiny *m) {
    free(m->params);
    free(m->ids);
    free(m->len);
    free(m->mask);
}

static float *grads_of(tiny *m, int chunk, double tau, int sym, strata_pool pool,
                       strata_infonce_stats *st) {
    float *g = calloc(m->n, sizeof(float));
    strata_bert_weights gw;
    strata_bert_bind(&m->cfg, g, &gw);
    strata_train_ws *ws;
    strata_error err;
    assert_int_equal(strata_train_ws_create(&ws, &m->cfg, &err), STRATA_OK);
    assert_int_equal(strata_train_batch(ws, &m->cfg, &m->w, m->ids, m->len, m->N, m->T,
                                        m->mask, tau, sym, pool, chunk, &gw, st, &err),
                     STRATA_OK);
    strata_train_ws_free(ws);
    return g;
}

/* ------------------------------------------------------------------------ */
/* PyTorch reference                                                         */
/* ------------------------------------------------------------------------ */

static void run_reference(strata_pool pool, int sym) {
    TU_REQUIRE_PY("torch");
    TU_REQUIRE_PY("numpy");
    const double tau = 0.05, lr = 1e-3, wd = 0.01, clip = 1.0;
    const int steps = 10, warmup = 3;
    tiny m;
    tiny_make(&m, 8, 16);
    int N = m.N, T = m.T, n_seq = 2 * N, C = m.cfg.hidden_size, L = m.cfg.num_layers;
    char dir[512];
    snprintf(dir, sizeof dir, "%s/ref_%d_%d", tu_tmpdir(), (int)pool, sym);
    strata_error err;
    assert_int_equal(strata_mkdirs(dir, &err), STRATA_OK);
    assert_int_equal(strata_train_save_block(tu_join(dir, "init.safetensors"), &m.cfg,
                                             m.params, &err), STRATA_OK);
    int64_t sh_ids[2] = {n_seq, T}, sh_len[1] = {n_seq}, sh_mask[2] = {N, (N + 7) / 8};
    assert_int_equal(strata_npy_save(tu_join(dir, "ids.npy"), STRATA_DTYPE_I32, 2, sh_ids, m.ids, &err), 0);
    assert_int_equal(strata_npy_save(tu_join(dir, "lengths.npy"), STRATA_DTYPE_I32, 1, sh_len, m.len, &err), 0);
    assert_int_equal(strata_npy_save(tu_join(dir, "mask.npy"), STRATA_DTYPE_U8, 2, sh_mask, m.mask, &err), 0);
    char args[512];
    snprintf(args, sizeof args,
             "{\"pool\": \"%s\", \"symmetric\": %d, \"tau\": %g, \"lr\": %g, \"warmup\": %d,"
             " \"steps\": %d, \"wd\": %g, \"clip\": %g, \"eps\": 1e-12, \"L\": %d, \"H\": %d}\n",
             pool == STRATA_POOL_CLS ? "cls" : "mean", sym, tau, lr, warmup, steps, wd, clip,
             L, m.cfg.num_heads);
    tu_write_str(tu_join(dir, "args.json"), args);

    /* forward activations: hidden states of every layer and the embeddings */
    strata_train_acts *a;
    assert_int_equal(strata_train_acts_create(&a, &m.cfg, n_seq, T, &err), STRATA_OK);
    float *emb = malloc(sizeof(float) * n_seq * C);
    strata_train_forward(&m.cfg, &m.w, a, m.ids, m.len, n_seq, T, pool, emb);
    strata_tensor t[8];
    char names[8][32];
    memset(t, 0, sizeof t);
    for (int l = 0; l <= L; l++) {
        snprintf(names[l], 32, "hidden.%d", l);
        t[l] = (strata_tensor){.name = names[l], .dtype = STRATA_DTYPE_F32, .ndim = 3,
                               .shape = {n_seq, T, C}, .count = (int64_t)n_seq * T * C,
                               .data = strata__tr_acts_res(a, l),
                               .nbytes = sizeof(float) * n_seq * T * C};
    }
    t[L + 1] = (strata_tensor){.name = "emb", .dtype = STRATA_DTYPE_F32, .ndim = 2,
                               .shape = {n_seq, C}, .count = (int64_t)n_seq * C,
                               .data = emb, .nbytes = sizeof(float) * n_seq * C};
    assert_int_equal(strata_safetensors_save(tu_join(dir, "fwd.safetensors"), L + 2, t, NULL, &err), 0);
    strata_train_acts_free(a);
    free(emb);

    /* loss and gradients of the whole batch */
    strata_infonce_stats st;
    float *g = grads_of(&m, 0, tau, sym, pool, &st);
    assert_int_equal(strata_train_save_block(tu_join(dir, "grads.safetensors"), &m.cfg, g, &err), 0);

    /* ten AdamW steps */
    float *mm = calloc(m.n, sizeof(float)), *vv = calloc(m.n, sizeof(float));
    double losses[10];
    strata_train_ws *ws;
    assert_int_equal(strata_train_ws_create(&ws, &m.cfg, &err), STRATA_OK);
    strata_bert_weights gw;
    strata_bert_bind(&m.cfg, g, &gw);
    for (int s = 0; s < steps; s++) {
        memset(g, 0, sizeof(float) * m.n);
        strata_infonce_stats st2;
        assert_int_equal(strata_train_batch(ws, &m.cfg, &m.w, m.ids, m.len, N, T, m.mask, tau,
                                            sym, pool, 0, &gw, &st2, &err), 0);
        losses[s] = st2.loss;
        strata_train_optimizer_step(&m.cfg, m.params, g, mm, vv,
                                    strata_train_lr(lr, warmup, steps, s), wd, clip, 0.9,
                                    0.999, 1e-8, s + 1);
    }
    strata_train_ws_free(ws);
    char cj[2048];
    int k = snprintf(cj, sizeof cj, "{\"loss\": %.17g, \"losses\": [", st.loss);
    for (int s = 0; s < steps; s++) k += snprintf(cj + k, sizeof cj - k, "%s%.17g", s ? ", " : "", losses[s]);
    snprintf(cj + k, sizeof cj - k, "]}\n");
    tu_write_str(tu_join(dir, "c.json"), cj);
    /* the loss went down over ten steps (sanity, before the reference) */
    assert_true(losses[steps - 1] < losses[0]);

    int rc = tu_sh("%s tests/ref/train_ref.py check %s 2>&1", tu_python(), dir);
    char *out = strdup(tu_last_out());
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n"))
        print_message("%s\n", line);
    free(out);
    assert_int_equal(rc, 0);
    free(g);
    free(mm);
    free(vv);
    tiny_free(&m);
}

static void test_torch_mean_symmetric(void **state) {
    (void)state;
    run_reference(STRATA_POOL_MEAN, 1);
}

static void test_torch_cls(void **state) {
    (void)state;
    run_reference(STRATA_POOL_CLS, 0);
}

/* ------------------------------------------------------------------------ */
/* Gradient caching and determinism                                          */
/* ------------------------------------------------------------------------ */

/* Normwise relative difference per tensor. The key bias is skipped: its
 * gradient is analytically zero (softmax is shift-invariant per query row),
 * both sides hold float noise, so it is checked against the global norm. */
static double max_tensor_rel(const strata_bert_config *cfg, const float *a, const float *b) {
    size_t s[STRATA_BERT_NUM_TENSORS];
    strata_bert_param_sizes(cfg, s);
    double worst = 0, tot = 0, kb = 0;
    for (size_t j = 0; j < strata_bert_param_sizes(cfg, s); j++) tot += (double)a[j] * a[j];
    size_t off = 0;
    for (int i = 0; i < STRATA_BERT_NUM_TENSORS; i++) {
        if (strstr(strata_train_tensor_name(i), "key.bias")) {
            for (size_t j = off; j < off + s[i]; j++)
                kb += ((double)a[j] - b[j]) * ((double)a[j] - b[j]);
            if (sqrt(kb / tot) > worst) worst = sqrt(kb / tot);
            off += s[i];
            continue;
        }
        double d = 0, n = 0;
        for (size_t j = off; j < off + s[i]; j++) {
            d += ((double)a[j] - b[j]) * ((double)a[j] - b[j]);
            n += (double)a[j] * a[j];
        }
        double r = n > 0 ? sqrt(d / n) : sqrt(d);
        if (r > worst) worst = r;
        off += s[i];
    }
    return worst;
}

/* GradCache gives the full batch's gradients: chunks of 3 and 5 sequences
 * (uneven, crossing the query/document boundary) within 1e-5 relative per
 * tensor (the bound; only float rounding differs). */
static void test_gradcache_equal(void **state) {
    (void)state;
    tiny m;
    tiny_make(&m, 8, 16);
    strata_infonce_stats s0, s3, s5;
    float *g0 = grads_of(&m, 0, 0.02, 1, STRATA_POOL_MEAN, &s0);
    float *g3 = grads_of(&m, 3, 0.02, 1, STRATA_POOL_MEAN, &s3);
    float *g5 = grads_of(&m, 5, 0.02, 1, STRATA_POOL_MEAN, &s5);

    double r3 = max_tensor_rel(&m.cfg, g0, g3), r5 = max_tensor_rel(&m.cfg, g0, g5);
    print_message("gradcache: chunk 3 rel %.2e, chunk 5 rel %.2e (loss %.9g %.9g %.9g)\n", r3, r5,
                  s0.loss, s3.loss, s5.loss);
    assert_true(r3 <= 1e-5);
    assert_true(r5 <= 1e-5);
    assert_true(fabs(s0.loss - s3.loss) <= 1e-6 * fabs(s0.loss));
    free(g0);
    free(g3);
    free(g5);
    tiny_free(&m);
}

/* The same gradients, bit for bit, with 1 and 2 threads. */
static void test_threads_bitwise(void **state) {
    (void)state;
    tiny m;
    tiny_make(&m, 8, 16);
    strata_infonce_stats s1, s2;
    int old = strata_get_threads();
    strata_set_threads(1);
    float *g1 = grads_of(&m, 0, 0.02, 0, STRATA_POOL_MEAN, &s1);
    strata_set_threads(2);
    float *g2 = grads_of(&m, 0, 0.02, 0, STRATA_POOL_MEAN, &s2);
    strata_set_threads(old);
    assert_memory_equal(g1, g2, m.n * sizeof(float));
    assert_true(s1.loss == s2.loss);
    free(g1);
    free(g2);
    tiny_free(&m);
}

/* Bad arguments to the batch function are errors, not crashes. */
static void test_batch_bad_input(void **state) {
    (void)state;
    tiny m;
    tiny_make(&m, 2, 8);
    float *g = calloc(m.n, sizeof(float));
    strata_bert_weights gw;
    strata_bert_bind(&m.cfg, g, &gw);
    strata_train_ws *ws;
    strata_error err;
    assert_int_equal(strata_train_ws_create(&ws, &m.cfg, &err), STRATA_OK);
    m.ids[1] = 999; /* outside the 64-token vocabulary */
    assert_int_equal(strata_train_batch(ws, &m.cfg, &m.w, m.ids, m.len, 2, 8, NULL, 0.02, 0,
                                        STRATA_POOL_CLS, 0, &gw, NULL, &err), STRATA_EINVAL);
    assert_non_null(strstr(err.msg, "out of range"));
    m.ids[1] = 1;
    m.len[2] = 0;
    assert_int_equal(strata_train_batch(ws, &m.cfg, &m.w, m.ids, m.len, 2, 8, NULL, 0.02, 0,
                                        STRATA_POOL_CLS, 0, &gw, NULL, &err), STRATA_EINVAL);
    assert_non_null(strstr(err.msg, "length"));
    strata_train_ws_free(ws);
    free(g);
    tiny_free(&m);
}

/* An allocator that fails the n-th allocation (1-based; 0: none). */
static long g_count, g_fail_at;
static void *oom_malloc(size_t n, void *ud) {
    (void)ud;
    return ++g_count == g_fail_at ? NULL : malloc(n);
}
static void *oom_realloc(void *p, size_t n, void *ud) {
    (void)ud;
    return ++g_count == g_fail_at ? NULL : realloc(p, n);
}
static void oom_free(void *p, void *ud) {
    (void)ud;
    free(p);
}

/* Every allocation of a training step failed in turn: the step reports
 * ENOMEM or returns finite statistics (issue #15: strata_infonce turned
 * out of memory into a NaN loss with STRATA_OK). */
static void test_batch_out_of_memory(void **state) {
    (void)state;
    tiny m;
    tiny_make(&m, 6, 8);
    float *g = calloc(m.n, sizeof(float));
    strata_bert_weights gw;
    strata_bert_bind(&m.cfg, g, &gw);
    strata_error err;
    strata_allocator a = {oom_malloc, oom_realloc, oom_free, NULL};
    long total = -1;
    int failed = 0;
    for (long n = 0; total < 0 || n <= total; n++) {
        g_count = 0;
        g_fail_at = n;
        strata_set_allocator(&a);
        strata_train_ws *ws = NULL;
        strata_infonce_stats st = {0, 0, 0};
        strata_status s = strata_train_ws_create(&ws, &m.cfg, &err);
        if (!s)
            s = strata_train_batch(ws, &m.cfg, &m.w, m.ids, m.len, m.N, m.T, m.mask, 0.05, 1,
                                   STRATA_POOL_MEAN, 4, &gw, &st, &err);
        strata_train_ws_free(ws);
        strata_set_allocator(NULL);
        if (n == 0) {
            assert_int_equal(s, STRATA_OK);
            total = g_count;
            continue;
        }
        if (s) {
            if (s != STRATA_ENOMEM) fail_msg("allocation %ld: status %d: %s", n, (int)s, err.msg);
            failed++;
        } else if (!isfinite(st.loss) || !isfinite(st.acc)) {
            fail_msg("allocation %ld of %ld failed, yet the step returned OK with loss %g", n,
                     total, st.loss);
        }
    }
    assert_true(failed > 0);
    free(g);
    tiny_free(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_torch_mean_symmetric),
        cmocka_unit_test(test_torch_cls),
        cmocka_unit_test(test_gradcache_equal),
        cmocka_unit_test(test_threads_bitwise),
        cmocka_unit_test(test_batch_bad_input),
        cmocka_unit_test(test_batch_out_of_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
