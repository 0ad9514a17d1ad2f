/*
 * test_harden.c — failures that used to pass silently, across commands
 * (issue #15): output that cannot be written is an error, whatever the
 * command. Each test failed on the code before its fix.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

/* A small synthetic corpus, its hash embeddings and a random plan, made
 * once with the real commands. */
static char g_fx[512];

static const char *fixture(void) {
    if (g_fx[0]) return g_fx;
    snprintf(g_fx, sizeof g_fx, "%s/fx", tu_tmpdir());
    const char *S = tu_strata();
    if (tu_sh("%s synth --topics 4 --pairs-per-topic 8 --test-queries 20 --corpus 100 --quiet "
              "--out %s", S, g_fx) ||
        tu_sh("%s embed --model hash --input %s/pairs.jsonl --field query --dim 32 --quiet "
              "--out %s/q.npy", S, g_fx, g_fx) ||
        tu_sh("%s embed --model hash --input %s/pairs.jsonl --field positive --dim 32 --quiet "
              "--out %s/d.npy", S, g_fx, g_fx) ||
        tu_sh("%s plan --pairs %s/pairs.jsonl --batch-size 8 --strategy random --quiet "
              "--out %s/plan", S, g_fx, g_fx))
        fail_msg("fixture: %s", tu_last_err());
    tu_write_str(tu_join(g_fx, "vocab.txt"), "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\n");
    return g_fx;
}

/* ------------------------------------------------------------------------ */
/* Write errors on standard output                                           */
/* ------------------------------------------------------------------------ */

/* Runs `strata ARGS > /dev/full`: exit 1 and a message about standard
 * output (issue #15: tokenize, inspect and hardness exited 0). */
static void expect_full(const char *args) {
    int rc = tu_sh("%s %s > /dev/full", tu_strata(), args);
    if (rc != 1) fail_msg("`strata %s > /dev/full` exited %d: %s", args, rc, tu_last_err());
    if (!strstr(tu_last_err(), "standard output"))
        fail_msg("`strata %s > /dev/full`: no message about standard output: %s", args,
                 tu_last_err());
}

static void test_stdout_full(void **state) {
    (void)state;
    if (access("/dev/full", W_OK) != 0) {
        print_message("skipped: /dev/full not available\n");
        skip();
    }
    const char *fx = fixture();
    char a[2048];
    snprintf(a, sizeof a, "tokenize --vocab %s/vocab.txt --input %s/beir/queries.jsonl", fx, fx);
    expect_full(a);
    snprintf(a, sizeof a, "inspect %s/pairs.jsonl --quiet", fx);
    expect_full(a);
    snprintf(a, sizeof a, "hardness --plan %s/plan --q %s/q.npy --d %s/d.npy --quiet", fx, fx, fx);
    expect_full(a);
    expect_full("--help");
    expect_full("plan --help");
    /* the same commands to a writable stdout succeed */
    snprintf(a, sizeof a, "%s inspect %s/pairs.jsonl --quiet > /dev/null", tu_strata(), fx);
    assert_int_equal(tu_sh("%s", a), 0);
}

/* ------------------------------------------------------------------------ */
/* Temporary files of killed runs                                            */
/* ------------------------------------------------------------------------ */

/* A pid that belonged to a process that has exited. */
static long dead_pid(void) {
    pid_t p = fork();
    assert_true(p >= 0);
    if (p == 0) _exit(0);
    int status;
    waitpid(p, &status, 0);
    return (long)p;
}

/* A killed run leaves OUT.tmp.<pid>.<n>; the next write of OUT removes the
 * ones whose process is gone, and only those (issue #15: `embed` runs
 * killed mid-way left them for good). */
static void test_stale_temp_files_removed(void **state) {
    (void)state;
    const char *fx = fixture();
    char dir[600], stale[700], stale2[700], live[700], other[700];
    snprintf(dir, sizeof dir, "%s/tmpfiles", tu_tmpdir());
    mkdir(dir, 0755);
    long dead = dead_pid();
    snprintf(stale, sizeof stale, "%s/q.npy.tmp.%ld.0", dir, dead);
    snprintf(stale2, sizeof stale2, "%s/q.ids.txt.tmp.%ld.3", dir, dead);
    snprintf(live, sizeof live, "%s/q.npy.tmp.%ld.1", dir, (long)getpid()); /* alive: kept */
    snprintf(other, sizeof other, "%s/r.npy.tmp.%ld.0", dir, dead); /* another output: kept */
    tu_write_str(stale, "half a matrix");
    tu_write_str(stale2, "half the ids");
    tu_write_str(live, "being written");
    tu_write_str(other, "not ours");
    int rc = tu_sh("%s embed --model hash --input %s/beir --field queries --dim 16 --quiet "
                   "--out %s/q.npy", tu_strata(), fx, dir);
    if (rc) fail_msg("%s", tu_last_err());
    assert_true(tu_exists(tu_join(dir, "q.npy")));
    assert_false(tu_exists(stale));
    assert_false(tu_exists(stale2));
    assert_true(tu_exists(live));
    assert_true(tu_exists(other));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stdout_full),
        cmocka_unit_test(test_stale_temp_files_removed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
