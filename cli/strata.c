/*
 * strata.c — entry point: `strata <command> [options]`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "strata/strata.h"

/* Pipeline order, as `strata --help` lists them. */
static const cli_command *const commands[] = {
    &cmd_synth, &cmd_inspect, &cmd_tokenize, &cmd_embed, &cmd_cluster,
    &cmd_plan,  &cmd_hardness, &cmd_train,   &cmd_eval,  &cmd_compare, &cmd_demo,
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f) {
    fprintf(f,
            "strata %s — hard-minibatch contrastive pretraining for text embedders\n\n"
            "Usage: strata <command> [options]\n"
            "       strata <command> --help\n"
            "       strata --version\n\nCommands:\n",
            strata_version());
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-10s %s\n", commands[i]->name, commands[i]->summary);
    fprintf(f, "\nCommon options on every command: --threads N, --seed N, --quiet.\n");
}

/* OpenBLAS fell back to generic kernels on a CPU it does not know: start
 * again, once, with the kernel family the CPU supports
 * (strata_blas_coretype_hint). STRATA_BLAS_CHECKED stops a second try. */
static void blas_kernels(char **argv) {
    if (getenv("STRATA_BLAS_CHECKED")) return;
    const char *hint = strata_blas_coretype_hint();
    if (!hint) return;
    setenv("OPENBLAS_CORETYPE", hint, 1);
    setenv("STRATA_BLAS_CHECKED", "1", 1);
    execv("/proc/self/exe", argv);
    /* exec failed: go on with the generic kernels */
}

int main(int argc, char **argv) {
    blas_kernels(argv);
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return cli_check_stdout(CLI_OK);
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("strata %s\n", strata_version());
        return cli_check_stdout(CLI_OK);
    }
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(argv[1], commands[i]->name) == 0)
            return cli_dispatch(commands[i], argc - 1, argv + 1);
    const char *names[NCOMMANDS];
    for (size_t i = 0; i < NCOMMANDS; i++) names[i] = commands[i]->name;
    const char *near = cli_nearest(argv[1], strlen(argv[1]), names, NCOMMANDS);
    if (near) {
        fprintf(stderr, "strata: unknown command '%s'; did you mean '%s'?\n"
                        "Try 'strata --help' for the list of commands.\n", argv[1], near);
        return CLI_USAGE;
    }
    fprintf(stderr, "strata: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return CLI_USAGE;
}
