/* testutil.c — see testutil.h. */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"
#include "strata/strata.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char g_tmp[512];
static char g_rot[8][1024];
static int g_rot_i;

static char *rot(void) { return g_rot[g_rot_i++ & 7]; }

const char *tu_shared_data(void) {
    static int done;
    static const char *path;
    if (!done) {
        done = 1;
        const char *e = getenv("STRATA_SHARED_DATA");
        const char *cand = e && *e ? e : "../shared/data";
        struct stat sb;
        if (stat(cand, &sb) == 0 && S_ISDIR(sb.st_mode)) path = cand;
    }
    return path;
}

const char *tu_data(const char *rel) {
    const char *d = tu_shared_data();
    if (!d) return NULL;
    char *b = rot();
    snprintf(b, 1024, "%s/%s", d, rel);
    return tu_exists(b) ? b : NULL;
}

static void cleanup(void) {
    if (g_tmp[0] && !getenv("STRATA_KEEP_TMP")) {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
        if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", g_tmp);
    }
}

const char *tu_tmpdir(void) {
    if (!g_tmp[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(g_tmp, sizeof g_tmp, "%s/strata-test-XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(g_tmp)) {
            perror("mkdtemp");
            abort();
        }
        atexit(cleanup);
    }
    return g_tmp;
}

const char *tu_join(const char *dir, const char *name) {
    char *b = rot();
    snprintf(b, 1024, "%s/%s", dir, name);
    return b;
}

void tu_write(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

void tu_write_str(const char *path, const char *s) { tu_write(path, s, strlen(s)); }

char *tu_read(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (fread(b, 1, (size_t)n, f) != (size_t)n) {
        fclose(f);
        free(b);
        return NULL;
    }
    fclose(f);
    b[n] = '\0';
    if (len) *len = (size_t)n;
    return b;
}

int tu_exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0;
}

int tu_count_files(const char *dir, const char *needle) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.' && strstr(e->d_name, needle)) n++;
    closedir(d);
    return n;
}

const char *tu_python(void) {
    const char *e = getenv("STRATA_PYTHON");
    if (e && *e) return e;
    if (access(".venv/bin/python", X_OK) == 0) return ".venv/bin/python";
    return "/usr/bin/python3";
}

int tu_python_has(const char *module) {
    static char names[32][64];
    static int vals[32], n;
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], module) == 0) return vals[i];
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s -c 'import %s' >/dev/null 2>&1", tu_python(), module);
    int ok = system(cmd) == 0;
    if (n < 32) {
        snprintf(names[n], 64, "%s", module);
        vals[n++] = ok;
    }
    return ok;
}

const char *tu_strata(void) {
    static char b[512];
    const char *e = getenv("STRATA_BUILD");
    snprintf(b, sizeof b, "%s/strata", e && *e ? e : "build");
    return b;
}

static char g_out[1024], g_err[1024];

int tu_sh(const char *fmt, ...) {
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    const char *t = tu_tmpdir();
    snprintf(g_out, sizeof g_out, "%s/last.out", t);
    snprintf(g_err, sizeof g_err, "%s/last.err", t);
    char full[8192 + 2100];
    snprintf(full, sizeof full, "( %s ) >'%s' 2>'%s'", cmd, g_out, g_err);
    int rc = system(full);
    if (rc == -1) return -1;
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128 + WTERMSIG(rc);
}

const char *tu_last_out(void) {
    static char *b;
    free(b);
    b = tu_read(g_out, NULL);
    return b ? b : "";
}

const char *tu_last_err(void) {
    static char *b;
    free(b);
    b = tu_read(g_err, NULL);
    return b ? b : "";
}

/* Test programs run the BLAS kernels the `strata` CLI runs (cli/strata.c):
 * where OpenBLAS fell back to generic kernels on a CPU it does not know,
 * start again once with the family the CPU supports, so results compared
 * between a test's library calls and the CLI come from the same kernels. */
__attribute__((constructor)) static void tu_blas_kernels(void) {
    if (getenv("STRATA_BLAS_CHECKED")) return;
    const char *hint = strata_blas_coretype_hint();
    if (!hint) return;
    static char *argv[256];
    static char buf[65536];
    FILE *f = fopen("/proc/self/cmdline", "rb");
    if (!f) return;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    int argc = 0;
    for (size_t i = 0; i < n && argc < 255; i += strlen(buf + i) + 1) argv[argc++] = buf + i;
    argv[argc] = NULL;
    setenv("OPENBLAS_CORETYPE", hint, 1);
    setenv("STRATA_BLAS_CHECKED", "1", 1);
    execv("/proc/self/exe", argv);
}
