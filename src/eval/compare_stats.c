/*
 * compare_stats.c — the statistics behind compare.c that stand alone:
 * metric and correction names, multiple-comparison corrections (Holm,
 * Bonferroni) and the two-sided tail of Student's t.
 */
#define _POSIX_C_SOURCE 200809L
#include "strata/compare.h"
#include "eval/compare_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Names                                                                     */
/* ------------------------------------------------------------------------ */

static const char *const METRIC_NAMES[STRATA_METRIC_COUNT] = {
    "ndcg@10", "recall@10", "recall@100", "mrr@10", "map@100"};

const char *strata_metric_name(strata_metric_id id) {
    return (int)id >= 0 && id < STRATA_METRIC_COUNT ? METRIC_NAMES[id] : "?";
}

int strata_metric_parse(const char *name) {
    for (int i = 0; name && i < STRATA_METRIC_COUNT; i++)
        if (strcmp(name, METRIC_NAMES[i]) == 0) return i;
    return -1;
}

double strata_metric_value(const strata_metrics *m, strata_metric_id id) {
    switch (id) {
    case STRATA_METRIC_NDCG10: return m->ndcg10;
    case STRATA_METRIC_RECALL10: return m->recall10;
    case STRATA_METRIC_RECALL100: return m->recall100;
    case STRATA_METRIC_MRR10: return m->mrr10;
    case STRATA_METRIC_MAP100: return m->map100;
    default: return NAN;
    }
}

static const char *const CORR_NAMES[] = {"holm", "bonferroni", "none"};

const char *strata_correction_name(strata_correction c) {
    return (int)c >= 0 && c <= STRATA_CORRECTION_NONE ? CORR_NAMES[c] : "?";
}

int strata_correction_parse(const char *name) {
    for (int i = 0; name && i <= STRATA_CORRECTION_NONE; i++)
        if (strcmp(name, CORR_NAMES[i]) == 0) return i;
    return -1;
}

/* ------------------------------------------------------------------------ */
/* Multiple comparisons                                                      */
/* ------------------------------------------------------------------------ */

typedef struct pidx {
    double p;
    int64_t i;
} pidx;

static int cmp_pidx(const void *a, const void *b) {
    const pidx *x = a, *y = b;
    if (x->p != y->p) return x->p < y->p ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

strata_status strata_p_adjust(const double *p, int64_t n, strata_correction c,
                              double *out, strata_error *err) {
    if (n < 0 || (n > 0 && (!p || !out)))
        return strata_error_set(err, STRATA_EINVAL, "p_adjust: bad arguments");
    if ((int)c < 0 || c > STRATA_CORRECTION_NONE)
        return strata_error_set(err, STRATA_EINVAL, "p_adjust: unknown correction %d", (int)c);
    for (int64_t i = 0; i < n; i++)
        if (!(p[i] >= 0.0 && p[i] <= 1.0))
            return strata_error_set(err, STRATA_EINVAL, "p_adjust: p[%lld] = %g is not in [0, 1]",
                                    (long long)i, p[i]);
    if (c == STRATA_CORRECTION_NONE) {
        if (out != p) memmove(out, p, (size_t)n * sizeof *out);
        return STRATA_OK;
    }
    if (c == STRATA_CORRECTION_BONFERRONI) {
        for (int64_t i = 0; i < n; i++) out[i] = fmin(1.0, (double)n * p[i]);
        return STRATA_OK;
    }
    pidx *v = strata_malloc_array((size_t)n + 1, sizeof *v);
    if (!v) return strata_error_set(err, STRATA_ENOMEM, "p_adjust: out of memory");
    for (int64_t i = 0; i < n; i++) {
        v[i].p = p[i];
        v[i].i = i;
    }
    qsort(v, (size_t)n, sizeof *v, cmp_pidx);
    double run = 0.0;
    for (int64_t j = 0; j < n; j++) {
        double a = fmin(1.0, (double)(n - j) * v[j].p);
        if (a > run) run = a;
        out[v[j].i] = run;
    }
    strata_free(v);
    return STRATA_OK;
}

/* ------------------------------------------------------------------------ */
/* Student t                                                                 */
/* ------------------------------------------------------------------------ */

/* Continued fraction of the incomplete beta function (modified Lentz). */
static double betacf(double a, double b, double x) {
    const double tiny = 1e-300, eps = 4e-16;
    double qab = a + b, qap = a + 1.0, qam = a - 1.0;
    double c = 1.0, d = 1.0 - qab * x / qap;
    if (fabs(d) < tiny) d = tiny;
    d = 1.0 / d;
    double h = d;
    for (int m = 1; m <= 200000; m++) {
        double m2 = 2.0 * m;
        double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        if (fabs(d) < tiny) d = tiny;
        c = 1.0 + aa / c;
        if (fabs(c) < tiny) c = tiny;
        d = 1.0 / d;
        h *= d * c;
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        if (fabs(d) < tiny) d = tiny;
        c = 1.0 + aa / c;
        if (fabs(c) < tiny) c = tiny;
        d = 1.0 / d;
        double del = d * c;
        h *= del;
        if (fabs(del - 1.0) < eps) break;
    }
    return h;
}

/* log Gamma(a + 1/2) - log Gamma(a), without cancellation for large a:
 * Stirling's series for both terms, whose leading parts combine into
 * a log1p(1/(2a)) + log(a)/2 - 1/2. */
static double lgamma_half_diff(double a) {
    if (a < 20.0) return lgamma(a + 0.5) - lgamma(a);
#define STIRLING_S(x) \
    (1.0 / (12.0 * (x)) - 1.0 / (360.0 * (x) * (x) * (x)) + 1.0 / (1260.0 * pow((x), 5)) - \
     1.0 / (1680.0 * pow((x), 7)))
    double s = STIRLING_S(a + 0.5) - STIRLING_S(a);
#undef STIRLING_S
    return a * log1p(0.5 / a) + 0.5 * log(a) - 0.5 + s;
}

double strata__t_p_two_sided(double t, double df) {
    if (isnan(t) || !(df > 0)) return NAN;
    if (isinf(t)) return 0.0;
    if (t == 0.0) return 1.0;
    double t2 = t * t;
    double a = 0.5 * df, b = 0.5;
    /* x = df / (df + t^2), y = 1 - x = t^2 / (df + t^2), both without
     * cancellation; log x = -log1p(t^2 / df) */
    double y = t2 / (df + t2), x = df / (df + t2);
    /* log B(a, 1/2) = log Gamma(1/2) - (log Gamma(a + 1/2) - log Gamma(a)) */
    double lbeta = 0.57236494292470008707 - lgamma_half_diff(a);
    double lx = -log1p(t2 / df), ly = log(y);
    double front = exp(a * lx + b * ly - lbeta);
    if (x < (a + 1.0) / (a + b + 2.0)) return front * betacf(a, b, x) / a;
    return 1.0 - front * betacf(b, a, y) / b;
}
