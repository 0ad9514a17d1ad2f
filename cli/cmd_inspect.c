/*
 * cmd_inspect.c — `strata inspect PATH`: what is in a pairs file or a BEIR
 * directory (counts per source, text lengths, exact duplicates).
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "commands.h"
#include "strata/data.h"
#include "strata/io.h"
#include "strata/json.h"

static const char *o_json = NULL;

static const cli_opt opts[] = {
    {"json", CLI_STRING, &o_json, "OUT.json", "also write the statistics as JSON (atomically)", 0},
    {0},
};

/* ------------------------------------------------------------------------ */
/* Printing                                                                  */
/* ------------------------------------------------------------------------ */

static void print_len(const char *what, const strata_len_stats *s) {
    printf("  %-15s %9.1f %9.1f %9.1f %9lld\n", what, s->mean, s->median, s->p95,
           (long long)s->max);
}

static void print_pairs(const char *path, const strata_pairs *p, const strata_pairs_stats *s) {
    printf("%s: %lld pairs, %d source%s\n", path, (long long)p->n, p->n_sources,
           p->n_sources == 1 ? "" : "s");
    printf("\n  %-40s %10s %7s\n", "source", "pairs", "share");
    for (int i = 0; i < p->n_sources; i++)
        printf("  %-40s %10lld %6.2f%%\n", p->source_names[i], (long long)s->source_count[i],
               100.0 * (double)s->source_count[i] / (double)(p->n ? p->n : 1));
    printf("\n  %-15s %9s %9s %9s %9s\n", "length", "mean", "median", "p95", "max");
    print_len("query chars", &s->query_chars);
    print_len("query words", &s->query_words);
    print_len("positive chars", &s->positive_chars);
    print_len("positive words", &s->positive_words);
    printf("\n  duplicates: %lld queries repeat an earlier query (%lld distinct),\n"
           "              %lld positives repeat an earlier positive (%lld distinct),\n"
           "              %lld pairs repeat an earlier pair exactly\n",
           (long long)s->dup_queries, (long long)s->unique_queries,
           (long long)s->dup_positives, (long long)s->unique_positives,
           (long long)s->dup_pairs);
}

/* ------------------------------------------------------------------------ */
/* JSON                                                                      */
/* ------------------------------------------------------------------------ */

static cJSON *len_json(const strata_len_stats *s) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "mean", s->mean);
    cJSON_AddNumberToObject(o, "median", s->median);
    cJSON_AddNumberToObject(o, "p95", s->p95);
    cJSON_AddNumberToObject(o, "max", (double)s->max);
    return o;
}

static void add_pairs_json(cJSON *root, const strata_pairs *p, const strata_pairs_stats *s) {
    cJSON_AddNumberToObject(root, "n_pairs", (double)p->n);
    cJSON *src = cJSON_AddObjectToObject(root, "sources");
    for (int i = 0; i < p->n_sources; i++)
        cJSON_AddNumberToObject(src, p->source_names[i], (double)s->source_count[i]);
    cJSON *len = cJSON_AddObjectToObject(root, "lengths");
    cJSON *q = cJSON_AddObjectToObject(len, "query");
    cJSON_AddItemToObject(q, "chars", len_json(&s->query_chars));
    cJSON_AddItemToObject(q, "words", len_json(&s->query_words));
    cJSON *ps = cJSON_AddObjectToObject(len, "positive");
    cJSON_AddItemToObject(ps, "chars", len_json(&s->positive_chars));
    cJSON_AddItemToObject(ps, "words", len_json(&s->positive_words));
    cJSON *d = cJSON_AddObjectToObject(root, "duplicates");
    cJSON_AddNumberToObject(d, "queries", (double)s->dup_queries);
    cJSON_AddNumberToObject(d, "positives", (double)s->dup_positives);
    cJSON_AddNumberToObject(d, "pairs", (double)s->dup_pairs);
    cJSON_AddNumberToObject(d, "distinct_queries", (double)s->unique_queries);
    cJSON_AddNumberToObject(d, "distinct_positives", (double)s->unique_positives);
}

/* ------------------------------------------------------------------------ */
/* BEIR directory summary                                                    */
/* ------------------------------------------------------------------------ */

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Prints corpus / queries / per-split qrels counts and adds them to json.
 * Sets *has_train when qrels/train.tsv exists. */
static strata_status inspect_beir(const char *dir, const cli_env *env, cJSON *root,
                                  int *has_train, strata_error *err) {
    *has_train = 0;
    char *qdir = strata_path_join(dir, "qrels");
    DIR *d = qdir ? opendir(qdir) : NULL;
    strata_free(qdir);
    char *splits[64];
    int ns = 0;
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) && ns < 64) {
            size_t l = strlen(e->d_name);
            if (l > 4 && strcmp(e->d_name + l - 4, ".tsv") == 0 && e->d_name[0] != '.')
                splits[ns++] = strata_strndup(e->d_name, l - 4);
        }
        closedir(d);
    }
    qsort(splits, (size_t)ns, sizeof *splits, cmp_str);
    strata_beir b;
    strata_status st = strata_beir_load(&b, dir, NULL, env->progress, err);
    if (st) goto done;
    cli_progress_done(env);
    printf("%s: BEIR set, %lld corpus documents, %lld queries\n", dir,
           (long long)b.corpus.n, (long long)b.queries.n);
    cJSON *bj = cJSON_AddObjectToObject(root, "beir");
    cJSON_AddNumberToObject(bj, "corpus", (double)b.corpus.n);
    cJSON_AddNumberToObject(bj, "queries", (double)b.queries.n);
    cJSON *sj = cJSON_AddObjectToObject(bj, "splits");
    strata_beir_free(&b);
    for (int i = 0; i < ns; i++) {
        strata_beir s;
        st = strata_beir_load(&s, dir, splits[i], env->progress, err);
        if (st) goto done;
        cli_progress_done(env);
        int64_t nq = 0, pos = 0;
        for (int64_t k = 0; k < s.n_qrels; k++) {
            if (k == 0 || s.qrels[k].query != s.qrels[k - 1].query) nq++;
            if (s.qrels[k].score > 0) pos++;
        }
        printf("  qrels/%s.tsv: %lld judgements (%lld with score > 0) over %lld queries\n",
               splits[i], (long long)s.n_qrels, (long long)pos, (long long)nq);
        cJSON *one = cJSON_AddObjectToObject(sj, splits[i]);
        cJSON_AddNumberToObject(one, "qrels", (double)s.n_qrels);
        cJSON_AddNumberToObject(one, "positive_qrels", (double)pos);
        cJSON_AddNumberToObject(one, "queries", (double)nq);
        if (strcmp(splits[i], "train") == 0) *has_train = 1;
        strata_beir_free(&s);
    }
    printf("\n");
done:
    for (int i = 0; i < ns; i++) strata_free(splits[i]);
    return st;
}

/* ------------------------------------------------------------------------ */
/* Command                                                                   */
/* ------------------------------------------------------------------------ */

static int run(const cli_env *env, int npos, char **pos) {
    strata_error err;
    strata_error_clear(&err);
    if (npos != 1) return cli_usage_error(&cmd_inspect, "expected exactly one PATH");
    const char *path = pos[0];
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "path", path);
    strata_status st = STRATA_OK;
    strata_pairs p;
    memset(&p, 0, sizeof p);
    strata_pairs_stats s;
    memset(&s, 0, sizeof s);
    int want_pairs = 1;
    struct stat sb;
    int is_dir = stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
    if (is_dir) {
        cJSON_AddStringToObject(root, "kind", "beir");
        st = inspect_beir(path, env, root, &want_pairs, &err);
        if (!st && !want_pairs) printf("(no qrels/train.tsv: no training pairs)\n");
    } else {
        cJSON_AddStringToObject(root, "kind", "pairs");
    }
    if (!st && want_pairs) {
        st = strata_pairs_load(&p, path, &env->pairs, &err);
        if (!st) st = strata_pairs_stats_compute(&s, &p, &err);
        cli_progress_done(env);
        if (!st) {
            if (is_dir) printf("training pairs (qrels/train.tsv, score > 0):\n");
            print_pairs(path, &p, &s);
            add_pairs_json(root, &p, &s);
        }
    }
    if (!st && o_json) st = strata_json_write(o_json, root, &err);
    if (!st && o_json) cli_info(env, "wrote %s", o_json);
    strata_pairs_stats_free(&s);
    strata_pairs_free(&p);
    cJSON_Delete(root);
    return st ? cli_fail(&err) : CLI_OK;
}

const cli_command cmd_inspect = {
    "inspect",
    "counts per source, text lengths and duplicates of pairs or a BEIR set",
    "PATH",
    "PATH is a pairs file (JSONL, or TSV when the name contains .tsv; .gz/.zst "
    "read transparently) or a BEIR directory (corpus.jsonl, queries.jsonl, "
    "qrels/<split>.tsv; its train qrels are read as pairs). Prints pairs per "
    "source, text lengths in characters (Unicode code points) and words "
    "(mean, median, p95, max) and how many queries, positives and whole pairs "
    "repeat an earlier one exactly.",
    opts,
    run,
    NULL,
    1,
};
