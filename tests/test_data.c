/*
 * test_data.c — the pairs reader (JSONL / TSV / .gz / .zst / BEIR dir), its
 * bad-input errors, `strata inspect` statistics, and the synthetic demo
 * corpus (`strata synth`).
 *
 * References nobody here wrote: Python's json module and numpy.percentile
 * (tests/ref/pairs_dump.py) for the texts and the statistics, the counts in
 * ../shared/data/PROVENANCE.md for the real multi-source file.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>
#include <cjson/cJSON.h>

#include "strata/data.h"
#include "strata/io.h"
#include "testutil.h"
#include "data/synth_words.h"
#include "data/data_internal.h"

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */
/* ------------------------------------------------------------------------ */

static strata_status load(strata_pairs *p, const char *path, strata_error *err) {
    return strata_pairs_load(p, path, NULL, err);
}

/* Loading `text` written to `name` fails with a message containing `want`. */
static void expect_error(const char *name, const void *text, size_t len, const char *want) {
    const char *p = tu_join(tu_tmpdir(), name);
    tu_write(p, text, len);
    strata_pairs pr;
    strata_error err;
    strata_error_clear(&err);
    strata_status st = load(&pr, p, &err);
    if (st == STRATA_OK || !strstr(err.msg, want))
        fail_msg("%s: expected error containing '%s', got status %d '%s'", name, want, (int)st,
                 err.msg);
    assert_int_equal(pr.n, 0);
    assert_null(pr.arena);
}

static int64_t count_prefix(const strata_pairs *p, const char *prefix) {
    int64_t *per = calloc((size_t)p->n_sources, sizeof *per);
    for (int64_t i = 0; i < p->n; i++) per[p->source[i]]++;
    int64_t n = 0;
    for (int s = 0; s < p->n_sources; s++)
        if (strncmp(p->source_names[s], prefix, strlen(prefix)) == 0) n += per[s];
    free(per);
    return n;
}

static void write_gz(const char *path, const char *text) {
    gzFile g = gzopen(path, "wb");
    assert_non_null(g);
    assert_int_equal(gzwrite(g, text, (unsigned)strlen(text)), (int)strlen(text));
    assert_int_equal(gzclose(g), Z_OK);
}

static void write_zst(const char *path, const char *text) {
    size_t n = strlen(text), cap = ZSTD_compressBound(n);
    char *z = malloc(cap);
    size_t zl = ZSTD_compress(z, cap, text, n, 3);
    assert_false(ZSTD_isError(zl));
    tu_write(path, z, zl);
    free(z);
}

static void assert_same_pairs(const strata_pairs *a, const strata_pairs *b) {
    assert_int_equal(a->n, b->n);
    assert_int_equal(a->arena_len, b->arena_len);
    assert_memory_equal(a->arena, b->arena, a->arena_len);
    assert_memory_equal(a->off, b->off, (size_t)(2 * a->n + 1) * sizeof *a->off);
    assert_int_equal(a->n_sources, b->n_sources);
    for (int s = 0; s < a->n_sources; s++)
        assert_string_equal(a->source_names[s], b->source_names[s]);
    assert_memory_equal(a->source, b->source, (size_t)a->n * sizeof *a->source);
}

static double jnum(const cJSON *o, const char *k) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!it) fail_msg("reference JSON lacks %s", k);
    return it->valuedouble;
}

/* Compares strata's arena and statistics for `path` with the Python
 * reference (json + numpy). Exact for counts and arena bytes; 1e-9 relative
 * for means (summed in double on both sides, only the order differs). */
static void compare_with_python(const char *path) {
    const char *dir = tu_tmpdir();
    char arena_path[1024], stats_path[1024];
    snprintf(arena_path, sizeof arena_path, "%s", tu_join(dir, "ref_arena.bin"));
    snprintf(stats_path, sizeof stats_path, "%s", tu_join(dir, "ref_stats.json"));
    int rc = tu_sh("%s tests/ref/pairs_dump.py '%s' '%s' '%s'", tu_python(), path, arena_path,
                   stats_path);
    if (rc != 0) fail_msg("pairs_dump.py failed: %s", tu_last_err());
    strata_pairs p;
    strata_error err;
    assert_int_equal(load(&p, path, &err), STRATA_OK);
    size_t alen;
    char *ref = tu_read(arena_path, &alen);
    assert_non_null(ref);
    assert_int_equal(alen, p.arena_len);
    assert_memory_equal(ref, p.arena, alen);
    free(ref);
    strata_pairs_stats s;
    assert_int_equal(strata_pairs_stats_compute(&s, &p, &err), STRATA_OK);
    char *js = tu_read(stats_path, NULL);
    cJSON *j = cJSON_Parse(js);
    free(js);
    assert_non_null(j);
    assert_int_equal((int64_t)jnum(j, "n"), s.n);
    assert_int_equal((int64_t)jnum(j, "unique_queries"), s.unique_queries);
    assert_int_equal((int64_t)jnum(j, "unique_positives"), s.unique_positives);
    assert_int_equal((int64_t)jnum(j, "unique_pairs"), s.n - s.dup_pairs);
    const cJSON *src = cJSON_GetObjectItemCaseSensitive(j, "sources");
    assert_int_equal(cJSON_GetArraySize(src), p.n_sources);
    for (int i = 0; i < p.n_sources; i++)
        assert_int_equal((int64_t)jnum(src, p.source_names[i]), s.source_count[i]);
    const char *names[4] = {"query_chars", "query_words", "positive_chars", "positive_words"};
    const strata_len_stats *ls[4] = {&s.query_chars, &s.query_words, &s.positive_chars,
                                     &s.positive_words};
    for (int k = 0; k < 4; k++) {
        const cJSON *o = cJSON_GetObjectItemCaseSensitive(j, names[k]);
        assert_true(fabs(jnum(o, "mean") - ls[k]->mean) <= 1e-9 * fabs(ls[k]->mean));
        assert_true(fabs(jnum(o, "median") - ls[k]->median) <= 1e-9);
        assert_true(fabs(jnum(o, "p95") - ls[k]->p95) <= 1e-9 * fabs(ls[k]->p95) + 1e-9);
        assert_int_equal((int64_t)jnum(o, "max"), ls[k]->max);
    }
    cJSON_Delete(j);
    strata_pairs_stats_free(&s);
    strata_pairs_free(&p);
}

/* ------------------------------------------------------------------------ */
/* Real data                                                                 */
/* ------------------------------------------------------------------------ */

static void test_multisource_counts(void **state) {
    (void)state;
    TU_REQUIRE_DATA("pairs/multisource_pairs.jsonl");
    const char *path = tu_data("pairs/multisource_pairs.jsonl");
    strata_pairs p;
    strata_error err;
    assert_int_equal(load(&p, path, &err), STRATA_OK);
    /* PROVENANCE.md: 61,486 pairs, 41 source labels, and the family counts */
    assert_int_equal(p.n, 61486);
    assert_int_equal(p.n_sources, 41);
    assert_int_equal(count_prefix(&p, "reuters"), 18785);
    assert_int_equal(count_prefix(&p, "medquad/"), 16359);
    assert_int_equal(count_prefix(&p, "nq_qed"), 7167);
    assert_int_equal(count_prefix(&p, "scifact_title_abstract"), 5183);
    assert_int_equal(count_prefix(&p, "scifact_train"), 916);
    assert_int_equal(count_prefix(&p, "msrp"), 3900);
    assert_int_equal(count_prefix(&p, "sick"), 3681);
    assert_int_equal(count_prefix(&p, "sts"), 3641);
    assert_int_equal(count_prefix(&p, "pubmedqa"), 1000);
    assert_int_equal(count_prefix(&p, "trecqa"), 854);
    int medquad_sites = 0;
    for (int s = 0; s < p.n_sources; s++)
        medquad_sites += strncmp(p.source_names[s], "medquad/", 8) == 0;
    assert_int_equal(medquad_sites, 9);
    strata_pairs_free(&p);
}

static void test_multisource_vs_python(void **state) {
    (void)state;
    TU_REQUIRE_DATA("pairs/multisource_pairs.jsonl");
    TU_REQUIRE_PY("numpy");
    compare_with_python(tu_data("pairs/multisource_pairs.jsonl"));
}

static void test_beir_dir_as_pairs(void **state) {
    (void)state;
    TU_REQUIRE_DATA("beir/scifact/qrels/train.tsv");
    strata_pairs p;
    strata_error err;
    /* PROVENANCE.md: scifact train qrels hold 919 judged pairs (all score 1) */
    assert_int_equal(load(&p, tu_data("beir/scifact"), &err), STRATA_OK);
    assert_int_equal(p.n, 919);
    assert_int_equal(p.n_sources, 1);
    assert_string_equal(p.source_names[0], "scifact");
    strata_pairs_free(&p);
    /* PROVENANCE.md: nq_qed has 7,167 train queries, one gold paragraph each */
    if (tu_data("beir/nq_qed/qrels/train.tsv")) {
        assert_int_equal(load(&p, tu_data("beir/nq_qed"), &err), STRATA_OK);
        assert_int_equal(p.n, 7167);
        strata_pairs_free(&p);
    }
    /* inspect on the BEIR dir: per-split counts from PROVENANCE.md */
    const char *js_path = tu_join(tu_tmpdir(), "scifact_inspect.json");
    char jp[1024];
    snprintf(jp, sizeof jp, "%s", js_path);
    assert_int_equal(tu_sh("%s inspect '%s' --json '%s' --quiet", tu_strata(),
                           tu_data("beir/scifact"), jp), 0);
    char *js = tu_read(jp, NULL);
    assert_non_null(js);
    cJSON *j = cJSON_Parse(js);
    free(js);
    const cJSON *bj = cJSON_GetObjectItemCaseSensitive(j, "beir");
    assert_int_equal((int)jnum(bj, "corpus"), 5183);
    assert_int_equal((int)jnum(bj, "queries"), 1109);
    const cJSON *sp = cJSON_GetObjectItemCaseSensitive(bj, "splits");
    const cJSON *tr = cJSON_GetObjectItemCaseSensitive(sp, "train");
    const cJSON *te = cJSON_GetObjectItemCaseSensitive(sp, "test");
    assert_int_equal((int)jnum(tr, "qrels"), 919);
    assert_int_equal((int)jnum(tr, "queries"), 809);
    assert_int_equal((int)jnum(te, "qrels"), 339);
    assert_int_equal((int)jnum(te, "queries"), 300);
    assert_int_equal((int)jnum(j, "n_pairs"), 919);
    cJSON_Delete(j);
    /* a directory that is not a BEIR training set */
    assert_int_equal(load(&p, tu_tmpdir(), &err), STRATA_EINVAL);
    assert_non_null(strstr(err.msg, "no qrels/train.tsv"));
}

/* ------------------------------------------------------------------------ */
/* Formats                                                                   */
/* ------------------------------------------------------------------------ */

static const char *k_jsonl =
    "{\"query\": \"caf\\u00e9 opening hours\", \"positive\": \"The caf\xc3\xa9 opens at 8.\", \"source\": \"web\"}\n"
    "{\"query\": \"he said \\\"hi\\\"\", \"positive\": \"a back\\\\slash and \xe2\x82\xac\", \"source\": \"chat\"}\n"
    "\n"
    "{\"query\": \"no source here\", \"positive\": \"emoji \xf0\x9f\x98\x80 ok\"}\n"
    "{\"query\": \"third web\", \"positive\": \"p3\", \"source\": \"web\", \"extra\": [1, 2]}\n";
static const char *k_tsv =
    "caf\xc3\xa9 opening hours\tThe caf\xc3\xa9 opens at 8.\tweb\n"
    "he said \"hi\"\ta back\\slash and \xe2\x82\xac\tchat\n"
    "\n"
    "no source here\temoji \xf0\x9f\x98\x80 ok\n"
    "third web\tp3\tweb\n";

static void test_formats_identical(void **state) {
    (void)state;
    const char *dir = tu_tmpdir();
    char pj[1024], pt[1024], pg[1024], pz[1024], ptz[1024];
    snprintf(pj, sizeof pj, "%s", tu_join(dir, "f.jsonl"));
    snprintf(pt, sizeof pt, "%s", tu_join(dir, "f.tsv"));
    snprintf(pg, sizeof pg, "%s", tu_join(dir, "f.jsonl.gz"));
    snprintf(pz, sizeof pz, "%s", tu_join(dir, "f.jsonl.zst"));
    snprintf(ptz, sizeof ptz, "%s", tu_join(dir, "f.tsv.zst"));
    tu_write_str(pj, k_jsonl);
    tu_write_str(pt, k_tsv);
    write_gz(pg, k_jsonl);
    write_zst(pz, k_jsonl);
    write_zst(ptz, k_tsv);
    strata_pairs a, b;
    strata_error err;
    assert_int_equal(load(&a, pj, &err), STRATA_OK);
    assert_int_equal(a.n, 4);
    assert_string_equal(strata_pairs_query(&a, 0), "caf\xc3\xa9 opening hours");
    assert_string_equal(strata_pairs_query(&a, 1), "he said \"hi\"");
    assert_string_equal(strata_pairs_positive(&a, 1), "a back\\slash and \xe2\x82\xac");
    assert_int_equal(a.n_sources, 3);
    assert_string_equal(a.source_names[0], "web");
    assert_string_equal(a.source_names[1], "chat");
    assert_string_equal(a.source_names[2], "default");
    assert_int_equal(a.source[3], 0);
    assert_int_equal(strata_pairs_text_len(&a, 7), 2);
    const char *others[4] = {pt, pg, pz, ptz};
    for (int i = 0; i < 4; i++) {
        if (load(&b, others[i], &err) != STRATA_OK) fail_msg("%s: %s", others[i], err.msg);
        assert_same_pairs(&a, &b);
        strata_pairs_free(&b);
    }
    strata_pairs_free(&a);
    strata_pairs_free(NULL);
}

static void test_field_names(void **state) {
    (void)state;
    const char *dir = tu_tmpdir();
    const char *p = tu_join(dir, "anchor.jsonl");
    tu_write_str(p, "{\"anchor\": \"a1\", \"positive\": \"p1\"}\n{\"anchor\": \"a2\", \"positive\": \"p2\", \"source\": null}\n");
    strata_pairs pr;
    strata_error err;
    assert_int_equal(load(&pr, p, &err), STRATA_OK);
    assert_int_equal(pr.n, 2);
    assert_string_equal(strata_pairs_query(&pr, 1), "a2");
    assert_int_equal(pr.n_sources, 1);
    assert_string_equal(pr.source_names[0], "default");
    strata_pairs_free(&pr);

    p = tu_join(dir, "custom.jsonl");
    tu_write_str(p, "{\"q\": \"x\", \"d\": \"y\", \"dom\": \"news\", \"query\": \"ignored\"}\n");
    strata_pairs_options o = strata_pairs_default_options();
    o.query_field = "q";
    o.positive_field = "d";
    o.source_field = "dom";
    assert_int_equal(strata_pairs_load(&pr, p, &o, &err), STRATA_OK);
    assert_string_equal(strata_pairs_query(&pr, 0), "x");
    assert_string_equal(strata_pairs_positive(&pr, 0), "y");
    assert_string_equal(pr.source_names[0], "news");
    assert_int_equal(strata_pairs_source_id(&pr, "news"), 0);
    assert_int_equal(strata_pairs_source_id(&pr, "nope"), -1);
    strata_pairs_free(&pr);
    /* a custom query field does not fall back to "anchor" */
    p = tu_join(dir, "custom2.jsonl");
    tu_write_str(p, "{\"anchor\": \"x\", \"d\": \"y\"}\n");
    assert_int_equal(strata_pairs_load(&pr, p, &o, &err), STRATA_EFORMAT);
    assert_non_null(strstr(err.msg, "custom2.jsonl:1: field \"q\" missing"));
}

static void test_crlf(void **state) {
    (void)state;
    const char *p = tu_join(tu_tmpdir(), "crlf.jsonl");
    tu_write_str(p, "{\"query\": \"a\", \"positive\": \"b\"}\r\n\r\n{\"query\": \"c\", \"positive\": \"d\"}\r\n");
    strata_pairs pr;
    strata_error err;
    assert_int_equal(load(&pr, p, &err), STRATA_OK);
    assert_int_equal(pr.n, 2);
    assert_string_equal(strata_pairs_positive(&pr, 1), "d");
    strata_pairs_free(&pr);
    p = tu_join(tu_tmpdir(), "crlf.tsv");
    tu_write_str(p, "a\tb\r\nc\td\tsrc\r\n");
    assert_int_equal(load(&pr, p, &err), STRATA_OK);
    assert_string_equal(strata_pairs_positive(&pr, 0), "b");
    assert_string_equal(pr.source_names[1], "src");
    strata_pairs_free(&pr);
}

/* ------------------------------------------------------------------------ */
/* Bad input                                                                 */
/* ------------------------------------------------------------------------ */

#define GOOD "{\"query\": \"q\", \"positive\": \"p\"}\n"

static void test_bad_input(void **state) {
    (void)state;
    const char *t;
    t = GOOD "{\"query\": \"q\", \"positive\": \"p\"\n";
    expect_error("trunc.jsonl", t, strlen(t), "trunc.jsonl:2: invalid JSON");
    t = GOOD GOOD "{\"query\": \"q\", \"pos\": \"p\"}\n";
    expect_error("missing.jsonl", t, strlen(t), "missing.jsonl:3: field \"positive\" missing");
    t = GOOD "{\"query\": \"q\", \"positive\": 5}\n";
    expect_error("type.jsonl", t, strlen(t), "type.jsonl:2: field \"positive\" is not a string");
    t = "{\"query\": [\"q\"], \"positive\": \"p\"}\n";
    expect_error("type2.jsonl", t, strlen(t), "type2.jsonl:1: field \"query\" is not a string");
    t = "{\"query\": \"q\", \"positive\": \"p\", \"source\": 3}\n";
    expect_error("type3.jsonl", t, strlen(t), "type3.jsonl:1: field \"source\" is not a string");
    t = GOOD "{\"query\": \"ab\xff\", \"positive\": \"p\"}\n";
    expect_error("utf8.jsonl", t, strlen(t), "utf8.jsonl:2: field \"query\": invalid UTF-8 at byte 2");
    t = "ok\tfine\nq\tp\xc3\n";
    expect_error("utf8.tsv", t, strlen(t), "utf8.tsv:2: field \"positive\": invalid UTF-8 at byte 1");
    t = "[1, 2]\n";
    expect_error("array.jsonl", t, strlen(t), "array.jsonl:1: expected a JSON object");
    t = GOOD "{\"query\": \"q\", \"positive\": \"p\"} trailing\n";
    expect_error("trail.jsonl", t, strlen(t), "trail.jsonl:2: invalid JSON");
    expect_error("empty.jsonl", "", 0, "empty.jsonl: no pairs");
    t = "\n  \n\r\n";
    expect_error("blank.jsonl", t, strlen(t), "blank.jsonl: no pairs");
    t = "only one field\n";
    expect_error("one.tsv", t, strlen(t), "one.tsv:1: field \"positive\" missing");
    t = "a\tb\tc\td\n";
    expect_error("four.tsv", t, strlen(t), "four.tsv:1: expected 2 or 3 tab-separated fields");
    /* NUL byte: reported by the line reader with the line */
    expect_error("nul.jsonl", GOOD "{\"query\": \"a\0b\"}\n", strlen(GOOD) + 17, "nul.jsonl:2: NUL byte");
    /* a line over 1 MiB */
    size_t big = (1u << 20) + 100;
    char *s = malloc(strlen(GOOD) + big + 64);
    size_t n = (size_t)sprintf(s, GOOD "{\"query\": \"");
    memset(s + n, 'x', big);
    n += big;
    n += (size_t)sprintf(s + n, "\", \"positive\": \"p\"}\n");
    expect_error("long.jsonl", s, n, "long.jsonl:2: line");
    free(s);
    /* a missing file */
    strata_pairs pr;
    strata_error err;
    assert_int_equal(load(&pr, tu_join(tu_tmpdir(), "absent.jsonl"), &err), STRATA_EIO);
    assert_non_null(strstr(err.msg, "absent.jsonl: cannot open"));
}

static void test_cli_inspect(void **state) {
    (void)state;
    const char *dir = tu_tmpdir();
    char bad[1024], out[1024], good[1024];
    snprintf(bad, sizeof bad, "%s", tu_join(dir, "cli_bad.jsonl"));
    snprintf(out, sizeof out, "%s", tu_join(dir, "cli_out.json"));
    snprintf(good, sizeof good, "%s", tu_join(dir, "cli_good.jsonl"));
    tu_write_str(bad, GOOD "{\"query\": \"q\", \"positive\": \"p\"\n");
    assert_int_equal(tu_sh("%s inspect '%s' --json '%s'", tu_strata(), bad, out), 1);
    assert_non_null(strstr(tu_last_err(), "cli_bad.jsonl:2: invalid JSON"));
    assert_false(tu_exists(out));
    assert_int_equal(tu_count_files(dir, ".tmp."), 0);
    /* usage errors exit 2 */
    assert_int_equal(tu_sh("%s inspect", tu_strata()), 2);
    assert_int_equal(tu_sh("%s inspect '%s' --bogus", tu_strata(), bad), 2);
    /* a good file: JSON with the counts */
    tu_write_str(good, GOOD GOOD "{\"query\": \"q2\", \"positive\": \"p\", \"source\": \"s\"}\n");
    assert_int_equal(tu_sh("%s inspect '%s' --json '%s' --quiet", tu_strata(), good, out), 0);
    assert_non_null(strstr(tu_last_out(), "3 pairs, 2 sources"));
    char *js = tu_read(out, NULL);
    assert_non_null(js);
    cJSON *j = cJSON_Parse(js);
    free(js);
    assert_int_equal((int)jnum(j, "n_pairs"), 3);
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(j, "duplicates");
    assert_int_equal((int)jnum(d, "queries"), 1);
    assert_int_equal((int)jnum(d, "positives"), 2);
    assert_int_equal((int)jnum(d, "pairs"), 1);
    cJSON_Delete(j);
    assert_int_equal(tu_count_files(dir, ".tmp."), 0);
}

/* ------------------------------------------------------------------------ */
/* Statistics                                                                */
/* ------------------------------------------------------------------------ */

static void test_stats_small(void **state) {
    (void)state;
    /* hand-checked: query words 1,3,2,2 -> mean 2, median 2, p95 2.85
     * (numpy: 2 + 0.85 * (3 - 2)); chars count code points */
    const char *p = tu_join(tu_tmpdir(), "st.jsonl");
    tu_write_str(p,
                 "{\"query\": \"\xc3\xa9t\xc3\xa9\", \"positive\": \"x\"}\n"
                 "{\"query\": \" a  b\\tc \", \"positive\": \"x\"}\n"
                 "{\"query\": \"ab cd\", \"positive\": \"y\"}\n"
                 "{\"query\": \"ab cd\", \"positive\": \"x\"}\n");
    strata_pairs pr;
    strata_pairs_stats s;
    strata_error err;
    assert_int_equal(load(&pr, p, &err), STRATA_OK);
    assert_int_equal(strata_pairs_stats_compute(&s, &pr, &err), STRATA_OK);
    assert_true(fabs(s.query_words.mean - 2.0) < 1e-12);
    assert_true(fabs(s.query_words.median - 2.0) < 1e-12);
    assert_true(fabs(s.query_words.p95 - 2.85) < 1e-12);
    assert_int_equal(s.query_words.max, 3);
    assert_int_equal(s.query_chars.max, 8);   /* " a  b\tc " */
    assert_true(fabs(s.query_chars.mean - (3 + 8 + 5 + 5) / 4.0) < 1e-12);
    assert_int_equal(s.dup_queries, 1);
    assert_int_equal(s.dup_positives, 2);
    assert_int_equal(s.dup_pairs, 0);
    strata_pairs_stats_free(&s);
    strata_pairs_free(&pr);
}

static void test_text_counts_kernel(void **state) {
    (void)state;
    /* the table-driven kernel against the one-branch-per-byte reference on
     * random bytes biased towards whitespace and UTF-8 lead/continuation */
    strata_rng r;
    strata_rng_seed(&r, 42, 0);
    static const unsigned char pool[] = {' ', '\t', '\n', '\v', '\f', '\r', 'a', 'Z', 0xc3,
                                         0xa9, 0x80, 0xbf, 0xe2, 0xf0, 0x9f, 0xff, 0x1c, 0xa0};
    char buf[512];
    for (int it = 0; it < 2000; it++) {
        size_t n = (size_t)strata_rng_below(&r, sizeof buf);
        for (size_t i = 0; i < n; i++)
            buf[i] = strata_rng_below(&r, 4) ? (char)pool[strata_rng_below(&r, sizeof pool)]
                                             : (char)strata_rng_below(&r, 256);
        int64_t c0, w0, c1, w1;
        strata__text_counts(buf, n, &c0, &w0, 1);
        strata__text_counts(buf, n, &c1, &w1, 0);
        assert_int_equal(c0, c1);
        assert_int_equal(w0, w1);
    }
    int64_t c, w;
    strata__text_counts(" caf\xc3\xa9  au\tlait\r\n", 17, &c, &w, 0);
    assert_int_equal(c, 16);
    assert_int_equal(w, 3);
}

/* ------------------------------------------------------------------------ */
/* Synthetic corpus                                                          */
/* ------------------------------------------------------------------------ */

static const char *synth_files[4] = {"pairs.jsonl", "beir/corpus.jsonl", "beir/queries.jsonl",
                                     "beir/qrels/test.tsv"};

static void test_synth_words_disjoint(void **state) {
    (void)state;
    /* topics are separable only if no word belongs to two topic lists */
    for (int a = 0; a < SYNTH_BUILTIN_TOPICS; a++)
        for (int i = 0; i < SYNTH_TOPIC_WORDS; i++)
            for (int b = a; b < SYNTH_BUILTIN_TOPICS; b++)
                for (int j = 0; j < SYNTH_TOPIC_WORDS; j++) {
                    if (a == b && j <= i) continue;
                    if (strcmp(synth_topic_words[a][i], synth_topic_words[b][j]) == 0)
                        fail_msg("word '%s' in topics %d and %d", synth_topic_words[a][i], a, b);
                }
}

static void test_synth_deterministic(void **state) {
    (void)state;
    char d1[1024], d2[1024], d3[1024];
    snprintf(d1, sizeof d1, "%s", tu_join(tu_tmpdir(), "syn_a"));
    snprintf(d2, sizeof d2, "%s", tu_join(tu_tmpdir(), "syn_b"));
    snprintf(d3, sizeof d3, "%s", tu_join(tu_tmpdir(), "syn_c"));
    strata_synth_params p = strata_synth_default_params();
    p.seed = 7;
    strata_error err;
    assert_int_equal(strata_synth_write(d1, &p, &err), STRATA_OK);
    assert_int_equal(strata_synth_write(d2, &p, &err), STRATA_OK);
    p.seed = 8;
    assert_int_equal(strata_synth_write(d3, &p, &err), STRATA_OK);
    for (int f = 0; f < 4; f++) {
        size_t l1, l2, l3;
        char *a = tu_read(tu_join(d1, synth_files[f]), &l1);
        char *b = tu_read(tu_join(d2, synth_files[f]), &l2);
        char *c = tu_read(tu_join(d3, synth_files[f]), &l3);
        assert_non_null(a);
        assert_non_null(b);
        assert_non_null(c);
        assert_int_equal(l1, l2);
        assert_memory_equal(a, b, l1);
        assert_true(l1 != l3 || memcmp(a, c, l1) != 0);
        free(a);
        free(b);
        free(c);
    }
    assert_int_equal(tu_count_files(d1, ".tmp."), 0);
    assert_int_equal(tu_count_files(tu_join(d1, "beir"), ".tmp."), 0);
    /* through the CLI, same bytes for the same seed */
    char d4[1024];
    snprintf(d4, sizeof d4, "%s", tu_join(tu_tmpdir(), "syn_cli"));
    assert_int_equal(tu_sh("%s synth --out '%s' --seed 7 --quiet", tu_strata(), d4), 0);
    for (int f = 0; f < 4; f++) {
        size_t l1, l4;
        char *a = tu_read(tu_join(d1, synth_files[f]), &l1);
        char *b = tu_read(tu_join(d4, synth_files[f]), &l4);
        assert_non_null(b);
        assert_int_equal(l1, l4);
        assert_memory_equal(a, b, l1);
        free(a);
        free(b);
    }
    assert_int_equal(tu_sh("%s synth --quiet", tu_strata()), 2);
    assert_int_equal(tu_sh("%s synth --out '%s' --topics 0", tu_strata(), d4), 2); /* invalid value: usage */
    assert_non_null(strstr(tu_last_err(), "topics must be in 1..1000"));
}

/* Set of words of a text (lower-cased), as a sorted array of hashes. */
static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}
static int word_hashes(const char *s, uint64_t *out, int cap) {
    int n = 0;
    while (*s && n < cap) {
        while (*s == ' ') s++;
        if (!*s) break;
        char w[64];
        int k = 0;
        while (*s && *s != ' ') {
            char c = *s++;
            if (c >= 'A' && c <= 'Z') c = (char)(c + 32);
            if (k < 63) w[k++] = c;
        }
        out[n++] = strata_hash64(w, (size_t)k, 0);
    }
    qsort(out, (size_t)n, sizeof *out, cmp_u64);
    int m = 0;
    for (int i = 0; i < n; i++)
        if (m == 0 || out[m - 1] != out[i]) out[m++] = out[i];
    return m;
}
static const uint64_t *g_stop; /* sorted hashes of words not counted */
static size_t g_nstop;
static int is_stop(uint64_t h) {
    return g_stop && bsearch(&h, g_stop, g_nstop, sizeof h, cmp_u64) != NULL;
}
static int shared_words(const uint64_t *a, int na, const uint64_t *b, int nb) {
    int i = 0, j = 0, n = 0;
    while (i < na && j < nb) {
        if (a[i] == b[j]) { n += !is_stop(a[i]); i++; j++; }
        else if (a[i] < b[j]) i++;
        else j++;
    }
    return n;
}

static void test_synth_structure(void **state) {
    (void)state;
    char d[1024];
    snprintf(d, sizeof d, "%s", tu_join(tu_tmpdir(), "syn_s"));
    strata_synth_params p = strata_synth_default_params();
    p.paraphrase = 0; /* synonyms are tested below */
    strata_error err;
    assert_int_equal(strata_synth_write(d, &p, &err), STRATA_OK);
    strata_pairs pr;
    assert_int_equal(load(&pr, tu_join(d, "pairs.jsonl"), &err), STRATA_OK);
    int T = p.n_topics, S = STRATA_SYNTH_SOURCES;
    assert_int_equal(pr.n, (int64_t)S * T * p.pairs_per_source_topic);
    assert_true(pr.n >= 5000 && pr.n <= 10000);
    assert_int_equal(pr.n_sources, S);
    /* every source covers every topic, exactly pairs_per_source_topic times */
    int *cell = calloc((size_t)S * T, sizeof *cell);
    int *topic = malloc((size_t)pr.n * sizeof *topic);
    int *subt = malloc((size_t)pr.n * sizeof *subt);
    strata_lines *r;
    assert_int_equal(strata_lines_open(&r, tu_join(d, "pairs.jsonl"), 0, &err), STRATA_OK);
    const char *line;
    size_t len;
    int64_t i = 0;
    while (strata_lines_next(r, &line, &len, &err) == 1) {
        cJSON *o = cJSON_Parse(line);
        const char *tn = cJSON_GetObjectItem(o, "topic")->valuestring;
        int t = -1;
        for (int k = 0; k < T; k++)
            if (strcmp(synth_topic_names[k], tn) == 0) t = k;
        assert_true(t >= 0);
        topic[i] = t;
        subt[i] = cJSON_GetObjectItem(o, "subtopic")->valueint;
        cell[pr.source[i] * T + t]++;
        cJSON_Delete(o);
        i++;
    }
    strata_lines_close(r);
    assert_int_equal(i, pr.n);
    for (int c = 0; c < S * T; c++) assert_int_equal(cell[c], p.pairs_per_source_topic);
    /* queries share some, not all, words with their positive; a query shares
     * more words with same-topic positives than with other-topic ones, and
     * more again with same-subtopic ones (clusters finer than topics) */
    uint64_t qa[64], pa[256];
    /* style and function words (in more than 10% of the positives) do not
     * count as shared content */
    uint64_t *allw = malloc((size_t)pr.n * 256 * sizeof *allw);
    size_t nall = 0;
    for (i = 0; i < pr.n; i++)
        nall += (size_t)word_hashes(strata_pairs_positive(&pr, i), allw + nall, 256);
    qsort(allw, nall, sizeof *allw, cmp_u64);
    size_t nstop = 0;
    for (size_t a = 0, e; a < nall; a = e) {
        for (e = a; e < nall && allw[e] == allw[a]; e++) {}
        if ((int64_t)(e - a) * 10 > pr.n) allw[nstop++] = allw[a];
    }
    g_stop = allw;
    g_nstop = nstop;
    /* word sets of every 7th positive, the comparison sample */
    int64_t ns = (pr.n + 6) / 7;
    uint64_t *sp = malloc((size_t)ns * 256 * sizeof *sp);
    int *spn = malloc((size_t)ns * sizeof *spn);
    for (int64_t j = 0; j < ns; j++)
        spn[j] = word_hashes(strata_pairs_positive(&pr, 7 * j), sp + j * 256, 256);
    int all_shared = 0;
    double same = 0, other = 0, same_sub = 0;
    int64_t n_same = 0, n_other = 0, n_same_sub = 0;
    for (i = 0; i < pr.n; i++) {
        int nq = word_hashes(strata_pairs_query(&pr, i), qa, 64);
        int np = word_hashes(strata_pairs_positive(&pr, i), pa, 256);
        int sh = shared_words(qa, nq, pa, np);
        assert_true(sh >= 1);
        int content = 0;
        for (int k = 0; k < nq; k++) content += !is_stop(qa[k]);
        all_shared += sh == content;
        if (i < 600) {
            for (int64_t j = 0; j < ns; j++) {
                if (7 * j == i) continue;
                double s2 = shared_words(qa, nq, sp + j * 256, spn[j]);
                if (topic[7 * j] == topic[i] && subt[7 * j] == subt[i]) { same_sub += s2; n_same_sub++; }
                else if (topic[7 * j] == topic[i]) { same += s2; n_same++; }
                else { other += s2; n_other++; }
            }
        }
    }
    assert_true(all_shared < pr.n / 5);
    print_message("content words a query shares with a positive of: the same subtopic %.3f, "
                  "the same topic %.3f, other topics %.3f\n", same_sub / (double)n_same_sub,
                  same / (double)n_same, other / (double)n_other);
    assert_true(same / (double)n_same > 2.0 * (other / (double)n_other));
    assert_true(same_sub / (double)n_same_sub > 1.5 * (same / (double)n_same));
    free(sp);
    free(spn);
    free(allw);
    g_stop = NULL;
    free(cell);
    free(topic);
    free(subt);
    strata_pairs_free(&pr);
}

/* Synonyms: with paraphrase 0 every query word of a pair's entity and
 * subtopic key words is in its positive; with 0.5 the queries differ only in
 * the words replaced, each replacement is absent from every positive (passages
 * never use synonyms), and about the expected share of queries has one. */
static void test_synth_paraphrase(void **state) {
    (void)state;
    char d0[1024], d5[1024];
    snprintf(d0, sizeof d0, "%s", tu_join(tu_tmpdir(), "syn_p0"));
    snprintf(d5, sizeof d5, "%s", tu_join(tu_tmpdir(), "syn_p5"));
    strata_synth_params p = strata_synth_default_params();
    strata_error err;
    p.paraphrase = 0;
    assert_int_equal(strata_synth_write(d0, &p, &err), STRATA_OK);
    p.paraphrase = 0.5;
    assert_int_equal(strata_synth_write(d5, &p, &err), STRATA_OK);
    p.paraphrase = 1.5;
    assert_int_equal(strata_synth_write(d5, &p, &err), STRATA_EINVAL);
    strata_pairs a, b;
    assert_int_equal(load(&a, tu_join(d0, "pairs.jsonl"), &err), STRATA_OK);
    assert_int_equal(load(&b, tu_join(d5, "pairs.jsonl"), &err), STRATA_OK);
    assert_int_equal(a.n, b.n);
    /* every word of every positive, to check that synonyms never occur there */
    size_t cap = (size_t)b.n * 256, nall = 0;
    uint64_t *allw = malloc(cap * sizeof *allw);
    for (int64_t i = 0; i < b.n; i++) nall += (size_t)word_hashes(strata_pairs_positive(&b, i), allw + nall, 256);
    qsort(allw, nall, sizeof *allw, cmp_u64);
    int64_t changed = 0, words_changed = 0;
    for (int64_t i = 0; i < a.n; i++) {
        assert_string_equal(strata_pairs_positive(&a, i), strata_pairs_positive(&b, i));
        uint64_t qa[64], qb[64];
        int na = word_hashes(strata_pairs_query(&a, i), qa, 64), nb = word_hashes(strata_pairs_query(&b, i), qb, 64);
        int diff = nb - shared_words(qb, nb, qa, na); /* distinct words new in b */
        changed += diff > 0;
        words_changed += diff;
        assert_true(diff <= 3);
        for (int k = 0; k < nb; k++) {
            int in_a = shared_words(qb + k, 1, qa, na);
            if (!in_a) assert_null(bsearch(&qb[k], allw, nall, sizeof *allw, cmp_u64));
        }
    }
    /* 3 candidate words (entity 80% of the time, two key words of which 3 in 5
     * are subtopic words) at rate 0.5: 0.5 * (0.8 + 2 * 0.6) = 1.0 per query */
    double per_query = (double)words_changed / (double)a.n;
    print_message("paraphrase 0.5: %.1f%% of queries changed, %.3f words per query\n",
                  100.0 * (double)changed / (double)a.n, per_query);
    assert_true(per_query > 0.9 && per_query < 1.1);
    free(allw);
    strata_pairs_free(&a);
    strata_pairs_free(&b);
}

/* The test set cannot be ranked by style: every document about a query's
 * topic (its relevant passages, its distractors, and every other passage of
 * that topic) is in the query's style, so style tells nothing that the topic
 * words do not. */
static void test_synth_beir_style_fair(void **state) {
    (void)state;
    char d[1024];
    snprintf(d, sizeof d, "%s", tu_join(tu_tmpdir(), "syn_fair"));
    strata_synth_params p = strata_synth_default_params();
    strata_error err;
    assert_int_equal(strata_synth_write(d, &p, &err), STRATA_OK);
    typedef struct meta {
        char id[16], source[32], topic[32];
    } meta;
    meta *qm = calloc((size_t)p.n_test_queries, sizeof *qm), *dm = calloc((size_t)p.n_corpus, sizeof *dm);
    const char *files[2] = {"beir/queries.jsonl", "beir/corpus.jsonl"};
    int counts[2] = {0, 0};
    for (int f = 0; f < 2; f++) {
        strata_lines *r;
        assert_int_equal(strata_lines_open(&r, tu_join(d, files[f]), 0, &err), STRATA_OK);
        const char *line;
        size_t len;
        while (strata_lines_next(r, &line, &len, &err) == 1) {
            cJSON *o = cJSON_Parse(line), *md = cJSON_GetObjectItem(o, "metadata");
            assert_non_null(md);
            meta *m = f ? &dm[counts[1]++] : &qm[counts[0]++];
            snprintf(m->id, sizeof m->id, "%s", cJSON_GetObjectItem(o, "_id")->valuestring);
            snprintf(m->source, sizeof m->source, "%s", cJSON_GetObjectItem(md, "source")->valuestring);
            snprintf(m->topic, sizeof m->topic, "%s", cJSON_GetObjectItem(md, "topic")->valuestring);
            cJSON_Delete(o);
        }
        strata_lines_close(r);
    }
    assert_int_equal(counts[0], p.n_test_queries);
    assert_int_equal(counts[1], p.n_corpus);
    int styles_seen[STRATA_SYNTH_SOURCES] = {0};
    int64_t same_topic = 0;
    for (int q = 0; q < counts[0]; q++) {
        for (int s = 0; s < STRATA_SYNTH_SOURCES; s++)
            styles_seen[s] |= strcmp(qm[q].source, strata_synth_source_name(s)) == 0;
        for (int k = 0; k < counts[1]; k++)
            if (strcmp(dm[k].topic, qm[q].topic) == 0) {
                same_topic++;
                if (strcmp(dm[k].source, qm[q].source) != 0)
                    fail_msg("%s (%s, %s) and %s (%s): same topic, other style", qm[q].id, qm[q].topic,
                             qm[q].source, dm[k].id, dm[k].source);
            }
    }
    for (int s = 0; s < STRATA_SYNTH_SOURCES; s++) assert_true(styles_seen[s]); /* every style is tested */
    assert_true(same_topic > (int64_t)counts[0] * 20); /* and there are many same-topic distractors */
    /* the judged documents: by the same rule, in the query's style */
    strata_beir b;
    assert_int_equal(strata_beir_load(&b, tu_join(d, "beir"), "test", (strata_progress){0}, &err), STRATA_OK);
    for (int64_t k = 0; k < b.n_qrels; k++)
        assert_string_equal(qm[b.qrels[k].query].source, dm[b.qrels[k].doc].source);
    strata_beir_free(&b);
    free(qm);
    free(dm);
}

static void test_synth_beir(void **state) {
    (void)state;
    char d[1024];
    snprintf(d, sizeof d, "%s", tu_join(tu_tmpdir(), "syn_beir"));
    strata_synth_params p = strata_synth_default_params();
    strata_error err;
    assert_int_equal(strata_synth_write(d, &p, &err), STRATA_OK);
    strata_beir b;
    const char *bd = tu_join(d, "beir");
    /* the BEIR reader rejects qrels naming unknown ids, so loading proves the
     * ids exist */
    if (strata_beir_load(&b, bd, "test", (strata_progress){0}, &err) != STRATA_OK)
        fail_msg("%s", err.msg);
    assert_int_equal(b.corpus.n, p.n_corpus);
    assert_int_equal(b.queries.n, p.n_test_queries);
    int *rel2 = calloc((size_t)b.queries.n, sizeof *rel2);
    int n1 = 0;
    for (int64_t k = 0; k < b.n_qrels; k++) {
        assert_true(b.qrels[k].score == 1 || b.qrels[k].score == 2);
        assert_true(b.qrels[k].doc >= 0 && b.qrels[k].doc < b.corpus.n);
        if (b.qrels[k].score == 2) rel2[b.qrels[k].query]++;
        else n1++;
    }
    for (int64_t q = 0; q < b.queries.n; q++) assert_int_equal(rel2[q], 1);
    assert_true(n1 > p.n_test_queries / 4 && n1 < p.n_test_queries * 3 / 4);
    free(rel2);
    strata_beir_free(&b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_multisource_counts),
        cmocka_unit_test(test_multisource_vs_python),
        cmocka_unit_test(test_beir_dir_as_pairs),
        cmocka_unit_test(test_formats_identical),
        cmocka_unit_test(test_field_names),
        cmocka_unit_test(test_crlf),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_cli_inspect),
        cmocka_unit_test(test_stats_small),
        cmocka_unit_test(test_text_counts_kernel),
        cmocka_unit_test(test_synth_words_disjoint),
        cmocka_unit_test(test_synth_deterministic),
        cmocka_unit_test(test_synth_structure),
        cmocka_unit_test(test_synth_paraphrase),
        cmocka_unit_test(test_synth_beir_style_fair),
        cmocka_unit_test(test_synth_beir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
