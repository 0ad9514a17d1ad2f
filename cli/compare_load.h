/*
 * compare_load.h — run files and metrics JSON turned into the groups of
 * strata_compare (compare.h), with the checks that make a comparison fair:
 * shared by `strata compare` and `strata eval --compare-to`.
 *
 * A spec names one group: "[NAME=]PATH[,PATH...]", several paths being the
 * seeds of one run. Without NAME the run is named after its file (base
 * name without .trec/.txt/.run/.json/.tsv); a group of several seeds needs
 * a NAME. NAME= is recognized when the text before the first '=' has no
 * '/'.
 *
 * Each PATH is a TREC run (scored here against the qrels, as `strata eval
 * --run` scores it) or a metrics JSON written by `strata eval --out` (its
 * "per_query" is used as is); a file whose first non-blank byte is '{' is
 * JSON.
 *
 * Query sets. With qrels, every run is scored on every judged query: a
 * judged query a run did not retrieve scores 0 (trec_eval -c, as `strata
 * eval` does). A metrics JSON must list exactly the judged queries. Two
 * run files that retrieved different judged queries are an error naming
 * the query, the file that lacks it and the line where another has it
 * (allow_missing turns this into scoring 0). Without qrels (metrics JSON
 * only) every file must list the same queries.
 */
#ifndef STRATA_COMPARE_LOAD_H
#define STRATA_COMPARE_LOAD_H

#include "cli.h"
#include "strata/compare.h"

typedef struct cmp_file {
    const char *path;          /* as given (points into the spec copy);
                                  a label when in_memory                 */
    int is_json;
    int in_memory;             /* pq and has given by the caller (owned
                                  by the group all the same)             */
    strata_metrics *pq;        /* [nq] per query over b's queries        */
    unsigned char *has;        /* [nq] 1: the file lists the query       */
    int64_t nq;                /* size of pq / has                       */
} cmp_file;

typedef struct cmp_group {
    char *spec;                /* owned copy of the spec (paths point in) */
    const char *name;          /* into spec, name_buf, or the caller's   */
    char name_buf[256];        /* the default name                       */
    int n;                     /* files (seeds)                          */
    cmp_file f[16];
} cmp_group;

typedef struct cmp_options {
    int ignore_identical_ids;  /* as strata eval --ignore-identical-ids  */
    int skip_unknown;          /* skip run/JSON queries not in b         */
    strata_unknown_ids unknown_doc; /* run documents not in b's corpus   */
    int allow_missing;         /* runs may retrieve different queries    */
} cmp_options;

/* Parses spec into g (zeroed first). Returns 0, or -1 with a message in
 * msg (a usage error). */
int cmp_parse_spec(const char *spec, cmp_group *g, char *msg, size_t n);
void cmp_group_free(cmp_group *g);

/* 1 when any file of the groups is a TREC run (needs qrels). */
int cmp_need_qrels(const cmp_group *g, int n);

/* Loads every file of the groups. b holds the qrels (b->qrels_off set) or,
 * with metrics JSON only, is zeroed and receives the queries of the files.
 * Then checks the query sets (above) and prints notes through env. */
strata_status cmp_load_all(const cli_env *env, strata_beir *b, cmp_group *g, int n,
                           const cmp_options *o, strata_error *err);

/* Builds the strata_compare groups (seeds point into g's files) and the
 * query-id array; frees with cmp_inputs_free. */
typedef struct cmp_inputs {
    strata_compare_group *groups;            /* [n]     */
    const strata_metrics **seeds;            /* all     */
    const char **ids;                        /* [nq]    */
    int64_t nq;
} cmp_inputs;
strata_status cmp_inputs_make(const strata_beir *b, const cmp_group *g, int n,
                              cmp_inputs *in, strata_error *err);
void cmp_inputs_free(cmp_inputs *in);

/* Prints the table of r on stdout (with show_t: t-test columns) and, when
 * out is set, writes the JSON. */
int cmp_report(const cli_env *env, const strata_compare_result *r, int show_t,
               const char *out, strata_error *err);

/* `strata eval --compare-to`: compares the run just scored (name, its
 * per-query metrics pq [b->queries.n] and its run, for the queries it
 * retrieved) against each spec of specs on b's judged queries, each
 * comparison being "this run - spec", with the default parameters and
 * --seed; prints the table after a blank line and writes out when set.
 * Returns the exit code. */
int cmp_eval_compare(const cli_env *env, const cli_command *cmd, strata_beir *b,
                     const char *name, const strata_metrics *pq, const strata_run *run,
                     const cli_strings *specs, const cmp_options *o, const char *out);

#endif
