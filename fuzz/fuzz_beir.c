/*
 * fuzz_beir.c — libFuzzer target for the BEIR reader (strata_beir_load_ex):
 * corpus.jsonl, queries.jsonl and qrels/test.tsv of one folder, written from
 * the input's parts (FUZZ_SEP; a missing third part means no qrels).
 *
 * On success every id must be found at its own index, every text end where
 * its offsets say, and the qrels be sorted, in range and without duplicate
 * (query, doc) pairs, with qrels_off their CSR index.
 */
#include "fuzz_common.h"
#include "strata/data.h"

static void check_texts(const strata_texts *t) {
    if (t->n < 0) __builtin_trap();
    for (int64_t i = 0; i < t->n; i++) {
        const char *s = strata_texts_get(t, i);
        if (t->off[i + 1] <= t->off[i] || s[t->off[i + 1] - t->off[i] - 1] != '\0')
            __builtin_trap();
        if (strata_texts_find(t, strata_texts_id(t, i)) != i) __builtin_trap();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *const names[3] = {"corpus.jsonl", "queries.jsonl", "qrels/test.tsv"};
    const char *dir = fuzz_subdir("beir");
    mkdir(fuzz_join(dir, "qrels"), 0700);
    int np = fuzz_write_parts(dir, data, size, names, 3, 2);

    strata_beir_options o = strata_beir_default_options();
    o.split = np >= 3 ? "test" : NULL;
    o.max_line = 4096; /* also exercise the long-line error */
    strata_beir b;
    strata_error err;
    strata_error_clear(&err);
    strata_status st = strata_beir_load_ex(&b, dir, &o, &err);
    fuzz_check_error(st, &err);
    if (st == STRATA_OK) {
        check_texts(&b.corpus);
        check_texts(&b.queries);
        if (b.qrels_off) {
            if (b.qrels_off[0] != 0 || b.qrels_off[b.queries.n] != b.n_qrels) __builtin_trap();
            for (int64_t q = 0; q < b.queries.n; q++)
                for (int64_t k = b.qrels_off[q]; k < b.qrels_off[q + 1]; k++) {
                    const strata_qrel *r = &b.qrels[k];
                    if (r->query != q || r->doc < 0 || r->doc >= b.corpus.n) __builtin_trap();
                    if (k > b.qrels_off[q] && r->doc <= b.qrels[k - 1].doc) __builtin_trap();
                }
        }
        strata_beir_free(&b);
    }
    return 0;
}
