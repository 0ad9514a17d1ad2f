/*
 * synth.c — the embedded demo corpus: a deterministic, topic-structured,
 * multi-source pair corpus plus a BEIR-format test set from the same topics.
 *
 * The generative model (all draws from strata_rng, so a seed fixes every
 * byte):
 *
 *   topic t        a list of 20 real words (built in; generated pseudo-words
 *                  past the 30 built-in topics)
 *   subtopic (t,u) 12 pseudo-words of its own and a pool of 12 pseudo-word
 *                  entity names: clusters finer than topics
 *   fact           (t, u, entity, 3 subtopic key words, 2 topic key words)
 *   source s       a writing style: query templates and passage sentence
 *                  templates with style words ("how does _ affect _ in _ _ ?",
 *                  "in this paper we study _ and _ ."); every source covers
 *                  every topic with the same number of pairs. A positive uses
 *                  the same 4 sentence templates of its source once each
 *                  (random order), and a source's query templates are permutations
 *                  of one another, so style words mark the source without
 *                  adding variance inside it
 *   positive       4 sentences (the source's 4 templates) whose slots
 *                  hold all the fact's words plus fillers (topic 60%,
 *                  subtopic 35%, generic 5%); a subtopic favours 8 of its
 *                  topic's words (70% of its topic-word draws)
 *   query          one query template holding the entity (80%), two of the
 *                  five key words and two topic words that may not occur in
 *                  the positive: queries share some, not all, words with
 *                  their positive
 *   synonyms       every entity and subtopic word has a synonym (another
 *                  pseudo-word) that queries use in its place with
 *                  probability `paraphrase` (default 0.5) and passages never
 *                  use: the vocabulary mismatch between how people ask and
 *                  how passages are written, which exact word matching
 *                  (the hash embedder) cannot bridge and a trained encoder
 *                  can learn from the training pairs
 *
 * Same-topic passages share topic vocabulary and same-subtopic passages share
 * subtopic words and entities, so in-batch negatives drawn from one cluster
 * are truly harder than random ones; the style words make sources separable,
 * so source-stratified batches differ from cluster-stratified ones.
 *
 * Test set: per query a fresh fact, one fully relevant passage (score 2), for
 * half the queries a partially relevant one (same entity and subtopic, two
 * shared key words; score 1), two same-subtopic distractors, and random
 * distractors from all topics up to n_corpus passages. Every text about
 * topic t is written in style t mod 5 (test_style below), so style cannot
 * stand in for relevance. BEIR lines carry metadata (source, topic,
 * subtopic; for queries the number of synonyms) for analyses; training
 * pairs carry source, topic, subtopic and entity.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>

#include "core/internal.h"
#include "strata/data.h"
#include "strata/io.h"
#include "synth_styles.h"
#include "synth_words.h"

#define N_SUBWORDS 12   /* pseudo-words per subtopic          */
#define N_ENTITIES 12   /* entity names per subtopic          */
#define N_KEYS 5        /* key words per fact: 3 sub + 2 topic */
#define FILL_TOPIC 0.6   /* filler slots: topic words ...          */
#define FILL_SUB 0.35    /* ... subtopic words, the rest generic  */
#define N_PREF 8        /* topic words a subtopic favours      */
#define P_PREF 0.7      /* share of its topic words drawn from them */
#define NFUNC ((int)(sizeof synth_function_words / sizeof *synth_function_words))
#define NGENERIC ((int)(sizeof synth_generic_words / sizeof *synth_generic_words))

/* ------------------------------------------------------------------------ */
/* Sources: styles                                                           */
/* ------------------------------------------------------------------------ */

const char *strata_synth_source_name(int s) {
    return s >= 0 && s < STRATA_SYNTH_SOURCES ? styles[s].name : NULL;
}

strata_synth_params strata_synth_default_params(void) {
    strata_synth_params p;
    memset(&p, 0, sizeof p);
    p.n_topics = 24;
    p.pairs_per_source_topic = 50;
    p.n_test_queries = 200;
    p.seed = 1;
    p.n_subtopics = 4;
    p.n_corpus = 2000;
    p.paraphrase = 0.5;
    return p;
}

/* ------------------------------------------------------------------------ */
/* World: vocabularies                                                       */
/* ------------------------------------------------------------------------ */

typedef struct world {
    int T, S;                /* topics, subtopics per topic               */
    char **owned;            /* generated words, freed at the end          */
    int n_owned, cap_owned;
    const char **topic;      /* [T * SYNTH_TOPIC_WORDS]                     */
    const char **topic_name; /* [T]                                         */
    const char **sub;        /* [T * S * N_SUBWORDS]                        */
    const char **ent;        /* [T * S * N_ENTITIES]                        */
    const char **sub_alias;  /* [T * S * N_SUBWORDS] each subtopic word's
                                query-side synonym                          */
    const char **ent_alias;  /* [T * S * N_ENTITIES] each entity's alias     */
    int *pref;               /* [T * S * N_PREF] topic-word indices a subtopic
                                favours (P_PREF of its topic words)          */
    uint64_t *seen;          /* [seen_cap] hashes of every word in use, 0 empty */
    double paraphrase;       /* P(a query names the entity or a subtopic key
                                word by its synonym)                        */
    size_t seen_cap;
} world;

static void world_free(world *w) {
    for (int i = 0; i < w->n_owned; i++) strata_free(w->owned[i]);
    strata_free(w->owned);
    strata_free(w->topic);
    strata_free(w->topic_name);
    strata_free(w->sub);
    strata_free(w->ent);
    strata_free(w->sub_alias);
    strata_free(w->ent_alias);
    strata_free(w->pref);
    strata_free(w->seen);
    memset(w, 0, sizeof *w);
}

/* Inserts a word's hash; returns 1 if new, 0 if already present. */
static int seen_add(world *w, const char *s) {
    uint64_t h = strata_hash64(s, strlen(s), 7) | 1;
    size_t k = (size_t)h & (w->seen_cap - 1);
    while (w->seen[k]) {
        if (w->seen[k] == h) return 0;
        k = (k + 1) & (w->seen_cap - 1);
    }
    w->seen[k] = h;
    return 1;
}

static const char *const onsets[] = {"b", "d", "f", "g", "k", "l", "m", "n", "p", "r",
                                     "s", "t", "v", "z", "br", "tr", "st", "pl", "kr",
                                     "gr", "sh", "ch", "th", "dr", "fl", "sk"};
static const char *const vowels[] = {"a", "e", "i", "o", "u", "ai", "ou", "ei", "ia", "o"};
static const char *const codas[] = {"", "", "", "n", "r", "l", "s", "m", "k", "x"};
#define NELEM(a) ((int)(sizeof a / sizeof *a))

static void pick_distinct(strata_rng *r, int n, int k, int *out);

/* A fresh pseudo-word of `syl` syllables (2..3), unique in the world. */
static const char *pseudo_word(world *w, strata_rng *r, int syl) {
    char buf[64];
    for (;;) {
        size_t n = 0;
        for (int i = 0; i < syl; i++) {
            const char *o = onsets[strata_rng_below(r, NELEM(onsets))];
            const char *v = vowels[strata_rng_below(r, NELEM(vowels))];
            const char *c = i == syl - 1 ? codas[strata_rng_below(r, NELEM(codas))] : "";
            n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%s%s", o, v, c);
        }
        if (!seen_add(w, buf)) continue;
        if (w->n_owned == w->cap_owned) {
            int c = w->cap_owned ? w->cap_owned * 2 : 1024;
            char **o = strata_realloc(w->owned, (size_t)c * sizeof *o);
            if (!o) return NULL;
            w->owned = o;
            w->cap_owned = c;
        }
        char *s = strata_strdup(buf);
        if (!s) return NULL;
        w->owned[w->n_owned++] = s;
        return s;
    }
}

static strata_status world_build(world *w, int T, int S, uint64_t seed, strata_error *err) {
    memset(w, 0, sizeof *w);
    w->T = T;
    w->S = S;
    size_t nwords = (size_t)T * (SYNTH_TOPIC_WORDS + 1) + (size_t)T * S * 2 * (N_SUBWORDS + N_ENTITIES) +
                    (size_t)(NFUNC + NGENERIC) + 64;
    w->seen_cap = 1024;
    while (w->seen_cap < nwords * 2) w->seen_cap <<= 1;
    w->seen = strata_calloc(w->seen_cap, sizeof *w->seen);
    w->topic = strata_calloc((size_t)T * SYNTH_TOPIC_WORDS, sizeof *w->topic);
    w->topic_name = strata_calloc((size_t)T, sizeof *w->topic_name);
    w->sub = strata_calloc((size_t)T * S * N_SUBWORDS, sizeof *w->sub);
    w->ent = strata_calloc((size_t)T * S * N_ENTITIES, sizeof *w->ent);
    w->pref = strata_calloc((size_t)T * S * N_PREF, sizeof *w->pref);
    w->sub_alias = strata_calloc((size_t)T * S * N_SUBWORDS, sizeof *w->sub_alias);
    w->ent_alias = strata_calloc((size_t)T * S * N_ENTITIES, sizeof *w->ent_alias);
    if (!w->seen || !w->topic || !w->topic_name || !w->sub || !w->ent || !w->pref ||
        !w->sub_alias || !w->ent_alias)
        goto oom;
    /* reserve every built-in word so pseudo-words never collide with one */
    for (int i = 0; i < NFUNC; i++) seen_add(w, synth_function_words[i]);
    for (int i = 0; i < NGENERIC; i++) seen_add(w, synth_generic_words[i]);
    for (int t = 0; t < SYNTH_BUILTIN_TOPICS; t++) {
        seen_add(w, synth_topic_names[t]);
        for (int k = 0; k < SYNTH_TOPIC_WORDS; k++) seen_add(w, synth_topic_words[t][k]);
    }
    for (int s = 0; s < STRATA_SYNTH_SOURCES; s++) {
        for (int k = 0; styles[s].query[k]; k++) {
            char b[256];
            snprintf(b, sizeof b, "%s", styles[s].query[k]);
            char *save = NULL;
            for (char *tok = strtok_r(b, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
                seen_add(w, tok);
        }
        for (int k = 0; styles[s].sentence[k]; k++) {
            char b[256];
            snprintf(b, sizeof b, "%s", styles[s].sentence[k]);
            char *save = NULL;
            for (char *tok = strtok_r(b, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
                seen_add(w, tok);
        }
    }
    strata_rng r;
    strata_rng_seed(&r, seed, 1);
    for (int t = 0; t < T; t++) {
        if (t < SYNTH_BUILTIN_TOPICS) {
            w->topic_name[t] = synth_topic_names[t];
            for (int k = 0; k < SYNTH_TOPIC_WORDS; k++)
                w->topic[(size_t)t * SYNTH_TOPIC_WORDS + k] = synth_topic_words[t][k];
        } else {
            if (!(w->topic_name[t] = pseudo_word(w, &r, 3))) goto oom;
            for (int k = 0; k < SYNTH_TOPIC_WORDS; k++)
                if (!(w->topic[(size_t)t * SYNTH_TOPIC_WORDS + k] = pseudo_word(w, &r, 2))) goto oom;
        }
    }
    for (size_t su = 0; su < (size_t)T * S; su++) pick_distinct(&r, SYNTH_TOPIC_WORDS, N_PREF, w->pref + su * N_PREF);
    for (size_t i = 0; i < (size_t)T * S * N_SUBWORDS; i++)
        if (!(w->sub[i] = pseudo_word(w, &r, 2 + (int)(i & 1)))) goto oom;
    for (size_t i = 0; i < (size_t)T * S * N_ENTITIES; i++)
        if (!(w->ent[i] = pseudo_word(w, &r, 2 + (int)strata_rng_below(&r, 2)))) goto oom;
    /* synonyms last, from their own stream */
    strata_rng ra;
    strata_rng_seed(&ra, seed, 4);
    for (size_t i = 0; i < (size_t)T * S * N_SUBWORDS; i++)
        if (!(w->sub_alias[i] = pseudo_word(w, &ra, 2 + (int)(i & 1)))) goto oom;
    for (size_t i = 0; i < (size_t)T * S * N_ENTITIES; i++)
        if (!(w->ent_alias[i] = pseudo_word(w, &ra, 2 + (int)strata_rng_below(&ra, 2)))) goto oom;
    return STRATA_OK;
oom:
    world_free(w);
    return strata_error_set(err, STRATA_ENOMEM, "synth: out of memory");
}

/* ------------------------------------------------------------------------ */
/* Facts and texts                                                           */
/* ------------------------------------------------------------------------ */

typedef struct fact {
    int t, u;                 /* topic, subtopic                           */
    const char *ent;
    const char *key[N_KEYS];  /* 3 subtopic words, then 2 topic words       */
    const char *ent_alias;    /* the entity's query-side alias              */
    const char *key_alias[N_KEYS]; /* a subtopic key word's synonym; the
                                      topic words (3, 4) have none: NULL   */
} fact;

/* k distinct indices from [0, n) into out. */
static void pick_distinct(strata_rng *r, int n, int k, int *out) {
    for (int i = 0; i < k; i++) {
        int v, dup;
        do {
            v = (int)strata_rng_below(r, (uint64_t)n);
            dup = 0;
            for (int j = 0; j < i; j++) dup |= out[j] == v;
        } while (dup);
        out[i] = v;
    }
}

static fact make_fact(const world *w, strata_rng *r, int t, int u) {
    fact f;
    f.t = t;
    f.u = u;
    size_t su = (size_t)t * w->S + (size_t)u;
    size_t e = su * N_ENTITIES + strata_rng_below(r, N_ENTITIES);
    f.ent = w->ent[e];
    f.ent_alias = w->ent_alias[e];
    int idx[3];
    pick_distinct(r, N_SUBWORDS, 3, idx);
    for (int i = 0; i < 3; i++) {
        f.key[i] = w->sub[su * N_SUBWORDS + idx[i]];
        f.key_alias[i] = w->sub_alias[su * N_SUBWORDS + idx[i]];
    }
    f.key_alias[3] = f.key_alias[4] = NULL;
    pick_distinct(r, SYNTH_TOPIC_WORDS, 2, idx);
    for (int i = 0; i < 2; i++) f.key[3 + i] = w->topic[(size_t)t * SYNTH_TOPIC_WORDS + idx[i]];
    return f;
}

/* A topic word of topic t as subtopic u uses them: P_PREF of the time one
 * of the subtopic's favoured words, else any word of the topic. */
static const char *topic_word(const world *w, strata_rng *r, int t, int u) {
    size_t su = (size_t)t * w->S + (size_t)u;
    int k = strata_rng_uniform(r) < P_PREF ? w->pref[su * N_PREF + strata_rng_below(r, N_PREF)]
                                           : (int)strata_rng_below(r, SYNTH_TOPIC_WORDS);
    return w->topic[(size_t)t * SYNTH_TOPIC_WORDS + k];
}

static const char *filler(const world *w, strata_rng *r, int t, int u) {
    double x = strata_rng_uniform(r);
    if (x < FILL_TOPIC) return topic_word(w, r, t, u);
    if (x < FILL_TOPIC + FILL_SUB)
        return w->sub[((size_t)t * w->S + (size_t)u) * N_SUBWORDS + strata_rng_below(r, N_SUBWORDS)];
    return synth_generic_words[strata_rng_below(r, NGENERIC)];
}

/* Appends template tpl to b, filling each "_" from words[*next..n) and then
 * from fillers; title-cases words when tc. */
static int fill_template(strata__buf *b, const char *tpl, const char *const *words, int n,
                         int *next, const world *w, strata_rng *r, int t, int u, int tc) {
    const char *p = tpl;
    while (*p) {
        const char *e = strchr(p, ' ');
        size_t tlen = e ? (size_t)(e - p) : strlen(p);
        const char *tok = p;
        size_t len = tlen;
        if (tlen == 1 && *p == '_') {
            tok = *next < n ? words[(*next)++] : filler(w, r, t, u);
            len = strlen(tok);
        }
        if (b->len && b->data[b->len - 1] != ' ' && strata__buf_append(b, " ", 1)) return -1;
        size_t at = b->len;
        if (strata__buf_append(b, tok, len)) return -1;
        if (tc && len > 2 && b->data[at] >= 'a' && b->data[at] <= 'z') b->data[at] -= 32;
        p = e ? e + 1 : p + tlen;
    }
    return 0;
}

static int n_templates(const char *const *t) {
    int n = 0;
    while (t[n]) n++;
    return n;
}

/* A passage in style s carrying every word of the fact. */
static int gen_passage(strata__buf *b, const world *w, strata_rng *r, int s, const fact *f) {
    const style *st = &styles[s];
    const char *words[N_KEYS + 1];
    for (int i = 0; i < N_KEYS; i++) words[i] = f->key[i];
    words[N_KEYS] = f->ent;
    for (int i = N_KEYS; i > 0; i--) { /* shuffle */
        int j = (int)strata_rng_below(r, (uint64_t)i + 1);
        const char *x = words[i];
        words[i] = words[j];
        words[j] = x;
    }
    /* every sentence template of the source once, in a random order: the
     * style words are then the same in all of a source's passages, so they
     * mark the source without adding variance that would compete with the
     * topics when clustering within a source */
    int next = 0, nt = n_templates(st->sentence);
    int order[4];
    for (int k = 0; k < nt; k++) order[k] = k;
    for (int k = nt - 1; k > 0; k--) {
        int j = (int)strata_rng_below(r, (uint64_t)k + 1);
        int x = order[k];
        order[k] = order[j];
        order[j] = x;
    }
    for (int k = 0; k < nt || next < N_KEYS + 1; k++) {
        const char *tpl = st->sentence[order[k % nt]];
        if (fill_template(b, tpl, words, N_KEYS + 1, &next, w, r, f->t, f->u, 0)) return -1;
    }
    return 0;
}

/* A query in style s: entity (80%), two key words, two topic words (the
 * first never a key word; either may be absent from the positive), and a
 * filler when the entity is left out. */
/* ... and *n_alias (may be NULL) receives how many of its words are synonyms. */
static int gen_query(strata__buf *b, const world *w, strata_rng *r, int s, const fact *f, int *n_alias) {
    const style *st = &styles[s];
    const char *words[5];
    int n = 0, k2[2];
    pick_distinct(r, N_KEYS, 2, k2);
    /* the three draws happen whatever the paraphrase rate, so a corpus with
     * synonyms differs from one without only in the words replaced */
    double pe = strata_rng_uniform(r), p0 = strata_rng_uniform(r), p1 = strata_rng_uniform(r);
    const char *kw0 = f->key_alias[k2[0]] && p0 < w->paraphrase ? f->key_alias[k2[0]] : f->key[k2[0]];
    const char *kw1 = f->key_alias[k2[1]] && p1 < w->paraphrase ? f->key_alias[k2[1]] : f->key[k2[1]];
    int with_ent = strata_rng_uniform(r) < 0.8;
    if (with_ent) words[n++] = pe < w->paraphrase ? f->ent_alias : f->ent;
    words[n++] = kw0;
    if (n_alias) *n_alias = (with_ent && pe < w->paraphrase) + (kw0 != f->key[k2[0]]) + (kw1 != f->key[k2[1]]);
    const char *tw;
    do { /* a topic word other than the chosen key words */
        tw = topic_word(w, r, f->t, f->u);
    } while (tw == f->key[k2[0]] || tw == f->key[k2[1]]);
    words[n++] = tw;
    words[n++] = kw1;
    const char *tw2;
    do {
        tw2 = topic_word(w, r, f->t, f->u);
    } while (tw2 == tw || tw2 == f->key[k2[0]] || tw2 == f->key[k2[1]]);
    words[n++] = tw2;
    const char *tpl = st->query[strata_rng_below(r, (uint64_t)n_templates(st->query))];
    int next = 0;
    return fill_template(b, tpl, words, n, &next, w, r, f->t, f->u, st->title_case);
}

/* ------------------------------------------------------------------------ */
/* Output                                                                    */
/* ------------------------------------------------------------------------ */

/* Generated texts hold only [a-z A-Z ,.:?] so JSON needs no escaping; this
 * still escapes '"' and '\\' in case templates change. */
static int put_json_str(strata__buf *b, const char *s, size_t n) {
    if (strata__buf_append(b, "\"", 1)) return -1;
    for (size_t i = 0; i < n; i++) {
        if ((s[i] == '"' || s[i] == '\\') && strata__buf_append(b, "\\", 1)) return -1;
        if (strata__buf_append(b, s + i, 1)) return -1;
    }
    return strata__buf_append(b, "\"", 1);
}

/* Closes a BEIR line with BEIR's metadata object: the text's source (style),
 * topic and subtopic, and for a query how many of its words are synonyms
 * (n_alias >= 0), for analyses of what a model ranks (docs/data.md). */
static int put_metadata(strata__buf *b, const world *w, int s, int t, int u, int n_alias) {
    if (strata__buf_printf(b, ", \"metadata\": {\"source\": \"%s\", \"topic\": \"%s\", \"subtopic\": %d",
                           styles[s].name, w->topic_name[t], u))
        return -1;
    if (n_alias >= 0 && strata__buf_printf(b, ", \"synonyms\": %d", n_alias)) return -1;
    return strata__buf_append(b, "}}\n", 3);
}

typedef struct outputs {
    strata_atomic pairs, corpus, queries, qrels;
} outputs;

static void outputs_abort(outputs *o) {
    strata_atomic_abort(&o->pairs);
    strata_atomic_abort(&o->corpus);
    strata_atomic_abort(&o->queries);
    strata_atomic_abort(&o->qrels);
}

static strata_status write_buf(strata_atomic *a, const strata__buf *b, strata_error *err) {
    if (b->len && fwrite(b->data, 1, b->len, a->fp) != b->len)
        return strata_error_set(err, STRATA_EIO, "%s: write failed", a->final_path);
    return STRATA_OK;
}

/* ------------------------------------------------------------------------ */
/* Training pairs                                                            */
/* ------------------------------------------------------------------------ */

static strata_status write_pairs(const world *w, const strata_synth_params *p, strata_atomic *a,
                                 strata_error *err) {
    int64_t per = p->pairs_per_source_topic;
    int64_t n = (int64_t)STRATA_SYNTH_SOURCES * w->T * per;
    int64_t *cell = strata_malloc_array((size_t)n, sizeof *cell);
    if (!cell) return strata_error_set(err, STRATA_ENOMEM, "synth: out of memory");
    for (int64_t i = 0; i < n; i++) cell[i] = i;
    strata_rng r;
    strata_rng_seed(&r, p->seed, 2);
    strata_rng_shuffle_i64(&r, cell, n); /* file order mixes sources and topics */
    strata__buf b = {0}, q = {0}, d = {0};
    strata_status st = STRATA_OK;
    for (int64_t i = 0; i < n && !st; i++) {
        int64_t c = cell[i];
        int s = (int)(c / ((int64_t)w->T * per));
        int t = (int)((c / per) % w->T);
        int u = (int)strata_rng_below(&r, (uint64_t)w->S);
        fact f = make_fact(w, &r, t, u);
        b.len = q.len = d.len = 0;
        int bad = gen_query(&q, w, &r, s, &f, NULL) || gen_passage(&d, w, &r, s, &f);
        bad = bad || strata__buf_append(&b, "{\"query\": ", 10) || put_json_str(&b, q.data, q.len) ||
              strata__buf_append(&b, ", \"positive\": ", 14) || put_json_str(&b, d.data, d.len) ||
              strata__buf_printf(&b, ", \"source\": \"%s\", \"topic\": \"%s\", \"subtopic\": %d, \"entity\": \"%s\"}\n",
                                 styles[s].name, w->topic_name[t], u, f.ent);
        if (bad) st = strata_error_set(err, STRATA_ENOMEM, "synth: out of memory");
        else st = write_buf(a, &b, err);
    }
    strata__buf_free(&b);
    strata__buf_free(&q);
    strata__buf_free(&d);
    strata_free(cell);
    return st;
}

/* ------------------------------------------------------------------------ */
/* BEIR test set                                                             */
/* ------------------------------------------------------------------------ */

typedef struct doc {
    char *text;    /* owned */
    int query;     /* judged for this query, or -1 */
    int score;     /* 2 relevant, 1 partially relevant */
    int s, t, u;   /* style (source), topic, subtopic */
} doc;

/* The test set's style is a function of the topic: every passage about
 * topic t, and every query about it, is written in style t mod 5. Training
 * pairs pair a query and a positive of one style, so a model can learn
 * "same style, same pair"; if the test set's relevant passages shared the
 * query's style while same-topic distractors took other styles, matching
 * style alone would rank most distractors below the answer — a shortcut that
 * random batches teach (their negatives differ in style) and source or
 * cluster batches cannot. Here every document that competes with the answer
 * (same topic) shares the query's style, and documents of another style are
 * off-topic, which the topic words already tell: style carries no
 * information about relevance beyond the topic. Real BEIR corpora are one
 * source each, so the shortcut does not exist there either. */
static int test_style(int t) { return t % STRATA_SYNTH_SOURCES; }

static strata_status write_beir(const world *w, const strata_synth_params *p, outputs *o,
                                strata_error *err) {
    int nq = p->n_test_queries;
    int64_t need = (int64_t)nq * 4;
    int64_t nc = p->n_corpus > need ? p->n_corpus : need;
    doc *docs = strata_calloc((size_t)nc, sizeof *docs);
    int64_t *perm = strata_malloc_array((size_t)nc, sizeof *perm);
    int64_t *pos = strata_malloc_array((size_t)nc, sizeof *pos);
    strata__buf b = {0}, line = {0};
    strata_status st = STRATA_OK;
    int64_t nd = 0;
    if (!docs || !perm || !pos) goto oom;
    strata_rng r;
    strata_rng_seed(&r, p->seed, 3);
#define ADD_DOC(style_, fact_, q_, score_)                                   \
    do {                                                                    \
        b.len = 0;                                                          \
        if (gen_passage(&b, w, &r, (style_), (fact_))) goto oom;            \
        if (!(docs[nd].text = strata_strndup(b.data, b.len))) goto oom;     \
        docs[nd].query = (q_);                                              \
        docs[nd].score = (score_);                                          \
        docs[nd].s = (style_);                                              \
        docs[nd].t = (fact_)->t;                                            \
        docs[nd].u = (fact_)->u;                                            \
        nd++;                                                               \
    } while (0)
    for (int qi = 0; qi < nq; qi++) {
        int t = qi % w->T;
        int u = (int)strata_rng_below(&r, (uint64_t)w->S);
        int s = test_style(t);
        fact f = make_fact(w, &r, t, u);
        b.len = 0;
        int n_alias;
        if (gen_query(&b, w, &r, s, &f, &n_alias)) goto oom;
        line.len = 0;
        if (strata__buf_printf(&line, "{\"_id\": \"q%04d\", \"text\": ", qi) ||
            put_json_str(&line, b.data, b.len) || put_metadata(&line, w, s, t, u, n_alias))
            goto oom;
        if ((st = write_buf(&o->queries, &line, err))) goto done;
        ADD_DOC(s, &f, qi, 2);
        if (strata_rng_uniform(&r) < 0.5) { /* partially relevant */
            fact g = make_fact(w, &r, t, u);
            g.ent = f.ent;
            g.ent_alias = f.ent_alias;
            int keep[2];
            pick_distinct(&r, N_KEYS, 2, keep);
            for (int k = 0; k < 2; k++) {
                g.key[keep[k]] = f.key[keep[k]];
                g.key_alias[keep[k]] = f.key_alias[keep[k]];
            }
            ADD_DOC(s, &g, qi, 1);
        }
        for (int k = 0; k < 2; k++) { /* same-subtopic distractors */
            fact g = make_fact(w, &r, t, u);
            ADD_DOC(s, &g, -1, 0);
        }
    }
    while (nd < nc) {
        int t = (int)strata_rng_below(&r, (uint64_t)w->T);
        int u = (int)strata_rng_below(&r, (uint64_t)w->S);
        fact g = make_fact(w, &r, t, u);
        ADD_DOC(test_style(t), &g, -1, 0);
    }
#undef ADD_DOC
    /* corpus order is shuffled; ids follow file order */
    for (int64_t i = 0; i < nd; i++) perm[i] = i;
    strata_rng_shuffle_i64(&r, perm, nd);
    for (int64_t i = 0; i < nd; i++) pos[perm[i]] = i;
    for (int64_t i = 0; i < nd; i++) {
        const doc *dd = &docs[perm[i]];
        line.len = 0;
        if (strata__buf_printf(&line, "{\"_id\": \"doc%05lld\", \"title\": \"\", \"text\": ",
                               (long long)i) ||
            put_json_str(&line, dd->text, strlen(dd->text)) ||
            put_metadata(&line, w, dd->s, dd->t, dd->u, -1))
            goto oom;
        if ((st = write_buf(&o->corpus, &line, err))) goto done;
    }
    /* qrels: by query, relevant before partially relevant (docs were added so) */
    line.len = 0;
    if (strata__buf_printf(&line, "query-id\tcorpus-id\tscore\n")) goto oom;
    for (int64_t i = 0; i < nd; i++)
        if (docs[i].query >= 0 &&
            strata__buf_printf(&line, "q%04d\tdoc%05lld\t%d\n", docs[i].query, (long long)pos[i],
                               docs[i].score))
            goto oom;
    st = write_buf(&o->qrels, &line, err);
    goto done;
oom:
    st = strata_error_set(err, STRATA_ENOMEM, "synth: out of memory");
done:
    if (docs)
        for (int64_t i = 0; i < nd; i++) strata_free(docs[i].text);
    strata_free(docs);
    strata_free(perm);
    strata_free(pos);
    strata__buf_free(&b);
    strata__buf_free(&line);
    return st;
}

/* ------------------------------------------------------------------------ */
/* Public                                                                    */
/* ------------------------------------------------------------------------ */

strata_status strata_synth_write(const char *dir, const strata_synth_params *params,
                                 strata_error *err) {
    strata_synth_params p = params ? *params : strata_synth_default_params();
    if (p.n_topics < 1 || p.n_topics > 1000)
        return strata_error_set(err, STRATA_EINVAL, "synth: topics must be in 1..1000 (got %d)",
                                p.n_topics);
    if (p.pairs_per_source_topic < 1 || p.pairs_per_source_topic > 100000)
        return strata_error_set(err, STRATA_EINVAL,
                                "synth: pairs per topic must be in 1..100000 (got %d)",
                                p.pairs_per_source_topic);
    if (p.n_test_queries < 1 || p.n_test_queries > 9999)
        return strata_error_set(err, STRATA_EINVAL,
                                "synth: test queries must be in 1..9999 (got %d)",
                                p.n_test_queries);
    if (p.n_subtopics < 1 || p.n_subtopics > 64)
        return strata_error_set(err, STRATA_EINVAL, "synth: subtopics must be in 1..64 (got %d)",
                                p.n_subtopics);
    if (!(p.paraphrase >= 0 && p.paraphrase <= 1))
        return strata_error_set(err, STRATA_EINVAL, "synth: paraphrase rate must be in [0, 1] (got %g)",
                                p.paraphrase);
    if (p.n_corpus < 0 || p.n_corpus > 99999)
        return strata_error_set(err, STRATA_EINVAL, "synth: corpus size must be in 0..99999 (got %d)",
                                p.n_corpus);
    char *beir = strata_path_join(dir, "beir");
    char *qdir = beir ? strata_path_join(beir, "qrels") : NULL;
    char *f_pairs = strata_path_join(dir, "pairs.jsonl");
    char *f_corpus = beir ? strata_path_join(beir, "corpus.jsonl") : NULL;
    char *f_queries = beir ? strata_path_join(beir, "queries.jsonl") : NULL;
    char *f_qrels = qdir ? strata_path_join(qdir, "test.tsv") : NULL;
    outputs o;
    memset(&o, 0, sizeof o);
    world w;
    memset(&w, 0, sizeof w);
    strata_status st = STRATA_OK;
    if (!beir || !qdir || !f_pairs || !f_corpus || !f_queries || !f_qrels) {
        st = strata_error_set(err, STRATA_ENOMEM, "synth: out of memory");
        goto done;
    }
    if ((st = strata_mkdirs(qdir, err))) goto done;
    if ((st = world_build(&w, p.n_topics, p.n_subtopics, p.seed, err))) goto done;
    w.paraphrase = p.paraphrase;
    if ((st = strata_atomic_open(&o.pairs, f_pairs, err)) ||
        (st = strata_atomic_open(&o.corpus, f_corpus, err)) ||
        (st = strata_atomic_open(&o.queries, f_queries, err)) ||
        (st = strata_atomic_open(&o.qrels, f_qrels, err)))
        goto done;
    if ((st = write_pairs(&w, &p, &o.pairs, err))) goto done;
    if ((st = write_beir(&w, &p, &o, err))) goto done;
    if ((st = strata_atomic_commit(&o.corpus, err)) || (st = strata_atomic_commit(&o.queries, err)) ||
        (st = strata_atomic_commit(&o.qrels, err)) || (st = strata_atomic_commit(&o.pairs, err)))
        goto done;
done:
    outputs_abort(&o);
    world_free(&w);
    strata_free(beir);
    strata_free(qdir);
    strata_free(f_pairs);
    strata_free(f_corpus);
    strata_free(f_queries);
    strata_free(f_qrels);
    return st;
}
