/*
 * fuzz_vocab.c — libFuzzer target for the vocab.txt reader and the
 * tokenizer_config.json beside it (strata_tokenizer_load on a folder). The
 * input's first part is vocab.txt, the second (if present, after FUZZ_SEP)
 * tokenizer_config.json. An accepted vocabulary then encodes fixed texts
 * and the input itself (fuzz_tok_encode.h).
 */
#include "fuzz_tok_encode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *part[2];
    size_t len[2];
    int np = fuzz_split(data, size, part, len, 2);
    const char *dir = fuzz_subdir("vocab");
    fuzz_write(fuzz_join(dir, "vocab.txt"), part[0], len[0]);
    const char *cp = fuzz_join(dir, "tokenizer_config.json");
    fuzz_write_part(cp, part[1], len[1], np >= 2);
    fuzz_tokenizer_check(dir, data, size);
    return 0;
}
