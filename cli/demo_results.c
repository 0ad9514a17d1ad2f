/*
 * demo_results.c — what the demo's stages produced, read into one JSON
 * object (OUT/results.json), and the paired comparisons between strategies.
 *
 * Seeds are pooled per query (strata compare, docs/compare.md): a
 * strategy's value on a query is the mean over its seeds, queries are the
 * unit of the bootstrap interval and of the randomization test, and the
 * spread of the per-seed means is reported beside. The comparisons of one
 * set form one family for the Holm correction: every strategy against
 * random (or the first strategy), and every strategy against the hash
 * embedder (and the initial model when training continued one).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "demo.h"
#include "strata/compare.h"
#include "strata/data.h"
#include "strata/eval.h"
#include "strata/io.h"

static double num(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* cJSON writes non-finite numbers as null; keep them so. */
static void add_num(cJSON *o, const char *key, double v) {
    if (isfinite(v)) cJSON_AddNumberToObject(o, key, v);
    else cJSON_AddNullToObject(o, key);
}

static void mean_sd(const double *v, int n, double *mean, double *sd) {
    double s = 0, q = 0;
    int m = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(v[i])) s += v[i], m++;
    *mean = m ? s / m : NAN;
    for (int i = 0; i < n; i++)
        if (isfinite(v[i])) q += (v[i] - *mean) * (v[i] - *mean);
    *sd = m > 1 ? sqrt(q / (m - 1)) : 0;
}

/* ------------------------------------------------------------------------ */
/* Training curves                                                           */
/* ------------------------------------------------------------------------ */

/* Steps, loss and accuracy of a log.jsonl, appended into arrays of cJSON
 * numbers; returns the number of steps read. */
static int read_curve(const char *path, cJSON *steps, cJSON *loss, cJSON *acc) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char *line = NULL;
    size_t cap = 0;
    int n = 0;
    while (getline(&line, &cap, f) > 0) {
        cJSON *j = cJSON_Parse(line);
        double s = num(j, "step"), l = num(j, "loss"), a = num(j, "acc");
        if (isfinite(s) && isfinite(l) && isfinite(a)) {
            cJSON_AddItemToArray(steps, cJSON_CreateNumber(s));
            cJSON_AddItemToArray(loss, cJSON_CreateNumber(l));
            cJSON_AddItemToArray(acc, cJSON_CreateNumber(a));
            n++;
        }
        cJSON_Delete(j);
    }
    free(line);
    fclose(f);
    return n;
}

/* Mean of the last tenth (at least one) of an array of numbers. */
static double tail_mean(const cJSON *a) {
    int n = cJSON_GetArraySize(a), m = n / 10 > 0 ? n / 10 : 1;
    if (n == 0) return NAN;
    double s = 0;
    for (int i = n - m; i < n; i++) s += cJSON_GetArrayItem(a, i)->valuedouble;
    return s / m;
}

/* ------------------------------------------------------------------------ */
/* Per strategy                                                              */
/* ------------------------------------------------------------------------ */

static const char *const hard_keys[] = {"mean_loss", "mean_top1", "mean_offdiag_sim", "mean_max_offdiag_sim"};
#define N_HARD ((int)(sizeof hard_keys / sizeof *hard_keys))

/* results.strategies.NAME: hardness and masks (means over seeds' plans),
 * per seed the final loss/accuracy, curve and metrics per set, and the
 * means over seeds. */
static cJSON *strategy_json(const demo_setup *s, int k) {
    const demo_strategy *st = &s->strat[k];
    cJSON *o = cJSON_CreateObject();
    double hard[N_HARD][DEMO_MAX_SEEDS], masked[DEMO_MAX_SEEDS];
    double floss[DEMO_MAX_SEEDS], facc[DEMO_MAX_SEEDS];
    double nd[DEMO_MAX_SETS][DEMO_MAX_SEEDS], rec[DEMO_MAX_SETS][DEMO_MAX_SEEDS];
    cJSON *seeds = cJSON_AddArrayToObject(o, "seeds");
    for (int r = 0; r < s->nseeds; r++) {
        const char *plan = dfmt("%s/plans/%s/seed%llu", s->out, st->name, (unsigned long long)s->seeds[r]);
        const char *run = dfmt("%s/runs/%s/seed%llu", s->out, st->name, (unsigned long long)s->seeds[r]);
        cJSON *h = demo_json_read(dfmt("%s/hardness.json", plan)), *pj = demo_json_read(dfmt("%s/plan.json", plan));
        for (int i = 0; i < N_HARD; i++) hard[i][r] = num(h, hard_keys[i]);
        masked[r] = num(pj, "masked_fraction");
        cJSON_Delete(h);
        cJSON_Delete(pj);
        cJSON *sj = cJSON_CreateObject();
        cJSON_AddItemToArray(seeds, sj);
        cJSON_AddNumberToObject(sj, "seed", (double)s->seeds[r]);
        cJSON *curve = cJSON_AddObjectToObject(sj, "curve");
        cJSON *cs = cJSON_AddArrayToObject(curve, "step"), *cl = cJSON_AddArrayToObject(curve, "loss"),
              *ca = cJSON_AddArrayToObject(curve, "acc");
        read_curve(dfmt("%s/log.jsonl", run), cs, cl, ca);
        floss[r] = tail_mean(cl);
        facc[r] = tail_mean(ca);
        add_num(sj, "final_loss", floss[r]);
        add_num(sj, "final_acc", facc[r]);
        for (int b = 0; b < s->nbeir; b++) {
            cJSON *m = demo_json_read(dfmt("%s/metrics-%s.json", run, s->set_name[b]));
            cJSON *mean = cJSON_GetObjectItem(m, "mean");
            nd[b][r] = num(mean, "ndcg@10");
            rec[b][r] = num(mean, "recall@100");
            cJSON *bj = cJSON_AddObjectToObject(sj, s->set_name[b]);
            add_num(bj, "ndcg@10", nd[b][r]);
            add_num(bj, "recall@100", rec[b][r]);
            cJSON_Delete(m);
        }
    }
    double mu, sd;
    cJSON *hj = cJSON_AddObjectToObject(o, "hardness");
    for (int i = 0; i < N_HARD; i++) {
        mean_sd(hard[i], s->nseeds, &mu, &sd);
        add_num(hj, hard_keys[i], mu);
    }
    mean_sd(masked, s->nseeds, &mu, &sd);
    add_num(o, "masked_fraction", st->filter ? mu : NAN);
    mean_sd(floss, s->nseeds, &mu, &sd);
    add_num(o, "final_loss", mu);
    mean_sd(facc, s->nseeds, &mu, &sd);
    add_num(o, "final_acc", mu);
    for (int b = 0; b < s->nbeir; b++) {
        cJSON *bj = cJSON_AddObjectToObject(o, s->set_name[b]);
        mean_sd(nd[b], s->nseeds, &mu, &sd);
        add_num(bj, "ndcg@10", mu);
        add_num(bj, "ndcg@10_seed_sd", sd);
        mean_sd(rec[b], s->nseeds, &mu, &sd);
        add_num(bj, "recall@100", mu);
        add_num(bj, "recall@100_seed_sd", sd);
    }
    return o;
}

/* ------------------------------------------------------------------------ */
/* Baselines, clusterings, stages                                            */
/* ------------------------------------------------------------------------ */

static cJSON *baselines_json(const demo_setup *s) {
    cJSON *o = cJSON_CreateObject();
    for (int b = 0; b < s->nbeir; b++) {
        cJSON *bj = cJSON_AddObjectToObject(o, s->set_name[b]);
        for (int i = 0; i < 1 + (s->init != NULL); i++) {
            const char *who = i ? "init" : "hash";
            cJSON *m = demo_json_read(dfmt("%s/baseline/%s-%s.json", s->out, who, s->set_name[b]));
            cJSON *mean = cJSON_GetObjectItem(m, "mean"), *w = cJSON_AddObjectToObject(bj, who);
            add_num(w, "ndcg@10", num(mean, "ndcg@10"));
            add_num(w, "recall@100", num(mean, "recall@100"));
            cJSON_Delete(m);
        }
    }
    return o;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Mean pairwise cosine inside each cluster (Merrick's statistic), as min /
 * median / max over the clusters of every seed's clustering. */
static cJSON *clusterings_json(const demo_setup *s) {
    cJSON *o = cJSON_CreateObject();
    for (int c = 0; c < s->nc; c++) {
        const demo_clustering *cl = &s->clus[c];
        cJSON *cj = cJSON_AddObjectToObject(o, cl->name);
        cJSON_AddStringToObject(cj, "on", cl->on == 'q' ? "queries" : cl->on == 'd' ? "positives" : "query+positive");
        double *v = NULL, k = 0, imb = 0;
        size_t n = 0, cap = 0;
        for (int r = 0; r < s->nseeds; r++) {
            cJSON *st = demo_json_read(
                dfmt("%s/cluster/%s/seed%llu/stats.json", s->out, cl->name, (unsigned long long)s->seeds[r]));
            k += num(st, "k") / s->nseeds;
            imb += num(st, "imbalance") / s->nseeds;
            cJSON *e;
            cJSON_ArrayForEach(e, cJSON_GetObjectItem(st, "clusters")) {
                double x = num(e, "mean_pairwise_cos");
                if (!isfinite(x)) continue;
                if (n == cap) {
                    cap = cap ? 2 * cap : 256;
                    double *nv = realloc(v, cap * sizeof *v);
                    if (!nv) break;
                    v = nv;
                }
                v[n++] = x;
            }
            cJSON_Delete(st);
        }
        if (v) qsort(v, n, sizeof *v, cmp_double);
        add_num(cj, "k", k);
        add_num(cj, "imbalance", imb);
        add_num(cj, "pairwise_cos_min", n ? v[0] : NAN);
        add_num(cj, "pairwise_cos_median", n ? v[n / 2] : NAN);
        add_num(cj, "pairwise_cos_max", n ? v[n - 1] : NAN);
        free(v);
    }
    return o;
}

/* Wall time per stage (a stage run twice counts its last run), and per kind
 * of stage (its first word). */
static void stages_json(const demo_runner *d, cJSON *results) {
    cJSON *stages = cJSON_AddArrayToObject(results, "stages");
    cJSON *kinds = cJSON_AddObjectToObject(results, "stage_seconds");
    FILE *f = fopen(d->times, "r");
    char *line = NULL;
    size_t cap = 0;
    while (f && getline(&line, &cap, f) > 0) {
        cJSON *j = cJSON_Parse(line);
        cJSON *w = cJSON_GetObjectItem(j, "stage");
        if (!cJSON_IsString(w) || !isfinite(num(j, "seconds"))) {
            cJSON_Delete(j);
            continue;
        }
        for (int q = cJSON_GetArraySize(stages) - 1; q >= 0; q--)
            if (strcmp(cJSON_GetObjectItem(cJSON_GetArrayItem(stages, q), "stage")->valuestring, w->valuestring) == 0)
                cJSON_DeleteItemFromArray(stages, q);
        cJSON_AddItemToArray(stages, j);
    }
    free(line);
    if (f) fclose(f);
    cJSON *o;
    cJSON_ArrayForEach(o, stages) {
        char kind[32];
        const char *w = cJSON_GetObjectItem(o, "stage")->valuestring;
        snprintf(kind, sizeof kind, "%.*s", (int)strcspn(w, " :,"), w);
        cJSON *k = cJSON_GetObjectItem(kinds, kind);
        if (!k) {
            k = cJSON_AddObjectToObject(kinds, kind);
            cJSON_AddNumberToObject(k, "stages", 0);
            cJSON_AddNumberToObject(k, "seconds", 0);
        }
        cJSON *c = cJSON_GetObjectItem(k, "stages"), *t = cJSON_GetObjectItem(k, "seconds");
        cJSON_SetNumberValue(c, c->valuedouble + 1);
        cJSON_SetNumberValue(t, t->valuedouble + num(o, "seconds"));
    }
}

/* ------------------------------------------------------------------------ */
/* Comparisons                                                               */
/* ------------------------------------------------------------------------ */

/* Per-query metrics of every seed of every strategy, then the baselines,
 * on set b, as compare groups. */
typedef struct groups {
    strata_compare_group g[DEMO_MAX + 2];
    const strata_metrics *ptr[DEMO_MAX + 2][DEMO_MAX_SEEDS];
    strata_metrics *owned[(DEMO_MAX + 2) * DEMO_MAX_SEEDS];
    int n, n_owned, i_hash, i_init;
} groups;

static void groups_free(groups *gs) {
    for (int i = 0; i < gs->n_owned; i++) strata_free(gs->owned[i]);
    gs->n_owned = 0;
}

static strata_status read_metrics(groups *gs, strata_texts *queries, const char *path, const strata_metrics **out,
                                  strata_error *err) {
    strata_metrics *m = NULL;
    strata_status st = strata_metrics_read_json(path, queries, STRATA_UNKNOWN_ERROR, &m, NULL, err);
    if (st) return st;
    gs->owned[gs->n_owned++] = m;
    *out = m;
    return STRATA_OK;
}

static strata_status load_groups(const demo_setup *s, int b, strata_texts *queries, groups *gs, strata_error *err) {
    memset(gs, 0, sizeof *gs);
    strata_status st = STRATA_OK;
    for (int k = 0; k < s->ns && !st; k++) {
        for (int r = 0; r < s->nseeds && !st; r++)
            st = read_metrics(gs, queries,
                              dfmt("%s/runs/%s/seed%llu/metrics-%s.json", s->out, s->strat[k].name,
                                   (unsigned long long)s->seeds[r], s->set_name[b]),
                              &gs->ptr[gs->n][r], err);
        gs->g[gs->n] = (strata_compare_group){s->strat[k].name, s->nseeds, gs->ptr[gs->n]};
        gs->n++;
    }
    gs->i_hash = gs->i_init = -1;
    for (int i = 0; i < 1 + (s->init != NULL) && !st; i++) {
        const char *who = i ? "init" : "hash";
        st = read_metrics(gs, queries, dfmt("%s/baseline/%s-%s.json", s->out, who, s->set_name[b]), &gs->ptr[gs->n][0],
                          err);
        gs->g[gs->n] = (strata_compare_group){i ? "initial model" : "hash embedder", 1, gs->ptr[gs->n]};
        *(i ? &gs->i_init : &gs->i_hash) = gs->n++;
    }
    return st;
}

static cJSON *pair_json(const strata_compare_result *r, const strata_compare_pair_stats *p) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "a", r->names[p->a]);
    cJSON_AddStringToObject(o, "b", r->names[p->b]);
    cJSON_AddStringToObject(o, "metric", strata_metric_name(p->metric));
    add_num(o, "mean_a", p->mean_a);
    add_num(o, "mean_b", p->mean_b);
    add_num(o, "diff", p->diff);
    add_num(o, "ci_lo", p->ci_lo);
    add_num(o, "ci_hi", p->ci_hi);
    add_num(o, "p", p->p);
    add_num(o, "p_adj", p->p_adj);
    add_num(o, "effect", p->effect);
    cJSON_AddNumberToObject(o, "better", (double)p->n_better);
    cJSON_AddNumberToObject(o, "worse", (double)p->n_worse);
    cJSON_AddNumberToObject(o, "tied", (double)p->n_tied);
    return o;
}

/* results.comparisons.SET: the compare result of set b, also written as
 * OUT/compare-SET.json and printed as a table (stdout). */
static cJSON *compare_set(const demo_setup *s, int b, const cli_env *env, strata_error *err) {
    strata_beir beir;
    if (strata_beir_load(&beir, s->beir[b], s->split, (strata_progress){0}, err)) return NULL;
    groups gs;
    strata_compare_result r;
    memset(&r, 0, sizeof r);
    cJSON *o = NULL;
    int base = 0;
    strata_status st = load_groups(s, b, &beir.queries, &gs, err);
    if (!st) {
        int pairs[2 * 3 * DEMO_MAX], np = 0;
        for (int k = 0; k < s->ns; k++)
            if (strcmp(s->strat[k].name, "random") == 0) base = k;
        for (int k = 0; k < s->ns; k++) {
            if (k != base) pairs[2 * np] = base, pairs[2 * np + 1] = k, np++;
            pairs[2 * np] = gs.i_hash, pairs[2 * np + 1] = k, np++;
            if (gs.i_init >= 0) pairs[2 * np] = gs.i_init, pairs[2 * np + 1] = k, np++;
        }
        strata_compare_params p = strata_compare_default_params();
        p.pairs = pairs;
        p.n_pairs = np;
        p.seed = env->seed;
        st = strata_compare(gs.g, gs.n, beir.queries.n, NULL, &p, &r, err);
    }
    if (!st) st = strata_compare_write_json(dfmt("%s/compare-%s.json", s->out, s->set_name[b]), &r, err);
    if (!st) {
        char *table = strata_compare_table(&r, 0);
        if (table && !env->quiet) printf("\n== %s: seeds pooled per query\n%s", s->set_name[b], table);
        strata_free(table);
        o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "queries", (double)r.n_queries);
        cJSON_AddStringToObject(o, "baseline", s->strat[base].name);
        cJSON *runs = cJSON_AddObjectToObject(o, "runs"), *pairs = cJSON_AddArrayToObject(o, "pairs");
        for (int m = 0; m < r.n_metrics; m++) {
            for (int g = 0; g < r.n_groups; g++) {
                const strata_compare_run_stats *rs = strata_compare_get_run(&r, r.metrics[m], g);
                cJSON *gj = cJSON_GetObjectItem(runs, r.names[g]);
                if (!gj) gj = cJSON_AddObjectToObject(runs, r.names[g]);
                cJSON *mj = cJSON_AddObjectToObject(gj, strata_metric_name(r.metrics[m]));
                add_num(mj, "mean", rs->mean);
                add_num(mj, "ci_lo", rs->ci_lo);
                add_num(mj, "ci_hi", rs->ci_hi);
                add_num(mj, "seed_sd", rs->seed_sd);
            }
            for (int k = 0; k < r.n_pairs; k++) cJSON_AddItemToArray(pairs, pair_json(&r, &r.pairs[(size_t)m * r.n_pairs + k]));
        }
    }
    strata_compare_result_free(&r);
    groups_free(&gs);
    strata_beir_free(&beir);
    return o;
}

/* ------------------------------------------------------------------------ */
/* All                                                                       */
/* ------------------------------------------------------------------------ */

cJSON *demo_collect(const demo_setup *s, const demo_runner *d, double seconds, strata_error *err) {
    cJSON *res = cJSON_CreateObject();
    if (!res) {
        strata_error_set(err, STRATA_ENOMEM, "out of memory");
        return NULL;
    }
    cJSON *strat = cJSON_AddObjectToObject(res, "strategies");
    for (int k = 0; k < s->ns; k++) cJSON_AddItemToObject(strat, s->strat[k].name, strategy_json(s, k));
    cJSON *sets = cJSON_AddArrayToObject(res, "sets");
    for (int b = 0; b < s->nbeir; b++) cJSON_AddItemToArray(sets, cJSON_CreateString(s->set_name[b]));
    cJSON_AddItemToObject(res, "baselines", baselines_json(s));
    cJSON_AddItemToObject(res, "clusterings", clusterings_json(s));
    cJSON *cmp = cJSON_AddObjectToObject(res, "comparisons");
    for (int b = 0; b < s->nbeir; b++) {
        cJSON *c = compare_set(s, b, d->env, err);
        if (!c) {
            cJSON_Delete(res);
            return NULL;
        }
        cJSON_AddItemToObject(cmp, s->set_name[b], c);
    }
    cJSON_AddNumberToObject(res, "seconds", seconds);
    stages_json(d, res);
    return res;
}
