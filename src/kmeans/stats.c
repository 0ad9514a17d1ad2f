/*
 * stats.c — stats.json of a clustering: the totals, the parameters, each
 * source's runs (redo objectives, per-iteration records) and every
 * cluster's size and statistics (non-finite values as null).
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "kmeans/kmeans_internal.h"

/* ------------------------------------------------------------------------ */
/* stats.json                                                                */
/* ------------------------------------------------------------------------ */

static cJSON *num_or_null(double x) { return isfinite(x) ? cJSON_CreateNumber(x) : cJSON_CreateNull(); }

strata_status strata_kmeans_write_stats(const char *path, const strata_kmeans_result *r,
                                        const strata_kmeans_params *p,
                                        const char *const *names, strata_error *err) {
    cJSON *j = cJSON_CreateObject();
    if (!j) return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    cJSON *par = cJSON_AddObjectToObject(j, "params");
    cJSON_AddStringToObject(par, "mode", r->nparts == 2 ? "asymmetric" : "spherical");
    if (p->cluster_size > 0) cJSON_AddNumberToObject(par, "cluster_size", (double)p->cluster_size);
    else cJSON_AddNumberToObject(par, "k", p->k);
    cJSON_AddNumberToObject(par, "niter", p->niter);
    cJSON_AddNumberToObject(par, "nredo", p->nredo);
    cJSON_AddStringToObject(par, "init", p->init == STRATA_KMEANS_INIT_RANDOM ? "random" : "kmeans++");
    cJSON_AddNumberToObject(par, "max_points_per_centroid", (double)p->max_points_per_centroid);
    cJSON_AddNumberToObject(par, "max_cluster_size", (double)p->max_cluster_size);
    cJSON_AddBoolToObject(par, "bounds", p->bounds != 0);
    cJSON_AddNumberToObject(par, "seed", (double)p->seed);
    cJSON_AddNumberToObject(par, "ranks", p->comm ? p->comm->size : 1);
    cJSON_AddNumberToObject(par, "threads", strata_get_threads());

    int64_t N = 0;
    for (int c = 0; c < r->k; c++) N += r->size[c];
    cJSON_AddNumberToObject(j, "n", (double)N);
    cJSON_AddNumberToObject(j, "dim", (double)r->dim);
    cJSON_AddNumberToObject(j, "k", r->k);
    cJSON_AddNumberToObject(j, "points_used", (double)r->n_used);
    cJSON_AddNumberToObject(j, "objective", r->objective);
    cJSON_AddNumberToObject(j, "mean_cos_centroid", N > 0 ? r->objective / (double)N / r->nparts : 0);
    cJSON_AddNumberToObject(j, "imbalance", strata_kmeans_imbalance(r->size, 0, r->k));
    int empty = 0;
    for (int c = 0; c < r->k; c++) empty += r->size[c] == 0;
    cJSON_AddNumberToObject(j, "empty_clusters", empty);
    cJSON_AddNumberToObject(j, "clusters_split", r->n_split);
    cJSON_AddNumberToObject(j, "seconds", r->seconds);

    cJSON *srcs = cJSON_AddArrayToObject(j, "sources");
    for (int i = 0; i < r->n_runs; i++) {
        const strata_kmeans_run *u = &r->runs[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToArray(srcs, o);
        cJSON_AddNumberToObject(o, "id", u->source);
        if (names) cJSON_AddStringToObject(o, "name", names[u->source]);
        cJSON_AddNumberToObject(o, "n", (double)u->n);
        cJSON_AddNumberToObject(o, "points_used", (double)u->n_used);
        cJSON_AddNumberToObject(o, "k", u->k);
        cJSON_AddNumberToObject(o, "first_cluster", u->first_cluster);
        int kk = 0;
        double obj = 0;
        int64_t nn = 0;
        for (int c = 0; c < r->k; c++)
            if (r->cluster_source[c] == u->source) {
                kk++;
                nn += r->size[c];
                if (r->size[c] > 0) obj += r->cos_centroid[c] * (double)r->size[c] * r->nparts;
            }
        cJSON_AddNumberToObject(o, "k_final", kk);
        cJSON_AddNumberToObject(o, "objective", obj);
        {
            double tot = 0, sq = 0;
            for (int c = 0; c < r->k; c++)
                if (r->cluster_source[c] == u->source) {
                    tot += (double)r->size[c];
                    sq += (double)r->size[c] * (double)r->size[c];
                }
            cJSON_AddNumberToObject(o, "imbalance", tot > 0 ? kk * sq / (tot * tot) : 0);
        }
        cJSON_AddNumberToObject(o, "best_redo", u->best_redo);
        cJSON *ro = cJSON_AddArrayToObject(o, "redo_objective");
        for (int q = 0; q < u->nredo; q++) cJSON_AddItemToArray(ro, cJSON_CreateNumber(u->redo_objective[q]));
        cJSON_AddNumberToObject(o, "init_seconds", u->init_seconds);
        cJSON *its = cJSON_AddArrayToObject(o, "iterations");
        for (int q = 0; q < u->n_iter; q++) {
            cJSON *t = cJSON_CreateObject();
            cJSON_AddItemToArray(its, t);
            cJSON_AddNumberToObject(t, "objective", u->iters[q].objective);
            cJSON_AddNumberToObject(t, "seconds", u->iters[q].seconds);
            cJSON_AddNumberToObject(t, "changed", (double)u->iters[q].changed);
            cJSON_AddNumberToObject(t, "scored", (double)u->iters[q].scored);
        }
    }
    cJSON *cl = cJSON_AddArrayToObject(j, "clusters");
    for (int c = 0; c < r->k; c++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToArray(cl, o);
        cJSON_AddNumberToObject(o, "id", c);
        cJSON_AddNumberToObject(o, "size", (double)r->size[c]);
        cJSON_AddNumberToObject(o, "source", r->cluster_source[c]);
        if (names) cJSON_AddStringToObject(o, "source_name", names[r->cluster_source[c]]);
        if (r->split_from[c] >= 0 && r->split_from[c] != c)
            cJSON_AddNumberToObject(o, "split_from", r->split_from[c]);
        cJSON_AddItemToObject(o, "mean_cos_centroid", num_or_null(r->cos_centroid[c]));
        if (r->nparts == 1) {
            cJSON_AddItemToObject(o, "mean_pairwise_cos", num_or_null(r->pairwise[c]));
        } else {
            double q = r->pairwise[(size_t)c * 2], d = r->pairwise[(size_t)c * 2 + 1];
            cJSON_AddItemToObject(o, "mean_pairwise_cos", num_or_null(0.5 * (q + d)));
            cJSON_AddItemToObject(o, "mean_pairwise_cos_query", num_or_null(q));
            cJSON_AddItemToObject(o, "mean_pairwise_cos_doc", num_or_null(d));
        }
    }
    strata_status st = strata__json_write(path, j, err);
    cJSON_Delete(j);
    return st;
}
