/*
 * test_cli_help.c — defaults are written once: `strata CMD --help` prints
 * the defaults of the library's parameter structs (not values parsed before
 * --help), and every option table row of docs/CMD.md that states a numeric
 * default states the one --help prints.
 */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strata/compare.h"
#include "strata/embedder.h"
#include "strata/eval.h"
#include "strata/kmeans.h"
#include "strata/train.h"
#include "testutil.h"

/* The "(default X)" --help prints for --opt of cmd, copied to out; 0 when
 * the option shows none. */
static int help_default(const char *cmd, const char *opt, char *out, size_t n) {
    assert_int_equal(tu_sh("%s %s --help", tu_strata(), cmd), 0);
    const char *h = tu_last_out();
    char key[64];
    snprintf(key, sizeof key, "  --%s ", opt);
    const char *line = strstr(h, key);
    if (!line) return 0;
    const char *end = strchr(line, '\n');
    const char *d = NULL;
    for (const char *p = line; p && p < end; p = strstr(p + 1, "(default "))
        if (strncmp(p, "(default ", 9) == 0) d = p + 9;
    if (!d || d >= end) return 0;
    const char *close = strchr(d, ')');
    snprintf(out, n, "%.*s", (int)(close - d), d);
    return 1;
}

static void expect_default(const char *cmd, const char *opt, double want) {
    char got[64];
    if (!help_default(cmd, opt, got, sizeof got))
        fail_msg("strata %s --help shows no default for --%s", cmd, opt);
    if (strtod(got, NULL) != want)
        fail_msg("strata %s --%s: --help says %s, the library's default is %g", cmd, opt, got,
                 want);
}

/* --help prints the parameter structs' defaults. */
static void test_help_prints_library_defaults(void **state) {
    (void)state;
    strata_embedder_params ep = strata_embedder_default_params();
    expect_default("embed", "dim", ep.hash.dim);
    expect_default("embed", "nnz", ep.hash.nnz);
    expect_default("embed", "batch-size", ep.embed.batch_size);
    /* --max-len: the model's (0), else STRATA_EMBED_DEFAULT_MAX_LEN, said in words */
    assert_int_equal(ep.embed.max_len, 0);
    char dflt[64], words[96];
    snprintf(words, sizeof words, "max_seq_length from sentence_bert_config.json, else %d)",
             STRATA_EMBED_DEFAULT_MAX_LEN);
    assert_int_equal(help_default("embed", "max-len", dflt, sizeof dflt), 0);
    assert_non_null(strstr(tu_last_out(), words));
    assert_int_equal(help_default("eval", "max-len", dflt, sizeof dflt), 0);
    assert_non_null(strstr(tu_last_out(), words));
    expect_default("eval", "k", strata_eval_default_options().k);
    strata_train_params tp = strata_train_default_params();
    expect_default("train", "tau", tp.tau);
    expect_default("train", "lr", tp.lr);
    expect_default("train", "max-len", tp.max_len);
    expect_default("train", "weight-decay", tp.weight_decay);
    expect_default("hardness", "tau", tp.tau);
    strata_kmeans_params kp = strata_kmeans_default_params();
    expect_default("cluster", "niter", kp.niter);
    expect_default("cluster", "nredo", kp.nredo);
    strata_compare_params cp = strata_compare_default_params();
    expect_default("compare", "bootstrap", (double)cp.n_bootstrap);
    expect_default("compare", "confidence", cp.confidence);
}

/* Values given before --help do not show as defaults. */
static void test_help_ignores_parsed_values(void **state) {
    (void)state;
    char got[64];
    assert_int_equal(tu_sh("%s train --tau 0.5 --max-len 7 --help", tu_strata()), 0);
    assert_true(help_default("train", "tau", got, sizeof got));
    assert_int_equal(tu_sh("%s train --tau 0.5 --max-len 7 --help", tu_strata()), 0);
    assert_null(strstr(tu_last_out(), "(default 0.5)"));
    assert_null(strstr(tu_last_out(), "(default 7)"));
    assert_non_null(strstr(tu_last_out(), got));
}

/* One row of a docs option table: 1 when it states a numeric default for
 * a single option whose --help shows a numeric default (and they agree),
 * else 0. */
static int check_row(const char *cmd, const char *docname, const char *line) {
    char opt[64];
    if (sscanf(line, "| `--%63[a-z0-9-]", opt) != 1) return 0;
    const char *cell_end = strchr(line + 1, '|');
    const char *second = strstr(line + 4, "--");
    if (!cell_end || (second && second < cell_end)) return 0; /* several options */
    const char *d = strstr(cell_end, "default");
    if (!d) return 0;
    d += 7;
    while (*d == ' ' || *d == ':' || *d == '`') d++;
    char want[64];
    if (!isdigit((unsigned char)*d) || !help_default(cmd, opt, want, sizeof want) ||
        !(isdigit((unsigned char)want[0]) || want[0] == '-'))
        return 0;
    char num[64]; /* digits, '.', 'e', '-'; "10,000" read as 10000 */
    size_t k = 0;
    for (; k < sizeof num - 1 && *d; d++) {
        if (*d == ',' && isdigit((unsigned char)d[1])) continue;
        if (!isdigit((unsigned char)*d) && !strchr(".e-", *d)) break;
        num[k++] = *d;
    }
    while (k && num[k - 1] == '.') k--; /* a sentence's full stop */
    num[k] = '\0';
    if (strtod(num, NULL) != strtod(want, NULL))
        fail_msg("docs/%s.md: --%s default %s, but strata %s --help says %s", docname, opt, num,
                 cmd, want);
    return 1;
}

/* Every row "| `--opt ...` | ... default N ..." of docs/CMD.md (one option
 * per row) agrees with --help's default for --opt when both are numbers. */
static void test_docs_agree_with_help(void **state) {
    (void)state;
    static const char *cmds[][2] = {{"embed", "embed"},     {"eval", "eval"},
                                    {"train", "train"},     {"cluster", "cluster"},
                                    {"plan", "plan"},       {"compare", "compare"},
                                    {"demo", "demo"},       {"hardness", "plan"}};
    int checked = 0;
    for (size_t c = 0; c < sizeof cmds / sizeof cmds[0]; c++) {
        char path[256];
        snprintf(path, sizeof path, "docs/%s.md", cmds[c][1]);
        char *doc = tu_read(path, NULL);
        assert_non_null(doc);
        for (char *line = doc; line && *line;) {
            char *nl = strchr(line, '\n');
            if (nl) *nl = '\0';
            checked += check_row(cmds[c][0], cmds[c][1], line);
            line = nl ? nl + 1 : NULL;
        }
        free(doc);
    }
    print_message("%d documented defaults checked against --help\n", checked);
    assert_true(checked >= 6);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help_prints_library_defaults),
        cmocka_unit_test(test_help_ignores_parsed_values),
        cmocka_unit_test(test_docs_agree_with_help),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
