/*
 * test_demo.c — the main job end to end on a tiny embedded corpus: every
 * stage runs for every seed (each seed its own clustering and plan),
 * results.json holds the default strategies and their paired comparisons,
 * the report opens with the result in words and its numbers agree with
 * results.json, a rerun resumes (skips every stage, keeps the times), a
 * rerun with other settings into the same folder is refused, and seeds give
 * different models also when training continues a pretrained one.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "testutil.h"

#define TINY "--topics 6 --pairs-per-topic 12 --test-queries 30 --corpus 200 " \
             "--layers 1 --hidden 32 --heads 2 --ffn 64 --steps 8 --batch-size 8 " \
             "--max-len 24 --k 3 --vocab-size 2000 --seeds 1,2 --threads 2"
/* The same without the fresh model's shape (it does not apply to --init). */
#define TINY_INIT "--topics 6 --pairs-per-topic 12 --test-queries 30 --corpus 200 " \
                  "--steps 8 --batch-size 8 --max-len 24 --k 3 --seeds 1,2 --threads 2"

static double num(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static const cJSON *find_pair(const cJSON *cmp, const char *a, const char *b) {
    const cJSON *p;
    cJSON_ArrayForEach(p, cJSON_GetObjectItem(cmp, "pairs")) {
        if (strcmp(cJSON_GetObjectItem(p, "a")->valuestring, a) == 0 &&
            strcmp(cJSON_GetObjectItem(p, "b")->valuestring, b) == 0 &&
            strcmp(cJSON_GetObjectItem(p, "metric")->valuestring, "ndcg@10") == 0)
            return p;
    }
    return NULL;
}

static int files_equal(const char *a, const char *b) {
    size_t la, lb;
    char *x = tu_read(a, &la), *y = tu_read(b, &lb);
    int eq = x && y && la == lb && memcmp(x, y, la) == 0;
    free(x);
    free(y);
    return eq;
}

static void check_results(const char *out) {
    char *res = tu_read(tu_join(out, "results.json"), NULL);
    assert_non_null(res);
    cJSON *j = cJSON_Parse(res);
    assert_non_null(j);
    cJSON *st = cJSON_GetObjectItem(j, "strategies");
    const char *names[4] = {"random", "source", "cluster", "cluster+filter"};
    for (int i = 0; i < 4; i++) {
        cJSON *o = cJSON_GetObjectItem(st, names[i]);
        assert_non_null(o);
        cJSON *b = cJSON_GetObjectItem(o, "beir");
        assert_true(num(b, "ndcg@10") >= 0 && num(b, "ndcg@10") <= 1);
        assert_true(num(b, "ndcg@10_seed_sd") >= 0);
        assert_true(isfinite(num(o, "final_loss")) && num(o, "final_loss") > 0);
        assert_true(isfinite(num(cJSON_GetObjectItem(o, "hardness"), "mean_loss")));
        assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "seeds")), 2);
    }
    /* the filter masks something; the unfiltered plans nothing */
    assert_true(num(cJSON_GetObjectItem(st, "cluster+filter"), "masked_fraction") > 0);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetObjectItem(st, "cluster"), "masked_fraction")));
    /* comparisons: every strategy against random and against the hash embedder */
    cJSON *cmp = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "comparisons"), "beir");
    assert_non_null(cmp);
    assert_int_equal((int)num(cmp, "queries"), 30);
    for (int i = 0; i < 4; i++) {
        const cJSON *ph = find_pair(cmp, "hash embedder", names[i]);
        assert_non_null(ph);
        assert_true(num(ph, "ci_lo") <= num(ph, "diff") && num(ph, "diff") <= num(ph, "ci_hi"));
        assert_true(num(ph, "p") > 0 && num(ph, "p") <= num(ph, "p_adj") && num(ph, "p_adj") <= 1);
        if (i > 0) assert_non_null(find_pair(cmp, "random", names[i]));
        /* the pooled mean equals the mean of the seeds' means */
        const cJSON *run = cJSON_GetObjectItem(cJSON_GetObjectItem(cmp, "runs"), names[i]);
        assert_true(fabs(num(cJSON_GetObjectItem(run, "ndcg@10"), "mean") -
                         num(cJSON_GetObjectItem(cJSON_GetObjectItem(st, names[i]), "beir"), "ndcg@10")) < 1e-9);
    }
    /* wall time of every stage, and per kind of stage */
    assert_true(cJSON_GetArraySize(cJSON_GetObjectItem(j, "stages")) >= 20);
    cJSON *kinds = cJSON_GetObjectItem(j, "stage_seconds");
    const char *kn[5] = {"embed", "cluster", "plan", "train", "evaluate"};
    for (int i = 0; i < 5; i++) {
        cJSON *k = cJSON_GetObjectItem(kinds, kn[i]);
        assert_non_null(k);
        assert_true(num(k, "seconds") > 0);
    }
    assert_int_equal((int)num(cJSON_GetObjectItem(kinds, "train"), "stages"), 8);
    assert_int_equal((int)num(cJSON_GetObjectItem(kinds, "cluster"), "stages"), 2);

    /* the report states the result first, with the numbers of results.json */
    char *html = tu_read(tu_join(out, "report.html"), NULL);
    assert_non_null(html);
    const char *p1 = strstr(html, "<p>");
    assert_non_null(p1);
    assert_true(strncmp(p1, "<p>Result on beir (30 queries; 2 seeds per strategy", 50) == 0);
    const char *best = NULL;
    double bm = -1;
    for (int i = 0; i < 4; i++) {
        double m = num(cJSON_GetObjectItem(cJSON_GetObjectItem(st, names[i]), "beir"), "ndcg@10");
        if (m > bm) bm = m, best = names[i];
    }
    char want[128];
    snprintf(want, sizeof want, "%s scored the highest NDCG@10, %.4f", best, bm);
    const char *end = strstr(p1, "</p>");
    assert_non_null(end);
    char *para = strndup(p1, (size_t)(end - p1));
    if (!strstr(para, want)) fail_msg("report's first paragraph lacks '%s': %s", want, para);
    snprintf(want, sizeof want, "hash embedder scores %.4f",
             num(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "baselines"), "beir"), "hash"),
                 "ndcg@10"));
    if (!strstr(para, want)) fail_msg("report's first paragraph lacks '%s': %s", want, para);
    assert_non_null(strstr(para, "95% CI ["));
    assert_non_null(strstr(para, "p = "));
    free(para);
    assert_non_null(strstr(html, "<svg"));
    assert_non_null(strstr(html, "Wall time per stage"));
    free(html);
    cJSON_Delete(j);
    free(res);
}

static void test_demo_end_to_end(void **state) {
    (void)state;
    char out[1024], cont[1024];
    snprintf(out, sizeof out, "%s", tu_join(tu_tmpdir(), "demo"));
    snprintf(cont, sizeof cont, "%s", tu_join(tu_tmpdir(), "demo-init"));
    int rc = tu_sh("%s demo --out %s " TINY, tu_strata(), out);
    if (rc != 0) print_message("%s\n%s\n", tu_last_out(), tu_last_err());
    assert_int_equal(rc, 0);
    /* stdout holds the demo's summary only, not the stages' own lines */
    assert_non_null(strstr(tu_last_out(), "strategy"));
    assert_non_null(strstr(tu_last_out(), "cluster+filter"));
    assert_null(strstr(tu_last_out(), "mean_loss"));
    check_results(out);
    /* each seed has its own clustering and plan */
    assert_false(files_equal(tu_join(out, "plans/random/seed1/batches.npy"),
                             tu_join(out, "plans/random/seed2/batches.npy")));
    assert_false(files_equal(tu_join(out, "cluster/q3/seed1/assign.npy"), tu_join(out, "cluster/q3/seed2/assign.npy")));
    assert_true(tu_exists(tu_join(out, "commands.sh")));
    /* commands.sh is a script that runs without strata on PATH, from anywhere */
    char *cs = tu_read(tu_join(out, "commands.sh"), NULL);
    assert_true(strncmp(cs, "#!/bin/sh\n", 10) == 0);
    assert_non_null(strstr(cs, "\ncd /"));
    assert_non_null(strstr(cs, "\n/")); /* commands start with the absolute executable */
    assert_null(strstr(cs, "\nstrata "));
    free(cs);
    assert_int_equal(access(tu_join(out, "commands.sh"), X_OK), 0);
    assert_true(tu_exists(tu_join(out, "compare-beir.json")));
    assert_int_equal(tu_count_files(out, ".tmp."), 0);

    /* a rerun with the same settings resumes: every stage is skipped */
    rc = tu_sh("%s demo --out %s " TINY, tu_strata(), out);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(tu_last_err(), "0 stages run"));
    check_results(out);

    /* a training killed after a checkpoint resumes from it: each run keeps
     * its newest checkpoint only; with final/ and the metrics gone (as if
     * killed after the last checkpoint) a rerun trains nothing again and
     * writes the same model */
    const char *r1 = tu_join(out, "runs/random/seed1");
    assert_int_equal(tu_count_files(r1, "checkpoint-"), 1);
    assert_true(tu_exists(tu_join(r1, "checkpoint-8/optimizer.safetensors")));
    char saved[1024];
    snprintf(saved, sizeof saved, "%s", tu_join(tu_tmpdir(), "seed1-model.safetensors"));
    assert_int_equal(tu_sh("cp %s/final/model.safetensors %s && rm -r %s/final %s/metrics-*.json",
                           r1, saved, r1, r1), 0);
    rc = tu_sh("%s demo --out %s " TINY, tu_strata(), out);
    if (rc != 0) print_message("%s\n%s\n", tu_last_out(), tu_last_err());
    assert_int_equal(rc, 0);
    assert_true(files_equal(saved, tu_join(r1, "final/model.safetensors")));
    check_results(out);

    /* other settings into the same folder are refused, nothing is touched */
    rc = tu_sh("%s demo --out %s " TINY " --lr 0.5", tu_strata(), out);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(tu_last_err(), "other settings"));

    /* continuing a trained model: the seeds still differ (their plans do) */
    rc = tu_sh("%s demo --out %s --init %s --strategies random " TINY_INIT, tu_strata(), cont,
               tu_join(out, "runs/random/seed1/final"));
    if (rc != 0) print_message("%s\n%s\n", tu_last_out(), tu_last_err());
    assert_int_equal(rc, 0);
    assert_false(files_equal(tu_join(cont, "runs/random/seed1/final/model.safetensors"),
                             tu_join(cont, "runs/random/seed2/final/model.safetensors")));
    char *res = tu_read(tu_join(cont, "report.html"), NULL);
    assert_non_null(strstr(res, "The model training started from scores"));
    free(res);
}

static void test_demo_bad_input(void **state) {
    (void)state;
    const char *out = tu_join(tu_tmpdir(), "bad");
    int rc = tu_sh("%s demo --out %s --strategies random,clustr", tu_strata(), out);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(tu_last_err(), "unknown strategy 'clustr'"));
    rc = tu_sh("%s demo --out %s --strategies random,random", tu_strata(), out);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(tu_last_err(), "'random' given twice"));
    rc = tu_sh("%s demo --out %s --seeds 1,1", tu_strata(), out);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(tu_last_err(), "--seeds"));
    rc = tu_sh("%s demo --out %s --steps 10 --warmup 10", tu_strata(), out);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(tu_last_err(), "not shorter than --steps"));
    assert_false(tu_exists(tu_join(out, "results.json")));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_demo_bad_input),
        cmocka_unit_test(test_demo_end_to_end),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
