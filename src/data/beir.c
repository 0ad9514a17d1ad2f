/*
 * beir.c — BEIR retrieval sets: corpus.jsonl, queries.jsonl, qrels/<split>.tsv.
 *
 * Texts and ids are appended to growable arenas (strata_texts); an
 * open-addressing hash table (linear probing over strata_hash64, table size a
 * power of two kept at most half full) maps an id to its index, so a qrels
 * line resolves in O(1). Every reader goes through the line reader
 * (plain/.gz/.zst, CRLF, NUL bytes, line limit) and parses one JSON object per
 * line with cJSON. Errors name file:line and the field.
 */
#define _POSIX_C_SOURCE 200809L
#include "strata/data.h"
#include "strata/io.h"
#include "core/internal.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define ID_HASH_SEED 0x42e1a5eedULL

/* ------------------------------------------------------------------------ */
/* Texts: arenas and the id hash table                                       */
/* ------------------------------------------------------------------------ */

static uint64_t id_hash(const char *id, size_t len) {
    return strata_hash64(id, len, ID_HASH_SEED);
}

/* Slot of id (length len) in t's table: the slot holding it, or the empty
 * slot where it would go. Requires t->slots. */
static size_t slot_of(const strata_texts *t, const char *id, size_t len) {
    size_t mask = t->n_slots - 1;
    size_t s = (size_t)id_hash(id, len) & mask;
    for (;;) {
        int64_t v = t->slots[s];
        if (v == 0) return s;
        const char *cand = t->ids + t->id_off[v - 1];
        size_t clen = (size_t)(t->id_off[v] - t->id_off[v - 1] - 1);
        if (clen == len && memcmp(cand, id, len) == 0) return s;
        s = (s + 1) & mask;
    }
}

/* Rebuilds the table with room for at least `want` ids at load <= 1/2. */
static int rehash(strata_texts *t, int64_t want) {
    size_t ns = 16;
    while (ns < (size_t)want * 2 + 2) ns <<= 1;
    int64_t *slots = strata_calloc(ns, sizeof *slots);
    if (!slots) return -1;
    strata_free(t->slots);
    t->slots = slots;
    t->n_slots = ns;
    for (int64_t i = 0; i < t->n; i++) {
        const char *id = t->ids + t->id_off[i];
        size_t len = (size_t)(t->id_off[i + 1] - t->id_off[i] - 1);
        t->slots[slot_of(t, id, len)] = i + 1;
    }
    return 0;
}

static int grow(char **buf, size_t *cap, size_t need) {
    if (need <= *cap) return 0;
    size_t nc = *cap ? *cap : 4096;
    while (nc < need) {
        if (nc > SIZE_MAX / 2) return -1;
        nc *= 2;
    }
    char *p = strata_realloc(*buf, nc);
    if (!p) return -1;
    *buf = p;
    *cap = nc;
    return 0;
}

/* Appends id and the text parts a (+ " " + b when both are non-empty).
 * Returns 0, -1 on OOM, 1 when the id already exists (*dup = its index). */
static int texts_push(strata_texts *t, const char *id, size_t id_len,
                      const char *a, size_t alen, const char *b, size_t blen,
                      int64_t *dup) {
    if (!t->slots || (size_t)(t->n + 1) * 2 > t->n_slots) {
        if (rehash(t, t->n + 1 > 1024 ? (t->n + 1) * 2 : 1024)) return -1;
    }
    size_t s = slot_of(t, id, id_len);
    if (t->slots[s]) {
        *dup = t->slots[s] - 1;
        return 1;
    }
    if (t->n + 2 > t->cap) {
        int64_t nc = t->cap ? t->cap * 2 : 1024;
        int64_t *o1 = strata_realloc(t->off, (size_t)nc * sizeof *o1);
        if (!o1) return -1;
        t->off = o1;
        int64_t *o2 = strata_realloc(t->id_off, (size_t)nc * sizeof *o2);
        if (!o2) return -1;
        t->id_off = o2;
        t->cap = nc;
        if (t->n == 0) t->off[0] = t->id_off[0] = 0;
    }
    size_t tl = alen + blen + (alen && blen ? 1 : 0);
    if (grow(&t->arena, &t->arena_cap, t->arena_len + tl + 1)) return -1;
    if (grow(&t->ids, &t->ids_cap, t->ids_len + id_len + 1)) return -1;
    char *d = t->arena + t->arena_len;
    if (alen) memcpy(d, a, alen);
    if (alen && blen) d[alen] = ' ';
    if (blen) memcpy(d + alen + (alen ? 1 : 0), b, blen);
    d[tl] = '\0';
    t->arena_len += tl + 1;
    memcpy(t->ids + t->ids_len, id, id_len);
    t->ids[t->ids_len + id_len] = '\0';
    t->ids_len += id_len + 1;
    t->n++;
    t->off[t->n] = (int64_t)t->arena_len;
    t->id_off[t->n] = (int64_t)t->ids_len;
    t->slots[s] = t->n;
    return 0;
}

int64_t strata_texts_find(const strata_texts *t, const char *id) {
    if (!t || !id || t->n == 0) return -1;
    size_t len = strlen(id);
    if (t->slots) {
        int64_t v = t->slots[slot_of(t, id, len)];
        return v - 1;
    }
    for (int64_t i = 0; i < t->n; i++)
        if (strcmp(t->ids + t->id_off[i], id) == 0) return i;
    return -1;
}

strata_status strata_texts_add(strata_texts *t, const char *id,
                               const char *text, int64_t *index,
                               strata_error *err) {
    if (!t || !id)
        return strata_error_set(err, STRATA_EINVAL, "strata_texts_add: NULL argument");
    if (t->n > 0 && !t->slots && rehash(t, t->n + 1))
        return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    int64_t dup = -1;
    int rc = texts_push(t, id, strlen(id), text ? text : "", text ? strlen(text) : 0,
                        "", 0, &dup);
    if (rc < 0) return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    if (rc > 0)
        return strata_error_set(err, STRATA_EINVAL, "duplicate id \"%s\"", id);
    if (index) *index = t->n - 1;
    return STRATA_OK;
}

void strata_texts_free(strata_texts *t) {
    if (!t) return;
    strata_free(t->arena);
    strata_free(t->off);
    strata_free(t->id_off);
    strata_free(t->ids);
    strata_free(t->slots);
    memset(t, 0, sizeof *t);
}

/* Makes sure a (possibly empty) set has valid off/id_off arrays, so that
 * off[0] and id_off[0] can be read even when n == 0. */
static int texts_finish(strata_texts *t) {
    if (!t->off) {
        t->off = strata_calloc(1, sizeof *t->off);
        t->id_off = strata_calloc(1, sizeof *t->id_off);
        t->cap = 1;
        if (!t->off || !t->id_off) return -1;
    }
    if (!t->arena) {
        t->arena = strata_calloc(1, 1);
        t->ids = strata_calloc(1, 1);
        t->arena_cap = t->ids_cap = 1;
        if (!t->arena || !t->ids) return -1;
    }
    if (!t->slots && rehash(t, t->n + 1)) return -1;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* JSONL readers                                                             */
/* ------------------------------------------------------------------------ */

static int file_exists(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* DIR/name, or DIR/name.gz / DIR/name.zst when only those exist. The
 * returned path is owned by the caller; NULL on OOM. */
static char *find_input(const char *dir, const char *name) {
    char *p = strata_path_join(dir, name);
    if (!p || file_exists(p)) return p;
    static const char *const ext[] = {".gz", ".zst"};
    for (int i = 0; i < 2; i++) {
        size_t n = strlen(p) + strlen(ext[i]) + 1;
        char *q = strata_malloc(n);
        if (!q) break;
        snprintf(q, n, "%s%s", p, ext[i]);
        if (file_exists(q)) {
            strata_free(p);
            return q;
        }
        strata_free(q);
    }
    return p; /* the plain name, so the open error names it */
}

static int is_blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isspace((unsigned char)s[i])) return 0;
    return 1;
}

/* Reads field `name` of obj as an id into buf (NUL-terminated). Accepts a
 * string or an integer number |x| <= 2^53 (converted to decimal text). */
static strata_status get_id(const cJSON *obj, const char *raw, size_t raw_len,
                            const char *file, int64_t line, char *num, size_t num_cap,
                            const char **id, strata_error *err) {
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(obj, "_id");
    if (!f)
        return strata_error_set(err, STRATA_EFORMAT, "%s:%lld: field \"_id\" missing",
                                file, (long long)line);
    if (cJSON_IsString(f) && f->valuestring) {
        if (strata__json_has_nul(raw, raw_len, "_id"))
            return strata_error_set(err, STRATA_EFORMAT,
                                    "%s:%lld: field \"_id\": contains a NUL character (\\u0000)",
                                    file, (long long)line);
        if (f->valuestring[0] == '\0')
            return strata_error_set(err, STRATA_EFORMAT, "%s:%lld: field \"_id\" is empty",
                                    file, (long long)line);
        *id = f->valuestring;
        return STRATA_OK;
    }
    if (cJSON_IsNumber(f)) {
        double v = f->valuedouble;
        if (v == floor(v) && fabs(v) <= 9007199254740992.0) {
            snprintf(num, num_cap, "%lld", (long long)v);
            *id = num;
            return STRATA_OK;
        }
        return strata_error_set(err, STRATA_EFORMAT,
                                "%s:%lld: field \"_id\" is a number that is not an integer "
                                "below 2^53; write ids as strings",
                                file, (long long)line);
    }
    return strata_error_set(err, STRATA_EFORMAT, "%s:%lld: field \"_id\" is not a string",
                            file, (long long)line);
}

/* Optional string field: NULL/missing/null -> "", a string -> it; other
 * types are an error. required: missing or null is an error too. */
static strata_status get_text(const cJSON *obj, const char *raw, size_t raw_len,
                              const char *field, int required, const char *file,
                              int64_t line, const char **out, strata_error *err) {
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(obj, field);
    if (!f || cJSON_IsNull(f)) {
        if (required)
            return strata_error_set(err, STRATA_EFORMAT, "%s:%lld: field \"%s\" missing",
                                    file, (long long)line, field);
        *out = "";
        return STRATA_OK;
    }
    if (!cJSON_IsString(f) || !f->valuestring)
        return strata_error_set(err, STRATA_EFORMAT, "%s:%lld: field \"%s\" is not a string",
                                file, (long long)line, field);
    if (strata__json_has_nul(raw, raw_len, field))
        return strata_error_set(err, STRATA_EFORMAT,
                                "%s:%lld: field \"%s\": contains a NUL character (\\u0000)",
                                file, (long long)line, field);
    *out = f->valuestring;
    return STRATA_OK;
}

/* Reads a corpus (with_title = 1) or queries file into t. first_line gets
 * the line of every entry (for duplicate messages); may be NULL. */
static strata_status read_jsonl(strata_texts *t, const char *path, int with_title,
                                const strata_beir_options *o, const char *stage,
                                strata_error *err) {
    strata_lines *r = NULL;
    strata_status st = strata_lines_open(&r, path, o->max_line, err);
    if (st) return st;
    const char *file = strata__base_name(path);
    int64_t *lines = NULL, lines_cap = 0; /* line of each entry */
    const char *line;
    size_t len;
    int rc;
    char num[32];
    while ((rc = strata_lines_next(r, &line, &len, err)) == 1) {
        int64_t ln = strata_lines_lineno(r);
        if (is_blank(line, len)) continue;
        int64_t bad = strata_utf8_invalid_at(line, len);
        if (bad >= 0) {
            st = strata_error_set(err, STRATA_EFORMAT, "%s:%lld: invalid UTF-8 at byte %lld",
                                  file, (long long)ln, (long long)bad);
            break;
        }
        /* length with the NUL: nothing may follow the object */
        cJSON *obj = cJSON_ParseWithLengthOpts(line, len + 1, NULL, 1);
        if (!obj || !cJSON_IsObject(obj)) {
            cJSON_Delete(obj);
            st = strata_error_set(err, STRATA_EFORMAT, "%s:%lld: not a JSON object",
                                  file, (long long)ln);
            break;
        }
        const char *id = NULL, *title = "", *text = NULL;
        st = get_id(obj, line, len, file, ln, num, sizeof num, &id, err);
        if (!st && with_title) st = get_text(obj, line, len, "title", 0, file, ln, &title, err);
        if (!st) st = get_text(obj, line, len, "text", 1, file, ln, &text, err);
        if (!st) {
            if (t->n + 1 > lines_cap) {
                int64_t nc = lines_cap ? lines_cap * 2 : 4096;
                int64_t *p = strata_realloc(lines, (size_t)nc * sizeof *p);
                if (!p) {
                    st = strata_error_set(err, STRATA_ENOMEM, "out of memory");
                } else {
                    lines = p;
                    lines_cap = nc;
                }
            }
        }
        if (!st) {
            int64_t dup = -1;
            int pr = texts_push(t, id, strlen(id), title, strlen(title), text,
                                strlen(text), &dup);
            if (pr < 0)
                st = strata_error_set(err, STRATA_ENOMEM, "out of memory");
            else if (pr > 0)
                st = strata_error_set(err, STRATA_EFORMAT,
                                      "%s:%lld: field \"_id\": duplicate id \"%s\" "
                                      "(first at line %lld)",
                                      file, (long long)ln, id, (long long)lines[dup]);
            else
                lines[t->n - 1] = ln;
        }
        cJSON_Delete(obj);
        if (st) break;
        if ((t->n & 65535) == 0) strata_progress_report(&o->progress, stage, t->n, -1, "texts");
    }
    if (rc < 0) st = err ? err->status : STRATA_EIO;
    if (!st && texts_finish(t)) st = strata_error_set(err, STRATA_ENOMEM, "out of memory");
    strata_lines_close(r);
    strata_free(lines);
    if (!st) strata_progress_report(&o->progress, stage, t->n, t->n, "texts");
    return st;
}

/* ------------------------------------------------------------------------ */
/* qrels                                                                     */
/* ------------------------------------------------------------------------ */

/* Splits line (modified in place) into at most 8 fields: by tabs when the
 * line has one, else by runs of spaces. Returns the number of fields. */
static int split_fields(char *s, char **f, int max) {
    int n = 0;
    if (strchr(s, '\t')) {
        char *p = s;
        while (n < max) {
            f[n++] = p;
            char *q = strchr(p, '\t');
            if (!q) break;
            *q = '\0';
            p = q + 1;
        }
        if (n == max && strchr(f[max - 1], '\t')) return max + 1;
        /* trim spaces around tab-separated fields */
        for (int i = 0; i < n; i++) {
            while (*f[i] == ' ') f[i]++;
            size_t l = strlen(f[i]);
            while (l && f[i][l - 1] == ' ') f[i][--l] = '\0';
        }
        return n;
    }
    char *p = s;
    for (;;) {
        while (*p == ' ') p++;
        if (!*p) break;
        if (n == max) return max + 1;
        f[n++] = p;
        while (*p && *p != ' ') p++;
        if (*p) *p++ = '\0';
    }
    return n;
}

typedef struct qrel_line {
    strata_qrel q;
    int64_t line;
} qrel_line;

static int cmp_qrel_line(const void *a, const void *b) {
    const qrel_line *x = a, *y = b;
    if (x->q.query != y->q.query) return x->q.query < y->q.query ? -1 : 1;
    if (x->q.doc != y->q.doc) return x->q.doc < y->q.doc ? -1 : 1;
    return x->line < y->line ? -1 : (x->line > y->line);
}

/* Resolves id in t per the unknown-id policy. Returns the index, -1 when
 * skipped, -2 on error (err set). */
static int64_t resolve(strata_texts *t, const char *id, strata_unknown_ids pol,
                       const char *file, int64_t ln, const char *field,
                       const char *where, strata_error *err) {
    int64_t i = strata_texts_find(t, id);
    if (i >= 0) return i;
    if (pol == STRATA_UNKNOWN_SKIP) return -1;
    if (pol == STRATA_UNKNOWN_ADD) {
        if (strata_texts_add(t, id, "", &i, err)) return -2;
        return i;
    }
    strata_error_set(err, STRATA_EFORMAT, "%s:%lld: field \"%s\": id \"%s\" not in %s",
                     file, (long long)ln, field, id, where);
    return -2;
}

static void free_qrels(strata_beir *b) {
    strata_free(b->qrels);
    strata_free(b->qrels_off);
    b->qrels = NULL;
    b->qrels_off = NULL;
    b->n_qrels = 0;
    b->n_skipped_query = b->n_skipped_doc = 0;
}

strata_status strata_beir_load_qrels(strata_beir *b, const char *path,
                                     const strata_beir_options *opt,
                                     strata_error *err) {
    if (!b || !path)
        return strata_error_set(err, STRATA_EINVAL, "strata_beir_load_qrels: NULL argument");
    strata_beir_options o = opt ? *opt : strata_beir_default_options();
    free_qrels(b);
    strata_lines *r = NULL;
    strata_status st = strata_lines_open(&r, path, o.max_line, err);
    if (st) return st;
    const char *file = strata__base_name(path);
    qrel_line *q = NULL;
    int64_t n = 0, cap = 0, skip_q = 0, skip_d = 0;
    char *buf = NULL;
    size_t buf_cap = 0;
    const char *line;
    size_t len;
    int rc, first = 1;
    while ((rc = strata_lines_next(r, &line, &len, err)) == 1) {
        int64_t ln = strata_lines_lineno(r);
        if (is_blank(line, len)) continue;
        int64_t bad = strata_utf8_invalid_at(line, len);
        if (bad >= 0) {
            st = strata_error_set(err, STRATA_EFORMAT, "%s:%lld: invalid UTF-8 at byte %lld",
                                  file, (long long)ln, (long long)bad);
            break;
        }
        if (grow(&buf, &buf_cap, len + 1)) {
            st = strata_error_set(err, STRATA_ENOMEM, "out of memory");
            break;
        }
        memcpy(buf, line, len + 1);
        char *f[8];
        int nf = split_fields(buf, f, 8);
        int was_first = first;
        first = 0;
        if (was_first && nf >= 1 && strcmp(f[0], "query-id") == 0) continue; /* header */
        if (nf < 3) {
            st = strata_error_set(err, STRATA_EFORMAT,
                                  "%s:%lld: expected 3 columns (query-id, corpus-id, score), "
                                  "found %d",
                                  file, (long long)ln, nf);
            break;
        }
        if (nf > 4) {
            st = strata_error_set(err, STRATA_EFORMAT,
                                  "%s:%lld: expected 3 columns (query-id, corpus-id, score) "
                                  "or 4 (TREC: qid iter docid rel), found %d",
                                  file, (long long)ln, nf);
            break;
        }
        const char *qid = f[0], *did = nf == 4 ? f[2] : f[1], *sc = nf == 4 ? f[3] : f[2];
        if (!*qid || !*did) {
            st = strata_error_set(err, STRATA_EFORMAT, "%s:%lld: field \"%s\" is empty", file,
                                  (long long)ln, !*qid ? "query-id" : "corpus-id");
            break;
        }
        char *end;
        errno = 0;
        long v = strtol(sc, &end, 10);
        if (!*sc || *end || errno || v < INT32_MIN || v > INT32_MAX) {
            st = strata_error_set(err, STRATA_EFORMAT,
                                  "%s:%lld: field \"score\": \"%s\" is not an integer", file,
                                  (long long)ln, sc);
            break;
        }
        int64_t qi = resolve(&b->queries, qid, o.unknown, file, ln, "query-id", "the queries",
                             err);
        if (qi == -2) { st = err ? err->status : STRATA_EFORMAT; break; }
        if (qi == -1) { skip_q++; continue; }
        int64_t di = resolve(&b->corpus, did, o.unknown, file, ln, "corpus-id", "the corpus",
                             err);
        if (di == -2) { st = err ? err->status : STRATA_EFORMAT; break; }
        if (di == -1) { skip_d++; continue; }
        if (n == cap) {
            int64_t nc = cap ? cap * 2 : 1024;
            qrel_line *p = strata_realloc(q, (size_t)nc * sizeof *p);
            if (!p) {
                st = strata_error_set(err, STRATA_ENOMEM, "out of memory");
                break;
            }
            q = p;
            cap = nc;
        }
        q[n].q.query = qi;
        q[n].q.doc = di;
        q[n].q.score = (int32_t)v;
        q[n].line = ln;
        n++;
    }
    if (rc < 0) st = err ? err->status : STRATA_EIO;
    strata_lines_close(r);
    strata_free(buf);
    if (!st && (texts_finish(&b->queries) || texts_finish(&b->corpus)))
        st = strata_error_set(err, STRATA_ENOMEM, "out of memory");
    if (!st && n == 0) /* nothing to evaluate or train on: never a silent 0 */
        st = (skip_q || skip_d)
                 ? strata_error_set(err, STRATA_EFORMAT,
                                    "%s: no judgments (all %lld lines named unknown ids and were "
                                    "skipped)", file, (long long)(skip_q + skip_d))
                 : strata_error_set(err, STRATA_EFORMAT, "%s: no judgments", file);
    if (!st && n > 1) {
        qsort(q, (size_t)n, sizeof *q, cmp_qrel_line);
        for (int64_t i = 1; i < n; i++) {
            if (q[i].q.query == q[i - 1].q.query && q[i].q.doc == q[i - 1].q.doc) {
                st = strata_error_set(
                    err, STRATA_EFORMAT,
                    "%s:%lld: duplicate judgment for query-id \"%s\", corpus-id \"%s\" "
                    "(first at line %lld)",
                    file, (long long)q[i].line, strata_texts_id(&b->queries, q[i].q.query),
                    strata_texts_id(&b->corpus, q[i].q.doc), (long long)q[i - 1].line);
                break;
            }
        }
    }
    if (!st) {
        b->qrels = strata_malloc_array((size_t)(n ? n : 1), sizeof *b->qrels);
        b->qrels_off = strata_calloc((size_t)b->queries.n + 1, sizeof *b->qrels_off);
        if (!b->qrels || !b->qrels_off) {
            st = strata_error_set(err, STRATA_ENOMEM, "out of memory");
        } else {
            for (int64_t i = 0; i < n; i++) {
                b->qrels[i] = q[i].q;
                b->qrels_off[q[i].q.query + 1]++;
            }
            for (int64_t i = 0; i < b->queries.n; i++) b->qrels_off[i + 1] += b->qrels_off[i];
            b->n_qrels = n;
            b->n_skipped_query = skip_q;
            b->n_skipped_doc = skip_d;
        }
    }
    strata_free(q);
    if (st) free_qrels(b);
    return st;
}

/* ------------------------------------------------------------------------ */
/* Loading a BEIR directory                                                  */
/* ------------------------------------------------------------------------ */

strata_beir_options strata_beir_default_options(void) {
    strata_beir_options o;
    memset(&o, 0, sizeof o);
    o.split = NULL;
    o.unknown = STRATA_UNKNOWN_ERROR;
    return o;
}

strata_status strata_beir_load_ex(strata_beir *out, const char *dir,
                                  const strata_beir_options *opt,
                                  strata_error *err) {
    if (!out || !dir)
        return strata_error_set(err, STRATA_EINVAL, "strata_beir_load: NULL argument");
    memset(out, 0, sizeof *out);
    strata_beir_options o = opt ? *opt : strata_beir_default_options();
    if (o.split && (!*o.split || strchr(o.split, '/')))
        return strata_error_set(err, STRATA_EINVAL, "invalid split name \"%s\"", o.split);
    strata_status st = STRATA_OK;
    char *p = find_input(dir, "corpus.jsonl");
    if (!p) return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    st = read_jsonl(&out->corpus, p, 1, &o, "corpus", err);
    strata_free(p);
    if (!st) {
        p = find_input(dir, "queries.jsonl");
        if (!p) st = strata_error_set(err, STRATA_ENOMEM, "out of memory");
        else st = read_jsonl(&out->queries, p, 0, &o, "queries", err);
        strata_free(p);
    }
    if (!st && o.split) {
        char name[512];
        snprintf(name, sizeof name, "qrels/%s.tsv", o.split);
        p = find_input(dir, name);
        if (!p) st = strata_error_set(err, STRATA_ENOMEM, "out of memory");
        else st = strata_beir_load_qrels(out, p, &o, err);
        strata_free(p);
    }
    if (st) strata_beir_free(out);
    return st;
}

strata_status strata_beir_load(strata_beir *out, const char *dir,
                               const char *split, strata_progress progress,
                               strata_error *err) {
    strata_beir_options o = strata_beir_default_options();
    o.split = split;
    o.progress = progress;
    return strata_beir_load_ex(out, dir, &o, err);
}

void strata_beir_free(strata_beir *b) {
    if (!b) return;
    strata_texts_free(&b->corpus);
    strata_texts_free(&b->queries);
    free_qrels(b);
    memset(b, 0, sizeof *b);
}
