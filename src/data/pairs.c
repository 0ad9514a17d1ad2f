/*
 * pairs.c — query–positive pairs: JSONL / TSV / BEIR-directory reader into
 * one text arena. The statistics behind `strata inspect` are in
 * pairs_stats.c.
 *
 * Memory: texts are appended, NUL-terminated, to one growable arena; per pair
 * we keep two int64 offsets and one int32 source id (20 bytes), so N pairs
 * cost their text plus 20N bytes. Growth is geometric (realloc, which glibc
 * serves with mremap for large blocks, so a grow does not copy or double the
 * resident size) and the arena is trimmed to size at the end.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/internal.h"
#include "data/data_internal.h"
#include "strata/data.h"
#include "strata/io.h"

#define PROGRESS_EVERY 65536

/* ------------------------------------------------------------------------ */
/* Options                                                                   */
/* ------------------------------------------------------------------------ */

strata_pairs_options strata_pairs_default_options(void) {
    strata_pairs_options o;
    memset(&o, 0, sizeof o);
    o.query_field = "query";
    o.positive_field = "positive";
    o.source_field = "source";
    o.max_line = 0;
    return o;
}

/* ------------------------------------------------------------------------ */
/* Builder: arena + offsets + source-name table                              */
/* ------------------------------------------------------------------------ */

typedef struct builder {
    strata__buf arena;      /* texts, NUL-terminated                         */
    int64_t *off;           /* [2n (+1 at finish)] text start offsets        */
    size_t off_cap;
    int32_t *src;           /* [n] source ids                                */
    size_t src_cap;
    int64_t n;              /* pairs so far                                  */
    char **names;           /* [n_names] source names, owned                 */
    int n_names, names_cap;
    int32_t *tab;           /* [tab_cap] open-addressing name index, -1 empty */
    size_t tab_cap;
} builder;

static void builder_free(builder *b) {
    strata__buf_free(&b->arena);
    strata_free(b->off);
    strata_free(b->src);
    for (int i = 0; i < b->n_names; i++) strata_free(b->names[i]);
    strata_free(b->names);
    strata_free(b->tab);
    memset(b, 0, sizeof *b);
}

static int grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap : 1024;
    while (c < need) {
        if (c > SIZE_MAX / 4) return -1;
        c += c / 2 + 1024; /* 1.5x: bounded slack at the end of a load */
    }
    size_t bytes;
    if (strata_size_mul(c, elem, &bytes)) return -1;
    void *q = strata_realloc(*p, bytes);
    if (!q) return -1;
    *p = q;
    *cap = c;
    return 0;
}

static uint64_t name_hash(const char *s, size_t n) { return strata_hash64(s, n, 0x5eed); }

/* Rebuilds the name index with capacity cap (a power of two). */
static int tab_rebuild(builder *b, size_t cap) {
    int32_t *t = strata_malloc_array(cap, sizeof *t);
    if (!t) return -1;
    for (size_t i = 0; i < cap; i++) t[i] = -1;
    for (int i = 0; i < b->n_names; i++) {
        size_t h = (size_t)name_hash(b->names[i], strlen(b->names[i])) & (cap - 1);
        while (t[h] >= 0) h = (h + 1) & (cap - 1);
        t[h] = i;
    }
    strata_free(b->tab);
    b->tab = t;
    b->tab_cap = cap;
    return 0;
}

/* Id of source name s[0..n), adding it when new. -1 on out of memory. */
static int32_t source_id(builder *b, const char *s, size_t n) {
    if (!b->tab && tab_rebuild(b, 64)) return -1;
    size_t h = (size_t)name_hash(s, n) & (b->tab_cap - 1);
    while (b->tab[h] >= 0) {
        const char *nm = b->names[b->tab[h]];
        if (strlen(nm) == n && memcmp(nm, s, n) == 0) return b->tab[h];
        h = (h + 1) & (b->tab_cap - 1);
    }
    if (b->n_names == INT32_MAX - 1) return -1;
    if (b->n_names == b->names_cap) {
        size_t cap = (size_t)b->names_cap;
        if (grow((void **)&b->names, &cap, (size_t)b->n_names + 1, sizeof *b->names)) return -1;
        b->names_cap = (int)(cap > INT32_MAX ? INT32_MAX : cap);
    }
    char *copy = strata_strndup(s, n);
    if (!copy) return -1;
    int32_t id = b->n_names;
    b->names[b->n_names++] = copy;
    b->tab[h] = id;
    if ((size_t)b->n_names * 2 > b->tab_cap && tab_rebuild(b, b->tab_cap * 2)) return -1;
    return id;
}

/* Appends one pair. Returns 0 or -1 on out of memory. */
static int add_pair(builder *b, const char *q, size_t ql, const char *pos, size_t pl,
                    const char *src, size_t sl) {
    int32_t sid = source_id(b, src, sl);
    if (sid < 0) return -1;
    if (grow((void **)&b->off, &b->off_cap, (size_t)(2 * b->n + 3), sizeof *b->off)) return -1;
    if (grow((void **)&b->src, &b->src_cap, (size_t)(b->n + 1), sizeof *b->src)) return -1;
    size_t need;
    if (strata_size_add(ql, pl, &need) || strata_size_add(need, 2, &need)) return -1;
    if (b->arena.len + need + 1 > b->arena.cap) {
        /* grow 1.5x ourselves (strata__buf doubles) */
        size_t c = b->arena.cap ? b->arena.cap : (1u << 16);
        while (c < b->arena.len + need + 1) {
            if (c > SIZE_MAX / 4) return -1;
            c += c / 2;
        }
        char *d = strata_realloc(b->arena.data, c);
        if (!d) return -1;
        b->arena.data = d;
        b->arena.cap = c;
    }
    char *a = b->arena.data;
    b->off[2 * b->n] = (int64_t)b->arena.len;
    memcpy(a + b->arena.len, q, ql);
    b->arena.len += ql;
    a[b->arena.len++] = '\0';
    b->off[2 * b->n + 1] = (int64_t)b->arena.len;
    memcpy(a + b->arena.len, pos, pl);
    b->arena.len += pl;
    a[b->arena.len++] = '\0';
    b->src[b->n] = sid;
    b->n++;
    return 0;
}

/* Moves the builder's contents into out, trimming slack. */
static strata_status finish(builder *b, strata_pairs *out, const char *path,
                            strata_error *err) {
    if (b->n == 0) {
        builder_free(b);
        return strata_error_set(err, STRATA_EFORMAT, "%s: no pairs", path);
    }
    b->off[2 * b->n] = (int64_t)b->arena.len;
    char *a = strata_realloc(b->arena.data, b->arena.len ? b->arena.len : 1);
    if (a) b->arena.data = a;
    int64_t *o = strata_realloc(b->off, (size_t)(2 * b->n + 1) * sizeof *o);
    if (o) b->off = o;
    int32_t *s = strata_realloc(b->src, (size_t)b->n * sizeof *s);
    if (s) b->src = s;
    out->n = b->n;
    out->arena = b->arena.data;
    out->arena_len = b->arena.len;
    out->off = b->off;
    out->source = b->src;
    out->n_sources = b->n_names;
    out->source_names = b->names;
    strata_free(b->tab);
    memset(b, 0, sizeof *b);
    return STRATA_OK;
}

/* ------------------------------------------------------------------------ */
/* Field checks                                                              */
/* ------------------------------------------------------------------------ */

/* 1 when s[0..n) is pure ASCII (8 bytes at a time). */
static int all_ascii(const char *s, size_t n) {
    uint64_t acc = 0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        acc |= w;
    }
    for (; i < n; i++) acc |= (unsigned char)s[i];
    return (acc & 0x8080808080808080ull) == 0;
}

static strata_status check_utf8(const char *path, int64_t line, const char *field,
                                const char *s, size_t n, strata_error *err) {
    if (all_ascii(s, n)) return STRATA_OK; /* fast path; same answer */
    int64_t bad = strata_utf8_invalid_at(s, n);
    if (bad >= 0)
        return strata_error_set(err, STRATA_EFORMAT,
                                "%s:%lld: field \"%s\": invalid UTF-8 at byte %lld",
                                path, (long long)line, field, (long long)bad);
    return STRATA_OK;
}

/* Fetches a required string field into (s, n); raw [raw_len] is the JSON
 * text of the line (for the \u0000 check). */
static strata_status get_string(const cJSON *obj, const char *field, const char *fallback,
                                const char *raw, size_t raw_len, const char *path,
                                int64_t line, const char **s, size_t *n, strata_error *err) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, field);
    if (!it && fallback) it = cJSON_GetObjectItemCaseSensitive(obj, fallback);
    if (!it)
        return strata_error_set(err, STRATA_EFORMAT, "%s:%lld: field \"%s\" missing",
                                path, (long long)line, field);
    if (!cJSON_IsString(it) || !it->valuestring)
        return strata_error_set(err, STRATA_EFORMAT, "%s:%lld: field \"%s\" is not a string",
                                path, (long long)line, field);
    if (strata__json_has_nul(raw, raw_len, it->string))
        return strata_error_set(err, STRATA_EFORMAT,
                                "%s:%lld: field \"%s\": contains a NUL character (\\u0000)",
                                path, (long long)line, it->string);
    *s = it->valuestring;
    *n = strlen(it->valuestring);
    return check_utf8(path, line, field, *s, *n, err);
}

/* ------------------------------------------------------------------------ */
/* JSONL and TSV                                                             */
/* ------------------------------------------------------------------------ */

static strata_status parse_jsonl_line(builder *b, const char *line, size_t len,
                                      const char *path, int64_t ln,
                                      const strata_pairs_options *o, strata_error *err) {
    const char *end = NULL;
    /* length includes the NUL: cJSON 1.7 checks require_null_terminated
     * by looking at the byte after the value */
    cJSON *obj = cJSON_ParseWithLengthOpts(line, len + 1, &end, 1);
    if (!obj) {
        size_t col = end && end >= line && end <= line + len ? (size_t)(end - line) + 1 : 0;
        if (!col) {
            const char *ep = cJSON_GetErrorPtr();
            if (ep && ep >= line && ep <= line + len) col = (size_t)(ep - line) + 1;
        }
        if (col)
            return strata_error_set(err, STRATA_EFORMAT, "%s:%lld: invalid JSON near column %zu",
                                    path, (long long)ln, col);
        return strata_error_set(err, STRATA_EFORMAT, "%s:%lld: invalid JSON", path,
                                (long long)ln);
    }
    strata_status st = STRATA_OK;
    if (!cJSON_IsObject(obj)) {
        st = strata_error_set(err, STRATA_EFORMAT, "%s:%lld: expected a JSON object",
                              path, (long long)ln);
        goto done;
    }
    const char *q, *p, *s = "default";
    size_t ql, pl, sl = 7;
    const char *qfb = strcmp(o->query_field, "query") == 0 ? "anchor" : NULL;
    if ((st = get_string(obj, o->query_field, qfb, line, len, path, ln, &q, &ql, err))) goto done;
    if ((st = get_string(obj, o->positive_field, NULL, line, len, path, ln, &p, &pl, err)))
        goto done;
    const cJSON *si = cJSON_GetObjectItemCaseSensitive(obj, o->source_field);
    if (si && !cJSON_IsNull(si)) {
        if ((st = get_string(obj, o->source_field, NULL, line, len, path, ln, &s, &sl, err)))
            goto done;
    }
    if (add_pair(b, q, ql, p, pl, s, sl))
        st = strata_error_set(err, STRATA_ENOMEM, "%s:%lld: out of memory", path, (long long)ln);
done:
    cJSON_Delete(obj);
    return st;
}

static strata_status parse_tsv_line(builder *b, const char *line, size_t len,
                                    const char *path, int64_t ln, strata_error *err) {
    const char *f[3];
    size_t fl[3];
    int nf = 0;
    const char *s = line, *e = line + len;
    for (;;) {
        const char *t = memchr(s, '\t', (size_t)(e - s));
        const char *fe = t ? t : e;
        if (nf == 3)
            return strata_error_set(err, STRATA_EFORMAT,
                                    "%s:%lld: expected 2 or 3 tab-separated fields "
                                    "(query, positive[, source]), found more",
                                    path, (long long)ln);
        f[nf] = s;
        fl[nf] = (size_t)(fe - s);
        nf++;
        if (!t) break;
        s = t + 1;
    }
    static const char *names[3] = {"query", "positive", "source"};
    if (nf < 2)
        return strata_error_set(err, STRATA_EFORMAT,
                                "%s:%lld: field \"positive\" missing (expected "
                                "query<TAB>positive[<TAB>source])",
                                path, (long long)ln);
    /* a header line "query<TAB>positive[<TAB>source]" on line 1 is skipped */
    if (ln == 1 && fl[0] == 5 && memcmp(f[0], "query", 5) == 0 && fl[1] == 8 &&
        memcmp(f[1], "positive", 8) == 0)
        return STRATA_OK;
    for (int i = 0; i < nf; i++) {
        strata_status st = check_utf8(path, ln, names[i], f[i], fl[i], err);
        if (st) return st;
    }
    const char *src = nf == 3 && fl[2] > 0 ? f[2] : "default";
    size_t sl = nf == 3 && fl[2] > 0 ? fl[2] : 7;
    if (add_pair(b, f[0], fl[0], f[1], fl[1], src, sl))
        return strata_error_set(err, STRATA_ENOMEM, "%s:%lld: out of memory", path, (long long)ln);
    return STRATA_OK;
}

static strata_status load_lines(builder *b, const char *path, int tsv,
                                const strata_pairs_options *o, strata_error *err) {
    strata_lines *r;
    strata_status st = strata_lines_open(&r, path, o->max_line, err);
    if (st) return st;
    const char *line;
    size_t len;
    int rc;
    int64_t ln = 0;
    while ((rc = strata_lines_next(r, &line, &len, err)) == 1) {
        ln = strata_lines_lineno(r);
        if (ln % PROGRESS_EVERY == 0)
            strata_progress_report(&o->progress, "read pairs", ln, -1, "lines");
        /* blank (whitespace-only) lines are skipped */
        size_t i = 0;
        while (i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) i++;
        if (i == len && !(tsv && len > 0)) continue;
        st = tsv ? parse_tsv_line(b, line, len, path, ln, err)
                 : parse_jsonl_line(b, line, len, path, ln, o, err);
        if (st) break;
    }
    if (!st && rc < 0) st = err ? err->status : STRATA_EFORMAT;
    if (!st) strata_progress_report(&o->progress, "read pairs", ln, ln, "lines");
    strata_lines_close(r);
    if (st && err && err->status == STRATA_OK) err->status = st;
    return st;
}

/* ------------------------------------------------------------------------ */
/* BEIR directory                                                            */
/* ------------------------------------------------------------------------ */

static strata_status load_beir(builder *b, const char *dir, const strata_pairs_options *o,
                               strata_error *err) {
    /* source = the directory's base name (trailing slashes ignored) */
    size_t dl = strlen(dir);
    while (dl > 1 && dir[dl - 1] == '/') dl--;
    size_t s0 = dl;
    while (s0 > 0 && dir[s0 - 1] != '/') s0--;
    char *src = strata_strndup(dir + s0, dl - s0);
    if (!src) return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    strata_beir beir;
    strata_status st = strata_beir_load(&beir, dir, "train", o->progress, err);
    if (st) {
        strata_free(src);
        return st;
    }
    size_t sl = strlen(src);
    for (int64_t i = 0; i < beir.n_qrels; i++) {
        const strata_qrel *q = &beir.qrels[i];
        if (q->score <= 0) continue;
        const char *qt = strata_texts_get(&beir.queries, q->query);
        const char *dt = strata_texts_get(&beir.corpus, q->doc);
        size_t ql = (size_t)(beir.queries.off[q->query + 1] - beir.queries.off[q->query] - 1);
        size_t pl = (size_t)(beir.corpus.off[q->doc + 1] - beir.corpus.off[q->doc] - 1);
        if (add_pair(b, qt, ql, dt, pl, src, sl)) {
            st = strata_error_set(err, STRATA_ENOMEM, "out of memory");
            break;
        }
    }
    strata_beir_free(&beir);
    strata_free(src);
    return st;
}

/* ------------------------------------------------------------------------ */
/* Public: load / free                                                       */
/* ------------------------------------------------------------------------ */

strata_status strata_pairs_load(strata_pairs *out, const char *path,
                                const strata_pairs_options *opt, strata_error *err) {
    memset(out, 0, sizeof *out);
    strata_pairs_options o = opt ? *opt : strata_pairs_default_options();
    if (!o.query_field || !*o.query_field) o.query_field = "query";
    if (!o.positive_field || !*o.positive_field) o.positive_field = "positive";
    if (!o.source_field || !*o.source_field) o.source_field = "source";
    if (!path) return strata_error_set(err, STRATA_EINVAL, "pairs: no path given");
    builder b;
    memset(&b, 0, sizeof b);
    strata_status st;
    struct stat sb;
    if (strcmp(path, "-") != 0 && stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        char *q = strata_path_join(path, "qrels/train.tsv");
        if (!q) return strata_error_set(err, STRATA_ENOMEM, "out of memory");
        int has = stat(q, &sb) == 0;
        strata_free(q);
        if (!has)
            return strata_error_set(err, STRATA_EINVAL,
                                    "%s: a directory but not a BEIR set with training "
                                    "labels (no qrels/train.tsv)", path);
        st = load_beir(&b, path, &o, err);
    } else {
        int tsv = strstr(strata__base_name(path), ".tsv") != NULL;
        st = load_lines(&b, path, tsv, &o, err);
    }
    if (st) {
        builder_free(&b);
        return st;
    }
    return finish(&b, out, path, err);
}

void strata_pairs_free(strata_pairs *p) {
    if (!p) return;
    strata_free(p->arena);
    strata_free(p->off);
    strata_free(p->source);
    if (p->source_names)
        for (int i = 0; i < p->n_sources; i++) strata_free(p->source_names[i]);
    strata_free(p->source_names);
    memset(p, 0, sizeof *p);
}

uint64_t strata_pairs_fingerprint(const strata_pairs *p) {
    /* a fixed number of row ranges hashed in parallel, then their hashes in
     * order (little-endian bytes): the same value for any thread count */
    enum { PARTS = 64 };
    uint64_t part[PARTS];
    #pragma omp parallel for schedule(static)
    for (int c = 0; c < PARTS; c++) {
        int64_t i0 = p->n / PARTS * c + (p->n % PARTS) * c / PARTS;
        int64_t i1 = p->n / PARTS * (c + 1) + (p->n % PARTS) * (c + 1) / PARTS;
        uint64_t h = (uint64_t)c;
        for (int64_t i = i0; i < i1; i++) {
            /* lengths with the NUL, so texts cannot run into each other */
            h = strata_hash64(p->arena + p->off[2 * i], strata_pairs_text_len(p, 2 * i) + 1, h);
            h = strata_hash64(p->arena + p->off[2 * i + 1], strata_pairs_text_len(p, 2 * i + 1) + 1, h);
            const char *sn = p->source_names[p->source[i]];
            h = strata_hash64(sn, strlen(sn) + 1, h);
        }
        part[c] = h;
    }
    unsigned char bytes[PARTS * 8];
    for (int c = 0; c < PARTS; c++)
        for (int b = 0; b < 8; b++) bytes[c * 8 + b] = (unsigned char)(part[c] >> (8 * b));
    uint64_t h = strata_hash64(bytes, sizeof bytes, (uint64_t)p->n);
    return h ? h : 1;
}

int strata_pairs_source_id(const strata_pairs *p, const char *name) {
    for (int i = 0; i < p->n_sources; i++)
        if (strcmp(p->source_names[i], name) == 0) return i;
    return -1;
}
