/*
 * fuzz_bert_config.c — libFuzzer target for the BERT config.json reader
 * (strata_bert_config_load). An accepted config must hold the documented
 * invariants: every size positive, hidden_size a multiple of the heads,
 * layer_norm_eps in (0, 1], mean pooling, no normalization.
 */
#include "fuzz_common.h"
#include "strata/encoder.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_write_tmp(data, size, ".json");
    strata_bert_config c;
    strata_error err;
    strata_error_clear(&err);
    strata_status st = strata_bert_config_load(&c, path, &err);
    fuzz_check_error(st, &err);
    if (st == STRATA_OK) {
        if (c.vocab_size < 1 || c.hidden_size < 1 || c.num_layers < 1 || c.num_heads < 1 ||
            c.intermediate_size < 1 || c.max_position < 1 || c.type_vocab_size < 1 ||
            c.hidden_size % c.num_heads != 0 || !(c.layer_norm_eps > 0) ||
            c.layer_norm_eps > 1 || c.pool != STRATA_POOL_MEAN || c.normalize != 0)
            __builtin_trap();
    }
    return 0;
}
