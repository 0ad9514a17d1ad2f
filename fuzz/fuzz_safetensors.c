/*
 * fuzz_safetensors.c — libFuzzer target for the safetensors reader
 * (strata_safetensors_load). Every byte of every accepted tensor is read and
 * each name is looked up, so a bad offset or size check shows up under ASan.
 */
#include <string.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "strata/io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_write_tmp(data, size, ".safetensors");
    strata_safetensors st;
    strata_error err;
    if (strata_safetensors_load(&st, path, &err) == STRATA_OK) {
        volatile uint8_t acc = 0;
        for (int k = 0; k < st.n; k++) {
            const strata_tensor *t = &st.t[k];
            if (t->nbytes != (size_t)t->count * strata_dtype_size(t->dtype)) __builtin_trap();
            for (size_t i = 0; i < t->nbytes; i++) acc ^= ((const uint8_t *)t->data)[i];
            if (strata_safetensors_find(&st, t->name) != t) __builtin_trap();
        }
        (void)acc;
        strata_safetensors_free(&st);
    } else if (strlen(err.msg) == 0) {
        __builtin_trap();
    }
    unlink(path);
    return 0;
}
