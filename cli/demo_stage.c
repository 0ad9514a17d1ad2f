/*
 * demo_stage.c — running the demo's stages: each is the real `strata`
 * subcommand, run as a child process. Its command line is printed and
 * appended to OUT/commands.sh, so a user can replay or change any stage;
 * its wall time is appended to OUT/stages.jsonl when it finishes. A stage
 * whose output exists already is skipped: every stage writes its outputs
 * atomically, so a killed demo continues where it stopped.
 */
#include <errno.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "demo.h"
#include "strata/io.h"

extern char **environ;

/* ------------------------------------------------------------------------ */
/* Strings and small helpers                                                 */
/* ------------------------------------------------------------------------ */

static char **g_strs;
static size_t g_nstrs, g_capstrs;

void demo_strings_free(void) {
    for (size_t i = 0; i < g_nstrs; i++) free(g_strs[i]);
    free(g_strs);
    g_strs = NULL;
    g_nstrs = g_capstrs = 0;
}

char *dfmt(const char *f, ...) {
    va_list ap;
    va_start(ap, f);
    char *s = NULL;
    if (vasprintf(&s, f, ap) < 0) s = NULL;
    va_end(ap);
    if (s && g_nstrs == g_capstrs) {
        size_t cap = g_capstrs ? 2 * g_capstrs : 256;
        char **n = realloc(g_strs, cap * sizeof *n);
        if (n) {
            g_strs = n;
            g_capstrs = cap;
        }
    }
    if (!s || g_nstrs == g_capstrs) {
        fprintf(stderr, "strata demo: out of memory\n");
        exit(1);
    }
    g_strs[g_nstrs++] = s;
    return s;
}

int demo_exists(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0;
}

struct cJSON *demo_json_read(const char *path) {
    char *text;
    size_t len;
    strata_error err;
    if (strata_read_file(path, &text, &len, 0, &err)) return NULL;
    cJSON *j = cJSON_ParseWithLength(text, len);
    strata_free(text);
    return j;
}

strata_status demo_json_write(const char *path, const cJSON *j, strata_error *err) {
    char *text = cJSON_Print(j);
    if (!text) return strata_error_set(err, STRATA_ENOMEM, "out of memory");
    strata_status st = strata_write_file(path, text, strlen(text), err);
    cJSON_free(text);
    return st;
}

double demo_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void shell_quote(FILE *f, const char *a) {
    if (*a && a[strspn(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=,:+@%")] == '\0') {
        fputs(a, f);
        return;
    }
    fputc('\'', f);
    for (; *a; a++) {
        if (*a == '\'') fputs("'\\''", f);
        else fputc(*a, f);
    }
    fputc('\'', f);
}

/* ------------------------------------------------------------------------ */
/* The runner                                                                */
/* ------------------------------------------------------------------------ */

int demo_runner_open(demo_runner *d, const cli_env *env, const char *out) {
    memset(d, 0, sizeof *d);
    d->env = env;
    ssize_t sl = readlink("/proc/self/exe", d->self, sizeof d->self - 1);
    if (sl <= 0) {
        fprintf(stderr, "strata demo: cannot find the strata executable\n");
        return -1;
    }
    d->self[sl] = '\0';
    const char *cpath = dfmt("%s/commands.sh", out);
    d->commands = fopen(cpath, "a");
    if (!d->commands) {
        fprintf(stderr, "strata demo: %s: %s\n", cpath, strerror(errno));
        return -1;
    }
    /* a script that replays the stages as they ran: the executable by its
     * absolute path, from the folder the demo ran in */
    if (fseek(d->commands, 0, SEEK_END) == 0 && ftell(d->commands) == 0) {
        char cwd[4096];
        fprintf(d->commands, "#!/bin/sh\n# strata demo: every stage's command, in the order run "
                             "(sh commands.sh replays them)\nset -e\n");
        if (getcwd(cwd, sizeof cwd)) {
            fprintf(d->commands, "cd ");
            shell_quote(d->commands, cwd);
            fputc('\n', d->commands);
        }
        fchmod(fileno(d->commands), 0755);
    }
    fprintf(d->commands, "# strata demo: stages run\n");
    d->times = dfmt("%s/stages.jsonl", out);
    return 0;
}

void demo_runner_close(demo_runner *d) {
    if (d->commands) fclose(d->commands);
    d->commands = NULL;
}

/* One JSON line per finished stage, so a killed run keeps the others. */
static void record_time(const demo_runner *d, const char *what, double seconds) {
    FILE *f = fopen(d->times, "a");
    cJSON *j = cJSON_CreateObject();
    char *line = NULL;
    if (j && cJSON_AddStringToObject(j, "stage", what) && cJSON_AddNumberToObject(j, "seconds", seconds))
        line = cJSON_PrintUnformatted(j);
    if (f && line) fprintf(f, "%s\n", line);
    if (f) fclose(f);
    cJSON_free(line);
    cJSON_Delete(j);
}

static void print_command(FILE *f, int argc, const char **argv) {
    for (int i = 0; i < argc; i++) {
        if (i) fputc(' ', f);
        shell_quote(f, argv[i]);
    }
    fputc('\n', f);
}

/* A stage is done when its output exists; an output directory (done_path
 * DIR/manifest.json) must also be complete: a stage killed half-way runs
 * again. */
static int done_already(const char *done_path) {
    size_t n = strlen(done_path), m = strlen("/" STRATA_MANIFEST);
    if (n > m && strcmp(done_path + n - m, "/" STRATA_MANIFEST) == 0) {
        char *dir = strndup(done_path, n - m);
        int found = 0;
        int ok = dir && strata_dir_check(dir, NULL, &found, NULL) == STRATA_OK && found;
        free(dir);
        return ok;
    }
    return demo_exists(done_path);
}

int demo_stage(demo_runner *d, const char *done_path, const char *what, int argc, const char **args) {
    if (done_path && done_already(done_path)) {
        cli_info(d->env, "demo: %s: done already (%s)", what, done_path);
        d->n_skipped++;
        return 0;
    }
    const char *argv[128];
    int n = 0;
    if (argc > 114) {
        fprintf(stderr, "strata demo: stage '%s' has too many arguments\n", what);
        return -1;
    }
    argv[n++] = "strata";
    int has_seed = 0;
    for (int i = 0; i < argc; i++) {
        argv[n++] = args[i];
        has_seed |= strcmp(args[i], "--seed") == 0;
    }
    char threads[32], seed[32];
    snprintf(threads, sizeof threads, "%d", d->env->threads);
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)d->env->seed);
    argv[n++] = "--threads";
    argv[n++] = threads;
    if (!has_seed) {
        argv[n++] = "--seed";
        argv[n++] = seed;
    }
    if (d->env->quiet) argv[n++] = "--quiet";
    /* the pair fields given to the demo reach every stage that reads pairs */
    static const char *const readers[] = {"embed", "cluster", "plan", "hardness", "train"};
    for (size_t r = 0; r < sizeof readers / sizeof readers[0]; r++) {
        if (argc < 1 || strcmp(args[0], readers[r]) != 0) continue;
        const strata_pairs_options *po = &d->env->pairs;
        if (cli_given("query-field")) argv[n++] = "--query-field", argv[n++] = po->query_field;
        if (cli_given("positive-field"))
            argv[n++] = "--positive-field", argv[n++] = po->positive_field;
        if (cli_given("source-field")) argv[n++] = "--source-field", argv[n++] = po->source_field;
    }
    argv[n] = NULL;
    if (!d->env->quiet) {
        fprintf(stderr, "\n== %s\n$ ", what);
        print_command(stderr, n, argv);
    }
    fprintf(d->commands, "# %s\n", what);
    argv[0] = d->self; /* the script runs without strata on PATH */
    print_command(d->commands, n, argv);
    argv[0] = "strata";
    fflush(d->commands);
    fflush(stdout);
    double t0 = demo_now();
    pid_t pid;
    /* a stage's own summary lines go to stderr with its progress: the demo's
     * stdout holds only the demo's result */
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, 2, 1);
    /* /proc/self/exe, not the path: the running binary even if it was rebuilt
     * (replaced) while the demo ran */
    int rc = posix_spawn(&pid, "/proc/self/exe", &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        fprintf(stderr, "strata demo: cannot run %s: %s\n", d->self, strerror(rc));
        return -1;
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return -1;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "strata demo: stage '%s' failed (%s %d)\n", what,
                WIFEXITED(status) ? "exit" : "signal", WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
        return -1;
    }
    d->n_run++;
    record_time(d, what, demo_now() - t0);
    return 0;
}
