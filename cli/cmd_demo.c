/*
 * cmd_demo.c — `strata demo`: the whole pipeline, end to end, and the
 * comparison it exists for.
 *
 * By default on the embedded corpus (`strata synth`): embed with the hashed
 * TF-IDF embedder, then for every seed cluster per source, plan batches for
 * each strategy and measure their hardness, train the same small BERT on
 * each plan, evaluate NDCG@10 with a TREC run per model; finally compare the
 * strategies per query with paired tests (strata compare) and write
 * results.json and report.html, whose first paragraph states the result.
 * With --pairs/--beir/--init/--embed-model the same driver runs the papers'
 * experiment on real data (experiments/README.md).
 *
 * Replicates vary what is under study: each seed has its own clustering
 * (k-means start), plan (shuffle, packing, order) and model initialization,
 * so the spread over seeds is the spread of the method, also when training
 * continues from a pretrained model (where initialization is fixed).
 *
 * The parts are in demo.h; this file holds the options, the settings and
 * the order of the stages.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "commands.h"
#include "demo.h"
#include "strata/data.h"
#include "strata/embed.h"
#include "strata/encoder.h"
#include "strata/io.h"
#include "strata/plan.h"

/* ------------------------------------------------------------------------ */
/* Options                                                                   */
/* ------------------------------------------------------------------------ */

static const char *o_out = "demo-out";
static const char *o_pairs;
static cli_strings o_beir;
static const char *o_split = "test";
static const char *o_strategies = "random,source,cluster,cluster+filter";
static const char *o_seeds = "1,2,3";
static const char *o_embed_model = "hash";
static const char *o_init;
static int o_dim;
static int o_k = 10;
static int64_t o_batch = 32;
static int64_t o_steps = 300;
static int64_t o_warmup = -1;
static double o_lr = 1e-3;
static double o_tau = 0.05;
static int o_max_len = 64;
static int o_eval_max_len = 0;
static int o_layers = 2, o_hidden = 128, o_heads = 4, o_ffn = 512;
static int o_vocab_size = 8000;
static const char *o_vocab;
static int o_chunk = 0;
static double o_margin;
static int o_topics = 0, o_per_topic = 0, o_test_queries = 0, o_corpus = 0;
static double o_paraphrase = -1;
static const char *o_precision;
static const char *g_prec = "fp32"; /* --precision resolved for this machine */

static const cli_opt opts[] = {
    {"out", CLI_STRING, &o_out, "DIR", "output folder (default demo-out)", 0},
    {"pairs", CLI_STRING, &o_pairs, "PAIRS", "training pairs (default: the embedded corpus)", 0},
    {"beir", CLI_STRINGS, &o_beir, "DIR", "BEIR set to evaluate on, repeatable (default: the embedded one)", 0},
    {"split", CLI_STRING, &o_split, "NAME", "qrels split to evaluate", CLI_SHOW_DEFAULT},
    {"strategies", CLI_STRING, &o_strategies, "LIST",
     "plans to train on (see docs/demo.md)", CLI_SHOW_DEFAULT},
    {"seeds", CLI_STRING, &o_seeds, "LIST",
     "replicates, comma-separated: each its own clustering, plan and initialization",
     CLI_SHOW_DEFAULT},
    {"embed-model", CLI_STRING, &o_embed_model, "hash|DIR",
     "embedder for clustering and masks", CLI_SHOW_DEFAULT},
    {"dim", CLI_INT, &o_dim, "D", "hash embedder dims", CLI_SHOW_DEFAULT},
    {"init", CLI_STRING, &o_init, "MODEL_DIR", "continue training this model (default: fresh small BERT)", 0},
    {"clusters", CLI_INT, &o_k, "K", "clusters per source for `cluster`", CLI_SHOW_DEFAULT},
    {"batch-size", CLI_INT64, &o_batch, "B", "pairs per batch", CLI_SHOW_DEFAULT},
    {"steps", CLI_INT64, &o_steps, "N", "training steps per strategy and seed", CLI_SHOW_DEFAULT},
    {"warmup", CLI_INT64, &o_warmup, "N", "warmup steps (default: a tenth of the steps)", 0},
    {"lr", CLI_DOUBLE, &o_lr, "LR", "peak learning rate", CLI_SHOW_DEFAULT},
    {"tau", CLI_DOUBLE, &o_tau, "T", "InfoNCE temperature", CLI_SHOW_DEFAULT},
    {"max-len", CLI_INT, &o_max_len, "N", "training tokens per text", CLI_SHOW_DEFAULT},
    {"eval-max-len", CLI_INT, &o_eval_max_len, "N", "evaluation tokens per text (default: --max-len)", 0},
    {"layers", CLI_INT, &o_layers, "L", "fresh model: layers", CLI_SHOW_DEFAULT},
    {"hidden", CLI_INT, &o_hidden, "C", "fresh model: hidden size", CLI_SHOW_DEFAULT},
    {"heads", CLI_INT, &o_heads, "H", "fresh model: attention heads", CLI_SHOW_DEFAULT},
    {"ffn", CLI_INT, &o_ffn, "F", "fresh model: feed-forward size", CLI_SHOW_DEFAULT},
    {"vocab-size", CLI_INT, &o_vocab_size, "V", "fresh model: words kept in the built vocabulary",
     CLI_SHOW_DEFAULT},
    {"vocab", CLI_STRING, &o_vocab, "VOCAB", "fresh model: use this vocab.txt instead of building one", 0},
    {"chunk", CLI_INT, &o_chunk, "C", "GradCache chunk (default 0: whole batch)", 0},
    {"margin", CLI_DOUBLE, &o_margin, "M", "false-negative margin for +filter strategies", CLI_SHOW_DEFAULT},
    {"topics", CLI_INT, &o_topics, "N", "embedded corpus: topics (default: synth's)", 0},
    {"pairs-per-topic", CLI_INT, &o_per_topic, "N", "embedded corpus: pairs per topic and source (default: synth's)", 0},
    {"test-queries", CLI_INT, &o_test_queries, "N", "embedded corpus: test queries (default: synth's)", 0},
    {"corpus", CLI_INT, &o_corpus, "N", "embedded corpus: test passages (default: synth's)", 0},
    {"paraphrase", CLI_DOUBLE, &o_paraphrase, "P", "embedded corpus: synonym rate in queries (default: synth's)", 0},
    {"precision", CLI_STRING, &o_precision, "MODE",
     "training and BERT embedding: auto|fp32|bf16 (default auto: bf16 where the CPU and build have it)", 0},
    {"k", CLI_INT, &o_k, NULL, "clusters", CLI_ALIAS},
    {0},
};

/* The defaults the demo shares with the stages it runs: the hash
 * embedder's dims and the planner's margin (the rest are the demo's own,
 * in the initializers above). */
static void defaults(void) {
    o_dim = strata_hash_default_params().dim;
    o_margin = strata_plan_default_params().margin;
}

/* ------------------------------------------------------------------------ */
/* Strategies                                                                */
/* ------------------------------------------------------------------------ */

static int parse_clustering(const char *s, demo_clustering *c) {
    memset(c, 0, sizeof *c);
    if (strncmp(s, "cluster-", 8) != 0) return -1;
    char kind = s[8], *end;
    long long v = strtoll(s + 9, &end, 10);
    if (*end || v <= 0 || (kind != 'q' && kind != 'd' && kind != 's')) return -1;
    c->on = kind == 's' ? 'a' : kind;
    c->param = v;
    snprintf(c->name, sizeof c->name, "%c%lld", kind, v);
    return 0;
}

/* Index of c in s->clus, added if new; -1 when full. */
static int add_clustering(demo_setup *s, const demo_clustering *c) {
    for (int i = 0; i < s->nc; i++)
        if (strcmp(s->clus[i].name, c->name) == 0) return i;
    if (s->nc >= DEMO_MAX) return -1;
    s->clus[s->nc] = *c;
    return s->nc++;
}

/* Parses a comma-separated strategy list into s->strat and the clusterings
 * they need into s->clus (k: clusters per source of the plain "cluster").
 * Returns 0, or -1 with a message in msg. */
static int parse_strategies(demo_setup *s, const char *list, int k, char *msg, size_t cap) {
    s->ns = s->nc = 0;
    const char *p = list;
    while (*p) {
        size_t len = strcspn(p, ",");
        if (len == 0 || len >= sizeof s->strat[0].name) {
            snprintf(msg, cap, "bad strategy list '%s'", list);
            return -1;
        }
        if (s->ns >= DEMO_MAX) {
            snprintf(msg, cap, "at most %d strategies", DEMO_MAX);
            return -1;
        }
        demo_strategy *st = &s->strat[s->ns];
        memset(st, 0, sizeof *st);
        st->clustering = -1;
        memcpy(st->name, p, len);
        char base[64];
        snprintf(base, sizeof base, "%s", st->name);
        char *plus = strstr(base, "+filter");
        if (plus && plus[7] == '\0') {
            st->filter = 1;
            *plus = '\0';
        }
        for (int i = 0; i < s->ns; i++)
            if (strcmp(s->strat[i].name, st->name) == 0) {
                snprintf(msg, cap, "strategy '%s' given twice", st->name);
                return -1;
            }
        demo_clustering c;
        if (strcmp(base, "random") == 0 || strcmp(base, "source") == 0) {
            snprintf(st->base, sizeof st->base, "%s", base);
        } else if (strcmp(base, "curriculum") == 0) {
            demo_clustering a, b;
            st->curriculum = 1;
            snprintf(st->base, sizeof st->base, "curriculum");
            parse_clustering("cluster-q10", &a);
            parse_clustering("cluster-s256", &b);
            if (add_clustering(s, &a) < 0 || add_clustering(s, &b) < 0) {
                snprintf(msg, cap, "too many clusterings");
                return -1;
            }
        } else {
            char tmp[80];
            if (strcmp(base, "cluster") == 0) snprintf(tmp, sizeof tmp, "cluster-q%d", k);
            else snprintf(tmp, sizeof tmp, "%s", base);
            if (parse_clustering(tmp, &c)) {
                snprintf(msg, cap,
                         "unknown strategy '%s' (random, source, cluster, cluster-qK, cluster-dK, "
                         "cluster-sS, curriculum; each may end in +filter)",
                         st->name);
                return -1;
            }
            if ((st->clustering = add_clustering(s, &c)) < 0) {
                snprintf(msg, cap, "too many clusterings");
                return -1;
            }
            snprintf(st->base, sizeof st->base, "cluster-%s", c.name);
        }
        s->ns++;
        p += len;
        if (*p == ',') p++;
    }
    if (s->ns == 0) {
        snprintf(msg, cap, "--strategies is empty");
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Settings                                                                  */
/* ------------------------------------------------------------------------ */

static int parse_seeds(const char *s, uint64_t *v, int max) {
    int n = 0;
    while (s && *s) {
        char *end;
        if (*s < '0' || *s > '9' || n == max) return -1;
        unsigned long long x = strtoull(s, &end, 10);
        for (int i = 0; i < n; i++)
            if (v[i] == x) return -1;
        v[n++] = x;
        if (*end && *end != ',') return -1;
        s = *end ? end + 1 : end;
    }
    return n;
}

/* The set's name in file names: the folder's last component. */
static void set_name(char *dst, size_t cap, const char *path) {
    const char *e = path + strlen(path);
    while (e > path && e[-1] == '/') e--;
    const char *s = e;
    while (s > path && s[-1] != '/') s--;
    snprintf(dst, cap, "%.*s", (int)(e - s), s);
}

static cJSON *settings_json(const cli_env *env, int64_t warmup, int eval_len) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "pairs", o_pairs ? o_pairs : "(embedded corpus)");
    if (cli_given("query-field") || cli_given("positive-field") || cli_given("source-field")) {
        cJSON *f = cJSON_AddObjectToObject(j, "pair_fields");
        cJSON_AddStringToObject(f, "query", env->pairs.query_field);
        cJSON_AddStringToObject(f, "positive", env->pairs.positive_field);
        cJSON_AddStringToObject(f, "source", env->pairs.source_field);
    }
    cJSON *bl = cJSON_AddArrayToObject(j, "beir");
    for (int i = 0; i < o_beir.n; i++) cJSON_AddItemToArray(bl, cJSON_CreateString(o_beir.v[i]));
    cJSON_AddStringToObject(j, "split", o_split);
    cJSON_AddStringToObject(j, "strategies", o_strategies);
    cJSON_AddStringToObject(j, "seeds", o_seeds);
    cJSON_AddStringToObject(j, "embed_model", o_embed_model);
    cJSON_AddNumberToObject(j, "dim", o_dim);
    cJSON_AddStringToObject(j, "init", o_init ? o_init : "(fresh)");
    cJSON_AddNumberToObject(j, "k", o_k);
    cJSON_AddNumberToObject(j, "batch_size", (double)o_batch);
    cJSON_AddNumberToObject(j, "steps", (double)o_steps);
    cJSON_AddNumberToObject(j, "warmup", (double)warmup);
    cJSON_AddNumberToObject(j, "lr", o_lr);
    cJSON_AddNumberToObject(j, "tau", o_tau);
    cJSON_AddNumberToObject(j, "max_len", o_max_len);
    cJSON_AddNumberToObject(j, "eval_max_len", eval_len);
    cJSON_AddNumberToObject(j, "margin", o_margin);
    cJSON_AddNumberToObject(j, "chunk", o_chunk);
    cJSON_AddStringToObject(j, "precision", g_prec);
    if (!o_init) {
        cJSON_AddNumberToObject(j, "layers", o_layers);
        cJSON_AddNumberToObject(j, "hidden", o_hidden);
        cJSON_AddNumberToObject(j, "heads", o_heads);
        cJSON_AddNumberToObject(j, "ffn", o_ffn);
        cJSON_AddNumberToObject(j, "vocab_words", o_vocab_size);
        cJSON_AddStringToObject(j, "vocab", o_vocab ? o_vocab : "(built)");
    }
    cJSON_AddNumberToObject(j, "data_seed", (double)env->seed);
    if (!o_pairs) {
        cJSON_AddNumberToObject(j, "topics", o_topics);
        cJSON_AddNumberToObject(j, "pairs_per_topic", o_per_topic);
        cJSON_AddNumberToObject(j, "test_queries", o_test_queries);
        cJSON_AddNumberToObject(j, "corpus", o_corpus);
        cJSON_AddNumberToObject(j, "paraphrase", o_paraphrase);
    }
    return j;
}

/* Writes OUT/demo.json, or checks it against an earlier run's: two demos
 * with different settings never mix in one folder. */
static strata_status check_settings(const cJSON *j, strata_error *err) {
    const char *path = dfmt("%s/demo.json", o_out);
    if (demo_exists(path)) {
        cJSON *old = demo_json_read(path);
        if (!old) return strata_error_set(err, STRATA_EFORMAT, "%s: not a readable JSON file; remove it", path);
        int same = cJSON_Compare(old, j, 1);
        cJSON_Delete(old);
        if (!same)
            return strata_error_set(err, STRATA_ESTATE,
                                    "%s holds a demo run with other settings (%s); choose another --out "
                                    "or remove it",
                                    o_out, path);
    }
    return demo_json_write(path, j, err);
}

/* ------------------------------------------------------------------------ */
/* Stages                                                                    */
/* ------------------------------------------------------------------------ */

/* strata synth with the corpus options that were given. */
static int make_corpus(demo_runner *d, const char *data_dir) {
    const char *a[20];
    int n = 0;
    a[n++] = "synth";
    a[n++] = "--out";
    a[n++] = data_dir;
    if (o_topics > 0) a[n++] = "--topics", a[n++] = dfmt("%d", o_topics);
    if (o_per_topic > 0) a[n++] = "--pairs-per-topic", a[n++] = dfmt("%d", o_per_topic);
    if (o_test_queries > 0) a[n++] = "--test-queries", a[n++] = dfmt("%d", o_test_queries);
    if (o_corpus > 0) a[n++] = "--corpus", a[n++] = dfmt("%d", o_corpus);
    if (o_paraphrase >= 0) a[n++] = "--paraphrase", a[n++] = dfmt("%g", o_paraphrase);
    return demo_stage(d, dfmt("%s/beir/qrels/test.tsv", data_dir), "make the embedded corpus", n, a);
}

/* The surrogate embeddings of queries and positives: clustering and masks. */
static int embed_pairs(demo_runner *d, const demo_setup *s, const char *q, const char *p) {
    if (strcmp(o_embed_model, "hash") == 0) {
        /* IDF fitted on the positives (the larger, passage-like side), shared
         * by the queries so both live in one space */
        const char *idf = dfmt("%s/embed/idf.npy", s->out), *dim = dfmt("%d", o_dim);
        DEMO_STAGE(d, p, "embed the positives (fits the hash embedder's IDF)", "embed", "--model", "hash",
                   "--input", s->pairs, "--field", "positive", "--dim", dim, "--idf-out", idf, "--out", p);
        DEMO_STAGE(d, q, "embed the queries with the same IDF", "embed", "--model", "hash", "--input",
                   s->pairs, "--field", "query", "--dim", dim, "--idf", idf, "--out", q);
    } else {
        /* the surrogate model sees the texts as the trainer will (--max-len) */
        const char *ml = dfmt("%d", o_max_len);
        DEMO_STAGE(d, q, "embed the queries", "embed", "--model", o_embed_model, "--input", s->pairs,
                   "--field", "query", "--max-len", ml, "--precision", g_prec, "--out", q);
        DEMO_STAGE(d, p, "embed the positives", "embed", "--model", o_embed_model, "--input", s->pairs,
                   "--field", "positive", "--max-len", ml, "--precision", g_prec, "--out", p);
    }
    return 0;
fail:
    return -1;
}

static int cluster_seed(demo_runner *d, const demo_setup *s, int c, const char *seed, const char *q,
                        const char *p) {
    const demo_clustering *cl = &s->clus[c];
    const char *dir = dfmt("%s/cluster/%s/seed%s", s->out, cl->name, seed);
    const char *done = dfmt("%s/" STRATA_MANIFEST, dir), *par = dfmt("%lld", (long long)cl->param);
    const char *what = dfmt("cluster %s, seed %s", cl->name, seed);
    if (cl->on == 'a')
        DEMO_STAGE(d, done, what, "cluster", "--query-emb", q, "--doc-emb", p, "--mode", "asymmetric",
                   "--cluster-size", par, "--pairs", s->pairs, "--per-source", "--out", dir, "--seed", seed);
    else
        DEMO_STAGE(d, done, what, "cluster", "--query-emb", cl->on == 'q' ? q : p, "--clusters", par, "--pairs",
                   s->pairs, "--per-source", "--out", dir, "--seed", seed);
    return 0;
fail:
    return -1;
}

static int plan_seed(demo_runner *d, const demo_setup *s, int k, const char *seed, const char *q,
                     const char *p) {
    const demo_strategy *st = &s->strat[k];
    const char *dir = dfmt("%s/plans/%s/seed%s", s->out, st->name, seed);
    const char *a[40];
    int n = 0;
    a[n++] = "plan";
    a[n++] = "--pairs";
    a[n++] = s->pairs;
    a[n++] = "--batch-size";
    a[n++] = dfmt("%lld", (long long)o_batch);
    if (st->curriculum) {
        a[n++] = "--stages";
        a[n++] = dfmt("random:1,cluster=%s/cluster/q10/seed%s:1,cluster=%s/cluster/s256/seed%s:1", s->out, seed,
                      s->out, seed);
    } else if (st->clustering >= 0) {
        a[n++] = "--strategy";
        a[n++] = "cluster";
        a[n++] = "--assign";
        a[n++] = dfmt("%s/cluster/%s/seed%s/assign.npy", s->out, s->clus[st->clustering].name, seed);
    } else {
        a[n++] = "--strategy";
        a[n++] = st->base;
    }
    if (st->filter) {
        a[n++] = "--query-emb";
        a[n++] = q;
        a[n++] = "--doc-emb";
        a[n++] = p;
        a[n++] = "--margin";
        a[n++] = dfmt("%g", o_margin);
    }
    a[n++] = "--out";
    a[n++] = dir;
    a[n++] = "--seed";
    a[n++] = seed;
    if (demo_stage(d, dfmt("%s/" STRATA_MANIFEST, dir), dfmt("plan %s, seed %s", st->name, seed), n, a)) return -1;
    const char *hard = dfmt("%s/hardness.json", dir);
    DEMO_STAGE(d, hard, dfmt("hardness of plan %s, seed %s", st->name, seed), "hardness", "--plan", dir,
               "--query-emb", q, "--doc-emb", p, "--out", hard);
    return 0;
fail:
    return -1;
}

/* A fresh model's vocab.txt and config.json in OUT/model. */
static strata_status fresh_model(const cli_env *env, const demo_setup *s, int eval_len,
                                 const char **config, const char **vocab, strata_error *err) {
    const char *dir = dfmt("%s/model", s->out);
    *config = dfmt("%s/config.json", dir);
    *vocab = dfmt("%s/vocab.txt", dir);
    if (demo_exists(*config)) return STRATA_OK;
    strata_status st = strata_mkdirs(dir, err);
    if (st) return st;
    if (o_vocab) {
        char *text;
        size_t len;
        if ((st = strata_read_file(o_vocab, &text, &len, 0, err))) return st;
        st = strata_write_file(*vocab, text, len, err);
        strata_free(text);
    } else {
        strata_pairs pp;
        if ((st = strata_pairs_load(&pp, s->pairs, &env->pairs, err))) return st;
        st = strata_vocab_build(&pp, o_vocab_size, *vocab, err);
        strata_pairs_free(&pp);
    }
    if (st) return st;
    strata_tokenizer *tok;
    if ((st = strata_tokenizer_load(&tok, *vocab, NULL, err))) return st;
    strata_bert_config bc = {.vocab_size = strata_tokenizer_vocab_size(tok),
                             .hidden_size = o_hidden,
                             .num_layers = o_layers,
                             .num_heads = o_heads,
                             .intermediate_size = o_ffn,
                             .max_position = eval_len > o_max_len ? eval_len : o_max_len,
                             .type_vocab_size = 2,
                             .layer_norm_eps = 1e-12f};
    int pad = strata_tokenizer_special(tok, "[PAD]");
    strata_tokenizer_free(tok);
    return strata_bert_config_save(&bc, pad >= 0 ? pad : 0, *config, err);
}

static int train_seed(demo_runner *d, const demo_setup *s, int k, const char *seed, const char *config,
                      const char *vocab, int64_t warmup, int eval_len) {
    const demo_strategy *st = &s->strat[k];
    const char *run = dfmt("%s/runs/%s/seed%s", s->out, st->name, seed);
    const char *a[48];
    int n = 0;
    a[n++] = "train";
    a[n++] = "--pairs", a[n++] = s->pairs;
    a[n++] = "--plan", a[n++] = dfmt("%s/plans/%s/seed%s", s->out, st->name, seed);
    if (s->init) {
        a[n++] = "--init", a[n++] = s->init;
    } else {
        a[n++] = "--config", a[n++] = config;
        a[n++] = "--vocab", a[n++] = vocab;
    }
    a[n++] = "--out", a[n++] = run;
    a[n++] = "--steps", a[n++] = dfmt("%lld", (long long)o_steps);
    a[n++] = "--warmup", a[n++] = dfmt("%lld", (long long)warmup);
    a[n++] = "--lr", a[n++] = dfmt("%g", o_lr);
    a[n++] = "--tau", a[n++] = dfmt("%g", o_tau);
    a[n++] = "--max-len", a[n++] = dfmt("%d", o_max_len);
    a[n++] = "--chunk", a[n++] = dfmt("%d", o_chunk);
    a[n++] = "--precision", a[n++] = g_prec;
    a[n++] = "--seed", a[n++] = seed;
    /* a killed demo loses at most a tenth of a run: checkpoints every tenth
     * of the steps (the newest kept), and a rerun resumes from it (--resume
     * starts fresh where there is none) */
    a[n++] = "--save-every", a[n++] = dfmt("%lld", (long long)(o_steps + 9) / 10);
    a[n++] = "--keep-checkpoints", a[n++] = "1";
    a[n++] = "--resume";
    if (demo_stage(d, dfmt("%s/final/" STRATA_MANIFEST, run), dfmt("train on plan %s, seed %s", st->name, seed),
                   n, a))
        return -1;
    for (int b = 0; b < s->nbeir; b++) {
        const char *set = s->set_name[b];
        DEMO_STAGE(d, dfmt("%s/metrics-%s.json", run, set), dfmt("evaluate %s seed %s on %s", st->name, seed, set),
                   "eval", "--beir", s->beir[b], "--split", s->split, "--model", dfmt("%s/final", run),
                   "--max-len", dfmt("%d", eval_len), "--precision", g_prec,
                   "--run-out", dfmt("%s/run-%s.trec", run, set),
                   "--run-name", dfmt("%s/seed%s", st->name, seed), "--out", dfmt("%s/metrics-%s.json", run, set));
    }
    return 0;
fail:
    return -1;
}

/* The untrained references: the hash embedder, and the initial model. */
static int baselines(demo_runner *d, const demo_setup *s, int eval_len) {
    for (int b = 0; b < s->nbeir; b++) {
        const char *set = s->set_name[b];
        DEMO_STAGE(d, dfmt("%s/baseline/hash-%s.json", s->out, set), dfmt("baseline: hash embedder on %s", set),
                   "eval", "--beir", s->beir[b], "--split", s->split, "--model", "hash", "--run-out",
                   dfmt("%s/baseline/hash-%s.trec", s->out, set), "--run-name", "hash", "--out",
                   dfmt("%s/baseline/hash-%s.json", s->out, set));
        if (s->init)
            DEMO_STAGE(d, dfmt("%s/baseline/init-%s.json", s->out, set),
                       dfmt("baseline: the initial model on %s", set), "eval", "--beir", s->beir[b], "--split",
                       s->split, "--model", s->init, "--max-len", dfmt("%d", eval_len), "--precision", g_prec, "--run-out",
                       dfmt("%s/baseline/init-%s.trec", s->out, set), "--run-name", "init", "--out",
                       dfmt("%s/baseline/init-%s.json", s->out, set));
    }
    return 0;
fail:
    return -1;
}

/* ------------------------------------------------------------------------ */
/* The command                                                               */
/* ------------------------------------------------------------------------ */

/* Fills s from the options; 0, or a usage error's exit code. */
static int setup(demo_setup *s, int *eval_len, int64_t *warmup) {
    char msg[256];
    memset(s, 0, sizeof *s);
    s->out = o_out;
    s->init = o_init;
    s->split = o_split;
    if (parse_strategies(s, o_strategies, o_k, msg, sizeof msg))
        return cli_usage_error(&cmd_demo, "%s", msg);
    s->nseeds = parse_seeds(o_seeds, s->seeds, DEMO_MAX_SEEDS);
    if (s->nseeds <= 0)
        return cli_usage_error(&cmd_demo, "--seeds expects up to %d distinct numbers like 1,2,3", DEMO_MAX_SEEDS);
    if (o_batch < 2 || o_steps < 1 || o_max_len < 4)
        return cli_usage_error(&cmd_demo, "--batch-size >= 2, --steps >= 1, --max-len >= 4");
    if (o_warmup >= o_steps)
        return cli_usage_error(&cmd_demo, "--warmup %lld is not shorter than --steps %lld",
                               (long long)o_warmup, (long long)o_steps);
    if (o_precision && strcmp(o_precision, "int8") == 0)
        return cli_usage_error(&cmd_demo, "--precision int8 is for embedding only; the demo trains (auto, fp32, bf16)");
    strata_precision prec;
    int prc = cli_precision(&cmd_demo, o_precision, &prec);
    if (prc) return prc;
    g_prec = strata_precision_name(prec);
    if (o_pairs && o_beir.n == 0)
        return cli_usage_error(&cmd_demo, "--pairs needs at least one --beir set to evaluate on");
    if (o_beir.n > DEMO_MAX_SETS) return cli_usage_error(&cmd_demo, "at most %d --beir sets", DEMO_MAX_SETS);
    static const char *const fresh[] = {"layers", "hidden", "heads", "ffn", "vocab-size", "vocab", NULL};
    static const char *const corpus[] = {"topics", "pairs-per-topic", "test-queries", "corpus",
                                         "paraphrase", NULL};
    static const char *const hash[] = {"dim", NULL};
    int rc = o_init ? cli_reject(&cmd_demo, fresh, "to --init (they shape a fresh model)") : 0;
    if (!rc && o_pairs)
        rc = cli_reject(&cmd_demo, corpus, "to --pairs (they shape the embedded corpus)");
    if (!rc && strcmp(o_embed_model, "hash") != 0)
        rc = cli_reject(&cmd_demo, hash, "to a BERT --embed-model (it sets the hash embedder)");
    if (rc) return rc;
    *warmup = o_warmup >= 0 ? o_warmup : o_steps / 10;
    *eval_len = o_eval_max_len > 0 ? o_eval_max_len : o_max_len;
    s->embedded = !o_pairs;
    s->pairs = o_pairs ? o_pairs : dfmt("%s/data/pairs.jsonl", o_out);
    if (o_beir.n == 0) s->beir[s->nbeir++] = dfmt("%s/data/beir", o_out);
    for (int i = 0; i < o_beir.n; i++) s->beir[s->nbeir++] = o_beir.v[i];
    for (int b = 0; b < s->nbeir; b++) {
        set_name(s->set_name[b], sizeof s->set_name[b], s->beir[b]);
        for (int c = 0; c < b; c++)
            if (strcmp(s->set_name[b], s->set_name[c]) == 0)
                return cli_usage_error(&cmd_demo, "two --beir sets are named '%s'", s->set_name[b]);
    }
    return 0;
}

static int run(const cli_env *env, int npos, char **pos) {
    (void)npos;
    (void)pos;
    strata_error err;
    strata_error_clear(&err);
    demo_setup s;
    demo_runner d = {0};
    cJSON *settings = NULL, *results = NULL;
    int eval_len = 0;
    int64_t warmup = 0;
    int rc = setup(&s, &eval_len, &warmup);
    if (rc) goto done;
    rc = CLI_FAIL;
    double t0 = demo_now();
    if (strata_mkdirs(dfmt("%s/embed", o_out), &err) || strata_mkdirs(dfmt("%s/baseline", o_out), &err))
        goto fail_err;
    settings = settings_json(env, warmup, eval_len);
    if (!settings || check_settings(settings, &err)) goto fail_err;
    if (demo_runner_open(&d, env, o_out)) goto fail;

    if (s.embedded && make_corpus(&d, dfmt("%s/data", o_out))) goto fail;
    const char *q = dfmt("%s/embed/q.npy", o_out), *p = dfmt("%s/embed/d.npy", o_out);
    if (embed_pairs(&d, &s, q, p)) goto fail;
    for (int r = 0; r < s.nseeds; r++) {
        const char *seed = dfmt("%llu", (unsigned long long)s.seeds[r]);
        for (int c = 0; c < s.nc; c++)
            if (cluster_seed(&d, &s, c, seed, q, p)) goto fail;
        for (int k = 0; k < s.ns; k++)
            if (plan_seed(&d, &s, k, seed, q, p)) goto fail;
    }
    const char *config = NULL, *vocab = NULL;
    if (!s.init) {
        if (fresh_model(env, &s, eval_len, &config, &vocab, &err)) goto fail_err;
        cli_info(env, "demo: fresh model: %d layers, hidden %d, %d heads, ffn %d (%s)", o_layers, o_hidden,
                 o_heads, o_ffn, config);
    }
    /* seed by seed: a run stopped early holds whole replicates, every
     * strategy for the first seeds, which pair up; a rerun resumes */
    for (int r = 0; r < s.nseeds; r++)
        for (int k = 0; k < s.ns; k++)
            if (train_seed(&d, &s, k, dfmt("%llu", (unsigned long long)s.seeds[r]), config, vocab, warmup,
                           eval_len))
                goto fail;
    if (baselines(&d, &s, eval_len)) goto fail;

    if (!(results = demo_collect(&s, &d, demo_now() - t0, &err))) goto fail_err;
    cJSON_AddItemToObject(results, "settings", settings);
    settings = NULL;
    if (demo_json_write(dfmt("%s/results.json", o_out), results, &err)) goto fail_err;
    if (demo_report(&s, results, demo_now() - t0, &err)) goto fail_err;
    cli_info(env, "demo: wrote %s/results.json and %s/report.html (%d stages run, %d already done, %.0f s)",
             o_out, o_out, d.n_run, d.n_skipped, demo_now() - t0);
    rc = CLI_OK;
    goto done;
fail_err:
    cli_fail(&err);
fail:
    rc = CLI_FAIL;
done:
    demo_runner_close(&d);
    cJSON_Delete(settings);
    cJSON_Delete(results);
    demo_strings_free();
    return rc;
}

const cli_command cmd_demo = {
    "demo",
    "run the whole pipeline on the embedded corpus and compare batching strategies",
    NULL,
    "Makes the embedded corpus (strata synth) and embeds it with the hash embedder; then, for "
    "every seed, clusters each source, plans batches for each strategy and measures their "
    "hardness, trains the same small BERT on each plan, and evaluates NDCG@10. Compares the "
    "strategies per query with paired tests (strata compare; seeds pooled per query) and writes "
    "OUT/results.json, OUT/report.html (its first paragraph states the result) and "
    "OUT/commands.sh (every stage's command). A rerun skips finished stages. With --pairs and "
    "--beir it runs the same experiment on your data. See docs/demo.md.",
    opts,
    run,
    defaults,
    1,
};
