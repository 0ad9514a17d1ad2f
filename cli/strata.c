/*
 * strata.c — entry point: `strata <command> [options]`.
 */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "strata/strata.h"

/* Pipeline order, as `strata --help` lists them. */
static const cli_command *const commands[] = {
    &cmd_synth, &cmd_inspect, &cmd_tokenize, &cmd_embed, &cmd_cluster,
    &cmd_plan,  &cmd_hardness, &cmd_train,   &cmd_eval,  &cmd_demo,
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

int main(int argc, char **argv) {
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
    fprintf(stderr, "strata: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return CLI_USAGE;
}
