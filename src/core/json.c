/*
 * json.c — JSON file helpers (cJSON) and a growable buffer.
 */
#define _POSIX_C_SOURCE 200809L
#include "internal.h"
#include "strata/json.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

strata_status strata__json_write(const char *path, const cJSON *json,
                                 strata_error *err) {
    char *s = cJSON_Print(json);
    if (!s) return strata_error_set(err, STRATA_ENOMEM, "%s: cannot serialize JSON", path);
    size_t n = strlen(s);
    strata__buf b = {0};
    int bad = strata__buf_append(&b, s, n) || strata__buf_append(&b, "\n", 1);
    cJSON_free(s);
    if (bad) {
        strata__buf_free(&b);
        return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    }
    strata_status st = strata_write_file(path, b.data, b.len, err);
    strata__buf_free(&b);
    return st;
}

strata_status strata__json_write_in(const char *dir, const char *name, cJSON *json,
                                    strata_error *err) {
    if (!json) return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    char *p = strata_path_join(dir, name);
    strata_status st = p ? strata__json_write(p, json, err)
                         : strata_error_set(err, STRATA_ENOMEM, "out of memory");
    strata_free(p);
    cJSON_Delete(json);
    return st;
}

strata_status strata__json_read(const char *path, cJSON **out, strata_error *err) {
    *out = NULL;
    char *text;
    size_t len;
    strata_status st = strata_read_file(path, &text, &len, 0, err);
    if (st) return st;
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!j) {
        int line = 1, col = 1;
        const char *stop = end ? end : cJSON_GetErrorPtr();
        if (stop && stop >= text && stop <= text + len) {
            for (const char *p = text; p < stop; p++) {
                if (*p == '\n') { line++; col = 1; }
                else col++;
            }
        }
        strata_free(text);
        return strata_error_set(err, STRATA_EFORMAT, "%s:%d: invalid JSON near column %d",
                                path, line, col);
    }
    strata_free(text);
    *out = j;
    return STRATA_OK;
}

int strata__json_int(const cJSON *j, int64_t lo, int64_t hi, int64_t *out) {
    const int64_t lim = INT64_C(1) << 53;
    if (lo < -lim) lo = -lim;
    if (hi > lim) hi = lim;
    if (!cJSON_IsNumber(j)) return 0;
    double d = j->valuedouble;
    if (!(d >= (double)lo && d <= (double)hi) || d != floor(d)) return 0;
    *out = (int64_t)d;
    return 1;
}

int strata__json_has_nul(const char *s, size_t n, const char *key) {
    if (!memmem(s, n, "\\u0000", 6)) return 0;
    size_t klen = key ? strlen(key) : 0;
    int depth = 0, in_key = 0; /* in_key: inside the member named key */
    size_t i = 0;
    while (i < n) {
        char c = s[i];
        if (c == '{' || c == '[') depth++;
        else if (c == '}' || c == ']') depth--;
        if (c != '"') {
            i++;
            continue;
        }
        size_t start = ++i;
        int nul = 0;
        while (i < n && s[i] != '"') {
            /* every backslash starts an escape; \uXXXX digits are plain */
            if (s[i] == '\\') {
                if (i + 5 < n && s[i + 1] == 'u' && memcmp(s + i + 2, "0000", 4) == 0) nul = 1;
                i += 2;
            } else {
                i++;
            }
        }
        size_t end = i < n ? i : n;
        i++;
        size_t j = i;
        while (j < n && (s[j] == ' ' || s[j] == '\t' || s[j] == '\r' || s[j] == '\n')) j++;
        if (depth == 1 && j < n && s[j] == ':') { /* a top-level key */
            in_key = key && end - start == klen && memcmp(s + start, key, klen) == 0;
            continue;
        }
        if (nul && ((!key && depth == 0) || (key && depth >= 1 && in_key))) return 1;
    }
    return 0;
}

int strata__buf_reserve(strata__buf *b, size_t extra) {
    size_t need;
    if (strata_size_add(b->len, extra, &need)) return -1;
    if (need + 1 <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need + 1) {
        if (cap > SIZE_MAX / 2) return -1;
        cap *= 2;
    }
    char *p = strata_realloc(b->data, cap);
    if (!p) return -1;
    b->data = p;
    b->cap = cap;
    return 0;
}

int strata__buf_append(strata__buf *b, const void *p, size_t n) {
    if (strata__buf_reserve(b, n)) return -1;
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int strata__buf_printf(strata__buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || strata__buf_reserve(b, (size_t)n)) return -1;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

void strata__buf_free(strata__buf *b) {
    strata_free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

/* ------------------------------------------------------------------------ */
/* Public face (strata/json.h)                                               */
/* ------------------------------------------------------------------------ */

strata_status strata_json_write(const char *path, const cJSON *json, strata_error *err) {
    return strata__json_write(path, json, err);
}

int strata_json_has_nul(const char *s, size_t n, const char *key) {
    return strata__json_has_nul(s, n, key);
}
