build-dev/obj/cli/strata.o: cli/strata.c cli/commands.h cli/cli.h \
 include/strata/strata.h
cli/commands.h:
cli/cli.h:
include/strata/strata.h:
