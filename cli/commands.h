/* commands.h — every subcommand of `strata`, one file each in cli/. */
#ifndef STRATA_COMMANDS_H
#define STRATA_COMMANDS_H
#include "cli.h"

extern const cli_command cmd_synth;     /* cmd_synth.c    */
extern const cli_command cmd_inspect;   /* cmd_inspect.c  */
extern const cli_command cmd_embed;     /* cmd_embed.c    */
extern const cli_command cmd_tokenize;  /* cmd_tokenize.c */
extern const cli_command cmd_cluster;   /* cmd_cluster.c  */
extern const cli_command cmd_plan;      /* cmd_plan.c     */
extern const cli_command cmd_hardness;  /* cmd_hardness.c */
extern const cli_command cmd_train;     /* cmd_train.c    */
extern const cli_command cmd_eval;      /* cmd_eval.c     */
extern const cli_command cmd_compare;   /* cmd_compare.c  */
extern const cli_command cmd_demo;      /* cmd_demo.c     */
#endif
