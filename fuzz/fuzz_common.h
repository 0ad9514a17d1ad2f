/*
 * fuzz_common.h — shared by the libFuzzer targets: writes the input to a
 * per-process temporary file, because the readers under test take a path.
 */
#ifndef STRATA_FUZZ_COMMON_H
#define STRATA_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* Writes data to /tmp/strata-fuzz-<pid><suffix>; returns the path (static). */
static const char *fuzz_write_tmp(const uint8_t *data, size_t size, const char *suffix) {
    static char path[256];
    const char *t = getenv("TMPDIR");
    snprintf(path, sizeof path, "%s/strata-fuzz-%ld%s", t && *t ? t : "/tmp", (long)getpid(),
             suffix);
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    if (size && fwrite(data, 1, size, f) != size) abort();
    if (fclose(f) != 0) abort();
    return path;
}

#endif
