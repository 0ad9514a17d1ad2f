/*
 * cli.c — option parsing, help text, errors and the progress display.
 */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------------ */
/* Progress: a bar on a terminal, periodic plain lines otherwise             */
/* ------------------------------------------------------------------------ */

typedef struct progress_state {
    int tty;
    double t0, last;
    char stage[64];
    int active;
} progress_state;

static progress_state g_prog;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void fmt_eta(char *buf, size_t n, double s) {
    if (!isfinite(s) || s < 0) snprintf(buf, n, "?");
    else if (s < 60) snprintf(buf, n, "%.0fs", s);
    else if (s < 3600) snprintf(buf, n, "%dm%02ds", (int)s / 60, (int)s % 60);
    else snprintf(buf, n, "%dh%02dm", (int)s / 3600, ((int)s % 3600) / 60);
}

static void progress_cb(void *ud, const char *stage, int64_t done, int64_t total,
                        const char *unit) {
    progress_state *p = ud;
    double t = now_s();
    if (!p->active || strncmp(p->stage, stage, sizeof p->stage - 1) != 0) {
        if (p->active && p->tty) fputc('\n', stderr);
        snprintf(p->stage, sizeof p->stage, "%s", stage);
        p->t0 = t;
        p->last = 0;
        p->active = 1;
    }
    int final = total >= 0 && done >= total;
    double interval = p->tty ? 0.1 : 5.0;
    if (!final && t - p->last < interval) return;
    p->last = t;
    double el = t - p->t0;
    double rate = el > 0 ? (double)done / el : 0;
    char eta[32] = "";
    if (total > 0 && rate > 0) fmt_eta(eta, sizeof eta, (double)(total - done) / rate);
    if (p->tty) {
        char bar[31];
        int filled = total > 0 ? (int)(30.0 * (double)done / (double)total) : 0;
        if (filled > 30) filled = 30;
        for (int i = 0; i < 30; i++) bar[i] = i < filled ? '#' : '.';
        bar[30] = '\0';
        if (total > 0)
            fprintf(stderr, "\r%-12s [%s] %lld/%lld %s  %.1f %s/s  ETA %s   ", stage, bar,
                    (long long)done, (long long)total, unit, rate, unit, eta);
        else
            fprintf(stderr, "\r%-12s %lld %s  %.1f %s/s   ", stage, (long long)done, unit,
                    rate, unit);
        if (final) {
            fputc('\n', stderr);
            p->active = 0;
        }
    } else {
        if (final && el < 0.05) /* finished at once: no rate worth showing */
            fprintf(stderr, "%s: %lld %s\n", stage, (long long)done, unit);
        else if (final)
            fprintf(stderr, "%s: %lld %s in %.1f s, %.1f %s/s\n", stage, (long long)done, unit,
                    el, rate, unit);
        else if (total > 0)
            fprintf(stderr, "%s: %lld/%lld %s (%.1f%%), %.1f %s/s, ETA %s\n", stage,
                    (long long)done, (long long)total, unit,
                    100.0 * (double)done / (double)total, rate, unit, eta);
        else
            fprintf(stderr, "%s: %lld %s, %.1f %s/s\n", stage, (long long)done, unit, rate,
                    unit);
        if (final) p->active = 0;
    }
    fflush(stderr);
}

void cli_progress_done(const cli_env *env) {
    if (env->quiet) return;
    if (g_prog.active && g_prog.tty) fputc('\n', stderr);
    g_prog.active = 0;
}

/* ------------------------------------------------------------------------ */
/* Messages                                                                  */
/* ------------------------------------------------------------------------ */

int cli_check_stdout(int rc) {
    /* stdio buffers: a full disk or a closed pipe shows only at the flush */
    int bad = fflush(stdout) != 0 || ferror(stdout);
    int e = errno;
    if (!bad) return rc;
    if (g_prog.active && g_prog.tty) fputc('\n', stderr);
    g_prog.active = 0;
    fprintf(stderr, "strata: error: cannot write to standard output: %s\n",
            e ? strerror(e) : "write error");
    return rc == CLI_OK ? CLI_FAIL : rc;
}

int cli_fail(const strata_error *err) {
    if (g_prog.active && g_prog.tty) fputc('\n', stderr);
    g_prog.active = 0;
    fprintf(stderr, "strata: error: %s\n", err && err->msg[0] ? err->msg : "failed");
    return err && err->status == STRATA_EINVAL ? CLI_USAGE : CLI_FAIL;
}

int cli_usage_error(const cli_command *cmd, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "strata %s: ", cmd->name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'strata %s --help'.\n", cmd->name);
    return CLI_USAGE;
}

void cli_info(const cli_env *env, const char *fmt, ...) {
    if (env->quiet) return;
    if (g_prog.active && g_prog.tty) {
        fputc('\n', stderr);
        g_prog.active = 0;
    }
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* ------------------------------------------------------------------------ */
/* Parsing                                                                   */
/* ------------------------------------------------------------------------ */

static cli_env g_env;
static int g_help;

static const cli_opt common_opts[] = {
    {"threads", CLI_INT, &g_env.threads, "N", "worker threads (default: all cores)", 0},
    {"seed", CLI_INT64, &g_env.seed, "N", "random seed (default 1)", 0},
    {"quiet", CLI_FLAG, &g_env.quiet, NULL, "no progress or informational output", 0},
    {"help", CLI_FLAG, &g_help, NULL, "show this help", 0},
    {0},
};

static void print_opts(const cli_opt *o) {
    for (; o->name; o++) {
        char left[64];
        if (o->metavar)
            snprintf(left, sizeof left, "--%s %s", o->name, o->metavar);
        else
            snprintf(left, sizeof left, "--%s", o->name);
        char def[96] = "";
        if (o->flags & CLI_SHOW_DEFAULT) {
            switch (o->kind) {
            case CLI_INT: snprintf(def, sizeof def, " (default %d)", *(int *)o->dst); break;
            case CLI_INT64:
                snprintf(def, sizeof def, " (default %lld)", (long long)*(int64_t *)o->dst);
                break;
            case CLI_DOUBLE: snprintf(def, sizeof def, " (default %g)", *(double *)o->dst); break;
            case CLI_STRING:
                if (*(const char **)o->dst)
                    snprintf(def, sizeof def, " (default %s)", *(const char **)o->dst);
                break;
            default: break;
            }
        }
        printf("  %-28s %s%s%s%s\n", left, o->help ? o->help : "", def,
               (o->flags & CLI_REQUIRED) ? " (required)" : "",
               o->kind == CLI_STRINGS ? " (repeatable)" : "");
    }
}

static void print_help(const cli_command *cmd) {
    printf("Usage: strata %s [options]%s%s\n\n%s\n", cmd->name,
           cmd->positional ? " " : "", cmd->positional ? cmd->positional : "",
           cmd->summary);
    if (cmd->description) printf("\n%s\n", cmd->description);
    printf("\nOptions:\n");
    print_opts(cmd->opts);
    printf("\nCommon options:\n");
    print_opts(common_opts);
}

static const cli_opt *find_opt(const cli_opt *tab, const char *name, size_t n) {
    for (; tab->name; tab++)
        if (strlen(tab->name) == n && strncmp(tab->name, name, n) == 0) return tab;
    return NULL;
}

static int set_value(const cli_command *cmd, const cli_opt *o, const char *v) {
    char *end;
    errno = 0;
    switch (o->kind) {
    case CLI_INT: {
        long x = strtol(v, &end, 10);
        if (*v == '\0' || *end || errno || x < -2147483647L || x > 2147483647L)
            return cli_usage_error(cmd, "--%s expects an integer, got '%s'", o->name, v);
        *(int *)o->dst = (int)x;
        break;
    }
    case CLI_INT64: {
        long long x = strtoll(v, &end, 10);
        if (*v == '\0' || *end || errno)
            return cli_usage_error(cmd, "--%s expects an integer, got '%s'", o->name, v);
        *(int64_t *)o->dst = (int64_t)x;
        break;
    }
    case CLI_DOUBLE: {
        double x = strtod(v, &end);
        if (*v == '\0' || *end || errno || !isfinite(x))
            return cli_usage_error(cmd, "--%s expects a number, got '%s'", o->name, v);
        *(double *)o->dst = x;
        break;
    }
    case CLI_STRING: *(const char **)o->dst = v; break;
    case CLI_STRINGS: {
        cli_strings *s = o->dst;
        if (s->n >= 16) return cli_usage_error(cmd, "--%s given too many times", o->name);
        s->v[s->n++] = v;
        break;
    }
    case CLI_FLAG: break;
    }
    return CLI_OK;
}

int cli_dispatch(const cli_command *cmd, int argc, char **argv) {
    memset(&g_env, 0, sizeof g_env);
    g_env.seed = 1;
    g_help = 0;
    if (cmd->defaults) cmd->defaults();
    /* --help anywhere (before "--") shows the defaults, not the values
     * parsed so far */
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            print_help(cmd);
            return cli_check_stdout(CLI_OK);
        }
    enum { MAXP = 64 };
    char *pos[MAXP];
    int npos = 0;
    /* Required tracking: count of options and a seen flag per option. */
    int nopts = 0;
    while (cmd->opts[nopts].name) nopts++;
    unsigned char *seen = calloc((size_t)nopts + 1, 1);
    int only_pos = 0;
    for (int i = 1; i < argc; i++) {
        char *a = argv[i];
        if (only_pos || a[0] != '-' || a[1] == '\0') {
            if (!cmd->positional) {
                free(seen);
                return cli_usage_error(cmd, "unexpected argument '%s'", a);
            }
            if (npos >= MAXP) {
                free(seen);
                return cli_usage_error(cmd, "too many arguments");
            }
            pos[npos++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_pos = 1;
            continue;
        }
        if (strcmp(a, "-h") == 0) a = "--help";
        if (a[1] != '-') {
            free(seen);
            return cli_usage_error(cmd, "unknown option '%s'", a);
        }
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        size_t nl = eq ? (size_t)(eq - name) : strlen(name);
        const cli_opt *o = find_opt(cmd->opts, name, nl);
        if (!o) o = find_opt(common_opts, name, nl);
        if (!o) {
            free(seen);
            return cli_usage_error(cmd, "unknown option '--%.*s'", (int)nl, name);
        }
        if (o >= cmd->opts && o < cmd->opts + nopts) seen[o - cmd->opts] = 1;
        if (o->kind == CLI_FLAG) {
            if (eq) {
                free(seen);
                return cli_usage_error(cmd, "--%s takes no value", o->name);
            }
            *(int *)o->dst = 1;
            continue;
        }
        const char *v = eq ? eq + 1 : NULL;
        if (!v) {
            if (i + 1 >= argc) {
                free(seen);
                return cli_usage_error(cmd, "--%s needs a value (%s)", o->name,
                                       o->metavar ? o->metavar : "VALUE");
            }
            v = argv[++i];
        }
        int rc = set_value(cmd, o, v);
        if (rc) {
            free(seen);
            return rc;
        }
    }
    if (g_help) {
        free(seen);
        print_help(cmd);
        return cli_check_stdout(CLI_OK);
    }
    for (int k = 0; k < nopts; k++)
        if ((cmd->opts[k].flags & CLI_REQUIRED) && !seen[k]) {
            free(seen);
            return cli_usage_error(cmd, "missing required option --%s", cmd->opts[k].name);
        }
    free(seen);
    if (g_env.threads < 0) return cli_usage_error(cmd, "--threads must be >= 0");
    g_env.threads = strata_set_threads(g_env.threads);
    if (!g_env.quiet) {
        memset(&g_prog, 0, sizeof g_prog);
        g_prog.tty = isatty(2);
        g_env.progress.fn = progress_cb;
        g_env.progress.ud = &g_prog;
    }
    int rc = cmd->run(&g_env, npos, pos);
    cli_progress_done(&g_env);
    return cli_check_stdout(rc);
}

int cli_precision(const cli_command *cmd, const char *value, strata_precision *out) {
    strata_error err;
    strata_error_clear(&err);
    strata_precision p = STRATA_PRECISION_AUTO;
    if (value && strata_precision_parse(value, &p, &err) != STRATA_OK)
        return cli_usage_error(cmd, "--precision: %s", err.msg);
    if (strata_precision_resolve(p, out, &err) != STRATA_OK) return cli_fail(&err);
    return CLI_OK;
}
