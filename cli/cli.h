/*
 * cli.h — the command-line framework shared by every `strata` subcommand.
 *
 * A command is a table of options plus a run function. The same table parses
 * argv and prints --help, so usage text cannot drift from the parser. Common
 * options (--threads, --seed, --quiet) are appended to every command.
 *
 * Exit codes: 0 ok, 1 failure, 2 usage.
 */
#ifndef STRATA_CLI_H
#define STRATA_CLI_H

#include <stdint.h>
#include "strata/data.h"
#include "strata/strata.h"

enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

typedef enum cli_kind {
    CLI_FLAG,    /* int, set to 1 when present                  */
    CLI_INT,     /* int                                         */
    CLI_INT64,   /* int64_t                                     */
    CLI_DOUBLE,  /* double                                      */
    CLI_STRING,  /* const char *                                */
    CLI_STRINGS  /* cli_strings: repeatable, values accumulate  */
} cli_kind;

typedef struct cli_strings {
    const char *v[16];
    int n;
} cli_strings;

#define CLI_REQUIRED 1u
/* --help appends "(default V)" with the variable's value before parsing:
 * the default is written once, where the variable gets it (the command's
 * defaults hook, from the library's parameter structs, or its initializer),
 * never again in the help text. */
#define CLI_SHOW_DEFAULT 2u
/* An old spelling kept for a release: parsed as the option whose name is in
 * `help` (the entry's kind and dst must match it), not listed with the
 * options, named under "Old spellings" in --help. */
#define CLI_ALIAS 4u

typedef struct cli_opt {
    const char *name;     /* long name without "--"                       */
    cli_kind kind;
    void *dst;            /* where the value goes (type per kind)         */
    const char *metavar;  /* "N", "PATH"; NULL for flags                  */
    const char *help;     /* one line; a default not shown by
                             CLI_SHOW_DEFAULT is said here ("default: the
                             model's")                                    */
    unsigned flags;       /* CLI_REQUIRED, CLI_SHOW_DEFAULT               */
} cli_opt;

/* What every command receives besides its own options. */
typedef struct cli_env {
    int threads;          /* --threads (0: all cores)            */
    uint64_t seed;        /* --seed (default 1)                  */
    int quiet;            /* --quiet                             */
    strata_progress progress; /* progress bar / lines on stderr (none if quiet) */
    strata_pairs_options pairs; /* commands that read pairs: the field names
                                   (--query-field, --positive-field,
                                   --source-field) and the progress above */
} cli_env;

typedef struct cli_command {
    const char *name;
    const char *summary;      /* one line for `strata --help`            */
    const char *positional;   /* e.g. "PATH" or NULL when none accepted  */
    const char *description;  /* paragraph for `strata CMD --help`, or NULL */
    const cli_opt *opts;      /* terminated by {0}                       */
    int (*run)(const cli_env *env, int npos, char **pos);
    /* Sets the option variables to their defaults from the library's
     * parameter structs (strata_*_default_params), so that no default is
     * written twice; called before parsing and before --help. NULL: the
     * variables' initializers are the defaults. */
    void (*defaults)(void);
    /* 1: the command reads pairs; the framework adds --query-field,
     * --positive-field and --source-field and fills env->pairs. */
    int reads_pairs;
} cli_command;

/* Parses argv for cmd (argv[0] is the command name), runs it, returns the
 * exit code. */
int cli_dispatch(const cli_command *cmd, int argc, char **argv);

/* Prints `error: ...` to stderr; returns CLI_FAIL (or CLI_USAGE for usage). */
int cli_fail(const strata_error *err);
int cli_usage_error(const cli_command *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* --precision VALUE (NULL: auto) to *out, resolved for this CPU and build:
 * CLI_OK; an unknown name is a usage error (2), a mode this machine cannot
 * run a failure (1) naming what is missing. */
#define CLI_PRECISION_HELP \
    "matrix products: auto|fp32|bf16|int8 (default auto: bf16 where the CPU " \
    "and build have it, else fp32; see docs/precision.md)"
int cli_precision(const cli_command *cmd, const char *value, strata_precision *out);
/* Flushes stdout; when that or any earlier write to it failed (a full
 * disk, a closed pipe), prints an error and returns CLI_FAIL unless rc
 * already says failure, else returns rc. cli_dispatch calls it after every
 * command, so no command reports success for output that was lost. */
int cli_check_stdout(int rc);

/* 1 when the option --name was given on the command line (an old spelling
 * counts for the option it names), else 0: for options that do not apply
 * to the chosen mode, and for "given" vs "left at its default". */
int cli_given(const char *name);

/* Options that do not apply to the chosen mode: when any of names (NULL-
 * terminated, without "--") was given, a usage error "--a and --b do not
 * apply <why>" (exit 2); else CLI_OK. */
int cli_reject(const cli_command *cmd, const char *const *names, const char *why);

/* The name among names[0..n) nearest to word[0..len) by edit distance, when
 * it is close enough to be a slip (at most max(2, len/3) edits), else NULL:
 * "did you mean" for commands and options. */
const char *cli_nearest(const char *word, size_t len, const char *const *names, size_t n);

/* Informational message to stderr unless --quiet. */
void cli_info(const cli_env *env, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Ends the current progress line (call before printing results). */
void cli_progress_done(const cli_env *env);

#endif
