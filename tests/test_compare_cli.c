/*
 * test_compare_cli.c — `strata compare` and `strata eval --compare-to`.
 *
 *   - on a hand-made BEIR set: each run's mean in compare.json equals what
 *     `strata eval --run` reports and what strata_eval_metrics computes
 *     (1e-15: the same code and the same order of summation); TREC runs
 *     and their metrics JSON give the same comparison; --beir and --qrels
 *     agree; a judged query no run retrieved scores 0 everywhere;
 *   - the JSON is byte-identical for --threads 1 and 3;
 *   - every bad input gets a clear error naming the file (and line where
 *     there is one), exit 1 (data) or 2 (usage), and no output file;
 *   - `strata eval --compare-to` stores the same comparison as `strata
 *     compare` with the evaluated run last;
 *   - on real TREC runs over SciFact (a hashed TF-IDF run, a numpy TF-IDF
 *     run, and both as two seeds of a third), every number checked by
 *     tests/ref/compare_ref.py, whose metrics come from pytrec_eval, and
 *     the means equal to `strata eval`'s.
 */
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "strata/compare.h"
#include "strata/data.h"
#include "strata/eval.h"
#include "testutil.h"

/* ------------------------------------------------------------------------ */
/* A hand-made BEIR set                                                      */
/* ------------------------------------------------------------------------ */

/* DIR: 12 documents, 6 queries; q1..q5 judged, q6 not. Runs: a, b (all
 * judged queries but q5, which no run retrieves), c = b without q3,
 * d = a plus unknown q99, e = a plus unjudged q6. */
static const char *hand(void) {
    static char dir[1024];
    if (dir[0]) return dir;
    snprintf(dir, sizeof dir, "%s", tu_join(tu_tmpdir(), "hand"));
    mkdir(dir, 0755);
    char q[1100];
    snprintf(q, sizeof q, "%s/qrels", dir);
    mkdir(q, 0755);
    char buf[2048];
    size_t n = 0;
    for (int i = 1; i <= 12; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "{\"_id\": \"d%d\", \"text\": \"t\"}\n", i);
    tu_write_str(tu_join(dir, "corpus.jsonl"), buf);
    n = 0;
    for (int i = 1; i <= 6; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "{\"_id\": \"q%d\", \"text\": \"t\"}\n", i);
    tu_write_str(tu_join(dir, "queries.jsonl"), buf);
    tu_write_str(tu_join(dir, "qrels/test.tsv"),
                 "query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td2\t2\nq2\td3\t1\nq3\td4\t1\n"
                 "q3\td5\t1\nq4\td6\t1\nq5\td7\t1\n");
    const char *a = "q1 Q0 d1 1 0.9 a\nq1 Q0 d2 2 0.8 a\nq2 Q0 d4 1 0.9 a\nq2 Q0 d3 2 0.5 a\n"
                    "q3 Q0 d4 1 0.9 a\nq4 Q0 d1 1 0.9 a\n";
    tu_write_str(tu_join(dir, "a.trec"), a);
    tu_write_str(tu_join(dir, "b.trec"),
                 "q1 Q0 d2 1 0.9 b\nq1 Q0 d1 2 0.8 b\nq2 Q0 d3 1 0.9 b\nq3 Q0 d5 1 0.9 b\n"
                 "q3 Q0 d4 2 0.7 b\nq4 Q0 d6 1 0.9 b\n");
    tu_write_str(tu_join(dir, "c.trec"),
                 "q1 Q0 d2 1 0.9 c\nq1 Q0 d1 2 0.8 c\nq2 Q0 d3 1 0.9 c\nq4 Q0 d6 1 0.9 c\n");
    snprintf(buf, sizeof buf, "%sq99 Q0 d1 1 0.5 d\n", a);
    tu_write_str(tu_join(dir, "d.trec"), buf);
    snprintf(buf, sizeof buf, "%sq6 Q0 d1 1 0.5 e\n", a);
    tu_write_str(tu_join(dir, "e.trec"), buf);
    return dir;
}

/* The strata binary as an absolute path (commands here cd into the data). */
static const char *strata_abs(void) {
    static char p[4096];
    if (!p[0] && !realpath(tu_strata(), p)) fail_msg("no %s", tu_strata());
    return p;
}

static cJSON *read_json(const char *path) {
    char *s = tu_read(path, NULL);
    assert_non_null(s);
    cJSON *j = cJSON_Parse(s);
    free(s);
    assert_non_null(j);
    return j;
}

/* The item at a '/'-separated path ("metrics/ndcg@10/comparisons/0/p"; a
 * number selects an array element), or NULL. */
static const cJSON *jget(const cJSON *j, const char *path) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *t = strtok(buf, "/"); t && j; t = strtok(NULL, "/"))
        j = cJSON_IsArray(j) ? cJSON_GetArrayItem(j, atoi(t))
                             : cJSON_GetObjectItemCaseSensitive(j, t);
    return j;
}

static double jnum(const cJSON *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static double jnum(const cJSON *j, const char *fmt, ...) {
    char path[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(path, sizeof path, fmt, ap);
    va_end(ap);
    const cJSON *x = jget(j, path);
    if (!cJSON_IsNumber(x)) fail_msg("no number at %s", path);
    return x->valuedouble;
}

/* Means of run file `name` by the library, for comparison. */
static void lib_mean(const char *dir, const char *name, strata_metrics *mean) {
    strata_beir b;
    strata_error err;
    assert_int_equal(strata_beir_load(&b, dir, "test", (strata_progress){0}, &err), STRATA_OK);
    strata_run r;
    assert_int_equal(strata_run_read_trec(&r, &b, tu_join(dir, name), NULL, &err), STRATA_OK);
    assert_int_equal(strata_eval_metrics(&b, &r, 0, mean, NULL, &err), STRATA_OK);
    strata_run_free(&r);
    strata_beir_free(&b);
}

/* ------------------------------------------------------------------------ */
/* Agreement with strata eval                                                */
/* ------------------------------------------------------------------------ */

static void test_cli_agrees_with_eval(void **state) {
    (void)state;
    const char *dir = hand();
    const char *s = tu_strata();
    assert_int_equal(tu_sh("%s compare --qrels %s/qrels/test.tsv %s/a.trec %s/b.trec --metric all "
                           "--out %s/cmp.json",
                           s, dir, dir, dir, dir),
                     0);
    const char *out = tu_last_out();
    assert_non_null(strstr(out, "ndcg@10: 5 queries"));
    assert_non_null(strstr(out, "b - a"));
    assert_non_null(strstr(out, "exact (all 2^5 sign vectors)"));
    assert_non_null(strstr(out, "4/0/1")); /* q5, retrieved by nobody, is a tie */
    assert_non_null(strstr(tu_last_err(), "1 of 5 judged queries were retrieved by no run"));
    /* the same runs through strata eval --out, whose JSON is input too */
    for (int i = 0; i < 2; i++)
        assert_int_equal(tu_sh("%s eval --quiet --run %s/%s.trec --qrels %s/qrels/test.tsv "
                               "--out %s/%s.json",
                               s, dir, i ? "b" : "a", dir, dir, i ? "b" : "a"),
                         0);
    assert_int_equal(tu_sh("%s compare --quiet %s/a.json %s/b.json --metric all --out %s/cmpj.json",
                           s, dir, dir, dir),
                     0);
    assert_int_equal(tu_sh("%s compare --quiet --beir %s %s/a.trec %s/b.trec --metric all "
                           "--out %s/cmpb.json",
                           s, dir, dir, dir, dir),
                     0);
    cJSON *jt = read_json(tu_join(dir, "cmp.json")), *jj = read_json(tu_join(dir, "cmpj.json"));
    cJSON *jb = read_json(tu_join(dir, "cmpb.json"));
    cJSON *ea = read_json(tu_join(dir, "a.json")), *eb = read_json(tu_join(dir, "b.json"));
    assert_true(jnum(jt, "n_queries") == 5 && jnum(jj, "n_queries") == 5);
    strata_metrics ma, mb;
    lib_mean(dir, "a.trec", &ma);
    lib_mean(dir, "b.trec", &mb);
    for (int m = 0; m < STRATA_METRIC_COUNT; m++) {
        const char *mn = strata_metric_name((strata_metric_id)m);
        double a = strata_metric_value(&ma, (strata_metric_id)m);
        double b = strata_metric_value(&mb, (strata_metric_id)m);
        assert_true(fabs(jnum(jt, "metrics/%s/runs/a/mean", mn) - a) < 1e-15);
        assert_true(fabs(jnum(jt, "metrics/%s/runs/b/mean", mn) - b) < 1e-15);
        assert_true(fabs(jnum(ea, "mean/%s", mn) - a) < 1e-15);
        assert_true(fabs(jnum(eb, "mean/%s", mn) - b) < 1e-15);
        double d = jnum(jt, "metrics/%s/comparisons/0/diff", mn);
        assert_true(fabs(d - (b - a)) < 1e-15);
        /* metrics JSON input: 15 significant digits, same comparison */
        assert_true(fabs(jnum(jj, "metrics/%s/comparisons/0/diff", mn) - d) < 1e-14);
        assert_true(jnum(jj, "metrics/%s/comparisons/0/p", mn) ==
                    jnum(jt, "metrics/%s/comparisons/0/p", mn));
        /* --beir: the same bytes of every number */
        assert_true(jnum(jb, "metrics/%s/comparisons/0/diff", mn) == d);
        assert_true(jnum(jb, "metrics/%s/comparisons/0/ci/0", mn) ==
                    jnum(jt, "metrics/%s/comparisons/0/ci/0", mn));
    }
    cJSON_Delete(jt);
    cJSON_Delete(jj);
    cJSON_Delete(jb);
    cJSON_Delete(ea);
    cJSON_Delete(eb);
}

static void test_cli_threads(void **state) {
    (void)state;
    const char *dir = hand();
    const char *s = tu_strata();
    for (int t = 1; t <= 3; t += 2)
        assert_int_equal(tu_sh("%s compare --quiet --threads %d --seed 3 --qrels %s/qrels/test.tsv "
                               "--all-pairs --metric all x=%s/a.trec,%s/e.trec --skip-unknown "
                               "%s/b.trec y=%s/a.trec --out %s/t%d.json",
                               s, t, dir, dir, dir, dir, dir, dir, t),
                         0);
    size_t n1, n3;
    char *a = tu_read(tu_join(dir, "t1.json"), &n1), *b = tu_read(tu_join(dir, "t3.json"), &n3);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(n1, n3);
    assert_memory_equal(a, b, n1);
    assert_non_null(strstr(a, "\"n_seeds\":\t2"));
    free(a);
    free(b);
}

/* ------------------------------------------------------------------------ */
/* Bad input                                                                 */
/* ------------------------------------------------------------------------ */

/* Runs strata compare with args (out file DIR/bad.json), expects exit code
 * rc, stderr containing needle, and no output or temp file. */
static void bad(int rc, const char *needle, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void bad(int rc, const char *needle, const char *fmt, ...) {
    const char *dir = hand();
    char args[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    int got = tu_sh("cd %s && %s compare --quiet --out bad.json %s", dir, strata_abs(), args);
    if (got != rc) fail_msg("'%s': exit %d, expected %d; stderr: %s", args, got, rc, tu_last_err());
    if (!strstr(tu_last_err(), needle))
        fail_msg("'%s': stderr '%s' lacks '%s'", args, tu_last_err(), needle);
    assert_false(tu_exists(tu_join(dir, "bad.json")));
    assert_int_equal(tu_count_files(dir, ".tmp."), 0);
}

static void test_cli_bad_input(void **state) {
    (void)state;
    const char *dir = hand();
    const char *Q = "--qrels qrels/test.tsv";
    /* usage (exit 2) */
    bad(2, "give at least 2 runs (got 1)", "%s a.trec", Q);
    bad(2, "run files need --qrels FILE or --beir DIR", "a.trec b.trec");
    bad(2, "unknown metric 'ndcg@5' (known:", "%s a.trec b.trec --metric ndcg@10,ndcg@5", Q);
    bad(2, "two runs are named 'a' (a.trec and x/../a.trec)", "%s a.trec x/../a.trec", Q);
    bad(2, "'a.trec,b.trec': a run of several seeds needs a name", "%s a.trec,b.trec c.trec", Q);
    bad(2, "empty path", "%s x=a.trec, b.trec", Q);
    bad(2, "unknown --correction 'sidak'", "%s a.trec b.trec --correction sidak", Q);
    bad(2, "--baseline 'zz' is not one of the runs' names", "%s a.trec b.trec --baseline zz", Q);
    bad(2, "give --baseline or --all-pairs", "%s a.trec b.trec --baseline a --all-pairs", Q);
    bad(2, "--bootstrap must be >= 1", "%s a.trec b.trec --bootstrap 0", Q);
    bad(2, "--permutations must be >= 1", "%s a.trec b.trec --permutations -5", Q);
    bad(2, "--confidence must be in (0, 1)", "%s a.trec b.trec --confidence 95", Q);
    /* qrels missing or empty */
    bad(1, "nope.tsv: cannot open", "--qrels nope.tsv a.trec b.trec");
    tu_write_str(tu_join(dir, "empty.tsv"), "query-id\tcorpus-id\tscore\n");
    bad(1, "empty.tsv: no judgments (empty qrels)", "--qrels empty.tsv a.trec b.trec");
    bad(1, "cannot open", "--beir nowhere a.trec b.trec");
    /* runs over different query sets, either order; --allow-missing accepts */
    bad(1, "runs over different query sets: c.trec has no line for judged query \"q3\", which "
           "a.trec:5 retrieves (--allow-missing",
        "%s a.trec c.trec", Q);
    bad(1, "c.trec has no line for judged query \"q3\", which b.trec:4 retrieves",
        "%s s=c.trec,b.trec a.trec", Q);
    assert_int_equal(tu_sh("cd %s && %s compare --quiet %s a.trec c.trec --allow-missing", dir,
                           strata_abs(), Q),
                     0);
    /* a run query not in the qrels; unjudged but known with --beir is fine */
    bad(1, "d.trec:7: field \"qid\": unknown query \"q99\"", "%s a.trec d.trec", Q);
    bad(1, "e.trec:7: field \"qid\": unknown query \"q6\"", "%s a.trec e.trec", Q);
    assert_int_equal(tu_sh("cd %s && %s compare --quiet --beir . a.trec e.trec", dir, strata_abs()),
                     0);
    assert_int_equal(tu_sh("cd %s && %s compare --quiet %s a.trec d.trec --skip-unknown", dir,
                           strata_abs(), Q),
                     0);
    /* a run document not in the corpus (--beir checks documents) */
    tu_write_str(tu_join(dir, "f.trec"), "q1 Q0 zz 1 0.5 f\n");
    bad(1, "f.trec:1: field \"docid\": unknown document \"zz\"", "--beir . a.trec f.trec");
    /* metrics JSON: no per_query, a missing field (with its line), other
     * query sets than the qrels or than each other */
    tu_write_str(tu_join(dir, "nopq.json"), "{\"mean\": {\"ndcg@10\": 0.5}}\n");
    bad(1, "nopq.json: no \"per_query\" object", "%s nopq.json a.trec", Q);
    bad(1, "nopq.json: no \"per_query\" object", "nopq.json x=nopq.json");
    const char *m = "{\"ndcg@10\": 1, \"recall@10\": 1, \"recall@100\": 1, \"mrr@10\": 1, \"map@100\": 1}";
    char buf[2048];
    snprintf(buf, sizeof buf, "{\"per_query\": {\n\"q1\": %s,\n\"q2\": {\"ndcg@10\": 1}\n}}\n", m);
    tu_write_str(tu_join(dir, "field.json"), buf);
    bad(1, "field.json:3: per_query \"q2\": field \"recall@10\" missing", "%s field.json a.trec", Q);
    snprintf(buf, sizeof buf, "{\"per_query\": {\"q1\": %s, \"q2\": %s}}\n", m, m);
    tu_write_str(tu_join(dir, "two.json"), buf);
    bad(1, "two.json: no entry for query \"q3\", which the qrels judge", "%s two.json a.trec", Q);
    snprintf(buf, sizeof buf, "{\"per_query\": {\"q1\": %s, \"q3\": %s}}\n", m, m);
    tu_write_str(tu_join(dir, "two13.json"), buf);
    bad(1, "metrics over different query sets: two13.json has no entry for query \"q2\", which "
           "two.json lists",
        "two.json two13.json");
    snprintf(buf, sizeof buf, "{\"per_query\": {\"q1\": %s, \"q1\": %s}}\n", m, m);
    tu_write_str(tu_join(dir, "dup.json"), buf);
    bad(1, "dup.json:1: per_query lists query \"q1\" twice", "dup.json two.json");
    tu_write_str(tu_join(dir, "broken.json"), "{\"per_query\": {\n\"q1\": [1,\n");
    bad(1, "broken.json:2: invalid JSON", "broken.json two.json");
    /* too few queries in common */
    snprintf(buf, sizeof buf, "{\"per_query\": {\"q1\": %s}}\n", m);
    tu_write_str(tu_join(dir, "one.json"), buf);
    bad(1, "1 judged query in common; at least 2 are needed", "one.json x=one.json");
}

/* ------------------------------------------------------------------------ */
/* strata eval --compare-to                                                  */
/* ------------------------------------------------------------------------ */

static void test_eval_compare_to(void **state) {
    (void)state;
    const char *dir = hand();
    const char *s = strata_abs();
    assert_int_equal(tu_sh("cd %s && %s eval --quiet --run b.trec --qrels qrels/test.tsv "
                           "--compare-to a.trec --compare-to old=a.trec --compare-out ec.json",
                           dir, s),
                     0);
    const char *out = tu_last_out();
    assert_non_null(strstr(out, "ndcg@10 0.8"));         /* eval's summary first */
    assert_non_null(strstr(out, "b.trec - a "));         /* then the comparisons */
    assert_non_null(strstr(out, "b.trec - old"));
    assert_int_equal(tu_sh("cd %s && %s compare --quiet --qrels qrels/test.tsv --baseline b.trec "
                           "a=a.trec b.trec=b.trec --out cc.json",
                           dir, s),
                     0);
    cJSON *e = read_json(tu_join(dir, "ec.json")), *c = read_json(tu_join(dir, "cc.json"));
    const char *mn = "ndcg@10";
    double d = jnum(e, "metrics/%s/comparisons/0/diff", mn);
    /* eval: b - a; compare with baseline b: a - b */
    assert_true(d == -jnum(c, "metrics/%s/comparisons/0/diff", mn));
    assert_true(d > 0.3);
    assert_true(jnum(e, "metrics/%s/comparisons/0/p", mn) == jnum(c, "metrics/%s/comparisons/0/p", mn));
    assert_true(jnum(e, "metrics/%s/comparisons/1/diff", mn) == d);
    const cJSON *b = jget(e, "metrics/ndcg@10/comparisons/0/b");
    assert_true(cJSON_IsString(b) && strcmp(b->valuestring, "b.trec") == 0);
    cJSON_Delete(e);
    cJSON_Delete(c);
    /* bad: a comparison run over other queries, a clash of names, usage */
    assert_int_equal(tu_sh("cd %s && %s eval --quiet --run a.trec --qrels qrels/test.tsv "
                           "--compare-to c.trec --compare-out ec2.json",
                           dir, s),
                     1);
    assert_non_null(strstr(tu_last_err(), "c.trec has no line for judged query \"q3\""));
    assert_false(tu_exists(tu_join(dir, "ec2.json")));
    assert_int_equal(tu_sh("cd %s && %s eval --quiet --run a.trec --qrels qrels/test.tsv "
                           "--compare-to a.trec=b.trec",
                           dir, s),
                     2);
    assert_non_null(strstr(tu_last_err(), "two runs are named 'a.trec'"));
    assert_int_equal(tu_sh("cd %s && %s eval --quiet --run a.trec --qrels qrels/test.tsv "
                           "--compare-out x.json",
                           dir, s),
                     2);
}

/* ------------------------------------------------------------------------ */
/* Real runs against pytrec_eval and scipy                                   */
/* ------------------------------------------------------------------------ */

static void test_scifact_pytrec(void **state) {
    (void)state;
    TU_REQUIRE_DATA("beir/scifact/corpus.jsonl");
    TU_REQUIRE_PY("pytrec_eval");
    TU_REQUIRE_PY("scipy");
    char data[1024];
    snprintf(data, sizeof data, "%s", tu_data("beir/scifact"));
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", tu_join(tu_tmpdir(), "scifact"));
    mkdir(dir, 0755);
    const char *s = tu_strata();
    assert_int_equal(tu_sh("%s eval --quiet --beir %s --model hash --run-out %s/hash.trec "
                           "--out %s/hash.json",
                           s, data, dir, dir),
                     0);
    assert_int_equal(tu_sh("%s tests/ref/eval_tfidf.py %s %s 256", tu_python(), data, dir), 0);
    assert_int_equal(tu_sh("%s eval --quiet --beir %s --corpus-emb %s/C.npy --query-emb %s/Q.npy "
                           "--run-out %s/tf.trec --out %s/tf.json",
                           s, data, dir, dir, dir, dir),
                     0);
    /* two runs, and both again as two "seeds" of a third */
    assert_int_equal(tu_sh("%s compare --quiet --beir %s --metric all --ttest --out %s/cmp.json "
                           "hash=%s/hash.trec tf=%s/tf.trec pool=%s/hash.trec,%s/tf.trec",
                           s, data, dir, dir, dir, dir, dir),
                     0);
    print_message("%s", tu_last_out());
    int rc = tu_sh("%s tests/ref/compare_ref.py stats %s/cmp.json --qrels %s/qrels/test.tsv "
                   "--eval hash=%s/hash.json --eval tf=%s/tf.json hash=%s/hash.trec tf=%s/tf.trec "
                   "pool=%s/hash.trec,%s/tf.trec",
                   tu_python(), dir, data, dir, dir, dir, dir, dir, dir);
    print_message("%s%s", tu_last_out(), tu_last_err());
    assert_int_equal(rc, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cli_agrees_with_eval),
        cmocka_unit_test(test_cli_threads),
        cmocka_unit_test(test_cli_bad_input),
        cmocka_unit_test(test_eval_compare_to),
        cmocka_unit_test(test_scifact_pytrec),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
