/*
 * plan_input.h — what `strata plan` and `strata hardness --sweep` both do
 * before strata_plan_build: hash the pairs' texts for the no-duplicate
 * rule, describe the pairs as strata_plan_data, and point a stage at a
 * loaded cluster assignment.
 */
#ifndef STRATA_CLI_PLAN_INPUT_H
#define STRATA_CLI_PLAN_INPUT_H

#include <stdint.h>

#include "strata/data.h"
#include "strata/plan.h"

/* The query and positive text hashes of every pair (strata_plan_hash_texts)
 * in new arrays *qh, *ph [pairs->n] (free both, also on failure). Errors:
 * out of memory. */
strata_status cli_pair_hashes(const strata_pairs *pairs, uint64_t **qh, uint64_t **ph,
                              strata_error *err);

/* data (zeroed first) for pairs: n, sources, and the hashes qh, ph
 * (borrowed; NULL: no duplicate rule). The surrogate embeddings are the
 * caller's to add. */
void cli_plan_data(strata_plan_data *data, const strata_pairs *pairs, const uint64_t *qh,
                   const uint64_t *ph);

/* stage's assign, k, centroids and cdim from cl (borrowed). */
void cli_stage_clusters(strata_plan_stage *stage, const strata_plan_clusters *cl);

#endif
