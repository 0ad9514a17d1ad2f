/*
 * fuzz_trec_run.c — libFuzzer target for the TREC run reader
 * (strata_run_read_trec) against a fixed set of 3 queries and 5 documents
 * with qrels. The first byte picks the unknown-id policies (bit 0: skip
 * unknown queries; bits 1-2: error, skip or add unknown documents); the rest
 * is the run file.
 *
 * On success each query's list must be in range, finite and in trec_eval
 * order (score descending), lists must not repeat a document, every id must
 * still be found at its own index, and the metrics must lie in [0, 1]; the
 * run written back with strata_run_write_trec must read back with the same
 * documents per query.
 */
#include <math.h>

#include "fuzz_eval.h"

static void check_run(const strata_run *r, const strata_beir *b) {
    if (r->nq != b->queries.n || r->off[0] != 0) __builtin_trap();
    for (int64_t q = 0; q < r->nq; q++) {
        if (r->off[q + 1] < r->off[q]) __builtin_trap();
        for (int64_t k = r->off[q]; k < r->off[q + 1]; k++) {
            if (r->doc[k] < 0 || r->doc[k] >= b->corpus.n || !isfinite(r->score[k]))
                __builtin_trap();
            if (k > r->off[q] && r->score[k] > r->score[k - 1]) __builtin_trap();
            for (int64_t j = r->off[q]; j < k; j++)
                if (r->doc[j] == r->doc[k]) __builtin_trap();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    strata_beir b;
    fuzz_eval_fixture(&b, "d5", "five");
    const char *dir = fuzz_subdir("run");
    const char *qp = fuzz_join(dir, "qrels.tsv");
    fuzz_write_str(qp, "query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td3\t2\nq2\t10\t1\n3\td5\t0\n");
    strata_error err;
    strata_error_clear(&err);
    if (strata_beir_load_qrels(&b, qp, NULL, &err)) abort();

    const char *path = fuzz_write_tmp(data + 1, size - 1, ".trec");
    strata_run_read_options o;
    memset(&o, 0, sizeof o);
    o.unknown_query = (data[0] & 1) ? STRATA_UNKNOWN_SKIP : STRATA_UNKNOWN_ERROR;
    o.unknown_doc = (strata_unknown_ids)((data[0] >> 1) % 3);
    strata_run r;
    strata_status st = strata_run_read_trec(&r, &b, path, &o, &err);
    fuzz_check_error(st, &err);
    for (int64_t i = 0; i < b.corpus.n; i++)
        if (strata_texts_find(&b.corpus, strata_texts_id(&b.corpus, i)) != i) __builtin_trap();
    if (st == STRATA_OK) {
        check_run(&r, &b);
        fuzz_check_metrics(&b, &r, data[0] & 8);
        /* write it back and read it again: the same lists */
        const char *wp = fuzz_join(dir, "back.trec");
        if (strata_run_write_trec(&r, &b, wp, NULL, &err) == STRATA_OK) {
            strata_run r2;
            strata_run_read_options o2;
            memset(&o2, 0, sizeof o2);
            if (strata_run_read_trec(&r2, &b, wp, &o2, &err) != STRATA_OK) __builtin_trap();
            /* same documents per query (scores print with 9 digits, so
             * near-ties may reorder) */
            for (int64_t q = 0; q <= r.nq; q++)
                if (r2.off[q] != r.off[q]) __builtin_trap();
            for (int64_t k = 0; k < r.off[r.nq]; k++) {
                int64_t q = 0;
                while (r.off[q + 1] <= k) q++;
                int found = 0;
                for (int64_t j = r.off[q]; j < r.off[q + 1]; j++) found |= r2.doc[j] == r.doc[k];
                if (!found) __builtin_trap();
            }
            strata_run_free(&r2);
        } else if (!err.msg[0]) {
            __builtin_trap();
        }
        strata_run_free(&r);
    }
    strata_beir_free(&b);
    return 0;
}
