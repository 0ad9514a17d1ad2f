/*
 * demo_report.c — the demo's summary on stdout and OUT/report.html, both
 * read from results.json's object only, so every number on the page is in
 * that file. The page opens with the result in words: which strategy won,
 * by how much, with its interval and corrected p-value, and where the
 * trained models stand against the untrained hash embedder.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "demo.h"
#include "strata/report.h"

static double num(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static const cJSON *obj(const cJSON *o, const char *key) { return cJSON_GetObjectItemCaseSensitive(o, key); }

/* A number, or "" when it is not finite. */
static const char *cell(const char *fmt, double v) { return isfinite(v) ? dfmt(fmt, v) : ""; }

static const char *pval(double p) {
    if (!isfinite(p)) return "";
    return p < 0.001 ? dfmt("%.1e", p) : dfmt("%.3f", p);
}

/* The comparison (a, b) of ndcg@10 in a set's comparisons, or NULL. */
static const cJSON *find_pair(const cJSON *cmp, const char *a, const char *b, const char *metric) {
    const cJSON *p;
    cJSON_ArrayForEach(p, obj(cmp, "pairs")) {
        const cJSON *ja = obj(p, "a"), *jb = obj(p, "b"), *jm = obj(p, "metric");
        if (cJSON_IsString(ja) && cJSON_IsString(jb) && cJSON_IsString(jm) && strcmp(ja->valuestring, a) == 0 &&
            strcmp(jb->valuestring, b) == 0 && strcmp(jm->valuestring, metric) == 0)
            return p;
    }
    return NULL;
}

/* "+0.0312 (95% CI [+0.0120, +0.0504], p = 0.004)" */
static const char *diff_text(const cJSON *p) {
    if (!p) return "n/a";
    return dfmt("%+.4f (95%% CI [%+.4f, %+.4f], p = %s)", num(p, "diff"), num(p, "ci_lo"), num(p, "ci_hi"),
                pval(num(p, "p_adj")));
}

static int significant(const cJSON *p) { return p && num(p, "p_adj") < 0.05; }

/* ------------------------------------------------------------------------ */
/* The result in words                                                       */
/* ------------------------------------------------------------------------ */

static const char *result_paragraph(const demo_setup *s, const cJSON *res, int b) {
    const char *set = s->set_name[b];
    const cJSON *cmp = obj(obj(res, "comparisons"), set), *runs = obj(cmp, "runs");
    const char *base = cJSON_GetStringValue(obj(cmp, "baseline"));
    if (!base) return "";
    int best = 0;
    for (int k = 1; k < s->ns; k++)
        if (num(obj(obj(runs, s->strat[k].name), "ndcg@10"), "mean") >
            num(obj(obj(runs, s->strat[best].name), "ndcg@10"), "mean"))
            best = k;
    const char *bn = s->strat[best].name;
    double bm = num(obj(obj(runs, bn), "ndcg@10"), "mean");
    char *t = dfmt("Result on %s (%.0f queries; %d seed%s per strategy, pooled per query; 95%% bootstrap "
                   "intervals and paired randomization tests, p-values Holm-corrected over the comparisons "
                   "shown in the table): ",
                   set, num(cmp, "queries"), s->nseeds, s->nseeds > 1 ? "s" : "");
    if (strcmp(bn, base) == 0) {
        t = dfmt("%s%s scored the highest NDCG@10, %.4f; no other strategy beat it.", t, bn, bm);
    } else {
        const cJSON *p = find_pair(cmp, base, bn, "ndcg@10");
        t = dfmt("%s%s scored the highest NDCG@10, %.4f, %s over %s: %s.", t, bn, bm, diff_text(p), base,
                 significant(p) ? "a significant difference" : "not a significant difference");
    }
    const char *others = "";
    for (int k = 0; k < s->ns; k++) {
        const char *nm = s->strat[k].name;
        if (k == best || strcmp(nm, base) == 0) continue;
        const cJSON *p = find_pair(cmp, base, nm, "ndcg@10");
        others = dfmt("%s%s%s %s%s", others, *others ? "; " : "", nm, diff_text(p), significant(p) ? "" : " (n.s.)");
    }
    if (*others) t = dfmt("%s Against %s: %s.", t, base, others);
    /* the untrained references */
    double hm = num(obj(obj(runs, "hash embedder"), "ndcg@10"), "mean");
    const cJSON *ph = find_pair(cmp, "hash embedder", bn, "ndcg@10");
    int above = 0;
    for (int k = 0; k < s->ns; k++) {
        const cJSON *p = find_pair(cmp, "hash embedder", s->strat[k].name, "ndcg@10");
        above += significant(p) && num(p, "diff") > 0;
    }
    if (ph)
        t = dfmt("%s The untrained hash embedder scores %.4f: the best trained model is %.4f %s it (95%% CI "
                 "[%+.4f, %+.4f], p = %s); %d of %d strategies are significantly above it.",
                 t, hm, fabs(num(ph, "diff")), num(ph, "diff") >= 0 ? "above" : "below", num(ph, "ci_lo"),
                 num(ph, "ci_hi"), pval(num(ph, "p_adj")), above, s->ns);
    if (s->init) {
        const cJSON *pi = find_pair(cmp, "initial model", bn, "ndcg@10");
        t = dfmt("%s The model training started from scores %.4f; the best trained model differs by %s.", t,
                 num(obj(obj(runs, "initial model"), "ndcg@10"), "mean"), diff_text(pi));
    }
    return t;
}

/* ------------------------------------------------------------------------ */
/* Tables                                                                    */
/* ------------------------------------------------------------------------ */

/* Drops the columns whose cells are all empty, then adds the table. */
static void table(strata_report *rep, int ncols, const char **hdr, int nrows, const char **cells) {
    int keep[64], nk = 0;
    for (int c = 0; c < ncols && nk < 64; c++) {
        int any = 0;
        for (int r = 0; r < nrows; r++) any |= cells[(size_t)r * ncols + c][0] != '\0';
        if (any) keep[nk++] = c;
    }
    const char **h = calloc((size_t)nk, sizeof *h), **x = calloc((size_t)nk * (size_t)(nrows ? nrows : 1), sizeof *x);
    if (!h || !x) {
        free(h);
        free(x);
        return;
    }
    for (int c = 0; c < nk; c++) {
        h[c] = hdr[keep[c]];
        for (int r = 0; r < nrows; r++) x[(size_t)r * nk + c] = cells[(size_t)r * ncols + keep[c]];
    }
    strata_report_table(rep, nk, h, nrows, x);
    free(h);
    free(x);
}

/* Retrieval quality on set b: strategies, then the untrained references. */
static void quality_table(strata_report *rep, const demo_setup *s, const cJSON *res, int b) {
    const char *set = s->set_name[b];
    const cJSON *cmp = obj(obj(res, "comparisons"), set), *runs = obj(cmp, "runs");
    const char *base = cJSON_GetStringValue(obj(cmp, "baseline"));
    enum { NC = 10 };
    const char *hdr[NC] = {"strategy", "NDCG@10", "95% CI", "seed sd", base ? dfmt("vs %s", base) : "vs baseline",
                           "p (Holm)", "vs hash", "p (Holm)", "Recall@100", "final loss"};
    int nrows = s->ns + 1 + (s->init != NULL);
    const char **c = calloc((size_t)nrows * NC, sizeof *c);
    if (!c) return;
    for (int k = 0; k < nrows; k++) {
        const char **row = c + (size_t)k * NC;
        for (int q = 0; q < NC; q++) row[q] = "";
        const char *nm = k < s->ns ? s->strat[k].name : k == s->ns ? "hash embedder" : "initial model";
        const cJSON *nd = obj(obj(runs, nm), "ndcg@10"), *rc = obj(obj(runs, nm), "recall@100");
        row[0] = k < s->ns ? nm : dfmt("%s (untrained)", nm);
        row[1] = cell("%.4f", num(nd, "mean"));
        row[2] = isfinite(num(nd, "ci_lo")) ? dfmt("[%.4f, %.4f]", num(nd, "ci_lo"), num(nd, "ci_hi")) : "";
        row[3] = k < s->ns && s->nseeds > 1 ? cell("%.4f", num(nd, "seed_sd")) : "";
        if (k < s->ns) {
            const cJSON *pb = base ? find_pair(cmp, base, nm, "ndcg@10") : NULL;
            const cJSON *ph = find_pair(cmp, "hash embedder", nm, "ndcg@10");
            if (pb) row[4] = dfmt("%+.4f [%+.4f, %+.4f]", num(pb, "diff"), num(pb, "ci_lo"), num(pb, "ci_hi"));
            if (pb) row[5] = pval(num(pb, "p_adj"));
            if (ph) row[6] = dfmt("%+.4f [%+.4f, %+.4f]", num(ph, "diff"), num(ph, "ci_lo"), num(ph, "ci_hi"));
            if (ph) row[7] = pval(num(ph, "p_adj"));
            row[9] = cell("%.4f", num(obj(obj(res, "strategies"), nm), "final_loss"));
        }
        row[8] = cell("%.4f", num(rc, "mean"));
    }
    table(rep, NC, hdr, nrows, c);
    free(c);
}

static void hardness_table(strata_report *rep, const demo_setup *s, const cJSON *res) {
    enum { NC = 6 };
    const char *hdr[NC] = {"plan", "surrogate loss", "top-1", "mean off-diag sim", "mean max off-diag", "masked"};
    const char **c = calloc((size_t)s->ns * NC, sizeof *c);
    if (!c) return;
    for (int k = 0; k < s->ns; k++) {
        const cJSON *o = obj(obj(res, "strategies"), s->strat[k].name), *h = obj(o, "hardness");
        const char **row = c + (size_t)k * NC;
        row[0] = s->strat[k].name;
        row[1] = cell("%.4f", num(h, "mean_loss"));
        row[2] = cell("%.4f", num(h, "mean_top1"));
        row[3] = cell("%.4f", num(h, "mean_offdiag_sim"));
        row[4] = cell("%.4f", num(h, "mean_max_offdiag_sim"));
        row[5] = cell("%.4f", num(o, "masked_fraction"));
    }
    table(rep, NC, hdr, s->ns, c);
    free(c);
}

static void cluster_table(strata_report *rep, const demo_setup *s, const cJSON *res) {
    enum { NC = 7 };
    const char *hdr[NC] = {"clustering", "on", "K (mean over seeds)", "imbalance", "min", "median", "max"};
    const char **c = calloc((size_t)s->nc * NC, sizeof *c);
    if (!c) return;
    for (int k = 0; k < s->nc; k++) {
        const cJSON *o = obj(obj(res, "clusterings"), s->clus[k].name);
        const char **row = c + (size_t)k * NC;
        row[0] = s->clus[k].name;
        row[1] = cJSON_GetStringValue(obj(o, "on")) ? cJSON_GetStringValue(obj(o, "on")) : "";
        row[2] = cell("%.0f", num(o, "k"));
        row[3] = cell("%.3f", num(o, "imbalance"));
        row[4] = cell("%.3f", num(o, "pairwise_cos_min"));
        row[5] = cell("%.3f", num(o, "pairwise_cos_median"));
        row[6] = cell("%.3f", num(o, "pairwise_cos_max"));
    }
    table(rep, NC, hdr, s->nc, c);
    free(c);
}

static void stage_table(strata_report *rep, const cJSON *res) {
    const cJSON *kinds = obj(res, "stage_seconds"), *k;
    int nk = cJSON_GetArraySize(kinds), q = 0;
    if (nk == 0) return;
    const char *hdr[4] = {"stage", "runs", "seconds", "seconds per run"};
    const char **c = calloc((size_t)nk * 4, sizeof *c);
    if (!c) return;
    cJSON_ArrayForEach(k, kinds) {
        double n = num(k, "stages"), t = num(k, "seconds");
        c[q * 4 + 0] = k->string;
        c[q * 4 + 1] = dfmt("%.0f", n);
        c[q * 4 + 2] = dfmt("%.1f", t);
        c[q * 4 + 3] = dfmt("%.1f", n > 0 ? t / n : 0);
        q++;
    }
    table(rep, 4, hdr, nk, c);
    free(c);
}

/* ------------------------------------------------------------------------ */
/* Curves                                                                    */
/* ------------------------------------------------------------------------ */

/* Loss and accuracy per step, averaged over the seeds that reached it. */
static void curves(strata_report *rep, const demo_setup *s, const cJSON *res, int64_t steps) {
    strata_series se[DEMO_MAX], sa[DEMO_MAX];
    double *buf[DEMO_MAX] = {0};
    for (int k = 0; k < s->ns; k++) {
        const cJSON *seeds = obj(obj(obj(res, "strategies"), s->strat[k].name), "seeds"), *sd;
        int n = 0;
        cJSON_ArrayForEach(sd, seeds) {
            int m = cJSON_GetArraySize(obj(obj(sd, "curve"), "step"));
            if (m > n) n = m;
        }
        buf[k] = calloc((size_t)n * 5 + 1, sizeof(double));
        if (!buf[k]) n = 0;
        double *x = buf[k], *l = x + n, *a = l + n, *cl = a + n, *ca = cl + n;
        cJSON_ArrayForEach(sd, seeds) {
            const cJSON *cv = obj(sd, "curve");
            for (int i = 0; i < n && i < cJSON_GetArraySize(obj(cv, "step")); i++) {
                x[i] = cJSON_GetArrayItem(obj(cv, "step"), i)->valuedouble;
                l[i] += cJSON_GetArrayItem(obj(cv, "loss"), i)->valuedouble;
                a[i] += cJSON_GetArrayItem(obj(cv, "acc"), i)->valuedouble;
                cl[i] += 1;
            }
        }
        for (int i = 0; i < n; i++) l[i] /= cl[i], a[i] /= cl[i];
        (void)ca;
        se[k] = (strata_series){s->strat[k].name, x, l, n};
        sa[k] = (strata_series){s->strat[k].name, x, a, n};
    }
    int win = (int)(steps / 30 > 1 ? steps / 30 : 1);
    strata_plot_options po = {.title = "training loss (mean over seeds)", .xlabel = "step",
                              .ylabel = "InfoNCE loss", .smooth = win};
    strata_report_line_plot(rep, &po, s->ns, se);
    po.title = "in-batch top-1 accuracy (mean over seeds)";
    po.ylabel = "accuracy";
    strata_report_line_plot(rep, &po, s->ns, sa);
    for (int k = 0; k < s->ns; k++) free(buf[k]);
}

/* ------------------------------------------------------------------------ */
/* Stdout and the page                                                       */
/* ------------------------------------------------------------------------ */

static void print_summary(const demo_setup *s, const cJSON *res) {
    for (int b = 0; b < s->nbeir; b++) {
        const char *set = s->set_name[b];
        const cJSON *cmp = obj(obj(res, "comparisons"), set), *runs = obj(cmp, "runs");
        const char *base = cJSON_GetStringValue(obj(cmp, "baseline"));
        printf("\n%s: NDCG@10, seeds pooled per query; p Holm-corrected\n", set);
        printf("%-24s %8s %19s %9s %9s %9s %9s\n", "strategy", "ndcg@10", "95% CI", base ? "vs base" : "", "p",
               "vs hash", "p");
        for (int k = 0; k < s->ns; k++) {
            const char *nm = s->strat[k].name;
            const cJSON *nd = obj(obj(runs, nm), "ndcg@10");
            const cJSON *pb = base ? find_pair(cmp, base, nm, "ndcg@10") : NULL;
            const cJSON *ph = find_pair(cmp, "hash embedder", nm, "ndcg@10");
            printf("%-24s %8.4f   [%.4f, %.4f] %+9.4f %9s %+9.4f %9s\n", nm, num(nd, "mean"), num(nd, "ci_lo"),
                   num(nd, "ci_hi"), pb ? num(pb, "diff") : 0.0, pb ? pval(num(pb, "p_adj")) : "-",
                   ph ? num(ph, "diff") : NAN, ph ? pval(num(ph, "p_adj")) : "");
        }
        printf("%-24s %8.4f\n", "hash embedder", num(obj(obj(runs, "hash embedder"), "ndcg@10"), "mean"));
        if (s->init) printf("%-24s %8.4f\n", "initial model", num(obj(obj(runs, "initial model"), "ndcg@10"), "mean"));
    }
    fflush(stdout);
}

int demo_report(const demo_setup *s, const cJSON *res, double seconds, strata_error *err) {
    print_summary(s, res);
    const cJSON *set = obj(res, "settings");
    strata_report *rep = strata_report_new(s->embedded ? "Strata demo" : "Strata experiment");
    if (!rep) {
        strata_error_set(err, STRATA_ENOMEM, "out of memory");
        return -1;
    }
    for (int b = 0; b < s->nbeir; b++) strata_report_paragraph(rep, result_paragraph(s, res, b));
    const char *model = s->init ? s->init
                                : dfmt("a fresh BERT (layers %.0f, hidden %.0f, heads %.0f, FFN %.0f)",
                                       num(set, "layers"), num(set, "hidden"), num(set, "heads"), num(set, "ffn"));
    strata_report_paragraph(
        rep, dfmt("Training pairs: %s. Model: %s. %.0f steps, batch %.0f, lr %g, tau %g, %.0f training tokens, "
                  "%.0f evaluation tokens; seeds %s, each with its own clustering, plan and initialization.",
                  s->embedded ? "the embedded corpus (strata synth; docs/data.md)" : s->pairs, model,
                  num(set, "steps"), num(set, "batch_size"), num(set, "lr"), num(set, "tau"), num(set, "max_len"),
                  num(set, "eval_max_len"), cJSON_GetStringValue(obj(set, "seeds"))));
    for (int b = 0; b < s->nbeir; b++) {
        strata_report_heading(rep, dfmt("Retrieval quality on %s", s->set_name[b]));
        quality_table(rep, s, res, b);
        strata_report_paragraph(rep, "NDCG@10 and its interval are over the queries, each query's value the mean "
                                     "over seeds; \"seed sd\" is the spread of the per-seed means. Differences "
                                     "are per-query paired, with 95% bootstrap intervals; p-values are paired "
                                     "randomization tests, Holm-corrected over every comparison in this table. "
                                     "compare-SET.json holds the same for Recall@100.");
    }
    strata_report_heading(rep, "Training loss and in-batch accuracy");
    strata_report_paragraph(rep, "Merrick (2024, Figure 2): batches drawn from one cluster are harder, so the "
                                 "training loss stays higher and the in-batch accuracy lower than with random "
                                 "batches. Each curve is the mean over the seeds.");
    curves(rep, s, res, (int64_t)num(set, "steps"));
    strata_report_heading(rep, "Batch hardness under the surrogate embedder");
    strata_report_paragraph(rep, "Every batch of each plan scored with the surrogate (clustering) embeddings at "
                                 "tau = 0.02, averaged over the seeds' plans: harder batches have a higher "
                                 "surrogate loss, lower top-1 accuracy and higher off-diagonal similarity (CDE, "
                                 "Figure 6). \"masked\" is the share of the softmax partition the false-negative "
                                 "filter removes.");
    hardness_table(rep, s, res);
    if (s->nc > 0) {
        strata_report_heading(rep, "Clusters");
        strata_report_paragraph(rep, "Mean pairwise cosine inside each cluster under the surrogate embedder, over "
                                     "the clusters of every seed (Merrick reports 0.26-0.49 for passage clusters "
                                     "and 0.63-0.76 for query clusters with Arctic Embed).");
        cluster_table(rep, s, res);
    }
    strata_report_heading(rep, "Wall time per stage");
    strata_report_paragraph(rep, "Seconds of each kind of stage as last run (stages.jsonl); stages found done on a "
                                 "resumed run keep the time of the run that made them.");
    stage_table(rep, res);
    strata_report_paragraph(rep, dfmt("Every number on this page is in results.json and compare-SET.json; the "
                                      "commands that produced them are in commands.sh. Wall time: %.0f s.",
                                      seconds));
    strata_status st = strata_report_write(rep, dfmt("%s/report.html", s->out), err);
    strata_report_free(rep);
    return st ? -1 : 0;
}
