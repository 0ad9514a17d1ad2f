build-dev/obj/cli/cmd_demo.o: cli/cmd_demo.c cli/commands.h cli/cli.h \
 include/strata/strata.h
cli/commands.h:
cli/cli.h:
include/strata/strata.h:
