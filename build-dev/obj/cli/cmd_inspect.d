build-dev/obj/cli/cmd_inspect.o: cli/cmd_inspect.c cli/commands.h \
 cli/cli.h include/strata/strata.h src/core/internal.h \
 include/strata/io.h include/strata/data.h
cli/commands.h:
cli/cli.h:
include/strata/strata.h:
src/core/internal.h:
include/strata/io.h:
include/strata/data.h:
