/*
 * demo.h — the parts of `strata demo`, one concern per file:
 *
 *   cmd_demo.c      options, settings, and the pipeline: which stages run,
 *                   in which order, with which arguments
 *   demo_stage.c    running one stage as a child `strata` process: its
 *                   command line (printed and kept in OUT/commands.sh),
 *                   its wall time (OUT/stages.jsonl), skipped when done
 *   demo_results.c  reading the stages' outputs into results.json, and the
 *                   paired comparisons between strategies (strata compare)
 *   demo_report.c   the table on stdout and OUT/report.html
 *
 * Layout of OUT (docs/demo.md):
 *   data/                     the embedded corpus (strata synth)
 *   embed/{q,d,idf}.npy       the surrogate embeddings
 *   cluster/NAME/seedS/       one clustering per seed
 *   plans/STRATEGY/seedS/     one plan per strategy and seed (+ hardness.json)
 *   model/                    a fresh model's config.json and vocab.txt
 *   runs/STRATEGY/seedS/      training run, metrics-SET.json, run-SET.trec
 *   baseline/                 the hash embedder (and the initial model)
 */
#ifndef STRATA_CLI_DEMO_H
#define STRATA_CLI_DEMO_H

#include <stdint.h>
#include <stdio.h>

#include "cli.h"

#define DEMO_MAX 32        /* strategies, clusterings */
#define DEMO_MAX_SEEDS 16
#define DEMO_MAX_SETS 16   /* BEIR sets evaluated */

/* A strategy: BASE[+filter], BASE one of random | source | cluster-q<K> |
 * cluster-d<K> | cluster-s<S> | curriculum. */
typedef struct demo_strategy {
    char name[64];     /* as given, e.g. "cluster+filter"                   */
    char base[64];     /* random, source, curriculum or cluster-<clustering> */
    int filter;        /* +filter: CDE's false-negative mask                */
    int curriculum;    /* random -> cluster-q10 -> cluster-s256, thirds     */
    int clustering;    /* index into demo_setup.clus, or -1                  */
} demo_strategy;

/* A clustering of the surrogate embeddings, per source. */
typedef struct demo_clustering {
    char name[32];     /* q10, d10, s256                                    */
    char on;           /* 'q' queries, 'd' positives, 'a' asymmetric q(+)d  */
    int64_t param;     /* K, or the cluster size for 'a'                     */
} demo_clustering;

/* What the pipeline runs: read by every part. */
typedef struct demo_setup {
    const char *out;                     /* OUT                              */
    const char *pairs;                   /* training pairs                   */
    int embedded;                        /* pairs are the embedded corpus    */
    const char *init;                    /* model continued, or NULL (fresh) */
    demo_strategy strat[DEMO_MAX];
    int ns;
    demo_clustering clus[DEMO_MAX];
    int nc;
    uint64_t seeds[DEMO_MAX_SEEDS];
    int nseeds;
    const char *beir[DEMO_MAX_SETS];     /* BEIR folders evaluated           */
    char set_name[DEMO_MAX_SETS][64];    /* their names in file names        */
    int nbeir;
    const char *split;
} demo_setup;


/* ------------------------------------------------------------------------ */
/* Stages (demo_stage.c)                                                     */
/* ------------------------------------------------------------------------ */

typedef struct demo_runner {
    const cli_env *env;
    char self[4096];     /* this executable                                 */
    FILE *commands;      /* OUT/commands.sh                                 */
    const char *times;   /* OUT/stages.jsonl: wall seconds per stage run    */
    int n_run, n_skipped;
} demo_runner;

/* Opens the runner on OUT (commands.sh, stages.jsonl). 0 ok, -1 error. */
int demo_runner_open(demo_runner *d, const cli_env *env, const char *out);
void demo_runner_close(demo_runner *d);

/* Runs `strata ARGS... --threads N [--seed S] [--quiet]` unless done_path
 * exists (then counts it as skipped). --seed is the demo's unless ARGS
 * hold one. Returns 0 on success, -1 (message printed) on failure. */
int demo_stage(demo_runner *d, const char *done_path, const char *what, int argc,
               const char **args);

#define DEMO_STAGE(d, done, what, ...)                                          \
    do {                                                                       \
        const char *a_[] = {__VA_ARGS__};                                      \
        if (demo_stage((d), (done), (what), (int)(sizeof a_ / sizeof a_[0]), a_)) \
            goto fail;                                                         \
    } while (0)

/* printf into a string that lives until demo_strings_free (exits with a
 * message when out of memory: the demo cannot go on without its paths). */
char *dfmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
void demo_strings_free(void);

int demo_exists(const char *path);

/* JSON files: read (NULL when missing or unparsable) and write atomically. */
struct cJSON *demo_json_read(const char *path);
strata_status demo_json_write(const char *path, const struct cJSON *j, strata_error *err);
double demo_now(void);

/* ------------------------------------------------------------------------ */
/* Results (demo_results.c) and report (demo_report.c)                       */
/* ------------------------------------------------------------------------ */

struct cJSON;

/* Reads every stage's outputs and builds results.json's object (returned,
 * owned by the caller; NULL with a message in err on failure): per strategy
 * the hardness of its plans, per seed the final loss/accuracy and metrics,
 * means and spreads over seeds, the baselines, cluster statistics, wall time
 * per stage, and per set the paired comparisons (strata compare): every
 * strategy against random (or the first strategy), and the best strategy
 * against the hash baseline, seeds pooled per query. */
struct cJSON *demo_collect(const demo_setup *s, const demo_runner *d, double seconds,
                           strata_error *err);

/* The summary table on stdout and OUT/report.html. 0 ok, -1 error (err). */
int demo_report(const demo_setup *s, const struct cJSON *results, double seconds,
                strata_error *err);

#endif
