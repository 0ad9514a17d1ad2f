/*
 * test_hash.c — the hashed TF-IDF embedder: against an independent numpy
 * implementation (tests/ref/encoder_hash_ref.py, words from Hugging Face
 * tokenizers' BertNormalizer + BertPreTokenizer), determinism, unit norm,
 * IDF save/load round trip, thread-count independence, similar texts closer
 * than unrelated ones, and `strata embed --model hash` (pairs, BEIR, bad
 * input).
 */
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strata/embed.h"
#include "strata/io.h"
#include "testutil.h"

#if defined(__SANITIZE_ADDRESS__)
#define N_REF 60 /* fewer texts under ASan to keep CI time down */
#else
#define N_REF 300
#endif

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

static void add(texts *x, const char *s) {
    x->t = realloc(x->t, sizeof(char *) * (size_t)(x->n + 1));
    x->len = realloc(x->len, sizeof(size_t) * (size_t)(x->n + 1));
    x->t[x->n] = strdup(s);
    x->len[x->n] = strlen(s);
    x->n++;
}

/* First max SciFact corpus texts (title + " " + text). */
static void read_corpus(texts *x, int max) {
    FILE *in = fopen(tu_data("beir/scifact/corpus.jsonl"), "r");
    assert_non_null(in);
    char *line = NULL;
    size_t cap = 0;
    while (x->n < max && getline(&line, &cap, in) > 0) {
        cJSON *j = cJSON_Parse(line);
        const char *title = cJSON_GetStringValue(cJSON_GetObjectItem(j, "title"));
        const char *text = cJSON_GetStringValue(cJSON_GetObjectItem(j, "text"));
        char *s = malloc(strlen(title) + strlen(text) + 2);
        sprintf(s, "%s%s%s", title, title[0] ? " " : "", text);
        add(x, s);
        free(s);
        cJSON_Delete(j);
    }
    free(line);
    fclose(in);
}

static float *embed_all(const texts *x, const strata_hash_params *p, strata_hash_idf *idf_out) {
    strata_hash_idf idf;
    strata_error err;
    assert_int_equal(strata_hash_idf_fit(&idf, (const char *const *)x->t, x->len, x->n, p, &err),
                     STRATA_OK);
    float *out = malloc(sizeof(float) * (size_t)x->n * (size_t)p->dim);
    assert_int_equal(strata_hash_embed(&idf, (const char *const *)x->t, x->len, x->n, p, out, &err),
                     STRATA_OK);
    if (idf_out) *idf_out = idf;
    else strata_hash_idf_free(&idf);
    return out;
}

static double dot(const float *a, const float *b, int d) {
    double s = 0;
    for (int i = 0; i < d; i++) s += (double)a[i] * b[i];
    return s;
}

/* ------------------------------------------------------------------------ */
/* Properties                                                                */
/* ------------------------------------------------------------------------ */

static void test_properties(void **state) {
    (void)state;
    texts x = {0};
    add(&x, "The cat sat on the mat.");
    add(&x, "A cat was sitting on a mat!");
    add(&x, "Quarterly bank earnings rose sharply.");
    add(&x, "Bank earnings climbed this quarter.");
    add(&x, "");          /* no words: zero row */
    add(&x, "?!, ...");   /* only punctuation: words, so a unit row */
    strata_hash_params p = strata_hash_default_params();
    strata_set_threads(2);
    float *a = embed_all(&x, &p, NULL);
    float *b = embed_all(&x, &p, NULL);
    int D = p.dim;
    assert_memory_equal(a, b, sizeof(float) * (size_t)x.n * D); /* deterministic */
    for (int i = 0; i < x.n; i++) {
        double nn = dot(a + i * D, a + i * D, D);
        if (i == 4) assert_true(nn == 0.0);
        else assert_true(fabs(nn - 1.0) < 1e-6);
    }
    /* similar texts closer than unrelated ones */
    double cat_cat = dot(a, a + D, D), cat_bank = dot(a, a + 2 * D, D);
    double bank_bank = dot(a + 2 * D, a + 3 * D, D), bank_cat = dot(a + 3 * D, a + D, D);
    print_message("cos(cat, cat') %.3f  cos(cat, bank) %.3f  cos(bank, bank') %.3f\n", cat_cat,
                  cat_bank, bank_bank);
    assert_true(cat_cat > cat_bank + 0.1);
    assert_true(bank_bank > bank_cat + 0.1);
    /* another seed: another projection */
    strata_hash_params p2 = p;
    p2.seed = 2;
    float *c = embed_all(&x, &p2, NULL);
    assert_memory_not_equal(a, c, sizeof(float) * D);
    /* thread count does not matter */
    strata_set_threads(1);
    float *d = embed_all(&x, &p, NULL);
    strata_set_threads(2);
    assert_memory_equal(a, d, sizeof(float) * (size_t)x.n * D);
    free(a); free(b); free(c); free(d);
    texts_free(&x);
}

static void test_idf_roundtrip(void **state) {
    (void)state;
    TU_REQUIRE_DATA("beir/scifact/corpus.jsonl");
    texts x = {0};
    read_corpus(&x, 200);
    strata_hash_params p = strata_hash_default_params();
    p.bigrams = 1;
    p.dim = 64;
    strata_hash_idf idf, idf2;
    strata_error err;
    float *a = embed_all(&x, &p, &idf);
    assert_int_equal(idf.n_docs, 200);
    assert_int_equal(idf.bigrams, 1);
    const char *path = tu_join(tu_tmpdir(), "idf.npy");
    assert_int_equal(strata_hash_idf_save(&idf, path, &err), STRATA_OK);
    assert_int_equal(strata_hash_idf_load(&idf2, path, &err), STRATA_OK);
    assert_memory_equal(idf.idf, idf2.idf, sizeof(float) * STRATA_HASH_BUCKETS);
    float *b = malloc(sizeof(float) * (size_t)x.n * 64);
    assert_int_equal(strata_hash_embed(&idf2, (const char *const *)x.t, x.len, x.n, &p, b, &err),
                     STRATA_OK);
    assert_memory_equal(a, b, sizeof(float) * (size_t)x.n * 64);
    /* an IDF fitted with bigrams refuses to embed without them */
    p.bigrams = 0;
    assert_int_equal(strata_hash_embed(&idf2, (const char *const *)x.t, x.len, x.n, &p, b, &err),
                     STRATA_EINVAL);
    assert_non_null(strstr(err.msg, "bigrams"));
    /* a file that is not an IDF table */
    strata_hash_idf_free(&idf2);
    int64_t shape[1] = {3};
    int64_t v[3] = {1, 0, 0};
    assert_int_equal(strata_npy_save(path, STRATA_DTYPE_I64, 1, shape, v, &err), STRATA_OK);
    assert_int_equal(strata_hash_idf_load(&idf2, path, &err), STRATA_EFORMAT);
    assert_non_null(strstr(err.msg, "idf.npy"));
    /* invalid UTF-8 names the text and byte */
    x.t[7][3] = (char)0xff;
    assert_int_equal(strata_hash_embed(&idf, (const char *const *)x.t, x.len, x.n, &p, b, &err),
                     STRATA_EINVAL); /* bigram mismatch is checked first */
    p.bigrams = 1;
    assert_int_equal(strata_hash_embed(&idf, (const char *const *)x.t, x.len, x.n, &p, b, &err),
                     STRATA_EFORMAT);
    assert_non_null(strstr(err.msg, "text 7: invalid UTF-8 at byte 3"));
    strata_hash_idf_free(&idf);
    strata_hash_idf_free(&idf2);
    free(a);
    free(b);
    texts_free(&x);
}

/* ------------------------------------------------------------------------ */
/* Against the numpy reference                                               */
/* ------------------------------------------------------------------------ */

/* Same definition, independent words (HF tokenizers) and hashing (Python
 * ints): the only differences are float32 rounding of the output and
 * summation order, so 1e-5 absolute per component. */
static void compare_ref(int bigrams, int dim) {
    texts x = {0};
    read_corpus(&x, N_REF);
    const char *dir = tu_tmpdir();
    char jp[512], np[512];
    snprintf(jp, sizeof jp, "%s/hash_texts.jsonl", dir);
    snprintf(np, sizeof np, "%s/hash_ref_%d_%d.npy", dir, bigrams, dim);
    FILE *f = fopen(jp, "w");
    for (int i = 0; i < x.n; i++) {
        cJSON *s = cJSON_CreateString(x.t[i]);
        char *js = cJSON_PrintUnformatted(s);
        fprintf(f, "%s\n", js);
        cJSON_free(js);
        cJSON_Delete(s);
    }
    fclose(f);
    int rc = tu_sh("%s tests/ref/encoder_hash_ref.py '%s' '%s' '%s' --dim %d --seed 7 %s",
                   tu_python(), jp, jp, np, dim, bigrams ? "--bigrams" : "");
    if (rc) print_error("%s", tu_last_err());
    assert_int_equal(rc, 0);
    strata_hash_params p = strata_hash_default_params();
    p.dim = dim;
    p.bigrams = bigrams;
    p.seed = 7;
    float *ours = embed_all(&x, &p, NULL);
    strata_mat m;
    strata_error err;
    assert_int_equal(strata_mat_load(&m, np, &err), STRATA_OK);
    assert_int_equal(m.rows, x.n);
    assert_int_equal(m.cols, dim);
    double worst = 0;
    for (size_t i = 0; i < (size_t)x.n * dim; i++) {
        double d = fabs((double)ours[i] - m.data[i]);
        if (!(d <= worst)) worst = d;
    }
    print_message("hash (bigrams %d, dim %d) vs numpy on %d texts: max |diff| %.3g\n", bigrams, dim,
                  x.n, worst);
    assert_true(worst <= 1e-5);
    strata_mat_free(&m);
    free(ours);
    texts_free(&x);
}

static void test_vs_numpy(void **state) {
    (void)state;
    TU_REQUIRE_DATA("beir/scifact/corpus.jsonl");
    TU_REQUIRE_PY("numpy");
    TU_REQUIRE_PY("tokenizers");
    compare_ref(0, 256);
    compare_ref(1, 96);
}

/* ------------------------------------------------------------------------ */
/* strata embed --model hash                                                 */
/* ------------------------------------------------------------------------ */

static void test_cli_pairs_and_beir(void **state) {
    (void)state;
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", tu_join(tu_tmpdir(), "cli"));
    tu_sh("mkdir -p '%s/beir/qrels'", dir);
    char pairs[1100], beir[1100], p[1200], p2[1200], idf[1200];
    snprintf(pairs, sizeof pairs, "%s/pairs.jsonl", dir);
    snprintf(beir, sizeof beir, "%s/beir", dir);
    tu_write_str(pairs,
                 "{\"query\": \"cats purr\", \"positive\": \"Cats purr when they are happy.\"}\n"
                 "{\"query\": \"tea caffeine\", \"positive\": \"Green tea contains caffeine.\"}\n"
                 "{\"query\": \"rust safety\", \"positive\": \"Rust prevents data races.\"}\n");
    snprintf(p, sizeof p, "%s/q.npy", dir);
    snprintf(idf, sizeof idf, "%s/idf.npy", dir);
    int rc = tu_sh("%s embed --model hash --input '%s' --field query --dim 32 --idf-out '%s' "
                   "--out '%s' --quiet", tu_strata(), pairs, idf, p);
    if (rc) print_error("%s", tu_last_err());
    assert_int_equal(rc, 0);
    strata_mat m, m2;
    strata_error err;
    assert_int_equal(strata_mat_load(&m, p, &err), STRATA_OK);
    assert_int_equal(m.rows, 3);
    assert_int_equal(m.cols, 32);
    /* positives with the saved IDF (fitted on queries + positives) */
    snprintf(p2, sizeof p2, "%s/p.npy", dir);
    rc = tu_sh("%s embed --model hash --input '%s' --field positive --dim 32 --idf '%s' --out '%s' "
               "--quiet", tu_strata(), pairs, idf, p2);
    assert_int_equal(rc, 0);
    assert_int_equal(strata_mat_load(&m2, p2, &err), STRATA_OK);
    /* each query is closest to its own positive */
    for (int i = 0; i < 3; i++) {
        double best = -2;
        int arg = -1;
        for (int j = 0; j < 3; j++) {
            double s = dot(m.data + i * 32, m2.data + j * 32, 32);
            if (s > best) { best = s; arg = j; }
        }
        assert_int_equal(arg, i);
    }
    /* the library gives the same rows as the CLI (IDF on all 6 texts) */
    texts x = {0};
    add(&x, "cats purr");
    add(&x, "Cats purr when they are happy.");
    add(&x, "tea caffeine");
    add(&x, "Green tea contains caffeine.");
    add(&x, "rust safety");
    add(&x, "Rust prevents data races.");
    strata_hash_params hp = strata_hash_default_params();
    hp.dim = 32;
    float *lib = embed_all(&x, &hp, NULL);
    for (int i = 0; i < 3; i++) {
        assert_memory_equal(lib + (2 * i) * 32, m.data + i * 32, sizeof(float) * 32);
        assert_memory_equal(lib + (2 * i + 1) * 32, m2.data + i * 32, sizeof(float) * 32);
    }
    free(lib);
    texts_free(&x);
    strata_mat_free(&m);
    strata_mat_free(&m2);

    /* BEIR: corpus and queries share the corpus IDF; ids files */
    char cj[1200], qj[1200], qr[1200], co[1200], qo[1200];
    snprintf(cj, sizeof cj, "%s/corpus.jsonl", beir);
    snprintf(qj, sizeof qj, "%s/queries.jsonl", beir);
    snprintf(qr, sizeof qr, "%s/qrels/test.tsv", beir);
    tu_write_str(cj, "{\"_id\": \"d1\", \"title\": \"Cats\", \"text\": \"Cats purr.\"}\n"
                     "{\"_id\": \"d2\", \"title\": \"\", \"text\": \"Tea has caffeine.\"}\n");
    tu_write_str(qj, "{\"_id\": \"q9\", \"text\": \"purring cats\"}\n");
    tu_write_str(qr, "query-id\tcorpus-id\tscore\nq9\td1\t1\n");
    snprintf(co, sizeof co, "%s/c.npy", dir);
    snprintf(qo, sizeof qo, "%s/qq.npy", dir);
    rc = tu_sh("%s embed --model hash --input '%s' --field corpus --out '%s' --quiet", tu_strata(),
               beir, co);
    if (rc) print_error("%s", tu_last_err());
    assert_int_equal(rc, 0);
    rc = tu_sh("%s embed --model hash --input '%s' --field queries --out '%s' --quiet", tu_strata(),
               beir, qo);
    assert_int_equal(rc, 0);
    char *ids = tu_read(tu_join(dir, "c.ids.txt"), NULL);
    assert_non_null(ids);
    assert_string_equal(ids, "d1\nd2\n");
    free(ids);
    ids = tu_read(tu_join(dir, "qq.ids.txt"), NULL);
    assert_string_equal(ids, "q9\n");
    free(ids);
    assert_int_equal(strata_mat_load(&m, co, &err), STRATA_OK);
    assert_int_equal(strata_mat_load(&m2, qo, &err), STRATA_OK);
    assert_true(dot(m2.data, m.data, 256) > dot(m2.data, m.data + 256, 256));
    strata_mat_free(&m);
    strata_mat_free(&m2);
}

static void test_cli_bad_input(void **state) {
    (void)state;
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", tu_join(tu_tmpdir(), "bad"));
    tu_sh("mkdir -p '%s'", dir);
    char in[1100], out[1100], idf[1100];
    snprintf(in, sizeof in, "%s/pairs.jsonl", dir);
    snprintf(out, sizeof out, "%s/e.npy", dir);
    snprintf(idf, sizeof idf, "%s/idf.npy", dir);
    tu_write_str(in, "{\"query\": \"ok\", \"positive\": \"fine\"}\n"
                     "{\"query\": \"ok\", \"positive\": \"bad \xed\xa0\x80 surrogate\"}\n");
    int rc = tu_sh("%s embed --model hash --input '%s' --field positive --idf-out '%s' --out '%s'",
                   tu_strata(), in, idf, out);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(tu_last_err(), "pairs.jsonl"));
    assert_non_null(strstr(tu_last_err(), "UTF-8"));
    assert_false(tu_exists(out));
    assert_false(tu_exists(idf));
    assert_int_equal(tu_count_files(dir, ".tmp."), 0);
    /* an IDF file fitted without bigrams used with --bigrams */
    tu_write_str(in, "{\"query\": \"ok\", \"positive\": \"fine\"}\n");
    rc = tu_sh("%s embed --model hash --input '%s' --idf-out '%s' --out '%s' --quiet", tu_strata(),
               in, idf, out);
    assert_int_equal(rc, 0);
    remove(out);
    rc = tu_sh("%s embed --model hash --input '%s' --idf '%s' --bigrams --out '%s'", tu_strata(), in,
               idf, out);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(tu_last_err(), "bigrams"));
    assert_false(tu_exists(out));
    /* usage errors exit 2 */
    rc = tu_sh("%s embed --model hash --input '%s' --field corpus --out '%s'", tu_strata(), in, out);
    assert_int_equal(rc, 2);
    rc = tu_sh("%s embed --model hash --input '%s' --dim 0 --out '%s'", tu_strata(), in, out);
    assert_int_equal(rc, 2);
    assert_false(tu_exists(out));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_properties),
        cmocka_unit_test(test_idf_roundtrip),
        cmocka_unit_test(test_vs_numpy),
        cmocka_unit_test(test_cli_pairs_and_beir),
        cmocka_unit_test(test_cli_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
