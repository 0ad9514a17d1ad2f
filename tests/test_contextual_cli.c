/*
 * test_contextual_cli.c — `strata train --contextual`, `strata embed
 * --contextual` and `strata eval` with a contextual model, end to end on a
 * tiny model: log, checkpoints and the saved folder; SIGKILL + --resume
 * ending in byte-identical weights (two-stage GradCache and sequence dropout
 * on); the same bytes for 1 and 2 threads; GradCache runs following the
 * whole-batch losses; context.npy and its oversampling policy; eval with
 * the context from the BEIR corpus, a stored context and none; bad input.
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

#include "strata/contextual.h"
#include "strata/io.h"
#include "testutil.h"

/* ------------------------------------------------------------------------ */
/* Fixture: vocabulary, config, pairs, plan, a BEIR set                      */
/* ------------------------------------------------------------------------ */

static const char *WORDS[] = {
    "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa",
    "lambda", "mu", "nu", "xi", "omicron", "pi", "rho", "sigma", "tau", "upsilon",
    "phi", "chi", "psi", "omega", "red", "green", "blue", "cyan", "black", "white"};
enum { NW = 30, NPAIRS = 96, BATCH = 8, C = 32 };

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
    FILE *f = fopen(tu_join(g_fx, "pairs.jsonl"), "w");
    assert_non_null(f);
    uint64_t s = 42;
    for (int i = 0; i < NPAIRS; i++) {
        int w[7];
        for (int j = 0; j < 7; j++) {
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            w[j] = (int)((s >> 33) % NW);
        }
        fprintf(f, "{\"query\": \"%s %s %s %s\", \"positive\": \"%s %s %s %s %s\"}\n",
                WORDS[w[0]], WORDS[w[1]], WORDS[w[2]], WORDS[w[3]], WORDS[w[4]], WORDS[w[0]],
                WORDS[w[5]], WORDS[w[1]], WORDS[w[2]]);
    }
    fclose(f);
    char pd[600];
    snprintf(pd, sizeof pd, "%s/plan", g_fx);
    mkdir(pd, 0755);
    int64_t b[NPAIRS / BATCH][BATCH];
    for (int i = 0; i < NPAIRS; i++) b[i / BATCH][i % BATCH] = (i * 37) % NPAIRS;
    b[3][7] = -1; /* a batch of 7 pairs: the context (J = 8) is oversampled */
    int64_t shb[2] = {NPAIRS / BATCH, BATCH}, shm[3] = {NPAIRS / BATCH, BATCH, 1};
    uint8_t m[NPAIRS / BATCH][BATCH][1];
    memset(m, 0, sizeof m);
    for (int i = 0; i < NPAIRS / BATCH; i++) m[i][0][0] = 0x06;
    strata_error err;
    assert_int_equal(strata_npy_save(tu_join(pd, "batches.npy"), STRATA_DTYPE_I64, 2, shb, b, &err), 0);
    assert_int_equal(strata_npy_save(tu_join(pd, "mask.npy"), STRATA_DTYPE_U8, 3, shm, m, &err), 0);
    tu_write_str(tu_join(pd, "plan.json"), "{\"n_batches\": 12}\n");
    /* a BEIR set of 12 documents and 4 queries */
    char beir[600], q[700];
    snprintf(beir, sizeof beir, "%s/beir", g_fx);
    snprintf(q, sizeof q, "%s/qrels", beir);
    mkdir(beir, 0755);
    mkdir(q, 0755);
    k = 0;
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
    return g_fx;
}

/* The common part of a contextual training command (J = 8 = the batch,
 * dropout 0.1 so v_null trains and the mask must replay). */
static const char *base_args(void) {
    static char b[4096];
    const char *fx = fixture();
    snprintf(b, sizeof b,
             "%s train --contextual --seq-dropout 0.1 --pairs %s/pairs.jsonl --plan %s/plan"
             " --config %s/config.json --vocab %s/vocab.txt --lr 1e-3 --warmup 3 --quiet",
             tu_strata(), fx, fx, fx, fx);
    return b;
}

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

static const char *file_in(const char *dir, const char *sub, const char *name) {
    static char slots[8][700];
    static int k;
    char *b = slots[k++ % 8];
    snprintf(b, 700, "%s/%s/%s", dir, sub, name);
    return b;
}

/* ------------------------------------------------------------------------ */
/* Training                                                                  */
/* ------------------------------------------------------------------------ */

static void test_train_log_checkpoints_folder(void **state) {
    (void)state;
    const char *run = tmp_path("run_a");
    int rc = tu_sh("%s --out %s --steps 24 --save-every 12 --threads 1", base_args(), run);
    if (rc) print_message("%s", tu_last_err());
    assert_int_equal(rc, 0);
    assert_int_equal(log_lines(run), 24);
    assert_true(log_loss(run, 24) < log_loss(run, 1));
    const char *files[] = {"config.json", "model.safetensors", "vocab.txt",
                           "optimizer.safetensors", "trainer_state.json"};
    for (int i = 0; i < 5; i++) assert_true(tu_exists(file_in(run, "checkpoint-12", files[i])));
    char *ts = tu_read(file_in(run, "checkpoint-12", "trainer_state.json"), NULL);
    assert_non_null(strstr(ts, "\"contextual\""));
    free(ts);
    char dir[600];
    snprintf(dir, sizeof dir, "%s/final", run);
    assert_true(strata_ctx_is_model_dir(dir));
    strata_ctx_model *m;
    strata_error err;
    assert_int_equal(strata_ctx_load(&m, dir, &err), STRATA_OK);
    assert_int_equal(m->cfg.context_size, BATCH); /* default: the plan's batch */
    assert_true(m->cfg.seq_dropout == 0.1);
    /* the two stages started equal and were trained apart (untied) */
    size_t nb = strata_bert_param_sizes(&m->cfg.bert, NULL);
    assert_true(memcmp(m->w.m1.word_emb, m->w.m2.word_emb, nb * sizeof(float)) != 0);
    strata_ctx_free(m);
}

/* SIGKILL once a checkpoint exists, then --resume: the same bytes as an
 * uninterrupted run (GradCache chunks of 5 and dropout on: the context
 * sample and the mask are functions of (seed, step)). */
static void test_sigkill_resume_bitwise(void **state) {
    (void)state;
    const int steps = 60;
    const char *ref = tmp_path("run_ref");
    assert_int_equal(tu_sh("%s --out %s --steps %d --save-every 6 --chunk 5 --threads 1",
                           base_args(), ref, steps), 0);
    char run[512], cmd[8192], ck[600];
    snprintf(run, sizeof run, "%s/run_kill", tu_tmpdir());
    snprintf(cmd, sizeof cmd, "exec %s --out %s --steps %d --save-every 6 --chunk 5 --threads 1",
             base_args(), run, steps);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    snprintf(ck, sizeof ck, "%s/checkpoint-12/trainer_state.json", run);
    struct timespec ts = {0, 500000};
    for (int i = 0; i < 40000 && access(ck, F_OK) != 0; i++) nanosleep(&ts, NULL);
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    int done_before = log_lines(run);
    print_message("killed after %d logged steps\n", done_before);
    assert_true(WIFSIGNALED(status));
    assert_true(done_before < steps);
    assert_false(tu_exists(tu_join(run, "final")));
    int rc = tu_sh("%s --out %s --steps %d --save-every 6 --chunk 5 --threads 1 --resume",
                   base_args(), run, steps);
    if (rc) print_message("%s", tu_last_err());
    assert_int_equal(rc, 0);
    assert_true(same_file(file_in(ref, "final", "model.safetensors"),
                          file_in(run, "final", "model.safetensors")));
    char ckn[32];
    snprintf(ckn, sizeof ckn, "checkpoint-%d", steps);
    assert_true(same_file(file_in(ref, ckn, "optimizer.safetensors"),
                          file_in(run, ckn, "optimizer.safetensors")));
    assert_int_equal(log_lines(run), steps);
    for (int s = 1; s <= steps; s += 7) assert_true(log_loss(run, s) == log_loss(ref, s));
}

static void test_threads_same_bytes(void **state) {
    (void)state;
    const char *r1 = tmp_path("run_t1"), *r2 = tmp_path("run_t2");
    assert_int_equal(tu_sh("%s --out %s --steps 8 --chunk 3 --threads 1", base_args(), r1), 0);
    assert_int_equal(tu_sh("%s --out %s --steps 8 --chunk 3 --threads 2", base_args(), r2), 0);
    assert_true(same_file(file_in(r1, "final", "model.safetensors"),
                          file_in(r2, "final", "model.safetensors")));
}

/* Two-stage GradCache through the command: chunks of 3 follow the whole
 * batch's loss curve (1e-4 after 10 steps: per-step gradients agree to
 * ~1e-6 and AdamW compounds the rounding). */
static void test_gradcache_run(void **state) {
    (void)state;
    const char *r0 = tmp_path("run_c0"), *r3 = tmp_path("run_c3");
    assert_int_equal(tu_sh("%s --out %s --steps 10 --threads 1", base_args(), r0), 0);
    assert_int_equal(tu_sh("%s --out %s --steps 10 --threads 1 --chunk 3", base_args(), r3), 0);
    for (int s = 1; s <= 10; s++) {
        double a = log_loss(r0, s), b = log_loss(r3, s);
        assert_true(fabs(a - b) <= 1e-4 * fabs(a));
    }
}

/* --init with a plain BERT folder (both stages copied from it) and with a
 * contextual folder (continued), and evaluation during training with the
 * context drawn from the BEIR corpus. */
static void test_init_and_eval(void **state) {
    (void)state;
    const char *fx = fixture();
    const char *bi = tmp_path("run_bi");
    assert_int_equal(tu_sh("%s train --pairs %s/pairs.jsonl --plan %s/plan --config %s/config.json"
                           " --vocab %s/vocab.txt --out %s --steps 2 --quiet --threads 1",
                           tu_strata(), fx, fx, fx, fx, bi), 0);
    const char *run = tmp_path("run_init");
    int rc = tu_sh("%s train --contextual --context-size 4 --pairs %s/pairs.jsonl --plan %s/plan"
                   " --init %s/final --out %s --steps 4 --quiet --threads 1 --eval-beir %s/beir"
                   " --eval-every 2", tu_strata(), fx, fx, bi, run, fx);
    if (rc) print_message("%s", tu_last_err());
    assert_int_equal(rc, 0);
    char *t = tu_read(tu_join(run, "log.jsonl"), NULL);
    assert_non_null(strstr(t, "{\"step\":0,\"ndcg@10\":"));
    int n = 0;
    for (char *p = t; (p = strstr(p, "\"ndcg@10\":")); p++, n++) {
        double v = strtod(p + 10, NULL);
        assert_true(v >= 0.0 && v <= 1.0);
    }
    assert_int_equal(n, 3);
    free(t);
    const char *run2 = tmp_path("run_init2");
    rc = tu_sh("%s train --contextual --pairs %s/pairs.jsonl --plan %s/plan --init %s/final"
               " --out %s --steps 2 --quiet --threads 1", tu_strata(), fx, fx, run, run2);
    assert_int_equal(rc, 0);
    /* a contextual folder keeps its J; asking for another one is an error */
    rc = tu_sh("%s train --contextual --context-size 5 --pairs %s/pairs.jsonl --plan %s/plan"
               " --init %s/final --out %s_x --steps 2 --quiet", tu_strata(), fx, fx, run, run2);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(tu_last_err(), "J = 4"));
}

/* ------------------------------------------------------------------------ */
/* Embedding and evaluation                                                  */
/* ------------------------------------------------------------------------ */

static const char *trained_model(void) {
    static char dir[600];
    if (dir[0]) return dir;
    const char *run = tmp_path("run_model");
    assert_int_equal(tu_sh("%s --out %s --steps 6 --threads 1 --context-size 5", base_args(),
                           run), 0);
    snprintf(dir, sizeof dir, "%s/final", run);
    return dir;
}

static int count_lines(const char *path) {
    char *t = tu_read(path, NULL);
    if (!t) return -1;
    int n = 0;
    for (char *p = t; *p; p++) n += *p == '\n';
    free(t);
    return n;
}

/* Last line of stdout of the previous command ("ndcg@10 ..."). */
static char *summary(void) {
    static char b[512];
    snprintf(b, sizeof b, "%s", tu_last_out());
    return b;
}

static void test_embed_context_and_eval(void **state) {
    (void)state;
    const char *fx = fixture(), *model = trained_model();
    char out[600], beir[600];
    snprintf(out, sizeof out, "%s/emb", tu_tmpdir());
    snprintf(beir, sizeof beir, "%s/beir", fx);
    mkdir(out, 0755);
    int rc = tu_sh("%s embed --contextual %s --context %s --input %s --out %s/c.npy --quiet",
                   tu_strata(), model, beir, beir, out);
    if (rc) print_message("%s", tu_last_err());
    assert_int_equal(rc, 0);
    strata_mat e;
    strata_error err;
    assert_int_equal(strata_mat_load(&e, tu_join(out, "context.npy"), &err), STRATA_OK);
    assert_int_equal(e.rows, 5); /* the model's J */
    assert_int_equal(e.cols, C);
    strata_mat_free(&e);
    assert_int_equal(count_lines(tu_join(out, "context.ids.txt")), 5);
    /* queries with the stored context; eval over both files equals eval
     * --model (which draws the same context from the corpus: same seed) */
    rc = tu_sh("%s embed --contextual %s --context %s/context.npy --input %s --field queries"
               " --out %s/q.npy --quiet", tu_strata(), model, out, beir, out);
    assert_int_equal(rc, 0);
    assert_int_equal(tu_sh("%s eval --beir %s --corpus-emb %s/c.npy --query-emb %s/q.npy --quiet"
                           " --run-out %s/a.trec", tu_strata(), beir, out, out, out), 0);
    char a[512];
    snprintf(a, sizeof a, "%s", summary());
    assert_int_equal(tu_sh("%s eval --beir %s --model %s --quiet --run-out %s/b.trec", tu_strata(),
                           beir, model, out), 0);
    print_message("embed + eval: %seval --model: %s", a, summary());
    assert_string_equal(a, summary());
    /* the same scores, to the last digit of the run file */
    char ra[700], rb[700];
    snprintf(ra, sizeof ra, "%s/a.trec", out);
    snprintf(rb, sizeof rb, "%s/b.trec", out);
    assert_true(same_file(ra, rb));
    /* the null context and another corpus give other embeddings */
    rc = tu_sh("%s embed --contextual %s --context null --input %s --out %s/null/c.npy --quiet",
               tu_strata(), model, beir, out);
    assert_int_not_equal(rc, 0); /* the output folder does not exist */
    char nd[700];
    snprintf(nd, sizeof nd, "%s/null", out);
    mkdir(nd, 0755);
    rc = tu_sh("%s embed --contextual %s --context null --input %s --out %s/c.npy --quiet",
               tu_strata(), model, beir, nd);
    assert_int_equal(rc, 0);
    assert_false(tu_exists(tu_join(nd, "context.npy"))); /* nothing to store */
    strata_mat x, y;
    assert_int_equal(strata_mat_load(&x, tu_join(out, "c.npy"), &err), 0);
    assert_int_equal(strata_mat_load(&y, tu_join(nd, "c.npy"), &err), 0);
    assert_int_equal(x.rows, 12);
    double d = 0;
    for (int i = 0; i < 12 * C; i++) d = fmax(d, fabs(x.data[i] - y.data[i]));
    assert_true(d > 1e-4);
    strata_mat_free(&x);
    strata_mat_free(&y);
    assert_int_equal(tu_sh("%s eval --beir %s --model %s --context null --quiet", tu_strata(),
                           beir, model), 0);
    assert_int_equal(tu_sh("%s eval --beir %s --model %s --context %s/pairs.jsonl --quiet",
                           tu_strata(), beir, model, fx), 0);
}

/* A corpus with fewer than J documents is oversampled: 12 documents for
 * J = 30, each 2 or 3 times; a pairs file gives "pair N" ids. */
static void test_oversampling_policy(void **state) {
    (void)state;
    const char *fx = fixture(), *model = trained_model();
    char out[600];
    snprintf(out, sizeof out, "%s/over", tu_tmpdir());
    mkdir(out, 0755);
    int rc = tu_sh("%s embed --contextual %s --context %s/beir --context-size 30 --input %s/beir"
                   " --out %s/c.npy --quiet", tu_strata(), model, fx, fx, out);
    if (rc) print_message("%s", tu_last_err());
    assert_int_equal(rc, 0);
    char *t = tu_read(tu_join(out, "context.ids.txt"), NULL);
    int counts[12] = {0}, lines = 0;
    for (char *p = strtok(t, "\n"); p; p = strtok(NULL, "\n"), lines++) {
        int d = -1;
        assert_int_equal(sscanf(p, "d%d", &d), 1);
        counts[d]++;
    }
    free(t);
    assert_int_equal(lines, 30);
    for (int i = 0; i < 12; i++) assert_true(counts[i] == 2 || counts[i] == 3);
    rc = tu_sh("%s embed --contextual %s --context %s/pairs.jsonl --input %s/beir --out %s/p.npy"
               " --quiet", tu_strata(), model, fx, fx, out);
    assert_int_equal(rc, 0);
    t = tu_read(tu_join(out, "context.ids.txt"), NULL);
    assert_true(strncmp(t, "pair ", 5) == 0);
    free(t);
}

/* ------------------------------------------------------------------------ */
/* Bad input                                                                 */
/* ------------------------------------------------------------------------ */

static void test_bad_input(void **state) {
    (void)state;
    const char *fx = fixture(), *model = trained_model();
    const char *run = tmp_path("run_bad");
    char beir[600], out[600];
    snprintf(beir, sizeof beir, "%s/beir", fx);
    snprintf(out, sizeof out, "%s/bad", tu_tmpdir());
    mkdir(out, 0755);
    /* train: options that need --contextual, out-of-range values */
    int rc = tu_sh("%s train --pairs %s/pairs.jsonl --plan %s/plan --config %s/config.json"
                   " --vocab %s/vocab.txt --out %s --context-size 4", tu_strata(), fx, fx, fx, fx,
                   run);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(tu_last_err(), "--contextual"));
    assert_int_equal(tu_sh("%s --out %s --seq-dropout 1.5", base_args(), run), 2);
    assert_non_null(strstr(tu_last_err(), "--seq-dropout"));
    assert_int_equal(tu_sh("%s --out %s --pool cls", base_args(), run), 2);
    assert_int_equal(tu_sh("%s --out %s --max-len 100", base_args(), run), 2);
    assert_non_null(strstr(tu_last_err(), "max_position"));
    /* the contextual model is fp32 only: bf16 asked of train, embed or eval
     * is a usage error (auto means fp32 there) */
    assert_int_equal(tu_sh("%s --out %s --precision bf16", base_args(), run), 2);
    assert_non_null(strstr(tu_last_err(), "fp32"));
    assert_false(tu_exists(tu_join(run, "final")));
    rc = tu_sh("%s embed --contextual %s --context null --precision bf16 --input %s --out "
               "%s/x.npy", tu_strata(), model, beir, out);
    assert_int_equal(rc, 2);
    rc = tu_sh("%s eval --beir %s --model %s --precision bf16", tu_strata(), beir, model);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(tu_last_err(), "fp32"));
    /* embed: --contextual needs --context; a contextual folder is not a --model */
    rc = tu_sh("%s embed --contextual %s --input %s --out %s/x.npy", tu_strata(), model, beir, out);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(tu_last_err(), "--context"));
    rc = tu_sh("%s embed --model %s --input %s --out %s/x.npy", tu_strata(), model, beir, out);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(tu_last_err(), "contextual model"));
    rc = tu_sh("%s embed --model hash --context null --input %s --out %s/x.npy", tu_strata(), beir,
               out);
    assert_int_equal(rc, 2);
    /* a stored context of the wrong width names the file */
    float bad[3 * 7] = {0};
    int64_t sh[2] = {3, 7};
    strata_error err;
    assert_int_equal(strata_npy_save(tu_join(out, "wrong.npy"), STRATA_DTYPE_F32, 2, sh, bad, &err), 0);
    rc = tu_sh("%s embed --contextual %s --context %s/wrong.npy --input %s --out %s/x.npy --quiet",
               tu_strata(), model, out, beir, out);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(tu_last_err(), "wrong.npy"));
    rc = tu_sh("%s embed --contextual %s --context %s/nothing --input %s --out %s/x.npy --quiet",
               tu_strata(), model, out, beir, out);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(tu_last_err(), "nothing"));
    assert_false(tu_exists(tu_join(out, "x.npy")));
    assert_false(tu_exists(tu_join(out, "context.npy")));
    assert_int_equal(tu_count_files(out, ".tmp"), 0);
    /* eval: --context needs a contextual model */
    rc = tu_sh("%s eval --beir %s --model hash --context null", tu_strata(), beir);
    assert_int_equal(rc, 2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_train_log_checkpoints_folder),
        cmocka_unit_test(test_sigkill_resume_bitwise),
        cmocka_unit_test(test_threads_same_bytes),
        cmocka_unit_test(test_gradcache_run),
        cmocka_unit_test(test_init_and_eval),
        cmocka_unit_test(test_embed_context_and_eval),
        cmocka_unit_test(test_oversampling_policy),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
