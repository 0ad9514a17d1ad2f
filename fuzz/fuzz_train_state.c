/*
 * fuzz_train_state.c — libFuzzer target for the trainer's resume state:
 * the input is RUN_DIR/checkpoint-1/trainer_state.json of a real
 * checkpoint of a tiny model (made once at start-up), and
 * strata_train_run --resume continues that run to step 2.
 *
 * A resumed run either fails with a message and leaves no final model, or
 * ends with final/ and checkpoint-2/ in place.
 */
#include "fuzz_common.h"
#include "strata/plan.h"
#include "strata/train.h"

static char g_fx[1024], g_pairs[1024], g_plan[1024], g_model[1024], g_ckpt[1024];

static strata_train_params params(const char *out, int resume) {
    strata_train_params tp = strata_train_default_params();
    tp.pairs_path = g_pairs;
    tp.plan_dir = g_plan;
    tp.init_dir = g_model;
    tp.out_dir = out;
    tp.max_len = 8;
    tp.steps = 2;
    tp.save_every = 1;
    tp.warmup = 0;
    tp.resume = resume;
    return tp;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    snprintf(g_fx, sizeof g_fx, "%s", fuzz_join(fuzz_root(), "fx"));
    mkdir(g_fx, 0700);
    snprintf(g_model, sizeof g_model, "%s", fuzz_join(g_fx, "model"));
    snprintf(g_pairs, sizeof g_pairs, "%s", fuzz_join(g_fx, "pairs.jsonl"));
    snprintf(g_plan, sizeof g_plan, "%s", fuzz_join(g_fx, "plan"));
    snprintf(g_ckpt, sizeof g_ckpt, "%s", fuzz_join(g_fx, "ckpt"));
    fuzz_tiny_model(g_model);
    FILE *f = fopen(g_pairs, "w");
    if (!f) abort();
    static const char *w[] = {"alpha", "beta", "gamma", "delta", "red", "green", "blue"};
    for (int i = 0; i < 8; i++)
        fprintf(f, "{\"query\": \"%s %s\", \"positive\": \"%s %s blue\"}\n", w[i % 7],
                w[(i + 3) % 7], w[i % 7], w[(i + 5) % 7]);
    fclose(f);
    strata_plan p;
    memset(&p, 0, sizeof p);
    int64_t batches[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    p.n_batches = 2;
    p.batch_size = 4;
    p.n_pairs = 8;
    p.batches = batches;
    strata_error err;
    if (strata_plan_save(&p, g_plan, NULL, &err)) abort();
    /* a real run, stopped after step 1 (its checkpoint is the template) */
    const char *run0 = fuzz_join(g_fx, "run0");
    strata_train_params tp = params(run0, 0);
    tp.steps = 1;
    if (strata_train_run(&tp, &err)) {
        fprintf(stderr, "fuzz fixture: %s\n", err.msg);
        abort();
    }
    fuzz_copy_tree(fuzz_join(run0, "checkpoint-1"), g_ckpt);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char out[1024];
    snprintf(out, sizeof out, "%s", fuzz_join(fuzz_root(), "run"));
    fuzz_rm_tree(out);
    if (mkdir(out, 0700) != 0) abort();
    char ck[1100];
    snprintf(ck, sizeof ck, "%s/checkpoint-1", out);
    fuzz_copy_tree(g_ckpt, ck);
    fuzz_write(fuzz_join(ck, "trainer_state.json"), data, size);
    strata_train_params tp = params(out, 1);
    strata_error err;
    strata_error_clear(&err);
    strata_status st = strata_train_run(&tp, &err);
    fuzz_check_error(st, &err);
    struct stat sb;
    int has_final = stat(fuzz_join(out, "final/model.safetensors"), &sb) == 0;
    int has_ck2 = stat(fuzz_join(out, "checkpoint-2/trainer_state.json"), &sb) == 0;
    if (st == STRATA_OK ? !(has_final && has_ck2) : has_final) __builtin_trap();
    return 0;
}
