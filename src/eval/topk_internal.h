/*
 * topk_internal.h — tuning hook of the top-k kernel, for benchmarks only.
 */
#ifndef STRATA_EVAL_TOPK_INTERNAL_H
#define STRATA_EVAL_TOPK_INTERNAL_H

/* Sets the query-block and corpus-block sizes of strata_topk_ip (<= 0:
 * defaults). Not thread-safe; results stay independent of the thread count
 * for any fixed pair of sizes. */
void strata__topk_set_blocks(int bq, int bc);

/* on = 0 forces the portable threshold scan (tests compare both paths). */
void strata__topk_set_simd(int on);

#endif
