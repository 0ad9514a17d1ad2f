/*
 * fuzz_qrels.c — libFuzzer target for the qrels reader
 * (strata_beir_load_qrels) against a fixed set of 3 queries and 5 documents.
 * The first byte picks the unknown-id policy (error, skip, add); the rest is
 * the qrels file (BEIR TSV or TREC columns).
 *
 * On success the qrels must be sorted by (query, doc) without duplicates,
 * in range of the (possibly grown) id sets, with qrels_off their CSR index,
 * and every id still found at its own index; then the metrics of a fixed
 * run must lie in [0, 1].
 */
#include <math.h>

#include "fuzz_eval.h"

static void check_ids(const strata_texts *t) {
    for (int64_t i = 0; i < t->n; i++)
        if (strata_texts_find(t, strata_texts_id(t, i)) != i) __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    strata_beir b;
    fuzz_eval_fixture(&b, "d 5", "spaced");
    const char *path = fuzz_write_tmp(data + 1, size - 1, ".tsv");
    strata_beir_options o = strata_beir_default_options();
    o.unknown = (strata_unknown_ids)(data[0] % 3);
    o.max_line = 4096;
    strata_error err;
    strata_error_clear(&err);
    strata_status st = strata_beir_load_qrels(&b, path, &o, &err);
    fuzz_check_error(st, &err);
    check_ids(&b.queries);
    check_ids(&b.corpus);
    if (st == STRATA_OK) {
        if (!b.qrels_off || b.qrels_off[0] != 0 || b.qrels_off[b.queries.n] != b.n_qrels)
            __builtin_trap();
        for (int64_t q = 0; q < b.queries.n; q++)
            for (int64_t k = b.qrels_off[q]; k < b.qrels_off[q + 1]; k++) {
                const strata_qrel *r = &b.qrels[k];
                if (r->query != q || r->doc < 0 || r->doc >= b.corpus.n) __builtin_trap();
                if (k > b.qrels_off[q] && r->doc <= b.qrels[k - 1].doc) __builtin_trap();
            }
        /* a fixed run: every query retrieves documents 0, 1, 2 */
        strata_run run;
        run.nq = b.queries.n;
        run.off = calloc((size_t)b.queries.n + 1, sizeof *run.off);
        int64_t nd = b.corpus.n < 3 ? b.corpus.n : 3;
        run.doc = malloc(sizeof *run.doc * (size_t)(b.queries.n * nd + 1));
        run.score = malloc(sizeof *run.score * (size_t)(b.queries.n * nd + 1));
        if (!run.off || !run.doc || !run.score) abort();
        for (int64_t q = 0; q < b.queries.n; q++) {
            for (int64_t d = 0; d < nd; d++) {
                run.doc[q * nd + d] = d;
                run.score[q * nd + d] = 1.0 - 0.1 * (double)d;
            }
            run.off[q + 1] = (q + 1) * nd;
        }
        fuzz_check_metrics(&b, &run, 0);
        free(run.off);
        free(run.doc);
        free(run.score);
    } else if (b.qrels || b.n_qrels) {
        __builtin_trap(); /* "on failure b's qrels are empty" */
    }
    strata_beir_free(&b);
    return 0;
}
