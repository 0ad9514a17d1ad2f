/*
 * compare_internal.h — pieces of the comparison module shared with its
 * tests (not part of the public API).
 */
#ifndef STRATA_COMPARE_INTERNAL_H
#define STRATA_COMPARE_INTERNAL_H

/* Two-sided p-value of Student's t with df > 0 degrees of freedom:
 * 2 P(T_df >= |t|) = I_{df/(df+t^2)}(df/2, 1/2), the regularized incomplete
 * beta function by its continued fraction (Lentz), with log B(df/2, 1/2)
 * from a Stirling difference for df/2 >= 20 (lgamma(a + 1/2) - lgamma(a)
 * would cancel). Relative difference from scipy.stats.t.sf below 1e-12
 * for df <= 20000 and 2e-11 at df = 1e6 (the continued fraction needs
 * ~sqrt(df) terms; tests/test_compare.c checks a grid to 1e-10). 
 * t = +-INF gives 0, t = 0 gives 1, NaN gives NaN. */
double strata__t_p_two_sided(double t, double df);

/* Stream offsets of the RNG: bootstrap replicate r draws from stream
 * STRATA__STREAM_BOOT + r, permutation r from STRATA__STREAM_PERM + r. */
#define STRATA__STREAM_BOOT 0x426f6f7400000000ull /* "Boot" */
#define STRATA__STREAM_PERM 0x5065726d00000000ull /* "Perm" */

#endif
