/*
 * fuzz_idf.c — libFuzzer target for the hash embedder's IDF table reader
 * (strata_hash_idf_load). A real table is an int64 .npy of 2 + 2^20
 * entries (8 MiB), too large to mutate byte by byte, so the input describes
 * one (parts cut at FUZZ_SEP):
 *   part 0  the .npy header dictionary text (framed as version 1.0 with the
 *           right length; the framing itself is fuzz_npy's job)
 *   part 1  the first data bytes (N, the bigram flag, the first df values)
 *   part 2  patches, 12 bytes each: u32 entry index, i64 value (little end)
 * The data is zero-filled up to the table's size. An input without FUZZ_SEP
 * is written as the file itself.
 *
 * An accepted table must have 0 <= df <= N, idf finite and >= 1, and embed
 * texts to finite unit (or zero) rows.
 */
#include <math.h>

#include "fuzz_common.h"
#include "strata/embed.h"

#define ENTRIES (2 + (size_t)STRATA_HASH_BUCKETS)

static void write_table(const char *path, const uint8_t **part, const size_t *len) {
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 0, 0};
    size_t hl = len[0] > 65535 ? 65535 : len[0];
    pre[8] = (unsigned char)(hl & 0xff);
    pre[9] = (unsigned char)(hl >> 8);
    fwrite(pre, 1, 10, f);
    fwrite(part[0], 1, hl, f);
    fwrite(part[1], 1, len[1], f);
    size_t data_len = len[1] > ENTRIES * 8 ? len[1] : ENTRIES * 8;
    for (size_t k = 0; k + 12 <= len[2]; k += 12) {
        uint32_t idx;
        memcpy(&idx, part[2] + k, 4);
        size_t off = 10 + hl + (size_t)(idx % ENTRIES) * 8;
        if (fseek(f, (long)off, SEEK_SET) != 0) abort();
        fwrite(part[2] + k + 4, 1, 8, f);
    }
    fflush(f);
    if (ftruncate(fileno(f), (off_t)(10 + hl + data_len)) != 0) abort();
    if (fclose(f) != 0) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *part[3];
    size_t len[3];
    int np = fuzz_split(data, size, part, len, 3);
    const char *path = fuzz_join(fuzz_root(), "idf.npy");
    if (np == 1) fuzz_write(path, data, size);
    else write_table(path, part, len);
    strata_hash_idf idf;
    strata_error err;
    strata_error_clear(&err);
    strata_status st = strata_hash_idf_load(&idf, path, &err);
    fuzz_check_error(st, &err);
    if (st == STRATA_OK) {
        if (idf.n_docs < 0 || (idf.bigrams != 0 && idf.bigrams != 1)) __builtin_trap();
        for (size_t b = 0; b < STRATA_HASH_BUCKETS; b++)
            if (idf.df[b] < 0 || idf.df[b] > idf.n_docs || !isfinite(idf.idf[b]) ||
                idf.idf[b] < 1.0f - 1e-6f)
                __builtin_trap();
        static const char *const texts[] = {"alpha beta gamma", "", "naïve café, 中文 x"};
        size_t lens[3];
        for (int i = 0; i < 3; i++) lens[i] = strlen(texts[i]);
        strata_hash_params p = strata_hash_default_params();
        p.dim = 16;
        p.bigrams = idf.bigrams;
        float out[3 * 16];
        if (strata_hash_embed(&idf, texts, lens, 3, &p, out, &err)) __builtin_trap();
        for (int i = 0; i < 3; i++) {
            double n2 = 0;
            for (int k = 0; k < 16; k++) {
                if (!isfinite(out[i * 16 + k])) __builtin_trap();
                n2 += (double)out[i * 16 + k] * out[i * 16 + k];
            }
            if (n2 != 0 && fabs(n2 - 1) > 1e-4) __builtin_trap();
        }
        strata_hash_idf_free(&idf);
    }
    return 0;
}
