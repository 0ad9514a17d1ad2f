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

/* Id of a source name in p, or -1. */
int strata_pairs_source_id(const strata_pairs *p, const char *name);

/* Length statistics of one kind of text (chars = Unicode code points,
 * words = runs of non-whitespace, whitespace = ASCII space \t \n \v \f \r).
 * Median and p95 interpolate linearly between order statistics (numpy's
 * default percentile). All zero when there are no texts. */
typedef struct strata_len_stats {
    double mean, median, p95;
    int64_t max;
} strata_len_stats;

/* What `strata inspect` reports about a pairs set. */
typedef struct strata_pairs_stats {
    int64_t n;                    /* N pairs                                  */
    int n_sources;
    int64_t *source_count;        /* [n_sources] pairs per source (owned)     */
    strata_len_stats query_chars, query_words;
    strata_len_stats positive_chars, positive_words;
    int64_t unique_queries;       /* distinct query texts                     */
    int64_t unique_positives;     /* distinct positive texts                  */
    int64_t dup_queries;          /* N - unique_queries: repeats of a query   */
    int64_t dup_positives;        /* N - unique_positives                     */
    int64_t dup_pairs;            /* pairs whose (query, positive) repeats    */
} strata_pairs_stats;

/* Computes the statistics of p (texts hashed with strata_hash64, equality
 * confirmed byte by byte, so hash collisions never merge texts). Free with
 * strata_pairs_stats_free. */
strata_status strata_pairs_stats_compute(strata_pairs_stats *out,
                                         const strata_pairs *p,
                                         strata_error *err);
void strata_pairs_stats_free(strata_pairs_stats *s);

/* ------------------------------------------------------------------------ */
/* BEIR                                                                      */
/* ------------------------------------------------------------------------ */

/* A set of texts with string ids (a BEIR corpus or query set). Text i is
 * arena + off[i] (NUL-terminated, length off[i+1] - off[i] - 1), id i is
 * ids + id_off[i]. Ids are unique; an open-addressing hash table over
 * strata_hash64 maps an id to its index in O(1) (strata_texts_find). */
typedef struct strata_texts {
    int64_t n;
    char *arena;
    size_t arena_len;
    int64_t *off;     /* [n + 1]; text i = arena + off[i] */
    int64_t *id_off;  /* [n + 1]; id i = ids + id_off[i]  */
    char *ids;
    size_t ids_len;
    int64_t *slots;   /* [n_slots] index + 1 of the id in each slot, 0 empty;
                         NULL: no index (strata_texts_find scans)          */
    size_t n_slots;   /* power of two, at least 2 (n + 1)                  */
    int64_t cap;      /* internal: capacity of off / id_off                */
    size_t arena_cap; /* internal: capacity of arena                       */
    size_t ids_cap;   /* internal: capacity of ids                         */
} strata_texts;

typedef struct strata_qrel {
    int64_t query;    /* index into queries */
    int64_t doc;      /* index into corpus  */
    int32_t score;    /* graded relevance   */
} strata_qrel;

typedef struct strata_beir {
    strata_texts corpus;   /* text = title + " " + text (title omitted if empty) */
    strata_texts queries;
    strata_qrel *qrels;    /* sorted by (query, doc); no duplicate pairs    */
    int64_t n_qrels;
    int64_t *qrels_off;    /* [queries.n + 1]: qrels of query q are
                              qrels[qrels_off[q] .. qrels_off[q+1]); NULL
                              when no qrels were loaded                     */
    int64_t n_skipped_query; /* qrels lines skipped: unknown query-id      */
    int64_t n_skipped_doc;   /* qrels lines skipped: unknown corpus-id     */
} strata_beir;

/* What to do with a qrels line whose query-id or corpus-id is not in
 * queries.jsonl / corpus.jsonl. */
typedef enum strata_unknown_ids {
    STRATA_UNKNOWN_ERROR = 0, /* default: error naming file:line and the id */
    STRATA_UNKNOWN_SKIP,      /* skip the line, count it in n_skipped_*     */
    STRATA_UNKNOWN_ADD        /* add the id as a new entry with empty text
                                 (used to evaluate a run against a bare
                                 qrels file, where the qrels define ids)   */
} strata_unknown_ids;

typedef struct strata_beir_options {
    const char *split;           /* qrels/<split>.tsv; NULL: no qrels       */
    strata_unknown_ids unknown;  /* default STRATA_UNKNOWN_ERROR            */
    size_t max_line;             /* 0: 1 MiB                                */
    strata_progress progress;
} strata_beir_options;

strata_beir_options strata_beir_default_options(void);

/* Loads DIR/corpus.jsonl, DIR/queries.jsonl and DIR/qrels/<split>.tsv
 * (.gz/.zst accepted through the line reader: the plain name is tried
 * first, then name.gz, name.zst).
 *
 * corpus.jsonl: one object per line, "_id" (string, or an integer number
 * |x| <= 2^53 which is converted to its decimal text), "text" (string),
 * optional "title" (string or null); the stored text is title + " " + text,
 * or text alone when the title is missing or empty. queries.jsonl: "_id",
 * "text". Blank lines are skipped; other fields are ignored.
 * qrels: tab-separated "query-id corpus-id score" (BEIR), or four
 * whitespace-separated columns "qid iter docid rel" (TREC); a first line
 * starting with "query-id" is a header. Scores are integers.
 *
 * Errors name file:line and the field: missing "_id"/"text", wrong type,
 * duplicate id (with the line of the first), invalid UTF-8 (byte offset),
 * malformed JSON, a qrels line with too few / too many columns, a
 * non-integer score, a duplicate (query, doc) judgment, and (unless
 * opt->unknown says otherwise) an unknown query-id or corpus-id.
 * On failure *out is left zeroed. opt NULL: defaults. */
strata_status strata_beir_load_ex(strata_beir *out, const char *dir,
                                  const strata_beir_options *opt,
                                  strata_error *err);

/* strata_beir_load_ex with split and progress, unknown ids an error. */
strata_status strata_beir_load(strata_beir *out, const char *dir,
                               const char *split, strata_progress progress,
                               strata_error *err);

/* Replaces b's qrels by those of the qrels file at path (format as above),
 * resolving ids against b->queries and b->corpus according to
 * opt->unknown (opt->split is ignored). b may be zeroed (empty sets) when
 * opt->unknown is STRATA_UNKNOWN_ADD. On failure b's qrels are empty. */
strata_status strata_beir_load_qrels(strata_beir *b, const char *path,
                                     const strata_beir_options *opt,
                                     strata_error *err);
void strata_beir_free(strata_beir *b);

/* Index of id in a texts set, or -1: O(1) through the hash table when the
 * set has one (every set loaded or built here does), a linear scan
 * otherwise. */
int64_t strata_texts_find(const strata_texts *t, const char *id);

/* Appends (id, text) to t, keeping the hash index; an existing id is an
 * error (STRATA_EINVAL, "duplicate id"). Returns the new index in *index
 * (may be NULL). t may be zeroed. */
strata_status strata_texts_add(strata_texts *t, const char *id,
                               const char *text, int64_t *index,
                               strata_error *err);
void strata_texts_free(strata_texts *t);

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
    int n_topics;          /* default 24 (1 .. 1000; topics past the built-in
                              word lists get generated vocabularies)        */
    int pairs_per_source_topic; /* default 50; 5 sources -> 6,000 pairs    */
    int n_test_queries;    /* default 200                                   */
    uint64_t seed;         /* default 1                                     */
    int n_subtopics;       /* per topic, default 4                          */
    int n_corpus;          /* BEIR test corpus size, default 2000 (raised
                              to fit the relevant passages if needed)      */
    double paraphrase;     /* probability that a query (training or test)
                              names its entity, or one of its subtopic key
                              words, by that word's synonym, which passages
                              never use; default 0.5. The vocabulary
                              mismatch that lexical matching cannot bridge
                              and a trained encoder can learn            */
} strata_synth_params;

/* Names of the synthetic sources, in output order (5 of them). */
#define STRATA_SYNTH_SOURCES 5
const char *strata_synth_source_name(int s);

strata_synth_params strata_synth_default_params(void);

/* Writes DIR/pairs.jsonl and DIR/beir/{corpus.jsonl,queries.jsonl,
 * qrels/test.tsv}: several sources that differ in style and share topics. */
strata_status strata_synth_write(const char *dir, const strata_synth_params *p,
                                 strata_error *err);

#ifdef __cplusplus
}
#endif

#endif /* STRATA_DATA_H */
