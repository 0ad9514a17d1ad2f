/*
 * plan_internal.h — helpers shared by the files of src/plan/, not public.
 */
#ifndef STRATA_PLAN_INTERNAL_H
#define STRATA_PLAN_INTERNAL_H

#include "strata/plan.h"

/* out[i] = ||x_i|| for x [n, dim] (OpenMP over rows, each thread its rows). */
void plan__row_norms(const float *x, int64_t n, int64_t dim, float *out);

/* Gathers the rows of batch idx [B] (-1 pads) into the front of scratch
 * (strata_plan_mask_scratch(B, dim) floats): Qb [B, dim] and Db [B, dim]
 * from fq / fd [n, dim], then S [B, B] (left for the caller's sgemm), then
 * iq [B] and id [B], the inverse row norms from qn / dn [n] (0 for pads and
 * zero rows); pad rows are zero. Returns the number of valid rows. */
int64_t plan__gather_batch(const int64_t *idx, int64_t B, const float *fq, const float *fd,
                           int64_t dim, const float *qn, const float *dn, float *scratch);

/* Stable 64-bit mix of a few integers, for RNG streams. */
uint64_t plan__stream(uint64_t tag, uint64_t a, uint64_t b, uint64_t c);

#endif
