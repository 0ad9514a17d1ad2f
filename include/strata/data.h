/*
 * data.h — query–passage pairs and BEIR retrieval sets, the embedded demo
 * corpus (synth), and dataset inspection.
 *
 * Texts live in one arena with offsets, so N pairs cost little more than
 * their text: text i of a pairs set is arena[off[i] .. off[i+1]-1), NUL-
 * terminated, with query of pair p at 2p and positive at 2p+1.
 *
 * Thread-safety: loaded sets are read-only and may be shared.
 */
#ifndef STRATA_DATA_H
#define STRATA_DATA_H

#include "strata/strata.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Pairs                                                                     */
/* ------------------------------------------------------------------------ */

typedef struct strata_pairs {
    int64_t n;            /* N pairs */
    char *arena;          /* all texts, each NUL-terminated */
    size_t arena_len;
    int64_t *off;         /* [2N + 1] text offsets into arena */
    int32_t *source;      /* [N] source id per pair */
    int n_sources;
    char **source_names;  /* [n_sources], in order of first appearance */
} strata_pairs;

static inline const char *strata_pairs_query(const strata_pairs *p, int64_t i) {
    return p->arena + p->off[2 * i];
}
static inline const char *strata_pairs_positive(const strata_pairs *p, int64_t i) {
    return p->arena + p->off[2 * i + 1];
}
/* Length in bytes (without the NUL) of text t (t = 2i query, 2i+1 positive). */
static inline size_t strata_pairs_text_len(const strata_pairs *p, int64_t t) {
    return (size_t)(p->off[t + 1] - p->off[t] - 1);
}

typedef struct strata_pairs_options {
    const char *query_field;     /* default "query" (falls back to "anchor") */
    const char *positive_field;  /* default "positive"                       */
    const char *source_field;    /* default "source"; missing -> "default"   */
    size_t max_line;             /* 0: 1 MiB                                 */
    strata_progress progress;
} strata_pairs_options;

strata_pairs_options strata_pairs_default_options(void);

/* Reads pairs from JSONL (.jsonl, .json, also .gz/.zst) or TSV
 * (query<TAB>positive[<TAB>source], chosen by a ".tsv" in the name) or a BEIR
 * directory (train qrels as pairs: query text -> title + " " + text of each
 * judged document with score > 0). Errors: "path:line: field "positive"
 * missing", "... not a string", "... invalid UTF-8 at byte N", an empty file. */
strata_status strata_pairs_load(strata_pairs *out, const char *path,
                                const strata_pairs_options *opt,
                                strata_error *err);
void strata_pairs_free(strata_pairs *p);

/* ------------------------------------------------------------------------ */
/* BEIR                                                                      */
/* ------------------------------------------------------------------------ */

typedef struct strata_texts {
    int64_t n;
    char *arena;
    size_t arena_len;
    int64_t *off;     /* [n + 1]; text i = arena + off[i] */
    int64_t *id_off;  /* [n + 1]; id i = ids + id_off[i]  */
    char *ids;
    size_t ids_len;
} strata_texts;

typedef struct strata_qrel {
    int64_t query;    /* index into queries */
    int64_t doc;      /* index into corpus  */
    int32_t score;    /* graded relevance   */
} strata_qrel;

typedef struct strata_beir {
    strata_texts corpus;   /* text = title + " " + text (title omitted if empty) */
    strata_texts queries;
    strata_qrel *qrels;    /* sorted by (query, doc) */
    int64_t n_qrels;
} strata_beir;

/* Loads DIR/corpus.jsonl, DIR/queries.jsonl and DIR/qrels/<split>.tsv
 * (header "query-id corpus-id score"). split NULL: corpus and queries only.
 * qrels naming unknown ids are an error with file:line. */
strata_status strata_beir_load(strata_beir *out, const char *dir,
                               const char *split, strata_progress progress,
                               strata_error *err);
void strata_beir_free(strata_beir *b);

/* Index of id in a texts set, or -1 (hash lookup built lazily is fine; this
 * is a linear-time helper for small sets only when no index exists). */
int64_t strata_texts_find(const strata_texts *t, const char *id);
static inline const char *strata_texts_get(const strata_texts *t, int64_t i) {
    return t->arena + t->off[i];
}
static inline const char *strata_texts_id(const strata_texts *t, int64_t i) {
    return t->ids + t->id_off[i];
}

/* ------------------------------------------------------------------------ */
/* Embedded default corpus                                                   */
/* ------------------------------------------------------------------------ */

typedef struct strata_synth_params {
    int n_topics;          /* default 24 */
    int pairs_per_source_topic; /* default 40 */
    int n_test_queries;    /* default 200 */
    uint64_t seed;
} strata_synth_params;

strata_synth_params strata_synth_default_params(void);

/* Writes DIR/pairs.jsonl and DIR/beir/{corpus.jsonl,queries.jsonl,
 * qrels/test.tsv}: several sources that differ in style and share topics. */
strata_status strata_synth_write(const char *dir, const strata_synth_params *p,
                                 strata_error *err);

#ifdef __cplusplus
}
#endif

#endif /* STRATA_DATA_H */
