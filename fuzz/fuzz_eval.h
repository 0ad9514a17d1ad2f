/*
 * fuzz_eval.h — shared by the evaluation targets (fuzz_qrels, fuzz_trec_run):
 * the fixed id sets they read qrels and runs against, and the check of the
 * metrics computed from what they read.
 */
#ifndef STRATA_FUZZ_EVAL_H
#define STRATA_FUZZ_EVAL_H

#include "fuzz_common.h"
#include "strata/data.h"
#include "strata/eval.h"

static inline void fuzz_text_add(strata_texts *t, const char *id, const char *text) {
    if (strata_texts_add(t, id, text, NULL, NULL)) abort();
}

/* b (zeroed here) gets 3 queries (q1, q2, 3) and 5 documents (d1, d2, d3,
 * 10 and the fifth, doc5 with text5): ids a parser could confuse with
 * indices, and whatever the target adds. */
static inline void fuzz_eval_fixture(strata_beir *b, const char *doc5, const char *text5) {
    memset(b, 0, sizeof *b);
    fuzz_text_add(&b->queries, "q1", "alpha");
    fuzz_text_add(&b->queries, "q2", "beta");
    fuzz_text_add(&b->queries, "3", "gamma");
    fuzz_text_add(&b->corpus, "d1", "one");
    fuzz_text_add(&b->corpus, "d2", "two");
    fuzz_text_add(&b->corpus, "d3", "three");
    fuzz_text_add(&b->corpus, "10", "ten");
    fuzz_text_add(&b->corpus, doc5, text5);
}

static inline int fuzz_in01(double x) { return x >= 0 && x <= 1 + 1e-12; }

/* strata_eval_metrics of run against b's qrels: on success every mean
 * metric lies in [0, 1] and at most every query counts; a failure explains
 * itself. */
static inline void fuzz_check_metrics(const strata_beir *b, const strata_run *run,
                                      int ignore_identical_ids) {
    strata_metrics mean;
    strata_error err;
    strata_error_clear(&err);
    if (strata_eval_metrics(b, run, ignore_identical_ids, &mean, NULL, &err) == STRATA_OK) {
        if (!fuzz_in01(mean.ndcg10) || !fuzz_in01(mean.recall10) || !fuzz_in01(mean.recall100) ||
            !fuzz_in01(mean.mrr10) || !fuzz_in01(mean.map100) || mean.n < 0 ||
            mean.n > b->queries.n)
            __builtin_trap();
    } else if (!err.msg[0]) {
        __builtin_trap();
    }
}

#endif
