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
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------------ */
/* Progress: a bar on a terminal, periodic plain lines otherwise             */
/* ------------------------------------------------------------------------ */

typedef struct progress_state {
    int tty;
    double t0, last;
    double start;  /* when the stage began (its first report or note) */
    int64_t done0; /* items done at the stage's first report (-1: none yet) */
    char stage[64];
    char note[64]; /* the stage's latest status ("loss 0.4123"), or "" */
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

/* "12.5 steps/s", or "25.3 s/step" below one per second; "" before the
 * first item is done (no rate yet). */
static void fmt_rate(char *buf, size_t n, double rate, const char *unit) {
    size_t ul = strlen(unit);
    if (!(rate > 0)) snprintf(buf, n, "%s", "");
    else if (rate >= 1) snprintf(buf, n, "%.1f %s/s", rate, unit);
    else /* seconds per item, the unit in the singular */
        snprintf(buf, n, "%.1f s/%.*s", 1.0 / rate,
                 (int)(ul > 1 && unit[ul - 1] == 's' ? ul - 1 : ul), unit);
}

/* Starts the stage's line when it is new. */
static void progress_stage(progress_state *p, const char *stage, double t) {
    if (p->active && strncmp(p->stage, stage, sizeof p->stage - 1) == 0) return;
    if (p->active && p->tty) fputc('\n', stderr);
    snprintf(p->stage, sizeof p->stage, "%s", stage);
    p->note[0] = '\0';
    p->t0 = p->start = t;
    p->done0 = -1;
    p->last = 0;
    p->active = 1;
}

static void note_cb(void *ud, const char *stage, const char *text) {
    progress_state *p = ud;
    progress_stage(p, stage, now_s());
    snprintf(p->note, sizeof p->note, "%s", text);
}

static void progress_cb(void *ud, const char *stage, int64_t done, int64_t total,
                        const char *unit) {
    progress_state *p = ud;
    double t = now_s();
    progress_stage(p, stage, t);
    if (p->done0 < 0) { /* the rate counts from the first report */
        p->done0 = done;
        p->t0 = t;
    }
    int final = total >= 0 && done >= total;
    double interval = p->tty ? 0.1 : 5.0;
    if (!final && t - p->last < interval) return;
    p->last = t;
    double el = t - p->t0;
    double rate = el > 0 && done > p->done0 ? (double)(done - p->done0) / el : 0;
    /* the line's tail, each part only when known: rate, ETA, note */
    char rs[48], eta[32], tail[200], note[72] = "";
    fmt_rate(rs, sizeof rs, rate, unit);
    if (p->note[0]) snprintf(note, sizeof note, ", %s", p->note);
    int k = 0;
    tail[0] = '\0';
    if (rs[0]) k += snprintf(tail + k, sizeof tail - (size_t)k, ", %s", rs);
    if (!final && total > 0 && rate > 0) {
        fmt_eta(eta, sizeof eta, (double)(total - done) / rate);
        k += snprintf(tail + k, sizeof tail - (size_t)k, ", ETA %s", eta);
    }
    snprintf(tail + k, sizeof tail - (size_t)k, "%s", note);
    if (p->tty) {
        char bar[31];
        int filled = total > 0 ? (int)(30.0 * (double)done / (double)total) : 0;
        if (filled > 30) filled = 30;
        for (int i = 0; i < 30; i++) bar[i] = i < filled ? '#' : '.';
        bar[30] = '\0';
        if (total > 0)
            fprintf(stderr, "\r%-12s [%s] %lld/%lld %s%s   ", stage, bar, (long long)done,
                    (long long)total, unit, tail);
        else
            fprintf(stderr, "\r%-12s %lld %s%s   ", stage, (long long)done, unit, tail);
        if (final) {
            fputc('\n', stderr);
            p->active = 0;
        }
    } else {
        if (final && t - p->start < 0.05) /* finished at once: no rate worth showing */
            fprintf(stderr, "%s: %lld %s%s\n", stage, (long long)done, unit, note);
        else if (final)
            fprintf(stderr, "%s: %lld %s in %.1f s%s\n", stage, (long long)done, unit,
                    t - p->start, tail);
        else if (total > 0)
            fprintf(stderr, "%s: %lld/%lld %s (%.1f%%)%s\n", stage, (long long)done,
                    (long long)total, unit, 100.0 * (double)done / (double)total, tail);
        else
            fprintf(stderr, "%s: %lld %s%s\n", stage, (long long)done, unit, tail);
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

/* Columns to wrap help at: the terminal's when stdout is one, else
 * $COLUMNS, else 80 (at least 40). */
static int help_width(void) {
    int w = 0;
    struct winsize ws;
    if (isatty(1) && ioctl(1, TIOCGWINSZ, &ws) == 0) w = ws.ws_col;
    const char *c = getenv("COLUMNS");
    if (w <= 0 && c) w = atoi(c);
    if (w <= 0) w = 80;
    return w < 40 ? 40 : w;
}

/* Prints text from column col (the cursor is there), wrapping at width with
 * continuation lines indented by indent; a blank line in text ("\n\n")
 * starts a paragraph, a single newline is a space. */
static void print_wrapped(const char *text, int col, int indent, int width) {
    const char *p = text;
    while (*p) {
        if (p[0] == '\n' && p[1] == '\n') {
            printf("\n\n%*s", indent, "");
            col = indent;
            p += 2;
            continue;
        }
        if (*p == '\n') {
            p++;
            continue;
        }
        size_t wl = strcspn(p, " \n");
        if (col > indent && col + 1 + (int)wl > width) {
            printf("\n%*s", indent, "");
            col = indent;
        } else if (col > indent) {
            putchar(' ');
            col++;
        }
        printf("%.*s", (int)wl, p);
        col += (int)wl;
        p += wl;
        while (*p == ' ' || (p[0] == '\n' && p[1] != '\n')) p++;
    }
    putchar('\n');
}

/* The " (default X)" of an option shown with CLI_SHOW_DEFAULT, or "". */
static void default_text(const cli_opt *o, char *def, size_t n) {
    def[0] = '\0';
    if (!(o->flags & CLI_SHOW_DEFAULT)) return;
    switch (o->kind) {
    case CLI_INT: snprintf(def, n, " (default %d)", *(int *)o->dst); break;
    case CLI_INT64: snprintf(def, n, " (default %lld)", (long long)*(int64_t *)o->dst); break;
    case CLI_DOUBLE: snprintf(def, n, " (default %g)", *(double *)o->dst); break;
    case CLI_STRING:
        if (*(const char **)o->dst) snprintf(def, n, " (default %s)", *(const char **)o->dst);
        break;
    default: break;
    }
}

/* The pair-field options of commands that read pairs (env->pairs). */
static const char *g_qf, *g_pf, *g_sf;
static const cli_opt pair_opts[] = {
    {"query-field", CLI_STRING, &g_qf, "F",
     "JSONL field holding the query (\"anchor\" is also understood)", CLI_SHOW_DEFAULT},
    {"positive-field", CLI_STRING, &g_pf, "F", "JSONL field holding the positive",
     CLI_SHOW_DEFAULT},
    {"source-field", CLI_STRING, &g_sf, "F",
     "JSONL field holding the source (a pair without one is in source \"default\")",
     CLI_SHOW_DEFAULT},
    {0},
};

/* Options given in this dispatch (cli_given). */
static const cli_opt *g_given[128];
static int g_ngiven;

int cli_given(const char *name) {
    for (int i = 0; i < g_ngiven; i++)
        if (strcmp(g_given[i]->name, name) == 0) return 1;
    return 0;
}

int cli_reject(const cli_command *cmd, const char *const *names, const char *why) {
    const char *given[32];
    int n = 0;
    for (; *names && n < 32; names++)
        if (cli_given(*names)) given[n++] = *names;
    if (!n) return CLI_OK;
    char list[512]; /* "--a", "--a and --b", "--a, --b and --c" */
    size_t k = 0;
    list[0] = '\0';
    for (int i = 0; i < n; i++) {
        int w = snprintf(list + k, sizeof list - k, "%s--%s",
                         i == 0 ? "" : i == n - 1 ? " and " : ", ", given[i]);
        if (w > 0 && (size_t)w < sizeof list - k) k += (size_t)w;
    }
    return cli_usage_error(cmd, "%s %s not apply %s", list, n > 1 ? "do" : "does", why);
}

static void print_opts(const cli_opt *o, int width) {
    for (; o->name; o++) {
        if (o->flags & CLI_ALIAS) continue;
        char left[64], def[96], line[1200];
        if (o->metavar)
            snprintf(left, sizeof left, "--%s %s", o->name, o->metavar);
        else
            snprintf(left, sizeof left, "--%s", o->name);
        default_text(o, def, sizeof def);
        snprintf(line, sizeof line, "%s%s%s%s", o->help ? o->help : "", def,
                 (o->flags & CLI_REQUIRED) ? " (required)" : "",
                 o->kind == CLI_STRINGS ? " (repeatable)" : "");
        int col = printf("  %-28s ", left);
        if (col > 31) { /* a long name: its help starts on the next line */
            printf("\n%*s", 31, "");
            col = 31;
        }
        print_wrapped(line, col, 31, width);
    }
}

/* The old spellings kept for a release, one line each. */
static void print_aliases(const cli_opt *o, int width) {
    int any = 0;
    for (; o->name; o++) {
        if (!(o->flags & CLI_ALIAS)) continue;
        if (!any) printf("\nOld spellings, still accepted for a release:\n");
        any = 1;
        char line[256];
        snprintf(line, sizeof line, "--%s means --%s", o->name, o->help);
        printf("  ");
        print_wrapped(line, 2, 4, width);
    }
}

static void print_help(const cli_command *cmd) {
    int width = help_width();
    char usage[512];
    snprintf(usage, sizeof usage, "Usage: strata %s [options]%s%s", cmd->name,
             cmd->positional ? " " : "", cmd->positional ? cmd->positional : "");
    print_wrapped(usage, 0, 7, width);
    putchar('\n');
    print_wrapped(cmd->summary, 0, 0, width);
    if (cmd->description) {
        printf("\n");
        print_wrapped(cmd->description, 0, 0, width);
    }
    printf("\nOptions:\n");
    print_opts(cmd->opts, width);
    if (cmd->reads_pairs) {
        printf("\nPairs options:\n");
        print_opts(pair_opts, width);
    }
    printf("\nCommon options:\n");
    print_opts(common_opts, width);
    print_aliases(cmd->opts, width);
}

/* Edit distance (insertions, deletions, substitutions) of a and b, capped
 * at 64 characters each. */
static int edit_distance(const char *a, size_t na, const char *b, size_t nb) {
    if (na > 64) na = 64;
    if (nb > 64) nb = 64;
    int d[65][65];
    for (size_t i = 0; i <= na; i++) d[i][0] = (int)i;
    for (size_t j = 0; j <= nb; j++) d[0][j] = (int)j;
    for (size_t i = 1; i <= na; i++)
        for (size_t j = 1; j <= nb; j++) {
            int sub = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            int del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1;
            d[i][j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
    return d[na][nb];
}

const char *cli_nearest(const char *word, size_t len, const char *const *names, size_t n) {
    const char *best = NULL;
    int bd = 1 << 30;
    for (size_t i = 0; i < n; i++) {
        int dist = edit_distance(word, len, names[i], strlen(names[i]));
        if (dist < bd) bd = dist, best = names[i];
    }
    /* close enough to be a slip: a third of the word, at least 2 edits */
    int limit = (int)len / 3 > 2 ? (int)len / 3 : 2;
    return bd <= limit ? best : NULL;
}

/* The nearest option name of cmd (its own, common, pair fields; an old
 * spelling counts as the option it names), or NULL. */
static const char *nearest_opt(const cli_command *cmd, const char *name, size_t nl) {
    const char *names[160], *canon[160];
    size_t n = 0;
    for (const cli_opt *o = cmd->opts; o->name && n < 150; o++, n++) {
        names[n] = o->name;
        canon[n] = o->flags & CLI_ALIAS ? o->help : o->name;
    }
    for (const cli_opt *o = common_opts; o->name && n < 160; o++, n++) names[n] = canon[n] = o->name;
    for (const cli_opt *o = pair_opts; cmd->reads_pairs && o->name && n < 160; o++, n++)
        names[n] = canon[n] = o->name;
    const char *near = cli_nearest(name, nl, names, n);
    for (size_t i = 0; near && i < n; i++)
        if (names[i] == near) return canon[i];
    return near;
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
    g_ngiven = 0;
    strata_pairs_options po = strata_pairs_default_options();
    g_qf = po.query_field;
    g_pf = po.positive_field;
    g_sf = po.source_field;
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
        if (!o && cmd->reads_pairs) o = find_opt(pair_opts, name, nl);
        if (!o) {
            free(seen);
            const char *near = nearest_opt(cmd, name, nl);
            if (near)
                return cli_usage_error(cmd, "unknown option '--%.*s'; did you mean --%s?",
                                       (int)nl, name, near);
            return cli_usage_error(cmd, "unknown option '--%.*s'", (int)nl, name);
        }
        if (o->flags & CLI_ALIAS) { /* an old spelling: the option it names */
            const cli_opt *canon = find_opt(cmd->opts, o->help, strlen(o->help));
            if (canon) o = canon;
        }
        if (o >= cmd->opts && o < cmd->opts + nopts) seen[o - cmd->opts] = 1;
        if (g_ngiven < (int)(sizeof g_given / sizeof g_given[0])) g_given[g_ngiven++] = o;
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
        g_env.progress.note = note_cb;
    }
    g_env.pairs = strata_pairs_default_options();
    g_env.pairs.query_field = g_qf;
    g_env.pairs.positive_field = g_pf;
    g_env.pairs.source_field = g_sf;
    g_env.pairs.progress = g_env.progress;
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
