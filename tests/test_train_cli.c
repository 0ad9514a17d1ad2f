/*
 * test_train_cli.c — `strata train` end to end on a tiny model: log and
 * checkpoints, SIGKILL + --resume ending in byte-identical weights, the same
 * bytes for 1 and 2 threads, GradCache runs, the saved folder read back by the
 * C encoder and by the PyTorch reference BERT (tests/ref/train_ref.py), and
 * bad input with clear errors and no output left behind.
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "strata/encoder.h"
#include "strata/io.h"
#include "strata/train.h"
#include "testutil.h"

/* ------------------------------------------------------------------------ */
/* Fixture: vocabulary, config, pairs, plan                                  */
/* ------------------------------------------------------------------------ */

static const char *WORDS[] = {
    "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa",
    "lambda", "mu", "nu", "xi", "omicron", "pi", "rho", "sigma", "tau", "upsilon",
    "phi", "chi", "psi", "omega", "red", "green", "blue", "cyan", "black", "white"};
enum { NW = 30, NPAIRS = 96, BATCH = 8 };

static char g_fx[512];

static const char *fixture(void) {
    if (g_fx[0]) return g_fx;
    snprintf(g_fx, sizeof g_fx, "%s/fx", tu_tmpdir());
    mkdir(g_fx, 0755);
    char buf[4096];
    int k = snprintf(buf, sizeof buf, "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n");
    for (int i = 0; i < NW; i++) k += snprintf(buf + k, sizeof buf - k, "%s\n", WORDS[i]);
    tu_write_str(tu_join(g_fx, "vocab.txt"), buf);
    snprintf(buf, sizeof buf,
             "{\"vocab_size\": %d, \"hidden_size\": 32, \"num_hidden_layers\": 2,"
             " \"num_attention_heads\": 4, \"intermediate_size\": 64,"
             " \"max_position_embeddings\": 64, \"type_vocab_size\": 2,"
             " \"layer_norm_eps\": 1e-12, \"model_type\": \"bert\", \"hidden_act\": \"gelu\"}\n",
             NW + 5);
    tu_write_str(tu_join(g_fx, "config.json"), buf);
    /* pairs: the positive shares three topic words with its query */
    FILE *f = fopen(tu_join(g_fx, "pairs.jsonl"), "w");
    assert_non_null(f);
    uint64_t s = 42;
    for (int i = 0; i < NPAIRS; i++) {
        int w[7];
        for (int j = 0; j < 7; j++) {
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            w[j] = (int)((s >> 33) % NW);
        }
        fprintf(f, "{\"query\": \"%s %s %s %s\", \"positive\": \"%s %s %s %s %s\", \"source\": \"s%d\"}\n",
                WORDS[w[0]], WORDS[w[1]], WORDS[w[2]], WORDS[w[3]], WORDS[w[4]], WORDS[w[0]],
                WORDS[w[5]], WORDS[w[1]], WORDS[w[2]], i % 3);
    }
    fclose(f);
    /* plan: 12 batches of 8, one pad; a mask on the first query of each batch */
    char pd[600];
    snprintf(pd, sizeof pd, "%s/plan", g_fx);
    mkdir(pd, 0755);
    int64_t b[NPAIRS / BATCH][BATCH];
    for (int i = 0; i < NPAIRS; i++) b[i / BATCH][i % BATCH] = (i * 37) % NPAIRS;
    b[3][7] = -1;
    int64_t shb[2] = {NPAIRS / BATCH, BATCH}, shm[3] = {NPAIRS / BATCH, BATCH, 1};
    uint8_t m[NPAIRS / BATCH][BATCH][1];
    memset(m, 0, sizeof m);
    for (int i = 0; i < NPAIRS / BATCH; i++) m[i][0][0] = 0x06;
    strata_error err;
    assert_int_equal(strata_npy_save(tu_join(pd, "batches.npy"), STRATA_DTYPE_I64, 2, shb, b, &err), 0);
    assert_int_equal(strata_npy_save(tu_join(pd, "mask.npy"), STRATA_DTYPE_U8, 3, shm, m, &err), 0);
    tu_write_str(tu_join(pd, "plan.json"), "{\"n_batches\": 12}\n");
    return g_fx;
}

/* Precision of the runs (fp32: the PyTorch-checked reference; the bf16
 * variants of the resume and thread tests switch it). */
static const char *g_prec = "fp32";

/* The common part of a training command line (tiny model from --config). */
static const char *base_args(void) {
    static char b[4096];
    const char *fx = fixture();
    snprintf(b, sizeof b,
             "%s train --pairs %s/pairs.jsonl --plan %s/plan --config %s/config.json"
             " --vocab %s/vocab.txt --lr 1e-3 --warmup 3 --quiet --precision %s",
             tu_strata(), fx, fx, fx, fx, g_prec);
    return b;
}

/* A private copy of "<tmp>/<name>" (tu_join's buffers rotate). */
static const char *tmp_path(const char *name) {
    static char slots[16][512];
    static int k;
    char *b = slots[k++ % 16];
    snprintf(b, 512, "%s/%s", tu_tmpdir(), name);
    return b;
}

static int log_lines(const char *run) {
    char *t = tu_read(tu_join(run, "log.jsonl"), NULL);
    if (!t) return -1;
    int n = 0;
    for (char *p = t; *p; p++) n += *p == '\n';
    free(t);
    return n;
}

/* Loss of log line `step` (1-based), NAN if absent. */
static double log_loss(const char *run, int step) {
    char *t = tu_read(tu_join(run, "log.jsonl"), NULL);
    if (!t) return NAN;
    char key[64];
    snprintf(key, sizeof key, "{\"step\":%d,\"loss\":", step);
    char *p = strstr(t, key);
    double v = p ? strtod(p + strlen(key), NULL) : NAN;
    free(t);
    return v;
}

static int same_file(const char *a, const char *b) {
    size_t la, lb;
    char *x = tu_read(a, &la), *y = tu_read(b, &lb);
    int same = x && y && la == lb && memcmp(x, y, la) == 0;
    free(x);
    free(y);
    return same;
}

/* ------------------------------------------------------------------------ */
/* Runs, checkpoints, SIGKILL + resume                                       */
/* ------------------------------------------------------------------------ */

static void test_train_log_and_checkpoints(void **state) {
    (void)state;
    const char *run = tmp_path("run_a");
    int rc = tu_sh("%s --out %s --steps 30 --save-every 10 --threads 1", base_args(), run);
    if (rc) print_message("%s", tu_last_err());
    assert_int_equal(rc, 0);
    assert_int_equal(log_lines(run), 30);
    char *t = tu_read(tu_join(run, "log.jsonl"), NULL);
    const char *keys[] = {"\"step\":", "\"loss\":", "\"acc\":", "\"lr\":", "\"grad_norm\":",
                          "\"tokens_per_s\":", "\"masked_frac\":"};
    for (int i = 0; i < 7; i++) assert_non_null(strstr(t, keys[i]));
    /* the plan's mask reaches the loss: row 0 masks 2 of the 8*7 negatives
     * (2/56); batch 3 has a -1 pad, so step 4 trains on 7 pairs */
    assert_non_null(strstr(t, "\"masked_frac\":0.035714285714285712,\"batch\":0,\"pairs\":8}"));
    assert_non_null(strstr(t, "\"batch\":3,\"pairs\":7}"));
    free(t);
    /* the loss goes down on this easy data */
    assert_true(log_loss(run, 30) < log_loss(run, 1));
    const char *files[] = {"config.json", "model.safetensors", "vocab.txt",
                           "optimizer.safetensors", "trainer_state.json"};
    for (int c = 10; c <= 30; c += 10) {
        char d[64];
        snprintf(d, sizeof d, "checkpoint-%d", c);
        for (int i = 0; i < 5; i++) assert_true(tu_exists(tu_join(tu_join(run, d), files[i])));
    }
    assert_true(tu_exists(tu_join(run, "final/model.safetensors")));
    assert_true(tu_exists(tu_join(run, "final/1_Pooling/config.json")));
    assert_int_equal(tu_count_files(run, ".tmp"), 0);
    /* a finished run with checkpoints refuses to start over without --resume */
    rc = tu_sh("%s --out %s --steps 30", base_args(), run);
    assert_int_equal(rc, 2); /* STRATA_EINVAL: the CLI's usage exit code */
    assert_non_null(strstr(tu_last_err(), "--resume"));
}

/* --keep-checkpoints N keeps the newest N checkpoint-STEP/ folders and
 * changes nothing else (the same final bytes as keeping all); --resume with
 * no checkpoint yet starts fresh (what `strata demo` relies on). */
static void test_keep_checkpoints(void **state) {
    (void)state;
    const char *all = tmp_path("run_keep_all");
    const char *two = tmp_path("run_keep_two");
    char loud[4096]; /* base_args without --quiet: the progress lines show */
    snprintf(loud, sizeof loud, "%s", base_args());
    char *q = strstr(loud, " --quiet");
    memmove(q, q + 8, strlen(q + 8) + 1);
    assert_int_equal(tu_sh("%s --out %s --steps 12 --save-every 3 --threads 1", loud, all), 0);
    /* the last progress line ends with the loss, and none with an empty "ETA " */
    const char *fin = strstr(tu_last_err(), "train: 12 steps");
    if (!fin) print_message("%s", tu_last_err());
    assert_non_null(fin);
    const char *loss = strstr(fin, ", loss ");
    assert_non_null(loss);
    assert_true(loss < strchr(fin, '\n'));
    assert_null(strstr(tu_last_err(), "ETA \n"));
    int rc = tu_sh("%s --out %s --steps 12 --save-every 3 --keep-checkpoints 2 --resume "
                   "--threads 1", base_args(), two);
    if (rc) print_message("%s", tu_last_err());
    assert_int_equal(rc, 0);
    for (int c = 3; c <= 12; c += 3) {
        char d[64];
        snprintf(d, sizeof d, "checkpoint-%d", c);
        assert_true(tu_exists(tu_join(all, d)));
        assert_int_equal(tu_exists(tu_join(two, d)), c >= 9);
    }
    char a[600], b[600];
    snprintf(a, sizeof a, "%s/final/model.safetensors", all);
    snprintf(b, sizeof b, "%s/final/model.safetensors", two);
    assert_true(same_file(a, b));
    assert_int_equal(log_lines(two), 12);
    rc = tu_sh("%s --out %s --steps 12 --keep-checkpoints -1", base_args(), tmp_path("run_k"));
    assert_int_equal(rc, 2);
}

/* No entry of dir starts with ".checkpoint-" (stale temporaries). */
static int stale_tmp(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) n += strncmp(e->d_name, ".checkpoint-", 12) == 0;
    if (d) closedir(d);
    return n;
}

static void test_sigkill_resume_bitwise(void **state) {
    (void)state;
    const int steps = 120;
    char refn[64];
    snprintf(refn, sizeof refn, "run_ref_%s", g_prec);
    const char *ref = tmp_path(refn);
    assert_int_equal(tu_sh("%s --out %s --steps %d --save-every 6 --threads 1", base_args(),
                           ref, steps), 0);
    /* the same run, killed with SIGKILL once a checkpoint exists */
    char run[512];
    snprintf(run, sizeof run, "%s/run_kill_%s", tu_tmpdir(), g_prec);
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "exec %s --out %s --steps %d --save-every 6 --threads 1",
             base_args(), run, steps);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    char ck[600];
    snprintf(ck, sizeof ck, "%s/checkpoint-12/trainer_state.json", run);
    struct timespec ts = {0, 500000}; /* 0.5 ms */
    for (int i = 0; i < 20000 && access(ck, F_OK) != 0; i++) nanosleep(&ts, NULL);
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    int done_before = log_lines(run);
    print_message("killed after %d logged steps (signal %d)\n", done_before,
                  WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    assert_true(WIFSIGNALED(status)); /* it was really killed mid-run */
    assert_true(done_before < steps);
    assert_false(tu_exists(tu_join(run, "final")));
    /* every checkpoint folder that exists is complete */
    DIR *d = opendir(run);
    struct dirent *e;
    while ((e = readdir(d)))
        if (strncmp(e->d_name, "checkpoint-", 11) == 0) {
            assert_true(tu_exists(tu_join(tu_join(run, e->d_name), "trainer_state.json")));
            assert_true(tu_exists(tu_join(tu_join(run, e->d_name), "model.safetensors")));
            assert_true(tu_exists(tu_join(tu_join(run, e->d_name), "optimizer.safetensors")));
        }
    closedir(d);
    int rc = tu_sh("%s --out %s --steps %d --save-every 6 --threads 1 --resume", base_args(), run,
                   steps);
    if (rc) print_message("%s", tu_last_err());
    assert_int_equal(rc, 0);
    assert_int_equal(stale_tmp(run), 0);
    char a[600], b[600];
    snprintf(a, sizeof a, "%s/final/model.safetensors", ref);
    snprintf(b, sizeof b, "%s/final/model.safetensors", run);
    assert_true(same_file(a, b));
    snprintf(a, sizeof a, "%s/checkpoint-%d/optimizer.safetensors", ref, steps);
    snprintf(b, sizeof b, "%s/checkpoint-%d/optimizer.safetensors", run, steps);
    assert_true(same_file(a, b));
    /* the log continues without duplicate steps, with the same losses */
    assert_int_equal(log_lines(run), steps);
    for (int s = 1; s <= steps; s += 7) assert_true(log_loss(run, s) == log_loss(ref, s));
    /* --steps is the new total: continuing adds ten lines */
    rc = tu_sh("%s --out %s --steps %d --save-every 6 --threads 1 --resume", base_args(), run,
               steps + 10);
    assert_int_equal(rc, 0);
    assert_int_equal(log_lines(run), steps + 10);
    /* a run resumes only in the precision it ran in */
    const char *other = strcmp(g_prec, "fp32") == 0 ? "bf16" : "fp32";
    if (strata_precision_available(STRATA_PRECISION_BF16)) {
        rc = tu_sh("%s --out %s --steps %d --threads 1 --resume --precision %s", base_args(),
                   run, steps + 20, other);
        assert_int_equal(rc, 2); /* an option at odds with the run folder: usage */
        assert_non_null(strstr(tu_last_err(), g_prec));
        assert_int_equal(log_lines(run), steps + 10);
    }
}

/* The bf16 variants: the same guarantees (byte-identical resume, any thread
 * count) within bf16. Skipped where the CPU or build has no bf16. */
static int use_bf16(void **state) {
    (void)state;
    g_prec = "bf16";
    return 0;
}
static int use_fp32(void **state) {
    (void)state;
    g_prec = "fp32";
    return 0;
}
static void test_sigkill_resume_bitwise_bf16(void **state) {
    if (!strata_precision_available(STRATA_PRECISION_BF16)) {
        print_message("skipped: no bf16 on this CPU or build (%s)\n", strata_precision_describe());
        skip();
    }
    test_sigkill_resume_bitwise(state);
}

/* Writes a copy of the fixture's pairs with every query text changed (same
 * count, other texts) to <tmp>/name. */
static const char *other_pairs(const char *name) {
    const char *fx = fixture();
    char *t = tu_read(tu_join(fx, "pairs.jsonl"), NULL);
    assert_non_null(t);
    for (char *p = strstr(t, "\"query\": \""); p; p = strstr(p + 1, "\"query\": \""))
        p[10] = p[10] == 'a' ? 'b' : 'a'; /* first letter of each query */
    const char *path = tmp_path(name);
    tu_write_str(path, t);
    free(t);
    return path;
}

/* --resume continues the run trainer_state.json describes, or refuses
 * (issue #15: other --pairs, --plan, --lr, --max-len or --seed went on
 * silently). --steps may grow (the test above), --save-every may change. */
static void test_resume_refuses_other_settings(void **state) {
    (void)state;
    const char *fx = fixture();
    const char *run = tmp_path("run_resume_args");
    assert_int_equal(tu_sh("%s --out %s --steps 6 --save-every 3 --threads 1", base_args(), run), 0);
    /* another plan: the same shape, other batches */
    char plan2[600];
    snprintf(plan2, sizeof plan2, "%s/plan_other", tu_tmpdir());
    assert_int_equal(tu_sh("cp -r %s/plan %s", fx, plan2), 0);
    int64_t b[12][8], sh[2] = {12, 8};
    for (int i = 0; i < 96; i++) b[i / 8][i % 8] = (i * 41) % 96;
    strata_error err;
    assert_int_equal(strata_npy_save(tu_join(plan2, "batches.npy"), STRATA_DTYPE_I64, 2, sh, b, &err), 0);
    const char *pairs2 = other_pairs("pairs_other.jsonl");
    struct {
        const char *args, *want;
    } cases[] = {
        {"--lr 2e-3", "--lr"},
        {"--max-len 32", "--max-len"},
        {"--seed 7", "--seed"},
        {"--tau 0.05", "--tau"},
        {"--warmup 4", "--warmup"},
        {"--symmetric", "--symmetric"},
        {"--pool cls", "--pool"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int rc = tu_sh("%s --out %s --steps 12 --threads 1 --resume %s", base_args(), run,
                       cases[c].args);
        if (rc == 0) fail_msg("--resume with %s went on", cases[c].args);
        if (!strstr(tu_last_err(), cases[c].want) || !strstr(tu_last_err(), "trainer_state.json"))
            fail_msg("--resume with %s: %s", cases[c].args, tu_last_err());
    }
    /* other pairs (same count) and another plan (same shape): base_args
     * names the fixture's, so later options override them */
    int rc = tu_sh("%s train --pairs %s --plan %s/plan --config %s/config.json --vocab %s/vocab.txt"
                   " --lr 1e-3 --warmup 3 --quiet --precision %s --out %s --steps 12 --threads 1 --resume",
                   tu_strata(), pairs2, fx, fx, fx, g_prec, run);
    if (rc == 0 || !strstr(tu_last_err(), "--pairs")) fail_msg("other pairs: %s", tu_last_err());
    rc = tu_sh("%s train --pairs %s/pairs.jsonl --plan %s --config %s/config.json --vocab %s/vocab.txt"
               " --lr 1e-3 --warmup 3 --quiet --precision %s --out %s --steps 12 --threads 1 --resume",
               tu_strata(), fx, plan2, fx, fx, g_prec, run);
    if (rc == 0 || !strstr(tu_last_err(), "--plan")) fail_msg("other plan: %s", tu_last_err());
    assert_false(tu_exists(tu_join(run, "checkpoint-12")));
    /* the same settings go on; --save-every and --steps may change */
    rc = tu_sh("%s --out %s --steps 12 --save-every 4 --threads 1 --resume", base_args(), run);
    if (rc) fail_msg("%s", tu_last_err());
    assert_int_equal(log_lines(run), 12);
    /* the same pairs file moved elsewhere is the same data */
    const char *moved = tmp_path("pairs_moved.jsonl");
    assert_int_equal(tu_sh("cp %s/pairs.jsonl %s", fx, moved), 0);
    rc = tu_sh("%s train --pairs %s --plan %s/plan --config %s/config.json --vocab %s/vocab.txt"
               " --lr 1e-3 --warmup 3 --quiet --precision %s --out %s --steps 14 --threads 1 --resume",
               tu_strata(), moved, fx, fx, fx, g_prec, run);
    if (rc) fail_msg("moved pairs: %s", tu_last_err());
}

/* A plan made by `strata plan` for other pairs with the same count is
 * refused (issue #15: accepted): plan.json keeps the pairs' fingerprint. */
static void test_plan_for_other_pairs(void **state) {
    (void)state;
    const char *fx = fixture();
    const char *plan = tmp_path("plan_real");
    assert_int_equal(tu_sh("%s plan --pairs %s/pairs.jsonl --batch-size 8 --strategy random --quiet "
                           "--out %s", tu_strata(), fx, plan), 0);
    const char *pairs2 = other_pairs("pairs_other2.jsonl");
    const char *run = tmp_path("run_other_pairs");
    int rc = tu_sh("%s train --pairs %s --plan %s --config %s/config.json --vocab %s/vocab.txt"
                   " --quiet --out %s --steps 2 --threads 1", tu_strata(), pairs2, plan, fx, fx, run);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(tu_last_err(), "plan.json"));
    assert_non_null(strstr(tu_last_err(), "other pairs"));
    assert_false(tu_exists(tu_join(run, "final")));
    /* the pairs it was made for train */
    rc = tu_sh("%s train --pairs %s/pairs.jsonl --plan %s --config %s/config.json --vocab %s/vocab.txt"
               " --quiet --out %s --steps 2 --threads 1", tu_strata(), fx, plan, fx, fx, run);
    if (rc) fail_msg("%s", tu_last_err());
}

/* Folders written as a unit (manifest.json): a model, plan or checkpoint
 * folder whose manifest says incomplete is refused by its readers; resume
 * skips such a checkpoint, rewrites it in place of the old one and ends in
 * the same bytes. */
static void test_partial_dirs_refused(void **state) {
    (void)state;
    const char *fx = fixture();
    const char *run = tmp_path("run_units");
    assert_int_equal(tu_sh("%s --out %s --steps 4 --save-every 2 --threads 1", base_args(), run), 0);
    char fin[600], ck4[600], ref[600];
    snprintf(fin, sizeof fin, "%s/final", run);
    snprintf(ck4, sizeof ck4, "%s/checkpoint-4", run);
    snprintf(ref, sizeof ref, "%s/ref.safetensors", run);
    assert_true(tu_exists(tu_join(fin, "manifest.json")));
    char *man = tu_read(tu_join(ck4, "manifest.json"), NULL);
    assert_non_null(man);
    assert_non_null(strstr(man, "\"kind\":\t\"checkpoint\""));
    assert_non_null(strstr(man, "optimizer.safetensors"));
    assert_non_null(strstr(man, "1_Pooling/config.json"));
    free(man);
    assert_int_equal(tu_sh("cp %s/model.safetensors %s", fin, ref), 0);
    strata_error err;
    /* a model folder marked incomplete */
    assert_int_equal(strata_dir_begin(fin, "model", &err), STRATA_OK);
    int rc = tu_sh("%s embed --model %s --input %s/pairs.jsonl --out %s/e.npy --quiet", tu_strata(),
                   fin, fx, run);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(tu_last_err(), "incomplete model directory"));
    assert_false(tu_exists(tu_join(run, "e.npy")));
    /* a plan folder marked incomplete */
    char plan[600];
    snprintf(plan, sizeof plan, "%s/plan_partial", tu_tmpdir());
    assert_int_equal(tu_sh("cp -r %s/plan %s", fx, plan), 0);
    assert_int_equal(strata_dir_begin(plan, "plan", &err), STRATA_OK);
    rc = tu_sh("%s train --pairs %s/pairs.jsonl --plan %s --config %s/config.json --vocab %s/vocab.txt"
               " --quiet --out %s --steps 2", tu_strata(), fx, plan, fx, fx, tmp_path("run_pp"));
    assert_int_equal(rc, 1);
    assert_non_null(strstr(tu_last_err(), "incomplete plan directory"));
    /* a checkpoint marked incomplete is not resumed from */
    assert_int_equal(strata_dir_begin(ck4, "checkpoint", &err), STRATA_OK);
    rc = tu_sh("%s --out %s --steps 4 --save-every 2 --threads 1 --resume", base_args(), run);
    if (rc) fail_msg("%s", tu_last_err());
    assert_int_equal(strata_dir_check(ck4, "checkpoint", NULL, &err), STRATA_OK);
    assert_int_equal(strata_dir_check(fin, "model", NULL, &err), STRATA_OK);
    char now[700];
    snprintf(now, sizeof now, "%s/model.safetensors", fin);
    assert_true(same_file(ref, now));
    assert_int_equal(log_lines(run), 4);
    assert_int_equal(tu_count_files(run, ".old"), 0);
    assert_int_equal(tu_count_files(run, ".tmp"), 0);
}

/* Same bytes with 1 and 2 threads (fixed block partitions, ordered sums). */
static void test_threads_same_bytes(void **state) {
    (void)state;
    char n1[64], n2[64];
    snprintf(n1, sizeof n1, "run_t1_%s", g_prec);
    snprintf(n2, sizeof n2, "run_t2_%s", g_prec);
    const char *r1 = tmp_path(n1);
    assert_int_equal(tu_sh("%s --out %s --steps 12 --threads 1", base_args(), r1), 0);
    const char *r2 = tmp_path(n2);
    assert_int_equal(tu_sh("%s --out %s --steps 12 --threads 2", base_args(), r2), 0);
    char a[600], b[600];
    snprintf(a, sizeof a, "%s/final/model.safetensors", r1);
    snprintf(b, sizeof b, "%s/final/model.safetensors", r2);
    assert_true(same_file(a, b));
}

/* GradCache through the command: chunks of 5 sequences follow the same loss
 * curve as whole batches (1e-4 relative after 12 steps: per-step gradients
 * agree to ~1e-6 and AdamW compounds the rounding). */
static void test_threads_same_bytes_bf16(void **state) {
    if (!strata_precision_available(STRATA_PRECISION_BF16)) {
        print_message("skipped: no bf16 on this CPU or build\n");
        skip();
    }
    test_threads_same_bytes(state);
    /* and bf16 really differs from fp32 (the flag reached the products) */
    char a[600], b[600];
    snprintf(a, sizeof a, "%s/run_t1_bf16/final/model.safetensors", tu_tmpdir());
    snprintf(b, sizeof b, "%s/run_t1_fp32/final/model.safetensors", tu_tmpdir());
    if (tu_exists(b)) assert_false(same_file(a, b));
}

static void test_gradcache_run(void **state) {
    (void)state;
    const char *r0 = tmp_path("run_c0");
    assert_int_equal(tu_sh("%s --out %s --steps 12 --threads 1 --symmetric", base_args(), r0), 0);
    const char *r5 = tmp_path("run_c5");
    assert_int_equal(tu_sh("%s --out %s --steps 12 --threads 1 --symmetric --chunk 5", base_args(), r5), 0);
    for (int s = 1; s <= 12; s++) {
        double a = log_loss(r0, s), b = log_loss(r5, s);
        assert_true(fabs(a - b) <= 1e-4 * fabs(a));
    }
}

/* ------------------------------------------------------------------------ */
/* The saved folder: C encoder and PyTorch read it back                      */
/* ------------------------------------------------------------------------ */

static void test_saved_model_roundtrip(void **state) {
    (void)state;
    const char *run = tmp_path("run_save");
    assert_int_equal(tu_sh("%s --out %s --steps 6 --threads 1 --pool cls", base_args(), run), 0);
    char dir[600];
    snprintf(dir, sizeof dir, "%s/final", run);
    strata_bert *m;
    strata_error err;
    assert_int_equal(strata_bert_load(&m, dir, &err), STRATA_OK);
    assert_int_equal(m->cfg.pool, STRATA_POOL_CLS);
    /* four sequences of different lengths */
    enum { B = 4, T = 9 };
    int32_t ids[B * T];
    int len[B] = {9, 5, 3, 7};
    for (int i = 0; i < B * T; i++) ids[i] = 5 + (i * 7) % NW;
    for (int b = 0; b < B; b++) {
        ids[b * T] = 2;                 /* [CLS] */
        ids[b * T + len[b] - 1] = 3;    /* [SEP] */
        for (int t = len[b]; t < T; t++) ids[b * T + t] = 0;
    }
    float e_inf[B * 32], e_tr[B * 32];
    strata_bert_state *s;
    assert_int_equal(strata_bert_state_create(&s, &err), STRATA_OK);
    assert_int_equal(strata_bert_forward(m, s, ids, len, B, T, e_inf, &err), STRATA_OK);
    strata_bert_state_free(s);
    /* the training forward gives the inference forward's embeddings
     * (1e-5: both float32, different kernels and summation orders) */
    strata_train_acts *a;
    assert_int_equal(strata_train_acts_create(&a, &m->cfg, B, T, &err), STRATA_OK);
    strata_train_forward(&m->cfg, &m->w, a, ids, len, B, T, m->cfg.pool, e_tr);
    strata_train_acts_free(a);
    for (int i = 0; i < B * 32; i++) assert_true(fabsf(e_inf[i] - e_tr[i]) < 1e-5f);
    /* PyTorch reads the folder and embeds the same ids */
    if (!tu_python_has("torch")) {
        print_message("skipped PyTorch part: torch not installed\n");
        strata_bert_free(m);
        return;
    }
    int64_t shi[2] = {B, T}, shl[1] = {B};
    const char *ip = tu_join(tu_tmpdir(), "rt_ids.npy"), *lp = tu_join(tu_tmpdir(), "rt_len.npy");
    assert_int_equal(strata_npy_save(ip, STRATA_DTYPE_I32, 2, shi, ids, &err), 0);
    assert_int_equal(strata_npy_save(lp, STRATA_DTYPE_I32, 1, shl, len, &err), 0);
    const char *op = tu_join(tu_tmpdir(), "rt_out.npy");
    int rc = tu_sh("%s tests/ref/train_ref.py embed %s %s %s %s", tu_python(), dir, ip, lp, op);
    if (rc) print_message("%s", tu_last_err());
    assert_int_equal(rc, 0);
    strata_mat o;
    assert_int_equal(strata_mat_load(&o, op, &err), STRATA_OK);
    assert_int_equal(o.rows, B);
    assert_int_equal(o.cols, 32);
    /* 1e-5 absolute on unit vectors: float32 on both sides */
    for (int i = 0; i < B * 32; i++) assert_true(fabsf(o.data[i] - e_inf[i]) < 1e-5f);
    strata_mat_free(&o);
    strata_bert_free(m);
}

/* ------------------------------------------------------------------------ */
/* Evaluation during training                                                */
/* ------------------------------------------------------------------------ */

static void test_eval_during_training(void **state) {
    (void)state;
    char beir[600];
    snprintf(beir, sizeof beir, "%s/beir", tu_tmpdir());
    mkdir(beir, 0755);
    char q[700];
    snprintf(q, sizeof q, "%s/qrels", beir);
    mkdir(q, 0755);
    char buf[4096];
    int k = 0;
    for (int i = 0; i < 12; i++)
        k += snprintf(buf + k, sizeof buf - k,
                      "{\"_id\": \"d%d\", \"title\": \"\", \"text\": \"%s %s %s\"}\n", i,
                      WORDS[i], WORDS[(i + 1) % NW], WORDS[(i + 5) % NW]);
    tu_write_str(tu_join(beir, "corpus.jsonl"), buf);
    k = 0;
    for (int i = 0; i < 4; i++)
        k += snprintf(buf + k, sizeof buf - k, "{\"_id\": \"q%d\", \"text\": \"%s %s\"}\n", i,
                      WORDS[3 * i], WORDS[(3 * i + 1) % NW]);
    tu_write_str(tu_join(beir, "queries.jsonl"), buf);
    k = snprintf(buf, sizeof buf, "query-id\tcorpus-id\tscore\n");
    for (int i = 0; i < 4; i++) k += snprintf(buf + k, sizeof buf - k, "q%d\td%d\t1\n", i, 3 * i);
    tu_write_str(tu_join(q, "test.tsv"), buf);
    const char *run = tmp_path("run_eval");
    int rc = tu_sh("%s --out %s --steps 8 --threads 1 --eval-beir %s --eval-every 4", base_args(),
                   run, beir);
    if (rc) print_message("%s", tu_last_err());
    assert_int_equal(rc, 0);
    /* a line for the starting point (step 0), then steps 4 and 8 carry it */
    assert_int_equal(log_lines(run), 9);
    char *t = tu_read(tu_join(run, "log.jsonl"), NULL);
    assert_non_null(strstr(t, "{\"step\":0,\"ndcg@10\":"));
    int n = 0;
    for (char *p = t; (p = strstr(p, "\"ndcg@10\":")); p++) {
        double v = strtod(p + 11, NULL);
        assert_true(v >= 0.0 && v <= 1.0);
        n++;
    }
    assert_int_equal(n, 3);
    free(t);
    /* --eval-every needs --eval-beir */
    rc = tu_sh("%s --out %s_x --eval-every 4", base_args(), run);
    assert_int_equal(rc, 2);
}

/* ------------------------------------------------------------------------ */
/* Bad input                                                                 */
/* ------------------------------------------------------------------------ */

static void test_bad_input(void **state) {
    (void)state;
    const char *fx = fixture();
    char bad[600];
    snprintf(bad, sizeof bad, "%s/badplan", tu_tmpdir());
    mkdir(bad, 0755);
    /* no plan.json: the plan is incomplete */
    int64_t b[2][4] = {{0, 1, 2, 3}, {4, 5, 6, 7}}, sh[2] = {2, 4};
    strata_error err;
    assert_int_equal(strata_npy_save(tu_join(bad, "batches.npy"), STRATA_DTYPE_I64, 2, sh, b, &err), 0);
    const char *run = tmp_path("run_bad");
    int rc = tu_sh("%s train --pairs %s/pairs.jsonl --plan %s --config %s/config.json --vocab %s/vocab.txt --out %s --quiet",
                   tu_strata(), fx, bad, fx, fx, run);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(tu_last_err(), "plan.json"));
    assert_false(tu_exists(tu_join(run, "final")));
    /* a pair index past the end names the file, batch and slot */
    tu_write_str(tu_join(bad, "plan.json"), "{}\n");
    b[1][2] = 5000;
    assert_int_equal(strata_npy_save(tu_join(bad, "batches.npy"), STRATA_DTYPE_I64, 2, sh, b, &err), 0);
    rc = tu_sh("%s train --pairs %s/pairs.jsonl --plan %s --config %s/config.json --vocab %s/vocab.txt --out %s --quiet",
               tu_strata(), fx, bad, fx, fx, run);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(tu_last_err(), "batch 1 slot 2"));
    assert_false(tu_exists(tu_join(run, "final")));
    assert_int_equal(tu_count_files(run, "checkpoint"), 0);
    /* a mask of the wrong shape */
    b[1][2] = 6;
    assert_int_equal(strata_npy_save(tu_join(bad, "batches.npy"), STRATA_DTYPE_I64, 2, sh, b, &err), 0);
    uint8_t m[2][3][1] = {{{0}}};
    int64_t shm[3] = {2, 3, 1};
    assert_int_equal(strata_npy_save(tu_join(bad, "mask.npy"), STRATA_DTYPE_U8, 3, shm, m, &err), 0);
    rc = tu_sh("%s train --pairs %s/pairs.jsonl --plan %s --config %s/config.json --vocab %s/vocab.txt --out %s --quiet",
               tu_strata(), fx, bad, fx, fx, run);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(tu_last_err(), "mask.npy"));
    /* usage errors exit 2 */
    rc = tu_sh("%s --out %s --pool max", base_args(), run);
    assert_int_equal(rc, 2);
    rc = tu_sh("%s train --pairs %s/pairs.jsonl --plan %s/plan --out %s", tu_strata(), fx, fx, run);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(tu_last_err(), "--init"));
    /* a bad temperature and a sequence length past the model's positions */
    rc = tu_sh("%s --out %s --tau 0", base_args(), run);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(tu_last_err(), "--tau"));
    rc = tu_sh("%s --out %s --max-len 100", base_args(), run);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(tu_last_err(), "max_position"));
    assert_false(tu_exists(tu_join(run, "final")));
    assert_int_equal(tu_count_files(run, ".tmp."), 0);
}

/* Learning rate of log line `step` (1-based), NAN if absent. */
static double log_lr(const char *run, int step) {
    char *t = tu_read(tu_join(run, "log.jsonl"), NULL);
    if (!t) return NAN;
    char key[64];
    snprintf(key, sizeof key, "{\"step\":%d,", step);
    char *p = strstr(t, key), *q = p ? strstr(p, "\"lr\":") : NULL;
    double v = q ? strtod(q + 5, NULL) : NAN;
    free(t);
    return v;
}

/* Without --warmup the warmup is a tenth of the steps, so the peak is
 * reached; a warmup as long as the run is refused before any work. */
static void test_warmup_default(void **state) {
    (void)state;
    const char *fx = fixture();
    const char *run = tmp_path("run_warm");
    int rc = tu_sh("%s train --pairs %s/pairs.jsonl --plan %s/plan --config %s/config.json --vocab %s/vocab.txt"
                   " --lr 1e-3 --steps 20 --out %s --quiet --threads 1",
                   tu_strata(), fx, fx, fx, fx, run);
    if (rc) print_message("%s\n", tu_last_err());
    assert_int_equal(rc, 0);
    assert_true(fabs(log_lr(run, 1) - 5e-4) < 1e-12); /* step 1 of a warmup of 2 */
    assert_true(fabs(log_lr(run, 2) - 1e-3) < 1e-12); /* the peak */
    assert_true(log_lr(run, 20) < log_lr(run, 3));      /* then the decay */
    const char *run2 = tmp_path("run_warm2");
    rc = tu_sh("%s train --pairs %s/pairs.jsonl --plan %s/plan --config %s/config.json --vocab %s/vocab.txt"
               " --lr 1e-3 --steps 5 --warmup 5 --out %s --quiet",
               tu_strata(), fx, fx, fx, fx, run2);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(tu_last_err(), "--warmup 5 is not shorter than the run (5 steps)"));
    assert_false(tu_exists(run2));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_warmup_default),
        cmocka_unit_test(test_train_log_and_checkpoints),
        cmocka_unit_test(test_keep_checkpoints),
        cmocka_unit_test(test_sigkill_resume_bitwise),
        cmocka_unit_test(test_resume_refuses_other_settings),
        cmocka_unit_test(test_plan_for_other_pairs),
        cmocka_unit_test(test_partial_dirs_refused),
        cmocka_unit_test(test_threads_same_bytes),
        cmocka_unit_test_setup_teardown(test_sigkill_resume_bitwise_bf16, use_bf16, use_fp32),
        cmocka_unit_test_setup_teardown(test_threads_same_bytes_bf16, use_bf16, use_fp32),
        cmocka_unit_test(test_gradcache_run),
        cmocka_unit_test(test_saved_model_roundtrip),
        cmocka_unit_test(test_eval_during_training),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
