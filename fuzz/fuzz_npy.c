/*
 * fuzz_npy.c — libFuzzer target for the .npy reader (strata_npy_load and the
 * float32 matrix view strata_mat_load). Every element of an accepted file is
 * read, so a size check that trusts the header would show up under ASan.
 */
#include <string.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "strata/io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_write_tmp(data, size, ".npy");
    strata_npy a;
    strata_error err;
    if (strata_npy_load(&a, path, &err) == STRATA_OK) {
        size_t nb = (size_t)a.count * strata_dtype_size(a.dtype);
        volatile uint8_t acc = 0;
        for (size_t i = 0; i < nb; i++) acc ^= ((const uint8_t *)a.data)[i];
        (void)acc;
        strata_npy_free(&a);
        strata_mat m;
        if (strata_mat_load(&m, path, &err) == STRATA_OK) {
            volatile float s = 0;
            for (int64_t i = 0; i < m.rows * m.cols; i++) s += m.data[i];
            (void)s;
            strata_mat_free(&m);
        }
    } else if (strlen(err.msg) == 0) {
        __builtin_trap();
    }
    unlink(path);
    return 0;
}
