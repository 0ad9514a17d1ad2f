/*
 * data_internal.h — helpers of src/data/ exposed to the tests, not part of
 * the public API.
 */
#ifndef STRATA_DATA_INTERNAL_H
#define STRATA_DATA_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/* Unicode code points (bytes that are not UTF-8 continuation bytes) and
 * words (runs of non-ASCII-whitespace) of s[0..n). naive = 1 selects the
 * one-branch-per-byte reference, 0 the table-driven kernel inspect uses. */
void strata__text_counts(const char *s, size_t n, int64_t *chars, int64_t *words, int naive);

#endif
