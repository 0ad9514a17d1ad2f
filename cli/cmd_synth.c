/* cmd_synth.c — `strata synth`: write the embedded demo corpus. */
#include <stdio.h>

#include "commands.h"
#include "strata/data.h"

static const char *o_out = NULL;
static int o_topics;
static int o_per;
static int o_subtopics;
static int o_queries;
static int o_corpus;
static double o_paraphrase;

static const cli_opt opts[] = {
    {"out", CLI_STRING, &o_out, "DIR", "output directory (created if missing)", CLI_REQUIRED},
    {"topics", CLI_INT, &o_topics, "N", "number of topics (30 have built-in word lists)", CLI_SHOW_DEFAULT},
    {"pairs-per-topic", CLI_INT, &o_per, "N", "pairs per topic in each of the 5 sources", CLI_SHOW_DEFAULT},
    {"subtopics", CLI_INT, &o_subtopics, "N", "subtopics per topic", CLI_SHOW_DEFAULT},
    {"test-queries", CLI_INT, &o_queries, "N", "queries in the BEIR test set", CLI_SHOW_DEFAULT},
    {"corpus", CLI_INT, &o_corpus, "N", "passages in the BEIR test corpus", CLI_SHOW_DEFAULT},
    {"paraphrase", CLI_DOUBLE, &o_paraphrase, "P",
     "probability that a query names a word by its synonym", CLI_SHOW_DEFAULT},
    {0},
};

/* The corpus generator's defaults (strata_synth_default_params). */
static void defaults(void) {
    strata_synth_params p = strata_synth_default_params();
    o_topics = p.n_topics;
    o_per = p.pairs_per_source_topic;
    o_subtopics = p.n_subtopics;
    o_queries = p.n_test_queries;
    o_corpus = p.n_corpus;
    o_paraphrase = p.paraphrase;
}

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
    defaults,
    0,
};
