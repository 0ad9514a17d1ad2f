/*
 * compare_io.c — the comparison as a text table and as JSON, and the reader
 * of the per-query metrics JSON (whose writer is strata_metrics_write_json
 * in run.c).
 */
#define _POSIX_C_SOURCE 200809L
#include "strata/compare.h"
#include "strata/io.h"
#include "core/internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Text table                                                                */
/* ------------------------------------------------------------------------ */

static void fmt_num(char *b, size_t n, const char *fmt, double v) {
    if (isfinite(v)) snprintf(b, n, fmt, v);
    else snprintf(b, n, isnan(v) ? "n/a" : v > 0 ? "inf" : "-inf");
}

/* p-values: 4 decimals, or 2 significant digits below 0.001. */
static void fmt_p(char *b, size_t n, double p) {
    if (!isfinite(p)) snprintf(b, n, "n/a");
    else if (p >= 0.001 || p == 0.0) snprintf(b, n, "%.4f", p);
    else snprintf(b, n, "%.1e", p);
}

static int name_width(const strata_compare_result *r) {
    int w = 3;
    for (int g = 0; g < r->n_groups; g++) {
        int l = (int)strlen(r->names[g]);
        if (l > w) w = l;
    }
    return w;
}

static int table_runs(strata__buf *b, const strata_compare_result *r, int m, int w) {
    char ci[32];
    snprintf(ci, sizeof ci, "%d%% CI", (int)lround(100.0 * r->params.confidence));
    int bad = strata__buf_printf(b, "  %-*s  %5s  %-8s %-20s  %s\n", w, "run", "seeds", "mean", ci,
                                 "seed sd");
    for (int g = 0; g < r->n_groups; g++) {
        const strata_compare_run_stats *s = &r->runs[(size_t)m * r->n_groups + g];
        char sd[32], cis[64];
        if (r->n_seeds[g] > 1) fmt_num(sd, sizeof sd, "%.5f", s->seed_sd);
        else snprintf(sd, sizeof sd, "-");
        snprintf(cis, sizeof cis, "[%.5f, %.5f]", s->ci_lo, s->ci_hi);
        bad |= strata__buf_printf(b, "  %-*s  %5d  %.5f  %-20s  %s\n", w, r->names[g],
                                  r->n_seeds[g], s->mean, cis, sd);
    }
    return bad;
}

static int table_pairs(strata__buf *b, const strata_compare_result *r, int m, int show_t) {
    int cw = 10; /* "comparison" */
    for (int k = 0; k < r->n_pairs; k++) {
        const strata_compare_pair_stats *s = &r->pairs[(size_t)m * r->n_pairs + k];
        int l = (int)(strlen(r->names[s->a]) + strlen(r->names[s->b]) + 3);
        if (l > cw) cw = l;
    }
    char ci[32], pc[32], tc[40];
    snprintf(ci, sizeof ci, "%d%% CI", (int)lround(100.0 * r->params.confidence));
    snprintf(pc, sizeof pc, "p %s", strata_correction_name(r->params.correction));
    snprintf(tc, sizeof tc, "t-test %s", strata_correction_name(r->params.correction));
    int bad = strata__buf_printf(b, "  %-*s  %-9s %-22s %-7s %-8s %-15s", cw, "comparison",
                                 "diff", ci, "rel", "p", pc);
    if (show_t) bad |= strata__buf_printf(b, " %-8s %-17s", "t-test p", tc);
    bad |= strata__buf_printf(b, " %-7s %s\n", "d_z", "better/worse/tied");
    for (int k = 0; k < r->n_pairs; k++) {
        const strata_compare_pair_stats *s = &r->pairs[(size_t)m * r->n_pairs + k];
        char name[512], cis[64], rel[32], p[32], pa[32], dz[32];
        snprintf(name, sizeof name, "%s - %s", r->names[s->b], r->names[s->a]);
        snprintf(cis, sizeof cis, "[%+.5f, %+.5f]", s->ci_lo, s->ci_hi);
        fmt_num(rel, sizeof rel, "%+.1f%%", 100.0 * s->rel_diff);
        fmt_p(p, sizeof p, s->p);
        fmt_p(pa, sizeof pa, s->p_adj);
        fmt_num(dz, sizeof dz, "%+.3f", s->effect);
        bad |= strata__buf_printf(b, "  %-*s  %+-9.5f %-22s %-7s %-8s %-15s", cw, name, s->diff,
                                  cis, rel, p, pa);
        if (show_t) {
            fmt_p(p, sizeof p, s->p_t);
            fmt_p(pa, sizeof pa, s->p_t_adj);
            bad |= strata__buf_printf(b, " %-8s %-17s", p, pa);
        }
        bad |= strata__buf_printf(b, " %-7s %lld/%lld/%lld\n", dz, (long long)s->n_better,
                                  (long long)s->n_worse, (long long)s->n_tied);
    }
    return bad;
}

char *strata_compare_table(const strata_compare_result *r, int show_ttest) {
    if (!r || !r->runs) return NULL;
    strata__buf b = {0};
    int w = name_width(r), bad = 0;
    int fam = r->params.correct_across_metrics ? r->n_metrics * r->n_pairs : r->n_pairs;
    int exact = r->n_pairs > 0 && r->pairs[0].p_exact;
    char perm[64];
    if (exact) snprintf(perm, sizeof perm, "exact (all 2^%lld sign vectors)", (long long)r->n_queries);
    else snprintf(perm, sizeof perm, "%lld sign flips", (long long)r->params.n_permutations);
    for (int m = 0; m < r->n_metrics; m++) {
        bad |= strata__buf_printf(&b, "%s%s: %lld queries; bootstrap %lld replicates; "
                                  "randomization test %s; %s over %d comparison%s\n",
                                  m ? "\n" : "", strata_metric_name(r->metrics[m]),
                                  (long long)r->n_queries, (long long)r->params.n_bootstrap, perm,
                                  strata_correction_name(r->params.correction), fam,
                                  fam == 1 ? "" : "s");
        bad |= table_runs(&b, r, m, w);
        bad |= strata__buf_append(&b, "\n", 1);
        bad |= table_pairs(&b, r, m, show_ttest);
    }
    if (bad || !b.data) {
        strata__buf_free(&b);
        return NULL;
    }
    return b.data;
}

/* ------------------------------------------------------------------------ */
/* JSON                                                                      */
/* ------------------------------------------------------------------------ */

static int add_num(cJSON *o, const char *k, double v) {
    return (isfinite(v) ? cJSON_AddNumberToObject(o, k, v) : cJSON_AddNullToObject(o, k)) != NULL;
}

static int add_ci(cJSON *o, double lo, double hi) {
    cJSON *a = cJSON_AddArrayToObject(o, "ci");
    return a && cJSON_AddItemToArray(a, cJSON_CreateNumber(lo)) &&
           cJSON_AddItemToArray(a, cJSON_CreateNumber(hi));
}

static cJSON *params_json(const strata_compare_result *r) {
    const strata_compare_params *p = &r->params;
    cJSON *o = cJSON_CreateObject();
    cJSON *ms = o ? cJSON_AddArrayToObject(o, "metrics") : NULL;
    int ok = ms != NULL;
    for (int m = 0; ok && m < r->n_metrics; m++)
        ok = cJSON_AddItemToArray(ms, cJSON_CreateString(strata_metric_name(r->metrics[m])));
    ok = ok && add_num(o, "bootstrap", (double)p->n_bootstrap) &&
         add_num(o, "permutations", (double)p->n_permutations) &&
         add_num(o, "confidence", p->confidence) && add_num(o, "seed", (double)p->seed) &&
         cJSON_AddStringToObject(o, "comparisons", p->all_pairs        ? "all pairs"
                                                   : p->baseline < 0 ? "explicit"
                                                                     : "baseline") &&
         (p->all_pairs || p->baseline < 0 ||
          cJSON_AddStringToObject(o, "baseline", r->names[p->baseline])) &&
         cJSON_AddStringToObject(o, "correction", strata_correction_name(p->correction)) &&
         cJSON_AddStringToObject(o, "family", p->correct_across_metrics ? "all metrics"
                                                                        : "each metric") &&
         cJSON_AddStringToObject(o, "test", "paired randomization (sign flip), two-sided; "
                                            "p = (1 + count) / (1 + permutations), or count / "
                                            "2^queries when every sign vector is enumerated") &&
         cJSON_AddStringToObject(o, "interval", "percentile bootstrap over queries") &&
         cJSON_AddStringToObject(o, "seeds", "per-query mean over a run's seeds");
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static cJSON *pair_json(const strata_compare_result *r, const strata_compare_pair_stats *s) {
    cJSON *o = cJSON_CreateObject();
    int ok = o && cJSON_AddStringToObject(o, "a", r->names[s->a]) &&
             cJSON_AddStringToObject(o, "b", r->names[s->b]) && add_num(o, "mean_a", s->mean_a) &&
             add_num(o, "mean_b", s->mean_b) && add_num(o, "diff", s->diff) &&
             add_num(o, "rel_diff", s->rel_diff) && add_ci(o, s->ci_lo, s->ci_hi) &&
             add_num(o, "p", s->p) && add_num(o, "p_corrected", s->p_adj) &&
             cJSON_AddBoolToObject(o, "p_exact", s->p_exact) && add_num(o, "t", s->t) &&
             add_num(o, "p_t", s->p_t) && add_num(o, "p_t_corrected", s->p_t_adj) &&
             add_num(o, "effect_size_dz", s->effect) && add_num(o, "better", (double)s->n_better) &&
             add_num(o, "worse", (double)s->n_worse) && add_num(o, "tied", (double)s->n_tied);
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static cJSON *metric_json(const strata_compare_result *r, int m) {
    cJSON *o = cJSON_CreateObject();
    cJSON *runs = o ? cJSON_AddObjectToObject(o, "runs") : NULL;
    int ok = runs != NULL;
    for (int g = 0; ok && g < r->n_groups; g++) {
        const strata_compare_run_stats *s = &r->runs[(size_t)m * r->n_groups + g];
        cJSON *ro = cJSON_AddObjectToObject(runs, r->names[g]);
        cJSON *sm = ro ? cJSON_AddArrayToObject(ro, "seed_means") : NULL;
        ok = sm && add_num(ro, "mean", s->mean) && add_ci(ro, s->ci_lo, s->ci_hi) &&
             add_num(ro, "seed_sd", s->seed_sd);
        for (int j = 0; ok && j < r->n_seeds[g]; j++)
            ok = cJSON_AddItemToArray(sm, cJSON_CreateNumber(s->seed_means[j]));
    }
    cJSON *cs = ok ? cJSON_AddArrayToObject(o, "comparisons") : NULL;
    ok = cs != NULL;
    for (int k = 0; ok && k < r->n_pairs; k++) {
        cJSON *po = pair_json(r, &r->pairs[(size_t)m * r->n_pairs + k]);
        ok = po && cJSON_AddItemToArray(cs, po);
        if (!ok) cJSON_Delete(po);
    }
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

strata_status strata_compare_write_json(const char *path, const strata_compare_result *r,
                                        strata_error *err) {
    if (!path || !r || !r->runs)
        return strata_error_set(err, STRATA_EINVAL, "strata_compare_write_json: NULL argument");
    cJSON *root = cJSON_CreateObject();
    int ok = root && add_num(root, "n_queries", (double)r->n_queries);
    cJSON *pj = ok ? params_json(r) : NULL;
    ok = pj && cJSON_AddItemToObject(root, "params", pj);
    if (!ok) cJSON_Delete(pj);
    cJSON *runs = ok ? cJSON_AddArrayToObject(root, "runs") : NULL;
    ok = runs != NULL;
    for (int g = 0; ok && g < r->n_groups; g++) {
        cJSON *o = cJSON_CreateObject();
        ok = o && cJSON_AddStringToObject(o, "name", r->names[g]) &&
             add_num(o, "n_seeds", r->n_seeds[g]) && cJSON_AddItemToArray(runs, o);
        if (!ok) cJSON_Delete(o);
    }
    cJSON *ms = ok ? cJSON_AddObjectToObject(root, "metrics") : NULL;
    ok = ms != NULL;
    for (int m = 0; ok && m < r->n_metrics; m++) {
        cJSON *mo = metric_json(r, m);
        ok = mo && cJSON_AddItemToObject(ms, strata_metric_name(r->metrics[m]), mo);
        if (!ok) cJSON_Delete(mo);
    }
    strata_status st;
    if (!ok) st = strata_error_set(err, STRATA_ENOMEM, "out of memory building %s", path);
    else st = strata__json_write(path, root, err);
    cJSON_Delete(root);
    return st;
}

/* ------------------------------------------------------------------------ */
/* Reading per-query metrics                                                 */
/* ------------------------------------------------------------------------ */

/* Line (from 1) of the first `"key"` followed by ':' in path's text, or 0.
 * Only used to point an error message at the right line. */
static long key_line(const char *path, const char *key) {
    char *text;
    size_t len;
    strata_error e;
    if (strata_read_file(path, &text, &len, 0, &e)) return 0;
    size_t kl = strlen(key);
    long line = 1, found = 0;
    for (size_t i = 0; i < len && !found; i++) {
        if (text[i] == '\n') line++;
        if (text[i] != '"' || i + kl + 2 > len || memcmp(text + i + 1, key, kl) != 0 ||
            text[i + kl + 1] != '"')
            continue;
        size_t j = i + kl + 2;
        while (j < len && (text[j] == ' ' || text[j] == '\t' || text[j] == '\r' || text[j] == '\n'))
            j++;
        if (j < len && text[j] == ':') found = line;
    }
    strata_free(text);
    return found;
}

/* "path:line" or "path" into buf. */
static const char *where(char *buf, size_t n, const char *path, const char *key) {
    long l = key_line(path, key);
    if (l > 0) snprintf(buf, n, "%s:%ld", path, l);
    else snprintf(buf, n, "%s", path);
    return buf;
}

typedef struct listed {
    int64_t q;
    strata_metrics m;
} listed;

/* One per_query entry into *m (n = 1). */
static strata_status read_entry(const char *path, const cJSON *e, strata_metrics *m,
                                strata_error *err) {
    char wb[1200];
    if (!cJSON_IsObject(e))
        return strata_error_set(err, STRATA_EFORMAT, "%s: per_query \"%s\" is not an object",
                                where(wb, sizeof wb, path, e->string), e->string);
    double v[STRATA_METRIC_COUNT];
    for (int k = 0; k < STRATA_METRIC_COUNT; k++) {
        const char *name = strata_metric_name((strata_metric_id)k);
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(e, name);
        if (!cJSON_IsNumber(f) || !isfinite(f->valuedouble))
            return strata_error_set(err, STRATA_EFORMAT,
                                    "%s: per_query \"%s\": field \"%s\" %s", where(wb, sizeof wb,
                                    path, e->string), e->string, name,
                                    f ? "is not a finite number" : "missing");
        v[k] = f->valuedouble;
    }
    m->ndcg10 = v[STRATA_METRIC_NDCG10];
    m->recall10 = v[STRATA_METRIC_RECALL10];
    m->recall100 = v[STRATA_METRIC_RECALL100];
    m->mrr10 = v[STRATA_METRIC_MRR10];
    m->map100 = v[STRATA_METRIC_MAP100];
    m->n = 1;
    return STRATA_OK;
}

/* The entries of pq resolved against queries, into *out (strata_malloc). */
static strata_status read_entries(const char *path, const cJSON *pq, strata_texts *queries,
                                  strata_unknown_ids unknown, listed **out, int64_t *nout,
                                  int64_t *skipped, strata_error *err) {
    int64_t n = cJSON_GetArraySize(pq);
    listed *v = strata_malloc_array((size_t)n + 1, sizeof *v);
    if (!v) return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    int64_t k = 0;
    strata_status st = STRATA_OK;
    char wb[1200];
    for (const cJSON *e = pq->child; e && !st; e = e->next) {
        int64_t q = strata_texts_find(queries, e->string);
        if (q < 0 && unknown == STRATA_UNKNOWN_SKIP) {
            (*skipped)++;
            continue;
        }
        if (q < 0 && unknown == STRATA_UNKNOWN_ADD)
            st = strata_texts_add(queries, e->string, "", &q, err);
        else if (q < 0)
            st = strata_error_set(err, STRATA_EFORMAT,
                                  "%s: per_query: unknown query \"%s\" (not in the queries or "
                                  "qrels)",
                                  where(wb, sizeof wb, path, e->string), e->string);
        if (!st) st = read_entry(path, e, &v[k].m, err);
        v[k++].q = q;
    }
    if (st) {
        strata_free(v);
        return st;
    }
    *out = v;
    *nout = k;
    return STRATA_OK;
}

strata_status strata_metrics_read_json(const char *path, strata_texts *queries,
                                       strata_unknown_ids unknown,
                                       strata_metrics **per_query,
                                       int64_t *n_skipped, strata_error *err) {
    if (!path || !queries || !per_query)
        return strata_error_set(err, STRATA_EINVAL, "strata_metrics_read_json: NULL argument");
    *per_query = NULL;
    int64_t skipped = 0;
    if (n_skipped) *n_skipped = 0;
    cJSON *root;
    strata_status st = strata__json_read(path, &root, err);
    if (st) return st;
    const cJSON *pq = cJSON_GetObjectItemCaseSensitive(root, "per_query");
    listed *v = NULL;
    int64_t n = 0;
    if (!cJSON_IsObject(pq))
        st = strata_error_set(err, STRATA_EFORMAT,
                              "%s: no \"per_query\" object (write one with strata eval --out)",
                              path);
    else if (!pq->child)
        st = strata_error_set(err, STRATA_EFORMAT, "%s: \"per_query\" is empty", path);
    else
        st = read_entries(path, pq, queries, unknown, &v, &n, &skipped, err);
    strata_metrics *out = NULL;
    if (!st) {
        out = strata_calloc((size_t)queries->n + 1, sizeof *out);
        if (!out) st = strata_error_set(err, STRATA_ENOMEM, "out of memory");
    }
    char wb[1200];
    for (int64_t i = 0; !st && i < n; i++) {
        if (out[v[i].q].n) {
            const char *id = strata_texts_id(queries, v[i].q);
            st = strata_error_set(err, STRATA_EFORMAT, "%s: per_query lists query \"%s\" twice",
                                  where(wb, sizeof wb, path, id), id);
        }
        out[v[i].q] = v[i].m;
    }
    strata_free(v);
    cJSON_Delete(root);
    if (st) {
        strata_free(out);
        return st;
    }
    if (n_skipped) *n_skipped = skipped;
    *per_query = out;
    return STRATA_OK;
}
