/*
 * fuzz_tokenizer_json.c — libFuzzer target for the tokenizer.json reader
 * (strata_tokenizer_load on a tokenizer.json file). An accepted tokenizer
 * then encodes fixed texts and the input itself (fuzz_tok_encode.h).
 */
#include "fuzz_tok_encode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *dir = fuzz_subdir("tj");
    const char *path = fuzz_join(dir, "tokenizer.json");
    fuzz_write(path, data, size);
    fuzz_tokenizer_check(path, data, size);
    return 0;
}
