/*
 * compare.h — paired significance between retrieval runs: per-query
 * differences, bootstrap intervals, randomization tests, t-tests, and a
 * correction for multiple comparisons (the conventions of ranx and of
 * trec_eval users).
 *
 * Input. G groups ("runs"), each with S_g >= 1 seeds, each seed a per-query
 * metrics array [NQ] over the same query index space (strata_metrics from
 * eval.h, e.g. the per_query output of strata_eval_metrics /
 * strata_eval_embeddings, or read back by strata_metrics_read_json). A query
 * takes part when it is judged (strata_metrics.n == 1) in every seed of
 * every group; a query judged in some arrays and not in others is an error
 * (the runs were scored on different query sets). Queries are the unit of
 * every test.
 *
 * Seed pooling. The value of group g on query q is the mean of its seeds'
 * values on q: x_g(q) = (1/S_g) sum_s m_{g,s}(q). All tests work on these
 * pooled per-query values, so seeds are treated as fixed (the interval is
 * over queries, not over seeds). Each seed's own mean over queries, and the
 * sample standard deviation (ddof 1) of those means over seeds, are
 * reported beside, so the seed-to-seed spread can be read against the
 * interval. The mean of x_g equals the mean of the seed means.
 *
 * A comparison (a, b) of one metric, d(q) = x_b(q) - x_a(q) over NQ queries:
 *   diff     mean of d (= mean_b - mean_a);
 *   CI       percentile bootstrap interval of mean(d): B replicates, each
 *            drawing NQ queries with replacement (the same draws for every
 *            group, metric and comparison); the ends are the (1-c)/2 and
 *            (1+c)/2 quantiles of the B replicate means, interpolated
 *            linearly between order statistics (numpy's default);
 *   p        two-sided paired randomization (sign-flip) test: the statistic
 *            is T = sum_q d(q); each of P permutations flips the sign of
 *            every d(q) with probability 1/2 (one sign vector per
 *            permutation, shared by all comparisons);
 *            p = (1 + #{|T*| >= |T| - tol}) / (1 + P), which is never 0 and
 *            is a valid p-value; tol = 8 NQ eps sum_q |d(q)| absorbs the
 *            rounding of sums taken with other signs. When 2^NQ <= P every
 *            sign vector is enumerated instead and p = #{...} / 2^NQ
 *            (exact);
 *   t, p_t   paired t-test: t = mean(d) / (sd(d) / sqrt(NQ)), sd with
 *            ddof 1, p_t = 2 P(T_{NQ-1} >= |t|) (Student t through the
 *            regularized incomplete beta function); when sd(d) = 0: t = 0
 *            and p_t = 1 if every d is 0, else t = +-INF and p_t = 0;
 *   effect   d_z = mean(d) / sd(d) (Cohen's d for paired samples; 0 when
 *            every d is 0, +-INF when sd = 0 otherwise);
 *   better / worse / tied   queries with d > 0, d < 0, d = 0.
 * Rounding noise: a per-query difference with |d| <= 1e-12 is set to 0
 * before any of the above. Metrics lie in [0, 1] and different rankings
 * differ by far more, but one value can arrive by two routes that round
 * differently (a metrics JSON keeps 15 significant digits; seeds averaged
 * in another order), and tests over differences of 1e-17 would call such
 * runs different. So identical runs get diff 0, CI [0, 0], p 1, p_t 1.
 * p and p_t are each corrected for multiple comparisons (Holm by default,
 * Bonferroni, or none) over a family: the comparisons of one metric
 * (default), or all comparisons of all metrics (correct_across_metrics).
 *
 * Determinism. Bootstrap replicate r and permutation r draw from their own
 * RNG stream (strata_rng_seed(seed, stream)), so every result is a function
 * of (inputs, parameters, seed) alone, identical for any thread count.
 *
 * Thread-safety: strata_compare uses OpenMP internally; distinct calls on
 * distinct results may run concurrently. Inputs are read-only.
 *
 * Dimensions: G groups, S seeds, NQ queries, M metrics, K comparisons per
 * metric, B bootstrap replicates, P permutations.
 */
#ifndef STRATA_COMPARE_H
#define STRATA_COMPARE_H

#include "strata/strata.h"
#include "strata/data.h"
#include "strata/eval.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Metric names                                                              */
/* ------------------------------------------------------------------------ */

typedef enum strata_metric_id {
    STRATA_METRIC_NDCG10 = 0, /* "ndcg@10"    */
    STRATA_METRIC_RECALL10,   /* "recall@10"  */
    STRATA_METRIC_RECALL100,  /* "recall@100" */
    STRATA_METRIC_MRR10,      /* "mrr@10"     */
    STRATA_METRIC_MAP100,     /* "map@100"    */
    STRATA_METRIC_COUNT
} strata_metric_id;

#define STRATA_METRIC_BIT(id) (1u << (id))
#define STRATA_METRICS_ALL ((1u << STRATA_METRIC_COUNT) - 1u)

/* Name as in the metrics JSON ("ndcg@10", ...); "?" when out of range. */
const char *strata_metric_name(strata_metric_id id);
/* Id of a name (case-sensitive, as above), or -1. */
int strata_metric_parse(const char *name);
/* The field of m that id names. */
double strata_metric_value(const strata_metrics *m, strata_metric_id id);

/* ------------------------------------------------------------------------ */
/* Multiple comparisons                                                      */
/* ------------------------------------------------------------------------ */

typedef enum strata_correction {
    STRATA_CORRECTION_HOLM = 0,   /* Holm-Bonferroni step-down (default) */
    STRATA_CORRECTION_BONFERRONI, /* min(1, n p)                         */
    STRATA_CORRECTION_NONE        /* p unchanged                         */
} strata_correction;

/* "holm", "bonferroni", "none"; and back (-1 when unknown). */
const char *strata_correction_name(strata_correction c);
int strata_correction_parse(const char *name);

/* Adjusted p-values of one family p[0..n) into out[0..n) (out may equal p):
 *   Bonferroni: min(1, n p_i);
 *   Holm: with p sorted ascending p_(1) <= ... <= p_(n),
 *         adj_(j) = min(1, max_{i <= j} (n - i + 1) p_(i)),
 *   as statsmodels' multipletests computes them (ties give equal values
 *   whatever their order). Errors: n < 0, a p outside [0, 1] or NaN. */
strata_status strata_p_adjust(const double *p, int64_t n, strata_correction c,
                              double *out, strata_error *err);

/* ------------------------------------------------------------------------ */
/* Parameters                                                                */
/* ------------------------------------------------------------------------ */

typedef struct strata_compare_group {
    const char *name;                    /* shown in tables; unique, non-empty */
    int n_seeds;                         /* S >= 1                             */
    const strata_metrics *const *seeds;  /* [S] pointers, each to [NQ]         */
} strata_compare_group;

typedef struct strata_compare_params {
    unsigned metrics;        /* STRATA_METRIC_BIT per metric compared;
                                default ndcg@10 and recall@100            */
    int64_t n_bootstrap;     /* B, default 10000 (>= 1)                   */
    int64_t n_permutations;  /* P, default 10000 (>= 1)                   */
    double confidence;       /* interval level c in (0, 1), default 0.95  */
    uint64_t seed;           /* default 1                                 */
    int baseline;            /* group every other is compared with,
                                default 0 (the first)                     */
    int all_pairs;           /* 1: every pair (a, b), a < b, instead      */
    const int *pairs;        /* NULL, or [n_pairs][2] explicit comparisons
                                (a, b), diff = b - a; overrides the two
                                above                                     */
    int n_pairs;
    strata_correction correction;   /* default Holm                       */
    int correct_across_metrics;     /* 0 (default): one family per metric;
                                       1: one family for all metrics      */
    strata_progress progress;       /* stages "bootstrap", "permutations" */
} strata_compare_params;

strata_compare_params strata_compare_default_params(void);

/* ------------------------------------------------------------------------ */
/* Result                                                                    */
/* ------------------------------------------------------------------------ */

typedef struct strata_compare_run_stats {  /* one group, one metric */
    double mean;            /* mean over the NQ queries of x_g            */
    double ci_lo, ci_hi;    /* bootstrap percentile interval of the mean  */
    double seed_sd;         /* sd (ddof 1) of seed_means; 0 for one seed  */
    const double *seed_means; /* [S_g] mean of each seed (into the result) */
} strata_compare_run_stats;

typedef struct strata_compare_pair_stats {  /* one comparison, one metric */
    int a, b;               /* group indices; differences are b - a       */
    strata_metric_id metric;
    double mean_a, mean_b;
    double diff;            /* mean over queries of d = x_b - x_a         */
    double rel_diff;        /* diff / mean_a (NaN when mean_a is 0)       */
    double ci_lo, ci_hi;    /* bootstrap percentile interval of diff      */
    double p;               /* randomization test, two-sided              */
    double p_adj;           /* p corrected over its family                */
    int p_exact;            /* 1: every sign vector enumerated            */
    double t;               /* paired t statistic                         */
    double p_t;             /* paired t-test, two-sided                   */
    double p_t_adj;         /* p_t corrected over its family              */
    double effect;          /* d_z = diff / sd(d)                         */
    int64_t n_better, n_worse, n_tied;
} strata_compare_pair_stats;

typedef struct strata_compare_result {
    int n_groups;             /* G                                        */
    char **names;             /* [G] copies of the group names            */
    int *n_seeds;             /* [G]                                      */
    int n_metrics;            /* M                                        */
    strata_metric_id metrics[STRATA_METRIC_COUNT]; /* [M] in id order    */
    int64_t n_queries;        /* NQ judged queries compared               */
    int n_pairs;              /* K comparisons per metric                 */
    strata_compare_run_stats *runs;    /* [M][G]                          */
    strata_compare_pair_stats *pairs;  /* [M][K]                          */
    strata_compare_params params;      /* as used; pairs set to NULL, and
                                          baseline -1 when explicit pairs
                                          were given                      */
    double *seed_means_;      /* internal storage behind runs[].seed_means */
} strata_compare_result;

void strata_compare_result_free(strata_compare_result *r);

/* Statistics of group g / of comparison (a, b) for metric id, or NULL when
 * that metric or comparison was not computed. */
const strata_compare_run_stats *strata_compare_get_run(const strata_compare_result *r,
                                                       strata_metric_id id, int g);
const strata_compare_pair_stats *strata_compare_get_pair(const strata_compare_result *r,
                                                         strata_metric_id id, int a, int b);

/* ------------------------------------------------------------------------ */
/* Comparing                                                                 */
/* ------------------------------------------------------------------------ */

/* Compares the G groups over NQ queries as described at the top.
 *   groups     [G], G >= 2; each seeds[s] points to [NQ] metrics
 *   query_ids  [NQ] names used in error messages, or NULL (indices)
 *   p          NULL: strata_compare_default_params()
 *   out        overwritten; free with strata_compare_result_free
 * Errors (STRATA_EINVAL): G < 2, a group without seeds or name, duplicate
 * names, fewer than 2 queries judged everywhere, a query judged in one
 * array and not in another (names the query, group and seed), a
 * non-finite metric value, no metric selected, B or P < 1, confidence
 * outside (0, 1), a bad baseline or pair; STRATA_ENOMEM. */
strata_status strata_compare(const strata_compare_group *groups, int n_groups,
                             int64_t nq, const char *const *query_ids,
                             const strata_compare_params *p,
                             strata_compare_result *out, strata_error *err);

/* ------------------------------------------------------------------------ */
/* Reading, writing, printing                                                */
/* ------------------------------------------------------------------------ */

/* The result as a text table per metric (what `strata compare` prints):
 * each group's mean, bootstrap interval, seeds and seed sd; then each
 * comparison's difference, interval, relative difference, p, corrected p,
 * (with show_ttest: t-test p and its correction), d_z and the
 * better/worse/tied counts. Returns a NUL-terminated string to free with
 * strata_free, or NULL when out of memory. */
char *strata_compare_table(const strata_compare_result *r, int show_ttest);

/* Writes the result as JSON, atomically (format in docs/compare.md).
 * Non-finite numbers are written as null. */
strata_status strata_compare_write_json(const char *path,
                                        const strata_compare_result *r,
                                        strata_error *err);

/* Reads the "per_query" object of a metrics JSON written by
 * strata_metrics_write_json (`strata eval --out`). Query ids are resolved
 * against queries: unknown is STRATA_UNKNOWN_ERROR (an unknown id is an
 * error), _SKIP (skipped, counted in *n_skipped) or _ADD (added to
 * queries). *per_query receives a strata_malloc'd array [queries->n after
 * the call]: the listed queries with n = 1, every other query zeroed (n 0).
 * Errors name the file, the query and the field: no "per_query" object, a
 * query entry that is not an object, one of the five metrics missing or
 * not a finite number, a query listed twice. n_skipped may be NULL. */
strata_status strata_metrics_read_json(const char *path, strata_texts *queries,
                                       strata_unknown_ids unknown,
                                       strata_metrics **per_query,
                                       int64_t *n_skipped, strata_error *err);

#ifdef __cplusplus
}
#endif

#endif /* STRATA_COMPARE_H */
