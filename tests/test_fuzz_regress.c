/*
 * test_fuzz_regress.c — one test per bug the fuzzers (fuzz/) found, each on
 * the smallest input that showed it. The crashing inputs themselves are in
 * fuzz/seeds/<target>/regress_*, replayed by every `make fuzz`.
 *
 * Several of these bugs are undefined behaviour (a misaligned load, a use
 * after free, an out-of-range float-to-integer cast): the plain build may
 * pass over them by luck, `make asan` (ASan + UBSan, reports fatal) fails
 * on them. Where a bug also changed a result, the assertion says so.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "strata/embed.h"
#include "strata/encoder.h"
#include "strata/io.h"
#include "strata/plan.h"
#include "testutil.h"

/* ------------------------------------------------------------------------ */
/* .npy data at a misaligned offset                                          */
/* ------------------------------------------------------------------------ */

/* A version 1.0 .npy whose header is not padded, so the data starts at
 * 10 + strlen(dict) bytes: numpy reads such files (it only pads when it
 * writes), and so must we. */
static const char *write_unpadded_npy(const char *name, const char *descr, const char *shape,
                                      const void *data, size_t n) {
    char dict[256];
    int dl = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }\n",
                      descr, shape);
    unsigned char buf[512];
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (unsigned char)dl;
    buf[9] = 0;
    memcpy(buf + 10, dict, (size_t)dl);
    memcpy(buf + 10 + dl, data, n);
    const char *p = tu_join(tu_tmpdir(), name);
    tu_write(p, buf, 10 + (size_t)dl + n);
    return p;
}

/* fuzz_npy: strata_mat_load returned a float pointer at the file's data
 * offset, and every reader of it made a misaligned load (UBSan). The data
 * is now copied to aligned memory when the offset is misaligned. */
static void test_npy_misaligned_data_is_copied(void **state) {
    (void)state;
    const float f[3] = {1.5f, -2.0f, 3.25f};
    const char *p = write_unpadded_npy("f.npy", "<f4", "(3,)", f, sizeof f);
    strata_npy a;
    strata_error err;
    assert_int_equal(strata_npy_load(&a, p, &err), STRATA_OK);
    assert_int_equal((uintptr_t)a.data % sizeof(float), 0);
    assert_memory_equal(a.data, f, sizeof f);
    strata_npy_free(&a);
    strata_mat m;
    assert_int_equal(strata_mat_load(&m, p, &err), STRATA_OK);
    assert_int_equal((uintptr_t)m.data % sizeof(float), 0);
    assert_int_equal(m.rows, 3);
    for (int i = 0; i < 3; i++) assert_true(m.data[i] == f[i]);
    strata_mat_free(&m);
    /* int64 (batches.npy, IDF tables, assignments) */
    const int64_t v[2] = {-1, INT64_C(1) << 40};
    p = write_unpadded_npy("i.npy", "<i8", "(1, 2)", v, sizeof v);
    assert_int_equal(strata_npy_load(&a, p, &err), STRATA_OK);
    assert_int_equal((uintptr_t)a.data % sizeof(int64_t), 0);
    assert_int_equal(((const int64_t *)a.data)[1], INT64_C(1) << 40);
    strata_npy_free(&a);
}

/* ------------------------------------------------------------------------ */
/* Tokenizer                                                                 */
/* ------------------------------------------------------------------------ */

/* fuzz_tokenizer_json: the error for a bad id quoted the token after the
 * JSON tree holding it was freed (heap-use-after-free), and so did the
 * error for a non-WordPiece model type. */
static void test_tokenizer_json_errors_quote_live_text(void **state) {
    (void)state;
    const char *p = tu_join(tu_tmpdir(), "tokenizer.json");
    tu_write_str(p, "{\"model\": {\"vocab\": {\"[UNK]\": 0, \"some_token\": -1}}}");
    strata_tokenizer *t = NULL;
    strata_error err;
    assert_int_equal(strata_tokenizer_load(&t, p, NULL, &err), STRATA_EFORMAT);
    assert_non_null(strstr(err.msg, "bad id for token \"some_token\""));
    tu_write_str(p, "{\"model\": {\"type\": \"UnigramLM\", \"vocab\": {\"a\": 0}}}");
    assert_int_equal(strata_tokenizer_load(&t, p, NULL, &err), STRATA_EUNSUPPORTED);
    assert_non_null(strstr(err.msg, "model type \"UnigramLM\" is not WordPiece"));
    assert_null(t);
}

/* fuzz_tokenizer_json: a 60-byte file with one id of 1e8 made the loader
 * allocate tables for 1e8 tokens (over 2 GB, the fuzzer's limit); a
 * fractional id was truncated silently. */
static void test_tokenizer_json_id_bounds(void **state) {
    (void)state;
    const char *p = tu_join(tu_tmpdir(), "tokenizer.json");
    tu_write_str(p, "{\"model\": {\"vocab\": {\"[UNK]\": 0, \"[CLS]\": 1, \"[SEP]\": 100000000}}}");
    strata_tokenizer *t = NULL;
    strata_error err;
    assert_int_equal(strata_tokenizer_load(&t, p, NULL, &err), STRATA_EFORMAT);
    assert_non_null(strstr(err.msg, "largest id 100000000 but only 3 tokens"));
    tu_write_str(p, "{\"model\": {\"vocab\": {\"[UNK]\": 0, \"[CLS]\": 1.5, \"[SEP]\": 2}}}");
    assert_int_equal(strata_tokenizer_load(&t, p, NULL, &err), STRATA_EFORMAT);
    assert_non_null(strstr(err.msg, "bad id for token \"[CLS]\""));
    /* a few unused ids stay allowed */
    tu_write_str(p, "{\"model\": {\"vocab\": {\"[UNK]\": 0, \"[CLS]\": 7, \"[SEP]\": 60000}}}");
    assert_int_equal(strata_tokenizer_load(&t, p, NULL, &err), STRATA_OK);
    assert_int_equal(strata_tokenizer_vocab_size(t), 60001);
    assert_string_equal(strata_tokenizer_token(t, 3), "");
    strata_tokenizer_free(t);
}

/* fuzz_tokenizer_json: an empty unk_token (or one cut to "" by a JSON
 * \u0000) added no text to the list of missing specials, so the loader
 * accepted it with unk = -1, and every unknown word became id -1 (an
 * embedding row before the table). */
static void test_tokenizer_json_empty_unk_token(void **state) {
    (void)state;
    const char *p = tu_join(tu_tmpdir(), "tokenizer.json");
    static const char *const unk[] = {"\"\"", "\"\\u0000[UNK]\""};
    for (int i = 0; i < 2; i++) {
        char j[256];
        snprintf(j, sizeof j,
                 "{\"model\": {\"unk_token\": %s, \"vocab\": {\"[UNK]\": 0, \"[CLS]\": 1, "
                 "\"[SEP]\": 2, \"a\": 3}}}",
                 unk[i]);
        tu_write_str(p, j);
        strata_tokenizer *t = NULL;
        strata_error err;
        assert_int_equal(strata_tokenizer_load(&t, p, NULL, &err), STRATA_EFORMAT);
        assert_non_null(strstr(err.msg, "lacks the special token(s) \"\" (an empty unk_token)"));
        assert_null(t);
    }
}

/* fuzz_vocab: a text that normalizes to nothing (empty, or control
 * characters only) with accent stripping on did pointer arithmetic on the
 * still-NULL codepoint buffer (clang's UBSan: zero offset applied to NULL;
 * gcc's UBSan does not check that, so this test fails only in the fuzz
 * build, which replays fuzz/seeds/fuzz_vocab/regress_empty_text). */
static void test_tokenizer_empty_normalized_text(void **state) {
    (void)state;
    const char *p = tu_join(tu_tmpdir(), "vocab.txt");
    tu_write_str(p, "[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n");
    strata_tokenizer *t = NULL;
    strata_error err;
    assert_int_equal(strata_tokenizer_load(&t, p, NULL, &err), STRATA_OK);
    const char *texts[] = {"", "\x01\x02", "\xcc\x81"}; /* a lone combining accent */
    for (int i = 0; i < 3; i++) {
        int32_t ids[4];
        int n = -1;
        assert_int_equal(strata_tokenizer_encode(t, texts[i], strlen(texts[i]), 1, 4, ids, &n,
                                                 &err),
                         STRATA_OK);
        assert_int_equal(n, 2);
        assert_int_equal(ids[0], 2);
        assert_int_equal(ids[1], 3);
    }
    strata_tokenizer_free(t);
}

/* fuzz_vocab: a tokenizer_config.json that is present but not JSON was
 * ignored silently (and an out-of-memory while reading it too), so the
 * casing was guessed instead of read. */
static void test_tokenizer_config_malformed_is_an_error(void **state) {
    (void)state;
    const char *dir = tu_join(tu_tmpdir(), "tokdir");
    mkdir(dir, 0755);
    tu_write_str(tu_join(dir, "vocab.txt"), "[UNK]\n[CLS]\n[SEP]\nhello\n");
    tu_write_str(tu_join(dir, "tokenizer_config.json"), "{\"do_lower_case\": fals");
    strata_tokenizer *t = NULL;
    strata_error err;
    assert_int_equal(strata_tokenizer_load(&t, dir, NULL, &err), STRATA_EFORMAT);
    assert_non_null(strstr(err.msg, "tokenizer_config.json:1: invalid JSON"));
    assert_null(t);
    tu_write_str(tu_join(dir, "tokenizer_config.json"), "{\"do_lower_case\": false}");
    assert_int_equal(strata_tokenizer_load(&t, dir, NULL, &err), STRATA_OK);
    assert_int_equal(strata_tokenizer_lowercase(t), 0);
    strata_tokenizer_free(t);
}

/* ------------------------------------------------------------------------ */
/* Hash IDF table                                                            */
/* ------------------------------------------------------------------------ */

/* fuzz_idf: the error for a df outside [0, N] read N from the file's map
 * after unmapping it (SEGV). */
static void test_idf_bad_df_message(void **state) {
    (void)state;
    size_t n = 2 + (size_t)STRATA_HASH_BUCKETS;
    int64_t *v = calloc(n, sizeof *v);
    assert_non_null(v);
    v[0] = 5;         /* N */
    v[2 + 3] = 7;     /* df of bucket 3 > N */
    int64_t shape = (int64_t)n;
    const char *p = tu_join(tu_tmpdir(), "idf.npy");
    strata_error err;
    assert_int_equal(strata_npy_save(p, STRATA_DTYPE_I64, 1, &shape, v, &err), STRATA_OK);
    free(v);
    strata_hash_idf idf;
    assert_int_equal(strata_hash_idf_load(&idf, p, &err), STRATA_EFORMAT);
    assert_non_null(strstr(err.msg, "bucket 3 has df 7 outside [0, 5]"));
    assert_null(idf.df);
}

/* ------------------------------------------------------------------------ */
/* Plan and safetensors JSON numbers                                         */
/* ------------------------------------------------------------------------ */

static const char *plan_dir_with(const char *plan_json) {
    const char *dir = tu_join(tu_tmpdir(), "plan");
    mkdir(dir, 0755);
    int64_t b[4] = {0, 1, 2, -1}, shape[2] = {2, 2};
    strata_error err;
    assert_int_equal(strata_npy_save(tu_join(dir, "batches.npy"), STRATA_DTYPE_I64, 2, shape, b,
                                     &err),
                     STRATA_OK);
    tu_write_str(tu_join(dir, "plan.json"), plan_json);
    return dir;
}

/* fuzz_plan: plan.json numbers were cast to int64 unchecked (1e300 is
 * undefined behaviour), and a negative or fractional "n_pairs" turned the
 * pair-index check off. */
static void test_plan_json_numbers(void **state) {
    (void)state;
    static const char *const bad[] = {
        "{\"n_pairs\": 1e300}", "{\"n_pairs\": -3}", "{\"n_pairs\": 2.5}",
        "{\"batch_size\": -1e300}", "{\"n_batches\": 1e19}", "{\"batch_source\": [0, 1e10]}"};
    strata_plan p;
    strata_error err;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *dir = plan_dir_with(bad[i]);
        assert_int_equal(strata_plan_load(&p, dir, &err), STRATA_EFORMAT);
        assert_non_null(strstr(err.msg, "plan.json"));
    }
    const char *dir = plan_dir_with("{\"n_pairs\": 3, \"batch_size\": 2, \"n_batches\": 2}");
    assert_int_equal(strata_plan_load(&p, dir, &err), STRATA_OK);
    assert_int_equal(p.n_pairs, 3);
    strata_plan_free(&p);
}

/* fuzz_safetensors: "data_offsets" and "shape" numbers were cast to
 * integers before their range was known (undefined for 1e30; the plain
 * build happened to refuse the result, `make asan` reports the cast). */
static void test_safetensors_huge_numbers(void **state) {
    (void)state;
    static const char *const hdr[] = {
        "{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 1e30]}}",
        "{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [1e30, 1e31]}}",
        "{\"a\": {\"dtype\": \"F32\", \"shape\": [1e300], \"data_offsets\": [0, 4]}}"};
    const char *p = tu_join(tu_tmpdir(), "h.safetensors");
    for (int i = 0; i < 3; i++) {
        size_t hl = strlen(hdr[i]);
        unsigned char buf[256] = {0};
        buf[0] = (unsigned char)hl;
        memcpy(buf + 8, hdr[i], hl);
        tu_write(p, buf, 8 + hl + 4);
        strata_safetensors st;
        strata_error err;
        assert_int_equal(strata_safetensors_load(&st, p, &err), STRATA_EFORMAT);
        assert_non_null(strstr(err.msg, i < 2 ? "\"data_offsets\" malformed" : "bad dimension"));
    }
}

/* fuzz_bert_config: a layer_norm_eps below the float range (1e-82) passed
 * the check "> 0" as a double and was stored as 0.0f. */
static void test_bert_config_eps_underflow(void **state) {
    (void)state;
    const char *p = tu_join(tu_tmpdir(), "config.json");
    strata_bert_config c;
    strata_error err;
    static const char *const eps[] = {"1e-82", "1e-45", "0"};
    for (int i = 0; i < 3; i++) {
        char json[512];
        snprintf(json, sizeof json,
                 "{\"vocab_size\": 100, \"hidden_size\": 8, \"num_hidden_layers\": 1, "
                 "\"num_attention_heads\": 2, \"intermediate_size\": 16, "
                 "\"max_position_embeddings\": 16, \"layer_norm_eps\": %s}", eps[i]);
        tu_write_str(p, json);
        assert_int_equal(strata_bert_config_load(&c, p, &err), STRATA_EFORMAT);
        assert_non_null(strstr(err.msg, "layer_norm_eps"));
    }
    tu_write_str(p, "{\"vocab_size\": 100, \"hidden_size\": 8, \"num_hidden_layers\": 1, "
                    "\"num_attention_heads\": 2, \"intermediate_size\": 16, "
                    "\"max_position_embeddings\": 16, \"layer_norm_eps\": 1e-12}");
    assert_int_equal(strata_bert_config_load(&c, p, &err), STRATA_OK);
    assert_true(c.layer_norm_eps > 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_npy_misaligned_data_is_copied),
        cmocka_unit_test(test_tokenizer_json_errors_quote_live_text),
        cmocka_unit_test(test_tokenizer_json_id_bounds),
        cmocka_unit_test(test_tokenizer_json_empty_unk_token),
        cmocka_unit_test(test_tokenizer_empty_normalized_text),
        cmocka_unit_test(test_tokenizer_config_malformed_is_an_error),
        cmocka_unit_test(test_idf_bad_df_message),
        cmocka_unit_test(test_plan_json_numbers),
        cmocka_unit_test(test_safetensors_huge_numbers),
        cmocka_unit_test(test_bert_config_eps_underflow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
