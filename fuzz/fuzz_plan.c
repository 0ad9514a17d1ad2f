/*
 * fuzz_plan.c — libFuzzer target for the reader of a plan folder,
 * strata_plan_load (planio.c), alone and as the trainer uses it with its own
 * checks (strata_train_run on a tiny model, one step). The input's parts (FUZZ_SEP) are plan.json, batches.npy
 * and mask.npy (absent when there are fewer than three parts).
 *
 * An accepted plan must keep its indices in [-1, n_pairs), its mask and
 * per-batch arrays readable over their whole shape; a training run on it
 * either fails with a message and no final model, or leaves one.
 */
#include "fuzz_common.h"
#include "strata/plan.h"
#include "strata/train.h"

static char g_fx[1024];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    snprintf(g_fx, sizeof g_fx, "%s", fuzz_join(fuzz_root(), "fx"));
    mkdir(g_fx, 0700);
    fuzz_tiny_model(fuzz_join(g_fx, "model"));
    FILE *f = fopen(fuzz_join(g_fx, "pairs.jsonl"), "w");
    if (!f) abort();
    static const char *w[] = {"alpha", "beta", "gamma", "delta", "red", "green", "blue"};
    for (int i = 0; i < 10; i++)
        fprintf(f, "{\"query\": \"%s %s\", \"positive\": \"%s %s blue\"}\n", w[i % 7],
                w[(i + 3) % 7], w[i % 7], w[(i + 5) % 7]);
    fclose(f);
    return 0;
}

static volatile uint64_t g_sink;

static void check_plan(const strata_plan *p) {
    if (p->n_batches < 1 || p->batch_size < 1) __builtin_trap();
    for (int64_t t = 0; t < p->n_batches * p->batch_size; t++) {
        int64_t v = p->batches[t];
        if (v < -1 || (p->n_pairs > 0 && v >= p->n_pairs)) __builtin_trap();
    }
    uint64_t acc = 0;
    for (int64_t b = 0; b < p->n_batches; b++) {
        for (int64_t i = 0; i < p->batch_size; i++)
            for (int64_t j = 0; j < p->batch_size; j++) acc += (uint64_t)strata_plan_masked(p, b, i, j);
        const int32_t *arrs[5] = {p->batch_source, p->batch_cluster, p->batch_nclusters,
                                  p->batch_stage, p->batch_epoch};
        for (int a = 0; a < 5; a++)
            if (arrs[a]) acc += (uint64_t)arrs[a][b];
    }
    g_sink = acc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *const names[3] = {"plan.json", "batches.npy", "mask.npy"};
    const char *dir = fuzz_subdir("plan");
    fuzz_write_parts(dir, data, size, names, 3, 2);

    strata_plan p;
    strata_error err;
    strata_error_clear(&err);
    strata_status st = strata_plan_load(&p, dir, &err);
    fuzz_check_error(st, &err);
    if (st == STRATA_OK) {
        check_plan(&p);
        strata_plan_free(&p);
    } else if (p.batches || p.mask || p.n_batches) {
        __builtin_trap();
    }

    /* the trainer's use of it: one step of a tiny model */
    const char *out = fuzz_join(fuzz_root(), "run");
    fuzz_rm_tree(out);
    strata_train_params tp = strata_train_default_params();
    char pairs[1024], init[1024];
    snprintf(pairs, sizeof pairs, "%s", fuzz_join(g_fx, "pairs.jsonl"));
    snprintf(init, sizeof init, "%s", fuzz_join(g_fx, "model"));
    tp.pairs_path = pairs;
    tp.plan_dir = dir;
    tp.init_dir = init;
    tp.out_dir = out;
    tp.max_len = 8;
    tp.steps = 1;
    tp.warmup = 0;
    strata_error_clear(&err);
    st = strata_train_run(&tp, &err);
    fuzz_check_error(st, &err);
    struct stat sb;
    int has_final = stat(fuzz_join(out, "final/model.safetensors"), &sb) == 0;
    if ((st == STRATA_OK) != has_final) __builtin_trap();
    return 0;
}
