/*
 * plan_input.c — the plan inputs `strata plan` and `strata hardness`
 * share (plan_input.h).
 */
#include <stdlib.h>
#include <string.h>

#include "plan_input.h"

strata_status cli_pair_hashes(const strata_pairs *pairs, uint64_t **qh, uint64_t **ph,
                              strata_error *err) {
    *qh = malloc((size_t)pairs->n * sizeof **qh);
    *ph = malloc((size_t)pairs->n * sizeof **ph);
    if (!*qh || !*ph) return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    strata_plan_hash_texts(pairs->arena, pairs->off, pairs->n, *qh, *ph);
    return STRATA_OK;
}

void cli_plan_data(strata_plan_data *data, const strata_pairs *pairs, const uint64_t *qh,
                   const uint64_t *ph) {
    memset(data, 0, sizeof *data);
    data->n = pairs->n;
    data->source = pairs->source;
    data->n_sources = pairs->n_sources;
    data->qhash = qh;
    data->phash = ph;
}

void cli_stage_clusters(strata_plan_stage *stage, const strata_plan_clusters *cl) {
    stage->assign = cl->assign;
    stage->k = cl->k;
    stage->centroids = cl->centroids;
    stage->cdim = cl->cdim;
}
