/*
 * test_tokenizer.c — the WordPiece tokenizer against references nobody here
 * wrote: llama.cpp's BERT/BGE tokenizer test vectors, and Hugging Face
 * `tokenizers` (PyPI) on every SciFact corpus text and query; plus unit
 * cases (accents, CJK, long words, truncation, literal specials) and bad
 * input (vocabulary without [UNK]/[CLS]/[SEP], invalid UTF-8 through
 * `strata tokenize`).
 */
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strata/encoder.h"
#include "testutil.h"

#define VOCAB_REL "tokenizers/bert-base-uncased/vocab.txt"
#define TOKJSON_REL "tokenizers/all-MiniLM-L6-v2/tokenizer.json"

static strata_tokenizer *load(const char *path) {
    strata_tokenizer *t = NULL;
    strata_error err;
    strata_status st = strata_tokenizer_load(&t, path, NULL, &err);
    if (st != STRATA_OK) print_error("%s\n", err.msg);
    assert_int_equal(st, STRATA_OK);
    return t;
}

/* Encodes text and renders the ids as "a b c" (no specials). */
static char *ids_str(const strata_tokenizer *t, const char *text, int special,
                     int max_len) {
    int32_t *ids;
    int n;
    strata_error err;
    assert_int_equal(strata_tokenizer_encode_alloc(t, text, strlen(text), special,
                                                   max_len, &ids, &n, &err),
                     STRATA_OK);
    char *s = malloc((size_t)n * 12 + 1);
    size_t l = 0;
    s[0] = 0;
    for (int i = 0; i < n; i++) l += (size_t)sprintf(s + l, "%s%d", i ? " " : "", ids[i]);
    strata_free(ids);
    return s;
}

/* ------------------------------------------------------------------------ */
/* llama.cpp test vectors                                                    */
/* ------------------------------------------------------------------------ */

/* ggml-vocab-bert-bge.gguf.inp holds texts separated by
 * "\n__ggml_vocab_test__\n"; .out holds, per text, the ids without special
 * tokens, each preceded by a space. The vocabulary is bert-base-uncased's. */
static void test_llamacpp_vectors(void **state) {
    (void)state;
    TU_REQUIRE_DATA("tokenizers/llamacpp_bert_bge/ggml-vocab-bert-bge.gguf.inp");
    TU_REQUIRE_DATA(VOCAB_REL);
    strata_tokenizer *t = load(tu_data(VOCAB_REL));
    char *inp = tu_read(tu_data("tokenizers/llamacpp_bert_bge/ggml-vocab-bert-bge.gguf.inp"), NULL);
    char *out = tu_read(tu_data("tokenizers/llamacpp_bert_bge/ggml-vocab-bert-bge.gguf.out"), NULL);
    assert_non_null(inp);
    assert_non_null(out);
    const char *sep = "\n__ggml_vocab_test__\n";
    char *p = inp, *o = out;
    int n = 0, bad = 0;
    while (*p) {
        char *e = strstr(p, sep);
        assert_non_null(e);
        *e = 0;
        char *oe = strchr(o, '\n');
        assert_non_null(oe);
        *oe = 0;
        char *want = o;
        while (*want == ' ') want++;
        char *got = ids_str(t, p, 0, 0);
        if (strcmp(got, want) != 0) {
            print_error("case %d: text \"%s\"\n  got  %s\n  want %s\n", n, p, got, want);
            bad++;
        }
        free(got);
        n++;
        p = e + strlen(sep);
        o = oe + 1;
    }
    assert_true(n >= 40);
    assert_int_equal(bad, 0);
    free(inp);
    free(out);
    strata_tokenizer_free(t);
}

/* ------------------------------------------------------------------------ */
/* Hugging Face tokenizers on SciFact                                        */
/* ------------------------------------------------------------------------ */

/* Writes every SciFact corpus text (title + " " + text, as the BEIR reader
 * joins them) and query as JSON strings, one per line; returns the count. */
static int write_scifact_texts(const char *path) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    const char *files[2] = {"beir/scifact/corpus.jsonl", "beir/scifact/queries.jsonl"};
    int n = 0;
    for (int k = 0; k < 2; k++) {
        FILE *in = fopen(tu_data(files[k]), "r");
        assert_non_null(in);
        char *line = NULL;
        size_t cap = 0;
        ssize_t len;
        while ((len = getline(&line, &cap, in)) > 0) {
            cJSON *j = cJSON_Parse(line);
            assert_non_null(j);
            const char *title = cJSON_GetStringValue(cJSON_GetObjectItem(j, "title"));
            const char *text = cJSON_GetStringValue(cJSON_GetObjectItem(j, "text"));
            assert_non_null(text);
            size_t tl = title ? strlen(title) : 0;
            char *s = malloc(tl + strlen(text) + 2);
            if (tl) sprintf(s, "%s %s", title, text);
            else strcpy(s, text);
            cJSON *str = cJSON_CreateString(s);
            char *js = cJSON_PrintUnformatted(str);
            fprintf(f, "%s\n", js);
            cJSON_free(js);
            cJSON_Delete(str);
            free(s);
            cJSON_Delete(j);
            n++;
        }
        free(line);
        fclose(in);
    }
    fclose(f);
    return n;
}

/* 100% of texts must give identical ids (truncation off on both sides). */
static void compare_with_hf(const char *vocab_arg) {
    const char *dir = tu_tmpdir();
    const char *texts = tu_join(dir, "scifact_texts.jsonl");
    int n = write_scifact_texts(texts);
    assert_true(n > 6000);
    const char *ref = tu_join(dir, "hf_ids.txt");
    if (!tu_exists(ref)) {
        int rc = tu_sh("%s tests/ref/tokenize_ref.py '%s' '%s' '%s'", tu_python(),
                       tu_data(TOKJSON_REL), texts, ref);
        if (rc) print_error("%s", tu_last_err());
        assert_int_equal(rc, 0);
    }
    const char *got = tu_join(dir, "c_ids.txt");
    int rc = tu_sh("%s tokenize --vocab '%s' --input '%s' --out '%s'", tu_strata(), vocab_arg,
                   texts, got);
    if (rc) print_error("%s", tu_last_err());
    assert_int_equal(rc, 0);
    char *a = tu_read(ref, NULL), *b = tu_read(got, NULL);
    assert_non_null(a);
    assert_non_null(b);
    int lines = 0, diff = 0;
    char *pa = a, *pb = b;
    while (*pa && *pb) {
        char *ea = strchr(pa, '\n'), *eb = strchr(pb, '\n');
        assert_non_null(ea);
        assert_non_null(eb);
        *ea = *eb = 0;
        if (strcmp(pa, pb) != 0 && diff++ < 3)
            print_error("text %d differs:\n  hf   %.200s\n  ours %.200s\n", lines, pa, pb);
        lines++;
        pa = ea + 1;
        pb = eb + 1;
    }
    assert_int_equal(lines, n);
    assert_int_equal(diff, 0);
    free(a);
    free(b);
}

static void test_scifact_vs_hf_tokenizer_json(void **state) {
    (void)state;
    TU_REQUIRE_DATA("beir/scifact/corpus.jsonl");
    TU_REQUIRE_DATA(TOKJSON_REL);
    TU_REQUIRE_PY("tokenizers");
    compare_with_hf(tu_data(TOKJSON_REL));
}

/* vocab.txt alone (uncased guessed from the vocabulary) must agree too. */
static void test_scifact_vs_hf_vocab_txt(void **state) {
    (void)state;
    TU_REQUIRE_DATA("beir/scifact/corpus.jsonl");
    TU_REQUIRE_DATA(TOKJSON_REL);
    TU_REQUIRE_DATA(VOCAB_REL);
    TU_REQUIRE_PY("tokenizers");
    compare_with_hf(tu_data(VOCAB_REL));
}

/* ------------------------------------------------------------------------ */
/* Unit cases on a tiny vocabulary (expected ids worked out by hand from     */
/* BERT's rules)                                                             */
/* ------------------------------------------------------------------------ */

static const char *tiny_vocab =
    "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n"   /* 0-4 */
    "un\n##aff\n##able\nhello\n,\n"           /* 5-9 */
    "world\n!\nfuhrer\n\xe4\xb8\xad\n\xe6\x96\x87\n" /* 10-14: 中 文 */
    "a\n##a\n";                               /* 15-16 */

static strata_tokenizer *tiny(void) {
    const char *p = tu_join(tu_tmpdir(), "tiny_vocab.txt");
    tu_write_str(p, tiny_vocab);
    return load(p);
}

static void test_unit_cases(void **state) {
    (void)state;
    strata_tokenizer *t = tiny();
    assert_int_equal(strata_tokenizer_vocab_size(t), 17);
    assert_int_equal(strata_tokenizer_special(t, "[CLS]"), 2);
    assert_string_equal(strata_tokenizer_token(t, 6), "##aff");
    struct { const char *text; const char *want; } cases[] = {
        {"unaffable", "5 6 7"},                       /* greedy longest match */
        {"Hello, WORLD!", "8 9 10 11"},               /* lower case, punctuation */
        {"F\xc3\xbchrer", "12"},                      /* ü -> u (NFD, drop Mn) */
        {"\xe4\xb8\xad\xe6\x96\x87", "13 14"},        /* CJK split */
        {"hello\x01 world", "8 10"},                 /* control character removed */
        {"hello\xe2\x80\x8bworld", "1"},             /* ZWSP (Cf) removed: one word */
        {"hello\xe2\x80\xa8world", "8 10"},          /* U+2028 is White_Space */
        {"hello\xc2\xa0world\t", "8 10"},             /* NBSP is whitespace */
        {"unx", "1"},                                 /* unmatchable rest -> [UNK] */
        {"hello [SEP] world", "8 3 10"},              /* literal special token */
        {"", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = ids_str(t, cases[i].text, 0, 0);
        if (strcmp(got, cases[i].want) != 0)
            print_error("\"%s\": got \"%s\" want \"%s\"\n", cases[i].text, got, cases[i].want);
        assert_string_equal(got, cases[i].want);
        free(got);
    }
    /* 100 'a' characters: "a" + 99 "##a"; 101 characters: [UNK] */
    char w[128];
    memset(w, 'a', 101);
    w[100] = 0;
    char *got = ids_str(t, w, 0, 0);
    assert_int_equal(strlen(got), 2 + 99 * 3);
    free(got);
    w[100] = 'a';
    w[101] = 0;
    got = ids_str(t, w, 0, 0);
    assert_string_equal(got, "1");
    free(got);
    /* specials and truncation: [CLS] first tokens [SEP] */
    got = ids_str(t, "hello , world !", 1, 0);
    assert_string_equal(got, "2 8 9 10 11 3");
    free(got);
    got = ids_str(t, "hello , world !", 1, 4);
    assert_string_equal(got, "2 8 9 3");
    free(got);
    int32_t ids[4];
    int n;
    strata_error err;
    assert_int_equal(strata_tokenizer_encode(t, "hello world", 11, 1, 4, ids, &n, &err), STRATA_OK);
    assert_int_equal(n, 4);
    assert_int_equal(ids[3], 3);
    assert_int_not_equal(strata_tokenizer_encode(t, "x", 1, 1, 1, ids, &n, &err), STRATA_OK);
    /* invalid UTF-8 names the byte offset */
    assert_int_equal(strata_tokenizer_encode(t, "ab\xff", 3, 1, 4, ids, &n, &err), STRATA_EFORMAT);
    assert_non_null(strstr(err.msg, "invalid UTF-8 at byte 2"));
    strata_tokenizer_free(t);
}

/* A cased vocabulary keeps case and accents. */
static void test_cased_vocab(void **state) {
    (void)state;
    const char *p = tu_join(tu_tmpdir(), "cased_vocab.txt");
    tu_write_str(p, "[PAD]\n[UNK]\n[CLS]\n[SEP]\nHello\nhello\nF\xc3\xbchrer\n");
    strata_tokenizer *t = load(p);
    assert_int_equal(strata_tokenizer_lowercase(t), 0);
    char *got = ids_str(t, "Hello hello F\xc3\xbchrer", 0, 0);
    assert_string_equal(got, "4 5 6");
    free(got);
    strata_tokenizer_free(t);
}

static void words_cb(void *ud, const char *w, size_t len) {
    char *acc = ud;
    strcat(acc, "|");
    strncat(acc, w, len);
}

static void test_basic_tokenizer(void **state) {
    (void)state;
    char acc[256] = "";
    strata_error err;
    const char *s = "Caf\xc3\xa9 au-lait, 42%!";
    assert_int_equal(strata_tokenizer_basic(NULL, s, strlen(s), words_cb, acc, &err), STRATA_OK);
    assert_string_equal(acc, "|cafe|au|-|lait|,|42|%|!");
}

/* ------------------------------------------------------------------------ */
/* Bad input                                                                 */
/* ------------------------------------------------------------------------ */

static void test_vocab_missing_specials(void **state) {
    (void)state;
    const char *p = tu_join(tu_tmpdir(), "nounk.txt");
    tu_write_str(p, "[PAD]\n[CLS]\nhello\n");
    strata_tokenizer *t = NULL;
    strata_error err;
    assert_int_equal(strata_tokenizer_load(&t, p, NULL, &err), STRATA_EFORMAT);
    assert_null(t);
    assert_non_null(strstr(err.msg, "nounk.txt"));
    assert_non_null(strstr(err.msg, "[UNK]"));
    assert_non_null(strstr(err.msg, "[SEP]"));
    assert_null(strstr(err.msg, "[CLS]"));
    /* tokenizer.json without a vocabulary */
    const char *j = tu_join(tu_tmpdir(), "bad_tokenizer.json");
    tu_write_str(j, "{\"model\": {\"type\": \"WordPiece\"}}");
    assert_int_equal(strata_tokenizer_load(&t, j, NULL, &err), STRATA_EFORMAT);
    assert_non_null(strstr(err.msg, "model.vocab"));
    /* a missing file */
    assert_int_not_equal(strata_tokenizer_load(&t, tu_join(tu_tmpdir(), "nope.txt"), NULL, &err),
                         STRATA_OK);
    assert_non_null(strstr(err.msg, "nope.txt"));
}

/* `strata tokenize` on invalid UTF-8: exit 1, file:line named, no output. */
static void test_cli_invalid_utf8(void **state) {
    (void)state;
    const char *dir = tu_tmpdir();
    const char *voc = tu_join(dir, "tiny_vocab.txt");
    tu_write_str(voc, tiny_vocab);
    const char *in = tu_join(dir, "bad.jsonl");
    tu_write_str(in, "\"hello world\"\n{\"text\": \"hello \xff world\"}\n");
    const char *outdir = tu_join(dir, "tokout");
    tu_sh("mkdir -p '%s'", outdir);
    const char *out = tu_join(outdir, "ids.txt");
    int rc = tu_sh("%s tokenize --vocab '%s' --input '%s' --out '%s'", tu_strata(), voc, in, out);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(tu_last_err(), "bad.jsonl:2"));
    assert_non_null(strstr(tu_last_err(), "invalid UTF-8"));
    assert_false(tu_exists(out));
    assert_int_equal(tu_count_files(outdir, ".tmp."), 0);
    /* a line that is neither a string nor an object with "text" */
    tu_write_str(in, "\"ok\"\n{\"body\": \"x\"}\n");
    rc = tu_sh("%s tokenize --vocab '%s' --input '%s' --out '%s'", tu_strata(), voc, in, out);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(tu_last_err(), "bad.jsonl:2: field \"text\" missing"));
    assert_false(tu_exists(out));
    /* a JSON \u0000 escape in the text (issue #15: the text was cut there) */
    tu_write_str(in, "\"ok\"\n\"a\\u0000b\"\n");
    rc = tu_sh("%s tokenize --vocab '%s' --input '%s' --out '%s'", tu_strata(), voc, in, out);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(tu_last_err(), "bad.jsonl:2: contains a NUL character"));
    assert_false(tu_exists(out));
    tu_write_str(in, "{\"text\": \"a\\u0000b\"}\n");
    rc = tu_sh("%s tokenize --vocab '%s' --input '%s' --out '%s'", tu_strata(), voc, in, out);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(tu_last_err(), "bad.jsonl:1: field \"text\": contains a NUL character"));
    /* trailing garbage after the JSON string or object */
    tu_write_str(in, "\"ok\"\n\"hello\" world\n");
    rc = tu_sh("%s tokenize --vocab '%s' --input '%s' --out '%s'", tu_strata(), voc, in, out);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(tu_last_err(), "bad.jsonl:2: not valid JSON"));
    tu_write_str(in, "{\"text\": \"hello\"}}\n");
    rc = tu_sh("%s tokenize --vocab '%s' --input '%s' --out '%s'", tu_strata(), voc, in, out);
    assert_int_equal(rc, 1);
    assert_false(tu_exists(out));
    /* good input through stdin */
    rc = tu_sh("printf '\"Hello, world!\"\\n' | %s tokenize --vocab '%s'", tu_strata(), voc);
    assert_int_equal(rc, 0);
    assert_string_equal(tu_last_out(), "[2,8,9,10,11,3]\n");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_llamacpp_vectors),
        cmocka_unit_test(test_scifact_vs_hf_tokenizer_json),
        cmocka_unit_test(test_scifact_vs_hf_vocab_txt),
        cmocka_unit_test(test_unit_cases),
        cmocka_unit_test(test_cased_vocab),
        cmocka_unit_test(test_basic_tokenizer),
        cmocka_unit_test(test_vocab_missing_specials),
        cmocka_unit_test(test_cli_invalid_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
