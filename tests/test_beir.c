/*
 * test_beir.c — the BEIR reader: counts on the real scifact and nq_qed sets
 * (checked against ../shared/data/PROVENANCE.md and the files themselves),
 * the title + " " + text rule, the id hash table, and one bad-input test per
 * error the reader reports (file:line and field in the message).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "strata/data.h"
#include "testutil.h"

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */
/* ------------------------------------------------------------------------ */

/* A fresh BEIR directory under the test tmpdir with the given files (NULL:
 * file not written). Returns its path (static rotating buffer). */
static const char *make_beir(const char *name, const char *corpus, const char *queries,
                             const char *qrels_test) {
    const char *dir = tu_join(tu_tmpdir(), name);
    char qd[1024];
    mkdir(dir, 0755);
    snprintf(qd, sizeof qd, "%s/qrels", dir);
    mkdir(qd, 0755);
    if (corpus) tu_write_str(tu_join(dir, "corpus.jsonl"), corpus);
    if (queries) tu_write_str(tu_join(dir, "queries.jsonl"), queries);
    if (qrels_test) tu_write_str(tu_join(dir, "qrels/test.tsv"), qrels_test);
    return dir;
}

static const char *CORPUS =
    "{\"_id\": \"d1\", \"title\": \"T1\", \"text\": \"body one\"}\n"
    "{\"_id\": \"d2\", \"title\": \"\", \"text\": \"body two\"}\n"
    "\n"
    "{\"_id\": \"d3\", \"text\": \"body three\", \"metadata\": {}}\r\n"
    "{\"_id\": 42, \"title\": null, \"text\": \"numeric id\"}\n";
static const char *QUERIES =
    "{\"_id\": \"q1\", \"text\": \"first query\"}\n"
    "{\"_id\": \"q2\", \"text\": \"second query\"}\n";

/* Loads dir with split "test" and expects failure with `needle` in the
 * message. */
static void expect_load_error(const char *dir, const char *needle) {
    strata_beir b;
    strata_error err;
    strata_status st = strata_beir_load(&b, dir, "test", (strata_progress){0}, &err);
    if (st == STRATA_OK) {
        strata_beir_free(&b);
        fail_msg("load of %s succeeded, expected error containing '%s'", dir, needle);
    }
    if (!strstr(err.msg, needle)) fail_msg("error '%s' lacks '%s'", err.msg, needle);
    assert_null(b.qrels);
    assert_int_equal(b.corpus.n, 0);
}

/* ------------------------------------------------------------------------ */
/* Real data                                                                 */
/* ------------------------------------------------------------------------ */

static int64_t distinct_queries(const strata_beir *b) {
    int64_t n = 0;
    for (int64_t q = 0; q < b->queries.n; q++) n += b->qrels_off[q + 1] > b->qrels_off[q];
    return n;
}

static void test_scifact_counts(void **state) {
    (void)state;
    TU_REQUIRE_DATA("beir/scifact/corpus.jsonl");
    const char *dir = tu_data("beir/scifact");
    strata_beir b;
    strata_error err;
    /* PROVENANCE.md: corpus 5,183; queries 1,109; train 919 pairs (809
     * queries); test 339 pairs (300 queries). */
    assert_int_equal(strata_beir_load(&b, dir, "train", (strata_progress){0}, &err), STRATA_OK);
    assert_int_equal(b.corpus.n, 5183);
    assert_int_equal(b.queries.n, 1109);
    assert_int_equal(b.n_qrels, 919);
    assert_int_equal(distinct_queries(&b), 809);
    /* first corpus line: _id 4983, title + " " + text */
    assert_int_equal(strata_texts_find(&b.corpus, "4983"), 0);
    const char *t = strata_texts_get(&b.corpus, 0);
    const char *want = "Microstructural development of human newborn cerebral white matter "
                       "assessed in vivo by diffusion tensor magnetic resonance imaging. "
                       "Alterations of the architecture of cerebral white matter";
    assert_int_equal(strncmp(t, want, strlen(want)), 0);
    /* qrels sorted by (query, doc), and the CSR index agrees */
    for (int64_t i = 1; i < b.n_qrels; i++) {
        const strata_qrel *x = &b.qrels[i - 1], *y = &b.qrels[i];
        assert_true(x->query < y->query || (x->query == y->query && x->doc < y->doc));
    }
    assert_int_equal(b.qrels_off[b.queries.n], b.n_qrels);
    strata_beir_free(&b);
    assert_int_equal(strata_beir_load(&b, dir, "test", (strata_progress){0}, &err), STRATA_OK);
    assert_int_equal(b.n_qrels, 339);
    assert_int_equal(distinct_queries(&b), 300);
    /* qrels/test.tsv line 2: "1	31715818	1" */
    int64_t q = strata_texts_find(&b.queries, "1"), d = strata_texts_find(&b.corpus, "31715818");
    assert_true(q >= 0 && d >= 0);
    assert_int_equal(b.qrels[b.qrels_off[q]].doc, d);
    assert_int_equal(b.qrels[b.qrels_off[q]].score, 1);
    strata_beir_free(&b);
}

static void test_nq_qed_counts(void **state) {
    (void)state;
    TU_REQUIRE_DATA("beir/nq_qed/corpus.jsonl");
    const char *dir = tu_data("beir/nq_qed");
    strata_beir b;
    strata_error err;
    /* PROVENANCE.md: corpus 8,096; train 7,167 queries, test 1,355, one gold
     * paragraph each (queries.jsonl holds both: 8,522). */
    assert_int_equal(strata_beir_load(&b, dir, "train", (strata_progress){0}, &err), STRATA_OK);
    assert_int_equal(b.corpus.n, 8096);
    assert_int_equal(b.queries.n, 8522);
    assert_int_equal(b.n_qrels, 7167);
    assert_int_equal(distinct_queries(&b), 7167);
    strata_beir_free(&b);
    assert_int_equal(strata_beir_load(&b, dir, "test", (strata_progress){0}, &err), STRATA_OK);
    assert_int_equal(b.n_qrels, 1355);
    assert_int_equal(distinct_queries(&b), 1355);
    /* ids are big signed integers written as strings */
    assert_int_equal(strata_texts_find(&b.queries, "7358594490286423817"), 0);
    assert_string_equal(strata_texts_get(&b.queries, 0),
                        "when was the last time a wildcard team won the superbowl");
    assert_int_equal(strata_texts_find(&b.corpus, "p0"), 0);
    assert_int_equal(strncmp(strata_texts_get(&b.corpus, 0), "Wild card (sports) 1980 Oakland", 31),
                     0);
    strata_beir_free(&b);
}

/* ------------------------------------------------------------------------ */
/* Format rules                                                              */
/* ------------------------------------------------------------------------ */

static void test_small_set_rules(void **state) {
    (void)state;
    const char *dir = make_beir("ok", CORPUS, QUERIES,
                                "query-id\tcorpus-id\tscore\n"
                                "q2\td3\t2\n"
                                "q1\td1\t1\r\n"
                                "\n"
                                "q1\t42\t0\n");
    strata_beir b;
    strata_error err;
    assert_int_equal(strata_beir_load(&b, dir, "test", (strata_progress){0}, &err), STRATA_OK);
    assert_int_equal(b.corpus.n, 4); /* the blank line is skipped */
    assert_string_equal(strata_texts_get(&b.corpus, 0), "T1 body one");
    assert_string_equal(strata_texts_get(&b.corpus, 1), "body two"); /* empty title */
    assert_string_equal(strata_texts_get(&b.corpus, 2), "body three"); /* no title */
    assert_string_equal(strata_texts_id(&b.corpus, 3), "42"); /* number id -> text */
    assert_int_equal(strata_texts_find(&b.corpus, "42"), 3);
    assert_int_equal(strata_texts_find(&b.corpus, "d4"), -1);
    assert_int_equal(b.n_qrels, 3);
    /* sorted by (query, doc): q1/d1, q1/42, q2/d3 */
    assert_int_equal(b.qrels[0].query, 0);
    assert_int_equal(b.qrels[0].doc, 0);
    assert_int_equal(b.qrels[1].doc, 3);
    assert_int_equal(b.qrels[1].score, 0);
    assert_int_equal(b.qrels[2].query, 1);
    assert_int_equal(b.qrels[2].score, 2);
    assert_int_equal(b.qrels_off[1], 2);
    strata_beir_free(&b);
    strata_beir_free(NULL);
    /* split NULL: no qrels */
    assert_int_equal(strata_beir_load(&b, dir, NULL, (strata_progress){0}, &err), STRATA_OK);
    assert_null(b.qrels_off);
    assert_int_equal(b.n_qrels, 0);
    strata_beir_free(&b);
}

static void test_trec_qrels_and_gzip(void **state) {
    (void)state;
    const char *dir = make_beir("trec", NULL, QUERIES, "q1 0 d2 1\nq2 0 d1 3\n");
    /* corpus as gzip only */
    gzFile g = gzopen(tu_join(dir, "corpus.jsonl.gz"), "wb");
    assert_non_null(g);
    gzputs(g, CORPUS);
    gzclose(g);
    strata_beir b;
    strata_error err;
    assert_int_equal(strata_beir_load(&b, dir, "test", (strata_progress){0}, &err), STRATA_OK);
    assert_int_equal(b.corpus.n, 4);
    assert_int_equal(b.n_qrels, 2);
    assert_int_equal(b.qrels[1].score, 3);
    assert_int_equal(b.qrels[1].doc, 0);
    strata_beir_free(&b);
}

static void test_hash_table(void **state) {
    (void)state;
    strata_texts t;
    memset(&t, 0, sizeof t);
    strata_error err;
    char id[32];
    enum { N = 100000 };
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof id, "id-%d", i * 7);
        int64_t ix;
        assert_int_equal(strata_texts_add(&t, id, i % 2 ? "odd" : "", &ix, &err), STRATA_OK);
        assert_int_equal(ix, i);
    }
    assert_int_equal(t.n, N);
    assert_true(t.n_slots >= 2 * (size_t)N);
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof id, "id-%d", i * 7);
        assert_int_equal(strata_texts_find(&t, id), i);
        snprintf(id, sizeof id, "id-%d", i * 7 + 1);
        assert_int_equal(strata_texts_find(&t, id), -1);
    }
    assert_string_equal(strata_texts_get(&t, 1), "odd");
    assert_string_equal(strata_texts_get(&t, 2), "");
    assert_int_equal(strata_texts_add(&t, "id-7", "x", NULL, &err), STRATA_EINVAL);
    assert_non_null(strstr(err.msg, "duplicate id \"id-7\""));
    /* ids that differ only by a prefix/length */
    assert_int_equal(strata_texts_find(&t, "id-"), -1);
    assert_int_equal(strata_texts_find(&t, "id-70"), 10);
    strata_texts_free(&t);
    strata_texts_free(&t);
}

static void test_skip_unknown(void **state) {
    (void)state;
    const char *dir = make_beir("skip", CORPUS, QUERIES,
                                "query-id\tcorpus-id\tscore\nq1\td1\t1\nq9\td1\t1\n"
                                "q2\tdX\t1\nq9\tdY\t1\n");
    strata_beir_options o = strata_beir_default_options();
    o.split = "test";
    o.unknown = STRATA_UNKNOWN_SKIP;
    strata_beir b;
    strata_error err;
    assert_int_equal(strata_beir_load_ex(&b, dir, &o, &err), STRATA_OK);
    assert_int_equal(b.n_qrels, 1);
    assert_int_equal(b.n_skipped_query, 2);
    assert_int_equal(b.n_skipped_doc, 1);
    strata_beir_free(&b);
    /* ADD: a bare qrels file defines the ids */
    memset(&b, 0, sizeof b);
    o.unknown = STRATA_UNKNOWN_ADD;
    assert_int_equal(strata_beir_load_qrels(&b, tu_join(dir, "qrels/test.tsv"), &o, &err),
                     STRATA_OK);
    assert_int_equal(b.queries.n, 3);
    assert_int_equal(b.corpus.n, 3);
    assert_int_equal(b.n_qrels, 4);
    assert_int_equal(strata_texts_find(&b.queries, "q9"), 1);
    strata_beir_free(&b);
}

/* ------------------------------------------------------------------------ */
/* Bad input                                                                 */
/* ------------------------------------------------------------------------ */

static const char *QRELS_OK = "query-id\tcorpus-id\tscore\nq1\td1\t1\n";

static void test_bad_corpus(void **state) {
    (void)state;
    expect_load_error(make_beir("b1", "{\"_id\": \"d1\", \"text\": \"a\"}\n{\"text\": \"b\"}\n",
                                QUERIES, QRELS_OK),
                      "corpus.jsonl:2: field \"_id\" missing");
    expect_load_error(make_beir("b2", "{\"_id\": true, \"text\": \"a\"}\n", QUERIES, QRELS_OK),
                      "corpus.jsonl:1: field \"_id\" is not a string");
    expect_load_error(make_beir("b3", "{\"_id\": 1.5, \"text\": \"a\"}\n", QUERIES, QRELS_OK),
                      "corpus.jsonl:1: field \"_id\" is a number that is not an integer");
    expect_load_error(make_beir("b4",
                                "{\"_id\": \"d1\", \"text\": \"a\"}\n{\"_id\": \"d2\", \"text\": "
                                "\"b\"}\n{\"_id\": \"d1\", \"text\": \"c\"}\n",
                                QUERIES, QRELS_OK),
                      "corpus.jsonl:3: field \"_id\": duplicate id \"d1\" (first at line 1)");
    expect_load_error(make_beir("b5", "{\"_id\": \"d1\", \"text\": \"ok\"}\n"
                                      "{\"_id\": \"d2\", \"text\": \"bad \xC3\x28 byte\"}\n",
                                QUERIES, QRELS_OK),
                      "corpus.jsonl:2: invalid UTF-8 at byte 27");
    expect_load_error(make_beir("b6", "{\"_id\": \"d1\", \"text\": \"a\"\n", QUERIES, QRELS_OK),
                      "corpus.jsonl:1: not a JSON object");
    expect_load_error(make_beir("b7", "{\"_id\": \"d1\", \"title\": \"t\"}\n", QUERIES, QRELS_OK),
                      "corpus.jsonl:1: field \"text\" missing");
    expect_load_error(make_beir("b8", "{\"_id\": \"d1\", \"text\": 5}\n", QUERIES, QRELS_OK),
                      "corpus.jsonl:1: field \"text\" is not a string");
    expect_load_error(make_beir("b9", "{\"_id\": \"d1\", \"title\": [], \"text\": \"a\"}\n",
                                QUERIES, QRELS_OK),
                      "corpus.jsonl:1: field \"title\" is not a string");
    expect_load_error(make_beir("b10", NULL, QUERIES, QRELS_OK), "corpus.jsonl");
    expect_load_error(make_beir("b11", CORPUS, "{\"_id\": \"q1\"}\n", QRELS_OK),
                      "queries.jsonl:1: field \"text\" missing");
    expect_load_error(make_beir("b12", CORPUS, "[1, 2]\n", QRELS_OK),
                      "queries.jsonl:1: not a JSON object");
    /* JSON \u0000 in an id or a text (issue #15: cut there, silently) */
    expect_load_error(make_beir("b13", "{\"_id\": \"d1\\u0000x\", \"text\": \"a\"}\n", QUERIES,
                                QRELS_OK),
                      "corpus.jsonl:1: field \"_id\": contains a NUL character");
    expect_load_error(make_beir("b14", "{\"_id\": \"d1\", \"title\": \"t\\u0000\", \"text\": \"a\"}\n",
                                QUERIES, QRELS_OK),
                      "corpus.jsonl:1: field \"title\": contains a NUL character");
    expect_load_error(make_beir("b15", CORPUS, "{\"_id\": \"q1\", \"text\": \"x\\u0000y\"}\n",
                                QRELS_OK),
                      "queries.jsonl:1: field \"text\": contains a NUL character");
    /* trailing garbage after the object */
    expect_load_error(make_beir("b16", "{\"_id\": \"d1\", \"text\": \"a\"} junk\n", QUERIES,
                                QRELS_OK),
                      "corpus.jsonl:1: not a JSON object");
}

/* An escaped backslash before "u0000" is the literal text \u0000, no NUL. */
static void test_escaped_backslash_is_text(void **state) {
    (void)state;
    const char *dir = make_beir("e1", "{\"_id\": \"d1\", \"text\": \"a\\\\u0000b\"}\n"
                                      "{\"_id\": \"d2\", \"text\": \"c\"}\n",
                                QUERIES, "query-id\tcorpus-id\tscore\nq1\td1\t1\n");
    strata_beir b;
    strata_error err;
    if (strata_beir_load(&b, dir, "test", (strata_progress){0}, &err)) fail_msg("%s", err.msg);
    assert_int_equal(b.corpus.n, 2);
    assert_string_equal(b.corpus.arena + b.corpus.off[0], "a\\u0000b");
    strata_beir_free(&b);
}

static void test_bad_qrels(void **state) {
    (void)state;
    expect_load_error(make_beir("c1", CORPUS, QUERIES,
                                "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\n"),
                      "test.tsv:3: expected 3 columns (query-id, corpus-id, score), found 2");
    expect_load_error(make_beir("c2", CORPUS, QUERIES, "query-id\tcorpus-id\tscore\nq1\td1\tx\n"),
                      "test.tsv:2: field \"score\": \"x\" is not an integer");
    expect_load_error(make_beir("c3", CORPUS, QUERIES, "query-id\tcorpus-id\tscore\nq1\td1\t1.5\n"),
                      "test.tsv:2: field \"score\": \"1.5\" is not an integer");
    expect_load_error(make_beir("c4", CORPUS, QUERIES,
                                "query-id\tcorpus-id\tscore\nq1\td1\t1\nq7\td1\t1\n"),
                      "test.tsv:3: field \"query-id\": id \"q7\" not in the queries");
    expect_load_error(make_beir("c5", CORPUS, QUERIES, "query-id\tcorpus-id\tscore\nq1\tzz\t1\n"),
                      "test.tsv:2: field \"corpus-id\": id \"zz\" not in the corpus");
    expect_load_error(make_beir("c6", CORPUS, QUERIES,
                                "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td1\t1\nq1\td1\t2\n"),
                      "test.tsv:4: duplicate judgment for query-id \"q1\", corpus-id \"d1\" "
                      "(first at line 2)");
    expect_load_error(make_beir("c7", CORPUS, QUERIES, "query-id\tcorpus-id\tscore\nq1\td1\t1\t2\t3\n"),
                      "test.tsv:2: expected 3 columns");
    expect_load_error(make_beir("c8", CORPUS, QUERIES, "q1\td1\t1\nq1\td2\t\xff\n"),
                      "test.tsv:2: invalid UTF-8 at byte 6");
    expect_load_error(make_beir("c9", CORPUS, QUERIES, NULL), "test.tsv");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scifact_counts),  cmocka_unit_test(test_nq_qed_counts),
        cmocka_unit_test(test_small_set_rules), cmocka_unit_test(test_trec_qrels_and_gzip),
        cmocka_unit_test(test_hash_table),      cmocka_unit_test(test_skip_unknown),
        cmocka_unit_test(test_bad_corpus),      cmocka_unit_test(test_bad_qrels),
        cmocka_unit_test(test_escaped_backslash_is_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
