/*
 * compare.c — paired significance between runs (see compare.h for the
 * statistics and their conventions).
 *
 * Layout of the working arrays (NQ = judged queries kept, W = M*G + M*K):
 *   Y [NQ][W]     row of query q: the pooled value of group g, metric m at
 *                 m*G + g, then the difference of comparison k, metric m
 *                 at M*G + m*K + k
 *   boot [W][B]   bootstrap replicate means of every column of Y
 * A query's values are contiguous, so a bootstrap draw or a sign flip
 * touches one short row. The interval of a difference is taken from the
 * replicate means of its own column (not as a difference of two group
 * columns), so a difference that is 0 on every query has the interval
 * [0, 0] exactly.
 *
 * Rounding noise: a per-query difference with |d| <= 1e-12 is set to 0.
 * Metric values lie in [0, 1] and distinct rankings differ by far more,
 * but the same value can reach us through two routes that round
 * differently (a metrics JSON keeps 15 significant digits; seeds averaged
 * in another order), and a randomization or t-test over differences of
 * 1e-17 would report them as "significant".
 *
 * Thread-count independence: replicate r (bootstrap or permutation) seeds
 * its own RNG from (seed, stream + r) and writes only its own outputs (a
 * column of boot); permutation counts are integers, summed per thread and
 * then over threads, which is exact in any order. Each thread has its own
 * scratch row. OpenMP runs over about ten chunks of replicates, so progress
 * is reported from the calling thread between chunks while the barriers
 * stay few (a barrier per 256 replicates cost 10x on a loaded machine).
 */
#define _POSIX_C_SOURCE 200809L
#include "strata/compare.h"
#include "core/internal.h"
#include "eval/compare_internal.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/* Replicates per parallel chunk: about a tenth of n, at least 256. */
static int64_t chunk_of(int64_t n) { return n / 10 > 256 ? n / 10 : 256; }

/* ------------------------------------------------------------------------ */
/* Parameters and result                                                     */
/* ------------------------------------------------------------------------ */

strata_compare_params strata_compare_default_params(void) {
    strata_compare_params p;
    memset(&p, 0, sizeof p);
    p.metrics = STRATA_METRIC_BIT(STRATA_METRIC_NDCG10) | STRATA_METRIC_BIT(STRATA_METRIC_RECALL100);
    p.n_bootstrap = 10000;
    p.n_permutations = 10000;
    p.confidence = 0.95;
    p.seed = 1;
    p.correction = STRATA_CORRECTION_HOLM;
    return p;
}

void strata_compare_result_free(strata_compare_result *r) {
    if (!r) return;
    for (int g = 0; r->names && g < r->n_groups; g++) strata_free(r->names[g]);
    strata_free(r->names);
    strata_free(r->n_seeds);
    strata_free(r->runs);
    strata_free(r->pairs);
    strata_free(r->seed_means_);
    memset(r, 0, sizeof *r);
}

static int metric_index(const strata_compare_result *r, strata_metric_id id) {
    for (int m = 0; m < r->n_metrics; m++)
        if (r->metrics[m] == id) return m;
    return -1;
}

const strata_compare_run_stats *strata_compare_get_run(const strata_compare_result *r,
                                                       strata_metric_id id, int g) {
    int m = r ? metric_index(r, id) : -1;
    if (m < 0 || g < 0 || g >= r->n_groups) return NULL;
    return &r->runs[(size_t)m * r->n_groups + g];
}

const strata_compare_pair_stats *strata_compare_get_pair(const strata_compare_result *r,
                                                         strata_metric_id id, int a, int b) {
    int m = r ? metric_index(r, id) : -1;
    if (m < 0) return NULL;
    for (int k = 0; k < r->n_pairs; k++) {
        const strata_compare_pair_stats *s = &r->pairs[(size_t)m * r->n_pairs + k];
        if (s->a == a && s->b == b) return s;
    }
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Validation and pooling                                                    */
/* ------------------------------------------------------------------------ */

typedef struct work {
    int G, M, K;
    int64_t nq;               /* judged queries kept (NQ)        */
    int64_t B, P;
    uint64_t seed;
    strata_metric_id met[STRATA_METRIC_COUNT];
    int *pa, *pb;             /* [K] comparison groups           */
    int W;                    /* M*G + M*K                       */
    double *Y;                /* [NQ][W]                         */
    double *boot;             /* [W][B]                          */
    int64_t *hits;            /* [M*K] permutation counts        */
    int exact;                /* permutations enumerated         */
    int64_t n_perm;           /* permutations made (2^NQ if exact) */
} work;

static void work_free(work *w) {
    strata_free(w->pa);
    strata_free(w->pb);
    strata_free(w->Y);
    strata_free(w->boot);
    strata_free(w->hits);
}

static const char *qname(const char *const *ids, int64_t q, char *buf, size_t n) {
    if (ids && ids[q]) return ids[q];
    snprintf(buf, n, "#%lld", (long long)q);
    return buf;
}

/* Checks names, seeds and the judged sets; fills w->nq. */
static strata_status check_groups(const strata_compare_group *g, int G, int64_t nq,
                                  const char *const *ids, work *w, strata_error *err) {
    for (int i = 0; i < G; i++) {
        if (!g[i].name || !g[i].name[0])
            return strata_error_set(err, STRATA_EINVAL, "compare: run %d has no name", i + 1);
        if (g[i].n_seeds < 1 || !g[i].seeds)
            return strata_error_set(err, STRATA_EINVAL, "compare: run \"%s\" has no seeds",
                                    g[i].name);
        for (int s = 0; s < g[i].n_seeds; s++)
            if (!g[i].seeds[s] && nq > 0)
                return strata_error_set(err, STRATA_EINVAL,
                                        "compare: run \"%s\" seed %d: NULL metrics", g[i].name,
                                        s + 1);
        for (int j = 0; j < i; j++)
            if (strcmp(g[i].name, g[j].name) == 0)
                return strata_error_set(err, STRATA_EINVAL, "compare: duplicate run name \"%s\"",
                                        g[i].name);
    }
    char buf[32];
    int64_t n = 0;
    for (int64_t q = 0; q < nq; q++) {
        int judged = g[0].seeds[0][q].n != 0;
        for (int i = 0; i < G; i++)
            for (int s = 0; s < g[i].n_seeds; s++) {
                const strata_metrics *m = &g[i].seeds[s][q];
                if ((m->n != 0) != judged) {
                    int jg = judged ? 0 : i, js = judged ? 0 : s;
                    int ng = judged ? i : 0, ns = judged ? s : 0;
                    return strata_error_set(
                        err, STRATA_EINVAL,
                        "compare: query \"%s\" is judged in run \"%s\" (seed %d) but not in "
                        "run \"%s\" (seed %d): the runs were scored on different query sets",
                        qname(ids, q, buf, sizeof buf), g[jg].name, js + 1, g[ng].name, ns + 1);
                }
                if (!judged) continue;
                for (int k = 0; k < w->M; k++)
                    if (!isfinite(strata_metric_value(m, w->met[k])))
                        return strata_error_set(err, STRATA_EINVAL,
                                                "compare: run \"%s\" seed %d, query \"%s\": %s "
                                                "is not a finite number",
                                                g[i].name, s + 1, qname(ids, q, buf, sizeof buf),
                                                strata_metric_name(w->met[k]));
            }
        n += judged;
    }
    if (n < 2)
        return strata_error_set(err, STRATA_EINVAL,
                                "compare: %lld judged quer%s in common; at least 2 are needed",
                                (long long)n, n == 1 ? "y" : "ies");
    w->nq = n;
    return STRATA_OK;
}

/* The comparisons (a, b) from the parameters. */
static strata_status make_pairs(const strata_compare_params *p, int G, work *w,
                                strata_error *err) {
    int K;
    if (p->pairs) K = p->n_pairs;
    else if (p->all_pairs) K = G * (G - 1) / 2;
    else K = G - 1;
    if (K < 1)
        return strata_error_set(err, STRATA_EINVAL, "compare: no comparison to make (%d pairs)", K);
    if (!p->pairs && (p->baseline < 0 || p->baseline >= G))
        return strata_error_set(err, STRATA_EINVAL, "compare: baseline %d is not a run (0..%d)",
                                p->baseline, G - 1);
    w->pa = strata_malloc_array((size_t)K, sizeof *w->pa);
    w->pb = strata_malloc_array((size_t)K, sizeof *w->pb);
    if (!w->pa || !w->pb) return strata_error_set(err, STRATA_ENOMEM, "compare: out of memory");
    int k = 0;
    if (p->pairs) {
        for (; k < K; k++) {
            int a = p->pairs[2 * k], b = p->pairs[2 * k + 1];
            if (a < 0 || a >= G || b < 0 || b >= G || a == b)
                return strata_error_set(err, STRATA_EINVAL,
                                        "compare: pair %d is (%d, %d): need two different runs "
                                        "in 0..%d",
                                        k, a, b, G - 1);
            w->pa[k] = a;
            w->pb[k] = b;
        }
    } else if (p->all_pairs) {
        for (int a = 0; a < G; a++)
            for (int b = a + 1; b < G; b++) {
                w->pa[k] = a;
                w->pb[k++] = b;
            }
    } else {
        for (int b = 0; b < G; b++)
            if (b != p->baseline) {
                w->pa[k] = p->baseline;
                w->pb[k++] = b;
            }
    }
    w->K = K;
    return STRATA_OK;
}

/* Y and the seed means. seed_means: [M][sum of seeds], group g's seeds
 * from soff[g]. */
static void pool(const strata_compare_group *g, int64_t nq_all, work *w, double *seed_means,
                 const int *soff, int stot) {
    int G = w->G, M = w->M, K = w->K;
    int64_t r = 0;
    for (int64_t q = 0; q < nq_all; q++) {
        if (!g[0].seeds[0][q].n) continue;
        double *x = w->Y + (size_t)r * w->W, *d = x + M * G;
        for (int m = 0; m < M; m++)
            for (int i = 0; i < G; i++) {
                double s = 0.0;
                for (int j = 0; j < g[i].n_seeds; j++) {
                    double v = strata_metric_value(&g[i].seeds[j][q], w->met[m]);
                    s += v;
                    seed_means[(size_t)m * stot + soff[i] + j] += v;
                }
                x[m * G + i] = s / g[i].n_seeds;
            }
        for (int m = 0; m < M; m++)
            for (int k = 0; k < K; k++) {
                double v = x[m * G + w->pb[k]] - x[m * G + w->pa[k]];
                d[m * K + k] = fabs(v) <= 1e-12 ? 0.0 : v;
            }
        r++;
    }
    for (size_t i = 0; i < (size_t)M * stot; i++) seed_means[i] /= (double)w->nq;
}

/* ------------------------------------------------------------------------ */
/* Bootstrap and permutations                                                */
/* ------------------------------------------------------------------------ */

/* scratch: [threads][W]. */
static void bootstrap(work *w, double *scratch, const strata_progress *prog) {
    int64_t B = w->B, nq = w->nq, chunk = chunk_of(B);
    int W = w->W;
    for (int64_t r0 = 0; r0 < B; r0 += chunk) {
        int64_t r1 = r0 + chunk < B ? r0 + chunk : B;
#pragma omp parallel
        {
            double *acc = scratch + (size_t)strata__thread_num() * W;
#pragma omp for schedule(static)
            for (int64_t r = r0; r < r1; r++) {
                strata_rng rng;
                strata_rng_seed(&rng, w->seed, STRATA__STREAM_BOOT + (uint64_t)r);
                for (int j = 0; j < W; j++) acc[j] = 0.0;
                for (int64_t i = 0; i < nq; i++) {
                    const double *y = w->Y + (size_t)strata_rng_below(&rng, (uint64_t)nq) * W;
                    for (int j = 0; j < W; j++) acc[j] += y[j];
                }
                for (int j = 0; j < W; j++) w->boot[(size_t)j * B + r] = acc[j] / (double)nq;
            }
        }
        strata_progress_report(prog, "bootstrap", r1, B, "replicates");
    }
}

/* Counts, per comparison, the sign vectors whose |sum| reaches the
 * observed |sum| (within tol). scratch: [threads][MK] doubles, cnt:
 * [threads][MK] counts. */
static void permutations(work *w, const double *T, const double *tol, double *scratch,
                         int64_t *cnt, int nthreads, const strata_progress *prog) {
    int64_t P = w->n_perm, nq = w->nq, chunk = chunk_of(P);
    int MK = w->M * w->K, MG = w->M * w->G, W = w->W;
    for (size_t j = 0; j < (size_t)nthreads * MK; j++) cnt[j] = 0;
    for (int64_t r0 = 0; r0 < P; r0 += chunk) {
        int64_t r1 = r0 + chunk < P ? r0 + chunk : P;
#pragma omp parallel
        {
            double *acc = scratch + (size_t)strata__thread_num() * MK;
            int64_t *c = cnt + (size_t)strata__thread_num() * MK;
#pragma omp for schedule(static)
            for (int64_t r = r0; r < r1; r++) {
                strata_rng rng;
                strata_rng_seed(&rng, w->seed, STRATA__STREAM_PERM + (uint64_t)r);
                for (int j = 0; j < MK; j++) acc[j] = 0.0;
                uint64_t bits = 0;
                for (int64_t q = 0; q < nq; q++) {
                    if (w->exact) bits = (uint64_t)r >> q;
                    else if ((q & 63) == 0) bits = strata_rng_next(&rng);
                    else bits >>= 1;
                    const double *d = w->Y + (size_t)q * W + MG;
                    if (bits & 1u)
                        for (int j = 0; j < MK; j++) acc[j] += d[j];
                    else
                        for (int j = 0; j < MK; j++) acc[j] -= d[j];
                }
                for (int j = 0; j < MK; j++) c[j] += fabs(acc[j]) >= fabs(T[j]) - tol[j];
            }
        }
        strata_progress_report(prog, "permutations", r1, P, "permutations");
    }
    for (int j = 0; j < MK; j++) {
        w->hits[j] = 0;
        for (int t = 0; t < nthreads; t++) w->hits[j] += cnt[(size_t)t * MK + j];
    }
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* numpy.percentile's default ("linear"): v sorted, n >= 1, q in [0, 1]. */
static double quantile(const double *v, int64_t n, double q) {
    double h = (double)(n - 1) * q;
    int64_t lo = (int64_t)floor(h);
    if (lo >= n - 1) return v[n - 1];
    if (lo < 0) return v[0];
    return v[lo] + (h - (double)lo) * (v[lo + 1] - v[lo]);
}

static void interval(double *v, int64_t n, double conf, double *lo, double *hi) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    *lo = quantile(v, n, 0.5 * (1.0 - conf));
    *hi = quantile(v, n, 0.5 * (1.0 + conf));
}

/* ------------------------------------------------------------------------ */
/* Per-comparison statistics                                                 */
/* ------------------------------------------------------------------------ */

/* Everything of comparison k, metric m except the p-values' corrections.
 * Sorts the bootstrap row of the comparison. */
static void pair_stats(const work *w, int m, int k, double conf, strata_compare_pair_stats *s) {
    int64_t nq = w->nq;
    int G = w->G, MG = w->M * G, j = MG + m * w->K + k;
    s->a = w->pa[k];
    s->b = w->pb[k];
    s->metric = w->met[m];
    double sa = 0, sb = 0, sd = 0;
    int64_t better = 0, worse = 0;
    for (int64_t q = 0; q < nq; q++) {
        const double *y = w->Y + (size_t)q * w->W;
        double d = y[j];
        sa += y[m * G + s->a];
        sb += y[m * G + s->b];
        sd += d;
        better += d > 0.0;
        worse += d < 0.0;
    }
    s->mean_a = sa / (double)nq;
    s->mean_b = sb / (double)nq;
    s->diff = sd / (double)nq;
    s->rel_diff = s->mean_a != 0.0 ? s->diff / s->mean_a : NAN;
    s->n_better = better;
    s->n_worse = worse;
    s->n_tied = nq - better - worse;
    double ss = 0;
    for (int64_t q = 0; q < nq; q++) {
        double e = w->Y[(size_t)q * w->W + j] - s->diff;
        ss += e * e;
    }
    double sdv = sqrt(ss / (double)(nq - 1));
    if (better + worse == 0) {
        s->t = 0.0;
        s->effect = 0.0;
        s->p_t = 1.0;
    } else if (sdv == 0.0) {
        s->t = s->diff > 0 ? INFINITY : -INFINITY;
        s->effect = s->t;
        s->p_t = 0.0;
    } else {
        s->t = s->diff / (sdv / sqrt((double)nq));
        s->effect = s->diff / sdv;
        s->p_t = strata__t_p_two_sided(s->t, (double)(nq - 1));
    }
    interval(w->boot + (size_t)j * w->B, w->B, conf, &s->ci_lo, &s->ci_hi);
    int64_t h = w->hits[m * w->K + k];
    s->p_exact = w->exact;
    s->p = w->exact ? (double)h / (double)w->n_perm : (double)(h + 1) / (double)(w->n_perm + 1);
}

/* Corrects p and p_t over each family. */
static strata_status correct(strata_compare_result *r, double *tmp, strata_error *err) {
    int M = r->n_metrics, K = r->n_pairs;
    int fam = r->params.correct_across_metrics ? M * K : K;
    for (int f0 = 0; f0 < M * K; f0 += fam) {
        for (int which = 0; which < 2; which++) {
            for (int i = 0; i < fam; i++) {
                const strata_compare_pair_stats *s = &r->pairs[f0 + i];
                tmp[i] = which ? s->p_t : s->p;
            }
            strata_status st = strata_p_adjust(tmp, fam, r->params.correction, tmp, err);
            if (st) return st;
            for (int i = 0; i < fam; i++) {
                if (which) r->pairs[f0 + i].p_t_adj = tmp[i];
                else r->pairs[f0 + i].p_adj = tmp[i];
            }
        }
    }
    return STRATA_OK;
}

/* ------------------------------------------------------------------------ */
/* Entry                                                                     */
/* ------------------------------------------------------------------------ */

static strata_status check_params(const strata_compare_params *p, work *w, strata_error *err) {
    if ((p->metrics & STRATA_METRICS_ALL) == 0 || (p->metrics & ~STRATA_METRICS_ALL))
        return strata_error_set(err, STRATA_EINVAL, "compare: metrics mask 0x%x selects no "
                                "known metric", p->metrics);
    if (p->n_bootstrap < 1 || p->n_permutations < 1)
        return strata_error_set(err, STRATA_EINVAL,
                                "compare: bootstrap replicates and permutations must be >= 1 "
                                "(got %lld and %lld)",
                                (long long)p->n_bootstrap, (long long)p->n_permutations);
    if (!(p->confidence > 0.0 && p->confidence < 1.0))
        return strata_error_set(err, STRATA_EINVAL, "compare: confidence %g is not in (0, 1)",
                                p->confidence);
    if ((int)p->correction < 0 || p->correction > STRATA_CORRECTION_NONE)
        return strata_error_set(err, STRATA_EINVAL, "compare: unknown correction %d",
                                (int)p->correction);
    w->M = 0;
    for (int i = 0; i < STRATA_METRIC_COUNT; i++)
        if (p->metrics & STRATA_METRIC_BIT(i)) w->met[w->M++] = (strata_metric_id)i;
    w->B = p->n_bootstrap;
    w->P = p->n_permutations;
    w->seed = p->seed;
    return STRATA_OK;
}

/* Allocates the result's arrays and the work arrays; soff/stot: seeds. */
static strata_status alloc_all(const strata_compare_group *groups, work *w,
                               strata_compare_result *out, int **soff, int *stot,
                               strata_error *err) {
    int G = w->G, M = w->M, K = w->K;
    size_t ny, nb;
    w->W = M * G + M * K;
    if (strata_size_mul((size_t)w->nq, (size_t)w->W, &ny) ||
        strata_size_mul((size_t)w->B, (size_t)w->W, &nb))
        return strata_error_set(err, STRATA_ENOMEM, "compare: size overflow");
    *soff = strata_malloc_array((size_t)G + 1, sizeof **soff);
    if (!*soff) return strata_error_set(err, STRATA_ENOMEM, "compare: out of memory");
    (*soff)[0] = 0;
    for (int g = 0; g < G; g++) (*soff)[g + 1] = (*soff)[g] + groups[g].n_seeds;
    *stot = (*soff)[G];
    w->Y = strata_malloc_array(ny, sizeof *w->Y);
    w->boot = strata_malloc_array(nb, sizeof *w->boot);
    w->hits = strata_calloc((size_t)M * K, sizeof *w->hits);
    out->names = strata_calloc((size_t)G, sizeof *out->names);
    out->n_seeds = strata_malloc_array((size_t)G, sizeof *out->n_seeds);
    out->runs = strata_calloc((size_t)M * G, sizeof *out->runs);
    out->pairs = strata_calloc((size_t)M * K, sizeof *out->pairs);
    out->seed_means_ = strata_calloc((size_t)M * *stot, sizeof *out->seed_means_);
    int ok = w->Y && w->boot && w->hits && out->names && out->n_seeds && out->runs &&
             out->pairs && out->seed_means_;
    for (int g = 0; ok && g < G; g++) {
        out->names[g] = strata_strdup(groups[g].name);
        out->n_seeds[g] = groups[g].n_seeds;
        ok = out->names[g] != NULL;
    }
    return ok ? STRATA_OK : strata_error_set(err, STRATA_ENOMEM, "compare: out of memory");
}

/* Group statistics of every metric (sorts the groups' bootstrap rows). */
static void run_stats(work *w, strata_compare_result *out, const int *soff, int stot,
                      double conf) {
    int G = w->G;
    for (int m = 0; m < w->M; m++)
        for (int g = 0; g < G; g++) {
            strata_compare_run_stats *s = &out->runs[(size_t)m * G + g];
            double sum = 0;
            for (int64_t q = 0; q < w->nq; q++) sum += w->Y[(size_t)q * w->W + m * G + g];
            s->mean = sum / (double)w->nq;
            const double *sm = out->seed_means_ + (size_t)m * stot + soff[g];
            int S = out->n_seeds[g];
            double mu = 0, ss = 0;
            for (int j = 0; j < S; j++) mu += sm[j];
            mu /= S;
            for (int j = 0; j < S; j++) ss += (sm[j] - mu) * (sm[j] - mu);
            s->seed_sd = S > 1 ? sqrt(ss / (S - 1)) : 0.0;
            s->seed_means = sm;
            interval(w->boot + (size_t)(m * G + g) * w->B, w->B, conf, &s->ci_lo, &s->ci_hi);
        }
}

/* The permutation test: observed sums, their rounding tolerance, counts.
 * scratch: [threads][MK] + [2][MK] doubles; cnt: [threads][MK]. */
static void randomization(work *w, double *scratch, int64_t *cnt, int nthreads,
                          const strata_progress *prog) {
    int MK = w->M * w->K, MG = w->M * w->G;
    double *T = scratch + (size_t)nthreads * MK, *tol = T + MK;
    for (int j = 0; j < MK; j++) {
        double s = 0, a = 0;
        for (int64_t q = 0; q < w->nq; q++) {
            double d = w->Y[(size_t)q * w->W + MG + j];
            s += d;
            a += fabs(d);
        }
        T[j] = s;
        tol[j] = 8.0 * (double)w->nq * DBL_EPSILON * a;
    }
    w->exact = w->nq <= 40 && (1ull << w->nq) <= (uint64_t)w->P;
    w->n_perm = w->exact ? (int64_t)(1ull << w->nq) : w->P;
    permutations(w, T, tol, scratch, cnt, nthreads, prog);
}

strata_status strata_compare(const strata_compare_group *groups, int n_groups,
                             int64_t nq, const char *const *query_ids,
                             const strata_compare_params *params,
                             strata_compare_result *out, strata_error *err) {
    if (!out) return strata_error_set(err, STRATA_EINVAL, "compare: NULL result");
    memset(out, 0, sizeof *out);
    if (!groups || n_groups < 2)
        return strata_error_set(err, STRATA_EINVAL, "compare: need at least 2 runs (got %d)",
                                groups ? n_groups : 0);
    if (nq < 0) return strata_error_set(err, STRATA_EINVAL, "compare: negative query count");
    strata_compare_params p = params ? *params : strata_compare_default_params();
    work w;
    memset(&w, 0, sizeof w);
    w.G = n_groups;
    strata_status st = check_params(&p, &w, err);
    if (!st) st = check_groups(groups, n_groups, nq, query_ids, &w, err);
    if (!st) st = make_pairs(&p, n_groups, &w, err);
    int *soff = NULL, stot = 0;
    if (!st) st = alloc_all(groups, &w, out, &soff, &stot, err);
    /* scratch: a row of W per thread, then T and tol; counts per thread */
    int nthreads = strata__max_threads();
    size_t ntmp = ((size_t)nthreads + 2) * (size_t)w.W;
    double *tmp = st ? NULL : strata_malloc_array(ntmp, sizeof *tmp);
    int64_t *cnt = st ? NULL : strata_malloc_array((size_t)nthreads * w.W + 1, sizeof *cnt);
    if (!st && (!tmp || !cnt)) st = strata_error_set(err, STRATA_ENOMEM, "compare: out of memory");
    if (!st) {
        out->n_groups = w.G;
        out->n_metrics = w.M;
        memcpy(out->metrics, w.met, sizeof w.met);
        out->n_queries = w.nq;
        out->n_pairs = w.K;
        out->params = p;
        out->params.pairs = NULL;
        out->params.n_pairs = w.K;
        if (p.pairs) {
            out->params.baseline = -1;
            out->params.all_pairs = 0;
        }
        pool(groups, nq, &w, out->seed_means_, soff, stot);
        bootstrap(&w, tmp, &p.progress);
        randomization(&w, tmp, cnt, nthreads, &p.progress);
        for (int m = 0; m < w.M; m++)
            for (int k = 0; k < w.K; k++)
                pair_stats(&w, m, k, p.confidence, &out->pairs[(size_t)m * w.K + k]);
        st = correct(out, tmp, err);
        if (!st) run_stats(&w, out, soff, stot, p.confidence);
    }
    strata_free(tmp);
    strata_free(cnt);
    strata_free(soff);
    work_free(&w);
    if (st) strata_compare_result_free(out);
    return st;
}
