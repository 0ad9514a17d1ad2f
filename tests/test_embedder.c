/*
 * test_embedder.c — the embedder interface (embedder.h) over hash, BERT and
 * contextual models: each kind gives the same bytes as the function it
 * wraps, the parameters that do not apply are refused, the states that
 * cannot embed (unfitted hash, contextual without a context) say so, and an
 * invalid text is reported as an item (err.item, strata_error_detail)
 * whatever the kind.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "strata/embedder.h"
#include "testutil.h"

enum { V = 40, N = 7 };

static const char *TEXTS[N] = {
    "w5 w6 w7 w8",    "w9 w10 w11",       "w12 w5 w5 w20 w31", "w33 w34",
    "w6 w7 w8 w9 w10", "w39 w38 w37 w36", "w15"};

static void text_lens(size_t *lens) {
    for (int i = 0; i < N; i++) lens[i] = strlen(TEXTS[i]);
}

static strata_tokenizer *tiny_vocab(void) {
    char buf[2048];
    int k = snprintf(buf, sizeof buf, "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n");
    for (int i = 5; i < V; i++) k += snprintf(buf + k, sizeof buf - k, "w%d\n", i);
    const char *p = tu_join(tu_tmpdir(), "vocab.txt");
    tu_write_str(p, buf);
    strata_tokenizer *tok;
    strata_error err;
    assert_int_equal(strata_tokenizer_load(&tok, p, NULL, &err), STRATA_OK);
    return tok;
}

static strata_bert_config tiny_config(void) {
    strata_bert_config c;
    memset(&c, 0, sizeof c);
    c.vocab_size = V;
    c.hidden_size = 16;
    c.num_layers = 1;
    c.num_heads = 2;
    c.intermediate_size = 32;
    c.max_position = 64;
    c.type_vocab_size = 2;
    c.layer_norm_eps = 1e-12;
    c.pool = STRATA_POOL_MEAN;
    return c;
}

/* A saved BERT folder (random weights, seed 3). */
static const char *bert_dir(void) {
    static char dir[512];
    if (dir[0]) return dir;
    snprintf(dir, sizeof dir, "%s/bert", tu_tmpdir());
    strata_bert_config c = tiny_config();
    strata_bert *m;
    strata_error err;
    assert_int_equal(strata_bert_create(&m, &c, tiny_vocab(), 3, &err), STRATA_OK);
    assert_int_equal(strata_bert_save(m, dir, &err), STRATA_OK);
    strata_bert_free(m);
    return dir;
}

/* A saved contextual folder (J = 4, seed 5). */
static const char *ctx_dir(void) {
    static char dir[512];
    if (dir[0]) return dir;
    snprintf(dir, sizeof dir, "%s/ctx", tu_tmpdir());
    strata_ctx_config c;
    memset(&c, 0, sizeof c);
    c.bert = tiny_config();
    c.context_size = 4;
    c.n_prompt = 2;
    strata_ctx_model *m;
    strata_error err;
    assert_int_equal(strata_ctx_create(&m, &c, tiny_vocab(), 5, &err), STRATA_OK);
    assert_int_equal(strata_ctx_save(m, dir, &err), STRATA_OK);
    strata_ctx_free(m);
    return dir;
}

/* hash: fitted through the interface = strata_hash_idf_fit + embed; a
 * saved and reloaded IDF table gives the same bytes. */
static void test_hash_same_as_direct(void **state) {
    (void)state;
    size_t lens[N];
    text_lens(lens);
    strata_error err;
    strata_embedder_params p = strata_embedder_default_params();
    p.hash.dim = 24;
    p.hash.seed = 9;
    strata_embedder *e;
    assert_int_equal(strata_embedder_open(&e, "hash", &p, &err), STRATA_OK);
    assert_int_equal(strata_embedder_kind_of(e), STRATA_EMBEDDER_HASH);
    assert_int_equal(strata_embedder_dim(e), 24);
    assert_true(strata_embedder_needs_fit(e));
    float got[N * 24], want[N * 24], again[N * 24];
    assert_int_equal(strata_embedder_embed(e, TEXTS, lens, N, NULL, got, &err), STRATA_ESTATE);
    assert_int_equal(strata_embedder_fit(e, TEXTS, lens, N, NULL, &err), STRATA_OK);
    assert_false(strata_embedder_needs_fit(e));
    assert_int_equal(strata_embedder_embed(e, TEXTS, lens, N, NULL, got, &err), STRATA_OK);
    strata_hash_idf idf;
    assert_int_equal(strata_hash_idf_fit(&idf, TEXTS, lens, N, &p.hash, &err), STRATA_OK);
    assert_int_equal(strata_hash_embed(&idf, TEXTS, lens, N, &p.hash, want, &err), STRATA_OK);
    strata_hash_idf_free(&idf);
    assert_memory_equal(got, want, sizeof got);
    const char *path = tu_join(tu_tmpdir(), "idf.npy");
    assert_int_equal(strata_embedder_save_idf(e, path, &err), STRATA_OK);
    strata_embedder_free(e);
    p.idf = path;
    assert_int_equal(strata_embedder_open(&e, "hash", &p, &err), STRATA_OK);
    assert_false(strata_embedder_needs_fit(e));
    assert_int_equal(strata_embedder_embed(e, TEXTS, lens, N, NULL, again, &err), STRATA_OK);
    assert_memory_equal(again, want, sizeof again);
    assert_null(strata_embedder_contextual(e));
    assert_int_equal(strata_embedder_set_context(e, NULL, 4, &err), STRATA_ESTATE);
    strata_embedder_free(e);
    /* the table was fitted without bigrams: asking for them is refused */
    p.hash.bigrams = 1;
    assert_int_equal(strata_embedder_open(&e, "hash", &p, &err), STRATA_EINVAL);
    assert_null(e);
    assert_non_null(strstr(err.msg, "bigrams"));
}

/* BERT: the interface = strata_bert_embed_texts on the loaded folder, with
 * pooling and normalization overridden as asked. */
static void test_bert_same_as_direct(void **state) {
    (void)state;
    size_t lens[N];
    text_lens(lens);
    strata_error err;
    strata_embedder_params p = strata_embedder_default_params();
    p.embed.precision = STRATA_PRECISION_FP32;
    p.embed.max_len = 6; /* truncates texts 2 and 4 */
    p.embed.batch_size = 3;
    p.pool = STRATA_POOL_CLS;
    p.normalize = 1;
    strata_embedder *e;
    assert_int_equal(strata_embedder_open(&e, bert_dir(), &p, &err), STRATA_OK);
    assert_int_equal(strata_embedder_kind_of(e), STRATA_EMBEDDER_BERT);
    assert_int_equal(strata_embedder_dim(e), 16);
    assert_false(strata_embedder_needs_fit(e));
    assert_int_equal(strata_embedder_fit(e, TEXTS, lens, N, NULL, &err), STRATA_ESTATE);
    float got[N * 16], want[N * 16];
    assert_int_equal(strata_embedder_embed(e, TEXTS, lens, N, NULL, got, &err), STRATA_OK);
    strata_embedder_free(e);
    strata_bert *m;
    assert_int_equal(strata_bert_load(&m, bert_dir(), &err), STRATA_OK);
    m->cfg.pool = STRATA_POOL_CLS;
    m->cfg.normalize = 1;
    assert_int_equal(strata_bert_embed_texts(m, TEXTS, lens, N, &p.embed, want, &err),
                     STRATA_OK);
    strata_bert_free(m);
    assert_memory_equal(got, want, sizeof got);
    /* normalized: unit rows (the override took effect) */
    for (int i = 0; i < N; i++) {
        double s = 0;
        for (int j = 0; j < 16; j++) s += (double)got[i * 16 + j] * got[i * 16 + j];
        assert_true(s > 0.9999 && s < 1.0001);
    }
}

/* contextual: no context -> ESTATE; with one, the interface =
 * strata_ctx_embed_texts with that context (and the null context). */
static void test_contextual_same_as_direct(void **state) {
    (void)state;
    size_t lens[N];
    text_lens(lens);
    strata_error err;
    strata_embedder *e;
    assert_int_equal(strata_embedder_open(&e, ctx_dir(), NULL, &err), STRATA_OK);
    assert_int_equal(strata_embedder_kind_of(e), STRATA_EMBEDDER_CONTEXTUAL);
    const strata_ctx_model *cm = strata_embedder_contextual(e);
    assert_non_null(cm);
    float got[N * 16], want[N * 16], E[4 * 16];
    assert_int_equal(strata_embedder_embed(e, TEXTS, lens, N, NULL, got, &err), STRATA_ESTATE);
    strata_embed_params ep = strata_embed_default_params();
    assert_int_equal(strata_ctx_context_from_texts(cm, TEXTS, lens, N, 4, 1, &ep, E, NULL, &err),
                     STRATA_OK);
    assert_int_equal(strata_embedder_set_context(e, E, 0, &err), STRATA_EINVAL);
    for (int null_ctx = 0; null_ctx < 2; null_ctx++) {
        const float *ctx = null_ctx ? NULL : E;
        assert_int_equal(strata_embedder_set_context(e, ctx, 4, &err), STRATA_OK);
        assert_int_equal(strata_embedder_embed(e, TEXTS, lens, N, NULL, got, &err), STRATA_OK);
        assert_int_equal(strata_ctx_embed_texts(cm, ctx, 4, TEXTS, lens, N, &ep, want, &err),
                         STRATA_OK);
        assert_memory_equal(got, want, sizeof got);
    }
    strata_embedder_free(e);
}

/* Parameters that do not apply, or are out of range, fail at open with a
 * sentence naming them. */
static void test_params_checked(void **state) {
    (void)state;
    strata_error err;
    strata_embedder *e = (strata_embedder *)&err; /* must be reset to NULL */
    strata_embedder_params p = strata_embedder_default_params();
    p.pool = STRATA_POOL_CLS;
    assert_int_equal(strata_embedder_open(&e, "hash", &p, &err), STRATA_EINVAL);
    assert_null(e);
    assert_non_null(strstr(err.msg, "pooling"));
    p = strata_embedder_default_params();
    p.hash.dim = 0;
    assert_int_equal(strata_embedder_open(&e, "hash", &p, &err), STRATA_EINVAL);
    assert_non_null(strstr(err.msg, "dim 0"));
    p = strata_embedder_default_params();
    p.idf = "idf.npy";
    assert_int_equal(strata_embedder_open(&e, bert_dir(), &p, &err), STRATA_EINVAL);
    assert_non_null(strstr(err.msg, "IDF"));
    p = strata_embedder_default_params();
    p.embed.max_len = 1;
    assert_int_equal(strata_embedder_open(&e, bert_dir(), &p, &err), STRATA_EINVAL);
    assert_non_null(strstr(err.msg, "max_len 1"));
    p = strata_embedder_default_params();
    p.normalize = 1;
    assert_int_equal(strata_embedder_open(&e, ctx_dir(), &p, &err), STRATA_EINVAL);
    p = strata_embedder_default_params();
    p.embed.precision = STRATA_PRECISION_BF16;
    assert_int_equal(strata_embedder_open(&e, ctx_dir(), &p, &err), STRATA_EINVAL);
    assert_non_null(strstr(err.msg, "fp32"));
    /* a folder that is no model: the loader's error */
    assert_int_not_equal(strata_embedder_open(&e, tu_tmpdir(), NULL, &err), STRATA_OK);
    assert_null(e);
    assert_int_equal(strata_embedder_open(NULL, "hash", NULL, &err), STRATA_EINVAL);
}

/* Text 5 is invalid UTF-8: every kind reports item 5, and the detail is
 * the message without "text 5: "; a prefix added later keeps both. */
static void test_bad_text_is_an_item(void **state) {
    (void)state;
    const char *bad[N];
    size_t lens[N];
    memcpy(bad, TEXTS, sizeof bad);
    bad[5] = "w6 \xff w7";
    for (int i = 0; i < N; i++) lens[i] = strlen(bad[i]);
    const char *models[3] = {"hash", bert_dir(), ctx_dir()};
    float out[N * 256];
    for (int k = 0; k < 3; k++) {
        strata_error err;
        strata_embedder *e;
        strata_embedder_params p = strata_embedder_default_params();
        p.embed.precision = STRATA_PRECISION_FP32;
        assert_int_equal(strata_embedder_open(&e, models[k], &p, &err), STRATA_OK);
        strata_status st;
        if (k == 0) {
            st = strata_embedder_fit(e, bad, lens, N, NULL, &err);
        } else {
            if (k == 2) assert_int_equal(strata_embedder_set_context(e, NULL, 4, &err), 0);
            st = strata_embedder_embed(e, bad, lens, N, NULL, out, &err);
        }
        assert_int_equal(st, STRATA_EFORMAT);
        assert_int_equal(err.item, 5);
        assert_true(strncmp(err.msg, "text 5: ", 8) == 0);
        assert_string_equal(strata_error_detail(&err), err.msg + 8);
        assert_non_null(strstr(strata_error_detail(&err), "UTF-8"));
        strata_error_prefix(&err, "model %d", k);
        assert_int_equal(err.item, 5);
        assert_non_null(strstr(err.msg, "text 5: "));
        assert_string_equal(strata_error_detail(&err), strstr(err.msg, "text 5: ") + 8);
        strata_error_set(&err, STRATA_EIO, "another");
        assert_int_equal(err.item, -1);
        assert_string_equal(strata_error_detail(&err), "another");
        strata_embedder_free(e);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_same_as_direct),
        cmocka_unit_test(test_bert_same_as_direct),
        cmocka_unit_test(test_contextual_same_as_direct),
        cmocka_unit_test(test_params_checked),
        cmocka_unit_test(test_bad_text_is_an_item),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
