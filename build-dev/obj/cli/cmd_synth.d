build-dev/obj/cli/cmd_synth.o: cli/cmd_synth.c cli/commands.h cli/cli.h \
 include/strata/strata.h include/strata/data.h
cli/commands.h:
cli/cli.h:
include/strata/strata.h:
include/strata/data.h:
