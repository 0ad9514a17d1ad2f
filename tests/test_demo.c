/*
 * test_demo.c — the main job end to end on a tiny embedded corpus: every
 * stage runs, results.json holds the three strategies with finite numbers,
 * the report has its plots and stage times, a rerun resumes (skips every
 * stage, keeps the times), and a rerun
 * with other settings into the same folder is refused.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "testutil.h"

#define TINY "--topics 6 --pairs-per-topic 12 --test-queries 30 --corpus 200 " \
             "--layers 1 --hidden 32 --heads 2 --ffn 64 --steps 8 --batch-size 8 " \
             "--max-len 24 --k 3 --vocab-size 2000 --threads 2"

static void test_demo_end_to_end(void **state) {
    (void)state;
    const char *out = tu_join(tu_tmpdir(), "demo");
    int rc = tu_sh("%s demo --out %s " TINY, tu_strata(), out);
    if (rc != 0) print_message("%s\n%s\n", tu_last_out(), tu_last_err());
    assert_int_equal(rc, 0);
    /* the comparison table on stdout */
    assert_non_null(strstr(tu_last_out(), "strategy"));
    assert_non_null(strstr(tu_last_out(), "cluster"));
    char *res = tu_read(tu_join(out, "results.json"), NULL);
    assert_non_null(res);
    cJSON *j = cJSON_Parse(res);
    assert_non_null(j);
    cJSON *st = cJSON_GetObjectItem(j, "strategies");
    const char *names[3] = {"random", "source", "cluster"};
    for (int i = 0; i < 3; i++) {
        cJSON *o = cJSON_GetObjectItem(st, names[i]);
        assert_non_null(o);
        double nd = cJSON_GetObjectItem(o, "ndcg@10")->valuedouble;
        double loss = cJSON_GetObjectItem(o, "final_loss")->valuedouble;
        cJSON *h = cJSON_GetObjectItem(o, "hardness");
        assert_non_null(h);
        double hl = cJSON_GetObjectItem(h, "mean_loss")->valuedouble;
        assert_true(nd >= 0 && nd <= 1);
        assert_true(isfinite(loss) && loss > 0);
        assert_true(isfinite(hl));
    }
    /* wall time of every stage, and per kind of stage */
    cJSON *stages = cJSON_GetObjectItem(j, "stages");
    assert_true(cJSON_GetArraySize(stages) >= 10);
    cJSON *kinds = cJSON_GetObjectItem(j, "stage_seconds");
    const char *kn[4] = {"embed", "cluster", "train", "evaluate"};
    for (int i = 0; i < 4; i++) {
        cJSON *k = cJSON_GetObjectItem(kinds, kn[i]);
        assert_non_null(k);
        assert_true(cJSON_GetObjectItem(k, "stages")->valuedouble >= 1);
        assert_true(cJSON_GetObjectItem(k, "seconds")->valuedouble > 0);
    }
    assert_int_equal((int)cJSON_GetObjectItem(cJSON_GetObjectItem(kinds, "train"), "stages")->valuedouble, 3);
    cJSON_Delete(j);
    free(res);
    char *html = tu_read(tu_join(out, "report.html"), NULL);
    assert_non_null(html);
    assert_non_null(strstr(html, "<svg"));
    assert_non_null(strstr(html, "training loss"));
    assert_non_null(strstr(html, "Wall time per stage"));
    free(html);
    assert_true(tu_exists(tu_join(out, "commands.sh")));
    assert_int_equal(tu_count_files(out, ".tmp."), 0);

    /* a rerun with the same settings resumes: every stage is skipped */
    rc = tu_sh("%s demo --out %s " TINY, tu_strata(), out);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(tu_last_err(), "0 stages run"));
    res = tu_read(tu_join(out, "results.json"), NULL);
    j = cJSON_Parse(res);
    assert_non_null(j);
    assert_int_equal((int)cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "stage_seconds"), "train"),
                                              "stages")->valuedouble,
                     3);
    cJSON_Delete(j);
    free(res);

    /* other settings into the same folder are refused, nothing is touched */
    rc = tu_sh("%s demo --out %s " TINY " --lr 0.5", tu_strata(), out);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(tu_last_err(), "other settings"));
}

static void test_demo_bad_strategy(void **state) {
    (void)state;
    const char *out = tu_join(tu_tmpdir(), "bad");
    int rc = tu_sh("%s demo --out %s --strategies random,clustr", tu_strata(), out);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(tu_last_err(), "unknown strategy 'clustr'"));
    assert_false(tu_exists(tu_join(out, "results.json")));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_demo_bad_strategy),
        cmocka_unit_test(test_demo_end_to_end),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
