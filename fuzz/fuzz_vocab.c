/*
 * fuzz_vocab.c — libFuzzer target for the vocab.txt reader and the
 * tokenizer_config.json beside it (strata_tokenizer_load on a folder). The
 * input's first part is vocab.txt, the second (if present, after FUZZ_SEP)
 * tokenizer_config.json. An accepted vocabulary then encodes fixed texts
 * and the input itself (fuzz_tok_encode.h).
 */
#include "fuzz_tok_encode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *const names[2] = {"vocab.txt", "tokenizer_config.json"};
    const char *dir = fuzz_subdir("vocab");
    fuzz_write_parts(dir, data, size, names, 2, 1);
    fuzz_tokenizer_check(dir, data, size);
    return 0;
}
