/*
 * testutil.h — helpers shared by the cmocka test programs.
 *
 * Tests run from the repository root (tests/run.sh changes there). Real data
 * lives in ../shared/data (or $STRATA_SHARED_DATA); tests that need it call
 * TU_REQUIRE_DATA() and are skipped with a message where it is absent.
 */
#ifndef STRATA_TESTUTIL_H
#define STRATA_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

/* Path of the shared data folder, or NULL when absent. */
const char *tu_shared_data(void);
/* "<shared>/<rel>" (static buffer rotated over 8 slots), or NULL if absent. */
const char *tu_data(const char *rel);

/* Skips the current test with a message when shared data is missing. */
#define TU_REQUIRE_DATA(rel)                                                     \
    do {                                                                         \
        if (!tu_data(rel)) {                                                     \
            print_message("skipped: ../shared/data/%s not present\n", (rel));    \
            skip();                                                              \
        }                                                                        \
    } while (0)

/* A fresh temporary directory (removed by tu_cleanup at exit). */
const char *tu_tmpdir(void);
/* "<dir>/<name>" in a rotating static buffer (8 slots). */
const char *tu_join(const char *dir, const char *name);
/* Writes bytes to a file (aborts the test on failure). */
void tu_write(const char *path, const void *data, size_t len);
void tu_write_str(const char *path, const char *s);
/* Reads a whole file (malloc'd, NUL-terminated); NULL if missing. */
char *tu_read(const char *path, size_t *len);
int tu_exists(const char *path);
/* Number of entries in a directory whose name contains `needle`. */
int tu_count_files(const char *dir, const char *needle);

/* The Python interpreter for reference scripts: $STRATA_PYTHON, else
 * .venv/bin/python, else /usr/bin/python3. */
const char *tu_python(void);
/* 1 if `import <module>` works in tu_python(). Cached per module name. */
int tu_python_has(const char *module);
#define TU_REQUIRE_PY(mod)                                                       \
    do {                                                                         \
        if (!tu_python_has(mod)) {                                               \
            print_message("skipped: python module %s not installed\n", (mod));  \
            skip();                                                              \
        }                                                                        \
    } while (0)

/* Path of the strata binary: $STRATA_BUILD/strata (default build/strata). */
const char *tu_strata(void);
/* Runs a shell command (printf-style); returns its exit status. Output goes
 * to <tmp>/last.out and <tmp>/last.err, readable with tu_last_out/err. */
int tu_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *tu_last_out(void);
const char *tu_last_err(void);

#endif
