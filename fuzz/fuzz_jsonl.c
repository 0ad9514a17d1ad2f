/*
 * fuzz_jsonl.c — libFuzzer target for the pairs reader (strata_pairs_load)
 * and the inspect statistics. The first byte picks the format: odd -> TSV
 * (a ".tsv" file name), even -> JSONL; the rest is the file.
 */
#include <string.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "strata/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int tsv = data[0] & 1;
    const char *path = fuzz_write_tmp(data + 1, size - 1, tsv ? ".tsv" : ".jsonl");
    strata_pairs_options o = strata_pairs_default_options();
    if (data[0] & 2) { /* exercise custom field names too */
        o.query_field = "anchor";
        o.source_field = "src";
    }
    o.max_line = 4096; /* also exercise the long-line error */
    strata_pairs p;
    strata_error err;
    if (strata_pairs_load(&p, path, &o, &err) == STRATA_OK) {
        /* every text is NUL-terminated where the offsets say */
        for (int64_t t = 0; t < 2 * p.n; t++)
            if (p.arena[p.off[t + 1] - 1] != '\0') __builtin_trap();
        for (int64_t i = 0; i < p.n; i++)
            if (p.source[i] < 0 || p.source[i] >= p.n_sources) __builtin_trap();
        strata_pairs_stats s;
        if (strata_pairs_stats_compute(&s, &p, &err) == STRATA_OK) {
            if (s.dup_queries < 0 || s.dup_queries >= p.n) __builtin_trap();
            strata_pairs_stats_free(&s);
        }
        strata_pairs_free(&p);
    } else if (strlen(err.msg) == 0) {
        __builtin_trap(); /* every failure explains itself */
    }
    unlink(path);
    return 0;
}
