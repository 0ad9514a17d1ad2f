/*
 * json.h — the library's JSON file helpers, for callers that build cJSON
 * objects themselves (the CLI's reports, its line readers). They are the
 * ones the library's own readers and writers use, so a report written here
 * looks like every other JSON file Strata writes.
 */
#ifndef STRATA_JSON_H
#define STRATA_JSON_H

#include <stddef.h>
#include <cjson/cJSON.h>

#include "strata/strata.h"

/* Serializes json (cJSON's formatted form plus a newline) and writes it
 * atomically to path (temporary file, then rename). ENOMEM, EIO. */
strata_status strata_json_write(const char *path, const cJSON *json, strata_error *err);

/* 1 when the JSON text s[0..n), already parsed by cJSON, holds a \u0000
 * escape in the value of its top-level member `key` (key NULL: when the
 * text itself is a string), else 0. cJSON ends such a string at the NUL,
 * silently: refuse the text. */
int strata_json_has_nul(const char *s, size_t n, const char *key);

#endif
