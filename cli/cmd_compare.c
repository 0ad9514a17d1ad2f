/*
 * cmd_compare.c — `strata compare`: paired significance between two or more
 * runs (TREC run files scored against qrels, or per-query metrics JSON from
 * `strata eval --out`), seeds pooled per run.
 *
 *   strata compare [--qrels FILE | --beir DIR [--split S]] [NAME=]RUN[,RUN...] ...
 *       [--metric M]... [--baseline NAME | --all-pairs] [--bootstrap N]
 *       [--permutations N] [--confidence C] [--correction holm|bonferroni|none]
 *       [--across-metrics] [--ttest] [--allow-missing] [--out compare.json]
 */
#define _POSIX_C_SOURCE 200809L
#include "commands.h"
#include "compare_load.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strata/compare.h"
#include "strata/data.h"

/* ------------------------------------------------------------------------ */
/* Options                                                                   */
/* ------------------------------------------------------------------------ */

static const char *o_qrels, *o_beir, *o_split = "test", *o_baseline, *o_correction, *o_out;
static cli_strings o_metric;
static int64_t o_boot, o_perm;
static double o_conf;
static int o_all_pairs, o_across, o_ttest, o_allow_missing, o_ignore_ids, o_skip_unknown;

static const cli_opt opts[] = {
    {"qrels", CLI_STRING, &o_qrels, "FILE",
     "qrels (query-id corpus-id score), needed for run files; with --beir overrides its split", 0},
    {"beir", CLI_STRING, &o_beir, "DIR", "BEIR folder: its qrels/<split>.tsv, queries and corpus", 0},
    {"split", CLI_STRING, &o_split, "NAME", "qrels split of --beir (default test)", 0},
    {"metric", CLI_STRINGS, &o_metric, "M",
     "ndcg@10, recall@10, recall@100, mrr@10, map@100, or all; comma lists accepted "
     "(default ndcg@10,recall@100)",
     0},
    {"baseline", CLI_STRING, &o_baseline, "NAME", "run every other is compared with (default: the first)", 0},
    {"all-pairs", CLI_FLAG, &o_all_pairs, NULL, "compare every pair of runs instead", 0},
    {"bootstrap", CLI_INT64, &o_boot, "N", "bootstrap replicates", CLI_SHOW_DEFAULT},
    {"permutations", CLI_INT64, &o_perm, "N", "randomization-test sign flips", CLI_SHOW_DEFAULT},
    {"confidence", CLI_DOUBLE, &o_conf, "C", "interval level", CLI_SHOW_DEFAULT},
    {"correction", CLI_STRING, &o_correction, "NAME",
     "holm, bonferroni or none: correction of the p-values (default holm)", 0},
    {"across-metrics", CLI_FLAG, &o_across, NULL,
     "one correction family for all metrics (default: one per metric)", 0},
    {"ttest", CLI_FLAG, &o_ttest, NULL, "also show the paired t-test p-values (always in --out)", 0},
    {"allow-missing", CLI_FLAG, &o_allow_missing, NULL,
     "runs may retrieve different judged queries; a missing one scores 0", 0},
    {"ignore-identical-ids", CLI_FLAG, &o_ignore_ids, NULL,
     "drop retrieved documents whose id equals the query id (BEIR: ArguAna, Quora)", 0},
    {"skip-unknown", CLI_FLAG, &o_skip_unknown, NULL,
     "skip (and count) qrels/run lines naming unknown ids instead of failing", 0},
    {"out", CLI_STRING, &o_out, "PATH", "write everything as JSON here (atomically)", 0},
    {0}};

static const char description[] =
    "Each argument is a run: [NAME=]PATH, or NAME=PATH1,PATH2,... for several seeds of one run "
    "(their per-query values are averaged). A PATH is a TREC run file, scored against the "
    "qrels exactly as `strata eval --run` scores it (a judged query the run lacks scores 0), "
    "or a metrics JSON written by `strata eval --out` (its per_query values are used). For "
    "each metric it prints each run's mean with a bootstrap interval, and for each comparison "
    "(every run against the baseline, or --all-pairs) the mean paired difference over queries, "
    "its percentile bootstrap interval (queries resampled), the two-sided paired randomization "
    "(sign-flip) test p-value and its Holm (or Bonferroni) correction, the effect size d_z and "
    "how many queries improved, worsened or tied. --seed fixes every random draw; results do "
    "not depend on --threads. See docs/compare.md.";

extern const cli_command cmd_compare;

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */
/* ------------------------------------------------------------------------ */

/* --metric values into a mask; 0 on an unknown name (message printed). */
static unsigned parse_metrics(void) {
    if (o_metric.n == 0) return strata_compare_default_params().metrics;
    unsigned mask = 0;
    for (int i = 0; i < o_metric.n; i++) {
        char buf[256];
        snprintf(buf, sizeof buf, "%s", o_metric.v[i]);
        for (char *s = strtok(buf, ","); s; s = strtok(NULL, ",")) {
            if (strcmp(s, "all") == 0) {
                mask |= STRATA_METRICS_ALL;
                continue;
            }
            int m = strata_metric_parse(s);
            if (m < 0) {
                cli_usage_error(&cmd_compare,
                                "unknown metric '%s' (known: ndcg@10, recall@10, recall@100, "
                                "mrr@10, map@100, all)",
                                s);
                return 0;
            }
            mask |= STRATA_METRIC_BIT(m);
        }
    }
    return mask;
}

/* The comparison's defaults (strata_compare_default_params). */
static void defaults(void) {
    strata_compare_params p = strata_compare_default_params();
    o_boot = p.n_bootstrap;
    o_perm = p.n_permutations;
    o_conf = p.confidence;
}

/* Parameters from the options; returns CLI_OK or a usage exit code. */
static int make_params(const cli_env *env, const cmp_group *g, int n, strata_compare_params *p) {
    *p = strata_compare_default_params();
    p->metrics = parse_metrics();
    if (!p->metrics) return CLI_USAGE;
    p->n_bootstrap = o_boot;
    p->n_permutations = o_perm;
    p->confidence = o_conf;
    if (p->n_bootstrap < 1) return cli_usage_error(&cmd_compare, "--bootstrap must be >= 1");
    if (p->n_permutations < 1) return cli_usage_error(&cmd_compare, "--permutations must be >= 1");
    if (!(p->confidence > 0 && p->confidence < 1))
        return cli_usage_error(&cmd_compare, "--confidence must be in (0, 1), e.g. 0.95");
    if (o_correction) {
        int c = strata_correction_parse(o_correction);
        if (c < 0)
            return cli_usage_error(&cmd_compare,
                                   "unknown --correction '%s' (holm, bonferroni or none)",
                                   o_correction);
        p->correction = (strata_correction)c;
    }
    p->correct_across_metrics = o_across;
    p->all_pairs = o_all_pairs;
    p->seed = env->seed;
    p->progress = env->progress;
    if (o_baseline) {
        if (o_all_pairs)
            return cli_usage_error(&cmd_compare, "give --baseline or --all-pairs, not both");
        p->baseline = -1;
        for (int i = 0; i < n; i++)
            if (strcmp(g[i].name, o_baseline) == 0) p->baseline = i;
        if (p->baseline < 0)
            return cli_usage_error(&cmd_compare, "--baseline '%s' is not one of the runs' names",
                                   o_baseline);
    }
    return CLI_OK;
}

/* The qrels (and, with --beir, queries and corpus) into b. */
static strata_status load_qrels(const cli_env *env, strata_beir *b, strata_unknown_ids *udoc,
                                strata_error *err) {
    memset(b, 0, sizeof *b);
    strata_beir_options bo = strata_beir_default_options();
    bo.progress = env->progress;
    bo.unknown = o_skip_unknown ? STRATA_UNKNOWN_SKIP : STRATA_UNKNOWN_ERROR;
    strata_status st;
    if (o_beir) {
        bo.split = o_qrels ? NULL : o_split;
        st = strata_beir_load_ex(b, o_beir, &bo, err);
        if (!st && o_qrels) st = strata_beir_load_qrels(b, o_qrels, &bo, err);
        *udoc = bo.unknown;
    } else {
        bo.unknown = STRATA_UNKNOWN_ADD; /* the qrels define the ids */
        st = strata_beir_load_qrels(b, o_qrels, &bo, err);
        *udoc = STRATA_UNKNOWN_ADD;
    }
    if (!st && b->n_qrels == 0)
        st = strata_error_set(err, STRATA_EFORMAT, "%s: no judgments (empty qrels)",
                              o_qrels ? o_qrels : o_beir);
    if (!st && (b->n_skipped_query || b->n_skipped_doc))
        cli_info(env, "qrels: skipped %lld lines with unknown query-id, %lld with unknown "
                 "corpus-id", (long long)b->n_skipped_query, (long long)b->n_skipped_doc);
    return st;
}

/* ------------------------------------------------------------------------ */
/* Entry                                                                     */
/* ------------------------------------------------------------------------ */

static int compare_groups(const cli_env *env, cmp_group *g, int n) {
    strata_compare_params p;
    int rc = make_params(env, g, n, &p);
    if (rc) return rc;
    int need = cmp_need_qrels(g, n);
    if (need && !o_qrels && !o_beir)
        return cli_usage_error(&cmd_compare, "run files need --qrels FILE or --beir DIR");
    strata_error err;
    strata_beir b;
    memset(&b, 0, sizeof b);
    cmp_options co;
    memset(&co, 0, sizeof co);
    co.ignore_identical_ids = o_ignore_ids;
    co.skip_unknown = o_skip_unknown;
    co.allow_missing = o_allow_missing;
    strata_status st = STRATA_OK;
    if (o_qrels || o_beir) st = load_qrels(env, &b, &co.unknown_doc, &err);
    if (!st) st = cmp_load_all(env, &b, g, n, &co, &err);
    cmp_inputs in;
    memset(&in, 0, sizeof in);
    if (!st) st = cmp_inputs_make(&b, g, n, &in, &err);
    strata_compare_result r;
    memset(&r, 0, sizeof r);
    if (!st) {
        st = strata_compare(in.groups, n, in.nq, in.ids, &p, &r, &err);
        /* the options were checked above: what remains is about the data */
        if (st == STRATA_EINVAL) err.status = st = STRATA_EFORMAT;
    }
    rc = st ? cli_fail(&err) : cmp_report(env, &r, o_ttest, o_out, &err);
    strata_compare_result_free(&r);
    cmp_inputs_free(&in);
    strata_beir_free(&b);
    return rc;
}

static int run(const cli_env *env, int npos, char **pos) {
    if (npos < 2)
        return cli_usage_error(&cmd_compare, "give at least 2 runs (got %d)", npos);
    cmp_group *g = calloc((size_t)npos, sizeof *g);
    if (!g) return cli_usage_error(&cmd_compare, "out of memory");
    int rc = CLI_OK;
    char msg[600];
    for (int i = 0; i < npos && !rc; i++) {
        if (cmp_parse_spec(pos[i], &g[i], msg, sizeof msg)) rc = cli_usage_error(&cmd_compare, "%s", msg);
        for (int j = 0; j < i && !rc; j++)
            if (strcmp(g[i].name, g[j].name) == 0)
                rc = cli_usage_error(&cmd_compare,
                                     "two runs are named '%s' (%s and %s): name them with "
                                     "NAME=PATH",
                                     g[i].name, pos[j], pos[i]);
    }
    if (!rc) rc = compare_groups(env, g, npos);
    for (int i = 0; i < npos; i++) cmp_group_free(&g[i]);
    free(g);
    return rc;
}

const cli_command cmd_compare = {
    "compare", "paired significance between runs: differences, bootstrap CIs, randomization tests",
    "[NAME=]RUN[,RUN...] [NAME=]RUN[,RUN...] ...", description, opts, run,
    defaults, 0};
