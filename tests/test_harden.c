/*
 * test_harden.c — failures that used to pass silently, across commands
 * (issue #15): output that cannot be written is an error, whatever the
 * command. Each test failed on the code before its fix.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stdout_full),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
