/*
 * params.c — the planner's names and defaults: strategy and order names,
 * strata_plan_default_params, strata_plan_free, and the curriculum
 * specification ("cluster:2,random:1") parser.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <cblas.h>

#include "plan/plan_internal.h"
#include "core/internal.h"

/* ------------------------------------------------------------------------ */
/* Names and defaults                                                        */
/* ------------------------------------------------------------------------ */

static const char *k_strategy[] = {"random", "source", "cluster"};
static const char *k_order[] = {"random", "tsp"};

int strata_plan_strategy_parse(const char *s, strata_plan_strategy *out) {
    for (int i = 0; i < 3; i++)
        if (s && !strcmp(s, k_strategy[i])) { *out = (strata_plan_strategy)i; return 0; }
    return -1;
}

int strata_plan_order_parse(const char *s, strata_plan_order *out) {
    for (int i = 0; i < 2; i++)
        if (s && !strcmp(s, k_order[i])) { *out = (strata_plan_order)i; return 0; }
    return -1;
}

const char *strata_plan_strategy_name(strata_plan_strategy s) {
    return (unsigned)s < 3 ? k_strategy[s] : "?";
}

const char *strata_plan_order_name(strata_plan_order o) {
    return (unsigned)o < 2 ? k_order[o] : "?";
}

strata_plan_params strata_plan_default_params(void) {
    strata_plan_params p;
    memset(&p, 0, sizeof p);
    p.batch_size = 64;
    p.epochs = 1;
    p.order = STRATA_ORDER_RANDOM;
    p.margin = 0.0;
    p.seed = 1;
    return p;
}

void strata_plan_free(strata_plan *plan) {
    if (!plan) return;
    strata_free(plan->batches);
    strata_free(plan->mask);
    strata_free(plan->batch_source);
    strata_free(plan->batch_cluster);
    strata_free(plan->batch_nclusters);
    strata_free(plan->batch_stage);
    strata_free(plan->batch_epoch);
    for (int s = 0; s < plan->n_stages && plan->stages; s++) strata_free(plan->stages[s].name);
    strata_free(plan->stages);
    memset(plan, 0, sizeof *plan);
}

/* ------------------------------------------------------------------------ */
/* Curriculum specification                                                  */
/* ------------------------------------------------------------------------ */

void strata_plan_spec_free(strata_plan_spec_stage *s, int n) {
    if (!s) return;
    for (int i = 0; i < n; i++) {
        strata_free(s[i].path);
        strata_free(s[i].text);
    }
    strata_free(s);
}

strata_status strata_plan_spec_parse(const char *spec, strata_plan_spec_stage **out, int *n,
                                     strata_error *err) {
    *out = NULL;
    *n = 0;
    if (!spec || !*spec) return strata_error_set(err, STRATA_EINVAL, "--stages: empty");
    int cap = 1;
    for (const char *q = spec; *q; q++) cap += *q == ',';
    strata_plan_spec_stage *v = strata_calloc((size_t)cap, sizeof *v);
    if (!v) return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    int k = 0;
    const char *s = spec;
    for (;;) {
        const char *e = strchr(s, ',');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        char *t = strata_strndup(s, len);
        if (!t) goto oom;
        v[k].text = t;
        v[k].share = 1.0;
        k++;
        char *colon = strrchr(t, ':');
        char *body = strata_strndup(t, colon ? (size_t)(colon - t) : strlen(t));
        if (!body) goto oom;
        if (colon) {
            char *end;
            double sh = strtod(colon + 1, &end);
            if (end == colon + 1 || *end || !(sh > 0) || !isfinite(sh)) {
                strata_error_set(err, STRATA_EINVAL,
                                 "--stages: stage %d \"%.200s\": share \"%.100s\" is not a "
                                 "positive number", k, t, colon + 1);
                strata_free(body);
                strata_plan_spec_free(v, k);
                return STRATA_EINVAL;
            }
            v[k - 1].share = sh;
        }
        char *eq = strchr(body, '=');
        if (eq) *eq = 0;
        if (strata_plan_strategy_parse(body, &v[k - 1].strategy)) {
            strata_error_set(err, STRATA_EINVAL,
                             "--stages: stage %d \"%.200s\": unknown strategy \"%.100s\" "
                             "(random, source, cluster)", k, t, body);
            strata_free(body);
            strata_plan_spec_free(v, k);
            return STRATA_EINVAL;
        }
        if (eq) {
            if (!eq[1] || v[k - 1].strategy != STRATA_PLAN_CLUSTER) {
                strata_error_set(err, STRATA_EINVAL,
                                 "--stages: stage %d \"%.200s\": %s", k, t,
                                 eq[1] ? "only the cluster strategy takes a path"
                                       : "empty path after '='");
                strata_free(body);
                strata_plan_spec_free(v, k);
                return STRATA_EINVAL;
            }
            v[k - 1].path = strata_strdup(eq + 1);
            if (!v[k - 1].path) { strata_free(body); goto oom; }
        }
        strata_free(body);
        if (!e) break;
        s = e + 1;
    }
    *out = v;
    *n = k;
    return STRATA_OK;
oom:
    strata_plan_spec_free(v, k);
    return strata_error_set(err, STRATA_ENOMEM, "out of memory");
}
