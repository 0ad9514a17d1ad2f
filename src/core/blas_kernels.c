/*
 * blas_kernels.c — is OpenBLAS running the kernels this CPU can run?
 *
 * OpenBLAS built with DYNAMIC_ARCH (Debian's) picks its kernel family from
 * the CPU model when it loads. A model newer than its table gets the generic
 * Prescott (SSE3) kernels: OpenBLAS 0.3.21 (Debian 12) does not know Intel's
 * Sapphire and Emerald Rapids, and there sgemm runs 2-4x slower than with
 * the AVX-512 kernels the CPU supports (measured: a training step of the demo
 * model spends 75% of its time in sgemm_kernel_PRESCOTT, 40% in
 * sgemm_kernel_SKYLAKEX, at half the total time). OpenBLAS reads
 * OPENBLAS_CORETYPE only when it loads, so the remedy is to set it and start
 * again; the CLI does that once (cli/strata.c), docs/development.md says so.
 */
#include <stdlib.h>
#include <string.h>

#include "strata/strata.h"

char *openblas_get_corename(void); /* OpenBLAS */

const char *strata_blas_coretype_hint(void) {
    const char *set = getenv("OPENBLAS_CORETYPE");
    if (set && *set) return NULL; /* the user chose */
    const char *core = openblas_get_corename();
    if (!core) return NULL;
    /* families that already use AVX2 or AVX-512 kernels */
    static const char *const good[] = {"Haswell", "Zen", "SkylakeX", "Cooperlake", "SapphireRapids",
                                       "Excavator", "Steamroller"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        if (strcmp(core, good[i]) == 0) return NULL;
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
    __builtin_cpu_init();
    /* the builtins check the OS-enabled register state as well (XGETBV) */
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
        return "SkylakeX";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
#endif
    return NULL;
}
