/*
 * bench_clock.h — the clocks of the C benchmark drivers in bench/:
 * wall time and the process's CPU time, in seconds. On a machine shared
 * with other jobs the CPU time of all threads counts the work done, which
 * wall time does not; report both and read ratios measured side by side.
 */
#ifndef STRATA_BENCH_CLOCK_H
#define STRATA_BENCH_CLOCK_H

#include <time.h>

/* Seconds on clock id (CLOCK_MONOTONIC, CLOCK_PROCESS_CPUTIME_ID). */
static inline double bench_clock(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Wall seconds (monotonic). */
static inline double bench_wall(void) { return bench_clock(CLOCK_MONOTONIC); }

/* CPU seconds of the whole process (all threads). */
static inline double bench_cpu(void) { return bench_clock(CLOCK_PROCESS_CPUTIME_ID); }

#endif
