/*
 * cmd_plan.c — `strata plan`: batches of pair indices from a pairs file,
 * a cluster assignment and surrogate embeddings (see docs/plan.md).
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "commands.h"
#include "plan_input.h"
#include "strata/data.h"
#include "strata/io.h"
#include "strata/plan.h"

static const char *o_pairs = NULL;
static int64_t o_batch = 0;
static const char *o_strategy = NULL;
static const char *o_assign = NULL;
static const char *o_centroids = NULL;
static const char *o_order = "random";
static const char *o_fq = NULL;
static const char *o_fd = NULL;
static double o_margin;
static double o_threshold = NAN;
static const char *o_stages = NULL;
static int o_epochs;
static int o_drop_last = 0;
static int o_allow_dup = 0;
static const char *o_out = NULL;

static const cli_opt opts[] = {
    {"pairs", CLI_STRING, &o_pairs, "PAIRS", "pairs file (JSONL/TSV/.gz/.zst) or BEIR directory", CLI_REQUIRED},
    {"batch-size", CLI_INT64, &o_batch, "B", "pairs per batch", CLI_REQUIRED},
    {"strategy", CLI_STRING, &o_strategy, "S", "random | source | cluster (required unless --stages)", 0},
    {"assign", CLI_STRING, &o_assign, "PATH", "cluster assignment: assign.npy or a `strata cluster` output dir", 0},
    {"centroids", CLI_STRING, &o_centroids, "PATH", "centroids.npy [K, D] (default: next to assign.npy)", 0},
    {"order", CLI_STRING, &o_order, "O", "random | tsp: batch order within an epoch (default random)", 0},
    {"query-emb", CLI_STRING, &o_fq, "Q.npy", "surrogate query embeddings [N, D]: compute the false-negative mask", 0},
    {"doc-emb", CLI_STRING, &o_fd, "D.npy", "surrogate document embeddings [N, D]", 0},
    {"margin", CLI_DOUBLE, &o_margin, "M", "mask d_j for q_i when s(q_i,d_j) >= s(q_i,d_i) - M", CLI_SHOW_DEFAULT},
    {"threshold", CLI_DOUBLE, &o_threshold, "T", "instead mask when s(q_i,d_j) >= T (absolute)", 0},
    {"stages", CLI_STRING, &o_stages, "SPEC", "curriculum, e.g. random:0.3,cluster=k10/:0.3,cluster=s256/:0.4", 0},
    {"epochs", CLI_INT, &o_epochs, "E", "passes over the data", CLI_SHOW_DEFAULT},
    {"drop-last", CLI_FLAG, &o_drop_last, NULL, "drop leftovers instead of merging clusters / padding", 0},
    {"allow-duplicates", CLI_FLAG, &o_allow_dup, NULL, "do not enforce distinct query/positive texts per batch", 0},
    {"out", CLI_STRING, &o_out, "PLAN_DIR", "output directory (batches.npy, mask.npy, plan.json)", CLI_REQUIRED},
    {"filter-q", CLI_STRING, &o_fq, NULL, "query-emb", CLI_ALIAS},
    {"filter-d", CLI_STRING, &o_fd, NULL, "doc-emb", CLI_ALIAS},
    {0},
};

/* The planner's defaults (strata_plan_default_params). */
static void defaults(void) {
    strata_plan_params p = strata_plan_default_params();
    o_margin = p.margin;
    o_epochs = p.epochs;
}

static const char description[] =
    "Plans the minibatches of contrastive training: random (shuffled), source (every "
    "batch from one source) or cluster (every batch from one (source, cluster) of a "
    "`strata cluster` assignment). Big clusters are split into batches, leftovers "
    "merged along the nearest centroids of the same source (or dropped with "
    "--drop-last); no batch holds two pairs with the same query or positive text. "
    "With --query-emb/--doc-emb the false-negative mask of CDE Eq. 4 is written too. "
    "Outputs: PLAN_DIR/batches.npy (int64 [n_batches, B], -1 pads), mask.npy (uint8 "
    "[n_batches, B, ceil(B/8)], bit j of row i: document j excluded for query i, "
    "little-endian bit order) and plan.json, written last: a plan is complete iff "
    "plan.json exists.";

static const cli_command *self(void);

/* ------------------------------------------------------------------------ */
/* Run                                                                       */
/* ------------------------------------------------------------------------ */

static cJSON *params_json(uint64_t seed) {
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "pairs", o_pairs);
    cJSON_AddNumberToObject(p, "batch_size", (double)o_batch);
    if (o_strategy) cJSON_AddStringToObject(p, "strategy", o_strategy);
    if (o_assign) cJSON_AddStringToObject(p, "assign", o_assign);
    if (o_centroids) cJSON_AddStringToObject(p, "centroids", o_centroids);
    cJSON_AddStringToObject(p, "order", o_order);
    if (o_stages) cJSON_AddStringToObject(p, "stages", o_stages);
    cJSON_AddNumberToObject(p, "epochs", o_epochs);
    cJSON_AddBoolToObject(p, "drop_last", o_drop_last);
    cJSON_AddBoolToObject(p, "distinct_texts", !o_allow_dup);
    if (o_fq) {
        cJSON_AddStringToObject(p, "filter_q", o_fq);
        cJSON_AddStringToObject(p, "filter_d", o_fd);
        if (isnan(o_threshold)) {
            cJSON_AddStringToObject(p, "filter_rule", "s(q_i,d_j) >= s(q_i,d_i) - margin");
            cJSON_AddNumberToObject(p, "margin", o_margin);
        } else {
            cJSON_AddStringToObject(p, "filter_rule", "s(q_i,d_j) >= threshold");
            cJSON_AddNumberToObject(p, "threshold", o_threshold);
        }
    }
    cJSON_AddNumberToObject(p, "seed", (double)seed);
    return p;
}

/* The option checks (usage errors, exit 2): the single-stage strategy and
 * the batch order. */
static int check_options(strata_plan_strategy *strat, strata_plan_order *order) {
    const cli_command *cmd = self();
    *strat = STRATA_PLAN_RANDOM;
    if (!o_stages && !o_strategy)
        return cli_usage_error(cmd, "--strategy (random, source, cluster) or --stages is required");
    if (o_stages && (o_strategy || o_assign || o_centroids))
        return cli_usage_error(cmd, "--stages replaces --strategy/--assign/--centroids "
                                    "(give each stage its assignment: cluster=DIR)");
    if (o_strategy && strata_plan_strategy_parse(o_strategy, strat))
        return cli_usage_error(cmd, "unknown --strategy \"%s\" (random, source, cluster)", o_strategy);
    if (strata_plan_order_parse(o_order, order))
        return cli_usage_error(cmd, "unknown --order \"%s\" (random, tsp)", o_order);
    if (o_batch < 1) return cli_usage_error(cmd, "--batch-size must be >= 1");
    if (o_epochs < 1) return cli_usage_error(cmd, "--epochs must be >= 1");
    if (!o_fq != !o_fd) return cli_usage_error(cmd, "--query-emb and --doc-emb go together");
    static const char *const mask[] = {"margin", "threshold", NULL};
    int rc = o_fq ? CLI_OK : cli_reject(cmd, mask, "without --query-emb/--doc-emb (they set the "
                                        "false-negative mask)");
    if (rc) return rc;
    if (o_strategy && *strat == STRATA_PLAN_CLUSTER && !o_assign)
        return cli_usage_error(cmd, "--strategy cluster needs --assign");
    if (o_strategy && *strat != STRATA_PLAN_CLUSTER && (o_assign || o_centroids))
        return cli_usage_error(cmd, "--assign/--centroids only apply to --strategy cluster");
    return CLI_OK;
}

/* The planner's parameters from the options. */
static strata_plan_params plan_params(const cli_env *env, strata_plan_order order) {
    strata_plan_params p = strata_plan_default_params();
    p.batch_size = o_batch;
    p.epochs = o_epochs;
    p.drop_last = o_drop_last;
    p.order = order;
    p.filter = o_fq != NULL;
    p.margin = o_margin;
    p.use_threshold = !isnan(o_threshold);
    p.threshold = p.use_threshold ? o_threshold : 0;
    p.seed = env->seed;
    p.progress = env->progress;
    return p;
}

/* The summary lines of a plan written to o_out. */
static void report(const cli_env *env, const strata_plan *plan) {
    int64_t merged = 0, dl = 0, dd = 0, padded = 0;
    for (int s = 0; s < plan->n_stages; s++) {
        merged += plan->stages[s].merged_batches;
        dl += plan->stages[s].dropped_leftover;
        dd += plan->stages[s].dropped_duplicate;
        padded += plan->stages[s].padded_batches;
    }
    cli_info(env, "plan: %lld batches of %lld -> %s (%lld merged, %lld padded; dropped: %lld "
             "leftover, %lld duplicate)", (long long)plan->n_batches, (long long)plan->batch_size,
             o_out, (long long)merged, (long long)padded, (long long)dl, (long long)dd);
    if (plan->mask)
        cli_info(env, "plan: masked %.4f%% of in-batch negatives (%lld of %lld)",
                 plan->n_offdiag ? 100.0 * (double)plan->n_masked / (double)plan->n_offdiag : 0.0,
                 (long long)plan->n_masked, (long long)plan->n_offdiag);
}

static int run(const cli_env *env, int npos, char **pos) {
    (void)npos; (void)pos;
    strata_error err;
    strata_error_clear(&err);
    const cli_command *cmd = self();
    strata_plan_strategy strat;
    strata_plan_order order;
    int urc = check_options(&strat, &order);
    if (urc) return urc;

    strata_plan_spec_stage *spec = NULL;
    int nspec = 0;
    if (o_stages && strata_plan_spec_parse(o_stages, &spec, &nspec, &err))
        return cli_usage_error(cmd, "%s", err.msg);
    for (int s = 0; s < nspec; s++)
        if (spec[s].strategy == STRATA_PLAN_CLUSTER && !spec[s].path) {
            int rc = cli_usage_error(cmd, "--stages: stage %d \"%s\": cluster needs a path "
                                     "(cluster=DIR or cluster=assign.npy)", s + 1, spec[s].text);
            strata_plan_spec_free(spec, nspec);
            return rc;
        }

    int rc = CLI_FAIL;
    strata_pairs pairs;
    memset(&pairs, 0, sizeof pairs);
    strata_plan plan;
    memset(&plan, 0, sizeof plan);
    strata_plan_embeddings emb;
    memset(&emb, 0, sizeof emb);
    int ncl = nspec ? nspec : 1;
    strata_plan_clusters *cl = calloc((size_t)ncl, sizeof *cl);
    strata_plan_stage *stages = calloc((size_t)ncl, sizeof *stages);
    uint64_t *qh = NULL, *ph = NULL;
    cJSON *pj = NULL;
    char *pjs = NULL;
    if (!cl || !stages) { strata_error_set(&err, STRATA_ENOMEM, "out of memory"); goto fail; }

    if (strata_pairs_load(&pairs, o_pairs, &env->pairs, &err)) goto fail;
    const int64_t N = pairs.n;
    cli_info(env, "plan: %lld pairs, %d sources", (long long)N, pairs.n_sources);

    if (!o_allow_dup && cli_pair_hashes(&pairs, &qh, &ph, &err)) goto fail;
    if (o_fq && strata_plan_embeddings_load(&emb, o_fq, o_fd, N, &err)) goto fail;

    if (nspec) {
        for (int s = 0; s < nspec; s++) {
            stages[s].strategy = spec[s].strategy;
            stages[s].share = spec[s].share;
            stages[s].name = spec[s].text;
            if (spec[s].strategy != STRATA_PLAN_CLUSTER) continue;
            if (strata_plan_clusters_load(&cl[s], spec[s].path, NULL, N, &err)) goto fail;
        }
    } else {
        stages[0].strategy = strat;
        stages[0].share = 1;
        stages[0].name = o_strategy;
        if (strat == STRATA_PLAN_CLUSTER &&
            strata_plan_clusters_load(&cl[0], o_assign, o_centroids, N, &err))
            goto fail;
    }
    for (int s = 0; s < ncl; s++) cli_stage_clusters(&stages[s], &cl[s]);

    strata_plan_data data;
    cli_plan_data(&data, &pairs, qh, ph);
    data.fq = emb.q;
    data.fd = emb.d;
    data.fdim = emb.dim;
    strata_plan_params p = plan_params(env, order);
    if (strata_plan_build(&plan, &data, stages, ncl, &p, &err)) goto fail;

    pj = params_json(env->seed);
    cJSON *names = cJSON_AddArrayToObject(pj, "source_names");
    for (int s = 0; s < pairs.n_sources; s++)
        cJSON_AddItemToArray(names, cJSON_CreateString(pairs.source_names[s]));
    cJSON *files = cJSON_AddArrayToObject(pj, "assign_files");
    for (int s = 0; s < ncl; s++)
        cJSON_AddItemToArray(files, cl[s].assign_path ? cJSON_CreateString(cl[s].assign_path)
                                                      : cJSON_CreateNull());
    plan.pairs_fingerprint = strata_pairs_fingerprint(&pairs);
    pjs = cJSON_PrintUnformatted(pj);
    if (!pjs) { strata_error_set(&err, STRATA_ENOMEM, "out of memory"); goto fail; }
    if (strata_plan_save(&plan, o_out, pjs, &err)) goto fail;

    cli_progress_done(env);
    report(env, &plan);
    rc = CLI_OK;
    goto done;
fail:
    cli_progress_done(env);
    rc = cli_fail(&err);
done:
    if (cl)
        for (int s = 0; s < ncl; s++) strata_plan_clusters_free(&cl[s]);
    free(cl);
    free(stages);
    free(qh);
    free(ph);
    cJSON_Delete(pj);
    if (pjs) cJSON_free(pjs);
    strata_plan_embeddings_free(&emb);
    strata_plan_free(&plan);
    strata_pairs_free(&pairs);
    strata_plan_spec_free(spec, nspec);
    return rc;
}

const cli_command cmd_plan = {
    "plan", "plan minibatches: random / source / cluster, packing, TSP order, masks, curricula",
    NULL, description, opts, run, defaults, 1};

static const cli_command *self(void) { return &cmd_plan; }
