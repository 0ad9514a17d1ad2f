/*
 * internal.h — helpers shared between library modules, not part of the
 * public API.
 */
#ifndef STRATA_INTERNAL_H
#define STRATA_INTERNAL_H

#include <cjson/cJSON.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include "strata/io.h"

/* Maps a whole file read-only (empty file: map NULL, len 0). */
strata_status strata__map_file(const char *path, void **map, size_t *len,
                               strata_error *err);

/* Serializes `json` (formatted) and writes it atomically to path. */
strata_status strata__json_write(const char *path, const cJSON *json,
                                 strata_error *err);

/* strata__json_write to dir/name, taking json (deleted here; NULL, a
 * failed build, is out of memory). */
strata_status strata__json_write_in(const char *dir, const char *name, cJSON *json,
                                    strata_error *err);

/* Reads and parses a JSON file. On a parse error the message names the
 * line and column. */
strata_status strata__json_read(const char *path, cJSON **out,
                                strata_error *err);

/* 1 when j is a JSON number holding an integer in [lo, hi] (clamped to
 * +-2^53, where doubles stop being exact), stored in *out; else 0. Use it
 * instead of casting valuedouble: casting an out-of-range double to an
 * integer type is undefined behaviour. */
int strata__json_int(const cJSON *j, int64_t lo, int64_t hi, int64_t *out);
/* 1 when the JSON text s[0..n), already parsed by cJSON, holds a \u0000
 * escape in the value of its top-level member `key` (key NULL: when the
 * text itself is a string). cJSON ends such a string at the NUL, silently,
 * so readers check each string field they use and refuse it: a text with an
 * embedded NUL cannot be a C string. Cheap when the text has no "\u0000". */
int strata__json_has_nul(const char *s, size_t n, const char *key);

/* Growable byte buffer. */
typedef struct strata__buf {
    char *data;
    size_t len, cap;
} strata__buf;

int strata__buf_reserve(strata__buf *b, size_t extra);  /* 0 ok, -1 oom */
int strata__buf_append(strata__buf *b, const void *p, size_t n);
int strata__buf_printf(strata__buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void strata__buf_free(strata__buf *b);

/* CPU features for run-time dispatch, detected once (call before threads). */
#define STRATA_CPU_AVX2 1
#define STRATA_CPU_FMA 2
#define STRATA_CPU_F16C 4
int strata__cpu_features(void);

/* Seconds on the monotonic clock (only differences mean anything). */
double strata__now_s(void);

/* The part of path after its last '/' (path itself when it has none). */
const char *strata__base_name(const char *path);

/* OpenMP threads a parallel region started here may use (1 without OpenMP):
 * the count per-thread scratch is sized by. */
static inline int strata__max_threads(void) {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

/* This thread's number inside a parallel region (0 outside one, or without
 * OpenMP): the index of its per-thread scratch. */
static inline int strata__thread_num(void) {
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

#endif
