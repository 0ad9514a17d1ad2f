/* cmd_demo.c — `strata demo` (placeholder until its issue lands). */
#include "commands.h"

static const cli_opt opts[] = {{0}};

static int run(const cli_env *env, int npos, char **pos) {
    (void)env; (void)npos; (void)pos;
    strata_error err;
    strata_error_set(&err, STRATA_EUNSUPPORTED, "'demo' is not implemented yet");
    return cli_fail(&err);
}

const cli_command cmd_demo = {"demo", "(not implemented yet)", NULL, NULL, opts, run};
