/*
 * cmd_demo.c — `strata demo`: the whole pipeline, end to end.
 *
 * By default on the embedded corpus (`strata synth`): embed with the hashed
 * TF-IDF embedder, cluster per source, plan batches for each strategy, measure
 * their hardness, train the same small BERT on each plan with the same seed
 * and steps, evaluate NDCG@10, and write a comparison table, results.json and
 * report.html. With --pairs/--beir/--init/--embed-model the same driver runs
 * the papers' experiment on real data (experiments/README.md).
 *
 * Every stage is the real `strata` subcommand, run as a child process; each
 * command line is printed and appended to OUT/commands.sh, so a user can
 * replay or change any stage. A stage whose outputs already exist is skipped,
 * so a killed demo continues where it stopped (every stage writes its outputs
 * atomically). OUT/demo.json records the settings; a rerun with different
 * settings into the same folder is refused.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "core/internal.h"
#include "strata/data.h"
#include "strata/io.h"
#include "strata/report.h"

extern char **environ;

/* ------------------------------------------------------------------------ */
/* Options                                                                   */
/* ------------------------------------------------------------------------ */

static const char *o_out = "demo-out";
static const char *o_pairs;
static cli_strings o_beir;
static const char *o_split = "test";
static const char *o_strategies = "random,source,cluster";
static const char *o_seeds;
static const char *o_embed_model = "hash";
static const char *o_init;
static int o_dim = 256;
static int o_k = 10;
static int64_t o_batch = 32;
static int64_t o_steps = 300;
static int64_t o_warmup = -1;
static double o_lr = 1e-3;
static double o_tau = 0.05;
static int o_max_len = 32;
static int o_eval_max_len = 0;
static int o_layers = 2, o_hidden = 128, o_heads = 4, o_ffn = 512;
static int o_vocab_size = 8000;
static const char *o_vocab;
static int o_chunk = 0;
static double o_margin = 0.0;
static int o_topics = 0, o_per_topic = 0, o_test_queries = 0, o_corpus = 0;

static const cli_opt opts[] = {
    {"out", CLI_STRING, &o_out, "DIR", "output folder (default demo-out)", 0},
    {"pairs", CLI_STRING, &o_pairs, "PAIRS", "training pairs (default: the embedded corpus)", 0},
    {"beir", CLI_STRINGS, &o_beir, "DIR", "BEIR set to evaluate on (default: the embedded one)", 0},
    {"split", CLI_STRING, &o_split, "NAME", "qrels split to evaluate (default test)", 0},
    {"strategies", CLI_STRING, &o_strategies, "LIST",
     "plans to train on (default random,source,cluster; see docs/demo.md)", 0},
    {"seeds", CLI_STRING, &o_seeds, "LIST", "training seeds, comma-separated (default: --seed)", 0},
    {"embed-model", CLI_STRING, &o_embed_model, "hash|DIR",
     "embedder for clustering and masks (default hash)", 0},
    {"dim", CLI_INT, &o_dim, "D", "hash embedder dims (default 256)", 0},
    {"init", CLI_STRING, &o_init, "MODEL_DIR", "continue training this model (default: fresh small BERT)", 0},
    {"k", CLI_INT, &o_k, "K", "clusters per source for `cluster` (default 10)", 0},
    {"batch-size", CLI_INT64, &o_batch, "B", "pairs per batch (default 32)", 0},
    {"steps", CLI_INT64, &o_steps, "N", "training steps per strategy (default 300)", 0},
    {"warmup", CLI_INT64, &o_warmup, "N", "warmup steps (default steps/10)", 0},
    {"lr", CLI_DOUBLE, &o_lr, "LR", "peak learning rate (default 1e-3)", 0},
    {"tau", CLI_DOUBLE, &o_tau, "T", "InfoNCE temperature (default 0.05)", 0},
    {"max-len", CLI_INT, &o_max_len, "N", "training tokens per text (default 32)", 0},
    {"eval-max-len", CLI_INT, &o_eval_max_len, "N", "evaluation tokens per text (default 2 x max-len)", 0},
    {"layers", CLI_INT, &o_layers, "L", "fresh model: layers (default 2)", 0},
    {"hidden", CLI_INT, &o_hidden, "C", "fresh model: hidden size (default 128)", 0},
    {"heads", CLI_INT, &o_heads, "H", "fresh model: attention heads (default 4)", 0},
    {"ffn", CLI_INT, &o_ffn, "F", "fresh model: feed-forward size (default 512)", 0},
    {"vocab-size", CLI_INT, &o_vocab_size, "V", "fresh model: words kept in the built vocabulary (default 8000)", 0},
    {"vocab", CLI_STRING, &o_vocab, "VOCAB", "fresh model: use this vocab.txt instead of building one", 0},
    {"chunk", CLI_INT, &o_chunk, "C", "GradCache chunk (default 0: whole batch)", 0},
    {"margin", CLI_DOUBLE, &o_margin, "M", "false-negative margin for +filter strategies (default 0)", 0},
    {"topics", CLI_INT, &o_topics, "N", "embedded corpus: topics (default: synth's)", 0},
    {"pairs-per-topic", CLI_INT, &o_per_topic, "N", "embedded corpus: pairs per topic and source (default: synth's)", 0},
    {"test-queries", CLI_INT, &o_test_queries, "N", "embedded corpus: test queries (default: synth's)", 0},
    {"corpus", CLI_INT, &o_corpus, "N", "embedded corpus: test passages (default: synth's)", 0},
    {0},
};

/* ------------------------------------------------------------------------ */
/* Strategies                                                                */
/* ------------------------------------------------------------------------ */

/* A strategy name: BASE[+filter], BASE one of
 *   random | source | cluster (= cluster-q<k>) | cluster-q<K> | cluster-d<K>
 *   | cluster-s<S> (asymmetric q(+)d k-means, cluster size S)
 *   | curriculum (random -> cluster-q10 -> cluster-s256, thirds). */
typedef struct strategy {
    char name[64];
    char base[64];       /* random, source, or a clustering name           */
    int filter;
    int curriculum;
} strategy;

typedef struct clustering {
    char name[32];       /* q10, d10, s256                                  */
    char on;             /* 'q', 'd' or 'a' (asymmetric)                    */
    int64_t param;       /* K or cluster size                               */
} clustering;

#define MAXS 32

static int parse_clustering(const char *s, clustering *c) {
    memset(c, 0, sizeof *c);
    char *end;
    if (strncmp(s, "cluster-", 8) != 0) return -1;
    char kind = s[8];
    long long v = strtoll(s + 9, &end, 10);
    if (*end || v <= 0 || (kind != 'q' && kind != 'd' && kind != 's')) return -1;
    c->on = kind == 's' ? 'a' : kind;
    c->param = v;
    snprintf(c->name, sizeof c->name, "%c%lld", kind, v);
    return 0;
}

static int add_clustering(clustering *cs, int *n, const clustering *c) {
    for (int i = 0; i < *n; i++)
        if (strcmp(cs[i].name, c->name) == 0) return i;
    if (*n >= MAXS) return -1;
    cs[*n] = *c;
    return (*n)++;
}

/* ------------------------------------------------------------------------ */
/* Running stages                                                            */
/* ------------------------------------------------------------------------ */

typedef struct demo {
    const cli_env *env;
    char self[4096];
    FILE *commands;      /* OUT/commands.sh */
    const char *times;   /* OUT/stages.jsonl: wall seconds of each stage run */
    int n_run, n_skipped;
} demo;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int exists(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0;
}

/* Strings built with fmt() live until the command ends (strings_free). */
static char **g_strs;
static size_t g_nstrs, g_capstrs;

static void strings_free(void) {
    for (size_t i = 0; i < g_nstrs; i++) free(g_strs[i]);
    free(g_strs);
    g_strs = NULL;
    g_nstrs = g_capstrs = 0;
}

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...) {
    va_list ap;
    va_start(ap, f);
    char *s = NULL;
    if (vasprintf(&s, f, ap) < 0) s = NULL;
    va_end(ap);
    if (s && g_nstrs == g_capstrs) {
        size_t cap = g_capstrs ? 2 * g_capstrs : 256;
        char **n = realloc(g_strs, cap * sizeof *n);
        if (n) {
            g_strs = n;
            g_capstrs = cap;
        }
    }
    if (!s || g_nstrs == g_capstrs) {
        fprintf(stderr, "strata demo: out of memory\n");
        exit(1);
    }
    g_strs[g_nstrs++] = s;
    return s;
}

static void shell_quote(FILE *f, const char *a) {
    if (a[strspn(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=,:+@%")] == '\0' && *a) {
        fputs(a, f);
        return;
    }
    fputc('\'', f);
    for (; *a; a++) {
        if (*a == '\'') fputs("'\\''", f);
        else fputc(*a, f);
    }
    fputc('\'', f);
}

/* Runs `strata ARGS... --threads N --seed S [--quiet]` unless `done_path`
 * exists. Returns 0 on success. */
/* A stage is done when its output exists; an output directory (done_path
 * DIR/manifest.json) must also be complete: a stage killed half-way runs
 * again. */
static int done_already(const char *done_path) {
    size_t n = strlen(done_path), m = strlen("/" STRATA_MANIFEST);
    if (n > m && strcmp(done_path + n - m, "/" STRATA_MANIFEST) == 0) {
        char *dir = strndup(done_path, n - m);
        int found = 0;
        int ok = dir && strata_dir_check(dir, NULL, &found, NULL) == STRATA_OK && found;
        free(dir);
        return ok;
    }
    return exists(done_path);
}

static int stage(demo *d, const char *done_path, const char *what, int argc, const char **args) {
    if (done_path && done_already(done_path)) {
        cli_info(d->env, "demo: %s: done already (%s)", what, done_path);
        d->n_skipped++;
        return 0;
    }
    const char *argv[96];
    int n = 0;
    argv[n++] = "strata";
    for (int i = 0; i < argc && n < 88; i++) argv[n++] = args[i];
    char threads[32], seed[32];
    snprintf(threads, sizeof threads, "%d", d->env->threads);
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)d->env->seed);
    argv[n++] = "--threads";
    argv[n++] = threads;
    if (!strstr(what, "seed")) {
        int has_seed = 0;
        for (int i = 0; i < argc; i++) has_seed |= strcmp(args[i], "--seed") == 0;
        if (!has_seed) {
            argv[n++] = "--seed";
            argv[n++] = seed;
        }
    }
    if (d->env->quiet) argv[n++] = "--quiet";
    argv[n] = NULL;
    if (!d->env->quiet) {
        fprintf(stderr, "\n== %s\n$", what);
        for (int i = 0; i < n; i++) {
            fputc(' ', stderr);
            shell_quote(stderr, argv[i]);
        }
        fputc('\n', stderr);
    }
    if (d->commands) {
        fprintf(d->commands, "# %s\n", what);
        for (int i = 0; i < n; i++) {
            if (i) fputc(' ', d->commands);
            shell_quote(d->commands, argv[i]);
        }
        fputc('\n', d->commands);
        fflush(d->commands);
    }
    fflush(stdout);
    double t0 = now_s();
    pid_t pid;
    int rc = posix_spawn(&pid, d->self, NULL, NULL, (char *const *)argv, environ);
    if (rc != 0) {
        fprintf(stderr, "strata demo: cannot run %s: %s\n", d->self, strerror(rc));
        return -1;
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return -1;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "strata demo: stage '%s' failed (%s %d)\n", what,
                WIFEXITED(status) ? "exit" : "signal",
                WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
        return -1;
    }
    d->n_run++;
    if (d->times) {
        /* one JSON line per finished stage (a killed run keeps the others) */
        FILE *f = fopen(d->times, "a");
        cJSON *j = cJSON_CreateObject();
        char *line = NULL;
        if (j && cJSON_AddStringToObject(j, "stage", what) &&
            cJSON_AddNumberToObject(j, "seconds", now_s() - t0))
            line = cJSON_PrintUnformatted(j);
        if (f && line) fprintf(f, "%s\n", line);
        if (f) fclose(f);
        cJSON_free(line);
        cJSON_Delete(j);
    }
    return 0;
}

#define STAGE(d, done, what, ...)                                              \
    do {                                                                       \
        const char *a_[] = {__VA_ARGS__};                                      \
        if (stage((d), (done), (what), (int)(sizeof a_ / sizeof a_[0]), a_)) \
            goto fail;                                                         \
    } while (0)

/* ------------------------------------------------------------------------ */
/* A vocabulary for a fresh model, built from the training texts             */
/* ------------------------------------------------------------------------ */

typedef struct wc {
    char *w;
    int64_t n;
} wc;

static int cmp_wc(const void *a, const void *b) {
    const wc *x = a, *y = b;
    if (x->n != y->n) return x->n > y->n ? -1 : 1;
    return strcmp(x->w, y->w);
}

/* vocab.txt: the five BERT specials, every byte-level ASCII character and
 * its "##" continuation (so every word tokenizes), then the most frequent
 * lower-cased words of the pairs (split at non-alphanumerics, as BERT's basic
 * tokenizer does for ASCII). Deterministic: ties broken by the word. */
static strata_status build_vocab(const strata_pairs *pairs, int max_words, const char *path,
                                 strata_error *err) {
    size_t cap = 1u << 16, n = 0;
    uint64_t *keys = calloc(cap, sizeof *keys);
    wc *tab = calloc(cap, sizeof *tab);
    if (!keys || !tab) {
        free(keys);
        free(tab);
        return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    }
    char word[128];
    for (int64_t t = 0; t < 2 * pairs->n; t++) {
        const char *s = pairs->arena + pairs->off[t];
        size_t len = strata_pairs_text_len(pairs, t);
        size_t i = 0;
        while (i <= len) {
            size_t wl = 0;
            while (i < len && ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
                               (s[i] >= '0' && s[i] <= '9'))) {
                if (wl < sizeof word - 1) word[wl++] = (char)(s[i] | ((s[i] >= 'A' && s[i] <= 'Z') ? 0x20 : 0));
                i++;
            }
            i++;
            if (wl < 2 || wl >= sizeof word - 1) continue;
            word[wl] = '\0';
            uint64_t h = strata_hash64(word, wl, 7) | 1;
            size_t j = h & (cap - 1);
            while (keys[j] && !(keys[j] == h && strcmp(tab[j].w, word) == 0)) j = (j + 1) & (cap - 1);
            if (!keys[j]) {
                keys[j] = h;
                tab[j].w = strdup(word);
                if (!tab[j].w) goto oom;
                n++;
                if (2 * n > cap) { /* grow */
                    size_t ncap = cap * 2;
                    uint64_t *nk = calloc(ncap, sizeof *nk);
                    wc *nt = calloc(ncap, sizeof *nt);
                    if (!nk || !nt) {
                        free(nk);
                        free(nt);
                        goto oom;
                    }
                    for (size_t q = 0; q < cap; q++)
                        if (keys[q]) {
                            size_t r = keys[q] & (ncap - 1);
                            while (nk[r]) r = (r + 1) & (ncap - 1);
                            nk[r] = keys[q];
                            nt[r] = tab[q];
                        }
                    free(keys);
                    free(tab);
                    keys = nk;
                    tab = nt;
                    cap = ncap;
                    j = h & (cap - 1);
                    while (!(keys[j] == h && strcmp(tab[j].w, word) == 0)) j = (j + 1) & (cap - 1);
                }
            }
            tab[j].n++;
        }
    }
    size_t m = 0;
    for (size_t q = 0; q < cap; q++)
        if (keys[q]) tab[m++] = tab[q];
    qsort(tab, m, sizeof *tab, cmp_wc);
    strata__buf b = {0};
    int bad = strata__buf_printf(&b, "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n");
    for (int c = 33; c < 127 && !bad; c++) bad = strata__buf_printf(&b, "%c\n", c);
    for (int c = 33; c < 127 && !bad; c++)
        if (!((c >= 'A' && c <= 'Z'))) bad = strata__buf_printf(&b, "##%c\n", c);
    for (size_t q = 0; q < m && (int)q < max_words && !bad; q++)
        if (tab[q].w[1]) bad = strata__buf_printf(&b, "%s\n", tab[q].w);
    strata_status st = bad ? strata_error_set(err, STRATA_ENOMEM, "out of memory")
                           : strata_write_file(path, b.data, b.len, err);
    strata__buf_free(&b);
    for (size_t q = 0; q < m; q++) free(tab[q].w);
    free(keys);
    free(tab);
    return st;
oom:
    for (size_t q = 0; q < cap; q++)
        if (keys[q]) free(tab[q].w);
    free(keys);
    free(tab);
    return strata_error_set(err, STRATA_ENOMEM, "out of memory");
}

static int count_lines(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    int n = 0, c;
    while ((c = fgetc(f)) != EOF) n += c == '\n';
    fclose(f);
    return n;
}

/* ------------------------------------------------------------------------ */
/* Results                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct curve {
    double *step, *loss, *acc;
    int n;
} curve;

static void curve_free(curve *c) {
    free(c->step);
    free(c->loss);
    free(c->acc);
    memset(c, 0, sizeof *c);
}

/* Reads step/loss/acc from a training log (log.jsonl). */
static int read_curve(const char *path, curve *c) {
    memset(c, 0, sizeof *c);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char *line = NULL;
    size_t cap = 0;
    int alloc = 0;
    while (getline(&line, &cap, f) > 0) {
        cJSON *j = cJSON_Parse(line);
        if (!j) continue;
        cJSON *s = cJSON_GetObjectItem(j, "step"), *l = cJSON_GetObjectItem(j, "loss"),
              *a = cJSON_GetObjectItem(j, "acc");
        if (cJSON_IsNumber(s) && cJSON_IsNumber(l) && cJSON_IsNumber(a)) {
            if (c->n == alloc) {
                alloc = alloc ? 2 * alloc : 256;
                c->step = realloc(c->step, sizeof(double) * (size_t)alloc);
                c->loss = realloc(c->loss, sizeof(double) * (size_t)alloc);
                c->acc = realloc(c->acc, sizeof(double) * (size_t)alloc);
                if (!c->step || !c->loss || !c->acc) {
                    cJSON_Delete(j);
                    break;
                }
            }
            c->step[c->n] = s->valuedouble;
            c->loss[c->n] = l->valuedouble;
            c->acc[c->n] = a->valuedouble;
            c->n++;
        }
        cJSON_Delete(j);
    }
    free(line);
    fclose(f);
    return 0;
}

/* Mean of the last 10% (at least 1) of a curve. */
static double tail_mean(const double *y, int n) {
    if (n <= 0) return NAN;
    int m = n / 10 > 0 ? n / 10 : 1;
    double s = 0;
    for (int i = n - m; i < n; i++) s += y[i];
    return s / m;
}

static double json_num(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static cJSON *read_json(const char *path) {
    cJSON *j = NULL;
    strata_error err;
    if (strata__json_read(path, &j, &err)) return NULL;
    return j;
}

static void mean_sd(const double *v, int n, double *mean, double *sd) {
    double s = 0, q = 0;
    int m = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(v[i])) {
            s += v[i];
            m++;
        }
    *mean = m ? s / m : NAN;
    for (int i = 0; i < n; i++)
        if (isfinite(v[i])) q += (v[i] - *mean) * (v[i] - *mean);
    *sd = m > 1 ? sqrt(q / (m - 1)) : 0;
}

static const char *base_name(const char *path) {
    const char *e = path + strlen(path);
    while (e > path && e[-1] == '/') e--;
    const char *s = e;
    while (s > path && s[-1] != '/') s--;
    static char b[256];
    snprintf(b, sizeof b, "%.*s", (int)(e - s), s);
    return b;
}

/* ------------------------------------------------------------------------ */
/* The command                                                               */
/* ------------------------------------------------------------------------ */

static int parse_list_u64(const char *s, uint64_t *v, int max) {
    int n = 0;
    while (s && *s && n < max) {
        char *end;
        unsigned long long x = strtoull(s, &end, 10);
        if (end == s) return -1;
        v[n++] = x;
        s = *end == ',' ? end + 1 : end;
        if (*end && *end != ',') return -1;
    }
    return n;
}

static int run(const cli_env *env, int npos, char **pos) {
    (void)npos;
    (void)pos;
    strata_error err;
    demo d = {.env = env};
    double t_start = now_s();
    ssize_t sl = readlink("/proc/self/exe", d.self, sizeof d.self - 1);
    if (sl <= 0) return cli_fail(&(strata_error){STRATA_EIO, "cannot find the strata executable"});
    d.self[sl] = '\0';

    /* ---- settings ---- */
    strategy strat[MAXS];
    int ns = 0;
    clustering clus[MAXS];
    int nc = 0;
    int strat_clus[MAXS];
    {
        char *list = strdup(o_strategies), *save = NULL;
        for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            if (ns >= MAXS) break;
            strategy *s = &strat[ns];
            memset(s, 0, sizeof *s);
            snprintf(s->name, sizeof s->name, "%s", t);
            char *plus = strstr(t, "+filter");
            if (plus && plus[7] == '\0') {
                s->filter = 1;
                *plus = '\0';
            }
            strat_clus[ns] = -1;
            clustering c;
            if (strcmp(t, "random") == 0 || strcmp(t, "source") == 0) {
                snprintf(s->base, sizeof s->base, "%s", t);
            } else if (strcmp(t, "curriculum") == 0) {
                s->curriculum = 1;
                snprintf(s->base, sizeof s->base, "curriculum");
                clustering a, b;
                parse_clustering("cluster-q10", &a);
                parse_clustering("cluster-s256", &b);
                if (add_clustering(clus, &nc, &a) < 0 || add_clustering(clus, &nc, &b) < 0) break;
            } else {
                char tmp[64];
                if (strcmp(t, "cluster") == 0) snprintf(tmp, sizeof tmp, "cluster-q%d", o_k);
                else snprintf(tmp, sizeof tmp, "%s", t);
                if (parse_clustering(tmp, &c)) {
                    free(list);
                    return cli_usage_error(&cmd_demo, "unknown strategy '%s' (random, source, cluster, "
                                           "cluster-qK, cluster-dK, cluster-sS, curriculum; +filter)", s->name);
                }
                int ci = add_clustering(clus, &nc, &c);
                if (ci < 0) break;
                strat_clus[ns] = ci;
                snprintf(s->base, sizeof s->base, "cluster-%s", c.name);
            }
            ns++;
        }
        free(list);
    }
    if (ns == 0) return cli_usage_error(&cmd_demo, "--strategies is empty");
    uint64_t seeds[16];
    int nseeds = o_seeds ? parse_list_u64(o_seeds, seeds, 16) : 0;
    if (nseeds < 0) return cli_usage_error(&cmd_demo, "--seeds expects numbers like 1,2,3");
    if (nseeds == 0) {
        seeds[0] = env->seed;
        nseeds = 1;
    }
    if (o_batch < 2 || o_steps < 1 || o_max_len < 4)
        return cli_usage_error(&cmd_demo, "--batch-size >= 2, --steps >= 1, --max-len >= 4");
    int64_t warmup = o_warmup >= 0 ? o_warmup : o_steps / 10;
    int eval_len = o_eval_max_len > 0 ? o_eval_max_len : 2 * o_max_len;

    if (strata_mkdirs(o_out, &err)) return cli_fail(&err);
    /* ---- the settings file: refuse to mix two different demos ---- */
    char *settings_path = fmt("%s/demo.json", o_out);
    {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "pairs", o_pairs ? o_pairs : "(embedded corpus)");
        cJSON *bl = cJSON_AddArrayToObject(j, "beir");
        for (int i = 0; i < o_beir.n; i++) cJSON_AddItemToArray(bl, cJSON_CreateString(o_beir.v[i]));
        cJSON_AddStringToObject(j, "split", o_split);
        cJSON_AddStringToObject(j, "strategies", o_strategies);
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
        if (!o_init) {
            cJSON_AddNumberToObject(j, "layers", o_layers);
            cJSON_AddNumberToObject(j, "hidden", o_hidden);
            cJSON_AddNumberToObject(j, "heads", o_heads);
            cJSON_AddNumberToObject(j, "ffn", o_ffn);
            cJSON_AddNumberToObject(j, "vocab_words", o_vocab_size);
        cJSON_AddStringToObject(j, "vocab", o_vocab ? o_vocab : "(built)");
        }
        cJSON_AddNumberToObject(j, "data_seed", (double)env->seed);
        cJSON_AddNumberToObject(j, "topics", o_topics);
        cJSON_AddNumberToObject(j, "pairs_per_topic", o_per_topic);
        cJSON_AddNumberToObject(j, "test_queries", o_test_queries);
        cJSON_AddNumberToObject(j, "corpus", o_corpus);
        char *now = cJSON_PrintUnformatted(j);
        cJSON *old = exists(settings_path) ? read_json(settings_path) : NULL;
        if (old) {
            char *was = cJSON_PrintUnformatted(old);
            int same = was && strcmp(was, now) == 0;
            cJSON_free(was);
            cJSON_Delete(old);
            if (!same) {
                cJSON_free(now);
                cJSON_Delete(j);
                strata_error_set(&err, STRATA_ESTATE,
                                 "%s holds a demo run with other settings (%s); choose another --out "
                                 "or remove it", o_out, settings_path);
                strings_free();
                return cli_fail(&err);
            }
        }
        cJSON_free(now);
        strata_status st = strata__json_write(settings_path, j, &err);
        cJSON_Delete(j);
        if (st) {
            strings_free();
            return cli_fail(&err);
        }
    }

    d.commands = fopen(fmt("%s/commands.sh", o_out), "a");
    d.times = fmt("%s/stages.jsonl", o_out);
    if (d.commands) fprintf(d.commands, "# strata demo: stages run\n");

    int rc = CLI_FAIL;
    cJSON *results = NULL;
    curve curves[MAXS];
    memset(curves, 0, sizeof curves);
    strata_report *rep = NULL;
    /* ---- 1. data ---- */
    const char *pairs = o_pairs;
    const char *beirs[17];
    int nbeir = 0;
    char *data_dir = fmt("%s/data", o_out);
    char *synth_pairs = fmt("%s/pairs.jsonl", data_dir);
    char *synth_beir = fmt("%s/beir", data_dir);
    char *synth_done = fmt("%s/beir/qrels/test.tsv", data_dir);
    if (!pairs) {
        const char *a[16];
        int n = 0;
        char b1[16], b2[16], b3[16], b4[16];
        a[n++] = "synth";
        a[n++] = "--out";
        a[n++] = data_dir;
        if (o_topics > 0) {
            snprintf(b1, sizeof b1, "%d", o_topics);
            a[n++] = "--topics";
            a[n++] = b1;
        }
        if (o_per_topic > 0) {
            snprintf(b2, sizeof b2, "%d", o_per_topic);
            a[n++] = "--pairs-per-topic";
            a[n++] = b2;
        }
        if (o_test_queries > 0) {
            snprintf(b3, sizeof b3, "%d", o_test_queries);
            a[n++] = "--test-queries";
            a[n++] = b3;
        }
        if (o_corpus > 0) {
            snprintf(b4, sizeof b4, "%d", o_corpus);
            a[n++] = "--corpus";
            a[n++] = b4;
        }
        if (stage(&d, synth_done, "make the embedded corpus", n, a)) goto fail;
        pairs = synth_pairs;
    }
    for (int i = 0; i < o_beir.n; i++) beirs[nbeir++] = o_beir.v[i];
    if (nbeir == 0) {
        if (o_pairs) {
            strata_error_set(&err, STRATA_EINVAL, "--pairs needs at least one --beir set to evaluate on");
            goto fail_err;
        }
        beirs[nbeir++] = synth_beir;
    }

    /* ---- 2. embed pairs with the surrogate embedder ---- */
    char *emb = fmt("%s/embed", o_out);
    if (strata_mkdirs(emb, &err)) goto fail_err;
    char *qnpy = fmt("%s/q.npy", emb), *dnpy = fmt("%s/d.npy", emb), *idf = fmt("%s/idf.npy", emb);
    char dimbuf[16];
    snprintf(dimbuf, sizeof dimbuf, "%d", o_dim);
    if (strcmp(o_embed_model, "hash") == 0) {
        /* IDF fitted on the positives (the larger, passage-like side), shared
         * by the queries so both live in one space. */
        STAGE(&d, dnpy, "embed the positives (fits the hash embedder's IDF)", "embed", "--model", "hash",
              "--input", pairs, "--field", "positive", "--dim", dimbuf, "--idf-out", idf, "--out", dnpy);
        STAGE(&d, qnpy, "embed the queries with the same IDF", "embed", "--model", "hash", "--input", pairs,
              "--field", "query", "--dim", dimbuf, "--idf", idf, "--out", qnpy);
    } else {
        /* the surrogate model sees the texts as the trainer will (--max-len) */
        char eml[32];
        snprintf(eml, sizeof eml, "%d", o_max_len);
        STAGE(&d, qnpy, "embed the queries", "embed", "--model", o_embed_model, "--input", pairs,
              "--field", "query", "--max-len", eml, "--out", qnpy);
        STAGE(&d, dnpy, "embed the positives", "embed", "--model", o_embed_model, "--input", pairs,
              "--field", "positive", "--max-len", eml, "--out", dnpy);
    }

    /* ---- 3. cluster ---- */
    for (int c = 0; c < nc; c++) {
        char *dir = fmt("%s/cluster/%s", o_out, clus[c].name);
        char *done = fmt("%s/" STRATA_MANIFEST, dir);
        char par[32];
        snprintf(par, sizeof par, "%lld", (long long)clus[c].param);
        char *what = fmt("cluster %s", clus[c].name);
        if (clus[c].on == 'a') {
            STAGE(&d, done, what, "cluster", "--input", qnpy, "--input2", dnpy, "--mode", "asymmetric",
                  "--cluster-size", par, "--pairs", pairs, "--per-source", "--out", dir);
        } else {
            STAGE(&d, done, what, "cluster", "--input", clus[c].on == 'q' ? qnpy : dnpy, "--k", par,
                  "--pairs", pairs, "--per-source", "--out", dir);
        }
    }

    /* ---- 4. plans and their hardness ---- */
    char bbuf[32];
    snprintf(bbuf, sizeof bbuf, "%lld", (long long)o_batch);
    char marg[32];
    snprintf(marg, sizeof marg, "%g", o_margin);
    for (int s = 0; s < ns; s++) {
        char *dir = fmt("%s/plans/%s", o_out, strat[s].name);
        char *done = fmt("%s/" STRATA_MANIFEST, dir);
        char *what = fmt("plan %s", strat[s].name);
        const char *a[40];
        int n = 0;
        a[n++] = "plan";
        a[n++] = "--pairs";
        a[n++] = pairs;
        a[n++] = "--batch-size";
        a[n++] = bbuf;
        if (strat[s].curriculum) {
            a[n++] = "--stages";
            a[n++] = fmt("random:1,cluster=%s/cluster/q10:1,cluster=%s/cluster/s256:1", o_out, o_out);
        } else if (strat_clus[s] >= 0) {
            a[n++] = "--strategy";
            a[n++] = "cluster";
            a[n++] = "--assign";
            a[n++] = fmt("%s/cluster/%s/assign.npy", o_out, clus[strat_clus[s]].name);
        } else {
            a[n++] = "--strategy";
            a[n++] = strat[s].base;
        }
        if (strat[s].filter) {
            a[n++] = "--filter-q";
            a[n++] = qnpy;
            a[n++] = "--filter-d";
            a[n++] = dnpy;
            a[n++] = "--margin";
            a[n++] = marg;
        }
        a[n++] = "--out";
        a[n++] = dir;
        if (stage(&d, done, what, n, a)) goto fail;
        char *hard = fmt("%s/hardness.json", dir);
        STAGE(&d, hard, fmt("hardness of plan %s", strat[s].name), "hardness", "--plan", dir, "--q", qnpy,
              "--d", dnpy, "--tau", "0.02", "--out", hard);
    }

    /* ---- 5. a fresh model's vocabulary and config ---- */
    char *model_dir = fmt("%s/model", o_out);
    char *vocab = fmt("%s/vocab.txt", model_dir), *config = fmt("%s/config.json", model_dir);
    if (!o_init && !exists(config)) {
        if (strata_mkdirs(model_dir, &err)) goto fail_err;
        strata_status st;
        if (o_vocab) {
            char *text;
            size_t len;
            if (strata_read_file(o_vocab, &text, &len, 0, &err)) goto fail_err;
            st = strata_write_file(vocab, text, len, &err);
            strata_free(text);
        } else {
            strata_pairs pp;
            strata_pairs_options po = strata_pairs_default_options();
            if (strata_pairs_load(&pp, pairs, &po, &err)) goto fail_err;
            st = build_vocab(&pp, o_vocab_size, vocab, &err);
            strata_pairs_free(&pp);
        }
        if (st) goto fail_err;
        int V = count_lines(vocab);
        cJSON *c = cJSON_CreateObject();
        cJSON *arch = cJSON_AddArrayToObject(c, "architectures");
        cJSON_AddItemToArray(arch, cJSON_CreateString("BertModel"));
        cJSON_AddStringToObject(c, "model_type", "bert");
        cJSON_AddNumberToObject(c, "vocab_size", V);
        cJSON_AddNumberToObject(c, "hidden_size", o_hidden);
        cJSON_AddNumberToObject(c, "num_hidden_layers", o_layers);
        cJSON_AddNumberToObject(c, "num_attention_heads", o_heads);
        cJSON_AddNumberToObject(c, "intermediate_size", o_ffn);
        cJSON_AddNumberToObject(c, "max_position_embeddings", eval_len > o_max_len ? eval_len : o_max_len);
        cJSON_AddNumberToObject(c, "type_vocab_size", 2);
        cJSON_AddNumberToObject(c, "layer_norm_eps", 1e-12);
        cJSON_AddStringToObject(c, "hidden_act", "gelu");
        cJSON_AddNumberToObject(c, "hidden_dropout_prob", 0.0);
        cJSON_AddNumberToObject(c, "attention_probs_dropout_prob", 0.0);
        cJSON_AddNumberToObject(c, "pad_token_id", 0);
        st = strata__json_write(config, c, &err);
        cJSON_Delete(c);
        if (st) goto fail_err;
        cli_info(env, "demo: fresh model: %d layers, hidden %d, %d heads, ffn %d, vocab %d (%s)", o_layers,
                 o_hidden, o_heads, o_ffn, V, config);
    }

    /* ---- 6. train and evaluate each strategy under each seed ---- */
    char steps[32], warm[32], lr[32], tau[32], ml[32], el[32], chunk[32];
    snprintf(steps, sizeof steps, "%lld", (long long)o_steps);
    snprintf(warm, sizeof warm, "%lld", (long long)warmup);
    snprintf(lr, sizeof lr, "%g", o_lr);
    snprintf(tau, sizeof tau, "%g", o_tau);
    snprintf(ml, sizeof ml, "%d", o_max_len);
    snprintf(el, sizeof el, "%d", eval_len);
    snprintf(chunk, sizeof chunk, "%d", o_chunk);
    for (int s = 0; s < ns; s++)
        for (int r = 0; r < nseeds; r++) {
            char seed[32];
            snprintf(seed, sizeof seed, "%llu", (unsigned long long)seeds[r]);
            char *run_dir = fmt("%s/runs/%s/seed%s", o_out, strat[s].name, seed);
            char *plan_dir = fmt("%s/plans/%s", o_out, strat[s].name);
            char *done = fmt("%s/final/" STRATA_MANIFEST, run_dir);
            char *what = fmt("train on plan %s, seed %s", strat[s].name, seed);
            if (o_init) {
                STAGE(&d, done, what, "train", "--pairs", pairs, "--plan", plan_dir, "--init", o_init, "--out",
                      run_dir, "--steps", steps, "--warmup", warm, "--lr", lr, "--tau", tau, "--max-len", ml,
                      "--chunk", chunk, "--seed", seed);
            } else {
                STAGE(&d, done, what, "train", "--pairs", pairs, "--plan", plan_dir, "--config", config,
                      "--vocab", vocab, "--out", run_dir, "--steps", steps, "--warmup", warm, "--lr", lr,
                      "--tau", tau, "--max-len", ml, "--chunk", chunk, "--seed", seed);
            }
            for (int b = 0; b < nbeir; b++) {
                char *mfile = fmt("%s/metrics-%s.json", run_dir, base_name(beirs[b]));
                STAGE(&d, mfile, fmt("evaluate %s seed %s on %s", strat[s].name, seed, base_name(beirs[b])),
                      "eval", "--beir", beirs[b], "--split", o_split, "--model", fmt("%s/final", run_dir),
                      "--max-len", el, "--out", mfile);
            }
        }
    /* baselines: the surrogate embedder, and the initial model when continuing */
    for (int b = 0; b < nbeir; b++) {
        char *mfile = fmt("%s/baseline/hash-%s.json", o_out, base_name(beirs[b]));
        if (strata_mkdirs(fmt("%s/baseline", o_out), &err)) goto fail_err;
        STAGE(&d, mfile, fmt("baseline: hash embedder on %s", base_name(beirs[b])), "eval", "--beir",
              beirs[b], "--split", o_split, "--model", "hash", "--out", mfile);
        if (o_init) {
            char *ifile = fmt("%s/baseline/init-%s.json", o_out, base_name(beirs[b]));
            STAGE(&d, ifile, fmt("baseline: the initial model on %s", base_name(beirs[b])), "eval", "--beir",
                  beirs[b], "--split", o_split, "--model", o_init, "--max-len", el, "--out", ifile);
        }
    }

    /* ---- 7. collect: results.json, the table, report.html ---- */
    results = cJSON_CreateObject();
    cJSON *jstrat = cJSON_AddObjectToObject(results, "strategies");
    double ndcg[MAXS][16][17];   /* [strategy][seed][beir] */
    double rec[MAXS][16][17];
    double floss[MAXS][16], facc[MAXS][16];
    for (int s = 0; s < ns; s++) {
        cJSON *o = cJSON_AddObjectToObject(jstrat, strat[s].name);
        cJSON *hard = read_json(fmt("%s/plans/%s/hardness.json", o_out, strat[s].name));
        cJSON *hj = cJSON_AddObjectToObject(o, "hardness");
        cJSON_AddNumberToObject(hj, "mean_loss", json_num(hard, "mean_loss"));
        cJSON_AddNumberToObject(hj, "mean_top1", json_num(hard, "mean_top1"));
        cJSON_AddNumberToObject(hj, "mean_offdiag_sim", json_num(hard, "mean_offdiag_sim"));
        cJSON_AddNumberToObject(hj, "mean_max_offdiag_sim", json_num(hard, "mean_max_offdiag_sim"));
        cJSON_Delete(hard);
        cJSON *plan = read_json(fmt("%s/plans/%s/plan.json", o_out, strat[s].name));
        cJSON_AddNumberToObject(o, "masked_fraction", json_num(plan, "masked_fraction"));
        cJSON_Delete(plan);
        cJSON *per_seed = cJSON_AddArrayToObject(o, "seeds");
        for (int r = 0; r < nseeds; r++) {
            char *run_dir = fmt("%s/runs/%s/seed%llu", o_out, strat[s].name, (unsigned long long)seeds[r]);
            curve c;
            read_curve(fmt("%s/log.jsonl", run_dir), &c);
            floss[s][r] = tail_mean(c.loss, c.n);
            facc[s][r] = tail_mean(c.acc, c.n);
            if (r == 0) curves[s] = c;
            else curve_free(&c);
            cJSON *sj = cJSON_CreateObject();
            cJSON_AddItemToArray(per_seed, sj);
            cJSON_AddNumberToObject(sj, "seed", (double)seeds[r]);
            cJSON_AddNumberToObject(sj, "final_loss", floss[s][r]);
            cJSON_AddNumberToObject(sj, "final_acc", facc[s][r]);
            for (int b = 0; b < nbeir; b++) {
                cJSON *m = read_json(fmt("%s/metrics-%s.json", run_dir, base_name(beirs[b])));
                cJSON *mean = cJSON_GetObjectItem(m, "mean");
                ndcg[s][r][b] = json_num(mean, "ndcg@10");
                rec[s][r][b] = json_num(mean, "recall@100");
                cJSON *bj = cJSON_AddObjectToObject(sj, base_name(beirs[b]));
                cJSON_AddNumberToObject(bj, "ndcg@10", ndcg[s][r][b]);
                cJSON_AddNumberToObject(bj, "recall@100", rec[s][r][b]);
                cJSON_Delete(m);
            }
        }
        double mu, sd;
        mean_sd(floss[s], nseeds, &mu, &sd);
        cJSON_AddNumberToObject(o, "final_loss", mu);
        mean_sd(facc[s], nseeds, &mu, &sd);
        cJSON_AddNumberToObject(o, "final_acc", mu);
        /* ndcg@10: the mean over evaluation sets of the mean over seeds */
        double acc_nd = 0;
        for (int b = 0; b < nbeir; b++) {
            double v[16];
            for (int r = 0; r < nseeds; r++) v[r] = ndcg[s][r][b];
            mean_sd(v, nseeds, &mu, &sd);
            cJSON *bj = cJSON_AddObjectToObject(o, base_name(beirs[b]));
            cJSON_AddNumberToObject(bj, "ndcg@10", mu);
            cJSON_AddNumberToObject(bj, "ndcg@10_sd", sd);
            for (int r = 0; r < nseeds; r++) v[r] = rec[s][r][b];
            double mr, sr;
            mean_sd(v, nseeds, &mr, &sr);
            cJSON_AddNumberToObject(bj, "recall@100", mr);
            acc_nd += mu;
        }
        cJSON_AddNumberToObject(o, "ndcg@10", acc_nd / nbeir);
    }
    cJSON *jbase = cJSON_AddObjectToObject(results, "baselines");
    for (int b = 0; b < nbeir; b++) {
        cJSON *m = read_json(fmt("%s/baseline/hash-%s.json", o_out, base_name(beirs[b])));
        cJSON_AddNumberToObject(jbase, fmt("hash/%s", base_name(beirs[b])),
                                json_num(cJSON_GetObjectItem(m, "mean"), "ndcg@10"));
        cJSON_Delete(m);
        if (o_init) {
            m = read_json(fmt("%s/baseline/init-%s.json", o_out, base_name(beirs[b])));
            cJSON_AddNumberToObject(jbase, fmt("init/%s", base_name(beirs[b])),
                                    json_num(cJSON_GetObjectItem(m, "mean"), "ndcg@10"));
            cJSON_Delete(m);
        }
    }
    /* cluster statistics (Merrick reports mean pairwise cosine per cluster) */
    cJSON *jclus = cJSON_AddObjectToObject(results, "clusterings");
    for (int c = 0; c < nc; c++) {
        cJSON *st = read_json(fmt("%s/cluster/%s/stats.json", o_out, clus[c].name));
        cJSON *o = cJSON_AddObjectToObject(jclus, clus[c].name);
        cJSON_AddStringToObject(o, "on", clus[c].on == 'q' ? "queries" : clus[c].on == 'd' ? "positives"
                                                                                        : "query+positive");
        cJSON_AddNumberToObject(o, "k", json_num(st, "k"));
        cJSON_AddNumberToObject(o, "imbalance", json_num(st, "imbalance"));
        cJSON_AddNumberToObject(o, "mean_cos_centroid", json_num(st, "mean_cos_centroid"));
        const char *key = clus[c].on == 'a' ? "mean_pairwise_cos" : "mean_pairwise_cos";
        double vals[4096];
        int nv = 0;
        cJSON *arr = cJSON_GetObjectItem(st, "clusters"), *e;
        cJSON_ArrayForEach(e, arr) {
            double v = json_num(e, key);
            if (isfinite(v) && nv < 4096) vals[nv++] = v;
        }
        /* sort for median and range */
        for (int i = 1; i < nv; i++)
            for (int j = i; j > 0 && vals[j - 1] > vals[j]; j--) {
                double t = vals[j];
                vals[j] = vals[j - 1];
                vals[j - 1] = t;
            }
        cJSON_AddNumberToObject(o, "pairwise_cos_min", nv ? vals[0] : NAN);
        cJSON_AddNumberToObject(o, "pairwise_cos_median", nv ? vals[nv / 2] : NAN);
        cJSON_AddNumberToObject(o, "pairwise_cos_max", nv ? vals[nv - 1] : NAN);
        cJSON_Delete(st);
    }
    cJSON_AddNumberToObject(results, "seconds", now_s() - t_start);
    /* wall time per stage (stages.jsonl; a stage run twice counts its last
     * run), and per kind of stage (its first word) */
    cJSON *jstages = cJSON_AddArrayToObject(results, "stages");
    cJSON *jkinds = cJSON_AddObjectToObject(results, "stage_seconds");
    {
        FILE *f = fopen(d.times, "r");
        char *line = NULL;
        size_t cap = 0;
        while (f && getline(&line, &cap, f) > 0) {
            cJSON *j = cJSON_Parse(line);
            cJSON *w = j ? cJSON_GetObjectItem(j, "stage") : NULL;
            if (!cJSON_IsString(w) || !cJSON_IsNumber(cJSON_GetObjectItem(j, "seconds"))) {
                cJSON_Delete(j);
                continue;
            }
            for (int q = cJSON_GetArraySize(jstages) - 1; q >= 0; q--) {
                cJSON *o = cJSON_GetArrayItem(jstages, q);
                if (strcmp(cJSON_GetObjectItem(o, "stage")->valuestring, w->valuestring) == 0)
                    cJSON_DeleteItemFromArray(jstages, q);
            }
            cJSON_AddItemToArray(jstages, j);
        }
        free(line);
        if (f) fclose(f);
        cJSON *o;
        cJSON_ArrayForEach(o, jstages) {
            char kind[32];
            const char *w = cJSON_GetObjectItem(o, "stage")->valuestring;
            size_t n = strcspn(w, " :");
            if (n >= sizeof kind) n = sizeof kind - 1;
            memcpy(kind, w, n);
            kind[n] = 0;
            cJSON *k = cJSON_GetObjectItem(jkinds, kind);
            if (!k) k = cJSON_AddObjectToObject(jkinds, kind);
            cJSON *c = cJSON_GetObjectItem(k, "stages"), *t = cJSON_GetObjectItem(k, "seconds");
            if (!c) c = cJSON_AddNumberToObject(k, "stages", 0);
            if (!t) t = cJSON_AddNumberToObject(k, "seconds", 0);
            cJSON_SetNumberValue(c, c->valuedouble + 1);
            cJSON_SetNumberValue(t, t->valuedouble + json_num(o, "seconds"));
        }
    }

    /* the table on stdout */
    int ir = -1;
    for (int s = 0; s < ns; s++)
        if (strcmp(strat[s].name, "random") == 0) ir = s;
    printf("\n%-22s %9s %9s %9s %9s %10s", "strategy", "ndcg@10", "vs random", "loss", "acc",
           "hard.loss");
    printf("\n");
    for (int s = 0; s < ns; s++) {
        cJSON *o = cJSON_GetObjectItem(jstrat, strat[s].name);
        double nd = json_num(o, "ndcg@10");
        double rnd = ir >= 0 ? json_num(cJSON_GetObjectItem(jstrat, "random"), "ndcg@10") : NAN;
        printf("%-22s %9.4f %+9.4f %9.4f %9.4f %10.4f\n", strat[s].name, nd, ir >= 0 ? nd - rnd : NAN,
               json_num(o, "final_loss"), json_num(o, "final_acc"),
               json_num(cJSON_GetObjectItem(o, "hardness"), "mean_loss"));
    }
    for (int b = 0; b < nbeir; b++)
        printf("baseline hash embedder on %s: ndcg@10 %.4f\n", base_name(beirs[b]),
               json_num(jbase, fmt("hash/%s", base_name(beirs[b]))));
    fflush(stdout);

    char *res_path = fmt("%s/results.json", o_out);
    if (strata__json_write(res_path, results, &err)) goto fail_err;

    /* the report */
    rep = strata_report_new(o_pairs ? "Strata experiment" : "Strata demo");
    if (!rep) {
        strata_error_set(&err, STRATA_ENOMEM, "out of memory");
        goto fail_err;
    }
    strata_report_paragraph(rep, fmt("Training pairs: %s. Evaluation: %s (split %s). Model: %s. "
                                     "%lld steps, batch %lld, lr %g, tau %g, max length %d; seeds: %s.",
                                     o_pairs ? o_pairs : "the embedded corpus (strata synth)",
                                     nbeir == 1 ? beirs[0] : "several BEIR sets", o_split,
                                     o_init ? o_init : "a fresh small BERT", (long long)o_steps,
                                     (long long)o_batch, o_lr, o_tau, o_max_len,
                                     o_seeds ? o_seeds : fmt("%llu", (unsigned long long)env->seed)));
    strata_report_heading(rep, "Retrieval quality (NDCG@10)");
    {
        int cols = 2 + 2 * nbeir + 2;
        const char **hdr = calloc((size_t)cols, sizeof *hdr);
        const char **cells = calloc((size_t)cols * (size_t)(ns + 1), sizeof *cells);
        int k = 0;
        hdr[k++] = "strategy";
        for (int b = 0; b < nbeir; b++) {
            hdr[k++] = fmt("%s ndcg@10 (sd)", base_name(beirs[b]));
            hdr[k++] = fmt("%s recall@100", base_name(beirs[b]));
        }
        hdr[k++] = "mean ndcg@10";
        hdr[k++] = "vs random";
        hdr[k++] = "final loss";
        for (int s = 0; s < ns; s++) {
            cJSON *o = cJSON_GetObjectItem(jstrat, strat[s].name);
            const char **row = cells + (size_t)s * (size_t)cols;
            int q = 0;
            row[q++] = strat[s].name;
            for (int b = 0; b < nbeir; b++) {
                cJSON *bj = cJSON_GetObjectItem(o, base_name(beirs[b]));
                row[q++] = nseeds > 1 ? fmt("%.4f (%.4f)", json_num(bj, "ndcg@10"), json_num(bj, "ndcg@10_sd"))
                                      : fmt("%.4f", json_num(bj, "ndcg@10"));
                row[q++] = fmt("%.4f", json_num(bj, "recall@100"));
            }
            double nd = json_num(o, "ndcg@10");
            row[q++] = fmt("%.4f", nd);
            row[q++] = ir >= 0 ? fmt("%+.4f", nd - json_num(cJSON_GetObjectItem(jstrat, "random"), "ndcg@10"))
                               : "";
            row[q++] = fmt("%.4f", json_num(o, "final_loss"));
        }
        strata_report_table(rep, cols, hdr, ns, cells);
        free(hdr);
        free(cells);
        strata__buf b = {0};
        for (int q = 0; q < nbeir; q++) {
            strata__buf_printf(&b, "Hash embedder alone on %s: NDCG@10 %.4f. ", base_name(beirs[q]),
                               json_num(jbase, fmt("hash/%s", base_name(beirs[q]))));
            if (o_init)
                strata__buf_printf(&b, "Initial model on %s: NDCG@10 %.4f. ", base_name(beirs[q]),
                                   json_num(jbase, fmt("init/%s", base_name(beirs[q]))));
        }
        if (b.data) strata_report_paragraph(rep, b.data);
        strata__buf_free(&b);
    }
    strata_report_heading(rep, "Training loss and in-batch accuracy");
    strata_report_paragraph(rep, "Merrick (2024, Figure 2): batches drawn from one cluster are harder, so the "
                                 "training loss stays higher and the in-batch accuracy lower than with random "
                                 "batches. Curves of the first seed.");
    {
        strata_series se[MAXS], sa[MAXS];
        for (int s = 0; s < ns; s++) {
            se[s] = (strata_series){strat[s].name, curves[s].step, curves[s].loss, curves[s].n};
            sa[s] = (strata_series){strat[s].name, curves[s].step, curves[s].acc, curves[s].n};
        }
        int win = (int)(o_steps / 30 > 1 ? o_steps / 30 : 1);
        strata_plot_options po = {.title = "training loss", .xlabel = "step", .ylabel = "InfoNCE loss",
                                  .smooth = win};
        strata_report_line_plot(rep, &po, ns, se);
        po.title = "in-batch top-1 accuracy";
        po.ylabel = "accuracy";
        strata_report_line_plot(rep, &po, ns, sa);
    }
    strata_report_heading(rep, "Batch hardness under the surrogate embedder");
    strata_report_paragraph(rep, "Measured on every batch of each plan with the surrogate (clustering) "
                                 "embeddings, tau = 0.02: harder batches have higher surrogate loss, lower "
                                 "top-1 accuracy and higher off-diagonal similarity (CDE, Figure 6).");
    {
        const char *hdr[6] = {"plan", "surrogate loss", "top-1", "mean off-diag sim", "mean max off-diag",
                              "masked"};
        const char **cells = calloc((size_t)ns * 6, sizeof *cells);
        for (int s = 0; s < ns; s++) {
            cJSON *o = cJSON_GetObjectItem(jstrat, strat[s].name);
            cJSON *h = cJSON_GetObjectItem(o, "hardness");
            cells[s * 6 + 0] = strat[s].name;
            cells[s * 6 + 1] = fmt("%.4f", json_num(h, "mean_loss"));
            cells[s * 6 + 2] = fmt("%.4f", json_num(h, "mean_top1"));
            cells[s * 6 + 3] = fmt("%.4f", json_num(h, "mean_offdiag_sim"));
            cells[s * 6 + 4] = fmt("%.4f", json_num(h, "mean_max_offdiag_sim"));
            double mf = json_num(o, "masked_fraction");
            cells[s * 6 + 5] = isfinite(mf) ? fmt("%.4f", mf) : "";
        }
        strata_report_table(rep, 6, hdr, ns, cells);
        free(cells);
    }
    if (nc > 0) {
        strata_report_heading(rep, "Clusters");
        strata_report_paragraph(rep, "Mean pairwise cosine inside each cluster, over clusters (Merrick reports "
                                     "0.26-0.49 for passage clusters and 0.63-0.76 for query clusters with "
                                     "Arctic Embed; a hashed TF-IDF embedder gives lower cosines).");
        const char *hdr[7] = {"clustering", "on", "K", "imbalance", "min", "median", "max"};
        const char **cells = calloc((size_t)nc * 7, sizeof *cells);
        for (int c = 0; c < nc; c++) {
            cJSON *o = cJSON_GetObjectItem(jclus, clus[c].name);
            cells[c * 7 + 0] = clus[c].name;
            cells[c * 7 + 1] = cJSON_GetObjectItem(o, "on")->valuestring;
            cells[c * 7 + 2] = fmt("%.0f", json_num(o, "k"));
            cells[c * 7 + 3] = fmt("%.3f", json_num(o, "imbalance"));
            cells[c * 7 + 4] = fmt("%.3f", json_num(o, "pairwise_cos_min"));
            cells[c * 7 + 5] = fmt("%.3f", json_num(o, "pairwise_cos_median"));
            cells[c * 7 + 6] = fmt("%.3f", json_num(o, "pairwise_cos_max"));
        }
        strata_report_table(rep, 7, hdr, nc, cells);
        free(cells);
    }
    if (cJSON_GetArraySize(jkinds) > 0) {
        strata_report_heading(rep, "Wall time per stage");
        strata_report_paragraph(rep, "Seconds of each kind of stage as last run (stages.jsonl); stages found "
                                     "done on a resumed run keep the time of the run that made them.");
        int nk = cJSON_GetArraySize(jkinds);
        const char *hdr[4] = {"stage", "runs", "seconds", "seconds per run"};
        const char **cells = calloc((size_t)nk * 4, sizeof *cells);
        int q = 0;
        cJSON *k;
        cJSON_ArrayForEach(k, jkinds) {
            double c = json_num(k, "stages"), t = json_num(k, "seconds");
            cells[q * 4 + 0] = k->string;
            cells[q * 4 + 1] = fmt("%.0f", c);
            cells[q * 4 + 2] = fmt("%.1f", t);
            cells[q * 4 + 3] = fmt("%.1f", c > 0 ? t / c : 0);
            q++;
        }
        strata_report_table(rep, 4, hdr, nk, cells);
        free(cells);
    }
    strata_report_paragraph(rep, fmt("Every number on this page is in results.json; the commands that produced "
                                     "them are in commands.sh. Wall time: %.0f s.",
                                     now_s() - t_start));
    char *rep_path = fmt("%s/report.html", o_out);
    if (strata_report_write(rep, rep_path, &err)) goto fail_err;
    cli_info(env, "demo: wrote %s and %s (%d stages run, %d already done, %.0f s)", res_path, rep_path,
             d.n_run, d.n_skipped, now_s() - t_start);
    rc = CLI_OK;
    goto done;
fail_err:
    cli_fail(&err);
fail:
    rc = CLI_FAIL;
done:
    strata_report_free(rep);
    cJSON_Delete(results);
    if (d.commands) fclose(d.commands);
    for (int s = 0; s < ns; s++) curve_free(&curves[s]);
    strings_free();
    return rc;
}

const cli_command cmd_demo = {
    "demo",
    "run the whole pipeline on the embedded corpus and compare batching strategies",
    NULL,
    "Makes the embedded corpus (strata synth), embeds it with the hash embedder,\n"
    "clusters each source, plans batches for each strategy and measures their\n"
    "hardness, trains the same small BERT on each plan (same seed and steps),\n"
    "evaluates NDCG@10, and writes OUT/results.json, OUT/report.html and\n"
    "OUT/commands.sh (every stage's command). A rerun skips finished stages.\n"
    "With --pairs and --beir it runs the same experiment on your data.",
    opts,
    run,
};
