/*
 * plan_internal.h — helpers shared by the files of src/plan/, not public.
 */
#ifndef STRATA_PLAN_INTERNAL_H
#define STRATA_PLAN_INTERNAL_H

#include "strata/plan.h"

/* out[i] = ||x_i|| for x [n, dim] (OpenMP over rows, each thread its rows). */
void plan__row_norms(const float *x, int64_t n, int64_t dim, float *out);

/* Stable 64-bit mix of a few integers, for RNG streams. */
uint64_t plan__stream(uint64_t tag, uint64_t a, uint64_t b, uint64_t c);

#endif
