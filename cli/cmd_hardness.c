/*
 * cmd_hardness.c — `strata hardness`: how hard a plan's batches are under a
 * surrogate model, and a sweep over strategies, cluster sizes and batch
 * sizes (the table behind CDE Figure 6). See docs/plan.md.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "plan_input.h"
#include "strata/data.h"
#include "strata/io.h"
#include "strata/json.h"
#include "strata/kmeans.h"
#include "strata/plan.h"
#include "strata/train.h"

static const char *o_plan = NULL;
static const char *o_q = NULL;
static const char *o_d = NULL;
static double o_tau;
static const char *o_csv = NULL;
static const char *o_out = NULL;
static int64_t o_max = 0;
static int o_nomask = 0;
static int o_sweep = 0;
static const char *o_pairs = NULL;
static const char *o_bs = "32,64,128";
static const char *o_assign_list = NULL;
static const char *o_strategies = "random,source,cluster";
static const char *o_cluster_sizes = NULL;

static const cli_opt opts[] = {
    {"plan", CLI_STRING, &o_plan, "PLAN_DIR", "plan to measure (from `strata plan`)", 0},
    {"query-emb", CLI_STRING, &o_q, "Q.npy", "surrogate query embeddings [N, D]", CLI_REQUIRED},
    {"doc-emb", CLI_STRING, &o_d, "D.npy", "surrogate document embeddings [N, D]", CLI_REQUIRED},
    {"tau", CLI_DOUBLE, &o_tau, "T", "InfoNCE temperature (the trainer's, as in CDE)", CLI_SHOW_DEFAULT},
    {"csv", CLI_STRING, &o_csv, "FILE", "per-batch rows (plan mode) or the sweep table as CSV", 0},
    {"out", CLI_STRING, &o_out, "FILE.json", "summary as JSON", 0},
    {"max-batches", CLI_INT64, &o_max, "N", "measure the first N batches only (default all; sweep 1000)", 0},
    {"no-mask", CLI_FLAG, &o_nomask, NULL, "ignore the plan's false-negative mask", 0},
    {"sweep", CLI_FLAG, &o_sweep, NULL, "sweep strategies x cluster sizes x batch sizes (needs --pairs)", 0},
    {"pairs", CLI_STRING, &o_pairs, "PAIRS", "sweep: the pairs file the embeddings belong to", 0},
    {"batch-sizes", CLI_STRING, &o_bs, "LIST", "sweep: batch sizes (default 32,64,128)", 0},
    {"assign-list", CLI_STRING, &o_assign_list, "LIST", "sweep: assign.npy files or cluster dirs, comma-separated", 0},
    {"cluster-sizes", CLI_STRING, &o_cluster_sizes, "LIST", "sweep: cluster sizes to cluster for (asymmetric k-means of --q/--d per source)", 0},
    {"strategies", CLI_STRING, &o_strategies, "LIST", "sweep: strategies (default random,source,cluster)", 0},
    {"q", CLI_STRING, &o_q, NULL, "query-emb", CLI_ALIAS},
    {"d", CLI_STRING, &o_d, NULL, "doc-emb", CLI_ALIAS},
    {0},
};

static const char description[] =
    "Measures each batch of a plan with surrogate embeddings (cosine similarity): mean "
    "and max off-diagonal similarity (the raw difficulty of in-batch negatives), "
    "InfoNCE loss at temperature tau with the plan's mask applied, top-1 accuracy and "
    "the margin of the positive over the hardest unmasked negative. Prints the averages "
    "over batches; --csv writes one row per batch, --out the summary JSON (mean_loss, "
    "mean_top1, mean_offdiag_sim, ...). With --sweep it plans the pairs itself for "
    "every strategy x assignment x batch size and prints the table behind CDE Figure 6 "
    "(difficulty of in-batch negatives vs cluster size and batch size).";

static const cli_command *self(void);

/* ------------------------------------------------------------------------ */
/* Plan mode                                                                 */
/* ------------------------------------------------------------------------ */

static cJSON *summary_json(const strata_hardness_summary *s) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "n_batches", (double)s->n_batches);
    cJSON_AddNumberToObject(o, "tau", s->tau);
    cJSON_AddBoolToObject(o, "masked", s->masked);
    cJSON_AddNumberToObject(o, "mean_loss", s->mean_loss);
    cJSON_AddNumberToObject(o, "mean_top1", s->mean_top1);
    cJSON_AddNumberToObject(o, "mean_offdiag_sim", s->mean_offdiag_sim);
    cJSON_AddNumberToObject(o, "mean_max_offdiag_sim", s->mean_max_offdiag);
    cJSON_AddNumberToObject(o, "mean_margin", s->mean_margin);
    return o;
}

static strata_status write_csv_batches(const char *path, const strata_plan *plan,
                                       const strata_hardness_batch *hb, int64_t nb,
                                       strata_error *err) {
    strata_atomic a;
    strata_status st = strata_atomic_open(&a, path, err);
    if (st) return st;
    fprintf(a.fp, "batch,n,source,cluster,mean_offdiag_sim,max_offdiag_sim,loss,top1,margin\n");
    for (int64_t b = 0; b < nb; b++)
        fprintf(a.fp, "%lld,%lld,%d,%d,%.6f,%.6f,%.6f,%.6f,%.6f\n", (long long)b,
                (long long)hb[b].n, plan->batch_source ? plan->batch_source[b] : -1,
                plan->batch_cluster ? plan->batch_cluster[b] : -1, hb[b].mean_offdiag,
                hb[b].max_offdiag, hb[b].loss, hb[b].top1, hb[b].margin);
    return strata_atomic_commit(&a, err);
}

static int run_plan(const cli_env *env) {
    strata_error err;
    strata_error_clear(&err);
    strata_plan plan;
    strata_plan_embeddings emb;
    memset(&emb, 0, sizeof emb);
    strata_hardness_batch *hb = NULL;
    cJSON *root = NULL;
    int rc = CLI_FAIL;
    if (strata_plan_load(&plan, o_plan, &err)) return cli_fail(&err);
    if (strata_plan_embeddings_load(&emb, o_q, o_d, plan.n_pairs, &err)) goto fail;
    int64_t nb = o_max > 0 && o_max < plan.n_batches ? o_max : plan.n_batches;
    hb = calloc((size_t)nb, sizeof *hb);
    if (!hb) { strata_error_set(&err, STRATA_ENOMEM, "out of memory"); goto fail; }
    strata_hardness_summary sum;
    if (strata_hardness_compute(&plan, emb.q, emb.d, emb.n, emb.dim, o_tau, !o_nomask, o_max, hb,
                                &sum, &err))
        goto fail;
    if (o_csv && write_csv_batches(o_csv, &plan, hb, nb, &err)) goto fail;
    if (o_out) {
        root = summary_json(&sum);
        cJSON_AddStringToObject(root, "plan", o_plan);
        cJSON_AddStringToObject(root, "q", o_q);
        cJSON_AddStringToObject(root, "d", o_d);
        cJSON_AddNumberToObject(root, "batch_size", (double)plan.batch_size);
        if (strata_json_write(o_out, root, &err)) goto fail;
    }
    cli_progress_done(env);
    printf("batches %lld  B %lld  tau %g  mask %s\n", (long long)sum.n_batches,
           (long long)plan.batch_size, sum.tau, sum.masked ? "applied" : "none");
    printf("mean_loss %.4f  mean_top1 %.4f  mean_offdiag_sim %.4f  mean_max_offdiag_sim %.4f  "
           "mean_margin %.4f\n", sum.mean_loss, sum.mean_top1, sum.mean_offdiag_sim,
           sum.mean_max_offdiag, sum.mean_margin);
    rc = CLI_OK;
    goto done;
fail:
    rc = cli_fail(&err);
done:
    cJSON_Delete(root);
    free(hb);
    strata_plan_embeddings_free(&emb);
    strata_plan_free(&plan);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Sweep mode                                                                */
/* ------------------------------------------------------------------------ */

/* Splits a comma list into at most cap owned strings; -1 when too many. */
static int split_list(const char *s, char **out, int cap) {
    int n = 0;
    while (s && *s) {
        const char *e = strchr(s, ',');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (len) {
            if (n == cap) return -1;
            out[n++] = strata_strndup(s, len);
        }
        if (!e) break;
        s = e + 1;
    }
    return n;
}

typedef struct sweep_row {
    const char *strategy;
    const char *assign;      /* NULL unless cluster */
    double cluster_size;     /* mean pairs per (source, cluster); source: per source */
    int64_t B;
    strata_hardness_summary s;
    int64_t n_batches_plan;
} sweep_row;

static char *g_bs[64], *g_as[64], *g_ss[8], *g_cs[64];
static int g_nbs, g_nas, g_nss, g_ncs;

static void free_lists(void) {
    for (int i = 0; i < g_nbs; i++) strata_free(g_bs[i]);
    for (int i = 0; i < g_nas; i++) strata_free(g_as[i]);
    for (int i = 0; i < g_nss; i++) strata_free(g_ss[i]);
    for (int i = 0; i < g_ncs; i++) strata_free(g_cs[i]);
    g_nbs = g_nas = g_nss = g_ncs = 0;
}

/* Asymmetric k-means of (q, d) per source with K = ceil(n_source / size):
 * the assignment `strata cluster --query-emb Q --doc-emb D --per-source
 * --cluster-size size` would write, computed in memory. */
static strata_status cluster_for_size(strata_plan_clusters *out, const strata_plan_embeddings *e,
                                      const strata_pairs *pairs, int64_t size, uint64_t seed,
                                      strata_progress prog, strata_error *err) {
    memset(out, 0, sizeof *out);
    strata_kmeans_input in;
    memset(&in, 0, sizeof in);
    in.n_global = in.n_local = e->n;
    in.nparts = 2;
    in.x[0] = e->q;
    in.x[1] = e->d;
    in.dim[0] = in.dim[1] = e->dim;
    in.source = pairs->source;
    in.n_sources = pairs->n_sources;
    strata_kmeans_params kp = strata_kmeans_default_params();
    kp.cluster_size = size;
    kp.seed = seed;
    kp.progress = prog;
    strata_kmeans_result r;
    strata_status st = strata_kmeans_fit(&r, &in, &kp, err);
    if (st) return st;
    out->n = e->n;
    out->assign = r.assign;
    r.assign = NULL;
    out->k = r.k;
    out->centroids = r.centroids;
    r.centroids = NULL;
    out->cdim = r.dim;
    char name[64];
    snprintf(name, sizeof name, "kmeans:%lld", (long long)size);
    out->assign_path = strata_strdup(name);
    strata_kmeans_result_free(&r);
    return STRATA_OK;
}

static int sweep_usage(const char *msg, const char *arg) {
    int rc = cli_usage_error(self(), msg, arg ? arg : "");
    free_lists();
    return rc;
}

/* The sweep's table on stdout, then the --csv and --out files. */
static strata_status sweep_report(const sweep_row *rows, int nrows, int64_t maxb,
                                  strata_error *err) {
    printf("%-8s %-28s %10s %6s %8s %9s %9s %9s %9s %9s\n", "strategy", "assign", "group_size",
           "B", "batches", "offdiag", "max_off", "loss", "top1", "margin");
    for (int i = 0; i < nrows; i++) {
        const sweep_row *r = &rows[i];
        printf("%-8s %-28.28s %10.1f %6lld %8lld %9.4f %9.4f %9.4f %9.4f %9.4f\n", r->strategy,
               r->assign ? r->assign : "-", r->cluster_size, (long long)r->B,
               (long long)r->s.n_batches, r->s.mean_offdiag_sim, r->s.mean_max_offdiag,
               r->s.mean_loss, r->s.mean_top1, r->s.mean_margin);
    }
    if (o_csv) {
        strata_atomic f;
        strata_status st = strata_atomic_open(&f, o_csv, err);
        if (st) return st;
        fprintf(f.fp, "strategy,assign,group_size,batch_size,batches_measured,batches_planned,"
                      "mean_offdiag_sim,mean_max_offdiag_sim,mean_loss,mean_top1,mean_margin\n");
        for (int i = 0; i < nrows; i++) {
            const sweep_row *r = &rows[i];
            fprintf(f.fp, "%s,%s,%.3f,%lld,%lld,%lld,%.6f,%.6f,%.6f,%.6f,%.6f\n", r->strategy,
                    r->assign ? r->assign : "", r->cluster_size, (long long)r->B,
                    (long long)r->s.n_batches, (long long)r->n_batches_plan,
                    r->s.mean_offdiag_sim, r->s.mean_max_offdiag, r->s.mean_loss, r->s.mean_top1,
                    r->s.mean_margin);
        }
        if ((st = strata_atomic_commit(&f, err))) return st;
    }
    if (o_out) {
        cJSON *root = cJSON_CreateObject();
        cJSON_AddStringToObject(root, "pairs", o_pairs);
        cJSON_AddNumberToObject(root, "tau", o_tau);
        cJSON_AddNumberToObject(root, "max_batches", (double)maxb);
        cJSON *arr = cJSON_AddArrayToObject(root, "rows");
        for (int i = 0; i < nrows; i++) {
            cJSON *o = summary_json(&rows[i].s);
            cJSON_AddStringToObject(o, "strategy", rows[i].strategy);
            if (rows[i].assign) cJSON_AddStringToObject(o, "assign", rows[i].assign);
            cJSON_AddNumberToObject(o, "group_size", rows[i].cluster_size);
            cJSON_AddNumberToObject(o, "batch_size", (double)rows[i].B);
            cJSON_AddItemToArray(arr, o);
        }
        strata_status st = strata_json_write(o_out, root, err);
        cJSON_Delete(root);
        if (st) return st;
    }
    return STRATA_OK;
}

static int run_sweep(const cli_env *env) {
    if (!o_pairs) return cli_usage_error(self(), "--sweep needs --pairs");
    char **bs_s = g_bs, **as = g_as, **ss = g_ss;
    int nbs = g_nbs = split_list(o_bs, g_bs, 64);
    if (nbs < 0) { g_nbs = 64; return sweep_usage("--batch-sizes: at most 64 sizes%s", NULL); }
    int nas = g_nas = split_list(o_assign_list, g_as, 64);
    if (nas < 0) { g_nas = 64; return sweep_usage("--assign-list: at most 64 entries%s", NULL); }
    int nss = g_nss = split_list(o_strategies, g_ss, 8);
    if (nss < 0) { g_nss = 8; return sweep_usage("--strategies: at most 8 entries%s", NULL); }
    int ncs = g_ncs = split_list(o_cluster_sizes, g_cs, 64);
    if (ncs < 0) { g_ncs = 64; return sweep_usage("--cluster-sizes: at most 64 sizes%s", NULL); }
    if (nas + ncs > 64) return sweep_usage("--assign-list + --cluster-sizes: at most 64%s", NULL);
    int64_t csz[64];
    for (int i = 0; i < ncs; i++) {
        char *e;
        long long v = strtoll(g_cs[i], &e, 10);
        if (*e || v < 1) return sweep_usage("--cluster-sizes: \"%s\" is not a size >= 1", g_cs[i]);
        csz[i] = v;
    }
    if (nbs == 0) return sweep_usage("--batch-sizes: give at least one size%s", NULL);
    if (nss == 0) return sweep_usage("--strategies: give at least one strategy%s", NULL);
    int64_t bsz[64];
    for (int i = 0; i < nbs; i++) {
        char *e;
        long long v = strtoll(bs_s[i], &e, 10);
        if (*e || v < 2) return sweep_usage("--batch-sizes: \"%s\" is not a size >= 2", bs_s[i]);
        bsz[i] = v;
    }
    strata_plan_strategy strat[8];
    int has_cluster = 0;
    for (int i = 0; i < nss; i++) {
        if (strata_plan_strategy_parse(ss[i], &strat[i]))
            return sweep_usage("--strategies: unknown \"%s\" (random, source, cluster)", ss[i]);
        has_cluster |= strat[i] == STRATA_PLAN_CLUSTER;
    }
    if (has_cluster && nas + ncs <= 0)
        return sweep_usage("the cluster strategy needs --assign-list or --cluster-sizes%s", NULL);

    strata_error err;
    strata_error_clear(&err);
    int rc = CLI_FAIL;
    strata_pairs pairs;
    memset(&pairs, 0, sizeof pairs);
    strata_plan_embeddings emb;
    memset(&emb, 0, sizeof emb);
    strata_plan_clusters cl[64];
    memset(cl, 0, sizeof cl);
    uint64_t *qh = NULL, *ph = NULL;
    sweep_row *rows = calloc((size_t)(nss * (nas + ncs > 0 ? nas + ncs : 1) * nbs), sizeof *rows);
    int nrows = 0;
    if (!rows) { strata_error_set(&err, STRATA_ENOMEM, "out of memory"); goto fail; }
    if (strata_pairs_load(&pairs, o_pairs, &env->pairs, &err)) goto fail;
    const int64_t N = pairs.n;
    if (strata_plan_embeddings_load(&emb, o_q, o_d, N, &err)) goto fail;
    if (cli_pair_hashes(&pairs, &qh, &ph, &err)) goto fail;
    for (int a = 0; a < nas; a++)
        if (strata_plan_clusters_load(&cl[a], as[a], NULL, N, &err)) goto fail;
    for (int c = 0; c < ncs; c++) {
        if (cluster_for_size(&cl[nas + c], &emb, &pairs, csz[c], env->seed, env->progress, &err))
            goto fail;
    }
    const int nall = nas + ncs;

    strata_plan_data data;
    cli_plan_data(&data, &pairs, qh, ph);
    int64_t maxb = o_max > 0 ? o_max : 1000;
    for (int si = 0; si < nss; si++) {
        int na = strat[si] == STRATA_PLAN_CLUSTER ? nall : 1;
        for (int a = 0; a < na; a++) {
            for (int bi = 0; bi < nbs; bi++) {
                strata_plan_stage stg = {0};
                stg.strategy = strat[si];
                stg.share = 1;
                sweep_row *r = &rows[nrows];
                r->strategy = ss[si];
                r->B = bsz[bi];
                if (strat[si] == STRATA_PLAN_CLUSTER) {
                    cli_stage_clusters(&stg, &cl[a]);
                    r->assign = cl[a].assign_path;
                }
                strata_plan_params p = strata_plan_default_params();
                p.batch_size = bsz[bi];
                p.seed = env->seed;
                strata_plan plan;
                if (strata_plan_build(&plan, &data, &stg, 1, &p, &err)) {
                    strata_error_prefix(&err, "sweep %s B=%lld%s%s", ss[si], (long long)bsz[bi],
                                        r->assign ? " " : "", r->assign ? r->assign : "");
                    goto fail;
                }
                int64_t groups = plan.stages[0].n_groups;
                r->cluster_size = (double)N / (double)(groups ? groups : 1);
                r->n_batches_plan = plan.n_batches;
                strata_status st = strata_hardness_compute(&plan, emb.q, emb.d, emb.n, emb.dim,
                                                           o_tau, 0, maxb, NULL, &r->s, &err);
                strata_plan_free(&plan);
                if (st) goto fail;
                nrows++;
                strata_progress_report(&env->progress, "sweep", nrows,
                                       (int64_t)(nss - has_cluster + has_cluster * nall) * nbs,
                                       "plans");
            }
        }
    }
    cli_progress_done(env);
    if (sweep_report(rows, nrows, maxb, &err)) goto fail;
    rc = CLI_OK;
    goto done;
fail:
    cli_progress_done(env);
    rc = cli_fail(&err);
done:
    for (int a = 0; a < 64; a++) strata_plan_clusters_free(&cl[a]);
    free(rows);
    free(qh);
    free(ph);
    strata_plan_embeddings_free(&emb);
    strata_pairs_free(&pairs);
    free_lists();
    return rc;
}

static int run(const cli_env *env, int npos, char **pos) {
    (void)npos; (void)pos;
    if (!(o_tau > 0)) return cli_usage_error(self(), "--tau must be > 0");
    if (o_sweep) {
        if (o_plan) return cli_usage_error(self(), "--sweep plans by itself: drop --plan");
        return run_sweep(env);
    }
    if (!o_plan) return cli_usage_error(self(), "--plan (or --sweep) is required");
    return run_plan(env);
}

/* The trainer's temperature (strata_train_default_params). */
static void defaults(void) { o_tau = strata_train_default_params().tau; }

const cli_command cmd_hardness = {
    "hardness", "how hard a plan's batches are under a surrogate model; CDE Fig. 6 sweep",
    NULL, description, opts, run, defaults, 1};

static const cli_command *self(void) { return &cmd_hardness; }
