/* cmd_synth.c — `strata synth`: write the embedded demo corpus. */
#include <stdio.h>

#include "commands.h"
#include "strata/data.h"

static const char *o_out = NULL;
static int o_topics = 24;
static int o_per = 50;
static int o_subtopics = 4;
static int o_queries = 200;
static int o_corpus = 2000;
static double o_paraphrase = 0.5;

static const cli_opt opts[] = {
    {"out", CLI_STRING, &o_out, "DIR", "output directory (created if missing)", CLI_REQUIRED},
    {"topics", CLI_INT, &o_topics, "N", "number of topics (default 24; 30 have built-in word lists)", 0},
    {"pairs-per-topic", CLI_INT, &o_per, "N", "pairs per topic in each of the 5 sources (default 50)", 0},
    {"subtopics", CLI_INT, &o_subtopics, "N", "subtopics per topic (default 4)", 0},
    {"test-queries", CLI_INT, &o_queries, "N", "queries in the BEIR test set (default 200)", 0},
    {"corpus", CLI_INT, &o_corpus, "N", "passages in the BEIR test corpus (default 2000)", 0},
    {"paraphrase", CLI_DOUBLE, &o_paraphrase, "P",
     "probability that a query names a word by its synonym (default 0.5)", 0},
    {0},
};

static int run(const cli_env *env, int npos, char **pos) {
    (void)npos;
    (void)pos;
    strata_synth_params p = strata_synth_default_params();
    p.n_topics = o_topics;
    p.pairs_per_source_topic = o_per;
    p.n_subtopics = o_subtopics;
    p.n_test_queries = o_queries;
    p.n_corpus = o_corpus;
    p.paraphrase = o_paraphrase;
    p.seed = env->seed;
    strata_error err;
    strata_error_clear(&err);
    if (strata_synth_write(o_out, &p, &err)) return cli_fail(&err);
    cli_info(env, "wrote %s/pairs.jsonl (%lld pairs: %d sources x %d topics x %d) and %s/beir/",
             o_out, (long long)STRATA_SYNTH_SOURCES * o_topics * o_per, STRATA_SYNTH_SOURCES,
             o_topics, o_per, o_out);
    return CLI_OK;
}

const cli_command cmd_synth = {
    "synth",
    "write the embedded demo corpus (pairs + BEIR test set)",
    NULL,
    "Writes DIR/pairs.jsonl, a deterministic topic-structured corpus of "
    "query-positive pairs from 5 sources that differ in style (forum_qa, "
    "paper_titles, search_logs, claims, news_headlines) and all cover every "
    "topic, and DIR/beir/{corpus.jsonl,queries.jsonl,qrels/test.tsv}, a test "
    "set drawn from the same topics with graded relevance (2 relevant, 1 "
    "partially relevant). The same --seed gives the same bytes.",
    opts,
    run,
};
